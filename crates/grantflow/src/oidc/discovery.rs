//! Provider discovery: OpenID Connect Discovery 1.0 and OAuth 2.0
//! Authorization Server Metadata (RFC 8414), as a [`Flow`] that fetches the
//! metadata document and then, for OpenID providers, the JWK set.
//!
//! The user-facing documentation is on [`Discovery`].

use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::client::{Client, ClientAuth, Endpoints};
use crate::endpoint::EndpointUrl;
use crate::endpoint::Issuer;
use crate::error::{Error, MalformedResponse, clean_text};
use crate::flow::{Flow, Step};
use crate::jose::JwkSet;
use crate::message::{HttpResponse, JSON, get_json};
use crate::oidc::jwks::parse_jwks_response;
use crate::time::UnixTime;
use crate::types::ClientId;
use crate::wire::{Decoded, bounded, decode, string_field};

const FLOW: &str = "discovery";

/// The longest issuer quoted from a document in [`Error::MetadataIssuerMismatch`].
const MAX_FOUND_ISSUER: usize = 256;

/// Which specification a metadata document is read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// OpenID Connect Discovery 1.0.
    OpenId,
    /// RFC 8414.
    OAuth,
}

/// A provider's metadata (RFC 8414 §2, OIDC Discovery §3), checked and typed.
///
/// Built only by [`ProviderMetadata::from_json`],
/// [`ProviderMetadata::from_openid_json`] or a [`Discovery`] flow, so
/// `issuer` is always the configured issuer and every endpoint is an
/// [`EndpointUrl`] (`https`, or `http` to loopback).
///
/// Field by field:
///
/// - endpoints are `None` when absent (or `null`);
/// - lists are `None` when absent (or `null`) and `Some(vec![])` when the
///   document has an empty array: "the server did not say" and "the server
///   supports none" are different answers;
/// - booleans take the specifications' defaults when absent (`false`, except
///   `request_uri_parameter_supported`, which OIDC Discovery §3 defaults to
///   `true`);
/// - every other field is kept, untouched, in [`extra`](Self::extra).
///
/// A field of the wrong JSON type (a string where an array belongs, a number
/// where a URL belongs) is never read as absent: the document is refused
/// with [`Error::MalformedResponse`] naming the field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// `issuer`: identical to the issuer the document was fetched for.
    pub issuer: Issuer,
    /// `authorization_endpoint` (RFC 6749 §3.1).
    pub authorization_endpoint: Option<EndpointUrl>,
    /// `token_endpoint` (RFC 6749 §3.2).
    pub token_endpoint: Option<EndpointUrl>,
    /// `userinfo_endpoint` (OIDC Core §5.3).
    pub userinfo_endpoint: Option<EndpointUrl>,
    /// `jwks_uri`: where the provider's signing keys are (RFC 7517 §5).
    pub jwks_uri: Option<EndpointUrl>,
    /// `registration_endpoint` (RFC 7591).
    pub registration_endpoint: Option<EndpointUrl>,
    /// `revocation_endpoint` (RFC 7009).
    pub revocation_endpoint: Option<EndpointUrl>,
    /// `introspection_endpoint` (RFC 7662).
    pub introspection_endpoint: Option<EndpointUrl>,
    /// `device_authorization_endpoint` (RFC 8628 §4).
    pub device_authorization_endpoint: Option<EndpointUrl>,
    /// `end_session_endpoint` (OpenID Connect RP-Initiated Logout 1.0).
    pub end_session_endpoint: Option<EndpointUrl>,
    /// `pushed_authorization_request_endpoint` (RFC 9126 §5).
    pub pushed_authorization_request_endpoint: Option<EndpointUrl>,
    /// `scopes_supported`.
    pub scopes_supported: Option<Vec<String>>,
    /// `response_types_supported` (REQUIRED for OpenID providers).
    pub response_types_supported: Option<Vec<String>>,
    /// `response_modes_supported`.
    pub response_modes_supported: Option<Vec<String>>,
    /// `grant_types_supported`.
    pub grant_types_supported: Option<Vec<String>>,
    /// `subject_types_supported` (REQUIRED for OpenID providers).
    pub subject_types_supported: Option<Vec<String>>,
    /// `id_token_signing_alg_values_supported` (REQUIRED for OpenID
    /// providers), exactly as published.
    ///
    /// The list may contain `none`; it is kept here as published, but never
    /// enables unsigned ID tokens: signature checks refuse `alg: none`
    /// whatever the metadata says. [`Self::id_token_signing_algorithms`]
    /// gives the list as algorithms this crate can verify, without `none`.
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// `userinfo_signing_alg_values_supported`.
    pub userinfo_signing_alg_values_supported: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported`.
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `code_challenge_methods_supported` (RFC 7636 PKCE; RFC 9700 §2.1.1
    /// relies on it).
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `claims_supported`.
    pub claims_supported: Option<Vec<String>>,
    /// `acr_values_supported`.
    pub acr_values_supported: Option<Vec<String>>,
    /// `ui_locales_supported`.
    pub ui_locales_supported: Option<Vec<String>>,
    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1).
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207 §3;
    /// `false` when absent). When `true`, an authorization response without
    /// `iss` must be refused.
    pub authorization_response_iss_parameter_supported: bool,
    /// `require_pushed_authorization_requests` (RFC 9126 §5; `false` when absent).
    pub require_pushed_authorization_requests: bool,
    /// `claims_parameter_supported` (`false` when absent).
    pub claims_parameter_supported: bool,
    /// `request_parameter_supported` (`false` when absent).
    pub request_parameter_supported: bool,
    /// `request_uri_parameter_supported` (`true` when absent, per OIDC
    /// Discovery §3).
    pub request_uri_parameter_supported: bool,
    /// Every other field of the document, untouched.
    pub extra: Map<String, Value>,
}

impl ProviderMetadata {
    /// Parses an RFC 8414 authorization server metadata document that must
    /// be for `expected`. Usable on its own, for example for a cached
    /// document.
    ///
    /// The body must be a JSON object (a UTF-8 byte order mark and
    /// surrounding whitespace are skipped) of at most
    /// [`MAX_BODY`](crate::MAX_BODY) bytes with no duplicate
    /// top-level names. `issuer` is checked first: missing or not a string
    /// is [`Error::MalformedResponse`]; a string that is not identical to
    /// `expected` is [`Error::MetadataIssuerMismatch`], and nothing else in the
    /// document is looked at. Then every field this type knows is read as
    /// described on [`ProviderMetadata`]. RFC 8414 §2 requires only `issuer`
    /// outright (the endpoints it needs depend on the grants used), so only
    /// `issuer` is required here; a flow that needs an endpoint reports its
    /// absence itself.
    ///
    /// Errors about the body report HTTP status 200.
    pub fn from_json(body: &[u8], expected: &Issuer) -> Result<ProviderMetadata, Error> {
        Self::from_body(body, expected, Kind::OAuth)
    }

    /// Parses an OpenID Connect Discovery 1.0 provider configuration that
    /// must be for `expected`: the checks of [`ProviderMetadata::from_json`],
    /// and the fields OIDC Discovery §3 marks REQUIRED must be present:
    /// `authorization_endpoint`, `jwks_uri`, `response_types_supported`,
    /// `subject_types_supported` and `id_token_signing_alg_values_supported`,
    /// plus `token_endpoint` (REQUIRED unless the provider supports only the
    /// implicit flow, which this crate does not implement).
    pub fn from_openid_json(body: &[u8], expected: &Issuer) -> Result<ProviderMetadata, Error> {
        Self::from_body(body, expected, Kind::OpenId)
    }

    /// The ID token signing algorithms the provider lists that this crate
    /// can verify, in the provider's order: unknown names and `none` are
    /// dropped, and so are repeats. Empty when the list is absent.
    pub fn id_token_signing_algorithms(&self) -> Vec<Algorithm> {
        known_algorithms(&self.id_token_signing_alg_values_supported)
    }

    /// The same for `userinfo_signing_alg_values_supported`.
    pub fn userinfo_signing_algorithms(&self) -> Vec<Algorithm> {
        known_algorithms(&self.userinfo_signing_alg_values_supported)
    }

    /// Every endpoint the document names, as a client uses them: the one
    /// place where metadata becomes [`Endpoints`].
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            authorization: self.authorization_endpoint.clone(),
            token: self.token_endpoint.clone(),
            userinfo: self.userinfo_endpoint.clone(),
            revocation: self.revocation_endpoint.clone(),
            introspection: self.introspection_endpoint.clone(),
            device_authorization: self.device_authorization_endpoint.clone(),
            pushed_authorization_request: self.pushed_authorization_request_endpoint.clone(),
            end_session: self.end_session_endpoint.clone(),
        }
    }

    fn from_body(body: &[u8], expected: &Issuer, kind: Kind) -> Result<ProviderMetadata, Error> {
        // The checks `decode` applies to responses apply to stored documents
        // too; it reads a response, so the body is wrapped in one (after the
        // size check, so an oversized body is never copied). Labelled JSON,
        // so a body that is not a JSON object is never read as a form.
        let body = bounded(200, body)?;
        let mut response = http::Response::new(body.to_vec());
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(JSON),
        );
        Self::from_response(&response, expected, kind)
    }

    /// Reads a metadata response: the body-level checks and tolerances of
    /// [`crate::response`] (an RFC 6749 §5.2 error body is [`Error::OAuth`],
    /// another non-2xx is [`Error::MalformedResponse`] with its status), then
    /// the document.
    fn from_response(
        response: &HttpResponse,
        expected: &Issuer,
        kind: Kind,
    ) -> Result<ProviderMetadata, Error> {
        let Decoded { status, fields } = decode::<Map<String, Value>>(response)?;
        Self::from_fields(status, fields, expected, kind)
    }

    fn from_fields(
        status: u16,
        mut fields: Map<String, Value>,
        expected: &Issuer,
        kind: Kind,
    ) -> Result<ProviderMetadata, Error> {
        // RFC 8414 §3.3: nothing in a document for another issuer is used,
        // so the issuer is checked before any other field is read.
        let issuer = match string_field(status, "issuer", fields.remove("issuer"))? {
            Some(found) if found == expected.as_str() => expected.clone(),
            Some(found) => {
                return Err(Error::MetadataIssuerMismatch {
                    expected: expected.as_str().to_owned(),
                    found: clean_text(&found, MAX_FOUND_ISSUER),
                });
            }
            None => return Err(malformed(status, "field \"issuer\" is missing")),
        };
        let mut doc = Fields { status, fields };
        let metadata = ProviderMetadata {
            issuer,
            authorization_endpoint: doc.endpoint("authorization_endpoint")?,
            token_endpoint: doc.endpoint("token_endpoint")?,
            userinfo_endpoint: doc.endpoint("userinfo_endpoint")?,
            jwks_uri: doc.endpoint("jwks_uri")?,
            registration_endpoint: doc.endpoint("registration_endpoint")?,
            revocation_endpoint: doc.endpoint("revocation_endpoint")?,
            introspection_endpoint: doc.endpoint("introspection_endpoint")?,
            device_authorization_endpoint: doc.endpoint("device_authorization_endpoint")?,
            end_session_endpoint: doc.endpoint("end_session_endpoint")?,
            pushed_authorization_request_endpoint: doc
                .endpoint("pushed_authorization_request_endpoint")?,
            scopes_supported: doc.list("scopes_supported")?,
            response_types_supported: doc.list("response_types_supported")?,
            response_modes_supported: doc.list("response_modes_supported")?,
            grant_types_supported: doc.list("grant_types_supported")?,
            subject_types_supported: doc.list("subject_types_supported")?,
            id_token_signing_alg_values_supported: doc
                .list("id_token_signing_alg_values_supported")?,
            userinfo_signing_alg_values_supported: doc
                .list("userinfo_signing_alg_values_supported")?,
            token_endpoint_auth_methods_supported: doc
                .list("token_endpoint_auth_methods_supported")?,
            code_challenge_methods_supported: doc.list("code_challenge_methods_supported")?,
            claims_supported: doc.list("claims_supported")?,
            acr_values_supported: doc.list("acr_values_supported")?,
            ui_locales_supported: doc.list("ui_locales_supported")?,
            dpop_signing_alg_values_supported: doc.list("dpop_signing_alg_values_supported")?,
            authorization_response_iss_parameter_supported: doc
                .flag("authorization_response_iss_parameter_supported", false)?,
            require_pushed_authorization_requests: doc
                .flag("require_pushed_authorization_requests", false)?,
            claims_parameter_supported: doc.flag("claims_parameter_supported", false)?,
            request_parameter_supported: doc.flag("request_parameter_supported", false)?,
            request_uri_parameter_supported: doc.flag("request_uri_parameter_supported", true)?,
            extra: doc.fields,
        };
        if kind == Kind::OpenId {
            metadata.require_openid_fields(status)?;
        }
        Ok(metadata)
    }

    /// OIDC Discovery §3's REQUIRED fields (`issuer` is checked already).
    fn require_openid_fields(&self, status: u16) -> Result<(), Error> {
        let present = [
            (
                "authorization_endpoint",
                self.authorization_endpoint.is_some(),
            ),
            ("token_endpoint", self.token_endpoint.is_some()),
            ("jwks_uri", self.jwks_uri.is_some()),
            (
                "response_types_supported",
                self.response_types_supported.is_some(),
            ),
            (
                "subject_types_supported",
                self.subject_types_supported.is_some(),
            ),
            (
                "id_token_signing_alg_values_supported",
                self.id_token_signing_alg_values_supported.is_some(),
            ),
        ];
        match present.iter().find(|(_, present)| !present) {
            Some((field, _)) => Err(malformed(
                status,
                format!(
                    "field {field:?} is missing (required by openid connect discovery 1.0 section 3)"
                ),
            )),
            None => Ok(()),
        }
    }
}

/// The listed names this crate can verify, in order, without repeats:
/// [`Algorithm::from_name`] knows neither `none` nor unimplemented names.
fn known_algorithms(names: &Option<Vec<String>>) -> Vec<Algorithm> {
    let mut algorithms = Vec::new();
    for alg in names
        .iter()
        .flatten()
        .filter_map(|name| Algorithm::from_name(name))
    {
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    algorithms
}

/// The fields of a document not read yet; each reader takes its field out,
/// so what is left at the end is [`ProviderMetadata::extra`].
struct Fields {
    status: u16,
    fields: Map<String, Value>,
}

impl Fields {
    /// An endpoint URL: absent or `null` is `None`; a string must be a usable
    /// [`EndpointUrl`] (an insecure one stays [`Error::InsecureUrl`]).
    fn endpoint(&mut self, name: &'static str) -> Result<Option<EndpointUrl>, Error> {
        let status = self.status;
        let Some(url) = string_field(status, name, self.fields.remove(name))? else {
            return Ok(None);
        };
        EndpointUrl::parse(&url)
            .map(Some)
            .map_err(|error| match error {
                Error::InvalidUrl { reason } => malformed(
                    status,
                    format!("field {name:?} is not a usable endpoint url: {reason}"),
                ),
                other => other,
            })
    }

    /// An array of strings: absent or `null` is `None`.
    fn list(&mut self, name: &'static str) -> Result<Option<Vec<String>>, Error> {
        let not_a_list =
            |status| malformed(status, format!("field {name:?} is not an array of strings"));
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(item) => Ok(item),
                    _ => Err(not_a_list(self.status)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(not_a_list(self.status)),
        }
    }

    /// A boolean: absent or `null` is `default`.
    fn flag(&mut self, name: &'static str, default: bool) -> Result<bool, Error> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(value)) => Ok(value),
            Some(_) => Err(malformed(
                self.status,
                format!("field {name:?} is not a boolean"),
            )),
        }
    }
}

fn malformed(status: u16, reason: impl Into<String>) -> Error {
    MalformedResponse::without_excerpt(status, reason).into()
}

/// Where a [`Discovery`] flow is.
#[derive(Debug)]
enum State {
    New,
    /// The well-known request is in flight.
    Metadata,
    /// The JWK set request is in flight.
    Jwks {
        metadata: Box<ProviderMetadata>,
        fetched_at: UnixTime,
    },
    Finished,
}

/// Provider discovery as a [`Flow`]: the metadata document, then the JWK
/// set.
///
/// ```text
///   New ──start──▶ Metadata ──handle_response──▶ Jwks ──handle_response──▶ Done(DiscoveredProvider)
///                  GET well-known     │          GET jwks_uri
///                                     │
///                                     └── no JWK set wanted ──────────────▶ Done(DiscoveredProvider)
///
///   Any error ends the flow, and no further request is emitted: an error
///   status, a malformed document, an issuer other than the configured one,
///   an endpoint that is not https, a malformed JWK set.
/// ```
///
/// - [`Discovery::openid`] fetches `{issuer}/.well-known/openid-configuration`
///   (OIDC Discovery §4.1: any terminating `/` of the issuer is removed
///   first), requires the fields OIDC Discovery §3 calls REQUIRED, then
///   fetches the JWK set at `jwks_uri`.
/// - [`Discovery::oauth`] fetches
///   `https://host[:port]/.well-known/oauth-authorization-server{path}`
///   (RFC 8414 §3.1: the well-known segment goes *before* the issuer's path)
///   and requires only `issuer`; it fetches the JWK set only when asked to
///   with [`Discovery::with_jwks`] and the document has a `jwks_uri`.
///
/// Whatever the kind, the document's `issuer` must be **identical** to the
/// configured [`Issuer`] — no normalisation, so a trailing slash or a change
/// of letter case is a mismatch — before anything else in it is looked at
/// (RFC 8414 §3.3, OIDC Discovery §4.3); otherwise the flow ends with
/// [`Error::MetadataIssuerMismatch`] and nothing in the document is used. Every
/// endpoint in the document must be `https` (`http` to a loopback host
/// excepted), or the whole document is refused with [`Error::InsecureUrl`].
/// The `jwks_uri` is used exactly as published: it may be on another host and
/// may change from one fetch to the next.
///
/// ```
/// use grantflow::{Discovery, Flow, Issuer, Step, UnixTime};
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let now = UnixTime::from_secs(1_700_000_000);
/// let mut flow = Discovery::openid(Issuer::new("https://server.example.com")?);
/// let mut step = flow.start(now)?;
/// let provider = loop {
///     step = match step {
///         Step::Send(request) => {
///             assert_eq!(request.method(), "GET");
///             // A real driver sends `request` here; this one answers it.
///             let body: &[u8] = match request.uri().path() {
///                 "/.well-known/openid-configuration" => br#"{
///                     "issuer": "https://server.example.com",
///                     "authorization_endpoint": "https://server.example.com/authorize",
///                     "token_endpoint": "https://server.example.com/token",
///                     "jwks_uri": "https://server.example.com/jwks.json",
///                     "response_types_supported": ["code"],
///                     "subject_types_supported": ["public"],
///                     "id_token_signing_alg_values_supported": ["ES256"]
///                 }"#,
///                 "/jwks.json" => br#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "1",
///                     "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
///                     "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#,
///                 other => unreachable!("unexpected request to {other}"),
///             };
///             let response = http::Response::builder()
///                 .status(200)
///                 .header("content-type", "application/json")
///                 .body(body.to_vec())
///                 .unwrap();
///             flow.handle_response(response, now)?
///         }
///         Step::Done(provider) => break provider,
///         Step::WaitUntil(deadline) => flow.handle_timeout(deadline)?, // discovery never waits
///     };
/// };
/// assert_eq!(provider.issuer().as_str(), "https://server.example.com");
/// assert_eq!(
///     provider.metadata().token_endpoint.as_ref().map(|e| e.as_str()),
///     Some("https://server.example.com/token")
/// );
/// assert!(provider.jwks().is_some());
/// assert_eq!(provider.fetched_at(), now);
/// # Ok(())
/// # }
/// ```
///
/// To use a document cached earlier, store its bytes and parse them again
/// with [`ProviderMetadata::from_openid_json`] or
/// [`ProviderMetadata::from_json`]: the same checks apply.
#[derive(Debug)]
pub struct Discovery {
    issuer: Issuer,
    kind: Kind,
    fetch_jwks: bool,
    state: State,
}

