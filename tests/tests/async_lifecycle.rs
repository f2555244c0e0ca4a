//! The token lifecycle and the newer grants through the async adapter
//! (`grantflow-async` and its built-in client) against the bundled OpenID
//! provider on 127.0.0.1, on smol and on async-std: refresh (RFC 6749 §6)
//! with a [`Session`], rotation and the reuse that ends it; a client
//! credentials session renewed; revocation (RFC 7009) and introspection
//! (RFC 7662); logout (revocation, then the RP-initiated logout URL the
//! provider accepts); the device authorization grant (RFC 8628), polled by
//! hand in fake time; a pushed authorization request (RFC 9126) sign-in;
//! and the async [`TokenSource`] refreshing once for many tasks, then
//! ending for good once its grant is revoked.
//!
//! Expiry is forced with a `now` past the access token's lifetime minus the
//! refresh margin, and device polling moves a fake clock to each
//! `WaitUntil` deadline: no test here sleeps.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use grantflow::{
    Access, AccessToken, Applied, Client, ClientAuth, ClientId, ClientSecret, DevicePoll,
    DeviceTokens, DiscoveredProvider, Discovery, EndpointUrl, ErrorCode, Flow, Issuer,
    LogoutOptions, RedirectUri, Rotation, Scope, Session, SignIn, Step, TokenSet, TokenTypeHint,
    UnixTime,
};
use grantflow_async::{Error, HttpClient, TokenError, TokenSource, drive, now, os_rng};
use grantflow_tests::TestClient;
use grantflow_tests::provider::{
    ALICE, BOB, CC_BASIC, DEVICE_APP, POST_LOGOUT_REDIRECT_URI, Provider, REDIRECT_URI, SPA,
    WEB_APP, agent,
};

/// Spawns tasks on one runtime, so a scenario runs on each.
trait Runtime {
    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>>;
}

struct Smol;

impl Runtime for Smol {
    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>> {
        Box::pin(smol::spawn(future))
    }
}

struct AsyncStd;

impl Runtime for AsyncStd {
    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>> {
        Box::pin(async_std::task::spawn(future))
    }
}

/// A test per runtime for each scenario.
macro_rules! on_both_runtimes {
    ($($scenario:ident),* $(,)?) => {
        mod smol_runtime {
            $(
                #[test]
                fn $scenario() {
                    smol::block_on(super::$scenario::<super::Smol>());
                }
            )*
        }
        mod async_std_runtime {
            $(
                #[test]
                fn $scenario() {
                    async_std::task::block_on(super::$scenario::<super::AsyncStd>());
                }
            )*
        }
    };
}

on_both_runtimes!(
    a_refresh_rotates_and_reusing_the_old_refresh_token_ends_the_session,
    a_client_credentials_session_runs_its_grant_again,
    introspect_revoke_introspect,
    logout_revokes_both_tokens_and_the_provider_accepts_the_logout_url,
    device_flow_approved_while_polling_in_fake_time,
    device_flow_denied_is_access_denied,
    par_sign_in_end_to_end,
    a_token_source_refreshes_once_for_many_tasks_and_ends_with_its_grant,
);

/// Late enough that a fresh access token (3600 s) is due for refresh under
/// the default 60 s margin, early enough that a fresh ID token has not expired.
const DUE: u64 = 3550;

fn later(secs: u64) -> UnixTime {
    now().saturating_add_secs(secs)
}

async fn discover(http: &HttpClient) -> DiscoveredProvider {
    let issuer = Issuer::new(Provider::shared().issuer()).unwrap();
    drive(http, Discovery::openid(issuer)).await.unwrap()
}

/// A discovered client (so refreshed ID tokens are validated, and the
/// revocation, introspection and end-session endpoints are known).
async fn client(http: &HttpClient, test_client: TestClient) -> Client {
    let auth = match test_client.secret {
        None => ClientAuth::None,
        Some(secret) => ClientAuth::ClientSecretBasic(ClientSecret::new(secret)),
    };
    Client::from_provider(&discover(http).await, ClientId::new(test_client.id), auth)
}

