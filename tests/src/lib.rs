//! Test support for grantflow: the bundled OpenID provider harness.
//!
//! [`provider`] starts a real OpenID provider (node-oidc-provider, in `tests/provider/`) on
//! 127.0.0.1 and drives its login, consent and device pages without a browser, so interop
//! tests can run every grant end to end against it. Its main items are re-exported here.
//! [`redact`] prints requests and responses on one line with every credential masked.

pub mod jose;
pub mod provider;

pub use provider::{HarnessError, Provider, TestClient};

/// One-line, secret-free renderings of requests and responses (they live in the `grantflow`
/// command's library, which prints them with `-v`).
pub use grantflow_cli::redact;

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
