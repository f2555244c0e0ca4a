//! The device authorization grant (RFC 8628) with scope `openid`, driven
//! from the device authorization request through fuzzed poll answers in
//! fake time: the ID token of the polled token response, which the harness
//! signs (Ed25519, the trusted key `k1` or the unknown `k2`, with or without
//! `kid`, or HS256) around perturbed claims, the JWKS re-fetch (OIDC Core
//! §10.1.1) an unknown key triggers while polling, and, for a client with a
//! DPoP key, the nonce retry of the poll (RFC 9449 §8).
//!
//! The client is `driver::discovered_client` (issuer, `jwks_uri` and the
//! key set of `k1` loaded, ID tokens EdDSA only) with a device authorization
//! endpoint, made for every input, so that neither the key cache nor the
//! DPoP nonce carries over from one input to the next.
//!
//! Checked: no panic; `Done` never after a check the harness broke on
//! purpose (wrong `iss`, `aud` or `azp`, expired, `iat` in the future, wrong
//! `at_hash`, `k2` before a key set with `k2` was served, HS256 under the
//! EdDSA policy, no ID token, a `DPoP` token type without a DPoP key), and
//! then `id_token` is `Some` and the raw token, re-read with `serde_json`
//! and its signature checked with ring, is EdDSA by `k1` (or by `k2` once
//! served), has the issuer, the client in `aud`, `azp` absent or the client,
//! an `exp` not passed; conversely an unbroken token by `k1` in a plain
//! 200 JSON answer is `Done`, and so is one by `k2` after a 200 JSON key set
//! holding `k2`. A key set request is a GET of `jwks_uri`, sent only right
//! after a token answer (for a templated one, only when its ID token is by
//! `k2`), at most once: the core validates again after the key set without a
//! second re-fetch, so the flow ends there (`Done` or an error); and an
//! unknown `kid` is never an error before a re-fetch was made (the first one
//! is never rate-limited). Polls go to the token endpoint with the device
//! code, only before `expires_at`; `WaitUntil` is after `now`, never goes
//! back in time, never past `expires_at`; after a 400 JSON
//! `authorization_pending` the next poll is one interval later, after
//! `slow_down` the interval grows by 5 s (up to 60, a longer one kept);
//! `DeviceCodeExpired` names `expires_at`. With DPoP, every poll carries a
//! sensitive `DPoP` proof (`dpop+jwt`, EdDSA, `htm` POST, `htu` the token
//! endpoint, `iat` the instant, a fresh `jti`, the nonce the token endpoint
//! last sent); a poll sent at once after an answer (a retry) comes only
//! after a non-2xx `use_dpop_nonce` error (as `parse_token_response` reads
//! it) with a `DPoP-Nonce`, never twice in a row, and carries that nonce;
//! conversely a 400 JSON `use_dpop_nonce` with a nonce, not itself the
//! answer to a retry and received before `expires_at`, is retried (after
//! it, the retry is `DeviceCodeExpired`). Without DPoP no proof is sent.
//! `handle_timeout` with a request in flight is refused; after `Done` or an
//! error every call is refused; no secret (client secret, device code,
//! access and refresh token, raw ID tokens) in any error (as
//! `driver::check_flow_error` checks it) or in the flow's or the outcome's
//! `Debug`.
//!
//! Input: a flags byte (bit 0: the client has a DPoP key; bit 1: the device
//! authorization is answered 200 JSON with a raw body, `u16le` length then
//! the bytes, read after the next three bytes; bit 2: a public client, else
//! `client_secret_post` with `HMAC_SECRET`); the `interval` of the fixed
//! device authorization response (`b % 8`: 0 none, 1 → 0, 2 → 70, else `b %
//! 8`); its `expires_in` (0 → 1800, 1 → 0, else `4 b`); the start instant
//! (1 700 000 000 + `b`); then answers in the format of
//! `grantflow_fuzz::driver`, one per request. A template byte's bit 6 calls
//! `handle_timeout` instead of answering; for a key set request any template
//! is a key set and reads one byte (bit 0: `k1`, bit 1: `k2`); for a poll,
//! bits 0–2 pick: 0–2 a token response, reading two more bytes (claims
//! perturbations: 1 `iss` + `/`, 2 `aud` another client, 4 `azp` another
//! client, 8 a `nonce` (harmless: the device flow sends none), 16 expired,
//! 32 by `k2`, 64 a wrong `at_hash`, 128 HS256; then response shape: 1 no ID
//! token, 2 no refresh token, 4 the right `at_hash`, 8 `token_type` `DPoP`,
//! 16 no `kid`, 32 `iat` an hour ahead, 64 `aud` as an array), 3
//! `authorization_pending`, 4 `slow_down`, 5 `use_dpop_nonce` reading one
//! byte (unless bit 2, the `DPoP-Nonce` `NONCES[b % 4]`), 6 another error
//! code by the next byte, 7 a key set (reading one byte, as above).
//! Missing bytes read as zero, so that an input that runs out answers with
//! a valid token response.

