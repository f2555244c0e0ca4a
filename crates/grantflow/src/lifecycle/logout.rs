//! Logout as a [`Flow`]: the session's tokens revoked (RFC 7009), refresh
//! token first, then access token, and the RP-initiated logout URL (OpenID
//! Connect RP-Initiated Logout 1.0 §2) to send the browser to.
//!
//! ```text
//!  Session::logout ──> revoke refresh token ──> revoke access token ──> Done(LoggedOut { end_session_url, … })
//!                      (each skipped when absent; a failure is recorded, never fatal)
//! ```

use core::fmt;
use std::collections::VecDeque;

use url::Url;

use super::session::Session;
use crate::client::Client;
use crate::endpoints::Revocation;
use crate::error::{Error, withhold};
use crate::flow::{Flow, Step};
use crate::message::HttpResponse;
use crate::oidc::LogoutOptions;
use crate::time::UnixTime;
use crate::types::{AccessToken, RawIdToken, RefreshToken};

impl Session {
    /// Logs out: ends the session (it is consumed; clear the stored copy
    /// now) and returns the [`Logout`] flow that revokes its refresh token
    /// and then its access token at the client's revocation endpoint (RFC
    /// 7009 §2; the refresh token first, since revoking it also ends the
    /// grant on most providers), and then hands out the RP-initiated logout
    /// URL built with the session's ID token as `id_token_hint`.
    ///
    /// Without a revocation endpoint nothing is revoked (the tokens stay
    /// valid at the server until they expire) and
    /// [`LoggedOut::not_revoked`] says so; without an `end_session_endpoint`
    /// there is no logout URL. A failed revocation is reported in
    /// [`LoggedOut::failures`] and the flow goes on: the user asked to leave.
    ///
    /// Fails only when the `end_session_endpoint` already carries a
    /// parameter the logout URL sets ([`Error::EndpointParameterConflict`]).
    ///
    /// ```
    /// use grantflow::testing::{drive, response};
    /// use grantflow::{AccessToken, Client, ClientAuth, ClientId, EndpointUrl, Endpoints, LogoutOptions};
    /// use grantflow::{RefreshToken, Session, TokenSet, TokenType, UnixTime};
    ///
    /// # fn main() -> Result<(), grantflow::Error> {
    /// let mut endpoints = Endpoints::default();
    /// endpoints.revocation = Some(EndpointUrl::parse("https://op.example.com/revoke")?);
    /// endpoints.end_session = Some(EndpointUrl::parse("https://op.example.com/logout")?);
    /// let client = Client::new(ClientId::new("spa"), ClientAuth::None).with_endpoints(endpoints);
    /// let now = UnixTime::from_secs(1_800_000_000);
    /// let session = Session::from_tokens(
    ///     TokenSet::new(AccessToken::new("at"), TokenType::Bearer, now)
    ///         .with_refresh_token(RefreshToken::new("rt")),
    /// );
    ///
    /// let logout = session.logout(&client, &LogoutOptions::new())?;
    /// // An adapter sends the two revocations; here the server's answers are canned.
    /// let logged_out = drive(logout, now, |_| response(200, None, ""))?;
    /// assert!(logged_out.failures.is_empty());
    /// assert_eq!(logged_out.revoked, ["refresh_token", "access_token"]);
    /// assert_eq!(logged_out.end_session_url.unwrap().as_str(), "https://op.example.com/logout?client_id=spa");
    /// # Ok(())
    /// # }
    /// ```
    pub fn logout(self, client: &Client, options: &LogoutOptions) -> Result<Logout, Error> {
        let tokens = self.into_tokens();
        let end_session_url = if client.endpoints().end_session.is_some() {
            Some(client.end_session_url(tokens.id_token.as_ref(), options)?)
        } else {
            None
        };
        let mut revocations = VecDeque::with_capacity(2);
        let mut not_revoked = Vec::new();
        let mut failures = Vec::new();
        if let Some(refresh_token) = &tokens.refresh_token {
            match client.revoke_refresh_token(refresh_token) {
                Ok(revocation) => revocations.push_back(("refresh_token", revocation)),
                Err(Error::MissingEndpoint { .. }) => not_revoked.push("refresh_token"),
                Err(error) => failures.push(("refresh_token", error)),
            }
        }
        match client.revoke_access_token(&tokens.access_token) {
            Ok(revocation) => revocations.push_back(("access_token", revocation)),
            Err(Error::MissingEndpoint { .. }) => not_revoked.push("access_token"),
            Err(error) => failures.push(("access_token", error)),
        }
        Ok(Logout {
            revocations,
            current: None,
            outcome: LoggedOut {
                end_session_url,
                revoked: Vec::new(),
                failures,
                not_revoked,
            },
            state: State::New,
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            id_token: tokens.id_token.clone(),
        })
    }
}

