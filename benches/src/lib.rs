//! Benchmarks for grantflow, side by side with [oauth2-rs] 5 and
//! [openidconnect-rs] 4 in the same run.
//!
//! The benchmarks themselves live in `benches/benches/` (criterion, one
//! target per file); this library only holds the canned inputs they share, so
//! both libraries are measured on exactly the same bytes (the ID token
//! benchmark signs its tokens at start-up with `grantflow_tests::jose`). Run them with
//!
//! ```text
//! cargo bench -p grantflow-benches
//! cargo bench -p grantflow-benches -- parse      # one group only
//! ```
//!
//! and see `benches/README.md` for the latest results and what each pair
//! measures.
//!
//! [oauth2-rs]: https://crates.io/crates/oauth2
//! [openidconnect-rs]: https://crates.io/crates/openidconnect

/// A realistic token endpoint success body: the fields of the RFC 6749 §5.1
/// example (`access_token`, `token_type`, `expires_in`, `refresh_token`), a
/// two-token `scope`, and one extension field the client does not know.
pub const TOKEN_RESPONSE_BODY: &[u8] = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","scope":"api:read api:write","example_parameter":"example_value"}"#;

/// The `Content-Type` the canned responses are served with.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The token endpoint both clients are configured with.
pub const TOKEN_ENDPOINT: &str = "https://server.example.com/token";

/// The client identifier of the RFC 6749 §2.3.1 example.
pub const CLIENT_ID: &str = "s6BhdRkqt3";

/// The client secret of the RFC 6749 §2.3.1 example.
pub const CLIENT_SECRET: &str = "7Fjfp0ZBr1KtDRbnfVdmIw";

/// The scope both clients ask for in the client credentials grant.
pub const SCOPE: &str = "api:read";

/// The instant grantflow is told the response arrived at (oauth2-rs takes no
/// time: it stores `expires_in` as a duration).
pub const NOW_SECS: u64 = 1_700_000_000;

/// A token response with only what RFC 6749 §5.1 requires and the usual
/// `expires_in`: no refresh token, no scope, no extension field.
pub const MINIMAL_TOKEN_RESPONSE_BODY: &[u8] =
    br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#;

/// The issuer the OpenID Connect clients are configured with.
pub const ISSUER: &str = "https://server.example.com";

/// The authorization endpoint both clients are configured with.
pub const AUTHORIZATION_ENDPOINT: &str = "https://server.example.com/authorize";

/// The redirect URI of the RFC 6749 §4.1.1 example.
pub const REDIRECT_URI: &str = "https://client.example.com/cb";

/// The authorization code of the RFC 6749 §4.1.2 example.
pub const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA";

/// The refresh token of the RFC 6749 §5.1 example.
pub const REFRESH_TOKEN: &str = "tGzv3JOkF0XG5Qx2TlKWIA";
