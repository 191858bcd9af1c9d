// Hardening of authentication and of the audit identity: weak tokens refused at start, secrets in
// URLs masked in configuration errors, failed-authentication throttling per client address, the
// Host allow-list, and a Grafana user that only Grafana's proxy (or its signed ID token) can name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { GrafanaIdVerifier } from '../src/audit/grafana-id.js';
import { ConfigError, loadConfig, maskCredentials } from '../src/config/load.js';
import { AuthThrottle, clientKey } from '../src/http/auth.js';
import { type RunningExporter, startExporter } from '../src/server.js';
import { EXPORTER_DIR, TOKENS, type TestExporter, startTestExporter, tempDir, testEnv } from './helpers/exporter.js';
import { type JwksServer, idToken, signingKey, startJwks } from './helpers/grafana-id.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    for (const p of e.problems) assert.ok(e.message.includes(p));
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/** One HTTP request with full control: the Host header, the local (source) address. */
function raw(
  base: string,
  method: string,
  path: string,
  options: {
    headers?: Record<string, string>;
    body?: unknown;
    localAddress?: string;
    token?: string | null;
  } = {},
): Promise<Raw> {
  const u = new URL(base);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: Number(u.port),
        method,
        path,
        headers,
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** An exporter in this process whose log lines are kept (JSON objects). */
async function loggedExporter(
  extra: Record<string, string>,
): Promise<{ ex: RunningExporter; lines: any[]; stop: () => Promise<void> }> {
  const { dir, cleanup } = tempDir();
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  const config = loadConfig(testEnv(join(dir, 'lanscape.db'), { ...extra, LANSCAPE_LOG_LEVEL: 'info' }));
  const ex = await startExporter(config, pino({ level: 'info' }, sink));
  return {
    ex,
    lines,
    stop: async () => {
      await ex.close();
      cleanup();
    },
  };
}

describe('weak tokens are refused at start-up', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['LANSCAPE_READ_TOKEN', '0123456789abcdef0123456', /at least 24 characters/],
    ['LANSCAPE_WRITE_TOKEN', 'x'.repeat(40), /one repeated character/],
    ['LANSCAPE_ADMIN_TOKEN', '7'.repeat(24), /one repeated character/],
  ];
  for (const [name, value, why] of cases) {
    it(`${name}=<${value.length} characters${/^(.)\1*$/.test(value) ? ', one repeated' : ''}> names the variable, not the value`, () => {
      const problems = problemsOf(() => loadConfig({ [name]: value }));
      const p = problems.find((x) => x.includes(name));
      assert.ok(p, JSON.stringify(problems));
      assert.match(p, why);
      assert.ok(!problems.join('\n').includes(value), 'the value never shows');
    });
  }

  it('a named token from YAML too, and 24 mixed characters pass', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(
        file,
        'tokens:\n  named:\n    - { name: ci, token: "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", scope: read }\n',
      );
      const problems = problemsOf(() => loadConfig({}, file));
      assert.match(problems.join('\n'), /tokens\.named\.0\.token .*\*\*\*.*one repeated character/);
      assert.equal(
        loadConfig({ LANSCAPE_READ_TOKEN: 'Zq3-vT9_kP2.mW7!rX4#nB6$' }).tokens.read,
        'Zq3-vT9_kP2.mW7!rX4#nB6$',
      );
    } finally {
      cleanup();
    }
  });

  it('the exporter process exits non-zero with the message (--check-config)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--check-config'], {
      cwd: EXPORTER_DIR,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        ...process.env,
        LANSCAPE_CONFIG: '',
        LANSCAPE_WRITE_TOKEN: 'short-write-token',
        LANSCAPE_ADMIN_TOKEN: 'a'.repeat(32),
      },
    });
    const out = `${r.stdout}${r.stderr}`;
    assert.notEqual(r.status, 0, out);
    assert.match(out, /LANSCAPE_WRITE_TOKEN.*at least 24 characters/);
    assert.match(out, /LANSCAPE_ADMIN_TOKEN.*one repeated character/);
    assert.ok(!out.includes('short-write-token') && !out.includes('a'.repeat(32)), out);
  });
});

