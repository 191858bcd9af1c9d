// IPAM on the async Store (#14), run against the backend under test: `LANSCAPE_TEST_BACKEND=
// postgres node --import tsx --test test/ipam-store.test.ts` runs it on PostgreSQL (a database
// per test), the default on SQLite. Services are built directly on `openTestStore`; "replicas"
// are services on stores of their own over one database (PostgreSQL), or one store (SQLite: one
// process owns the file).
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { LanscapeError } from '../src/errors.js';
import { CsvImports, recoverImports } from '../src/ipam/csv-import.js';
import { exportCsv } from '../src/ipam/csv.js';
import { registerIpamMetrics } from '../src/ipam/metrics.js';
import { SeriesBudget } from '../src/metrics/bounds.js';
import { ImportJournalStore } from '../src/store/import-journal.js';
import { Registry } from 'prom-client';
import { ipFromKey, ipKey, parseIp } from '../src/ipam/core/ip.js';
import { IpamService } from '../src/ipam/service.js';
import type { Store } from '../src/store/store.js';
import { prng } from './helpers/prng.js';
import { TEST_BACKEND, databaseUrlOf, openTestStore } from './helpers/store.js';

const actor = { name: 'test' };
const NOW = Date.parse('2026-12-04T06:00:00Z');

/** `n` services over one database: own stores (pools) on PostgreSQL, one store on SQLite. */
async function replicas(t: TestContext, n: number): Promise<{ stores: Store[]; services: IpamService[] }> {
  const first = await openTestStore(t);
  const stores = [first];
  for (let i = 1; i < n; i++) {
    stores.push(TEST_BACKEND === 'postgres' ? await openTestStore(t, { url: databaseUrlOf(first)! }) : first);
  }
  const services = stores.map((s) => new IpamService(s, () => NOW));
  t.after(() => services.forEach((s) => s.close()));
  return { stores, services };
}

