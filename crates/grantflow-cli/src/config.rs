//! Profiles: named sets of defaults in a TOML file
//! (`~/.config/grantflow/profiles.toml`, or `--config FILE`), so that
//! `grantflow token --profile work` needs nothing else.
//!
//! ```toml
//! [work]
//! issuer = "https://login.example.com"
//! client_id = "my-service"
//! client_secret = "env:WORK_CLIENT_SECRET"   # or "file:/path/to/secret"
//! auth = "basic"                             # none, basic, post, private_key_jwt, client_secret_jwt
//! grant = "client_credentials"               # authorization_code, device, refresh_token
//! scope = ["api:read", "api:write"]
//! resource = ["https://api.example.com"]
//! audience = "https://api.example.com"
//! ```
//!
//! Every key is optional; an option on the command line wins over the
//! profile. Endpoints (`token_endpoint`, `authorization_endpoint`,
//! `device_authorization_endpoint`, `par_endpoint`,
//! `introspection_endpoint`, `revocation_endpoint`, `userinfo_endpoint`),
//! `private_key`, `key_id` and `port` may be set too. A literal secret in the
//! file works, with a warning: prefer `env:VAR` or `file:PATH`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::args::{AuthMethod, Grant};
use crate::error::Failure;

/// One profile of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The issuer URL.
    pub issuer: Option<String>,
    /// Endpoint overrides.
    pub token_endpoint: Option<String>,
    /// See [`crate::args::ClientArgs`].
    pub authorization_endpoint: Option<String>,
    /// See [`crate::args::ClientArgs`].
    pub device_authorization_endpoint: Option<String>,
    /// See [`crate::args::ClientArgs`].
    pub par_endpoint: Option<String>,
    /// See [`crate::args::ClientArgs`].
    pub introspection_endpoint: Option<String>,
    /// See [`crate::args::ClientArgs`].
    pub revocation_endpoint: Option<String>,
    /// See [`crate::args::ClientArgs`].
    pub userinfo_endpoint: Option<String>,
    /// The client ID.
    pub client_id: Option<String>,
    /// The client authentication method.
    pub auth: Option<AuthMethod>,
    /// `env:VAR`, `file:PATH`, or the secret itself (with a warning).
    pub client_secret: Option<String>,
    /// PKCS#8 PEM key for private_key_jwt / DPoP.
    pub private_key: Option<PathBuf>,
    /// Its `kid`.
    pub key_id: Option<String>,
    /// The default grant of `grantflow token`.
    pub grant: Option<Grant>,
    /// Scopes to ask for.
    #[serde(default)]
    pub scope: Vec<String>,
    /// Resource indicators.
    #[serde(default)]
    pub resource: Vec<String>,
    /// The `audience` parameter.
    pub audience: Option<String>,
    /// The loopback listener's port.
    pub port: Option<u16>,
}

/// The default profiles file: `$XDG_CONFIG_HOME/grantflow/profiles.toml`,
/// else `~/.config/grantflow/profiles.toml`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("grantflow/profiles.toml"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config/grantflow/profiles.toml"))
}

/// The profile `name` of the file at `path` (or the default file).
pub fn load(path: Option<&Path>, name: &str) -> Result<Profile, Failure> {
    let path = match path {
        Some(path) => path.to_owned(),
        None => default_path().ok_or_else(|| {
            Failure::input("no profiles file: HOME is not set; pass --config FILE")
        })?,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::input(format!(
            "cannot read the profiles file {}: {e}",
            path.display()
        ))
    })?;
    let mut profiles: BTreeMap<String, Profile> = toml::from_str(&text).map_err(|e| {
        Failure::input(format!(
            "the profiles file {} is not valid: {e}",
            path.display()
        ))
    })?;
    profiles.remove(name).ok_or_else(|| {
        Failure::input(format!(
            "no profile [{name}] in {} (profiles there: {})",
            path.display(),
            profiles.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("grantflow-cli-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_profile_is_read_and_unknown_keys_or_names_are_bad_input() {
        let path = write(
            "ok",
            "[work]\nissuer = \"https://op.example.com\"\nclient_id = \"svc\"\n\
             client_secret = \"env:X\"\nauth = \"client_secret_jwt\"\ngrant = \"device\"\n\
             scope = [\"a\", \"b\"]\n[other]\n",
        );
        let profile = load(Some(&path), "work").unwrap();
        assert_eq!(profile.issuer.as_deref(), Some("https://op.example.com"));
        assert_eq!(profile.auth, Some(AuthMethod::ClientSecretJwt));
        assert_eq!(profile.grant, Some(Grant::Device));
        assert_eq!(profile.scope, ["a", "b"]);
        let missing = load(Some(&path), "nope").unwrap_err();
        assert_eq!(missing.exit_code(), 2);
        assert!(missing.to_string().contains("other, work"), "{missing}");
        std::fs::remove_file(&path).unwrap();

        let path = write("bad", "[work]\nclient_secrett = \"x\"\n");
        let error = load(Some(&path), "work").unwrap_err();
        assert!(error.to_string().contains("client_secrett"), "{error}");
        std::fs::remove_file(&path).unwrap();
    }
}
