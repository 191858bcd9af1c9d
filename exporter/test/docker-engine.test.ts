// Docker inventory against a real engine (test/fixtures/dockerd.sh: private socket, vfs, no
// iptables, busybox image from busybox-static). The exporter reaches the engine through a
// unix-socket relay, so a test can make the endpoint unreachable while the engine runs on.
// Networks use 172.31.250.0/24 and 172.31.251.0/24 only; containers run `sleep` loops.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { IDLE, SocketRelay, TEST_IMAGE, type TestDockerd, startDockerd } from './helpers/docker.js';
import { type TestExporter, spawnExporter, startTestExporter, tempDir, testEnv } from './helpers/exporter.js';
import { requireTool } from './helpers/tools.js';
import { databaseUrlOf } from './helpers/store.js';
import { scrape as scrapeMetrics, sample } from './helpers/scrape.js';

let engine: TestDockerd | undefined;
let relay: SocketRelay;
let ex: TestExporter;
let tmp: { dir: string; cleanup: () => void };
let exEnv: Record<string, string>;

const scrape = () => scrapeMetrics(ex.url);

/** Polls `fn` until it returns something truthy; fails with the last value after `ms`. */
async function until<T>(what: string, fn: () => Promise<T | false | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T | false | undefined;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const metric = (name: string, labels: Record<string, string>) => async () => sample(await scrape(), name, labels);

async function run(
  name: string,
  options: { network?: string; ip?: string; cmd?: string[]; restart?: string; healthcheck?: string[] } = {},
): Promise<Docker.Container> {
  const network = options.network ?? 'none';
  const c = await engine!.docker.createContainer({
    name,
    Image: TEST_IMAGE,
    Cmd: options.cmd ?? IDLE,
    HostConfig: { NetworkMode: network, ...(options.restart ? { RestartPolicy: { Name: options.restart } } : {}) },
    ...(options.ip
      ? { NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: options.ip } } } } }
      : {}),
    ...(options.healthcheck
      ? { Healthcheck: { Test: options.healthcheck, Interval: 300e6, Timeout: 1e9, Retries: 1 } }
      : {}),
  });
  await c.start();
  return c;
}

const dockerAddresses = async () =>
  (await ex.api.get('/api/v1/addresses?source=docker&limit=1000')).body.results as {
    id: number;
    address: string;
    hostname: string;
    mac: string;
    state: string;
    description: string;
    subnet_id: number;
  }[];

