//! The client credentials grant (RFC 6749 §4.4) as a flow: the exact request
//! for each client authentication method, and every way the flow can end.

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantflow::testing::json_response;
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Error, ErrorCode, Flow, HttpRequest,
    Scope, Step, TokenSet, UnixTime,
};

const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);
const TOKEN_URL: &str = "https://server.example.com/token";

fn client(auth: ClientAuth) -> Client {
    Client::new(ClientId::new("s6BhdRkqt3"), auth)
        .with_token_endpoint(EndpointUrl::parse(TOKEN_URL).unwrap())
}

fn basic() -> Client {
    client(ClientAuth::ClientSecretBasic(ClientSecret::new(
        "7Fjfp0ZBr1KtDRbnfVdmIw",
    )))
}

fn request_of<F: Flow<Output: std::fmt::Debug>>(mut flow: F) -> HttpRequest {
    match flow.start(NOW).unwrap() {
        Step::Send(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).map(|v| v.to_str().unwrap())
}

fn body(request: &HttpRequest) -> &str {
    std::str::from_utf8(request.body()).unwrap()
}

#[test]
fn rfc6749_section_4_4_2_request_with_client_secret_basic() {
    // RFC 6749 §4.4.2, byte for byte:
    //   POST /token HTTP/1.1
    //   Host: server.example.com
    //   Authorization: Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW
    //   Content-Type: application/x-www-form-urlencoded
    //
    //   grant_type=client_credentials
    // (the header decodes to the client id "s6BhdRkqt3" and secret "gX1fBat3bV").
    let client = client(ClientAuth::ClientSecretBasic(ClientSecret::new(
        "gX1fBat3bV",
    )));
    let request = request_of(client.client_credentials().unwrap());
    assert_eq!(request.method(), "POST");
    assert_eq!(request.uri(), TOKEN_URL);
    assert_eq!(
        header(&request, "authorization"),
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW")
    );
    assert!(request.headers()["authorization"].is_sensitive());
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // Not in the RFC's example, and what keeps GitHub from answering in form
    // encoding: ask for JSON.
    assert_eq!(header(&request, "accept"), Some("application/json"));
    assert_eq!(request.headers().len(), 3);
    assert_eq!(body(&request), "grant_type=client_credentials");
}

#[test]
fn request_with_client_secret_post() {
    let flow = client(ClientAuth::ClientSecretPost(ClientSecret::new(
        "7Fjfp0ZBr1KtDRbnfVdmIw",
    )))
    .client_credentials()
    .unwrap()
    .scope(Scope::new("api:read").unwrap());
    let request = request_of(flow);
    assert_eq!(request.method(), "POST");
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(&request, "accept"), Some("application/json"));
    assert_eq!(
        body(&request),
        "grant_type=client_credentials&scope=api%3Aread&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw"
    );
}

#[test]
fn secrets_with_reserved_characters_are_form_encoded_in_the_body() {
    let flow = Client::new(
        ClientId::new("id with space"),
        ClientAuth::ClientSecretPost(ClientSecret::new("a&b=c+d%e f")),
    )
    .with_token_endpoint(EndpointUrl::parse(TOKEN_URL).unwrap())
    .client_credentials()
    .unwrap();
    assert_eq!(
        body(&request_of(flow)),
        "grant_type=client_credentials&client_id=id+with+space&client_secret=a%26b%3Dc%2Bd%25e+f"
    );
}

#[test]
fn scopes_resources_audience_and_extra_parameters() {
    let flow = basic()
        .client_credentials()
        .unwrap()
        .scopes([
            Scope::new("api:read").unwrap(),
            Scope::new("api:write").unwrap(),
        ])
        .resource(url::Url::parse("https://api.example.com/v1").unwrap())
        .resource(url::Url::parse("https://files.example.com/").unwrap())
        .audience("https://api.example.com")
        .param("tenant", "a b&c");
    assert_eq!(
        body(&request_of(flow)),
        "grant_type=client_credentials&scope=api%3Aread+api%3Awrite\
         &resource=https%3A%2F%2Fapi.example.com%2Fv1&resource=https%3A%2F%2Ffiles.example.com%2F\
         &audience=https%3A%2F%2Fapi.example.com&tenant=a+b%26c"
    );
}

