//! `IdTokenValidator::validate` on ID tokens whose header and claims are
//! built structurally and signed by the harness, so that every claim check
//! (OIDC Core §3.1.3.7) and header rule (RFC 7515 §4.1, RFC 8725) is reached
//! with well-formed, validly signed tokens instead of hoping raw bytes form
//! JSON.
//!
//! Input (drawn with `arbitrary`): the validator's setup (leeway, `max_age`,
//! `at_hash`/`c_hash` expectations, a trusted audience, `acr`: required with
//! `acr_values` sent, required with none or only spaces sent, or off), the
//! instant, and a list of edits to a header (`alg` `HS256`, `typ` `JWT`) and
//! to a claim set that is valid for the setup (`iss`, `sub`, `aud`, `exp`,
//! `iat`, `nonce`, and `auth_time`, `at_hash`, `c_hash`, `acr` when the
//! setup checks them). Each edit sets, removes or repeats a member —
//! `alg`, `kid`, `typ`, `crit`, `b64`, `cty`, `jku` or any name in the
//! header; any registered claim or other name in the claims — to its usual
//! value, one of its near misses (times one second either side of each
//! limit under the leeway, as floats, strings, negative or beyond 2^64;
//! `aud` as arrays with or without the client, with a trusted or an
//! unknown audience, or a number; `alg` `none`, another case, another
//! algorithm; `typ` in every spelling of JWT and other types; `crit`,
//! `b64: false`; wrong hashes, nonces, issuers with a trailing slash) or
//! any JSON value. Header and claims are written plainly or with every
//! character `\u`-escaped, and signed HS256 under the client secret, or
//! forged (another key, HS384, a cut signature).
//!
//! Oracle: `grantflow_fuzz::id_token::judge`, every rule re-derived from
//! the produced header and claims bytes with `serde_json` (the rules the
//! `id_token_claims` target states), plus: a forged token never validates
//! and is refused for its signature or header, never for a claim.

#![no_main]

