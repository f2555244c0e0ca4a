//! The grants of RFC 6749 and its extensions, one module each. Every grant
//! adds its own `impl Client { pub fn … }`, so a new grant touches only its
//! own module.

mod authorization_code;
mod client_credentials;

pub use authorization_code::{
    AuthorizationRequest, CodeExchange, DEFAULT_MAX_PENDING_AGE, PendingAuthorization,
    PendingSignIn, PkceMethod, PkceVerifier, SignIn, SignInExchange, SignInRequest,
};
pub use client_credentials::ClientCredentials;
