//! The code exchange (RFC 6749 §4.1.3, RFC 7636 §4.5) as a [`Flow`]:
//! [`SignInExchange`], which validates the ID token (OIDC Core §3.1.3.7) and
//! re-fetches the provider's keys once on an unknown `kid` (§10.1.1), and
//! [`CodeExchange`], which only gets the tokens; one private core runs both.

use core::fmt;

use super::Secret;
use super::callback::PendingCore;
use crate::client::Client;
use crate::error::{Error, IdTokenError, withhold};
use crate::flow::{Flow, Step};
use crate::message::HttpResponse;
use crate::oidc::{Expected, IdToken, parse_jwks_response, refetch_keys_or};
use crate::time::UnixTime;
use crate::token::{TokenSet, parse_tokens_for};

/// What a sign-in checks the ID token against (OIDC Core §3.1.3.7 steps 11
/// and 13), besides the client's issuer, id and keys.
pub(super) struct IdTokenCheck {
    pub(super) nonce: Secret,
    pub(super) max_age: Option<u64>,
    /// The `acr_values` sent: checked against `acr` when the policy says so
    /// ([`IdTokenPolicy::with_acr_required`](crate::IdTokenPolicy::with_acr_required)).
    pub(super) acr_values: Option<String>,
}

/// Where an exchange stands; named for what it awaits.
#[derive(Debug)]
enum ExchangeState {
    New,
    AwaitingTokens,
    AwaitingKeys(Box<TokenSet>),
    /// Done, or failed: every further call is an error.
    Finished,
}

/// The end of the core: the tokens, and the validated ID token when the
/// exchange had an [`IdTokenCheck`].
struct Exchanged {
    tokens: TokenSet,
    id_token: Option<IdToken>,
}

/// The state machine both exchanges run.
struct ExchangeCore {
    /// The flow's name in [`Error::UnexpectedCall`].
    flow: &'static str,
    client: Client,
    code: Secret,
    pending: PendingCore,
    /// `Some` for a sign-in: an ID token is then required and validated.
    check: Option<IdTokenCheck>,
    state: ExchangeState,
    /// Whether the one retry with a DPoP nonce (RFC 9449 §8) was spent.
    dpop_retried: bool,
}

impl ExchangeCore {
    fn new(
        flow: &'static str,
        client: &Client,
        code: Secret,
        pending: PendingCore,
        check: Option<IdTokenCheck>,
    ) -> Self {
        ExchangeCore {
            flow,
            client: client.clone(),
            code,
            pending,
            check,
            state: ExchangeState::New,
            dpop_retried: false,
        }
    }

    fn unexpected(&self, call: &'static str) -> Error {
        Error::UnexpectedCall {
            flow: self.flow,
            call,
        }
    }

    /// The token request. The state is `Finished` unless it succeeds, so a
    /// failed or repeated start leaves the flow over.
    fn start(&mut self, now: UnixTime) -> Result<Step<Exchanged>, Error> {
        match core::mem::replace(&mut self.state, ExchangeState::Finished) {
            ExchangeState::New => {}
            ExchangeState::AwaitingTokens | ExchangeState::AwaitingKeys(_) => {
                return Err(self.unexpected("start after the flow started"));
            }
            ExchangeState::Finished => {
                return Err(self.unexpected("start after the flow ended"));
            }
        }
        self.send(now)
    }

