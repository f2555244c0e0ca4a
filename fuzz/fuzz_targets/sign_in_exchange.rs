//! The sign-in code exchange (RFC 6749 §4.1.3, OIDC Core §3.1.3) driven from
//! `start` through fuzzed answers: the token response, whose ID token the
//! harness signs (Ed25519, the trusted key `k1` or the unknown `k2`, or
//! HS256 under the client secret) around perturbed claims, and the JWKS
//! re-fetch (OIDC Core §10.1.1) an unknown `kid` triggers.
//!
//! Checked: no panic; `Done` only when no check the harness broke on purpose
//! was broken (wrong `iss`, `aud`, `nonce` or `at_hash`, missing `nonce`,
//! expired, HS256 against an EdDSA-only policy, `k2` before a key set with
//! `k2` was served), and then the ID token, re-read with `serde_json`, has the
//! issuer, the client in `aud`, the request's `nonce`, an `exp` not passed
//! and a trusted `kid`; the token request carries the code and a verifier
//! matching the S256 challenge; a key set request goes to `jwks_uri`, at most
//! once; `handle_timeout` is refused (the flow never waits); after `Done` or
//! an error every call is refused; no secret (client secret, code, verifier,
//! `state`, `nonce`, access and refresh token, raw ID token) in any error or
//! `Debug`.
//!
//! Input: a byte of the time of the callback, then answers in the format of
//! `grantflow_fuzz::driver`. A token template reads two more bytes (claims
//! perturbations, then response shape); a key set template reads one (bit 0:
//! `k1`, bit 1: `k2`). Bit 6 of a template byte calls `handle_timeout`
//! instead of answering.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::testing::{CountingRng, sign_jwt};
use grantflow::{ClientAuth, ClientSecret, Flow, Step, UnixTime};
use grantflow_fuzz::driver::form_param;
use grantflow_fuzz::driver::{self, Body};
use grantflow_fuzz::{HMAC_SECRET, Reader, hs256_token};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const ISSUER: &str = driver::DISCOVERED_ISSUER;
const JWKS_URI: &str = driver::DISCOVERED_JWKS_URI;
const CLIENT_ID: &str = "web-app";
const REDIRECT: &str = "https://app.example.com/cb";
const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA-code";
const ACCESS: &str = "SlAV32hkKG-access-token";
const REFRESH: &str = "8xLOxBtZp8-refresh-token";

fn query_param(url: &url::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .expect("the authorization URL carries it")
}

/// Whether `token`'s claims pass the rules the harness can re-check.
fn claims_hold(token: &str, nonce: &str, now: u64, k2_known: bool) {
    let header = driver::jwt_part(token, 0).expect("a validated token has a JSON header");
    let claims = driver::jwt_part(token, 1).expect("a validated token has JSON claims");
    assert_eq!(header["alg"], "EdDSA", "an ID token not EdDSA was accepted");
    match header["kid"].as_str() {
        Some("k1") => {}
        Some("k2") => assert!(k2_known, "an ID token of k2 before k2 was served"),
        other => panic!("an ID token of an unknown key {other:?} was accepted"),
    }
    assert_eq!(claims["iss"], ISSUER);
    let aud_ok = match &claims["aud"] {
        Value::String(aud) => aud == CLIENT_ID,
        Value::Array(auds) => auds.iter().any(|a| a == CLIENT_ID),
        _ => false,
    };
    assert!(aud_ok, "aud without the client: {}", claims["aud"]);
    assert_eq!(
        claims["nonce"].as_str(),
        Some(nonce),
        "nonce not the request's"
    );
    let exp = claims["exp"].as_u64().expect("a numeric exp");
    // `exp` + leeway (60 s) after `now`, without saturating at the top.
    assert!(
        u128::from(exp) + 60 >= u128::from(now),
        "an expired ID token was accepted"
    );
}

