//! ID token validation (OpenID Connect Core §3.1.3.7): [`IdTokenValidator`],
//! whose docs list every check in order, what the request sent
//! ([`Expected`]), and the validated token ([`IdToken`], [`IdTokenClaims`]).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;

use crate::alg::Algorithm;
use crate::client::{Client, ClientAuth, IdTokenPolicy};
use crate::endpoint::Issuer;
use crate::error::{Error, IdTokenError, JwsError, clean_text, member_names};
use crate::jose::{CompactJws, JwkSet};
use crate::message::HttpRequest;
use crate::time::UnixTime;
use crate::types::{ClientId, ClientSecret, RawIdToken};
use crate::wire::{JsonObjectError, json_object};

/// The longest server-supplied value quoted in an error.
const MAX_QUOTE: usize = 128;

/// What the authorization request sent, which the ID token must match.
#[derive(Clone, Copy, Default)]
#[non_exhaustive]
pub struct Expected<'a> {
    /// The `nonce` sent: the token must carry the same one (step 11).
    pub nonce: Option<&'a str>,
    /// The `max_age` sent: `auth_time` must be present and recent enough (step 13).
    pub max_age: Option<u64>,
    /// The access token issued with the ID token, checked against `at_hash`
    /// when the token has one.
    pub access_token: Option<&'a str>,
    /// The authorization code, checked against `c_hash` when the token has one.
    pub code: Option<&'a str>,
    /// The `acr_values` sent (space-separated): when the policy
    /// [requires it](IdTokenPolicy::require_acr), `acr` must be one of them
    /// (step 12).
    pub acr_values: Option<&'a str>,
}

impl fmt::Debug for Expected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expected")
            .field("nonce", &self.nonce.map(|_| "<redacted>"))
            .field("max_age", &self.max_age)
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .field("code", &self.code.map(|_| "<redacted>"))
            .field("acr_values", &self.acr_values)
            .finish()
    }
}

impl<'a> Expected<'a> {
    /// Nothing sent: no nonce, no `max_age`, no `acr_values`, no hash checks.
    pub fn none() -> Self {
        Expected::default()
    }

    /// Expects this nonce.
    #[must_use]
    pub fn nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Expects authentication within `max_age` seconds.
    #[must_use]
    pub fn max_age(mut self, max_age: u64) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Checks `at_hash`, when present, against this access token.
    #[must_use]
    pub fn access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// Checks `c_hash`, when present, against this code.
    #[must_use]
    pub fn code(mut self, code: &'a str) -> Self {
        self.code = Some(code);
        self
    }

    /// The `acr_values` the request sent, space-separated as on the wire
    /// (OIDC Core §3.1.2.1). Checked against `acr` only when the policy
    /// [requires it](IdTokenPolicy::require_acr); a value with no
    /// non-space character counts as none sent.
    #[must_use]
    pub fn acr_values(mut self, acr_values: &'a str) -> Self {
        self.acr_values = Some(acr_values);
        self
    }
}

