//! The one error type of the core, and the check enums it carries.
//!
//! The user-facing documentation is on [`Error`].

use core::fmt;

use crate::alg::Algorithm;
use crate::time::UnixTime;

/// The longest compact JWS accepted, in bytes ([`CompactJws::MAX_LEN`](crate::CompactJws::MAX_LEN)).
pub(crate) const MAX_JWS_LEN: usize = 64 * 1024;

/// Everything that can go wrong in the core. See [`Error::kind`] and
/// the table below.
///
/// [`Error`] keeps five families apart, because a caller reacts to each
/// differently; [`Error::kind`] sorts every error into one of them:
///
/// | [`ErrorKind`] | what happened | what a caller does |
/// |---|---|---|
/// | [`Refused`](ErrorKind::Refused) | the server said no: [`Error::OAuth`] with an RFC 6749 §5.2 [`ErrorResponse`] (`invalid_client`, `invalid_grant`, …) | show it, or act on [`ErrorResponse::error`] |
/// | [`Malformed`](ErrorKind::Malformed) | the server answered nonsense: [`Error::MalformedResponse`] with the status, what was wrong and at most a short excerpt that cannot hold a secret | report it; retrying will not help |
/// | [`CheckFailed`](ErrorKind::CheckFailed) | a security check failed: `state`, `iss`, a signature, an expired ID token… each its own variant | refuse the sign-in; never retry blindly |
/// | [`Misuse`](ErrorKind::Misuse) | the caller misused the API: a bad URL, a missing endpoint, a public client asking for a confidential grant, a flow driven out of order | fix the code or the configuration |
/// | [`Retryable`](ErrorKind::Retryable) | the server is in trouble: a 5xx, `temporarily_unavailable` or `server_error` | retry later (adapters add transport errors here) |
///
/// Messages are lower-case without a trailing period, and never contain a
/// secret. Adapters wrap this type and add their transport errors.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// A configured endpoint URL already carries a parameter the flow sets
    /// itself (`state`, `response_type`, `code_challenge`, …): the request
    /// would carry it twice, the configured value first.
    EndpointParameterConflict {
        /// Which endpoint, e.g. `"authorization_endpoint"`.
        endpoint: &'static str,
        /// The parameter.
        name: String,
    },
    /// Scope `openid` asked for through [`Client::authorize`](crate::Client::authorize):
    /// OpenID Connect sign-in goes through [`Client::sign_in`](crate::Client::sign_in),
    /// which sends a `nonce` and validates the ID token.
    OpenIdNeedsSignIn,
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
    MetadataIssuerMismatch {
        /// The issuer configured.
        expected: String,
        /// The issuer the document names (cleaned and cut short).
        found: String,
    },
    /// A JWS (an ID token, a signed UserInfo response) failed to parse or verify.
    Jws(JwsError),
    /// An ID token's claims failed validation (OIDC Core §3.1.3.7).
    IdToken(IdTokenError),
    /// The authorization response failed a check (RFC 6749 §4.1.2, RFC 9207).
    Callback(CallbackError),
    /// A signed UserInfo response failed a claim check (OIDC Core §5.3.2:
    /// `iss`, `aud`, or a claim of the wrong type).
    UserInfo(IdTokenError),
    /// The UserInfo `sub` differs from the expected one: the ID token's, or
    /// the one a restored session stored (OIDC Core §5.3.2).
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
    IssuerNotConfigured,
    /// A token of a type the client does not understand (RFC 6749 §7.1: the
    /// client must not use it): a token endpoint answer with a `token_type`
    /// other than `Bearer` (or `DPoP` for a client with a DPoP key, or a
    /// type the caller accepted), or a non-`Bearer` token sent to UserInfo.
    UnsupportedTokenType {
        /// The type, as the server named it.
        token_type: String,
    },
    /// A sealed value (an encrypted cookie) could not be made or opened.
    Seal(SealError),
    /// The token session has ended (its grant was refused or revoked, or
    /// the user logged out): clear what was stored and sign in again.
    SessionEnded,
    /// The device code expired before the user approved the request
    /// (RFC 8628 §3.5): no further poll is sent after this instant.
    DeviceCodeExpired {
        /// When the device code expired (`expires_in` after the device
        /// authorization response).
        expired_at: UnixTime,
    },
    /// The provider requires pushed authorization requests (RFC 9126 §5,
    /// `require_pushed_authorization_requests`), so a URL the browser
    /// carries would be refused: push the request instead
    /// ([`SignInRequest::push`](crate::SignInRequest::push),
    /// [`SignInRequest::begin_or_push`](crate::SignInRequest::begin_or_push)).
    PushedAuthorizationRequired,
    /// A JWS the client signs (a JWT client assertion, RFC 7523; a DPoP
    /// proof, RFC 9449) could not be signed.
    Sign(SignError),
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
            Error::EndpointParameterConflict { endpoint, name } => write!(
                f,
                "the {endpoint} url already carries {name:?}, which the flow sets itself"
            ),
            Error::OpenIdNeedsSignIn => f.write_str(
                "scope openid goes through sign_in, which sends a nonce and validates the id token",
            ),
            Error::PublicClientNotAllowed { grant } => write!(
                f,
                "a public client (no client authentication) cannot use the {grant} grant"
            ),
            Error::MissingEndpoint { endpoint } => {
                write!(f, "the client has no {endpoint} configured")
            }
            Error::UnexpectedCall { flow, call } => write!(f, "{flow}: unexpected {call}"),
            Error::InvalidIssuer { reason } => write!(f, "invalid issuer identifier: {reason}"),
            Error::MetadataIssuerMismatch { expected, found } => write!(
                f,
                "discovery document is for issuer \"{found}\", not the configured \"{expected}\""
            ),
            Error::Jws(error) => write!(f, "jws: {error}"),
            Error::IdToken(error) => write!(f, "id token rejected: {error}"),
            Error::Callback(error) => write!(f, "authorization response rejected: {error}"),
            Error::UserInfo(error) => write!(f, "signed userinfo rejected: {error}"),
            Error::UserInfoSubjectMismatch => {
                f.write_str("userinfo sub differs from the expected sub")
            }
            Error::InvalidRedirectUri { reason } => write!(f, "invalid redirect uri: {reason}"),
            Error::InvalidPkceVerifier => {
                f.write_str("a pkce verifier needs 32 to 96 random octets (43 to 128 characters)")
            }
            Error::IssuerNotConfigured => f.write_str(
                "scope openid needs a client with an issuer (use discovery or with_issuer)",
            ),
            Error::UnsupportedTokenType { token_type } => {
                write!(f, "token type \"{token_type}\" is not one this client understands")
            }
            Error::Seal(error) => write!(f, "sealed value: {error}"),
            Error::SessionEnded => {
                f.write_str("the token session has ended: clear stored tokens and sign in again")
            }
            Error::DeviceCodeExpired { expired_at } => write!(
                f,
                "the device code expired at {expired_at} before the user approved the request"
            ),
            Error::PushedAuthorizationRequired => f.write_str(
                "the provider requires pushed authorization requests (rfc 9126): push the request",
            ),
            Error::Sign(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::OAuth(response) => Some(response),
            Error::MalformedResponse(malformed) => Some(malformed),
            Error::Jws(error) => Some(error),
            Error::IdToken(error) | Error::UserInfo(error) => Some(error),
            Error::Callback(error) => Some(error),
            Error::Seal(error) => Some(error),
            Error::Sign(error) => Some(error),
            _ => None,
        }
    }
}

