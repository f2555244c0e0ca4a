//! The refresh token grant (RFC 6749 §6) with an [`Identity`] driven from
//! `start` through fuzzed answers: token responses whose ID token the harness
//! signs (Ed25519, trusted `k1` or unknown `k2`) around claims that keep or
//! change the original sign-in's (OIDC Core §12.2), and the JWKS re-fetch an
//! unknown `kid` triggers.
//!
//! Checked: no panic; `Done` never after a check the harness broke on
//! purpose (wrong `iss` or `aud`, another `sub` or `auth_time`, an `iat`
//! older than the identity's, expired, wrong `at_hash`, `k2` before a key
//! set with `k2` was served), and then a returned ID token names the same
//! user (`iss`, `sub`, `aud`); the refresh token of the outcome is the
//! rotated one when the server sent a new one (`Rotated`), else the old one
//! (`Kept`); the request is the §6 form with the old refresh token; a key
//! set request goes to `jwks_uri`, at most once; `handle_timeout` is
//! refused; after `Done` or an error every call is refused; no secret
//! (client secret, old and new refresh token, access token, raw ID token) in
//! any error or `Debug`.
//!
//! Input: answers in the format of `grantflow_fuzz::driver`. A token
//! template reads two bytes (claims perturbations, response shape); a key
//! set template one (bit 0: `k1`, bit 1: `k2`). Bit 6 of a template byte
//! calls `handle_timeout` instead of answering.

#![no_main]

use grantflow::testing::sign_jwt;
use grantflow::{ClientAuth, ClientSecret, Flow, Identity, RefreshToken, Rotation, Step, UnixTime};
use grantflow_fuzz::Reader;
use grantflow_fuzz::driver::form_param;
use grantflow_fuzz::driver::{self, Body};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const ISSUER: &str = driver::DISCOVERED_ISSUER;
const JWKS_URI: &str = driver::DISCOVERED_JWKS_URI;
const CLIENT_ID: &str = "web-app";
const SECRET: &str = "client-secret-Zq81mX";
const OLD_REFRESH: &str = "old-refresh-token-Kp2";
const NEW_REFRESH: &str = "new-refresh-token-Wy9";
const ACCESS: &str = "new-access-token-Hd4";
const AUTH_TIME: u64 = 1_699_999_000;
const ISSUED_AT: u64 = 1_699_999_500;

