//! JSON Web Keys (RFC 7517) and key sets, as a client verifying signatures needs them.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use crate::alg::{Algorithm, KeyType};
use crate::error::JwsError;
use crate::wire::{JsonObjectError, json_object};

pub(crate) const QUOTE_MAX: usize = 64;

/// Most candidate keys [`CompactJws::verify_with_keys`] tries.
pub(crate) const MAX_CANDIDATES: usize = 8;

/// JWK members holding private or symmetric key material (RFC 7518 §6.2.2,
/// §6.3.2, §6.4.1; RFC 8037 §2). A key with any of them is skipped whole.
pub(crate) const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// One usable public key from a JWK set (RFC 7517 §4). Private parameters,
/// if a server published them, are never kept.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key_use: Option<String>,
    /// `key_ops` is absent or contains `verify` (RFC 7517 §4.3).
    may_verify: bool,
    material: Material,
}

/// The public key itself, in the form `ring` verifies with.
#[derive(Clone)]
enum Material {
    /// Big-endian modulus and exponent, without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `0x04 || x || y` (SEC 1 §2.3.3).
    EcP256(Vec<u8>),
    /// The uncompressed point `0x04 || x || y`.
    EcP384(Vec<u8>),
    /// The 32-octet public key (RFC 8032 §5.1.5).
    Ed25519(Vec<u8>),
}

