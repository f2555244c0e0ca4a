//! The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636), and
//! OpenID Connect sign-in on top of it (OIDC Core §3.1), with the RFC 9207
//! `iss` check and the RFC 9700 §2.1 defaults.
//!
//! Two entry points, one implementation: [`Client::sign_in`] signs a user
//! in (scope `openid`, a `nonce`, and an ID token that is required and
//! validated: the outcome is a [`SignIn`] whose ID token is not an
//! `Option`); [`Client::authorize`] gets an access token for an API (plain
//! OAuth 2.0: no `nonce`, no ID token, the outcome is a [`TokenSet`]).
//!
//! A human step sits in the middle, so the grant is split into consuming
//! transitions; none of the values can be reused where reuse would be a bug:
//!
//! ```text
//!  Client::sign_in(redirect_uri)               Client::authorize(redirect_uri)
//!    │ .scope(..) .max_age(..) .prompt(..) …     │ .scope(..) (not openid) .resource(..) …
//!    ▼                                           ▼
//!  SignInRequest                               AuthorizationRequest
//!    │ begin(rng, now): nonce, state, PKCE       │ begin(rng, now): state, PKCE
//!    ▼                                           ▼
//!  (authorization URL, PendingSignIn)          (authorization URL, PendingAuthorization)
//!    │        kept in the user's session between the two requests (serde;
//!    │        not Clone); the user signs in at the provider and is sent
//!    │        back to redirect_uri; the app REMOVES the pending value from
//!    │        the session, then:
//!    ▼                                           ▼
//!  PendingSignIn::callback(client, redirect, now)   PendingAuthorization::callback(…)
//!    │ checks: the same client; not older than max_pending_age (10 min by
//!    │ default; 60 s of clock skew backwards); no repeated parameter;
//!    │ state (constant time); RFC 9207 iss; only then an error response
//!    │ becomes Error::OAuth; a code
//!    ▼                                           ▼
//!  SignInExchange (a Flow)                     CodeExchange (a Flow)
//!    │ start ──▶ Send(token request)             │ start ──▶ Send(token request)
//!    │ handle_response: tokens; the ID token     │ handle_response: tokens
//!    │ is required and validated (OIDC Core      ▼
//!    │ §3.1.3.7); a kid the cached keys lack   Done(TokenSet)
//!    │ ──▶ Send(JWKS request)
//!    │     handle_response ──┐
//!    ▼                       │ validated with fresh keys
//!  Done(SignIn { tokens, id_token }) ◀──┘
//! ```
//!
//! Every request carries PKCE with `S256` (RFC 7636 §4.2; `plain` only
//! behind `insecure_pkce_plain`, never as a fallback) and a `state` of 256
//! bits from the caller's CSPRNG; a sign-in also sends scope `openid` first
//! and a `nonce` of 256 bits. The token request repeats the
//! [`RedirectUri`] byte for byte (RFC 6749 §4.1.3) and sends the
//! `code_verifier`. The pending values hold no endpoints or keys, so the
//! callback takes the client back (and checks it is the same registration).
//!
//! **Pushed authorization requests (RFC 9126).** `push(rng, now)` on
//! either request, in place of `begin`, gives a [`PushedAuthorization`]
//! flow: it posts every parameter `begin` would put in the URL to the
//! provider's `pushed_authorization_request_endpoint`, with client
//! authentication and `client_id` in the body, and ends in a URL carrying
//! only `client_id` and the `request_uri` the provider returned, with the
//! same pending value, so the callback and the code exchange do not change.
//! A provider whose metadata says `require_pushed_authorization_requests`
//! makes `begin` fail with [`Error::PushedAuthorizationRequired`];
//! `begin_or_push` serves every provider with one code path (it pushes only
//! when required, and otherwise ends at `start` with `begin`'s URL).
//!
//! A whole sign-in with canned provider responses (a real program sends the
//! requests with an adapter such as `grantflow-ureq`):
//!
//! ```
//! # use grantflow::JwkSet;
//! use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Flow, Issuer, Scope, Step, UnixTime};
//! use grantflow::IdTokenPolicy;
//! use grantflow::PendingSignIn;
//! # use base64::Engine as _;
//! # fn b64(bytes: &[u8]) -> String { base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes) }
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
//! # let mut rng = grantflow::testing::CountingRng::new(0); // a real program: the OS generator
//! let began = UnixTime::from_secs(1_800_000_000);
//!
//! // 1. The login route: redirect the user to the authorization URL; keep
//! //    `pending` in the session.
//! let (url, pending) = client
//!     .sign_in("https://app.example.com/callback")?
//!     .scope(Scope::new("email")?)
//!     .begin(&mut rng, began)?;
//! assert!(url.as_str().starts_with(
//!     "https://op.example.com/authorize?response_type=code&client_id=web-app\
//!      &redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&scope=openid+email&state="
//! ));
//! assert!(url.as_str().contains("&code_challenge_method=S256&nonce="));
//! let stored: String = serde_json::to_string(&pending)?;
//!
//! // 2. The callback route, two minutes later: the provider redirected back
//! //    with the code and the same state. Take the pending value OUT of the
//! //    session first, so a replayed callback finds nothing.
//! let now = began.saturating_add_secs(120);
//! let pending: PendingSignIn = serde_json::from_str(&stored)?;
//! let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
//! let nonce = url.query_pairs().find(|(k, _)| k == "nonce").unwrap().1.into_owned();
//! let mut exchange = pending.callback(
//!     &client,
//!     &format!("https://app.example.com/callback?code=SplxlOBeZQQYbYS6WxSbIA&state={state}"),
//!     now,
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
//! #     r#"{{"iss":"https://op.example.com","sub":"248289761001","aud":"web-app","exp":1800000600,"iat":1800000100,"nonce":"{nonce}"}}"#
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
//! // 4. The ID token was validated (signature, iss, aud, exp, iat, nonce),
//! //    and it is there: no Option. The user is (iss, sub), never the email.
//! assert_eq!(sign_in.id_token.subject(), "248289761001");
//! assert_eq!(sign_in.tokens.access_token.secret(), "SlAV32hkKG");
//! assert_eq!(sign_in.tokens.expires_at, Some(now.saturating_add_secs(3600)));
//!
//! // The same pending value after its 10 minutes is refused.
//! let late = began.saturating_add_secs(grantflow::DEFAULT_MAX_PENDING_AGE + 1);
//! let stale: PendingSignIn = serde_json::from_str(&stored)?;
//! let refused = stale.callback(&client, &format!("?code=SplxlOBeZQQYbYS6WxSbIA&state={state}"), late);
//! assert!(matches!(
//!     refused,
//!     Err(grantflow::Error::Callback(grantflow::CallbackError::Expired { .. }))
//! ));
//! # Ok(())
//! # }
//! ```

