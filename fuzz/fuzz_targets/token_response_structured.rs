//! `parse_token_response` on token responses built structurally, so that
//! every tolerance path of the core is reached with well-formed bodies and
//! not only by raw bytes: an `expires_in` as a number or a string (of digits,
//! padded, signed, fractional, beyond `u64`), `token_type` lower-case, upper,
//! empty or missing, `scope` space- or comma-separated, form-encoded bodies
//! (labelled or not), `error` with any status (GitHub's 200), 201, JSON as
//! `text/plain` or unlabelled, a byte order mark, whitespace around the body,
//! repeated members (also spelled with `\u` escapes), and members of every
//! JSON type.
//!
//! Input (drawn with `arbitrary`): a status, a `Content-Type`, the instant
//! of receipt, the body's envelope (BOM, leading and trailing bytes), its
//! format (JSON or form, encoded or raw) and its members: each a protocol
//! name (`access_token`, `token_type`, `expires_in`, `refresh_token`,
//! `scope`, `id_token`, `error`, `error_description`, `error_uri`) or any
//! other, with a value that is the usual one, one of the known deviations
//! for that member, or any JSON value.
//!
//! Oracle: the expected outcome is derived from the produced bytes alone
//! (`serde_json` and `form_urlencoded`, the documented rules of
//! `grantflow::parse_token_response` and its tolerant edge): `Malformed`,
//! `OAuth` with the code, description and URI (escaped and bounded as the
//! core quotes server text), or the token set with every field (access
//! token, type, expiry, refresh token, scopes split as documented, ID token,
//! the rest in `extra`). The core's result must be exactly that; the shared
//! checks of `token_response` (`check_token_result`) apply too.

#![no_main]

use arbitrary::Arbitrary;
use grantflow::{ErrorResponse, TokenType, UnixTime, parse_token_response};
use grantflow_fuzz::json::{Document, first_repeat};
use grantflow_fuzz::structured::{Instant, Json, Spelling};
use grantflow_fuzz::{build_response, check_token_result};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const CONTENT_TYPES: [Option<&str>; 10] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    Some("text/plain; charset=UTF-8"),
    Some("application/x-www-form-urlencoded"),
    Some("APPLICATION/X-WWW-FORM-URLENCODED ; charset=utf-8"),
    Some("text/html"),
    Some(""),
    Some("application/jwt"),
];

const STATUSES: [u16; 9] = [200, 201, 204, 202, 400, 401, 403, 500, 503];

#[derive(Arbitrary, Debug)]
enum Status {
    Listed(u8),
    Raw(u16),
}

#[derive(Arbitrary, Debug)]
enum Name {
    AccessToken,
    TokenType,
    ExpiresIn,
    RefreshToken,
    Scope,
    IdToken,
    Error,
    ErrorDescription,
    ErrorUri,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    /// The usual value of the member.
    Usual,
    /// One of its known deviations.
    Deviation(u8),
    /// Any JSON.
    Any(Json),
}

#[derive(Arbitrary, Debug)]
enum Format {
    /// A JSON object (names and strings spelled as drawn).
    Json(Spelling),
    /// A form body, each name and value form-encoded.
    Form,
    /// A form body joined raw: `&`, `=`, `%` and `+` in values stay as they are.
    RawForm,
}

#[derive(Arbitrary, Debug)]
struct Input {
    status: Status,
    content_type: u8,
    now: Instant,
    bom: bool,
    leading: u8,
    trailing: u8,
    format: Format,
    members: Vec<(Name, Val)>,
}

fn name_of(name: &Name) -> &str {
    match name {
        Name::AccessToken => "access_token",
        Name::TokenType => "token_type",
        Name::ExpiresIn => "expires_in",
        Name::RefreshToken => "refresh_token",
        Name::Scope => "scope",
        Name::IdToken => "id_token",
        Name::Error => "error",
        Name::ErrorDescription => "error_description",
        Name::ErrorUri => "error_uri",
        Name::Other(other) => other,
    }
}

fn s(text: &str) -> Json {
    Json::Str(text.to_owned())
}

