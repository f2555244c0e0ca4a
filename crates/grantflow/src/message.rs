//! HTTP as values: the request descriptions flows emit and the responses
//! they consume.
//!
//! The types are the [`http`] 1.x crate's, the ecosystem's shared vocabulary,
//! so any HTTP client can carry them: an adapter turns an [`HttpRequest`] into
//! a real request, performs it, and hands the [`HttpResponse`] back.

use core::fmt;

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

/// An `application/x-www-form-urlencoded` body being written: what
/// `form_urlencoded::Serializer::new(String)` writes, byte for byte (the URL
/// Standard's urlencoded serializer, UTF-8), into one string of reserved
/// size, runs of bytes that need no escape copied whole.
pub(crate) struct FormBody(String);

impl FormBody {
    /// An empty body with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        FormBody(String::with_capacity(capacity))
    }

    /// Appends `name=value`, both encoded, `&` before it unless first.
    pub(crate) fn append_pair(&mut self, name: &str, value: &str) -> &mut Self {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        form_urlencode_into(&mut self.0, name);
        self.0.push('=');
        form_urlencode_into(&mut self.0, value);
        self
    }

    /// Appends every pair, in order.
    pub(crate) fn extend_pairs<'a>(
        &mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> &mut Self {
        for (name, value) in pairs {
            self.append_pair(name, value);
        }
        self
    }

    /// The body's bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0.into_bytes()
    }
}

/// Bytes the urlencoded serializer leaves as they are: `*-._`, ASCII
/// letters and digits (a table: a lookup per byte is cheaper than the
/// comparisons).
// The loop indexes below 256 only.
#[allow(clippy::indexing_slicing)]
const FORM_UNCHANGED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] =
            matches!(b as u8, b'*' | b'-' | b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'_' | b'a'..=b'z');
        b += 1;
    }
    table
};

/// Whether the urlencoded serializer leaves `b` as it is.
fn form_unchanged(b: u8) -> bool {
    // Every `u8` indexes the 256-entry table.
    FORM_UNCHANGED.get(usize::from(b)).copied().unwrap_or(false)
}

/// Appends `value` as the urlencoded serializer writes it
/// (`form_urlencoded::byte_serialize`): space as `+`, every byte but `*-._`
/// and ASCII letters and digits as `%XX` in upper case.
pub(crate) fn form_urlencode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = value.as_bytes();
    let mut run = 0;
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        // Eight unchanged bytes at a time (no branch per byte), then one by one.
        if let Some(eight) = bytes.get(at..at + 8) {
            if eight.iter().fold(true, |all, b| all & form_unchanged(*b)) {
                at += 8;
                continue;
            }
        }
        at += 1;
        if form_unchanged(b) {
            continue;
        }
        // A non-empty run of unchanged bytes is ASCII between character
        // boundaries (every byte of a multi-byte character is escaped); an
        // empty one may start inside a character, where `get` gives `None`
        // and there is nothing to copy anyway.
        out.push_str(value.get(run..at - 1).unwrap_or_default());
        if b == b' ' {
            out.push('+');
        } else {
            // Both indexes are below 16.
            let digit = |n: u8| char::from(HEX.get(usize::from(n)).copied().unwrap_or(b'0'));
            out.push('%');
            out.push(digit(b >> 4));
            out.push(digit(b & 0xF));
        }
        run = at;
    }
    out.push_str(value.get(run..).unwrap_or_default());
}

/// The headers of a form-encoded POST to an OAuth endpoint (RFC 6749 §3.2,
/// RFC 7009 §2.1, RFC 7662 §2.1): `Accept: application/json`, the form
/// content type, and `Authorization` when given, in that order. A client
/// builds them once and [`form_post`] copies them (a copy shares the value
/// bytes).
pub(crate) fn form_headers(authorization: Option<HeaderValue>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::with_capacity(3);
    headers.insert(ACCEPT, HeaderValue::from_static(JSON));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(FORM_CONTENT_TYPE));
    if let Some(authorization) = authorization {
        headers.insert(AUTHORIZATION, authorization);
    }
    headers
}

/// Builds a form-encoded POST with `headers` (from [`form_headers`]), as
/// the OAuth endpoints of RFC 6749 §3.2, RFC 7009 §2.1 and RFC 7662 §2.1
/// want it.
pub(crate) fn form_post(url: &EndpointUrl, body: Vec<u8>, headers: http::HeaderMap) -> HttpRequest {
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = url.uri().clone();
    *request.headers_mut() = headers;
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

/// Prints a request or response for logs and `{:?}` with every secret
/// withheld: the method, the URI with any `user:password@` and the query
/// replaced by `<redacted>`, header values of `Authorization`,
/// `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `DPoP` and any header
/// marked sensitive as `<redacted>`, and the body only as its length (a body
/// holds client secrets, codes, verifiers and tokens).
///
/// ```
/// use grantflow::Redacted;
///
/// let request = http::Request::post("https://as.example.com/token?key=k1")
///     .header("authorization", "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3")
///     .body(b"grant_type=client_credentials&client_secret=hunter2".to_vec())
///     .unwrap();
/// let shown = format!("{:?}", Redacted(&request));
/// assert!(!shown.contains("hunter2") && !shown.contains("czZC") && !shown.contains("k1"));
/// assert!(shown.contains("<51 bytes>"));
/// ```
pub struct Redacted<'a, T>(pub &'a T);

