//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2): the URL
//! that sends the user's browser to the provider's `end_session_endpoint`,
//! so that the provider ends its own session too.

use core::fmt;

use url::Url;

use crate::client::Client;
use crate::endpoint::RedirectUri;
use crate::error::Error;
use crate::types::RawIdToken;

/// The parameters the logout URL sets itself; an `end_session_endpoint`
/// that already carries one is refused.
const RESERVED: [&str; 5] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "logout_hint",
];

/// What an RP-initiated logout asks of the provider, besides the ID token
/// hint (which a [`Session`](crate::Session) supplies).
///
/// ```
/// use grantflow::{LogoutOptions, RedirectUri};
/// # fn main() -> Result<(), grantflow::Error> {
/// let options = LogoutOptions::new()
///     .post_logout_redirect_uri(RedirectUri::new("https://app.example.com/signed-out")?)
///     .state("af0ifjsldkj");
/// # let _ = options;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct LogoutOptions {
    post_logout_redirect_uri: Option<RedirectUri>,
    state: Option<String>,
    logout_hint: Option<String>,
}

impl fmt::Debug for LogoutOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutOptions")
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .field("state", &self.state.as_ref().map(|_| "<redacted>"))
            .field("logout_hint", &self.logout_hint)
            .finish()
    }
}

impl LogoutOptions {
    /// No redirect back, no `state`, no hint.
    pub fn new() -> Self {
        LogoutOptions::default()
    }

    /// Where the provider sends the browser after logout; it must be
    /// registered for the client (§3).
    #[must_use]
    pub fn post_logout_redirect_uri(mut self, uri: RedirectUri) -> Self {
        self.post_logout_redirect_uri = Some(uri);
        self
    }

    /// An opaque value the provider passes back to the post-logout redirect
    /// URI, to keep state (and check the redirect is the one asked for).
    #[must_use]
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// A hint about the user to log out (an email, a login name), for a
    /// provider with several sessions and no `id_token_hint`.
    #[must_use]
    pub fn logout_hint(mut self, hint: impl Into<String>) -> Self {
        self.logout_hint = Some(hint.into());
        self
    }
}

impl Client {
    /// The RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0
    /// §2) to send the browser to: the client's `end_session_endpoint` with
    /// `id_token_hint` (the raw ID token the user signed in with; providers
    /// accept an expired one), `client_id`, and the options.
    ///
    /// The URL carries the ID token, as the specification says: send it as a
    /// redirect, and keep it out of logs. Fails with
    /// [`Error::MissingEndpoint`] when the provider has no
    /// `end_session_endpoint`, and [`Error::EndpointParameterConflict`] when
    /// that endpoint already carries a parameter this sets.
    ///
    /// ```
    /// use grantflow::{Client, ClientAuth, ClientId, EndpointUrl, Endpoints, LogoutOptions, RawIdToken, RedirectUri};
    /// # fn main() -> Result<(), grantflow::Error> {
    /// let mut endpoints = Endpoints::default();
    /// endpoints.end_session = Some(EndpointUrl::parse("https://op.example.com/session/end")?);
    /// let client = Client::new(ClientId::new("spa"), ClientAuth::None).with_endpoints(endpoints);
    /// let url = client.end_session_url(
    ///     Some(&RawIdToken::new("eyJ.eyJ.sig")),
    ///     &LogoutOptions::new().post_logout_redirect_uri(RedirectUri::new("https://app.example.com/bye")?),
    /// )?;
    /// assert_eq!(
    ///     url.as_str(),
    ///     "https://op.example.com/session/end?id_token_hint=eyJ.eyJ.sig&client_id=spa&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye"
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn end_session_url(
        &self,
        id_token_hint: Option<&RawIdToken>,
        options: &LogoutOptions,
    ) -> Result<Url, Error> {
        let endpoint = self.require_endpoint(|e| e.end_session.as_ref(), "end_session_endpoint")?;
        let mut url = endpoint.as_url().clone();
        if let Some(name) = url
            .query_pairs()
            .find_map(|(name, _)| RESERVED.iter().find(|r| **r == name).copied())
        {
            return Err(Error::EndpointParameterConflict {
                endpoint: "end_session_endpoint",
                name: name.to_owned(),
            });
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = id_token_hint {
                query.append_pair("id_token_hint", hint.as_str());
            }
            // Always sent: it names the client even without an ID token, and
            // a post_logout_redirect_uri needs one of the two (§2).
            query.append_pair("client_id", self.client_id().as_str());
            if let Some(uri) = &options.post_logout_redirect_uri {
                query.append_pair("post_logout_redirect_uri", uri.as_str());
            }
            if let Some(state) = &options.state {
                query.append_pair("state", state);
            }
            if let Some(hint) = &options.logout_hint {
                query.append_pair("logout_hint", hint);
            }
        }
        Ok(url)
    }
}
