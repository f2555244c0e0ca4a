//! One-line, secret-free renderings of requests and responses: what
//! `grantflow -v` prints, and what the tour and the tests print (the tests
//! crate re-exports this module as `grantflow_tests::redact`).
//!
//! Every value that is a credential — client secrets, codes, verifiers,
//! tokens, the `Authorization` header's credentials — prints as `***`; so do
//! the values that bind an authorization request to its callback (`state`,
//! `nonce`, the PKCE `code_challenge`) wherever they appear in a URL or a
//! form body (a pushed authorization request carries them in its body), and
//! the `id_token_hint` of a logout URL.

use grantflow::{HttpRequest, HttpResponse};
use serde_json::Value;

/// Form parameters and JSON fields whose values are credentials.
const SECRET_NAMES: [&str; 14] = [
    "access_token",
    "actor_token",
    "client_assertion",
    "client_secret",
    "code",
    "code_verifier",
    "device_code",
    "id_token",
    "id_token_hint",
    "password",
    "refresh_token",
    "subject_token",
    "token",
    "user_code",
];

/// Query parameters masked in URLs besides [`SECRET_NAMES`]: the values that
/// tie an authorization response to the request of one user's session. Not
/// credentials, but whoever reads them off a log could forge that user's
/// callback (`state`) or replay an ID token into it (`nonce`).
const URL_SECRET_NAMES: [&str; 3] = ["state", "nonce", "code_challenge"];

/// How much of a body a line shows.
const MAX_BODY_CHARS: usize = 240;

fn is_secret(name: &str) -> bool {
    SECRET_NAMES.contains(&name)
}

/// `POST http://…/token authorization: Basic *** body: grant_type=…&client_secret=***`
pub fn request_line(request: &HttpRequest) -> String {
    let mut line = format!(
        "{} {}",
        request.method(),
        url_line(&request.uri().to_string())
    );
    if let Some(authorization) = request.headers().get("authorization") {
        let scheme = authorization
            .to_str()
            .ok()
            .and_then(|v| v.split(' ').next())
            .unwrap_or("?");
        line.push_str(&format!(" authorization: {scheme} ***"));
    }
    if !request.body().is_empty() {
        line.push_str(" body: ");
        line.push_str(&shorten(&mask_form(request.body())));
    }
    line
}

/// `200 application/json {"access_token":"***","expires_in":600,…}`
pub fn response_line(response: &HttpResponse) -> String {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let body = match serde_json::from_slice::<Value>(response.body()) {
        Ok(mut json) => {
            mask_json(&mut json);
            json.to_string()
        }
        Err(_) if content_type.starts_with("application/x-www-form-urlencoded") => {
            mask_form(response.body())
        }
        Err(_) if response.body().is_empty() => String::new(),
        Err(_) => format!("<{} bytes, not json>", response.body().len()),
    };
    format!(
        "{} {content_type} {}",
        response.status().as_u16(),
        shorten(&body)
    )
}

/// An authorization URL or a redirect back to the client with its credentials
/// (`code`, tokens, …) and its `state`, `nonce` and `code_challenge` masked:
/// `http://…/callback?code=***&state=***&iss=http%3A%2F%2F127.0.0.1%3A1234`.
///
/// Anything that is not an absolute URL is returned as is.
pub fn url_line(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.query().is_none() {
        return url.to_owned();
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(name, value)| {
            let value = if is_secret(&name) || URL_SECRET_NAMES.contains(&name.as_ref()) {
                "***".to_owned()
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    // The serializer escapes `*`; keep the mask readable.
    parsed.as_str().replace("%2A%2A%2A", "***")
}

fn mask_form(body: &[u8]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(body) {
        if is_secret(&name) || URL_SECRET_NAMES.contains(&name.as_ref()) {
            out.append_pair(&name, "***");
        } else {
            out.append_pair(&name, &value);
        }
    }
    out.finish()
}

fn mask_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, value) in map.iter_mut() {
                if is_secret(name) && !value.is_null() {
                    *value = Value::String("***".into());
                } else {
                    mask_json(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_BODY_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX_BODY_CHARS).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_hide_credentials() {
        let request = http::Request::post("http://127.0.0.1:1/token")
            .header("authorization", "Basic c2VjcmV0OnNlY3JldA==")
            .body(b"grant_type=authorization_code&code=CODE1&code_verifier=VERIFIER1&client_secret=SECRET1&scope=a+b".to_vec())
            .unwrap();
        let line = request_line(&request);
        assert_eq!(
            line,
            "POST http://127.0.0.1:1/token authorization: Basic *** body: \
             grant_type=authorization_code&code=***&code_verifier=***&client_secret=***&scope=a+b"
        );
    }

    #[test]
    fn responses_hide_tokens_at_any_depth() {
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(br#"{"access_token":"AT1","refresh_token":"RT1","nested":{"id_token":"ID1"},"expires_in":60}"#.to_vec())
            .unwrap();
        let line = response_line(&response);
        for secret in ["AT1", "RT1", "ID1"] {
            assert!(!line.contains(secret), "{line}");
        }
        assert!(line.starts_with("200 application/json {"), "{line}");
        assert!(line.contains(r#""expires_in":60"#), "{line}");
    }

    #[test]
    fn urls_hide_codes_and_request_bindings() {
        let location =
            "http://127.0.0.1/callback?code=CODE1&state=STATE1&iss=http%3A%2F%2F127.0.0.1%3A1234";
        assert_eq!(
            url_line(location),
            "http://127.0.0.1/callback?code=***&state=***&iss=http%3A%2F%2F127.0.0.1%3A1234"
        );
        let authorization = "http://127.0.0.1:1/auth?response_type=code&client_id=spa\
                             &state=STATE2&code_challenge=CHALLENGE2&code_challenge_method=S256&nonce=NONCE2";
        let line = url_line(authorization);
        for secret in ["STATE2", "CHALLENGE2", "NONCE2"] {
            assert!(!line.contains(secret), "{line}");
        }
        assert!(
            line.contains(
                "client_id=spa&state=***&code_challenge=***&code_challenge_method=S256&nonce=***"
            ),
            "{line}"
        );
        assert_eq!(
            url_line("http://127.0.0.1:1/jwks"),
            "http://127.0.0.1:1/jwks"
        );
        assert_eq!(url_line("not a url"), "not a url");
    }

    #[test]
    fn pushed_requests_and_logout_urls_hide_their_bindings() {
        let request = http::Request::post("http://127.0.0.1:1/request")
            .body(
                b"response_type=code&state=STATE2&nonce=NONCE2&code_challenge=CH2&client_id=app"
                    .to_vec(),
            )
            .unwrap();
        let line = request_line(&request);
        for secret in ["STATE2", "NONCE2", "CH2"] {
            assert!(!line.contains(secret), "{line}");
        }
        assert!(line.contains("client_id=app"), "{line}");
        let logout =
            url_line("http://127.0.0.1/session/end?id_token_hint=eyJ.eyJ.sig&client_id=app");
        assert_eq!(
            logout,
            "http://127.0.0.1/session/end?id_token_hint=***&client_id=app"
        );
    }

    #[test]
    fn form_and_opaque_responses() {
        let form = http::Response::builder()
            .status(200)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"access_token=AT2&scope=repo".to_vec())
            .unwrap();
        assert_eq!(
            response_line(&form),
            "200 application/x-www-form-urlencoded access_token=***&scope=repo"
        );
        let html = http::Response::builder()
            .status(502)
            .body(b"<html>AT3</html>".to_vec())
            .unwrap();
        assert_eq!(response_line(&html), "502 - <16 bytes, not json>");
    }
}
