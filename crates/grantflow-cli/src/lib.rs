//! The `grantflow` command: every OAuth 2.0 / OpenID Connect flow against any
//! issuer, from the terminal, on grantflow's blocking ureq adapter.
//!
//! ```text
//! grantflow discover https://accounts.example.com
//! grantflow token --issuer https://accounts.example.com --client-id svc --client-secret-env SECRET
//! grantflow token --grant authorization_code --issuer https://accounts.example.com --client-id cli --scope openid
//! grantflow jwt verify eyJ… --issuer https://accounts.example.com
//! ```
//!
//! `grantflow --help` lists every subcommand and the exit codes; each
//! subcommand has its own `--help`. The library half of this crate is
//! [`run`] (what `main` calls) and [`redact`], the secret-free one-line
//! rendering of requests and responses that `-v` prints (the workspace's
//! tests and tour print with it too).
//!
//! Module map: `args` (the command line), `client` (options and profile to a
//! `grantflow::Client`), `config` (profiles), `output` (human summary, JSON,
//! the observed driver), `error` (failures and exit codes), `loopback` (the
//! redirect listener), `commands/*` (one module per subcommand).

mod args;
mod client;
mod commands;
mod config;
mod error;
mod loopback;
mod output;
pub mod redact;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, JwtCommand};
use crate::output::Ctx;

/// Parses `args` (the program name first) and runs the command; returns the
/// exit code (see `grantflow --help`). Errors are printed on stderr, and as
/// `{"error": {"kind", "code", "message"}}` on stdout with `--json`.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version print and exit 0; usage errors exit 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
    };
    let ctx = Ctx::new(&cli.output);
    let output = &cli.output;
    let result = match cli.command {
        Command::Discover(args) => commands::discover::run(&ctx, output, &args),
        Command::Token(args) => commands::token::run(&ctx, output, *args),
        Command::Refresh(args) => commands::token::run_refresh(&ctx, output, *args),
        Command::Userinfo(args) => commands::userinfo::run(&ctx, output, *args),
        Command::Introspect(args) => commands::tokens::introspect(&ctx, output, *args),
        Command::Revoke(args) => commands::tokens::revoke(&ctx, output, *args),
        Command::Jwt(JwtCommand::Decode(args)) => commands::jwt::run_decode(&ctx, &args),
        Command::Jwt(JwtCommand::Verify(args)) => commands::jwt::run_verify(&ctx, output, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            if ctx.json {
                ctx.print_json(&failure.to_json());
            }
            ExitCode::from(failure.exit_code())
        }
    }
}
