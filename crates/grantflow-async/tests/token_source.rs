//! The async token source against a tiny loopback token endpoint on
//! 127.0.0.1 that counts its requests, in fake time, on smol and on
//! async-std: 64 tasks due at once cause one refresh, waiters share the
//! leader's error, a cancelled leader hands the renewal on, an ended session
//! answers ended forever, a transport error keeps the old token while it is
//! good, a client credentials session renews by running its grant again;
//! and a caller's own `!Send` client on a single-threaded executor, where a
//! 503 keeps the old token and 64 futures share one refresh.

// Test code: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::Poll;
use std::time::{Duration, Instant};

use grantflow::{
    AccessToken, Client, ClientAuth, ClientCredentials, ClientId, ClientSecret, EndpointUrl,
    ErrorCode, RefreshToken, Scope, Session, TokenSet, TokenType, UnixTime,
};
use grantflow_async::{HttpClient, TokenError, TokenSource};

/// One request as the loopback server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    body: String,
}

/// What the server does with a request.
enum Reply {
    /// Answer with this status and JSON body, keeping the connection open.
    Json(u16, String),
    /// Answer nothing until this channel says what to answer (or closes).
    Hold(mpsc::Receiver<(u16, String)>),
}

/// A one-thread-per-connection HTTP/1.1 server on 127.0.0.1 that answers
/// with `reply` and records every request.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(reply: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Server {
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

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    reply: &(dyn Fn(usize, &Seen) -> Reply + Send + Sync),
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
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let seen = Seen {
            path,
            body: String::from_utf8(body).unwrap(),
        };
        let n = {
            let mut log = log.lock().unwrap();
            log.push(seen.clone());
            log.len() - 1
        };
        let (status, body) = match reply(n, &seen) {
            Reply::Json(status, body) => (status, body),
            Reply::Hold(release) => match release.recv() {
                Ok(answer) => answer,
                Err(_) => return,
            },
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

const T0: u64 = 1_700_000_000;

const ROTATED: &str =
    r#"{"access_token":"new","token_type":"Bearer","expires_in":3600,"refresh_token":"r2"}"#;

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

/// A fake clock the test moves, and how many times it was read.
struct FakeClock {
    now: Arc<AtomicU64>,
    reads: Arc<AtomicUsize>,
}

impl FakeClock {
    fn at(secs: u64) -> FakeClock {
        FakeClock {
            now: Arc::new(AtomicU64::new(secs)),
            reads: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn reader(&self) -> impl Fn() -> UnixTime + Send + Sync + 'static {
        let (now, reads) = (self.now.clone(), self.reads.clone());
        move || {
            reads.fetch_add(1, Ordering::SeqCst);
            UnixTime::from_secs(now.load(Ordering::SeqCst))
        }
    }

    fn set(&self, secs: u64) {
        self.now.store(secs, Ordering::SeqCst);
    }
}

/// Spawns tasks on one runtime, so a scenario runs on each.
trait Runtime {
    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>>;
}

struct Smol;

impl Runtime for Smol {
    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>> {
        Box::pin(smol::spawn(future))
    }
}

struct AsyncStd;

impl Runtime for AsyncStd {
    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>> {
        Box::pin(async_std::task::spawn(future))
    }
}

/// A test per runtime for each scenario.
macro_rules! on_both_runtimes {
    ($($scenario:ident),* $(,)?) => {
        mod smol_runtime {
            $(
                #[test]
                fn $scenario() {
                    smol::block_on(super::$scenario::<super::Smol>());
                }
            )*
        }
        mod async_std_runtime {
            $(
                #[test]
                fn $scenario() {
                    async_std::task::block_on(super::$scenario::<super::AsyncStd>());
                }
            )*
        }
    };
}

on_both_runtimes!(
    sixty_four_tasks_due_at_once_cause_one_refresh,
    waiters_get_the_leaders_error_and_an_ended_session_stays_ended,
    a_cancelled_leader_hands_the_renewal_to_a_waiter,
    a_transport_error_keeps_the_session_and_the_old_token_while_it_is_good,
    a_client_credentials_session_runs_its_grant_again,
);

/// Spins (no sleep) until `done`, for at most five seconds.
fn spin_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() && Instant::now() < deadline {
        std::thread::yield_now();
    }
}

async fn sixty_four_tasks_due_at_once_cause_one_refresh<R: Runtime>() {
    const TASKS: usize = 64;
    // Past the old token's expiry: every task finds it due.
    let clock = FakeClock::at(T0 + 4000);
    let reads = clock.reads.clone();
    // The token endpoint answers only once every task has looked at the
    // session (each first look reads the clock once; the leader reads it
    // twice more before sending), so all 64 are asking while the one
    // refresh is in flight.
    let server = Server::start(move |_, _| {
        spin_until(|| reads.load(Ordering::SeqCst) >= TASKS + 2);
        Reply::Json(200, ROTATED.to_owned())
    });
    let stored = Arc::new(Mutex::new(Vec::new()));
    let store = stored.clone();
    let source = TokenSource::builder(session(), client(&server), HttpClient::new())
        .clock(clock.reader())
        .on_change(move |session| store.lock().unwrap().push(session.clone()))
        .build();

    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let source = source.clone();
            R::spawn(async move { source.token().await })
        })
        .collect();
    for task in tasks {
        let tokens = task.await.unwrap();
        assert_eq!(tokens.access_token.secret(), "new");
    }

    assert!(
        clock.reads.load(Ordering::SeqCst) >= TASKS + 2,
        "every task looked while the refresh was in flight"
    );
    let refreshes = server.requests();
    assert_eq!(refreshes.len(), 1, "exactly one refresh request");
    assert_eq!(refreshes[0].path, "/token");
    assert!(refreshes[0].body.contains("grant_type=refresh_token"));
    assert!(refreshes[0].body.contains("refresh_token=r1"));
    // The rotated refresh token was handed to the store, once.
    let stored = stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    let refresh_token = stored[0].tokens().refresh_token.as_ref().unwrap();
    assert_eq!(refresh_token.secret(), "r2");
    let session = source.session();
    assert_eq!(
        session.tokens().refresh_token.as_ref().unwrap().secret(),
        "r2"
    );
    // The new token is good: the next call sends nothing.
    assert_eq!(source.token().await.unwrap().access_token.secret(), "new");
    assert_eq!(server.requests().len(), 1);
}

