// A stand-in for Grafana's ID-token signer and its JWKS endpoint, on 127.0.0.1: ES256 tokens
// shaped like pkg/services/auth/idimpl's (kid and typ "jwt" in the header; iss, sub, aud
// ["org:1"], exp, iat, username, … in the claims), keys at /api/signing-keys/keys.
import { type KeyObject, generateKeyPairSync, sign } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function signingKey(kid = 'id-test-key'): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { kid, privateKey, publicKey };
}

export function jwk(key: SigningKey): Record<string, unknown> {
  return { ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, alg: 'ES256', use: 'sig' };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A Grafana ID token for `username`; `claims` and `header` override the defaults. */
export function idToken(
  key: SigningKey,
  username: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const h = b64({ alg: 'ES256', kid: key.kid, typ: 'jwt', ...header });
  const p = b64({
    iss: 'http://127.0.0.1:3000/',
    sub: `user:${username}-uid`,
    aud: ['org:1'],
    exp: now + 600,
    iat: now,
    namespace: 'default',
    identifier: `${username}-uid`,
    type: 'user',
    username,
    name: username,
    email: `${username}@example.test`,
    email_verified: false,
    authenticatedBy: 'password',
    role: 'Editor',
    ...claims,
  });
  const sig = sign('sha256', Buffer.from(`${h}.${p}`), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString(
    'base64url',
  );
  return `${h}.${p}.${sig}`;
}

export interface JwksServer {
  url: string;
  /** Requests for the key set so far. */
  fetches: number;
  keys: SigningKey[];
  /** Replaces the answer (e.g. to hang, or to send too much). */
  handler?: ((res: import('node:http').ServerResponse) => void) | undefined;
  close(): Promise<void>;
}

/** Serves the public halves of `keys` as Grafana does at /api/signing-keys/keys. */
export async function startJwks(keys: SigningKey[]): Promise<JwksServer> {
  const state: JwksServer = { url: '', fetches: 0, keys, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    if (req.url !== '/api/signing-keys/keys') {
      res.writeHead(404).end();
      return;
    }
    state.fetches++;
    if (state.handler) {
      state.handler(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys.map(jwk) }));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((done) => {
      server.closeAllConnections();
      server.close(() => done());
    });
  return state;
}
