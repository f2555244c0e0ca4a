//! Refresh (RFC 6749 §6) and the token session end to end against the
//! bundled OpenID provider on 127.0.0.1: rotation for the public `spa`
//! client and reuse of a rotated refresh token refused (`invalid_grant`,
//! ending the session), the ID token's `sub` kept on refresh (OIDC Core
//! §12.2), a client credentials session re-running its grant on expiry, and
//! the ureq adapter's `TokenSource` and `BearerAuth` middleware.
//!
//! The provider issues refresh tokens under its default policy: only with
//! scope `offline_access`, which it grants only with `prompt=consent`
//! (oidc-provider's `issueRefreshToken`); it rotates them for public clients
//! (`rotateRefreshToken`) and keeps them for confidential ones until 70 % of
//! their lifetime has passed. Expiry is forced with a `now` past the access
//! token's 3600 s lifetime minus the 60 s margin, not by waiting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use grantflow::{
    Access, AccessToken, Applied, Client, ClientAuth, ClientId, ClientSecret, DiscoveredProvider,
    Discovery, EndpointUrl, ErrorCode, Issuer, Refreshed, Rotation, Scope, Session, SignIn,
    TokenSet, UnixTime,
};
use grantflow_tests::TestClient;
use grantflow_tests::provider::{ALICE, BOB, CC_BASIC, Provider, REDIRECT_URI, SPA, WEB_APP};
use grantflow_ureq::{BearerAuth, HttpClient, TokenSource, drive, now, os_rng};

/// Late enough that a fresh access token (3600 s) is due for refresh under
/// the default 60 s margin, early enough that a fresh ID token has not expired.
const DUE: u64 = 3550;

fn discover(provider: &Provider) -> DiscoveredProvider {
    let issuer = Issuer::new(provider.issuer()).unwrap();
    drive(&HttpClient::new(), Discovery::openid(issuer)).unwrap()
}

/// A discovered client (so refreshed ID tokens are validated) for `test_client`.
fn client(provider: &Provider, test_client: TestClient) -> Client {
    let auth = match (test_client.auth_method, test_client.secret) {
        ("none", None) => ClientAuth::None,
        ("client_secret_basic", Some(secret)) => {
            ClientAuth::ClientSecretBasic(ClientSecret::new(secret))
        }
        other => panic!("{}: not used here: {other:?}", test_client.id),
    };
    Client::from_provider(&discover(provider), ClientId::new(test_client.id), auth)
}

/// Signs `account` in with `offline_access` and `prompt=consent`, so that the
/// provider issues a refresh token.
fn sign_in(provider: &Provider, client: &Client, account: &str) -> SignIn {
    let (url, pending) = client
        .sign_in(REDIRECT_URI)
        .unwrap()
        .scopes(["openid", "offline_access", "email"].map(|s| Scope::new(s).unwrap()))
        .prompt("consent")
        .begin(&mut os_rng(), now())
        .unwrap();
    let location = provider.login(url.as_str(), account).unwrap();
    let exchange = pending.callback(client, &location, now()).unwrap();
    let sign_in = drive(&HttpClient::new(), exchange).unwrap();
    assert!(
        sign_in.tokens.refresh_token.is_some(),
        "offline_access with prompt=consent brings a refresh token"
    );
    sign_in
}

