//! DPoP (RFC 9449): proofs of possession of the client's key, one per
//! request (§4), the server-provided nonce (§8, §9) remembered per server,
//! and the `Authorization: DPoP` header for a protected resource (§7.1).
//!
//! The user-facing documentation is on [`DpopKey`].

use core::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderName, HeaderValue, Method, Uri};
use rand_core::CryptoRng;
use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::client::Client;
use crate::client::assertion::JtiSource;
use crate::error::{Error, ErrorCode, SignError};
use crate::jose::{JwsSigner, sign_compact};
use crate::message::{HttpRequest, HttpResponse};
use crate::time::UnixTime;

/// The `DPoP` request header (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header (RFC 9449 §8.1).
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");
/// How many servers' nonces are remembered; the oldest is forgotten first.
const MAX_NONCES: usize = 16;
/// The longest nonce kept (a nonce is opaque, RFC 9449 §8.1; this bounds
/// what a server can make the client store and echo).
const MAX_NONCE_LEN: usize = 512;

/// A DPoP key (RFC 9449): the client proves possession of it with a signed
/// proof JWT in the `DPoP` header of each request, and the tokens it gets
/// are bound to it (`token_type` `DPoP`), so a stolen access token is
/// useless without the key.
///
/// Give it to a client with [`Client::with_dpop`]; from then on:
///
/// - every token endpoint request (each grant, refresh) carries a proof
///   (`htm`, `htu`, `iat`, a unique `jti`, §4.2), and DPoP-bound tokens are
///   accepted;
/// - the token endpoint's `use_dpop_nonce` error (§8, a 400 with a
///   `DPoP-Nonce` header) is met inside the flow by one retry with the nonce,
///   and the nonce is remembered (per server, shared by every clone of the
///   client) for the next request;
/// - UserInfo sends `Authorization: DPoP <token>` with a proof carrying
///   `ath` (§7.1), and meets a `WWW-Authenticate: DPoP
///   error="use_dpop_nonce"` challenge (§9) by one retry too;
/// - [`Client::dpop_resource_headers`] builds both headers for a request to
///   any resource server, and [`Client::dpop_resource_challenge`] reads its
///   nonce challenge.
///
/// The key signs with ES256 or EdDSA through the core's
/// [`Es256Signer`](crate::Es256Signer) and
/// [`Ed25519Signer`](crate::Ed25519Signer) (deterministic, no generator) or
/// with any asymmetric [`JwsSigner`] (an adapter's RSA signer, a KMS). The
/// 128-bit prefix of the proofs' `jti` values is drawn from the caller's
/// generator when the key is built.
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, DpopKey, Ed25519Signer};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let mut rng = grantflow::testing::CountingRng::new(0); // a real program: the OS generator
/// let key = DpopKey::new(Ed25519Signer::from_seed(&[9; 32])?, &mut rng)?;
/// let client = Client::new(ClientId::new("app"), ClientAuth::None).with_dpop(key);
///
/// // A request to a resource server: `Authorization: DPoP …` and a proof.
/// let url = http::Uri::from_static("https://api.example.com/photos?page=2");
/// let now = grantflow::UnixTime::from_secs(1_700_000_000);
/// let (authorization, proof) =
///     client.dpop_resource_headers(&http::Method::GET, &url, "Kz~8mXK1EalY", now)?;
/// assert_eq!(authorization, "DPoP Kz~8mXK1EalY");
/// assert!(proof.to_str().is_ok_and(|jwt| jwt.starts_with("eyJ")));
/// # Ok(())
/// # }
/// ```
///
/// `Debug` shows the algorithm only; cloning shares the key, the `jti`
/// counter and the remembered nonces.
#[derive(Clone)]
pub struct DpopKey {
    signer: Arc<dyn JwsSigner>,
    /// The public JWK for the proof header, without `kid`.
    jwk: Value,
    jti: Arc<JtiSource>,
    nonces: Arc<Mutex<Vec<(String, String)>>>,
}

/// The signer without its key id: a DPoP proof names its key by the `jwk`
/// header (RFC 9449 §4.2), not by a `kid` the server cannot resolve.
struct WithoutKid<'a>(&'a dyn JwsSigner);

impl JwsSigner for WithoutKid<'_> {
    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
    fn key_id(&self) -> Option<&str> {
        None
    }
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        self.0.sign(signing_input)
    }
}

