//! One HTTP/1.1 request and response over a connection, and the keep-alive
//! pool the connections come from: ureq-proto writes the request and parses
//! the response (every byte of HTTP framing is its job), this module moves
//! the bytes between it and the socket.

use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_net::TcpStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use futures_rustls::client::TlsStream;
use futures_rustls::pki_types::ServerName;
use grantflow::{HttpRequest, HttpResponse};
use http::{HeaderValue, Method, Request, Uri, header};
use ureq_proto::BodyMode;
use ureq_proto::client::state::{RecvBody, RecvResponse, SendBody};
use ureq_proto::client::{
    Await100Result, Call, RecvBodyResult, RecvResponseResult, SendRequestResult,
};

use crate::client::{Inner, Proxy, TransportError, TransportErrorKind};

/// How long an idle connection stays in the pool: servers close idle
/// keep-alive connections too (nginx after 75 s, Node.js after 5 s), and a
/// connection they closed fails the request that takes it (which then
/// retries on a fresh one, see [`send`]).
const MAX_IDLE_AGE: Duration = Duration::from_secs(15);

/// The read buffer, and the write buffer ureq-proto serializes into.
const BUFFER: usize = 16 * 1024;

/// The most bytes of response status line and headers read before giving up.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

const USER_AGENT: &str = concat!("grantflow-async/", env!("CARGO_PKG_VERSION"));

/// A TCP connection, with TLS for `https`.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(stream) => {
                stream.write_all(bytes).await?;
                stream.flush().await
            }
            Stream::Tls(stream) => {
                stream.write_all(bytes).await?;
                stream.flush().await
            }
        }
    }

    async fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.read(buffer).await,
            Stream::Tls(stream) => stream.read(buffer).await,
        }
    }
}

/// Where a connection goes: connections are reused only for the same
/// scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Origin {
    https: bool,
    /// The host as the URI spells it, lower-cased, without IPv6 brackets.
    host: String,
    port: u16,
}

impl Origin {
    fn of(uri: &Uri) -> Result<Origin, TransportError> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(TransportError::new(
                    TransportErrorKind::InvalidRequest,
                    format!("unsupported URI scheme {other:?}: only http and https"),
                ));
            }
        };
        let host = uri.host().filter(|host| !host.is_empty()).ok_or_else(|| {
            TransportError::new(TransportErrorKind::InvalidRequest, "the URI has no host")
        })?;
        let host = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host)
            .to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }
}

/// Idle keep-alive connections, per origin.
pub(crate) struct Pool {
    max_idle_per_host: usize,
    idle: Mutex<HashMap<Origin, Vec<(Stream, Instant)>>>,
}

