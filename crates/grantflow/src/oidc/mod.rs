//! OpenID Connect on top of OAuth: discovery (OIDC Discovery 1.0, RFC 8414),
//! the provider's keys, ID token validation (OIDC Core §3.1.3.7) and
//! UserInfo (OIDC Core §5.3).

mod discovery;
mod id_token;
mod identity;
mod jwks;
mod logout;
mod userinfo;

pub use discovery::{DiscoveredProvider, Discovery, ProviderMetadata};
pub(crate) use id_token::refetch_keys_or;
pub use id_token::{Expected, IdToken, IdTokenClaims, IdTokenValidator};
pub use identity::Identity;
pub(crate) use jwks::parse_jwks_response;
pub use logout::LogoutOptions;
pub use userinfo::{UserInfo, UserInfoRequest};