/// The family of an [`Error`]: what the caller can do about it. See the
/// [`Error`] docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server said no (an OAuth error response).
    Refused,
    /// The server answered nonsense.
    Malformed,
    /// A security check failed.
    CheckFailed,
    /// The caller misused the API or the client is misconfigured.
    Misuse,
    /// The server is in trouble or the network failed: trying again later
    /// may succeed.
    Retryable,
}

impl Error {
    /// Sorts this error into the family a caller acts on.
    ///
    /// An OAuth error is [`ErrorKind::Retryable`] when its code is
    /// `temporarily_unavailable` or `server_error`, or it came with a 5xx;
    /// a malformed response is retryable when its status is 5xx (a proxy's
    /// HTML error page, an overloaded server).
    ///
    /// ```
    /// use grantflow::{Error, ErrorCode, ErrorKind, ErrorResponse};
    ///
    /// let refused = Error::OAuth(ErrorResponse::new(ErrorCode::InvalidGrant, None, None, Some(400)));
    /// assert_eq!(refused.kind(), ErrorKind::Refused);
    /// assert_eq!(refused.oauth_code(), Some(&ErrorCode::InvalidGrant));
    /// let busy = Error::OAuth(ErrorResponse::new(ErrorCode::TemporarilyUnavailable, None, None, Some(503)));
    /// assert_eq!(busy.kind(), ErrorKind::Retryable);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::OAuth(response) => {
                let server_trouble = matches!(
                    response.error,
                    ErrorCode::TemporarilyUnavailable | ErrorCode::ServerError
                ) || response.status.is_some_and(|status| status >= 500);
                if server_trouble {
                    ErrorKind::Retryable
                } else {
                    ErrorKind::Refused
                }
            }
            Error::MalformedResponse(malformed) if malformed.status >= 500 => ErrorKind::Retryable,
            Error::MalformedResponse(_) => ErrorKind::Malformed,
            Error::MetadataIssuerMismatch { .. }
            | Error::Jws(_)
            | Error::IdToken(_)
            | Error::Callback(_)
            | Error::UserInfo(_)
            | Error::UserInfoSubjectMismatch
            | Error::UnsupportedTokenType { .. } => ErrorKind::CheckFailed,
            Error::Seal(SealError::TooLarge { .. } | SealError::Unserializable) => {
                ErrorKind::Misuse
            }
            Error::Seal(_) => ErrorKind::CheckFailed,
            Error::SessionEnded | Error::DeviceCodeExpired { .. } => ErrorKind::Refused,
            Error::InsecureUrl { .. }
            | Error::InvalidUrl { .. }
            | Error::InvalidScopeToken
            | Error::ReservedParameter { .. }
            | Error::PublicClientNotAllowed { .. }
            | Error::MissingEndpoint { .. }
            | Error::UnexpectedCall { .. }
            | Error::InvalidIssuer { .. }
            | Error::InvalidRedirectUri { .. }
            | Error::InvalidPkceVerifier
            | Error::IssuerNotConfigured
            | Error::EndpointParameterConflict { .. }
            | Error::OpenIdNeedsSignIn
            | Error::PushedAuthorizationRequired => ErrorKind::Misuse,
            // A key store or HSM that did not answer may answer later.
            Error::Sign(SignError::Failed { .. }) => ErrorKind::Retryable,
            Error::Sign(_) => ErrorKind::Misuse,
        }
    }

    /// The OAuth error response, when the server said no.
    pub fn oauth_error(&self) -> Option<&ErrorResponse> {
        match self {
            Error::OAuth(response) => Some(response),
            _ => None,
        }
    }

    /// The OAuth error code, when the server said no: the one value most
    /// callers branch on (`invalid_grant` ends a session, `slow_down` slows
    /// polling, …).
    pub fn oauth_code(&self) -> Option<&ErrorCode> {
        self.oauth_error().map(|response| &response.error)
    }
}

impl From<ErrorResponse> for Error {
    fn from(response: ErrorResponse) -> Self {
        Error::OAuth(response)
    }
}

impl From<SignError> for Error {
    fn from(error: SignError) -> Self {
        Error::Sign(error)
    }
}

