//! The authorization server's token management endpoints: revocation
//! (RFC 7009) and introspection (RFC 7662). Each adds its own
//! `impl Client { pub fn … }`; both send the token in an authenticated form
//! POST (RFC 7009 §2.1, RFC 7662 §2.1) built by the one request builder every
//! endpoint that authenticates the client shares.
//!
//! The token these flows carry is a secret: it is redacted in `Debug`,
//! zeroized when the flow is dropped, and withheld from every error, even
//! one quoting a server that echoed it back (`error::withhold`).

use core::fmt;

use zeroize::Zeroizing;

use crate::client::{Client, Endpoints};
use crate::endpoint::EndpointUrl;
use crate::error::Error;
use crate::message::HttpRequest;
use crate::time::UnixTime;

mod introspection;
mod revocation;

pub use introspection::{Introspection, IntrospectionResponse};
pub use revocation::Revocation;

/// What kind of token is revoked or introspected: the optional
/// `token_type_hint` of RFC 7009 §2.1 and RFC 7662 §2.1, which helps the
/// server find the token (it searches all its token types when the hint is
/// wrong or absent).
///
/// ```
/// use grantflow::TokenTypeHint;
///
/// assert_eq!(TokenTypeHint::RefreshToken.as_str(), "refresh_token");
/// assert_eq!(TokenTypeHint::Other("device_secret".into()).as_str(), "device_secret");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenTypeHint {
    /// `access_token` (RFC 7009 §2.1).
    AccessToken,
    /// `refresh_token` (RFC 7009 §2.1).
    RefreshToken,
    /// Any other registered or provider-specific hint, sent as given
    /// (RFC 7009 §4.1.2: the OAuth Token Type Hints registry).
    Other(String),
}

impl TokenTypeHint {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            TokenTypeHint::AccessToken => "access_token",
            TokenTypeHint::RefreshToken => "refresh_token",
            TokenTypeHint::Other(other) => other,
        }
    }
}

impl fmt::Display for TokenTypeHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The token a flow revokes or introspects: redacted in `Debug`, zeroized
/// on drop.
struct TokenValue(Zeroizing<String>);

impl TokenValue {
    fn new(token: &str) -> Self {
        TokenValue(Zeroizing::new(token.to_owned()))
    }

    fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a one-request flow is: nothing sent, a request in flight, over.
/// Where a [`TokenPost`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Sent,
    /// Answered, or failed: every further call is an error.
    Finished,
}

/// What both flows are: the token and its hint, sent once in a form POST
/// authenticated like every token request (RFC 7009 §2.1, RFC 7662 §2.1),
/// and the state of that one request. Each flow only reads the answer.
#[derive(Debug)]
struct TokenPost {
    /// The flow's name in [`Error::UnexpectedCall`].
    flow: &'static str,
    /// The endpoint's metadata name, for [`Error::MissingEndpoint`].
    endpoint: &'static str,
    pick: fn(&Endpoints) -> Option<&EndpointUrl>,
    client: Client,
    token: TokenValue,
    hint: Option<TokenTypeHint>,
    state: State,
}