async fn waiters_get_the_leaders_error_and_an_ended_session_stays_ended<R: Runtime>() {
    const TASKS: usize = 8;
    let clock = FakeClock::at(T0 + 4000);
    let reads = clock.reads.clone();
    let server = Server::start(move |_, _| {
        spin_until(|| reads.load(Ordering::SeqCst) >= TASKS + 2);
        Reply::Json(400, r#"{"error":"invalid_grant"}"#.to_owned())
    });
    let ended = Arc::new(AtomicUsize::new(0));
    let count = ended.clone();
    let source = TokenSource::builder(session(), client(&server), HttpClient::new())
        .clock(clock.reader())
        .on_change(move |session| {
            assert!(session.is_ended());
            count.fetch_add(1, Ordering::SeqCst);
        })
        .build();

    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let source = source.clone();
            R::spawn(async move { source.token().await })
        })
        .collect();
    for task in tasks {
        let error = task.await.unwrap_err();
        assert!(error.is_session_ended(), "{error}");
        assert!(!error.is_retryable());
        assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidGrant));
    }
    assert_eq!(server.requests().len(), 1, "one refresh for all");
    assert_eq!(ended.load(Ordering::SeqCst), 1, "told to clear once");

    // Every later call says so, without asking the server again, even when
    // the clock moves and the token is reported rejected.
    for later in [T0 + 4000, T0 + 10, T0 + 100_000] {
        clock.set(later);
        source.invalidate();
        let again = source.token().await.unwrap_err();
        assert!(matches!(again, TokenError::SessionEnded { .. }), "{again}");
        assert_eq!(again.oauth_code(), Some(&ErrorCode::InvalidGrant));
    }
    assert!(source.is_ended());
    assert!(source.session().is_ended());
    assert_eq!(server.requests().len(), 1);
    assert_eq!(ended.load(Ordering::SeqCst), 1);
}

