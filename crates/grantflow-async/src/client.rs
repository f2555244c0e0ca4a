//! The built-in client: HTTP/1.1 by ureq-proto over async-net, TLS by
//! futures-rustls, keep-alive through a small per-host pool. Why these
//! crates: see the crate docs.

use core::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_rustls::rustls;
use grantflow::{HttpRequest, HttpResponse};

use crate::connection::{self, Pool};
use crate::{AsyncHttpClient, TransportFailure};

/// The built-in HTTP client, set up for OAuth (see the [crate docs](crate)).
/// Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct HttpClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) max_body: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) tls: futures_rustls::TlsConnector,
    pub(crate) pool: Pool,
    pub(crate) proxy: Option<Proxy>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("max_body", &self.inner.max_body)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("timeout", &self.inner.timeout)
            .field("proxy", &self.inner.proxy)
            .field("idle_connections", &self.idle_connections())
            .finish_non_exhaustive()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// The default response body cap: [`grantflow::MAX_BODY`] (1 MiB), the
    /// most any flow accepts.
    pub const DEFAULT_MAX_BODY: usize = grantflow::MAX_BODY;
    /// The default connect timeout: 10 s.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default timeout for a whole request: 30 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default number of idle keep-alive connections kept per host: 8.
    pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 8;

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
            max_idle_per_host: Self::DEFAULT_MAX_IDLE_PER_HOST,
            tls: None,
            proxy: None,
        }
    }

    /// How many idle keep-alive connections the pool holds now, over all
    /// hosts: for metrics and tests.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.len()
    }

    /// Performs one request and reads the whole response, up to the body
    /// cap, within the overall timeout.
    ///
    /// A 4xx or 5xx is a response, and a 3xx is returned as it is (never
    /// followed). Dropping the future closes the request's connection.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let timeout = self.inner.timeout;
        futures_lite::future::or(connection::send(&self.inner, request), async move {
            async_io::Timer::after(timeout).await;
            Err(TransportError::new(
                TransportErrorKind::Timeout,
                format!("no complete response within {timeout:?}"),
            ))
        })
        .await
    }
}

impl AsyncHttpClient for HttpClient {
    type Error = TransportError;

    fn send(
        &self,
        request: HttpRequest,
    ) -> impl core::future::Future<Output = Result<HttpResponse, TransportError>> {
        HttpClient::send(self, request)
    }
}

/// Configures an [`HttpClient`].
#[derive(Clone)]
#[must_use]
pub struct HttpClientBuilder {
    max_body: usize,
    connect_timeout: Duration,
    timeout: Duration,
    max_idle_per_host: usize,
    tls: Option<Arc<rustls::ClientConfig>>,
    proxy: Option<Proxy>,
}

impl fmt::Debug for HttpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientBuilder")
            .field("max_body", &self.max_body)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_idle_per_host", &self.max_idle_per_host)
            .field("custom_tls", &self.tls.is_some())
            .field("proxy", &self.proxy)
            .finish()
    }
}

impl HttpClientBuilder {
    /// Caps response bodies at `bytes` (default [`grantflow::MAX_BODY`], 1 MiB).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sets the connect timeout, TLS handshake included (default 10 s).
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

    /// Keeps at most `connections` idle keep-alive connections per host
    /// (default 8); 0 turns keep-alive off.
    pub fn max_idle_per_host(mut self, connections: usize) -> Self {
        self.max_idle_per_host = connections;
        self
    }

