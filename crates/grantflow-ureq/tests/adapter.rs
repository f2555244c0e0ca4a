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
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use grantflow::rand_core::Rng as _;
use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, ErrorCode, Flow, HttpResponse, Step,
    UnixTime,
};
use grantflow_ureq::{Error, Event, HttpClient, drive, drive_observed};

/// What the server saw: the request head (lines) and body.
struct Seen {
    head: Vec<String>,
    body: Vec<u8>,
}

/// Reads one request head (up to the blank line) and its body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Seen {
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
    Seen { head, body }
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
        let seen = read_request(&mut reader);
        reader.get_mut().write_all(&response).unwrap();
        tx.send(seen).unwrap();
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
            assert_eq!(e.status, Some(401));
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

// --- Proxies only when the caller asks ---------------------------------------

/// A loopback listener standing in for a proxy that must never be used:
/// reports whether anything connected to it.
struct Tripwire {
    listener: TcpListener,
}

impl Tripwire {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Tripwire { listener }
    }

    fn url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }

    fn was_contacted(&self) -> bool {
        match self.listener.accept() {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) => panic!("{e}"),
        }
    }
}

/// The variables ureq's default configuration reads a proxy from.
const PROXY_VARIABLES: [&str; 6] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// Set (by the parent run of this test) in the child process it starts.
const CHILD_TARGET: &str = "GRANTFLOW_UREQ_TEST_TOKEN_ENDPOINT";

/// Setting environment variables is `unsafe` in edition 2024 and unsafe code
/// is forbidden here, so the test runs itself again as a child process with
/// the proxy variables set, and the child drives a flow.
#[test]
fn environment_proxies_are_ignored() {
    if let Ok(endpoint) = std::env::var(CHILD_TARGET) {
        // The child: the environment names a proxy, as ureq sees it...
        let from_env = ureq::Proxy::try_from_env().expect("the parent set a proxy variable");
        assert!(from_env.is_from_env());
        // ...and the client ignores it.
        let http = HttpClient::new();
        assert!(http.agent().config().proxy().is_none());
        let client = Client::new(
            ClientId::new("s6BhdRkqt3"),
            ClientAuth::ClientSecretBasic(ClientSecret::new("7Fjfp0ZBr1KtDRbnfVdmIw")),
        )
        .with_token_endpoint(EndpointUrl::parse(&endpoint).unwrap());
        let tokens = drive(&http, client.client_credentials().unwrap()).unwrap();
        assert_eq!(tokens.access_token.secret(), "direct");
        return;
    }

    let proxy = Tripwire::new();
    let (addr, seen) = serve_once(raw(
        "200 OK",
        &[("content-type", "application/json")],
        br#"{"access_token":"direct","token_type":"Bearer"}"#,
    ));
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "environment_proxies_are_ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD_TARGET, format!("http://{addr}/token"))
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for variable in PROXY_VARIABLES {
        child.env(variable, proxy.url());
    }
    let output = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );

    assert_eq!(
        seen.recv_timeout(Duration::from_secs(10)).unwrap().head[0],
        "POST /token HTTP/1.1"
    );
    assert!(!proxy.was_contacted(), "the environment's proxy was used");
}

#[test]
fn the_default_client_has_no_proxy() {
    assert!(HttpClient::new().agent().config().proxy().is_none());
    assert!(
        HttpClient::builder()
            .max_body(10)
            .build()
            .agent()
            .config()
            .proxy()
            .is_none()
    );
}

/// A one-connection HTTP CONNECT proxy on loopback: it answers the CONNECT
/// itself, then plays the token endpoint inside the tunnel with `response`.
/// Reports the CONNECT request and the tunnelled one.
fn connect_proxy_once(response: Vec<u8>) -> (SocketAddr, mpsc::Receiver<(Seen, Seen)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let connect = read_request(&mut reader);
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        let tunnelled = read_request(&mut reader);
        reader.get_mut().write_all(&response).unwrap();
        tx.send((connect, tunnelled)).unwrap();
    });
    (addr, rx)
}