use arbitrary::Arbitrary;
use grantflow_fuzz::id_token::{
    ACCESS_TOKEN, ACR_VALUES, Acr, CLIENT_ID, CODE, ISSUER, LEEWAYS, MAX_AGE, NONCE, Setup,
    TRUSTED, half_hash, judge,
};
use grantflow_fuzz::structured::{Instant, Json, Spelling, write_object};
use grantflow_fuzz::{HMAC_SECRET, b64, hs256_token};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum HeaderName {
    Alg,
    Kid,
    Typ,
    Crit,
    B64,
    Cty,
    Jku,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum ClaimName {
    Iss,
    Sub,
    Aud,
    Exp,
    Iat,
    Nbf,
    AuthTime,
    Nonce,
    Acr,
    Amr,
    Azp,
    AtHash,
    CHash,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Usual,
    NearMiss(u8),
    Any(Json),
}

#[derive(Arbitrary, Debug)]
enum Edit<N> {
    /// Replace the member's value (or add the member).
    Set(N, Val),
    /// Take the member out.
    Remove(N),
    /// Add the member again, after the others.
    Repeat(N, Val),
}

#[derive(Arbitrary, Debug)]
enum Signing {
    Genuine,
    OtherKey,
    Hs384,
    Cut,
}

#[derive(Arbitrary, Debug)]
struct Input {
    leeway: u8,
    max_age: bool,
    access_token: bool,
    code: bool,
    trusted: bool,
    acr: u8,
    now: Instant,
    header_edits: Vec<Edit<HeaderName>>,
    claim_edits: Vec<Edit<ClaimName>>,
    header_spelling: Spelling,
    claims_spelling: Spelling,
    signing: Signing,
}

fn s(text: &str) -> Json {
    Json::Str(text.to_owned())
}

fn header_name(name: &HeaderName) -> &str {
    match name {
        HeaderName::Alg => "alg",
        HeaderName::Kid => "kid",
        HeaderName::Typ => "typ",
        HeaderName::Crit => "crit",
        HeaderName::B64 => "b64",
        HeaderName::Cty => "cty",
        HeaderName::Jku => "jku",
        HeaderName::Other(other) => other,
    }
}

fn claim_name(name: &ClaimName) -> &str {
    match name {
        ClaimName::Iss => "iss",
        ClaimName::Sub => "sub",
        ClaimName::Aud => "aud",
        ClaimName::Exp => "exp",
        ClaimName::Iat => "iat",
        ClaimName::Nbf => "nbf",
        ClaimName::AuthTime => "auth_time",
        ClaimName::Nonce => "nonce",
        ClaimName::Acr => "acr",
        ClaimName::Amr => "amr",
        ClaimName::Azp => "azp",
        ClaimName::AtHash => "at_hash",
        ClaimName::CHash => "c_hash",
        ClaimName::Other(other) => other,
    }
}

fn pick(choices: Vec<Json>, val: Val) -> Json {
    match val {
        Val::Usual => choices[0].clone(),
        Val::NearMiss(i) => choices[usize::from(i) % choices.len()].clone(),
        Val::Any(json) => json,
    }
}

fn header_value(name: &HeaderName, val: Val) -> Json {
    let choices = match name {
        HeaderName::Alg => vec![
            s("HS256"),
            s("none"),
            s("None"),
            s("hs256"),
            s("HS384"),
            s("RS256"),
            s("EdDSA"),
            s(""),
            Json::Null,
            Json::UInt(256),
        ],
        HeaderName::Kid => vec![s("k1"), s(""), Json::UInt(1), Json::Null],
        HeaderName::Typ => vec![
            s("JWT"),
            s("jwt"),
            s("application/jwt"),
            s("APPLICATION/JWT"),
            s("application/JWT; x=y"),
            s("at+jwt"),
            s("dpop+jwt"),
            s("logout+jwt"),
            s("JOSE"),
            s(""),
            s("JWT\u{1b}[31m"),
            Json::UInt(1),
            Json::Null,
        ],
        HeaderName::Crit => vec![
            Json::Arr(vec![s("exp")]),
            Json::Arr(Vec::new()),
            Json::Arr(vec![s("b64")]),
            s("b64"),
            Json::Null,
        ],
        HeaderName::B64 => vec![Json::Bool(true), Json::Bool(false), s("true"), Json::Null],
        HeaderName::Cty => vec![s("JWT"), s("json")],
        HeaderName::Jku => vec![s("https://attacker.example/jwks"), Json::Null],
        HeaderName::Other(_) => vec![s("x"), Json::Null, Json::Obj(Vec::new())],
    };
    pick(choices, val)
}

/// A NumericDate `offset` seconds from `base`, saturating at the ends.
fn at(base: u64, offset: i128) -> Json {
    let secs = (i128::from(base) + offset).clamp(0, i128::from(u64::MAX));
    Json::UInt(u64::try_from(secs).unwrap_or(u64::MAX))
}

fn claim_value(name: &ClaimName, val: Val, setup: &Setup) -> Json {
    let now = setup.now;
    let leeway = i128::from(setup.leeway);
    // The same instant in the shapes a NumericDate must not (or may) take.
    let shapes = |secs: u64| {
        vec![
            Json::Str(secs.to_string()),
            Json::Float(secs as f64 + 0.5),
            Json::Int(-1),
            Json::Exponent(0, 20),
            Json::Exponent(2, 19),
            Json::Exponent(0, 400),
            Json::UInt(u64::MAX),
            Json::Null,
            Json::Bool(true),
        ]
    };
    let choices = match name {
        ClaimName::Iss => vec![
            s(ISSUER),
            s(&format!("{ISSUER}/")),
            s("http://op.example.com"),
            s("HTTPS://op.example.com"),
            Json::Arr(vec![s(ISSUER)]),
            s(""),
        ],
        ClaimName::Sub => vec![s("alice"), s(""), Json::UInt(1), s(" ")],
        ClaimName::Aud => vec![
            s(CLIENT_ID),
            Json::Arr(vec![s(CLIENT_ID)]),
            Json::Arr(vec![s(CLIENT_ID), s(TRUSTED)]),
            Json::Arr(vec![s(TRUSTED)]),
            Json::Arr(Vec::new()),
            Json::Arr(vec![s(CLIENT_ID), Json::UInt(1)]),
            Json::Arr(vec![s(CLIENT_ID), s("https://other.example.com")]),
            s(TRUSTED),
            Json::UInt(1),
        ],
        ClaimName::Exp => {
            let limit = i128::from(now) - leeway;
            let mut v = vec![at(now, 600), at(0, limit), at(0, limit + 1), at(now, 0)];
            v.extend(shapes(now.saturating_add(600)));
            v
        }
        ClaimName::Iat | ClaimName::Nbf => {
            let limit = i128::from(now) + leeway;
            let mut v = vec![at(now, 0), at(0, limit), at(0, limit + 1), at(now, -3600)];
            v.extend(shapes(now));
            v
        }
        ClaimName::AuthTime => {
            let oldest = i128::from(now) - i128::from(MAX_AGE) - leeway;
            let mut v = vec![at(now, 0), at(0, oldest), at(0, oldest - 1)];
            v.extend(shapes(now));
            v
        }
        ClaimName::Nonce => vec![s(NONCE), s("N"), s("n "), s(""), Json::Null, Json::UInt(1)],
        ClaimName::Acr => vec![
            s("loa-2"),
            s("urn:mace:incommon:iap:silver"),
            s("silver"),
            s(""),
            s(ACR_VALUES),
            Json::UInt(2),
        ],
        ClaimName::Amr => vec![
            Json::Arr(vec![s("pwd")]),
            Json::Arr(Vec::new()),
            Json::Arr(vec![Json::UInt(1)]),
            s("pwd"),
        ],
        ClaimName::Azp => vec![
            s(CLIENT_ID),
            s("other"),
            s(""),
            Json::Arr(vec![s(CLIENT_ID)]),
        ],
        ClaimName::AtHash => vec![
            s(&half_hash(ACCESS_TOKEN)),
            s(&half_hash(CODE)),
            s(""),
            s(&b64(ring::digest::digest(
                &ring::digest::SHA256,
                ACCESS_TOKEN.as_bytes(),
            )
            .as_ref())),
        ],
        ClaimName::CHash => vec![
            s(&half_hash(CODE)),
            s(&half_hash(ACCESS_TOKEN)),
            s(""),
            Json::Null,
        ],
        ClaimName::Other(_) => vec![s("x"), Json::Null, Json::Arr(Vec::new())],
    };
    pick(choices, val)
}

fn apply<N>(
    members: &mut Vec<(String, Json)>,
    edits: Vec<Edit<N>>,
    name_of: impl Fn(&N) -> &str,
    value_of: impl Fn(&N, Val) -> Json,
) {
    for edit in edits {
        match edit {
            Edit::Set(name, val) => {
                let key = name_of(&name).to_owned();
                let value = value_of(&name, val);
                match members.iter_mut().find(|(k, _)| *k == key) {
                    Some(member) => member.1 = value,
                    None => members.push((key, value)),
                }
            }
            Edit::Remove(name) => {
                let key = name_of(&name);
                members.retain(|(k, _)| k != key);
            }
            Edit::Repeat(name, val) => {
                let value = value_of(&name, val);
                members.push((name_of(&name).to_owned(), value));
            }
        }
    }
}

fn sign(header: &[u8], claims: &[u8], signing: &Signing) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let tag = |algorithm, key: &[u8]| {
        let key = ring::hmac::Key::new(algorithm, key);
        b64(ring::hmac::sign(&key, input.as_bytes()).as_ref())
    };
    match signing {
        Signing::Genuine => hs256_token(header, claims),
        Signing::OtherKey => format!(
            "{input}.{}",
            tag(ring::hmac::HMAC_SHA256, b"another secret of thirty-two b!!")
        ),
        Signing::Hs384 => format!(
            "{input}.{}",
            tag(ring::hmac::HMAC_SHA384, HMAC_SECRET.as_bytes())
        ),
        Signing::Cut => {
            let mut token = hs256_token(header, claims);
            token.truncate(token.len() - 4);
            token
        }
    }
}

