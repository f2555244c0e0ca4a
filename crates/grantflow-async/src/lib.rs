//! Async adapter for [grantflow] on any executor: it carries the requests
//! grantflow's flows describe over the network, reads the clock and the OS
//! random number generator for them, and waits on a timer when a flow waits.
//! Nothing in its dependency tree is tokio, and no runtime is assumed: it runs
//! under smol, async-std, `futures_lite::future::block_on`, a GUI event loop
//! or any other executor.
//!
//! Three parts:
//!
//! - [`drive`] runs any [`Flow`] over an [`AsyncHttpClient`], a trait of one
//!   method any caller can implement for the HTTP stack they already have
//!   (see its docs for an example in a few lines);
//! - [`HttpClient`] is the built-in client, set up the way OAuth wants it;
//! - [`TokenSource`] shares one [`grantflow::Session`] between tasks: a
//!   usable access token on demand, refreshed (or renewed) once however many
//!   tasks ask at the same moment, on any executor.
//!
//! On smol:
//!
//! ```no_run
//! use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Scope};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new(
//!     ClientId::new("my-service"),
//!     ClientAuth::ClientSecretBasic(ClientSecret::new("s3cr3t")),
//! )
//! .with_token_endpoint(EndpointUrl::parse("https://auth.example.com/oauth/token")?);
//!
//! smol::block_on(async {
//!     let http = grantflow_async::HttpClient::new();
//!     let flow = client.client_credentials()?.scope(Scope::new("api:read")?);
//!     let tokens = grantflow_async::drive(&http, flow).await?;
//!     println!("expires in {:?} s", tokens.expires_in(grantflow_async::now()));
//!     Ok(())
//! })
//! # }
//! ```
//!
//! On async-std, the same future under its executor:
//!
//! ```no_run
//! use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Issuer, Discovery};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! async_std::task::block_on(async {
//!     let http = grantflow_async::HttpClient::new();
//!     // OpenID discovery: the metadata, then the provider's signing keys.
//!     let issuer = Issuer::new("https://accounts.example.com")?;
//!     let provider = grantflow_async::drive(&http, Discovery::openid(issuer)).await?;
//!     let client = Client::from_provider(
//!         &provider,
//!         ClientId::new("my-service"),
//!         ClientAuth::ClientSecretBasic(ClientSecret::new("s3cr3t")),
//!     );
//!     let tokens = grantflow_async::drive(&http, client.client_credentials()?).await?;
//!     println!("{:?}", tokens.token_type);
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # The built-in client, and why it is built this way
//!
//! [`HttpClient`] speaks HTTP/1.1 through [`ureq_proto`], the sans-IO HTTP/1.1
//! engine ureq 3 itself runs on (the same version the blocking
//! `grantflow-ureq` adapter uses, so both adapters share one HTTP engine and
//! one rustls), over [`async_net`] TCP streams, with TLS by
//! [`futures_rustls`] (rustls with the `ring` provider, which grantflow
//! already uses for signatures: no C toolchain, no aws-lc). ureq-proto does
//! all the HTTP framing (request serialization, status line and header
//! parsing, chunked and sized bodies, keep-alive rules); this crate only
//! moves bytes between it and the socket.
//!
//! The obvious alternative, hyper 1.x, depends on the `tokio` crate (its
//! `sync` feature) even without the tokio runtime, and reqwest on hyper;
//! either would put tokio in the tree of every user, which this adapter
//! exists to avoid. async-net and async-io come from the smol project and
//! are what smol and async-std themselves run on; their timers
//! ([`async_io::Timer`]) work under every executor, since async-io drives
//! them from its own reactor thread when the executor does not.
//!
//! It is configured the way OAuth wants it, with the defaults of the
//! blocking adapter:
//!
//! - HTTP error statuses are responses, not errors: an OAuth error is a body
//!   the flow parses into a typed error;
//! - redirects are never followed: a 3xx reaches the flow, which reports it.
//!   Following them would replay credentials to wherever the `Location` points;
//! - connect (10 s) and overall (30 s) timeouts;
//! - response bodies are capped at [`grantflow::MAX_BODY`] (1 MiB) by
//!   default: a larger body is a [`TransportErrorKind::BodyTooLarge`], not an
//!   allocation the server chooses;
//! - TLS with certificate verification against the Mozilla roots
//!   ([`webpki_roots`]), or the roots you give [`HttpClientBuilder::tls_config`];
//! - keep-alive: a connection whose response was read in full goes back to a
//!   small per-host pool (at most [`HttpClient::DEFAULT_MAX_IDLE_PER_HOST`]
//!   idle connections per host, each for at most 15 s); a request whose
//!   future is dropped mid-way drops its connection instead, and a pooled
//!   connection the server closed while it was idle is replaced by a new one
//!   (the request goes again, once, only if not a byte of answer came);
//! - proxies only when the caller asks: a proxy is used only when one is
//!   given to [`HttpClientBuilder::proxy`] (HTTP CONNECT tunnels, so TLS runs
//!   end to end). The `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY`
//!   environment variables are never read: the environment is not a trusted
//!   channel everywhere (under CGI-style hosting a request header `Proxy: …`
//!   becomes the variable `HTTP_PROXY`, "httpoxy", which would let any
//!   visitor route the client's token requests, client secret included,
//!   through a machine of their choosing). To honour the environment on
//!   purpose, read it and pass a [`Proxy`] to the builder.
//!
//! [`Event`]'s `Debug` output is safe to log: credential headers are redacted
//! and bodies (secrets, codes, tokens) are shown only by their length.
//!
//! # Cancellation
//!
//! Every future here can be dropped at any `.await`: dropping the future of
//! [`drive`] drops the request in flight, and the built-in client closes that
//! request's connection instead of pooling it, so the next request never
//! reads the answer meant for the abandoned one. To bound a whole flow, race
//! it against a timer (`futures_lite::future::or`, `smol::future::or`, …).
//! A [`TokenSource`] whose leading task is dropped mid-refresh hands the
//! refresh to a task still waiting (see its docs for why a refresh is best
//! not cut short).

