//! `grantflow jwt decode` and `grantflow jwt verify`.
//!
//! `decode` shows a JWT's header and claims and checks nothing. `verify`
//! checks the signature with the issuer's published keys (discovery, then
//! `jwks_uri`; HMAC and `alg: none` are never accepted), then `iss`, `exp`,
//! `nbf` and (with `--audience`) `aud`; with `--client-id` the token is
//! validated as an ID token, every step of OIDC Core §3.1.3.7.

use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::{ClientId, CompactJws, Expected, IdTokenPolicy, IdTokenValidator, RawIdToken};
use grantflow_ureq::now;
use serde_json::{Value, json};

use crate::args::{JwtDecodeArgs, JwtVerifyArgs, OutputArgs};
use crate::client::discover;
use crate::error::Failure;
use crate::output::{Ctx, Summary, claim_rows};

/// The token from the argument, or stdin for `-`.
fn token_text(token: &str) -> Result<String, Failure> {
    if token != "-" {
        return Ok(token.trim().to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| Failure::input(format!("cannot read the token from stdin: {e}")))?;
    Ok(text.trim().to_owned())
}

/// Decodes one base64url segment into a JSON value.
fn segment(part: &str, what: &str) -> Result<Value, Failure> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| Failure::input(format!("the {what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| Failure::input(format!("the {what} is not JSON")))
}

/// Header and claims, unchecked.
fn decode(token: &str) -> Result<(Value, Value), Failure> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [header, payload, _signature] => {
            Ok((segment(header, "header")?, segment(payload, "payload")?))
        }
        [_, _, _, _, _] => Err(Failure::input(
            "this is an encrypted JWT (JWE, five parts): it cannot be decoded without the key",
        )),
        _ => Err(Failure::input(
            "not a JWT: expected three dot-separated parts",
        )),
    }
}

fn print(ctx: &Ctx, header: &Value, claims: &Value, verified: Option<&str>) {
    if ctx.json {
        let document = match verified {
            Some(how) => json!({ "header": header, "claims": claims, "verified": how }),
            None => json!({ "header": header, "claims": claims }),
        };
        ctx.print_json(&document);
        return;
    }
    let mut summary = Summary::default();
    summary.row(
        "verified",
        verified.unwrap_or("no (decoded only: nothing was checked)"),
    );
    summary.row("header", "");
    claim_rows(&mut summary, header);
    summary.row("claims", "");
    claim_rows(&mut summary, claims);
    summary.print();
}

/// Runs `jwt decode`.
pub fn run_decode(ctx: &Ctx, args: &JwtDecodeArgs) -> Result<(), Failure> {
    let token = token_text(&args.token)?;
    let (header, claims) = decode(&token)?;
    print(ctx, &header, &claims, None);
    Ok(())
}

/// Runs `jwt verify`.
pub fn run_verify(ctx: &Ctx, output: &OutputArgs, args: &JwtVerifyArgs) -> Result<(), Failure> {
    let token = token_text(&args.token)?;
    let (header, claims) = decode(&token)?;
    let issuer = match &args.issuer {
        Some(issuer) => issuer.clone(),
        None => {
            let from_profile = match &output.profile {
                Some(name) => crate::config::load(output.config.as_deref(), name)?.issuer,
                None => None,
            };
            match from_profile
                .or_else(|| claims.get("iss").and_then(Value::as_str).map(str::to_owned))
            {
                Some(iss) => {
                    ctx.warn(format!("no --issuer: trusting the token's own iss {iss:?}"));
                    iss
                }
                None => return Err(Failure::input("give --issuer URL")),
            }
        }
    };
    let discovered = discover(ctx, &issuer, false)?;
    let keys = discovered.jwks().ok_or_else(|| {
        Failure::Invalid("the issuer publishes no signing keys (jwks_uri)".into())
    })?;
    let now = now();
    if let Some(client_id) = &args.client_id {
        let policy = IdTokenPolicy::default().with_leeway(args.leeway);
        let validator = IdTokenValidator::new(
            discovered.issuer().clone(),
            ClientId::new(client_id.clone()),
            policy,
        )
        .with_metadata_algorithms(&discovered.metadata().id_token_signing_algorithms());
        validator.validate(&RawIdToken::new(token), keys, Expected::none(), now)?;
        print(
            ctx,
            &header,
            &claims,
            Some("yes: a valid ID token (OIDC Core §3.1.3.7: signature, iss, aud, azp, exp, iat)"),
        );
        return Ok(());
    }
    let jws = CompactJws::parse(&token)?;
    let alg = jws.algorithm()?;
    jws.verify_with_keys(alg, keys.candidates(jws.header().kid.as_deref(), alg))?;
    check_claims(&claims, discovered.issuer().as_str(), args, now.as_secs())?;
    print(
        ctx,
        &header,
        &claims,
        Some("yes: signature by the issuer's key; iss, exp, nbf (and aud if asked) checked"),
    );
    Ok(())
}

/// `iss` equals the issuer, `exp` is in the future and `nbf` in the past
/// (with the leeway), `aud` holds `--audience` when given.
fn check_claims(
    claims: &Value,
    issuer: &str,
    args: &JwtVerifyArgs,
    now: u64,
) -> Result<(), Failure> {
    let fail = |why: String| Err(Failure::Invalid(why));
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == issuer => {}
        Some(iss) => return fail(format!("iss {iss:?} is not the issuer {issuer:?}")),
        None => return fail("the token has no iss".into()),
    }
    if let Some(exp) = claims.get("exp") {
        match exp.as_u64() {
            Some(exp) if now < exp.saturating_add(args.leeway) => {}
            Some(exp) => {
                return fail(format!(
                    "the token expired {} s ago",
                    now.saturating_sub(exp)
                ));
            }
            None => return fail("exp is not a number".into()),
        }
    }
    if let Some(nbf) = claims.get("nbf") {
        match nbf.as_u64() {
            Some(nbf) if nbf <= now.saturating_add(args.leeway) => {}
            Some(_) => return fail("the token is not valid yet (nbf)".into()),
            None => return fail("nbf is not a number".into()),
        }
    }
    if let Some(audience) = &args.audience {
        let matches = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !matches {
            return fail(format!("the token is not for the audience {audience:?}"));
        }
    }
    Ok(())
}
