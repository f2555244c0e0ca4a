//! The built-in client against scripted HTTP/1.1 servers on 127.0.0.1: the
//! OAuth defaults (error statuses are responses, no redirects, a body cap,
//! timeouts), keep-alive reuse, a pooled connection the server closed, and
//! a request dropped mid-way that leaves the pool usable.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use grantflow_async::{HttpClient, TransportErrorKind, TransportFailure};

/// A request as the scripted server read it.
#[derive(Debug, Clone)]
struct Seen {
    connection: usize,
    head: String,
    body: Vec<u8>,
}

/// What the script does with a request.
enum Reply {
    /// Write these bytes and keep the connection open.
    Send(Vec<u8>),
    /// Write these bytes, then close the connection.
    SendAndClose(Vec<u8>),
    /// Answer nothing until this channel says what to write (or closes).
    Hold(mpsc::Receiver<Vec<u8>>),
}

struct Server {
    port: u16,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    requests: mpsc::Receiver<()>,
}

impl Server {
    /// Serves every connection on a thread of its own; `script` answers the
    /// `n`th request (counting from 0 over all connections).
    fn start(script: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (request_tx, requests) = mpsc::channel();
        let script = Arc::new(script);
        {
            let connections = connections.clone();
            let seen = seen.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let connection = connections.fetch_add(1, Ordering::SeqCst);
                    let seen = seen.clone();
                    let script = script.clone();
                    let request_tx = request_tx.clone();
                    std::thread::spawn(move || {
                        serve(stream, connection, &seen, &*script, &request_tx)
                    });
                }
            });
        }
        Server {
            port,
            connections,
            seen,
            requests,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    connection: usize,
    seen: &Mutex<Vec<Seen>>,
    script: &(dyn Fn(usize, &Seen) -> Reply + Send + Sync),
    requests: &mpsc::Sender<()>,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let request = Seen {
            connection,
            head,
            body,
        };
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.push(request.clone());
            seen.len() - 1
        };
        let _ = requests.send(());
        match script(n, &request) {
            Reply::Send(bytes) => {
                if writer.write_all(&bytes).is_err() {
                    return;
                }
            }
            Reply::SendAndClose(bytes) => {
                let _ = writer.write_all(&bytes);
                return;
            }
            Reply::Hold(release) => {
                if let Ok(bytes) = release.recv() {
                    // The client may be gone: whatever happens to the write
                    // happens to a connection nobody reads.
                    let _ = writer.write_all(&bytes);
                }
            }
        }
    }
}

