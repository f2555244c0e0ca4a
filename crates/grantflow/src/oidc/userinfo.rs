//! The UserInfo endpoint (OpenID Connect Core §5.3): the signed-in user's
//! claims, fetched with the access token.
//!
//! ```text
//!   New ──start──▶ Sent ──handle_response──▶ Done(UserInfo)
//!                   │  (a signed response the cached keys cannot verify)
//!                   └──▶ Send(JWKS request) ──handle_response──▶ Done(UserInfo)
//! ```
//!
//! The access token goes in an `Authorization: Bearer` header (RFC 6750
//! §2.1), never in the URL (RFC 9700 §4.3.2); a DPoP-bound token of a client
//! with a DPoP key goes in `Authorization: DPoP` with a proof (RFC 9449
//! §7.1). Other token types are not sent.
//! The response is JSON, or a JWT signed by the provider
//! (`application/jwt`), whose signature, header `typ` (as for ID tokens,
//! RFC 8725 §3.11), `iss` and `aud` are checked (OIDC Core §5.3.2). Either
//! way its `sub` must equal the ID token's (§5.3.2: otherwise the response
//! "MUST NOT be used").
//!
//! [`Client::userinfo`] takes the `sub` from a validated [`IdToken`];
//! [`Client::userinfo_for_subject`] takes a `sub` the application stored
//! at sign-in, for a restored session whose ID token has long expired. The
//! check is the same.

use core::fmt;

use http::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use http::{Method, Request};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{
    Error, ErrorCode, ErrorResponse, IdTokenError, JwsError, MalformedResponse, clean_text,
    withhold,
};
use crate::flow::{Flow, Step};
use crate::jose::CompactJws;
use crate::message::{HttpRequest, HttpResponse, media_type};
use crate::oidc::id_token::{IdToken, check_jwt_type, claims_object, keys_may_be_stale};
use crate::oidc::jwks::parse_jwks_response;
use crate::time::UnixTime;
use crate::token::{TokenSet, TokenType};
use crate::types::AccessToken;
use crate::wire::challenge::{oauth_challenge, parse_challenges};
use crate::wire::{MAX_BODY, decode};

const FLOW: &str = "userinfo";

/// The user's claims from the UserInfo endpoint.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UserInfo {
    /// The subject, equal to the ID token's.
    pub sub: String,
    /// Whether the response was a signed JWT (verified) rather than JSON.
    pub signed: bool,
    /// Every other claim (`name`, `email`, …), as sent.
    pub claims: Map<String, Value>,
}

impl UserInfo {
    /// A string claim, if present and a string.
    pub fn string(&self, claim: &str) -> Option<&str> {
        self.claims.get(claim).and_then(Value::as_str)
    }
}

#[derive(Debug)]
enum State {
    New,
    Sent,
    AwaitingKeys(Vec<u8>),
    Finished,
}

/// The UserInfo request as a [`Flow`]. Made by [`Client::userinfo`] or
/// [`Client::userinfo_for_subject`].
pub struct UserInfoRequest {
    client: Client,
    access_token: AccessToken,
    subject: String,
    /// The token is DPoP-bound (RFC 9449 §7.1).
    dpop: bool,
    /// Whether the one retry with a DPoP nonce (RFC 9449 §9) was spent.
    dpop_retried: bool,
    state: State,
}

impl fmt::Debug for UserInfoRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserInfoRequest")
            .field("client", &self.client)
            .field("access_token", &self.access_token)
            .field("subject", &self.subject)
            .field("state", &self.state)
            .finish()
    }
}

impl Client {
    /// Fetches the claims of the user `id_token` names, with the access
    /// token of `tokens` (OIDC Core §5.3.1). The response's `sub` must equal
    /// the ID token's ([`Error::UserInfoSubjectMismatch`] otherwise).
    ///
    /// Fails with [`Error::MissingEndpoint`] without a UserInfo endpoint and
    /// with [`Error::UnsupportedTokenType`] unless the token is a `Bearer`
    /// token, or a `DPoP` token and the client has a DPoP key
    /// ([`Client::with_dpop`]).
    pub fn userinfo(
        &self,
        tokens: &TokenSet,
        id_token: &IdToken,
    ) -> Result<UserInfoRequest, Error> {
        self.userinfo_for_subject(tokens, id_token.subject())
    }

