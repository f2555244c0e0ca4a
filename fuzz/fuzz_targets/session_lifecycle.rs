//! The token [`Session`] driven through `access_token`, `invalidate`,
//! `retry_later`, `end`, and the refreshes (`apply_refresh`) or renewals
//! (`apply_renewal`) it hands out, answered by fuzzed responses over fuzzed
//! time steps; and the session sealed and opened with a [`Sealer`].
//!
//! Checked: no panic; once the session has ended (it said so, or answered
//! `Ended`), `access_token` answers `Ended` forever and applying any result
//! answers `Ended`; `Ready` never hands out a token expired at `now`, nor
//! one reported rejected; a refresh sends the session's current refresh
//! token, which is the rotated one after a rotation (and the old one after
//! `Kept`); a refreshed ID token of another `sub` (or a refused refresh,
//! `invalid_grant`) ends the session, and the identity always stays
//! alice's; a renewal sends the grant's scope; the handed-out flows never
//! wait; no token (access, refresh, ID) in the `Debug` of the session, an
//! answer, an applied result, or an error of a templated answer; a sealed
//! session opens, until its expiry, to the same session (same JSON), then
//! is refused as `Expired`, and its sealed form holds no token in clear.
//!
//! Input: a byte choosing the session (refresh token or not, client
//! credentials renewal, expiry, margin), then operations, one byte each:
//! `b % 6`: 0 `access_token` after `b >> 3` seconds (then, for a refresh or
//! renewal, answers in the format of `grantflow_fuzz::driver`, a template
//! reading one byte), 1 `invalidate`, 2 `retry_later`, 3 `end`, 4 seal then
//! open, 5 wait an elapsed time read as in the driver format (bits 6–7 of
//! `b`).

#![no_main]

use grantflow::testing::{CountingRng, sign_jwt};
use grantflow::{
    Access, AccessToken, Applied, ClientAuth, ClientSecret, Error, Flow, Identity, RefreshToken,
    Rotation, Scope, SealError, SealKey, Sealer, Session, Step, TokenSet, TokenType, UnixTime,
};
use grantflow_fuzz::Reader;
use grantflow_fuzz::driver::form_param;
use grantflow_fuzz::driver::{self, Body};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const ISSUER: &str = driver::DISCOVERED_ISSUER;
const CLIENT_ID: &str = "web-app";
const SECRET: &str = "client-secret-Zq81mX";
const LIFETIME: u64 = 3600;

/// Drives `flow` through fuzzed answers (at most three); `None` when the
/// driver "lost the connection" (the session is told `retry_later`).
fn drive<F: Flow>(
    mut flow: F,
    reader: &mut Reader<'_>,
    now: &mut UnixTime,
    counter: &mut u32,
    secrets: &mut Vec<String>,
    signer: &grantflow::Ed25519Signer,
    with_id_token: bool,
) -> Option<(Result<F::Output, Error>, bool)> {
    for _ in 0..3 {
        let mut answer = driver::answer(reader);
        *now = driver::advance(*now, answer.elapsed);
        let templated = matches!(answer.body, Body::Template(_));
        let body = match std::mem::replace(&mut answer.body, Body::Template(0)) {
            Body::Raw(bytes) => bytes,
            Body::Template(t) => {
                if t & 0x40 != 0 {
                    return None;
                }
                let p = reader.byte();
                *counter += 1;
                let access = format!("access-token-{counter:04}");
                secrets.push(access.clone());
                let mut body = json!({"access_token": access, "token_type": "Bearer"});
                match (p >> 3) & 3 {
                    0 => {}
                    1 => body["expires_in"] = json!(0),
                    2 => body["expires_in"] = json!(30),
                    _ => body["expires_in"] = json!(3600),
                }
                if p & 2 != 0 {
                    let rotated = format!("rotated-refresh-{counter:04}");
                    secrets.push(rotated.clone());
                    body["refresh_token"] = json!(rotated);
                }
                if p & 32 != 0 {
                    body["scope"] = json!("read");
                }
                if with_id_token && p & 4 != 0 {
                    let secs = now.as_secs();
                    let claims = json!({
                        "iss": ISSUER,
                        "sub": if p & 1 != 0 { "mallory" } else { "alice" },
                        "aud": CLIENT_ID,
                        "iat": secs,
                        "exp": secs.saturating_add(600),
                    });
                    let token = sign_jwt(signer, &claims).expect("signed");
                    secrets.push(token.clone());
                    body["id_token"] = json!(token);
                }
                if p & 128 != 0 {
                    body = json!({"error": "invalid_grant", "error_description": "revoked"});
                }
                body.to_string().into_bytes()
            }
        };
        match flow.handle_response(driver::response(&answer, &body), *now) {
            Ok(Step::Send(_)) => continue,
            Ok(Step::WaitUntil(_)) => panic!("a session's flow never waits"),
            Ok(Step::Done(output)) => return Some((Ok(output), templated)),
            Err(error) => return Some((Err(error), templated)),
        }
    }
    None
}

