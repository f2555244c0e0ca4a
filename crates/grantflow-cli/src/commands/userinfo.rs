//! `grantflow userinfo`: the claims about the signed-in user (OIDC Core §5.3).
//!
//! With the expected subject (`--subject`, or the validated ID token of a
//! `--token-file` saved by `token --save`), the library's UserInfo flow runs
//! and checks that the response is about that user (§5.3.2). Without one,
//! the response is shown as it came, marked unchecked.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::{AccessToken, TokenSet, TokenType, UnixTime};
use serde_json::{Value, json};

use crate::args::{OutputArgs, UserinfoArgs};
use crate::client::{Settings, build, read_token_set};
use crate::error::Failure;
use crate::output::{Ctx, Summary, claim_rows};

/// Runs `userinfo`.
pub fn run(ctx: &Ctx, output: &OutputArgs, args: UserinfoArgs) -> Result<(), Failure> {
    let tokens = match (&args.token, &args.token_file) {
        (Some(token), _) => TokenSet::new(
            AccessToken::new(token.clone()),
            TokenType::Bearer,
            UnixTime::from_secs(0),
        ),
        (None, Some(path)) => read_token_set(path)?,
        (None, None) => {
            return Err(Failure::input(
                "give the ACCESS_TOKEN, or --token-file FILE",
            ));
        }
    };
    let subject = args.subject.clone().or_else(|| {
        tokens
            .id_token
            .as_ref()
            .and_then(|t| unverified_subject(t.as_str()))
    });
    let settings = Settings::resolve(output, args.client, Default::default())?;
    let built = build(ctx, &settings)?;
    let (claims, checked) = match &subject {
        Some(sub) => {
            let info = ctx.drive(built.client.userinfo_for_subject(&tokens, sub)?)?;
            let mut claims = info.claims.clone();
            claims.insert("sub".into(), json!(info.sub));
            (Value::Object(claims), true)
        }
        None => (unchecked(ctx, &built.client, &tokens)?, false),
    };
    if ctx.json {
        ctx.print_json(&json!({ "subject_checked": checked, "claims": claims }));
    } else {
        let mut summary = Summary::default();
        summary.row(
            "subject",
            if checked {
                "checked: the response is about the expected user"
            } else {
                "not checked (pass --subject SUB, or --token-file with an ID token)"
            },
        );
        claim_rows(&mut summary, &claims);
        summary.print();
    }
    Ok(())
}

/// The `sub` of a saved ID token (validated when it was saved).
fn unverified_subject(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// A UserInfo request without a subject check: `GET` with the bearer token.
fn unchecked(ctx: &Ctx, client: &grantflow::Client, tokens: &TokenSet) -> Result<Value, Failure> {
    let endpoint =
        client.endpoints().userinfo.as_ref().ok_or_else(|| {
            Failure::input("no UserInfo endpoint: --issuer or --userinfo-endpoint")
        })?;
    let request = http::Request::get(endpoint.as_str())
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", tokens.access_token.secret()),
        )
        .body(Vec::new())
        .map_err(|e| Failure::input(format!("cannot build the request: {e}")))?;
    if ctx.verbose {
        eprintln!("→ {}", crate::redact::request_line(&request));
    }
    let response = ctx.http.send(request)?;
    if ctx.verbose {
        eprintln!("← {}", crate::redact::response_line(&response));
    }
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        let code = grantflow::parse_challenges(response.headers())
            .into_iter()
            .find_map(|c| c.param("error").map(str::to_owned))
            .unwrap_or_else(|| format!("http_{status}"));
        return Err(Failure::Refused {
            code,
            description: None,
        });
    }
    if !(200..300).contains(&status) {
        return Err(Failure::Invalid(format!(
            "the UserInfo endpoint answered HTTP {status}"
        )));
    }
    serde_json::from_slice::<Value>(response.body())
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            Failure::Invalid(
                "the UserInfo response is not a JSON object (a signed response needs --subject)"
                    .into(),
            )
        })
}
