//! The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636), and
//! OpenID Connect authentication on top of it (OIDC Core §3.1).
//!
//! A human step sits in the middle, so the grant is split into consuming
//! transitions; none of the values can be reused where reuse would be a bug:
//!
//! ```text
//!  Client::authorize(redirect_uri)
//!        │  .scope(..) .prompt(..) .max_age(..) ...
//!        ▼
//!  AuthorizationRequest ──begin(rng, now)──▶ (authorization URL, PendingAuthorization)
//!                                                 │            (kept in the user's session,
//!                         user signs in at the    │             serialized; not Clone)
//!                         provider, is redirected │
//!                         back to redirect_uri    ▼
//!                          PendingAuthorization::callback(client, redirect URL or query)
//!                                                 │ checks: no repeated parameter, state
//!                                                 │ (constant time), RFC 9207 iss, then an
//!                                                 │ error response becomes Error::OAuth
//!                                                 ▼
//!  CodeExchange (a Flow) ──start──▶ Send(token request)
//!        │ handle_response: token response; an id_token is validated
//!        │ (OIDC Core §3.1.3.7); a kid the cached keys lack ──▶ Send(JWKS request)
//!        │                                                    handle_response ──┐
//!        ▼                                                                     │
//!     Done(SignIn { tokens, id_token }) ◀──────── validated with fresh keys ───┘
//! ```
//!
//! Every request carries PKCE with `S256` (RFC 7636 §4.2; `plain` only behind
//! [`AuthorizationRequest::insecure_pkce_plain`], never as a fallback), a
//! `state` of 256 bits from the caller's CSPRNG, and, when `openid` is in the
//! scope, a `nonce` of 256 bits. The token request repeats the
//! `redirect_uri` byte for byte (RFC 6749 §4.1.3) and sends the
//! `code_verifier`.
//!
//! The whole sign-in with canned provider responses (a real program sends
//! the requests with an adapter such as `grantflow-ureq`):
//!
//! ```
//! # use grantflow::JwkSet;
//! use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Flow, Issuer, Scope, Step, UnixTime};
//! use grantflow::IdTokenPolicy;
//! use grantflow::PendingAuthorization;
//! # use base64::Engine as _;
//! # fn b64(bytes: &[u8]) -> String { base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes) }
//! # struct Counter(u8);
//! # impl rand_core::TryRng for Counter {
//! #     type Error = core::convert::Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(u32::from(self.0)) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(u64::from(self.0)) }
//! #     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
//! #         for byte in dst { self.0 = self.0.wrapping_add(1); *byte = self.0; } Ok(())
//! #     }
//! # }
//! # impl rand_core::TryCryptoRng for Counter {}
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A confidential web application of https://op.example.com. (A program
//! // would use grantflow::Discovery to fill all this in.)
//! let secret = "a client secret of at least thirty-two octets";
//! let client = Client::new(
//!     ClientId::new("web-app"),
//!     ClientAuth::ClientSecretBasic(ClientSecret::new(secret)),
//! )
//! .with_issuer(Issuer::new("https://op.example.com")?)
//! .with_authorization_endpoint(EndpointUrl::parse("https://op.example.com/authorize")?)
//! .with_token_endpoint(EndpointUrl::parse("https://op.example.com/token")?)
//! .with_jwks(JwkSet::default())
//! .with_id_token_policy(IdTokenPolicy::default().with_algorithms([grantflow::Algorithm::Hs256]).with_hmac());
//! # let mut rng = Counter(0);
//! let now = UnixTime::from_secs(1_800_000_000);
//!
//! // 1. Redirect the user to the authorization URL; keep `pending` in the session.
//! let (url, pending) = client
//!     .authorize("https://app.example.com/callback")?
//!     .scope(Scope::new("openid")?)
//!     .scope(Scope::new("email")?)
//!     .begin(&mut rng, now)?;
//! assert!(url.as_str().starts_with("https://op.example.com/authorize?response_type=code&client_id=web-app"));
//! assert!(url.as_str().contains("&code_challenge_method=S256"));
//! let stored: String = serde_json::to_string(&pending)?;
//!
//! // 2. The provider redirects back with the code and the same state.
//! let pending: PendingAuthorization = serde_json::from_str(&stored)?;
//! let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
//! let nonce = url.query_pairs().find(|(k, _)| k == "nonce").unwrap().1.into_owned();
//! let mut exchange = pending.callback(
//!     &client,
//!     &format!("https://app.example.com/callback?code=SplxlOBeZQQYbYS6WxSbIA&state={state}"),
//! )?;
//!
//! // 3. Exchange the code: one token request.
//! let Step::Send(request) = exchange.start(now)? else { unreachable!() };
//! assert_eq!(request.uri(), "https://op.example.com/token");
//! let body = String::from_utf8(request.body().clone())?;
//! assert!(body.starts_with("grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA\
//!                           &redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&code_verifier="));
//!
//! // The provider answers with tokens and an ID token (here HS256-signed
//! // with the client secret, to keep the example self-contained).
//! # let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
//! # let claims = b64(format!(
//! #     r#"{{"iss":"https://op.example.com","sub":"248289761001","aud":"web-app","exp":1800000600,"iat":1800000000,"nonce":"{nonce}"}}"#
//! # ).as_bytes());
//! # let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
//! # let signature = b64(ring::hmac::sign(&key, format!("{header}.{claims}").as_bytes()).as_ref());
//! # let id_token = format!("{header}.{claims}.{signature}");
//! let response = http::Response::builder()
//!     .status(200)
//!     .header("content-type", "application/json")
//!     .body(format!(
//!         r#"{{"access_token":"SlAV32hkKG","token_type":"Bearer","expires_in":3600,"id_token":"{id_token}"}}"#
//!     ).into_bytes())?;
//! let Step::Done(sign_in) = exchange.handle_response(response, now)? else { unreachable!() };
//!
//! // 4. The ID token was validated: signature, iss, aud, exp, iat, nonce.
//! let id_token = sign_in.id_token.expect("openid was requested");
//! assert_eq!(id_token.subject(), "248289761001");
//! assert_eq!(sign_in.tokens.access_token.secret(), "SlAV32hkKG");
//! # Ok(())
//! # }
//! ```

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::client::Client;
use crate::error::{CallbackError, Error, ErrorCode, ErrorResponse, IdTokenError, clean_text};
use crate::flow::{Flow, Step};
use crate::message::HttpResponse;
use crate::oidc::{Expected, IdToken, keys_may_be_stale, parse_jwks_response};
use crate::time::UnixTime;
use crate::token::{TokenSet, parse_tokens_for};
use crate::types::{Scope, join_scopes};

