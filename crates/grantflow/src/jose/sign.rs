//! Creating compact JWS (RFC 7515 §5.1, §7.1): the [`JwsSigner`] trait, the
//! two signers the core ships ([`Ed25519Signer`] and [`Es256Signer`](crate::Es256Signer)), and
//! the crate-internal `sign_compact` that JWT client assertions (RFC 7523)
//! and DPoP proofs (RFC 9449) are built with.
//!
//! The user-facing documentation is on [`JwsSigner`].

use core::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Map, Value};

use zeroize::Zeroizing;

use crate::alg::Algorithm;
use crate::error::SignError;

/// How much of a caller's conflicting `alg` value an error quotes.
const QUOTE_MAX: usize = 32;

/// Signs the JWS signing input with one key, for one algorithm (RFC 7515
/// §5.1 step 5).
///
/// The core calls [`sign`](JwsSigner::sign) while a flow runs and passes no
/// generator: an implementation either signs deterministically (like the
/// built-in [`Ed25519Signer`] and [`Es256Signer`](crate::Es256Signer)) or draws its own
/// randomness (an RSASSA-PSS signer holding `ring`'s `SystemRandom`, a remote
/// KMS). The trait is object safe; the core stores signers as
/// `Arc<dyn JwsSigner>` and signs through `&dyn JwsSigner`.
///
/// # Example
///
/// A signer for `client_secret_jwt` (RFC 7523 §2.2, OIDC Core §9): HMAC with
/// SHA-256, which needs no generator either.
///
/// ```
/// use grantflow::{Algorithm, JwsSigner, SignError};
/// use ring::hmac;
///
/// struct ClientSecretSigner(hmac::Key);
///
/// impl JwsSigner for ClientSecretSigner {
///     fn algorithm(&self) -> Algorithm {
///         Algorithm::Hs256
///     }
///     fn key_id(&self) -> Option<&str> {
///         None
///     }
///     fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
///         Ok(hmac::sign(&self.0, signing_input).as_ref().to_vec())
///     }
/// }
///
/// let signer = ClientSecretSigner(hmac::Key::new(hmac::HMAC_SHA256, &[0x42; 32]));
/// let signer: &dyn JwsSigner = &signer;
/// assert_eq!(signer.sign(b"a.b")?.len(), 32);
/// assert!(signer.public_jwk().is_none());
/// # Ok::<(), SignError>(())
/// ```
///
/// `sign_compact` follows RFC 7515 §5.1: it builds the JOSE header from the
/// caller's members plus `alg` from the signer (and `kid` when the signer has
/// one and the caller set none), encodes header and payload as unpadded
/// base64url (RFC 7515 §2), signs the ASCII signing input
/// `BASE64URL(header) || '.' || BASE64URL(payload)` and appends the encoded
/// signature. It refuses a caller header whose `alg` differs from the
/// signer's, and a signature of the wrong size for the algorithm (an ECDSA
/// signature in DER, say), so a malformed JWS never leaves the crate.
///
/// # The signers the core ships: no generator needed
///
/// The core never reads the OS random generator. Randomness a flow needs (a
/// `jti`, say) is drawn from the caller's generator when the flow is built;
/// signing inside a running flow goes through [`JwsSigner`], which takes no
/// generator. So the core ships only signers whose signatures are a pure
/// function of key and message:
///
/// - [`Ed25519Signer`]: EdDSA with Ed25519 (RFC 8037 §3.1, RFC 8032), which
///   is deterministic by construction; on `ring`.
/// - [`Es256Signer`](crate::Es256Signer): ECDSA on P-256 with SHA-256 (RFC 7518 §3.4) with the
///   nonce derived from key and message as RFC 6979 §3.2 describes; on the
///   RustCrypto `p256` crate. The signature is the fixed-width `r || s` of
///   RFC 7518 §3.4 (64 bytes), not DER.
///
/// Signers that need OS entropy — RSASSA-PSS (RFC 7518 §3.5), `ring`'s
/// randomized ECDSA, or a key in an HSM or a cloud KMS — come from an
/// adapter or from the user, by implementing [`JwsSigner`]; the core treats
/// them exactly like its own.
///
/// # Example
///
/// ```
/// use grantflow::{Algorithm, Ed25519Signer, JwsSigner};
///
/// # fn main() -> Result<(), grantflow::SignError> {
/// // The private key of RFC 8037 Appendix A.1 (a 32-byte Ed25519 seed).
/// let seed = [
///     0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
///     0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
///     0x1c, 0xae, 0x7f, 0x60,
/// ];
/// let signer = Ed25519Signer::from_seed(&seed)?.with_key_id("2024-05");
/// assert_eq!(signer.algorithm(), Algorithm::EdDsa);
/// assert_eq!(signer.key_id(), Some("2024-05"));
///
/// // The public JWK (RFC 8037 §2) carries no private member.
/// let jwk = signer.public_jwk().expect("built-in signers publish their key");
/// assert_eq!(jwk["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
/// assert!(jwk.get("d").is_none());
///
/// // Deterministic: the same input gives the same 64-byte signature.
/// let signature = signer.sign(b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc")?;
/// assert_eq!(signature.len(), 64);
/// // `Debug` names the signer and its key id, never the key.
/// assert_eq!(format!("{signer:?}"), r#"Ed25519Signer { kid: Some("2024-05"), .. }"#);
/// # Ok(())
/// # }
/// ```
pub trait JwsSigner: Send + Sync {
    /// The algorithm this signer signs with; it becomes the header's `alg`.
    fn algorithm(&self) -> Algorithm;