#[test]
fn an_explicit_proxy_is_used() {
    let (proxy_addr, seen) = connect_proxy_once(raw(
        "200 OK",
        &[("content-type", "application/json")],
        br#"{"access_token":"via-proxy","token_type":"Bearer"}"#,
    ));
    // Nothing listens at the token endpoint itself: only the proxy can answer.
    let endpoint = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let http = HttpClient::builder()
        .proxy(ureq::Proxy::new(&format!("http://{proxy_addr}")).unwrap())
        .build();
    assert!(http.agent().config().proxy().is_some());

    let tokens = drive(&http, client_for(endpoint).client_credentials().unwrap()).unwrap();
    assert_eq!(tokens.access_token.secret(), "via-proxy");

    let (connect, tunnelled) = seen.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(connect.head[0], format!("CONNECT {endpoint} HTTP/1.1"));
    assert_eq!(tunnelled.head[0], "POST /token HTTP/1.1");
    assert_eq!(tunnelled.body, b"grant_type=client_credentials");
}

// --- Observer events never show secrets --------------------------------------

const POST_SECRET: &str = "client-secret-Qx7Zp2Lm9";
const ACCESS_TOKEN: &str = "access-token-Hd83kLq0Wz";
const REFRESH_TOKEN: &str = "refresh-token-Vb62nPs4Tx";
const ID_TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJpZC10b2tlbi1Ld8";
const COOKIE_VALUE: &str = "session-cookie-Mf51rYt8";

/// Everything secret a flow or its server puts on the wire in these tests.
const SECRETS: [&str; 7] = [
    POST_SECRET,
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    ID_TOKEN,
    COOKIE_VALUE,
    // client_secret_basic: the secret below, and the header value carrying it.
    "7Fjfp0ZBr1KtDRbnfVdmIw",
    "czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3",
];

fn assert_no_secret(rendered: &str) {
    for secret in SECRETS {
        assert!(
            !rendered.contains(secret),
            "{secret:?} leaked into:\n{rendered}"
        );
    }
}

fn token_response() -> Vec<u8> {
    let body = format!(
        r#"{{"access_token":"{ACCESS_TOKEN}","token_type":"Bearer","expires_in":3600,"refresh_token":"{REFRESH_TOKEN}","id_token":"{ID_TOKEN}"}}"#
    );
    raw(
        "200 OK",
        &[
            ("content-type", "application/json"),
            ("set-cookie", &format!("sid={COOKIE_VALUE}; HttpOnly")),
        ],
        body.as_bytes(),
    )
}

/// Drives the client credentials grant with `auth` against a canned token
/// endpoint answering `response`; returns the `{:?}` and `{:#?}` renderings
/// of every event, the outcome, and what the server received.
fn observe_client_credentials(
    auth: ClientAuth,
    response: Vec<u8>,
) -> (Vec<String>, Result<grantflow::TokenSet, Error>, Seen) {
    let (addr, seen) = serve_once(response);
    let client = Client::new(ClientId::new("s6BhdRkqt3"), auth)
        .with_token_endpoint(EndpointUrl::parse(&format!("http://{addr}/token")).unwrap());
    let mut rendered = Vec::new();
    let result = drive_observed(
        &HttpClient::new(),
        client.client_credentials().unwrap(),
        |event| {
            rendered.push(format!("{event:?}"));
            rendered.push(format!("{event:#?}"));
        },
    );
    (rendered, result, seen.recv().unwrap())
}

