//! Every flow grantflow has, driven by the async adapter (`grantflow-async`
//! and its built-in client) against the bundled OpenID provider on
//! 127.0.0.1, on smol and on async-std: client credentials (RFC 6749 §4.4),
//! OpenID discovery, sign-in (OIDC Core §3.1, the authorization code flow
//! with PKCE) and UserInfo (OIDC Core §5.3).
//!
//! Each scenario is one `async fn`; [`on_both_runtimes!`] makes a test of it
//! per runtime.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, DiscoveredProvider, Discovery, ErrorCode, Issuer,
    Scope, TokenType,
};
use grantflow_async::{Error, Event, HttpClient, drive, drive_observed, now, os_rng};
use grantflow_tests::TestClient;
use grantflow_tests::provider::{
    self, ALICE, BOB, CC_BASIC, CC_POST, Provider, REDIRECT_URI, SPA, UNGRANTED_SCOPE, WEB_APP,
};

/// A test per runtime for each scenario.
macro_rules! on_both_runtimes {
    ($($scenario:ident),* $(,)?) => {
        mod smol_runtime {
            $(
                #[test]
                fn $scenario() {
                    smol::block_on(super::$scenario());
                }
            )*
        }
        mod async_std_runtime {
            $(
                #[test]
                fn $scenario() {
                    async_std::task::block_on(super::$scenario());
                }
            )*
        }
    };
}

on_both_runtimes!(
    client_credentials_with_client_secret_basic,
    client_credentials_with_client_secret_post,
    client_credentials_errors_are_typed,
    discovery_fetches_metadata_and_keys,
    public_client_signs_in_and_reads_userinfo,
    confidential_client_signs_in_and_reads_userinfo,
    a_cancelled_flow_leaves_the_pool_usable,
);

/// Asks the provider's introspection endpoint (RFC 7662) about `token`, with
/// the blocking harness agent: the server's own word that it issued it.
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

async fn client_credentials(test_client: TestClient, scope: &str) {
    let provider = Provider::shared();
    let before = now();
    let flow = provider
        .client(test_client)
        .unwrap()
        .client_credentials()
        .unwrap()
        .scope(Scope::new(scope).unwrap());
    let http = HttpClient::new();
    let tokens = drive(&http, flow).await.unwrap();

    assert_eq!(tokens.token_type, TokenType::Bearer);
    let scopes: Vec<_> = tokens
        .scopes
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(scopes, [scope]);
    assert!(tokens.expires_at.unwrap() > before);
    assert!(tokens.refresh_token.is_none());
    assert_eq!(
        http.idle_connections(),
        1,
        "keep-alive: the connection is pooled"
    );

    let info = introspect(provider, tokens.access_token.secret());
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], test_client.id);
    assert_eq!(info["scope"], scope);
}

async fn client_credentials_with_client_secret_basic() {
    client_credentials(CC_BASIC, "api:read").await;
}

async fn client_credentials_with_client_secret_post() {
    client_credentials(CC_POST, "api:write").await;
}

async fn client_credentials_errors_are_typed() {
    let provider = Provider::shared();
    let http = HttpClient::new();

    let flow = provider
        .client_with_secret(CC_BASIC, "not-the-secret")
        .unwrap()
        .client_credentials()
        .unwrap();
    let error = drive(&http, flow).await.unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&ErrorCode::InvalidClient),
        "{error}"
    );
    assert_eq!(error.kind(), grantflow::ErrorKind::Refused);
    assert_eq!(error.oauth_error().unwrap().status, Some(401));

    let flow = provider
        .client(CC_BASIC)
        .unwrap()
        .client_credentials()
        .unwrap()
        .scope(Scope::new(UNGRANTED_SCOPE).unwrap());
    let error = drive(&http, flow).await.unwrap_err();
    assert!(
        matches!(&error, Error::Flow(grantflow::Error::OAuth(e)) if e.error == ErrorCode::InvalidScope),
        "{error}"
    );
}

/// OpenID discovery of the shared provider, over `http`.
async fn discover(http: &HttpClient) -> DiscoveredProvider {
    let issuer = Issuer::new(Provider::shared().issuer()).unwrap();
    drive(http, Discovery::openid(issuer)).await.unwrap()
}

