//! Client authentication at the authorization server's endpoints (RFC 6749
//! §2.3): which method, and the token endpoint request (RFC 6749 §3.2) that
//! carries it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;

use crate::client::Client;
use crate::endpoint::EndpointUrl;
use crate::error::Error;
use crate::message::{HttpRequest, form_post};
use crate::types::{ClientId, ClientSecret};

/// How the client authenticates to the token endpoint (RFC 6749 §2.3).
///
/// Exactly one method is used per request (RFC 6749 §2.3.1).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client (RFC 6749 §2.1): it cannot keep a secret, so it sends
    /// only its `client_id` in the request body. Native, desktop and browser
    /// applications are public clients.
    None,
    /// HTTP Basic authentication (RFC 6749 §2.3.1, `client_secret_basic`):
    /// the id and secret are each `application/x-www-form-urlencoded` before
    /// being joined with `:` and base64-encoded, as the RFC requires.
    ClientSecretBasic(ClientSecret),
    /// The id and secret as form parameters in the request body
    /// (`client_secret_post`).
    ClientSecretPost(ClientSecret),
}

impl Client {
    /// Builds a token endpoint request (RFC 6749 §3.2): a form POST of
    /// `params`, authenticated with this client's method.
    pub(crate) fn token_request<'a>(
        &self,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<HttpRequest, Error> {
        let endpoint = self.require_token_endpoint()?;
        Ok(self.authenticated_request(endpoint, params, false))
    }

    /// A form POST of `params` to `endpoint`, authenticated with this
    /// client's method: the one place every endpoint that authenticates the
    /// client (token, revocation, introspection, device authorization, PAR)
    /// builds its request. A public client sends its `client_id` in the body;
    /// `client_id_in_body` sends it with every method (RFC 9126 §2.1 lets
    /// providers require it at the PAR endpoint even with Basic).
    pub(crate) fn authenticated_request<'a>(
        &self,
        endpoint: &EndpointUrl,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        client_id_in_body: bool,
    ) -> HttpRequest {
        let mut form = form_urlencoded::Serializer::new(String::with_capacity(256));
        form.extend_pairs(params);
        let authorization = match self.auth() {
            ClientAuth::None => {
                form.append_pair("client_id", self.client_id().as_str());
                None
            }
            ClientAuth::ClientSecretPost(secret) => {
                form.append_pair("client_id", self.client_id().as_str());
                form.append_pair("client_secret", secret.secret());
                None
            }
            ClientAuth::ClientSecretBasic(secret) => {
                if client_id_in_body {
                    form.append_pair("client_id", self.client_id().as_str());
                }
                Some(basic_authorization(self.client_id(), secret))
            }
        };
        form_post(endpoint, form.finish().into_bytes(), authorization)
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`, per
/// RFC 6749 §2.3.1 (a plain RFC 7617 encoding breaks secrets with `:`, `%` or
/// `+` on conforming servers). The header is marked sensitive so HTTP stacks
/// that honour the flag keep it out of logs.
fn basic_authorization(id: &ClientId, secret: &ClientSecret) -> HeaderValue {
    let mut credentials = String::with_capacity(id.as_str().len() + secret.secret().len() + 8);
    credentials.extend(form_urlencoded::byte_serialize(id.as_str().as_bytes()));
    credentials.push(':');
    credentials.extend(form_urlencoded::byte_serialize(secret.secret().as_bytes()));
    let mut header = String::with_capacity(6 + credentials.len().div_ceil(3) * 4);
    header.push_str("Basic ");
    STANDARD.encode_string(credentials.as_bytes(), &mut header);
    zeroize::Zeroize::zeroize(&mut credentials);
    #[allow(clippy::expect_used)]
    let mut value = HeaderValue::try_from(header)
        // "Basic " and the base64 alphabet are visible ASCII, always a valid header value.
        .expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_basic(value: &HeaderValue) -> String {
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap()
    }

    #[test]
    fn basic_credentials_are_form_urlencoded_first() {
        let value = basic_authorization(
            &ClientId::new("my client:1"),
            &ClientSecret::new("s3cr3t:with/special+chars&=%"),
        );
        assert!(value.is_sensitive());
        assert_eq!(
            decode_basic(&value),
            "my+client%3A1:s3cr3t%3Awith%2Fspecial%2Bchars%26%3D%25"
        );
    }

    #[test]
    fn basic_credentials_rfc6749_example() {
        // RFC 6749 §2.3.1: "Authorization: Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"
        let value = basic_authorization(
            &ClientId::new("s6BhdRkqt3"),
            &ClientSecret::new("7Fjfp0ZBr1KtDRbnfVdmIw"),
        );
        assert_eq!(value, "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3");
    }
}
