// A small OpenID Connect provider (oidc-provider) for CDHT's tests and local development: the
// authorization code flow with PKCE, JWT access tokens for the CDHT services carrying the
// account's cdht_role and cdht_unit, its own Vietnamese sign-in page, consent granted for the
// configured (first-party) clients. Configured by the JSON file IDP_CONFIG (README.md).
import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const { IDP_CONFIG, IDP_PORT = '4000', IDP_HOST = '127.0.0.1' } = process.env;
if (!IDP_CONFIG) {
  console.error('IDP_CONFIG must name the JSON configuration file (deploy/idp/README.md)');
  process.exit(2);
}
const config = JSON.parse(readFileSync(IDP_CONFIG, 'utf8'));
const issuer = config.issuer || `http://${IDP_HOST}:${IDP_PORT}`;
const audience = config.audience || 'cdht';
// What a client asks access for (RFC 8707); a client that names none gets this one.
const resource = config.resource || 'urn:cdht:api';
const ttl = {
  AccessToken: 600, IdToken: 600, Session: 3600, Interaction: 600, Grant: 3600, ...config.ttl,
};
const keys = config.keys?.keys || [];
if (!keys.length) {
  console.error('IDP_CONFIG: "keys" must be a JWKS of private signing keys (the first signs)');
  process.exit(2);
}

function algOf(jwk) {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  throw new Error(`IDP_CONFIG: no signing algorithm for key ${jwk.kid} (${jwk.kty})`);
}
const signing = { alg: algOf(keys[0]), kid: keys[0].kid };

// -- accounts ------------------------------------------------------------------------------
const accounts = new Map((config.accounts || []).map((a) => [a.username, a]));
const bySub = new Map((config.accounts || []).map((a) => [String(a.sub), a]));

function digest(text) {
  return crypto.createHash('sha256').update(String(text ?? ''), 'utf8').digest();
}

// The account whose password matches, or undefined; the same work whether the user exists
// or not, and a constant-time comparison.
function checkLogin(username, password) {
  const account = accounts.get(username);
  const same = crypto.timingSafeEqual(digest(account ? account.password : crypto.randomUUID()),
    digest(password));
  return account && same ? account : undefined;
}

const CDHT_CLAIMS = ['cdht_role', 'cdht_unit'];

function claimsOf(account) {
  return { sub: String(account.sub), ...(account.claims || {}) };
}

async function findAccount(_ctx, sub) {
  const account = bySub.get(String(sub));
  if (!account) return undefined;
  return { accountId: String(account.sub), claims: async () => claimsOf(account) };
}

// -- pages (Vietnamese) --------------------------------------------------------------------
function esc(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
label{display:block;margin-top:1rem;font-weight:600}
input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}
[role=alert]{color:#a00000;font-weight:600}
</style>
</head>
<body>
<main>
<h1>${esc(title)}</h1>
${body}
</main>
</body>
</html>`;
}

function loginPage(uid, clientName, { error, username } = {}) {
  const alert = error ? `<p role="alert" id="login-error">${esc(error)}</p>` : '';
  const described = error ? ' aria-describedby="login-error" aria-invalid="true"' : '';
  return page('Đăng nhập', `<p>Đăng nhập để tiếp tục vào ${esc(clientName)}.</p>
${alert}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="on">
<label for="username">Tên đăng nhập</label>
<input id="username" name="username" type="text" autocomplete="username" required autofocus value="${esc(username)}"${described}>
<label for="password">Mật khẩu</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${described}>
<button type="submit">Đăng nhập</button>
</form>`);
}

async function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = page('Đăng xuất', `<p>Bạn có muốn đăng xuất khỏi ${esc(ctx.host)} không?</p>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Đăng xuất</button>
<button type="submit" form="op.logoutForm">Ở lại</button>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Đã đăng xuất', '<p>Bạn đã đăng xuất.</p>');
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = page('Có lỗi xảy ra', Object.entries(out)
    .map(([key, value]) => `<p><strong>${esc(key)}</strong>: ${esc(value)}</p>`).join('\n'));
}

