//! OpenID Connect sign-in (OIDC Core §3.1, the authorization code flow with
//! PKCE) end to end, without a browser: grantflow's core driven by the ureq
//! adapter against the bundled OpenID provider on 127.0.0.1.
//!
//! Every sign-in here is the whole thing a relying party does: discovery
//! (metadata, then the JWK Set), the authorization URL, the user's login and
//! consent (done by the harness, [`Provider::login`]), the callback with the
//! URL the provider redirected to, the code exchange over loopback, the ID
//! token validated (OIDC Core §3.1.3.7), and the UserInfo request.
//!
//! Where a test does what an OpenID Foundation relying party conformance test
//! does, its doc comment names that test (`rp-…`), so a reader can see which
//! parts of the certification profile this suite covers.
//!
//! The provider makes each account's `sub` its account id (`findAccount` in
//! `tests/provider/provider.mjs`), so [`ALICE`] signs in as `sub: "alice"`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use grantflow::CallbackError;
use grantflow::JwsError;
use grantflow::{
    Algorithm, Client, ClientAuth, ClientId, ClientSecret, DiscoveredProvider, Discovery,
    ErrorCode, Flow, IdToken, Issuer, PendingSignIn, Scope, SignIn, SignInRequest, TokenType,
    UserInfo,
};
use grantflow_tests::TestClient;
use grantflow_tests::provider::{ALICE, BOB, ES256_APP, Provider, REDIRECT_URI, SPA, WEB_APP};
use grantflow_ureq::{Event, HttpClient, drive, drive_observed, now, os_rng};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// OpenID discovery of `provider` (metadata, then the JWK Set), over loopback.
fn discover(provider: &Provider) -> DiscoveredProvider {
    let issuer = Issuer::new(provider.issuer()).unwrap();
    drive(&HttpClient::new(), Discovery::openid(issuer)).unwrap()
}

/// A grantflow client of the discovered provider for a registered test client.
fn client(discovered: &DiscoveredProvider, test_client: TestClient) -> Client {
    let auth = match (test_client.auth_method, test_client.secret) {
        ("none", None) => ClientAuth::None,
        ("client_secret_basic", Some(secret)) => {
            ClientAuth::ClientSecretBasic(ClientSecret::new(secret))
        }
        other => panic!("{}: no sign-in test uses {other:?}", test_client.id),
    };
    Client::from_provider(discovered, ClientId::new(test_client.id), auth)
}

/// A sign-in request of `client` for `scopes`, back to [`REDIRECT_URI`].
fn authorize(client: &Client, scopes: &[&str]) -> SignInRequest {
    client
        .sign_in(REDIRECT_URI)
        .unwrap()
        .scopes(scopes.iter().map(|scope| Scope::new(*scope).unwrap()))
}

/// [`authorize`], begun: the authorization URL and what to keep until the callback.
fn begin(client: &Client, scopes: &[&str]) -> (Url, PendingSignIn) {
    authorize(client, scopes)
        .begin(&mut os_rng(), now())
        .unwrap()
}

/// The value of the query parameter `name` in `url` (the first, if repeated).
fn param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.into_owned())
}

