// store/pg-migrate.ts (#14): the PostgreSQL migration runner on a real PostgreSQL 15
// (test/helpers/postgres.ts), with a small stand-in body: the runner's contract does not depend
// on it (test/pg-schema.test.ts runs it with the real one, store/pg-schema.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { StoreVersionError } from '../src/store/db.js';
import { type PostgresSchema, migratePostgres } from '../src/store/pg-migrate.js';
import { type SqlExec, postgresExec } from '../src/store/sql-exec.js';
import { startPostgres } from './helpers/postgres.js';

const SCHEMA: PostgresSchema = {
  version: 7,
  statements: [
    'CREATE TABLE subnets (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, cidr text NOT NULL UNIQUE)',
    'CREATE TABLE addresses (subnet_id bigint NOT NULL REFERENCES subnets (id) ON DELETE CASCADE, ip bytea NOT NULL, PRIMARY KEY (subnet_id, ip))',
  ],
};

const TIMEOUT = 60_000;

async function tableNames(pool: pg.Pool): Promise<string[]> {
  const r = await pool.query<{ name: string }>(
    'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1',
  );
  return r.rows.map((x) => x.name);
}

test('PostgreSQL migration runner', { timeout: TIMEOUT }, async (t) => {
  const server = await startPostgres(t);
  if (!server) return;
  const pools: pg.Pool[] = [];
  // One executor per pool: its named statements are per connection (see postgresExec).
  const execs = new Map<pg.Pool, SqlExec>();
  const pool = async () => {
    const p = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 10_000 });
    p.on('error', () => {}); // idle connections hear the server stop at teardown
    pools.push(p);
    execs.set(p, postgresExec(p));
    return p;
  };
  const exec = (p: pg.Pool) => execs.get(p)!;
  let url = '';
  t.after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server.stop();
  });

  await t.test('3 runners at once on an empty database: one creates, all end at the version', async () => {
    url = await server.createDatabase();
    const runners = await Promise.all([pool(), pool(), pool()]);
    const results = await Promise.all(runners.map((p) => migratePostgres(exec(p), SCHEMA)));
    assert.equal(results.filter((r) => r.created).length, 1, JSON.stringify(results));
    assert.deepEqual(
      results.map((r) => r.version),
      [7, 7, 7],
    );
    assert.deepEqual(await tableNames(runners[0]!), ['addresses', 'lanscape_meta', 'subnets']);
    const version = await runners[0]!.query("SELECT value FROM lanscape_meta WHERE key = 'version'");
    assert.deepEqual(version.rows, [{ value: '7' }]);
    // Again: nothing to do.
    assert.deepEqual(await migratePostgres(exec(runners[1]!), SCHEMA), { from: 7, version: 7, created: false });
  });

  await t.test('a database from a newer Lanscape is refused, nothing changed', async () => {
    url = await server.createDatabase();
    const p = await pool();
    await migratePostgres(exec(p), { ...SCHEMA, version: 9 });
    await assert.rejects(migratePostgres(exec(p), SCHEMA), (e: unknown) => {
      assert.ok(e instanceof StoreVersionError);
      assert.match(e.message, /version 9, newer than this Lanscape \(7\)/);
      return true;
    });
    const version = await p.query("SELECT value FROM lanscape_meta WHERE key = 'version'");
    assert.deepEqual(version.rows, [{ value: '9' }]);
  });

  await t.test('a database with tables of its own is refused, nothing changed', async () => {
    url = await server.createDatabase();
    const p = await pool();
    await p.query('CREATE TABLE invoices (id integer PRIMARY KEY)');
    await assert.rejects(migratePostgres(exec(p), SCHEMA), (e: unknown) => {
      assert.ok(e instanceof StoreVersionError);
      assert.match(e.message, /not a Lanscape store/);
      return true;
    });
    assert.deepEqual(await tableNames(p), ['invoices']);
  });
});