/// Signs `account` in with `offline_access` and `prompt=consent`, so that the
/// provider issues a refresh token.
async fn sign_in(http: &HttpClient, client: &Client, account: &str) -> SignIn {
    let (url, pending) = client
        .sign_in(REDIRECT_URI)
        .unwrap()
        .scopes(["openid", "offline_access", "email"].map(|s| Scope::new(s).unwrap()))
        .prompt("consent")
        .begin(&mut os_rng(), now())
        .unwrap();
    let location = Provider::shared().login(url.as_str(), account).unwrap();
    let exchange = pending.callback(client, &location, now()).unwrap();
    let sign_in = drive(http, exchange).await.unwrap();
    assert!(
        sign_in.tokens.refresh_token.is_some(),
        "offline_access with prompt=consent brings a refresh token"
    );
    sign_in
}

/// The refresh the session hands out at `at`; panics on anything else.
fn due_refresh(session: &Session, client: &Client, at: UnixTime) -> grantflow::Refresh {
    match session.access_token(client, at).unwrap() {
        Access::Refresh(refresh) => refresh,
        other => panic!("expected a refresh at {at}, got {other:?}"),
    }
}

fn refresh_token(tokens: &TokenSet) -> String {
    tokens.refresh_token.as_ref().unwrap().secret().to_owned()
}

/// The flow's own error; panics on a transport error.
fn flow_error(error: Error) -> grantflow::Error {
    match error {
        Error::Flow(error) => error,
        other => panic!("transport: {other}"),
    }
}

async fn a_refresh_rotates_and_reusing_the_old_refresh_token_ends_the_session<R: Runtime>() {
    let http = HttpClient::new();
    let client = client(&http, SPA).await;
    let signed = sign_in(&http, &client, ALICE).await;
    let first = refresh_token(&signed.tokens);

    let mut session = Session::from_sign_in(&signed);
    assert!(matches!(
        session.access_token(&client, now()).unwrap(),
        Access::Ready(tokens) if tokens.access_token.secret() == signed.tokens.access_token.secret()
    ));
    let refresh = due_refresh(&session, &client, later(DUE));
    let refreshed = drive(&http, refresh).await.unwrap();
    assert_eq!(refreshed.rotation, Rotation::Rotated);
    let rotated = refresh_token(&refreshed.tokens);
    assert_ne!(rotated, first);
    assert_eq!(refreshed.id_token.as_ref().unwrap().subject(), ALICE);
    let new_access = refreshed.tokens.access_token.secret().to_owned();
    assert!(matches!(
        session.apply_refresh(Ok(refreshed), now()),
        Applied::Updated {
            rotation: Some(Rotation::Rotated),
            ..
        }
    ));
    assert_eq!(refresh_token(session.tokens()), rotated);
    assert_eq!(session.tokens().access_token.secret(), new_access);

    // A copy stored before the rotation: its refresh token was used, the
    // provider refuses it and that session ends.
    let mut stale = Session::from_sign_in(&signed);
    let refresh = due_refresh(&stale, &client, later(DUE));
    let error = flow_error(drive(&http, refresh).await.unwrap_err());
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidGrant));
    assert!(matches!(
        stale.apply_refresh(Err(error), now()),
        Applied::Ended(_)
    ));
    assert!(stale.is_ended());

    // The provider took the reuse for theft and revoked the grant: the live
    // session ends at its next refresh too.
    let refresh = due_refresh(&session, &client, later(DUE));
    let result = drive(&http, refresh).await.map_err(flow_error);
    let Applied::Ended(reason) = session.apply_refresh(result, now()) else {
        panic!("the revoked grant ends the session")
    };
    assert_eq!(reason.oauth_code(), Some(&ErrorCode::InvalidGrant));
    assert!(matches!(
        session.access_token(&client, later(DUE)).unwrap(),
        Access::Ended
    ));
}

/// `test_client` at the provider, with its revocation and introspection
/// endpoints as well as the token endpoint.
fn service(test_client: TestClient) -> Client {
    let provider = Provider::shared();
    let client = provider.client(test_client).unwrap();
    let mut endpoints = client.endpoints().clone();
    endpoints.revocation = Some(EndpointUrl::parse(&provider.revocation_endpoint()).unwrap());
    endpoints.introspection = Some(EndpointUrl::parse(&provider.introspection_endpoint()).unwrap());
    client.with_endpoints(endpoints)
}

