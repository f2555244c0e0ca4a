//! Logout from a session in fake time: revocation order (refresh token,
//! then access token), failures recorded without stopping, the RP-initiated
//! logout URL, missing endpoints, and the flow contract.

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantflow::testing::{drive, json_response, response};
use grantflow::{
    AccessToken, Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Endpoints, Error,
    ErrorKind, Flow, LogoutOptions, RawIdToken, RedirectUri, RefreshToken, Session, Step, TokenSet,
    TokenType, UnixTime,
};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

fn endpoints(revocation: bool, end_session: Option<&str>) -> Endpoints {
    let mut endpoints = Endpoints::default();
    if revocation {
        endpoints.revocation = Some(EndpointUrl::parse("https://op.example.com/revoke").unwrap());
    }
    endpoints.end_session = end_session.map(|url| EndpointUrl::parse(url).unwrap());
    endpoints
}

fn client(endpoints: Endpoints) -> Client {
    Client::new(
        ClientId::new("web-app"),
        ClientAuth::ClientSecretBasic(ClientSecret::new("s3cr3t")),
    )
    .with_endpoints(endpoints)
}

fn session() -> Session {
    Session::from_tokens(
        TokenSet::new(AccessToken::new("at-secret"), TokenType::Bearer, NOW)
            .with_expires_in(3600)
            .with_refresh_token(RefreshToken::new("rt-secret"))
            .with_id_token(RawIdToken::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")),
    )
}

fn form(request: &grantflow::HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.body())
        .into_owned()
        .collect()
}

#[test]
fn revokes_the_refresh_token_first_then_the_access_token_then_hands_out_the_logout_url() {
    let client = client(endpoints(true, Some("https://op.example.com/session/end")));
    let options = LogoutOptions::new()
        .post_logout_redirect_uri(RedirectUri::new("https://app.example.com/bye").unwrap())
        .state("st-1");
    let logout = session().logout(&client, &options).unwrap();
    let mut sent = Vec::new();
    let logged_out = drive(logout, NOW, |request| {
        assert_eq!(request.uri(), "https://op.example.com/revoke");
        sent.push(form(&request));
        // RFC 7009 §2.2: 200 whatever the body; providers send text/html.
        response(200, Some("text/html"), "")
    })
    .unwrap();
    assert_eq!(
        sent,
        [
            vec![
                ("token".to_owned(), "rt-secret".to_owned()),
                ("token_type_hint".to_owned(), "refresh_token".to_owned())
            ],
            vec![
                ("token".to_owned(), "at-secret".to_owned()),
                ("token_type_hint".to_owned(), "access_token".to_owned())
            ],
        ]
    );
    assert_eq!(logged_out.revoked, ["refresh_token", "access_token"]);
    assert!(logged_out.failures.is_empty());
    assert!(logged_out.not_revoked.is_empty());
    assert_eq!(
        logged_out.end_session_url.unwrap().as_str(),
        "https://op.example.com/session/end?id_token_hint=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln\
         &client_id=web-app&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=st-1"
    );
}

