//! The OpenID Connect relying-party conformance tests, ported: each test
//! plays the OpenID provider of one test of the OpenID Foundation's RP
//! suites (the python `rohe/oidctest` names, `rp-*`, and the Java
//! `openid-certification/conformance-suite` modules, `oidcc-client-test-*`)
//! with crafted responses signed by test keys, and drives the real client
//! flows end to end in fake time:
//!
//! ```text
//!  Discovery::openid ──▶ GET {issuer}/.well-known/openid-configuration ──▶ GET jwks_uri
//!        │
//!  Client::from_provider ──▶ sign_in().begin() ──▶ authorization URL
//!        │
//!  PendingSignIn::callback(code, state, iss, now) ──▶ POST token endpoint
//!        │         (an unknown kid: GET jwks_uri once more)
//!        ▼
//!  SignIn { tokens, id_token } ──▶ Client::userinfo ──▶ GET userinfo endpoint
//! ```
//!
//! As in the hosted suites, every test has an issuer of its own
//! (`https://op.example.com/grantflow/{test}`), and the `jwks_uri` its
//! discovery document names changes from one run of the provider to the next.
//! A test is named after its python test in snake case; the doc comment names
//! the Java module. Negative tests assert the exact typed error.
//!
//! Not covered yet, because the feature is not built:
//!
//! - the refresh grant (a later issue): `oidcc-client-test-refresh-token`,
//!   `-refresh-token-invalid-issuer`, `-refresh-token-invalid-sub`,
//!   `-refresh-token-invalid-aud`, `-refresh-token-invalid-azp`;
//! - client authentication by JWT: rp-token_endpoint-client_secret_jwt,
//!   rp-token_endpoint-private_key_jwt;
//! - `response_mode=form_post`: rp-response_mode-form_post-error
//!   (`oidcc-client-test-form-post-error`);
//! - WebFinger: rp-discovery-webfinger-http-href and the other
//!   `-discovery-webfinger-*` tests;
//! - implicit and hybrid response types, where `at_hash`, `c_hash` and
//!   `nonce` become required: grantflow implements only the code flow.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use grantflow::JwsError;
use grantflow::PendingSignIn;
use grantflow::testing::CountingRng;
use grantflow::{
    Algorithm, Client, ClientAuth, ClientId, ClientSecret, DiscoveredProvider, Discovery, Error,
    Flow, HttpRequest, HttpResponse, Issuer, Scope, SignIn, Step, UnixTime, UserInfo,
};
use grantflow::{IdTokenError, IdTokenPolicy};
use grantflow_tests::jose::{TestKey, jwks, tamper, unsigned};
use http::{HeaderMap, Method};
use serde_json::{Value, json};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const CLIENT_ID: &str = "grantflow-rp";
/// At least 32 octets, so it can key HS256 (RFC 7518 §3.2).
const SECRET: &str = "a client secret of at least 32 octets, for HS256";
const REDIRECT: &str = "https://rp.example.org/callback";
const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA";
const ACCESS_TOKEN: &str = "SlAV32hkKG";
const SUBJECT: &str = "248289761001";

// ---------------------------------------------------------------------------
// The provider

