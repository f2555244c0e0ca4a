//! RSA signing for grantflow (RFC 7518 §3.3 `RS256`/`RS384`/`RS512`, §3.5
//! `PS256`/`PS384`/`PS512`): an [`RsaSigner`] for `private_key_jwt` client
//! assertions (RFC 7523 §2.2) and DPoP proofs (RFC 9449), on `ring`.
//!
//! The grantflow core never reads the OS random generator, and `ring` signs
//! RSA only with one (for the PSS salt and for blinding), so this signer
//! lives outside the core. The adapters `grantflow-ureq` and
//! `grantflow-async` re-export it; it is its own crate so that both share
//! one implementation.
//!
//! ```
//! use grantflow::{Algorithm, JwsSigner};
//! use grantflow_rsa::RsaSigner;
//!
//! # let pem = include_str!("../../../tests/keys/rs256.pem");
//! let signer = RsaSigner::from_pkcs8_pem(pem, Algorithm::Rs256)?.with_key_id("rsa-1");
//! let jwk = signer.public_jwk().expect("an rsa key has a public key");
//! assert_eq!(jwk["kty"], "RSA");
//! assert!(jwk.get("d").is_none());
//! assert_eq!(signer.sign(b"a.b")?.len(), 256);
//! # Ok::<(), grantflow::SignError>(())
//! ```

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::{Algorithm, JwsSigner, SignError};
use ring::rand::SystemRandom;
use ring::rsa::{KeyPairComponents, PublicKeyComponents};
use ring::signature::{self, RsaEncoding, RsaKeyPair};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// An RSA signer: RSASSA-PKCS1-v1_5 (`RS256`, `RS384`, `RS512`, RFC 7518
/// §3.3) or RSASSA-PSS (`PS256`, `PS384`, `PS512`, RFC 7518 §3.5), on
/// `ring`, with `ring`'s `SystemRandom` (the OS generator) for the PSS salt
/// and for blinding.
///
/// Keys of 2048 to 8192 bits load (`ring`'s limits; RFC 7518 §3.3 wants at
/// least 2048). `Debug` shows the algorithm and key id only. `ring` does not
/// zeroize its key on drop; the DER and JWK bytes this crate decodes are
/// zeroized.
pub struct RsaSigner {
    key_pair: RsaKeyPair,
    algorithm: Algorithm,
    encoding: &'static dyn RsaEncoding,
    kid: Option<String>,
    rng: SystemRandom,
}

impl RsaSigner {
    /// A signer for `algorithm` (an RSA one) from an unencrypted PKCS#8
    /// document in DER (RFC 5958, RFC 8017 Appendix A.1.2).
    pub fn from_pkcs8_der(der: &[u8], algorithm: Algorithm) -> Result<RsaSigner, SignError> {
        let key_pair = RsaKeyPair::from_pkcs8(der).map_err(|_| SignError::InvalidKey {
            reason: "not a pkcs#8 rsa private key of 2048 to 8192 bits",
        })?;
        RsaSigner::new(key_pair, algorithm)
    }

    /// A signer for `algorithm` from an unencrypted PKCS#8 document in PEM
    /// (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey -algorithm RSA`
    /// writes it).
    pub fn from_pkcs8_pem(pem: &str, algorithm: Algorithm) -> Result<RsaSigner, SignError> {
        RsaSigner::from_pkcs8_der(&grantflow::pkcs8_pem_to_der(pem)?, algorithm)
    }

    /// A signer for `algorithm` from a private `RSA` JWK with all the
    /// members of RFC 7518 §6.3.2 (`n`, `e`, `d`, `p`, `q`, `dp`, `dq`,
    /// `qi`; multi-prime keys are refused); its `kid` becomes the signer's.
    pub fn from_jwk(jwk: &str, algorithm: Algorithm) -> Result<RsaSigner, SignError> {
        let invalid = |reason| SignError::InvalidKey { reason };
        let Ok(Value::Object(members)) = serde_json::from_str::<Value>(jwk) else {
            return Err(invalid("jwk is not a json object"));
        };
        if members.get("kty").and_then(Value::as_str) != Some("RSA") {
            return Err(invalid("jwk kty is not RSA"));
        }
        if members.contains_key("oth") {
            return Err(invalid("multi-prime rsa keys are not supported"));
        }
        let member = |name: &str| -> Result<Zeroizing<Vec<u8>>, SignError> {
            let text = members
                .get(name)
                .and_then(Value::as_str)
                .ok_or(invalid("rsa jwk lacks a member of rfc 7518 §6.3.2"))?;
            URL_SAFE_NO_PAD
                .decode(text)
                .map(Zeroizing::new)
                .map_err(|_| invalid("jwk member is not base64url"))
        };
        let (n, e, d) = (member("n")?, member("e")?, member("d")?);
        let (p, q) = (member("p")?, member("q")?);
        let (dp, dq, qi) = (member("dp")?, member("dq")?, member("qi")?);
        let kid = members
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        drop(members);
        let components = KeyPairComponents {
            public_key: PublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            },
            d: d.as_slice(),
            p: p.as_slice(),
            q: q.as_slice(),
            dP: dp.as_slice(),
            dQ: dq.as_slice(),
            qInv: qi.as_slice(),
        };
        let key_pair = RsaKeyPair::from_components(&components)
            .map_err(|_| invalid("rsa jwk members do not form a key of 2048 to 8192 bits"))?;
        let signer = RsaSigner::new(key_pair, algorithm)?;
        Ok(RsaSigner { kid, ..signer })
    }

    fn new(key_pair: RsaKeyPair, algorithm: Algorithm) -> Result<RsaSigner, SignError> {
        let encoding: &'static dyn RsaEncoding = match algorithm {
            Algorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
            Algorithm::Rs384 => &signature::RSA_PKCS1_SHA384,
            Algorithm::Rs512 => &signature::RSA_PKCS1_SHA512,
            Algorithm::Ps256 => &signature::RSA_PSS_SHA256,
            Algorithm::Ps384 => &signature::RSA_PSS_SHA384,
            Algorithm::Ps512 => &signature::RSA_PSS_SHA512,
            _ => {
                return Err(SignError::InvalidKey {
                    reason: "an rsa key signs only rs256/384/512 or ps256/384/512",
                });
            }
        };
        Ok(RsaSigner {
            key_pair,
            algorithm,
            encoding,
            kid: None,
            rng: SystemRandom::new(),
        })
    }

    /// The same signer with this `kid`.
    #[must_use]
    pub fn with_key_id(mut self, kid: impl Into<String>) -> RsaSigner {
        self.kid = Some(kid.into());
        self
    }
}

