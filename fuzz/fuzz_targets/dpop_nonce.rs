//! DPoP (RFC 9449) at the token endpoint with fuzzed answers: a client
//! credentials flow of a client with a DPoP key gets up to three fuzzed
//! responses, each with an optional fuzzed `DPoP-Nonce` header.
//!
//! Checked: the flow retries (a second `Send`) only for a non-2xx
//! `use_dpop_nonce` error that came with a usable nonce, and at most once;
//! the retry's proof carries exactly that nonce and a new `jti`; every proof
//! has `typ` `dpop+jwt`, `htm` `POST`, the token endpoint as `htu`, the
//! flow's `now` as `iat`; after `Done` or an error every call is refused.
//!
//! Input: per response, one byte (`b & 1`: a nonce header follows, its
//! length `b >> 1`), the nonce bytes, the response header of
//! `grantflow_fuzz`, a 2-byte little-endian body length, the body.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::testing::CountingRng;
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, DpopKey, Ed25519Signer, EndpointUrl, Error,
    ErrorCode, Flow, HttpRequest, Step, UnixTime,
};
use grantflow_fuzz::{Reader, build_response, response_header};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const TOKEN_ENDPOINT: &str = "https://as.example.com/token";

fn proof(request: &HttpRequest, now: UnixTime) -> Value {
    let proof = request.headers()["dpop"].to_str().expect("ascii");
    let mut parts = proof.split('.');
    let decode = |part: Option<&str>| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part.expect("three parts")).unwrap())
            .unwrap()
    };
    let header = decode(parts.next());
    let claims = decode(parts.next());
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], TOKEN_ENDPOINT);
    assert_eq!(claims["iat"], now.as_secs());
    claims
}

fuzz_target!(|data: &[u8]| {
    let key = DpopKey::new(
        Ed25519Signer::from_seed(&[3; 32]).expect("32 bytes"),
        &mut CountingRng::new(0),
    )
    .expect("an asymmetric key");
    let client = Client::new(
        ClientId::new("app"),
        ClientAuth::ClientSecretBasic(ClientSecret::new("s")),
    )
    .with_token_endpoint(EndpointUrl::parse(TOKEN_ENDPOINT).expect("a valid url"))
    .with_dpop(key);
    let mut flow = client.client_credentials().expect("a confidential client");
    let now = UnixTime::from_secs(1_700_000_000);
    let Ok(Step::Send(first)) = flow.start(now) else {
        panic!("the first step sends the token request")
    };
    let mut last = proof(&first, now);
    assert!(last.get("nonce").is_none());

    let mut reader = Reader::new(data);
    let mut retries = 0;
    for _ in 0..3 {
        let flags = reader.byte();
        let nonce: Option<Vec<u8>> =
            (flags & 1 == 1).then(|| (0..flags >> 1).map(|_| reader.byte()).collect());
        let (status, content_type, _) = response_header(&mut reader);
        let length = usize::from(u16::from_le_bytes(reader.array()));
        let body: Vec<u8> = (0..length.min(4096)).map(|_| reader.byte()).collect();
        let mut response = build_response(status, content_type, &body);
        let mut usable_nonce = None;
        if let Some(nonce) = &nonce
            && let Ok(value) = http::HeaderValue::from_bytes(nonce)
        {
            if let Ok(text) = value.to_str()
                && !text.is_empty()
            {
                usable_nonce = Some(text.to_owned());
            }
            response.headers_mut().insert("dpop-nonce", value);
        }
        match flow.handle_response(response, now) {
            Ok(Step::Send(retry)) => {
                retries += 1;
                assert_eq!(retries, 1, "more than one retry");
                assert!(!(200..300).contains(&status), "a retry after a {status}");
                let claims = proof(&retry, now);
                assert_eq!(
                    claims["nonce"].as_str(),
                    usable_nonce.as_deref(),
                    "the retry carries the nonce"
                );
                assert_ne!(claims["jti"], last["jti"]);
                assert_eq!(retry.body(), first.body());
                last = claims;
            }
            result @ (Ok(Step::Done(_)) | Err(_)) => {
                if let Err(error) = &result {
                    let nonce_error = error.oauth_code() == Some(&ErrorCode::UseDpopNonce);
                    assert!(
                        !(nonce_error
                            && retries == 0
                            && usable_nonce.is_some()
                            && !(200..300).contains(&status)),
                        "use_dpop_nonce with a nonce was not retried"
                    );
                }
                assert!(matches!(
                    flow.handle_response(build_response(200, None, b"{}"), now),
                    Err(Error::UnexpectedCall { .. })
                ));
                assert!(matches!(flow.start(now), Err(Error::UnexpectedCall { .. })));
                return;
            }
            Ok(Step::WaitUntil(_)) => panic!("client credentials never waits"),
        }
    }
    // Three answers and still running is impossible: one retry at most.
    panic!("the flow outlived three answers");
});
