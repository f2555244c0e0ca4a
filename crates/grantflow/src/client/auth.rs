//! Client authentication at the authorization server's endpoints (RFC 6749
//! §2.3): which method, and the token endpoint request (RFC 6749 §3.2) that
//! carries it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;

use std::sync::Arc;

use rand_core::CryptoRng;

use crate::client::Client;
use crate::client::assertion::{
    ClientAssertion, ClientSecretSigner, JWT_BEARER_ASSERTION, audience,
};
use crate::endpoint::EndpointUrl;
use crate::error::{Error, SignError};
use crate::jose::JwsSigner;
use crate::message::{FormBody, HttpRequest, form_post};
use crate::time::UnixTime;
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
    /// A JWT assertion signed with HS256 and the client secret as the key
    /// (`client_secret_jwt`, RFC 7523 §2.2, OIDC Core §9); build it with
    /// [`ClientAuth::client_secret_jwt`].
    ClientSecretJwt(ClientAssertion),
    /// A JWT assertion signed with the client's private key
    /// (`private_key_jwt`, RFC 7523 §2.2, OIDC Core §9): ES256 or EdDSA with
    /// the core's signers, RS256 or PS256 with an adapter's, or any
    /// [`JwsSigner`]; build it with [`ClientAuth::private_key_jwt`].
    PrivateKeyJwt(ClientAssertion),
}

impl ClientAuth {
    /// `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9) with `signer`; the
    /// 128-bit prefix that keeps every assertion's `jti` unique is drawn from
    /// `rng` (the OS generator in a real program) here, once.
    ///
    /// Register the signer's public key with the provider
    /// ([`JwsSigner::public_jwk`]).
    ///
    /// ```
    /// use grantflow::{
    ///     Client, ClientAuth, ClientId, EndpointUrl, Es256Signer, Flow, JwsSigner, Step, UnixTime,
    /// };
    ///
    /// # fn main() -> Result<(), grantflow::Error> {
    /// // The key of RFC 7515 Appendix A.3, as a private JWK (PEM and
    /// // PKCS#8 DER load too: `Es256Signer::from_pkcs8_pem`).
    /// let signer = Es256Signer::from_jwk(r#"{"kty":"EC","crv":"P-256","kid":"es256-1",
    ///     "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    ///     "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    ///     "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#)?;
    /// // Register this with the provider (RFC 7591 `jwks`).
    /// assert!(signer.public_jwk().is_some_and(|jwk| jwk.get("d").is_none()));
    /// let mut rng = grantflow::testing::CountingRng::new(0); // a real program: the OS generator
    /// let client = Client::new(ClientId::new("svc"), ClientAuth::private_key_jwt(signer, &mut rng))
    ///     .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token")?);
    /// let Step::Send(request) = client.client_credentials()?.start(UnixTime::from_secs(1_700_000_000))? else {
    ///     unreachable!("the first step sends the token request")
    /// };
    /// let body = String::from_utf8_lossy(request.body());
    /// assert!(body.contains("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"));
    /// assert!(body.contains("&client_assertion=eyJ"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn private_key_jwt(
        signer: impl JwsSigner + 'static,
        rng: &mut impl CryptoRng,
    ) -> ClientAuth {
        ClientAuth::PrivateKeyJwt(ClientAssertion::new(Arc::new(signer), rng))
    }

    /// `client_secret_jwt` (RFC 7523 §2.2, OIDC Core §9): assertions signed
    /// with HS256 and `secret` as the key, which must be at least 32 bytes
    /// (RFC 7518 §3.2); the `jti` prefix is drawn from `rng` here, once.
    pub fn client_secret_jwt(
        secret: ClientSecret,
        rng: &mut impl CryptoRng,
    ) -> Result<ClientAuth, SignError> {
        let signer = ClientSecretSigner::new(secret)?;
        Ok(ClientAuth::ClientSecretJwt(ClientAssertion::new(
            Arc::new(signer),
            rng,
        )))
    }
}

