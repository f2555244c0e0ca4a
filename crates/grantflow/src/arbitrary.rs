//! [`arbitrary::Arbitrary`] for the values a caller builds and hands to the
//! core (feature `arbitrary`, off by default), so that a program fuzzing its
//! own integration can draw grantflow values from the fuzzer's bytes.
//!
//! Every value is built through the public constructor a caller would use
//! ([`Scope::new`], [`EndpointUrl::parse`], [`Issuer::new`],
//! [`RedirectUri::new`], [`TokenSet::new`] and its `with_*` methods, …):
//! a validated type is generated from pieces that make it valid (a scope
//! from the RFC 6749 §3.3 characters, an `https` or loopback `http` URL from
//! a host and path segments), then checked by its constructor. None is made
//! around its checks; should a constructor refuse one, the draw fails with
//! [`arbitrary::Error::IncorrectFormat`] rather than yield an unchecked value.
//!
//! [`ClientAuth`] is drawn among the methods that need no key (`None`,
//! `client_secret_basic`, `client_secret_post`): the JWT methods need a
//! signer and a generator, which the caller brings.
//!
//! ```
//! use arbitrary::{Arbitrary, Unstructured};
//! use grantflow::{EndpointUrl, Issuer, RedirectUri, Scope};
//!
//! let bytes: Vec<u8> = (0..=255).collect();
//! let mut u = Unstructured::new(&bytes);
//! let issuer = Issuer::arbitrary(&mut u).unwrap();
//! assert!(Issuer::new(issuer.as_str()).is_ok());
//! let endpoint = EndpointUrl::arbitrary(&mut u).unwrap();
//! assert!(EndpointUrl::parse(endpoint.as_str()).is_ok());
//! let redirect = RedirectUri::arbitrary(&mut u).unwrap();
//! assert!(RedirectUri::new(redirect.as_str()).is_ok());
//! let scope = Scope::arbitrary(&mut u).unwrap();
//! assert!(Scope::new(scope.as_str()).is_ok());
//! ```

use ::arbitrary::{Arbitrary, Error as ArbitraryError, Result, Unstructured};
use serde_json::Value;

use crate::{
    AccessToken, Algorithm, ClientAuth, ClientId, ClientSecret, EndpointUrl, Endpoints, Identity,
    Issuer, LogoutOptions, PkceMethod, RawIdToken, RedirectUri, RefreshToken, Scope, TokenSet,
    TokenType, TokenTypeHint, UnixTime,
};

/// Lower-case letters and digits: host labels.
const LABEL: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// RFC 3986 §2.3 unreserved characters: path segments and query values.
const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
/// The token characters of RFC 6750 §2.1 (`b64token`), for opaque tokens.
const TOKEN: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
/// Top-level domains the generated hosts end in.
const TLDS: [&str; 4] = ["com", "org", "example", "test"];
/// Loopback hosts `http` is allowed to (RFC 8252 §7.3).
const LOOPBACK: [&str; 4] = ["127.0.0.1", "localhost", "[::1]", "127.1.2.3"];
/// The token response members a [`TokenSet`] types: never drawn for `extra`.
const KNOWN_MEMBERS: [&str; 8] = [
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "scope",
    "id_token",
    "error",
    "version",
];

/// A string of `min..=max` characters of `alphabet`.
fn word(u: &mut Unstructured<'_>, alphabet: &[u8], min: usize, max: usize) -> Result<String> {
    let len = u.int_in_range(min..=max)?;
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(char::from(*u.choose(alphabet)?));
    }
    Ok(out)
}

/// A DNS name under one of [`TLDS`]: one to three labels.
fn domain(u: &mut Unstructured<'_>) -> Result<String> {
    let labels = u.int_in_range(1..=3)?;
    let mut host = String::new();
    for _ in 0..labels {
        host.push_str(&word(u, LABEL, 1, 12)?);
        host.push('.');
    }
    host.push_str(u.choose(&TLDS)?);
    Ok(host)
}

