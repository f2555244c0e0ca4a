//! The grants of RFC 6749 and its extensions, one module each. Every grant
//! adds its own `impl Client { pub fn … }`, so a new grant touches only its
//! own module.

mod authorization_code;
mod client_credentials;
mod refresh;

pub use authorization_code::{
    AuthorizationRequest, CodeExchange, DEFAULT_MAX_PENDING_AGE, PendingAuthorization,
    PendingSignIn, PkceMethod, PkceVerifier, SignIn, SignInExchange, SignInRequest,
};
pub use client_credentials::ClientCredentials;
pub(crate) use refresh::ends_grant;
pub use refresh::{Refresh, Refreshed, Rotation};

use crate::error::Error;

/// The checks of the parameters a caller adds to a grant's request: none
/// may be one the flow sets itself (`reserved`), and an RFC 8707 `resource`
/// indicator must not have a fragment (RFC 8707 §2).
fn check_params<'a>(
    reserved: &[&str],
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), Error> {
    for (name, value) in params {
        if reserved.contains(&name) {
            return Err(Error::ReservedParameter {
                name: name.to_owned(),
            });
        }
        if name == "resource" && value.contains('#') {
            return Err(Error::InvalidUrl {
                reason: "a resource indicator must not have a fragment (rfc 8707 section 2)",
            });
        }
    }
    Ok(())
}
