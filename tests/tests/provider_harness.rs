//! The provider harness works: the provider starts, is what the interop tests expect, can be
//! logged in to without a browser, and never outlives its test.
//!
//! Requests here are built by hand (not with grantflow), so a failure points at the harness.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use grantflow_tests::provider::{
    self, ALICE, CC_BASIC, CC_POST, CC_SPECIAL, DEVICE_APP, ES256_APP, REDIRECT_URI, SPA,
    UNGRANTED_SCOPE, WEB_APP,
};
use grantflow_tests::{Provider, TestClient};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

/// A fixed PKCE verifier (RFC 7636 §4.1: 43 to 128 unreserved characters).
const VERIFIER: &str = "harness-test-code-verifier-0123456789-abcdefghijklmnop";

/// `Authorization: Basic` for a client per RFC 6749 §2.3.1: id and secret form-urlencoded first.
fn basic(client: &TestClient) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(client.id), encode(client.secret.unwrap()));
    format!("Basic {}", STANDARD.encode(credentials))
}

/// POSTs a form and returns the status and the JSON body.
fn post(url: &str, authorization: Option<&str>, form: &[(&str, &str)]) -> (u16, Value) {
    let request = provider::agent().post(url);
    let request = match authorization {
        Some(value) => request.header("authorization", value),
        None => request,
    };
    let mut response = request.send_form(form.iter().copied()).unwrap();
    let body = response.body_mut().read_to_string().unwrap();
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (response.status().as_u16(), json)
}

/// The decoded header and claims of a compact JWS (the signature is not checked here).
fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.').map(|part| {
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    });
    (parts.next().unwrap(), parts.next().unwrap())
}

/// An authorization code request for `client` with PKCE S256 over [`VERIFIER`].
fn authorization_url(provider: &Provider, client: &TestClient, scope: &str, state: &str) -> String {
    authorization_url_with(provider, client, scope, state, &[])
}

/// [`authorization_url`] with `extra` parameters.
fn authorization_url_with(
    provider: &Provider,
    client: &TestClient,
    scope: &str,
    state: &str,
    extra: &[(&str, &str)],
) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER));
    let url = Url::parse_with_params(
        &provider.authorization_endpoint(),
        extra.iter().copied().chain([
            ("response_type", "code"),
            ("client_id", client.id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", state),
            ("nonce", "harness-nonce"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            // offline_access is only granted with an explicit consent prompt.
            ("prompt", "consent"),
        ]),
    );
    url.unwrap().into()
}

/// The query parameters of the redirect to the client, after checking where it goes.
fn callback_params(location: &str) -> HashMap<String, String> {
    let url = Url::parse(location).unwrap();
    assert_eq!(&url[..url::Position::AfterPath], REDIRECT_URI, "{location}");
    url.query_pairs().into_owned().collect()
}

/// Logs alice in with `client` and exchanges the code; returns the token response.
fn log_in_and_exchange(provider: &Provider, client: &TestClient, scope: &str) -> Value {
    let code = log_in(provider, client, scope);
    exchange(provider, client, &code)
}

/// Logs alice in with `client` and returns the authorization code.
fn log_in(provider: &Provider, client: &TestClient, scope: &str) -> String {
    log_in_with(provider, client, scope, &[])
}

/// [`log_in`] with `extra` authorization request parameters.
fn log_in_with(
    provider: &Provider,
    client: &TestClient,
    scope: &str,
    extra: &[(&str, &str)],
) -> String {
    let url = authorization_url_with(provider, client, scope, "st4te", extra);
    let location = provider.login(&url, ALICE).unwrap();
    let mut params = callback_params(&location);
    assert_eq!(params["state"], "st4te");
    assert_eq!(params["iss"], provider.issuer());
    params.remove("code").unwrap()
}

/// Exchanges `client`'s authorization code (PKCE over [`VERIFIER`]); returns the token response.
fn exchange(provider: &Provider, client: &TestClient, code: &str) -> Value {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("redirect_uri", REDIRECT_URI),
    ];
    let authorization = client.secret.map(|_| basic(client));
    if authorization.is_none() {
        form.push(("client_id", client.id));
    }
    let (status, tokens) = post(&provider.token_endpoint(), authorization.as_deref(), &form);
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["access_token"].is_string(), "{tokens}");
    tokens
}

