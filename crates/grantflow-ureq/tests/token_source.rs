//! The shared token source and the bearer middleware against tiny loopback
//! servers on 127.0.0.1 that play the token endpoint and a resource server,
//! in fake time.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use grantflow::{
    AccessToken, Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, ErrorCode, RefreshToken,
    Session, TokenSet, TokenType, UnixTime,
};
use grantflow_ureq::{BearerAuth, HttpClient, TokenError, TokenSource};

/// One request as the loopback server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

type Reply = (u16, Vec<(&'static str, String)>, String);

/// A one-thread-per-connection HTTP/1.1 server on 127.0.0.1 that answers
/// with `reply` and records every request.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(reply: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(reply);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (reply, log) = (reply.clone(), log.clone());
                std::thread::spawn(move || serve(stream, &*reply, &log));
            }
        });
        Server { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests_to(&self, path: &str) -> Vec<Seen> {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|s| s.path == path).cloned().collect()
    }
}

fn serve(
    stream: TcpStream,
    reply: &(dyn Fn(&Seen) -> Reply + Send + Sync),
    log: &Mutex<Vec<Seen>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    // Requests on one connection, until the client closes it.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
        }
        let length: usize = headers
            .get("content-length")
            .map_or(0, |l| l.parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let seen = Seen {
            method,
            path,
            headers,
            body: String::from_utf8(body).unwrap(),
        };
        log.lock().unwrap().push(seen.clone());
        let (status, headers, body) = reply(&seen);
        let mut response = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&body);
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn json(status: u16, body: &str) -> Reply {
    (
        status,
        vec![("content-type", "application/json".to_owned())],
        body.to_owned(),
    )
}

const T0: u64 = 1_700_000_000;

/// A confidential client whose token endpoint is `server`'s `/token`.
fn client(server: &Server) -> Client {
    Client::new(
        ClientId::new("app"),
        ClientAuth::ClientSecretBasic(ClientSecret::new("s3cret")),
    )
    .with_token_endpoint(EndpointUrl::parse(&server.url("/token")).unwrap())
}

/// A session whose access token `old` expires at T0 + 3600, with refresh
/// token `r1`.
fn session() -> Session {
    Session::from_tokens(
        TokenSet::new(
            AccessToken::new("old"),
            TokenType::Bearer,
            UnixTime::from_secs(T0),
        )
        .with_expires_in(3600)
        .with_refresh_token(RefreshToken::new("r1")),
    )
}

/// A fake clock the test moves.
fn clock(
    at: u64,
) -> (
    Arc<AtomicU64>,
    impl Fn() -> UnixTime + Send + Sync + 'static,
) {
    let now = Arc::new(AtomicU64::new(at));
    let read = now.clone();
    (now, move || {
        UnixTime::from_secs(read.load(Ordering::SeqCst))
    })
}

fn token_endpoint(seen: &Seen) -> Reply {
    assert_eq!(seen.method, "POST");
    let rotated =
        r#"{"access_token":"new","token_type":"Bearer","expires_in":3600,"refresh_token":"r2"}"#;
    json(200, rotated)
}

#[test]
fn thirty_two_threads_due_at_once_cause_one_refresh() {
    let server = Server::start(token_endpoint);
    // Past the old token's expiry: every thread finds it due.
    let (_, clock) = clock(T0 + 4000);
    let stored = Arc::new(Mutex::new(Vec::new()));
    let store = stored.clone();
    let source = TokenSource::builder(session(), client(&server), HttpClient::new())
        .clock(clock)
        .on_change(move |session| store.lock().unwrap().push(session.clone()))
        .build();

    let start = Arc::new(Barrier::new(32));
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let (source, start) = (source.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                source.token()
            })
        })
        .collect();
    for thread in threads {
        let tokens = thread.join().unwrap().unwrap();
        assert_eq!(tokens.access_token.secret(), "new");
    }

    let refreshes = server.requests_to("/token");
    assert_eq!(refreshes.len(), 1, "exactly one refresh request");
    assert!(refreshes[0].body.contains("grant_type=refresh_token"));
    assert!(refreshes[0].body.contains("refresh_token=r1"));
    // The rotated refresh token was handed to the store, once.
    let stored = stored.lock().unwrap();
    assert_eq!(stored.len(), 1);
    let refresh_token = stored[0].tokens().refresh_token.as_ref().unwrap();
    assert_eq!(refresh_token.secret(), "r2");
    assert_eq!(
        source
            .session()
            .tokens()
            .refresh_token
            .as_ref()
            .unwrap()
            .secret(),
        "r2"
    );
}

