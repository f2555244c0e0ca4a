//! DPoP (RFC 9449) end to end against the bundled provider, which requires a
//! server nonce in every proof (`features.dPoP.requireNonce` in
//! `provider.mjs`): so every first request of a key is answered with
//! `use_dpop_nonce`, and the flow's one retry with the nonce is what makes
//! the request succeed.
//!
//! Covered: DPoP-bound tokens from the code exchange (a sign-in) and from a
//! refresh, from client credentials with `private_key_jwt`, UserInfo with a
//! DPoP-bound token (the resource server's `WWW-Authenticate: DPoP
//! error="use_dpop_nonce"` met by the retry), the provider refusing a bound
//! token presented as `Bearer`, and a replayed proof refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, DiscoveredProvider, Discovery, DpopKey,
    Ed25519Signer, Es256Signer, Flow, HttpRequest, Issuer, Scope, Step, TokenType,
};
use grantflow_tests::provider::{ALICE, Provider, REDIRECT_URI, WEB_APP};
use grantflow_ureq::{Event, HttpClient, drive, drive_observed, now, os_rng};
use serde_json::Value;

const ES256_PEM: &str = include_str!("../keys/es256.pem");
const ED25519_PEM: &str = include_str!("../keys/ed25519.pem");

fn discover(provider: &Provider) -> DiscoveredProvider {
    let issuer = Issuer::new(provider.issuer()).unwrap();
    drive(&HttpClient::new(), Discovery::openid(issuer)).unwrap()
}

/// A fresh DPoP key (its own nonce memory) on the checked-in P-256 key.
fn es256_key() -> DpopKey {
    DpopKey::new(
        Es256Signer::from_pkcs8_pem(ES256_PEM).unwrap(),
        &mut os_rng(),
    )
    .unwrap()
}

fn web_app(discovered: &DiscoveredProvider, key: DpopKey) -> Client {
    let auth = ClientAuth::ClientSecretBasic(ClientSecret::new(WEB_APP.secret.unwrap()));
    Client::from_provider(discovered, ClientId::new(WEB_APP.id), auth).with_dpop(key)
}

/// The claims of the DPoP proof in `request`, if it has one.
fn proof_claims(request: &HttpRequest) -> Option<Value> {
    let proof = request.headers().get("dpop")?.to_str().unwrap();
    let claims = proof.split('.').nth(1).unwrap();
    Some(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap())
}

/// Runs `flow`, returning its output and the DPoP proof claims it sent.
fn run<F: Flow>(flow: F) -> (F::Output, Vec<Option<Value>>) {
    let mut proofs = Vec::new();
    let output = drive_observed(&HttpClient::new(), flow, |event| {
        if let Event::Sending(request) = event {
            proofs.push(proof_claims(request));
        }
    })
    .unwrap_or_else(|e| panic!("the flow failed: {e}"));
    (output, proofs)
}

/// Signs alice in with `client` (offline_access, so a refresh token comes too).
fn sign_in(provider: &Provider, client: &Client) -> (grantflow::SignIn, Vec<Option<Value>>) {
    let (url, pending) = client
        .sign_in(REDIRECT_URI)
        .unwrap()
        .scopes(["email", "offline_access"].map(|s| Scope::new(s).unwrap()))
        .prompt("consent")
        .begin(&mut os_rng(), now())
        .unwrap();
    let location = provider.login(url.as_str(), ALICE).unwrap();
    run(pending.callback(client, &location, now()).unwrap())
}