/// `https://` and a host, or `http://` and a loopback host, with or without
/// a port.
fn origin(u: &mut Unstructured<'_>) -> Result<String> {
    let mut origin = if u.ratio(3, 4)? {
        format!("https://{}", domain(u)?)
    } else {
        format!("http://{}", u.choose(&LOOPBACK)?)
    };
    if u.ratio(1, 4)? {
        let port: u16 = u.int_in_range(1..=u16::MAX)?;
        origin.push_str(&format!(":{port}"));
    }
    Ok(origin)
}

/// Zero to four `/`-led path segments of unreserved characters, none of them
/// `.` or `..` (which URL parsers remove).
fn path(u: &mut Unstructured<'_>) -> Result<String> {
    let segments = u.int_in_range(0..=4)?;
    let mut path = String::new();
    for _ in 0..segments {
        let mut segment = word(u, UNRESERVED, 1, 12)?;
        if segment.bytes().all(|b| b == b'.') {
            segment.insert(0, 'x');
        }
        path.push('/');
        path.push_str(&segment);
    }
    Ok(path)
}

/// An optional query of one or two `x-`-prefixed names (so it never names
/// a parameter a flow adds) with unreserved values.
fn query(u: &mut Unstructured<'_>) -> Result<String> {
    if !u.ratio(1, 4)? {
        return Ok(String::new());
    }
    let pairs = u.int_in_range(1..=2)?;
    let mut query = String::new();
    for i in 0..pairs {
        query.push(if i == 0 { '?' } else { '&' });
        query.push_str("x-");
        query.push_str(&word(u, LABEL, 1, 8)?);
        query.push('=');
        query.push_str(&word(u, UNRESERVED, 0, 12)?);
    }
    Ok(query)
}

/// A constructor's refusal, as a failed draw: never an unchecked value.
fn checked<T, E>(value: core::result::Result<T, E>) -> Result<T> {
    value.map_err(|_| ArbitraryError::IncorrectFormat)
}

/// A non-empty opaque token of [`TOKEN`] characters.
fn opaque(u: &mut Unstructured<'_>) -> Result<String> {
    word(u, TOKEN, 1, 64)
}

impl<'a> Arbitrary<'a> for UnixTime {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(UnixTime::from_secs(u64::arbitrary(u)?))
    }

    fn size_hint(depth: usize) -> (usize, Option<usize>) {
        u64::size_hint(depth)
    }
}

impl<'a> Arbitrary<'a> for Algorithm {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        u.choose(&Algorithm::ALL).copied()
    }
}

impl<'a> Arbitrary<'a> for PkceMethod {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        u.choose(&[PkceMethod::S256, PkceMethod::Plain]).copied()
    }
}

impl<'a> Arbitrary<'a> for ClientId {
    /// Any string: a client id is whatever the server issued.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(ClientId::new(String::arbitrary(u)?))
    }
}

impl<'a> Arbitrary<'a> for ClientSecret {
    /// Any string (a secret of 32 bytes or more also suits
    /// `client_secret_jwt`, RFC 7518 §3.2).
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(ClientSecret::new(String::arbitrary(u)?))
    }
}

impl<'a> Arbitrary<'a> for AccessToken {
    /// A non-empty token of RFC 6750 §2.1 characters.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(AccessToken::new(opaque(u)?))
    }
}

impl<'a> Arbitrary<'a> for RefreshToken {
    /// A non-empty token of RFC 6750 §2.1 characters.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(RefreshToken::new(opaque(u)?))
    }
}

impl<'a> Arbitrary<'a> for RawIdToken {
    /// Three base64url segments: the shape of a compact JWS, not a valid
    /// one (a `RawIdToken` is unvalidated by definition).
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let b64url = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let segments = [
            word(u, b64url, 2, 40)?,
            word(u, b64url, 2, 80)?,
            word(u, b64url, 2, 86)?,
        ];
        Ok(RawIdToken::new(segments.join(".")))
    }
}