    /// Uses `config` for TLS in place of the default (the Mozilla roots of
    /// [`webpki_roots`], rustls' safe defaults on the `ring` provider): for a
    /// private certificate authority, or the platform verifier.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use grantflow_async::rustls;
    ///
    /// # fn main() -> Result<(), rustls::Error> {
    /// let mut roots = rustls::RootCertStore::empty();
    /// # let _ = &mut roots;
    /// // roots.add(my_private_ca)?;
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let config = rustls::ClientConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()?
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let http = grantflow_async::HttpClient::builder().tls_config(Arc::new(config)).build();
    /// # Ok(())
    /// # }
    /// ```
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Sends every request through `proxy`, in a CONNECT tunnel (so TLS runs
    /// end to end, from this client to the server). Without this call no
    /// proxy is used, whatever the environment says (see the
    /// [crate docs](crate) for why).
    ///
    /// ```
    /// use grantflow_async::{HttpClient, Proxy};
    ///
    /// # fn main() -> Result<(), grantflow_async::TransportError> {
    /// let http = HttpClient::builder()
    ///     .proxy(Proxy::new("http://proxy.internal:3128")?.with_basic_auth("svc", "proxy-password"))
    ///     .build();
    /// # Ok(())
    /// # }
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Builds the client.
    pub fn build(self) -> HttpClient {
        let tls = self.tls.unwrap_or_else(default_tls_config);
        HttpClient {
            inner: Arc::new(Inner {
                max_body: self.max_body,
                connect_timeout: self.connect_timeout,
                timeout: self.timeout,
                tls: futures_rustls::TlsConnector::from(tls),
                pool: Pool::new(self.max_idle_per_host),
                proxy: self.proxy,
            }),
        }
    }
}

/// An HTTP proxy that [`HttpClient`] reaches every server through, with an
/// HTTP/1.1 CONNECT tunnel (RFC 9110 §9.3.6) per connection.
#[derive(Clone)]
pub struct Proxy {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The `Proxy-Authorization` value, a credential.
    pub(crate) authorization: Option<String>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Proxy {
    /// The proxy at `url`: `http://host:port` (the port defaults to 80).
    ///
    /// Credentials go through [`Proxy::with_basic_auth`], not in the URL.
    pub fn new(url: &str) -> Result<Proxy, TransportError> {
        let invalid = |message: &str| {
            TransportError::new(
                TransportErrorKind::InvalidRequest,
                format!("proxy URL: {message}"),
            )
        };
        let uri: http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("only http:// proxies are supported"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid(
                "credentials in the URL: pass them to Proxy::with_basic_auth",
            ));
        }
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        Ok(Proxy {
            host: host.to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(80),
            authorization: None,
        })
    }

    /// Authenticates to the proxy with HTTP Basic (RFC 7617).
    pub fn with_basic_auth(mut self, user: &str, password: &str) -> Self {
        use base64::Engine as _;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.authorization = Some(format!("Basic {credentials}"));
        self
    }
}

/// rustls' safe defaults on the `ring` provider, verifying certificates
/// against the Mozilla roots.
fn default_tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder,
        // The ring provider supports TLS 1.2 and 1.3, rustls' safe default
        // versions; this arm is rustls reporting a provider without them.
        Err(_) => rustls::ClientConfig::builder(),
    };
    Arc::new(config.with_root_certificates(roots).with_no_client_auth())
}

/// Why the built-in [`HttpClient`] could not carry a request.
///
/// Its message never contains a request's credentials or a response body.
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// What kind of [`TransportError`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The request cannot be carried by this client: a scheme other than
    /// `http`/`https`, no host, a header HTTP/1.1 cannot send.
    InvalidRequest,
    /// The host name did not resolve, or no address accepted the connection.
    Connect,
    /// The TLS handshake failed (certificate verification included).
    Tls,
    /// The connect timeout or the overall timeout ran out.
    Timeout,
    /// Reading or writing the connection failed, or the server closed it
    /// before the response was complete.
    Io,
    /// The server's answer is not HTTP/1.1 this client can read.
    Protocol,
    /// The response body is larger than the cap.
    BodyTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
}

impl TransportError {
    pub(crate) fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        kind: TransportErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        TransportError {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.source {
            Some(source) => Some(&**source),
            None => None,
        }
    }
}

impl TransportFailure for TransportError {
    /// Network failures, timeouts and garbled answers may pass; a request
    /// this client cannot carry, a TLS failure (most often a certificate
    /// that does not verify) or a body over the cap will not.
    fn is_retryable(&self) -> bool {
        match self.kind {
            TransportErrorKind::InvalidRequest
            | TransportErrorKind::Tls
            | TransportErrorKind::BodyTooLarge { .. } => false,
            TransportErrorKind::Connect
            | TransportErrorKind::Timeout
            | TransportErrorKind::Io
            | TransportErrorKind::Protocol => true,
        }
    }
}
