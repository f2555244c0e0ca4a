//! Test support, behind the `testing` feature: a deterministic generator,
//! canned responses, a signer with fixed keys, and a driver that plays the
//! server in fake time. For tests, fuzzers and examples only — never enable
//! the feature in a production build: [`CountingRng`] is predictable on
//! purpose.
//!
//! ```
//! use grantflow::testing::{CountingRng, drive, json_response};
//! use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, UnixTime};
//!
//! # fn main() -> Result<(), grantflow::Error> {
//! let client = Client::new(ClientId::new("svc"), ClientAuth::ClientSecretBasic(ClientSecret::new("s")))
//!     .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token")?);
//! let tokens = drive(client.client_credentials()?, UnixTime::from_secs(100), |request| {
//!     assert_eq!(request.uri(), "https://as.example.com/token");
//!     json_response(200, r#"{"access_token":"at","token_type":"Bearer","expires_in":60}"#)
//! })?;
//! assert_eq!(tokens.expires_at, Some(UnixTime::from_secs(160)));
//! # let _ = CountingRng::new(0);
//! # Ok(())
//! # }
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::{Error, JwsError, SignError};
use crate::flow::{Flow, Step};
use crate::jose::{Ed25519Signer, JwkSet, JwsSigner, sign_compact};
use crate::message::{HttpRequest, HttpResponse};
use crate::time::UnixTime;

/// A deterministic "generator" that counts up from a seed, byte by byte.
///
/// It implements [`rand_core::CryptoRng`] so that flows accept it, and it is
/// **not** random at all: two runs draw the same `state`, `nonce` and PKCE
/// verifier, which is what a test that compares requests byte for byte wants.
#[derive(Debug, Clone)]
pub struct CountingRng(u8);

impl CountingRng {
    /// Starts counting after `seed`.
    pub fn new(seed: u8) -> Self {
        CountingRng(seed)
    }
}

impl rand_core::TryRng for CountingRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst {
            self.0 = self.0.wrapping_add(1);
            *byte = self.0;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for CountingRng {}

/// A response with this status, an optional `Content-Type` and body. A
/// status outside 100–999 becomes 500 and a content type that is not a valid
/// header value is left out, so a test builds any response without a panic.
pub fn response(status: u16, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> HttpResponse {
    let mut response = HttpResponse::new(body.into());
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(value) = content_type.and_then(|v| http::HeaderValue::from_str(v).ok()) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

/// A response with this status and a JSON body (`Content-Type:
/// application/json`).
pub fn json_response(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
    response(status, Some("application/json"), body)
}

/// Runs `flow` to its end, answering each request with `serve`: the server
/// a test plays. Time is fake: every call gets `now`, and a
/// [`Step::WaitUntil`] moves the clock to its deadline at once (no sleep).
pub fn drive<F: Flow>(
    mut flow: F,
    now: UnixTime,
    mut serve: impl FnMut(HttpRequest) -> HttpResponse,
) -> Result<F::Output, Error> {
    let mut now = now;
    let mut step = flow.start(now)?;
    loop {
        step = match step {
            Step::Send(request) => flow.handle_response(serve(request), now)?,
            Step::WaitUntil(deadline) => {
                now = now.max(deadline);
                flow.handle_timeout(now)?
            }
            Step::Done(output) => return Ok(output),
        };
    }
}

/// An Ed25519 signer from a fixed seed (`[seed; 32]`) with key id `kid`: the
/// same key in every run, so tests can pin tokens and key sets.
pub fn test_signer(seed: u8, kid: &str) -> Ed25519Signer {
    #[allow(clippy::expect_used)]
    // A 32-octet seed is the one length `from_seed` accepts, and every
    // 32-octet string is a valid Ed25519 seed.
    Ed25519Signer::from_seed(&[seed; 32])
        .expect("a 32-octet seed is always a valid ed25519 seed")
        .with_key_id(kid)
}

/// The public JWK set of `signers` (their `public_jwk`s), as a provider's
/// `jwks_uri` would serve it.
pub fn jwks_json(signers: &[&dyn JwsSigner]) -> String {
    let keys: Vec<Value> = signers
        .iter()
        .filter_map(|signer| signer.public_jwk())
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// The parsed [`JwkSet`] of `signers`.
pub fn jwk_set(signers: &[&dyn JwsSigner]) -> Result<JwkSet, JwsError> {
    JwkSet::from_json(jwks_json(signers).as_bytes())
}

/// Signs `claims` as a compact JWT with header `typ: JWT`.
pub fn sign_jwt(signer: &dyn JwsSigner, claims: &Value) -> Result<String, SignError> {
    let mut header = Map::new();
    header.insert("typ".to_owned(), Value::String("JWT".to_owned()));
    sign_compact(signer, &header, claims.to_string().as_bytes())
}

/// `base64url(bytes)` without padding, as JOSE writes it.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
