//! Shared input decoding and invariants for grantflow's fuzz targets.
//!
//! # The response input format
//!
//! A fuzzed token endpoint response is encoded as a small header followed by
//! the body, so that hand-written seeds stay readable:
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | status: below `0xC0`, [`STATUSES`]`[b % 8]`; from `0xC0`, raw `100 + u16le(next two bytes) % 500` |
//! | next | `Content-Type`: [`CONTENT_TYPES`]`[b % 6]` (`None`: no header) |
//! | next | time of receipt, by `b % 4`: `0` → 1 700 000 000, `1` → 0, `2` → `u64::MAX - (b >> 2)`, `3` → `u64le(next eight bytes)` |
//! | rest | the body, as is |
//!
//! Missing header bytes read as zero, so every input decodes.

use grantflow::{Error, HttpResponse, MalformedResponse, TokenSet, UnixTime};

pub mod callback;
pub mod driver;
pub mod endpoints;
pub mod id_token;
pub mod jose;
pub mod json;
pub mod structured;

/// Statuses worth most of the fuzzer's attention: success (200, and 201
/// which CrowdStrike sends), an empty success, a redirect, the RFC 6749 §5.2
/// error statuses, and gateway failures.
pub const STATUSES: [u16; 8] = [200, 201, 204, 302, 400, 401, 500, 503];

/// The `Content-Type` headers a response may carry.
pub const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("text/html"),
];

/// The instant most inputs are received at.
pub const DEFAULT_NOW: u64 = 1_700_000_000;

/// The longest `Display` of an error that is acceptable to log.
pub const MAX_DISPLAY: usize = 4 * 1024;

/// The longest `Debug` of an error. `Debug` escapes each non-printable
/// character of the server's text (at most [`grantflow::ErrorResponse::MAX_TEXT`]
/// bytes per field, three fields) as up to ten bytes (`\u{10ffff}`).
pub const MAX_DEBUG: usize = 3 * 10 * grantflow::ErrorResponse::MAX_TEXT + 1024;

/// Words whose presence in a body means no excerpt of it may be quoted
/// (mirrors the core's list: an excerpt must never leak a credential).
const SECRET_MARKERS: [&str; 5] = ["token", "secret", "password", "code", "assertion"];

/// The core never quotes a run of this many token characters (base64,
/// base64url, JWT dots): it may be an opaque token or a JWT.
const TOKEN_LIKE_RUN: usize = 20;

/// The longest run of token characters in `text`.
fn longest_token_run(text: &str) -> usize {
    text.split(|c: char| {
        !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '='))
    })
    .map(str::len)
    .max()
    .unwrap_or(0)
}

/// Whether the core may take `text` for a token and withhold it: a run of
/// [`TOKEN_LIKE_RUN`] token characters, as sent or as the core quotes it
/// (an escape can join two runs).
pub fn looks_like_token(text: &str) -> bool {
    longest_token_run(text) >= TOKEN_LIKE_RUN || longest_token_run(&quoted(text)) >= TOKEN_LIKE_RUN
}

/// Reads bytes off the front of the input, yielding zero once it runs out.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// The next byte, or zero.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next `N` bytes, zero-padded.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        for b in &mut out {
            *b = self.byte();
        }
        out
    }

    /// Everything not read yet.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// A decoded response input.
pub struct ResponseInput {
    /// The response, ready for the parser.
    pub response: HttpResponse,
    /// When it was received.
    pub now: UnixTime,
}

/// Decodes the response header (status, content type, time) from `reader`.
pub fn response_header(reader: &mut Reader<'_>) -> (u16, Option<&'static str>, UnixTime) {
    let s = reader.byte();
    let status = if s < 0xC0 {
        STATUSES[usize::from(s) % STATUSES.len()]
    } else {
        100 + u16::from_le_bytes(reader.array()) % 500
    };
    let content_type = CONTENT_TYPES[usize::from(reader.byte()) % CONTENT_TYPES.len()];
    let t = reader.byte();
    let now = match t % 4 {
        0 => DEFAULT_NOW,
        1 => 0,
        2 => u64::MAX - u64::from(t >> 2),
        _ => u64::from_le_bytes(reader.array()),
    };
    (status, content_type, UnixTime::from_secs(now))
}

