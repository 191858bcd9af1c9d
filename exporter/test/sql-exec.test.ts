// store/sql-exec.ts (#14): the same statement texts give the same answers on SQLite and on a
// real PostgreSQL 15 (test/helpers/postgres.ts) — placeholders, BLOB/bytea keys in byte order,
// RETURNING, ON CONFLICT — and transactions commit, roll back, nest as savepoints and take
// turns under concurrent callers on both.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type SqlExec, postgresExec, sqliteExec, toPostgresPlaceholders } from '../src/store/sql-exec.js';
import { tempDir } from './helpers/exporter.js';
import { startPostgres } from './helpers/postgres.js';

test('? placeholders become $n outside literals, quoted names and comments', () => {
  assert.equal(toPostgresPlaceholders('SELECT ? , ?'), 'SELECT $1 , $2');
  assert.equal(
    toPostgresPlaceholders(`SELECT '?', "a?b", ? -- why?\n, /* ? */ ? FROM t WHERE x = ?`),
    `SELECT '?', "a?b", $1 -- why?\n, /* ? */ $2 FROM t WHERE x = $3`,
  );
  assert.equal(toPostgresPlaceholders("SELECT 'it''s ?', ?"), "SELECT 'it''s ?', $1");
});

/** DDL differs per dialect (as migrations will); everything after it is one text for both. */
const SCHEMA = {
  sqlite: 'CREATE TABLE keys (k BLOB PRIMARY KEY, label TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0)',
  postgres: 'CREATE TABLE keys (k bytea PRIMARY KEY, label text NOT NULL, n integer NOT NULL DEFAULT 0)',
};

const key = (...bytes: number[]) => Buffer.from(bytes);