impl Client {
    /// Starts an authorization request (RFC 6749 §4.1.1) that sends the
    /// user back to `redirect_uri`; see [`PendingAuthorization`].
    ///
    /// The redirect URI must be absolute, without a fragment, and not plain
    /// `http` except to loopback ([`Error::InvalidRedirectUri`]). It is kept
    /// byte for byte and repeated in the token request.
    pub fn authorize(&self, redirect_uri: &str) -> Result<AuthorizationRequest, Error> {
        AuthorizationRequest::new(self.clone(), redirect_uri)
    }
}

/// The longest server-supplied value quoted in an error.
const MAX_QUOTE: usize = 256;

/// Parameters [`AuthorizationRequest::param`] refuses: the flow sets them
/// itself, or they have a method of their own whose value the flow must know
/// (`max_age` is checked against `auth_time`).
const RESERVED: [&str; 13] = [
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
];

/// Random octets behind `state`, `nonce` and the PKCE verifier: 256 bits.
const RANDOM_OCTETS: usize = 32;

/// A PKCE code verifier (RFC 7636 §4.1): 43 to 128 characters of
/// `[A-Za-z0-9-._~]`. A secret until the token request: redacted in `Debug`,
/// zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PkceVerifier(String);

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier(<redacted>)")
    }
}

impl PkceVerifier {
    /// A fresh verifier: 32 octets from `rng`, base64url-encoded (43
    /// characters, RFC 7636 §4.1's recommendation).
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        PkceVerifier(random_token(rng))
    }

    /// The verifier for these random octets: their base64url encoding. RFC
    /// 7636 Appendix B's octets give `dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk`.
    /// Fails unless the encoding is 43 to 128 characters long (32 to 96 octets).
    pub fn from_bytes(octets: &[u8]) -> Result<Self, Error> {
        if !(32..=96).contains(&octets.len()) {
            return Err(Error::InvalidPkceVerifier);
        }
        Ok(PkceVerifier(URL_SAFE_NO_PAD.encode(octets)))
    }

    /// The verifier itself, as sent in the token request.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The `code_challenge` for `method` (RFC 7636 §4.2): for `S256`,
    /// `BASE64URL(SHA256(ASCII(code_verifier)))`.
    pub fn challenge(&self, method: PkceMethod) -> String {
        match method {
            PkceMethod::S256 => {
                let digest = ring::digest::digest(&ring::digest::SHA256, self.0.as_bytes());
                URL_SAFE_NO_PAD.encode(digest.as_ref())
            }
            PkceMethod::Plain => self.0.clone(),
        }
    }
}