#[test]
fn code_exchange_refresh_and_userinfo_with_dpop_and_the_nonce_retry() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = web_app(&discovered, es256_key());

    // The code exchange: the first proof has no nonce and is refused with
    // use_dpop_nonce; the retry carries the nonce and gets a bound token.
    let (sign_in, proofs) = sign_in(provider, &client);
    let token_proofs: Vec<&Value> = proofs.iter().flatten().collect();
    assert_eq!(
        token_proofs.len(),
        2,
        "one refused proof, one retry: {proofs:?}"
    );
    assert!(token_proofs[0].get("nonce").is_none());
    assert!(token_proofs[1]["nonce"].is_string());
    assert_eq!(token_proofs[1]["htm"], "POST");
    assert_eq!(token_proofs[1]["htu"], provider.token_endpoint());
    assert_ne!(token_proofs[0]["jti"], token_proofs[1]["jti"]);
    assert_eq!(sign_in.tokens.token_type, TokenType::DPoP);
    assert_eq!(sign_in.id_token.subject(), "alice");

    // The refresh reuses the remembered nonce: no second round trip.
    let refresh_token = sign_in.tokens.refresh_token.clone().unwrap();
    let (refreshed, proofs) = run(client.refresh(&refresh_token).unwrap());
    assert_eq!(proofs.len(), 1, "the nonce was remembered: {proofs:?}");
    assert!(proofs[0].as_ref().unwrap()["nonce"].is_string());
    assert_eq!(refreshed.tokens.token_type, TokenType::DPoP);

    // UserInfo with the bound token: `Authorization: DPoP` and a proof with ath.
    let (user, proofs) = run(client
        .userinfo(&refreshed.tokens, &sign_in.id_token)
        .unwrap());
    assert_eq!(user.sub, "alice");
    let proof = proofs.last().unwrap().as_ref().unwrap();
    assert_eq!(proof["htm"], "GET");
    assert_eq!(proof["htu"], provider.userinfo_endpoint());
    assert!(proof["ath"].is_string());

    // The same key with no nonce in memory: the resource server challenges
    // (WWW-Authenticate: DPoP error="use_dpop_nonce") and the retry meets it.
    let forgetful = web_app(&discovered, es256_key());
    let (user, proofs) = run(forgetful
        .userinfo(&refreshed.tokens, &sign_in.id_token)
        .unwrap());
    assert_eq!(user.sub, "alice");
    assert_eq!(proofs.len(), 2, "one challenge, one retry: {proofs:?}");
    assert!(proofs[0].as_ref().unwrap().get("nonce").is_none());
    assert!(proofs[1].as_ref().unwrap()["nonce"].is_string());
}

#[test]
fn a_bound_token_is_useless_as_bearer_and_a_replayed_proof_is_refused() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = web_app(&discovered, es256_key());
    let (sign_in, _) = sign_in(provider, &client);
    let token = sign_in.tokens.access_token.secret().to_owned();
    let http = HttpClient::new();

    // As a Bearer token, without the proof: refused.
    let bearer = http::Request::get(provider.userinfo_endpoint())
        .header("authorization", format!("Bearer {token}"))
        .body(Vec::new())
        .unwrap();
    assert_eq!(http.send(bearer).unwrap().status(), 401);

    // The helper's headers work once...
    let uri: http::Uri = provider.userinfo_endpoint().parse().unwrap();
    let (authorization, proof) = client
        .dpop_resource_headers(&http::Method::GET, &uri, &token, now())
        .unwrap();
    let request = || {
        http::Request::get(provider.userinfo_endpoint())
            .header("authorization", authorization.clone())
            .header("dpop", proof.clone())
            .body(Vec::new())
            .unwrap()
    };
    let first = http.send(request()).unwrap();
    assert_eq!(
        first.status(),
        200,
        "{:?}",
        String::from_utf8_lossy(first.body())
    );
    assert!(!client.dpop_resource_challenge(&uri, &first));
    // ...and the same proof again is a replay (its jti was seen).
    let replayed = http.send(request()).unwrap();
    assert_eq!(replayed.status(), 401);
    let challenge = replayed.headers()["www-authenticate"].to_str().unwrap();
    // oidc-provider words every refusal at UserInfo as invalid_token.
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    // A fresh proof for the same token still works: only the replay was refused.
    let (authorization, proof) = client
        .dpop_resource_headers(&http::Method::GET, &uri, &token, now())
        .unwrap();
    let fresh = http::Request::get(provider.userinfo_endpoint())
        .header("authorization", authorization)
        .header("dpop", proof)
        .body(Vec::new())
        .unwrap();
    assert_eq!(http.send(fresh).unwrap().status(), 200);
}

