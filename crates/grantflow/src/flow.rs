//! The one contract every flow follows: [`Flow`] and its [`Step`]s.
//!
//! The user-facing documentation is on [`Flow`] and [`Step`].

use core::fmt;

use crate::error::Error;
use crate::message::{HttpRequest, HttpResponse, Redacted};
use crate::time::UnixTime;

/// What a flow wants its driver to do next.
///
/// Exhaustive on purpose: a driver matches exactly these three arms and has
/// no catch-all, so a step added one day is a compile error in every driver
/// rather than a panic at run time.
#[must_use = "a step tells the driver what to do next; dropping it stalls the flow"]
// A step is built and moved once per round trip; boxing the request would add
// an allocation to every request to save a few bytes of stack.
#[allow(clippy::large_enum_variant)]
pub enum Step<T> {
    /// Perform this request, then call [`Flow::handle_response`] with the response.
    Send(HttpRequest),
    /// Nothing to send before this instant (device polling); then call
    /// [`Flow::handle_timeout`].
    WaitUntil(UnixTime),
    /// The flow is over.
    Done(T),
}

/// Redacted: a request prints as [`Redacted`] does (no body, no credential
/// header), so a step can be logged.
impl<T: fmt::Debug> fmt::Debug for Step<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Send(request) => f.debug_tuple("Send").field(&Redacted(request)).finish(),
            Step::WaitUntil(at) => f.debug_tuple("WaitUntil").field(at).finish(),
            Step::Done(output) => f.debug_tuple("Done").field(output).finish(),
        }
    }
}