/// A request the provider received.
#[derive(Debug)]
struct Seen {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    /// The form body's parameters, in order.
    fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    fn param(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// A canned OpenID provider: serves its discovery document, its JWK set,
/// the token response a test put in, and UserInfo; records every request.
struct Op {
    /// The issuer the client is configured with.
    issuer: String,
    /// The `issuer` the discovery document claims (the real one unless a
    /// test lies).
    metadata_issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    /// Which run of the provider this is: part of the `jwks_uri`.
    run: u32,
    /// `id_token_signing_alg_values_supported`.
    algs: Vec<String>,
    /// What `jwks_uri` serves right now.
    jwks: Vec<u8>,
    /// The token endpoint's answer (JSON).
    token_body: Option<Vec<u8>>,
    /// The UserInfo endpoint's answer (JSON).
    userinfo: Value,
    /// Authorization requests begun, to seed each one's generator.
    logins: u8,
    log: Vec<Seen>,
}

impl Op {
    /// The provider of test `test`, publishing `keys` and listing their
    /// algorithms as its ID token signing algorithms.
    fn new(test: &str, keys: &[&TestKey]) -> Op {
        let issuer = format!("https://op.example.com/grantflow/{test}");
        let mut algs: Vec<String> = Vec::new();
        for key in keys {
            if !algs.iter().any(|alg| alg == key.alg()) {
                algs.push(key.alg().to_owned());
            }
        }
        Op {
            metadata_issuer: issuer.clone(),
            authorization_endpoint: format!("{issuer}/authorize"),
            token_endpoint: format!("{issuer}/token"),
            userinfo_endpoint: format!("{issuer}/userinfo"),
            issuer,
            run: 1,
            algs,
            jwks: jwks(keys),
            token_body: None,
            userinfo: json!({
                "sub": SUBJECT,
                "name": "Jane Doe",
                "given_name": "Jane",
                "family_name": "Doe",
                "email": "janedoe@example.com",
                "email_verified": true,
            }),
            logins: 0,
            log: Vec::new(),
        }
    }

    fn with_algs(mut self, algs: &[&str]) -> Op {
        self.algs = algs.iter().map(|alg| (*alg).to_owned()).collect();
        self
    }

    fn well_known(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Changes with every run of the provider.
    fn jwks_uri(&self) -> String {
        format!("{}/jwks/run-{}.json", self.issuer, self.run)
    }

    fn document(&self) -> Value {
        json!({
            "issuer": self.metadata_issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": self.userinfo_endpoint,
            "jwks_uri": self.jwks_uri(),
            "scopes_supported": ["openid", "profile", "email"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": self.algs,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub", "name", "given_name", "family_name", "email", "email_verified",
            ],
            "authorization_response_iss_parameter_supported": true,
        })
    }

    /// Answers one request, as the provider's HTTP server would.
    fn serve(&mut self, request: HttpRequest) -> HttpResponse {
        let (parts, body) = request.into_parts();
        let uri = parts.uri.to_string();
        let answer = if uri == self.well_known() {
            assert_eq!(parts.method, Method::GET);
            self.document().to_string().into_bytes()
        } else if uri == self.jwks_uri() {
            assert_eq!(parts.method, Method::GET);
            self.jwks.clone()
        } else if uri == self.token_endpoint {
            assert_eq!(parts.method, Method::POST);
            self.token_body
                .clone()
                .expect("the test gave the provider a token response")
        } else if uri == self.userinfo_endpoint {
            assert_eq!(parts.method, Method::GET);
            self.userinfo.to_string().into_bytes()
        } else {
            panic!("the provider has nothing at {uri}");
        };
        self.log.push(Seen {
            method: parts.method,
            uri,
            headers: parts.headers,
            body,
        });
        http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("cache-control", "no-store")
            .body(answer)
            .unwrap()
    }

    /// The token endpoint answers with this ID token (and an access token).
    fn issue(&mut self, id_token: &str) {
        self.token_body = Some(
            json!({
                "access_token": ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": 3600,
                "id_token": id_token,
            })
            .to_string()
            .into_bytes(),
        );
    }

    /// Runs OpenID discovery for this provider's issuer against it.
    fn discover(&mut self) -> Result<DiscoveredProvider, Error> {
        let mut discovery = Discovery::openid(Issuer::new(self.issuer.as_str()).unwrap());
        drive(&mut discovery, self, NOW)
    }

    /// A confidential client of this provider (discovered), authenticating
    /// with `client_secret_basic`.
    fn client(&mut self) -> Client {
        let provider = self.discover().unwrap();
        client_of(&provider, basic())
    }

    /// Begins an authorization request with these scopes at [`NOW`].
    fn login(&mut self, client: &Client, scopes: &[&str]) -> Login {
        self.login_at(client, scopes, NOW)
    }

    fn login_at(&mut self, client: &Client, scopes: &[&str], now: UnixTime) -> Login {
        let mut request = client.sign_in(REDIRECT).unwrap();
        for scope in scopes {
            request = request.scope(Scope::new(*scope).unwrap());
        }
        let mut rng = CountingRng::new(self.logins.wrapping_mul(97));
        self.logins = self.logins.wrapping_add(1);
        let (url, pending) = request.begin(&mut rng, now).unwrap();
        let state = param(&url, "state").expect("every request has a state");
        let nonce = param(&url, "nonce").unwrap_or_default();
        Login {
            url,
            pending,
            state,
            nonce,
            issuer: client.issuer().unwrap().as_str().to_owned(),
            client_id: client.client_id().as_str().to_owned(),
            now,
        }
    }

    /// The requests made to `uri`.
    fn requests_to(&self, uri: &str) -> Vec<&Seen> {
        self.log.iter().filter(|seen| seen.uri == uri).collect()
    }

    fn jwks_fetches(&self) -> usize {
        self.requests_to(&self.jwks_uri()).len()
    }
}

fn basic() -> ClientAuth {
    ClientAuth::ClientSecretBasic(ClientSecret::new(SECRET))
}

fn client_of(provider: &DiscoveredProvider, auth: ClientAuth) -> Client {
    Client::from_provider(provider, ClientId::new(CLIENT_ID), auth)
}

/// Runs `flow` to its end against `op`, the way an adapter's driver does.
fn drive<F: Flow>(flow: &mut F, op: &mut Op, now: UnixTime) -> Result<F::Output, Error> {
    let mut step = flow.start(now)?;
    loop {
        step = match step {
            Step::Send(request) => flow.handle_response(op.serve(request), now)?,
            Step::Done(output) => return Ok(output),
            Step::WaitUntil(_) => panic!("none of these flows waits"),
        };
    }
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// An authorization request on its way: the URL the user is sent to, and
/// what the RP keeps in the session.
struct Login {
    url: url::Url,
    pending: PendingSignIn,
    state: String,
    nonce: String,
    issuer: String,
    client_id: String,
    now: UnixTime,
}

impl Login {
    /// The claims of a valid ID token for this request.
    fn claims(&self) -> Value {
        let now = self.now.as_secs();
        json!({
            "iss": self.issuer,
            "sub": SUBJECT,
            "aud": self.client_id,
            "exp": now + 600,
            "iat": now,
            "auth_time": now - 5,
            "nonce": self.nonce,
        })
    }

    /// The user comes back with the code, the right `state` and RFC 9207
    /// `iss`; the code exchange runs against `op`.
    fn finish(self, client: &Client, op: &mut Op) -> Result<SignIn, Error> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("code", CODE)
            .append_pair("state", &self.state)
            .append_pair("iss", &self.issuer)
            .finish();
        let mut exchange =
            self.pending
                .callback(client, &format!("{REDIRECT}?{query}"), self.now)?;
        drive(&mut exchange, op, self.now)
    }
}

/// The user's claims from UserInfo, after a sign-in.
fn userinfo(client: &Client, sign_in: &SignIn, op: &mut Op) -> Result<UserInfo, Error> {
    let mut request = client.userinfo(&sign_in.tokens, &sign_in.id_token)?;
    drive(&mut request, op, NOW)
}

fn id_token_error<T: std::fmt::Debug>(result: Result<T, Error>) -> IdTokenError {
    match result {
        Err(Error::IdToken(error)) => error,
        other => panic!("expected Error::IdToken, got {other:?}"),
    }
}

fn jws_error<T: std::fmt::Debug>(result: Result<T, Error>) -> JwsError {
    match result {
        Err(Error::Jws(error)) => error,
        other => panic!("expected Error::Jws, got {other:?}"),
    }
}

/// `base64url(left half of SHA-256(value))`: `at_hash` and `c_hash` for the
/// `*256` algorithms (OIDC Core §3.1.3.6).
fn half_sha256(value: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// Signs in with an ID token signed by `key` over `claims` (changed by
/// `edit`); the outcome of the code exchange.
fn sign_in_with(
    op: &mut Op,
    client: &Client,
    key: &TestKey,
    edit: impl FnOnce(&mut Value),
) -> Result<SignIn, Error> {
    let login = op.login(client, &["openid"]);
    let mut claims = login.claims();
    edit(&mut claims);
    op.issue(&key.sign_claims(claims));
    login.finish(client, op)
}

// ---------------------------------------------------------------------------
// Basic RP, code flow

/// Java `oidcc-client-test`: the happy path. Discovery, an authorization
/// request with PKCE, the callback, the code exchange with a signed ID token,
/// then UserInfo.
#[test]
fn rp_response_type_code() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-response_type-code", &[&key]);
    let client = op.client();
    let login = op.login(&client, &["openid"]);

    // The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
    let url = login.url.clone();
    assert_eq!(
        url.as_str().split('?').next(),
        Some(op.authorization_endpoint.as_str())
    );
    assert_eq!(param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param(&url, "redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(param(&url, "scope").as_deref(), Some("openid"));
    assert_eq!(
        param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(login.state.len(), 43, "256 bits of state");
    assert_eq!(login.nonce.len(), 43, "256 bits of nonce");
    let challenge = param(&url, "code_challenge").unwrap();

    op.issue(&key.sign_claims(login.claims()));
    let sign_in = login.finish(&client, &mut op).unwrap();

    // The token request (RFC 6749 §4.1.3, RFC 7636 §4.5).
    let token_requests = op.requests_to(&op.token_endpoint);
    let [token_request] = token_requests.as_slice() else {
        panic!("one token request: {token_requests:?}");
    };
    assert_eq!(
        token_request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(token_request.headers["accept"], "application/json");
    let form = token_request.form();
    let names: Vec<&str> = form.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["grant_type", "code", "redirect_uri", "code_verifier"]
    );
    assert_eq!(
        token_request.param("grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(token_request.param("code").as_deref(), Some(CODE));
    assert_eq!(
        token_request.param("redirect_uri").as_deref(),
        Some(REDIRECT)
    );
    let verifier = token_request.param("code_verifier").unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    assert_eq!(URL_SAFE_NO_PAD.encode(digest.as_ref()), challenge);

    // The validated sign-in.
    assert_eq!(sign_in.tokens.access_token.secret(), ACCESS_TOKEN);
    assert_eq!(
        sign_in.tokens.expires_at,
        Some(NOW.saturating_add_secs(3600))
    );
    let id_token = &sign_in.id_token;
    assert_eq!(id_token.subject(), SUBJECT);
    assert_eq!(id_token.claims().iss, op.issuer);
    assert_eq!(id_token.claims().aud, [CLIENT_ID]);
    assert_eq!(id_token.algorithm(), Algorithm::Rs256);

    // UserInfo (OIDC Core §5.3).
    let user = userinfo(&client, &sign_in, &mut op).unwrap();
    assert_eq!(user.sub, SUBJECT);
    assert!(!user.signed);
    assert_eq!(user.string("name"), Some("Jane Doe"));

    // Discovery, keys, token, UserInfo: nothing else.
    let uris: Vec<&str> = op.log.iter().map(|seen| seen.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            op.well_known().as_str(),
            op.jwks_uri().as_str(),
            op.token_endpoint.as_str(),
            op.userinfo_endpoint.as_str(),
        ]
    );
}

/// Java `oidcc-client-test-invalid-iss`: an ID token from another issuer is
/// rejected (OIDC Core §3.1.3.7 step 2).
#[test]
fn rp_id_token_issuer_mismatch() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-issuer-mismatch", &[&key]);
    let client = op.client();
    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims["iss"] = json!("https://attacker.example.com");
    });
    assert_eq!(
        id_token_error(result),
        IdTokenError::IssuerMismatch {
            expected: op.issuer.clone(),
            found: "https://attacker.example.com".to_owned(),
        }
    );
}

/// Java `oidcc-client-test-missing-sub`: an ID token without `sub` is
/// rejected (OIDC Core §2: REQUIRED).
#[test]
fn rp_id_token_sub() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-sub", &[&key]);
    let client = op.client();
    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims.as_object_mut().unwrap().remove("sub");
    });
    assert_eq!(
        id_token_error(result),
        IdTokenError::MissingClaim { claim: "sub" }
    );
}

/// Java `oidcc-client-test-invalid-aud`: an ID token whose `aud` lacks the
/// client id is rejected (OIDC Core §3.1.3.7 step 3); so is one that names
/// the client next to an audience it does not trust.
#[test]
fn rp_id_token_aud_invalid() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-aud", &[&key]);
    let client = op.client();
    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims["aud"] = json!("https://other-rp.example.com");
    });
    assert_eq!(id_token_error(result), IdTokenError::AudienceMismatch);

    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims["aud"] = json!([CLIENT_ID, "https://other-rp.example.com"]);
    });
    assert_eq!(
        id_token_error(result),
        IdTokenError::UntrustedAudience {
            audience: "https://other-rp.example.com".to_owned()
        }
    );
}