describe('credentials inside URLs never show in configuration errors', () => {
  it('maskCredentials hides userinfo and credential parameters, in valid URLs and in any text', () => {
    assert.equal(maskCredentials('https://root:hunter2@pve.lan:8006/'), 'https://***@pve.lan:8006/');
    assert.equal(
      maskCredentials('http://tok3n@host/x?a=1&access_token=abc&b=2#id_token=xyz'),
      'http://***@host/x?a=1&access_token=***&b=2#id_token=***',
    );
    assert.equal(
      maskCredentials('nas=tcp://u:p@nas:2376,lab=http://lab:2375/?apikey=k1'),
      'nas=tcp://***@nas:2376,lab=http://lab:2375/?apikey=***',
    );
    assert.equal(
      maskCredentials('https://h/?password=p&Token=t&X-Amz-Signature=s'),
      'https://h/?password=***&Token=***&X-Amz-Signature=***',
    );
    assert.equal(maskCredentials('https://pve.lan:8006 and no secret'), 'https://pve.lan:8006 and no secret');
  });

  it('LANSCAPE_PROXMOX_URL with user:pass@ and ?token= (refused for them) shows neither', () => {
    const problems = problemsOf(() =>
      loadConfig({
        LANSCAPE_PROXMOX_URL: 'https://root%40pam:Hunter2Secret@pve.lan:8006/?token=PVEAPIToken-abc',
        LANSCAPE_PROXMOX_TOKEN_ID: 'lanscape@pve!inv',
        LANSCAPE_PROXMOX_TOKEN_SECRET: '7f0c2a9e-5b1d-4c3e-9a8f-1d2e3f4a5b6c',
      }),
    );
    const all = problems.join('\n');
    assert.match(all, /proxmox\.url \(from LANSCAPE_PROXMOX_URL\) = "https:\/\/\*\*\*@pve\.lan:8006\/\?token=\*\*\*"/);
    for (const secret of ['Hunter2Secret', 'PVEAPIToken-abc', 'root%40pam', '7f0c2a9e'])
      assert.ok(!all.includes(secret), all);
  });

  it('LANSCAPE_DOCKER_HOSTS with credentials in an endpoint URL that is invalid for another reason (tcp:// without TLS)', () => {
    const problems = problemsOf(() =>
      loadConfig({ LANSCAPE_DOCKER_HOSTS: 'local=unix:///var/run/docker.sock,nas=tcp://admin:DockerPass1@nas:2376' }),
    );
    const all = problems.join('\n');
    assert.match(all, /LANSCAPE_DOCKER_HOSTS/);
    assert.match(all, /TLS/);
    assert.ok(!all.includes('DockerPass1') && !all.includes('admin:'), all);
  });

  it('LANSCAPE_GRAFANA_URL with credentials, a wrong scheme and ?access_token=, also past the 80-character cut', () => {
    const url = `ftp://grafana-admin:GrafanaPw9@grafana.example.internal:3000/${'sub/'.repeat(5)}?access_token=eyJsecret`;
    const problems = problemsOf(() =>
      loadConfig({
        LANSCAPE_GRAFANA_URL: url,
        LANSCAPE_GRAFANA_PROXY_TOKENS: 'read',
        LANSCAPE_READ_TOKEN: TOKENS.read,
      }),
    );
    const all = problems.join('\n');
    assert.match(all, /grafana\.url \(from LANSCAPE_GRAFANA_URL\) = "ftp:\/\/\*\*\*@grafana/);
    for (const secret of ['GrafanaPw9', 'grafana-admin', 'eyJsecret', 'eyJ']) assert.ok(!all.includes(secret), all);
  });

  it('a YAML docker endpoint URL with credentials', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(
        file,
        'docker:\n  endpoints:\n    - name: nas\n      url: "tcp://ops:YamlSecret7@nas:2376/?password=pw2"\n',
      );
      const all = problemsOf(() => loadConfig({}, file)).join('\n');
      assert.match(all, /docker\.endpoints\.0\.url/);
      assert.ok(!all.includes('YamlSecret7') && !all.includes('pw2'), all);
    } finally {
      cleanup();
    }
  });
});

