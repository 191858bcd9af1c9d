// Discovery on the async Store (#14), on the backend named by LANSCAPE_TEST_BACKEND (sqlite by
// default; `LANSCAPE_TEST_BACKEND=postgres` runs the same tests on a throw-away PostgreSQL):
// every DiscoveryStore statement (hosts, history upserts, events, roll-up, scans, the joins with
// IPAM's addresses), and two services on one database as two replicas — a manual scan queued on
// one is the other's, two replicas queueing one subnet at once make one scan, a scan whose
// replica died is failed by the periodic work, a replica that comes back to such a scan records
// nothing over that, and the scheduler pauses and resumes.
//
// The replicas share one IpamService on the same database (the subnets they sweep).
import assert from 'node:assert/strict';
import { type TestContext, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { ScanScheduler } from '../src/discovery/scheduler.js';
import { type DiscoveryDeps, DiscoveryService } from '../src/discovery/service.js';
import { DiscoveryStore, type HostRow } from '../src/discovery/store.js';
import { ipKey, parseIp } from '../src/ipam/core/ip.js';
import { IpamService } from '../src/ipam/service.js';
import type { Store } from '../src/store/store.js';
import { fakeEcho } from './helpers/echo.js';
import { TEST_BACKEND, databaseUrlOf, openTestStore as openStore } from './helpers/store.js';

const HOUR = 3_600_000;

/**
 * openTestStore, with the pool's idle connections allowed to die: the helper drops the test's
 * database (WITH FORCE) before it closes the store, which ends them with an error event.
 */
async function openTestStore(t: TestContext, options: { url?: string } = {}): Promise<Store> {
  const store = await openStore(t, options);
  store.pool?.on('error', () => {});
  return store;
}
const actor = { name: 'test' };
const key = (a: string) => ipKey(parseIp(a));

function host(address: string, fields: Partial<HostRow> = {}): HostRow {
  return {
    vrf_id: 1,
    ip_key: key(address),
    address,
    status: 'up',
    misses: 0,
    rtt_seconds: 0.001,
    first_seen_at: 1_000,
    last_seen_at: 2_000,
    status_changed_at: 1_000,
    last_checked_at: 2_000,
    mac: null,
    vendor: null,
    ptr: null,
    ports: '[]',
    ports_checked_at: null,
    nmap_checked_at: null,
    ...fields,
  };
}

/** An IPAM address row as the joins read it (IPAM's own store writes them in the exporter). */
async function address(
  store: Store,
  a: string,
  fields: { state?: string; source?: string; mac?: string | null; tags?: string[]; created_at?: string } = {},
) {
  const ip = parseIp(a);
  await store.exec.run(
    `INSERT INTO addresses (ip_key, ip_low, address, family, state, hostname, mac, tags, source, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)`,
    [
      ipKey(ip),
      ip.family === 4 ? Number(ip.value) : 0,
      a,
      ip.family,
      fields.state ?? 'assigned',
      fields.mac ?? null,
      JSON.stringify(fields.tags ?? []),
      fields.source ?? 'manual',
      fields.created_at ?? '2026-01-01T00:00:00.000Z',
      fields.created_at ?? '2026-01-01T00:00:00.000Z',
    ],
  );
}

describe(`DiscoveryStore statements (${TEST_BACKEND})`, () => {
  it('hosts, history upserts, events and their filters', async (t) => {
    const store = await openTestStore(t);
    const d = new DiscoveryStore(store);
    await store.write(async () => {
      await d.upsertHost(host('10.9.0.2'));
      await d.upsertHost(host('10.9.0.1', { status: 'down' }));
      await d.upsertHost(host('10.9.1.1'));
      await d.upsertHost({ ...host('10.9.0.2'), ptr: 'two.example' });
      assert.equal((await d.lockedHost(1, key('10.9.0.2')))?.ptr, 'two.example', 'read back inside the write');
    });
    assert.deepEqual(
      (await d.hostsBetween(1, key('10.9.0.0'), key('10.9.0.255'))).map((h) => `${h.address} ${h.status} ${h.ptr}`),
      ['10.9.0.1 down null', '10.9.0.2 up two.example'],
    );
    assert.equal(await d.hostsUpBetween(1, key('10.9.0.0'), key('10.9.1.255')), 2);
    assert.deepEqual(
      await d.hostsInRanges([
        [1, key('10.9.2.0'), key('10.9.2.255')],
        [1, key('10.9.0.0'), key('10.9.0.255')],
        [1, key('10.9.0.2'), key('10.9.0.2')],
        [1, key('10.9.0.1'), key('10.9.0.1')],
      ]),
      [
        { up: 0, observed: 0 },
        { up: 1, observed: 1 },
        { up: 1, observed: 1 },
        { up: 0, observed: 1 },
      ],
    );
    assert.deepEqual(await d.hostsInRanges([]), []);

    // One sample per host and time: written twice (a slice run again), it is one row.
    const sample = { vrf_id: 1, ip_key: key('10.9.0.2'), at: 5_000 };
    await d.insertHistory([{ ...sample, up: false, rtt_seconds: null }]);
    await d.insertHistory([{ ...sample, up: true, rtt_seconds: 0.002 }]);
    assert.deepEqual(await d.history(1, key('10.9.0.2'), 0), [{ at: 5_000, up: 1, rtt_seconds: 0.002 }]);

    const ids = [];
    for (const [i, [a, kind]] of [
      ['10.9.0.1', 'down'],
      ['10.9.0.2', 'up'],
      ['10.9.1.1', 'new_device'],
    ].entries()) {
      ids.push(
        await d.insertEvent({
          vrf_id: 1,
          at: 10_000 + i,
          kind: kind!,
          ip_key: key(a!),
          address: a!,
          subnet_id: 1,
          message: `${a} ${kind}`,
          details: null,
        }),
      );
    }
    assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!);
    const all = await d.listEvents({}, 2, 0);
    assert.equal(all.count, 3);
    assert.deepEqual(
      all.rows.map((e) => e.kind),
      ['new_device', 'up'],
      'newest first, limited',
    );
    assert.deepEqual(
      (await d.listEvents({}, 10, 2)).rows.map((e) => e.kind),
      ['down'],
    );
    assert.equal((await d.listEvents({ kind: 'up' }, 10, 0)).count, 1);
    assert.equal((await d.listEvents({ ipKey: key('10.9.0.1') }, 10, 0)).rows[0]!.kind, 'down');
    assert.equal((await d.listEvents({ between: [key('10.9.0.0'), key('10.9.0.255')] }, 10, 0)).count, 2);
    assert.equal((await d.listEvents({ since: 10_002 }, 10, 0)).count, 1);
  });

  it('rolls history up into hours once, even when two replicas roll up at once, and prunes', async (t) => {
    const store = await openTestStore(t);
    const other = TEST_BACKEND === 'postgres' ? await openTestStore(t, { url: databaseUrlOf(store)! }) : store;
    const [a, b] = [new DiscoveryStore(store), new DiscoveryStore(other)];
    const k = key('10.9.3.3');
    // 2 samples an hour for 6 hours, up in the odd ones.
    for (let h = 0; h < 6; h++) {
      for (const m of [0, 30])
        await a.insertHistory([
          { vrf_id: 1, ip_key: k, at: h * HOUR + m * 60_000, up: h % 2 === 1, rtt_seconds: h % 2 === 1 ? 0.01 : null },
        ]);
    }
    await a.insertEvent({
      vrf_id: 1,
      at: 1,
      kind: 'up',
      ip_key: k,
      address: '10.9.3.3',
      subnet_id: null,
      message: 'old',
      details: null,
    });
    assert.deepEqual(await a.uptime(1, k, 0), { samples: 12, up: 6 });
    await Promise.all([a.rollup(4 * HOUR, 0, 2), b.rollup(4 * HOUR, 0, 2)]);
    assert.deepEqual(
      (await a.hourly(1, k, 0)).map((h) => [h.hour, h.samples, h.up_samples, h.rtt_avg_seconds]),
      [
        [0, 2, 0, null],
        [1, 2, 2, 0.01],
        [2, 2, 0, null],
        [3, 2, 2, 0.01],
      ],
      'each raw sample counted once',
    );
    assert.equal((await a.history(1, k, 0)).length, 4, 'hours 4 and 5 stay raw');
    assert.deepEqual(await a.uptime(1, k, 0), { samples: 12, up: 6 }, 'uptime spans raw and hourly');
    assert.equal((await a.listEvents({}, 10, 0)).count, 0, 'events past retention are pruned');
    await a.rollup(6 * HOUR, 2 * HOUR, 0);
    assert.deepEqual(
      (await a.hourly(1, k, 0)).map((h) => h.hour),
      [2, 3, 4, 5],
    );
  });

  it('answers the conflict, http_sd and /metrics joins with the addresses', async (t) => {
    const store = await openTestStore(t);
    const d = new DiscoveryStore(store);
    const cutoff = Date.parse('2026-06-01T00:00:00Z');
    await address(store, '10.9.4.1', { mac: '02:00:00:00:00:01', tags: ['critical', 'prod'] }); // mismatch, tier 0
    await address(store, '10.9.4.2', { state: 'dhcp', source: 'discovered' }); // unknown device
    await address(store, '10.9.4.3', { state: 'reserved' }); // stale reservation
    await address(store, '10.9.4.4', { state: 'assigned' }); // tier 1, fine
    await d.upsertHost(host('10.9.4.1', { mac: '02:00:00:00:00:99', ports: '[{"port":9100,"protocol":"tcp"}]' }));
    await d.upsertHost(host('10.9.4.2', { ports: '[{"port":9100,"protocol":"tcp"}]' }));
    await d.upsertHost(host('10.9.4.3', { status: 'down', last_seen_at: 1_000 }));
    await d.upsertHost(host('10.9.4.4'));
    await d.upsertHost(host('10.9.4.9')); // answering, not in IPAM: tier 3

    assert.deepEqual(
      (await d.macMismatches()).map((r) => `${r.address} ${r.recorded} ${r.observed}`),
      ['10.9.4.1 02:00:00:00:00:01 02:00:00:00:00:99'],
    );
    assert.deepEqual(
      (await d.unknownDevices()).map((r) => r.address),
      ['10.9.4.2'],
    );
    assert.deepEqual(
      (await d.staleReservations(cutoff)).map((r) => `${r.address} ${r.state}`),
      ['10.9.4.3 reserved'],
    );
    assert.deepEqual(await d.staleReservations(0), [], 'not silent for long enough');

    const sd = await d.sdHosts(undefined, 2);
    assert.deepEqual(
      sd.map((r) => [r.address, r.tags]),
      [
        ['10.9.4.1', '["critical","prod"]'],
        ['10.9.4.2', '[]'],
      ],
    );
    assert.deepEqual(
      (await d.sdHosts({ vrf: sd[1]!.vrf_id, key: sd[1]!.host_key }, 10)).map((r) => [r.address, r.tags]),
      [
        ['10.9.4.4', '[]'],
        ['10.9.4.9', null],
      ],
    );

    const last = await d.hostPageEnd(1, Buffer.alloc(0), 1000);
    assert.deepEqual(last, key('10.9.4.9'));
    assert.equal(await d.hostPageEnd(1, last!, 1000), null);
    assert.deepEqual(
      Object.fromEntries((await d.hostPageStatus(1, Buffer.alloc(0), last!)).map((s) => [s.status, s.n])),
      {
        up: 4,
        down: 1,
      },
    );
    const notable = await d.hostPageNotable(1, Buffer.alloc(0), last!, cutoff);
    assert.deepEqual(notable, [
      [Number(parseIp('10.9.4.1').value), null, 1, 1, 0, 0],
      [Number(parseIp('10.9.4.2').value), null, 0, 0, 1, 0],
      [Number(parseIp('10.9.4.3').value), null, 0, 0, 0, 1],
    ]);
    const rows = await d.hostPageRows(1, Buffer.alloc(0), last!, cutoff, [true, true, true, true]);
    assert.deepEqual(
      rows.map(
        (r) => `${r.address} ${r.tier} ${r.critical} ${r.mac_mismatch}${r.unknown_device}${r.stale_reservation}`,
      ),
      ['10.9.4.1 0 1 100', '10.9.4.2 2 0 010', '10.9.4.3 1 0 001', '10.9.4.4 1 0 000', '10.9.4.9 3 0 000'],
    );
    assert.deepEqual(
      (await d.hostPageRows(1, Buffer.alloc(0), last!, cutoff, [false, false, false, true])).map((r) => r.address),
      ['10.9.4.9'],
    );
    const some = await d.metricHosts(
      ['10.9.4.3', '10.9.4.1', '10.9.9.9'].map((a) => ({ vrf: 1, key: key(a) })),
      cutoff,
    );
    assert.deepEqual(some.map((r) => r.address).sort(), ['10.9.4.1', '10.9.4.3']);
    assert.equal((await d.metricHost(1, key('10.9.4.2'), cutoff))?.unknown_device, 1);
    assert.equal(await d.metricHost(1, key('10.9.9.9'), cutoff), undefined);
  });

  it('moves a scan between states only from the state it is in', async (t) => {
    const store = await openTestStore(t);
    const d = new DiscoveryStore(store);
    const scan = await d.insertScan(7, '10.9.5.0/24', 'manual', 1_000);
    assert.equal(scan.state, 'queued');
    assert.equal((await d.unfinishedScanOf(7))?.id, scan.id);
    assert.equal(await d.saveScan({ ...scan, state: 'running', started_at: 2_000 }, ['queued']), true);
    assert.equal(await d.saveScan({ ...scan, state: 'running', started_at: 3_000 }, ['queued']), false, 'once');
    await d.saveProgress(scan.id, 0.5, 40);
    await d.saveProgress(scan.id, 0.25, 20); // late: never backwards
    assert.deepEqual([(await d.scan(scan.id))?.progress, (await d.scan(scan.id))?.sent], [0.5, 40]);
    assert.equal(await d.saveScan({ ...scan, state: 'failed', finished_at: 4_000, error: 'x' }, ['running']), true);
    assert.equal(
      await d.saveScan({ ...scan, state: 'done', started_at: 2_000, finished_at: 5_000 }, ['running']),
      false,
      'a failed scan is not finished afterwards',
    );
    assert.equal((await d.scan(scan.id))?.state, 'failed');
    const ended = (await d.scan(scan.id))?.progress;
    await d.saveProgress(scan.id, 0.9, 50);
    assert.equal((await d.scan(scan.id))?.progress, ended, 'no progress once it ended');
    assert.equal(await d.unfinishedScanOf(7), undefined);
    const done = await d.insertScan(7, '10.9.5.0/24', 'schedule', 6_000);
    await d.saveScan({ ...done, state: 'done', started_at: 6_000, finished_at: 9_000 });
    assert.deepEqual(await d.lastSuccessfulScansOf([7, 8]), [{ subnet_id: 7, started_at: 6_000, finished_at: 9_000 }]);
    assert.equal((await d.lastDoneScan(7))?.id, done.id);
    assert.equal((await d.lastManualScan(7))?.id, scan.id);
    const queued = await d.insertScan(8, '10.9.6.0/24', 'manual', 10_000);
    assert.deepEqual(
      (await d.unfinishedScans(10_001, 0)).map((s) => s.id),
      [queued.id],
    );
    assert.deepEqual(await d.unfinishedScans(10_000, 0), [], 'queued at the bound: not older than it');
  });
});