/// Validates ID tokens for one client of one issuer.
///
/// An ID token is a JWS whose claims say who signed the user in, for which
/// client, when, and with which `nonce`. [`validate`](Self::validate) runs
/// every check of §3.1.3.7 in this order, and each failure has its own error:
///
/// 1. the compact JWS is parsed with bounds ([`CompactJws::parse`]): three
///    segments, strict base64url, no duplicate header names, no unknown
///    `crit`, `alg: none` refused;
/// 2. `alg` must be in the allowlist of [`IdTokenPolicy`], which comes from
///    configuration or the provider's metadata, never from the token (step 6–7;
///    RFC 8725 §3.1);
/// 3. the signature is verified **before any claim is read** (step 6): with
///    the provider's keys chosen by `kid` (no `kid` and one fitting key is
///    fine), or for `HS256/384/512` only when the policy opts in, with the
///    client secret as the key, which must be at least 32 octets (step 8);
///    `jku`, `x5u` and `jwk` headers are never used;
/// 4. the header's `typ`, when present, must say `JWT` (RFC 8725 §3.11):
///    another kind of JWT signed by the same keys — an access token
///    (`at+jwt`, RFC 9068), a logout token (`logout+jwt`), a DPoP proof
///    (`dpop+jwt`), a security event (`secevent+jwt`) — never passes as an
///    ID token. `typ` is a media type (RFC 7515 §4.1.9): it compares without
///    regard to case, and a value without `/` has `application/` implied, so
///    `JWT`, `jwt` and `application/jwt` are all accepted;
/// 5. the claims are a JSON object without duplicate names; `iss`, `sub`,
///    `aud`, `exp` and `iat` are present with the right JSON types — a claim
///    of the wrong type (`"exp": "123"`) is an error, never "absent";
/// 6. `iss` equals the expected issuer exactly (step 2); `aud` contains the
///    client id and nothing untrusted (step 3); `azp`, when present, is the
///    client id (step 5); `exp` is after `now` minus the leeway (step 9);
///    `iat` is not after `now` plus the leeway (step 10); `nbf`, when present,
///    is not after `now` plus the leeway;
/// 7. `nonce` equals the one sent, compared in constant time (step 11);
///    when the policy [requires it](IdTokenPolicy::require_acr) and
///    `acr_values` were sent, `acr` is one of them (step 12); `auth_time` is
///    present and recent enough when `max_age` was sent (step 13);
/// 8. `at_hash` and `c_hash`, when present, match the access token and code
///    (§3.1.3.8, §3.3.2.11), using the left half of the hash of the header's
///    algorithm.
///
/// The sign-in code exchange ([`SignInExchange`](crate::SignInExchange)) runs
/// the validator for you and, when the token names a `kid` the cached key set
/// lacks — or names none and no cached key verifies it — fetches the
/// provider's JWKS once more before validating again (OIDC Core §10.1.1, key
/// rotation; at most once per [`IdTokenPolicy::jwks_refetch_interval`]). Use
/// the validator directly for ID tokens obtained elsewhere.
///
/// A user is identified by the pair ([`IdTokenClaims::iss`],
/// [`IdTokenClaims::sub`]), never by `email`: an email claim is mutable and,
/// on multi-tenant providers, not verified ("nOAuth").
///
/// `Debug` of an [`IdToken`] shows neither the raw token nor the `nonce`,
/// and of the claims the token does not type ([`IdTokenClaims::extra`]:
/// personal data, provider session handles) only the names.
///
/// ```
/// use grantflow::{Expected, IdTokenPolicy, IdTokenValidator};
/// use grantflow::JwkSet;
/// use grantflow::{ClientId, Issuer, RawIdToken, UnixTime};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let validator = IdTokenValidator::new(
///     Issuer::new("https://op.example.com")?,
///     ClientId::new("my-app"),
///     IdTokenPolicy::default(),
/// );
/// let keys = JwkSet::from_json(br#"{"keys":[]}"#)?;
/// let forged = RawIdToken::new("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.");
/// // `alg: none` never validates.
/// assert!(validator.validate(&forged, &keys, Expected::none(), UnixTime::from_secs(0)).is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct IdTokenValidator {
    issuer: Issuer,
    client_id: ClientId,
    policy: IdTokenPolicy,
    algorithms: Vec<Algorithm>,
    client_secret: Option<ClientSecret>,
}

