//! The device authorization grant (RFC 8628): a device with no browser, or
//! no keyboard, shows the user a code and a URL, and polls the token
//! endpoint while the user approves on another device.
//!
//! The user-facing documentation is on [`DeviceAuthorizationRequest`],
//! [`DeviceAuthorization`] and [`DevicePoll`].

use core::fmt;

use serde_json::Value;
use url::Url;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::client::Client;
use crate::endpoint::is_loopback;
use crate::error::{Error, ErrorCode, ErrorKind, IdTokenError, MalformedResponse, withhold};
use crate::flow::{Flow, Step};
use crate::message::HttpResponse;
use crate::oidc::{Expected, IdToken, parse_jwks_response, refetch_keys_or};
use crate::time::UnixTime;
use crate::token::{TokenSet, parse_tokens_for};
use crate::types::{Scope, join_scopes};
use crate::wire::{Decoded, FieldSink, decode, fill, string_field};

/// The `grant_type` of the device access token request (RFC 8628 §3.4).
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the server names none (RFC 8628 §3.2), seconds.
pub(crate) const DEFAULT_INTERVAL: u64 = 5;
/// The shortest interval polled at, whatever the server says (an `interval`
/// of 0 would make a driver hammer the token endpoint), seconds.
pub(crate) const MIN_INTERVAL: u64 = 1;
/// What each `slow_down` adds to the interval, for good (RFC 8628 §3.5), seconds.
pub(crate) const SLOW_DOWN_STEP: u64 = 5;
/// The longest interval `slow_down` and 5xx back-off grow to (a server's
/// own longer `interval` is kept), seconds.
pub(crate) const MAX_INTERVAL: u64 = 60;
/// The longest `user_code` accepted, in bytes (RFC 8628 §6.1 suggests 8
/// characters; anything near this bound is not meant for a human).
const MAX_USER_CODE: usize = 128;
/// The longest verification URI accepted, in bytes.
const MAX_URI: usize = 2048;

