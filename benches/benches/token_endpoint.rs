//! Token endpoint work, grantflow side by side with oauth2-rs 5.
//!
//! - `parse/*`: turn a token endpoint body into the library's token type
//!   (`oauth2` is the bare `serde_json::from_slice` into oauth2-rs's
//!   `BasicTokenResponse`; `oauth2_path_to_error` adds the
//!   `serde_path_to_error` wrapper oauth2-rs 5 puts around it).
//! - `client_credentials_round_trip/*`: build the RFC 6749 §4.4 request with
//!   `client_secret_basic`, "send" it to a canned 200 response, parse that.
//!
//! Before measuring, `main` checks once that both libraries build the same
//! request and read the same tokens, so the pairs really do the same work.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use grantflow::{Flow as _, Step, TokenSet, UnixTime};
use grantflow_benches::{
    CLIENT_ID, CLIENT_SECRET, JSON_CONTENT_TYPE, NOW_SECS, SCOPE, TOKEN_ENDPOINT,
    TOKEN_RESPONSE_BODY,
};
use oauth2::TokenResponse as _;
use oauth2::basic::{BasicClient, BasicTokenResponse};

/// The canned 200 response both clients receive.
fn canned_response() -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, JSON_CONTENT_TYPE)
        .body(TOKEN_RESPONSE_BODY.to_vec())
        .unwrap()
}

fn grantflow_client() -> grantflow::Client {
    grantflow::Client::new(
        grantflow::ClientId::new(CLIENT_ID),
        grantflow::ClientAuth::ClientSecretBasic(grantflow::ClientSecret::new(CLIENT_SECRET)),
    )
    .with_token_endpoint(grantflow::EndpointUrl::parse(TOKEN_ENDPOINT).unwrap())
}

/// One client credentials exchange with grantflow; `sent` sees the request.
fn grantflow_round_trip(
    client: &grantflow::Client,
    canned: &http::Response<Vec<u8>>,
    now: UnixTime,
    sent: impl FnOnce(grantflow::HttpRequest),
) -> TokenSet {
    let mut flow = client
        .client_credentials()
        .unwrap()
        .scope(grantflow::Scope::new(SCOPE).unwrap());
    let Step::Send(request) = flow.start(now).unwrap() else {
        panic!("client credentials starts by sending a request");
    };
    sent(request);
    match flow.handle_response(canned.clone(), now).unwrap() {
        Step::Done(tokens) => tokens,
        _ => panic!("one response ends the client credentials flow"),
    }
}

/// One client credentials exchange with oauth2-rs, through an HTTP client
/// (a closure) that hands the request to `sent` and answers with `canned`.
fn oauth2_round_trip<C>(
    client: &C,
    canned: &http::Response<Vec<u8>>,
    sent: impl Fn(oauth2::HttpRequest),
) -> BasicTokenResponse
where
    C: ExchangeClientCredentials,
{
    let http_client =
        |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, std::io::Error> {
            sent(request);
            Ok(canned.clone())
        };
    client.exchange(&http_client)
}

/// The oauth2-rs exchange, written once for any `BasicClient` whose token
/// URL is set (its typestate parameters make the full type long to name).
trait ExchangeClientCredentials {
    fn exchange<H>(&self, http_client: &H) -> BasicTokenResponse
    where
        H: oauth2::SyncHttpClient,
        H::Error: std::fmt::Debug;
}

impl<A, B, C, D> ExchangeClientCredentials
    for oauth2::basic::BasicClient<A, B, C, D, oauth2::EndpointSet>
where
    A: oauth2::EndpointState,
    B: oauth2::EndpointState,
    C: oauth2::EndpointState,
    D: oauth2::EndpointState,
{
    fn exchange<H>(&self, http_client: &H) -> BasicTokenResponse
    where
        H: oauth2::SyncHttpClient,
        H::Error: std::fmt::Debug,
    {
        self.exchange_client_credentials()
            .add_scope(oauth2::Scope::new(SCOPE.to_owned()))
            .request(http_client)
            .unwrap()
    }
}