/// Java `oidcc-client-test-missing-aud`: an ID token without `aud` is
/// rejected (OIDC Core §2: REQUIRED); an empty array counts as missing.
#[test]
fn rp_id_token_aud_missing() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-aud-missing", &[&key]);
    let client = op.client();
    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims.as_object_mut().unwrap().remove("aud");
    });
    assert_eq!(
        id_token_error(result),
        IdTokenError::MissingClaim { claim: "aud" }
    );

    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims["aud"] = json!([]);
    });
    assert_eq!(
        id_token_error(result),
        IdTokenError::MissingClaim { claim: "aud" }
    );
}

/// Java `oidcc-client-test-missing-iat`: an ID token without `iat` is
/// rejected (OIDC Core §2: REQUIRED).
#[test]
fn rp_id_token_iat() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-iat", &[&key]);
    let client = op.client();
    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims.as_object_mut().unwrap().remove("iat");
    });
    assert_eq!(
        id_token_error(result),
        IdTokenError::MissingClaim { claim: "iat" }
    );
}

/// Java `oidcc-client-test-kid-absent-single-jwks`: a token without `kid`,
/// and the JWK set has one key: that key is used (OIDC Core §10.1), whether
/// the published key has a `kid` or not.
///
/// What grantflow does beyond the test: a `kid`-less token that no cached
/// key verifies may come from a key the provider rotated to, so the key set
/// is fetched once more (rate-limited); when the fresh set does not verify
/// it either, it is a bad signature.
#[test]
fn rp_id_token_kid_absent_single_jwks() {
    let signer = TestKey::rsa();
    for published in [signer.clone().with_kid("the-only-key"), signer.clone()] {
        let mut op = Op::new("rp-id_token-kid-absent-single-jwks", &[&published]);
        let client = op.client();
        let login = op.login(&client, &["openid"]);
        let token = signer.sign_claims(login.claims());
        assert!(!token_header(&token).contains_key("kid"));
        op.issue(&token);
        let sign_in = login.finish(&client, &mut op).unwrap();
        assert_eq!(sign_in.id_token.subject(), SUBJECT);
    }

    let mut op = Op::new("rp-id_token-kid-absent-single-jwks", &[&signer]);
    let client = op.client();
    let result = sign_in_with(&mut op, &client, &TestKey::rsa_2(), |_| {});
    assert_eq!(jws_error(result), JwsError::BadSignature);
    assert_eq!(op.jwks_fetches(), 2, "discovery, then one re-fetch");
}

