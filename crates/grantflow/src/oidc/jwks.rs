//! Reading a provider's JWK set (RFC 7517 §5, OIDC Discovery §3
//! `jwks_uri`) tolerantly. The request is a plain JSON GET
//! ([`get_json`](crate::message::get_json)), made by discovery and by the
//! client's key cache alike.

use crate::error::{Error, MalformedResponse};
use crate::jose::JwkSet;
use crate::message::HttpResponse;
use crate::wire;

/// Reads the response to a GET of `jwks_uri`.
///
/// Any non-2xx status is [`Error::MalformedResponse`] with that status (a
/// JWKS endpoint is not an OAuth endpoint, so an error body is not read as an
/// RFC 6749 error). The body is capped at [`MAX_BODY`](crate::MAX_BODY) bytes, a UTF-8 byte
/// order mark is skipped, and [`JwkSet::from_json`] parses the rest; its
/// [`JwsError`](crate::JwsError) (not a JSON object, `keys` not an
/// array, …) becomes [`Error::MalformedResponse`] with the status, since the
/// server answered nonsense. Individual keys that cannot be used are skipped
/// by [`JwkSet::from_json`], not refused.
pub(crate) fn parse_jwks_response(response: &HttpResponse) -> Result<JwkSet, Error> {
    let status = response.status().as_u16();
    let body = response.body().as_slice();
    if !(200..300).contains(&status) {
        return Err(MalformedResponse::with_excerpt(
            status,
            format!("http {status} from the jwks_uri"),
            body,
        )
        .into());
    }
    let body = wire::body(response)?;
    JwkSet::from_json(body).map_err(|error| malformed(status, format!("jwk set: {error}")))
}

fn malformed(status: u16, reason: impl Into<String>) -> Error {
    MalformedResponse::without_excerpt(status, reason).into()
}