/// Checks once that both libraries do the same work on the same bytes.
fn check_equivalence() {
    let canned = canned_response();
    let now = UnixTime::from_secs(NOW_SECS);

    let parsed = grantflow::parse_token_response(&canned, now).unwrap();
    let basic: BasicTokenResponse = serde_json::from_slice(TOKEN_RESPONSE_BODY).unwrap();
    assert_eq!(
        parsed.access_token.secret(),
        basic.access_token().secret().as_str()
    );
    assert_eq!(
        parsed.refresh_token.as_ref().map(|t| t.secret()),
        basic.refresh_token().map(|t| t.secret().as_str())
    );
    assert_eq!(
        parsed.expires_in(now),
        basic.expires_in().map(|d| d.as_secs())
    );
    assert_eq!(
        parsed
            .scopes
            .as_ref()
            .map(|s| s.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()),
        basic
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    );

    let mut grantflow_request = None;
    grantflow_round_trip(&grantflow_client(), &canned, now, |r| {
        grantflow_request = Some(r)
    });
    let grantflow_request = grantflow_request.unwrap();
    let oauth2_request = std::cell::RefCell::new(None);
    oauth2_round_trip(&oauth2_client(), &canned, |r| {
        *oauth2_request.borrow_mut() = Some(r)
    });
    let oauth2_request = oauth2_request.into_inner().unwrap();
    assert_eq!(grantflow_request.method(), oauth2_request.method());
    assert_eq!(grantflow_request.uri(), oauth2_request.uri());
    assert_eq!(grantflow_request.body(), oauth2_request.body());
    for header in [
        http::header::AUTHORIZATION,
        http::header::CONTENT_TYPE,
        http::header::ACCEPT,
    ] {
        assert_eq!(
            grantflow_request.headers().get(&header),
            oauth2_request.headers().get(&header),
            "{header}"
        );
    }
}

fn oauth2_client() -> impl ExchangeClientCredentials {
    BasicClient::new(oauth2::ClientId::new(CLIENT_ID.to_owned()))
        .set_client_secret(oauth2::ClientSecret::new(CLIENT_SECRET.to_owned()))
        .set_token_uri(oauth2::TokenUrl::new(TOKEN_ENDPOINT.to_owned()).unwrap())
}

fn parse(c: &mut Criterion) {
    let canned = canned_response();
    let now = UnixTime::from_secs(NOW_SECS);
    let mut group = c.benchmark_group("parse");
    group.bench_function("grantflow", |b| {
        b.iter(|| grantflow::parse_token_response(black_box(&canned), black_box(now)).unwrap())
    });
    // The bare serde_json call: a lower bound for oauth2-rs.
    group.bench_function("oauth2", |b| {
        b.iter(|| serde_json::from_slice::<BasicTokenResponse>(black_box(canned.body())).unwrap())
    });
    // What oauth2-rs 5 really runs after its status and content-type checks
    // (`endpoint_response`): the same deserializer wrapped in
    // serde_path_to_error, so a parse error can name the field.
    group.bench_function("oauth2_path_to_error", |b| {
        b.iter(|| {
            let mut deserializer = serde_json::Deserializer::from_slice(black_box(canned.body()));
            serde_path_to_error::deserialize::<_, BasicTokenResponse>(&mut deserializer).unwrap()
        })
    });
    group.finish();
}

fn client_credentials_round_trip(c: &mut Criterion) {
    let canned = canned_response();
    let now = UnixTime::from_secs(NOW_SECS);
    let mut group = c.benchmark_group("client_credentials_round_trip");

    let client = grantflow_client();
    group.bench_function("grantflow", |b| {
        b.iter(|| {
            grantflow_round_trip(black_box(&client), &canned, black_box(now), |r| {
                black_box(r);
            })
        })
    });

    let client = oauth2_client();
    group.bench_function("oauth2", |b| {
        b.iter(|| {
            oauth2_round_trip(black_box(&client), &canned, |r| {
                black_box(r);
            })
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
    targets = parse, client_credentials_round_trip
}

fn main() {
    check_equivalence();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
