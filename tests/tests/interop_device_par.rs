//! The device authorization grant (RFC 8628) and pushed authorization
//! requests (RFC 9126) end to end against the bundled OpenID provider on
//! 127.0.0.1.
//!
//! The device flow's polling is driven by hand in fake time: each request
//! really goes to the provider, but a `WaitUntil` moves the test's clock to
//! its deadline at once instead of sleeping (oidc-provider 8.8.1 sends no
//! `interval` and never answers `slow_down`, so polling sooner than the real
//! interval is accepted; a `slow_down` would only move the fake clock
//! further). No test here sleeps.
//!
//! The user's part (entering the code on a second device, logging in) is
//! done by the harness: [`Provider::approve_device`], [`Provider::deny_device`],
//! and [`Provider::login`] for the PAR sign-ins.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, DeviceAuthorization, DevicePoll, DeviceTokens,
    DiscoveredProvider, Discovery, Error, ErrorCode, Flow, HttpRequest, Issuer, Scope, Step,
    UnixTime,
};
use grantflow_tests::TestClient;
use grantflow_tests::provider::{ALICE, DEVICE_APP, Provider, REDIRECT_URI, SPA, WEB_APP};
use grantflow_ureq::{HttpClient, drive, now, os_rng};
use url::Url;

/// A confidential device client (`client_secret_basic`), registered in `provider.mjs`.
const DEVICE_BASIC: TestClient = TestClient {
    id: "device-basic",
    secret: Some("device-basic-secret-0123456789abcdef"),
    auth_method: "client_secret_basic",
    scope: None,
    redirect_uri: None,
    id_token_alg: Some("RS256"),
};

/// A web client registered with `require_pushed_authorization_requests` (`provider.mjs`).
const PAR_APP: TestClient = TestClient {
    id: "par-app",
    secret: Some("par-app-secret-0123456789abcdefghijk"),
    auth_method: "client_secret_basic",
    scope: None,
    redirect_uri: Some(REDIRECT_URI),
    id_token_alg: Some("RS256"),
};

fn discover(provider: &Provider) -> DiscoveredProvider {
    let issuer = Issuer::new(provider.issuer()).unwrap();
    drive(&HttpClient::new(), Discovery::openid(issuer)).unwrap()
}

fn client(discovered: &DiscoveredProvider, test_client: TestClient) -> Client {
    let auth = match test_client.secret {
        None => ClientAuth::None,
        Some(secret) => ClientAuth::ClientSecretBasic(ClientSecret::new(secret)),
    };
    Client::from_provider(discovered, ClientId::new(test_client.id), auth)
}

fn scopes(names: &[&str]) -> Vec<Scope> {
    names
        .iter()
        .map(|name| Scope::new(*name).unwrap())
        .collect()
}

/// Sends `request` over loopback.
fn send(request: HttpRequest) -> grantflow::HttpResponse {
    HttpClient::new().send(request).unwrap()
}

/// Runs the device authorization request of `client` for `scope_names` by
/// hand, and returns it with the request that was sent.
fn device_authorization(
    client: &Client,
    scope_names: &[&str],
) -> (DeviceAuthorization, HttpRequest) {
    let mut flow = client
        .device_authorization()
        .unwrap()
        .scopes(scopes(scope_names));
    let Step::Send(request) = flow.start(now()).unwrap() else {
        panic!("expected the device authorization request")
    };
    let response = send(clone_request(&request));
    match flow.handle_response(response, now()).unwrap() {
        Step::Done(authorization) => (authorization, request),
        _ => panic!("expected the device authorization"),
    }
}

