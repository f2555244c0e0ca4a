//! `ProviderMetadata::from_openid_json` and `from_json` on arbitrary
//! documents (OIDC Discovery 1.0 §3–§4, RFC 8414 §2–§3).
//!
//! Input: one byte (bits 0–2 pick the configured issuer from `ISSUERS`;
//! bit 3 reads the document under RFC 8414 instead of OpenID Connect
//! Discovery), then the document. In it, `$I` stands for the configured
//! issuer, so the fuzzer gets past the issuer check.
//!
//! Oracles, beyond "no panic": the outcome is exactly the documented one,
//! re-derived here with `serde_json` and `url`:
//!
//! - the body (a byte order mark skipped) must be a JSON object without
//!   repeated names and without a non-null `error`;
//! - `issuer` must be a string identical to the configured issuer, else
//!   `IssuerMismatch` (never `Ok`, whatever else the document holds);
//! - each endpoint is absent, `null`, or a string that is an absolute `https`
//!   URL with a host (or `http` to `127.0.0.0/8`, `[::1]` or `localhost`),
//!   without fragment, user name or password; each list absent, `null` or
//!   an array of strings; each flag absent, `null` or a boolean;
//! - under OpenID Connect, `authorization_endpoint`, `token_endpoint`,
//!   `jwks_uri`, `response_types_supported`, `subject_types_supported` and
//!   `id_token_signing_alg_values_supported` are present;
//!
//! and on success every field is the document's (flags with their
//! defaults), `extra` holds exactly the other members, and
//! `id_token_signing_algorithms` lists only algorithms the document names,
//! never `none`, without repeats. Errors are `OAuth`, `MalformedResponse`
//! (checked as for token responses: short, clean, no quoted credential),
//! `IssuerMismatch` or `InsecureUrl` (whose URL carries no query).

#![no_main]

use std::net::IpAddr;

use grantflow::{EndpointUrl, Error, Issuer, ProviderMetadata};
use grantflow_fuzz::json::{Document, is_string_array};
use grantflow_fuzz::{check_error, check_printable};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// Issuers to be configured with: plain, trailing slash, a path, loopback
/// http with a port, `localhost`.
const ISSUERS: [&str; 5] = [
    "https://op.example.com",
    "https://op.example.com/",
    "https://op.example.com/tenant/v2.0",
    "http://127.0.0.1:8080",
    "http://localhost",
];

const ENDPOINTS: [&str; 10] = [
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "device_authorization_endpoint",
    "end_session_endpoint",
    "pushed_authorization_request_endpoint",
];

const LISTS: [&str; 13] = [
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "userinfo_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported",
    "code_challenge_methods_supported",
    "claims_supported",
    "acr_values_supported",
    "ui_locales_supported",
    "dpop_signing_alg_values_supported",
];

/// Flags with their defaults.
const FLAGS: [(&str, bool); 5] = [
    ("authorization_response_iss_parameter_supported", false),
    ("require_pushed_authorization_requests", false),
    ("claims_parameter_supported", false),
    ("request_parameter_supported", false),
    ("request_uri_parameter_supported", true),
];

const OPENID_REQUIRED: [&str; 6] = [
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
];

/// The documented outcome.
#[derive(Debug)]
enum Want {
    /// `OAuth` or `MalformedResponse`: the body is not a usable document.
    /// With `insecure`, an endpoint is also `http` to a host other than
    /// loopback, and which of the two is reported first depends on the
    /// order fields are read in: `InsecureUrl` is fine too.
    Malformed {
        // Only printed (in failure messages), never matched on.
        #[allow(dead_code)]
        why: &'static str,
        insecure: bool,
    },
    IssuerMismatch,
    /// Only an `http` endpoint to a host other than loopback is wrong:
    /// `InsecureUrl`.
    Insecure,
    Ok(Map<String, Value>),
}

fn malformed(why: &'static str) -> Want {
    Want::Malformed {
        why,
        insecure: false,
    }
}