#[test]
fn reserved_parameters_are_refused() {
    for name in [
        "grant_type",
        "scope",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
    ] {
        let mut flow = basic().client_credentials().unwrap().param(name, "x");
        match flow.start(NOW) {
            Err(Error::ReservedParameter { name: refused }) => assert_eq!(refused, name),
            other => panic!("{name}: {other:?}"),
        }
        // A refused start ends the flow.
        assert!(matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })));
    }
}

#[test]
fn a_resource_with_a_fragment_is_refused() {
    let mut flow = basic()
        .client_credentials()
        .unwrap()
        .resource(url::Url::parse("https://api.example.com/#frag").unwrap());
    assert!(matches!(flow.start(NOW), Err(Error::InvalidUrl { .. })));
}

#[test]
fn success_ends_the_flow_with_a_token_set() {
    // RFC 6749's example type is "example": the caller must accept it.
    let mut flow = basic()
        .accept_token_type("example")
        .client_credentials()
        .unwrap();
    let _request = request_of(&mut flow);
    let later = NOW.saturating_add_secs(2);
    let step = flow
        .handle_response(
            json_response(
                200,
                r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"example","expires_in":3600,"example_parameter":"example_value"}"#,
            ),
            later,
        )
        .unwrap();
    let Step::Done(tokens) = step else {
        panic!("expected Done, got {step:?}")
    };
    let tokens: TokenSet = tokens;
    assert_eq!(tokens.access_token.secret(), "2YotnFZFEjr1zCsicMWpAA");
    // Expiry counts from when the response arrived, not when the flow began.
    assert_eq!(tokens.expires_at, Some(later.saturating_add_secs(3600)));
    assert_eq!(tokens.received_at, later);
}

