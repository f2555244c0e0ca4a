//! A test-support signer: mints compact JWS tokens (RFC 7515 §7.1) with test
//! keys, so conformance tests can play an OpenID provider that signs ID
//! tokens, publishes a JWK set (RFC 7517 §5) and rotates keys.
//!
//! [`TestKey`] covers every algorithm family grantflow verifies: RSA
//! (RS256/384/512, PS256/384/512) from two committed 2048-bit PKCS#8
//! fixtures in `tests/keys/`, ECDSA P-256 and P-384 and Ed25519 freshly
//! generated (each call is a new key), and HMAC with a given secret.
//! [`jwks`] publishes public keys, [`unsigned`] makes an `alg: none` token
//! and [`tamper`] breaks a signature.
//!
//! ```
//! use grantflow::{Algorithm, CompactJws, JwkSet};
//! use grantflow_tests::jose::{TestKey, jwks};
//! use serde_json::json;
//!
//! let key = TestKey::ec_p256().with_kid("k1");
//! let token = key.sign_claims(json!({"iss": "https://op.example", "sub": "alice"}));
//!
//! let keys = JwkSet::from_json(&jwks(&[&key])).unwrap();
//! let jws = CompactJws::parse(&token).unwrap();
//! assert_eq!(jws.header().kid.as_deref(), Some("k1"));
//! let alg = jws.algorithm().unwrap();
//! assert!(jws.verify_with_keys(alg, keys.candidates(Some("k1"), alg)).is_ok());
//! ```
//!
//! These keys are for tests only: the private halves are in the repository.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Map, Value, json};

/// The first RSA fixture (`openssl genpkey -algorithm RSA -pkeyopt
/// rsa_keygen_bits:2048 -outform DER`: PKCS#8 DER).
const RSA_A: &[u8] = include_bytes!("../keys/rsa-2048-a.pk8.der");
/// The second RSA fixture, a different key generated the same way.
const RSA_B: &[u8] = include_bytes!("../keys/rsa-2048-b.pk8.der");

/// A signing key for tests, with the JOSE algorithm it signs with and an
/// optional `kid`.
///
/// Cloning is cheap and keeps the same key material, so one key can be
/// published under two `kid`s.
#[derive(Clone)]
pub struct TestKey {
    material: Material,
    alg: &'static str,
    kid: Option<String>,
}

#[derive(Clone)]
enum Material {
    Rsa(Arc<RsaKeyPair>),
    Ec {
        pair: Arc<EcdsaKeyPair>,
        crv: &'static str,
    },
    Ed25519(Arc<Ed25519KeyPair>),
    Hmac(Vec<u8>),
}

impl TestKey {
    /// The first committed 2048-bit RSA key, signing RS256.
    pub fn rsa() -> TestKey {
        TestKey::rsa_from(RSA_A)
    }

    /// A second, different 2048-bit RSA key, signing RS256: the "new" key
    /// of a rotation test.
    pub fn rsa_2() -> TestKey {
        TestKey::rsa_from(RSA_B)
    }

    fn rsa_from(pkcs8: &[u8]) -> TestKey {
        let pair = RsaKeyPair::from_pkcs8(pkcs8).expect("the RSA fixture is PKCS#8");
        TestKey {
            material: Material::Rsa(Arc::new(pair)),
            alg: "RS256",
            kid: None,
        }
    }

    /// A freshly generated P-256 key, signing ES256.
    pub fn ec_p256() -> TestKey {
        TestKey::ec(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            "P-256",
            "ES256",
        )
    }

    /// A freshly generated P-384 key, signing ES384.
    pub fn ec_p384() -> TestKey {
        TestKey::ec(
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            "P-384",
            "ES384",
        )
    }

