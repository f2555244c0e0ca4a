//! The grants of RFC 6749 and its extensions, one module each. Every grant
//! adds its own `impl Client { pub fn … }`, so a new grant touches only its
//! own module.

mod authorization_code;
mod client_credentials;
mod device;
mod refresh;

pub use authorization_code::{
    AuthorizationRequest, CodeExchange, DEFAULT_MAX_PENDING_AGE, PendingAuthorization,
    PendingSignIn, PkceMethod, PkceVerifier, PushedAuthorization, SignIn, SignInExchange,
    SignInRequest,
};
pub use client_credentials::ClientCredentials;
pub use device::{DeviceAuthorization, DeviceAuthorizationRequest, DevicePoll, DeviceTokens};
pub(crate) use refresh::ends_grant;
pub use refresh::{Refresh, Refreshed, Rotation};

use serde_json::Value;

use crate::error::{Error, MalformedResponse};

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

/// A whole number of seconds (`expires_in`, `interval`): a JSON integer, or a
/// string of ASCII digits (Azure AD v1, PayPal send `expires_in` so). Absent
/// and `null` are `None`; a negative, fractional or oversized number, or
/// another type, is an error naming the field.
fn seconds_field(status: u16, field: &str, value: Option<&Value>) -> Result<Option<u64>, Error> {
    let bad = || -> Error {
        MalformedResponse::without_excerpt(
            status,
            format!("field {field:?} is not a whole number of seconds between 0 and 2^64-1"),
        )
        .into()
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => {
            let digits = s.trim();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            digits.parse::<u64>().map(Some).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}