#[test]
fn discovery_describes_the_provider() {
    let provider = Provider::shared();
    let mut response = provider::agent()
        .get(&provider.discovery_url())
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    let metadata: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();

    assert_eq!(metadata["issuer"], provider.issuer());
    assert!(provider.issuer().starts_with("http://127.0.0.1:"));
    for (field, url) in [
        ("authorization_endpoint", provider.authorization_endpoint()),
        ("token_endpoint", provider.token_endpoint()),
        (
            "device_authorization_endpoint",
            provider.device_authorization_endpoint(),
        ),
        ("introspection_endpoint", provider.introspection_endpoint()),
        ("revocation_endpoint", provider.revocation_endpoint()),
        ("userinfo_endpoint", provider.userinfo_endpoint()),
        ("jwks_uri", provider.jwks_uri()),
    ] {
        assert_eq!(metadata[field], url, "{field}");
    }
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    for grant in [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let grants = metadata["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&Value::from(grant)), "{grant}");
    }

    let mut response = provider::agent().get(&provider.jwks_uri()).call().unwrap();
    let jwks: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    let mut algs: Vec<_> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    algs.sort_unstable();
    assert_eq!(algs, ["ES256", "RS256"]);
}

#[test]
fn public_client_logs_in_with_pkce_and_gets_tokens() {
    let provider = Provider::shared();
    let tokens = log_in_and_exchange(provider, &SPA, "openid email offline_access");

    let (header, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], provider.issuer());
    assert_eq!(claims["aud"], SPA.id);
    assert_eq!(claims["sub"], ALICE);
    assert_eq!(claims["nonce"], "harness-nonce");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");

    // The access token is good at the UserInfo endpoint, and consent covered the email scope.
    let mut response = provider::agent()
        .get(&provider.userinfo_endpoint())
        .header(
            "authorization",
            format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
        )
        .call()
        .unwrap();
    let userinfo: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(userinfo["sub"], ALICE);
    assert_eq!(userinfo["email"], "alice@example.test");
}

