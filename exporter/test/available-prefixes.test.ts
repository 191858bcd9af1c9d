// Available prefixes (#15): the pure search against a brute-force enumeration, and the API on
// the backend under test — free blocks around children and ranges, all-or-none carving, clear
// errors, and 300 concurrent requests for /28s in a /24 (on PostgreSQL spread over two
// replicas): exactly 16 succeed, no two overlap.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Interval } from '../src/ipam/core/allocation.js';
import { freePrefixes, freeSpace } from '../src/ipam/core/prefix-allocation.js';
import { type Prefix, formatPrefix, lastOf, parsePrefix } from '../src/ipam/core/prefix.js';
import { TOKENS, type TestExporter, startTestExporter } from './helpers/exporter.js';
import { prng } from './helpers/prng.js';
import { TEST_BACKEND, databaseUrlOf } from './helpers/store.js';

const iv = (cidr: string): Interval => {
  const p = parsePrefix(cidr);
  return { first: p.network, last: lastOf(p) };
};

/** Every aligned block of `length` in `parent`, checked one by one. */
function bruteForce(parent: Prefix, taken: readonly Interval[], length: number): string[] {
  const size = 1n << BigInt(32 - length);
  const out: string[] = [];
  for (let at = parent.network; at + size - 1n <= lastOf(parent); at += size) {
    if (!taken.some((t) => t.first <= at + size - 1n && t.last >= at))
      out.push(formatPrefix({ family: 4, network: at, length }));
  }
  return out;
}

