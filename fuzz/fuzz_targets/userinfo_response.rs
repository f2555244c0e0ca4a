//! The UserInfo flow (OIDC Core §5.3) with a fuzzed response: plain JSON or
//! form bodies, and signed responses (`application/jwt`) that the harness
//! can sign itself, so the checks behind the signature are reached.
//!
//! The client is `web-app` of `https://op.example.com`, authenticating with
//! `HMAC_SECRET` and allowing HS256 ID tokens (so signed UserInfo is HS256
//! keyed with that secret); the ID token names the subject `alice`.
//!
//! Input:
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | status: `STATUSES[b % 8]` of `grantflow_fuzz` |
//! | 1 | bits 0–2: `Content-Type` from `CONTENT_TYPES` here (`b % 7`); bit 3: the harness signs the body (as the claims of an HS256 JWT under `SIGNED_HEADERS[bits 5–6]`); bit 4: the body starts with a `WWW-Authenticate` value, ended by a NUL; bit 7: the request is made with `userinfo_for_subject` and the stored `sub` instead of the ID token |
//! | rest | the body |
//!
//! Oracles, beyond "no panic":
//!
//! - a success comes from a 2xx, has `sub` equal to the ID token's, and is
//!   signed exactly when the response is `application/jwt`; a signed
//!   success was signed by the harness (anything else is a forgery) under a
//!   header whose `typ` is absent or says `JWT` (RFC 8725 §3.11), its
//!   claims re-read with `serde_json` are an object without repeats with a
//!   string `iss` equal to the issuer, an `aud` naming the client, and a
//!   string `sub`; a plain success's claims are the body's members;
//!   `claims` holds every other member, untouched;
//! - a signed response under another `typ` (`at+jwt`) fails with
//!   `Error::UserInfo(WrongJwtType)`, before its claims are read;
//! - conversely, a 2xx signed response whose header and claims meet those rules, or a
//!   2xx `application/json` object without repeats, without `error` and
//!   with `sub` `alice`, succeeds;
//! - the flow never asks for anything more (there is no `jwks_uri`), and
//!   errors print short and clean, without the access token (which a body
//!   or a challenge may echo);
//! - both ways of naming the subject (`userinfo` with the ID token,
//!   `userinfo_for_subject` with its stored `sub`) behave the same.

#![no_main]

use std::sync::LazyLock;