impl Client {
    /// Builds a token endpoint request (RFC 6749 §3.2): a form POST of
    /// `params`, authenticated with this client's method, with a DPoP proof
    /// (RFC 9449 §5) when the client has a DPoP key.
    pub(crate) fn token_request<'a>(
        &self,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: UnixTime,
    ) -> Result<HttpRequest, Error> {
        let endpoint = self.require_token_endpoint()?;
        let mut request = self.authenticated_request(endpoint, params, false, now)?;
        self.attach_dpop(&mut request, None, now)?;
        Ok(request)
    }

    /// A form POST of `params` to `endpoint`, authenticated with this
    /// client's method: the one place every endpoint that authenticates the
    /// client (token, revocation, introspection, device authorization, PAR)
    /// builds its request. A public client sends its `client_id` in the body;
    /// `client_id_in_body` sends it with every method (RFC 9126 §2.1 lets
    /// providers require it at the PAR endpoint even with Basic). A JWT
    /// method signs a fresh assertion issued at `now` (RFC 7523 §2.2) and
    /// sends `client_id` too (RFC 7521 §4.2 allows it; it names the client
    /// before the provider opens the assertion).
    pub(crate) fn authenticated_request<'a>(
        &self,
        endpoint: &EndpointUrl,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        client_id_in_body: bool,
        now: UnixTime,
    ) -> Result<HttpRequest, Error> {
        let mut form = FormBody::with_capacity(256);
        form.extend_pairs(params);
        match self.auth() {
            ClientAuth::None => {
                form.append_pair("client_id", self.client_id().as_str());
            }
            ClientAuth::ClientSecretPost(secret) => {
                form.append_pair("client_id", self.client_id().as_str());
                form.append_pair("client_secret", secret.secret());
            }
            // The `Authorization` value is in the client's form headers,
            // built once at `Client::new`.
            ClientAuth::ClientSecretBasic(_) => {
                if client_id_in_body {
                    form.append_pair("client_id", self.client_id().as_str());
                }
            }
            ClientAuth::ClientSecretJwt(assertion) | ClientAuth::PrivateKeyJwt(assertion) => {
                let aud = audience(
                    self.assertion_audience(),
                    self.issuer().map(|issuer| issuer.as_str()),
                    self.endpoints().token.as_ref(),
                    endpoint,
                );
                let jwt = assertion.sign(self.client_id().as_str(), aud, now)?;
                form.append_pair("client_id", self.client_id().as_str());
                form.append_pair("client_assertion_type", JWT_BEARER_ASSERTION);
                form.append_pair("client_assertion", &jwt);
            }
        }
        // `Accept`, the content type and, for `client_secret_basic` only,
        // `Authorization`.
        Ok(form_post(
            endpoint,
            form.finish(),
            self.inner.form_headers.clone(),
        ))
    }
}