async fn a_client_credentials_session_runs_its_grant_again<R: Runtime>() {
    let http = HttpClient::new();
    let client = service(CC_BASIC);
    let mut grant = client
        .client_credentials()
        .unwrap()
        .scope(Scope::new("api:read").unwrap());
    let tokens = drive(&http, &mut grant).await.unwrap();
    let first = tokens.access_token.secret().to_owned();
    let mut session = Session::from_client_credentials(&grant, tokens);

    let Access::Renew(renewal) = session.access_token(&client, later(DUE)).unwrap() else {
        panic!("a due client credentials session runs its grant again")
    };
    let result = drive(&http, renewal).await.map_err(flow_error);
    assert!(matches!(
        session.apply_renewal(result, now()),
        Applied::Updated { rotation: None, ref missing_scopes } if missing_scopes.is_empty()
    ));
    let renewed = session.tokens();
    assert_ne!(renewed.access_token.secret(), first);
    let scopes: Vec<_> = renewed.scopes.iter().flatten().map(Scope::as_str).collect();
    assert_eq!(scopes, ["api:read"]);
    // The provider says the renewed token is its own, and live.
    let flow = client
        .introspect(
            renewed.access_token.secret(),
            Some(TokenTypeHint::AccessToken),
        )
        .unwrap();
    assert!(drive(&http, flow).await.unwrap().active);
}

async fn introspect_revoke_introspect<R: Runtime>() {
    let http = HttpClient::new();
    let provider = Provider::shared();
    let client = service(CC_BASIC);
    let flow = client
        .client_credentials()
        .unwrap()
        .scope(Scope::new("api:read").unwrap());
    let tokens = drive(&http, flow).await.unwrap();
    let introspect = |token: &AccessToken| {
        client
            .introspect(token.secret(), Some(TokenTypeHint::AccessToken))
            .unwrap()
    };

    let info = drive(&http, introspect(&tokens.access_token))
        .await
        .unwrap();
    assert!(info.active, "{info:?}");
    assert!(info.is_active_at(now()));
    assert_eq!(info.client_id.as_ref(), Some(client.client_id()));
    assert!(info.has_scope("api:read") && !info.has_scope("api:write"));
    assert_eq!(info.exp, tokens.expires_at);
    assert_eq!(info.iss.as_deref(), Some(provider.issuer()));

    drive(
        &http,
        client.revoke_access_token(&tokens.access_token).unwrap(),
    )
    .await
    .unwrap();
    let info = drive(&http, introspect(&tokens.access_token))
        .await
        .unwrap();
    assert!(!info.active, "{info:?}");
    assert_eq!(info.client_id, None);

    // A wrong secret: both endpoints refuse the client.
    let wrong = provider
        .client_with_secret(CC_BASIC, "not-the-secret")
        .unwrap()
        .with_endpoints(client.endpoints().clone());
    let error = drive(&http, wrong.revoke("whatever", None).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&ErrorCode::InvalidClient),
        "{error}"
    );
    let error = drive(&http, wrong.introspect("whatever", None).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&ErrorCode::InvalidClient),
        "{error}"
    );
}

async fn logout_revokes_both_tokens_and_the_provider_accepts_the_logout_url<R: Runtime>() {
    let http = HttpClient::new();
    let client = client(&http, WEB_APP).await;
    assert!(client.endpoints().revocation.is_some());
    assert!(client.endpoints().end_session.is_some());
    let signed = sign_in(&http, &client, BOB).await;
    let access_token = signed.tokens.access_token.clone();
    let refresh = signed.tokens.refresh_token.clone().unwrap();

    let options = LogoutOptions::new()
        .post_logout_redirect_uri(RedirectUri::new(POST_LOGOUT_REDIRECT_URI).unwrap())
        .state("bye-async");
    let logout = Session::from_sign_in(&signed)
        .logout(&client, &options)
        .unwrap();
    let url = logout.end_session_url().unwrap().clone();
    let logged_out = drive(&http, logout).await.unwrap();
    assert_eq!(logged_out.revoked, ["refresh_token", "access_token"]);
    assert!(logged_out.failures.is_empty(), "{:?}", logged_out.failures);
    assert_eq!(logged_out.end_session_url.as_ref(), Some(&url));

    // The tokens are dead at the provider.
    for (token, hint) in [
        (access_token.secret(), TokenTypeHint::AccessToken),
        (refresh.secret(), TokenTypeHint::RefreshToken),
    ] {
        let info = drive(&http, client.introspect(token, Some(hint)).unwrap())
            .await
            .unwrap();
        assert!(!info.active, "a revoked token is inactive");
    }
    let error = drive(&http, client.refresh(&refresh).unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidGrant));

    // The provider accepts the RP-initiated logout request: its
    // confirmation page, with the form that ends its own session.
    let mut response = agent().get(url.as_str()).call().unwrap();
    let status = response.status().as_u16();
    let page = response.body_mut().read_to_string().unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<form"), "{page}");
    assert!(url.as_str().contains("id_token_hint="));
    assert!(url.as_str().contains("state=bye-async"));
}

