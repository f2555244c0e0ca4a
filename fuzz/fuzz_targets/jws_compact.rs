//! `CompactJws::parse` on arbitrary tokens, then every verification path
//! with every algorithm.
//!
//! Input: the token, as bytes (invalid UTF-8 is replaced, as a caller
//! holding bytes would have to).
//!
//! Oracles, beyond "no panic":
//!
//! - `parse` accepts exactly what its documentation says (RFC 7515 §5.2,
//!   §7.1): at most `MAX_LEN` bytes, exactly two dots, three strict
//!   unpadded base64url segments, a header that is a JSON object without a
//!   repeated name, a string `alg` that is not `none` in any case, no
//!   `crit`, `b64` absent or `true`, `kid` and `typ` absent or strings, and
//!   a non-empty signature. Both directions are checked: what it accepts
//!   meets every rule (re-read here with `serde_json`), and what meets every
//!   rule is accepted; a long token is `TooLong` (an accepted one is also
//!   grown past the cap to check this), four dots `Encrypted`.
//! - The parsed header and payload are the token's.
//! - Verification never succeeds except for the three genuine tokens of the
//!   seed corpus (RFC 7515 A.3, RFC 8037 A.4, and an HS256 token under
//!   `HMAC_SECRET`), with their own algorithm and unchanged signing input:
//!   any other success is a forgery. `verify_with_keys` never accepts HMAC,
//!   `verify_hmac` never a public-key algorithm, neither an algorithm other
//!   than the header's, and HS384/HS512 refuse the 32-octet secret.
//! - Errors print short and clean.

#![no_main]

use std::sync::LazyLock;

use grantflow::{Algorithm, CompactJws, JwkSet, JwsError};
use grantflow_fuzz::jose::{Header, header_rules, strict_b64url};
use grantflow_fuzz::{HMAC_SECRET, check_printable};
use libfuzzer_sys::fuzz_target;

