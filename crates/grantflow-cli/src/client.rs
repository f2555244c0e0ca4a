//! From options and profile to a [`grantflow::Client`]: discovery or explicit
//! endpoints, the client secret from wherever the user keeps it, signing keys
//! for `private_key_jwt` and DPoP.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use grantflow::rand_core::Rng as _;
use grantflow::{
    Algorithm, Client, ClientAuth, ClientId, ClientSecret, DiscoveredProvider, Discovery, DpopKey,
    Ed25519Signer, EndpointUrl, Es256Signer, Issuer, JwsSigner, SignError,
};
use grantflow_ureq::{RsaSigner, os_rng};
use serde_json::Value;

use crate::args::{AuthMethod, ClientArgs, Grant, OutputArgs, RequestArgs};
use crate::config::{self, Profile};
use crate::error::Failure;
use crate::output::Ctx;

/// The client options after the profile filled in what the command line left out.
pub struct Settings {
    /// The client options.
    pub client: ClientArgs,
    /// The request options.
    pub request: RequestArgs,
    /// The profile's grant, if any.
    pub grant: Option<Grant>,
    /// The profile's loopback port, if any.
    pub port: Option<u16>,
    /// The profile's `client_secret` (`env:VAR`, `file:PATH` or literal).
    profile_secret: Option<String>,
}

impl Settings {
    /// Merges `client` and `request` with the profile named by `--profile`.
    pub fn resolve(
        output: &OutputArgs,
        client: ClientArgs,
        request: RequestArgs,
    ) -> Result<Settings, Failure> {
        let profile = match &output.profile {
            Some(name) => config::load(output.config.as_deref(), name)?,
            None => Profile::default(),
        };
        let mut client = client;
        macro_rules! fill {
            ($($field:ident),*) => { $( if client.$field.is_none() { client.$field = profile.$field; } )* };
        }
        fill!(
            issuer,
            token_endpoint,
            authorization_endpoint,
            device_authorization_endpoint,
            par_endpoint,
            introspection_endpoint,
            revocation_endpoint,
            userinfo_endpoint,
            client_id,
            auth,
            private_key,
            key_id
        );
        let mut request = request;
        if request.scope.is_empty() {
            request.scope = profile.scope;
        }
        if request.resource.is_empty() {
            request.resource = profile.resource;
        }
        if request.audience.is_none() {
            request.audience = profile.audience;
        }
        Ok(Settings {
            client,
            request,
            grant: profile.grant,
            port: profile.port,
            profile_secret: profile.client_secret,
        })
    }

    /// The scopes asked for: every `--scope`, split on spaces.
    pub fn scopes(&self) -> Result<Vec<grantflow::Scope>, Failure> {
        self.request
            .scope
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(|s| {
                grantflow::Scope::new(s).map_err(|e| Failure::input(format!("--scope {s:?}: {e}")))
            })
            .collect()
    }

    /// The resource indicators, as absolute URIs (RFC 8707 §2).
    pub fn resources(&self) -> Result<Vec<url::Url>, Failure> {
        self.request
            .resource
            .iter()
            .map(|r| {
                url::Url::parse(r).map_err(|e| Failure::input(format!("--resource {r:?}: {e}")))
            })
            .collect()
    }
}

/// A client ready to run flows.
pub struct Built {
    /// The client: discovered endpoints and issuer with `--issuer`, and any explicit ones.
    pub client: Client,
}

/// Discovers the issuer (if given) and builds the client.
pub fn build(ctx: &Ctx, settings: &Settings) -> Result<Built, Failure> {
    let args = &settings.client;
    let client_id = args.client_id.clone().ok_or_else(|| {
        Failure::input("--client-id is required (or a profile that sets client_id)")
    })?;
    let auth = auth(ctx, settings)?;
    let mut client = match &args.issuer {
        Some(issuer) => {
            let discovered = discover(ctx, issuer, false)?;
            Client::from_provider(&discovered, ClientId::new(client_id), auth)
        }
        None => Client::new(ClientId::new(client_id), auth),
    };
    let mut endpoints = client.endpoints().clone();
    let overrides = [
        (
            &args.token_endpoint,
            &mut endpoints.token,
            "--token-endpoint",
        ),
        (
            &args.authorization_endpoint,
            &mut endpoints.authorization,
            "--authorization-endpoint",
        ),
        (
            &args.device_authorization_endpoint,
            &mut endpoints.device_authorization,
            "--device-authorization-endpoint",
        ),
        (
            &args.par_endpoint,
            &mut endpoints.pushed_authorization_request,
            "--par-endpoint",
        ),
        (
            &args.introspection_endpoint,
            &mut endpoints.introspection,
            "--introspection-endpoint",
        ),
        (
            &args.revocation_endpoint,
            &mut endpoints.revocation,
            "--revocation-endpoint",
        ),
        (
            &args.userinfo_endpoint,
            &mut endpoints.userinfo,
            "--userinfo-endpoint",
        ),
    ];
    for (given, slot, option) in overrides {
        if let Some(url) = given {
            *slot = Some(endpoint(url, option)?);
        }
    }
    client = client.with_endpoints(endpoints);
    if settings.request.dpop {
        client = client.with_dpop(dpop_key(args)?);
    }
    Ok(Built { client })
}