#[test]
fn event_debug_never_shows_secrets() {
    let (rendered, result, seen) = observe_client_credentials(
        ClientAuth::ClientSecretPost(ClientSecret::new(POST_SECRET)),
        token_response(),
    );
    // The secrets really were on the wire...
    assert!(String::from_utf8_lossy(&seen.body).contains(POST_SECRET));
    let tokens = result.unwrap();
    assert_eq!(tokens.access_token.secret(), ACCESS_TOKEN);
    assert_eq!(tokens.refresh_token.unwrap().secret(), REFRESH_TOKEN);
    assert!(tokens.id_token.is_some());

    // ...and no rendering of an event shows them.
    assert_eq!(rendered.len(), 4, "{rendered:#?}");
    for text in &rendered {
        assert_no_secret(text);
    }

    // What is shown is still useful.
    let sending = &rendered[0];
    assert!(sending.starts_with("Sending(Request { method: POST, uri: http://"));
    assert!(sending.contains("/token"), "{sending}");
    assert!(
        sending.contains(r#""content-type": "application/x-www-form-urlencoded""#),
        "{sending}"
    );
    assert!(
        sending.contains(&format!("body: <{} bytes>", seen.body.len())),
        "{sending}"
    );
    let received = &rendered[2];
    assert!(received.starts_with("Received(Response { status: 200,"));
    assert!(
        received.contains(r#""set-cookie": <redacted>"#),
        "{received}"
    );
    assert!(
        received.contains(r#""content-type": "application/json""#),
        "{received}"
    );
    assert!(received.contains(" bytes>"), "{received}");
    assert!(rendered[3].contains("<redacted>"), "{}", rendered[3]);
}

#[test]
fn event_debug_hides_the_basic_authorization_header() {
    let (rendered, result, seen) = observe_client_credentials(
        ClientAuth::ClientSecretBasic(ClientSecret::new("7Fjfp0ZBr1KtDRbnfVdmIw")),
        token_response(),
    );
    result.unwrap();
    assert!(seen.head.iter().any(|h| h.contains(SECRETS[6])));
    for text in &rendered {
        assert_no_secret(text);
    }
    assert!(rendered[0].contains(r#""authorization": <redacted>"#));
}

#[test]
fn event_debug_redacts_every_credential_header() {
    let mut marked = http::HeaderValue::from_static("api-key-Jr40sKd2");
    marked.set_sensitive(true);
    let request = http::Request::post("https://alice:pw-Nc39eTq1@auth.example.com/token?a=b")
        .header("authorization", "Bearer header-token-Ya70")
        .header("proxy-authorization", "Basic proxy-cred-Ub21")
        .header("cookie", "sid=cookie-Kq55")
        .header("dpop", "eyJ0eXAiOiJkcG9wK2p3dCJ9.dpop-proof-Gw18")
        .header("x-api-key", marked)
        .header("accept", "application/json")
        .body(b"client_secret=body-secret-Ze61".to_vec())
        .unwrap();
    let event = Event::Sending(&request);
    for text in [format!("{event:?}"), format!("{event:#?}")] {
        for secret in [
            "pw-Nc39eTq1",
            "header-token-Ya70",
            "proxy-cred-Ub21",
            "cookie-Kq55",
            "dpop-proof-Gw18",
            "api-key-Jr40sKd2",
            "body-secret-Ze61",
        ] {
            assert!(!text.contains(secret), "{secret:?} leaked into:\n{text}");
        }
        assert!(text.contains("auth.example.com/token?<redacted>"), "{text}");
        assert!(text.contains("application/json"), "{text}");
        assert!(text.contains("<30 bytes>"), "{text}");
        for name in [
            "authorization",
            "proxy-authorization",
            "cookie",
            "dpop",
            "x-api-key",
        ] {
            assert!(
                text.contains(&format!("\"{name}\"")),
                "{name} missing:\n{text}"
            );
        }
        assert_eq!(text.matches("<redacted>").count(), 7, "{text}");
    }
    assert_eq!(
        format!("{:?}", Event::Waiting(UnixTime::from_secs(5))),
        "Waiting(UnixTime(5))"
    );
}

#[test]
fn errors_never_show_secrets() {
    // Success statuses with bodies that are not token responses but carry the
    // tokens: the flow fails, and its error must not quote them.
    let truncated_json = format!(
        r#"{{"access_token":"{ACCESS_TOKEN}","refresh_token":"{REFRESH_TOKEN}","id_token":"{ID_TOKEN}""#
    );
    let html = format!("<html>{ACCESS_TOKEN} {REFRESH_TOKEN} {ID_TOKEN}</html>");
    for (content_type, body) in [("application/json", truncated_json), ("text/html", html)] {
        let (rendered, result, _seen) = observe_client_credentials(
            ClientAuth::ClientSecretPost(ClientSecret::new(POST_SECRET)),
            raw("200 OK", &[("content-type", content_type)], body.as_bytes()),
        );
        for text in &rendered {
            assert_no_secret(text);
        }
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::Flow(grantflow::Error::MalformedResponse(_))),
            "{error:?}"
        );
        assert_no_secret(&format!("{error}"));
        assert_no_secret(&format!("{error:?}"));
        assert_no_secret(&format!("{error:#?}"));
    }

    // An OAuth error response, likewise.
    let (_, result, _) = observe_client_credentials(
        ClientAuth::ClientSecretPost(ClientSecret::new(POST_SECRET)),
        raw(
            "401 Unauthorized",
            &[("content-type", "application/json")],
            br#"{"error":"invalid_client"}"#,
        ),
    );
    let error = result.unwrap_err();
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidClient));
    assert_no_secret(&format!("{error} {error:?} {error:#?}"));
}