fuzz_target!(|data: &[u8]| {
    let (k1, k2) = driver::test_keys();
    let began = UnixTime::from_secs(1_700_000_000);
    let client = driver::discovered_client(
        CLIENT_ID,
        ClientAuth::ClientSecretPost(ClientSecret::new(HMAC_SECRET)),
        began,
    );

    let mut reader = Reader::new(data);
    let mut rng = CountingRng::new(7);
    let (url, pending) = client
        .sign_in(REDIRECT)
        .expect("a sign-in")
        .begin(&mut rng, began)
        .expect("a URL");
    let state = query_param(&url, "state");
    let nonce = query_param(&url, "nonce");
    let challenge = query_param(&url, "code_challenge");
    let mut now = began.saturating_add_secs(u64::from(reader.byte() % 120));
    let redirect = format!("{REDIRECT}?code={CODE}&state={state}&iss={ISSUER}");
    let mut flow = pending
        .callback(&client, &redirect, now)
        .expect("the exact callback is accepted");

    let Ok(Step::Send(request)) = flow.start(now) else {
        panic!("the exchange starts with the token request")
    };
    assert_eq!(request.uri(), "https://op.example.com/token");
    assert_eq!(form_param(request.body(), "code").as_deref(), Some(CODE));
    let verifier = form_param(request.body(), "code_verifier").expect("a verifier");
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    assert_eq!(URL_SAFE_NO_PAD.encode(digest), challenge, "S256 mismatch");

    // What the token request carried: every error withholds it.
    let sent_verifier = verifier.clone();
    let sent = [HMAC_SECRET, CODE, sent_verifier.as_str()];
    let mut secrets: Vec<String> = vec![
        HMAC_SECRET.into(),
        CODE.into(),
        verifier,
        state,
        nonce.clone(),
        ACCESS.into(),
        REFRESH.into(),
    ];
    let mut in_flight_jwks = false;
    let mut jwks_requests = 0;
    let mut k2_known = false;
    // Whether a check the harness broke on purpose is pending in the ID
    // token being validated (cleared only by a key set that holds `k2`,
    // for a token that was bad only by its key).
    let mut broken = false;
    let mut by_k2 = false;
    let mut id_token: Option<String> = None;

    for _ in 0..4 {
        let mut answer = driver::answer(&mut reader);
        now = driver::advance(now, answer.elapsed);
        let mut timeout = false;
        let templated_answer = matches!(answer.body, Body::Template(_));
        let body: Vec<u8> = match std::mem::replace(&mut answer.body, Body::Template(0)) {
            Body::Raw(bytes) => bytes,
            Body::Template(t) => {
                timeout = t & 0x40 != 0;
                if in_flight_jwks {
                    let keys = reader.byte();
                    if answer.is_success() && keys & 2 != 0 && !timeout {
                        // A success may still be refused (content type);
                        // `k2` counts as known only if the flow goes on.
                        k2_known = true;
                    }
                    driver::jwks_body(keys).as_bytes().to_vec()
                } else {
                    let p = reader.byte();
                    let shape = reader.byte();
                    let secs = now.as_secs();
                    let mut claims = json!({
                        "iss": if p & 1 != 0 { format!("{ISSUER}/") } else { ISSUER.to_owned() },
                        "sub": "alice",
                        "aud": if p & 2 != 0 { "other-app" } else { CLIENT_ID },
                        "iat": secs.saturating_sub(10),
                        "exp": if p & 16 != 0 { secs.saturating_sub(10_000) } else { secs.saturating_add(600) },
                    });
                    match (p >> 2) & 3 {
                        1 => claims["nonce"] = json!("another-nonce"),
                        2 => {}
                        _ => claims["nonce"] = json!(nonce),
                    }
                    if p & 64 != 0 {
                        claims["at_hash"] = json!(driver::ed25519_at_hash("not-the-access-token"));
                    } else if shape & 4 != 0 {
                        claims["at_hash"] = json!(driver::ed25519_at_hash(ACCESS));
                    }
                    broken = p & (1 | 2 | 16 | 64 | 128) != 0 || matches!((p >> 2) & 3, 1 | 2);
                    by_k2 = p & 32 != 0 && p & 128 == 0;
                    let token = if p & 128 != 0 {
                        hs256_token(
                            br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#,
                            claims.to_string().as_bytes(),
                        )
                    } else if by_k2 {
                        sign_jwt(k2, &claims).expect("signed")
                    } else {
                        sign_jwt(k1, &claims).expect("signed")
                    };
                    secrets.push(token.clone());
                    id_token = Some(token.clone());
                    let mut body =
                        json!({"access_token": ACCESS, "token_type": "Bearer", "expires_in": 3600});
                    if shape & 1 == 0 {
                        body["id_token"] = json!(token);
                    } else {
                        broken = true; // no ID token: a sign-in cannot be done
                    }
                    if shape & 2 == 0 {
                        body["refresh_token"] = json!(REFRESH);
                    }
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
                assert!(!in_flight_jwks, "a request after the key set answer");
                assert_eq!(request.uri(), JWKS_URI, "a request but the key set");
                assert_eq!(request.method(), http::Method::GET);
                jwks_requests += 1;
                assert_eq!(jwks_requests, 1, "the key set fetched twice");
                in_flight_jwks = true;
            }
            Ok(Step::Done(sign_in)) => {
                let raw = sign_in
                    .tokens
                    .id_token
                    .as_ref()
                    .expect("a sign-in's ID token")
                    .as_str()
                    .to_owned();
                if id_token.as_deref() == Some(raw.as_str()) {
                    assert!(!broken, "Done after a broken check");
                    assert!(!by_k2 || k2_known, "Done with k2 before k2 was served");
                }
                claims_hold(&raw, &nonce, now.as_secs(), k2_known);
                assert_eq!(
                    sign_in.id_token.claims().nonce.as_deref(),
                    Some(nonce.as_str())
                );
                assert!(sign_in.id_token.claims().aud.iter().any(|a| a == CLIENT_ID));
                driver::assert_no_secret(
                    "a sign-in's Debug",
                    &format!("{sign_in:?}"),
                    &secret_refs,
                );
                driver::assert_refuses_everything(&mut flow, now);
                return;
            }
            Ok(Step::WaitUntil(_)) => panic!("the code exchange never waits"),
            Err(error) => {
                driver::check_flow_error(&error, &secret_refs, &sent, templated_answer);
                driver::assert_refuses_everything(&mut flow, now);
                return;
            }
        }
    }
});