mod callback;
mod exchange;
mod par;
mod pkce;
mod request;

use zeroize::{Zeroize, ZeroizeOnDrop};

pub use callback::{PendingAuthorization, PendingSignIn};
pub use exchange::{CodeExchange, SignIn, SignInExchange};
pub use par::PushedAuthorization;
pub use pkce::{PkceMethod, PkceVerifier};
pub use request::{AuthorizationRequest, DEFAULT_MAX_PENDING_AGE, SignInRequest};

use crate::client::Client;
use crate::endpoint::IntoRedirectUri;
use crate::error::Error;
#[cfg(doc)]
use crate::{endpoint::RedirectUri, token::TokenSet};

impl Client {
    /// Starts an OpenID Connect sign-in (OIDC Core §3.1.2.1) that sends the
    /// user back to `redirect_uri`: scope `openid` (always, first), a
    /// `nonce`, PKCE, and an ID token required and validated at the end.
    /// The [`SignInRequest`] builder adds scopes and parameters; `begin`
    /// gives the URL and a [`PendingSignIn`] for the session, whose
    /// `callback` gives the [`SignInExchange`] that ends in a [`SignIn`].
    ///
    /// `redirect_uri` is a [`RedirectUri`] (checked when it was made: keep
    /// one and pass `&redirect` to skip the check on every login), or a
    /// string that is checked as one ([`Error::InvalidRedirectUri`]:
    /// absolute, no fragment, `https`, `http` to loopback, or a private-use
    /// scheme with a dot). It is kept byte for byte and repeated in the
    /// token request.
    pub fn sign_in(&self, redirect_uri: impl IntoRedirectUri) -> Result<SignInRequest, Error> {
        SignInRequest::new(self, redirect_uri.into_redirect_uri()?)
    }

    /// Starts a plain OAuth 2.0 authorization request (RFC 6749 §4.1.1)
    /// that sends the user back to `redirect_uri`: an access token for an
    /// API, PKCE, no `nonce`, no ID token. Scope `openid` is refused (at
    /// `begin`, [`Error::OpenIdNeedsSignIn`]): use [`Client::sign_in`]. The
    /// [`AuthorizationRequest`] builder adds scopes and parameters; `begin`
    /// gives the URL and a [`PendingAuthorization`] for the session, whose
    /// `callback` gives the [`CodeExchange`] that ends in a [`TokenSet`].
    ///
    /// `redirect_uri` is a [`RedirectUri`], or a string that is checked as
    /// one ([`Error::InvalidRedirectUri`]). It is kept byte for byte and
    /// repeated in the token request.
    ///
    /// ```
    /// use grantflow::{Client, ClientAuth, ClientId, EndpointUrl, RedirectUri, Scope, UnixTime};
    ///
    /// # fn main() -> Result<(), grantflow::Error> {
    /// # let mut rng = grantflow::testing::CountingRng::new(0); // a real program: the OS generator
    /// let client = Client::new(ClientId::new("native-app"), ClientAuth::None)
    ///     .with_authorization_endpoint(EndpointUrl::parse("https://as.example.com/authorize")?)
    ///     .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token")?);
    /// let redirect = RedirectUri::new("com.example.app:/oauth2redirect")?;
    /// let (url, pending) = client
    ///     .authorize(&redirect)?
    ///     .scope(Scope::new("photos.read")?)
    ///     .max_pending_age(300)
    ///     .begin(&mut rng, UnixTime::from_secs(1_800_000_000))?;
    /// assert!(url.as_str().contains("&scope=photos.read&state="));
    /// assert_eq!(pending.expires_at(), UnixTime::from_secs(1_800_000_300));
    ///
    /// // OpenID Connect is a sign-in.
    /// let refused = client.authorize(&redirect)?.scope(Scope::new("openid")?).begin(&mut rng, UnixTime::from_secs(1_800_000_000));
    /// assert!(matches!(refused, Err(grantflow::Error::OpenIdNeedsSignIn)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn authorize(
        &self,
        redirect_uri: impl IntoRedirectUri,
    ) -> Result<AuthorizationRequest, Error> {
        AuthorizationRequest::new(self, redirect_uri.into_redirect_uri()?)
    }
}

/// A string kept out of `Debug` and zeroized on drop (`state`, `nonce`,
/// `code`).
#[derive(Zeroize, ZeroizeOnDrop, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct Secret(String);