/// Headers whose values are credentials, by their (lower-case) name.
const SECRET_HEADERS: [http::HeaderName; 5] = [
    http::header::AUTHORIZATION,
    http::header::PROXY_AUTHORIZATION,
    http::header::COOKIE,
    http::header::SET_COOKIE,
    http::HeaderName::from_static("dpop"),
];

/// Prints its text as is, without the quotes `str`'s `Debug` adds.
struct Bare<'a>(&'a str);

impl fmt::Debug for Bare<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A body, as its length.
struct BodyLen(usize);

impl fmt::Debug for BodyLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

impl fmt::Debug for Redacted<'_, http::Uri> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0;
        if let Some(scheme) = uri.scheme_str() {
            write!(f, "{scheme}://")?;
        }
        if let Some(authority) = uri.authority() {
            match authority.as_str().rsplit_once('@') {
                Some((_, host)) => write!(f, "<redacted>@{host}")?,
                None => f.write_str(authority.as_str())?,
            }
        }
        f.write_str(uri.path())?;
        if uri.query().is_some() {
            f.write_str("?<redacted>")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Redacted<'_, http::HeaderMap> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.0 {
            if value.is_sensitive() || SECRET_HEADERS.contains(name) {
                map.entry(&name.as_str(), &Bare("<redacted>"));
            } else {
                map.entry(&name.as_str(), value);
            }
        }
        map.finish()
    }
}

impl fmt::Debug for Redacted<'_, HttpRequest> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = self.0;
        f.debug_struct("Request")
            .field("method", &Bare(request.method().as_str()))
            .field("uri", &Redacted(request.uri()))
            .field("headers", &Redacted(request.headers()))
            .field("body", &BodyLen(request.body().len()))
            .finish()
    }
}

impl fmt::Debug for Redacted<'_, HttpResponse> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let response = self.0;
        f.debug_struct("Response")
            .field("status", &response.status().as_u16())
            .field("headers", &Redacted(response.headers()))
            .field("body", &BodyLen(response.body().len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_lose_their_userinfo_and_query() {
        let uri: http::Uri = "https://alice:hunter2@auth.example.com:8443/token?api_key=k1"
            .parse()
            .unwrap();
        assert_eq!(
            format!("{:?}", Redacted(&uri)),
            "https://<redacted>@auth.example.com:8443/token?<redacted>"
        );
        let uri: http::Uri = "https://auth.example.com/token".parse().unwrap();
        assert_eq!(
            format!("{:?}", Redacted(&uri)),
            "https://auth.example.com/token"
        );
    }

    #[test]
    fn responses_show_no_body_and_no_cookie() {
        let response = http::Response::builder()
            .status(200)
            .header("set-cookie", "sid=s3cr3t")
            .header("content-type", "application/json")
            .body(br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA"}"#.to_vec())
            .unwrap();
        for shown in [
            format!("{:?}", Redacted(&response)),
            format!("{:#?}", Redacted(&response)),
        ] {
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(!shown.contains("2YotnFZFEjr1zCsicMWpAA"), "{shown}");
            assert!(shown.contains("application/json"), "{shown}");
        }
    }
}

#[cfg(test)]
mod form_tests {
    use super::*;

    #[test]
    fn form_body_is_byte_for_byte_form_urlencoded_s() {
        let values = [
            "",
            "code",
            "https://client.example.com/cb?x=1&y=2#f",
            "a b+c%20d",
            "api:read api:write openid",
            "*-._~!$'()\"<>#[]{}|\\^`=&",
            "é ü 日本 😀",
            "\t\n\r\u{0}\u{7f}\u{80}",
            "ab\u{e9}",
            "\u{e9}ab",
            "\u{e9}\u{e9}",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ];
        for name in values {
            let mut ours = FormBody::with_capacity(0);
            let mut theirs = form_urlencoded::Serializer::new(String::new());
            for value in values {
                ours.append_pair(name, value);
                theirs.append_pair(name, value);
            }
            ours.extend_pairs([(name, "x"), ("", name)]);
            theirs.extend_pairs([(name, "x"), ("", name)]);
            assert_eq!(ours.finish(), theirs.finish().into_bytes(), "{name:?}");
        }
    }
}
