// Image update checks with real parts: a private Docker engine (test/fixtures/dockerd.sh) and
// Debian's docker-registry on loopback (TLS from a throw-away CA, Basic auth from a bcrypt
// htpasswd). Images are built in the engine from the local busybox image (docker commit), pushed
// by the engine to the registry, and containers run from the registry's image. The exporter
// runs in this process with a fake clock; passes are started with checkImagesNow(), so nothing
// waits for the 6-hour schedule or depends on the real time.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IDLE, TEST_IMAGE, type TestDockerd, startDockerd } from './helpers/docker.js';
import { type TestExporter, startTestExporter, tempDir } from './helpers/exporter.js';
import { type TestRegistry, startRegistry } from './helpers/registry.js';
import { requireTool } from './helpers/tools.js';
import { scrape as scrapeMetrics, sample } from './helpers/scrape.js';

let engine: TestDockerd | undefined;
let registry: TestRegistry | undefined;
let ex: TestExporter;
let tmp: { dir: string; cleanup: () => void };
let now = Date.parse('2031-05-04T10:00:00Z');
const INTERVAL_S = 3600;

const scrape = () => scrapeMetrics(ex.url);

/** Follows a dockerode progress stream to its end; fails on an error message in it. */
async function follow(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    engine!.docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      if (err) return reject(err);
      const failed = out.find((o) => o.error);
      if (failed) return reject(new Error(failed.error));
      resolve(JSON.stringify(out));
    });
  });
}

/** A new build of `repo:tag` in the engine (busybox plus a label), pushed to the registry. */
async function buildAndPush(repo: string, tag: string, build: number): Promise<string> {
  const docker = engine!.docker;
  const c = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  const committed = (await c.commit({ repo, tag, changes: `LABEL build=${build}` })) as { Id: string };
  await c.remove();
  const auth = { username: registry!.username, password: registry!.password, serveraddress: registry!.host };
  const progress = (await docker.getImage(`${repo}:${tag}`).push({ tag, authconfig: auth } as never)) as unknown;
  await follow(progress as NodeJS.ReadableStream);
  return committed.Id;
}

async function runFrom(name: string, image: string): Promise<void> {
  const c = await engine!.docker.createContainer({
    name,
    Image: image,
    Cmd: IDLE,
    HostConfig: { NetworkMode: 'none' },
  });
  await c.start();
}

async function check(): Promise<string> {
  now += INTERVAL_S * 1000;
  await ex.docker.syncNow();
  await ex.docker.checkImagesNow();
  return scrape();
}

const containerView = async (name: string) =>
  (
    (await ex.api.get('/api/v1/docker/containers?endpoint=lab')).body.results as { name: string; image_update: any }[]
  ).find((c) => c.name === name)!;

/** A registry in `auth` mode and an exporter that checks the engine's containers against it. */
async function setUp(t: unknown, auth: 'basic' | 'token'): Promise<string | undefined> {
  if (!engine) return undefined;
  registry = await startRegistry(t as never, { auth });
  if (!registry) return undefined;
  tmp = tempDir('lanscape-registry-test-');
  writeFileSync(join(tmp.dir, 'password'), `${registry.password}\n`);
  const yaml = join(tmp.dir, 'lanscape.yaml');
  writeFileSync(
    yaml,
    [
      'docker:',
      '  stats: false',
      `  update_interval_seconds: ${INTERVAL_S}`,
      '  registries:',
      `    - host: "${registry.host}"`,
      `      username: ${registry.username}`,
      `      password_file: ${join(tmp.dir, 'password')}`,
      `      ca_file: ${registry.caFile}`,
      '',
    ].join('\n'),
  );
  ex = await startTestExporter(
    { LANSCAPE_CONFIG: yaml, LANSCAPE_DOCKER_HOSTS: `lab=unix://${engine.socket}` },
    { clock: () => now },
  );
  return `${registry.host}/lanscape/app`;
}

async function tearDown(): Promise<void> {
  await ex?.stop();
  await registry?.stop();
  tmp?.cleanup();
}

// One engine for both registries; each describe removes the containers it ran.
before(async (t) => {
  engine = await startDockerd(t as never);
});
after(async () => {
  await engine?.stop();
});

