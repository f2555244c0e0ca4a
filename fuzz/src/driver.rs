//! Shared pieces of the driver targets (`sign_in_exchange`,
//! `discovery_chain`, `refresh_flow`, `session_lifecycle`, `logout_flow`):
//! a sequence of fuzzed answers fed to a flow from `start`, and the checks
//! every flow must pass whatever it is answered.
//!
//! # The answer format
//!
//! Each answer is a header, then a body:
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | status, as in [`crate::response_header`]: below `0xC0`, [`crate::STATUSES`]`[b % 8]`; from `0xC0`, `100 + u16le(next two bytes) % 500` |
//! | next | bits 0–2: `Content-Type` [`crate::CONTENT_TYPES`]`[b % 6]`; bit 3: a `WWW-Authenticate` challenge; bit 4: a `DPoP-Nonce`; bit 5: a `Retry-After`; bits 6–7: how the elapsed time is read |
//! | next | elapsed seconds before the answer, by bits 6–7 above: `0` → none, `1` → one byte, `2` → `u16le`, `3` → `u64le` (the clock saturates) |
//! | next | body: below `0x80`, a template the target builds (it reads what it needs next); from `0x80`, raw bytes: `u16le` length (at most 4096), then the bytes |
//!
//! Missing bytes read as zero, so every input decodes; the targets stop
//! after a few answers.

use grantflow::{Error, HttpResponse, UnixTime};

use crate::{CONTENT_TYPES, Reader, STATUSES};

/// How a fuzzed answer's body is made.
pub enum Body {
    /// A body the target builds from its own template `n` (the target reads
    /// whatever further bytes the template needs).
    Template(u8),
    /// The bytes, as is.
    Raw(Vec<u8>),
}

/// The decoded head of one fuzzed answer.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`, if any.
    pub content_type: Option<&'static str>,
    /// Extra headers (challenge, DPoP nonce, retry delay).
    pub headers: Vec<(&'static str, &'static str)>,
    /// Seconds elapsed since the previous step.
    pub elapsed: u64,
    /// How the body is made.
    pub body: Body,
}

impl Answer {
    /// Whether the status is a success.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Decodes the next answer's head and body choice.
pub fn answer(reader: &mut Reader<'_>) -> Answer {
    let s = reader.byte();
    let status = if s < 0xC0 {
        STATUSES[usize::from(s) % STATUSES.len()]
    } else {
        100 + u16::from_le_bytes(reader.array()) % 500
    };
    let flags = reader.byte();
    let content_type = CONTENT_TYPES[usize::from(flags & 7) % CONTENT_TYPES.len()];
    let mut headers = Vec::new();
    if flags & 8 != 0 {
        headers.push((
            "www-authenticate",
            r#"Bearer error="invalid_token", error_description="expired""#,
        ));
    }
    if flags & 16 != 0 {
        headers.push(("dpop-nonce", "server-nonce-1"));
    }
    if flags & 32 != 0 {
        headers.push(("retry-after", "30"));
    }
    let elapsed = match flags >> 6 {
        0 => 0,
        1 => u64::from(reader.byte()),
        2 => u64::from(u16::from_le_bytes(reader.array())),
        _ => u64::from_le_bytes(reader.array()),
    };
    let b = reader.byte();
    let body = if b < 0x80 {
        Body::Template(b)
    } else {
        Body::Raw(raw_body(reader))
    };
    Answer {
        status,
        content_type,
        headers,
        elapsed,
        body,
    }
}

/// A raw body: `u16le` length (at most 4096), then that many bytes.
pub fn raw_body(reader: &mut Reader<'_>) -> Vec<u8> {
    let length = usize::from(u16::from_le_bytes(reader.array())).min(4096);
    (0..length).map(|_| reader.byte()).collect()
}

/// The response for `answer` with `body`.
pub fn response(answer: &Answer, body: &[u8]) -> HttpResponse {
    let mut response = crate::build_response(answer.status, answer.content_type, body);
    for (name, value) in &answer.headers {
        response
            .headers_mut()
            .insert(*name, http::HeaderValue::from_static(value));
    }
    response
}

/// `now` moved on by `elapsed` seconds, saturating.
pub fn advance(now: UnixTime, elapsed: u64) -> UnixTime {
    now.saturating_add_secs(elapsed)
}

/// Asserts that no secret appears in `text` (what was printed: an error's
/// `Display` or `Debug`, a flow's or an outcome's `Debug`).
pub fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            secret.is_empty() || !text.contains(secret),
            "{what} shows the secret {secret:?}: {text}"
        );
    }
}