impl Jwk {
    /// `kid`, if present.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `alg`, if present, as published.
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// `use`, if present.
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// The key family and curve.
    pub fn key_type(&self) -> KeyType {
        match self.material {
            Material::Rsa { .. } => KeyType::Rsa,
            Material::EcP256(_) => KeyType::EcP256,
            Material::EcP384(_) => KeyType::EcP384,
            Material::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// Whether this key may verify `alg`: the key type fits, `use` is absent
    /// or `sig`, `key_ops` is absent or contains `verify`, and `alg` is
    /// absent or equal to `alg`.
    pub fn supports(&self, alg: Algorithm) -> bool {
        alg.key_type() == Some(self.key_type())
            && self
                .key_use
                .as_deref()
                .is_none_or(|key_use| key_use == "sig")
            && self.may_verify
            && self.alg.as_deref().is_none_or(|name| name == alg.name())
    }

    /// Whether `signature` is `alg`'s signature of `message` under this key.
    pub(crate) fn verifies(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match (&self.material, alg) {
            (Material::Rsa { n, e }, _) => alg.rsa().is_some_and(|params| {
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .is_ok()
            }),
            (Material::EcP256(point), Algorithm::Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (Material::EcP384(point), Algorithm::Es384) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (Material::Ed25519(key), Algorithm::EdDsa) => {
                UnparsedPublicKey::new(&signature::ED25519, key)
                    .verify(message, signature)
                    .is_ok()
            }
            _ => false,
        }
    }

    /// Reads one entry of a JWK set; `None` if it is not a usable public
    /// signature key.
    fn from_entry(entry: &Value) -> Option<Jwk> {
        let member = entry.as_object()?;
        // Never keep private or symmetric material, even next to a public key.
        if PRIVATE_MEMBERS
            .iter()
            .any(|name| member.contains_key(*name))
        {
            return None;
        }
        let kid = optional_string(member, "kid")?;
        let alg = optional_string(member, "alg")?;
        let key_use = optional_string(member, "use")?;
        let may_verify = match member.get("key_ops") {
            None => true,
            Some(Value::Array(ops)) => {
                let mut verify = false;
                for op in ops {
                    verify |= op.as_str()? == "verify";
                }
                verify
            }
            Some(_) => return None,
        };
        let material = match member.get("kty")?.as_str()? {
            "RSA" => rsa_material(member)?,
            "EC" => ec_material(member)?,
            "OKP" => okp_material(member)?,
            // "oct" (a shared secret) and anything unknown.
            _ => return None,
        };
        Some(Jwk {
            kid,
            alg,
            key_use,
            may_verify,
            material,
        })
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.key_type())
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("use", &self.key_use)
            .finish_non_exhaustive()
    }
}

/// `Some(None)` if `name` is absent, `Some(Some(..))` if it is a string,
/// `None` if it is anything else (the key is then skipped).
fn optional_string(member: &Map<String, Value>, name: &str) -> Option<Option<String>> {
    match member.get(name) {
        None => Some(None),
        Some(Value::String(value)) => Some(Some(value.clone())),
        Some(_) => None,
    }
}

/// A base64url (unpadded, strict) member, decoded.
fn octets(member: &Map<String, Value>, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(member.get(name)?.as_str()?).ok()
}

/// Drops leading zero octets (RFC 7518 §6.3.1.1 forbids them, some
/// implementations still send them; `ring` wants them gone).
fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|&&byte| byte == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// RSA public key parameters (RFC 7518 §6.3.1), checked as `ring` will
/// check them so an unusable key is skipped up front: a modulus of 2048 to
/// 8192 bits that is odd, and an odd exponent from 3 up to four octets.
fn rsa_material(member: &Map<String, Value>) -> Option<Material> {
    let n = strip_leading_zeros(octets(member, "n")?);
    let e = strip_leading_zeros(octets(member, "e")?);
    let first = *n.first()?;
    let bits = (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize);
    if !(2048..=8192).contains(&bits) || n.last().is_none_or(|last| last & 1 == 0) {
        return None;
    }
    if e.is_empty() || e.len() > 4 {
        return None;
    }
    let exponent = e
        .iter()
        .fold(0u32, |acc, &byte| (acc << 8) | u32::from(byte));
    if exponent < 3 || exponent & 1 == 0 {
        return None;
    }
    Some(Material::Rsa { n, e })
}

/// EC public key parameters (RFC 7518 §6.2.1) on P-256 or P-384, with `x`
/// and `y` of exactly the field size. Whether the point is on the curve is
/// `ring`'s check, at verification.
fn ec_material(member: &Map<String, Value>) -> Option<Material> {
    let size = match member.get("crv")?.as_str()? {
        "P-256" => 32,
        "P-384" => 48,
        _ => return None,
    };
    let x = octets(member, "x")?;
    let y = octets(member, "y")?;
    if x.len() != size || y.len() != size {
        return None;
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Some(if size == 32 {
        Material::EcP256(point)
    } else {
        Material::EcP384(point)
    })
}

/// An Ed25519 public key (RFC 8037 §2): `crv: Ed25519`, `x` of 32 octets.
fn okp_material(member: &Map<String, Value>) -> Option<Material> {
    if member.get("crv")?.as_str()? != "Ed25519" {
        return None;
    }
    let x = octets(member, "x")?;
    (x.len() == 32).then_some(Material::Ed25519(x))
}

/// A JWK set (RFC 7517 §5): the keys a provider publishes at its `jwks_uri`.
#[derive(Clone, Debug, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
    skipped: usize,
}

impl JwkSet {
    /// At most this many entries of `keys` are looked at; the rest are skipped.
    pub const MAX_KEYS: usize = 100;

    /// Parses a JWK set document. Only a document that is not a JSON object
    /// (duplicate member names included) with a `keys` array is an error;
    /// entries with an unknown `kty`, bad or missing parameters, private or
    /// symmetric (`oct`) keys, RSA keys outside 2048–8192 bits or with a bad
    /// exponent, EC keys on another curve or with coordinates of the wrong
    /// size, OKP keys other than Ed25519, or a `kid`, `alg`, `use` or
    /// `key_ops` of the wrong type are skipped and counted (RFC 7517 §5:
    /// implementations "SHOULD ignore JWKs within a JWK Set that use `kty`
    /// (key type) values that are not understood by them, that are missing
    /// required members, or for which values are out of the supported
    /// ranges").
    /// Keys sharing a `kid` are all kept.
    pub fn from_json(body: &[u8]) -> Result<JwkSet, JwsError> {
        let mut document = json_object(body).map_err(|error| JwsError::Malformed {
            reason: match error {
                JsonObjectError::NotJson => "jwk set is not json",
                JsonObjectError::NotAnObject => "jwk set is not a json object",
                JsonObjectError::Duplicate(_) => "jwk set has a member name twice",
            },
        })?;
        let entries = match document.remove("keys") {
            Some(Value::Array(entries)) => entries,
            Some(_) => {
                return Err(JwsError::Malformed {
                    reason: "jwk set keys is not an array",
                });
            }
            None => {
                return Err(JwsError::Malformed {
                    reason: "jwk set has no keys",
                });
            }
        };
        let mut set = JwkSet {
            keys: Vec::new(),
            skipped: entries.len().saturating_sub(Self::MAX_KEYS),
        };
        for entry in entries.iter().take(Self::MAX_KEYS) {
            match Jwk::from_entry(entry) {
                Some(key) => set.keys.push(key),
                None => set.skipped += 1,
            }
        }
        Ok(set)
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// How many entries were skipped.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Whether there is no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that may verify a token signed with `alg`: with a `kid`,
    /// those with exactly that `kid`; without one, every key (OIDC Core
    /// §10.1). Either way only keys that [`support`](Jwk::supports) `alg`.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a Jwk> + 'a {
        self.keys.iter().filter(move |key| {
            key.supports(alg) && kid.is_none_or(|kid| key.kid.as_deref() == Some(kid))
        })
    }
}
