//! JSON Web Signature (RFC 7515) in compact form, JSON Web Keys (RFC 7517)
//! and the signature algorithms of RFC 7518 §3 and RFC 8037 §3.1, as an
//! OpenID Connect client needs them to verify ID tokens and signed UserInfo
//! responses.
//!
//! A token goes through three steps, and each check lives in exactly one:
//!
//! 1. [`CompactJws::parse`] (RFC 7515 §5.2, §7.1) checks the *shape*: at most
//!    [`CompactJws::MAX_LEN`] bytes; exactly three segments (five is a JWE,
//!    [`JwsError::Encrypted`]); strict unpadded base64url (RFC 7515 §2: no
//!    `=`, no whitespace, no `+` or `/`, no stray trailing bits); a header
//!    that is a JSON object without duplicate member names (RFC 7515 §4);
//!    a string `alg` that is not `none` in any case (RFC 8725 §3.1); no
//!    `crit` (RFC 7515 §4.1.11: this crate understands no extension); no
//!    unencoded payload (RFC 7797 `b64: false`); a string `kid` and `typ`
//!    when present; and a non-empty signature. `jku`, `x5u`, `jwk` and `x5c`
//!    are never read (RFC 8725 §3.10): keys come from the caller only.
//! 2. [`CompactJws::algorithm`] maps `alg` to an [`Algorithm`] this crate
//!    implements. Checking it against an allowlist (and raising
//!    [`JwsError::AlgorithmNotAllowed`]) is the caller's policy.
//! 3. [`CompactJws::verify_with_keys`] verifies with public keys from a
//!    [`JwkSet`] and never accepts HMAC ([`JwsError::HmacNotAllowed`]: a
//!    public key must not become an HMAC secret, RFC 8725 §3.1);
//!    [`CompactJws::verify_hmac`] verifies HMAC with a shared secret (the
//!    client secret, OIDC Core §10.1) of at least the hash's size (RFC 7518
//!    §3.2). Both refuse an `alg` other than the header's.
//!
//! [`JwkSet::from_json`] (RFC 7517 §5) keeps only public signature keys it
//! can use: RSA of 2048 to 8192 bits (RFC 7518 §6.3.1), EC on P-256 or P-384
//! (RFC 7518 §6.2.1) and Ed25519 (RFC 8037 §2). Anything else, including any
//! key that carries private parameters, is skipped and counted, never an
//! error. [`Jwk::supports`] (RFC 7517 §4.2–§4.4) and [`JwkSet::candidates`]
//! (OIDC Core §10.1) select the keys worth trying.
//!
//! The cryptography is `ring`'s: RSASSA-PKCS1-v1_5 and RSASSA-PSS (RFC 7518
//! §3.3, §3.5), ECDSA with the fixed-width `r || s` signature of RFC 7518
//! §3.4 (a DER signature does not verify), Ed25519 (RFC 8037 §3.1), and HMAC
//! compared in constant time.
//!
//! # Example
//!
//! RFC 7515 Appendix A.2, verified with the key of RFC 7517 Appendix A.1:
//!
//! ```
//! use grantflow::{Algorithm, CompactJws, JwkSet};
//!
//! # fn main() -> Result<(), grantflow::JwsError> {
//! let jwks = br#"{"keys":[{"kty":"RSA","kid":"2011-04-29","e":"AQAB",
//!   "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}]}"#;
//! let token = "eyJhbGciOiJSUzI1NiJ9\
//!     .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
//!     .cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
//!
//! let keys = JwkSet::from_json(jwks)?;
//! let jws = CompactJws::parse(token)?;
//! let alg = jws.algorithm()?;
//! assert_eq!(alg, Algorithm::Rs256); // the caller's allowlist goes here
//! let key = jws.verify_with_keys(alg, keys.candidates(jws.header().kid.as_deref(), alg))?;
//! assert_eq!(key.kid(), Some("2011-04-29"));
//! assert!(jws.payload().starts_with(br#"{"iss":"joe""#));
//! # Ok(())
//! # }
//! ```

mod jwk;
mod jws;
mod sign;

pub use jwk::{Jwk, JwkSet};
pub use jws::{CompactJws, JoseHeader};
pub use sign::{Ed25519Signer, Es256Signer, JwsSigner, SignError, sign_compact};
