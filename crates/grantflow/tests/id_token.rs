//! ID token validation (OIDC Core §3.1.3.7), one check at a time: every
//! rejection is its own error, claims of the wrong JSON type are never read
//! as absent, and hostile numbers cannot overflow the time arithmetic.

// Test helpers may panic: a panic here is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::{Algorithm, JwkSet, JwsError};
use grantflow::{ClientId, ClientSecret, Error, IdToken, Issuer, RawIdToken, UnixTime};
use grantflow::{Expected, IdTokenError, IdTokenPolicy, IdTokenValidator};
use serde_json::{Value, json};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://op.example.com";
const SECRET: &str = "0123456789abcdef0123456789abcdef-client-secret";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An HS256 token over exactly these claim bytes.
fn hs256(claims: &str) -> RawIdToken {
    hs256_with_header(r#"{"alg":"HS256","typ":"JWT"}"#, claims)
}

/// An HS256 token over exactly this header and these claim bytes.
fn hs256_with_header(header: &str, claims: &str) -> RawIdToken {
    let header = b64(header.as_bytes());
    let input = format!("{header}.{}", b64(claims.as_bytes()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let signature = b64(ring::hmac::sign(&key, input.as_bytes()).as_ref());
    RawIdToken::new(format!("{input}.{signature}"))
}

fn validator(policy: IdTokenPolicy) -> IdTokenValidator {
    IdTokenValidator::new(
        Issuer::new(ISSUER).unwrap(),
        ClientId::new("web-app"),
        policy.with_algorithms([Algorithm::Hs256]).with_hmac(),
    )
    .with_client_secret(ClientSecret::new(SECRET))
}

fn good() -> Value {
    json!({"iss": ISSUER, "sub": "248289761001", "aud": "web-app",
           "exp": NOW.as_secs() + 600, "iat": NOW.as_secs() - 5, "nonce": "n-0S6_WzA2Mj"})
}

fn check_with(
    claims: &str,
    expected: Expected<'_>,
    policy: IdTokenPolicy,
) -> Result<IdToken, Error> {
    validator(policy).validate(&hs256(claims), &JwkSet::default(), expected, NOW)
}

fn check(claims: &Value) -> Result<IdToken, Error> {
    check_with(
        &claims.to_string(),
        Expected::none().nonce("n-0S6_WzA2Mj"),
        IdTokenPolicy::default(),
    )
}

fn with(field: &str, value: Value) -> Value {
    let mut claims = good();
    claims[field] = value;
    claims
}

fn without(field: &str) -> Value {
    let mut claims = good();
    claims.as_object_mut().unwrap().remove(field);
    claims
}

fn id_error(result: Result<IdToken, Error>) -> IdTokenError {
    match result {
        Err(Error::IdToken(error)) => error,
        other => panic!("expected an id token error, got {other:?}"),
    }
}

#[test]
fn a_valid_token_yields_typed_claims() {
    let mut claims = good();
    claims["email"] = json!("janedoe@example.com");
    claims["amr"] = json!(["pwd", "otp"]);
    let token = check(&claims).unwrap();
    assert_eq!(token.subject(), "248289761001");
    assert_eq!(token.algorithm(), Algorithm::Hs256);
    let claims = token.claims();
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, ["web-app"]);
    assert_eq!(claims.exp, NOW.saturating_add_secs(600));
    assert_eq!(
        claims.amr.as_deref(),
        Some(&["pwd".to_owned(), "otp".to_owned()][..])
    );
    assert_eq!(claims.extra["email"], "janedoe@example.com");
    assert!(
        !claims.extra.contains_key("sub"),
        "typed claims are not repeated"
    );
    // Debug shows the claims but never the raw token.
    assert!(!format!("{token:?}").contains(hs256(&good().to_string()).as_str()));
}

#[test]
fn required_claims_must_be_present() {
    for claim in ["iss", "sub", "aud", "exp", "iat"] {
        assert_eq!(
            id_error(check(&without(claim))),
            IdTokenError::MissingClaim {
                claim: match claim {
                    "iss" => "iss",
                    "sub" => "sub",
                    "aud" => "aud",
                    "exp" => "exp",
                    _ => "iat",
                }
            },
            "{claim}"
        );
    }
    // `null` is absent too, and an empty `sub` names nobody.
    assert_eq!(
        id_error(check(&with("sub", json!(null)))),
        IdTokenError::MissingClaim { claim: "sub" }
    );
    assert_eq!(
        id_error(check(&with("sub", json!("")))),
        IdTokenError::MissingClaim { claim: "sub" }
    );
}

#[test]
fn a_claim_of_the_wrong_type_is_an_error_never_absent() {
    for (claim, value, name) in [
        ("exp", json!("1800000600"), "exp"),
        ("iat", json!("1800000000"), "iat"),
        ("nbf", json!(true), "nbf"),
        ("auth_time", json!({}), "auth_time"),
        ("iss", json!(1), "iss"),
        ("sub", json!(["248289761001"]), "sub"),
        ("aud", json!(5), "aud"),
        ("aud", json!(["web-app", 5]), "aud"),
        ("nonce", json!(5), "nonce"),
        ("azp", json!(["web-app"]), "azp"),
        ("at_hash", json!(1), "at_hash"),
        ("amr", json!("pwd"), "amr"),
        ("acr", json!(0), "acr"),
    ] {
        assert_eq!(
            id_error(check(&with(claim, value.clone()))),
            IdTokenError::WrongClaimType { claim: name },
            "{claim}: {value}"
        );
    }
}

#[test]
fn hostile_numbers_are_out_of_range_or_saturate() {
    for value in [json!(-1), json!(-1.5), json!(1e300)] {
        assert_eq!(
            id_error(check(&with("exp", value.clone()))),
            IdTokenError::ClaimOutOfRange { claim: "exp" },
            "{value}"
        );
    }
    // Far-future expiry: valid, no overflow with the leeway.
    assert!(check(&with("exp", json!(u64::MAX))).is_ok());
    assert!(check(&with("exp", json!(1.9e9))).is_ok());
    // A fractional NumericDate keeps its whole seconds.
    let token = check(&with("iat", json!(1_799_999_999.75))).unwrap();
    assert_eq!(token.claims().iat, UnixTime::from_secs(1_799_999_999));
    // 1e309 is not even JSON that serde_json can hold: malformed.
    let claims = good()
        .to_string()
        .replace("\"exp\":1800000600", "\"exp\":1e309");
    assert!(matches!(
        id_error(check_with(
            &claims,
            Expected::none(),
            IdTokenPolicy::default()
        )),
        IdTokenError::Malformed { .. }
    ));
}

#[test]
fn duplicate_claims_and_non_object_payloads_are_refused() {
    let duplicated = good().to_string().replacen('{', r#"{"sub":"attacker","#, 1);
    assert_eq!(
        id_error(check_with(
            &duplicated,
            Expected::none(),
            IdTokenPolicy::default()
        )),
        IdTokenError::DuplicateClaim {
            claim: "sub".to_owned()
        }
    );
    for payload in ["[]", "\"x\"", "not json", ""] {
        assert!(
            matches!(
                id_error(check_with(
                    payload,
                    Expected::none(),
                    IdTokenPolicy::default()
                )),
                IdTokenError::Malformed { .. }
            ),
            "{payload:?}"
        );
    }
}

#[test]
fn rp_id_token_issuer_mismatch_is_exact() {
    for iss in [
        "https://op.example.com/",
        "https://OP.example.com",
        "https://evil.example.com",
    ] {
        match id_error(check(&with("iss", json!(iss)))) {
            IdTokenError::IssuerMismatch { expected, found } => {
                assert_eq!(expected, ISSUER);
                assert_eq!(found, iss);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_audience_must_contain_the_client_and_nothing_untrusted() {
    assert_eq!(
        id_error(check(&with("aud", json!("other-app")))),
        IdTokenError::AudienceMismatch
    );
    assert_eq!(
        id_error(check(&with("aud", json!([])))),
        IdTokenError::MissingClaim { claim: "aud" }
    );
    assert_eq!(
        id_error(check(&with("aud", json!(["web-app", "api.example.com"])))),
        IdTokenError::UntrustedAudience {
            audience: "api.example.com".to_owned()
        }
    );
    let trusting = IdTokenPolicy::default().with_trusted_audience("api.example.com");
    let claims = with("aud", json!(["web-app", "api.example.com"]));
    assert!(
        check_with(
            &claims.to_string(),
            Expected::none().nonce("n-0S6_WzA2Mj"),
            trusting
        )
        .is_ok()
    );
    assert!(check(&with("azp", json!("web-app"))).is_ok());
    assert_eq!(
        id_error(check(&with("azp", json!("other-app")))),
        IdTokenError::AuthorizedPartyMismatch
    );
}

#[test]
fn times_are_checked_with_leeway() {
    let at = |secs: u64| json!(secs);
    // exp: valid until now - leeway (60 s by default).
    assert!(check(&with("exp", at(NOW.as_secs() - 59))).is_ok());
    assert!(matches!(
        id_error(check(&with("exp", at(NOW.as_secs() - 60)))),
        IdTokenError::Expired { .. }
    ));
    // iat: not after now + leeway.
    assert!(check(&with("iat", at(NOW.as_secs() + 60))).is_ok());
    assert!(matches!(
        id_error(check(&with("iat", at(NOW.as_secs() + 61)))),
        IdTokenError::IssuedInFuture { .. }
    ));
    assert!(matches!(
        id_error(check(&with("nbf", at(NOW.as_secs() + 61)))),
        IdTokenError::NotYetValid { .. }
    ));
    // A leeway of zero is strict.
    let strict = IdTokenPolicy::default().with_leeway(0);
    let claims = with("exp", at(NOW.as_secs()));
    assert!(matches!(
        id_error(check_with(
            &claims.to_string(),
            Expected::none().nonce("n-0S6_WzA2Mj"),
            strict
        )),
        IdTokenError::Expired { .. }
    ));
}

#[test]
fn nonce_and_max_age() {
    assert_eq!(
        id_error(check(&without("nonce"))),
        IdTokenError::MissingClaim { claim: "nonce" }
    );
    assert_eq!(
        id_error(check(&with("nonce", json!("n-0S6_WzA2Mk")))),
        IdTokenError::NonceMismatch
    );
    // No nonce was sent: none is required.
    assert!(
        check_with(
            &without("nonce").to_string(),
            Expected::none(),
            IdTokenPolicy::default()
        )
        .is_ok()
    );

    let max_age = |claims: &Value| {
        check_with(
            &claims.to_string(),
            Expected::none().nonce("n-0S6_WzA2Mj").max_age(300),
            IdTokenPolicy::default(),
        )
    };
    assert_eq!(
        id_error(max_age(&good())),
        IdTokenError::MissingClaim { claim: "auth_time" }
    );
    assert!(max_age(&with("auth_time", json!(NOW.as_secs() - 360))).is_ok());
    assert!(matches!(
        id_error(max_age(&with("auth_time", json!(NOW.as_secs() - 361)))),
        IdTokenError::AuthenticationTooOld { max_age: 300, .. }
    ));
}

#[test]
fn oidc_core_hash_claim_examples() {
    // OIDC Core Appendix A: at_hash and c_hash of the example values (SHA-256, left half).
    let access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    let code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
    let mut claims = good();
    claims["at_hash"] = json!("77QmUPtjPfzWtF2AnpK9RQ");
    claims["c_hash"] = json!("LDktKdoQak3Pk0cnXxCltA");
    let expected = Expected::none()
        .nonce("n-0S6_WzA2Mj")
        .access_token(access_token)
        .code(code);
    let run = |claims: &Value| check_with(&claims.to_string(), expected, IdTokenPolicy::default());
    assert!(run(&claims).is_ok());

    let mut bad = claims.clone();
    bad["at_hash"] = json!("77QmUPtjPfzWtF2AnpK9RR");
    assert_eq!(id_error(run(&bad)), IdTokenError::AccessTokenHashMismatch);
    let mut bad = claims.clone();
    bad["c_hash"] = json!("LDktKdoQak3Pk0cnXxCltB");
    assert_eq!(id_error(run(&bad)), IdTokenError::CodeHashMismatch);
    // The whole hash, not its left half, is wrong too.
    let mut bad = claims;
    let full = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    bad["at_hash"] = json!(b64(full.as_ref()));
    assert_eq!(id_error(run(&bad)), IdTokenError::AccessTokenHashMismatch);
}

#[test]
fn the_algorithm_comes_from_policy_never_from_the_token() {
    let claims = good().to_string();
    // HS256 under the default policy (RS256 only, no HMAC): refused.
    let default = IdTokenValidator::new(
        Issuer::new(ISSUER).unwrap(),
        ClientId::new("web-app"),
        IdTokenPolicy::default(),
    )
    .with_client_secret(ClientSecret::new(SECRET));
    assert_eq!(default.algorithms(), [Algorithm::Rs256]);
    assert!(matches!(
        default.validate(&hs256(&claims), &JwkSet::default(), Expected::none(), NOW),
        Err(Error::Jws(JwsError::HmacNotAllowed))
    ));
    // Listing HS256 without opting in to HMAC drops it.
    let listed = IdTokenPolicy::default().with_algorithms([Algorithm::Hs256, Algorithm::Rs256]);
    let validator = IdTokenValidator::new(
        Issuer::new(ISSUER).unwrap(),
        ClientId::new("web-app"),
        listed,
    );
    assert_eq!(validator.algorithms(), [Algorithm::Rs256]);
    // Metadata algorithms are used when the policy names none; `none` can never be one.
    let from_metadata = IdTokenValidator::new(
        Issuer::new(ISSUER).unwrap(),
        ClientId::new("web-app"),
        IdTokenPolicy::default(),
    )
    .with_metadata_algorithms(&[Algorithm::Es256, Algorithm::Hs256]);
    assert_eq!(from_metadata.algorithms(), [Algorithm::Es256]);
    // RS256 allowed, token says ES256: not allowed.
    let es256 = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"ES256"}"#),
        b64(claims.as_bytes()),
        b64(&[0; 64])
    );
    assert!(matches!(
        default.validate(
            &RawIdToken::new(es256),
            &JwkSet::default(),
            Expected::none(),
            NOW
        ),
        Err(Error::Jws(JwsError::AlgorithmNotAllowed {
            alg: Algorithm::Es256
        }))
    ));
    // alg: none, in any spelling.
    for alg in ["none", "NONE", "nOnE"] {
        let unsigned = format!(
            "{}.{}.",
            b64(format!(r#"{{"alg":"{alg}"}}"#).as_bytes()),
            b64(claims.as_bytes())
        );
        assert!(
            default
                .validate(
                    &RawIdToken::new(unsigned),
                    &JwkSet::default(),
                    Expected::none(),
                    NOW
                )
                .is_err(),
            "{alg}"
        );
    }
}

#[test]
fn hmac_needs_a_secret_of_32_octets() {
    let short = IdTokenValidator::new(
        Issuer::new(ISSUER).unwrap(),
        ClientId::new("web-app"),
        IdTokenPolicy::default()
            .with_algorithms([Algorithm::Hs256])
            .with_hmac(),
    )
    .with_client_secret(ClientSecret::new(
        "31-octets-is-one-short-of-enough"[..31].to_owned(),
    ));
    assert!(matches!(
        short.validate(
            &hs256(&good().to_string()),
            &JwkSet::default(),
            Expected::none(),
            NOW
        ),
        Err(Error::Jws(JwsError::HmacKeyTooShort { len: 31 }))
    ));
    // No secret at all (a public client): HMAC is impossible.
    let public = IdTokenValidator::new(
        Issuer::new(ISSUER).unwrap(),
        ClientId::new("web-app"),
        IdTokenPolicy::default()
            .with_algorithms([Algorithm::Hs256])
            .with_hmac(),
    );
    assert!(matches!(
        public.validate(
            &hs256(&good().to_string()),
            &JwkSet::default(),
            Expected::none(),
            NOW
        ),
        Err(Error::Jws(JwsError::HmacNotAllowed))
    ));
}

#[test]
fn the_signature_is_checked_before_any_claim() {
    // A bad signature over claims that would also fail: the signature error wins.
    let token = hs256(&with("iss", json!("https://evil.example.com")).to_string());
    let mut forged = token.as_str().to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert!(matches!(
        validator(IdTokenPolicy::default()).validate(
            &RawIdToken::new(forged),
            &JwkSet::default(),
            Expected::none(),
            NOW
        ),
        Err(Error::Jws(JwsError::BadSignature))
    ));
}

#[test]
fn expected_values_are_redacted_in_debug() {
    let debug = format!(
        "{:?}",
        Expected::none()
            .nonce("secret-nonce")
            .access_token("secret-at")
            .code("secret-code")
    );
    assert!(!debug.contains("secret"), "{debug}");
}

/// A token under `header`, validated with the default policy and nonce.
fn check_header(header: &Value, claims: &str) -> Result<IdToken, Error> {
    validator(IdTokenPolicy::default()).validate(
        &hs256_with_header(&header.to_string(), claims),
        &JwkSet::default(),
        Expected::none().nonce("n-0S6_WzA2Mj"),
        NOW,
    )
}

#[test]
fn rfc8725_other_jwt_types_are_not_id_tokens() {
    let claims = good().to_string();
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "AT+JWT",
        "logout+jwt",
        "application/logout+jwt",
        "dpop+jwt",
        "secevent+jwt",
        "application/secevent+jwt",
        "token-introspection+jwt",
        "JOSE",
        "JWS",
        "",
        "text/jwt",
        "application/jwt; charset=utf-8",
        " jwt",
        "application/",
        "applicatio/jwt",
    ] {
        let header = json!({"alg": "HS256", "typ": typ});
        assert_eq!(
            id_error(check_header(&header, &claims)),
            IdTokenError::WrongJwtType {
                typ: typ.to_owned()
            },
            "{typ:?}"
        );
    }
    // The quoted typ is cleaned and cut short.
    let long = format!("x\n{}", "y".repeat(500));
    match id_error(check_header(&json!({"alg": "HS256", "typ": long}), &claims)) {
        IdTokenError::WrongJwtType { typ } => {
            assert!(typ.len() <= 128 && !typ.contains('\n'), "{typ:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc7515_typ_jwt_in_any_case_with_or_without_the_application_prefix() {
    let claims = good().to_string();
    for typ in [
        "JWT",
        "jwt",
        "Jwt",
        "application/jwt",
        "APPLICATION/JWT",
        "Application/JWT",
    ] {
        let header = json!({"alg": "HS256", "typ": typ});
        assert!(check_header(&header, &claims).is_ok(), "{typ:?}");
    }
    // No typ at all: OIDC Core does not require one.
    assert!(check_header(&json!({"alg": "HS256"}), &claims).is_ok());
    // A typ that is not a string is malformed, as before.
    assert!(matches!(
        check_header(&json!({"alg": "HS256", "typ": 1}), &claims),
        Err(Error::Jws(JwsError::Malformed { .. }))
    ));
}

#[test]
fn the_jwt_type_is_checked_after_the_signature_and_before_the_claims() {
    let header = r#"{"alg":"HS256","typ":"at+jwt"}"#;
    // Forged: the signature error wins.
    let token = hs256_with_header(header, &good().to_string());
    let (input, _) = token.as_str().rsplit_once('.').unwrap();
    let forged = format!("{input}.{}", b64(&[0; 32]));
    assert!(matches!(
        validator(IdTokenPolicy::default()).validate(
            &RawIdToken::new(forged),
            &JwkSet::default(),
            Expected::none(),
            NOW
        ),
        Err(Error::Jws(JwsError::BadSignature))
    ));
    // Genuine, over claims that are not even json: the type error wins, so
    // no claim of an access token is ever read as an ID token's.
    assert_eq!(
        id_error(validator(IdTokenPolicy::default()).validate(
            &hs256_with_header(header, "not json"),
            &JwkSet::default(),
            Expected::none(),
            NOW
        )),
        IdTokenError::WrongJwtType {
            typ: "at+jwt".to_owned()
        }
    );
}

/// Validates `claims` with `acr_values` sent, under `policy`.
fn check_acr(claims: &Value, acr_values: &str, policy: IdTokenPolicy) -> Result<IdToken, Error> {
    check_with(
        &claims.to_string(),
        Expected::none()
            .nonce("n-0S6_WzA2Mj")
            .acr_values(acr_values),
        policy,
    )
}

#[test]
fn acr_is_exposed_and_only_checked_when_the_policy_requires_it() {
    const SILVER: &str = "urn:mace:incommon:iap:silver";
    const BRONZE: &str = "urn:mace:incommon:iap:bronze";
    let requested = format!("{SILVER} {BRONZE}");
    let silver = with("acr", json!(SILVER));
    let other = with("acr", json!("0"));
    let strict = || IdTokenPolicy::default().with_acr_required(true);

    // Exposed, whatever the policy.
    let token = check(&silver).unwrap();
    assert_eq!(token.claims().acr.as_deref(), Some(SILVER));
    assert_eq!(check(&good()).unwrap().claims().acr, None);

    // Off by default: another acr, or none, is not an error (step 12 is a SHOULD).
    let lenient = IdTokenPolicy::default();
    assert!(!lenient.require_acr);
    assert_eq!(
        check_acr(&other, &requested, lenient.clone())
            .unwrap()
            .claims()
            .acr
            .as_deref(),
        Some("0")
    );
    assert!(check_acr(&good(), &requested, lenient).is_ok());

    // Required: the acr must be one of the values sent.
    for ok in [SILVER, BRONZE] {
        assert!(
            check_acr(&with("acr", json!(ok)), &requested, strict()).is_ok(),
            "{ok}"
        );
    }
    assert!(check_acr(&silver, &format!("  {SILVER}  "), strict()).is_ok());
    assert_eq!(
        id_error(check_acr(&other, &requested, strict())),
        IdTokenError::AcrMismatch {
            found: Some("0".to_owned())
        }
    );
    assert_eq!(
        id_error(check_acr(&good(), &requested, strict())),
        IdTokenError::AcrMismatch { found: None }
    );
    // Exact values: no prefix, case folding or substring match.
    for near in [
        "urn:mace:incommon:iap",
        "URN:MACE:INCOMMON:IAP:SILVER",
        "urn:mace:incommon:iap:silver urn:mace:incommon:iap:bronze",
        "",
    ] {
        assert!(
            matches!(
                id_error(check_acr(&with("acr", json!(near)), &requested, strict())),
                IdTokenError::AcrMismatch { found: Some(_) }
            ),
            "{near:?}"
        );
    }
    // A null acr is absent; a non-string acr is a type error, as before.
    assert_eq!(
        id_error(check_acr(&with("acr", Value::Null), &requested, strict())),
        IdTokenError::AcrMismatch { found: None }
    );
    assert_eq!(
        id_error(check_acr(&with("acr", json!(2)), &requested, strict())),
        IdTokenError::WrongClaimType { claim: "acr" }
    );
    // Required, but no acr_values sent (or only spaces): nothing to check.
    assert!(
        check_with(
            &other.to_string(),
            Expected::none().nonce("n-0S6_WzA2Mj"),
            strict()
        )
        .is_ok()
    );
    assert!(check_acr(&good(), " ", strict()).is_ok());
    // Checked after the nonce (step 11 before step 12).
    assert_eq!(
        id_error(check_with(
            &other.to_string(),
            Expected::none().nonce("another").acr_values(&requested),
            strict()
        )),
        IdTokenError::NonceMismatch
    );
    // The acr_values sent are not secret.
    assert!(format!("{:?}", Expected::none().acr_values(SILVER)).contains(SILVER));
}

#[test]
fn debug_of_an_id_token_shows_no_nonce_and_no_raw_token() {
    /// What an application keeps after a sign-in, like `SignIn`.
    #[derive(Debug)]
    #[allow(dead_code)] // Read only through Debug.
    struct Session {
        id_token: IdToken,
        nested: Option<Vec<IdToken>>,
    }

    let mut claims = good();
    claims["nonce"] = json!("n-0S6_WzA2Mj");
    claims["acr"] = json!("urn:mace:incommon:iap:silver");
    claims["at_hash"] = json!("77QmUPtjPfzWtF2AnpK9RQ");
    claims["email"] = json!("janedoe@example.com");
    claims["session_handle"] = json!("sh-very-secret");
    let raw = hs256(&claims.to_string());
    let token = check(&claims).unwrap();
    assert_eq!(token.claims().nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    let session = Session {
        id_token: token.clone(),
        nested: Some(vec![token.clone()]),
    };
    let (_, payload_and_signature) = raw.as_str().split_once('.').unwrap();
    for debug in [
        format!("{token:?}"),
        format!("{token:#?}"),
        format!("{:?}", token.claims()),
        format!("{:#?}", token.claims()),
        format!("{session:?}"),
        format!("{session:#?}"),
    ] {
        assert!(!debug.contains("n-0S6_WzA2Mj"), "nonce shown: {debug}");
        assert!(!debug.contains(raw.as_str()), "raw token shown: {debug}");
        assert!(
            !debug.contains(payload_and_signature),
            "raw token shown: {debug}"
        );
        assert!(
            !debug.contains("sh-very-secret"),
            "extra value shown: {debug}"
        );
        assert!(
            !debug.contains("janedoe@example.com"),
            "extra value shown: {debug}"
        );
        // What is safe to show still is.
        assert!(debug.contains("248289761001"), "{debug}");
        assert!(debug.contains("urn:mace:incommon:iap:silver"), "{debug}");
        assert!(debug.contains("77QmUPtjPfzWtF2AnpK9RQ"), "{debug}");
        assert!(debug.contains("session_handle"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
    // No nonce: nothing to redact, and it says so.
    let without_nonce = check_with(
        &without("nonce").to_string(),
        Expected::none(),
        IdTokenPolicy::default(),
    )
    .unwrap();
    assert!(format!("{without_nonce:?}").contains("nonce: None"));
}
