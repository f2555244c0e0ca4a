// The local OpenID provider grantflow's interop tests run against: node-oidc-provider, configured
// with the fixed test clients below and a browserless "user agent" API in place of login pages.
//
// Started by `grantflow_tests::Provider` (tests/src/provider.rs); run by hand with
// `node provider.mjs` (after `npm ci`). It:
//
// 1. listens on 127.0.0.1 with an OS-chosen port (no fixed port, so no race between tests;
//    `GRANTFLOW_PROVIDER_PORT` fixes one for use by hand),
// 2. only then builds the Provider with issuer `http://127.0.0.1:<port>`,
// 3. prints exactly one line to stdout, `LISTENING http://127.0.0.1:<port>`, and nothing else,
// 4. exits as soon as its stdin reaches end-of-file: the Rust process holds the write end, so the
//    provider can never outlive it, even when that process is killed.
//
// Diagnostics (oidc-provider's warnings, errors) go to stderr.
//
// Clients (keep in sync with the constants in tests/src/provider.rs):
//
// | client_id  | secret                                | auth method         | grant types        |
// |------------|---------------------------------------|---------------------|--------------------|
// | cc-basic   | cc-basic-secret-0123456789abcdef      | client_secret_basic | client_credentials |
// | cc-post    | cc-post-secret-0123456789abcdefgh     | client_secret_post  | client_credentials |
// | cc-special | s3cr3t:with/special+chars&=%          | client_secret_basic | client_credentials |
// | web-app    | web-app-secret-0123456789abcdefghijk  | client_secret_basic | authorization_code |
// | es256-app  | es256-app-secret-0123456789abcdefghij | client_secret_basic | authorization_code |
// | spa        | (public)                              | none                | authorization_code |
// | device-app | (public)                              | none                | device_code        |
// | device-basic | device-basic-secret-0123456789abcdef | client_secret_basic | device_code      |
// | par-app    | par-app-secret-0123456789abcdefghijk  | client_secret_basic | authorization_code |
// | pkjwt-es256 | (key: tests/keys/es256.pem)          | private_key_jwt     | all of the above   |
// | pkjwt-rs256 | (key: tests/keys/rs256.pem)          | private_key_jwt     | all of the above   |
// | csjwt-app  | csjwt-app-secret-0123456789abcdefghijkl | client_secret_jwt | all of the above   |
// | cli        | (public, native)                      | none                | authorization_code |
//
// The JWT clients (RFC 7523 §2.2) register the public halves of the checked-in test keys (kids
// `client-es256`, `client-rs256`); any algorithm oidc-provider enables for client assertions
// (HS256, RS256, PS256, ES256, EdDSA) is accepted, so pkjwt-rs256 may sign with PS256 too.
//
// DPoP (RFC 9449) is on for every client, with a server nonce required in every proof (see
// `features.dPoP`); a request without a DPoP proof is unaffected.
//
// par-app is registered with `require_pushed_authorization_requests`: the provider refuses its
// authorization requests unless they were pushed (RFC 9126 §6).
//
// The client credentials clients may ask for scopes api:read and api:write; the others also
// have refresh_token.
//
// The authorization code clients redirect to `http://127.0.0.1/callback` and must all use PKCE
// (S256; oidc-provider 8.8's `pkce.required` default follows RFC 9700 §2.1.1). es256-app signs
// its ID tokens with ES256, every other client with RS256. Accounts: `alice` and `bob`.
// `cli` is a native application (the `grantflow` command): oidc-provider accepts its loopback
// redirect URI on any port, as RFC 8252 §7.3 asks, so the command's listener may take a free one.
//
// Browserless interactions (the pages a browser would show), all answered without HTML:
//
//   GET  /interaction/:uid          -> 200 JSON {uid, prompt: "login"|"consent", reasons, params}
//   POST /interaction/:uid/login    form `login=<account>`   -> 303 back to the authorization
//   POST /interaction/:uid/confirm  grants everything asked  -> 303 back to the authorization
//   POST /interaction/:uid/abort    End-User says no         -> 303 back, ends in access_denied
//
// Signing key rotation (test-only, like the interaction routes):
//
//   POST /test/rotate-keys  -> 200 JSON {kids: [<RS256 kid>, <ES256 kid>], published: [...]}
//
// generates a fresh RS256 and a fresh ES256 key and makes them the provider's signing keys, in
// the running process (sessions, grants, codes and tokens survive): every ID token signed from
// then on carries a new `kid`. As real providers do when they rotate, the previous keys stay
// published at jwks_uri (after the new ones), so tokens signed before the rotation still verify.
// `published` lists every kid now at jwks_uri, newest first.
//
// The device flow's user code pages are oidc-provider's own (`/device`): GET it for the `xsrf`
// token (`<input type="hidden" name="xsrf" value="...">`, tied to the `_session` cookie), then
// POST form `xsrf`, `user_code` and `confirm=yes` (or `abort=yes`) to `/device`; that leads into
// the same login and consent interactions, and finally to a 200 page containing
// `DEVICE_FLOW_SUCCESS`, or `DEVICE_FLOW_ABORTED` after an abort. A wrong, expired or used code
// re-renders the code form (still 200) with `DEVICE_FLOW_ERROR: <why>`.

