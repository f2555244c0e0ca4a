//! Provider discovery (OIDC Discovery 1.0, RFC 8414) as a flow: the requests
//! it emits, the documents it accepts, and every way it refuses one. Canned
//! responses, fake time; the OpenID RP conformance tests
//! `rp-discovery-issuer-not-matching-config` and `rp-discovery-jwks_uri-keys`
//! are played here.

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantflow::testing::response;
use grantflow::{
    DiscoveredProvider, Discovery, Error, ErrorCode, Flow, HttpRequest, HttpResponse, Issuer,
    ProviderMetadata, Step, UnixTime,
};
use serde_json::{Value, json};

const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);
const LATER: UnixTime = UnixTime::from_secs(1_700_000_002);
const ISSUER: &str = "https://server.example.com";
const WELL_KNOWN: &str = "https://server.example.com/.well-known/openid-configuration";
const JWKS_URI: &str = "https://server.example.com/jwks.json";

/// RFC 7517 Appendix A.1, the example public key set.
const RFC7517_A1_JWKS: &str = r#"{"keys":
  [
    {"kty":"EC",
     "crv":"P-256",
     "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
     "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
     "use":"enc",
     "kid":"1"},

    {"kty":"RSA",
     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
     "e":"AQAB",
     "alg":"RS256",
     "kid":"2011-04-29"}
  ]
}"#;

fn issuer() -> Issuer {
    Issuer::new(ISSUER).unwrap()
}

/// An OpenID provider configuration in the shape of OIDC Discovery §4.2's
/// example, for `https://server.example.com`.
fn openid_configuration() -> Value {
    json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://server.example.com/connect/authorize",
        "token_endpoint": "https://server.example.com/connect/token",
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "userinfo_endpoint": "https://server.example.com/connect/userinfo",
        "check_session_iframe": "https://server.example.com/connect/check_session",
        "end_session_endpoint": "https://server.example.com/connect/end_session",
        "jwks_uri": JWKS_URI,
        "registration_endpoint": "https://server.example.com/connect/register",
        "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
        "response_types_supported": ["code", "code id_token", "id_token", "id_token token"],
        "acr_values_supported": ["urn:mace:incommon:iap:silver", "urn:mace:incommon:iap:bronze"],
        "subject_types_supported": ["public", "pairwise"],
        "userinfo_signing_alg_values_supported": ["RS256", "ES256", "HS256"],
        "userinfo_encryption_alg_values_supported": ["RSA-OAEP-256", "A128KW"],
        "userinfo_encryption_enc_values_supported": ["A128CBC-HS256", "A128GCM"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "HS256"],
        "id_token_encryption_alg_values_supported": ["RSA-OAEP-256", "A128KW"],
        "id_token_encryption_enc_values_supported": ["A128CBC-HS256", "A128GCM"],
        "request_object_signing_alg_values_supported": ["none", "RS256", "ES256"],
        "display_values_supported": ["page", "popup"],
        "claim_types_supported": ["normal", "distributed"],
        "claims_supported": ["sub", "iss", "auth_time", "acr", "name", "given_name",
            "family_name", "nickname", "profile", "picture", "website", "email",
            "email_verified", "locale", "zoneinfo", "http://example.info/claims/groups"],
        "claims_parameter_supported": true,
        "service_documentation": "http://server.example.com/connect/service_documentation.html",
        "ui_locales_supported": ["en-US", "en-GB", "en-CA", "fr-FR", "fr-CA"]
    })
}

fn json_response(body: &Value) -> HttpResponse {
    response(200, Some("application/json"), body.to_string())
}

