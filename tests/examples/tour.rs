//! The grantflow tour: starts the bundled OpenID provider on 127.0.0.1,
//! runs every flow grantflow has today through the ureq adapter (and a few
//! through the async adapter on smol), prints each request and response on
//! one line with secrets masked, then stops the provider.
//!
//! Lines starting with `→`/`←` are HTTP requests and responses the client
//! sent and received; `⇢`/`⇠` are what the user's browser does (the harness
//! plays it, no human needed); `✓` is what the client concluded.
//!
//! Run it with `cargo run -p grantflow-tests --example tour`; add `-- --async`
//! to drive every flow through the async adapter (grantflow-async on smol)
//! instead of the blocking one.

use std::process::ExitCode;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow::{
    Access, Applied, Client, ClientAuth, ClientId, ClientSecret, DiscoveredProvider, Discovery,
    Flow, IdToken, Issuer, LogoutOptions, RedirectUri, Scope, SealKey, Sealer, Session, SignIn,
    Step, TokenTypeHint, UnixTime,
};
use grantflow_tests::TestClient;
use grantflow_tests::provider::{
    ALICE, API_RESOURCE, BOB, CC_BASIC, CC_POST, DEVICE_APP, ES256_APP, POST_LOGOUT_REDIRECT_URI,
    Provider, REDIRECT_URI, SPA, UNGRANTED_SCOPE, WEB_APP,
};
use grantflow_tests::redact::{request_line, response_line, url_line};
use grantflow_ureq::{Event, HttpClient, drive_observed, now, os_rng};

type Failure = Box<dyn std::error::Error>;

/// Whether the tour drives its flows through the async adapter (on smol)
/// instead of the ureq adapter: `--async`.
static ASYNC: OnceLock<bool> = OnceLock::new();

fn use_async() -> bool {
    *ASYNC.get_or_init(|| std::env::args().any(|arg| arg == "--async"))
}

/// The async adapter's client, shared by the whole tour (connection reuse).
fn async_http() -> &'static grantflow_async::HttpClient {
    static HTTP: OnceLock<grantflow_async::HttpClient> = OnceLock::new();
    HTTP.get_or_init(grantflow_async::HttpClient::new)
}

/// Why a flow run by the tour failed, whichever adapter ran it.
#[derive(Debug)]
enum RunError {
    /// The flow failed: the server said no, answered nonsense, a check failed.
    Flow(grantflow::Error),
    /// The adapter could not carry a request.
    Transport(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Flow(error) => write!(f, "{error}"),
            RunError::Transport(error) => write!(f, "transport: {error}"),
        }
    }
}

impl std::error::Error for RunError {}

/// Runs `flow` through the ureq adapter (or the async one with `--async`),
/// printing every request and response on one line with secrets masked.
fn run<F: Flow>(http: &HttpClient, flow: F) -> Result<F::Output, RunError> {
    run_counted(http, flow).0
}

/// [`run`], also returning `METHOD URL` of every request sent.
fn run_counted<F: Flow>(http: &HttpClient, flow: F) -> (Result<F::Output, RunError>, Vec<String>) {
    let mut sent = Vec::new();
    let mut sending = |request: &grantflow::HttpRequest| {
        sent.push(format!("{} {}", request.method(), request.uri()));
        println!("  → {}", request_line(request));
    };
    let result = if use_async() {
        let observed = smol::block_on(grantflow_async::drive_observed(
            async_http(),
            flow,
            |event| match event {
                grantflow_async::Event::Sending(request) => sending(request),
                grantflow_async::Event::Received(response) => {
                    println!("  ← {}", response_line(response))
                }
                grantflow_async::Event::Waiting(until) => println!("  … waiting until {until}"),
                _ => {}
            },
        ));
        observed.map_err(|error| match error {
            grantflow_async::Error::Flow(error) => RunError::Flow(error),
            other => RunError::Transport(other.to_string()),
        })
    } else {
        drive_observed(http, flow, |event| match event {
            Event::Sending(request) => sending(request),
            Event::Received(response) => println!("  ← {}", response_line(response)),
            Event::Waiting(until) => println!("  … waiting until {until}"),
            _ => {}
        })
        .map_err(|error| match error {
            grantflow_ureq::Error::Flow(error) => RunError::Flow(error),
            other => RunError::Transport(other.to_string()),
        })
    };
    (result, sent)
}