/// `url` with the query parameter `name` set to `value`, or removed for `None`;
/// the other parameters keep their order.
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut url = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter_map(|(n, v)| match (n == name, value) {
            (false, _) => Some((n, v)),
            (true, Some(value)) => Some((n, value.to_owned())),
            (true, None) => None,
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.into()
}

/// A request as the driver was about to send it.
#[derive(Debug)]
struct Sent {
    method: String,
    uri: String,
    authorization: Option<String>,
    body: String,
}

impl Sent {
    /// The value of the form parameter `name` in the body.
    fn form(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.body.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// Runs `flow` over loopback and records every request it sent.
fn run<F: Flow>(flow: F) -> (Result<F::Output, grantflow_ureq::Error>, Vec<Sent>) {
    let mut sent = Vec::new();
    let result = drive_observed(&HttpClient::new(), flow, |event| {
        if let Event::Sending(request) = event {
            sent.push(Sent {
                method: request.method().to_string(),
                uri: request.uri().to_string(),
                authorization: request
                    .headers()
                    .get("authorization")
                    .map(|value| value.to_str().unwrap().to_owned()),
                body: String::from_utf8(request.body().clone()).unwrap(),
            });
        }
    });
    (result, sent)
}

/// How many of `sent` are GETs of the provider's JWK Set.
fn jwks_fetches(provider: &Provider, sent: &[Sent]) -> usize {
    sent.iter()
        .filter(|request| request.method == "GET" && request.uri == provider.jwks_uri())
        .count()
}

/// One completed sign-in and what was seen on the way.
struct SignedIn {
    /// The authorization URL the user was sent to.
    authorization_url: Url,
    /// Where the provider redirected the user back to.
    location: String,
    /// The code exchange's result.
    sign_in: SignIn,
    /// The requests the code exchange sent.
    exchange: Vec<Sent>,
}

impl SignedIn {
    fn id_token(&self) -> &IdToken {
        &self.sign_in.id_token
    }

    /// The `kid` in the ID token's JOSE header, decoded here independently of grantflow.
    fn kid(&self) -> String {
        let raw = self.id_token().raw().as_str();
        let header = raw.split('.').next().unwrap();
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap())
            .expect("the JOSE header is JSON");
        header["kid"]
            .as_str()
            .expect("the header has a kid")
            .to_owned()
    }
}

/// Signs `account` in with `request`: begin, log in at the provider, callback, code exchange.
fn sign_in_with(
    provider: &Provider,
    client: &Client,
    request: SignInRequest,
    account: &str,
) -> SignedIn {
    let (authorization_url, pending) = request.begin(&mut os_rng(), now()).unwrap();
    let location = provider.login(authorization_url.as_str(), account).unwrap();
    let exchange = pending.callback(client, &location, now()).unwrap();
    let (result, exchange) = run(exchange);
    let sign_in = result.unwrap_or_else(|e| panic!("the code exchange failed: {e}"));
    SignedIn {
        authorization_url,
        location,
        sign_in,
        exchange,
    }
}

/// [`sign_in_with`] a plain request for `scopes`.
fn sign_in(provider: &Provider, client: &Client, scopes: &[&str], account: &str) -> SignedIn {
    sign_in_with(provider, client, authorize(client, scopes), account)
}

/// `at_hash` for `access_token` under a SHA-256 algorithm (RS256, ES256): the base64url
/// of the left half of its SHA-256 (OIDC Core §3.1.3.6), computed here independently.
fn sha256_half_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

/// Everything a correct sign-in of `account` with `test_client` shows, from the
/// authorization URL to the validated ID token.
fn check_sign_in(provider: &Provider, test_client: TestClient, account: &str, signed: &SignedIn) {
    let url = signed.authorization_url.as_str();

    // The authorization request (OIDC Core §3.1.2.1, RFC 7636 §4.3).
    assert!(url.starts_with(&provider.authorization_endpoint()), "{url}");
    assert_eq!(param(url, "response_type").as_deref(), Some("code"));
    assert_eq!(param(url, "client_id").as_deref(), Some(test_client.id));
    assert_eq!(param(url, "redirect_uri").as_deref(), Some(REDIRECT_URI));
    assert_eq!(param(url, "code_challenge_method").as_deref(), Some("S256"));
    let state = param(url, "state").unwrap();
    let nonce = param(url, "nonce").unwrap();
    let challenge = param(url, "code_challenge").unwrap();
    for (name, value) in [("state", &state), ("nonce", &nonce)] {
        assert_eq!(value.len(), 43, "{name}: 256 random bits, base64url");
    }

    // The authorization response (RFC 6749 §4.1.2) with RFC 9207's iss.
    let location = &signed.location;
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?")),
        "{location}"
    );
    assert_eq!(param(location, "state").as_deref(), Some(state.as_str()));
    assert_eq!(param(location, "iss").as_deref(), Some(provider.issuer()));
    let code = param(location, "code").unwrap();

    // The token request (RFC 6749 §4.1.3) is one POST to the token endpoint, and
    // its verifier is the one the challenge was computed from (RFC 7636 §4.6).
    let [token_request] = signed.exchange.as_slice() else {
        panic!("expected one token request, got {:?}", signed.exchange);
    };
    assert_eq!(token_request.method, "POST");
    assert_eq!(token_request.uri, provider.token_endpoint());
    assert_eq!(
        token_request.form("grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(token_request.form("code"), Some(code));
    assert_eq!(
        token_request.form("redirect_uri").as_deref(),
        Some(REDIRECT_URI)
    );
    let verifier = token_request.form("code_verifier").unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        challenge
    );

    // The tokens.
    let tokens = &signed.sign_in.tokens;
    assert_eq!(tokens.token_type, TokenType::Bearer);
    assert!(tokens.expires_at.unwrap() > now());
    let raw = tokens
        .id_token
        .as_ref()
        .expect("an id_token in the response");

    // The validated ID token (OIDC Core §3.1.3.7), checked again here.
    let id_token = signed.id_token();
    assert_eq!(id_token.raw().as_str(), raw.as_str());
    assert_eq!(id_token.subject(), account);
    let claims = id_token.claims();
    assert_eq!(claims.sub, account);
    assert_eq!(claims.iss, provider.issuer());
    assert!(
        claims.aud.iter().any(|aud| aud == test_client.id),
        "{:?}",
        claims.aud
    );
    assert_eq!(claims.nonce.as_deref(), Some(nonce.as_str()));
    assert!(claims.exp > now());
    assert!(claims.iat <= now().saturating_add_secs(5));
    let alg = test_client.id_token_alg.unwrap();
    assert_eq!(id_token.algorithm().name(), alg);
    // oidc-provider puts at_hash in every ID token it returns with an access token.
    assert_eq!(
        claims.at_hash.as_deref(),
        Some(sha256_half_hash(tokens.access_token.secret()).as_str()),
        "at_hash"
    );
}

/// The UserInfo request for a sign-in, and the request it sent.
fn userinfo(client: &Client, signed: &SignedIn) -> (UserInfo, Sent) {
    let flow = client
        .userinfo(&signed.sign_in.tokens, signed.id_token())
        .unwrap();
    let (result, mut sent) = run(flow);
    assert_eq!(sent.len(), 1, "{sent:?}");
    (result.unwrap(), sent.remove(0))
}

/// The callback error in `result`, or a panic saying what came instead.
fn callback_error(result: Result<grantflow::SignInExchange, grantflow::Error>) -> CallbackError {
    match result {
        Err(grantflow::Error::Callback(error)) => error,
        Err(other) => panic!("expected a callback error, got {other}"),
        Ok(exchange) => panic!("expected a callback error, got {exchange:?}"),
    }
}

// ---------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------

/// A public client (no secret; PKCE is all that binds the code to it) signs Alice in
/// and reads her claims.
///
/// OpenID conformance counterparts: rp-discovery-openid-configuration (the metadata
/// document, its issuer identical to the configured one), rp-discovery-jwks_uri-keys (the
/// keys come from `jwks_uri`), rp-response_type-code, rp-scope-userinfo-claims (the
/// `email` scope's claims come back from UserInfo), rp-userinfo-bearer-header (the access
/// token goes in an `Authorization: Bearer` header, not in the URL).
#[test]
fn public_client_signs_in_with_pkce() {
    let provider = Provider::shared();
    let discovered = discover(provider);

    // Discovery.
    let metadata = discovered.metadata();
    assert_eq!(discovered.issuer().as_str(), provider.issuer());
    assert_eq!(
        metadata.authorization_endpoint.as_ref().unwrap().as_str(),
        provider.authorization_endpoint()
    );
    assert_eq!(
        metadata.token_endpoint.as_ref().unwrap().as_str(),
        provider.token_endpoint()
    );
    assert_eq!(
        metadata.userinfo_endpoint.as_ref().unwrap().as_str(),
        provider.userinfo_endpoint()
    );
    assert_eq!(
        metadata.jwks_uri.as_ref().unwrap().as_str(),
        provider.jwks_uri()
    );
    let keys = discovered
        .jwks()
        .expect("openid discovery fetches the JWK Set");
    let kids: Vec<_> = keys.keys().iter().filter_map(|key| key.kid()).collect();
    assert!(kids.len() >= 2, "one RS256 and one ES256 key: {kids:?}");

    let client = client(&discovered, SPA);
    assert!(client.is_public());
    let signed = sign_in(provider, &client, &["openid", "email"], ALICE);
    check_sign_in(provider, SPA, ALICE, &signed);
    assert_eq!(
        param(signed.authorization_url.as_str(), "scope").as_deref(),
        Some("openid email")
    );

    // A public client authenticates with nothing but its id (RFC 6749 §2.1, §3.2.1).
    let token_request = &signed.exchange[0];
    assert_eq!(token_request.authorization, None);
    assert_eq!(token_request.form("client_id").as_deref(), Some(SPA.id));
    assert_eq!(token_request.form("client_secret"), None);
    assert_eq!(signed.id_token().algorithm(), Algorithm::Rs256);
    // The key that signed it is one discovery fetched: no second JWKS request.
    assert!(kids.contains(&signed.kid().as_str()));
    assert_eq!(jwks_fetches(provider, &signed.exchange), 0);

    // UserInfo (OIDC Core §5.3), with a Bearer header (RFC 6750 §2.1).
    let (info, request) = userinfo(&client, &signed);
    assert_eq!(request.method, "GET");
    assert_eq!(request.uri, provider.userinfo_endpoint());
    assert_eq!(
        request.authorization,
        Some(format!(
            "Bearer {}",
            signed.sign_in.tokens.access_token.secret()
        ))
    );
    assert_eq!(info.sub, ALICE);
    assert!(!info.signed);
    assert_eq!(info.string("email"), Some("alice@example.test"));
    assert_eq!(info.claims.get("email_verified"), Some(&Value::Bool(true)));
    // The profile scope was not asked for, so its claims are not released.
    assert_eq!(info.string("name"), None);
}

/// A confidential client authenticates at the token endpoint with HTTP Basic, as it
/// registered (`client_secret_basic`), and never puts its secret in the body.
///
/// OpenID conformance counterpart: rp-token_endpoint-client_secret_basic.
#[test]
fn confidential_client_signs_in_with_client_secret_basic() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, WEB_APP);
    let signed = sign_in(provider, &client, &["openid", "profile"], ALICE);
    check_sign_in(provider, WEB_APP, ALICE, &signed);
    assert_eq!(signed.id_token().algorithm(), Algorithm::Rs256);

    let token_request = &signed.exchange[0];
    let authorization = token_request.authorization.as_deref().unwrap();
    let credentials = authorization.strip_prefix("Basic ").unwrap();
    let credentials = String::from_utf8(STANDARD.decode(credentials).unwrap()).unwrap();
    assert_eq!(
        credentials,
        format!("{}:{}", WEB_APP.id, WEB_APP.secret.unwrap())
    );
    assert_eq!(token_request.form("client_secret"), None);
    assert!(!token_request.body.contains(WEB_APP.secret.unwrap()));

    let (info, _) = userinfo(&client, &signed);
    assert_eq!(info.sub, ALICE);
    assert_eq!(info.string("name"), Some("Alice Example"));
    assert_eq!(info.string("given_name"), Some("Alice"));
    assert_eq!(info.string("email"), None, "email was not asked for");

    // Another user through the same client is another subject.
    let bob = sign_in(provider, &client, &["openid", "email"], BOB);
    check_sign_in(provider, WEB_APP, BOB, &bob);
    let (info, _) = userinfo(&client, &bob);
    assert_eq!(info.sub, BOB);
    assert_eq!(info.string("email"), Some("bob@example.test"));
    assert_eq!(info.claims.get("email_verified"), Some(&Value::Bool(false)));
}