/// RFC 7517 Appendix A.1 (both public keys, as published: the EC key is an
/// encryption key, so it must never verify), plus the public keys of the
/// two genuine asymmetric tokens: RFC 7515 A.3 (ES256) and RFC 8037 A.2
/// (Ed25519), and a P-384 key of no genuine token (generated for this
/// target, private half discarded), so that ES384 verification runs and
/// must fail.
const JWKS: &str = r#"{"keys":[
  {"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"1"},
  {"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"},
  {"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"a3"},
  {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
  {"kty":"EC","crv":"P-384","x":"zAIxi6w1HiUj72gVf3-T0bk7muodadgCZQtg9t6ps6HYRMQv02PQfb7Gbo0khhFB","y":"TEZsKseFLdxWiNvUKQZuKsc_UFFirvm7PbTNHraQIHs-ZZ4h9rMFmJC5x_AGOxfd","kid":"p384"}
]}"#;

static KEYS: LazyLock<JwkSet> = LazyLock::new(|| {
    let keys = JwkSet::from_json(JWKS.as_bytes()).expect("the fixed key set parses");
    assert_eq!(keys.keys().len(), 5, "every fixed key is kept");
    keys
});

/// The signing inputs (header and payload segments) that genuinely verify,
/// and with which algorithm.
const GENUINE: [(&str, Algorithm); 3] = [
    // RFC 7515 A.3.
    (
        "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
        Algorithm::Es256,
    ),
    // RFC 8037 A.4.
    (
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
        Algorithm::EdDsa,
    ),
    // `{"alg":"HS256","typ":"JWT"}` over ID token claims, keyed with
    // `HMAC_SECRET` (the seed `hs256_genuine`).
    (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL29wLmV4YW1wbGUuY29tIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJ3ZWItYXBwIiwiZXhwIjoxNzAwMDAwNjAwLCJpYXQiOjE3MDAwMDAwMDAsIm5vbmNlIjoibiJ9",
        Algorithm::Hs256,
    ),
];

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let dots = token.bytes().filter(|&b| b == b'.').count();
    let result = CompactJws::parse(&token);

    // The documented rules, checked independently.
    let expected = if token.len() > CompactJws::MAX_LEN {
        Err("too long")
    } else if dots != 2 {
        Err("not three segments")
    } else {
        let mut segments = token.split('.');
        let (h, p, s) = (
            segments.next().unwrap_or_default(),
            segments.next().unwrap_or_default(),
            segments.next().unwrap_or_default(),
        );
        match (strict_b64url(h), strict_b64url(p), strict_b64url(s)) {
            (Some(header), Some(payload), Some(signature)) => header_rules(&header).and_then(|h| {
                if signature.is_empty() {
                    Err("empty signature")
                } else {
                    Ok((h, payload))
                }
            }),
            (None, _, _) => Err("header not base64url"),
            (Some(header), _, _) => match header_rules(&header) {
                Err(e) => Err(e),
                Ok(_) => Err("payload or signature not base64url"),
            },
        }
    };

    let jws = match (result, expected) {
        (Err(error), Err(_)) => {
            check_printable(&error);
            if token.len() > CompactJws::MAX_LEN {
                assert_eq!(error, JwsError::TooLong { len: token.len() });
            } else if dots == 4 {
                assert_eq!(error, JwsError::Encrypted);
            }
            return;
        }
        (Err(error), Ok(_)) => panic!("refused a token that meets every rule: {error:?}"),
        (Ok(jws), Err(why)) => panic!("accepted a token that breaks a rule ({why}): {jws:?}"),
        (Ok(jws), Ok((Header { alg, kid, typ }, payload))) => {
            assert!(token.len() <= CompactJws::MAX_LEN);
            assert_eq!(jws.header().alg, alg);
            assert_eq!(jws.header().kid, kid);
            assert_eq!(jws.header().typ, typ);
            assert_eq!(jws.payload(), payload.as_slice());
            jws
        }
    };

    // The same token grown past the cap (on the signature, where it stays
    // base64url) is refused by length, whatever else it is: the fuzzer's
    // inputs are too short to get there.
    let long = format!(
        "{token}{}",
        "A".repeat(CompactJws::MAX_LEN + 1 - token.len())
    );
    assert_eq!(
        CompactJws::parse(&long).map(|_| ()),
        Err(JwsError::TooLong {
            len: CompactJws::MAX_LEN + 1
        })
    );

    let header_alg = jws.algorithm();
    match &header_alg {
        Ok(alg) => assert_eq!(alg.name(), jws.header().alg),
        Err(error) => {
            assert!(Algorithm::from_name(&jws.header().alg).is_none());
            check_printable(error);
        }
    }
    let signing_input = token.rsplit_once('.').map(|(input, _)| input);
    let genuine = |alg: Algorithm| {
        GENUINE
            .iter()
            .any(|&(input, genuine_alg)| signing_input == Some(input) && alg == genuine_alg)
    };

    let kid = jws.header().kid.clone();
    for alg in Algorithm::ALL {
        let candidates: Vec<_> = KEYS.candidates(kid.as_deref(), alg).collect();
        assert!(candidates.iter().all(|key| key.supports(alg)));
        for result in [
            jws.verify_with_keys(alg, KEYS.keys()),
            jws.verify_with_keys(alg, candidates),
        ] {
            match result {
                Ok(key) => {
                    assert!(
                        genuine(alg) && header_alg == Ok(alg),
                        "{alg} signature verified on a token the fuzzer made: {token:?}"
                    );
                    assert!(key.supports(alg), "verified with a key that does not fit");
                }
                Err(error) => {
                    check_printable(&error);
                    let hmac = alg.is_symmetric()
                        || header_alg.as_ref().is_ok_and(|alg| alg.is_symmetric());
                    match header_alg {
                        Ok(_) if hmac => assert_eq!(error, JwsError::HmacNotAllowed),
                        Ok(header_alg) if header_alg != alg => {
                            assert_eq!(error, JwsError::AlgorithmNotAllowed { alg: header_alg });
                        }
                        _ => {}
                    }
                }
            }
        }
        match jws.verify_hmac(alg, HMAC_SECRET.as_bytes()) {
            Ok(()) => assert!(
                alg == Algorithm::Hs256 && genuine(alg) && header_alg == Ok(alg),
                "{alg} hmac verified on a token the fuzzer made: {token:?}"
            ),
            Err(error) => {
                check_printable(&error);
                if let Ok(header_alg) = header_alg {
                    if !alg.is_symmetric() {
                        assert_eq!(error, JwsError::AlgorithmNotAllowed { alg });
                    } else if header_alg != alg {
                        assert_eq!(error, JwsError::AlgorithmNotAllowed { alg: header_alg });
                    } else if alg != Algorithm::Hs256 {
                        assert_eq!(error, JwsError::HmacKeyTooShort { len: 32 });
                    }
                }
            }
        }
    }
    // A secret one octet short never verifies, whatever the token.
    let short = &HMAC_SECRET.as_bytes()[..31];
    assert!(jws.verify_hmac(Algorithm::Hs256, short).is_err());
});
