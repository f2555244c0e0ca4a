//! ID token validation (OIDC Core §3.1.3.7), grantflow side by side with
//! openidconnect-rs 4, on the same token bytes and the same keys.
//!
//! - `id_token_rs256/*`, `id_token_es256/*`, `id_token_eddsa/*`: from the
//!   compact token string to validated claims, with a key set parsed once
//!   outside the loop (as a client caches it).
//!   - `grantflow`: `IdTokenValidator::validate(&RawIdToken::new(token),
//!     &jwks, Expected::none().nonce(..), now)`;
//!   - `openidconnect`: `token.parse::<CoreIdToken>()` then
//!     `id_token.claims(&verifier, &nonce)`, the verifier being a
//!     `CoreIdTokenVerifier::new_public_client` with the issuer, the key set
//!     and a fixed clock (`set_time_fn`), so both check the same `now`;
//!   - `jws_parse`: grantflow's `CompactJws::parse` alone (length and
//!     segment checks, base64url of the three segments, the header's JSON),
//!     the first step of `validate`, to show where its time goes;
//!   - `ring` and `rustcrypto`: the bare signature check each library ends
//!     in, on the same signing input and signature with the key members
//!     already base64url-decoded: ring's one-shot verify for grantflow; for
//!     openidconnect-rs the RustCrypto crates it calls (`rsa` 0.9, `p256`
//!     0.14, `ed25519-dalek` 3), building the key from its members on every
//!     call as openidconnect-rs does.
//! - `jwks_parse/*`: the key set document (one RSA 2048, one P-256, one
//!   Ed25519 key) into each library's key set type.
//!
//! Before measuring, `main` checks once that each validation succeeds on
//! both sides with the same claims, and that a token with one flipped
//! signature bit, and the token checked after its `exp`, fail on both: so
//! nothing measures an early error path or skips a check.

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::Criterion;
use grantflow::{Algorithm, JwkSet};
use grantflow::{ClientId, Issuer, RawIdToken, UnixTime};
use grantflow::{Expected, IdTokenPolicy, IdTokenValidator};
use grantflow_benches::{CLIENT_ID, NOW_SECS};
use grantflow_tests::jose::{TestKey, jwks, tamper};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use serde_json::json;

/// The issuer both validators expect, and every token's `iss`.
const ISSUER: &str = "https://op.example.com";

/// The nonce sent in the (imagined) authentication request.
const NONCE: &str = "n-0S6_WzA2Mj";

