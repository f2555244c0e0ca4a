//! The URLs a client deals with, checked once when they are made: endpoint
//! URLs that are safe to send credentials to, issuer identifiers, and
//! redirect URIs.
//!
//! The user-facing documentation is on [`EndpointUrl`] and [`Issuer`].

use core::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use crate::error::Error;

/// A URL the client may send requests and credentials to.
///
/// ```
/// use grantflow::EndpointUrl;
///
/// assert!(EndpointUrl::parse("https://auth.example.com/token").is_ok());
/// assert!(EndpointUrl::parse("http://127.0.0.1:8080/token").is_ok());
/// assert!(EndpointUrl::parse("http://auth.example.com/token").is_err());
/// ```
///
/// RFC 6749 §3.1, §3.2 and §10.9 (and RFC 9700 §2.6) want TLS on every
/// endpoint that sees a credential. [`EndpointUrl`] is a URL that passed those
/// checks: the scheme is `https`, or `http` to a loopback host (`127.0.0.0/8`,
/// `[::1]`, `localhost`) for local development and tests; there is no
/// fragment (RFC 6749 §3.1) and no user name or password in the URL.
#[derive(Clone)]
pub struct EndpointUrl {
    url: Url,
    /// The same URL parsed once for [`http::Request`]s, so building a request
    /// never parses it again.
    uri: http::Uri,
}

impl PartialEq for EndpointUrl {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}

impl Eq for EndpointUrl {}

impl core::hash::Hash for EndpointUrl {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.url.hash(state);
    }
}

impl EndpointUrl {
    /// Parses and checks a URL.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let parsed = Url::parse(url).map_err(|_| Error::InvalidUrl {
            reason: "not an absolute url",
        })?;
        Self::from_url(parsed)
    }

    /// Checks an already parsed URL.
    pub fn from_url(url: Url) -> Result<Self, Error> {
        if url.fragment().is_some() {
            return Err(Error::InvalidUrl {
                reason: "an endpoint url must not have a fragment (rfc 6749 section 3.1)",
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::InvalidUrl {
                reason: "an endpoint url must not carry a user name or password",
            });
        }
        match url.scheme() {
            "https" if url.host().is_some() => {}
            "http" if is_loopback(&url) => {}
            "http" | "https" => {
                // The query is left out of the error: it may carry a key.
                let mut shown = url;
                shown.set_query(None);
                return Err(Error::InsecureUrl {
                    url: shown.to_string(),
                });
            }
            _ => {
                return Err(Error::InvalidUrl {
                    reason: "the scheme must be https (or http for loopback)",
                });
            }
        }
        let uri = url.as_str().parse().map_err(|_| Error::InvalidUrl {
            reason: "not a valid http request uri",
        })?;
        Ok(EndpointUrl { url, uri })
    }

    /// The URL as an [`http::Uri`], for building requests.
    pub(crate) fn uri(&self) -> &http::Uri {
        &self.uri
    }

    /// The URL.
    pub fn as_url(&self) -> &Url {
        &self.url
    }

    /// The URL as a string.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EndpointUrl({:?})", self.url.as_str())
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

impl core::str::FromStr for EndpointUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self, Error> {
        EndpointUrl::parse(url)
    }
}

impl TryFrom<Url> for EndpointUrl {
    type Error = Error;

    fn try_from(url: Url) -> Result<Self, Error> {
        EndpointUrl::from_url(url)
    }
}

/// The OpenID Connect well-known suffix (OIDC Discovery §4.1).
const OPENID_WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// The RFC 8414 well-known segment (RFC 8414 §3.1, §7.3).
const OAUTH_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

