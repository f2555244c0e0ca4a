//! Sealed cookies: `Sealer::open` on any input, and `Sealer::seal` then
//! `open` on any value.
//!
//! The sealer under test has purpose `session`, a lifetime of 3600 s, the
//! current key `[1; 32]` and the previous key `[2; 32]`. The seeds hold
//! values sealed for it (and some sealed under `[3; 32]`, for `csrf`, or of
//! another type), made from the documented format with Python's
//! `cryptography`, independently of the core.
//!
//! Input:
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | bit 0 clear: **open** mode; set: **round-trip** mode |
//! | 1 | `now`, by `b % 6`: 1 700 000 000, + 3599, + 3600, 0, `u64::MAX`, `u64le(next eight bytes)` |
//!
//! Open mode: the rest of the input, read as UTF-8 (lossily), is opened as a
//! `Cookie { user: String, n: u64 }`.
//!
//! Round-trip mode, three more bytes: the counting generator's seed; the
//! lifetime (`b % 4`: 0, 1, 3600, `u64::MAX`) with bit 2 choosing the value
//! type (a string, the rest read lossily, or the rest's bytes as an array);
//! the position of one byte to alter. Then the rest.
//!
//! Oracles, beyond "no panic":
//!
//! - **open** agrees with a model of the documented format written here
//!   with `ring` and `base64` alone (never through the core): `Malformed`
//!   for an input over 4096 bytes, without the `gf1.` prefix, not strict
//!   base64url or under 44 bytes; `WrongKey` for a key id of neither key;
//!   `WrongPurpose`; `Tampered` exactly when the model's ChaCha20-Poly1305
//!   open fails; then `Expired { expires_at, now }` exactly when `now` is at
//!   or past the sealed expiry; then the model's JSON, as a `Cookie`, or
//!   `Malformed`. So a success is exactly a value that was sealed, and,
//!   since nobody but the seeds holds the keys, it is one of the seeds'
//!   cookies ([`SEALED`]);
//! - **round trip**: a refusal is exactly `Expired` (lifetime zero or
//!   saturated at `now`) or `TooLarge` with the sealed length the format
//!   predicts (over 4096); a success has that length, is `gf1.` and strict
//!   base64url, carries the current key's id, the expiry and the
//!   generator's nonce in clear, decrypts (by the model) to the value's
//!   JSON, opens to the value until the second before its expiry and to
//!   `Expired` at it, gives `WrongPurpose` to another purpose and
//!   `WrongKey` to another key, and with any one byte altered is refused
//!   by the check of the part it hits;
//! - every error prints short and clean.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::testing::CountingRng;
use grantflow::{Error, MAX_SEALED_LEN, SealError, SealKey, Sealer, UnixTime};
use grantflow_fuzz::jose::strict_b64url;
use grantflow_fuzz::{DEFAULT_NOW, Reader, check_printable};
use libfuzzer_sys::fuzz_target;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};

const PURPOSE: &str = "session";
const LIFETIME: u64 = 3600;
const CURRENT: [u8; 32] = [1; 32];
const PREVIOUS: [u8; 32] = [2; 32];
const HEADER: usize = 28;
const TAG: usize = 16;

/// The cookies the seeds hold, sealed for `session` under one of the two
/// keys (the seeds were made with Python's `cryptography` from the
/// documented format, so they also check it against the core).
const SEALED: [(&str, u64); 2] = [("alice", 7), ("bob", u64::MAX)];

/// What open mode asks for.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Cookie {
    user: String,
    n: u64,
}

/// The documented derivations, done with ring directly.
struct ModelKey {
    id: [u8; 4],
    cipher: LessSafeKey,
}

fn model_key(bytes: [u8; 32]) -> ModelKey {
    let root = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
    let id = hmac::sign(&root, b"grantflow seal v1 key id");
    let encryption = hmac::sign(&root, b"grantflow seal v1 encryption key");
    ModelKey {
        id: id.as_ref()[..4].try_into().unwrap(),
        cipher: LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, encryption.as_ref()).unwrap()),
    }
}

