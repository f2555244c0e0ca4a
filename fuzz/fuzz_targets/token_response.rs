//! `parse_token_response` on arbitrary responses: any status, a few
//! content types, any body, received at any instant (including the last
//! seconds before `u64::MAX`, where `expires_at` must saturate).
//!
//! Input format: see `grantflow_fuzz` (`fuzz/src/lib.rs`). Beyond "no
//! panic", it checks that a success has a non-empty access token, comes from a
//! 2xx and never expires before it was received, and that an error is one
//! of the two response errors, short to print, and quotes at most
//! `MalformedResponse::MAX_EXCERPT` bytes of a body that mentions no
//! credential.
//!
//! Storage oracle: every `TokenSet` the parser returns serializes with serde
//! and reads back to the same serialized form — in particular granted
//! scopes the RFC 6749 §3.3 grammar refuses (non-ASCII, quotes), which a
//! stored session must not lose.

#![no_main]

use grantflow::TokenSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = grantflow_fuzz::response_input(data);
    let result = grantflow::parse_token_response(&input.response, input.now);
    grantflow_fuzz::check_token_result(&input.response, input.now, &result);
    if let Ok(tokens) = &result {
        let stored = serde_json::to_value(tokens).expect("a token set serializes");
        let back: TokenSet =
            serde_json::from_value(stored.clone()).expect("a stored token set reads back");
        assert_eq!(
            serde_json::to_value(&back).expect("a token set serializes"),
            stored,
            "a token set changed through storage"
        );
        assert_eq!(back.scopes, tokens.scopes);
    }
});
