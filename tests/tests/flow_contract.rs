//! The flow contract, checked on every flow the core has: any error ends
//! the flow (every later call is a typed error, never a request or a
//! result), an early `handle_timeout` changes nothing, and no step, flow or
//! result prints a secret with `{:?}` or `{:#?}`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Debug;

use grantflow::testing::{json_response, response};
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, Delayed, Discovery, EndpointUrl, Error, Flow,
    HttpResponse, Issuer, Step, UnixTime,
};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const SECRET: &str = "client-secret-Qx81Lm";
const ACCESS: &str = "access-token-Tz52Wd";
const REFRESH: &str = "refresh-token-Hb73Kp";
const TOKENS: &str = r#"{"access_token":"access-token-Tz52Wd","token_type":"Bearer","expires_in":60,"refresh_token":"refresh-token-Hb73Kp","scope":"a b"}"#;

fn confidential() -> Client {
    Client::new(
        ClientId::new("svc"),
        ClientAuth::ClientSecretPost(ClientSecret::new(SECRET)),
    )
    .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap())
}

/// Every call after an error is an error: `start`, a response that would
/// have succeeded, and `handle_timeout`.
fn assert_ended<F: Flow>(flow: &mut F, good: HttpResponse)
where
    F::Output: Debug,
{
    assert!(matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })));
    assert!(matches!(
        flow.handle_response(good, NOW),
        Err(Error::UnexpectedCall { .. })
    ));
    assert!(matches!(
        flow.handle_timeout(NOW),
        Err(Error::UnexpectedCall { .. })
    ));
}

