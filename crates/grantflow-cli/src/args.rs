//! The command line: every subcommand and option, with the help text
//! `grantflow --help` and `grantflow <command> --help` print.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Any OAuth 2.0 / OpenID Connect flow against any issuer, from the terminal.
///
/// Built on the grantflow library (its blocking ureq adapter): what this
/// command does, a program can do with the same calls.
#[derive(Debug, Parser)]
#[command(name = "grantflow", version, propagate_version = true)]
#[command(after_help = EXIT_CODES, after_long_help = AFTER_LONG_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The exit codes, printed under `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  2  bad input: a wrong option, a missing or unreadable secret, a bad URL or profile
  3  the server refused (an OAuth error response; its code, e.g. invalid_client, is printed)
  4  network: the server could not be reached, timed out, or is in trouble (5xx)
  5  the server answered something invalid, or a security check failed (issuer, signature, state)
  6  nobody came back: the browser sign-in or the device code expired before the user finished";

/// `--help`'s epilogue: the exit codes and the `--json` documents.
pub const AFTER_LONG_HELP: &str = concat!(
    "Exit codes:\n",
    "  0  success\n",
    "  2  bad input: a wrong option, a missing or unreadable secret, a bad URL or profile\n",
    "  3  the server refused (an OAuth error response; its code, e.g. invalid_client, is printed)\n",
    "  4  network: the server could not be reached, timed out, or is in trouble (5xx)\n",
    "  5  the server answered something invalid, or a security check failed (issuer, signature, state)\n",
    "  6  nobody came back: the browser sign-in or the device code expired before the user finished\n",
    "\n",
    "JSON output (--json; these field names are stable):\n",
    "  token, refresh  token_type, access_token, expires_in (s), expires_at (RFC 3339), scope,\n",
    "                  refresh_token, id_token, id_token_claims (validated), extra\n",
    "  discover        issuer, endpoints{authorization, token, userinfo, jwks_uri, registration,\n",
    "                  revocation, introspection, device_authorization, pushed_authorization_request,\n",
    "                  end_session}, supported{…}, flags{…}, keys[{kid, kty, alg, use}]\n",
    "  userinfo        subject_checked, claims\n",
    "  introspect      active, claims\n",
    "  revoke          revoked\n",
    "  jwt             header, claims, verified (verify only)\n",
    "  any failure     error{kind: bad_input|refused|network|invalid|timed_out, code, message}",
);

/// Options every subcommand takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output and profiles")]
pub struct OutputArgs {
    /// Print the result as JSON on stdout (stable field names; includes tokens)
    #[arg(long, global = true)]
    pub json: bool,
    /// Print tokens in the human summary (they are hidden by default)
    #[arg(long, global = true)]
    pub show_tokens: bool,
    /// Print each HTTP request and response on stderr, with secrets masked
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// The profiles file [default: ~/.config/grantflow/profiles.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Take the issuer, client and other defaults from this profile of the profiles file
    #[arg(long, short = 'p', global = true, value_name = "NAME")]
    pub profile: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch an issuer's metadata and signing keys (OpenID Connect Discovery, RFC 8414)
    Discover(DiscoverArgs),
    /// Get tokens with any grant: client credentials, authorization code (browser), device, refresh
    Token(Box<TokenArgs>),
    /// Exchange a refresh token for new tokens (RFC 6749 §6); the same as `token --grant refresh_token`
    Refresh(Box<RefreshArgs>),
    /// Fetch the signed-in user's claims with an access token (OpenID Connect Core §5.3)
    Userinfo(Box<UserinfoArgs>),
    /// Ask the authorization server about a token (RFC 7662)
    Introspect(Box<TokenOpArgs>),
    /// Revoke a token (RFC 7009)
    Revoke(Box<TokenOpArgs>),
    /// Decode or verify a JWT (an ID token, a JWT access token)
    #[command(subcommand)]
    Jwt(JwtCommand),
}

/// `grantflow discover`.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The issuer URL, exactly as the provider names itself (e.g. https://accounts.example.com)
    #[arg(value_name = "ISSUER")]
    pub issuer: Option<String>,
    /// Use the OAuth metadata URL (RFC 8414, /.well-known/oauth-authorization-server) instead of
    /// the OpenID one (/.well-known/openid-configuration)
    #[arg(long)]
    pub oauth: bool,
}