fn clone_request(request: &HttpRequest) -> HttpRequest {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// A clock for polling in fake time: a `WaitUntil` moves it to the deadline
/// at once, and each request really goes to the provider.
struct FakeClock {
    now: UnixTime,
    /// The fake instants at which requests were sent.
    polls: Vec<UnixTime>,
}

impl FakeClock {
    fn new() -> Self {
        FakeClock {
            now: now(),
            polls: Vec::new(),
        }
    }

    /// Drives `poll` until it sends its next request and has the answer,
    /// then returns the step after it (WaitUntil, Done, or the error).
    fn poll_once(
        &mut self,
        poll: &mut DevicePoll,
        mut step: Result<Step<DeviceTokens>, Error>,
    ) -> Result<Step<DeviceTokens>, Error> {
        loop {
            step = match step? {
                Step::WaitUntil(at) => {
                    assert!(at >= self.now, "WaitUntil went back in time");
                    self.now = at;
                    poll.handle_timeout(at)
                }
                Step::Send(request) => {
                    self.polls.push(self.now);
                    return poll.handle_response(send(request), self.now);
                }
                Step::Done(tokens) => return Ok(Step::Done(tokens)),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Device authorization grant
// ---------------------------------------------------------------------------

#[test]
fn device_flow_public_client_approved_with_an_id_token() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, DEVICE_APP);
    let (authorization, request) = device_authorization(&client, &["openid", "email"]);

    // A public client: its client_id in the body, no Authorization header.
    assert_eq!(
        request.uri(),
        provider.device_authorization_endpoint().as_str()
    );
    let body = String::from_utf8(request.body().clone()).unwrap();
    assert_eq!(body, "scope=openid+email&client_id=device-app");
    assert!(request.headers().get("authorization").is_none());

    // What the user is shown, before polling starts.
    let user_code = authorization.user_code().to_owned();
    assert!(!user_code.is_empty());
    assert!(!user_code.chars().any(char::is_control));
    assert_eq!(
        authorization.verification_uri().as_str(),
        provider.url("/device")
    );
    let complete = authorization.verification_uri_complete().unwrap();
    assert!(
        complete
            .as_str()
            .starts_with(&provider.url("/device?user_code="))
    );
    // oidc-provider sends no interval: the RFC's 5 s default; DeviceCode ttl is 600 s.
    assert_eq!(authorization.interval(), 5);
    assert_eq!(
        authorization
            .received_at()
            .secs_until(authorization.expires_at()),
        600
    );

    let mut clock = FakeClock::new();
    let start_at = authorization.received_at();
    let mut poll = authorization.poll();
    // The first poll, before the user did anything: authorization_pending.
    let first = poll.start(start_at);
    let step = clock.poll_once(&mut poll, first).unwrap();
    let Step::WaitUntil(next) = step else {
        panic!("expected to wait after authorization_pending")
    };
    assert_eq!(clock.polls, [start_at.saturating_add_secs(5)]);
    assert_eq!(next, start_at.saturating_add_secs(10));

    // The user approves on another device; the next poll gets the tokens.
    provider.approve_device(&user_code, ALICE).unwrap();
    let Step::Done(done) = clock
        .poll_once(&mut poll, Ok(Step::WaitUntil(next)))
        .unwrap()
    else {
        panic!("expected the tokens")
    };
    assert_eq!(clock.polls.len(), 2);
    assert!(!done.tokens.access_token.secret().is_empty());
    let id_token = done.id_token.expect("scope openid: a validated ID token");
    assert_eq!(id_token.subject(), "alice");
    assert_eq!(id_token.claims().iss, provider.issuer());
}

#[test]
fn device_flow_confidential_client_approved() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, DEVICE_BASIC);
    let (authorization, request) = device_authorization(&client, &["openid"]);
    // Client authentication with Basic, so no client_id in the body.
    assert!(request.headers().get("authorization").is_some());
    assert_eq!(request.body().as_slice(), b"scope=openid");

    provider
        .approve_device(authorization.user_code(), ALICE)
        .unwrap();
    let mut clock = FakeClock::new();
    let start_at = authorization.received_at();
    let mut poll = authorization.poll();
    let first = poll.start(start_at);
    let Step::Done(done) = clock.poll_once(&mut poll, first).unwrap() else {
        panic!("expected the tokens")
    };
    assert_eq!(clock.polls, [start_at.saturating_add_secs(5)]);
    assert!(!done.tokens.access_token.secret().is_empty());
    assert_eq!(done.id_token.unwrap().subject(), "alice");
}

#[test]
fn device_flow_wrong_secret_is_invalid_client() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = Client::from_provider(
        &discovered,
        ClientId::new(DEVICE_BASIC.id),
        ClientAuth::ClientSecretBasic(ClientSecret::new("not-the-secret")),
    );
    let error = drive(&HttpClient::new(), client.device_authorization().unwrap()).unwrap_err();
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidClient));
}

