//! The authorization code grant with PKCE and OpenID Connect sign-in, driven
//! with canned responses in fake time: the authorization URL, the callback
//! checks (client, age, state, iss), the code exchange request, ID token
//! validation inside the flow, key rotation and its rate limit; the two
//! entry points (`sign_in`, `authorize`), redirect URIs, pending values in
//! serde, and the flow contract after errors.

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
use grantflow::testing::CountingRng;
use grantflow::{CallbackError, PendingAuthorization, PendingSignIn};
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, CodeExchange, DEFAULT_MAX_PENDING_AGE, EndpointUrl,
    Error, ErrorCode, Flow, HttpRequest, HttpResponse, IdToken, Issuer, JwkSet, PkceMethod,
    PkceVerifier, RedirectUri, Scope, SignIn, SignInExchange, Step, TokenSet, UnixTime,
};
use grantflow::{IdTokenError, IdTokenPolicy};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://op.example.com";
const REDIRECT: &str = "https://app.example.com/cb?tenant=a%20b";

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

fn done<T: std::fmt::Debug>(step: Step<T>) -> T {
    match step {
        Step::Done(output) => output,
        other => panic!("expected the end, got {other:?}"),
    }
}

/// Begins a sign-in; returns the URL, the pending request, state and nonce.
fn begin(client: &Client) -> (url::Url, PendingSignIn, String, String) {
    let (url, pending) = client
        .sign_in(REDIRECT)
        .unwrap()
        .begin(&mut CountingRng::new(0), NOW)
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
        .sign_in(REDIRECT)
        .unwrap()
        .scope(Scope::new("email").unwrap())
        .prompt("login")
        .max_age(600)
        .login_hint("alice@example.com")
        .ui_locales("fr-CA en")
        .acr_values("urn:mace:incommon:iap:silver")
        .resource(url::Url::parse("https://api.example.com/").unwrap())
        .param("display", "page")
        .begin(&mut CountingRng::new(0), NOW)
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
    assert_eq!(pending.issuer().map(Issuer::as_str), Some(ISSUER));
    assert_eq!(pending.redirect_uri().as_str(), REDIRECT);
    assert_eq!(pending.max_age(), Some(600));
    assert_eq!(pending.began_at(), NOW);
    assert_eq!(pending.max_pending_age(), DEFAULT_MAX_PENDING_AGE);
    assert_eq!(pending.expires_at(), NOW.saturating_add_secs(600));
}