    /// Fetches the claims of the user whose subject is `sub`, with the
    /// access token of `tokens` (OIDC Core §5.3.1): the same request and
    /// checks as [`userinfo`](Self::userinfo), for when the validated ID
    /// token is gone — a session restored from storage, whose ID token has
    /// expired and would no longer validate. Store the `sub` (with the
    /// issuer) at sign-in, from [`IdToken::subject`].
    ///
    /// The response's `sub` must still equal `sub` (OIDC Core §5.3.2: a
    /// token substituted by an attacker could otherwise fetch someone else's
    /// claims); a mismatch is [`Error::UserInfoSubjectMismatch`]. An empty
    /// `sub` matches no response.
    ///
    /// Fails like [`userinfo`](Self::userinfo).
    ///
    /// ```
    /// use grantflow::{
    ///     AccessToken, Client, ClientAuth, ClientId, EndpointUrl, Flow, Step, TokenSet,
    ///     TokenType, UnixTime,
    /// };
    ///
    /// # fn main() -> Result<(), grantflow::Error> {
    /// let client = Client::new(ClientId::new("web-app"), ClientAuth::None)
    ///     .with_userinfo_endpoint(EndpointUrl::parse("https://op.example.com/userinfo")?);
    /// // Restored from the session store: the tokens and the `sub` kept at sign-in.
    /// let now = UnixTime::from_secs(1_800_000_000);
    /// let tokens = TokenSet::new(AccessToken::new("SlAV32hkKG"), TokenType::Bearer, now);
    /// let mut flow = client.userinfo_for_subject(&tokens, "248289761001")?;
    /// let Step::Send(request) = flow.start(now)? else { unreachable!() };
    /// assert_eq!(request.uri(), "https://op.example.com/userinfo");
    ///
    /// let answer = http::Response::builder()
    ///     .status(200)
    ///     .header("content-type", "application/json")
    ///     .body(br#"{"sub":"248289761001","name":"Jane Doe"}"#.to_vec())
    ///     .unwrap();
    /// let Step::Done(user) = flow.handle_response(answer, now)? else { unreachable!() };
    /// assert_eq!(user.string("name"), Some("Jane Doe"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn userinfo_for_subject(
        &self,
        tokens: &TokenSet,
        sub: &str,
    ) -> Result<UserInfoRequest, Error> {
        self.require_endpoint(|e| e.userinfo.as_ref(), "userinfo_endpoint")?;
        let usable = match tokens.token_type {
            TokenType::Bearer => true,
            TokenType::DPoP => self.dpop().is_some(),
            TokenType::Other(_) => false,
        };
        if !usable {
            return Err(Error::UnsupportedTokenType {
                token_type: clean_text(tokens.token_type.as_str(), 64),
            });
        }
        Ok(UserInfoRequest {
            client: self.clone(),
            access_token: tokens.access_token.clone(),
            subject: sub.to_owned(),
            dpop: tokens.token_type == TokenType::DPoP,
            dpop_retried: false,
            state: State::New,
        })
    }
}