describe('Grafana proxy tokens and URL: configuration', () => {
  it('names must be configured tokens; the URL needs them', () => {
    let all = problemsOf(() =>
      loadConfig({ LANSCAPE_WRITE_TOKEN: TOKENS.write, LANSCAPE_GRAFANA_PROXY_TOKENS: 'write,grafana' }),
    ).join('\n');
    assert.match(
      all,
      /tokens\.grafana_proxy \(from LANSCAPE_GRAFANA_PROXY_TOKENS\).*"grafana" is not a configured token \(configured: write\)/,
    );
    all = problemsOf(() => loadConfig({ LANSCAPE_GRAFANA_URL: 'http://127.0.0.1:3000' })).join('\n');
    assert.match(all, /grafana\.url .*LANSCAPE_GRAFANA_PROXY_TOKENS/);
    const c = loadConfig({
      LANSCAPE_WRITE_TOKEN: TOKENS.write,
      LANSCAPE_GRAFANA_PROXY_TOKENS: ' write ',
      LANSCAPE_GRAFANA_URL: 'https://grafana.lan/',
    });
    assert.deepEqual(c.tokens.grafana_proxy, ['write']);
    assert.equal(c.grafana.url, 'https://grafana.lan/');
  });

  it('LANSCAPE_ALLOWED_HOSTS entries are validated and normalised', () => {
    assert.deepEqual(
      loadConfig({ LANSCAPE_ALLOWED_HOSTS: 'LocalHost, 127.0.0.1:09645,[::1]:80, exporter.lan.' }).allowed_hosts,
      ['localhost', '127.0.0.1:9645', '[::1]:80', 'exporter.lan'],
    );
    const all = problemsOf(() => loadConfig({ LANSCAPE_ALLOWED_HOSTS: 'ok.lan,http://bad.lan/' })).join('\n');
    assert.match(all, /allowed_hosts \(from LANSCAPE_ALLOWED_HOSTS\).*"http:\/\/bad\.lan\/" is not a host name/);
  });
});