describe('Docker inventory with a real engine', { timeout: 240_000 }, () => {
  before(async (t) => {
    engine = await startDockerd(t as never);
    if (!engine) return;
    tmp = tempDir('lanscape-docker-test-');
    relay = new SocketRelay(join(tmp.dir, 'relay.sock'), engine.socket);
    await relay.open();
    const yaml = join(tmp.dir, 'lanscape.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(yaml, 'docker:\n  stats_interval_seconds: 5\n');
    exEnv = {
      LANSCAPE_CONFIG: yaml,
      // ghost: a second endpoint that never answers, to show it changes nothing for the first.
      LANSCAPE_DOCKER_HOSTS: `lab=unix://${relay.path},ghost=unix://${join(tmp.dir, 'missing.sock')}`,
      // An hour: every change the tests see before that arrives through the event stream.
      LANSCAPE_DOCKER_RESYNC_SECONDS: '3600',
    };
    ex = await startTestExporter(exEnv);
  });
  after(async () => {
    await ex?.stop();
    await relay?.close();
    await engine?.stop();
    tmp?.cleanup();
  });

  it('records containers on a user-defined network in IPAM (source docker) and in metrics', async (t) => {
    if (!engine) return t.skip('no engine');
    await engine.docker.createNetwork({
      Name: 'lt-a',
      IPAM: { Config: [{ Subnet: '172.31.250.0/24', Gateway: '172.31.250.1' }] },
    });
    await run('web_1', { network: 'lt-a', ip: '172.31.250.10' });
    await run('db', { network: 'lt-a', ip: '172.31.250.11' });
    const rows = await until('two docker addresses', async () => {
      const r = await dockerAddresses();
      return r.length === 2 && r;
    });
    const subnet = (await ex.api.get('/api/v1/subnets?q=docker:lab/lt-a')).body.results[0];
    assert.equal(subnet.cidr, '172.31.250.0/24');
    assert.equal(subnet.gateway, '172.31.250.1');
    assert.equal(subnet.scan_enabled, false, 'discovery does not sweep Docker networks');
    assert.deepEqual(subnet.tags, ['docker']);
    const web = rows.find((r) => r.address === '172.31.250.10')!;
    assert.equal(web.hostname, 'web-1');
    assert.equal(web.state, 'assigned');
    assert.equal(web.subnet_id, subnet.id);
    assert.match(web.mac, /^02:42:ac:1f:fa:0a$/);
    assert.equal(web.description, `Docker container web_1 (${TEST_IMAGE}) on lab, network lt-a`);

    const containers = (await ex.api.get('/api/v1/docker/containers?endpoint=lab')).body;
    const c = containers.results.find((x: { name: string }) => x.name === 'web_1');
    assert.deepEqual(c.networks, [
      {
        network: 'lt-a',
        mac: web.mac,
        addresses: [{ address: '172.31.250.10', live: true, address_id: web.id, source: 'docker' }],
      },
    ]);
    const networks = (await ex.api.get('/api/v1/docker/networks?endpoint=lab')).body.results;
    assert.deepEqual(networks.find((n: { name: string }) => n.name === 'lt-a').subnets, [
      { cidr: '172.31.250.0/24', gateway: '172.31.250.1', ip_range: null, subnet_id: subnet.id, managed: false },
    ]);
    const endpoints = (await ex.api.get('/api/v1/docker/endpoints')).body.results;
    assert.deepEqual(
      endpoints.map((e: { name: string; up: boolean }) => [e.name, e.up]),
      [
        ['lab', true],
        ['ghost', false],
      ],
    );
    assert.match(endpoints[1].last_error, /ENOENT/);
    assert.equal(endpoints[0].url, `unix://${relay.path}`);
    assert.equal((await ex.api.get('/api/v1/docker/containers?endpoint=nope')).status, 404);

    const text = await scrape();
    assert.equal(sample(text, 'lanscape_docker_up', { endpoint: 'lab' }), 1);
    assert.equal(sample(text, 'lanscape_docker_up', { endpoint: 'ghost' }), 0);
    assert.equal(sample(text, 'lanscape_collector_up', { collector: 'docker:lab' }), 1);
    assert.equal(sample(text, 'lanscape_collector_up', { collector: 'docker:ghost' }), 0);
    assert.equal(
      sample(text, 'lanscape_docker_container_info', { endpoint: 'lab', container: 'web_1', image: TEST_IMAGE }),
      1,
    );
    assert.equal(sample(text, 'lanscape_docker_container_state', { container: 'web_1', state: 'running' }), 1);
    assert.equal(sample(text, 'lanscape_docker_container_state', { container: 'web_1', state: 'exited' }), 0);
    // The engine's clock, not the test's: the suite also runs under faketime, which Docker ignores.
    assert.equal(
      sample(text, 'lanscape_docker_container_started_timestamp_seconds', { container: 'web_1' }),
      Date.parse(c.started_at) / 1000,
    );
    // Utilization of the Docker network shows through the IPAM subnet metrics.
    assert.equal(sample(text, 'lanscape_subnet_info', { subnet: '172.31.250.0/24', name: 'docker:lab/lt-a' }), 1);
    assert.equal(sample(text, 'lanscape_subnet_addresses', { subnet: '172.31.250.0/24', state: 'assigned' }), 2);
  });

  it('follows containers that die, restart and disappear through the event stream', async (t) => {
    if (!engine) return t.skip('no engine');
    const db = engine.docker.getContainer('db');
    const killedAt = performance.now();
    await db.kill();
    await until(
      'db exited',
      async () => (await metric('lanscape_docker_container_state', { container: 'db', state: 'exited' })()) === 1,
      5000,
    );
    t.diagnostic(`state change visible after ${Math.round(performance.now() - killedAt)} ms (resync is 1 h: events)`);
    const dbRow = (await dockerAddresses()).find((r) => r.address === '172.31.250.11')!;
    assert.deepEqual([dbRow.state, dbRow.hostname], ['assigned', 'db'], 'a stopped container keeps its address');
    assert.match(dbRow.mac, /^02:42:ac:1f:fa:0b$/, 'and its MAC, which Docker no longer shows');

    await run('flaky', { cmd: ['sh', '-c', 'sleep 0.2; exit 3'], restart: 'always' });
    await until(
      'flaky restarted twice',
      async () => ((await metric('lanscape_docker_container_restarts_total', { container: 'flaky' })()) ?? 0) >= 2,
      20_000,
    );
    assert.match(await scrape(), /^# TYPE lanscape_docker_container_restarts_total counter$/m);

    await db.remove({ force: true });
    await until('db released', async () => (await ex.api.get(`/api/v1/addresses/${dbRow.id}`)).status === 404, 5000);
    assert.equal(sample(await scrape(), 'lanscape_docker_container_info', { container: 'db' }), undefined);
    const audit = (await ex.api.get(`/api/v1/audit?object_type=address&object_id=${dbRow.id}`)).body.results;
    assert.deepEqual(
      audit.map((a: { action: string; actor: string }) => [a.action, a.actor]).reverse(),
      [
        ['create', 'docker'],
        ['delete', 'docker'],
      ],
      'dying changed nothing in the row',
    );
    await engine.docker.getContainer('flaky').remove({ force: true });
  });

  it('shows an unhealthy container as health_status{status="unhealthy"} 1', async (t) => {
    if (!engine) return t.skip('no engine');
    await run('sick', { healthcheck: ['CMD', 'false'] });
    await run('fine', { healthcheck: ['CMD', 'true'] });
    await until(
      'sick unhealthy',
      async () =>
        (await metric('lanscape_docker_container_health_status', { container: 'sick', status: 'unhealthy' })()) === 1,
    );
    await until(
      'fine healthy',
      async () =>
        (await metric('lanscape_docker_container_health_status', { container: 'fine', status: 'healthy' })()) === 1,
    );
    const text = await scrape();
    assert.equal(sample(text, 'lanscape_docker_container_health_status', { container: 'sick', status: 'healthy' }), 0);
    assert.equal(sample(text, 'lanscape_docker_container_health_status', { container: 'web_1', status: 'none' }), 1);
    const sick = (await ex.api.get('/api/v1/docker/containers')).body.results.find(
      (c: { name: string }) => c.name === 'sick',
    );
    assert.equal(sick.health, 'unhealthy');
    for (const name of ['sick', 'fine']) await engine.docker.getContainer(name).remove({ force: true });
  });

  it("reports a Docker network overlapping a managed subnet, and never touches a person's address", async (t) => {
    if (!engine) return t.skip('no engine');
    const managed = (await ex.api.post('/api/v1/subnets', { cidr: '172.31.251.0/24', name: 'lab managed' })).body;
    const printer = (
      await ex.api.post('/api/v1/addresses', { address: '172.31.251.21', state: 'assigned', hostname: 'printer' })
    ).body;
    await engine.docker.createNetwork({ Name: 'lt-b', IPAM: { Config: [{ Subnet: '172.31.251.0/24' }] } });
    await run('guest', { network: 'lt-b', ip: '172.31.251.20' });
    await run('squatter', { network: 'lt-b', ip: '172.31.251.21' });
    const conflicts = await until('an overlap', async () => {
      const b = (await ex.api.get('/api/v1/docker/conflicts')).body;
      return b.count === 1 && b;
    });
    assert.deepEqual(conflicts.results[0], {
      kind: 'network_overlap',
      endpoint: 'lab',
      network: 'lt-b',
      cidr: '172.31.251.0/24',
      subnet_id: managed.id,
      subnet: '172.31.251.0/24',
      relation: 'same',
      message: 'Docker network lt-b on lab (172.31.251.0/24) is managed subnet 172.31.251.0/24',
    });
    const text = await scrape();
    assert.equal(
      sample(text, 'lanscape_docker_network_overlap_info', {
        endpoint: 'lab',
        network: 'lt-b',
        subnet: '172.31.251.0/24',
        relation: 'same',
      }),
      1,
    );
    assert.equal(sample(text, 'lanscape_docker_network_overlaps', { endpoint: 'lab' }), 1);
    assert.equal(sample(text, 'lanscape_docker_network_overlaps', { endpoint: 'ghost' }), 0);
    // The pool is a subnet of the endpoint's own VRF (#15), beside the person's in the global VRF.
    const vrf = (await ex.api.get('/api/v1/vrfs')).body.results.find((v: { name: string }) => v.name === 'docker:lab');
    const pools = await until('the pool in docker:lab', async () => {
      const b = (await ex.api.get(`/api/v1/subnets?q=172.31.251.&vrf_id=${vrf.id}`)).body;
      return b.count === 1 && b.results;
    });
    const own = pools[0];
    assert.deepEqual([own.cidr, own.vrf_id, own.name], ['172.31.251.0/24', vrf.id, 'docker:lab/lt-b']);
    const lt = (await ex.api.get('/api/v1/docker/networks')).body.results.find(
      (n: { name: string }) => n.name === 'lt-b',
    );
    assert.deepEqual(
      { ...lt.subnets[0], gateway: undefined },
      { cidr: '172.31.251.0/24', gateway: undefined, ip_range: null, subnet_id: own.id, managed: false },
    );
    assert.equal(
      (await ex.api.get('/api/v1/subnets?q=172.31.251.')).body.count,
      2,
      "one subnet per VRF: the person's (global) and the pool (docker:lab)",
    );
    // The containers' addresses are recorded in the pool's VRF; the person's row stays theirs.
    const guest = await until('guest recorded', async () =>
      (await dockerAddresses()).find((r) => r.address === '172.31.251.20'),
    );
    assert.equal(guest.subnet_id, own.id);
    const kept = (await ex.api.get(`/api/v1/addresses/${printer.id}`)).body;
    assert.deepEqual([kept.source, kept.hostname, kept.updated_at], ['manual', 'printer', printer.updated_at]);
    const squatted = await until('squatter recorded', async () =>
      (await dockerAddresses()).find((r) => r.address === '172.31.251.21'),
    );
    assert.notEqual(squatted.id, printer.id, 'the same address in another VRF is another row');
    const squatter = (await ex.api.get('/api/v1/docker/containers')).body.results.find(
      (c: { name: string }) => c.name === 'squatter',
    );
    assert.deepEqual(squatter.networks[0].addresses, [
      { address: '172.31.251.21', live: true, address_id: squatted.id, source: 'docker' },
    ]);
    await engine.docker.getContainer('squatter').remove({ force: true });
  });

  it('answers a scrape from memory: 10 containers with stats, scrape < 200 ms, promtool clean', async (t) => {
    if (!engine) return t.skip('no engine');
    const names = Array.from({ length: 10 }, (_, i) => `load-${i}`);
    for (const name of names) await run(name);
    await until(
      'stats of all 10',
      async () => {
        const text = await scrape();
        return names.every(
          (container) => sample(text, 'lanscape_docker_container_cpu_seconds_total', { container }) !== undefined,
        );
      },
      20_000,
    );
    const times: number[] = [];
    let text = '';
    for (let i = 0; i < 20; i++) {
      const start = performance.now();
      text = await scrape();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    t.diagnostic(
      `scrape with ${names.length + 3} containers: median ${times[10]!.toFixed(1)} ms, max ${times[19]!.toFixed(1)} ms`,
    );
    assert.ok(times[19]! < 200, `slowest scrape ${times[19]} ms`);
    assert.ok(sample(text, 'lanscape_docker_container_memory_bytes', { container: 'load-0' })! > 0);
    assert.match(text, /^# TYPE lanscape_docker_container_cpu_seconds_total counter$/m);
    if (requireTool(t, 'promtool', 'apt-get install prometheus')) {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'promtool reports nothing');
      assert.equal(r.status, 0);
    }
    for (const name of names) await engine.docker.getContainer(name).remove({ force: true });
  });

  it('a second exporter on the same PostgreSQL database (a follower) answers the same Docker pages', async (t) => {
    if (!engine) return t.skip('no engine');
    const url = databaseUrlOf(ex.store);
    if (!url) return t.skip('several exporters share a store on PostgreSQL only');
    const follower = await startTestExporter({ ...exEnv, LANSCAPE_DATABASE_URL: url });
    try {
      assert.equal(follower.leadership.isLeader, false);
      assert.equal(follower.docker.running, false, 'the follower does not connect to the engine');
      // CPU and memory samples move every 5 s: compared apart from them.
      const pages = async (api: typeof ex.api) =>
        JSON.stringify({
          endpoints: (await api.get('/api/v1/docker/endpoints')).body,
          containers: (await api.get('/api/v1/docker/containers?limit=1000')).body.results.map(
            (c: Record<string, unknown>) => ({ ...c, cpu_seconds: null, memory_bytes: null }),
          ),
          networks: (await api.get('/api/v1/docker/networks?limit=1000')).body,
          conflicts: (await api.get('/api/v1/docker/conflicts')).body,
        });
      await until(
        'the follower to answer as the leader',
        async () => (await pages(follower.api)) === (await pages(ex.api)),
      );
      const info = (await follower.api.get('/api/v1/info')).body.collectors;
      assert.equal(info['docker:lab'].up, true);
      assert.equal(info['docker:ghost'].up, false);
      const started = performance.now();
      await run('replica-1');
      await until('the follower to show replica-1', async () =>
        (await follower.api.get('/api/v1/docker/containers?limit=1000')).body.results.some(
          (c: { name: string }) => c.name === 'replica-1',
        ),
      );
      t.diagnostic(`the follower showed a new container after ${Math.round(performance.now() - started)} ms`);
      await until('the same pages again', async () => (await pages(follower.api)) === (await pages(ex.api)));
      await engine.docker.getContainer('replica-1').remove({ force: true });
    } finally {
      await follower.stop();
    }
  });

  it('an unreachable endpoint is only its collector down; on return it catches up', async (t) => {
    if (!engine) return t.skip('no engine');
    const before = await dockerAddresses();
    await relay.close();
    await until('lab down', async () => (await metric('lanscape_docker_up', { endpoint: 'lab' })()) === 0, 5000);
    const text = await scrape();
    assert.equal(sample(text, 'lanscape_collector_up', { collector: 'docker:lab' }), 0);
    assert.equal(sample(text, 'lanscape_collector_up', { collector: 'store' }), 1);
    assert.equal(
      sample(text, 'lanscape_docker_container_state', { container: 'web_1', state: 'running' }),
      1,
      'the last snapshot stays',
    );
    assert.equal(sample(text, 'lanscape_subnet_info', { subnet: '172.31.250.0/24' }), 1);
    assert.deepEqual(await dockerAddresses(), before, 'IPAM unchanged');
    const lab = (await ex.api.get('/api/v1/docker/endpoints')).body.results[0];
    assert.equal(lab.up, false);
    // Cutting the relay mid-request can surface as any socket error, depending on timing.
    assert.match(lab.last_error, /ENOENT|ECONNREFUSED|EPIPE|ECONNRESET|socket hang up|event stream/);
    assert.equal((await ex.api.get('/api/v1/docker/containers?endpoint=lab')).status, 200);
    assert.equal((await ex.api.get('/api/v1/subnets')).status, 200);
    // Meanwhile a container goes away; the exporter learns it when the endpoint is back.
    await engine.docker.getContainer('guest').remove({ force: true });
    await relay.open();
    await until('lab up again', async () => (await metric('lanscape_docker_up', { endpoint: 'lab' })()) === 1, 40_000);
    await until(
      'guest released',
      async () => !(await dockerAddresses()).some((r) => r.address === '172.31.251.20'),
      5000,
    );
  });

  it('a stopped engine marks lanscape_docker_up 0 and keeps the IPAM addresses', async (t) => {
    if (!engine) return t.skip('no engine');
    const before = (await dockerAddresses()).map((r) => [r.id, r.address]);
    assert.ok(before.length > 0);
    await engine.stopEngine();
    await until('lab down', async () => (await metric('lanscape_docker_up', { endpoint: 'lab' })()) === 0, 10_000);
    assert.deepEqual(
      (await dockerAddresses()).map((r) => [r.id, r.address]),
      before,
    );
    const text = await scrape();
    assert.equal(sample(text, 'lanscape_collector_up', { collector: 'docker:lab' }), 0);
    assert.equal(sample(text, 'lanscape_collector_up', { collector: 'store' }), 1);
    assert.equal((await ex.api.get('/api/v1/docker/endpoints')).status, 200);
  });
});

describe('Docker configuration errors at start-up', () => {
  it('a bad LANSCAPE_DOCKER_HOSTS stops the exporter with a message naming it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await assert.rejects(
        spawnExporter(testEnv(join(dir, 'x.db'), { LANSCAPE_DOCKER_HOSTS: 'nas=tcp://nas:2376' })),
        (e: Error) =>
          /exited with 2/.test(e.message) &&
          /docker\.hosts \(from LANSCAPE_DOCKER_HOSTS\).*needs TLS files/.test(e.message),
      );
    } finally {
      cleanup();
    }
  });
});
