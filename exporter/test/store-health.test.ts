// The store's health (#14): /readyz and lanscape_collector_up{collector="store"} read it. Against
// a real PostgreSQL killed with SIGKILL and started again: down while it is gone, up again by
// itself, and the pool's connections recover without a restart of the exporter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import express from 'express';
import pino from 'pino';
import { errorHandler } from '../src/http/app.js';
import { StoreHealth } from '../src/store/health.js';
import { StoreBusyError } from '../src/store/sql-exec.js';
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
  await assert.rejects(
    store.exec.get('SELECT 1'),
    (e) => !(e instanceof StoreBusyError),
    'a statement fails while the server is gone (it does not hang), and not as "busy"',
  );

  await server.restart();
  // The loop probes every 50 ms: bounded wait for it to see the server again.
  for (let i = 0; i < 100 && !health.status.up; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(health.status, { up: true });
  assert.equal((await store.exec.get<{ n: number }>('SELECT 41 + 1 AS n'))?.n, 42, 'the pool reconnects');
});

test('every connection held: statements fail as store_busy (503, Retry-After 1), not as an unreachable store', async (t) => {
  const server = await startPostgres(t);
  if (!server) return;
  const store = Store.postgres(openPool(server.url, { poolSize: 1, connectionTimeoutMs: 200 }));
  t.after(async () => {
    await store.close();
    await server.stop();
  });
  let release!: () => void;
  const held = store.exec.transaction(async (tx) => {
    await tx.get('SELECT 1 AS x');
    await new Promise<void>((resolve) => (release = resolve));
  });
  while (!release) await new Promise((r) => setTimeout(r, 10));
  const busy = await store.exec.get('SELECT 1 AS x').catch((e: unknown) => e);
  assert.ok(busy instanceof StoreBusyError, String(busy));
  assert.equal(busy.poolSize, 1);
  await assert.rejects(
    store.exec.transaction(async () => undefined),
    StoreBusyError,
  );
  release();
  await held;
  assert.equal((await store.exec.get<{ x: number }>('SELECT 1 AS x'))?.x, 1, 'served again once a connection is free');

  // What a client sees.
  const app = express();
  app.get('/busy', () => {
    throw busy;
  });
  app.use(errorHandler(pino({ level: 'silent' })));
  const listening = app.listen(0, '127.0.0.1');
  t.after(() => listening.close());
  await new Promise((r) => listening.once('listening', r));
  const res = await fetch(`http://127.0.0.1:${(listening.address() as { port: number }).port}/busy`);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '1');
  assert.deepEqual(((await res.json()) as { error: unknown }).error, {
    code: 'store_busy',
    message: 'the store is busy (every connection in use); try again shortly',
    details: { pool_size: 1, retry_after_seconds: 1 },
  });
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