impl Pool {
    pub(crate) fn new(max_idle_per_host: usize) -> Pool {
        Pool {
            max_idle_per_host,
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// The lock is never held across an `.await`, and the map stays
    /// consistent whatever panics: a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<Origin, Vec<(Stream, Instant)>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used idle connection to `origin` still young enough.
    fn take(&self, origin: &Origin) -> Option<Stream> {
        let mut idle = self.lock();
        let connections = idle.get_mut(origin)?;
        let mut found = None;
        while let Some((stream, since)) = connections.pop() {
            if since.elapsed() < MAX_IDLE_AGE {
                found = Some(stream);
                break;
            }
        }
        if connections.is_empty() {
            idle.remove(origin);
        }
        found
    }

    /// Keeps `stream` for the next request to `origin`, dropping the oldest
    /// connection to it if it already has its share, and any that are too old.
    fn put(&self, origin: Origin, stream: Stream) {
        if self.max_idle_per_host == 0 {
            return;
        }
        let mut idle = self.lock();
        idle.retain(|_, connections| {
            connections.retain(|(_, since)| since.elapsed() < MAX_IDLE_AGE);
            !connections.is_empty()
        });
        let connections = idle.entry(origin).or_default();
        if connections.len() >= self.max_idle_per_host {
            connections.remove(0);
        }
        connections.push((stream, Instant::now()));
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }
}

/// Performs `request` on a pooled connection to its origin, or a new one.
///
/// A pooled connection the server has closed meanwhile fails before a single
/// byte of response arrives; the request is then sent again, once, on a new
/// connection. The server never answered the first, so it did not act on it
/// (it closed the connection while idle, before reading the request).
pub(crate) async fn send(
    inner: &Inner,
    request: HttpRequest,
) -> Result<HttpResponse, TransportError> {
    let (parts, body) = request.into_parts();
    let origin = Origin::of(&parts.uri)?;
    let mut headers = parts.headers;
    if !headers.contains_key(header::USER_AGENT) {
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    }
    let sends_body = !body.is_empty()
        || parts.method == Method::POST
        || parts.method == Method::PUT
        || parts.method == Method::PATCH;
    if sends_body
        && !headers.contains_key(header::CONTENT_LENGTH)
        && !headers.contains_key(header::TRANSFER_ENCODING)
    {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let head = || {
        let mut head = Request::new(());
        *head.method_mut() = parts.method.clone();
        *head.uri_mut() = parts.uri.clone();
        *head.headers_mut() = headers.clone();
        head
    };

    if let Some(mut stream) = inner.pool.take(&origin) {
        match exchange(&mut stream, head(), &body, inner.max_body).await {
            Ok((response, reusable)) => {
                if reusable {
                    inner.pool.put(origin, stream);
                }
                return Ok(response);
            }
            Err(Failure { stale: true, .. }) => {}
            Err(Failure { error, .. }) => return Err(error),
        }
    }
    let mut stream = connect(inner, &origin).await?;
    match exchange(&mut stream, head(), &body, inner.max_body).await {
        Ok((response, reusable)) => {
            if reusable {
                inner.pool.put(origin, stream);
            }
            Ok(response)
        }
        Err(Failure { error, .. }) => Err(error),
    }
}

/// Opens a connection to `origin` within the connect timeout: TCP, then TLS
/// for `https` (the certificate verified for the host name).
async fn connect(inner: &Inner, origin: &Origin) -> Result<Stream, TransportError> {
    let timeout = inner.connect_timeout;
    let connecting = async {
        let (host, port) = match &inner.proxy {
            Some(proxy) => (proxy.host.as_str(), proxy.port),
            None => (origin.host.as_str(), origin.port),
        };
        let mut tcp = TcpStream::connect((host, port)).await.map_err(|e| {
            TransportError::with_source(
                TransportErrorKind::Connect,
                format!("cannot connect to {host}:{port}"),
                e,
            )
        })?;
        if let Some(proxy) = &inner.proxy {
            tunnel(&mut tcp, proxy, origin).await?;
        }
        // The request goes out in one write; do not let Nagle hold it back.
        // A failure here costs latency, not correctness.
        let _ = tcp.set_nodelay(true);
        if !origin.https {
            return Ok(Stream::Plain(tcp));
        }
        let name = ServerName::try_from(origin.host.clone()).map_err(|e| {
            TransportError::with_source(
                TransportErrorKind::InvalidRequest,
                "the host is not a valid TLS server name",
                e,
            )
        })?;
        let tls = inner.tls.connect(name, tcp).await.map_err(|e| {
            TransportError::with_source(
                TransportErrorKind::Tls,
                format!("TLS handshake with {} failed", origin.host),
                e,
            )
        })?;
        Ok(Stream::Tls(Box::new(tls)))
    };
    futures_lite::future::or(connecting, async move {
        async_io::Timer::after(timeout).await;
        Err(TransportError::new(
            TransportErrorKind::Timeout,
            format!("no connection within {timeout:?}"),
        ))
    })
    .await
}

/// Asks `proxy`, on `tcp`, for a tunnel to `origin` (HTTP CONNECT, RFC 9110
/// §9.3.6). ureq-proto's parser reads the proxy's answer.
async fn tunnel(tcp: &mut TcpStream, proxy: &Proxy, origin: &Origin) -> Result<(), TransportError> {
    let target = if origin.host.contains(':') {
        format!("[{}]:{}", origin.host, origin.port)
    } else {
        format!("{}:{}", origin.host, origin.port)
    };
    // `target` comes from a parsed URI (no CR, LF or space), the
    // authorization is base64: nothing here can break the request's framing.
    let mut head =
        format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {USER_AGENT}\r\n");
    if let Some(authorization) = &proxy.authorization {
        head.push_str("Proxy-Authorization: ");
        head.push_str(authorization);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let failed = |e| {
        TransportError::with_source(
            TransportErrorKind::Connect,
            format!(
                "CONNECT through the proxy {}:{} failed",
                proxy.host, proxy.port
            ),
            e,
        )
    };
    tcp.write_all(head.as_bytes()).await.map_err(failed)?;
    let mut input = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        if let Some((used, response)) =
            ureq_proto::parser::try_parse_response::<64>(&input).map_err(protocol)?
        {
            if response.status() != http::StatusCode::OK {
                return Err(TransportError::new(
                    TransportErrorKind::Connect,
                    format!(
                        "the proxy {}:{} refused the tunnel to {target}: {}",
                        proxy.host,
                        proxy.port,
                        response.status()
                    ),
                ));
            }
            // The server speaks only after the client: nothing may follow.
            if used != input.len() {
                return Err(TransportError::new(
                    TransportErrorKind::Protocol,
                    "the proxy sent bytes after accepting the tunnel",
                ));
            }
            return Ok(());
        }
        if input.len() > MAX_RESPONSE_HEAD {
            return Err(TransportError::new(
                TransportErrorKind::Protocol,
                "the proxy's answer is too large",
            ));
        }
        let n = tcp.read(&mut buffer).await.map_err(failed)?;
        if n == 0 {
            return Err(failed(io::ErrorKind::UnexpectedEof.into()));
        }
        input.extend_from_slice(prefix(&buffer, n));
    }
}

/// A failed exchange; `stale` when nothing at all came back, so the request
/// may go again on a new connection if this one came from the pool.
struct Failure {
    error: TransportError,
    stale: bool,
}

impl From<TransportError> for Failure {
    fn from(error: TransportError) -> Self {
        Failure {
            error,
            stale: false,
        }
    }
}

fn protocol(error: ureq_proto::Error) -> TransportError {
    TransportError::with_source(TransportErrorKind::Protocol, "HTTP/1.1", error)
}

fn io_error(what: &str, error: io::Error) -> TransportError {
    TransportError::with_source(TransportErrorKind::Io, what.to_owned(), error)
}

/// The first `n` bytes of `buffer` (all of it if `n` is larger, which
/// ureq-proto's and the socket's counts never are).
fn prefix(buffer: &[u8], n: usize) -> &[u8] {
    buffer.get(..n).unwrap_or(buffer)
}

/// Drops the first `n` bytes of `input`.
fn consume(input: &mut Vec<u8>, n: usize) {
    input.drain(..n.min(input.len()));
}

/// Sends one request on `stream` and reads its whole response. The flag is
/// whether the connection may carry another request.
async fn exchange(
    stream: &mut Stream,
    head: Request<()>,
    body: &[u8],
    max_body: usize,
) -> Result<(HttpResponse, bool), Failure> {
    // Serialize the whole request, then write it at once.
    let mut call = Call::new(head).map_err(protocol)?;
    if !body.is_empty() {
        call.force_send_body();
    }
    let mut call = call.proceed();
    let mut out = vec![0; BUFFER];
    let mut wire = Vec::with_capacity(body.len() + 1024);
    while !call.can_proceed() {
        let n = call.write(&mut out).map_err(protocol)?;
        if n == 0 {
            return Err(TransportError::new(
                TransportErrorKind::InvalidRequest,
                "the request head does not fit in 16 KiB",
            )
            .into());
        }
        wire.extend_from_slice(prefix(&out, n));
    }
    let call = match call.proceed().map_err(protocol)? {
        Some(SendRequestResult::RecvResponse(call)) => call,
        Some(SendRequestResult::SendBody(call)) => write_body(call, body, &mut out, &mut wire)?,
        // Nothing here asks for `Expect: 100-continue`; if the caller did,
        // the body goes right away, which servers must accept.
        Some(SendRequestResult::Await100(call)) => match call.proceed().map_err(protocol)? {
            Await100Result::SendBody(call) => write_body(call, body, &mut out, &mut wire)?,
            Await100Result::RecvResponse(call) => call,
        },
        None => {
            return Err(TransportError::new(
                TransportErrorKind::Protocol,
                "the request head was not complete",
            )
            .into());
        }
    };
    stream.write_all(&wire).await.map_err(|e| Failure {
        error: io_error("cannot send the request", e),
        stale: true,
    })?;

    // The status line and headers.
    let mut input = Vec::new();
    let mut received = false;
    let (response, next) = read_head(call, stream, &mut input, &mut received).await?;

    // The body.
    let mut body = Vec::new();
    let must_close = match next {
        RecvResponseResult::RecvBody(call) => {
            read_body(call, stream, &mut input, &mut body, max_body).await?
        }
        RecvResponseResult::Redirect(call) => call.must_close_connection(),
        RecvResponseResult::Cleanup(call) => call.must_close_connection(),
    };
    // Bytes beyond the response: the server is out of step, do not reuse.
    let reusable = !must_close && input.is_empty();
    Ok((response.map(|()| body), reusable))
}

/// Serializes the request body after the head.
fn write_body(
    mut call: Call<SendBody>,
    body: &[u8],
    out: &mut [u8],
    wire: &mut Vec<u8>,
) -> Result<Call<RecvResponse>, TransportError> {
    let mut rest = body;
    while !call.can_proceed() {
        // An empty `rest` ends a chunked body; a sized one ends by itself.
        let (used, n) = call.write(rest, out).map_err(protocol)?;
        wire.extend_from_slice(prefix(out, n));
        if rest.is_empty() && !call.can_proceed() {
            return Err(TransportError::new(
                TransportErrorKind::InvalidRequest,
                "the body is shorter than its Content-Length",
            ));
        }
        rest = rest.get(used..).unwrap_or_default();
    }
    call.proceed().ok_or_else(|| {
        TransportError::new(
            TransportErrorKind::Protocol,
            "the request body was not complete",
        )
    })
}

/// Reads until ureq-proto has parsed a response head (1xx responses are
/// skipped by it).
async fn read_head(
    mut call: Call<RecvResponse>,
    stream: &mut Stream,
    input: &mut Vec<u8>,
    received: &mut bool,
) -> Result<(http::Response<()>, RecvResponseResult), Failure> {
    let mut buffer = vec![0; BUFFER];
    loop {
        let (used, response) = call.try_response(input, false).map_err(protocol)?;
        consume(input, used);
        if let Some(response) = response {
            let next = call.proceed().ok_or_else(|| {
                TransportError::new(TransportErrorKind::Protocol, "response head not complete")
            })?;
            return Ok((response, next));
        }
        if used > 0 {
            continue;
        }
        if input.len() > MAX_RESPONSE_HEAD {
            return Err(TransportError::new(
                TransportErrorKind::Protocol,
                format!("the response head is larger than {MAX_RESPONSE_HEAD} bytes"),
            )
            .into());
        }
        let stale = !*received;
        let n = stream.read(&mut buffer).await.map_err(|e| Failure {
            error: io_error("cannot read the response", e),
            stale,
        })?;
        if n == 0 {
            return Err(Failure {
                error: TransportError::new(
                    TransportErrorKind::Io,
                    "the server closed the connection before the response was complete",
                ),
                stale,
            });
        }
        *received = true;
        input.extend_from_slice(prefix(&buffer, n));
    }
}

/// Reads the body into `body`, up to `max_body` bytes. Returns whether the
/// connection must be closed afterwards.
async fn read_body(
    mut call: Call<RecvBody>,
    stream: &mut Stream,
    input: &mut Vec<u8>,
    body: &mut Vec<u8>,
    max_body: usize,
) -> Result<bool, Failure> {
    let too_large = || {
        TransportError::new(
            TransportErrorKind::BodyTooLarge { limit: max_body },
            format!("the response body is larger than the {max_body} byte limit"),
        )
    };
    if let BodyMode::LengthDelimited(length) = call.body_mode() {
        if length > max_body as u64 {
            return Err(too_large().into());
        }
    }
    let mut buffer = vec![0; BUFFER];
    let mut out = vec![0; BUFFER];
    let mut closed = false;
    loop {
        let complete = match call.body_mode() {
            BodyMode::NoBody => true,
            BodyMode::LengthDelimited(_) | BodyMode::Chunked => call.can_proceed(),
            // Ends only when the server closes the connection.
            BodyMode::CloseDelimited => false,
        };
        if complete {
            break;
        }
        if !input.is_empty() {
            let (used, n) = call.read(input, &mut out).map_err(protocol)?;
            consume(input, used);
            body.extend_from_slice(prefix(&out, n));
            if body.len() > max_body {
                return Err(too_large().into());
            }
            if used > 0 || n > 0 {
                continue;
            }
        }
        if closed {
            break;
        }
        let n = stream
            .read(&mut buffer)
            .await
            .map_err(|e| io_error("cannot read the response body", e))?;
        if n == 0 {
            closed = true;
        }
        input.extend_from_slice(prefix(&buffer, n));
    }
    if call.can_proceed() {
        let must_close = match call.proceed() {
            Some(RecvBodyResult::Redirect(call)) => call.must_close_connection(),
            Some(RecvBodyResult::Cleanup(call)) => call.must_close_connection(),
            None => true,
        };
        Ok(must_close || closed)
    } else if call.is_ended_chunked() {
        // The last chunk came, then the connection closed before the final
        // CRLF: the body is whole, the connection is not reusable.
        Ok(true)
    } else {
        Err(TransportError::new(
            TransportErrorKind::Io,
            "the server closed the connection before the response body was complete",
        )
        .into())
    }
}
