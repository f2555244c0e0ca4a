//! The driver loop in fake time: `WaitUntil` waits on a real async-io timer
//! scaled down (one fake second is one real millisecond), and the flow is
//! called back only once the fake clock has reached its deadline.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, Delayed, EndpointUrl, HttpRequest, HttpResponse,
    UnixTime,
};

use super::*;

const T0: u64 = 1_700_000_000;

/// A clock that moves only when the driver sleeps. A sleep of `d` waits a
/// real timer of `d` in milliseconds, then moves the clock by `d` minus
/// `short` (the first time only: a timer that fires early).
struct FakeClock {
    now: Cell<u64>,
    slept: RefCell<Vec<Duration>>,
    short: Cell<u64>,
}

impl FakeClock {
    fn new(short: u64) -> Self {
        FakeClock {
            now: Cell::new(T0),
            slept: RefCell::new(Vec::new()),
            short: Cell::new(short),
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.now.get())
    }

    async fn sleep(&self, duration: Duration) {
        self.slept.borrow_mut().push(duration);
        async_io::Timer::after(Duration::from_millis(duration.as_secs())).await;
        let short = self.short.replace(0);
        self.now.set(self.now.get() + duration.as_secs() - short);
    }
}

/// Answers every request with a token, noting the fake time it was sent at.
struct TokenServer<'a> {
    clock: &'a FakeClock,
    sent_at: RefCell<Vec<u64>>,
}

impl AsyncHttpClient for TokenServer<'_> {
    type Error = std::io::Error;

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, std::io::Error> {
        assert_eq!(request.uri(), "https://as.example.com/token");
        self.sent_at.borrow_mut().push(self.clock.now.get());
        Ok(grantflow::testing::json_response(
            200,
            r#"{"access_token":"at","token_type":"Bearer","expires_in":60}"#,
        ))
    }
}

fn client() -> Client {
    Client::new(
        ClientId::new("svc"),
        ClientAuth::ClientSecretBasic(ClientSecret::new("secret")),
    )
    .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap())
}

#[test]
fn wait_until_waits_for_the_deadline_on_the_timer() {
    let clock = FakeClock::new(0);
    let server = TokenServer {
        clock: &clock,
        sent_at: RefCell::new(Vec::new()),
    };
    let flow = Delayed::new(
        client().client_credentials().unwrap(),
        UnixTime::from_secs(T0 + 20),
    );
    let events = RefCell::new(Vec::new());
    let started = Instant::now();
    let mut future = std::pin::pin!(run(
        &server,
        flow,
        |event| events.borrow_mut().push(format!("{event:?}")),
        &clock
    ));

    // Polled before the timer fires: pending, and nothing sent.
    assert!(futures_lite::future::block_on(futures_lite::future::poll_once(&mut future)).is_none());
    assert!(server.sent_at.borrow().is_empty());
    assert_eq!(clock.now.get(), T0);

    let tokens = futures_lite::future::block_on(future).unwrap();
    let events = events.borrow().clone();
    assert_eq!(tokens.access_token.secret(), "at");
    // One wait of exactly the time left, and the request went out at the deadline.
    assert_eq!(*clock.slept.borrow(), [Duration::from_secs(20)]);
    assert_eq!(*server.sent_at.borrow(), [T0 + 20]);
    // The real timer ran (20 ms), and no more than a moment.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(20), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[0].starts_with("Waiting("), "{events:?}");
    assert!(events[1].starts_with("Sending("), "{events:?}");
    assert!(events[2].starts_with("Received("), "{events:?}");
}

#[test]
fn a_timer_that_fires_early_waits_the_rest() {
    // The first sleep of 20 s moves the clock by only 17 s.
    let clock = FakeClock::new(3);
    let server = TokenServer {
        clock: &clock,
        sent_at: RefCell::new(Vec::new()),
    };
    let flow = Delayed::new(
        client().client_credentials().unwrap(),
        UnixTime::from_secs(T0 + 20),
    );
    let mut waits = Vec::new();
    let tokens = futures_lite::future::block_on(run(
        &server,
        flow,
        |event| {
            if let Event::Waiting(until) = event {
                waits.push(until);
            }
        },
        &clock,
    ))
    .unwrap();
    assert_eq!(tokens.access_token.secret(), "at");
    assert_eq!(
        *clock.slept.borrow(),
        [Duration::from_secs(20), Duration::from_secs(3)]
    );
    assert_eq!(waits, [UnixTime::from_secs(T0 + 20); 2]);
    assert_eq!(*server.sent_at.borrow(), [T0 + 20]);
}

