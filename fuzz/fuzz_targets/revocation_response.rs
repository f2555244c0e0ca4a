//! Token revocation (RFC 7009) driven end to end with a fuzzed client
//! authentication, token and hint, and a fuzzed answer: `start`, then
//! `handle_response`, then every call that must now be refused.
//!
//! Input: see `grantflow_fuzz::endpoints` (`fuzz/src/endpoints.rs`).
//!
//! Oracles, beyond "no panic":
//!
//! - the request is the RFC 7009 §2.1 form POST of `token` and
//!   `token_type_hint`, authenticated as the client's method says;
//! - the flow is done exactly for http 2xx, whatever the body and content
//!   type (RFC 7009 §2.2); any other answer is an error: `OAuth` or
//!   `MalformedResponse` with the response's status, short and clean, and
//!   [`ErrorKind::Retryable`] for a 503, whose message without an OAuth
//!   error body says the token may still be valid (§2.2.1);
//! - the token appears neither in the flow's `Debug` nor in the error's
//!   `Display` or `Debug`, even when the body echoes it (`$T`);
//! - the finished flow refuses `start`, `handle_response` and
//!   `handle_timeout`.

#![no_main]

use grantflow::{Error, ErrorKind, Flow, Step};
use grantflow_fuzz::check_error;
use grantflow_fuzz::endpoints::{EndpointInput, REVOCATION_ENDPOINT, check_ended};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = EndpointInput::decode(data);
    let client = input.client();
    let mut flow = client
        .revoke(&input.token, input.hint.clone())
        .expect("the client has a revocation endpoint");
    input.check_withheld(&format!("{flow:?}"));

    let request = match flow.start(input.now) {
        Ok(Step::Send(request)) => request,
        Ok(_) => panic!("start did not send"),
        Err(e) => panic!("start failed: {e:?}"),
    };
    input.check_request(&request, REVOCATION_ENDPOINT);

    let status = input.response.status().as_u16();
    match flow.handle_response(input.response.clone(), input.now) {
        Ok(Step::Done(())) => assert!((200..300).contains(&status), "revoked with http {status}"),
        Ok(_) => panic!("revocation took a second step"),
        Err(error) => {
            assert!(
                !(200..300).contains(&status),
                "http {status} refused: {error:?}"
            );
            check_error(&input.response, &error);
            input.check_withheld(&error.to_string());
            input.check_withheld(&format!("{error:?}"));
            if status == 503 {
                assert_eq!(error.kind(), ErrorKind::Retryable);
                if let Error::MalformedResponse(malformed) = &error {
                    assert!(
                        malformed.reason.contains("may still be valid"),
                        "{malformed}"
                    );
                }
            }
        }
    }

    check_ended(flow.handle_response(input.response.clone(), input.now));
    check_ended(flow.start(input.now));
    check_ended(flow.handle_timeout(input.now));
});