#[test]
fn error_responses_become_typed_errors() {
    for (status, body, code) in [
        (
            401,
            r#"{"error":"invalid_client"}"#,
            ErrorCode::InvalidClient,
        ),
        (
            400,
            r#"{"error":"invalid_scope","error_description":"unknown scope"}"#,
            ErrorCode::InvalidScope,
        ),
        (
            400,
            r#"{"error":"unauthorized_client"}"#,
            ErrorCode::UnauthorizedClient,
        ),
        (
            200,
            r#"{"error":"unsupported_grant_type"}"#,
            ErrorCode::UnsupportedGrantType,
        ),
    ] {
        let mut flow = basic().client_credentials().unwrap();
        let _request = request_of(&mut flow);
        match flow.handle_response(json_response(status, body), NOW) {
            Err(Error::OAuth(e)) => {
                assert_eq!(e.error, code);
                assert_eq!(e.status, Some(status));
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn malformed_responses_become_malformed_errors() {
    let mut flow = basic().client_credentials().unwrap();
    let _request = request_of(&mut flow);
    match flow.handle_response(json_response(500, "<html>oops</html>"), NOW) {
        Err(Error::MalformedResponse(m)) => assert_eq!(m.status, 500),
        other => panic!("{other:?}"),
    }
}

#[test]
fn driving_out_of_order_is_a_typed_error_that_ends_the_flow() {
    let mut flow = basic().client_credentials().unwrap();
    assert!(matches!(
        flow.handle_response(json_response(200, r#"{"access_token":"x"}"#), NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    // Any error ends the flow: it cannot be started afterwards.
    assert!(matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })));
    let mut flow = basic().client_credentials().unwrap();
    assert!(matches!(
        flow.handle_timeout(NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    assert!(matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })));

    let mut flow = basic().client_credentials().unwrap();
    let _request = request_of(&mut flow);
    let _done = flow
        .handle_response(json_response(200, r#"{"access_token":"x"}"#), NOW)
        .unwrap();
    // Done is final: a second response is refused, so a token is never
    // accepted twice.
    assert!(matches!(
        flow.handle_response(json_response(200, r#"{"access_token":"y"}"#), NOW),
        Err(Error::UnexpectedCall { .. })
    ));
}

#[test]
fn a_failed_response_ends_the_flow_too() {
    let mut flow = basic().client_credentials().unwrap();
    let _request = request_of(&mut flow);
    assert!(
        flow.handle_response(json_response(400, r#"{"error":"invalid_client"}"#), NOW)
            .is_err()
    );
    assert!(matches!(
        flow.handle_response(json_response(200, r#"{"access_token":"x"}"#), NOW),
        Err(Error::UnexpectedCall { .. })
    ));
}

#[test]
fn boxed_flows_drive_the_same() {
    let mut flow: Box<dyn Flow<Output = TokenSet>> =
        Box::new(basic().client_credentials().unwrap());
    let request = request_of(&mut flow);
    assert_eq!(body(&request), "grant_type=client_credentials");
}

fn run_with(client: &Client, body: &str) -> Result<TokenSet, Error> {
    let mut flow = client.client_credentials().unwrap();
    let Step::Send(_) = flow.start(NOW).unwrap() else {
        panic!("expected a request")
    };
    match flow.handle_response(json_response(200, body), NOW)? {
        Step::Done(tokens) => Ok(tokens),
        Step::Send(_) | Step::WaitUntil(_) => panic!("the flow should be over"),
    }
}

#[test]
fn token_types_the_client_does_not_understand_are_refused() {
    // RFC 6749 §7.1: a client must not use a token type it does not
    // understand. `"bearer "` is not `Bearer`, and a DPoP-bound token is
    // useless to a client without a DPoP key.
    for (token_type, reported) in [
        ("mac", "mac"),
        ("N_A", "N_A"),
        ("bearer ", "bearer "),
        ("DPoP", "DPoP"),
        ("dpop", "DPoP"),
    ] {
        let body = format!(r#"{{"access_token":"at","token_type":"{token_type}"}}"#);
        match run_with(&basic(), &body) {
            Err(Error::UnsupportedTokenType { token_type: found }) => assert_eq!(found, reported),
            other => panic!("{token_type:?}: {other:?}"),
        }
    }
    // Case does not matter for Bearer, and a missing type is Bearer (LinkedIn).
    for body in [
        r#"{"access_token":"at","token_type":"bearer"}"#,
        r#"{"access_token":"at","token_type":"BEARER"}"#,
        r#"{"access_token":"at"}"#,
    ] {
        assert!(run_with(&basic(), body).is_ok(), "{body}");
    }
}

#[test]
fn a_token_type_that_looks_like_a_token_is_not_quoted() {
    // A token type holding a token-like run (the answer's own access token,
    // the client secret, or any opaque string) is withheld from the error;
    // a short unknown type is still named.
    for token_type in [
        "2YotnFZFEjr1zCsicMWpAA",
        "7Fjfp0ZBr1KtDRbnfVdmIw",
        r"mac\u0009AAAAAAAAAAAAAAAAAAAA",
    ] {
        let body =
            format!(r#"{{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"{token_type}"}}"#);
        match run_with(&basic(), &body) {
            Err(error @ Error::UnsupportedTokenType { .. }) => {
                let shown = error.to_string();
                assert!(shown.contains("<withheld"), "{shown}");
                assert!(
                    !shown.contains("2YotnFZ") && !shown.contains("7Fjfp0"),
                    "{shown}"
                );
            }
            other => panic!("{token_type:?}: {other:?}"),
        }
    }
    // The client secret, even when short, is withheld by the flow.
    let short = client(ClientAuth::ClientSecretBasic(ClientSecret::new("pw1")));
    match run_with(&short, r#"{"access_token":"at","token_type":"pw1"}"#) {
        Err(Error::UnsupportedTokenType { token_type }) => {
            assert_eq!(token_type, "<withheld: it quoted the token>")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_caller_may_accept_its_own_token_types_but_not_dpop() {
    let client = basic().accept_token_type("N_A").accept_token_type("DPoP");
    let tokens = run_with(&client, r#"{"access_token":"at","token_type":"n_a"}"#).unwrap();
    assert_eq!(tokens.token_type.as_str(), "n_a");
    assert!(matches!(
        run_with(&client, r#"{"access_token":"at","token_type":"DPoP"}"#),
        Err(Error::UnsupportedTokenType { .. })
    ));
}
