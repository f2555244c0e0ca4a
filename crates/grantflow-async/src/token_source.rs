//! A token source many tasks share: it answers a usable access token from a
//! [`Session`], and when the token must be renewed (refreshed, RFC 6749 §6,
//! or a client credentials grant run again, RFC 6749 §4.4) it sends ONE
//! request however many tasks ask at that moment; the others wait for it and
//! get its result, or its error. The async twin of `grantflow-ureq`'s
//! `TokenSource`, with the same API and the same answers.
//!
//! ```text
//!   token().await ──> session.access_token(now) ──Ready─────────────────> the tokens
//!                        │ Refresh / Renew
//!                        └─ wait for the renewal turn (async-lock)
//!                             ├─ a round ended while waiting ──> its result (or its error)
//!                             └─ lead: drive the flow, apply the result
//!                                  Updated ──> on_change(session) ──> the new tokens
//!                                  Failed  ──> the old token while it is good, else the error
//!                                  Ended   ──> on_change(session) ──> SessionEnded, now and forever
//! ```
//!
//! The turn is an [`async_lock::Mutex`]: no runtime, any executor. A leader
//! whose future is dropped mid-request gives the turn up with it, and the
//! next waiting task, finding that no round ended, leads one of its own.

use core::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use grantflow::{Access, AccessToken, Applied, Client, ErrorKind, Session, TokenSet, UnixTime};

use crate::{AsyncHttpClient, Clock, Error, HttpClient, TransportError, TransportFailure, run};

type ClockFn = Box<dyn Fn() -> UnixTime + Send + Sync>;
type OnChange = Box<dyn Fn(&Session) + Send + Sync>;

/// Why a [`TokenSource`] has no access token to give. `Clone`, so that every
/// task waiting on one refresh gets the same error.
///
/// `E` is the [`AsyncHttpClient`]'s error, by default the built-in client's
/// [`TransportError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenError<E = TransportError> {
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
    Failed(Arc<Error<E>>),
}

impl<E> Clone for TokenError<E> {
    fn clone(&self) -> Self {
        match self {
            TokenError::SessionEnded { cause } => TokenError::SessionEnded {
                cause: cause.clone(),
            },
            TokenError::Failed(error) => TokenError::Failed(Arc::clone(error)),
        }
    }
}

impl<E> TokenError<E> {
    /// Whether the session has ended and the stored session must be cleared.
    pub fn is_session_ended(&self) -> bool {
        matches!(self, TokenError::SessionEnded { .. })
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

impl<E: TransportFailure> TokenError<E> {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            TokenError::SessionEnded { .. } => false,
            TokenError::Failed(error) => error.kind() == ErrorKind::Retryable,
        }
    }
}

impl<E: fmt::Display> fmt::Display for TokenError<E> {
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

impl<E: std::error::Error + 'static> std::error::Error for TokenError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenError::SessionEnded { cause } => cause
                .as_ref()
                .map(|cause| cause as &(dyn std::error::Error + 'static)),
            TokenError::Failed(error) => Some(&**error),
        }
    }
}