#[test]
fn each_request_draws_fresh_values() {
    let client = client();
    let (first, ..) = begin(&client);
    let (second, _) = client
        .sign_in(REDIRECT)
        .unwrap()
        .begin(&mut CountingRng::new(200), NOW)
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
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    assert_eq!(param(&url, "nonce"), None);
    assert_eq!(param(&url, "code_challenge_method").unwrap(), "S256");

    let (url, _) = client()
        .authorize(REDIRECT)
        .unwrap()
        .insecure_pkce_plain()
        .begin(&mut CountingRng::new(0), NOW)
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
        "resource",
        "request",
        "request_uri",
    ] {
        let result = client()
            .authorize(REDIRECT)
            .unwrap()
            .param(reserved, "x")
            .begin(&mut CountingRng::new(0), NOW);
        assert!(
            matches!(result, Err(Error::ReservedParameter { ref name }) if name == reserved),
            "{reserved}"
        );
        let result = client()
            .sign_in(REDIRECT)
            .unwrap()
            .param(reserved, "x")
            .begin(&mut CountingRng::new(0), NOW);
        assert!(
            matches!(result, Err(Error::ReservedParameter { ref name }) if name == reserved),
            "{reserved}"
        );
    }
    // RFC 8707 §2: a resource indicator must not have a fragment.
    let fragment = url::Url::parse("https://api.example.com/#x").unwrap();
    for result in [
        client()
            .authorize(REDIRECT)
            .unwrap()
            .resource(fragment.clone())
            .begin(&mut CountingRng::new(0), NOW)
            .map(|_| ()),
        client()
            .sign_in(REDIRECT)
            .unwrap()
            .resource(fragment.clone())
            .begin(&mut CountingRng::new(0), NOW)
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(Error::InvalidUrl { .. })),
            "{result:?}"
        );
    }
    for (uri, reason) in [
        (
            "http://app.example.com/cb",
            "http is allowed for loopback only",
        ),
        ("https://app.example.com/cb#frag", "it has a fragment"),
        ("/relative", "not an absolute url"),
    ] {
        assert!(
            matches!(client().authorize(uri), Err(Error::InvalidRedirectUri { reason: r }) if r == reason),
            "{uri}"
        );
        assert!(
            matches!(client().sign_in(uri), Err(Error::InvalidRedirectUri { reason: r }) if r == reason),
            "{uri}"
        );
    }
    assert!(matches!(
        client().authorize("javascript:alert(1)"),
        Err(Error::InvalidRedirectUri { .. })
    ));
    // Loopback http and private-use schemes of native apps are fine.
    assert!(client().authorize("http://127.0.0.1:8123/cb").is_ok());
    assert!(
        client()
            .authorize("com.example.app:/oauth2redirect")
            .is_ok()
    );

    // A sign-in needs an issuer to validate the ID token against.
    let no_issuer = Client::new(ClientId::new("web-app"), ClientAuth::None)
        .with_authorization_endpoint(EndpointUrl::parse("https://op.example.com/a").unwrap());
    let result = no_issuer
        .sign_in(REDIRECT)
        .unwrap()
        .begin(&mut CountingRng::new(0), NOW);
    assert!(matches!(result, Err(Error::IssuerNotConfigured)));
    // A plain OAuth request does not.
    assert!(
        no_issuer
            .authorize(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(0), NOW)
            .is_ok()
    );
    let no_endpoint = Client::new(ClientId::new("web-app"), ClientAuth::None);
    assert!(matches!(
        no_endpoint
            .authorize(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(0), NOW),
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
    let restored: PendingSignIn = serde_json::from_str(&stored).unwrap();
    // The restored request still accepts the right callback.
    assert!(
        restored
            .callback(&client, &format!("?code=c&state={state}"), NOW)
            .is_ok()
    );
}

fn callback_error(client: &Client, pending: PendingSignIn, redirect: &str) -> Error {
    pending.callback(client, redirect, NOW).unwrap_err()
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
        let mut exchange = pending.callback(&client, &redirect, NOW).unwrap();
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
            // The newline is shown escaped, never dropped or passed on.
            assert_eq!(response.description.as_deref(), Some("no\\nthanks"));
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
    assert!(pending.callback(&client, &right, NOW).is_ok());
    // Absent iss: fine unless the provider says it sends one.
    let (_, pending, state, _) = begin(&client);
    assert!(
        pending
            .callback(&client, &format!("?code=a&state={state}"), NOW)
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
            NOW,
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

fn exchange_for(client: &Client) -> (SignInExchange, String) {
    let (url, pending, _, _) = begin(client);
    started(client, &url, pending)
}

/// The user came back at once with code `c0de` and the request's `state`:
/// the started exchange, and the `nonce` the ID token must carry.
fn started(client: &Client, url: &url::Url, pending: PendingSignIn) -> (SignInExchange, String) {
    let state = param(url, "state").unwrap();
    let mut exchange = pending
        .callback(client, &format!("?code=c0de&state={state}"), NOW)
        .unwrap();
    sent(exchange.start(NOW).unwrap());
    (exchange, param(url, "nonce").unwrap())
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
    // No `Option`: a sign-in's outcome always has the validated ID token.
    let id_token: IdToken = sign_in.id_token;
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
    assert_eq!(done(step).id_token.subject(), "alice");
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
    assert_eq!(sign_in.id_token.subject(), "alice");

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
        let (url, pending) = client
            .sign_in(REDIRECT)
            .unwrap()
            .max_age(300)
            .begin(&mut CountingRng::new(0), NOW)
            .unwrap();
        let (mut exchange, nonce) = started(&client, &url, pending);
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
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    let state = param(&url, "state").unwrap();
    let mut exchange = pending
        .callback(&client, &format!("?code=c&state={state}"), NOW)
        .unwrap();
    sent(exchange.start(NOW).unwrap());
    let tokens: TokenSet = done(
        exchange
            .handle_response(
                json_response(200, br#"{"access_token":"at","token_type":"Bearer"}"#),
                NOW,
            )
            .unwrap(),
    );
    assert_eq!(tokens.access_token.secret(), "at");
    assert!(tokens.id_token.is_none());
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
    assert_eq!(sign_in.id_token.subject(), "alice");
    // A forged kid-less token right after: no second fetch, a bad signature.
    let (mut exchange, nonce) = exchange_for(&client);
    let mut forged = new.sign_without_kid(&claims(&nonce));
    forged.replace_range(forged.len() - 2.., "AA");
    assert!(matches!(
        exchange.handle_response(json_response(200, &token_body(&forged)), NOW),
        Err(Error::Jws(JwsError::BadSignature))
    ));
}

// ---------------------------------------------------------------------------
// Two entry points: sign_in and authorize
// ---------------------------------------------------------------------------

/// A sign-in through to the end with a cached key: the outcome.
fn signed_in(client: &Client, key: &Key) -> SignIn {
    let (mut exchange, nonce) = exchange_for(client);
    done(
        exchange
            .handle_response(
                json_response(200, &token_body(&key.sign(&claims(&nonce)))),
                NOW,
            )
            .unwrap(),
    )
}

#[test]
fn sign_in_gives_the_validated_id_token_without_an_option() {
    let key = Key::new(1, "k1");
    let client =
        base_client(ClientAuth::None).with_jwks(JwkSet::from_json(&jwks(&[&key])).unwrap());
    let SignIn {
        tokens, id_token, ..
    } = signed_in(&client, &key);
    let id_token: IdToken = id_token;
    assert_eq!(id_token.subject(), "alice");
    assert_eq!(id_token.claims().nonce.as_deref().map(str::len), Some(43));
    // The raw form stays in the token set.
    assert_eq!(
        tokens.id_token.as_ref().unwrap().as_str(),
        id_token.raw().as_str()
    );
    assert_eq!(tokens.access_token.secret(), "at-1");
}

#[test]
fn sign_in_sends_openid_first_and_once_with_a_nonce() {
    for (asked, sent) in [
        (&[][..], "openid"),
        (&["email"][..], "openid email"),
        (&["email", "openid", "profile"][..], "openid email profile"),
        (&["openid"][..], "openid"),
    ] {
        let (url, pending) = client()
            .sign_in(REDIRECT)
            .unwrap()
            .scopes(asked.iter().map(|scope| Scope::new(*scope).unwrap()))
            .begin(&mut CountingRng::new(0), NOW)
            .unwrap();
        assert_eq!(param(&url, "scope").as_deref(), Some(sent), "{asked:?}");
        assert_eq!(param(&url, "nonce").map(|nonce| nonce.len()), Some(43));
        assert_eq!(pending.max_age(), None);
    }
}

#[test]
fn authorize_refuses_openid_at_begin() {
    let requests = [
        client()
            .authorize(REDIRECT)
            .unwrap()
            .scope(Scope::new("openid").unwrap()),
        client()
            .authorize(REDIRECT)
            .unwrap()
            .scopes([Scope::new("api").unwrap(), Scope::new("openid").unwrap()]),
    ];
    for request in requests {
        assert_eq!(
            request.begin(&mut CountingRng::new(0), NOW).unwrap_err(),
            Error::OpenIdNeedsSignIn
        );
    }
    // Only the exact scope token: `openid-like` is just another scope.
    let (url, _) = client()
        .authorize(REDIRECT)
        .unwrap()
        .scope(Scope::new("openid-like").unwrap())
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    assert_eq!(param(&url, "scope").as_deref(), Some("openid-like"));
    assert_eq!(param(&url, "nonce"), None);
}

#[test]
fn a_plain_oauth_exchange_leaves_an_unasked_id_token_unvalidated() {
    // A server that sends an ID token anyway: no validation (it is not even
    // signed by a known key), the raw token stays in the token set.
    let stranger = Key::new(9, "stranger");
    let client = base_client(ClientAuth::None);
    let (url, pending) = client
        .authorize(REDIRECT)
        .unwrap()
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    let state = param(&url, "state").unwrap();
    let mut exchange: CodeExchange = pending
        .callback(&client, &format!("?code=c&state={state}"), NOW)
        .unwrap();
    let request = sent(exchange.start(NOW).unwrap());
    let body = std::str::from_utf8(request.body()).unwrap();
    assert!(body.starts_with("grant_type=authorization_code&code=c&redirect_uri="));
    let raw = stranger.sign(&claims("whatever"));
    let tokens = done(
        exchange
            .handle_response(json_response(200, &token_body(&raw)), NOW)
            .unwrap(),
    );
    assert_eq!(tokens.id_token.unwrap().as_str(), raw);
}

// ---------------------------------------------------------------------------
// The age of a pending value
// ---------------------------------------------------------------------------

/// The callback of a sign-in begun at [`NOW`] with `max_pending_age`
/// (the default when `None`), at `now`.
fn callback_at(max_pending_age: Option<u64>, now: UnixTime) -> Result<SignInExchange, Error> {
    let client = client();
    let mut request = client.sign_in(REDIRECT).unwrap();
    if let Some(seconds) = max_pending_age {
        request = request.max_pending_age(seconds);
    }
    let (url, pending) = request.begin(&mut CountingRng::new(0), NOW).unwrap();
    // Through the session, as a real app would keep it.
    let stored = serde_json::to_string(&pending).unwrap();
    let pending: PendingSignIn = serde_json::from_str(&stored).unwrap();
    let state = param(&url, "state").unwrap();
    pending.callback(&client, &format!("?code=c&state={state}"), now)
}

fn expired(result: Result<SignInExchange, Error>, now: UnixTime) {
    match result {
        Err(Error::Callback(CallbackError::Expired { began_at, now: at })) => {
            assert_eq!(began_at, NOW);
            assert_eq!(at, now);
        }
        other => panic!("expected Expired at {now}, got {other:?}"),
    }
}

#[test]
fn the_default_maximum_age_is_ten_minutes_limit_included() {
    assert_eq!(DEFAULT_MAX_PENDING_AGE, 600);
    assert!(callback_at(None, NOW).is_ok());
    assert!(callback_at(None, NOW.saturating_add_secs(599)).is_ok());
    assert!(callback_at(None, NOW.saturating_add_secs(600)).is_ok());
    let late = NOW.saturating_add_secs(601);
    expired(callback_at(None, late), late);
    let much_later = UnixTime::MAX;
    expired(callback_at(None, much_later), much_later);
}

#[test]
fn a_configured_maximum_age_is_stored_and_honoured() {
    let (_, pending) = client()
        .sign_in(REDIRECT)
        .unwrap()
        .max_pending_age(30)
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    let restored: PendingSignIn =
        serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();
    assert_eq!(restored.max_pending_age(), 30);
    assert_eq!(restored.expires_at(), NOW.saturating_add_secs(30));
    assert!(callback_at(Some(30), NOW.saturating_add_secs(30)).is_ok());
    let late = NOW.saturating_add_secs(31);
    expired(callback_at(Some(30), late), late);
    // A longer age lets a slow user through.
    assert!(callback_at(Some(3600), NOW.saturating_add_secs(3600)).is_ok());
    // Zero: only the instant it began (and the clock skew backwards).
    assert!(callback_at(Some(0), NOW).is_ok());
    let next = NOW.saturating_add_secs(1);
    expired(callback_at(Some(0), next), next);

    // The same for a plain OAuth request.
    let client = client();
    let (url, pending) = client
        .authorize(REDIRECT)
        .unwrap()
        .max_pending_age(30)
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    let state = param(&url, "state").unwrap();
    let late = NOW.saturating_add_secs(31);
    assert_eq!(
        pending
            .callback(&client, &format!("?code=c&state={state}"), late)
            .unwrap_err(),
        Error::Callback(CallbackError::Expired {
            began_at: NOW,
            now: late
        })
    );
}

#[test]
fn a_clock_stepped_back_is_accepted_within_sixty_seconds() {
    let earlier = NOW.saturating_sub_secs(60);
    assert!(callback_at(None, earlier).is_ok());
    let too_early = NOW.saturating_sub_secs(61);
    expired(callback_at(None, too_early), too_early);
    expired(callback_at(None, UnixTime::EPOCH), UnixTime::EPOCH);
}

#[test]
fn an_expired_pending_value_is_refused_before_the_redirect_is_read() {
    // Even an error response, or a forged state: the value is stale first.
    let client = client();
    let late = NOW.saturating_add_secs(601);
    for redirect in ["?error=access_denied&state=forged", "?code=c&state=forged"] {
        let (_, pending, _, _) = begin(&client);
        assert!(
            matches!(
                pending.callback(&client, redirect, late),
                Err(Error::Callback(CallbackError::Expired { .. }))
            ),
            "{redirect}"
        );
    }
}

// ---------------------------------------------------------------------------
// The authorization endpoint's own parameters
// ---------------------------------------------------------------------------

fn with_authorization_endpoint(endpoint: &str) -> Client {
    client().with_authorization_endpoint(EndpointUrl::parse(endpoint).unwrap())
}

#[test]
fn an_endpoint_carrying_a_parameter_the_flow_sets_is_refused() {
    for name in [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "nonce",
        "prompt",
        "max_age",
        "login_hint",
        "ui_locales",
        "acr_values",
        "resource",
        "request",
        "request_uri",
    ] {
        let client = with_authorization_endpoint(&format!(
            "https://op.example.com/authorize?tenant=a&{name}=x"
        ));
        let want = Error::EndpointParameterConflict {
            endpoint: "authorization_endpoint",
            name: name.to_owned(),
        };
        let sign_in = client
            .sign_in(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(0), NOW);
        assert_eq!(sign_in.unwrap_err(), want, "{name}");
        let authorize = client
            .authorize(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(0), NOW);
        assert_eq!(authorize.unwrap_err(), want, "{name}");
    }
    // Percent-encoded names are the same names once decoded.
    let client = with_authorization_endpoint("https://op.example.com/authorize?%73tate=x");
    assert_eq!(
        client
            .sign_in(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(0), NOW)
            .unwrap_err(),
        Error::EndpointParameterConflict {
            endpoint: "authorization_endpoint",
            name: "state".to_owned()
        }
    );
}

#[test]
fn an_endpoints_other_parameters_are_kept_first() {
    for (endpoint, kept) in [
        (
            "https://op.example.com/authorize?tenant=a",
            &[("tenant", "a")][..],
        ),
        // Azure AD B2C names the user flow in the endpoint's query.
        (
            "https://tenant.b2clogin.com/tenant.onmicrosoft.com/oauth2/v2.0/authorize?p=B2C_1_signin",
            &[("p", "B2C_1_signin")][..],
        ),
        (
            "https://op.example.com/authorize?a=1&b=2&statex=3",
            &[("a", "1"), ("b", "2"), ("statex", "3")][..],
        ),
    ] {
        let client = with_authorization_endpoint(endpoint);
        let (url, _) = client
            .sign_in(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(0), NOW)
            .unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        for (index, (name, value)) in kept.iter().enumerate() {
            assert_eq!(pairs[index], ((*name).to_owned(), (*value).to_owned()));
        }
        assert_eq!(pairs[kept.len()].0, "response_type", "{endpoint}");
        assert!(url.as_str().starts_with(endpoint));
    }
}

// ---------------------------------------------------------------------------
// Redirect URIs
// ---------------------------------------------------------------------------

#[test]
fn redirect_uris_are_accepted_or_refused_by_the_rules() {
    for ok in [
        "https://app.example.com/callback",
        "https://app.example.com/cb?tenant=a%20b",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:49152/cb",
        "http://[::1]:8080/cb",
        "http://localhost/cb",
        "http://localhost:3000/cb",
        "com.example.app:/oauth2redirect/example-provider",
        "com.example.app://callback",
        "net.example.native:/cb",
    ] {
        let uri = RedirectUri::new(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(uri.as_str(), ok, "kept byte for byte");
        assert_eq!(uri.to_string(), ok);
        // Both entry points take a string, or the checked type.
        assert!(client().sign_in(ok).is_ok(), "{ok}");
        assert!(client().authorize(ok).is_ok(), "{ok}");
        assert!(client().sign_in(&uri).is_ok(), "{ok}");
        assert!(client().authorize(uri).is_ok(), "{ok}");
    }
    for bad in [
        "http://app.example.com/cb",
        "http://localhost.evil.com/cb",
        "http://127.0.0.1.nip.io/cb",
        "http://10.0.0.1/cb",
        "https://app.example.com/cb#fragment",
        "https://app.example.com/cb#",
        "com.example.app:/cb#x",
        "myapp:/cb",
        "javascript:alert(1)",
        "data:text/html,<script>",
        "file:///etc/passwd",
        "/relative/cb",
        "app.example.com/cb",
        "",
        "https:/app.example.com/cb",
        "https:///cb",
        "https://app.example.com/c b",
        "https://app.example.com/cb\n",
        "https://app.example.com\\@evil.example/cb",
    ] {
        assert!(
            matches!(RedirectUri::new(bad), Err(Error::InvalidRedirectUri { .. })),
            "{bad:?}"
        );
        assert!(
            matches!(client().sign_in(bad), Err(Error::InvalidRedirectUri { .. })),
            "{bad:?}"
        );
        assert!(
            matches!(
                client().authorize(bad),
                Err(Error::InvalidRedirectUri { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn a_redirect_uri_is_sent_and_repeated_byte_for_byte() {
    // Upper-case host and scheme, an explicit default port: a URL parser
    // would normalise them; the requests carry them as given.
    let given = "HTTPS://App.Example.com:443/cb?x=%7e";
    let client = client();
    let (url, pending) = client
        .authorize(RedirectUri::new(given).unwrap())
        .unwrap()
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    assert_eq!(param(&url, "redirect_uri").as_deref(), Some(given));
    assert_eq!(pending.redirect_uri(), &given);
    let state = param(&url, "state").unwrap();
    let mut exchange = pending
        .callback(&client, &format!("?code=c&state={state}"), NOW)
        .unwrap();
    let request = sent(exchange.start(NOW).unwrap());
    let redirect_uri = url::form_urlencoded::parse(request.body())
        .find(|(name, _)| name == "redirect_uri")
        .map(|(_, value)| value.into_owned());
    assert_eq!(redirect_uri.as_deref(), Some(given));
}

// ---------------------------------------------------------------------------
// Pending values in the session
// ---------------------------------------------------------------------------

#[test]
fn pending_values_round_trip_through_serde_and_hide_their_secrets() {
    let client = client();
    // A sign-in.
    let (url, pending) = client
        .sign_in(REDIRECT)
        .unwrap()
        .max_age(300)
        .max_pending_age(120)
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    let state = param(&url, "state").unwrap();
    let nonce = param(&url, "nonce").unwrap();
    let stored = serde_json::to_string(&pending).unwrap();
    let restored: PendingSignIn = serde_json::from_str(&stored).unwrap();
    assert_eq!(serde_json::to_string(&restored).unwrap(), stored);
    assert_eq!(restored.issuer().map(Issuer::as_str), Some(ISSUER));
    assert_eq!(restored.redirect_uri().as_str(), REDIRECT);
    assert_eq!(restored.began_at(), NOW);
    assert_eq!(restored.max_age(), Some(300));
    assert_eq!(restored.max_pending_age(), 120);
    let debug = format!("{restored:?}");
    assert!(debug.starts_with("PendingSignIn {"), "{debug}");
    assert!(
        !debug.contains(&state) && !debug.contains(&nonce),
        "{debug}"
    );
    let mut exchange = restored
        .callback(&client, &format!("?code=c0de&state={state}"), NOW)
        .unwrap();
    let debug = format!("{exchange:?}");
    assert!(debug.starts_with("SignInExchange {"), "{debug}");
    assert!(!debug.contains("c0de") && !debug.contains(&nonce) && !debug.contains(&state));
    let verifier = {
        let request = sent(exchange.start(NOW).unwrap());
        url::form_urlencoded::parse(request.body())
            .find(|(name, _)| name == "code_verifier")
            .map(|(_, value)| value.into_owned())
            .unwrap()
    };
    assert!(!stored.is_empty() && !format!("{exchange:?}").contains(&verifier));

    // A plain OAuth request.
    let (url, pending) = client
        .authorize(REDIRECT)
        .unwrap()
        .begin(&mut CountingRng::new(50), NOW)
        .unwrap();
    let state = param(&url, "state").unwrap();
    let stored = serde_json::to_string(&pending).unwrap();
    let restored: PendingAuthorization = serde_json::from_str(&stored).unwrap();
    assert_eq!(serde_json::to_string(&restored).unwrap(), stored);
    let debug = format!("{restored:?}");
    assert!(debug.starts_with("PendingAuthorization {"), "{debug}");
    assert!(!debug.contains(&state), "{debug}");
    let exchange = restored
        .callback(&client, &format!("?code=c0de&state={state}"), NOW)
        .unwrap();
    let debug = format!("{exchange:?}");
    assert!(debug.starts_with("CodeExchange {"), "{debug}");
    assert!(!debug.contains("c0de") && !debug.contains(&state));
}

#[test]
fn a_tampered_pending_value_is_refused_on_deserialize() {
    let (_, sign_in) = client()
        .sign_in(REDIRECT)
        .unwrap()
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    let (_, authorization) = client()
        .authorize(REDIRECT)
        .unwrap()
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    let sign_in: Value = serde_json::to_value(&sign_in).unwrap();
    let authorization: Value = serde_json::to_value(&authorization).unwrap();
    for bad in [
        "https://evil.example.com/cb#x",
        "http://evil.example.com/cb",
        "javascript:alert(1)",
        "myapp:/cb",
    ] {
        let mut tampered = sign_in.clone();
        tampered["request"]["redirect_uri"] = json!(bad);
        let error = serde_json::from_value::<PendingSignIn>(tampered).unwrap_err();
        assert!(
            error.to_string().contains("invalid redirect uri"),
            "{error}"
        );
        let mut tampered = authorization.clone();
        tampered["redirect_uri"] = json!(bad);
        let error = serde_json::from_value::<PendingAuthorization>(tampered).unwrap_err();
        assert!(
            error.to_string().contains("invalid redirect uri"),
            "{error}"
        );
    }
    // The issuer is checked again too.
    let mut tampered = sign_in.clone();
    tampered["request"]["issuer"] = json!("http://op.example.com");
    assert!(serde_json::from_value::<PendingSignIn>(tampered).is_err());
    // One kind is never read as the other: a stored sign-in cannot become a
    // plain authorization that skips the ID token, nor the reverse.
    assert!(serde_json::from_value::<PendingAuthorization>(sign_in.clone()).is_err());
    assert!(serde_json::from_value::<PendingSignIn>(authorization.clone()).is_err());
    // The untampered values are fine.
    assert!(serde_json::from_value::<PendingSignIn>(sign_in).is_ok());
    assert!(serde_json::from_value::<PendingAuthorization>(authorization).is_ok());
}

// ---------------------------------------------------------------------------
// The flow contract: after an error, every further call is an error
// ---------------------------------------------------------------------------

/// Every call on `flow` now: an error, never a request or a result.
fn all_calls_fail<F: Flow>(flow: &mut F, what: &str)
where
    F::Output: std::fmt::Debug,
{
    let ok_body = token_body("x.y.z");
    for _ in 0..2 {
        assert!(
            matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })),
            "{what}: start"
        );
        assert!(
            matches!(
                flow.handle_response(json_response(200, &ok_body), NOW),
                Err(Error::UnexpectedCall { .. })
            ),
            "{what}: handle_response"
        );
        assert!(
            matches!(flow.handle_timeout(NOW), Err(Error::UnexpectedCall { .. })),
            "{what}: handle_timeout"
        );
    }
}

/// A fresh sign-in exchange and a fresh plain one, for `client`.
fn exchanges(client: &Client) -> (SignInExchange, CodeExchange) {
    let (url, pending) = client
        .sign_in(REDIRECT)
        .unwrap()
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    let state = param(&url, "state").unwrap();
    let sign_in = pending
        .callback(client, &format!("?code=c&state={state}"), NOW)
        .unwrap();
    let (url, pending) = client
        .authorize(REDIRECT)
        .unwrap()
        .begin(&mut CountingRng::new(0), NOW)
        .unwrap();
    let state = param(&url, "state").unwrap();
    let plain = pending
        .callback(client, &format!("?code=c&state={state}"), NOW)
        .unwrap();
    (sign_in, plain)
}

#[test]
fn after_an_error_every_further_call_is_an_error() {
    let key = Key::new(1, "k1");
    let client =
        base_client(ClientAuth::None).with_jwks(JwkSet::from_json(&jwks(&[&key])).unwrap());

    // Started twice.
    let (mut sign_in, mut plain) = exchanges(&client);
    sent(sign_in.start(NOW).unwrap());
    sent(plain.start(NOW).unwrap());
    all_calls_fail(&mut sign_in, "sign-in started twice");
    all_calls_fail(&mut plain, "plain started twice");

    // handle_response after the server said no.
    let (mut sign_in, mut plain) = exchanges(&client);
    sent(sign_in.start(NOW).unwrap());
    sent(plain.start(NOW).unwrap());
    let refused = || json_response(400, br#"{"error":"invalid_grant"}"#);
    assert!(matches!(
        sign_in.handle_response(refused(), NOW),
        Err(Error::OAuth(_))
    ));
    assert!(matches!(
        plain.handle_response(refused(), NOW),
        Err(Error::OAuth(_))
    ));
    all_calls_fail(&mut sign_in, "sign-in after invalid_grant");
    all_calls_fail(&mut plain, "plain after invalid_grant");

    // handle_response after a failed ID token check.
    let (mut sign_in, _) = exchanges(&client);
    sent(sign_in.start(NOW).unwrap());
    let forged = token_body(&key.sign(&claims("another nonce")));
    assert!(matches!(
        sign_in.handle_response(json_response(200, &forged), NOW),
        Err(Error::IdToken(IdTokenError::NonceMismatch))
    ));
    all_calls_fail(&mut sign_in, "sign-in after a nonce mismatch");

    // handle_timeout: these flows never wait.
    let (mut sign_in, mut plain) = exchanges(&client);
    assert!(matches!(
        sign_in.handle_timeout(NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    assert!(matches!(
        plain.handle_timeout(NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    all_calls_fail(&mut sign_in, "sign-in after handle_timeout");
    all_calls_fail(&mut plain, "plain after handle_timeout");

    // handle_response before start.
    let (mut sign_in, mut plain) = exchanges(&client);
    let ok = json_response(200, &token_body("x.y.z"));
    assert!(matches!(
        sign_in.handle_response(ok, NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    let ok = json_response(200, br#"{"access_token":"at","token_type":"Bearer"}"#);
    assert!(matches!(
        plain.handle_response(ok, NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    all_calls_fail(&mut sign_in, "sign-in after an early response");
    all_calls_fail(&mut plain, "plain after an early response");

    // A start that fails (no token endpoint) does not leave a second chance.
    let no_token_endpoint = Client::new(ClientId::new("web-app"), ClientAuth::None)
        .with_issuer(Issuer::new(ISSUER).unwrap())
        .with_authorization_endpoint(
            EndpointUrl::parse("https://op.example.com/authorize").unwrap(),
        );
    let (mut sign_in, mut plain) = exchanges(&no_token_endpoint);
    let missing = Error::MissingEndpoint {
        endpoint: "token_endpoint",
    };
    assert_eq!(sign_in.start(NOW).unwrap_err(), missing);
    assert_eq!(plain.start(NOW).unwrap_err(), missing);
    all_calls_fail(&mut sign_in, "sign-in after a failed start");
    all_calls_fail(&mut plain, "plain after a failed start");

    // And after success, the flow is over too.
    let (mut sign_in, mut plain) = exchanges(&client);
    sent(plain.start(NOW).unwrap());
    done(
        plain
            .handle_response(
                json_response(200, br#"{"access_token":"at","token_type":"Bearer"}"#),
                NOW,
            )
            .unwrap(),
    );
    all_calls_fail(&mut plain, "plain after the end");
    sent(sign_in.start(NOW).unwrap());
    let (_, _, _, nonce) = begin(&client);
    done(
        sign_in
            .handle_response(
                json_response(200, &token_body(&key.sign(&claims(&nonce)))),
                NOW,
            )
            .unwrap(),
    );
    all_calls_fail(&mut sign_in, "sign-in after the end");
}

#[test]
fn the_acr_values_sent_are_required_back_when_the_policy_says_so() {
    // OIDC Core §3.1.3.7 step 12: with `acr_values` sent and the policy
    // requiring it, an `acr` outside them (or none) refuses the sign-in;
    // without the policy a different `acr` is the provider's call.
    let key = Key::new(1, "k1");
    let jwks = JwkSet::from_json(&jwks(&[&key])).unwrap();
    let run = |require: bool, acr: Option<&str>| {
        let policy = IdTokenPolicy::default()
            .with_algorithms([grantflow::Algorithm::EdDsa])
            .with_acr_required(require);
        let client = base_client(ClientAuth::None)
            .with_jwks(jwks.clone())
            .with_id_token_policy(policy);
        let (url, pending) = client
            .sign_in(REDIRECT)
            .unwrap()
            .acr_values("urn:gold urn:silver")
            .begin(&mut CountingRng::new(0), NOW)
            .unwrap();
        assert_eq!(pending.acr_values(), Some("urn:gold urn:silver"));
        let (mut exchange, nonce) = started(&client, &url, pending);
        let mut claims = claims(&nonce);
        if let Some(acr) = acr {
            claims["acr"] = json!(acr);
        }
        exchange.handle_response(json_response(200, &token_body(&key.sign(&claims))), NOW)
    };
    assert!(run(true, Some("urn:silver")).is_ok());
    assert!(matches!(
        run(true, Some("urn:bronze")),
        Err(Error::IdToken(IdTokenError::AcrMismatch { found: Some(acr) })) if acr == "urn:bronze"
    ));
    assert!(matches!(
        run(true, None),
        Err(Error::IdToken(IdTokenError::AcrMismatch { found: None }))
    ));
    assert!(run(false, Some("urn:bronze")).is_ok());
}

#[test]
fn an_id_token_quoting_the_verifier_is_withheld() {
    // The ID token check quotes the `iss` it refuses: a server echoing the
    // code verifier the token request carried must not have it shown.
    let key = Key::new(1, "k1");
    let client =
        base_client(ClientAuth::None).with_jwks(JwkSet::from_json(&jwks(&[&key])).unwrap());
    let (url, pending, state, nonce) = begin(&client);
    let mut exchange = pending
        .callback(&client, &format!("?code=c0de&state={state}"), NOW)
        .unwrap();
    let request = sent(exchange.start(NOW).unwrap());
    let verifier = url::form_urlencoded::parse(request.body())
        .find(|(name, _)| name == "code_verifier")
        .unwrap()
        .1
        .into_owned();
    assert!(verifier.len() >= 43, "{url}");
    let mut claims = claims(&nonce);
    claims["iss"] = json!(format!("https://op.example.com/{verifier}"));
    let error = exchange
        .handle_response(json_response(200, &token_body(&key.sign(&claims))), NOW)
        .unwrap_err();
    assert!(
        matches!(error, Error::IdToken(IdTokenError::IssuerMismatch { .. })),
        "{error:?}"
    );
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains(&verifier), "{shown}");
    }
}