#[test]
fn a_deadline_already_past_does_not_sleep() {
    let clock = FakeClock::new(0);
    let server = TokenServer {
        clock: &clock,
        sent_at: RefCell::new(Vec::new()),
    };
    let flow = Delayed::new(
        client().client_credentials().unwrap(),
        UnixTime::from_secs(T0 - 5),
    );
    futures_lite::future::block_on(run(&server, flow, |_| {}, &clock)).unwrap();
    assert!(clock.slept.borrow().is_empty());
    assert_eq!(*server.sent_at.borrow(), [T0]);
}

#[test]
fn the_system_clock_waits_on_async_io_timers() {
    // A deadline a second behind the system clock: no sleep, straight on.
    let server = TokenServer {
        clock: &FakeClock::new(0),
        sent_at: RefCell::new(Vec::new()),
    };
    let past = UnixTime::from_secs(now().as_secs() - 1);
    let flow = Delayed::new(client().client_credentials().unwrap(), past);
    let started = Instant::now();
    futures_lite::future::block_on(drive(&server, flow)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.sent_at.borrow().len(), 1);
}

#[test]
fn wait_duration_is_the_time_left_on_the_clock() {
    let t = UnixTime::from_secs;
    assert_eq!(wait_duration(t(100), t(105)), Duration::from_secs(5));
    assert_eq!(wait_duration(t(100), t(100)), Duration::ZERO);
    assert_eq!(wait_duration(t(100), t(40)), Duration::ZERO);
    assert_eq!(
        wait_duration(UnixTime::EPOCH, UnixTime::MAX),
        Duration::from_secs(u64::MAX)
    );
}

#[test]
fn errors_sort_into_kinds() {
    let refused: Error = Error::Flow(grantflow::Error::OAuth(grantflow::ErrorResponse::new(
        grantflow::ErrorCode::InvalidGrant,
        None,
        None,
        Some(400),
    )));
    assert_eq!(refused.kind(), grantflow::ErrorKind::Refused);
    assert_eq!(
        refused.oauth_code(),
        Some(&grantflow::ErrorCode::InvalidGrant)
    );
    let timeout: Error = Error::Transport(TransportError::new(TransportErrorKind::Timeout, "late"));
    assert_eq!(timeout.kind(), grantflow::ErrorKind::Retryable);
    assert!(timeout.oauth_error().is_none());
    let too_large: Error = Error::Transport(TransportError::new(
        TransportErrorKind::BodyTooLarge { limit: 10 },
        "big",
    ));
    assert_eq!(too_large.kind(), grantflow::ErrorKind::Misuse);
    let io: Error<std::io::Error> = Error::Transport(std::io::ErrorKind::ConnectionReset.into());
    assert_eq!(io.kind(), grantflow::ErrorKind::Retryable);
    assert_eq!(too_large.to_string(), "transport error: big");
}

/// `drive`'s future is `Send` when the client's is, so it can be spawned on
/// a multi-threaded executor; a client with a `!Send` future makes a
/// `!Send` drive (which a single-threaded executor runs as well).
#[test]
fn drive_is_send_with_the_built_in_client() {
    fn assert_send<T: Send>(_: &T) {}
    let http = HttpClient::new();
    let flow = client().client_credentials().unwrap();
    let future = drive(&http, flow);
    assert_send(&future);
    let observed = drive_observed(&http, client().client_credentials().unwrap(), |_| {});
    assert_send(&observed);
    assert_send(&http.send(http::Request::new(Vec::new())));
}

#[test]
fn events_do_not_show_credentials_or_bodies() {
    let request = http::Request::post("https://as.example.com/token")
        .header("authorization", "Basic c3ZjOnNlY3JldA==")
        .body(b"grant_type=client_credentials&client_secret=hunter2".to_vec())
        .unwrap();
    let sending = format!("{:?}", Event::Sending(&request));
    assert!(sending.contains("<redacted>"), "{sending}");
    assert!(
        sending.contains("https://as.example.com/token"),
        "{sending}"
    );
    assert!(!sending.contains("c3ZjOnNlY3JldA"), "{sending}");
    assert!(!sending.contains("hunter2"), "{sending}");

    let response = grantflow::testing::json_response(200, r#"{"access_token":"at-secret"}"#);
    let received = format!("{:?}", Event::Received(&response));
    assert!(received.contains("200"), "{received}");
    assert!(!received.contains("at-secret"), "{received}");

    let waiting = format!("{:?}", Event::Waiting(UnixTime::from_secs(T0)));
    assert!(waiting.starts_with("Waiting("), "{waiting}");
}
