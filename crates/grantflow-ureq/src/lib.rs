//! Blocking adapter for [grantflow] on [ureq] 3: it carries the
//! requests grantflow's flows describe over the network, reads the clock and
//! the OS random number generator for them, and sleeps when a flow waits.
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
//! let http = grantflow_ureq::HttpClient::new();
//! let tokens = grantflow_ureq::drive(&http, client.client_credentials()?.scope(Scope::new("api:read")?))?;
//! println!("expires in {:?} s", tokens.expires_in(grantflow_ureq::now()));
//! # Ok(())
//! # }
//! ```
//!
//! The [`HttpClient`] is configured the way OAuth wants it:
//!
//! - HTTP error statuses are responses, not errors (`http_status_as_error(false)`):
//!   an OAuth error is a body the flow parses into a typed error;
//! - redirects are never followed: a 3xx reaches the flow, which reports it.
//!   Following them would replay credentials to wherever the `Location` points;
//! - connect and overall timeouts are set;
//! - response bodies are capped (1 MiB by default): a larger body is an
//!   [`Error::BodyTooLarge`], not an allocation the server chooses;
//! - proxies only when the caller asks: the `HTTP_PROXY`, `HTTPS_PROXY` and
//!   `ALL_PROXY` environment variables (which ureq's default configuration
//!   reads) are ignored, and a proxy is used only when one is given to
//!   [`HttpClientBuilder::proxy`]. The environment is not a trusted channel
//!   everywhere: under CGI-style hosting a request header `Proxy: …` becomes the
//!   variable `HTTP_PROXY` ("httpoxy"), which would let any visitor route the
//!   client's token requests, client secret included, through a machine of
//!   their choosing. To honour the environment on purpose, pass
//!   [`ureq::Proxy::try_from_env`]'s result to the builder.
//!
//! For an application that calls APIs with the tokens it holds, a
//! [`TokenSource`] shares one [`grantflow::Session`] between threads and
//! refreshes it once however many threads find the token due at the same
//! moment, and [`BearerAuth`] is a ureq middleware that sends its access token
//! to one resource server only, refreshing and retrying once when that server
//! answers 401 `invalid_token`.
//!
//! [`Event`]'s `Debug` output is safe to log: credential headers are redacted
//! and bodies (secrets, codes, tokens) are shown only by their length.

use core::fmt;
use std::time::{Duration, SystemTime};

use grantflow::{Flow, HttpRequest, HttpResponse, Step, UnixTime};

mod middleware;
mod token_source;

/// RS256/PS256 signing for `private_key_jwt` (RFC 7523) and DPoP (RFC
/// 9449) with the OS generator, which the core does not use (from
/// `grantflow-rsa`, shared by both adapters).
pub use grantflow_rsa::RsaSigner;
pub use middleware::BearerAuth;
pub use token_source::{TokenError, TokenSource, TokenSourceBuilder};

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

/// Errors from driving a flow over ureq.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The flow failed: the server said no, answered nonsense, or a check failed.
    Flow(grantflow::Error),
    /// The request could not be carried: DNS, connection, TLS, timeout, …
    Transport(ureq::Error),
    /// The response body was larger than the configured cap.
    BodyTooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Flow(e) => write!(f, "{e}"),
            Error::Transport(e) => write!(f, "transport error: {e}"),
            Error::BodyTooLarge { limit } => {
                write!(f, "response body is larger than the {limit} byte limit")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Flow(e) => Some(e),
            Error::Transport(e) => Some(e),
            Error::BodyTooLarge { .. } => None,
        }
    }
}

impl Error {
    /// The OAuth error response (RFC 6749 §5.2) the server answered with, if
    /// that is what this error is.
    ///
    /// ```
    /// # fn check(error: &grantflow_ureq::Error) {
    /// if let Some(response) = error.oauth_error() {
    ///     eprintln!("the server said {}: {:?}", response.error, response.description);
    /// }
    /// # }
    /// ```
    pub fn oauth_error(&self) -> Option<&grantflow::ErrorResponse> {
        match self {
            Error::Flow(grantflow::Error::OAuth(response)) => Some(response),
            _ => None,
        }
    }