    /// Sends the token request (RFC 6749 §4.1.3, RFC 7636 §4.5).
    fn send(&mut self, now: UnixTime) -> Result<Step<Exchanged>, Error> {
        let request = self.client.token_request(
            [
                ("grant_type", "authorization_code"),
                ("code", self.code.0.as_str()),
                ("redirect_uri", self.pending.redirect_uri.as_str()),
                ("code_verifier", self.pending.code_verifier.secret()),
            ],
            now,
        )?;
        self.state = ExchangeState::AwaitingTokens;
        Ok(Step::Send(request))
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<Exchanged>, Error> {
        match core::mem::replace(&mut self.state, ExchangeState::Finished) {
            ExchangeState::AwaitingTokens => {
                if self.client.dpop_nonce_retry(&response)? && !self.dpop_retried {
                    // RFC 9449 §8: once more with the server's nonce (the
                    // code was not spent: the proof was refused first).
                    self.dpop_retried = true;
                    return self.send(now);
                }
                // A server may quote the code or the verifier it refused, in
                // an error or in the ID token it sends.
                let tokens = parse_tokens_for(&self.client, &response, now)
                    .map_err(|error| self.withheld(error))?;
                self.finish(tokens, now, true)
                    .map_err(|error| self.withheld(error))
            }
            ExchangeState::AwaitingKeys(tokens) => {
                let keys = parse_jwks_response(&response)?;
                self.client.store_jwks(keys);
                self.finish(*tokens, now, false)
                    .map_err(|error| self.withheld(error))
            }
            ExchangeState::New => Err(self.unexpected("handle_response before start")),
            ExchangeState::Finished => Err(self.unexpected("handle_response after the flow ended")),
        }
    }

    fn handle_timeout(&mut self) -> Error {
        self.state = ExchangeState::Finished;
        self.unexpected("handle_timeout (this flow never waits)")
    }

    /// The ID token in `tokens`, validated per OIDC Core §3.1.3.7 with the
    /// client's issuer, id and cached keys, the `nonce` and `max_age` sent,
    /// and the access token and code for `at_hash` and `c_hash`.
    fn validate(
        &self,
        check: &IdTokenCheck,
        tokens: &TokenSet,
        now: UnixTime,
    ) -> Result<IdToken, Error> {
        let raw = tokens.id_token.as_ref().ok_or(IdTokenError::NotReturned)?;
        // A sign-in begins only for a client with an issuer, and the
        // callback refuses a client whose issuer differs.
        let validator = self
            .client
            .id_token_validator()
            .ok_or(Error::IssuerNotConfigured)?;
        let mut expected = Expected::none()
            .access_token(tokens.access_token.secret())
            .code(&self.code.0)
            .nonce(&check.nonce.0);
        if let Some(max_age) = check.max_age {
            expected = expected.max_age(max_age);
        }
        if let Some(acr_values) = check.acr_values.as_deref() {
            expected = expected.acr_values(acr_values);
        }
        validator.validate(raw, &self.client.keys(), expected, now)
    }

    /// Ends the flow with the tokens (validating the ID token for a
    /// sign-in), or, when `may_refetch` and the keys look stale, asks for the
    /// key set. The state is `Finished` on entry.
    fn finish(
        &mut self,
        tokens: TokenSet,
        now: UnixTime,
        may_refetch: bool,
    ) -> Result<Step<Exchanged>, Error> {
        let Some(check) = &self.check else {
            return Ok(Step::Done(Exchanged {
                tokens,
                id_token: None,
            }));
        };
        let error = match self.validate(check, &tokens, now) {
            Ok(id_token) => {
                return Ok(Step::Done(Exchanged {
                    tokens,
                    id_token: Some(id_token),
                }));
            }
            Err(error) => error,
        };
        // Key rotation (OIDC Core §10.1.1): fetch the key set once more,
        // unless one was fetched too recently.
        let request = refetch_keys_or(
            &self.client,
            error,
            tokens.id_token.as_ref(),
            may_refetch,
            now,
        )?;
        self.state = ExchangeState::AwaitingKeys(Box::new(tokens));
        Ok(Step::Send(request))
    }
}

impl ExchangeCore {
    /// `error` without the secrets the token request carried, wherever the
    /// server echoed them: the code, the verifier and the client secret.
    fn withheld(&self, error: Error) -> Error {
        let error = withhold(error, &self.code.0);
        let error = withhold(error, self.pending.code_verifier.secret());
        self.client.withhold_secret(error)
    }

    /// Prints the exchange as `name`, secrets (code, verifier, `state`,
    /// `nonce`) redacted.
    fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("client", &self.client)
            .field("code", &"<redacted>")
            .field("pending", &self.pending)
            .field("nonce", &self.check.as_ref().map(|_| "<redacted>"))
            .field("max_age", &self.check.as_ref().and_then(|c| c.max_age))
            .field("state", &self.state)
            .finish()
    }
}