/// An issuer identifier (RFC 8414 §2, OIDC Discovery §3): the URL that names
/// an authorization server or OpenID provider.
///
/// It is kept **exactly as given**, because issuers are compared as strings
/// (RFC 8414 §3.3, RFC 9207 §2.4, OIDC Core §3.1.3.7): `https://as.example.com`
/// and `https://as.example.com/` are two different issuers, and so are
/// `https://AS.example.com` and `https://as.example.com`.
///
/// [`Issuer::new`] accepts an absolute URL that starts with `https://` (or
/// `http://` to a loopback host: `127.0.0.0/8`, `[::1]`, `localhost`, for
/// development), has a host, and has no query, fragment, user name or
/// password (RFC 8414 §2). Whitespace, control characters, backslashes and
/// `.` or `..` path segments (`/a/../b`, `/./`, `/%2e%2e/`) are refused too,
/// so the string kept is the URL that is fetched.
///
/// ```
/// use grantflow::Issuer;
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let issuer = Issuer::new("https://example.com/issuer1")?;
/// assert_eq!(
///     issuer.openid_configuration_url()?.as_str(),
///     "https://example.com/issuer1/.well-known/openid-configuration"
/// );
/// assert_eq!(
///     issuer.oauth_metadata_url()?.as_str(),
///     "https://example.com/.well-known/oauth-authorization-server/issuer1"
/// );
/// assert!(Issuer::new("http://as.example.com").is_err());
/// assert!(Issuer::new("https://as.example.com/?tenant=a").is_err());
/// assert!(Issuer::new("https://as.example.com/a/../b").is_err());
/// # Ok(())
/// # }
/// ```
///
/// Serializes as its string; deserializing runs the checks of [`Issuer::new`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Issuer(String);

impl Issuer {
    /// Checks and keeps an issuer identifier, byte for byte.
    ///
    /// Fails with [`Error::InsecureUrl`] for `http` to a host other than
    /// loopback, and with [`Error::InvalidIssuer`] for anything else wrong.
    pub fn new(issuer: impl Into<String>) -> Result<Issuer, Error> {
        let issuer = Issuer(issuer.into());
        issuer.parse()?;
        // Both well-known URLs must build, so that computing them later
        // cannot fail for an issuer that was accepted.
        issuer.openid_configuration_url()?;
        issuer.oauth_metadata_url()?;
        Ok(issuer)
    }

    /// The issuer identifier, exactly as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The OpenID Connect configuration URL (OIDC Discovery §4.1): the issuer
    /// with any terminating `/` removed, then
    /// `/.well-known/openid-configuration`.
    ///
    /// Cannot fail for an `Issuer` built by [`Issuer::new`] (which checks
    /// this); the `Result` is there so no panic is ever needed.
    pub fn openid_configuration_url(&self) -> Result<EndpointUrl, Error> {
        let base = self.0.trim_end_matches('/');
        let mut url = String::with_capacity(base.len() + OPENID_WELL_KNOWN.len());
        url.push_str(base);
        url.push_str(OPENID_WELL_KNOWN);
        EndpointUrl::parse(&url)
    }

    /// The RFC 8414 metadata URL (RFC 8414 §3.1): the well-known segment
    /// `/.well-known/oauth-authorization-server` inserted between the host
    /// (and port) and the issuer's path. An issuer without a path, or with
    /// the path `/`, gets nothing appended.
    ///
    /// A trailing `/` on a longer path is kept as it is
    /// (`https://example.com/tenant/` gives
    /// `https://example.com/.well-known/oauth-authorization-server/tenant/`):
    /// RFC 8414 §3.1 inserts the segment without otherwise touching the path,
    /// and the two issuers are different identifiers, so they may well have
    /// different documents.
    ///
    /// Cannot fail for an `Issuer` built by [`Issuer::new`] (which checks
    /// this); the `Result` is there so no panic is ever needed.
    pub fn oauth_metadata_url(&self) -> Result<EndpointUrl, Error> {
        let mut url = self.parse()?;
        let path = match url.path() {
            "/" | "" => "",
            path => path,
        };
        let mut well_known = String::with_capacity(OAUTH_WELL_KNOWN.len() + path.len());
        well_known.push_str(OAUTH_WELL_KNOWN);
        well_known.push_str(path);
        url.set_path(&well_known);
        EndpointUrl::from_url(url)
    }