/// A PKCE code challenge method (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum PkceMethod {
    /// `S256`: the challenge is the SHA-256 of the verifier. Always the default.
    S256,
    /// `plain`: the challenge is the verifier. Only for servers that cannot
    /// do `S256` (RFC 7636 §4.2), and only when asked for explicitly.
    Plain,
}

impl PkceMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "S256",
            PkceMethod::Plain => "plain",
        }
    }
}

/// An authorization request being built. Made by [`Client::authorize`];
/// [`begin`](Self::begin) turns it into the URL to send the user to.
#[derive(Debug)]
pub struct AuthorizationRequest {
    client: Client,
    redirect_uri: String,
    scopes: Vec<Scope>,
    prompt: Option<String>,
    max_age: Option<u64>,
    login_hint: Option<String>,
    ui_locales: Option<String>,
    acr_values: Option<String>,
    resources: Vec<String>,
    params: Vec<(String, String)>,
    pkce: PkceMethod,
}

/// Checks a redirection URI (RFC 6749 §3.1.2, RFC 8252, RFC 9700 §2.1):
/// absolute, no fragment, and not plain `http` except to loopback. Private-use
/// schemes of native apps (`com.example.app:/cb`) are allowed.
fn check_redirect_uri(redirect_uri: &str) -> Result<(), Error> {
    let url = url::Url::parse(redirect_uri).map_err(|_| Error::InvalidRedirectUri {
        reason: "not an absolute url",
    })?;
    if url.fragment().is_some() {
        return Err(Error::InvalidRedirectUri {
            reason: "it has a fragment",
        });
    }
    if url.scheme() == "http" && !crate::endpoint::is_loopback(&url) {
        return Err(Error::InvalidRedirectUri {
            reason: "http is allowed for loopback only",
        });
    }
    if matches!(url.scheme(), "javascript" | "data" | "file") {
        return Err(Error::InvalidRedirectUri {
            reason: "scheme not allowed",
        });
    }
    Ok(())
}

impl AuthorizationRequest {
    pub(crate) fn new(client: Client, redirect_uri: &str) -> Result<Self, Error> {
        check_redirect_uri(redirect_uri)?;
        Ok(AuthorizationRequest {
            client,
            redirect_uri: redirect_uri.to_owned(),
            scopes: Vec::new(),
            prompt: None,
            max_age: None,
            login_hint: None,
            ui_locales: None,
            acr_values: None,
            resources: Vec::new(),
            params: Vec::new(),
            pkce: PkceMethod::S256,
        })
    }