impl fmt::Debug for IdTokenValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenValidator")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("algorithms", &self.algorithms)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl IdTokenValidator {
    /// A validator for tokens `issuer` issued to `client_id`, with the
    /// algorithms of `policy` (or `RS256` when it lists none).
    pub fn new(issuer: Issuer, client_id: ClientId, policy: IdTokenPolicy) -> Self {
        let algorithms = policy.effective_algorithms(&[]);
        IdTokenValidator {
            issuer,
            client_id,
            policy,
            algorithms,
            client_secret: None,
        }
    }

    /// Uses the algorithms the provider's metadata lists when the policy
    /// names none.
    #[must_use]
    pub fn with_metadata_algorithms(mut self, from_metadata: &[Algorithm]) -> Self {
        self.algorithms = self.policy.effective_algorithms(from_metadata);
        self
    }

    /// The client secret, the key for HMAC-signed tokens when the policy
    /// allows them.
    #[must_use]
    pub fn with_client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// The algorithms this validator accepts.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The policy.
    pub fn policy(&self) -> &IdTokenPolicy {
        &self.policy
    }

    /// Validates `token` against `keys` at `now`: every step of OIDC Core
    /// §3.1.3.7 listed on [`IdTokenValidator`], in that order.
    ///
    /// Fails with [`Error::Jws`] when the token cannot be parsed or its
    /// signature does not verify (an unknown `kid` is
    /// [`JwsError::NoMatchingKey`]), and with [`Error::IdToken`] when the
    /// header's `typ` names another kind of JWT
    /// ([`IdTokenError::WrongJwtType`]) or a claim check fails.
    pub fn validate(
        &self,
        token: &RawIdToken,
        keys: &JwkSet,
        expected: Expected<'_>,
        now: UnixTime,
    ) -> Result<IdToken, Error> {
        let jws = CompactJws::parse(token.as_str())?;
        let alg = self.verify_signature(&jws, keys)?;
        check_jwt_type(&jws)?;
        let claims = IdTokenClaims::parse(jws.payload())?;
        self.check_claims(&claims, alg, expected, now)?;
        Ok(IdToken {
            raw: token.clone(),
            algorithm: alg,
            claims,
        })
    }

    /// Checks `alg` against the allowlist and verifies the signature.
    pub(crate) fn verify_signature(
        &self,
        jws: &CompactJws,
        keys: &JwkSet,
    ) -> Result<Algorithm, JwsError> {
        let alg = jws.algorithm()?;
        if !self.algorithms.contains(&alg) {
            return Err(if alg.is_symmetric() {
                JwsError::HmacNotAllowed
            } else {
                JwsError::AlgorithmNotAllowed { alg }
            });
        }
        if alg.is_symmetric() {
            let secret = self
                .client_secret
                .as_ref()
                .ok_or(JwsError::HmacNotAllowed)?;
            jws.verify_hmac(alg, secret.secret().as_bytes())?;
        } else {
            let kid = jws.header().kid.as_deref();
            jws.verify_with_keys(alg, keys.candidates(kid, alg))?;
        }
        Ok(alg)
    }

    fn check_claims(
        &self,
        claims: &IdTokenClaims,
        alg: Algorithm,
        expected: Expected<'_>,
        now: UnixTime,
    ) -> Result<(), IdTokenError> {
        let leeway = self.policy.leeway;
        // Step 2: the issuer, byte for byte.
        if claims.iss != self.issuer.as_str() {
            return Err(IdTokenError::IssuerMismatch {
                expected: self.issuer.as_str().to_owned(),
                found: clean_text(&claims.iss, MAX_QUOTE),
            });
        }
        // Step 3: the audience.
        let client_id = self.client_id.as_str();
        if !claims.aud.iter().any(|aud| aud == client_id) {
            return Err(IdTokenError::AudienceMismatch);
        }
        if let Some(untrusted) = claims.aud.iter().find(|aud| {
            *aud != client_id && !self.policy.trusted_audiences.iter().any(|t| t == *aud)
        }) {
            return Err(IdTokenError::UntrustedAudience {
                audience: clean_text(untrusted, MAX_QUOTE),
            });
        }
        // Step 5: the authorized party.
        if claims.azp.as_deref().is_some_and(|azp| azp != client_id) {
            return Err(IdTokenError::AuthorizedPartyMismatch);
        }
        // Step 9: not expired.
        if claims.exp <= now.saturating_sub_secs(leeway) {
            return Err(IdTokenError::Expired {
                exp: claims.exp,
                now,
            });
        }
        // Step 10: not issued in the future.
        if claims.iat > now.saturating_add_secs(leeway) {
            return Err(IdTokenError::IssuedInFuture {
                iat: claims.iat,
                now,
            });
        }
        if let Some(nbf) = claims.nbf {
            if nbf > now.saturating_add_secs(leeway) {
                return Err(IdTokenError::NotYetValid { nbf, now });
            }
        }
        // Step 11: the nonce, in constant time.
        if let Some(sent) = expected.nonce {
            let received = claims
                .nonce
                .as_deref()
                .ok_or(IdTokenError::MissingClaim { claim: "nonce" })?;
            if !bool::from(sent.as_bytes().ct_eq(received.as_bytes())) {
                return Err(IdTokenError::NonceMismatch);
            }
        }
        // Step 12: acr, when the policy asks for the check and values were sent.
        if self.policy.require_acr {
            if let Some(requested) = expected.acr_values {
                check_acr(requested, claims.acr.as_deref())?;
            }
        }
        // Step 13: max_age.
        if let Some(max_age) = expected.max_age {
            let auth_time = claims
                .auth_time
                .ok_or(IdTokenError::MissingClaim { claim: "auth_time" })?;
            let deadline = auth_time
                .saturating_add_secs(max_age)
                .saturating_add_secs(leeway);
            if deadline < now {
                return Err(IdTokenError::AuthenticationTooOld { auth_time, max_age });
            }
        }
        // §3.1.3.8 / §3.3.2.11: the hash claims, when present.
        if let (Some(at_hash), Some(access_token)) = (&claims.at_hash, expected.access_token) {
            if !half_hash_matches(alg, access_token, at_hash) {
                return Err(IdTokenError::AccessTokenHashMismatch);
            }
        }
        if let (Some(c_hash), Some(code)) = (&claims.c_hash, expected.code) {
            if !half_hash_matches(alg, code, c_hash) {
                return Err(IdTokenError::CodeHashMismatch);
            }
        }
        Ok(())
    }
}