impl Client {
    /// `error`, from a response to a request this client authenticated,
    /// with the client secret withheld wherever the server echoed it (it
    /// travels in the request with `client_secret_basic` and
    /// `client_secret_post`; a JWT assertion never carries it).
    pub(crate) fn withhold_secret(&self, error: Error) -> Error {
        match self.auth() {
            ClientAuth::ClientSecretBasic(secret) | ClientAuth::ClientSecretPost(secret) => {
                crate::error::withhold(error, secret.secret())
            }
            _ => error,
        }
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`, per
/// RFC 6749 §2.3.1 (a plain RFC 7617 encoding breaks secrets with `:`, `%` or
/// `+` on conforming servers). The header is marked sensitive so HTTP stacks
/// that honour the flag keep it out of logs.
pub(super) fn basic_authorization(id: &ClientId, secret: &ClientSecret) -> HeaderValue {
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

    use std::collections::HashSet;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::Value;

    use crate::alg::Algorithm;
    use crate::endpoint::Issuer;
    use crate::jose::{Ed25519Signer, Es256Signer};
    use crate::testing::CountingRng;

    use super::super::AssertionAudience;

    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);
    const ES256_PEM: &str = include_str!("../../../../tests/keys/es256.pem");

    fn endpoint(url: &str) -> EndpointUrl {
        EndpointUrl::parse(url).unwrap()
    }

    fn jwt_client(auth: ClientAuth) -> Client {
        Client::new(ClientId::new("svc-1"), auth)
            .with_issuer(Issuer::new("https://as.example.com").unwrap())
            .with_token_endpoint(endpoint("https://as.example.com/token"))
    }

    /// The form body as pairs.
    fn form(request: &HttpRequest) -> Vec<(String, String)> {
        form_urlencoded::parse(request.body())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
        let found: Vec<_> = pairs.iter().filter(|(k, _)| k == name).collect();
        assert_eq!(found.len(), 1, "{name} appears once");
        &found[0].1
    }

    /// Header, claims, signing input and signature of the request's assertion.
    fn assertion(request: &HttpRequest) -> (Value, Value, String, Vec<u8>) {
        let pairs = form(request);
        assert_eq!(
            field(&pairs, "client_assertion_type"),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        );
        assert_eq!(field(&pairs, "client_id"), "svc-1");
        assert!(!pairs.iter().any(|(k, _)| k == "client_secret"));
        assert_eq!(request.headers().get("authorization"), None);
        let jwt = field(&pairs, "client_assertion");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let json = |part: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
        };
        (
            json(parts[0]),
            json(parts[1]),
            format!("{}.{}", parts[0], parts[1]),
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
    }

    #[test]
    fn private_key_jwt_assertion_has_every_rfc7523_claim() {
        let signer = Es256Signer::from_pkcs8_pem(ES256_PEM)
            .unwrap()
            .with_key_id("client-es256");
        let public = signer.public_jwk().unwrap();
        let client = jwt_client(ClientAuth::private_key_jwt(
            signer,
            &mut CountingRng::new(0),
        ));
        let request = client
            .token_request([("grant_type", "client_credentials")], NOW)
            .unwrap();
        assert_eq!(field(&form(&request), "grant_type"), "client_credentials");
        let (header, claims, input, signature) = assertion(&request);
        // RFC 7515 §4.1: alg from the key, kid since the key has one, nothing else.
        assert_eq!(
            header,
            serde_json::json!({"alg": "ES256", "kid": "client-es256"})
        );
        // RFC 7523 §3: iss and sub are the client id, aud the issuer (the
        // default), a jti, exp after iat.
        let object = claims.as_object().unwrap();
        assert_eq!(object.len(), 6, "{claims}");
        assert_eq!(claims["iss"], "svc-1");
        assert_eq!(claims["sub"], "svc-1");
        assert_eq!(claims["aud"], "https://as.example.com");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_060);
        assert!(claims["jti"].as_str().unwrap().len() >= 22);
        // The signature verifies with the published public key.
        let mut point = vec![0x04];
        for coordinate in ["x", "y"] {
            point.extend(
                URL_SAFE_NO_PAD
                    .decode(public[coordinate].as_str().unwrap())
                    .unwrap(),
            );
        }
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(input.as_bytes(), &signature)
            .unwrap();
    }

    #[test]
    fn client_secret_jwt_is_hs256_with_the_secret() {
        let secret = "cs-jwt-secret-0123456789abcdefghijklmn";
        let auth =
            ClientAuth::client_secret_jwt(ClientSecret::new(secret), &mut CountingRng::new(0))
                .unwrap();
        let request = jwt_client(auth)
            .token_request([("grant_type", "client_credentials")], NOW)
            .unwrap();
        let (header, claims, input, signature) = assertion(&request);
        assert_eq!(header, serde_json::json!({"alg": "HS256"}));
        assert_eq!(claims["iss"], "svc-1");
        assert_eq!(claims["sub"], "svc-1");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        ring::hmac::verify(&key, input.as_bytes(), &signature).unwrap();
        assert!(!String::from_utf8_lossy(request.body()).contains(secret));
    }

    #[test]
    fn client_secret_jwt_refuses_a_secret_shorter_than_the_hash() {
        let refused = ClientAuth::client_secret_jwt(
            ClientSecret::new("0123456789abcdef0123456789abcde"),
            &mut CountingRng::new(0),
        );
        assert!(matches!(refused, Err(SignError::InvalidKey { .. })));
    }

    #[test]
    fn the_audience_follows_the_configuration() {
        let revocation = endpoint("https://as.example.com/revoke");
        let aud = |client: &Client| {
            let request = client
                .authenticated_request(&revocation, [("token", "t")], false, NOW)
                .unwrap();
            assertion(&request).1["aud"].as_str().unwrap().to_owned()
        };
        let auth = || {
            ClientAuth::private_key_jwt(
                Ed25519Signer::from_seed(&[1; 32]).unwrap(),
                &mut CountingRng::new(0),
            )
        };
        let client = jwt_client(auth());
        assert_eq!(aud(&client), "https://as.example.com");
        let client = jwt_client(auth()).with_assertion_audience(AssertionAudience::TokenEndpoint);
        assert_eq!(aud(&client), "https://as.example.com/token");
        let client = jwt_client(auth()).with_assertion_audience(AssertionAudience::Endpoint);
        assert_eq!(aud(&client), "https://as.example.com/revoke");
        // Without an issuer, the default falls back to the token endpoint.
        let client = Client::new(ClientId::new("svc-1"), auth())
            .with_token_endpoint(endpoint("https://as.example.com/token"));
        assert_eq!(aud(&client), "https://as.example.com/token");
    }

    #[test]
    fn jti_never_repeats_across_requests_and_clones() {
        let client = jwt_client(ClientAuth::private_key_jwt(
            Ed25519Signer::from_seed(&[2; 32]).unwrap(),
            &mut CountingRng::new(0),
        ));
        let jti_of = |client: &Client| {
            let request = client.token_request([("grant_type", "x")], NOW).unwrap();
            assertion(&request).1["jti"].as_str().unwrap().to_owned()
        };
        // Clones share the counter: interleave four of them.
        let clones: Vec<Client> = (0..4).map(|_| client.clone()).collect();
        let mut seen = HashSet::new();
        for _ in 0..250 {
            for clone in &clones {
                assert!(seen.insert(jti_of(clone)), "a jti repeated");
            }
        }
        assert_eq!(seen.len(), 1000);
        // A client built with another draw of the generator has another prefix.
        let other = jwt_client(ClientAuth::private_key_jwt(
            Ed25519Signer::from_seed(&[2; 32]).unwrap(),
            &mut CountingRng::new(100),
        ));
        assert!(!seen.contains(&jti_of(&other)));
    }

    #[test]
    fn jwt_auth_works_where_the_client_id_goes_in_the_body_too() {
        // PAR sends client_id with every method; it must appear once.
        let client = jwt_client(ClientAuth::private_key_jwt(
            Ed25519Signer::from_seed(&[3; 32]).unwrap(),
            &mut CountingRng::new(0),
        ));
        let request = client
            .authenticated_request(
                &endpoint("https://as.example.com/par"),
                [("a", "b")],
                true,
                NOW,
            )
            .unwrap();
        let (header, ..) = assertion(&request);
        assert_eq!(header["alg"], "EdDSA");
    }

    #[test]
    fn a_failing_signer_fails_the_request() {
        struct Broken;
        impl JwsSigner for Broken {
            fn algorithm(&self) -> Algorithm {
                Algorithm::Es256
            }
            fn key_id(&self) -> Option<&str> {
                None
            }
            fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
                Err(SignError::Failed {
                    reason: "hsm offline".to_owned(),
                })
            }
        }
        let client = jwt_client(ClientAuth::private_key_jwt(
            Broken,
            &mut CountingRng::new(0),
        ));
        let error = client
            .token_request([("grant_type", "x")], NOW)
            .unwrap_err();
        assert_eq!(error.to_string(), "signing failed: hsm offline");
        assert_eq!(error.kind(), crate::error::ErrorKind::Retryable);
    }

    #[test]
    fn debug_shows_the_algorithm_and_kid_only() {
        let secret = "cs-jwt-secret-0123456789abcdefghijklmn";
        let auth =
            ClientAuth::client_secret_jwt(ClientSecret::new(secret), &mut CountingRng::new(0))
                .unwrap();
        let shown = format!("{auth:?}");
        assert_eq!(
            shown,
            "ClientSecretJwt(ClientAssertion { alg: Hs256, kid: None, .. })"
        );
        let auth = ClientAuth::private_key_jwt(
            Es256Signer::from_pkcs8_pem(ES256_PEM)
                .unwrap()
                .with_key_id("k"),
            &mut CountingRng::new(0),
        );
        assert_eq!(
            format!("{auth:?}"),
            r#"PrivateKeyJwt(ClientAssertion { alg: Es256, kid: Some("k"), .. })"#
        );
    }

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
