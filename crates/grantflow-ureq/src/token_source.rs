//! A token source many threads share: it answers a usable access token from
//! a [`Session`], and when the token must be renewed (refreshed, RFC 6749
//! §6, or a client credentials grant run again, RFC 6749 §4.4) it sends ONE
//! request however many threads ask at that moment; the others wait for it
//! and get its result, or its error.
//!
//! ```text
//!   token() ──> session.access_token(now) ──Ready──────────────> the tokens
//!                  │ Refresh / Renew
//!                  ├─ another thread is renewing ──wait──> its result (or its error)
//!                  └─ this thread leads: drive the flow, apply the result
//!                        Updated ──> on_change(session) ──> the new tokens
//!                        Failed  ──> the old token while it is good, else the error
//!                        Ended   ──> on_change(session) ──> SessionEnded, now and forever
//! ```

use core::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use grantflow::{Access, AccessToken, Applied, Client, Session, TokenSet, UnixTime};

use crate::{Error, HttpClient, drive_with_clock};

type Clock = Box<dyn Fn() -> UnixTime + Send + Sync>;
type OnChange = Box<dyn Fn(&Session) + Send + Sync>;

/// Why a [`TokenSource`] has no access token to give. `Clone`, so that every
/// thread waiting on one refresh gets the same error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TokenError {
    /// The session has ended: the server refused the refresh token
    /// (`invalid_grant`: expired, revoked or already used), a refreshed ID
    /// token named another user, the access token expired or was rejected
    /// with no way to renew it, or the session was ended. **Clear the stored
    /// session and tokens** and sign in again. Every later call of the
    /// source answers this too.
    SessionEnded {
        /// The server's refusal or the failed check that ended it, if one did.
        cause: Option<grantflow::Error>,
    },
    /// Renewing the access token failed and the old one cannot be used (it
    /// expired, or was reported rejected). The session goes on: a later call
    /// tries again. [`is_retryable`](Self::is_retryable) says whether that
    /// may help (transport errors, 5xx, `temporarily_unavailable`).
    Failed(Arc<Error>),
}

impl TokenError {
    /// Whether the session has ended and the stored session must be cleared.
    pub fn is_session_ended(&self) -> bool {
        matches!(self, TokenError::SessionEnded { .. })
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            TokenError::SessionEnded { .. } => false,
            TokenError::Failed(error) => error.is_retryable(),
        }
    }

    /// The OAuth error code the token endpoint answered with, if any
    /// (`invalid_grant` for an ended session, …).
    pub fn oauth_code(&self) -> Option<&grantflow::ErrorCode> {
        match self {
            TokenError::SessionEnded { cause } => cause.as_ref()?.oauth_code(),
            TokenError::Failed(error) => error.oauth_code(),
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::SessionEnded { cause: None } => {
                f.write_str("the token session has ended: clear stored tokens and sign in again")
            }
            TokenError::SessionEnded { cause: Some(cause) } => write!(
                f,
                "the token session has ended ({cause}): clear stored tokens and sign in again"
            ),
            TokenError::Failed(error) => write!(f, "could not renew the access token: {error}"),
        }
    }
}

impl std::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenError::SessionEnded { cause } => cause
                .as_ref()
                .map(|cause| cause as &(dyn std::error::Error + 'static)),
            TokenError::Failed(error) => Some(&**error),
        }
    }
}

