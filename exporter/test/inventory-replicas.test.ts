// The Docker and Proxmox inventories read from every replica (#14): the leader publishes them
// into the store (store/published.ts) and a follower's read routes answer from that copy.
// Two services on one database — two pools on PostgreSQL, the one store on SQLite — with a
// scripted Docker engine and the fake PVE server; leadership moving keeps the answers.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import type { DockerClient, DockerEvent } from '../src/docker/client.js';
import type { Container } from '../src/docker/core/model.js';
import { bridgeNetwork, runningContainer } from './helpers/docker-model.js';
import { DockerService } from '../src/docker/service.js';
import { IpamService } from '../src/ipam/service.js';
import { ProxmoxService } from '../src/proxmox/service.js';
import { PublishedState } from '../src/store/published.js';
import type { Store } from '../src/store/store.js';
import { type CertFiles, FakePve, selfSignedCert } from './helpers/fake-pve.js';
import { startTestExporter, tempDir } from './helpers/exporter.js';
import { TEST_BACKEND, createTestDatabase, databaseUrlOf, openTestStore } from './helpers/store.js';

const logger = pino({ level: 'silent' });
const PERIOD_MS = 300;
const ADMIN = { name: 'admin' };

/** Two replicas' stores on one database (PostgreSQL), or the one store (SQLite). */
async function twoStores(t: TestContext): Promise<[Store, Store]> {
  const a = await openTestStore(t);
  if (a.dialect === 'sqlite') return [a, a];
  return [a, await openTestStore(t, { url: databaseUrlOf(a)! })];
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(20);
  }
}

describe(`PublishedState (${TEST_BACKEND})`, () => {
  it('folds a storm of changes into one write per period, the last state always stored; a reader reads the body only when it changed', async (t) => {
    const [a, b] = await twoStores(t);
    let writes = 0;
    const counting = {
      exec: a.exec,
      write: (fn: () => unknown) => {
        writes++;
        return a.write(fn);
      },
    } as unknown as Store;
    const errors: unknown[] = [];
    const writer = new PublishedState<{ n: number }>(counting, 'storm', (e) => errors.push(e), PERIOD_MS);
    const started = performance.now();
    let n = 0;
    while (performance.now() - started < 1_000) {
      n++;
      const value = n;
      writer.schedule(() => ({ n: value }));
      await sleep(2);
    }
    const elapsed = performance.now() - started;
    await sleep(PERIOD_MS + 50);
    await writer.idle();
    assert.deepEqual(errors, []);
    assert.ok(n > 100, `${n} changes`);
    assert.ok(writes <= Math.ceil(elapsed / PERIOD_MS) + 1, `${writes} writes for ${n} changes in ${elapsed} ms`);
    t.diagnostic(`${n} changes in ${Math.round(elapsed)} ms: ${writes} writes`);
    let statements = 0;
    const readerStore = {
      exec: {
        get: (text: string, params?: unknown[]) => {
          statements++;
          return b.exec.get(text, params as never);
        },
        all: (text: string, params?: unknown[]) => {
          statements++;
          return b.exec.all(text, params as never);
        },
      },
    } as unknown as Store;
    const reader = new PublishedState<{ n: number }>(readerStore, 'storm', () => undefined);
    assert.deepEqual((await reader.read())?.value, { n }, 'the last state was published');
    assert.equal(statements, 2);
    await reader.read();
    assert.equal(statements, 3, 'an unchanged copy costs one statement');
    // The same state again is not written again.
    const before = writes;
    writer.schedule(() => ({ n }));
    await writer.flush();
    assert.equal(writes, before);
    assert.equal(await new PublishedState(b, 'nothing', () => undefined).read(), null);
  });
});

// ---------------------------------------------------------------- Docker
const net = bridgeNetwork;
const container = (id: string, name: string, address: string) =>
  runningContainer(id, name, { network: 'appnet', network_id: 'n1', ipv4: address, mac: '02:42:ac:1e:00:05' });

