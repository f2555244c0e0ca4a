//! `parse_challenges`: the `WWW-Authenticate` reader (RFC 9110 §11.6.1,
//! §11.1–§11.2; RFC 6750 §3, RFC 9449 §7.1) that the UserInfo flow, DPoP
//! and the bearer helpers use on a resource server's 401.
//!
//! Input: one byte, then either
//! - (even byte) raw header values, separated by NUL bytes, each appended as
//!   a `WWW-Authenticate` value when `HeaderValue::from_bytes` takes it; or
//! - (odd byte) challenges drawn with `arbitrary` — a scheme (`Bearer`,
//!   `DPoP`, `Basic`, … in any case, or any token), then a token68 or
//!   auth-params whose names are the protocol's or any token (repeated as
//!   drawn) and whose values are tokens or quoted strings with escapes,
//!   commas, `=`, tabs and UTF-8 — written with the whitespace and empty
//!   list elements the grammar allows, spread over up to four header values.
//!
//! Oracles, on every input:
//! - at most 16 challenges; a scheme is a non-empty token, a param name a
//!   non-empty token, names unique in their challenge (case-insensitively),
//!   at most 32 params, a token68 only without params and of the token68
//!   alphabet, every scheme, name, value and token68 at most 1024 bytes and
//!   free of control characters other than tab;
//! - header values are independent: the challenges of all values are the
//!   challenges of each value alone, concatenated, cut to 16;
//! - written back canonically (`scheme name="value", …`), the challenges
//!   read back unchanged;
//! - `param(name)` and `is(scheme)` agree with `params()` and `scheme()`.
//!
//! And on drawn challenges: the result is exactly the drawn list, with the
//! first occurrence of each name (case-insensitively), the first 32 names,
//! the first 16 challenges, and values cut to 1024 bytes on a char boundary.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use grantflow::http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
use grantflow::{Challenge, parse_challenges};
use libfuzzer_sys::fuzz_target;

const MAX_CHALLENGES: usize = 16;
const MAX_PARAMS: usize = 32;
const MAX_VALUE_LEN: usize = 1024;

/// tchar (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// token68 (RFC 9110 §11.2): `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

fn has_control(s: &str) -> bool {
    s.chars()
        .any(|c| c != '\t' && c.is_control() && (c as u32) < 0x80)
}

/// The longest prefix of `s` of at most `max` bytes ending on a char boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1; // 0 is a boundary, so this stops before underflow.
    }
    &s[..end]
}

/// A challenge as plain data, to compare and to write back.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Model {
    scheme: String,
    params: Vec<(String, String)>,
    token68: Option<String>,
}

impl From<&Challenge> for Model {
    fn from(c: &Challenge) -> Self {
        Model {
            scheme: c.scheme().to_owned(),
            params: c
                .params()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            token68: c.token68().map(str::to_owned),
        }
    }
}

fn models(challenges: &[Challenge]) -> Vec<Model> {
    challenges.iter().map(Model::from).collect()
}

fn headers_of(values: &[Vec<u8>]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(WWW_AUTHENTICATE, value);
        }
    }
    headers
}

/// `value` as a quoted-string (RFC 9110 §5.6.4).
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The canonical text of `challenges`, in one header value.
fn write_back(challenges: &[Model]) -> String {
    let mut parts = Vec::new();
    for c in challenges {
        let mut text = c.scheme.clone();
        if let Some(token68) = &c.token68 {
            text.push(' ');
            text.push_str(token68);
        } else {
            let params = c
                .params
                .iter()
                .map(|(n, v)| format!("{n}={}", quote(v)))
                .collect::<Vec<_>>();
            if !params.is_empty() {
                text.push(' ');
                text.push_str(&params.join(", "));
            }
        }
        parts.push(text);
    }
    parts.join(", ")
}