    /// Checks the identifier and returns it parsed (normalised by the `url`
    /// crate: used to build requests, never to compare issuers).
    fn parse(&self) -> Result<Url, Error> {
        let issuer = self.0.as_str();
        if issuer
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(invalid_issuer(
                "an issuer must not contain whitespace, control characters or backslashes",
            ));
        }
        let scheme_len = if starts_with_ignore_case(issuer, "https://") {
            "https://".len()
        } else if starts_with_ignore_case(issuer, "http://") {
            "http://".len()
        } else {
            return Err(invalid_issuer(
                "an issuer must start with https:// (or http:// for loopback)",
            ));
        };
        // `https:///x` would be parsed as host `x`: the string kept would
        // not be the URL fetched.
        if issuer
            .get(scheme_len..)
            .is_none_or(|rest| rest.is_empty() || rest.starts_with('/'))
        {
            return Err(invalid_issuer("an issuer must have a host"));
        }
        // `https://op.example.com/a/../b` would be fetched as
        // `https://op.example.com/b`: the string kept would not be the URL
        // fetched, and two spellings would name one document.
        if issuer.get(scheme_len..).is_some_and(has_dot_segment) {
            return Err(invalid_issuer(
                "an issuer must not have a . or .. path segment (percent-encoded or not)",
            ));
        }
        let url = Url::parse(issuer).map_err(|_| invalid_issuer("not an absolute url"))?;
        if url.query().is_some() {
            return Err(invalid_issuer(
                "an issuer must not have a query (rfc 8414 section 2)",
            ));
        }
        if url.fragment().is_some() {
            return Err(invalid_issuer(
                "an issuer must not have a fragment (rfc 8414 section 2)",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid_issuer(
                "an issuer must not carry a user name or password",
            ));
        }
        // The scheme and loopback rules of endpoints, reported as an issuer
        // problem (an `http` issuer elsewhere stays `InsecureUrl`).
        EndpointUrl::from_url(url.clone()).map_err(|error| match error {
            Error::InvalidUrl { reason } => Error::InvalidIssuer { reason },
            other => other,
        })?;
        Ok(url)
    }
}

fn invalid_issuer(reason: &'static str) -> Error {
    Error::InvalidIssuer { reason }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Whether the path of `after_scheme` (a URL after its `scheme://`: the
/// authority, then the path up to any `?` or `#`) has a segment that URL
/// parsers remove (RFC 3986 §5.2.4, WHATWG URL): `.` or `..`, with either
/// dot possibly written `%2e` or `%2E`.
fn has_dot_segment(after_scheme: &str) -> bool {
    let end = after_scheme.find(['?', '#']).unwrap_or(after_scheme.len());
    let Some(path) = after_scheme
        .get(..end)
        .and_then(|rest| rest.find('/').and_then(|start| rest.get(start..)))
    else {
        return false;
    };
    path.split('/').any(|segment| {
        let dots = segment.to_ascii_lowercase().replace("%2e", ".");
        dots == "." || dots == ".."
    })
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Issuer({:?})", self.0)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Issuer {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl core::str::FromStr for Issuer {
    type Err = Error;

    fn from_str(issuer: &str) -> Result<Self, Error> {
        Issuer::new(issuer)
    }
}

impl serde::Serialize for Issuer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Issuer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let issuer = String::deserialize(deserializer)?;
        Issuer::new(issuer).map_err(serde::de::Error::custom)
    }
}

/// A redirection URI (RFC 6749 §3.1.2): where the authorization server sends
/// the user back with the code.
///
/// [`RedirectUri::new`] accepts, as RFC 6749 §3.1.2, RFC 9700 §2.1 and RFC
/// 8252 §7 (native apps) want:
///
/// - an absolute URI without a fragment (RFC 6749 §3.1.2);
/// - `https://` with a host, for web applications;
/// - `http://` only to a loopback host (`127.0.0.0/8`, `[::1]`, `localhost`),
///   for native apps listening on a local port (RFC 8252 §7.3; any port);
/// - a private-use scheme with a dot, in reverse domain name form such as
///   `com.example.app:/oauth2redirect` (RFC 8252 §7.1). A scheme without a
///   dot (`myapp:`, `javascript:`, `data:`, `file:`) is refused.
///
/// Whitespace, control characters and backslashes are refused too, and
/// `http(s)` must be followed by `//` and a host: URL parsers drop or repair
/// those, so the string kept would not be the URI the browser goes to.
///
/// The string is kept **byte for byte**: the authorization request sends it,
/// and the token request repeats it exactly (RFC 6749 §4.1.3); servers
/// compare it with the registered one as a string (RFC 9700 §2.1).
///
/// ```
/// use grantflow::RedirectUri;
///
/// # fn main() -> Result<(), grantflow::Error> {
/// let redirect = RedirectUri::new("https://app.example.com/callback")?;
/// assert_eq!(redirect.as_str(), "https://app.example.com/callback");
/// assert!(RedirectUri::new("http://127.0.0.1:49152/cb").is_ok());
/// assert!(RedirectUri::new("com.example.app:/oauth2redirect").is_ok());
/// assert!(RedirectUri::new("http://app.example.com/callback").is_err());
/// assert!(RedirectUri::new("http://localhost.evil.com/cb").is_err());
/// assert!(RedirectUri::new("https://app.example.com/cb#top").is_err());
/// assert!(RedirectUri::new("myapp:/cb").is_err());
/// # Ok(())
/// # }
/// ```
///
/// Serializes as its string; deserializing runs the checks of
/// [`RedirectUri::new`] again, so a tampered stored value is refused.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks and keeps a redirect URI, byte for byte. Fails with
    /// [`Error::InvalidRedirectUri`] saying what is wrong.
    pub fn new(uri: impl Into<String>) -> Result<RedirectUri, Error> {
        let uri = uri.into();
        check_redirect_uri(&uri)?;
        Ok(RedirectUri(uri))
    }

    /// The redirect URI, exactly as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What [`Client::sign_in`](crate::Client::sign_in) and