/// A multi-step protocol exchange, as a state machine driven from outside.
///
/// Implementations never read a clock, draw randomness or open a socket: the
/// driver passes `now` in and carries the requests.
///
/// A driver by hand, against canned responses:
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Flow, Step, UnixTime};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let client = Client::new(
///     ClientId::new("s6BhdRkqt3"),
///     ClientAuth::ClientSecretBasic(ClientSecret::new("7Fjfp0ZBr1KtDRbnfVdmIw")),
/// )
/// .with_token_endpoint(EndpointUrl::parse("https://server.example.com/token")?);
///
/// let mut flow = client.client_credentials()?;
/// let now = UnixTime::from_secs(1_700_000_000);
/// let mut step = flow.start(now)?;
/// let tokens = loop {
///     step = match step {
///         Step::Send(request) => {
///             assert_eq!(request.uri(), "https://server.example.com/token");
///             // A real driver sends `request` here; this one answers it.
///             let response = http::Response::builder()
///                 .status(200)
///                 .header("content-type", "application/json")
///                 .body(br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#.to_vec())
///                 .unwrap();
///             flow.handle_response(response, now)?
///         }
///         Step::WaitUntil(deadline) => {
///             // Nothing to send before `deadline`: sleep until then (a real
///             // driver reads its clock), then pass the time in.
///             flow.handle_timeout(deadline)?
///         }
///         Step::Done(tokens) => break tokens,
///     };
/// };
/// assert_eq!(tokens.expires_at, Some(UnixTime::from_secs(1_700_003_600)));
/// # Ok(())
/// # }
/// ```
///
/// A flow never performs IO. It tells its driver what to do next — send this
/// request, wait until then, or stop with a result — and the driver tells it
/// what happened. One driver loop runs every flow:
///
/// ```text
///            start(now)
///                │
///                ▼
///   ┌──────── Step ◀───────────────────────────┐
///   │  Send(request) ──► perform it ──► handle_response(response, now)
///   │  WaitUntil(t) ───► sleep until t ─► handle_timeout(now)
///   │  Done(output) ───► the flow is over
///   └───────────────────────────────────────────┘
/// ```
///
/// The rules every flow keeps, and every driver may rely on:
///
/// - [`Step`] has exactly three variants, and a driver matches all three with
///   no catch-all.
/// - On [`Step::WaitUntil`] the driver waits until the deadline, then calls
///   [`Flow::handle_timeout`]. A call before the deadline changes nothing and
///   returns the same `WaitUntil` again, so a driver woken early just waits
///   the rest. A flow that never waits answers `handle_timeout` with
///   [`Error::UnexpectedCall`].
/// - Any error ends the flow: every later call returns an error
///   ([`Error::UnexpectedCall`]), never a request and never a result.
pub trait Flow {
    /// What the flow produces when it is done.
    type Output;

    /// Begins the flow.
    fn start(&mut self, now: UnixTime) -> Result<Step<Self::Output>, Error>;

    /// Consumes the response to the last [`Step::Send`].
    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<Self::Output>, Error>;

    /// Called once the instant of the last [`Step::WaitUntil`] has passed.
    /// Called earlier, it changes nothing and returns that same `WaitUntil`.
    fn handle_timeout(&mut self, now: UnixTime) -> Result<Step<Self::Output>, Error>;
}

/// Forwards [`Flow`] through a pointer type.
macro_rules! forward_flow {
    ($(#[$doc:meta])* $pointer:ty) => {
        $(#[$doc])*
        impl<F: Flow + ?Sized> Flow for $pointer {
            type Output = F::Output;

            fn start(&mut self, now: UnixTime) -> Result<Step<Self::Output>, Error> {
                (**self).start(now)
            }

            fn handle_response(
                &mut self,
                response: HttpResponse,
                now: UnixTime,
            ) -> Result<Step<Self::Output>, Error> {
                (**self).handle_response(response, now)
            }

            fn handle_timeout(&mut self, now: UnixTime) -> Result<Step<Self::Output>, Error> {
                (**self).handle_timeout(now)
            }
        }
    };
}

forward_flow!(
    /// A driver may hold a flow by mutable reference, keeping it afterwards.
    &mut F
);
forward_flow!(
    /// Boxed flows are flows, so a driver can run `Box<dyn Flow<Output = T>>`.
    Box<F>
);

/// A flow that starts at a given instant: until then it answers
/// [`Step::WaitUntil`]. For a retry after a server's `Retry-After`, or a
/// refresh scheduled before expiry, without a timer in the core.
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, ClientSecret, Delayed, EndpointUrl, Flow, Step, UnixTime};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let client = Client::new(ClientId::new("svc"), ClientAuth::ClientSecretBasic(ClientSecret::new("s")))
///     .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token")?);
/// let at = UnixTime::from_secs(130);
/// let mut flow = Delayed::new(client.client_credentials()?, at);
/// assert!(matches!(flow.start(UnixTime::from_secs(100))?, Step::WaitUntil(t) if t == at));
/// // Woken early: nothing changes, the same deadline comes back.
/// assert!(matches!(flow.handle_timeout(UnixTime::from_secs(129))?, Step::WaitUntil(t) if t == at));
/// assert!(matches!(flow.handle_timeout(at)?, Step::Send(_)));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Delayed<F> {
    flow: F,
    at: UnixTime,
    state: DelayState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DelayState {
    New,
    Waiting,
    Running,
    Failed,
}

impl<F: Flow> Delayed<F> {
    /// `flow`, started no earlier than `at`.
    pub fn new(flow: F, at: UnixTime) -> Self {
        Delayed {
            flow,
            at,
            state: DelayState::New,
        }
    }

    /// Starts the inner flow if `now` has reached the deadline.
    fn start_or_wait(&mut self, now: UnixTime) -> Result<Step<F::Output>, Error> {
        if now < self.at {
            self.state = DelayState::Waiting;
            return Ok(Step::WaitUntil(self.at));
        }
        self.state = DelayState::Running;
        self.run(|flow| flow.start(now))
    }

    /// Calls the inner flow, remembering a failure.
    fn run(
        &mut self,
        call: impl FnOnce(&mut F) -> Result<Step<F::Output>, Error>,
    ) -> Result<Step<F::Output>, Error> {
        let result = call(&mut self.flow);
        if result.is_err() {
            self.state = DelayState::Failed;
        }
        result
    }

    fn unexpected(&mut self, call: &'static str) -> Error {
        self.state = DelayState::Failed;
        Error::UnexpectedCall {
            flow: "delayed",
            call,
        }
    }
}

impl<F: Flow> Flow for Delayed<F> {
    type Output = F::Output;

    fn start(&mut self, now: UnixTime) -> Result<Step<F::Output>, Error> {
        match self.state {
            DelayState::New => self.start_or_wait(now),
            _ => Err(self.unexpected("start after the flow had started")),
        }
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<F::Output>, Error> {
        match self.state {
            DelayState::Running => self.run(|flow| flow.handle_response(response, now)),
            DelayState::Failed => Err(self.unexpected("handle_response after an error")),
            DelayState::New | DelayState::Waiting => {
                Err(self.unexpected("handle_response before the flow started"))
            }
        }
    }

    fn handle_timeout(&mut self, now: UnixTime) -> Result<Step<F::Output>, Error> {
        match self.state {
            DelayState::Waiting => self.start_or_wait(now),
            DelayState::Running => self.run(|flow| flow.handle_timeout(now)),
            DelayState::Failed => Err(self.unexpected("handle_timeout after an error")),
            DelayState::New => Err(self.unexpected("handle_timeout before start")),
        }
    }
}