describe('failed-authentication throttling per client address', () => {
  it('AuthThrottle: N failures hold an address off for the rest of its minute, then it may try again', () => {
    let now = 1_000_000;
    const logged: any[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(c: Buffer, _e, d) {
          logged.push(JSON.parse(c.toString()));
          d();
        },
      }),
    );
    const t = new AuthThrottle(3, logger, '/api/v1', () => now);
    for (let i = 0; i < 2; i++) t.fail('198.51.100.7');
    assert.equal(t.retryAfter('198.51.100.7'), 0, 'two failures of three: not yet');
    now += 10_000;
    t.fail('198.51.100.7');
    assert.equal(t.retryAfter('198.51.100.7'), 50, 'held off until the window that began 10 s ago ends');
    assert.equal(t.retryAfter('198.51.100.8'), 0, 'another address is not');
    for (let i = 0; i < 50; i++) t.fail('198.51.100.7');
    now += 49_500;
    assert.equal(t.retryAfter('198.51.100.7'), 1);
    now += 500;
    assert.equal(t.retryAfter('198.51.100.7'), 0, 'a new minute');
    assert.equal(logged.length, 1, 'logged once per window and address');
    assert.equal(logged[0].client, '198.51.100.7');
    t.fail('198.51.100.7');
    assert.equal(t.retryAfter('198.51.100.7'), 0, 'counting starts over');
  });

  it('AuthThrottle keeps at most maxEntries addresses; 0 turns it off', () => {
    let now = 0;
    const t = new AuthThrottle(2, pino({ level: 'silent' }), '/api/v1', () => now, 60_000, 100);
    for (let i = 0; i < 10_000; i++) {
      t.fail(`10.0.${i >> 8}.${i & 255}`);
      now += 1;
    }
    assert.ok(t.tracked <= 100, `${t.tracked} tracked`);
    const off = new AuthThrottle(0, pino({ level: 'silent' }), '/api/v1');
    for (let i = 0; i < 100; i++) off.fail('10.0.0.1');
    assert.equal(off.retryAfter('10.0.0.1'), 0);
    assert.equal(off.tracked, 0);
  });

  it('clientKey: IPv4-mapped addresses as IPv4, IPv6 by its /64, sockets as one', () => {
    assert.equal(clientKey('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'));
    assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
    assert.equal(clientKey(undefined), 'local socket');
  });

  describe('over HTTP', () => {
    let run: Awaited<ReturnType<typeof loggedExporter>>;
    before(async () => {
      run = await loggedExporter({
        LANSCAPE_AUTH_FAILURES_PER_MINUTE: '5',
        LANSCAPE_METRICS_USERNAME: 'prom',
        LANSCAPE_METRICS_PASSWORD: 'scrape-password-1',
      });
    });
    after(() => run.stop());

    it('5 wrong tokens from 127.0.0.2 get 401, then everything from it gets 429 with Retry-After; 127.0.0.1 is unaffected', async () => {
      const url = run.ex.url;
      for (let i = 0; i < 5; i++) {
        const r = await raw(url, 'GET', '/api/v1/info', {
          token: `wrong-token-${i}-0123456789abcdef`,
          localAddress: '127.0.0.2',
        });
        assert.equal(r.status, 401, `attempt ${i + 1}`);
      }
      for (const token of ['wrong-token-6-0123456789abcdef', TOKENS.read]) {
        const r = await raw(url, 'GET', '/api/v1/info', { token, localAddress: '127.0.0.2' });
        assert.equal(r.status, 429, r.text);
        assert.equal(r.body.error.code, 'too_many_auth_failures');
        const retry = Number(r.headers['retry-after']);
        assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
      }
      const other = await raw(url, 'GET', '/api/v1/info', { token: TOKENS.read, localAddress: '127.0.0.1' });
      assert.equal(other.status, 200, 'another address is served');
      // Requests without any token are not guesses and are not counted.
      for (let i = 0; i < 10; i++)
        assert.equal((await raw(url, 'GET', '/api/v1/info', { localAddress: '127.0.0.3' })).status, 401);
      assert.equal(
        (await raw(url, 'GET', '/api/v1/info', { token: TOKENS.read, localAddress: '127.0.0.3' })).status,
        200,
      );
      // More refused requests: still one log line for the window, and no request line per refusal.
      for (let i = 0; i < 20; i++)
        await raw(url, 'GET', '/api/v1/subnets', {
          token: 'x-still-wrong-0123456789abcdef',
          localAddress: '127.0.0.2',
        });
      const throttled = run.lines.filter((l) => /too many failed authentications/.test(l.msg ?? ''));
      assert.equal(throttled.length, 1, JSON.stringify(throttled));
      assert.equal(throttled[0].client, '127.0.0.2');
      assert.equal(throttled[0].surface, '/api/v1');
      assert.equal(run.lines.filter((l) => l.msg === 'request' && l.status === 429).length, 0);
      assert.equal(
        run.lines.filter((l) => l.msg === 'request' && l.status === 401 && l.url === '/api/v1/info').length,
        5 + 10,
      );
    });

    it('/metrics passwords have their own throttle: wrong ones hold off the scraper, not the API', async () => {
      const url = run.ex.url;
      const basic = (p: string) => ({ authorization: `Basic ${Buffer.from(`prom:${p}`).toString('base64')}` });
      for (let i = 0; i < 5; i++) {
        assert.equal(
          (await raw(url, 'GET', '/metrics', { headers: basic(`nope-${i}`), localAddress: '127.0.0.4' })).status,
          401,
        );
      }
      const held = await raw(url, 'GET', '/metrics', {
        headers: basic('scrape-password-1'),
        localAddress: '127.0.0.4',
      });
      assert.equal(held.status, 429);
      assert.ok(Number(held.headers['retry-after']) >= 1);
      assert.equal(
        (await raw(url, 'GET', '/api/v1/info', { token: TOKENS.read, localAddress: '127.0.0.4' })).status,
        200,
      );
      assert.equal(
        (await raw(url, 'GET', '/metrics', { headers: basic('scrape-password-1'), localAddress: '127.0.0.5' })).status,
        200,
      );
    });
  });
});

