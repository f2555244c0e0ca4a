//! Reading `WWW-Authenticate` challenges: the scheme, its auth-params or its
//! token68, for every challenge in every `WWW-Authenticate` header value.
//!
//! A protected resource that refuses an access token says why in this header,
//! not in the body: RFC 6750 §3 for `Bearer` and RFC 9449 §7.1 for `DPoP`, e.g.
//!
//! ```text
//! WWW-Authenticate: DPoP algs="ES256 PS256", error="use_dpop_nonce",
//!     Bearer realm="example", error="invalid_token", error_description="The access token expired"
//! ```
//!
//! The grammar is RFC 9110 §11.6.1 (`WWW-Authenticate = #challenge`), §11.1 and
//! §11.2 (challenge, auth-param, token68), previously RFC 7235 §4.1 and §2.1:
//!
//! ```text
//! challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param = token BWS "=" BWS ( token / quoted-string )
//! token68    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! with tokens from §5.6.2, lists (empty elements allowed) from §5.6.1,
//! whitespace from §5.6.3 and quoted strings with `\` escapes (quoted-pair)
//! from §5.6.4. A quoted string may hold commas, so a comma only separates list
//! elements outside quotes; after a comma, `token BWS "="` continues the current
//! challenge and any other token starts the next one.
//!
//! Scheme and parameter names compare case-insensitively (§11.1, §11.2), and a
//! scheme is a whole token: `Bearerxyz` is a scheme of its own, not `Bearer`.
//!
//! This is the tolerant edge, so the parser never fails and never panics:
//! - a header value that is not UTF-8 or holds a control character is skipped;
//! - a malformed piece (a param without a value, garbage after a value, a
//!   stray quote, a param before any scheme) is dropped and parsing resumes
//!   at the next comma outside quotes; an unterminated quoted string runs to
//!   the end of the header value (its text is never reparsed as params);
//! - a param is kept only the first time its name occurs in a challenge
//!   (§11.2 allows each name once);
//! - leniency: params after `Bearer,` (no space) still belong to `Bearer`, as
//!   there is no other challenge they could belong to.
//!
//! Work is bounded: at most [`MAX_CHALLENGES`] challenges over all header
//! values (parsing stops there), [`MAX_PARAMS`] params per challenge (later
//! ones are read and dropped), and every scheme, name, value and token68 is
//! cut to [`MAX_VALUE_LEN`] bytes on a char boundary. Each byte is looked at a
//! bounded number of times, so the work is linear in the header size.
//!
//! Values are returned unescaped but otherwise as sent; callers that show them
//! (an `error_description`) still clean them for display.

use ::http::HeaderMap;
use ::http::header::WWW_AUTHENTICATE;

/// The most challenges read from all `WWW-Authenticate` values together.
const MAX_CHALLENGES: usize = 16;
/// The most params kept per challenge.
const MAX_PARAMS: usize = 32;
/// The longest scheme, param name, param value or token68 kept, in bytes.
const MAX_VALUE_LEN: usize = 1024;

/// One challenge from a `WWW-Authenticate` header (RFC 9110 §11.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent (compare it with [`Challenge::is`]).
    scheme: String,
    /// The auth-params in the order sent, first occurrence of each name only.
    params: Vec<(String, String)>,
    /// The token68 form (`Basic abc==`), which excludes auth-params.
    token68: Option<String>,
}

impl Challenge {
    fn new(scheme: &str) -> Self {
        Challenge {
            scheme: cut(scheme, MAX_VALUE_LEN).to_owned(),
            params: Vec::new(),
            token68: None,
        }
    }