/// Polls every future until all are done, in one task: the futures are
/// polled together, as tasks would be, without a spawn.
async fn join_all<T>(mut futures: Vec<Pin<Box<dyn Future<Output = T> + Send + '_>>>) -> Vec<T> {
    let mut outputs: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

async fn a_cancelled_leader_hands_the_renewal_to_a_waiter<R: Runtime>() {
    // The first refresh is held (it never gets an answer); the next one is
    // answered.
    let (received_tx, received) = smol::channel::unbounded();
    let held = Mutex::new(Vec::new());
    let server = Server::start(move |n, _| {
        received_tx.send_blocking(n).unwrap();
        if n == 0 {
            let (release, hold) = mpsc::channel();
            held.lock().unwrap().push(release);
            Reply::Hold(hold)
        } else {
            Reply::Json(200, ROTATED.to_owned())
        }
    });
    let clock = FakeClock::at(T0 + 4000);
    let source = TokenSource::builder(session(), client(&server), HttpClient::new())
        .clock(clock.reader())
        .build();

    // The leader sends its refresh; the server has it.
    let mut leader = Box::pin(source.token());
    let early = futures_lite::future::or(async { Some(leader.as_mut().await) }, async {
        received.recv().await.unwrap();
        None
    })
    .await;
    assert!(early.is_none(), "the held refresh cannot be answered");

    // Eight waiters queue behind it: each polled once, each waits.
    type Answer = Result<TokenSet, TokenError>;
    let mut waiters: Vec<Pin<Box<dyn Future<Output = Answer> + Send>>> = (0..8)
        .map(|_| Box::pin(source.token()) as Pin<Box<dyn Future<Output = Answer> + Send>>)
        .collect();
    for waiter in &mut waiters {
        assert!(
            futures_lite::future::poll_once(waiter.as_mut())
                .await
                .is_none()
        );
    }

    // The leader is dropped mid-request: a waiter takes over and all get
    // the one new token.
    drop(leader);
    for result in join_all(waiters).await {
        assert_eq!(result.unwrap().access_token.secret(), "new");
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "the dropped refresh, and one more");
    assert!(
        requests
            .iter()
            .all(|seen| seen.body.contains("refresh_token=r1"))
    );
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
    // A task spawned on the runtime now gets the token without a request.
    let late = source.clone();
    let tokens = R::spawn(async move { late.token().await }).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "new");
    assert_eq!(server.requests().len(), 2);
}

async fn a_transport_error_keeps_the_session_and_the_old_token_while_it_is_good<R: Runtime>() {
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
    let clock = FakeClock::at(T0 + 3590);
    let changes = Arc::new(AtomicUsize::new(0));
    let count = changes.clone();
    let source = TokenSource::builder(session(), client, HttpClient::new())
        .clock(clock.reader())
        .on_change(move |_| {
            count.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    let task = source.clone();
    let tokens = R::spawn(async move { task.token().await }).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "old");
    assert!(!source.is_ended());
    // The session waits before asking again (Session::retry_later).
    let reads = clock.reads.load(Ordering::SeqCst);
    assert_eq!(source.token().await.unwrap().access_token.secret(), "old");
    assert_eq!(
        clock.reads.load(Ordering::SeqCst),
        reads + 1,
        "one look, no renewal"
    );
    // Once expired, the failure is reported as retryable, the session kept.
    clock.set(T0 + 3700);
    let error = source.token().await.unwrap_err();
    assert!(matches!(error, TokenError::Failed(_)), "{error}");
    assert!(error.is_retryable());
    assert!(!error.is_session_ended());
    assert!(!source.is_ended());
    let session = source.session();
    assert_eq!(
        session.tokens().refresh_token.as_ref().unwrap().secret(),
        "r1"
    );
    assert_eq!(changes.load(Ordering::SeqCst), 0, "nothing new to store");
}

async fn a_client_credentials_session_runs_its_grant_again<R: Runtime>() {
    let server = Server::start(|n, _| {
        Reply::Json(
            200,
            format!(r#"{{"access_token":"cc-{n}","token_type":"Bearer","expires_in":300}}"#),
        )
    });
    let client = client(&server);
    let grant: ClientCredentials = client
        .client_credentials()
        .unwrap()
        .scope(Scope::new("api:read").unwrap());
    let tokens = TokenSet::new(
        AccessToken::new("cc-old"),
        TokenType::Bearer,
        UnixTime::from_secs(T0),
    )
    .with_expires_in(300);
    let clock = FakeClock::at(T0 + 10);
    let source = TokenSource::builder(
        Session::from_client_credentials(&grant, tokens),
        client,
        HttpClient::new(),
    )
    .clock(clock.reader())
    .build();

    assert_eq!(
        source.token().await.unwrap().access_token.secret(),
        "cc-old"
    );
    assert!(server.requests().is_empty());

    // Rejected by a resource server: renewed. A second report of the same
    // (already replaced) token changes nothing.
    let rejected = AccessToken::new("cc-old");
    source.invalidate_token(&rejected);
    let task = source.clone();
    let tokens = R::spawn(async move { task.token().await }).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "cc-0");
    source.invalidate_token(&rejected);
    assert_eq!(source.token().await.unwrap().access_token.secret(), "cc-0");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body.contains("grant_type=client_credentials"));
    assert!(requests[0].body.contains("scope=api%3Aread"));

    // Due again near its expiry: the grant runs again.
    clock.set(T0 + 10 + 300);
    assert_eq!(source.token().await.unwrap().access_token.secret(), "cc-1");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn the_source_and_its_future_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let client = Client::new(ClientId::new("app"), ClientAuth::None);
    let tokens = TokenSet::new(
        AccessToken::new("at"),
        TokenType::Bearer,
        UnixTime::from_secs(T0),
    );
    let source = TokenSource::new(Session::from_tokens(tokens), client, HttpClient::new());
    assert_send_sync(&source);
    let future = source.token();
    assert_send(&future);
    let answer = futures_lite::future::block_on(future).unwrap();
    assert_eq!(answer.access_token.secret(), "at");
    // Debug shows no token.
    let shown = format!("{source:?} {:?}", source.session());
    assert!(!shown.contains("\"at\""), "{shown}");
}

