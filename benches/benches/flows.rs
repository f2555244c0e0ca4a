//! Everyday flow work, grantflow side by side with oauth2-rs 5 and
//! openidconnect-rs 4 in the same run, on the same inputs.
//!
//! - `authorization_url/*`: an RFC 6749 §4.1.1 authorization URL with PKCE
//!   S256 (RFC 7636) and `state`, one scope. grantflow: `authorize(&redirect)
//!   .scope(..).begin(rng, now)` (the URL and the pending request to keep;
//!   `redirect` a `RedirectUri` checked once, as oauth2-rs's client keeps a
//!   parsed `RedirectUrl`; `grantflow_rng_str_redirect` passes the string,
//!   checked on every call);
//!   oauth2-rs: `PkceCodeChallenge::new_random_sha256()`,
//!   `authorize_url(CsrfToken::new_random).add_scope(..)
//!   .set_pkce_challenge(..).url()`.
//! - `sign_in_url/*`: the same plus `nonce` and scope `openid` (OIDC Core
//!   §3.1.2.1); openidconnect-rs: `authorize_url(AuthorizationCode,
//!   CsrfToken::new_random, Nonce::new_random)`.
//! - `code_exchange/*`: the callback and the code exchange without IO: the
//!   redirect's query read, `state` compared, the RFC 6749 §4.1.3 request
//!   built with the PKCE verifier and `client_secret_basic`, the canned
//!   response parsed. grantflow: `pending.callback(&client, query, now)`,
//!   `start`, `handle_response`; oauth2-rs: the query read with
//!   `form_urlencoded`, `state` compared, `exchange_code(..)
//!   .set_pkce_verifier(..).request(&http_client)` (its real path: the HTTP
//!   client is a closure returning the canned response). The pending
//!   request (and oauth2-rs's verifier and CSRF token) come from the batch
//!   set-up, outside the measurement.
//! - `refresh_round_trip/*`: RFC 6749 §6 request with `client_secret_basic`,
//!   the canned response parsed.
//! - `client_credentials_request/*`: RFC 6749 §4.4.2 request building only.
//!   oauth2-rs has no public way to build a request without sending it: its
//!   HTTP client here returns an error at once, so the row includes its
//!   error path (one small allocation).
//! - `parse_minimal/*`: a token response with only `access_token`,
//!   `token_type` and `expires_in` (no refresh token, no scope).
//!
//! Generators: oauth2-rs and openidconnect-rs call rand 0.8's `thread_rng()`
//! (ChaCha12 in userspace, reseeded from the OS) once per random byte.
//! grantflow takes the caller's generator: `grantflow_rng` rows use
//! `grantflow_ureq::rng()` (rand 0.10's thread generator, ChaCha12 seeded
//! and reseeded from the OS: what the README recommends), `grantflow_os_rng`
//! rows `grantflow_ureq::os_rng()` (a `getrandom(2)` system call per draw).
//! grantflow's `state` and PKCE verifier are 256-bit, its `nonce` too;
//! oauth2-rs's CSRF token and nonce are 128-bit, its verifier 256-bit.
//!
//! Before measuring, `main` checks that both libraries put the same
//! parameters in the URL, send the same code exchange request and read the
//! same tokens.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group};
use grantflow::{Flow as _, Step};
use grantflow_benches::{
    CODE, MINIMAL_TOKEN_RESPONSE_BODY, REDIRECT_URI, REFRESH_TOKEN, SCOPE, TOKEN_RESPONSE_BODY,
};
use oauth2::TokenResponse as _;
use oauth2::basic::BasicTokenResponse;

#[macro_use]
mod common;
use common::{callback_query, canned, grantflow_client, grantflow_exchange, now};

/// The names of the URL's query parameters, in order.
fn parameter_names(url: &url::Url) -> Vec<String> {
    url.query_pairs()
        .map(|(name, _)| name.into_owned())
        .collect()
}

