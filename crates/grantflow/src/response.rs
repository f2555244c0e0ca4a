//! The tolerant edge: turning whatever an endpoint sent into either a JSON
//! object to read typed fields from, or a typed error.
//!
//! Every OAuth endpoint response goes through `decode` before any typed
//! parsing. It is the one place where real providers' deviations from RFC 6749
//! §5.1/§5.2 are accepted, each on purpose:
//!
//! | what arrives | who sends it | what happens |
//! |---|---|---|
//! | an `{"error": …}` body with status 200 | GitHub | a typed [`ErrorResponse`] |
//! | success with a 2xx other than 200 | CrowdStrike (201) | success |
//! | a form-encoded body | GitHub without `Accept`, old Facebook | read like JSON with string values |
//! | JSON labelled `text/plain` (or unlabelled) | kanidm errors, assorted | parsed as JSON |
//! | a UTF-8 byte order mark before the JSON | assorted .NET servers | skipped |
//!
//! Field-level tolerances (a string `expires_in`, a missing `token_type`, …)
//! live with the typed parser of each response, in [`crate::token`].
//!
//! Everything here is bounded: bodies over [`MAX_BODY`] are refused before
//! parsing, serde_json stops nesting at 128 levels, and a duplicate top-level
//! field is an error (RFC 7159 leaves duplicates undefined; silently keeping
//! one of two `access_token`s is how confusion attacks start).

use core::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode, ErrorResponse, MalformedResponse, clean_text};
use crate::http::{FORM_CONTENT_TYPE, HttpResponse, media_type};

/// The largest response body the core parses, in bytes (1 MiB). Adapters cap
/// bodies when reading them; this holds for bodies handed in by hand too.
pub const MAX_BODY: usize = 1 << 20;

/// A JSON object (or form body) decoded from a response, with its status.
pub(crate) struct Fields {
    pub(crate) status: u16,
    pub(crate) map: Map<String, Value>,
}

