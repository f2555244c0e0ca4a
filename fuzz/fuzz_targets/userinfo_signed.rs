//! The UserInfo flow (OIDC Core §5.3) with signed responses
//! (`application/jwt`, §5.3.2) and key rotation (§10.1.1), driven from
//! `start` through fuzzed answers: UserInfo JWTs the harness signs (Ed25519
//! by the trusted `k1` or the unknown `k2`, with or without `kid`, or HS256
//! under the client secret) around perturbed claims, the key set an unknown
//! key makes the flow ask for, plain JSON, errors and raw bodies.
//!
//! The client comes from `driver::discovered_client` (`jwks_uri`, `k1`
//! loaded, EdDSA only) with a UserInfo endpoint; the access token is a
//! Bearer token; the expected subject is `alice`.
//!
//! Input: a setup byte (bit 0: `Client::userinfo` with an ID token of
//! `alice` instead of `userinfo_for_subject("alice")`; bit 1: the client
//! authenticates with `HMAC_SECRET`, so an HS256 key exists but is not
//! allowed), then up to three answers in the format of
//! `grantflow_fuzz::driver`. A raw body under `text/html` is served as
//! `application/jwt` here. A template byte `t`: bit 6 calls `handle_timeout`
//! instead of answering; while a key set is awaited it reads one byte (bit 0:
//! `k1`, bit 1: `k2`) and serves that key set; otherwise `t % 4` is 0 or 1: a
//! signed UserInfo JWT, reading two bytes `p` and `shape`; 2: a plain JSON
//! UserInfo (`sub` by `p`); 3: `{"error":"invalid_token"}`.
//!
//! `p`: bit 0 wrong `iss`; bit 1 wrong `aud`; bits 2–3 `sub`: `alice`,
//! `mallory`, missing, `alice`; bits 4–6 the signature: `k1`, `k2`, `k1`
//! without `kid`, `k2` without `kid`, HS256 with `kid` `k1`, HS256 without
//! `kid`, `k1` under `kid` `k2`, `k2` under `kid` `k1`; bit 7 extra claims.
//! `shape`: bit 0 keeps the answer's content type (else `application/jwt`);
//! bit 1 appends a newline; bit 2 `aud` as an array with another audience.
//!
//! Oracles, beyond "no panic":
//!
//! - `Done` never after a check the harness broke (wrong `iss` or `aud`,
//!   `sub` not `alice` or missing, HS256 when only EdDSA is allowed, a
//!   signature by a key that was not served, a `kid` naming another key);
//!   a signed `Done` comes from a harness-signed template, and its `sub` and
//!   claims equal what was signed (minus `iss`, `aud`, `sub`); a plain one
//!   has `sub` `alice`;
//! - conversely, an unbroken `k1`-signed 2xx `application/jwt` is `Done`;
//!   an unbroken `k2`-signed one asks for the key set, and is `Done` after a
//!   200 JSON key set holding `k2`;
//! - the first request is a GET of the endpoint with a sensitive
//!   `Authorization: Bearer`; a later one is a GET of `jwks_uri`, only right
//!   after a signed 2xx answer whose key the client did not hold, at most
//!   once per flow;
//! - `handle_timeout` is refused; after `Done` or an error every call is
//!   refused;
//! - no secret (access token, client secret, signed bodies) in any error or
//!   `Debug` (`driver::check_flow_error`).

#![no_main]

use std::sync::LazyLock;

use grantflow::testing::sign_jwt;
use grantflow::{
    AccessToken, ClientAuth, ClientSecret, Ed25519Signer, EndpointUrl, Expected, Flow, RawIdToken,
    Step, TokenSet, TokenType, UnixTime,
};
use grantflow_fuzz::driver::{self, Body};
use grantflow_fuzz::{HMAC_SECRET, Reader, hs256_token};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const ISSUER: &str = driver::DISCOVERED_ISSUER;
const JWKS_URI: &str = driver::DISCOVERED_JWKS_URI;
const USERINFO: &str = "https://op.example.com/userinfo";
const CLIENT_ID: &str = "web-app";
const SUBJECT: &str = "alice";
const ACCESS: &str = "SlAV32hkKG-userinfo-access";

/// `k1` and `k2` without a key id (the same keys as `driver::test_keys`).
static NO_KID: LazyLock<(Ed25519Signer, Ed25519Signer)> = LazyLock::new(|| {
    (
        Ed25519Signer::from_seed(&[1; 32]).expect("a 32-octet seed is valid"),
        Ed25519Signer::from_seed(&[2; 32]).expect("a 32-octet seed is valid"),
    )
});

/// The public `x` of `k2`, to tell a raw key set that serves it.
static K2_X: LazyLock<String> = LazyLock::new(|| {
    let set: Value = serde_json::from_str(driver::jwks_body(2)).expect("a JSON key set");
    set["keys"][0]["x"]
        .as_str()
        .expect("an OKP key has x")
        .to_owned()
});