impl From<JwsError> for Error {
    fn from(error: JwsError) -> Self {
        Error::Jws(error)
    }
}

impl From<IdTokenError> for Error {
    fn from(error: IdTokenError) -> Self {
        Error::IdToken(error)
    }
}

impl From<CallbackError> for Error {
    fn from(error: CallbackError) -> Self {
        Error::Callback(error)
    }
}

impl From<MalformedResponse> for Error {
    fn from(malformed: MalformedResponse) -> Self {
        Error::MalformedResponse(malformed)
    }
}

/// An OAuth error code: RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009
/// §2.2.1, RFC 8628 §3.5, RFC 8707, RFC 9449 and OIDC Core §3.1.2.6, with
/// [`ErrorCode::Other`] for everything else.
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
    /// `invalid_target` (RFC 8707 §2)
    InvalidTarget,
    /// `invalid_token` (RFC 6750 §3.1)
    InvalidToken,
    /// `insufficient_scope` (RFC 6750 §3.1)
    InsufficientScope,
    /// `login_required` (OIDC Core §3.1.2.6)
    LoginRequired,
    /// `consent_required` (OIDC Core §3.1.2.6)
    ConsentRequired,
    /// `interaction_required` (OIDC Core §3.1.2.6)
    InteractionRequired,
    /// `account_selection_required` (OIDC Core §3.1.2.6)
    AccountSelectionRequired,
    /// `use_dpop_nonce` (RFC 9449 §8)
    UseDpopNonce,
    /// `invalid_dpop_proof` (RFC 9449 §5)
    InvalidDpopProof,
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
            "invalid_target" => ErrorCode::InvalidTarget,
            "invalid_token" => ErrorCode::InvalidToken,
            "insufficient_scope" => ErrorCode::InsufficientScope,
            "login_required" => ErrorCode::LoginRequired,
            "consent_required" => ErrorCode::ConsentRequired,
            "interaction_required" => ErrorCode::InteractionRequired,
            "account_selection_required" => ErrorCode::AccountSelectionRequired,
            "use_dpop_nonce" => ErrorCode::UseDpopNonce,
            "invalid_dpop_proof" => ErrorCode::InvalidDpopProof,
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
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::AccountSelectionRequired => "account_selection_required",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
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
/// Server-supplied text is cleaned when parsed: control and invisible
/// characters, `"` and `\` are escaped visibly (`\r`, `\u{1b}`), and each
/// field is cut to [`ErrorResponse::MAX_TEXT`] bytes with `…(+N bytes)`
/// marking the cut, so it is safe to log or print on a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The `error` code.
    pub error: ErrorCode,
    /// `error_description`, if the server sent one.
    pub description: Option<String>,
    /// `error_uri`, if the server sent one.
    pub uri: Option<String>,
    /// The HTTP status the error came with (GitHub sends errors with 200);
    /// `None` for an error returned in the authorization redirect, which
    /// has no status of its own.
    pub status: Option<u16>,
}

impl ErrorResponse {
    /// The longest `error_description` or `error_uri` kept, in bytes.
    pub const MAX_TEXT: usize = 1024;

    /// Builds an error response; text fields are cleaned as described on the type.
    pub fn new(
        error: ErrorCode,
        description: Option<&str>,
        uri: Option<&str>,
        status: Option<u16>,
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
    /// The start of the body: at most [`MalformedResponse::MAX_EXCERPT`]
    /// bytes of it, control and invisible characters escaped visibly (`\r`,
    /// `\u{1b}`), and `…(+N bytes)` when it goes on. `None` when the body was empty or
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
            write!(f, "; body starts with \"{excerpt}\"")?;
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
    let head = String::from_utf8_lossy(head);
    let stripped = strip_controls(head.trim(), window);
    let stripped = stripped.trim();
    let lower = stripped.to_ascii_lowercase();
    let json_like = stripped.starts_with(['"', '[', '{']);
    if json_like
        || SECRET_MARKERS.iter().any(|marker| lower.contains(marker))
        || has_token_like_run(stripped)
    {
        return None;
    }
    let excerpt = clean_text(head.trim(), MalformedResponse::MAX_EXCERPT);
    // An escape (`\r` is a backslash and an `r`) can join token characters
    // into a longer run than the body had, or spell a marker word (a tab
    // before `oken` shows as `\token`): what is shown is checked too.
    let shown = excerpt.to_ascii_lowercase();
    if has_token_like_run(&excerpt) || SECRET_MARKERS.iter().any(|marker| shown.contains(marker)) {
        return None;
    }
    (!excerpt.is_empty()).then_some(excerpt)
}

/// The member names of a server's document, as `Debug` shows them: a name
/// holding a token-like run or one of `secrets` (the document's own tokens)
/// is shown as `<withheld>`, so a server that names a member after a token
/// does not put it into logs.
pub(crate) fn member_names<'a>(
    names: impl Iterator<Item = &'a String>,
    secrets: &[&str],
) -> Vec<&'a str> {
    names
        .map(|name| {
            if may_hold_secret(name, secrets) {
                "<withheld>"
            } else {
                name.as_str()
            }
        })
        .collect()
}

