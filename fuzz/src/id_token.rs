//! The ID token validation oracle (OIDC Core §3.1.3.7) shared by
//! `id_token_claims` and `id_token_structured`: the validator's setup and
//! every claim rule re-derived from the raw JSON with `serde_json`.
//!
//! The validator is for issuer [`ISSUER`] and client [`CLIENT_ID`], allows
//! only HS256 keyed with the client secret ([`HMAC_SECRET`]), and expects
//! the nonce [`NONCE`].

use grantflow::CompactJws;
use grantflow::{Algorithm, ClientId, ClientSecret, Error, Issuer, JwkSet, RawIdToken, UnixTime};
use grantflow::{Expected, IdTokenError, IdTokenPolicy, IdTokenValidator};
use serde_json::{Map, Value};

use crate::jose::header_rules;
use crate::json::{Document, Slot, is_string_array, numeric_date, slot};
use crate::{HMAC_SECRET, b64, check_printable};

/// The validator's issuer.
pub const ISSUER: &str = "https://op.example.com";
/// The validator's client (the audience it must find).
pub const CLIENT_ID: &str = "web-app";
/// The audience trusted when [`Setup::trusted`].
pub const TRUSTED: &str = "https://api.example.com";
/// The nonce the validator expects.
pub const NONCE: &str = "n";
/// The `max_age` sent when [`Setup::max_age`].
pub const MAX_AGE: u64 = 600;
/// RFC 6749 §4.1.4's access token; its `at_hash` under SHA-256 is
/// `bJYTDxMKsNbRWDl-JNK8wQ`.
pub const ACCESS_TOKEN: &str = "2YotnFZFEjr1zCsicMWpAA";
/// RFC 6749 §4.1.2's code; its `c_hash` is `o1uBp9eSe3DsmScN0jYriA`.
pub const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA";
/// The leeways a setup draws from.
pub const LEEWAYS: [u64; 4] = [60, 0, 3600, u64::MAX];
/// The `acr_values` sent for [`Acr::Required`] (with doubled and edge spaces,
/// which separate nothing).
pub const ACR_VALUES: &str = " urn:mace:incommon:iap:silver  loa-2 ";

/// The claims this crate types; everything else goes to `extra`.
pub const KNOWN: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
];

/// How the validator is configured and when it runs.
pub struct Setup {
    /// The instant of validation.
    pub now: u64,
    /// The policy's leeway.
    pub leeway: u64,
    /// `max_age` [`MAX_AGE`] was sent.
    pub max_age: bool,
    /// An access token to check `at_hash` against.
    pub access_token: bool,
    /// A code to check `c_hash` against.
    pub code: bool,
    /// [`TRUSTED`] is a trusted audience.
    pub trusted: bool,
    /// What the policy and the request say about `acr`.
    pub acr: Acr,
}

/// The `acr` setups (OIDC Core §3.1.3.7 step 12: the check runs when the
/// policy asks for it and `acr_values` were sent).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Acr {
    /// No `acr` requirement, no `acr_values`.
    Off,
    /// [`ACR_VALUES`] were sent and `acr` is required to be one of them.
    Required,
    /// The policy requires `acr`, but no `acr_values` were sent: nothing to
    /// check against.
    RequiredNothingSent,
    /// The policy requires `acr`, and `acr_values` of spaces only were sent:
    /// they name no value, so nothing is checked.
    RequiredBlankSent,
}

impl Acr {
    /// The setup a harness byte picks: 6 and 7 the edge cases, else bit 0
    /// (so a byte read as a `bool` before keeps its meaning).
    pub fn from_byte(b: u8) -> Self {
        match b % 8 {
            6 => Acr::RequiredNothingSent,
            7 => Acr::RequiredBlankSent,
            b if b & 1 == 1 => Acr::Required,
            _ => Acr::Off,
        }
    }
}

/// The claims as they must come out, when the token must validate.
#[derive(Debug)]
pub struct Want {
    pub sub: String,
    pub aud: Vec<String>,
    pub exp: u64,
    pub iat: u64,
    pub nbf: Option<u64>,
    pub auth_time: Option<u64>,
    pub acr: Option<String>,
    pub amr: Option<Vec<String>>,
    pub azp: Option<String>,
    pub at_hash: Option<String>,
    pub c_hash: Option<String>,
    pub extra: Map<String, Value>,
}

