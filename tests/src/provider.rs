//! A real OpenID provider on 127.0.0.1 for interop tests, and a browser that needs no human.
//!
//! [`Provider::start`] runs `tests/provider/provider.mjs` (node-oidc-provider, pinned in
//! `tests/provider/package.json`) under Node.js on a port the OS picks, and waits until its
//! discovery document answers. The provider knows a fixed set of clients ([`CC_BASIC`],
//! [`WEB_APP`], [`SPA`], …) and accounts ([`ALICE`], [`BOB`]); see the table at the top of
//! `provider.mjs`.
//!
//! What a browser and a person would do is done by the harness over plain HTTP:
//! [`Provider::login`] and [`Provider::deny`] walk an authorization request through the
//! provider's login and consent prompts and return where the provider finally redirects to;
//! [`Provider::approve_device`] and [`Provider::deny_device`] enter a device flow user code.
//!
//! ```
//! use grantflow_tests::provider::{ALICE, Provider, REDIRECT_URI, WEB_APP};
//!
//! let provider = Provider::shared();
//! let authorization_url = url::Url::parse_with_params(
//!     &provider.authorization_endpoint(),
//!     [
//!         ("response_type", "code"),
//!         ("client_id", WEB_APP.id),
//!         ("redirect_uri", REDIRECT_URI),
//!         ("scope", "openid"),
//!         ("state", "xyz"),
//!         // The provider requires PKCE from every client; this is RFC 7636 Appendix B's
//!         // challenge, for the verifier `dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk`.
//!         ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
//!         ("code_challenge_method", "S256"),
//!     ],
//! )?;
//! let callback = provider.login(authorization_url.as_str(), ALICE)?;
//! assert!(callback.starts_with("http://127.0.0.1/callback?code="));
//! assert!(callback.contains("&state=xyz&iss=http%3A%2F%2F127.0.0.1%3A"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Node.js (18 or later) must be on `PATH`. The first start in a checkout runs `npm ci` in
//! `tests/provider` (needs the npm registry once); later starts reuse `node_modules`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use url::Url;

/// How long node may take to print its `LISTENING` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the discovery document may take to answer once node listens.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause between two readiness probes.
const READY_RETRY: Duration = Duration::from_millis(20);
/// The longest chain of redirects and prompts the browser follows before giving up.
const MAX_BROWSER_STEPS: usize = 16;
/// How much of node's output the harness keeps (the most recent part).
const MAX_LOG_BYTES: usize = 64 * 1024;
/// How much of the log or of a response body an error message quotes.
const EXCERPT_CHARS: usize = 2_000;
/// The marker `provider.mjs` puts on the device flow's success page.
const DEVICE_SUCCESS_MARKER: &str = "DEVICE_FLOW_SUCCESS";
/// The marker `provider.mjs` puts on the device flow's page after the user aborted.
const DEVICE_ABORTED_MARKER: &str = "DEVICE_FLOW_ABORTED";

/// The redirect URI every authorization code client is registered with.
///
/// Nothing listens there: the harness stops at the redirect and hands back its URL.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The post-logout redirect URI `web-app` and `spa` registered (OpenID RP-Initiated Logout 1.0 §3).
pub const POST_LOGOUT_REDIRECT_URI: &str = "http://127.0.0.1/signed-out";

/// An account that can log in; its claims are `sub`, `name`, `given_name`, `family_name`,
/// `email` (`alice@example.test`) and `email_verified` (true).
pub const ALICE: &str = "alice";
/// A second account, for tests that need two users; its `email_verified` is false.
pub const BOB: &str = "bob";

/// The resource indicator (RFC 8707) client credentials tokens are issued for when a token
/// request names none.
pub const API_RESOURCE: &str = "urn:grantflow:api";
/// A scope the provider knows but allows no client: requesting it gives `invalid_scope`.
///
/// oidc-provider silently drops scopes it has never heard of instead (RFC 6749 §3.3 lets a
/// server grant fewer scopes than requested).
pub const UNGRANTED_SCOPE: &str = "api:admin";

