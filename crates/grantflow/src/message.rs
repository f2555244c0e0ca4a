//! HTTP as values: the request descriptions flows emit and the responses
//! they consume.
//!
//! The types are the [`http`] 1.x crate's, the ecosystem's shared vocabulary,
//! so any HTTP client can carry them: an adapter turns an [`HttpRequest`] into
//! a real request, performs it, and hands the [`HttpResponse`] back.

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http::{Method, Request};

use crate::endpoint::EndpointUrl;

/// A request a flow wants sent: method, URL, headers and the exact body bytes.
pub type HttpRequest = http::Request<Vec<u8>>;

/// A response handed back to a flow: status, headers and the whole body.
///
/// Adapters cap the body size before building this (1 MiB by default in
/// `grantflow-ureq`); the core bounds its own parsing as well.
pub type HttpResponse = http::Response<Vec<u8>>;

pub(crate) const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
pub(crate) const JSON: &str = "application/json";

/// Builds a form-encoded POST with `Accept: application/json`, as the OAuth
/// endpoints of RFC 6749 §3.2, RFC 7009 §2.1 and RFC 7662 §2.1 want it.
pub(crate) fn form_post(
    url: &EndpointUrl,
    body: Vec<u8>,
    authorization: Option<HeaderValue>,
) -> HttpRequest {
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = url.uri().clone();
    let headers = request.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static(JSON));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(FORM_CONTENT_TYPE));
    if let Some(authorization) = authorization {
        headers.insert(AUTHORIZATION, authorization);
    }
    request
}

/// Builds a GET with `Accept: application/json` and an empty body, as
/// metadata documents (RFC 8414 §3.1, OIDC Discovery §4.1) and JWK sets
/// (RFC 7517 §5) are fetched.
pub(crate) fn get_json(url: &EndpointUrl) -> HttpRequest {
    let mut request = Request::new(Vec::new());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = url.uri().clone();
    request
        .headers_mut()
        .insert(ACCEPT, HeaderValue::from_static(JSON));
    request
}

/// The media type of a response (`type/subtype`, parameters dropped; compare
/// it ignoring case), or `None` without a usable `Content-Type` header.
pub(crate) fn media_type(response: &HttpResponse) -> Option<&str> {
    let value = response.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next().unwrap_or_default().trim();
    (!media.is_empty()).then_some(media)
}