impl TokenPost {
    /// The request for `token`, to the endpoint `pick` chooses; fails with
    /// [`Error::MissingEndpoint`] when the client has none.
    fn new(
        client: &Client,
        (flow, endpoint): (&'static str, &'static str),
        pick: fn(&Endpoints) -> Option<&EndpointUrl>,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<Self, Error> {
        client.require_endpoint(pick, endpoint)?;
        Ok(TokenPost {
            flow,
            endpoint,
            pick,
            client: client.clone(),
            token: TokenValue::new(token),
            hint,
            state: State::New,
        })
    }

    fn unexpected(&mut self, call: &'static str) -> Error {
        self.state = State::Finished;
        Error::UnexpectedCall {
            flow: self.flow,
            call,
        }
    }

    /// The one request: `token` and, if given, `token_type_hint`.
    fn start(&mut self, now: UnixTime) -> Result<HttpRequest, Error> {
        if self.state != State::New {
            return Err(self.unexpected("start after the flow had started"));
        }
        self.state = State::Finished;
        let endpoint = self.client.require_endpoint(self.pick, self.endpoint)?;
        let mut params = vec![("token", self.token.secret())];
        if let Some(hint) = &self.hint {
            params.push(("token_type_hint", hint.as_str()));
        }
        let request = self
            .client
            .authenticated_request(endpoint, params, false, now)?;
        self.state = State::Sent;
        Ok(request)
    }

    /// Ends the flow on its answer: the token, to keep out of what the
    /// answer's errors quote, or [`Error::UnexpectedCall`] when no request is
    /// in flight.
    /// Ends the flow on its answer; an error if no request was in flight.
    fn answered(&mut self) -> Result<(), Error> {
        if self.state != State::Sent {
            return Err(self.unexpected("handle_response without a request in flight"));
        }
        self.state = State::Finished;
        Ok(())
    }

    /// `error` without the secrets the request carried, wherever the server
    /// echoed them: the token, and the client secret of `client_secret_basic`
    /// or `client_secret_post`.
    fn withhold(&self, error: Error) -> Error {
        self.client
            .withhold_secret(crate::error::withhold(error, self.token.secret()))
    }

    fn timeout(&mut self) -> Error {
        self.unexpected("handle_timeout: this flow never waits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, ErrorResponse, MalformedResponse};

    const TOKEN: &str = "tGzv3JOkF0XG5Qx2TlKWIA";

    /// A canned response for the flows' tests.
    pub(super) fn response(
        status: u16,
        content_type: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> crate::message::HttpResponse {
        let mut builder = http::Response::builder().status(status);
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(body.into()).unwrap()
    }

    /// The two client authentications that send `secret` with the request.
    pub(super) fn secret_auths(secret: &str) -> [crate::ClientAuth; 2] {
        [
            crate::ClientAuth::ClientSecretBasic(crate::ClientSecret::new(secret)),
            crate::ClientAuth::ClientSecretPost(crate::ClientSecret::new(secret)),
        ]
    }

    /// Panics when `error` shows `secret` in its message or its `Debug`.
    pub(super) fn assert_hides(error: &Error, secret: &str) {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(secret), "{shown}");
    }

    /// A canned `application/json` response.
    pub(super) fn json_response(status: u16, body: &str) -> crate::message::HttpResponse {
        response(status, Some("application/json"), body)
    }

    #[test]
    fn token_value_redacts() {
        let token = TokenValue::new(TOKEN);
        assert_eq!(format!("{token:?}"), "<redacted>");
        assert_eq!(token.secret(), TOKEN);
    }

    #[test]
    fn hint_wire_values() {
        assert_eq!(TokenTypeHint::AccessToken.as_str(), "access_token");
        assert_eq!(TokenTypeHint::RefreshToken.to_string(), "refresh_token");
        assert_eq!(TokenTypeHint::Other("x".into()).as_str(), "x");
    }

    #[test]
    fn scrub_drops_every_text_that_quotes_the_token() {
        let error = Error::OAuth(ErrorResponse::new(
            ErrorCode::Other(format!("bad-{TOKEN}")),
            Some(&format!("token {TOKEN} is unknown")),
            Some(&format!("https://as.example.com/err?t={TOKEN}")),
            Some(400),
        ));
        let Error::OAuth(scrubbed) = crate::error::withhold(error, TOKEN) else {
            panic!("the kind of error changed");
        };
        assert_eq!(scrubbed.description, None);
        assert_eq!(scrubbed.uri, None);
        assert!(!scrubbed.error.as_str().contains(TOKEN));
        assert_eq!(scrubbed.status, Some(400));

        let error = Error::MalformedResponse(MalformedResponse {
            status: 500,
            reason: format!("field {TOKEN:?} appears more than once"),
            excerpt: Some(format!("<p>{TOKEN}</p>")),
        });
        let scrubbed = crate::error::withhold(error, TOKEN).to_string();
        assert!(!scrubbed.contains(TOKEN), "{scrubbed}");
        assert!(scrubbed.contains("http 500"), "{scrubbed}");
    }

    #[test]
    fn scrub_sees_the_token_without_its_control_characters() {
        let token = "ab\u{7}cdef";
        let error = Error::OAuth(ErrorResponse::new(
            ErrorCode::InvalidRequest,
            Some("no such token: ab\u{7}cdef"),
            None,
            Some(400),
        ));
        // Cleaning removed the BEL: the description reads "abcdef".
        let Error::OAuth(scrubbed) = crate::error::withhold(error, token) else {
            panic!("the kind of error changed");
        };
        assert_eq!(scrubbed.description, None);
    }

    #[test]
    fn scrub_keeps_what_does_not_quote_the_token() {
        let error = Error::OAuth(ErrorResponse::new(
            ErrorCode::UnsupportedTokenType,
            Some("revocation of access tokens is not supported"),
            None,
            Some(400),
        ));
        assert_eq!(crate::error::withhold(error.clone(), TOKEN), error);
        assert_eq!(crate::error::withhold(error.clone(), ""), error);
    }
}
