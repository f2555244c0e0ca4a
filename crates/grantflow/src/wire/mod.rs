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

use std::borrow::Cow;

use serde::Deserializer;
use serde_json::Value;

use crate::error::{Error, ErrorCode, ErrorResponse, MalformedResponse, clean_text};
use crate::message::{FORM_CONTENT_TYPE, HttpResponse, media_type};

pub(crate) mod challenge;

pub use challenge::{Challenge, parse_challenges};
mod json;

pub(crate) use json::{
    FieldSink, JsonObjectError, MemberSink, Names, Scalar, fill, fill_scalar, json_object,
    read_value,
};

/// The largest response body the core parses, in bytes (1 MiB). Adapters cap
/// bodies when reading them; this holds for bodies handed in by hand too.
pub const MAX_BODY: usize = 1 << 20;

/// The one body step every response goes through before it is parsed:
/// bodies over [`MAX_BODY`] are refused (before any copy or parse) and a
/// UTF-8 byte order mark is skipped (assorted .NET servers send one).
pub(crate) fn body(response: &HttpResponse) -> Result<&[u8], Error> {
    bounded(response.status().as_u16(), response.body())
}

/// [`body`] for bytes that did not come in a response (a stored document),
/// reported with `status`.
pub(crate) fn bounded(status: u16, body: &[u8]) -> Result<&[u8], Error> {
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
    Ok(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body))
}

/// A successful response's fields, with its status.
pub(crate) struct Decoded<S> {
    pub(crate) status: u16,
    pub(crate) fields: S,
}

/// Decodes an endpoint response into its top-level fields, or the typed error
/// it carries. See the module docs for what is tolerated.
pub(crate) fn decode<S: FieldSink>(response: &HttpResponse) -> Result<Decoded<S>, Error> {
    let mut fields = S::default();
    let status = decode_into(response, &mut fields)?;
    Ok(Decoded { status, fields })
}

/// [`decode`] into a sink the caller owns, which may borrow strings from the
/// response's body; returns the status. On an error, `fields` holds whatever
/// was read before the response was found wanting.
pub(crate) fn decode_into<'de, S: MemberSink<'de>>(
    response: &'de HttpResponse,
    fields: &mut S,
) -> Result<u16, Error> {
    let status = response.status().as_u16();
    let body = body(response)?;
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    // Looked up only for a body that is not a JSON object.
    let media = || media_type(response);

    let mut top = Top {
        fields,
        error: None,
        error_description: None,
        error_uri: None,
        duplicate: None,
    };
    match start.and_then(|i| body.get(i)) {
        None => {
            return Err(MalformedResponse::without_excerpt(
                status,
                format!("empty body with http {status}"),
            )
            .into());
        }
        Some(b'{') => parse_json_object(status, body, &mut top)?,
        Some(_) if looks_like_form(media(), body) => parse_form(status, body, &mut top)?,
        Some(_) => {
            let what = media().unwrap_or("unlabelled");
            return Err(MalformedResponse::with_excerpt(
                status,
                format!(
                    "http {status} with a {} body that is neither json nor form-encoded",
                    clean_text(what, 64)
                ),
                body,
            )
            .into());
        }
    }
    if let Some(key) = top.duplicate {
        return Err(MalformedResponse::without_excerpt(
            status,
            format!("field \"{}\" appears more than once", clean_text(&key, 64)),
        )
        .into());
    }

    let Top {
        fields,
        error,
        error_description,
        error_uri,
        ..
    } = top;
    // `"error": null` is how some APIs say "no error" on success.
    if let Some(error) = error.filter(|e| !e.is_null()) {
        return Err(error_response(status, error, error_description, error_uri)?.into());
    }
    if !(200..300).contains(&status) {
        return Err(MalformedResponse::with_excerpt(
            status,
            format!("http {status} without an oauth error code"),
            body,
        )
        .into());
    }
    // Without an `error`, these two are ordinary fields; each was seen once,
    // and the sink never saw them, so they cannot collide.
    for (key, value) in [
        ("error_description", error_description),
        ("error_uri", error_uri),
    ] {
        if let Some(value) = value {
            // A `Value` read into a sink: its objects cannot repeat a name,
            // and reading a whole `Value` cannot fail; were it to, the
            // response is refused rather than a field dropped.
            Names::unchecked(|names| fields.member(key, value, names)).map_err(|_| {
                MalformedResponse::without_excerpt(
                    status,
                    format!("field {key:?} could not be read"),
                )
            })?;
        }
    }
    Ok(status)
}