use core::fmt;
use core::future::Future;
use std::time::{Duration, SystemTime};

use grantflow::{Flow, HttpRequest, HttpResponse, Step, UnixTime};

mod client;
mod connection;
mod token_source;

pub use crate::client::{HttpClient, HttpClientBuilder, Proxy, TransportError, TransportErrorKind};
pub use crate::token_source::{TokenError, TokenSource, TokenSourceBuilder};

/// Re-exported: rustls, whose `ClientConfig` [`HttpClientBuilder::tls_config`] takes.
pub use futures_rustls::rustls;
/// RS256/PS256 signing for `private_key_jwt` (RFC 7523) and DPoP (RFC
/// 9449) with the OS generator, which the core does not use (from
/// `grantflow-rsa`, shared by both adapters).
pub use grantflow_rsa::RsaSigner;

/// The operating system's cryptographically secure random number generator,
/// for flows that need randomness.
///
/// It panics if the OS generator fails, which no server can cause (on Linux
/// it would take a kernel without `getrandom(2)` and without `/dev/urandom`).
pub type OsRng = grantflow::rand_core::UnwrapErr<getrandom::SysRng>;

/// The OS random number generator, to pass to flows that take `&mut impl CryptoRng`.
pub fn os_rng() -> OsRng {
    grantflow::rand_core::UnwrapErr(getrandom::SysRng)
}

/// The generator to pass to flows that take `&mut impl CryptoRng`: rand's
/// thread generator, a ChaCha12 CSPRNG in userspace, seeded from the OS
/// generator and reseeded from it (every 64 KiB of output and after a
/// fork), one per thread.
///
/// It draws as securely as [`os_rng`] but without a system call per draw
/// (a fresh `state`, `nonce` and PKCE verifier are three). Not `Send`:
/// call `rng()` where you need it, it is cheap.
///
/// It panics if the OS generator fails when seeding, which no server can
/// cause.
pub fn rng() -> Rng {
    rand::rng()
}

/// The type [`rng`] returns (rand's `ThreadRng`).
pub type Rng = rand::rngs::ThreadRng;

/// The current time from the system clock, as grantflow counts it.
pub fn now() -> UnixTime {
    UnixTime::from_system_time(SystemTime::now())
}

