//! The pending authorization kept in the user's session, and the checks of
//! the redirect back (RFC 6749 §4.1.2, RFC 9207 §2.4, RFC 9700 §4.4.2):
//! [`PendingSignIn`] and [`PendingAuthorization`] over one private core.

use core::fmt;
use std::borrow::Cow;

use subtle::ConstantTimeEq as _;

use super::Secret;
use super::exchange::{CodeExchange, IdTokenCheck, SignInExchange};
use super::pkce::PkceVerifier;
use crate::client::Client;
use crate::endpoint::{Issuer, RedirectUri};
use crate::error::{CallbackError, Error, ErrorCode, ErrorResponse, clean_text};
use crate::time::UnixTime;

/// The longest server-supplied value quoted in an error.
const MAX_QUOTE: usize = 256;

/// How far `now` may be before `began_at` (the clock stepped back between
/// the request and the callback, or the callback runs on another machine)
/// and the pending value still be accepted, in seconds.
const CLOCK_SKEW: u64 = 60;

/// The parameters of an authorization response this module reads.
const RESPONSE_PARAMETERS: [&str; 6] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

/// What every authorization request must remember until the user comes
/// back, and the callback checks that use it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct PendingCore {
    /// The client's issuer when the request began (always set for a sign-in).
    pub(super) issuer: Option<Issuer>,
    pub(super) client_id: String,
    pub(super) redirect_uri: RedirectUri,
    pub(super) state: Secret,
    pub(super) code_verifier: PkceVerifier,
    pub(super) iss_required: bool,
    pub(super) began_at: UnixTime,
    /// Seconds after `began_at` the callback still accepts this value.
    pub(super) max_pending_age: u64,
}

/// Redacted: no `state`, verifier or `nonce`.
impl fmt::Debug for PendingCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("PendingCore");
        self.debug_fields(&mut out);
        out.finish()
    }
}

impl PendingCore {
    /// The fields of this core, secrets redacted, for a `Debug` impl.
    fn debug_fields(&self, out: &mut fmt::DebugStruct<'_, '_>) {
        out.field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("state", &"<redacted>")
            .field("code_verifier", &self.code_verifier)
            .field("iss_required", &self.iss_required)
            .field("began_at", &self.began_at)
            .field("max_pending_age", &self.max_pending_age);
    }

    /// The last instant the callback accepts this value.
    fn expires_at(&self) -> UnixTime {
        self.began_at.saturating_add_secs(self.max_pending_age)
    }

    /// The checks of the callback, in the documented order; the `code` when
    /// they all pass.
    fn check(&self, client: &Client, redirect: &str, now: UnixTime) -> Result<Secret, Error> {
        if client.client_id().as_str() != self.client_id || client.issuer() != self.issuer.as_ref()
        {
            return Err(CallbackError::WrongClient.into());
        }
        if now < self.began_at.saturating_sub_secs(CLOCK_SKEW) || now > self.expires_at() {
            return Err(CallbackError::Expired {
                began_at: self.began_at,
                now,
            }
            .into());
        }
        let query = query_of(redirect)?;
        let mut values: [Option<Cow<'_, str>>; RESPONSE_PARAMETERS.len()] = Default::default();
        for (name, value) in query_pairs(&query) {
            let Some(index) = RESPONSE_PARAMETERS.iter().position(|known| *known == name) else {
                continue; // unknown parameters are ignored (RFC 6749 §3.1)
            };
            let Some(slot) = values.get_mut(index) else {
                continue;
            };
            if slot.is_some() {
                return Err(CallbackError::DuplicateParameter {
                    name: name.into_owned(),
                }
                .into());
            }
            // Borrowed from the query unless percent-decoding changed it.
            *slot = Some(value);
        }
        let [code, state, iss, error, description, uri] =
            values.map(|value| value.filter(|value| !value.is_empty()));

        let state = state.ok_or(CallbackError::MissingState)?;
        if !bool::from(state.as_bytes().ct_eq(self.state.0.as_bytes())) {
            return Err(CallbackError::StateMismatch.into());
        }
        match (&self.issuer, iss) {
            (Some(expected), Some(found)) if expected.as_str() != found => {
                return Err(CallbackError::IssMismatch {
                    expected: expected.as_str().to_owned(),
                    found: clean_text(&found, MAX_QUOTE),
                }
                .into());
            }
            (_, None) if self.iss_required => return Err(CallbackError::MissingIss.into()),
            _ => {}
        }
        if let Some(error) = error {
            if !error.chars().any(|c| !c.is_control()) {
                return Err(CallbackError::InvalidErrorCode.into());
            }
            return Err(Error::OAuth(ErrorResponse::new(
                ErrorCode::from_wire(&error),
                description.as_deref(),
                uri.as_deref(),
                None,
            )));
        }
        let code = code.ok_or(CallbackError::MissingCode)?;
        Ok(Secret(code.into_owned()))
    }
}

/// The query of a redirect URL, or the string itself when it is one.
fn query_of(redirect: &str) -> Result<Cow<'_, str>, CallbackError> {
    // A bare query (`?code=…` or `code=…`) is no URL: skip the parser.
    if !redirect.starts_with('?') {
        if let Ok(url) = url::Url::parse(redirect) {
            return Ok(Cow::Owned(url.query().unwrap_or_default().to_owned()));
        }
    }
    let query = redirect.strip_prefix('?').unwrap_or(redirect);
    // A query may hold unencoded `:` and `/` (RFC 3986 §3.4), as in
    // `iss=https://op.example.com`; but `://` before the first `=` means a
    // URL that failed to parse, not a query.
    let bytes = query.as_bytes();
    let head = bytes
        .get(..bytes.iter().position(|b| *b == b'=').unwrap_or(bytes.len()))
        .unwrap_or_default();
    if bytes.contains(&b'#') || head.windows(3).any(|w| w == b"://") {
        return Err(CallbackError::InvalidUrl);
    }
    Ok(Cow::Borrowed(query))
}