/// Java `oidcc-client-test-kid-absent-multiple-jwks`: a token without `kid`,
/// and the JWK set has several keys. The suite passes both rejecting and
/// trying each key; grantflow tries every key that fits the algorithm (at
/// most 8), so the token is accepted when one of them verifies it, and a bad
/// signature is still rejected.
#[test]
fn rp_id_token_kid_absent_multiple_jwks() {
    // Published with kids; the tokens below are signed by the same key
    // material without one.
    let (rsa_a, rsa_b, ec) = (TestKey::rsa(), TestKey::rsa_2(), TestKey::ec_p256());
    let mut op = Op::new(
        "rp-id_token-kid-absent-multiple-jwks",
        &[
            &rsa_a.clone().with_kid("rsa-a"),
            &ec.clone().with_kid("ec-c"),
            &rsa_b.clone().with_kid("rsa-b"),
        ],
    );
    let client = op.client();

    // Signed by any published key, without a kid: accepted.
    for (signer, alg) in [
        (&rsa_a, Algorithm::Rs256),
        (&rsa_b, Algorithm::Rs256),
        (&ec, Algorithm::Es256),
    ] {
        let login = op.login(&client, &["openid"]);
        let token = signer.sign_claims(login.claims());
        assert!(!token_header(&token).contains_key("kid"));
        op.issue(&token);
        let sign_in = login.finish(&client, &mut op).unwrap();
        assert_eq!(sign_in.id_token.algorithm(), alg);
    }

    // No key verifies a bad signature: the key set is fetched once more
    // (the provider might have rotated), then the token is rejected.
    assert_eq!(op.jwks_fetches(), 1);
    let login = op.login(&client, &["openid"]);
    op.issue(&tamper(&rsa_b.sign_claims(login.claims())));
    assert_eq!(
        jws_error(login.finish(&client, &mut op)),
        JwsError::BadSignature
    );
    assert_eq!(op.jwks_fetches(), 2);
    // Nor a key the set does not have; the re-fetch is rate-limited, so
    // this time no request is made.
    let result = sign_in_with(&mut op, &client, &TestKey::ec_p256(), |_| {});
    assert_eq!(jws_error(result), JwsError::BadSignature);
    assert_eq!(op.jwks_fetches(), 2);
}

/// Java `oidcc-client-test-idtoken-sig-rs256`: a valid RS256 ID token is
/// accepted.
#[test]
fn rp_id_token_sig_rs256() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-sig-rs256", &[&key]);
    let client = op.client();
    let sign_in = sign_in_with(&mut op, &client, &key, |_| {}).unwrap();
    let id_token = sign_in.id_token;
    assert_eq!(id_token.algorithm(), Algorithm::Rs256);
    assert_eq!(id_token.subject(), SUBJECT);
}

/// Java `oidcc-client-test-idtoken-sig-none`: an unsigned ID token in the
/// code flow. The suite passes accepting or rejecting it; grantflow always
/// rejects `alg: none`, even from the token endpoint and even when the
/// provider's metadata lists `none`.
#[test]
fn rp_id_token_sig_none() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-sig-none", &[&key]).with_algs(&["none", "RS256"]);
    let client = op.client();
    let login = op.login(&client, &["openid"]);
    op.issue(&unsigned(login.claims()));
    assert_eq!(
        jws_error(login.finish(&client, &mut op)),
        JwsError::Unsigned
    );
    assert_eq!(op.jwks_fetches(), 1);
}

/// Java `oidcc-client-test-invalid-sig-rs256`: an RS256 ID token with a bad
/// signature is rejected. The suite lets an RP skip the check for ID tokens
/// from the token endpoint (OIDC Core §3.1.3.7 step 6); grantflow never
/// skips it.
#[test]
fn rp_id_token_bad_sig_rs256() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-bad-sig-rs256", &[&key]);
    let client = op.client();
    let login = op.login(&client, &["openid"]);
    op.issue(&tamper(&key.sign_claims(login.claims())));
    assert_eq!(
        jws_error(login.finish(&client, &mut op)),
        JwsError::BadSignature
    );
    // The kid is known: a bad signature is no reason to fetch the keys again.
    assert_eq!(op.jwks_fetches(), 1);
}

/// Java `oidcc-client-test-userinfo-invalid-sub`: a UserInfo response whose
/// `sub` is not the ID token's must not be used (OIDC Core §5.3.2).
#[test]
fn rp_userinfo_bad_sub_claim() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-userinfo-bad-sub-claim", &[&key]);
    let client = op.client();
    let sign_in = sign_in_with(&mut op, &client, &key, |_| {}).unwrap();
    op.userinfo["sub"] = json!("mallory");
    assert!(matches!(
        userinfo(&client, &sign_in, &mut op),
        Err(Error::UserInfoSubjectMismatch)
    ));
}

/// Java `oidcc-client-test-nonce-invalid`: an ID token with another `nonce`
/// than the one sent is rejected (OIDC Core §3.1.3.7 step 11).
#[test]
fn rp_nonce_invalid() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-nonce-invalid", &[&key]);
    let client = op.client();
    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims["nonce"] = json!("a nonce from another request");
    });
    assert_eq!(id_token_error(result), IdTokenError::NonceMismatch);
}

/// Java `oidcc-client-test-scope-userinfo-claims`: the RP asks for the
/// `profile` and `email` scopes and uses the claims UserInfo returns (the ID
/// token here carries none of them).
///
/// The user is still identified by (`iss`, `sub`), never by `email`.
#[test]
fn rp_scope_userinfo_claims() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-scope-userinfo-claims", &[&key]);
    let client = op.client();
    let login = op.login(&client, &["openid", "profile", "email"]);
    assert_eq!(
        param(&login.url, "scope").as_deref(),
        Some("openid profile email")
    );
    op.issue(&key.sign_claims(login.claims()));
    let sign_in = login.finish(&client, &mut op).unwrap();
    let id_token = &sign_in.id_token;
    assert!(!id_token.claims().extra.contains_key("email"));

    let user = userinfo(&client, &sign_in, &mut op).unwrap();
    assert_eq!(user.sub, id_token.subject());
    assert_eq!(user.string("name"), Some("Jane Doe"));
    assert_eq!(user.string("given_name"), Some("Jane"));
    assert_eq!(user.string("family_name"), Some("Doe"));
    assert_eq!(user.string("email"), Some("janedoe@example.com"));
    assert_eq!(user.claims["email_verified"], json!(true));
}