impl Client {
    /// The ID token validator for this client, or `None` without an issuer.
    pub fn id_token_validator(&self) -> Option<IdTokenValidator> {
        self.validator(self.id_token_algorithms())
    }

    /// The validator for signed UserInfo responses (OIDC Core §5.3.2): the
    /// same checks, with the algorithms the metadata lists for UserInfo, or
    /// for ID tokens when it lists none (the policy's own list wins either way).
    pub(crate) fn userinfo_validator(&self) -> Option<IdTokenValidator> {
        if self.userinfo_algorithms().is_empty() {
            self.validator(self.id_token_algorithms())
        } else {
            self.validator(self.userinfo_algorithms())
        }
    }

    /// A validator for this client's issuer and id, with the client secret as
    /// the HMAC key when there is one.
    fn validator(&self, metadata_algorithms: &[Algorithm]) -> Option<IdTokenValidator> {
        let issuer = self.issuer()?.clone();
        let mut validator = IdTokenValidator::new(
            issuer,
            self.client_id().clone(),
            self.id_token_policy().clone(),
        )
        .with_metadata_algorithms(metadata_algorithms);
        if let ClientAuth::ClientSecretBasic(secret) | ClientAuth::ClientSecretPost(secret) =
            self.auth()
        {
            validator = validator.with_client_secret(secret.clone());
        }
        Some(validator)
    }
}

/// Whether a fresh copy of the provider's key set could change the outcome
/// of a failed signature check: the token names a `kid` the cached set lacks
/// ([`JwsError::NoMatchingKey`]), or it names none and no cached key verifies
/// it — the provider may have rotated to a key this client never saw. Flows
/// then re-fetch once, rate-limited (OIDC Core §10.1.1).
pub(crate) fn keys_may_be_stale(error: &Error, token: &str) -> bool {
    match error {
        Error::Jws(JwsError::NoMatchingKey { .. }) => true,
        Error::Jws(JwsError::BadSignature) => {
            CompactJws::parse(token).is_ok_and(|jws| jws.header().kid.is_none())
        }
        _ => false,
    }
}

/// After an ID token in a token response failed validation with `error`:
/// the key set request to send when the keys may be stale
/// ([`keys_may_be_stale`]) and `may_refetch` (no re-fetch has been made for
/// this response yet) and the client's rate limit allows one (OIDC Core
/// §10.1.1); otherwise `error` itself. Every flow that validates an ID token
/// from the token endpoint (code exchange, refresh, device) decides here.
pub(crate) fn refetch_keys_or(
    client: &Client,
    error: Error,
    raw: Option<&RawIdToken>,
    may_refetch: bool,
    now: UnixTime,
) -> Result<HttpRequest, Error> {
    let stale = raw.is_some_and(|raw| keys_may_be_stale(&error, raw.as_str()));
    if !(may_refetch && stale) {
        return Err(error);
    }
    client.jwks_refetch(now).ok_or(error)
}

/// RFC 8725 §3.11: refuses a JWT whose header `typ` names another kind of
/// token. `typ` is a media type (RFC 7515 §4.1.9): compared without regard
/// to case, with `application/` implied when it has no `/` (RFC 7519 §5.1
/// recommends `JWT`). Absent is fine: OIDC Core does not require it.
pub(crate) fn check_jwt_type(jws: &CompactJws) -> Result<(), IdTokenError> {
    let Some(typ) = jws.header().typ.as_deref() else {
        return Ok(());
    };
    let subtype = if typ.contains('/') {
        typ.get(..APPLICATION.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(APPLICATION))
            .and_then(|_| typ.get(APPLICATION.len()..))
    } else {
        Some(typ)
    };
    if subtype.is_some_and(|subtype| subtype.eq_ignore_ascii_case("jwt")) {
        Ok(())
    } else {
        Err(IdTokenError::WrongJwtType {
            typ: clean_text(typ, MAX_QUOTE),
        })
    }
}

