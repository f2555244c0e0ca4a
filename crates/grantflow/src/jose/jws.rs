//! Compact JWS parsing and verification (RFC 7515 §5.2, §7.1).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde_json::Value;

use crate::alg::Algorithm;
use crate::error::{JwsError, clean_text};
use crate::jose::jwk::{Jwk, MAX_CANDIDATES, QUOTE_MAX};
use crate::wire::{JsonObjectError, json_object};

/// The JOSE header parameters this crate reads (RFC 7515 §4.1). `jku`,
/// `x5u`, `jwk` and `x5c` are never used (RFC 8725 §3.10).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JoseHeader {
    /// `alg`, as sent.
    pub alg: String,
    /// `kid`, if present and a string.
    pub kid: Option<String>,
    /// `typ`, if present.
    pub typ: Option<String>,
}

impl JoseHeader {
    /// Reads and checks the decoded header (RFC 7515 §4.1, §5.2 steps 3–5).
    fn from_json(bytes: &[u8]) -> Result<JoseHeader, JwsError> {
        let header = json_object(bytes).map_err(|error| match error {
            JsonObjectError::NotJson => JwsError::Malformed {
                reason: "header is not json",
            },
            JsonObjectError::NotAnObject => JwsError::Malformed {
                reason: "header is not a json object",
            },
            JsonObjectError::Duplicate(name) => JwsError::DuplicateHeader {
                name: clean_text(&name, QUOTE_MAX),
            },
        })?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            _ => return Err(JwsError::MissingAlgorithm),
        };
        // RFC 8725 §3.1: never accept an unsecured JWS, whatever the case.
        if alg.eq_ignore_ascii_case("none") {
            return Err(JwsError::Unsigned);
        }
        // RFC 7515 §4.1.11: every extension listed must be understood, and
        // this crate understands none; a malformed `crit` is refused too.
        if let Some(crit) = header.get("crit") {
            let first = match crit {
                Value::Array(names) if names.iter().all(Value::is_string) => {
                    names.first().and_then(Value::as_str)
                }
                _ => None,
            };
            return Err(JwsError::UnknownCritical {
                name: first.map_or_else(
                    || "<malformed>".to_owned(),
                    |name| clean_text(name, QUOTE_MAX),
                ),
            });
        }
        // RFC 7797: an unencoded payload changes the signing input; refuse
        // it even without `crit` so it can never verify as a normal token.
        match header.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(_) => {
                return Err(JwsError::Malformed {
                    reason: "unencoded payload (b64) is not supported",
                });
            }
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => {
                return Err(JwsError::Malformed {
                    reason: "kid is not a string",
                });
            }
        };
        let typ = match header.get("typ") {
            None => None,
            Some(Value::String(typ)) => Some(typ.clone()),
            Some(_) => {
                return Err(JwsError::Malformed {
                    reason: "typ is not a string",
                });
            }
        };
        Ok(JoseHeader { alg, kid, typ })
    }
}