/// A form body is taken as such when labelled so, or when it is unlabelled or
/// `text/plain` and made only of form characters with at least one `=`.
fn looks_like_form(media: Option<&str>, body: &[u8]) -> bool {
    match media {
        Some(media) if media.eq_ignore_ascii_case(FORM_CONTENT_TYPE) => true,
        None => plausible_form(body),
        Some(media) if media.eq_ignore_ascii_case("text/plain") => plausible_form(body),
        Some(_) => false,
    }
}

fn plausible_form(body: &[u8]) -> bool {
    let body = body.trim_ascii();
    body.contains(&b'=') && body.iter().all(|b| b.is_ascii_graphic())
}

fn error_response(
    status: u16,
    error: Value,
    description: Option<Value>,
    uri: Option<Value>,
) -> Result<ErrorResponse, Error> {
    let code = match string_field(status, "error", Some(error))? {
        // RFC 6749 §5.2: the code is one or more printable characters; one
        // made only of control characters would be empty once cleaned.
        Some(code) if code.chars().any(|c| !c.is_control()) => code,
        _ => {
            return Err(MalformedResponse::without_excerpt(
                status,
                "field \"error\" is empty or has no printable character",
            )
            .into());
        }
    };
    let description = string_field(status, "error_description", description)?;
    let uri = string_field(status, "error_uri", uri)?;
    Ok(ErrorResponse::new(
        ErrorCode::from_wire(&code),
        description.as_deref(),
        uri.as_deref(),
        Some(status),
    ))
}

/// A response's top-level members: the RFC 6749 §5.2 error fields in slots
/// of their own, everything else in the caller's sink, and the first repeated
/// name (of a form body; the JSON reader reports its own).
struct Top<'s, S> {
    fields: &'s mut S,
    error: Option<Value>,
    error_description: Option<Value>,
    error_uri: Option<Value>,
    duplicate: Option<String>,
}

impl<'de, S: MemberSink<'de>> MemberSink<'de> for Top<'_, S> {
    #[inline]
    fn member<D: Deserializer<'de>>(
        &mut self,
        key: &str,
        value: D,
        names: Names<'_>,
    ) -> Result<bool, D::Error> {
        let slot = match key {
            "error" => &mut self.error,
            "error_description" => &mut self.error_description,
            "error_uri" => &mut self.error_uri,
            _ => return self.fields.member(key, value, names),
        };
        let value = read_value(value, names)?;
        Ok(fill(slot, value))
    }
}