/// The media type prefix RFC 7515 §4.1.9 lets a `typ` leave out.
const APPLICATION: &str = "application/";

/// Step 12: `acr` is one of the space-separated `requested` values. Nothing
/// requested (only spaces) checks nothing.
fn check_acr(requested: &str, acr: Option<&str>) -> Result<(), IdTokenError> {
    let mut values = requested.split(' ').filter(|value| !value.is_empty());
    let Some(first) = values.next() else {
        return Ok(());
    };
    match acr {
        Some(acr) if acr == first || values.any(|value| value == acr) => Ok(()),
        found => Err(IdTokenError::AcrMismatch {
            found: found.map(|acr| clean_text(acr, MAX_QUOTE)),
        }),
    }
}

/// `base64url(left half of hash(value))` compared with `claim` in constant
/// time (OIDC Core §3.1.3.6). The hash follows the header's `alg`, which is
/// always one this crate implements, so there is no unknown case to fail
/// open on.
fn half_hash_matches(alg: Algorithm, value: &str, claim: &str) -> bool {
    let digest = alg.digest(value.as_bytes());
    let half = digest.get(..digest.len() / 2).unwrap_or_default();
    let encoded = URL_SAFE_NO_PAD.encode(half);
    bool::from(encoded.as_bytes().ct_eq(claim.as_bytes()))
}

/// A validated ID token: its raw form, the algorithm it was signed with,
/// and its claims.
///
/// `Debug` shows the algorithm and the claims with `nonce` redacted and only
/// the names of the [`extra`](IdTokenClaims::extra) claims; never the raw
/// token. A session kept across requests stores the (`iss`, `sub`) pair
/// (for [`Client::userinfo_for_subject`]) and, when logout needs an
/// `id_token_hint`, the [raw](Self::raw) token: the ID token expires long
/// before the session does, and would no longer validate.
#[derive(Clone)]
pub struct IdToken {
    raw: RawIdToken,
    algorithm: Algorithm,
    claims: IdTokenClaims,
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdToken")
            .field("algorithm", &self.algorithm)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl IdToken {
    /// The claims.
    pub fn claims(&self) -> &IdTokenClaims {
        &self.claims
    }

    /// The token as received, e.g. for `id_token_hint` at logout.
    pub fn raw(&self) -> &RawIdToken {
        &self.raw
    }

    /// The algorithm it was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The subject: with [`IdTokenClaims::iss`], the user's identity.
    pub fn subject(&self) -> &str {
        &self.claims.sub
    }
}

/// The claims of a validated ID token (OIDC Core §2). Standard claims are
/// typed; every other claim (`email`, `name`, …) is kept in
/// [`extra`](Self::extra) as sent.
///
/// `Debug` redacts `nonce` and shows only the names of the `extra` claims.
#[derive(Clone, serde::Serialize)]
#[non_exhaustive]
pub struct IdTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The subject: unique and never reassigned within the issuer.
    pub sub: String,
    /// The audiences (a single string on the wire becomes one entry).
    pub aud: Vec<String>,
    /// Expiry.
    pub exp: UnixTime,
    /// Issue time.
    pub iat: UnixTime,
    /// Not before, if present.
    pub nbf: Option<UnixTime>,
    /// When the user authenticated, if present.
    pub auth_time: Option<UnixTime>,
    /// The nonce, if present.
    pub nonce: Option<String>,
    /// Authentication context class reference, if present: the level the
    /// user was authenticated at (OIDC Core §2). Checked against the
    /// `acr_values` sent only when
    /// [`IdTokenPolicy::require_acr`] is set.
    pub acr: Option<String>,
    /// Authentication methods references, if present.
    pub amr: Option<Vec<String>>,
    /// Authorized party, if present.
    pub azp: Option<String>,
    /// Access token hash, if present.
    pub at_hash: Option<String>,
    /// Code hash, if present.
    pub c_hash: Option<String>,
    /// Every other claim, as sent.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("auth_time", &self.auth_time)
            .field("nonce", &self.nonce.as_ref().map(|_| "<redacted>"))
            .field("acr", &self.acr)
            .field("amr", &self.amr)
            .field("azp", &self.azp)
            .field("at_hash", &self.at_hash)
            .field("c_hash", &self.c_hash)
            .field("extra", &member_names(self.extra.keys(), &[]))
            .finish()
    }
}

