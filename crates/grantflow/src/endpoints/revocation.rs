//! Token revocation (RFC 7009): telling the authorization server that a
//! refresh or access token is no longer needed, at logout or when a grant is
//! given up.
//!
//! The user-facing documentation is on [`Revocation`].

use serde_json::Value;

use super::{TokenPost, TokenTypeHint};
use crate::client::Client;
use crate::error::{Error, MalformedResponse};
use crate::flow::{Flow, Step};
use crate::message::HttpResponse;
use crate::time::UnixTime;
use crate::types::{AccessToken, RefreshToken};
use crate::wire::{FieldSink, decode};

const FLOW: &str = "revocation";

impl Client {
    /// Revokes a refresh token (RFC 7009 §2.1, hint `refresh_token`). A
    /// server that supports it also revokes the access tokens of the same
    /// grant (RFC 7009 §2.1), which is why logout revokes the refresh token
    /// first.
    ///
    /// Fails with [`Error::MissingEndpoint`] without a revocation endpoint.
    pub fn revoke_refresh_token(&self, token: &RefreshToken) -> Result<Revocation, Error> {
        self.revoke(token.secret(), Some(TokenTypeHint::RefreshToken))
    }

    /// Revokes an access token (RFC 7009 §2.1, hint `access_token`). A
    /// server may answer `unsupported_token_type` when it cannot revoke
    /// access tokens (RFC 7009 §2.2.1).
    ///
    /// Fails with [`Error::MissingEndpoint`] without a revocation endpoint.
    pub fn revoke_access_token(&self, token: &AccessToken) -> Result<Revocation, Error> {
        self.revoke(token.secret(), Some(TokenTypeHint::AccessToken))
    }

    /// Revokes `token`, of the kind `hint` says if given (RFC 7009 §2.1):
    /// for a token held as a plain string.
    ///
    /// Fails with [`Error::MissingEndpoint`] without a revocation endpoint.
    pub fn revoke(&self, token: &str, hint: Option<TokenTypeHint>) -> Result<Revocation, Error> {
        Ok(Revocation {
            post: TokenPost::new(
                self,
                (FLOW, "revocation_endpoint"),
                |e| e.revocation.as_ref(),
                token,
                hint,
            )?,
        })
    }
}

/// Token revocation (RFC 7009) as a [`Flow`]. Made by
/// [`Client::revoke_refresh_token`], [`Client::revoke_access_token`] or
/// [`Client::revoke`].
///
/// ```text
///   New ──start──▶ Sent ──handle_response──▶ Done(())     on http 2xx
///                    │
///                    └── any other answer is an error and ends the flow
/// ```
///
/// The request is a form POST of `token` and `token_type_hint` to the
/// revocation endpoint, authenticated like every token request (a public
/// client sends its `client_id`). The answer:
///
/// - **http 200** is success, whatever the body and its content type (RFC
///   7009 §2.2: the client ignores the body; providers send empty bodies
///   labelled `text/plain` or `text/html`). A server also answers 200 for a
///   token it does not know or that was already revoked (§2.2), so success
///   means "this token no longer works", not "this token existed".
///   Another 2xx (`204 No Content`, which some servers send for "done") is
///   success too: the status says the request succeeded, and the body is
///   ignored whatever the status.
/// - **http 503** is [`ErrorKind::Retryable`](crate::ErrorKind::Retryable):
///   the server could not revoke the token now, so **it may still be
///   valid** (RFC 7009 §2.2.1). Retry later; until then keep treating the
///   token as live. Every retryable error means the same.
/// - an RFC 6749 §5.2 error body is [`Error::OAuth`]: `unsupported_token_type`
///   ([`ErrorCode::UnsupportedTokenType`](crate::ErrorCode::UnsupportedTokenType))
///   when the server cannot revoke this kind of token, `invalid_client`
///   when client authentication failed.
/// - anything else is [`Error::MalformedResponse`], quoting at most a short
///   excerpt.
///
/// The token never appears in `Debug` or in an error, even one quoting a
/// server that echoed it.
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Endpoints, Flow, RefreshToken, Step, UnixTime};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let mut endpoints = Endpoints::default();
/// endpoints.revocation = Some(EndpointUrl::parse("https://server.example.com/revoke")?);
/// let client = Client::new(
///     ClientId::new("s6BhdRkqt3"),
///     ClientAuth::ClientSecretBasic(ClientSecret::new("7Fjfp0ZBr1KtDRbnfVdmIw")),
/// )
/// .with_endpoints(endpoints);
///
/// let now = UnixTime::from_secs(1_700_000_000);
/// let mut flow = client.revoke_refresh_token(&RefreshToken::new("45ghiukldjahdnhzdauz"))?;
/// let Step::Send(request) = flow.start(now)? else { unreachable!() };
/// // RFC 7009 §2.1's example request.
/// assert_eq!(request.method(), "POST");
/// assert_eq!(request.uri(), "https://server.example.com/revoke");
/// assert_eq!(request.body().as_slice(), b"token=45ghiukldjahdnhzdauz&token_type_hint=refresh_token");
/// assert_eq!(
///     request.headers()["authorization"],
///     "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"
/// );
///
/// // An empty 200, labelled text/html: revoked.
/// let answer = http::Response::builder()
///     .status(200)
///     .header("content-type", "text/html")
///     .body(Vec::new())
///     .unwrap();
/// assert!(matches!(flow.handle_response(answer, now)?, Step::Done(())));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Revocation {
    post: TokenPost,
}