async function exercise(t: TestContext, exec: SqlExec) {
  await exec.run(SCHEMA[exec.dialect]);

  // Byte-wise key order is the same on both (the address keys rely on it).
  const keys = [key(4, 0, 255), key(4, 1, 0), key(6, 0), key(4), key(4, 0, 0, 1)];
  for (const [i, k] of keys.entries()) {
    assert.equal(await exec.run('INSERT INTO keys (k, label) VALUES (?, ?)', [k, `key ${i}`]), 1);
  }
  const ordered = await exec.all<{ k: Buffer }>('SELECT k FROM keys WHERE k >= ? ORDER BY k', [key(4, 0)]);
  assert.deepEqual(
    ordered.map((r) => [...r.k]),
    [
      [4, 0, 0, 1],
      [4, 0, 255],
      [4, 1, 0],
      [6, 0],
    ],
  );
  const before = await exec.get<{ k: Buffer }>('SELECT k FROM keys WHERE k <= ? ORDER BY k DESC LIMIT 1', [
    key(4, 0, 254),
  ]);
  assert.deepEqual([...before!.k], [4, 0, 0, 1]);
  assert.equal(await exec.get('SELECT k FROM keys WHERE k = ?', [key(9)]), undefined);

  // ON CONFLICT … DO UPDATE and RETURNING.
  const upserted = await exec.all<{ n: number }>(
    'INSERT INTO keys (k, label) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = keys.n + 1 RETURNING n',
    [key(4), 'again'],
  );
  assert.deepEqual(upserted, [{ n: 1 }]);
  const removed = await exec.all<{ label: string }>('DELETE FROM keys WHERE k = ? RETURNING label', [key(6, 0)]);
  assert.deepEqual(removed, [{ label: 'key 2' }]);

  // Commit, and rollback when the callback throws.
  const committed = await exec.transaction(async (tx) => {
    await tx.run('INSERT INTO keys (k, label) VALUES (?, ?)', [key(7), 'committed']);
    return tx.get<{ label: string }>('SELECT label FROM keys WHERE k = ?', [key(7)]);
  });
  assert.equal(committed?.label, 'committed');
  await assert.rejects(
    exec.transaction(async (tx) => {
      await tx.run('INSERT INTO keys (k, label) VALUES (?, ?)', [key(8), 'rolled back']);
      throw new Error('rule broken');
    }),
    /rule broken/,
  );
  assert.equal(await exec.get('SELECT k FROM keys WHERE k = ?', [key(8)]), undefined);

  // A constraint violation inside rolls the whole transaction back.
  await assert.rejects(
    exec.transaction(async (tx) => {
      await tx.run('INSERT INTO keys (k, label) VALUES (?, ?)', [key(9), 'first']);
      await tx.run('INSERT INTO keys (k, label) VALUES (?, ?)', [key(7), 'duplicate']);
    }),
    /UNIQUE|duplicate key/,
  );
  assert.equal(await exec.get('SELECT k FROM keys WHERE k = ?', [key(9)]), undefined);

  // Nested transactions are savepoints: an inner failure undoes only the inner work.
  await exec.transaction(async (tx) => {
    await tx.run('INSERT INTO keys (k, label) VALUES (?, ?)', [key(10), 'outer']);
    await assert.rejects(
      tx.transaction(async (inner) => {
        await inner.run('INSERT INTO keys (k, label) VALUES (?, ?)', [key(11), 'inner']);
        throw new Error('inner fails');
      }),
      /inner fails/,
    );
    await tx.transaction(async (inner) => {
      await inner.run('UPDATE keys SET label = ? WHERE k = ?', ['outer, updated inside', key(10)]);
    });
  });
  const labels = await exec.all<{ label: string }>('SELECT label FROM keys WHERE k IN (?, ?) ORDER BY k', [
    key(10),
    key(11),
  ]);
  assert.deepEqual(labels, [{ label: 'outer, updated inside' }]);

  // Concurrent callers: every transaction commits exactly once, none sees half of another.
  const counter = key(20);
  await exec.run('INSERT INTO keys (k, label) VALUES (?, ?)', [counter, 'counter']);
  const lock = exec.dialect === 'postgres' ? ' FOR UPDATE' : '';
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      exec.transaction(async (tx) => {
        const row = await tx.get<{ n: number }>(`SELECT n FROM keys WHERE k = ?${lock}`, [counter]);
        await tx.run('INSERT INTO keys (k, label) VALUES (?, ?)', [key(21, i), `concurrent ${i}`]);
        await tx.run('UPDATE keys SET n = ? WHERE k = ?', [row!.n + 1, counter]);
      }),
    ),
  );
  const total = await exec.get<{ n: number; rows: number | string }>(
    'SELECT (SELECT n FROM keys WHERE k = ?) AS n, (SELECT count(*) FROM keys WHERE k > ? AND k < ?) AS rows',
    [counter, key(21), key(22)],
  );
  assert.deepEqual({ n: total!.n, rows: Number(total!.rows) }, { n: 20, rows: 20 });
  t.diagnostic(`${exec.dialect}: all statements agreed`);
}

test('SqlExec on SQLite (better-sqlite3)', async (t) => {
  const { dir, cleanup } = tempDir();
  const db = new Database(join(dir, 'exec.db'));
  db.pragma('journal_mode = WAL');
  t.after(() => {
    db.close();
    cleanup();
  });
  await exercise(t, sqliteExec(db));
});

test('SqlExec on PostgreSQL 15 (node-postgres, named statements)', async (t) => {
  const server = await startPostgres(t);
  if (!server) return;
  const pool = new pg.Pool({ connectionString: await server.createDatabase(), max: 8 });
  pool.on('error', () => {}); // idle connections hear the server stop at teardown
  t.after(async () => {
    await pool.end();
    await server.stop();
  });
  await exercise(t, postgresExec(pool));
  // The named statements were prepared on the server (planned once per connection).
  const prepared = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_prepared_statements WHERE name LIKE 'lanscape_%'",
  );
  assert.ok(Number(prepared.rows[0]!.n) > 0, 'named statements on this connection');
});
