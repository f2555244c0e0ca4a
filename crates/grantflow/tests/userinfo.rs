//! The UserInfo flow (OIDC Core §5.3): the Bearer request, JSON and signed
//! responses, and the `sub` check against the ID token.

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::JwsError;
use grantflow::{
    Algorithm, Client, ClientAuth, ClientId, EndpointUrl, Error, ErrorCode, Flow, HttpResponse,
    IdToken, Issuer, JwkSet, RawIdToken, Step, TokenSet, UnixTime, UserInfo, parse_token_response,
};
use grantflow::{Expected, IdTokenError, IdTokenPolicy};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://op.example.com";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap()
}

fn sign(kid: &str, claims: &Value) -> String {
    sign_with_header(&json!({"alg": "EdDSA", "kid": kid}), claims)
}

fn sign_with_header(header: &Value, claims: &Value) -> String {
    let header = b64(header.to_string().as_bytes());
    let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let signature = b64(key().sign(input.as_bytes()).as_ref());
    format!("{input}.{signature}")
}

fn client() -> Client {
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
                                "x": b64(key().public_key().as_ref())}]});
    Client::new(ClientId::new("web-app"), ClientAuth::None)
        .with_issuer(Issuer::new(ISSUER).unwrap())
        .with_userinfo_endpoint(EndpointUrl::parse("https://op.example.com/userinfo").unwrap())
        .with_jwks(JwkSet::from_json(jwks.to_string().as_bytes()).unwrap())
        .with_id_token_policy(IdTokenPolicy::default().with_algorithms([Algorithm::EdDsa]))
}

fn id_token(client: &Client) -> IdToken {
    let claims = json!({"iss": ISSUER, "sub": "alice", "aud": "web-app",
                        "exp": NOW.as_secs() + 60, "iat": NOW.as_secs()});
    client
        .id_token_validator()
        .unwrap()
        .validate(
            &RawIdToken::new(sign("k1", &claims)),
            &client.keys(),
            Expected::none(),
            NOW,
        )
        .unwrap()
}

fn tokens(token_type: &str) -> TokenSet {
    let body = json!({"access_token": "SlAV32hkKG", "token_type": token_type});
    parse_token_response(&response(200, "application/json", body.to_string()), NOW).unwrap()
}

fn response(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}

fn run(client: &Client, answer: HttpResponse) -> Result<UserInfo, Error> {
    let mut flow = client
        .userinfo(&tokens("Bearer"), &id_token(client))
        .unwrap();
    let Step::Send(_) = flow.start(NOW).unwrap() else {
        panic!("expected a request")
    };
    match flow.handle_response(answer, NOW)? {
        Step::Done(user) => Ok(user),
        other => panic!("expected the end, got {other:?}"),
    }
}

#[test]
fn the_request_carries_the_token_in_a_bearer_header_only() {
    let client = client();
    let mut flow = client
        .userinfo(&tokens("bearer"), &id_token(&client))
        .unwrap();
    let Step::Send(request) = flow.start(NOW).unwrap() else {
        panic!("expected a request")
    };
    assert_eq!(request.method(), "GET");
    assert_eq!(request.uri(), "https://op.example.com/userinfo");
    assert!(request.uri().query().is_none(), "never in the url");
    assert!(request.body().is_empty(), "never in a body");
    let authorization = &request.headers()["authorization"];
    assert_eq!(authorization, "Bearer SlAV32hkKG");
    assert!(authorization.is_sensitive());
    assert!(!format!("{flow:?}").contains("SlAV32hkKG"));
}

#[test]
fn only_bearer_tokens_are_sent() {
    let client = client();
    for token_type in ["DPoP", "mac"] {
        assert!(matches!(
            client.userinfo(&tokens(token_type), &id_token(&client)),
            Err(Error::UnsupportedTokenType { .. })
        ));
    }
    let no_endpoint = Client::new(ClientId::new("web-app"), ClientAuth::None);
    assert!(matches!(
        no_endpoint.userinfo(&tokens("Bearer"), &id_token(&client)),
        Err(Error::MissingEndpoint {
            endpoint: "userinfo_endpoint"
        })
    ));
}

