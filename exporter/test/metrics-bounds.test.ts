// Bounded cardinality and the sweep queue cap: per-subnet series for at most
// LANSCAPE_METRICS_MAX_SUBNETS subnets (the ones alerts need, then the fullest), per-host series
// for at most LANSCAPE_METRICS_MAX_HOSTS tracked hosts (critical and MAC conflicts first, then
// what people reserved), totals over everything, lanscape_metrics_objects_dropped saying how
// many were left out, a scrape promtool accepts; manual scans beyond LANSCAPE_SCAN_MAX_QUEUED
// get 429 with Retry-After and queue nothing, and scheduled scans keep their own lane.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Store } from '../src/store/store.js';
import { loadConfig } from '../src/config/load.js';
import { ScanScheduler } from '../src/discovery/scheduler.js';
import { DiscoveryService } from '../src/discovery/service.js';
import type { HostRow } from '../src/discovery/store.js';
import { ipKey, parseIp } from '../src/ipam/core/ip.js';
import { IpamService } from '../src/ipam/service.js';
import { Slicer } from '../src/metrics/snapshot.js';
import { SubnetCatalog } from '../src/metrics/subnets.js';
import { type Db, openDb } from '../src/store/db.js';
import { type TestExporter, startTestExporter, tempDir } from './helpers/exporter.js';
import { requireTool } from './helpers/tools.js';
import { fakeEcho } from './helpers/echo.js';
import { TEST_BACKEND, openTestStore } from './helpers/store.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition text (label values here never hold quotes or commas). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const of = (all: Sample[], name: string, labels: Record<string, string> = {}) =>
  all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