impl UserInfoRequest {
    fn request(&self, now: UnixTime) -> Result<HttpRequest, Error> {
        let endpoint = self
            .client
            .require_endpoint(|e| e.userinfo.as_ref(), "userinfo_endpoint")?;
        if self.dpop {
            // RFC 9449 §7.1: `Authorization: DPoP` and a proof with `ath`.
            let (authorization, proof) = self.client.dpop_resource_headers(
                &Method::GET,
                endpoint.uri(),
                self.access_token.secret(),
                now,
            )?;
            let mut request = Request::new(Vec::new());
            *request.method_mut() = Method::GET;
            *request.uri_mut() = endpoint.uri().clone();
            let headers = request.headers_mut();
            headers.insert(
                ACCEPT,
                HeaderValue::from_static("application/json, application/jwt"),
            );
            headers.insert(AUTHORIZATION, authorization);
            headers.insert("dpop", proof);
            return Ok(request);
        }
        let mut request = Request::new(Vec::new());
        *request.method_mut() = Method::GET;
        *request.uri_mut() = endpoint.uri().clone();
        let headers = request.headers_mut();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, application/jwt"),
        );
        let mut authorization =
            HeaderValue::try_from(format!("Bearer {}", self.access_token.secret())).map_err(
                |_| Error::UnsupportedTokenType {
                    token_type: "Bearer (the access token is not a valid header value)".to_owned(),
                },
            )?;
        authorization.set_sensitive(true);
        headers.insert(AUTHORIZATION, authorization);
        Ok(request)
    }

    /// What an answer to the request in flight means, before the errors are
    /// cleaned of the access token.
    fn answer(&mut self, response: HttpResponse, now: UnixTime) -> Result<Step<UserInfo>, Error> {
        match core::mem::replace(&mut self.state, State::Finished) {
            State::Sent => {}
            State::AwaitingKeys(body) => {
                let keys = parse_jwks_response(&response)?;
                self.client.store_jwks(keys);
                return self.signed(body, now, true);
            }
            State::New => {
                return Err(Error::UnexpectedCall {
                    flow: FLOW,
                    call: "handle_response before start",
                });
            }
            State::Finished => {
                return Err(Error::UnexpectedCall {
                    flow: FLOW,
                    call: "handle_response after the flow ended",
                });
            }
        }
        if self.dpop {
            let endpoint = self
                .client
                .require_endpoint(|e| e.userinfo.as_ref(), "userinfo_endpoint")?;
            let challenged = self
                .client
                .dpop_resource_challenge(endpoint.uri(), &response);
            if challenged && !self.dpop_retried {
                // RFC 9449 §9: once more with the resource server's nonce.
                self.dpop_retried = true;
                let request = self.request(now)?;
                self.state = State::Sent;
                return Ok(Step::Send(request));
            }
        }
        let status = response.status().as_u16();
        if !response.status().is_success() {
            if let Some(challenge) = bearer_challenge(&response) {
                return Err(Error::OAuth(challenge));
            }
        }
        let is_jwt = media_type(&response)
            .is_some_and(|media| media.eq_ignore_ascii_case("application/jwt"));
        if is_jwt && response.status().is_success() {
            if response.body().len() > MAX_BODY {
                return Err(MalformedResponse::without_excerpt(
                    status,
                    format!("body is larger than {MAX_BODY} bytes"),
                )
                .into());
            }
            let body = response.into_body();
            return self.signed(body, now, false);
        }
        let mut claims = decode::<Map<String, Value>>(&response)?.fields;
        let sub = match claims.remove("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(MalformedResponse::without_excerpt(
                    status,
                    "userinfo response has no sub",
                )
                .into());
            }
            Some(_) => {
                return Err(MalformedResponse::without_excerpt(
                    status,
                    "userinfo sub is not a string",
                )
                .into());
            }
        };
        self.finish(UserInfo {
            sub,
            signed: false,
            claims,
        })
    }

    fn finish(&mut self, user: UserInfo) -> Result<Step<UserInfo>, Error> {
        self.state = State::Finished;
        if user.sub != self.subject {
            return Err(Error::UserInfoSubjectMismatch);
        }
        Ok(Step::Done(user))
    }

    /// A signed response: verify, then check `typ` (RFC 8725 §3.11), `iss`
    /// and `aud` (§5.3.2). On an unknown `kid`, asks for the key set once
    /// more.
    fn signed(
        &mut self,
        body: Vec<u8>,
        now: UnixTime,
        refetched: bool,
    ) -> Result<Step<UserInfo>, Error> {
        let validator = self
            .client
            .userinfo_validator()
            .ok_or(Error::IssuerNotConfigured)?;
        let token = core::str::from_utf8(&body).map_err(|_| {
            Error::Jws(JwsError::Malformed {
                reason: "the signed userinfo response is not utf-8",
            })
        })?;
        let jws = CompactJws::parse(token.trim())?;
        let keys = self.client.keys();
        match validator.verify_signature(&jws, &keys) {
            Ok(_) => {}
            Err(error @ (JwsError::NoMatchingKey { .. } | JwsError::BadSignature))
                if !refetched && keys_may_be_stale(&Error::Jws(error.clone()), token.trim()) =>
            {
                return match self.client.jwks_refetch(now) {
                    Some(request) => {
                        self.state = State::AwaitingKeys(body);
                        Ok(Step::Send(request))
                    }
                    None => Err(error.into()),
                };
            }
            Err(error) => return Err(error.into()),
        }
        check_jwt_type(&jws).map_err(Error::UserInfo)?;
        let issuer = self.client.issuer().ok_or(Error::IssuerNotConfigured)?;
        let (sub, claims) = signed_claims(
            jws.payload(),
            issuer.as_str(),
            self.client.client_id().as_str(),
        )
        .map_err(Error::UserInfo)?;
        self.finish(UserInfo {
            sub,
            signed: true,
            claims,
        })
    }
}

