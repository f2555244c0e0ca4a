//! The token session: tokens with a lifecycle. It answers "a usable access
//! token at `now`" with the token, a refresh [`Flow`](crate::Flow) (RFC 6749
//! §6), a re-run of the client credentials grant, or "ended: clear what you
//! stored".
//!
//! ```text
//!            access_token(now)
//!   Active ─────────────────────> Ready(token)          the token is good past now + margin
//!     │  │                  └───> Refresh / Renew ──apply_*──> Active (new tokens)
//!     │  └─ invalidate() ──> Rejected ──access_token──> Refresh / Renew
//!     │                                                 invalid_grant ──> Ended
//!     └─ logout / no way to renew once expired ────────────────────────> Ended
//! ```

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::Error;
use crate::grants::{ClientCredentials, Refresh, Refreshed, Rotation, SignIn, ends_grant};
use crate::oidc::Identity;
use crate::time::UnixTime;
use crate::token::TokenSet;
use crate::types::{AccessToken, Scope};

/// How long before its expiry an access token is refreshed, by default.
pub const DEFAULT_REFRESH_MARGIN: u64 = 60;

/// How long a session waits, after a failed refresh, before asking for
/// another while its access token is still good.
pub const RETRY_DELAY: u64 = 10;

/// The storage format version [`Session`] writes and reads.
const VERSION: u32 = 1;

/// Tokens with a lifecycle: what a signed-in user (or a service) holds
/// between requests.
///
/// A session owns a [`TokenSet`] and what the sign-in proved about the user
/// (an [`Identity`]: issuer, `sub`, audience, `auth_time`; the raw ID token
/// stays in the token set for logout). Ask it for an access token each time
/// one is needed:
///
/// - [`Access::Ready`]: the access token is good for longer than the margin
///   (60 s by default), or its lifetime is unknown and no one reported it
///   rejected;
/// - [`Access::Refresh`]: a refresh [`Flow`](crate::Flow) to drive, whose
///   result goes to [`apply_refresh`](Self::apply_refresh);
/// - [`Access::Renew`]: for a client credentials session (which has no
///   refresh token), the grant to run again, whose result goes to
///   [`apply_renewal`](Self::apply_renewal);
/// - [`Access::Ended`]: nothing usable is left; clear what you stored and
///   sign the user in again.
///
/// A refresh that the server refuses with `invalid_grant` (the refresh token
/// expired, was revoked or already used) ends the session, as does a
/// refreshed ID token naming another user. A transient failure (a 5xx,
/// `temporarily_unavailable`, a transport error: [`ErrorKind::Retryable`](crate::ErrorKind::Retryable))
/// keeps the old access token in use until it really expires.
///
/// A session serializes with serde, with a `version` field for migrations,
/// for the application's own store (a server-side session store, or a
/// sealed cookie: [`Sealer`](crate::Sealer)). `Debug` redacts every token.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    #[serde(deserialize_with = "version")]
    version: u32,
    tokens: TokenSet,
    #[serde(default)]
    identity: Option<Identity>,
    #[serde(default)]
    renewal: Option<Renewal>,
    status: Status,
    #[serde(default)]
    retry_not_before: Option<UnixTime>,
    #[serde(default = "default_margin")]
    refresh_margin: u64,
}

/// How a client credentials session runs its grant again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Renewal {
    scopes: Vec<Scope>,
    params: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    /// The access token is in use.
    Active,
    /// The caller reported the access token rejected.
    Rejected,
    /// Over: every request for a token answers [`Access::Ended`].
    Ended,
}

fn default_margin() -> u64 {
    DEFAULT_REFRESH_MARGIN
}

/// Refuses a stored session of a version this crate does not know.
fn version<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let found = u32::deserialize(deserializer)?;
    if found == VERSION {
        Ok(found)
    } else {
        Err(serde::de::Error::custom(format_args!(
            "session storage version {found} is not supported (this crate reads version {VERSION})"
        )))
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("tokens", &self.tokens)
            .field("identity", &self.identity)
            .field("renewal", &self.renewal.as_ref().map(|r| &r.scopes))
            .field("status", &self.status)
            .field("retry_not_before", &self.retry_not_before)
            .field("refresh_margin", &self.refresh_margin)
            .finish()
    }
}

/// What [`Session::access_token`] answers.
#[must_use]
#[derive(Debug)]
pub enum Access<'a> {
    /// Use these tokens' access token now (`tokens.access_token`, of type
    /// `tokens.token_type`).
    Ready(&'a TokenSet),
    /// Drive this refresh, then pass its result to
    /// [`Session::apply_refresh`].
    Refresh(Refresh),
    /// Drive this client credentials grant, then pass its result to
    /// [`Session::apply_renewal`].
    Renew(ClientCredentials),
    /// The session is over: clear the stored session and sign in again.
    Ended,
}

