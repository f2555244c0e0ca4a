//! The refresh token grant (RFC 6749 §6) as a [`Flow`]: new tokens for a
//! refresh token, with rotation reported, narrower scopes reported, and a
//! returned ID token validated and held to the original sign-in's identity
//! (OIDC Core §12.2).
//!
//! ```text
//!  Client::refresh ──> New ──start──> AwaitingTokens ──response──> Done(Refreshed)
//!                                          │  unknown kid in the new ID token
//!                                          └──> AwaitingKeys ──JWKS──> Done(Refreshed)
//! ```

use core::fmt;

use crate::client::Client;
use crate::error::{Error, IdTokenError, withhold};
use crate::flow::{Flow, Step};
use crate::message::HttpResponse;
use crate::oidc::{Expected, IdToken, Identity, parse_jwks_response, refetch_keys_or};
use crate::time::UnixTime;
use crate::token::{TokenSet, parse_tokens_for};
use crate::types::{RefreshToken, Scope, join_scopes};

impl Client {
    /// A refresh of `refresh_token` (RFC 6749 §6): one token request,
    /// authenticated like every token request of this client (a public
    /// client sends its `client_id`).
    ///
    /// Without [`scope`](Refresh::scope), the server grants the scopes of the
    /// original grant. An ID token in the response is validated (signature,
    /// `iss`, `aud`, `azp`, `exp`, `iat`, `at_hash`; no `nonce` is required)
    /// when the client has an issuer, and checked against the original
    /// sign-in when [`identity`](Refresh::identity) is given. A
    /// [`Session`](crate::Session) does all of this for you.
    ///
    /// ```
    /// use grantflow::testing::{drive, json_response};
    /// use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, RefreshToken, Rotation, UnixTime};
    ///
    /// # fn main() -> Result<(), grantflow::Error> {
    /// let client = Client::new(
    ///     ClientId::new("my-app"),
    ///     ClientAuth::ClientSecretBasic(ClientSecret::new("s3cr3t")),
    /// )
    /// .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token")?);
    /// let flow = client.refresh(&RefreshToken::new("old-refresh-token"))?;
    /// // An adapter (grantflow-ureq, grantflow-async) sends the request; here
    /// // the server's answer is canned.
    /// let refreshed = drive(flow, UnixTime::from_secs(1_000), |_request| {
    ///     json_response(200, r#"{"access_token":"new","token_type":"Bearer","expires_in":3600,"refresh_token":"rotated"}"#)
    /// })?;
    /// assert_eq!(refreshed.rotation, Rotation::Rotated);
    /// assert_eq!(refreshed.tokens.refresh_token.unwrap().secret(), "rotated");
    /// # Ok(())
    /// # }
    /// ```
    pub fn refresh(&self, refresh_token: &RefreshToken) -> Result<Refresh, Error> {
        self.require_token_endpoint()?;
        Ok(Refresh {
            client: self.clone(),
            refresh_token: refresh_token.clone(),
            scopes: Vec::new(),
            params: Vec::new(),
            identity: None,
            state: State::New,
            dpop_retried: false,
        })
    }
}

const FLOW: &str = "refresh";

const RESERVED: [&str; 7] = [
    "grant_type",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// Whether the server rotated the refresh token (RFC 9700 §4.14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The response carried a new refresh token, which replaces the old one:
    /// store it at once, since the old one may now be invalid and reusing it
    /// may revoke the whole grant.
    Rotated,
    /// The response carried none, or the same one again: the old refresh
    /// token stays in use.
    Kept,
}

/// The outcome of a [`Refresh`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Refreshed {
    /// The new tokens. [`TokenSet::refresh_token`] is the rotated token, or
    /// the old one when the server sent none ([`rotation`](Self::rotation)
    /// says which). [`TokenSet::scopes`] is what the server returned, never
    /// filled in.
    pub tokens: TokenSet,
    /// Whether the refresh token was rotated.
    pub rotation: Rotation,
    /// The refreshed ID token, validated, when the server sent one and the
    /// client has an issuer.
    pub id_token: Option<IdToken>,
    /// The scopes asked for with [`Refresh::scope`] that the server's
    /// `scope` does not list: the grant is narrower than asked. Empty when
    /// none were asked for or the response had no `scope`.
    pub missing_scopes: Vec<Scope>,
}