/// The claims of a verified UserInfo JWT: `iss` exactly the issuer, `aud`
/// naming the client (OIDC Core §5.3.2), and a `sub`.
fn signed_claims(
    payload: &[u8],
    issuer: &str,
    client_id: &str,
) -> Result<(String, Map<String, Value>), IdTokenError> {
    let mut claims = claims_object(payload)?;
    let iss = take_string(&mut claims, "iss")?;
    if iss != issuer {
        return Err(IdTokenError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: clean_text(&iss, 128),
        });
    }
    let audience_ok = match claims.remove("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(client_id)),
        None | Some(Value::Null) => return Err(IdTokenError::MissingClaim { claim: "aud" }),
        Some(_) => return Err(IdTokenError::WrongClaimType { claim: "aud" }),
    };
    if !audience_ok {
        return Err(IdTokenError::AudienceMismatch);
    }
    let sub = take_string(&mut claims, "sub")?;
    Ok((sub, claims))
}

fn take_string(
    claims: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<String, IdTokenError> {
    match claims.remove(claim) {
        Some(Value::String(value)) if !value.is_empty() => Ok(value),
        None | Some(Value::Null) => Err(IdTokenError::MissingClaim { claim }),
        Some(Value::String(_)) => Err(IdTokenError::MissingClaim { claim }),
        Some(_) => Err(IdTokenError::WrongClaimType { claim }),
    }
}

/// The error of the first RFC 6750 §3 `Bearer` (or RFC 9449 §7.1 `DPoP`)
/// challenge in the response's `WWW-Authenticate` headers that has one.
fn bearer_challenge(response: &HttpResponse) -> Option<ErrorResponse> {
    let challenges = parse_challenges(response.headers());
    let challenge = oauth_challenge(&challenges, &["Bearer", "DPoP"])?;
    Some(ErrorResponse::new(
        ErrorCode::from_wire(challenge.param("error")?),
        challenge.param("error_description"),
        challenge.param("error_uri"),
        Some(response.status().as_u16()),
    ))
}

impl Flow for UserInfoRequest {
    type Output = UserInfo;

    fn start(&mut self, now: UnixTime) -> Result<Step<UserInfo>, Error> {
        // Any error ends the flow: `Finished` until a request is out.
        if !matches!(
            core::mem::replace(&mut self.state, State::Finished),
            State::New
        ) {
            return Err(Error::UnexpectedCall {
                flow: FLOW,
                call: "start after the flow started",
            });
        }
        let request = self.request(now)?;
        self.state = State::Sent;
        Ok(Step::Send(request))
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<UserInfo>, Error> {
        // A server may echo the access token anywhere in what it answers (a
        // form field's name, an error description, a challenge): no error
        // quotes it.
        self.answer(response, now)
            .map_err(|error| withhold(error, self.access_token.secret()))
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<UserInfo>, Error> {
        self.state = State::Finished;
        Err(Error::UnexpectedCall {
            flow: FLOW,
            call: "handle_timeout (this flow never waits)",
        })
    }
}