/// Whether a server's text may hold a token: one of `secrets`, or a
/// token-like run, raw or once escaped for display (an escape can join
/// token characters into a longer run).
pub(crate) fn may_hold_secret(text: &str, secrets: &[&str]) -> bool {
    secrets
        .iter()
        .any(|secret| !secret.is_empty() && text.contains(secret))
        || has_token_like_run(text)
        || has_token_like_run(&clean_text(text, usize::MAX))
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

/// Withholds a secret the request carried (`token`: a token, a code, a
/// verifier, the client secret) from a response error: a server that echoes the token
/// in an `error_description`, an `error_uri`, a non-standard error code, a
/// repeated member name or the body an excerpt quotes would otherwise put
/// the secret into logs. The text holding it is dropped (a description or
/// URI becomes `None`, an excerpt is withheld, a reason or code is replaced
/// by a fixed one); the token is also looked for with its control
/// characters escaped, as cleaned server text would show it. Every flow
/// passes each error a response gave it through here with its secrets.
pub(crate) fn withhold(error: Error, token: &str) -> Error {
    // As an error would quote it: escaped, and never cut short here.
    let cleaned = clean_text(token, usize::MAX);
    let leaks = |text: &str| {
        (!token.is_empty() && text.contains(token))
            || (!cleaned.is_empty() && text.contains(cleaned.as_str()))
    };
    match error {
        Error::OAuth(mut response) => {
            if response.description.as_deref().is_some_and(leaks) {
                response.description = None;
            }
            if response.uri.as_deref().is_some_and(leaks) {
                response.uri = None;
            }
            if matches!(&response.error, ErrorCode::Other(code) if leaks(code)) {
                response.error = ErrorCode::Other(WITHHELD.to_owned());
            }
            Error::OAuth(response)
        }
        Error::MalformedResponse(mut malformed) => {
            if malformed.excerpt.as_deref().is_some_and(leaks) {
                malformed.excerpt = None;
            }
            if leaks(&malformed.reason) {
                malformed.reason = format!(
                    "http {} response that quotes the token (details withheld)",
                    malformed.status
                );
            }
            Error::MalformedResponse(malformed)
        }
        Error::UnsupportedTokenType { token_type } if leaks(&token_type) => {
            Error::UnsupportedTokenType {
                token_type: WITHHELD.to_owned(),
            }
        }
        Error::Jws(mut error) => {
            withhold_jws(&mut error, &leaks);
            Error::Jws(error)
        }
        Error::IdToken(mut error) => {
            withhold_claims(&mut error, &leaks);
            Error::IdToken(error)
        }
        Error::UserInfo(mut error) => {
            withhold_claims(&mut error, &leaks);
            Error::UserInfo(error)
        }
        other => other,
    }
}

/// What [`withhold`] puts in place of a server value that quoted the token.
const WITHHELD: &str = "<withheld: it quoted the token>";

/// The server values a JWS error quotes (header names, `alg`, `kid`),
/// withheld when they quote the token.
fn withhold_jws(error: &mut JwsError, leaks: &dyn Fn(&str) -> bool) {
    let value = match error {
        JwsError::DuplicateHeader { name } | JwsError::UnknownCritical { name } => name,
        JwsError::UnsupportedAlgorithm { alg } => alg,
        JwsError::NoMatchingKey { kid: Some(kid) } => kid,
        _ => return,
    };
    withhold_value(value, leaks);
}

/// `value` replaced by [`WITHHELD`] when it quotes the token.
fn withhold_value(value: &mut String, leaks: &dyn Fn(&str) -> bool) {
    if leaks(value) {
        WITHHELD.clone_into(value);
    }
}

/// The server values an ID token or signed UserInfo error quotes (a claim
/// name, `iss`, an audience, `typ`, `acr`), withheld when they quote the
/// token.
fn withhold_claims(error: &mut IdTokenError, leaks: &dyn Fn(&str) -> bool) {
    let value = match error {
        IdTokenError::DuplicateClaim { claim } => claim,
        IdTokenError::IssuerMismatch { found, .. } => found,
        IdTokenError::UntrustedAudience { audience } => audience,
        IdTokenError::WrongJwtType { typ } => typ,
        IdTokenError::AcrMismatch { found: Some(found) } => found,
        _ => return,
    };
    withhold_value(value, leaks);
}

/// A server value made safe to quote in an error: control characters,
/// Unicode bidi and invisible format characters, `"` and `\` are escaped
/// visibly (`\r`, `\n`, `\t`, `\"`, `\\`, `\u{1b}`), so a quoted value
/// cannot rewrite a terminal or a log line and two different values never
/// print the same; printable text stays as it is. The result is at most
/// `max` bytes (for any `max` of 32 or more): a value that does not fit is
/// cut on a character boundary and ends with `…(+N bytes)`, the count of
/// bytes of the value left out, so a cut is never mistaken for the whole.
///
/// Display it between plain quotes (`"{value}"`), not with `{:?}`, which
/// would escape the escapes again.
pub(crate) fn clean_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    let mut piece = String::with_capacity(12);
    // Room for the mark of a cut, whatever the count in it.
    let mark_room = "…(+ bytes)".len() + text.len().to_string().len();
    let mut cut = None;
    for (at, c) in text.char_indices() {
        piece.clear();
        match c {
            '\\' => piece.push_str("\\\\"),
            '"' => piece.push_str("\\\""),
            '\r' => piece.push_str("\\r"),
            '\n' => piece.push_str("\\n"),
            '\t' => piece.push_str("\\t"),
            c if c.is_control() || is_invisible_format(c) => {
                piece.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => piece.push(c),
        }
        if cut.is_none() && out.len() + piece.len() + mark_room > max {
            // From here on the value may not fit: remember where the part
            // that surely leaves room for the mark ends.
            cut = Some((out.len(), at));
        }
        if out.len() + piece.len() > max {
            let (keep, at) = cut.unwrap_or((out.len(), at));
            out.truncate(keep);
            out.push_str(&format!("…(+{} bytes)", text.len() - at));
            return out;
        }
        out.push_str(&piece);
    }
    out
}

/// The characters that change how text around them displays without
/// showing themselves: bidi marks, embeddings, overrides and isolates
/// (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), zero-width characters
/// (U+200B–U+200D, U+2060, U+FEFF) and the soft hyphen (U+00AD).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// Drops control characters and cuts `text` to at most `max` bytes on a
/// character boundary: for looking for secrets in a body, where a control
/// character must not split a token into pieces too short to be noticed.
fn strip_controls(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// A JWS or JWK set could not be used. Each check has its own variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwsError {
    /// The token is longer than [`CompactJws::MAX_LEN`](crate::CompactJws::MAX_LEN) bytes.
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The token has five segments: an encrypted JWT (JWE), which is not supported.
    Encrypted,
    /// The token is not three base64url segments with a JSON object header.
    Malformed {
        /// What was wrong (never quotes the token).
        reason: &'static str,
    },
    /// A JOSE header parameter appears twice (RFC 7515 §4, RFC 7519 §4).
    DuplicateHeader {
        /// The parameter.
        name: String,
    },
    /// The header has no `alg`, or it is not a string.
    MissingAlgorithm,
    /// `alg` is `none` (in any case): the token is unsigned.
    Unsigned,
    /// `alg` names an algorithm this crate does not implement.
    UnsupportedAlgorithm {
        /// The name, cleaned and cut short.
        alg: String,
    },
    /// `alg` is one this crate implements but the caller's policy does not
    /// allow; also returned by the `verify_*` methods when asked to verify
    /// with an algorithm other than the header's (naming the header's), or
    /// when [`CompactJws::verify_hmac`](crate::CompactJws::verify_hmac) is given a public-key algorithm.
    AlgorithmNotAllowed {
        /// The algorithm.
        alg: Algorithm,
    },
    /// The header lists a `crit` extension this crate does not understand
    /// (RFC 7515 §4.1.11), or `crit` is malformed.
    UnknownCritical {
        /// The first such name, cleaned and cut short.
        name: String,
    },
    /// No key in the key set has this `kid` (or, without a `kid`, none fits
    /// the algorithm).
    NoMatchingKey {
        /// The `kid` the header asked for.
        kid: Option<String>,
    },
    /// An HMAC-signed token, and the policy does not allow HMAC.
    HmacNotAllowed,
    /// An HMAC key (the client secret) shorter than the algorithm requires:
    /// the hash output size, 32, 48 or 64 octets for HS256, HS384 or HS512
    /// (RFC 7518 §3.2).
    HmacKeyTooShort {
        /// The key's length in octets.
        len: usize,
    },
    /// The signature does not verify with any candidate key.
    BadSignature,
}

impl fmt::Display for JwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwsError::TooLong { len } => write!(
                f,
                "token is {len} bytes long, more than the {MAX_JWS_LEN} accepted"
            ),
            JwsError::Encrypted => f.write_str("token is encrypted (jwe), which is not supported"),
            JwsError::Malformed { reason } => write!(f, "malformed token: {reason}"),
            JwsError::DuplicateHeader { name } => {
                write!(f, "header parameter \"{name}\" appears more than once")
            }
            JwsError::MissingAlgorithm => f.write_str("header has no alg string"),
            JwsError::Unsigned => f.write_str("token is unsigned (alg none)"),
            JwsError::UnsupportedAlgorithm { alg } => write!(f, "unsupported algorithm \"{alg}\""),
            JwsError::AlgorithmNotAllowed { alg } => write!(f, "algorithm {alg} is not allowed"),
            JwsError::UnknownCritical { name } => {
                write!(f, "unsupported critical header parameter \"{name}\"")
            }
            JwsError::NoMatchingKey { kid: Some(kid) } => {
                write!(f, "no key with kid \"{kid}\" fits the algorithm")
            }
            JwsError::NoMatchingKey { kid: None } => f.write_str("no key fits the algorithm"),
            JwsError::HmacNotAllowed => f.write_str("hmac-signed token, and hmac is not allowed"),
            JwsError::HmacKeyTooShort { len } => write!(
                f,
                "hmac key is {len} octets, shorter than the algorithm requires"
            ),
            JwsError::BadSignature => f.write_str("signature does not verify"),
        }
    }
}

