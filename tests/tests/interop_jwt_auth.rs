//! JWT client authentication (RFC 7523 §2.2, OIDC Core §9) end to end:
//! `private_key_jwt` with ES256, RS256 and PS256 keys and `client_secret_jwt`
//! (HS256) against the bundled provider, at every endpoint that
//! authenticates the client: the token endpoint (client credentials, the
//! code exchange, refresh, device polling), PAR, the device authorization,
//! revocation and introspection endpoints.
//!
//! oidc-provider checks every claim (`iss`, `sub`, `aud`, `exp`, `jti`) and
//! refuses a `jti` it has seen (replay detection), so a run of many requests
//! that all succeed is itself proof that no `jti` repeated.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::{
    Algorithm, AssertionAudience, Client, ClientAuth, ClientId, ClientSecret, DiscoveredProvider,
    Discovery, ErrorCode, Es256Signer, Flow, HttpRequest, Issuer, Scope, Step,
};
use grantflow_tests::provider::{ALICE, Provider, REDIRECT_URI};
use grantflow_ureq::{Error, Event, HttpClient, RsaSigner, drive, drive_observed, now, os_rng};
use serde_json::Value;

const ES256_PEM: &str = include_str!("../keys/es256.pem");
const RS256_PEM: &str = include_str!("../keys/rs256.pem");
const CSJWT_SECRET: &str = "csjwt-app-secret-0123456789abcdefghijkl";

fn discover(provider: &Provider) -> DiscoveredProvider {
    let issuer = Issuer::new(provider.issuer()).unwrap();
    drive(&HttpClient::new(), Discovery::openid(issuer)).unwrap()
}

/// The three JWT clients of `provider.mjs`, with the keys they registered.
fn es256(discovered: &DiscoveredProvider) -> Client {
    let signer = Es256Signer::from_pkcs8_pem(ES256_PEM)
        .unwrap()
        .with_key_id("client-es256");
    let auth = ClientAuth::private_key_jwt(signer, &mut os_rng());
    Client::from_provider(discovered, ClientId::new("pkjwt-es256"), auth)
}

fn rsa(discovered: &DiscoveredProvider, algorithm: Algorithm) -> Client {
    let signer = RsaSigner::from_pkcs8_pem(RS256_PEM, algorithm)
        .unwrap()
        .with_key_id("client-rs256");
    let auth = ClientAuth::private_key_jwt(signer, &mut os_rng());
    Client::from_provider(discovered, ClientId::new("pkjwt-rs256"), auth)
}

fn csjwt(discovered: &DiscoveredProvider) -> Client {
    let auth =
        ClientAuth::client_secret_jwt(ClientSecret::new(CSJWT_SECRET), &mut os_rng()).unwrap();
    Client::from_provider(discovered, ClientId::new("csjwt-app"), auth)
}

fn every_jwt_client(discovered: &DiscoveredProvider) -> Vec<(&'static str, Client)> {
    vec![
        ("private_key_jwt ES256", es256(discovered)),
        ("private_key_jwt RS256", rsa(discovered, Algorithm::Rs256)),
        ("private_key_jwt PS256", rsa(discovered, Algorithm::Ps256)),
        ("client_secret_jwt HS256", csjwt(discovered)),
    ]
}

/// A client assertion as sent: header, claims, the compact JWT.
type Assertion = (Value, Value, String);

/// The claims and header of the `client_assertion` in `request`'s body.
fn assertion_of(request: &HttpRequest) -> Assertion {
    let jwt = form_urlencoded::parse(request.body())
        .find(|(name, _)| name == "client_assertion")
        .map(|(_, value)| value.into_owned())
        .expect("the request carries a client assertion");
    let mut parts = jwt.split('.');
    let mut json = || -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap()
    };
    let header = json();
    let claims = json();
    (header, claims, jwt)
}

/// Runs `flow` and returns its result with the assertions it sent.
fn run<F: Flow>(flow: F) -> (Result<F::Output, Error>, Vec<Assertion>) {
    let mut sent = Vec::new();
    let result = drive_observed(&HttpClient::new(), flow, |event| {
        if let Event::Sending(request) = event {
            sent.push(assertion_of(request));
        }
    });
    (result, sent)
}

#[test]
fn every_jwt_method_gets_introspects_and_revokes_a_client_credentials_token() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    for (name, client) in every_jwt_client(&discovered) {
        let flow = client
            .client_credentials()
            .unwrap()
            .scope(Scope::new("api:read").unwrap());
        let (tokens, sent) = run(flow);
        let tokens = tokens.unwrap_or_else(|e| panic!("{name}: {e}"));
        let (header, claims, _) = &sent[0];
        let alg = name.rsplit(' ').next().unwrap();
        assert_eq!(header["alg"], alg, "{name}");
        assert_eq!(claims["iss"], client.client_id().as_str());
        assert_eq!(claims["sub"], client.client_id().as_str());
        assert_eq!(claims["aud"], provider.issuer());

        // Introspection and revocation authenticate the same way.
        let info = drive(
            &HttpClient::new(),
            client
                .introspect(tokens.access_token.secret(), None)
                .unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}: introspection: {e}"));
        assert!(info.active, "{name}");
        assert_eq!(
            info.client_id.unwrap().as_str(),
            client.client_id().as_str()
        );
        drive(
            &HttpClient::new(),
            client.revoke_access_token(&tokens.access_token).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}: revocation: {e}"));
        let info = drive(
            &HttpClient::new(),
            client
                .introspect(tokens.access_token.secret(), None)
                .unwrap(),
        )
        .unwrap();
        assert!(!info.active, "{name}: revoked");
    }
}