    /// The auth-scheme as sent (`Bearer`, `DPoP`, …).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether this challenge is of `scheme`, compared case-insensitively.
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of the auth-param `name` (case-insensitive), unescaped.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every auth-param kept, as `(name, value)` in the order sent: the first
    /// occurrence of each name only, at most 32, values unescaped.
    ///
    /// ```
    /// use grantflow::http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(
    ///     WWW_AUTHENTICATE,
    ///     HeaderValue::from_static(r#"DPoP algs="ES256 PS256", error=use_dpop_nonce"#),
    /// );
    /// let challenges = grantflow::parse_challenges(&headers);
    /// let params: Vec<_> = challenges[0].params().collect();
    /// assert_eq!(params, [("algs", "ES256 PS256"), ("error", "use_dpop_nonce")]);
    /// ```
    pub fn params(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.params
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// The token68 of a challenge like `Basic abc==`.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// Adds a param unless the challenge is full or already has `name`.
    ///
    /// Names are compared as kept (cut to [`MAX_VALUE_LEN`]), so two names
    /// that differ only past the cut are one name, kept once.
    fn add_param(&mut self, name: &str, value: String) {
        let name = cut(name, MAX_VALUE_LEN);
        if self.params.len() < MAX_PARAMS && self.param(name).is_none() {
            self.params.push((name.to_owned(), value));
        }
    }
}

/// Every challenge in every `WWW-Authenticate` value of `headers`, in order:
/// what a resource server's 401 says about the access token (RFC 6750 §3,
/// RFC 9449 §7.1).
///
/// ```
/// use grantflow::http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(
///     WWW_AUTHENTICATE,
///     HeaderValue::from_static(r#"Bearer realm="api, v2", error="invalid_token""#),
/// );
/// let challenges = grantflow::parse_challenges(&headers);
/// assert!(challenges[0].is("bearer"));
/// assert_eq!(challenges[0].param("error"), Some("invalid_token"));
/// assert_eq!(challenges[0].param("realm"), Some("api, v2"));
/// ```
///
/// Values that are not UTF-8 are skipped; malformed pieces are skipped; at
/// most 16 are returned. Never fails, never panics.
pub fn parse_challenges(headers: &HeaderMap) -> Vec<Challenge> {
    let mut challenges = Vec::new();
    for value in headers.get_all(WWW_AUTHENTICATE) {
        if challenges.len() >= MAX_CHALLENGES {
            break;
        }
        // Not `to_str`: that refuses any non-ASCII byte, and an
        // `error_description` in UTF-8 is worth keeping.
        if let Ok(text) = core::str::from_utf8(value.as_bytes()) {
            parse_text(text, &mut challenges);
        }
    }
    challenges
}

/// The first challenge of one of `schemes` (case-insensitive) that carries a
/// non-empty `error` param (RFC 6750 §3.1, RFC 9449 §7.1).
pub(crate) fn oauth_challenge<'a>(
    challenges: &'a [Challenge],
    schemes: &[&str],
) -> Option<&'a Challenge> {
    challenges.iter().find(|challenge| {
        challenge
            .param("error")
            .is_some_and(|error| !error.is_empty())
            && schemes.iter().any(|scheme| challenge.is(scheme))
    })
}

/// Appends the challenges of one header value to `out`, up to the bound.
fn parse_text(text: &str, out: &mut Vec<Challenge>) {
    // `HeaderValue` refuses these already; a value built unchecked may not.
    if text.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return;
    }
    let mut cursor = Cursor { text, pos: 0 };
    loop {
        cursor.skip_ws_and_commas();
        if cursor.at_end() || out.len() >= MAX_CHALLENGES {
            return;
        }
        let Some(scheme) = cursor.token() else {
            // A stray quote, `=` or other non-token: not a challenge.
            cursor.skip_element();
            continue;
        };
        let after_scheme = cursor.pos;
        cursor.skip_ws();
        match cursor.peek() {
            // `realm="x"` or `realm = "x"` before any scheme: a stray param.
            Some(b'=') => {
                cursor.skip_element();
                continue;
            }
            None | Some(b',') => {}
            // `Bearer realm=…`: the scheme, 1*SP, then the rest.
            Some(_) if cursor.pos > after_scheme => {}
            // `Bearer"x"`, `Bearer/x`: no challenge starts like that.
            Some(_) => {
                cursor.skip_element();
                continue;
            }
        }
        let mut challenge = Challenge::new(scheme);
        if let Some(token68) = cursor.token68() {
            challenge.token68 = Some(cut(token68, MAX_VALUE_LEN).to_owned());
        } else {
            parse_params(&mut cursor, &mut challenge);
        }
        out.push(challenge);
    }
}