impl std::error::Error for JwsError {}

/// An ID token claim check failed (OIDC Core §3.1.3.7). Each check has its
/// own variant. Server-supplied values quoted here are cleaned of control
/// characters and cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenError {
    /// The payload is not a JSON object.
    Malformed {
        /// What was wrong.
        reason: &'static str,
    },
    /// A claim appears twice in the payload (RFC 7519 §4).
    DuplicateClaim {
        /// The claim.
        claim: String,
    },
    /// A required claim is absent (`iss`, `sub`, `aud`, `exp`, `iat`, or
    /// `nonce`/`auth_time` when the request asked for them).
    MissingClaim {
        /// The claim.
        claim: &'static str,
    },
    /// A claim has the wrong JSON type (`"exp": "123"`): never read as absent.
    WrongClaimType {
        /// The claim.
        claim: &'static str,
    },
    /// A time claim is negative, not finite or too large to compute with.
    ClaimOutOfRange {
        /// The claim.
        claim: &'static str,
    },
    /// `iss` is not exactly the expected issuer (step 2).
    IssuerMismatch {
        /// The issuer expected.
        expected: String,
        /// The `iss` in the token.
        found: String,
    },
    /// `aud` does not contain the client id (step 3).
    AudienceMismatch,
    /// `aud` contains an audience that is neither the client nor configured
    /// as trusted (step 3).
    UntrustedAudience {
        /// The first such audience.
        audience: String,
    },
    /// `azp` is present and is not the client id (step 5, errata set 2).
    AuthorizedPartyMismatch,
    /// `exp` is not after `now` minus the leeway (step 9).
    Expired {
        /// `exp`.
        exp: UnixTime,
        /// The `now` the token was checked at.
        now: UnixTime,
    },
    /// `iat` is later than `now` plus the leeway (step 10).
    IssuedInFuture {
        /// `iat`.
        iat: UnixTime,
        /// The `now` the token was checked at.
        now: UnixTime,
    },
    /// `nbf` is later than `now` plus the leeway (RFC 7519 §4.1.5).
    NotYetValid {
        /// `nbf`.
        nbf: UnixTime,
        /// The `now` the token was checked at.
        now: UnixTime,
    },
    /// `nonce` differs from the one sent in the authorization request (step 11).
    NonceMismatch,
    /// `auth_time` is older than the `max_age` sent allows (step 13).
    AuthenticationTooOld {
        /// `auth_time`.
        auth_time: UnixTime,
        /// The `max_age` sent, in seconds.
        max_age: u64,
    },
    /// `at_hash` does not match the access token (OIDC Core §3.1.3.8).
    AccessTokenHashMismatch,
    /// `c_hash` does not match the authorization code (OIDC Core §3.3.2.11).
    CodeHashMismatch,
    /// The token response carried no `id_token`, though `openid` was
    /// requested (OIDC Core §3.1.3.3).
    NotReturned,
    /// The JOSE header's `typ` names another kind of JWT (an access token,
    /// `at+jwt`; a logout token; …), which must never pass as an ID token
    /// (RFC 8725 §3.11).
    WrongJwtType {
        /// The `typ`, cleaned and cut short.
        typ: String,
    },
    /// `acr` is not one of the `acr_values` requested, and the policy
    /// requires it to be (OIDC Core §3.1.3.7 step 12).
    AcrMismatch {
        /// The `acr` returned, if any (cleaned and cut short).
        found: Option<String>,
    },
    /// An ID token returned by a refresh names another end-user, issuer,
    /// audience, authorized party or authentication than the original one
    /// (OIDC Core §12.2).
    ChangedOnRefresh {
        /// The claim that differs: `iss`, `sub`, `aud`, `azp` or `auth_time`;
        /// or `iat`, when the new ID token is older than the one it replaces.
        claim: &'static str,
    },
}

