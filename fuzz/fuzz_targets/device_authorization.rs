//! The device authorization grant (RFC 8628) driven end to end: a fuzzed
//! device authorization response, then a fuzzed sequence of answers to the
//! polls, in fake time.
//!
//! Input: one byte picking the client (`b % 2`: public, `client_secret_basic`),
//! the response header of `grantflow_fuzz` (status, content type, time) for
//! the device authorization response, then NUL-separated chunks: the device
//! authorization body, then one chunk per poll answer. A poll answer's first
//! byte picks its status (`b % 8` of `STATUSES`), its content type
//! (`(b >> 3) % 6` of `CONTENT_TYPES`) and, with bit 7, whether the driver
//! wakes one second early first; the rest is the body.
//!
//! Oracles, beyond "no panic": what the user is shown holds no control
//! character, escape or bidirectional override, and the verification URIs
//! are `https` (or loopback `http`) without credentials; the device code is
//! never in `Debug`; `WaitUntil` never goes back in time and a driver woken
//! early gets the same one; no poll is sent at or after `expires_at`; the
//! deadline error names `expires_at`; every error is a response error or the
//! deadline, printable and bounded; after an error, every call is refused.

#![no_main]

use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Endpoints, Error, Flow, Step, UnixTime,
};
use grantflow_fuzz::{
    CONTENT_TYPES, Reader, STATUSES, build_response, check_error, check_printable, response_header,
};
use libfuzzer_sys::fuzz_target;

const TOKEN_ENDPOINT: &str = "https://as.example.com/token";
const DEVICE_ENDPOINT: &str = "https://as.example.com/device";

/// Whether `c` may be shown on a terminal: not a control character, not an
/// invisible or bidirectional formatting character (re-stated here, apart
/// from the core).
fn safe(text: &str) -> bool {
    !text.chars().any(|c| {
        c.is_control()
            || matches!(
                c,
                '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
            )
    })
}

fn check_url(url: &url::Url) {
    assert!(safe(url.as_str()), "unsafe verification uri {url:?}");
    match url.scheme() {
        "https" => assert!(url.host().is_some()),
        "http" => assert!(
            match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
                None => false,
            },
            "http verification uri off loopback: {url}"
        ),
        other => panic!("verification uri with scheme {other}"),
    }
    assert!(url.username().is_empty() && url.password().is_none());
}