    /// The key id for the header's `kid` (RFC 7515 §4.1.4), if the key has
    /// one. A `kid` the caller puts in the header takes precedence.
    fn key_id(&self) -> Option<&str>;

    /// The JWS Signature over `signing_input` (the ASCII bytes of
    /// `BASE64URL(header) '.' BASE64URL(payload)`), in the form RFC 7518 §3
    /// and RFC 8037 §3.1 give for [`algorithm`](JwsSigner::algorithm): for
    /// ECDSA the fixed-width `r || s` (64 bytes for ES256, 96 for ES384),
    /// never DER; 64 bytes for EdDSA; the full MAC for HMAC; the modulus
    /// length for RSA.
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError>;

    /// The public key as a JWK (RFC 7517 §4, RFC 7518 §6.2.1, RFC 8037 §2),
    /// without any private member, for a DPoP proof's `jwk` header (RFC 9449
    /// §4.2) or a published key set; `None` (the default) when there is no
    /// public key to publish, as for HMAC. The built-in signers add `kid`
    /// when they have one.
    fn public_jwk(&self) -> Option<Value> {
        None
    }
}

/// Forwards [`JwsSigner`] through a pointer type, so `&dyn JwsSigner`,
/// `Box<dyn JwsSigner>` and `Arc<dyn JwsSigner>` are signers too.
macro_rules! forward_signer {
    ($($pointer:ty),*) => {$(
        impl<T: JwsSigner + ?Sized> JwsSigner for $pointer {
            fn algorithm(&self) -> Algorithm {
                (**self).algorithm()
            }
            fn key_id(&self) -> Option<&str> {
                (**self).key_id()
            }
            fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
                (**self).sign(signing_input)
            }
            fn public_jwk(&self) -> Option<Value> {
                (**self).public_jwk()
            }
        }
    )*};
}

forward_signer!(&T, Box<T>, Arc<T>);

/// An EdDSA signer with an Ed25519 key (RFC 8037 §3.1, RFC 8032 §5.1), on
/// `ring`. Ed25519 signatures are deterministic, so this signer needs no
/// generator.
///
/// `Debug` shows only the key id. `ring` does not zeroize its key pair on
/// drop; the bytes the signer was built from stay the caller's to zeroize.
pub struct Ed25519Signer {
    key_pair: Ed25519KeyPair,
    kid: Option<String>,
}

impl Ed25519Signer {
    /// A signer from an unencrypted PKCS#8 document in DER (RFC 5958, RFC
    /// 8410 §7): v1 as `openssl genpkey -algorithm ed25519` writes it, or v2
    /// with the public key, which must then match the private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Ed25519Signer, SignError> {
        let key_pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| SignError::InvalidKey {
                reason: "not a pkcs#8 ed25519 private key",
            })?;
        Ok(Ed25519Signer {
            key_pair,
            kid: None,
        })
    }

    /// A signer from the 32-byte private key seed (RFC 8032 §5.1.5; the
    /// decoded `d` of an `OKP` JWK, RFC 8037 §2). The public key is derived
    /// from it (`ring`'s `from_seed_unchecked`: there is no public key to
    /// check it against).
    pub fn from_seed(seed: &[u8]) -> Result<Ed25519Signer, SignError> {
        let key_pair =
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| SignError::InvalidKey {
                reason: "ed25519 seed is not 32 bytes",
            })?;
        Ok(Ed25519Signer {
            key_pair,
            kid: None,
        })
    }

    /// A signer from an unencrypted PKCS#8 document in PEM (RFC 7468 §10,
    /// `-----BEGIN PRIVATE KEY-----`), as `openssl genpkey -algorithm
    /// ed25519` writes it.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Ed25519Signer, SignError> {
        Ed25519Signer::from_pkcs8_der(&pkcs8_pem_to_der(pem)?)
    }

    /// A signer from a private `OKP` JWK on `Ed25519` (RFC 8037 §2): `d`
    /// is the seed, `x` (when present) must be its public key, and `kid`
    /// (when present) becomes the signer's key id.
    pub fn from_jwk(jwk: &str) -> Result<Ed25519Signer, SignError> {
        let jwk = PrivateJwk::parse(jwk, "OKP", "Ed25519")?;
        let signer = Ed25519Signer::from_seed(&jwk.d)?;
        if jwk.x.as_deref().is_some_and(|x| x != signer.public_key()) {
            return Err(SignError::InvalidKey {
                reason: "jwk x is not the public key of d",
            });
        }
        Ok(Ed25519Signer {
            kid: jwk.kid,
            ..signer
        })
    }

    /// The same signer with this `kid`.
    #[must_use]
    pub fn with_key_id(mut self, kid: impl Into<String>) -> Ed25519Signer {
        self.kid = Some(kid.into());
        self
    }

    /// The 32-byte public key (RFC 8032 §5.1.5).
    pub fn public_key(&self) -> &[u8] {
        self.key_pair.public_key().as_ref()
    }
}