    /// The OAuth error code (`invalid_grant`, `invalid_client`, …) the server
    /// answered with, if this error is an OAuth error response.
    ///
    /// ```
    /// # fn check(error: &grantflow_ureq::Error) {
    /// if error.oauth_code() == Some(&grantflow::ErrorCode::InvalidGrant) {
    ///     // the refresh token is dead: clear the stored session
    /// }
    /// # }
    /// ```
    pub fn oauth_code(&self) -> Option<&grantflow::ErrorCode> {
        self.oauth_error().map(|response| &response.error)
    }

    /// Whether trying again later may succeed: a transport error, or a
    /// core error of kind [`Retryable`](grantflow::ErrorKind::Retryable)
    /// (a 5xx, `temporarily_unavailable`, `server_error`).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Flow(e) => e.kind() == grantflow::ErrorKind::Retryable,
            Error::Transport(_) => true,
            Error::BodyTooLarge { .. } => false,
        }
    }
}

impl From<grantflow::Error> for Error {
    fn from(e: grantflow::Error) -> Self {
        Error::Flow(e)
    }
}

/// A ureq [`Agent`](ureq::Agent) set up for OAuth, plus a response body cap.
/// Cheap to clone (the agent's connection pool is shared).
#[derive(Clone, Debug)]
pub struct HttpClient {
    agent: ureq::Agent,
    max_body: u64,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// The default response body cap: 1 MiB.
    pub const DEFAULT_MAX_BODY: u64 = 1 << 20;
    /// The default connect timeout: 10 s.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default timeout for a whole request: 30 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A client with the default limits.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to change the limits.
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder {
            max_body: Self::DEFAULT_MAX_BODY,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            timeout: Self::DEFAULT_TIMEOUT,
            proxy: None,
        }
    }

    /// The underlying agent.
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// Performs one request and reads the whole response, up to the body cap.
    pub fn send(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        let (parts, body) = request.into_parts();
        // ureq refuses a body on GET; flows give bodiless requests an empty Vec.
        let response = if body.is_empty() {
            self.agent.run(http::Request::from_parts(parts, ()))
        } else {
            self.agent.run(http::Request::from_parts(parts, body))
        }
        .map_err(Error::Transport)?;
        let (parts, mut body) = response.into_parts();
        let bytes = body
            .with_config()
            .limit(self.max_body)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(limit) => Error::BodyTooLarge { limit },
                other => Error::Transport(other),
            })?;
        Ok(http::Response::from_parts(parts, bytes))
    }
}

/// Configures an [`HttpClient`].
#[derive(Clone, Debug)]
#[must_use]
pub struct HttpClientBuilder {
    max_body: u64,
    connect_timeout: Duration,
    timeout: Duration,
    proxy: Option<ureq::Proxy>,
}

impl HttpClientBuilder {
    /// Caps response bodies at `bytes` (default 1 MiB).
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sets the connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout for a whole request, from connecting to the last body
    /// byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends every request through `proxy`. Without this call no proxy is
    /// used, whatever the environment says (see the [crate docs](crate) for
    /// why).
    ///
    /// ```
    /// # fn main() -> Result<(), ureq::Error> {
    /// let http = grantflow_ureq::HttpClient::builder()
    ///     .proxy(ureq::Proxy::new("http://proxy.internal:3128")?)
    ///     .build();
    ///
    /// // Or, deliberately, whatever HTTP_PROXY / HTTPS_PROXY / ALL_PROXY say:
    /// let mut builder = grantflow_ureq::HttpClient::builder();
    /// if let Some(proxy) = ureq::Proxy::try_from_env() {
    ///     builder = builder.proxy(proxy);
    /// }
    /// let http = builder.build();
    /// # Ok(())
    /// # }
    /// ```
    pub fn proxy(mut self, proxy: ureq::Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Builds the client.
    pub fn build(self) -> HttpClient {
        let config = ureq::Agent::config_builder()
            // ureq's default reads the proxy from the environment; here only
            // the caller chooses one.
            .proxy(self.proxy)
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(self.connect_timeout))
            .timeout_global(Some(self.timeout))
            .user_agent(concat!("grantflow-ureq/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            IpLiteralResolver::default(),
        );
        HttpClient {
            agent,
            max_body: self.max_body,
        }
    }
}

/// ureq's resolver, but an IP literal (`127.0.0.1`, `[::1]`) is its own
/// address.
///
/// With a timeout set, ureq 3's default resolver looks every host up on a
/// freshly spawned thread, before it looks in its connection pool, so each
/// request paid a thread spawn even to `127.0.0.1` over a kept-alive
/// connection (`strace -f -c`: one `clone3` per request). An IP literal
/// needs no lookup: it is answered here, on the calling thread. Host names
/// still go to ureq's resolver with the timeout (the overall timeout covers
/// the lookup). This uses ureq's `unversioned` resolver API, which ureq may
/// change in a minor release; the version is pinned by the lock file.
#[derive(Debug, Default)]
struct IpLiteralResolver {
    names: ureq::unversioned::resolver::DefaultResolver,
}

impl ureq::unversioned::resolver::Resolver for IpLiteralResolver {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let literal = uri.authority().and_then(|authority| {
            let host = authority.host();
            let host = host
                .strip_prefix('[')
                .and_then(|host| host.strip_suffix(']'))
                .unwrap_or(host);
            let ip: std::net::IpAddr = host.parse().ok()?;
            let port = authority.port_u16().or(match uri.scheme_str()? {
                "https" => Some(443),
                "http" => Some(80),
                _ => None,
            })?;
            Some(std::net::SocketAddr::new(ip, port))
        });
        match literal {
            Some(address) => {
                let mut addresses = self.empty();
                addresses.push(address);
                Ok(addresses)
            }
            None => self.names.resolve(uri, config, timeout),
        }
    }
}