fn parse_json_object<'de, S: MemberSink<'de>>(
    status: u16,
    body: &'de [u8],
    top: &mut Top<'_, S>,
) -> Result<(), Error> {
    match json::read_object_into(body, top) {
        Ok(json::Shape::Object) => Ok(()),
        Ok(json::Shape::Duplicate(key)) => Err(MalformedResponse::without_excerpt(
            status,
            format!("field \"{}\" appears more than once", clean_text(&key, 64)),
        )
        .into()),
        Ok(json::Shape::NotAnObject) => {
            Err(MalformedResponse::without_excerpt(status, "json that is not an object").into())
        }
        Err(e) => {
            // serde_json's own messages can quote the offending value, which
            // may be a token: report only the kind of failure and where.
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

/// A form body's pairs into `top`, each value a string (borrowed from the
/// body when it has no escapes); the first repeated name is kept in
/// `top.duplicate`.
fn parse_form<'de, S: MemberSink<'de>>(
    status: u16,
    body: &'de [u8],
    top: &mut Top<'_, S>,
) -> Result<(), Error> {
    use serde::de::value::{BorrowedStrDeserializer, Error as ValueError, StringDeserializer};

    for (key, value) in form_urlencoded::parse(body.trim_ascii()) {
        let fresh = Names::unchecked(|names| match value {
            Cow::Borrowed(value) => top.member(
                &key,
                BorrowedStrDeserializer::<ValueError>::new(value),
                names,
            ),
            Cow::Owned(value) => {
                top.member(&key, StringDeserializer::<ValueError>::new(value), names)
            }
        })
        // Every sink reads a string; were one to refuse it, the response is
        // refused rather than a field dropped.
        .map_err(|_| {
            MalformedResponse::without_excerpt(
                status,
                format!("field \"{}\" could not be read", clean_text(&key, 64)),
            )
        })?;
        if !fresh && top.duplicate.is_none() {
            top.duplicate = Some(key.into_owned());
        }
    }
    Ok(())
}

/// A string field: absent and `null` are `None`; any other type is an error
/// naming the field. The string is moved out, not copied.
pub(crate) fn string_field(
    status: u16,
    field: &str,
    value: Option<Value>,
) -> Result<Option<String>, Error> {
    match value {
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
    use serde_json::Map;

    fn response(status: u16, content_type: Option<&str>, body: &[u8]) -> HttpResponse {
        let mut builder = http::Response::builder().status(status);
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(body.to_vec()).unwrap()
    }

    type Fields = Decoded<Map<String, Value>>;

    fn decode(response: &HttpResponse) -> Result<Fields, Error> {
        super::decode(response)
    }

    fn malformed(result: Result<Fields, Error>) -> MalformedResponse {
        match result {
            Err(Error::MalformedResponse(m)) => m,
            Err(other) => panic!("expected MalformedResponse, got {other:?}"),
            Ok(decoded) => panic!("expected MalformedResponse, got {:?}", decoded.fields),
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
            assert_eq!(fields.fields["a"], "b", "{content_type:?}");
        }
    }

    #[test]
    fn byte_order_mark_and_whitespace_are_skipped() {
        let fields = decode(&response(200, None, b"\xEF\xBB\xBF \n{\"a\":1}\n")).unwrap();
        assert_eq!(fields.fields["a"], 1);
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
        assert_eq!(fields.fields["a"], "1");
        assert_eq!(fields.fields["b"], "x y!");
        assert_eq!(
            decode(&response(200, Some("text/plain"), b"a=1"))
                .unwrap()
                .fields["a"],
            "1"
        );
        assert_eq!(
            decode(&response(200, None, b"a=1\n")).unwrap().fields["a"],
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
                    assert_eq!(e.status, Some(status));
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
    fn empty_error_codes_are_malformed_and_null_ones_absent() {
        const EMPTY: &str = "field \"error\" is empty or has no printable character";
        let m = malformed(decode(&response(400, None, br#"{"error":""}"#)));
        assert_eq!(m.reason, EMPTY);
        let m = malformed(decode(&response(200, None, b"error=&error_description=x")));
        assert_eq!(m.reason, EMPTY);
        // Found by fuzzing: only control characters, which cleaning removes.
        let m = malformed(decode(&response(400, None, br#"{"error":"\u001b\n"}"#)));
        assert_eq!(m.reason, EMPTY);
        let fields = decode(&response(
            200,
            None,
            br#"{"a":1,"error":null,"error_description":"none"}"#,
        ))
        .unwrap();
        assert_eq!(fields.fields["a"], 1);
        assert_eq!(fields.fields["error_description"], "none");
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