/// Runs `flow` in fake time: each request really goes to the provider, but a
/// `WaitUntil` moves the clock to its deadline at once instead of sleeping
/// (device polling would otherwise wait its 5 s interval).
fn run_in_fake_time<F: Flow>(
    http: &HttpClient,
    mut flow: F,
    start: UnixTime,
) -> Result<F::Output, Failure> {
    let mut now = start;
    let mut step = flow.start(now)?;
    loop {
        step = match step {
            Step::Send(request) => {
                println!("  → {}", request_line(&request));
                let response = if use_async() {
                    smol::block_on(async_http().send(request))?
                } else {
                    http.send(request)?
                };
                println!("  ← {}", response_line(&response));
                flow.handle_response(response, now)?
            }
            Step::WaitUntil(until) => {
                println!("  … wait {} s (fake time: no sleep)", now.secs_until(until));
                now = now.max(until);
                flow.handle_timeout(now)?
            }
            Step::Done(output) => return Ok(output),
        };
    }
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

fn expect_oauth_error<T>(result: Result<T, RunError>, code: &str) -> Result<(), Failure> {
    match result {
        Err(RunError::Flow(grantflow::Error::OAuth(e))) if e.error.as_str() == code => {
            println!("  ✓ typed error: {e}");
            Ok(())
        }
        Err(other) => Err(format!("expected {code}, got: {other}").into()),
        Ok(_) => Err(format!("expected {code}, got a token").into()),
    }
}

/// OpenID discovery: the metadata document, then the JWK Set.
fn discover(provider: &Provider, http: &HttpClient) -> Result<DiscoveredProvider, Failure> {
    println!("  discovery (OpenID Connect Discovery 1.0)");
    let discovered = run(http, Discovery::openid(Issuer::new(provider.issuer())?))?;
    println!(
        "  ✓ issuer {} (identical to the configured one), {} signing keys, \
         RFC 9207 iss in redirects: {}",
        discovered.issuer().as_str(),
        discovered.jwks().map_or(0, |keys| keys.keys().len()),
        if discovered
            .metadata()
            .authorization_response_iss_parameter_supported
        {
            "announced, so required"
        } else {
            "not announced"
        }
    );
    Ok(discovered)
}

/// A client of the discovered provider for a registered test client.
fn client(discovered: &DiscoveredProvider, test_client: TestClient) -> Client {
    let auth = match test_client.secret {
        Some(secret) => ClientAuth::ClientSecretBasic(ClientSecret::new(secret)),
        None => ClientAuth::None,
    };
    Client::from_provider(discovered, ClientId::new(test_client.id), auth)
}

/// The first characters of a `kid` (a 43-character key thumbprint here).
fn short_kid(kid: &str) -> String {
    format!("{}…", kid.chars().take(8).collect::<String>())
}

/// The `kid` in the JOSE header of a validated ID token.
fn kid_of(id_token: &IdToken) -> String {
    let header = id_token
        .raw()
        .as_str()
        .split('.')
        .next()
        .unwrap_or_default();
    URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .and_then(|header| header.get("kid")?.as_str().map(short_kid))
        .unwrap_or_else(|| "none".to_owned())
}

/// One sign-in of `account`: the authorization URL, the login (played by the
/// harness), the callback and the code exchange. Returns the sign-in and the
/// requests the exchange sent.
fn sign_in_as(
    provider: &Provider,
    http: &HttpClient,
    client: &Client,
    scopes: &[&str],
    account: &str,
) -> Result<(SignIn, Vec<String>), Failure> {
    let mut request = client.sign_in(REDIRECT_URI)?;
    for scope in scopes {
        request = request.scope(Scope::new(*scope)?);
    }
    let (url, pending) = request.begin(&mut os_rng(), now())?;
    println!("  ⇢ browser goes to {}", url_line(url.as_str()));
    let location = provider.login(url.as_str(), account)?;
    println!("  ⇢ {account} logs in and consents");
    println!("  ⇠ redirected back to {}", url_line(&location));
    let exchange = pending.callback(client, &location, now())?;
    println!("  ✓ callback: state matches, iss is the issuer; exchanging the code");
    let (result, sent) = run_counted(http, exchange);
    Ok((result?, sent))
}

/// Prints what a validated ID token says.
fn print_id_token(sign_in: &SignIn) -> Result<&IdToken, Failure> {
    let id_token = &sign_in.id_token;
    let claims = id_token.claims();
    println!(
        "  ✓ id token valid (signature, iss, aud, exp, iat, nonce{}): sub {:?}, iss {}, aud {:?}, \
         alg {}, kid {}",
        if claims.at_hash.is_some() {
            ", at_hash"
        } else {
            ""
        },
        id_token.subject(),
        claims.iss,
        claims.aud,
        id_token.algorithm().name(),
        kid_of(id_token),
    );
    Ok(id_token)
}

fn sign_ins(provider: &Provider, http: &HttpClient) -> Result<(), Failure> {
    println!(
        "\nOpenID Connect sign-in (authorization code + PKCE), public client {}",
        SPA.id
    );
    let discovered = discover(provider, http)?;
    let spa = client(&discovered, SPA);
    let (sign_in, _) = sign_in_as(provider, http, &spa, &["openid", "email"], ALICE)?;
    let id_token = print_id_token(&sign_in)?;
    println!("  userinfo (OIDC Core §5.3)");
    let info = run(http, spa.userinfo(&sign_in.tokens, id_token)?)?;
    println!(
        "  ✓ userinfo sub {:?} (same as the id token's), email {:?}",
        info.sub,
        info.string("email").unwrap_or("-")
    );

    for test_client in [WEB_APP, ES256_APP] {
        println!(
            "\nsign-in, confidential client {} ({}, {} id tokens; same discovered provider)",
            test_client.id,
            test_client.auth_method,
            test_client.id_token_alg.unwrap_or("?")
        );
        let client = client(&discovered, test_client);
        let (sign_in, _) = sign_in_as(provider, http, &client, &["openid"], ALICE)?;
        print_id_token(&sign_in)?;
    }

    println!("\ndenied login (the user cancels)");
    let (url, pending) = spa.sign_in(REDIRECT_URI)?.begin(&mut os_rng(), now())?;
    println!("  ⇢ browser goes to {}", url_line(url.as_str()));
    let location = provider.deny(url.as_str())?;
    println!("  ⇢ the user cancels at the login prompt");
    println!("  ⇠ redirected back to {}", url_line(&location));
    match pending.callback(&spa, &location, now()) {
        Err(grantflow::Error::OAuth(e)) if e.error == grantflow::ErrorCode::AccessDenied => {
            println!("  ✓ state and iss checked first, then the typed error: {e}");
            Ok(())
        }
        Err(other) => Err(format!("expected access_denied, got: {other}").into()),
        Ok(_) => Err("expected access_denied, got a code".into()),
    }
}

/// Refresh, the token session, a sealed cookie, introspection and logout
/// with revocation, for a confidential web app.
fn lifecycle(provider: &Provider, http: &HttpClient) -> Result<(), Failure> {
    println!(
        "\nstaying signed in: a session with a refresh token (RFC 6749 §6), {}",
        WEB_APP.id
    );
    let discovered = discover(provider, http)?;
    let client = client(&discovered, WEB_APP);
    let mut request = client
        .sign_in(REDIRECT_URI)?
        .scopes([Scope::new("openid")?, Scope::new("offline_access")?])
        .prompt("consent");
    request = request.scope(Scope::new("email")?);
    let (url, pending) = request.begin(&mut os_rng(), now())?;
    println!("  ⇢ browser goes to {}", url_line(url.as_str()));
    let location = provider.login(url.as_str(), BOB)?;
    println!("  ⇢ {BOB} logs in and consents to offline access");
    let sign_in = run(http, pending.callback(&client, &location, now())?)?;
    let mut session = Session::from_sign_in(&sign_in);
    println!(
        "  ✓ session for sub {:?}; refresh token issued: {}",
        session
            .identity()
            .map(|i| i.subject.as_str())
            .unwrap_or("-"),
        session.tokens().refresh_token.is_some()
    );

    let sealer = Sealer::new(SealKey::generate(&mut os_rng()), "tour-session", 86_400);
    let cookie = sealer.seal(&session, &mut os_rng(), now())?;
    println!(
        "  ✓ sealed for an HttpOnly cookie: {} bytes (limit 4096), opened again",
        cookie.len()
    );
    let restored: Session = sealer.open(&cookie, now())?;
    if restored.tokens().access_token.secret() != session.tokens().access_token.secret() {
        return Err("the sealed session did not open to the same tokens".into());
    }

    match session.access_token(&client, now())? {
        Access::Ready(tokens) => println!(
            "  ✓ access token ready, expires in {:?} s",
            tokens.expires_in(now())
        ),
        other => return Err(format!("a fresh token should be ready, got {other:?}").into()),
    }
    // 59 minutes on (a `now` passed in, no waiting): within the 60 s margin.
    let later = now().saturating_add_secs(3550);
    let Access::Refresh(refresh) = session.access_token(&client, later)? else {
        return Err("a token 50 s from expiry should be refreshed".into());
    };
    println!("  … 59 minutes later the token is due: refresh");
    let result = match run(http, refresh) {
        Ok(refreshed) => Ok(refreshed),
        Err(RunError::Flow(e)) => Err(e),
        Err(transport) => {
            // No answer: the session keeps the old token and retries later.
            session.retry_later(later);
            return Err(transport.into());
        }
    };
    match session.apply_refresh(result, later) {
        Applied::Updated { rotation, .. } => println!(
            "  ✓ refreshed: new access token, refresh token {:?}, id token re-validated and still sub {:?}",
            rotation.ok_or("a refresh reports its rotation")?,
            session
                .identity()
                .map(|i| i.subject.as_str())
                .unwrap_or("-")
        ),
        Applied::Failed(e) | Applied::Ended(e) => return Err(e.into()),
    }

    println!("  introspection (RFC 7662) of the new access token");
    let access_token = session.tokens().access_token.clone();
    let info = run(
        http,
        client.introspect(access_token.secret(), Some(TokenTypeHint::AccessToken))?,
    )?;
    println!(
        "  ✓ active {}, client {:?}, sub {:?}",
        info.active, info.client_id, info.sub
    );

    println!("\nlogout: revocation (RFC 7009), then RP-initiated logout");
    let options = LogoutOptions::new()
        .post_logout_redirect_uri(RedirectUri::new(POST_LOGOUT_REDIRECT_URI)?)
        .state("tour");
    let logged_out = run(http, session.logout(&client, &options)?)?;
    println!(
        "  ✓ revoked {:?}, failures {}",
        logged_out.revoked,
        logged_out.failures.len()
    );
    let url = logged_out
        .end_session_url
        .ok_or("the provider has an end_session_endpoint")?;
    println!("  ⇢ browser goes to {}", url_line(url.as_str()));
    let status = grantflow_tests::provider::agent()
        .get(url.as_str())
        .call()?
        .status();
    println!("  ⇠ http {status}: the provider asks to confirm its own logout");
    let info = run(
        http,
        client.introspect(access_token.secret(), Some(TokenTypeHint::AccessToken))?,
    )?;
    println!(
        "  ✓ the revoked access token is now active: {}",
        info.active
    );
    if info.active || status != 200 {
        return Err("logout did not end the session at the provider".into());
    }
    Ok(())
}

/// The device authorization grant (RFC 8628), the user played by the harness.
fn device_flow(provider: &Provider, http: &HttpClient) -> Result<(), Failure> {
    println!(
        "\ndevice authorization grant (RFC 8628), public client {}",
        DEVICE_APP.id
    );
    let discovered = discover(provider, http)?;
    let client = client(&discovered, DEVICE_APP);
    let authorization = run(
        http,
        client
            .device_authorization()?
            .scopes([Scope::new("openid")?, Scope::new("email")?]),
    )?;
    println!(
        "  ✓ show the user: open {} and enter {} (expires in {} s)",
        authorization.verification_uri(),
        authorization.user_code(),
        authorization
            .received_at()
            .secs_until(authorization.expires_at())
    );
    provider.approve_device(authorization.user_code(), ALICE)?;
    println!("  ⇢ {ALICE} enters the code on another device and approves");
    let start = authorization.received_at();
    let device = run_in_fake_time(http, authorization.poll(), start)?;
    println!(
        "  ✓ tokens after polling; id token validated: sub {:?}",
        device.id_token.as_ref().map(|t| t.subject()).unwrap_or("-")
    );
    Ok(())
}

/// Pushed authorization requests (RFC 9126): the request goes over the back
/// channel, the browser carries only `client_id` and `request_uri`.
fn pushed_authorization(provider: &Provider, http: &HttpClient) -> Result<(), Failure> {
    println!("\npushed authorization request (RFC 9126), {}", WEB_APP.id);
    let discovered = discover(provider, http)?;
    let client = client(&discovered, WEB_APP);
    let push = client
        .sign_in(REDIRECT_URI)?
        .scope(Scope::new("email")?)
        .push(&mut os_rng(), now())?;
    let (url, pending) = run(http, push)?;
    println!("  ⇢ browser goes to {}", url_line(url.as_str()));
    let location = provider.login(url.as_str(), ALICE)?;
    println!("  ⇠ redirected back to {}", url_line(&location));
    let sign_in = run(http, pending.callback(&client, &location, now())?)?;
    print_id_token(&sign_in)?;
    Ok(())
}

/// Client-side signing. JWT client authentication (RFC 7523 §2.2):
/// `private_key_jwt` with an ES256 key and `client_secret_jwt` (HS256), for
/// client credentials and a sign-in; no secret ever travels, only a signed,
/// single-use assertion. Then DPoP (RFC 9449): a sign-in whose tokens are
/// bound to the client's key, the provider's nonce met by one retry, and
/// UserInfo with the bound token.
fn signing(provider: &Provider, http: &HttpClient) -> Result<(), Failure> {
    println!(
        "
private_key_jwt and client_secret_jwt (RFC 7523 §2.2, OIDC Core §9)"
    );
    let discovered = discover(provider, http)?;
    let signer = grantflow::Es256Signer::from_pkcs8_pem(include_str!("../keys/es256.pem"))?
        .with_key_id("client-es256");
    let clients = [
        (
            "pkjwt-es256",
            ClientAuth::private_key_jwt(signer, &mut os_rng()),
        ),
        (
            "csjwt-app",
            ClientAuth::client_secret_jwt(
                ClientSecret::new("csjwt-app-secret-0123456789abcdefghijkl"),
                &mut os_rng(),
            )?,
        ),
    ];
    for (id, auth) in clients {
        let client = Client::from_provider(&discovered, ClientId::new(id), auth);
        println!("  {id}: {:?}", client.auth());
        let tokens = run(
            http,
            client.client_credentials()?.scope(Scope::new("api:read")?),
        )?;
        println!("  ✓ {} token by client credentials", tokens.token_type);
        let (url, pending) = client
            .sign_in(REDIRECT_URI)?
            .scope(Scope::new("email")?)
            .begin(&mut os_rng(), now())?;
        let location = provider.login(url.as_str(), ALICE)?;
        let sign_in = run(http, pending.callback(&client, &location, now())?)?;
        println!("  ✓ {id} signed in {}", sign_in.id_token.subject());
    }

    println!("\nDPoP (RFC 9449): a sign-in with tokens bound to the client's key");
    let key = grantflow::DpopKey::new(
        grantflow::Es256Signer::from_pkcs8_pem(include_str!("../keys/es256.pem"))?,
        &mut os_rng(),
    )?;
    let client = client(&discovered, WEB_APP).with_dpop(key);
    let (url, pending) = client
        .sign_in(REDIRECT_URI)?
        .scope(Scope::new("email")?)
        .begin(&mut os_rng(), now())?;
    let location = provider.login(url.as_str(), ALICE)?;
    println!("  (the first proof has no nonce: use_dpop_nonce, then one retry with it)");
    let sign_in = run(http, pending.callback(&client, &location, now())?)?;
    println!(
        "  ✓ {} token for {}",
        sign_in.tokens.token_type,
        sign_in.id_token.subject()
    );
    let user = run(http, client.userinfo(&sign_in.tokens, &sign_in.id_token)?)?;
    println!(
        "  ✓ UserInfo with Authorization: DPoP and a proof: {}",
        user.sub
    );
    Ok(())
}

/// The async adapter on smol: discovery and client credentials, with no tokio.
fn async_adapter(provider: &Provider) -> Result<(), Failure> {
    println!("\nasync adapter (grantflow-async) on smol: discovery, client credentials");
    let http = grantflow_async::HttpClient::new();
    smol::block_on(async {
        let issuer = Issuer::new(provider.issuer())?;
        let discovered = grantflow_async::drive(&http, Discovery::openid(issuer)).await?;
        println!("  ✓ discovered {}", discovered.metadata().issuer);
        let client = provider.client(CC_BASIC)?;
        let tokens = grantflow_async::drive(
            &http,
            client.client_credentials()?.scope(Scope::new("api:read")?),
        )
        .await?;
        println!(
            "  ✓ client credentials token, {:?}, expires in {:?} s",
            tokens.token_type,
            tokens.expires_in(grantflow_async::now())
        );
        Ok::<(), Failure>(())
    })
}

/// Key rotation, on a provider of its own (rotating changes it for everyone).
fn key_rotation(http: &HttpClient) -> Result<(), Failure> {
    let provider = Provider::start()?;
    println!(
        "\nsigning key rotation (OIDC Core §10.1.1), on a provider of its own: {}",
        provider.issuer()
    );
    let discovered = discover(&provider, http)?;
    let client = client(&discovered, WEB_APP);
    println!("  sign-in before the rotation");
    let (sign_in, sent) = sign_in_as(&provider, http, &client, &["openid"], ALICE)?;
    let id_token = print_id_token(&sign_in)?;
    let fetches = jwks_fetches(&provider, &sent);
    if fetches != 0 {
        return Err(format!("expected no JWK Set fetch, saw {fetches}").into());
    }
    println!(
        "  ✓ kid {} is one discovery fetched: no JWK Set request during the exchange",
        kid_of(id_token)
    );

    let kids = provider.rotate_signing_keys()?;
    println!(
        "  ↻ the provider rotates its signing keys: new kids {} (old keys stay published)",
        kids.iter()
            .map(|kid| short_kid(kid))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  sign-in with the same client, its cached keys now stale");
    let (sign_in, sent) = sign_in_as(&provider, http, &client, &["openid"], ALICE)?;
    let id_token = print_id_token(&sign_in)?;
    let fetches = jwks_fetches(&provider, &sent);
    if fetches != 1 {
        return Err(format!("expected one JWK Set fetch, saw {fetches}").into());
    }
    println!(
        "  ✓ unknown kid {} → the JWK Set fetched once, the id token verified with the new key",
        kid_of(id_token)
    );
    Ok(())
}

/// How many of `sent` (`METHOD URL`) fetched the provider's JWK Set.
fn jwks_fetches(provider: &Provider, sent: &[String]) -> usize {
    let jwks = format!("GET {}", provider.jwks_uri());
    sent.iter().filter(|line| **line == jwks).count()
}

fn main() -> ExitCode {
    println!(
        "grantflow tour: every flow that exists today, against the bundled OpenID provider, \
         through the {} adapter",
        if use_async() {
            "async (grantflow-async on smol; without --async: ureq)"
        } else {
            "blocking (grantflow-ureq; with --async: grantflow-async)"
        }
    );
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
    let result = client_credentials(&provider, &http)
        .and_then(|()| sign_ins(&provider, &http))
        .and_then(|()| lifecycle(&provider, &http))
        .and_then(|()| device_flow(&provider, &http))
        .and_then(|()| pushed_authorization(&provider, &http))
        .and_then(|()| signing(&provider, &http))
        .and_then(|()| async_adapter(&provider))
        .and_then(|()| key_rotation(&http));
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