/// The grants `token --grant` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Grant {
    /// Client credentials (RFC 6749 §4.4): a service acting for itself
    ClientCredentials,
    /// Authorization code with PKCE (RFC 6749 §4.1, RFC 7636) in the system browser
    AuthorizationCode,
    /// Device authorization (RFC 8628): the user approves on another device
    Device,
    /// Refresh token (RFC 6749 §6)
    RefreshToken,
}

/// Client authentication methods (RFC 6749 §2.3, RFC 7523 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client: no secret (client_id only)
    None,
    /// client_secret_basic: the secret in the Authorization header
    Basic,
    /// client_secret_post: the secret in the form body
    Post,
    /// private_key_jwt: a JWT signed with --private-key (ES256, EdDSA, RS256)
    PrivateKeyJwt,
    /// client_secret_jwt: a JWT signed with the client secret (HS256)
    ClientSecretJwt,
}

/// Who the client is and where its provider is: shared by every subcommand
/// that talks to an authorization server.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Client and provider")]
pub struct ClientArgs {
    /// The issuer URL; its endpoints are discovered (OpenID Connect Discovery)
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// The token endpoint (instead of, or overriding, discovery)
    #[arg(long, value_name = "URL")]
    pub token_endpoint: Option<String>,
    /// The authorization endpoint (instead of, or overriding, discovery)
    #[arg(long, value_name = "URL")]
    pub authorization_endpoint: Option<String>,
    /// The device authorization endpoint (instead of, or overriding, discovery)
    #[arg(long, value_name = "URL")]
    pub device_authorization_endpoint: Option<String>,
    /// The pushed authorization request endpoint (instead of, or overriding, discovery)
    #[arg(long, value_name = "URL")]
    pub par_endpoint: Option<String>,
    /// The introspection endpoint (instead of, or overriding, discovery)
    #[arg(long, value_name = "URL")]
    pub introspection_endpoint: Option<String>,
    /// The revocation endpoint (instead of, or overriding, discovery)
    #[arg(long, value_name = "URL")]
    pub revocation_endpoint: Option<String>,
    /// The UserInfo endpoint (instead of, or overriding, discovery)
    #[arg(long, value_name = "URL")]
    pub userinfo_endpoint: Option<String>,
    /// The client ID
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// How the client authenticates [default: basic with a secret, none without]
    #[arg(long, value_enum, value_name = "METHOD")]
    pub auth: Option<AuthMethod>,
    /// The client secret on the command line (visible to other users in the process list;
    /// prefer --client-secret-env or --client-secret-file)
    #[arg(long, value_name = "SECRET")]
    pub client_secret: Option<String>,
    /// Read the client secret from this environment variable
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Read the client secret from this file (its first line)
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// The private key for private_key_jwt and DPoP: PKCS#8 PEM (P-256, Ed25519 or RSA)
    #[arg(long, value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// The key ID (`kid`) of --private-key, as registered with the provider
    #[arg(long, value_name = "KID")]
    pub key_id: Option<String>,
}

/// `grantflow token`.
#[derive(Debug, Args)]
#[command(after_long_help = TOKEN_EXAMPLES)]
pub struct TokenArgs {
    /// The grant to run [default: client_credentials, or the profile's]
    #[arg(long, short = 'g', value_enum, value_name = "GRANT")]
    pub grant: Option<Grant>,
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub browser: BrowserArgs,
    /// The refresh token, for --grant refresh_token (or read from --refresh-token-file)
    #[arg(long, value_name = "TOKEN", help_heading = "Tokens")]
    pub refresh_token: Option<String>,
    /// Read the refresh token from a token set saved with --save
    #[arg(long, value_name = "FILE", help_heading = "Tokens")]
    pub refresh_token_file: Option<PathBuf>,
    /// Write the token set (JSON, with the tokens) to this file, readable by you only (mode 0600)
    #[arg(long, value_name = "FILE", help_heading = "Tokens")]
    pub save: Option<PathBuf>,
}

const TOKEN_EXAMPLES: &str = "\
Examples:
  grantflow token --issuer https://op.example.com --client-id svc --client-secret-env SVC_SECRET --scope api:read
  grantflow token --grant authorization_code --issuer https://op.example.com --client-id cli --scope openid --scope email
  grantflow token --grant device --issuer https://op.example.com --client-id tv --scope openid
  grantflow token --profile work --json";

