//! The client credentials grant (RFC 6749 §4.4): a confidential client asks
//! for an access token on its own behalf.
//!
//! The user-facing documentation is on [`ClientCredentials`].

use crate::client::Client;
use crate::error::Error;
use crate::flow::{Flow, Step};
use crate::message::{HttpRequest, HttpResponse};
use crate::time::UnixTime;
use crate::token::{TokenSet, parse_tokens_for};
use crate::types::{Scope, join_scopes};

impl Client {
    /// Starts the client credentials grant (RFC 6749 §4.4).
    ///
    /// Fails with [`Error::PublicClientNotAllowed`] for a public client — the
    /// grant is for confidential clients only (RFC 6749 §4.4) — and with
    /// [`Error::MissingEndpoint`] without a token endpoint.
    pub fn client_credentials(&self) -> Result<ClientCredentials, Error> {
        if self.is_public() {
            return Err(Error::PublicClientNotAllowed {
                grant: "client_credentials",
            });
        }
        self.require_token_endpoint()?;
        Ok(ClientCredentials::new(self.clone()))
    }
}

const FLOW: &str = "client credentials";

/// Parameters this flow or client authentication sets, which
/// [`ClientCredentials::param`] therefore refuses.
const RESERVED: [&str; 6] = [
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Sent,
    Finished,
}

/// The client credentials grant as a [`Flow`]. Made by
/// [`Client::client_credentials`].
///
/// ```text
///   New ──start──▶ Sent ──handle_response──▶ Done(TokenSet)
///                    │
///                    └── an error response or a malformed one ends the flow
/// ```
///
/// The request is `grant_type=client_credentials`, the optional `scope`,
/// any RFC 8707 `resource` indicators, an `audience` (Auth0, Okta and others)
/// and extra parameters, authenticated with the client's method:
///
/// ```
/// use grantflow::{Client, ClientAuth, ClientId, ClientSecret, EndpointUrl, Flow, Scope, Step, UnixTime};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let client = Client::new(
///     ClientId::new("svc"),
///     ClientAuth::ClientSecretPost(ClientSecret::new("s3cr3t")),
/// )
/// .with_token_endpoint(EndpointUrl::parse("https://as.example.com/token")?);
///
/// let mut flow = client
///     .client_credentials()?
///     .scope(Scope::new("api:read")?)
///     .resource(url::Url::parse("https://api.example.com/").unwrap());
/// let Step::Send(request) = flow.start(UnixTime::from_secs(0))? else { unreachable!() };
/// assert_eq!(request.method(), "POST");
/// assert_eq!(
///     request.body().as_slice(),
///     b"grant_type=client_credentials&scope=api%3Aread\
///       &resource=https%3A%2F%2Fapi.example.com%2F&client_id=svc&client_secret=s3cr3t"
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ClientCredentials {
    client: Client,
    scopes: Vec<Scope>,
    params: Vec<(String, String)>,
    state: State,
    /// Whether the one retry with a DPoP nonce (RFC 9449 §8) was spent.
    dpop_retried: bool,
}

impl ClientCredentials {
    pub(crate) fn new(client: Client) -> Self {
        ClientCredentials {
            client,
            scopes: Vec::new(),
            params: Vec::new(),
            state: State::New,
            dpop_retried: false,
        }
    }

    /// The token request (RFC 6749 §4.4.2).
    fn request(&self, now: UnixTime) -> Result<HttpRequest, Error> {
        let scope = join_scopes(&self.scopes);
        let mut params = Vec::with_capacity(2 + self.params.len());
        params.push(("grant_type", "client_credentials"));
        if !scope.is_empty() {
            params.push(("scope", scope.as_str()));
        }
        params.extend(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.client.token_request(params, now)
    }

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

    /// Adds an RFC 8707 resource indicator: the absolute URI of a resource
    /// server the token is for. May be repeated. A URI with a fragment is
    /// refused when the flow starts (RFC 8707 §2).
    #[must_use]
    pub fn resource(mut self, resource: url::Url) -> Self {
        self.params.push(("resource".to_owned(), resource.into()));
        self
    }

    /// Adds an `audience` parameter, which Auth0, Okta and others use in
    /// place of RFC 8707 `resource`.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.params.push(("audience".to_owned(), audience.into()));
        self
    }

    /// Adds any other parameter. Names the flow sets itself (`grant_type`,
    /// `scope`, client authentication) make [`Flow::start`] fail with
    /// [`Error::ReservedParameter`].
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The scopes asked for, for a session that re-runs the grant.
    pub(crate) fn requested_scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// The other parameters added (`resource`, `audience`, …), for a
    /// session that re-runs the grant.
    pub(crate) fn added_params(&self) -> &[(String, String)] {
        &self.params
    }
}

impl Flow for ClientCredentials {
    type Output = TokenSet;

    fn start(&mut self, now: UnixTime) -> Result<Step<TokenSet>, Error> {
        if self.state != State::New {
            self.state = State::Finished;
            return Err(Error::UnexpectedCall {
                flow: FLOW,
                call: "start after the flow had started",
            });
        }
        self.state = State::Finished;
        super::check_params(
            &RESERVED,
            self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        let request = self.request(now)?;
        self.state = State::Sent;
        Ok(Step::Send(request))
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<TokenSet>, Error> {
        if self.state != State::Sent {
            self.state = State::Finished;
            return Err(Error::UnexpectedCall {
                flow: FLOW,
                call: "handle_response without a request in flight",
            });
        }
        self.state = State::Finished;
        if self.client.dpop_nonce_retry(&response)? && !self.dpop_retried {
            self.dpop_retried = true;
            let request = self.request(now)?;
            self.state = State::Sent;
            return Ok(Step::Send(request));
        }
        parse_tokens_for(&self.client, &response, now).map(Step::Done)
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<TokenSet>, Error> {
        // Any error ends the flow, this one too.
        self.state = State::Finished;
        Err(Error::UnexpectedCall {
            flow: FLOW,
            call: "handle_timeout: this flow never waits",
        })
    }
}