    fn ec(
        algorithm: &'static signature::EcdsaSigningAlgorithm,
        crv: &'static str,
        alg: &'static str,
    ) -> TestKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(algorithm, &rng).expect("EC key generation");
        let pair = EcdsaKeyPair::from_pkcs8(algorithm, pkcs8.as_ref(), &rng)
            .expect("a generated EC key loads");
        TestKey {
            material: Material::Ec {
                pair: Arc::new(pair),
                crv,
            },
            alg,
            kid: None,
        }
    }

    /// A freshly generated Ed25519 key, signing EdDSA (RFC 8037).
    pub fn ed25519() -> TestKey {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key generation");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a generated key loads");
        TestKey {
            material: Material::Ed25519(Arc::new(pair)),
            alg: "EdDSA",
            kid: None,
        }
    }

    /// An HMAC key with this shared secret (the client secret's octets),
    /// signing HS256. Any length is accepted, so tests can try short ones.
    pub fn hmac(secret: &[u8]) -> TestKey {
        TestKey {
            material: Material::Hmac(secret.to_vec()),
            alg: "HS256",
            kid: None,
        }
    }

    /// The same key with this `kid`, put in the header of every token it
    /// signs and in its [`public_jwk`](Self::public_jwk).
    pub fn with_kid(mut self, kid: &str) -> TestKey {
        self.kid = Some(kid.to_owned());
        self
    }

    /// The same key signing with another algorithm of its family: RS*/PS*
    /// for RSA, HS* for HMAC (EC and Ed25519 keys have one algorithm each).
    ///
    /// # Panics
    ///
    /// If the algorithm does not fit the key.
    pub fn with_alg(mut self, alg: &'static str) -> TestKey {
        let fits = match &self.material {
            Material::Rsa(_) => matches!(
                alg,
                "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"
            ),
            Material::Hmac(_) => matches!(alg, "HS256" | "HS384" | "HS512"),
            Material::Ec { .. } | Material::Ed25519(_) => alg == self.alg,
        };
        assert!(fits, "{alg} does not fit a {} key", self.alg);
        self.alg = alg;
        self
    }

    /// The JOSE algorithm this key signs with, e.g. `"RS256"`.
    pub fn alg(&self) -> &'static str {
        self.alg
    }

    /// The `kid`, if one was given.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public JWK (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2): public
    /// parameters only, with `kid` (if any), `alg` and `use: sig`.
    ///
    /// An HMAC key has no public half: its JWK is `kty: oct` with the
    /// secret in `k`, which a client must never accept from a JWK set (handy
    /// to check that it does not).
    pub fn public_jwk(&self) -> Value {
        let mut jwk = match &self.material {
            Material::Rsa(pair) => {
                let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "n": b64(&public.n), "e": b64(&public.e)})
            }
            Material::Ec { pair, crv } => {
                // The uncompressed point 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                json!({
                    "kty": "EC",
                    "crv": crv,
                    "x": b64(&point[1..1 + size]),
                    "y": b64(&point[1 + size..]),
                })
            }
            Material::Ed25519(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())})
            }
            Material::Hmac(secret) => json!({"kty": "oct", "k": b64(secret)}),
        };
        let members = jwk.as_object_mut().expect("a JWK is an object");
        if let Some(kid) = &self.kid {
            members.insert("kid".into(), kid.as_str().into());
        }
        members.insert("alg".into(), self.alg.into());
        members.insert("use".into(), "sig".into());
        jwk
    }

    /// Signs `claims` under `header`, returning the compact JWS. `alg` is
    /// filled in if the header lacks it, and `kid` if the key has one and
    /// the header lacks it; anything the header already has is kept, so a
    /// test can lie about `alg` or `kid`.
    ///
    /// # Panics
    ///
    /// If `header` is not a JSON object.
    pub fn sign(&self, header: Value, claims: Value) -> String {
        let Value::Object(mut header) = header else {
            panic!("a JOSE header is a JSON object");
        };
        header.entry("alg").or_insert_with(|| Value::from(self.alg));
        if let Some(kid) = &self.kid {
            header
                .entry("kid")
                .or_insert_with(|| Value::from(kid.as_str()));
        }
        let header = serde_json::to_vec(&Value::Object(header)).expect("JSON serializes");
        let payload = serde_json::to_vec(&claims).expect("JSON serializes");
        self.sign_raw(&header, &payload)
    }

    /// Signs `claims` under a header of just `alg` (and `kid`, if any).
    pub fn sign_claims(&self, claims: Value) -> String {
        self.sign(Value::Object(Map::new()), claims)
    }

    /// Signs exactly these header and payload octets (nothing is added to
    /// the header): for headers no `serde_json::Value` can hold, such as a
    /// duplicate member name, or payloads that are not JSON.
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let signature = self.signature(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    /// The signature of `input` with [`alg`](Self::alg).
    fn signature(&self, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.material {
            Material::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match self.alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    other => unreachable!("with_alg lets no {other} through"),
                };
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &rng, input, &mut signature)
                    .expect("RSA signing");
                signature
            }
            Material::Ec { pair, .. } => pair
                .sign(&rng, input)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Material::Ed25519(pair) => pair.sign(input).as_ref().to_vec(),
            Material::Hmac(secret) => {
                let algorithm = match self.alg {
                    "HS256" => hmac::HMAC_SHA256,
                    "HS384" => hmac::HMAC_SHA384,
                    "HS512" => hmac::HMAC_SHA512,
                    other => unreachable!("with_alg lets no {other} through"),
                };
                hmac::sign(&hmac::Key::new(algorithm, secret), input)
                    .as_ref()
                    .to_vec()
            }
        }
    }
}

impl fmt::Debug for TestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A JWK set document (RFC 7517 §5) publishing these keys'
/// [`public_jwk`](TestKey::public_jwk)s, in order.
pub fn jwks(keys: &[&TestKey]) -> Vec<u8> {
    let keys: Vec<Value> = keys.iter().map(|key| key.public_jwk()).collect();
    serde_json::to_vec(&json!({ "keys": keys })).expect("JSON serializes")
}

/// An unsecured JWS (RFC 7515 Appendix A.5): header `{"alg":"none"}`, these
/// claims, and an empty signature.
pub fn unsigned(claims: Value) -> String {
    let payload = serde_json::to_vec(&claims).expect("JSON serializes");
    format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(&payload))
}

/// The same token with one bit of its signature flipped (still canonical
/// base64url, so it parses and fails only at verification).
///
/// # Panics
///
/// If `token` has no dot or its signature segment is empty or not base64url.
pub fn tamper(token: &str) -> String {
    let (input, signature) = token.rsplit_once('.').expect("a compact JWS");
    let mut signature = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("a base64url signature");
    let first = signature.first_mut().expect("a non-empty signature");
    *first ^= 0x01;
    format!("{input}.{}", b64(&signature))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