impl DpopKey {
    /// A DPoP key signing with `signer`, which must be asymmetric and
    /// publish its public key ([`JwsSigner::public_jwk`]): RFC 9449 §4.2
    /// puts it in each proof. The `jti` prefix is drawn from `rng`, once.
    pub fn new(
        signer: impl JwsSigner + 'static,
        rng: &mut impl CryptoRng,
    ) -> Result<DpopKey, SignError> {
        if matches!(
            signer.algorithm(),
            Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512
        ) {
            return Err(SignError::InvalidKey {
                reason: "a dpop key must be asymmetric (rfc 9449 §4.2)",
            });
        }
        let Some(Value::Object(mut jwk)) = signer.public_jwk() else {
            return Err(SignError::InvalidKey {
                reason: "a dpop signer must publish its public jwk",
            });
        };
        jwk.remove("kid");
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|private| jwk.contains_key(*private))
        {
            return Err(SignError::InvalidKey {
                reason: "the signer's public jwk holds a private member",
            });
        }
        Ok(DpopKey {
            signer: Arc::new(signer),
            jwk: Value::Object(jwk),
            jti: Arc::new(JtiSource::new(rng)),
            nonces: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// The algorithm proofs are signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.signer.algorithm()
    }

    /// The public key every proof carries (RFC 9449 §4.2 `jwk`).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The key's JWK SHA-256 thumbprint (RFC 7638 §3), base64url: the
    /// `jkt` a provider binds tokens to (RFC 9449 §6), and the value of the
    /// `dpop_jkt` authorization request parameter (§10) that binds the code
    /// to this key. `None` for a key type RFC 7638 §3.2 does not define the
    /// members of (only `EC`, `OKP` and `RSA` are).
    pub fn thumbprint(&self) -> Option<String> {
        let required: &[&str] = match self.jwk.get("kty").and_then(Value::as_str)? {
            "EC" => &["crv", "kty", "x", "y"],
            "OKP" => &["crv", "kty", "x"],
            "RSA" => &["e", "kty", "n"],
            _ => return None,
        };
        // RFC 7638 §3.3: the required members only, in lexicographic order,
        // no whitespace.
        let mut json = String::from("{");
        for (at, name) in required.iter().enumerate() {
            let value = self.jwk.get(*name)?.as_str()?;
            if at > 0 {
                json.push(',');
            }
            json.push_str(&Value::from(*name).to_string());
            json.push(':');
            json.push_str(&Value::from(value).to_string());
        }
        json.push('}');
        let digest = ring::digest::digest(&ring::digest::SHA256, json.as_bytes());
        Some(URL_SAFE_NO_PAD.encode(digest.as_ref()))
    }

    /// A proof for `method` on `uri` at `now` (RFC 9449 §4.2): header `typ`
    /// `dpop+jwt`, the signer's `alg`, `jwk`; claims `jti`, `htm`, `htu`
    /// (the URI without query and fragment), `iat`, `ath` when presenting
    /// `access_token` (§4.3: base64url SHA-256 of it), and the nonce last
    /// remembered for the URI's server.
    pub fn proof(
        &self,
        method: &Method,
        uri: &Uri,
        access_token: Option<&str>,
        now: UnixTime,
    ) -> Result<String, Error> {
        let mut header = Map::new();
        header.insert("typ".to_owned(), Value::from("dpop+jwt"));
        header.insert("jwk".to_owned(), self.jwk.clone());
        let mut claims = Map::new();
        claims.insert("jti".to_owned(), Value::from(self.jti.next()));
        claims.insert("htm".to_owned(), Value::from(method.as_str()));
        claims.insert("htu".to_owned(), Value::from(htu(uri)));
        claims.insert("iat".to_owned(), Value::from(now.as_secs()));
        if let Some(token) = access_token {
            let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
            claims.insert(
                "ath".to_owned(),
                Value::from(URL_SAFE_NO_PAD.encode(digest.as_ref())),
            );
        }
        if let Some(nonce) = self.nonce_for(uri) {
            claims.insert("nonce".to_owned(), Value::from(nonce));
        }
        let payload = Value::Object(claims).to_string();
        Ok(sign_compact(
            &WithoutKid(&*self.signer),
            &header,
            payload.as_bytes(),
        )?)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(String, String)>> {
        // A panic while holding the lock cannot leave the list half-written
        // (every change is one push, remove or assignment), so a poisoned
        // lock is still a valid list.
        self.nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The nonce last remembered for `uri`'s server.
    fn nonce_for(&self, uri: &Uri) -> Option<String> {
        let origin = origin(uri);
        self.lock()
            .iter()
            .find(|(server, _)| *server == origin)
            .map(|(_, nonce)| nonce.clone())
    }

    /// Remembers the `DPoP-Nonce` of `response` (from `uri`'s server), if
    /// it has a usable one (RFC 9449 §8.1: a server may send a fresh nonce
    /// with any response); whether it had.
    pub(crate) fn remember_nonce<B>(&self, uri: &Uri, response: &http::Response<B>) -> bool {
        let Some(nonce) = response
            .headers()
            .get(DPOP_NONCE)
            .and_then(|value| value.to_str().ok())
            .filter(|nonce| !nonce.is_empty() && nonce.len() <= MAX_NONCE_LEN)
        else {
            return false;
        };
        let origin = origin(uri);
        let mut nonces = self.lock();
        nonces.retain(|(server, _)| *server != origin);
        if nonces.len() >= MAX_NONCES {
            nonces.remove(0);
        }
        nonces.push((origin, nonce.to_owned()));
        true
    }
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.signer.algorithm())
            .finish_non_exhaustive()
    }
}

/// `htu` (RFC 9449 §4.2): the URI without query and fragment.
fn htu(uri: &Uri) -> String {
    format!("{}{}", origin(uri), uri.path())
}

/// `scheme://authority` of `uri`, which nonces are kept per.
fn origin(uri: &Uri) -> String {
    format!(
        "{}://{}",
        uri.scheme_str().unwrap_or_default(),
        uri.authority().map(|a| a.as_str()).unwrap_or_default()
    )
}

impl Client {
    /// Proves possession of `key` (RFC 9449) at every request: see
    /// [`DpopKey`].
    #[must_use]
    pub fn with_dpop(mut self, key: DpopKey) -> Self {
        Arc::make_mut(&mut self.inner).dpop = Some(key);
        self
    }

