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
//!   [`Error::BodyTooLarge`], not an allocation the server chooses.

use core::fmt;
use std::time::{Duration, SystemTime};

use grantflow::{Flow, HttpRequest, HttpResponse, Step, UnixTime};

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

    /// Builds the client.
    pub fn build(self) -> HttpClient {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(self.connect_timeout))
            .timeout_global(Some(self.timeout))
            .user_agent(concat!("grantflow-ureq/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        HttpClient {
            agent,
            max_body: self.max_body,
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
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// This request is about to be sent. It carries credentials (the
    /// `Authorization` header, secrets and codes in the body): redact before
    /// logging it.
    Sending(&'a HttpRequest),
    /// This response came back (its body may hold tokens).
    Received(&'a HttpResponse),
    /// The flow waits until this instant.
    Waiting(UnixTime),
}

/// [`drive`], calling `observe` before each request, after each response and
/// before each wait: for logging, tracing or metrics.
pub fn drive_observed<F: Flow>(
    client: &HttpClient,
    mut flow: F,
    mut observe: impl FnMut(Event<'_>),
) -> Result<F::Output, Error> {
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
                let wait = now().secs_until(until);
                if wait > 0 {
                    std::thread::sleep(Duration::from_secs(wait));
                }
                flow.handle_timeout(now())?
            }
            Step::Done(output) => return Ok(output),
            // `Step` is non-exhaustive; a step this adapter does not know is a
            // version mismatch between grantflow and grantflow-ureq.
            _ => {
                return Err(Error::Flow(grantflow::Error::UnexpectedCall {
                    flow: "grantflow-ureq driver",
                    call: "step unknown to this adapter version",
                }));
            }
        };
    }
}