#[test]
fn a_json_response_with_the_same_sub() {
    let body = json!({"sub": "alice", "email": "alice@example.com", "email_verified": true});
    let user = run(
        &client(),
        response(200, "application/json; charset=utf-8", body.to_string()),
    )
    .unwrap();
    assert_eq!(user.sub, "alice");
    assert!(!user.signed);
    assert_eq!(user.string("email"), Some("alice@example.com"));
    assert_eq!(user.claims["email_verified"], true);
}

#[test]
fn rp_userinfo_bad_sub_claim() {
    let body = json!({"sub": "mallory", "email": "alice@example.com"});
    assert!(matches!(
        run(
            &client(),
            response(200, "application/json", body.to_string())
        ),
        Err(Error::UserInfoSubjectMismatch)
    ));
    for body in [r#"{"email":"a@b"}"#, r#"{"sub":5}"#, r#"{"sub":""}"#] {
        assert!(
            matches!(
                run(&client(), response(200, "application/json", body)),
                Err(Error::MalformedResponse(_))
            ),
            "{body}"
        );
    }
    assert!(matches!(
        run(
            &client(),
            response(
                200,
                "application/json",
                r#"{"sub":"alice","sub":"mallory"}"#
            )
        ),
        Err(Error::MalformedResponse(_))
    ));
}

#[test]
fn an_invalid_token_challenge_is_the_servers_error() {
    let answer = http::Response::builder()
        .status(401)
        .header(
            "www-authenticate",
            r#"Bearer realm="op", error="invalid_token", error_description="The access token expired""#,
        )
        .body(Vec::new())
        .unwrap();
    match run(&client(), answer) {
        Err(Error::OAuth(response)) => {
            assert_eq!(response.error, ErrorCode::InvalidToken);
            assert_eq!(
                response.description.as_deref(),
                Some("The access token expired")
            );
            assert_eq!(response.status, Some(401));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run(&client(), response(500, "text/html", "<html>oops</html>")),
        Err(Error::MalformedResponse(_))
    ));
}