describe('Host allow-list', () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter({ LANSCAPE_ALLOWED_HOSTS: '127.0.0.1,Exporter.LAN:8443' });
  });
  after(() => ex.stop());

  it('answers the listed hosts (any port for a name without one) and 421 to others', async () => {
    const port = new URL(ex.url).port;
    assert.equal(
      (await raw(ex.url, 'GET', '/api/v1/info', { token: TOKENS.read, headers: { host: `127.0.0.1:${port}` } })).status,
      200,
    );
    assert.equal(
      (await raw(ex.url, 'GET', '/api/v1/info', { token: TOKENS.read, headers: { host: 'exporter.lan.:8443' } }))
        .status,
      200,
    );
    for (const host of ['evil.example', 'exporter.lan:9645', 'exporter.lan', '127.0.0.1.evil.example', 'localhost']) {
      for (const path of ['/api/v1/info', '/metrics', '/api/v1/openapi.json', '/docs/']) {
        const r = await raw(ex.url, 'GET', path, { token: TOKENS.read, headers: { host } });
        assert.equal(r.status, 421, `${host} ${path}: ${r.text}`);
        assert.equal(r.body.error.code, 'host_not_allowed');
        assert.match(r.body.error.message, /LANSCAPE_ALLOWED_HOSTS/);
      }
    }
  });

  it('/healthz and /readyz stay open to probes with any Host', async () => {
    assert.equal((await raw(ex.url, 'GET', '/healthz', { headers: { host: 'evil.example' } })).status, 200);
    assert.equal((await raw(ex.url, 'GET', '/readyz', { headers: { host: '10.0.0.5:9645' } })).status, 200);
  });
});