/// Runs discovery for `issuer`: OpenID (with its key set) or RFC 8414.
pub fn discover(ctx: &Ctx, issuer: &str, oauth: bool) -> Result<DiscoveredProvider, Failure> {
    let issuer =
        Issuer::new(issuer).map_err(|e| Failure::input(format!("issuer {issuer:?}: {e}")))?;
    let discovery = if oauth {
        Discovery::oauth(issuer).with_jwks()
    } else {
        Discovery::openid(issuer)
    };
    ctx.drive(discovery)
}

fn endpoint(url: &str, option: &str) -> Result<EndpointUrl, Failure> {
    EndpointUrl::parse(url).map_err(|e| Failure::input(format!("{option} {url:?}: {e}")))
}

/// The client authentication the options ask for.
fn auth(ctx: &Ctx, settings: &Settings) -> Result<ClientAuth, Failure> {
    let args = &settings.client;
    let has_secret_source = args.client_secret.is_some()
        || args.client_secret_env.is_some()
        || args.client_secret_file.is_some()
        || settings.profile_secret.is_some();
    let method = args.auth.unwrap_or(if has_secret_source {
        AuthMethod::Basic
    } else if args.private_key.is_some() && !settings.request.dpop {
        AuthMethod::PrivateKeyJwt
    } else {
        AuthMethod::None
    });
    Ok(match method {
        AuthMethod::None => ClientAuth::None,
        AuthMethod::Basic => ClientAuth::ClientSecretBasic(secret(ctx, settings)?),
        AuthMethod::Post => ClientAuth::ClientSecretPost(secret(ctx, settings)?),
        AuthMethod::ClientSecretJwt => {
            ClientAuth::client_secret_jwt(secret(ctx, settings)?, &mut os_rng())
                .map_err(|e| Failure::input(format!("client_secret_jwt: {e}")))?
        }
        AuthMethod::PrivateKeyJwt => {
            let path = args
                .private_key
                .as_deref()
                .ok_or_else(|| Failure::input("--auth private_key_jwt needs --private-key FILE"))?;
            let signer = load_signer(path, args.key_id.as_deref())?;
            ClientAuth::private_key_jwt(signer, &mut os_rng())
        }
    })
}

/// The client secret: `--client-secret-env`, `--client-secret-file`,
/// `--client-secret` (with a warning), the profile's, or a prompt without
/// echo when stdin is a terminal.
fn secret(ctx: &Ctx, settings: &Settings) -> Result<ClientSecret, Failure> {
    let args = &settings.client;
    if let Some(var) = &args.client_secret_env {
        return from_env(var);
    }
    if let Some(path) = &args.client_secret_file {
        return from_file(path);
    }
    if let Some(secret) = &args.client_secret {
        ctx.warn(
            "a client secret on the command line can be read by other users of this machine \
             and stays in your shell history; prefer --client-secret-env or --client-secret-file",
        );
        return Ok(ClientSecret::new(secret.clone()));
    }
    if let Some(reference) = &settings.profile_secret {
        if let Some(var) = reference.strip_prefix("env:") {
            return from_env(var);
        }
        if let Some(path) = reference.strip_prefix("file:") {
            return from_file(Path::new(path));
        }
        ctx.warn("the profile holds the client secret itself; prefer client_secret = \"env:VAR\"");
        return Ok(ClientSecret::new(reference.clone()));
    }
    if std::io::stdin().is_terminal() {
        let secret = rpassword::prompt_password("client secret: ")
            .map_err(|e| Failure::input(format!("could not read the client secret: {e}")))?;
        return Ok(ClientSecret::new(secret));
    }
    Err(Failure::input(
        "this client authentication needs a client secret: --client-secret-env VAR, \
         --client-secret-file FILE, or run in a terminal to be asked",
    ))
}