/// Builds the response.
pub fn build_response(status: u16, content_type: Option<&str>, body: &[u8]) -> HttpResponse {
    let mut builder = http::Response::builder().status(status);
    if let Some(content_type) = content_type {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    builder
        .body(body.to_vec())
        .expect("100..=599 and the listed content types are valid")
}

/// Decodes a whole `token_response` input.
pub fn response_input(data: &[u8]) -> ResponseInput {
    let mut reader = Reader::new(data);
    let (status, content_type, now) = response_header(&mut reader);
    ResponseInput {
        response: build_response(status, content_type, reader.rest()),
        now,
    }
}

/// Checks everything that must hold of `parse_token_response(response, now)`.
pub fn check_token_result(
    response: &HttpResponse,
    now: UnixTime,
    result: &Result<TokenSet, Error>,
) {
    let status = response.status().as_u16();
    match result {
        Ok(tokens) => check_tokens(status, now, tokens),
        Err(error) => check_error(response, error),
    }
}

fn check_tokens(status: u16, now: UnixTime, tokens: &TokenSet) {
    assert!(
        (200..300).contains(&status),
        "a token set from http {status}"
    );
    assert!(
        !tokens.access_token.secret().is_empty(),
        "empty access token"
    );
    assert_eq!(tokens.received_at, now);
    if let Some(expires_at) = tokens.expires_at {
        assert!(expires_at >= tokens.received_at, "expires before received");
        assert_eq!(
            tokens.expires_in(now),
            Some(expires_at.as_secs() - now.as_secs())
        );
        assert_eq!(tokens.is_expired(now), expires_at == now);
    } else {
        assert!(!tokens.is_expired(now));
        assert_eq!(tokens.expires_in(now), None);
    }
    if let Some(refresh) = &tokens.refresh_token {
        assert!(!refresh.secret().is_empty(), "empty refresh token kept");
    }
    if let Some(id_token) = &tokens.id_token {
        assert!(!id_token.as_str().is_empty(), "empty id token kept");
    }
    if let Some(scopes) = &tokens.scopes {
        for scope in scopes {
            assert!(!scope.as_str().is_empty(), "empty scope kept");
        }
    }
    for known in [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "id_token",
        "error",
    ] {
        assert!(!tokens.extra.contains_key(known), "{known} left in extra");
    }
    // Secrets redact themselves whatever they hold.
    assert_eq!(
        format!("{:?}", tokens.access_token),
        "AccessToken(<redacted>)"
    );
    let _ = format!("{tokens:?}");
}

/// Checks an error from parsing `response`: it is `OAuth` or
/// `MalformedResponse` with the response's status, short to print, with
/// clean and bounded text, and any excerpt it quotes names no credential
/// and holds no token-like run.
pub fn check_error(response: &HttpResponse, error: &Error) {
    let status = response.status().as_u16();
    let display = error.to_string();
    assert!(
        display.len() < MAX_DISPLAY,
        "display of {} bytes",
        display.len()
    );
    let debug = format!("{error:?}");
    assert!(debug.len() < MAX_DEBUG, "debug of {} bytes", debug.len());
    match error {
        Error::OAuth(oauth) => {
            assert_eq!(oauth.status, Some(status));
            let code = oauth.error.as_str();
            // RFC 6749 §5.2: the code is one or more characters; one that
            // cleaning left empty says nothing (the core refuses `""`).
            assert!(!code.is_empty(), "empty error code");
            assert!(code.len() <= grantflow::ErrorResponse::MAX_TEXT);
            assert!(!code.chars().any(char::is_control), "control in code");
            for text in [&oauth.description, &oauth.uri].into_iter().flatten() {
                assert!(text.len() <= grantflow::ErrorResponse::MAX_TEXT);
                assert!(!text.chars().any(char::is_control), "control in text");
            }
        }
        Error::MalformedResponse(malformed) => {
            assert_eq!(malformed.status, status);
            if let Some(excerpt) = &malformed.excerpt {
                assert!(
                    excerpt.len() <= MalformedResponse::MAX_EXCERPT,
                    "excerpt of {} bytes",
                    excerpt.len()
                );
                assert!(!excerpt.is_empty(), "empty excerpt kept");
                assert!(!excerpt.chars().any(char::is_control), "control in excerpt");
                let body = String::from_utf8_lossy(response.body()).to_ascii_lowercase();
                let quoted = excerpt.to_ascii_lowercase();
                for marker in SECRET_MARKERS {
                    assert!(
                        !body.contains(marker),
                        "excerpt quoted from a body mentioning {marker:?}"
                    );
                    assert!(
                        !quoted.contains(marker),
                        "excerpt {excerpt:?} mentions {marker:?}"
                    );
                }
                assert!(
                    longest_token_run(excerpt) < TOKEN_LIKE_RUN,
                    "excerpt {excerpt:?} quotes a token-like run"
                );
            }
        }
        other => panic!("parsing a response gave a non-response error: {other:?}"),
    }
}

/// One character of a server value as the core quotes it: control
/// characters, the invisible format characters (bidi marks, embeddings,
/// overrides and isolates, zero-width characters, the soft hyphen), `"` and
/// `\\` escaped visibly; anything else as it is. Written apart from the core,
/// from its documented rule.
fn quoted_char(c: char, out: &mut String) {
    let invisible = matches!(
        u32::from(c),
        0xad | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060 | 0x2066..=0x2069 | 0xfeff
    );
    match c {
        '\\' => out.push_str("\\\\"),
        '"' => out.push_str("\\\""),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() || invisible => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    }
}

/// `text` as the core quotes it when it fits: every character escaped by
/// the documented rule, nothing cut.
pub fn quoted(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        quoted_char(c, &mut out);
    }
    out
}

