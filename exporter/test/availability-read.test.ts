// The read side under load: streamed CSV exports, bounded lists with keyset paging, the
// cached subnet layout, and per-class concurrency limits. The heavy part runs an exporter as
// its own process on a store seeded with 200,000 addresses and checks that /healthz keeps
// answering quickly while exports and big listings run.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { once } from 'node:events';
import { Agent, type IncomingMessage, type ClientRequest, type Server, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'csv-stringify/sync';
import express from 'express';
import pino from 'pino';
import { Store } from '../src/store/store.js';
import { DiscoveryStore } from '../src/discovery/store.js';
import { LanscapeError } from '../src/errors.js';
import { errorHandler } from '../src/http/app.js';
import { ApiRoutes } from '../src/http/routes.js';
import { formatIp, ipKey } from '../src/ipam/core/ip.js';
import { layoutRows } from '../src/ipam/core/layout.js';
import { usableBounds } from '../src/ipam/core/prefix.js';
import { safeCell } from '../src/ipam/csv.js';
import { LAYOUT_CHUNK } from '../src/ipam/layout-cache.js';
import { IpamService, prefixOf } from '../src/ipam/service.js';
import type { NewAddressRow } from '../src/ipam/store.js';
import { type Db, openDb } from '../src/store/db.js';
import {
  TOKENS,
  type ChildExporter,
  type TestExporter,
  spawnExporter,
  startTestExporter,
  tempDir,
  testEnv,
} from './helpers/exporter.js';
import { exclusively } from './helpers/heavy.js';
import { prng } from './helpers/prng.js';

const actor = { name: 'test' };
const BIG = Number(process.env.LANSCAPE_TEST_BIG_ADDRESSES ?? 200_000);
const LAN = 3000;
const EVENTS = 2500;
const NOW = '2026-11-22T08:00:00.000Z';
const NET10 = 0x0a000000n;
const NET192 = 0xc0a80000n;
const v4 = (value: bigint) => ({ family: 4 as const, value });

/** Cells a spreadsheet would run, or that need quoting: the export must escape them all. */
const TEXTS = [
  '',
  '=1+2',
  "'quoted",
  ' spaced ',
  'comma, "quote"',
  'line\nbreak',
  '＝fullwidth',
  '@SUM(A1)',
  '-3',
  '+x',
  '\tTab',
  'plain',
];
const STATES = ['reserved', 'assigned', 'dhcp', 'deprecated'];

function addressRow(value: bigint, i: number, source = 'manual'): NewAddressRow {
  const ip = v4(value);
  return {
    vrf_id: 1,
    ip_key: ipKey(ip),
    address: formatIp(ip),
    family: 4,
    state: STATES[i % STATES.length]!,
    hostname: i % 5 === 0 ? `host-${i}.lan` : null,
    mac: i % 9 === 0 ? '02:00:00:00:00:01' : null,
    description: TEXTS[i % TEXTS.length]!,
    owner: i % 11 === 0 ? '=owner' : null,
    tags: JSON.stringify(i % 3 === 0 ? ['web', '-rack'] : []),
    source,
    created_at: NOW,
    updated_at: NOW,
  };
}

/** The export as it was before streaming: every row of the list at once, one stringify (with the VRF's name since #15). */
const OLD_COLUMNS = {
  subnets: [
    'cidr',
    'name',
    'description',
    'vlan',
    'gateway',
    'tags',
    'scan_enabled',
    'scan_interval_seconds',
    'vrf',
    'id',
    'created_at',
    'updated_at',
  ],
  addresses: [
    'address',
    'state',
    'hostname',
    'mac',
    'description',
    'owner',
    'tags',
    'source',
    'vrf',
    'id',
    'created_at',
    'updated_at',
  ],
};
async function bufferedExport(ipam: IpamService, kind: 'subnets' | 'addresses', subnetId?: number): Promise<string> {
  const columns = OLD_COLUMNS[kind];
  const rows = (kind === 'subnets'
    ? await ipam.listSubnets({}, 1e9, 0)
    : await ipam.listAddresses({ subnet_id: subnetId }, 1e9, 0)
  ).results as unknown as Record<string, unknown>[];
  const vrfNames = new Map((await ipam.allVrfs()).map((v) => [v.id, v.name]));
  return stringify(
    rows.map((r) => columns.map((c) => safeCell(c === 'vrf' ? vrfNames.get(r.vrf_id as number) : r[c]))),
    { header: true, columns, quoted_match: /^\s|\s$/ },
  );
}

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

interface Seeded {
  bigId: number;
  lanId: number;
  subnetsCsv: string;
  lanCsv: string;
  bigSha: string;
  bigBytes: number;
  sd: string;
}

async function seed(file: string): Promise<Seeded> {
  const db = openDb(file);
  try {
    const ipam = new IpamService(Store.sqlite(db));
    const big = await ipam.createSubnet(
      { cidr: '10.0.0.0/8', name: '=big', description: ' lead', tags: ['core'] },
      actor,
    );
    const lan = await ipam.createSubnet(
      { cidr: '192.168.0.0/16', name: 'lan, "home"', vlan: 10, gateway: '192.168.0.1' },
      actor,
    );
    await ipam.createSubnet(
      { cidr: '10.200.0.0/24', name: '@child', scan_enabled: false, scan_interval_seconds: 60 },
      actor,
    );
    await ipam.createRange(
      { subnet_id: big.id, start_address: '10.1.0.0', end_address: '10.1.255.255', label: 'pool' },
      actor,
    );
    const discovery = new DiscoveryStore(Store.sqlite(db));
    await Store.sqlite(db).write(async () => {
      // Spread out (every 41st address) but clear of the child /24 and the range.
      for (let i = 0, v = NET10 + 1n; i < BIG; v += 41n) {
        if (v >= 0x0a010000n && v <= 0x0a01ffffn) continue;
        if (v >= 0x0ac80000n && v <= 0x0ac800ffn) continue;
        await IpamService.storeOf(ipam).insertAddress(addressRow(v, i++));
      }
      for (let i = 0; i < LAN; i++) {
        const ip = v4(NET192 + 2n + BigInt(i));
        await IpamService.storeOf(ipam).insertAddress(addressRow(ip.value, i, 'discovered'));
        await discovery.upsertHost({
          vrf_id: 1,
          ip_key: ipKey(ip),
          address: formatIp(ip),
          status: 'up',
          misses: 0,
          rtt_seconds: 0.001,
          first_seen_at: 1,
          last_seen_at: 2,
          status_changed_at: 1,
          last_checked_at: 2,
          mac: null,
          vendor: null,
          ptr: null,
          ports: JSON.stringify([{ port: 9100, protocol: 'tcp', service: null, product: null, version: null }]),
          ports_checked_at: 2,
          nmap_checked_at: null,
        });
      }
      for (let i = 0; i < EVENTS; i++) {
        const ip = v4(NET192 + 2n + BigInt(i % LAN));
        await discovery.insertEvent({
          vrf_id: 1,
          at: 1_000_000 + i,
          kind: 'up',
          ip_key: ipKey(ip),
          address: formatIp(ip),
          subnet_id: lan.id,
          message: `e${i}`,
          details: null,
        });
      }
    });
    const bigCsv = await bufferedExport(ipam, 'addresses');
    return {
      bigId: big.id,
      lanId: lan.id,
      subnetsCsv: await bufferedExport(ipam, 'subnets'),
      lanCsv: await bufferedExport(ipam, 'addresses', lan.id),
      bigSha: sha(bigCsv),
      bigBytes: Buffer.byteLength(bigCsv),
      sd: '',
    };
  } finally {
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  }
}

/** A GET whose body is hashed as it arrives (the test process stays light while it measures). */
function streamGet(
  base: string,
  path: string,
  agent: Agent,
): {
  done: Promise<{ status: number; headers: IncomingMessage['headers']; sha: string; bytes: number; text: string }>;
  req: ClientRequest;
} {
  const u = new URL(path, base);
  let req!: ClientRequest;
  const done = new Promise<{
    status: number;
    headers: IncomingMessage['headers'];
    sha: string;
    bytes: number;
    text: string;
  }>((resolve, reject) => {
    req = request(
      {
        host: u.hostname,
        port: Number(u.port),
        path: u.pathname + u.search,
        agent,
        headers: { authorization: `Bearer ${TOKENS.read}` },
      },
      (res) => {
        const hash = createHash('sha256');
        let bytes = 0;
        let text = '';
        res.on('data', (c: Buffer) => {
          hash.update(c);
          bytes += c.length;
          if (text.length < 200_000) text += c.toString('utf8');
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, sha: hash.digest('hex'), bytes, text }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
  return { done, req };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

describe(`read side under load (exporter process, ${BIG.toLocaleString('en')} addresses)`, { timeout: 300_000 }, () => {
  let dir: { dir: string; cleanup: () => void };
  let seeded: Seeded;
  let ex: ChildExporter;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  before(async () => {
    dir = tempDir();
    const file = join(dir.dir, 'lanscape.db');
    seeded = await seed(file);
    ex = await spawnExporter(testEnv(file));
  });
  after(async () => {
    agent.destroy();
    await ex?.stop();
    dir?.cleanup();
  });

  it('keeps /healthz fast while exports stream and big listings run; the export bytes are the old format', (t) =>
    exclusively(async () => {
      const pid = ex.process.pid!;
      // Warm up (JIT, page cache) so the run measures steady state, then the baseline RSS.
      await streamGet(ex.url, '/api/v1/export/addresses?subnet_id=' + seeded.lanId, agent).done;
      await ex.api.get(`/api/v1/subnets/${seeded.lanId}/addresses?limit=10`);
      const rssBefore = rssMb(pid);
      let rssPeak = rssBefore;

      let running = true;
      let latencies: number[] = [];
      const scrapes: number[] = [];
      const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
      // The same probes with the exporter idle first: on a busy machine (other processes on the
      // two cores) /healthz is slow anyway, and the load may only add a bounded delay on top.
      let baseline: number[] | undefined;
      let loadStarted!: () => void;
      const loadStarts = new Promise<void>((resolve) => {
        loadStarted = resolve;
      });
      const probe = (async () => {
        const idleUntil = performance.now() + 3000;
        while (running) {
          if (!baseline && performance.now() > idleUntil) {
            baseline = latencies;
            latencies = [];
            loadStarted();
          }
          const start = performance.now();
          await new Promise<void>((resolve, reject) => {
            const req = request(`${ex.url}/healthz`, { agent: probeAgent }, (res) => {
              res.resume();
              res.on('end', resolve);
            });
            req.on('error', reject);
            req.end();
          });
          latencies.push(performance.now() - start);
          rssPeak = Math.max(rssPeak, rssMb(pid));
          if (baseline && latencies.length % 20 === 5) {
            // A Prometheus scrape now and then (every ~1.5 s) under the same load.
            const scrapeStart = performance.now();
            const scrape = await fetch(`${ex.url}/metrics`);
            await scrape.text();
            scrapes.push(performance.now() - scrapeStart);
          }
          await sleep(50);
        }
      })();

      await loadStarts;
      const loadBefore = loadavg()[0]!; // reported with the measurements
      const started = performance.now();
      const exportBig = streamGet(ex.url, '/api/v1/export/addresses', agent).done;
      const exportSubnets = streamGet(ex.url, '/api/v1/export/subnets', agent).done;
      let listings = 0;
      // Keyset walk of every address (each exactly once), pages of subnet rows, /sd, conflicts, events.
      const seen: string[] = [];
      const walk = (async () => {
        let afterIp: string | undefined;
        for (;;) {
          const r = await ex.api.get(`/api/v1/addresses?limit=1000${afterIp ? `&after=${afterIp}` : ''}`, TOKENS.read);
          assert.equal(r.status, 200, r.text.slice(0, 200));
          listings++;
          for (const a of r.body.results) seen.push(a.address);
          if (r.body.results.length < 1000) return r.body.count as number;
          afterIp = r.body.results[r.body.results.length - 1].address;
        }
      })();
      const others = (async () => {
        const rnd = prng(3);
        while (running && performance.now() - started < 60_000) {
          const rows = await ex.api.get(
            `/api/v1/subnets/${seeded.bigId}/addresses?limit=5000&offset=${Math.floor(rnd() * BIG)}`,
            TOKENS.read,
          );
          assert.equal(rows.status, 200, rows.text.slice(0, 200));
          const sd = await streamGet(ex.url, '/api/v1/sd?port=9100', agent).done;
          assert.equal(sd.status, 200);
          const deep = await ex.api.get(`/api/v1/addresses?limit=1000&offset=${Math.floor(rnd() * BIG)}`, TOKENS.read);
          assert.equal(deep.status, 200);
          assert.equal((await ex.api.get('/api/v1/conflicts?limit=1000', TOKENS.read)).status, 200);
          assert.equal((await ex.api.get('/api/v1/events?limit=1000&offset=1000', TOKENS.read)).status, 200);
          const search = await ex.api.get('/api/v1/addresses?q=nothing-matches&limit=10', TOKENS.read);
          assert.deepEqual([search.status, search.body.count], [200, 0]);
          listings += 6;
        }
      })();
      const [big, subnets, total] = await Promise.all([exportBig, exportSubnets, walk]);
      const exportSeconds = (performance.now() - started) / 1000;
      running = false;
      await Promise.all([probe, others]);
      probeAgent.destroy();

      assert.equal(big.status, 200);
      assert.match(String(big.headers['content-type']), /^text\/csv/);
      assert.equal(big.headers['transfer-encoding'], 'chunked', 'streamed, not buffered');
      assert.equal(big.bytes, seeded.bigBytes, 'same size as the buffered export');
      assert.equal(big.sha, seeded.bigSha, 'same bytes as the buffered export');
      assert.equal(subnets.text, seeded.subnetsCsv);

      assert.equal(total, BIG + LAN);
      assert.equal(seen.length, BIG + LAN, 'the keyset walk saw every address');
      assert.equal(new Set(seen).size, seen.length, '... exactly once');

      const sorted = [...latencies].sort((a, b) => a - b);
      const idle = [...baseline!].sort((a, b) => a - b);
      const p99 = percentile(sorted, 99);
      const max = sorted[sorted.length - 1]!;
      const idleP99 = percentile(idle, 99);
      t.diagnostic(
        `export of ${BIG + LAN} addresses (${(big.bytes / 1e6).toFixed(1)} MB) ${exportSeconds.toFixed(1)} s with ${listings} listings ` +
          `alongside; /healthz n=${latencies.length} p50 ${percentile(sorted, 50).toFixed(1)} ms p99 ${p99.toFixed(1)} ms max ${max.toFixed(1)} ms ` +
          `(idle: p50 ${percentile(idle, 50).toFixed(1)} ms p99 ${idleP99.toFixed(1)} ms); /metrics max ${Math.max(...scrapes).toFixed(0)} ms ` +
          `(n=${scrapes.length}); RSS ${rssBefore.toFixed(0)} MB before, peak ${rssPeak.toFixed(0)} MB; load average ${loadBefore.toFixed(1)}`,
      );
      assert.ok(latencies.length >= 20, `only ${latencies.length} probes`);
      // The targets (p99 < 100 ms, max < 500 ms, /metrics < 1 s) are the benchmark's
      // (`npm run bench -- --only healthz-under-load`): a timed test on a shared 2-core machine, with
      // other test files running beside it, cannot hold them reliably. What the test guards
      // against is the old failure: one request holding the event loop for seconds.
      const [p99Bound, maxBound, scrapeBound] = [1000, 3000, 3000];
      assert.ok(p99 < p99Bound, `/healthz p99 ${p99.toFixed(1)} ms under load (bound ${p99Bound} ms)`);
      assert.ok(max < maxBound, `/healthz max ${max.toFixed(1)} ms under load (bound ${maxBound} ms)`);
      assert.ok(
        scrapes.length > 0 && Math.max(...scrapes) < scrapeBound,
        `/metrics took up to ${Math.max(...scrapes).toFixed(0)} ms under load (bound ${scrapeBound} ms)`,
      );
      // The issue's bound is on the peak (< 400 MB); growth alone swings with when V8 collects.
      assert.ok(rssPeak < 400, `RSS peaked at ${rssPeak.toFixed(0)} MB during the export (bound 400 MB)`);
    }));

  it('answers 429 with Retry-After beyond the export limit, and frees the slot when the client goes away', async () => {
    // Two exports whose readers do not read: they hold their slots (backpressure keeps them open).
    const held: ClientRequest[] = [];
    for (let i = 0; i < 2; i++) {
      const slow = new Agent({ keepAlive: false });
      await new Promise<void>((resolve, reject) => {
        const req = request(
          `${ex.url}/api/v1/export/addresses`,
          { agent: slow, headers: { authorization: `Bearer ${TOKENS.read}` } },
          (res) => {
            assert.equal(res.statusCode, 200);
            res.pause();
            resolve();
          },
        );
        req.on('error', () => undefined);
        req.end();
        held.push(req);
        setTimeout(() => reject(new Error('no answer')), 10_000).unref();
      });
    }
    const refused = await ex.api.get('/api/v1/export/subnets', TOKENS.read);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'rate_limited');
    assert.equal(refused.body.error.details.class, 'export');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    // Other classes are not affected, and health stays fine.
    assert.equal((await ex.api.get('/api/v1/addresses?limit=1', TOKENS.read)).status, 200);
    assert.equal((await fetch(`${ex.url}/healthz`)).status, 200);

    for (const req of held) req.destroy();
    let after429 = 0;
    for (let i = 0; i < 50; i++) {
      await sleep(50);
      after429 = (await ex.api.get('/api/v1/export/subnets', TOKENS.read)).status;
      if (after429 === 200) break;
    }
    assert.equal(after429, 200, 'the slots came back once the clients went away');
  });

  it('pages /sd as one stream equal to the whole list, and conflicts and events with limit/offset', async () => {
    const sd = await ex.api.get('/api/v1/sd?port=9100', TOKENS.read);
    assert.equal(sd.status, 200);
    assert.equal(sd.body.length, LAN);
    assert.equal(new Set(sd.body.map((g: any) => g.targets[0])).size, LAN);
    assert.deepEqual(sd.body[0].labels, {
      __meta_lanscape_address: '192.168.0.2',
      __meta_lanscape_subnet: '192.168.0.0/16',
      __meta_lanscape_vrf: 'global',
      __meta_lanscape_hostname: 'host-0.lan',
      __meta_lanscape_tags: ',web,-rack,',
    });
    assert.deepEqual((await ex.api.get('/api/v1/sd?port=9101', TOKENS.read)).body, []);

    const conflicts: string[] = [];
    let count = 0;
    for (let offset = 0; ; offset += 700) {
      const page = await ex.api.get(`/api/v1/conflicts?kind=unknown_device&limit=700&offset=${offset}`, TOKENS.read);
      assert.equal(page.status, 200);
      count = page.body.count;
      conflicts.push(...page.body.results.map((c: any) => c.address));
      if (page.body.results.length < 700) break;
    }
    assert.equal(count, LAN);
    assert.equal(new Set(conflicts).size, LAN);
    assert.equal((await ex.api.get('/api/v1/conflicts', TOKENS.read)).body.results.length, 100, 'default page of 100');
    assert.equal((await ex.api.get('/api/v1/conflicts?limit=1001', TOKENS.read)).status, 400);

    const events = await ex.api.get('/api/v1/events?limit=1000&offset=2000', TOKENS.read);
    assert.equal(events.body.count, EVENTS);
    assert.equal(events.body.results.length, EVENTS - 2000);
    assert.equal((await ex.api.get('/api/v1/events?limit=1001', TOKENS.read)).status, 400);
  });

  it('bounds the subnet rows page and answers with the same rows at any depth', async () => {
    assert.equal((await ex.api.get(`/api/v1/subnets/${seeded.bigId}/addresses?limit=5001`, TOKENS.read)).status, 400);
    const page = await ex.api.get(`/api/v1/subnets/${seeded.bigId}/addresses?limit=3&offset=0`, TOKENS.read);
    assert.deepEqual(
      page.body.results.map((r: any) => (r.type === 'gap' ? `${r.start_address}-${r.end_address}` : r.address.address)),
      ['10.0.0.1', '10.0.0.2-10.0.0.41', '10.0.0.42'],
    );
    const start = performance.now();
    const deep = await ex.api.get(
      `/api/v1/subnets/${seeded.bigId}/addresses?limit=1000&offset=${page.body.count - 1000}`,
      TOKENS.read,
    );
    const ms = performance.now() - start;
    assert.equal(deep.body.results.length, 1000);
    assert.equal(deep.body.results[999].type, 'gap', 'the last row is the free space up to the broadcast address');
    assert.equal(deep.body.results[999].end_address, '10.255.255.254');
    assert.ok(ms < 500, `a deep page took ${ms.toFixed(0)} ms`);
  });
});

describe('streamed export and subnet layout cache (in process)', () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter();
  });
  after(async () => {
    await ex.stop();
  });

  it('streams an empty export as the header alone and answers 404 for an unknown subnet as JSON', async () => {
    const empty = await ex.api.get('/api/v1/export/addresses');
    assert.equal(empty.status, 200);
    assert.equal(empty.text, 'address,state,hostname,mac,description,owner,tags,source,vrf,id,created_at,updated_at\n');
    const missing = await ex.api.get('/api/v1/export/addresses?subnet_id=999');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'not_found');
  });

  it('shows a write on the next page of subnet rows (the cached layout is dropped)', async () => {
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '10.9.0.0/24' })).body;
    const rows = async () =>
      (await ex.api.get(`/api/v1/subnets/${s.id}/addresses?limit=100`)).body.results.map((r: any) =>
        r.type === 'gap' ? `${r.start_address}-${r.end_address}${r.range_id ? '@r' : ''}` : r.address.address,
      );
    assert.deepEqual(await rows(), ['10.9.0.1-10.9.0.254']);
    const a = (await ex.api.post('/api/v1/addresses', { address: '10.9.0.10' })).body;
    assert.deepEqual(await rows(), ['10.9.0.1-10.9.0.9', '10.9.0.10', '10.9.0.11-10.9.0.254'], 'an insert');
    assert.equal((await ex.api.post(`/api/v1/subnets/${s.id}/available-ips`, { count: 2 })).status, 201);
    assert.deepEqual(
      await rows(),
      ['10.9.0.1', '10.9.0.2', '10.9.0.3-10.9.0.9', '10.9.0.10', '10.9.0.11-10.9.0.254'],
      'an allocation',
    );
    await ex.api.delete(`/api/v1/addresses/${a.id}`);
    assert.deepEqual(await rows(), ['10.9.0.1', '10.9.0.2', '10.9.0.3-10.9.0.254'], 'a release');
    await ex.api.post('/api/v1/ranges', {
      subnet_id: s.id,
      start_address: '10.9.0.100',
      end_address: '10.9.0.109',
      label: 'pool',
    });
    assert.deepEqual(
      await rows(),
      ['10.9.0.1', '10.9.0.2', '10.9.0.3-10.9.0.99', '10.9.0.100-10.9.0.109@r', '10.9.0.110-10.9.0.254'],
      'a range',
    );
    await ex.api.post('/api/v1/subnets', { cidr: '10.9.0.192/26' });
    assert.deepEqual(
      await rows(),
      [
        '10.9.0.1',
        '10.9.0.2',
        '10.9.0.3-10.9.0.99',
        '10.9.0.100-10.9.0.109@r',
        '10.9.0.110-10.9.0.191',
        '10.9.0.193-10.9.0.254',
      ],
      'a child subnet (its network address is no free address of the parent)',
    );
    const patched = await ex.api.patch(
      `/api/v1/addresses/${(await ex.api.get('/api/v1/addresses?q=10.9.0.1&limit=1')).body.results[0].id}`,
      { hostname: 'fresh' },
    );
    assert.equal(patched.status, 200);
    const first = (await ex.api.get(`/api/v1/subnets/${s.id}/addresses?limit=1`)).body.results[0];
    assert.equal(first.address.hostname, 'fresh', 'address fields are read per page, never cached');
  });

  it('lists addresses by keyset (after=) the same as by offset, and documents after and 429 in OpenAPI', async () => {
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '10.8.0.0/24' })).body;
    await ex.api.post(`/api/v1/subnets/${s.id}/available-ips`, { count: 50 });
    const byOffset = (await ex.api.get(`/api/v1/addresses?subnet_id=${s.id}&limit=1000`)).body;
    const walked: string[] = [];
    let afterIp = '';
    for (;;) {
      const page = (
        await ex.api.get(`/api/v1/addresses?subnet_id=${s.id}&limit=7${afterIp ? `&after=${afterIp}` : ''}`)
      ).body;
      assert.equal(page.count, 50, 'count is all matches, whatever the cursor');
      walked.push(...page.results.map((a: any) => a.address));
      if (page.results.length < 7) break;
      afterIp = walked[walked.length - 1]!;
    }
    assert.deepEqual(
      walked,
      byOffset.results.map((a: any) => a.address),
    );
    assert.equal((await ex.api.get('/api/v1/addresses?after=10.8.0.999')).status, 400);
    const doc = (await ex.api.get('/api/v1/openapi.json')).body;
    assert.ok(doc.paths['/api/v1/addresses'].get.parameters.some((p: any) => p.name === 'after'));
    for (const path of [
      '/api/v1/export/{kind}',
      '/api/v1/addresses',
      '/api/v1/subnets/{id}/addresses',
      '/api/v1/sd',
      '/api/v1/conflicts',
    ]) {
      assert.ok(doc.paths[path].get.responses['429'], `${path} documents 429`);
    }
  });
});