/// A client registered with the provider (see `provider.mjs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestClient {
    /// `client_id`.
    pub id: &'static str,
    /// `client_secret`, `None` for a public client.
    pub secret: Option<&'static str>,
    /// The registered `token_endpoint_auth_method`: `client_secret_basic`,
    /// `client_secret_post` or `none`.
    pub auth_method: &'static str,
    /// The registered scopes, for clients limited to some (the client credentials clients).
    pub scope: Option<&'static str>,
    /// The registered redirect URI ([`REDIRECT_URI`]), for authorization code clients.
    pub redirect_uri: Option<&'static str>,
    /// The `alg` its ID tokens are signed with, for clients that receive ID tokens.
    pub id_token_alg: Option<&'static str>,
}

/// Client credentials, `client_secret_basic`, scopes `api:read api:write`.
pub const CC_BASIC: TestClient = TestClient {
    id: "cc-basic",
    secret: Some("cc-basic-secret-0123456789abcdef"),
    auth_method: "client_secret_basic",
    scope: Some("api:read api:write"),
    redirect_uri: None,
    id_token_alg: None,
};

/// Client credentials, `client_secret_post`, scopes `api:read api:write`.
pub const CC_POST: TestClient = TestClient {
    id: "cc-post",
    secret: Some("cc-post-secret-0123456789abcdefgh"),
    auth_method: "client_secret_post",
    scope: Some("api:read api:write"),
    redirect_uri: None,
    id_token_alg: None,
};

/// Client credentials, `client_secret_basic`, with a secret in which every special character
/// must be form-urlencoded before Basic encoding (RFC 6749 §2.3.1); the provider rejects the
/// raw secret with `invalid_request`.
pub const CC_SPECIAL: TestClient = TestClient {
    id: "cc-special",
    secret: Some("s3cr3t:with/special+chars&=%"),
    auth_method: "client_secret_basic",
    scope: Some("api:read api:write"),
    redirect_uri: None,
    id_token_alg: None,
};

/// A confidential web server: authorization code + refresh token, `client_secret_basic`,
/// RS256 ID tokens. The provider requires PKCE (S256) from it too, as from every client.
pub const WEB_APP: TestClient = TestClient {
    id: "web-app",
    secret: Some("web-app-secret-0123456789abcdefghijk"),
    auth_method: "client_secret_basic",
    scope: None,
    redirect_uri: Some(REDIRECT_URI),
    id_token_alg: Some("RS256"),
};

/// Like [`WEB_APP`], with ES256 ID tokens.
pub const ES256_APP: TestClient = TestClient {
    id: "es256-app",
    secret: Some("es256-app-secret-0123456789abcdefghij"),
    auth_method: "client_secret_basic",
    scope: None,
    redirect_uri: Some(REDIRECT_URI),
    id_token_alg: Some("ES256"),
};

/// A public client (no secret): authorization code + refresh token, PKCE (S256) required.
pub const SPA: TestClient = TestClient {
    id: "spa",
    secret: None,
    auth_method: "none",
    scope: None,
    redirect_uri: Some(REDIRECT_URI),
    id_token_alg: Some("RS256"),
};

/// A public native client (the `grantflow` command): authorization code + refresh token. Its
/// redirect URI ([`REDIRECT_URI`]) matches on any port (RFC 8252 §7.3), so a loopback listener
/// on a free port, `http://127.0.0.1:<port>/callback`, is accepted.
pub const CLI: TestClient = TestClient {
    id: "cli",
    secret: None,
    auth_method: "none",
    scope: None,
    redirect_uri: Some(REDIRECT_URI),
    id_token_alg: Some("RS256"),
};

/// A public client for the device authorization grant (RFC 8628) + refresh token.
pub const DEVICE_APP: TestClient = TestClient {
    id: "device-app",
    secret: None,
    auth_method: "none",
    scope: None,
    redirect_uri: None,
    id_token_alg: Some("RS256"),
};

/// What went wrong in the harness, with enough context to debug a failing test.
pub struct HarnessError(String);

/// The message as is, so that a test's `unwrap()` shows node's output line by line.
impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl HarnessError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

/// A running provider: one `node provider.mjs` process, killed when this value is dropped.
///
/// The process holds the read end of a pipe whose write end is this value's (`stdin`), and
/// exits when it reads end-of-file. So the provider also dies with the test process when the
/// value is never dropped ([`Provider::shared`]) or the test process is killed.
#[derive(Debug)]
pub struct Provider {
    child: Child,
    issuer: String,
    log: Arc<Mutex<String>>,
    agent: ureq::Agent,
}