/// What applying a refresh or renewal did to a [`Session`].
#[must_use = "an ended session means the stored tokens must be cleared"]
#[derive(Debug)]
pub enum Applied {
    /// The session holds the new tokens. Store it again: a rotated refresh
    /// token replaces the old one, which may no longer work.
    Updated {
        /// Whether the refresh token was rotated; `None` for a renewal.
        rotation: Option<Rotation>,
        /// Scopes the old tokens had (or the refresh asked for) that the new
        /// ones lack, when the server listed its scopes.
        missing_scopes: Vec<Scope>,
    },
    /// The refresh failed but the session goes on: the old access token is
    /// used until it expires. [`Error::kind`] says whether retrying may help
    /// ([`ErrorKind::Retryable`](crate::ErrorKind::Retryable)).
    Failed(Error),
    /// The grant is gone (`invalid_grant`, or a refreshed ID token naming
    /// another user): the session has ended. **Clear the stored session and
    /// tokens** and sign the user in again.
    Ended(Error),
}

impl Session {
    /// A session for a user who just signed in: the tokens, and the identity
    /// the validated ID token proved.
    pub fn from_sign_in(sign_in: &SignIn) -> Self {
        Session::from_tokens(sign_in.tokens.clone())
            .with_identity(Identity::from_id_token(&sign_in.id_token))
    }

    /// A session for a service: the tokens of a client credentials grant,
    /// and that grant (its scopes and parameters) to run again when the
    /// access token expires, since the grant issues no refresh token
    /// (RFC 6749 §4.4.3).
    pub fn from_client_credentials(grant: &ClientCredentials, tokens: TokenSet) -> Self {
        let mut session = Session::from_tokens(tokens);
        session.renewal = Some(Renewal {
            scopes: grant.requested_scopes().to_vec(),
            params: grant.added_params().to_vec(),
        });
        session
    }

    /// A session for tokens from anywhere else: a plain OAuth authorization
    /// ([`Client::authorize`]), or a migration from another store. Add the
    /// identity with [`with_identity`](Self::with_identity) when the tokens
    /// came from a sign-in.
    pub fn from_tokens(tokens: TokenSet) -> Self {
        Session {
            version: VERSION,
            tokens,
            identity: None,
            renewal: None,
            status: Status::Active,
            retry_not_before: None,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
        }
    }

    /// Sets the identity a refreshed ID token must keep (OIDC Core §12.2).
    #[must_use]
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Refreshes the access token when it expires within `seconds` (60 by
    /// default), so that a token is not sent just before it expires.
    #[must_use]
    pub fn with_refresh_margin(mut self, seconds: u64) -> Self {
        self.refresh_margin = seconds;
        self
    }

    /// The tokens.
    pub fn tokens(&self) -> &TokenSet {
        &self.tokens
    }

    /// The identity the sign-in proved, if the session came from one.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Whether the session has ended (the stored session must be cleared).
    /// A session with no way to renew also ends, without this flag, when its
    /// access token expires: [`access_token`](Self::access_token) then
    /// answers [`Access::Ended`].
    pub fn is_ended(&self) -> bool {
        self.status == Status::Ended
    }

    /// A usable access token at `now`, or what to do to get one. See
    /// [`Access`]. Fails only when the client cannot build the refresh
    /// (no token endpoint, or a public client asked to renew a client
    /// credentials grant).
    pub fn access_token(&self, client: &Client, now: UnixTime) -> Result<Access<'_>, Error> {
        match self.status {
            Status::Ended => return Ok(Access::Ended),
            Status::Active => {
                let due = self
                    .tokens
                    .expires_at
                    .is_some_and(|at| now.saturating_add_secs(self.refresh_margin) >= at);
                let waiting = self.retry_not_before.is_some_and(|at| now < at);
                if !due || (waiting && !self.tokens.is_expired(now)) {
                    return Ok(Access::Ready(&self.tokens));
                }
            }
            Status::Rejected => {}
        }
        if let Some(refresh_token) = &self.tokens.refresh_token {
            let mut refresh = client.refresh(refresh_token)?;
            if let Some(identity) = &self.identity {
                refresh = refresh.identity(identity.clone());
            }
            return Ok(Access::Refresh(refresh));
        }
        if let Some(renewal) = &self.renewal {
            let mut grant = client.client_credentials()?.scopes(renewal.scopes.clone());
            for (name, value) in &renewal.params {
                grant = grant.param(name.clone(), value.clone());
            }
            return Ok(Access::Renew(grant));
        }
        // No way to a new token: the old one is good until it expires (or is
        // rejected), and then the session is over.
        if self.status == Status::Active && !self.tokens.is_expired(now) {
            return Ok(Access::Ready(&self.tokens));
        }
        Ok(Access::Ended)
    }