/// Where a refresh stands; named for what it awaits.
#[derive(Debug)]
enum State {
    New,
    AwaitingTokens,
    AwaitingKeys(Box<TokenSet>),
    /// Done, or failed: every further call is an error.
    Finished,
}

/// The refresh token grant (RFC 6749 §6) as a [`Flow`]; made by
/// [`Client::refresh`]. `Debug` redacts the refresh token.
///
/// After any error, every further call returns an error.
pub struct Refresh {
    client: Client,
    refresh_token: RefreshToken,
    scopes: Vec<Scope>,
    params: Vec<(String, String)>,
    identity: Option<Identity>,
    state: State,
    /// Whether the one retry with a DPoP nonce (RFC 9449 §8) was spent.
    dpop_retried: bool,
}

impl fmt::Debug for Refresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresh")
            .field("client", &self.client)
            .field("refresh_token", &self.refresh_token)
            .field("scopes", &self.scopes)
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("identity", &self.identity)
            .field("state", &self.state)
            .finish()
    }
}

impl Refresh {
    /// Asks for `scope` only (RFC 6749 §6: no scope beyond the original
    /// grant). Call again for each scope.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scopes.push(scope);
        self
    }

    /// Asks for these scopes only.
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.scopes.extend(scopes);
        self
    }

    /// An RFC 8707 resource indicator: the API the new access token is for.
    #[must_use]
    pub fn resource(mut self, resource: url::Url) -> Self {
        self.params.push(("resource".to_owned(), resource.into()));
        self
    }

    /// Any other parameter. Those the flow sets itself (`grant_type`,
    /// `refresh_token`, `scope`, client authentication) are refused when the
    /// flow starts.
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The identity the original sign-in proved: an ID token in the response
    /// must keep its `iss`, `sub`, `aud`, `azp` and `auth_time` (OIDC Core
    /// §12.2), or the refresh fails with
    /// [`IdTokenError::ChangedOnRefresh`].
    #[must_use]
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    fn unexpected(&self, call: &'static str) -> Error {
        Error::UnexpectedCall { flow: FLOW, call }
    }

    /// Fills in the old refresh token when none was returned, validates the
    /// ID token, and ends; or asks for the key set once when the ID token's
    /// key looks new. The state is `Finished` on entry.
    fn finish(
        &mut self,
        mut tokens: TokenSet,
        now: UnixTime,
        may_refetch: bool,
    ) -> Result<Step<Refreshed>, Error> {
        let id_token = match self.validate(&tokens, now) {
            Ok(id_token) => id_token,
            Err(error) => {
                // Key rotation (OIDC Core §10.1.1), as in the code exchange.
                let request = refetch_keys_or(
                    &self.client,
                    error,
                    tokens.id_token.as_ref(),
                    may_refetch,
                    now,
                )?;
                self.state = State::AwaitingKeys(Box::new(tokens));
                return Ok(Step::Send(request));
            }
        };
        // A server that does not rotate may leave the refresh token out or
        // echo the same one (oidc-provider does for confidential clients):
        // both keep it.
        let rotation = match &tokens.refresh_token {
            Some(returned) if returned.secret() != self.refresh_token.secret() => Rotation::Rotated,
            _ => {
                tokens.refresh_token = Some(self.refresh_token.clone());
                Rotation::Kept
            }
        };
        let missing_scopes = match &tokens.scopes {
            Some(granted) => self
                .scopes
                .iter()
                .filter(|asked| !granted.contains(asked))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        Ok(Step::Done(Refreshed {
            tokens,
            rotation,
            id_token,
            missing_scopes,
        }))
    }

    /// The ID token in `tokens`, if any, validated (OIDC Core §12.2): the
    /// §3.1.3.7 checks without a nonce, `at_hash` against the new access
    /// token, and the original identity when known.
    fn validate(&self, tokens: &TokenSet, now: UnixTime) -> Result<Option<IdToken>, Error> {
        let Some(raw) = tokens.id_token.as_ref() else {
            return Ok(None);
        };
        let Some(validator) = self.client.id_token_validator() else {
            // A plain OAuth client cannot validate it: it stays raw and
            // unchecked in the token set, as in the code exchange. A
            // session from a sign-in always has an issuer.
            if self.identity.is_some() {
                return Err(Error::IssuerNotConfigured);
            }
            return Ok(None);
        };
        let expected = Expected::none().access_token(tokens.access_token.secret());
        let id_token = validator.validate(raw, &self.client.keys(), expected, now)?;
        if let Some(identity) = &self.identity {
            identity
                .check_refreshed(id_token.claims())
                .map_err(Error::IdToken)?;
        }
        Ok(Some(id_token))
    }
}