/// A usable access token for many threads at once, from one [`Session`].
///
/// Cheap to clone (an `Arc` inside) and `Send + Sync`: give a clone to each
/// thread, or keep one in the application's state. [`token`](Self::token)
/// answers the session's tokens while the access token is good; when it is
/// due (within the session's margin of its expiry, or reported rejected with
/// [`invalidate`](Self::invalidate)), the first thread to ask drives the
/// refresh (or re-runs the client credentials grant) and every thread asking
/// meanwhile waits for that one request and gets its result or its error.
///
/// **Persist the session after every change**: a rotated refresh token
/// replaces the old one, which the server may no longer accept (and reusing
/// it may revoke the whole grant). Register [`on_change`](TokenSourceBuilder::on_change),
/// called with the session after each refresh and when it ends; or read
/// [`session`](Self::session) after [`token`](Self::token) returns.
///
/// ```no_run
/// use grantflow::{Client, Session};
/// use grantflow_ureq::{HttpClient, TokenSource};
///
/// # fn store(_: &Session) {}
/// # fn clear() {}
/// # fn run(client: Client, session: Session) -> Result<(), grantflow_ureq::TokenError> {
/// let source = TokenSource::builder(session, client, HttpClient::new())
///     .on_change(|session| {
///         if session.is_ended() {
///             clear(); // the grant is gone: forget the stored session
///         } else {
///             store(session); // a rotated refresh token must not be lost
///         }
///     })
///     .build();
///
/// let workers: Vec<_> = (0..4)
///     .map(|_| {
///         let source = source.clone();
///         std::thread::spawn(move || {
///             let tokens = source.token()?;
///             // … call the API with tokens.access_token …
///             Ok::<_, grantflow_ureq::TokenError>(())
///         })
///     })
///     .collect();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    http: HttpClient,
    clock: Clock,
    on_change: Option<OnChange>,
    state: Mutex<State>,
    /// Signalled when a renewal round ends.
    renewed: Condvar,
}

struct State {
    session: Session,
    /// A thread is renewing the token; the others wait.
    renewing: bool,
    /// How many renewal rounds have ended.
    round: u64,
    /// What the last round ended with, for the threads that waited on it.
    outcome: Option<Result<TokenSet, TokenError>>,
    /// Set once the session has ended; every call answers it.
    ended: Option<TokenError>,
}

/// What a renewal needs to run, taken out of the session under the lock.
enum Work {
    Refresh(grantflow::Refresh),
    Renew(grantflow::ClientCredentials),
    Ended,
}

/// The result of driving a renewal: short-lived, one per round.
#[allow(clippy::large_enum_variant)] // moved once, never stored
enum Driven {
    Refreshed(Result<grantflow::Refreshed, Error>),
    Renewed(Result<TokenSet, Error>),
}

/// Configures a [`TokenSource`].
#[must_use]
pub struct TokenSourceBuilder {
    session: Session,
    client: Client,
    http: HttpClient,
    clock: Clock,
    on_change: Option<OnChange>,
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("session", &self.session)
            .field("client", &self.client)
            .field("on_change", &self.on_change.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenSourceBuilder {
    /// Reads the time from `clock` instead of the system clock ([`crate::now`]):
    /// for tests in fake time.
    pub fn clock(mut self, clock: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Calls `on_change` with the session each time it changes in a way the
    /// application must store: after a refresh or renewal (store it: a
    /// rotated refresh token replaces the old one), and once when it ends
    /// ([`Session::is_ended`]: clear the stored session).
    ///
    /// It runs while the source is locked, so that stores happen in order:
    /// it must not call the source (that would deadlock), and should be quick.
    pub fn on_change(mut self, on_change: impl Fn(&Session) + Send + Sync + 'static) -> Self {
        self.on_change = Some(Box::new(on_change));
        self
    }

    /// Builds the source.
    pub fn build(self) -> TokenSource {
        TokenSource {
            inner: Arc::new(Inner {
                client: self.client,
                http: self.http,
                clock: self.clock,
                on_change: self.on_change,
                state: Mutex::new(State {
                    session: self.session,
                    renewing: false,
                    round: 0,
                    outcome: None,
                    ended: None,
                }),
                renewed: Condvar::new(),
            }),
        }
    }
}

impl TokenSource {
    /// The client tokens are renewed through (its DPoP key signs the proofs
    /// [`BearerAuth`](crate::BearerAuth) sends with DPoP-bound tokens).
    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The time on this source's clock.
    pub(crate) fn now(&self) -> UnixTime {
        (self.inner.clock)()
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("client", &self.inner.client)
            .finish_non_exhaustive()
    }
}

/// Ends a renewal round if the leading thread unwinds, so that waiters do
/// not wait forever (one of them then leads a new round).
struct RoundGuard<'a> {
    inner: &'a Inner,
    armed: bool,
}

impl Drop for RoundGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.inner.lock().renewing = false;
            self.inner.renewed.notify_all();
        }
    }
}

