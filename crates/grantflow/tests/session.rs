//! The token session in fake time: the refresh margin, rotation and no
//! rotation, a missing refresh token, `invalid_grant`, transient failures,
//! a refreshed ID token of another user, tokens without expiry, client
//! credentials renewal, and storage (serde with a version, `Debug`).

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantflow::testing::{drive, json_response, jwk_set, sign_jwt, test_signer};
use grantflow::{
    Access, AccessToken, Applied, Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Error,
    ErrorKind, IdTokenError, IdTokenPolicy, Identity, Issuer, RETRY_DELAY, RefreshToken, Rotation,
    Scope, Session, TokenSet, TokenType, UnixTime,
};
use serde_json::json;

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://op.example.com";

fn client() -> Client {
    Client::new(
        ClientId::new("web-app"),
        ClientAuth::ClientSecretBasic(ClientSecret::new("s3cr3t")),
    )
    .with_token_endpoint(EndpointUrl::parse("https://op.example.com/token").unwrap())
}

/// Tokens received at NOW, good for an hour, with refresh token `rt`.
fn tokens() -> TokenSet {
    TokenSet::new(AccessToken::new("at-1"), TokenType::Bearer, NOW)
        .with_expires_in(3600)
        .with_refresh_token(RefreshToken::new("rt-1"))
}

fn session() -> Session {
    Session::from_tokens(tokens())
}

fn at(seconds: u64) -> UnixTime {
    NOW.saturating_add_secs(seconds)
}

fn ready_token(access: Access<'_>) -> String {
    match access {
        Access::Ready(tokens) => tokens.access_token.secret().to_owned(),
        other => panic!("expected a ready token, got {other:?}"),
    }
}

fn refresh_of(access: Access<'_>) -> grantflow::Refresh {
    match access {
        Access::Refresh(refresh) => refresh,
        other => panic!("expected a refresh, got {other:?}"),
    }
}

fn answer(
    body: serde_json::Value,
) -> impl FnMut(grantflow::HttpRequest) -> grantflow::HttpResponse {
    let body = body.to_string();
    move |_| json_response(200, body.clone())
}

#[test]
fn the_token_is_used_until_the_margin_then_refreshed() {
    let session = session();
    assert_eq!(
        ready_token(session.access_token(&client(), NOW).unwrap()),
        "at-1"
    );
    assert_eq!(
        ready_token(session.access_token(&client(), at(3539)).unwrap()),
        "at-1"
    );
    // 60 s before expiry: refresh.
    let _refresh = refresh_of(session.access_token(&client(), at(3540)).unwrap());
    let _refresh = refresh_of(session.access_token(&client(), at(4000)).unwrap());
}

#[test]
fn the_margin_is_configurable() {
    let session = session().with_refresh_margin(600);
    assert_eq!(
        ready_token(session.access_token(&client(), at(2999)).unwrap()),
        "at-1"
    );
    let _refresh = refresh_of(session.access_token(&client(), at(3000)).unwrap());
}

#[test]
fn a_rotated_refresh_token_replaces_the_old_one() {
    let mut session = session();
    let refresh = refresh_of(session.access_token(&client(), at(3590)).unwrap());
    let mut sent = Vec::new();
    let result = drive(refresh, at(3590), |request| {
        sent.push(String::from_utf8(request.body().clone()).unwrap());
        json_response(
            200,
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-2"}"#,
        )
    });
    assert!(sent[0].contains("refresh_token=rt-1"), "{}", sent[0]);
    let applied = session.apply_refresh(result, at(3590));
    assert!(matches!(
        applied,
        Applied::Updated {
            rotation: Some(Rotation::Rotated),
            ..
        }
    ));
    assert_eq!(
        session.tokens().refresh_token.as_ref().unwrap().secret(),
        "rt-2"
    );
    assert_eq!(
        ready_token(session.access_token(&client(), at(3600)).unwrap()),
        "at-2"
    );
    assert_eq!(session.tokens().expires_at, Some(at(3590 + 3600)));
    // The next refresh sends the rotated token.
    let refresh = refresh_of(session.access_token(&client(), at(7150)).unwrap());
    let mut flow = refresh;
    let step = grantflow::Flow::start(&mut flow, at(7150)).unwrap();
    let grantflow::Step::Send(request) = step else {
        panic!("a refresh starts with its request")
    };
    assert!(String::from_utf8_lossy(request.body()).contains("refresh_token=rt-2"));
}

