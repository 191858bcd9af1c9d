// npm run migrate-store (#14): a SQLite store filled through the API — subnets, addresses (IPv4
// and IPv6, whose low 64 bits are negative), ranges, deletions (so SQLite's sequences are ahead of
// the largest id left), the audit log — copied into an empty PostgreSQL database: same rows, same
// ids, identities continue after the largest id ever handed out, trigger totals agree; a second
// copy into the now non-empty database and bad arguments are refused and change nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { runCli, startTestExporter } from './helpers/exporter.js';
import { createTestDatabase } from './helpers/store.js';

const TABLES = ['subnets', 'addresses', 'address_runs', 'ranges', 'audit_log', 'address_totals'];

async function pgRows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

test('migrate-store copies a SQLite store into an empty PostgreSQL database, ids and audit included', async (t) => {
  const url = await createTestDatabase(t);
  if (!url) return;
  const ex = await startTestExporter({}, {}, 'sqlite'); // the source is a SQLite file
  t.after(() => ex.stop());
  const v4 = (await ex.api.post('/api/v1/subnets', { cidr: '10.20.0.0/24', name: 'lab' })).body;
  await ex.api.post('/api/v1/subnets', { cidr: 'fd00:ffff::/64' });
  await ex.api.post('/api/v1/subnets', { cidr: '10.99.0.0/24' });
  await ex.api.post(`/api/v1/subnets/${v4.id}/ranges`, {
    start_address: '10.20.0.100',
    end_address: '10.20.0.150',
    label: 'dhcp',
  });
  const taken = (await ex.api.post(`/api/v1/subnets/${v4.id}/available-ips`, { count: 20 })).body;
  assert.equal(taken.length, 20);
  await ex.api.post('/api/v1/addresses', {
    address: 'fd00:ffff::ffff:ffff:ffff:fff0',
    hostname: 'neg-low',
    state: 'assigned',
  });
  // Deleted rows: the SQLite sequences stay ahead of the largest id left.
  await ex.api.delete(`/api/v1/addresses/${taken[19].id}`, null);
  const last = (await ex.api.post('/api/v1/subnets', { cidr: '10.98.0.0/24' })).body;
  await ex.api.delete(`/api/v1/subnets/${last.id}`, null);
  // A store an exporter is using is refused (stop it, or copy a backup).
  const dbFile = ex.dbFile;
  const busy = await runCli('migrate-store', ['--from', dbFile, '--to', url]);
  assert.equal(busy.code, 2);
  assert.match(busy.stderr, new RegExp(`pid ${process.pid}\\) is using`));
  await ex.close(); // the files stay until ex.stop()
  const source = new Database(dbFile, { readonly: true });
  const want = Object.fromEntries(
    TABLES.map((table) => [table, (source.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n]),
  );
  const addressSeq = (
    source.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'addresses'").get() as { seq: number }
  ).seq;
  const sample = source
    .prepare("SELECT id, ip_key, ip_low, address FROM addresses WHERE hostname = 'neg-low'")
    .safeIntegers(true)
    .get() as {
    id: bigint;
    ip_key: Buffer;
    ip_low: bigint;
    address: string;
  };
  source.close();
  assert.ok(sample.ip_low < 0n, 'the fixture has a negative low half');

  // Refused before anything is written: bad targets.
  for (const [args, reason] of [
    [['--from', dbFile], /--to/],
    [['--from', dbFile, '--to', 'mysql://u:hunter2pw@h/db'], /postgres:\/\//],
    [['--from', dbFile, '--to', `${url}?sslmode=no-verify`], /any certificate/],
    [['--from', '/nonexistent/x.db', '--to', url], /cannot open/],
  ] as [string[], RegExp][]) {
    const r = await runCli('migrate-store', args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, reason);
    assert.ok(!r.stderr.includes('hunter2pw'), 'no password echoed');
  }

  const copy = await runCli('migrate-store', ['--from', dbFile, '--to', url]);
  assert.equal(copy.code, 0, copy.stderr);
  const copied = JSON.parse(copy.stdout).copied as { table: string; rows: number }[];
  for (const table of TABLES.filter((x) => x !== 'address_totals'))
    assert.equal(copied.find((c) => c.table === table)?.rows, want[table], table);
  assert.match(copy.stderr, /addresses: \d+\/\d+/, 'progress is shown');
  for (const table of TABLES) {
    const [row] = await pgRows(url, `SELECT count(*)::int AS n FROM ${table}`);
    assert.equal(row!.n, want[table], `${table} in PostgreSQL`);
  }
  const [copiedSample] = await pgRows(
    url,
    "SELECT id, ip_key, ip_low::text AS ip_low, address FROM addresses WHERE hostname = 'neg-low'",
  );
  assert.deepEqual(copiedSample, {
    id: Number(sample.id),
    ip_key: sample.ip_key,
    ip_low: sample.ip_low.toString(),
    address: sample.address,
  });
  // The next address id follows the largest one SQLite ever handed out, deleted ones included.
  const [next] = await pgRows(
    url,
    "INSERT INTO addresses (ip_key, ip_low, address, family, state, source, created_at, updated_at) VALUES ('\\x0a63000001'::bytea, 1, 'x', 4, 'reserved', 'api', 'now', 'now') RETURNING id",
  );
  assert.equal(next!.id, addressSeq + 1);

  // A second copy into the now non-empty database: refused, nothing changed.
  const again = await runCli('migrate-store', ['--from', dbFile, '--to', url]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /not empty/);
  const [count] = await pgRows(url, 'SELECT count(*)::int AS n FROM audit_log');
  assert.equal(count!.n, want.audit_log);
});