fn assert_no_secret(what: &dyn Debug) {
    for text in [format!("{what:?}"), format!("{what:#?}")] {
        for secret in [SECRET, ACCESS, REFRESH] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}

#[test]
fn client_credentials_ends_after_an_error() {
    let cases = [
        json_response(400, r#"{"error":"invalid_client"}"#),
        response(502, Some("text/html"), "<html>bad gateway</html>"),
        json_response(200, r#"{"token_type":"Bearer"}"#),
        json_response(200, r#"{"access_token":"x","token_type":"mac"}"#),
    ];
    for answer in cases {
        let mut flow = confidential().client_credentials().unwrap();
        let Step::Send(_) = flow.start(NOW).unwrap() else {
            panic!("expected a request")
        };
        assert!(flow.handle_response(answer, NOW).is_err());
        assert_ended(&mut flow, json_response(200, TOKENS));
    }
    // A call out of order is an error that ends the flow too.
    let mut flow = confidential().client_credentials().unwrap();
    assert!(flow.handle_timeout(NOW).is_err());
    assert_ended(&mut flow, json_response(200, TOKENS));
    let mut flow = confidential().client_credentials().unwrap();
    assert!(
        flow.handle_response(json_response(200, TOKENS), NOW)
            .is_err()
    );
    assert_ended(&mut flow, json_response(200, TOKENS));
}

#[test]
fn discovery_ends_after_an_error_at_either_request() {
    let metadata = r#"{"issuer":"https://op.example.com","authorization_endpoint":"https://op.example.com/auth","token_endpoint":"https://op.example.com/token","jwks_uri":"https://op.example.com/jwks","response_types_supported":["code"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"]}"#;
    let issuer = Issuer::new("https://op.example.com").unwrap();
    // The metadata request fails.
    let mut flow = Discovery::openid(issuer.clone());
    let _ = flow.start(NOW).unwrap();
    assert!(flow.handle_response(json_response(503, "{}"), NOW).is_err());
    assert_ended(&mut flow, json_response(200, metadata));
    // The metadata is fine; the key set is not.
    let mut flow = Discovery::openid(issuer);
    let _ = flow.start(NOW).unwrap();
    let Step::Send(jwks) = flow
        .handle_response(json_response(200, metadata), NOW)
        .unwrap()
    else {
        panic!("expected the jwks request")
    };
    assert_eq!(jwks.uri(), "https://op.example.com/jwks");
    assert!(flow.handle_response(json_response(200, "[]"), NOW).is_err());
    assert_ended(&mut flow, json_response(200, r#"{"keys":[]}"#));
    // Calls out of order end it too.
    let mut flow = Discovery::openid(Issuer::new("https://op.example.com").unwrap());
    assert!(
        flow.handle_response(json_response(200, metadata), NOW)
            .is_err()
    );
    assert_ended(&mut flow, json_response(200, metadata));
    let mut flow = Discovery::openid(Issuer::new("https://op.example.com").unwrap());
    assert!(flow.handle_timeout(NOW).is_err());
    assert_ended(&mut flow, json_response(200, metadata));
}

#[test]
fn an_early_timeout_changes_nothing() {
    let at = NOW.saturating_add_secs(30);
    let mut flow = Delayed::new(confidential().client_credentials().unwrap(), at);
    assert!(matches!(flow.start(NOW).unwrap(), Step::WaitUntil(t) if t == at));
    for early in [NOW, NOW.saturating_add_secs(29)] {
        assert!(matches!(flow.handle_timeout(early).unwrap(), Step::WaitUntil(t) if t == at));
    }
    // A response while waiting is out of order, and ends the flow.
    let mut waiting = Delayed::new(confidential().client_credentials().unwrap(), at);
    let _ = waiting.start(NOW).unwrap();
    assert!(
        waiting
            .handle_response(json_response(200, TOKENS), NOW)
            .is_err()
    );
    assert_ended(&mut waiting, json_response(200, TOKENS));
    // At the deadline the inner flow starts, and runs to its end.
    let Step::Send(request) = flow.handle_timeout(at).unwrap() else {
        panic!("expected the token request")
    };
    assert_eq!(request.uri(), "https://as.example.com/token");
    let Step::Done(tokens) = flow
        .handle_response(json_response(200, TOKENS), at)
        .unwrap()
    else {
        panic!("expected the tokens")
    };
    assert_eq!(tokens.expires_at, Some(at.saturating_add_secs(60)));
    // The inner flow's error ends the wrapper as well.
    let mut failing = Delayed::new(confidential().client_credentials().unwrap(), NOW);
    let _ = failing.start(NOW).unwrap();
    assert!(
        failing
            .handle_response(json_response(400, r#"{"error":"invalid_grant"}"#), NOW)
            .is_err()
    );
    assert_ended(&mut failing, json_response(200, TOKENS));
}

#[test]
fn no_step_flow_or_result_prints_a_secret() {
    for auth in [
        ClientAuth::ClientSecretPost(ClientSecret::new(SECRET)),
        ClientAuth::ClientSecretBasic(ClientSecret::new(SECRET)),
    ] {
        let client = Client::new(ClientId::new("svc"), auth)
            .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap());
        assert_no_secret(&client);
        let mut flow = client.client_credentials().unwrap();
        assert_no_secret(&flow);
        let step = flow.start(NOW).unwrap();
        assert_no_secret(&step);
        let done = flow
            .handle_response(json_response(200, TOKENS), NOW)
            .unwrap();
        assert_no_secret(&done);
        let Step::Done(tokens) = done else {
            panic!("expected the tokens")
        };
        assert_eq!(tokens.access_token.secret(), ACCESS);
        assert_no_secret(&tokens);
    }
}

mod oidc {
    use super::*;
    use grantflow::testing::{CountingRng, jwk_set, sign_jwt, test_signer};
    use grantflow::{AccessToken, Algorithm, IdTokenPolicy, JwsSigner, TokenSet, TokenType};
    use serde_json::json;

    const ISSUER: &str = "https://op.example.com";
    const REDIRECT: &str = "https://app.example.com/cb";

    fn client(signer: &dyn JwsSigner) -> Client {
        confidential()
            .with_issuer(Issuer::new(ISSUER).unwrap())
            .with_authorization_endpoint(EndpointUrl::parse("https://op.example.com/auth").unwrap())
            .with_userinfo_endpoint(EndpointUrl::parse("https://op.example.com/me").unwrap())
            .with_jwks(jwk_set(&[signer]).unwrap())
            .with_id_token_policy(IdTokenPolicy::default().with_algorithms([Algorithm::EdDsa]))
    }

    fn param(url: &url::Url, name: &str) -> String {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .unwrap()
    }

    #[test]
    fn userinfo_ends_after_an_error_and_prints_no_token() {
        let signer = test_signer(7, "k7");
        let client = client(&signer);
        let tokens = TokenSet::new(AccessToken::new(ACCESS), TokenType::Bearer, NOW);
        let good = json_response(200, r#"{"sub":"alice"}"#);
        let mut flow = client.userinfo_for_subject(&tokens, "alice").unwrap();
        let step = flow.start(NOW).unwrap();
        assert_no_secret(&step);
        assert_no_secret(&flow);
        let challenge = http::Response::builder()
            .status(401)
            .header("www-authenticate", r#"Bearer error="invalid_token""#)
            .body(Vec::new())
            .unwrap();
        assert!(flow.handle_response(challenge, NOW).is_err());
        assert_ended(&mut flow, good.clone());
        for misuse in [0, 1] {
            let mut flow = client.userinfo_for_subject(&tokens, "alice").unwrap();
            if misuse == 0 {
                assert!(flow.handle_response(good.clone(), NOW).is_err());
            } else {
                assert!(flow.handle_timeout(NOW).is_err());
            }
            assert_ended(&mut flow, good.clone());
        }
    }

    #[test]
    fn sign_in_and_code_exchanges_end_after_an_error_and_print_no_secret() {
        let signer = test_signer(7, "k7");
        let client = client(&signer);
        // A sign-in, to the end: no step prints the code, the verifier, a
        // token or the nonce.
        let (url, pending) = client
            .sign_in(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(0), NOW)
            .unwrap();
        let (state, nonce) = (param(&url, "state"), param(&url, "nonce"));
        assert_no_secret(&pending);
        assert!(!format!("{pending:?}").contains(&nonce));
        let redirect = format!("{REDIRECT}?code=code-Vn28Ps&state={state}");
        let mut exchange = pending.callback(&client, &redirect, NOW).unwrap();
        let step = exchange.start(NOW).unwrap();
        assert_no_secret(&step);
        assert!(!format!("{step:?}").contains("code-Vn28Ps"));
        let id_token = sign_jwt(
            &signer,
            &json!({"iss": ISSUER, "sub": "alice", "aud": "svc", "nonce": nonce,
                    "iat": NOW.as_secs(), "exp": NOW.as_secs() + 60}),
        )
        .unwrap();
        let body = json!({"access_token": ACCESS, "refresh_token": REFRESH, "token_type": "Bearer",
                          "id_token": id_token})
        .to_string();
        let done = exchange
            .handle_response(json_response(200, body.clone()), NOW)
            .unwrap();
        for text in [format!("{done:?}"), format!("{done:#?}")] {
            for secret in [ACCESS, REFRESH, nonce.as_str(), id_token.as_str()] {
                assert!(!text.contains(secret), "{secret} leaked: {text}");
            }
        }
        let Step::Done(sign_in) = done else {
            panic!("expected the sign-in")
        };
        assert_eq!(sign_in.id_token.subject(), "alice");

        // The same exchange, refused by the server: every later call errs.
        let (url, pending) = client
            .sign_in(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(1), NOW)
            .unwrap();
        let redirect = format!("{REDIRECT}?code=c&state={}", param(&url, "state"));
        let mut exchange = pending.callback(&client, &redirect, NOW).unwrap();
        let _ = exchange.start(NOW).unwrap();
        let refused = json_response(400, r#"{"error":"invalid_grant"}"#);
        assert!(exchange.handle_response(refused, NOW).is_err());
        assert_ended(&mut exchange, json_response(200, body.clone()));

        // A plain OAuth code exchange, ended by a malformed answer.
        let (url, pending) = client
            .authorize(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(2), NOW)
            .unwrap();
        let redirect = format!("{REDIRECT}?code=c&state={}", param(&url, "state"));
        let mut exchange = pending.callback(&client, &redirect, NOW).unwrap();
        assert_no_secret(&exchange.start(NOW).unwrap());
        let html = response(502, Some("text/html"), "<html>bad gateway</html>");
        assert!(exchange.handle_response(html, NOW).is_err());
        assert_ended(&mut exchange, json_response(200, TOKENS));
    }
}

/// The lifecycle's flows and the newer grants: refresh, revocation,
/// introspection, device authorization and polling, PAR, logout.
mod lifecycle_and_newer_grants {
    use super::*;
    use grantflow::testing::CountingRng;
    use grantflow::{
        AccessToken, Endpoints, LogoutOptions, RefreshToken, Scope, Session, TokenSet, TokenType,
        TokenTypeHint,
    };

    fn client() -> Client {
        let mut endpoints = Endpoints::default();
        for (slot, path) in [
            (&mut endpoints.token, "token"),
            (&mut endpoints.revocation, "revoke"),
            (&mut endpoints.introspection, "introspect"),
            (&mut endpoints.device_authorization, "device"),
            (&mut endpoints.pushed_authorization_request, "par"),
            (&mut endpoints.authorization, "authorize"),
            (&mut endpoints.end_session, "logout"),
        ] {
            *slot = Some(EndpointUrl::parse(&format!("https://as.example.com/{path}")).unwrap());
        }
        Client::new(
            ClientId::new("svc"),
            ClientAuth::ClientSecretBasic(ClientSecret::new(SECRET)),
        )
        .with_endpoints(endpoints)
    }

    /// Starts `flow`, answers its first request with `bad` (which must
    /// fail it), prints nothing secret on the way, and checks it ended.
    fn fails_then_ends<F>(mut flow: F, bad: HttpResponse, good: HttpResponse)
    where
        F: Flow + Debug,
        F::Output: Debug,
    {
        assert_no_secret(&flow);
        let step = flow.start(NOW).unwrap();
        assert_no_secret(&step);
        let error = flow.handle_response(bad, NOW).unwrap_err();
        assert_no_secret(&error);
        assert!(!error.to_string().contains(ACCESS) && !error.to_string().contains(REFRESH));
        assert_no_secret(&flow);
        assert_ended(&mut flow, good);
    }

    #[test]
    fn refresh_revocation_and_introspection_end_after_an_error_and_print_no_secret() {
        let client = client();
        let refresh = RefreshToken::new(REFRESH);
        fails_then_ends(
            client.refresh(&refresh).unwrap(),
            json_response(400, r#"{"error":"invalid_grant"}"#),
            json_response(200, TOKENS),
        );
        fails_then_ends(
            client.revoke_refresh_token(&refresh).unwrap(),
            json_response(400, r#"{"error":"unsupported_token_type"}"#),
            response(200, None, ""),
        );
        // A server echoing the token in its error must not make it print.
        fails_then_ends(
            client
                .introspect(ACCESS, Some(TokenTypeHint::AccessToken))
                .unwrap(),
            json_response(
                400,
                r#"{"error":"invalid_request","error_description":"bad token access-token-Tz52Wd"}"#,
            ),
            json_response(200, r#"{"active":false}"#),
        );
    }

    #[test]
    fn device_flow_and_par_end_after_an_error() {
        let client = client();
        fails_then_ends(
            client
                .device_authorization()
                .unwrap()
                .scope(Scope::new("a").unwrap()),
            json_response(400, r#"{"error":"invalid_client"}"#),
            json_response(
                200,
                r#"{"device_code":"d","user_code":"U","verification_uri":"https://as.example.com/d","expires_in":600}"#,
            ),
        );
        let push = client
            .authorize("https://app.example.com/cb")
            .unwrap()
            .push(&mut CountingRng::new(3), NOW)
            .unwrap();
        fails_then_ends(
            push,
            json_response(400, r#"{"error":"invalid_request"}"#),
            json_response(201, r#"{"request_uri":"urn:x","expires_in":60}"#),
        );
    }

    #[test]
    fn device_polling_never_goes_back_in_time_and_an_early_timeout_changes_nothing() {
        let client = client();
        let mut request = client.device_authorization().unwrap();
        let _ = request.start(NOW).unwrap();
        let Step::Done(authorization) = request
            .handle_response(
                json_response(
                    200,
                    r#"{"device_code":"d","user_code":"U","verification_uri":"https://as.example.com/d","expires_in":600,"interval":5}"#,
                ),
                NOW,
            )
            .unwrap()
        else {
            panic!("expected the device authorization")
        };
        let mut poll = authorization.poll();
        let Step::WaitUntil(first) = poll.start(NOW).unwrap() else {
            panic!("polling starts by waiting")
        };
        assert!(first > NOW);
        // Early: the same deadline, nothing sent.
        let Step::WaitUntil(again) = poll.handle_timeout(NOW).unwrap() else {
            panic!("an early timeout keeps waiting")
        };
        assert_eq!(again, first);
        let Step::Send(_) = poll.handle_timeout(first).unwrap() else {
            panic!("the first poll is sent at its deadline")
        };
        let Step::WaitUntil(next) = poll
            .handle_response(json_response(400, r#"{"error":"slow_down"}"#), first)
            .unwrap()
        else {
            panic!("slow_down waits")
        };
        assert!(next > first, "WaitUntil went back in time");
        assert_no_secret(&poll);
    }

    #[test]
    fn logout_prints_no_token() {
        let session = Session::from_tokens(
            TokenSet::new(AccessToken::new(ACCESS), TokenType::Bearer, NOW)
                .with_refresh_token(RefreshToken::new(REFRESH)),
        );
        assert_no_secret(&session);
        let mut logout = session.logout(&client(), &LogoutOptions::new()).unwrap();
        assert_no_secret(&logout);
        let step = logout.start(NOW).unwrap();
        assert_no_secret(&step);
        let step = logout
            .handle_response(
                json_response(503, r#"{"error":"temporarily_unavailable"}"#),
                NOW,
            )
            .unwrap();
        assert_no_secret(&step);
        let done = logout
            .handle_response(response(200, None, ""), NOW)
            .unwrap();
        assert_no_secret(&done);
        assert_ended(&mut logout, response(200, None, ""));
    }
}

/// A server that quotes a secret of the request in its error (the refresh
/// token, the client secret) does not get it into the error.
#[test]
fn a_secret_echoed_in_a_token_error_is_withheld() {
    let echo = |secret: &str| {
        json_response(
            400,
            format!(r#"{{"error":"invalid_grant","error_description":"unknown value {secret}"}}"#),
        )
    };
    let client = confidential();
    let mut flow = client.client_credentials().unwrap();
    let _ = flow.start(NOW).unwrap();
    let error = flow.handle_response(echo(SECRET), NOW).unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&grantflow::ErrorCode::InvalidGrant)
    );
    assert!(!error.to_string().contains(SECRET), "{error}");
    assert_no_secret(&error);

    let mut refresh = client
        .refresh(&grantflow::RefreshToken::new(REFRESH))
        .unwrap();
    let _ = refresh.start(NOW).unwrap();
    let error = refresh.handle_response(echo(REFRESH), NOW).unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&grantflow::ErrorCode::InvalidGrant)
    );
    assert!(!error.to_string().contains(REFRESH), "{error}");
    // Other descriptions stay.
    let mut refresh = client
        .refresh(&grantflow::RefreshToken::new(REFRESH))
        .unwrap();
    let _ = refresh.start(NOW).unwrap();
    let error = refresh
        .handle_response(echo("nothing secret"), NOW)
        .unwrap_err();
    assert!(error.to_string().contains("nothing secret"), "{error}");
}