#[test]
fn confidential_clients_get_id_tokens_signed_with_their_alg() {
    let provider = Provider::shared();
    for client in [WEB_APP, ES256_APP] {
        let tokens = log_in_and_exchange(provider, &client, "openid");
        let (header, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
        assert_eq!(header["alg"], client.id_token_alg.unwrap(), "{}", client.id);
        assert_eq!(claims["aud"], client.id);
    }
}

/// GETs `url` and returns the JSON body, after checking the status is 200.
fn get_json(url: &str, bearer: Option<&str>) -> Value {
    let request = provider::agent().get(url);
    let request = match bearer {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    };
    let mut response = request.call().unwrap();
    let body = response.body_mut().read_to_string().unwrap();
    assert_eq!(response.status(), 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

/// The `(kid, alg)` of every key at the provider's jwks_uri, in the order published.
fn published_keys(provider: &Provider) -> Vec<(String, String)> {
    let jwks = get_json(&provider.jwks_uri(), None);
    let keys = jwks["keys"].as_array().unwrap();
    let field = |key: &Value, name: &str| key[name].as_str().unwrap().to_owned();
    keys.iter()
        .map(|key| (field(key, "kid"), field(key, "alg")))
        .collect()
}

/// The `kid` and `alg` in the header of the ID token in a token response.
fn id_token_key(tokens: &Value) -> (String, String) {
    let (header, _) = jwt_parts(tokens["id_token"].as_str().unwrap());
    let field = |name: &str| header[name].as_str().unwrap().to_owned();
    (field("kid"), field("alg"))
}

#[test]
fn rotated_signing_keys_are_published_and_sign_new_id_tokens() {
    // Its own provider: rotation would surprise the tests sharing Provider::shared().
    let provider = Provider::start().unwrap();
    let old = published_keys(&provider);
    assert_eq!(old.len(), 2, "{old:?}");

    let before = [
        log_in_and_exchange(&provider, &WEB_APP, "openid"),
        log_in_and_exchange(&provider, &ES256_APP, "openid"),
    ];
    // Logged in before the rotation, exchanged after it: the code survives it.
    let pending = log_in(&provider, &SPA, "openid");

    let kids = provider.rotate_signing_keys().unwrap();
    assert_eq!(kids.len(), 2, "{kids:?}");
    let new = published_keys(&provider);
    // The new keys come first, one per alg, and the old ones stay published.
    assert_eq!(new.len(), 4, "{new:?}");
    assert_eq!(
        new[..2].iter().map(|(kid, _)| kid).collect::<Vec<_>>(),
        kids.iter().collect::<Vec<_>>()
    );
    assert_eq!(new[0].1, "RS256");
    assert_eq!(new[1].1, "ES256");
    assert_eq!(new[2..], old[..]);
    assert!(kids.iter().all(|kid| old.iter().all(|(old, _)| old != kid)));

    let after = [
        log_in_and_exchange(&provider, &WEB_APP, "openid"),
        log_in_and_exchange(&provider, &ES256_APP, "openid"),
        exchange(&provider, &SPA, &pending),
    ];
    for tokens in &before {
        let (kid, alg) = id_token_key(tokens);
        assert!(
            old.contains(&(kid.clone(), alg.clone())),
            "{kid} {alg}: {old:?}"
        );
    }
    for tokens in &after {
        let (kid, alg) = id_token_key(tokens);
        assert!(
            new[..2].contains(&(kid.clone(), alg.clone())),
            "{kid} {alg}: {new:?}"
        );
    }

    // Again: each rotation adds a key per alg ahead of all the previous ones.
    let again = provider.rotate_signing_keys().unwrap();
    let newest = published_keys(&provider);
    assert_eq!(newest.len(), 6, "{newest:?}");
    assert_eq!(newest[2..], new[..]);
    let tokens = log_in_and_exchange(&provider, &SPA, "openid");
    assert_eq!(
        id_token_key(&tokens),
        (again[0].clone(), "RS256".to_owned())
    );
}

#[test]
fn code_flow_id_tokens_and_userinfo_are_what_interop_tests_expect() {
    let provider = Provider::shared();
    for client in [SPA, WEB_APP, ES256_APP] {
        let scope = "openid email profile";
        let code = log_in_with(provider, &client, scope, &[("max_age", "300")]);
        let tokens = exchange(provider, &client, &code);
        let access_token = tokens["access_token"].as_str().unwrap();
        let (header, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
        assert_eq!(header["alg"], client.id_token_alg.unwrap(), "{}", client.id);

        // OIDC Core §3.1.3.6: the left half of the SHA-256 (RS256 and ES256 alike) of the
        // access token.
        let at_hash = URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token)[..16]);
        assert_eq!(claims["at_hash"], at_hash, "{}: {claims}", client.id);
        // max_age was asked for, so auth_time is there (OIDC Core §2), at most 300 s old.
        let auth_time = claims["auth_time"].as_u64().unwrap();
        let iat = claims["iat"].as_u64().unwrap();
        assert!(auth_time <= iat && iat - auth_time <= 300, "{claims}");
        // Claims of the scopes asked for are only at UserInfo when an access token is issued
        // (OIDC Core §5.4; oidc-provider's conformIdTokenClaims).
        assert!(claims.get("email").is_none(), "{claims}");

        // UserInfo answers plain JSON (no client asks for signed UserInfo).
        let mut response = provider::agent()
            .get(&provider.userinfo_endpoint())
            .header("authorization", format!("Bearer {access_token}"))
            .call()
            .unwrap();
        let content_type = response.headers()[http::header::CONTENT_TYPE].clone();
        assert!(
            content_type
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let userinfo: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(userinfo["sub"], claims["sub"], "{}", client.id);
        assert_eq!(userinfo["email"], "alice@example.test", "{}", client.id);
        assert_eq!(userinfo["name"], "Alice Example", "{}", client.id);
    }

    // Without max_age (nor prompt=login), no auth_time.
    let tokens = log_in_and_exchange(provider, &SPA, "openid");
    let (_, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert!(claims.get("auth_time").is_none(), "{claims}");
    assert!(claims["at_hash"].is_string(), "{claims}");
}

#[test]
fn public_client_without_pkce_is_refused_at_the_redirect() {
    let provider = Provider::shared();
    let url = Url::parse_with_params(
        &provider.authorization_endpoint(),
        [
            ("response_type", "code"),
            ("client_id", SPA.id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("state", "s"),
        ],
    )
    .unwrap();
    let params = callback_params(&provider.login(url.as_str(), ALICE).unwrap());
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(params["state"], "s");
}

#[test]
fn deny_redirects_with_access_denied() {
    let provider = Provider::shared();
    let location = provider
        .deny(&authorization_url(provider, &SPA, "openid", "d3ny"))
        .unwrap();
    let params = callback_params(&location);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "d3ny");
    assert_eq!(params["iss"], provider.issuer());
    assert!(!params.contains_key("code"));
}

#[test]
fn login_errors_say_what_went_wrong() {
    let provider = Provider::shared();
    let error = provider
        .login("http://127.0.0.1:1/auth", ALICE)
        .unwrap_err();
    assert!(
        error.to_string().contains("is not a URL of this provider"),
        "{error}"
    );

    let url = authorization_url(provider, &SPA, "openid", "s");
    let error = provider.login(&url, "mallory").unwrap_err();
    assert!(
        error.to_string().contains(r#"unknown account \"mallory\""#),
        "{error}"
    );
}

#[test]
fn client_credentials_need_form_encoded_basic_credentials() {
    let provider = Provider::shared();
    let form = [("grant_type", "client_credentials"), ("scope", "api:read")];

    let (status, token) = post(&provider.token_endpoint(), Some(&basic(&CC_SPECIAL)), &form);
    assert_eq!(status, 200, "{token}");
    assert!(token["access_token"].is_string());
    assert_eq!(token["scope"], "api:read");

    // The secret as is, not form-urlencoded: `%` at its end cannot be decoded.
    let raw = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", CC_SPECIAL.id, CC_SPECIAL.secret.unwrap()))
    );
    let (status, error) = post(&provider.token_endpoint(), Some(&raw), &form);
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"], "invalid_request");
}

#[test]
fn client_credentials_with_basic_and_post_and_scope_errors() {
    let provider = Provider::shared();
    let token_endpoint = provider.token_endpoint();

    let (status, token) = post(
        &token_endpoint,
        Some(&basic(&CC_BASIC)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", CC_BASIC.scope.unwrap()),
        ],
    );
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["scope"], "api:read api:write");
    assert_eq!(token["expires_in"], 3600);

    let secret = CC_POST.secret.unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CC_POST.id),
        ("client_secret", secret),
    ];
    let (status, token) = post(
        &token_endpoint,
        None,
        &[&form[..], &[("scope", "api:write")]].concat(),
    );
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["scope"], "api:write");

    let (status, error) = post(
        &token_endpoint,
        None,
        &[&form[..], &[("scope", UNGRANTED_SCOPE)]].concat(),
    );
    assert_eq!(
        (status, &error["error"]),
        (400, &Value::from("invalid_scope")),
        "{error}"
    );

    let wrong = [
        ("grant_type", "client_credentials"),
        ("client_id", CC_POST.id),
        ("client_secret", "wrong"),
    ];
    let (status, error) = post(&token_endpoint, None, &wrong);
    assert_eq!(
        (status, &error["error"]),
        (401, &Value::from("invalid_client")),
        "{error}"
    );
}