/// A parsed compact JWS (RFC 7515 §7.1), not yet verified.
///
/// A token goes through three steps, and each check lives in exactly one:
///
/// 1. [`CompactJws::parse`] (RFC 7515 §5.2, §7.1) checks the *shape*: at most
///    [`CompactJws::MAX_LEN`] bytes; exactly three segments (five is a JWE,
///    [`JwsError::Encrypted`]); strict unpadded base64url (RFC 7515 §2: no
///    `=`, no whitespace, no `+` or `/`, no stray trailing bits); a header
///    that is a JSON object without duplicate member names (RFC 7515 §4);
///    a string `alg` that is not `none` in any case (RFC 8725 §3.1); no
///    `crit` (RFC 7515 §4.1.11: this crate understands no extension); no
///    unencoded payload (RFC 7797 `b64: false`); a string `kid` and `typ`
///    when present; and a non-empty signature. `jku`, `x5u`, `jwk` and `x5c`
///    are never read (RFC 8725 §3.10): keys come from the caller only.
/// 2. [`CompactJws::algorithm`] maps `alg` to an [`Algorithm`] this crate
///    implements. Checking it against an allowlist (and raising
///    [`JwsError::AlgorithmNotAllowed`]) is the caller's policy.
/// 3. [`CompactJws::verify_with_keys`] verifies with public keys from a
///    [`JwkSet`](crate::JwkSet) and never accepts HMAC ([`JwsError::HmacNotAllowed`]: a
///    public key must not become an HMAC secret, RFC 8725 §3.1);
///    [`CompactJws::verify_hmac`] verifies HMAC with a shared secret (the
///    client secret, OIDC Core §10.1) of at least the hash's size (RFC 7518
///    §3.2). Both refuse an `alg` other than the header's.
///
/// [`JwkSet::from_json`](crate::JwkSet::from_json) (RFC 7517 §5) keeps only public signature keys it
/// can use: RSA of 2048 to 8192 bits (RFC 7518 §6.3.1), EC on P-256 or P-384
/// (RFC 7518 §6.2.1) and Ed25519 (RFC 8037 §2). Anything else, including any
/// key that carries private parameters, is skipped and counted, never an
/// error. [`Jwk::supports`] (RFC 7517 §4.2–§4.4) and [`JwkSet::candidates`](crate::JwkSet::candidates)
/// (OIDC Core §10.1) select the keys worth trying.
///
/// The cryptography is `ring`'s: RSASSA-PKCS1-v1_5 and RSASSA-PSS (RFC 7518
/// §3.3, §3.5), ECDSA with the fixed-width `r || s` signature of RFC 7518
/// §3.4 (a DER signature does not verify), Ed25519 (RFC 8037 §3.1), and HMAC
/// compared in constant time.
///
/// # Example
///
/// RFC 7515 Appendix A.2, verified with the key of RFC 7517 Appendix A.1:
///
/// ```
/// use grantflow::{Algorithm, CompactJws, JwkSet};
///
/// # fn main() -> Result<(), grantflow::JwsError> {
/// let jwks = br#"{"keys":[{"kty":"RSA","kid":"2011-04-29","e":"AQAB",
///   "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}]}"#;
/// let token = "eyJhbGciOiJSUzI1NiJ9\
///     .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
///     .cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
///
/// let keys = JwkSet::from_json(jwks)?;
/// let jws = CompactJws::parse(token)?;
/// let alg = jws.algorithm()?;
/// assert_eq!(alg, Algorithm::Rs256); // the caller's allowlist goes here
/// let key = jws.verify_with_keys(alg, keys.candidates(jws.header().kid.as_deref(), alg))?;
/// assert_eq!(key.kid(), Some("2011-04-29"));
/// assert!(jws.payload().starts_with(br#"{"iss":"joe""#));
/// # Ok(())
/// # }
/// ```
pub struct CompactJws {
    header: JoseHeader,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, as received.
    signing_input: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl CompactJws {
    /// The longest token accepted, in bytes.
    pub const MAX_LEN: usize = crate::error::MAX_JWS_LEN;

    /// Parses a compact JWS: at most [`Self::MAX_LEN`] bytes, exactly three
    /// segments (five is a JWE: [`JwsError::Encrypted`]), strict unpadded
    /// base64url, a header that is a JSON object without duplicate names,
    /// with a string `alg` that is not `none`, and no `crit` this crate does
    /// not understand. The payload is decoded but not interpreted.
    ///
    /// The header is checked before the signature segment, so an `alg: none`
    /// token is [`JwsError::Unsigned`] whether or not its signature is empty;
    /// an empty signature under any other `alg` is [`JwsError::Malformed`].
    pub fn parse(token: &str) -> Result<CompactJws, JwsError> {
        if token.len() > Self::MAX_LEN {
            return Err(JwsError::TooLong { len: token.len() });
        }
        match token.bytes().filter(|&byte| byte == b'.').count() {
            2 => {}
            4 => return Err(JwsError::Encrypted),
            _ => {
                return Err(JwsError::Malformed {
                    reason: "not three dot-separated segments",
                });
            }
        }
        let malformed = JwsError::Malformed {
            reason: "not three dot-separated segments",
        };
        let (signing_input, signature) = token.rsplit_once('.').ok_or(malformed.clone())?;
        let (header, payload) = signing_input.split_once('.').ok_or(malformed)?;

        let header = decode_segment(header, "header is not base64url")?;
        let header = JoseHeader::from_json(&header)?;
        let payload = decode_segment(payload, "payload is not base64url")?;
        if signature.is_empty() {
            return Err(JwsError::Malformed {
                reason: "signature is empty (unsigned token)",
            });
        }
        let signature = decode_segment(signature, "signature is not base64url")?;
        Ok(CompactJws {
            header,
            signing_input: signing_input.to_owned(),
            payload,
            signature,
        })
    }

    /// The header.
    pub fn header(&self) -> &JoseHeader {
        &self.header
    }

    /// The algorithm the header names, if this crate implements it.
    pub fn algorithm(&self) -> Result<Algorithm, JwsError> {
        Algorithm::from_name(&self.header.alg).ok_or_else(|| JwsError::UnsupportedAlgorithm {
            alg: clean_text(&self.header.alg, QUOTE_MAX),
        })
    }

    /// The decoded payload bytes (unverified until a `verify_*` call succeeds).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Verifies the signature with the first of `candidates` that verifies
    /// (at most 8 are tried). `alg` must be the header's algorithm, already
    /// checked against the caller's allowlist. Keys that do not
    /// [`support`](Jwk::supports) `alg` are passed over. No candidate:
    /// [`JwsError::NoMatchingKey`]; none verifies: [`JwsError::BadSignature`].
    ///
    /// An HMAC `alg`, or a header naming one, is [`JwsError::HmacNotAllowed`]
    /// (keys from a JWK set never verify HMAC); an `alg` other than the
    /// header's is [`JwsError::AlgorithmNotAllowed`] naming the header's.
    pub fn verify_with_keys<'k>(
        &self,
        alg: Algorithm,
        candidates: impl IntoIterator<Item = &'k Jwk>,
    ) -> Result<&'k Jwk, JwsError> {
        let header_alg = self.algorithm()?;
        if alg.is_symmetric() || header_alg.is_symmetric() {
            return Err(JwsError::HmacNotAllowed);
        }
        if header_alg != alg {
            return Err(JwsError::AlgorithmNotAllowed { alg: header_alg });
        }
        let mut tried = 0;
        for key in candidates
            .into_iter()
            .filter(|key| key.supports(alg))
            .take(MAX_CANDIDATES)
        {
            tried += 1;
            if key.verifies(alg, self.signing_input.as_bytes(), &self.signature) {
                return Ok(key);
            }
        }
        if tried == 0 {
            Err(JwsError::NoMatchingKey {
                kid: self
                    .header
                    .kid
                    .as_deref()
                    .map(|kid| clean_text(kid, QUOTE_MAX)),
            })
        } else {
            Err(JwsError::BadSignature)
        }
    }

    /// Verifies an HMAC signature with a shared secret (the client secret's
    /// octets, OIDC Core §10.1), compared in constant time. The secret must
    /// be at least the hash's size (RFC 7518 §3.2): 32, 48 or 64 octets for
    /// HS256, HS384 or HS512, else [`JwsError::HmacKeyTooShort`].
    ///
    /// A public-key `alg` is [`JwsError::AlgorithmNotAllowed`] naming it; an
    /// `alg` other than the header's is [`JwsError::AlgorithmNotAllowed`]
    /// naming the header's.
    pub fn verify_hmac(&self, alg: Algorithm, secret: &[u8]) -> Result<(), JwsError> {
        let header_alg = self.algorithm()?;
        let Some((hmac_alg, min_len)) = alg.hmac() else {
            return Err(JwsError::AlgorithmNotAllowed { alg });
        };
        if header_alg != alg {
            return Err(JwsError::AlgorithmNotAllowed { alg: header_alg });
        }
        if secret.len() < min_len {
            return Err(JwsError::HmacKeyTooShort { len: secret.len() });
        }
        let key = hmac::Key::new(hmac_alg, secret);
        hmac::verify(&key, self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::BadSignature)
    }
}

impl fmt::Debug for CompactJws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactJws")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .field("signature_len", &self.signature.len())
            .finish()
    }
}