#[test]
fn a_challenge_description_keeps_its_commas_and_any_scheme_order() {
    // oauthlib's description has commas; a DPoP challenge comes first, on
    // its own header, and the Bearer scheme is written in lower case.
    let answer = http::Response::builder()
        .status(401)
        .header("www-authenticate", r#"DPoP algs="ES256 PS256""#)
        .header(
            "www-authenticate",
            r#"bearer error="invalid_token", error_description="The access token provided is expired, revoked, malformed, or invalid for other reasons.""#,
        )
        .body(Vec::new())
        .unwrap();
    match run(&client(), answer) {
        Err(Error::OAuth(response)) => {
            assert_eq!(response.error, ErrorCode::InvalidToken);
            assert_eq!(
                response.description.as_deref(),
                Some(
                    "The access token provided is expired, revoked, malformed, or invalid for other reasons."
                )
            );
        }
        other => panic!("{other:?}"),
    }
    // `Bearerxyz` is another scheme, so its `error` is not the server's answer.
    let answer = http::Response::builder()
        .status(401)
        .header("www-authenticate", r#"Bearerxyz error="invalid_token""#)
        .body(Vec::new())
        .unwrap();
    assert!(matches!(
        run(&client(), answer),
        Err(Error::MalformedResponse(_))
    ));
}

#[test]
fn a_signed_response_is_verified_and_must_name_issuer_and_audience() {
    let claims = json!({"iss": ISSUER, "aud": "web-app", "sub": "alice", "name": "Alice"});
    let user = run(
        &client(),
        response(200, "application/jwt", sign("k1", &claims)),
    )
    .unwrap();
    assert!(user.signed);
    assert_eq!(user.string("name"), Some("Alice"));

    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example.com");
    assert!(matches!(
        run(
            &client(),
            response(200, "application/jwt", sign("k1", &wrong_iss))
        ),
        Err(Error::UserInfo(IdTokenError::IssuerMismatch { .. }))
    ));
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!(["other-app"]);
    assert!(matches!(
        run(
            &client(),
            response(200, "application/jwt", sign("k1", &wrong_aud))
        ),
        Err(Error::UserInfo(IdTokenError::AudienceMismatch))
    ));
    let mut no_aud = claims.clone();
    no_aud.as_object_mut().unwrap().remove("aud");
    assert!(matches!(
        run(
            &client(),
            response(200, "application/jwt", sign("k1", &no_aud))
        ),
        Err(Error::UserInfo(IdTokenError::MissingClaim { claim: "aud" }))
    ));
    let mut other_sub = claims.clone();
    other_sub["sub"] = json!("mallory");
    assert!(matches!(
        run(
            &client(),
            response(200, "application/jwt", sign("k1", &other_sub))
        ),
        Err(Error::UserInfoSubjectMismatch)
    ));
    // A forged signature, and a key the client does not have (no jwks_uri to re-fetch from).
    let mut forged = sign("k1", &claims);
    forged.push('A');
    assert!(matches!(
        run(&client(), response(200, "application/jwt", forged)),
        Err(Error::Jws(_))
    ));
    assert!(matches!(
        run(
            &client(),
            response(200, "application/jwt", sign("k2", &claims))
        ),
        Err(Error::Jws(JwsError::NoMatchingKey { .. }))
    ));
}

/// Runs a UserInfo request made for a stored `sub` at `now`.
fn run_for_subject(
    client: &Client,
    sub: &str,
    answer: HttpResponse,
    now: UnixTime,
) -> Result<UserInfo, Error> {
    let mut flow = client.userinfo_for_subject(&tokens("Bearer"), sub).unwrap();
    let Step::Send(_) = flow.start(now).unwrap() else {
        panic!("expected a request")
    };
    match flow.handle_response(answer, now)? {
        Step::Done(user) => Ok(user),
        other => panic!("expected the end, got {other:?}"),
    }
}

#[test]
fn a_restored_session_reaches_userinfo_with_the_stored_sub() {
    let client = client();
    // Sign-in time: the ID token validates, and the app stores its sub.
    let stored_sub = id_token(&client).subject().to_owned();
    // A day later the ID token has expired and would no longer validate.
    let later = NOW.saturating_add_secs(86_400);
    let claims = json!({"iss": ISSUER, "sub": "alice", "aud": "web-app",
                        "exp": NOW.as_secs() + 60, "iat": NOW.as_secs()});
    assert!(matches!(
        client.id_token_validator().unwrap().validate(
            &RawIdToken::new(sign("k1", &claims)),
            &client.keys(),
            Expected::none(),
            later,
        ),
        Err(Error::IdToken(IdTokenError::Expired { .. }))
    ));

    // The same request as with the ID token.
    let mut by_token = client
        .userinfo(&tokens("Bearer"), &id_token(&client))
        .unwrap();
    let mut by_sub = client
        .userinfo_for_subject(&tokens("Bearer"), &stored_sub)
        .unwrap();
    let (Step::Send(a), Step::Send(b)) =
        (by_token.start(later).unwrap(), by_sub.start(later).unwrap())
    else {
        panic!("expected two requests")
    };
    assert_eq!(a.method(), b.method());
    assert_eq!(a.uri(), b.uri());
    assert_eq!(a.headers(), b.headers());
    assert!(!format!("{by_sub:?}").contains("SlAV32hkKG"));

    // JSON and signed answers for that sub are accepted...
    let body = json!({"sub": "alice", "email": "alice@example.com"});
    let user = run_for_subject(
        &client,
        &stored_sub,
        response(200, "application/json", body.to_string()),
        later,
    )
    .unwrap();
    assert_eq!(user.sub, "alice");
    assert_eq!(user.string("email"), Some("alice@example.com"));
    let signed = json!({"iss": ISSUER, "aud": "web-app", "sub": "alice"});
    let user = run_for_subject(
        &client,
        &stored_sub,
        response(200, "application/jwt", sign("k1", &signed)),
        later,
    )
    .unwrap();
    assert!(user.signed);

    // ...and the §5.3.2 sub check still applies, signed or not.
    let mallory = json!({"sub": "mallory", "email": "alice@example.com"});
    assert!(matches!(
        run_for_subject(
            &client,
            &stored_sub,
            response(200, "application/json", mallory.to_string()),
            later
        ),
        Err(Error::UserInfoSubjectMismatch)
    ));
    let signed_mallory = json!({"iss": ISSUER, "aud": "web-app", "sub": "mallory"});
    assert!(matches!(
        run_for_subject(
            &client,
            &stored_sub,
            response(200, "application/jwt", sign("k1", &signed_mallory)),
            later
        ),
        Err(Error::UserInfoSubjectMismatch)
    ));
    // Exact comparison: no case folding, no trimming.
    for near in ["Alice", "alice ", " alice"] {
        assert!(matches!(
            run_for_subject(
                &client,
                near,
                response(200, "application/json", body.to_string()),
                later
            ),
            Err(Error::UserInfoSubjectMismatch)
        ));
    }
    // An empty stored sub matches nothing.
    assert!(
        run_for_subject(
            &client,
            "",
            response(200, "application/json", r#"{"sub":""}"#),
            later
        )
        .is_err()
    );
    // The same refusals as `userinfo`.
    assert!(matches!(
        client.userinfo_for_subject(&tokens("DPoP"), "alice"),
        Err(Error::UnsupportedTokenType { .. })
    ));
    assert!(matches!(
        Client::new(ClientId::new("web-app"), ClientAuth::None)
            .userinfo_for_subject(&tokens("Bearer"), "alice"),
        Err(Error::MissingEndpoint {
            endpoint: "userinfo_endpoint"
        })
    ));
}

#[test]
fn rfc8725_a_signed_response_of_another_jwt_type_is_refused() {
    let claims = json!({"iss": ISSUER, "aud": "web-app", "sub": "alice"});
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "logout+jwt",
        "dpop+jwt",
        "secevent+jwt",
        "JOSE",
    ] {
        let header = json!({"alg": "EdDSA", "kid": "k1", "typ": typ});
        match run(
            &client(),
            response(200, "application/jwt", sign_with_header(&header, &claims)),
        ) {
            Err(Error::UserInfo(IdTokenError::WrongJwtType { typ: found })) => {
                assert_eq!(found, typ);
            }
            other => panic!("{typ}: {other:?}"),
        }
    }
    for typ in ["JWT", "jwt", "application/jwt", "Application/JWT"] {
        let header = json!({"alg": "EdDSA", "kid": "k1", "typ": typ});
        let user = run(
            &client(),
            response(200, "application/jwt", sign_with_header(&header, &claims)),
        )
        .unwrap();
        assert!(user.signed, "{typ}");
    }
    // Checked after the signature: a forged token of another type is a
    // signature failure, never a type error.
    let header = json!({"alg": "EdDSA", "kid": "k1", "typ": "at+jwt"});
    let token = sign_with_header(&header, &claims);
    let (input, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{input}.{}", b64(&[0; 64]));
    assert!(matches!(
        run(&client(), response(200, "application/jwt", forged)),
        Err(Error::Jws(JwsError::BadSignature))
    ));
    // And before the claims: a genuine access token whose claims would not
    // even parse as UserInfo's is refused for its type.
    let token = sign_with_header(&header, &json!(["not", "an", "object"]));
    assert!(matches!(
        run(&client(), response(200, "application/jwt", token)),
        Err(Error::UserInfo(IdTokenError::WrongJwtType { .. }))
    ));
}

/// Found by the `userinfo_signed` fuzz target: a 503 whose form body repeats
/// a field named after the access token was refused with the field's name
/// quoted, token and all. No UserInfo error quotes the access token, wherever
/// the server puts it.
#[test]
fn no_userinfo_error_quotes_the_access_token() {
    let answers = [
        response(
            503,
            "application/x-www-form-urlencoded",
            "xSlAV32hkKGx=1&xSlAV32hkKGx=2",
        ),
        response(
            400,
            "application/json",
            r#"{"error":"invalid_request","error_description":"bad token SlAV32hkKG"}"#,
        ),
        response(
            200,
            "application/json",
            r#"{"sub":"alice","sub":"SlAV32hkKG"}"#,
        ),
        http::Response::builder()
            .status(401)
            .header(
                "www-authenticate",
                r#"Bearer error="invalid_token", error_description="SlAV32hkKG expired""#,
            )
            .body(Vec::new())
            .unwrap(),
    ];
    for answer in answers {
        let status = answer.status();
        let error = run_for_subject(&client(), "alice", answer, NOW).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("SlAV32hkKG"), "http {status}: {shown}");
    }
}