impl Inner {
    /// The state; a panic in another thread while it held the lock (only in
    /// an `on_change` callback) does not make the state unusable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self, session: &Session) {
        if let Some(on_change) = &self.on_change {
            on_change(session);
        }
    }

    /// Ends the session and remembers why.
    fn end(&self, state: &mut State, cause: Option<grantflow::Error>) -> TokenError {
        state.session.end();
        let error = TokenError::SessionEnded { cause };
        state.ended = Some(error.clone());
        self.changed(&state.session);
        error
    }

    /// Applies a renewal's result to the session, and says what the caller
    /// (and every thread that waited) gets.
    fn settle(
        &self,
        state: &mut State,
        driven: Driven,
        now: UnixTime,
    ) -> Result<TokenSet, TokenError> {
        let applied = match driven {
            Driven::Refreshed(Ok(refreshed)) => state.session.apply_refresh(Ok(refreshed), now),
            Driven::Refreshed(Err(Error::Flow(error))) => {
                state.session.apply_refresh(Err(error), now)
            }
            Driven::Renewed(Ok(tokens)) => state.session.apply_renewal(Ok(tokens), now),
            Driven::Renewed(Err(Error::Flow(error))) => {
                state.session.apply_renewal(Err(error), now)
            }
            // The request never got an answer (or one too large to read):
            // the session keeps its tokens, and the old token serves until it
            // expires, as after other transient failures.
            Driven::Refreshed(Err(error)) | Driven::Renewed(Err(error)) => {
                state.session.retry_later(now);
                return self.fall_back(state, Arc::new(error), now);
            }
        };
        match applied {
            Applied::Updated { .. } => {
                self.changed(&state.session);
                Ok(state.session.tokens().clone())
            }
            Applied::Failed(error) => self.fall_back(state, Arc::new(Error::Flow(error)), now),
            Applied::Ended(error) => Err(self.end(state, Some(error))),
        }
    }

    /// After a failed renewal: the old access token while it is good and
    /// was not rejected, else the error.
    fn fall_back(
        &self,
        state: &State,
        error: Arc<Error>,
        now: UnixTime,
    ) -> Result<TokenSet, TokenError> {
        match state.session.usable_tokens(now) {
            Some(tokens) => Ok(tokens.clone()),
            None => Err(TokenError::Failed(error)),
        }
    }
}

impl TokenSource {
    /// A source for `session`, renewing through `client` over `http`, on the
    /// system clock, without a change callback. See [`builder`](Self::builder).
    pub fn new(session: Session, client: Client, http: HttpClient) -> TokenSource {
        TokenSource::builder(session, client, http).build()
    }

    /// A builder, to set a change callback (to store rotated refresh
    /// tokens) or a fake clock.
    pub fn builder(session: Session, client: Client, http: HttpClient) -> TokenSourceBuilder {
        TokenSourceBuilder {
            session,
            client,
            http,
            clock: Box::new(crate::now),
            on_change: None,
        }
    }

