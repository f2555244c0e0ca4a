//! `JwkSet::from_json` on arbitrary bytes (RFC 7517 §5).
//!
//! Input: the JWK set document, as is.
//!
//! Oracles, beyond "no panic", all against the documentation of
//! `JwkSet::from_json`, re-read here with `serde_json`:
//!
//! - it is an error exactly when the document is not a JSON object without
//!   repeated names whose `keys` is an array;
//! - otherwise `keys().len() + skipped()` is the number of entries, at most
//!   `MAX_KEYS` are kept, and the kept keys are exactly the entries among
//!   the first `MAX_KEYS` that are usable public signature keys, in order,
//!   with their `kid`, `alg` and `use`: an object without private or
//!   symmetric members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`), with
//!   `kid`, `alg`, `use` absent or strings, `key_ops` absent or an array of
//!   strings, and RSA of 2048 to 8192 bits (odd modulus, odd exponent of 3
//!   up to four octets), EC on P-256 or P-384 with coordinates of the field
//!   size, or Ed25519 with a 32-octet `x`, all strict base64url;
//! - `supports(alg)` holds exactly when the key type fits `alg`, `use` is
//!   absent or `sig`, `key_ops` is absent or has `verify`, and `alg` is
//!   absent or the same: never for HMAC;
//! - `candidates` are the supporting keys with the `kid` asked for;
//! - `Debug` of the set quotes no key material (no `n`, `e`, `x`, `y`, `d`,
//!   … value of the input), only `kid`, `alg` and `use`.

#![no_main]

use grantflow::{Algorithm, JwkSet, JwsError, KeyType};
use grantflow_fuzz::check_printable;
use grantflow_fuzz::jose::strict_b64url;
use grantflow_fuzz::json::{Document, is_string_array};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// Members holding private or symmetric key material.
const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What a usable entry must turn into.
#[derive(Debug)]
struct Usable {
    key_type: KeyType,
    kid: Option<String>,
    alg: Option<String>,
    key_use: Option<String>,
    may_verify: bool,
}

fn optional_string(entry: &Map<String, Value>, name: &str) -> Option<Option<String>> {
    match entry.get(name) {
        None => Some(None),
        Some(Value::String(value)) => Some(Some(value.clone())),
        Some(_) => None,
    }
}

fn octets(entry: &Map<String, Value>, name: &str) -> Option<Vec<u8>> {
    strict_b64url(entry.get(name)?.as_str()?)
}

fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    &bytes[zeros..]
}

fn rsa_ok(entry: &Map<String, Value>) -> Option<()> {
    let n = octets(entry, "n")?;
    let e = octets(entry, "e")?;
    let (n, e) = (without_leading_zeros(&n), without_leading_zeros(&e));
    let bits = n.len() * 8 - n.first()?.leading_zeros() as usize;
    let odd = n.last()? & 1 == 1;
    let exponent = (1..=4)
        .contains(&e.len())
        .then(|| e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))?;
    ((2048..=8192).contains(&bits) && odd && exponent >= 3 && exponent % 2 == 1).then_some(())
}

/// The documented rule for one entry.
fn usable(entry: &Value) -> Option<Usable> {
    let entry = entry.as_object()?;
    if PRIVATE.iter().any(|name| entry.contains_key(*name)) {
        return None;
    }
    let kid = optional_string(entry, "kid")?;
    let alg = optional_string(entry, "alg")?;
    let key_use = optional_string(entry, "use")?;
    let may_verify = match entry.get("key_ops") {
        None => true,
        Some(ops) if is_string_array(ops) => ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify")),
        Some(_) => return None,
    };
    let key_type = match entry.get("kty")?.as_str()? {
        "RSA" => {
            rsa_ok(entry)?;
            KeyType::Rsa
        }
        "EC" => {
            let (key_type, size) = match entry.get("crv")?.as_str()? {
                "P-256" => (KeyType::EcP256, 32),
                "P-384" => (KeyType::EcP384, 48),
                _ => return None,
            };
            let (x, y) = (octets(entry, "x")?, octets(entry, "y")?);
            if x.len() != size || y.len() != size {
                return None;
            }
            key_type
        }
        "OKP" => {
            if entry.get("crv")?.as_str()? != "Ed25519" || octets(entry, "x")?.len() != 32 {
                return None;
            }
            KeyType::Ed25519
        }
        _ => return None,
    };
    Some(Usable {
        key_type,
        kid,
        alg,
        key_use,
        may_verify,
    })
}