/// [`Client::authorize`](crate::Client::authorize) take as the redirect
/// URI: a [`RedirectUri`] checked once (kept, e.g. in the app's state, and
/// passed by reference on every login, it is not checked again), or a
/// string, checked as [`RedirectUri::new`] checks it.
pub trait IntoRedirectUri {
    /// The checked redirect URI, or [`Error::InvalidRedirectUri`].
    fn into_redirect_uri(self) -> Result<RedirectUri, Error>;
}

impl IntoRedirectUri for RedirectUri {
    fn into_redirect_uri(self) -> Result<RedirectUri, Error> {
        Ok(self)
    }
}

impl IntoRedirectUri for &RedirectUri {
    fn into_redirect_uri(self) -> Result<RedirectUri, Error> {
        Ok(self.clone())
    }
}

impl IntoRedirectUri for &str {
    fn into_redirect_uri(self) -> Result<RedirectUri, Error> {
        RedirectUri::new(self)
    }
}

impl IntoRedirectUri for String {
    fn into_redirect_uri(self) -> Result<RedirectUri, Error> {
        RedirectUri::new(self)
    }
}

impl IntoRedirectUri for &String {
    fn into_redirect_uri(self) -> Result<RedirectUri, Error> {
        RedirectUri::new(self.as_str())
    }
}

impl IntoRedirectUri for std::borrow::Cow<'_, str> {
    fn into_redirect_uri(self) -> Result<RedirectUri, Error> {
        RedirectUri::new(self.into_owned())
    }
}