/// `at_hash`/`c_hash` of `value` under SHA-256 (OIDC Core §3.1.3.6).
pub fn half_hash(value: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    b64(&digest.as_ref()[..16])
}

/// A string claim: absent or `null` is `None`, another type an error.
pub fn string(map: &Map<String, Value>, name: &str) -> Result<Option<String>, &'static str> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err("a string claim of another type"),
    }
}

/// A NumericDate claim: absent or `null` is `None`, anything else not a date an error.
pub fn date(map: &Map<String, Value>, name: &str) -> Result<Option<u64>, &'static str> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => numeric_date(value).map(Some).ok_or("a bad numeric date"),
    }
}

/// Every documented claim rule, from the raw JSON.
pub fn claim_rules(claims: &[u8], s: &Setup) -> Result<Want, &'static str> {
    let map = Document::parse(claims)
        .unique_object()
        .ok_or("claims are not an object without repeats")?;
    if string(&map, "iss")?.as_deref() != Some(ISSUER) {
        return Err("iss");
    }
    let sub = string(&map, "sub")?
        .filter(|s| !s.is_empty())
        .ok_or("sub")?;
    let aud = match map.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(items) if is_string_array(items) => items
            .as_array()
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned))
            .into_iter()
            .flatten()
            .collect(),
        _ => return Err("aud is not a string or an array of strings"),
    };
    if !aud.iter().any(|a| a == CLIENT_ID) {
        return Err("aud lacks the client");
    }
    if !aud
        .iter()
        .all(|a| a == CLIENT_ID || (s.trusted && a == TRUSTED))
    {
        return Err("aud has an untrusted audience");
    }
    let exp = date(&map, "exp")?.ok_or("exp")?;
    let iat = date(&map, "iat")?.ok_or("iat")?;
    let nbf = date(&map, "nbf")?;
    let auth_time = date(&map, "auth_time")?;
    if exp <= s.now.saturating_sub(s.leeway) {
        return Err("expired");
    }
    let latest = s.now.saturating_add(s.leeway);
    if iat > latest || nbf.is_some_and(|nbf| nbf > latest) {
        return Err("iat or nbf in the future");
    }
    if string(&map, "nonce")?.as_deref() != Some(NONCE) {
        return Err("nonce");
    }
    let acr = string(&map, "acr")?;
    let azp = string(&map, "azp")?;
    let at_hash = string(&map, "at_hash")?;
    let c_hash = string(&map, "c_hash")?;
    let amr = match map.get("amr") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("amr holds a non-string")?,
        ),
        Some(_) => return Err("amr is not an array"),
    };
    if azp.as_deref().is_some_and(|azp| azp != CLIENT_ID) {
        return Err("azp");
    }
    if s.max_age {
        let auth_time = auth_time.ok_or("auth_time missing under max_age")?;
        if auth_time.saturating_add(MAX_AGE).saturating_add(s.leeway) < s.now {
            return Err("auth_time too old");
        }
    }
    if s.access_token
        && at_hash
            .as_ref()
            .is_some_and(|h| *h != half_hash(ACCESS_TOKEN))
    {
        return Err("at_hash");
    }
    if s.code && c_hash.as_ref().is_some_and(|h| *h != half_hash(CODE)) {
        return Err("c_hash");
    }
    if s.acr == Acr::Required
        && !acr
            .as_deref()
            .is_some_and(|acr| ACR_VALUES.split_whitespace().any(|v| v == acr))
    {
        return Err("acr is not one of the acr_values sent");
    }
    let mut extra = map;
    for name in KNOWN {
        extra.remove(name);
    }
    Ok(Want {
        sub,
        aud,
        exp,
        iat,
        nbf,
        auth_time,
        acr,
        amr,
        azp,
        at_hash,
        c_hash,
        extra,
    })
}