fn purpose_tag(purpose: &str) -> [u8; 4] {
    let mut input = b"grantflow seal v1 purpose ".to_vec();
    input.extend_from_slice(purpose.as_bytes());
    digest::digest(&digest::SHA256, &input).as_ref()[..4]
        .try_into()
        .unwrap()
}

/// The model's plaintext of `binary` (header, ciphertext, tag), or `None`
/// when authentication fails.
fn model_open(key: &ModelKey, binary: &[u8], purpose: &str) -> Option<Vec<u8>> {
    let mut aad = b"gf1.".to_vec();
    aad.extend_from_slice(&binary[..HEADER]);
    aad.extend_from_slice(purpose.as_bytes());
    let nonce = Nonce::try_assume_unique_for_key(&binary[16..HEADER]).unwrap();
    let mut body = binary[HEADER..].to_vec();
    key.cipher
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .ok()
        .map(|plaintext| plaintext.to_vec())
}

/// The documented sealed length of a JSON of `json_len` bytes.
fn predicted_len(json_len: usize) -> usize {
    4 + (HEADER + json_len + TAG).saturating_mul(4).div_ceil(3)
}

fn sealer() -> Sealer {
    Sealer::new(SealKey::from_bytes(CURRENT), PURPOSE, LIFETIME)
        .with_previous_key(SealKey::from_bytes(PREVIOUS))
}

fn seal_error<T: std::fmt::Debug>(result: Result<T, Error>) -> SealError {
    match result {
        Err(Error::Seal(error)) => {
            check_printable(&error);
            error
        }
        other => panic!("expected a seal error, got {other:?}"),
    }
}

fn malformed(reason: &'static str) -> SealError {
    SealError::Malformed { reason }
}

fn read_now(reader: &mut Reader<'_>) -> UnixTime {
    UnixTime::from_secs(match reader.byte() % 6 {
        0 => DEFAULT_NOW,
        1 => DEFAULT_NOW + LIFETIME - 1,
        2 => DEFAULT_NOW + LIFETIME,
        3 => 0,
        4 => u64::MAX,
        _ => u64::from_le_bytes(reader.array()),
    })
}

/// What `open` must answer for `input` at `now`, by the model.
fn expected_open(input: &str, now: UnixTime) -> Result<Cookie, SealError> {
    if input.len() > MAX_SEALED_LEN {
        return Err(malformed("longer than any sealed value"));
    }
    let Some((version, encoded)) = input.split_once('.') else {
        return Err(malformed("no version prefix"));
    };
    if version != "gf1" {
        return Err(malformed("unknown version"));
    }
    let binary = strict_b64url(encoded).ok_or(malformed("not base64url"))?;
    if binary.len() < HEADER + TAG {
        return Err(malformed("too short"));
    }
    let key = [model_key(CURRENT), model_key(PREVIOUS)]
        .into_iter()
        .find(|key| binary[..4] == key.id)
        .ok_or(SealError::WrongKey)?;
    if binary[4..8] != purpose_tag(PURPOSE) {
        return Err(SealError::WrongPurpose);
    }
    let plaintext = model_open(&key, &binary, PURPOSE).ok_or(SealError::Tampered)?;
    let expires_at = UnixTime::from_secs(u64::from_be_bytes(binary[8..16].try_into().unwrap()));
    if now >= expires_at {
        return Err(SealError::Expired {
            expired_at: expires_at,
            now,
        });
    }
    serde_json::from_slice(&plaintext)
        .map_err(|_| malformed("the sealed JSON does not fit the type asked for"))
}

