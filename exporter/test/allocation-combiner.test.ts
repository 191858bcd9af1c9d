// Combined allocations (#14): next-free requests waiting on one scope share one transaction
// (ipam/combiner.ts, IpamService.allocateBatch). Each must be answered as if it had run alone
// after the ones before it. Runs on the backend under test: `LANSCAPE_TEST_BACKEND=postgres
// node --import tsx --test test/allocation-combiner.test.ts` for PostgreSQL ("replicas" are
// services on stores of their own over one database; on SQLite they share the one store).
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Actor } from '../src/audit/log.js';
import { LanscapeError } from '../src/errors.js';
import { shareOut } from '../src/ipam/core/allocation.js';
import { IpamService } from '../src/ipam/service.js';
import type { Store } from '../src/store/store.js';
import { TEST_BACKEND, databaseUrlOf, openTestStore } from './helpers/store.js';

const NOW = Date.parse('2026-12-04T06:00:00Z');
const admin = { name: 'admin' };

async function replicas(t: TestContext, n: number): Promise<IpamService[]> {
  const first = await openTestStore(t);
  const stores: Store[] = [first];
  for (let i = 1; i < n; i++)
    stores.push(TEST_BACKEND === 'postgres' ? await openTestStore(t, { url: databaseUrlOf(first)! }) : first);
  const services = stores.map((s) => new IpamService(s, () => NOW));
  t.after(() => services.forEach((s) => s.close()));
  return services;
}

const actorOf = (i: number): Actor => ({ name: `token-${i % 3}`, grafanaUser: `user-${i}`, requestId: `req-${i}` });

/** Audit entries of addresses: request id → the addresses created under it. */
async function auditedByRequest(ipam: IpamService): Promise<Map<string, string[]>> {
  const { results } = await ipam.audit.list({ object_type: 'address' }, 10_000, 0);
  const out = new Map<string, string[]>();
  for (const e of results) {
    assert.equal(e.action, 'create');
    if (e.actor === admin.name) continue; // set-up
    const i = Number(e.request_id!.slice('req-'.length));
    assert.deepEqual([e.actor, e.grafana_user], [actorOf(i).name, actorOf(i).grafanaUser], 'the request’s own actor');
    out.set(e.request_id!, [...(out.get(e.request_id!) ?? []), e.object_repr].sort());
  }
  return out;
}

describe('shareOut (pure)', () => {
  it('gives each request the next addresses in arrival order; one that does not fit is told what was left', () => {
    const free = [2n, 3n, 4n, 5n, 6n, 7n];
    assert.deepEqual(shareOut(free, [2, 5, 3, 1]), [
      { values: [2n, 3n] },
      { available: 4 },
      { values: [4n, 5n, 6n] },
      { values: [7n] },
    ]);
    assert.deepEqual(shareOut([], [1]), [{ available: 0 }]);
  });
});

