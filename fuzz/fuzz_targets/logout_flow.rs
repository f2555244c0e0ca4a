//! `Session::logout` driven from `start` through fuzzed answers: the
//! revocations (RFC 7009; refresh token first, then access token), then the
//! RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0 §2), for
//! sessions with or without a refresh token and an ID token, and clients with
//! or without a revocation and an end-session endpoint.
//!
//! Checked: no panic; the requests are the §2.1 form POSTs to the revocation
//! endpoint, of the refresh token (hint `refresh_token`) then the access
//! token (hint `access_token`), each at most once; `Done` comes after the
//! last revocation, and every token the session held is in exactly one of
//! `revoked` (exactly those answered with a 2xx), `failures` or
//! `not_revoked` (exactly when there is no revocation endpoint); the URL is
//! there exactly with an end-session endpoint and is that endpoint with
//! `id_token_hint` (the session's ID token, when it had one), `client_id`,
//! `post_logout_redirect_uri` and `state`; `handle_timeout` is refused;
//! after `Done` or an error every call is refused; the revoked token is in
//! no failure's text or `Debug` (even when the server echoes it), no token
//! at all for an answer the harness built, and no token in the `Debug` of
//! the flow or the outcome.
//!
//! Input: a byte choosing the session and the client (bit 0: a refresh
//! token, bit 1: an ID token, bit 2: a revocation endpoint, bit 3: an
//! end-session endpoint), then answers in the format of
//! `grantflow_fuzz::driver`; a template reads one byte: `b % 5` chooses an
//! empty body, `{}`, `unsupported_token_type`, `invalid_client`, or a body
//! that echoes the token; bit 6 of the template byte calls
//! `handle_timeout`.

#![no_main]

