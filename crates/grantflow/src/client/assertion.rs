//! JWT client authentication (RFC 7523 §2.2 and §3, OIDC Core §9):
//! `client_secret_jwt` (HS256 with the client secret) and `private_key_jwt`
//! (any [`JwsSigner`]), as the `client_assertion` of every request that
//! authenticates the client.
//!
//! The user-facing documentation is on [`ClientAssertion`] and
//! [`AssertionAudience`].

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::CryptoRng;
use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::endpoint::EndpointUrl;
use crate::error::{Error, SignError};
use crate::jose::{JwsSigner, sign_compact};
use crate::time::UnixTime;
use crate::types::ClientSecret;

/// The `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub(crate) const JWT_BEARER_ASSERTION: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid: `exp` = `iat` + 60 s. Short, because an
/// assertion is a bearer credential while it lives; long enough for a
/// provider whose clock is a little behind.
const ASSERTION_LIFETIME_SECS: u64 = 60;

/// The shortest client secret `client_secret_jwt` accepts: RFC 7518 §3.2
/// wants an HS256 key of at least 256 bits.
const MIN_HMAC_SECRET_LEN: usize = 32;

/// Unique JWT ids (`jti`, RFC 7519 §4.1.7) without a generator at signing
/// time: a 128-bit random prefix drawn once from the caller's generator, and
/// a counter. Shared (through an `Arc`) by every clone of the client, so two
/// requests never carry the same `jti`, and two processes (each with its own
/// prefix) collide only with probability 2^-128.
pub(crate) struct JtiSource {
    prefix: String,
    counter: AtomicU64,
}

impl JtiSource {
    /// A source whose 128-bit prefix comes from `rng`.
    pub(crate) fn new(rng: &mut impl CryptoRng) -> JtiSource {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        JtiSource {
            prefix: URL_SAFE_NO_PAD.encode(bytes),
            counter: AtomicU64::new(0),
        }
    }

    /// The next `jti`: the prefix, `.`, and a counter no other call sees.
    pub(crate) fn next(&self) -> String {
        // Only uniqueness matters, not ordering with other memory.
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}.{n}", self.prefix)
    }
}

/// Which `aud` a client assertion names (RFC 7523 §3 item 3).
///
/// Providers differ. RFC 7523 §3 lets the token endpoint URL serve; OIDC
/// Core §9 says the token endpoint URL SHOULD be used; RFC 9126 §2 and the
/// draft update of RFC 7523 make the issuer identifier the value every
/// endpoint accepts (it cannot be replayed at another endpoint of a
/// different server). What providers are known to take:
///
/// | provider | accepts |
/// |---|---|
/// | node oidc-provider (and Auth0) | the issuer, the token endpoint URL, or the URL of the endpoint called |
/// | Keycloak | the issuer (realm URL) or the token endpoint URL |
/// | Okta | the URL of the endpoint called ([`Endpoint`](AssertionAudience::Endpoint)) |
/// | Microsoft Entra ID | the token endpoint URL ([`TokenEndpoint`](AssertionAudience::TokenEndpoint)) |
///
/// ```
/// use grantflow::{AssertionAudience, Client, ClientAuth, ClientId, Ed25519Signer};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let signer = Ed25519Signer::from_seed(&[7; 32])?.with_key_id("k1");
/// let mut rng = grantflow::testing::CountingRng::new(0); // a real program: the OS generator
/// let client = Client::new(ClientId::new("svc"), ClientAuth::private_key_jwt(signer, &mut rng))
///     .with_assertion_audience(AssertionAudience::TokenEndpoint);
/// assert_eq!(client.assertion_audience(), AssertionAudience::TokenEndpoint);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The issuer identifier (the default); the token endpoint URL for a
    /// client configured without an issuer.
    #[default]
    Issuer,
    /// The token endpoint URL, at every endpoint.
    TokenEndpoint,
    /// The URL of the endpoint the request goes to (the token, PAR,
    /// revocation, introspection or device authorization endpoint).
    Endpoint,
}