use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Error, Flow, IdToken, IdTokenError,
    IdTokenPolicy, Issuer, RawIdToken, Step, TokenSet, UnixTime, parse_token_response,
};
use grantflow::{CompactJws, Expected};
use grantflow_fuzz::json::Document;
use grantflow_fuzz::{
    DEFAULT_NOW, HMAC_SECRET, Reader, STATUSES, build_response, check_printable, hs256_token,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// The access token the request carries; no error may show it.
const ACCESS_TOKEN: &str = "SlAV32hkKG";
const ISSUER: &str = "https://op.example.com";
const CLIENT_ID: &str = "web-app";
const SUBJECT: &str = "alice";
const SIGNED_HEADER: &[u8] = br#"{"alg":"HS256"}"#;
/// The headers a signed response is made under, and whether their `typ`
/// says JWT (RFC 7515 §4.1.9: any case, `application/` optional).
const SIGNED_HEADERS: [(&[u8], bool); 4] = [
    (SIGNED_HEADER, true),
    (br#"{"alg":"HS256","typ":"JWT"}"#, true),
    (br#"{"alg":"HS256","typ":"Application/jwt"}"#, true),
    (br#"{"alg":"HS256","typ":"at+jwt"}"#, false),
];

/// The `Content-Type` headers a response may carry.
const CONTENT_TYPES: [Option<&str>; 7] = [
    Some("application/json"),
    Some("application/jwt"),
    Some("Application/JWT; charset=utf-8"),
    None,
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("application/json; charset=utf-8"),
];

struct Setup {
    client: Client,
    tokens: TokenSet,
    id_token: IdToken,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let now = UnixTime::from_secs(DEFAULT_NOW);
    let client = Client::new(
        ClientId::new(CLIENT_ID),
        ClientAuth::ClientSecretBasic(ClientSecret::new(HMAC_SECRET)),
    )
    .with_issuer(Issuer::new(ISSUER).expect("valid"))
    .with_token_endpoint(EndpointUrl::parse("https://op.example.com/token").expect("valid"))
    .with_userinfo_endpoint(EndpointUrl::parse("https://op.example.com/userinfo").expect("valid"))
    .with_id_token_policy(
        IdTokenPolicy::default()
            .with_algorithms([grantflow::Algorithm::Hs256])
            .with_hmac(),
    );
    let claims = format!(
        r#"{{"iss":"{ISSUER}","sub":"{SUBJECT}","aud":"{CLIENT_ID}","exp":{},"iat":{DEFAULT_NOW}}}"#,
        DEFAULT_NOW + 600
    );
    let raw = RawIdToken::new(hs256_token(SIGNED_HEADER, claims.as_bytes()));
    let id_token = client
        .id_token_validator()
        .expect("the client has an issuer")
        .validate(&raw, &client.keys(), Expected::none(), now)
        .expect("the harness's ID token validates");
    let response = build_response(
        200,
        Some("application/json"),
        br#"{"access_token":"SlAV32hkKG","token_type":"Bearer","expires_in":3600}"#,
    );
    let tokens = parse_token_response(&response, now).expect("a bearer token");
    Setup {
        client,
        tokens,
        id_token,
    }
});

/// The claims of a signed response, if they meet OIDC Core §5.3.2: an
/// object without repeats, `iss` the issuer, `aud` naming the client, `sub`
/// a non-empty string; returns `sub` and the other members.
fn signed_rules(claims: &[u8]) -> Option<(String, Map<String, Value>)> {
    let mut map = Document::parse(claims).unique_object()?;
    if map.remove("iss")?.as_str()? != ISSUER {
        return None;
    }
    let aud_ok = match map.remove("aud")? {
        Value::String(aud) => aud == CLIENT_ID,
        Value::Array(items) => items.iter().any(|item| item.as_str() == Some(CLIENT_ID)),
        _ => false,
    };
    let sub = map.remove("sub")?.as_str()?.to_owned();
    (aud_ok && !sub.is_empty()).then_some((sub, map))
}

fuzz_target!(|data: &[u8]| {
    let setup = &*SETUP;
    let mut reader = Reader::new(data);
    let status = STATUSES[usize::from(reader.byte()) % STATUSES.len()];
    let flags = reader.byte();
    let content_type = CONTENT_TYPES[usize::from(flags & 7) % CONTENT_TYPES.len()];
    let sign = flags & 8 != 0;
    let (signed_header, jwt_typ) = SIGNED_HEADERS[usize::from((flags >> 5) & 3)];
    let by_subject = flags & 128 != 0;
    let mut rest = reader.rest();
    let mut challenge = None;
    if flags & 16 != 0 {
        let nul = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        challenge = Some(&rest[..nul]);
        rest = rest.get(nul + 1..).unwrap_or_default();
    }
    let body = if sign {
        hs256_token(signed_header, rest).into_bytes()
    } else {
        rest.to_vec()
    };
    let mut response = build_response(status, content_type, &body);
    if let Some(value) = challenge.and_then(|v| http::HeaderValue::from_bytes(v).ok()) {
        response
            .headers_mut()
            .insert(http::header::WWW_AUTHENTICATE, value);
    }
    let success = (200..300).contains(&status);
    let is_jwt = content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/jwt"))
    });

    let mut flow = if by_subject {
        setup.client.userinfo_for_subject(&setup.tokens, SUBJECT)
    } else {
        setup.client.userinfo(&setup.tokens, &setup.id_token)
    }
    .expect("a bearer token and an endpoint");
    match flow.start(UnixTime::from_secs(DEFAULT_NOW)) {
        Ok(Step::Send(request)) => {
            let auth = &request.headers()[http::header::AUTHORIZATION];
            assert_eq!(auth, "Bearer SlAV32hkKG");
            assert!(auth.is_sensitive());
            assert!(!request.uri().to_string().contains("SlAV32hkKG"));
        }
        other => panic!("userinfo did not send: {other:?}"),
    }
    let result = flow.handle_response(response, UnixTime::from_secs(DEFAULT_NOW));

    let signed_want = (sign && jwt_typ && is_jwt && success)
        .then(|| signed_rules(rest))
        .flatten();
    let plain_want = (content_type.is_some_and(|ct| ct.starts_with("application/json")) && success)
        .then(|| {
            let mut map = Document::parse(&body).unique_object()?;
            if !matches!(map.remove("error"), None | Some(Value::Null)) {
                return None;
            }
            let sub = map.remove("sub")?.as_str()?.to_owned();
            (!sub.is_empty()).then_some((sub, map))
        })
        .flatten();

    match result {
        Ok(Step::Done(user)) => {
            assert!(success, "userinfo from http {status}");
            assert_eq!(user.sub, SUBJECT);
            assert_eq!(user.signed, is_jwt, "signed is not the content type");
            if user.signed {
                assert!(sign, "a signed response the harness did not sign: {body:?}");
                assert!(jwt_typ, "a signed response of another typ was accepted");
                let (sub, claims) = signed_rules(rest).expect("accepted claims meet the rules");
                assert_eq!(sub, user.sub);
                assert_eq!(claims, user.claims);
            } else if let Some((sub, claims)) = &plain_want {
                assert_eq!(*sub, user.sub);
                assert_eq!(*claims, user.claims);
            } else {
                assert!(!user.claims.contains_key("sub"));
            }
        }
        Ok(other) => panic!("userinfo took another step: {other:?}"),
        Err(error) => {
            check_printable(&error);
            let shown = format!("{error} {error:?}");
            assert!(
                !shown.contains(ACCESS_TOKEN),
                "an error shows the access token: {shown}"
            );
            if sign && is_jwt && success && !jwt_typ && body.len() <= CompactJws::MAX_LEN {
                assert!(
                    matches!(error, Error::UserInfo(IdTokenError::WrongJwtType { .. })),
                    "another typ refused with {error:?}"
                );
            }
            if let Some((sub, _)) = signed_want.as_ref().or(plain_want.as_ref()) {
                assert!(
                    *sub != SUBJECT && matches!(error, Error::UserInfoSubjectMismatch),
                    "refused a good response: {error:?}"
                );
            }
            match &error {
                Error::OAuth(_)
                | Error::MalformedResponse(_)
                | Error::Jws(_)
                | Error::UserInfo(_)
                | Error::UserInfoSubjectMismatch => {}
                other => panic!("unexpected userinfo error {other:?}"),
            }
        }
    }
    assert!(matches!(
        flow.handle_response(
            build_response(200, None, b""),
            UnixTime::from_secs(DEFAULT_NOW)
        ),
        Err(Error::UnexpectedCall { .. })
    ));
});
