// The remote scan agent (#15): its disk queue, delivery that loses nothing while central is
// away (real ICMP on loopback, central on the backend under test), TLS pinning, and its CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { CentralClient, CentralError } from '../src/agent/client.js';
import { agentConfigFrom } from '../src/agent/config.js';
import { DiskQueue, overflow } from '../src/agent/queue.js';
import { AgentRunner } from '../src/agent/runner.js';
import { openEchoSocket, probeIcmp } from '../src/discovery/icmp.js';
import { readNeighbours } from '../src/discovery/neighbours.js';
import { openPorts } from '../src/discovery/tcp.js';
import { EXPORTER_DIR, type TestExporter, startTestExporter, tempDir } from './helpers/exporter.js';
import { fingerprintOf, selfSignedCert } from './helpers/fake-pve.js';
import { TEST_BACKEND, createTestDatabase } from './helpers/store.js';

const T0 = Date.UTC(2026, 11, 4, 9);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('disk queue', () => {
  it('keeps batches in order across reopening; when full drops the oldest and counts them', (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    assert.deepEqual(overflow(['a', 'b', 'c'], 1, 3), ['a']);
    assert.deepEqual(overflow(['a'], 1, 3), []);
    const q = new DiskQueue(join(dir, 'q'), 3);
    const ids = Array.from({ length: 5 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
    for (const id of ids.slice(0, 3)) assert.deepEqual(q.push(id, { id }), []);
    assert.deepEqual(
      q.push(ids[3]!, { id: ids[3] }).map((d) => d.batchId),
      [ids[0]],
    );
    q.push(ids[4]!, { id: ids[4] });
    assert.equal(q.depth, 3);
    assert.equal(q.dropped, 2);
    // A batch caught mid-write by a crash is never sent.
    writeFileSync(join(dir, 'q', '0000000000000099-00000000-0000-4000-8000-000000000099.json.tmp'), '{');
    const again = new DiskQueue(join(dir, 'q'), 3);
    assert.equal(again.dropped, 2, 'the count survives a restart');
    const seen: string[] = [];
    for (let next = again.peek(); next; next = again.peek()) {
      seen.push((next.body as { id: string }).id);
      again.remove(next.entry);
    }
    assert.deepEqual(seen, ids.slice(2));
    assert.deepEqual(
      readdirSync(join(dir, 'q')).filter((f) => f !== 'dropped'),
      [],
    );
    // New batches continue after the old numbers (order holds across restarts).
    again.push(ids[0]!, {});
    assert.match(
      readdirSync(join(dir, 'q')).find((f) => f.endsWith('.json'))!,
      /^0000000000000006-/,
    );
  });
});

describe('delivery while central is away', () => {
  const { dir, cleanup } = tempDir();
  after(cleanup);

  it('queues the sweeps made while central is stopped and applies each once, in order, when it is back', async (t) => {
    if (!probeIcmp().up) {
      if (process.env.CI) assert.fail('ICMP sockets are needed (root or CAP_NET_RAW)');
      t.skip('no ICMP');
      return;
    }
    const clock = { now: T0 };
    const now = () => clock.now;
    const port = await freePort();
    const env: Record<string, string> = { LANSCAPE_LISTEN: `127.0.0.1:${port}`, LANSCAPE_DB: join(dir, 'central.db') };
    if (TEST_BACKEND === 'postgres') env.LANSCAPE_DATABASE_URL = (await createTestDatabase(t))!;
    let central: TestExporter | undefined = await startTestExporter(env, { clock: now });
    t.after(() => central?.stop());
    const subnet = (await central.api.post('/api/v1/subnets', { cidr: '127.91.0.0/29', scan_interval_seconds: 3600 }))
      .body;
    const agent = (await central.api.post('/api/v1/agents', { name: 'loopback-site' })).body;
    assert.equal((await central.api.patch(`/api/v1/subnets/${subnet.id}`, { agent_id: agent.id })).status, 200);

    const queue = new DiskQueue(join(dir, 'queue'), 100);
    const runner = new AgentRunner({
      client: new CentralClient({
        centralUrl: `http://127.0.0.1:${port}`,
        token: agent.token,
        caFile: undefined,
        fingerprint: undefined,
      }),
      queue,
      adapters: { icmp: probeIcmp, openEchoSocket, readNeighbours, openPorts, reverseDns: null, nmap: null, now },
      now,
      logger: pino({ level: 'silent' }),
      version: 'test',
    });
    t.after(() => runner.stop());
    assert.equal(await runner.pull(), true);
    assert.equal(runner.assignments?.subnets[0]?.cidr, '127.91.0.0/29');
    const made: string[] = [];
    const sweepOnce = async () => {
      clock.now += 60_000;
      const b = await runner.sweep(subnet.id);
      assert.ok(b && !b.error, b?.error);
      assert.equal(b.observations.length, 6, 'every loopback address answers');
      made.push(b.batch_id);
    };
    await sweepOnce();
    await runner.flush();
    assert.equal(queue.depth, 0);

    await central.stop();
    central = undefined;
    for (let i = 0; i < 3; i++) await sweepOnce();
    await runner.flush();
    assert.equal(queue.depth, 3, 'kept on disk while central is away');
    assert.equal(runner.centralUp, false);

    clock.now += 30_000;
    central = await startTestExporter(env, { clock: now });
    await runner.flush();
    assert.equal(queue.depth, 0);
    const applied = await central.store.exec.all<{ batch_id: string; scan_id: number }>(
      'SELECT batch_id, scan_id FROM agent_batches ORDER BY scan_id',
    );
    assert.deepEqual(
      applied.map((r) => r.batch_id),
      made,
      'every batch applied once, in the order it was made',
    );
    const scans = await central.store.exec.all<{ trigger: string; state: string; alive: number; started_at: number }>(
      'SELECT trigger, state, alive, started_at FROM scans WHERE subnet_id = ? ORDER BY id',
      [subnet.id],
    );
    assert.equal(scans.length, 4);
    assert.ok(scans.every((s) => s.trigger === 'agent' && s.state === 'done' && s.alive === 6));
    assert.deepEqual(
      scans.map((s) => s.started_at),
      [...scans.map((s) => s.started_at)].sort((a, b) => a - b),
    );
    const listed = (await central.api.get('/api/v1/agents')).body.results[0];
    assert.equal(listed.status, 'up');
    assert.equal(listed.queue_depth, 0);
    // A replayed batch (its answer lost) changes nothing.
    const events = (await central.api.get(`/api/v1/events?subnet_id=${subnet.id}&limit=1`)).body.count;
    const replay = await new CentralClient({
      centralUrl: `http://127.0.0.1:${port}`,
      token: agent.token,
      caFile: undefined,
      fingerprint: undefined,
    }).call('POST', '/api/v1/agent/results', {
      batch_id: made[1],
      subnet_id: subnet.id,
      started_at: new Date(T0).toISOString(),
      finished_at: new Date(T0).toISOString(),
      sent: 6,
      observations: [],
      queue_depth: 0,
      dropped_total: 0,
      agent_version: 'test',
    });
    assert.deepEqual(replay, { status: 200, body: { applied: false, duplicate: true, scan_id: null } });
    assert.equal((await central.api.get(`/api/v1/events?subnet_id=${subnet.id}&limit=1`)).body.count, events);
    assert.equal((await central.store.exec.all('SELECT id FROM scans WHERE subnet_id = ?', [subnet.id])).length, 4);
    // Revoked: central answers 401, the agent keeps its results (never dropped for a 401).
    assert.equal((await central.api.delete(`/api/v1/agents/${agent.id}`)).status, 204);
    await sweepOnce();
    await runner.flush();
    assert.equal(queue.depth, 1);
    assert.equal(runner.centralUp, false);
    assert.equal(runner.rejected, 0);
    assert.equal(await runner.pull(), false);
  });
});

describe('TLS to central', () => {
  it('refuses a central whose certificate is not the pinned one, sending nothing; accepts the pinned one and a CA file', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const good = selfSignedCert(dir, 'central');
    const other = selfSignedCert(dir, 'impostor');
    const central = await startTestExporter({ LANSCAPE_TLS_CERT_FILE: good.cert, LANSCAPE_TLS_KEY_FILE: good.key });
    t.after(() => central.stop());
    assert.match(central.url, /^https:/);
    // The agent is registered through the store's service (the test client speaks plain HTTP).
    const agent = await central.agents.create('tls-site');
    const client = (o: { caFile?: string; fingerprint?: string }) =>
      new CentralClient({ centralUrl: central.url, token: agent.token, caFile: o.caFile, fingerprint: o.fingerprint });

    const wrong = client({ fingerprint: other.fingerprint });
    await assert.rejects(
      wrong.call('GET', '/api/v1/agent/assignments'),
      (e: unknown) =>
        e instanceof CentralError && e.kind === 'tls' && /not the pinned LANSCAPE_AGENT_FINGERPRINT/.test(e.message),
    );
    const wrongCa = client({ caFile: other.cert });
    await assert.rejects(
      wrongCa.call('GET', '/api/v1/agent/assignments'),
      (e: unknown) => e instanceof CentralError && e.kind === 'tls',
    );
    const system = client({});
    await assert.rejects(
      system.call('GET', '/api/v1/agent/assignments'),
      (e: unknown) => e instanceof CentralError && e.kind === 'tls',
    );
    assert.equal((await central.agents.get(agent.id)).last_seen_at, null, 'no request reached central');

    const pinned = client({ fingerprint: fingerprintOf(good.cert, dir).toLowerCase() });
    assert.equal((await pinned.call('GET', '/api/v1/agent/assignments')).status, 200);
    const withCa = client({ caFile: good.cert });
    assert.equal((await withCa.call('GET', '/api/v1/agent/assignments')).status, 200);
    for (const c of [wrong, wrongCa, system, pinned, withCa]) c.close();
  });
});

describe('agent CLI', () => {
  const token = `lsa_1_${'A'.repeat(43)}`;
  const cases: [Record<string, string>, RegExp][] = [
    [{}, /LANSCAPE_AGENT_CENTRAL_URL is required/],
    [{ LANSCAPE_AGENT_CENTRAL_URL: 'https://central:9645' }, /LANSCAPE_AGENT_TOKEN is required/],
    [{ LANSCAPE_AGENT_CENTRAL_URL: 'http://192.0.2.1:9645', LANSCAPE_AGENT_TOKEN: token }, /must be https/],
    [{ LANSCAPE_AGENT_CENTRAL_URL: 'https://central:9645', LANSCAPE_AGENT_TOKEN: 'write-token' }, /not an agent token/],
    [
      {
        LANSCAPE_AGENT_CENTRAL_URL: 'https://central:9645',
        LANSCAPE_AGENT_TOKEN: token,
        LANSCAPE_AGENT_FINGERPRINT: 'ab:cd',
      },
      /SHA-256 fingerprint/,
    ],
    [
      {
        LANSCAPE_AGENT_CENTRAL_URL: 'https://central:9645',
        LANSCAPE_AGENT_TOKEN: token,
        LANSCAPE_AGENT_FINGERPRINT: Array(32).fill('AB').join(':'),
        LANSCAPE_AGENT_CA_FILE: '/etc/ca.pem',
      },
      /not both/,
    ],
    [
      {
        LANSCAPE_AGENT_CENTRAL_URL: 'https://central:9645',
        LANSCAPE_AGENT_TOKEN: token,
        LANSCAPE_AGENT_QUEUE_MAX: '0',
      },
      /QUEUE_MAX/,
    ],
  ];
  it('refuses bad settings with one clear line (pure)', () => {
    for (const [env, message] of cases) assert.throws(() => agentConfigFrom(env), message);
    const ok = agentConfigFrom({ LANSCAPE_AGENT_CENTRAL_URL: 'https://central:9645/', LANSCAPE_AGENT_TOKEN: token });
    assert.equal(ok.centralUrl, 'https://central:9645');
    assert.equal(ok.queueMax, 1000);
  });
  it('`main.ts agent` exits 2 with the message; bad flags too', () => {
    const run = (args: string[], env: Record<string, string>) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
        cwd: EXPORTER_DIR,
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
        timeout: 60_000,
      });
    const bad = run(['agent'], { LANSCAPE_AGENT_CENTRAL_URL: 'http://192.0.2.1:9645', LANSCAPE_AGENT_TOKEN: token });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^lanscape: LANSCAPE_AGENT_CENTRAL_URL must be https/);
    const flag = run(['agent', '--nope'], {});
    assert.equal(flag.status, 2);
    assert.match(flag.stderr, /Unknown option '--nope'/);
    assert.ok(!existsSync(join(EXPORTER_DIR, 'data', 'agent-queue')), 'a refused start creates no queue');
  });
});
