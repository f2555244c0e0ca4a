//! `grantflow token` (every grant) and `grantflow refresh`.
//!
//! - client credentials (RFC 6749 §4.4);
//! - authorization code with PKCE S256 (RFC 6749 §4.1, RFC 7636) through the
//!   system browser and a loopback listener (RFC 8252 §7.3); an OpenID
//!   sign-in (ID token validated) when the scopes hold `openid`; pushed
//!   (RFC 9126) with `--par` or when the provider requires it;
//! - device authorization (RFC 8628), polling with a spinner;
//! - refresh token (RFC 6749 §6).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use grantflow::{IdTokenClaims, RefreshToken, TokenSet};
use grantflow_ureq::{now, os_rng};

use crate::args::{BrowserArgs, Grant, OutputArgs, RefreshArgs, TokenArgs};
use crate::client::{Built, Settings, build, read_token_set};
use crate::error::Failure;
use crate::loopback::Listener;
use crate::output::{Ctx, token_json, token_summary};

/// Runs `token`.
pub fn run(ctx: &Ctx, output: &OutputArgs, args: TokenArgs) -> Result<(), Failure> {
    let TokenArgs {
        grant,
        client,
        request,
        browser,
        refresh_token,
        refresh_token_file,
        save,
    } = args;
    let settings = Settings::resolve(output, client, request)?;
    let grant = grant.or(settings.grant).unwrap_or(Grant::ClientCredentials);
    let built = build(ctx, &settings)?;
    let (tokens, claims) = match grant {
        Grant::ClientCredentials => (client_credentials(ctx, &settings, &built)?, None),
        Grant::AuthorizationCode => authorization_code(ctx, &settings, &built, &browser)?,
        Grant::Device => device(ctx, &settings, &built)?,
        Grant::RefreshToken => {
            let token = refresh_token_from(refresh_token, refresh_token_file.as_deref())?;
            refresh(ctx, &settings, &built, &token)?
        }
    };
    finish(ctx, &tokens, claims.as_ref(), save.as_deref())
}

/// Runs `refresh`.
pub fn run_refresh(ctx: &Ctx, output: &OutputArgs, args: RefreshArgs) -> Result<(), Failure> {
    let settings = Settings::resolve(output, args.client, args.request)?;
    let built = build(ctx, &settings)?;
    let token = refresh_token_from(args.refresh_token, args.refresh_token_file.as_deref())?;
    let (tokens, claims) = refresh(ctx, &settings, &built, &token)?;
    finish(ctx, &tokens, claims.as_ref(), args.save.as_deref())
}

/// Prints the result and saves it with `--save`.
fn finish(
    ctx: &Ctx,
    tokens: &TokenSet,
    claims: Option<&IdTokenClaims>,
    save: Option<&Path>,
) -> Result<(), Failure> {
    if let Some(path) = save {
        save_tokens(tokens, path)?;
    }
    let now = now();
    if ctx.json {
        ctx.print_json(&token_json(tokens, claims, now));
    } else {
        token_summary(ctx, tokens, claims, now).print();
        if let Some(path) = save {
            println!("saved to {} (mode 0600)", path.display());
        }
    }
    Ok(())
}

fn refresh_token_from(token: Option<String>, file: Option<&Path>) -> Result<RefreshToken, Failure> {
    if let Some(token) = token {
        return Ok(RefreshToken::new(token));
    }
    let Some(path) = file else {
        return Err(Failure::input(
            "give the refresh token, or --refresh-token-file FILE (a token set saved with --save)",
        ));
    };
    read_token_set(&path.to_owned())?
        .refresh_token
        .ok_or_else(|| Failure::input(format!("{} holds no refresh token", path.display())))
}

fn client_credentials(ctx: &Ctx, settings: &Settings, built: &Built) -> Result<TokenSet, Failure> {
    let mut flow = built
        .client
        .client_credentials()?
        .scopes(settings.scopes()?);
    for resource in settings.resources()? {
        flow = flow.resource(resource);
    }
    if let Some(audience) = &settings.request.audience {
        flow = flow.audience(audience.clone());
    }
    ctx.drive(flow)
}

