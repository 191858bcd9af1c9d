// Proxmox VM jobs on the async Store (#14), on the backend under test (LANSCAPE_TEST_BACKEND):
// one job per Idempotency-Key when two replicas get the same key at once, state transitions
// that only one replica can make, recovery of abandoned jobs (all unheld ones on SQLite, only
// stale ones on PostgreSQL, each failed once), and pause()/resume() of the inventory loop.
// On PostgreSQL the "replicas" are two Stores (two pools) on one database; on SQLite, one Store
// (one process owns the file).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, type TestContext } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import type { IpamService } from '../src/ipam/service.js';
import { IpamService as RealIpam } from '../src/ipam/service.js';
import { type PveClient, ProxmoxError } from '../src/proxmox/client.js';
import { ProxmoxService } from '../src/proxmox/service.js';
import { type JobRow, type NewJobRow, ProxmoxStore } from '../src/proxmox/store.js';
import { STALE_MS, VmJobs } from '../src/proxmox/vms.js';
import type { Store } from '../src/store/store.js';
import { TEST_BACKEND, databaseUrlOf, openTestStore } from './helpers/store.js';

const config = loadConfig({
  LANSCAPE_PROXMOX_URL: 'https://127.0.0.1:8006',
  LANSCAPE_PROXMOX_TOKEN_ID: 'root@pam!t',
  LANSCAPE_PROXMOX_TOKEN_SECRET: 'secret-token-value',
  LANSCAPE_PROXMOX_INTERVAL_SECONDS: '3600',
}).proxmox;
const logger = pino({ level: 'silent' });

/** Two replicas' stores on one database (PostgreSQL), or the one store (SQLite). */
async function twoStores(t: TestContext): Promise<[Store, Store]> {
  const a = await openTestStore(t);
  if (a.dialect === 'sqlite') return [a, a];
  return [a, await openTestStore(t, { url: databaseUrlOf(a)! })];
}

function jobRow(key: string | null, at: number, state: NewJobRow['state'] = 'queued'): NewJobRow {
  return {
    idempotency_key: key,
    request_hash: 'h',
    request: JSON.stringify({ name: 'vm', node: 'pve1' }),
    actor: JSON.stringify({ name: 'admin' }),
    node: 'pve1',
    name: 'vm',
    state,
    steps: '[]',
    progress: 0,
    vmid: null,
    vm_created: 0,
    address: null,
    address_id: null,
    prefix_length: null,
    gateway: null,
    dns: '[]',
    error: null,
    created_at: at,
    updated_at: at,
    finished_at: null,
  };
}

/** An IPAM that only records audit entries (jobs without an address never reach the rest). */
function auditOnlyIpam(records: unknown[]): IpamService {
  return {
    audit: {
      record: async (...args: unknown[]) => {
        records.push(args);
      },
    },
  } as unknown as IpamService;
}

describe(`VM jobs on the store (${TEST_BACKEND})`, () => {
  it('creates one job for an Idempotency-Key that two replicas get at once', async (t) => {
    const [a, b] = await twoStores(t);
    const pa = new ProxmoxStore(a);
    const pb = new ProxmoxStore(b);
    let inserted!: () => void;
    const aInserted = new Promise<void>((resolve) => (inserted = resolve));
    /** Insert or, when the key is taken, the job that holds it (what VmJobs.create does). */
    const create = (store: Store, p: ProxmoxStore, hold: boolean) =>
      store.write(async () => {
        const row = await p.insertJob(jobRow('same-key', 1));
        if (hold) {
          inserted();
          await sleep(100); // A commits only after B has tried its insert (PostgreSQL: B waits for A)
        }
        return { row: row ?? (await p.jobByKey('same-key'))!, replayed: row === undefined };
      });
    const first = create(a, pa, true);
    await aInserted;
    const [ra, rb] = await Promise.all([first, create(b, pb, false)]);
    assert.equal(ra.replayed, false);
    assert.equal(rb.replayed, true, 'the second replica replays the first one’s job');
    assert.equal(rb.row.id, ra.row.id);
    const rows = await a.exec.all<{ id: number }>('SELECT id FROM proxmox_vm_jobs WHERE idempotency_key = ?', [
      'same-key',
    ]);
    assert.equal(rows.length, 1);
  });

  it('lets one replica advance a job: state transitions are conditional', async (t) => {
    const [a, b] = await twoStores(t);
    const pa = new ProxmoxStore(a);
    const pb = new ProxmoxStore(b);
    const job = (await pa.insertJob(jobRow(null, 1)))!;
    const running: JobRow = { ...job, state: 'running', updated_at: 2 };
    const results = await Promise.all([
      a.write(() => pa.saveJob(running, { state: 'queued' })),
      b.write(() => pb.saveJob({ ...running, progress: 0.5 }, { state: 'queued' })),
    ]);
    assert.deepEqual(results.map(Number).sort(), [0, 1], 'exactly one replica moved the job from queued to running');
    assert.equal((await pa.job(job.id))!.state, 'running');
    // With updated_at as part of the expectation (recovery), a touched job is not taken.
    await pb.touchJobs([job.id], 10);
    assert.equal(await pa.saveJob({ ...running, state: 'failed' }, { state: 'running', updated_at: 2 }), false);
    assert.equal(await pa.saveJob({ ...running, state: 'failed' }, { state: 'running', updated_at: 10 }), true);
    assert.deepEqual(await pa.jobCounts(), { failed: 1 });
  });

  it('fails each abandoned job once; on PostgreSQL only jobs whose heartbeat stopped', async (t) => {
    const [a, b] = await twoStores(t);
    const now = 10 * STALE_MS;
    const pa = new ProxmoxStore(a);
    const stale = (await pa.insertJob(jobRow(null, now - STALE_MS - 1, 'running')))!;
    const fresh = (await pa.insertJob(jobRow(null, now - 1_000)))!;
    const audit: unknown[] = [];
    const jobs = (store: Store) =>
      new VmJobs(
        auditOnlyIpam(audit),
        store,
        new ProxmoxStore(store),
        {} as PveClient,
        config,
        { now: () => now, inventory: async () => null },
        logger,
      );
    const failed = await Promise.all([jobs(a).recover(), jobs(b).recover()]);
    const expected = TEST_BACKEND === 'postgres' ? 1 : 2; // SQLite: every unfinished job is from a stopped process
    assert.equal(failed[0] + failed[1], expected, `failed per replica: ${failed.join(', ')}`);
    assert.equal(audit.length, expected, 'one audit entry per failed job');
    const s = (await pa.job(stale.id))!;
    assert.equal(s.state, 'failed');
    assert.match(s.error!, /^the exporter stopped during this job; nothing was created in Proxmox; no address/);
    assert.equal((await pa.job(fresh.id))!.state, TEST_BACKEND === 'postgres' ? 'queued' : 'failed');
  });
});