describe(`IPAM on the ${TEST_BACKEND} store`, () => {
  it('creates, allocates, lists, updates and deletes, each change audited', async (t) => {
    const { services } = await replicas(t, 1);
    const ipam = services[0]!;
    const subnet = await ipam.createSubnet({ cidr: '10.0.0.0/24', gateway: '10.0.0.1', tags: ['lab'] }, actor);
    const range = await ipam.createRange(
      {
        subnet_id: subnet.id,
        start_address: '10.0.0.100',
        end_address: '10.0.0.110',
        label: 'dhcp',
        purpose: 'dhcp',
        auto_allocate: false,
        mark_utilized: true,
      },
      actor,
    );
    assert.equal(range.utilization.size, 11);
    const got = await ipam.allocate({ subnetId: subnet.id }, { count: 3, hostname: 'Host-A' }, actor);
    assert.deepEqual(
      got.map((a) => a.address),
      ['10.0.0.2', '10.0.0.3', '10.0.0.4'],
      'the gateway is skipped',
    );
    await ipam.createAddress({ address: '10.0.0.5', tags: ['web'], description: 'Front' }, actor);
    assert.deepEqual(await ipam.availableIps({ subnetId: subnet.id }, 2), ['10.0.0.6', '10.0.0.7']);
    // A child subnet is skipped by its parent's next free, the closed range too.
    await ipam.createSubnet({ cidr: '10.0.0.8/29' }, actor);
    await ipam.allocate({ subnetId: subnet.id }, { count: 93 }, actor); // .6, .7, .16–.99, .111–.117
    assert.deepEqual(await ipam.availableIps({ subnetId: subnet.id }, 1), ['10.0.0.118']);
    await assert.rejects(
      ipam.createAddress({ address: '10.0.0.5' }, actor),
      (e: LanscapeError) => e.status === 409 && /already reserved/.test(e.message),
    );
    // Deleting splits a run of used addresses; next free finds the hole.
    await ipam.deleteAddress(got[1]!.id, actor);
    assert.deepEqual(await ipam.availableIps({ subnetId: subnet.id }, 2), ['10.0.0.3', '10.0.0.118']);

    const byQ = await ipam.listAddresses({ q: 'host-a' }, 10, 0);
    assert.deepEqual(
      byQ.results.map((a) => a.address),
      ['10.0.0.2', '10.0.0.4'],
      'q matches without regard to case, as on SQLite',
    );
    const byTag = await ipam.listAddresses({ tag: 'web' }, 10, 0);
    assert.deepEqual(
      byTag.results.map((a) => a.address),
      ['10.0.0.5'],
    );
    assert.equal((await ipam.listAddresses({ q: '10.0.0.1%' }, 10, 0)).count, 0, '% is a character, not a wildcard');
    const paced = await ipam.listAddressesPaced({ q: 'FRONT', subnet_id: subnet.id }, 10, 0);
    assert.deepEqual(
      paced.results.map((a) => a.address),
      ['10.0.0.5'],
    );

    const updated = await ipam.updateAddress(got[0]!.id, { state: 'assigned', hostname: 'renamed' }, actor);
    assert.equal(updated.state, 'assigned');
    const again = await ipam.updateAddress(got[0]!.id, { state: 'assigned' }, actor);
    assert.equal(again.updated_at, updated.updated_at, 'a PATCH that changes nothing changes nothing');
    await ipam.updateSubnet(subnet.id, { name: 'lab net', vlan: 12 }, actor);

    const view = await ipam.getSubnet(subnet.id);
    assert.equal(view.name, 'lab net');
    assert.equal(view.children, 1);
    // 96 addresses outside the closed range's 11, which count as used.
    assert.equal(view.utilization.used, 96 + 11);
    assert.deepEqual(view.utilization.by_state, { reserved: 95, assigned: 1 });
    const list = await ipam.listSubnets({}, 10, 0);
    assert.deepEqual(
      list.results.map((s) => [s.cidr, s.parent_id]),
      [
        ['10.0.0.0/24', null],
        ['10.0.0.8/29', subnet.id],
      ],
    );

    const rows = await ipam.subnetRows(subnet.id, 4, 0);
    assert.deepEqual(
      rows.results.map((r) => (r.type === 'gap' ? `${r.start_address}-${r.end_address}` : r.address.address)),
      ['10.0.0.1-10.0.0.1', '10.0.0.2', '10.0.0.3-10.0.0.3', '10.0.0.4'],
    );
    assert.equal(rows.subnet.utilization.used, view.utilization.used);

    const store = IpamService.storeOf(ipam);
    const counts = await store.subnetCountsByState([subnet.id]);
    assert.equal(counts.length, 1);
    assert.deepEqual(counts[0]!.slice(0, 3), [subnet.id, 0, 0]);
    assert.equal(
      counts[0]!.slice(3).reduce((a, b) => a + b, 0),
      96,
    );
    assert.deepEqual(await store.subnetRankCounts([subnet.id]), [[subnet.id, 96, 0, 0]]);

    await ipam.deleteRange(range.id, actor);
    await assert.rejects(ipam.deleteSubnet(subnet.id, false, actor), (e: LanscapeError) => e.status === 409);
    await ipam.deleteSubnet(subnet.id, true, actor);
    assert.equal((await ipam.listAddresses({}, 10, 0)).count, 0);
    const audit = await ipam.audit.list({}, 1000, 0);
    const kinds = new Set(audit.results.map((e) => `${e.object_type}:${e.action}`));
    for (const k of ['subnet:create', 'subnet:update', 'subnet:delete', 'address:create', 'address:update'])
      assert.ok(kinds.has(k), k);
    assert.ok(kinds.has('address:delete') && kinds.has('range:create') && kinds.has('range:delete'));
  });

  it('keeps IPv6 next free and address values exact (64-bit low halves)', async (t) => {
    const { services } = await replicas(t, 1);
    const ipam = services[0]!;
    const subnet = await ipam.createSubnet({ cidr: 'fd00:1::/64' }, actor);
    await ipam.createAddress({ address: 'fd00:1::ffff:ffff:ffff:fff0' }, actor);
    const got = await ipam.allocate({ subnetId: subnet.id }, { count: 2 }, actor);
    assert.deepEqual(
      got.map((a) => a.address),
      ['fd00:1::1', 'fd00:1::2'],
    );
    const values = await IpamService.storeOf(ipam).valuesBetween(
      1,
      parseIp('fd00:1::'),
      parseIp('fd00:1::ffff:ffff:ffff:ffff'),
    );
    assert.deepEqual(
      values.map((v) => v.toString(16)),
      ['fd000001000000000000000000000001', 'fd000001000000000000000000000002', 'fd00000100000000fffffffffffffff0'],
    );
    const page = await ipam.subnetRows(subnet.id, 10, 0);
    assert.equal(page.results.at(-2)?.type, 'address');
  });

  it("sees another replica's subnet and address writes at once (no stale cache)", async (t) => {
    const { services } = await replicas(t, 2);
    const [a, b] = services as [IpamService, IpamService];
    await a.createSubnet({ cidr: '10.9.0.0/16' }, actor);
    assert.deepEqual(
      (await b.allSubnets()).map((s) => s.cidr),
      ['10.9.0.0/16'],
    );
    await b.createAddress({ address: '10.9.1.5' }, actor);
    // A prefix length new to `b`'s lookups, created on `a`.
    const child = await a.createSubnet({ cidr: '10.9.1.0/24' }, actor);
    assert.equal((await b.mostSpecificSubnet(1, parseIp('10.9.1.5')))?.id, child.id);
    assert.equal((await b.getAddress((await b.addressAt(1, parseIp('10.9.1.5')))!.id)).subnet_id, child.id);
    assert.deepEqual(
      (await b.allSubnets()).map((s) => s.cidr),
      ['10.9.0.0/16', '10.9.1.0/24'],
    );
    assert.equal((await b.subnetIndex()).mostSpecific(1, parseIp('10.9.1.7')), child.id);
    // The subnet page of `b` after `a` wrote into it.
    assert.equal((await b.subnetRows(child.id, 10, 0)).subnet.utilization.used, 1);
    await a.allocate({ subnetId: child.id }, { count: 3 }, actor);
    assert.equal((await b.subnetRows(child.id, 10, 0)).subnet.utilization.used, 4);
    await a.updateSubnet(child.id, { name: 'renamed on a' }, actor);
    assert.equal((await b.allSubnets()).find((s) => s.id === child.id)?.name, 'renamed on a');
    await a.deleteSubnet(child.id, false, actor);
    assert.equal((await b.mostSpecificSubnet(1, parseIp('10.9.1.5')))?.cidr, '10.9.0.0/16');
    assert.deepEqual(
      (await b.allSubnets()).map((s) => s.cidr),
      ['10.9.0.0/16'],
    );
  });

  it('imports CSV in journalled slices, rolls back what a stop left, exports again', async (t) => {
    const { stores, services } = await replicas(t, 1);
    const ipam = services[0]!;
    const imports = new CsvImports(ipam, stores[0]!.writes, undefined, () => NOW);
    const subnets = 'cidr,name,tags\n10.30.0.0/16,"big, one",\n10.31.0.0/24,small,x\n';
    const s = await imports.wait(imports.start('subnets', subnets, 2, false, actor).id);
    assert.equal(s.state, 'done', s.error);
    const big = (await ipam.allSubnets()).find((r) => r.cidr === '10.30.0.0/16')!;
    const rows = Array.from({ length: 300 }, (_, i) => `10.30.${(i + 1) >> 8}.${(i + 1) & 255},host-${i},tag-${i % 3}`);
    const text = `address,hostname,tags\n${rows.join('\n')}\n`;
    const a = await imports.wait(imports.start('addresses', text, 300, false, actor).id);
    assert.equal(a.state, 'done', a.error);
    assert.equal(a.stored, 300);
    assert.equal((await ipam.listAddresses({ subnet_id: big.id }, 1, 0)).count, 300);
    assert.equal((await ipam.listAddresses({ tag: 'tag-1' }, 1, 0)).count, 100);
    // The same file again: every row exists already, nothing is stored.
    const again = await imports.wait(imports.start('addresses', text, 300, false, actor).id);
    assert.equal(again.state, 'failed');
    assert.equal(again.error_count, 300);
    // A job cut short: its journal names what it created; the next start removes those, audited.
    const created = await ipam.allocate({ subnetId: big.id }, { count: 5 }, actor);
    await stores[0]!.write(() =>
      new ImportJournalStore(stores[0]!).insert(
        'import_job:1:00000000',
        JSON.stringify({ kind: 'addresses', actor: { name: 'cut-short' }, ids: created.map((v) => v.id) }),
      ),
    );
    assert.equal(await recoverImports(ipam), 1);
    assert.equal((await ipam.listAddresses({ subnet_id: big.id }, 1, 0)).count, 300);
    assert.equal((await ipam.audit.list({ actor: 'cut-short' }, 10, 0)).count, 5);
    assert.equal(await recoverImports(ipam), 0, 'the journal is gone');
    let csv = '';
    for await (const chunk of exportCsv(ipam, 'addresses', big.id)) csv += chunk;
    assert.equal(csv.trim().split('\n').length, 301);
    assert.match(
      csv,
      /^address,state,hostname,mac,description,owner,tags,source,vrf,id,created_at,updated_at\n10\.30\.0\.1,reserved,host-0,/,
    );
    const totals = await ipam.totalsByStateAndSource();
    assert.deepEqual(totals, [{ state: 'reserved', source: 'manual', n: 300 }]);
  });

  it('answers a scrape: subnet sizes, addresses by state (edges not usable left out), ranges, totals', async (t) => {
    const { services } = await replicas(t, 1);
    const ipam = services[0]!;
    const parent = await ipam.createSubnet({ cidr: '10.40.0.0/16' }, actor);
    // Recorded on the parent before the child that makes it a network address existed.
    await ipam.createAddress({ address: '10.40.1.0', state: 'assigned' }, actor);
    const child = await ipam.createSubnet({ cidr: '10.40.1.0/24' }, actor);
    await ipam.allocate({ subnetId: child.id }, { count: 10 }, actor);
    await ipam.createRange(
      {
        subnet_id: child.id,
        start_address: '10.40.1.100',
        end_address: '10.40.1.149',
        label: 'pool',
        mark_utilized: true,
      },
      actor,
    );
    const registry = new Registry();
    const store = IpamService.storeOf(ipam);
    registerIpamMetrics(registry, ipam, new SeriesBudget({ max_subnet_series: 10, max_host_series: 10 }, store));
    const text = await registry.metrics();
    const value = (name: string, labels: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    assert.equal(value('lanscape_subnet_size_addresses', 'subnet="10.40.1.0/24"'), 254);
    assert.equal(value('lanscape_subnet_addresses', 'subnet="10.40.1.0/24",vrf="global",state="reserved"'), 10);
    assert.equal(
      value('lanscape_subnet_addresses', 'subnet="10.40.1.0/24",vrf="global",state="assigned"'),
      0,
      'its network address is not one of its addresses',
    );
    assert.equal(value('lanscape_subnet_free_addresses', 'subnet="10.40.1.0/24"'), 254 - 10 - 50);
    assert.equal(value('lanscape_range_size_addresses', 'range="10.40.1.100-10.40.1.149"'), 50);
    assert.equal(value('lanscape_subnet_addresses', 'subnet="10.40.0.0/16",vrf="global",state="reserved"'), 10);
    assert.equal(value('lanscape_addresses', 'state="assigned",source="manual"'), 1);
    assert.equal(value('lanscape_addresses', 'state="reserved",source="manual"'), 10);
    assert.ok(parent.id > 0);
  });

  it('lays a page out from one snapshot while another replica writes into the subnet', async (t) => {
    const { services } = await replicas(t, 2);
    const [a, b] = services as [IpamService, IpamService];
    const subnet = await a.createSubnet({ cidr: '10.50.0.0/16' }, actor);
    const n = 6000; // more than one layout chunk (5,000 values)
    await a.write(() =>
      IpamService.storeOf(a).insertAddresses(
        Array.from({ length: n }, (_, i) => {
          const ip = { family: 4 as const, value: parseIp('10.50.0.1').value + BigInt(i) };
          return {
            vrf_id: 1,
            ip_key: ipKey(ip),
            address: `10.50.${(i + 1) >> 8}.${(i + 1) & 255}`,
            family: 4 as const,
            state: 'reserved',
            hostname: null,
            mac: null,
            description: '',
            owner: null,
            tags: '[]',
            source: 'manual',
            created_at: '2026-12-04T06:00:00.000Z',
            updated_at: '2026-12-04T06:00:00.000Z',
          };
        }),
      ),
    );
    const pending = b.subnetRows(subnet.id, 3, n - 1);
    const writes = [1, 2, 3, 4, 5].map((k) => a.createAddress({ address: `10.50.200.${k * 2}` }, actor));
    const [page] = await Promise.all([pending, ...writes]);
    // Whatever the writes the snapshot saw, the layout and the counts agree with each other.
    const used = page.subnet.utilization.used;
    assert.ok(used >= n && used <= n + 5, String(used));
    assert.equal(page.count, used === n ? n + 1 : used + (used - n) + 1, 'one row per address and per gap');
    assert.equal(page.results[0]?.type === 'address' && page.results[0].address.address, '10.50.23.112');
    const after = await b.subnetRows(subnet.id, 3, 0);
    assert.equal(after.subnet.utilization.used, n + 5);
    assert.equal(after.count, n + 5 * 2 + 1);
  });

  it(
    'Store.readSnapshot: every statement of the job sees the data as of its first one',
    { skip: TEST_BACKEND === 'postgres' ? false : 'PostgreSQL only (SQLite reads snapshots on read-only connections)' },
    async (t) => {
      const { stores, services } = await replicas(t, 2);
      const [a, b] = services as [IpamService, IpamService];
      await a.createSubnet({ cidr: '10.60.0.0/24' }, actor);
      const span = [ipKey(parseIp('10.60.0.0')), ipKey(parseIp('10.60.0.255'))] as const;
      const seen = await stores[1]!.readSnapshot(async () => {
        const before = await b.countBetween(1, ...span);
        await a.createAddress({ address: '10.60.0.5' }, actor); // committed by the other replica
        return [before, await b.countBetween(1, ...span)];
      });
      assert.deepEqual(seen, [0, 0]);
      assert.equal(await b.countBetween(1, ...span), 1);
    },
  );

  it('keeps address_runs the maximal runs of the addresses through creates, batches, allocations and deletes', async (t) => {
    const { stores, services } = await replicas(t, 1);
    const ipam = services[0]!;
    const v4 = await ipam.createSubnet({ cidr: '10.9.0.0/26' }, actor);
    const v6 = await ipam.createSubnet({ cidr: 'fd00:9::/122' }, actor);
    const rnd = prng(14);
    const pick = (n: number) => Math.floor(rnd() * n);
    const address = (v6side: boolean, host: number) => (v6side ? `fd00:9::${host.toString(16)}` : `10.9.0.${host}`);
    const held = new Map<string, number>(); // address -> id
    const free = (v6side: boolean) =>
      Array.from({ length: 62 }, (_, i) => address(v6side, i + 1)).filter((a) => !held.has(a));
    for (let step = 0; step < 150; step++) {
      const v6side = rnd() < 0.3;
      const op = pick(4);
      if (op === 0 && free(v6side).length > 0) {
        const a = free(v6side)[pick(free(v6side).length)]!;
        held.set(a, (await ipam.createAddress({ address: a }, actor)).id);
      } else if (op === 1) {
        // A batch of up to 4 free addresses from a random host on (often consecutive, sometimes
        // not), or up to 10 from anywhere (scattered: many stretches, merged with runs at once).
        const start = 1 + pick(62);
        const scattered = rnd() < 0.4;
        const batch = scattered
          ? free(v6side).filter(() => rnd() < 0.25)
          : free(v6side).filter((a) => {
              const host = Number.parseInt(a.split(/[.:]/).at(-1)!, v6side ? 16 : 10);
              return host >= start && host < start + 6;
            });
        if (batch.length === 0) continue;
        const views = await ipam.createAddressRecords(
          batch.slice(0, scattered ? 10 : 4).map((a) => ({ address: a })),
          actor,
        );
        for (const v of views) held.set(v.address, v.id);
      } else if (op === 2 && free(v6side).length > 0) {
        const count = Math.min(1 + pick(3), free(v6side).length);
        for (const v of await ipam.allocate({ subnetId: (v6side ? v6 : v4).id }, { count }, actor))
          held.set(v.address, v.id);
      } else if (held.size > 0) {
        const [a, id] = [...held][pick(held.size)]!;
        await ipam.deleteAddress(id, actor);
        held.delete(a);
      }
    }
    const keys = (await stores[0]!.exec.all<{ ip_key: Buffer }>('SELECT ip_key FROM addresses ORDER BY ip_key')).map(
      (r) => r.ip_key,
    );
    assert.equal(keys.length, held.size);
    // Maximal runs of consecutive keys (same family, value + 1).
    const expected: [string, string][] = [];
    for (const key of keys) {
      const last = expected.at(-1);
      const ip = ipFromKey(key);
      const prev = last && ipFromKey(Buffer.from(last[1], 'hex'));
      if (prev && prev.family === ip.family && prev.value + 1n === ip.value) last[1] = key.toString('hex');
      else expected.push([key.toString('hex'), key.toString('hex')]);
    }
    const runs = await stores[0]!.exec.all<{ first_key: Buffer; last_key: Buffer }>(
      'SELECT first_key, last_key FROM address_runs ORDER BY first_key',
    );
    assert.deepEqual(
      runs.map((r) => [r.first_key.toString('hex'), r.last_key.toString('hex')]),
      expected,
    );
    assert.ok(
      expected.length > 5 && expected.some(([f, l]) => f !== l),
      'the walk made several runs, some longer than one',
    );
  });

  it('hands out each address once: 300 concurrent next-free allocations in a /24 on 3 replicas', async (t) => {
    const { services } = await replicas(t, 3);
    const subnet = await services[0]!.createSubnet({ cidr: '10.20.0.0/24' }, actor);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) =>
        services[i % 3]!.allocate({ subnetId: subnet.id }, { count: 1 }, { name: `client-${i}` }),
      ),
    );
    const ok = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value.map((a) => a.address) : []));
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as LanscapeError] : []));
    assert.equal(ok.length, 254, 'every usable address of the /24 once');
    assert.equal(new Set(ok).size, 254, 'no duplicates');
    assert.equal(refused.length, 46);
    for (const e of refused) assert.ok(e instanceof LanscapeError && e.status === 409, String(e));
    const stored = await services[1]!.countBetween(1, ipKey(parseIp('10.20.0.0')), ipKey(parseIp('10.20.0.255')));
    assert.equal(stored, 254);
    assert.equal((await services[2]!.getSubnet(subnet.id)).utilization.free, 0);
    const audit = await services[0]!.audit.list({ object_type: 'address' }, 1000, 0);
    assert.equal(audit.count, 254, 'one audit entry per address handed out, none for a rolled-back attempt');
  });
});