    /// The DPoP key, if the client has one.
    pub fn dpop(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_ref()
    }

    /// The two headers of a request to a resource server with a DPoP-bound
    /// `access_token` (RFC 9449 §7.1): `Authorization: DPoP <token>` and
    /// `DPoP: <proof>` for `method` on `uri`, with `ath` and the nonce this
    /// server last sent. Both values are marked sensitive.
    ///
    /// Fails with [`Error::UnsupportedTokenType`] for a client without a
    /// DPoP key or a token that is not a valid header value.
    pub fn dpop_resource_headers(
        &self,
        method: &Method,
        uri: &Uri,
        access_token: &str,
        now: UnixTime,
    ) -> Result<(HeaderValue, HeaderValue), Error> {
        let key = self.dpop().ok_or_else(|| Error::UnsupportedTokenType {
            token_type: "DPoP (the client has no dpop key)".to_owned(),
        })?;
        let mut authorization =
            HeaderValue::try_from(format!("DPoP {access_token}")).map_err(|_| {
                Error::UnsupportedTokenType {
                    token_type: "DPoP (the access token is not a valid header value)".to_owned(),
                }
            })?;
        authorization.set_sensitive(true);
        let proof = proof_header(&key.proof(method, uri, Some(access_token), now)?);
        Ok((authorization, proof))
    }

    /// Reads a resource server's answer to a DPoP request (RFC 9449 §9):
    /// remembers its `DPoP-Nonce`, and says whether it is a
    /// `WWW-Authenticate: DPoP error="use_dpop_nonce"` challenge that came
    /// with a nonce, so the request should be sent once more with fresh
    /// headers from [`dpop_resource_headers`](Self::dpop_resource_headers).
    /// Retry once; a second challenge is the server's final answer.
    ///
    /// Only the status and headers are read, so any response body type will
    /// do (an adapter's streaming body, say).
    pub fn dpop_resource_challenge<B>(&self, uri: &Uri, response: &http::Response<B>) -> bool {
        let Some(key) = self.dpop() else {
            return false;
        };
        let fresh = key.remember_nonce(uri, response);
        fresh
            && response.status() == http::StatusCode::UNAUTHORIZED
            && crate::wire::parse_challenges(response.headers())
                .iter()
                .any(|challenge| {
                    challenge.is("DPoP") && challenge.param("error") == Some("use_dpop_nonce")
                })
    }