/// Carries one HTTP request and returns the whole response: what [`drive`]
/// needs from an HTTP stack.
///
/// [`HttpClient`] implements it; implement it to run flows over an HTTP
/// stack of your own. An implementation should return 4xx and 5xx responses
/// as responses (OAuth errors are bodies the flow parses), never follow
/// redirects, cap the response body, and time out.
///
/// The future of [`drive`] is `Send` when the future `send` returns is
/// `Send` (as the built-in client's is) and the flow is.
///
/// Over a hand-rolled client, here one that answers from memory:
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, HttpRequest, HttpResponse};
/// use grantflow_async::{AsyncHttpClient, TransportFailure};
///
/// struct Canned;
///
/// #[derive(Debug)]
/// struct Unreachable;
/// impl std::fmt::Display for Unreachable {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("host unreachable")
///     }
/// }
/// impl std::error::Error for Unreachable {}
/// impl TransportFailure for Unreachable {}
///
/// impl AsyncHttpClient for Canned {
///     type Error = Unreachable;
///
///     async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Unreachable> {
///         if request.uri().host() != Some("as.example.com") {
///             return Err(Unreachable);
///         }
///         Ok(http::Response::builder()
///             .status(200)
///             .header("content-type", "application/json")
///             .body(br#"{"access_token":"at-1","token_type":"Bearer","expires_in":60}"#.to_vec())
///             .map_err(|_| Unreachable)?)
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new(ClientId::new("svc"), ClientAuth::ClientSecretBasic(ClientSecret::new("s")))
///     .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token")?);
/// let tokens = futures_lite::future::block_on(grantflow_async::drive(&Canned, client.client_credentials()?))?;
/// assert_eq!(tokens.access_token.secret(), "at-1");
/// # Ok(())
/// # }
/// ```
pub trait AsyncHttpClient {
    /// Why a request could not be carried.
    type Error: TransportFailure;

    /// Performs `request` and reads the whole response.
    fn send(&self, request: HttpRequest)
    -> impl Future<Output = Result<HttpResponse, Self::Error>>;
}

impl<C: AsyncHttpClient + ?Sized> AsyncHttpClient for &C {
    type Error = C::Error;

    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, Self::Error>> {
        (**self).send(request)
    }
}

/// A transport error: why an [`AsyncHttpClient`] could not carry a request.
///
/// [`Error::kind`] asks it whether trying again later may succeed.
pub trait TransportFailure: std::error::Error {
    /// Whether trying again later may succeed: true (the default) for a
    /// network failure, a timeout or a dropped connection; false for a
    /// failure that will repeat, such as a body over the cap or a URL the
    /// client cannot carry.
    fn is_retryable(&self) -> bool {
        true
    }
}

impl TransportFailure for std::io::Error {}

/// Errors from driving a flow: the flow's own, or the transport's.
///
/// `E` is the [`AsyncHttpClient`]'s error, by default the built-in client's
/// [`TransportError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E = TransportError> {
    /// The flow failed: the server said no, answered nonsense, or a check failed.
    Flow(grantflow::Error),
    /// The request could not be carried: DNS, connection, TLS, timeout, a body
    /// over the cap, …
    Transport(E),
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Flow(e) => write!(f, "{e}"),
            Error::Transport(e) => write!(f, "transport error: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Flow(e) => Some(e),
            Error::Transport(e) => Some(e),
        }
    }
}

impl<E: TransportFailure> Error<E> {
    /// Sorts this error into the family a caller acts on: the flow's own
    /// [`grantflow::Error::kind`], and for a transport error
    /// [`ErrorKind::Retryable`](grantflow::ErrorKind::Retryable) when
    /// [`TransportFailure::is_retryable`] says so,
    /// [`ErrorKind::Misuse`](grantflow::ErrorKind::Misuse) otherwise.
    ///
    /// ```
    /// # fn check(error: &grantflow_async::Error) {
    /// if error.kind() == grantflow::ErrorKind::Retryable {
    ///     // the server is in trouble or the network failed: try again later
    /// }
    /// # }
    /// ```
    pub fn kind(&self) -> grantflow::ErrorKind {
        match self {
            Error::Flow(e) => e.kind(),
            Error::Transport(e) if e.is_retryable() => grantflow::ErrorKind::Retryable,
            Error::Transport(_) => grantflow::ErrorKind::Misuse,
        }
    }
}

impl<E> Error<E> {
    /// The OAuth error response (RFC 6749 §5.2) the server answered with, if
    /// that is what this error is.
    ///
    /// ```
    /// # fn check(error: &grantflow_async::Error) {
    /// if let Some(response) = error.oauth_error() {
    ///     eprintln!("the server said {}: {:?}", response.error, response.description);
    /// }
    /// # }
    /// ```
    pub fn oauth_error(&self) -> Option<&grantflow::ErrorResponse> {
        match self {
            Error::Flow(e) => e.oauth_error(),
            Error::Transport(_) => None,
        }
    }

    /// The OAuth error code (`invalid_grant`, `invalid_client`, …) the server
    /// answered with, if this error is an OAuth error response.
    ///
    /// ```
    /// # fn check(error: &grantflow_async::Error) {
    /// if error.oauth_code() == Some(&grantflow::ErrorCode::InvalidGrant) {
    ///     // the refresh token is dead: clear the stored session
    /// }
    /// # }
    /// ```
    pub fn oauth_code(&self) -> Option<&grantflow::ErrorCode> {
        self.oauth_error().map(|response| &response.error)
    }
}