#[test]
fn every_confidential_client_is_registered_as_declared() {
    let provider = Provider::shared();
    for client in [CC_BASIC, CC_POST, CC_SPECIAL, WEB_APP, ES256_APP] {
        // Introspection authenticates the client like the token endpoint does.
        let mut form = vec![("token", "not-a-token")];
        let authorization = match client.auth_method {
            "client_secret_basic" => Some(basic(&client)),
            "client_secret_post" => {
                form.extend([
                    ("client_id", client.id),
                    ("client_secret", client.secret.unwrap()),
                ]);
                None
            }
            other => panic!("{}: unexpected auth method {other}", client.id),
        };
        let (status, body) = post(
            &provider.introspection_endpoint(),
            authorization.as_deref(),
            &form,
        );
        assert_eq!(
            (status, &body),
            (200, &serde_json::json!({"active": false})),
            "{}",
            client.id
        );
    }
}

#[test]
fn device_flow_is_approved_and_denied_without_a_browser() {
    let provider = Provider::shared();
    let start = |scope| {
        let (status, body) = post(
            &provider.device_authorization_endpoint(),
            None,
            &[("client_id", DEVICE_APP.id), ("scope", scope)],
        );
        assert_eq!(status, 200, "{body}");
        (
            body["device_code"].as_str().unwrap().to_owned(),
            body["user_code"].as_str().unwrap().to_owned(),
        )
    };
    let poll = |device_code: &str| {
        post(
            &provider.token_endpoint(),
            None,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", DEVICE_APP.id),
            ],
        )
    };

    let (device_code, user_code) = start("openid offline_access");
    provider.approve_device(&user_code, ALICE).unwrap();
    let (status, tokens) = poll(&device_code);
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string());
    assert_eq!(
        jwt_parts(tokens["id_token"].as_str().unwrap()).1["sub"],
        ALICE
    );
    // A used code cannot be entered again.
    let error = provider.approve_device(&user_code, ALICE).unwrap_err();
    assert!(error.to_string().contains("DEVICE_FLOW_ERROR"), "{error}");

    let error = provider.deny_device("BCDF-GHJK").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("DEVICE_FLOW_ERROR: the code was not found"),
        "{error}"
    );
    let (device_code, user_code) = start("openid");
    provider.deny_device(&user_code).unwrap();
    let (status, error) = poll(&device_code);
    assert_eq!(
        (status, &error["error"]),
        (400, &Value::from("access_denied")),
        "{error}"
    );
}

