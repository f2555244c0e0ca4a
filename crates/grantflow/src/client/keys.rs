//! The provider's signing keys as the client caches them: the one shared,
//! mutable cell of the core. Every clone of a [`Client`] shares it, so a
//! key-rotation re-fetch made by one flow serves the next (OIDC Core
//! §10.1.1), and re-fetches are rate-limited across all of them
//! ([`IdTokenPolicy::jwks_refetch_interval`]).
//!
//! The cell is a `Mutex` held only for single assignments and reads, never
//! across a flow step, and a poisoned lock is recovered (every write leaves
//! the state consistent).

use std::sync::{Arc, Mutex, PoisonError};

use crate::client::Client;
use crate::endpoint::EndpointUrl;
use crate::jose::JwkSet;
use crate::message::{HttpRequest, get_json};
use crate::time::UnixTime;

#[cfg(doc)]
use crate::client::IdTokenPolicy;

/// The provider's signing keys, shared by every clone of a [`Client`] so that
/// a key-rotation re-fetch made by one flow serves the next.
#[derive(Debug, Default)]
pub(super) struct KeyCache {
    pub(super) jwks_uri: Option<EndpointUrl>,
    state: Mutex<KeyState>,
}

#[derive(Debug, Default)]
struct KeyState {
    keys: Arc<JwkSet>,
    /// Whether a key set was ever stored (initially, or by a fetch).
    loaded: bool,
    /// When the last re-fetch for an unknown `kid` was started.
    last_refetch: Option<UnixTime>,
}

impl KeyCache {
    pub(super) fn new(jwks_uri: Option<EndpointUrl>, keys: Option<JwkSet>) -> Self {
        let loaded = keys.is_some();
        KeyCache {
            jwks_uri,
            state: Mutex::new(KeyState {
                keys: Arc::new(keys.unwrap_or_default()),
                loaded,
                last_refetch: None,
            }),
        }
    }

    /// The state, even if another thread panicked while holding the lock:
    /// every write leaves it consistent (single assignments).
    fn lock(&self) -> std::sync::MutexGuard<'_, KeyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Client {
    /// A JWKS request, if the keys may be (re-)fetched at `now`: the client
    /// has a `jwks_uri`, and either never loaded keys or last re-fetched them
    /// at least [`IdTokenPolicy::jwks_refetch_interval`] seconds ago. The
    /// attempt is recorded, so concurrent flows do not all fetch.
    pub(crate) fn jwks_refetch(&self, now: UnixTime) -> Option<HttpRequest> {
        let cache = self.key_cache();
        let jwks_uri = cache.jwks_uri.as_ref()?;
        let mut state = cache.lock();
        if state.loaded {
            // A re-fetch: rate-limited. The initial load is not.
            if let Some(last) = state.last_refetch {
                if last.secs_until(now) < self.inner.policy.jwks_refetch_interval {
                    return None;
                }
            }
            state.last_refetch = Some(now);
        }
        Some(get_json(jwks_uri))
    }

    /// Replaces the cached keys with a freshly fetched set.
    pub(crate) fn store_jwks(&self, keys: JwkSet) {
        let mut state = self.key_cache().lock();
        state.keys = Arc::new(keys);
        state.loaded = true;
    }

    /// The provider's signing keys as last fetched (shared by every clone
    /// of this client).
    pub fn keys(&self) -> Arc<JwkSet> {
        Arc::clone(&self.key_cache().lock().keys)
    }
}