fn send<T: std::fmt::Debug>(step: Step<T>) -> HttpRequest {
    match step {
        Step::Send(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn assert_get_json(request: &HttpRequest, url: &str) {
    assert_eq!(request.method(), "GET");
    assert_eq!(request.uri(), url);
    assert_eq!(request.headers()["accept"], "application/json");
    assert_eq!(request.headers().len(), 1, "{:?}", request.headers());
    assert!(request.body().is_empty());
}

/// Starts `flow`, checks the well-known request, answers it with `document`
/// and returns what the flow did next.
fn answer_metadata(
    flow: &mut Discovery,
    well_known: &str,
    document: &Value,
) -> Result<Step<DiscoveredProvider>, Error> {
    let request = send(flow.start(NOW).unwrap());
    assert_get_json(&request, well_known);
    flow.handle_response(json_response(document), NOW)
}

/// The error an OpenID discovery of `document` ends with; also checks that
/// the flow is over afterwards (no JWKS request, nothing else).
fn openid_error(document: &Value) -> Error {
    let mut flow = Discovery::openid(issuer());
    let error = match answer_metadata(&mut flow, WELL_KNOWN, document) {
        Err(error) => error,
        Ok(step) => panic!("expected an error, got {step:?}"),
    };
    assert_flow_over(&mut flow);
    error
}

fn assert_flow_over(flow: &mut Discovery) {
    assert!(matches!(
        flow.handle_response(json_response(&json!({"keys": []})), NOW),
        Err(Error::UnexpectedCall {
            flow: "discovery",
            ..
        })
    ));
    assert!(matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })));
}

fn malformed_reason(error: Error) -> (u16, String) {
    match error {
        Error::MalformedResponse(m) => (m.status, m.reason),
        other => panic!("expected MalformedResponse, got {other:?}"),
    }
}

fn with(mut document: Value, field: &str, value: Value) -> Value {
    document[field] = value;
    document
}

fn without(mut document: Value, field: &str) -> Value {
    document.as_object_mut().unwrap().remove(field);
    document
}

// --- Happy paths ---------------------------------------------------------

#[test]
fn openid_discovery_fetches_metadata_then_the_jwks() {
    let mut flow = Discovery::openid(issuer());
    let request = send(answer_metadata(&mut flow, WELL_KNOWN, &openid_configuration()).unwrap());
    assert_get_json(&request, JWKS_URI);

    let provider = match flow
        .handle_response(
            response(200, Some("application/json"), RFC7517_A1_JWKS.as_bytes()),
            LATER,
        )
        .unwrap()
    {
        Step::Done(provider) => provider,
        other => panic!("{other:?}"),
    };
    assert_flow_over(&mut flow);

    assert_eq!(provider.issuer().as_str(), ISSUER);
    // The time the metadata arrived: the older of the two fetches.
    assert_eq!(provider.fetched_at(), NOW);
    let jwks = provider.jwks().expect("openid discovery fetches the jwks");
    assert!(
        jwks.keys()
            .iter()
            .any(|key| key.kid() == Some("2011-04-29")),
        "the RSA key of RFC 7517 A.1 is usable"
    );

    let metadata = provider.metadata();
    assert_eq!(&metadata.issuer, &issuer());
    let endpoint = |e: &Option<grantflow::EndpointUrl>| e.as_ref().map(|e| e.as_str().to_owned());
    assert_eq!(
        endpoint(&metadata.authorization_endpoint).as_deref(),
        Some("https://server.example.com/connect/authorize")
    );
    assert_eq!(
        endpoint(&metadata.token_endpoint).as_deref(),
        Some("https://server.example.com/connect/token")
    );
    assert_eq!(
        endpoint(&metadata.userinfo_endpoint).as_deref(),
        Some("https://server.example.com/connect/userinfo")
    );
    assert_eq!(endpoint(&metadata.jwks_uri).as_deref(), Some(JWKS_URI));
    assert_eq!(
        endpoint(&metadata.end_session_endpoint).as_deref(),
        Some("https://server.example.com/connect/end_session")
    );
    assert_eq!(
        endpoint(&metadata.registration_endpoint).as_deref(),
        Some("https://server.example.com/connect/register")
    );
    assert_eq!(metadata.revocation_endpoint, None);
    assert_eq!(metadata.pushed_authorization_request_endpoint, None);
    assert_eq!(
        metadata.subject_types_supported.as_deref(),
        Some(&["public".to_owned(), "pairwise".to_owned()][..])
    );
    assert_eq!(
        metadata.scopes_supported.as_ref().map(Vec::len),
        Some(6),
        "{:?}",
        metadata.scopes_supported
    );
    assert_eq!(metadata.code_challenge_methods_supported, None);
    // Defaults: false, except request_uri_parameter_supported (OIDC Discovery §3).
    assert!(metadata.claims_parameter_supported);
    assert!(!metadata.request_parameter_supported);
    assert!(metadata.request_uri_parameter_supported);
    assert!(!metadata.authorization_response_iss_parameter_supported);
    assert!(!metadata.require_pushed_authorization_requests);

    let (metadata, jwks, fetched_at) = provider.into_parts();
    assert!(jwks.is_some());
    assert_eq!(fetched_at, NOW);
    assert!(metadata.extra.contains_key("check_session_iframe"));
}