#[test]
fn waiters_get_the_leaders_error_and_an_ended_session_stays_ended() {
    let server = Server::start(|_| json(400, r#"{"error":"invalid_grant"}"#));
    let (_, clock) = clock(T0 + 4000);
    let ended = Arc::new(AtomicUsize::new(0));
    let count = ended.clone();
    let source = TokenSource::builder(session(), client(&server), HttpClient::new())
        .clock(clock)
        .on_change(move |session| {
            assert!(session.is_ended());
            count.fetch_add(1, Ordering::SeqCst);
        })
        .build();

    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (source, start) = (source.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                source.token()
            })
        })
        .collect();
    for thread in threads {
        let error = thread.join().unwrap().unwrap_err();
        assert!(error.is_session_ended(), "{error}");
        assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidGrant));
    }
    assert_eq!(server.requests_to("/token").len(), 1);
    assert_eq!(ended.load(Ordering::SeqCst), 1, "told to clear once");
    // Every later call says so, without asking the server again.
    let again = source.token().unwrap_err();
    assert!(matches!(again, TokenError::SessionEnded { .. }));
    assert!(source.is_ended());
    assert!(source.session().is_ended());
    assert_eq!(server.requests_to("/token").len(), 1);
}

#[test]
fn a_transport_error_keeps_the_session_and_the_old_token_while_it_is_good() {
    // A port nothing listens on: connection refused.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let client = Client::new(
        ClientId::new("app"),
        ClientAuth::ClientSecretBasic(ClientSecret::new("s3cret")),
    )
    .with_token_endpoint(EndpointUrl::parse(&format!("http://127.0.0.1:{port}/token")).unwrap());
    // Within the refresh margin but not expired: the old token still serves.
    let (now, clock) = clock(T0 + 3590);
    let source = TokenSource::builder(session(), client, HttpClient::new())
        .clock(clock)
        .build();
    assert_eq!(source.token().unwrap().access_token.secret(), "old");
    assert!(!source.is_ended());
    // Once expired, the failure is reported as retryable, the session kept.
    now.store(T0 + 3700, Ordering::SeqCst);
    let error = source.token().unwrap_err();
    assert!(matches!(error, TokenError::Failed(_)), "{error}");
    assert!(error.is_retryable());
    assert!(!source.is_ended());
    assert_eq!(
        source
            .session()
            .tokens()
            .refresh_token
            .as_ref()
            .unwrap()
            .secret(),
        "r1"
    );
}

/// A resource server at `/api` that accepts only the token `good` (401
/// `invalid_token` for anything else), beside a token endpoint at `/token`
/// that issues `new`.
fn resource_server(good: &'static str) -> Server {
    Server::start(move |seen| {
        if seen.path == "/token" {
            return token_endpoint(seen);
        }
        if seen.headers.get("authorization").map(String::as_str)
            == Some(&format!("Bearer {good}")[..])
        {
            (200, vec![], "hello".to_owned())
        } else {
            (
                401,
                vec![(
                    "www-authenticate",
                    r#"Bearer realm="api", error="invalid_token", error_description="expired""#
                        .to_owned(),
                )],
                String::new(),
            )
        }
    })
}

fn source_for(server: &Server) -> TokenSource {
    // The old token is not due: only the 401 makes the source refresh.
    let (_, clock) = clock(T0 + 10);
    TokenSource::builder(session(), client(server), HttpClient::new())
        .clock(clock)
        .build()
}