/// Java `oidcc-client-test-client-secret-basic`: the client authenticates at
/// the token endpoint with HTTP Basic, the id and secret each
/// form-urlencoded first (RFC 6749 §2.3.1), and with nothing else.
#[test]
fn rp_token_endpoint_client_secret_basic() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-token_endpoint-client_secret_basic", &[&key]);
    let provider = op.discover().unwrap();
    let client = Client::from_provider(
        &provider,
        ClientId::new("rp client:1"),
        ClientAuth::ClientSecretBasic(ClientSecret::new("s3cr3t:with/special+chars&=%")),
    );
    let login = op.login(&client, &["openid"]);
    op.issue(&key.sign_claims(login.claims()));
    let sign_in = login.finish(&client, &mut op).unwrap();
    assert_eq!(sign_in.id_token.claims().aud, ["rp client:1"]);

    let token_request = &op.requests_to(&op.token_endpoint)[0];
    let authorization = &token_request.headers["authorization"];
    assert!(authorization.is_sensitive());
    let credentials = authorization
        .to_str()
        .unwrap()
        .strip_prefix("Basic ")
        .expect("Basic authentication");
    assert_eq!(
        STANDARD.decode(credentials).unwrap(),
        b"rp+client%3A1:s3cr3t%3Awith%2Fspecial%2Bchars%26%3D%25"
    );
    // One method per request (RFC 6749 §2.3.1): no credentials in the body.
    assert_eq!(token_request.param("client_id"), None);
    assert_eq!(token_request.param("client_secret"), None);
}

/// Java: no module of its own (the suite runs `oidcc-client-test` with
/// `client_secret_post`): the client id and secret go in the form body, and
/// there is no `Authorization` header (RFC 6749 §2.3.1).
///
/// grantflow uses the method the caller configures; it does not pick one
/// from `token_endpoint_auth_methods_supported`.
#[test]
fn rp_token_endpoint_client_secret_post() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-token_endpoint-client_secret_post", &[&key]);
    let provider = op.discover().unwrap();
    let client = client_of(
        &provider,
        ClientAuth::ClientSecretPost(ClientSecret::new(SECRET)),
    );
    let login = op.login(&client, &["openid"]);
    op.issue(&key.sign_claims(login.claims()));
    login.finish(&client, &mut op).unwrap();

    let token_request = &op.requests_to(&op.token_endpoint)[0];
    assert_eq!(token_request.headers.get("authorization"), None);
    assert_eq!(token_request.param("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        token_request.param("client_secret").as_deref(),
        Some(SECRET)
    );
}

/// Checked implicitly by every Basic RP test (the suites' providers refuse a
/// request without it): the `openid` scope is sent. A sign-in
/// (`Client::sign_in`) always sends it, first and once, whatever position the
/// caller asked for it in, with a `nonce`, and requires an ID token back.
#[test]
fn implicit_openid_scope_is_sent() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("implicit-openid-scope", &[&key]);
    let client = op.client();
    let login = op.login(&client, &["email", "openid"]);
    let scope = param(&login.url, "scope").unwrap();
    assert_eq!(scope, "openid email");
    assert!(scope.split(' ').any(|scope| scope == "openid"));
    assert!(param(&login.url, "nonce").is_some());

    // Without an ID token back, the sign-in fails.
    op.token_body = Some(
        json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer"})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(
        id_token_error(login.finish(&client, &mut op)),
        IdTokenError::NotReturned
    );
}

/// Java `oidcc-client-test-userinfo-bearer-header` (rp-userinfo-bearer-header,
/// checked implicitly by the Basic profile): the access token goes to
/// UserInfo in an `Authorization: Bearer` header (RFC 6750 §2.1), never in a
/// URL (RFC 9700 §4.3.2) or a body.
#[test]
fn rp_userinfo_bearer_header() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-userinfo-bearer-header", &[&key]);
    let client = op.client();
    let sign_in = sign_in_with(&mut op, &client, &key, |_| {}).unwrap();
    userinfo(&client, &sign_in, &mut op).unwrap();

    let userinfo_requests = op.requests_to(&op.userinfo_endpoint);
    let [request] = userinfo_requests.as_slice() else {
        panic!("one UserInfo request: {userinfo_requests:?}");
    };
    assert_eq!(request.method, Method::GET);
    assert!(!request.uri.contains('?'));
    assert!(request.body.is_empty());
    let authorization = &request.headers["authorization"];
    assert_eq!(authorization, &format!("Bearer {ACCESS_TOKEN}"));
    assert!(authorization.is_sensitive());
    assert_eq!(
        request.headers["accept"],
        "application/json, application/jwt"
    );
    // No request of the whole sign-in had the access token in its URL.
    assert!(op.log.iter().all(|seen| !seen.uri.contains(ACCESS_TOKEN)));
}

// ---------------------------------------------------------------------------
// Config RP

