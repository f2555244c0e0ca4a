//! DPoP (RFC 9449) through the public API in fake time: the `use_dpop_nonce`
//! retry inside the refresh, the device poll and UserInfo, a token session
//! over DPoP-bound tokens, and the flow contract after a second nonce error.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::testing::{CountingRng, json_response};
use grantflow::{
    Access, AccessToken, Client, ClientAuth, ClientId, DpopKey, Ed25519Signer, EndpointUrl,
    Endpoints, Error, ErrorCode, Flow, HttpRequest, HttpResponse, RefreshToken, Session, Step,
    TokenSet, TokenType, UnixTime,
};
use serde_json::Value;

const T0: UnixTime = UnixTime::from_secs(1_700_000_000);

fn client() -> Client {
    let endpoints = {
        let mut endpoints = Endpoints::default();
        endpoints.token = Some(EndpointUrl::parse("https://as.example.com/token").unwrap());
        endpoints.device_authorization =
            Some(EndpointUrl::parse("https://as.example.com/device").unwrap());
        endpoints.userinfo = Some(EndpointUrl::parse("https://rs.example.com/userinfo").unwrap());
        endpoints
    };
    let key = DpopKey::new(
        Ed25519Signer::from_seed(&[5; 32]).unwrap(),
        &mut CountingRng::new(0),
    )
    .unwrap();
    Client::new(ClientId::new("app"), ClientAuth::None)
        .with_endpoints(endpoints)
        .with_dpop(key)
}

fn claims(request: &HttpRequest) -> Value {
    let proof = request.headers()["dpop"].to_str().unwrap();
    let claims = proof.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()
}

