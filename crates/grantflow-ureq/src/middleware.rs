//! A ureq [`Middleware`] that sends a [`TokenSource`]'s access token to one
//! resource server as `Authorization: Bearer` (RFC 6750 §2.1) — or, for a
//! DPoP-bound token, as `Authorization: DPoP` with a proof (RFC 9449 §7.1) —
//! and when that server rejects it (401 with `error="invalid_token"`, RFC
//! 6750 §3.1) reports it rejected, renews it once and retries the request
//! once; a DPoP nonce challenge (RFC 9449 §9) is met by one retry too.

use core::fmt;
use std::io::{self, Read};

use grantflow::url::{Origin, Url};
use grantflow::{EndpointUrl, TokenSet, TokenType};
use ureq::config::ConfigBuilder;
use ureq::http::header::AUTHORIZATION;
use ureq::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use ureq::middleware::{Middleware, MiddlewareNext};
use ureq::typestate::AgentScope;
use ureq::{Agent, Body, SendBody};

use crate::TokenSource;

/// Attaches a [`TokenSource`]'s access token to the requests a ureq
/// [`Agent`] sends to one resource server, and renews it once when that
/// server says it is no longer valid.
///
/// - **Only the configured origin** (scheme, host and port of the URL given
///   to [`new`](Self::new)) gets the token; a request to any other host goes
///   out untouched, so the token never leaks to a third party. ureq drops
///   the `Authorization` header on redirects by default
///   ([`RedirectAuthHeaders::Never`](ureq::config::RedirectAuthHeaders)); keep it so.
/// - **One retry**: on a 401 whose `WWW-Authenticate` has a `Bearer`
///   challenge with `error="invalid_token"`, the token is reported rejected
///   ([`TokenSource::invalidate_token`]), renewed (one refresh, shared with
///   every thread that hit the same 401) and the request sent once more with
///   the new token. A second 401 is returned as it is: no loop.
/// - **Only replayable requests are retried**: `GET`, `HEAD` and `OPTIONS`
///   without a body (ureq's builders send these without one). Other requests
///   carry the token but a 401 is returned as is: their body is a stream that
///   has been sent and cannot be sent again. Retry those yourself.
/// - The retry needs the agent from [`agent`](Self::agent) or
///   [`agent_with`](Self::agent_with): a ureq middleware runs the rest of the
///   chain only once, so the retry goes through a second agent built from the
///   same configuration (without this middleware; other middleware runs again
///   for the retry). Installed by hand with [`ConfigBuilder::middleware`], it
///   attaches tokens but never retries. The 401 must reach it as a response:
///   the agent needs `http_status_as_error(false)` ([`agent`](Self::agent)
///   sets it; ureq's default turns a 401 into an error before any middleware
///   sees its headers).
///
/// - **DPoP**: a token of type `DPoP` goes out as `Authorization: DPoP`
///   with a fresh proof from the source's client's DPoP key
///   ([`Client::dpop_resource_headers`](grantflow::Client::dpop_resource_headers)),
///   and a 401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a
///   `DPoP-Nonce` (RFC 9449 §9) is retried once with a proof carrying the
///   nonce (replayable requests only, as above); the nonce is remembered
///   for the next request.
///
/// When no token can be had ([`TokenSource::token`] fails: the session ended,
/// or a renewal failed), the request is not sent (or, after a 401, not sent
/// again) and the agent returns [`ureq::Error::Other`] holding the
/// [`TokenError`](crate::TokenError): downcast it to tell an ended session,
/// whose stored tokens must be cleared.
///
/// ```no_run
/// use grantflow::EndpointUrl;
/// use grantflow_ureq::{BearerAuth, TokenSource};
///
/// # fn run(source: TokenSource) -> Result<(), Box<dyn std::error::Error>> {
/// let api = EndpointUrl::parse("https://api.example.com")?;
/// let agent = BearerAuth::new(source, &api).agent();
/// let mut response = agent.get("https://api.example.com/v1/me").call()?;
/// println!("{}", response.body_mut().read_to_string()?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BearerAuth {
    source: TokenSource,
    origin: Origin,
    retry: Option<Agent>,
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("origin", &self.origin.ascii_serialization())
            .field("retries", &self.retry.is_some())
            .finish_non_exhaustive()
    }
}

