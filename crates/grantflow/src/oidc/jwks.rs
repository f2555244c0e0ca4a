//! Fetching a provider's JWK set (RFC 7517 §5, OIDC Discovery §3
//! `jwks_uri`): the request, and the tolerant read of the response.

use crate::endpoint::EndpointUrl;
use crate::error::{Error, MalformedResponse};
use crate::jose::JwkSet;
use crate::message::{HttpRequest, HttpResponse, get_json};
use crate::wire;

/// The request for a provider's JWK set: a GET of `jwks_uri` with
/// `Accept: application/json`.
pub(crate) fn jwks_request(jwks_uri: &EndpointUrl) -> HttpRequest {
    get_json(jwks_uri)
}

/// Reads the response to [`jwks_request`].
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
