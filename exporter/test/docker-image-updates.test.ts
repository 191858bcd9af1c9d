// Image update checks, the parts a real registry cannot show on demand: reference parsing and
// the decision (pure), the token flow, 429 + Retry-After, per-image caching and bounded
// concurrency against small loopback HTTP(S) servers that answer like a registry would, and the
// configuration of registries. The clock is a variable; nothing waits for real time.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, after, describe, it, mock } from 'node:test';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../src/config/load.js';
import type { DockerClient } from '../src/docker/client.js';
import {
  classifyImage,
  compareDigests,
  jittered,
  parseChallenge,
  parseImageReference,
  retryAfterMs,
} from '../src/docker/core/image-update.js';
import type { Container } from '../src/docker/core/model.js';
import { ImageUpdateChecker } from '../src/docker/image-updates.js';
import { RegistryError, type RegistryClient, createRegistryClient } from '../src/docker/registry.js';
import { DockerService } from '../src/docker/service.js';
import { IpamService } from '../src/ipam/service.js';
import { Store } from '../src/store/store.js';
import { openTestStore } from './helpers/store.js';
import { throwAwayCa } from './helpers/registry.js';
import { requireTool } from './helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'lanscape-image-updates-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('image references and the decision', () => {
  it('normalises references like the Docker CLI', () => {
    assert.deepEqual(parseImageReference('nginx'), {
      registry: 'docker.io',
      repository: 'library/nginx',
      tag: 'latest',
      digest: null,
    });
    assert.deepEqual(parseImageReference('grafana/grafana:12.1.0'), {
      registry: 'docker.io',
      repository: 'grafana/grafana',
      tag: '12.1.0',
      digest: null,
    });
    assert.deepEqual(parseImageReference('ghcr.io/home-assistant/home-assistant:stable'), {
      registry: 'ghcr.io',
      repository: 'home-assistant/home-assistant',
      tag: 'stable',
      digest: null,
    });
    assert.deepEqual(parseImageReference('registry.lan:5000/tools/app'), {
      registry: 'registry.lan:5000',
      repository: 'tools/app',
      tag: 'latest',
      digest: null,
    });
    assert.deepEqual(parseImageReference(`localhost/app@${D('a')}`), {
      registry: 'localhost',
      repository: 'app',
      tag: null,
      digest: D('a'),
    });
    assert.equal(parseImageReference('index.docker.io/library/redis:7')!.registry, 'docker.io');
    assert.equal(parseImageReference(D('b')), null, 'an image ID is no reference');
    assert.equal(parseImageReference('Upper/Case'), null);
    assert.equal(parseImageReference(''), null);
  });

  it('tells pinned and local images from checkable ones', () => {
    assert.deepEqual(classifyImage(`nginx@${D('a')}`, [`nginx@${D('a')}`]), { kind: 'pinned' });
    assert.deepEqual(classifyImage('myapp:dev', []), { kind: 'local' }, 'built here, never pushed');
    assert.deepEqual(classifyImage(D('c'), []), { kind: 'local' }, 'created from an image ID');
    // Digests of another repository (the same image pushed elsewhere too) do not count.
    assert.deepEqual(classifyImage('registry.lan/app:1', [`ghcr.io/x/app@${D('d')}`]), { kind: 'local' });
    const c = classifyImage('nginx:1.27', [
      `nginx@${D('e')}`,
      `docker.io/library/nginx@${D('f')}`,
      `ghcr.io/x@${D('0')}`,
    ]);
    assert.equal(c.kind, 'checkable');
    assert.equal(c.kind === 'checkable' && c.key, 'docker.io/library/nginx:1.27');
    assert.deepEqual(c.kind === 'checkable' && c.digests, [D('e'), D('f')]);
    assert.equal(compareDigests([D('e'), D('f')], D('f')), 'up_to_date');
    assert.equal(compareDigests([D('e')], D('1')), 'update_available');
  });

  it('reads challenges, Retry-After and spreads the schedule', () => {
    assert.deepEqual(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      ),
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/nginx:pull',
        },
      },
    );
    assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
    assert.equal(parseChallenge(''), null);
    const now = Date.parse('2031-01-01T00:00:00Z');
    assert.equal(retryAfterMs('120', now, 60_000, 86_400_000), 120_000);
    assert.equal(retryAfterMs('Wed, 01 Jan 2031 00:05:00 GMT', now, 60_000, 86_400_000), 300_000);
    assert.equal(retryAfterMs(undefined, now, 60_000, 86_400_000), 60_000);
    assert.equal(retryAfterMs('9999999999', now, 60_000, 86_400_000), 86_400_000, 'bounded');
    assert.equal(jittered(1000, 0), 900);
    assert.equal(jittered(1000, 0.5), 1000);
    assert.equal(jittered(1000, 0.999999), 1100);
  });
});

