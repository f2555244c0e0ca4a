//! The ureq adapter against a real socket: a one-shot HTTP server on
//! 127.0.0.1 that records the request it gets and answers with canned bytes.

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;

use grantflow::rand_core::Rng as _;
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, ErrorCode, Flow, HttpResponse, Step,
    UnixTime,
};
use grantflow_ureq::{Error, HttpClient, drive};

/// What the server saw: the request head (lines) and body.
struct Seen {
    head: Vec<String>,
    body: Vec<u8>,
}

/// Serves one connection with `response` (raw HTTP/1.1 bytes) and reports
/// the request it read.
fn serve_once(response: Vec<u8>) -> (SocketAddr, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            head.push(line);
        }
        let length = head
            .iter()
            .find_map(|h| {
                h.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(|n| n.parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        reader.get_mut().write_all(&response).unwrap();
        tx.send(Seen { head, body }).unwrap();
    });
    (addr, rx)
}

fn raw(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn client_for(addr: SocketAddr) -> Client {
    Client::new(
        ClientId::new("s6BhdRkqt3"),
        ClientAuth::ClientSecretBasic(ClientSecret::new("7Fjfp0ZBr1KtDRbnfVdmIw")),
    )
    .with_token_endpoint(EndpointUrl::parse(&format!("http://{addr}/token")).unwrap())
}

#[test]
fn drives_client_credentials_over_a_socket() {
    let (addr, seen) = serve_once(raw(
        "200 OK",
        &[("content-type", "application/json")],
        br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#,
    ));
    let before = grantflow_ureq::now();
    let tokens = drive(
        &HttpClient::new(),
        client_for(addr).client_credentials().unwrap(),
    )
    .unwrap();
    assert_eq!(tokens.access_token.secret(), "2YotnFZFEjr1zCsicMWpAA");
    let expires_at = tokens.expires_at.unwrap();
    assert!(expires_at >= before.saturating_add_secs(3600));
    assert!(expires_at <= grantflow_ureq::now().saturating_add_secs(3600));

    let seen = seen.recv().unwrap();
    assert_eq!(seen.head[0], "POST /token HTTP/1.1");
    let has = |header: &str| seen.head.iter().any(|h| h.eq_ignore_ascii_case(header));
    assert!(has(
        "authorization: Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"
    ));
    assert!(has("content-type: application/x-www-form-urlencoded"));
    assert!(has("accept: application/json"));
    assert_eq!(seen.body, b"grant_type=client_credentials");
}

#[test]
fn error_statuses_reach_the_flow_as_oauth_errors() {
    let (addr, _seen) = serve_once(raw(
        "401 Unauthorized",
        &[("content-type", "application/json")],
        br#"{"error":"invalid_client","error_description":"bad secret"}"#,
    ));
    match drive(
        &HttpClient::new(),
        client_for(addr).client_credentials().unwrap(),
    ) {
        Err(Error::Flow(grantflow::Error::OAuth(e))) => {
            assert_eq!(e.error, ErrorCode::InvalidClient);
            assert_eq!(e.status, 401);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn redirects_are_not_followed() {
    // A second listener stands where the redirect points; it must never be contacted.
    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let location = format!("http://{}/stolen", elsewhere.local_addr().unwrap());
    let (addr, _seen) = serve_once(raw(
        "307 Temporary Redirect",
        &[("location", &location)],
        b"",
    ));
    match drive(
        &HttpClient::new(),
        client_for(addr).client_credentials().unwrap(),
    ) {
        Err(Error::Flow(grantflow::Error::MalformedResponse(m))) => assert_eq!(m.status, 307),
        other => panic!("{other:?}"),
    }
    assert!(elsewhere.accept().is_err(), "the redirect was followed");
}

#[test]
fn bodies_over_the_cap_are_refused() {
    let big = vec![b' '; 4096];
    let (addr, _seen) = serve_once(raw("200 OK", &[("content-type", "application/json")], &big));
    let http = HttpClient::builder().max_body(1024).build();
    match drive(&http, client_for(addr).client_credentials().unwrap()) {
        Err(Error::BodyTooLarge { limit }) => assert_eq!(limit, 1024),
        other => panic!("{other:?}"),
    }
}

#[test]
fn connection_failures_are_transport_errors() {
    // Bind then drop: nothing listens on this port any more.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let result = drive(
        &HttpClient::new(),
        client_for(addr).client_credentials().unwrap(),
    );
    assert!(matches!(result, Err(Error::Transport(_))), "{result:?}");
    let message = result.unwrap_err().to_string();
    assert!(message.starts_with("transport error"), "{message}");
    assert!(!message.contains("7Fjfp0ZBr1KtDRbnfVdmIw"));
}

#[test]
fn bodiless_get_requests_are_sent() {
    let (addr, seen) = serve_once(raw(
        "200 OK",
        &[("content-type", "application/json")],
        b"{}",
    ));
    let request = http::Request::get(format!("http://{addr}/.well-known/openid-configuration"))
        .body(Vec::new())
        .unwrap();
    let response: HttpResponse = HttpClient::new().send(request).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"{}");
    assert_eq!(
        seen.recv().unwrap().head[0],
        "GET /.well-known/openid-configuration HTTP/1.1"
    );
}

/// A flow that waits until an instant already past, then finishes: the
/// driver must call `handle_timeout` without sleeping.
struct WaitThenDone {
    waited: bool,
}

impl Flow for WaitThenDone {
    type Output = &'static str;

    fn start(&mut self, _now: UnixTime) -> Result<Step<&'static str>, grantflow::Error> {
        Ok(Step::WaitUntil(UnixTime::EPOCH))
    }

    fn handle_response(
        &mut self,
        _: HttpResponse,
        _: UnixTime,
    ) -> Result<Step<&'static str>, grantflow::Error> {
        unreachable!("this flow sends nothing")
    }

    fn handle_timeout(&mut self, now: UnixTime) -> Result<Step<&'static str>, grantflow::Error> {
        assert!(now > UnixTime::EPOCH);
        self.waited = true;
        Ok(Step::Done("done"))
    }
}

#[test]
fn wait_steps_call_handle_timeout() {
    let mut flow = WaitThenDone { waited: false };
    assert_eq!(drive(&HttpClient::new(), &mut flow).unwrap(), "done");
    assert!(flow.waited);
}

#[test]
fn observers_see_each_request_and_response() {
    let (addr, _seen) = serve_once(raw(
        "200 OK",
        &[("content-type", "application/json")],
        br#"{"access_token":"x"}"#,
    ));
    let mut events = Vec::new();
    let flow = client_for(addr).client_credentials().unwrap();
    grantflow_ureq::drive_observed(&HttpClient::new(), flow, |event| {
        events.push(match event {
            grantflow_ureq::Event::Sending(request) => format!("sending {}", request.uri().path()),
            grantflow_ureq::Event::Received(response) => format!("received {}", response.status()),
            other => format!("{other:?}"),
        })
    })
    .unwrap();
    assert_eq!(events, ["sending /token", "received 200 OK"]);
}

#[test]
fn os_rng_draws_fresh_bytes() {
    let mut rng = grantflow_ureq::os_rng();
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    rng.fill_bytes(&mut a);
    rng.fill_bytes(&mut b);
    assert_ne!(a, b);
    assert_ne!(a, [0; 32]);
}
