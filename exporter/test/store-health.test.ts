// The store's health (#14): /readyz and lanscape_collector_up{collector="store"} read it. Against
// a real PostgreSQL killed with SIGKILL and started again: down while it is gone, up again by
// itself, and the pool's connections recover without a restart of the exporter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreHealth } from '../src/store/health.js';
import { Store, openPool } from '../src/store/store.js';
import { startPostgres } from './helpers/postgres.js';

test('PostgreSQL killed with -9: the store reports down, then up again by itself after the restart', async (t) => {
  const server = await startPostgres(t);
  if (!server) return;
  t.after(() => server.stop());
  const store = Store.postgres(openPool(server.url, { poolSize: 2 }));
  t.after(() => store.close());
  const health = new StoreHealth(store, { everyMs: 50, timeoutMs: 1_000 });
  await health.start();
  t.after(() => health.stop());
  assert.deepEqual(health.status, { up: true });
  assert.equal((await store.exec.get<{ n: number }>('SELECT 41 + 1 AS n'))?.n, 42);

  await server.kill9();
  assert.equal(await health.probe(), false);
  assert.equal(health.status.up, false);
  assert.ok(health.status.message, 'a reason is given');
  await assert.rejects(store.exec.get('SELECT 1'), 'a statement fails while the server is gone (it does not hang)');

  await server.restart();
  // The loop probes every 50 ms: bounded wait for it to see the server again.
  for (let i = 0; i < 100 && !health.status.up; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(health.status, { up: true });
  assert.equal((await store.exec.get<{ n: number }>('SELECT 41 + 1 AS n'))?.n, 42, 'the pool reconnects');
});

test('SQLite answers as long as its file is open', async () => {
  const { openDb } = await import('../src/store/db.js');
  const store = Store.sqlite(openDb(':memory:'));
  const health = new StoreHealth(store);
  assert.equal(await health.probe(), true);
  await store.close();
  assert.equal(await health.probe(), false);
  assert.equal(health.status.up, false);
});