/// The invariants every result keeps, whatever the input.
fn check_shape(challenges: &[Challenge]) {
    assert!(
        challenges.len() <= MAX_CHALLENGES,
        "{} challenges",
        challenges.len()
    );
    for c in challenges {
        let scheme = c.scheme();
        assert!(is_token(scheme), "scheme {scheme:?} is not a token");
        assert!(scheme.len() <= MAX_VALUE_LEN);
        assert!(c.is(&scheme.to_ascii_uppercase()) && c.is(&scheme.to_ascii_lowercase()));
        let params = c.params().collect::<Vec<_>>();
        assert_eq!(params.len(), c.params().len(), "ExactSizeIterator::len");
        assert!(params.len() <= MAX_PARAMS, "{} params", params.len());
        if let Some(token68) = c.token68() {
            assert!(
                params.is_empty(),
                "token68 {token68:?} with params {params:?}"
            );
            assert!(is_token68(token68), "token68 {token68:?}");
            assert!(token68.len() <= MAX_VALUE_LEN);
        }
        for (i, (name, value)) in params.iter().enumerate() {
            assert!(is_token(name), "param name {name:?} is not a token");
            assert!(name.len() <= MAX_VALUE_LEN && value.len() <= MAX_VALUE_LEN);
            assert!(!has_control(value), "control character in {value:?}");
            for (other, _) in &params[..i] {
                assert!(
                    !other.eq_ignore_ascii_case(name),
                    "param {name:?} kept twice in {params:?}"
                );
            }
            // `param` finds the first (and only) param of that name, in any case.
            assert_eq!(c.param(&name.to_ascii_uppercase()), Some(*value));
            assert_eq!(c.param(name), Some(*value));
        }
    }
}

/// Checks every input-independent oracle for these header values.
fn check(values: &[Vec<u8>]) -> Vec<Model> {
    let all = parse_challenges(&headers_of(values));
    check_shape(&all);
    let all = models(&all);

    // Header values are read independently of each other.
    let mut one_by_one = Vec::new();
    for value in values {
        one_by_one.extend(models(&parse_challenges(&headers_of(
            core::slice::from_ref(value),
        ))));
    }
    one_by_one.truncate(MAX_CHALLENGES);
    assert_eq!(
        all, one_by_one,
        "values read together differ from one by one"
    );

    // Written back canonically, the challenges read back unchanged.
    let text = write_back(&all);
    let again = parse_challenges(&headers_of(&[text.clone().into_bytes()]));
    check_shape(&again);
    assert_eq!(models(&again), all, "written back as {text:?}");
    all
}

const SCHEMES: [&str; 8] = [
    "Bearer",
    "bearer",
    "DPoP",
    "dpop",
    "Basic",
    "Digest",
    "Negotiate",
    "Newauth",
];
const NAMES: [&str; 10] = [
    "realm",
    "error",
    "error_description",
    "error_uri",
    "scope",
    "algs",
    "nonce",
    "ERROR",
    "Realm",
    "resource_metadata",
];
/// Characters a quoted value is drawn from: separators, escapes, tab, UTF-8.
const VALUE_CHARS: [char; 16] = [
    'a', 'Z', '0', ' ', '\t', ',', '=', '"', '\\', ';', '/', 'é', '€', '😀', '\u{202e}', '~',
];

/// One time in 16, while input remains: an exhausted `Unstructured` answers
/// every `ratio` with `true`, which made every value drawn after the end a
/// kilobyte long and the target slow without reaching anything new.
fn now_and_then_long(u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    Ok(!u.is_empty() && u.ratio(1, 16)?)
}

fn draw_token(u: &mut Unstructured<'_>, long: bool) -> arbitrary::Result<String> {
    const TCHARS: &[u8] = b"abcXYZ019!#$%&'*+-.^_`|~";
    let len = if long && now_and_then_long(u)? {
        u.int_in_range(1000..=1100)?
    } else {
        u.int_in_range(1..=12)?
    };
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(*u.choose(TCHARS)? as char);
    }
    Ok(s)
}

fn draw_ws(u: &mut Unstructured<'_>, out: &mut String) -> arbitrary::Result<()> {
    for _ in 0..u.int_in_range(0..=2)? {
        out.push(if u.ratio(1, 3)? { '\t' } else { ' ' });
    }
    Ok(())
}

/// How a drawn param's value is written.
#[derive(Arbitrary, Debug)]
enum ValueForm {
    Token,
    Quoted,
    QuotedEscapingEverything,
    Empty,
}