/// Whether a header `typ` says "JWT" (RFC 7519 §5.1): a media type compared
/// without regard to case, `application/` implied when there is no `/`
/// (RFC 7515 §4.1.9). Written independently of the core's check.
pub fn is_jwt_type(typ: &str) -> bool {
    let lower = typ.to_ascii_lowercase();
    lower == "jwt" || lower == "application/jwt"
}

/// Whether `value` has the JSON type the claim `name` must have.
pub fn typed(name: &str, value: &Value) -> bool {
    match name {
        "exp" | "iat" | "nbf" | "auth_time" => value.is_number(),
        "aud" => value.is_string() || is_string_array(value),
        "amr" => is_string_array(value),
        _ => value.is_string(),
    }
}

/// A claim error must name a claim whose raw value fits the error: a wrong
/// type is never "missing", a missing claim never "wrong type".
pub fn check_claim_error(claims: &[u8], error: &IdTokenError) {
    let Some(map) = Document::parse(claims).unique_object() else {
        assert!(
            matches!(
                error,
                IdTokenError::Malformed { .. } | IdTokenError::DuplicateClaim { .. }
            ),
            "{error:?} for claims that are not an object without repeats"
        );
        return;
    };
    match *error {
        IdTokenError::Malformed { .. } | IdTokenError::DuplicateClaim { .. } => {
            panic!("{error:?} for an object without repeats")
        }
        IdTokenError::MissingClaim { claim } => {
            let empty = match map.get(claim) {
                Some(Value::String(s)) => claim == "sub" && s.is_empty(),
                Some(Value::Array(items)) => claim == "aud" && items.is_empty(),
                _ => false,
            };
            assert!(
                slot(&map, claim, |v| typed(claim, v)) == Slot::Absent || empty,
                "{claim} reported missing, but it is {:?}",
                map.get(claim)
            );
        }
        IdTokenError::WrongClaimType { claim } => assert_eq!(
            slot(&map, claim, |v| typed(claim, v)),
            Slot::WrongType,
            "{claim} reported mistyped, but it is {:?}",
            map.get(claim)
        ),
        IdTokenError::ClaimOutOfRange { claim } => {
            let value = map.get(claim).expect("an out-of-range claim is present");
            assert!(
                value.is_number() && numeric_date(value).is_none(),
                "{value}"
            );
        }
        _ => {}
    }
}

