//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1): the two
//! builders, [`SignInRequest`] and [`AuthorizationRequest`], over one
//! private core that checks the request and builds the URL.

use std::borrow::Cow;

use rand_core::CryptoRng;
use zeroize::Zeroize as _;

use super::Secret;
use super::callback::PendingCore;
use super::par::PushedAuthorization;
use super::pkce::{PkceMethod, PkceVerifier, random_token};
use crate::client::Client;
use crate::endpoint::RedirectUri;
use crate::error::Error;
use crate::time::UnixTime;
use crate::types::Scope;

/// How long a pending authorization is accepted by `callback` by default,
/// in seconds: 10 minutes (RFC 6749 §4.1.2 recommends authorization codes
/// live at most that long, so a user who took longer has to start again
/// anyway). Change it per request with
/// [`SignInRequest::max_pending_age`] or
/// [`AuthorizationRequest::max_pending_age`].
pub const DEFAULT_MAX_PENDING_AGE: u64 = 600;

/// The parameters the flow sets itself, or that have a method of their own
/// whose value the flow must know (`max_age` is checked against
/// `auth_time`), or that would override the others (`request`,
/// `request_uri`: a request object, RFC 9101 §5).
///
/// [`SignInRequest::param`] and [`AuthorizationRequest::param`] refuse them
/// ([`Error::ReservedParameter`]), and so does an authorization endpoint URL
/// that already carries one ([`Error::EndpointParameterConflict`]).
const RESERVED: [&str; 16] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
    "acr_values",
    "resource",
    "request",
    "request_uri",
];

/// The scope that makes a request an OpenID Connect one (OIDC Core §3.1.2.1).
const OPENID: &str = "openid";

/// What both requests are made of; [`RequestCore::begin`] is the one place
/// an authorization URL is built.
#[derive(Debug)]
struct RequestCore {
    client: Client,
    redirect_uri: RedirectUri,
    scopes: Vec<Scope>,
    prompt: Option<String>,
    login_hint: Option<String>,
    ui_locales: Option<String>,
    resources: Vec<String>,
    params: Vec<(String, String)>,
    pkce: PkceMethod,
    max_pending_age: u64,
}

/// What only a sign-in sends (OIDC Core §3.1.2.1).
#[derive(Debug, Default)]
struct OpenIdParams {
    max_age: Option<u64>,
    acr_values: Option<String>,
}

/// The OpenID Connect part of a sign-in: the `nonce` drawn for it, and the
/// parameters only a sign-in sends.
struct OpenId<'a> {
    nonce: &'a Secret,
    params: &'a OpenIdParams,
}

impl RequestCore {
    fn new(client: &Client, redirect_uri: RedirectUri) -> Result<Self, Error> {
        Ok(RequestCore {
            client: client.clone(),
            redirect_uri,
            scopes: Vec::new(),
            prompt: None,
            login_hint: None,
            ui_locales: None,
            resources: Vec::new(),
            params: Vec::new(),
            pkce: PkceMethod::S256,
            max_pending_age: DEFAULT_MAX_PENDING_AGE,
        })
    }