impl<E> From<grantflow::Error> for Error<E> {
    fn from(e: grantflow::Error) -> Self {
        Error::Flow(e)
    }
}

/// What [`drive_observed`] reports as a flow runs.
///
/// Its `Debug` output is safe to log: it shows the method, URI, status and
/// headers, but the values of credential headers (`Authorization`,
/// `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `DPoP` and any value marked
/// [sensitive](http::HeaderValue::set_sensitive)) are `<redacted>`, userinfo
/// in a URI is `<redacted>`, and a body is shown only as its length. The
/// request and response themselves carry everything: client secrets, codes,
/// PKCE verifiers and tokens.
#[non_exhaustive]
pub enum Event<'a> {
    /// This request is about to be sent. It carries credentials (the
    /// `Authorization` header, secrets and codes in the body): log it with
    /// `{:?}` on the event, not by reading its parts.
    Sending(&'a HttpRequest),
    /// This response came back (its body may hold tokens).
    Received(&'a HttpResponse),
    /// The flow waits until this instant.
    Waiting(UnixTime),
}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Sending(request) => f
                .debug_tuple("Sending")
                .field(&grantflow::Redacted(*request))
                .finish(),
            Event::Received(response) => f
                .debug_tuple("Received")
                .field(&grantflow::Redacted(*response))
                .finish(),
            Event::Waiting(until) => f.debug_tuple("Waiting").field(until).finish(),
        }
    }
}

/// Runs `flow` to the end: sends each request it asks for through `client`,
/// waits on a timer when it waits, and returns its output.
///
/// Pass `&mut flow` to keep the flow afterwards. Dropping the future stops
/// the flow where it is (see [Cancellation](crate#cancellation)).
pub async fn drive<C: AsyncHttpClient, F: Flow>(
    client: &C,
    flow: F,
) -> Result<F::Output, Error<C::Error>> {
    drive_observed(client, flow, |_| {}).await
}

/// [`drive`], calling `observe` before each request, after each response and
/// before each wait: for logging, tracing or metrics.
///
/// ```no_run
/// # async fn run(flow: impl grantflow::Flow) -> Result<(), grantflow_async::Error> {
/// let http = grantflow_async::HttpClient::new();
/// grantflow_async::drive_observed(&http, flow, |event| eprintln!("{event:?}")).await?;
/// # Ok(())
/// # }
/// ```
pub async fn drive_observed<C: AsyncHttpClient, F: Flow>(
    client: &C,
    flow: F,
    observe: impl FnMut(Event<'_>),
) -> Result<F::Output, Error<C::Error>> {
    run(client, flow, observe, &SystemClock).await
}

/// Where the driver reads the time and how it waits: the system clock and an
/// [`async_io::Timer`], or a fake clock in tests.
pub(crate) trait Clock {
    fn now(&self) -> UnixTime;
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()>;
}

/// The system clock and async-io's timers, which work on every executor.
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        now()
    }

    async fn sleep(&self, duration: Duration) {
        async_io::Timer::after(duration).await;
    }
}

/// The driver loop: three arms, no catch-all (a step added to the core is a
/// compile error here).
pub(crate) async fn run<C: AsyncHttpClient, F: Flow, K: Clock>(
    client: &C,
    mut flow: F,
    mut observe: impl FnMut(Event<'_>),
    clock: &K,
) -> Result<F::Output, Error<C::Error>> {
    let mut step = flow.start(clock.now())?;
    loop {
        step = match step {
            Step::Send(request) => {
                observe(Event::Sending(&request));
                let response = client.send(request).await.map_err(Error::Transport)?;
                observe(Event::Received(&response));
                flow.handle_response(response, clock.now())?
            }
            Step::WaitUntil(until) => {
                observe(Event::Waiting(until));
                // Woken early (or the wall clock stepped back during the
                // wait), the flow answers `WaitUntil` again and this waits
                // the rest.
                let wait = wait_duration(clock.now(), until);
                if !wait.is_zero() {
                    clock.sleep(wait).await;
                }
                flow.handle_timeout(clock.now())?
            }
            Step::Done(output) => return Ok(output),
        };
    }
}

/// How long to wait at `now` before a flow's `WaitUntil(until)` deadline:
/// `until - now`, zero once it has passed.
///
/// [`now`] truncates the clock to whole seconds, so waiting this long never
/// wakes before `until`.
fn wait_duration(now: UnixTime, until: UnixTime) -> Duration {
    Duration::from_secs(now.secs_until(until))
}

#[cfg(test)]
mod tests;