#[test]
fn device_flow_denied_is_access_denied() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, DEVICE_APP);
    let (authorization, _) = device_authorization(&client, &["openid"]);
    provider.deny_device(authorization.user_code()).unwrap();

    let mut clock = FakeClock::new();
    let start_at = authorization.received_at();
    let mut poll = authorization.poll();
    let first = poll.start(start_at);
    let error = clock.poll_once(&mut poll, first).unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&ErrorCode::AccessDenied),
        "{error}"
    );
    assert_eq!(clock.polls.len(), 1);
    // The error ended the flow.
    assert!(matches!(
        poll.handle_timeout(clock.now.saturating_add_secs(60)),
        Err(Error::UnexpectedCall { .. })
    ));
}

#[test]
fn device_flow_expired_sends_nothing_after_the_deadline() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, DEVICE_APP);
    let (authorization, _) = device_authorization(&client, &["openid"]);
    let expires_at = authorization.expires_at();
    let start_at = authorization.received_at();

    // Pending until the last poll before the deadline (fake time: 600 s of
    // polling every 5 s, a real request each), then the deadline.
    let mut clock = FakeClock::new();
    let mut poll = authorization.poll();
    let mut step = poll.start(start_at);
    let error = loop {
        match clock.poll_once(&mut poll, step) {
            Ok(next @ Step::WaitUntil(_)) => step = Ok(next),
            Ok(_) => panic!("nobody approved, yet tokens came"),
            Err(error) => break error,
        }
    };
    assert_eq!(
        error,
        Error::DeviceCodeExpired {
            expired_at: expires_at
        }
    );
    assert_eq!(clock.now, expires_at);
    assert!(clock.polls.iter().all(|at| *at < expires_at));
    // Every 5 s from start+5 to start+595.
    assert_eq!(clock.polls.len(), 119);
}

// ---------------------------------------------------------------------------
// Pushed authorization requests
// ---------------------------------------------------------------------------

/// The query parameter names of `url`.
fn param_names(url: &Url) -> Vec<String> {
    url.query_pairs()
        .map(|(name, _)| name.into_owned())
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.into_owned())
}

#[test]
fn par_is_advertised_and_not_required_by_default() {
    let discovered = discover(Provider::shared());
    let metadata = discovered.metadata();
    assert_eq!(
        metadata
            .pushed_authorization_request_endpoint
            .as_ref()
            .map(|e| e.as_str().to_owned()),
        Some(Provider::shared().url("/request"))
    );
    assert!(!metadata.require_pushed_authorization_requests);
    assert!(!client(&discovered, WEB_APP).requires_pushed_authorization());
}

#[test]
fn par_sign_in_end_to_end() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    for test_client in [WEB_APP, SPA] {
        let client = client(&discovered, test_client);
        let push = client
            .sign_in(REDIRECT_URI)
            .unwrap()
            .scopes(scopes(&["email"]))
            .push(&mut os_rng(), now())
            .unwrap();
        let (url, pending) = drive(&HttpClient::new(), push).unwrap();
        // The browser carries only client_id and request_uri.
        assert!(url.as_str().starts_with(&provider.authorization_endpoint()));
        assert_eq!(param_names(&url), ["client_id", "request_uri"]);
        assert_eq!(
            param(url.as_str(), "client_id").as_deref(),
            Some(test_client.id)
        );
        assert!(
            param(url.as_str(), "request_uri")
                .unwrap()
                .starts_with("urn:ietf:params:oauth:request_uri:")
        );

        let location = provider.login(url.as_str(), ALICE).unwrap();
        assert!(
            location.starts_with(&format!("{REDIRECT_URI}?code=")),
            "{location}"
        );
        let exchange = pending.callback(&client, &location, now()).unwrap();
        let sign_in = drive(&HttpClient::new(), exchange).unwrap();
        assert_eq!(sign_in.id_token.subject(), "alice");
    }
}

