//! The authorization code grant with PKCE and OpenID Connect sign-in, driven
//! with canned responses in fake time: the authorization URL, the callback
//! checks, the code exchange request, ID token validation inside the flow,
//! key rotation and its rate limit.

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::JwsError;
use grantflow::{CallbackError, PendingAuthorization};
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Error, ErrorCode, Flow, HttpRequest,
    HttpResponse, Issuer, JwkSet, PkceMethod, PkceVerifier, Scope, SignIn, Step, UnixTime,
};
use grantflow::{IdTokenError, IdTokenPolicy};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://op.example.com";
const REDIRECT: &str = "https://app.example.com/cb?tenant=a%20b";

/// A deterministic test generator: counts up. Only for tests.
struct Counter(u8);

impl rand_core::TryRng for Counter {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::from(self.0))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from(self.0))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst {
            self.0 = self.0.wrapping_add(1);
            *byte = self.0;
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Counter {}

/// An Ed25519 signing key from a fixed seed, with a `kid`.
struct Key {
    pair: Ed25519KeyPair,
    kid: &'static str,
}

impl Key {
    fn new(seed: u8, kid: &'static str) -> Key {
        Key {
            pair: Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap(),
            kid,
        }
    }

    fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "use": "sig",
               "x": URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref())})
    }

    fn sign(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(
            json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid})
                .to_string()
                .as_bytes(),
        );
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
        let input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.pair.sign(input.as_bytes()).as_ref());
        format!("{input}.{signature}")
    }
}

impl Key {
    /// The same signature, with no `kid` in the header.
    fn sign_without_kid(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
        let input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.pair.sign(input.as_bytes()).as_ref());
        format!("{input}.{signature}")
    }
}

fn jwks(keys: &[&Key]) -> Vec<u8> {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
}

fn base_client(auth: ClientAuth) -> Client {
    Client::new(ClientId::new("web-app"), auth)
        .with_issuer(Issuer::new(ISSUER).unwrap())
        .with_authorization_endpoint(
            EndpointUrl::parse("https://op.example.com/authorize?realm=x").unwrap(),
        )
        .with_token_endpoint(EndpointUrl::parse("https://op.example.com/token").unwrap())
        .with_id_token_policy(
            IdTokenPolicy::default().with_algorithms([grantflow::Algorithm::EdDsa]),
        )
}

/// A public client whose keys come from `jwks_uri` (fetched lazily).
fn client() -> Client {
    base_client(ClientAuth::None)
        .with_jwks_uri(EndpointUrl::parse("https://op.example.com/jwks").unwrap())
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn json_response(status: u16, body: &[u8]) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .unwrap()
}

