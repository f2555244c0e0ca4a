//! How ID tokens are checked: the policy a client applies (OIDC Core §3.1.3.7, §10.1.1).

use crate::alg::Algorithm;

/// How ID tokens are checked: which algorithms, how much clock leeway, which
/// extra audiences are trusted, and how often the key set may be re-fetched.
///
/// The defaults are the strict ones: algorithms from the provider's metadata
/// (`RS256` when there is none), no HMAC, 60 seconds of leeway, no other
/// audience than the client, at most one key-rotation re-fetch a minute.
/// The one check off by default is [`require_acr`](Self::require_acr), which
/// the specification leaves to the client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IdTokenPolicy {
    /// The allowed signature algorithms. Empty means: those the provider's
    /// metadata lists in `id_token_signing_alg_values_supported`, or `RS256`
    /// (OIDC Core §15.1's default) without metadata. HMAC algorithms are
    /// dropped from this list unless [`allow_hmac`](Self::allow_hmac) is set.
    pub algorithms: Vec<Algorithm>,
    /// Accept `HS256/384/512` ID tokens keyed with the client secret (OIDC
    /// Core §10.1). Off by default; the secret must be at least 32 octets.
    pub allow_hmac: bool,
    /// Clock leeway in seconds for `exp`, `iat`, `nbf` and `auth_time`.
    pub leeway: u64,
    /// Audiences besides the client id that may appear in `aud` (step 3).
    pub trusted_audiences: Vec<String>,
    /// The shortest time, in seconds, between two JWKS re-fetches triggered
    /// by an unknown `kid` (OIDC Core §10.1.1). The initial fetch does not
    /// count.
    pub jwks_refetch_interval: u64,
    /// Refuse an ID token whose `acr` is missing or not one of the
    /// `acr_values` the authorization request sent
    /// ([`IdTokenError::AcrMismatch`](crate::IdTokenError::AcrMismatch)).
    /// Off by default: OIDC Core §3.1.3.7 step 12 only says the client
    /// *should* check `acr`, and providers may authenticate at another level
    /// than asked (§3.1.2.1: `acr_values` is a voluntary claim request). With
    /// this on, a request without `acr_values` checks nothing either.
    pub require_acr: bool,
}

impl Default for IdTokenPolicy {
    fn default() -> Self {
        IdTokenPolicy {
            algorithms: Vec::new(),
            allow_hmac: false,
            leeway: 60,
            trusted_audiences: Vec::new(),
            jwks_refetch_interval: 60,
            require_acr: false,
        }
    }
}

impl IdTokenPolicy {
    /// Sets the allowed algorithms.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Allows HMAC-signed ID tokens keyed with the client secret.
    #[must_use]
    pub fn with_hmac(mut self) -> Self {
        self.allow_hmac = true;
        self
    }

    /// Sets the clock leeway in seconds.
    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Trusts one more audience in `aud`.
    #[must_use]
    pub fn with_trusted_audience(mut self, audience: impl Into<String>) -> Self {
        self.trusted_audiences.push(audience.into());
        self
    }

    /// Sets the shortest time between key-rotation re-fetches.
    #[must_use]
    pub fn with_jwks_refetch_interval(mut self, seconds: u64) -> Self {
        self.jwks_refetch_interval = seconds;
        self
    }

    /// Makes a returned `acr` that is missing or not one of the requested
    /// `acr_values` an error ([`require_acr`](Self::require_acr)).
    ///
    /// ```
    /// # use grantflow::IdTokenPolicy;
    /// let policy = IdTokenPolicy::default().with_acr_required(true);
    /// assert!(policy.require_acr);
    /// ```
    #[must_use]
    pub fn with_acr_required(mut self, required: bool) -> Self {
        self.require_acr = required;
        self
    }

    /// The algorithms in force, given what the provider's metadata lists.
    pub(crate) fn effective_algorithms(&self, from_metadata: &[Algorithm]) -> Vec<Algorithm> {
        let base: &[Algorithm] = if !self.algorithms.is_empty() {
            &self.algorithms
        } else if !from_metadata.is_empty() {
            from_metadata
        } else {
            &[Algorithm::Rs256]
        };
        base.iter()
            .copied()
            .filter(|alg| self.allow_hmac || !alg.is_symmetric())
            .collect()
    }
}