#[test]
fn a_401_invalid_token_refreshes_once_and_retries_once() {
    let server = resource_server("new");
    let source = source_for(&server);
    let origin = EndpointUrl::parse(&server.url("/")).unwrap();
    let agent = BearerAuth::new(source.clone(), &origin).agent();

    let mut response = agent.get(server.url("/api")).call().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body_mut().read_to_string().unwrap(), "hello");

    let calls = server.requests_to("/api");
    let sent: Vec<_> = calls
        .iter()
        .map(|c| c.headers["authorization"].as_str())
        .collect();
    assert_eq!(
        sent,
        ["Bearer old", "Bearer new"],
        "one retry, with the new token"
    );
    assert_eq!(server.requests_to("/token").len(), 1, "one refresh");
    assert_eq!(source.token().unwrap().access_token.secret(), "new");

    // The next request uses the new token straight away.
    let response = agent.get(server.url("/api")).call().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests_to("/api").len(), 3);
    assert_eq!(server.requests_to("/token").len(), 1);
}

#[test]
fn a_401_after_the_retry_is_returned_as_is() {
    let server = resource_server("nothing-is-good");
    let source = source_for(&server);
    let origin = EndpointUrl::parse(&server.url("/")).unwrap();
    let agent = BearerAuth::new(source, &origin).agent();

    let response = agent.get(server.url("/api")).call().unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(server.requests_to("/api").len(), 2, "one retry, no loop");
    assert_eq!(server.requests_to("/token").len(), 1);
}

#[test]
fn a_request_with_a_body_is_not_replayed() {
    let server = resource_server("new");
    let source = source_for(&server);
    let origin = EndpointUrl::parse(&server.url("/")).unwrap();
    let agent = BearerAuth::new(source, &origin).agent();

    let response = agent.post(server.url("/api")).send("payload").unwrap();
    assert_eq!(response.status(), 401);
    let calls = server.requests_to("/api");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].headers["authorization"], "Bearer old");
    assert_eq!(calls[0].body, "payload");
    assert!(server.requests_to("/token").is_empty());
}

#[test]
fn another_host_gets_no_token() {
    let server = resource_server("new");
    let elsewhere = Server::start(|_| (200, vec![], "elsewhere".to_owned()));
    let source = source_for(&server);
    let origin = EndpointUrl::parse(&server.url("/")).unwrap();
    let agent = BearerAuth::new(source, &origin).agent();

    // Another port is another origin.
    let response = agent.get(elsewhere.url("/api")).call().unwrap();
    assert_eq!(response.status(), 200);
    let calls = elsewhere.requests_to("/api");
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].headers.contains_key("authorization"));
    // The resource server itself does get it.
    agent.get(server.url("/api")).call().unwrap();
    assert_eq!(
        server.requests_to("/api")[0].headers["authorization"],
        "Bearer old"
    );
}

#[test]
fn an_ended_session_stops_the_request() {
    let server = Server::start(|seen| {
        if seen.path == "/token" {
            json(400, r#"{"error":"invalid_grant"}"#)
        } else {
            (
                401,
                vec![(
                    "www-authenticate",
                    r#"Bearer error="invalid_token""#.to_owned(),
                )],
                String::new(),
            )
        }
    });
    let source = source_for(&server);
    let origin = EndpointUrl::parse(&server.url("/")).unwrap();
    let agent = BearerAuth::new(source.clone(), &origin).agent();

    let error = agent.get(server.url("/api")).call().unwrap_err();
    let ureq::Error::Other(inner) = error else {
        panic!("expected the token error, got {error}")
    };
    let token_error = inner.downcast_ref::<TokenError>().unwrap();
    assert!(token_error.is_session_ended());
    assert!(source.is_ended());
    // No further request reaches the resource server.
    assert!(agent.get(server.url("/api")).call().is_err());
    assert_eq!(server.requests_to("/api").len(), 1);
}
