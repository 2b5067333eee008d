// The compose idp profile's entry point: writes the provider's configuration (IDP_CONFIG,
// deploy/idp/README.md) from the container's environment, then runs deploy/idp/server.mjs.
//
//   OIDC_ISSUER                 the issuer, http://idp.localhost:<IDP_PORT> (docker-compose.yml)
//   IDP_PORT, IDP_HOST          where it listens (the issuer's port, on every interface)
//   IDP_ADMIN_PASSWORD          the password of the account `admin` (role admin)
//   PORTAL_PUBLIC_URL           the portal, the one client: its redirect URIs are made from it
//   PORTAL_OIDC_CLIENT_ID, PORTAL_OIDC_CLIENT_SECRET
//   OIDC_AUDIENCE               the audience of the access tokens (cdht)
//   IDP_STATE_DIR               where the key, accounts.json and the configuration are kept
//                               (default /var/lib/cdht-idp, the container's volume)
//
// The signing key is made on the first start and kept in the volume (keys.json), so tokens
// stay valid across restarts. More accounts: accounts.json in the volume, a JSON list of
// {username, password, sub, claims: {name, email, cdht_role, cdht_unit}}, read at each start.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const STATE = process.env.IDP_STATE_DIR || '/var/lib/cdht-idp';
const env = process.env;

function fail(message) {
  console.error(`idp: ${message}`);
  process.exit(2);
}

function required(name) {
  const value = (env[name] || '').trim();
  if (!value) fail(`${name} is empty: set it in .env (docs/operator-guide.md, Sign-in)`);
  return value;
}

function writePrivate(path, text) {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

// The private signing key (ES256), made once and kept.
function signingKeys() {
  const path = join(STATE, 'keys.json');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const keys = { keys: [{ ...jwk, kid: `idp-${randomBytes(4).toString('hex')}`, alg: 'ES256', use: 'sig' }] };
  writePrivate(path, JSON.stringify(keys));
  return keys;
}

function extraAccounts() {
  const path = join(STATE, 'accounts.json');
  if (!existsSync(path)) return [];
  const accounts = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(accounts)) fail(`${path} must hold a JSON list of accounts`);
  return accounts;
}

const issuer = required('OIDC_ISSUER').replace(/\/+$/, '');
const port = env.IDP_PORT || '8080';
const issuerUrl = new URL(issuer);
const issuerPort = issuerUrl.port || (issuerUrl.protocol === 'https:' ? '443' : '80');
if (issuerPort !== port) {
  // browsers and the containers both use the issuer's port: this container must listen there
  fail(`OIDC_ISSUER ${issuer} names port ${issuerPort} but IDP_PORT is ${port}: make them agree`);
}
const portal = required('PORTAL_PUBLIC_URL').replace(/\/+$/, '');
const admin = {
  username: 'admin',
  password: required('IDP_ADMIN_PASSWORD'),
  sub: 'admin',
  claims: { name: 'Quản trị viên', preferred_username: 'admin', cdht_role: 'admin' },
};
const accounts = [admin, ...extraAccounts().filter((a) => a.username !== 'admin')];
const config = {
  issuer,
  audience: env.OIDC_AUDIENCE || 'cdht',
  keys: signingKeys(),
  accounts,
  clients: [{
    client_id: env.PORTAL_OIDC_CLIENT_ID || 'cdht-portal',
    client_secret: required('PORTAL_OIDC_CLIENT_SECRET'),
    client_name: 'Cổng thông tin CDHT',
    redirect_uris: [`${portal}/signin/callback`],
    post_logout_redirect_uris: [`${portal}/signed-out`],
  }],
};
const path = join(STATE, 'config.json');
writePrivate(path, JSON.stringify(config, null, 2));
console.log(`idp: ${accounts.length} account(s), client ${config.clients[0].client_id} at ${portal}`);
process.env.IDP_CONFIG = path;
process.env.IDP_PORT = port;
await import('./server.mjs');