impl<'a> Arbitrary<'a> for Scope {
    /// One to 24 characters of the RFC 6749 §3.3 grammar (`%x21 / %x23-5B /
    /// %x5D-7E`), or one of the common OpenID scopes.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        if u.ratio(1, 3)? {
            let common = ["openid", "profile", "email", "offline_access", "api:read"];
            return checked(Scope::new(*u.choose(&common)?));
        }
        let grammar: Vec<u8> = (0x21..=0x7e)
            .filter(|b| *b != b'"' && *b != b'\\')
            .collect();
        checked(Scope::new(word(u, &grammar, 1, 24)?))
    }
}

impl<'a> Arbitrary<'a> for EndpointUrl {
    /// `https` to a DNS name or `http` to loopback, a path, maybe a port and
    /// a query; checked by [`EndpointUrl::parse`].
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let url = format!("{}{}{}", origin(u)?, path(u)?, query(u)?);
        checked(EndpointUrl::parse(&url))
    }
}

impl<'a> Arbitrary<'a> for Issuer {
    /// `https` to a DNS name or `http` to loopback, maybe a port and a path
    /// (no query, fragment or dot segment); checked by [`Issuer::new`].
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut issuer = format!("{}{}", origin(u)?, path(u)?);
        if u.ratio(1, 8)? {
            issuer.push('/');
        }
        checked(Issuer::new(issuer))
    }
}

impl<'a> Arbitrary<'a> for RedirectUri {
    /// An `https` or loopback `http` URL with a path and maybe a query, or a
    /// private-use reverse-domain scheme (RFC 8252 §7.1); checked by
    /// [`RedirectUri::new`].
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let uri = if u.ratio(1, 4)? {
            let scheme = format!("{}.{}", u.choose(&TLDS)?, word(u, LABEL, 1, 10)?);
            format!("{scheme}:/{}", word(u, UNRESERVED, 1, 12)?)
        } else {
            let mut path = path(u)?;
            if path.is_empty() {
                path.push_str("/callback");
            }
            format!("{}{path}{}", origin(u)?, query(u)?)
        };
        checked(RedirectUri::new(uri))
    }
}

impl<'a> Arbitrary<'a> for ClientAuth {
    /// A public client, `client_secret_basic` or `client_secret_post` (the
    /// JWT methods need a signer and a generator from the caller).
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=2)? {
            0 => ClientAuth::None,
            1 => ClientAuth::ClientSecretBasic(ClientSecret::arbitrary(u)?),
            _ => ClientAuth::ClientSecretPost(ClientSecret::arbitrary(u)?),
        })
    }
}

impl<'a> Arbitrary<'a> for Endpoints {
    /// Each endpoint present or not, each an arbitrary [`EndpointUrl`].
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut endpoints = Endpoints::default();
        for slot in [
            &mut endpoints.authorization,
            &mut endpoints.token,
            &mut endpoints.userinfo,
            &mut endpoints.revocation,
            &mut endpoints.introspection,
            &mut endpoints.device_authorization,
            &mut endpoints.pushed_authorization_request,
            &mut endpoints.end_session,
        ] {
            *slot = Option::<EndpointUrl>::arbitrary(u)?;
        }
        Ok(endpoints)
    }
}

impl<'a> Arbitrary<'a> for TokenType {
    /// `Bearer`, `DPoP`, or another type as a server might spell it (read
    /// through [`TokenType::from_wire`], so `bearer` is `Bearer`).
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=3)? {
            0 => TokenType::Bearer,
            1 => TokenType::DPoP,
            _ => TokenType::from_wire(&word(u, UNRESERVED, 1, 12)?),
        })
    }
}

impl<'a> Arbitrary<'a> for TokenTypeHint {
    /// `access_token`, `refresh_token`, or another hint of RFC 6749
    /// `token_type_hint` characters.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=2)? {
            0 => TokenTypeHint::AccessToken,
            1 => TokenTypeHint::RefreshToken,
            _ => TokenTypeHint::Other(word(u, UNRESERVED, 1, 20)?),
        })
    }
}