/// A usable access token for many tasks at once, from one [`Session`], on
/// any executor.
///
/// Cheap to clone (an `Arc` inside), and `Send + Sync` with the built-in
/// [`HttpClient`]: give a clone to each task, or keep one in the
/// application's state. [`token`](Self::token) answers the session's tokens
/// while the access token is good; when it is due (within the session's
/// margin of its expiry, or reported rejected with
/// [`invalidate`](Self::invalidate)), the first task to ask drives the
/// refresh (or re-runs the client credentials grant) and every task asking
/// meanwhile waits for that one request and gets its result or its error.
/// Waiting takes no thread: the tasks wait on an [`async_lock::Mutex`].
///
/// Every future here may be dropped: a task that stops waiting leaves the
/// others as they were, and a leader dropped mid-request hands the renewal
/// to the next waiting task, which sends it again. One caution: a refresh
/// dropped after the server took it may already have rotated the refresh
/// token, and the server then refuses the one sent again (`invalid_grant`,
/// which ends the session). So do not race [`token`](Self::token) against a
/// short timer of your own; the built-in client's timeouts (10 s to
/// connect, 30 s overall) already bound it.
///
/// **Persist the session after every change**: a rotated refresh token
/// replaces the old one, which the server may no longer accept (and reusing
/// it may revoke the whole grant). Register
/// [`on_change`](TokenSourceBuilder::on_change), called with the session
/// after each refresh and when it ends; or read [`session`](Self::session)
/// after [`token`](Self::token) returns.
///
/// ```no_run
/// use grantflow::{Client, Session};
/// use grantflow_async::{HttpClient, TokenError, TokenSource};
///
/// # fn store(_: &Session) {}
/// # fn clear() {}
/// # fn run(client: Client, session: Session) {
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
/// smol::block_on(async {
///     let tasks: Vec<_> = (0..4)
///         .map(|_| {
///             let source = source.clone();
///             smol::spawn(async move {
///                 let tokens = source.token().await?;
///                 // … call the API with tokens.access_token …
///                 Ok::<_, TokenError>(())
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.ok();
///     }
/// });
/// # }
/// ```
pub struct TokenSource<C: AsyncHttpClient = HttpClient> {
    inner: Arc<Inner<C>>,
}

impl<C: AsyncHttpClient> Clone for TokenSource<C> {
    fn clone(&self) -> Self {
        TokenSource {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<C: AsyncHttpClient> {
    client: Client,
    http: C,
    clock: ClockFn,
    on_change: Option<OnChange>,
    /// The session and what the last renewal round ended with; never held
    /// across an `.await`.
    state: Mutex<State<C::Error>>,
    /// The renewal turn: its holder drives the one renewal in flight, and
    /// every other task that found the token due waits here.
    turn: async_lock::Mutex<()>,
}

struct State<E> {
    session: Session,
    /// How many renewal rounds have ended.
    round: u64,
    /// What the last round ended with, for the tasks that waited on it.
    outcome: Option<Result<TokenSet, TokenError<E>>>,
    /// Set once the session has ended; every call answers it.
    ended: Option<TokenError<E>>,
}

/// What a renewal needs to run, taken out of the session under the lock.
enum Work {
    Refresh(grantflow::Refresh),
    Renew(grantflow::ClientCredentials),
}

/// The result of driving a renewal: short-lived, one per round.
#[allow(clippy::large_enum_variant)] // moved once, never stored
enum Driven<E> {
    Refreshed(Result<grantflow::Refreshed, Error<E>>),
    Renewed(Result<TokenSet, Error<E>>),
}

/// What a look at the session found.
enum Look<E> {
    /// The answer: the tokens, or why there are none.
    Answer(Result<TokenSet, TokenError<E>>),
    /// A renewal is needed.
    Due(Work),
}

/// The source's clock for the driver; a renewal never waits, but a timer
/// that works on every executor is there if one did.
struct SourceClock<'a>(&'a (dyn Fn() -> UnixTime + Send + Sync));

impl Clock for SourceClock<'_> {
    fn now(&self) -> UnixTime {
        (self.0)()
    }

    async fn sleep(&self, duration: Duration) {
        async_io::Timer::after(duration).await;
    }
}

/// Configures a [`TokenSource`].
#[must_use]
pub struct TokenSourceBuilder<C: AsyncHttpClient = HttpClient> {
    session: Session,
    client: Client,
    http: C,
    clock: ClockFn,
    on_change: Option<OnChange>,
}

impl<C: AsyncHttpClient> fmt::Debug for TokenSourceBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("session", &self.session)
            .field("client", &self.client)
            .field("on_change", &self.on_change.is_some())
            .finish_non_exhaustive()
    }
}