impl JwsSigner for Ed25519Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDsa
    }

    fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(self.key_pair.sign(signing_input).as_ref().to_vec())
    }

    fn public_jwk(&self) -> Option<Value> {
        let mut jwk = Map::new();
        jwk.insert("kty".to_owned(), Value::from("OKP"));
        jwk.insert("crv".to_owned(), Value::from("Ed25519"));
        jwk.insert(
            "x".to_owned(),
            Value::from(URL_SAFE_NO_PAD.encode(self.public_key())),
        );
        if let Some(kid) = &self.kid {
            jwk.insert("kid".to_owned(), Value::from(kid.as_str()));
        }
        Some(Value::Object(jwk))
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The DER inside an unencrypted PKCS#8 PEM document (RFC 7468 §10: label
/// `PRIVATE KEY`, base64 between the boundaries, whitespace ignored), for
/// signers that load keys from DER. Text before the first boundary (OpenSSL's
/// explanatory lines) is skipped; an encrypted key (`ENCRYPTED PRIVATE KEY`)
/// or a PKCS#1 / SEC1 document is refused. The DER is zeroized on drop.
///
/// ```
/// let pem = "-----BEGIN PRIVATE KEY-----\n\
///            MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
///            -----END PRIVATE KEY-----\n";
/// let der = grantflow::pkcs8_pem_to_der(pem)?;
/// assert_eq!(der.len(), 48);
/// # Ok::<(), grantflow::SignError>(())
/// ```
pub fn pkcs8_pem_to_der(pem: &str) -> Result<Zeroizing<Vec<u8>>, SignError> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let not_pem = SignError::InvalidKey {
        reason: "not an unencrypted pkcs#8 pem document (-----BEGIN PRIVATE KEY-----)",
    };
    let (_, rest) = pem.split_once(BEGIN).ok_or_else(|| not_pem.clone())?;
    let (body, _) = rest.split_once(END).ok_or(not_pem)?;
    let compact: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| SignError::InvalidKey {
            reason: "pem body is not base64",
        })
}

/// The members of a private JWK (RFC 7517 §4, RFC 7518 §6.2, RFC 8037 §2)
/// the core's signers read; `d` zeroized on drop.
pub(crate) struct PrivateJwk {
    pub(crate) d: Zeroizing<Vec<u8>>,
    pub(crate) x: Option<Vec<u8>>,
    // Only P-256 keys have a `y`.
    #[cfg_attr(not(feature = "es256"), allow(dead_code))]
    pub(crate) y: Option<Vec<u8>>,
    pub(crate) kid: Option<String>,
}

impl PrivateJwk {
    /// Reads `jwk`, which must have this `kty` and `crv` and a `d`. The
    /// JWK's `alg` and `use` are not read: `kty` and `crv` fix the
    /// algorithm, and both members are advisory (RFC 7517 §4.2, §4.4).
    pub(crate) fn parse(jwk: &str, kty: &str, crv: &str) -> Result<PrivateJwk, SignError> {
        let value: Zeroizing<String> = Zeroizing::new(jwk.to_owned());
        let Ok(Value::Object(members)) = serde_json::from_str::<Value>(&value) else {
            return Err(SignError::InvalidKey {
                reason: "jwk is not a json object",
            });
        };
        let text = |name: &str| members.get(name).and_then(Value::as_str);
        if text("kty") != Some(kty) || text("crv") != Some(crv) {
            return Err(SignError::InvalidKey {
                reason: "jwk kty or crv does not fit the signer",
            });
        }
        let decode = |name: &str| -> Result<Option<Vec<u8>>, SignError> {
            text(name)
                .map(|encoded| {
                    URL_SAFE_NO_PAD
                        .decode(encoded)
                        .map_err(|_| SignError::InvalidKey {
                            reason: "jwk member is not base64url",
                        })
                })
                .transpose()
        };
        let d = decode("d")?.ok_or(SignError::InvalidKey {
            reason: "jwk has no private key (d)",
        })?;
        // `members` holds `d` as text too; serde_json's strings cannot be
        // zeroized in place, so the map is dropped right here.
        let (x, y, kid) = (decode("x")?, decode("y")?, text("kid").map(str::to_owned));
        drop(members);
        Ok(PrivateJwk {
            d: Zeroizing::new(d),
            x,
            y,
            kid,
        })
    }
}

