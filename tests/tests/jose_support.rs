//! The test-support signer (`grantflow_tests::jose`) against grantflow's own
//! verifier: a token minted with a [`TestKey`] verifies with the JWK set
//! [`jwks`] publishes, for every algorithm family, and the helpers that
//! break tokens break them the way conformance tests expect.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantflow::{Algorithm, CompactJws, JwkSet, JwsError, KeyType};
use grantflow_tests::jose::{TestKey, jwks, tamper, unsigned};
use serde_json::{Value, json};

fn claims() -> Value {
    json!({"iss": "https://op.example", "sub": "alice", "aud": "client", "exp": 2_000_000_000})
}

/// Verifies `token` with the published `keys`, as a client would.
fn verify(token: &str, keys: &[&TestKey]) -> Result<Option<String>, JwsError> {
    let set = JwkSet::from_json(&jwks(keys))?;
    let jws = CompactJws::parse(token)?;
    let alg = jws.algorithm()?;
    let kid = jws.header().kid.clone();
    let key = jws.verify_with_keys(alg, set.candidates(kid.as_deref(), alg))?;
    assert_eq!(
        serde_json::from_slice::<Value>(jws.payload()).unwrap(),
        claims()
    );
    Ok(key.kid().map(str::to_owned))
}

#[test]
fn every_public_key_family_round_trips() {
    let keys = [
        (TestKey::rsa(), "RS256", KeyType::Rsa),
        (TestKey::rsa().with_alg("RS384"), "RS384", KeyType::Rsa),
        (TestKey::rsa_2().with_alg("RS512"), "RS512", KeyType::Rsa),
        (TestKey::rsa().with_alg("PS256"), "PS256", KeyType::Rsa),
        (TestKey::rsa_2().with_alg("PS384"), "PS384", KeyType::Rsa),
        (TestKey::rsa().with_alg("PS512"), "PS512", KeyType::Rsa),
        (TestKey::ec_p256(), "ES256", KeyType::EcP256),
        (TestKey::ec_p384(), "ES384", KeyType::EcP384),
        (TestKey::ed25519(), "EdDSA", KeyType::Ed25519),
    ];
    for (key, alg, key_type) in keys {
        let key = key.with_kid(&format!("{alg}-key"));
        assert_eq!(key.alg(), alg);
        let token = key.sign_claims(claims());

        let jws = CompactJws::parse(&token).unwrap();
        assert_eq!(jws.header().alg, alg);
        assert_eq!(jws.header().kid.as_deref(), Some(&*format!("{alg}-key")));
        assert_eq!(
            verify(&token, &[&key]).unwrap().as_deref(),
            Some(&*format!("{alg}-key"))
        );

        // The published JWK is public, typed, and for signatures with `alg`.
        let jwk = key.public_jwk();
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(jwk.get(private).is_none(), "{alg}: {private} published");
        }
        assert_eq!(jwk["alg"], alg);
        assert_eq!(jwk["use"], "sig");
        let set = JwkSet::from_json(&jwks(&[&key])).unwrap();
        assert_eq!((set.keys().len(), set.skipped()), (1, 0));
        assert_eq!(set.keys()[0].key_type(), key_type);

        // One flipped bit, and nothing verifies.
        assert_eq!(
            verify(&tamper(&token), &[&key]),
            Err(JwsError::BadSignature),
            "{alg}"
        );
    }
}

#[test]
fn hmac_round_trips_with_the_shared_secret() {
    for (alg, len) in [("HS256", 32), ("HS384", 48), ("HS512", 64)] {
        let secret = vec![0x5a; len];
        let key = TestKey::hmac(&secret).with_alg(alg);
        let token = key.sign_claims(claims());
        let jws = CompactJws::parse(&token).unwrap();
        let alg = jws.algorithm().unwrap();
        assert_eq!(jws.verify_hmac(alg, &secret), Ok(()));
        assert_eq!(
            jws.verify_hmac(alg, &vec![0x5b; len]),
            Err(JwsError::BadSignature)
        );
        let tampered = CompactJws::parse(&tamper(&token)).unwrap();
        assert_eq!(
            tampered.verify_hmac(alg, &secret),
            Err(JwsError::BadSignature)
        );
    }
    // A short secret signs, and grantflow refuses to verify with it.
    let token = TestKey::hmac(b"too short").sign_claims(claims());
    let jws = CompactJws::parse(&token).unwrap();
    assert_eq!(
        jws.verify_hmac(Algorithm::Hs256, b"too short"),
        Err(JwsError::HmacKeyTooShort { len: 9 })
    );
    // An HMAC key published in a JWK set is never used.
    let key = TestKey::hmac(&[1; 32]);
    let set = JwkSet::from_json(&jwks(&[&key])).unwrap();
    assert_eq!((set.keys().len(), set.skipped()), (0, 1));
    assert_eq!(
        verify(&key.sign_claims(claims()), &[&TestKey::rsa()]),
        Err(JwsError::HmacNotAllowed)
    );
}

#[test]
fn rotation_and_kid_selection() {
    let old = TestKey::rsa().with_kid("old");
    let new = TestKey::rsa_2().with_kid("new");
    assert_ne!(old.public_jwk()["n"], new.public_jwk()["n"]);

    let token = new.sign_claims(claims());
    assert_eq!(
        verify(&token, &[&old, &new]).unwrap().as_deref(),
        Some("new")
    );
    // Before the provider published the new key: the client must refetch.
    assert_eq!(
        verify(&token, &[&old]),
        Err(JwsError::NoMatchingKey {
            kid: Some("new".into())
        })
    );
    // The new key under the old kid: tried, and it fails.
    let liar = TestKey::rsa_2().with_kid("old");
    assert_eq!(
        verify(&liar.sign_claims(claims()), &[&old]),
        Err(JwsError::BadSignature)
    );
    // No kid in the token: every key of the family is a candidate.
    let anonymous = TestKey::rsa_2();
    assert_eq!(
        verify(&anonymous.sign_claims(claims()), &[&old, &new])
            .unwrap()
            .as_deref(),
        Some("new")
    );
}

#[test]
fn headers_can_be_shaped_and_tokens_broken() {
    let key = TestKey::ec_p256().with_kid("k");
    // Header members are kept; alg and kid are only filled in when absent.
    let token = key.sign(json!({"typ": "JWT", "kid": "other"}), claims());
    let jws = CompactJws::parse(&token).unwrap();
    assert_eq!(jws.header().typ.as_deref(), Some("JWT"));
    assert_eq!(jws.header().kid.as_deref(), Some("other"));
    assert_eq!(jws.header().alg, "ES256");
    // A header that lies about alg.
    let token = key.sign(json!({"alg": "ES384"}), claims());
    assert_eq!(
        verify(&token, &[&key]),
        Err(JwsError::NoMatchingKey {
            kid: Some("k".into())
        })
    );
    // Raw headers, for what a Value cannot hold.
    let token = key.sign_raw(br#"{"alg":"ES256","alg":"none"}"#, b"{}");
    assert_eq!(
        CompactJws::parse(&token).unwrap_err(),
        JwsError::DuplicateHeader { name: "alg".into() }
    );
    // Unsigned.
    let token = unsigned(claims());
    assert!(token.ends_with('.'));
    assert_eq!(CompactJws::parse(&token).unwrap_err(), JwsError::Unsigned);
}
