//! `PendingSignIn::callback` and `PendingAuthorization::callback` on
//! arbitrary redirects (RFC 6749 §4.1.2, RFC 9207 §2.4), for a request begun
//! with a deterministic generator, then the code exchange request it leads
//! to.
//!
//! Input: one flag byte, then the redirect URL or query, as text (invalid
//! UTF-8 replaced). Flag bit 0: the client requires RFC 9207 `iss`; bit 1: a
//! plain OAuth client without an issuer (`Client::authorize`) instead of a
//! sign-in (`Client::sign_in`); bits 2–3: when the callback runs, relative
//! to the request's beginning: 0 at once, 1 exactly at the end of the
//! default 10 minutes (accepted), 2 one second later, 3 61 seconds before
//! (a clock stepped back beyond the 60 s allowed). In the text, `$S` stands
//! for the request's real `state` and `$I` for the issuer, so the fuzzer can
//! reach the checks behind the state comparison (which is constant-time, so
//! gives it no comparison hints).
//!
//! Oracles, beyond "no panic":
//!
//! - the outcome is exactly the documented one, derived here from the
//!   time and the form-decoded query: a callback outside the accepted time
//!   window is `Expired`, whatever the redirect; then a response parameter
//!   (`code`, `state`, `iss`,
//!   `error`, `error_description`, `error_uri`) given twice is
//!   `DuplicateParameter`; then an absent or empty `state` is
//!   `MissingState`, another one `StateMismatch`; then a non-empty `iss`
//!   other than the issuer is `IssuerMismatch`, an absent one
//!   `MissingIssuer` when required; then an `error` is `Error::OAuth` with
//!   no status, a non-empty code and clean text, or `InvalidErrorCode` when
//!   it has no printable character; then an absent `code` is `MissingCode`;
//! - above all: success only in the time window, when the query holds
//!   `state` exactly once, equal to the one sent, and a non-empty `code`
//!   exactly once;
//! - on success the token request (RFC 6749 §4.1.3) carries that code, the
//!   redirect URI byte for byte, and a PKCE verifier whose S256 challenge
//!   (RFC 7636 §4.6) is the one in the authorization URL.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::CallbackError;
use grantflow::testing::CountingRng;
use grantflow::{
    Client, ClientAuth, ClientId, DEFAULT_MAX_PENDING_AGE, EndpointUrl, Error, Flow, Issuer,
    PendingAuthorization, PendingSignIn, Scope, Step, UnixTime,
};
use grantflow_fuzz::callback::{Outcome, check_accepted, outcome, query_of};
use grantflow_fuzz::check_printable;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const ISSUER: &str = "https://op.example.com";
const CLIENT_ID: &str = "web-app";
const REDIRECT: &str = "https://app.example.com/cb?tenant=a%20b";
const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

/// The request as begun: a sign-in, or a plain OAuth authorization.
enum Pending {
    SignIn(PendingSignIn),
    Plain(PendingAuthorization),
}

/// What the oracle knows about the request, the redirect and the outcome
/// it expects.
struct Case {
    redirect: String,
    pairs: Option<Vec<(String, String)>>,
    state: String,
    challenge: String,
    want: Outcome,
}

/// A variant's client, and the `state` and PKCE challenge its request
/// sends.
struct Setup {
    client: Client,
    state: String,
    challenge: String,
}

/// The setup of the variant: with or without an issuer, RFC 9207 `iss`
/// required or not. Built on first use.
fn setup(with_issuer: bool, iss_required: bool) -> &'static Setup {
    static SETUPS: OnceLock<[Setup; 4]> = OnceLock::new();
    let setups = SETUPS.get_or_init(|| {
        [(false, false), (false, true), (true, false), (true, true)].map(
            |(with_issuer, iss_required)| {
                let mut client = Client::new(ClientId::new(CLIENT_ID), ClientAuth::None)
                    .with_authorization_endpoint(
                        EndpointUrl::parse("https://op.example.com/authorize?realm=x")
                            .expect("valid"),
                    )
                    .with_token_endpoint(
                        EndpointUrl::parse("https://op.example.com/token").expect("valid"),
                    )
                    .with_required_callback_iss(iss_required);
                if with_issuer {
                    client = client.with_issuer(Issuer::new(ISSUER).expect("valid"));
                }
                let (url, _) = begin_with_url(&client, with_issuer);
                let param = |name: &str| {
                    url.query_pairs()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.into_owned())
                        .expect("the authorization url has it")
                };
                Setup {
                    state: param("state"),
                    challenge: param("code_challenge"),
                    client,
                }
            },
        )
    });
    &setups[usize::from(with_issuer) * 2 + usize::from(iss_required)]
}

/// Begins the request (a sign-in with an issuer, else a plain
/// authorization) with the deterministic generator: the same `state`,
/// `nonce` and verifier every time.
fn begin_with_url(client: &Client, with_issuer: bool) -> (url::Url, Pending) {
    if with_issuer {
        let (url, pending) = client
            .sign_in(REDIRECT)
            .expect("a valid redirect uri")
            .begin(&mut CountingRng::new(0), NOW)
            .expect("the request begins");
        (url, Pending::SignIn(pending))
    } else {
        let (url, pending) = client
            .authorize(REDIRECT)
            .expect("a valid redirect uri")
            .scope(Scope::new("profile").expect("a valid scope"))
            .begin(&mut CountingRng::new(0), NOW)
            .expect("the request begins");
        (url, Pending::Plain(pending))
    }
}