fn refused<T>(result: Result<Step<T>, Error>) {
    assert!(
        matches!(result, Err(Error::UnexpectedCall { .. })),
        "a call after the end was not refused"
    );
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let confidential = reader.byte() % 2 == 1;
    let (status, content_type, now) = response_header(&mut reader);
    let mut chunks = reader.rest().split(|&b| b == 0);
    let body = chunks.next().unwrap_or_default();

    let auth = if confidential {
        ClientAuth::ClientSecretBasic(ClientSecret::new("s"))
    } else {
        ClientAuth::None
    };
    let mut endpoints = Endpoints::default();
    endpoints.token = Some(EndpointUrl::parse(TOKEN_ENDPOINT).expect("valid"));
    endpoints.device_authorization = Some(EndpointUrl::parse(DEVICE_ENDPOINT).expect("valid"));
    let client = Client::new(ClientId::new("tv"), auth).with_endpoints(endpoints);

    let mut request = client.device_authorization().expect("endpoints are set");
    let Ok(Step::Send(sent)) = request.start(now) else {
        panic!("the device authorization request was not sent")
    };
    assert_eq!(sent.uri(), DEVICE_ENDPOINT);
    let response = build_response(status, content_type, body);
    let authorization = match request.handle_response(response.clone(), now) {
        Ok(Step::Done(authorization)) => authorization,
        Ok(_) => panic!("the device authorization request took a second step"),
        Err(error) => {
            check_error(&response, &error);
            check_printable(&error);
            refused(request.handle_response(response, now));
            return;
        }
    };
    assert!((200..300).contains(&status), "success from http {status}");
    refused(request.start(now));

    // What the user is shown.
    assert!(!authorization.user_code().is_empty());
    assert!(safe(authorization.user_code()), "unsafe user code");
    check_url(authorization.verification_uri());
    if let Some(complete) = authorization.verification_uri_complete() {
        check_url(complete);
    }
    assert!(authorization.interval() >= 1);
    assert_eq!(authorization.received_at(), now);
    assert!(authorization.expires_at() >= now);
    let device_code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.get("device_code")?.as_str().map(str::to_owned));
    let debug = format!("{authorization:?}");
    if let Some(code) = device_code.filter(|code| code.len() >= 12) {
        // Everything else Debug prints: field names, what the user is
        // shown, the times, the client.
        let shown = format!(
            "DeviceAuthorization {{ client: device_code: \"<redacted>\", user_code: \
             verification_uri: verification_uri_complete: received_at: expires_at: \
             interval: openid: false Some( None }} {:?}{:?}{:?}{:?}{:?}{:?}{client:?}",
            authorization.user_code(),
            authorization.verification_uri().as_str(),
            authorization
                .verification_uri_complete()
                .map(url::Url::as_str),
            authorization.received_at(),
            authorization.expires_at(),
            authorization.interval(),
        );
        if !shown.contains(&code) {
            assert!(!debug.contains(&code), "device code in Debug");
        }
    }

    // Polling, in fake time.
    let expires_at = authorization.expires_at();
    let mut poll = authorization.poll();
    let mut clock = now;
    let mut last_wait = UnixTime::EPOCH;
    let mut step = poll.start(clock);
    let mut polls = 0usize;
    loop {
        step = match step {
            Ok(Step::WaitUntil(at)) => {
                assert!(at >= last_wait, "WaitUntil went back in time");
                assert!(at <= expires_at.max(clock), "a wait past the deadline");
                last_wait = at;
                clock = clock.max(at);
                poll.handle_timeout(clock)
            }
            Ok(Step::Send(request)) => {
                assert!(clock < expires_at, "a poll at or after the deadline");
                assert_eq!(request.uri(), TOKEN_ENDPOINT);
                polls += 1;
                let Some(chunk) = chunks.next() else {
                    return;
                };
                let (first, body) = chunk.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
                let status = STATUSES[usize::from(first % 8)];
                let content_type = CONTENT_TYPES[usize::from((first >> 3) % 6)];
                let response = build_response(status, content_type, body);
                let result = poll.handle_response(response.clone(), clock);
                match &result {
                    // A token type the client does not understand (RFC 6749 §7.1).
                    Err(Error::UnsupportedTokenType { .. }) => {
                        assert!((200..300).contains(&status));
                    }
                    Err(Error::DeviceCodeExpired { .. }) => {}
                    Err(error) => check_error(&response, error),
                    Ok(_) => {}
                }
                if first & 0x80 != 0
                    && let Ok(Step::WaitUntil(at)) = &result
                    && *at > clock
                {
                    let early = at.saturating_sub_secs(1).max(clock);
                    assert!(
                        matches!(poll.handle_timeout(early), Ok(Step::WaitUntil(same)) if same == *at),
                        "woken early, the flow changed"
                    );
                }
                result
            }
            Ok(Step::Done(done)) => {
                assert!(polls > 0, "tokens without a poll");
                assert!(done.id_token.is_none(), "no openid, yet an id token");
                refused(poll.handle_timeout(clock));
                return;
            }
            Err(error) => {
                check_printable(&error);
                if let Error::DeviceCodeExpired { expired_at } = error {
                    assert_eq!(expired_at, expires_at);
                    assert!(clock >= expires_at);
                }
                refused(poll.handle_timeout(clock.saturating_add_secs(1)));
                refused(poll.start(clock));
                return;
            }
        };
    }
});