fuzz_target!(|input: Input| {
    let setup = Setup {
        now: input.now.secs(),
        leeway: LEEWAYS[usize::from(input.leeway % 4)],
        max_age: input.max_age,
        access_token: input.access_token,
        code: input.code,
        trusted: input.trusted,
        acr: Acr::from_byte(input.acr),
    };
    let now = setup.now;
    let mut header = vec![("alg".to_owned(), s("HS256")), ("typ".to_owned(), s("JWT"))];
    apply(&mut header, input.header_edits, header_name, header_value);
    let mut claims = vec![
        ("iss".to_owned(), s(ISSUER)),
        ("sub".to_owned(), s("alice")),
        ("aud".to_owned(), s(CLIENT_ID)),
        ("exp".to_owned(), at(now, 600)),
        ("iat".to_owned(), at(now, 0)),
        ("nonce".to_owned(), s(NONCE)),
    ];
    if setup.max_age {
        claims.push(("auth_time".to_owned(), at(now, 0)));
    }
    if setup.access_token {
        claims.push(("at_hash".to_owned(), s(&half_hash(ACCESS_TOKEN))));
    }
    if setup.code {
        claims.push(("c_hash".to_owned(), s(&half_hash(CODE))));
    }
    if setup.acr != Acr::Off {
        claims.push(("acr".to_owned(), s("loa-2")));
    }
    apply(&mut claims, input.claim_edits, claim_name, |name, val| {
        claim_value(name, val, &setup)
    });
    let header = write_object(&header, input.header_spelling);
    let claims = write_object(&claims, input.claims_spelling);
    let token = sign(header.as_bytes(), claims.as_bytes(), &input.signing);
    let genuine = matches!(input.signing, Signing::Genuine);
    judge(header.as_bytes(), claims.as_bytes(), token, genuine, &setup);
});
