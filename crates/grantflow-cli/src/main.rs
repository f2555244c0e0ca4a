//! The `grantflow` command; everything is in the library ([`grantflow_cli::run`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    grantflow_cli::run(std::env::args_os())
}
