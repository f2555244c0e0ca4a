//! The refresh token grant (RFC 6749 §6) with canned responses in fake time:
//! the request, rotation, narrowed scopes, the refreshed ID token held to the
//! original identity (OIDC Core §12.2), key rotation, and the flow contract.

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::testing::{drive, json_response, jwk_set, jwks_json, sign_jwt, test_signer};
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Error, ErrorCode, Flow, HttpRequest,
    IdTokenError, IdTokenPolicy, Identity, Issuer, RefreshToken, Refreshed, Rotation, Scope, Step,
    UnixTime,
};
use serde_json::{Value, json};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://op.example.com";

fn plain_client(auth: ClientAuth) -> Client {
    Client::new(ClientId::new("web-app"), auth)
        .with_token_endpoint(EndpointUrl::parse("https://op.example.com/token").unwrap())
}

/// An OpenID client that trusts the key of `test_signer(1, "k1")`.
fn oidc_client() -> Client {
    plain_client(ClientAuth::ClientSecretBasic(ClientSecret::new("s3cr3t")))
        .with_issuer(Issuer::new(ISSUER).unwrap())
        .with_id_token_policy(
            IdTokenPolicy::default().with_algorithms([grantflow::Algorithm::EdDsa]),
        )
        .with_jwks(jwk_set(&[&test_signer(1, "k1")]).unwrap())
}

fn identity() -> Identity {
    Identity::new(ISSUER, "alice", ["web-app".to_owned()])
        .with_auth_time(UnixTime::from_secs(1_799_999_000))
}

/// `at_hash` of `access_token` for an EdDSA (Ed25519: SHA-512) ID token.
fn at_hash(access_token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA512, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..32])
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "alice", "aud": "web-app",
        "iat": NOW.as_secs(), "exp": NOW.as_secs() + 600,
        "auth_time": 1_799_999_000u64,
        "at_hash": at_hash("new-access"),
    })
}

fn token_body(
    id_token: Option<String>,
    refresh_token: Option<&str>,
    scope: Option<&str>,
) -> String {
    let mut body =
        json!({"access_token": "new-access", "token_type": "Bearer", "expires_in": 3600});
    if let Some(id_token) = id_token {
        body["id_token"] = Value::String(id_token);
    }
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = Value::String(refresh_token.to_owned());
    }
    if let Some(scope) = scope {
        body["scope"] = Value::String(scope.to_owned());
    }
    body.to_string()
}

fn form(request: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.body())
        .into_owned()
        .collect()
}

fn run(flow: grantflow::Refresh, body: String) -> Result<Refreshed, Error> {
    drive(flow, NOW, move |_| json_response(200, body.clone()))
}