import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';
// Internal (oidc-provider has no public key rotation API; the version is pinned, so this is
// stable): builds the provider's keystore and the JWKS it serves from a JWK Set.
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';

const REDIRECT_URI = 'http://127.0.0.1/callback';
// Where RP-initiated logout may send the browser back to (OpenID RP-Initiated Logout 1.0 §3).
const POST_LOGOUT_REDIRECT_URI = 'http://127.0.0.1/signed-out';

/** The resource server that client credentials tokens are for (RFC 8707 resource indicator). */
const API = 'urn:grantflow:api';
const API_SCOPES = 'api:read api:write';

const ACCOUNTS = {
  alice: {
    name: 'Alice Example', given_name: 'Alice', family_name: 'Example',
    email: 'alice@example.test', email_verified: true,
  },
  bob: {
    name: 'Bob Example', given_name: 'Bob', family_name: 'Example',
    email: 'bob@example.test', email_verified: false,
  },
};

/** The public JWK of a checked-in test key (tests/keys/<name>.pem), with this `kid`. */
function testPublicKey(name, kid) {
  const pem = readFileSync(new URL(`../keys/${name}.pem`, import.meta.url));
  return { ...createPublicKey(pem).export({ format: 'jwk' }), kid, use: 'sig' };
}

/** What every JWT-authenticated test client may do. */
const JWT_CLIENT = {
  grant_types: [
    'client_credentials', 'authorization_code', 'refresh_token',
    'urn:ietf:params:oauth:grant-type:device_code',
  ],
  response_types: ['code'],
  redirect_uris: [REDIRECT_URI],
  scope: `openid offline_access profile email ${API_SCOPES}`,
};

const CLIENTS = [
  {
    ...JWT_CLIENT,
    client_id: 'pkjwt-es256',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [testPublicKey('es256', 'client-es256')] },
  },
  {
    ...JWT_CLIENT,
    client_id: 'pkjwt-rs256',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [testPublicKey('rs256', 'client-rs256')] },
  },
  {
    ...JWT_CLIENT,
    client_id: 'csjwt-app',
    client_secret: 'csjwt-app-secret-0123456789abcdefghijkl',
    token_endpoint_auth_method: 'client_secret_jwt',
  },
  {
    client_id: 'cc-basic',
    client_secret: 'cc-basic-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: API_SCOPES,
  },
  {
    client_id: 'cc-post',
    client_secret: 'cc-post-secret-0123456789abcdefgh',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: API_SCOPES,
  },
  {
    // Every character here needs form-urlencoding in HTTP Basic (RFC 6749 §2.3.1).
    client_id: 'cc-special',
    client_secret: 's3cr3t:with/special+chars&=%',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: API_SCOPES,
  },
  {
    client_id: 'web-app',
    client_secret: 'web-app-secret-0123456789abcdefghijk',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: [POST_LOGOUT_REDIRECT_URI],
  },
  {
    client_id: 'es256-app',
    client_secret: 'es256-app-secret-0123456789abcdefghij',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    id_token_signed_response_alg: 'ES256',
  },
  {
    // Public: no secret.
    client_id: 'spa',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: [POST_LOGOUT_REDIRECT_URI],
  },
  {
    // The `grantflow` command (crates/grantflow-cli): a public native app whose loopback
    // redirect URI matches on any port (RFC 8252 §7.3; oidc-provider ignores the port of a
    // native client's http://127.0.0.1 redirect URI).
    client_id: 'cli',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
  },
  {
    client_id: 'device-app',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  },
  {
    client_id: 'device-basic',
    client_secret: 'device-basic-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  },
  {
    client_id: 'par-app',
    client_secret: 'par-app-secret-0123456789abcdefghijk',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    require_pushed_authorization_requests: true,
  },
];

