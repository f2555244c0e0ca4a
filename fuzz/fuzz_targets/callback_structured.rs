//! `PendingSignIn::callback` and `PendingAuthorization::callback` on
//! redirects built structurally (RFC 6749 §4.1.2, RFC 9207 §2.4), for
//! clients drawn with grantflow's own `arbitrary` feature (client id,
//! issuer, redirect URI, endpoints and scopes all generated through the
//! public constructors), then the code exchange request.
//!
//! Where `authorization_callback` reaches the checks through raw text with
//! `$S`/`$I` placeholders, this target draws the redirect as a list of
//! parameters: `code`, `state`, `iss`, `error`, `error_description`,
//! `error_uri`, `session_state` or any other name, each with the real value
//! (the request's `state`, the client's issuer), a near miss (one character
//! more or fewer, another case, a trailing slash, a space), an empty value
//! or any text, and each written form-encoded, with every byte
//! percent-encoded (upper or lower hex), raw (so `&`, `=`, `#`, `%` and `+`
//! in it act as they will), or as a bare name; parameters repeat or go
//! missing as drawn. The query follows the redirect URI (after its own
//! query), another URL, `?` or nothing, and a fragment may follow.
//!
//! Oracle (the rules of `authorization_callback`, re-derived from the
//! produced text with `url` and `form_urlencoded`): outside the accepted
//! time window `Expired`; then a repeated response parameter is
//! `DuplicateParameter`; then a missing or empty `state` `MissingState`, a
//! different one `StateMismatch`; then a non-empty `iss` other than the
//! issuer `IssuerMismatch` (quoting the issuer), a missing one
//! `MissingIssuer` when required; then a non-empty `error` is `OAuth` (its
//! code quoted escaped and bounded) or `InvalidErrorCode` when it has no
//! printable character; then an absent or empty `code` is `MissingCode`;
//! otherwise the exchange, whose token request is the RFC 6749 §4.1.3 form
//! POST to the token endpoint with exactly `client_id`, the code, the
//! redirect URI byte for byte and a verifier matching the S256 challenge
//! (RFC 7636 §4.6), after which the exchange refuses `start` and
//! `handle_timeout`.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::testing::CountingRng;
use grantflow::{
    CallbackError, Client, ClientAuth, ClientId, DEFAULT_MAX_PENDING_AGE, EndpointUrl, Error, Flow,
    Issuer, RedirectUri, Scope, Step, UnixTime,
};
use grantflow_fuzz::callback::{Outcome, check_accepted, outcome, query_of};
use grantflow_fuzz::check_printable;
use libfuzzer_sys::fuzz_target;

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

#[derive(Arbitrary, Debug)]
enum Base {
    /// The redirect URI, then the query (after `&` if it has one).
    Redirect,
    /// The query alone.
    Bare,
    /// `?` and the query.
    Question,
    /// A URL of another host.
    Other,
}

