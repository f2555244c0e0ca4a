//! Logout end to end against the bundled OpenID provider on 127.0.0.1: a
//! signed-in session's refresh and access tokens revoked in that order
//! (RFC 7009), the tokens then dead at the provider (introspection says
//! inactive, a refresh is `invalid_grant`), the RP-initiated logout URL
//! accepted by the provider's `end_session_endpoint` (and a URL with an
//! unregistered redirect refused, so acceptance means something), and a
//! session whose refresh token was revoked elsewhere ending on its next
//! refresh.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantflow::{
    Access, Applied, Client, ClientAuth, ClientId, ClientSecret, Discovery, ErrorCode, Issuer,
    LogoutOptions, RedirectUri, Scope, Session, SignIn, TokenTypeHint,
};
use grantflow_tests::provider::{
    ALICE, BOB, POST_LOGOUT_REDIRECT_URI, Provider, REDIRECT_URI, WEB_APP, agent,
};
use grantflow_ureq::{HttpClient, drive, now, os_rng};

/// `web-app`, from discovery (so it knows the revocation, introspection and
/// end-session endpoints).
fn client(provider: &Provider) -> Client {
    let issuer = Issuer::new(provider.issuer()).unwrap();
    let discovered = drive(&HttpClient::new(), Discovery::openid(issuer)).unwrap();
    let client = Client::from_provider(
        &discovered,
        ClientId::new(WEB_APP.id),
        ClientAuth::ClientSecretBasic(ClientSecret::new(WEB_APP.secret.unwrap())),
    );
    assert!(client.endpoints().revocation.is_some());
    assert!(client.endpoints().end_session.is_some());
    client
}

/// Signs `account` in with `offline_access` (and `prompt=consent`, which the
/// provider needs to issue a refresh token).
fn sign_in(provider: &Provider, client: &Client, account: &str) -> SignIn {
    let (url, pending) = client
        .sign_in(REDIRECT_URI)
        .unwrap()
        .scopes(["openid", "offline_access"].map(|s| Scope::new(s).unwrap()))
        .prompt("consent")
        .begin(&mut os_rng(), now())
        .unwrap();
    let location = provider.login(url.as_str(), account).unwrap();
    let sign_in = drive(
        &HttpClient::new(),
        pending.callback(client, &location, now()).unwrap(),
    )
    .unwrap();
    assert!(sign_in.tokens.refresh_token.is_some());
    sign_in
}

/// GETs `url` at the provider: the status and the body.
fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

#[test]
fn logout_revokes_both_tokens_and_the_provider_accepts_the_logout_url() {
    let provider = Provider::shared();
    let client = client(provider);
    let signed = sign_in(provider, &client, ALICE);
    let access_token = signed.tokens.access_token.clone();
    let refresh_token = signed.tokens.refresh_token.clone().unwrap();
    let session = Session::from_sign_in(&signed);

    let options = LogoutOptions::new()
        .post_logout_redirect_uri(RedirectUri::new(POST_LOGOUT_REDIRECT_URI).unwrap())
        .state("bye-1");
    let logout = session.logout(&client, &options).unwrap();
    let url = logout.end_session_url().unwrap().clone();
    let logged_out = drive(&HttpClient::new(), logout).unwrap();
    assert_eq!(logged_out.revoked, ["refresh_token", "access_token"]);
    assert!(logged_out.failures.is_empty(), "{:?}", logged_out.failures);
    assert_eq!(logged_out.end_session_url.as_ref(), Some(&url));

    // The tokens are dead at the provider.
    for (token, hint) in [
        (access_token.secret(), TokenTypeHint::AccessToken),
        (refresh_token.secret(), TokenTypeHint::RefreshToken),
    ] {
        let info = drive(
            &HttpClient::new(),
            client.introspect(token, Some(hint)).unwrap(),
        )
        .unwrap();
        assert!(!info.active, "a revoked token is inactive");
    }
    let error = drive(&HttpClient::new(), client.refresh(&refresh_token).unwrap()).unwrap_err();
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidGrant));

    // The provider accepts the RP-initiated logout request: its
    // confirmation page, with the form that ends its own session.
    let (status, page) = get(url.as_str());
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<form"), "{page}");
    assert!(url.as_str().contains("id_token_hint="));
    assert!(url.as_str().contains("state=bye-1"));
}

#[test]
fn the_provider_refuses_a_logout_url_with_an_unregistered_redirect() {
    let provider = Provider::shared();
    let client = client(provider);
    let signed = sign_in(provider, &client, BOB);
    let options = LogoutOptions::new()
        .post_logout_redirect_uri(RedirectUri::new("http://127.0.0.1/not-registered").unwrap());
    let url = client
        .end_session_url(signed.tokens.id_token.as_ref(), &options)
        .unwrap();
    let (status, body) = get(url.as_str());
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("post_logout_redirect_uri"), "{body}");
}

#[test]
fn a_session_whose_refresh_token_was_revoked_ends_on_its_next_refresh() {
    let provider = Provider::shared();
    let client = client(provider);
    let signed = sign_in(provider, &client, BOB);
    let mut session = Session::from_sign_in(&signed);
    drive(
        &HttpClient::new(),
        client
            .revoke_refresh_token(signed.tokens.refresh_token.as_ref().unwrap())
            .unwrap(),
    )
    .unwrap();

    let at = now().saturating_add_secs(3550);
    let Access::Refresh(refresh) = session.access_token(&client, at).unwrap() else {
        panic!("a token 50 s from expiry is refreshed")
    };
    let result = drive(&HttpClient::new(), refresh).map_err(|error| match error {
        grantflow_ureq::Error::Flow(error) => error,
        other => panic!("transport: {other}"),
    });
    let Applied::Ended(reason) = session.apply_refresh(result, at) else {
        panic!("a revoked refresh token ends the session")
    };
    assert_eq!(reason.oauth_code(), Some(&ErrorCode::InvalidGrant));
    assert!(session.is_ended());
    assert!(matches!(
        session.access_token(&client, at).unwrap(),
        Access::Ended
    ));
}