/// A fresh pending request of the variant (it is consumed by the callback).
fn begin(client: &Client, with_issuer: bool) -> Pending {
    begin_with_url(client, with_issuer).1
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, text)) = data.split_first() else {
        return;
    };
    let iss_required = flags & 1 != 0;
    let with_issuer = flags & 2 == 0;
    let (now, in_time) = match (flags >> 2) & 3 {
        0 => (NOW, true),
        1 => (NOW.saturating_add_secs(DEFAULT_MAX_PENDING_AGE), true),
        2 => (NOW.saturating_add_secs(DEFAULT_MAX_PENDING_AGE + 1), false),
        _ => (NOW.saturating_sub_secs(61), false),
    };

    // The client and what `begin` sends are the same for every input of a
    // variant (the generator is deterministic): made once, outside the loop.
    let setup = setup(with_issuer, iss_required);
    let client = &setup.client;
    let pending = begin(client, with_issuer);
    let (state, challenge) = (setup.state.clone(), setup.challenge.clone());

    let redirect = String::from_utf8_lossy(text)
        .replace("$S", &state)
        .replace("$I", ISSUER);
    let pairs: Option<Vec<(String, String)>> = query_of(&redirect).map(|query| {
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    });
    let want = if in_time {
        outcome(
            pairs.as_deref(),
            &state,
            with_issuer.then_some(ISSUER),
            iss_required,
        )
    } else {
        Outcome::Expired
    };
    let case = Case {
        redirect,
        pairs,
        state,
        challenge,
        want,
    };
    match pending {
        Pending::SignIn(pending) => judge(pending.callback(client, &case.redirect, now), case, now),
        Pending::Plain(pending) => judge(pending.callback(client, &case.redirect, now), case, now),
    }
});

/// Checks the callback's `result` against the oracle, then the token request
/// of the exchange it gave, if any.
fn judge<F: Flow>(result: Result<F, Error>, case: Case, now: UnixTime)
where
    F::Output: std::fmt::Debug,
{
    let Case {
        redirect,
        pairs,
        state,
        challenge,
        want,
    } = case;
    let got = match &result {
        Ok(_) => None,
        Err(error) => {
            check_printable(error);
            Some(match error {
                Error::Callback(CallbackError::Expired { began_at, now: at }) => {
                    assert_eq!((*began_at, *at), (NOW, now));
                    Outcome::Expired
                }
                Error::Callback(CallbackError::InvalidUrl) => Outcome::InvalidUrl,
                Error::Callback(CallbackError::DuplicateParameter { name }) => {
                    Outcome::Duplicate(name.clone())
                }
                Error::Callback(CallbackError::MissingState) => Outcome::MissingState,
                Error::Callback(CallbackError::StateMismatch) => Outcome::StateMismatch,
                Error::Callback(CallbackError::IssMismatch { expected, found }) => {
                    assert_eq!(expected, ISSUER);
                    assert!(found.len() <= 256 && !found.chars().any(char::is_control));
                    Outcome::IssuerMismatch
                }
                Error::Callback(CallbackError::MissingIss) => Outcome::MissingIssuer,
                Error::OAuth(response) => {
                    assert_eq!(response.status, None, "a redirect has no http status");
                    let code = response.error.as_str();
                    assert!(!code.is_empty() && !code.chars().any(char::is_control));
                    for text in [&response.description, &response.uri].into_iter().flatten() {
                        assert!(!text.chars().any(char::is_control));
                        assert!(text.len() <= grantflow::ErrorResponse::MAX_TEXT);
                    }
                    match &want {
                        Outcome::OAuth(sent) => {
                            assert!(
                                grantflow_fuzz::is_quote_of(
                                    code,
                                    sent,
                                    grantflow::ErrorResponse::MAX_TEXT
                                ),
                                "error code {code:?} from {sent:?}"
                            );
                        }
                        other => panic!("Error::OAuth, expected {other:?}"),
                    }
                    Outcome::OAuth(match &want {
                        Outcome::OAuth(sent) => sent.clone(),
                        _ => String::new(),
                    })
                }
                Error::Callback(CallbackError::InvalidErrorCode) => Outcome::InvalidErrorCode,
                Error::Callback(CallbackError::MissingCode) => Outcome::MissingCode,
                other => panic!("unexpected callback error {other:?}"),
            })
        }
    };

    // Success only in time, with the exact state once and a non-empty code
    // once, whatever the outcome derivation above says.
    if result.is_ok() {
        check_accepted(pairs.as_deref(), &state, NOW, now, &redirect);
    }

    let (mut exchange, code) = match (result, want) {
        (Ok(exchange), Outcome::Exchange(code)) => (exchange, code),
        (Ok(_), want) => panic!("accepted {redirect:?}, expected {want:?}"),
        (Err(error), want) => {
            assert_eq!(got, Some(want), "{redirect:?} gave {error:?}");
            return;
        }
    };

    // The token request of RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5).
    let request = match exchange.start(now) {
        Ok(Step::Send(request)) => request,
        other => panic!("the exchange did not send: {other:?}"),
    };
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), "https://op.example.com/token");
    let mut sent: Vec<(String, String)> = form_urlencoded::parse(request.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let verifier = sent
        .iter()
        .find(|(k, _)| k == "code_verifier")
        .map(|(_, v)| v.clone())
        .expect("a code_verifier");
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    assert_eq!(URL_SAFE_NO_PAD.encode(digest.as_ref()), challenge);
    sent.retain(|(k, _)| k != "code_verifier");
    sent.sort();
    let mut want_sent = vec![
        ("client_id".to_owned(), CLIENT_ID.to_owned()),
        ("code".to_owned(), code),
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("redirect_uri".to_owned(), REDIRECT.to_owned()),
    ];
    want_sent.sort();
    assert_eq!(sent, want_sent);
    assert!(matches!(
        exchange.start(now),
        Err(Error::UnexpectedCall { .. })
    ));
    assert!(matches!(
        exchange.handle_timeout(now),
        Err(Error::UnexpectedCall { .. })
    ));
}