describe('subnet layout cache (IpamService)', () => {
  let db: Db;
  let ipam: IpamService;
  let cleanup: () => void;
  before(() => {
    const d = tempDir();
    cleanup = d.cleanup;
    db = openDb(join(d.dir, 'lanscape.db'));
    ipam = new IpamService(Store.sqlite(db));
  });
  after(() => {
    db.close();
    cleanup();
  });

  it('serves every page exactly as the whole layout sliced, from one cached layout', async () => {
    const s = await ipam.createSubnet({ cidr: '10.50.0.0/20' }, actor);
    await ipam.createRange(
      { subnet_id: s.id, start_address: '10.50.1.0', end_address: '10.50.1.200', label: 'a' },
      actor,
    );
    await ipam.createSubnet({ cidr: '10.50.8.0/24' }, actor);
    const rnd = prng(11);
    await Store.sqlite(db).write(async () => {
      for (let i = 0; i < 600; i++) {
        const v = 0x0a320001n + BigInt(Math.floor(rnd() * 4000));
        if (v >= 0x0a320800n && v <= 0x0a3208ffn) continue;
        if (!(await IpamService.storeOf(ipam).addressAt(1, v4(v))))
          await IpamService.storeOf(ipam).insertAddress(addressRow(v, i));
      }
    });
    const row = await ipam.subnetRow(s.id);
    const prefix = prefixOf(row);
    const expected = layoutRows(
      usableBounds(prefix),
      (await IpamService.storeOf(ipam).valuesBetween(1, v4(prefix.network), v4(0x0a320fffn))).map((value) => ({
        value,
        item: null,
      })),
      (await IpamService.storeOf(ipam).rangesInside(1, row.first_key, row.last_key)).map((r) => ({
        id: r.id,
        first: BigInt(`0x${r.first_key.subarray(1).toString('hex')}`),
        last: BigInt(`0x${r.last_key.subarray(1).toString('hex')}`),
      })),
      [0x0a320800n, 0x0a3208ffn],
    );
    const label = (r: any) =>
      r.type === 'gap' ? `${r.start_address}-${r.end_address}/${r.range_id}` : r.address.address;
    const want = expected.map((r) =>
      r.kind === 'gap' ? `${formatIp(v4(r.first))}-${formatIp(v4(r.last))}/${r.rangeId}` : formatIp(v4(r.value)),
    );
    const builds = ipam.layouts.builds;
    for (const [limit, offset] of [
      [1, 0],
      [10, 0],
      [37, 5],
      [100, 250],
      [1000, 0],
      [5, want.length - 3],
      [10, want.length + 5],
      [333, 333],
    ] as const) {
      const page = await ipam.subnetRows(s.id, limit, offset);
      assert.equal(page.count, want.length);
      assert.deepEqual(page.results.map(label), want.slice(offset, offset + limit), `limit ${limit} offset ${offset}`);
    }
    assert.equal(ipam.layouts.builds - builds, 1, 'one layout for all the pages');
  });

  it('answers from one snapshot while a write lands between the chunks of a large layout', async () => {
    const s = await ipam.createSubnet({ cidr: '10.60.0.0/16' }, actor);
    const n = Math.max(LAYOUT_CHUNK * 2 + 500, 20_500); // several layout chunks, and scan chunks for the next tests
    await Store.sqlite(db).write(async () => {
      for (let i = 0; i < n; i++) await IpamService.storeOf(ipam).insertAddress(addressRow(0x0a3c0001n + BigInt(i), i));
    });
    const before = await ipam.getSubnet(s.id);
    const pending = ipam.subnetRows(s.id, 3, n - 1);
    // Writes are asynchronous (#14): this one commits in a later write batch, after the page's
    // read snapshot began, between the layout's chunks.
    await ipam.createAddress({ address: '10.60.255.1' }, actor);
    const page = await pending;
    assert.equal(page.count, n + 1, 'the page is the store as it was when the request began');
    assert.deepEqual(page.subnet, before, 'the subnet view, counted in chunks, is the one GET gave before the write');
    assert.deepEqual(
      page.results.map((r: any) => (r.type === 'gap' ? `${r.start_address}-${r.end_address}` : r.address.address)),
      [formatIp(v4(0x0a3c0001n + BigInt(n - 1))), `${formatIp(v4(0x0a3c0001n + BigInt(n)))}-10.60.255.254`],
    );
    const next = await ipam.subnetRows(s.id, 3, n - 1);
    assert.equal(next.count, n + 3, 'the next request counts the new address and the gap before it');
    assert.deepEqual(
      next.subnet,
      await ipam.getSubnet(s.id),
      'the subnet view, counted in chunks, is the one GET /subnets/{id} gives',
    );
    assert.deepEqual(
      next.results.map((r: any) => (r.type === 'gap' ? `${r.start_address}-${r.end_address}` : r.address.address)),
      [
        formatIp(v4(0x0a3c0001n + BigInt(n - 1))),
        `${formatIp(v4(0x0a3c0001n + BigInt(n)))}-10.60.255.0`,
        '10.60.255.1',
      ],
    );
    // Deleted meanwhile: the page that began before answers from its snapshot; the next one is 404.
    const gone = await ipam.createSubnet({ cidr: '10.61.0.0/24' }, actor);
    const read = ipam.subnetRows(gone.id, 1, 0);
    await ipam.deleteSubnet(gone.id, true, actor);
    assert.equal((await read).subnet.id, gone.id);
    await assert.rejects(ipam.subnetRows(gone.id, 1, 0), /does not exist/);
  });

  it('drops cached layouts when another connection (another process) writes to the store', async () => {
    const s = await ipam.createSubnet({ cidr: '10.70.0.0/24' }, actor);
    const labels = async () =>
      (await ipam.subnetRows(s.id, 10, 0)).results.map((r: any) =>
        r.type === 'gap' ? `${r.start_address}-${r.end_address}` : r.address.address,
      );
    assert.deepEqual(await labels(), ['10.70.0.1-10.70.0.254']);
    const other = openDb(db.name);
    try {
      await new IpamService(Store.sqlite(other)).createAddress({ address: '10.70.0.5' }, actor);
    } finally {
      other.close();
    }
    assert.deepEqual(await labels(), ['10.70.0.1-10.70.0.4', '10.70.0.5', '10.70.0.6-10.70.0.254']);
  });

  it('lists with unindexed filters a chunk at a time, with the same answer as in one go', async () => {
    // 10.60.0.0/16 holds 20,501 addresses from the test before: several scan chunks.
    const s = (await IpamService.storeOf(ipam).subnetByCidr(1, '10.60.0.0/16'))!;
    const cases: [Record<string, unknown>, number, number][] = [
      [{ tag: 'web' }, 100, 0],
      [{ tag: 'web' }, 1000, 6000],
      [{ q: 'host-1' }, 50, 10],
      [{ q: '=' }, 1000, 3000],
      [{ q: 'nothing' }, 10, 0],
      [{ source: 'manual', subnet_id: s.id }, 1000, 19_000],
      [{ tag: 'web', state: 'dhcp' }, 7, 1234],
      [{ tag: 'web', after: '10.60.20.0' }, 1000, 0],
      [{ q: 'host', after: '10.60.60.0', subnet_id: s.id }, 100, 3],
      [{ tag: 'web', after: '10.60.255.1' }, 10, 0],
      // A deep offset alone takes the chunked way too.
      [{}, 100, 15_000],
      [{ state: 'dhcp' }, 50, 5100],
      [{ subnet_id: s.id, after: '10.60.10.0' }, 1000, 9000],
    ];
    for (const [filter, limit, offset] of cases) {
      const paced = await ipam.listAddressesPaced(filter, limit, offset);
      const whole = await ipam.listAddresses(filter, limit, offset);
      assert.equal(paced.count, whole.count, JSON.stringify(filter));
      assert.deepEqual(
        paced.results.map((a) => a.address),
        whole.results.map((a) => a.address),
        `${JSON.stringify(filter)} ${limit} ${offset}`,
      );
    }
  });
});