/// Decodes one segment: strict base64url without padding (RFC 7515 §2).
fn decode_segment(segment: &str, reason: &'static str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwsError::Malformed { reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alg::KeyType;
    use crate::jose::jwk::JwkSet;
    use crate::wire::json_object;

    /// The payload of RFC 7515 Appendix A.1–A.3, line breaks and all.
    const RFC7515_PAYLOAD: &[u8] =
        b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    const RFC7515_PAYLOAD_B64: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

    /// RFC 7515 Appendix A.1: HS256, and its 64-octet key.
    const A1_HEADER_B64: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
    const A1_SIGNATURE_B64: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const A1_KEY: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

    /// RFC 7515 Appendix A.2: RS256, and the public half of its key.
    const A2_HEADER_B64: &str = "eyJhbGciOiJSUzI1NiJ9";
    const A2_SIGNATURE_B64: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    const A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    /// The first octets of the A.2 signature as the RFC lists them.
    const A2_SIGNATURE_START: [u8; 8] = [112, 46, 33, 137, 67, 232, 143, 209];

    /// RFC 7515 Appendix A.3: ES256, and the public half of its key.
    const A3_HEADER_B64: &str = "eyJhbGciOiJFUzI1NiJ9";
    const A3_SIGNATURE_B64: &str =
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    /// The A.3 signature octets as the RFC lists them (A.3.1).
    const A3_SIGNATURE: [u8; 64] = [
        14, 209, 33, 83, 121, 99, 108, 72, 60, 47, 127, 21, 88, 7, 212, 2, 163, 178, 40, 3, 58,
        249, 124, 126, 23, 129, 154, 195, 22, 158, 166, 101, 197, 10, 7, 211, 140, 60, 112, 229,
        216, 241, 45, 175, 8, 74, 84, 128, 166, 101, 144, 197, 242, 147, 80, 154, 143, 63, 127,
        138, 131, 163, 84, 213,
    ];

    /// RFC 8037 Appendix A.2 and A.4: the Ed25519 public key and signed JWS.
    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const ED_X_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const ED_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    const ED_SIGNATURE_HEX: &str = "860c98d2297f3060a33f42739672d61b53cf3adefed3d3c672f320dc021b411e9d59b8628dc351e248b88b29468e0e41855b0fb7d83bb15be902bfccb8cd0a02";

    fn a1_token() -> String {
        format!("{A1_HEADER_B64}.{RFC7515_PAYLOAD_B64}.{A1_SIGNATURE_B64}")
    }

    fn a2_token() -> String {
        format!("{A2_HEADER_B64}.{RFC7515_PAYLOAD_B64}.{A2_SIGNATURE_B64}")
    }

    fn a3_token() -> String {
        format!("{A3_HEADER_B64}.{RFC7515_PAYLOAD_B64}.{A3_SIGNATURE_B64}")
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A token with this header JSON, a small payload and a dummy signature.
    fn with_header(header: &str) -> String {
        format!("{}.{}.{}", b64(header.as_bytes()), b64(b"{}"), b64(b"sig"))
    }

    fn rsa_jwk(extra: &str) -> String {
        format!(r#"{{"kty":"RSA","n":"{A2_N}","e":"AQAB"{extra}}}"#)
    }

    fn ec_jwk(extra: &str) -> String {
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{A3_X}","y":"{A3_Y}"{extra}}}"#)
    }

    fn ed_jwk(extra: &str) -> String {
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}"{extra}}}"#)
    }

    fn p384_jwk(extra: &str) -> String {
        let coordinate = b64(&[7; 48]);
        format!(r#"{{"kty":"EC","crv":"P-384","x":"{coordinate}","y":"{coordinate}"{extra}}}"#)
    }

    fn set(entries: &[String]) -> JwkSet {
        JwkSet::from_json(format!(r#"{{"keys":[{}]}}"#, entries.join(",")).as_bytes()).unwrap()
    }

    /// A synthetic RSA modulus of `len` octets starting with `first`, odd.
    fn modulus(len: usize, first: u8) -> String {
        let mut n = vec![0xa5; len];
        n[0] = first;
        n[len - 1] = 0x01;
        b64(&n)
    }

    fn rsa_with(n: &str, e: &str) -> String {
        format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}"}}"#)
    }

    // --- algorithms --------------------------------------------------------

    #[test]
    fn algorithm_names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
            assert_eq!(alg.to_string(), alg.name());
        }
        for name in ["none", "NONE", "rs256", "ES512", "RS1", "Ed25519", ""] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
        let symmetric: Vec<_> = Algorithm::ALL
            .into_iter()
            .filter(|a| a.is_symmetric())
            .collect();
        assert_eq!(
            symmetric,
            [Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512]
        );
    }

    #[test]
    fn digest_follows_the_algorithm() {
        for (alg, len) in [
            (Algorithm::Rs256, 32),
            (Algorithm::Es256, 32),
            (Algorithm::Hs384, 48),
            (Algorithm::Ps384, 48),
            (Algorithm::Es384, 48),
            (Algorithm::Rs512, 64),
            (Algorithm::EdDsa, 64),
        ] {
            assert_eq!(alg.digest(b"abc").len(), len, "{alg}");
        }
        // FIPS 180-2 "abc" example.
        assert_eq!(
            Algorithm::Rs256.digest(b"abc"),
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }

    // --- RFC vectors -------------------------------------------------------

    #[test]
    fn rfc7515_a1_hs256_verifies() {
        let jws = CompactJws::parse(&a1_token()).unwrap();
        assert_eq!(jws.header().alg, "HS256");
        assert_eq!(jws.header().typ.as_deref(), Some("JWT"));
        assert_eq!(jws.payload(), RFC7515_PAYLOAD);
        let key = URL_SAFE_NO_PAD.decode(A1_KEY).unwrap();
        assert_eq!(key.len(), 64);
        assert_eq!(jws.algorithm(), Ok(Algorithm::Hs256));
        assert_eq!(jws.verify_hmac(Algorithm::Hs256, &key), Ok(()));

        let mut wrong = key.clone();
        wrong[0] ^= 1;
        assert_eq!(
            jws.verify_hmac(Algorithm::Hs256, &wrong),
            Err(JwsError::BadSignature)
        );
    }

    #[test]
    fn rfc7515_a2_rs256_verifies_and_a_flipped_bit_does_not() {
        let signature = URL_SAFE_NO_PAD.decode(A2_SIGNATURE_B64).unwrap();
        assert_eq!(signature.len(), 256);
        assert_eq!(signature[..8], A2_SIGNATURE_START);

        let keys = set(&[rsa_jwk(r#","kid":"2011-04-29""#)]);
        let jws = CompactJws::parse(&a2_token()).unwrap();
        assert_eq!(jws.payload(), RFC7515_PAYLOAD);
        let key = jws
            .verify_with_keys(Algorithm::Rs256, keys.candidates(None, Algorithm::Rs256))
            .unwrap();
        assert_eq!(key.kid(), Some("2011-04-29"));
        assert_eq!(key.key_type(), KeyType::Rsa);

        // One bit of the signature.
        let mut bad = signature.clone();
        bad[100] ^= 0x10;
        let token = format!("{A2_HEADER_B64}.{RFC7515_PAYLOAD_B64}.{}", b64(&bad));
        let jws = CompactJws::parse(&token).unwrap();
        assert_eq!(
            jws.verify_with_keys(Algorithm::Rs256, keys.keys())
                .unwrap_err(),
            JwsError::BadSignature
        );

        // One bit of the payload.
        let mut payload = RFC7515_PAYLOAD.to_vec();
        payload[10] ^= 0x01;
        let token = format!("{A2_HEADER_B64}.{}.{A2_SIGNATURE_B64}", b64(&payload));
        let jws = CompactJws::parse(&token).unwrap();
        assert_eq!(
            jws.verify_with_keys(Algorithm::Rs256, keys.keys())
                .unwrap_err(),
            JwsError::BadSignature
        );
    }

    #[test]
    fn rfc7515_a2_refuses_other_rsa_algorithms() {
        let keys = set(&[rsa_jwk("")]);
        let jws = CompactJws::parse(&a2_token()).unwrap();
        // The caller must pass the header's algorithm.
        for alg in [Algorithm::Ps256, Algorithm::Rs512] {
            assert_eq!(
                jws.verify_with_keys(alg, keys.keys()).unwrap_err(),
                JwsError::AlgorithmNotAllowed {
                    alg: Algorithm::Rs256
                }
            );
        }
        // Nor can an RSA token be checked as HMAC with the modulus as secret.
        let n = URL_SAFE_NO_PAD.decode(A2_N).unwrap();
        assert_eq!(
            jws.verify_hmac(Algorithm::Hs256, &n),
            Err(JwsError::AlgorithmNotAllowed {
                alg: Algorithm::Rs256
            })
        );
        assert_eq!(
            jws.verify_hmac(Algorithm::Rs256, &n),
            Err(JwsError::AlgorithmNotAllowed {
                alg: Algorithm::Rs256
            })
        );
    }

    #[test]
    fn rfc7515_a3_es256_verifies_and_der_does_not() {
        assert_eq!(
            URL_SAFE_NO_PAD.decode(A3_SIGNATURE_B64).unwrap(),
            A3_SIGNATURE
        );
        let keys = set(&[ec_jwk("")]);
        let jws = CompactJws::parse(&a3_token()).unwrap();
        let key = jws
            .verify_with_keys(Algorithm::Es256, keys.candidates(None, Algorithm::Es256))
            .unwrap();
        assert_eq!(key.key_type(), KeyType::EcP256);

        // The same r and s as an ASN.1 DER signature (what OpenSSL emits).
        let integer = |half: &[u8]| {
            let mut out = vec![0x02];
            let pad = half[0] & 0x80 != 0;
            out.push(half.len() as u8 + u8::from(pad));
            if pad {
                out.push(0);
            }
            out.extend_from_slice(half);
            out
        };
        let body = [integer(&A3_SIGNATURE[..32]), integer(&A3_SIGNATURE[32..])].concat();
        let der = [vec![0x30, body.len() as u8], body].concat();
        let token = format!("{A3_HEADER_B64}.{RFC7515_PAYLOAD_B64}.{}", b64(&der));
        let jws = CompactJws::parse(&token).unwrap();
        assert_eq!(
            jws.verify_with_keys(Algorithm::Es256, keys.keys())
                .unwrap_err(),
            JwsError::BadSignature
        );
    }

    #[test]
    fn rfc8037_a4_ed25519_verifies() {
        assert_eq!(URL_SAFE_NO_PAD.decode(ED_X).unwrap(), hex(ED_X_HEX));
        let keys = set(&[ed_jwk("")]);
        let jws = CompactJws::parse(ED_TOKEN).unwrap();
        assert_eq!(jws.payload(), b"Example of Ed25519 signing");
        let signature = ED_TOKEN.rsplit_once('.').unwrap().1;
        assert_eq!(
            URL_SAFE_NO_PAD.decode(signature).unwrap(),
            hex(ED_SIGNATURE_HEX)
        );
        assert_eq!(jws.algorithm(), Ok(Algorithm::EdDsa));
        let key = jws.verify_with_keys(Algorithm::EdDsa, keys.keys()).unwrap();
        assert_eq!(key.key_type(), KeyType::Ed25519);

        let tampered = ED_TOKEN.replace(".hgy", ".hgz");
        let jws = CompactJws::parse(&tampered).unwrap();
        assert_eq!(
            jws.verify_with_keys(Algorithm::EdDsa, keys.keys())
                .unwrap_err(),
            JwsError::BadSignature
        );
    }

    // --- parsing -----------------------------------------------------------

    #[test]
    fn none_is_never_an_algorithm() {
        for alg in ["none", "NONE", "None", "nOnE"] {
            let header = b64(format!(r#"{{"alg":"{alg}"}}"#).as_bytes());
            // Unsigned, whether the signature segment is empty or not.
            for signature in ["", "c2ln"] {
                let token = format!("{header}.{RFC7515_PAYLOAD_B64}.{signature}");
                assert_eq!(CompactJws::parse(&token).unwrap_err(), JwsError::Unsigned);
            }
        }
    }

    #[test]
    fn an_empty_signature_is_malformed() {
        let token = format!("{A2_HEADER_B64}.{RFC7515_PAYLOAD_B64}.");
        assert!(matches!(
            CompactJws::parse(&token),
            Err(JwsError::Malformed { .. })
        ));
    }

    #[test]
    fn only_three_segments_are_a_jws() {
        for token in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "a.b.c.d.e.f",
            "....",
            "...",
            ".",
        ] {
            let expected = if token.matches('.').count() == 4 {
                JwsError::Encrypted
            } else {
                JwsError::Malformed {
                    reason: "not three dot-separated segments",
                }
            };
            assert_eq!(CompactJws::parse(token).unwrap_err(), expected, "{token:?}");
        }
        // RFC 7516 Appendix A.3.7, a real JWE.
        let jwe = "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ.AxY8DCtDaGlsbGljb3RoZQ.KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.U0m_YmjN04DJvceFICbCVQ";
        assert_eq!(CompactJws::parse(jwe).unwrap_err(), JwsError::Encrypted);
        // Three segments, but an empty header.
        for token in ["..", &format!(".{RFC7515_PAYLOAD_B64}.{A2_SIGNATURE_B64}")] {
            assert_eq!(
                CompactJws::parse(token).unwrap_err(),
                JwsError::Malformed {
                    reason: "header is not json"
                }
            );
        }
    }

    #[test]
    fn huge_inputs_fail_fast() {
        let dots = ".".repeat(1_000_000);
        assert_eq!(
            CompactJws::parse(&dots).unwrap_err(),
            JwsError::TooLong { len: 1_000_000 }
        );
        // Within the length cap, a token of nothing but dots is just malformed.
        let dots = ".".repeat(CompactJws::MAX_LEN);
        assert!(matches!(
            CompactJws::parse(&dots),
            Err(JwsError::Malformed { .. })
        ));
        // Exactly at the cap is allowed, one more byte is not.
        let filler = "A".repeat(CompactJws::MAX_LEN - a2_token().len());
        let at_cap = format!("{A2_HEADER_B64}.{RFC7515_PAYLOAD_B64}{filler}.{A2_SIGNATURE_B64}");
        assert_eq!(at_cap.len(), CompactJws::MAX_LEN);
        assert!(!matches!(
            CompactJws::parse(&at_cap),
            Err(JwsError::TooLong { .. })
        ));
        let over = format!("{at_cap}A");
        assert_eq!(
            CompactJws::parse(&over).unwrap_err(),
            JwsError::TooLong {
                len: CompactJws::MAX_LEN + 1
            }
        );
    }

    #[test]
    fn base64url_is_strict() {
        let good = a2_token();
        assert!(CompactJws::parse(&good).is_ok());
        let (input, signature) = good.rsplit_once('.').unwrap();
        let bad = [
            // Padding on the header (20 chars: no padding needed, add some anyway).
            format!("{A2_HEADER_B64}=.{RFC7515_PAYLOAD_B64}.{signature}"),
            // Payload needs padding (94 chars, 2 mod 4): padded is refused.
            format!("{A2_HEADER_B64}.{RFC7515_PAYLOAD_B64}==.{signature}"),
            // Standard alphabet.
            format!("{input}.{}", signature.replace('-', "+")),
            format!("{input}.{}", signature.replace('_', "/")),
            // Whitespace, inside and around.
            format!("{input}.{} {}", &signature[..10], &signature[10..]),
            format!("{input}.{signature}\n"),
            format!(" {good}"),
            format!(
                "{A2_HEADER_B64}.{}\r\n{}.{signature}",
                &RFC7515_PAYLOAD_B64[..20],
                &RFC7515_PAYLOAD_B64[20..]
            ),
            // Non-canonical trailing bits ("AB" is one octet with a stray bit).
            format!("{input}.AB"),
            // Impossible length (1 mod 4).
            format!("{input}.A"),
        ];
        for token in &bad {
            assert!(
                matches!(CompactJws::parse(token), Err(JwsError::Malformed { .. })),
                "{token:?}"
            );
        }
    }

    #[test]
    fn the_header_is_a_json_object_without_duplicates() {
        let cases = [
            (
                r#"{"alg":"RS256","alg":"none"}"#,
                JwsError::DuplicateHeader { name: "alg".into() },
            ),
            (
                r#"{"alg":"RS256","\u0061lg":"HS256"}"#,
                JwsError::DuplicateHeader { name: "alg".into() },
            ),
            (
                r#"{"kid":"a","alg":"RS256","kid":"b"}"#,
                JwsError::DuplicateHeader { name: "kid".into() },
            ),
            (r#"{"typ":"JWT"}"#, JwsError::MissingAlgorithm),
            (r#"{"alg":256}"#, JwsError::MissingAlgorithm),
            (r#"{"alg":null}"#, JwsError::MissingAlgorithm),
            (
                r#"["alg","RS256"]"#,
                JwsError::Malformed {
                    reason: "header is not a json object",
                },
            ),
            (
                r#""RS256""#,
                JwsError::Malformed {
                    reason: "header is not a json object",
                },
            ),
            (
                r#"{"alg":"RS256""#,
                JwsError::Malformed {
                    reason: "header is not json",
                },
            ),
            (
                r#"{"alg":"RS256"} x"#,
                JwsError::Malformed {
                    reason: "header is not json",
                },
            ),
            (
                r#"{"alg":"RS256","kid":7}"#,
                JwsError::Malformed {
                    reason: "kid is not a string",
                },
            ),
            (
                r#"{"alg":"RS256","typ":["JWT"]}"#,
                JwsError::Malformed {
                    reason: "typ is not a string",
                },
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                CompactJws::parse(&with_header(header)).unwrap_err(),
                expected,
                "{header}"
            );
        }
        // Duplicates inside a nested object are refused too: the one JSON
        // reader refuses a repeated name at any depth.
        let nested = with_header(r#"{"alg":"RS256","x":{"a":1,"a":2}}"#);
        assert_eq!(
            CompactJws::parse(&nested).unwrap_err(),
            JwsError::DuplicateHeader { name: "a".into() }
        );
        // Not UTF-8.
        let token = format!("{}.e30.c2ln", b64(b"{\"alg\":\"RS256\xff\"}"));
        assert!(matches!(
            CompactJws::parse(&token),
            Err(JwsError::Malformed { .. })
        ));
    }

    #[test]
    fn crit_and_b64_are_refused() {
        let cases = [
            (r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, "exp"),
            (r#"{"alg":"RS256","crit":["b64"],"b64":false}"#, "b64"),
            (r#"{"alg":"RS256","crit":[]}"#, "<malformed>"),
            (r#"{"alg":"RS256","crit":"exp"}"#, "<malformed>"),
            (r#"{"alg":"RS256","crit":["exp",1]}"#, "<malformed>"),
            (r#"{"alg":"RS256","crit":null}"#, "<malformed>"),
            (r#"{"alg":"RS256","crit":["a\u0000b"]}"#, "a\\u{0}b"),
        ];
        for (header, name) in cases {
            assert_eq!(
                CompactJws::parse(&with_header(header)).unwrap_err(),
                JwsError::UnknownCritical { name: name.into() },
                "{header}"
            );
        }
        for header in [
            r#"{"alg":"RS256","b64":false}"#,
            r#"{"alg":"RS256","b64":"false"}"#,
        ] {
            assert!(matches!(
                CompactJws::parse(&with_header(header)),
                Err(JwsError::Malformed { .. })
            ));
        }
        assert!(CompactJws::parse(&with_header(r#"{"alg":"RS256","b64":true}"#)).is_ok());
    }

    #[test]
    fn embedded_keys_and_urls_are_ignored() {
        let header = format!(
            r#"{{"alg":"ES256","kid":"k1","jku":"https://evil.example/jwks","x5u":"https://evil.example/x5u","x5c":["MII"],"jwk":{ec}}}"#,
            ec = ec_jwk("")
        );
        let jws = CompactJws::parse(&with_header(&header)).unwrap();
        assert_eq!(jws.header().alg, "ES256");
        assert_eq!(jws.header().kid.as_deref(), Some("k1"));
        // With no key of its own, the embedded `jwk` verifies nothing.
        assert_eq!(
            jws.verify_with_keys(Algorithm::Es256, JwkSet::default().keys())
                .unwrap_err(),
            JwsError::NoMatchingKey {
                kid: Some("k1".into())
            }
        );
    }

    #[test]
    fn unsupported_algorithms_are_named_cleanly() {
        let jws = CompactJws::parse(&with_header(r#"{"alg":"RS1\u0000\n"}"#)).unwrap();
        assert_eq!(
            jws.algorithm(),
            Err(JwsError::UnsupportedAlgorithm {
                alg: "RS1\\u{0}\\n".into()
            })
        );
        let long = "X".repeat(500);
        let jws = CompactJws::parse(&with_header(&format!(r#"{{"alg":"{long}"}}"#))).unwrap();
        assert_eq!(
            jws.algorithm(),
            Err(JwsError::UnsupportedAlgorithm {
                alg: format!("{}…(+451 bytes)", "X".repeat(49))
            })
        );
        assert_eq!(
            jws.verify_with_keys(Algorithm::Rs256, JwkSet::default().keys())
                .unwrap_err(),
            JwsError::UnsupportedAlgorithm {
                alg: format!("{}…(+451 bytes)", "X".repeat(49))
            }
        );
    }

    // --- JSON objects --------------------------------------------------------

    #[test]
    fn json_object_refuses_duplicates_and_non_objects() {
        assert_eq!(
            json_object(br#"{"a":1,"b":[1,{"c":null}]}"#).unwrap().len(),
            2
        );
        assert_eq!(json_object(b" {} ").unwrap().len(), 0);
        assert_eq!(
            json_object(br#"{"a":1,"b":2,"a":3,"b":4}"#),
            Err(JsonObjectError::Duplicate("a".into()))
        );
        for not_object in [
            &b"[]"[..],
            b"[1,[2]]",
            b"1",
            b"-1.5",
            b"true",
            b"null",
            br#""x""#,
        ] {
            assert_eq!(json_object(not_object), Err(JsonObjectError::NotAnObject));
        }
        for not_json in [
            &b""[..],
            b"{",
            b"{\"a\":1,\"a\":}",
            b"{} {}",
            b"[1,]",
            b"{\"a\":1}\x00",
            b"\xef\xbb\xbf{}",
        ] {
            assert_eq!(
                json_object(not_json),
                Err(JsonObjectError::NotJson),
                "{not_json:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert_eq!(json_object(deep.as_bytes()), Err(JsonObjectError::NotJson));
        let deep = format!(r#"{{"a":{}1{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(json_object(deep.as_bytes()), Err(JsonObjectError::NotJson));
        // After a duplicate the rest is still read under the same depth
        // limit, so a too-deep document is malformed whatever came first.
        let deep = format!(
            r#"{{"a":1,"a":{}1{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(json_object(deep.as_bytes()), Err(JsonObjectError::NotJson));
        let deep = format!(r#"{{"a":1,"a":{}1}}"#, "[".repeat(100_000));
        assert_eq!(json_object(deep.as_bytes()), Err(JsonObjectError::NotJson));
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            json_object(deep.as_bytes()),
            Err(JsonObjectError::NotAnObject)
        );
        let deep = format!(r#"{{"a":{}}}"#, r#"{"b":"#.repeat(10_000));
        assert_eq!(json_object(deep.as_bytes()), Err(JsonObjectError::NotJson));
        // Within the limit is fine.
        let ok = format!(r#"{{"a":{}1{}}}"#, "[".repeat(100), "]".repeat(100));
        assert!(json_object(ok.as_bytes()).is_ok());
        // And as a header, within the token cap.
        let header = format!(r#"{{"alg":"RS256","x":{}}}"#, "[".repeat(20_000));
        assert!(matches!(
            CompactJws::parse(&with_header(&header)),
            Err(JwsError::Malformed { .. })
        ));
    }

    // --- JWK sets ----------------------------------------------------------

    #[test]
    fn jwks_skips_what_it_cannot_use_and_keeps_the_rest() {
        let entries = [
            rsa_jwk(r#","kid":"rsa""#),
            ec_jwk(r#","kid":"ec""#),
            ed_jwk(r#","kid":"ed""#),
            p384_jwk(r#","kid":"p384""#),
            // Skipped from here on.
            format!(r#"{{"kty":"oct","k":"{A1_KEY}"}}"#),
            rsa_jwk(r#","d":"AQAB""#),
            ec_jwk(r#","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI""#),
            ed_jwk(r#","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A""#),
            rsa_with(&modulus(128, 0xc1), "AQAB"),
            format!(
                r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{A3_Y}"}}"#,
                b64(&[1; 31])
            ),
            format!(r#"{{"kty":"EC","crv":"P-384","x":"{A3_X}","y":"{A3_Y}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-521","x":"{A3_X}","y":"{A3_Y}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{A3_X}"}}"#),
            format!(r#"{{"kty":"OKP","crv":"X25519","x":"{ED_X}"}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed448","x":"{ED_X}"}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#, b64(&[9; 31])),
            r#""a string""#.to_owned(),
            "42".to_owned(),
            "null".to_owned(),
            "[]".to_owned(),
            r#"{"kty":"XYZ","x":"AA"}"#.to_owned(),
            format!(r#"{{"kty":"rsa","n":"{A2_N}","e":"AQAB"}}"#),
            format!(r#"{{"n":"{A2_N}","e":"AQAB"}}"#),
            format!(r#"{{"kty":7,"n":"{A2_N}","e":"AQAB"}}"#),
            rsa_jwk(r#","kid":7"#),
            rsa_jwk(r#","alg":["RS256"]"#),
            rsa_jwk(r#","use":null"#),
            rsa_jwk(r#","key_ops":"verify""#),
            rsa_jwk(r#","key_ops":["verify",1]"#),
            rsa_with(&format!("{A2_N}=="), "AQAB"),
            rsa_with(&A2_N.replace('-', "+"), "AQAB"),
            rsa_with(A2_N, "AQAB="),
        ];
        let keys = set(&entries);
        let kids: Vec<_> = keys.keys().iter().map(|k| k.kid().unwrap()).collect();
        assert_eq!(kids, ["rsa", "ec", "ed", "p384"]);
        assert_eq!(keys.skipped(), entries.len() - 4);
        assert!(!keys.is_empty());
        let types: Vec<_> = keys.keys().iter().map(Jwk::key_type).collect();
        assert_eq!(
            types,
            [
                KeyType::Rsa,
                KeyType::EcP256,
                KeyType::Ed25519,
                KeyType::EcP384
            ]
        );
    }

    #[test]
    fn rsa_keys_are_checked_as_ring_will_use_them() {
        let cases = [
            // Exactly 2048 bits, and exactly 8192.
            (modulus(256, 0x80), "AQAB", true),
            (modulus(1024, 0x80), "AQAB", true),
            // A leading zero octet is tolerated (stripped).
            (
                b64(&[&[0u8][..], &URL_SAFE_NO_PAD.decode(A2_N).unwrap()].concat()),
                "AQAB",
                true,
            ),
            // 2047 bits, 8193 bits.
            (modulus(256, 0x7f), "AQAB", false),
            (modulus(1025, 0x01), "AQAB", false),
            // An even modulus.
            (format!("{}oA", &A2_N[..340]), "AQAB", false),
            // Exponents: 3 is the smallest, even ones and 1 are not keys,
            // more than four octets is refused, leading zeros are stripped.
            (A2_N.to_owned(), "Aw", true),
            (A2_N.to_owned(), "AAEAAQ", true),
            (A2_N.to_owned(), "_____w", true),
            (A2_N.to_owned(), "AQ", false),
            (A2_N.to_owned(), "Ag", false),
            (A2_N.to_owned(), "AQAA", false),
            (A2_N.to_owned(), "AQAAAAE", false),
            (A2_N.to_owned(), "AA", false),
            (A2_N.to_owned(), "", false),
            (String::new(), "AQAB", false),
        ];
        for (n, e, kept) in cases {
            let keys = set(&[rsa_with(&n, e)]);
            assert_eq!(keys.keys().len(), usize::from(kept), "n {} e {e}", n.len());
        }
        // The stripped leading zero still verifies.
        let padded = b64(&[&[0u8][..], &URL_SAFE_NO_PAD.decode(A2_N).unwrap()].concat());
        let keys = set(&[rsa_with(&padded, "AQAB")]);
        let jws = CompactJws::parse(&a2_token()).unwrap();
        assert!(jws.verify_with_keys(Algorithm::Rs256, keys.keys()).is_ok());
    }

    #[test]
    fn jwks_hard_errors() {
        for body in [
            &b""[..],
            b"not json",
            b"[]",
            b"\"keys\"",
            b"{}",
            br#"{"keys":{}}"#,
            br#"{"keys":null}"#,
            br#"{"keys":"[]"}"#,
            br#"{"keys":[],"keys":[]}"#,
        ] {
            assert!(
                matches!(JwkSet::from_json(body), Err(JwsError::Malformed { .. })),
                "{body:?}"
            );
        }
        let empty = JwkSet::from_json(br#"{"keys":[],"other":1}"#).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.skipped(), 0);
    }

    #[test]
    fn jwks_looks_at_most_max_keys() {
        let entries = vec![ec_jwk(""); JwkSet::MAX_KEYS + 50];
        let keys = set(&entries);
        assert_eq!(keys.keys().len(), JwkSet::MAX_KEYS);
        assert_eq!(keys.skipped(), 50);
    }

    #[test]
    fn candidates_follow_kid_use_key_ops_and_alg() {
        let keys = set(&[
            ec_jwk(r#","kid":"a","use":"sig","alg":"ES256""#),
            ec_jwk(r#","kid":"b","use":"enc""#),
            ec_jwk(r#","kid":"c","alg":"ES384""#),
            ec_jwk(r#","kid":"d","key_ops":["encrypt"]"#),
            ec_jwk(r#","kid":"e","key_ops":["sign","verify"]"#),
            ec_jwk(r#","kid":"f","alg":"es256""#),
            ec_jwk(""),
            rsa_jwk(r#","kid":"a""#),
            p384_jwk(r#","kid":"a""#),
        ]);
        assert_eq!(keys.keys().len(), 9);
        let kids = |kid: Option<&str>, alg| -> Vec<Option<String>> {
            keys.candidates(kid, alg)
                .map(|k| k.kid().map(str::to_owned))
                .collect()
        };
        assert_eq!(
            kids(None, Algorithm::Es256),
            [Some("a".to_owned()), Some("e".to_owned()), None]
        );
        assert_eq!(kids(Some("a"), Algorithm::Es256), [Some("a".to_owned())]);
        assert_eq!(kids(Some("a"), Algorithm::Rs256), [Some("a".to_owned())]);
        assert_eq!(kids(Some("a"), Algorithm::Es384), [Some("a".to_owned())]);
        assert!(kids(Some("b"), Algorithm::Es256).is_empty());
        assert!(kids(Some("c"), Algorithm::Es256).is_empty());
        assert!(kids(Some("zz"), Algorithm::Es256).is_empty());
        assert!(kids(None, Algorithm::EdDsa).is_empty());
        for alg in [Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512] {
            assert!(kids(None, alg).is_empty());
            assert!(keys.keys().iter().all(|k| !k.supports(alg)));
        }
        let a = &keys.keys()[0];
        assert_eq!(
            (a.kid(), a.alg(), a.key_use()),
            (Some("a"), Some("ES256"), Some("sig"))
        );
        assert!(a.supports(Algorithm::Es256));
        assert!(!a.supports(Algorithm::Es384));
    }

    #[test]
    fn unsuitable_keys_are_no_matching_key() {
        let jws = CompactJws::parse(&a3_token()).unwrap();
        let keys = set(&[
            p384_jwk(""),
            ec_jwk(r#","use":"enc""#),
            ec_jwk(r#","alg":"RS256""#),
            rsa_jwk(""),
            ed_jwk(""),
        ]);
        assert_eq!(keys.candidates(None, Algorithm::Es256).count(), 0);
        for candidates in [
            keys.candidates(None, Algorithm::Es256).collect::<Vec<_>>(),
            keys.keys().iter().collect(),
        ] {
            assert_eq!(
                jws.verify_with_keys(Algorithm::Es256, candidates)
                    .unwrap_err(),
                JwsError::NoMatchingKey { kid: None }
            );
        }
    }

    #[test]
    fn duplicate_kids_are_all_tried() {
        // A P-256 key that is not the signer's (a valid point, the generator).
        let other = r#"{"kty":"EC","crv":"P-256","kid":"dup","x":"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY","y":"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"}"#;
        let keys = set(&[other.to_owned(), ec_jwk(r#","kid":"dup""#)]);
        assert_eq!(keys.candidates(Some("dup"), Algorithm::Es256).count(), 2);
        let token = format!(
            "{}.{RFC7515_PAYLOAD_B64}.{A3_SIGNATURE_B64}",
            b64(br#"{"alg":"ES256","kid":"dup"}"#)
        );
        // Resigning is impossible here, so check the trial order on the
        // RFC token (no kid) instead, and that the kid is carried through.
        let jws = CompactJws::parse(&a3_token()).unwrap();
        let key = jws
            .verify_with_keys(
                Algorithm::Es256,
                keys.candidates(Some("dup"), Algorithm::Es256),
            )
            .unwrap();
        assert!(core::ptr::eq(key, &keys.keys()[1]));
        let jws = CompactJws::parse(&token).unwrap();
        assert_eq!(jws.header().kid.as_deref(), Some("dup"));
        // The signing input differs from the RFC's, so nothing verifies.
        assert_eq!(
            jws.verify_with_keys(
                Algorithm::Es256,
                keys.candidates(Some("dup"), Algorithm::Es256)
            )
            .unwrap_err(),
            JwsError::BadSignature
        );
        assert_eq!(
            jws.verify_with_keys(
                Algorithm::Es256,
                keys.candidates(Some("nope"), Algorithm::Es256)
            )
            .unwrap_err(),
            JwsError::NoMatchingKey {
                kid: Some("dup".into())
            }
        );
    }

    #[test]
    fn at_most_eight_candidates_are_tried() {
        let wrong = r#"{"kty":"EC","crv":"P-256","x":"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY","y":"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"}"#;
        let jws = CompactJws::parse(&a3_token()).unwrap();
        let mut entries = vec![wrong.to_owned(); 7];
        entries.push(ec_jwk(""));
        assert!(
            jws.verify_with_keys(Algorithm::Es256, set(&entries).keys())
                .is_ok()
        );
        entries.insert(0, wrong.to_owned());
        assert_eq!(
            jws.verify_with_keys(Algorithm::Es256, set(&entries).keys())
                .unwrap_err(),
            JwsError::BadSignature
        );
        // Unsuitable keys do not count towards the eight.
        let mut entries = vec![rsa_jwk(""); 20];
        entries.push(ec_jwk(""));
        assert!(
            jws.verify_with_keys(Algorithm::Es256, set(&entries).keys())
                .is_ok()
        );
    }

    // --- HMAC ----------------------------------------------------------------

    #[test]
    fn hmac_never_verifies_with_a_key_set() {
        let jws = CompactJws::parse(&a1_token()).unwrap();
        let keys = set(&[rsa_jwk(""), ec_jwk("")]);
        assert_eq!(
            jws.verify_with_keys(Algorithm::Hs256, keys.keys())
                .unwrap_err(),
            JwsError::HmacNotAllowed
        );
        // Even when the caller names a public-key algorithm.
        assert_eq!(
            jws.verify_with_keys(Algorithm::Rs256, keys.keys())
                .unwrap_err(),
            JwsError::HmacNotAllowed
        );
    }

    #[test]
    fn hmac_keys_must_be_long_enough() {
        let jws = CompactJws::parse(&a1_token()).unwrap();
        assert_eq!(
            jws.verify_hmac(Algorithm::Hs256, &[7; 31]),
            Err(JwsError::HmacKeyTooShort { len: 31 })
        );
        assert_eq!(
            jws.verify_hmac(Algorithm::Hs256, &[7; 32]),
            Err(JwsError::BadSignature)
        );
        assert_eq!(
            jws.verify_hmac(Algorithm::Hs256, b""),
            Err(JwsError::HmacKeyTooShort { len: 0 })
        );

        for (alg, min) in [(Algorithm::Hs384, 48), (Algorithm::Hs512, 64)] {
            let secret = vec![0x42; min];
            let key = hmac::Key::new(alg.hmac().unwrap().0, &secret);
            let header = b64(format!(r#"{{"alg":"{alg}"}}"#).as_bytes());
            let input = format!("{header}.{RFC7515_PAYLOAD_B64}");
            let tag = hmac::sign(&key, input.as_bytes());
            let jws = CompactJws::parse(&format!("{input}.{}", b64(tag.as_ref()))).unwrap();
            assert_eq!(jws.verify_hmac(alg, &secret), Ok(()));
            assert_eq!(
                jws.verify_hmac(alg, &secret[1..]),
                Err(JwsError::HmacKeyTooShort { len: min - 1 })
            );
            assert_eq!(
                jws.verify_hmac(Algorithm::Hs256, &secret),
                Err(JwsError::AlgorithmNotAllowed { alg })
            );
        }
    }

    // --- presentation -------------------------------------------------------

    #[test]
    fn messages_are_lower_case_without_a_period() {
        let errors = [
            JwsError::TooLong { len: 70_000 },
            JwsError::Encrypted,
            JwsError::Malformed {
                reason: "header is not json",
            },
            JwsError::DuplicateHeader { name: "alg".into() },
            JwsError::MissingAlgorithm,
            JwsError::Unsigned,
            JwsError::UnsupportedAlgorithm { alg: "RS1".into() },
            JwsError::AlgorithmNotAllowed {
                alg: Algorithm::Hs256,
            },
            JwsError::UnknownCritical { name: "exp".into() },
            JwsError::NoMatchingKey {
                kid: Some("k1".into()),
            },
            JwsError::NoMatchingKey { kid: None },
            JwsError::HmacNotAllowed,
            JwsError::HmacKeyTooShort { len: 3 },
            JwsError::BadSignature,
        ];
        for error in errors {
            let message = error.to_string();
            let first = message.chars().next().unwrap();
            assert!(first.is_lowercase(), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn errors_never_quote_the_token() {
        let token = a2_token();
        let signature = token.rsplit_once('.').unwrap().1;
        let broken = format!("{A2_HEADER_B64}.{RFC7515_PAYLOAD_B64}.{} ", signature);
        let message = CompactJws::parse(&broken).unwrap_err().to_string();
        assert!(!message.contains(&signature[..20]), "{message}");
        assert!(!message.contains(&RFC7515_PAYLOAD_B64[..20]), "{message}");
    }

    #[test]
    fn debug_shows_no_key_material_or_payload() {
        let keys = set(&[rsa_jwk(r#","kid":"k","use":"sig""#)]);
        let debug = format!("{:?}", keys.keys()[0]);
        assert_eq!(
            debug,
            r#"Jwk { kty: Rsa, kid: Some("k"), alg: None, use: Some("sig"), .. }"#
        );
        let debug = format!("{keys:?}");
        assert!(!debug.contains("ofgW") && !debug.contains("161"), "{debug}");
        let jws = CompactJws::parse(&a2_token()).unwrap();
        let debug = format!("{jws:?}");
        assert!(debug.contains("RS256") && !debug.contains("joe"), "{debug}");
    }
}