/// Java `oidcc-client-test-discovery-openid-config`: the RP reads the
/// provider's configuration (OIDC Discovery §4) and uses its endpoints, here
/// on other hosts than the issuer's, and its keys.
#[test]
fn rp_discovery_openid_configuration() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-discovery-openid-configuration", &[&key]);
    op.authorization_endpoint =
        "https://login.op.example.com/oauth2/v2.0/authorize?tenant=t1".into();
    op.token_endpoint = "https://login.op.example.com/oauth2/v2.0/token".into();
    op.userinfo_endpoint = "https://graph.op.example.com/oidc/userinfo".into();

    let provider = op.discover().unwrap();
    let [metadata_request, jwks_request] = op.log.as_slice() else {
        panic!("two discovery requests: {:?}", op.log);
    };
    assert_eq!(metadata_request.method, Method::GET);
    assert_eq!(
        metadata_request.uri,
        concat!(
            "https://op.example.com/grantflow/rp-discovery-openid-configuration",
            "/.well-known/openid-configuration"
        )
    );
    assert_eq!(metadata_request.headers["accept"], "application/json");
    assert_eq!(jwks_request.method, Method::GET);
    assert_eq!(jwks_request.uri, op.jwks_uri());
    assert_eq!(provider.issuer().as_str(), op.issuer);
    assert_eq!(provider.fetched_at(), NOW);
    let metadata = provider.metadata();
    assert_eq!(metadata.id_token_signing_algorithms(), [Algorithm::Rs256]);
    assert!(metadata.authorization_response_iss_parameter_supported);
    assert_eq!(provider.jwks().unwrap().keys().len(), 1);

    let client = client_of(&provider, basic());
    assert_eq!(client.issuer().unwrap().as_str(), op.issuer);
    let login = op.login(&client, &["openid"]);
    assert!(login.url.as_str().starts_with(
        "https://login.op.example.com/oauth2/v2.0/authorize?tenant=t1&response_type=code&"
    ));
    op.issue(&key.sign_claims(login.claims()));
    let sign_in = login.finish(&client, &mut op).unwrap();
    userinfo(&client, &sign_in, &mut op).unwrap();
    let uris: Vec<&str> = op
        .log
        .iter()
        .skip(2)
        .map(|seen| seen.uri.as_str())
        .collect();
    assert_eq!(
        uris,
        [
            "https://login.op.example.com/oauth2/v2.0/token",
            "https://graph.op.example.com/oidc/userinfo"
        ]
    );

    // The provider's metadata says it sends RFC 9207 `iss`: a callback
    // without it is refused.
    let login = op.login(&client, &["openid"]);
    let result = login.pending.callback(
        &client,
        &format!("?code={CODE}&state={}", login.state),
        login.now,
    );
    assert!(matches!(
        result,
        Err(Error::Callback(grantflow::CallbackError::MissingIss))
    ));
}

/// Java `oidcc-client-test-discovery-jwks-uri-keys`: the RP uses the keys at
/// the `jwks_uri` the configuration names, which changes from run to run.
#[test]
fn rp_discovery_jwks_uri_keys() {
    let first = TestKey::rsa().with_kid("run-1");
    let mut op = Op::new("rp-discovery-jwks_uri-keys", &[&first]);
    let first_client = op.client();
    let first_uri = op.jwks_uri();
    assert!(first_uri.ends_with("/jwks/run-1.json"));
    let sign_in = sign_in_with(&mut op, &first_client, &first, |_| {}).unwrap();
    assert_eq!(sign_in.id_token.subject(), SUBJECT);

    // The provider restarts: new keys, at a new jwks_uri.
    let second = TestKey::ec_p256().with_kid("run-2");
    op.run = 2;
    op.algs = vec!["ES256".to_owned()];
    op.jwks = jwks(&[&second]);
    let second_client = op.client();
    let second_uri = op.jwks_uri();
    assert_ne!(first_uri, second_uri);
    assert_eq!(op.requests_to(&second_uri).len(), 1);
    let sign_in = sign_in_with(&mut op, &second_client, &second, |_| {}).unwrap();
    assert_eq!(sign_in.id_token.algorithm(), Algorithm::Es256);

    // Each run's keys came from that run's jwks_uri, once.
    assert_eq!(op.requests_to(&first_uri).len(), 1);
    assert_eq!(op.requests_to(&second_uri).len(), 1);
}

/// Java `oidcc-client-test-discovery-issuer-mismatch`: a configuration whose
/// `issuer` is not exactly the issuer asked for is refused, nothing in it is
/// used (OIDC Discovery §4.3) — so its `jwks_uri` is never fetched.
#[test]
fn rp_discovery_issuer_not_matching_config() {
    let key = TestKey::rsa().with_kid("rsa-1");
    for claimed in [
        "https://attacker.example.com",
        "https://op.example.com/grantflow/rp-discovery-issuer-not-matching-config/",
        "https://OP.example.com/grantflow/rp-discovery-issuer-not-matching-config",
        "https://op.example.com/grantflow/other-tenant",
    ] {
        let mut op = Op::new("rp-discovery-issuer-not-matching-config", &[&key]);
        op.metadata_issuer = claimed.to_owned();
        let mut discovery = Discovery::openid(Issuer::new(op.issuer.as_str()).unwrap());
        let result = drive(&mut discovery, &mut op, NOW);
        match result {
            Err(Error::MetadataIssuerMismatch { expected, found }) => {
                assert_eq!(expected, op.issuer);
                assert_eq!(found, claimed);
            }
            other => panic!("expected Error::MetadataIssuerMismatch, got {other:?}"),
        }
        let uris: Vec<&str> = op.log.iter().map(|seen| seen.uri.as_str()).collect();
        assert_eq!(uris, [op.well_known().as_str()], "no JWKS request");
        // The flow is over: it emits nothing more.
        let again = discovery.handle_response(http::Response::new(Vec::new()), NOW);
        assert!(matches!(again, Err(Error::UnexpectedCall { .. })));
    }
}

/// Java `oidcc-client-test-signing-key-rotation-just-before-signing`: the
/// provider rotates its key right before signing the ID token, so the
/// token's `kid` is not in the keys cached at discovery. The exchange
/// fetches the key set exactly once more (OIDC Core §10.1.1) and accepts the
/// token.
#[test]
fn rp_key_rotation_op_sign_key_native() {
    let old = TestKey::rsa().with_kid("2024-old");
    let new = TestKey::rsa_2().with_kid("2025-new");
    let mut op = Op::new("rp-key-rotation-op-sign-key-native", &[&old]);
    let client = op.client();
    let login = op.login(&client, &["openid"]);
    op.jwks = jwks(&[&new]);
    op.issue(&new.sign_claims(login.claims()));
    let sign_in = login.finish(&client, &mut op).unwrap();
    assert_eq!(sign_in.id_token.subject(), SUBJECT);
    let uris: Vec<&str> = op.log.iter().map(|seen| seen.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            op.well_known().as_str(),
            op.jwks_uri().as_str(),
            op.token_endpoint.as_str(),
            op.jwks_uri().as_str(),
        ]
    );
    assert_eq!(client.keys().keys()[0].kid(), Some("2025-new"));

    // If the fresh key set still lacks the kid, the exchange fails after
    // that one re-fetch: no second one.
    let mut op = Op::new("rp-key-rotation-op-sign-key-native", &[&old]);
    let client = op.client();
    let login = op.login(&client, &["openid"]);
    op.issue(&new.sign_claims(login.claims()));
    assert_eq!(
        jws_error(login.finish(&client, &mut op)),
        JwsError::NoMatchingKey {
            kid: Some("2025-new".to_owned())
        }
    );
    assert_eq!(op.jwks_fetches(), 2);
}