fn later(secs: u64) -> UnixTime {
    now().saturating_add_secs(secs)
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

#[test]
fn a_public_clients_refresh_token_rotates_and_the_old_one_ends_a_session() {
    let provider = Provider::shared();
    let client = client(provider, SPA);
    let signed = sign_in(provider, &client, ALICE);
    let first = refresh_token(&signed.tokens);

    // Not due yet: the session answers the token it holds.
    let mut session = Session::from_sign_in(&signed);
    match session.access_token(&client, now()).unwrap() {
        Access::Ready(tokens) => assert_eq!(
            tokens.access_token.secret(),
            signed.tokens.access_token.secret()
        ),
        other => panic!("expected the signed-in token, got {other:?}"),
    }

    let refresh = due_refresh(&session, &client, later(DUE));
    let refreshed: Refreshed = drive(&HttpClient::new(), refresh).unwrap();
    assert_eq!(refreshed.rotation, Rotation::Rotated);
    let rotated = refresh_token(&refreshed.tokens);
    assert_ne!(rotated, first);
    // The refreshed ID token was validated and names the same user.
    assert_eq!(refreshed.id_token.as_ref().unwrap().subject(), ALICE);
    let new_access = refreshed.tokens.access_token.secret().to_owned();
    assert_ne!(new_access, signed.tokens.access_token.secret());

    match session.apply_refresh(Ok(refreshed), now()) {
        Applied::Updated { rotation, .. } => assert_eq!(rotation, Some(Rotation::Rotated)),
        other => panic!("expected the session updated, got {other:?}"),
    }
    assert_eq!(refresh_token(session.tokens()), rotated);
    assert_eq!(session.identity().unwrap().subject, ALICE);
    assert!(matches!(
        session.access_token(&client, now()).unwrap(),
        Access::Ready(tokens) if tokens.access_token.secret() == new_access
    ));

    // A copy stored before the rotation (the bug rotation guards against):
    // its refresh token was used, the provider refuses it and the session ends.
    let mut stale = Session::from_sign_in(&signed);
    let refresh = due_refresh(&stale, &client, later(DUE));
    let result = drive(&HttpClient::new(), refresh);
    let error = match result {
        Err(grantflow_ureq::Error::Flow(error)) => error,
        other => panic!("expected invalid_grant, got {other:?}"),
    };
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidGrant));
    match stale.apply_refresh(Err(error), now()) {
        Applied::Ended(error) => assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidGrant)),
        other => panic!("expected the session ended, got {other:?}"),
    }
    assert!(stale.is_ended());
    assert!(matches!(
        stale.access_token(&client, later(DUE)).unwrap(),
        Access::Ended
    ));

    // The provider treats the reuse as a stolen token and revokes the whole
    // grant (RFC 9700 §4.14.2): the rotated refresh token dies with it, and
    // the live session ends at its next refresh.
    let refresh = due_refresh(&session, &client, later(DUE));
    let error = match drive(&HttpClient::new(), refresh) {
        Err(grantflow_ureq::Error::Flow(error)) => error,
        other => panic!("expected invalid_grant, got {other:?}"),
    };
    assert!(matches!(
        session.apply_refresh(Err(error), now()),
        Applied::Ended(_)
    ));
    assert!(session.is_ended());
}

#[test]
fn a_confidential_clients_refresh_keeps_the_refresh_token_and_the_sub() {
    let provider = Provider::shared();
    let client = client(provider, WEB_APP);
    let signed = sign_in(provider, &client, BOB);
    let first = refresh_token(&signed.tokens);
    let mut session = Session::from_sign_in(&signed);

    for _ in 0..2 {
        let refresh = due_refresh(&session, &client, later(DUE));
        let refreshed = drive(&HttpClient::new(), refresh).unwrap();
        // oidc-provider keeps a confidential client's refresh token until 70 %
        // of its lifetime has passed, and echoes the same value back in the
        // response: not a rotation.
        assert_eq!(refreshed.rotation, Rotation::Kept);
        assert_eq!(refresh_token(&refreshed.tokens), first);
        assert_eq!(refreshed.id_token.as_ref().unwrap().subject(), BOB);
        assert!(matches!(
            session.apply_refresh(Ok(refreshed), now()),
            Applied::Updated {
                rotation: Some(Rotation::Kept),
                ..
            }
        ));
        assert_eq!(refresh_token(session.tokens()), first);
    }
    assert_eq!(session.identity().unwrap().subject, BOB);
    // The ID token kept for the logout hint is the latest one, for Bob.
    assert!(session.tokens().id_token.is_some());
}