/// Whether `url` is an endpoint the client may use.
fn secure(url: &url::Url) -> Result<(), Want> {
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(malformed("fragment or credentials in an endpoint"));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback => {}
        "http" | "https" => return Err(Want::Insecure),
        _ => return Err(malformed("an endpoint of another scheme")),
    }
    url.as_str()
        .parse::<http::Uri>()
        .map(|_| ())
        .map_err(|_| malformed("an endpoint that is no http uri"))
}

fn rules(body: &[u8], issuer: &str, openid: bool) -> Want {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let Some(mut map) = Document::parse(body).unique_object() else {
        return malformed("not an object without repeats");
    };
    if !matches!(map.remove("error"), None | Some(Value::Null)) {
        return malformed("an error response");
    }
    match map.get("issuer") {
        Some(Value::String(found)) if found == issuer => {}
        Some(Value::String(_)) => return Want::IssuerMismatch,
        _ => return malformed("issuer missing or not a string"),
    }
    let mut insecure = false;
    let mut why = None;
    for name in ENDPOINTS {
        match map.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(raw)) => match url::Url::parse(raw) {
                Err(_) => {
                    why.get_or_insert("an endpoint that is not a url");
                }
                Ok(url) => match secure(&url) {
                    Ok(()) => {}
                    Err(Want::Insecure) => insecure = true,
                    Err(_) => {
                        why.get_or_insert("an endpoint that is not usable");
                    }
                },
            },
            Some(_) => {
                why.get_or_insert("an endpoint that is not a string");
            }
        }
    }
    for name in LISTS {
        if !matches!(map.get(name), None | Some(Value::Null)) && !is_string_array(&map[name]) {
            why.get_or_insert("a list that is not an array of strings");
        }
    }
    for (name, _) in FLAGS {
        if !matches!(
            map.get(name),
            None | Some(Value::Null) | Some(Value::Bool(_))
        ) {
            why.get_or_insert("a flag that is not a boolean");
        }
    }
    if openid
        && OPENID_REQUIRED
            .iter()
            .any(|name| matches!(map.get(*name), None | Some(Value::Null)))
    {
        why.get_or_insert("an openid field missing");
    }
    match (why, insecure) {
        (Some(why), insecure) => Want::Malformed { why, insecure },
        (None, true) => Want::Insecure,
        (None, false) => Want::Ok(map),
    }
}