#[test]
fn a_failed_revocation_is_reported_and_the_logout_goes_on() {
    let client = client(endpoints(true, Some("https://op.example.com/session/end")));
    let logout = session().logout(&client, &LogoutOptions::new()).unwrap();
    let mut count = 0;
    let logged_out = drive(logout, NOW, |_| {
        count += 1;
        if count == 1 {
            json_response(503, r#"{"error":"temporarily_unavailable"}"#)
        } else {
            response(200, None, "")
        }
    })
    .unwrap();
    assert_eq!(count, 2);
    assert_eq!(logged_out.revoked, ["access_token"]);
    let [(hint, error)] = &logged_out.failures[..] else {
        panic!("one failure expected: {:?}", logged_out.failures)
    };
    assert_eq!(*hint, "refresh_token");
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert!(logged_out.end_session_url.is_some());
}

#[test]
fn a_failure_echoing_the_other_token_withholds_it() {
    // Found by the `logout_flow` fuzz target: the refresh token's
    // revocation answered with an error naming the session's access token
    // had it in the report (only the revoked token was withheld); the ID
    // token the logout URL carries is the session's too.
    let client = client(endpoints(true, None));
    let logout = session().logout(&client, &LogoutOptions::new()).unwrap();
    let mut count = 0;
    let logged_out = drive(logout, NOW, |_| {
        count += 1;
        if count == 1 {
            json_response(
                400,
                r#"{"error":"x-at-secret","error_description":"at-secret and rt-secret","error_uri":"https://op.example.com/e?t=at-secret"}"#,
            )
        } else {
            json_response(
                401,
                r#"{"error":"invalid_client","error_description":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"}"#,
            )
        }
    })
    .unwrap();
    assert_eq!(logged_out.failures.len(), 2);
    for shown in [
        format!("{logged_out:?}"),
        logged_out
            .failures
            .iter()
            .map(|(_, error)| error.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    ] {
        for token in ["at-secret", "rt-secret", "eyJhbGciOiJSUzI1NiJ9"] {
            assert!(!shown.contains(token), "{token} in {shown}");
        }
    }
}

#[test]
fn without_endpoints_nothing_is_sent_and_the_report_says_so() {
    let client = client(endpoints(false, None));
    let mut logout = session().logout(&client, &LogoutOptions::new()).unwrap();
    let Step::Done(logged_out) = logout.start(NOW).unwrap() else {
        panic!("nothing to send without a revocation endpoint")
    };
    assert_eq!(logged_out.not_revoked, ["refresh_token", "access_token"]);
    assert!(logged_out.revoked.is_empty());
    assert!(logged_out.end_session_url.is_none());
}

#[test]
fn the_logout_url_is_known_before_any_request() {
    let client = client(endpoints(true, Some("https://op.example.com/end?tenant=a")));
    let logout = session().logout(&client, &LogoutOptions::new()).unwrap();
    let url = logout.end_session_url().unwrap();
    assert_eq!(url.query_pairs().next().unwrap().1, "a");
    assert!(url.as_str().contains("id_token_hint="));
}

#[test]
fn an_end_session_endpoint_carrying_a_parameter_the_logout_sets_is_refused() {
    let client = client(endpoints(
        true,
        Some("https://op.example.com/end?client_id=x"),
    ));
    let error = session()
        .logout(&client, &LogoutOptions::new())
        .unwrap_err();
    assert_eq!(
        error,
        Error::EndpointParameterConflict {
            endpoint: "end_session_endpoint",
            name: "client_id".to_owned()
        }
    );
}

#[test]
fn a_session_without_a_refresh_token_revokes_only_the_access_token() {
    let client = client(endpoints(true, None));
    let session = Session::from_tokens(TokenSet::new(
        AccessToken::new("at-secret"),
        TokenType::Bearer,
        NOW,
    ));
    let logged_out = drive(
        session.logout(&client, &LogoutOptions::new()).unwrap(),
        NOW,
        |_| response(200, Some("text/plain"), "ok"),
    )
    .unwrap();
    assert_eq!(logged_out.revoked, ["access_token"]);
}

#[test]
fn the_flow_refuses_calls_out_of_order() {
    let client = client(endpoints(true, None));
    let mut logout = session().logout(&client, &LogoutOptions::new()).unwrap();
    assert!(matches!(
        logout.handle_response(response(200, None, ""), NOW),
        Err(Error::UnexpectedCall { flow: "logout", .. })
    ));
    // Once failed, over.
    assert!(matches!(
        logout.start(NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    let mut logout = session().logout(&client, &LogoutOptions::new()).unwrap();
    let _first = logout.start(NOW).unwrap();
    assert!(matches!(
        logout.handle_timeout(NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    assert!(matches!(
        logout.handle_response(response(200, None, ""), NOW),
        Err(Error::UnexpectedCall { .. })
    ));
}

#[test]
fn debug_never_shows_a_token() {
    let client = client(endpoints(true, Some("https://op.example.com/end")));
    let mut logout = session()
        .logout(&client, &LogoutOptions::new().state("st"))
        .unwrap();
    let step = logout.start(NOW).unwrap();
    let text = format!(
        "{logout:?} {step:?} {:?}",
        LogoutOptions::new().state("st-secret")
    );
    for secret in ["at-secret", "rt-secret", "eyJhbGci", "st-secret"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