impl Provider {
    /// Starts a provider of its own on a free port and returns once it answers discovery.
    ///
    /// Takes about a second. Runs `npm ci` first if `tests/provider/node_modules` is missing
    /// or stale (once per process, however many tests start providers at the same time).
    pub fn start() -> Result<Provider, HarnessError> {
        install_node_modules()?;
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(provider_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                HarnessError::new(format!(
                    "cannot run `node provider.mjs` in {} (is Node.js 18+ on PATH?): {e}",
                    provider_dir().display()
                ))
            })?;

        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().map(|stderr| {
            let log = Arc::clone(&log);
            thread::spawn(move || copy_lines(stderr, &log))
        });
        let (listening, issuer) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                for line in lines.by_ref().map_while(Result::ok) {
                    if let Some(issuer) = line.strip_prefix("LISTENING ") {
                        let _ = listening.send(issuer.to_owned());
                        break;
                    }
                    append(&log, &line);
                }
                // Keep draining: a full pipe would block node.
                for line in lines.map_while(Result::ok) {
                    append(&log, &line);
                }
            });
        }

        let issuer = match issuer.recv_timeout(STARTUP_TIMEOUT) {
            Ok(issuer) => issuer,
            Err(e) => {
                let _ = child.kill();
                let status = child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
                // node is gone, so its stderr is at end-of-file: collect all of it.
                if let Some(stderr) = stderr {
                    let _ = stderr.join();
                }
                let why = match e {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("did not print `LISTENING <issuer>` within {STARTUP_TIMEOUT:?}")
                    }
                    mpsc::RecvTimeoutError::Disconnected => {
                        format!("exited ({status}) before listening")
                    }
                };
                return Err(HarnessError::new(format!(
                    "the provider {why}; its output:\n{}",
                    tail(&lock(&log))
                )));
            }
        };

        // From here on, dropping `provider` on an error kills node.
        let provider = Provider {
            child,
            issuer,
            log,
            agent: agent(),
        };
        provider.wait_until_ready()?;
        Ok(provider)
    }

    /// The provider every test in this test binary shares, started on first use.
    ///
    /// A `static` is never dropped, so this provider is not killed by [`Drop`]; it exits when
    /// the test process does, because its stdin pipe closes then (see [`Provider`]).
    /// Tests sharing it must not depend on state other tests change (each [`Provider::login`]
    /// uses a fresh cookie jar, so sessions are not shared), nor change state others depend
    /// on: a test that rotates signing keys ([`Provider::rotate_signing_keys`]) starts its own
    /// provider with [`Provider::start`].
    ///
    /// # Panics
    ///
    /// If the provider cannot start, with the [`HarnessError`] (every call, without retrying).
    pub fn shared() -> &'static Provider {
        static SHARED: OnceLock<Result<Provider, HarnessError>> = OnceLock::new();
        match SHARED.get_or_init(Provider::start) {
            Ok(provider) => provider,
            Err(e) => panic!("the shared test provider did not start: {e}"),
        }
    }

    /// The issuer identifier, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `path` on the provider: `url("/jwks")` is `http://127.0.0.1:<port>/jwks`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        self.url("/.well-known/openid-configuration")
    }

    /// The authorization endpoint, `{issuer}/auth`.
    pub fn authorization_endpoint(&self) -> String {
        self.url("/auth")
    }

    /// The token endpoint, `{issuer}/token`.
    pub fn token_endpoint(&self) -> String {
        self.url("/token")
    }

    /// The device authorization endpoint (RFC 8628 §3.1), `{issuer}/device/auth`.
    pub fn device_authorization_endpoint(&self) -> String {
        self.url("/device/auth")
    }

    /// The introspection endpoint (RFC 7662), `{issuer}/token/introspection`.
    pub fn introspection_endpoint(&self) -> String {
        self.url("/token/introspection")
    }

    /// The revocation endpoint (RFC 7009), `{issuer}/token/revocation`.
    pub fn revocation_endpoint(&self) -> String {
        self.url("/token/revocation")
    }

    /// The UserInfo endpoint, `{issuer}/me`.
    pub fn userinfo_endpoint(&self) -> String {
        self.url("/me")
    }

    /// The JWK Set, `{issuer}/jwks`: one RS256 and one ES256 key, generated at start-up, and
    /// after each [`Provider::rotate_signing_keys`] two more, ahead of the previous ones.
    pub fn jwks_uri(&self) -> String {
        self.url("/jwks")
    }

    /// Rotates the provider's signing keys, as an OpenID provider does from time to time, and
    /// returns the new keys' `kid`s (one RS256 key, then one ES256 key).
    ///
    /// Every ID token signed afterwards carries one of these `kid`s in its header; tokens
    /// signed before keep theirs. The new keys are published at [`Provider::jwks_uri`] ahead
    /// of the previous ones, which stay published (as during a real rotation), so a client
    /// that cached the old JWK Set meets an unknown `kid` and has to fetch it again. Everything
    /// else (sessions, codes, tokens, grants) survives: it happens inside the running process
    /// (`POST /test/rotate-keys`, see `provider.mjs`). Call it again for another rotation.
    ///
    /// Rotation changes the provider for every test talking to it: call it on a provider of
    /// the test's own ([`Provider::start`]), never on [`Provider::shared`], whose other users
    /// may be checking `kid`s or caching its JWK Set at the same time.
    pub fn rotate_signing_keys(&self) -> Result<Vec<String>, HarnessError> {
        let url = self.url("/test/rotate-keys");
        let mut response = self
            .agent
            .post(&url)
            .send_empty()
            .map_err(|e| HarnessError::new(format!("request to {url} failed: {e}")))?;
        let status = response.status();
        let body = response.body_mut().read_to_string().map_err(|e| {
            HarnessError::new(format!("reading the response from {url} failed: {e}"))
        })?;
        let kids = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .filter(|_| status == 200)
            .and_then(|json| {
                json.get("kids")?
                    .as_array()?
                    .iter()
                    .map(|kid| kid.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            });
        kids.filter(|kids| !kids.is_empty()).ok_or_else(|| {
            HarnessError::new(format!(
                "expected the new kids from {url}, got status {status}, body: {}",
                tail(&body)
            ))
        })
    }

    /// The process id of node.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What node has written to stderr (and to stdout after its `LISTENING` line): warnings,
    /// and the stack of any unexpected server error. Only the most recent 64 KiB are kept.
    pub fn log(&self) -> String {
        lock(&self.log).clone()
    }

    /// Logs `account` in and consents to everything asked, as a browser and its user would,
    /// and returns the URL the provider finally redirects to.
    ///
    /// `authorization_url` is a complete authorization request to this provider. On success
    /// the result is the client's redirect URI with `code`, `state` and `iss`; if the request
    /// is refused (say, PKCE missing for a public client) it carries `error` instead. Each call
    /// starts with no cookies, so the provider always asks for the login.
    pub fn login(&self, authorization_url: &str, account: &str) -> Result<String, HarnessError> {
        self.authorize(authorization_url, Decision::Approve(account))
    }

    /// Answers the first prompt of `authorization_url` (the login) with "no", as a user who
    /// cancels would, and returns the redirect to the client: `error=access_denied`, with
    /// `state` and `iss`.
    pub fn deny(&self, authorization_url: &str) -> Result<String, HarnessError> {
        self.authorize(authorization_url, Decision::Deny)
    }

    /// Enters `user_code` at the device flow's verification page, logs `account` in and
    /// consents, as the user would on a second device (RFC 8628 §3.3); the device's next
    /// token request then gets its tokens.
    ///
    /// Fails if the provider re-renders the code page with an error (unknown, expired or
    /// already used code).
    pub fn approve_device(&self, user_code: &str, account: &str) -> Result<(), HarnessError> {
        self.verify_user_code(user_code, Decision::Approve(account))
    }

    /// Enters `user_code` at the device flow's verification page and then cancels the login;
    /// the device's next token request gets `access_denied`.
    ///
    /// Fails, like [`Provider::approve_device`], if the provider does not accept the code.
    pub fn deny_device(&self, user_code: &str) -> Result<(), HarnessError> {
        self.verify_user_code(user_code, Decision::Deny)
    }

    /// Probes discovery until it answers 200, within [`READY_TIMEOUT`].
    fn wait_until_ready(&self) -> Result<(), HarnessError> {
        let url = self.discovery_url();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let last = match self.agent.get(&url).call() {
                Ok(response) if response.status() == 200 => return Ok(()),
                Ok(response) => format!("status {}", response.status()),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(HarnessError::new(format!(
                    "{url} did not answer 200 within {READY_TIMEOUT:?} (last: {last}); \
                     provider output:\n{}",
                    tail(&self.log())
                )));
            }
            thread::sleep(READY_RETRY);
        }
    }

    fn authorize(
        &self,
        authorization_url: &str,
        decision: Decision<'_>,
    ) -> Result<String, HarnessError> {
        if !self.is_own(authorization_url) {
            return Err(HarnessError::new(format!(
                "{authorization_url} is not a URL of this provider ({})",
                self.issuer
            )));
        }
        let mut browser = Browser::new(&self.agent);
        let first = browser.get(authorization_url)?;
        match self.walk(&mut browser, first, decision)? {
            Outcome::Redirect(location) => Ok(location),
            Outcome::Page(page) => Err(page.unexpected("a redirect to the client")),
        }
    }

    fn verify_user_code(
        &self,
        user_code: &str,
        decision: Decision<'_>,
    ) -> Result<(), HarnessError> {
        let mut browser = Browser::new(&self.agent);
        let form_url = self.url("/device");
        let form = browser.get(&form_url)?;
        let xsrf = form
            .hidden_input("xsrf")
            .ok_or_else(|| form.unexpected("the user code form with an `xsrf` field"))?;
        let submitted = browser.post_form(
            &form_url,
            &[
                ("xsrf", xsrf.as_str()),
                ("user_code", user_code),
                ("confirm", "yes"),
            ],
        )?;
        let page = match self.walk(&mut browser, submitted, decision)? {
            Outcome::Page(page) => page,
            Outcome::Redirect(location) => {
                return Err(HarnessError::new(format!(
                    "the device flow redirected away from the provider, to {location}"
                )));
            }
        };
        match decision {
            Decision::Approve(_) if page.body.contains(DEVICE_SUCCESS_MARKER) => Ok(()),
            Decision::Deny if page.body.contains(DEVICE_ABORTED_MARKER) => Ok(()),
            Decision::Approve(_) => Err(page.unexpected("the device flow success page")),
            Decision::Deny => Err(page.unexpected("the device flow page saying it was aborted")),
        }
    }

    /// Follows redirects within the provider and answers its interaction prompts, until the
    /// provider redirects elsewhere (to the client) or shows a page.
    fn walk(
        &self,
        browser: &mut Browser<'_>,
        mut response: Page,
        decision: Decision<'_>,
    ) -> Result<Outcome, HarnessError> {
        for _ in 0..MAX_BROWSER_STEPS {
            if response.status == 200 {
                return Ok(Outcome::Page(response));
            }
            let Some(location) = response.redirect_target()? else {
                return Err(response.unexpected("a redirect or a page"));
            };
            if !self.is_own(&location) {
                return Ok(Outcome::Redirect(location));
            }
            response = if location.starts_with(&self.url("/interaction/")) {
                self.interact(browser, &location, decision)?
            } else {
                browser.get(&location)?
            };
        }
        Err(HarnessError::new(format!(
            "gave up after {MAX_BROWSER_STEPS} redirects and prompts, at {}",
            response.url
        )))
    }

    /// Answers the interaction prompt at `url` (see the interaction routes in `provider.mjs`).
    fn interact(
        &self,
        browser: &mut Browser<'_>,
        url: &str,
        decision: Decision<'_>,
    ) -> Result<Page, HarnessError> {
        let details = browser.get(url)?;
        let prompt = serde_json::from_str::<serde_json::Value>(&details.body)
            .ok()
            .and_then(|json| json.get("prompt")?.as_str().map(str::to_owned))
            .ok_or_else(|| details.unexpected("the interaction's JSON details"))?;
        match (prompt.as_str(), decision) {
            (_, Decision::Deny) => browser.post_form(&format!("{url}/abort"), &[]),
            ("login", Decision::Approve(account)) => {
                browser.post_form(&format!("{url}/login"), &[("login", account)])
            }
            ("consent", Decision::Approve(_)) => browser.post_form(&format!("{url}/confirm"), &[]),
            (other, _) => {
                Err(details.unexpected(&format!("a login or consent prompt, not {other:?}")))
            }
        }
    }

    /// Whether `url` is on this provider (rather than, say, a client's redirect URI).
    fn is_own(&self, url: &str) -> bool {
        url.strip_prefix(&self.issuer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        // Closing stdin is what makes provider.mjs exit; kill it anyway rather than trust
        // that, then reap it so no zombie is left. Errors mean it is already gone.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ureq agent the harness uses, configured like an OAuth client should be: redirects are
/// returned rather than followed, every status is a response (not an `Err`), no proxy (only
/// 127.0.0.1 is spoken to), and a 10 s timeout so a hung provider fails the test.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// The directory holding `provider.mjs`.
fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("provider")
}

/// Runs `npm ci` unless `node_modules` already holds the oidc-provider version locked in
/// `package-lock.json`. Runs at most once per process; concurrent callers wait for it.
fn install_node_modules() -> Result<(), HarnessError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = provider_dir();
            let locked = json_string(
                &dir.join("package-lock.json"),
                &["packages", "node_modules/oidc-provider", "version"],
            );
            let installed = json_string(
                &dir.join("node_modules/oidc-provider/package.json"),
                &["version"],
            );
            if locked.is_some() && locked == installed {
                return Ok(());
            }
            let output = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| {
                    format!(
                        "cannot run `npm ci` in {} (is npm on PATH?): {e}",
                        dir.display()
                    )
                })?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "`npm ci` in {} failed ({}):\n{}",
                    dir.display(),
                    output.status,
                    tail(&String::from_utf8_lossy(&output.stderr))
                ))
            }
        })
        .clone()
        .map_err(HarnessError::new)
}

