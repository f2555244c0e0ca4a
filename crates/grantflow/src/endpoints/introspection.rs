//! Token introspection (RFC 7662): a resource server asks the authorization
//! server whether a token it was handed is active, and what it is for.
//!
//! The user-facing documentation is on [`Introspection`] and
//! [`IntrospectionResponse`].

use core::fmt;

use serde_json::{Map, Value};

use super::{TokenPost, TokenTypeHint};
use crate::client::Client;
use crate::error::member_names;
use crate::error::{Error, MalformedResponse};
use crate::flow::{Flow, Step};
use crate::message::HttpResponse;
use crate::time::UnixTime;
use crate::token::TokenType;
use crate::types::{ClientId, Scope};
use crate::wire::{Decoded, FieldSink, decode, fill, string_field};

const FLOW: &str = "introspection";

impl Client {
    /// Asks the introspection endpoint about `token`, of the kind `hint`
    /// says if given (RFC 7662 §2.1). For resource servers, which hold the
    /// token as the string a request carried.
    ///
    /// The request is authenticated with this client's method; a server
    /// refuses a public client (RFC 7662 §2.1 requires authorization), with
    /// `invalid_client`.
    ///
    /// Fails with [`Error::MissingEndpoint`] without an introspection endpoint.
    pub fn introspect(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<Introspection, Error> {
        Ok(Introspection {
            post: TokenPost::new(
                self,
                (FLOW, "introspection_endpoint"),
                |e| e.introspection.as_ref(),
                token,
                hint,
            )?,
        })
    }
}

/// Token introspection (RFC 7662) as a [`Flow`]. Made by
/// [`Client::introspect`].
///
/// ```text
///   New ──start──▶ Sent ──handle_response──▶ Done(IntrospectionResponse)
///                    │
///                    └── an error response or a malformed one ends the flow
/// ```
///
/// The request is a form POST of `token` and `token_type_hint`,
/// authenticated like every token request. The answer is a JSON object
/// whose `active` must be a JSON boolean (RFC 7662 §2.2); `"active": false`
/// is a normal answer, [`Step::Done`] with
/// [`active`](IntrospectionResponse::active) false. An RFC 6749 §5.2 error
/// body is [`Error::OAuth`]; anything else is [`Error::MalformedResponse`].
/// The token never appears in `Debug` or in an error.
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Endpoints, Flow, Step, UnixTime};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let mut endpoints = Endpoints::default();
/// endpoints.introspection = Some(EndpointUrl::parse("https://server.example.com/introspect")?);
/// let resource_server = Client::new(
///     ClientId::new("api-gateway"),
///     ClientAuth::ClientSecretPost(ClientSecret::new("gw-secret")),
/// )
/// .with_endpoints(endpoints);
///
/// let now = UnixTime::from_secs(1_419_350_000);
/// let mut flow = resource_server.introspect("mF_9.B5f-4.1JqM", None)?;
/// let Step::Send(request) = flow.start(now)? else { unreachable!() };
/// assert_eq!(
///     request.body().as_slice(),
///     b"token=mF_9.B5f-4.1JqM&client_id=api-gateway&client_secret=gw-secret"
/// );
///
/// // RFC 7662 §2.2's example response.
/// let answer = http::Response::builder()
///     .status(200)
///     .header("content-type", "application/json")
///     .body(br#"{"active":true,"client_id":"l238j323ds-23ij4","username":"jdoe",
///         "scope":"read write dolphin","sub":"Z5O3upPC88QrAjx00dis",
///         "aud":"https://protected.example.net/resource","iss":"https://server.example.com/",
///         "exp":1419356238,"iat":1419350238,"extension_field":"twenty-seven"}"#.to_vec())
///     .unwrap();
/// let Step::Done(info) = flow.handle_response(answer, now)? else { unreachable!() };
/// assert!(info.active && info.is_active_at(now));
/// assert!(info.has_scope("dolphin"));
/// assert_eq!(info.username.as_deref(), Some("jdoe"));
/// assert_eq!(info.exp, Some(UnixTime::from_secs(1_419_356_238)));
/// assert_eq!(info.extra["extension_field"], "twenty-seven");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Introspection {
    post: TokenPost,
}

