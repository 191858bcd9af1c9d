// A reservation acknowledged with 2xx survives kill -9 of the exporter.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnExporter, tempDir, testEnv } from './helpers/exporter.js';

it('keeps every acknowledged reservation across SIGKILL mid-burst', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const env = testEnv(join(dir, 'store.db'));
    const first = await spawnExporter(env);
    const subnet = (await first.api.post('/api/v1/subnets', { cidr: '10.77.0.0/16' })).body;
    const acknowledged: string[] = [];
    let failures = 0;
    let stop = false;
    // 16 clients reserve as fast as they can until the process dies under them.
    const client = async () => {
      for (let i = 0; i < 5000 && !stop; i++) {
        try {
          const r = await first.api.post(`/api/v1/subnets/${subnet.id}/available-ips`, { count: 1 });
          if (r.status === 201) acknowledged.push(r.body[0].address);
        } catch {
          failures += 1;
          return;
        }
      }
    };
    const burst = Promise.all(Array.from({ length: 16 }, client));
    while (acknowledged.length < 300) await sleep(5);
    await first.kill();
    stop = true;
    await burst;
    assert.ok(failures > 0, 'the kill interrupted requests in flight');

    const second = await spawnExporter(env);
    try {
      const stored = new Set<string>();
      for (let offset = 0; ; offset += 1000) {
        const page = await second.api.get(`/api/v1/addresses?subnet_id=${subnet.id}&limit=1000&offset=${offset}`);
        for (const a of page.body.results) stored.add(a.address);
        if (page.body.results.length < 1000) break;
      }
      const lost = acknowledged.filter((a) => !stored.has(a));
      assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged reservations were lost`);
      // The allocator is consistent after recovery: the next address is new.
      const next = await second.api.post(`/api/v1/subnets/${subnet.id}/available-ips`, { count: 1 });
      assert.equal(next.status, 201);
      assert.ok(!stored.has(next.body[0].address));
    } finally {
      await second.stop();
    }
  } finally {
    cleanup();
  }
});