/// Java `oidcc-client-test-signing-key-rotation`: after a first sign-in, the
/// provider rotates its signing key; the second sign-in, with the same
/// (cached) client, re-fetches the key set once and uses the new key, and
/// later sign-ins — from any clone of the client — use the cached new keys.
#[test]
fn rp_key_rotation_op_sign_key() {
    let old = TestKey::rsa().with_kid("2024-old");
    let new = TestKey::ec_p256().with_kid("2025-new");
    let mut op = Op::new("rp-key-rotation-op-sign-key", &[&old, &new]);
    op.jwks = jwks(&[&old]);
    let client = op.client();

    // First sign-in: the key from discovery.
    let sign_in = sign_in_with(&mut op, &client, &old, |_| {}).unwrap();
    assert_eq!(sign_in.id_token.algorithm(), Algorithm::Rs256);
    assert_eq!(op.jwks_fetches(), 1);

    // The provider rotates: only the new key is published.
    op.jwks = jwks(&[&new]);
    let later = NOW.saturating_add_secs(3600);
    let login = op.login_at(&client, &["openid"], later);
    op.issue(&new.sign_claims(login.claims()));
    let sign_in = login.finish(&client, &mut op).unwrap();
    assert_eq!(sign_in.id_token.algorithm(), Algorithm::Es256);
    assert_eq!(op.jwks_fetches(), 2);

    // A third sign-in from a clone of the client: the keys are cached.
    let shared = client.clone();
    let login = op.login_at(&shared, &["openid"], later);
    op.issue(&new.sign_claims(login.claims()));
    login.finish(&shared, &mut op).unwrap();
    assert_eq!(op.jwks_fetches(), 2);

    // A token still signed with the retired key, right after the re-fetch:
    // its kid is unknown, and the re-fetch is rate-limited (60 s by default).
    let login = op.login_at(&client, &["openid"], later);
    op.issue(&old.sign_claims(login.claims()));
    assert_eq!(
        jws_error(login.finish(&client, &mut op)),
        JwsError::NoMatchingKey {
            kid: Some("2024-old".to_owned())
        }
    );
    assert_eq!(op.jwks_fetches(), 2);
}

// ---------------------------------------------------------------------------
// Also worth porting: hash claims

/// Java `oidcc-client-test-invalid-athash`: an `at_hash` that does not match
/// the access token is rejected (OIDC Core §3.1.3.8), while a matching one
/// is accepted.
#[test]
fn rp_id_token_bad_at_hash() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-bad-at_hash", &[&key]);
    let client = op.client();
    let sign_in = sign_in_with(&mut op, &client, &key, |claims| {
        claims["at_hash"] = json!(half_sha256(ACCESS_TOKEN));
    })
    .unwrap();
    assert_eq!(
        sign_in.id_token.claims().at_hash,
        Some(half_sha256(ACCESS_TOKEN))
    );

    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims["at_hash"] = json!(half_sha256("another access token"));
    });
    assert_eq!(
        id_token_error(result),
        IdTokenError::AccessTokenHashMismatch
    );
}

/// Java `oidcc-client-test-missing-athash`: in the code flow an ID token
/// without `at_hash` is accepted. `at_hash` is OPTIONAL for ID tokens from
/// the token endpoint (OIDC Core §3.1.3.6); it is REQUIRED only when the
/// access token comes with the ID token from the authorization endpoint
/// (implicit `id_token token`, §3.2.2.10; hybrid `code id_token token`,
/// §3.3.2.11), which grantflow does not implement. The suite's module is a
/// rejection test for those response types.
#[test]
fn rp_id_token_missing_at_hash() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-missing-at_hash", &[&key]);
    let client = op.client();
    let sign_in = sign_in_with(&mut op, &client, &key, |claims| {
        assert!(claims.get("at_hash").is_none());
    })
    .unwrap();
    assert_eq!(sign_in.id_token.claims().at_hash, None);
}

/// Java `oidcc-client-test-invalid-chash`: a `c_hash` that does not match
/// the authorization code is rejected (OIDC Core §3.3.2.11), while a
/// matching one is accepted.
#[test]
fn rp_id_token_bad_c_hash() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-bad-c_hash", &[&key]);
    let client = op.client();
    let sign_in = sign_in_with(&mut op, &client, &key, |claims| {
        claims["c_hash"] = json!(half_sha256(CODE));
    })
    .unwrap();
    assert_eq!(sign_in.id_token.claims().c_hash, Some(half_sha256(CODE)));

    let result = sign_in_with(&mut op, &client, &key, |claims| {
        claims["c_hash"] = json!(half_sha256("another code"));
    });
    assert_eq!(id_token_error(result), IdTokenError::CodeHashMismatch);
}

/// Java `oidcc-client-test-missing-chash`: in the code flow an ID token
/// without `c_hash` is accepted. `c_hash` is REQUIRED only in the hybrid
/// flow's ID token from the authorization endpoint (OIDC Core §3.3.2.11),
/// which grantflow does not implement; an ID token from the token endpoint
/// may carry it (and then it is checked), but need not.
#[test]
fn rp_id_token_missing_c_hash() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-id_token-missing-c_hash", &[&key]);
    let client = op.client();
    let sign_in = sign_in_with(&mut op, &client, &key, |claims| {
        assert!(claims.get("c_hash").is_none());
    })
    .unwrap();
    assert_eq!(sign_in.id_token.claims().c_hash, None);
}

// ---------------------------------------------------------------------------
// Also worth porting: signatures

/// Java `oidcc-client-test-invalid-sig-es256`: an ES256 ID token with a bad
/// signature is rejected.
#[test]
fn rp_id_token_bad_sig_es256() {
    let key = TestKey::ec_p256().with_kid("ec-1");
    let mut op = Op::new("rp-id_token-bad-sig-es256", &[&key]);
    let client = op.client();
    let login = op.login(&client, &["openid"]);
    op.issue(&tamper(&key.sign_claims(login.claims())));
    assert_eq!(
        jws_error(login.finish(&client, &mut op)),
        JwsError::BadSignature
    );
    assert_eq!(op.jwks_fetches(), 1);
}