/// Runs `flow` to the end: sends each request it asks for, sleeps when it
/// waits, and returns its output.
///
/// Pass `&mut flow` to keep the flow afterwards.
pub fn drive<F: Flow>(client: &HttpClient, flow: F) -> Result<F::Output, Error> {
    drive_observed(client, flow, |_| {})
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

/// [`drive`], calling `observe` before each request, after each response and
/// before each wait: for logging, tracing or metrics.
pub fn drive_observed<F: Flow>(
    client: &HttpClient,
    flow: F,
    observe: impl FnMut(Event<'_>),
) -> Result<F::Output, Error> {
    drive_with_clock(client, flow, &now, observe)
}

/// [`drive_observed`] with the time read from `clock` (a fake clock in
/// tests, via [`TokenSourceBuilder::clock`]).
fn drive_with_clock<F: Flow>(
    client: &HttpClient,
    mut flow: F,
    clock: &dyn Fn() -> UnixTime,
    mut observe: impl FnMut(Event<'_>),
) -> Result<F::Output, Error> {
    let now = clock;
    let mut step = flow.start(now())?;
    loop {
        step = match step {
            Step::Send(request) => {
                observe(Event::Sending(&request));
                let response = client.send(request)?;
                observe(Event::Received(&response));
                flow.handle_response(response, now())?
            }
            Step::WaitUntil(until) => {
                observe(Event::Waiting(until));
                // A wall-clock step backwards during the sleep makes the flow
                // answer `WaitUntil` again, and this computes the rest.
                let wait = wait_duration(now(), until);
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
                flow.handle_timeout(now())?
            }
            Step::Done(output) => return Ok(output),
        };
    }
}

/// How long to sleep at `now` before a flow's `WaitUntil(until)` deadline:
/// `until - now`, zero once it has passed.
///
/// [`now`] truncates the clock to whole seconds, so sleeping this long never
/// wakes before `until`.
fn wait_duration(now: UnixTime, until: UnixTime) -> Duration {
    Duration::from_secs(now.secs_until(until))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_duration_is_the_time_left_on_the_clock() {
        let t = |secs| UnixTime::from_secs(secs);
        assert_eq!(
            wait_duration(t(1_700_000_000), t(1_700_000_005)),
            Duration::from_secs(5)
        );
        assert_eq!(wait_duration(t(100), t(101)), Duration::from_secs(1));
        assert_eq!(wait_duration(t(100), t(100)), Duration::ZERO);
        // A deadline already past: no sleep at all.
        assert_eq!(wait_duration(t(100), t(40)), Duration::ZERO);
        assert_eq!(
            wait_duration(UnixTime::MAX, UnixTime::EPOCH),
            Duration::ZERO
        );
        assert_eq!(
            wait_duration(UnixTime::EPOCH, UnixTime::MAX),
            Duration::from_secs(u64::MAX)
        );
    }
}