/// Whether `quoted` is how the core quotes `text` within `max` bytes: the
/// whole of it escaped, or, when that does not fit, an escaped prefix (whole
/// characters only) followed by `…(+N bytes)` with N the bytes of `text`
/// left out, all within `max`. Two different values never pass for one
/// another.
pub fn is_quote_of(quoted: &str, text: &str, max: usize) -> bool {
    if quoted.len() > max {
        return false;
    }
    let mut whole = String::new();
    for c in text.chars() {
        quoted_char(c, &mut whole);
    }
    if quoted == whole {
        return whole.len() <= max;
    }
    let Some((prefix, rest)) = quoted.rsplit_once("…(+") else {
        return false;
    };
    let Some(count) = rest.strip_suffix(" bytes)") else {
        return false;
    };
    let mut built = String::new();
    let mut consumed = 0;
    for c in text.chars() {
        if built.len() >= prefix.len() {
            break;
        }
        quoted_char(c, &mut built);
        consumed += c.len_utf8();
    }
    whole.len() > max && built == prefix && count == (text.len() - consumed).to_string()
}

/// Checks what every error must be, whatever its kind: short to print (in
/// both forms) and, printed, free of control characters (a server's text is
/// cleaned before it is quoted).
pub fn check_printable(error: &dyn std::error::Error) {
    let display = error.to_string();
    assert!(
        display.len() < MAX_DISPLAY,
        "display of {} bytes",
        display.len()
    );
    assert!(
        !display.chars().any(char::is_control),
        "control character in {display:?}"
    );
    let debug = format!("{error:?}");
    assert!(debug.len() < MAX_DEBUG, "debug of {} bytes", debug.len());
}

/// The client secret the targets share: exactly 32 octets, the shortest
/// HS256 key RFC 7518 §3.2 allows (so HS384 and HS512 must refuse it).
pub const HMAC_SECRET: &str = "grantflow-fuzz HS256 secret: 32o";

/// Base64url without padding (RFC 7515 §2).
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS of `header` and `payload` (taken as bytes, so neither has
/// to be JSON) with a genuine HS256 signature under [`HMAC_SECRET`].
pub fn hs256_token(header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HMAC_SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}