impl fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdTokenError::Malformed { reason } => write!(f, "malformed claims: {reason}"),
            IdTokenError::DuplicateClaim { claim } => write!(f, "claim \"{claim}\" appears twice"),
            IdTokenError::MissingClaim { claim } => write!(f, "required claim {claim} is missing"),
            IdTokenError::WrongClaimType { claim } => {
                write!(f, "claim {claim} has the wrong json type")
            }
            IdTokenError::ClaimOutOfRange { claim } => {
                write!(f, "claim {claim} is out of range")
            }
            IdTokenError::IssuerMismatch { expected, found } => {
                write!(
                    f,
                    "iss \"{found}\" is not the expected issuer \"{expected}\""
                )
            }
            IdTokenError::AudienceMismatch => f.write_str("aud does not contain the client id"),
            IdTokenError::UntrustedAudience { audience } => {
                write!(f, "aud contains the untrusted audience \"{audience}\"")
            }
            IdTokenError::AuthorizedPartyMismatch => f.write_str("azp is not the client id"),
            IdTokenError::Expired { exp, now } => {
                write!(f, "expired at {exp} (checked at {now})")
            }
            IdTokenError::IssuedInFuture { iat, now } => {
                write!(f, "issued in the future at {iat} (checked at {now})")
            }
            IdTokenError::NotYetValid { nbf, now } => {
                write!(f, "not valid before {nbf} (checked at {now})")
            }
            IdTokenError::NonceMismatch => f.write_str("nonce does not match the request's"),
            IdTokenError::AuthenticationTooOld { auth_time, max_age } => write!(
                f,
                "auth_time {auth_time} is older than the max_age of {max_age}s allows"
            ),
            IdTokenError::AccessTokenHashMismatch => {
                f.write_str("at_hash does not match the access token")
            }
            IdTokenError::CodeHashMismatch => {
                f.write_str("c_hash does not match the authorization code")
            }
            IdTokenError::WrongJwtType { typ } => {
                write!(
                    f,
                    "typ \"{typ}\" names another kind of jwt, not an id token"
                )
            }
            IdTokenError::AcrMismatch { found: Some(acr) } => {
                write!(f, "acr \"{acr}\" is not one of the acr_values requested")
            }
            IdTokenError::AcrMismatch { found: None } => {
                f.write_str("acr is missing though acr_values were requested and required")
            }
            IdTokenError::ChangedOnRefresh { claim } => write!(
                f,
                "the refreshed id token's {claim} differs from the original id token's"
            ),
            IdTokenError::NotReturned => {
                f.write_str("the token response has no id_token though openid was requested")
            }
        }
    }
}

impl std::error::Error for IdTokenError {}

/// The authorization response (the redirect back to the client) failed a
/// check. Each check has its own variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackError {
    /// The redirect URL or query could not be parsed.
    InvalidUrl,
    /// A parameter appears more than once (RFC 6749 §3.1).
    DuplicateParameter {
        /// The parameter.
        name: String,
    },
    /// The response has no `state` (RFC 6749 §4.1.2).
    MissingState,
    /// `state` is not the one sent: a forged or replayed response (RFC 6749 §10.12).
    StateMismatch,
    /// The response has no `iss`, and the authorization server's metadata
    /// says it sends one (RFC 9207 §2.4).
    MissingIss,
    /// `iss` is not exactly the issuer the request was sent to: a mix-up
    /// attack (RFC 9207 §2.4).
    IssMismatch {
        /// The issuer the request was sent to.
        expected: String,
        /// The `iss` received (cleaned and cut short).
        found: String,
    },
    /// A success response without a `code`.
    MissingCode,
    /// An error response whose `error` has no printable character (RFC 6749
    /// §4.1.2.1 allows only printable ASCII).
    InvalidErrorCode,
    /// The client passed to the callback is not the one the request was
    /// begun with (another client id or issuer, RFC 9700 §4.4.2).
    WrongClient,
    /// The pending authorization is older than its maximum age (10 minutes
    /// by default): a stale or replayed session value.
    Expired {
        /// When the authorization request was begun.
        began_at: UnixTime,
        /// The `now` of the callback.
        now: UnixTime,
    },
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackError::InvalidUrl => f.write_str("the redirect url cannot be parsed"),
            CallbackError::DuplicateParameter { name } => {
                write!(f, "parameter {name:?} appears more than once")
            }
            CallbackError::MissingState => f.write_str("state is missing"),
            CallbackError::StateMismatch => {
                f.write_str("state does not match the request's (forged or replayed response)")
            }
            CallbackError::MissingIss => {
                f.write_str("iss is missing but the server's metadata says it is sent")
            }
            CallbackError::IssMismatch { expected, found } => write!(
                f,
                "iss \"{found}\" is not the issuer \"{expected}\" the request was sent to"
            ),
            CallbackError::MissingCode => f.write_str("code is missing"),
            CallbackError::InvalidErrorCode => {
                f.write_str("error is present but has no printable character")
            }
            CallbackError::Expired { began_at, now } => write!(
                f,
                "the authorization request begun at {began_at} is too old at {now}"
            ),
            CallbackError::WrongClient => {
                f.write_str("the client is not the one the authorization request was begun with")
            }
        }
    }
}