/// Java `oidcc-client-test-invalid-sig-hs256`: an HS256 ID token with a bad
/// signature is rejected — tampered with, or keyed with another secret.
#[test]
fn rp_id_token_bad_sig_hs256() {
    let mut op = Op::new("rp-id_token-bad-sig-hs256", &[]).with_algs(&["HS256"]);
    let client = op.client().with_id_token_policy(
        IdTokenPolicy::default()
            .with_algorithms([Algorithm::Hs256])
            .with_hmac(),
    );
    let key = TestKey::hmac(SECRET.as_bytes());
    let login = op.login(&client, &["openid"]);
    op.issue(&tamper(&key.sign_claims(login.claims())));
    assert_eq!(
        jws_error(login.finish(&client, &mut op)),
        JwsError::BadSignature
    );

    let other = TestKey::hmac(b"another secret of at least thirty-two octets");
    let result = sign_in_with(&mut op, &client, &other, |_| {});
    assert_eq!(jws_error(result), JwsError::BadSignature);
}

/// No Java module of its own (the suite's `oidcc-client-test` variant with
/// `id_token_signed_response_alg: ES256`): a valid ES256 ID token is
/// accepted.
#[test]
fn rp_id_token_sig_es256() {
    let key = TestKey::ec_p256().with_kid("ec-1");
    let mut op = Op::new("rp-id_token-sig-es256", &[&key]);
    let client = op.client();
    let sign_in = sign_in_with(&mut op, &client, &key, |_| {}).unwrap();
    let id_token = sign_in.id_token;
    assert_eq!(id_token.algorithm(), Algorithm::Es256);
    assert_eq!(id_token.subject(), SUBJECT);
}

/// No Java module of its own (the suite's `oidcc-client-test` variant with
/// `id_token_signed_response_alg: HS256`): an HS256 ID token keyed with the
/// client secret is accepted once the client opts in to HMAC, with a secret
/// of at least 32 octets (OIDC Core §10.1, RFC 7518 §3.2).
///
/// Without the opt-in the same token is refused even though the provider
/// lists HS256, and a shorter secret is refused.
#[test]
fn rp_id_token_sig_hs256() {
    let hmac = IdTokenPolicy::default()
        .with_algorithms([Algorithm::Hs256])
        .with_hmac();
    let mut op = Op::new("rp-id_token-sig-hs256", &[]).with_algs(&["HS256"]);
    let provider = op.discover().unwrap();
    assert!(provider.jwks().unwrap().is_empty());
    let key = TestKey::hmac(SECRET.as_bytes());

    let client = client_of(&provider, basic()).with_id_token_policy(hmac.clone());
    let sign_in = sign_in_with(&mut op, &client, &key, |_| {}).unwrap();
    let id_token = sign_in.id_token;
    assert_eq!(id_token.algorithm(), Algorithm::Hs256);
    assert_eq!(id_token.subject(), SUBJECT);

    let strict = client_of(&provider, basic());
    let result = sign_in_with(&mut op, &strict, &key, |_| {});
    assert_eq!(jws_error(result), JwsError::HmacNotAllowed);

    let short_secret = "thirty-one octets, one too few!";
    assert_eq!(short_secret.len(), 31);
    let short = client_of(
        &provider,
        ClientAuth::ClientSecretBasic(ClientSecret::new(short_secret)),
    )
    .with_id_token_policy(hmac);
    let result = sign_in_with(
        &mut op,
        &short,
        &TestKey::hmac(short_secret.as_bytes()),
        |_| {},
    );
    assert_eq!(jws_error(result), JwsError::HmacKeyTooShort { len: 31 });
}

// ---------------------------------------------------------------------------
// Also worth porting: other

/// python rp-nonce-unless-code-flow (no Java module): "send a nonce unless
/// using the code flow" is about the implicit and hybrid flows and does not
/// apply to the code flow. grantflow sends a fresh `nonce` with every
/// `openid` request anyway, and then requires it back in the ID token.
#[test]
fn rp_nonce_unless_code_flow() {
    let key = TestKey::rsa().with_kid("rsa-1");
    let mut op = Op::new("rp-nonce-unless-code-flow", &[&key]);
    let client = op.client();
    let first = op.login(&client, &["openid"]);
    let second = op.login(&client, &["openid"]);
    assert_eq!(first.nonce.len(), 43);
    assert_ne!(first.nonce, second.nonce, "a fresh nonce per request");
    assert_eq!(param(&first.url, "nonce"), Some(first.nonce.clone()));

    let mut claims = first.claims();
    claims.as_object_mut().unwrap().remove("nonce");
    op.issue(&key.sign_claims(claims));
    assert_eq!(
        id_token_error(first.finish(&client, &mut op)),
        IdTokenError::MissingClaim { claim: "nonce" }
    );
}

/// Java `oidcc-client-test-ignores-unparseable-key-in-jwks` (no python
/// test): the JWK set holds keys the RP cannot use next to the real one;
/// they are skipped (RFC 7517 §5), not fatal, and the token verifies.
#[test]
fn ignores_unparseable_key_in_jwks() {
    let key = TestKey::rsa().with_kid("real");
    let mut op = Op::new("ignores-unparseable-key-in-jwks", &[&key]);
    op.jwks = json!({"keys": [
        {"kty": "XYZ", "kid": "unknown-kty", "use": "sig"},
        {"kty": "RSA", "kid": "real", "n": "not base64url!", "e": "AQAB"},
        {"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        {"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0"},
        "not even an object",
        key.public_jwk(),
    ]})
    .to_string()
    .into_bytes();
    let provider = op.discover().unwrap();
    let keys = provider.jwks().unwrap();
    assert_eq!(keys.keys().len(), 1);
    assert_eq!(keys.skipped(), 5);

    let client = client_of(&provider, basic());
    let sign_in = sign_in_with(&mut op, &client, &key, |_| {}).unwrap();
    assert_eq!(sign_in.id_token.subject(), SUBJECT);
}

/// The JOSE header of a compact JWS, as a JSON object.
fn token_header(token: &str) -> serde_json::Map<String, Value> {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}