    /// Reports the access token rejected (say, a resource server answered
    /// 401 with `invalid_token`): the next [`access_token`](Self::access_token)
    /// refreshes (or renews) instead of answering it again, or, with no way
    /// to renew, answers [`Access::Ended`].
    pub fn invalidate(&mut self) {
        if self.status != Status::Active {
            return;
        }
        let renewable = self.tokens.refresh_token.is_some() || self.renewal.is_some();
        self.status = if renewable {
            Status::Rejected
        } else {
            Status::Ended
        };
        self.retry_not_before = None;
    }

    /// Applies the result of the refresh [`Access::Refresh`] handed out:
    /// the new tokens (a rotated refresh token replaces the old one), or
    /// the failure. Store the session again after [`Applied::Updated`];
    /// clear it after [`Applied::Ended`].
    pub fn apply_refresh(&mut self, result: Result<Refreshed, Error>, now: UnixTime) -> Applied {
        if self.is_ended() {
            // Ended while the refresh was in flight (a logout, say): it stays
            // ended, and new tokens are not taken in.
            return Applied::Ended(Error::SessionEnded);
        }
        match result {
            Ok(refreshed) => {
                if let (Some(identity), Some(id_token)) = (&mut self.identity, &refreshed.id_token)
                {
                    identity.issued_at = Some(id_token.claims().iat);
                }
                let mut missing_scopes = refreshed.missing_scopes;
                missing_scopes.extend(self.lost_scopes(&refreshed.tokens));
                missing_scopes.dedup();
                self.replace_tokens(refreshed.tokens);
                Applied::Updated {
                    rotation: Some(refreshed.rotation),
                    missing_scopes,
                }
            }
            Err(error) => self.failed(error, now),
        }
    }

    /// Applies the result of the client credentials grant [`Access::Renew`]
    /// handed out.
    pub fn apply_renewal(&mut self, result: Result<TokenSet, Error>, now: UnixTime) -> Applied {
        if self.is_ended() {
            return Applied::Ended(Error::SessionEnded);
        }
        match result {
            Ok(tokens) => {
                let missing_scopes = self.lost_scopes(&tokens);
                self.replace_tokens(tokens);
                Applied::Updated {
                    rotation: None,
                    missing_scopes,
                }
            }
            Err(error) => self.failed(error, now),
        }
    }

    /// Reports that the refresh or renewal [`access_token`](Self::access_token)
    /// handed out got no answer (a transport failure: the adapter could not
    /// reach the server, or timed out). The session keeps its tokens, as
    /// after other transient failures: while the access token is good and
    /// not rejected, it is answered for [`RETRY_DELAY`] seconds before a
    /// refresh is asked for again.
    pub fn retry_later(&mut self, now: UnixTime) {
        if self.status != Status::Ended {
            self.retry_not_before = Some(now.saturating_add_secs(RETRY_DELAY));
        }
    }

    /// The tokens, while their access token can still be used at `now`:
    /// not expired, not reported rejected, and the session not ended. What
    /// a caller falls back on after a failed refresh.
    pub fn usable_tokens(&self, now: UnixTime) -> Option<&TokenSet> {
        (self.status == Status::Active && !self.tokens.is_expired(now)).then_some(&self.tokens)
    }

    /// [`invalidate`](Self::invalidate), but only while `rejected` is still
    /// the current access token: when many callers report the same 401, a
    /// token one of them already had renewed is left alone.
    pub fn invalidate_token(&mut self, rejected: &AccessToken) {
        if self.tokens.access_token.secret() == rejected.secret() {
            self.invalidate();
        }
    }

    /// Whether the access token was reported rejected
    /// ([`invalidate`](Self::invalidate)) and not yet replaced.
    pub fn is_rejected(&self) -> bool {
        self.status == Status::Rejected
    }

    /// Ends the session, say when the user logs out without a
    /// [`logout`](Self::logout) flow. Clear the stored session too.
    pub fn end(&mut self) {
        self.status = Status::Ended;
    }

    /// The scopes the old tokens listed that `new` does not, when both list
    /// theirs (an absent `scope` is never filled in).
    fn lost_scopes(&self, new: &TokenSet) -> Vec<Scope> {
        match (&self.tokens.scopes, &new.scopes) {
            (Some(old), Some(new)) => old.iter().filter(|s| !new.contains(s)).cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn replace_tokens(&mut self, mut tokens: TokenSet) {
        // A refresh that returns no ID token keeps the last one, for the
        // logout's id_token_hint.
        if tokens.id_token.is_none() {
            tokens.id_token = self.tokens.id_token.take();
        }
        self.tokens = tokens;
        self.status = Status::Active;
        self.retry_not_before = None;
    }

    fn failed(&mut self, error: Error, now: UnixTime) -> Applied {
        if ends_grant(&error) {
            self.status = Status::Ended;
            return Applied::Ended(error);
        }
        self.retry_not_before = Some(now.saturating_add_secs(RETRY_DELAY));
        Applied::Failed(error)
    }

    pub(crate) fn into_tokens(self) -> TokenSet {
        self.tokens
    }
}
