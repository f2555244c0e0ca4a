//! What a sign-in proved about the user, kept for the life of a session: the
//! claims an ID token returned by a refresh must repeat (OIDC Core §12.2).

use serde::{Deserialize, Serialize};

use super::id_token::{IdToken, IdTokenClaims};
use crate::error::IdTokenError;
use crate::time::UnixTime;

/// The user a sign-in authenticated, as its validated ID token named them:
/// issuer, subject, audience, authorized party and authentication time.
///
/// OIDC Core §12.2 requires an ID token returned by a refresh to carry the
/// same `iss`, `sub` and `aud` as the original, the same `azp` (and none if
/// the original had none), and, when it has an `auth_time`, the original
/// authentication's. [`Refresh::identity`](crate::Refresh::identity) checks
/// a refreshed ID token against this; a [`Session`](crate::Session) keeps
/// it and passes it along. Serializes for storage; holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Identity {
    /// The issuer (`iss`).
    pub issuer: String,
    /// The subject (`sub`): with the issuer, the user's identity.
    pub subject: String,
    /// The audiences (`aud`), as the ID token listed them.
    pub audience: Vec<String>,
    /// The authorized party (`azp`), if the ID token had one.
    #[serde(default)]
    pub authorized_party: Option<String>,
    /// When the user authenticated (`auth_time`), if the ID token said.
    #[serde(default)]
    pub auth_time: Option<UnixTime>,
    /// When the latest ID token was issued (`iat`), if known: a refreshed
    /// ID token must not be older.
    #[serde(default)]
    pub issued_at: Option<UnixTime>,
}

impl Identity {
    /// An identity from stored values (a migration from another store): the
    /// issuer, subject and audiences of the original ID token. Add `azp` and
    /// `auth_time` with the `with_*` methods when it had them.
    pub fn new(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        audience: impl IntoIterator<Item = String>,
    ) -> Self {
        Identity {
            issuer: issuer.into(),
            subject: subject.into(),
            audience: audience.into_iter().collect(),
            authorized_party: None,
            auth_time: None,
            issued_at: None,
        }
    }

    /// Sets the authorized party (`azp`).
    #[must_use]
    pub fn with_authorized_party(mut self, azp: impl Into<String>) -> Self {
        self.authorized_party = Some(azp.into());
        self
    }

    /// Sets the authentication time (`auth_time`).
    #[must_use]
    pub fn with_auth_time(mut self, auth_time: UnixTime) -> Self {
        self.auth_time = Some(auth_time);
        self
    }

    /// The identity a validated ID token proves.
    pub fn from_id_token(id_token: &IdToken) -> Self {
        let claims = id_token.claims();
        Identity {
            issuer: claims.iss.clone(),
            subject: claims.sub.clone(),
            audience: claims.aud.clone(),
            authorized_party: claims.azp.clone(),
            auth_time: claims.auth_time,
            issued_at: Some(claims.iat),
        }
    }

    /// Checks that `claims`, from an ID token returned by a refresh, name
    /// this identity (OIDC Core §12.2). The audiences are compared as sets;
    /// `iat` may not be earlier than the last ID token's.
    pub(crate) fn check_refreshed(&self, claims: &IdTokenClaims) -> Result<(), IdTokenError> {
        let changed = |claim| Err(IdTokenError::ChangedOnRefresh { claim });
        if claims.iss != self.issuer {
            return changed("iss");
        }
        if claims.sub != self.subject {
            return changed("sub");
        }
        let same_audience = claims.aud.len() == self.audience.len()
            && claims.aud.iter().all(|aud| self.audience.contains(aud))
            && self.audience.iter().all(|aud| claims.aud.contains(aud));
        if !same_audience {
            return changed("aud");
        }
        if claims.azp != self.authorized_party {
            return changed("azp");
        }
        if let (Some(original), Some(refreshed)) = (self.auth_time, claims.auth_time) {
            if original != refreshed {
                return changed("auth_time");
            }
        }
        // §12.2: its `iat` is the time the new ID token is issued, so never
        // before the one it replaces (an old ID token replayed is refused).
        match self.issued_at {
            Some(previous) if claims.iat < previous => changed("iat"),
            _ => Ok(()),
        }
    }
}
