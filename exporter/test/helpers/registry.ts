// A real image registry for tests: Debian's docker-registry (the CNCF distribution registry)
// on a loopback port, serving TLS with a throw-away CA made by openssl, and either Basic auth
// from an htpasswd file (bcrypt, as the registry requires: apache2-utils' htpasswd -B) or the
// token flow Docker Hub and GHCR use: the registry answers 401 with a Bearer challenge naming a
// token service, here a small HTTPS server in this process that checks the same user and
// password and signs ES256 JWTs with a key the registry trusts (`auth.token.rootcertbundle`,
// found by its libtrust key id). Everything lives in a temp directory; stop() ends the
// registry this helper started, by its PID, and closes the token service.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { type Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './exporter.js';
import { selfSigned, signedBy } from './certs.js';
import { requireTool } from './tools.js';

export interface TestRegistry {
  /** 127.0.0.1:PORT, as image names start with it. */
  host: string;
  port: number;
  username: string;
  password: string;
  /** Token mode: the requests the token service answered (query string and whether the credentials matched). */
  tokenRequests: { query: string; authorized: boolean }[];
  /** PEM of the throw-away CA that signed the registry's certificate. */
  caFile: string;
  dir: string;
  /** Stops the registry process (its storage stays, so start() serves the same images again). */
  pause(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A CA and a server certificate for 127.0.0.1 signed by it, in `dir`: ca.crt, server.crt, server.key. */
export function throwAwayCa(dir: string): { ca: string; cert: string; key: string } {
  selfSigned(dir, { subject: '/CN=lanscape test CA', key: 'ca.key', cert: 'ca.crt' });
  signedBy(
    dir,
    { cert: 'ca.crt', key: 'ca.key' },
    {
      subject: '/CN=127.0.0.1',
      key: 'server.key',
      cert: 'server.crt',
      ext: ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth'],
    },
  );
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** libtrust's key id (what the registry looks a JWT's `kid` up by): base32 of the first 240 bits of SHA-256(SPKI DER), in groups of 4. */
function libtrustKeyId(spki: Buffer): string {
  const bytes = createHash('sha256').update(spki).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}

/**
 * The token service: Basic auth against the registry's user, then a JWT granting what the
 * scope asks. Validity is wide (from the epoch to years ahead): the registry checks it with the
 * machine's real clock, while the suite also runs under faketime.
 */
async function startTokenService(
  dir: string,
  tls: { cert: string; key: string },
  user: { username: string; password: string },
  log: { query: string; authorized: boolean }[],
): Promise<{ server: HttpsServer; realm: string; bundle: string }> {
  selfSigned(dir, { subject: '/CN=lanscape test token signer', key: 'token.key', cert: 'token.crt', days: 3650 });
  const key = readFileSync(join(dir, 'token.key'));
  const kid = libtrustKeyId(
    createPublicKey(readFileSync(join(dir, 'token.crt'))).export({ type: 'spki', format: 'der' }),
  );
  const expected = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  const server = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    const authorized = req.headers.authorization === expected;
    log.push({ query: url.search, authorized });
    if (url.pathname !== '/token' || !authorized) {
      res.statusCode = 401;
      return void res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const m = /^repository:([^:]+):(.+)$/.exec(scope);
      return m ? [{ type: 'repository', name: m[1], actions: m[2]!.split(',') }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', kid }));
    const claims = b64url(
      JSON.stringify({
        iss: 'lanscape-test-issuer',
        sub: user.username,
        aud: url.searchParams.get('service'),
        exp: now + 3 * 365 * 86_400,
        nbf: 1,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    );
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ token: `${header}.${claims}.${b64url(signature)}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const realm = `https://127.0.0.1:${(server.address() as { port: number }).port}/token`;
  return { server, realm, bundle: join(dir, 'token.crt') };
}

/** Starts a registry, or skips the test (locally) / fails it (CI) when a tool is missing. */
export async function startRegistry(
  t: TestContext,
  { auth = 'basic' }: { auth?: 'basic' | 'token' } = {},
): Promise<TestRegistry | undefined> {
  if (!requireTool(t, 'docker-registry', 'apt-get install docker-registry')) return undefined;
  if (!requireTool(t, 'htpasswd', 'apt-get install apache2-utils')) return undefined;
  if (!requireTool(t, 'openssl', 'apt-get install openssl')) return undefined;
  const { dir, cleanup } = tempDir('lanscape-test-registry-');
  const username = 'lanscape';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const tls = throwAwayCa(dir);
  run('htpasswd', ['-Bbc', join(dir, 'htpasswd'), username, password], dir);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const tokenRequests: { query: string; authorized: boolean }[] = [];
  const token = auth === 'token' ? await startTokenService(dir, tls, { username, password }, tokenRequests) : null;
  const authConfig = token
    ? [
        '  token:',
        `    realm: ${token.realm}`,
        '    service: lanscape-test-registry',
        '    issuer: lanscape-test-issuer',
        `    rootcertbundle: ${token.bundle}`,
      ]
    : ['  htpasswd:', '    realm: lanscape-test', `    path: ${join(dir, 'htpasswd')}`];
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      `  secret: ${Math.random().toString(36).slice(2)}`,
      '  tls:',
      `    certificate: ${tls.cert}`,
      `    key: ${tls.key}`,
      'auth:',
      ...authConfig,
      '',
    ].join('\n'),
  );
  const ca = readFileSync(tls.ca);
  let child: ChildProcess | null = null;
  let log = '';
  const kill = () => child?.kill('SIGKILL');
  process.once('exit', kill);

  async function start(): Promise<void> {
    const c = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    c.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const { request } = await import('node:https');
    for (let i = 0; i < 100; i++) {
      if (c.exitCode !== null) throw new Error(`docker-registry exited with ${c.exitCode}: ${log}`);
      const status = await new Promise<number>((resolve) => {
        const req = request(`https://${host}/v2/`, { ca, timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        req.end();
      });
      if (status === 401) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`docker-registry did not answer on ${host}: ${log}`);
  }

  async function pause(): Promise<void> {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  try {
    await start();
  } catch (err) {
    kill();
    token?.server.close();
    cleanup();
    throw err;
  }
  return {
    host,
    port,
    username,
    password,
    tokenRequests,
    caFile: tls.ca,
    dir,
    pause,
    start,
    async stop() {
      await pause();
      if (token) await new Promise((resolve) => token.server.close(resolve));
      process.off('exit', kill);
      cleanup();
    },
  };
}
