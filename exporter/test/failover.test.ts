// Failover (#14), all real: two exporters on one PostgreSQL database in the lab's scanner
// namespace (they sweep the lab LAN on a schedule), the repo's HAProxy configuration in front of
// them (provisioning/haproxy/haproxy.cfg, on unix sockets), 32 clients reserving addresses
// through it. The leader is killed with SIGKILL mid-load: no acknowledged write is lost, the
// failed requests are only ones that were in flight when it died, the other replica takes the
// scheduled sweeps over within 15 s, and no sweep of the subnet ever overlaps another.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ApiClient, EXPORTER_DIR, TOKENS, tempDir, testEnv } from './helpers/exporter.js';
import { type Lab, requireLab, startLab, waitForLine } from './helpers/lab.js';
import { type TestPostgres, startPostgres } from './helpers/postgres.js';
import { stopChild } from './helpers/processes.js';
import { requireTool } from './helpers/tools.js';

const HAPROXY_CFG = join(EXPORTER_DIR, '..', 'provisioning', 'haproxy', 'haproxy.cfg');
const LAN = '10.201.0.0/24';
const POOL = '10.99.0.0/16';
const CLIENTS = 32;
const SWEEP_SECONDS = 10;

interface Replica {
  child: ChildProcess;
  socket: string;
  api: ApiClient;
}

interface Outcome {
  start: number;
  end: number;
  ok: boolean;
  address?: string;
  status?: number;
  error?: string;
}

let lab: Lab | undefined;
let postgres: TestPostgres | undefined;
let db: pg.Client | undefined;
let haproxy: ChildProcess | undefined;
let dir: string;
let cleanup = () => {};
const replicas: Replica[] = [];
const clients: ApiClient[] = [];

async function isLeader(r: Replica): Promise<boolean> {
  const res = await r.api.get('/metrics', TOKENS.read).catch(() => undefined);
  return /^lanscape_leader 1$/m.test(res?.text ?? '');
}

async function scansOf(subnetId: number) {
  const r = await db!.query<{
    id: number;
    state: string;
    trigger: string;
    started_at: string | null;
    finished_at: string | null;
    error: string | null;
  }>('SELECT id, state, trigger, started_at, finished_at, error FROM scans WHERE subnet_id = $1 ORDER BY id', [
    subnetId,
  ]);
  return r.rows.map((s) => ({
    ...s,
    started_at: s.started_at === null ? null : Number(s.started_at),
    finished_at: s.finished_at === null ? null : Number(s.finished_at),
  }));
}