/**
 * The RFC 7638 thumbprint of an RSA or EC key: what oidc-provider makes the `kid` of a key
 * without one.
 */
function thumbprint(jwk) {
  const members = jwk.kty === 'RSA'
    ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
    : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** A fresh signing key as a private JWK, its `kid` the key's thumbprint. */
function signingKey(alg, type, options) {
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: thumbprint(jwk) };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The pages the device flow renders; the harness looks for the DEVICE_FLOW_* markers. */
function page(ctx, title, body) {
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html><html><head><title>${title}</title></head><body>${body}</body></html>`;
}

/** One fresh signing key per algorithm the provider signs with: RS256 and ES256. */
function signingKeys() {
  return [
    signingKey('RS256', 'rsa', { modulusLength: 2048 }),
    signingKey('ES256', 'ec', { namedCurve: 'P-256' }),
  ];
}

/**
 * Every signing key (private JWKs) the provider holds, newest first. oidc-provider signs with
 * the first key that fits the alg (its keystore keeps them in this order), so the newest key of
 * each alg signs, while the older ones stay published for verification.
 */
let privateKeys = signingKeys();

function configuration() {
  return {
    // Newest first (see privateKeys). RS256 signs ID tokens unless a client asks for another alg.
    jwks: { keys: privateKeys },
    clients: CLIENTS,
    // oidc-provider ignores scopes it has never heard of (RFC 6749 §3.3 lets it grant fewer), so
    // `invalid_scope` needs a scope it knows but that no client may ask for: api:admin.
    scopes: ['openid', 'offline_access', 'profile', 'email', 'api:read', 'api:write', 'api:admin'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name'],
      email: ['email', 'email_verified'],
    },
    async findAccount(_ctx, id) {
      const claims = ACCOUNTS[id];
      if (!claims) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...claims }) };
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      // RFC 9449. Every DPoP proof must carry a server nonce (requireNonce), so a client's
      // first proof is answered with `use_dpop_nonce` and a `DPoP-Nonce` header: the retry the
      // interop tests exercise. Replayed proofs are refused (allowReplay: false, the default).
      dPoP: {
        enabled: true,
        nonceSecret: Buffer.from('grantflow-test-dpop-nonce-secret'),
        requireNonce: () => true,
      },
      // RFC 9126. On by default in oidc-provider 8.8.1; explicit because the PAR interop tests
      // depend on it.
      pushedAuthorizationRequests: { enabled: true },
      deviceFlow: {
        enabled: true,
        userCodeInputSource(ctx, form, _out, err) {
          // Re-rendered with `err` (and status 200) for a wrong, expired or used code, or after
          // the user aborted the login.
          let error = '';
          if (err?.name === 'AbortedError') error = '<p>DEVICE_FLOW_ABORTED</p>';
          else if (err) error = `<p>DEVICE_FLOW_ERROR: ${escapeHtml(err.message)}</p>`;
          page(ctx, 'Device sign-in', `${error}${form}`);
        },
        successSource(ctx) {
          page(ctx, 'Device sign-in', '<p>DEVICE_FLOW_SUCCESS</p>');
        },
      },
      // A token request without `resource` still needs a resource server for client
      // credentials: default it to the API, whose scopes are api:read and api:write.
      resourceIndicators: {
        enabled: true,
        defaultResource(ctx, _client, oneOf) {
          if (oneOf) return oneOf;
          return ctx.oidc.params?.grant_type === 'client_credentials' ? API : undefined;
        },
        getResourceServerInfo(_ctx, resourceIndicator) {
          if (resourceIndicator !== API) throw new errors.InvalidTarget();
          // Opaque: a random string the client cannot read; introspection tells what it is.
          return { scope: API_SCOPES, audience: API, accessTokenFormat: 'opaque' };
        },
      },
    },
    // Error pages (say, a redirect_uri that is not registered) as JSON, for readable test failures.
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // Explicit values, to silence oidc-provider's "you should change this" warnings.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      ClientCredentials: 3600,
      DeviceCode: 600,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: 86400,
      Session: 3600,
    },
    cookies: { keys: ['grantflow-test-provider-cookie-key'] },
  };
}

/** Reads an application/x-www-form-urlencoded request body. */
async function formBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** Grants everything the pending consent prompt asks for and returns the grant's id. */
async function grantAll(provider, details) {
  const { prompt: { details: missing }, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

/**
 * The test-only interaction endpoints (see the header). Answers and returns true for
 * `/interaction/...`, returns false for everything else.
 */
async function interaction(provider, req, res) {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(
    new URL(req.url, 'http://127.0.0.1').pathname,
  );
  if (!match) return false;
  const [, uid, action] = match;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    json(res, 400, { error: 'interaction uid does not match the interaction cookie' });
    return true;
  }

  const { prompt } = details;
  if (req.method === 'GET' && !action) {
    json(res, 200, {
      uid,
      prompt: prompt.name,
      reasons: prompt.reasons,
      details: prompt.details,
      params: details.params,
    });
  } else if (req.method !== 'POST' || !action) {
    json(res, 405, { error: 'method not allowed' });
  } else if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  } else if (action === 'login' && prompt.name === 'login') {
    const accountId = (await formBody(req)).get('login');
    if (!ACCOUNTS[accountId]) {
      json(res, 400, {
        error: `unknown account ${JSON.stringify(accountId)}`, accounts: Object.keys(ACCOUNTS),
      });
      return true;
    }
    await provider.interactionFinished(
      req, res, { login: { accountId } }, { mergeWithLastSubmission: false },
    );
  } else if (action === 'confirm' && prompt.name === 'consent') {
    const grantId = await grantAll(provider, details);
    await provider.interactionFinished(req, res, { consent: { grantId } });
  } else {
    json(res, 400, { error: `cannot ${action} at the ${prompt.name} prompt` });
  }
  return true;
}

/**
 * `POST /test/rotate-keys` (see the header): answers and returns true for `/test/...`, returns
 * false for everything else.
 */
async function testRoute(provider, req, res) {
  const { pathname } = new URL(req.url, 'http://127.0.0.1');
  if (!pathname.startsWith('/test/')) return false;
  if (pathname !== '/test/rotate-keys') {
    json(res, 404, { error: `no test route ${pathname}` });
  } else if (req.method !== 'POST') {
    json(res, 405, { error: 'method not allowed' });
  } else {
    const fresh = signingKeys();
    privateKeys = [...fresh, ...privateKeys];
    // Replaces the keystore (which signs: the first key of an alg wins) and the served JWKS.
    // Synchronous, so no request sees half a rotation.
    initializeKeystore.call(provider, { keys: privateKeys });
    json(res, 200, {
      kids: fresh.map((key) => key.kid),
      published: privateKeys.map((key) => key.kid),
    });
  }
  return true;
}

// Never outlive the process that started us: it holds our stdin open.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();

// By hand, `GRANTFLOW_PROVIDER_PORT=4444 node provider.mjs` fixes the port (the README's `grantflow`
// examples use it); the tests never set it and get an OS-chosen port.
const port = Number(process.env.GRANTFLOW_PROVIDER_PORT ?? 0);
const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    try {
      if (await interaction(provider, req, res)) return;
      if (await testRoute(provider, req, res)) return;
      callback(req, res);
    } catch (err) {
      // oidc-provider's own errors (say, an expired interaction) carry an OAuth error and status.
      if (!err.error) console.error(err);
      if (res.headersSent) {
        res.end();
      } else {
        json(res, err.statusCode ?? 500, {
          error: err.error ?? 'server_error',
          error_description: err.error_description ?? String(err),
        });
      }
    }
  });
  process.stdout.write(`LISTENING ${issuer}\n`);
});