/// A signed UserInfo answer being validated.
struct Pending {
    /// A check the harness broke (iss, aud, sub, HS256, a mismatched kid).
    broken: bool,
    /// Signed by `k2` (valid only once `k2` was served).
    by_k2: bool,
    /// The signed claims.
    claims: Value,
}

fn sign(p: u8, claims: &Value) -> String {
    let (k1, k2) = driver::test_keys();
    let header = |kid: &str| {
        let mut header = Map::new();
        header.insert("typ".into(), json!("JWT"));
        header.insert("kid".into(), json!(kid));
        header
    };
    let payload = claims.to_string();
    let token = match (p >> 4) & 7 {
        0 => sign_jwt(k1, claims),
        1 => sign_jwt(k2, claims),
        2 => sign_jwt(&NO_KID.0, claims),
        3 => sign_jwt(&NO_KID.1, claims),
        4 => Ok(hs256_token(
            br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#,
            payload.as_bytes(),
        )),
        5 => Ok(hs256_token(br#"{"alg":"HS256"}"#, payload.as_bytes())),
        6 => grantflow::sign_compact(&NO_KID.0, &header("k2"), payload.as_bytes()),
        _ => grantflow::sign_compact(&NO_KID.1, &header("k1"), payload.as_bytes()),
    };
    token.expect("the harness signs")
}

fuzz_target!(|data: &[u8]| {
    let began = UnixTime::from_secs(1_700_000_000);
    let mut reader = Reader::new(data);
    let setup = reader.byte();
    let auth = if setup & 2 != 0 {
        ClientAuth::ClientSecretBasic(ClientSecret::new(HMAC_SECRET))
    } else {
        ClientAuth::None
    };
    let client = driver::discovered_client(CLIENT_ID, auth, began)
        .with_userinfo_endpoint(EndpointUrl::parse(USERINFO).expect("valid"));
    let tokens = TokenSet::new(AccessToken::new(ACCESS), TokenType::Bearer, began);
    let mut flow = if setup & 1 != 0 {
        let claims = json!({
            "iss": ISSUER, "sub": SUBJECT, "aud": CLIENT_ID,
            "iat": began.as_secs(), "exp": began.as_secs() + 600,
        });
        let raw = RawIdToken::new(sign_jwt(&driver::test_keys().0, &claims).expect("signed"));
        let id_token = client
            .id_token_validator()
            .expect("the client has an issuer")
            .validate(&raw, &client.keys(), Expected::none(), began)
            .expect("the harness's ID token validates");
        client.userinfo(&tokens, &id_token)
    } else {
        client.userinfo_for_subject(&tokens, SUBJECT)
    }
    .expect("a bearer token and an endpoint");

    let mut now = began;
    match flow.start(now) {
        Ok(Step::Send(request)) => {
            assert_eq!(request.method(), http::Method::GET);
            assert_eq!(request.uri(), USERINFO);
            let auth = &request.headers()[http::header::AUTHORIZATION];
            assert_eq!(auth, &format!("Bearer {ACCESS}"));
            assert!(auth.is_sensitive());
            assert!(!request.uri().to_string().contains(ACCESS));
        }
        other => panic!("userinfo did not send: {other:?}"),
    }

    let sent = [ACCESS, HMAC_SECRET];
    let mut secrets: Vec<String> = vec![ACCESS.into(), HMAC_SECRET.into()];
    let mut in_flight_jwks = false;
    let mut jwks_requests = 0;
    let mut k2_served = false;
    let mut pending: Option<Pending> = None;

    for _ in 0..3 {
        let mut answer = driver::answer(&mut reader);
        now = driver::advance(now, answer.elapsed);
        let templated = matches!(answer.body, Body::Template(_));
        let mut timeout = false;
        // The content type served, when the harness overrides the answer's.
        let mut content_type = answer.content_type;
        // Whether this answer, if the flow then asks for keys, may
        // legitimately do so (a signed answer by a key not held).
        let mut may_refetch = false;
        // Must the flow be Done (or ask for keys, `Some(false)`) on this answer?
        let mut must: Option<bool> = None;
        let body: Vec<u8> = match std::mem::replace(&mut answer.body, Body::Template(0)) {
            Body::Raw(bytes) => {
                if content_type == Some("text/html") {
                    content_type = Some("application/jwt");
                }
                if in_flight_jwks {
                    if answer.is_success()
                        && String::from_utf8_lossy(&bytes).contains(K2_X.as_str())
                    {
                        k2_served = true;
                    }
                } else {
                    pending = None;
                    may_refetch = answer.is_success();
                }
                bytes
            }
            Body::Template(t) => {
                timeout = t & 0x40 != 0;
                if in_flight_jwks {
                    let keys = reader.byte();
                    if answer.is_success() && keys & 2 != 0 && !timeout {
                        k2_served = true;
                        let json = matches!(
                            content_type,
                            Some("application/json" | "application/json; charset=utf-8")
                        );
                        if answer.status == 200
                            && json
                            && pending.as_ref().is_some_and(|p| !p.broken)
                        {
                            must = Some(true);
                        }
                    }
                    driver::jwks_body(keys).as_bytes().to_vec()
                } else {
                    match t % 4 {
                        0 | 1 => {
                            let p = reader.byte();
                            let shape = reader.byte();
                            let aud = if p & 2 != 0 { "other-app" } else { CLIENT_ID };
                            let mut claims = json!({
                                "iss": if p & 1 != 0 { format!("{ISSUER}/") } else { ISSUER.to_owned() },
                                "aud": if shape & 4 != 0 { json!([aud, "another-app"]) } else { json!(aud) },
                            });
                            match (p >> 2) & 3 {
                                1 => claims["sub"] = json!("mallory"),
                                2 => {}
                                _ => claims["sub"] = json!(SUBJECT),
                            }
                            if p & 128 != 0 {
                                claims["name"] = json!("Alice");
                                claims["email"] = json!("alice@example.com");
                                claims["nested"] = json!({"a": [1, 2.5, null]});
                            }
                            let key = (p >> 4) & 7;
                            let broken = p & 3 != 0 || matches!((p >> 2) & 3, 1 | 2) || key >= 4;
                            let by_k2 = matches!(key, 1 | 3 | 7);
                            if shape & 1 == 0 {
                                content_type = Some("application/jwt");
                            }
                            let is_jwt = content_type == Some("application/jwt");
                            // A key the client does not hold: `k2` (by `kid`
                            // or by none), `kid` `k2`, or no `kid` with a
                            // signature no held key verifies.
                            may_refetch =
                                answer.is_success() && is_jwt && matches!(key, 1 | 3 | 5 | 6);
                            if answer.is_success() && is_jwt && !timeout && !broken {
                                must = Some(!by_k2);
                            }
                            let mut token = sign(p, &claims);
                            if shape & 2 != 0 {
                                token.push('\n');
                            }
                            secrets.push(token.trim().to_owned());
                            pending = Some(Pending {
                                broken,
                                by_k2,
                                claims,
                            });
                            token.into_bytes()
                        }
                        2 => {
                            pending = None;
                            let p = reader.byte();
                            let sub = match p & 3 {
                                1 => json!("mallory"),
                                2 => Value::Null,
                                _ => json!(SUBJECT),
                            };
                            json!({"sub": sub, "name": "Alice"})
                                .to_string()
                                .into_bytes()
                        }
                        _ => {
                            pending = None;
                            br#"{"error":"invalid_token"}"#.to_vec()
                        }
                    }
                }
            }
        };
        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let result = if timeout {
            let result = flow.handle_timeout(now);
            assert!(driver::is_refusal(&result), "handle_timeout was accepted");
            result
        } else {
            let mut response = driver::response(&answer, &body);
            match content_type {
                Some(ct) => {
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static(ct),
                    );
                }
                None => {
                    response.headers_mut().remove(http::header::CONTENT_TYPE);
                }
            }
            flow.handle_response(response, now)
        };
        driver::assert_no_secret("the flow's Debug", &format!("{flow:?}"), &secret_refs);
        match result {
            Ok(Step::Send(request)) => {
                assert!(!in_flight_jwks, "a request after the key set answer");
                assert!(
                    may_refetch,
                    "the key set asked for after an answer by a known key"
                );
                assert_eq!(request.uri(), JWKS_URI, "a request but the key set");
                assert_eq!(request.method(), http::Method::GET);
                assert!(
                    !request.headers().contains_key(http::header::AUTHORIZATION),
                    "the access token sent to jwks_uri"
                );
                jwks_requests += 1;
                assert_eq!(jwks_requests, 1, "the key set fetched twice");
                assert_ne!(must, Some(true), "an unbroken answer not Done");
                in_flight_jwks = true;
            }
            Ok(Step::Done(user)) => {
                assert_eq!(user.sub, SUBJECT, "Done for another subject");
                if user.signed {
                    let pending = pending
                        .as_ref()
                        .expect("a signed Done from a body the harness did not sign");
                    assert!(!pending.broken, "Done after a broken check");
                    assert!(
                        !pending.by_k2 || k2_served,
                        "Done with k2 before k2 was served"
                    );
                    let mut want = pending.claims.as_object().expect("an object").clone();
                    assert_eq!(want.remove("iss"), Some(json!(ISSUER)));
                    want.remove("aud");
                    assert_eq!(want.remove("sub"), Some(json!(user.sub)));
                    assert_eq!(want, user.claims, "claims not the signed ones");
                } else {
                    assert!(!in_flight_jwks, "a plain Done after a key set");
                }
                assert_ne!(must, Some(false), "Done instead of asking for k2");
                driver::assert_no_secret("a UserInfo's Debug", &format!("{user:?}"), &sent);
                driver::assert_refuses_everything(&mut flow, now);
                return;
            }
            Ok(Step::WaitUntil(_)) => panic!("the UserInfo flow never waits"),
            Err(error) => {
                assert_eq!(must, None, "refused an unbroken answer: {error:?}");
                driver::check_flow_error(&error, &secret_refs, &sent, templated);
                driver::assert_refuses_everything(&mut flow, now);
                return;
            }
        }
    }
});