/// Polls a device flow by hand in fake time: a `WaitUntil` moves the clock
/// to its deadline at once, and each request really goes to the provider
/// through the async client.
struct DevicePolling<'a> {
    http: &'a HttpClient,
    now: UnixTime,
    /// The fake instants at which polls were sent.
    polls: Vec<UnixTime>,
}

impl DevicePolling<'_> {
    /// Drives `poll` until it has sent its next request and has the answer,
    /// then returns the step after it (WaitUntil, Done, or the error).
    async fn poll_once(
        &mut self,
        poll: &mut DevicePoll,
        mut step: Result<Step<DeviceTokens>, grantflow::Error>,
    ) -> Result<Step<DeviceTokens>, grantflow::Error> {
        loop {
            step = match step? {
                Step::WaitUntil(at) => {
                    assert!(at >= self.now, "WaitUntil went back in time");
                    self.now = at;
                    poll.handle_timeout(at)
                }
                Step::Send(request) => {
                    self.polls.push(self.now);
                    let response = self.http.send(request).await.unwrap();
                    return poll.handle_response(response, self.now);
                }
                Step::Done(tokens) => return Ok(Step::Done(tokens)),
            }
        }
    }
}

async fn device_flow_approved_while_polling_in_fake_time<R: Runtime>() {
    let provider = Provider::shared();
    let http = HttpClient::new();
    let client = client(&http, DEVICE_APP).await;
    let flow = client
        .device_authorization()
        .unwrap()
        .scopes(["openid", "email"].map(|s| Scope::new(s).unwrap()));
    let authorization = drive(&http, flow).await.unwrap();
    let user_code = authorization.user_code().to_owned();
    assert!(!user_code.is_empty());
    assert_eq!(
        authorization.verification_uri().as_str(),
        provider.url("/device")
    );
    // oidc-provider sends no interval: the RFC's 5 s default.
    assert_eq!(authorization.interval(), 5);

    let start_at = authorization.received_at();
    let mut polling = DevicePolling {
        http: &http,
        now: start_at,
        polls: Vec::new(),
    };
    let mut poll = authorization.poll();
    // The first poll, before the user did anything: authorization_pending.
    let first = poll.start(start_at);
    let Step::WaitUntil(next) = polling.poll_once(&mut poll, first).await.unwrap() else {
        panic!("expected to wait after authorization_pending")
    };
    assert_eq!(polling.polls, [start_at.saturating_add_secs(5)]);
    assert_eq!(next, start_at.saturating_add_secs(10));

    // The user approves on another device; the next poll gets the tokens.
    provider.approve_device(&user_code, ALICE).unwrap();
    let Step::Done(done) = polling
        .poll_once(&mut poll, Ok(Step::WaitUntil(next)))
        .await
        .unwrap()
    else {
        panic!("expected the tokens")
    };
    assert_eq!(
        polling.polls,
        [
            start_at.saturating_add_secs(5),
            start_at.saturating_add_secs(10)
        ]
    );
    let id_token = done.id_token.expect("scope openid: a validated ID token");
    assert_eq!(id_token.subject(), ALICE);
    assert_eq!(id_token.claims().iss, provider.issuer());
    // The access token works at UserInfo, for Alice.
    let info = drive(&http, client.userinfo(&done.tokens, &id_token).unwrap())
        .await
        .unwrap();
    assert_eq!(info.sub, ALICE);
    assert_eq!(
        info.string("email"),
        Some(format!("{ALICE}@example.test").as_str())
    );
}

async fn device_flow_denied_is_access_denied<R: Runtime>() {
    let provider = Provider::shared();
    let http = HttpClient::new();
    let client = client(&http, DEVICE_APP).await;
    let flow = client
        .device_authorization()
        .unwrap()
        .scopes([Scope::new("openid").unwrap()]);
    let authorization = drive(&http, flow).await.unwrap();
    provider.deny_device(authorization.user_code()).unwrap();

    let start_at = authorization.received_at();
    let mut polling = DevicePolling {
        http: &http,
        now: start_at,
        polls: Vec::new(),
    };
    let mut poll = authorization.poll();
    let first = poll.start(start_at);
    let error = polling.poll_once(&mut poll, first).await.unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&ErrorCode::AccessDenied),
        "{error}"
    );
    assert_eq!(polling.polls.len(), 1);
    // The error ended the flow.
    assert!(matches!(
        poll.handle_timeout(polling.now.saturating_add_secs(60)),
        Err(grantflow::Error::UnexpectedCall { .. })
    ));
}

