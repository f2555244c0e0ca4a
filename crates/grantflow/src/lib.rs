//! grantflow does no IO, reads no clock and draws no OS entropy: it is a
//! sans-IO OAuth 2.0 and OpenID Connect client core whose flows describe HTTP
//! requests and consume HTTP responses.
//!
//! Each flow is a state machine behind one trait, [`Flow`]. A driver calls
//! [`Flow::start`], performs each [`Step::Send`] request with any HTTP client,
//! hands the response to [`Flow::handle_response`], waits on
//! [`Step::WaitUntil`] and calls [`Flow::handle_timeout`], and stops at
//! [`Step::Done`]. Time is passed in as a [`UnixTime`]; randomness, when a
//! flow needs it, comes from a caller-supplied [`rand_core`] generator. The
//! same flow therefore runs under a blocking program (`grantflow-ureq`), any
//! async executor, a fuzzer, or a test that plays the server.
//!
//! # What is here, by specification
//!
//! | what | entry points | specification |
//! |---|---|---|
//! | the flow contract | [`Flow`], [`Step`], [`Delayed`], [`UnixTime`], [`HttpRequest`], [`HttpResponse`], [`Redacted`] | — |
//! | client registration and authentication | [`Client`], [`ClientAuth`], [`Endpoints`] | RFC 6749 §2.3 |
//! | endpoint URLs, issuers, redirect URIs | [`EndpointUrl`], [`Issuer`], [`RedirectUri`] | RFC 6749 §3.1, §3.1.2, RFC 8414 §2 |
//! | token responses, with provider tolerances | [`TokenSet`], [`parse_token_response`] | RFC 6749 §5.1, §5.2 |
//! | sealed cookies (where each token belongs) | [`Sealer`], [`SealKey`], [`SealError`] | RFC 8439, RFC 6265 §6.1, RFC 9700 §4.14 |
//! | client credentials grant | [`Client::client_credentials`], [`ClientCredentials`] | RFC 6749 §4.4, RFC 8707 |
//! | OpenID Connect sign-in (code flow, PKCE, `nonce`, ID token) | [`Client::sign_in`], [`PendingSignIn`], [`SignInExchange`], [`SignIn`] | OIDC Core §3.1, RFC 7636, RFC 9207 |
//! | authorization code grant with PKCE (plain OAuth 2.0) | [`Client::authorize`], [`PendingAuthorization`], [`CodeExchange`], [`RedirectUri`] | RFC 6749 §4.1, RFC 7636, RFC 9207 |
//! | pushed authorization requests (for either of the two above) | [`SignInRequest::push`], [`SignInRequest::begin_or_push`], [`PushedAuthorization`] | RFC 9126 |
//! | device authorization grant (TVs, command-line tools) | [`Client::device_authorization`], [`DeviceAuthorizationRequest`], [`DeviceAuthorization`], [`DevicePoll`], [`DeviceTokens`] | RFC 8628 |
//! | discovery | [`Discovery`], [`ProviderMetadata`], [`Client::from_provider`] | OIDC Discovery 1.0, RFC 8414 |
//! | ID token validation, key rotation | [`IdTokenValidator`], [`IdTokenPolicy`], [`IdToken`] | OIDC Core §3.1.3.7, §10.1.1 |
//! | token revocation (logout) | [`Client::revoke_refresh_token`], [`Client::revoke_access_token`], [`Client::revoke`], [`Revocation`], [`TokenTypeHint`] | RFC 7009 |
//! | token introspection (resource servers) | [`Client::introspect`], [`Introspection`], [`IntrospectionResponse`] | RFC 7662 |
//! | UserInfo, with the ID token or a stored `sub` | [`Client::userinfo`], [`Client::userinfo_for_subject`], [`UserInfoRequest`] | OIDC Core §5.3 |
//! | JWS, JWK sets, algorithms | [`CompactJws`], [`JwkSet`], [`Algorithm`] | RFC 7515, RFC 7517, RFC 7518, RFC 8037 |
//! | JWT client authentication (`private_key_jwt`, `client_secret_jwt`) | [`ClientAuth::private_key_jwt`], [`ClientAuth::client_secret_jwt`], [`ClientAssertion`], [`AssertionAudience`] | RFC 7523 §2.2, OIDC Core §9 |
//! | DPoP: sender-constrained tokens, the nonce retry, resource requests | [`DpopKey`], [`Client::with_dpop`], [`Client::dpop_resource_headers`], [`Client::dpop_resource_challenge`] | RFC 9449, RFC 7638 |
//! | signing (client assertions, DPoP proofs), keys from PEM or JWK | [`JwsSigner`], [`Ed25519Signer`], [`Es256Signer`], [`pkcs8_pem_to_der`] | RFC 7515 §5.1, RFC 7517, RFC 7468 |
//! | errors | [`Error`], [`ErrorKind`], [`ErrorResponse`] | RFC 6749 §5.2 |
//!
//! # How the crate is built
//!
//! The source is split into rooms, one per concern, and a room only imports
//! the rooms below it (a test of the workspace fails on an upward import):
//!
//! ```text
//! time, alg  →  error  →  types, endpoint  →  message  →  flow  →  wire  →  jose
//!   →  client  →  token  →  oidc  →  grants, endpoints  →  lifecycle
//! ```
//!
//! `wire` is the tolerant edge (body limits, one duplicate-refusing JSON
//! reader, provider quirks); `token` holds token sets and sealed cookies;
//! `oidc` holds discovery, ID tokens, UserInfo and the logout URL; `grants`
//! holds the grants (client credentials, authorization code and PAR,
//! refresh, device), each adding its own `impl Client { pub fn … }`;
//! `endpoints` revocation and introspection; `lifecycle` the token
//! [`Session`] and logout.
//! Modules are private: every public type has one path, at the crate root.
//!
//! **Randomness and signatures inside a running flow.** Randomness is drawn
//! when a flow is built (`begin(rng, now)` draws `state`, `nonce` and the
//! PKCE verifier), never while it runs; the unique `jti` of JWT client
//! assertions and DPoP proofs is a 128-bit prefix drawn when the
//! [`ClientAuth`] or [`DpopKey`] is built, plus a counter shared by every
//! clone of the client. Signing goes through the
//! [`JwsSigner`] trait; the core ships only signers that need no generator
//! ([`Ed25519Signer`], and [`Es256Signer`] with RFC 6979 deterministic
//! nonces). Signers that need OS entropy (RSA-PSS, randomized ECDSA) come
//! from an adapter or the caller.
//!
//! **The authorization code callback takes the client.**
//! [`PendingAuthorization::callback`] takes `&Client` and `now`: the pending
//! value stored in the user's session carries no endpoints or keys, only what
//! the request sent, so the client it was begun with must be handed back
//! (and is checked to be the same registration).
//!
//! See [`Flow`] for a driver loop written by hand.
//!
//! # Cargo features
//!
//! Both are off by default.
//!
//! - `testing`: test support (a deterministic generator, canned responses,
//!   fixed-key signers, a fake-time driver) for tests, fuzzers and examples;
//!   never in a production build.
//! - `arbitrary`: [`arbitrary::Arbitrary`](https://docs.rs/arbitrary) for the
//!   values a caller builds and passes in ([`UnixTime`], [`ClientId`],
//!   [`ClientSecret`], [`Scope`], [`EndpointUrl`], [`Issuer`],
//!   [`RedirectUri`], [`ClientAuth`] without keys, [`Endpoints`],
//!   [`TokenSet`], [`TokenType`], [`Identity`], [`TokenTypeHint`],
//!   [`LogoutOptions`], [`Algorithm`], [`PkceMethod`], the tokens), so that a
//!   program fuzzing its own integration can draw grantflow values from the
//!   fuzzer's bytes. Each is built through its public constructor: a
//!   validated type is only ever generated valid (an `https` or loopback
//!   `http` URL from a host and path segments, a scope from the RFC 6749
//!   §3.3 characters), never around its checks.