impl std::error::Error for CallbackError {}

/// A sealed value (an encrypted, authenticated cookie) could not be made or
/// opened. Each failure has its own variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// Not a sealed value of this format: bad encoding, wrong length or an
    /// unknown version.
    Malformed {
        /// What was wrong.
        reason: &'static str,
    },
    /// Sealed with another key (key rotation: try the previous key).
    WrongKey,
    /// Sealed for another purpose (a value made for one cookie presented as
    /// another).
    WrongPurpose,
    /// The ciphertext or its header was altered: authentication failed.
    Tampered,
    /// The sealed value's lifetime is over.
    Expired {
        /// When it expired.
        expired_at: UnixTime,
        /// The `now` it was opened at.
        now: UnixTime,
    },
    /// The sealed value would exceed the size limit (4096 bytes, what
    /// browsers keep of a cookie): store the session server-side and seal
    /// only its id.
    TooLarge {
        /// The sealed length, in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value could not be serialized.
    Unserializable,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::Malformed { reason } => write!(f, "malformed: {reason}"),
            SealError::WrongKey => f.write_str("sealed with another key"),
            SealError::WrongPurpose => f.write_str("sealed for another purpose"),
            SealError::Tampered => f.write_str("authentication failed: the value was altered"),
            SealError::Expired { expired_at, now } => {
                write!(f, "expired at {expired_at} (opened at {now})")
            }
            SealError::TooLarge { len, max } => write!(
                f,
                "{len} bytes sealed exceed the {max}-byte limit: store the session server-side and seal only its id"
            ),
            SealError::Unserializable => f.write_str("the value could not be serialized"),
        }
    }
}

impl std::error::Error for SealError {}

/// Why a key could not become a signer, or a JWS could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The private key was refused: not the expected encoding, length,
    /// algorithm or curve, or its parts do not belong together.
    InvalidKey {
        /// What was wrong, e.g. `"ed25519 seed is not 32 bytes"`.
        reason: &'static str,
    },
    /// The caller's header sets `alg` to something other than the signer's
    /// algorithm (RFC 7515 §4.1.1).
    AlgorithmMismatch {
        /// The signer's algorithm.
        signer: Algorithm,
        /// The header's `alg` as JSON, at most 32 characters.
        header: String,
    },
    /// The caller's header cannot describe the JWS this module produces.
    InvalidHeader {
        /// What was wrong, e.g. `"kid is not a string"`.
        reason: &'static str,
    },
    /// The signer returned a signature whose size does not fit its
    /// algorithm, e.g. a DER-encoded ECDSA signature where RFC 7518 §3.4
    /// wants the fixed-width `r || s`.
    SignatureLength {
        /// The signer's algorithm.
        algorithm: Algorithm,
        /// The number of bytes the signer returned.
        length: usize,
    },
    /// The signer could not sign (for a user's signer: a key store or an HSM
    /// that is unavailable, say).
    Failed {
        /// What failed, in the signer's words; never key material.
        reason: String,
    },
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::InvalidKey { reason } => write!(f, "invalid signing key: {reason}"),
            SignError::AlgorithmMismatch { signer, header } => {
                write!(
                    f,
                    "header alg {header} conflicts with the signer's {signer}"
                )
            }
            SignError::InvalidHeader { reason } => write!(f, "invalid jose header: {reason}"),
            SignError::SignatureLength { algorithm, length } => write!(
                f,
                "the {algorithm} signer returned a signature of {length} bytes, \
                 which does not fit the algorithm"
            ),
            SignError::Failed { reason } => write!(f, "signing failed: {reason}"),
        }
    }
}