/** A scripted engine both replicas reach; `gate` holds a connection's version call. */
function fakeEngine() {
  const containers = new Map<string, Container>([['c1', container('c1', 'web', '172.30.0.5')]]);
  const networks = [net('n1', 'appnet', '172.30.0.0/24'), net('n2', 'lan', '192.168.50.0/24')];
  const listeners = new Set<(e: DockerEvent) => void>();
  const engine = {
    containers,
    gate: Promise.resolve() as Promise<unknown>,
    emit(e: DockerEvent) {
      for (const l of listeners) l(e);
    },
    client(): DockerClient {
      return {
        version: async () => {
          await engine.gate;
          return { version: '28.0.0', api_version: '1.48' };
        },
        containers: async () => [...containers.values()],
        container: async (id) => containers.get(id) ?? null,
        networks: async () => networks,
        stats: async () => null,
        imageDigests: async () => null,
        events: async (_since, onEvent, signal) => {
          listeners.add(onEvent);
          return {
            done: new Promise<void>((resolve) =>
              signal!.addEventListener('abort', () => {
                listeners.delete(onEvent);
                resolve();
              }),
            ),
          };
        },
      };
    },
  };
  return engine;
}

const dockerConfig = loadConfig({
  LANSCAPE_DOCKER_HOSTS: 'fake=unix:///fake.sock',
  LANSCAPE_DOCKER_STATS: 'false',
}).docker;

async function dockerViews(svc: DockerService) {
  return {
    endpoints: await svc.endpointViews(),
    containers: await svc.containerViews(undefined),
    networks: await svc.networkViews(undefined),
    conflicts: await svc.conflicts(),
  };
}

describe(`Docker inventory on several replicas (${TEST_BACKEND})`, () => {
  it('a follower answers what the leader sees, within the publish period, and leadership moving keeps the answers', async (t) => {
    const [a, b] = await twoStores(t);
    const ipamA = new IpamService(a);
    const ipamB = a === b ? ipamA : new IpamService(b);
    // A person's subnet the 'lan' pool overlaps: a conflict on both replicas.
    await ipamA.createSubnet({ cidr: '192.168.50.0/24' }, ADMIN);
    const engine = fakeEngine();
    const leader = new DockerService(a, ipamA, dockerConfig, logger, {
      client: () => engine.client(),
      publishPeriodMs: PERIOD_MS,
    });
    const follower = new DockerService(b, ipamB, dockerConfig, logger, {
      client: () => engine.client(),
      publishPeriodMs: PERIOD_MS,
    });
    t.after(() => Promise.all([leader.stop(), follower.stop()]));

    // Nothing published yet: the follower shows the endpoint, empty and not up.
    const empty = await dockerViews(follower);
    assert.deepEqual(
      empty.endpoints.map((e) => [e.name, e.up, e.containers]),
      [['fake', false, 0]],
    );
    assert.deepEqual([empty.containers, empty.networks, empty.conflicts], [[], [], []]);

    leader.resume();
    const seen = await until(
      'the leader connected',
      () => dockerViews(leader),
      (v) => v.containers.length === 1,
    );
    assert.equal(seen.containers[0]!.networks[0]!.addresses[0]!.source, 'docker', 'IPAM ids joined');
    assert.equal(seen.conflicts.length, 1);
    await until(
      'the follower to show the leader’s inventory',
      () => dockerViews(follower),
      (v) => JSON.stringify(v) === JSON.stringify(seen),
      PERIOD_MS + 2_000,
    );
    assert.deepEqual(await follower.publishedCollectors(), { 'docker:fake': { up: true } });

    // A change on the engine: the follower follows within the publish period.
    engine.containers.set('c2', container('c2', 'api', '172.30.0.6'));
    const changedAt = performance.now();
    engine.emit({ type: 'container', action: 'start', id: 'c2', attributes: {}, time: 1_700_000_100 });
    const changed = await until(
      'the leader saw c2',
      () => dockerViews(leader),
      // Its containers listed and their IPAM addresses recorded (the reconcile after the event).
      (v) => v.containers.length === 2 && v.containers.every((c) => c.networks[0]!.addresses[0]!.address_id !== null),
    );
    await until(
      'the follower to show c2',
      () => dockerViews(follower),
      (v) => JSON.stringify(v) === JSON.stringify(changed),
      PERIOD_MS + 2_000,
    );
    const lag = performance.now() - changedAt;
    assert.ok(lag < PERIOD_MS + 1_000, `the follower followed after ${lag} ms`);

    // Leadership moves: the old leader pauses, the new one connects — held at its version call,
    // so for a while it has no live state of its own. Both keep answering the same inventory.
    let release!: () => void;
    engine.gate = new Promise<void>((r) => (release = r));
    await leader.pause();
    follower.resume();
    for (let i = 0; i < 5; i++) {
      assert.equal(JSON.stringify(await dockerViews(follower)), JSON.stringify(changed), 'new leader, not settled');
      assert.equal(JSON.stringify(await dockerViews(leader)), JSON.stringify(changed), 'paused leader');
      await sleep(20);
    }
    release();
    engine.containers.delete('c1');
    const after = await until(
      'the new leader listed the engine',
      () => dockerViews(follower),
      (v) => v.containers.length === 1 && v.endpoints[0]!.up,
    );
    assert.deepEqual(
      after.containers.map((c) => c.name),
      ['api'],
    );
    await until(
      'the old leader to show the new leader’s inventory',
      () => dockerViews(leader),
      (v) => JSON.stringify(v) === JSON.stringify(after),
      PERIOD_MS + 2_000,
    );
  });
});