/// The usual value (index 0) and the known deviations of each member.
fn value_of(name: &Name, val: Val) -> Json {
    let choices: Vec<Json> = match name {
        Name::AccessToken => vec![
            s("2YotnFZFEjr1zCsicMWpAA"),
            s(""),
            s(" "),
            s("gho_16C7e42F292c6912E7710c838347Ae178B4a"),
            Json::Null,
        ],
        Name::TokenType => vec![
            s("Bearer"),
            s("bearer"),
            s("BEARER"),
            s("DPoP"),
            s("dpop"),
            s("mac"),
            s(""),
            s("Bearer "),
            Json::Null,
        ],
        Name::ExpiresIn => vec![
            Json::UInt(3600),
            s("3600"),
            s(" 3600 "),
            s("36.5"),
            s("-1"),
            s("+5"),
            s(""),
            s("0"),
            s("\u{663}"),
            s("18446744073709551615"),
            s("18446744073709551616"),
            Json::Float(3600.0),
            Json::Int(-1),
            Json::UInt(u64::MAX),
            Json::Exponent(0, 3),
            Json::Null,
        ],
        Name::RefreshToken => vec![s("tGzv3JOkF0XG5Qx2TlKWIA"), s(""), Json::Null],
        Name::Scope => vec![
            s("openid profile"),
            s("repo,gist"),
            s("repo, gist"),
            s(" a  b "),
            s(""),
            s(","),
            s("a b,c"),
            s("single"),
            Json::Arr(vec![s("a"), s("b")]),
            Json::Null,
        ],
        Name::IdToken => vec![s("eyJhbGciOiJIUzI1NiJ9.e30.c2ln"), s(""), Json::Null],
        Name::Error => vec![
            s("invalid_grant"),
            s("invalid_request"),
            s("invalid_client"),
            s("unauthorized_client"),
            s("unsupported_grant_type"),
            s("invalid_scope"),
            s("temporarily_unavailable"),
            s("server_error"),
            s("authorization_pending"),
            s("slow_down"),
            s("use_dpop_nonce"),
            s("bad_verification_code"),
            s("\u{1b}"),
            s(""),
            s("x\ny"),
            Json::Null,
            Json::Bool(true),
        ],
        Name::ErrorDescription => vec![
            s("The provided authorization grant is invalid"),
            s(&"long ".repeat(200)),
            s("line\r\nbreak\u{202e}"),
            Json::UInt(1),
            Json::Null,
        ],
        Name::ErrorUri => vec![
            s("https://as.example.com/errors/invalid_grant"),
            s(""),
            Json::Arr(Vec::new()),
        ],
        Name::Other(_) => vec![s("x"), Json::Null, Json::Obj(Vec::new())],
    };
    match val {
        Val::Usual => choices[0].clone(),
        Val::Deviation(i) => choices[usize::from(i) % choices.len()].clone(),
        Val::Any(json) => json,
    }
}

fn body_of(input: Input) -> Vec<u8> {
    let members: Vec<(String, Json)> = input
        .members
        .into_iter()
        .map(|(name, val)| {
            let value = value_of(&name, val);
            (name_of(&name).to_owned(), value)
        })
        .collect();
    let text = match input.format {
        Format::Json(spelling) => grantflow_fuzz::structured::write_object(&members, spelling),
        Format::Form => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (name, value) in &members {
                form.append_pair(name, &value.as_text());
            }
            form.finish()
        }
        Format::RawForm => members
            .iter()
            .map(|(name, value)| format!("{name}={}", value.as_text()))
            .collect::<Vec<_>>()
            .join("&"),
    };
    let mut body = Vec::new();
    if input.bom {
        body.extend_from_slice(b"\xEF\xBB\xBF");
    }
    body.extend_from_slice(
        [&b""[..], b" ", b"\r\n\t", b"\x0c", b"\xEF\xBB\xBF", b"\0"]
            [usize::from(input.leading % 6)],
    );
    body.extend_from_slice(text.as_bytes());
    body.extend_from_slice(
        [&b""[..], b"\n", b" \t", b"x", b",", b"}"][usize::from(input.trailing % 6)],
    );
    body
}

/// What the core must return.
#[derive(Debug)]
enum Want {
    Malformed(&'static str),
    OAuth {
        code: String,
        description: Option<String>,
        uri: Option<String>,
    },
    Tokens {
        access_token: String,
        token_type: TokenType,
        expires_in: Option<u64>,
        refresh_token: Option<String>,
        scopes: Option<Vec<String>>,
        id_token: Option<String>,
        extra: Map<String, Value>,
    },
}

/// A string member: absent or `null` is `None`, another type an error.
fn string(map: &Map<String, Value>, name: &str) -> Result<Option<String>, &'static str> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err("a string member of another type"),
    }
}