// ------------------------------------------------------------------ a registry that is scripted
interface Fake {
  server: Server;
  host: string;
  requests: { method: string; url: string; auth: string | undefined }[];
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

async function fakeRegistry(
  handler: (req: IncomingMessage, res: ServerResponse, f: Fake) => void | Promise<void>,
): Promise<Fake> {
  const f = { requests: [], inFlight: 0, maxInFlight: 0 } as unknown as Fake;
  f.server = createServer(async (req, res) => {
    f.requests.push({ method: req.method!, url: req.url!, auth: req.headers.authorization });
    f.inFlight++;
    f.maxInFlight = Math.max(f.maxInFlight, f.inFlight);
    try {
      await handler(req, res, f);
    } finally {
      f.inFlight--;
    }
  });
  await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
  f.host = `127.0.0.1:${(f.server.address() as { port: number }).port}`;
  f.close = () => new Promise((r) => f.server.close(() => r()));
  return f;
}

const running = (id: string, image: string, imageId: string): Container => ({
  id,
  name: id,
  image,
  image_id: imageId,
  state: 'running',
  health: 'none',
  restart_count: 0,
  exit_code: null,
  started_at: 1,
  finished_at: null,
  created_at: 1,
  compose_project: null,
  compose_service: null,
  networks: [],
});

/** An engine that knows each image ID by the RepoDigests given. */
const engineWith = (digests: Record<string, string[]>): DockerClient =>
  ({ imageDigests: async (id: string) => digests[id] ?? null }) as unknown as DockerClient;

const settings = (host: string, extra: Record<string, unknown> = {}, concurrency = 2) => ({
  update_interval_seconds: 3600,
  update_concurrency: concurrency,
  registries: [{ host, http: true, ...extra }] as never,
});

describe('registry lookups', () => {
  it('follows the token flow with the configured credentials and reuses the token', async () => {
    let now = Date.parse('2031-01-01T00:00:00Z');
    const f = await fakeRegistry((req, res, fake) => {
      if (req.url!.startsWith('/token')) {
        res.setHeader('content-type', 'application/json');
        return void res.end(JSON.stringify({ token: 'tok-1', expires_in: 300 }));
      }
      if (req.headers.authorization !== 'Bearer tok-1') {
        res.statusCode = 401;
        res.setHeader('www-authenticate', `Bearer realm="http://${fake.host}/token",service="fake-registry"`);
        return void res.end();
      }
      res.setHeader('docker-content-digest', D('9'));
      res.end();
    });
    try {
      const client = createRegistryClient(() => now);
      const ref = parseImageReference(`${f.host}/team/app:2`)!;
      const access = { host: f.host, username: 'bot', password: 's3cret', http: true };
      assert.equal(await client.digest(ref, access), D('9'));
      const token = f.requests.find((r) => r.url.startsWith('/token'))!;
      assert.equal(token.auth, `Basic ${Buffer.from('bot:s3cret').toString('base64')}`);
      const q = new URL(token.url, 'http://x').searchParams;
      assert.equal(q.get('service'), 'fake-registry');
      assert.equal(q.get('scope'), 'repository:team/app:pull');
      assert.deepEqual(
        f.requests.map((r) => r.method),
        ['HEAD', 'GET', 'HEAD'],
      );
      assert.match(f.requests[2]!.url, /^\/v2\/team\/app\/manifests\/2$/);
      await client.digest(ref, access);
      assert.equal(f.requests.length, 4, 'the token is reused while valid');
      now += 600_000;
      await client.digest(ref, access);
      assert.equal(f.requests.filter((r) => r.url.startsWith('/token')).length, 2, 'and asked again once expired');
    } finally {
      await f.close();
    }
  });

  it('backs off a registry that answers 429 until its Retry-After has passed', async () => {
    let now = Date.parse('2031-01-01T00:00:00Z');
    let limited = true;
    const f = await fakeRegistry((_req, res) => {
      if (limited) {
        res.statusCode = 429;
        res.setHeader('retry-after', '120');
        return void res.end();
      }
      res.setHeader('docker-content-digest', D('2'));
      res.end();
    });
    try {
      const checker = new ImageUpdateChecker(
        settings(f.host, {}, 1),
        createRegistryClient(() => now),
        () => now,
        pino({ level: 'silent' }),
      );
      const engine = engineWith({ [D('a')]: [`${f.host}/app@${D('1')}`], [D('b')]: [`${f.host}/other@${D('3')}`] });
      const containers = [running('c1', `${f.host}/app:1`, D('a')), running('c2', `${f.host}/other:1`, D('b'))];
      const first = await checker.check('lab', engine, containers);
      assert.equal(f.requests.length, 1, 'after the 429 the other image is not asked for');
      assert.equal(first.retryAt, now + 120_000);
      let view = checker.view('lab');
      assert.equal(view.failures.get('rate_limited'), 1);
      assert.equal(view.lastSuccess, null);
      assert.equal(view.results.get('c1')!.status, 'unknown');

      now += 60_000;
      limited = false;
      const second = await checker.check('lab', engine, containers);
      assert.equal(f.requests.length, 1, 'not asked again within Retry-After');
      assert.equal(second.retryAt, Date.parse('2031-01-01T00:02:00Z'));
      assert.equal(checker.view('lab').failures.get('rate_limited'), 1, 'waiting is not a new failure');

      now += 61_000;
      await checker.check('lab', engine, containers);
      assert.equal(f.requests.length, 3);
      view = checker.view('lab');
      assert.equal(view.results.get('c1')!.status, 'update_available');
      assert.equal(view.results.get('c2')!.status, 'update_available');
      assert.equal(view.lastSuccess, now);
    } finally {
      await f.close();
    }
  });

  it('asks once per image tag, at most update_concurrency at once', async () => {
    const now = Date.parse('2031-01-01T00:00:00Z');
    const f = await fakeRegistry(async (req, res) => {
      await new Promise((r) => setTimeout(r, 20));
      const tag = req.url!.split('/').pop()!;
      res.setHeader('docker-content-digest', D(tag === 't0' ? '1' : '2'));
      res.end();
    });
    try {
      const checker = new ImageUpdateChecker(
        settings(f.host),
        createRegistryClient(() => now),
        () => now,
        pino({ level: 'silent' }),
      );
      const images: Record<string, string[]> = {};
      const containers: Container[] = [];
      for (let i = 0; i < 8; i++) {
        images[D(String(i))] = [`${f.host}/app@${D('1')}`];
        // Three containers per tag.
        for (let k = 0; k < 3; k++) containers.push(running(`c${i}-${k}`, `${f.host}/app:t${i}`, D(String(i))));
      }
      await checker.check('lab', engineWith(images), containers);
      assert.equal(f.requests.length, 8, 'one HEAD per tag, not per container');
      assert.ok(f.maxInFlight <= 2, `at most 2 at once, saw ${f.maxInFlight}`);
      const results = checker.view('lab').results;
      assert.equal(results.get('c0-2')!.status, 'up_to_date');
      assert.equal(results.get('c5-0')!.status, 'update_available');
      // Within half an interval the answers are reused (another endpoint running the same tags).
      await checker.check('nas', engineWith(images), containers.slice(0, 3));
      assert.equal(f.requests.length, 8);
    } finally {
      await f.close();
    }
  });

  it('counts refused credentials as unauthorized and never logs them', async () => {
    const now = Date.parse('2031-01-01T00:00:00Z');
    const password = 'not-this-one-8f3a';
    const f = await fakeRegistry((req, res) => {
      res.statusCode = 401;
      res.setHeader('www-authenticate', 'Basic realm="private"');
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', detail: req.headers.authorization }] }));
    });
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    try {
      const checker = new ImageUpdateChecker(
        settings(f.host, { username: 'bot', password }),
        createRegistryClient(() => now),
        () => now,
        logger,
      );
      await checker.check('lab', engineWith({ [D('a')]: [`${f.host}/app@${D('1')}`] }), [
        running('c', `${f.host}/app:1`, D('a')),
      ]);
      assert.equal(checker.view('lab').failures.get('unauthorized'), 1);
      assert.equal(f.requests.length, 2, 'asked once anonymously, once with Basic auth');
      assert.equal(f.requests[1]!.auth, `Basic ${Buffer.from(`bot:${password}`).toString('base64')}`);
      const log = lines.join('');
      assert.match(log, /image update check failed/);
      assert.ok(!log.includes(password) && !log.includes(Buffer.from(`bot:${password}`).toString('base64')), log);
      assert.ok(!JSON.stringify(checker.view('lab').results.get('c')).includes(password));
    } finally {
      await f.close();
    }
  });

  it('counts an unknown CA as a TLS failure and trusts the configured ca_file', async (t) => {
    if (!requireTool(t, 'openssl', 'apt-get install openssl')) return;
    const tls = throwAwayCa(mkdtempSync(join(dir, 'ca-')));
    const server = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (_req, res) => {
      res.setHeader('docker-content-digest', D('7'));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const now = Date.parse('2031-01-01T00:00:00Z');
      const engine = engineWith({ [D('a')]: [`${host}/app@${D('7')}`] });
      const untrusted = new ImageUpdateChecker(
        { update_interval_seconds: 3600, update_concurrency: 2, registries: [] },
        createRegistryClient(() => now),
        () => now,
        pino({ level: 'silent' }),
      );
      await untrusted.check('lab', engine, [running('c', `${host}/app:1`, D('a'))]);
      assert.equal(untrusted.view('lab').failures.get('tls'), 1);
      const trusted = new ImageUpdateChecker(
        settings(host, { http: false, ca_file: tls.ca }),
        createRegistryClient(() => now),
        () => now,
        pino({ level: 'silent' }),
      );
      await trusted.check('lab', engine, [running('c', `${host}/app:1`, D('a'))]);
      assert.equal(trusted.view('lab').results.get('c')!.status, 'up_to_date');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('the schedule', () => {
  it('checks about a minute after start, then every interval (jittered), sooner after a 429', async (t) => {
    const opened = await storeAndIpam(t);
    let now = Date.parse('2031-01-01T00:00:00Z');
    const answers: (string | RegistryError)[] = [D('1'), new RegistryError('rate_limited', '429', 120_000), D('2')];
    const asked: number[] = [];
    const registry: RegistryClient = {
      digest: async () => {
        asked.push(now);
        const a = answers.shift() ?? D('2');
        if (a instanceof RegistryError) throw a;
        return a;
      },
    };
    const client = {
      version: async () => ({ version: '28.2.2', api_version: '1.50' }),
      events: async () => ({ done: new Promise<void>(() => {}) }),
      containers: async () => [running('app', 'registry.lan/app:1', D('a'))],
      container: async () => null,
      networks: async () => [],
      stats: async () => null,
      imageDigests: async () => [`registry.lan/app@${D('1')}`],
    } as unknown as DockerClient;
    const config = loadConfig({
      LANSCAPE_DOCKER_HOSTS: 'lab=unix:///fake.sock',
      LANSCAPE_DOCKER_STATS: 'false',
      LANSCAPE_DOCKER_UPDATE_INTERVAL_SECONDS: '3600',
    }).docker;
    const svc = new DockerService(opened.store, opened.ipam, config, pino({ level: 'silent' }), {
      client: () => client,
      registry,
      now: () => now,
      random: () => 0.5, // no jitter: first check at 60 s, then every 3600 s
    });
    // Turns for the work a tick starts, and on PostgreSQL ~50 ms of real time for its store I/O.
    const settle = async () => {
      const until = Date.now() + (opened.store.pool ? 50 : 0);
      for (let i = 0; i < 20 || Date.now() < until; i++) await new Promise((r) => setImmediate(r));
    };
    const advance = async (ms: number) => {
      now += ms;
      mock.timers.tick(ms);
      await settle();
    };
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      svc.start();
      // The first sync reads and writes the store (real I/O on PostgreSQL): turns until it is done.
      const until = Date.now() + 10_000;
      while (svc.collectors()['docker:lab']?.up !== true && Date.now() < until) await settle();
      assert.equal(svc.collectors()['docker:lab']!.up, true);
      await advance(59_000);
      assert.equal(asked.length, 0, 'not before a minute');
      await advance(1000);
      assert.equal(asked.length, 1);
      assert.equal(svc.images!.view('lab').results.get('app')!.status, 'up_to_date');
      await advance(3_599_000);
      assert.equal(asked.length, 1, 'not before the interval');
      await advance(1000);
      assert.equal(asked.length, 2, 'the 429');
      // Retry-After 120 s: the next pass comes then, not an hour later.
      await advance(120_000);
      assert.equal(asked.length, 3, JSON.stringify([asked, svc.images!.view('lab').results.get('app')]));
      assert.equal(svc.images!.view('lab').results.get('app')!.status, 'update_available');
      await advance(3_600_000);
      assert.equal(asked.length, 4, 'back to the interval');
    } finally {
      mock.timers.reset();
      await svc.stop();
    }
  });
});

/** The store under test (TEST_BACKEND) with an IpamService on it. */
async function storeAndIpam(t: TestContext): Promise<{ store: Store; ipam: IpamService }> {
  const store = await openTestStore(t);
  return { store, ipam: new IpamService(store) };
}

describe('registry configuration', () => {
  const problems = (yaml: string): string[] => {
    const file = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml);
    try {
      loadConfig({}, file);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.problems;
    }
    return [];
  };

  it('takes registries with credentials from the YAML file and the interval from the environment', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(
      file,
      'docker:\n  registries:\n    - host: ghcr.io\n      username: me\n      password_file: /run/secrets/ghcr\n',
    );
    const c = loadConfig({ LANSCAPE_DOCKER_UPDATE_INTERVAL_SECONDS: '7200' }, file).docker;
    assert.equal(c.update_interval_seconds, 7200);
    assert.equal(c.update_checks, true);
    assert.deepEqual(c.registries, [
      { host: 'ghcr.io', username: 'me', password_file: '/run/secrets/ghcr', http: false },
    ]);
    assert.equal(loadConfig({}).docker.update_interval_seconds, 21_600, 'six hours by default');
  });

  it('refuses half-configured credentials without showing the password', () => {
    const p = problems('docker:\n  registries:\n    - host: ghcr.io\n      password: hunter2-secret\n').join('\n');
    assert.match(p, /username goes with password/);
    assert.ok(!p.includes('hunter2-secret'), p);
    assert.match(
      problems('docker:\n  registries:\n    - host: ghcr.io\n    - host: GHCR.io\n').join('\n'),
      /listed twice/,
    );
    assert.ok(!p.includes('hunter2-secret'), p);
    assert.match(problems('docker:\n  update_interval_seconds: 10\n').join('\n'), /update_interval_seconds/);
  });
});