/// Signs `payload` into a compact JWS (RFC 7515 §5.1, §7.1).
///
/// The protected header is `header` plus `alg` from the signer, plus `kid`
/// from the signer when it has one and `header` sets none. Refused: a
/// `header` whose `alg` is not the signer's algorithm, a `kid` that is not a
/// string, an unencoded payload (RFC 7797 `b64` other than `true`), and a
/// signature of the wrong size for the algorithm. The payload is the bytes
/// to sign (serialize claims with `serde_json::to_vec` first).
pub fn sign_compact(
    signer: &dyn JwsSigner,
    header: &Map<String, Value>,
    payload: &[u8],
) -> Result<String, SignError> {
    let algorithm = signer.algorithm();
    let mut protected = Map::new();
    protected.insert("alg".to_owned(), Value::from(algorithm.name()));
    for (name, value) in header {
        match name.as_str() {
            "alg" => {
                if value.as_str() != Some(algorithm.name()) {
                    return Err(SignError::AlgorithmMismatch {
                        signer: algorithm,
                        header: value.to_string().chars().take(QUOTE_MAX).collect(),
                    });
                }
            }
            "kid" if !value.is_string() => {
                return Err(SignError::InvalidHeader {
                    reason: "kid is not a string",
                });
            }
            "b64" if *value != Value::Bool(true) => {
                return Err(SignError::InvalidHeader {
                    reason: "unencoded payload (b64) is not supported",
                });
            }
            _ => {
                protected.insert(name.clone(), value.clone());
            }
        }
    }
    if !protected.contains_key("kid") {
        if let Some(kid) = signer.key_id() {
            protected.insert("kid".to_owned(), Value::from(kid));
        }
    }
    let protected = Value::Object(protected).to_string();

    let mut jws = String::new();
    URL_SAFE_NO_PAD.encode_string(protected, &mut jws);
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
    let signature = signer.sign(jws.as_bytes())?;
    if !signature_fits(algorithm, signature.len()) {
        return Err(SignError::SignatureLength {
            algorithm,
            length: signature.len(),
        });
    }
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut jws);
    Ok(jws)
}

/// Whether a signature of `length` bytes can be one for `algorithm`: the
/// fixed sizes of RFC 7518 §3.2 (full HMAC output), §3.4 (`r || s`) and RFC
/// 8037 §3.1; any non-empty size for RSA, whose size is the modulus's.
fn signature_fits(algorithm: Algorithm, length: usize) -> bool {
    match algorithm {
        Algorithm::Hs256 => length == 32,
        Algorithm::Hs384 => length == 48,
        Algorithm::Hs512 | Algorithm::Es256 | Algorithm::EdDsa => length == 64,
        Algorithm::Es384 => length == 96,
        Algorithm::Rs256
        | Algorithm::Rs384
        | Algorithm::Rs512
        | Algorithm::Ps256
        | Algorithm::Ps384
        | Algorithm::Ps512 => length > 0,
    }
}

// The tests sign with both built-in signers.
#[cfg(test)]
#[cfg(feature = "es256")]
mod tests {
    use super::*;
    use crate::jose::Es256Signer;