/// Reads `#auth-param` into `challenge`, stopping before the token that
/// starts the next challenge (or at the end).
fn parse_params(cursor: &mut Cursor<'_>, challenge: &mut Challenge) {
    loop {
        cursor.skip_ws_and_commas();
        if cursor.at_end() {
            return;
        }
        let element = cursor.pos;
        let Some(name) = cursor.token() else {
            cursor.skip_element();
            continue;
        };
        cursor.skip_ws();
        if cursor.peek() != Some(b'=') {
            // `Bearer` in `DPoP algs="ES256", Bearer realm="x"`.
            cursor.pos = element;
            return;
        }
        cursor.bump();
        cursor.skip_ws();
        let value = if cursor.peek() == Some(b'"') {
            cursor.quoted_string()
        } else {
            cursor
                .token()
                .map(|token| cut(token, MAX_VALUE_LEN).to_owned())
        };
        cursor.skip_ws();
        match value {
            Some(value) if matches!(cursor.peek(), None | Some(b',')) => {
                challenge.add_param(name, value);
            }
            // `error=`, `error=invalid token`, `error="a"b`: drop the param.
            _ => cursor.skip_element(),
        }
    }
}

/// A position in one header value. `pos` only ever stops on a char boundary:
/// it moves past ASCII bytes one at a time, or to a boundary from
/// `char_indices`, or to the end.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// Moves past one byte; only called after `peek` saw an ASCII byte.
    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1).min(self.text.len());
    }

    /// OWS (RFC 9110 §5.6.3): spaces and tabs.
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.bump();
        }
    }

    /// Whitespace and empty list elements (RFC 9110 §5.6.1).
    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.bump();
        }
    }

    /// The longest run of ASCII bytes from here that match `accept`.
    fn take_while(&mut self, accept: fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(accept) {
            self.bump();
        }
        // Both ends are char boundaries (only ASCII was skipped), so `get`
        // always succeeds; "" is just a safe fallback.
        self.text.get(start..self.pos).unwrap_or("")
    }

    /// A token (RFC 9110 §5.6.2), or `None` (nothing consumed) if none is here.
    fn token(&mut self) -> Option<&'a str> {
        Some(self.take_while(is_tchar)).filter(|token| !token.is_empty())
    }

    /// A token68 that makes up the whole rest of the challenge: followed by
    /// OWS and then a comma or the end. Otherwise nothing is consumed.
    fn token68(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if self.take_while(is_token68_char).is_empty() {
            return None;
        }
        self.take_while(|b| b == b'=');
        let token68 = self.text.get(start..self.pos);
        self.skip_ws();
        if matches!(self.peek(), None | Some(b',')) {
            token68
        } else {
            self.pos = start;
            None
        }
    }

    /// A quoted-string (RFC 9110 §5.6.4) starting at the `"` here, unescaped
    /// and cut to [`MAX_VALUE_LEN`] bytes. `None` if it is not terminated;
    /// the cursor is then at the end.
    fn quoted_string(&mut self) -> Option<String> {
        let rest = self.text.get(self.pos.saturating_add(1)..).unwrap_or("");
        let mut value = Bounded::default();
        let mut escaped = false;
        for (index, c) in rest.char_indices() {
            if escaped {
                // quoted-pair: `\` takes the next character literally.
                value.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                // Past the opening quote, the content and the closing quote.
                self.pos = self
                    .pos
                    .saturating_add(index)
                    .saturating_add(2)
                    .min(self.text.len());
                return Some(value.text);
            } else {
                value.push(c);
            }
        }
        self.pos = self.text.len();
        None
    }

    /// Resynchronises after a malformed piece: moves to the next comma that is
    /// outside a quoted string, or to the end.
    fn skip_element(&mut self) {
        let mut quoted = false;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            if quoted {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    quoted = false;
                }
            } else if b == b'"' {
                quoted = true;
            } else if b == b',' {
                return;
            }
            // Byte steps are fine here: nothing is sliced until the cursor
            // stops, at a comma or the end, both char boundaries.
            self.pos = self.pos.saturating_add(1);
        }
    }
}

/// A string that stops growing, for good, at the first character that would
/// take it past [`MAX_VALUE_LEN`] bytes, so it is always a prefix of the input.
#[derive(Default)]
struct Bounded {
    text: String,
    full: bool,
}

impl Bounded {
    fn push(&mut self, c: char) {
        if self.full || self.text.len().saturating_add(c.len_utf8()) > MAX_VALUE_LEN {
            self.full = true;
        } else {
            self.text.push(c);
        }
    }
}

/// `text` cut to at most `max` bytes, on a char boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        // Ends at 0 at the latest, which is always a boundary.
        end = end.saturating_sub(1);
    }
    text.get(..end).unwrap_or("")
}