fn refresh(
    ctx: &Ctx,
    settings: &Settings,
    built: &Built,
    token: &RefreshToken,
) -> Result<(TokenSet, Option<IdTokenClaims>), Failure> {
    let mut flow = built.client.refresh(token)?.scopes(settings.scopes()?);
    for resource in settings.resources()? {
        flow = flow.resource(resource);
    }
    let refreshed = ctx.drive(flow)?;
    if !refreshed.missing_scopes.is_empty() {
        ctx.warn(format!(
            "the server granted fewer scopes than asked; missing: {}",
            refreshed
                .missing_scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    let claims = refreshed.id_token.map(|t| t.claims().clone());
    Ok((refreshed.tokens, claims))
}

/// The browser sign-in: a listener, the authorization URL (opened or
/// printed), the redirect, the callback checks, the code exchange.
fn authorization_code(
    ctx: &Ctx,
    settings: &Settings,
    built: &Built,
    browser: &BrowserArgs,
) -> Result<(TokenSet, Option<IdTokenClaims>), Failure> {
    let listener = Listener::bind(browser.port.or(settings.port), &browser.redirect_path)?;
    let redirect_uri = listener.redirect_uri();
    let scopes = settings.scopes()?;
    let openid = scopes.iter().any(|s| s.as_str() == "openid");
    let client = &built.client;
    let wait = Duration::from_secs(browser.timeout);
    // The sign-in and the plain authorization differ only in their types:
    // the same steps, from the request to the code exchange.
    macro_rules! browser_flow {
        ($request:expr) => {{
            let mut request = $request.scopes(scopes);
            for resource in settings.resources()? {
                request = request.resource(resource);
            }
            if let Some(prompt) = &browser.prompt {
                request = request.prompt(prompt.clone());
            }
            let flow = if browser.par {
                request.push(&mut os_rng(), now())?
            } else {
                request.begin_or_push(&mut os_rng(), now())?
            };
            let (url, pending) = ctx.drive(flow)?;
            open(ctx, browser, url.as_str());
            let location = listener.wait(wait)?;
            ctx.drive(pending.callback(client, &location, now())?)?
        }};
    }
    if openid {
        let sign_in = browser_flow!(client.sign_in(&redirect_uri)?);
        let claims = sign_in.id_token.claims().clone();
        Ok((sign_in.tokens, Some(claims)))
    } else {
        Ok((browser_flow!(client.authorize(&redirect_uri)?), None))
    }
}

/// Opens the system browser at `url`, or prints it (`--no-browser`, or when
/// no browser can be started). The URL goes to stderr: stdout is the result.
fn open(ctx: &Ctx, browser: &BrowserArgs, url: &str) {
    if ctx.verbose {
        eprintln!("⇢ {}", crate::redact::url_line(url));
    }
    if !browser.no_browser && webbrowser::open(url).is_ok() {
        eprintln!("Opened your browser to sign in. If it did not open, go to:\n  {url}");
    } else {
        eprintln!("Open this URL in a browser to sign in:\n  {url}");
    }
    eprintln!("Waiting for the redirect (up to {} s)…", browser.timeout);
    let _ = std::io::stderr().flush();
}

/// The device grant: ask for a code, show it, poll until the user approves.
fn device(
    ctx: &Ctx,
    settings: &Settings,
    built: &Built,
) -> Result<(TokenSet, Option<IdTokenClaims>), Failure> {
    let mut request = built
        .client
        .device_authorization()?
        .scopes(settings.scopes()?);
    for resource in settings.resources()? {
        request = request.resource(resource);
    }
    let authorization = ctx.drive(request)?;
    let left = authorization
        .received_at()
        .secs_until(authorization.expires_at());
    eprintln!(
        "To sign in, open {} and enter the code\n\n    {}\n",
        authorization.verification_uri(),
        authorization.user_code()
    );
    if let Some(complete) = authorization.verification_uri_complete() {
        eprintln!("(or open {complete} , which carries the code)");
    }
    eprintln!(
        "The code expires in {}. Waiting for approval…",
        crate::output::duration(left)
    );
    let tokens = ctx.drive(authorization.poll())?;
    let claims = tokens.id_token.map(|t| t.claims().clone());
    Ok((tokens.tokens, claims))
}

/// Writes the token set (the library's storage form, which `--token-file`
/// and `--refresh-token-file` read back) to `path`, mode 0600 on Unix.
fn save_tokens(tokens: &TokenSet, path: &Path) -> Result<(), Failure> {
    let json = serde_json::to_vec_pretty(tokens)
        .map_err(|e| Failure::input(format!("cannot serialize the token set: {e}")))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let write = |path: &Path| -> std::io::Result<()> {
        let mut file = options.open(path)?;
        // An existing file keeps its mode through open(): set it again.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(&json)?;
        file.write_all(b"\n")
    };
    write(path).map_err(|e| Failure::input(format!("cannot write {}: {e}", path.display())))
}