/// A client of the caller's own ([`AsyncHttpClient`] in a few lines),
/// answering from memory: 503 first, then rotated tokens. It counts its
/// requests, and its futures are not `Send` (an `Rc` inside): the source
/// runs on a single-threaded executor all the same.
struct Scripted {
    sent: std::rc::Rc<std::cell::Cell<usize>>,
}

impl grantflow_async::AsyncHttpClient for Scripted {
    type Error = std::io::Error;

    async fn send(
        &self,
        request: grantflow::HttpRequest,
    ) -> Result<grantflow::HttpResponse, std::io::Error> {
        assert_eq!(request.uri().path(), "/token");
        let n = self.sent.get();
        self.sent.set(n + 1);
        // Let the other futures run while this request is "in flight".
        futures_lite::future::yield_now().await;
        let (status, body) = match n {
            0 => (503, r#"{"error":"temporarily_unavailable"}"#),
            _ => (200, ROTATED),
        };
        Ok(http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap())
    }
}

#[test]
fn a_callers_own_client_a_5xx_and_sixty_four_futures_on_one_thread() {
    let sent = std::rc::Rc::new(std::cell::Cell::new(0));
    let client = Client::new(
        ClientId::new("app"),
        ClientAuth::ClientSecretBasic(ClientSecret::new("s3cret")),
    )
    .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap());
    // Within the 60 s margin of the old token's expiry: due, still good.
    let clock = FakeClock::at(T0 + 3550);
    let source: TokenSource<Scripted> =
        TokenSource::builder(session(), client, Scripted { sent: sent.clone() })
            .clock(clock.reader())
            .build();

    futures_lite::future::block_on(async {
        // The 503: the session goes on with the old token, and waits
        // RETRY_DELAY (10 s) before asking again.
        assert_eq!(source.token().await.unwrap().access_token.secret(), "old");
        assert_eq!(sent.get(), 1);
        clock.set(T0 + 3559);
        assert_eq!(source.token().await.unwrap().access_token.secret(), "old");
        assert_eq!(sent.get(), 1, "no new request within the retry delay");

        // After the delay, 64 futures polled together on this one thread:
        // one request, one new token for all.
        clock.set(T0 + 3561);
        let futures: Vec<Pin<Box<dyn Future<Output = _>>>> = (0..64)
            .map(|_| Box::pin(source.token()) as Pin<Box<dyn Future<Output = _>>>)
            .collect();
        let mut outputs: Vec<Option<Result<TokenSet, TokenError<std::io::Error>>>> =
            futures.iter().map(|_| None).collect();
        let mut futures = futures;
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
                if output.is_none() {
                    match future.as_mut().poll(cx) {
                        Poll::Ready(value) => *output = Some(value),
                        Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        for output in outputs {
            assert_eq!(output.unwrap().unwrap().access_token.secret(), "new");
        }
        assert_eq!(sent.get(), 2, "one refresh for 64 futures");
    });

    // Once the old token has expired, a 503 is an error the caller sees,
    // and it says a retry may help (the session does not end).
    let sent = std::rc::Rc::new(std::cell::Cell::new(0));
    let client = Client::new(ClientId::new("app"), ClientAuth::None)
        .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap());
    let clock = FakeClock::at(T0 + 3700);
    let source = TokenSource::builder(session(), client, Scripted { sent: sent.clone() })
        .clock(clock.reader())
        .build();
    let error = futures_lite::future::block_on(source.token()).unwrap_err();
    assert!(matches!(error, TokenError::Failed(_)), "{error}");
    assert!(error.is_retryable());
    assert_eq!(error.oauth_code(), Some(&ErrorCode::TemporarilyUnavailable));
    assert!(!source.is_ended());
    assert_eq!(sent.get(), 1);
}
