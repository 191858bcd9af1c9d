// No single write stalls the exporter: CSV imports run as jobs in slices (lifecycle, all or
// nothing, compensation when the store changes meanwhile, roll-back after a stop, 100,000 rows),
// bulk allocations are stored in slices (atomic, no duplicates), creating a subnet costs the
// same with 20,000 subnets as with none, and /healthz keeps answering while all of it runs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import type { Actor } from '../src/audit/log.js';
import { loadConfig } from '../src/config/load.js';
import { formatIp } from '../src/ipam/core/ip.js';
import { IpamService } from '../src/ipam/service.js';
import { startExporter } from '../src/server.js';
import { openDb } from '../src/store/db.js';
import { Store, openPool } from '../src/store/store.js';
import { ApiClient, TOKENS, type TestExporter, startTestExporter, tempDir, testEnv } from './helpers/exporter.js';
import { exclusively } from './helpers/heavy.js';
import { TEST_BACKEND, createTestDatabase, openTestStore } from './helpers/store.js';

const ACTOR: Actor = { name: 'test' };

/** Slices of imports still journalled (gone once an import is complete or rolled back). */
async function journalEntries(store: Store): Promise<number> {
  return (await store.exec.get<{ n: number }>("SELECT count(*) AS n FROM meta WHERE key LIKE 'import_job:%'"))!.n;
}
const v4 = (value: number) => formatIp({ family: 4, value: BigInt(value) });
const ip = (a: number, b: number, c: number, d: number) => ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
const csv = (header: string, lines: readonly string[]) => `${header}\n${lines.join('\n')}\n`;
/** `count` consecutive addresses from `first` (an integer IPv4 value). */
const addresses = (first: number, count: number) => Array.from({ length: count }, (_, i) => v4(first + i));

interface Job {
  id: number;
  state: string;
  phase: string | null;
  progress: number;
  rows: number;
  valid: number;
  stored: number;
  applied: boolean;
  dry_run: boolean;
  errors: { row: number; line: number; field?: string; message: string }[];
  error_count: number;
  error?: string;
}