#[test]
fn rfc8414_discovery_inserts_the_well_known_segment_before_the_path() {
    // RFC 8414 §3.1's example issuer.
    let issuer = Issuer::new("https://example.com/issuer1").unwrap();
    let mut flow = Discovery::oauth(issuer.clone());
    let document = json!({
        "issuer": "https://example.com/issuer1",
        "authorization_endpoint": "https://example.com/issuer1/authorize",
        "token_endpoint": "https://example.com/issuer1/token",
        "jwks_uri": "https://example.com/issuer1/jwks.json",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "revocation_endpoint": "https://example.com/issuer1/revoke",
        "introspection_endpoint": "https://example.com/issuer1/introspect",
        "device_authorization_endpoint": "https://example.com/issuer1/device",
        "pushed_authorization_request_endpoint": "https://example.com/issuer1/par",
        "require_pushed_authorization_requests": true,
        "authorization_response_iss_parameter_supported": true,
        "dpop_signing_alg_values_supported": ["ES256"]
    });
    let provider = match answer_metadata(
        &mut flow,
        "https://example.com/.well-known/oauth-authorization-server/issuer1",
        &document,
    )
    .unwrap()
    {
        // No JWKS fetch without `with_jwks`, even with a `jwks_uri`.
        Step::Done(provider) => provider,
        other => panic!("{other:?}"),
    };
    assert_flow_over(&mut flow);
    assert!(provider.jwks().is_none());
    assert_eq!(provider.issuer(), &issuer);
    let metadata = provider.metadata();
    assert_eq!(
        metadata.code_challenge_methods_supported.as_deref(),
        Some(&["S256".to_owned()][..])
    );
    assert_eq!(
        metadata.revocation_endpoint.as_ref().unwrap().as_str(),
        "https://example.com/issuer1/revoke"
    );
    assert_eq!(
        metadata.introspection_endpoint.as_ref().unwrap().as_str(),
        "https://example.com/issuer1/introspect"
    );
    assert_eq!(
        metadata
            .device_authorization_endpoint
            .as_ref()
            .unwrap()
            .as_str(),
        "https://example.com/issuer1/device"
    );
    assert!(metadata.require_pushed_authorization_requests);
    assert!(metadata.authorization_response_iss_parameter_supported);
    assert_eq!(metadata.subject_types_supported, None);
    assert!(metadata.extra.is_empty(), "{:?}", metadata.extra);
}