fn check_equivalence() {
    let mut rng = grantflow_ureq::rng();
    let client = grantflow_client();
    // Checked once, as oauth2-rs's client holds its parsed RedirectUrl.
    let redirect = grantflow::RedirectUri::new(grantflow_benches::REDIRECT_URI).unwrap();
    let (url, pending) = client
        .authorize(&redirect)
        .unwrap()
        .scope(grantflow::Scope::new(SCOPE).unwrap())
        .begin(&mut rng, now())
        .unwrap();
    let oauth2 = oauth2_client!();
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let (oauth2_url, csrf) = oauth2
        .authorize_url(oauth2::CsrfToken::new_random)
        .add_scope(oauth2::Scope::new(SCOPE.to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let mut ours = parameter_names(&url);
    let mut theirs = parameter_names(&oauth2_url);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "authorization URL parameters");
    assert_eq!(url.path(), oauth2_url.path());

    let (sign_in_url, _) = client
        .sign_in(&redirect)
        .unwrap()
        .begin(&mut rng, now())
        .unwrap();
    let (oidc_url, _, _) = openidconnect_client!()
        .authorize_url(
            openidconnect::AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
            openidconnect::CsrfToken::new_random,
            openidconnect::Nonce::new_random,
        )
        .set_pkce_challenge(openidconnect::PkceCodeChallenge::new_random_sha256().0)
        .url();
    let mut ours = parameter_names(&sign_in_url);
    let mut theirs = parameter_names(&oidc_url);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "sign-in URL parameters");

    // The code exchange: same request (but the verifier), same tokens.
    let full = canned(TOKEN_RESPONSE_BODY);
    let query = callback_query(&url);
    let mut ours = None;
    let tokens = grantflow_exchange(&client, pending, &query, &full, |r| ours = Some(r));
    let ours = ours.unwrap();
    let theirs = std::cell::RefCell::new(None);
    let oauth2_query = format!("?code={CODE}&state={}", csrf.secret());
    let basic: BasicTokenResponse =
        oauth2_exchange!(oauth2, verifier, csrf, oauth2_query, full, |r| {
            *theirs.borrow_mut() = Some(r)
        });
    let theirs = theirs.into_inner().unwrap();
    assert_eq!(ours.uri(), theirs.uri());
    assert_eq!(ours.method(), theirs.method());
    for header in [
        http::header::AUTHORIZATION,
        http::header::CONTENT_TYPE,
        http::header::ACCEPT,
    ] {
        assert_eq!(
            ours.headers().get(&header),
            theirs.headers().get(&header),
            "{header}"
        );
    }
    let form = |body: &[u8]| {
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(body)
            .filter(|(name, _)| name != "code_verifier")
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        pairs.sort();
        pairs
    };
    assert_eq!(form(ours.body()), form(theirs.body()), "code exchange body");
    assert_eq!(
        tokens.access_token.secret(),
        basic.access_token().secret().as_str()
    );

    // Refresh: same request, same tokens.
    let refresh_token = grantflow::RefreshToken::new(REFRESH_TOKEN);
    let mut flow = client.refresh(&refresh_token).unwrap();
    let Step::Send(ours) = flow.start(now()).unwrap() else {
        panic!()
    };
    let theirs = std::cell::RefCell::new(None);
    let http_client =
        |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, std::io::Error> {
            *theirs.borrow_mut() = Some(request);
            Ok(full.clone())
        };
    let token = oauth2::RefreshToken::new(REFRESH_TOKEN.to_owned());
    oauth2
        .exchange_refresh_token(&token)
        .request(&http_client)
        .unwrap();
    let theirs = theirs.into_inner().unwrap();
    assert_eq!(form(ours.body()), form(theirs.body()), "refresh body");
    assert_eq!(
        ours.headers().get(http::header::AUTHORIZATION),
        theirs.headers().get(http::header::AUTHORIZATION)
    );

    // The minimal body reads the same.
    let minimal = canned(MINIMAL_TOKEN_RESPONSE_BODY);
    let parsed = grantflow::parse_token_response(&minimal, now()).unwrap();
    let basic: BasicTokenResponse = serde_json::from_slice(MINIMAL_TOKEN_RESPONSE_BODY).unwrap();
    assert_eq!(
        parsed.access_token.secret(),
        basic.access_token().secret().as_str()
    );
    assert!(parsed.refresh_token.is_none() && basic.refresh_token().is_none());
    assert_eq!(
        parsed.expires_in(now()),
        basic.expires_in().map(|d| d.as_secs())
    );
}