describe('failover between two replicas behind HAProxy', { timeout: 180_000 }, () => {
  before(async (t) => {
    if (!requireLab(t as never) || !requireTool(t as never, 'haproxy', 'apt-get install haproxy')) return;
    postgres = await startPostgres(t as never);
    if (!postgres) return;
    ({ dir, cleanup } = tempDir());
    const tcpUrl = await postgres.createDatabase('failover');
    db = new pg.Client({ connectionString: tcpUrl });
    await db.connect();
    // The exporters live in the lab namespace: they reach the database through its unix socket.
    const viaSocket = new URL(tcpUrl);
    viaSocket.searchParams.set('host', postgres.dir); // overrides the URL's host: the socket's directory
    const socketUrl = viaSocket.toString();
    lab = await startLab();
    for (const name of ['r1', 'r2']) {
      const socket = join(dir, `${name}.sock`);
      const child = lab.spawn(lab.ns.scan, [process.execPath, '--import', 'tsx', 'src/main.ts'], {
        cwd: EXPORTER_DIR,
        env: {
          ...process.env,
          ...testEnv(join(dir, `${name}.db`)),
          LANSCAPE_LISTEN: `unix:${socket}`,
          LANSCAPE_DATABASE_URL: socketUrl,
          // Inside the lab namespace (no default route): scheduled sweeps of the lab LAN are safe.
          LANSCAPE_SCAN_ENABLED: 'true',
          LANSCAPE_LOG_LEVEL: 'info',
        },
      });
      await waitForLine(child, /lanscape exporter listening/, 30_000);
      replicas.push({ child, socket, api: new ApiClient(`unix:${socket}`) });
    }
    const balancer = join(dir, 'lb.sock');
    haproxy = lab.spawn(lab.ns.scan, ['haproxy', '-db', '-f', HAPROXY_CFG], {
      env: {
        ...process.env,
        LANSCAPE_BALANCER_BIND: `unix@${balancer}`,
        LANSCAPE_REPLICA_1: `unix@${replicas[0]!.socket}`,
        LANSCAPE_REPLICA_2: `unix@${replicas[1]!.socket}`,
      },
    });
    for (let i = 0; i < CLIENTS; i++) clients.push(new ApiClient(`unix:${balancer}`, TOKENS.write));
    for (let i = 0; i < 100; i++) {
      const res = await clients[0]!.get('/readyz').catch(() => undefined);
      if (res?.status === 200) break;
      await sleep(100);
    }
  });

  after(async () => {
    for (const c of [...clients, ...replicas.map((r) => r.api)]) c.close();
    if (haproxy) await stopChild(haproxy, 2_000);
    await lab?.down();
    await db?.end();
    await postgres?.stop();
    cleanup();
  });

  it('loses no acknowledged write, fails only requests in flight on the killed leader, and sweeps resume within 15 s', async () => {
    const api = clients[0]!;
    const lan = await api.post('/api/v1/subnets', {
      cidr: LAN,
      scan_enabled: true,
      scan_interval_seconds: SWEEP_SECONDS,
    });
    assert.equal(lan.status, 201, lan.text);
    const pool = await api.post('/api/v1/subnets', { cidr: POOL, scan_enabled: false });
    assert.equal(pool.status, 201, pool.text);

    // The leader sweeps the LAN on its schedule; wait for its first sweep.
    let leader: Replica | undefined;
    for (let i = 0; i < 100 && !leader; i++) {
      for (const r of replicas) if (await isLeader(r)) leader = r;
      if (!leader) await sleep(100);
    }
    assert.ok(leader, 'one replica leads');
    const survivor = replicas.find((r) => r !== leader)!;
    assert.equal(await isLeader(survivor), false, 'and only one');
    for (let i = 0; i < 300; i++) {
      if ((await scansOf(lan.body.id)).some((s) => s.state === 'done')) break;
      await sleep(100);
    }
    assert.ok(
      (await scansOf(lan.body.id)).some((s) => s.state === 'done'),
      'a first scheduled sweep',
    );

    // 32 clients reserve the next free address of the pool through HAProxy until told to stop.
    const outcomes: Outcome[] = [];
    let stopping = false;
    const client = async (c: ApiClient) => {
      for (let n = 0; n < 10_000 && !stopping; n++) {
        const start = Date.now();
        try {
          const res = await c.post(`/api/v1/subnets/${pool.body.id}/available-ips`, { count: 1 });
          const ok = res.status === 201;
          outcomes.push({
            start,
            end: Date.now(),
            ok,
            status: res.status,
            ...(ok ? { address: res.body[0].address } : { error: res.text.slice(0, 200) }),
          });
        } catch (e) {
          outcomes.push({ start, end: Date.now(), ok: false, error: (e as Error).message });
        }
      }
    };
    const running = Promise.all(clients.map(client));
    await sleep(2_000);
    const killedAt = Date.now();
    leader!.child.kill('SIGKILL');
    await new Promise((resolve) => leader!.child.once('exit', resolve));
    // SIGKILL is not instant: until the kernel has torn the process down its listening socket still
    // accepts, so a request started between kill() and the exit is in flight on the leader too.
    const diedAt = Date.now();

    // The survivor takes the lead and the scheduled sweeps over.
    let tookOverAt: number | undefined;
    for (let i = 0; i < 150 && tookOverAt === undefined; i++) {
      if (await isLeader(survivor)) tookOverAt = Date.now();
      else await sleep(100);
    }
    assert.ok(tookOverAt !== undefined, 'the survivor leads within 15 s');
    let resumed: number | undefined;
    for (let i = 0; i < 150 && resumed === undefined; i++) {
      const next = (await scansOf(lan.body.id)).find((s) => s.started_at !== null && s.started_at > killedAt);
      if (next) resumed = next.started_at!;
      else await sleep(100);
    }
    assert.ok(resumed !== undefined, 'a scheduled sweep started after the kill');
    assert.ok(resumed - killedAt <= 15_000, `sweeps resumed ${resumed - killedAt} ms after the kill`);
    await sleep(3_000);
    stopping = true;
    await running;

    // No acknowledged write lost, none given twice.
    const acked = outcomes.filter((o) => o.ok).map((o) => o.address!);
    assert.ok(acked.length > 100, `writes went through (${acked.length})`);
    assert.equal(new Set(acked).size, acked.length, 'no address acknowledged twice');
    const stored = new Set(
      (await db!.query<{ address: string }>("SELECT address FROM addresses WHERE address LIKE '10.99.%'")).rows.map(
        (r) => r.address,
      ),
    );
    const lost = acked.filter((a) => !stored.has(a));
    assert.deepEqual(lost, [], 'every acknowledged reservation is in the database');
    // Failed requests: only ones sent before the leader was gone and still unanswered when it was
    // killed.
    const failed = outcomes.filter((o) => !o.ok);
    for (const f of failed)
      assert.ok(
        f.start <= diedAt && f.end >= killedAt,
        `a failure outside the kill (${killedAt}..${diedAt}): ${JSON.stringify(f)}`,
      );
    assert.ok(failed.length <= CLIENTS, `${failed.length} failed, at most one per client`);

    // No sweep of the subnet overlapped another; the killed leader's unfinished one (if any) failed.
    const scans = await scansOf(lan.body.id);
    const swept = scans.filter((s) => s.started_at !== null && s.state === 'done');
    for (let i = 1; i < swept.length; i++)
      assert.ok(
        swept[i]!.started_at! >= swept[i - 1]!.finished_at!,
        `sweeps ${swept[i - 1]!.id} and ${swept[i]!.id} overlap`,
      );
    const unfinished = scans.filter((s) => s.state === 'queued' || s.state === 'running');
    assert.ok(unfinished.length <= 1, 'at most the survivor’s current sweep is unfinished');
    for (const s of scans.filter((x) => x.state === 'failed')) assert.match(s.error ?? '', /^abandoned/);
    console.log(
      `failover: ${acked.length} acknowledged, ${failed.length} failed (in flight at the kill), ` +
        `the leader was gone ${diedAt - killedAt} ms after SIGKILL, ` +
        `leader again after ${tookOverAt - killedAt} ms, sweeps resumed after ${resumed - killedAt} ms, ` +
        `${swept.length} sweeps, ${scans.length - swept.length} other scan rows`,
    );
  });
});