impl<C: AsyncHttpClient> TokenSourceBuilder<C> {
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
    /// It runs while the source's state is locked (a plain mutex, not an
    /// `.await`), so that stores happen in order: it must not call the
    /// source (that would deadlock), and should be quick: hand the session
    /// to a channel or a task to write it out asynchronously.
    pub fn on_change(mut self, on_change: impl Fn(&Session) + Send + Sync + 'static) -> Self {
        self.on_change = Some(Box::new(on_change));
        self
    }

    /// Builds the source.
    pub fn build(self) -> TokenSource<C> {
        TokenSource {
            inner: Arc::new(Inner {
                client: self.client,
                http: self.http,
                clock: self.clock,
                on_change: self.on_change,
                state: Mutex::new(State {
                    session: self.session,
                    round: 0,
                    outcome: None,
                    ended: None,
                }),
                turn: async_lock::Mutex::new(()),
            }),
        }
    }
}

impl<C: AsyncHttpClient> fmt::Debug for TokenSource<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("client", &self.inner.client)
            .finish_non_exhaustive()
    }
}

impl<C: AsyncHttpClient> Inner<C> {
    /// The state; a panic in another task while it held the lock (only in
    /// an `on_change` callback) does not make the state unusable.
    fn lock(&self) -> MutexGuard<'_, State<C::Error>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self, session: &Session) {
        if let Some(on_change) = &self.on_change {
            on_change(session);
        }
    }

    /// Ends the session and remembers why.
    fn end(
        &self,
        state: &mut State<C::Error>,
        cause: Option<grantflow::Error>,
    ) -> TokenError<C::Error> {
        state.session.end();
        let error = TokenError::SessionEnded { cause };
        state.ended = Some(error.clone());
        self.changed(&state.session);
        error
    }

    /// What the session answers at `now`: the tokens, why there are none,
    /// or the renewal to run.
    fn look(&self, state: &mut State<C::Error>, now: UnixTime) -> Look<C::Error> {
        if let Some(ended) = &state.ended {
            return Look::Answer(Err(ended.clone()));
        }
        let work = match state.session.access_token(&self.client, now) {
            Ok(Access::Ready(tokens)) => return Look::Answer(Ok(tokens.clone())),
            Ok(Access::Refresh(flow)) => Some(Work::Refresh(flow)),
            Ok(Access::Renew(flow)) => Some(Work::Renew(flow)),
            Ok(Access::Ended) => None,
            // The client cannot build the renewal (no token endpoint…).
            Err(error) => {
                return Look::Answer(Err(TokenError::Failed(Arc::new(Error::Flow(error)))));
            }
        };
        match work {
            Some(work) => Look::Due(work),
            None => Look::Answer(Err(self.end(state, None))),
        }
    }

    /// Applies a renewal's result to the session, and says what the caller
    /// (and every task that waited) gets.
    fn settle(
        &self,
        state: &mut State<C::Error>,
        driven: Driven<C::Error>,
        now: UnixTime,
    ) -> Result<TokenSet, TokenError<C::Error>> {
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
        state: &State<C::Error>,
        error: Arc<Error<C::Error>>,
        now: UnixTime,
    ) -> Result<TokenSet, TokenError<C::Error>> {
        match state.session.usable_tokens(now) {
            Some(tokens) => Ok(tokens.clone()),
            None => Err(TokenError::Failed(error)),
        }
    }
}

impl<C: AsyncHttpClient> TokenSource<C> {
    /// A source for `session`, renewing through `client` over `http`, on the
    /// system clock, without a change callback. See [`builder`](Self::builder).
    pub fn new(session: Session, client: Client, http: C) -> TokenSource<C> {
        TokenSource::builder(session, client, http).build()
    }

