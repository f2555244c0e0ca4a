//! Pushed authorization requests (RFC 9126): the authorization request goes
//! to the provider over a back channel, with client authentication, and the
//! browser carries only `client_id` and the `request_uri` it was given.
//!
//! The user-facing documentation is on [`PushedAuthorization`].

use core::fmt;

use serde_json::Value;

use super::request::Prepared;
use crate::error::{Error, MalformedResponse};
use crate::flow::{Flow, Step};
use crate::message::HttpResponse;
use crate::time::UnixTime;
use crate::wire::{Decoded, FieldSink, decode, fill, string_field};

/// The longest `request_uri` accepted, in bytes (RFC 9126 §2.2 does not
/// bound it; providers send some 60 to 100).
const MAX_REQUEST_URI: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Sent,
    Finished,
}

/// An authorization request on its way to the provider as a [`Flow`]:
/// pushed to the `pushed_authorization_request_endpoint` (RFC 9126 §2.1)
/// when asked for or required, and ending, like `begin`, in the URL to send
/// the user to and the pending value (`P`: a
/// [`PendingSignIn`](crate::PendingSignIn) or a
/// [`PendingAuthorization`](crate::PendingAuthorization)), so the callback
/// and the code exchange are the same as without PAR.
///
/// Made by [`SignInRequest::push`](crate::SignInRequest::push) and
/// [`AuthorizationRequest::push`](crate::AuthorizationRequest::push), which
/// always push, and by their `begin_or_push`, which pushes only when the
/// client [requires it](crate::Client::requires_pushed_authorization) (its
/// provider's metadata says `require_pushed_authorization_requests`), and
/// otherwise ends at `start`, with no request, with the URL `begin` builds.
///
/// ```text
///   New ──start──▶ Send(POST par endpoint) ──handle_response──▶ Done((url, pending))
///    └──start (not pushed)──────────────────────────────────────▶ Done((url, pending))
/// ```
///
/// The pushed request carries every parameter the URL would have
/// (`response_type`, `redirect_uri`, `scope`, `state`, the PKCE challenge,
/// `nonce` for a sign-in, …), is authenticated with the client's method,
/// and always has `client_id` in the body (RFC 9126 §2.1 lets providers
/// require it even with HTTP Basic). The answer, `201 Created` (or any
/// 2xx) with `request_uri` and `expires_in`, gives the URL
/// `authorization_endpoint?client_id=…&request_uri=…`; the user must be
/// sent there before `expires_in` runs out (a minute, typically). An error
/// response is [`Error::OAuth`].
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Endpoints, Flow, Issuer, Step, UnixTime};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut rng = grantflow::testing::CountingRng::new(0); // a real program: the OS generator
/// let mut endpoints = Endpoints::default();
/// endpoints.authorization = Some(EndpointUrl::parse("https://as.example.com/authorize")?);
/// endpoints.token = Some(EndpointUrl::parse("https://as.example.com/token")?);
/// endpoints.pushed_authorization_request = Some(EndpointUrl::parse("https://as.example.com/par")?);
/// let client = Client::new(ClientId::new("s6BhdRkqt3"), ClientAuth::ClientSecretBasic(ClientSecret::new("secret")))
///     .with_endpoints(endpoints)
///     .with_issuer(Issuer::new("https://as.example.com")?);
///
/// let now = UnixTime::from_secs(1_800_000_000);
/// let mut push = client.sign_in("https://client.example.org/cb")?.push(&mut rng, now)?;
/// let Step::Send(request) = push.start(now)? else { unreachable!() };
/// assert_eq!(request.uri(), "https://as.example.com/par");
/// let body = String::from_utf8(request.body().clone())?;
/// assert!(body.starts_with("response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&scope=openid&state="));
/// assert!(body.ends_with("&client_id=s6BhdRkqt3"));
///
/// let created = grantflow::testing::json_response(201, r#"{
///     "request_uri": "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c",
///     "expires_in": 60 }"#);
/// let Step::Done((url, pending)) = push.handle_response(created, now)? else { unreachable!() };
/// assert_eq!(
///     url.as_str(),
///     "https://as.example.com/authorize?client_id=s6BhdRkqt3\
///      &request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A6esc_11ACC5bwc014ltc14eY22c"
/// );
/// // `pending` goes into the session, and `pending.callback(..)` follows, as without PAR.
/// # let _ = pending;
/// # Ok(())
/// # }
/// ```
pub struct PushedAuthorization<P> {
    prepared: Prepared,
    pending: Option<P>,
    push: bool,
    state: State,
}