/// Checks an error a flow returned: printable and bounded
/// ([`crate::check_printable`]); whatever the answer, it shows none of the
/// secrets the flow's requests carried (`sent`: the client secret, a code
/// and verifier, the refresh token), as sent or as the core escapes server
/// text, since every flow withholds them from what a server quotes; and, for
/// an answer the harness built (`templated`), no secret at all.
///
/// A raw answer's error is not checked for the other secrets (tokens a
/// server issued earlier in the flow): a server may echo them, and the core
/// quotes a token endpoint's `error_description`, cleaned.
pub fn check_flow_error(error: &Error, secrets: &[&str], sent: &[&str], templated: bool) {
    crate::check_printable(error);
    let (shown, debug) = (error.to_string(), format!("{error:?}"));
    let escaped: Vec<String> = sent.iter().map(|secret| crate::quoted(secret)).collect();
    for text in [&shown, &debug] {
        assert_no_secret("an error", text, sent);
        assert_no_secret(
            "an error",
            text,
            &escaped.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    if templated {
        assert_no_secret("an error", &shown, secrets);
        assert_no_secret("an error's Debug", &debug, secrets);
    }
}

/// Whether `result` is the refusal of a flow that is over.
pub fn is_refusal<T>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::UnexpectedCall { .. }))
}

/// Checks that a flow that ended (an error, or `Done`) refuses `start`,
/// `handle_response` and `handle_timeout`, and stays over after each.
pub fn assert_refuses_everything<F: grantflow::Flow>(flow: &mut F, now: UnixTime) {
    assert!(is_refusal(&flow.start(now)), "start accepted after the end");
    assert!(
        is_refusal(&flow.handle_response(crate::build_response(200, None, b"{}"), now)),
        "handle_response accepted after the end"
    );
    assert!(
        is_refusal(&flow.handle_timeout(now)),
        "handle_timeout accepted after the end"
    );
    assert!(is_refusal(&flow.start(now)), "start accepted after the end");
}

/// `at_hash` (OIDC Core §3.1.3.6) of `access_token` for an EdDSA (Ed25519,
/// SHA-512) ID token: the left half of the hash, base64url.
pub fn ed25519_at_hash(access_token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA512, access_token.as_bytes());
    crate::b64(&digest.as_ref()[..32])
}

/// The JSON payload of a compact JWS, re-read with `serde_json` (`None` if
/// it is not three base64url parts with a JSON object in the middle).
pub fn jwt_part(token: &str, index: usize) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let part = token.split('.').nth(index)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The two Ed25519 keys the driver targets sign ID tokens with: `k1`, which
/// the clients trust, and `k2`, which they learn only from a re-fetched key
/// set. Made once: deriving a key pair is work that is not under test.
pub fn test_keys() -> &'static (grantflow::Ed25519Signer, grantflow::Ed25519Signer) {
    static KEYS: std::sync::OnceLock<(grantflow::Ed25519Signer, grantflow::Ed25519Signer)> =
        std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (
            grantflow::testing::test_signer(1, "k1"),
            grantflow::testing::test_signer(2, "k2"),
        )
    })
}

/// The key set document of `k1` (bit 0 of `keys`) and `k2` (bit 1), as a
/// `jwks_uri` serves it; made once per combination.
pub fn jwks_body(keys: u8) -> &'static str {
    static BODIES: std::sync::OnceLock<[String; 4]> = std::sync::OnceLock::new();
    let bodies = BODIES.get_or_init(|| {
        let (k1, k2) = test_keys();
        [
            grantflow::testing::jwks_json(&[]),
            grantflow::testing::jwks_json(&[k1]),
            grantflow::testing::jwks_json(&[k2]),
            grantflow::testing::jwks_json(&[k1, k2]),
        ]
    });
    &bodies[usize::from(keys & 3)]
}

/// The issuer of [`discovered_client`].
pub const DISCOVERED_ISSUER: &str = "https://op.example.com";

/// The `jwks_uri` of [`discovered_client`]'s provider.
pub const DISCOVERED_JWKS_URI: &str = "https://op.example.com/jwks";

/// A client of a provider discovered at [`DISCOVERED_ISSUER`] (`/auth`,
/// `/token`, `/jwks`), holding the key set of `k1` as loaded from its
/// `jwks_uri` at `now`: so an unknown `kid` makes the flows fetch the key set
/// again (OIDC Core §10.1.1). ID tokens are EdDSA only. The metadata and the
/// key set are parsed once; each call makes a new client (with its own key
/// cache and re-fetch limit).
pub fn discovered_client(
    client_id: &str,
    auth: grantflow::ClientAuth,
    now: UnixTime,
) -> grantflow::Client {
    static PROVIDER: std::sync::OnceLock<(grantflow::ProviderMetadata, grantflow::JwkSet)> =
        std::sync::OnceLock::new();
    let (metadata, keys) = PROVIDER.get_or_init(|| {
        let issuer = DISCOVERED_ISSUER;
        let document = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": DISCOVERED_JWKS_URI,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
        });
        let issuer = grantflow::Issuer::new(issuer).expect("a valid issuer");
        let metadata =
            grantflow::ProviderMetadata::from_openid_json(document.to_string().as_bytes(), &issuer)
                .expect("a valid document");
        let keys = grantflow::testing::jwk_set(&[&test_keys().0]).expect("a key set");
        (metadata, keys)
    });
    let provider = grantflow::DiscoveredProvider::new(metadata.clone(), Some(keys.clone()), now);
    grantflow::Client::from_provider(&provider, grantflow::ClientId::new(client_id), auth)
        .with_id_token_policy(
            grantflow::IdTokenPolicy::default().with_algorithms([grantflow::Algorithm::EdDsa]),
        )
}

/// The first value of `name` in a form-encoded request body.
pub fn form_param(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