#[test]
fn par_errors_are_oauth_errors() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, WEB_APP);
    let push = client
        .sign_in("http://127.0.0.1/not-registered")
        .unwrap()
        .push(&mut os_rng(), now())
        .unwrap();
    let error = drive(&HttpClient::new(), push).unwrap_err();
    let Some(oauth) = error.oauth_error() else {
        panic!("expected an OAuth error, got {error}")
    };
    assert_eq!(oauth.status, Some(400));
    assert_eq!(oauth.error, ErrorCode::InvalidRequest, "{oauth:?}");
    assert!(
        oauth
            .description
            .as_deref()
            .unwrap_or_default()
            .contains("redirect_uri"),
        "{oauth:?}"
    );
}

#[test]
fn par_required_by_the_client_registration() {
    let provider = Provider::shared();
    let discovered = discover(provider);

    // Unaware of the requirement, the browser-carried request is refused.
    let unaware = client(&discovered, PAR_APP);
    let (url, _) = unaware
        .sign_in(REDIRECT_URI)
        .unwrap()
        .begin(&mut os_rng(), now())
        .unwrap();
    let refused = provider.login(url.as_str(), ALICE);
    match &refused {
        Ok(location) => {
            assert_eq!(
                param(location, "error").as_deref(),
                Some("invalid_request"),
                "{location}"
            );
            assert_eq!(param(location, "code"), None);
        }
        Err(page) => assert!(page.to_string().contains("invalid_request"), "{page}"),
    }

    // Told (the registration says so), begin refuses and begin_or_push pushes.
    let aware = unaware.with_required_pushed_authorization(true);
    assert!(matches!(
        aware
            .sign_in(REDIRECT_URI)
            .unwrap()
            .begin(&mut os_rng(), now()),
        Err(Error::PushedAuthorizationRequired)
    ));
    let flow = aware
        .sign_in(REDIRECT_URI)
        .unwrap()
        .begin_or_push(&mut os_rng(), now())
        .unwrap();
    assert!(flow.pushes());
    let (url, pending) = drive(&HttpClient::new(), flow).unwrap();
    assert_eq!(param_names(&url), ["client_id", "request_uri"]);
    let location = provider.login(url.as_str(), ALICE).unwrap();
    let exchange = pending.callback(&aware, &location, now()).unwrap();
    let sign_in = drive(&HttpClient::new(), exchange).unwrap();
    assert_eq!(sign_in.id_token.subject(), "alice");
}

#[test]
fn begin_or_push_without_the_requirement_is_the_browser_request() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = client(&discovered, WEB_APP);
    let flow = client
        .sign_in(REDIRECT_URI)
        .unwrap()
        .begin_or_push(&mut os_rng(), now())
        .unwrap();
    assert!(!flow.pushes());
    let (url, pending) = drive(&HttpClient::new(), flow).unwrap();
    assert_eq!(
        param(url.as_str(), "response_type").as_deref(),
        Some("code")
    );
    assert!(param(url.as_str(), "code_challenge").is_some());
    assert!(param(url.as_str(), "request_uri").is_none());
    let location = provider.login(url.as_str(), ALICE).unwrap();
    let exchange = pending.callback(&client, &location, now()).unwrap();
    let sign_in = drive(&HttpClient::new(), exchange).unwrap();
    assert_eq!(sign_in.id_token.subject(), "alice");
}
