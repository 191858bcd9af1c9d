// 300 concurrent next-free allocations at a /24: exactly the usable count succeed, all distinct,
// the rest are 409 — and the store agrees.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type TestExporter, startTestExporter } from './helpers/exporter.js';

let ex: TestExporter;
before(async () => {
  ex = await startTestExporter();
});
after(async () => {
  await ex.stop();
});

it('serialises 300 concurrent allocations on a /24', async () => {
  const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '10.99.0.0/24' })).body;
  const usable = subnet.utilization.size as number;
  assert.equal(usable, 254);
  const results = await Promise.all(
    Array.from({ length: 300 }, () => ex.api.post(`/api/v1/subnets/${subnet.id}/available-ips`, { count: 1 })),
  );
  const ok = results.filter((r) => r.status === 201);
  const conflicts = results.filter((r) => r.status === 409);
  const counts = new Map<number, number>();
  for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const other = results.find((r) => r.status !== 201 && r.status !== 409);
  assert.equal(ok.length, usable, `answers ${JSON.stringify([...counts])}; another: ${JSON.stringify(other?.body)}`);
  assert.equal(conflicts.length, 300 - usable);
  assert.ok(conflicts.every((r) => r.body.error.code === 'conflict'));
  const addresses = ok.map((r) => r.body[0].address as string);
  assert.equal(new Set(addresses).size, usable, 'every address handed out once');
  const stored = await ex.api.get(`/api/v1/addresses?subnet_id=${subnet.id}&limit=1000`);
  assert.equal(stored.body.count, usable);
  assert.deepEqual(new Set(stored.body.results.map((a: { address: string }) => a.address)), new Set(addresses));
  assert.equal((await ex.api.get(`/api/v1/subnets/${subnet.id}`)).body.utilization.free, 0);
});