    /// Checks the request and draws `state` and the PKCE verifier from
    /// `rng`: the parameters of the authorization request, and what the
    /// callback needs. With `openid` (a sign-in), scope `openid` is sent
    /// first (once) with the `nonce`, `max_age` and `acr_values`; without
    /// it, asking for `openid` is [`Error::OpenIdNeedsSignIn`]. The one
    /// place an authorization request is made, whether the browser carries
    /// it ([`Prepared::url`]) or it is pushed (RFC 9126).
    fn prepare(
        self,
        rng: &mut impl CryptoRng,
        now: UnixTime,
        openid: Option<OpenId<'_>>,
    ) -> Result<(Prepared, PendingCore), Error> {
        // The caller's parameters first, then its resource indicators
        // (`resource` itself is reserved, so only the fragment rule applies).
        let params = self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let resources = self.resources.iter().map(|r| ("resource", r.as_str()));
        crate::grants::check_params(&RESERVED, params)?;
        crate::grants::check_params(&[], resources)?;
        let asks_openid = self.scopes.iter().any(|scope| scope.as_str() == OPENID);
        let openid_first = openid.as_ref().map(|_| OPENID);
        if openid_first.is_none() && asks_openid {
            return Err(Error::OpenIdNeedsSignIn);
        }
        let issuer = self.client.issuer().cloned();
        if openid_first.is_some() && issuer.is_none() {
            return Err(Error::IssuerNotConfigured);
        }
        let endpoint = self
            .client
            .require_endpoint(|e| e.authorization.as_ref(), "authorization_endpoint")?;
        // The endpoint's own parameters are kept (`?tenant=a`, Azure B2C's
        // `?p=policy`), but not one the flow sets: it would be sent twice,
        // and servers differ on which one wins.
        if let Some(name) = endpoint.as_url().query_pairs().find_map(|(name, _)| {
            RESERVED
                .iter()
                .find(|reserved| **reserved == name)
                .map(|reserved| (*reserved).to_owned())
        }) {
            return Err(Error::EndpointParameterConflict {
                endpoint: "authorization_endpoint",
                name,
            });
        }

        let state = random_token(rng);
        let verifier = PkceVerifier::generate(rng);

        let mut scope = String::new();
        let others = self
            .scopes
            .iter()
            .map(Scope::as_str)
            .filter(|scope| openid_first.is_none() || *scope != OPENID);
        for token in openid_first.into_iter().chain(others) {
            if !scope.is_empty() {
                scope.push(' ');
            }
            scope.push_str(token);
        }

        // Everything but `response_type` and `client_id`, which the URL and
        // the pushed request place each in their own way. The names the flow
        // sets are borrowed; only the caller's own are owned.
        let mut params: Vec<(Cow<'static, str>, Cow<'static, str>)> =
            Vec::with_capacity(8 + self.resources.len() + self.params.len());
        params.push((
            "redirect_uri".into(),
            self.redirect_uri.as_str().to_owned().into(),
        ));
        if !scope.is_empty() {
            params.push(("scope".into(), scope.into()));
        }
        params.push(("state".into(), state.clone().into()));
        params.push((
            "code_challenge".into(),
            verifier.challenge(self.pkce).into(),
        ));
        params.push(("code_challenge_method".into(), self.pkce.as_str().into()));
        if let Some(openid) = &openid {
            params.push(("nonce".into(), openid.nonce.0.clone().into()));
            if let Some(max_age) = openid.params.max_age {
                params.push(("max_age".into(), max_age.to_string().into()));
            }
        }
        let optional = [
            ("prompt", self.prompt),
            ("login_hint", self.login_hint),
            ("ui_locales", self.ui_locales),
            (
                "acr_values",
                openid
                    .as_ref()
                    .and_then(|openid| openid.params.acr_values.clone()),
            ),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                params.push((name.into(), value.into()));
            }
        }
        params.extend(
            self.resources
                .into_iter()
                .map(|resource| ("resource".into(), resource.into())),
        );
        params.extend(
            self.params
                .into_iter()
                .map(|(name, value)| (name.into(), value.into())),
        );

        let pending = PendingCore {
            issuer,
            client_id: self.client.client_id().as_str().to_owned(),
            redirect_uri: self.redirect_uri,
            state: Secret(state),
            code_verifier: verifier,
            iss_required: self.client.callback_iss_required(),
            began_at: now,
            max_pending_age: self.max_pending_age,
        };
        let prepared = Prepared {
            client: self.client,
            params: SecretParams(params),
        };
        Ok((prepared, pending))
    }
}

/// The parameters of an authorization request (`state`, `nonce` among
/// them), zeroized on drop and never printed. `redirect_uri` and `scope`
/// are not secret (the client's configuration and what it asks for) and
/// are only freed; a value that is a `&'static str` holds nothing to wipe.
pub(super) struct SecretParams(pub(super) Vec<(Cow<'static, str>, Cow<'static, str>)>);

impl Drop for SecretParams {
    fn drop(&mut self) {
        for (name, value) in &mut self.0 {
            if let Cow::Owned(value) = value {
                if name != "redirect_uri" && name != "scope" {
                    value.zeroize();
                }
            }
        }
    }
}

/// A checked authorization request, not yet sent: what the browser carries
/// in the URL, or what is pushed to the PAR endpoint (RFC 9126).
pub(super) struct Prepared {
    pub(super) client: Client,
    /// Every parameter but `response_type` and `client_id`.
    pub(super) params: SecretParams,
}

impl Prepared {
    /// The authorization endpoint (checked by `prepare` to carry no
    /// reserved parameter; the client, shared and unchangeable, still has
    /// it).
    pub(super) fn authorization_endpoint(&self) -> Result<&url::Url, Error> {
        self.client
            .require_endpoint(|e| e.authorization.as_ref(), "authorization_endpoint")
            .map(crate::endpoint::EndpointUrl::as_url)
    }

