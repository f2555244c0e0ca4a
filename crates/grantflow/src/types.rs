//! The shared vocabulary: identifiers, secrets and scopes.
//!
//! Public values ([`ClientId`], [`Scope`]) are plain newtypes. Secrets
//! ([`ClientSecret`], [`AccessToken`], [`RefreshToken`]) redact themselves in
//! `Debug`, have no `Display`, no derived `PartialEq` (so nobody compares them
//! in variable time by accident, RFC 9700 §4.1) and are zeroized when dropped.
//! Reading one takes an explicit `.secret()` call, which makes every use
//! visible in review.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::Error;

/// Declares a newtype around `String` holding a secret: redacted in
/// `Debug`, zeroized on drop, serialized as the bare string, no `Display`
/// and no `PartialEq`. The reader is `secret()` unless another name is given
/// (`secret_string!(Name, as_str)`).
macro_rules! secret_string {
    ($(#[$meta:meta])* $name:ident) => {
        secret_string!($(#[$meta])* $name, secret);
    };
    ($(#[$meta:meta])* $name:ident, $reader:ident) => {
        $(#[$meta])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(secret: impl Into<String>) -> Self {
                $name(secret.into())
            }

            /// The secret itself. Call this only where the value must be sent.
            pub fn $reader(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_string!(
    /// A client secret (RFC 6749 §2.3.1), held by confidential clients only.
    ///
    /// ```
    /// # use grantflow::ClientSecret;
    /// let secret = ClientSecret::new("hunter2");
    /// assert_eq!(format!("{secret:?}"), "ClientSecret(<redacted>)");
    /// assert_eq!(secret.secret(), "hunter2");
    /// ```
    ClientSecret
);

secret_string!(
    /// An access token (RFC 6749 §1.4): a bearer credential for a resource server.
    AccessToken
);

secret_string!(
    /// A refresh token (RFC 6749 §1.5): obtains new access tokens.
    RefreshToken
);

secret_string!(
    /// An ID token exactly as the token endpoint returned it: a compact JWS
    /// that has **not** been validated. Redacted in `Debug`, zeroized on drop.
    ///
    /// [`new`](Self::new) wraps one obtained elsewhere, to validate it with
    /// [`IdTokenValidator`](crate::IdTokenValidator); [`as_str`](Self::as_str)
    /// is the compact serialization (e.g. for `id_token_hint`).
    ///
    /// ```
    /// # use grantflow::RawIdToken;
    /// let raw = RawIdToken::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
    /// assert_eq!(format!("{raw:?}"), "RawIdToken(<redacted>)");
    /// assert_eq!(raw.as_str(), "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
    /// ```
    RawIdToken,
    as_str
);

/// A client identifier (RFC 6749 §2.2). Public, so it prints as itself.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Wraps a client identifier as the authorization server issued it.
    pub fn new(id: impl Into<String>) -> Self {
        ClientId(id.into())
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({:?})", self.0)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One scope token (RFC 6749 §3.3), such as `openid` or `api:read`.
///
/// A request's `scope` parameter is the space-separated list of these.
/// [`Scope::new`] checks the RFC's grammar (`1*( %x21 / %x23-5B / %x5D-7E )`:
/// printable ASCII without space, `"` or `\`), so a scope can never smuggle a
/// separator into the request.
///
/// ```
/// # use grantflow::Scope;
/// assert!(Scope::new("api:read").is_ok());
/// assert!(Scope::new("two words").is_err());
/// ```
///
/// Deserializing goes through the same check, so a stored or configured
/// scope cannot skip it:
///
/// ```
/// # use grantflow::Scope;
/// assert!(serde_json::from_str::<Scope>(r#""api:read""#).is_ok());
/// assert!(serde_json::from_str::<Scope>(r#""two words""#).is_err());
/// ```
///
/// The scopes a server *granted* ([`TokenSet::scopes`](crate::TokenSet::scopes))
/// are reported as sent, grammar or not, and a stored
/// [`TokenSet`](crate::TokenSet) reads them back the same way.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Scope(String);

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let scope = String::deserialize(deserializer)?;
        Scope::new(scope).map_err(serde::de::Error::custom)
    }
}

impl Scope {
    /// Checks `scope` against the RFC 6749 §3.3 grammar.
    pub fn new(scope: impl Into<String>) -> Result<Self, Error> {
        let scope = scope.into();
        let valid = !scope.is_empty()
            && scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if valid {
            Ok(Scope(scope))
        } else {
            Err(Error::InvalidScopeToken)
        }
    }

    /// A scope token as a server returned it. Servers are not held to the
    /// grammar (the token is data we report, never something we send).
    pub(crate) fn from_server(scope: impl Into<String>) -> Self {
        Scope(scope.into())
    }

    /// The scope token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", self.0)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Joins scopes with single spaces, as the `scope` parameter wants them.
pub(crate) fn join_scopes(scopes: &[Scope]) -> String {
    let mut out = String::with_capacity(scopes.iter().map(|s| s.0.len() + 1).sum());
    for (i, scope) in scopes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&scope.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_redact_in_debug() {
        for debug in [
            format!("{:?}", ClientSecret::new("s3cr3t")),
            format!("{:?}", AccessToken::new("s3cr3t")),
            format!("{:?}", RefreshToken::new("s3cr3t")),
            format!("{:?}", RawIdToken::new("s3cr3t")),
        ] {
            assert!(!debug.contains("s3cr3t"), "{debug}");
            assert!(debug.ends_with("(<redacted>)"), "{debug}");
        }
    }

    #[test]
    fn secrets_zeroize() {
        let mut secret = AccessToken::new("s3cr3t");
        secret.zeroize();
        assert_eq!(secret.secret(), "");
    }

    #[test]
    fn scope_grammar() {
        for ok in [
            "openid",
            "api:read",
            "https://api.example.com/.default",
            "!#[]~",
        ] {
            assert_eq!(Scope::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "a b",
            "quo\"te",
            "back\\slash",
            "tab\t",
            "caf\u{e9}",
            "new\nline",
        ] {
            assert!(
                matches!(Scope::new(bad), Err(Error::InvalidScopeToken)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn scope_deserialization_checks_the_grammar() {
        let scope: Scope = serde_json::from_str(r#""api:read""#).unwrap();
        assert_eq!(scope.as_str(), "api:read");
        for bad in [
            r#""two words""#,
            r#""""#,
            r#""caf\u00e9""#,
            r#""quo\"te""#,
            "5",
        ] {
            assert!(serde_json::from_str::<Scope>(bad).is_err(), "{bad}");
        }
        // What serializes from a checked scope reads back.
        let json = serde_json::to_string(&scope).unwrap();
        assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
    }

    #[test]
    fn raw_id_token_keeps_its_reader_and_serde_form() {
        let raw = RawIdToken::new("a.b.c");
        assert_eq!(raw.as_str(), "a.b.c");
        assert_eq!(serde_json::to_string(&raw).unwrap(), r#""a.b.c""#);
        let back: RawIdToken = serde_json::from_str(r#""a.b.c""#).unwrap();
        assert_eq!(back.as_str(), "a.b.c");
    }

    #[test]
    fn scopes_join_with_single_spaces() {
        let scopes = [Scope::new("a").unwrap(), Scope::new("b:c").unwrap()];
        assert_eq!(join_scopes(&scopes), "a b:c");
        assert_eq!(join_scopes(&[]), "");
    }
}