fn json(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get(url: &str) -> grantflow::HttpRequest {
    http::Request::get(url).body(Vec::new()).unwrap()
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    smol::block_on(future)
}

#[test]
fn error_statuses_are_responses_and_the_request_goes_out_as_described() {
    let server = Server::start(|_, _| Reply::Send(json(400, r#"{"error":"invalid_grant"}"#)));
    let http = HttpClient::new();
    let request = http::Request::post(server.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", "Basic c3ZjOnNlY3JldA==")
        .body(b"grant_type=client_credentials".to_vec())
        .unwrap();
    let response = block_on(http.send(request)).unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.body(), br#"{"error":"invalid_grant"}"#);
    assert_eq!(response.headers()["content-type"], "application/json");

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let head = seen[0].head.to_ascii_lowercase();
    assert!(head.starts_with("post /token http/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("host: 127.0.0.1:{}\r\n", server.port)),
        "{head}"
    );
    assert!(head.contains("content-length: 29\r\n"), "{head}");
    let authorization = seen[0]
        .head
        .lines()
        .find_map(|line| line.strip_prefix("authorization: "))
        .unwrap();
    assert_eq!(authorization, "Basic c3ZjOnNlY3JldA==");
    assert!(head.contains("user-agent: grantflow-async/"), "{head}");
    assert_eq!(seen[0].body, b"grant_type=client_credentials");
}

#[test]
fn redirects_are_returned_not_followed() {
    let server = Server::start(|_, _| {
        Reply::Send(
            b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n"
                .to_vec(),
        )
    });
    let http = HttpClient::new();
    let response = block_on(http.send(get(&server.url("/authorize")))).unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "http://127.0.0.1:1/elsewhere"
    );
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn chunked_bodies_are_decoded() {
    let server = Server::start(|_, _| {
        Reply::Send(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                .to_vec(),
        )
    });
    let http = HttpClient::new();
    let first = block_on(http.send(get(&server.url("/a")))).unwrap();
    assert_eq!(first.body(), b"hello world");
    let second = block_on(http.send(get(&server.url("/b")))).unwrap();
    assert_eq!(second.body(), b"hello world");
    assert_eq!(
        server.connections(),
        1,
        "the chunked response ended cleanly: reused"
    );
}

#[test]
fn bodies_over_the_cap_are_refused() {
    let server = Server::start(|n, _| {
        match n {
        // Announced too large.
        0 => Reply::Send(json(200, &"x".repeat(101))),
        // Chunked, too large only once read.
        1 => Reply::Send(
            format!(
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n40\r\n{}\r\n40\r\n{}\r\n0\r\n\r\n",
                "y".repeat(64),
                "y".repeat(64)
            )
            .into_bytes(),
        ),
        // Exactly at the cap.
        _ => Reply::Send(json(200, &"z".repeat(100))),
    }
    });
    let http = HttpClient::builder().max_body(100).build();
    for _ in 0..2 {
        let error = block_on(http.send(get(&server.url("/big")))).unwrap_err();
        assert_eq!(
            error.kind(),
            TransportErrorKind::BodyTooLarge { limit: 100 }
        );
        assert!(!error.is_retryable());
        assert_eq!(
            http.idle_connections(),
            0,
            "a half-read connection is not pooled"
        );
    }
    let response = block_on(http.send(get(&server.url("/fits")))).unwrap();
    assert_eq!(response.body().len(), 100);
    assert_eq!(HttpClient::DEFAULT_MAX_BODY, grantflow::MAX_BODY);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let server = Server::start(|n, _| Reply::Send(json(200, &format!(r#"{{"n":{n}}}"#))));
    let http = HttpClient::new();
    for n in 0..3 {
        let response = block_on(http.send(get(&server.url("/n")))).unwrap();
        assert_eq!(response.body(), format!(r#"{{"n":{n}}}"#).as_bytes());
        assert_eq!(http.idle_connections(), 1);
    }
    assert_eq!(server.connections(), 1);
    assert!(server.seen().iter().all(|seen| seen.connection == 0));
}

#[test]
fn a_pooled_connection_the_server_closed_is_replaced() {
    // Every response is the last on its connection, without saying so.
    let server = Server::start(|n, _| Reply::SendAndClose(json(200, &format!(r#"{{"n":{n}}}"#))));
    let http = HttpClient::new();
    let first = block_on(http.send(get(&server.url("/n")))).unwrap();
    assert_eq!(first.body(), br#"{"n":0}"#);
    let second = block_on(http.send(get(&server.url("/n")))).unwrap();
    assert_eq!(second.body(), br#"{"n":1}"#);
    assert_eq!(server.connections(), 2);
    assert_eq!(
        server.seen().len(),
        2,
        "the dead connection carried no request"
    );
}

#[test]
fn a_request_dropped_mid_way_leaves_the_pool_usable() {
    let (release_tx, release_rx) = mpsc::channel();
    let release_rx = Mutex::new(Some(release_rx));
    let server = Server::start(move |n, _| match n {
        // The request that will be abandoned: held until released.
        1 => Reply::Hold(release_rx.lock().unwrap().take().unwrap()),
        n => Reply::Send(json(200, &format!(r#"{{"n":{n}}}"#))),
    });
    let http = HttpClient::new();
    block_on(async {
        // A first request leaves a connection in the pool.
        http.send(get(&server.url("/n"))).await.unwrap();
        assert_eq!(http.idle_connections(), 1);

        // The second takes it, and is dropped once the server has read it.
        {
            let mut abandoned = std::pin::pin!(http.send(get(&server.url("/n"))));
            // The first request's signal; the loop waits for the second's.
            server.requests.recv().unwrap();
            let started = Instant::now();
            loop {
                assert!(
                    futures_lite::future::poll_once(&mut abandoned)
                        .await
                        .is_none()
                );
                if server.requests.try_recv().is_ok() {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(10));
                async_io::Timer::after(Duration::from_millis(1)).await;
            }
            assert_eq!(server.seen().len(), 2);
        }
        assert_eq!(
            http.idle_connections(),
            0,
            "the abandoned connection is not pooled"
        );
        // Its answer arrives late, on a connection nobody reads any more.
        release_tx.send(json(200, r#"{"n":"stale"}"#)).unwrap();

        // The next request gets its own answer, on a new connection.
        let response = http.send(get(&server.url("/n"))).await.unwrap();
        assert_eq!(response.body(), br#"{"n":2}"#);
        assert_eq!(server.connections(), 2);
        assert_eq!(http.idle_connections(), 1);
    });
}

#[test]
fn the_overall_timeout_ends_a_request_the_server_never_answers() {
    let (_release, release_rx) = mpsc::channel();
    let release_rx = Mutex::new(Some(release_rx));
    let server = Server::start(move |_, _| Reply::Hold(release_rx.lock().unwrap().take().unwrap()));
    let http = HttpClient::builder()
        .timeout(Duration::from_millis(50))
        .build();
    let started = Instant::now();
    let error = block_on(http.send(get(&server.url("/slow")))).unwrap_err();
    assert_eq!(error.kind(), TransportErrorKind::Timeout);
    assert!(error.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(http.idle_connections(), 0);
}

#[test]
fn connection_failures_and_unsupported_uris_are_transport_errors() {
    // A port nothing listens on (bound, then closed).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = HttpClient::new();
    let error = block_on(http.send(get(&format!("http://127.0.0.1:{port}/")))).unwrap_err();
    assert_eq!(error.kind(), TransportErrorKind::Connect);
    assert!(error.to_string().contains("127.0.0.1"), "{error}");

    let error = block_on(http.send(get("ftp://127.0.0.1/file"))).unwrap_err();
    assert_eq!(error.kind(), TransportErrorKind::InvalidRequest);
    assert!(!error.is_retryable());
}

#[test]
fn https_refuses_a_server_that_does_not_speak_tls() {
    // A server answering in plain text on the https port: the handshake
    // fails, and the request is never sent.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let http = HttpClient::builder()
        .connect_timeout(Duration::from_secs(5))
        .build();
    let error = block_on(http.send(get(&format!("https://127.0.0.1:{port}/")))).unwrap_err();
    assert_eq!(error.kind(), TransportErrorKind::Tls, "{error}");
    assert!(!error.is_retryable());
}

/// A CONNECT proxy on 127.0.0.1: records each CONNECT head, answers with
/// `status`, and on 200 pipes bytes both ways to the target.
struct ConnectProxy {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start(status: &'static str) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = heads.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let recorded = recorded.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let target = head.split(' ').nth(1).unwrap().to_owned();
                    recorded.lock().unwrap().push(head);
                    let mut client = client;
                    if status != "200" {
                        let _ = client.write_all(
                            format!("HTTP/1.1 {status} No\r\ncontent-length: 0\r\n\r\n").as_bytes(),
                        );
                        return;
                    }
                    let server = TcpStream::connect(target).unwrap();
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap();
                    let (mut to_server, mut from_server) = (server.try_clone().unwrap(), server);
                    let mut to_client = client.try_clone().unwrap();
                    std::thread::spawn(move || std::io::copy(&mut from_server, &mut to_client));
                    let _ = std::io::copy(&mut reader, &mut to_server);
                });
            }
        });
        ConnectProxy { port, heads }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[test]
fn a_proxy_is_used_only_when_asked_for_through_a_connect_tunnel() {
    let server = Server::start(|n, _| Reply::Send(json(200, &format!(r#"{{"n":{n}}}"#))));
    let proxy = ConnectProxy::start("200");
    let http = HttpClient::builder()
        .proxy(
            grantflow_async::Proxy::new(&proxy.url())
                .unwrap()
                .with_basic_auth("user", "pass"),
        )
        .build();
    assert!(!format!("{http:?}").contains("dXNlcjpwYXNz"), "{http:?}");
    for n in 0..2 {
        let response = block_on(http.send(get(&server.url("/n")))).unwrap();
        assert_eq!(response.body(), format!(r#"{{"n":{n}}}"#).as_bytes());
    }
    // One tunnel, kept alive for both requests.
    let heads = proxy.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let target = format!("127.0.0.1:{}", server.port);
    assert!(
        heads[0].starts_with(&format!("CONNECT {target} HTTP/1.1\r\n")),
        "{heads:?}"
    );
    assert!(
        heads[0].contains(&format!("Host: {target}\r\n")),
        "{heads:?}"
    );
    assert!(
        heads[0].contains("Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"),
        "{heads:?}"
    );
    assert_eq!(server.seen().len(), 2);
    assert!(
        !server.seen()[0]
            .head
            .to_ascii_lowercase()
            .contains("proxy-authorization"),
        "the proxy's credential stays with the proxy"
    );

    // Without the builder call, the same client setup goes direct.
    let direct = HttpClient::new();
    block_on(direct.send(get(&server.url("/n")))).unwrap();
    assert_eq!(proxy.heads.lock().unwrap().len(), 1);
}

#[test]
fn a_proxy_that_refuses_the_tunnel_is_a_connect_error() {
    let proxy = ConnectProxy::start("407");
    let http = HttpClient::builder()
        .proxy(grantflow_async::Proxy::new(&proxy.url()).unwrap())
        .build();
    let error = block_on(http.send(get("http://127.0.0.1:9/token"))).unwrap_err();
    assert_eq!(error.kind(), TransportErrorKind::Connect);
    assert!(error.to_string().contains("407"), "{error}");

    for bad in [
        "socks5://127.0.0.1:1080",
        "http://user:pw@proxy:3128",
        "not a url",
    ] {
        let error = grantflow_async::Proxy::new(bad).unwrap_err();
        assert_eq!(error.kind(), TransportErrorKind::InvalidRequest, "{bad}");
    }
}
