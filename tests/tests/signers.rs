//! The core's generator-free signers against keys that ring generates with
//! the OS generator (which the core itself must never call): a PKCS#8 v2
//! Ed25519 document and a PKCS#8 P-256 document load, and what they sign
//! verifies with ring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::{Ed25519Signer, Es256Signer, JwsSigner};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair as _, UnparsedPublicKey,
};

#[test]
fn ed25519_from_pkcs8_v2_generated_by_ring() {
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let expected = Ed25519KeyPair::from_pkcs8(der.as_ref()).unwrap();
    let signer = Ed25519Signer::from_pkcs8_der(der.as_ref()).unwrap();
    assert_eq!(signer.public_key(), expected.public_key().as_ref());
    let signature = signer.sign(b"input").unwrap();
    UnparsedPublicKey::new(&ED25519, expected.public_key().as_ref())
        .verify(b"input", &signature)
        .unwrap();
}

#[test]
fn es256_from_pkcs8_generated_by_ring_verifies_with_ring() {
    let rng = SystemRandom::new();
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ring_pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref(), &rng).unwrap();
    let signer = Es256Signer::from_pkcs8_der(der.as_ref()).unwrap();
    let jwk = signer.public_jwk().unwrap();
    let mut point = vec![0x04];
    point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    assert_eq!(point, ring_pair.public_key().as_ref());
    let signature = signer.sign(b"input").unwrap();
    assert_eq!(signature.len(), 64);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ring_pair.public_key().as_ref())
        .verify(b"input", &signature)
        .unwrap();
}