/// The documented rules, from the bytes.
fn oracle(status: u16, content_type: Option<&str>, body: &[u8]) -> Want {
    use Want::Malformed;
    // One byte order mark is skipped.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let members: Vec<(String, Value)> = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Malformed("empty body"),
        Some(b'{') => match Document::parse(body) {
            Document::Object(_, true) => return Malformed("nested repeat"),
            Document::Object(members, false) => members,
            _ => return Malformed("not a json object"),
        },
        Some(_) => {
            let media = content_type
                .map(|c| c.split(';').next().unwrap_or_default().trim())
                .filter(|m| !m.is_empty());
            let trimmed = body.trim_ascii();
            let plausible = trimmed.contains(&b'=') && trimmed.iter().all(|b| b.is_ascii_graphic());
            let form = match media {
                None => plausible,
                Some(m) if m.eq_ignore_ascii_case("application/x-www-form-urlencoded") => true,
                Some(m) if m.eq_ignore_ascii_case("text/plain") => plausible,
                Some(_) => false,
            };
            if !form {
                return Malformed("neither json nor form");
            }
            form_urlencoded::parse(trimmed)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        }
    };
    if first_repeat(&members).is_some() {
        return Malformed("repeated member");
    }
    let map: Map<String, Value> = members.into_iter().collect();
    match map.get("error") {
        None | Some(Value::Null) => {}
        Some(Value::String(code)) => {
            if code.chars().all(char::is_control) {
                return Malformed("error code without a printable character");
            }
            let (Ok(description), Ok(uri)) =
                (string(&map, "error_description"), string(&map, "error_uri"))
            else {
                return Malformed("error_description or error_uri not a string");
            };
            return Want::OAuth {
                code: code.clone(),
                description,
                uri,
            };
        }
        Some(_) => return Malformed("error not a string"),
    }
    if !(200..300).contains(&status) {
        return Malformed("non-2xx without an error");
    }
    let fields = (|| {
        let access_token = string(&map, "access_token")?
            .filter(|t| !t.is_empty())
            .ok_or("access_token missing or empty")?;
        let token_type = match string(&map, "token_type")?.as_deref() {
            None | Some("") => TokenType::Bearer,
            Some(t) if t.eq_ignore_ascii_case("bearer") => TokenType::Bearer,
            Some(t) if t.eq_ignore_ascii_case("dpop") => TokenType::DPoP,
            Some(t) => TokenType::Other(t.to_owned()),
        };
        let expires_in = match map.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_u64().ok_or("expires_in not a u64")?),
            Some(Value::String(text)) => {
                let digits = text.trim();
                if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err("expires_in not digits");
                }
                Some(digits.parse::<u64>().map_err(|_| "expires_in beyond u64")?)
            }
            Some(_) => return Err("expires_in of another type"),
        };
        let refresh_token = string(&map, "refresh_token")?.filter(|t| !t.is_empty());
        let scopes = string(&map, "scope")?.map(|scope| {
            let separator = if scope.contains(' ') { ' ' } else { ',' };
            scope
                .split(separator)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        let id_token = string(&map, "id_token")?.filter(|t| !t.is_empty());
        let mut extra = map.clone();
        for known in [
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "scope",
            "id_token",
            "error",
        ] {
            extra.remove(known);
        }
        Ok(Want::Tokens {
            access_token,
            token_type,
            expires_in,
            refresh_token,
            scopes,
            id_token,
            extra,
        })
    })();
    fields.unwrap_or_else(Malformed)
}

fuzz_target!(|input: Input| {
    let status = match input.status {
        Status::Listed(i) => STATUSES[usize::from(i) % STATUSES.len()],
        Status::Raw(raw) => 100 + raw % 500,
    };
    let content_type = CONTENT_TYPES[usize::from(input.content_type) % CONTENT_TYPES.len()];
    let now = UnixTime::from_secs(input.now.secs());
    let body = body_of(input);
    let response = build_response(status, content_type, &body);
    let result = parse_token_response(&response, now);
    check_token_result(&response, now, &result);

    let want = oracle(status, content_type, &body);
    match (result, want) {
        (Err(grantflow::Error::MalformedResponse(m)), Want::Malformed(why)) => {
            assert_eq!(m.status, status, "{why}");
        }
        (
            Err(grantflow::Error::OAuth(got)),
            Want::OAuth {
                code,
                description,
                uri,
            },
        ) => {
            let max = ErrorResponse::MAX_TEXT;
            assert_eq!(got.status, Some(status));
            assert!(
                grantflow_fuzz::is_quote_of(got.error.as_str(), &code, max),
                "code {:?} from {code:?}",
                got.error.as_str()
            );
            for (quoted, sent) in [(&got.description, &description), (&got.uri, &uri)] {
                match (quoted, sent) {
                    (None, None) => {}
                    (Some(quoted), Some(sent)) => assert!(
                        grantflow_fuzz::is_quote_of(quoted, sent, max),
                        "{quoted:?} from {sent:?}"
                    ),
                    other => panic!("error text {other:?}"),
                }
            }
        }
        (
            Ok(tokens),
            Want::Tokens {
                access_token,
                token_type,
                expires_in,
                refresh_token,
                scopes,
                id_token,
                extra,
            },
        ) => {
            assert_eq!(tokens.access_token.secret(), access_token);
            assert_eq!(tokens.token_type, token_type);
            assert_eq!(
                tokens.expires_at,
                expires_in.map(|secs| now.saturating_add_secs(secs))
            );
            assert_eq!(
                tokens.refresh_token.as_ref().map(|t| t.secret()),
                refresh_token.as_deref()
            );
            assert_eq!(
                tokens
                    .scopes
                    .as_ref()
                    .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
                scopes
                    .as_ref()
                    .map(|s| s.iter().map(String::as_str).collect::<Vec<_>>())
            );
            assert_eq!(
                tokens.id_token.as_ref().map(|t| t.as_str()),
                id_token.as_deref()
            );
            assert_eq!(tokens.extra, extra);
            assert_eq!(tokens.received_at, now);
        }
        (got, want) => panic!(
            "http {status} {content_type:?} body {:?}: got {got:?}, expected {want:?}",
            String::from_utf8_lossy(&body)
        ),
    }
});