#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::testing::{CountingRng, sign_jwt};
use grantflow::{
    ClientAuth, ClientSecret, DpopKey, Ed25519Signer, EndpointUrl, Error, Flow, HttpRequest,
    HttpResponse, JwsError, JwsSigner, Scope, Step, UnixTime, parse_token_response,
};
use grantflow_fuzz::driver::form_param;
use grantflow_fuzz::driver::{self, Body};
use grantflow_fuzz::{DEFAULT_NOW, HMAC_SECRET, Reader, build_response, check_error, hs256_token};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const ISSUER: &str = driver::DISCOVERED_ISSUER;
const TOKEN_ENDPOINT: &str = "https://op.example.com/token";
const JWKS_URI: &str = driver::DISCOVERED_JWKS_URI;
const DEVICE_ENDPOINT: &str = "https://op.example.com/device";
const CLIENT_ID: &str = "tv-app";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const DEVICE_CODE: &str = "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS";
const ACCESS: &str = "SlAV32hkKG-device-access-token";
const REFRESH: &str = "8xLOxBtZp8-device-refresh-token";
/// The ID token policy's leeway (the default), seconds.
const LEEWAY: u64 = 60;
/// Below this instant the converse oracles hold (far from saturation).
const SANE_TIME: u64 = 1 << 40;
/// The `DPoP-Nonce` values of the `use_dpop_nonce` template.
const NONCES: [&str; 4] = ["server-nonce-1", "n2", "server-nonce-3.x~y", "4"];
/// The other error codes of template 6.
const ERRORS: [&str; 6] = [
    "access_denied",
    "expired_token",
    "server_error",
    "temporarily_unavailable",
    "invalid_grant",
    "invalid_client",
];
/// At most this many steps (waits, requests) per input.
const MAX_STEPS: usize = 24;

/// `k1` and `k2` without a `kid`: the same keys, naming none.
fn kidless() -> &'static (Ed25519Signer, Ed25519Signer) {
    static KEYS: OnceLock<(Ed25519Signer, Ed25519Signer)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            Ed25519Signer::from_seed(&[1; 32]).expect("32 bytes"),
            Ed25519Signer::from_seed(&[2; 32]).expect("32 bytes"),
        )
    })
}

/// Whether `token`'s signature verifies under `signer`'s public Ed25519
/// key, checked with ring apart from the core.
fn signed_by(token: &str, signer: &Ed25519Signer) -> bool {
    let Some((input, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let jwk = signer.public_jwk().expect("an Ed25519 public key");
    let x = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().expect("x"))
        .expect("base64url");
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, x)
        .verify(input.as_bytes(), &signature)
        .is_ok()
}

/// The claims of a poll's DPoP proof, after checking what every proof of
/// this flow must be.
fn proof_claims(request: &HttpRequest, now: UnixTime) -> Value {
    let header = request
        .headers()
        .get("dpop")
        .expect("a DPoP proof on every poll of a DPoP client");
    assert!(header.is_sensitive(), "a proof not marked sensitive");
    let proof = header.to_str().expect("a compact JWS is ASCII");
    let head = driver::jwt_part(proof, 0).expect("a JSON proof header");
    let claims = driver::jwt_part(proof, 1).expect("JSON proof claims");
    assert_eq!(head["typ"], "dpop+jwt");
    assert_eq!(head["alg"], "EdDSA");
    assert!(head["jwk"].is_object(), "a proof without its key");
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], TOKEN_ENDPOINT);
    assert_eq!(claims["iat"], now.as_secs());
    assert!(claims.get("ath").is_none(), "ath at the token endpoint");
    assert!(claims["jti"].is_string(), "a proof without jti");
    claims
}