    /// The authorization URL the browser carries (RFC 6749 §4.1.1):
    /// `response_type`, `client_id`, then every other parameter. When the
    /// client keeps the URL's constant start for this redirect URI
    /// (`response_type`, `client_id`, `redirect_uri` already encoded), only
    /// the other parameters are appended to a copy of it: the same bytes.
    pub(super) fn url(&self) -> Result<url::Url, Error> {
        if let Some(((name, redirect_uri), rest)) = self.params.0.split_first() {
            if name == "redirect_uri" {
                if let Some(mut start) = self.client.authorization_url_start(redirect_uri) {
                    start.query_pairs_mut().extend_pairs(
                        rest.iter()
                            .map(|(name, value)| (name.as_ref(), value.as_ref())),
                    );
                    return Ok(start);
                }
            }
        }
        let mut url = self.authorization_endpoint()?.clone();
        Prepared::append(&mut url, &self.client, &self.params);
        Ok(url)
    }

    fn append(url: &mut url::Url, client: &Client, params: &SecretParams) {
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client.client_id().as_str())
            .extend_pairs(
                params
                    .0
                    .iter()
                    .map(|(name, value)| (name.as_ref(), value.as_ref())),
            );
    }
}

/// The builder methods both requests have: each sets one field of the
/// [`RequestCore`].
macro_rules! shared_builders {
    ($request:ident) => {
        impl $request {
            /// `prompt` (OIDC Core §3.1.2.1): `none`, `login`, `consent`,
            /// `select_account`, space-separated.
            #[must_use]
            pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
                self.core.prompt = Some(prompt.into());
                self
            }

            /// `login_hint` (OIDC Core §3.1.2.1): the login name the user
            /// probably has, e.g. an email address.
            #[must_use]
            pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
                self.core.login_hint = Some(hint.into());
                self
            }

            /// `ui_locales` (OIDC Core §3.1.2.1): space-separated BCP 47
            /// tags, preferred first.
            #[must_use]
            pub fn ui_locales(mut self, locales: impl Into<String>) -> Self {
                self.core.ui_locales = Some(locales.into());
                self
            }

            /// An RFC 8707 resource indicator. May be repeated. A URI with a
            /// fragment makes `begin` fail with [`Error::InvalidUrl`]
            /// (RFC 8707 §2).
            #[must_use]
            pub fn resource(mut self, resource: url::Url) -> Self {
                self.core.resources.push(resource.into());
                self
            }

            /// Any other parameter (`display`, a provider's own, …). A name
            /// the flow sets itself, or that has its own method, makes
            /// `begin` fail with [`Error::ReservedParameter`].
            #[must_use]
            pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
                self.core.params.push((name.into(), value.into()));
                self
            }

            /// Uses the PKCE `plain` method instead of `S256`. Only for a
            /// server that cannot do `S256` (RFC 7636 §4.2): `plain` offers
            /// no protection if the authorization request is observed.
            #[must_use]
            pub fn insecure_pkce_plain(mut self) -> Self {
                self.core.pkce = PkceMethod::Plain;
                self
            }

            /// How many seconds after `begin` the callback still accepts the
            /// pending value ([`DEFAULT_MAX_PENDING_AGE`], 10 minutes, unless
            /// set). Stored in the pending value; an older one is refused
            /// with [`CallbackError::Expired`](crate::CallbackError::Expired).
            #[must_use]
            pub fn max_pending_age(mut self, seconds: u64) -> Self {
                self.core.max_pending_age = seconds;
                self
            }
        }
    };
}

/// An OpenID Connect sign-in request (OIDC Core §3.1.2.1) being built. Made
/// by [`Client::sign_in`]; [`begin`](Self::begin) turns it into the URL to
/// send the user to and a [`PendingSignIn`](super::PendingSignIn).
///
/// It always asks for scope `openid` (first) and sends a `nonce`; the code
/// exchange then requires and validates an ID token.
#[derive(Debug)]
pub struct SignInRequest {
    core: RequestCore,
    openid: OpenIdParams,
}

impl SignInRequest {
    pub(super) fn new(client: &Client, redirect_uri: RedirectUri) -> Result<Self, Error> {
        Ok(SignInRequest {
            core: RequestCore::new(client, redirect_uri)?,
            openid: OpenIdParams::default(),
        })
    }