impl BearerAuth {
    /// Sends `source`'s access token to the origin (scheme, host, port) of
    /// `resource_server`, and to no other. An [`EndpointUrl`] is `https`
    /// (or `http` on a loopback address), so the token never crosses the
    /// network in the clear.
    pub fn new(source: TokenSource, resource_server: &EndpointUrl) -> BearerAuth {
        BearerAuth {
            source,
            origin: resource_server.as_url().origin(),
            retry: None,
        }
    }

    /// An agent with ureq's default configuration, except that HTTP error
    /// statuses are responses (`http_status_as_error(false)`), with this
    /// middleware installed, retries included.
    pub fn agent(self) -> Agent {
        self.agent_with(|| Agent::config_builder().http_status_as_error(false))
    }

    /// An agent configured by `config`, with this middleware installed last,
    /// retries included. `config` is called twice: once for the agent the
    /// retries go through, once for the agent returned. Give it
    /// `http_status_as_error(false)`, or 401s never reach the middleware.
    pub fn agent_with(mut self, config: impl Fn() -> ConfigBuilder<AgentScope>) -> Agent {
        self.retry = Some(config().build().new_agent());
        config().middleware(self).build().new_agent()
    }

    /// Whether a request to `uri` gets the token.
    fn covers(&self, uri: &Uri) -> bool {
        Url::parse(&uri.to_string()).is_ok_and(|url| url.origin() == self.origin)
    }
}

impl Middleware for BearerAuth {
    fn handle(
        &self,
        request: Request<SendBody>,
        next: MiddlewareNext,
    ) -> Result<Response<Body>, ureq::Error> {
        if !self.covers(request.uri()) {
            return next.handle(request);
        }
        let tokens = self.source.token().map_err(other)?;
        let (mut parts, body) = request.into_parts();
        self.authorize(&mut parts, &tokens)?;
        let replayable = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let Some(retry) = self.retry.as_ref().filter(|_| replayable) else {
            return next.handle(Request::from_parts(parts, body));
        };
        // Tell an empty body from one with content by reading one byte.
        let mut reader = body.into_reader();
        let mut first = [0u8; 1];
        let read = read_some(&mut reader, &mut first).map_err(ureq::Error::Io)?;
        if read > 0 {
            // A body after all: sent once, never replayed (chunked, since its
            // length is no longer known here).
            let mut whole = first.get(..read).unwrap_or_default().chain(reader);
            let body = SendBody::from_reader(&mut whole);
            return next.handle(Request::from_parts(parts, body));
        }
        let again = parts.clone();
        let uri = parts.uri.clone();
        let response = next.handle(Request::from_parts(parts, SendBody::none()))?;
        if tokens.token_type == TokenType::DPoP
            && self
                .source
                .client()
                .dpop_resource_challenge(&uri, &response)
        {
            // RFC 9449 §9: once more, with a proof carrying the nonce.
            drop(response);
            let mut again = again;
            self.authorize(&mut again, &tokens)?;
            return retry.run(Request::from_parts(again, ()));
        }
        if !rejects_token(&response, &tokens) {
            return Ok(response);
        }
        self.source.invalidate_token(&tokens.access_token);
        let fresh = self.source.token().map_err(other)?;
        if fresh.access_token.secret() == tokens.access_token.secret() {
            // Nothing new to try (the same token came back): no retry.
            return Ok(response);
        }
        drop(response);
        let mut again = again;
        self.authorize(&mut again, &fresh)?;
        retry.run(Request::from_parts(again, ()))
    }
}

impl BearerAuth {
    /// Sets the `Authorization` header for `tokens` (and, for a DPoP-bound
    /// token, the `DPoP` proof for this method and URI).
    fn authorize(
        &self,
        parts: &mut ureq::http::request::Parts,
        tokens: &TokenSet,
    ) -> Result<(), ureq::Error> {
        if tokens.token_type != TokenType::DPoP {
            return set_bearer(&mut parts.headers, tokens);
        }
        let (authorization, proof) = self
            .source
            .client()
            .dpop_resource_headers(
                &parts.method,
                &parts.uri,
                tokens.access_token.secret(),
                self.source.now(),
            )
            .map_err(other)?;
        parts.headers.insert(AUTHORIZATION, authorization);
        parts.headers.insert("dpop", proof);
        Ok(())
    }
}