describe(`combined allocations on the ${TEST_BACKEND} store`, () => {
  it('answers each request of one batch as if alone: its own addresses, fields and audit actor, or its own 409', async (t) => {
    const [ipam] = await replicas(t, 1);
    // 10.30.0.1–.14 usable, .1 the gateway, .9 taken: 12 free.
    const subnet = await ipam!.createSubnet({ cidr: '10.30.0.0/28', gateway: '10.30.0.1' }, admin);
    await ipam!.createAddress({ address: '10.30.0.9' }, admin);
    const counts = [3, 5, 6, 2, 1, 4];
    // Issued in one turn: the first one's transaction has not begun, so they all wait for it.
    const outcomes = await Promise.allSettled(
      counts.map((count, i) =>
        ipam!.allocate({ subnetId: subnet.id }, { count, hostname: `host-${i}`, state: 'dhcp' }, actorOf(i)),
      ),
    );
    assert.equal(ipam!.largestAllocationBatch, counts.length, 'all went in one transaction');
    const got = outcomes.map((o) => (o.status === 'fulfilled' ? o.value.map((v) => v.address) : o.reason));
    // Serially: 3 (9 left), 5 (4 left), 6 does not fit (4 free), 2 (2 left), 1 (1 left), 4 does not fit (1 free).
    assert.deepEqual(got.slice(0, 2), [
      ['10.30.0.2', '10.30.0.3', '10.30.0.4'],
      ['10.30.0.5', '10.30.0.6', '10.30.0.7', '10.30.0.8', '10.30.0.10'],
    ]);
    assert.deepEqual(got[3], ['10.30.0.11', '10.30.0.12']);
    assert.deepEqual(got[4], ['10.30.0.13']);
    for (const [i, available] of [
      [2, 4],
      [5, 1],
    ] as const) {
      const e = got[i] as LanscapeError;
      assert.ok(e instanceof LanscapeError && e.status === 409, String(e));
      assert.deepEqual(e.details, { requested: counts[i], available });
      assert.match(e.message, new RegExp(`only ${available} free address\\(es\\); ${counts[i]} requested`));
    }
    for (const [i, o] of outcomes.entries()) {
      if (o.status !== 'fulfilled') continue;
      for (const v of o.value) assert.deepEqual([v.hostname, v.state, v.subnet_id], [`host-${i}`, 'dhcp', subnet.id]);
    }
    const audited = await auditedByRequest(ipam!);
    assert.deepEqual(
      [...audited.keys()].sort(),
      ['req-0', 'req-1', 'req-3', 'req-4'],
      'no audit entry for a refused request',
    );
    for (const i of [0, 1, 3, 4]) assert.deepEqual(audited.get(`req-${i}`), (got[i] as string[]).slice().sort());
    assert.equal((await ipam!.listAddresses({ subnet_id: subnet.id }, 100, 0)).count, 12);
  });

  it('fails every request of a batch whose transaction fails (the subnet is gone), and the next batch runs', async (t) => {
    const [ipam] = await replicas(t, 1);
    const gone = await ipam!.createSubnet({ cidr: '10.31.0.0/24' }, admin);
    await ipam!.deleteSubnet(gone.id, false, admin);
    const outcomes = await Promise.allSettled(
      [1, 2, 3].map((count, i) => ipam!.allocate({ subnetId: gone.id }, { count }, actorOf(i))),
    );
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.equal((o.reason as LanscapeError).status, 404);
    }
    const live = await ipam!.createSubnet({ cidr: '10.31.1.0/24' }, admin);
    assert.deepEqual(
      (await ipam!.allocate({ subnetId: live.id }, { count: 1 }, admin)).map((v) => v.address),
      ['10.31.1.1'],
    );
  });

  it('keeps a range and its subnet apart, and a caller’s own transaction out of the batches', async (t) => {
    const [ipam] = await replicas(t, 1);
    const subnet = await ipam!.createSubnet({ cidr: '10.32.0.0/28' }, admin);
    const range = await ipam!.createRange(
      {
        subnet_id: subnet.id,
        start_address: '10.32.0.1',
        end_address: '10.32.0.4',
        label: 'pool',
        auto_allocate: false,
      },
      admin,
    );
    const [inRange, inSubnet, own] = await Promise.all([
      ipam!.allocate({ rangeId: range.id }, { count: 4 }, actorOf(0)),
      ipam!.allocate({ subnetId: subnet.id }, { count: 2 }, actorOf(1)),
      // Inside the caller's transaction: allocated there (it would wait for itself in a batch).
      ipam!.write(async () => {
        await ipam!.createAddress({ address: '10.32.0.14' }, actorOf(2));
        return ipam!.allocate({ subnetId: subnet.id }, { count: 1 }, actorOf(2));
      }),
    ]);
    assert.deepEqual(
      inRange.map((v) => v.address),
      ['10.32.0.1', '10.32.0.2', '10.32.0.3', '10.32.0.4'],
    );
    const outside = [...inSubnet, ...own].map((v) => v.address).sort();
    assert.deepEqual(outside, ['10.32.0.5', '10.32.0.6', '10.32.0.7']);
  });

  it('hands out each address once under concurrency: 3 replicas, mixed counts, no duplicates, all or none', async (t) => {
    const services = await replicas(t, 3);
    const subnet = await services[0]!.createSubnet({ cidr: '10.33.0.0/24' }, admin);
    const counts = Array.from({ length: 150 }, (_, i) => 1 + (i % 4)); // 375 asked for, 254 usable
    const outcomes = await Promise.allSettled(
      counts.map((count, i) =>
        services[i % 3]!.allocate({ subnetId: subnet.id }, { count, hostname: `h${i}` }, actorOf(i)),
      ),
    );
    const given: string[] = [];
    const okRequests: string[] = [];
    for (const [i, o] of outcomes.entries()) {
      if (o.status === 'fulfilled') {
        assert.equal(o.value.length, counts[i], 'all of a request’s count');
        for (const v of o.value) assert.equal(v.hostname, `h${i}`);
        given.push(...o.value.map((v) => v.address));
        okRequests.push(`req-${i}`);
      } else {
        const e = o.reason as LanscapeError;
        assert.ok(e instanceof LanscapeError && e.status === 409, String(e));
        const { requested, available } = e.details as { requested: number; available: number };
        assert.ok(requested === counts[i] && available < requested, JSON.stringify(e.details));
      }
    }
    assert.equal(new Set(given).size, given.length, 'no address twice');
    assert.ok(
      given.length > 254 - 4,
      `the /24 filled up but for less than the smallest refused count (${given.length})`,
    );
    assert.ok(
      services.some((s) => s.largestAllocationBatch > 1),
      'some requests shared a transaction',
    );
    const stored = await services[1]!.listAddresses({ subnet_id: subnet.id }, 1000, 0);
    assert.deepEqual(stored.results.map((a) => a.address).sort(), given.slice().sort(), 'stored = answered');
    const audited = await auditedByRequest(services[2]!);
    assert.deepEqual([...audited.keys()].sort(), okRequests.sort(), 'audited under the requests that got addresses');
    for (const [i, o] of outcomes.entries()) {
      if (o.status === 'fulfilled')
        assert.deepEqual(audited.get(`req-${i}`), o.value.map((v) => v.address).sort(), `req-${i}`);
    }
  });
});