fn authorization_url(c: &mut Criterion) {
    let mut group = c.benchmark_group("authorization_url");
    let client = grantflow_client();
    // Checked once, as oauth2-rs's client holds its parsed RedirectUrl.
    let redirect = grantflow::RedirectUri::new(grantflow_benches::REDIRECT_URI).unwrap();
    let scope = grantflow::Scope::new(SCOPE).unwrap();
    let mut rng = grantflow_ureq::rng();
    group.bench_function("grantflow_rng", |b| {
        b.iter(|| {
            black_box(&client)
                .authorize(&redirect)
                .unwrap()
                .scope(scope.clone())
                .begin(&mut rng, black_box(now()))
                .unwrap()
        })
    });
    // The redirect URI as a string, checked (parsed) on every call.
    group.bench_function("grantflow_rng_str_redirect", |b| {
        b.iter(|| {
            black_box(&client)
                .authorize(REDIRECT_URI)
                .unwrap()
                .scope(scope.clone())
                .begin(&mut rng, black_box(now()))
                .unwrap()
        })
    });
    let mut os_rng = grantflow_ureq::os_rng();
    group.bench_function("grantflow_os_rng", |b| {
        b.iter(|| {
            black_box(&client)
                .authorize(&redirect)
                .unwrap()
                .scope(scope.clone())
                .begin(&mut os_rng, black_box(now()))
                .unwrap()
        })
    });
    let oauth2 = oauth2_client!();
    group.bench_function("oauth2", |b| {
        b.iter(|| {
            let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
            let (url, csrf) = black_box(&oauth2)
                .authorize_url(oauth2::CsrfToken::new_random)
                .add_scope(oauth2::Scope::new(SCOPE.to_owned()))
                .set_pkce_challenge(challenge)
                .url();
            (url, csrf, verifier)
        })
    });
    group.finish();
}

fn sign_in_url(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign_in_url");
    let client = grantflow_client();
    // Checked once, as oauth2-rs's client holds its parsed RedirectUrl.
    let redirect = grantflow::RedirectUri::new(grantflow_benches::REDIRECT_URI).unwrap();
    let mut rng = grantflow_ureq::rng();
    group.bench_function("grantflow_rng", |b| {
        b.iter(|| {
            black_box(&client)
                .sign_in(&redirect)
                .unwrap()
                .begin(&mut rng, black_box(now()))
                .unwrap()
        })
    });
    let mut os_rng = grantflow_ureq::os_rng();
    group.bench_function("grantflow_os_rng", |b| {
        b.iter(|| {
            black_box(&client)
                .sign_in(&redirect)
                .unwrap()
                .begin(&mut os_rng, black_box(now()))
                .unwrap()
        })
    });
    let oidc = openidconnect_client!();
    group.bench_function("openidconnect", |b| {
        b.iter(|| {
            let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
            let (url, csrf, nonce) = black_box(&oidc)
                .authorize_url(
                    openidconnect::AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
                    openidconnect::CsrfToken::new_random,
                    openidconnect::Nonce::new_random,
                )
                .set_pkce_challenge(challenge)
                .url();
            (url, csrf, nonce, verifier)
        })
    });
    group.finish();
}