#[test]
fn rfc8414_needs_only_the_issuer() {
    let mut flow = Discovery::oauth(issuer()).with_jwks();
    let step = answer_metadata(
        &mut flow,
        "https://server.example.com/.well-known/oauth-authorization-server",
        &json!({"issuer": ISSUER}),
    )
    .unwrap();
    // Asked for the JWKS, but there is no `jwks_uri`: done without one.
    match step {
        Step::Done(provider) => {
            assert!(provider.jwks().is_none());
            assert_eq!(provider.metadata().token_endpoint, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc8414_with_jwks_fetches_the_key_set() {
    let mut flow = Discovery::oauth(issuer()).with_jwks();
    let request = send(
        answer_metadata(
            &mut flow,
            "https://server.example.com/.well-known/oauth-authorization-server",
            &json!({"issuer": ISSUER, "jwks_uri": "https://keys.example.net/as"}),
        )
        .unwrap(),
    );
    assert_get_json(&request, "https://keys.example.net/as");
    let step = flow
        .handle_response(
            response(
                200,
                Some("application/jwk-set+json"),
                RFC7517_A1_JWKS.as_bytes(),
            ),
            NOW,
        )
        .unwrap();
    assert!(matches!(step, Step::Done(provider) if provider.jwks().is_some()));
}

#[test]
fn rp_discovery_jwks_uri_keys() {
    // The conformance suite publishes its keys at a `jwks_uri` that changes
    // from run to run: it is used exactly as published, host, path and query.
    for jwks_uri in [
        "https://rp.certification.openid.net:8080/static/jwks_Oq3Zy4DT1r6B.json",
        "https://keys.example.org/v1/run-8d1f7a0b/jwks?rotation=41",
    ] {
        let mut flow = Discovery::openid(issuer());
        let document = with(openid_configuration(), "jwks_uri", json!(jwks_uri));
        let request = send(answer_metadata(&mut flow, WELL_KNOWN, &document).unwrap());
        assert_get_json(&request, jwks_uri);
        let step = flow
            .handle_response(
                response(200, Some("application/json"), RFC7517_A1_JWKS.as_bytes()),
                NOW,
            )
            .unwrap();
        match step {
            Step::Done(provider) => {
                assert_eq!(
                    provider.metadata().jwks_uri.as_ref().unwrap().as_str(),
                    jwks_uri
                );
                assert!(!provider.jwks().unwrap().is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn issuer_with_a_path_and_trailing_slash() {
    // OIDC Discovery §4.1: the terminating `/` goes before the suffix; the
    // document must still name the issuer with its slash.
    let issuer = Issuer::new("https://server.example.com/tenant/").unwrap();
    let mut flow = Discovery::openid(issuer);
    let document = with(
        openid_configuration(),
        "issuer",
        json!("https://server.example.com/tenant/"),
    );
    let request = send(
        answer_metadata(
            &mut flow,
            "https://server.example.com/tenant/.well-known/openid-configuration",
            &document,
        )
        .unwrap(),
    );
    assert_get_json(&request, JWKS_URI);
}

// --- The issuer ----------------------------------------------------------

#[test]
fn rp_discovery_issuer_not_matching_config() {
    let document = with(
        openid_configuration(),
        "issuer",
        json!("https://example.com/not-the-issuer"),
    );
    // `openid_error` also checks that no JWKS request follows.
    match openid_error(&document) {
        Error::MetadataIssuerMismatch { expected, found } => {
            assert_eq!(expected, ISSUER);
            assert_eq!(found, "https://example.com/not-the-issuer");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn issuers_differing_only_by_a_trailing_slash_or_case_mismatch() {
    for found in [
        "https://server.example.com/",
        "https://Server.example.com",
        "HTTPS://server.example.com",
        "https://server.example.com:443",
        "https://server.example.com/.",
        " https://server.example.com",
    ] {
        let document = with(openid_configuration(), "issuer", json!(found));
        assert!(
            matches!(
                openid_error(&document),
                Error::MetadataIssuerMismatch { .. }
            ),
            "{found:?}"
        );
    }
    // And the other way round: configured with a slash, document without.
    let configured = Issuer::new("https://server.example.com/").unwrap();
    assert!(matches!(
        ProviderMetadata::from_json(
            json!({"issuer": ISSUER}).to_string().as_bytes(),
            &configured
        ),
        Err(Error::MetadataIssuerMismatch { .. })
    ));
}

#[test]
fn a_missing_or_non_string_issuer_is_malformed() {
    let (status, reason) =
        malformed_reason(openid_error(&without(openid_configuration(), "issuer")));
    assert_eq!(status, 200);
    assert_eq!(reason, "field \"issuer\" is missing");
    let (_, reason) = malformed_reason(openid_error(&with(
        openid_configuration(),
        "issuer",
        json!({"url": ISSUER}),
    )));
    assert_eq!(reason, "field \"issuer\" is not a string");
}

#[test]
fn issuer_new_rejections() {
    for insecure in ["http://server.example.com", "http://192.168.1.1/realm"] {
        assert!(
            matches!(Issuer::new(insecure), Err(Error::InsecureUrl { .. })),
            "{insecure}"
        );
    }
    for invalid in [
        "https://server.example.com?tenant=a",
        "https://server.example.com/?",
        "https://server.example.com#top",
        "https://server.example.com/#",
        "https://user:pass@server.example.com",
        "server.example.com",
        "urn:example:issuer",
        "https://server.example.com/ path",
    ] {
        assert!(
            matches!(Issuer::new(invalid), Err(Error::InvalidIssuer { .. })),
            "{invalid}"
        );
    }
    // Loopback http is fine, for development.
    for ok in [
        "http://127.0.0.1:8080",
        "http://localhost:3000/realms/dev",
        "http://[::1]/",
    ] {
        assert_eq!(Issuer::new(ok).unwrap().as_str(), ok);
    }
    let message = Issuer::new("https://a.example?x").unwrap_err().to_string();
    assert!(
        message.starts_with("invalid issuer identifier: "),
        "{message}"
    );
}

// --- Endpoints and field types ------------------------------------------

#[test]
fn an_http_endpoint_refuses_the_whole_document() {
    for field in [
        "token_endpoint",
        "authorization_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "end_session_endpoint",
    ] {
        let document = with(
            openid_configuration(),
            field,
            json!("http://server.example.com/endpoint?key=hunter2"),
        );
        match openid_error(&document) {
            Error::InsecureUrl { url } => {
                assert_eq!(url, "http://server.example.com/endpoint", "{field}")
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    // Loopback http is accepted.
    let issuer = Issuer::new("http://127.0.0.1:8080").unwrap();
    let metadata = ProviderMetadata::from_json(
        json!({"issuer": "http://127.0.0.1:8080", "token_endpoint": "http://127.0.0.1:8080/token"})
            .to_string()
            .as_bytes(),
        &issuer,
    )
    .unwrap();
    assert_eq!(
        metadata.token_endpoint.unwrap().as_str(),
        "http://127.0.0.1:8080/token"
    );
}

#[test]
fn a_string_instead_of_an_array_is_malformed() {
    let document = with(
        openid_configuration(),
        "response_types_supported",
        json!("code"),
    );
    let (status, reason) = malformed_reason(openid_error(&document));
    assert_eq!(status, 200);
    assert_eq!(
        reason,
        "field \"response_types_supported\" is not an array of strings"
    );
    let document = with(
        openid_configuration(),
        "id_token_signing_alg_values_supported",
        json!(["RS256", null]),
    );
    let (_, reason) = malformed_reason(openid_error(&document));
    assert!(
        reason.contains("id_token_signing_alg_values_supported"),
        "{reason}"
    );
}

#[test]
fn a_number_instead_of_a_string_is_malformed() {
    let document = with(openid_configuration(), "token_endpoint", json!(443));
    let (_, reason) = malformed_reason(openid_error(&document));
    assert_eq!(reason, "field \"token_endpoint\" is not a string");
    let document = with(
        openid_configuration(),
        "claims_parameter_supported",
        json!(1),
    );
    let (_, reason) = malformed_reason(openid_error(&document));
    assert_eq!(
        reason,
        "field \"claims_parameter_supported\" is not a boolean"
    );
}

#[test]
fn openid_required_fields_must_be_present() {
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        let document = without(openid_configuration(), field);
        let (status, reason) = malformed_reason(openid_error(&document));
        assert_eq!(status, 200);
        assert_eq!(
            reason,
            format!(
                "field {field:?} is missing (required by openid connect discovery 1.0 section 3)"
            )
        );
        // `null` is absent too.
        let document = with(openid_configuration(), field, Value::Null);
        assert!(matches!(
            openid_error(&document),
            Error::MalformedResponse(_)
        ));
        // RFC 8414 requires none of them.
        assert!(
            ProviderMetadata::from_json(
                without(openid_configuration(), field)
                    .to_string()
                    .as_bytes(),
                &issuer()
            )
            .is_ok(),
            "{field}"
        );
    }
}

#[test]
fn a_duplicate_field_is_malformed() {
    let body = br#"{"issuer":"https://server.example.com","jwks_uri":"https://server.example.com/jwks.json","jwks_uri":"https://evil.example/jwks.json"}"#;
    let mut flow = Discovery::oauth(issuer()).with_jwks();
    send(flow.start(NOW).unwrap());
    let error = flow
        .handle_response(response(200, Some("application/json"), body), NOW)
        .unwrap_err();
    let (_, reason) = malformed_reason(error);
    assert_eq!(reason, "field \"jwks_uri\" appears more than once");
    assert_flow_over(&mut flow);
    // A duplicate `issuer` cannot smuggle a second value past the check either.
    let body = br#"{"issuer":"https://evil.example","issuer":"https://server.example.com"}"#;
    let (_, reason) = malformed_reason(ProviderMetadata::from_json(body, &issuer()).unwrap_err());
    assert_eq!(reason, "field \"issuer\" appears more than once");
}

#[test]
fn unknown_fields_are_kept_in_extra() {
    let document = with(
        with(
            openid_configuration(),
            "mtls_endpoint_aliases",
            json!({"token_endpoint": "https://mtls.server.example.com/token"}),
        ),
        "x_vendor_feature",
        json!(42),
    );
    let metadata =
        ProviderMetadata::from_openid_json(document.to_string().as_bytes(), &issuer()).unwrap();
    assert_eq!(metadata.extra["x_vendor_feature"], 42);
    assert_eq!(
        metadata.extra["mtls_endpoint_aliases"]["token_endpoint"],
        "https://mtls.server.example.com/token"
    );
    assert_eq!(
        metadata.extra["request_object_signing_alg_values_supported"],
        json!(["none", "RS256", "ES256"])
    );
    // Known fields are not repeated in `extra`.
    for known in [
        "issuer",
        "jwks_uri",
        "scopes_supported",
        "claims_parameter_supported",
    ] {
        assert!(!metadata.extra.contains_key(known), "{known}");
    }
}

#[test]
fn absent_and_empty_lists_differ_and_booleans_take_their_defaults() {
    let metadata = ProviderMetadata::from_json(
        json!({
            "issuer": ISSUER,
            "scopes_supported": [],
            "grant_types_supported": null,
            "request_uri_parameter_supported": false,
            "request_parameter_supported": true
        })
        .to_string()
        .as_bytes(),
        &issuer(),
    )
    .unwrap();
    assert_eq!(metadata.scopes_supported, Some(vec![]));
    assert_eq!(metadata.grant_types_supported, None);
    assert_eq!(metadata.response_modes_supported, None);
    assert!(!metadata.request_uri_parameter_supported);
    assert!(metadata.request_parameter_supported);
    assert!(!metadata.claims_parameter_supported);
}

#[test]
fn none_among_the_signing_algorithms_is_kept_but_never_an_algorithm() {
    let document = with(
        openid_configuration(),
        "id_token_signing_alg_values_supported",
        json!(["none", "RS256", "ES256", "XS999", "RS256", "NONE"]),
    );
    let metadata =
        ProviderMetadata::from_openid_json(document.to_string().as_bytes(), &issuer()).unwrap();
    assert_eq!(
        metadata
            .id_token_signing_alg_values_supported
            .as_ref()
            .unwrap()[0],
        "none"
    );
    let algorithms = metadata.id_token_signing_algorithms();
    assert_eq!(
        algorithms,
        [grantflow::Algorithm::Rs256, grantflow::Algorithm::Es256]
    );
    // Only `none`: no algorithm at all, never "unsigned allowed".
    let document = with(
        openid_configuration(),
        "id_token_signing_alg_values_supported",
        json!(["none"]),
    );
    let metadata =
        ProviderMetadata::from_openid_json(document.to_string().as_bytes(), &issuer()).unwrap();
    assert!(metadata.id_token_signing_algorithms().is_empty());
}

// --- HTTP-level failures -------------------------------------------------

#[test]
fn a_404_html_page_is_malformed_with_its_status() {
    let mut flow = Discovery::openid(issuer());
    send(flow.start(NOW).unwrap());
    let error = flow
        .handle_response(
            response(
                404,
                Some("text/html"),
                b"<html><body>Not Found</body></html>",
            ),
            NOW,
        )
        .unwrap_err();
    match error {
        Error::MalformedResponse(m) => {
            assert_eq!(m.status, 404);
            assert_eq!(
                m.excerpt.as_deref(),
                Some("<html><body>Not Found</body></html>")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_flow_over(&mut flow);
}

#[test]
fn an_oauth_error_body_is_an_oauth_error() {
    let mut flow = Discovery::openid(issuer());
    send(flow.start(NOW).unwrap());
    let error = flow
        .handle_response(
            response(
                503,
                Some("application/json"),
                br#"{"error":"temporarily_unavailable"}"#,
            ),
            NOW,
        )
        .unwrap_err();
    assert!(matches!(
        error,
        Error::OAuth(e) if e.error == ErrorCode::TemporarilyUnavailable && e.status == Some(503)
    ));
}

#[test]
fn a_redirect_is_not_followed() {
    let mut flow = Discovery::openid(issuer());
    send(flow.start(NOW).unwrap());
    let error = flow
        .handle_response(
            http::Response::builder()
                .status(302)
                .header(
                    "location",
                    "https://evil.example/.well-known/openid-configuration",
                )
                .body(Vec::new())
                .unwrap(),
            NOW,
        )
        .unwrap_err();
    assert_eq!(malformed_reason(error).0, 302);
    assert_flow_over(&mut flow);
}

#[test]
fn a_jwks_whose_keys_is_not_an_array_is_malformed() {
    for body in [
        &br#"{"keys":{"kty":"RSA"}}"#[..],
        br#"{"keys":"none"}"#,
        br#"{}"#,
        br#"[{"kty":"RSA"}]"#,
        b"<html>keys</html>",
    ] {
        let mut flow = Discovery::openid(issuer());
        send(answer_metadata(&mut flow, WELL_KNOWN, &openid_configuration()).unwrap());
        let error = flow
            .handle_response(response(200, Some("application/json"), body), NOW)
            .unwrap_err();
        match error {
            Error::MalformedResponse(m) => {
                assert_eq!(m.status, 200);
                assert!(m.reason.starts_with("jwk set: "), "{}", m.reason);
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
        }
        assert_flow_over(&mut flow);
    }
}

#[test]
fn a_jwks_error_status_is_malformed() {
    let mut flow = Discovery::openid(issuer());
    send(answer_metadata(&mut flow, WELL_KNOWN, &openid_configuration()).unwrap());
    let error = flow
        .handle_response(response(500, Some("text/plain"), b"internal error"), NOW)
        .unwrap_err();
    let (status, reason) = malformed_reason(error);
    assert_eq!(status, 500);
    assert_eq!(reason, "http 500 from the jwks_uri");
}

// --- Driving the flow out of order --------------------------------------

#[test]
fn out_of_order_calls_are_unexpected_and_end_the_flow() {
    // Any error ends the flow, a call out of order too: nothing it says
    // afterwards is a request or a result.
    let mut flow = Discovery::openid(issuer());
    assert!(matches!(
        flow.handle_response(json_response(&openid_configuration()), NOW),
        Err(Error::UnexpectedCall {
            flow: "discovery",
            call: "handle_response before start"
        })
    ));
    assert!(matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })));

    let mut flow = Discovery::openid(issuer());
    send(flow.start(NOW).unwrap());
    assert!(matches!(
        flow.start(NOW),
        Err(Error::UnexpectedCall {
            call: "start after the flow had started",
            ..
        })
    ));
    assert!(matches!(
        flow.handle_response(json_response(&openid_configuration()), NOW),
        Err(Error::UnexpectedCall { .. })
    ));

    let mut flow = Discovery::openid(issuer());
    send(flow.start(NOW).unwrap());
    assert!(matches!(
        flow.handle_timeout(NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    assert!(matches!(
        flow.handle_response(json_response(&openid_configuration()), NOW),
        Err(Error::UnexpectedCall { .. })
    ));
}

#[test]
fn a_finished_flow_stays_finished() {
    let mut flow = Discovery::oauth(issuer());
    let step = answer_metadata(
        &mut flow,
        "https://server.example.com/.well-known/oauth-authorization-server",
        &json!({"issuer": ISSUER}),
    )
    .unwrap();
    assert!(matches!(step, Step::Done(_)));
    assert!(matches!(
        flow.handle_response(json_response(&json!({"issuer": ISSUER})), NOW),
        Err(Error::UnexpectedCall {
            call: "handle_response without a request in flight",
            ..
        })
    ));
    assert_flow_over(&mut flow);
}

#[test]
fn error_messages_are_lower_case() {
    let errors = [
        Issuer::new("https://a.example#x").unwrap_err(),
        openid_error(&with(
            openid_configuration(),
            "issuer",
            json!("https://b.example"),
        )),
        openid_error(&without(openid_configuration(), "jwks_uri")),
    ];
    for error in errors {
        let message = error.to_string();
        assert!(!message.starts_with(char::is_uppercase), "{message}");
        assert!(!message.ends_with('.'), "{message}");
    }
}