#[test]
fn a_client_credentials_session_runs_the_grant_again_on_expiry() {
    let provider = Provider::shared();
    let client = provider.client(CC_BASIC).unwrap();
    let mut grant = client
        .client_credentials()
        .unwrap()
        .scope(Scope::new("api:read").unwrap());
    let tokens = drive(&HttpClient::new(), &mut grant).unwrap();
    let first = tokens.access_token.secret().to_owned();
    let mut session = Session::from_client_credentials(&grant, tokens);

    assert!(matches!(
        session.access_token(&client, now()).unwrap(),
        Access::Ready(_)
    ));
    let renewal = match session.access_token(&client, later(DUE)).unwrap() {
        Access::Renew(renewal) => renewal,
        other => panic!("expected the grant again, got {other:?}"),
    };
    let result = drive(&HttpClient::new(), renewal).map_err(|e| match e {
        grantflow_ureq::Error::Flow(e) => e,
        other => panic!("transport: {other}"),
    });
    match session.apply_renewal(result, now()) {
        Applied::Updated {
            rotation,
            missing_scopes,
        } => {
            assert_eq!(rotation, None);
            assert!(missing_scopes.is_empty(), "{missing_scopes:?}");
        }
        other => panic!("expected the session updated, got {other:?}"),
    }
    let renewed = session.tokens();
    assert_ne!(renewed.access_token.secret(), first);
    assert!(renewed.refresh_token.is_none());
    let scopes: Vec<_> = renewed.scopes.iter().flatten().map(Scope::as_str).collect();
    assert_eq!(scopes, ["api:read"], "the same scopes asked for again");
}

#[test]
fn a_token_source_refreshes_once_for_many_threads() {
    let provider = Provider::shared();
    let client = client(provider, SPA);
    let signed = sign_in(provider, &client, ALICE);
    let old_access = signed.tokens.access_token.secret().to_owned();
    let old_refresh = refresh_token(&signed.tokens);

    let changes = Arc::new(AtomicUsize::new(0));
    let count = changes.clone();
    let source = TokenSource::builder(Session::from_sign_in(&signed), client, HttpClient::new())
        .clock(|| later(DUE))
        .on_change(move |session| {
            assert!(!session.is_ended());
            count.fetch_add(1, Ordering::SeqCst);
        })
        .build();

    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (source, start) = (source.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                source.token().unwrap().access_token.secret().to_owned()
            })
        })
        .collect();
    let tokens: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_ne!(tokens[0], old_access);
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "one new token for all"
    );
    assert_eq!(changes.load(Ordering::SeqCst), 1, "one refresh");

    let stored = source.session();
    assert_ne!(refresh_token(stored.tokens()), old_refresh, "rotated");
    assert_eq!(stored.identity().unwrap().subject, ALICE);
}

#[test]
fn the_middleware_refreshes_a_rejected_token_and_retries_at_userinfo() {
    let provider = Provider::shared();
    let client = client(provider, SPA);
    let signed = sign_in(provider, &client, ALICE);
    // A session whose access token the provider never issued: its UserInfo
    // endpoint answers 401 `invalid_token`, as for a revoked token.
    let mut tokens = signed.tokens.clone();
    tokens.access_token = AccessToken::new("not-a-token-the-provider-knows");
    let session = Session::from_tokens(tokens)
        .with_identity(Session::from_sign_in(&signed).identity().unwrap().clone());
    let source = TokenSource::new(session, client, HttpClient::new());

    let origin = EndpointUrl::parse(provider.issuer()).unwrap();
    let agent = BearerAuth::new(source.clone(), &origin).agent();
    let mut response = agent.get(provider.userinfo_endpoint()).call().unwrap();
    assert_eq!(response.status(), 200);
    let claims: serde_json::Value =
        serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(claims["sub"], ALICE);
    assert_ne!(
        source.token().unwrap().access_token.secret(),
        "not-a-token-the-provider-knows"
    );
}
