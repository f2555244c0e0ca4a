//! The grantflow tour: starts the bundled OpenID provider on 127.0.0.1,
//! runs every flow grantflow has today through the ureq adapter, prints each
//! request and response on one line with secrets masked, then stops the
//! provider.
//!
//! Run it with `cargo run -p grantflow-tests --example tour`.

use std::process::ExitCode;

use grantflow::{Flow, Scope};
use grantflow_tests::provider::{API_RESOURCE, CC_BASIC, CC_POST, Provider, UNGRANTED_SCOPE};
use grantflow_tests::redact::{request_line, response_line};
use grantflow_ureq::{Event, HttpClient, drive_observed, now};

type Failure = Box<dyn std::error::Error>;

/// Runs `flow` through the ureq adapter, printing every request and
/// response on one line with secrets masked.
fn run<F: Flow>(http: &HttpClient, flow: F) -> Result<F::Output, grantflow_ureq::Error> {
    drive_observed(http, flow, |event| match event {
        Event::Sending(request) => println!("  → {}", request_line(request)),
        Event::Received(response) => println!("  ← {}", response_line(response)),
        Event::Waiting(until) => println!("  … waiting until {until}"),
        _ => {}
    })
}

fn client_credentials(provider: &Provider, http: &HttpClient) -> Result<(), Failure> {
    for test_client in [CC_BASIC, CC_POST] {
        println!(
            "\nclient credentials (RFC 6749 §4.4), {}",
            test_client.auth_method
        );
        let client = provider.client(test_client)?;
        let flow = client
            .client_credentials()?
            .scope(Scope::new("api:read")?)
            .resource(url::Url::parse(API_RESOURCE)?);
        let tokens = run(http, flow)?;
        println!(
            "  ✓ {} token, scopes {:?}, expires in {} s",
            tokens.token_type,
            tokens
                .scopes
                .iter()
                .flatten()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            tokens
                .expires_in(now())
                .map_or("?".to_owned(), |s| s.to_string()),
        );
    }

    println!("\nclient credentials with a wrong secret");
    let flow = provider
        .client_with_secret(CC_BASIC, "not-the-secret")?
        .client_credentials()?;
    expect_oauth_error(run(http, flow), "invalid_client")?;

    println!("\nclient credentials asking for a scope the client may not have");
    let flow = provider
        .client(CC_BASIC)?
        .client_credentials()?
        .scope(Scope::new(UNGRANTED_SCOPE)?);
    expect_oauth_error(run(http, flow), "invalid_scope")?;
    Ok(())
}

fn expect_oauth_error<T>(
    result: Result<T, grantflow_ureq::Error>,
    code: &str,
) -> Result<(), Failure> {
    match result {
        Err(grantflow_ureq::Error::Flow(grantflow::Error::OAuth(e)))
            if e.error.as_str() == code =>
        {
            println!("  ✓ typed error: {e}");
            Ok(())
        }
        Err(other) => Err(format!("expected {code}, got: {other}").into()),
        Ok(_) => Err(format!("expected {code}, got a token").into()),
    }
}

fn main() -> ExitCode {
    println!("grantflow tour: every flow that exists today, against the bundled OpenID provider");
    let provider = match Provider::start() {
        Ok(provider) => provider,
        Err(e) => {
            eprintln!("could not start the provider: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "provider: {} (oidc-provider, tests/provider)",
        provider.issuer()
    );
    let http = HttpClient::new();
    let result = client_credentials(&provider, &http);
    drop(provider);
    match result {
        Ok(()) => {
            println!("\nprovider stopped; tour complete");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ntour failed: {e}");
            ExitCode::FAILURE
        }
    }
}