/// One algorithm's inputs: the token, and its signature check taken apart
/// for the baselines.
struct Case {
    /// `id_token_rs256` etc.
    group: &'static str,
    grantflow_alg: Algorithm,
    openidconnect_alg: CoreJwsSigningAlgorithm,
    /// The compact JWS both libraries validate.
    token: String,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`.
    signing_input: Vec<u8>,
    /// The decoded signature.
    signature: Vec<u8>,
    /// The public key as the baselines take it.
    key: RawKey,
}

enum RawKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed P-256 point (`0x04 || x || y`).
    EcP256(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// Everything the benchmark measures on: the three signed tokens and the
/// JWK set document publishing their keys.
struct Fixture {
    cases: Vec<Case>,
    jwks: Vec<u8>,
}

/// The claims of every token: the OIDC Core §A.2 example's shape (with
/// `azp`, `auth_time` and the usual profile claims), valid at `NOW_SECS`.
fn claims() -> serde_json::Value {
    json!({
        "iss": ISSUER,
        "sub": "248289761001",
        "aud": CLIENT_ID,
        "azp": CLIENT_ID,
        "exp": NOW_SECS + 3590,
        "iat": NOW_SECS - 10,
        "auth_time": NOW_SECS - 20,
        "nonce": NONCE,
        "name": "Jane Doe",
        "email": "janedoe@example.com",
        "email_verified": true,
    })
}

fn b64(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).unwrap()
}

fn fixture() -> Fixture {
    let rsa = TestKey::rsa().with_kid("rsa-1");
    let ec = TestKey::ec_p256().with_kid("ec-1");
    let ed = TestKey::ed25519().with_kid("ed-1");
    let jwks = jwks(&[&rsa, &ec, &ed]);

    let case = |group, key: &TestKey, grantflow_alg, openidconnect_alg| {
        let token = key.sign_claims(claims());
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let jwk = key.public_jwk();
        let member = |name: &str| b64(jwk[name].as_str().unwrap());
        let key = match key.alg() {
            "RS256" => RawKey::Rsa {
                n: member("n"),
                e: member("e"),
            },
            "ES256" => RawKey::EcP256([vec![0x04], member("x"), member("y")].concat()),
            "EdDSA" => RawKey::Ed25519(member("x")),
            other => unreachable!("no {other} case"),
        };
        Case {
            group,
            grantflow_alg,
            openidconnect_alg,
            signing_input: signing_input.as_bytes().to_vec(),
            signature: b64(signature),
            token,
            key,
        }
    };
    Fixture {
        cases: vec![
            case(
                "id_token_rs256",
                &rsa,
                Algorithm::Rs256,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            ),
            case(
                "id_token_es256",
                &ec,
                Algorithm::Es256,
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            ),
            case(
                "id_token_eddsa",
                &ed,
                Algorithm::EdDsa,
                CoreJwsSigningAlgorithm::EdDsa,
            ),
        ],
        jwks,
    }
}

fn now() -> UnixTime {
    UnixTime::from_secs(NOW_SECS)
}

fn grantflow_validator(alg: Algorithm) -> IdTokenValidator {
    IdTokenValidator::new(
        Issuer::new(ISSUER).unwrap(),
        ClientId::new(CLIENT_ID),
        IdTokenPolicy::default().with_algorithms([alg]),
    )
}

fn grantflow_validate(
    validator: &IdTokenValidator,
    token: &str,
    keys: &JwkSet,
    now: UnixTime,
) -> Result<grantflow::IdToken, grantflow::Error> {
    validator.validate(
        &RawIdToken::new(token),
        keys,
        Expected::none().nonce(NONCE),
        now,
    )
}

/// A public client's verifier (no secret, so no HMAC), allowing exactly
/// `alg`, with the clock fixed at `NOW_SECS`.
fn openidconnect_verifier(
    alg: CoreJwsSigningAlgorithm,
    keys: CoreJsonWebKeySet,
) -> CoreIdTokenVerifier<'static> {
    let now = chrono::DateTime::from_timestamp(i64::try_from(NOW_SECS).unwrap(), 0).unwrap();
    CoreIdTokenVerifier::new_public_client(
        openidconnect::ClientId::new(CLIENT_ID.to_owned()),
        openidconnect::IssuerUrl::new(ISSUER.to_owned()).unwrap(),
        keys,
    )
    .set_allowed_algs([alg])
    .set_time_fn(move || now)
}

/// What openidconnect-rs's `claims` returns, made owned so the parsed token
/// can be dropped inside the call. `Err` carries the error's text.
fn openidconnect_validate(
    verifier: &CoreIdTokenVerifier<'_>,
    token: &str,
    nonce: &openidconnect::Nonce,
) -> Result<openidconnect::core::CoreIdTokenClaims, String> {
    let id_token: CoreIdToken = token.parse().map_err(|e| format!("parse: {e}"))?;
    id_token
        .claims(verifier, nonce)
        .cloned()
        .map_err(|e| e.to_string())
}

fn ring_verify(case: &Case) -> Result<(), ring::error::Unspecified> {
    use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
    let (message, sig) = (&case.signing_input, &case.signature);
    match &case.key {
        RawKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }.verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            message,
            sig,
        ),
        RawKey::EcP256(point) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, sig)
        }
        RawKey::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig),
    }
}

/// The RustCrypto check openidconnect-rs 4 runs for each algorithm
/// (`core::crypto::verify_*_signature`), the key built from the JWK's
/// members on every call as it does: `rsa` 0.9 (SHA-256, then PKCS#1 v1.5),
/// `p256` 0.14, `ed25519-dalek` 3.
fn rustcrypto_verify(case: &Case) -> Result<(), String> {
    // The `signature` crate's trait, shared by p256 and ed25519-dalek.
    use ed25519_dalek::Verifier as _;
    use rsa::signature::digest::Digest as _;
    let (message, sig) = (&case.signing_input, &case.signature);
    match &case.key {
        RawKey::Rsa { n, e } => {
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(n),
                rsa::BigUint::from_bytes_be(e),
            )
            .map_err(|e| e.to_string())?;
            let hashed = sha2::Sha256::digest(message);
            key.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed, sig)
                .map_err(|e| e.to_string())
        }
        RawKey::EcP256(point) => {
            let key =
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|e| e.to_string())?;
            let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|e| e.to_string())?;
            key.verify(message, &sig).map_err(|e| e.to_string())
        }
        RawKey::Ed25519(x) => {
            let key =
                ed25519_dalek::VerifyingKey::try_from(x.as_slice()).map_err(|e| e.to_string())?;
            let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|e| e.to_string())?;
            key.verify(message, &sig).map_err(|e| e.to_string())
        }
    }
}

/// Checks once, outside any timing, that every pair does the same
/// successful work and that both libraries really check the signature.
fn check_equivalence(fixture: &Fixture) {
    let keys = JwkSet::from_json(&fixture.jwks).unwrap();
    assert_eq!(keys.keys().len(), 3, "grantflow kept every key");
    let oidc_keys: CoreJsonWebKeySet = serde_json::from_slice(&fixture.jwks).unwrap();
    assert_eq!(oidc_keys.keys().len(), 3, "openidconnect-rs kept every key");
    let nonce = openidconnect::Nonce::new(NONCE.to_owned());

    for case in &fixture.cases {
        let validator = grantflow_validator(case.grantflow_alg);
        let verifier = openidconnect_verifier(case.openidconnect_alg.clone(), oidc_keys.clone());

        let ours = grantflow_validate(&validator, &case.token, &keys, now())
            .unwrap_or_else(|e| panic!("{}: grantflow: {e}", case.group));
        let theirs = openidconnect_validate(&verifier, &case.token, &nonce)
            .unwrap_or_else(|e| panic!("{}: openidconnect: {e}", case.group));
        assert_eq!(ours.algorithm(), case.grantflow_alg);
        assert_eq!(ours.claims().iss, theirs.issuer().as_str());
        assert_eq!(ours.subject(), theirs.subject().as_str());
        assert_eq!(
            ours.claims().aud,
            theirs
                .audiences()
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            ours.claims().exp.as_secs(),
            u64::try_from(theirs.expiration().timestamp()).unwrap()
        );
        assert_eq!(
            ours.claims().nonce.as_deref(),
            theirs.nonce().map(|n| n.secret().as_str())
        );
        ring_verify(case).unwrap_or_else(|_| panic!("{}: ring", case.group));
        rustcrypto_verify(case).unwrap_or_else(|e| panic!("{}: rustcrypto: {e}", case.group));

        // One flipped signature bit: both must refuse, at the signature.
        let forged = tamper(&case.token);
        let ours = grantflow_validate(&validator, &forged, &keys, now()).unwrap_err();
        assert!(
            matches!(
                ours,
                grantflow::Error::Jws(grantflow::JwsError::BadSignature)
            ),
            "{}: grantflow: {ours}",
            case.group
        );
        let theirs = openidconnect_validate(&verifier, &forged, &nonce).unwrap_err();
        assert!(
            theirs.starts_with("Signature verification failed"),
            "{}: openidconnect: {theirs}",
            case.group
        );
        // Past `exp` (plus grantflow's 60 s leeway): both must refuse, so
        // both really read the clock they were given.
        let late = UnixTime::from_secs(NOW_SECS + 3700);
        assert!(grantflow_validate(&validator, &case.token, &keys, late).is_err());
        let late =
            chrono::DateTime::from_timestamp(i64::try_from(late.as_secs()).unwrap(), 0).unwrap();
        let late_verifier =
            openidconnect_verifier(case.openidconnect_alg.clone(), oidc_keys.clone())
                .set_time_fn(move || late);
        let theirs = openidconnect_validate(&late_verifier, &case.token, &nonce).unwrap_err();
        assert!(
            theirs.starts_with("Expired"),
            "{}: openidconnect: {theirs}",
            case.group
        );
    }
}

fn validate(c: &mut Criterion, fixture: &Fixture) {
    // The key sets, parsed once: a client caches them between logins.
    let keys = JwkSet::from_json(&fixture.jwks).unwrap();
    let oidc_keys: CoreJsonWebKeySet = serde_json::from_slice(&fixture.jwks).unwrap();
    let nonce = openidconnect::Nonce::new(NONCE.to_owned());

    for case in &fixture.cases {
        let mut group = c.benchmark_group(case.group);
        let validator = grantflow_validator(case.grantflow_alg);
        group.bench_function("grantflow", |b| {
            b.iter(|| {
                grantflow_validate(
                    black_box(&validator),
                    black_box(&case.token),
                    black_box(&keys),
                    black_box(now()),
                )
                .unwrap()
            })
        });
        let verifier = openidconnect_verifier(case.openidconnect_alg.clone(), oidc_keys.clone());
        group.bench_function("openidconnect", |b| {
            b.iter(|| {
                openidconnect_validate(
                    black_box(&verifier),
                    black_box(&case.token),
                    black_box(&nonce),
                )
                .unwrap()
            })
        });
        group.bench_function("jws_parse", |b| {
            b.iter(|| grantflow::CompactJws::parse(black_box(&case.token)).unwrap())
        });
        group.bench_function("ring", |b| b.iter(|| ring_verify(black_box(case)).unwrap()));
        group.bench_function("rustcrypto", |b| {
            b.iter(|| rustcrypto_verify(black_box(case)).unwrap())
        });
        group.finish();
    }
}

fn jwks_parse(c: &mut Criterion, fixture: &Fixture) {
    let mut group = c.benchmark_group("jwks_parse");
    group.bench_function("grantflow", |b| {
        b.iter(|| JwkSet::from_json(black_box(&fixture.jwks)).unwrap())
    });
    group.bench_function("openidconnect", |b| {
        b.iter(|| serde_json::from_slice::<CoreJsonWebKeySet>(black_box(&fixture.jwks)).unwrap())
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn main() {
    // One fixture for the check and the measurements: the P-256 and Ed25519
    // keys are fresh on every `fixture()`, so the timed tokens must be the
    // checked ones. (What `criterion_group!` would expand to, with the
    // fixture passed along.)
    let fixture = fixture();
    check_equivalence(&fixture);
    let mut criterion = config().configure_from_args();
    validate(&mut criterion, &fixture);
    jwks_parse(&mut criterion, &fixture);
    criterion.final_summary();
}