// ---------------------------------------------------------------- Proxmox
const TOKEN_ID = 'root@pam!lanscape';
const SECRET = '7f0c2a9e-5b1d-4c3e-9a8f-1d2e3f4a5b6c';

describe(`Proxmox inventory on several replicas (${TEST_BACKEND})`, () => {
  let dir: string;
  let cleanup: () => void;
  let certs: CertFiles;
  let fake: FakePve;
  before(async () => {
    ({ dir, cleanup } = tempDir('lanscape-inv-'));
    certs = selfSignedCert(dir);
    fake = await new FakePve({ cert: certs.cert, key: certs.key, tokenId: TOKEN_ID, tokenSecret: SECRET }).start();
    fake.addGuest({
      vmid: 101,
      type: 'qemu',
      node: 'pve1',
      name: 'web',
      status: 'running',
      agent: true,
      ips: ['10.20.0.11/24'],
    });
  });
  after(async () => {
    await fake.close();
    cleanup();
  });

  it('a follower answers nodes and guests of the leader’s last inventory; leadership moving keeps them', async (t) => {
    const config = loadConfig({
      LANSCAPE_PROXMOX_URL: fake.url,
      LANSCAPE_PROXMOX_TOKEN_ID: TOKEN_ID,
      LANSCAPE_PROXMOX_TOKEN_SECRET: SECRET,
      LANSCAPE_PROXMOX_FINGERPRINT: certs.fingerprint,
      LANSCAPE_PROXMOX_INTERVAL_SECONDS: '3600',
    }).proxmox;
    const [a, b] = await twoStores(t);
    const ipamA = new IpamService(a);
    const ipamB = a === b ? ipamA : new IpamService(b);
    await ipamA.createSubnet({ cidr: '10.20.0.0/24' }, ADMIN);
    const leader = new ProxmoxService(a, ipamA, config, { publishPeriodMs: PERIOD_MS }, logger);
    const follower = new ProxmoxService(b, ipamB, config, { publishPeriodMs: PERIOD_MS }, logger);
    t.after(() => Promise.all([leader.stop(), follower.stop()]));
    const views = async (svc: ProxmoxService) => ({ nodes: await svc.nodes(), guests: await svc.guests({}) });

    await assert.rejects(follower.nodes(), /has not finished yet/);
    leader.resume();
    const first = await until(
      'the leader’s first inventory',
      () => views(leader).catch(() => null),
      (v) => v !== null,
    );
    assert.equal(first!.guests.results[0]!.addresses![0]!.source, 'proxmox', 'recorded in IPAM');
    await until(
      'the follower to show it',
      () => views(follower).catch(() => null),
      (v) => JSON.stringify(v) === JSON.stringify(first),
      PERIOD_MS + 2_000,
    );
    assert.deepEqual(await follower.publishedStatus(), { up: true });

    fake.addGuest({ vmid: 102, type: 'lxc', node: 'pve2', name: 'dns', status: 'running', ips: ['10.20.0.12/24'] });
    await leader.refresh();
    const second = await views(leader);
    assert.equal(second.guests.count, 2);
    await until(
      'the follower to show the new guest',
      () => views(follower),
      (v) => JSON.stringify(v) === JSON.stringify(second),
      PERIOD_MS + 2_000,
    );
    // A live call on the follower still knows the cluster's nodes from the published copy.
    await assert.rejects(follower.templates('pve9'), /not in the Proxmox cluster/);

    fake.guests.delete(101);
    await leader.pause();
    // The new leader's first run starts at once; until it ends the published copy answers. Every
    // answer meanwhile, on either replica, is the last inventory or the new one — never none (the
    // IPAM ids are joined at read time: the new run may have released 101's address already).
    follower.resume();
    const samples: string[] = [];
    const guestsOf = (v: Awaited<ReturnType<typeof views>>) =>
      `${v.nodes.results.length} nodes, guests ${v.guests.results.map((g) => g.vmid).join(',')}`;
    const third = await until(
      'the new leader’s first run',
      async () => {
        const [f, l] = await Promise.all([views(follower), views(leader)]);
        samples.push(guestsOf(f), guestsOf(l));
        return f;
      },
      (v) => v.guests.count === 1,
    );
    for (const x of samples) assert.ok(x === guestsOf(second) || x === guestsOf(third), x);
    assert.deepEqual(
      third.guests.results.map((g) => g.name),
      ['dns'],
    );
    await until(
      'the old leader to show the new leader’s inventory',
      () => views(leader),
      (v) => JSON.stringify(v) === JSON.stringify(third),
      PERIOD_MS + 2_000,
    );
  });

  it('two exporters on one PostgreSQL database answer the same inventory and collectors (default publish period)', async (t) => {
    if (TEST_BACKEND !== 'postgres') return t.skip('several exporters share a store on PostgreSQL only');
    const url = await createTestDatabase(t);
    if (!url) return;
    const env = {
      LANSCAPE_DATABASE_URL: url,
      LANSCAPE_PROXMOX_URL: fake.url,
      LANSCAPE_PROXMOX_TOKEN_ID: TOKEN_ID,
      LANSCAPE_PROXMOX_TOKEN_SECRET: SECRET,
      LANSCAPE_PROXMOX_FINGERPRINT: certs.fingerprint,
    };
    const first = await startTestExporter(env);
    t.after(() => first.stop());
    const second = await startTestExporter(env);
    t.after(() => second.stop());
    assert.deepEqual([first.leadership.isLeader, second.leadership.isLeader], [true, false]);
    const nodes = await until(
      'the leader’s inventory',
      () => first.api.get('/api/v1/proxmox/nodes'),
      (r) => r.status === 200,
    );
    const guests = (await first.api.get('/api/v1/proxmox/guests')).body;
    await until(
      'the follower’s answer',
      () => second.api.get('/api/v1/proxmox/nodes'),
      (r) => r.status === 200 && JSON.stringify(r.body) === JSON.stringify(nodes.body),
      4_000,
    );
    assert.deepEqual((await second.api.get('/api/v1/proxmox/guests')).body, guests);
    assert.deepEqual((await first.api.get('/api/v1/info')).body.collectors.proxmox, { up: true });
    assert.deepEqual((await second.api.get('/api/v1/info')).body.collectors.proxmox, { up: true });
    // The follower's live calls reach PVE itself, as before.
    assert.equal((await second.api.get('/api/v1/proxmox/storages?node=pve1')).status, 200);
  });
});
