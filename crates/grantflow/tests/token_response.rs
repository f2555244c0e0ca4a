//! The token endpoint response parser against RFC vectors, the quirks of
//! real providers, and hostile bodies. Canned responses, fake time.

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantflow::{
    AccessToken, Error, ErrorCode, HttpResponse, MalformedResponse, RawIdToken, RefreshToken,
    Scope, TokenSet, TokenType, UnixTime, parse_token_response,
};

const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

fn response(status: u16, content_type: Option<&str>, body: &[u8]) -> HttpResponse {
    let mut builder = http::Response::builder().status(status);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(body.to_vec()).unwrap()
}

fn json(status: u16, body: &str) -> HttpResponse {
    response(
        status,
        Some("application/json;charset=UTF-8"),
        body.as_bytes(),
    )
}

fn ok(response: HttpResponse) -> TokenSet {
    parse_token_response(&response, NOW).unwrap()
}

fn oauth_error(response: HttpResponse) -> grantflow::ErrorResponse {
    match parse_token_response(&response, NOW) {
        Err(Error::OAuth(e)) => e,
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

fn malformed(response: HttpResponse) -> MalformedResponse {
    match parse_token_response(&response, NOW) {
        Err(Error::MalformedResponse(m)) => m,
        other => panic!("expected MalformedResponse, got {other:?}"),
    }
}

fn scopes(tokens: &TokenSet) -> Option<Vec<&str>> {
    tokens
        .scopes
        .as_ref()
        .map(|s| s.iter().map(|s| s.as_str()).collect())
}

// ---- RFC 6749 vectors -------------------------------------------------------

#[test]
fn rfc6749_section_5_1_success_example() {
    // RFC 6749 §5.1 (and §4.4.3, the client credentials response, minus the
    // refresh token).
    let tokens = ok(json(
        200,
        r#"{
       "access_token":"2YotnFZFEjr1zCsicMWpAA",
       "token_type":"example",
       "expires_in":3600,
       "refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA",
       "example_parameter":"example_value"
     }"#,
    ));
    assert_eq!(tokens.access_token.secret(), "2YotnFZFEjr1zCsicMWpAA");
    assert_eq!(tokens.token_type, TokenType::Other("example".into()));
    assert_eq!(tokens.expires_at, Some(NOW.saturating_add_secs(3600)));
    assert_eq!(tokens.expires_in(NOW), Some(3600));
    assert_eq!(
        tokens.refresh_token.as_ref().map(|t| t.secret()),
        Some("tGzv3JOkF0XG5Qx2TlKWIA")
    );
    assert_eq!(tokens.received_at, NOW);
    assert_eq!(tokens.extra.len(), 1);
    assert_eq!(tokens.extra["example_parameter"], "example_value");
    assert!(tokens.id_token.is_none());
}

#[test]
fn rfc6749_section_4_4_3_client_credentials_example() {
    let tokens = ok(json(
        200,
        r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"example","expires_in":3600,"example_parameter":"example_value"}"#,
    ));
    assert!(tokens.refresh_token.is_none());
    assert!(!tokens.is_expired(NOW.saturating_add_secs(3599)));
    assert!(tokens.is_expired(NOW.saturating_add_secs(3600)));
}