fuzz_target!(|data: &[u8]| {
    let (k1, k2) = driver::test_keys();
    let client = driver::discovered_client(
        CLIENT_ID,
        ClientAuth::ClientSecretBasic(ClientSecret::new(SECRET)),
        UnixTime::from_secs(1_699_999_000),
    );
    let mut identity = Identity::new(ISSUER, "alice", [CLIENT_ID.to_owned()])
        .with_auth_time(UnixTime::from_secs(AUTH_TIME));
    identity.issued_at = Some(UnixTime::from_secs(ISSUED_AT));

    let mut flow = client
        .refresh(&RefreshToken::new(OLD_REFRESH))
        .expect("a token endpoint")
        .identity(identity);
    let mut now = UnixTime::from_secs(1_700_000_000);
    let Ok(Step::Send(request)) = flow.start(now) else {
        panic!("a refresh starts with its request")
    };
    assert_eq!(
        form_param(request.body(), "grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        form_param(request.body(), "refresh_token").as_deref(),
        Some(OLD_REFRESH)
    );

    let mut reader = Reader::new(data);
    let mut secrets: Vec<String> = vec![
        SECRET.into(),
        OLD_REFRESH.into(),
        NEW_REFRESH.into(),
        ACCESS.into(),
    ];
    let mut in_flight_jwks = false;
    let mut k2_known = false;
    let mut broken = false;
    let mut by_k2 = false;
    let mut rotated = None;
    let mut templated = false;

    for _ in 0..4 {
        let mut answer = driver::answer(&mut reader);
        now = driver::advance(now, answer.elapsed);
        let mut timeout = false;
        let templated_answer = matches!(answer.body, Body::Template(_));
        let body: Vec<u8> = match std::mem::replace(&mut answer.body, Body::Template(0)) {
            Body::Raw(bytes) => {
                templated = templated && in_flight_jwks;
                bytes
            }
            Body::Template(t) => {
                timeout = t & 0x40 != 0;
                if in_flight_jwks {
                    let keys = reader.byte();
                    if keys & 2 != 0 {
                        k2_known |= answer.is_success() && !timeout;
                    }
                    driver::jwks_body(keys).as_bytes().to_vec()
                } else {
                    templated = true;
                    let p = reader.byte();
                    let shape = reader.byte();
                    let secs = now.as_secs();
                    let mut claims = json!({
                        "iss": if p & 1 != 0 { "https://evil.example.com" } else { ISSUER },
                        "sub": if p & 4 != 0 { "mallory" } else { "alice" },
                        "aud": if p & 2 != 0 { json!([CLIENT_ID, "other"]) } else { json!(CLIENT_ID) },
                        "iat": if p & 128 != 0 { ISSUED_AT - 1 } else { secs.saturating_sub(5).max(ISSUED_AT) },
                        "exp": if p & 8 != 0 { secs.saturating_sub(10_000) } else { secs.saturating_add(600) },
                    });
                    if p & 64 != 0 {
                        claims["auth_time"] = json!(AUTH_TIME + 1);
                    } else if shape & 8 != 0 {
                        claims["auth_time"] = json!(AUTH_TIME);
                    }
                    if p & 16 != 0 {
                        claims["at_hash"] = json!(driver::ed25519_at_hash("other-access"));
                    } else if shape & 4 != 0 {
                        claims["at_hash"] = json!(driver::ed25519_at_hash(ACCESS));
                    }
                    by_k2 = p & 32 != 0;
                    let with_id_token = shape & 1 == 0;
                    broken = with_id_token && p & (1 | 2 | 4 | 8 | 16 | 64 | 128) != 0;
                    let token = sign_jwt(if by_k2 { k2 } else { k1 }, &claims).expect("signed");
                    secrets.push(token.clone());
                    let mut body =
                        json!({"access_token": ACCESS, "token_type": "Bearer", "expires_in": 3600});
                    if with_id_token {
                        body["id_token"] = json!(token);
                    } else {
                        by_k2 = false;
                    }
                    rotated = match (shape >> 1) & 3 {
                        0 => None,
                        1 => {
                            body["refresh_token"] = json!(OLD_REFRESH);
                            Some(false)
                        }
                        _ => {
                            body["refresh_token"] = json!(NEW_REFRESH);
                            Some(true)
                        }
                    };
                    body.to_string().into_bytes()
                }
            }
        };
        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let result = if timeout {
            let result = flow.handle_timeout(now);
            assert!(driver::is_refusal(&result), "handle_timeout was accepted");
            result
        } else {
            flow.handle_response(driver::response(&answer, &body), now)
        };
        driver::assert_no_secret("the flow's Debug", &format!("{flow:?}"), &secret_refs);
        match result {
            Ok(Step::Send(request)) => {
                if request.uri() == JWKS_URI {
                    assert!(!in_flight_jwks, "the key set fetched twice");
                    assert_eq!(request.method(), http::Method::GET);
                    in_flight_jwks = true;
                } else {
                    // The one DPoP retry cannot happen: the client has no key.
                    panic!("an unexpected request to {}", request.uri());
                }
            }
            Ok(Step::Done(refreshed)) => {
                if templated {
                    assert!(!broken, "Done after a broken check");
                    assert!(!by_k2 || k2_known, "Done with k2 before k2 was served");
                    let expected = if rotated == Some(true) {
                        NEW_REFRESH
                    } else {
                        OLD_REFRESH
                    };
                    assert_eq!(
                        refreshed.tokens.refresh_token.as_ref().map(|t| t.secret()),
                        Some(expected)
                    );
                }
                let new = refreshed
                    .tokens
                    .refresh_token
                    .as_ref()
                    .expect("a refresh token")
                    .secret();
                match refreshed.rotation {
                    Rotation::Rotated => assert_ne!(new, OLD_REFRESH),
                    Rotation::Kept => assert_eq!(new, OLD_REFRESH),
                }
                if let Some(id_token) = &refreshed.id_token {
                    let claims = id_token.claims();
                    assert_eq!(claims.iss, ISSUER);
                    assert_eq!(claims.sub, "alice", "a refreshed ID token of another user");
                    assert_eq!(claims.aud, [CLIENT_ID]);
                    assert!(claims.iat.as_secs() >= ISSUED_AT, "an older ID token");
                    assert!(claims.auth_time.is_none_or(|t| t.as_secs() == AUTH_TIME));
                }
                if refreshed.tokens.id_token.is_some() {
                    assert!(refreshed.id_token.is_some(), "an ID token kept unvalidated");
                }
                driver::assert_no_secret(
                    "the outcome's Debug",
                    &format!("{refreshed:?}"),
                    &secret_refs,
                );
                driver::assert_refuses_everything(&mut flow, now);
                return;
            }
            Ok(Step::WaitUntil(_)) => panic!("a refresh never waits"),
            Err(error) => {
                driver::check_flow_error(
                    &error,
                    &secret_refs,
                    &[SECRET, OLD_REFRESH],
                    templated_answer,
                );
                driver::assert_refuses_everything(&mut flow, now);
                return;
            }
        }
    }
});
