//! The `grantflow` command end to end against the bundled OpenID provider
//! (tests/provider, started once per test binary by `Provider::shared()`).
//!
//! Each test runs the built binary and checks its exit code and output; the
//! browser sign-in test plays the browser itself: it reads the URL the
//! command prints, logs in through the provider harness, and follows the
//! redirect to the command's loopback listener.

// Test helpers: a panic is a failed test, not a crash reachable from server input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use grantflow_tests::Provider;
use grantflow_tests::provider::{ALICE, CC_BASIC, CC_POST, CLI, DEVICE_APP, agent};
use serde_json::Value;

fn grantflow() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("grantflow").unwrap();
    // No profiles file of the machine's user, no browser, no terminal prompt.
    command
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", "/nonexistent");
    command.write_stdin("");
    command
}

fn json(output: &[u8]) -> Value {
    serde_json::from_slice(output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

/// What changes from run to run, masked in the snapshots of the human output: ports, times,
/// durations, key ids, seconds since the epoch, hashes. (Tokens are not printed at all.)
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]"),
        (r"in (\d+h )?(\d+m )?\d+s", "in [duration]"),
        (r"kid [A-Za-z0-9_-]{20,}", "kid [kid]"),
        (r"(?m)^(  (exp|iat|auth_time) +)\d+", "$1[secs]"),
        (r"(?m)^(  (at_hash|sid) +)\S+", "$1[value]"),
    ]
}

#[test]
fn client_credentials_basic_from_env_hides_the_token() {
    let provider = Provider::shared();
    let output = grantflow()
        .args([
            "token",
            "--issuer",
            provider.issuer(),
            "--client-id",
            CC_BASIC.id,
        ])
        .args([
            "--client-secret-env",
            "CLI_TEST_SECRET",
            "--scope",
            "api:read",
        ])
        .args(["--resource", "urn:grantflow:api"])
        .env("CLI_TEST_SECRET", CC_BASIC.secret.unwrap())
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        !stdout.contains(CC_BASIC.secret.unwrap()) && !stderr.contains(CC_BASIC.secret.unwrap())
    );
    assert!(
        stderr.is_empty(),
        "no warning for a secret from the environment: {stderr}"
    );
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("client_credentials_human", stdout);
    });
}

