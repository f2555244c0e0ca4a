//! The UserInfo flow (OIDC Core §5.3) with a DPoP-bound access token
//! (RFC 9449 §7.1) and the resource server's nonce retry (§9), driven from
//! `start` through up to three fuzzed answers in fuzzed time.
//!
//! The client has an Ed25519 DPoP key and the token set a `DPoP` token
//! `ACCESS_TOKEN`; the request is made with `userinfo_for_subject` for
//! `alice`.
//!
//! Input, per answer: one flag byte — bit 0: a `DPoP-Nonce` header follows
//! (its length in the next byte, then its bytes); bit 1: the harness adds
//! `WWW-Authenticate: DPoP error="use_dpop_nonce"`; bit 2: a fuzzed
//! `WWW-Authenticate` value follows, ended by a NUL — then the response
//! header of `grantflow_fuzz` (status, content type, the instant it is
//! handled at), a 2-byte little-endian body length and the body.
//!
//! Oracles, beyond "no panic":
//! - every request is a GET of the UserInfo endpoint with
//!   `Authorization: DPoP <token>` marked sensitive and a proof with `typ`
//!   `dpop+jwt`, `htm` `GET`, `htu` the endpoint, `ath` the token's
//!   SHA-256, `iat` the instant of the call and a `jti` of its own; the
//!   first proof carries no nonce;
//! - a second request comes only after a 401 with a usable `DPoP-Nonce`
//!   (visible ASCII, 1 to 512 bytes) and a `WWW-Authenticate` naming DPoP
//!   and `use_dpop_nonce`, carries exactly that nonce, and comes once;
//!   conversely such an answer (the harness's challenge) to the first
//!   request is always retried;
//! - `Done` only from a 2xx, with `sub` `alice`;
//! - after `Done` or an error every call is refused, and no step, error or
//!   `Debug` of the flow shows the access token.

#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::testing::CountingRng;
use grantflow::{
    Client, ClientAuth, ClientId, DpopKey, Ed25519Signer, EndpointUrl, Error, Flow, HttpRequest,
    Step, TokenSet, UnixTime, parse_token_response,
};
use grantflow_fuzz::{DEFAULT_NOW, Reader, build_response, check_printable, response_header};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const USERINFO: &str = "https://op.example.com/userinfo";
const ACCESS_TOKEN: &str = "Kz8qYb3-dpop-bound-access-token";
const SUBJECT: &str = "alice";
/// RFC 9449 gives no bound; grantflow keeps nonces of at most 512 bytes.
const MAX_NONCE_LEN: usize = 512;

/// The token set, parsed once; the client (whose DPoP key remembers
/// nonces) is built for every input, so no input sees another's nonce.
static TOKENS: LazyLock<TokenSet> = LazyLock::new(|| {
    let body = format!(r#"{{"access_token":"{ACCESS_TOKEN}","token_type":"DPoP"}}"#);
    parse_token_response(
        &build_response(200, Some("application/json"), body.as_bytes()),
        UnixTime::from_secs(DEFAULT_NOW),
    )
    .expect("a DPoP token response")
});

fn client() -> Client {
    let key = DpopKey::new(
        Ed25519Signer::from_seed(&[7; 32]).expect("32 bytes"),
        &mut CountingRng::new(0),
    )
    .expect("an asymmetric key");
    Client::new(ClientId::new("app"), ClientAuth::None)
        .with_userinfo_endpoint(EndpointUrl::parse(USERINFO).expect("a valid url"))
        .with_dpop(key)
}

/// Checks a request and returns its proof's claims.
fn check_request(request: &HttpRequest, now: UnixTime) -> Value {
    assert_eq!(request.method(), http::Method::GET);
    assert_eq!(request.uri(), USERINFO);
    let authorization = &request.headers()[http::header::AUTHORIZATION];
    assert_eq!(authorization, &format!("DPoP {ACCESS_TOKEN}"));
    assert!(authorization.is_sensitive());
    let proof = request.headers()["dpop"].to_str().expect("ascii");
    let mut parts = proof.split('.');
    let mut decode = || -> Value {
        let part = parts.next().expect("three parts");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url"))
            .expect("a JSON part")
    };
    let header = decode();
    let claims = decode();
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], USERINFO);
    assert_eq!(claims["iat"], now.as_secs());
    let ath = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        ACCESS_TOKEN.as_bytes(),
    ));
    assert_eq!(claims["ath"], ath.as_str());
    assert!(claims["jti"].is_string());
    claims
}