fn nonce_error(nonce: &str) -> HttpResponse {
    let mut response = json_response(400, r#"{"error":"use_dpop_nonce"}"#);
    response
        .headers_mut()
        .insert("dpop-nonce", nonce.parse().unwrap());
    response
}

fn dpop_tokens() -> HttpResponse {
    json_response(
        200,
        r#"{"access_token":"AT2","token_type":"DPoP","expires_in":300,"refresh_token":"RT2"}"#,
    )
}

fn send<T: std::fmt::Debug>(step: Result<Step<T>, Error>) -> HttpRequest {
    match step.unwrap() {
        Step::Send(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn refresh_retries_once_with_the_nonce() {
    let client = client();
    let mut flow = client.refresh(&RefreshToken::new("RT1")).unwrap();
    let first = send(flow.start(T0));
    assert!(claims(&first).get("nonce").is_none());
    let retry = send(flow.handle_response(nonce_error("n-1"), T0));
    assert_eq!(claims(&retry)["nonce"], "n-1");
    assert_eq!(retry.body(), first.body());
    let Step::Done(refreshed) = flow.handle_response(dpop_tokens(), T0).unwrap() else {
        panic!("expected the tokens")
    };
    assert_eq!(refreshed.tokens.token_type, TokenType::DPoP);
}

#[test]
fn a_second_nonce_error_ends_the_refresh() {
    let mut flow = client().refresh(&RefreshToken::new("RT1")).unwrap();
    let _ = send(flow.start(T0));
    let _ = send(flow.handle_response(nonce_error("n-1"), T0));
    let error = flow.handle_response(nonce_error("n-2"), T0).unwrap_err();
    assert_eq!(error.oauth_code(), Some(&ErrorCode::UseDpopNonce));
    assert!(matches!(
        flow.handle_response(dpop_tokens(), T0),
        Err(Error::UnexpectedCall { .. })
    ));
}

#[test]
fn each_device_poll_meets_a_new_nonce_with_one_retry() {
    let client = client();
    let mut request = client.device_authorization().unwrap();
    let device = send(request.start(T0));
    // The device authorization endpoint takes no DPoP proof (RFC 9449 §5
    // binds tokens at the token endpoint).
    assert!(device.headers().get("dpop").is_none());
    let Step::Done(authorization) = request
        .handle_response(
            json_response(
                200,
                r#"{"device_code":"DC","user_code":"WDJB-MJHT",
                "verification_uri":"https://as.example.com/device","expires_in":600,"interval":5}"#,
            ),
            T0,
        )
        .unwrap()
    else {
        panic!("expected the device authorization")
    };
    let mut poll = authorization.poll();
    let Step::WaitUntil(at) = poll.start(T0).unwrap() else {
        panic!("the first poll waits for the interval")
    };
    let first = send(poll.handle_timeout(at));
    assert!(claims(&first).get("nonce").is_none());
    // The nonce error is retried at once, not after the interval.
    let retry = send(poll.handle_response(nonce_error("n-1"), at));
    assert_eq!(claims(&retry)["nonce"], "n-1");
    let Step::WaitUntil(next) = poll
        .handle_response(
            json_response(400, r#"{"error":"authorization_pending"}"#),
            at,
        )
        .unwrap()
    else {
        panic!("pending waits")
    };
    // The server rotated its nonce: the next poll's refusal is retried too.
    let second = send(poll.handle_timeout(next));
    assert_eq!(claims(&second)["nonce"], "n-1");
    let retry = send(poll.handle_response(nonce_error("n-2"), next));
    assert_eq!(claims(&retry)["nonce"], "n-2");
    let Step::Done(tokens) = poll.handle_response(dpop_tokens(), next).unwrap() else {
        panic!("expected the tokens")
    };
    assert_eq!(tokens.tokens.token_type, TokenType::DPoP);
}

#[test]
fn userinfo_meets_the_resource_servers_nonce_challenge_once() {
    let client = client();
    let tokens = TokenSet::new(AccessToken::new("AT"), TokenType::DPoP, T0);
    let mut flow = client.userinfo_for_subject(&tokens, "alice").unwrap();
    let first = send(flow.start(T0));
    assert_eq!(first.headers()["authorization"], "DPoP AT");
    assert_eq!(claims(&first)["htm"], "GET");
    assert_eq!(claims(&first)["htu"], "https://rs.example.com/userinfo");
    assert!(claims(&first)["ath"].is_string());
    let challenge = |nonce: &str| {
        http::Response::builder()
            .status(401)
            .header("www-authenticate", r#"DPoP error="use_dpop_nonce""#)
            .header("dpop-nonce", nonce)
            .body(Vec::<u8>::new())
            .unwrap()
    };
    let retry = send(flow.handle_response(challenge("rs-1"), T0));
    assert_eq!(claims(&retry)["nonce"], "rs-1");
    // A second challenge is the answer: an OAuth error, and the flow is over.
    let error = flow.handle_response(challenge("rs-2"), T0).unwrap_err();
    assert_eq!(error.oauth_code(), Some(&ErrorCode::UseDpopNonce));
    assert!(matches!(flow.start(T0), Err(Error::UnexpectedCall { .. })));
}

#[test]
fn a_session_over_dpop_tokens_refreshes_with_a_proof() {
    let client = client();
    let mut tokens = TokenSet::new(AccessToken::new("AT1"), TokenType::DPoP, T0);
    tokens.refresh_token = Some(RefreshToken::new("RT1"));
    tokens.expires_at = Some(T0.saturating_add_secs(3600));
    let mut session = Session::from_tokens(tokens);
    let Access::Ready(ready) = session.access_token(&client, T0).unwrap() else {
        panic!("a fresh token is ready")
    };
    assert_eq!(ready.token_type, TokenType::DPoP);
    let later = T0.saturating_add_secs(3599);
    let Access::Refresh(mut refresh) = session.access_token(&client, later).unwrap() else {
        panic!("a token about to expire is refreshed")
    };
    let request = send(refresh.start(later));
    assert_eq!(claims(&request)["htu"], "https://as.example.com/token");
    let Step::Done(refreshed) = refresh.handle_response(dpop_tokens(), later).unwrap() else {
        panic!("expected the tokens")
    };
    let _ = session.apply_refresh(Ok(refreshed), later);
    let Access::Ready(ready) = session.access_token(&client, later).unwrap() else {
        panic!("the refreshed token is ready")
    };
    assert_eq!(ready.access_token.secret(), "AT2");
    // The caller presents it to a resource server with the helper.
    let (authorization, _proof) = client
        .dpop_resource_headers(
            &http::Method::POST,
            &"https://rs.example.com/api".parse().unwrap(),
            ready.access_token.secret(),
            later,
        )
        .unwrap();
    assert_eq!(authorization, "DPoP AT2");
}