impl Flow for Introspection {
    type Output = IntrospectionResponse;

    fn start(&mut self, now: UnixTime) -> Result<Step<IntrospectionResponse>, Error> {
        self.post.start(now).map(Step::Send)
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        _now: UnixTime,
    ) -> Result<Step<IntrospectionResponse>, Error> {
        self.post.answered()?;
        parse_introspection_response(&response)
            .map(Step::Done)
            .map_err(|error| self.post.withhold(error))
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<IntrospectionResponse>, Error> {
        Err(self.post.timeout())
    }
}

/// What the authorization server says about a token (RFC 7662 §2.2).
///
/// Every member but `active` is optional in the RFC: one the server left out
/// is `None`, never filled in. For an inactive token every other field is
/// `None` and `extra` empty, whatever the server sent besides (RFC 7662
/// §2.2: it SHOULD NOT send more), so nothing about an inactive token can be
/// used by mistake.
///
/// Types are strict: `active` must be a JSON boolean, `exp`, `iat` and
/// `nbf` JSON numbers of seconds (a fraction is dropped, as for RFC 7519
/// NumericDates; a string is refused: no provider we know sends one), the
/// string members strings (`null` reads as absent), `aud` a string or an
/// array of strings. A member of another type is
/// [`Error::MalformedResponse`] naming it.
///
/// `Debug` shows the claims and only the names of the
/// [`extra`](Self::extra) members.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntrospectionResponse {
    /// Whether the token is active: issued by this server, not expired, not
    /// revoked, and valid for the caller to ask about.
    pub active: bool,
    /// `scope`, split on spaces (RFC 7662 §2.2). Granted scopes are data to
    /// report, so the RFC 6749 §3.3 grammar is not enforced.
    pub scopes: Option<Vec<Scope>>,
    /// `client_id`: the client the token was issued to.
    pub client_id: Option<ClientId>,
    /// `username`: a human-readable name of the resource owner.
    pub username: Option<String>,
    /// `token_type` (RFC 6749 §7.1), compared case-insensitively; an empty
    /// one is absent.
    pub token_type: Option<TokenType>,
    /// `exp`: when the token expires.
    pub exp: Option<UnixTime>,
    /// `iat`: when the token was issued.
    pub iat: Option<UnixTime>,
    /// `nbf`: the token is not to be used before this instant.
    pub nbf: Option<UnixTime>,
    /// `sub`: the subject, usually a machine-readable id of the resource owner.
    pub sub: Option<String>,
    /// `aud`: the audiences (a single string on the wire becomes one entry).
    pub aud: Option<Vec<String>>,
    /// `iss`: the issuer of the token.
    pub iss: Option<String>,
    /// `jti`: the token's identifier.
    pub jti: Option<String>,
    /// Every other member of the response, untouched.
    pub extra: Map<String, Value>,
}

impl IntrospectionResponse {
    /// The answer for an inactive token: `active` false and nothing else.
    fn inactive() -> Self {
        IntrospectionResponse {
            active: false,
            scopes: None,
            client_id: None,
            username: None,
            token_type: None,
            exp: None,
            iat: None,
            nbf: None,
            sub: None,
            aud: None,
            iss: None,
            jti: None,
            extra: Map::new(),
        }
    }

    /// Whether the token is active at `now`: the server said `active`, `exp`
    /// (if given) is after `now` and `nbf` (if given) not after it. For a
    /// resource server that keeps an answer for a while (RFC 7662 §4).
    pub fn is_active_at(&self, now: UnixTime) -> bool {
        self.active && self.exp.is_none_or(|exp| now < exp) && self.nbf.is_none_or(|nbf| nbf <= now)
    }

    /// Whether `scope` is among the token's scopes. False when the server
    /// returned no `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes
            .as_ref()
            .is_some_and(|scopes| scopes.iter().any(|s| s.as_str() == scope))
    }
}