describe("the audit log names a Grafana user only for Grafana's proxy token", () => {
  it('without tokens.grafana_proxy no request can name one', async () => {
    const ex = await startTestExporter();
    try {
      const r = await ex.api.call('POST', '/api/v1/subnets', {
        token: TOKENS.write,
        body: { cidr: '192.0.2.0/28', name: 'a' },
        headers: { 'x-grafana-user': 'mallory' },
      });
      assert.equal(r.status, 201, r.text);
      const audit = (await ex.api.get(`/api/v1/audit?object_type=subnet&object_id=${r.body.id}`)).body.results[0];
      assert.deepEqual([audit.actor, audit.grafana_user], ['write', null]);
    } finally {
      await ex.stop();
    }
  });

  it('X-Grafana-User counts with a proxy token and is ignored (and not logged) with any other', async () => {
    const run = await loggedExporter({ LANSCAPE_GRAFANA_PROXY_TOKENS: 'write' });
    try {
      const post = (token: string, user: string, cidr: string) =>
        raw(run.ex.url, 'POST', '/api/v1/subnets', {
          token,
          body: { cidr, name: cidr },
          headers: { 'x-grafana-user': user },
        });
      const viaGrafana = await post(TOKENS.write, 'alice', '192.0.2.0/28');
      const direct = await post(TOKENS.admin, 'mallory', '192.0.2.16/28');
      assert.deepEqual([viaGrafana.status, direct.status], [201, 201]);
      const entry = async (id: number) =>
        (await raw(run.ex.url, 'GET', `/api/v1/audit?object_type=subnet&object_id=${id}`, { token: TOKENS.read })).body
          .results[0];
      assert.deepEqual(
        [(await entry(viaGrafana.body.id)).actor, (await entry(viaGrafana.body.id)).grafana_user],
        ['write', 'alice'],
      );
      assert.deepEqual(
        [(await entry(direct.body.id)).actor, (await entry(direct.body.id)).grafana_user],
        ['admin', null],
      );
      assert.ok(!JSON.stringify(run.lines).includes('mallory'), 'a header from another token is not even logged');
      assert.ok(run.lines.some((l) => l.msg === 'request' && l.grafanaUser === 'alice'));
      // A Grafana login in UTF-8 (Grafana sends its bytes, as this Node client does; the server
      // reads header bytes as latin1) is recorded as typed.
      const utf8 = await raw(run.ex.url, 'POST', '/api/v1/subnets', {
        token: TOKENS.write,
        headers: { 'x-grafana-user': 'josé' },
        body: { cidr: '192.0.2.32/28', name: 'utf8' },
      });
      assert.equal(utf8.status, 201);
      assert.equal((await entry(utf8.body.id)).grafana_user, 'josé', 'recorded as the login Grafana sent');
      assert.ok(run.lines.some((l) => l.msg === 'request' && l.grafanaUser === 'josé'));
    } finally {
      await run.stop();
    }
  });

  describe("with Grafana's URL: only a verified X-Grafana-Id names the user", () => {
    const key = signingKey('grafana-id-key');
    const stranger = signingKey('grafana-id-key'); // same kid, another key: a forgery
    let jwks: JwksServer;
    let run: Awaited<ReturnType<typeof loggedExporter>>;
    before(async () => {
      jwks = await startJwks([key]);
      run = await loggedExporter({ LANSCAPE_GRAFANA_PROXY_TOKENS: 'read,write', LANSCAPE_GRAFANA_URL: `${jwks.url}/` });
    });
    after(async () => {
      await run.stop();
      await jwks.close();
    });

    let n = 0;
    async function userOf(token: string, headers: Record<string, string>): Promise<string | null> {
      n++;
      const r = await raw(run.ex.url, 'POST', '/api/v1/subnets', {
        token,
        body: { cidr: `198.51.100.${n * 16}/28`, name: `s${n}` },
        headers,
      });
      assert.equal(r.status, 201, r.text);
      const a = await raw(run.ex.url, 'GET', `/api/v1/audit?object_type=subnet&object_id=${r.body.id}`, {
        token: TOKENS.read,
      });
      return a.body.results[0].grafana_user;
    }

    it('a valid ID token from the proxy token names its user; X-Grafana-User alone does not', async () => {
      assert.equal(
        await userOf(TOKENS.write, { 'x-grafana-id': idToken(key, 'bob'), 'x-grafana-user': 'alice' }),
        'bob',
      );
      assert.equal(await userOf(TOKENS.write, { 'x-grafana-user': 'alice' }), null);
      // A service account's token has no username: its subject stands in.
      assert.equal(
        await userOf(TOKENS.write, {
          'x-grafana-id': idToken(key, '', { sub: 'service-account:7', type: 'service-account', username: undefined }),
        }),
        'service-account:7',
      );
    });

    it('forged, expired, unsigned, wrong-audience tokens, and a valid one on another token, name nobody', async () => {
      const now = Math.floor(Date.now() / 1000);
      const good = idToken(key, 'carol');
      const [h, p] = good.split('.');
      const bad: Array<[string, string, string]> = [
        ['forged', TOKENS.write, idToken(stranger, 'intruder-zed')],
        ['expired', TOKENS.write, idToken(key, 'intruder-zed', { exp: now - 3600, iat: now - 4200 })],
        [
          'alg none',
          TOKENS.write,
          `${Buffer.from(JSON.stringify({ alg: 'none', kid: key.kid, typ: 'jwt' })).toString('base64url')}.${p}.`,
        ],
        [
          'HS256',
          TOKENS.write,
          `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: key.kid, typ: 'jwt' })).toString('base64url')}.${p}.${'A'.repeat(43)}`,
        ],
        [
          'claims swapped',
          TOKENS.write,
          `${h}.${Buffer.from(JSON.stringify({ username: 'intruder-zed', aud: ['org:1'], exp: now + 600 })).toString('base64url')}.${good.split('.')[2]}`,
        ],
        ['no audience', TOKENS.write, idToken(key, 'intruder-zed', { aud: [] })],
        ['unknown kid', TOKENS.write, idToken(signingKey('other-kid'), 'intruder-zed')],
        ['garbage', TOKENS.write, 'not.a.token!'],
        ['admin token', TOKENS.admin, good],
      ];
      for (const [what, token, id] of bad) {
        assert.equal(await userOf(token, { 'x-grafana-id': id }), null, what);
      }
      assert.ok(
        run.lines.some((l) => /Grafana ID token not accepted/.test(l.msg ?? '')),
        'the refusal is logged',
      );
      assert.ok(!JSON.stringify(run.lines).includes('intruder-zed'), 'no unverified name reaches the log');
    });

    it('the key set is fetched once, not per request, and an unknown kid does not refetch in a loop', async () => {
      assert.ok(jwks.fetches >= 1 && jwks.fetches <= 2, `${jwks.fetches} fetches`);
    });
  });
});