/// The checks of [`RedirectUri::new`].
fn check_redirect_uri(uri: &str) -> Result<(), Error> {
    let invalid = |reason| Err(Error::InvalidRedirectUri { reason });
    if uri
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return invalid(
            "a redirect uri must not contain whitespace, control characters or backslashes",
        );
    }
    let Ok(url) = Url::parse(uri) else {
        return invalid("not an absolute url");
    };
    if url.fragment().is_some() {
        return invalid("it has a fragment");
    }
    match url.scheme() {
        "http" | "https" => {
            // `https:/cb` and `https:///cb` parse as `https://cb/`.
            let after_scheme = uri.get(url.scheme().len() + 1..).unwrap_or_default();
            let has_authority = after_scheme
                .strip_prefix("//")
                .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
            if !has_authority {
                return invalid("http and https redirect uris need // and a host");
            }
            if url.scheme() == "http" && !is_loopback(&url) {
                return invalid("http is allowed for loopback only");
            }
        }
        // RFC 8252 §7.1: a private-use scheme is a reverse domain name.
        scheme if scheme.contains('.') => {}
        _ => {
            return invalid(
                "the scheme must be https, http to loopback, or a private-use scheme with a dot (rfc 8252 section 7.1)",
            );
        }
    }
    Ok(())
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedirectUri({:?})", self.0)
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RedirectUri {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for RedirectUri {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RedirectUri {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl core::str::FromStr for RedirectUri {
    type Err = Error;

    fn from_str(uri: &str) -> Result<Self, Error> {
        RedirectUri::new(uri)
    }
}

impl TryFrom<&str> for RedirectUri {
    type Error = Error;

    fn try_from(uri: &str) -> Result<Self, Error> {
        RedirectUri::new(uri)
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = Error;

    fn try_from(uri: String) -> Result<Self, Error> {
        RedirectUri::new(uri)
    }
}

impl serde::Serialize for RedirectUri {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RedirectUri {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let uri = String::deserialize(deserializer)?;
        RedirectUri::new(uri).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        for ok in [
            "https://auth.example.com/oauth/token",
            "https://auth.example.com:8443/token?tenant=a",
            "http://127.0.0.1/token",
            "http://127.255.0.9:9000/token",
            "http://[::1]:8080/token",
            "http://localhost:3000/token",
            "http://LOCALHOST/token",
        ] {
            assert!(EndpointUrl::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_plain_http_elsewhere() {
        for bad in [
            "http://auth.example.com/token",
            "http://10.0.0.1/token",
            "http://[::2]/token",
            "http://localhost.example.com/token",
            "http://127.0.0.1.example.com/token",
        ] {
            match EndpointUrl::parse(bad) {
                Err(Error::InsecureUrl { url }) => assert!(url.starts_with("http://")),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_fragments_credentials_other_schemes_and_garbage() {
        for bad in [
            "https://auth.example.com/token#frag",
            "https://user:pass@auth.example.com/token",
            "https://user@auth.example.com/token",
            "ftp://auth.example.com/token",
            "javascript:alert(1)",
            "/relative/token",
            "",
            "https://",
        ] {
            assert!(
                matches!(EndpointUrl::parse(bad), Err(Error::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn insecure_url_error_leaves_the_query_out() {
        match EndpointUrl::parse("http://as.example.com/token?api_key=hunter2") {
            Err(Error::InsecureUrl { url }) => assert_eq!(url, "http://as.example.com/token"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn insecure_url_error_does_not_leak_credentials() {
        // Credentials are refused before the scheme check, so the URL (which
        // would carry them) is never echoed in an error.
        let error = EndpointUrl::parse("http://user:hunter2@example.com/").unwrap_err();
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn issuers_with_dot_segments_are_refused() {
        for bad in [
            "https://op.example.com/a/../b",
            "https://op.example.com/a/./b",
            "https://op.example.com/./",
            "https://op.example.com/..",
            "https://op.example.com/.",
            "https://op.example.com/a/%2e%2e/b",
            "https://op.example.com/a/%2E%2E/b",
            "https://op.example.com/a/.%2e/b",
            "https://op.example.com/a/%2e./b",
            "https://op.example.com/a/%2e/b",
            "http://127.0.0.1:8080/tenant/..",
        ] {
            assert!(
                matches!(Issuer::new(bad), Err(Error::InvalidIssuer { reason }) if reason.contains(". or ..")),
                "{bad}"
            );
        }
        // Dots inside a segment, and more than two, are ordinary characters.
        for ok in [
            "https://op.example.com/a.b/c..d",
            "https://op.example.com/.well-known-ish",
            "https://op.example.com/.../x",
            "https://op.example.com/%2e%2e%2e",
            "https://op.example.com./tenant",
        ] {
            let issuer = Issuer::new(ok).unwrap();
            assert_eq!(issuer.as_str(), ok);
        }
    }

    #[test]
    fn redirect_uris_are_checked_and_kept_byte_for_byte() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?tenant=a%20b",
            "HTTPS://App.Example.com:8443/cb",
            "http://127.0.0.1:49152/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect/example-provider",
            "com.example.app://cb",
        ] {
            let uri = RedirectUri::new(ok).unwrap();
            assert_eq!(uri.as_str(), ok);
            assert_eq!(uri.to_string(), ok);
        }
        for (bad, reason) in [
            (
                "http://app.example.com/cb",
                "http is allowed for loopback only",
            ),
            (
                "http://localhost.evil.com/cb",
                "http is allowed for loopback only",
            ),
            (
                "http://127.0.0.1.evil.com/cb",
                "http is allowed for loopback only",
            ),
            ("https://app.example.com/cb#frag", "it has a fragment"),
            ("com.example.app:/cb#", "it has a fragment"),
            ("/relative", "not an absolute url"),
            ("", "not an absolute url"),
            (
                "https:/app.example.com/cb",
                "http and https redirect uris need // and a host",
            ),
            (
                "https:///app.example.com/cb",
                "http and https redirect uris need // and a host",
            ),
        ] {
            assert!(
                matches!(RedirectUri::new(bad), Err(Error::InvalidRedirectUri { reason: r }) if r == reason),
                "{bad}: {:?}",
                RedirectUri::new(bad)
            );
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "myapp:/cb",
            "https://app.example.com/c b",
            "https://app.example.com/c\tb",
            " https://app.example.com/cb",
            "https://app.example.com\\@evil.com/cb",
        ] {
            assert!(
                matches!(RedirectUri::new(bad), Err(Error::InvalidRedirectUri { .. })),
                "{bad}"
            );
        }
    }
}
