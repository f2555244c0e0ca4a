//! The ES256 signer (feature `es256`, on by default): ECDSA on P-256 with
//! SHA-256 (RFC 7518 §3.4) on the RustCrypto `p256` crate. Turning the
//! feature off drops `p256` and its RustCrypto tree (29 of the core's 83
//! crates) for a client that signs nothing with P-256.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::{Map, Value};

use super::sign::{JwsSigner, PrivateJwk, pkcs8_pem_to_der};
use crate::alg::Algorithm;
use crate::error::SignError;

/// An ES256 signer: ECDSA on P-256 with SHA-256 (RFC 7518 §3.4), on the
/// RustCrypto `p256` crate, with the per-signature nonce derived from key and
/// message as RFC 6979 §3.2 describes, so it needs no generator and signs the
/// same input to the same signature. The signature is the 64-byte `r || s`.
///
/// `Debug` shows only the key id; the secret scalar is zeroized on drop.
pub struct Es256Signer {
    key: p256::ecdsa::SigningKey,
    kid: Option<String>,
}

impl Es256Signer {
    /// A signer from an unencrypted PKCS#8 document in DER (RFC 5958, RFC
    /// 5915): an `id-ecPublicKey` key on `prime256v1`. An embedded public key
    /// must match the private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Es256Signer, SignError> {
        let key =
            p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|_| SignError::InvalidKey {
                reason: "not a pkcs#8 p-256 private key",
            })?;
        Ok(Es256Signer { key, kid: None })
    }

    /// A signer from the 32-byte big-endian secret scalar (the decoded `d`
    /// of an `EC` JWK, RFC 7518 §6.2.2.1), which must be in `1..n`.
    pub fn from_secret_scalar(scalar: &[u8]) -> Result<Es256Signer, SignError> {
        // `from_slice` would left-pad a short slice; RFC 7518 §6.2.2.1 says
        // the scalar is exactly 32 bytes.
        if scalar.len() != 32 {
            return Err(SignError::InvalidKey {
                reason: "p-256 secret scalar is not 32 bytes",
            });
        }
        let key =
            p256::ecdsa::SigningKey::from_slice(scalar).map_err(|_| SignError::InvalidKey {
                reason: "p-256 secret scalar is zero or not below the group order",
            })?;
        Ok(Es256Signer { key, kid: None })
    }

    /// A signer from an unencrypted PKCS#8 document in PEM (RFC 7468 §10,
    /// `-----BEGIN PRIVATE KEY-----`), as `openssl genpkey -algorithm EC
    /// -pkeyopt ec_paramgen_curve:P-256` writes it.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Es256Signer, SignError> {
        Es256Signer::from_pkcs8_der(&pkcs8_pem_to_der(pem)?)
    }

    /// A signer from a private `EC` JWK on `P-256` (RFC 7518 §6.2): `d` is
    /// the secret scalar, `x` and `y` (when present) must be its public
    /// point, and `kid` (when present) becomes the signer's key id.
    pub fn from_jwk(jwk: &str) -> Result<Es256Signer, SignError> {
        let jwk = PrivateJwk::parse(jwk, "EC", "P-256")?;
        let signer = Es256Signer::from_secret_scalar(&jwk.d)?;
        let point = signer.key.verifying_key().to_sec1_point(false);
        let public_matches = [(jwk.x.as_deref(), point.x()), (jwk.y.as_deref(), point.y())]
            .into_iter()
            .all(|(given, derived)| match (given, derived) {
                (None, _) => true,
                (Some(given), Some(derived)) => given == derived.as_slice(),
                (Some(_), None) => false,
            });
        if !public_matches {
            return Err(SignError::InvalidKey {
                reason: "jwk x and y are not the public key of d",
            });
        }
        Ok(Es256Signer {
            kid: jwk.kid,
            ..signer
        })
    }

    /// The same signer with this `kid`.
    #[must_use]
    pub fn with_key_id(mut self, kid: impl Into<String>) -> Es256Signer {
        self.kid = Some(kid.into());
        self
    }
}

impl JwsSigner for Es256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let signature: p256::ecdsa::Signature =
            self.key
                .try_sign(signing_input)
                .map_err(|_| SignError::Failed {
                    reason: "p-256 ecdsa signing failed".to_owned(),
                })?;
        // `to_bytes` is the fixed-width `r || s` of RFC 7518 §3.4.
        Ok(signature.to_bytes().to_vec())
    }

    fn public_jwk(&self) -> Option<Value> {
        let point = self.key.verifying_key().to_sec1_point(false);
        // An uncompressed point has both coordinates; a verifying key is
        // never the identity.
        let (x, y) = (point.x()?, point.y()?);
        let mut jwk = Map::new();
        jwk.insert("kty".to_owned(), Value::from("EC"));
        jwk.insert("crv".to_owned(), Value::from("P-256"));
        jwk.insert("x".to_owned(), Value::from(URL_SAFE_NO_PAD.encode(x)));
        jwk.insert("y".to_owned(), Value::from(URL_SAFE_NO_PAD.encode(y)));
        if let Some(kid) = &self.kid {
            jwk.insert("kid".to_owned(), Value::from(kid.as_str()));
        }
        Some(Value::Object(jwk))
    }
}

impl fmt::Debug for Es256Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}
