//! PKCE (RFC 7636): the code verifier and its challenge, and the random
//! tokens (`state`, `nonce`, verifier) every authorization request draws.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::Error;

/// Random octets behind `state`, `nonce` and the PKCE verifier: 256 bits.
const RANDOM_OCTETS: usize = 32;

/// 32 octets from `rng`, base64url-encoded: a `state`, `nonce` or PKCE
/// verifier of 256 bits (43 characters).
pub(super) fn random_token(rng: &mut impl CryptoRng) -> String {
    let mut octets = [0u8; RANDOM_OCTETS];
    rng.fill_bytes(&mut octets);
    let token = URL_SAFE_NO_PAD.encode(octets);
    octets.zeroize();
    token
}

/// A PKCE code verifier (RFC 7636 §4.1): 43 to 128 characters of
/// `[A-Za-z0-9-._~]`. A secret until the token request: redacted in `Debug`,
/// zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PkceVerifier(String);

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier(<redacted>)")
    }
}

impl PkceVerifier {
    /// A fresh verifier: 32 octets from `rng`, base64url-encoded (43
    /// characters, RFC 7636 §4.1's recommendation).
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        PkceVerifier(random_token(rng))
    }

    /// The verifier for these random octets: their base64url encoding. RFC
    /// 7636 Appendix B's octets give `dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk`.
    /// Fails unless the encoding is 43 to 128 characters long (32 to 96 octets).
    pub fn from_bytes(octets: &[u8]) -> Result<Self, Error> {
        if !(32..=96).contains(&octets.len()) {
            return Err(Error::InvalidPkceVerifier);
        }
        Ok(PkceVerifier(URL_SAFE_NO_PAD.encode(octets)))
    }

    /// The verifier itself, as sent in the token request.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The `code_challenge` for `method` (RFC 7636 §4.2): for `S256`,
    /// `BASE64URL(SHA256(ASCII(code_verifier)))`.
    pub fn challenge(&self, method: PkceMethod) -> String {
        match method {
            PkceMethod::S256 => {
                let digest = ring::digest::digest(&ring::digest::SHA256, self.0.as_bytes());
                URL_SAFE_NO_PAD.encode(digest.as_ref())
            }
            PkceMethod::Plain => self.0.clone(),
        }
    }
}

/// A PKCE code challenge method (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum PkceMethod {
    /// `S256`: the challenge is the SHA-256 of the verifier. Always the default.
    S256,
    /// `plain`: the challenge is the verifier. Only for servers that cannot
    /// do `S256` (RFC 7636 §4.2), and only when asked for explicitly.
    Plain,
}

impl PkceMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "S256",
            PkceMethod::Plain => "plain",
        }
    }
}