/// A client registered for ES256 ID tokens gets them, and they verify with the
/// provider's P-256 key.
///
/// OpenID conformance counterpart: rp-id_token-sig-es256.
#[test]
fn es256_client_signs_in() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, ES256_APP);
    let signed = sign_in(provider, &client, &["openid"], ALICE);
    check_sign_in(provider, ES256_APP, ALICE, &signed);
    assert_eq!(signed.id_token().algorithm(), Algorithm::Es256);
    let kid = signed.kid();
    let key = discovered
        .jwks()
        .unwrap()
        .keys()
        .iter()
        .find(|key| key.kid() == Some(kid.as_str()))
        .expect("the signing key was discovered");
    assert!(key.supports(Algorithm::Es256));
    assert!(!key.supports(Algorithm::Rs256));

    let (info, _) = userinfo(&client, &signed);
    assert_eq!(info.sub, ALICE);
}

/// `max_age` asks the provider for the time of the login, which the ID token must then
/// carry (OIDC Core §3.1.2.1); the exchange checks it is recent enough (§3.1.3.7 step 13).
///
/// OpenID conformance counterpart: rp-id_token-max_age (hence auth_time).
#[test]
fn max_age_brings_auth_time() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, WEB_APP);
    let before = now();
    let request = authorize(&client, &["openid"]).max_age(300);
    let signed = sign_in_with(provider, &client, request, ALICE);
    check_sign_in(provider, WEB_APP, ALICE, &signed);
    assert_eq!(
        param(signed.authorization_url.as_str(), "max_age").as_deref(),
        Some("300")
    );
    let auth_time = signed.id_token().claims().auth_time.expect("auth_time");
    assert!(before <= auth_time, "{before} <= {auth_time}");
    assert!(auth_time <= now(), "{auth_time} <= now");
}

