//! Endpoint URLs that are safe to send credentials to.
//!
//! RFC 6749 §3.1, §3.2 and §10.9 (and RFC 9700 §2.6) want TLS on every
//! endpoint that sees a credential. [`EndpointUrl`] is a URL that passed those
//! checks: the scheme is `https`, or `http` to a loopback host (`127.0.0.0/8`,
//! `[::1]`, `localhost`) for local development and tests; there is no
//! fragment (RFC 6749 §3.1) and no user name or password in the URL.

use core::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use crate::error::Error;

/// A URL the client may send requests and credentials to. See the
/// [module docs](self).
///
/// ```
/// use grantflow::EndpointUrl;
///
/// assert!(EndpointUrl::parse("https://auth.example.com/token").is_ok());
/// assert!(EndpointUrl::parse("http://127.0.0.1:8080/token").is_ok());
/// assert!(EndpointUrl::parse("http://auth.example.com/token").is_err());
/// ```
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
}