fn check_debug(what: &str, text: &str, secrets: &[String]) {
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    driver::assert_no_secret(what, text, &refs);
}

fuzz_target!(|data: &[u8]| {
    let (k1, _) = driver::test_keys();
    let client = driver::discovered_client(
        CLIENT_ID,
        ClientAuth::ClientSecretBasic(ClientSecret::new(SECRET)),
        UnixTime::from_secs(1_699_999_000),
    );
    let sealer = Sealer::new(SealKey::from_bytes([9; 32]), "session", LIFETIME);
    let mut rng = CountingRng::new(3);

    let mut reader = Reader::new(data);
    let mut now = UnixTime::from_secs(1_700_000_000);
    let kind = reader.byte();
    let mut secrets: Vec<String> = vec![SECRET.into(), "first-access-token".into()];
    let mut tokens = TokenSet::new(
        AccessToken::new("first-access-token"),
        TokenType::Bearer,
        now,
    );
    match (kind >> 2) & 3 {
        0 => {}
        1 => tokens = tokens.with_expires_in(0),
        2 => tokens = tokens.with_expires_in(90),
        _ => tokens = tokens.with_expires_in(3600),
    }
    let mut current_refresh: Option<String> = None;
    let renewable;
    let mut session = match kind & 3 {
        0 | 1 => {
            secrets.push("first-refresh-token".into());
            current_refresh = Some("first-refresh-token".into());
            renewable = true;
            let identity = Identity::new(ISSUER, "alice", [CLIENT_ID.to_owned()]);
            Session::from_tokens(
                tokens.with_refresh_token(RefreshToken::new("first-refresh-token")),
            )
            .with_identity(identity)
        }
        2 => {
            renewable = true;
            let grant = client
                .client_credentials()
                .expect("a confidential client")
                .scope(Scope::new("read").expect("a scope"));
            Session::from_client_credentials(&grant, tokens)
        }
        _ => {
            renewable = false;
            Session::from_tokens(tokens)
        }
    };
    if kind & 16 != 0 {
        session = session.with_refresh_margin(u64::from(kind >> 5) * 20);
    }

    let mut ended = false;
    let mut rejected = false;
    let mut counter = 0;
    for _ in 0..12 {
        let op = reader.byte();
        match op % 6 {
            0 => {
                now = now.saturating_add_secs(u64::from(op >> 3));
                let access = session.access_token(&client, now);
                let access = match access {
                    Ok(access) => access,
                    Err(error) => panic!("the client builds every refresh: {error}"),
                };
                check_debug("an answer's Debug", &format!("{access:?}"), &secrets);
                match access {
                    Access::Ended => ended = true,
                    _ if ended => panic!("an ended session answered a token or a flow"),
                    Access::Ready(tokens) => {
                        assert!(!rejected, "a token reported rejected handed out again");
                        assert!(!tokens.is_expired(now), "an expired token handed out");
                    }
                    Access::Refresh(mut flow) => {
                        let Ok(Step::Send(request)) = flow.start(now) else {
                            panic!("a refresh starts with its request")
                        };
                        assert_eq!(
                            form_param(request.body(), "refresh_token"),
                            current_refresh,
                            "the refresh does not send the current refresh token"
                        );
                        let sent_refresh = current_refresh.clone();
                        let before = now;
                        let Some((result, templated)) = drive(
                            flow,
                            &mut reader,
                            &mut now,
                            &mut counter,
                            &mut secrets,
                            k1,
                            true,
                        ) else {
                            session.retry_later(now);
                            continue;
                        };
                        assert!(now >= before);
                        let new_refresh = match &result {
                            Ok(refreshed) => {
                                // A session from a sign-in holds the user to alice; a
                                // service's session (whose renewal returned a refresh
                                // token) has no identity to hold an ID token to.
                                if let Some(id_token) = &refreshed.id_token
                                    && session.identity().is_some()
                                {
                                    assert_eq!(
                                        id_token.claims().sub,
                                        "alice",
                                        "Done with another sub"
                                    );
                                }
                                let token = refreshed
                                    .tokens
                                    .refresh_token
                                    .as_ref()
                                    .map(|t| t.secret().to_owned());
                                match refreshed.rotation {
                                    Rotation::Kept => assert_eq!(token, current_refresh),
                                    Rotation::Rotated => assert_ne!(token, current_refresh),
                                }
                                token
                            }
                            Err(error) => {
                                driver::check_flow_error(
                                    error,
                                    &secrets.iter().map(String::as_str).collect::<Vec<_>>(),
                                    &[SECRET, sent_refresh.as_deref().unwrap_or_default()],
                                    templated,
                                );
                                None
                            }
                        };
                        let applied = session.apply_refresh(result, now);
                        check_debug(
                            "an applied refresh's Debug",
                            &format!("{applied:?}"),
                            &secrets,
                        );
                        match applied {
                            Applied::Updated { rotation, .. } => {
                                assert!(rotation.is_some());
                                current_refresh = new_refresh;
                                rejected = false;
                            }
                            Applied::Failed(_) => {}
                            Applied::Ended(_) => ended = true,
                        }
                    }
                    Access::Renew(mut grant) => {
                        let Ok(Step::Send(request)) = grant.start(now) else {
                            panic!("a renewal starts with its request")
                        };
                        assert_eq!(
                            form_param(request.body(), "grant_type").as_deref(),
                            Some("client_credentials")
                        );
                        assert_eq!(form_param(request.body(), "scope").as_deref(), Some("read"));
                        let Some((result, templated)) = drive(
                            grant,
                            &mut reader,
                            &mut now,
                            &mut counter,
                            &mut secrets,
                            k1,
                            false,
                        ) else {
                            session.retry_later(now);
                            continue;
                        };
                        if let Err(error) = &result {
                            driver::check_flow_error(
                                error,
                                &secrets.iter().map(String::as_str).collect::<Vec<_>>(),
                                &[SECRET],
                                templated,
                            );
                        }
                        let new_refresh = result
                            .as_ref()
                            .ok()
                            .and_then(|t| t.refresh_token.as_ref())
                            .map(|t| t.secret().to_owned());
                        match session.apply_renewal(result, now) {
                            Applied::Updated { rotation, .. } => {
                                assert!(rotation.is_none());
                                current_refresh = new_refresh;
                                rejected = false;
                            }
                            Applied::Failed(_) => {}
                            Applied::Ended(_) => ended = true,
                        }
                    }
                }
            }
            1 => {
                session.invalidate();
                if !ended {
                    if renewable {
                        rejected = true;
                    } else {
                        ended = true;
                    }
                }
            }
            2 => session.retry_later(now),
            3 => {
                session.end();
                ended = true;
            }
            4 => {
                let expiry = now.saturating_add_secs(LIFETIME);
                let sealed = match sealer.seal(&session, &mut rng, now) {
                    Ok(sealed) => sealed,
                    Err(Error::Seal(SealError::Expired { .. })) => {
                        assert!(expiry <= now, "a seal refused as expired");
                        continue;
                    }
                    Err(Error::Seal(SealError::TooLarge { .. })) => continue,
                    Err(error) => panic!("a session does not seal: {error}"),
                };
                check_debug("a sealed session", &sealed, &secrets);
                let opened: Session = sealer.open(&sealed, now).expect("a sealed session opens");
                assert_eq!(
                    serde_json::to_value(&opened).expect("json"),
                    serde_json::to_value(&session).expect("json"),
                    "the opened session is another"
                );
                let later = now.saturating_add_secs(LIFETIME - 1);
                if later < expiry {
                    assert!(
                        sealer.open::<Session>(&sealed, later).is_ok(),
                        "refused before its expiry"
                    );
                }
                assert!(
                    matches!(
                        sealer.open::<Session>(&sealed, expiry),
                        Err(Error::Seal(SealError::Expired { .. }))
                    ),
                    "opened at its expiry"
                );
                session = opened;
            }
            _ => {
                let elapsed = match op >> 6 {
                    0 => 0,
                    1 => u64::from(reader.byte()),
                    2 => u64::from(u16::from_le_bytes(reader.array())),
                    _ => u64::from_le_bytes(reader.array()),
                };
                now = now.saturating_add_secs(elapsed);
            }
        }
        assert_eq!(
            session.is_ended(),
            session.is_ended() && ended,
            "ended without the model"
        );
        if session.is_ended() {
            ended = true;
        }
        assert!(
            session
                .identity()
                .is_none_or(|identity| identity.subject == "alice")
        );
        check_debug("the session's Debug", &format!("{session:?}"), &secrets);
    }
    if ended {
        assert!(matches!(
            session.access_token(&client, now),
            Ok(Access::Ended)
        ));
    }
    if session.is_ended() {
        assert!(matches!(
            session.apply_renewal(Err(Error::SessionEnded), now),
            Applied::Ended(_)
        ));
    }
});