/// tchar (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The characters of token68 before its trailing `=` (RFC 9110 §11.2).
fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(WWW_AUTHENTICATE, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    fn parse(value: &str) -> Vec<Challenge> {
        parse_challenges(&headers(&[value.as_bytes()]))
    }

    fn params(challenge: &Challenge) -> Vec<(&str, &str)> {
        challenge
            .params
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect()
    }

    #[test]
    fn scheme_is_case_insensitive() {
        for value in [
            r#"bearer error="invalid_token""#,
            r#"BEARER error="invalid_token""#,
            r#"Bearer error="invalid_token""#,
        ] {
            let challenges = parse(value);
            assert_eq!(challenges.len(), 1, "{value}");
            assert!(challenges[0].is("Bearer"), "{value}");
            assert!(challenges[0].is("bEaReR"), "{value}");
            let found = oauth_challenge(&challenges, &["Bearer"]).unwrap();
            assert_eq!(found.param("error"), Some("invalid_token"));
        }
    }

    #[test]
    fn names_that_differ_only_past_the_cut_are_kept_once() {
        // Found while writing the `www_authenticate` fuzz target's oracle: names were
        // stored cut but compared whole, so two long names sharing their
        // first 1024 bytes were both kept, under the same stored name.
        let long = "n".repeat(MAX_VALUE_LEN);
        let value = format!("Bearer {long}a=1, {long}b=2, {}=3", long.to_uppercase());
        let challenges = parse(&value);
        assert_eq!(challenges.len(), 1);
        let kept = challenges[0].params().collect::<Vec<_>>();
        assert_eq!(kept, [(long.as_str(), "1")]);
    }

    #[test]
    fn scheme_must_be_the_whole_token() {
        let challenges = parse(r#"Bearerxyz error="invalid_token""#);
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].scheme, "Bearerxyz");
        assert!(!challenges[0].is("Bearer"));
        assert_eq!(oauth_challenge(&challenges, &["Bearer", "DPoP"]), None);
    }

    #[test]
    fn oauthlib_description_keeps_its_commas() {
        let challenges = parse(
            r#"Bearer error="invalid_token", error_description="The access token provided is expired, revoked, malformed, or invalid for other reasons.""#,
        );
        assert_eq!(challenges.len(), 1);
        assert_eq!(
            params(&challenges[0]),
            [
                ("error", "invalid_token"),
                (
                    "error_description",
                    "The access token provided is expired, revoked, malformed, or invalid for other reasons."
                ),
            ]
        );
    }

    #[test]
    fn escaped_quotes_and_backslashes_are_unescaped() {
        let challenges = parse(
            r#"Bearer error="invalid_token", error_description="the \"aud\" claim, \\ and \x", realm="r""#,
        );
        assert_eq!(challenges.len(), 1);
        assert_eq!(
            challenges[0].param("error_description"),
            Some(r#"the "aud" claim, \ and x"#)
        );
        assert_eq!(challenges[0].param("realm"), Some("r"));
    }

    #[test]
    fn several_challenges_in_one_header() {
        let challenges = parse(
            r#"DPoP algs="ES256", error="use_dpop_nonce", Bearer realm="x", error="invalid_token""#,
        );
        assert_eq!(challenges.len(), 2);
        assert!(challenges[0].is("DPoP"));
        assert_eq!(
            params(&challenges[0]),
            [("algs", "ES256"), ("error", "use_dpop_nonce")]
        );
        assert!(challenges[1].is("Bearer"));
        assert_eq!(
            params(&challenges[1]),
            [("realm", "x"), ("error", "invalid_token")]
        );
        let first = oauth_challenge(&challenges, &["Bearer", "DPoP"]).unwrap();
        assert!(first.is("DPoP"));
        let bearer = oauth_challenge(&challenges, &["bearer"]).unwrap();
        assert_eq!(bearer.param("error"), Some("invalid_token"));
    }

    #[test]
    fn several_header_values() {
        let challenges = parse_challenges(&headers(&[
            b"Basic realm=\"api\"",
            b"Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"read write\"",
            b"DPoP algs=\"ES256\"",
        ]));
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "Bearer", "DPoP"]);
        let found = oauth_challenge(&challenges, &["DPoP", "Bearer"]).unwrap();
        assert!(found.is("Bearer"));
        assert_eq!(found.param("scope"), Some("read write"));
    }

    #[test]
    fn token68() {
        let challenges = parse("Basic abc==, Negotiate YII+/x, Bearer realm=\"x\"");
        assert_eq!(challenges.len(), 3);
        assert!(challenges[0].is("Basic"));
        assert_eq!(challenges[0].token68(), Some("abc=="));
        assert!(challenges[0].params.is_empty());
        assert_eq!(challenges[1].token68(), Some("YII+/x"));
        assert_eq!(challenges[2].token68(), None);
        assert_eq!(challenges[2].param("realm"), Some("x"));
    }

    #[test]
    fn empty_whitespace_and_garbage_values() {
        for value in [
            "",
            " ",
            "\t \t",
            ",",
            " , ,, ",
            "=",
            "\"",
            "\"\"",
            "==,==",
            "\\",
            "=\"x\"",
            "\"Bearer error=x\"",
            "/",
            "realm=\"x\"",
            "error=invalid_token",
        ] {
            assert_eq!(parse(value), [], "{value:?}");
        }
        // Garbage around a good challenge does not hide it.
        let challenges = parse(r#"=, "junk, more", Bearer error="invalid_token", ="#);
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].param("error"), Some("invalid_token"));
        // A malformed param is dropped; the next one is still read.
        let challenges = parse(r#"Bearer error=invalid token, error_description="d", realm="#);
        assert_eq!(params(&challenges[0]), [("error_description", "d")]);
    }

    #[test]
    fn spaces_around_equals_and_commas() {
        let challenges = parse(
            "Bearer   realm = \"example\" ,error\t=\tinvalid_token ,  error_description= \"a, b\"  ",
        );
        assert_eq!(challenges.len(), 1);
        assert_eq!(
            params(&challenges[0]),
            [
                ("realm", "example"),
                ("error", "invalid_token"),
                ("error_description", "a, b"),
            ]
        );
        assert_eq!(challenges[0].param("ERROR"), Some("invalid_token"));
    }

    #[test]
    fn rfc6750_section3_examples() {
        let challenges = parse(r#"Bearer realm="example""#);
        assert_eq!(challenges.len(), 1);
        assert!(challenges[0].is("Bearer"));
        assert_eq!(params(&challenges[0]), [("realm", "example")]);
        assert_eq!(oauth_challenge(&challenges, &["Bearer"]), None);

        let challenges = parse(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
        );
        assert_eq!(
            params(&challenges[0]),
            [
                ("realm", "example"),
                ("error", "invalid_token"),
                ("error_description", "The access token expired"),
            ]
        );
        assert!(oauth_challenge(&challenges, &["Bearer"]).is_some());
    }

    #[test]
    fn rfc9449_section7_1_example() {
        let challenges = parse(
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#,
        );
        assert_eq!(challenges.len(), 1);
        let dpop = oauth_challenge(&challenges, &["DPoP"]).unwrap();
        assert_eq!(dpop.param("error"), Some("use_dpop_nonce"));
        assert_eq!(
            dpop.param("error_description"),
            Some("Resource server requires nonce in DPoP proof")
        );

        let challenges = parse(r#"DPoP algs="ES256 PS256""#);
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].param("algs"), Some("ES256 PS256"));
        assert_eq!(oauth_challenge(&challenges, &["DPoP"]), None);
    }

    #[test]
    fn unterminated_quoted_string() {
        let challenges = parse(
            r#"Bearer error="invalid_token", error_description="oops, error="other", Basic x"#,
        );
        // The description swallows the rest; none of it is read as params or
        // challenges, and the params before it survive.
        assert_eq!(challenges.len(), 1);
        assert_eq!(params(&challenges[0]), [("error", "invalid_token")]);
        let challenges = parse(r#"Bearer error="invalid_token\"#);
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].param("error"), None);
    }

    #[test]
    fn ten_thousand_commas() {
        let commas = ",".repeat(10_000);
        assert_eq!(parse(&commas), []);
        let challenges = parse(&format!("Bearer{commas}error=\"x\"{commas}"));
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].param("error"), Some("x"));
        // 10,000 challenges are cut to MAX_CHALLENGES.
        let many = "a,".repeat(10_000);
        assert_eq!(parse(&many).len(), MAX_CHALLENGES);
    }

    #[test]
    fn non_utf8_value_is_skipped() {
        let challenges = parse_challenges(&headers(&[
            b"Bearer error=\"\xff\xfe\"",
            b"Bearer error=\"invalid_token\", error_description=\"caf\xc3\xa9\"",
        ]));
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].param("error_description"), Some("café"));
    }

    #[test]
    fn control_characters_skip_the_value() {
        let mut out = Vec::new();
        parse_text("Bearer error=\"a\nb\"", &mut out);
        parse_text("Bearer error=\"a\x7fb\"", &mut out);
        assert_eq!(out, []);
        parse_text("Bearer error=\"a\tb\"", &mut out);
        assert_eq!(out[0].param("error"), Some("a\tb"));
    }

    #[test]
    fn limits_are_enforced() {
        // Params: the first MAX_PARAMS distinct names; a repeated name keeps
        // its first value.
        let mut value = String::from("Bearer error=first, error=second");
        for i in 0..100 {
            value.push_str(&format!(", p{i}=v"));
        }
        let challenges = parse(&value);
        assert_eq!(challenges[0].params.len(), MAX_PARAMS);
        assert_eq!(challenges[0].param("error"), Some("first"));
        assert_eq!(challenges[0].param("p30"), Some("v"));
        assert_eq!(challenges[0].param("p31"), None);

        // Challenges: counted over all header values.
        let one = "Bearer realm=x, ".repeat(10);
        let challenges = parse_challenges(&headers(&[one.as_bytes(), one.as_bytes()]));
        assert_eq!(challenges.len(), MAX_CHALLENGES);

        // Values: cut to MAX_VALUE_LEN bytes on a char boundary ("é" is 2
        // bytes, so 1023 bytes of "a" + "é" must cut before the "é").
        let long = format!("{}é{}", "a".repeat(MAX_VALUE_LEN - 1), "b".repeat(5000));
        let challenges = parse(&format!("Bearer error_description=\"{long}\", error=x"));
        let description = challenges[0].param("error_description").unwrap();
        assert_eq!(description, "a".repeat(MAX_VALUE_LEN - 1));
        assert_eq!(challenges[0].param("error"), Some("x"));
        let token = "t".repeat(5000);
        let challenges = parse(&format!("{token} {token}={token}, x {token}"));
        assert_eq!(challenges[0].scheme.len(), MAX_VALUE_LEN);
        assert_eq!(challenges[0].params[0].0.len(), MAX_VALUE_LEN);
        assert_eq!(challenges[0].params[0].1.len(), MAX_VALUE_LEN);
        assert_eq!(challenges[1].token68().unwrap().len(), MAX_VALUE_LEN);
    }

    #[test]
    fn oauth_challenge_needs_a_non_empty_error() {
        let challenges = parse(r#"Bearer error="", Bearer realm="x", DPoP error="invalid_token""#);
        assert_eq!(challenges.len(), 3);
        assert_eq!(oauth_challenge(&challenges, &["Bearer"]), None);
        assert!(
            oauth_challenge(&challenges, &["Bearer", "DPoP"])
                .unwrap()
                .is("DPoP")
        );
        assert_eq!(oauth_challenge(&challenges, &[]), None);
    }

    /// Every string of length 0..=MAX_LEN over a small alphabet, alone and
    /// after a scheme: no panic, and the bounds hold.
    #[test]
    fn short_strings_never_panic() {
        const ALPHABET: &[u8] = b"a=\", \\";
        const MAX_LEN: u32 = 5;
        let mut count = 0usize;
        for len in 0..=MAX_LEN {
            for mut n in 0..ALPHABET.len().pow(len) {
                let mut bytes = Vec::new();
                for _ in 0..len {
                    bytes.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                for prefix in [&b""[..], b"Bearer ", b"Basic a, "] {
                    let value = [prefix, &bytes].concat();
                    for challenge in parse_challenges(&headers(&[&value, &value])) {
                        assert!(!challenge.scheme.is_empty());
                        assert!(challenge.params.len() <= MAX_PARAMS);
                        assert!(challenge.token68.is_none() || challenge.params.is_empty());
                    }
                    count += 1;
                }
            }
        }
        assert_eq!(count, 3 * (1 + 6 + 36 + 216 + 1296 + 7776));
    }
}