    /// Adds a DPoP proof to a request for `access_token` (or none, at the
    /// token endpoint), if the client has a DPoP key.
    pub(crate) fn attach_dpop(
        &self,
        request: &mut HttpRequest,
        access_token: Option<&str>,
        now: UnixTime,
    ) -> Result<(), Error> {
        if let Some(key) = self.dpop() {
            let proof = key.proof(request.method(), request.uri(), access_token, now)?;
            request.headers_mut().insert(DPOP, proof_header(&proof));
        }
        Ok(())
    }

    /// Reads a token endpoint answer of a DPoP client: remembers
    /// its `DPoP-Nonce`, and says whether it is the `use_dpop_nonce` error
    /// (RFC 9449 §8) with a nonce, to be met by one retry.
    pub(crate) fn dpop_nonce_retry(&self, response: &HttpResponse) -> Result<bool, Error> {
        let Some(key) = self.dpop() else {
            return Ok(false);
        };
        let uri = self.require_token_endpoint()?.uri();
        if !key.remember_nonce(uri, response) || response.status().is_success() {
            return Ok(false);
        }
        Ok(matches!(
            crate::wire::decode::<Map<String, Value>>(response),
            Err(Error::OAuth(error)) if error.error == ErrorCode::UseDpopNonce
        ))
    }
}

/// A proof as a sensitive header value.
fn proof_header(proof: &str) -> HeaderValue {
    #[allow(clippy::expect_used)]
    let mut value = HeaderValue::try_from(proof)
        // A compact JWS is base64url and dots: always a valid header value.
        .expect("a compact jws is a valid header value");
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::client::ClientAuth;
    use crate::endpoint::EndpointUrl;
    use crate::flow::{Flow, Step};
    use crate::jose::{Ed25519Signer, Es256Signer};
    use crate::testing::{CountingRng, json_response};
    use crate::token::TokenType;
    use crate::types::{ClientId, ClientSecret};

    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);
    /// RFC 9449 §7.1: the access token and its `ath`.
    const RFC9449_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    const RFC9449_ATH: &str = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo";

    fn es256_key() -> (DpopKey, Value) {
        let signer = Es256Signer::from_pkcs8_pem(include_str!("../../../../tests/keys/es256.pem"))
            .unwrap()
            .with_key_id("must-not-appear");
        let public = signer.public_jwk().unwrap();
        (
            DpopKey::new(signer, &mut CountingRng::new(0)).unwrap(),
            public,
        )
    }