impl Refresh {
    /// `error` without the secrets the request carried, wherever the server
    /// echoed them: the refresh token and the client secret.
    fn withheld(&self, error: Error) -> Error {
        self.client
            .withhold_secret(withhold(error, self.refresh_token.secret()))
    }
}

impl Refresh {
    /// Sends the refresh request (RFC 6749 §6).
    fn send(&mut self, now: UnixTime) -> Result<Step<Refreshed>, Error> {
        let scope = join_scopes(&self.scopes);
        let mut params = Vec::with_capacity(3 + self.params.len());
        params.push(("grant_type", "refresh_token"));
        params.push(("refresh_token", self.refresh_token.secret()));
        if !scope.is_empty() {
            params.push(("scope", scope.as_str()));
        }
        params.extend(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let request = self.client.token_request(params, now)?;
        self.state = State::AwaitingTokens;
        Ok(Step::Send(request))
    }
}

impl Flow for Refresh {
    type Output = Refreshed;

    fn start(&mut self, now: UnixTime) -> Result<Step<Refreshed>, Error> {
        match core::mem::replace(&mut self.state, State::Finished) {
            State::New => {}
            State::Finished => return Err(self.unexpected("start after the flow ended")),
            State::AwaitingTokens | State::AwaitingKeys(_) => {
                return Err(self.unexpected("start after the flow started"));
            }
        }
        super::check_params(
            &RESERVED,
            self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        self.send(now)
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<Refreshed>, Error> {
        match core::mem::replace(&mut self.state, State::Finished) {
            State::AwaitingTokens => {
                if self.client.dpop_nonce_retry(&response)? && !self.dpop_retried {
                    // RFC 9449 §8: once more with the server's nonce.
                    self.dpop_retried = true;
                    return self.send(now);
                }
                // A server may quote the refresh token, in an error or in the
                // ID token it sends.
                let tokens = parse_tokens_for(&self.client, &response, now)
                    .map_err(|error| self.withheld(error))?;
                self.finish(tokens, now, true)
                    .map_err(|error| self.withheld(error))
            }
            State::AwaitingKeys(tokens) => {
                let keys = parse_jwks_response(&response)?;
                self.client.store_jwks(keys);
                self.finish(*tokens, now, false)
                    .map_err(|error| self.withheld(error))
            }
            State::New => Err(self.unexpected("handle_response before start")),
            State::Finished => Err(self.unexpected("handle_response after the flow ended")),
        }
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<Refreshed>, Error> {
        self.state = State::Finished;
        Err(self.unexpected("handle_timeout (this flow never waits)"))
    }
}

/// Whether `error`, from a refresh, means the grant is gone: the server
/// said `invalid_grant` (the refresh token expired, was revoked or was
/// already used), or the refreshed ID token names another user.
pub(crate) fn ends_grant(error: &Error) -> bool {
    matches!(
        error.oauth_code(),
        Some(crate::error::ErrorCode::InvalidGrant)
    ) || matches!(error, Error::IdToken(IdTokenError::ChangedOnRefresh { .. }))
}