impl<'a> Arbitrary<'a> for TokenSet {
    /// Built with [`TokenSet::new`] and the `with_*` methods: a non-empty
    /// access token, maybe an expiry, a refresh token, scopes (possibly an
    /// empty list), an ID token of JWS shape and up to three `extra` members
    /// (never a member the token set types).
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut tokens = TokenSet::new(
            AccessToken::arbitrary(u)?,
            TokenType::arbitrary(u)?,
            UnixTime::arbitrary(u)?,
        );
        if let Some(expires_in) = Option::<u64>::arbitrary(u)? {
            tokens = tokens.with_expires_in(expires_in);
        }
        if let Some(refresh) = Option::<RefreshToken>::arbitrary(u)? {
            tokens = tokens.with_refresh_token(refresh);
        }
        if u.arbitrary()? {
            let count = u.int_in_range(0..=4)?;
            let scopes = (0..count)
                .map(|_| Scope::arbitrary(u))
                .collect::<Result<Vec<_>>>()?;
            tokens = tokens.with_scopes(scopes);
        }
        if let Some(id_token) = Option::<RawIdToken>::arbitrary(u)? {
            tokens = tokens.with_id_token(id_token);
        }
        for _ in 0..u.int_in_range(0..=3)? {
            let name = word(u, LABEL, 1, 16)?;
            if KNOWN_MEMBERS.contains(&name.as_str()) {
                continue;
            }
            let value = match u.int_in_range(0..=3)? {
                0 => Value::Null,
                1 => Value::Bool(u.arbitrary()?),
                2 => Value::from(u64::arbitrary(u)?),
                _ => Value::String(String::arbitrary(u)?),
            };
            tokens = tokens.with_extra(name, value);
        }
        Ok(tokens)
    }
}

impl<'a> Arbitrary<'a> for Identity {
    /// A valid [`Issuer`]'s identifier, a non-empty subject, one to three
    /// audiences, maybe `azp` (one of the audiences), `auth_time` and `iat`.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let issuer = Issuer::arbitrary(u)?;
        let subject = word(u, UNRESERVED, 1, 32)?;
        let count = u.int_in_range(1..=3)?;
        let audience = (0..count)
            .map(|_| word(u, UNRESERVED, 1, 24))
            .collect::<Result<Vec<_>>>()?;
        let azp = if u.arbitrary()? {
            Some(u.choose(&audience)?.clone())
        } else {
            None
        };
        let mut identity = Identity::new(issuer.as_str(), subject, audience);
        if let Some(azp) = azp {
            identity = identity.with_authorized_party(azp);
        }
        if let Some(auth_time) = Option::<UnixTime>::arbitrary(u)? {
            identity = identity.with_auth_time(auth_time);
        }
        identity.issued_at = Option::<UnixTime>::arbitrary(u)?;
        Ok(identity)
    }
}

impl<'a> Arbitrary<'a> for LogoutOptions {
    /// Maybe a post-logout [`RedirectUri`], a `state` and a `logout_hint`.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut options = LogoutOptions::new();
        if let Some(uri) = Option::<RedirectUri>::arbitrary(u)? {
            options = options.post_logout_redirect_uri(uri);
        }
        if u.arbitrary()? {
            options = options.state(word(u, UNRESERVED, 1, 43)?);
        }
        if u.arbitrary()? {
            options = options.logout_hint(String::arbitrary(u)?);
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixed pseudo-random byte strings (xorshift from distinct seeds), so
    /// every draw below is the same on every run.
    fn inputs() -> Vec<Vec<u8>> {
        let mut all = vec![vec![0; 64], vec![0xff; 4096], (0..=255).collect()];
        for seed in 1..=64u64 {
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let bytes = (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x.to_le_bytes()[0]
                })
                .collect();
            all.push(bytes);
        }
        all
    }