/** Replicas: services on one database (PostgreSQL: a pool each; SQLite: one store, two services). */
async function replicas(t: TestContext, n: number) {
  const first = await openTestStore(t);
  const stores = [first];
  for (let i = 1; i < n; i++)
    stores.push(TEST_BACKEND === 'postgres' ? await openTestStore(t, { url: databaseUrlOf(first)! }) : first);
  const clock = { now: Date.UTC(2026, 11, 4, 6) };
  const ipam = new IpamService(first, () => clock.now);
  const config = loadConfig({ LANSCAPE_SCAN_RETRIES: '0', LANSCAPE_SCAN_TIMEOUT_MS: '50' });
  // Each replica's sweeps wait at the neighbour table until the test opens its gate.
  const gates = stores.map(() => {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    return { promise, open };
  });
  const services = stores.map((store, i) => {
    const deps: DiscoveryDeps = {
      icmp: () => ({ up: true }),
      openEchoSocket: () => fakeEcho(() => null).socket,
      readNeighbours: async () => {
        await gates[i]!.promise;
        return new Map();
      },
      openPorts: async () => new Map(),
      reverseDns: null,
      nmap: null,
      now: () => clock.now,
    };
    const service = new DiscoveryService(store, ipam, config, deps, pino({ level: 'silent' }));
    t.after(async () => {
      gates[i]!.open();
      await service.stop();
    });
    return service;
  });
  return { services, gates, ipam, config, clock, stores };
}