describe('image update checks against a real registry', { timeout: 300_000 }, () => {
  let repo: string;
  before(async (t) => {
    repo = (await setUp(t, 'basic'))!;
  });
  after(async () => {
    for (const name of ['app', 'pinned', 'plain'])
      await engine?.docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => undefined);
    await tearDown();
  });

  it('flips to 1 when the tag gets a new build, and back to 0 once the container is recreated', async (t) => {
    if (!engine || !registry) return t.skip('no engine or registry');
    const v1 = await buildAndPush(repo, '1.0', 1);
    await runFrom('app', `${repo}:1.0`);
    const digest1 = (await engine.docker.getImage(v1).inspect()).RepoDigests.find((d) => d.startsWith(repo))!;
    assert.ok(digest1, 'the push recorded a digest');
    await runFrom('pinned', digest1);
    await runFrom('plain', TEST_IMAGE);

    let text = await check();
    assert.equal(sample(text, 'lanscape_docker_container_image_update_available', { container: 'app' }), 0);
    assert.equal(
      sample(text, 'lanscape_docker_container_image_update_status', { container: 'app', status: 'up_to_date' }),
      1,
    );
    assert.equal(
      sample(text, 'lanscape_docker_container_image_update_status', { container: 'pinned', status: 'pinned' }),
      1,
    );
    assert.equal(
      sample(text, 'lanscape_docker_container_image_update_status', { container: 'plain', status: 'local' }),
      1,
    );
    assert.equal(sample(text, 'lanscape_docker_container_image_update_available', { container: 'pinned' }), undefined);
    assert.equal(sample(text, 'lanscape_docker_container_image_update_available', { container: 'plain' }), undefined);
    assert.equal(
      sample(text, 'lanscape_docker_image_check_last_success_timestamp_seconds', { endpoint: 'lab' }),
      now / 1000,
    );
    assert.equal(
      sample(text, 'lanscape_docker_image_check_failures_total', { endpoint: 'lab', reason: 'unauthorized' }),
      0,
    );
    const endpoint = (await ex.api.get('/api/v1/docker/endpoints')).body.results[0];
    assert.equal(endpoint.images_checked_at, new Date(now).toISOString());
    const view = await containerView('app');
    assert.equal(view.image_update.status, 'up_to_date');
    assert.equal(view.image_update.registry_digest, digest1.split('@')[1]);
    assert.equal(view.image_update.checked_at, new Date(now).toISOString());

    // A new build under the same tag: the running container is now behind.
    await buildAndPush(repo, '1.0', 2);
    text = await check();
    assert.equal(sample(text, 'lanscape_docker_container_image_update_available', { container: 'app' }), 1);
    assert.equal((await containerView('app')).image_update.status, 'update_available');
    assert.equal(
      sample(text, 'lanscape_docker_container_image_update_status', { container: 'pinned', status: 'pinned' }),
      1,
      'a pinned image is never "outdated"',
    );
    assert.ok(!text.includes(registry.password), 'the password is not in the metrics');
    assert.ok(!JSON.stringify(await ex.api.get('/api/v1/docker/containers')).includes(registry.password));

    if (requireTool(t, 'promtool', 'apt-get install prometheus')) {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'promtool reports nothing');
    }

    // Recreated from the tag (the engine has the new build locally): up to date again.
    await engine.docker.getContainer('app').remove({ force: true });
    await runFrom('app', `${repo}:1.0`);
    text = await check();
    assert.equal(sample(text, 'lanscape_docker_container_image_update_available', { container: 'app' }), 0);
  });

  it('keeps the last results when the registry is down: last success stays, failures are counted', async (t) => {
    if (!engine || !registry) return t.skip('no engine or registry');
    await buildAndPush(repo, '1.0', 3);
    let text = await check();
    assert.equal(sample(text, 'lanscape_docker_container_image_update_available', { container: 'app' }), 1);
    const success = sample(text, 'lanscape_docker_image_check_last_success_timestamp_seconds', { endpoint: 'lab' });
    assert.equal(success, now / 1000);

    await registry.pause();
    for (let i = 1; i <= 2; i++) {
      text = await check();
      assert.equal(
        sample(text, 'lanscape_docker_container_image_update_available', { container: 'app' }),
        1,
        'the last answer stands: the alert neither clears nor re-fires',
      );
      assert.equal(
        sample(text, 'lanscape_docker_image_check_last_success_timestamp_seconds', { endpoint: 'lab' }),
        success,
      );
      assert.equal(
        sample(text, 'lanscape_docker_image_check_failures_total', { endpoint: 'lab', reason: 'unreachable' }),
        i,
      );
    }
    const view = await containerView('app');
    assert.equal(view.image_update.status, 'update_available');
    assert.match(view.image_update.error, /ECONNREFUSED/);

    await registry.start();
    text = await check();
    assert.equal(
      sample(text, 'lanscape_docker_image_check_last_success_timestamp_seconds', { endpoint: 'lab' }),
      now / 1000,
    );
    assert.equal((await containerView('app')).image_update.error, null);
  });
});

describe('image update checks through the token flow of a real registry', { timeout: 300_000 }, () => {
  let repo: string;
  before(async (t) => {
    repo = (await setUp(t, 'token'))!;
  });
  after(tearDown);

  it('asks the token service with the configured credentials and sees the new build', async (t) => {
    if (!engine || !registry) return t.skip('no engine or registry');
    await buildAndPush(repo, 'stable', 10);
    await runFrom('tapp', `${repo}:stable`);
    let text = await check();
    assert.equal(sample(text, 'lanscape_docker_container_image_update_available', { container: 'tapp' }), 0);
    const fromExporter = registry.tokenRequests.filter((r) =>
      /scope=repository%3Alanscape%2Fapp%3Apull$/.test(r.query),
    );
    assert.ok(fromExporter.length >= 1, JSON.stringify(registry.tokenRequests));
    assert.ok(
      fromExporter.every((r) => r.authorized),
      'with the user and password of docker.registries',
    );
    assert.match(fromExporter[0]!.query, /service=lanscape-test-registry/);

    await buildAndPush(repo, 'stable', 11);
    text = await check();
    assert.equal(sample(text, 'lanscape_docker_container_image_update_available', { container: 'tapp' }), 1);
    assert.equal(
      sample(text, 'lanscape_docker_image_check_failures_total', { endpoint: 'lab', reason: 'unauthorized' }),
      0,
    );
    await engine.docker.getContainer('tapp').remove({ force: true });
  });
});
