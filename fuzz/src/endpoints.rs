//! The shared input and oracles of the `revocation_response` and
//! `introspection_response` targets: a fuzzed client authentication, token
//! and `token_type_hint`, and a fuzzed response to the one request.
//!
//! # Input
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | client authentication, `b % 3`: basic, post, none |
//! | 1 | `token_type_hint`, `b % 4`: none, `access_token`, `refresh_token`, `urn:x:hint` |
//! | next | the response header of `grantflow_fuzz` (status, content type, time) |
//! | rest | the token's tail, a NUL, then the body |
//!
//! The token is `rvk-` followed by the token characters of its tail
//! (RFC 6750 `b64token`: letters, digits, `-._~+/=`; others dropped), so it
//! never occurs in the core's own fixed texts: where it appears in an
//! error, a server's text put it there. Each `$T` in the body is replaced by
//! the token, so echoing servers are easy to reach.

use grantflow::{
    Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Endpoints, Error, HttpRequest,
    HttpResponse, TokenTypeHint, UnixTime,
};

use crate::{Reader, build_response, response_header};

/// The client's id: with a space and a `+`, so the form encoding shows.
pub const CLIENT_ID: &str = "rs +1";
/// The client's secret.
pub const CLIENT_SECRET: &str = "s3cr3t:+/&=%";
/// The revocation endpoint.
pub const REVOCATION_ENDPOINT: &str = "https://as.example.com/revoke";
/// The introspection endpoint.
pub const INTROSPECTION_ENDPOINT: &str = "https://as.example.com/introspect";
/// What every token starts with.
pub const TOKEN_PREFIX: &str = "rvk-";

/// A decoded input.
pub struct EndpointInput {
    /// `b % 3` of byte 0: basic, post, none.
    pub auth_choice: u8,
    /// The hint sent, if any.
    pub hint: Option<TokenTypeHint>,
    /// The token.
    pub token: String,
    /// The response to the request.
    pub response: HttpResponse,
    /// When it arrives.
    pub now: UnixTime,
}

impl EndpointInput {
    /// Decodes `data` (see the module docs).
    pub fn decode(data: &[u8]) -> EndpointInput {
        let mut reader = Reader::new(data);
        let auth_choice = reader.byte() % 3;
        let hint = match reader.byte() % 4 {
            0 => None,
            1 => Some(TokenTypeHint::AccessToken),
            2 => Some(TokenTypeHint::RefreshToken),
            _ => Some(TokenTypeHint::Other("urn:x:hint".to_owned())),
        };
        let (status, content_type, now) = response_header(&mut reader);
        let rest = reader.rest();
        let (tail, body) = match rest.iter().position(|&b| b == 0) {
            Some(nul) => (&rest[..nul], &rest[nul + 1..]),
            None => (rest, &[][..]),
        };
        let mut token = TOKEN_PREFIX.to_owned();
        token.extend(
            tail.iter()
                .filter(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(b))
                .map(|&b| char::from(b)),
        );
        let body = replace(body, b"$T", token.as_bytes());
        EndpointInput {
            auth_choice,
            hint,
            token,
            response: build_response(status, content_type, &body),
            now,
        }
    }

    /// The client authentication of byte 0.
    pub fn auth(&self) -> ClientAuth {
        match self.auth_choice {
            0 => ClientAuth::ClientSecretBasic(ClientSecret::new(CLIENT_SECRET)),
            1 => ClientAuth::ClientSecretPost(ClientSecret::new(CLIENT_SECRET)),
            _ => ClientAuth::None,
        }
    }

    /// The client, with both endpoints.
    pub fn client(&self) -> Client {
        let mut endpoints = Endpoints::default();
        endpoints.revocation = Some(EndpointUrl::parse(REVOCATION_ENDPOINT).expect("https"));
        endpoints.introspection = Some(EndpointUrl::parse(INTROSPECTION_ENDPOINT).expect("https"));
        Client::new(ClientId::new(CLIENT_ID), self.auth()).with_endpoints(endpoints)
    }

    /// Checks the request is the RFC 7009 §2.1 / RFC 7662 §2.1 form POST of
    /// `token` and the hint to `endpoint`, authenticated as byte 0 says.
    pub fn check_request(&self, request: &HttpRequest, endpoint: &str) {
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), endpoint);
        let headers = request.headers();
        assert_eq!(
            headers[http::header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(headers[http::header::ACCEPT], "application/json");
        let sent: Vec<(String, String)> = form_urlencoded::parse(request.body())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut expected = vec![("token".to_owned(), self.token.clone())];
        if let Some(hint) = &self.hint {
            expected.push(("token_type_hint".to_owned(), hint.as_str().to_owned()));
        }
        let authorization = headers.get(http::header::AUTHORIZATION);
        match self.auth_choice {
            0 => {
                let value = authorization.expect("client_secret_basic sends Authorization");
                assert!(value.is_sensitive());
                // base64("rs+%2B1:s3cr3t%3A%2B%2F%26%3D%25"): both form-encoded first.
                assert_eq!(value, "Basic cnMrJTJCMTpzM2NyM3QlM0ElMkIlMkYlMjYlM0QlMjU=");
            }
            1 => {
                assert!(authorization.is_none());
                expected.push(("client_id".to_owned(), CLIENT_ID.to_owned()));
                expected.push(("client_secret".to_owned(), CLIENT_SECRET.to_owned()));
            }
            _ => {
                assert!(authorization.is_none());
                expected.push(("client_id".to_owned(), CLIENT_ID.to_owned()));
            }
        }
        assert_eq!(sent, expected, "the request's form body");
    }

    /// Checks that `error` (and anything `Debug` prints) does not quote the
    /// token.
    pub fn check_withheld(&self, shown: &str) {
        assert!(
            !shown.contains(&self.token),
            "the token appears in {shown:?}"
        );
    }
}

/// Checks a finished flow refuses every call.
pub fn check_ended<T>(result: Result<T, Error>) {
    assert!(
        matches!(result, Err(Error::UnexpectedCall { .. })),
        "a finished flow answered something else than UnexpectedCall"
    );
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}