#[derive(Arbitrary, Debug)]
enum PName {
    Code,
    State,
    Iss,
    Error,
    ErrorDescription,
    ErrorUri,
    SessionState,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum PValue {
    /// What a good response carries for the name.
    Usual,
    /// The request's `state`.
    State,
    /// The request's `state`, altered by one of a few near misses.
    StateNearMiss(u8),
    /// The client's issuer.
    Issuer,
    /// The issuer, altered by one of a few near misses.
    IssuerNearMiss(u8),
    /// An RFC 6749 §4.1.2.1 error code (or a bad one).
    ErrorCode(u8),
    Empty,
    Any(String),
}

#[derive(Arbitrary, Debug)]
enum Encoding {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Every byte of name and value as `%XX`.
    PercentUpper,
    /// Every byte of the value as `%xx`.
    PercentLower,
    /// As it is.
    Raw,
    /// The name alone, no `=`.
    NameOnly,
}

#[derive(Arbitrary, Debug)]
struct Param {
    name: PName,
    value: PValue,
    encoding: Encoding,
}

#[derive(Arbitrary, Debug)]
struct Input {
    // The redirect first, so that short inputs spend their bytes on it; the
    // client drawn from what is left (no bytes: the smallest valid values).
    params: Vec<Param>,
    base: Base,
    separator: u8,
    fragment: Option<String>,
    when: u8,
    iss_required: bool,
    plain: bool,
    client_id: ClientId,
    issuer: Issuer,
    redirect: RedirectUri,
    authorization_endpoint: EndpointUrl,
    token_endpoint: EndpointUrl,
    scopes: Vec<Scope>,
}

const ERROR_CODES: [&str; 9] = [
    "access_denied",
    "invalid_request",
    "unauthorized_client",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "login_required",
    "\u{1b}",
];

fn near_miss(value: &str, which: u8) -> String {
    match which % 6 {
        0 => format!("{value}x"),
        1 => {
            let mut shorter = value.to_owned();
            shorter.pop();
            shorter
        }
        2 => value.to_ascii_uppercase(),
        3 => format!("{value}/"),
        4 => format!(" {value}"),
        _ => value.trim_end_matches('/').to_owned(),
    }
}

fn name_of(name: &PName) -> &str {
    match name {
        PName::Code => "code",
        PName::State => "state",
        PName::Iss => "iss",
        PName::Error => "error",
        PName::ErrorDescription => "error_description",
        PName::ErrorUri => "error_uri",
        PName::SessionState => "session_state",
        PName::Other(other) => other,
    }
}

fn percent(text: &str, lower: bool) -> String {
    text.bytes()
        .map(|b| {
            if lower {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The redirect text the input describes.
fn redirect_text(input: &Input, state: &str) -> String {
    let issuer = input.issuer.as_str();
    let mut pieces = Vec::new();
    for param in &input.params {
        let name = name_of(&param.name);
        let value = match &param.value {
            PValue::Usual => match param.name {
                PName::Code => "SplxlOBeZQQYbYS6WxSbIA".to_owned(),
                PName::State => state.to_owned(),
                PName::Iss => issuer.to_owned(),
                PName::Error => "access_denied".to_owned(),
                PName::ErrorDescription => "The user said no".to_owned(),
                PName::ErrorUri => "https://op.example.com/e".to_owned(),
                PName::SessionState => "c2Vzc2lvbg.salt".to_owned(),
                PName::Other(_) => "v".to_owned(),
            },
            PValue::State => state.to_owned(),
            PValue::StateNearMiss(which) => near_miss(state, *which),
            PValue::Issuer => issuer.to_owned(),
            PValue::IssuerNearMiss(which) => near_miss(issuer, *which),
            PValue::ErrorCode(i) => ERROR_CODES[usize::from(*i) % ERROR_CODES.len()].to_owned(),
            PValue::Empty => String::new(),
            PValue::Any(any) => any.clone(),
        };
        pieces.push(match param.encoding {
            Encoding::Form => form_urlencoded::Serializer::new(String::new())
                .append_pair(name, &value)
                .finish(),
            Encoding::PercentUpper => {
                format!("{}={}", percent(name, false), percent(&value, false))
            }
            Encoding::PercentLower => format!("{name}={}", percent(&value, true)),
            Encoding::Raw => format!("{name}={value}"),
            Encoding::NameOnly => name.to_owned(),
        });
    }
    let separator = ["&", "&&", ";"][usize::from(input.separator % 3)];
    let query = pieces.join(separator);
    let mut text = match input.base {
        Base::Redirect => {
            let redirect = input.redirect.as_str();
            let join = if redirect.contains('?') { '&' } else { '?' };
            format!("{redirect}{join}{query}")
        }
        Base::Bare => query,
        Base::Question => format!("?{query}"),
        Base::Other => format!("https://attacker.example/cb?{query}"),
    };
    if let Some(fragment) = &input.fragment {
        text.push('#');
        text.push_str(fragment);
    }
    text
}

struct Case<'a> {
    input: &'a Input,
    redirect: String,
    pairs: Option<Vec<(String, String)>>,
    state: String,
    challenge: String,
    want: Outcome,
    now: UnixTime,
}

fuzz_target!(|input: Input| {
    let with_issuer = !input.plain;
    let (now, in_time) = match input.when % 4 {
        0 => (NOW, true),
        1 => (NOW.saturating_add_secs(DEFAULT_MAX_PENDING_AGE), true),
        2 => (NOW.saturating_add_secs(DEFAULT_MAX_PENDING_AGE + 1), false),
        _ => (NOW.saturating_sub_secs(61), false),
    };
    let mut client = Client::new(input.client_id.clone(), ClientAuth::None)
        .with_authorization_endpoint(input.authorization_endpoint.clone())
        .with_token_endpoint(input.token_endpoint.clone())
        .with_required_callback_iss(input.iss_required);
    let mut rng = CountingRng::new(0);
    let redirect_uri = input.redirect.as_str();
    let begun = if with_issuer {
        client = client.with_issuer(input.issuer.clone());
        client
            .sign_in(redirect_uri)
            .and_then(|request| request.begin(&mut rng, NOW))
            .map(|(url, pending)| (url, Ok(pending)))
    } else {
        let mut request = client
            .authorize(redirect_uri)
            .expect("a valid redirect uri");
        for scope in &input.scopes {
            request = request.scope(scope.clone());
        }
        request
            .begin(&mut rng, NOW)
            .map(|(url, pending)| (url, Err(pending)))
    };
    // A plain OAuth request asking for `openid` is refused: that is a
    // sign-in (and would skip the ID token checks).
    let asks_openid = !with_issuer && input.scopes.iter().any(|s| s.as_str() == "openid");
    let (url, pending) = match begun {
        Err(Error::OpenIdNeedsSignIn) if asks_openid => return,
        other => {
            assert!(!asks_openid, "a plain request for openid began");
            other.expect("a request of valid values begins")
        }
    };
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .expect("the authorization url has it")
    };
    let state = param("state");
    let challenge = param("code_challenge");

    let redirect = redirect_text(&input, &state);
    let pairs: Option<Vec<(String, String)>> = query_of(&redirect).map(|query| {
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    });
    let want = if in_time {
        outcome(
            pairs.as_deref(),
            &state,
            with_issuer.then_some(input.issuer.as_str()),
            input.iss_required,
        )
    } else {
        Outcome::Expired
    };
    let case = Case {
        input: &input,
        redirect,
        pairs,
        state,
        challenge,
        want,
        now,
    };
    match pending {
        Ok(pending) => judge(pending.callback(&client, &case.redirect, now), case),
        Err(pending) => judge(pending.callback(&client, &case.redirect, now), case),
    }
});

/// Checks the callback's `result` against the oracle, then the token request
/// of the exchange it gave, if any.
fn judge<F: Flow>(result: Result<F, Error>, case: Case<'_>)
where
    F::Output: std::fmt::Debug,
{
    let Case {
        input,
        redirect,
        pairs,
        state,
        challenge,
        want,
        now,
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
                    assert_eq!(expected, input.issuer.as_str());
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
                            Outcome::OAuth(sent.clone())
                        }
                        other => panic!("Error::OAuth, expected {other:?}"),
                    }
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
    assert_eq!(
        request.uri().to_string(),
        input.token_endpoint.as_str(),
        "sent to another url"
    );
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
        ("client_id".to_owned(), input.client_id.as_str().to_owned()),
        ("code".to_owned(), code),
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        (
            "redirect_uri".to_owned(),
            input.redirect.as_str().to_owned(),
        ),
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