    /// Asks for one more scope. With `openid`, this is an OpenID Connect
    /// authentication request: a `nonce` is sent and an ID token required.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scopes.push(scope);
        self
    }

    /// Asks for these scopes too.
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.scopes.extend(scopes);
        self
    }

    /// `prompt` (OIDC Core §3.1.2.1): `none`, `login`, `consent`,
    /// `select_account`, space-separated.
    #[must_use]
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// `max_age` in seconds: the ID token must then carry an `auth_time`
    /// no older than this, which the exchange checks (OIDC Core §3.1.2.1).
    #[must_use]
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// `login_hint`.
    #[must_use]
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// `ui_locales`, space-separated BCP 47 tags.
    #[must_use]
    pub fn ui_locales(mut self, locales: impl Into<String>) -> Self {
        self.ui_locales = Some(locales.into());
        self
    }

    /// `acr_values`, space-separated.
    #[must_use]
    pub fn acr_values(mut self, values: impl Into<String>) -> Self {
        self.acr_values = Some(values.into());
        self
    }

    /// An RFC 8707 resource indicator. May be repeated.
    #[must_use]
    pub fn resource(mut self, resource: url::Url) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Any other parameter. Names the flow sets itself, or that have their
    /// own method, make [`begin`](Self::begin) fail with
    /// [`Error::ReservedParameter`].
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Uses the PKCE `plain` method instead of `S256`. Only for a server that
    /// cannot do `S256` (RFC 7636 §4.2): `plain` offers no protection if the
    /// authorization request is observed.
    #[must_use]
    pub fn insecure_pkce_plain(mut self) -> Self {
        self.pkce = PkceMethod::Plain;
        self
    }

    /// Builds the authorization URL (RFC 6749 §4.1.1) with fresh `state`,
    /// PKCE verifier and, for `openid`, `nonce` from `rng`, and the
    /// [`PendingAuthorization`] to keep until the user comes back.
    pub fn begin(
        self,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<(url::Url, PendingAuthorization), Error> {
        if let Some((name, _)) = self
            .params
            .iter()
            .find(|(name, _)| RESERVED.contains(&name.as_str()))
        {
            return Err(Error::ReservedParameter { name: name.clone() });
        }
        let openid = self.scopes.iter().any(|scope| scope.as_str() == "openid");
        let issuer = self
            .client
            .issuer()
            .map(|issuer| issuer.as_str().to_owned());
        if openid && issuer.is_none() {
            return Err(Error::IssuerNotConfigured);
        }
        let endpoint = self
            .client
            .require_endpoint(|e| e.authorization.as_ref(), "authorization_endpoint")?;
        let state = random_token(rng);
        let verifier = PkceVerifier::generate(rng);
        let nonce = openid.then(|| random_token(rng));

        let mut url = endpoint.as_url().clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", self.client.client_id().as_str())
                .append_pair("redirect_uri", &self.redirect_uri);
            if !self.scopes.is_empty() {
                query.append_pair("scope", &join_scopes(&self.scopes));
            }
            query
                .append_pair("state", &state)
                .append_pair("code_challenge", &verifier.challenge(self.pkce))
                .append_pair("code_challenge_method", self.pkce.as_str());
            if let Some(nonce) = &nonce {
                query.append_pair("nonce", nonce);
            }
            let optional = [
                ("prompt", self.prompt.as_deref()),
                ("login_hint", self.login_hint.as_deref()),
                ("ui_locales", self.ui_locales.as_deref()),
                ("acr_values", self.acr_values.as_deref()),
            ];
            if let Some(max_age) = self.max_age {
                query.append_pair("max_age", &max_age.to_string());
            }
            for (name, value) in optional {
                if let Some(value) = value {
                    query.append_pair(name, value);
                }
            }
            for resource in &self.resources {
                query.append_pair("resource", resource);
            }
            for (name, value) in &self.params {
                query.append_pair(name, value);
            }
        }
        let pending = PendingAuthorization {
            issuer,
            client_id: self.client.client_id().as_str().to_owned(),
            redirect_uri: self.redirect_uri,
            state: Secret(state),
            code_verifier: verifier,
            nonce: nonce.map(Secret),
            max_age: self.max_age,
            iss_required: self.client.callback_iss_required(),
            began_at: now,
        };
        Ok((url, pending))
    }
}

/// 32 octets from `rng`, base64url-encoded: a `state`, `nonce` or PKCE
/// verifier of 256 bits (43 characters).
fn random_token(rng: &mut impl CryptoRng) -> String {
    let mut octets = [0u8; RANDOM_OCTETS];
    rng.fill_bytes(&mut octets);
    let token = URL_SAFE_NO_PAD.encode(octets);
    octets.zeroize();
    token
}

/// A string kept out of `Debug` and zeroized on drop (`state`, `nonce`).
#[derive(Zeroize, ZeroizeOnDrop, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct Secret(String);