/** Polls an import job until it ends; checks progress never goes back. */
async function finished(api: ApiClient, id: number, timeoutMs = 120_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  let progress = 0;
  for (;;) {
    const r = await api.get<Job>(`/api/v1/import-jobs/${id}`, TOKENS.read);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.progress >= progress - 1e-9, `progress went back from ${progress} to ${r.body.progress}`);
    progress = r.body.progress;
    if (r.body.state === 'done' || r.body.state === 'failed') return r.body;
    assert.ok(Date.now() < deadline, `job ${id} still ${r.body.state} (${r.body.phase}) after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

function postCsv(api: ApiClient, kind: string, body: string, query = '') {
  return api.call<Job>('POST', `/api/v1/import/${kind}${query}`, { rawBody: body, contentType: 'text/csv' });
}

async function countIn(api: ApiClient, subnetId: number): Promise<number> {
  return (await api.get(`/api/v1/addresses?subnet_id=${subnetId}&limit=1`)).body.count as number;
}

describe('CSV import jobs', () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter();
  });
  after(async () => {
    await ex.stop();
  });

  it('answers 202 for a large file, shows progress, then stores every row', async () => {
    const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '10.1.0.0/16' })).body;
    const rows = addresses(ip(10, 1, 0, 1), 3000).map((a, i) => `${a},host-${i}`);
    const r = await postCsv(ex.api, 'addresses', csv('address,hostname', rows));
    assert.equal(r.status, 202, r.text);
    assert.equal(r.headers.get('location'), `/api/v1/import-jobs/${r.body.id}`);
    assert.ok(['queued', 'running'].includes(r.body.state));
    assert.equal(r.body.rows, 3000);
    assert.equal(r.body.dry_run, false);
    const job = await finished(ex.api, r.body.id);
    assert.equal(job.state, 'done', JSON.stringify(job));
    assert.equal(job.progress, 1);
    assert.equal(job.applied, true);
    assert.equal(job.valid, 3000);
    assert.equal(job.stored, 3000);
    assert.deepEqual(job.errors, []);
    assert.equal(await countIn(ex.api, subnet.id), 3000);
    const one = (await ex.api.get(`/api/v1/addresses?subnet_id=${subnet.id}&q=host-2999`)).body.results[0];
    assert.equal(one.address, '10.1.11.184');
    // The journal of the slices is gone once the import is complete.
    assert.equal(await journalEntries(ex.store), 0);
  });

  it('fails with every bad row and stores nothing when a row is invalid', async () => {
    const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '10.2.0.0/16' })).body;
    const rows = addresses(ip(10, 2, 0, 1), 1500).map((a, i) => `${a},host-${i}`);
    rows[9] = '10.2.0.10,not a host name';
    rows[1199] = '192.0.2.1,outside';
    rows[1299] = rows[1298]!; // a duplicate inside the file
    const r = await postCsv(ex.api, 'addresses', csv('address,hostname', rows));
    assert.equal(r.status, 202, r.text);
    const job = await finished(ex.api, r.body.id);
    assert.equal(job.state, 'failed');
    assert.equal(job.applied, false);
    assert.equal(job.stored, 0);
    assert.equal(job.error_count, 3);
    assert.deepEqual(
      job.errors.map((e) => e.row),
      [10, 1200, 1300],
    );
    assert.equal(job.errors[0]!.field, 'hostname');
    assert.match(job.errors[1]!.message, /no subnet contains 192\.0\.2\.1/);
    assert.match(job.errors[2]!.message, /already exists in row 1299 of this file/);
    assert.equal(job.errors[2]!.line, 1301, 'lines count the header');
    assert.match(job.error ?? '', /3 of 1500 row\(s\) are invalid; nothing was stored/);
    assert.equal(await countIn(ex.api, subnet.id), 0);
  });

  it('runs a dry run as a job (async=true) and stores nothing', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => `10.3.${i}.0/24,dry-${i}`);
    rows.push('10.3.99.1/24,bad');
    const r = await postCsv(ex.api, 'subnets', csv('cidr,name', rows), '?dry_run=true&async=true');
    assert.equal(r.status, 202, r.text);
    const job = await finished(ex.api, r.body.id);
    assert.equal(job.state, 'done');
    assert.equal(job.dry_run, true);
    assert.equal(job.applied, false);
    assert.equal(job.valid, 20);
    assert.deepEqual(
      job.errors.map((e) => e.row),
      [21],
    );
    assert.equal((await ex.api.get('/api/v1/subnets?q=10.3.')).body.count, 0);
  });

  it('keeps small files synchronous: 200 with the report, 422 with the errors', async () => {
    const ok = await postCsv(ex.api, 'subnets', csv('cidr', ['10.4.0.0/24', '10.4.1.0/24']));
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.body, { kind: 'subnets', dry_run: false, applied: true, rows: 2, valid: 2, errors: [] });
    const bad = await postCsv(ex.api, 'subnets', csv('cidr', ['10.4.2.0/24', '10.4.0.0/24']));
    assert.equal(bad.status, 422);
    assert.equal((bad.body as unknown as { error: { details: Job } }).error.details.errors[0]!.row, 2);
    assert.equal((await ex.api.get('/api/v1/subnets?q=10.4.2.')).body.count, 0);
  });

  it('answers 404 for an unknown job and needs a token', async () => {
    assert.equal((await ex.api.get('/api/v1/import-jobs/12345', TOKENS.read)).status, 404);
    assert.equal((await ex.api.get('/api/v1/import-jobs/12345', null)).status, 401);
  });

  it('removes what it stored when the store changes under it, and says which row', async () => {
    const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '10.5.0.0/16' })).body;
    const all = addresses(ip(10, 5, 0, 1), 4000);
    const last = all[all.length - 1]!;
    let fired = false;
    // After the first slice is stored, someone else records the file's last address.
    ex.imports.beforeApplySlice = async (job) => {
      if (fired || job.stored === 0) return;
      fired = true;
      const other = await ex.api.post('/api/v1/addresses', { address: last, hostname: 'someone-else' }, TOKENS.write);
      assert.equal(other.status, 201, other.text);
    };
    try {
      const r = await postCsv(ex.api, 'addresses', csv('address', all));
      assert.equal(r.status, 202, r.text);
      const job = await finished(ex.api, r.body.id);
      assert.ok(fired, 'the hook ran between slices');
      assert.equal(job.state, 'failed');
      assert.equal(job.applied, false);
      assert.equal(job.stored, 0);
      assert.deepEqual(
        job.errors.map((e) => e.row),
        [4000],
      );
      assert.match(job.error ?? '', /row 4000 could not be stored: the store changed after the file was checked/);
      assert.match(job.error ?? '', /were removed again/);
      // Only the other writer's address is left, and the audit log tells the story.
      const left = (await ex.api.get(`/api/v1/addresses?subnet_id=${subnet.id}`)).body;
      assert.deepEqual(
        left.results.map((a: { address: string }) => a.address),
        [last],
      );
      const audit = (await ex.api.get('/api/v1/audit?object_type=address&actor=admin&limit=5')).body;
      assert.ok(audit.count >= 2 && audit.count % 2 === 0, `as many deletes as creates (${audit.count})`);
      assert.equal(audit.results[0].action, 'delete');
      assert.equal(await journalEntries(ex.store), 0);
    } finally {
      ex.imports.beforeApplySlice = undefined;
    }
  });

  it('compensates a subnet import too, newest first', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => `10.6.${i >> 8}.${i & 255}/32`);
    let fired = false;
    ex.imports.beforeApplySlice = async (job) => {
      if (fired || job.stored === 0) return;
      fired = true;
      assert.equal((await ex.api.post('/api/v1/subnets', { cidr: rows[2999] })).status, 201);
    };
    try {
      const r = await postCsv(ex.api, 'subnets', csv('cidr', rows));
      const job = await finished(ex.api, r.body.id);
      assert.equal(job.state, 'failed');
      assert.deepEqual(
        job.errors.map((e) => e.row),
        [3000],
      );
      assert.match(job.errors[0]!.message, /already exists/);
      assert.equal((await ex.api.get('/api/v1/subnets?q=10.6.')).body.count, 1, "only the other writer's subnet");
    } finally {
      ex.imports.beforeApplySlice = undefined;
    }
  });

  it('refuses a third import while two run (429 with Retry-After)', async () => {
    const big = (n: number) =>
      csv(
        'cidr',
        Array.from({ length: 2000 }, (_, i) => `10.${7 + n}.${i >> 8}.${i & 255}/32`),
      );
    const started = [
      await postCsv(ex.api, 'subnets', big(0), '?dry_run=true'),
      await postCsv(ex.api, 'subnets', big(1), '?dry_run=true'),
    ];
    assert.deepEqual(
      started.map((s) => s.status),
      [202, 202],
    );
    const third = await postCsv(ex.api, 'subnets', big(2), '?dry_run=true');
    // Unless both finished already (a fast machine): then it is simply accepted.
    const running = await Promise.all(
      started.map(async (s) => (await ex.api.get<Job>(`/api/v1/import-jobs/${s.body.id}`)).body.state),
    );
    if (third.status === 429) {
      assert.ok(Number(third.headers.get('retry-after')) > 0);
    } else {
      assert.equal(third.status, 202);
      assert.ok(
        running.some((s) => s === 'done'),
        'a third job only while fewer than two run',
      );
    }
    for (const s of [...started, ...(third.status === 202 ? [third] : [])]) await finished(ex.api, s.body.id);
  });
});

describe('an import cut short by a stop', () => {
  it('is rolled back at the next start', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const database: Record<string, string> =
        TEST_BACKEND === 'postgres' ? { LANSCAPE_DATABASE_URL: (await createTestDatabase())! } : {};
      const config = loadConfig(testEnv(join(dir, 'lanscape.db'), database));
      const first = await startExporter(config, pino({ level: 'silent' }));
      const api = new ApiClient(first.url);
      let closing: Promise<void> | undefined;
      first.imports.beforeApplySlice = (job) => {
        if (job.stored > 0 && !closing) closing = first.close();
      };
      const rows = Array.from({ length: 3000 }, (_, i) => `10.20.${i >> 8}.${i & 255}/32`);
      const r = await postCsv(
        api,
        'subnets',
        csv(
          'cidr,name',
          rows.map((c) => `${c},cut`),
        ),
      );
      assert.equal(r.status, 202, r.text);
      api.close();
      while (!closing) await new Promise((res) => setTimeout(res, 10));
      await closing;
      const job = first.imports.get(r.body.id);
      assert.equal(job.state, 'failed');
      assert.match(job.error ?? '', /removed at its next start/);
      // The store as the stopped exporter left it.
      const raw = config.database.url
        ? Store.postgres(openPool(config.database.url))
        : Store.sqlite(new Database(config.db, { readonly: true }));
      const stored = (await raw.exec.get<{ n: number }>("SELECT count(*) AS n FROM subnets WHERE name = 'cut'"))!.n;
      const journal = await journalEntries(raw);
      await raw.close();
      assert.ok(stored > 0 && stored < 3000, `a partial import is in the store (${stored})`);
      assert.ok(journal > 0, 'with its journal');

      const second = await startExporter(config, pino({ level: 'silent' }));
      const api2 = new ApiClient(second.url);
      try {
        assert.equal((await api2.get('/api/v1/subnets?q=10.20.')).body.count, 0, 'rolled back before serving');
        const audit = (await api2.get('/api/v1/audit?object_type=subnet&limit=1')).body;
        assert.equal(audit.count, stored * 2, 'a delete entry for every create');
        assert.equal(audit.results[0].action, 'delete');
        assert.equal(audit.results[0].actor, 'admin', 'as the importer');
      } finally {
        api2.close();
        await second.close();
      }
    } finally {
      cleanup();
    }
  });
});

describe('bulk allocations', () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter();
  });
  after(async () => {
    await ex.stop();
  });

  it('hands out every address once when large requests run at once, and refuses what does not fit', async () => {
    const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '10.30.0.0/20' })).body; // 4,094 usable
    const results = await Promise.all(
      [2000, 2000, 2000, 1, 1, 1].map((count) => ex.api.post(`/api/v1/subnets/${subnet.id}/available-ips`, { count })),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 409);
    assert.equal(ok.length + refused.length, 6, results.map((r) => r.status).join(','));
    const got = ok.flatMap((r) => r.body.map((a: { address: string }) => a.address));
    assert.equal(new Set(got).size, got.length, 'no address twice');
    assert.equal(refused.length, 1, 'one of the 2,000s does not fit');
    assert.match(refused[0]!.body.error.message, /free address/);
    assert.equal(await countIn(ex.api, subnet.id), got.length, 'the refused one reserved nothing');
    assert.equal(got.length, 4003);
  });

  it('counts above 256 in the bulk class: 429 beyond four at once', async () => {
    const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '10.32.0.0/14' })).body;
    const results = await Promise.all(
      Array.from({ length: 8 }, () => ex.api.post(`/api/v1/subnets/${subnet.id}/available-ips`, { count: 4096 })),
    );
    const statuses = results.map((r) => r.status);
    assert.ok(
      statuses.every((s) => s === 201 || s === 429),
      statuses.join(','),
    );
    assert.ok(statuses.filter((s) => s === 201).length >= 4);
    for (const r of results.filter((x) => x.status === 429)) assert.equal(r.headers.get('retry-after'), '2');
    const got = results
      .filter((r) => r.status === 201)
      .flatMap((r) => r.body.map((a: { address: string }) => a.address));
    assert.equal(new Set(got).size, got.length);
    assert.equal(await countIn(ex.api, subnet.id), got.length);
  });

  it(`removes the addresses it stored when its subnet goes between slices (${TEST_BACKEND})`, async (t) => {
    const store = await openTestStore(t);
    {
      const ipam = new IpamService(store);
      const writes = store.writes;
      await ipam.createSubnet({ cidr: '10.0.0.0/8' }, ACTOR);
      const child = await ipam.createSubnet({ cidr: '10.40.0.0/16' }, ACTOR);
      let slices = 0;
      const run = async <T>(fn: () => T): Promise<T> => {
        const out = await writes.run(fn);
        // After the second slice the subnet is deleted (its addresses stay: the /8 covers them).
        if (++slices === 2) await ipam.deleteSubnet(child.id, false, { name: 'other' });
        return out;
      };
      // A slice of 0 ms stores one step (64 addresses): 1,000 take 16 slices.
      await assert.rejects(
        ipam.allocateInSlices({ subnetId: child.id }, { count: 1000 }, ACTOR, run, 0),
        /subnet \d+ does not exist/,
      );
      assert.equal(
        await IpamService.storeOf(ipam).countBetween(1, Buffer.alloc(0), Buffer.alloc(18, 0xff)),
        0,
        'every address stored was removed again',
      );
      const audit = await ipam.audit.list({ object_type: 'address' }, 5000, 0);
      assert.equal(audit.results.filter((e) => e.action === 'create').length, 128);
      assert.equal(audit.results.filter((e) => e.action === 'delete').length, 128);
      // A later allocation is not held up by what the failed one had reserved.
      const parent = (await IpamService.storeOf(ipam).subnetByCidr(1, '10.0.0.0/8'))!;
      assert.equal((await ipam.allocate({ subnetId: parent.id }, { count: 1 }, ACTOR))[0]!.address, '10.0.0.1');
    }
  });
});

describe('subnet creation cost', () => {
  it('does not grow with the number of subnets', async () => {
    const { dir, cleanup } = tempDir();
    const empty = openDb(join(dir, 'empty.db'));
    const full = openDb(join(dir, 'full.db'));
    try {
      const a = new IpamService(Store.sqlite(empty));
      const b = new IpamService(Store.sqlite(full));
      const N = 20_000;
      await Store.sqlite(full).write(async () => {
        for (let i = 0; i < N; i++) await b.createSubnet({ cidr: `10.${i >> 8}.${i & 255}.0/24` }, ACTOR);
      });
      // Interleaved, so a busy machine slows both alike; medians of 300 each.
      const ta: number[] = [];
      const tb: number[] = [];
      for (let i = 0; i < 300; i++) {
        const cidr = `172.${16 + (i >> 8)}.${i & 255}.0/24`;
        let t = performance.now();
        await a.createSubnet({ cidr }, ACTOR);
        ta.push(performance.now() - t);
        t = performance.now();
        await b.createSubnet({ cidr }, ACTOR);
        tb.push(performance.now() - t);
      }
      const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
      const ratio = median(tb) / median(ta);
      // Before: 0.4 ms at 0 and 33 ms at 20,000 (every subnet scanned per call).
      assert.ok(
        ratio < 2.5,
        `createSubnet at ${N} subnets takes ${ratio.toFixed(2)}× the time at 0 ` +
          `(${median(tb).toFixed(3)} vs ${median(ta).toFixed(3)} ms)`,
      );
    } finally {
      empty.close();
      full.close();
      cleanup();
    }
  });
});

describe('availability while everything runs', () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter();
  });
  after(async () => {
    await ex.stop();
  });

  it('imports 100,000 addresses in under a minute while bulk allocations run, /healthz answering throughout', () =>
    exclusively(async () => {
      const target = (await ex.api.post('/api/v1/subnets', { cidr: '100.64.0.0/10' })).body;
      const pool = (await ex.api.post('/api/v1/subnets', { cidr: '172.16.0.0/12' })).body;
      const body = csv(
        'address,hostname',
        addresses(ip(100, 64, 0, 1), 100_000).map((a, i) => `${a},n${i}`),
      );
      const loop = monitorEventLoopDelay({ resolution: 10 });
      let polling = true;
      const healthz: number[] = [];
      // Its own connection, like a monitoring system: not queued behind this test's own requests.
      const monitor = new ApiClient(ex.url);
      const poller = (async () => {
        while (polling) {
          const t = performance.now();
          assert.equal((await monitor.get('/healthz', null)).status, 200);
          healthz.push(performance.now() - t);
          await new Promise((res) => setTimeout(res, 20));
        }
      })();
      loop.enable();
      const started = performance.now();
      const r = await postCsv(ex.api, 'addresses', body);
      assert.equal(r.status, 202, r.text);
      const allocations = Promise.all(
        Array.from({ length: 16 }, async () => {
          for (;;) {
            const a = await ex.api.post(`/api/v1/subnets/${pool.id}/available-ips`, { count: 4096 });
            if (a.status !== 429) return a;
            await new Promise((res) => setTimeout(res, 250));
          }
        }),
      );
      const job = await finished(ex.api, r.body.id, 60_000);
      const seconds = (performance.now() - started) / 1000;
      const allocated = await allocations;
      loop.disable();
      polling = false;
      await poller;
      monitor.close();
      assert.equal(job.state, 'done', JSON.stringify({ ...job, errors: job.errors.slice(0, 3) }));
      assert.equal(job.stored, 100_000);
      assert.ok(seconds < 60, `100,000 rows took ${seconds.toFixed(1)} s`);
      assert.equal(await countIn(ex.api, target.id), 100_000);
      assert.ok(
        allocated.every((a) => a.status === 201),
        allocated.map((a) => a.status).join(','),
      );
      const got = allocated.flatMap((a) => a.body.map((x: { address: string }) => x.address));
      assert.equal(new Set(got).size, 16 * 4096, 'no address twice');
      assert.equal(await countIn(ex.api, pool.id), 16 * 4096);
      // Generous bounds (this process also runs the test's client and parses its answers, and other
      // test files share the two cores); the targets are the benchmark's (BENCHMARKS.md). Before
      // the sliced writes the loop was held for 8–22 s.
      const worst = Math.max(...healthz);
      const loopMax = loop.max / 1e6;
      assert.ok(
        worst < 1500,
        `/healthz took up to ${worst.toFixed(0)} ms (event loop delay max ${loopMax.toFixed(0)} ms)`,
      );
      assert.ok(loopMax < 1500, `the event loop was held up to ${loopMax.toFixed(0)} ms`);
    }));
});
