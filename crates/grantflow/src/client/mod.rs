//! The OAuth client: who we are to the authorization server, how we prove
//! it, and where the server's endpoints are.
//!
//! [`Client`] is a plain struct with no type parameters, so a web application
//! can keep one in its state and share it. Flows are started from it.

use core::fmt;
use std::sync::Arc;

use crate::alg::Algorithm;
use crate::endpoint::{EndpointUrl, Issuer};
use crate::error::Error;
use crate::jose::JwkSet;
use crate::types::ClientId;

mod assertion;
mod auth;
mod dpop;
mod keys;
mod policy;

pub use assertion::{AssertionAudience, ClientAssertion};
pub use auth::ClientAuth;
pub use dpop::DpopKey;
use keys::KeyCache;

pub use policy::IdTokenPolicy;

/// An OAuth 2.0 client registration.
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let client = Client::new(
///     ClientId::new("my-service"),
///     ClientAuth::ClientSecretBasic(ClientSecret::new("correct horse battery staple")),
/// )
/// .with_token_endpoint(EndpointUrl::parse("https://auth.example.com/oauth/token")?);
/// assert!(!client.is_public());
/// # Ok(())
/// # }
/// ```
///
/// Cloning is cheap (a reference count): every flow started from a client
/// holds a clone, so a client can be shared across threads and requests.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

#[derive(Clone)]
struct ClientInner {
    client_id: ClientId,
    auth: ClientAuth,
    endpoints: Endpoints,
    issuer: Option<Issuer>,
    callback_iss_required: bool,
    /// Authorization requests must be pushed (RFC 9126 §5).
    pushed_authorization_required: bool,
    id_token_algorithms: Vec<Algorithm>,
    userinfo_algorithms: Vec<Algorithm>,
    policy: IdTokenPolicy,
    keys: Arc<KeyCache>,
    /// Token types besides `Bearer` the caller handles itself, lower-case.
    accepted_token_types: Vec<String>,
    /// The `aud` of JWT client assertions (RFC 7523 §3).
    assertion_audience: AssertionAudience,
    /// The DPoP key (RFC 9449), if the client proves possession.
    dpop: Option<DpopKey>,
    /// The headers of every form POST this client sends: `Accept`, the
    /// form content type and, for `client_secret_basic`, the
    /// `Authorization` value, built once from the id and secret (both fixed
    /// at [`Client::new`]). A request gets a copy, which shares the value
    /// bytes (no copy of the credentials per request). The value is marked
    /// sensitive and never printed.
    form_headers: http::HeaderMap,
    /// The authorization URL's constant start, built on first use.
    authorization_prefix: PrefixCache,
}

/// The start of an authorization URL that is the same on every call for
/// one client and redirect URI: the endpoint (with its own query), then
/// `response_type=code`, `client_id` and `redirect_uri`, encoded as `url`'s
/// `query_pairs_mut` encodes them. Kept for the first redirect URI asked
/// for, with what it was built from, so that a client changed since (an
/// endpoint replaced in place) or another redirect URI is never served a
/// stale start. A copy of the client starts empty.
#[derive(Default)]
struct PrefixCache(std::sync::OnceLock<AuthorizationPrefix>);

impl Clone for PrefixCache {
    fn clone(&self) -> Self {
        PrefixCache::default()
    }
}

struct AuthorizationPrefix {
    endpoint: url::Url,
    client_id: String,
    redirect_uri: String,
    url: url::Url,
}

impl AuthorizationPrefix {
    fn new(endpoint: &url::Url, client_id: &str, redirect_uri: &str) -> Self {
        let mut url = endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri);
        AuthorizationPrefix {
            endpoint: endpoint.clone(),
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            url,
        }
    }
}