/// What an authorization request must remember until the user comes back:
/// the issuer it went to, the redirect URI, `state`, the PKCE verifier,
/// `nonce`, `max_age` and when it began.
///
/// Keep it in the user's session (it serializes with serde; treat the
/// serialized form as a secret: it holds the PKCE verifier) and hand it to
/// [`callback`](Self::callback) once. It is not `Clone`: the callback
/// consumes it, so a code cannot be redeemed twice with it.
///
/// ```compile_fail
/// fn copies<T: Clone>() {}
/// copies::<grantflow::PendingAuthorization>(); // not Clone: single use
/// ```
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PendingAuthorization {
    issuer: Option<String>,
    client_id: String,
    redirect_uri: String,
    state: Secret,
    code_verifier: PkceVerifier,
    /// Present exactly when `openid` was requested.
    nonce: Option<Secret>,
    max_age: Option<u64>,
    iss_required: bool,
    began_at: UnixTime,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("state", &"<redacted>")
            .field("code_verifier", &self.code_verifier)
            .field("nonce", &self.nonce.as_ref().map(|_| "<redacted>"))
            .field("max_age", &self.max_age)
            .field("began_at", &self.began_at)
            .finish()
    }
}

/// The parameters of an authorization response this module reads.
const RESPONSE_PARAMETERS: [&str; 6] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

impl PendingAuthorization {
    /// The issuer the request was sent to, if the client had one.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The redirect URI, exactly as sent.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// When [`AuthorizationRequest::begin`] ran.
    pub fn began_at(&self) -> UnixTime {
        self.began_at
    }

    /// The `max_age` sent, if any.
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    /// Handles the redirect back from the authorization server (RFC 6749
    /// §4.1.2): `redirect` is the full redirect URL or just its query
    /// (with or without the leading `?`).
    ///
    /// In order: a parameter this module reads appearing twice fails
    /// ([`CallbackError::DuplicateParameter`]); `state` must be present and
    /// equal, compared in constant time; `iss` (RFC 9207) must equal the
    /// issuer when present, and be present when the provider's metadata says
    /// `authorization_response_iss_parameter_supported`; only then does an
    /// error response become [`Error::OAuth`] (`access_denied`, …, with
    /// status 0: it came in a redirect, not an HTTP response); finally a
    /// `code` must be present. Empty values count as absent (RFC 6749 §3.1).
    ///
    /// `client` must be the client the request was begun with.
    pub fn callback(self, client: &Client, redirect: &str) -> Result<CodeExchange, Error> {
        if client.client_id().as_str() != self.client_id
            || client.issuer().map(|issuer| issuer.as_str()) != self.issuer.as_deref()
        {
            return Err(CallbackError::WrongClient.into());
        }
        let query = query_of(redirect)?;
        let mut values: [Option<String>; RESPONSE_PARAMETERS.len()] = Default::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
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
            *slot = Some(value.into_owned());
        }
        let [code, state, iss, error, description, uri] =
            values.map(|value| value.filter(|value| !value.is_empty()));

        let state = state.ok_or(CallbackError::MissingState)?;
        if !bool::from(state.as_bytes().ct_eq(self.state.0.as_bytes())) {
            return Err(CallbackError::StateMismatch.into());
        }
        match (&self.issuer, iss) {
            (Some(expected), Some(found)) if *expected != found => {
                return Err(CallbackError::IssMismatch {
                    expected: expected.clone(),
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
        Ok(CodeExchange {
            client: client.clone(),
            code: Secret(code),
            pending: self,
            state: ExchangeState::New,
        })
    }
}

/// The query of a redirect URL, or the string itself when it is one.
fn query_of(redirect: &str) -> Result<String, CallbackError> {
    if let Ok(url) = url::Url::parse(redirect) {
        return Ok(url.query().unwrap_or_default().to_owned());
    }
    let query = redirect.strip_prefix('?').unwrap_or(redirect);
    // A query may hold unencoded `:` and `/` (RFC 3986 §3.4), as in
    // `iss=https://op.example.com`; but `://` before the first `=` means a
    // URL that failed to parse, not a query.
    let head = query.split('=').next().unwrap_or_default();
    if query.contains('#') || head.contains("://") {
        return Err(CallbackError::InvalidUrl);
    }
    Ok(query.to_owned())
}

/// The outcome of a sign-in: the tokens, and the validated ID token when
/// the server sent one.
#[derive(Debug)]
#[non_exhaustive]
pub struct SignIn {
    /// The token response.
    pub tokens: TokenSet,
    /// The ID token, validated per OIDC Core §3.1.3.7. Always present when
    /// `openid` was requested; `None` for a plain OAuth request (an ID token
    /// sent anyway is validated when the client knows its issuer, and
    /// otherwise left unvalidated in [`TokenSet::id_token`]).
    pub id_token: Option<IdToken>,
}

#[derive(Debug)]
enum ExchangeState {
    New,
    AwaitingTokens,
    AwaitingKeys(Box<TokenSet>),
    Finished,
}

const FLOW: &str = "authorization code exchange";

/// The code exchange (RFC 6749 §4.1.3) as a [`Flow`], with ID token
/// validation and, on an unknown `kid`, one JWKS re-fetch. Made by
/// [`PendingAuthorization::callback`]; see the [module docs](self).
pub struct CodeExchange {
    client: Client,
    code: Secret,
    pending: PendingAuthorization,
    state: ExchangeState,
}

impl fmt::Debug for CodeExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeExchange")
            .field("client", &self.client)
            .field("code", &"<redacted>")
            .field("pending", &self.pending)
            .field("state", &self.state)
            .finish()
    }
}

impl CodeExchange {
    fn validate(&self, tokens: &TokenSet, now: UnixTime) -> Result<Option<IdToken>, Error> {
        let Some(raw) = &tokens.id_token else {
            if self.pending.nonce.is_some() {
                return Err(IdTokenError::NotReturned.into());
            }
            return Ok(None);
        };
        let Some(validator) = self.client.id_token_validator() else {
            // A plain OAuth client without an issuer: nothing to validate
            // against; the raw token stays in `tokens.id_token`.
            return Ok(None);
        };
        let mut expected = Expected::none()
            .access_token(tokens.access_token.secret())
            .code(&self.code.0);
        if let Some(nonce) = &self.pending.nonce {
            expected = expected.nonce(&nonce.0);
        }
        if let Some(max_age) = self.pending.max_age {
            expected = expected.max_age(max_age);
        }
        let keys = self.client.keys();
        validator.validate(raw, &keys, expected, now).map(Some)
    }