/// The string at `path` in the JSON file `file`, if the file, the path and a string are there.
fn json_string(file: &Path, path: &[&str]) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut value = &serde_json::from_str::<serde_json::Value>(&text).ok()?;
    for key in path {
        value = value.get(key)?;
    }
    value.as_str().map(str::to_owned)
}

/// Appends every line of `from` to `log`, until end-of-file.
fn copy_lines(from: impl Read, log: &Mutex<String>) {
    for line in BufReader::new(from).lines().map_while(Result::ok) {
        append(log, &line);
    }
}

/// Appends `line` to `log`, dropping the oldest lines beyond [`MAX_LOG_BYTES`].
fn append(log: &Mutex<String>, line: &str) {
    let mut log = lock(log);
    log.push_str(line);
    log.push('\n');
    if log.len() > MAX_LOG_BYTES {
        // Cut after a newline (an ASCII byte, so always at a character boundary).
        let excess = log.len() - MAX_LOG_BYTES;
        let cut = log.as_bytes().iter().skip(excess).position(|&b| b == b'\n');
        let cut = cut.map_or(log.len(), |i| excess + i + 1);
        log.drain(..cut);
    }
}

/// Locks the log, even if a thread panicked while holding it (a log stays readable).
fn lock(log: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The last [`EXCERPT_CHARS`] characters of `text`.
fn tail(text: &str) -> &str {
    let start = text
        .char_indices()
        .rev()
        .nth(EXCERPT_CHARS)
        .map_or(0, |(i, _)| i);
    &text[start..]
}

/// What the simulated user answers to the provider's prompts.
#[derive(Debug, Clone, Copy)]
enum Decision<'a> {
    /// Log in as this account and consent to everything.
    Approve(&'a str),
    /// Cancel at the first prompt.
    Deny,
}

/// Where a walk through the provider's pages ended.
enum Outcome {
    /// A redirect off the provider, to this URL (the client's redirect URI).
    Redirect(String),
    /// A page the provider showed.
    Page(Page),
}

/// A response, read in full.
struct Page {
    url: String,
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    /// The absolute URL a 3xx response points to, `None` if this is not a redirect.
    fn redirect_target(&self) -> Result<Option<String>, HarnessError> {
        let (300..=399, Some(location)) = (self.status, &self.location) else {
            return Ok(None);
        };
        let base =
            Url::parse(&self.url).map_err(|e| HarnessError::new(format!("{}: {e}", self.url)))?;
        let target = base.join(location).map_err(|e| {
            HarnessError::new(format!("bad Location {location:?} from {}: {e}", self.url))
        })?;
        Ok(Some(target.into()))
    }

    /// The `value` of `<input type="hidden" name="{name}" value="...">` in the body.
    fn hidden_input(&self, name: &str) -> Option<String> {
        let after = self
            .body
            .split(&format!("name=\"{name}\" value=\""))
            .nth(1)?;
        after.split('"').next().map(str::to_owned)
    }

    fn unexpected(&self, expected: &str) -> HarnessError {
        HarnessError::new(format!(
            "expected {expected}, got status {} from {} (Location: {:?}), body: {}",
            self.status,
            self.url,
            self.location,
            tail(&self.body)
        ))
    }
}

/// A user agent with a cookie jar and nothing else: no redirects followed, no scripts.
struct Browser<'a> {
    agent: &'a ureq::Agent,
    /// Cookie name to value. Paths, expiry and domains are ignored: the browser only ever
    /// talks to one provider, for one login, and the provider reads cookies by name.
    cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(agent: &'a ureq::Agent) -> Self {
        Browser {
            agent,
            cookies: BTreeMap::new(),
        }
    }

    fn get(&mut self, url: &str) -> Result<Page, HarnessError> {
        let request = self.agent.get(url);
        let response = match self.cookie_header() {
            Some(cookies) => request.header("cookie", cookies).call(),
            None => request.call(),
        };
        self.read(url, response)
    }

    fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Result<Page, HarnessError> {
        let request = self.agent.post(url);
        let form = form.iter().copied();
        let response = match self.cookie_header() {
            Some(cookies) => request.header("cookie", cookies).send_form(form),
            None => request.send_form(form),
        };
        self.read(url, response)
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Stores the response's cookies (an empty value deletes one) and reads it in full.
    fn read(
        &mut self,
        url: &str,
        response: Result<http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Page, HarnessError> {
        let mut response =
            response.map_err(|e| HarnessError::new(format!("request to {url} failed: {e}")))?;
        for set_cookie in response.headers().get_all(http::header::SET_COOKIE) {
            let pair = set_cookie
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.body_mut().read_to_string().map_err(|e| {
            HarnessError::new(format!("reading the response from {url} failed: {e}"))
        })?;
        Ok(Page {
            url: url.to_owned(),
            status: response.status().as_u16(),
            location,
            body,
        })
    }
}

/// grantflow clients for the registered test clients.
impl Provider {
    /// A grantflow [`Client`](grantflow::Client) for `test_client` at this provider: its id,
    /// its registered authentication method and secret, and this provider's token endpoint.
    pub fn client(&self, test_client: TestClient) -> Result<grantflow::Client, HarnessError> {
        self.client_with_secret(test_client, test_client.secret.unwrap_or_default())
    }

    /// [`Provider::client`], authenticating with `secret` in place of the registered one
    /// (ignored for a public client): for tests of a wrong secret.
    pub fn client_with_secret(
        &self,
        test_client: TestClient,
        secret: &str,
    ) -> Result<grantflow::Client, HarnessError> {
        use grantflow::{ClientAuth, ClientSecret};
        let auth = match test_client.auth_method {
            "client_secret_basic" => ClientAuth::ClientSecretBasic(ClientSecret::new(secret)),
            "client_secret_post" => ClientAuth::ClientSecretPost(ClientSecret::new(secret)),
            "none" => ClientAuth::None,
            other => {
                return Err(HarnessError::new(format!(
                    "{}: unknown auth method {other}",
                    test_client.id
                )));
            }
        };
        let token_endpoint = grantflow::EndpointUrl::parse(&self.token_endpoint())
            .map_err(|e| HarnessError::new(format!("token endpoint: {e}")))?;
        Ok(
            grantflow::Client::new(grantflow::ClientId::new(test_client.id), auth)
                .with_token_endpoint(token_endpoint),
        )
    }
}