mod alg;
#[cfg(feature = "arbitrary")]
mod arbitrary;
mod client;
mod endpoint;
mod endpoints;
mod error;
mod flow;
mod grants;
mod jose;
mod lifecycle;
mod message;
mod oidc;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod token;
mod types;
mod wire;

/// The `http` version whose request and response types flows use.
pub use http;
/// The `rand_core` version whose generators flows accept.
pub use rand_core;
/// The `url` version whose [`Url`](url::Url) the API takes (RFC 8707 resources).
pub use url;

pub use crate::alg::{Algorithm, KeyType};
pub use crate::client::{
    AssertionAudience, Client, ClientAssertion, ClientAuth, DpopKey, Endpoints, IdTokenPolicy,
};
pub use crate::endpoint::{EndpointUrl, IntoRedirectUri, Issuer, RedirectUri};
pub use crate::endpoints::{Introspection, IntrospectionResponse, Revocation, TokenTypeHint};
pub use crate::error::{
    CallbackError, Error, ErrorCode, ErrorKind, ErrorResponse, IdTokenError, JwsError,
    MalformedResponse, SealError, SignError,
};
pub use crate::flow::{Delayed, Flow, Step};
pub use crate::grants::{
    AuthorizationRequest, ClientCredentials, CodeExchange, DEFAULT_MAX_PENDING_AGE,
    DeviceAuthorization, DeviceAuthorizationRequest, DevicePoll, DeviceTokens,
    PendingAuthorization, PendingSignIn, PkceMethod, PkceVerifier, PushedAuthorization, Refresh,
    Refreshed, Rotation, SignIn, SignInExchange, SignInRequest,
};
#[cfg(feature = "es256")]
pub use crate::jose::Es256Signer;
pub use crate::jose::{
    CompactJws, Ed25519Signer, JoseHeader, Jwk, JwkSet, JwsSigner, pkcs8_pem_to_der, sign_compact,
};
pub use crate::lifecycle::{
    Access, Applied, DEFAULT_REFRESH_MARGIN, LoggedOut, Logout, RETRY_DELAY, Session,
};
pub use crate::message::{HttpRequest, HttpResponse, Redacted};
pub use crate::oidc::{
    DiscoveredProvider, Discovery, Expected, IdToken, IdTokenClaims, IdTokenValidator, Identity,
    LogoutOptions, ProviderMetadata, UserInfo, UserInfoRequest,
};
pub use crate::time::UnixTime;
pub use crate::token::{
    MAX_SEALED_LEN, SealKey, Sealer, TokenSet, TokenType, parse_token_response,
};
pub use crate::types::{AccessToken, ClientId, ClientSecret, RawIdToken, RefreshToken, Scope};
pub use crate::wire::{Challenge, MAX_BODY, parse_challenges};