describe(`discovery replicas on one database (${TEST_BACKEND})`, () => {
  it('shares manual scans: queued on one replica, the same scan on the other, one scan for two at once', async (t) => {
    const { services, gates, ipam } = await replicas(t, 2);
    const [a, b] = services as [DiscoveryService, DiscoveryService];
    const s1 = await ipam.createSubnet({ cidr: '192.0.2.0/29' }, actor);
    const s2 = await ipam.createSubnet({ cidr: '192.0.2.8/29' }, actor);
    const scan = await a.startScan(s1.id, 'manual');
    assert.equal((await b.startScan(s1.id, 'manual')).id, scan.id, 'the other replica returns the scan under way');
    assert.equal((await b.getScan(scan.id)).subnet_id, s1.id, 'and reads it');
    const both = await Promise.all([a.startScan(s2.id, 'manual'), b.startScan(s2.id, 'manual')]);
    assert.equal(both[0].id, both[1].id, 'two replicas queueing one subnet at once make one scan');
    for (const g of gates) g.open();
    await Promise.all(services.map((s) => s.drain()));
    assert.equal((await b.getScan(scan.id)).state, 'done', 'its end is in the row every replica reads');
    await assert.rejects(
      () => b.startScan(s1.id, 'manual'),
      (e: { status?: number; code?: string }) => e.status === 429 && e.code === 'rate_limited',
      'the rate limit counts the other replica’s scans',
    );
  });

  it('fails the scans of a replica that died, in the periodic work, and the replica cannot end them again', async (t) => {
    const { services, gates, ipam, config, clock, stores } = await replicas(t, 2);
    const [a, b] = services as [DiscoveryService, DiscoveryService];
    const s1 = await ipam.createSubnet({ cidr: '198.51.100.0/29' }, actor);
    const running = await a.startScan(s1.id, 'manual');
    // Let the sweep reach the gate: running in the row.
    for (let i = 0; i < 100 && (await b.getScan(running.id)).state !== 'running'; i++) await sleep(10);
    assert.equal((await b.getScan(running.id)).state, 'running');
    const scheduler = new ScanScheduler(ipam, b, config.scan, () => clock.now);
    await scheduler.tick();
    assert.equal((await b.getScan(running.id)).state, 'running', 'a live replica’s scan is left alone');

    if (TEST_BACKEND === 'postgres') {
      // PostgreSQL: the replica's session locks go with its session, as when its process dies:
      // abandoned at once, whatever the time.
      await stores[0]!.sessionLocks!.close();
      (scheduler as unknown as { checkedAbandonedAt: number }).checkedAbandonedAt = -Infinity;
    } else {
      clock.now += b.abandonBounds().running + 1_000;
    }
    await scheduler.tick(); // the periodic work of the replica that leads
    const failed = await b.getScan(running.id);
    assert.equal(failed.state, 'failed');
    assert.match(failed.error!, /^abandoned: running since/);
    assert.equal(await b.failAbandonedScans(), 0, 'once');

    // The replica was only slow: its sweep ends, but the failed row stays as the record.
    gates[0]!.open();
    await a.drain();
    const row = await b.getScan(running.id);
    assert.equal(row.state, 'failed');
    assert.match(row.error!, /^abandoned/);
    gates[1]!.open();
  });

  it(
    'sweeps the subnet of a replica that died again at once: its scan failed, a new one queued, one holder at a time',
    { skip: TEST_BACKEND === 'postgres' ? false : 'PostgreSQL only (SQLite: one process owns the file)' },
    async (t) => {
      const { services, gates, ipam, stores } = await replicas(t, 3);
      const [a, b, c] = services as [DiscoveryService, DiscoveryService, DiscoveryService];
      const s1 = await ipam.createSubnet({ cidr: '198.51.100.64/29' }, actor);
      const first = await a.startScan(s1.id, 'schedule');
      for (let i = 0; i < 100 && (await b.getScan(first.id)).state !== 'running'; i++) await sleep(10);
      assert.equal((await b.getScan(first.id)).state, 'running');
      assert.equal((await b.startScan(s1.id, 'schedule')).id, first.id, 'a live replica’s scan is returned');

      await stores[0]!.sessionLocks!.close(); // as when its process dies
      const [fromB, fromC] = await Promise.all([b.startScan(s1.id, 'schedule'), c.startScan(s1.id, 'schedule')]);
      assert.equal(fromB.id, fromC.id, 'two replicas taking over make one scan');
      assert.notEqual(fromB.id, first.id);
      const old = await c.getScan(first.id);
      assert.equal(old.state, 'failed');
      assert.match(old.error!, /^abandoned: running since/);
      for (const g of gates) g.open();
      await Promise.all([b.drain(), c.drain()]);
      assert.equal((await a.getScan(fromB.id)).state, 'done');
      await a.drain();
      assert.equal((await b.getScan(first.id)).state, 'failed', 'the dead replica’s late end changes nothing');
    },
  );

  it('fails the scans a stopping replica still had waiting, so the others may sweep those subnets', async (t) => {
    const { services, gates, ipam } = await replicas(t, 2);
    const [a, b] = services as [DiscoveryService, DiscoveryService];
    const s1 = await ipam.createSubnet({ cidr: '203.0.113.0/29' }, actor);
    const s2 = await ipam.createSubnet({ cidr: '203.0.113.8/29' }, actor);
    const running = await a.startScan(s1.id, 'manual');
    const waiting = await a.startScan(s2.id, 'manual');
    assert.equal((await b.getScan(waiting.id)).state, 'queued');
    const stopping = a.stop();
    gates[0]!.open(); // the running sweep ends; the waiting one never starts
    await stopping;
    assert.equal((await b.getScan(running.id)).state, 'done');
    const dropped = await b.getScan(waiting.id);
    assert.equal(dropped.state, 'failed');
    assert.equal(dropped.error, 'the exporter stopped before this scan started');
    const again = await b.startScan(s2.id, 'schedule');
    assert.notEqual(again.id, waiting.id, 'the subnet is free for the other replica');
    gates[1]!.open();
    await b.drain();
    assert.equal((await b.getScan(again.id)).state, 'done');
  });

  it('pauses and resumes the scheduler any number of times', async (t) => {
    const { services, ipam, config, clock } = await replicas(t, 1);
    let ticks = 0;
    const counting = Object.create(ipam) as IpamService;
    counting.allSubnets = () => {
      ticks += 1;
      return ipam.allSubnets();
    };
    const scheduler = new ScanScheduler(counting, services[0]!, config.scan, () => clock.now);
    const waitForTicks = async (more: number) => {
      const from = ticks;
      for (let i = 0; i < 300 && ticks < from + more; i++) await sleep(10);
      return ticks - from;
    };
    scheduler.pause(); // before start: nothing runs once started either
    scheduler.start(5);
    assert.equal(await waitForTicks(1), 0, 'paused before start');
    scheduler.resume();
    scheduler.resume();
    assert.ok((await waitForTicks(2)) >= 2, 'resumed');
    for (let i = 0; i < 3; i++) {
      scheduler.pause();
      scheduler.pause();
      await sleep(20); // a tick under way ends
      const at = ticks;
      await sleep(50);
      assert.equal(ticks, at, `paused (${i})`);
      scheduler.resume();
      assert.ok((await waitForTicks(1)) >= 1, `resumed (${i})`);
    }
    scheduler.stop();
    scheduler.resume();
    await sleep(20);
    const at = ticks;
    await sleep(50);
    assert.equal(ticks, at, 'stop is final');
  });
});