impl IdTokenClaims {
    /// Parses claims with strict types: duplicate names, a required claim
    /// absent, or any claim of the wrong JSON type are errors.
    pub(crate) fn parse(payload: &[u8]) -> Result<IdTokenClaims, IdTokenError> {
        let mut map = claims_object(payload)?;
        let iss = required(string(&mut map, "iss")?, "iss")?;
        let sub = required(string(&mut map, "sub")?, "sub")?;
        if sub.is_empty() {
            return Err(IdTokenError::MissingClaim { claim: "sub" });
        }
        let aud = required(audiences(&mut map)?, "aud")?;
        let exp = required(numeric_date(&mut map, "exp")?, "exp")?;
        let iat = required(numeric_date(&mut map, "iat")?, "iat")?;
        Ok(IdTokenClaims {
            iss,
            sub,
            aud,
            exp,
            iat,
            nbf: numeric_date(&mut map, "nbf")?,
            auth_time: numeric_date(&mut map, "auth_time")?,
            nonce: string(&mut map, "nonce")?,
            acr: string(&mut map, "acr")?,
            amr: string_array(&mut map, "amr")?,
            azp: string(&mut map, "azp")?,
            at_hash: string(&mut map, "at_hash")?,
            c_hash: string(&mut map, "c_hash")?,
            extra: map,
        })
    }
}

/// A JWT payload as a JSON object without repeated claim names (RFC 7519 §4).
pub(crate) fn claims_object(payload: &[u8]) -> Result<Map<String, Value>, IdTokenError> {
    json_object(payload).map_err(|error| match error {
        JsonObjectError::NotJson => IdTokenError::Malformed {
            reason: "the payload is not json",
        },
        JsonObjectError::NotAnObject => IdTokenError::Malformed {
            reason: "the payload is not a json object",
        },
        JsonObjectError::Duplicate(claim) => IdTokenError::DuplicateClaim {
            claim: clean_text(&claim, MAX_QUOTE),
        },
    })
}

fn required<T>(value: Option<T>, claim: &'static str) -> Result<T, IdTokenError> {
    value.ok_or(IdTokenError::MissingClaim { claim })
}

/// A string claim. `null` is absent; any other non-string is a type error.
fn string(
    map: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<String>, IdTokenError> {
    match map.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(IdTokenError::WrongClaimType { claim }),
    }
}

fn string_array(
    map: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<Vec<String>>, IdTokenError> {
    match map.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(value) => Ok(value),
                _ => Err(IdTokenError::WrongClaimType { claim }),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(IdTokenError::WrongClaimType { claim }),
    }
}

/// `aud`: a string or an array of strings (OIDC Core §2). An empty array
/// holds no audience, so it is reported as absent.
fn audiences(map: &mut Map<String, Value>) -> Result<Option<Vec<String>>, IdTokenError> {
    const CLAIM: &str = "aud";
    match map.remove(CLAIM) {
        Some(Value::String(aud)) => Ok(Some(vec![aud])),
        Some(Value::Array(items)) if items.is_empty() => Ok(None),
        Some(items @ Value::Array(_)) => {
            let mut single = Map::new();
            single.insert(CLAIM.to_owned(), items);
            string_array(&mut single, CLAIM)
        }
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(IdTokenError::WrongClaimType { claim: CLAIM }),
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, possibly with a
/// fraction (which is dropped). Negative, non-finite or beyond `u64` values
/// are out of range; a string is a type error.
fn numeric_date(
    map: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<UnixTime>, IdTokenError> {
    match map.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            if let Some(secs) = number.as_u64() {
                Ok(Some(UnixTime::from_secs(secs)))
            } else {
                match number.as_f64() {
                    // [0, 2^64): every such value fits in u64 once the
                    // fraction is dropped; NaN and infinities are outside.
                    Some(secs) if (0.0..18_446_744_073_709_551_616.0).contains(&secs) => {
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        // In range and non-negative, checked just above; the fraction is dropped.
                        let whole = secs as u64;
                        Ok(Some(UnixTime::from_secs(whole)))
                    }
                    _ => Err(IdTokenError::ClaimOutOfRange { claim }),
                }
            }
        }
        Some(_) => Err(IdTokenError::WrongClaimType { claim }),
    }
}
