//! `grantflow introspect` (RFC 7662) and `grantflow revoke` (RFC 7009).

use grantflow::{IntrospectionResponse, TokenTypeHint};
use serde_json::{Value, json};

use crate::args::{Hint, OutputArgs, TokenOpArgs};
use crate::client::{Settings, build, read_token_set};
use crate::error::Failure;
use crate::output::{Ctx, Summary, claim_rows};

/// The token the command is about, and its hint.
fn token(args: &TokenOpArgs) -> Result<(String, Option<TokenTypeHint>), Failure> {
    let hint = args.hint.map(|h| match h {
        Hint::AccessToken => TokenTypeHint::AccessToken,
        Hint::RefreshToken => TokenTypeHint::RefreshToken,
    });
    if let Some(token) = &args.token {
        return Ok((token.clone(), hint));
    }
    let Some(path) = &args.token_file else {
        return Err(Failure::input("give the TOKEN, or --token-file FILE"));
    };
    let tokens = read_token_set(path)?;
    if args.hint == Some(Hint::RefreshToken) {
        let refresh = tokens
            .refresh_token
            .ok_or_else(|| Failure::input(format!("{} holds no refresh token", path.display())))?;
        Ok((refresh.secret().to_owned(), hint))
    } else {
        Ok((
            tokens.access_token.secret().to_owned(),
            Some(TokenTypeHint::AccessToken),
        ))
    }
}

/// Runs `introspect`.
pub fn introspect(ctx: &Ctx, output: &OutputArgs, args: TokenOpArgs) -> Result<(), Failure> {
    let (token, hint) = token(&args)?;
    let settings = Settings::resolve(output, args.client, Default::default())?;
    let built = build(ctx, &settings)?;
    let info = ctx.drive(built.client.introspect(&token, hint)?)?;
    let document = to_json(&info);
    if ctx.json {
        ctx.print_json(&document);
    } else {
        let mut summary = Summary::default();
        summary.row("active", info.active.to_string());
        if let Some(Value::Object(map)) = document.get("claims") {
            if !map.is_empty() {
                summary.row("claims", "");
                claim_rows(&mut summary, &Value::Object(map.clone()));
            }
        }
        summary.print();
    }
    Ok(())
}

/// `{"active": bool, "claims": {…}}`: the claims as the server sent them
/// (`scope` space-separated, times as seconds since the epoch).
fn to_json(info: &IntrospectionResponse) -> Value {
    let mut claims = serde_json::Map::new();
    let mut put = |name: &str, value: Value| {
        if !value.is_null() {
            claims.insert(name.to_owned(), value);
        }
    };
    put(
        "scope",
        json!(
            info.scopes.as_ref().map(|s| s
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "))
        ),
    );
    put(
        "client_id",
        json!(info.client_id.as_ref().map(|c| c.as_str())),
    );
    put("username", json!(info.username));
    put(
        "token_type",
        json!(info.token_type.as_ref().map(|t| t.as_str())),
    );
    put("exp", json!(info.exp.map(|t| t.as_secs())));
    put("iat", json!(info.iat.map(|t| t.as_secs())));
    put("nbf", json!(info.nbf.map(|t| t.as_secs())));
    put("sub", json!(info.sub));
    put("aud", json!(info.aud));
    put("iss", json!(info.iss));
    put("jti", json!(info.jti));
    for (name, value) in &info.extra {
        put(name, value.clone());
    }
    json!({ "active": info.active, "claims": claims })
}

/// Runs `revoke`.
pub fn revoke(ctx: &Ctx, output: &OutputArgs, args: TokenOpArgs) -> Result<(), Failure> {
    let (token, hint) = token(&args)?;
    let settings = Settings::resolve(output, args.client, Default::default())?;
    let built = build(ctx, &settings)?;
    ctx.drive(built.client.revoke(&token, hint)?)?;
    if ctx.json {
        ctx.print_json(&json!({ "revoked": true }));
    } else {
        println!("revoked (the server accepted the revocation)");
    }
    Ok(())
}
