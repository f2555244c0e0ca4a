//! `grantflow discover ISSUER`: the provider's metadata and signing keys
//! (OpenID Connect Discovery 1.0, RFC 8414), summarised or as JSON.

use grantflow::{DiscoveredProvider, EndpointUrl, KeyType, ProviderMetadata};
use serde_json::{Value, json};

use crate::args::{DiscoverArgs, OutputArgs};
use crate::client::discover;
use crate::error::Failure;
use crate::output::{Ctx, Summary};

/// Runs `discover`.
pub fn run(ctx: &Ctx, output: &OutputArgs, args: &DiscoverArgs) -> Result<(), Failure> {
    let issuer = match &args.issuer {
        Some(issuer) => issuer.clone(),
        None => match &output.profile {
            Some(name) => crate::config::load(output.config.as_deref(), name)?
                .issuer
                .ok_or_else(|| Failure::input(format!("profile [{name}] has no issuer")))?,
            None => return Err(Failure::input("give the ISSUER URL (or --profile NAME)")),
        },
    };
    let discovered = discover(ctx, &issuer, args.oauth)?;
    if ctx.json {
        ctx.print_json(&to_json(&discovered));
    } else {
        summary(&discovered).print();
    }
    Ok(())
}

fn url(endpoint: &Option<EndpointUrl>) -> Value {
    endpoint
        .as_ref()
        .map_or(Value::Null, |u| Value::String(u.as_str().to_owned()))
}

/// The `--json` document: `issuer`, `endpoints` (by their metadata names
/// without `_endpoint`), `supported` (the `*_supported` lists), `flags`
/// (booleans), `keys` (`kid`, `kty`, `alg`, `use` of each signing key).
pub fn to_json(discovered: &DiscoveredProvider) -> Value {
    let m: &ProviderMetadata = discovered.metadata();
    json!({
        "issuer": m.issuer.as_str(),
        "endpoints": {
            "authorization": url(&m.authorization_endpoint),
            "token": url(&m.token_endpoint),
            "userinfo": url(&m.userinfo_endpoint),
            "jwks_uri": url(&m.jwks_uri),
            "registration": url(&m.registration_endpoint),
            "revocation": url(&m.revocation_endpoint),
            "introspection": url(&m.introspection_endpoint),
            "device_authorization": url(&m.device_authorization_endpoint),
            "pushed_authorization_request": url(&m.pushed_authorization_request_endpoint),
            "end_session": url(&m.end_session_endpoint),
        },
        "supported": {
            "scopes": m.scopes_supported,
            "response_types": m.response_types_supported,
            "grant_types": m.grant_types_supported,
            "token_endpoint_auth_methods": m.token_endpoint_auth_methods_supported,
            "code_challenge_methods": m.code_challenge_methods_supported,
            "id_token_signing_alg_values": m.id_token_signing_alg_values_supported,
            "dpop_signing_alg_values": m.dpop_signing_alg_values_supported,
            "claims": m.claims_supported,
        },
        "flags": {
            "authorization_response_iss_parameter_supported": m.authorization_response_iss_parameter_supported,
            "require_pushed_authorization_requests": m.require_pushed_authorization_requests,
        },
        "keys": keys(discovered),
    })
}

fn keys(discovered: &DiscoveredProvider) -> Vec<Value> {
    discovered
        .jwks()
        .map(|set| {
            set.keys()
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.kid(),
                        "kty": key_type(k.key_type()),
                        "alg": k.alg(),
                        "use": k.key_use(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The key type as JWK names it (`kty`, and the curve for EC and OKP keys).
fn key_type(kty: KeyType) -> &'static str {
    match kty {
        KeyType::Rsa => "RSA",
        KeyType::EcP256 => "EC P-256",
        KeyType::EcP384 => "EC P-384",
        KeyType::Ed25519 => "OKP Ed25519",
        _ => "other",
    }
}

fn list(values: &Option<Vec<String>>) -> String {
    values
        .as_ref()
        .map_or_else(|| "-".to_owned(), |v| v.join(" "))
}

/// The human summary.
fn summary(discovered: &DiscoveredProvider) -> Summary {
    let m = discovered.metadata();
    let mut s = Summary::default();
    s.row("issuer", m.issuer.as_str());
    let endpoints = [
        ("authorization", &m.authorization_endpoint),
        ("token", &m.token_endpoint),
        ("userinfo", &m.userinfo_endpoint),
        ("jwks_uri", &m.jwks_uri),
        ("revocation", &m.revocation_endpoint),
        ("introspection", &m.introspection_endpoint),
        ("device", &m.device_authorization_endpoint),
        ("par", &m.pushed_authorization_request_endpoint),
        ("end session", &m.end_session_endpoint),
    ];
    for (name, endpoint) in endpoints {
        if let Some(endpoint) = endpoint {
            s.row(name, endpoint.as_str());
        }
    }
    s.row("grant types", list(&m.grant_types_supported));
    s.row("scopes", list(&m.scopes_supported));
    s.row(
        "client auth",
        list(&m.token_endpoint_auth_methods_supported),
    );
    s.row("pkce", list(&m.code_challenge_methods_supported));
    s.row(
        "id token algs",
        list(&m.id_token_signing_alg_values_supported),
    );
    s.row("dpop algs", list(&m.dpop_signing_alg_values_supported));
    s.row(
        "iss in redirect",
        if m.authorization_response_iss_parameter_supported {
            "yes (RFC 9207; checked)"
        } else {
            "no"
        },
    );
    s.row(
        "par required",
        if m.require_pushed_authorization_requests {
            "yes"
        } else {
            "no"
        },
    );
    let keys = keys(discovered);
    s.row("signing keys", keys.len().to_string());
    for key in keys {
        let field = |name: &str| {
            key.get(name)
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned()
        };
        s.row(
            "  key",
            format!("{} {} kid {}", field("kty"), field("alg"), field("kid")),
        );
    }
    s
}