/// Parameters the request sets itself (or client authentication does),
/// which [`DeviceAuthorizationRequest::param`] refuses.
const RESERVED: [&str; 5] = [
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

impl Client {
    /// Starts the device authorization grant (RFC 8628 §3.1): the
    /// [`DeviceAuthorizationRequest`] flow asks the device authorization
    /// endpoint for a device code and a user code, and ends in a
    /// [`DeviceAuthorization`] whose [`poll`](DeviceAuthorization::poll)
    /// waits for the user's approval.
    ///
    /// Public clients send their `client_id` in the body, confidential ones
    /// authenticate with their method. Fails with [`Error::MissingEndpoint`]
    /// without a device authorization endpoint or a token endpoint.
    pub fn device_authorization(&self) -> Result<DeviceAuthorizationRequest, Error> {
        self.require_endpoint(
            |e| e.device_authorization.as_ref(),
            "device_authorization_endpoint",
        )?;
        self.require_token_endpoint()?;
        Ok(DeviceAuthorizationRequest {
            client: self.clone(),
            scopes: Vec::new(),
            params: Vec::new(),
            state: RequestState::New,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestState {
    New,
    Sent,
    Finished,
}

/// The device authorization request (RFC 8628 §3.1) as a [`Flow`]: one
/// request, and the [`DeviceAuthorization`] to show the user. Made by
/// [`Client::device_authorization`].
///
/// ```text
///   DeviceAuthorizationRequest ──start──▶ Send ──handle_response──▶ Done(DeviceAuthorization)
///        show user_code and verification_uri to the user, then
///   DeviceAuthorization::poll() ──▶ DevicePoll ──▶ WaitUntil / Send … ──▶ Done(DeviceTokens)
/// ```
///
/// A command-line program, with canned server answers in place of an
/// adapter such as `grantflow-ureq`:
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, EndpointUrl, Endpoints, Flow, Scope, Step, UnixTime};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut endpoints = Endpoints::default();
/// endpoints.device_authorization = Some(EndpointUrl::parse("https://as.example.com/device")?);
/// endpoints.token = Some(EndpointUrl::parse("https://as.example.com/token")?);
/// let client = Client::new(ClientId::new("tv-app"), ClientAuth::None).with_endpoints(endpoints);
///
/// // 1. Ask for a user code.
/// let now = UnixTime::from_secs(1_800_000_000);
/// let mut request = client.device_authorization()?.scope(Scope::new("videos.read")?);
/// let Step::Send(http) = request.start(now)? else { unreachable!() };
/// assert_eq!(http.body().as_slice(), b"scope=videos.read&client_id=tv-app");
/// let answer = grantflow::testing::json_response(200, r#"{
///     "device_code": "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
///     "user_code": "WDJB-MJHT",
///     "verification_uri": "https://as.example.com/device",
///     "verification_uri_complete": "https://as.example.com/device?user_code=WDJB-MJHT",
///     "expires_in": 1800, "interval": 5 }"#);
/// let Step::Done(authorization) = request.handle_response(answer, now)? else { unreachable!() };
///
/// // 2. Show the user what to do, before polling starts.
/// println!("Open {} and enter {}", authorization.verification_uri(), authorization.user_code());
/// assert_eq!(authorization.user_code(), "WDJB-MJHT");
///
/// // 3. Poll: the schedule is a value, never a sleep in the core.
/// let mut poll = authorization.poll();
/// let Step::WaitUntil(at) = poll.start(now)? else { unreachable!() };
/// assert_eq!(at, now.saturating_add_secs(5));
/// let Step::Send(http) = poll.handle_timeout(at)? else { unreachable!() };
/// assert!(http.body().starts_with(b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"));
/// let pending = grantflow::testing::json_response(400, r#"{"error":"authorization_pending"}"#);
/// assert!(matches!(poll.handle_response(pending, at)?, Step::WaitUntil(t) if t == at.saturating_add_secs(5)));
/// # let later = at.saturating_add_secs(5);
/// # let Step::Send(_) = poll.handle_timeout(later)? else { unreachable!() };
/// # let tokens = grantflow::testing::json_response(200, r#"{"access_token":"at","token_type":"Bearer"}"#);
/// # let Step::Done(done) = poll.handle_response(tokens, later)? else { unreachable!() };
/// # assert_eq!(done.tokens.access_token.secret(), "at");
/// # Ok(())
/// # }
/// ```
///
/// Scope `openid` needs a client with an issuer ([`Error::IssuerNotConfigured`]
/// at `start` otherwise): the ID token the poll then receives is required
/// and validated like a sign-in's, without a `nonce` (the device flow has
/// none).
#[derive(Debug)]
pub struct DeviceAuthorizationRequest {
    client: Client,
    scopes: Vec<Scope>,
    params: Vec<(String, String)>,
    state: RequestState,
}

impl DeviceAuthorizationRequest {
    const FLOW: &str = "device authorization request";

    /// Asks for one more scope.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scopes.push(scope);
        self
    }

    /// Asks for these scopes too.
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.scopes.extend(scopes);
        self
    }

    /// Adds an RFC 8707 resource indicator. May be repeated. A URI with a
    /// fragment is refused when the flow starts (RFC 8707 §2).
    #[must_use]
    pub fn resource(mut self, resource: Url) -> Self {
        self.params.push(("resource".to_owned(), resource.into()));
        self
    }

    /// Adds any other parameter. Names the request sets itself (`scope`,
    /// client authentication) make [`Flow::start`] fail with
    /// [`Error::ReservedParameter`].
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    fn asks_openid(&self) -> bool {
        self.scopes.iter().any(|scope| scope.as_str() == "openid")
    }

    fn unexpected(&mut self, call: &'static str) -> Error {
        self.state = RequestState::Finished;
        Error::UnexpectedCall {
            flow: Self::FLOW,
            call,
        }
    }
}

impl Flow for DeviceAuthorizationRequest {
    type Output = DeviceAuthorization;

    fn start(&mut self, now: UnixTime) -> Result<Step<DeviceAuthorization>, Error> {
        if self.state != RequestState::New {
            return Err(self.unexpected("start after the flow had started"));
        }
        self.state = RequestState::Finished;
        super::check_params(
            &RESERVED,
            self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        if self.asks_openid() && self.client.issuer().is_none() {
            return Err(Error::IssuerNotConfigured);
        }
        let endpoint = self.client.require_endpoint(
            |e| e.device_authorization.as_ref(),
            "device_authorization_endpoint",
        )?;
        let scope = join_scopes(&self.scopes);
        let mut params = Vec::with_capacity(1 + self.params.len());
        if !scope.is_empty() {
            params.push(("scope", scope.as_str()));
        }
        params.extend(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let request = self
            .client
            .authenticated_request(endpoint, params, false, now)?;
        self.state = RequestState::Sent;
        Ok(Step::Send(request))
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<DeviceAuthorization>, Error> {
        if self.state != RequestState::Sent {
            return Err(self.unexpected("handle_response without a request in flight"));
        }
        self.state = RequestState::Finished;
        let parsed = parse_device_authorization(&response)?;
        Ok(Step::Done(DeviceAuthorization {
            client: self.client.clone(),
            device_code: DeviceCode(parsed.device_code),
            user_code: parsed.user_code,
            verification_uri: parsed.verification_uri,
            verification_uri_complete: parsed.verification_uri_complete,
            received_at: now,
            expires_at: now.saturating_add_secs(parsed.expires_in),
            interval: parsed.interval,
            openid: self.asks_openid(),
        }))
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<DeviceAuthorization>, Error> {
        Err(self.unexpected("handle_timeout: this flow never waits"))
    }
}

/// The device code: sent only to the token endpoint, redacted in `Debug`,
/// zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct DeviceCode(String);

/// The device authorization response (RFC 8628 §3.2): what to show the
/// user, and the device code to poll with. Made by
/// [`DeviceAuthorizationRequest`]; [`poll`](Self::poll) waits for the
/// user's approval.
///
/// Every string here came from the server and is made safe to print on a
/// terminal: escape sequences (ANSI CSI and OSC), control characters and
/// bidirectional-text overrides are removed from the user code, and the
/// verification URIs are parsed URLs (`https`, or `http` to loopback; no
/// user name or password), printed in their serialized form, which
/// percent-encodes anything unprintable. A hostile server cannot rewrite the
/// user's terminal or send them to a `javascript:` URL.
pub struct DeviceAuthorization {
    client: Client,
    device_code: DeviceCode,
    user_code: String,
    verification_uri: Url,
    verification_uri_complete: Option<Url>,
    received_at: UnixTime,
    expires_at: UnixTime,
    interval: u64,
    openid: bool,
}

impl DeviceAuthorization {
    /// The code the user enters at the verification URI (`user_code`),
    /// cleaned for display.
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the user enters the code (`verification_uri`, or Google's
    /// older `verification_url`).
    pub fn verification_uri(&self) -> &Url {
        &self.verification_uri
    }

    /// The verification URI with the user code in it, for a QR code or a
    /// link (`verification_uri_complete`, RFC 8628 §3.3.1), if the server
    /// sent one. Show the [`user_code`](Self::user_code) too, so the user
    /// can check it against the one on the page.
    pub fn verification_uri_complete(&self) -> Option<&Url> {
        self.verification_uri_complete.as_ref()
    }

    /// When the response was received.
    pub fn received_at(&self) -> UnixTime {
        self.received_at
    }

    /// When the device code expires (`expires_in` after the response): no
    /// poll is sent from then on.
    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }

    /// The polling interval in seconds (`interval`; 5 when the server sent
    /// none or `null`, at least 1).
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// Starts polling the token endpoint (RFC 8628 §3.4) for the user's
    /// approval: the [`DevicePoll`] flow.
    pub fn poll(self) -> DevicePoll {
        DevicePoll {
            interval: self.interval,
            failures: 0,
            state: PollState::New,
            dpop_retried: false,
            authorization: self,
        }
    }
}

/// Redacted: no device code.
impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("client", &self.client)
            .field("device_code", &"<redacted>")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri.as_str())
            .field(
                "verification_uri_complete",
                &self.verification_uri_complete.as_ref().map(Url::as_str),
            )
            .field("received_at", &self.received_at)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .field("openid", &self.openid)
            .finish()
    }
}

/// The outcome of the device flow: the tokens, and for scope `openid` the
/// ID token, validated.
#[derive(Debug)]
#[non_exhaustive]
pub struct DeviceTokens {
    /// The token response.
    pub tokens: TokenSet,
    /// With scope `openid`: the ID token, required and validated per OIDC
    /// Core §3.1.3.7 (signature, `iss`, `aud`, `azp`, `exp`, `iat`,
    /// `at_hash` when present; there is no `nonce` in the device flow).
    /// `None` without scope `openid`; an ID token sent anyway then stays raw
    /// and unchecked in [`TokenSet::id_token`].
    pub id_token: Option<IdToken>,
}

/// Where the poll stands; named for what it awaits.
#[derive(Debug)]
enum PollState {
    New,
    /// Nothing to send before this instant.
    Waiting(UnixTime),
    AwaitingTokens,
    AwaitingKeys(Box<TokenSet>),
    /// Done, or failed: every further call is an error.
    Finished,
}

/// Polling the token endpoint for the device's tokens (RFC 8628 §3.4, §3.5)
/// as a [`Flow`]. Made by [`DeviceAuthorization::poll`].
///
/// The schedule is a value: the flow answers [`Step::WaitUntil`] with the
/// instant of the next poll, and sends nothing before it (a driver woken
/// early gets the same `WaitUntil` back).
///
/// - The first poll is one interval after the device authorization
///   response; each next one an interval after the last answer.
/// - `authorization_pending`: wait one interval.
/// - `slow_down`: the interval grows by 5 seconds for good, up to 60 (a
///   longer interval of the server's own is kept).
/// - A 5xx answer, `server_error` or `temporarily_unavailable`: wait twice
///   the interval, then four times, … up to 60 seconds (or the interval, if
///   longer); the flow goes on. Any other answer resets this back-off.
/// - `access_denied`, `expired_token` and every other error response end
///   the flow as [`Error::OAuth`] (match on
///   [`ErrorCode::AccessDenied`], [`ErrorCode::ExpiredToken`]).
/// - At [`DeviceAuthorization::expires_at`] the flow ends with
///   [`Error::DeviceCodeExpired`]; no poll is sent at or after it.
/// - Tokens end it with [`DeviceTokens`]; with scope `openid` the ID token
///   is validated first (fetching the provider's keys once more on an
///   unknown `kid`).
pub struct DevicePoll {
    authorization: DeviceAuthorization,
    /// The interval now, after any `slow_down`.
    interval: u64,
    /// Consecutive server failures (5xx), for the back-off.
    failures: u32,
    state: PollState,
    /// Whether this poll's one retry with a DPoP nonce (RFC 9449 §8) was
    /// spent; reset by any other answer.
    dpop_retried: bool,
}

impl fmt::Debug for DevicePoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevicePoll")
            .field("authorization", &self.authorization)
            .field("interval", &self.interval)
            .field("failures", &self.failures)
            .field("state", &self.state)
            .finish()
    }
}

impl DevicePoll {
    /// `error` without the secrets a poll carried, wherever the server echoed
    /// them: the device code and the client secret.
    fn withheld(&self, error: Error) -> Error {
        self.authorization
            .client
            .withhold_secret(withhold(error, &self.authorization.device_code.0))
    }

    const FLOW: &str = "device token poll";

    /// The polling interval now, in seconds: the server's, grown by every
    /// `slow_down`.
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// The device authorization being polled for (what the user was shown).
    pub fn authorization(&self) -> &DeviceAuthorization {
        &self.authorization
    }

    fn unexpected(&mut self, call: &'static str) -> Error {
        self.state = PollState::Finished;
        Error::UnexpectedCall {
            flow: Self::FLOW,
            call,
        }
    }

    /// Waits until `next`, or until the deadline when `next` is not before
    /// it; then [`advance`](Self::advance)s, which may act at once.
    fn wait_until(&mut self, next: UnixTime, now: UnixTime) -> Result<Step<DeviceTokens>, Error> {
        let at = next.min(self.authorization.expires_at);
        self.state = PollState::Waiting(at);
        self.advance(now)
    }

    /// In `Waiting(at)`: the same `WaitUntil` before `at`; at or after the
    /// deadline, [`Error::DeviceCodeExpired`]; otherwise the next poll.
    fn advance(&mut self, now: UnixTime) -> Result<Step<DeviceTokens>, Error> {
        let PollState::Waiting(at) = self.state else {
            return Err(self.unexpected("handle_timeout while not waiting"));
        };
        if now < at {
            return Ok(Step::WaitUntil(at));
        }
        let expired_at = self.authorization.expires_at;
        if now >= expired_at {
            self.state = PollState::Finished;
            return Err(Error::DeviceCodeExpired { expired_at });
        }
        self.state = PollState::Finished;
        let request = self.authorization.client.token_request(
            [
                ("grant_type", GRANT_TYPE),
                ("device_code", self.authorization.device_code.0.as_str()),
            ],
            now,
        )?;
        self.state = PollState::AwaitingTokens;
        Ok(Step::Send(request))
    }

    /// The next poll after a server failure: twice the interval, doubling
    /// with each consecutive failure, capped.
    fn back_off(&mut self, now: UnixTime) -> Result<Step<DeviceTokens>, Error> {
        self.failures = self.failures.saturating_add(1);
        let factor = 1u64 << self.failures.min(6);
        let cap = self.interval.max(MAX_INTERVAL);
        let delay = self.interval.saturating_mul(factor).min(cap);
        self.wait_until(now.saturating_add_secs(delay), now)
    }

    /// The answer to a poll. The state is `Finished` on entry.
    fn on_tokens_response(
        &mut self,
        response: &HttpResponse,
        now: UnixTime,
    ) -> Result<Step<DeviceTokens>, Error> {
        let error = match parse_tokens_for(&self.authorization.client, response, now) {
            Ok(tokens) => {
                // The ID token may quote the device code too.
                return self
                    .finish(tokens, now, true)
                    .map_err(|error| self.withheld(error));
            }
            Err(error) => withhold(error, &self.authorization.device_code.0),
        };
        match error.oauth_code() {
            Some(ErrorCode::AuthorizationPending) => {
                self.failures = 0;
                self.wait_until(now.saturating_add_secs(self.interval), now)
            }
            Some(ErrorCode::SlowDown) => {
                self.failures = 0;
                self.interval = slowed_down(self.interval);
                self.wait_until(now.saturating_add_secs(self.interval), now)
            }
            Some(ErrorCode::AccessDenied | ErrorCode::ExpiredToken) => Err(error),
            _ if error.kind() == ErrorKind::Retryable => self.back_off(now),
            _ => Err(error),
        }
    }

    /// Ends the flow with the tokens, validating the ID token for scope
    /// `openid`; when `may_refetch` and the keys look stale, asks for the
    /// key set first. The state is `Finished` on entry.
    fn finish(
        &mut self,
        tokens: TokenSet,
        now: UnixTime,
        may_refetch: bool,
    ) -> Result<Step<DeviceTokens>, Error> {
        if !self.authorization.openid {
            return Ok(Step::Done(DeviceTokens {
                tokens,
                id_token: None,
            }));
        }
        let error = match validate_id_token(&self.authorization.client, &tokens, now) {
            Ok(id_token) => {
                return Ok(Step::Done(DeviceTokens {
                    tokens,
                    id_token: Some(id_token),
                }));
            }
            Err(error) => error,
        };
        let request = refetch_keys_or(
            &self.authorization.client,
            error,
            tokens.id_token.as_ref(),
            may_refetch,
            now,
        )?;
        self.state = PollState::AwaitingKeys(Box::new(tokens));
        Ok(Step::Send(request))
    }
}

/// The ID token of a device flow's token response, validated per OIDC Core
/// §3.1.3.7 with the client's issuer, id and keys (no `nonce`: the device
/// flow has none).
fn validate_id_token(client: &Client, tokens: &TokenSet, now: UnixTime) -> Result<IdToken, Error> {
    let raw = tokens.id_token.as_ref().ok_or(IdTokenError::NotReturned)?;
    let validator = client
        .id_token_validator()
        .ok_or(Error::IssuerNotConfigured)?;
    let expected = Expected::none().access_token(tokens.access_token.secret());
    validator.validate(raw, &client.keys(), expected, now)
}

/// The interval after a `slow_down`: 5 seconds more, up to [`MAX_INTERVAL`]
/// (an interval already longer is kept).
pub(crate) fn slowed_down(interval: u64) -> u64 {
    interval
        .saturating_add(SLOW_DOWN_STEP)
        .min(interval.max(MAX_INTERVAL))
}

impl Flow for DevicePoll {
    type Output = DeviceTokens;

    fn start(&mut self, now: UnixTime) -> Result<Step<DeviceTokens>, Error> {
        if !matches!(self.state, PollState::New) {
            return Err(self.unexpected("start after the flow had started"));
        }
        let first = self
            .authorization
            .received_at
            .saturating_add_secs(self.interval);
        self.wait_until(first, now)
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<DeviceTokens>, Error> {
        match core::mem::replace(&mut self.state, PollState::Finished) {
            PollState::AwaitingTokens => {
                let retry = self.authorization.client.dpop_nonce_retry(&response)?;
                if retry && !self.dpop_retried {
                    // RFC 9449 §8: this poll once more, now, with the nonce.
                    self.dpop_retried = true;
                    self.state = PollState::Waiting(now);
                    return self.advance(now);
                }
                self.dpop_retried = false;
                self.on_tokens_response(&response, now)
            }
            PollState::AwaitingKeys(tokens) => {
                let keys = parse_jwks_response(&response)?;
                self.authorization.client.store_jwks(keys);
                self.finish(*tokens, now, false)
                    .map_err(|error| self.withheld(error))
            }
            PollState::New => Err(self.unexpected("handle_response before start")),
            PollState::Waiting(_) => {
                Err(self.unexpected("handle_response without a request in flight"))
            }
            PollState::Finished => Err(self.unexpected("handle_response after the flow ended")),
        }
    }

    fn handle_timeout(&mut self, now: UnixTime) -> Result<Step<DeviceTokens>, Error> {
        match self.state {
            PollState::Waiting(_) => self.advance(now),
            PollState::New => Err(self.unexpected("handle_timeout before start")),
            PollState::AwaitingTokens | PollState::AwaitingKeys(_) => {
                Err(self.unexpected("handle_timeout with a request in flight"))
            }
            PollState::Finished => Err(self.unexpected("handle_timeout after the flow ended")),
        }
    }
}

// ---------------------------------------------------------------------------
// The response
// ---------------------------------------------------------------------------

/// A device authorization response, checked.
struct Parsed {
    device_code: String,
    user_code: String,
    verification_uri: Url,
    verification_uri_complete: Option<Url>,
    expires_in: u64,
    interval: u64,
}

#[derive(Default)]
struct DeviceFields {
    device_code: Option<Value>,
    user_code: Option<Value>,
    verification_uri: Option<Value>,
    verification_url: Option<Value>,
    verification_uri_complete: Option<Value>,
    expires_in: Option<Value>,
    interval: Option<Value>,
}

impl FieldSink for DeviceFields {
    fn insert(&mut self, key: &str, value: Value) -> bool {
        let slot = match key {
            "device_code" => &mut self.device_code,
            "user_code" => &mut self.user_code,
            "verification_uri" => &mut self.verification_uri,
            "verification_url" => &mut self.verification_url,
            "verification_uri_complete" => &mut self.verification_uri_complete,
            "expires_in" => &mut self.expires_in,
            "interval" => &mut self.interval,
            // Other fields are ignored (RFC 8628 §3.2 lets servers add some).
            _ => return true,
        };
        fill(slot, value)
    }
}

fn malformed(status: u16, reason: impl Into<String>) -> Error {
    MalformedResponse::without_excerpt(status, reason).into()
}

/// Parses a device authorization response (RFC 8628 §3.2). Accepted on
/// purpose: `verification_url` for `verification_uri` (Google), `interval`
/// and `expires_in` as strings of digits, `interval` `null` (the default).
fn parse_device_authorization(response: &HttpResponse) -> Result<Parsed, Error> {
    let Decoded { status, fields } = decode::<DeviceFields>(response)?;
    let device_code = match string_field(status, "device_code", fields.device_code)? {
        Some(code) if !code.is_empty() => code,
        Some(_) => return Err(malformed(status, "field \"device_code\" is empty")),
        None => return Err(malformed(status, "field \"device_code\" is missing")),
    };
    let user_code = match string_field(status, "user_code", fields.user_code)? {
        Some(code) if code.len() > MAX_USER_CODE => {
            return Err(malformed(
                status,
                format!("field \"user_code\" is longer than {MAX_USER_CODE} bytes"),
            ));
        }
        Some(code) => for_display(&code),
        None => return Err(malformed(status, "field \"user_code\" is missing")),
    };
    if user_code.is_empty() {
        return Err(malformed(
            status,
            "field \"user_code\" has no printable character",
        ));
    }
    let verification_uri = fields.verification_uri.or(fields.verification_url);
    let verification_uri = match string_field(status, "verification_uri", verification_uri)? {
        Some(uri) => verification_url(status, "verification_uri", &uri)?,
        None => return Err(malformed(status, "field \"verification_uri\" is missing")),
    };
    let verification_uri_complete = string_field(
        status,
        "verification_uri_complete",
        fields.verification_uri_complete,
    )?
    .map(|uri| verification_url(status, "verification_uri_complete", &uri))
    .transpose()?;
    let expires_in = super::seconds_field(status, "expires_in", fields.expires_in.as_ref())?
        .ok_or_else(|| malformed(status, "field \"expires_in\" is missing"))?;
    let interval = super::seconds_field(status, "interval", fields.interval.as_ref())?
        .unwrap_or(DEFAULT_INTERVAL)
        .max(MIN_INTERVAL);
    Ok(Parsed {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in,
        interval,
    })
}

/// A verification URI, safe to show: cleaned, parsed, `https` (or `http` to
/// loopback), without a user name or password (`https://bank.example@evil.example/`).
fn verification_url(status: u16, field: &str, uri: &str) -> Result<Url, Error> {
    if uri.len() > MAX_URI {
        return Err(malformed(
            status,
            format!("field {field:?} is longer than {MAX_URI} bytes"),
        ));
    }
    let url = Url::parse(&for_display(uri))
        .map_err(|_| malformed(status, format!("field {field:?} is not an absolute url")))?;
    let secure = match url.scheme() {
        "https" => url.host().is_some(),
        "http" => is_loopback(&url),
        _ => false,
    };
    if !secure {
        return Err(malformed(
            status,
            format!("field {field:?} is not an https url"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(malformed(
            status,
            format!("field {field:?} carries a user name or password"),
        ));
    }
    Ok(url)
}

/// `text` safe to print on a terminal: terminal escape sequences (ESC and
/// C1 CSI/OSC with their parameters), every other control character, and
/// the invisible or bidirectional formatting characters that can make text
/// read differently from what it is (RFC 8628 §5.3's remote phishing, and
/// "Trojan Source") are removed.
pub(crate) fn for_display(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let sequence = match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    Some(Sequence::Csi)
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    Some(Sequence::String)
                }
                // A two-character escape (ESC followed by one character).
                Some(next) if ('\u{20}'..='\u{7e}').contains(next) => {
                    chars.next();
                    None
                }
                _ => None,
            },
            '\u{9b}' => Some(Sequence::Csi),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => Some(Sequence::String),
            c if shown(c) => {
                out.push(c);
                None
            }
            _ => None,
        };
        match sequence {
            // Parameters and intermediates, up to the final byte.
            Some(Sequence::Csi) => {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) || !('\u{20}'..='\u{3f}').contains(&c) {
                        break;
                    }
                }
            }
            // Up to BEL or the string terminator (ESC \ or C1 ST).
            Some(Sequence::String) => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || c == '\u{9c}' {
                        break;
                    }
                    if c == '\u{1b}' {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            None => {}
        }
    }
    out
}