#[test]
fn rfc6749_section_5_2_error_example() {
    let error = oauth_error(json(400, r#"{"error":"invalid_request"}"#));
    assert_eq!(error.error, ErrorCode::InvalidRequest);
    assert_eq!(error.status, Some(400));
    assert_eq!(error.description, None);
    assert_eq!(error.uri, None);
}

#[test]
fn error_with_description_and_uri() {
    let error = oauth_error(json(
        401,
        r#"{"error":"invalid_client","error_description":"Client authentication failed","error_uri":"https://as.example.com/errors/invalid_client"}"#,
    ));
    assert_eq!(error.error, ErrorCode::InvalidClient);
    assert_eq!(
        error.description.as_deref(),
        Some("Client authentication failed")
    );
    assert_eq!(
        error.uri.as_deref(),
        Some("https://as.example.com/errors/invalid_client")
    );
    assert_eq!(
        error.to_string(),
        "invalid_client: Client authentication failed"
    );
}

#[test]
fn every_rfc6749_token_error_code_is_typed() {
    for (wire, code) in [
        ("invalid_request", ErrorCode::InvalidRequest),
        ("invalid_client", ErrorCode::InvalidClient),
        ("invalid_grant", ErrorCode::InvalidGrant),
        ("unauthorized_client", ErrorCode::UnauthorizedClient),
        ("unsupported_grant_type", ErrorCode::UnsupportedGrantType),
        ("invalid_scope", ErrorCode::InvalidScope),
    ] {
        assert_eq!(
            oauth_error(json(400, &format!(r#"{{"error":"{wire}"}}"#))).error,
            code
        );
    }
    assert_eq!(
        oauth_error(json(400, r#"{"error":"invalid_dpop_proof"}"#)).error,
        ErrorCode::InvalidDpopProof
    );
    assert_eq!(
        oauth_error(json(400, r#"{"error":"vendor_specific"}"#)).error,
        ErrorCode::Other("vendor_specific".into())
    );
}

// ---- provider quirks, each named after who needs it ------------------------

#[test]
fn azure_ad_v1_and_paypal_expires_in_as_string() {
    let tokens = ok(json(
        200,
        r#"{"token_type":"Bearer","expires_in":"3599","ext_expires_in":"3599","access_token":"eyJ0"}"#,
    ));
    assert_eq!(tokens.expires_at, Some(NOW.saturating_add_secs(3599)));
    assert_eq!(tokens.extra["ext_expires_in"], "3599");
}

#[test]
fn linkedin_and_slack_without_token_type() {
    // LinkedIn: {"access_token":…,"expires_in":5183999}; Slack: {"ok":true,…}
    let tokens = ok(json(200, r#"{"access_token":"AQX","expires_in":5183999}"#));
    assert_eq!(tokens.token_type, TokenType::Bearer);
    let tokens = ok(json(
        200,
        r#"{"ok":true,"access_token":"xoxb-1","scope":"chat:write"}"#,
    ));
    assert_eq!(tokens.token_type, TokenType::Bearer);
    assert_eq!(tokens.extra["ok"], true);
}

#[test]
fn github_lower_case_token_type_and_comma_separated_scopes() {
    let tokens = ok(json(
        200,
        r#"{"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","scope":"repo,gist","token_type":"bearer"}"#,
    ));
    assert_eq!(tokens.token_type, TokenType::Bearer);
    assert_eq!(tokens.token_type.as_str(), "Bearer");
    assert_eq!(scopes(&tokens), Some(vec!["repo", "gist"]));
}

#[test]
fn github_form_encoded_body_without_accept() {
    let tokens = ok(response(
        200,
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        b"access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer",
    ));
    assert_eq!(
        tokens.access_token.secret(),
        "gho_16C7e42F292c6912E7710c838347Ae178B4a"
    );
    assert_eq!(scopes(&tokens), Some(vec!["repo", "gist"]));
    assert_eq!(tokens.token_type, TokenType::Bearer);
}

#[test]
fn old_facebook_form_encoded_body_with_string_expiry() {
    let tokens = ok(response(
        200,
        Some("text/plain"),
        b"access_token=EAAB&expires=5183999&expires_in=5183999",
    ));
    assert_eq!(tokens.expires_at, Some(NOW.saturating_add_secs(5_183_999)));
    assert_eq!(tokens.extra["expires"], "5183999");
}

#[test]
fn github_error_with_status_200() {
    let error = oauth_error(json(
        200,
        r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}"#,
    ));
    assert_eq!(
        error.error,
        ErrorCode::Other("bad_verification_code".into())
    );
    assert_eq!(error.status, Some(200));
    // And GitHub's form-encoded flavour of the same.
    let error = oauth_error(response(
        200,
        Some("application/x-www-form-urlencoded"),
        b"error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.",
    ));
    assert_eq!(
        error.description.as_deref(),
        Some("The code passed is incorrect or expired.")
    );
}

#[test]
fn crowdstrike_success_with_201() {
    let tokens = ok(json(
        201,
        r#"{"access_token":"eyJ","token_type":"bearer","expires_in":1799}"#,
    ));
    assert_eq!(tokens.expires_in(NOW), Some(1799));
    // Any 2xx with a token is a success.
    ok(json(203, r#"{"access_token":"x"}"#));
}

#[test]
fn kanidm_json_labelled_text_plain() {
    let error = oauth_error(response(
        400,
        Some("text/plain"),
        br#"{"error":"invalid_grant"}"#,
    ));
    assert_eq!(error.error, ErrorCode::InvalidGrant);
    let tokens = ok(response(
        200,
        Some("text/plain;charset=utf-8"),
        br#"{"access_token":"x","token_type":"Bearer"}"#,
    ));
    assert_eq!(tokens.access_token.secret(), "x");
}

#[test]
fn dpop_token_type_is_recognised() {
    assert_eq!(
        ok(json(200, r#"{"access_token":"x","token_type":"DPoP"}"#)).token_type,
        TokenType::DPoP
    );
    assert_eq!(
        ok(json(200, r#"{"access_token":"x","token_type":"dpop"}"#)).token_type,
        TokenType::DPoP
    );
}

// ---- the shape of the result -----------------------------------------------

#[test]
fn scope_absent_stays_absent() {
    assert_eq!(scopes(&ok(json(200, r#"{"access_token":"x"}"#))), None);
    assert_eq!(
        scopes(&ok(json(200, r#"{"access_token":"x","scope":null}"#))),
        None
    );
    assert_eq!(
        scopes(&ok(json(200, r#"{"access_token":"x","scope":""}"#))),
        Some(vec![])
    );
    assert_eq!(
        scopes(&ok(json(
            200,
            r#"{"access_token":"x","scope":"openid  api:read a,b"}"#
        ))),
        Some(vec!["openid", "api:read", "a,b"])
    );
}

#[test]
fn id_token_and_unknown_fields_are_kept() {
    let tokens = ok(json(
        200,
        r#"{"access_token":"x","id_token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","nested":{"a":[1,2]}}"#,
    ));
    assert_eq!(
        tokens.id_token.as_ref().unwrap().as_str(),
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
    );
    assert_eq!(tokens.extra["nested"]["a"][1], 2);
    assert_eq!(tokens.extra.len(), 2);
}

#[test]
fn empty_refresh_and_id_tokens_are_absent() {
    let tokens = ok(json(
        200,
        r#"{"access_token":"x","refresh_token":"","id_token":""}"#,
    ));
    assert!(tokens.refresh_token.is_none());
    assert!(tokens.id_token.is_none());
}

#[test]
fn expiry_arithmetic_saturates() {
    let tokens = parse_token_response(
        &json(
            200,
            r#"{"access_token":"x","expires_in":18446744073709551615}"#,
        ),
        NOW,
    )
    .unwrap();
    assert_eq!(tokens.expires_at, Some(UnixTime::MAX));
    let tokens = parse_token_response(
        &json(
            200,
            r#"{"access_token":"x","expires_in":9223372036854775808}"#,
        ),
        NOW,
    )
    .unwrap();
    assert_eq!(tokens.expires_at, Some(NOW.saturating_add_secs(1 << 63)));
    assert_eq!(
        ok(json(200, r#"{"access_token":"x","expires_in":0}"#)).expires_at,
        Some(NOW)
    );
    assert_eq!(
        ok(json(200, r#"{"access_token":"x","expires_in":null}"#)).expires_at,
        None
    );
}

#[test]
fn debug_redacts_every_token_and_extra_values() {
    let tokens = ok(json(
        200,
        r#"{"access_token":"AT-SECRET","refresh_token":"RT-SECRET","id_token":"ID-SECRET","issued_token":"EXTRA-SECRET"}"#,
    ));
    let debug = format!("{tokens:?}");
    for secret in ["AT-SECRET", "RT-SECRET", "ID-SECRET", "EXTRA-SECRET"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("issued_token"), "{debug}");
}

#[test]
fn token_set_round_trips_through_serde() {
    let tokens = ok(json(
        200,
        r#"{"access_token":"x","token_type":"bearer","expires_in":60,"refresh_token":"r","scope":"a b","extra":1}"#,
    ));
    let stored = serde_json::to_string(&tokens).unwrap();
    let back: TokenSet = serde_json::from_str(&stored).unwrap();
    assert_eq!(back.access_token.secret(), "x");
    assert_eq!(back.token_type, TokenType::Bearer);
    assert_eq!(back.expires_at, tokens.expires_at);
    assert_eq!(back.refresh_token.as_ref().unwrap().secret(), "r");
    assert_eq!(scopes(&back), Some(vec!["a", "b"]));
    assert_eq!(back.extra["extra"], 1);
}

#[test]
fn a_stored_token_set_keeps_server_scopes_outside_the_grammar() {
    // Servers are not held to RFC 6749 §3.3: a granted scope with a
    // non-ASCII letter, a quote or a backslash is reported as sent, and a
    // stored TokenSet must read back whatever the parser accepted.
    let tokens = ok(json(
        200,
        r#"{"access_token":"x","scope":"caf\u00e9 quo\"te back\\slash openid"}"#,
    ));
    assert_eq!(
        scopes(&tokens),
        Some(vec!["caf\u{e9}", "quo\"te", "back\\slash", "openid"])
    );
    let stored = serde_json::to_string(&tokens).unwrap();
    let back: TokenSet = serde_json::from_str(&stored).unwrap();
    assert_eq!(scopes(&back), scopes(&tokens));
    // A lone scope still goes through the grammar.
    assert!(serde_json::from_str::<grantflow::Scope>(r#""caf\u00e9""#).is_err());
    // Absent and empty scopes stay distinct through storage, and a stored
    // form from before the field existed reads as absent.
    let absent = ok(json(200, r#"{"access_token":"x"}"#));
    let back: TokenSet = serde_json::from_str(&serde_json::to_string(&absent).unwrap()).unwrap();
    assert_eq!(scopes(&back), None);
    let empty = ok(json(200, r#"{"access_token":"x","scope":""}"#));
    let back: TokenSet = serde_json::from_str(&serde_json::to_string(&empty).unwrap()).unwrap();
    assert_eq!(scopes(&back), Some(vec![]));
    let mut old = serde_json::to_value(&absent).unwrap();
    old.as_object_mut().unwrap().remove("scopes");
    let back: TokenSet = serde_json::from_value(old).unwrap();
    assert_eq!(scopes(&back), None);
}

#[test]
fn token_set_new_builds_what_the_parser_would() {
    let parsed = ok(json(
        200,
        r#"{"access_token":"SlAV32hkKG","token_type":"Bearer","expires_in":3600,"refresh_token":"8xLOxBtZp8","scope":"openid email","id_token":"a.b.c","tenant":"t1"}"#,
    ));
    let built = TokenSet::new(AccessToken::new("SlAV32hkKG"), TokenType::Bearer, NOW)
        .with_expires_in(3600)
        .with_refresh_token(RefreshToken::new("8xLOxBtZp8"))
        .with_scopes([Scope::new("openid").unwrap(), Scope::new("email").unwrap()])
        .with_id_token(RawIdToken::new("a.b.c"))
        .with_extra("tenant", serde_json::json!("t1"));
    assert_eq!(
        serde_json::to_value(&built).unwrap(),
        serde_json::to_value(&parsed).unwrap()
    );
    assert_eq!(built.expires_in(NOW), Some(3600));

    let bare = TokenSet::new(AccessToken::new("SlAV32hkKG"), TokenType::Bearer, NOW);
    assert_eq!(bare.expires_at, None);
    assert!(bare.refresh_token.is_none() && bare.scopes.is_none() && bare.id_token.is_none());
    assert!(bare.extra.is_empty());
    assert!(!bare.is_expired(UnixTime::from_secs(u64::MAX)));
    let at = TokenSet::new(AccessToken::new("SlAV32hkKG"), TokenType::DPoP, NOW)
        .with_expires_at(UnixTime::from_secs(5));
    assert!(at.is_expired(NOW));
    let saturated = TokenSet::new(AccessToken::new("SlAV32hkKG"), TokenType::Bearer, NOW)
        .with_expires_in(u64::MAX);
    assert_eq!(saturated.expires_at, Some(UnixTime::from_secs(u64::MAX)));
    let debug = format!("{built:?}");
    assert!(
        !debug.contains("SlAV32hkKG") && !debug.contains("8xLOxBtZp8"),
        "{debug}"
    );
}

// ---- wrong types and values: typed errors naming the field ------------------

#[test]
fn access_token_missing_empty_or_not_a_string() {
    for (body, reason) in [
        (
            r#"{"token_type":"Bearer"}"#,
            "field \"access_token\" is missing",
        ),
        (
            r#"{"access_token":null}"#,
            "field \"access_token\" is missing",
        ),
        (r#"{"access_token":""}"#, "field \"access_token\" is empty"),
        (
            r#"{"access_token":42}"#,
            "field \"access_token\" is not a string",
        ),
        (
            r#"{"access_token":["x"]}"#,
            "field \"access_token\" is not a string",
        ),
        (
            r#"{"access_token":{"v":"x"}}"#,
            "field \"access_token\" is not a string",
        ),
    ] {
        let m = malformed(json(200, body));
        assert_eq!(m.reason, reason, "{body}");
        assert_eq!(m.status, 200);
        assert_eq!(m.excerpt, None, "a body with a token is never quoted");
    }
}

#[test]
fn hostile_expires_in_values() {
    for value in [
        "-1",
        "1.5",
        "3600.0",
        "1e3",
        "18446744073709551616",
        "true",
        "{}",
        "[]",
        r#""-1""#,
        r#""1.5""#,
        r#""""#,
        r#""3600s""#,
        r#""18446744073709551616""#,
        r#""+5""#,
    ] {
        let m = malformed(json(
            200,
            &format!(r#"{{"access_token":"x","expires_in":{value}}}"#),
        ));
        assert!(
            m.reason.starts_with("field \"expires_in\""),
            "{value}: {}",
            m.reason
        );
    }
    // 1e309 does not even parse as an f64: serde_json reports it as invalid json.
    let m = malformed(json(200, r#"{"access_token":"x","expires_in":1e309}"#));
    assert!(m.reason.starts_with("invalid json"), "{}", m.reason);
}

#[test]
fn other_fields_of_the_wrong_type() {
    for (body, field) in [
        (r#"{"access_token":"x","token_type":1}"#, "token_type"),
        (
            r#"{"access_token":"x","refresh_token":true}"#,
            "refresh_token",
        ),
        (r#"{"access_token":"x","scope":["a","b"]}"#, "scope"),
        (r#"{"access_token":"x","id_token":{}}"#, "id_token"),
    ] {
        assert_eq!(
            malformed(json(200, body)).reason,
            format!("field \"{field}\" is not a string")
        );
    }
}

#[test]
fn duplicate_access_tokens_are_refused() {
    let m = malformed(json(200, r#"{"access_token":"a","access_token":"b"}"#));
    assert_eq!(m.reason, "field \"access_token\" appears more than once");
}

// ---- hostile bodies: a typed error, never a panic ---------------------------

#[test]
fn empty_bodies() {
    for status in [200, 204, 400, 500] {
        let m = malformed(response(status, Some("application/json"), b""));
        assert_eq!(m.status, status);
        assert_eq!(m.reason, format!("empty body with http {status}"));
    }
}

#[test]
fn html_error_pages_get_a_short_clean_excerpt() {
    let page = format!(
        "<!DOCTYPE html>\r\n<html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
        "nginx ".repeat(500)
    );
    for status in [200, 502] {
        let m = malformed(response(status, Some("text/html"), page.as_bytes()));
        let excerpt = m.excerpt.as_deref().unwrap();
        assert!(
            excerpt.starts_with("<!DOCTYPE html>\\r\\n<html><head><title>502"),
            "{excerpt}"
        );
        assert!(excerpt.len() <= MalformedResponse::MAX_EXCERPT);
        assert!(excerpt.ends_with(" bytes)"), "the cut is marked: {excerpt}");
        assert!(m.to_string().len() < 300);
    }
}

#[test]
fn truncated_json() {
    let m = malformed(json(
        200,
        r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bea"#,
    ));
    assert!(m.reason.starts_with("truncated json"), "{}", m.reason);
    assert!(!m.to_string().contains("2YotnFZFEjr1zCsicMWpAA"));
}

#[test]
fn top_level_values_that_are_not_objects() {
    for body in [r#""2YotnFZFEjr1zCsicMWpAA""#, "[1,2]", "null", "42", "true"] {
        let m = malformed(json(200, body));
        assert!(
            m.reason.contains("neither json nor form-encoded"),
            "{body}: {}",
            m.reason
        );
        assert!(!m.to_string().contains("2YotnFZFEjr1zCsicMWpAA"));
    }
}

#[test]
fn nesting_ten_thousand_deep() {
    let deep = format!(
        r#"{{"access_token":"x","a":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let m = malformed(json(200, &deep));
    assert!(m.reason.starts_with("invalid json"), "{}", m.reason);
    let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    malformed(json(200, &deep));
}

#[test]
fn invalid_utf8() {
    let m = malformed(
        json(200, "{\"access_token\":\"\u{0}\"}")
            .map(|_| b"{\"access_token\":\"\xff\xfe\"}".to_vec()),
    );
    assert!(m.reason.starts_with("invalid json"), "{}", m.reason);
    // In a form body, invalid UTF-8 is replaced, never a panic.
    let tokens = ok(response(
        200,
        Some("application/x-www-form-urlencoded"),
        b"access_token=%FF%FEab",
    ));
    assert_eq!(tokens.access_token.secret(), "\u{fffd}\u{fffd}ab");
}

#[test]
fn lone_surrogate_escape_is_invalid_json() {
    let m = malformed(json(200, r#"{"access_token":"\ud800"}"#));
    assert!(m.reason.starts_with("invalid json"), "{}", m.reason);
}

#[test]
fn redirects_and_other_statuses_without_an_error_code() {
    let mut redirect = response(
        302,
        Some("text/html"),
        b"<a href=\"https://evil.example/\">moved</a>",
    );
    redirect.headers_mut().insert(
        "location",
        http::HeaderValue::from_static("https://evil.example/"),
    );
    let m = malformed(redirect);
    assert_eq!(m.status, 302);
    let m = malformed(json(503, r#"{"message":"maintenance"}"#));
    assert_eq!(m.reason, "http 503 without an oauth error code");
    // JSON bodies are never quoted: they are where tokens live.
    assert_eq!(m.excerpt, None);
}

#[test]
fn huge_error_description_is_bounded_and_control_free() {
    let description = format!("\u{1b}[2J{}", "A".repeat(100_000));
    let error = oauth_error(json(
        400,
        &format!(
            r#"{{"error":"invalid_grant","error_description":"{}"}}"#,
            description.replace('\u{1b}', "\\u001b")
        ),
    ));
    let text = error.description.unwrap();
    assert!(text.len() <= grantflow::ErrorResponse::MAX_TEXT);
    assert!(text.starts_with("\\u{1b}[2JAAA"), "{text}");
    assert!(text.ends_with(" bytes)"), "the cut is marked");
    assert!(!text.contains('\u{1b}'));
}

/// Found by the `refresh_flow` fuzz target: a server that names an extra
/// member after a token must not put the token into `Debug`, which shows the
/// names of the extra members.
#[test]
fn debug_withholds_extra_member_names_that_hold_a_token() {
    let body = br#"{"access_token":"at-9f","token_type":"Bearer","refresh_token":"rt-7",
        "refresh_token.new-refresh-token-Wy9":1,"echo-at-9f":2,"ext_expires_in":3}"#;
    let response = http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .unwrap();
    let tokens =
        grantflow::parse_token_response(&response, grantflow::UnixTime::from_secs(1)).unwrap();
    let debug = format!("{tokens:?}");
    // A token-like run (20 token characters or more) and the set's own
    // access token are withheld; an ordinary name is shown.
    assert!(!debug.contains("new-refresh-token-Wy9"), "{debug}");
    assert!(!debug.contains("at-9f"), "{debug}");
    assert!(debug.contains("ext_expires_in"), "{debug}");
    assert_eq!(debug.matches("<withheld>").count(), 2, "{debug}");
}