// ---------------------------------------------------------------------------
// Key rotation
// ---------------------------------------------------------------------------

/// After the provider rotates its signing keys, a client whose cached JWK Set predates
/// the rotation meets an unknown `kid`, fetches the JWK Set exactly once, and signs the
/// user in; the next sign-in uses the refreshed cache (OIDC Core §10.1.1).
///
/// OpenID conformance counterparts: rp-key-rotation-op-sign-key (and its native-app
/// variant, rp-key-rotation-op-sign-key-native: the public client below).
#[test]
fn signing_key_rotation_refetches_the_jwks() {
    // Rotation changes the provider for everyone: a provider of this test's own.
    let provider = Provider::start().unwrap();
    let discovered = discover(&provider);
    let initial_kids: Vec<String> = discovered
        .jwks()
        .unwrap()
        .keys()
        .iter()
        .filter_map(|key| key.kid().map(str::to_owned))
        .collect();
    let web_app = client(&discovered, WEB_APP);
    let spa = client(&discovered, SPA);
    let es256_app = client(&discovered, ES256_APP);

    // Before the rotation: the discovered keys verify, nothing is fetched again.
    let before = sign_in(&provider, &web_app, &["openid"], ALICE);
    check_sign_in(&provider, WEB_APP, ALICE, &before);
    assert!(initial_kids.contains(&before.kid()), "{initial_kids:?}");
    assert_eq!(jwks_fetches(&provider, &before.exchange), 0);

    let new_kids = provider.rotate_signing_keys().unwrap();
    assert_eq!(
        new_kids.len(),
        2,
        "one RS256 and one ES256 key: {new_kids:?}"
    );
    assert!(new_kids.iter().all(|kid| !initial_kids.contains(kid)));
    assert!(
        !web_app
            .keys()
            .keys()
            .iter()
            .any(|key| key.kid() == Some(new_kids[0].as_str()))
    );

    // The same client, its cache stale: the token request, then one JWKS GET.
    for (test_client, client, new_kid) in [
        (WEB_APP, &web_app, &new_kids[0]),
        (SPA, &spa, &new_kids[0]),
        (ES256_APP, &es256_app, &new_kids[1]),
    ] {
        let after = sign_in(&provider, client, &["openid"], ALICE);
        let methods: Vec<_> = after
            .exchange
            .iter()
            .map(|r| (r.method.as_str(), r.uri.as_str()))
            .collect();
        assert_eq!(
            methods,
            [
                ("POST", provider.token_endpoint().as_str()),
                ("GET", provider.jwks_uri().as_str())
            ],
            "{}",
            test_client.id
        );
        assert_eq!(&after.kid(), new_kid, "{}", test_client.id);
        assert_eq!(after.id_token().subject(), ALICE);
        assert_eq!(
            after.id_token().algorithm().name(),
            test_client.id_token_alg.unwrap()
        );
        // The re-fetched keys replaced the cache (shared by every clone of the client).
        assert!(
            client
                .keys()
                .keys()
                .iter()
                .any(|key| key.kid() == Some(new_kid.as_str()))
        );

        // The next sign-in finds the new kid in the cache.
        let again = sign_in(&provider, client, &["openid"], ALICE);
        assert_eq!(&again.kid(), new_kid);
        assert_eq!(
            jwks_fetches(&provider, &again.exchange),
            0,
            "{}",
            test_client.id
        );
    }
}