impl std::error::Error for SignError {}

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
            "invalid_target",
            "invalid_token",
            "insufficient_scope",
            "login_required",
            "consent_required",
            "interaction_required",
            "account_selection_required",
            "use_dpop_nonce",
            "invalid_dpop_proof",
        ] {
            let parsed = ErrorCode::from_wire(code);
            assert!(!matches!(parsed, ErrorCode::Other(_)), "{code}");
            assert_eq!(parsed.as_str(), code);
        }
        assert_eq!(
            ErrorCode::from_wire("invalid_DPoP_proof"),
            ErrorCode::Other("invalid_DPoP_proof".into())
        );
    }

    #[test]
    fn quoted_values_that_differ_never_print_the_same() {
        // The discovery finding (issue 14): an issuer with a trailing CR
        // printed exactly like the expected one.
        let expected = "https://op.example.com/tenant/v2.0";
        let found = clean_text("https://op.example.com/tenant/v2.0\r", 256);
        assert_eq!(found, "https://op.example.com/tenant/v2.0\\r");
        assert_ne!(found, expected);
        // An escape spelled out by the server is not a control character.
        assert_ne!(clean_text("a\\rb", 64), clean_text("a\rb", 64));
        assert_eq!(clean_text("a\\rb", 64), "a\\\\rb");
        assert_eq!(clean_text("say \"hi\"", 64), "say \\\"hi\\\"");
        // Bidi overrides and zero-width characters show themselves.
        assert_eq!(
            clean_text("ab\u{202e}cd\u{200b}", 64),
            "ab\\u{202e}cd\\u{200b}"
        );
        assert_eq!(clean_text("\u{1b}[2J\t", 64), "\\u{1b}[2J\\t");
        // Printable text, non-ASCII included, is kept as it is.
        assert_eq!(clean_text("héllo wörld", 64), "héllo wörld");
    }

    #[test]
    fn a_cut_is_marked_and_stays_within_the_bound() {
        let long = "x".repeat(100);
        let cut = clean_text(&long, 40);
        assert!(cut.len() <= 40, "{cut}");
        assert!(cut.starts_with("xxxx"));
        // What is left out is counted, so two long values of different
        // lengths never print the same.
        let rest: usize = cut
            .rsplit("(+")
            .next()
            .and_then(|tail| tail.strip_suffix(" bytes)"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(rest + cut.find('…').unwrap(), 100);
        assert_ne!(clean_text(&"x".repeat(101), 40), cut);
        // Exactly at the bound: no mark.
        assert_eq!(clean_text(&"y".repeat(40), 40), "y".repeat(40));
        // Escapes count toward the bound and are never split.
        let escapes = clean_text(&"\u{1}".repeat(30), 40);
        assert!(
            escapes.len() <= 40 && escapes.starts_with("\\u{1}"),
            "{escapes}"
        );
        assert!(!escapes.contains("\\u{…"), "{escapes}");
    }

    #[test]
    fn error_response_text_is_cleaned_and_bounded() {
        let long = "x".repeat(5000);
        let response = ErrorResponse::new(
            ErrorCode::from_wire("weird\u{1b}[31m"),
            Some(&format!("bad\u{1b}[2J\r\n{long}")),
            Some("https://example.com/\u{7}err"),
            Some(400),
        );
        // Escaped visibly, never dropped: a terminal sees no escape sequence.
        assert_eq!(response.error.as_str(), "weird\\u{1b}[31m");
        let description = response.description.unwrap();
        assert!(
            description.starts_with("bad\\u{1b}[2J\\r\\nxxx"),
            "{description}"
        );
        assert!(description.len() <= ErrorResponse::MAX_TEXT);
        // The cut is marked with what was left out.
        assert!(description.ends_with(" bytes)"), "{description}");
        assert!(!description.contains('\u{1b}'));
        assert_eq!(
            response.uri.as_deref(),
            Some("https://example.com/\\u{7}err")
        );
    }

    #[test]
    fn withhold_covers_the_server_values_of_jws_id_token_and_userinfo_errors() {
        const TOKEN: &str = "SlAV32hkKG-secret";
        let quoting = format!("x{TOKEN}x");
        let errors = [
            Error::Jws(JwsError::DuplicateHeader {
                name: quoting.clone(),
            }),
            Error::Jws(JwsError::UnknownCritical {
                name: quoting.clone(),
            }),
            Error::Jws(JwsError::UnsupportedAlgorithm {
                alg: quoting.clone(),
            }),
            Error::Jws(JwsError::NoMatchingKey {
                kid: Some(quoting.clone()),
            }),
            Error::IdToken(IdTokenError::DuplicateClaim {
                claim: quoting.clone(),
            }),
            Error::IdToken(IdTokenError::IssuerMismatch {
                expected: "https://op.example.com".to_owned(),
                found: quoting.clone(),
            }),
            Error::UserInfo(IdTokenError::IssuerMismatch {
                expected: "https://op.example.com".to_owned(),
                found: quoting.clone(),
            }),
            Error::UserInfo(IdTokenError::UntrustedAudience {
                audience: quoting.clone(),
            }),
            Error::IdToken(IdTokenError::WrongJwtType {
                typ: quoting.clone(),
            }),
            Error::IdToken(IdTokenError::AcrMismatch {
                found: Some(quoting.clone()),
            }),
        ];
        for error in errors {
            let kind = error.kind();
            let withheld = withhold(error, TOKEN);
            let shown = format!("{withheld} {withheld:?}");
            assert!(!shown.contains(TOKEN), "{shown}");
            assert!(shown.contains("withheld"), "{shown}");
            assert_eq!(withheld.kind(), kind, "the kind of error is kept");
        }
        // A value that does not quote the token is kept.
        let kept = Error::IdToken(IdTokenError::IssuerMismatch {
            expected: "https://op.example.com".to_owned(),
            found: "https://evil.example".to_owned(),
        });
        assert_eq!(withhold(kept.clone(), TOKEN), kept);
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

    /// Found by the `client_credentials_flow` fuzz target: a tab before
    /// `oken` is escaped as `\t`, so the excerpt would spell `token`.
    #[test]
    fn an_escape_that_spells_a_marker_word_withholds_the_excerpt() {
        assert_eq!(
            MalformedResponse::with_excerpt(500, "x", b"a\token b").excerpt,
            None
        );
        assert_eq!(
            MalformedResponse::with_excerpt(500, "x", b"a\tab b")
                .excerpt
                .as_deref(),
            Some("a\\tab b")
        );
    }

    #[test]
    fn excerpt_is_bounded_and_cleaned() {
        let body = format!("<html>\n<body>{}</body>", "é".repeat(200));
        let malformed = MalformedResponse::with_excerpt(502, "not json", body.as_bytes());
        let excerpt = malformed.excerpt.unwrap();
        assert!(excerpt.len() <= MalformedResponse::MAX_EXCERPT, "{excerpt}");
        assert!(excerpt.starts_with("<html>\\n<body>é"), "{excerpt}");
        assert!(excerpt.ends_with(" bytes)"), "{excerpt}");
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
                Some(401),
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