fn refused<T: std::fmt::Debug>(result: Result<Step<T>, Error>) {
    assert!(
        matches!(result, Err(Error::UnexpectedCall { .. })),
        "a finished flow answered {result:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let mut flow = client()
        .userinfo_for_subject(&TOKENS, SUBJECT)
        .expect("a DPoP client with a DPoP token");
    let start = UnixTime::from_secs(DEFAULT_NOW);
    let Ok(Step::Send(first)) = flow.start(start) else {
        panic!("the first step sends the userinfo request")
    };
    let mut last = check_request(&first, start);
    assert!(last.get("nonce").is_none(), "a nonce before any was given");
    assert!(!format!("{first:?}").contains(ACCESS_TOKEN));

    let mut reader = Reader::new(data);
    let mut retries = 0;
    for _ in 0..3 {
        let flags = reader.byte();
        let nonce: Option<Vec<u8>> = (flags & 1 == 1).then(|| {
            let len = reader.byte();
            (0..len).map(|_| reader.byte()).collect()
        });
        let good_challenge = flags & 2 != 0;
        let fuzzed_challenge: Option<Vec<u8>> = (flags & 4 != 0).then(|| {
            let mut value = Vec::new();
            loop {
                match reader.byte() {
                    0 => break value,
                    b => value.push(b),
                }
                if value.len() >= 256 {
                    break value;
                }
            }
        });
        let (status, content_type, now) = response_header(&mut reader);
        let length = usize::from(u16::from_le_bytes(reader.array()));
        let body: Vec<u8> = (0..length.min(2048)).map(|_| reader.byte()).collect();

        let mut response = build_response(status, content_type, &body);
        let mut usable_nonce = None;
        if let Some(value) = nonce.and_then(|n| http::HeaderValue::from_bytes(&n).ok()) {
            if let Ok(text) = value.to_str()
                && !text.is_empty()
                && text.len() <= MAX_NONCE_LEN
            {
                usable_nonce = Some(text.to_owned());
            }
            response.headers_mut().insert("dpop-nonce", value);
        }
        let mut challenge_texts = Vec::new();
        if good_challenge {
            let value = http::HeaderValue::from_static(r#"DPoP error="use_dpop_nonce""#);
            response
                .headers_mut()
                .append(http::header::WWW_AUTHENTICATE, value);
            challenge_texts.push(r#"DPoP error="use_dpop_nonce""#.to_owned());
        }
        if let Some(value) = fuzzed_challenge.and_then(|v| http::HeaderValue::from_bytes(&v).ok()) {
            challenge_texts.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
            response
                .headers_mut()
                .append(http::header::WWW_AUTHENTICATE, value);
        }

        let result = flow.handle_response(response, now);
        assert!(!format!("{flow:?}").contains(ACCESS_TOKEN));
        match result {
            Ok(Step::Send(retry)) => {
                retries += 1;
                assert_eq!(retries, 1, "more than one retry");
                assert_eq!(status, 401, "a retry after a {status}");
                let nonce = usable_nonce.as_deref().expect("a retry without a nonce");
                assert!(
                    challenge_texts.iter().any(|text| {
                        let text = text.to_ascii_lowercase();
                        text.contains("dpop") && text.contains("use_dpop_nonce")
                    }),
                    "a retry without a use_dpop_nonce challenge: {challenge_texts:?}"
                );
                let claims = check_request(&retry, now);
                assert_eq!(claims["nonce"].as_str(), Some(nonce), "the retry's nonce");
                assert_ne!(claims["jti"], last["jti"], "a proof replayed");
                last = claims;
            }
            Ok(Step::Done(user)) => {
                assert!((200..300).contains(&status), "userinfo from http {status}");
                assert_eq!(user.sub, SUBJECT);
                refused(flow.handle_response(build_response(200, None, b"{}"), now));
                refused(flow.start(now));
                refused(flow.handle_timeout(now));
                return;
            }
            Ok(Step::WaitUntil(at)) => panic!("userinfo never waits (asked for {at:?})"),
            Err(error) => {
                check_printable(&error);
                let shown = format!("{error} {error:?}");
                assert!(!shown.contains(ACCESS_TOKEN), "the token in {shown}");
                assert!(
                    !(retries == 0 && status == 401 && good_challenge && usable_nonce.is_some()),
                    "a use_dpop_nonce challenge with a nonce was not retried: {error:?}"
                );
                refused(flow.handle_response(build_response(200, None, b"{}"), now));
                refused(flow.start(now));
                refused(flow.handle_timeout(now));
                return;
            }
        }
    }
    // A fourth answer is never needed: one retry at most, then an outcome.
    panic!("the flow outlived three answers");
});