    #[test]
    fn generated_values_pass_the_public_validators() {
        let (mut urls, mut issuers, mut redirects, mut scopes) = (0, 0, 0, 0);
        let mut http_loopback = false;
        let mut private_use = false;
        let mut logout_redirects = 0;
        let endpoints = Endpoints {
            end_session: Some(EndpointUrl::parse("https://op.example.com/logout").unwrap()),
            ..Endpoints::default()
        };
        let logout_client =
            crate::Client::new(ClientId::new("app"), ClientAuth::None).with_endpoints(endpoints);
        for bytes in inputs() {
            let mut u = Unstructured::new(&bytes);
            while !u.is_empty() {
                if let Ok(url) = EndpointUrl::arbitrary(&mut u) {
                    assert!(EndpointUrl::parse(url.as_str()).is_ok(), "{url}");
                    http_loopback |= url.as_str().starts_with("http://");
                    urls += 1;
                }
                if let Ok(issuer) = Issuer::arbitrary(&mut u) {
                    assert!(Issuer::new(issuer.as_str()).is_ok(), "{issuer}");
                    assert!(issuer.openid_configuration_url().is_ok());
                    issuers += 1;
                }
                if let Ok(redirect) = RedirectUri::arbitrary(&mut u) {
                    assert!(RedirectUri::new(redirect.as_str()).is_ok(), "{redirect}");
                    private_use |= !redirect.as_str().starts_with("http");
                    redirects += 1;
                }
                if let Ok(scope) = Scope::arbitrary(&mut u) {
                    assert!(Scope::new(scope.as_str()).is_ok(), "{scope}");
                    scopes += 1;
                }
                if let Ok(tokens) = TokenSet::arbitrary(&mut u) {
                    assert!(!tokens.access_token.secret().is_empty());
                    if let Some(expires_at) = tokens.expires_at {
                        assert!(expires_at >= tokens.received_at);
                    }
                    // A stored token set reads back as it was.
                    let json = serde_json::to_string(&tokens).unwrap();
                    let back: TokenSet = serde_json::from_str(&json).unwrap();
                    assert_eq!(serde_json::to_string(&back).unwrap(), json);
                }
                if let Ok(identity) = Identity::arbitrary(&mut u) {
                    assert!(Issuer::new(identity.issuer.as_str()).is_ok());
                    assert!(!identity.subject.is_empty() && !identity.audience.is_empty());
                    if let Some(azp) = &identity.authorized_party {
                        assert!(identity.audience.contains(azp));
                    }
                    let json = serde_json::to_string(&identity).unwrap();
                    assert_eq!(serde_json::from_str::<Identity>(&json).unwrap(), identity);
                }
                if let Ok(options) = LogoutOptions::arbitrary(&mut u) {
                    // The logout URL builds, and any redirect it carries is valid.
                    let url = logout_client.end_session_url(None, &options).unwrap();
                    for (name, value) in url.query_pairs() {
                        if name == "post_logout_redirect_uri" {
                            assert!(RedirectUri::new(value.as_ref()).is_ok(), "{value}");
                            logout_redirects += 1;
                        }
                    }
                }
                if let Ok(endpoints) = Endpoints::arbitrary(&mut u) {
                    for url in [&endpoints.token, &endpoints.end_session]
                        .into_iter()
                        .flatten()
                    {
                        assert!(EndpointUrl::parse(url.as_str()).is_ok());
                    }
                }
                let _ = ClientAuth::arbitrary(&mut u);
                let _ = TokenTypeHint::arbitrary(&mut u);
                let _ = ClientId::arbitrary(&mut u);
            }
        }
        // The draws did happen, and reached both kinds of URL.
        assert!(urls > 100 && issuers > 100 && redirects > 100 && scopes > 100);
        assert!(http_loopback && private_use && logout_redirects > 10);
    }

    #[test]
    fn no_bytes_still_give_valid_values() {
        // An exhausted `Unstructured` yields zeros: the smallest choices.
        let mut u = Unstructured::new(&[]);
        let url = EndpointUrl::arbitrary(&mut u).unwrap();
        assert!(EndpointUrl::parse(url.as_str()).is_ok());
        let issuer = Issuer::arbitrary(&mut u).unwrap();
        assert!(Issuer::new(issuer.as_str()).is_ok());
        let redirect = RedirectUri::arbitrary(&mut u).unwrap();
        assert!(RedirectUri::new(redirect.as_str()).is_ok());
        let scope = Scope::arbitrary(&mut u).unwrap();
        assert!(Scope::new(scope.as_str()).is_ok());
    }
}
