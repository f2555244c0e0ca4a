//! Token introspection (RFC 7662) driven end to end with a fuzzed client
//! authentication, token and hint, and a fuzzed answer: `start`, then
//! `handle_response`, then every call that must now be refused.
//!
//! Input: see `grantflow_fuzz::endpoints` (`fuzz/src/endpoints.rs`).
//!
//! Oracles, beyond "no panic":
//!
//! - the request is the RFC 7662 §2.1 form POST of `token` and
//!   `token_type_hint`, authenticated as the client's method says;
//! - the flow is done exactly when the answer is a 2xx whose body (after a
//!   byte order mark), re-read with `serde_json`, is an object without
//!   repeated names at any depth, without a non-null `error`, with a JSON
//!   boolean `active`, and, when `active` is true, with every RFC 7662 §2.2
//!   member of its documented type (strings, NumericDates, `aud` a string or
//!   an array of strings; `null` as absent);
//! - a done answer holds exactly the body's values: nothing at all besides
//!   `active: false` for an inactive token; for an active one each member
//!   as sent (`scope` split on spaces, `token_type` empty as absent), every
//!   other member in `extra`, untouched;
//! - an error is `OAuth` or `MalformedResponse` with the response's status,
//!   short and clean;
//! - the token appears neither in the flow's `Debug` nor in the error's
//!   `Display` or `Debug`, even when the body echoes it (`$T`);
//! - the finished flow refuses `start`, `handle_response` and
//!   `handle_timeout`.

#![no_main]

use grantflow::{Flow, IntrospectionResponse, Step, TokenType};
use grantflow_fuzz::check_error;
use grantflow_fuzz::endpoints::{EndpointInput, INTROSPECTION_ENDPOINT, check_ended};
use grantflow_fuzz::json::{Document, Slot, is_string_array, numeric_date, slot};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const STRINGS: [&str; 7] = [
    "scope",
    "client_id",
    "username",
    "token_type",
    "sub",
    "iss",
    "jti",
];
const DATES: [&str; 3] = ["exp", "iat", "nbf"];
const KNOWN: [&str; 13] = [
    "active",
    "scope",
    "client_id",
    "username",
    "token_type",
    "exp",
    "iat",
    "nbf",
    "sub",
    "aud",
    "iss",
    "jti",
    "error",
];

/// The body's members, when the answer must be a success.
fn expected_success(status: u16, body: &[u8]) -> Option<Map<String, Value>> {
    if !(200..300).contains(&status) {
        return None;
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let map = Document::parse(body).unique_object()?;
    if slot(&map, "error", |_| false) != Slot::Absent {
        return None;
    }
    let active = map.get("active")?.as_bool()?;
    if active {
        // `error_description` and `error_uri` are ordinary members without
        // `error`, of any type: only the RFC 7662 members are typed.
        for name in STRINGS {
            if slot(&map, name, Value::is_string) == Slot::WrongType {
                return None;
            }
        }
        for name in DATES {
            if slot(&map, name, |v| numeric_date(v).is_some()) == Slot::WrongType {
                return None;
            }
        }
        if slot(&map, "aud", |v| v.is_string() || is_string_array(v)) == Slot::WrongType {
            return None;
        }
    }
    Some(map)
}

fn string(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn check_success(map: &Map<String, Value>, info: &IntrospectionResponse) {
    assert_eq!(Some(info.active), map["active"].as_bool());
    if !info.active {
        assert_eq!(info.scopes, None);
        assert_eq!(info.client_id, None);
        assert_eq!(info.username, None);
        assert_eq!(info.token_type, None);
        assert_eq!((info.exp, info.iat, info.nbf), (None, None, None));
        assert_eq!((&info.sub, &info.iss, &info.jti), (&None, &None, &None));
        assert_eq!(info.aud, None);
        assert!(info.extra.is_empty(), "an inactive answer kept extras");
        return;
    }
    let scopes = info
        .scopes
        .as_ref()
        .map(|s| s.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
    let raw_scopes = string(map, "scope").map(|s| {
        s.split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    assert_eq!(scopes, raw_scopes);
    assert_eq!(
        info.client_id.as_ref().map(|c| c.as_str().to_owned()),
        string(map, "client_id")
    );
    assert_eq!(info.username, string(map, "username"));
    assert_eq!(
        info.token_type,
        string(map, "token_type")
            .filter(|t| !t.is_empty())
            .map(|t| TokenType::from_wire(&t))
    );
    for (value, name) in [(info.exp, "exp"), (info.iat, "iat"), (info.nbf, "nbf")] {
        assert_eq!(
            value.map(|t| t.as_secs()),
            map.get(name).and_then(numeric_date),
            "{name}"
        );
    }
    assert_eq!(info.sub, string(map, "sub"));
    assert_eq!(info.iss, string(map, "iss"));
    assert_eq!(info.jti, string(map, "jti"));
    let aud = match map.get("aud") {
        Some(Value::String(aud)) => Some(vec![aud.clone()]),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|i| i.as_str().expect("checked").to_owned())
                .collect(),
        ),
        _ => None,
    };
    assert_eq!(info.aud, aud);
    let mut extra = map.clone();
    for name in KNOWN {
        extra.remove(name);
    }
    // `"error": null` is read as no error and kept nowhere.
    assert_eq!(info.extra, extra);
}

fuzz_target!(|data: &[u8]| {
    let input = EndpointInput::decode(data);
    let client = input.client();
    let mut flow = client
        .introspect(&input.token, input.hint.clone())
        .expect("the client has an introspection endpoint");
    input.check_withheld(&format!("{flow:?}"));

    let request = match flow.start(input.now) {
        Ok(Step::Send(request)) => request,
        Ok(_) => panic!("start did not send"),
        Err(e) => panic!("start failed: {e:?}"),
    };
    input.check_request(&request, INTROSPECTION_ENDPOINT);

    let status = input.response.status().as_u16();
    let expected = expected_success(status, input.response.body());
    match flow.handle_response(input.response.clone(), input.now) {
        Ok(Step::Done(info)) => {
            let map = expected.expect("done, though the answer is not a valid introspection");
            check_success(&map, &info);
            let _ = format!("{info:?}");
        }
        Ok(_) => panic!("introspection took a second step"),
        Err(error) => {
            assert!(
                expected.is_none(),
                "a valid introspection refused: {error:?}"
            );
            check_error(&input.response, &error);
            input.check_withheld(&error.to_string());
            input.check_withheld(&format!("{error:?}"));
        }
    }

    check_ended(flow.handle_response(input.response.clone(), input.now));
    check_ended(flow.start(input.now));
    check_ended(flow.handle_timeout(input.now));
});