impl Discovery {
    /// OpenID Connect Discovery 1.0: fetches
    /// `{issuer}/.well-known/openid-configuration`, requires the fields of
    /// [`ProviderMetadata::from_openid_json`], then fetches the JWK set at
    /// `jwks_uri`.
    pub fn openid(issuer: Issuer) -> Discovery {
        Discovery {
            issuer,
            kind: Kind::OpenId,
            fetch_jwks: true,
            state: State::New,
        }
    }

    /// RFC 8414 authorization server metadata: fetches
    /// `/.well-known/oauth-authorization-server` inserted before the issuer's
    /// path, with the checks of [`ProviderMetadata::from_json`]. No JWK set is
    /// fetched unless [`Discovery::with_jwks`] asks for it.
    pub fn oauth(issuer: Issuer) -> Discovery {
        Discovery {
            issuer,
            kind: Kind::OAuth,
            fetch_jwks: false,
            state: State::New,
        }
    }

    /// Also fetches the JWK set, when the document has a `jwks_uri` (without
    /// one, the flow ends with no key set). OpenID discovery always fetches
    /// it; this changes nothing there.
    #[must_use]
    pub fn with_jwks(mut self) -> Self {
        self.fetch_jwks = true;
        self
    }

    /// The issuer being discovered.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    fn well_known_url(&self) -> Result<EndpointUrl, Error> {
        match self.kind {
            Kind::OpenId => self.issuer.openid_configuration_url(),
            Kind::OAuth => self.issuer.oauth_metadata_url(),
        }
    }
}

