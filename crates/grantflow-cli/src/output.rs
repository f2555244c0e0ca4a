//! What the command prints: the human summary (aligned `name  value` rows),
//! the `--json` documents, `-v` request/response lines (secrets masked by
//! [`crate::redact`]), and the driver that runs a flow while printing them.
//!
//! Human output goes to stdout, diagnostics (warnings, `-v`, prompts, the
//! spinner) to stderr, so `grantflow … --json | jq` sees only the document.

use std::io::{IsTerminal, Write};
use std::time::{Duration, UNIX_EPOCH};

use grantflow::{Flow, IdTokenClaims, TokenSet, UnixTime};
use grantflow_ureq::{Event, HttpClient};
use serde_json::{Map, Value, json};

use crate::args::OutputArgs;
use crate::error::Failure;
use crate::redact::{request_line, response_line};

/// The flags that shape output, and the HTTP client every command shares.
pub struct Ctx {
    /// `--json`.
    pub json: bool,
    /// `--show-tokens`.
    pub show_tokens: bool,
    /// `-v`.
    pub verbose: bool,
    /// The ureq client (timeouts, body cap, no redirects).
    pub http: HttpClient,
}

impl Ctx {
    /// The context for these flags.
    pub fn new(args: &OutputArgs) -> Ctx {
        Ctx {
            json: args.json,
            show_tokens: args.show_tokens,
            verbose: args.verbose,
            http: HttpClient::new(),
        }
    }

    /// Runs `flow` to the end, printing each request and response on stderr
    /// with `-v`, and a spinner while the flow waits (device polling) when
    /// stderr is a terminal.
    pub fn drive<F: Flow>(&self, flow: F) -> Result<F::Output, Failure> {
        let verbose = self.verbose;
        grantflow_ureq::drive_observed(&self.http, flow, |event| match event {
            Event::Sending(request) if verbose => eprintln!("→ {}", request_line(request)),
            Event::Received(response) if verbose => eprintln!("← {}", response_line(response)),
            Event::Waiting(until) => wait_with_spinner(until, verbose),
            _ => {}
        })
        .map_err(Failure::from)
    }

    /// Prints a warning on stderr.
    pub fn warn(&self, message: impl std::fmt::Display) {
        eprintln!("warning: {message}");
    }

    /// Prints `value` as pretty JSON on stdout.
    pub fn print_json(&self, value: &Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        );
    }
}

/// Waits until `until` (the flow would sleep that long anyway), turning a
/// spinner on stderr when it is a terminal; with `-v`, says how long.
fn wait_with_spinner(until: UnixTime, verbose: bool) {
    const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
    let interactive = std::io::stderr().is_terminal();
    if verbose {
        eprintln!(
            "… waiting {} s before polling again",
            grantflow_ureq::now().secs_until(until)
        );
    }
    if !interactive {
        return; // the driver sleeps until `until` itself
    }
    let mut frame = 0usize;
    while grantflow_ureq::now() < until {
        let symbol = FRAMES.get(frame % FRAMES.len()).copied().unwrap_or('.');
        eprint!("\r{symbol} waiting for the user to approve…");
        let _ = std::io::stderr().flush();
        std::thread::sleep(Duration::from_millis(120));
        frame = frame.wrapping_add(1);
    }
    eprint!("\r\x1b[2K");
}

/// Aligned `name  value` rows: the human summary.
#[derive(Default)]
pub struct Summary {
    rows: Vec<(String, String)>,
}

impl Summary {
    /// Adds a row.
    pub fn row(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.rows.push((name.into(), value.into()));
        self
    }

    /// Prints the rows on stdout.
    pub fn print(&self) {
        print!("{}", self.render());
    }