async fn par_sign_in_end_to_end<R: Runtime>() {
    let provider = Provider::shared();
    let http = HttpClient::new();
    for test_client in [WEB_APP, SPA] {
        let client = client(&http, test_client).await;
        let push = client
            .sign_in(REDIRECT_URI)
            .unwrap()
            .scopes([Scope::new("email").unwrap()])
            .push(&mut os_rng(), now())
            .unwrap();
        let (url, pending) = drive(&http, push).await.unwrap();
        // The browser carries only client_id and request_uri.
        assert!(url.as_str().starts_with(&provider.authorization_endpoint()));
        let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(params.len(), 2, "{params:?}");
        assert_eq!(
            params[0],
            ("client_id".to_owned(), test_client.id.to_owned())
        );
        assert_eq!(params[1].0, "request_uri");
        assert!(
            params[1]
                .1
                .starts_with("urn:ietf:params:oauth:request_uri:")
        );

        let location = provider.login(url.as_str(), ALICE).unwrap();
        let exchange = pending.callback(&client, &location, now()).unwrap();
        let signed = drive(&http, exchange).await.unwrap();
        assert_eq!(signed.id_token.subject(), ALICE);
    }
    // A pushed request the provider refuses is an OAuth error.
    let client = client(&http, WEB_APP).await;
    let push = client
        .sign_in("http://127.0.0.1/not-registered")
        .unwrap()
        .push(&mut os_rng(), now())
        .unwrap();
    let error = drive(&http, push).await.unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&ErrorCode::InvalidRequest),
        "{error}"
    );
}

async fn a_token_source_refreshes_once_for_many_tasks_and_ends_with_its_grant<R: Runtime>() {
    const TASKS: usize = 16;
    let http = HttpClient::new();
    let client = client(&http, SPA).await;
    let signed = sign_in(&http, &client, ALICE).await;
    let old_access = signed.tokens.access_token.secret().to_owned();
    let old_refresh = refresh_token(&signed.tokens);

    let stored: Arc<Mutex<Vec<Session>>> = Arc::new(Mutex::new(Vec::new()));
    let store = stored.clone();
    let source = TokenSource::builder(
        Session::from_sign_in(&signed),
        client.clone(),
        HttpClient::new(),
    )
    .clock(|| later(DUE))
    .on_change(move |session| store.lock().unwrap().push(session.clone()))
    .build();

    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let source = source.clone();
            R::spawn(async move { source.token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().access_token.secret().to_owned());
    }
    assert_ne!(tokens[0], old_access);
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "one new token for all"
    );
    let changes = stored.lock().unwrap().clone();
    assert_eq!(changes.len(), 1, "one refresh");
    let new_refresh = refresh_token(changes[0].tokens());
    assert_ne!(new_refresh, old_refresh, "rotated, and handed to the store");
    assert_eq!(changes[0].identity().unwrap().subject, ALICE);
    assert_eq!(refresh_token(source.session().tokens()), new_refresh);

    // The grant is revoked elsewhere (say, the user logged out on another
    // device); a resource server rejects the token: the source ends, tells
    // the store to clear, and answers ended from then on.
    drive(
        &http,
        client
            .revoke_refresh_token(source.session().tokens().refresh_token.as_ref().unwrap())
            .unwrap(),
    )
    .await
    .unwrap();
    source.invalidate_token(&AccessToken::new(tokens[0].clone()));
    let error = source.token().await.unwrap_err();
    assert!(error.is_session_ended(), "{error}");
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidGrant));
    let task = source.clone();
    let again = R::spawn(async move { task.token().await })
        .await
        .unwrap_err();
    assert!(matches!(again, TokenError::SessionEnded { .. }), "{again}");
    assert!(source.is_ended());
    let changes = stored.lock().unwrap().clone();
    assert_eq!(changes.len(), 2);
    assert!(changes[1].is_ended(), "the store is told to clear");
}