describe(`VM jobs through IPAM (${TEST_BACKEND})`, () => {
  it('two job runners given one Idempotency-Key at once create one job and reserve one address', async (t) => {
    const [a, b] = await twoStores(t);
    const ipamOf = (store: Store) => new RealIpam(store);
    const ipamA = ipamOf(a);
    const subnet = await ipamA.createSubnet({ cidr: '10.50.0.0/24', gateway: '10.50.0.1' }, { name: 'admin' });
    const now = 1_700_000_000_000;
    const runner = (store: Store) => {
      const jobs = new VmJobs(
        ipamOf(store),
        store,
        new ProxmoxStore(store),
        {} as PveClient,
        config,
        { now: () => now, inventory: async () => null },
        logger,
      );
      jobs.abort(); // the jobs stay queued: this test is about their creation
      return jobs;
    };
    const request = {
      node: 'pve1',
      name: 'app',
      clone: { template_vmid: 9000, full: true },
      network: { bridge: 'vmbr0', address: { subnet_id: subnet.id, next_free: true as const } },
      start: false,
    };
    const [ra, rb] = await Promise.all([
      runner(a).create(request, 'one-key', { name: 'admin' }),
      runner(b).create(request, 'one-key', { name: 'admin' }),
    ]);
    assert.equal(ra.job.id, rb.job.id);
    assert.deepEqual([ra.replayed, rb.replayed].sort(), [false, true]);
    const jobs = await a.exec.all<{ id: number }>('SELECT id FROM proxmox_vm_jobs');
    assert.equal(jobs.length, 1);
    const reserved = await a.exec.all<{ address: string }>(
      "SELECT address FROM addresses WHERE state = 'provisioning' AND source = 'proxmox'",
    );
    assert.deepEqual(
      reserved.map((r) => r.address),
      [ra.job.address],
      'one address reserved',
    );
    // Another body under the same key is refused, naming the job.
    await assert.rejects(
      runner(b).create({ ...request, name: 'other' }, 'one-key', { name: 'admin' }),
      /Idempotency-Key "one-key" belongs to VM job/,
    );
  });
});

describe(`ProxmoxService pause/resume (${TEST_BACKEND})`, () => {
  it('runs the inventory loop between resume() and pause(), any number of times; stop() is final', async (t) => {
    const store = await openTestStore(t);
    let calls = 0;
    const client = {
      api: {
        nodes: {
          $get: async () => {
            calls++;
            throw new ProxmoxError('connection refused', 'network');
          },
        },
      },
      transport: { close() {} },
    } as unknown as PveClient;
    const ipam = new RealIpam(store);
    const svc = new ProxmoxService(store, ipam, config, { client }, logger);
    const settle = async (n: number) => {
      for (let i = 0; i < 200 && calls < n; i++) await sleep(5);
      await sleep(20);
    };
    assert.equal(svc.running, false);
    svc.start();
    svc.resume(); // idempotent: one loop
    await settle(1);
    assert.equal(calls, 1, 'one inventory run at start');
    assert.equal(svc.running, true);
    assert.equal(svc.up, false);
    await svc.pause();
    await svc.pause();
    assert.equal(svc.running, false);
    svc.resume();
    await settle(2);
    assert.equal(calls, 2, 'resume runs the inventory again at once');
    await svc.stop();
    svc.resume();
    await sleep(30);
    assert.equal(svc.running, false, 'nothing runs after stop()');
    assert.equal(calls, 2);
  });
});