fn code_exchange(c: &mut Criterion) {
    let mut group = c.benchmark_group("code_exchange");
    let canned = canned(TOKEN_RESPONSE_BODY);
    let client = grantflow_client();
    // Checked once, as oauth2-rs's client holds its parsed RedirectUrl.
    let redirect = grantflow::RedirectUri::new(grantflow_benches::REDIRECT_URI).unwrap();
    let mut rng = grantflow_ureq::rng();
    group.bench_function("grantflow", |b| {
        b.iter_batched(
            || {
                let (url, pending) = client
                    .authorize(&redirect)
                    .unwrap()
                    .scope(grantflow::Scope::new(SCOPE).unwrap())
                    .begin(&mut rng, now())
                    .unwrap();
                (pending, callback_query(&url))
            },
            |(pending, query)| {
                grantflow_exchange(black_box(&client), pending, &query, &canned, |r| {
                    black_box(r);
                })
            },
            BatchSize::SmallInput,
        )
    });
    let oauth2 = oauth2_client!();
    group.bench_function("oauth2", |b| {
        b.iter_batched(
            || {
                let (_, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
                let csrf = oauth2::CsrfToken::new_random();
                let query = format!("?code={CODE}&state={}", csrf.secret());
                (verifier, csrf, query)
            },
            |(verifier, csrf, query)| {
                oauth2_code_exchange(black_box(&oauth2), verifier, csrf, &query, &canned)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// The oauth2-rs side of `code_exchange` as a function of its own, so a
/// profiler can count one call (`--toggle-collect=*oauth2_code_exchange*`;
/// grantflow's side is `common::grantflow_exchange`).
#[inline(never)]
fn oauth2_code_exchange(
    oauth2: &oauth2::basic::BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    verifier: oauth2::PkceCodeVerifier,
    csrf: oauth2::CsrfToken,
    query: &str,
    canned: &http::Response<Vec<u8>>,
) -> BasicTokenResponse {
    oauth2_exchange!(oauth2, verifier, csrf, query, canned, |r| {
        black_box(r);
    })
}

fn refresh_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("refresh_round_trip");
    let canned = canned(TOKEN_RESPONSE_BODY);
    let client = grantflow_client();
    let refresh_token = grantflow::RefreshToken::new(REFRESH_TOKEN);
    group.bench_function("grantflow", |b| {
        b.iter(|| {
            let mut flow = black_box(&client).refresh(&refresh_token).unwrap();
            let Step::Send(request) = flow.start(now()).unwrap() else {
                panic!()
            };
            black_box(request);
            match flow.handle_response(canned.clone(), now()).unwrap() {
                Step::Done(tokens) => tokens,
                _ => panic!("one response ends the refresh"),
            }
        })
    });
    let oauth2 = oauth2_client!();
    let token = oauth2::RefreshToken::new(REFRESH_TOKEN.to_owned());
    group.bench_function("oauth2", |b| {
        let http_client =
            |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, std::io::Error> {
                black_box(request);
                Ok(canned.clone())
            };
        b.iter(|| {
            black_box(&oauth2)
                .exchange_refresh_token(&token)
                .request(&http_client)
                .unwrap()
        })
    });
    group.finish();
}

fn client_credentials_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_credentials_request");
    let client = grantflow_client();
    let scope = grantflow::Scope::new(SCOPE).unwrap();
    group.bench_function("grantflow", |b| {
        b.iter(|| {
            let mut flow = black_box(&client)
                .client_credentials()
                .unwrap()
                .scope(scope.clone());
            let Step::Send(request) = flow.start(now()).unwrap() else {
                panic!()
            };
            request
        })
    });
    let oauth2 = oauth2_client!();
    group.bench_function("oauth2", |b| {
        let http_client =
            |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, std::io::Error> {
                black_box(request);
                Err(std::io::ErrorKind::Other.into())
            };
        b.iter(|| {
            black_box(&oauth2)
                .exchange_client_credentials()
                .add_scope(oauth2::Scope::new(SCOPE.to_owned()))
                .request(&http_client)
                .unwrap_err()
        })
    });
    group.finish();
}

fn parse_minimal(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_minimal");
    let minimal = canned(MINIMAL_TOKEN_RESPONSE_BODY);
    group.bench_function("grantflow", |b| {
        b.iter(|| grantflow::parse_token_response(black_box(&minimal), black_box(now())).unwrap())
    });
    group.bench_function("oauth2", |b| {
        b.iter(|| serde_json::from_slice::<BasicTokenResponse>(black_box(minimal.body())).unwrap())
    });
    group.bench_function("oauth2_path_to_error", |b| {
        b.iter(|| {
            let mut deserializer = serde_json::Deserializer::from_slice(black_box(minimal.body()));
            serde_path_to_error::deserialize::<_, BasicTokenResponse>(&mut deserializer).unwrap()
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = authorization_url, sign_in_url, code_exchange, refresh_round_trip,
        client_credentials_request, parse_minimal
}

fn main() {
    check_equivalence();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