impl Flow for Discovery {
    type Output = DiscoveredProvider;

    fn start(&mut self, _now: UnixTime) -> Result<Step<DiscoveredProvider>, Error> {
        if !matches!(self.state, State::New) {
            self.state = State::Finished;
            return Err(Error::UnexpectedCall {
                flow: FLOW,
                call: "start after the flow had started",
            });
        }
        self.state = State::Finished;
        let request = get_json(&self.well_known_url()?);
        self.state = State::Metadata;
        Ok(Step::Send(request))
    }

    fn handle_response(
        &mut self,
        response: HttpResponse,
        now: UnixTime,
    ) -> Result<Step<DiscoveredProvider>, Error> {
        match core::mem::replace(&mut self.state, State::Finished) {
            State::Metadata => {
                let metadata = ProviderMetadata::from_response(&response, &self.issuer, self.kind)?;
                match (&metadata.jwks_uri, self.fetch_jwks) {
                    (Some(jwks_uri), true) => {
                        let request = get_json(jwks_uri);
                        self.state = State::Jwks {
                            metadata: Box::new(metadata),
                            fetched_at: now,
                        };
                        Ok(Step::Send(request))
                    }
                    _ => Ok(Step::Done(DiscoveredProvider::new(metadata, None, now))),
                }
            }
            State::Jwks {
                metadata,
                fetched_at,
            } => {
                let jwks = parse_jwks_response(&response)?;
                Ok(Step::Done(DiscoveredProvider::new(
                    *metadata,
                    Some(jwks),
                    fetched_at,
                )))
            }
            // Any error ends the flow, a call out of order too.
            State::New => Err(Error::UnexpectedCall {
                flow: FLOW,
                call: "handle_response before start",
            }),
            State::Finished => Err(Error::UnexpectedCall {
                flow: FLOW,
                call: "handle_response without a request in flight",
            }),
        }
    }