fn open_mode(mut reader: Reader<'_>) {
    let now = read_now(&mut reader);
    let input = String::from_utf8_lossy(reader.rest());
    let expected = expected_open(&input, now);
    match sealer().open::<Cookie>(&input, now) {
        Ok(cookie) => {
            assert_eq!(Ok(&cookie), expected.as_ref());
            // Only the seeds hold sealed cookies.
            assert!(
                SEALED.contains(&(cookie.user.as_str(), cookie.n)),
                "{cookie:?} was never sealed"
            );
        }
        result => assert_eq!(Err(seal_error(result)), expected),
    }
}

/// The value sealed in round-trip mode.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum Value {
    Text(String),
    Bytes(Vec<u8>),
}

fn round_trip_mode(mut reader: Reader<'_>) {
    let now = read_now(&mut reader);
    let seed = reader.byte();
    let shape = reader.byte();
    let lifetime = [0, 1, LIFETIME, u64::MAX][usize::from(shape % 4)];
    let flip_at = usize::from(reader.byte());
    let rest = reader.rest();
    let value = if shape & 4 == 0 {
        Value::Text(String::from_utf8_lossy(rest).into_owned())
    } else {
        Value::Bytes(rest.to_vec())
    };

    let sealer = Sealer::new(SealKey::from_bytes(CURRENT), PURPOSE, lifetime);
    let json = serde_json::to_vec(&value).unwrap();
    let len = predicted_len(json.len());
    let expires_at = now.saturating_add_secs(lifetime);
    let result = sealer.seal(&value, &mut CountingRng::new(seed), now);
    if expires_at <= now {
        assert_eq!(
            seal_error(result),
            SealError::Expired {
                expired_at: expires_at,
                now
            }
        );
        return;
    }
    if len > MAX_SEALED_LEN {
        assert_eq!(
            seal_error(result),
            SealError::TooLarge {
                len,
                max: MAX_SEALED_LEN
            }
        );
        return;
    }
    let sealed = result.unwrap();
    assert_eq!(sealed.len(), len);
    let binary = strict_b64url(sealed.strip_prefix("gf1.").unwrap()).unwrap();
    let key = model_key(CURRENT);
    assert_eq!(binary[..4], key.id);
    assert_eq!(binary[4..8], purpose_tag(PURPOSE));
    assert_eq!(binary[8..16], expires_at.as_secs().to_be_bytes());
    let nonce: Vec<u8> = (1..=12).map(|i| seed.wrapping_add(i)).collect();
    assert_eq!(binary[16..28], nonce[..]);
    assert_eq!(model_open(&key, &binary, PURPOSE), Some(json));

    assert_eq!(sealer.open::<Value>(&sealed, now).unwrap(), value);
    let last_second = expires_at.saturating_sub_secs(1);
    assert_eq!(sealer.open::<Value>(&sealed, last_second).unwrap(), value);
    assert_eq!(
        seal_error(sealer.open::<Value>(&sealed, expires_at)),
        SealError::Expired {
            expired_at: expires_at,
            now: expires_at
        }
    );
    let other_purpose = Sealer::new(SealKey::from_bytes(CURRENT), "csrf", lifetime);
    assert_eq!(
        seal_error(other_purpose.open::<Value>(&sealed, now)),
        SealError::WrongPurpose
    );
    let other_key = Sealer::new(SealKey::from_bytes(PREVIOUS), PURPOSE, lifetime);
    assert_eq!(
        seal_error(other_key.open::<Value>(&sealed, now)),
        SealError::WrongKey
    );

    let index = flip_at % binary.len();
    let mut altered = binary.clone();
    altered[index] ^= 1;
    let altered = format!("gf1.{}", URL_SAFE_NO_PAD.encode(&altered));
    let expected = match index {
        0..4 => SealError::WrongKey,
        4..8 => SealError::WrongPurpose,
        _ => SealError::Tampered,
    };
    assert_eq!(seal_error(sealer.open::<Value>(&altered, now)), expected);
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    if reader.byte() & 1 == 0 {
        open_mode(reader);
    } else {
        round_trip_mode(reader);
    }
});