describe('free prefixes (core)', () => {
  const parent = parsePrefix('10.0.0.0/24');

  it('skips children and ranges, aligned', () => {
    const taken = [iv('10.0.0.0/26'), { first: iv('10.0.0.70/32').first, last: iv('10.0.0.90/32').first }];
    assert.deepEqual(freePrefixes(parent, taken, 28, 4).map(formatPrefix), [
      '10.0.0.96/28',
      '10.0.0.112/28',
      '10.0.0.128/28',
      '10.0.0.144/28',
    ]);
    assert.deepEqual(freeSpace(parent, taken, 10).map(formatPrefix), [
      '10.0.0.64/30',
      '10.0.0.68/31',
      '10.0.0.91/32',
      '10.0.0.92/30',
      '10.0.0.96/27',
      '10.0.0.128/25',
    ]);
    assert.deepEqual(freePrefixes(parent, [iv('10.0.0.0/24')], 28, 1), []);
    assert.deepEqual(freeSpace(parent, [], 10).map(formatPrefix), ['10.0.0.0/24']);
  });

  it('agrees with a brute-force enumeration on random children and ranges', () => {
    const rand = prng(1504);
    for (let round = 0; round < 300; round++) {
      const taken: Interval[] = [];
      for (let i = 0, n = Math.floor(rand() * 6); i < n; i++) {
        const first = parent.network + BigInt(Math.floor(rand() * 256));
        const last = first + BigInt(Math.floor(rand() * 40));
        taken.push({ first, last: last > lastOf(parent) ? lastOf(parent) : last });
      }
      const length = 25 + Math.floor(rand() * 8);
      const expected = bruteForce(parent, taken, length);
      assert.deepEqual(
        freePrefixes(parent, taken, length, 1000).map(formatPrefix),
        expected,
        JSON.stringify({ taken, length }, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
      );
      // The free space covers exactly the addresses no interval takes.
      const space = freeSpace(parent, taken, 1000);
      let covered = 0n;
      for (const p of space) {
        covered += lastOf(p) - p.network + 1n;
        assert.ok(!taken.some((t) => t.first <= lastOf(p) && t.last >= p.network), `${formatPrefix(p)} overlaps`);
      }
      let free = 0n;
      for (let a = parent.network; a <= lastOf(parent); a++)
        if (!taken.some((t) => t.first <= a && t.last >= a)) free++;
      assert.equal(covered, free);
    }
  });

  it('jumps over what is taken: the /64s of an IPv6 /32 in a few steps', () => {
    const big = parsePrefix('2001:db8::/32');
    const first = freePrefixes(big, [iv('2001:db8::/48')], 64, 2).map(formatPrefix);
    assert.deepEqual(first, ['2001:db8:1::/64', '2001:db8:1:1::/64']);
  });
});

describe(`available prefixes over the API (${TEST_BACKEND})`, () => {
  const replicas: TestExporter[] = [];
  before(async () => {
    replicas.push(await startTestExporter());
    // On PostgreSQL a second replica on the same database takes half of the concurrent requests.
    if (TEST_BACKEND === 'postgres') {
      replicas.push(await startTestExporter({ LANSCAPE_DATABASE_URL: databaseUrlOf(replicas[0]!.store)! }));
    }
  });
  after(async () => {
    for (const ex of replicas.reverse()) await ex.stop();
  });

  it('lists and carves free children around children and ranges; all or none; clear errors', async () => {
    const api = replicas[0]!.api;
    const parent = (await api.post('/api/v1/subnets', { cidr: '10.40.0.0/24', name: 'site' })).body;
    assert.equal((await api.post('/api/v1/subnets', { cidr: '10.40.0.0/26' })).status, 201);
    const range = await api.post('/api/v1/ranges', {
      subnet_id: parent.id,
      start_address: '10.40.0.70',
      end_address: '10.40.0.90',
      label: 'dhcp',
    });
    assert.equal(range.status, 201, range.text);
    const next = await api.get(`/api/v1/subnets/${parent.id}/available-prefixes?prefix_length=28&limit=3`, TOKENS.read);
    assert.equal(next.status, 200, next.text);
    assert.deepEqual(
      next.body.results.map((r: { prefix: string }) => r.prefix),
      ['10.40.0.96/28', '10.40.0.112/28', '10.40.0.128/28'],
    );
    assert.equal(next.body.results[0].size, 16);
    const space = await api.get(`/api/v1/subnets/${parent.id}/available-prefixes`, TOKENS.read);
    assert.deepEqual(
      space.body.results.map((r: { prefix: string }) => r.prefix),
      ['10.40.0.64/30', '10.40.0.68/31', '10.40.0.91/32', '10.40.0.92/30', '10.40.0.96/27', '10.40.0.128/25'],
    );

    const made = await api.post(`/api/v1/subnets/${parent.id}/available-prefixes`, {
      prefix_length: 27,
      count: 2,
      name: 'lab',
      vlan: 30,
      tags: ['carved'],
    });
    assert.equal(made.status, 201, made.text);
    assert.deepEqual(
      made.body.map((s: { cidr: string }) => s.cidr),
      ['10.40.0.96/27', '10.40.0.128/27'],
    );
    assert.equal(made.body[0].name, 'lab');
    assert.equal(made.body[0].vlan, 30);
    assert.deepEqual(made.body[1].tags, ['carved']);
    const audit = (await api.get('/api/v1/audit?object_type=subnet&limit=2')).body;
    assert.deepEqual(
      audit.results.map((e: { action: string; object_repr: string }) => [e.action, e.object_repr]),
      [
        ['create', '10.40.0.128/27'],
        ['create', '10.40.0.96/27'],
      ],
    );

    const before = (await api.get('/api/v1/subnets?limit=1000')).body.count;
    const tooMany = await api.post(`/api/v1/subnets/${parent.id}/available-prefixes`, { prefix_length: 26, count: 2 });
    assert.equal(tooMany.status, 409, tooMany.text);
    assert.match(tooMany.body.error.message, /room for 1 more \/26 \(asked for 2\); nothing was created/);
    assert.equal((await api.get('/api/v1/subnets?limit=1000')).body.count, before, 'all or none');
    for (const [body, field] of [
      [{ prefix_length: 24 }, 'prefix_length'],
      [{ prefix_length: 33 }, 'prefix_length'],
      [{ prefix_length: 28, count: 0 }, 'count'],
      [{ prefix_length: 28, gateway: '10.40.0.1' }, ''],
      [{ prefix_length: '28' }, 'prefix_length'],
    ] as const) {
      const r = await api.post(`/api/v1/subnets/${parent.id}/available-prefixes`, body);
      assert.ok(r.status === 400 || r.status === 422, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
      if (field) assert.match(r.text, new RegExp(field));
    }
    assert.equal((await api.get(`/api/v1/subnets/999999/available-prefixes`, TOKENS.read)).status, 404);
    assert.equal(
      (await api.post(`/api/v1/subnets/${parent.id}/available-prefixes`, { prefix_length: 28 }, TOKENS.read)).status,
      403,
    );
    assert.equal((await api.get('/api/v1/subnets?limit=1000')).body.count, before, 'refused requests change nothing');
  });

  it('300 concurrent requests for a /28 in a /24: 16 succeed, no overlaps', async () => {
    const parent = (await replicas[0]!.api.post('/api/v1/subnets', { cidr: '10.41.0.0/24' })).body;
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        replicas[i % replicas.length]!.api.post(`/api/v1/subnets/${parent.id}/available-prefixes`, {
          prefix_length: 28,
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 409);
    assert.equal(ok.length, 16, results.map((r) => r.status).join(','));
    assert.equal(refused.length, 284);
    const cidrs = ok.map((r) => r.body[0].cidr as string);
    assert.equal(new Set(cidrs).size, 16, 'no block twice');
    const blocks = cidrs.map(iv).sort((a, b) => (a.first < b.first ? -1 : 1));
    for (let i = 1; i < blocks.length; i++) assert.ok(blocks[i]!.first > blocks[i - 1]!.last, 'no overlap');
    const children = (await replicas[0]!.api.get(`/api/v1/subnets?q=10.41.0.&limit=100`)).body.results;
    assert.equal(children.filter((s: { prefix_length: number }) => s.prefix_length === 28).length, 16);
  });
});