#[test]
fn every_jwt_method_signs_in_refreshes_and_pushes() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    for (name, client) in every_jwt_client(&discovered) {
        // A pushed authorization request (RFC 9126 §2.1) authenticates too.
        let push = client
            .sign_in(REDIRECT_URI)
            .unwrap()
            .scopes(["email", "offline_access"].map(|s| Scope::new(s).unwrap()))
            // oidc-provider grants offline_access only with prompt=consent.
            .prompt("consent")
            .push(&mut os_rng(), now())
            .unwrap();
        let (pushed, sent) = run(push);
        let (url, pending) = pushed.unwrap_or_else(|e| panic!("{name}: par: {e}"));
        assert_eq!(sent.len(), 1);
        let location = provider.login(url.as_str(), ALICE).unwrap();
        let exchange = pending.callback(&client, &location, now()).unwrap();
        let sign_in = drive(&HttpClient::new(), exchange)
            .unwrap_or_else(|e| panic!("{name}: code exchange: {e}"));
        assert_eq!(sign_in.id_token.subject(), "alice");
        let refresh_token = sign_in
            .tokens
            .refresh_token
            .clone()
            .expect("offline_access");
        let refreshed = drive(&HttpClient::new(), client.refresh(&refresh_token).unwrap())
            .unwrap_or_else(|e| panic!("{name}: refresh: {e}"));
        assert_ne!(
            refreshed.tokens.access_token.secret(),
            sign_in.tokens.access_token.secret()
        );
    }
}

#[test]
fn the_device_authorization_endpoint_takes_jwt_auth() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    for (name, client) in every_jwt_client(&discovered) {
        let (authorization, sent) = run(client.device_authorization().unwrap());
        let authorization = authorization.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!authorization.user_code().is_empty(), "{name}");
        assert_eq!(sent.len(), 1);
        // The first poll authenticates at the token endpoint: still pending.
        let mut poll = authorization.poll();
        let mut at = now();
        let mut step = poll.start(at).unwrap();
        let request = loop {
            match step {
                Step::Send(request) => break request,
                Step::WaitUntil(deadline) => {
                    at = deadline;
                    step = poll.handle_timeout(at).unwrap();
                }
                Step::Done(_) => panic!("{name}: done before approval"),
            }
        };
        let response = HttpClient::new().send(request).unwrap();
        // authorization_pending is handled inside the flow: it waits again.
        assert!(matches!(
            poll.handle_response(response, at).unwrap(),
            Step::WaitUntil(_)
        ));
    }
}

#[test]
fn every_audience_choice_is_accepted() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    for (audience, expected) in [
        (AssertionAudience::Issuer, provider.issuer().to_owned()),
        (AssertionAudience::TokenEndpoint, provider.token_endpoint()),
        (
            AssertionAudience::Endpoint,
            provider.introspection_endpoint(),
        ),
    ] {
        let client = es256(&discovered).with_assertion_audience(audience);
        let (tokens, _) = run(client.client_credentials().unwrap());
        let tokens = tokens.unwrap_or_else(|e| panic!("{audience:?}: {e}"));
        let (info, sent) = run(client
            .introspect(tokens.access_token.secret(), None)
            .unwrap());
        assert!(info.unwrap().active, "{audience:?}");
        assert_eq!(sent[0].1["aud"], expected.as_str(), "{audience:?}");
    }
}

#[test]
fn many_requests_never_repeat_a_jti() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = es256(&discovered);
    let mut seen = HashSet::new();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| {
                        let (tokens, sent) = run(client.client_credentials().unwrap());
                        // The provider refuses a jti it has seen (replay detection).
                        tokens.unwrap();
                        sent[0].1["jti"].as_str().unwrap().to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for thread in threads {
        for jti in thread.join().unwrap() {
            assert!(seen.insert(jti), "a jti repeated");
        }
    }
    assert_eq!(seen.len(), 100);
}

#[test]
fn a_replayed_assertion_is_refused() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = csjwt(&discovered);
    let mut flow = client.client_credentials().unwrap();
    let Step::Send(request) = flow.start(now()).unwrap() else {
        panic!("expected the token request")
    };
    let copy = {
        let mut copy = http::Request::new(request.body().clone());
        *copy.method_mut() = request.method().clone();
        *copy.uri_mut() = request.uri().clone();
        *copy.headers_mut() = request.headers().clone();
        copy
    };
    let first = HttpClient::new().send(request).unwrap();
    assert!(matches!(
        flow.handle_response(first, now()).unwrap(),
        Step::Done(_)
    ));
    // The same assertion again: refused by the provider's replay detection.
    let replayed = HttpClient::new().send(copy).unwrap();
    assert_eq!(replayed.status(), 401);
    let body: Value = serde_json::from_slice(replayed.body()).unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[test]
fn a_wrong_key_is_invalid_client() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    // pkjwt-es256 registered es256.pem's key, not this one.
    let signer = Es256Signer::from_secret_scalar(&[7; 32])
        .unwrap()
        .with_key_id("client-es256");
    let auth = ClientAuth::private_key_jwt(signer, &mut os_rng());
    let client = Client::from_provider(&discovered, ClientId::new("pkjwt-es256"), auth);
    match drive(&HttpClient::new(), client.client_credentials().unwrap()) {
        Err(Error::Flow(grantflow::Error::OAuth(error))) => {
            assert_eq!(error.error, ErrorCode::InvalidClient);
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
}
