//! Token revocation (RFC 7009) and introspection (RFC 7662) end to end:
//! grantflow's core driven by the ureq adapter against the bundled OpenID
//! provider on 127.0.0.1. A client credentials token is introspected
//! (active, for the right client and scope), revoked, and introspected
//! again (inactive).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use grantflow::{
    AccessToken, Client, EndpointUrl, ErrorCode, IntrospectionResponse, Scope, TokenSet, TokenType,
    TokenTypeHint, UnixTime,
};
use grantflow_tests::provider::{API_RESOURCE, CC_BASIC, CC_POST, Provider, TestClient};
use grantflow_ureq::{Error, HttpClient, drive, now};

/// `test_client` at the provider, with its revocation and introspection
/// endpoints as well as the token endpoint.
fn client(provider: &Provider, test_client: TestClient) -> Client {
    let client = provider.client(test_client).unwrap();
    let mut endpoints = client.endpoints().clone();
    endpoints.revocation = Some(EndpointUrl::parse(&provider.revocation_endpoint()).unwrap());
    endpoints.introspection = Some(EndpointUrl::parse(&provider.introspection_endpoint()).unwrap());
    client.with_endpoints(endpoints)
}

fn token(client: &Client) -> TokenSet {
    let flow = client
        .client_credentials()
        .unwrap()
        .scope(Scope::new("api:read").unwrap());
    drive(&HttpClient::new(), flow).unwrap()
}

fn introspect(client: &Client, token: &AccessToken) -> IntrospectionResponse {
    let flow = client
        .introspect(token.secret(), Some(TokenTypeHint::AccessToken))
        .unwrap();
    drive(&HttpClient::new(), flow).unwrap()
}

#[test]
fn introspect_revoke_introspect() {
    let provider = Provider::shared();
    let client = client(provider, CC_BASIC);
    let before = now();
    let tokens = token(&client);

    let info = introspect(&client, &tokens.access_token);
    assert!(info.active, "{info:?}");
    assert!(info.is_active_at(now()));
    assert_eq!(info.client_id.as_ref(), Some(client.client_id()));
    let scopes: Vec<_> = info.scopes.iter().flatten().map(Scope::as_str).collect();
    assert_eq!(scopes, ["api:read"]);
    assert!(info.has_scope("api:read") && !info.has_scope("api:write"));
    assert_eq!(info.token_type, Some(TokenType::Bearer));
    assert_eq!(info.exp, tokens.expires_at);
    assert!(
        info.iat
            .is_some_and(|iat| iat >= before.saturating_sub_secs(5))
    );
    assert_eq!(info.iss.as_deref(), Some(provider.issuer()));
    assert_eq!(info.aud, Some(vec![API_RESOURCE.to_owned()]));
    // A client credentials token has no resource owner: what the provider
    // leaves out stays absent.
    assert_eq!(info.sub, None);
    assert_eq!(info.username, None);

    drive(
        &HttpClient::new(),
        client.revoke_access_token(&tokens.access_token).unwrap(),
    )
    .unwrap();

    let info = introspect(&client, &tokens.access_token);
    assert!(!info.active, "{info:?}");
    assert_eq!(info.client_id, None);
    assert_eq!(info.scopes, None);
    assert!(!info.is_active_at(now()));
}

#[test]
fn client_secret_post_introspects_and_revokes_too() {
    let provider = Provider::shared();
    let client = client(provider, CC_POST);
    let tokens = token(&client);
    // Without a hint, the server looks the token up among all its kinds.
    let flow = client
        .introspect(tokens.access_token.secret(), None)
        .unwrap();
    let info = drive(&HttpClient::new(), flow).unwrap();
    assert!(info.active, "{info:?}");
    assert_eq!(
        info.client_id.as_ref().map(|id| id.as_str()),
        Some(CC_POST.id)
    );

    let flow = client.revoke(tokens.access_token.secret(), None).unwrap();
    drive(&HttpClient::new(), flow).unwrap();
    assert!(!introspect(&client, &tokens.access_token).active);
}

#[test]
fn revoking_an_unknown_token_succeeds() {
    // RFC 7009 §2.2: an invalid token is no reason to fail; the client
    // could not do anything about it anyway.
    let provider = Provider::shared();
    let client = client(provider, CC_BASIC);
    for token in ["garbage", "not-a-token-the-provider-ever-issued-0123456789"] {
        let flow = client
            .revoke_access_token(&AccessToken::new(token))
            .unwrap();
        drive(&HttpClient::new(), flow).unwrap();
        let flow = client.revoke(token, None).unwrap();
        drive(&HttpClient::new(), flow).unwrap();
    }
}

#[test]
fn introspecting_an_unknown_token_says_inactive() {
    let provider = Provider::shared();
    let client = client(provider, CC_BASIC);
    let info = introspect(&client, &AccessToken::new("garbage"));
    assert!(!info.active);
    assert!(!info.is_active_at(UnixTime::EPOCH));
}

#[test]
fn a_wrong_secret_is_invalid_client() {
    let provider = Provider::shared();
    let wrong = provider
        .client_with_secret(CC_BASIC, "not-the-secret")
        .unwrap();
    let mut endpoints = wrong.endpoints().clone();
    endpoints.revocation = Some(EndpointUrl::parse(&provider.revocation_endpoint()).unwrap());
    endpoints.introspection = Some(EndpointUrl::parse(&provider.introspection_endpoint()).unwrap());
    let wrong = wrong.with_endpoints(endpoints);

    let result = drive(&HttpClient::new(), wrong.revoke("whatever", None).unwrap());
    match result {
        Err(Error::Flow(error)) => {
            assert_eq!(
                error.oauth_code(),
                Some(&ErrorCode::InvalidClient),
                "{error}"
            );
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
    let result = drive(
        &HttpClient::new(),
        wrong.introspect("whatever", None).unwrap(),
    );
    match result {
        Err(Error::Flow(error)) => {
            assert_eq!(
                error.oauth_code(),
                Some(&ErrorCode::InvalidClient),
                "{error}"
            );
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
}