impl Flow for Revocation {
    type Output = ();

    fn start(&mut self, now: UnixTime) -> Result<Step<()>, Error> {
        self.post.start(now).map(Step::Send)
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        _now: UnixTime,
    ) -> Result<Step<()>, Error> {
        self.post.answered()?;
        if response.status().is_success() {
            return Ok(Step::Done(()));
        }
        Err(self.post.withhold(revocation_error(&response)))
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<()>, Error> {
        Err(self.post.timeout())
    }
}

/// Reads nothing but the RFC 6749 §5.2 error fields, which `decode` keeps
/// in slots of its own.
#[derive(Default)]
struct Ignored;

impl FieldSink for Ignored {
    fn insert(&mut self, _key: &str, _value: Value) -> bool {
        true
    }
}

/// The error a revocation answer other than 2xx stands for: the RFC 6749
/// §5.2 error it carries, or else a malformed response, which for a 503
/// says what that status means here.
fn revocation_error(response: &HttpResponse) -> Error {
    let status = response.status().as_u16();
    let reason = if status == 503 {
        Some(
            "http 503: the server cannot revoke the token now, so it may still be valid; \
             retry later (rfc 7009 section 2.2.1)"
                .to_owned(),
        )
    } else {
        None
    };
    match (decode::<Ignored>(response), reason) {
        (Err(Error::MalformedResponse(malformed)), Some(reason)) => {
            Error::MalformedResponse(MalformedResponse {
                reason,
                ..malformed
            })
        }
        (Err(error), _) => error,
        (Ok(_), reason) => MalformedResponse::without_excerpt(
            status,
            reason.unwrap_or_else(|| format!("http {status} from the revocation endpoint")),
        )
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::EndpointUrl;
    use crate::endpoints::tests::{assert_hides, json_response, response, secret_auths};
    use crate::error::{ErrorCode, ErrorKind};
    use crate::{ClientAuth, ClientId, ClientSecret, Endpoints};

    const TOKEN: &str = "45ghiukldjahdnhzdauz";
    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

    fn client(auth: ClientAuth) -> Client {
        let endpoints = Endpoints {
            revocation: Some(EndpointUrl::parse("https://as.example.com/revoke").unwrap()),
            ..Endpoints::default()
        };
        Client::new(ClientId::new("s6BhdRkqt3"), auth).with_endpoints(endpoints)
    }

    fn basic() -> Client {
        client(ClientAuth::ClientSecretBasic(ClientSecret::new(
            "7Fjfp0ZBr1KtDRbnfVdmIw",
        )))
    }

    fn started(client: &Client) -> Revocation {
        let mut flow = client
            .revoke_refresh_token(&RefreshToken::new(TOKEN))
            .unwrap();
        assert!(matches!(flow.start(NOW).unwrap(), Step::Send(_)));
        flow
    }

    fn answer(status: u16, content_type: Option<&str>, body: &[u8]) -> Result<Step<()>, Error> {
        started(&basic()).handle_response(response(status, content_type, body), NOW)
    }

    fn error(status: u16, content_type: Option<&str>, body: &[u8]) -> Error {
        match answer(status, content_type, body) {
            Err(error) => error,
            Ok(step) => panic!("expected an error, got {step:?}"),
        }
    }

    fn assert_unexpected(result: Result<Step<()>, Error>) {
        assert!(
            matches!(result, Err(Error::UnexpectedCall { flow: FLOW, .. })),
            "{result:?}"
        );
    }

    #[test]
    fn no_error_quotes_the_client_secret_the_request_carried() {
        const SECRET: &str = "7Fjfp0ZBr1KtDRbnfVdmIw";
        for auth in secret_auths(SECRET) {
            for (status, body) in [
                (
                    401,
                    format!(r#"{{"error":"invalid_client","error_description":"{SECRET}?"}}"#),
                ),
                (500, format!(r#"{{"x{SECRET}":1,"x{SECRET}":2}}"#)),
            ] {
                let error = started(&client(auth.clone()))
                    .handle_response(json_response(status, &body), NOW)
                    .unwrap_err();
                assert_hides(&error, SECRET);
            }
        }
    }

    #[test]
    fn basic_request_is_rfc7009_example() {
        let mut flow = basic()
            .revoke_refresh_token(&RefreshToken::new(TOKEN))
            .unwrap();
        let Step::Send(request) = flow.start(NOW).unwrap() else {
            panic!("no request");
        };
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "https://as.example.com/revoke");
        assert_eq!(
            request.body().as_slice(),
            b"token=45ghiukldjahdnhzdauz&token_type_hint=refresh_token"
        );
        let headers = request.headers();
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
        assert_eq!(
            headers["authorization"],
            "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"
        );
    }

    #[test]
    fn post_and_public_clients_authenticate_in_the_body() {
        let post = client(ClientAuth::ClientSecretPost(ClientSecret::new("s3cr3t")));
        let mut flow = post
            .revoke_access_token(&AccessToken::new("a+b/c"))
            .unwrap();
        let Step::Send(request) = flow.start(NOW).unwrap() else {
            panic!("no request");
        };
        assert_eq!(
            request.body().as_slice(),
            b"token=a%2Bb%2Fc&token_type_hint=access_token&client_id=s6BhdRkqt3&client_secret=s3cr3t"
        );
        assert!(request.headers().get("authorization").is_none());

        let public = client(ClientAuth::None);
        let mut flow = public.revoke(TOKEN, None).unwrap();
        let Step::Send(request) = flow.start(NOW).unwrap() else {
            panic!("no request");
        };
        assert_eq!(
            request.body().as_slice(),
            b"token=45ghiukldjahdnhzdauz&client_id=s6BhdRkqt3"
        );
        assert!(request.headers().get("authorization").is_none());
    }

    #[test]
    fn other_hints_are_sent_as_given() {
        let mut flow = client(ClientAuth::None)
            .revoke(TOKEN, Some(TokenTypeHint::Other("device_secret".into())))
            .unwrap();
        let Step::Send(request) = flow.start(NOW).unwrap() else {
            panic!("no request");
        };
        assert_eq!(
            request.body().as_slice(),
            b"token=45ghiukldjahdnhzdauz&token_type_hint=device_secret&client_id=s6BhdRkqt3"
        );
    }

    #[test]
    fn a_client_without_revocation_endpoint_is_refused() {
        let client = Client::new(ClientId::new("app"), ClientAuth::None);
        assert!(matches!(
            client.revoke_refresh_token(&RefreshToken::new(TOKEN)),
            Err(Error::MissingEndpoint {
                endpoint: "revocation_endpoint"
            })
        ));
    }

    #[test]
    fn any_200_is_success_whatever_the_body() {
        for (content_type, body) in [
            (Some("text/html"), &b""[..]),
            (Some("text/plain"), b""),
            (None, b""),
            (Some("application/json"), b"{}"),
            (Some("application/json"), br#"{"revoked":true}"#),
            (Some("text/html"), b"<html>OK</html>"),
            // RFC 7009 §2.2: the body is ignored, even this one.
            (Some("application/json"), br#"{"error":"invalid_request"}"#),
            (Some("application/json"), b"{not json"),
        ] {
            assert!(
                matches!(answer(200, content_type, body), Ok(Step::Done(()))),
                "{content_type:?} {body:?}"
            );
        }
    }

    #[test]
    fn other_2xx_are_success_too() {
        for status in [201, 202, 204] {
            assert!(matches!(answer(status, None, b""), Ok(Step::Done(()))));
        }
    }

    #[test]
    fn http_503_is_retryable_and_says_the_token_may_still_be_valid() {
        let error = error(503, Some("text/html"), b"<html>Service Unavailable</html>");
        assert_eq!(error.kind(), ErrorKind::Retryable);
        let message = error.to_string();
        assert!(message.contains("may still be valid"), "{message}");
        assert!(message.contains("Service Unavailable"), "{message}");
        // An empty 503 says the same.
        let error = super::tests::error(503, None, b"");
        assert_eq!(error.kind(), ErrorKind::Retryable);
        assert!(error.to_string().contains("may still be valid"));
        // An RFC 6749 §5.2 body with a 503 stays typed, and retryable.
        let error = super::tests::error(503, None, br#"{"error":"temporarily_unavailable"}"#);
        assert_eq!(error.oauth_code(), Some(&ErrorCode::TemporarilyUnavailable));
        assert_eq!(error.kind(), ErrorKind::Retryable);
    }

    #[test]
    fn unsupported_token_type_is_typed() {
        let error = error(
            400,
            Some("application/json"),
            br#"{"error":"unsupported_token_type","error_description":"access tokens cannot be revoked"}"#,
        );
        assert_eq!(error.oauth_code(), Some(&ErrorCode::UnsupportedTokenType));
        assert_eq!(error.kind(), ErrorKind::Refused);
        assert_eq!(
            error.oauth_error().and_then(|e| e.description.as_deref()),
            Some("access tokens cannot be revoked")
        );
    }

    #[test]
    fn invalid_client_is_typed() {
        let error = error(
            401,
            Some("application/json"),
            br#"{"error":"invalid_client"}"#,
        );
        assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidClient));
        assert_eq!(error.oauth_error().and_then(|e| e.status), Some(401));
        assert_eq!(error.kind(), ErrorKind::Refused);
    }

    #[test]
    fn garbage_500_is_malformed_and_bounded() {
        let body = format!("<html>{}</html>", "oops ".repeat(2000));
        let Error::MalformedResponse(m) = error(500, Some("text/html"), body.as_bytes()) else {
            panic!("not malformed");
        };
        assert_eq!(m.status, 500);
        assert!(
            m.excerpt
                .as_ref()
                .is_some_and(|e| e.len() <= MalformedResponse::MAX_EXCERPT)
        );
        let Error::MalformedResponse(m) = error(418, Some("application/json"), b"[1,2]") else {
            panic!("not malformed");
        };
        assert_eq!(m.status, 418);
    }

    #[test]
    fn the_token_never_shows() {
        let client = basic();
        let flow = client.revoke("hunter2-xyz", None).unwrap();
        assert!(!format!("{flow:?}").contains("hunter2"));
        // A server that echoes the token in its answer.
        for (status, body) in [
            (
                400,
                &br#"{"error":"invalid_request","error_description":"bad token hunter2-xyz"}"#[..],
            ),
            (500, b"<html>cannot revoke hunter2-xyz</html>"),
            (503, b"<html>cannot revoke hunter2-xyz now</html>"),
            (400, br#"{"hunter2-xyz":1,"hunter2-xyz":2}"#),
        ] {
            let mut flow = client.revoke("hunter2-xyz", None).unwrap();
            let Step::Send(_) = flow.start(NOW).unwrap() else {
                panic!("no request");
            };
            let error = flow
                .handle_response(response(status, Some("text/html"), body), NOW)
                .unwrap_err();
            assert!(!error.to_string().contains("hunter2"), "{error}");
            assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
        }
    }

    #[test]
    fn an_error_ends_the_flow() {
        let mut flow = started(&basic());
        assert!(flow.handle_response(json_response(500, "{}"), NOW).is_err());
        assert_unexpected(flow.handle_response(response(200, None, ""), NOW));
        assert_unexpected(flow.start(NOW));
        assert_unexpected(flow.handle_timeout(NOW));
    }

    #[test]
    fn done_is_the_end() {
        let mut flow = started(&basic());
        assert!(matches!(
            flow.handle_response(response(200, None, ""), NOW),
            Ok(Step::Done(()))
        ));
        assert_unexpected(flow.handle_response(response(200, None, ""), NOW));
        assert_unexpected(flow.start(NOW));
        assert_unexpected(flow.handle_timeout(NOW));
    }

    #[test]
    fn out_of_order_calls_end_the_flow() {
        let client = basic();
        let mut flow = client.revoke(TOKEN, None).unwrap();
        assert_unexpected(flow.handle_response(response(200, None, ""), NOW));
        // Ended by the misuse: even start is refused now.
        assert_unexpected(flow.start(NOW));

        let mut flow = client.revoke(TOKEN, None).unwrap();
        assert_unexpected(flow.handle_timeout(NOW));
        assert_unexpected(flow.start(NOW));

        let mut flow = started(&client);
        assert_unexpected(flow.start(NOW));
        assert_unexpected(flow.handle_response(response(200, None, ""), NOW));
    }
}