fn from_env(var: &str) -> Result<ClientSecret, Failure> {
    match std::env::var(var) {
        Ok(secret) if !secret.is_empty() => Ok(ClientSecret::new(secret)),
        _ => Err(Failure::input(format!(
            "the environment variable {var} (the client secret) is not set"
        ))),
    }
}

fn from_file(path: &Path) -> Result<ClientSecret, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::input(format!(
            "cannot read the client secret file {}: {e}",
            path.display()
        ))
    })?;
    let secret = text.lines().next().unwrap_or_default().trim_end();
    if secret.is_empty() {
        return Err(Failure::input(format!(
            "the client secret file {} is empty",
            path.display()
        )));
    }
    Ok(ClientSecret::new(secret))
}

/// A signing key of any kind the command can load.
pub enum AnySigner {
    /// P-256, ES256.
    Es256(Es256Signer),
    /// Ed25519, EdDSA.
    Ed25519(Ed25519Signer),
    /// RSA, RS256.
    Rsa(RsaSigner),
}

impl JwsSigner for AnySigner {
    fn algorithm(&self) -> Algorithm {
        match self {
            AnySigner::Es256(s) => s.algorithm(),
            AnySigner::Ed25519(s) => s.algorithm(),
            AnySigner::Rsa(s) => s.algorithm(),
        }
    }
    fn key_id(&self) -> Option<&str> {
        match self {
            AnySigner::Es256(s) => s.key_id(),
            AnySigner::Ed25519(s) => s.key_id(),
            AnySigner::Rsa(s) => s.key_id(),
        }
    }
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        match self {
            AnySigner::Es256(s) => s.sign(signing_input),
            AnySigner::Ed25519(s) => s.sign(signing_input),
            AnySigner::Rsa(s) => s.sign(signing_input),
        }
    }
    fn public_jwk(&self) -> Option<Value> {
        match self {
            AnySigner::Es256(s) => s.public_jwk(),
            AnySigner::Ed25519(s) => s.public_jwk(),
            AnySigner::Rsa(s) => s.public_jwk(),
        }
    }
}

/// Loads a PKCS#8 PEM private key: P-256, Ed25519 or RSA (RS256).
pub fn load_signer(path: &Path, kid: Option<&str>) -> Result<AnySigner, Failure> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("cannot read the key {}: {e}", path.display())))?;
    let signer = if let Ok(s) = Es256Signer::from_pkcs8_pem(&pem) {
        AnySigner::Es256(match kid {
            Some(kid) => s.with_key_id(kid),
            None => s,
        })
    } else if let Ok(s) = Ed25519Signer::from_pkcs8_pem(&pem) {
        AnySigner::Ed25519(match kid {
            Some(kid) => s.with_key_id(kid),
            None => s,
        })
    } else if let Ok(s) = RsaSigner::from_pkcs8_pem(&pem, Algorithm::Rs256) {
        AnySigner::Rsa(match kid {
            Some(kid) => s.with_key_id(kid),
            None => s,
        })
    } else {
        return Err(Failure::input(format!(
            "{} is not a PKCS#8 PEM private key of a kind this command signs with \
             (P-256, Ed25519, RSA)",
            path.display()
        )));
    };
    Ok(signer)
}

/// The DPoP key: `--private-key`, or a fresh P-256 key for this run.
fn dpop_key(args: &ClientArgs) -> Result<DpopKey, Failure> {
    let signer = match &args.private_key {
        Some(path) => load_signer(path, None)?,
        None => AnySigner::Es256(fresh_p256()?),
    };
    DpopKey::new(signer, &mut os_rng()).map_err(|e| Failure::input(format!("DPoP key: {e}")))
}

/// A fresh P-256 key from the OS generator. A random 32-byte string is a
/// valid scalar except with probability about 2^-32; try again then.
fn fresh_p256() -> Result<Es256Signer, Failure> {
    let mut rng = os_rng();
    for _ in 0..4 {
        let mut scalar = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill_bytes(scalar.as_mut());
        if let Ok(signer) = Es256Signer::from_secret_scalar(scalar.as_ref()) {
            return Ok(signer);
        }
    }
    Err(Failure::Invalid("could not generate a P-256 key".into()))
}

/// A path the token set is read from (`--token-file`, `--refresh-token-file`).
pub fn read_token_set(path: &PathBuf) -> Result<grantflow::TokenSet, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::input(format!(
            "{} is not a token set saved by grantflow --save: {e}",
            path.display()
        ))
    })
}