fn sent<T: std::fmt::Debug>(step: Step<T>) -> HttpRequest {
    match step {
        Step::Send(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn done(step: Step<SignIn>) -> SignIn {
    match step {
        Step::Done(sign_in) => sign_in,
        other => panic!("expected the end, got {other:?}"),
    }
}

/// Begins an `openid` request; returns the URL, the pending request, state and nonce.
fn begin(client: &Client) -> (url::Url, PendingAuthorization, String, String) {
    let (url, pending) = client
        .authorize(REDIRECT)
        .unwrap()
        .scope(Scope::new("openid").unwrap())
        .begin(&mut Counter(0), NOW)
        .unwrap();
    let state = param(&url, "state").unwrap();
    let nonce = param(&url, "nonce").unwrap();
    (url, pending, state, nonce)
}

fn claims(nonce: &str) -> Value {
    json!({"iss": ISSUER, "sub": "alice", "aud": "web-app", "exp": NOW.as_secs() + 300,
           "iat": NOW.as_secs(), "nonce": nonce})
}

fn token_body(id_token: &str) -> Vec<u8> {
    json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})
        .to_string()
        .into_bytes()
}

#[test]
fn rfc7636_appendix_b_vector() {
    let octets = [
        116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37,
        77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ];
    let verifier = PkceVerifier::from_bytes(&octets).unwrap();
    assert_eq!(
        verifier.secret(),
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    );
    assert_eq!(
        verifier.challenge(PkceMethod::S256),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_eq!(format!("{verifier:?}"), "PkceVerifier(<redacted>)");
    assert!(matches!(
        PkceVerifier::from_bytes(&[0; 31]),
        Err(Error::InvalidPkceVerifier)
    ));
    assert!(matches!(
        PkceVerifier::from_bytes(&[0; 97]),
        Err(Error::InvalidPkceVerifier)
    ));
    assert_eq!(
        PkceVerifier::from_bytes(&[0; 96]).unwrap().secret().len(),
        128
    );
}

#[test]
fn the_authorization_url_carries_every_parameter() {
    let (url, pending) = client()
        .authorize(REDIRECT)
        .unwrap()
        .scope(Scope::new("openid").unwrap())
        .scope(Scope::new("email").unwrap())
        .prompt("login")
        .max_age(600)
        .login_hint("alice@example.com")
        .ui_locales("fr-CA en")
        .acr_values("urn:mace:incommon:iap:silver")
        .resource(url::Url::parse("https://api.example.com/").unwrap())
        .param("display", "page")
        .begin(&mut Counter(0), NOW)
        .unwrap();
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(
        names,
        [
            "realm",
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
            "nonce",
            "max_age",
            "prompt",
            "login_hint",
            "ui_locales",
            "acr_values",
            "resource",
            "display"
        ]
    );
    assert_eq!(
        param(&url, "realm").unwrap(),
        "x",
        "the endpoint's own query is kept"
    );
    assert_eq!(param(&url, "response_type").unwrap(), "code");
    assert_eq!(param(&url, "redirect_uri").unwrap(), REDIRECT);
    assert_eq!(param(&url, "scope").unwrap(), "openid email");
    assert_eq!(param(&url, "code_challenge_method").unwrap(), "S256");
    assert_eq!(param(&url, "max_age").unwrap(), "600");
    // 32 random octets each: 43 base64url characters.
    let state = param(&url, "state").unwrap();
    let nonce = param(&url, "nonce").unwrap();
    let challenge = param(&url, "code_challenge").unwrap();
    assert_eq!(state.len(), 43);
    assert_eq!(nonce.len(), 43);
    assert_eq!(challenge.len(), 43);
    assert_ne!(state, nonce);
    assert_eq!(pending.issuer(), Some(ISSUER));
    assert_eq!(pending.redirect_uri(), REDIRECT);
    assert_eq!(pending.max_age(), Some(600));
    assert_eq!(pending.began_at(), NOW);
}

#[test]
fn each_request_draws_fresh_values() {
    let client = client();
    let (first, ..) = begin(&client);
    let (second, _) = client
        .authorize(REDIRECT)
        .unwrap()
        .scope(Scope::new("openid").unwrap())
        .begin(&mut Counter(200), NOW)
        .unwrap();
    for name in ["state", "nonce", "code_challenge"] {
        assert_ne!(param(&first, name), param(&second, name), "{name}");
    }
}

#[test]
fn no_nonce_without_openid_and_plain_pkce_only_by_opt_in() {
    let (url, _) = client()
        .authorize(REDIRECT)
        .unwrap()
        .scope(Scope::new("api").unwrap())
        .begin(&mut Counter(0), NOW)
        .unwrap();
    assert_eq!(param(&url, "nonce"), None);
    assert_eq!(param(&url, "code_challenge_method").unwrap(), "S256");

    let (url, _) = client()
        .authorize(REDIRECT)
        .unwrap()
        .insecure_pkce_plain()
        .begin(&mut Counter(0), NOW)
        .unwrap();
    assert_eq!(param(&url, "code_challenge_method").unwrap(), "plain");
    assert_eq!(param(&url, "code_challenge").unwrap().len(), 43);
    assert_eq!(param(&url, "scope"), None, "no scope asked, none sent");
}

#[test]
fn bad_requests_are_refused() {
    for reserved in [
        "state",
        "nonce",
        "code_challenge_method",
        "max_age",
        "redirect_uri",
    ] {
        let result = client()
            .authorize(REDIRECT)
            .unwrap()
            .param(reserved, "x")
            .begin(&mut Counter(0), NOW);
        assert!(
            matches!(result, Err(Error::ReservedParameter { ref name }) if name == reserved),
            "{reserved}"
        );
    }
    for (uri, reason) in [
        (
            "http://app.example.com/cb",
            "http is allowed for loopback only",
        ),
        ("https://app.example.com/cb#frag", "it has a fragment"),
        ("/relative", "not an absolute url"),
        ("javascript:alert(1)", "scheme not allowed"),
    ] {
        assert!(
            matches!(client().authorize(uri), Err(Error::InvalidRedirectUri { reason: r }) if r == reason),
            "{uri}"
        );
    }
    // Loopback http and private-use schemes of native apps are fine.
    assert!(client().authorize("http://127.0.0.1:8123/cb").is_ok());
    assert!(
        client()
            .authorize("com.example.app:/oauth2redirect")
            .is_ok()
    );

    // openid needs an issuer to validate the ID token against.
    let no_issuer = Client::new(ClientId::new("web-app"), ClientAuth::None)
        .with_authorization_endpoint(EndpointUrl::parse("https://op.example.com/a").unwrap());
    let result = no_issuer
        .authorize(REDIRECT)
        .unwrap()
        .scope(Scope::new("openid").unwrap())
        .begin(&mut Counter(0), NOW);
    assert!(matches!(result, Err(Error::IssuerNotConfigured)));
    let no_endpoint = Client::new(ClientId::new("web-app"), ClientAuth::None);
    assert!(matches!(
        no_endpoint
            .authorize(REDIRECT)
            .unwrap()
            .begin(&mut Counter(0), NOW),
        Err(Error::MissingEndpoint {
            endpoint: "authorization_endpoint"
        })
    ));
}

#[test]
fn pending_authorization_round_trips_through_serde_and_hides_its_secrets() {
    let client = client();
    let (_, pending, state, nonce) = begin(&client);
    let debug = format!("{pending:?}");
    assert!(
        !debug.contains(&state) && !debug.contains(&nonce),
        "{debug}"
    );
    let stored = serde_json::to_string(&pending).unwrap();
    let restored: PendingAuthorization = serde_json::from_str(&stored).unwrap();
    // The restored request still accepts the right callback.
    assert!(
        restored
            .callback(&client, &format!("?code=c&state={state}"))
            .is_ok()
    );
}

fn callback_error(client: &Client, pending: PendingAuthorization, redirect: &str) -> Error {
    pending.callback(client, redirect).unwrap_err()
}

#[test]
fn the_callback_accepts_a_full_url_or_a_query() {
    let client = client();
    for shape in [
        "https://app.example.com/cb?tenant=a%20b&code=abc&state={state}&session_state=x",
        "?code=abc&state={state}",
        "code=abc&state={state}&unknown=1&unknown=2",
        // A raw query may carry `:` and `/` unencoded (RFC 3986 §3.4).
        "code=abc&state={state}&iss=https://op.example.com",
        "https://app.example.com/cb?code=abc&state={state}&iss=https://op.example.com",
    ] {
        let (_, pending, state, _) = begin(&client);
        let redirect = shape.replace("{state}", &state);
        let mut exchange = pending.callback(&client, &redirect).unwrap();
        let request = sent(exchange.start(NOW).unwrap());
        assert!(
            std::str::from_utf8(request.body())
                .unwrap()
                .starts_with("grant_type=authorization_code&code=abc&"),
            "{shape}"
        );
    }
}

#[test]
fn an_unparseable_redirect_url_is_refused() {
    let client = client();
    for redirect in ["https://[::1/cb?code=a&state=s", "code=a&state=s#frag"] {
        let (_, pending, _, _) = begin(&client);
        assert!(
            matches!(
                callback_error(&client, pending, redirect),
                Error::Callback(CallbackError::InvalidUrl)
            ),
            "{redirect}"
        );
    }
}

#[test]
fn the_callback_checks_state_first_even_on_error_responses() {
    let client = client();
    let (_, pending, _, _) = begin(&client);
    assert!(matches!(
        callback_error(&client, pending, "?code=abc"),
        Error::Callback(CallbackError::MissingState)
    ));
    let (_, pending, _, _) = begin(&client);
    assert!(matches!(
        callback_error(&client, pending, "?code=abc&state="),
        Error::Callback(CallbackError::MissingState)
    ));
    let (_, pending, state, _) = begin(&client);
    let forged = format!("?code=abc&state={}x", &state);
    assert!(matches!(
        callback_error(&client, pending, &forged),
        Error::Callback(CallbackError::StateMismatch)
    ));
    // An error response with a forged state is a state error, not access_denied.
    let (_, pending, _, _) = begin(&client);
    assert!(matches!(
        callback_error(&client, pending, "?error=access_denied&state=forged"),
        Error::Callback(CallbackError::StateMismatch)
    ));
    // With the right state, the error is the provider's.
    let (_, pending, state, _) = begin(&client);
    let denied = format!("?error=access_denied&error_description=no%0Athanks&state={state}");
    match callback_error(&client, pending, &denied) {
        Error::OAuth(response) => {
            assert_eq!(response.error, ErrorCode::AccessDenied);
            assert_eq!(response.description.as_deref(), Some("nothanks"));
            assert_eq!(response.status, None);
        }
        other => panic!("{other:?}"),
    }
    let (_, pending, state, _) = begin(&client);
    assert!(matches!(
        callback_error(&client, pending, &format!("?state={state}")),
        Error::Callback(CallbackError::MissingCode)
    ));
    // Found by fuzzing: an error code of control characters only.
    let (_, pending, state, _) = begin(&client);
    assert!(matches!(
        callback_error(&client, pending, &format!("?error=%1B&state={state}")),
        Error::Callback(CallbackError::InvalidErrorCode)
    ));
}

#[test]
fn a_repeated_parameter_is_refused() {
    let client = client();
    for query in [
        "?code=a&code=b&state={state}",
        "?code=a&state={state}&state={state}",
        "?code=a&state={state}&iss=x&iss=y",
        "?error=a&error=b&state={state}",
    ] {
        let (_, pending, state, _) = begin(&client);
        let query = query.replace("{state}", &state);
        assert!(
            matches!(
                callback_error(&client, pending, &query),
                Error::Callback(CallbackError::DuplicateParameter { .. })
            ),
            "{query}"
        );
    }
}

#[test]
fn rfc9207_iss_is_checked_when_present_and_required_when_advertised() {
    let client = client();
    let (_, pending, state, _) = begin(&client);
    let mixed_up = format!("?code=a&state={state}&iss=https%3A%2F%2Fevil.example.com");
    match callback_error(&client, pending, &mixed_up) {
        Error::Callback(CallbackError::IssMismatch { expected, found }) => {
            assert_eq!(expected, ISSUER);
            assert_eq!(found, "https://evil.example.com");
        }
        other => panic!("{other:?}"),
    }
    // Exact match only: a trailing slash is another issuer.
    let (_, pending, state, _) = begin(&client);
    let slash = format!("?code=a&state={state}&iss=https%3A%2F%2Fop.example.com%2F");
    assert!(matches!(
        callback_error(&client, pending, &slash),
        Error::Callback(CallbackError::IssMismatch { .. })
    ));
    let (_, pending, state, _) = begin(&client);
    let right = format!("?code=a&state={state}&iss=https%3A%2F%2Fop.example.com");
    assert!(pending.callback(&client, &right).is_ok());
    // Absent iss: fine unless the provider says it sends one.
    let (_, pending, state, _) = begin(&client);
    assert!(
        pending
            .callback(&client, &format!("?code=a&state={state}"))
            .is_ok()
    );
    let strict = client.clone().with_required_callback_iss(true);
    let (_, pending, state, _) = begin(&strict);
    assert!(matches!(
        callback_error(&strict, pending, &format!("?code=a&state={state}")),
        Error::Callback(CallbackError::MissingIss)
    ));
    // ...and an error response without iss is refused as well.
    let (_, pending, state, _) = begin(&strict);
    assert!(matches!(
        callback_error(
            &strict,
            pending,
            &format!("?error=access_denied&state={state}")
        ),
        Error::Callback(CallbackError::MissingIss)
    ));
}

#[test]
fn the_callback_needs_the_client_the_request_began_with() {
    let client = client();
    let (_, pending, state, _) = begin(&client);
    let other = Client::new(ClientId::new("other-app"), ClientAuth::None)
        .with_issuer(Issuer::new(ISSUER).unwrap());
    assert!(matches!(
        callback_error(&other, pending, &format!("?code=a&state={state}")),
        Error::Callback(CallbackError::WrongClient)
    ));
    let (_, pending, state, _) = begin(&client);
    let other_issuer = client
        .clone()
        .with_issuer(Issuer::new("https://other.example.com").unwrap());
    assert!(matches!(
        callback_error(&other_issuer, pending, &format!("?code=a&state={state}")),
        Error::Callback(CallbackError::WrongClient)
    ));
}

#[test]
fn the_token_request_repeats_the_redirect_uri_and_sends_the_verifier() {
    let client = base_client(ClientAuth::ClientSecretBasic(ClientSecret::new("s3cr3t")))
        .with_jwks(JwkSet::default());
    let (url, pending, state, _) = begin(&client);
    let challenge = param(&url, "code_challenge").unwrap();
    let mut exchange = pending
        .callback(
            &client,
            &format!("?code=SplxlOBeZQQYbYS6WxSbIA&state={state}"),
        )
        .unwrap();
    let request = sent(exchange.start(NOW).unwrap());
    assert_eq!(request.method(), "POST");
    assert_eq!(request.uri(), "https://op.example.com/token");
    assert!(request.headers()["authorization"].is_sensitive());
    let body = std::str::from_utf8(request.body()).unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["grant_type", "code", "redirect_uri", "code_verifier"]
    );
    assert_eq!(pairs[2].1, REDIRECT, "byte-identical redirect_uri");
    // The verifier sent matches the challenge sent earlier.
    let verifier = &pairs[3].1;
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    assert_eq!(URL_SAFE_NO_PAD.encode(digest.as_ref()), challenge);
    assert!(
        !format!("{exchange:?}").contains("SplxlOBeZQQYbYS6WxSbIA"),
        "the code is redacted"
    );
    // Driving the flow out of order is an error, not a second request.
    assert!(matches!(
        exchange.start(NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    assert!(matches!(
        exchange.handle_timeout(NOW),
        Err(Error::UnexpectedCall { .. })
    ));
}

fn exchange_for(client: &Client) -> (grantflow::CodeExchange, String) {
    let (_, pending, state, nonce) = begin(client);
    let mut exchange = pending
        .callback(client, &format!("?code=c0de&state={state}"))
        .unwrap();
    sent(exchange.start(NOW).unwrap());
    (exchange, nonce)
}

#[test]
fn the_id_token_is_validated_with_lazily_fetched_keys() {
    let key = Key::new(1, "k1");
    let client = client();
    let (mut exchange, nonce) = exchange_for(&client);
    // No keys yet: the flow fetches the key set first.
    let step = exchange
        .handle_response(
            json_response(200, &token_body(&key.sign(&claims(&nonce)))),
            NOW,
        )
        .unwrap();
    let request = sent(step);
    assert_eq!(request.method(), "GET");
    assert_eq!(request.uri(), "https://op.example.com/jwks");
    let sign_in = done(
        exchange
            .handle_response(json_response(200, &jwks(&[&key])), NOW)
            .unwrap(),
    );
    let id_token = sign_in.id_token.unwrap();
    assert_eq!(id_token.subject(), "alice");
    assert_eq!(id_token.claims().iss, ISSUER);
    assert_eq!(sign_in.tokens.access_token.secret(), "at-1");
    // The keys are cached on the client for the next sign-in: no fetch.
    let (mut exchange, nonce) = exchange_for(&client);
    let step = exchange
        .handle_response(
            json_response(200, &token_body(&key.sign(&claims(&nonce)))),
            NOW,
        )
        .unwrap();
    assert!(done(step).id_token.is_some());
}

#[test]
fn key_rotation_refetches_once_then_validates() {
    let old = Key::new(1, "old");
    let new = Key::new(2, "new");
    let client = client();
    // Warm the cache with the old key.
    let (mut exchange, nonce) = exchange_for(&client);
    sent(
        exchange
            .handle_response(
                json_response(200, &token_body(&old.sign(&claims(&nonce)))),
                NOW,
            )
            .unwrap(),
    );
    done(
        exchange
            .handle_response(json_response(200, &jwks(&[&old])), NOW)
            .unwrap(),
    );

    // The provider rotated: a token signed with an unknown kid.
    let (mut exchange, nonce) = exchange_for(&client);
    let request = sent(
        exchange
            .handle_response(
                json_response(200, &token_body(&new.sign(&claims(&nonce)))),
                NOW,
            )
            .unwrap(),
    );
    assert_eq!(request.uri(), "https://op.example.com/jwks");
    let sign_in = done(
        exchange
            .handle_response(json_response(200, &jwks(&[&new, &old])), NOW)
            .unwrap(),
    );
    assert_eq!(sign_in.id_token.unwrap().subject(), "alice");

    // A kid the fresh set still lacks, right after: no second fetch (rate limit).
    let stranger = Key::new(3, "stranger");
    let (mut exchange, nonce) = exchange_for(&client);
    let result = exchange.handle_response(
        json_response(200, &token_body(&stranger.sign(&claims(&nonce)))),
        NOW.saturating_add_secs(10),
    );
    assert!(matches!(
        result,
        Err(Error::Jws(JwsError::NoMatchingKey { kid: Some(ref kid) })) if kid == "stranger"
    ));
    // After the interval, one fetch is allowed again; the key is still unknown.
    let later = NOW.saturating_add_secs(61);
    let (mut exchange, nonce) = exchange_for(&client);
    let mut late_claims = claims(&nonce);
    late_claims["iat"] = json!(later.as_secs());
    late_claims["exp"] = json!(later.as_secs() + 300);
    sent(
        exchange
            .handle_response(
                json_response(200, &token_body(&stranger.sign(&late_claims))),
                later,
            )
            .unwrap(),
    );
    assert!(matches!(
        exchange.handle_response(json_response(200, &jwks(&[&new])), later),
        Err(Error::Jws(JwsError::NoMatchingKey { .. }))
    ));
}

#[test]
fn a_failing_check_inside_the_flow_is_the_validators_error() {
    let key = Key::new(1, "k1");
    let client =
        base_client(ClientAuth::None).with_jwks(JwkSet::from_json(&jwks(&[&key])).unwrap());
    // Wrong nonce.
    let (mut exchange, _) = exchange_for(&client);
    let result = exchange.handle_response(
        json_response(200, &token_body(&key.sign(&claims("not-the-nonce")))),
        NOW,
    );
    assert!(matches!(
        result,
        Err(Error::IdToken(IdTokenError::NonceMismatch))
    ));
    // No id_token although openid was requested.
    let (mut exchange, _) = exchange_for(&client);
    let result = exchange.handle_response(
        json_response(200, br#"{"access_token":"at","token_type":"Bearer"}"#),
        NOW,
    );
    assert!(matches!(
        result,
        Err(Error::IdToken(IdTokenError::NotReturned))
    ));
    // A token endpoint error is the server's error.
    let (mut exchange, _) = exchange_for(&client);
    let result = exchange.handle_response(json_response(400, br#"{"error":"invalid_grant"}"#), NOW);
    assert!(matches!(result, Err(Error::OAuth(ref r)) if r.error == ErrorCode::InvalidGrant));
    // The flow is over: no further response is taken.
    assert!(matches!(
        exchange.handle_response(json_response(200, b"{}"), NOW),
        Err(Error::UnexpectedCall { .. })
    ));
}

#[test]
fn max_age_requires_a_recent_auth_time() {
    let key = Key::new(1, "k1");
    let client =
        base_client(ClientAuth::None).with_jwks(JwkSet::from_json(&jwks(&[&key])).unwrap());
    let run = |auth_time: Option<u64>| {
        let (_, pending) = client
            .authorize(REDIRECT)
            .unwrap()
            .scope(Scope::new("openid").unwrap())
            .max_age(300)
            .begin(&mut Counter(0), NOW)
            .unwrap();
        let (url, _) = client
            .authorize(REDIRECT)
            .unwrap()
            .scope(Scope::new("openid").unwrap())
            .begin(&mut Counter(0), NOW)
            .unwrap();
        // Same generator start, so the same state and nonce.
        let state = param(&url, "state").unwrap();
        let nonce = param(&url, "nonce").unwrap();
        let mut exchange = pending
            .callback(&client, &format!("?code=c&state={state}"))
            .unwrap();
        sent(exchange.start(NOW).unwrap());
        let mut c = claims(&nonce);
        if let Some(at) = auth_time {
            c["auth_time"] = json!(at);
        }
        exchange.handle_response(json_response(200, &token_body(&key.sign(&c))), NOW)
    };
    assert!(run(Some(NOW.as_secs() - 100)).is_ok());
    assert!(matches!(
        run(None),
        Err(Error::IdToken(IdTokenError::MissingClaim {
            claim: "auth_time"
        }))
    ));
    assert!(matches!(
        run(Some(NOW.as_secs() - 1000)),
        Err(Error::IdToken(IdTokenError::AuthenticationTooOld {
            max_age: 300,
            ..
        }))
    ));
}

#[test]
fn a_plain_oauth_request_needs_no_id_token() {
    let client = base_client(ClientAuth::None);
    let (url, pending) = client
        .authorize(REDIRECT)
        .unwrap()
        .scope(Scope::new("api").unwrap())
        .begin(&mut Counter(0), NOW)
        .unwrap();
    let state = param(&url, "state").unwrap();
    let mut exchange = pending
        .callback(&client, &format!("?code=c&state={state}"))
        .unwrap();
    sent(exchange.start(NOW).unwrap());
    let sign_in = done(
        exchange
            .handle_response(
                json_response(200, br#"{"access_token":"at","token_type":"Bearer"}"#),
                NOW,
            )
            .unwrap(),
    );
    assert!(sign_in.id_token.is_none());
    assert!(sign_in.tokens.id_token.is_none());
}

#[test]
fn a_token_without_kid_that_no_cached_key_verifies_refetches_once() {
    let old = Key::new(1, "old");
    let new = Key::new(2, "new");
    let client = base_client(ClientAuth::None)
        .with_jwks_uri(EndpointUrl::parse("https://op.example.com/jwks").unwrap());
    // Warm the cache with the old key.
    let (mut exchange, nonce) = exchange_for(&client);
    sent(
        exchange
            .handle_response(
                json_response(200, &token_body(&old.sign_without_kid(&claims(&nonce)))),
                NOW,
            )
            .unwrap(),
    );
    done(
        exchange
            .handle_response(json_response(200, &jwks(&[&old])), NOW)
            .unwrap(),
    );
    // Rotated to a key this client never saw, and the token names no kid.
    let (mut exchange, nonce) = exchange_for(&client);
    let request = sent(
        exchange
            .handle_response(
                json_response(200, &token_body(&new.sign_without_kid(&claims(&nonce)))),
                NOW,
            )
            .unwrap(),
    );
    assert_eq!(request.uri(), "https://op.example.com/jwks");
    let sign_in = done(
        exchange
            .handle_response(json_response(200, &jwks(&[&new])), NOW)
            .unwrap(),
    );
    assert!(sign_in.id_token.is_some());
    // A forged kid-less token right after: no second fetch, a bad signature.
    let (mut exchange, nonce) = exchange_for(&client);
    let mut forged = new.sign_without_kid(&claims(&nonce));
    forged.replace_range(forged.len() - 2.., "AA");
    assert!(matches!(
        exchange.handle_response(json_response(200, &token_body(&forged)), NOW),
        Err(Error::Jws(JwsError::BadSignature))
    ));
}