    /// The rows, one per line, values aligned.
    pub fn render(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|(name, _)| name.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (name, value) in &self.rows {
            let line = format!("{name:<width$}  {value}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `1h 2m 3s`, `5m 0s`, `42s`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// An instant as RFC 3339 UTC, `2026-12-01T06:00:00Z`.
pub fn time(at: UnixTime) -> String {
    let system = UNIX_EPOCH.checked_add(Duration::from_secs(at.as_secs()));
    match system {
        Some(system) => humantime::format_rfc3339_seconds(system).to_string(),
        None => at.as_secs().to_string(),
    }
}

/// A JSON number of seconds since the epoch as an RFC 3339 time, if it is one.
pub fn json_time(value: &Value) -> Option<String> {
    value.as_u64().map(|secs| time(UnixTime::from_secs(secs)))
}

/// What a hidden token looks like in the human summary.
pub const HIDDEN: &str = "(hidden: --show-tokens or --json prints it)";

/// The JSON document for a token set (the `--json` output of `token` and
/// `refresh`). Field names are stable:
///
/// `token_type`, `access_token`, `expires_in` (seconds, at the time of
/// printing), `expires_at` (RFC 3339), `scope` (space-separated, as granted),
/// `refresh_token`, `id_token`, `id_token_claims` (validated claims, when
/// an ID token was validated), plus `extra` (any other response members).
pub fn token_json(tokens: &TokenSet, claims: Option<&IdTokenClaims>, now: UnixTime) -> Value {
    json!({
        "token_type": tokens.token_type.as_str(),
        "access_token": tokens.access_token.secret(),
        "expires_in": tokens.expires_in(now),
        "expires_at": tokens.expires_at.map(time),
        "scope": scope_string(tokens),
        "refresh_token": tokens.refresh_token.as_ref().map(|t| t.secret()),
        "id_token": tokens.id_token.as_ref().map(|t| t.as_str()),
        "id_token_claims": claims.map(claims_json),
        "extra": Value::Object(tokens.extra.clone()),
    })
}

/// The granted scopes, space-separated.
pub fn scope_string(tokens: &TokenSet) -> Option<String> {
    tokens.scopes.as_ref().map(|scopes| {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// A validated ID token's claims as JSON, as the token carried them.
pub fn claims_json(claims: &IdTokenClaims) -> Value {
    let mut map = Map::new();
    map.insert("iss".into(), json!(claims.iss));
    map.insert("sub".into(), json!(claims.sub));
    map.insert("aud".into(), json!(claims.aud));
    map.insert("exp".into(), json!(claims.exp.as_secs()));
    map.insert("iat".into(), json!(claims.iat.as_secs()));
    let optional = [
        ("nbf", claims.nbf.map(|t| json!(t.as_secs()))),
        ("auth_time", claims.auth_time.map(|t| json!(t.as_secs()))),
        ("nonce", claims.nonce.as_ref().map(|_| json!("***"))),
        ("acr", claims.acr.as_ref().map(|v| json!(v))),
        ("amr", claims.amr.as_ref().map(|v| json!(v))),
        ("azp", claims.azp.as_ref().map(|v| json!(v))),
        ("at_hash", claims.at_hash.as_ref().map(|v| json!(v))),
        ("c_hash", claims.c_hash.as_ref().map(|v| json!(v))),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            map.insert(name.into(), value);
        }
    }
    for (name, value) in &claims.extra {
        map.insert(name.clone(), value.clone());
    }
    Value::Object(map)
}

/// The human summary of a token set.
pub fn token_summary(
    ctx: &Ctx,
    tokens: &TokenSet,
    claims: Option<&IdTokenClaims>,
    now: UnixTime,
) -> Summary {
    let mut summary = Summary::default();
    summary.row("token type", tokens.token_type.as_str());
    summary.row(
        "scope",
        scope_string(tokens).unwrap_or_else(|| "(as requested; the server did not say)".into()),
    );
    let expires = match (tokens.expires_at, tokens.expires_in(now)) {
        (Some(at), Some(left)) => format!("in {} ({})", duration(left), time(at)),
        _ => "unknown (the server did not say)".into(),
    };
    summary.row("expires", expires);
    let shown = |secret: &str| {
        if ctx.show_tokens {
            secret.to_owned()
        } else {
            HIDDEN.to_owned()
        }
    };
    summary.row("access token", shown(tokens.access_token.secret()));
    summary.row(
        "refresh token",
        tokens
            .refresh_token
            .as_ref()
            .map_or_else(|| "none".to_owned(), |t| shown(t.secret())),
    );
    if let Some(id_token) = &tokens.id_token {
        summary.row("id token", shown(id_token.as_str()));
    }
    if let Some(claims) = claims {
        summary.row(
            "id token claims",
            "(signature, iss, aud, exp, nonce checked)",
        );
        claim_rows(&mut summary, &claims_json(claims));
    }
    summary
}

/// Rows for each claim of a JSON object, times (`exp`, `iat`, `nbf`,
/// `auth_time`) also shown as RFC 3339.
pub fn claim_rows(summary: &mut Summary, claims: &Value) {
    let Some(map) = claims.as_object() else {
        return;
    };
    for (name, value) in map {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let text = match name.as_str() {
            "exp" | "iat" | "nbf" | "auth_time" => match json_time(value) {
                Some(t) => format!("{text} ({t})"),
                None => text,
            },
            _ => text,
        };
        summary.row(format!("  {name}"), text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(600), "10m 0s");
        assert_eq!(duration(3661), "1h 1m 1s");
        assert_eq!(
            time(UnixTime::from_secs(1_800_000_000)),
            "2027-01-15T08:00:00Z"
        );
        assert_eq!(
            json_time(&json!(0)),
            Some("1970-01-01T00:00:00Z".to_owned())
        );
        assert_eq!(json_time(&json!("soon")), None);
    }

    #[test]
    fn summary_aligns_values_without_trailing_spaces() {
        let mut summary = Summary::default();
        summary.row("a", "1").row("longer", "2").row("empty", "");
        assert_eq!(summary.render(), "a       1\nlonger  2\nempty\n");
    }

    #[test]
    fn claim_rows_show_times_and_values() {
        let mut summary = Summary::default();
        claim_rows(
            &mut summary,
            &json!({"sub": "alice", "exp": 0, "aud": ["x"]}),
        );
        assert_eq!(
            summary.render(),
            "  aud  [\"x\"]\n  exp  0 (1970-01-01T00:00:00Z)\n  sub  alice\n"
        );
    }
}