#[test]
fn client_credentials_with_private_key_jwt_and_an_ed25519_dpop_key() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let assertion_key = Es256Signer::from_pkcs8_pem(ES256_PEM)
        .unwrap()
        .with_key_id("client-es256");
    let dpop = DpopKey::new(
        Ed25519Signer::from_pkcs8_pem(ED25519_PEM).unwrap(),
        &mut os_rng(),
    )
    .unwrap();
    let client = Client::from_provider(
        &discovered,
        ClientId::new("pkjwt-es256"),
        ClientAuth::private_key_jwt(assertion_key, &mut os_rng()),
    )
    .with_dpop(dpop);
    let flow = client
        .client_credentials()
        .unwrap()
        .scope(Scope::new("api:read").unwrap());
    let (tokens, proofs) = run(flow);
    assert_eq!(proofs.len(), 2, "the nonce retry: {proofs:?}");
    assert_eq!(tokens.token_type, TokenType::DPoP);
    // The introspected token is bound to the key (RFC 9449 §6.2: cnf.jkt).
    let info = drive(
        &HttpClient::new(),
        client
            .introspect(tokens.access_token.secret(), None)
            .unwrap(),
    )
    .unwrap();
    assert!(info.active);
    assert_eq!(info.token_type, Some(TokenType::DPoP));
    // The provider's own thumbprint of the key (cnf.jkt, computed by the
    // `jose` library) is the one grantflow computes (RFC 7638).
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", tokens.access_token.secret())
        .append_pair("client_id", "cc-post")
        .append_pair("client_secret", "cc-post-secret-0123456789abcdefgh")
        .finish();
    let mut response = grantflow_tests::provider::agent()
        .post(provider.introspection_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .send(body)
        .unwrap();
    let raw: Value = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(
        raw["cnf"]["jkt"].as_str(),
        client.dpop().unwrap().thumbprint().as_deref(),
        "{raw}"
    );
}

#[test]
fn dpop_jkt_binds_the_code_to_the_key() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let key = es256_key();
    let jkt = key.thumbprint().unwrap();
    let client = web_app(&discovered, key);
    let begin = |client: &Client| {
        client
            .sign_in(REDIRECT_URI)
            .unwrap()
            .param("dpop_jkt", jkt.clone())
            .begin(&mut os_rng(), now())
            .unwrap()
    };
    // The code goes to the key whose thumbprint the request named.
    let (url, pending) = begin(&client);
    let location = provider.login(url.as_str(), ALICE).unwrap();
    let (sign_in, _) = run(pending.callback(&client, &location, now()).unwrap());
    assert_eq!(sign_in.tokens.token_type, TokenType::DPoP);
    // Another key cannot redeem such a code.
    let other = web_app(
        &discovered,
        DpopKey::new(Ed25519Signer::from_seed(&[1; 32]).unwrap(), &mut os_rng()).unwrap(),
    );
    let (url, pending) = begin(&other);
    let location = provider.login(url.as_str(), ALICE).unwrap();
    let exchange = pending.callback(&other, &location, now()).unwrap();
    match drive(&HttpClient::new(), exchange) {
        Err(grantflow_ureq::Error::Flow(grantflow::Error::OAuth(error))) => {
            assert_eq!(error.error, grantflow::ErrorCode::InvalidGrant, "{error}");
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[test]
fn many_proofs_never_repeat_a_jti() {
    let provider = Provider::shared();
    let discovered = discover(provider);
    let client = web_app(&discovered, es256_key());
    let (sign_in, _) = sign_in(provider, &client);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        let mut flow = client.userinfo(&sign_in.tokens, &sign_in.id_token).unwrap();
        let mut step = flow.start(now()).unwrap();
        loop {
            match step {
                Step::Send(request) => {
                    let jti = proof_claims(&request).unwrap()["jti"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    assert!(seen.insert(jti), "a jti repeated");
                    // The provider refuses a replayed jti, so success proves it too.
                    let response = HttpClient::new().send(request).unwrap();
                    step = flow.handle_response(response, now()).unwrap();
                }
                Step::Done(user) => {
                    assert_eq!(user.sub, "alice");
                    break;
                }
                Step::WaitUntil(_) => panic!("userinfo never waits"),
            }
        }
    }
    assert!(seen.len() >= 40);
}

#[test]
fn the_ureq_middleware_sends_dpop_tokens_and_meets_the_nonce_challenge() {
    use grantflow::Session;
    use grantflow_ureq::{BearerAuth, TokenSource};

    let provider = Provider::shared();
    let discovered = discover(provider);
    let (sign_in, _) = sign_in(provider, &web_app(&discovered, es256_key()));
    // A client with the same key but no nonce in memory: the provider's
    // UserInfo endpoint (a resource server) challenges its first proof.
    let client = web_app(&discovered, es256_key());
    let source = TokenSource::new(Session::from_sign_in(&sign_in), client, HttpClient::new());
    let api = grantflow::EndpointUrl::parse(&provider.userinfo_endpoint()).unwrap();
    let agent = BearerAuth::new(source, &api).agent();
    let mut response = agent.get(provider.userinfo_endpoint()).call().unwrap();
    assert_eq!(response.status(), 200);
    let user: Value = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(user["sub"], "alice");
    // The nonce is remembered: the next call needs no retry (and succeeds).
    let response = agent.get(provider.userinfo_endpoint()).call().unwrap();
    assert_eq!(response.status(), 200);
}