/// What the token request asks for.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Request")]
pub struct RequestArgs {
    /// A scope to ask for (repeat, or separate with spaces)
    #[arg(long, short = 's', value_name = "SCOPE")]
    pub scope: Vec<String>,
    /// A resource indicator (RFC 8707), an absolute URI (repeatable)
    #[arg(long, value_name = "URI")]
    pub resource: Vec<String>,
    /// The `audience` parameter some providers (Auth0, Okta) want for client credentials
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,
    /// Bind the tokens to a key with DPoP (RFC 9449); the key is --private-key (P-256 or
    /// Ed25519), or a fresh P-256 key for this run
    #[arg(long)]
    pub dpop: bool,
}

/// How the browser sign-in runs.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Browser sign-in (--grant authorization_code)")]
pub struct BrowserArgs {
    /// Print the authorization URL instead of opening the system browser
    #[arg(long)]
    pub no_browser: bool,
    /// The port of the loopback listener (http://127.0.0.1:PORT/callback) [default: a free one]
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// The path of the loopback redirect URI
    #[arg(long, value_name = "PATH", default_value = "/callback")]
    pub redirect_path: String,
    /// How long to wait for the browser to come back, in seconds (the device grant waits until its code expires)
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
    /// Push the authorization request first (RFC 9126); automatic when the provider requires it
    #[arg(long)]
    pub par: bool,
    /// A `prompt` for the authorization request (login, consent, select_account, none)
    #[arg(long, value_name = "PROMPT")]
    pub prompt: Option<String>,
}

/// `grantflow refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// The refresh token (or --refresh-token-file, which keeps it out of the process list)
    #[arg(value_name = "REFRESH_TOKEN")]
    pub refresh_token: Option<String>,
    /// Read the refresh token from a token set saved with --save
    #[arg(long, value_name = "FILE")]
    pub refresh_token_file: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub request: RequestArgs,
    /// Write the new token set to this file, readable by you only (mode 0600)
    #[arg(long, value_name = "FILE", help_heading = "Tokens")]
    pub save: Option<PathBuf>,
}

/// `grantflow userinfo`.
#[derive(Debug, Args)]
pub struct UserinfoArgs {
    /// The access token (or --token-file, which keeps it out of the process list)
    #[arg(value_name = "ACCESS_TOKEN")]
    pub token: Option<String>,
    /// Read the access token from a token set saved with --save
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The expected subject (`sub`): the response must be about this user
    #[arg(long, value_name = "SUB")]
    pub subject: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `grantflow introspect` and `grantflow revoke`.
#[derive(Debug, Args)]
pub struct TokenOpArgs {
    /// The token (or --token-file, which keeps it out of the process list)
    #[arg(value_name = "TOKEN")]
    pub token: Option<String>,
    /// Read the token from a token set saved with --save (the refresh token with
    /// --hint refresh_token, else the access token)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// What kind of token it is (token_type_hint)
    #[arg(long, value_enum, value_name = "HINT")]
    pub hint: Option<Hint>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `token_type_hint` values (RFC 7009 §2.1, RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Hint {
    /// An access token
    AccessToken,
    /// A refresh token
    RefreshToken,
}

/// `grantflow jwt`.
#[derive(Debug, Subcommand)]
pub enum JwtCommand {
    /// Show a JWT's header and claims, without checking anything
    Decode(JwtDecodeArgs),
    /// Check a JWT's signature with the issuer's keys, and its iss, exp, nbf (and aud, with
    /// --audience or --client-id; an ID token is checked fully with --client-id)
    Verify(JwtVerifyArgs),
}

/// `grantflow jwt decode`.
#[derive(Debug, Args)]
pub struct JwtDecodeArgs {
    /// The JWT (compact serialization); `-` reads it from stdin
    #[arg(value_name = "TOKEN")]
    pub token: String,
}

/// `grantflow jwt verify`.
#[derive(Debug, Args)]
pub struct JwtVerifyArgs {
    /// The JWT (compact serialization); `-` reads it from stdin
    #[arg(value_name = "TOKEN")]
    pub token: String,
    /// The issuer whose keys (jwks_uri, from discovery) must verify it
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// An audience the token must be for (`aud`)
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,
    /// Validate it as an ID token issued to this client (OpenID Connect Core §3.1.3.7)
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Seconds of clock skew to allow for exp and nbf (and iat of an ID token)
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub leeway: u64,
}
