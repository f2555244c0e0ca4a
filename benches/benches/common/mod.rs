//! What `flows` and `allocations` share: the clients, configured alike,
//! and the code exchange as each library's user writes it.
#![allow(dead_code, unused_macros, unused_imports)] // each bench uses a part

use grantflow::{Flow as _, Step, UnixTime};
use grantflow_benches::{
    AUTHORIZATION_ENDPOINT, CLIENT_ID, CLIENT_SECRET, CODE, ISSUER, JSON_CONTENT_TYPE, NOW_SECS,
    REDIRECT_URI, TOKEN_ENDPOINT,
};

pub fn canned(body: &[u8]) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, JSON_CONTENT_TYPE)
        .body(body.to_vec())
        .unwrap()
}

pub fn grantflow_client() -> grantflow::Client {
    grantflow::Client::new(
        grantflow::ClientId::new(CLIENT_ID),
        grantflow::ClientAuth::ClientSecretBasic(grantflow::ClientSecret::new(CLIENT_SECRET)),
    )
    .with_authorization_endpoint(grantflow::EndpointUrl::parse(AUTHORIZATION_ENDPOINT).unwrap())
    .with_token_endpoint(grantflow::EndpointUrl::parse(TOKEN_ENDPOINT).unwrap())
    .with_issuer(grantflow::Issuer::new(ISSUER).unwrap())
}

/// oauth2-rs's client with every endpoint this file uses set (its
/// typestate parameters make the type long to name, hence the macro).
macro_rules! oauth2_client {
    () => {
        oauth2::basic::BasicClient::new(oauth2::ClientId::new(
            grantflow_benches::CLIENT_ID.to_owned(),
        ))
        .set_client_secret(oauth2::ClientSecret::new(
            grantflow_benches::CLIENT_SECRET.to_owned(),
        ))
        .set_auth_uri(
            oauth2::AuthUrl::new(grantflow_benches::AUTHORIZATION_ENDPOINT.to_owned()).unwrap(),
        )
        .set_token_uri(oauth2::TokenUrl::new(grantflow_benches::TOKEN_ENDPOINT.to_owned()).unwrap())
        .set_redirect_uri(
            oauth2::RedirectUrl::new(grantflow_benches::REDIRECT_URI.to_owned()).unwrap(),
        )
    };
}

macro_rules! openidconnect_client {
    () => {
        openidconnect::core::CoreClient::new(
            openidconnect::ClientId::new(grantflow_benches::CLIENT_ID.to_owned()),
            openidconnect::IssuerUrl::new(grantflow_benches::ISSUER.to_owned()).unwrap(),
            openidconnect::JsonWebKeySet::default(),
        )
        .set_client_secret(openidconnect::ClientSecret::new(
            grantflow_benches::CLIENT_SECRET.to_owned(),
        ))
        .set_auth_uri(
            openidconnect::AuthUrl::new(grantflow_benches::AUTHORIZATION_ENDPOINT.to_owned())
                .unwrap(),
        )
        .set_token_uri(
            openidconnect::TokenUrl::new(grantflow_benches::TOKEN_ENDPOINT.to_owned()).unwrap(),
        )
        .set_redirect_uri(
            openidconnect::RedirectUrl::new(grantflow_benches::REDIRECT_URI.to_owned()).unwrap(),
        )
    };
}

pub fn now() -> UnixTime {
    UnixTime::from_secs(NOW_SECS)
}

/// The callback query the provider would send back for this URL.
pub fn callback_query(url: &url::Url) -> String {
    let state = url
        .query_pairs()
        .find(|(name, _)| name == "state")
        .unwrap()
        .1;
    format!("?code={CODE}&state={state}")
}

/// grantflow's code exchange from the callback on: what `code_exchange`
/// measures.
#[inline(never)]
pub fn grantflow_exchange(
    client: &grantflow::Client,
    pending: grantflow::PendingAuthorization,
    query: &str,
    canned: &http::Response<Vec<u8>>,
    sent: impl FnOnce(grantflow::HttpRequest),
) -> grantflow::TokenSet {
    let mut exchange = pending.callback(client, query, now()).unwrap();
    let Step::Send(request) = exchange.start(now()).unwrap() else {
        panic!("the code exchange starts by sending a request");
    };
    sent(request);
    match exchange.handle_response(canned.clone(), now()).unwrap() {
        Step::Done(tokens) => tokens,
        _ => panic!("one response ends the code exchange"),
    }
}

/// What an oauth2-rs user writes at the callback: read `code` and `state`
/// from the query, compare `state`, exchange the code.
macro_rules! oauth2_exchange {
    ($client:expr, $verifier:expr, $csrf:expr, $query:expr, $canned:expr, $sent:expr) => {{
        let mut code = None;
        let mut state = None;
        for (name, value) in form_urlencoded::parse($query.trim_start_matches('?').as_bytes()) {
            match &*name {
                "code" => code = Some(value.into_owned()),
                "state" => state = Some(value),
                _ => {}
            }
        }
        assert!(state.as_deref() == Some($csrf.secret().as_str()), "state");
        let http_client =
            |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, std::io::Error> {
                $sent(request);
                Ok($canned.clone())
            };
        $client
            .exchange_code(oauth2::AuthorizationCode::new(code.unwrap()))
            .set_pkce_verifier($verifier)
            .request(&http_client)
            .unwrap()
    }};
}
