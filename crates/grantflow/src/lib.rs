//! grantflow does no IO, reads no clock and draws no OS entropy: it is a
//! sans-IO OAuth 2.0 and OpenID Connect client core whose flows describe HTTP
//! requests and consume HTTP responses.
//!
//! Each flow is a state machine behind one trait, [`Flow`]. A driver calls
//! [`Flow::start`], performs each [`Step::Send`] request with any HTTP client,
//! hands the response to [`Flow::handle_response`], and stops at
//! [`Step::Done`]. Time is passed in as a [`UnixTime`]; randomness, when a
//! flow needs it, comes from a caller-supplied [`rand_core`] generator. The
//! same flow therefore runs under a blocking program (`grantflow-ureq`), any
//! async executor, a fuzzer, or a test that plays the server.
//!
//! What exists today:
//!
//! - [`Client`]: client id, [`ClientAuth`] (public, `client_secret_basic`,
//!   `client_secret_post`) and endpoints;
//! - the token endpoint response parser, [`parse_token_response`], with the
//!   tolerances real providers need (see [`token`]);
//! - the client credentials grant, [`ClientCredentials`] (RFC 6749 §4.4);
//! - discovery, [`Discovery`]: OpenID and RFC 8414 metadata with the exact
//!   issuer check, then the provider's keys ([`discovery`]);
//! - the authorization code grant with PKCE and OpenID Connect sign-in:
//!   [`Client::authorize`] → [`PendingAuthorization`] → [`CodeExchange`]
//!   ([`authorization_code`], with the whole flow in a doctest);
//! - ID token validation, every step of OIDC Core §3.1.3.7, with one
//!   rate-limited key re-fetch on rotation ([`id_token`], [`jws`]);
//! - UserInfo, JSON or signed, with the `sub` check ([`userinfo`]).
//!
//! See [`Flow`] for a driver loop written by hand.

pub mod authorization_code;
pub mod client;
pub mod client_credentials;
pub mod discovery;
pub mod endpoint;
pub mod error;
pub mod flow;
pub mod http;
pub mod id_token;
pub mod jws;
pub mod response;
pub mod time;
pub mod token;
pub mod types;
pub mod userinfo;

/// The `rand_core` version whose generators flows accept.
pub use rand_core;
/// The `url` version whose [`Url`](url::Url) the API takes (RFC 8707 resources).
pub use url;

pub use crate::authorization_code::{
    AuthorizationRequest, CodeExchange, PendingAuthorization, PkceMethod, PkceVerifier, SignIn,
};
pub use crate::client::{Client, ClientAuth};
pub use crate::client_credentials::ClientCredentials;
pub use crate::discovery::{DiscoveredProvider, Discovery, Issuer, ProviderMetadata};
pub use crate::endpoint::EndpointUrl;
pub use crate::error::{Error, ErrorCode, ErrorResponse, MalformedResponse};
pub use crate::flow::{Flow, Step};
pub use crate::http::{HttpRequest, HttpResponse};
pub use crate::id_token::{IdToken, IdTokenClaims, IdTokenPolicy, IdTokenValidator};
pub use crate::jws::{Algorithm, JwkSet};
pub use crate::time::UnixTime;
pub use crate::token::{RawIdToken, TokenSet, TokenType, parse_token_response};
pub use crate::types::{AccessToken, ClientId, ClientSecret, RefreshToken, Scope};
pub use crate::userinfo::{UserInfo, UserInfoRequest};