/// Where the authorization server's endpoints are (RFC 8414 §2, OIDC
/// Discovery §3). Filled in one place from discovered metadata
/// ([`ProviderMetadata::endpoints`](crate::ProviderMetadata::endpoints)), or
/// by hand; an endpoint a flow needs and the client lacks is
/// [`Error::MissingEndpoint`].
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, EndpointUrl, Endpoints};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let mut endpoints = Endpoints::default();
/// endpoints.token = Some(EndpointUrl::parse("https://as.example.com/token")?);
/// endpoints.revocation = Some(EndpointUrl::parse("https://as.example.com/revoke")?);
/// let client = Client::new(ClientId::new("app"), ClientAuth::None).with_endpoints(endpoints);
/// assert!(client.endpoints().revocation.is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// `authorization_endpoint` (RFC 6749 §3.1).
    pub authorization: Option<EndpointUrl>,
    /// `token_endpoint` (RFC 6749 §3.2).
    pub token: Option<EndpointUrl>,
    /// `userinfo_endpoint` (OIDC Core §5.3).
    pub userinfo: Option<EndpointUrl>,
    /// `revocation_endpoint` (RFC 7009).
    pub revocation: Option<EndpointUrl>,
    /// `introspection_endpoint` (RFC 7662).
    pub introspection: Option<EndpointUrl>,
    /// `device_authorization_endpoint` (RFC 8628 §4).
    pub device_authorization: Option<EndpointUrl>,
    /// `pushed_authorization_request_endpoint` (RFC 9126 §5).
    pub pushed_authorization_request: Option<EndpointUrl>,
    /// `end_session_endpoint` (OpenID Connect RP-Initiated Logout §2.1).
    pub end_session: Option<EndpointUrl>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Client")
            .field("client_id", &inner.client_id)
            .field("auth", &inner.auth)
            .field("issuer", &inner.issuer)
            .field("endpoints", &inner.endpoints)
            .field("jwks_uri", &inner.keys.jwks_uri)
            .field("dpop", &inner.dpop)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with the given identity and no endpoints yet.
    pub fn new(client_id: ClientId, auth: ClientAuth) -> Self {
        let form_headers = crate::message::form_headers(match &auth {
            ClientAuth::ClientSecretBasic(secret) => {
                Some(auth::basic_authorization(&client_id, secret))
            }
            _ => None,
        });
        Client {
            inner: Arc::new(ClientInner {
                client_id,
                auth,
                endpoints: Endpoints::default(),
                issuer: None,
                callback_iss_required: false,
                pushed_authorization_required: false,
                id_token_algorithms: Vec::new(),
                userinfo_algorithms: Vec::new(),
                policy: IdTokenPolicy::default(),
                keys: Arc::new(KeyCache::default()),
                accepted_token_types: Vec::new(),
                assertion_audience: AssertionAudience::default(),
                dpop: None,
                form_headers,
                authorization_prefix: PrefixCache::default(),
            }),
        }
    }

    /// Replaces every endpoint.
    #[must_use]
    pub fn with_endpoints(mut self, endpoints: Endpoints) -> Self {
        Arc::make_mut(&mut self.inner).endpoints = endpoints;
        self
    }

    /// Sets the token endpoint (RFC 6749 §3.2), the one endpoint a
    /// client-credentials-only client needs; see [`Client::with_endpoints`]
    /// for the others.
    #[must_use]
    pub fn with_token_endpoint(mut self, token_endpoint: EndpointUrl) -> Self {
        Arc::make_mut(&mut self.inner).endpoints.token = Some(token_endpoint);
        self
    }

    /// Sets the authorization endpoint (RFC 6749 §3.1).
    #[must_use]
    pub fn with_authorization_endpoint(mut self, endpoint: EndpointUrl) -> Self {
        Arc::make_mut(&mut self.inner).endpoints.authorization = Some(endpoint);
        self
    }

    /// Sets the UserInfo endpoint (OIDC Core §5.3).
    #[must_use]
    pub fn with_userinfo_endpoint(mut self, endpoint: EndpointUrl) -> Self {
        Arc::make_mut(&mut self.inner).endpoints.userinfo = Some(endpoint);
        self
    }

    /// The algorithms the provider's metadata lists for ID tokens and for
    /// signed UserInfo responses (the policy's own list wins over both).
    #[must_use]
    pub(crate) fn with_signing_algorithms(
        mut self,
        id_token: Vec<Algorithm>,
        userinfo: Vec<Algorithm>,
    ) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        inner.id_token_algorithms = id_token;
        inner.userinfo_algorithms = userinfo;
        self
    }

    /// Uses `keys` as loaded from `jwks_uri`, re-fetching from there on
    /// rotation; either may be absent.
    #[must_use]
    pub(crate) fn with_key_source(
        mut self,
        jwks_uri: Option<EndpointUrl>,
        keys: Option<JwkSet>,
    ) -> Self {
        Arc::make_mut(&mut self.inner).keys = Arc::new(KeyCache::new(jwks_uri, keys));
        self
    }

    /// Sets the issuer: ID tokens must name it exactly, and authorization
    /// requests are bound to it (RFC 9207).
    #[must_use]
    pub fn with_issuer(mut self, issuer: Issuer) -> Self {
        Arc::make_mut(&mut self.inner).issuer = Some(issuer);
        self
    }

    /// Requires RFC 9207 `iss` in every authorization response (the
    /// provider's metadata sets this when it says
    /// `authorization_response_iss_parameter_supported`).
    #[must_use]
    pub fn with_required_callback_iss(mut self, required: bool) -> Self {
        Arc::make_mut(&mut self.inner).callback_iss_required = required;
        self
    }

    /// Requires pushed authorization requests (RFC 9126 §5): `begin` then
    /// refuses to build a URL the browser carries
    /// ([`Error::PushedAuthorizationRequired`]) and `begin_or_push` pushes.
    /// The provider's metadata sets this when it says
    /// `require_pushed_authorization_requests`; set it by hand for a client
    /// registered with that requirement.
    #[must_use]
    pub fn with_required_pushed_authorization(mut self, required: bool) -> Self {
        Arc::make_mut(&mut self.inner).pushed_authorization_required = required;
        self
    }

    /// Whether authorization requests must be pushed (RFC 9126 §5).
    pub fn requires_pushed_authorization(&self) -> bool {
        self.inner.pushed_authorization_required
    }

    /// Uses this key set to verify ID tokens, and no `jwks_uri` (so no
    /// re-fetch on an unknown `kid`).
    #[must_use]
    pub fn with_jwks(mut self, keys: JwkSet) -> Self {
        Arc::make_mut(&mut self.inner).keys = Arc::new(KeyCache::new(None, Some(keys)));
        self
    }

    /// Fetches the provider's keys from `jwks_uri` when an ID token needs
    /// them, and again on an unknown `kid`.
    #[must_use]
    pub fn with_jwks_uri(mut self, jwks_uri: EndpointUrl) -> Self {
        Arc::make_mut(&mut self.inner).keys = Arc::new(KeyCache::new(Some(jwks_uri), None));
        self
    }

    /// Sets how ID tokens are checked.
    #[must_use]
    pub fn with_id_token_policy(mut self, policy: IdTokenPolicy) -> Self {
        Arc::make_mut(&mut self.inner).policy = policy;
        self
    }

    /// Accepts access tokens of this `token_type` (compared ignoring case)
    /// from the token endpoint, for a caller that knows how to use them.
    /// Without this, any type but `Bearer` ends the flow with
    /// [`Error::UnsupportedTokenType`] (RFC 6749 §7.1: a client must not use
    /// a token type it does not understand). `DPoP` cannot be accepted this
    /// way: a DPoP-bound token is useless without the key it is bound to;
    /// give the client its key with [`Client::with_dpop`] instead.
    #[must_use]
    pub fn accept_token_type(mut self, token_type: &str) -> Self {
        Arc::make_mut(&mut self.inner)
            .accepted_token_types
            .push(token_type.to_ascii_lowercase());
        self
    }

    /// Sets the `aud` of JWT client assertions (`private_key_jwt`,
    /// `client_secret_jwt`): the issuer by default; see
    /// [`AssertionAudience`] for which providers want which.
    #[must_use]
    pub fn with_assertion_audience(mut self, audience: AssertionAudience) -> Self {
        Arc::make_mut(&mut self.inner).assertion_audience = audience;
        self
    }

    /// The `aud` JWT client assertions name.
    pub fn assertion_audience(&self) -> AssertionAudience {
        self.inner.assertion_audience
    }

    /// Whether the caller accepted this (non-`Bearer`) token type.
    pub(crate) fn accepts_token_type(&self, token_type: &str) -> bool {
        self.inner
            .accepted_token_types
            .iter()
            .any(|accepted| accepted.eq_ignore_ascii_case(token_type))
    }

    /// The client identifier.
    pub fn client_id(&self) -> &ClientId {
        &self.inner.client_id
    }

    /// How the client authenticates.
    pub fn auth(&self) -> &ClientAuth {
        &self.inner.auth
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// The endpoint a flow needs, or [`Error::MissingEndpoint`] naming it
    /// by its metadata name.
    pub(crate) fn require_endpoint(
        &self,
        pick: impl FnOnce(&Endpoints) -> Option<&EndpointUrl>,
        name: &'static str,
    ) -> Result<&EndpointUrl, Error> {
        pick(&self.inner.endpoints).ok_or(Error::MissingEndpoint { endpoint: name })
    }

    /// The algorithms the provider's metadata lists for ID tokens.
    pub(crate) fn id_token_algorithms(&self) -> &[Algorithm] {
        &self.inner.id_token_algorithms
    }

    /// The algorithms the provider's metadata lists for signed UserInfo.
    pub(crate) fn userinfo_algorithms(&self) -> &[Algorithm] {
        &self.inner.userinfo_algorithms
    }

    /// The issuer, if one was set.
    pub fn issuer(&self) -> Option<&Issuer> {
        self.inner.issuer.as_ref()
    }

    /// How ID tokens are checked.
    pub fn id_token_policy(&self) -> &IdTokenPolicy {
        &self.inner.policy
    }

    /// Whether authorization responses must carry RFC 9207 `iss`.
    /// The authorization endpoint followed by `response_type=code`,
    /// `client_id` and `redirect_uri`, exactly as appending those three
    /// pairs with `query_pairs_mut` writes it; `None` without an
    /// authorization endpoint, or for a redirect URI other than the one the
    /// kept start was built for (the caller appends the pairs itself).
    pub(crate) fn authorization_url_start(&self, redirect_uri: &str) -> Option<url::Url> {
        let endpoint = self.inner.endpoints.authorization.as_ref()?.as_url();
        let client_id = self.inner.client_id.as_str();
        let prefix = self
            .inner
            .authorization_prefix
            .0
            .get_or_init(|| AuthorizationPrefix::new(endpoint, client_id, redirect_uri));
        (prefix.endpoint == *endpoint
            && prefix.client_id == client_id
            && prefix.redirect_uri == redirect_uri)
            .then(|| prefix.url.clone())
    }

    pub(crate) fn callback_iss_required(&self) -> bool {
        self.inner.callback_iss_required
    }

    /// The shared key cache.
    fn key_cache(&self) -> &KeyCache {
        &self.inner.keys
    }

    /// Whether this is a public client (no client authentication).
    pub fn is_public(&self) -> bool {
        matches!(self.inner.auth, ClientAuth::None)
    }

    pub(crate) fn require_token_endpoint(&self) -> Result<&EndpointUrl, Error> {
        self.require_endpoint(|e| e.token.as_ref(), "token_endpoint")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ClientSecret;

    #[test]
    fn public_clients_send_their_id_in_the_body() {
        let client = Client::new(ClientId::new("spa app"), ClientAuth::None)
            .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap());
        let request = client
            .token_request(
                [("grant_type", "refresh_token"), ("refresh_token", "r&t")],
                crate::time::UnixTime::EPOCH,
            )
            .unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "https://as.example.com/token");
        assert_eq!(request.headers().get("authorization"), None);
        assert_eq!(request.headers()["accept"], "application/json");
        assert_eq!(
            request.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(
            request.body().as_slice(),
            b"grant_type=refresh_token&refresh_token=r%26t&client_id=spa+app"
        );
    }

    #[test]
    fn public_clients_cannot_use_client_credentials() {
        let client = Client::new(ClientId::new("spa"), ClientAuth::None)
            .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap());
        assert!(matches!(
            client.client_credentials(),
            Err(Error::PublicClientNotAllowed {
                grant: "client_credentials"
            })
        ));
    }

    #[test]
    fn a_token_endpoint_is_required() {
        let client = Client::new(
            ClientId::new("svc"),
            ClientAuth::ClientSecretPost(ClientSecret::new("x")),
        );
        assert!(matches!(
            client.client_credentials(),
            Err(Error::MissingEndpoint {
                endpoint: "token_endpoint"
            })
        ));
    }

    #[test]
    fn clients_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync + 'static>(_: &T) {}
        let client = Client::new(ClientId::new("svc"), ClientAuth::None);
        shareable(&client);
        // Setting an endpoint on a clone leaves the original alone.
        let with_endpoint = client
            .clone()
            .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap());
        assert!(client.endpoints().token.is_none());
        assert!(with_endpoint.endpoints().token.is_some());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let client = Client::new(
            ClientId::new("svc"),
            ClientAuth::ClientSecretBasic(ClientSecret::new("hunter2")),
        );
        let debug = format!("{client:?}");
        assert!(debug.contains("svc"));
        assert!(!debug.contains("hunter2"));
    }
}