enum Sequence {
    Csi,
    String,
}

/// Whether `c` may be shown: not a control character, and not an invisible
/// or bidirectional formatting character.
fn shown(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
                | '\u{061c}'
                | '\u{00ad}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::EndpointUrl;
    use crate::error::ErrorResponse;
    use crate::message::HttpRequest;
    use crate::testing::{json_response, response};
    use crate::{ClientAuth, ClientId, ClientSecret, Endpoints};

    const T0: UnixTime = UnixTime::from_secs(1_000_000);

    fn at(secs: u64) -> UnixTime {
        T0.saturating_add_secs(secs)
    }

    fn client(auth: ClientAuth) -> Client {
        let endpoints = Endpoints {
            device_authorization: Some(
                EndpointUrl::parse("https://as.example.com/device").unwrap(),
            ),
            token: Some(EndpointUrl::parse("https://as.example.com/token").unwrap()),
            ..Endpoints::default()
        };
        Client::new(ClientId::new("tv"), auth).with_endpoints(endpoints)
    }

    fn body(request: &HttpRequest) -> String {
        String::from_utf8(request.body().clone()).unwrap()
    }

    /// The device authorization of `json`, received at `T0`.
    fn authorize(json: &str) -> Result<DeviceAuthorization, Error> {
        let mut flow = client(ClientAuth::None).device_authorization()?;
        let Step::Send(_) = flow.start(T0)? else {
            panic!("expected a request")
        };
        match flow.handle_response(json_response(200, json), T0)? {
            Step::Done(authorization) => Ok(authorization),
            other => panic!("expected Done, got {other:?}"),
        }
    }

    const STANDARD: &str = r#"{"device_code":"GmRhmhcxhwAzkoEqiMEg","user_code":"WDJB-MJHT",
        "verification_uri":"https://example.com/device","expires_in":60,"interval":5}"#;

    fn pending() -> HttpResponse {
        json_response(400, r#"{"error":"authorization_pending"}"#)
    }

    fn tokens() -> HttpResponse {
        json_response(200, r#"{"access_token":"AT","token_type":"Bearer"}"#)
    }

    /// What a driver sees, step by step: the instant of each request, and
    /// what happened at the end.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Poll(u64),
        Done,
        Failed(Error),
    }

    /// Drives `poll` in fake time, answering the n-th poll with `answers[n]`
    /// (tokens once they run out), waking exactly at each deadline. Returns
    /// the seconds after `T0` of every poll, and the end.
    fn schedule(mut poll: DevicePoll, answers: Vec<HttpResponse>) -> Vec<Seen> {
        let mut answers = answers.into_iter();
        let mut seen = Vec::new();
        let mut now = T0;
        let mut step = poll.start(now);
        loop {
            step = match step {
                Ok(Step::WaitUntil(deadline)) => {
                    assert!(deadline >= now, "WaitUntil went back in time");
                    // Woken early: nothing changes.
                    if deadline > now {
                        let early = deadline.saturating_sub_secs(1).max(now);
                        assert!(
                            matches!(poll.handle_timeout(early), Ok(Step::WaitUntil(t)) if t == deadline)
                        );
                    }
                    now = deadline;
                    poll.handle_timeout(now)
                }
                Ok(Step::Send(request)) => {
                    assert_eq!(request.uri(), "https://as.example.com/token");
                    seen.push(Seen::Poll(T0.secs_until(now)));
                    poll.handle_response(answers.next().unwrap_or_else(tokens), now)
                }
                Ok(Step::Done(_)) => {
                    seen.push(Seen::Done);
                    return seen;
                }
                Err(error) => {
                    seen.push(Seen::Failed(error));
                    // Any error ends the flow.
                    assert!(matches!(
                        poll.handle_timeout(now.saturating_add_secs(1000)),
                        Err(Error::UnexpectedCall { .. })
                    ));
                    assert!(matches!(
                        poll.handle_response(tokens(), now),
                        Err(Error::UnexpectedCall { .. })
                    ));
                    return seen;
                }
            };
        }
    }

    #[test]
    fn the_request_for_a_public_and_a_confidential_client() {
        let mut flow = client(ClientAuth::None)
            .device_authorization()
            .unwrap()
            .scope(Scope::new("videos").unwrap())
            .resource(Url::parse("https://api.example.com/").unwrap());
        let Step::Send(request) = flow.start(T0).unwrap() else {
            panic!()
        };
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "https://as.example.com/device");
        assert_eq!(
            body(&request),
            "scope=videos&resource=https%3A%2F%2Fapi.example.com%2F&client_id=tv"
        );
        assert!(request.headers().get("authorization").is_none());

        let confidential = client(ClientAuth::ClientSecretBasic(ClientSecret::new("s")));
        let mut flow = confidential.device_authorization().unwrap();
        let Step::Send(request) = flow.start(T0).unwrap() else {
            panic!()
        };
        assert_eq!(body(&request), "");
        assert!(request.headers().get("authorization").is_some());
    }

    #[test]
    fn reserved_parameters_and_missing_endpoints_are_refused() {
        let mut flow = client(ClientAuth::None)
            .device_authorization()
            .unwrap()
            .param("client_id", "other");
        assert!(matches!(
            flow.start(T0),
            Err(Error::ReservedParameter { name }) if name == "client_id"
        ));
        assert!(matches!(flow.start(T0), Err(Error::UnexpectedCall { .. })));
        let bare = Client::new(ClientId::new("tv"), ClientAuth::None);
        assert!(matches!(
            bare.device_authorization(),
            Err(Error::MissingEndpoint {
                endpoint: "device_authorization_endpoint"
            })
        ));
        // openid without an issuer: no ID token could be validated.
        let mut flow = client(ClientAuth::None)
            .device_authorization()
            .unwrap()
            .scope(Scope::new("openid").unwrap());
        assert_eq!(flow.start(T0).unwrap_err(), Error::IssuerNotConfigured);
    }

    #[test]
    fn the_response_is_typed_and_the_device_code_redacted() {
        let authorization = authorize(
            r#"{"device_code":"SECRET-DEVICE-CODE","user_code":"WDJB-MJHT",
               "verification_uri":"https://example.com/device",
               "verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT",
               "expires_in":"1800","interval":7,"extra":1}"#,
        )
        .unwrap();
        assert_eq!(authorization.user_code(), "WDJB-MJHT");
        assert_eq!(
            authorization.verification_uri().as_str(),
            "https://example.com/device"
        );
        assert_eq!(
            authorization.verification_uri_complete().map(Url::as_str),
            Some("https://example.com/device?user_code=WDJB-MJHT")
        );
        assert_eq!(authorization.expires_at(), at(1800));
        assert_eq!(authorization.interval(), 7);
        let debug = format!("{authorization:?}");
        assert!(!debug.contains("SECRET-DEVICE-CODE"), "{debug}");
        let poll = authorization.poll();
        assert!(!format!("{poll:?}").contains("SECRET-DEVICE-CODE"));
    }

    #[test]
    fn googles_verification_url_and_a_null_or_missing_interval() {
        for interval in ["", r#","interval":null"#] {
            let authorization = authorize(&format!(
                r#"{{"device_code":"d","user_code":"u","verification_url":"https://www.google.com/device","expires_in":60{interval}}}"#
            ))
            .unwrap();
            assert_eq!(
                authorization.verification_uri().as_str(),
                "https://www.google.com/device"
            );
            assert_eq!(authorization.interval(), DEFAULT_INTERVAL);
        }
        // An interval of 0 is polled at 1 s, never in a tight loop.
        let zero = authorize(
            r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":60,"interval":0}"#,
        )
        .unwrap();
        assert_eq!(zero.interval(), MIN_INTERVAL);
    }

    #[test]
    fn hostile_strings_are_stripped_for_the_terminal() {
        let authorization = authorize(
            r#"{"device_code":"d","user_code":"\u001b[2J\u001b[31mWDJB\u0007-\u009b1mMJHT\u001b]0;pwned\u0007\u202e",
               "verification_uri":"https://example.com/\u001b[8mdevice",
               "verification_uri_complete":"https://example.com/device?code=\u0000\u001b]8;;https://evil.example/\u001b\\x",
               "expires_in":60}"#,
        )
        .unwrap();
        assert_eq!(authorization.user_code(), "WDJB-MJHT");
        assert_eq!(
            authorization.verification_uri().as_str(),
            "https://example.com/device"
        );
        let complete = authorization.verification_uri_complete().unwrap().as_str();
        assert_eq!(complete, "https://example.com/device?code=x");
        for text in [authorization.user_code(), complete] {
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
    }

    #[test]
    fn bad_responses_are_malformed() {
        let cases = [
            // no expires_in (RFC 8628 §3.2: REQUIRED)
            r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/"}"#,
            r#"{"user_code":"u","verification_uri":"https://e.com/","expires_in":5}"#,
            r#"{"device_code":"d","verification_uri":"https://e.com/","expires_in":5}"#,
            r#"{"device_code":"d","user_code":"u","expires_in":5}"#,
            r#"{"device_code":"d","user_code":"\u001b[1m","verification_uri":"https://e.com/","expires_in":5}"#,
            r#"{"device_code":"d","user_code":"u","verification_uri":"javascript:alert(1)","expires_in":5}"#,
            r#"{"device_code":"d","user_code":"u","verification_uri":"http://example.com/","expires_in":5}"#,
            r#"{"device_code":"d","user_code":"u","verification_uri":"https://bank.example@evil.example/","expires_in":5}"#,
            r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":-1}"#,
            r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":5,"interval":1.5}"#,
            r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":5,"interval":"soon"}"#,
            r#"{"device_code":"","user_code":"u","verification_uri":"https://e.com/","expires_in":5}"#,
        ];
        for json in cases {
            assert!(
                matches!(authorize(json), Err(Error::MalformedResponse(_))),
                "{json}"
            );
        }
        let refused = authorize(r#"{"error":"invalid_client"}"#).unwrap_err();
        assert_eq!(refused.oauth_code(), Some(&ErrorCode::InvalidClient));
    }

    #[test]
    fn the_poll_request_authenticates_like_the_token_endpoint() {
        let mut poll = authorize(STANDARD).unwrap().poll();
        assert!(matches!(poll.start(T0), Ok(Step::WaitUntil(t)) if t == at(5)));
        let Ok(Step::Send(request)) = poll.handle_timeout(at(5)) else {
            panic!()
        };
        assert_eq!(
            body(&request),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\
             &device_code=GmRhmhcxhwAzkoEqiMEg&client_id=tv"
        );
    }

    #[test]
    fn pending_polls_every_interval_then_tokens() {
        let seen = schedule(
            authorize(STANDARD).unwrap().poll(),
            vec![pending(), pending(), pending()],
        );
        assert_eq!(
            seen,
            [
                Seen::Poll(5),
                Seen::Poll(10),
                Seen::Poll(15),
                Seen::Poll(20),
                Seen::Done
            ]
        );
    }

    #[test]
    fn slow_down_in_the_middle_adds_five_seconds_for_good() {
        let slow = || json_response(400, r#"{"error":"slow_down"}"#);
        let seen = schedule(
            authorize(
                r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":600,"interval":5}"#,
            )
            .unwrap()
            .poll(),
            vec![pending(), slow(), pending(), slow(), pending()],
        );
        assert_eq!(
            seen,
            [
                Seen::Poll(5),
                Seen::Poll(10),
                Seen::Poll(20), // 10 s after the slow_down
                Seen::Poll(30), // and stays at 10 s
                Seen::Poll(45), // 15 s after the second
                Seen::Poll(60),
                Seen::Done
            ]
        );
    }

    #[test]
    fn slow_down_is_capped() {
        assert_eq!(slowed_down(5), 10);
        assert_eq!(slowed_down(58), MAX_INTERVAL);
        assert_eq!(slowed_down(MAX_INTERVAL), MAX_INTERVAL);
        // A server's own longer interval is never undercut.
        assert_eq!(slowed_down(300), 300);
        assert_eq!(slowed_down(u64::MAX), u64::MAX);
    }

    #[test]
    fn a_missing_interval_polls_every_five_seconds() {
        let seen = schedule(
            authorize(
                r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":600}"#,
            )
            .unwrap()
            .poll(),
            vec![pending(), pending()],
        );
        assert_eq!(
            seen,
            [Seen::Poll(5), Seen::Poll(10), Seen::Poll(15), Seen::Done]
        );
    }

    #[test]
    fn the_deadline_ends_the_flow_without_a_last_request() {
        // expires_in 12, interval 5: polls at 5 and 10; the next would be at
        // 15, past the deadline: the flow waits until 12 and fails there.
        let seen = schedule(
            authorize(
                r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":12}"#,
            )
            .unwrap()
            .poll(),
            vec![pending(), pending(), pending()],
        );
        assert_eq!(
            seen,
            [
                Seen::Poll(5),
                Seen::Poll(10),
                Seen::Failed(Error::DeviceCodeExpired { expired_at: at(12) })
            ]
        );
        // A poll due exactly at the deadline is not sent either.
        let seen = schedule(
            authorize(
                r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":10}"#,
            )
            .unwrap()
            .poll(),
            vec![pending(), pending()],
        );
        assert_eq!(
            seen,
            [
                Seen::Poll(5),
                Seen::Failed(Error::DeviceCodeExpired { expired_at: at(10) })
            ]
        );
    }

    #[test]
    fn a_driver_waking_after_the_deadline_sends_nothing() {
        let mut poll = authorize(
            r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":30}"#,
        )
        .unwrap()
        .poll();
        assert!(matches!(poll.start(T0), Ok(Step::WaitUntil(t)) if t == at(5)));
        // The machine slept through the whole validity of the code.
        assert_eq!(
            poll.handle_timeout(at(31)).unwrap_err(),
            Error::DeviceCodeExpired { expired_at: at(30) }
        );
        assert!(matches!(
            poll.handle_timeout(at(40)),
            Err(Error::UnexpectedCall { .. })
        ));
        // Started late: the first poll is due at once.
        let mut poll = authorize(STANDARD).unwrap().poll();
        assert!(matches!(poll.start(at(7)), Ok(Step::Send(_))));
    }

    #[test]
    fn server_errors_back_off_and_the_flow_goes_on() {
        let html = || response(502, Some("text/html"), "<html>bad gateway</html>");
        let busy = || json_response(503, r#"{"error":"temporarily_unavailable"}"#);
        let seen = schedule(
            authorize(
                r#"{"device_code":"d","user_code":"u","verification_uri":"https://e.com/","expires_in":600}"#,
            )
            .unwrap()
            .poll(),
            vec![html(), busy(), html(), html(), pending(), html()],
        );
        assert_eq!(
            seen,
            [
                Seen::Poll(5),
                Seen::Poll(15),  // 2 × 5
                Seen::Poll(35),  // 4 × 5
                Seen::Poll(75),  // 8 × 5
                Seen::Poll(135), // 16 × 5, capped at 60
                Seen::Poll(140), // pending: back to one interval
                Seen::Poll(150), // the back-off starts over
                Seen::Done
            ]
        );
    }

    #[test]
    fn denied_expired_and_other_errors_end_the_flow() {
        for (code, expected) in [
            ("access_denied", ErrorCode::AccessDenied),
            ("expired_token", ErrorCode::ExpiredToken),
            ("invalid_grant", ErrorCode::InvalidGrant),
        ] {
            let seen = schedule(
                authorize(STANDARD).unwrap().poll(),
                vec![
                    pending(),
                    json_response(400, format!(r#"{{"error":"{code}"}}"#)),
                ],
            );
            assert_eq!(
                seen,
                [
                    Seen::Poll(5),
                    Seen::Poll(10),
                    Seen::Failed(Error::OAuth(ErrorResponse::new(
                        expected,
                        None,
                        None,
                        Some(400)
                    )))
                ]
            );
        }
        // Garbage with a 200 is malformed, and ends the flow too.
        let seen = schedule(
            authorize(STANDARD).unwrap().poll(),
            vec![json_response(200, r#"{"token_type":"Bearer"}"#)],
        );
        assert!(matches!(
            seen.as_slice(),
            [Seen::Poll(5), Seen::Failed(Error::MalformedResponse(_))]
        ));
    }

    #[test]
    fn the_flow_contract() {
        let mut poll = authorize(STANDARD).unwrap().poll();
        assert!(matches!(
            poll.handle_timeout(T0),
            Err(Error::UnexpectedCall { .. })
        ));
        let mut poll = authorize(STANDARD).unwrap().poll();
        assert!(matches!(
            poll.handle_response(tokens(), T0),
            Err(Error::UnexpectedCall { .. })
        ));
        assert!(matches!(poll.start(T0), Err(Error::UnexpectedCall { .. })));

        let mut poll = authorize(STANDARD).unwrap().poll();
        assert!(matches!(poll.start(T0), Ok(Step::WaitUntil(t)) if t == at(5)));
        // Early: the same WaitUntil, as often as asked.
        for early in [T0, at(1), at(4)] {
            assert!(matches!(poll.handle_timeout(early), Ok(Step::WaitUntil(t)) if t == at(5)));
        }
        // A response while waiting is out of order, and ends the flow.
        assert!(matches!(
            poll.handle_response(tokens(), at(2)),
            Err(Error::UnexpectedCall { .. })
        ));
        assert!(matches!(
            poll.handle_timeout(at(5)),
            Err(Error::UnexpectedCall { .. })
        ));

        // A timeout with a request in flight, likewise.
        let mut poll = authorize(STANDARD).unwrap().poll();
        let _ = poll.start(T0).unwrap();
        assert!(matches!(poll.handle_timeout(at(5)), Ok(Step::Send(_))));
        assert!(matches!(
            poll.handle_timeout(at(6)),
            Err(Error::UnexpectedCall { .. })
        ));
        assert!(matches!(
            poll.handle_response(tokens(), at(6)),
            Err(Error::UnexpectedCall { .. })
        ));

        // The device authorization request: an error ends it too.
        let mut request = client(ClientAuth::None).device_authorization().unwrap();
        let _ = request.start(T0).unwrap();
        assert!(
            request
                .handle_response(json_response(400, r#"{"error":"invalid_scope"}"#), T0)
                .is_err()
        );
        assert!(matches!(
            request.handle_response(json_response(200, STANDARD), T0),
            Err(Error::UnexpectedCall { .. })
        ));
    }

    #[test]
    fn for_display_strips_sequences_controls_and_bidi() {
        assert_eq!(for_display("\u{1b}[1;31mred\u{1b}[0m"), "red");
        assert_eq!(for_display("a\u{1b}]0;title\u{7}b"), "ab");
        assert_eq!(for_display("a\u{1b}]8;;https://x\u{1b}\\b"), "ab");
        assert_eq!(for_display("a\u{1b}cb"), "ab");
        assert_eq!(for_display("a\u{9b}2Jb"), "ab");
        assert_eq!(for_display("\u{202e}abc\u{200b}\r\n\t"), "abc");
        assert_eq!(for_display("WDJB-MJHT"), "WDJB-MJHT");
        assert_eq!(for_display("ÄÖÜ-日本"), "ÄÖÜ-日本");
        assert_eq!(for_display("\u{1b}"), "");
    }

    #[test]
    fn an_id_token_quoting_the_device_code_is_withheld() {
        // The ID token check quotes the `iss` it refuses: a server echoing
        // the device code the poll carried must not have it shown.
        use crate::testing::{jwk_set, sign_jwt, test_signer};
        use crate::{Algorithm, IdTokenPolicy, Issuer};
        let signer = test_signer(1, "k1");
        let client = client(ClientAuth::None)
            .with_issuer(Issuer::new("https://as.example.com").unwrap())
            .with_id_token_policy(IdTokenPolicy::default().with_algorithms([Algorithm::EdDsa]))
            .with_jwks(jwk_set(&[&signer]).unwrap());
        let mut flow = client
            .device_authorization()
            .unwrap()
            .scope(Scope::new("openid").unwrap());
        let Step::Send(_) = flow.start(T0).unwrap() else {
            panic!("expected a request")
        };
        let Step::Done(authorization) = flow
            .handle_response(json_response(200, STANDARD), T0)
            .unwrap()
        else {
            panic!("expected Done")
        };
        let mut poll = authorization.poll();
        let mut now = T0;
        let mut step = poll.start(now).unwrap();
        while let Step::WaitUntil(deadline) = step {
            now = deadline;
            step = poll.handle_timeout(now).unwrap();
        }
        let Step::Send(_) = step else {
            panic!("expected a poll")
        };
        let claims = serde_json::json!({
            "iss": "https://GmRhmhcxhwAzkoEqiMEg.example", "sub": "alice", "aud": "tv",
            "iat": T0.as_secs(), "exp": T0.as_secs() + 600,
        });
        let body = serde_json::json!({
            "access_token": "AT", "token_type": "Bearer",
            "id_token": sign_jwt(&signer, &claims).unwrap(),
        });
        let error = poll
            .handle_response(json_response(200, body.to_string()), now)
            .unwrap_err();
        assert!(
            matches!(error, Error::IdToken(IdTokenError::IssuerMismatch { .. })),
            "{error:?}"
        );
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains("GmRhmhcxhwAzkoEqiMEg"), "{shown}");
        }
    }
}
