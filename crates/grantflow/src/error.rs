//! The one error type of the core.
//!
//! [`Error`] keeps four families apart, because a caller reacts to each
//! differently:
//!
//! - **the server said no**: [`Error::OAuth`] carries the RFC 6749 §5.2 error
//!   response (`invalid_client`, `invalid_scope`, …) as a typed
//!   [`ErrorResponse`];
//! - **the server answered nonsense**: [`Error::MalformedResponse`] carries the
//!   HTTP status, what was wrong, and at most a short excerpt of the body —
//!   never the whole body, never a secret;
//! - **a check failed**: each check gets its own variant as flows that check
//!   things arrive (state, issuer, signature, …);
//! - **the caller misused the API**: a bad endpoint URL, a public client asking
//!   for a grant it cannot use, a flow driven out of order.
//!
//! Messages are lower-case without a trailing period, and never contain a
//! secret. Adapters wrap this type and add their transport errors.

use core::fmt;

/// Everything that can go wrong in the core.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an OAuth error response (RFC 6749 §5.2).
    OAuth(ErrorResponse),
    /// The server's answer is neither a valid success nor a valid error response.
    MalformedResponse(MalformedResponse),
    /// An endpoint URL is not `https` (loopback `http` excepted).
    InsecureUrl {
        /// The rejected URL.
        url: String,
    },
    /// A URL could not be used as an endpoint.
    InvalidUrl {
        /// Why it was refused.
        reason: &'static str,
    },
    /// A scope token does not match RFC 6749 §3.3 (empty, or a space, `"`, `\`,
    /// a control or non-ASCII character).
    InvalidScopeToken,
    /// A request parameter set by the caller is one the flow sets itself.
    ReservedParameter {
        /// The parameter's name.
        name: String,
    },
    /// The client has no client authentication, and this grant needs one.
    PublicClientNotAllowed {
        /// The grant that was asked for.
        grant: &'static str,
    },
    /// The client was configured without an endpoint this flow needs.
    MissingEndpoint {
        /// Which endpoint, e.g. `"token_endpoint"`.
        endpoint: &'static str,
    },
    /// A flow was driven out of order (for example `handle_response` before
    /// `start`, or after the flow was done).
    UnexpectedCall {
        /// The flow.
        flow: &'static str,
        /// What was called, and in which state.
        call: &'static str,
    },
    /// An issuer identifier cannot be used: not `https` (loopback `http`
    /// excepted), or it has a query or fragment (RFC 8414 §2).
    InvalidIssuer {
        /// Why it was refused.
        reason: &'static str,
    },
    /// A discovery document names an issuer other than the one configured
    /// (RFC 8414 §3.3, OIDC Discovery §4.3); nothing in it was used.
    IssuerMismatch {
        /// The issuer configured.
        expected: String,
        /// The issuer the document names (cleaned and cut short).
        found: String,
    },
    /// A JWS (an ID token, a signed UserInfo response) failed to parse or verify.
    Jws(crate::jws::JwsError),
    /// An ID token's claims failed validation (OIDC Core §3.1.3.7).
    IdToken(crate::id_token::IdTokenError),
    /// The authorization response failed a check (RFC 6749 §4.1.2, RFC 9207).
    Callback(crate::authorization_code::CallbackError),
    /// The UserInfo `sub` differs from the ID token's (OIDC Core §5.3.2).
    UserInfoSubjectMismatch,
    /// A redirect URI cannot be used (RFC 6749 §3.1.2, RFC 9700 §2.1).
    InvalidRedirectUri {
        /// Why it was refused.
        reason: &'static str,
    },
    /// PKCE verifier octets of the wrong length (32 to 96 octets make the
    /// 43 to 128 characters RFC 7636 §4.1 allows).
    InvalidPkceVerifier,
    /// An OpenID Connect request (scope `openid`) from a client that has no
    /// issuer configured, so no ID token could be validated. Use discovery or
    /// [`Client::with_issuer`](crate::Client::with_issuer).
    MissingIssuer,
    /// A token of a type this flow cannot use (RFC 6749 §7.1): only `Bearer`
    /// tokens are sent to the UserInfo endpoint.
    UnsupportedTokenType {
        /// The type, as the server named it.
        token_type: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::OAuth(response) => write!(f, "server returned an error: {response}"),
            Error::MalformedResponse(malformed) => write!(f, "{malformed}"),
            Error::InsecureUrl { url } => {
                write!(f, "endpoint {url} is not https (http is allowed for loopback only)")
            }
            Error::InvalidUrl { reason } => write!(f, "invalid endpoint url: {reason}"),
            Error::InvalidScopeToken => f.write_str(
                "invalid scope token: it must be non-empty printable ascii without space, '\"' or '\\'",
            ),
            Error::ReservedParameter { name } => {
                write!(f, "parameter {name:?} is set by the flow itself and cannot be added")
            }
            Error::PublicClientNotAllowed { grant } => write!(
                f,
                "a public client (no client authentication) cannot use the {grant} grant"
            ),
            Error::MissingEndpoint { endpoint } => {
                write!(f, "the client has no {endpoint} configured")
            }
            Error::UnexpectedCall { flow, call } => write!(f, "{flow}: unexpected {call}"),
            Error::InvalidIssuer { reason } => write!(f, "invalid issuer identifier: {reason}"),
            Error::IssuerMismatch { expected, found } => write!(
                f,
                "discovery document is for issuer {found:?}, not the configured {expected:?}"
            ),
            Error::Jws(error) => write!(f, "jws: {error}"),
            Error::IdToken(error) => write!(f, "id token rejected: {error}"),
            Error::Callback(error) => write!(f, "authorization response rejected: {error}"),
            Error::UserInfoSubjectMismatch => {
                f.write_str("userinfo sub differs from the id token's sub")
            }
            Error::InvalidRedirectUri { reason } => write!(f, "invalid redirect uri: {reason}"),
            Error::InvalidPkceVerifier => {
                f.write_str("a pkce verifier needs 32 to 96 random octets (43 to 128 characters)")
            }
            Error::MissingIssuer => f.write_str(
                "scope openid needs a client with an issuer (use discovery or with_issuer)",
            ),
            Error::UnsupportedTokenType { token_type } => {
                write!(f, "token type {token_type:?} cannot be used here (only bearer)")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<ErrorResponse> for Error {
    fn from(response: ErrorResponse) -> Self {
        Error::OAuth(response)
    }
}

impl From<crate::jws::JwsError> for Error {
    fn from(error: crate::jws::JwsError) -> Self {
        Error::Jws(error)
    }
}

impl From<crate::id_token::IdTokenError> for Error {
    fn from(error: crate::id_token::IdTokenError) -> Self {
        Error::IdToken(error)
    }
}

impl From<crate::authorization_code::CallbackError> for Error {
    fn from(error: crate::authorization_code::CallbackError) -> Self {
        Error::Callback(error)
    }
}

impl From<MalformedResponse> for Error {
    fn from(malformed: MalformedResponse) -> Self {
        Error::MalformedResponse(malformed)
    }
}

/// An OAuth error code: RFC 6749 §4.1.2.1 and §5.2, RFC 7009 §2.2.1 and
/// RFC 8628 §3.5, with [`ErrorCode::Other`] for everything else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`
    InvalidClient,
    /// `invalid_grant`
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `access_denied`
    AccessDenied,
    /// `unsupported_response_type`
    UnsupportedResponseType,
    /// `server_error`
    ServerError,
    /// `temporarily_unavailable`
    TemporarilyUnavailable,
    /// `unsupported_token_type` (RFC 7009 §2.2.1)
    UnsupportedTokenType,
    /// `authorization_pending` (RFC 8628 §3.5)
    AuthorizationPending,
    /// `slow_down` (RFC 8628 §3.5)
    SlowDown,
    /// `expired_token` (RFC 8628 §3.5)
    ExpiredToken,
    /// Any other code, as the server sent it.
    Other(String),
}

impl ErrorCode {
    /// Maps the wire value to a code.
    pub fn from_wire(code: &str) -> Self {
        match code {
            "invalid_request" => ErrorCode::InvalidRequest,
            "invalid_client" => ErrorCode::InvalidClient,
            "invalid_grant" => ErrorCode::InvalidGrant,
            "unauthorized_client" => ErrorCode::UnauthorizedClient,
            "unsupported_grant_type" => ErrorCode::UnsupportedGrantType,
            "invalid_scope" => ErrorCode::InvalidScope,
            "access_denied" => ErrorCode::AccessDenied,
            "unsupported_response_type" => ErrorCode::UnsupportedResponseType,
            "server_error" => ErrorCode::ServerError,
            "temporarily_unavailable" => ErrorCode::TemporarilyUnavailable,
            "unsupported_token_type" => ErrorCode::UnsupportedTokenType,
            "authorization_pending" => ErrorCode::AuthorizationPending,
            "slow_down" => ErrorCode::SlowDown,
            "expired_token" => ErrorCode::ExpiredToken,
            other => ErrorCode::Other(other.to_owned()),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::Other(other) => other,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error response (RFC 6749 §5.2).
///
/// Server-supplied text is cleaned when parsed: control characters are
/// dropped and each field is cut to [`ErrorResponse::MAX_TEXT`] bytes, so it
/// is safe to log or print on a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The `error` code.
    pub error: ErrorCode,
    /// `error_description`, if the server sent one.
    pub description: Option<String>,
    /// `error_uri`, if the server sent one.
    pub uri: Option<String>,
    /// The HTTP status the error came with (GitHub sends errors with 200).
    pub status: u16,
}

impl ErrorResponse {
    /// The longest `error_description` or `error_uri` kept, in bytes.
    pub const MAX_TEXT: usize = 1024;

    /// Builds an error response; text fields are cleaned as described on the type.
    pub fn new(
        error: ErrorCode,
        description: Option<&str>,
        uri: Option<&str>,
        status: u16,
    ) -> Self {
        let error = match error {
            ErrorCode::Other(code) => ErrorCode::Other(clean_text(&code, Self::MAX_TEXT)),
            known => known,
        };
        ErrorResponse {
            error,
            description: description.map(|d| clean_text(d, Self::MAX_TEXT)),
            uri: uri.map(|u| clean_text(u, Self::MAX_TEXT)),
            status,
        }
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorResponse {}

/// A response that is neither a valid success nor a valid error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MalformedResponse {
    /// The HTTP status of the response.
    pub status: u16,
    /// What was wrong, naming the field when there is one. Never contains a
    /// value taken from the body.
    pub reason: String,
    /// At most [`MalformedResponse::MAX_EXCERPT`] bytes of the start of the
    /// body, control characters removed. `None` when the body was empty or
    /// might hold a credential: it is JSON, mentions a token, secret, password
    /// or code, or holds a run of 20 or more token characters.
    pub excerpt: Option<String>,
}

impl MalformedResponse {
    /// The longest excerpt kept, in bytes.
    pub const MAX_EXCERPT: usize = 96;

    /// A malformed response whose body is not quoted at all.
    pub(crate) fn without_excerpt(status: u16, reason: impl Into<String>) -> Self {
        MalformedResponse {
            status,
            reason: reason.into(),
            excerpt: None,
        }
    }

    /// A malformed response quoting the start of `body`, unless the body
    /// might contain a credential.
    pub(crate) fn with_excerpt(status: u16, reason: impl Into<String>, body: &[u8]) -> Self {
        MalformedResponse {
            status,
            reason: reason.into(),
            excerpt: safe_excerpt(body),
        }
    }
}

impl fmt::Display for MalformedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed response (http {}): {}",
            self.status, self.reason
        )?;
        if let Some(excerpt) = &self.excerpt {
            write!(f, "; body starts with {excerpt:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MalformedResponse {}

/// Words whose presence in a body means it may carry a credential, so no
/// excerpt of it is kept.
const SECRET_MARKERS: [&str; 5] = ["token", "secret", "password", "code", "assertion"];

/// A run of this many token characters (base64url, base64, JWT dots) looks
/// like an opaque token or a JWT, so a body holding one is not quoted.
const TOKEN_LIKE_RUN: usize = 20;

fn safe_excerpt(body: &[u8]) -> Option<String> {
    // A body that names a credential anywhere is never quoted. Then: only
    // the start of the body can be quoted; look at a little more than that,
    // so a token that straddles the cut is still seen. Control characters go
    // first: removed, they would join the pieces of a token or a marker word
    // that the checks below must see whole.
    let anywhere = String::from_utf8_lossy(body).to_ascii_lowercase();
    if SECRET_MARKERS
        .iter()
        .any(|marker| anywhere.contains(marker))
    {
        return None;
    }
    let window = MalformedResponse::MAX_EXCERPT + TOKEN_LIKE_RUN;
    let head = body.get(..window * 4).unwrap_or(body);
    let text = clean_text(String::from_utf8_lossy(head).trim(), window);
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let json_like = text.starts_with(['"', '[', '{']);
    if json_like
        || SECRET_MARKERS.iter().any(|marker| lower.contains(marker))
        || has_token_like_run(text)
    {
        return None;
    }
    let excerpt = clean_text(text, MalformedResponse::MAX_EXCERPT);
    (!excerpt.is_empty()).then_some(excerpt)
}

fn has_token_like_run(text: &str) -> bool {
    let mut run = 0;
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
        {
            run += 1;
            if run >= TOKEN_LIKE_RUN {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Drops control characters and cuts `text` to at most `max` bytes on a
/// character boundary.
pub(crate) fn clean_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip() {
        for code in [
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "access_denied",
            "unsupported_response_type",
            "server_error",
            "temporarily_unavailable",
            "unsupported_token_type",
            "authorization_pending",
            "slow_down",
            "expired_token",
            "use_dpop_nonce",
        ] {
            assert_eq!(ErrorCode::from_wire(code).as_str(), code);
        }
        assert_eq!(
            ErrorCode::from_wire("use_dpop_nonce"),
            ErrorCode::Other("use_dpop_nonce".into())
        );
    }

    #[test]
    fn error_response_text_is_cleaned_and_bounded() {
        let long = "x".repeat(5000);
        let response = ErrorResponse::new(
            ErrorCode::from_wire("weird\u{1b}[31m"),
            Some(&format!("bad\u{1b}[2J\r\n{long}")),
            Some("https://example.com/\u{7}err"),
            400,
        );
        assert_eq!(response.error.as_str(), "weird[31m");
        let description = response.description.unwrap();
        assert!(description.starts_with("bad[2Jxxx"));
        assert_eq!(description.len(), ErrorResponse::MAX_TEXT);
        assert_eq!(response.uri.as_deref(), Some("https://example.com/err"));
    }

    #[test]
    fn a_marker_word_anywhere_in_the_body_withholds_the_excerpt() {
        let mut body = "<html>".repeat(100).into_bytes();
        body.extend_from_slice(b"invalid TOKEN");
        assert_eq!(
            MalformedResponse::with_excerpt(500, "x", &body).excerpt,
            None
        );
    }

    #[test]
    fn tokens_straddling_the_excerpt_cut_are_seen() {
        let mut body = "x "
            .repeat(MalformedResponse::MAX_EXCERPT / 2 - 4)
            .into_bytes();
        body.extend_from_slice(b"2YotnFZFEjr1zCsicMWpAA");
        assert_eq!(
            MalformedResponse::with_excerpt(500, "x", &body).excerpt,
            None
        );
    }

    #[test]
    fn excerpt_is_bounded_and_cleaned() {
        let body = format!("<html>\n<body>{}</body>", "é".repeat(200));
        let malformed = MalformedResponse::with_excerpt(502, "not json", body.as_bytes());
        let excerpt = malformed.excerpt.unwrap();
        assert!(excerpt.len() <= MalformedResponse::MAX_EXCERPT);
        assert!(excerpt.starts_with("<html><body>é"));
    }

    #[test]
    fn excerpt_is_withheld_when_body_may_hold_a_secret() {
        for body in [
            &b"{\"access_token\":\"abc"[..],
            b"refresh_TOKEN=zzz",
            b"client_secret mismatch",
            b"\"2YotnFZFEjr1zCsicMWpAA\"",
            b"unauthorized: 2YotnFZFEjr1zCsicMWpAA",
            b"eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl",
            // Control characters must not split a token or a word past the checks.
            b"<html>Bearer 2YotnFZFEj\x00r1zCsicMWpAA rejected</html>",
            b"<html>Invalid pass\x07word</html>",
        ] {
            assert_eq!(
                MalformedResponse::with_excerpt(200, "x", body).excerpt,
                None
            );
        }
        assert_eq!(
            MalformedResponse::with_excerpt(200, "x", b"  \n ").excerpt,
            None
        );
    }

    #[test]
    fn messages_are_lower_case_without_trailing_period() {
        let errors = [
            Error::OAuth(ErrorResponse::new(
                ErrorCode::InvalidClient,
                None,
                None,
                401,
            )),
            Error::MalformedResponse(MalformedResponse::without_excerpt(500, "empty body")),
            Error::InsecureUrl {
                url: "http://example.com/".into(),
            },
            Error::InvalidUrl {
                reason: "not a url",
            },
            Error::InvalidScopeToken,
            Error::ReservedParameter {
                name: "grant_type".into(),
            },
            Error::PublicClientNotAllowed {
                grant: "client_credentials",
            },
            Error::MissingEndpoint {
                endpoint: "token_endpoint",
            },
            Error::UnexpectedCall {
                flow: "client credentials",
                call: "handle_response before start",
            },
        ];
        for error in errors {
            let message = error.to_string();
            let first = message.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }
}