    fn handle_timeout(&mut self, _now: UnixTime) -> Result<Step<DiscoveredProvider>, Error> {
        self.state = State::Finished;
        Err(Error::UnexpectedCall {
            flow: FLOW,
            call: "handle_timeout: this flow never waits",
        })
    }
}

/// What a [`Discovery`] flow found: the provider's checked metadata and,
/// when fetched, its JWK set.
#[derive(Debug, Clone)]
pub struct DiscoveredProvider {
    metadata: ProviderMetadata,
    jwks: Option<JwkSet>,
    fetched_at: UnixTime,
}

impl DiscoveredProvider {
    /// Puts a provider together from parts obtained elsewhere, for example a
    /// cached document parsed again with
    /// [`ProviderMetadata::from_openid_json`] and a cached key set.
    pub fn new(metadata: ProviderMetadata, jwks: Option<JwkSet>, fetched_at: UnixTime) -> Self {
        DiscoveredProvider {
            metadata,
            jwks,
            fetched_at,
        }
    }

    /// The provider's metadata.
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    /// The JWK set, when it was fetched (always, for OpenID discovery).
    pub fn jwks(&self) -> Option<&JwkSet> {
        self.jwks.as_ref()
    }

    /// When the metadata document was received (the `now` passed with it),
    /// for deciding when to discover again.
    pub fn fetched_at(&self) -> UnixTime {
        self.fetched_at
    }