#[test]
fn without_rotation_the_old_refresh_token_stays() {
    let mut session = session();
    let refresh = refresh_of(session.access_token(&client(), at(3590)).unwrap());
    let result = drive(
        refresh,
        at(3590),
        answer(json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600})),
    );
    let applied = session.apply_refresh(result, at(3590));
    assert!(matches!(
        applied,
        Applied::Updated {
            rotation: Some(Rotation::Kept),
            ..
        }
    ));
    assert_eq!(
        session.tokens().refresh_token.as_ref().unwrap().secret(),
        "rt-1"
    );
    assert_eq!(session.tokens().access_token.secret(), "at-2");
}

#[test]
fn without_a_refresh_token_the_token_is_used_until_it_expires_then_the_session_ends() {
    let tokens =
        TokenSet::new(AccessToken::new("at-1"), TokenType::Bearer, NOW).with_expires_in(3600);
    let session = Session::from_tokens(tokens);
    assert_eq!(
        ready_token(session.access_token(&client(), at(3599)).unwrap()),
        "at-1"
    );
    assert!(matches!(
        session.access_token(&client(), at(3600)).unwrap(),
        Access::Ended
    ));
}

#[test]
fn invalid_grant_ends_the_session_for_good() {
    let mut session = session();
    let refresh = refresh_of(session.access_token(&client(), at(3590)).unwrap());
    let result = drive(refresh, at(3590), |_| {
        json_response(400, r#"{"error":"invalid_grant"}"#)
    });
    let applied = session.apply_refresh(result, at(3590));
    let Applied::Ended(reason) = applied else {
        panic!("invalid_grant must end the session, got {applied:?}")
    };
    assert_eq!(
        reason.oauth_code(),
        Some(&grantflow::ErrorCode::InvalidGrant)
    );
    assert!(session.is_ended());
    // Even though the old access token has not expired yet.
    assert!(matches!(
        session.access_token(&client(), at(3591)).unwrap(),
        Access::Ended
    ));
}

#[test]
fn transient_failures_keep_the_old_token_until_it_expires() {
    let mut session = session();
    let refresh = refresh_of(session.access_token(&client(), at(3550)).unwrap());
    let result = drive(refresh, at(3550), |_| {
        json_response(503, r#"{"error":"temporarily_unavailable"}"#)
    });
    let applied = session.apply_refresh(result, at(3550));
    let Applied::Failed(error) = applied else {
        panic!("a 503 keeps the session, got {applied:?}")
    };
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert!(!session.is_ended());
    // The old token, still good, is used while the retry delay runs…
    assert_eq!(
        ready_token(session.access_token(&client(), at(3551)).unwrap()),
        "at-1"
    );
    // …then a refresh is asked for again,
    let _again = refresh_of(
        session
            .access_token(&client(), at(3550 + RETRY_DELAY))
            .unwrap(),
    );
    // and once the token has expired it is never handed out.
    let _expired = refresh_of(session.access_token(&client(), at(3600)).unwrap());
}

#[test]
fn a_refreshed_id_token_of_another_user_ends_the_session() {
    let signer = test_signer(1, "k1");
    let client = client()
        .with_issuer(Issuer::new(ISSUER).unwrap())
        .with_id_token_policy(
            IdTokenPolicy::default().with_algorithms([grantflow::Algorithm::EdDsa]),
        )
        .with_jwks(jwk_set(&[&signer]).unwrap());
    let mut session =
        session().with_identity(Identity::new(ISSUER, "alice", ["web-app".to_owned()]));
    let refresh = refresh_of(session.access_token(&client, at(3590)).unwrap());
    let id_token = sign_jwt(
        &signer,
        &json!({"iss": ISSUER, "sub": "mallory", "aud": "web-app",
                "iat": at(3590).as_secs(), "exp": at(4000).as_secs()}),
    )
    .unwrap();
    let result = drive(
        refresh,
        at(3590),
        answer(json!({"access_token": "at-2", "token_type": "Bearer", "id_token": id_token})),
    );
    let applied = session.apply_refresh(result, at(3590));
    let Applied::Ended(reason) = applied else {
        panic!("another user's id token must end the session, got {applied:?}")
    };
    assert_eq!(
        reason,
        Error::IdToken(IdTokenError::ChangedOnRefresh { claim: "sub" })
    );
    assert!(session.is_ended());
    assert_eq!(session.tokens().access_token.secret(), "at-1");
}

#[test]
fn a_token_without_expiry_is_used_until_reported_rejected() {
    let tokens = TokenSet::new(AccessToken::new("at-1"), TokenType::Bearer, NOW)
        .with_refresh_token(RefreshToken::new("rt-1"));
    let mut session = Session::from_tokens(tokens);
    assert_eq!(
        ready_token(
            session
                .access_token(&client(), at(10 * 365 * 86_400))
                .unwrap()
        ),
        "at-1"
    );
    session.invalidate();
    let refresh = refresh_of(session.access_token(&client(), at(5)).unwrap());
    let result = drive(
        refresh,
        at(5),
        answer(json!({"access_token": "at-2", "token_type": "Bearer"})),
    );
    assert!(matches!(
        session.apply_refresh(result, at(5)),
        Applied::Updated { .. }
    ));
    assert_eq!(
        ready_token(session.access_token(&client(), at(6)).unwrap()),
        "at-2"
    );
}

#[test]
fn a_rejected_token_without_a_way_to_renew_ends_the_session() {
    let mut session = Session::from_tokens(TokenSet::new(
        AccessToken::new("at-1"),
        TokenType::Bearer,
        NOW,
    ));
    session.invalidate();
    assert!(session.is_ended());
    assert!(matches!(
        session.access_token(&client(), NOW).unwrap(),
        Access::Ended
    ));
}

#[test]
fn a_client_credentials_session_runs_the_grant_again() {
    let grant = client()
        .client_credentials()
        .unwrap()
        .scope(Scope::new("api:read").unwrap())
        .resource(url::Url::parse("https://api.example.com/").unwrap());
    let first = TokenSet::new(AccessToken::new("at-1"), TokenType::Bearer, NOW)
        .with_expires_in(600)
        .with_scopes([Scope::new("api:read").unwrap()]);
    let mut session = Session::from_client_credentials(&grant, first);
    assert_eq!(
        ready_token(session.access_token(&client(), at(100)).unwrap()),
        "at-1"
    );
    let Access::Renew(renewal) = session.access_token(&client(), at(550)).unwrap() else {
        panic!("a client credentials session renews")
    };
    let mut sent = String::new();
    let result = drive(renewal, at(550), |request| {
        sent = String::from_utf8(request.body().clone()).unwrap();
        json_response(
            200,
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":600}"#,
        )
    });
    assert_eq!(
        sent,
        "grant_type=client_credentials&scope=api%3Aread&resource=https%3A%2F%2Fapi.example.com%2F"
    );
    let applied = session.apply_renewal(result, at(550));
    assert!(matches!(applied, Applied::Updated { rotation: None, .. }));
    assert_eq!(
        ready_token(session.access_token(&client(), at(600)).unwrap()),
        "at-2"
    );
}

#[test]
fn lost_scopes_are_reported() {
    let mut session = Session::from_tokens(
        tokens().with_scopes([Scope::new("read").unwrap(), Scope::new("write").unwrap()]),
    );
    let refresh = refresh_of(session.access_token(&client(), at(3590)).unwrap());
    let result = drive(
        refresh,
        at(3590),
        answer(json!({"access_token": "at-2", "token_type": "Bearer", "scope": "read"})),
    );
    let Applied::Updated { missing_scopes, .. } = session.apply_refresh(result, at(3590)) else {
        panic!("the refresh succeeded")
    };
    assert_eq!(missing_scopes, [Scope::new("write").unwrap()]);
}

#[test]
fn a_session_round_trips_through_storage_with_its_version() {
    let session = Session::from_tokens(tokens())
        .with_identity(Identity::new(ISSUER, "alice", ["web-app".to_owned()]))
        .with_refresh_margin(120);
    let stored = serde_json::to_value(&session).unwrap();
    assert_eq!(stored["version"], 1);
    let restored: Session = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(serde_json::to_value(&restored).unwrap(), stored);
    assert_eq!(restored.identity().unwrap().subject, "alice");
    // The margin survives: refresh at 120 s before expiry.
    let _refresh = refresh_of(restored.access_token(&client(), at(3480)).unwrap());

    let mut future = stored;
    future["version"] = json!(2);
    let error = serde_json::from_value::<Session>(future).unwrap_err();
    assert!(error.to_string().contains("version 2"), "{error}");
}

#[test]
fn debug_never_shows_a_token() {
    let session = session();
    let text = format!("{session:?} {session:#?}");
    assert!(!text.contains("at-1") && !text.contains("rt-1"), "{text}");
}

#[test]
fn a_token_set_is_stored_with_its_version() {
    let stored = serde_json::to_value(tokens()).unwrap();
    assert_eq!(stored["version"], 1);
    let restored: TokenSet = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(restored.access_token.secret(), "at-1");
    // Stored before versions existed: read as version 1.
    let mut unversioned = stored.clone();
    unversioned.as_object_mut().unwrap().remove("version");
    let restored: TokenSet = serde_json::from_value(unversioned).unwrap();
    assert_eq!(restored.refresh_token.unwrap().secret(), "rt-1");
    let mut future = stored;
    future["version"] = json!(7);
    let error = serde_json::from_value::<TokenSet>(future).unwrap_err();
    assert!(error.to_string().contains("version 7"), "{error}");
}

#[test]
fn a_refresh_that_got_no_answer_is_retried_after_the_delay() {
    let mut session = session();
    let _refresh = refresh_of(session.access_token(&client(), at(3550)).unwrap());
    // The adapter could not reach the token endpoint.
    session.retry_later(at(3550));
    assert_eq!(
        ready_token(session.access_token(&client(), at(3551)).unwrap()),
        "at-1"
    );
    let _again = refresh_of(
        session
            .access_token(&client(), at(3550 + RETRY_DELAY))
            .unwrap(),
    );
    // A rejected token is never answered, even while waiting.
    session.retry_later(at(3560));
    session.invalidate();
    assert!(session.is_rejected());
    let _rejected = refresh_of(session.access_token(&client(), at(3561)).unwrap());
}

#[test]
fn a_session_ended_while_its_refresh_was_in_flight_stays_ended() {
    let mut session = session();
    let refresh = refresh_of(session.access_token(&client(), at(3590)).unwrap());
    session.end();
    let result = drive(
        refresh,
        at(3590),
        answer(json!({"access_token": "at-2", "token_type": "Bearer", "refresh_token": "rt-2"})),
    );
    let applied = session.apply_refresh(result, at(3590));
    assert!(
        matches!(applied, Applied::Ended(Error::SessionEnded)),
        "{applied:?}"
    );
    assert!(session.is_ended());
    assert_eq!(session.tokens().access_token.secret(), "at-1");
    assert!(matches!(
        session.apply_renewal(Ok(tokens()), at(3590)),
        Applied::Ended(Error::SessionEnded)
    ));
}

#[test]
fn a_refreshed_id_token_moves_the_identitys_issue_time_on() {
    let signer = test_signer(1, "k1");
    let client = client()
        .with_issuer(Issuer::new(ISSUER).unwrap())
        .with_id_token_policy(
            IdTokenPolicy::default().with_algorithms([grantflow::Algorithm::EdDsa]),
        )
        .with_jwks(jwk_set(&[&signer]).unwrap());
    let mut identity = Identity::new(ISSUER, "alice", ["web-app".to_owned()]);
    identity.issued_at = Some(NOW);
    let mut session = session().with_identity(identity);
    let refresh = refresh_of(session.access_token(&client, at(3590)).unwrap());
    let id_token = sign_jwt(
        &signer,
        &json!({"iss": ISSUER, "sub": "alice", "aud": "web-app",
                "iat": at(3590).as_secs(), "exp": at(4000).as_secs()}),
    )
    .unwrap();
    let result = drive(
        refresh,
        at(3590),
        answer(json!({"access_token": "at-2", "token_type": "Bearer", "id_token": id_token})),
    );
    assert!(matches!(
        session.apply_refresh(result, at(3590)),
        Applied::Updated { .. }
    ));
    assert_eq!(session.identity().unwrap().issued_at, Some(at(3590)));
}

#[test]
fn usable_tokens_are_the_ones_good_now_and_invalidate_token_spares_a_renewed_one() {
    let mut session = session();
    assert!(session.usable_tokens(at(3599)).is_some());
    assert!(session.usable_tokens(at(3600)).is_none(), "expired");
    // Another caller's stale report does nothing once the token changed.
    session.invalidate_token(&AccessToken::new("at-0"));
    assert!(!session.is_rejected());
    session.invalidate_token(&AccessToken::new("at-1"));
    assert!(session.is_rejected());
    assert!(session.usable_tokens(NOW).is_none(), "rejected");
    session.end();
    assert!(session.usable_tokens(NOW).is_none(), "ended");
}