    /// Validates and ends the flow, or, when `may_refetch` and the keys look
    /// stale, asks for the key set. The state is `Finished` on entry.
    fn finish(
        &mut self,
        tokens: TokenSet,
        now: UnixTime,
        may_refetch: bool,
    ) -> Result<Step<SignIn>, Error> {
        match self.validate(&tokens, now) {
            Ok(id_token) => Ok(Step::Done(SignIn { tokens, id_token })),
            Err(error)
                if may_refetch
                    && tokens
                        .id_token
                        .as_ref()
                        .is_some_and(|raw| keys_may_be_stale(&error, raw.as_str())) =>
            {
                // Key rotation (OIDC Core §10.1.1): fetch the key set once
                // more, unless one was fetched too recently.
                match self.client.jwks_refetch(now) {
                    Some(request) => {
                        self.state = ExchangeState::AwaitingKeys(Box::new(tokens));
                        Ok(Step::Send(request))
                    }
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }
}

impl Flow for CodeExchange {
    type Output = SignIn;

    fn start(&mut self, _now: UnixTime) -> Result<Step<SignIn>, Error> {
        if !matches!(self.state, ExchangeState::New) {
            return Err(Error::UnexpectedCall {
                flow: FLOW,
                call: "start after the flow started",
            });
        }
        let request = self.client.token_request([
            ("grant_type", "authorization_code"),
            ("code", self.code.0.as_str()),
            ("redirect_uri", self.pending.redirect_uri.as_str()),
            ("code_verifier", self.pending.code_verifier.secret()),
        ])?;
        self.state = ExchangeState::AwaitingTokens;
        Ok(Step::Send(request))
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<SignIn>, Error> {
        match core::mem::replace(&mut self.state, ExchangeState::Finished) {
            ExchangeState::AwaitingTokens => {
                let tokens = parse_tokens_for(&self.client, &response, now)?;
                self.finish(tokens, now, true)
            }
            ExchangeState::AwaitingKeys(tokens) => {
                let keys = parse_jwks_response(&response)?;
                self.client.store_jwks(keys);
                self.finish(*tokens, now, false)
            }
            ExchangeState::New => {
                self.state = ExchangeState::New;
                Err(Error::UnexpectedCall {
                    flow: FLOW,
                    call: "handle_response before start",
                })
            }
            ExchangeState::Finished => Err(Error::UnexpectedCall {
                flow: FLOW,
                call: "handle_response after the flow ended",
            }),
        }
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<SignIn>, Error> {
        Err(Error::UnexpectedCall {
            flow: FLOW,
            call: "handle_timeout (this flow never waits)",
        })
    }
}
