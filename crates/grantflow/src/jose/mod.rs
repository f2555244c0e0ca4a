//! JSON Web Signature (RFC 7515) in compact form, JSON Web Keys (RFC 7517)
//! and the signature algorithms of RFC 7518 §3 and RFC 8037 §3.1, as an
//! OpenID Connect client needs them to verify ID tokens and signed UserInfo
//! responses.
//!
//! The user-facing documentation is on [`CompactJws`] and [`JwsSigner`].

#[cfg(feature = "es256")]
mod es256;
mod jwk;
mod jws;
mod sign;

#[cfg(feature = "es256")]
pub use es256::Es256Signer;
pub use jwk::{Jwk, JwkSet};
pub use jws::{CompactJws, JoseHeader};
pub use sign::{Ed25519Signer, JwsSigner, pkcs8_pem_to_der, sign_compact};