#[test]
fn request_is_an_authenticated_refresh_token_grant() {
    let client = plain_client(ClientAuth::ClientSecretBasic(ClientSecret::new("s3cr3t")));
    let mut flow = client
        .refresh(&RefreshToken::new("r&t=1"))
        .unwrap()
        .scope(Scope::new("read").unwrap())
        .scope(Scope::new("write").unwrap())
        .resource(url::Url::parse("https://api.example.com/").unwrap());
    let Step::Send(request) = flow.start(NOW).unwrap() else {
        panic!("a refresh starts with its request")
    };
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), "https://op.example.com/token");
    assert!(
        request.headers()["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(request.headers()["accept"], "application/json");
    assert_eq!(
        form(&request),
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", "r&t=1"),
            ("scope", "read write"),
            ("resource", "https://api.example.com/"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[test]
fn public_clients_send_their_id() {
    let client = plain_client(ClientAuth::None);
    let mut flow = client.refresh(&RefreshToken::new("rt")).unwrap();
    let Step::Send(request) = flow.start(NOW).unwrap() else {
        panic!("a refresh starts with its request")
    };
    assert!(request.headers().get("authorization").is_none());
    assert_eq!(
        form(&request),
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt"),
            ("client_id", "web-app"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[test]
fn reserved_parameters_are_refused() {
    let client = plain_client(ClientAuth::None);
    for name in ["grant_type", "refresh_token", "scope", "client_id"] {
        let mut flow = client
            .refresh(&RefreshToken::new("rt"))
            .unwrap()
            .param(name, "x");
        assert_eq!(
            flow.start(NOW).unwrap_err(),
            Error::ReservedParameter {
                name: name.to_owned()
            }
        );
    }
}

#[test]
fn a_returned_refresh_token_replaces_the_old_one() {
    let client = plain_client(ClientAuth::None);
    let flow = client.refresh(&RefreshToken::new("old")).unwrap();
    let refreshed = run(flow, token_body(None, Some("rotated"), None)).unwrap();
    assert_eq!(refreshed.rotation, Rotation::Rotated);
    assert_eq!(
        refreshed.tokens.refresh_token.as_ref().unwrap().secret(),
        "rotated"
    );
    assert_eq!(refreshed.tokens.access_token.secret(), "new-access");
    assert_eq!(
        refreshed.tokens.expires_at,
        Some(NOW.saturating_add_secs(3600))
    );
}

#[test]
fn without_a_returned_refresh_token_the_old_one_is_kept() {
    let client = plain_client(ClientAuth::None);
    let flow = client.refresh(&RefreshToken::new("old")).unwrap();
    let refreshed = run(flow, token_body(None, None, None)).unwrap();
    assert_eq!(refreshed.rotation, Rotation::Kept);
    assert_eq!(
        refreshed.tokens.refresh_token.as_ref().unwrap().secret(),
        "old"
    );
}

#[test]
fn the_same_refresh_token_echoed_back_is_not_a_rotation() {
    let client = plain_client(ClientAuth::None);
    let flow = client.refresh(&RefreshToken::new("old")).unwrap();
    let refreshed = run(flow, token_body(None, Some("old"), None)).unwrap();
    assert_eq!(refreshed.rotation, Rotation::Kept);
    assert_eq!(
        refreshed.tokens.refresh_token.as_ref().unwrap().secret(),
        "old"
    );
}

#[test]
fn narrower_scopes_are_reported_never_filled_in() {
    let client = plain_client(ClientAuth::None);
    let ask = || {
        client
            .refresh(&RefreshToken::new("rt"))
            .unwrap()
            .scopes([Scope::new("read").unwrap(), Scope::new("write").unwrap()])
    };
    let narrowed = run(ask(), token_body(None, None, Some("read"))).unwrap();
    assert_eq!(narrowed.missing_scopes, [Scope::new("write").unwrap()]);
    assert_eq!(
        narrowed.tokens.scopes,
        Some(vec![Scope::new("read").unwrap()])
    );

    let silent = run(ask(), token_body(None, None, None)).unwrap();
    assert!(silent.missing_scopes.is_empty());
    assert_eq!(silent.tokens.scopes, None);
}

#[test]
fn a_token_type_echoing_the_refresh_token_is_withheld() {
    // Found by the `refresh_flow` fuzz target: a server that names the
    // refresh token it was sent (short or long) as the token type had it
    // quoted in `UnsupportedTokenType`.
    for sent in ["rt-9", "old-refresh-token-Kp2"] {
        let client = plain_client(ClientAuth::None);
        let flow = client.refresh(&RefreshToken::new(sent)).unwrap();
        let body = format!(r#"{{"access_token":"at","token_type":"x{sent}\u0000"}}"#);
        let error = run(flow, body).unwrap_err();
        let Error::UnsupportedTokenType { token_type } = &error else {
            panic!("{error:?}")
        };
        assert!(token_type.starts_with("<withheld"), "{token_type}");
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains(sent), "{shown}");
        }
    }
}

#[test]
fn invalid_grant_is_a_typed_refusal() {
    let client = plain_client(ClientAuth::None);
    let flow = client.refresh(&RefreshToken::new("used")).unwrap();
    let error = drive(flow, NOW, |_| {
        json_response(
            400,
            r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
        )
    })
    .unwrap_err();
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidGrant));
    assert_eq!(error.kind(), grantflow::ErrorKind::Refused);
}

#[test]
fn a_refreshed_id_token_of_the_same_user_is_validated_without_a_nonce() {
    let signer = test_signer(1, "k1");
    let flow = oidc_client()
        .refresh(&RefreshToken::new("rt"))
        .unwrap()
        .identity(identity());
    let id_token = sign_jwt(&signer, &claims()).unwrap();
    let refreshed = run(flow, token_body(Some(id_token), None, None)).unwrap();
    let id_token = refreshed.id_token.expect("the id token was validated");
    assert_eq!(id_token.subject(), "alice");
    assert_eq!(id_token.claims().nonce, None);
}

#[test]
fn a_refreshed_id_token_that_changes_identity_is_refused() {
    let signer = test_signer(1, "k1");
    let cases: [(&str, Value); 5] = [
        ("sub", json!("mallory")),
        ("aud", json!(["web-app", "other-app"])),
        ("azp", json!("web-app")),
        ("auth_time", json!(1_799_999_500u64)),
        ("iss", json!("https://evil.example.com")),
    ];
    for (claim, value) in cases {
        let mut claims = claims();
        claims[claim] = value;
        let flow = oidc_client()
            .refresh(&RefreshToken::new("rt"))
            .unwrap()
            .identity(identity());
        let error = run(
            flow,
            token_body(Some(sign_jwt(&signer, &claims).unwrap()), None, None),
        )
        .unwrap_err();
        match (claim, &error) {
            // A foreign issuer fails the §3.1.3.7 check before §12.2's.
            ("iss", Error::IdToken(IdTokenError::IssuerMismatch { .. })) => {}
            ("aud", Error::IdToken(IdTokenError::UntrustedAudience { .. })) => {}
            (_, Error::IdToken(IdTokenError::ChangedOnRefresh { claim: changed })) => {
                assert_eq!(*changed, claim)
            }
            _ => panic!("{claim}: unexpected {error:?}"),
        }
    }
}

#[test]
fn a_refreshed_id_token_older_than_the_last_one_is_refused() {
    let signer = test_signer(1, "k1");
    let mut identity = identity();
    identity.issued_at = Some(NOW.saturating_add_secs(1));
    let flow = oidc_client()
        .refresh(&RefreshToken::new("rt"))
        .unwrap()
        .identity(identity.clone());
    let error = run(
        flow,
        token_body(Some(sign_jwt(&signer, &claims()).unwrap()), None, None),
    )
    .unwrap_err();
    assert_eq!(
        error,
        Error::IdToken(IdTokenError::ChangedOnRefresh { claim: "iat" })
    );
    // Issued in the same second as the last one: accepted.
    identity.issued_at = Some(NOW);
    let flow = oidc_client()
        .refresh(&RefreshToken::new("rt"))
        .unwrap()
        .identity(identity);
    assert!(
        run(
            flow,
            token_body(Some(sign_jwt(&signer, &claims()).unwrap()), None, None)
        )
        .is_ok()
    );
}

#[test]
fn an_audience_that_only_reorders_is_the_same_audience() {
    let signer = test_signer(1, "k1");
    let identity = Identity::new(ISSUER, "alice", ["web-app".to_owned(), "api".to_owned()])
        .with_authorized_party("web-app")
        .with_auth_time(UnixTime::from_secs(1_799_999_000));
    let mut claims = claims();
    claims["aud"] = json!(["api", "web-app"]);
    claims["azp"] = json!("web-app");
    let client = oidc_client().with_id_token_policy(
        IdTokenPolicy::default()
            .with_algorithms([grantflow::Algorithm::EdDsa])
            .with_trusted_audience("api"),
    );
    let flow = client
        .refresh(&RefreshToken::new("rt"))
        .unwrap()
        .identity(identity);
    let refreshed = run(
        flow,
        token_body(Some(sign_jwt(&signer, &claims).unwrap()), None, None),
    );
    assert!(refreshed.unwrap().id_token.is_some());
}

#[test]
fn a_refreshed_id_token_with_a_wrong_at_hash_is_refused() {
    let signer = test_signer(1, "k1");
    let mut claims = claims();
    claims["at_hash"] = json!(at_hash("another-access-token"));
    let flow = oidc_client()
        .refresh(&RefreshToken::new("rt"))
        .unwrap()
        .identity(identity());
    let error = run(
        flow,
        token_body(Some(sign_jwt(&signer, &claims).unwrap()), None, None),
    )
    .unwrap_err();
    assert_eq!(error, Error::IdToken(IdTokenError::AccessTokenHashMismatch));
}

#[test]
fn an_unknown_kid_fetches_the_keys_once_more() {
    let rotated = test_signer(2, "k2");
    let client =
        oidc_client().with_jwks_uri(EndpointUrl::parse("https://op.example.com/jwks").unwrap());
    let flow = client
        .refresh(&RefreshToken::new("rt"))
        .unwrap()
        .identity(identity());
    let id_token = sign_jwt(&rotated, &claims()).unwrap();
    let body = token_body(Some(id_token), None, None);
    let mut requests = Vec::new();
    let refreshed = drive(flow, NOW, |request| {
        requests.push(request.uri().to_string());
        if request.uri().path() == "/jwks" {
            json_response(200, jwks_json(&[&rotated]))
        } else {
            json_response(200, body.clone())
        }
    })
    .unwrap();
    assert!(refreshed.id_token.is_some());
    assert_eq!(
        requests,
        [
            "https://op.example.com/token",
            "https://op.example.com/jwks"
        ]
    );
}

#[test]
fn a_plain_oauth_client_keeps_an_id_token_raw() {
    let client = plain_client(ClientAuth::None);
    let flow = client.refresh(&RefreshToken::new("rt")).unwrap();
    let refreshed = run(flow, token_body(Some("not.a.jwt".to_owned()), None, None)).unwrap();
    assert!(refreshed.id_token.is_none());
    assert_eq!(refreshed.tokens.id_token.unwrap().as_str(), "not.a.jwt");
}

#[test]
fn an_identity_needs_a_client_with_an_issuer() {
    let client = plain_client(ClientAuth::None);
    let flow = client
        .refresh(&RefreshToken::new("rt"))
        .unwrap()
        .identity(identity());
    let error = run(flow, token_body(Some("a.b.c".to_owned()), None, None)).unwrap_err();
    assert_eq!(error, Error::IssuerNotConfigured);
}

#[test]
fn every_call_after_an_error_or_the_end_is_refused() {
    let client = plain_client(ClientAuth::None);
    let mut flow = client.refresh(&RefreshToken::new("rt")).unwrap();
    let _request = flow.start(NOW).unwrap();
    flow.handle_response(json_response(400, r#"{"error":"invalid_grant"}"#), NOW)
        .unwrap_err();
    for result in [
        flow.start(NOW),
        flow.handle_response(json_response(200, token_body(None, None, None)), NOW),
        flow.handle_timeout(NOW),
    ] {
        assert!(matches!(
            result.unwrap_err(),
            Error::UnexpectedCall {
                flow: "refresh",
                ..
            }
        ));
    }
    let mut flow = client.refresh(&RefreshToken::new("rt")).unwrap();
    assert!(matches!(
        flow.handle_response(json_response(200, "{}"), NOW),
        Err(Error::UnexpectedCall { .. })
    ));
}

#[test]
fn debug_never_shows_the_refresh_token() {
    let client = plain_client(ClientAuth::ClientSecretPost(ClientSecret::new("s3cr3t")));
    let mut flow = client
        .refresh(&RefreshToken::new("very-secret-rt"))
        .unwrap();
    let step = flow.start(NOW).unwrap();
    for text in [
        format!("{flow:?}"),
        format!("{flow:#?}"),
        format!("{step:?}"),
    ] {
        assert!(!text.contains("very-secret-rt"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
    let refreshed = run(
        client
            .refresh(&RefreshToken::new("very-secret-rt"))
            .unwrap(),
        token_body(None, None, None),
    )
    .unwrap();
    let text = format!("{refreshed:?}");
    assert!(
        !text.contains("very-secret-rt") && !text.contains("new-access"),
        "{text}"
    );
}

#[test]
fn a_client_without_a_token_endpoint_cannot_refresh() {
    let client = Client::new(ClientId::new("x"), ClientAuth::None);
    assert_eq!(
        client.refresh(&RefreshToken::new("rt")).unwrap_err(),
        Error::MissingEndpoint {
            endpoint: "token_endpoint"
        }
    );
}

#[test]
fn a_refreshed_id_token_with_an_added_trusted_audience_is_refused() {
    let signer = test_signer(1, "k1");
    let mut claims = claims();
    claims["aud"] = json!(["web-app", "api"]);
    claims["azp"] = json!("web-app");
    let client = oidc_client().with_id_token_policy(
        IdTokenPolicy::default()
            .with_algorithms([grantflow::Algorithm::EdDsa])
            .with_trusted_audience("api"),
    );
    let identity = identity().with_authorized_party("web-app");
    let flow = client
        .refresh(&RefreshToken::new("rt"))
        .unwrap()
        .identity(identity);
    let error = run(
        flow,
        token_body(Some(sign_jwt(&signer, &claims).unwrap()), None, None),
    )
    .unwrap_err();
    assert_eq!(
        error,
        Error::IdToken(IdTokenError::ChangedOnRefresh { claim: "aud" })
    );
}

#[test]
fn an_id_token_quoting_the_refresh_token_or_the_client_secret_is_withheld() {
    // The ID token check quotes the `iss` and an untrusted audience it
    // refuses: a server echoing a secret the request carried there must not
    // have it shown.
    let signer = test_signer(1, "k1");
    for secret in ["old-refresh-token-Kp2", "s3cr3t"] {
        for (claim, value) in [
            ("iss", json!(format!("https://{secret}.example"))),
            ("aud", json!(["web-app", format!("x{secret}")])),
        ] {
            let mut claims = claims();
            claims[claim] = value;
            let flow = oidc_client()
                .refresh(&RefreshToken::new("old-refresh-token-Kp2"))
                .unwrap();
            let error = run(
                flow,
                token_body(Some(sign_jwt(&signer, &claims).unwrap()), None, None),
            )
            .unwrap_err();
            assert!(matches!(error, Error::IdToken(_)), "{error:?}");
            for shown in [error.to_string(), format!("{error:?}")] {
                assert!(!shown.contains(secret), "{claim}: {shown}");
            }
        }
    }
}