// -- the provider --------------------------------------------------------------------------
const provider = new Provider(issuer, {
  clients: (config.clients || []).map((c) => ({
    client_id: c.client_id,
    ...(c.client_secret ? { client_secret: c.client_secret }
      : { token_endpoint_auth_method: 'none' }),
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris || [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    ...(c.client_name ? { client_name: c.client_name } : {}),
  })),
  clientDefaults: { id_token_signed_response_alg: signing.alg },
  jwks: { keys },
  findAccount,
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    cdht: CDHT_CLAIMS,
  },
  // The ID token carries the claims of the granted scopes (cdht_role, cdht_unit), though an
  // access token is issued beside it.
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  pkce: { required: () => true },
  ttl,
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: 'cdht',
          audience,
          accessTokenTTL: ttl.AccessToken,
          accessTokenFormat: 'jwt',
          jwt: { sign: signing },
        };
      },
    },
  },
  extraTokenClaims: async (_ctx, token) => {
    const account = bySub.get(String(token.accountId));
    if (!account) return undefined;
    const claims = account.claims || {};
    return Object.fromEntries(CDHT_CLAIMS.filter((c) => c in claims).map((c) => [c, claims[c]]));
  },
  renderError,
});

// -- the sign-in interaction ---------------------------------------------------------------
function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10_000) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(body))));
    req.on('error', reject);
  });
}

// A browser applies form-action to the redirects that follow a form's submission too: the
// sign-in form's answer leads, through the provider's own redirects, to a client's redirect
// URI, so the clients' origins are allowed beside the provider's.
const FORM_ACTION = ["'self'", ...new Set((config.clients || []).flatMap(
  (c) => [...(c.redirect_uris || []), ...(c.post_logout_redirect_uris || [])])
  .map((uri) => new URL(uri).origin))].join(' ');

function sendHtml(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action ${FORM_ACTION}; frame-ancestors 'none'`,
    'x-frame-options': 'DENY',
  });
  res.end(html);
}

// Consent for a configured (first-party) client: every scope and claim asked for is granted.
async function grantConsent(details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return details.grantId ? {} : { grantId };
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.SessionNotFound('interaction mismatch');
  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName || details.params.client_id;
  if (details.prompt.name === 'consent') {
    const consent = await grantConsent(details);
    return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
  }
  if (details.prompt.name !== 'login') {
    return sendHtml(res, 400, page('Có lỗi xảy ra', '<p>Yêu cầu không hợp lệ.</p>'));
  }
  if (req.method === 'GET' && !action) return sendHtml(res, 200, loginPage(uid, clientName));
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const account = checkLogin(form.username, form.password);
    if (!account) {
      return sendHtml(res, 401, loginPage(uid, clientName, {
        error: 'Sai tên đăng nhập hoặc mật khẩu', username: form.username,
      }));
    }
    return provider.interactionFinished(req, res, { login: { accountId: String(account.sub) } },
      { mergeWithLastSubmission: false });
  }
  return sendHtml(res, 405, page('Có lỗi xảy ra', '<p>Yêu cầu không hợp lệ.</p>'));
}

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?$/;
const handleProvider = provider.callback();

const server = http.createServer(async (req, res) => {
  const path = (req.url || '/').split('?')[0];
  res.on('finish', () => console.log(`${req.method} ${path} ${res.statusCode}`));
  const match = INTERACTION.exec(path);
  if (!match) return handleProvider(req, res);
  try {
    return await interaction(req, res, match[1], match[2]);
  } catch (err) {
    const expired = err instanceof errors.SessionNotFound;
    if (!expired) console.error(err);
    if (!res.headersSent) {
      sendHtml(res, expired ? 400 : 500, page('Có lỗi xảy ra', expired
        ? '<p>Phiên đăng nhập đã hết hạn. Hãy bắt đầu lại từ ứng dụng.</p>'
        : '<p>Lỗi máy chủ.</p>'));
    }
  }
});

server.listen(Number(IDP_PORT), IDP_HOST, () => {
  console.log(`listening on ${IDP_HOST}:${IDP_PORT}, issuer ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