#[test]
fn dropping_a_provider_stops_node() {
    let provider = Provider::start().unwrap();
    let pid = provider.pid();
    let address = provider
        .issuer()
        .strip_prefix("http://")
        .unwrap()
        .to_owned();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    TcpStream::connect(&address).unwrap();

    drop(provider);
    // Drop waited for node, so it is gone and reaped, and its port is closed.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(TcpStream::connect(&address).is_err());
}

/// Set for the child process of [`provider_dies_with_the_test_process`].
const CHILD_ENV: &str = "GRANTFLOW_HARNESS_CHILD";

/// The child process of [`provider_dies_with_the_test_process`]: starts the shared provider,
/// says where it is, and waits to be killed.
#[test]
#[ignore = "run by provider_dies_with_the_test_process in a child process"]
fn child_holding_the_shared_provider() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    println!("PROVIDER {}", Provider::shared().issuer());
    std::io::stdin().read_to_end(&mut Vec::new()).unwrap();
}

#[test]
fn provider_dies_with_the_test_process() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_holding_the_shared_provider",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let issuer = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .find_map(|line| line.unwrap().strip_prefix("PROVIDER ").map(str::to_owned))
        .expect("the child process did not start the provider");

    // An idle connection that only node's exit closes (node drops idle sockets after minutes).
    let mut connection = TcpStream::connect(issuer.strip_prefix("http://").unwrap()).unwrap();
    connection
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    // SIGKILL: no destructor runs in the child; only the closing stdin pipe tells node.
    child.kill().unwrap();
    child.wait().unwrap();
    match connection.read(&mut [0; 1]) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("node still serves after its test process was killed: {other:?}"),
    }
}