/// The key-rotation re-fetch is rate-limited ([`grantflow::IdTokenPolicy::jwks_refetch_interval`],
/// 60 s by default), so ID tokens with made-up `kid`s cannot make a client hammer the
/// provider: a second rotation soon after the first leaves the client unable to verify
/// until the interval has passed, and it says which `kid` it lacked. A client that
/// discovers again verifies at once.
#[test]
fn jwks_refetches_are_rate_limited() {
    let provider = Provider::start().unwrap();
    let discovered = discover(&provider);
    let client = client(&discovered, WEB_APP);
    assert_eq!(client.id_token_policy().jwks_refetch_interval, 60);

    let first = provider.rotate_signing_keys().unwrap();
    let signed = sign_in(&provider, &client, &["openid"], ALICE);
    assert_eq!(jwks_fetches(&provider, &signed.exchange), 1);
    assert_eq!(signed.kid(), first[0]);

    let second = provider.rotate_signing_keys().unwrap();
    let (url, pending) = begin(&client, &["openid"]);
    let location = provider.login(url.as_str(), ALICE).unwrap();
    let (result, sent) = run(pending.callback(&client, &location, now()).unwrap());
    assert_eq!(jwks_fetches(&provider, &sent), 0, "{sent:?}");
    match result {
        Err(grantflow_ureq::Error::Flow(grantflow::Error::Jws(JwsError::NoMatchingKey {
            kid,
        }))) => assert_eq!(kid.as_ref(), Some(&second[0])),
        Err(other) => panic!("expected no matching key, got {other}"),
        Ok(sign_in) => panic!("expected no matching key, got {sign_in:?}"),
    }

    let rediscovered = discover(&provider);
    let fresh = self::client(&rediscovered, WEB_APP);
    let signed = sign_in(&provider, &fresh, &["openid"], ALICE);
    assert_eq!(jwks_fetches(&provider, &signed.exchange), 0);
    assert_eq!(signed.kid(), second[0]);
}