/// The key type an algorithm verifies with; `None` for HMAC.
fn key_type_of(alg: Algorithm) -> Option<KeyType> {
    match alg {
        Algorithm::Rs256
        | Algorithm::Rs384
        | Algorithm::Rs512
        | Algorithm::Ps256
        | Algorithm::Ps384
        | Algorithm::Ps512 => Some(KeyType::Rsa),
        Algorithm::Es256 => Some(KeyType::EcP256),
        Algorithm::Es384 => Some(KeyType::EcP384),
        Algorithm::EdDsa => Some(KeyType::Ed25519),
        _ => None,
    }
}

/// Every string anywhere inside `value`.
fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(map) => map.values().for_each(|item| strings(item, out)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let result = JwkSet::from_json(data);
    let entries = match Document::parse(data).unique_object() {
        Some(mut map) => match map.remove("keys") {
            Some(Value::Array(entries)) => Some(entries),
            _ => None,
        },
        None => None,
    };
    let (set, entries) = match (result, entries) {
        (Err(error), None) => {
            check_printable(&error);
            assert!(
                matches!(error, JwsError::Malformed { .. }),
                "not Malformed: {error:?}"
            );
            return;
        }
        (Err(error), Some(_)) => panic!("refused an object with a keys array: {error:?}"),
        (Ok(set), None) => panic!("accepted a document without a keys array: {set:?}"),
        (Ok(set), Some(entries)) => (set, entries),
    };

    assert_eq!(set.keys().len() + set.skipped(), entries.len());
    assert!(set.keys().len() <= JwkSet::MAX_KEYS);
    assert_eq!(set.is_empty(), set.keys().is_empty());
    let expected: Vec<Usable> = entries
        .iter()
        .take(JwkSet::MAX_KEYS)
        .filter_map(usable)
        .collect();
    assert_eq!(
        set.keys().len(),
        expected.len(),
        "kept {:?}, expected {expected:?}",
        set.keys()
    );
    for (key, want) in set.keys().iter().zip(&expected) {
        assert_eq!(key.key_type(), want.key_type, "{key:?} vs {want:?}");
        assert_eq!(key.kid(), want.kid.as_deref());
        assert_eq!(key.alg(), want.alg.as_deref());
        assert_eq!(key.key_use(), want.key_use.as_deref());
        for alg in Algorithm::ALL {
            let fits = key_type_of(alg) == Some(want.key_type)
                && want.key_use.as_deref().is_none_or(|u| u == "sig")
                && want.may_verify
                && want.alg.as_deref().is_none_or(|name| name == alg.name());
            assert_eq!(key.supports(alg), fits, "{key:?} supports {alg}");
            if alg.is_symmetric() {
                assert!(!key.supports(alg), "{key:?} supports {alg}");
            }
        }
    }
    for alg in Algorithm::ALL {
        let all: Vec<_> = set.candidates(None, alg).collect();
        assert_eq!(
            all.len(),
            set.keys().iter().filter(|k| k.supports(alg)).count()
        );
        for key in set.keys() {
            let kid = key.kid();
            let by_kid: Vec<_> = set.candidates(kid, alg).collect();
            assert!(
                by_kid
                    .iter()
                    .all(|c| c.supports(alg) && (kid.is_none() || c.kid() == kid))
            );
        }
    }

    // Debug prints `kid`, `alg` and `use` only: no other base64url string of
    // the input (key material, public or private) appears in it, unless it
    // is part of one of those three. (Eight characters and more: the
    // longest word of the Debug skeleton, `Ed25519`, has seven.)
    let debug = format!("{set:?}");
    let shown: Vec<&str> = set
        .keys()
        .iter()
        .flat_map(|k| [k.kid(), k.alg(), k.key_use()])
        .flatten()
        .collect();
    for entry in entries.iter().filter_map(Value::as_object) {
        for (name, value) in entry {
            if matches!(name.as_str(), "kid" | "alg" | "use" | "kty" | "crv") {
                continue;
            }
            let mut found = Vec::new();
            strings(value, &mut found);
            for s in found {
                let b64url = s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if s.len() >= 8 && b64url && !shown.iter().any(|shown| shown.contains(s)) {
                    assert!(
                        !debug.contains(s),
                        "Debug quotes {name} material {s:?}: {debug}"
                    );
                }
            }
        }
    }
});
