//! The client credentials grant (RFC 6749 §4.4) end to end: grantflow's core
//! driven by the ureq adapter against the bundled OpenID provider on
//! 127.0.0.1. Each token obtained is then introspected at the provider, so
//! the tests see that the server really issued it to the right client.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use grantflow::{ErrorCode, Scope, TokenType};
use grantflow_tests::provider::{
    self, API_RESOURCE, CC_BASIC, CC_POST, CC_SPECIAL, Provider, UNGRANTED_SCOPE,
};
use grantflow_ureq::{Error, HttpClient, drive, now};

/// Asks the provider's introspection endpoint (RFC 7662) about `token`,
/// authenticating as `CC_POST`.
fn introspect(provider: &Provider, token: &str) -> serde_json::Value {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("client_id", CC_POST.id)
        .append_pair("client_secret", CC_POST.secret.unwrap())
        .finish();
    let mut response = provider::agent()
        .post(provider.introspection_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .send(body)
        .unwrap();
    assert_eq!(response.status(), 200);
    serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap()
}

fn oauth_error(result: Result<grantflow::TokenSet, Error>) -> grantflow::ErrorResponse {
    match result {
        Err(Error::Flow(grantflow::Error::OAuth(e))) => e,
        Err(other) => panic!("expected an OAuth error, got {other}"),
        Ok(tokens) => panic!("expected an OAuth error, got {tokens:?}"),
    }
}

#[test]
fn client_secret_basic_obtains_a_token() {
    let provider = Provider::shared();
    let before = now();
    let flow = provider
        .client(CC_BASIC)
        .unwrap()
        .client_credentials()
        .unwrap()
        .scope(Scope::new("api:read").unwrap());
    let tokens = drive(&HttpClient::new(), flow).unwrap();

    assert_eq!(tokens.token_type, TokenType::Bearer);
    let scopes: Vec<_> = tokens
        .scopes
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(scopes, ["api:read"]);
    assert!(tokens.expires_at.unwrap() > before);
    assert!(
        tokens.refresh_token.is_none(),
        "RFC 6749 §4.4.3: no refresh token"
    );

    let info = introspect(provider, tokens.access_token.secret());
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], CC_BASIC.id);
    assert_eq!(info["scope"], "api:read");
    assert_eq!(info["exp"].as_u64(), tokens.expires_at.map(|t| t.as_secs()));
}

#[test]
fn client_secret_post_obtains_a_token() {
    let provider = Provider::shared();
    let flow = provider
        .client(CC_POST)
        .unwrap()
        .client_credentials()
        .unwrap()
        .scopes([
            Scope::new("api:read").unwrap(),
            Scope::new("api:write").unwrap(),
        ]);
    let tokens = drive(&HttpClient::new(), flow).unwrap();
    let info = introspect(provider, tokens.access_token.secret());
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], CC_POST.id);
    assert_eq!(info["scope"], "api:read api:write");
}

#[test]
fn basic_credentials_are_form_urlencoded_as_rfc6749_requires() {
    // The secret holds ':', '/', '+', '&', '=' and '%': the provider rejects
    // it unless the client form-urlencodes it before Basic encoding.
    let provider = Provider::shared();
    let tokens = drive(
        &HttpClient::new(),
        provider
            .client(CC_SPECIAL)
            .unwrap()
            .client_credentials()
            .unwrap(),
    )
    .unwrap();
    let info = introspect(provider, tokens.access_token.secret());
    assert_eq!(info["client_id"], CC_SPECIAL.id);
}

#[test]
fn wrong_secret_is_invalid_client() {
    let provider = Provider::shared();
    for test_client in [CC_BASIC, CC_POST] {
        let flow = provider
            .client_with_secret(test_client, "not-the-secret")
            .unwrap()
            .client_credentials()
            .unwrap();
        let error = oauth_error(drive(&HttpClient::new(), flow));
        assert_eq!(error.error, ErrorCode::InvalidClient, "{}", test_client.id);
        assert_eq!(error.status, Some(401));
    }
}

#[test]
fn a_scope_the_client_may_not_have_is_invalid_scope() {
    let provider = Provider::shared();
    let flow = provider
        .client(CC_BASIC)
        .unwrap()
        .client_credentials()
        .unwrap()
        .scope(Scope::new(UNGRANTED_SCOPE).unwrap());
    let error = oauth_error(drive(&HttpClient::new(), flow));
    assert_eq!(error.error, ErrorCode::InvalidScope);
    assert_eq!(error.status, Some(400));
}

#[test]
fn resource_indicators_reach_the_server() {
    // RFC 8707: the registered resource is granted; any other is refused
    // with invalid_target.
    let provider = Provider::shared();
    let flow = provider
        .client(CC_BASIC)
        .unwrap()
        .client_credentials()
        .unwrap()
        .scope(Scope::new("api:write").unwrap())
        .resource(url::Url::parse(API_RESOURCE).unwrap());
    let tokens = drive(&HttpClient::new(), flow).unwrap();
    let info = introspect(provider, tokens.access_token.secret());
    assert_eq!(info["aud"], API_RESOURCE, "{info}");

    let flow = provider
        .client(CC_BASIC)
        .unwrap()
        .client_credentials()
        .unwrap()
        .resource(url::Url::parse("https://elsewhere.example/").unwrap());
    let error = oauth_error(drive(&HttpClient::new(), flow));
    assert_eq!(error.error, ErrorCode::InvalidTarget);
}