/// The value of a usable `DPoP-Nonce` of `response` (what the core keeps).
fn usable_nonce(response: &HttpResponse) -> Option<String> {
    response
        .headers()
        .get("dpop-nonce")
        .and_then(|value| value.to_str().ok())
        .filter(|nonce| !nonce.is_empty() && nonce.len() <= 512)
        .map(str::to_owned)
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.starts_with("application/json"))
}

/// The ID token of a `Done`, re-read apart from the core: EdDSA, signed by
/// `k1` or by `k2` once served, the issuer, the client in `aud`, `azp`
/// absent or the client, not expired at `now`.
fn claims_hold(token: &str, now: u64, k2_known: bool) -> Value {
    let (k1, k2) = driver::test_keys();
    let header = driver::jwt_part(token, 0).expect("a validated token has a JSON header");
    let claims = driver::jwt_part(token, 1).expect("a validated token has JSON claims");
    assert_eq!(header["alg"], "EdDSA", "an ID token not EdDSA was accepted");
    if !signed_by(token, k1) {
        assert!(signed_by(token, k2), "an ID token by no key was accepted");
        assert!(k2_known, "an ID token by k2 before k2 was served");
    }
    assert_eq!(claims["iss"], ISSUER);
    let aud_ok = match &claims["aud"] {
        Value::String(aud) => aud == CLIENT_ID,
        Value::Array(auds) => auds.iter().any(|a| a == CLIENT_ID),
        _ => false,
    };
    assert!(aud_ok, "aud without the client: {}", claims["aud"]);
    match claims.get("azp") {
        None | Some(Value::Null) => {}
        Some(azp) => assert_eq!(azp, CLIENT_ID, "azp of another client"),
    }
    let exp = claims["exp"].as_u64().expect("a numeric exp");
    assert!(
        u128::from(exp) + u128::from(LEEWAY) >= u128::from(now),
        "an expired ID token was accepted"
    );
    claims
}

/// The ID token the harness last built.
struct Built {
    raw: String,
    /// A check the harness broke on purpose (besides the key).
    broken: bool,
    /// Signed by `k2`, which the client does not hold at first.
    by_k2: bool,
    exp: u64,
}

/// What the last `Send` was.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InFlight {
    Poll,
    Keys,
}

/// Where the step being judged came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Start,
    Timeout,
    PollAnswer,
    KeysAnswer,
}