describe('streamed answers (RouteSpec.stream) and cost classes', () => {
  let server: Server;
  let base: string;
  let api: ApiRoutes;
  const state = { finallyRan: false, chunks: 0 };

  before(async () => {
    const app = express();
    const router = express.Router();
    api = new ApiRoutes(router, {} as never, {} as never, { export: 1 });
    router.use((_req, res, next) => {
      res.locals.identity = { name: 'test', scope: 'admin' };
      next();
    });
    const route = (path: string, stream: () => AsyncIterable<string>) =>
      api.add({
        method: 'get',
        path,
        scope: 'read',
        tag: 'test',
        summary: path,
        cost: 'export',
        responses: { 200: { description: 'text' }, 404: { description: 'nothing to stream' } },
        handler: () => ({ status: 200, contentType: 'text/plain', stream: stream() }),
      });
    route('/early', async function* () {
      throw new LanscapeError(404, 'not_found', 'nothing to stream');
    });
    route('/late', async function* () {
      yield 'first chunk\n';
      await sleep(10);
      throw new Error('the store went away');
    });
    route('/endless', async function* () {
      try {
        for (;;) {
          state.chunks++;
          yield 'x'.repeat(65_536);
          await sleep(1);
        }
      } finally {
        state.finallyRan = true;
      }
    });
    app.use('/api/v1', router);
    // The exporter's own error handler: nothing but a cut connection once the headers are out.
    app.use(errorHandler(pino({ level: 'silent' })));
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    // A connection a failed test left open (the endless stream) must not keep the process alive.
    server.closeAllConnections();
    server.close();
  });

  it('answers an error before the first chunk as JSON', async () => {
    const res = await fetch(`${base}/api/v1/early`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
    assert.equal(api.running.export, 0);
  });

  it('cuts the connection on an error after the first chunk, so the answer cannot pass for complete', async () => {
    const outcome = await new Promise<{ status: number; body: string; complete: boolean }>((resolve) => {
      request(`${base}/api/v1/late`, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('error', () => undefined);
        res.on('close', () => resolve({ status: res.statusCode!, body, complete: res.complete }));
      }).end();
    });
    assert.deepEqual(outcome, { status: 200, body: 'first chunk\n', complete: false });
    await sleep(20);
    assert.equal(api.running.export, 0, 'the slot is free again');
  });

  it('stops producing once the client goes away (backpressure meanwhile) and frees the slot; a second one meanwhile gets 429', async (t) => {
    let req!: ClientRequest;
    t.after(() => req.destroy()); // also when an assertion below fails
    await new Promise<void>((resolve) => {
      req = request(`${base}/api/v1/endless`, (res) => {
        res.pause();
        resolve();
      });
      req.on('error', () => undefined);
      req.end();
    });
    // The socket buffers fill first (slowly on a loaded machine): wait until production stalls,
    // then it must stay stalled. A producer that ignores backpressure never stalls (< 200 fails).
    let produced = -1;
    for (let i = 0; i < 20 && state.chunks !== produced; i++) {
      produced = state.chunks;
      await sleep(300);
    }
    await sleep(300);
    assert.ok(
      state.chunks - produced <= 1,
      `a paused reader holds the producer (${state.chunks - produced} chunks more)`,
    );
    assert.ok(produced < 200, `only what the socket buffers hold was produced (${produced} chunks of 64 KiB)`);
    const second = await fetch(`${base}/api/v1/endless`);
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('content-type')?.startsWith('application/json'), true);
    assert.equal(api.running.export, 1);
    req.destroy();
    for (let i = 0; i < 50 && (!state.finallyRan || api.running.export > 0); i++) await sleep(10);
    assert.equal(state.finallyRan, true, 'the producer was closed');
    assert.equal(api.running.export, 0);
  });
});