// ---------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------

/// A user who cancels the login comes back with `error=access_denied` (RFC 6749
/// §4.1.2.1), which the callback turns into a typed OAuth error — but only after
/// checking `state` and `iss`, which the error redirect carries too: an error that
/// does not answer this request, or comes from another provider, is refused like
/// any forged response.
#[test]
fn denied_login_is_access_denied() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, WEB_APP);

    let (url, pending) = begin(&client, &["openid"]);
    let location = provider.deny(url.as_str()).unwrap();
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?")),
        "{location}"
    );
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&location, "code"), None);
    assert_eq!(param(&location, "state"), param(url.as_str(), "state"));
    assert_eq!(param(&location, "iss").as_deref(), Some(provider.issuer()));
    match pending.callback(&client, &location, now()) {
        Err(grantflow::Error::OAuth(error)) => {
            assert_eq!(error.error, ErrorCode::AccessDenied);
            assert_eq!(
                error.status, None,
                "it came in a redirect, not an HTTP response"
            );
        }
        Err(other) => panic!("expected access_denied, got {other}"),
        Ok(exchange) => panic!("expected access_denied, got {exchange:?}"),
    }

    // The same denial handed to another pending request: its state does not match.
    let (_, other) = begin(&client, &["openid"]);
    assert_eq!(
        callback_error(other.callback(&client, &location, now())),
        CallbackError::StateMismatch
    );

    // A denial naming another issuer (a mix-up, RFC 9207 §2.4).
    let (url, pending) = begin(&client, &["openid"]);
    let location = provider.deny(url.as_str()).unwrap();
    let mixed_up = with_param(&location, "iss", Some("http://127.0.0.1:9"));
    assert_eq!(
        callback_error(pending.callback(&client, &mixed_up, now())),
        CallbackError::IssMismatch {
            expected: provider.issuer().to_owned(),
            found: "http://127.0.0.1:9".to_owned(),
        }
    );
}