async fn discovery_fetches_metadata_and_keys() {
    let provider = Provider::shared();
    let http = HttpClient::new();
    let mut sent = Vec::new();
    let issuer = Issuer::new(provider.issuer()).unwrap();
    let discovered = drive_observed(&http, Discovery::openid(issuer), |event| {
        if let Event::Sending(request) = event {
            sent.push(request.uri().to_string());
        }
    })
    .await
    .unwrap();
    assert_eq!(discovered.issuer().as_str(), provider.issuer());
    let metadata = discovered.metadata();
    assert_eq!(
        metadata.token_endpoint.as_ref().unwrap().as_str(),
        provider.token_endpoint()
    );
    assert_eq!(
        metadata.userinfo_endpoint.as_ref().unwrap().as_str(),
        provider.userinfo_endpoint()
    );
    let keys = discovered
        .jwks()
        .expect("openid discovery fetches the JWK Set");
    assert!(!keys.keys().is_empty());
    assert_eq!(sent, [provider.discovery_url(), provider.jwks_uri()]);
    // Both requests went over one kept-alive connection.
    assert_eq!(http.idle_connections(), 1);
}

fn client_of(discovered: &DiscoveredProvider, test_client: TestClient) -> Client {
    let auth = match (test_client.auth_method, test_client.secret) {
        ("none", None) => ClientAuth::None,
        ("client_secret_basic", Some(secret)) => {
            ClientAuth::ClientSecretBasic(ClientSecret::new(secret))
        }
        other => panic!("{}: no sign-in test uses {other:?}", test_client.id),
    };
    Client::from_provider(discovered, ClientId::new(test_client.id), auth)
}

/// Discovery, the authorization URL, the login at the provider, the callback,
/// the code exchange and UserInfo, all through the async adapter.
async fn sign_in_and_userinfo(test_client: TestClient, account: &str) {
    let provider = Provider::shared();
    let http = HttpClient::new();
    let discovered = discover(&http).await;
    let client = client_of(&discovered, test_client);

    let (authorization_url, pending) = client
        .sign_in(REDIRECT_URI)
        .unwrap()
        .scopes(["openid", "email"].map(|scope| Scope::new(scope).unwrap()))
        .begin(&mut os_rng(), now())
        .unwrap();
    let location = provider.login(authorization_url.as_str(), account).unwrap();
    let exchange = pending.callback(&client, &location, now()).unwrap();
    let mut sent = Vec::new();
    let signed = drive_observed(&http, exchange, |event| {
        if let Event::Sending(request) = event {
            sent.push(request.uri().to_string());
        }
    })
    .await
    .unwrap();
    // The keys from discovery verified the ID token: one request, no JWKS refetch.
    assert_eq!(sent, [provider.token_endpoint()]);
    assert_eq!(signed.id_token.subject(), account);
    assert_eq!(signed.id_token.claims().iss, provider.issuer());
    assert_eq!(signed.tokens.token_type, TokenType::Bearer);

    let flow = client.userinfo(&signed.tokens, &signed.id_token).unwrap();
    let info = drive(&http, flow).await.unwrap();
    assert_eq!(info.sub, account);
    assert_eq!(
        info.string("email"),
        Some(format!("{account}@example.test").as_str())
    );
}

async fn public_client_signs_in_and_reads_userinfo() {
    sign_in_and_userinfo(SPA, ALICE).await;
}

async fn confidential_client_signs_in_and_reads_userinfo() {
    sign_in_and_userinfo(WEB_APP, BOB).await;
}

/// A flow dropped while its request is in flight on a pooled connection:
/// that connection is closed, not pooled, and the next flow runs on a new
/// one.
async fn a_cancelled_flow_leaves_the_pool_usable() {
    let provider = Provider::shared();
    let client = provider.client(CC_BASIC).unwrap();
    let http = HttpClient::new();
    drive(&http, client.client_credentials().unwrap())
        .await
        .unwrap();
    assert_eq!(http.idle_connections(), 1);

    {
        let mut flow = std::pin::pin!(drive(&http, client.client_credentials().unwrap()));
        // One poll takes the pooled connection, writes the request and
        // waits for the answer, which cannot be there yet.
        assert!(futures_lite::future::poll_once(&mut flow).await.is_none());
        assert_eq!(
            http.idle_connections(),
            0,
            "the request holds the connection"
        );
    }
    assert_eq!(
        http.idle_connections(),
        0,
        "the dropped request's connection is closed"
    );

    let tokens = drive(&http, client.client_credentials().unwrap())
        .await
        .unwrap();
    let info = introspect(provider, tokens.access_token.secret());
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(http.idle_connections(), 1);
}