    /// A builder, to set a change callback (to store rotated refresh
    /// tokens) or a fake clock.
    pub fn builder(session: Session, client: Client, http: C) -> TokenSourceBuilder<C> {
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
    /// When several tasks find the token due at once, one of them sends the
    /// request and the others wait and get its result, or its error. A
    /// failed renewal (a transport error, a 5xx, `temporarily_unavailable`)
    /// keeps the session: the old access token is answered while it is good
    /// (and not [rejected](Self::invalidate)), and the next attempt comes
    /// [`RETRY_DELAY`](grantflow::RETRY_DELAY) seconds later; once it is not
    /// good, the error is answered ([`TokenError::Failed`]).
    /// [`TokenError::SessionEnded`] means the stored session must be cleared.
    ///
    /// The future is `Send` when the client's futures are (as the built-in
    /// client's are), and may be dropped at any `.await`.
    ///
    /// ```
    /// use grantflow::{AccessToken, Client, ClientAuth, ClientId, Session, TokenSet, TokenType};
    /// use grantflow_async::{HttpClient, TokenSource, now};
    ///
    /// # fn main() -> Result<(), grantflow_async::TokenError> {
    /// let client = Client::new(ClientId::new("my-app"), ClientAuth::None);
    /// let tokens = TokenSet::new(AccessToken::new("2YotnFZFEjr1zCsicMWpAA"), TokenType::Bearer, now())
    ///     .with_expires_in(3600);
    /// let source = TokenSource::new(Session::from_tokens(tokens), client, HttpClient::new());
    ///
    /// futures_lite::future::block_on(async {
    ///     // Good for an hour: answered without a request.
    ///     assert_eq!(source.token().await?.access_token.secret(), "2YotnFZFEjr1zCsicMWpAA");
    ///
    ///     // Rejected by a resource server, and no refresh token to renew it
    ///     // with: the session is over, and says so from now on.
    ///     source.invalidate();
    ///     assert!(source.token().await.unwrap_err().is_session_ended());
    ///     assert!(source.session().is_ended());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn token(&self) -> Result<TokenSet, TokenError<C::Error>> {
        let inner = &*self.inner;
        // A first look, without waiting: most calls end here.
        let round = {
            let mut state = inner.lock();
            match inner.look(&mut state, (inner.clock)()) {
                Look::Answer(answer) => return answer,
                Look::Due(_) => state.round,
            }
        };
        // One renewal at a time. Dropping this future while it waits, or
        // while it leads, gives the turn to the next task waiting.
        let _turn = inner.turn.lock().await;
        let work = {
            let mut state = inner.lock();
            if state.round != round {
                // A round ended while this task waited: its answer is ours.
                if let Some(outcome) = &state.outcome {
                    return outcome.clone();
                }
            }
            // No round ended (this task is first, or the leader was
            // dropped mid-request): look again, and lead.
            match inner.look(&mut state, (inner.clock)()) {
                Look::Answer(answer) => return answer,
                Look::Due(work) => work,
            }
        };
        let clock = SourceClock(&*inner.clock);
        let driven = match work {
            Work::Refresh(flow) => Driven::Refreshed(run(&inner.http, flow, |_| {}, &clock).await),
            Work::Renew(flow) => Driven::Renewed(run(&inner.http, flow, |_| {}, &clock).await),
        };
        let mut state = inner.lock();
        let outcome = inner.settle(&mut state, driven, (inner.clock)());
        state.round = state.round.wrapping_add(1);
        state.outcome = Some(outcome.clone());
        outcome
    }

    /// Reports the access token rejected (a resource server answered 401
    /// with `invalid_token`): the next [`token`](Self::token) renews it, or,
    /// with no way to renew, answers [`TokenError::SessionEnded`].
    ///
    /// When many tasks may report the same rejection, prefer
    /// [`invalidate_token`](Self::invalidate_token), which does nothing once
    /// another task has already replaced the token.
    pub fn invalidate(&self) {
        self.inner.lock().session.invalidate();
    }

    /// [`invalidate`](Self::invalidate), but only while `rejected` is still
    /// the current access token: a token another task already renewed is
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