    /// Asks for one more scope, after `openid` (which is always sent first;
    /// asking for it again changes nothing).
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.core.scopes.push(scope);
        self
    }

    /// Asks for these scopes too; see [`scope`](Self::scope).
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.core.scopes.extend(scopes);
        self
    }

    /// `max_age` in seconds (OIDC Core §3.1.2.1): the ID token must then
    /// carry an `auth_time` no older than this, which the exchange checks
    /// (§3.1.3.7 step 13).
    #[must_use]
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.openid.max_age = Some(seconds);
        self
    }

    /// `acr_values` (OIDC Core §3.1.2.1): the authentication context class
    /// references asked for, space-separated, preferred first.
    #[must_use]
    pub fn acr_values(mut self, values: impl Into<String>) -> Self {
        self.openid.acr_values = Some(values.into());
        self
    }

    /// Builds the authorization URL with fresh `nonce`, `state` and PKCE
    /// verifier from `rng`, and the [`PendingSignIn`](super::PendingSignIn)
    /// to keep until the user comes back.
    ///
    /// Fails with [`Error::ReservedParameter`] for
    /// a [`param`](Self::param) the flow sets itself,
    /// [`Error::IssuerNotConfigured`] for a client without an issuer (no ID
    /// token could be validated), [`Error::MissingEndpoint`] without an
    /// authorization endpoint, [`Error::EndpointParameterConflict`] when
    /// the endpoint URL already carries a parameter the flow sets, and
    /// [`Error::PushedAuthorizationRequired`] when the client requires
    /// pushed authorization requests (use [`push`](Self::push) or
    /// [`begin_or_push`](Self::begin_or_push)).
    pub fn begin(
        self,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<(url::Url, super::PendingSignIn), Error> {
        if self.core.client.requires_pushed_authorization() {
            return Err(Error::PushedAuthorizationRequired);
        }
        let (prepared, pending) = self.prepare(rng, now)?;
        Ok((prepared.url()?, pending))
    }

    /// Like [`begin`](Self::begin), but the request is pushed to the
    /// provider (RFC 9126): the [`PushedAuthorization`] flow sends it, with
    /// client authentication, and ends in the URL (`client_id` and
    /// `request_uri` only) and the same [`PendingSignIn`](super::PendingSignIn).
    /// The flow fails with [`Error::MissingEndpoint`] without a
    /// `pushed_authorization_request_endpoint`.
    pub fn push(
        self,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<PushedAuthorization<super::PendingSignIn>, Error> {
        let (prepared, pending) = self.prepare(rng, now)?;
        Ok(PushedAuthorization::new(prepared, pending, true))
    }

    /// [`push`](Self::push) when the client requires pushed authorization
    /// requests (its provider's metadata says
    /// `require_pushed_authorization_requests`), otherwise a flow that
    /// ends at `start`, without a request, with what [`begin`](Self::begin)
    /// gives: one code path for every provider.
    pub fn begin_or_push(
        self,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<PushedAuthorization<super::PendingSignIn>, Error> {
        let push = self.core.client.requires_pushed_authorization();
        let (prepared, pending) = self.prepare(rng, now)?;
        Ok(PushedAuthorization::new(prepared, pending, push))
    }

    fn prepare(
        self,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<(Prepared, super::PendingSignIn), Error> {
        let nonce = Secret(random_token(rng));
        let openid = OpenId {
            nonce: &nonce,
            params: &self.openid,
        };
        let (prepared, pending) = self.core.prepare(rng, now, Some(openid))?;
        Ok((
            prepared,
            super::PendingSignIn::new(
                pending,
                nonce,
                self.openid.max_age,
                self.openid.acr_values.clone(),
            ),
        ))
    }
}

shared_builders!(SignInRequest);

/// A plain OAuth 2.0 authorization request (RFC 6749 §4.1.1) being built:
/// an access token for an API, no sign-in. Made by [`Client::authorize`];
/// [`begin`](Self::begin) turns it into the URL to send the user to and a
/// [`PendingAuthorization`](super::PendingAuthorization).
///
/// Scope `openid` is refused ([`Error::OpenIdNeedsSignIn`], at `begin`):
/// OpenID Connect goes through [`Client::sign_in`], which sends a `nonce`
/// and validates the ID token.
#[derive(Debug)]
pub struct AuthorizationRequest {
    core: RequestCore,
}

impl AuthorizationRequest {
    pub(super) fn new(client: &Client, redirect_uri: RedirectUri) -> Result<Self, Error> {
        Ok(AuthorizationRequest {
            core: RequestCore::new(client, redirect_uri)?,
        })
    }

    /// Asks for one more scope. `openid` makes [`begin`](Self::begin) fail
    /// with [`Error::OpenIdNeedsSignIn`]: use [`Client::sign_in`].
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.core.scopes.push(scope);
        self
    }

    /// Asks for these scopes too; see [`scope`](Self::scope).
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.core.scopes.extend(scopes);
        self
    }

    /// Builds the authorization URL with fresh `state` and PKCE verifier
    /// from `rng`, and the
    /// [`PendingAuthorization`](super::PendingAuthorization) to keep until
    /// the user comes back.
    ///
    /// Fails with [`Error::ReservedParameter`] for
    /// a [`param`](Self::param) the flow sets itself,
    /// [`Error::OpenIdNeedsSignIn`] when scope `openid` was asked for,
    /// [`Error::MissingEndpoint`] without an authorization endpoint,
    /// [`Error::EndpointParameterConflict`] when the endpoint URL already
    /// carries a parameter the flow sets, and
    /// [`Error::PushedAuthorizationRequired`] when the client requires
    /// pushed authorization requests (use [`push`](Self::push) or
    /// [`begin_or_push`](Self::begin_or_push)).
    pub fn begin(
        self,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<(url::Url, super::PendingAuthorization), Error> {
        if self.core.client.requires_pushed_authorization() {
            return Err(Error::PushedAuthorizationRequired);
        }
        let (prepared, pending) = self.core.prepare(rng, now, None)?;
        Ok((prepared.url()?, super::PendingAuthorization::new(pending)))
    }

    /// Like [`begin`](Self::begin), but the request is pushed to the
    /// provider (RFC 9126): see [`SignInRequest::push`].
    pub fn push(
        self,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<PushedAuthorization<super::PendingAuthorization>, Error> {
        let (prepared, pending) = self.core.prepare(rng, now, None)?;
        Ok(PushedAuthorization::new(
            prepared,
            super::PendingAuthorization::new(pending),
            true,
        ))
    }

    /// [`push`](Self::push) when the client requires pushed authorization
    /// requests, otherwise what [`begin`](Self::begin) gives, as a flow:
    /// see [`SignInRequest::begin_or_push`].
    pub fn begin_or_push(
        self,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<PushedAuthorization<super::PendingAuthorization>, Error> {
        let push = self.core.client.requires_pushed_authorization();
        let (prepared, pending) = self.core.prepare(rng, now, None)?;
        Ok(PushedAuthorization::new(
            prepared,
            super::PendingAuthorization::new(pending),
            push,
        ))
    }
}

shared_builders!(AuthorizationRequest);

#[cfg(test)]
mod tests {
    use crate::{ClientAuth, ClientId, EndpointUrl, RedirectUri, Scope, UnixTime};

    /// The URL as appending every pair with `query_pairs_mut` writes it.
    fn expected(endpoint: &str, url: &url::Url) -> String {
        let mut expected = url::Url::parse(endpoint).unwrap();
        let ours: Vec<(String, String)> = url
            .query_pairs()
            .skip(expected.query_pairs().count())
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        expected.query_pairs_mut().extend_pairs(ours);
        expected.into()
    }

    #[test]
    fn kept_url_start_gives_the_same_url_and_is_never_stale() {
        let mut rng = crate::testing::CountingRng::new(0);
        let now = UnixTime::from_secs(1_000);
        for endpoint in [
            "https://as.example.com/authorize",
            "https://as.example.com/authorize?p=b2c_1_signin&x=%20y+z",
        ] {
            let client = crate::Client::new(ClientId::new("id with space:é"), ClientAuth::None)
                .with_authorization_endpoint(EndpointUrl::parse(endpoint).unwrap());
            for redirect in [
                "https://client.example.com/cb?x=1",
                "https://client.example.com/other",
                "https://client.example.com/cb?x=1",
            ] {
                let redirect = RedirectUri::new(redirect).unwrap();
                let (url, _) = client
                    .authorize(&redirect)
                    .unwrap()
                    .scope(Scope::new("a:b").unwrap())
                    .begin(&mut rng, now)
                    .unwrap();
                assert_eq!(url.as_str(), expected(endpoint, &url));
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(n, v)| (n.into_owned(), v.into_owned()))
                    .collect();
                assert!(pairs.contains(&("redirect_uri".into(), redirect.as_str().into())));
                assert!(pairs.contains(&("client_id".into(), "id with space:é".into())));
            }
            // The endpoint replaced in place after the start was kept.
            let client = client.with_authorization_endpoint(
                EndpointUrl::parse("https://as2.example.com/authorize").unwrap(),
            );
            let (url, _) = client
                .authorize("https://client.example.com/cb?x=1")
                .unwrap()
                .begin(&mut rng, now)
                .unwrap();
            assert!(url.as_str().starts_with("https://as2.example.com/authorize?response_type=code&client_id=id+with+space%3A%C3%A9&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb%3Fx%3D1&state="), "{url}");
        }
    }
}