/// Draws challenges, writes them into header values, and returns both the
/// values and what they must read as.
fn draw(u: &mut Unstructured<'_>) -> arbitrary::Result<(Vec<Vec<u8>>, Vec<Model>)> {
    let mut values: Vec<String> = vec![String::new()];
    let mut expected = Vec::new();
    let count = u.int_in_range(0..=20)?;
    for _ in 0..count {
        if u.is_empty() {
            break; // what follows would be drawn from zeros
        }
        // Start a new header value now and then (never mid-challenge).
        if !values.last().is_some_and(String::is_empty) && values.len() < 4 && u.ratio(1, 4)? {
            values.push(String::new());
        }
        let text = values.last_mut().expect("values is never empty");
        if !text.is_empty() {
            text.push(',');
            draw_ws(u, text)?;
            if u.ratio(1, 6)? {
                text.push(',');
                draw_ws(u, text)?;
            }
        } else if u.ratio(1, 8)? {
            text.push_str(", ");
        }
        let scheme = if u.ratio(2, 3)? {
            (*u.choose(&SCHEMES)?).to_owned()
        } else {
            draw_token(u, true)?
        };
        text.push_str(&scheme);
        let mut model = Model {
            scheme: cut(&scheme, MAX_VALUE_LEN).to_owned(),
            params: Vec::new(),
            token68: None,
        };
        match u.int_in_range(0u8..=5)? {
            0 => {} // the scheme alone
            1 => {
                const T68: &[u8] = b"abcXYZ019-._~+/";
                let mut token68 = String::new();
                for _ in 0..u.int_in_range(1..=40)? {
                    token68.push(*u.choose(T68)? as char);
                }
                for _ in 0..u.int_in_range(0..=2)? {
                    token68.push('=');
                }
                text.push(' ');
                text.push_str(&token68);
                model.token68 = Some(token68);
            }
            _ => {
                let n = u.int_in_range(1..=40)?;
                text.push(' ');
                for i in 0..n {
                    if i > 0 && u.is_empty() {
                        break; // what follows would be drawn from zeros
                    }
                    if i > 0 {
                        draw_ws(u, text)?;
                        text.push(',');
                        draw_ws(u, text)?;
                        if u.ratio(1, 8)? {
                            text.push_str(", ");
                        }
                    }
                    let name = if u.ratio(2, 3)? {
                        (*u.choose(&NAMES)?).to_owned()
                    } else {
                        draw_token(u, true)?
                    };
                    let form = ValueForm::arbitrary(u)?;
                    let value = match form {
                        ValueForm::Token => draw_token(u, true)?,
                        ValueForm::Empty => String::new(),
                        ValueForm::Quoted | ValueForm::QuotedEscapingEverything => {
                            let mut v = String::new();
                            let len = if now_and_then_long(u)? {
                                u.int_in_range(1000..=1100)?
                            } else {
                                u.int_in_range(0..=24)?
                            };
                            for _ in 0..len {
                                v.push(*u.choose(&VALUE_CHARS)?);
                            }
                            v
                        }
                    };
                    text.push_str(&name);
                    draw_ws(u, text)?;
                    text.push('=');
                    draw_ws(u, text)?;
                    match form {
                        ValueForm::Token => text.push_str(&value),
                        ValueForm::Quoted | ValueForm::Empty => text.push_str(&quote(&value)),
                        ValueForm::QuotedEscapingEverything => {
                            text.push('"');
                            for c in value.chars() {
                                text.push('\\');
                                text.push(c);
                            }
                            text.push('"');
                        }
                    }
                    let kept = cut(&name, MAX_VALUE_LEN);
                    if model.params.len() < MAX_PARAMS
                        && !model
                            .params
                            .iter()
                            .any(|(n, _)| n.eq_ignore_ascii_case(kept))
                    {
                        model
                            .params
                            .push((kept.to_owned(), cut(&value, MAX_VALUE_LEN).to_owned()));
                    }
                }
            }
        }
        if u.ratio(1, 6)? {
            draw_ws(u, text)?;
            text.push(',');
        }
        expected.push(model);
    }
    expected.truncate(MAX_CHALLENGES);
    Ok((
        values.into_iter().map(String::into_bytes).collect(),
        expected,
    ))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let values = rest
            .split(|&b| b == 0)
            .take(8)
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>();
        check(&values);
    } else {
        let mut u = Unstructured::new(rest);
        let Ok((values, expected)) = draw(&mut u) else {
            return;
        };
        let got = check(&values);
        assert_eq!(got, expected, "values {values:?}");
    }
});