impl fmt::Debug for IntrospectionResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionResponse")
            .field("active", &self.active)
            .field("scopes", &self.scopes)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("token_type", &self.token_type)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("iss", &self.iss)
            .field("jti", &self.jti)
            .field("extra", &member_names(self.extra.keys(), &[]))
            .finish()
    }
}

/// The members of an introspection response, each in its own slot, with
/// the rest kept in `extra`.
#[derive(Default)]
struct Fields {
    active: Option<Value>,
    scope: Option<Value>,
    client_id: Option<Value>,
    username: Option<Value>,
    token_type: Option<Value>,
    exp: Option<Value>,
    iat: Option<Value>,
    nbf: Option<Value>,
    sub: Option<Value>,
    aud: Option<Value>,
    iss: Option<Value>,
    jti: Option<Value>,
    extra: Map<String, Value>,
}

impl FieldSink for Fields {
    fn insert(&mut self, key: &str, value: Value) -> bool {
        let slot = match key {
            "active" => &mut self.active,
            "scope" => &mut self.scope,
            "client_id" => &mut self.client_id,
            "username" => &mut self.username,
            "token_type" => &mut self.token_type,
            "exp" => &mut self.exp,
            "iat" => &mut self.iat,
            "nbf" => &mut self.nbf,
            "sub" => &mut self.sub,
            "aud" => &mut self.aud,
            "iss" => &mut self.iss,
            "jti" => &mut self.jti,
            _ => return FieldSink::insert(&mut self.extra, key, value),
        };
        fill(slot, value)
    }
}

fn malformed(status: u16, reason: &str) -> Error {
    MalformedResponse::without_excerpt(status, reason).into()
}

/// Parses an introspection endpoint response (RFC 7662 §2.2, §2.3) through
/// the tolerant edge (`wire::decode`: body limit, the one JSON reader that
/// refuses repeated names, RFC 6749 §5.2 errors).
fn parse_introspection_response(response: &HttpResponse) -> Result<IntrospectionResponse, Error> {
    let Decoded { status, fields } = decode::<Fields>(response)?;
    let active = match fields.active {
        Some(Value::Bool(active)) => active,
        None => return Err(malformed(status, "field \"active\" is missing")),
        Some(_) => return Err(malformed(status, "field \"active\" is not a boolean")),
    };
    if !active {
        return Ok(IntrospectionResponse::inactive());
    }
    let scopes = string_field(status, "scope", fields.scope)?.map(|scope| {
        scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(Scope::from_server)
            .collect()
    });
    let token_type = string_field(status, "token_type", fields.token_type)?
        .filter(|t| !t.is_empty())
        .map(|t| TokenType::from_wire(&t));
    Ok(IntrospectionResponse {
        active,
        scopes,
        client_id: string_field(status, "client_id", fields.client_id)?.map(ClientId::new),
        username: string_field(status, "username", fields.username)?,
        token_type,
        exp: numeric_date(status, "exp", fields.exp)?,
        iat: numeric_date(status, "iat", fields.iat)?,
        nbf: numeric_date(status, "nbf", fields.nbf)?,
        sub: string_field(status, "sub", fields.sub)?,
        aud: audiences(status, fields.aud)?,
        iss: string_field(status, "iss", fields.iss)?,
        jti: string_field(status, "jti", fields.jti)?,
        extra: fields.extra,
    })
}

/// A time in seconds since the epoch: a JSON number (RFC 7662 §2.2 says an
/// integer; a fraction, as RFC 7519 NumericDates may have, is dropped).
/// `null` is absent; negative, non-finite or beyond-`u64` values and any
/// other type are refused.
fn numeric_date(
    status: u16,
    field: &'static str,
    value: Option<Value>,
) -> Result<Option<UnixTime>, Error> {
    let number = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number,
        Some(_) => {
            return Err(MalformedResponse::without_excerpt(
                status,
                format!("field {field:?} is not a number"),
            )
            .into());
        }
    };
    if let Some(secs) = number.as_u64() {
        return Ok(Some(UnixTime::from_secs(secs)));
    }
    match number.as_f64() {
        // [0, 2^64): every such value fits in u64 once the fraction is
        // dropped; NaN and infinities are outside.
        Some(secs) if (0.0..18_446_744_073_709_551_616.0).contains(&secs) => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            // In range and non-negative, checked just above; the fraction is dropped.
            let whole = secs as u64;
            Ok(Some(UnixTime::from_secs(whole)))
        }
        _ => Err(MalformedResponse::without_excerpt(
            status,
            format!("field {field:?} is not a time between 0 and 2^64-1 seconds"),
        )
        .into()),
    }
}