    /// A usable access token (with the rest of the token set: its type,
    /// expiry, scopes), renewing it first when it is due.
    ///
    /// When several threads find the token due at once, one of them sends
    /// the request and the others wait and get its result, or its error.
    /// A failed renewal (a transport error, a 5xx, `temporarily_unavailable`)
    /// keeps the session: the old access token is answered while it is good
    /// (and not [rejected](Self::invalidate)), and the next attempt comes
    /// [`RETRY_DELAY`](grantflow::RETRY_DELAY) seconds later; once it is not good, the error is
    /// answered ([`TokenError::Failed`]). [`TokenError::SessionEnded`] means
    /// the stored session must be cleared.
    ///
    /// ```
    /// use grantflow::{AccessToken, Client, ClientAuth, ClientId, Session, TokenSet, TokenType};
    /// use grantflow_ureq::{HttpClient, TokenSource, now};
    ///
    /// # fn main() -> Result<(), grantflow_ureq::TokenError> {
    /// let client = Client::new(ClientId::new("my-app"), ClientAuth::None);
    /// let tokens = TokenSet::new(AccessToken::new("2YotnFZFEjr1zCsicMWpAA"), TokenType::Bearer, now())
    ///     .with_expires_in(3600);
    /// let source = TokenSource::new(Session::from_tokens(tokens), client, HttpClient::new());
    ///
    /// // Good for an hour: answered without a request.
    /// assert_eq!(source.token()?.access_token.secret(), "2YotnFZFEjr1zCsicMWpAA");
    ///
    /// // Rejected by a resource server, and no refresh token to renew it with:
    /// // the session is over, and says so from now on.
    /// source.invalidate();
    /// assert!(source.token().unwrap_err().is_session_ended());
    /// assert!(source.session().is_ended());
    /// # Ok(())
    /// # }
    /// ```
    pub fn token(&self) -> Result<TokenSet, TokenError> {
        let inner = &*self.inner;
        let mut state = inner.lock();
        loop {
            if let Some(ended) = &state.ended {
                return Err(ended.clone());
            }
            if state.renewing {
                let round = state.round;
                while state.renewing && state.round == round {
                    state = inner
                        .renewed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if state.round != round {
                    if let Some(outcome) = &state.outcome {
                        return outcome.clone();
                    }
                }
                // The leader unwound without a result: look again.
                continue;
            }
            let now = (inner.clock)();
            let work = match state.session.access_token(&inner.client, now) {
                Ok(Access::Ready(tokens)) => return Ok(tokens.clone()),
                Ok(Access::Refresh(flow)) => Work::Refresh(flow),
                Ok(Access::Renew(flow)) => Work::Renew(flow),
                Ok(Access::Ended) => Work::Ended,
                // The client cannot build the renewal (no token endpoint…).
                Err(error) => return Err(TokenError::Failed(Arc::new(Error::Flow(error)))),
            };
            let driven = match work {
                Work::Ended => return Err(inner.end(&mut state, None)),
                Work::Refresh(flow) => {
                    state.renewing = true;
                    drop(state);
                    let mut guard = RoundGuard { inner, armed: true };
                    let result = drive_with_clock(&inner.http, flow, &*inner.clock, |_| {});
                    guard.armed = false;
                    Driven::Refreshed(result)
                }
                Work::Renew(flow) => {
                    state.renewing = true;
                    drop(state);
                    let mut guard = RoundGuard { inner, armed: true };
                    let result = drive_with_clock(&inner.http, flow, &*inner.clock, |_| {});
                    guard.armed = false;
                    Driven::Renewed(result)
                }
            };
            state = inner.lock();
            let outcome = inner.settle(&mut state, driven, (inner.clock)());
            state.renewing = false;
            state.round = state.round.wrapping_add(1);
            state.outcome = Some(outcome.clone());
            drop(state);
            inner.renewed.notify_all();
            return outcome;
        }
    }

    /// Reports the access token rejected (a resource server answered 401
    /// with `invalid_token`): the next [`token`](Self::token) renews it, or,
    /// with no way to renew, answers [`TokenError::SessionEnded`].
    ///
    /// When many threads may report the same rejection, prefer
    /// [`invalidate_token`](Self::invalidate_token), which does nothing once
    /// another thread has already replaced the token.
    pub fn invalidate(&self) {
        let mut state = self.inner.lock();
        state.session.invalidate();
    }

    /// [`invalidate`](Self::invalidate), but only while `rejected` is still
    /// the current access token: a token another thread already renewed is
    /// left alone.
    pub fn invalidate_token(&self, rejected: &AccessToken) {
        self.inner.lock().session.invalidate_token(rejected);
    }

    /// A copy of the session as it is now, to store.
    pub fn session(&self) -> Session {
        self.inner.lock().session.clone()
    }

    /// Whether the session has ended (clear the stored session).
    pub fn is_ended(&self) -> bool {
        let state = self.inner.lock();
        state.ended.is_some() || state.session.is_ended()
    }
}