fn client(flags: u8, began: UnixTime) -> grantflow::Client {
    let auth = if flags & 4 != 0 {
        ClientAuth::None
    } else {
        ClientAuth::ClientSecretPost(ClientSecret::new(HMAC_SECRET))
    };
    let client = driver::discovered_client(CLIENT_ID, auth, began);
    let mut endpoints = client.endpoints().clone();
    endpoints.device_authorization = Some(EndpointUrl::parse(DEVICE_ENDPOINT).expect("valid"));
    let client = client.with_endpoints(endpoints);
    if flags & 1 == 0 {
        return client;
    }
    let key = DpopKey::new(
        Ed25519Signer::from_seed(&[9; 32]).expect("32 bytes"),
        &mut CountingRng::new(0),
    )
    .expect("an asymmetric key");
    client.with_dpop(key)
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let flags = reader.byte();
    let dpop = flags & 1 != 0;
    let confidential = flags & 4 == 0;
    let interval = match reader.byte() % 8 {
        0 => None,
        1 => Some(0),
        2 => Some(70),
        n => Some(u64::from(n)),
    };
    let expires_in = match reader.byte() {
        0 => 1800,
        1 => 0,
        n => 4 * u64::from(n),
    };
    let began = UnixTime::from_secs(DEFAULT_NOW + u64::from(reader.byte()));
    let client = client(flags, began);

    // The device authorization, asking for `openid`.
    let mut request = client
        .device_authorization()
        .expect("the endpoints are set")
        .scope(Scope::new("openid").expect("a valid scope"));
    let Ok(Step::Send(sent)) = request.start(began) else {
        panic!("the device authorization request was not sent")
    };
    assert_eq!(sent.uri(), DEVICE_ENDPOINT);
    assert_eq!(form_param(sent.body(), "scope").as_deref(), Some("openid"));
    let raw_authorization = flags & 2 != 0;
    let body = if raw_authorization {
        driver::raw_body(&mut reader)
    } else {
        let mut body = json!({
            "device_code": DEVICE_CODE,
            "user_code": "WDJB-MJHT",
            "verification_uri": "https://op.example.com/device",
            "expires_in": expires_in,
        });
        if let Some(interval) = interval {
            body["interval"] = json!(interval);
        }
        body.to_string().into_bytes()
    };
    let response = build_response(200, Some("application/json"), &body);
    let authorization = match request.handle_response(response.clone(), began) {
        Ok(Step::Done(authorization)) => authorization,
        Ok(_) => panic!("the device authorization request took a second step"),
        Err(error) => {
            assert!(raw_authorization, "the fixed device authorization refused");
            check_error(&response, &error);
            driver::assert_refuses_everything(&mut request, began);
            return;
        }
    };
    let expires_at = authorization.expires_at();
    if !raw_authorization {
        assert_eq!(expires_at, began.saturating_add_secs(expires_in));
    }

    // The secrets: what the polls carry (every error withholds them), and
    // what the answers issue. A raw device authorization's device code is
    // not tracked (the `device_authorization` target checks its redaction);
    // a secret the authorization shows anyway (a raw user code) is not
    // looked for in the flow's `Debug`.
    let mut sent_secrets: Vec<&str> = Vec::new();
    if confidential {
        sent_secrets.push(HMAC_SECRET);
    }
    if !raw_authorization {
        sent_secrets.push(DEVICE_CODE);
    }
    let mut secrets: Vec<String> = sent_secrets.iter().map(|s| (*s).to_owned()).collect();
    secrets.push(ACCESS.into());
    secrets.push(REFRESH.into());
    let shown = format!("{authorization:?}");
    driver::assert_no_secret("the authorization's Debug", &shown, &sent_secrets);

    let mut poll = authorization.poll();
    let mut clock = began;
    let mut last_wait = UnixTime::EPOCH;
    let mut result = poll.start(clock);
    let mut origin = Origin::Start;
    // The DPoP nonce the token endpoint last sent, and whether the last
    // poll was a retry (RFC 9449 §8: once in a row).
    let mut last_nonce: Option<String> = None;
    let mut retried = false;
    let mut jtis: Vec<Value> = Vec::new();
    // The answer that led to the step being judged, for the retry oracle.
    let mut last_response: Option<HttpResponse> = None;
    let mut jwks_requests = 0;
    let mut k2_known = false;
    let mut built: Option<Built> = None;
    let mut templated = true;
    // A step the harness requires of the answer just given.
    let mut must_be_done = false;
    let mut must_retry = false;
    // After a 400 JSON `authorization_pending` (false) or `slow_down`
    // (true): the interval before the answer.
    let mut pacing: Option<(bool, u64)> = None;

    for _ in 0..MAX_STEPS {
        let secret_refs: Vec<&str> = secrets
            .iter()
            .map(String::as_str)
            .filter(|secret| !shown.contains(secret))
            .collect();
        driver::assert_no_secret("the flow's Debug", &format!("{poll:?}"), &secret_refs);
        if must_be_done {
            assert!(
                matches!(result, Ok(Step::Done(_))),
                "an unbroken ID token was not accepted: {result:?}"
            );
        }
        if must_retry {
            assert!(
                matches!(&result, Ok(Step::Send(r)) if r.uri() == TOKEN_ENDPOINT),
                "use_dpop_nonce with a nonce was not retried: {result:?}"
            );
        }
        if let Some((slow, before)) = pacing.take() {
            let interval = if slow {
                before.saturating_add(5).min(before.max(60))
            } else {
                before
            };
            assert_eq!(poll.interval(), interval, "the interval after {slow}");
            if clock < expires_at {
                let at = clock.saturating_add_secs(interval).min(expires_at);
                assert!(
                    matches!(result, Ok(Step::WaitUntil(t)) if t == at),
                    "not the next poll at {at:?}: {result:?}"
                );
            }
        }
        (must_be_done, must_retry) = (false, false);
        match result {
            Ok(Step::WaitUntil(at)) => {
                assert!(
                    matches!(origin, Origin::Start | Origin::PollAnswer),
                    "a wait after a key set or a wake-up"
                );
                assert!(at > clock, "a WaitUntil for now or the past");
                assert!(at >= last_wait, "WaitUntil went back in time");
                assert!(at <= expires_at, "a wait past the deadline");
                last_wait = at;
                clock = at;
                retried = false;
                origin = Origin::Timeout;
                result = poll.handle_timeout(clock);
            }
            Ok(Step::Send(request)) => {
                let in_flight = if request.uri() == TOKEN_ENDPOINT {
                    assert!(clock < expires_at, "a poll at or after the deadline");
                    assert_eq!(request.method(), http::Method::POST);
                    let body = request.body();
                    assert_eq!(form_param(body, "grant_type").as_deref(), Some(GRANT_TYPE));
                    if !raw_authorization {
                        assert_eq!(
                            form_param(body, "device_code").as_deref(),
                            Some(DEVICE_CODE)
                        );
                    }
                    let retry = match origin {
                        Origin::Timeout => false,
                        Origin::PollAnswer => true,
                        _ => panic!("a poll sent but after a wait or a poll answer"),
                    };
                    if dpop {
                        let claims = proof_claims(&request, clock);
                        assert_eq!(
                            claims["nonce"].as_str(),
                            last_nonce.as_deref(),
                            "a proof without the last nonce"
                        );
                        assert!(!jtis.contains(&claims["jti"]), "a jti used twice");
                        jtis.push(claims["jti"].clone());
                    } else {
                        assert!(
                            request.headers().get("dpop").is_none(),
                            "a proof without DPoP"
                        );
                    }
                    if retry {
                        assert!(dpop, "a poll sent at once without DPoP");
                        assert!(!retried, "two retries in a row");
                        let response = last_response.as_ref().expect("an answer came");
                        assert!(
                            !response.status().is_success(),
                            "a retry after {}",
                            response.status()
                        );
                        assert!(usable_nonce(response).is_some(), "a retry without a nonce");
                        let parsed = parse_token_response(response, clock);
                        assert!(
                            parsed.as_ref().err().and_then(Error::oauth_code)
                                == Some(&grantflow::ErrorCode::UseDpopNonce),
                            "a retry without use_dpop_nonce"
                        );
                        retried = true;
                    }
                    InFlight::Poll
                } else {
                    assert_eq!(request.uri(), JWKS_URI, "a request to neither endpoint");
                    assert_eq!(request.method(), http::Method::GET);
                    assert!(
                        origin == Origin::PollAnswer,
                        "a key set request but after tokens"
                    );
                    if templated {
                        let b = built.as_ref().expect("a templated poll answer is tokens");
                        assert!(b.by_k2, "a key set fetched for a token by k1");
                    }
                    jwks_requests += 1;
                    assert_eq!(jwks_requests, 1, "the key set fetched twice");
                    InFlight::Keys
                };

                // The answer.
                let mut answer = driver::answer(&mut reader);
                clock = driver::advance(clock, answer.elapsed);
                templated = matches!(answer.body, Body::Template(_));
                if in_flight == InFlight::Poll {
                    // The ID token under judgement is this answer's, if any:
                    // a key set fetched for a raw answer's token says
                    // nothing of an earlier templated one.
                    built = None;
                }
                let mut timeout = false;
                let mut nonce_header: Option<&'static str> = None;
                let body: Vec<u8> = match std::mem::replace(&mut answer.body, Body::Template(0)) {
                    Body::Raw(bytes) => {
                        if in_flight == InFlight::Keys && answer.is_success() {
                            // Whether a raw key set holds k2 is not judged.
                            k2_known = true;
                        }
                        bytes
                    }
                    Body::Template(t) => {
                        timeout = t & 0x40 != 0;
                        let ok_json = answer.status == 200
                            && is_json(answer.content_type)
                            && !timeout
                            && clock.as_secs() < SANE_TIME;
                        if in_flight == InFlight::Keys || t & 7 == 7 {
                            let keys = reader.byte();
                            if in_flight == InFlight::Keys {
                                if answer.is_success() && keys & 2 != 0 && !timeout {
                                    // Known only if the flow goes on with it.
                                    k2_known = true;
                                }
                                must_be_done = ok_json
                                    && keys & 2 != 0
                                    && built.as_ref().is_some_and(|b| {
                                        !b.broken
                                            && b.by_k2
                                            && u128::from(b.exp) + u128::from(LEEWAY)
                                                > u128::from(clock.as_secs())
                                    });
                            }
                            driver::jwks_body(keys).as_bytes().to_vec()
                        } else {
                            match t & 7 {
                                0..=2 => {
                                    let b = token_answer(&mut reader, clock, dpop);
                                    must_be_done = ok_json && !b.built.broken && !b.built.by_k2;
                                    secrets.push(b.raw.clone());
                                    let body = b.body.clone();
                                    built = Some(b.built);
                                    body
                                }
                                kind @ (3 | 4) => {
                                    if answer.status == 400
                                        && is_json(answer.content_type)
                                        && !timeout
                                    {
                                        pacing = Some((kind == 4, poll.interval()));
                                    }
                                    let code = if kind == 3 {
                                        "authorization_pending"
                                    } else {
                                        "slow_down"
                                    };
                                    json!({ "error": code }).to_string().into_bytes()
                                }
                                5 => {
                                    let n = reader.byte();
                                    if n & 4 == 0 {
                                        nonce_header = Some(NONCES[usize::from(n % 4)]);
                                    }
                                    let nonce = nonce_header.is_some()
                                        || answer
                                            .headers
                                            .iter()
                                            .any(|(name, _)| *name == "dpop-nonce");
                                    // The retry is sent at once: only before the deadline.
                                    must_retry = dpop
                                        && nonce
                                        && !retried
                                        && !timeout
                                        && clock < expires_at
                                        && answer.status == 400
                                        && is_json(answer.content_type);
                                    json!({
                                        "error": "use_dpop_nonce",
                                        "error_description": "Authorization server requires nonce in DPoP proof",
                                    })
                                    .to_string()
                                    .into_bytes()
                                }
                                _ => {
                                    let code = ERRORS[usize::from(reader.byte()) % ERRORS.len()];
                                    json!({ "error": code }).to_string().into_bytes()
                                }
                            }
                        }
                    }
                };
                let mut response = driver::response(&answer, &body);
                if let Some(nonce) = nonce_header {
                    response
                        .headers_mut()
                        .insert("dpop-nonce", http::HeaderValue::from_static(nonce));
                }
                if timeout {
                    (must_be_done, must_retry, pacing) = (false, false, None);
                    result = poll.handle_timeout(clock);
                    assert!(
                        driver::is_refusal(&result),
                        "handle_timeout with a request in flight was accepted"
                    );
                    continue;
                }
                if in_flight == InFlight::Poll {
                    if dpop && let Some(nonce) = usable_nonce(&response) {
                        last_nonce = Some(nonce);
                    }
                    origin = Origin::PollAnswer;
                } else {
                    origin = Origin::KeysAnswer;
                }
                result = poll.handle_response(response.clone(), clock);
                if origin == Origin::KeysAnswer {
                    assert!(
                        matches!(result, Ok(Step::Done(_)) | Err(_)),
                        "the flow went on after the key set"
                    );
                }
                if !matches!(&result, Ok(Step::Send(r)) if r.uri() == TOKEN_ENDPOINT) {
                    retried = false;
                }
                last_response = Some(response);
            }
            Ok(Step::Done(done)) => {
                assert!(
                    matches!(origin, Origin::PollAnswer | Origin::KeysAnswer),
                    "Done without an answer"
                );
                let raw = done
                    .tokens
                    .id_token
                    .as_ref()
                    .expect("scope openid: Done has the raw ID token")
                    .as_str()
                    .to_owned();
                let id_token = done
                    .id_token
                    .as_ref()
                    .expect("scope openid: Done has the validated ID token");
                assert_eq!(id_token.raw().as_str(), raw);
                if let Some(b) = built.as_ref().filter(|b| b.raw == raw) {
                    assert!(!b.broken, "Done after a broken check");
                    assert!(!b.by_k2 || k2_known, "Done with k2 before k2 was served");
                    assert_eq!(done.tokens.access_token.secret(), ACCESS);
                }
                let claims = claims_hold(&raw, clock.as_secs(), k2_known);
                let c = id_token.claims();
                assert_eq!(c.iss, ISSUER);
                assert!(c.aud.iter().any(|a| a == CLIENT_ID));
                assert_eq!(claims["sub"].as_str(), Some(c.sub.as_str()));
                assert_eq!(claims["exp"].as_u64(), Some(c.exp.as_secs()));
                let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
                driver::assert_no_secret("the outcome's Debug", &format!("{done:?}"), &secret_refs);
                driver::assert_refuses_everything(&mut poll, clock);
                return;
            }
            Err(error) => {
                let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
                let answered = matches!(origin, Origin::PollAnswer | Origin::KeysAnswer);
                driver::check_flow_error(
                    &error,
                    &secret_refs,
                    &sent_secrets,
                    templated || !answered,
                );
                if let Error::DeviceCodeExpired { expired_at } = error {
                    assert_eq!(expired_at, expires_at, "the deadline error names another");
                    assert!(clock >= expires_at, "expired before the deadline");
                }
                assert!(
                    !(matches!(error, Error::Jws(JwsError::NoMatchingKey { .. }))
                        && jwks_requests == 0),
                    "an unknown kid refused without a re-fetch"
                );
                driver::assert_refuses_everything(&mut poll, clock);
                return;
            }
        }
    }
});