fn other(error: impl std::error::Error + Send + Sync + 'static) -> ureq::Error {
    ureq::Error::Other(Box::new(error))
}

/// Sets `Authorization: Bearer <token>`, marked sensitive; a token of
/// another type is refused (RFC 6749 §7.1: a client must not use a token
/// type it does not understand).
fn set_bearer(headers: &mut HeaderMap, tokens: &TokenSet) -> Result<(), ureq::Error> {
    if tokens.token_type != TokenType::Bearer {
        return Err(other(grantflow::Error::UnsupportedTokenType {
            token_type: tokens.token_type.as_str().to_owned(),
        }));
    }
    let mut value = HeaderValue::try_from(format!("Bearer {}", tokens.access_token.secret()))
        .map_err(|_| ureq::Error::Other("the access token is not a valid header value".into()))?;
    value.set_sensitive(true);
    headers.insert(AUTHORIZATION, value);
    Ok(())
}

fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// Whether `response` says the access token is no longer valid: a 401
/// with a challenge of the token's scheme (`Bearer`, or `DPoP`) whose
/// `error` is `invalid_token` (RFC 6750 §3.1, RFC 9449 §7.1), read with the
/// core's RFC 9110 §11.6.1 challenge parser. Any other 401 (no challenge,
/// another error such as `insufficient_scope`, another scheme) is left to
/// the caller.
fn rejects_token(response: &Response<Body>, tokens: &TokenSet) -> bool {
    let scheme = if tokens.token_type == TokenType::DPoP {
        "DPoP"
    } else {
        "Bearer"
    };
    response.status() == StatusCode::UNAUTHORIZED && invalid_token(response.headers(), scheme)
}

/// Whether a challenge of `scheme` (`Bearer`, or `DPoP` for a DPoP-bound
/// token, RFC 9449 §7.1) in `headers` carries `error=invalid_token`.
fn invalid_token(headers: &HeaderMap, scheme: &str) -> bool {
    grantflow::parse_challenges(headers)
        .iter()
        .any(|challenge| challenge.is(scheme) && challenge.param("error") == Some("invalid_token"))
}

#[cfg(test)]
mod tests {
    use super::invalid_token;
    use ureq::http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};

    fn says_invalid_token(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_str(value).unwrap());
        invalid_token(&headers, "Bearer")
    }

    #[test]
    fn a_dpop_token_looks_for_the_dpop_challenge() {
        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"DPoP algs="ES256", error="invalid_token""#),
        );
        assert!(invalid_token(&headers, "DPoP"));
        assert!(!invalid_token(&headers, "Bearer"));
    }

    #[test]
    fn finds_invalid_token_in_a_bearer_challenge_only() {
        for yes in [
            r#"Bearer error="invalid_token""#,
            r#"Bearer realm="example", error="invalid_token", error_description="expired""#,
            r#"bearer ERROR=invalid_token"#,
            r#"DPoP algs="ES256", error="use_dpop_nonce", Bearer realm="a,b", error = "invalid_token""#,
            r#"Basic realm="x", Bearer error="invalid_\token""#,
        ] {
            assert!(says_invalid_token(yes), "{yes}");
        }
        for no in [
            "",
            "Bearer",
            r#"Bearer realm="example""#,
            r#"Bearer error="insufficient_scope""#,
            r#"DPoP error="invalid_token""#,
            r#"Bearer realm="error=invalid_token""#,
            r#"Bearer realm="x, error=invalid_token""#,
            r#"Bearerx error="invalid_token""#,
            r#"Bearer error="invalid_token"#,
            r#"Bearer error="invalid_token" junk"#,
            r#"Bearer error=invalid_tokens"#,
            "Basic abc==, error=invalid_token",
        ] {
            assert!(!says_invalid_token(no), "{no}");
        }
    }
}