/// `aud`: a string (one audience) or an array of strings, as sent (an
/// empty array stays empty). `null` is absent.
fn audiences(status: u16, value: Option<Value>) -> Result<Option<Vec<String>>, Error> {
    const BAD: &str = "field \"aud\" is neither a string nor an array of strings";
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(aud)) => Ok(Some(vec![aud])),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(aud) => Ok(aud),
                _ => Err(malformed(status, BAD)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(malformed(status, BAD)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::EndpointUrl;
    use crate::endpoints::tests::{assert_hides, json_response, response, secret_auths};
    use crate::error::{ErrorCode, ErrorKind};
    use crate::{ClientAuth, ClientSecret, Endpoints};

    const TOKEN: &str = "mF_9.B5f-4.1JqM";
    const NOW: UnixTime = UnixTime::from_secs(1_419_350_000);

    fn client(auth: ClientAuth) -> Client {
        let endpoints = Endpoints {
            introspection: Some(
                EndpointUrl::parse("https://server.example.com/introspect").unwrap(),
            ),
            ..Endpoints::default()
        };
        Client::new(ClientId::new("rs 1"), auth).with_endpoints(endpoints)
    }

    fn basic() -> Client {
        client(ClientAuth::ClientSecretBasic(ClientSecret::new(
            "rs-secret",
        )))
    }

    fn answer(response: HttpResponse) -> Result<IntrospectionResponse, Error> {
        let mut flow = basic().introspect(TOKEN, None).unwrap();
        assert!(matches!(flow.start(NOW).unwrap(), Step::Send(_)));
        match flow.handle_response(response, NOW)? {
            Step::Done(info) => Ok(info),
            other => panic!("expected Done, got {other:?}"),
        }
    }

    fn json(body: &str) -> Result<IntrospectionResponse, Error> {
        answer(json_response(200, body))
    }

    fn malformed_reason(result: Result<IntrospectionResponse, Error>) -> String {
        match result {
            Err(Error::MalformedResponse(m)) => m.reason,
            other => panic!("expected MalformedResponse, got {other:?}"),
        }
    }

    fn assert_unexpected<T: fmt::Debug>(result: Result<Step<T>, Error>) {
        assert!(
            matches!(result, Err(Error::UnexpectedCall { flow: FLOW, .. })),
            "{result:?}"
        );
    }

    fn request_of(client: &Client, hint: Option<TokenTypeHint>) -> crate::HttpRequest {
        let mut flow = client.introspect(TOKEN, hint).unwrap();
        match flow.start(NOW).unwrap() {
            Step::Send(request) => request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn no_error_quotes_the_client_secret_the_request_carried() {
        const SECRET: &str = "rs-secret-9Qz";
        for auth in secret_auths(SECRET) {
            for (status, body) in [
                (
                    401,
                    format!(r#"{{"error":"invalid_client","error_description":"{SECRET}?"}}"#),
                ),
                (
                    200,
                    format!(r#"{{"active":true,"x{SECRET}":1,"x{SECRET}":2}}"#),
                ),
                (200, format!(r#"{{"active":"{SECRET}"}}"#)),
            ] {
                let mut flow = client(auth.clone()).introspect(TOKEN, None).unwrap();
                assert!(matches!(flow.start(NOW).unwrap(), Step::Send(_)));
                let error = flow
                    .handle_response(json_response(status, &body), NOW)
                    .unwrap_err();
                assert_hides(&error, SECRET);
            }
        }
    }

    #[test]
    fn request_per_auth_method() {
        let request = request_of(&basic(), Some(TokenTypeHint::AccessToken));
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "https://server.example.com/introspect");
        assert_eq!(
            request.body().as_slice(),
            b"token=mF_9.B5f-4.1JqM&token_type_hint=access_token"
        );
        assert_eq!(request.headers()["accept"], "application/json");
        assert_eq!(
            request.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        // base64("rs+1:rs-secret"): the id is form-urlencoded first (RFC 6749 §2.3.1).
        assert_eq!(
            request.headers()["authorization"],
            "Basic cnMrMTpycy1zZWNyZXQ="
        );

        let post = client(ClientAuth::ClientSecretPost(ClientSecret::new("rs-secret")));
        let request = request_of(&post, Some(TokenTypeHint::RefreshToken));
        assert_eq!(
            request.body().as_slice(),
            b"token=mF_9.B5f-4.1JqM&token_type_hint=refresh_token&client_id=rs+1&client_secret=rs-secret"
        );
        assert!(request.headers().get("authorization").is_none());

        let request = request_of(&client(ClientAuth::None), None);
        assert_eq!(
            request.body().as_slice(),
            b"token=mF_9.B5f-4.1JqM&client_id=rs+1"
        );
        assert!(request.headers().get("authorization").is_none());
    }

    #[test]
    fn a_client_without_introspection_endpoint_is_refused() {
        let client = Client::new(ClientId::new("rs"), ClientAuth::None);
        assert!(matches!(
            client.introspect(TOKEN, None),
            Err(Error::MissingEndpoint {
                endpoint: "introspection_endpoint"
            })
        ));
    }

    #[test]
    fn active_with_every_field() {
        let info = json(
            r#"{"active":true,"scope":"read  write dolphin","client_id":"l238j323ds-23ij4",
                "username":"jdoe","token_type":"bearer","exp":1419356238,"iat":1419350238,
                "nbf":1419350238.9,"sub":"Z5O3upPC88QrAjx00dis",
                "aud":["https://protected.example.net/resource","urn:other"],
                "iss":"https://server.example.com/","jti":"id-1",
                "extension_field":"twenty-seven","cnf":{"jkt":"abc"}}"#,
        )
        .unwrap();
        assert!(info.active);
        let scopes: Vec<_> = info
            .scopes
            .as_ref()
            .unwrap()
            .iter()
            .map(Scope::as_str)
            .collect();
        assert_eq!(scopes, ["read", "write", "dolphin"]);
        assert_eq!(info.client_id, Some(ClientId::new("l238j323ds-23ij4")));
        assert_eq!(info.username.as_deref(), Some("jdoe"));
        assert_eq!(info.token_type, Some(TokenType::Bearer));
        assert_eq!(info.exp, Some(UnixTime::from_secs(1_419_356_238)));
        assert_eq!(info.iat, Some(UnixTime::from_secs(1_419_350_238)));
        assert_eq!(info.nbf, Some(UnixTime::from_secs(1_419_350_238)));
        assert_eq!(info.sub.as_deref(), Some("Z5O3upPC88QrAjx00dis"));
        assert_eq!(
            info.aud,
            Some(vec![
                "https://protected.example.net/resource".to_owned(),
                "urn:other".to_owned()
            ])
        );
        assert_eq!(info.iss.as_deref(), Some("https://server.example.com/"));
        assert_eq!(info.jti.as_deref(), Some("id-1"));
        assert_eq!(info.extra.len(), 2);
        assert_eq!(info.extra["extension_field"], "twenty-seven");
        assert_eq!(info.extra["cnf"]["jkt"], "abc");
        assert!(info.has_scope("write") && !info.has_scope("admin"));
        // Debug names the extras without their values.
        let debug = format!("{info:?}");
        assert!(
            debug.contains("\"cnf\"") && !debug.contains("abc"),
            "{debug}"
        );
    }

    #[test]
    fn omitted_fields_are_none() {
        let info = json(r#"{"active":true}"#).unwrap();
        assert_eq!(
            info,
            IntrospectionResponse {
                active: true,
                ..IntrospectionResponse::inactive()
            }
        );
        assert!(!info.has_scope("read"));
        let info =
            json(r#"{"active":true,"scope":null,"sub":null,"exp":null,"token_type":""}"#).unwrap();
        assert_eq!(info.scopes, None);
        assert_eq!(info.sub, None);
        assert_eq!(info.exp, None);
        assert_eq!(info.token_type, None);
        assert_eq!(
            json(r#"{"active":true,"scope":""}"#).unwrap().scopes,
            Some(vec![])
        );
    }

    #[test]
    fn inactive_is_a_normal_answer_and_reports_nothing_else() {
        assert_eq!(
            json(r#"{"active":false}"#).unwrap(),
            IntrospectionResponse::inactive()
        );
        // A server that says more about an inactive token: none of it is kept,
        // even of the wrong type.
        let info = json(r#"{"active":false,"scope":"admin","exp":"soon","x":1}"#).unwrap();
        assert_eq!(info, IntrospectionResponse::inactive());
        assert!(!info.is_active_at(NOW));
    }

    #[test]
    fn active_must_be_a_json_boolean() {
        assert_eq!(
            malformed_reason(json(r#"{}"#)),
            "field \"active\" is missing"
        );
        assert_eq!(
            malformed_reason(json(r#"{"scope":"read"}"#)),
            "field \"active\" is missing"
        );
        for bad in [r#""true""#, "1", "null", "[true]"] {
            assert_eq!(
                malformed_reason(json(&format!(r#"{{"active":{bad}}}"#))),
                "field \"active\" is not a boolean",
                "{bad}"
            );
        }
        // A form body has only strings.
        assert_eq!(
            malformed_reason(answer(response(
                200,
                Some("application/x-www-form-urlencoded"),
                "active=true"
            ))),
            "field \"active\" is not a boolean"
        );
        // Repeated members are refused by the one JSON reader.
        assert_eq!(
            malformed_reason(json(r#"{"active":false,"active":true}"#)),
            "field \"active\" appears more than once"
        );
    }

    #[test]
    fn aud_string_or_array() {
        let info = json(r#"{"active":true,"aud":"https://api.example.com"}"#).unwrap();
        assert_eq!(info.aud, Some(vec!["https://api.example.com".to_owned()]));
        let info = json(r#"{"active":true,"aud":["a","b"]}"#).unwrap();
        assert_eq!(info.aud, Some(vec!["a".to_owned(), "b".to_owned()]));
        let info = json(r#"{"active":true,"aud":[]}"#).unwrap();
        assert_eq!(info.aud, Some(vec![]));
        for bad in ["1", r#"["a",2]"#, r#"{"a":1}"#] {
            assert_eq!(
                malformed_reason(json(&format!(r#"{{"active":true,"aud":{bad}}}"#))),
                "field \"aud\" is neither a string nor an array of strings",
                "{bad}"
            );
        }
    }

    #[test]
    fn wrong_types_are_malformed() {
        for (member, value, reason) in [
            ("exp", r#""1419356238""#, "field \"exp\" is not a number"),
            ("iat", "true", "field \"iat\" is not a number"),
            (
                "nbf",
                "-1",
                "field \"nbf\" is not a time between 0 and 2^64-1 seconds",
            ),
            (
                "exp",
                "1e20",
                "field \"exp\" is not a time between 0 and 2^64-1 seconds",
            ),
            ("scope", r#"["read"]"#, "field \"scope\" is not a string"),
            ("client_id", "7", "field \"client_id\" is not a string"),
            ("username", "{}", "field \"username\" is not a string"),
            ("sub", "1", "field \"sub\" is not a string"),
            ("iss", "[]", "field \"iss\" is not a string"),
            ("jti", "1", "field \"jti\" is not a string"),
            ("token_type", "1", "field \"token_type\" is not a string"),
        ] {
            assert_eq!(
                malformed_reason(json(&format!(r#"{{"active":true,"{member}":{value}}}"#))),
                reason
            );
        }
        let info = json(r#"{"active":true,"exp":18446744073709551615}"#).unwrap();
        assert_eq!(info.exp, Some(UnixTime::MAX));
    }

    #[test]
    fn is_active_at_honours_exp_and_nbf() {
        let info = json(r#"{"active":true,"exp":1000,"nbf":500}"#).unwrap();
        assert!(!info.is_active_at(UnixTime::from_secs(499)));
        assert!(info.is_active_at(UnixTime::from_secs(500)));
        assert!(info.is_active_at(UnixTime::from_secs(999)));
        assert!(!info.is_active_at(UnixTime::from_secs(1000)));
        assert!(
            json(r#"{"active":true}"#)
                .unwrap()
                .is_active_at(UnixTime::MAX)
        );
    }

    #[test]
    fn error_bodies_are_typed() {
        let error = answer(json_response(401, r#"{"error":"invalid_client"}"#)).unwrap_err();
        assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidClient));
        assert_eq!(error.kind(), ErrorKind::Refused);
        let error = answer(json_response(
            400,
            r#"{"error":"unsupported_token_type","error_description":"nope"}"#,
        ))
        .unwrap_err();
        assert_eq!(error.oauth_code(), Some(&ErrorCode::UnsupportedTokenType));
        // With 200, as some servers send errors.
        let error = answer(json_response(200, r#"{"error":"invalid_request"}"#)).unwrap_err();
        assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidRequest));
    }

    #[test]
    fn garbage_is_malformed() {
        let error = answer(response(500, Some("text/html"), "<html>oops</html>")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Retryable);
        let Error::MalformedResponse(m) = error else {
            panic!("not malformed");
        };
        assert_eq!(m.status, 500);
        assert_eq!(m.excerpt.as_deref(), Some("<html>oops</html>"));
        let error = answer(response(200, Some("text/html"), "")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Malformed);
        let error = answer(json_response(200, "[true]")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Malformed);
    }

    #[test]
    fn the_token_never_shows() {
        let client = basic();
        let flow = client.introspect("hunter2-xyz", None).unwrap();
        assert!(!format!("{flow:?}").contains("hunter2"));
        for (status, body) in [
            (
                400,
                r#"{"error":"invalid_request","error_description":"unknown hunter2-xyz"}"#,
            ),
            (502, "<html>no hunter2-xyz here</html>"),
            (200, r#"{"hunter2-xyz":1,"hunter2-xyz":1}"#),
        ] {
            let mut flow = client.introspect("hunter2-xyz", None).unwrap();
            assert!(matches!(flow.start(NOW).unwrap(), Step::Send(_)));
            let error = flow
                .handle_response(response(status, Some("text/html"), body), NOW)
                .unwrap_err();
            assert!(!error.to_string().contains("hunter2"), "{error}");
            assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
        }
    }

    #[test]
    fn the_flow_contract() {
        let client = basic();
        // Done, then nothing more.
        let mut flow = client.introspect(TOKEN, None).unwrap();
        assert!(matches!(flow.start(NOW).unwrap(), Step::Send(_)));
        assert!(matches!(
            flow.handle_response(json_response(200, r#"{"active":false}"#), NOW),
            Ok(Step::Done(_))
        ));
        assert_unexpected(flow.handle_response(json_response(200, r#"{"active":true}"#), NOW));
        assert_unexpected(flow.start(NOW));
        assert_unexpected(flow.handle_timeout(NOW));
        // An error ends the flow.
        let mut flow = client.introspect(TOKEN, None).unwrap();
        assert!(matches!(flow.start(NOW).unwrap(), Step::Send(_)));
        assert!(flow.handle_response(json_response(200, "{}"), NOW).is_err());
        assert_unexpected(flow.handle_response(json_response(200, r#"{"active":true}"#), NOW));
        assert_unexpected(flow.start(NOW));
        assert_unexpected(flow.handle_timeout(NOW));
        // Out of order: ended at once.
        let mut flow = client.introspect(TOKEN, None).unwrap();
        assert_unexpected(flow.handle_timeout(NOW));
        assert_unexpected(flow.start(NOW));
        let mut flow = client.introspect(TOKEN, None).unwrap();
        assert_unexpected(flow.handle_response(json_response(200, r#"{"active":true}"#), NOW));
        assert_unexpected(flow.start(NOW));
    }
}