/// The key a client signs its JWT assertions with, and the source of their
/// unique `jti` values: the payload of [`ClientAuth::ClientSecretJwt`] and
/// [`ClientAuth::PrivateKeyJwt`](crate::ClientAuth::PrivateKeyJwt). Build
/// one with [`ClientAuth::private_key_jwt`](crate::ClientAuth::private_key_jwt)
/// or [`ClientAuth::client_secret_jwt`](crate::ClientAuth::client_secret_jwt).
///
/// Each request that authenticates the client carries a fresh assertion
/// (RFC 7523 §3): `iss` = `sub` = the client id, `aud` per
/// [`AssertionAudience`], a `jti` no other assertion of this client carries,
/// `iat` = the `now` the flow was given and `exp` 60 seconds later; the
/// header has the signer's `alg`, `typ` is not set (several providers refuse
/// one), and `kid` is there when the key has one.
///
/// Cloning shares the signer and the `jti` counter. `Debug` shows the
/// algorithm and key id, never key material.
///
/// [`ClientAuth::ClientSecretJwt`]: crate::ClientAuth::ClientSecretJwt
#[derive(Clone)]
pub struct ClientAssertion {
    signer: Arc<dyn JwsSigner>,
    jti: Arc<JtiSource>,
}

impl ClientAssertion {
    /// Signs with `signer`; the `jti` prefix comes from `rng`.
    pub fn new(signer: Arc<dyn JwsSigner>, rng: &mut impl CryptoRng) -> ClientAssertion {
        ClientAssertion {
            signer,
            jti: Arc::new(JtiSource::new(rng)),
        }
    }

    /// The algorithm the assertions are signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.signer.algorithm()
    }

    /// The key id the assertions' header names, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.signer.key_id()
    }

    /// The public key to register with the provider (RFC 7591 `jwks`), or
    /// `None` for `client_secret_jwt`.
    pub fn public_jwk(&self) -> Option<Value> {
        self.signer.public_jwk()
    }

    /// A signed assertion for a request from `client_id` with this `aud`,
    /// issued at `now` (RFC 7523 §3).
    pub(crate) fn sign(
        &self,
        client_id: &str,
        audience: &str,
        now: UnixTime,
    ) -> Result<String, Error> {
        let mut claims = Map::new();
        claims.insert("iss".to_owned(), Value::from(client_id));
        claims.insert("sub".to_owned(), Value::from(client_id));
        claims.insert("aud".to_owned(), Value::from(audience));
        claims.insert("jti".to_owned(), Value::from(self.jti.next()));
        claims.insert("iat".to_owned(), Value::from(now.as_secs()));
        claims.insert(
            "exp".to_owned(),
            Value::from(now.saturating_add_secs(ASSERTION_LIFETIME_SECS).as_secs()),
        );
        let payload = Value::Object(claims).to_string();
        Ok(sign_compact(
            &*self.signer,
            &Map::new(),
            payload.as_bytes(),
        )?)
    }
}

impl fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAssertion")
            .field("alg", &self.signer.algorithm())
            .field("kid", &self.signer.key_id())
            .finish_non_exhaustive()
    }
}

/// HS256 with the client secret as the key (RFC 7518 §3.2), for
/// `client_secret_jwt`. The secret stays in its [`ClientSecret`] (zeroized
/// on drop); the HMAC key is derived per signature and dropped after it.
pub(crate) struct ClientSecretSigner(ClientSecret);

impl ClientSecretSigner {
    /// A signer with `secret`, which must be at least 32 bytes (RFC 7518
    /// §3.2: a key of at least the hash's size).
    pub(crate) fn new(secret: ClientSecret) -> Result<ClientSecretSigner, SignError> {
        if secret.secret().len() < MIN_HMAC_SECRET_LEN {
            return Err(SignError::InvalidKey {
                reason: "client secret is shorter than 32 bytes, too short for hs256",
            });
        }
        Ok(ClientSecretSigner(secret))
    }
}

impl JwsSigner for ClientSecretSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Hs256
    }

    fn key_id(&self) -> Option<&str> {
        None
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.0.secret().as_bytes());
        Ok(ring::hmac::sign(&key, signing_input).as_ref().to_vec())
    }
}

/// The `aud` an assertion for a request to `endpoint` names.
pub(crate) fn audience<'a>(
    choice: AssertionAudience,
    issuer: Option<&'a str>,
    token_endpoint: Option<&'a EndpointUrl>,
    endpoint: &'a EndpointUrl,
) -> &'a str {
    match (choice, issuer) {
        (AssertionAudience::Issuer, Some(issuer)) => issuer,
        (AssertionAudience::Issuer | AssertionAudience::TokenEndpoint, _) => {
            token_endpoint.unwrap_or(endpoint).as_str()
        }
        (AssertionAudience::Endpoint, _) => endpoint.as_str(),
    }
}
