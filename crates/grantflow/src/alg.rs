//! The JWS signature algorithms this crate knows (RFC 7518 §3.1, RFC 8037 §3.1)
//! and the key families that verify them: names only, plus the `ring`
//! parameters each maps to. The bottom room: it imports no other room, so
//! the error types can name an algorithm.

use core::fmt;

use ring::signature::{self, RsaParameters};
use ring::{digest, hmac};

/// A JWS signature algorithm this crate can verify (RFC 7518 §3, RFC 8037).
///
/// `none` is deliberately not an algorithm here: [`Algorithm::from_name`]
/// returns `None` for it, so an unsigned token can never be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    Hs256,
    /// HMAC with SHA-384.
    Hs384,
    /// HMAC with SHA-512.
    Hs512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// EdDSA with Ed25519 (RFC 8037).
    EdDsa,
}

impl Algorithm {
    /// Every algorithm, in a stable order.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::Hs256,
        Algorithm::Hs384,
        Algorithm::Hs512,
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The algorithm with this exact (case-sensitive) JOSE name; `None` for
    /// `none` and for names this crate does not implement.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The JOSE name, e.g. `"RS256"`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// Whether this is an HMAC algorithm (a shared secret, not a public key).
    pub fn is_symmetric(self) -> bool {
        matches!(self, Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512)
    }

    /// The hash OpenID Connect uses with this algorithm for `at_hash` and
    /// `c_hash` (OIDC Core §3.1.3.6): SHA-256/384/512 by the name's suffix,
    /// SHA-512 for EdDSA with Ed25519.
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        let hash = match self {
            Algorithm::Hs256 | Algorithm::Rs256 | Algorithm::Ps256 | Algorithm::Es256 => {
                &digest::SHA256
            }
            Algorithm::Hs384 | Algorithm::Rs384 | Algorithm::Ps384 | Algorithm::Es384 => {
                &digest::SHA384
            }
            Algorithm::Hs512 | Algorithm::Rs512 | Algorithm::Ps512 | Algorithm::EdDsa => {
                &digest::SHA512
            }
        };
        digest::digest(hash, data).as_ref().to_vec()
    }

    /// The key type that verifies this algorithm; `None` for HMAC.
    pub(crate) fn key_type(self) -> Option<KeyType> {
        match self {
            Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512 => None,
            Algorithm::Rs256
            | Algorithm::Rs384
            | Algorithm::Rs512
            | Algorithm::Ps256
            | Algorithm::Ps384
            | Algorithm::Ps512 => Some(KeyType::Rsa),
            Algorithm::Es256 => Some(KeyType::EcP256),
            Algorithm::Es384 => Some(KeyType::EcP384),
            Algorithm::EdDsa => Some(KeyType::Ed25519),
        }
    }

    /// `ring`'s HMAC algorithm and the shortest key RFC 7518 §3.2 allows
    /// (the hash output size); `None` for the public-key algorithms.
    pub(crate) fn hmac(self) -> Option<(hmac::Algorithm, usize)> {
        match self {
            Algorithm::Hs256 => Some((hmac::HMAC_SHA256, 32)),
            Algorithm::Hs384 => Some((hmac::HMAC_SHA384, 48)),
            Algorithm::Hs512 => Some((hmac::HMAC_SHA512, 64)),
            _ => None,
        }
    }

    /// `ring`'s RSA parameters (2048 to 8192 bits); `None` for the others.
    pub(crate) fn rsa(self) -> Option<&'static RsaParameters> {
        match self {
            Algorithm::Rs256 => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            Algorithm::Rs384 => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            Algorithm::Rs512 => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            Algorithm::Ps256 => Some(&signature::RSA_PSS_2048_8192_SHA256),
            Algorithm::Ps384 => Some(&signature::RSA_PSS_2048_8192_SHA384),
            Algorithm::Ps512 => Some(&signature::RSA_PSS_2048_8192_SHA512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The family and curve of a [`Jwk`](crate::Jwk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// An RSA public key (`kty: RSA`), 2048 to 8192 bits.
    Rsa,
    /// An EC public key on P-256 (`kty: EC`, `crv: P-256`).
    EcP256,
    /// An EC public key on P-384.
    EcP384,
    /// An Ed25519 public key (`kty: OKP`, `crv: Ed25519`).
    Ed25519,
}