/// The provider sends RFC 9207's `iss` in every authorization response and says so in
/// its metadata (`authorization_response_iss_parameter_supported`), so a client made from
/// that metadata requires it: a response without it, or with another issuer, is refused
/// (RFC 9207 §2.4).
#[test]
fn the_issuer_in_the_redirect_is_required_and_checked() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    assert!(
        discovered
            .metadata()
            .authorization_response_iss_parameter_supported
    );
    let client = client(&discovered, SPA);

    let (url, pending) = begin(&client, &["openid"]);
    let location = provider.login(url.as_str(), ALICE).unwrap();
    assert_eq!(param(&location, "iss").as_deref(), Some(provider.issuer()));
    let stripped = with_param(&location, "iss", None);
    assert_eq!(
        callback_error(pending.callback(&client, &stripped, now())),
        CallbackError::MissingIss
    );

    let (url, pending) = begin(&client, &["openid"]);
    let location = provider.login(url.as_str(), ALICE).unwrap();
    let other_issuer = format!("{}/", provider.issuer());
    let mixed_up = with_param(&location, "iss", Some(&other_issuer));
    assert_eq!(
        callback_error(pending.callback(&client, &mixed_up, now())),
        CallbackError::IssMismatch {
            expected: provider.issuer().to_owned(),
            found: other_issuer,
        }
    );
}