    use base64::engine::general_purpose::STANDARD;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};

    /// RFC 8037 Appendix A.1: the Ed25519 private key `d` and public key `x`.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    /// RFC 8037 Appendix A.4: the payload and the published compact JWS.
    const RFC8037_A4_PAYLOAD: &[u8] = b"Example of Ed25519 signing";
    const RFC8037_A4_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
        hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    /// RFC 6979 Appendix A.2.5: the P-256 key pair.
    const RFC6979_X: &str = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";
    const RFC6979_UX: &str = "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6";
    const RFC6979_UY: &str = "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299";

    /// RFC 7515 Appendix A.3.1: the ES256 key as a JWK, and the same key as
    /// PKCS#8 (with its public key in the SEC1 structure).
    const RFC7515_A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const RFC7515_A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const RFC7515_A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
    const RFC7515_A3_PKCS8: &str = "\
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjpsQnnGQmL+YBIff\
        H1136cspYG6+0iY7X1fCE9+E9LKhRANCAAR/zc4ncPbEXUGDy+5v20t7WAczNXvp\
        7xO6z248e9FURcfxRM0bvZt+hyzf7bnuufSzaV1uqQskrYpGIyiFiOWt";

    /// RFC 8410 §10.3: an Ed25519 private key as PKCS#8 v1 (no public key),
    /// whose public key is the one in the SPKI of RFC 8410 §10.1.
    const RFC8410_PKCS8: &str = "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC";
    const RFC8410_PUBLIC: &str = "19BF44096984CDFE8541BAC167DC3B96C85086AA30B6B6CB0C5C38AD703166E1";

    #[test]
    fn es256_pem_der_and_jwk_load_the_same_key() {
        let pem =
            Es256Signer::from_pkcs8_pem(include_str!("../../../../tests/keys/es256.pem")).unwrap();
        let der =
            Es256Signer::from_pkcs8_der(include_bytes!("../../../../tests/keys/es256.pk8.der"))
                .unwrap();
        let jwk =
            Es256Signer::from_jwk(include_str!("../../../../tests/keys/es256.jwk.json")).unwrap();
        assert_eq!(jwk.key_id(), Some("client-es256"));
        let mut public = jwk.public_jwk().unwrap();
        public.as_object_mut().unwrap().remove("kid");
        assert_eq!(pem.public_jwk().unwrap(), public);
        assert_eq!(der.public_jwk().unwrap(), public);
        // Deterministic signatures: the same key signs the same input alike.
        assert_eq!(pem.sign(b"a.b").unwrap(), jwk.sign(b"a.b").unwrap());
    }

    #[test]
    fn ed25519_pem_and_jwk_load_the_same_key() {
        let pem = Ed25519Signer::from_pkcs8_pem(include_str!("../../../../tests/keys/ed25519.pem"))
            .unwrap();
        let jwk = Ed25519Signer::from_jwk(include_str!("../../../../tests/keys/ed25519.jwk.json"))
            .unwrap();
        assert_eq!(jwk.key_id(), Some("client-ed25519"));
        assert_eq!(pem.public_key(), jwk.public_key());
    }

    #[test]
    fn jwk_loading_checks_type_curve_and_public_part() {
        let rfc =
            |x: &str| format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{RFC8037_D}","x":"{x}"}}"#);
        assert!(Ed25519Signer::from_jwk(&rfc(RFC8037_X)).is_ok());
        let other_x = URL_SAFE_NO_PAD.encode([0u8; 32]);
        assert_eq!(
            Ed25519Signer::from_jwk(&rfc(&other_x)).unwrap_err(),
            SignError::InvalidKey {
                reason: "jwk x is not the public key of d"
            }
        );
        let ec = format!(
            r#"{{"kty":"EC","crv":"P-256","d":"{RFC7515_A3_D}","x":"{RFC7515_A3_X}","y":"{RFC7515_A3_X}"}}"#
        );
        assert!(matches!(
            Es256Signer::from_jwk(&ec),
            Err(SignError::InvalidKey { .. })
        ));
        let ec = format!(
            r#"{{"kty":"EC","crv":"P-256","d":"{RFC7515_A3_D}","x":"{RFC7515_A3_X}","y":"{RFC7515_A3_Y}"}}"#
        );
        assert!(Es256Signer::from_jwk(&ec).is_ok());
        for refused in [
            "not json",
            "[]",
            r#"{"kty":"EC","crv":"P-384","d":"AA"}"#,
            r#"{"kty":"RSA","d":"AA"}"#,
            r#"{"kty":"EC","crv":"P-256","x":"AA"}"#,
            r#"{"kty":"EC","crv":"P-256","d":"!!"}"#,
        ] {
            assert!(
                matches!(
                    Es256Signer::from_jwk(refused),
                    Err(SignError::InvalidKey { .. })
                ),
                "{refused}"
            );
        }
        // The public half of the RSA file is not an Ed25519 key.
        assert!(
            Ed25519Signer::from_jwk(include_str!("../../../../tests/keys/rs256.jwk.json")).is_err()
        );
    }

    #[test]
    fn pem_documents_other_than_unencrypted_pkcs8_are_refused() {
        for refused in [
            "",
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nAA*A\n-----END PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n",
        ] {
            assert!(pkcs8_pem_to_der(refused).is_err(), "{refused}");
        }
        // An explanatory line before the boundary (OpenSSL writes those) is fine.
        let pem = format!(
            "Key for tests\n-----BEGIN PRIVATE KEY-----\n{RFC8410_PKCS8}\n-----END PRIVATE KEY-----\n"
        );
        assert_eq!(
            Ed25519Signer::from_pkcs8_pem(&pem).unwrap().public_key(),
            hex(RFC8410_PUBLIC)
        );
    }

    fn hex(text: &str) -> Vec<u8> {
        assert_eq!(text.len() % 2, 0);
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect()
    }

    fn b64url(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    fn rfc8037_signer() -> Ed25519Signer {
        Ed25519Signer::from_seed(&b64url(RFC8037_D)).unwrap()
    }

    fn rfc6979_signer() -> Es256Signer {
        Es256Signer::from_secret_scalar(&hex(RFC6979_X)).unwrap()
    }

    /// The uncompressed SEC1 point `04 || x || y` ring verifies with.
    fn sec1_point(jwk: &Value) -> Vec<u8> {
        let mut point = vec![0x04];
        point.extend(b64url(jwk["x"].as_str().unwrap()));
        point.extend(b64url(jwk["y"].as_str().unwrap()));
        point
    }

    /// Splits a compact JWS and decodes its header.
    fn parts(jws: &str) -> (Value, &str, Vec<u8>, &str) {
        let (input, signature) = jws.rsplit_once('.').unwrap();
        let (header, _) = input.split_once('.').unwrap();
        let header = serde_json::from_slice(&b64url(header)).unwrap();
        (header, input, b64url(signature), signature)
    }

    fn header(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rfc8037_a4_ed25519_compact_jws_matches_byte_for_byte() {
        let signer = rfc8037_signer();
        let jws = sign_compact(&signer, &Map::new(), RFC8037_A4_PAYLOAD).unwrap();
        assert_eq!(jws, RFC8037_A4_JWS);
    }

    #[test]
    fn rfc8037_a2_public_jwk_has_no_private_member() {
        let jwk = rfc8037_signer().public_jwk().unwrap();
        assert_eq!(
            jwk,
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X})
        );
        let with_kid = rfc8037_signer().with_key_id("k1").public_jwk().unwrap();
        assert_eq!(with_kid["kid"], "k1");
        assert!(with_kid.get("d").is_none());
    }

    #[test]
    fn ed25519_signature_verifies_with_ring() {
        let signer = rfc8037_signer();
        let jws = sign_compact(&signer, &header(r#"{"typ":"dpop+jwt"}"#), b"{}").unwrap();
        let (_, input, signature, _) = parts(&jws);
        UnparsedPublicKey::new(&ED25519, signer.public_key())
            .verify(input.as_bytes(), &signature)
            .unwrap();
    }

    #[test]
    fn ed25519_from_pkcs8_v1_rfc8410() {
        let der = STANDARD.decode(RFC8410_PKCS8).unwrap();
        let signer = Ed25519Signer::from_pkcs8_der(&der).unwrap();
        assert_eq!(signer.public_key(), hex(RFC8410_PUBLIC));
    }

    #[test]
    fn ed25519_refuses_bad_keys() {
        assert_eq!(
            Ed25519Signer::from_seed(&[7; 31]).unwrap_err(),
            SignError::InvalidKey {
                reason: "ed25519 seed is not 32 bytes"
            }
        );
        assert!(Ed25519Signer::from_seed(&[7; 33]).is_err());
        assert!(Ed25519Signer::from_pkcs8_der(b"not der").is_err());
        // A P-256 PKCS#8 document is not an Ed25519 key.
        let p256 = STANDARD.decode(RFC7515_A3_PKCS8).unwrap();
        assert!(Ed25519Signer::from_pkcs8_der(&p256).is_err());
    }

    #[test]
    fn rfc6979_a25_p256_sha256_sample_and_test() {
        let signer = rfc6979_signer();
        // RFC 6979 A.2.5, "With SHA-256, message = \"sample\"": r || s.
        let sample = [
            hex("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"),
            hex("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"),
        ]
        .concat();
        assert_eq!(signer.sign(b"sample").unwrap(), sample);
        // "With SHA-256, message = \"test\"".
        let test = [
            hex("F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367"),
            hex("019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"),
        ]
        .concat();
        assert_eq!(signer.sign(b"test").unwrap(), test);
    }

    #[test]
    fn rfc6979_a25_public_jwk() {
        let jwk = rfc6979_signer().public_jwk().unwrap();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(b64url(jwk["x"].as_str().unwrap()), hex(RFC6979_UX));
        assert_eq!(b64url(jwk["y"].as_str().unwrap()), hex(RFC6979_UY));
        assert_eq!(jwk.as_object().unwrap().len(), 4, "no d, no kid: {jwk}");
    }

    #[test]
    fn es256_is_deterministic() {
        let signer = rfc6979_signer();
        let first = sign_compact(&signer, &Map::new(), br#"{"iss":"joe"}"#).unwrap();
        let second = sign_compact(&signer, &Map::new(), br#"{"iss":"joe"}"#).unwrap();
        assert_eq!(first, second);
        let other = sign_compact(&signer, &Map::new(), br#"{"iss":"ann"}"#).unwrap();
        assert_ne!(parts(&first).3, parts(&other).3);
    }

    #[test]
    fn es256_signature_is_fixed_width_and_verifies_with_ring() {
        let signer = rfc6979_signer();
        let jws = sign_compact(&signer, &Map::new(), br#"{"iss":"joe"}"#).unwrap();
        let (header, input, signature, _) = parts(&jws);
        assert_eq!(header, serde_json::json!({"alg": "ES256"}));
        assert_eq!(signature.len(), 64, "r || s, not DER");
        let point = sec1_point(&signer.public_jwk().unwrap());
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(input.as_bytes(), &signature)
            .unwrap();
        // A different signing input does not verify.
        assert!(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
                .verify(b"eyJhbGciOiJFUzI1NiJ9.e30", &signature)
                .is_err()
        );
    }

    #[test]
    fn es256_rfc7515_a3_key_from_pkcs8_and_from_scalar_agree() {
        let from_pkcs8 =
            Es256Signer::from_pkcs8_der(&STANDARD.decode(RFC7515_A3_PKCS8).unwrap()).unwrap();
        let from_scalar = Es256Signer::from_secret_scalar(&b64url(RFC7515_A3_D)).unwrap();
        let jwk = from_pkcs8.public_jwk().unwrap();
        assert_eq!(
            jwk,
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_Y})
        );
        assert_eq!(from_scalar.public_jwk().unwrap(), jwk);
        assert_eq!(
            from_pkcs8.sign(b"same input").unwrap(),
            from_scalar.sign(b"same input").unwrap()
        );
    }

    #[test]
    fn es256_refuses_bad_keys() {
        assert_eq!(
            Es256Signer::from_secret_scalar(&[1; 31]).unwrap_err(),
            SignError::InvalidKey {
                reason: "p-256 secret scalar is not 32 bytes"
            }
        );
        assert!(Es256Signer::from_secret_scalar(&[1; 33]).is_err());
        assert!(Es256Signer::from_secret_scalar(&[0; 32]).is_err());
        // n, the group order, is not a valid scalar; n - 1 is.
        let mut order = hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
        assert!(Es256Signer::from_secret_scalar(&order).is_err());
        order[31] -= 1;
        assert!(Es256Signer::from_secret_scalar(&order).is_ok());
        assert!(Es256Signer::from_pkcs8_der(b"not der").is_err());
        // An Ed25519 PKCS#8 document is not a P-256 key.
        let ed25519 = STANDARD.decode(RFC8410_PKCS8).unwrap();
        assert!(Es256Signer::from_pkcs8_der(&ed25519).is_err());
        // A PKCS#8 document whose embedded public key is not the private
        // key's: flip one bit of the point's y coordinate (the last byte).
        let mut der = STANDARD.decode(RFC7515_A3_PKCS8).unwrap();
        *der.last_mut().unwrap() ^= 1;
        assert!(Es256Signer::from_pkcs8_der(&der).is_err());
    }

    #[test]
    fn kid_comes_from_the_signer_unless_the_header_sets_one() {
        let signer = rfc6979_signer().with_key_id("signer-kid");
        let jws = sign_compact(&signer, &header(r#"{"typ":"JWT"}"#), b"{}").unwrap();
        assert_eq!(
            parts(&jws).0,
            serde_json::json!({"alg": "ES256", "kid": "signer-kid", "typ": "JWT"})
        );

        let jws = sign_compact(&signer, &header(r#"{"kid":"caller-kid"}"#), b"{}").unwrap();
        assert_eq!(
            parts(&jws).0,
            serde_json::json!({"alg": "ES256", "kid": "caller-kid"})
        );

        let jws = sign_compact(&rfc8037_signer(), &Map::new(), b"{}").unwrap();
        assert_eq!(parts(&jws).0, serde_json::json!({"alg": "EdDSA"}));
    }

    #[test]
    fn dpop_style_header_with_public_jwk() {
        let signer = rfc8037_signer();
        let mut dpop = header(r#"{"typ":"dpop+jwt"}"#);
        dpop.insert("jwk".to_owned(), signer.public_jwk().unwrap());
        let jws = sign_compact(&signer, &dpop, br#"{"htm":"POST"}"#).unwrap();
        let (header, ..) = parts(&jws);
        assert_eq!(header["jwk"]["x"], RFC8037_X);
        assert_eq!(header["alg"], "EdDSA");
    }

    #[test]
    fn header_alg_must_match_the_signer() {
        let signer = rfc6979_signer();
        assert_eq!(
            sign_compact(&signer, &header(r#"{"alg":"RS256"}"#), b"{}").unwrap_err(),
            SignError::AlgorithmMismatch {
                signer: Algorithm::Es256,
                header: r#""RS256""#.to_owned()
            }
        );
        for refused in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"es256"}"#,
            r#"{"alg":null}"#,
            r#"{"alg":["ES256"]}"#,
        ] {
            assert!(
                matches!(
                    sign_compact(&signer, &header(refused), b"{}"),
                    Err(SignError::AlgorithmMismatch { .. })
                ),
                "{refused}"
            );
        }
        // The same algorithm is fine.
        let jws = sign_compact(&signer, &header(r#"{"alg":"ES256"}"#), b"{}").unwrap();
        assert_eq!(parts(&jws).0, serde_json::json!({"alg": "ES256"}));
        // A long value is quoted short.
        let long = format!(r#"{{"alg":"{}"}}"#, "A".repeat(500));
        match sign_compact(&signer, &header(&long), b"{}") {
            Err(SignError::AlgorithmMismatch { header, .. }) => {
                assert_eq!(header.chars().count(), QUOTE_MAX)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_kid_and_b64_are_checked() {
        let signer = rfc8037_signer();
        assert_eq!(
            sign_compact(&signer, &header(r#"{"kid":7}"#), b"{}").unwrap_err(),
            SignError::InvalidHeader {
                reason: "kid is not a string"
            }
        );
        assert!(sign_compact(&signer, &header(r#"{"b64":false}"#), b"{}").is_err());
        assert!(sign_compact(&signer, &header(r#"{"b64":true}"#), b"{}").is_ok());
    }

    /// A user's signer that returns what it is told to.
    struct Canned(Algorithm, Vec<u8>);

    impl JwsSigner for Canned {
        fn algorithm(&self) -> Algorithm {
            self.0
        }
        fn key_id(&self) -> Option<&str> {
            None
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
            Ok(self.1.clone())
        }
    }

    #[test]
    fn a_signature_of_the_wrong_size_is_refused() {
        // A DER ECDSA signature (70-72 bytes) where r || s belongs.
        let der = Canned(Algorithm::Es256, vec![0x30; 71]);
        assert_eq!(
            sign_compact(&der, &Map::new(), b"{}").unwrap_err(),
            SignError::SignatureLength {
                algorithm: Algorithm::Es256,
                length: 71
            }
        );
        assert!(sign_compact(&Canned(Algorithm::Rs256, vec![]), &Map::new(), b"{}").is_err());
        assert!(sign_compact(&Canned(Algorithm::Hs256, vec![1; 16]), &Map::new(), b"{}").is_err());
        assert!(sign_compact(&Canned(Algorithm::Es384, vec![1; 96]), &Map::new(), b"{}").is_ok());
        assert!(sign_compact(&Canned(Algorithm::Ps256, vec![1; 256]), &Map::new(), b"{}").is_ok());
        assert!(sign_compact(&Canned(Algorithm::Hs512, vec![1; 64]), &Map::new(), b"{}").is_ok());
    }

    #[test]
    fn a_failing_signer_error_passes_through() {
        struct Offline;
        impl JwsSigner for Offline {
            fn algorithm(&self) -> Algorithm {
                Algorithm::Ps256
            }
            fn key_id(&self) -> Option<&str> {
                Some("hsm-1")
            }
            fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
                Err(SignError::Failed {
                    reason: "hsm unreachable".to_owned(),
                })
            }
        }
        let error = sign_compact(&Offline, &Map::new(), b"{}").unwrap_err();
        assert_eq!(error.to_string(), "signing failed: hsm unreachable");
    }

    #[test]
    fn debug_shows_no_key_material() {
        let seed = b64url(RFC8037_D);
        let ed = Ed25519Signer::from_seed(&seed).unwrap().with_key_id("ed");
        let scalar = hex(RFC6979_X);
        let es = Es256Signer::from_secret_scalar(&scalar).unwrap();
        let ed_debug = format!("{ed:?} {ed:#?}");
        let es_debug = format!("{es:?} {es:#?}");
        assert_eq!(
            format!("{ed:?}"),
            r#"Ed25519Signer { kid: Some("ed"), .. }"#
        );
        assert_eq!(format!("{es:?}"), "Es256Signer { kid: None, .. }");
        for (debug, secret) in [(&ed_debug, &seed), (&es_debug, &scalar)] {
            let decimal = format!("{:?}", &secret[..4]);
            let decimal = decimal.trim_matches(|c| c == '[' || c == ']');
            let lower_hex: String = secret[..4].iter().map(|b| format!("{b:02x}")).collect();
            for needle in [
                decimal.to_owned(),
                lower_hex.clone(),
                lower_hex.to_uppercase(),
                URL_SAFE_NO_PAD.encode(secret)[..8].to_owned(),
            ] {
                assert!(!debug.contains(&needle), "{debug} contains {needle}");
            }
        }
    }

    #[test]
    fn the_p256_secret_scalar_is_zeroized_on_drop() {
        fn assert_zeroize_on_drop<T: p256::elliptic_curve::zeroize::ZeroizeOnDrop>() {}
        assert_zeroize_on_drop::<p256::ecdsa::SigningKey>();
    }

    #[test]
    fn signers_are_object_safe_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<Ed25519Signer>();
        assert_send_sync::<Es256Signer>();
        assert_send_sync::<dyn JwsSigner>();

        let signers: Vec<Arc<dyn JwsSigner>> =
            vec![Arc::new(rfc8037_signer()), Arc::new(rfc6979_signer())];
        let algorithms: Vec<_> = signers.iter().map(|s| s.algorithm()).collect();
        assert_eq!(algorithms, [Algorithm::EdDsa, Algorithm::Es256]);
        // Through the blanket impls: `Arc<dyn _>`, `Box<dyn _>` and `&_`.
        let arc = Arc::clone(&signers[0]);
        assert_eq!(
            sign_compact(&arc, &Map::new(), RFC8037_A4_PAYLOAD).unwrap(),
            RFC8037_A4_JWS
        );
        let boxed: Box<dyn JwsSigner> = Box::new(rfc8037_signer());
        assert_eq!(
            sign_compact(&&boxed, &Map::new(), RFC8037_A4_PAYLOAD).unwrap(),
            RFC8037_A4_JWS
        );
    }

    #[test]
    fn errors_display_lower_case_without_a_period() {
        let errors = [
            SignError::InvalidKey {
                reason: "ed25519 seed is not 32 bytes",
            },
            SignError::AlgorithmMismatch {
                signer: Algorithm::Es256,
                header: r#""RS256""#.to_owned(),
            },
            SignError::InvalidHeader {
                reason: "kid is not a string",
            },
            SignError::SignatureLength {
                algorithm: Algorithm::Es256,
                length: 71,
            },
            SignError::Failed {
                reason: "hsm unreachable".to_owned(),
            },
        ];
        for error in errors {
            let text = error.to_string();
            assert!(text.starts_with(char::is_lowercase), "{text}");
            assert!(!text.ends_with('.'), "{text}");
            let _: &dyn std::error::Error = &error;
        }
        assert_eq!(
            SignError::AlgorithmMismatch {
                signer: Algorithm::Es256,
                header: r#""RS256""#.to_owned(),
            }
            .to_string(),
            r#"header alg "RS256" conflicts with the signer's ES256"#
        );
    }
}