/// `step` with its output turned into `U` by `done`.
fn map_done<T, U>(
    step: Step<T>,
    done: impl FnOnce(T) -> Result<U, Error>,
) -> Result<Step<U>, Error> {
    Ok(match step {
        Step::Send(request) => Step::Send(request),
        Step::WaitUntil(at) => Step::WaitUntil(at),
        Step::Done(output) => Step::Done(done(output)?),
    })
}

/// The outcome of a sign-in: the tokens, and the ID token, validated.
#[derive(Debug)]
#[non_exhaustive]
pub struct SignIn {
    /// The token response. Its [`TokenSet::id_token`] is the raw form of
    /// [`id_token`](Self::id_token).
    pub tokens: TokenSet,
    /// The ID token, validated per OIDC Core §3.1.3.7: signature, `iss`,
    /// `aud`, `azp`, `exp`, `iat`, `nonce`, `auth_time` against `max_age`,
    /// and `at_hash`/`c_hash` when present. The user is its (`iss`, `sub`).
    pub id_token: IdToken,
}

/// The code exchange of a sign-in (RFC 6749 §4.1.3, OIDC Core §3.1.3) as a
/// [`Flow`]: one token request; the ID token the response must carry is
/// validated (OIDC Core §3.1.3.7); on a `kid` the cached keys lack, one JWKS
/// request, then the validation again (§10.1.1). Made by
/// [`PendingSignIn::callback`](super::PendingSignIn::callback); the whole
/// flow starts at [`Client::sign_in`].
///
/// After any error, every further call returns an error.
pub struct SignInExchange {
    core: ExchangeCore,
}

impl SignInExchange {
    const FLOW: &str = "sign-in code exchange";

    pub(super) fn new(
        client: &Client,
        code: Secret,
        pending: PendingCore,
        check: IdTokenCheck,
    ) -> Self {
        SignInExchange {
            core: ExchangeCore::new(Self::FLOW, client, code, pending, Some(check)),
        }
    }
}

impl fmt::Debug for SignInExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.debug("SignInExchange", f)
    }
}

impl Flow for SignInExchange {
    type Output = SignIn;

    fn start(&mut self, now: UnixTime) -> Result<Step<SignIn>, Error> {
        map_done(self.core.start(now)?, sign_in)
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<SignIn>, Error> {
        map_done(self.core.handle_response(response, now)?, sign_in)
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<SignIn>, Error> {
        Err(self.core.handle_timeout())
    }
}

/// A sign-in's end. The core always validates an ID token when it has an
/// [`IdTokenCheck`], as a sign-in's does, so `None` does not happen; it
/// would mean no ID token, and is reported so.
fn sign_in(exchanged: Exchanged) -> Result<SignIn, Error> {
    let id_token = exchanged.id_token.ok_or(IdTokenError::NotReturned)?;
    Ok(SignIn {
        tokens: exchanged.tokens,
        id_token,
    })
}

/// The code exchange of a plain OAuth 2.0 authorization (RFC 6749 §4.1.3)
/// as a [`Flow`]: one token request, and the [`TokenSet`]. Made by
/// [`PendingAuthorization::callback`](super::PendingAuthorization::callback);
/// the whole flow starts at [`Client::authorize`].
///
/// No ID token is validated: one the server sends anyway stays, raw and
/// unchecked, in [`TokenSet::id_token`]. OpenID Connect goes through
/// [`Client::sign_in`].
///
/// After any error, every further call returns an error.
pub struct CodeExchange {
    core: ExchangeCore,
}

impl CodeExchange {
    const FLOW: &str = "authorization code exchange";

    pub(super) fn new(client: &Client, code: Secret, pending: PendingCore) -> Self {
        CodeExchange {
            core: ExchangeCore::new(Self::FLOW, client, code, pending, None),
        }
    }
}

impl fmt::Debug for CodeExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.debug("CodeExchange", f)
    }
}

impl Flow for CodeExchange {
    type Output = TokenSet;

    fn start(&mut self, now: UnixTime) -> Result<Step<TokenSet>, Error> {
        map_done(self.core.start(now)?, |exchanged| Ok(exchanged.tokens))
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<TokenSet>, Error> {
        map_done(self.core.handle_response(response, now)?, |exchanged| {
            Ok(exchanged.tokens)
        })
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<TokenSet>, Error> {
        Err(self.core.handle_timeout())
    }
}