/// The documentation of `callback`, shared by both pending types.
macro_rules! callback_docs {
    () => {
        concat!(
            "Handles the redirect back from the authorization server (RFC 6749\n",
            "§4.1.2): `redirect` is the full redirect URL or just its query (with\n",
            "or without the leading `?`); `now` is the current time.\n",
            "\n",
            "**Remove the pending value from the session before calling this.**\n",
            "Moving `self` prevents reuse in memory only: a stored copy can be\n",
            "deserialized, and a callback replayed, twice. Take it out of the\n",
            "session first, so a second request finds nothing.\n",
            "\n",
            "In order: `client` must be the client the request was begun with\n",
            "([`CallbackError::WrongClient`]); `now` must be no later than\n",
            "`began_at` plus the maximum pending age (that instant itself is\n",
            "accepted) and no earlier than `began_at` minus 60 seconds of clock\n",
            "skew ([`CallbackError::Expired`] either way); a parameter this module\n",
            "reads appearing twice fails ([`CallbackError::DuplicateParameter`]);\n",
            "`state` must be present and equal, compared in constant time; `iss`\n",
            "(RFC 9207) must equal the issuer when present, and be present when\n",
            "the provider's metadata says\n",
            "`authorization_response_iss_parameter_supported`; only then does an\n",
            "error response become [`Error::OAuth`] (`access_denied`, …, with no\n",
            "status: it came in a redirect, not an HTTP response); finally a\n",
            "`code` must be present. Empty values count as absent (RFC 6749 §3.1).",
        )
    };
}

/// The accessors both pending types have.
macro_rules! pending_accessors {
    ($pending:ident, $core:ident) => {
        impl $pending {
            /// The issuer the request was sent to, if the client had one.
            pub fn issuer(&self) -> Option<&Issuer> {
                self.$core.issuer.as_ref()
            }

            /// The redirect URI, exactly as sent.
            pub fn redirect_uri(&self) -> &RedirectUri {
                &self.$core.redirect_uri
            }

            /// When `begin` ran.
            pub fn began_at(&self) -> UnixTime {
                self.$core.began_at
            }

            /// How many seconds after [`began_at`](Self::began_at) the
            /// callback accepts this value.
            pub fn max_pending_age(&self) -> u64 {
                self.$core.max_pending_age
            }

            /// The last instant the callback accepts this value: a session
            /// that keeps it can expire then.
            pub fn expires_at(&self) -> UnixTime {
                self.$core.expires_at()
            }
        }
    };
}

/// What a sign-in request must remember until the user comes back: the
/// issuer it went to, the redirect URI, `state`, the PKCE verifier, `nonce`,
/// `max_age`, when it began and how long it may wait.
///
/// Keep it in the user's session (it serializes with serde; treat the
/// serialized form as a secret: it holds the PKCE verifier and `nonce`) and
/// hand it to [`callback`](Self::callback) once, after removing it from the
/// session. It is not `Clone`: the callback consumes it.
///
/// ```compile_fail
/// fn copies<T: Clone>() {}
/// copies::<grantflow::PendingSignIn>(); // not Clone: single use
/// ```
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PendingSignIn {
    request: PendingCore,
    nonce: Secret,
    max_age: Option<u64>,
    /// The `acr_values` sent, if any (absent in values stored before it
    /// was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acr_values: Option<String>,
}

impl PendingSignIn {
    pub(super) fn new(
        request: PendingCore,
        nonce: Secret,
        max_age: Option<u64>,
        acr_values: Option<String>,
    ) -> Self {
        PendingSignIn {
            request,
            nonce,
            max_age,
            acr_values,
        }
    }

    /// The `acr_values` sent, if any.
    pub fn acr_values(&self) -> Option<&str> {
        self.acr_values.as_deref()
    }