/// A callback whose `state` was tampered with, or that answers another authorization
/// request, is refused before any code is redeemed (RFC 6749 §10.12, CSRF); so is a
/// callback without `state`, with `state` twice, or handed to another client.
#[test]
fn replayed_or_forged_callbacks_are_refused() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, WEB_APP);

    // A tampered state.
    let (url, pending) = begin(&client, &["openid"]);
    let location = provider.login(url.as_str(), ALICE).unwrap();
    let mut forged_state = param(&location, "state").unwrap();
    let last = if forged_state.ends_with('A') {
        "B"
    } else {
        "A"
    };
    forged_state.replace_range(forged_state.len() - 1.., last);
    let forged = with_param(&location, "state", Some(&forged_state));
    assert_eq!(
        callback_error(pending.callback(&client, &forged, now())),
        CallbackError::StateMismatch
    );

    // Two requests in flight; the login of one handed to the other.
    let (url_a, pending_a) = begin(&client, &["openid"]);
    let (_url_b, pending_b) = begin(&client, &["openid"]);
    let location_a = provider.login(url_a.as_str(), ALICE).unwrap();
    assert_eq!(
        callback_error(pending_b.callback(&client, &location_a, now())),
        CallbackError::StateMismatch
    );
    // Nothing else was wrong with it: its own request completes.
    let (result, _) = run(pending_a.callback(&client, &location_a, now()).unwrap());
    assert_eq!(result.unwrap().id_token.subject(), ALICE);

    // No state, state twice.
    let (_, pending) = begin(&client, &["openid"]);
    assert_eq!(
        callback_error(pending.callback(&client, &with_param(&location_a, "state", None), now())),
        CallbackError::MissingState
    );
    let (url, pending) = begin(&client, &["openid"]);
    let state = param(url.as_str(), "state").unwrap();
    let twice = format!(
        "{}&state={state}",
        with_param(&location_a, "state", Some(&state))
    );
    assert_eq!(
        callback_error(pending.callback(&client, &twice, now())),
        CallbackError::DuplicateParameter {
            name: "state".to_owned()
        }
    );

    // A request begun by one client, its callback handed to another.
    let spa = self::client(&discovered, SPA);
    let (url, pending) = begin(&spa, &["openid"]);
    let location = provider.login(url.as_str(), ALICE).unwrap();
    assert_eq!(
        callback_error(pending.callback(&client, &location, now())),
        CallbackError::WrongClient
    );
}

/// A code is good for one redemption. `PendingSignIn` is consumed by the
/// callback, so grantflow cannot redeem a code twice from one value; but a session
/// store that hands out the same serialized pending request twice can. The provider
/// then refuses the second redemption with `invalid_grant` and revokes what the code
/// gave the first time (RFC 6749 §4.1.2, §10.5), so the first access token stops
/// working at UserInfo (RFC 6750 §3.1, `invalid_token`).
#[test]
fn a_code_is_redeemed_only_once() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, WEB_APP);

    let (url, pending) = begin(&client, &["openid"]);
    let stored = serde_json::to_string(&pending).unwrap();
    drop(pending);
    let location = provider.login(url.as_str(), ALICE).unwrap();

    let first: PendingSignIn = serde_json::from_str(&stored).unwrap();
    let (result, _) = run(first.callback(&client, &location, now()).unwrap());
    let sign_in = result.unwrap();
    let id_token = &sign_in.id_token;
    drive(
        &HttpClient::new(),
        client.userinfo(&sign_in.tokens, id_token).unwrap(),
    )
    .unwrap();

    let replayed: PendingSignIn = serde_json::from_str(&stored).unwrap();
    let (result, sent) = run(replayed.callback(&client, &location, now()).unwrap());
    assert_eq!(sent.len(), 1, "only the token request: {sent:?}");
    match result {
        Err(grantflow_ureq::Error::Flow(grantflow::Error::OAuth(error))) => {
            assert_eq!(error.error, ErrorCode::InvalidGrant);
            assert_eq!(error.status, Some(400));
        }
        Err(other) => panic!("expected invalid_grant, got {other}"),
        Ok(sign_in) => panic!("expected invalid_grant, got {sign_in:?}"),
    }

    let (result, _) = run(client.userinfo(&sign_in.tokens, id_token).unwrap());
    match result {
        Err(grantflow_ureq::Error::Flow(grantflow::Error::OAuth(error))) => {
            assert_eq!(error.error, ErrorCode::InvalidToken);
            assert_eq!(error.status, Some(401));
        }
        Err(other) => panic!("expected invalid_token, got {other}"),
        Ok(info) => panic!("expected invalid_token, got {info:?}"),
    }
}