/// Decodes an endpoint response into its top-level fields, or the typed error
/// it carries. See the module docs for what is tolerated.
pub(crate) fn decode(response: &HttpResponse) -> Result<Fields, Error> {
    let status = response.status().as_u16();
    let body = response.body().as_slice();
    if body.len() > MAX_BODY {
        return Err(MalformedResponse::without_excerpt(
            status,
            format!(
                "body of {} bytes is larger than {MAX_BODY} bytes",
                body.len()
            ),
        )
        .into());
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let media = media_type(response);

    let map = match start.and_then(|i| body.get(i)) {
        None => {
            return Err(MalformedResponse::without_excerpt(
                status,
                format!("empty body with http {status}"),
            )
            .into());
        }
        Some(b'{') => parse_json_object(status, body)?,
        Some(_) if looks_like_form(media.as_deref(), body) => parse_form(status, body)?,
        Some(_) => {
            let what = media.as_deref().unwrap_or("unlabelled");
            return Err(MalformedResponse::with_excerpt(
                status,
                format!("http {status} with a {what} body that is neither json nor form-encoded"),
                body,
            )
            .into());
        }
    };

    if let Some(error) = map.get("error") {
        return Err(error_response(status, error, &map)?.into());
    }
    if !(200..300).contains(&status) {
        return Err(MalformedResponse::with_excerpt(
            status,
            format!("http {status} without an oauth error code"),
            body,
        )
        .into());
    }
    Ok(Fields { status, map })
}

/// A form body is taken as such when labelled so, or when it is unlabelled or
/// `text/plain` and made only of form characters with at least one `=`.
fn looks_like_form(media: Option<&str>, body: &[u8]) -> bool {
    match media {
        Some(FORM_CONTENT_TYPE) => true,
        None | Some("text/plain") => {
            let body = body.trim_ascii();
            body.contains(&b'=') && body.iter().all(|b| b.is_ascii_graphic())
        }
        Some(_) => false,
    }
}

fn error_response(
    status: u16,
    error: &Value,
    map: &Map<String, Value>,
) -> Result<ErrorResponse, Error> {
    let Value::String(code) = error else {
        return Err(
            MalformedResponse::without_excerpt(status, "field \"error\" is not a string").into(),
        );
    };
    let description = optional_str(status, map, "error_description")?;
    let uri = optional_str(status, map, "error_uri")?;
    Ok(ErrorResponse::new(
        ErrorCode::from_wire(code),
        description,
        uri,
        status,
    ))
}

/// A top-level JSON object that remembers the first duplicate key it met.
struct Object {
    map: Map<String, Value>,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a json object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Object, A::Error> {
                let mut map = Map::new();
                let mut duplicate = None;
                while let Some(key) = access.next_key::<String>()? {
                    let value: Value = access.next_value()?;
                    if map.contains_key(&key) {
                        duplicate.get_or_insert(key);
                    } else {
                        map.insert(key, value);
                    }
                }
                Ok(Object { map, duplicate })
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

fn parse_json_object(status: u16, body: &[u8]) -> Result<Map<String, Value>, Error> {
    match serde_json::from_slice::<Object>(body) {
        Ok(Object {
            duplicate: Some(key),
            ..
        }) => Err(MalformedResponse::without_excerpt(
            status,
            format!("field {:?} appears more than once", clean_text(&key, 64)),
        )
        .into()),
        Ok(Object { map, .. }) => Ok(map),
        // serde_json's own messages can quote the offending value, which may
        // be a token: report only the kind of failure and where it happened.
        Err(e) => {
            let what = match e.classify() {
                serde_json::error::Category::Eof => "truncated json",
                serde_json::error::Category::Syntax => "invalid json",
                serde_json::error::Category::Data | serde_json::error::Category::Io => {
                    "json that is not an object"
                }
            };
            Err(MalformedResponse::without_excerpt(
                status,
                format!("{what} at line {} column {}", e.line(), e.column()),
            )
            .into())
        }
    }
}

fn parse_form(status: u16, body: &[u8]) -> Result<Map<String, Value>, Error> {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(body.trim_ascii()) {
        if map.contains_key(key.as_ref()) {
            return Err(MalformedResponse::without_excerpt(
                status,
                format!("field {:?} appears more than once", clean_text(&key, 64)),
            )
            .into());
        }
        map.insert(key.into_owned(), Value::String(value.into_owned()));
    }
    Ok(map)
}

/// An optional string field: absent and `null` are `None`; any other type is
/// an error naming the field.
pub(crate) fn optional_str<'a>(
    status: u16,
    map: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, Error> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(MalformedResponse::without_excerpt(
            status,
            format!("field {field:?} is not a string"),
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, content_type: Option<&str>, body: &[u8]) -> HttpResponse {
        let mut builder = http::Response::builder().status(status);
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(body.to_vec()).unwrap()
    }

    fn malformed(result: Result<Fields, Error>) -> MalformedResponse {
        match result {
            Err(Error::MalformedResponse(m)) => m,
            Err(other) => panic!("expected MalformedResponse, got {other:?}"),
            Ok(fields) => panic!("expected MalformedResponse, got {:?}", fields.map),
        }
    }

    #[test]
    fn json_object_with_any_content_type() {
        for content_type in [
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("text/plain"),
            Some("text/html"),
            None,
        ] {
            let fields = decode(&response(200, content_type, br#"{"a":"b"}"#)).unwrap();
            assert_eq!(fields.map["a"], "b", "{content_type:?}");
        }
    }

    #[test]
    fn byte_order_mark_and_whitespace_are_skipped() {
        let fields = decode(&response(200, None, b"\xEF\xBB\xBF \n{\"a\":1}\n")).unwrap();
        assert_eq!(fields.map["a"], 1);
    }

    #[test]
    fn duplicate_fields_are_refused_in_json_and_form() {
        let m = malformed(decode(&response(200, None, br#"{"a":"1","a":"2"}"#)));
        assert_eq!(m.reason, "field \"a\" appears more than once");
        let m = malformed(decode(&response(
            200,
            Some("application/x-www-form-urlencoded"),
            b"a=1&a=2",
        )));
        assert_eq!(m.reason, "field \"a\" appears more than once");
    }

    #[test]
    fn form_bodies_when_labelled_or_plausible() {
        let fields = decode(&response(
            200,
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"a=1&b=x+y%21",
        ))
        .unwrap();
        assert_eq!(fields.map["a"], "1");
        assert_eq!(fields.map["b"], "x y!");
        assert_eq!(
            decode(&response(200, Some("text/plain"), b"a=1"))
                .unwrap()
                .map["a"],
            "1"
        );
        assert_eq!(
            decode(&response(200, None, b"a=1\n")).unwrap().map["a"],
            "1"
        );
        // Prose is not a form, even with an '='.
        malformed(decode(&response(200, Some("text/plain"), b"1 + 1 = 2")));
        // HTML is never read as a form.
        malformed(decode(&response(200, Some("text/html"), b"a=1")));
    }

    #[test]
    fn error_field_wins_whatever_the_status() {
        for status in [200, 400, 401, 500] {
            match decode(&response(
                status,
                None,
                br#"{"error":"invalid_grant","error_description":"bad code"}"#,
            )) {
                Err(Error::OAuth(e)) => {
                    assert_eq!(e.error, ErrorCode::InvalidGrant);
                    assert_eq!(e.description.as_deref(), Some("bad code"));
                    assert_eq!(e.status, status);
                }
                _ => panic!("status {status}"),
            }
        }
    }

    #[test]
    fn error_field_of_the_wrong_type_is_malformed() {
        let m = malformed(decode(&response(400, None, br#"{"error":42}"#)));
        assert_eq!(m.reason, "field \"error\" is not a string");
        let m = malformed(decode(&response(
            400,
            None,
            br#"{"error":"x","error_description":["a"]}"#,
        )));
        assert_eq!(m.reason, "field \"error_description\" is not a string");
    }

    #[test]
    fn non_2xx_without_error_is_malformed() {
        let m = malformed(decode(&response(
            502,
            Some("text/html"),
            b"<html>Bad Gateway</html>",
        )));
        assert_eq!(m.status, 502);
        assert_eq!(m.excerpt.as_deref(), Some("<html>Bad Gateway</html>"));
        let m = malformed(decode(&response(302, None, b"")));
        assert_eq!(m.reason, "empty body with http 302");
        let m = malformed(decode(&response(500, None, br#"{"message":"oops"}"#)));
        assert_eq!(m.reason, "http 500 without an oauth error code");
    }

    #[test]
    fn json_errors_never_quote_the_body() {
        let m = malformed(decode(&response(200, None, br#"{"access_token":"SECRET"#)));
        assert!(m.reason.starts_with("truncated json"), "{}", m.reason);
        assert_eq!(m.excerpt, None);
        let m = malformed(decode(&response(200, None, br#"{"access_token": SECRET}"#)));
        assert!(m.reason.starts_with("invalid json"), "{}", m.reason);
        assert!(!m.to_string().contains("SECRET"));
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let body = vec![b' '; MAX_BODY + 1];
        let m = malformed(decode(&response(200, None, &body)));
        assert!(m.reason.contains("larger than"), "{}", m.reason);
    }
}