use grantflow::{
    AccessToken, Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Endpoints, Flow,
    LogoutOptions, RawIdToken, RedirectUri, RefreshToken, Session, Step, TokenSet, TokenType,
    UnixTime,
};
use grantflow_fuzz::Reader;
use grantflow_fuzz::driver::form_param;
use grantflow_fuzz::driver::{self, Body};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "client-secret-Zq81mX";
const ACCESS: &str = "access-token-Lq3v";
const REFRESH: &str = "refresh-token-Vn8c";
const ID_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
const REVOKE: &str = "https://op.example.com/revoke";
const END_SESSION: &str = "https://op.example.com/logout";

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let kind = reader.byte();
    let mut endpoints = Endpoints::default();
    endpoints.token = Some(EndpointUrl::parse("https://op.example.com/token").expect("url"));
    if kind & 4 != 0 {
        endpoints.revocation = Some(EndpointUrl::parse(REVOKE).expect("url"));
    }
    if kind & 8 != 0 {
        endpoints.end_session = Some(EndpointUrl::parse(END_SESSION).expect("url"));
    }
    let client = Client::new(
        ClientId::new("web-app"),
        ClientAuth::ClientSecretBasic(ClientSecret::new(SECRET)),
    )
    .with_endpoints(endpoints);
    let mut now = UnixTime::from_secs(1_700_000_000);
    let mut tokens = TokenSet::new(AccessToken::new(ACCESS), TokenType::Bearer, now);
    let mut held = vec!["access_token"];
    if kind & 1 != 0 {
        tokens = tokens.with_refresh_token(RefreshToken::new(REFRESH));
        held.insert(0, "refresh_token");
    }
    if kind & 2 != 0 {
        tokens = tokens.with_id_token(RawIdToken::new(ID_TOKEN));
    }
    let options = LogoutOptions::new()
        .post_logout_redirect_uri(RedirectUri::new("https://app.example.com/bye").expect("uri"))
        .state("logout-state");
    let mut flow = Session::from_tokens(tokens)
        .logout(&client, &options)
        .expect("a logout of plain endpoints");
    // The session's own secrets: a token it does not hold is nothing the
    // core could know to withhold.
    let mut secrets = vec![SECRET, ACCESS];
    if kind & 1 != 0 {
        secrets.push(REFRESH);
    }
    if kind & 2 != 0 {
        secrets.push(ID_TOKEN);
    }
    driver::assert_no_secret("the flow's Debug", &format!("{flow:?}"), &secrets);

    let mut expected: Vec<&str> = if kind & 4 != 0 {
        held.clone()
    } else {
        Vec::new()
    };
    expected.reverse(); // popped from the back: refresh token first
    let mut answered_2xx: Vec<&str> = Vec::new();
    let mut step = flow.start(now);
    for _ in 0..4 {
        let hint = match step {
            Ok(Step::Send(request)) => {
                let hint = expected.pop().expect("a revocation nobody expected");
                assert_eq!(request.uri(), REVOKE);
                assert_eq!(request.method(), http::Method::POST);
                let token = if hint == "refresh_token" {
                    REFRESH
                } else {
                    ACCESS
                };
                assert_eq!(form_param(request.body(), "token").as_deref(), Some(token));
                assert_eq!(
                    form_param(request.body(), "token_type_hint").as_deref(),
                    Some(hint)
                );
                hint
            }
            Ok(Step::Done(outcome)) => {
                assert!(
                    expected.is_empty(),
                    "Done before every revocation: {expected:?}"
                );
                driver::assert_no_secret("the outcome's Debug", &format!("{outcome:?}"), &secrets);
                let mut accounted: Vec<&str> = outcome.revoked.clone();
                accounted.extend(outcome.failures.iter().map(|(hint, _)| *hint));
                accounted.extend(outcome.not_revoked.iter().copied());
                accounted.sort_unstable();
                let mut sorted = held.clone();
                sorted.sort_unstable();
                assert_eq!(accounted, sorted, "each token accounted for once");
                assert_eq!(
                    outcome.revoked, answered_2xx,
                    "revoked is what a 2xx answered"
                );
                assert_eq!(outcome.not_revoked.is_empty(), kind & 4 != 0);
                for (hint, error) in &outcome.failures {
                    let token = if *hint == "refresh_token" {
                        REFRESH
                    } else {
                        ACCESS
                    };
                    grantflow_fuzz::check_printable(error);
                    driver::assert_no_secret("a failure", &error.to_string(), &[token]);
                    driver::assert_no_secret("a failure's Debug", &format!("{error:?}"), &[token]);
                }
                match &outcome.end_session_url {
                    None => assert_eq!(kind & 8, 0, "no URL with an end-session endpoint"),
                    Some(url) => {
                        assert_ne!(kind & 8, 0, "a URL without an end-session endpoint");
                        assert!(url.as_str().starts_with(END_SESSION));
                        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
                        let get = |name: &str| {
                            pairs
                                .iter()
                                .find(|(k, _)| k == name)
                                .map(|(_, v)| v.as_str())
                        };
                        assert_eq!(get("id_token_hint"), (kind & 2 != 0).then_some(ID_TOKEN));
                        assert_eq!(get("client_id"), Some("web-app"));
                        assert_eq!(
                            get("post_logout_redirect_uri"),
                            Some("https://app.example.com/bye")
                        );
                        assert_eq!(get("state"), Some("logout-state"));
                    }
                }
                driver::assert_refuses_everything(&mut flow, now);
                return;
            }
            Ok(Step::WaitUntil(_)) => panic!("a logout never waits"),
            Err(error) => {
                // Only a call out of order fails a logout; the harness makes none.
                panic!("a logout failed: {error}");
            }
        };
        let token = if hint == "refresh_token" {
            REFRESH
        } else {
            ACCESS
        };
        let mut answer = driver::answer(&mut reader);
        now = driver::advance(now, answer.elapsed);
        let body = match std::mem::replace(&mut answer.body, Body::Template(0)) {
            Body::Raw(bytes) => bytes,
            Body::Template(t) => {
                if t & 0x40 != 0 {
                    assert!(
                        driver::is_refusal(&flow.handle_timeout(now)),
                        "handle_timeout was accepted"
                    );
                    driver::assert_refuses_everything(&mut flow, now);
                    return;
                }
                match reader.byte() % 5 {
                    0 => Vec::new(),
                    1 => b"{}".to_vec(),
                    2 => br#"{"error":"unsupported_token_type"}"#.to_vec(),
                    3 => br#"{"error":"invalid_client","error_description":"bad secret"}"#.to_vec(),
                    _ => format!(r#"{{"error":"invalid_request","error_description":"cannot revoke {token}"}}"#).into_bytes(),
                }
            }
        };
        if answer.is_success() {
            answered_2xx.push(hint);
        }
        step = flow.handle_response(driver::response(&answer, &body), now);
        driver::assert_no_secret("the flow's Debug", &format!("{flow:?}"), &secrets);
    }
    panic!("the logout outlived its revocations");
});