/// Validates `token` (made of `header` and `claims`; `genuine` when the
/// harness signed it with HS256 under [`HMAC_SECRET`]) under `setup`, and
/// checks the outcome: success exactly when the header and every claim rule
/// hold (and the signature is genuine), then exactly the raw values; on
/// failure, errors that fit the raw JSON.
pub fn judge(header: &[u8], claims: &[u8], token: String, genuine: bool, setup: &Setup) {
    let now = setup.now;
    let mut policy = IdTokenPolicy::default()
        .with_algorithms([Algorithm::Hs256])
        .with_hmac()
        .with_leeway(setup.leeway);
    if setup.trusted {
        policy = policy.with_trusted_audience(TRUSTED);
    }
    if setup.acr != Acr::Off {
        policy = policy.with_acr_required(true);
    }
    let validator = IdTokenValidator::new(
        Issuer::new(ISSUER).expect("a valid issuer"),
        ClientId::new(CLIENT_ID),
        policy,
    )
    .with_client_secret(ClientSecret::new(HMAC_SECRET));
    let mut expected = Expected::none().nonce(NONCE);
    if setup.max_age {
        expected = expected.max_age(MAX_AGE);
    }
    if setup.access_token {
        expected = expected.access_token(ACCESS_TOKEN);
    }
    if setup.code {
        expected = expected.code(CODE);
    }
    match setup.acr {
        Acr::Required => expected = expected.acr_values(ACR_VALUES),
        Acr::RequiredBlankSent => expected = expected.acr_values("   "),
        Acr::Off | Acr::RequiredNothingSent => {}
    }
    let raw = RawIdToken::new(token.clone());
    let result = validator.validate(&raw, &JwkSet::default(), expected, UnixTime::from_secs(now));

    let header_ok = header_rules(header).and_then(|h| {
        if h.alg != "HS256" {
            Err("alg is not HS256")
        } else if token.len() > CompactJws::MAX_LEN {
            Err("token too long")
        } else if h.typ.as_deref().is_some_and(|typ| !is_jwt_type(typ)) {
            Err("typ names another kind of jwt")
        } else {
            Ok(())
        }
    });
    let rules = header_ok.and_then(|()| claim_rules(claims, setup));
    let rules = if genuine {
        rules
    } else {
        rules.and(Err("a signature not under the key"))
    };

    let (id_token, want) = match (result, rules) {
        (Ok(id_token), Ok(want)) => (id_token, want),
        (Ok(id_token), Err(why)) => {
            panic!("validated a token that breaks a rule ({why}): {id_token:?}")
        }
        (Err(error), Ok(want)) => {
            panic!("refused a token that meets every rule: {error:?}; {want:?}")
        }
        (Err(error), Err(_)) => {
            check_printable(&error);
            // A signature that does not verify is refused as such (or for
            // the header's `typ`, checked first): never for a claim, which
            // must not be read before the signature is checked.
            assert!(
                genuine
                    || matches!(
                        error,
                        Error::Jws(_) | Error::IdToken(IdTokenError::WrongJwtType { .. })
                    ),
                "a forged token refused for its claims: {error:?}"
            );
            match &error {
                Error::IdToken(IdTokenError::WrongJwtType { typ }) => {
                    let header = header_rules(header).expect("typ checked under a bad header");
                    let sent = header.typ.expect("a typ refusal needs a typ");
                    assert!(!is_jwt_type(&sent), "refused the typ {sent:?}");
                    // Quoted escaped and cut short, never mistaken for another.
                    assert!(!typ.chars().any(char::is_control));
                    assert!(
                        crate::is_quote_of(typ, &sent, 128),
                        "typ {typ:?} from {sent:?}"
                    );
                }
                Error::IdToken(claim_error) => {
                    assert!(
                        header_rules(header).is_ok(),
                        "claims read under a bad header"
                    );
                    check_claim_error(claims, claim_error);
                }
                Error::Jws(_) => {}
                other => panic!("validation failed with {other:?}"),
            }
            return;
        }
    };

    // Ok: the returned claims are the raw ones, and satisfy every check.
    let c = id_token.claims();
    assert_eq!(c.iss, ISSUER);
    assert!(c.aud.iter().any(|a| a == CLIENT_ID));
    assert!(c.exp.as_secs() > now.saturating_sub(setup.leeway));
    assert!(c.iat.as_secs() <= now.saturating_add(setup.leeway));
    assert_eq!(c.nonce.as_deref(), Some(NONCE));
    assert!(!c.sub.is_empty());
    assert_eq!(c.sub, want.sub);
    assert_eq!(id_token.subject(), want.sub);
    assert_eq!(c.aud, want.aud);
    assert_eq!(c.exp.as_secs(), want.exp);
    assert_eq!(c.iat.as_secs(), want.iat);
    assert_eq!(c.nbf.map(UnixTime::as_secs), want.nbf);
    assert_eq!(c.auth_time.map(UnixTime::as_secs), want.auth_time);
    assert_eq!(c.acr, want.acr);
    if setup.acr == Acr::Required {
        let acr = c.acr.as_deref().expect("a required acr is present");
        assert!(ACR_VALUES.split(' ').any(|v| v == acr));
    }
    assert_eq!(c.amr, want.amr);
    assert_eq!(c.azp, want.azp);
    assert_eq!(c.at_hash, want.at_hash);
    assert_eq!(c.c_hash, want.c_hash);
    assert_eq!(c.extra, want.extra);
    assert_eq!(id_token.algorithm(), Algorithm::Hs256);
    assert_eq!(id_token.raw().as_str(), token);
    // Debug: never the raw token, and the nonce (always present here) redacted.
    let debug = format!("{id_token:?}");
    assert!(!debug.contains(&token), "the raw token in debug");
    assert!(
        debug.contains(r#"nonce: Some("<redacted>")"#),
        "the nonce in debug: {debug}"
    );
    assert!(!format!("{id_token:#?}").contains(&token));
}