fn check_ok(metadata: &ProviderMetadata, issuer: &str, mut map: Map<String, Value>) {
    assert_eq!(metadata.issuer.as_str(), issuer);
    map.remove("issuer");
    let endpoints: [(&str, &Option<EndpointUrl>); 10] = [
        ("authorization_endpoint", &metadata.authorization_endpoint),
        ("token_endpoint", &metadata.token_endpoint),
        ("userinfo_endpoint", &metadata.userinfo_endpoint),
        ("jwks_uri", &metadata.jwks_uri),
        ("registration_endpoint", &metadata.registration_endpoint),
        ("revocation_endpoint", &metadata.revocation_endpoint),
        ("introspection_endpoint", &metadata.introspection_endpoint),
        (
            "device_authorization_endpoint",
            &metadata.device_authorization_endpoint,
        ),
        ("end_session_endpoint", &metadata.end_session_endpoint),
        (
            "pushed_authorization_request_endpoint",
            &metadata.pushed_authorization_request_endpoint,
        ),
    ];
    for (name, endpoint) in endpoints {
        let raw = map.remove(name).and_then(|v| v.as_str().map(str::to_owned));
        match (raw, endpoint) {
            (None, None) => {}
            (Some(raw), Some(endpoint)) => {
                let url = url::Url::parse(&raw).expect("checked by the rules");
                assert_eq!(endpoint.as_str(), url.as_str(), "{name}");
                assert!(secure(endpoint.as_url()).is_ok(), "{name} {endpoint}");
            }
            (raw, endpoint) => panic!("{name}: document {raw:?}, metadata {endpoint:?}"),
        }
    }
    let lists: [(&str, &Option<Vec<String>>); 13] = [
        ("scopes_supported", &metadata.scopes_supported),
        (
            "response_types_supported",
            &metadata.response_types_supported,
        ),
        (
            "response_modes_supported",
            &metadata.response_modes_supported,
        ),
        ("grant_types_supported", &metadata.grant_types_supported),
        ("subject_types_supported", &metadata.subject_types_supported),
        (
            "id_token_signing_alg_values_supported",
            &metadata.id_token_signing_alg_values_supported,
        ),
        (
            "userinfo_signing_alg_values_supported",
            &metadata.userinfo_signing_alg_values_supported,
        ),
        (
            "token_endpoint_auth_methods_supported",
            &metadata.token_endpoint_auth_methods_supported,
        ),
        (
            "code_challenge_methods_supported",
            &metadata.code_challenge_methods_supported,
        ),
        ("claims_supported", &metadata.claims_supported),
        ("acr_values_supported", &metadata.acr_values_supported),
        ("ui_locales_supported", &metadata.ui_locales_supported),
        (
            "dpop_signing_alg_values_supported",
            &metadata.dpop_signing_alg_values_supported,
        ),
    ];
    for (name, list) in lists {
        let raw: Option<Vec<String>> = map.remove(name).and_then(|v| {
            v.as_array().map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
        });
        assert_eq!(&raw, list, "{name}");
    }
    let flags: [bool; 5] = [
        metadata.authorization_response_iss_parameter_supported,
        metadata.require_pushed_authorization_requests,
        metadata.claims_parameter_supported,
        metadata.request_parameter_supported,
        metadata.request_uri_parameter_supported,
    ];
    for ((name, default), flag) in FLAGS.into_iter().zip(flags) {
        let raw = map
            .remove(name)
            .and_then(|v| v.as_bool())
            .unwrap_or(default);
        assert_eq!(raw, flag, "{name}");
    }
    assert_eq!(metadata.extra, map, "extra is every other member");

    let algorithms = metadata.id_token_signing_algorithms();
    let listed = metadata
        .id_token_signing_alg_values_supported
        .as_deref()
        .unwrap_or_default();
    for (i, alg) in algorithms.iter().enumerate() {
        assert!(
            listed.iter().any(|name| name == alg.name()),
            "{alg} not listed"
        );
        assert!(!algorithms[..i].contains(alg), "{alg} repeated");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let issuer_str = ISSUERS[usize::from(choice & 7) % ISSUERS.len()];
    let openid = choice & 8 == 0;
    let issuer = Issuer::new(issuer_str).expect("the listed issuers are valid");
    let body = replace(body, b"$I", issuer_str.as_bytes());

    let result = if openid {
        ProviderMetadata::from_openid_json(&body, &issuer)
    } else {
        ProviderMetadata::from_json(&body, &issuer)
    };
    let want = rules(&body, issuer_str, openid);
    match (result, want) {
        (Ok(metadata), Want::Ok(map)) => check_ok(&metadata, issuer_str, map),
        (Ok(metadata), want) => panic!("accepted, expected {want:?}: {metadata:?}"),
        (Err(error), want) => {
            check_printable(&error);
            match (&error, &want) {
                (Error::MetadataIssuerMismatch { expected, found }, Want::IssuerMismatch) => {
                    assert_eq!(expected, issuer_str);
                    assert!(found.len() <= 256 && !found.chars().any(char::is_control));
                    assert_ne!(found, issuer_str);
                    // The message quotes the found issuer as kept (escaped
                    // visibly), so it never reads like the expected one.
                    assert!(error.to_string().contains(&format!("\"{found}\"")));
                }
                (
                    Error::InsecureUrl { url },
                    Want::Insecure | Want::Malformed { insecure: true, .. },
                ) => {
                    assert!(!url.contains('?'), "insecure url {url:?} shows its query");
                    assert!(url.starts_with("http://"), "{url}");
                }
                (Error::OAuth(_) | Error::MalformedResponse(_), Want::Malformed { .. }) => {
                    let response = http::Response::new(body.clone());
                    check_error(&response, &error);
                }
                _ => panic!("{error:?}, expected {want:?}"),
            }
        }
    }
});

/// `haystack` with every `from` replaced by `to`.
fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(from) {
            out.extend_from_slice(to);
            rest = &rest[from.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}