    /// The issuer, identical to the configured one.
    pub fn issuer(&self) -> &Issuer {
        &self.metadata.issuer
    }

    /// The metadata, the JWK set and the time of the fetch.
    pub fn into_parts(self) -> (ProviderMetadata, Option<JwkSet>, UnixTime) {
        (self.metadata, self.jwks, self.fetched_at)
    }
}

impl Client {
    /// A client of a discovered provider: its issuer, endpoints, signing keys,
    /// ID token algorithms, whether it sends RFC 9207 `iss` and whether it
    /// requires pushed authorization requests (RFC 9126 §5) all come from
    /// the metadata.
    pub fn from_provider(
        provider: &DiscoveredProvider,
        client_id: ClientId,
        auth: ClientAuth,
    ) -> Self {
        let metadata = provider.metadata();
        Client::new(client_id, auth)
            .with_endpoints(metadata.endpoints())
            .with_issuer(metadata.issuer.clone())
            .with_required_callback_iss(metadata.authorization_response_iss_parameter_supported)
            .with_required_pushed_authorization(metadata.require_pushed_authorization_requests)
            .with_signing_algorithms(
                metadata.id_token_signing_algorithms(),
                metadata.userinfo_signing_algorithms(),
            )
            .with_key_source(metadata.jwks_uri.clone(), provider.jwks().cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(issuer: &str) -> Issuer {
        Issuer::new(issuer).unwrap()
    }

    #[test]
    fn issuers_are_kept_exactly() {
        for id in [
            "https://as.example.com",
            "https://as.example.com/",
            "https://AS.example.com",
            "https://as.example.com:443",
            "HTTPS://as.example.com/tenant/",
            "http://127.0.0.1:8080/realms/x",
            "http://localhost",
        ] {
            assert_eq!(issuer(id).as_str(), id);
        }
        assert_ne!(
            issuer("https://as.example.com"),
            issuer("https://as.example.com/")
        );
    }

    #[test]
    fn issuer_rejections() {
        for (bad, reason) in [
            ("https://as.example.com/?", "query"),
            ("https://as.example.com/?a=b", "query"),
            ("https://as.example.com#", "fragment"),
            ("https://as.example.com/#x", "fragment"),
            ("https://user@as.example.com", "user name"),
            ("https://user:pw@as.example.com", "user name"),
            ("https:as.example.com", "must start with"),
            ("https:\\\\as.example.com", "backslashes"),
            (" https://as.example.com", "whitespace"),
            ("https://as.example.com\n", "whitespace"),
            ("https://as.exa\tmple.com", "whitespace"),
            ("ftp://as.example.com", "must start with"),
            ("as.example.com", "must start with"),
            ("", "must start with"),
            ("https://", "host"),
            ("https:///as.example.com", "host"),
            ("https://[::1", "absolute url"),
        ] {
            match Issuer::new(bad) {
                Err(Error::InvalidIssuer { reason: got }) => {
                    assert!(got.contains(reason), "{bad:?}: {got}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        for insecure in ["http://as.example.com", "http://10.0.0.1/x"] {
            assert!(
                matches!(Issuer::new(insecure), Err(Error::InsecureUrl { .. })),
                "{insecure}"
            );
        }
    }

    #[test]
    fn openid_configuration_urls() {
        for (id, url) in [
            (
                "https://server.example.com",
                "https://server.example.com/.well-known/openid-configuration",
            ),
            (
                "https://server.example.com/",
                "https://server.example.com/.well-known/openid-configuration",
            ),
            (
                "https://example.com/issuer1",
                "https://example.com/issuer1/.well-known/openid-configuration",
            ),
            (
                "https://example.com/issuer1/",
                "https://example.com/issuer1/.well-known/openid-configuration",
            ),
            (
                "https://example.com:8443/a/b",
                "https://example.com:8443/a/b/.well-known/openid-configuration",
            ),
            (
                "http://localhost:3000",
                "http://localhost:3000/.well-known/openid-configuration",
            ),
        ] {
            assert_eq!(
                issuer(id).openid_configuration_url().unwrap().as_str(),
                url,
                "{id}"
            );
        }
    }

    #[test]
    fn oauth_metadata_urls() {
        for (id, url) in [
            // RFC 8414 §3.1's example.
            (
                "https://example.com/issuer1",
                "https://example.com/.well-known/oauth-authorization-server/issuer1",
            ),
            (
                "https://example.com",
                "https://example.com/.well-known/oauth-authorization-server",
            ),
            (
                "https://example.com/",
                "https://example.com/.well-known/oauth-authorization-server",
            ),
            // A trailing slash on a longer path is kept.
            (
                "https://example.com/issuer1/",
                "https://example.com/.well-known/oauth-authorization-server/issuer1/",
            ),
            (
                "https://example.com:8443/tenants/a",
                "https://example.com:8443/.well-known/oauth-authorization-server/tenants/a",
            ),
            (
                "http://127.0.0.1:9000/realm",
                "http://127.0.0.1:9000/.well-known/oauth-authorization-server/realm",
            ),
        ] {
            assert_eq!(
                issuer(id).oauth_metadata_url().unwrap().as_str(),
                url,
                "{id}"
            );
        }
    }

    #[test]
    fn issuers_serialize_as_strings_and_deserialize_checked() {
        let id = issuer("https://as.example.com/");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, r#""https://as.example.com/""#);
        assert_eq!(serde_json::from_str::<Issuer>(&json).unwrap(), id);
        assert!(serde_json::from_str::<Issuer>(r#""http://as.example.com""#).is_err());
        assert!(serde_json::from_str::<Issuer>(r#""https://as.example.com?x""#).is_err());
    }

    #[test]
    fn get_requests_for_metadata_and_keys() {
        let url = EndpointUrl::parse("https://as.example.com/keys?v=2").unwrap();
        let request = get_json(&url);
        assert_eq!(request.method(), "GET");
        assert_eq!(request.uri(), "https://as.example.com/keys?v=2");
        assert_eq!(request.headers()["accept"], "application/json");
        assert_eq!(request.headers().len(), 1);
        assert!(request.body().is_empty());
    }

    fn response(status: u16, body: &[u8]) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .body(body.to_vec())
            .unwrap()
    }

    #[test]
    fn jwks_error_statuses_and_oversized_bodies_are_malformed() {
        match parse_jwks_response(&response(503, b"<html>down</html>")) {
            Err(Error::MalformedResponse(m)) => {
                assert_eq!(m.status, 503);
                assert_eq!(m.reason, "http 503 from the jwks_uri");
                assert_eq!(m.excerpt.as_deref(), Some("<html>down</html>"));
            }
            other => panic!("{other:?}"),
        }
        // A JSON error body is not read as an OAuth error.
        assert!(matches!(
            parse_jwks_response(&response(400, br#"{"error":"invalid_request"}"#)),
            Err(Error::MalformedResponse(m)) if m.status == 400
        ));
        let big = vec![b' '; crate::MAX_BODY + 1];
        match parse_jwks_response(&response(200, &big)) {
            Err(Error::MalformedResponse(m)) => assert!(m.reason.contains("larger than")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_types_name_the_field_and_never_the_value() {
        let id = issuer("https://as.example.com");
        for (field, value, reason) in [
            ("token_endpoint", "42", "is not a string"),
            (
                "token_endpoint",
                "[\"https://x.example\"]",
                "is not a string",
            ),
            (
                "scopes_supported",
                "\"openid SECRET\"",
                "is not an array of strings",
            ),
            (
                "scopes_supported",
                "[\"openid\", 7]",
                "is not an array of strings",
            ),
            ("claims_parameter_supported", "\"true\"", "is not a boolean"),
            (
                "jwks_uri",
                "\"not a url SECRET\"",
                "is not a usable endpoint url",
            ),
            (
                "jwks_uri",
                "\"https://x.example/#SECRET\"",
                "is not a usable endpoint url",
            ),
        ] {
            let body = format!(r#"{{"issuer":"https://as.example.com","{field}":{value}}}"#);
            match ProviderMetadata::from_json(body.as_bytes(), &id) {
                Err(Error::MalformedResponse(m)) => {
                    assert_eq!(m.status, 200);
                    assert!(m.reason.contains(&format!("{field:?}")), "{}", m.reason);
                    assert!(m.reason.contains(reason), "{}", m.reason);
                    assert!(!m.to_string().contains("SECRET"), "{m}");
                    assert_eq!(m.excerpt, None);
                }
                other => panic!("{field}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn issuer_is_checked_before_anything_else() {
        // An insecure endpoint in a document for another issuer: the issuer
        // mismatch is reported, the endpoint never looked at.
        let body =
            br#"{"token_endpoint":"http://evil.example/token","issuer":"https://evil.example"}"#;
        match ProviderMetadata::from_json(body, &issuer("https://as.example.com")) {
            Err(Error::MetadataIssuerMismatch { expected, found }) => {
                assert_eq!(expected, "https://as.example.com");
                assert_eq!(found, "https://evil.example");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_issuer_differing_by_a_carriage_return_prints_differently() {
        // fuzz/regressions/discovery_metadata/issuer-trailing-cr (issue 14).
        let expected = "https://op.example.com/tenant/v2.0";
        let body = serde_json::json!({ "issuer": format!("{expected}\r") }).to_string();
        let error = ProviderMetadata::from_json(body.as_bytes(), &issuer(expected)).unwrap_err();
        let message = error.to_string();
        assert_eq!(
            message,
            "discovery document is for issuer \"https://op.example.com/tenant/v2.0\\r\", \
             not the configured \"https://op.example.com/tenant/v2.0\""
        );
    }

    #[test]
    fn mismatched_issuers_are_cleaned_and_cut() {
        let found = format!("https://evil.example/\u{1b}[2J{}", "a".repeat(1000));
        let body = serde_json::json!({ "issuer": found }).to_string();
        match ProviderMetadata::from_json(body.as_bytes(), &issuer("https://as.example.com")) {
            Err(Error::MetadataIssuerMismatch { found, .. }) => {
                assert!(
                    found.starts_with("https://evil.example/\\u{1b}[2Jaaa"),
                    "{found}"
                );
                assert!(found.len() <= MAX_FOUND_ISSUER, "{found}");
                assert!(found.ends_with(" bytes)"), "{found}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_or_non_string_issuer_is_malformed() {
        let id = issuer("https://as.example.com");
        for (body, reason) in [
            (&br#"{}"#[..], "field \"issuer\" is missing"),
            (br#"{"issuer":null}"#, "field \"issuer\" is missing"),
            (
                br#"{"issuer":["https://as.example.com"]}"#,
                "field \"issuer\" is not a string",
            ),
        ] {
            match ProviderMetadata::from_json(body, &id) {
                Err(Error::MalformedResponse(m)) => assert_eq!(m.reason, reason),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn stored_documents_are_json_only() {
        let id = issuer("https://as.example.com");
        for body in [
            &b"issuer=https%3A%2F%2Fas.example.com"[..],
            b"",
            b"[1]",
            b"<html>",
        ] {
            assert!(
                matches!(
                    ProviderMetadata::from_json(body, &id),
                    Err(Error::MalformedResponse(_))
                ),
                "{body:?}"
            );
        }
        let big = vec![b' '; crate::MAX_BODY + 1];
        assert!(matches!(
            ProviderMetadata::from_json(&big, &id),
            Err(Error::MalformedResponse(m)) if m.reason.contains("larger than")
        ));
        // A byte order mark and whitespace are fine.
        assert!(
            ProviderMetadata::from_json(
                b"\xEF\xBB\xBF\n{\"issuer\":\"https://as.example.com\"}\n",
                &id
            )
            .is_ok()
        );
    }
}