#[test]
fn client_credentials_post_json_and_verbose_masking() {
    let provider = Provider::shared();
    let secret = CC_POST.secret.unwrap();
    let output = grantflow()
        .args([
            "token",
            "--issuer",
            provider.issuer(),
            "--client-id",
            CC_POST.id,
        ])
        .args([
            "--auth",
            "post",
            "--client-secret",
            secret,
            "--scope",
            "api:read api:write",
        ])
        .args(["--json", "-v"])
        .assert()
        .success()
        .get_output()
        .clone();
    let document = json(&output.stdout);
    assert_eq!(document["token_type"], "Bearer");
    assert_eq!(document["scope"], "api:read api:write");
    let access_token = document["access_token"].as_str().unwrap();
    assert!(!access_token.is_empty());
    assert!(document["expires_in"].as_u64().unwrap() > 0);
    assert!(document["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(document["refresh_token"].is_null());

    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("warning: a client secret on the command line"),
        "{stderr}"
    );
    assert!(stderr.contains("client_secret=***"), "{stderr}");
    assert!(stderr.contains(r#""access_token":"***""#), "{stderr}");
    assert!(
        !stderr.contains(secret),
        "the secret leaked into -v: {stderr}"
    );
    assert!(
        !stderr.contains(access_token),
        "the token leaked into -v: {stderr}"
    );
}

#[test]
fn a_wrong_secret_is_refused_with_its_oauth_code() {
    let provider = Provider::shared();
    let output = grantflow()
        .args([
            "token",
            "--issuer",
            provider.issuer(),
            "--client-id",
            CC_BASIC.id,
        ])
        .args(["--client-secret-env", "CLI_TEST_SECRET", "--json"])
        .env("CLI_TEST_SECRET", "not-the-secret")
        .assert()
        .code(3)
        .get_output()
        .clone();
    let document = json(&output.stdout);
    assert_eq!(document["error"]["kind"], "refused");
    assert_eq!(document["error"]["code"], "invalid_client");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(!stderr.contains("not-the-secret"), "{stderr}");
}

#[test]
fn an_unknown_issuer_is_a_network_failure_and_bad_input_is_exit_2() {
    // Nothing listens on port 1 of the loopback address.
    let output = grantflow()
        .args(["discover", "http://127.0.0.1:1", "--json"])
        .assert()
        .code(4)
        .get_output()
        .clone();
    assert_eq!(json(&output.stdout)["error"]["kind"], "network");

    // An issuer that answers, but has no metadata at that path: oidc-provider says so with an
    // OAuth error body (invalid_request), which the command reports as a refusal, code shown.
    let provider = Provider::shared();
    let elsewhere = format!("{}/nowhere", provider.issuer());
    let output = grantflow()
        .args(["discover", &elsewhere])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid_request"));

    // A secret that is nowhere: bad input, before any request.
    grantflow()
        .args([
            "token",
            "--token-endpoint",
            &provider.token_endpoint(),
            "--client-id",
            "x",
        ])
        .args(["--client-secret-env", "CLI_TEST_UNSET_VARIABLE"])
        .env_remove("CLI_TEST_UNSET_VARIABLE")
        .assert()
        .code(2);
    // Plain http to anything but loopback is refused by the library: bad input.
    grantflow()
        .args([
            "token",
            "--token-endpoint",
            "http://example.com/token",
            "--client-id",
            "x",
        ])
        .assert()
        .code(2);
    grantflow()
        .args(["token", "--grant", "password"])
        .assert()
        .code(2);
}

#[test]
fn discovery_summary_and_json() {
    let provider = Provider::shared();
    let output = grantflow()
        .args(["discover", provider.issuer()])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(output.stdout).unwrap();
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("discover_human", stdout);
    });

    let output = grantflow()
        .args(["discover", provider.issuer(), "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let document = json(&output.stdout);
    assert_eq!(document["issuer"], provider.issuer());
    assert_eq!(document["endpoints"]["token"], provider.token_endpoint());
    assert_eq!(document["keys"].as_array().unwrap().len(), 2);
}

/// Starts `grantflow token --grant authorization_code --no-browser`, plays
/// the browser (login as alice through the harness, then the redirect to the
/// loopback listener), and returns the command's output.
fn browser_sign_in(extra: &[&str]) -> std::process::Output {
    browser_sign_in_with(extra, |provider, url| provider.login(url, ALICE).unwrap())
}

/// [`browser_sign_in`], with `browser` doing what the user does at the provider; it returns
/// where the provider redirects back to.
fn browser_sign_in_with(
    extra: &[&str],
    browser: impl FnOnce(&Provider, &str) -> String,
) -> std::process::Output {
    let provider = Provider::shared();
    let mut child = Command::new(cargo_bin("grantflow"))
        .args(["token", "--grant", "authorization_code", "--no-browser"])
        .args([
            "--issuer",
            provider.issuer(),
            "--client-id",
            CLI.id,
            "--timeout",
            "60",
        ])
        .args(extra)
        .env("HOME", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut printed = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no URL printed: {printed}"
        );
        printed.push_str(&line);
        if let Some(url) = line.trim().strip_prefix("http") {
            break format!("http{url}");
        }
    };
    assert!(url.starts_with(&provider.authorization_endpoint()), "{url}");
    assert!(
        url.contains("code_challenge_method=S256"),
        "PKCE always: {url}"
    );
    let redirect = browser(provider, &url);
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    // The browser follows the redirect to the command's listener.
    let mut page = agent().get(&redirect).call().unwrap();
    assert_eq!(page.status(), 200);
    let body = page.body_mut().read_to_string().unwrap();
    assert!(body.contains("You can close this tab"), "{body}");
    let mut output = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    printed.push_str(&rest);
    output.stderr = printed.into_bytes();
    output
}

#[test]
fn browser_sign_in_through_the_loopback_listener() {
    let output = browser_sign_in(&["--scope", "openid email", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document = json(&output.stdout);
    assert_eq!(document["token_type"], "Bearer");
    assert_eq!(document["id_token_claims"]["sub"], ALICE);
    assert_eq!(document["id_token_claims"]["aud"][0], CLI.id);
    assert!(document["id_token"].as_str().unwrap().starts_with("eyJ"));
}

#[test]
fn browser_sign_in_human_output_and_save() {
    let dir = std::env::temp_dir().join(format!("grantflow-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("tokens.json");
    let output = browser_sign_in(&[
        "--scope",
        "openid",
        "--scope",
        "offline_access",
        "--prompt",
        "consent",
        "--save",
        saved.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let saved_set: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let access_token = saved_set["access_token"].as_str().unwrap();
    assert!(
        !stdout.contains(access_token),
        "tokens hidden without --show-tokens"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let stdout = stdout.replace(saved.to_str().unwrap(), "[file]");
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("sign_in_human", stdout);
    });

    // The saved set feeds the other commands: refresh, userinfo, introspect… (public
    // client: no introspection), revoke.
    let provider = Provider::shared();
    let refreshed = grantflow()
        .args(["refresh", "--refresh-token-file", saved.to_str().unwrap()])
        .args([
            "--issuer",
            provider.issuer(),
            "--client-id",
            CLI.id,
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let document = json(&refreshed.stdout);
    assert_eq!(document["id_token_claims"]["sub"], ALICE);
    let user = grantflow()
        .args(["userinfo", "--token-file", saved.to_str().unwrap()])
        .args([
            "--issuer",
            provider.issuer(),
            "--client-id",
            CLI.id,
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let document = json(&user.stdout);
    assert_eq!(document["subject_checked"], true);
    assert_eq!(document["claims"]["sub"], ALICE);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_browser_sign_in_times_out_with_a_clear_message() {
    let provider = Provider::shared();
    let output = grantflow()
        .args([
            "token",
            "--grant",
            "authorization_code",
            "--no-browser",
            "--timeout",
            "1",
        ])
        .args([
            "--issuer",
            provider.issuer(),
            "--client-id",
            CLI.id,
            "--scope",
            "openid",
        ])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(6)
        .get_output()
        .clone();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("nobody came back"), "{stderr}");
}

/// An ID token from a browser sign-in, for the JWT commands.
fn id_token() -> String {
    let output = browser_sign_in(&["--scope", "openid", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    json(&output.stdout)["id_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn jwt_decode_and_verify() {
    let provider = Provider::shared();
    let token = id_token();
    let decoded = grantflow()
        .args(["jwt", "decode", &token, "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let document = json(&decoded.stdout);
    assert_eq!(document["header"]["alg"], "RS256");
    assert_eq!(document["claims"]["sub"], ALICE);
    assert!(document.get("verified").is_none());

    // Generic verification: signature, iss, exp, aud.
    grantflow()
        .args([
            "jwt",
            "verify",
            &token,
            "--issuer",
            provider.issuer(),
            "--audience",
            CLI.id,
        ])
        .assert()
        .success();
    // As an ID token for its client.
    let verified = grantflow()
        .args([
            "jwt",
            "verify",
            &token,
            "--issuer",
            provider.issuer(),
            "--client-id",
            CLI.id,
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        String::from_utf8(verified.stdout)
            .unwrap()
            .contains("a valid ID token")
    );
    // For another client, or another audience: a failed check, exit 5.
    grantflow()
        .args([
            "jwt",
            "verify",
            &token,
            "--issuer",
            provider.issuer(),
            "--client-id",
            "web-app",
        ])
        .assert()
        .code(5);
    grantflow()
        .args([
            "jwt",
            "verify",
            &token,
            "--issuer",
            provider.issuer(),
            "--audience",
            "someone",
        ])
        .assert()
        .code(5);
    // A tampered signature: exit 5.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    grantflow()
        .args(["jwt", "verify", &tampered, "--issuer", provider.issuer()])
        .assert()
        .code(5);
    // Not a JWT: bad input.
    grantflow()
        .args(["jwt", "decode", "not-a-jwt"])
        .assert()
        .code(2);
}

#[test]
fn profiles_supply_the_client_and_env_secrets() {
    let provider = Provider::shared();
    let dir = std::env::temp_dir().join(format!("grantflow-cli-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("profiles.toml");
    std::fs::write(
        &config,
        format!(
            "[svc]\nissuer = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"env:CLI_PROFILE_SECRET\"\n\
             auth = \"basic\"\ngrant = \"client_credentials\"\nscope = [\"api:read\"]\n",
            provider.issuer(),
            CC_BASIC.id
        ),
    )
    .unwrap();
    let output = grantflow()
        .args([
            "token",
            "--config",
            config.to_str().unwrap(),
            "--profile",
            "svc",
            "--json",
        ])
        .env("CLI_PROFILE_SECRET", CC_BASIC.secret.unwrap())
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json(&output.stdout)["scope"], "api:read");
    grantflow()
        .args([
            "token",
            "--config",
            config.to_str().unwrap(),
            "--profile",
            "nope",
        ])
        .assert()
        .code(2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_subcommand_has_help() {
    let top = grantflow()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let top = String::from_utf8(top).unwrap();
    assert!(top.contains("Exit codes:"), "{top}");
    for command in [
        vec!["discover"],
        vec!["token"],
        vec!["refresh"],
        vec!["userinfo"],
        vec!["introspect"],
        vec!["revoke"],
        vec!["jwt", "decode"],
        vec!["jwt", "verify"],
    ] {
        assert!(top.contains(command[0]), "{command:?} missing from --help");
        let help = grantflow()
            .args(&command)
            .arg("--help")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let help = String::from_utf8(help).unwrap();
        assert!(help.contains("Usage: grantflow"), "{command:?}: {help}");
        assert!(help.contains("--json"), "{command:?}: {help}");
    }
}

#[test]
fn device_grant_shows_the_code_and_polls_until_approved() {
    let provider = Provider::shared();
    let mut child = Command::new(cargo_bin("grantflow"))
        .args(["token", "--grant", "device", "--issuer", provider.issuer()])
        .args(["--client-id", DEVICE_APP.id, "--scope", "openid", "--json"])
        .env("HOME", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut printed = String::new();
    let mut after_prompt = false;
    let user_code = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no user code printed: {printed}"
        );
        printed.push_str(&line);
        if line.contains("enter the code") {
            after_prompt = true;
        } else if after_prompt && !line.trim().is_empty() {
            break line.trim().to_owned();
        }
    };
    assert!(
        printed.contains(&format!("open {}", provider.url("/device"))),
        "{printed}"
    );
    // The user approves on "another device"; the command is polling meanwhile (the provider's
    // interval, 5 s: the command's own wait, not the test's).
    provider.approve_device(&user_code, ALICE).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{printed}");
    let document = json(&output.stdout);
    assert_eq!(document["id_token_claims"]["sub"], ALICE);
    assert_eq!(document["id_token_claims"]["aud"][0], DEVICE_APP.id);
}

#[test]
fn a_denied_sign_in_is_refused_with_access_denied() {
    let output = browser_sign_in_with(&["--scope", "openid", "--json"], |provider, url| {
        provider.deny(url).unwrap()
    });
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document = json(&output.stdout);
    assert_eq!(document["error"]["kind"], "refused");
    assert_eq!(document["error"]["code"], "access_denied");
}

#[test]
fn introspect_then_revoke_then_introspect() {
    let provider = Provider::shared();
    let secret = CC_BASIC.secret.unwrap();
    let client = ["--issuer", provider.issuer(), "--client-id", CC_BASIC.id];
    let secret_env = ["--client-secret-env", "CLI_TEST_SECRET"];
    let issued = grantflow()
        .arg("token")
        .args(client)
        .args(secret_env)
        .args(["--scope", "api:read", "--json"])
        .env("CLI_TEST_SECRET", secret)
        .assert()
        .success()
        .get_output()
        .clone();
    let access_token = json(&issued.stdout)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let introspect = || {
        let output = grantflow()
            .args([
                "introspect",
                &access_token,
                "--hint",
                "access_token",
                "--json",
            ])
            .args(client)
            .args(secret_env)
            .env("CLI_TEST_SECRET", secret)
            .assert()
            .success()
            .get_output()
            .clone();
        json(&output.stdout)
    };
    let before = introspect();
    assert_eq!(before["active"], true);
    assert_eq!(before["claims"]["client_id"], CC_BASIC.id);
    assert_eq!(before["claims"]["scope"], "api:read");

    let revoked = grantflow()
        .args(["revoke", &access_token, "--hint", "access_token"])
        .args(client)
        .args(secret_env)
        .env("CLI_TEST_SECRET", secret)
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        String::from_utf8(revoked.stdout)
            .unwrap()
            .starts_with("revoked")
    );
    assert_eq!(introspect()["active"], false);
}

#[test]
fn jwt_client_authentication_and_dpop() {
    let provider = Provider::shared();
    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/keys/es256.pem");
    // private_key_jwt: no secret travels, a signed assertion does.
    let output = grantflow()
        .args([
            "token",
            "--issuer",
            provider.issuer(),
            "--client-id",
            "pkjwt-es256",
        ])
        .args([
            "--auth",
            "private_key_jwt",
            "--private-key",
            key,
            "--key-id",
            "client-es256",
        ])
        .args(["--scope", "api:read", "--json", "-v"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json(&output.stdout)["token_type"], "Bearer");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("client_assertion=***"), "{stderr}");

    // DPoP with a fresh key: the provider's nonce challenge is met by one retry.
    let output = grantflow()
        .args([
            "token",
            "--issuer",
            provider.issuer(),
            "--client-id",
            CC_BASIC.id,
        ])
        .args([
            "--client-secret-env",
            "CLI_TEST_SECRET",
            "--scope",
            "api:read",
            "--dpop",
        ])
        .args(["--json", "-v"])
        .env("CLI_TEST_SECRET", CC_BASIC.secret.unwrap())
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json(&output.stdout)["token_type"], "DPoP");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("use_dpop_nonce"), "{stderr}");
}

#[test]
fn show_tokens_prints_them_in_the_summary() {
    let provider = Provider::shared();
    let output = grantflow()
        .args([
            "token",
            "--issuer",
            provider.issuer(),
            "--client-id",
            CC_BASIC.id,
        ])
        .args(["--client-secret-env", "CLI_TEST_SECRET", "--show-tokens"])
        .env("CLI_TEST_SECRET", CC_BASIC.secret.unwrap())
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("access token"))
        .unwrap();
    let token = line.trim_start_matches("access token").trim();
    assert!(!token.contains("hidden") && token.len() >= 20, "{stdout}");
    assert!(!stdout.contains(CC_BASIC.secret.unwrap()));
}