    fn client(key: DpopKey) -> Client {
        Client::new(
            ClientId::new("app"),
            ClientAuth::ClientSecretBasic(ClientSecret::new("s")),
        )
        .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap())
        .with_dpop(key)
    }

    /// Header, claims, signing input and signature of a proof.
    fn parts(proof: &str) -> (Value, Value, String, Vec<u8>) {
        let parts: Vec<&str> = proof.split('.').collect();
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

    fn proof_of(request: &HttpRequest) -> (Value, Value, String, Vec<u8>) {
        parts(request.headers()["dpop"].to_str().unwrap())
    }

    fn use_dpop_nonce(nonce: &str) -> HttpResponse {
        let mut response = json_response(
            400,
            r#"{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}"#,
        );
        response
            .headers_mut()
            .insert("dpop-nonce", HeaderValue::from_str(nonce).unwrap());
        response
    }

    #[test]
    fn a_proof_has_every_rfc9449_member() {
        let (key, public) = es256_key();
        let uri: Uri = "https://server.example.com/token?x=1#frag".parse().unwrap();
        let proof = key.proof(&Method::POST, &uri, None, NOW).unwrap();
        let (header, claims, input, signature) = parts(&proof);
        // §4.2: typ, alg, jwk (public, no kid header: the key is in jwk).
        let mut expected_jwk = public.clone();
        expected_jwk.as_object_mut().unwrap().remove("kid");
        assert_eq!(
            header,
            serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": expected_jwk})
        );
        assert!(header["jwk"].get("d").is_none());
        // §4.2: jti, htm, htu without query and fragment, iat; no ath
        // without a token; no nonce before the server sent one.
        assert_eq!(claims.as_object().unwrap().len(), 4, "{claims}");
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://server.example.com/token");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert!(claims["jti"].as_str().unwrap().len() >= 22);
        // The signature verifies with the embedded key.
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
    fn ath_matches_the_rfc9449_example() {
        let (key, _) = es256_key();
        let uri: Uri = "https://resource.example.org/protectedresource"
            .parse()
            .unwrap();
        let proof = key
            .proof(&Method::GET, &uri, Some(RFC9449_TOKEN), NOW)
            .unwrap();
        let (_, claims, ..) = parts(&proof);
        assert_eq!(claims["ath"], RFC9449_ATH);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(
            claims["htu"],
            "https://resource.example.org/protectedresource"
        );
    }

    #[test]
    fn jti_is_unique_per_proof() {
        let (key, _) = es256_key();
        let uri: Uri = "https://as.example.com/token".parse().unwrap();
        let copy = key.clone();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            for key in [&key, &copy] {
                let (_, claims, ..) = parts(&key.proof(&Method::POST, &uri, None, NOW).unwrap());
                assert!(seen.insert(claims["jti"].as_str().unwrap().to_owned()));
            }
        }
    }

    #[test]
    fn hmac_and_keyless_signers_cannot_be_dpop_keys() {
        struct Hmac;
        impl JwsSigner for Hmac {
            fn algorithm(&self) -> Algorithm {
                Algorithm::Hs256
            }
            fn key_id(&self) -> Option<&str> {
                None
            }
            fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
                Ok(vec![0; 32])
            }
        }
        assert!(DpopKey::new(Hmac, &mut CountingRng::new(0)).is_err());
        struct NoJwk;
        impl JwsSigner for NoJwk {
            fn algorithm(&self) -> Algorithm {
                Algorithm::Es256
            }
            fn key_id(&self) -> Option<&str> {
                None
            }
            fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
                Ok(vec![0; 64])
            }
        }
        assert!(DpopKey::new(NoJwk, &mut CountingRng::new(0)).is_err());
    }

    #[test]
    fn the_token_endpoint_nonce_is_met_by_one_retry_and_remembered() {
        let (key, _) = es256_key();
        let client = client(key);
        let mut flow = client.client_credentials().unwrap();
        let Step::Send(first) = flow.start(NOW).unwrap() else {
            panic!("expected the token request")
        };
        let (_, claims, ..) = proof_of(&first);
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://as.example.com/token");
        assert!(claims.get("nonce").is_none());
        // §8: 400 use_dpop_nonce with a DPoP-Nonce: the flow retries at once.
        let Step::Send(second) = flow
            .handle_response(use_dpop_nonce("eyJ7S_zG.eyJH0-Z.HX4w-7v"), NOW)
            .unwrap()
        else {
            panic!("expected the retry")
        };
        let (_, retried, ..) = proof_of(&second);
        assert_eq!(retried["nonce"], "eyJ7S_zG.eyJH0-Z.HX4w-7v");
        assert_ne!(retried["jti"], claims["jti"]);
        assert_eq!(second.body(), first.body());
        // A DPoP-bound token is accepted.
        let Step::Done(tokens) = flow
            .handle_response(
                json_response(
                    200,
                    r#"{"access_token":"at","token_type":"DPoP","expires_in":60}"#,
                ),
                NOW,
            )
            .unwrap()
        else {
            panic!("expected the tokens")
        };
        assert_eq!(tokens.token_type, TokenType::DPoP);
        // The next flow of any clone sends the remembered nonce at once.
        let mut next = client.clone().client_credentials().unwrap();
        let Step::Send(request) = next.start(NOW).unwrap() else {
            panic!("expected the token request")
        };
        assert_eq!(proof_of(&request).1["nonce"], "eyJ7S_zG.eyJH0-Z.HX4w-7v");
    }

    #[test]
    fn a_second_nonce_error_ends_the_flow() {
        let (key, _) = es256_key();
        let mut flow = client(key).client_credentials().unwrap();
        let _ = flow.start(NOW).unwrap();
        let Step::Send(_) = flow.handle_response(use_dpop_nonce("n1"), NOW).unwrap() else {
            panic!("expected the retry")
        };
        let error = flow.handle_response(use_dpop_nonce("n2"), NOW).unwrap_err();
        assert_eq!(error.oauth_code(), Some(&ErrorCode::UseDpopNonce));
        assert!(matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })));
    }

    #[test]
    fn without_a_nonce_header_the_error_is_not_retried() {
        let (key, _) = es256_key();
        let mut flow = client(key).client_credentials().unwrap();
        let _ = flow.start(NOW).unwrap();
        let response = json_response(400, r#"{"error":"use_dpop_nonce"}"#);
        let error = flow.handle_response(response, NOW).unwrap_err();
        assert_eq!(error.oauth_code(), Some(&ErrorCode::UseDpopNonce));
    }

    #[test]
    fn without_a_key_a_dpop_token_is_refused_and_no_proof_is_sent() {
        let client = Client::new(
            ClientId::new("app"),
            ClientAuth::ClientSecretBasic(ClientSecret::new("s")),
        )
        .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token").unwrap());
        let mut flow = client.client_credentials().unwrap();
        let Step::Send(request) = flow.start(NOW).unwrap() else {
            panic!("expected the token request")
        };
        assert!(request.headers().get("dpop").is_none());
        let error = flow
            .handle_response(
                json_response(200, r#"{"access_token":"at","token_type":"DPoP"}"#),
                NOW,
            )
            .unwrap_err();
        assert!(matches!(error, Error::UnsupportedTokenType { .. }));
        assert!(
            client
                .dpop_resource_headers(
                    &Method::GET,
                    &"https://rs.example/".parse().unwrap(),
                    "t",
                    NOW
                )
                .is_err()
        );
    }

    #[test]
    fn resource_server_headers_and_nonce_challenge() {
        let key = DpopKey::new(
            Ed25519Signer::from_seed(&[4; 32]).unwrap(),
            &mut CountingRng::new(0),
        )
        .unwrap();
        let client = client(key);
        let uri: Uri = "https://resource.example.org/protectedresource?q=1"
            .parse()
            .unwrap();
        let (authorization, proof) = client
            .dpop_resource_headers(&Method::GET, &uri, RFC9449_TOKEN, NOW)
            .unwrap();
        assert_eq!(authorization, format!("DPoP {RFC9449_TOKEN}").as_str());
        assert!(authorization.is_sensitive() && proof.is_sensitive());
        let (header, claims, ..) = parts(proof.to_str().unwrap());
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(claims["ath"], RFC9449_ATH);
        assert!(claims.get("nonce").is_none());
        // §9: 401 with WWW-Authenticate: DPoP error="use_dpop_nonce".
        let challenge = http::Response::builder()
            .status(401)
            .header(
                "www-authenticate",
                r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#,
            )
            .header("dpop-nonce", "eyJ7S_zG.eyJbYu3.xQmBj-1")
            .body(Vec::<u8>::new())
            .unwrap();
        assert!(client.dpop_resource_challenge(&uri, &challenge));
        let (_, proof) = client
            .dpop_resource_headers(&Method::GET, &uri, RFC9449_TOKEN, NOW)
            .unwrap();
        assert_eq!(
            parts(proof.to_str().unwrap()).1["nonce"],
            "eyJ7S_zG.eyJbYu3.xQmBj-1"
        );
        // The token endpoint's server keeps its own nonce (none yet).
        let Step::Send(request) = client.client_credentials().unwrap().start(NOW).unwrap() else {
            panic!("expected the token request")
        };
        assert!(proof_of(&request).1.get("nonce").is_none());
        // A 401 without the nonce error, or without a nonce, is no retry.
        let other = http::Response::builder()
            .status(401)
            .header("www-authenticate", r#"DPoP error="invalid_token""#)
            .header("dpop-nonce", "n")
            .body(Vec::<u8>::new())
            .unwrap();
        assert!(!client.dpop_resource_challenge(&uri, &other));
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1: the RSA key and its thumbprint.
        struct Rfc7638;
        impl JwsSigner for Rfc7638 {
            fn algorithm(&self) -> Algorithm {
                Algorithm::Rs256
            }
            fn key_id(&self) -> Option<&str> {
                None
            }
            fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
                Ok(vec![0; 256])
            }
            fn public_jwk(&self) -> Option<Value> {
                Some(serde_json::json!({
                    "kty": "RSA",
                    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
                    "e": "AQAB",
                    "alg": "RS256",
                    "kid": "2011-04-29"
                }))
            }
        }
        let key = DpopKey::new(Rfc7638, &mut CountingRng::new(0)).unwrap();
        assert_eq!(
            key.thumbprint().as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn debug_shows_no_key() {
        let (key, _) = es256_key();
        assert_eq!(format!("{key:?}"), "DpopKey { alg: Es256, .. }");
    }
}