impl JwsSigner for RsaSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut signature = vec![0; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(self.encoding, &self.rng, signing_input, &mut signature)
            .map_err(|_| SignError::Failed {
                reason: "rsa signing failed (the os random generator?)".to_owned(),
            })?;
        Ok(signature)
    }

    fn public_jwk(&self) -> Option<Value> {
        let public: PublicKeyComponents<Vec<u8>> = self.key_pair.public().into();
        let mut jwk = Map::new();
        jwk.insert("kty".to_owned(), Value::from("RSA"));
        jwk.insert(
            "n".to_owned(),
            Value::from(URL_SAFE_NO_PAD.encode(&public.n)),
        );
        jwk.insert(
            "e".to_owned(),
            Value::from(URL_SAFE_NO_PAD.encode(&public.e)),
        );
        if let Some(kid) = &self.kid {
            jwk.insert("kid".to_owned(), Value::from(kid.as_str()));
        }
        Some(Value::Object(jwk))
    }
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigner")
            .field("alg", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = include_str!("../../../tests/keys/rs256.pem");
    const DER: &[u8] = include_bytes!("../../../tests/keys/rs256.pk8.der");
    const JWK: &str = include_str!("../../../tests/keys/rs256.jwk.json");

    fn verify(signer: &RsaSigner, params: &'static signature::RsaParameters, input: &[u8]) {
        let jwk = signer.public_jwk().unwrap();
        let part = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        let public = signature::RsaPublicKeyComponents {
            n: part("n"),
            e: part("e"),
        };
        public
            .verify(params, input, &signer.sign(input).unwrap())
            .unwrap();
    }

    #[test]
    fn pem_der_and_jwk_are_the_same_key() {
        let pem = RsaSigner::from_pkcs8_pem(PEM, Algorithm::Rs256).unwrap();
        let der = RsaSigner::from_pkcs8_der(DER, Algorithm::Rs256).unwrap();
        let jwk = RsaSigner::from_jwk(JWK, Algorithm::Rs256).unwrap();
        assert_eq!(jwk.key_id(), Some("client-rs256"));
        let mut public = jwk.public_jwk().unwrap();
        public.as_object_mut().unwrap().remove("kid");
        assert_eq!(pem.public_jwk().unwrap(), public);
        assert_eq!(der.public_jwk().unwrap(), public);
        assert_eq!(public["e"], "AQAB");
        // PKCS#1 v1.5 is deterministic: every loader signs alike.
        assert_eq!(pem.sign(b"a.b").unwrap(), jwk.sign(b"a.b").unwrap());
    }

    #[test]
    fn rs256_and_ps256_verify() {
        let rs = RsaSigner::from_pkcs8_der(DER, Algorithm::Rs256).unwrap();
        verify(
            &rs,
            &signature::RSA_PKCS1_2048_8192_SHA256,
            b"header.payload",
        );
        let ps = RsaSigner::from_pkcs8_der(DER, Algorithm::Ps256).unwrap();
        assert_eq!(ps.algorithm(), Algorithm::Ps256);
        verify(&ps, &signature::RSA_PSS_2048_8192_SHA256, b"header.payload");
        // PSS is randomized.
        assert_ne!(ps.sign(b"x").unwrap(), ps.sign(b"x").unwrap());
        // A JWS with it passes the core's size check.
        let jws = grantflow::sign_compact(&rs, &Map::new(), b"{}").unwrap();
        assert!(jws.starts_with("eyJhbGciOiJSUzI1NiJ9."));
    }

    #[test]
    fn bad_keys_and_algorithms_are_refused() {
        assert!(RsaSigner::from_pkcs8_der(DER, Algorithm::Es256).is_err());
        assert!(RsaSigner::from_pkcs8_der(b"junk", Algorithm::Rs256).is_err());
        let es256 = include_str!("../../../tests/keys/es256.pem");
        assert!(RsaSigner::from_pkcs8_pem(es256, Algorithm::Rs256).is_err());
        let es256 = include_str!("../../../tests/keys/es256.jwk.json");
        assert!(RsaSigner::from_jwk(es256, Algorithm::Rs256).is_err());
        let mut jwk: Value = serde_json::from_str(JWK).unwrap();
        jwk.as_object_mut().unwrap().remove("qi");
        assert!(RsaSigner::from_jwk(&jwk.to_string(), Algorithm::Rs256).is_err());
        jwk["qi"] = jwk["dq"].clone();
        assert!(RsaSigner::from_jwk(&jwk.to_string(), Algorithm::Rs256).is_err());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let signer = RsaSigner::from_pkcs8_pem(PEM, Algorithm::Ps256)
            .unwrap()
            .with_key_id("k");
        assert_eq!(
            format!("{signer:?}"),
            r#"RsaSigner { alg: Ps256, kid: Some("k"), .. }"#
        );
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<RsaSigner>();
    }
}