/// The end of a [`Logout`]: what was revoked, what failed, and where to
/// send the browser. `Debug` redacts the logout URL (it carries the ID
/// token).
#[non_exhaustive]
pub struct LoggedOut {
    /// The RP-initiated logout URL, when the provider has an
    /// `end_session_endpoint`: redirect the browser there, so the provider
    /// ends its own session. It carries the ID token: keep it out of logs.
    pub end_session_url: Option<Url>,
    /// The tokens revoked, by their `token_type_hint`, in order.
    pub revoked: Vec<&'static str>,
    /// The revocations that failed, each with its error: the token may stay
    /// valid at the server until it expires. [`Error::kind`] says whether a
    /// later retry may help.
    pub failures: Vec<(&'static str, Error)>,
    /// The tokens not revoked because the client has no revocation
    /// endpoint: they stay valid at the server until they expire.
    pub not_revoked: Vec<&'static str>,
}

impl fmt::Debug for LoggedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggedOut")
            .field(
                "end_session_url",
                &self.end_session_url.as_ref().map(|_| "<redacted>"),
            )
            .field("revoked", &self.revoked)
            .field("failures", &self.failures)
            .field("not_revoked", &self.not_revoked)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    AwaitingRevocation,
    Finished,
}

/// Logout as a [`Flow`]; made by [`Session::logout`]. Its requests are the
/// revocations, in order; its output the [`LoggedOut`] report. It fails only
/// when driven out of order.
///
/// The logout URL is known before any request is sent
/// ([`end_session_url`](Self::end_session_url)), so a transport failure
/// while revoking does not lose it.
pub struct Logout {
    revocations: VecDeque<(&'static str, Revocation)>,
    current: Option<(&'static str, Revocation)>,
    outcome: LoggedOut,
    state: State,
    /// The session's tokens, withheld from every failure: a server
    /// answering the revocation of one token may echo another.
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
    id_token: Option<RawIdToken>,
}

impl fmt::Debug for Logout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logout")
            .field(
                "revocations",
                &self
                    .revocations
                    .iter()
                    .map(|(hint, _)| hint)
                    .collect::<Vec<_>>(),
            )
            .field("current", &self.current.as_ref().map(|(hint, _)| hint))
            .field(
                "end_session_url",
                &self.outcome.end_session_url.as_ref().map(|_| "<redacted>"),
            )
            .field("state", &self.state)
            .finish()
    }
}

impl Logout {
    const FLOW: &str = "logout";

    /// The RP-initiated logout URL the flow will end with, if any.
    pub fn end_session_url(&self) -> Option<&Url> {
        self.outcome.end_session_url.as_ref()
    }

    fn unexpected(&mut self, call: &'static str) -> Error {
        self.state = State::Finished;
        Error::UnexpectedCall {
            flow: Self::FLOW,
            call,
        }
    }

    /// Records a failed revocation, its error holding none of the tokens.
    fn fail(&mut self, hint: &'static str, error: Error) {
        let mut error = withhold(error, self.access_token.secret());
        if let Some(refresh_token) = &self.refresh_token {
            error = withhold(error, refresh_token.secret());
        }
        if let Some(id_token) = &self.id_token {
            error = withhold(error, id_token.as_str());
        }
        self.outcome.failures.push((hint, error));
    }

    /// Starts the next revocation, or ends with the report.
    fn next(&mut self, now: UnixTime) -> Step<LoggedOut> {
        while let Some((hint, mut revocation)) = self.revocations.pop_front() {
            match revocation.start(now) {
                Ok(Step::Send(request)) => {
                    self.current = Some((hint, revocation));
                    self.state = State::AwaitingRevocation;
                    return Step::Send(request);
                }
                // A revocation is one request; anything else is recorded.
                Ok(Step::Done(_)) => self.outcome.revoked.push(hint),
                Ok(Step::WaitUntil(_)) => self.outcome.failures.push((
                    hint,
                    Error::UnexpectedCall {
                        flow: Self::FLOW,
                        call: "a revocation that waits",
                    },
                )),
                Err(error) => self.fail(hint, error),
            }
        }
        self.state = State::Finished;
        Step::Done(core::mem::replace(
            &mut self.outcome,
            LoggedOut {
                end_session_url: None,
                revoked: Vec::new(),
                failures: Vec::new(),
                not_revoked: Vec::new(),
            },
        ))
    }
}

impl Flow for Logout {
    type Output = LoggedOut;

    fn start(&mut self, now: UnixTime) -> Result<Step<LoggedOut>, Error> {
        if self.state != State::New {
            return Err(self.unexpected("start after the flow started"));
        }
        Ok(self.next(now))
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<LoggedOut>, Error> {
        if self.state != State::AwaitingRevocation {
            return Err(self.unexpected("handle_response without a request in flight"));
        }
        let Some((hint, mut revocation)) = self.current.take() else {
            return Err(self.unexpected("handle_response without a request in flight"));
        };
        match revocation.handle_response(response, now) {
            Ok(Step::Done(_)) => self.outcome.revoked.push(hint),
            Ok(Step::Send(request)) => {
                self.current = Some((hint, revocation));
                return Ok(Step::Send(request));
            }
            Ok(Step::WaitUntil(_)) => self.outcome.failures.push((
                hint,
                Error::UnexpectedCall {
                    flow: Self::FLOW,
                    call: "a revocation that waits",
                },
            )),
            Err(error) => self.fail(hint, error),
        }
        Ok(self.next(now))
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<LoggedOut>, Error> {
        Err(self.unexpected("handle_timeout (this flow never waits)"))
    }
}
