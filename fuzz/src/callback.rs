//! The authorization response rules (RFC 6749 §4.1.2, RFC 9207 §2.4) that
//! `authorization_callback` and `callback_structured` judge a callback by,
//! derived from the form-decoded query, apart from the core.

/// The parameters of an authorization response the callback reads.
pub const KNOWN: [&str; 6] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

/// What the callback must do with a redirect.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Expired,
    InvalidUrl,
    Duplicate(String),
    MissingState,
    StateMismatch,
    IssuerMismatch,
    MissingIssuer,
    InvalidErrorCode,
    OAuth(String),
    MissingCode,
    Exchange(String),
}

/// The query the callback reads: the URL's, or the text itself when it is
/// not a URL (a leading `?` dropped); `None` when it is neither: it has a
/// `#`, or `://` before its first `=` (a URL that failed to parse; a query
/// itself may carry `:` and `/` unencoded).
pub fn query_of(redirect: &str) -> Option<String> {
    if let Ok(url) = url::Url::parse(redirect) {
        return Some(url.query().unwrap_or_default().to_owned());
    }
    let query = redirect.strip_prefix('?').unwrap_or(redirect);
    let before_first_equals = query.split('=').next().unwrap_or_default();
    (!query.contains('#') && !before_first_equals.contains("://")).then(|| query.to_owned())
}

/// The outcome the documented order of checks gives for the redirect's
/// parameters (`None`: not a URL nor a query), the `state` sent, the
/// client's issuer and whether RFC 9207 `iss` is required, for a callback
/// in time.
pub fn outcome(
    pairs: Option<&[(String, String)]>,
    state: &str,
    issuer: Option<&str>,
    iss_required: bool,
) -> Outcome {
    let Some(pairs) = pairs else {
        return Outcome::InvalidUrl;
    };
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in pairs {
        if KNOWN.contains(&name.as_str()) {
            if seen.contains(&name.as_str()) {
                return Outcome::Duplicate(name.clone());
            }
            seen.push(name);
        }
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    match get("state") {
        None => return Outcome::MissingState,
        Some(received) if received != state => return Outcome::StateMismatch,
        Some(_) => {}
    }
    match (issuer, get("iss")) {
        (Some(expected), Some(found)) if expected != found => return Outcome::IssuerMismatch,
        (_, None) if iss_required => return Outcome::MissingIssuer,
        _ => {}
    }
    if let Some(error) = get("error") {
        if error.chars().all(char::is_control) {
            return Outcome::InvalidErrorCode;
        }
        return Outcome::OAuth(error.to_owned());
    }
    match get("code") {
        None => Outcome::MissingCode,
        Some(code) => Outcome::Exchange(code.to_owned()),
    }
}

/// The checks on any accepted callback, whatever the outcome derivation
/// says: it came in time (from 60 s before `began` to the pending value's
/// maximum age after it), with the exact `state` once and a non-empty
/// `code` once.
pub fn check_accepted(
    pairs: Option<&[(String, String)]>,
    state: &str,
    began: grantflow::UnixTime,
    now: grantflow::UnixTime,
    redirect: &str,
) {
    assert!(
        (began.saturating_sub_secs(60)
            ..=began.saturating_add_secs(grantflow::DEFAULT_MAX_PENDING_AGE))
            .contains(&now),
        "accepted at {now}"
    );
    let pairs = pairs.expect("a parsed query");
    let states: Vec<_> = pairs.iter().filter(|(k, _)| k == "state").collect();
    let codes: Vec<_> = pairs.iter().filter(|(k, _)| k == "code").collect();
    assert!(
        states.len() == 1 && states[0].1 == state,
        "accepted without the exact state once: {redirect:?}"
    );
    assert!(
        codes.len() == 1 && !codes[0].1.is_empty(),
        "accepted without one non-empty code: {redirect:?}"
    );
}