const values = (all: Sample[], name: string, label: string) => new Set(of(all, name).map((s) => s.labels[label]));
const value = (all: Sample[], name: string, labels: Record<string, string> = {}) => {
  const found = of(all, name, labels);
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} series`);
  return found[0]!.value;
};

async function scrape(ex: TestExporter): Promise<string> {
  const r = await fetch(`${ex.url}/metrics`);
  assert.equal(r.status, 200);
  return r.text();
}

function promtoolClean(t: Parameters<typeof requireTool>[0], text: string): void {
  const promtool = requireTool(t, 'promtool', 'apt-get install prometheus');
  if (!promtool) return;
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'promtool reports nothing');
  assert.equal(r.status, 0);
}

const PER_SUBNET = [
  'lanscape_subnet_info',
  'lanscape_subnet_size_addresses',
  'lanscape_subnet_free_addresses',
  'lanscape_subnet_utilization_ratio',
  'lanscape_subnet_addresses',
  'lanscape_subnet_hosts_up',
];

describe('per-subnet series beyond LANSCAPE_METRICS_MAX_SUBNETS', () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter({ LANSCAPE_METRICS_MAX_SUBNETS: '5' });
  });
  after(async () => {
    await ex.stop();
  });

  it('keeps exactly the cap, nearly full first then the fullest, and counts everything in the totals', async (t) => {
    // Twelve /24s holding 0..11 addresses, a /29 with a range marked used (full: alerts need it),
    // and an empty /30.
    const ids: number[] = [];
    let allocated = 0;
    for (let i = 0; i < 12; i++) {
      const s = (await ex.api.post('/api/v1/subnets', { cidr: `10.50.${i}.0/24`, name: `net-${i}` })).body;
      ids.push(s.id);
      if (i > 0) {
        assert.equal((await ex.api.post(`/api/v1/subnets/${s.id}/available-ips`, { count: i })).status, 201);
        allocated += i;
      }
    }
    const full = (await ex.api.post('/api/v1/subnets', { cidr: '10.51.0.0/29', name: 'p2p-pool' })).body;
    assert.equal(
      (
        await ex.api.post('/api/v1/ranges', {
          subnet_id: full.id,
          start_address: '10.51.0.1',
          end_address: '10.51.0.6',
          label: 'all of it',
          purpose: 'reserved',
          mark_utilized: true,
        })
      ).status,
      201,
    );
    await ex.api.post('/api/v1/subnets', { cidr: '10.52.0.0/30', name: 'empty' });

    const text = await scrape(ex);
    const all = samples(text);
    const expected = new Set(['10.51.0.0/29', '10.50.11.0/24', '10.50.10.0/24', '10.50.9.0/24', '10.50.8.0/24']);
    for (const family of PER_SUBNET) {
      assert.deepEqual(values(all, family, 'subnet'), expected, `${family} has series for the chosen subnets only`);
    }
    assert.equal(of(all, 'lanscape_subnet_info').length, 5);
    assert.equal(of(all, 'lanscape_subnet_addresses').length, 5 * 5, 'one series per state');
    assert.deepEqual(values(all, 'lanscape_range_info', 'subnet'), new Set(['10.51.0.0/29']));
    assert.equal(value(all, 'lanscape_subnets'), 14);
    assert.equal(value(all, 'lanscape_metrics_objects_dropped', { kind: 'subnet' }), 9);
    assert.equal(value(all, 'lanscape_metrics_objects_dropped', { kind: 'host' }), 0);
    const totals = of(all, 'lanscape_addresses').reduce((n, s) => n + s.value, 0);
    assert.equal(totals, allocated, 'lanscape_addresses counts the addresses of every subnet');

    // The values are the API's (IpamService.utilizations), not a second opinion.
    for (const [cidr, id] of [
      ['10.50.11.0/24', ids[11]!],
      ['10.50.8.0/24', ids[8]!],
      ['10.51.0.0/29', full.id],
    ] as const) {
      const u = (await ex.api.get(`/api/v1/subnets/${id}`)).body.utilization;
      assert.equal(value(all, 'lanscape_subnet_size_addresses', { subnet: cidr }), u.size, cidr);
      assert.equal(value(all, 'lanscape_subnet_free_addresses', { subnet: cidr }), u.free, cidr);
      assert.equal(value(all, 'lanscape_subnet_utilization_ratio', { subnet: cidr }), u.ratio, cidr);
    }
    assert.equal(value(all, 'lanscape_subnet_addresses', { subnet: '10.50.11.0/24', state: 'reserved' }), 11);
    promtoolClean(t, text);

    // Deleting the fullest lets the next one in: the choice follows the store at every scrape.
    await ex.api.delete(`/api/v1/subnets/${ids[11]}?force=true`);
    const next = samples(await scrape(ex));
    assert.deepEqual(
      values(next, 'lanscape_subnet_info', 'subnet'),
      new Set(['10.51.0.0/29', '10.50.10.0/24', '10.50.9.0/24', '10.50.8.0/24', '10.50.7.0/24']),
    );
    assert.equal(value(next, 'lanscape_metrics_objects_dropped', { kind: 'subnet' }), 8);
    assert.equal(value(next, 'lanscape_subnets'), 13);
  });
});

describe("utilization in the metrics is the API's", () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter();
  });
  after(async () => {
    await ex.stop();
  });

  it("for nested subnets, addresses on a child's edges and ranges marked used", async () => {
    const parent = (await ex.api.post('/api/v1/subnets', { cidr: '10.70.0.0/24' })).body;
    for (const address of ['10.70.0.64', '10.70.0.127', '10.70.0.5', '10.70.0.100']) {
      assert.equal((await ex.api.post('/api/v1/addresses', { address, state: 'assigned' })).status, 201, address);
    }
    // The parent held .64 and .127 before the child existed: they are the child's network and
    // broadcast addresses now.
    const child = (await ex.api.post('/api/v1/subnets', { cidr: '10.70.0.64/26' })).body;
    assert.equal(
      (
        await ex.api.post('/api/v1/ranges', {
          subnet_id: child.id,
          start_address: '10.70.0.90',
          end_address: '10.70.0.109',
          label: 'used',
          mark_utilized: true,
        })
      ).status,
      201,
    );
    const v6 = (await ex.api.post('/api/v1/subnets', { cidr: '2001:db8::/64' })).body;
    await ex.api.post('/api/v1/addresses', { address: '2001:db8::1' });
    await ex.api.post('/api/v1/addresses', { address: '2001:db8::5', state: 'dhcp' });
    const all = samples(await scrape(ex));
    for (const [cidr, id] of [
      ['10.70.0.0/24', parent.id],
      ['10.70.0.64/26', child.id],
      ['2001:db8::/64', v6.id],
    ] as const) {
      const u = (await ex.api.get(`/api/v1/subnets/${id}`)).body.utilization;
      assert.equal(value(all, 'lanscape_subnet_free_addresses', { subnet: cidr }), u.free, `${cidr} free`);
      assert.equal(value(all, 'lanscape_subnet_utilization_ratio', { subnet: cidr }), u.ratio, `${cidr} ratio`);
      for (const s of of(all, 'lanscape_subnet_addresses', { subnet: cidr })) {
        assert.equal(s.value, u.by_state[s.labels.state!] ?? 0, `${cidr} ${s.labels.state}`);
      }
    }
    assert.equal(value(all, 'lanscape_subnet_info', { subnet: '10.70.0.64/26', parent: '10.70.0.0/24' }), 1);
    assert.equal(
      value(all, 'lanscape_subnet_addresses', { subnet: '10.70.0.64/26', state: 'assigned' }),
      1,
      'its edges are not usable addresses',
    );
    assert.equal(value(all, 'lanscape_subnet_addresses', { subnet: '10.70.0.0/24', state: 'assigned' }), 4);
  });
});

describe('subnet changes between scrapes (the catalog is patched, not derived again)', () => {
  it(`keeps every lookup as a catalog derived from scratch, through creates, updates and deletes (${TEST_BACKEND})`, async (t) => {
    const ipam = new IpamService(await openTestStore(t));
    try {
      const store = IpamService.storeOf(ipam);
      const catalog = new SubnetCatalog(store);
      const actor = { name: 'test' };
      const create = async (cidr: string) => (await ipam.createSubnet({ cidr, scan_enabled: false }, actor)).id;
      const ids: number[] = [];
      for (const cidr of [
        '10.0.0.0/8',
        '10.1.0.0/16',
        '10.1.2.0/24',
        '192.168.0.0/24',
        '2001:db8::/32',
        '2001:db8:1::/48',
      ])
        ids.push(await create(cidr));
      await catalog.refresh(new Slicer());
      const probes = [
        '10.1.2.3',
        '10.1.3.4',
        '10.9.9.9',
        '192.168.0.7',
        '172.16.0.1',
        '2001:db8:1::5',
        '2001:db8:2::1',
      ];
      const check = async (step: string) => {
        const fresh = await new SubnetCatalog(store).refresh(new Slicer());
        const version = catalog.version;
        await catalog.refresh(new Slicer());
        assert.equal(catalog.version, version + 1, `${step}: a change makes a new version`);
        assert.deepEqual(
          catalog.rows.map((r) => r.id),
          fresh.rows.map((r) => r.id),
          step,
        );
        assert.deepEqual([...catalog.byId.keys()].sort(), [...fresh.byId.keys()].sort(), `${step}: ids`);
        assert.deepEqual([...catalog.cidrs].sort(), [...fresh.cidrs].sort(), `${step}: CIDRs`);
        for (const p of probes) {
          assert.equal(catalog.mostSpecific(1, parseIp(p)), fresh.mostSpecific(1, parseIp(p)), `${step}: ${p}`);
        }
        for (const r of fresh.rows)
          assert.equal(catalog.parentOf(r), fresh.parentOf(r), `${step}: parent of ${r.cidr}`);
      };
      const before = catalog.version;
      await catalog.refresh(new Slicer());
      assert.equal(catalog.version, before, 'nothing changed: the same version');
      ids.push(await create('10.1.0.0/20')); // between the /16 and the /24: the /24's parent changes
      ids.push(await create('172.16.0.0/12'));
      await check('created');
      await ipam.updateSubnet(ids[3]!, { name: 'renamed' }, actor);
      await check('updated');
      assert.equal(catalog.byId.get(ids[3]!)!.name, 'renamed');
      await ipam.deleteSubnet(ids[6]!, true, actor); // the /20 again: the /24 goes back to the /16
      await ipam.deleteSubnet(ids[5]!, true, actor);
      await check('deleted');
      assert.equal(catalog.mostSpecific(1, parseIp('2001:db8:1::5')), ids[4]);
      // Lengths that vanish stop being probed; new ones are.
      ids.push(await create('10.1.2.128/25'));
      await check('a new prefix length');
      assert.equal(catalog.mostSpecific(1, parseIp('10.1.2.200')), ids.at(-1));
    } finally {
      ipam.close();
    }
  });

  it('labels each subnet with its parent as it is now', async () => {
    const ex = await startTestExporter();
    try {
      const create = async (cidr: string) => (await ex.api.post('/api/v1/subnets', { cidr })).body.id as number;
      await create('10.80.0.0/16');
      await create('10.80.1.0/24');
      let all = samples(await scrape(ex));
      assert.equal(value(all, 'lanscape_subnet_info', { subnet: '10.80.1.0/24' }), 1);
      assert.equal(of(all, 'lanscape_subnet_info', { subnet: '10.80.1.0/24' })[0]!.labels.parent, '10.80.0.0/16');
      const middle = await create('10.80.0.0/20');
      all = samples(await scrape(ex));
      assert.equal(of(all, 'lanscape_subnet_info', { subnet: '10.80.1.0/24' })[0]!.labels.parent, '10.80.0.0/20');
      assert.equal(value(all, 'lanscape_subnets'), 3);
      assert.equal((await ex.api.delete(`/api/v1/subnets/${middle}`)).status, 204);
      all = samples(await scrape(ex));
      assert.equal(of(all, 'lanscape_subnet_info', { subnet: '10.80.1.0/24' })[0]!.labels.parent, '10.80.0.0/16');
      assert.equal(of(all, 'lanscape_subnet_info', { subnet: '10.80.0.0/20' }).length, 0);
      assert.equal(value(all, 'lanscape_subnets'), 2);
    } finally {
      await ex.stop();
    }
  });
});

describe('per-host series beyond LANSCAPE_METRICS_MAX_HOSTS', () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter({ LANSCAPE_METRICS_MAX_HOSTS: '4', LANSCAPE_METRICS_MAX_SUBNETS: '1' });
  });
  after(async () => {
    await ex.stop();
  });

  const now = () => Date.now();
  async function observe(address: string, status: HostRow['status'], extra: Partial<HostRow> = {}): Promise<void> {
    const seen = status === 'unknown' ? null : now() - 60_000;
    await ex.discovery.store.upsertHost({
      vrf_id: 1,
      ip_key: ipKey(parseIp(address)),
      address,
      status,
      misses: status === 'down' ? 3 : 0,
      rtt_seconds: null,
      first_seen_at: seen,
      last_seen_at: status === 'up' ? now() : seen,
      status_changed_at: null,
      last_checked_at: now(),
      mac: null,
      vendor: null,
      ptr: null,
      ports: '[]',
      ports_checked_at: null,
      nmap_checked_at: null,
      ...extra,
    });
  }

  it('keeps the tracked hosts alerts need, counts all of them, and bounds RTT histograms', async (t) => {
    await ex.api.post('/api/v1/subnets', { cidr: '10.60.0.0/24', name: 'hosts' });
    await ex.api.post('/api/v1/subnets', { cidr: '10.61.0.0/24', name: 'other' });
    const add = async (body: Record<string, unknown>) =>
      assert.equal((await ex.api.post('/api/v1/addresses', body)).status, 201);
    await add({ address: '10.60.0.30', state: 'reserved', tags: ['critical'], hostname: 'core' }); // tier 0: critical
    await add({ address: '10.60.0.31', state: 'assigned', mac: '02:00:00:00:00:01' }); // tier 0: MAC conflict
    await add({ address: '10.60.0.10', state: 'assigned', hostname: 'web' }); // tier 1
    await add({ address: '10.60.0.11', state: 'reserved' }); // tier 1
    await add({ address: '10.60.0.12', state: 'reserved' }); // tier 1, beyond the cap
    await add({ address: '10.60.0.5', state: 'dhcp', source: 'discovered' }); // tier 2: unknown device
    await observe('10.60.0.30', 'down');
    await observe('10.60.0.31', 'up', {
      mac: '02:00:00:00:00:99',
      ports: '[{"port":22,"protocol":"tcp","service":"ssh","product":null,"version":null}]',
    });
    await observe('10.60.0.10', 'up');
    await observe('10.60.0.11', 'unknown');
    await observe('10.60.0.12', 'down');
    await observe('10.60.0.5', 'up');
    await observe('10.60.0.200', 'up'); // tier 3: alive, not in IPAM
    await observe('10.60.0.201', 'down'); // not tracked: not in IPAM and not answering

    const first = samples(await scrape(ex));
    const chosen = new Set(['10.60.0.30', '10.60.0.31', '10.60.0.10', '10.60.0.11']);
    assert.deepEqual(values(first, 'lanscape_host_info', 'address'), chosen);
    assert.deepEqual(
      values(first, 'lanscape_host_up', 'address'),
      new Set(['10.60.0.30', '10.60.0.31', '10.60.0.10']),
      'unknown has no host_up',
    );
    assert.equal(value(first, 'lanscape_host_info', { address: '10.60.0.30' }), 1);
    assert.equal(
      of(first, 'lanscape_host_info', {
        address: '10.60.0.30',
        critical: 'true',
        hostname: 'core',
        subnet: '10.60.0.0/24',
      }).length,
      1,
    );
    assert.equal(value(first, 'lanscape_host_open_port_info', { address: '10.60.0.31', port: '22' }), 1);
    assert.deepEqual(
      of(first, 'lanscape_address_conflict_info').map((s) => `${s.labels.address} ${s.labels.kind}`),
      ['10.60.0.31 mac_mismatch'],
      'conflict series for chosen hosts only',
    );
    // Totals count all seven tracked hosts and every conflict.
    assert.equal(value(first, 'lanscape_hosts', { status: 'up' }), 4);
    assert.equal(value(first, 'lanscape_hosts', { status: 'down' }), 2);
    assert.equal(value(first, 'lanscape_hosts', { status: 'unknown' }), 1);
    assert.equal(value(first, 'lanscape_address_conflicts', { kind: 'mac_mismatch' }), 1);
    assert.equal(value(first, 'lanscape_address_conflicts', { kind: 'unknown_device' }), 1);
    assert.equal(value(first, 'lanscape_unknown_hosts'), 1);
    assert.equal(value(first, 'lanscape_metrics_objects_dropped', { kind: 'host' }), 3);
    // One subnet allowed: the one with hosts and conflicts counts them, per kind.
    assert.equal(value(first, 'lanscape_metrics_objects_dropped', { kind: 'subnet' }), 1);
    assert.equal(value(first, 'lanscape_conflicts', { subnet: '10.60.0.0/24', kind: 'unknown_device' }), 1);
    assert.equal(value(first, 'lanscape_conflicts', { subnet: '10.60.0.0/24', kind: 'mac_mismatch' }), 1);
    assert.equal(value(first, 'lanscape_subnet_hosts_up', { subnet: '10.60.0.0/24' }), 4);

    // A sweep answered by a chosen and an unchosen host: only the chosen one gets a histogram;
    // its subnet's sweep counters appear with it.
    for (const listener of ex.discovery.onSweep) {
      listener({
        subnet: '10.60.0.0/24',
        vrf: 1,
        seconds: 1,
        sent: 300,
        ok: true,
        rtts: new Map([
          ['10.60.0.31', 0.0004],
          ['10.60.0.5', 0.002],
        ]),
      });
      listener({ subnet: '10.61.0.0/24', vrf: 1, seconds: 1, sent: 254, ok: true, rtts: new Map() });
    }
    const text = await scrape(ex);
    const second = samples(text);
    assert.deepEqual(values(second, 'lanscape_host_rtt_seconds_count', 'address'), new Set(['10.60.0.31']));
    assert.equal(
      value(second, 'lanscape_host_rtt_seconds_count', { address: '10.60.0.31', subnet: '10.60.0.0/24' }),
      1,
    );
    assert.equal(value(second, 'lanscape_host_rtt_seconds_bucket', { address: '10.60.0.31', le: '0.0004' }), 1);
    assert.equal(value(second, 'lanscape_host_rtt_seconds_bucket', { address: '10.60.0.31', le: '0.0002' }), 0);
    assert.equal(value(second, 'lanscape_host_rtt_seconds_bucket', { address: '10.60.0.31', le: '+Inf' }), 1);
    assert.equal(of(second, 'lanscape_host_rtt_seconds_bucket', { address: '10.60.0.31' }).length, 21);
    assert.equal(value(second, 'lanscape_scan_runs_total', { subnet: '10.60.0.0/24', result: 'success' }), 1);
    assert.equal(value(second, 'lanscape_scan_packets_sent_total', { subnet: '10.60.0.0/24' }), 300);
    assert.equal(
      of(second, 'lanscape_scan_runs_total', { subnet: '10.61.0.0/24' }).length,
      0,
      'no counters for a subnet beyond the cap',
    );
    promtoolClean(t, text);
  });
});

describe('the sweep queue', () => {
  let db: Db;
  let cleanup: () => void;
  before(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    db = openDb(join(t.dir, 'q.db'));
  });
  after(() => {
    db.close();
    cleanup();
  });

  it('caps waiting manual scans (429, nothing queued), keeps a lane for scheduled ones and alternates', async () => {
    const config = loadConfig({
      LANSCAPE_SCAN_MAX_QUEUED: '2',
      LANSCAPE_SCAN_RETRIES: '0',
      LANSCAPE_SCAN_PPS: '100000',
    });
    const ipam = new IpamService(Store.sqlite(db));
    // Echo requests wait for the gate (the socket is busy): the first sweep runs until the test opens it.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const discovery = new DiscoveryService(
      Store.sqlite(db),
      ipam,
      config,
      {
        icmp: () => ({ up: true }),
        openEchoSocket: () => fakeEcho(() => null, gate).socket,
        readNeighbours: () => new Map(),
        openPorts: async () => new Map(),
        reverseDns: null,
        nmap: null,
      },
      pino({ level: 'silent' }),
    );
    const order: string[] = [];
    discovery.onSweep.push((r) => order.push(r.subnet));
    const subnets: { id: number; cidr: string }[] = [];
    for (let i = 0; i < 8; i++)
      subnets.push(await ipam.createSubnet({ cidr: `198.18.${i}.0/30`, scan_enabled: true }, { name: 'test' }));

    const [m1, m2, m3, m4, s1, s2, s3, s4] = subnets.map((s) => s.id) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];

    assert.match((await discovery.startScan(m1, 'manual')).state, /^(queued|running)$/);
    const queued = await discovery.startScan(m2, 'manual');
    await discovery.startScan(m3, 'manual');
    assert.deepEqual(discovery.queued(), { manual: 2, schedule: 0 });
    await assert.rejects(
      async () => await discovery.startScan(m4, 'manual'),
      (e: { status?: number; code?: string; details?: { retry_after_seconds: number } }) =>
        e.status === 429 && e.code === 'scan_queue_full' && e.details!.retry_after_seconds >= 1,
    );
    assert.equal(await discovery.store.lastScan(m4), undefined, 'nothing stored for the refused scan');
    assert.equal(discovery.busy(m4), false);
    assert.equal((await discovery.startScan(m2, 'manual')).id, queued.id, 'a queued subnet still returns its scan');

    // Scheduled sweeps have their own lane: the scheduler fills it, most overdue first, and
    // leaves the rest due.
    assert.equal(discovery.scheduleRoom(), 2);
    let clock = Date.now();
    const scheduler = new ScanScheduler(ipam, discovery, config.scan, () => clock);
    await scheduler.tick(); // first sight: every subnet becomes due within 5 s
    clock += 10_000;
    const started = await scheduler.tick();
    assert.equal(started.length, 2);
    assert.ok(started.every((id) => [m4, s1, s2, s3, s4].includes(id)));
    assert.equal(discovery.scheduleRoom(), 0);
    assert.deepEqual(await scheduler.tick(), [], 'no room: the others stay due');

    open();
    await discovery.drain();
    const cidr = (id: number) => subnets.find((s) => s.id === id)!.cidr;
    assert.deepEqual(
      order,
      [cidr(m1), cidr(started[0]!), cidr(m2), cidr(started[1]!), cidr(m3)],
      'manual and scheduled sweeps take turns',
    );
    assert.deepEqual(discovery.queued(), { manual: 0, schedule: 0 });
    assert.match((await discovery.startScan(m4, 'manual')).state, /^(queued|running)$/, 'room again');
    await discovery.drain();
  });
});

describe('the sweep queue over HTTP', () => {
  let ex: TestExporter;
  before(async () => {
    // 1 echo request per second keeps the first (loopback) sweep running for seconds.
    ex = await startTestExporter({
      LANSCAPE_SCAN_MAX_QUEUED: '2',
      LANSCAPE_SCAN_PPS: '1',
      LANSCAPE_SCAN_RETRIES: '0',
      LANSCAPE_SCAN_TIMEOUT_MS: '200',
      LANSCAPE_SCAN_PORTS: '9',
    });
  });
  after(async () => {
    await ex.stop();
  });

  it('answers 429 with Retry-After and queues nothing once scan.max_queued manual scans wait', async (t) => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI) throw new Error('raw ICMP needs root in CI');
      return t.skip('needs root for raw ICMP');
    }
    const ids: number[] = [];
    for (const cidr of ['127.0.30.0/29', '127.0.31.0/30', '127.0.32.0/30', '127.0.33.0/30'])
      ids.push((await ex.api.post('/api/v1/subnets', { cidr })).body.id);
    const running = await ex.api.post(`/api/v1/subnets/${ids[0]}/scan`, {});
    assert.equal(running.status, 202);
    const waiting = [
      await ex.api.post(`/api/v1/subnets/${ids[1]}/scan`, {}),
      await ex.api.post(`/api/v1/subnets/${ids[2]}/scan`, {}),
    ];
    assert.deepEqual(
      waiting.map((r) => [r.status, r.body.state]),
      [
        [202, 'queued'],
        [202, 'queued'],
      ],
    );
    const refused = await ex.api.post(`/api/v1/subnets/${ids[3]}/scan`, {});
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'scan_queue_full');
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After ${refused.headers.get('retry-after')}`);
    assert.equal(refused.body.error.details.retry_after_seconds, retry);
    assert.equal((await ex.api.get(`/api/v1/subnets/${ids[3]}`)).body.discovery.last_scan, null, 'no scan recorded');
    assert.equal(
      (await ex.api.post(`/api/v1/subnets/${ids[1]}/scan`, {})).body.id,
      waiting[0]!.body.id,
      'a waiting subnet gets its scan back',
    );
    // Once the queue drains there is room again.
    for (let i = 0; i < 400 && (await ex.api.get(`/api/v1/scans/${waiting[1]!.body.id}`)).body.state !== 'done'; i++)
      await sleep(100);
    assert.equal((await ex.api.post(`/api/v1/subnets/${ids[3]}/scan`, {})).status, 202);
  });
});