describe('GrafanaIdVerifier is bounded', () => {
  const key = signingKey('k1');

  it('a key set that hangs costs at most the timeout; one that is too large is refused', async () => {
    const jwks = await startJwks([key]);
    try {
      jwks.handler = () => {
        /* never answers */
      };
      const v = new GrafanaIdVerifier(jwks.url, pino({ level: 'silent' }), { fetchTimeoutMs: 300 });
      const t0 = Date.now();
      const r = await v.verify(idToken(key, 'dave'));
      assert.ok('error' in r);
      assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
      jwks.handler = (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [], pad: 'x'.repeat(100 * 1024) }));
      };
      const v2 = new GrafanaIdVerifier(jwks.url, pino({ level: 'silent' }));
      assert.ok('error' in (await v2.verify(idToken(key, 'dave'))));
      jwks.handler = undefined;
      const v3 = new GrafanaIdVerifier(jwks.url, pino({ level: 'silent' }));
      assert.deepEqual(await v3.verify(idToken(key, 'dave')), {
        user: 'dave',
        subject: 'user:dave-uid',
        audience: 'org:1',
      });
      assert.ok('error' in (await v3.verify(`${'a'.repeat(9000)}.b.c`)), 'an oversized token is not parsed');
    } finally {
      await jwks.close();
    }
  });

  it('unknown kids refetch at most once per cooldown; keys are refreshed after their max age', async () => {
    const jwks = await startJwks([key]);
    try {
      let now = Date.now();
      const v = new GrafanaIdVerifier(jwks.url, pino({ level: 'silent' }), {
        clock: () => now,
        refetchCooldownMs: 30_000,
        keysMaxAgeMs: 600_000,
      });
      const other = signingKey('k2');
      assert.ok('user' in (await v.verify(idToken(key, 'a'))));
      assert.equal(jwks.fetches, 1);
      for (let i = 0; i < 20; i++) assert.ok('error' in (await v.verify(idToken(other, 'b'))));
      assert.equal(jwks.fetches, 1, 'within the cooldown nothing is fetched again');
      jwks.keys.push(other); // Grafana rotated its key
      now += 31_000;
      assert.ok('user' in (await v.verify(idToken(other, 'b'))), 'after the cooldown the new key is found');
      assert.equal(jwks.fetches, 2);
      await Promise.all(Array.from({ length: 20 }, () => v.verify(idToken(key, 'a'))));
      assert.equal(jwks.fetches, 2);
      now += 601_000;
      await Promise.all(Array.from({ length: 20 }, () => v.verify(idToken(key, 'a'))));
      assert.equal(jwks.fetches, 3, 'stale keys are fetched again, once for many concurrent requests');
    } finally {
      await jwks.close();
    }
  });
});
