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
    let token = base64url_32(&octets);
    octets.zeroize();
    token
}

/// The unpadded base64url encoding (RFC 4648 §5) of 32 octets, 43
/// characters: what `URL_SAFE_NO_PAD.encode` gives, written straight into a
/// buffer (the general encoder costs more than the 32 octets do). The
/// buffer may hold a secret's encoding, so it is wiped.
fn base64url_32(octets: &[u8; 32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // Six bits index the 64-letter alphabet.
    let letter = |n: u32| ALPHABET.get((n & 63) as usize).copied().unwrap_or(b'A');
    let mut buffer = [0u8; 44];
    let mut groups = octets.chunks_exact(3);
    for (group, out) in (&mut groups).zip(buffer.chunks_exact_mut(4)) {
        if let ([a, b, c], [w, x, y, z]) = (group, out) {
            let n = u32::from(*a) << 16 | u32::from(*b) << 8 | u32::from(*c);
            *w = letter(n >> 18);
            *x = letter(n >> 12);
            *y = letter(n >> 6);
            *z = letter(n);
        }
    }
    // 32 = 10 × 3 + 2: the last two octets make three letters.
    if let ([a, b], [.., w, x, y, _]) = (groups.remainder(), &mut buffer) {
        let n = u32::from(*a) << 16 | u32::from(*b) << 8;
        *w = letter(n >> 18);
        *x = letter(n >> 12);
        *y = letter(n >> 6);
    }
    let token = buffer
        .get(..43)
        .and_then(|letters| core::str::from_utf8(letters).ok())
        .map(str::to_owned)
        .unwrap_or_default();
    buffer.zeroize();
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
                match <&[u8; 32]>::try_from(digest.as_ref()) {
                    Ok(octets) => base64url_32(octets),
                    // SHA-256 digests are 32 octets; never taken.
                    Err(_) => URL_SAFE_NO_PAD.encode(digest.as_ref()),
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_32_is_the_general_encoders() {
        let mut octets = [0u8; 32];
        for round in 0..=255u8 {
            for (i, octet) in octets.iter_mut().enumerate() {
                *octet = round
                    .wrapping_mul(31)
                    .wrapping_add(i as u8)
                    .rotate_left(u32::from(round % 8));
            }
            octets[0] = round;
            octets[31] = 255 - round;
            assert_eq!(base64url_32(&octets), URL_SAFE_NO_PAD.encode(octets));
        }
        assert_eq!(base64url_32(&[0; 32]), URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert_eq!(
            base64url_32(&[255; 32]),
            URL_SAFE_NO_PAD.encode([255u8; 32])
        );
        // RFC 7636 Appendix B.
        let verifier = PkceVerifier::from_bytes(&[
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ])
        .unwrap();
        assert_eq!(
            verifier.secret(),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        assert_eq!(
            verifier.challenge(PkceMethod::S256),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