/// A templated token response and what the harness knows of its ID token.
struct TokenAnswer {
    body: Vec<u8>,
    raw: String,
    built: Built,
}

/// Reads the perturbation and shape bytes and builds a token response at
/// `now` (see the input format above).
fn token_answer(reader: &mut Reader<'_>, now: UnixTime, dpop: bool) -> TokenAnswer {
    let (k1, k2) = driver::test_keys();
    let (k1_bare, k2_bare) = kidless();
    let p = reader.byte();
    let shape = reader.byte();
    let secs = now.as_secs();
    let exp = if p & 16 != 0 {
        secs.saturating_sub(10_000)
    } else {
        secs.saturating_add(600)
    };
    let mut claims = json!({
        "iss": if p & 1 != 0 { format!("{ISSUER}/") } else { ISSUER.to_owned() },
        "sub": "alice",
        "aud": if p & 2 != 0 { "other-app" } else { CLIENT_ID },
        "iat": if shape & 32 != 0 { secs.saturating_add(3600) } else { secs.saturating_sub(10) },
        "exp": exp,
    });
    if shape & 64 != 0 {
        claims["aud"] = json!([claims["aud"].clone()]);
    }
    if p & 4 != 0 {
        claims["azp"] = json!("other-app");
    }
    if p & 8 != 0 {
        claims["nonce"] = json!("a-nonce-nobody-sent");
    }
    if p & 64 != 0 {
        claims["at_hash"] = json!(driver::ed25519_at_hash("not-the-access-token"));
    } else if shape & 4 != 0 {
        claims["at_hash"] = json!(driver::ed25519_at_hash(ACCESS));
    }
    let dpop_type = shape & 8 != 0;
    let with_kid = shape & 16 == 0;
    let by_k2 = p & 32 != 0 && p & 128 == 0;
    let iat_ahead = shape & 32 != 0 && secs.saturating_add(3600) > secs.saturating_add(LEEWAY);
    let broken =
        p & (1 | 2 | 4 | 16 | 64 | 128) != 0 || shape & 1 != 0 || iat_ahead || (dpop_type && !dpop);
    let raw = if p & 128 != 0 {
        let header: &[u8] = if with_kid {
            br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#
        } else {
            br#"{"alg":"HS256","typ":"JWT"}"#
        };
        hs256_token(header, claims.to_string().as_bytes())
    } else {
        let signer = match (by_k2, with_kid) {
            (false, true) => k1,
            (true, true) => k2,
            (false, false) => k1_bare,
            (true, false) => k2_bare,
        };
        sign_jwt(signer, &claims).expect("signed")
    };
    let mut body = json!({
        "access_token": ACCESS,
        "token_type": if dpop_type { "DPoP" } else { "Bearer" },
        "expires_in": 3600,
    });
    if shape & 1 == 0 {
        body["id_token"] = json!(raw);
    }
    if shape & 2 == 0 {
        body["refresh_token"] = json!(REFRESH);
    }
    TokenAnswer {
        body: body.to_string().into_bytes(),
        raw: raw.clone(),
        built: Built {
            raw,
            broken,
            by_k2,
            exp,
        },
    }
}
