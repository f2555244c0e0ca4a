//! Pushed authorization requests (RFC 9126): a fuzzed request pushed by the
//! `PushedAuthorization` flow, and a fuzzed answer from the PAR endpoint.
//!
//! Input: one byte picking the client authentication (`b % 3`: basic, post,
//! none), one seeding the generator, one picking sign-in (even) or plain
//! authorization (odd), the response header of `grantflow_fuzz` (status,
//! content type, time), then NUL-separated: one extra request parameter
//! (`name=value`, or nothing when empty or without `=`), and the PAR
//! endpoint's body (the rest).
//!
//! Oracles, beyond "no panic": the pushed body carries exactly the
//! parameters of the URL `begin` builds from the same draws, with
//! `client_id` exactly once; a reserved extra is refused alike by both; a
//! success comes from a 2xx, and its URL is the authorization endpoint with
//! exactly `client_id` and the `request_uri` the body names (re-read with
//! `serde_json`), free of control characters; an error is a response error,
//! printable and bounded; the flow is over afterwards.

#![no_main]

use grantflow::testing::CountingRng;
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Endpoints, Error, Flow, Issuer, Step,
};
use grantflow_fuzz::{Reader, build_response, check_error, check_printable, response_header};
use libfuzzer_sys::fuzz_target;

const AUTHORIZE: &str = "https://as.example.com/authorize";
const PAR: &str = "https://as.example.com/par";
const REDIRECT: &str = "https://client.example.org/cb";

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let auth_choice = reader.byte() % 3;
    let seed = reader.byte();
    let sign_in = reader.byte().is_multiple_of(2);
    let (status, content_type, now) = response_header(&mut reader);
    let mut fields = reader.rest().splitn(2, |&b| b == 0);
    let extra = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let body = fields.next().unwrap_or_default();

    let auth = match auth_choice {
        0 => ClientAuth::ClientSecretBasic(ClientSecret::new("secret")),
        1 => ClientAuth::ClientSecretPost(ClientSecret::new("secret")),
        _ => ClientAuth::None,
    };
    let mut endpoints = Endpoints::default();
    endpoints.authorization = Some(EndpointUrl::parse(AUTHORIZE).expect("valid"));
    endpoints.token = Some(EndpointUrl::parse("https://as.example.com/token").expect("valid"));
    endpoints.pushed_authorization_request = Some(EndpointUrl::parse(PAR).expect("valid"));
    let client = Client::new(ClientId::new("s6BhdRkqt3"), auth)
        .with_endpoints(endpoints)
        .with_issuer(Issuer::new("https://as.example.com").expect("valid"));
    let extra = extra
        .split_once('=')
        .map(|(n, v)| (n.to_owned(), v.to_owned()));

    // The URL `begin` builds, and the pushed flow, from the same draws.
    macro_rules! both {
        ($start:ident) => {{
            let mut request = client.$start(REDIRECT).expect("a valid redirect uri");
            let mut pushed = client.$start(REDIRECT).expect("a valid redirect uri");
            if let Some((name, value)) = &extra {
                request = request.param(name.clone(), value.clone());
                pushed = pushed.param(name.clone(), value.clone());
            }
            let begun = request.begin(&mut CountingRng::new(seed), now);
            let pushed = pushed.push(&mut CountingRng::new(seed), now);
            match (begun, pushed) {
                (Ok((url, _)), Ok(flow)) => (url, flow.pushes(), flow),
                (Err(a), Err(b)) => {
                    assert_eq!(a, b, "begin and push refused differently");
                    assert!(matches!(
                        a,
                        Error::ReservedParameter { .. } | Error::InvalidUrl { .. }
                    ));
                    return;
                }
                (a, b) => panic!("begin and push disagree: {:?} / {:?}", a.err(), b.err()),
            }
        }};
    }
    macro_rules! run {
        ($url:expr, $pushes:expr, $flow:expr) => {{
            let (browser_url, pushes, mut flow) = ($url, $pushes, $flow);
            assert!(pushes);
            let Ok(Step::Send(request)) = flow.start(now) else {
                panic!("push did not send")
            };
            assert_eq!(request.uri(), PAR);
            assert_eq!(request.method(), http::Method::POST);
            let mut sent = pairs(request.body());
            let ids = sent.iter().filter(|(n, _)| n == "client_id").count();
            assert_eq!(ids, 1, "client_id {ids} times in the pushed body");
            sent.retain(|(n, _)| n != "client_id" && n != "client_secret");
            let mut expected = pairs(browser_url.query().unwrap_or_default().as_bytes());
            expected.retain(|(n, _)| n != "client_id");
            sent.sort();
            expected.sort();
            assert_eq!(sent, expected, "the pushed body is not the browser request");

            let response = build_response(status, content_type, body);
            match flow.handle_response(response.clone(), now) {
                Ok(Step::Done((url, _pending))) => {
                    assert!((200..300).contains(&status), "success from http {status}");
                    assert!(url.as_str().starts_with(&format!("{AUTHORIZE}?")));
                    let query = pairs(url.query().unwrap_or_default().as_bytes());
                    let [(a, id), (b, request_uri)] = query.as_slice() else {
                        panic!("the url carries {query:?}")
                    };
                    assert_eq!((a.as_str(), id.as_str()), ("client_id", "s6BhdRkqt3"));
                    assert_eq!(b, "request_uri");
                    assert!(!request_uri.is_empty());
                    assert!(!request_uri.chars().any(char::is_control));
                    if let Ok(serde_json::Value::Object(json)) =
                        serde_json::from_slice::<serde_json::Value>(body)
                    {
                        assert_eq!(
                            json.get("request_uri").and_then(|v| v.as_str()),
                            Some(request_uri.as_str())
                        );
                    }
                }
                Ok(_) => panic!("the PAR flow took another step"),
                Err(error) => {
                    check_error(&response, &error);
                    check_printable(&error);
                }
            }
            assert!(matches!(
                flow.handle_response(response, now),
                Err(Error::UnexpectedCall { .. })
            ));
            assert!(matches!(
                flow.handle_timeout(now),
                Err(Error::UnexpectedCall { .. })
            ));
        }};
    }
    if sign_in {
        let (url, pushes, flow) = both!(sign_in);
        run!(url, pushes, flow);
    } else {
        let (url, pushes, flow) = both!(authorize);
        run!(url, pushes, flow);
    }
});