impl<P> PushedAuthorization<P> {
    const FLOW: &str = "pushed authorization request";

    pub(super) fn new(prepared: Prepared, pending: P, push: bool) -> Self {
        PushedAuthorization {
            prepared,
            pending: Some(pending),
            push,
            state: State::New,
        }
    }

    /// Whether this flow pushes the request (otherwise it ends at `start`
    /// with the URL the browser carries).
    pub fn pushes(&self) -> bool {
        self.push
    }

    fn unexpected(&mut self, call: &'static str) -> Error {
        self.state = State::Finished;
        Error::UnexpectedCall {
            flow: Self::FLOW,
            call,
        }
    }

    /// The URL and the pending value: the flow's end.
    fn done(&mut self, url: url::Url) -> Result<Step<(url::Url, P)>, Error> {
        match self.pending.take() {
            Some(pending) => Ok(Step::Done((url, pending))),
            None => Err(self.unexpected("a call after the flow ended")),
        }
    }
}

/// Redacted: no parameters (`state`, `nonce`) and no pending value.
impl<P> fmt::Debug for PushedAuthorization<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushedAuthorization")
            .field("client", &self.prepared.client)
            .field(
                "authorization_endpoint",
                &self
                    .prepared
                    .authorization_endpoint()
                    .map_or("", |url| url.as_str()),
            )
            .field("push", &self.push)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<P> Flow for PushedAuthorization<P> {
    type Output = (url::Url, P);

    fn start(&mut self, now: UnixTime) -> Result<Step<(url::Url, P)>, Error> {
        if self.state != State::New {
            return Err(self.unexpected("start after the flow had started"));
        }
        self.state = State::Finished;
        if !self.push {
            let url = self.prepared.url()?;
            return self.done(url);
        }
        let client = &self.prepared.client;
        let endpoint = client.require_endpoint(
            |e| e.pushed_authorization_request.as_ref(),
            "pushed_authorization_request_endpoint",
        )?;
        let params = core::iter::once(("response_type", "code")).chain(
            self.prepared
                .params
                .0
                .iter()
                .map(|(name, value)| (name.as_ref(), value.as_ref())),
        );
        let request = client.authenticated_request(endpoint, params, true, now)?;
        self.state = State::Sent;
        Ok(Step::Send(request))
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        _now: UnixTime,
    ) -> Result<Step<(url::Url, P)>, Error> {
        if self.state != State::Sent {
            return Err(self.unexpected("handle_response without a request in flight"));
        }
        self.state = State::Finished;
        // The request carried the client secret (`client_secret_basic` or
        // `client_secret_post`): no error quotes it back.
        let request_uri = parse_par_response(&response)
            .map_err(|error| self.prepared.client.withhold_secret(error))?;
        let mut url = self.prepared.authorization_endpoint()?.clone();
        url.query_pairs_mut()
            .append_pair("client_id", self.prepared.client.client_id().as_str())
            .append_pair("request_uri", &request_uri);
        self.done(url)
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<(url::Url, P)>, Error> {
        Err(self.unexpected("handle_timeout: this flow never waits"))
    }
}

#[derive(Default)]
struct ParFields {
    request_uri: Option<Value>,
    expires_in: Option<Value>,
}

impl FieldSink for ParFields {
    fn insert(&mut self, key: &str, value: Value) -> bool {
        let slot = match key {
            "request_uri" => &mut self.request_uri,
            "expires_in" => &mut self.expires_in,
            _ => return true,
        };
        fill(slot, value)
    }
}

fn malformed(status: u16, reason: impl Into<String>) -> Error {
    MalformedResponse::without_excerpt(status, reason).into()
}

/// The `request_uri` of a PAR response (RFC 9126 §2.2): a non-empty string
/// of at most [`MAX_REQUEST_URI`] bytes without control characters, with a
/// valid `expires_in` (a whole number of seconds; tolerated when absent, as
/// the client does not need it).
pub(crate) fn parse_par_response(response: &HttpResponse) -> Result<String, Error> {
    let Decoded { status, fields } = decode::<ParFields>(response)?;
    crate::grants::seconds_field(status, "expires_in", fields.expires_in.as_ref())?;
    match string_field(status, "request_uri", fields.request_uri)? {
        None => Err(malformed(status, "field \"request_uri\" is missing")),
        Some(uri) if uri.is_empty() => Err(malformed(status, "field \"request_uri\" is empty")),
        Some(uri) if uri.len() > MAX_REQUEST_URI => Err(malformed(
            status,
            format!("field \"request_uri\" is longer than {MAX_REQUEST_URI} bytes"),
        )),
        Some(uri) if uri.chars().any(char::is_control) => Err(malformed(
            status,
            "field \"request_uri\" has a control character",
        )),
        Some(uri) => Ok(uri),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{EndpointUrl, Issuer};
    use crate::error::ErrorCode;
    use crate::testing::{CountingRng, json_response};
    use crate::{Client, ClientAuth, ClientId, ClientSecret, Endpoints, PendingSignIn};

    const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
    const REDIRECT: &str = "https://client.example.org/cb";
    const REQUEST_URI: &str = "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c";

    fn client(auth: ClientAuth) -> Client {
        let endpoints = Endpoints {
            authorization: Some(
                EndpointUrl::parse("https://as.example.com/authorize?tenant=a").unwrap(),
            ),
            token: Some(EndpointUrl::parse("https://as.example.com/token").unwrap()),
            pushed_authorization_request: Some(
                EndpointUrl::parse("https://as.example.com/par").unwrap(),
            ),
            ..Endpoints::default()
        };
        Client::new(ClientId::new("s6BhdRkqt3"), auth)
            .with_endpoints(endpoints)
            .with_issuer(Issuer::new("https://as.example.com").unwrap())
    }

    fn basic() -> Client {
        client(ClientAuth::ClientSecretBasic(ClientSecret::new("secret")))
    }

    fn created() -> HttpResponse {
        json_response(
            201,
            format!(r#"{{"request_uri":"{REQUEST_URI}","expires_in":60}}"#),
        )
    }

    fn push(client: &Client) -> PushedAuthorization<PendingSignIn> {
        client
            .sign_in(REDIRECT)
            .unwrap()
            .login_hint("alice")
            .max_age(300)
            .push(&mut CountingRng::new(7), NOW)
            .unwrap()
    }

    #[test]
    fn the_pushed_request_carries_what_the_url_would_and_client_id() {
        let client = basic();
        // The URL `begin` builds from the same draws.
        let (browser_url, _) = client
            .sign_in(REDIRECT)
            .unwrap()
            .login_hint("alice")
            .max_age(300)
            .begin(&mut CountingRng::new(7), NOW)
            .unwrap();
        let mut flow = push(&client);
        assert!(flow.pushes());
        let Step::Send(request) = flow.start(NOW).unwrap() else {
            panic!()
        };
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "https://as.example.com/par");
        assert!(request.headers().get("authorization").is_some());
        let body: Vec<(String, String)> = form_urlencoded::parse(request.body())
            .into_owned()
            .collect();
        let mut from_url: Vec<(String, String)> = browser_url
            .query_pairs()
            .into_owned()
            .filter(|(name, _)| name != "tenant")
            .collect();
        let mut pushed = body.clone();
        from_url.sort();
        pushed.sort();
        assert_eq!(pushed, from_url, "the same parameters, client_id included");
        assert_eq!(
            body.last().unwrap(),
            &("client_id".to_owned(), "s6BhdRkqt3".to_owned())
        );
        assert!(body.iter().any(|(name, _)| name == "nonce"));

        let Step::Done((url, _pending)) = flow.handle_response(created(), NOW).unwrap() else {
            panic!()
        };
        assert_eq!(
            url.as_str(),
            "https://as.example.com/authorize?tenant=a&client_id=s6BhdRkqt3\
             &request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A6esc_11ACC5bwc014ltc14eY22c"
        );
    }

    #[test]
    fn no_error_quotes_the_client_secret_the_request_carried() {
        const SECRET: &str = "par-client-secret-8fK2";
        for auth in [
            ClientAuth::ClientSecretBasic(ClientSecret::new(SECRET)),
            ClientAuth::ClientSecretPost(ClientSecret::new(SECRET)),
        ] {
            let client = client(auth);
            for answer in [
                json_response(
                    401,
                    format!(
                        r#"{{"error":"invalid_client","error_description":"no client with {SECRET}"}}"#
                    ),
                ),
                json_response(201, format!(r#"{{"request_uri":"","echo":"{SECRET}"}}"#)),
                json_response(201, format!(r#"{{"x{SECRET}":1,"x{SECRET}":2}}"#)),
            ] {
                let mut flow = push(&client);
                let Step::Send(_) = flow.start(NOW).unwrap() else {
                    panic!()
                };
                let error = flow.handle_response(answer, NOW).unwrap_err();
                let shown = format!("{error} {error:?}");
                assert!(!shown.contains(SECRET), "{shown}");
            }
        }
    }

    #[test]
    fn the_callback_and_exchange_are_unchanged() {
        let client = basic();
        let mut flow = push(&client);
        let Step::Send(request) = flow.start(NOW).unwrap() else {
            panic!()
        };
        let state = form_urlencoded::parse(request.body())
            .find(|(name, _)| name == "state")
            .unwrap()
            .1
            .into_owned();
        // 200 is accepted as well as 201.
        let ok = json_response(
            200,
            format!(r#"{{"request_uri":"{REQUEST_URI}","expires_in":"60"}}"#),
        );
        let Step::Done((_, pending)) = flow.handle_response(ok, NOW).unwrap() else {
            panic!()
        };
        let mut exchange = pending
            .callback(&client, &format!("{REDIRECT}?code=abc&state={state}"), NOW)
            .unwrap();
        let Step::Send(token_request) = exchange.start(NOW).unwrap() else {
            panic!()
        };
        assert!(
            String::from_utf8(token_request.body().clone())
                .unwrap()
                .starts_with("grant_type=authorization_code&code=abc&redirect_uri=")
        );
    }

    #[test]
    fn a_public_client_sends_client_id_once() {
        let client = client(ClientAuth::None);
        let mut flow = client
            .authorize(REDIRECT)
            .unwrap()
            .push(&mut CountingRng::new(0), NOW)
            .unwrap();
        let Step::Send(request) = flow.start(NOW).unwrap() else {
            panic!()
        };
        let ids = form_urlencoded::parse(request.body())
            .filter(|(name, _)| name == "client_id")
            .count();
        assert_eq!(ids, 1);
        assert!(request.headers().get("authorization").is_none());
    }

    #[test]
    fn required_by_the_provider() {
        let client = basic().with_required_pushed_authorization(true);
        assert!(client.requires_pushed_authorization());
        let refused = client
            .sign_in(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(0), NOW);
        assert!(matches!(refused, Err(Error::PushedAuthorizationRequired)));
        let refused = client
            .authorize(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(0), NOW);
        assert!(matches!(refused, Err(Error::PushedAuthorizationRequired)));
        let mut flow = client
            .sign_in(REDIRECT)
            .unwrap()
            .begin_or_push(&mut CountingRng::new(0), NOW)
            .unwrap();
        assert!(flow.pushes());
        assert!(matches!(flow.start(NOW), Ok(Step::Send(_))));

        // Not required: no request, the URL `begin` gives.
        let client = basic();
        let (expected, _) = client
            .authorize(REDIRECT)
            .unwrap()
            .begin(&mut CountingRng::new(3), NOW)
            .unwrap();
        let mut flow = client
            .authorize(REDIRECT)
            .unwrap()
            .begin_or_push(&mut CountingRng::new(3), NOW)
            .unwrap();
        assert!(!flow.pushes());
        let Ok(Step::Done((url, _))) = flow.start(NOW) else {
            panic!()
        };
        assert_eq!(url, expected);
        assert!(matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })));
    }

    #[test]
    fn errors_from_the_par_endpoint() {
        for (response, check) in [
            (
                json_response(
                    400,
                    r#"{"error":"invalid_request","error_description":"bad \u001b[31m"}"#,
                ),
                (|e: &Error| e.oauth_code() == Some(&ErrorCode::InvalidRequest))
                    as fn(&Error) -> bool,
            ),
            (json_response(401, r#"{"error":"invalid_client"}"#), |e| {
                e.oauth_code() == Some(&ErrorCode::InvalidClient)
            }),
            (
                json_response(201, r#"{"expires_in":60}"#),
                |e| matches!(e, Error::MalformedResponse(m) if m.reason.contains("missing")),
            ),
            (
                json_response(201, r#"{"request_uri":"","expires_in":60}"#),
                |e| matches!(e, Error::MalformedResponse(_)),
            ),
            (
                json_response(201, r#"{"request_uri":"urn:x\u001b[2J","expires_in":60}"#),
                |e| matches!(e, Error::MalformedResponse(_)),
            ),
            (
                json_response(201, r#"{"request_uri":"urn:x","expires_in":-5}"#),
                |e| matches!(e, Error::MalformedResponse(_)),
            ),
            (
                json_response(201, r#"{"request_uri":7,"expires_in":60}"#),
                |e| matches!(e, Error::MalformedResponse(_)),
            ),
        ] {
            let mut flow = push(&basic());
            let _ = flow.start(NOW).unwrap();
            let error = flow.handle_response(response, NOW).unwrap_err();
            assert!(check(&error), "{error:?}");
            assert!(!error.to_string().contains('\u{1b}'));
            // Any error ends the flow.
            assert!(matches!(
                flow.handle_response(created(), NOW),
                Err(Error::UnexpectedCall { .. })
            ));
        }
    }

    #[test]
    fn flow_contract_and_redaction() {
        let mut flow = push(&basic());
        assert!(matches!(
            flow.handle_response(created(), NOW),
            Err(Error::UnexpectedCall { .. })
        ));
        let mut flow = push(&basic());
        assert!(matches!(
            flow.handle_timeout(NOW),
            Err(Error::UnexpectedCall { .. })
        ));
        assert!(matches!(flow.start(NOW), Err(Error::UnexpectedCall { .. })));

        let mut flow = push(&basic());
        let Step::Send(request) = flow.start(NOW).unwrap() else {
            panic!()
        };
        let state = form_urlencoded::parse(request.body())
            .find(|(name, _)| name == "state")
            .unwrap()
            .1
            .into_owned();
        let debug = format!("{flow:?}");
        assert!(!debug.contains(&state), "{debug}");
        assert!(!debug.contains("secret"), "{debug}");

        // Without a PAR endpoint.
        let mut endpoints = basic().endpoints().clone();
        endpoints.pushed_authorization_request = None;
        let mut flow = push(&basic().with_endpoints(endpoints));
        assert!(matches!(
            flow.start(NOW),
            Err(Error::MissingEndpoint {
                endpoint: "pushed_authorization_request_endpoint"
            })
        ));
    }
}