    /// The `max_age` sent, if any.
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    #[doc = callback_docs!()]
    ///
    /// `client` must be the client the request was begun with. The code
    /// exchange it returns validates the ID token (OIDC Core §3.1.3.7) with
    /// this request's `nonce` and `max_age`.
    pub fn callback(
        self,
        client: &Client,
        redirect: &str,
        now: UnixTime,
    ) -> Result<SignInExchange, Error> {
        let code = self.request.check(client, redirect, now)?;
        let check = IdTokenCheck {
            nonce: self.nonce,
            max_age: self.max_age,
            acr_values: self.acr_values,
        };
        Ok(SignInExchange::new(client, code, self.request, check))
    }
}

pending_accessors!(PendingSignIn, request);

impl fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("PendingSignIn");
        self.request.debug_fields(&mut out);
        out.field("nonce", &"<redacted>")
            .field("max_age", &self.max_age)
            .field("acr_values", &self.acr_values)
            .finish()
    }
}

/// What a plain OAuth 2.0 authorization request must remember until the
/// user comes back: the issuer it went to, the redirect URI, `state`, the
/// PKCE verifier, when it began and how long it may wait.
///
/// Keep it in the user's session (it serializes with serde; treat the
/// serialized form as a secret: it holds the PKCE verifier) and hand it to
/// [`callback`](Self::callback) once, after removing it from the session.
/// It is not `Clone`: the callback consumes it.
///
/// ```compile_fail
/// fn copies<T: Clone>() {}
/// copies::<grantflow::PendingAuthorization>(); // not Clone: single use
/// ```
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PendingAuthorization {
    request: PendingCore,
}

impl PendingAuthorization {
    pub(super) fn new(request: PendingCore) -> Self {
        PendingAuthorization { request }
    }

    #[doc = callback_docs!()]
    ///
    /// `client` must be the client the request was begun with. The code
    /// exchange it returns gives the tokens; an ID token in them is not
    /// validated (use [`Client::sign_in`] for OpenID Connect).
    pub fn callback(
        self,
        client: &Client,
        redirect: &str,
        now: UnixTime,
    ) -> Result<CodeExchange, Error> {
        let code = self.request.check(client, redirect, now)?;
        Ok(CodeExchange::new(client, code, self.request))
    }
}

pending_accessors!(PendingAuthorization, request);

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("PendingAuthorization");
        self.request.debug_fields(&mut out);
        out.finish()
    }
}

/// The pairs of a query, as `form_urlencoded::parse` reads them. A query
/// without `+` or `%` decodes to itself, so its pairs are sliced straight
/// out of it (empty sequences skipped, a name without `=` has an empty
/// value), without the decoder's scans.
fn query_pairs(query: &str) -> QueryPairs<'_> {
    let bytes = query.as_bytes();
    if bytes.contains(&b'+') || bytes.contains(&b'%') {
        QueryPairs::Decoded(form_urlencoded::parse(bytes))
    } else {
        QueryPairs::Plain { query, at: 0 }
    }
}

/// What [`query_pairs`] iterates over.
enum QueryPairs<'a> {
    /// A query that decodes to itself, split as it is: the rest of it
    /// starts at `at`.
    Plain { query: &'a str, at: usize },
    /// Any other query, through the decoder.
    Decoded(form_urlencoded::Parse<'a>),
}

impl<'a> Iterator for QueryPairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            // `&` and `=` are ASCII, so every cut is a `str` boundary and
            // `get` never gives `None` but past the end.
            QueryPairs::Plain { query, at } => loop {
                let rest = query.get(*at..)?;
                if rest.is_empty() {
                    return None;
                }
                let end = rest.bytes().position(|b| b == b'&').unwrap_or(rest.len());
                *at += end + 1;
                let sequence = rest.get(..end)?;
                if sequence.is_empty() {
                    continue;
                }
                let (name, value) = match sequence.bytes().position(|b| b == b'=') {
                    Some(eq) => (sequence.get(..eq)?, sequence.get(eq + 1..)?),
                    None => (sequence, ""),
                };
                return Some((Cow::Borrowed(name), Cow::Borrowed(value)));
            },
            QueryPairs::Decoded(pairs) => pairs.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_read_as_form_urlencoded_does() {
        for query in [
            "",
            "&",
            "&&code=a&&state=b&",
            "code=SplxlOBeZQQYbYS6WxSbIA&state=xyz",
            "code",
            "code=&state",
            "=x&=&==",
            "a=b=c",
            "iss=https://op.example.com/a?b",
            "code=a+b&state=%41%zz%",
            "code=%E9%&state=\u{e9}",
            "é=ü&日本=😀",
        ] {
            let ours: Vec<(String, String)> = query_pairs(query)
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            let theirs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(ours, theirs, "{query:?}");
        }
    }
}
