//! The discovery chain driven from `start` through fuzzed answers:
//! OpenID (`Discovery::openid`: OpenID Connect Discovery 1.0 §4, then the
//! JWK set at `jwks_uri`) or OAuth (`Discovery::oauth`: RFC 8414 §3, with
//! or without `with_jwks`); metadata documents the harness builds with
//! perturbations, or raw bytes, then key sets.
//!
//! Checked: no panic; the first request is a GET of
//! `{issuer}/.well-known/openid-configuration`, or of
//! `{origin}/.well-known/oauth-authorization-server{path}` (RFC 8414
//! §3.1), the second a GET of exactly the document's `jwks_uri`, made
//! exactly when the key set is wanted (always for OpenID) and named;
//! `Done` never after a check the harness broke on purpose (another
//! issuer, a trailing slash, a non-2xx status, an `http` endpoint off
//! loopback, and for OpenID a REQUIRED field or `jwks_uri` missing), and
//! then the issuer is the expected one, the key set is there exactly when
//! it was fetched and holds exactly the keys served, and `fetched_at` is
//! when the metadata came;
//! `handle_timeout` is refused; after `Done` or an error every call is
//! refused; errors are printable and bounded.
//!
//! Input: a byte (bit 0: the issuer, with or without a path; bit 1: OAuth
//! discovery; bit 2: OAuth discovery `with_jwks`), then answers
//! in the format of `grantflow_fuzz::driver`. The metadata template reads a
//! byte of perturbations; the key set template one byte (bit 0: `k1`, bit
//! 1: `k2`). Bit 6 of a template byte calls `handle_timeout` instead.

#![no_main]

use grantflow::{Discovery, Flow, Issuer, Step, UnixTime};
use grantflow_fuzz::Reader;
use grantflow_fuzz::driver::{self, Body};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const ISSUERS: [&str; 2] = [
    "https://op.example.com",
    "https://op.example.com/tenant/v2.0",
];

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let mode = reader.byte();
    let issuer = ISSUERS[usize::from(mode & 1)];
    let oauth = mode & 2 != 0;
    let wants_keys = !oauth || mode & 4 != 0;
    let mut flow = if oauth {
        let flow = Discovery::oauth(Issuer::new(issuer).expect("an issuer"));
        if wants_keys { flow.with_jwks() } else { flow }
    } else {
        Discovery::openid(Issuer::new(issuer).expect("an issuer"))
    };
    let mut now = UnixTime::from_secs(1_700_000_000);
    let Ok(Step::Send(request)) = flow.start(now) else {
        panic!("discovery starts with the metadata request")
    };
    assert_eq!(request.method(), http::Method::GET);
    let well_known = if oauth {
        let path = issuer
            .strip_prefix("https://op.example.com")
            .expect("the origin");
        format!("https://op.example.com/.well-known/oauth-authorization-server{path}")
    } else {
        format!("{issuer}/.well-known/openid-configuration")
    };
    assert_eq!(request.uri().to_string(), well_known);

    let mut jwks_uri: Option<String> = None;
    let mut broken = false;
    let mut templated = true;
    let mut metadata_at = None;
    let mut served_keys = None;

    for _ in 0..3 {
        let mut answer = driver::answer(&mut reader);
        now = driver::advance(now, answer.elapsed);
        let mut timeout = false;
        let in_flight_jwks = jwks_uri.is_some();
        let body = match std::mem::replace(&mut answer.body, Body::Template(0)) {
            Body::Raw(bytes) => {
                templated &= in_flight_jwks;
                served_keys = None;
                bytes
            }
            Body::Template(t) => {
                timeout = t & 0x40 != 0;
                if in_flight_jwks {
                    let keys = reader.byte();
                    served_keys = Some(usize::from(keys & 1) + usize::from(keys >> 1 & 1));
                    broken |= !answer.is_success();
                    driver::jwks_body(keys).as_bytes().to_vec()
                } else {
                    let p = reader.byte();
                    let mut doc = json!({
                        "issuer": match p & 3 { 1 => format!("{issuer}/"), 2 => "https://evil.example.com".to_owned(), _ => issuer.to_owned() },
                        "authorization_endpoint": format!("{issuer}/auth"),
                        "token_endpoint": if p & 4 != 0 { "http://op.example.com/token".to_owned() } else { format!("{issuer}/token") },
                        "jwks_uri": if p & 8 != 0 { "http://127.0.0.1:8080/jwks".to_owned() } else { format!("{issuer}/jwks") },
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["EdDSA", "RS256"],
                    });
                    if p & 16 != 0 {
                        doc.as_object_mut()
                            .expect("an object")
                            .remove("subject_types_supported");
                    }
                    if p & 32 != 0 {
                        doc.as_object_mut().expect("an object").remove("jwks_uri");
                    }
                    // OAuth metadata (RFC 8414 §2) has no `subject_types_supported`
                    // and an optional `jwks_uri`.
                    let required = if oauth { 4 } else { 4 | 16 | 32 };
                    broken = matches!(p & 3, 1 | 2) || p & required != 0 || !answer.is_success();
                    doc.to_string().into_bytes()
                }
            }
        };
        let result = if timeout {
            let result = flow.handle_timeout(now);
            assert!(driver::is_refusal(&result), "handle_timeout was accepted");
            result
        } else {
            flow.handle_response(driver::response(&answer, &body), now)
        };
        match result {
            Ok(Step::Send(request)) => {
                assert!(!in_flight_jwks, "a third request");
                assert!(wants_keys, "a key set request nobody asked for");
                assert_eq!(request.method(), http::Method::GET);
                metadata_at = Some(now);
                let uri = request.uri().to_string();
                if templated {
                    assert!(!broken, "a broken document was taken in");
                    let expected = if body.windows(9).any(|w| w == b"127.0.0.1") {
                        "http://127.0.0.1:8080/jwks".to_owned()
                    } else {
                        format!("{issuer}/jwks")
                    };
                    assert_eq!(uri, expected);
                }
                jwks_uri = Some(uri);
            }
            Ok(Step::Done(provider)) => {
                if templated {
                    assert!(!broken, "Done after a broken check");
                }
                assert_eq!(provider.issuer().as_str(), issuer);
                let metadata = provider.metadata();
                if in_flight_jwks {
                    assert_eq!(
                        metadata.jwks_uri.as_ref().map(|u| u.as_str().to_owned()),
                        jwks_uri,
                        "the key set of another jwks_uri"
                    );
                }
                assert_eq!(
                    provider.jwks().is_some(),
                    in_flight_jwks,
                    "a key set exactly when one was fetched"
                );
                if in_flight_jwks {
                    if let Some(count) = served_keys {
                        let jwks = provider.jwks().expect("checked above");
                        assert_eq!(jwks.keys().len(), count, "not the keys served");
                    }
                } else {
                    assert!(
                        !wants_keys || (oauth && metadata.jwks_uri.is_none()),
                        "Done without the key set it could fetch"
                    );
                    metadata_at = Some(now);
                }
                assert_eq!(Some(provider.fetched_at()), metadata_at);
                let _ = format!("{provider:?}");
                driver::assert_refuses_everything(&mut flow, now);
                return;
            }
            Ok(Step::WaitUntil(_)) => panic!("discovery never waits"),
            Err(error) => {
                driver::check_flow_error(&error, &[], &[], false);
                driver::assert_refuses_everything(&mut flow, now);
                return;
            }
        }
    }
});
