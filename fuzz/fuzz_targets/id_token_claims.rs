//! `IdTokenValidator::validate` on validly signed tokens around fuzzed
//! claims (OIDC Core §3.1.3.7): the signature always verifies, so every
//! claim check is reached.
//!
//! The validator is for issuer `https://op.example.com` and client
//! `web-app`, allows only HS256 keyed with the client secret
//! (`HMAC_SECRET`), and expects the nonce `n`. The harness signs each token
//! itself with `ring::hmac`.
//!
//! Input:
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | flags: bits 0–1 leeway (`60`, `0`, `3600`, `u64::MAX`); bit 2 the header is fuzzed too; bit 3 `max_age` 600 was sent; bit 4 an access token to check `at_hash` against; bit 5 a code to check `c_hash` against; bit 6 `https://api.example.com` is a trusted audience; bit 7 `acr_values` `ACR_VALUES` was sent and the policy requires `acr` to be one of them |
//! | 1 | `now`, as the time byte of `grantflow_fuzz` (`0` → 1 700 000 000, `1` → 0, `2` → just below `u64::MAX`, `3` → the next eight bytes) |
//! | rest | with bit 2: the header JSON, a NUL, then the claims JSON; otherwise the claims JSON under `{"alg":"HS256","typ":"JWT"}` |
//!
//! Oracle: the claims are re-read from the raw JSON with `serde_json` and
//! checked against every documented rule (no repeated claim; `iss` a
//! string equal to the issuer; `sub` a non-empty string; `aud` a string or
//! a non-empty array of strings holding the client id and only trusted
//! others; `exp`, `iat` numbers in `[0, 2^64)` with `exp > now - leeway`
//! and `iat <= now + leeway`; `nbf` and `auth_time` absent, `null` or such
//! numbers, `nbf <= now + leeway`; `nonce` the string `n`; `acr`, `azp`,
//! `at_hash`, `c_hash` absent, `null` or strings, `amr` an array of
//! strings; `azp` the client id; `auth_time` recent enough under `max_age`;
//! `at_hash`/`c_hash` the left half of SHA-256 when checked; under bit 7,
//! `acr` exactly one of the space-separated `ACR_VALUES`), and on the
//! header (the rules of `CompactJws::parse`, `alg` exactly `HS256`, and
//! `typ` absent or `JWT` as a media type — any case, `application/`
//! optional — per RFC 8725 §3.11 and RFC 7515 §4.1.9).
//! `validate` must succeed exactly when all hold, and then return exactly
//! those values, every other claim in `extra`. A claim of the wrong JSON
//! type must never be reported as missing (nor a missing one as mistyped);
//! a `typ` refusal must quote the header's `typ`, which breaks the rule,
//! and comes before any claim is read.

#![no_main]

use grantflow_fuzz::id_token::{Acr, LEEWAYS, Setup, judge};
use grantflow_fuzz::{Reader, hs256_token};
use libfuzzer_sys::fuzz_target;

/// The header when the input does not carry one (flag bit 2 clear).
const DEFAULT_HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let flags = reader.byte();
    let t = reader.byte();
    let now = match t % 4 {
        0 => grantflow_fuzz::DEFAULT_NOW,
        1 => 0,
        2 => u64::MAX - u64::from(t >> 2),
        _ => u64::from_le_bytes(reader.array()),
    };
    let setup = Setup {
        now,
        leeway: LEEWAYS[usize::from(flags & 3)],
        max_age: flags & 8 != 0,
        access_token: flags & 16 != 0,
        code: flags & 32 != 0,
        trusted: flags & 64 != 0,
        acr: if flags & 128 != 0 {
            Acr::Required
        } else {
            Acr::Off
        },
    };
    let rest = reader.rest();
    let (header, claims) = if flags & 4 != 0 {
        match rest.iter().position(|&b| b == 0) {
            Some(nul) => (&rest[..nul], &rest[nul + 1..]),
            None => (rest, &b""[..]),
        }
    } else {
        (DEFAULT_HEADER, rest)
    };

    let token = hs256_token(header, claims);
    // The rules are stated once, in `grantflow_fuzz::id_token`, shared with
    // `id_token_structured`.
    judge(header, claims, token, true, &setup);
});
