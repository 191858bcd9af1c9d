// The throw-away PostgreSQL cluster of test/helpers/postgres.ts (#14): it starts, takes
// connections over TCP on loopback and over its unix socket, keeps committed data across a
// kill -9 and a restart on the same data dir, and leaves no process and no file behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { type TestPostgres, requirePostgres, startPostgres } from './helpers/postgres.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

test('a throw-away PostgreSQL cluster: start, query, kill -9 and restart with data kept, teardown', async (t) => {
  const server: TestPostgres | undefined = await startPostgres(t);
  if (!server) return;
  let stoppedCleanly = false;
  t.after(async () => {
    if (!stoppedCleanly) await server.stop();
  });

  // Loopback only, its own port, its socket inside its own dir.
  assert.match(server.url, /^postgres:\/\/lanscape@127\.0\.0\.1:\d+\/postgres$/);
  assert.ok(
    server.dir.length > 0 && existsSync(`${server.dir}/.s.PGSQL.${server.port}`),
    'unix socket in the temp dir',
  );
  const firstPid = server.pid();
  assert.ok(alive(firstPid), 'the postmaster runs');

  const info = await withClient(server.url, async (c) => {
    const r = await c.query<{ version: string; fsync: string; addr: string }>(
      `SELECT current_setting('server_version_num') AS version, current_setting('fsync') AS fsync,
              host(inet_server_addr()) AS addr`,
    );
    return r.rows[0]!;
  });
  assert.equal(Math.floor(Number(info.version) / 10000), 15, `server_version_num ${info.version}`);
  assert.equal(info.fsync, 'off', 'test settings applied');
  assert.equal(info.addr, '127.0.0.1');

  // A database of its own, written over TCP, read back over the unix socket.
  const url = await server.createDatabase('fixture_check');
  await withClient(url, async (c) => {
    await c.query('CREATE TABLE kept (id int PRIMARY KEY, ip inet NOT NULL, key bytea NOT NULL)');
    await c.query(`INSERT INTO kept SELECT g, '10.0.0.0'::inet + g, int4send(g) FROM generate_series(1, 1000) g`);
  });
  const socketUrl = server.socketUrl.replace('/postgres?', '/fixture_check?');
  const overSocket = await withClient(socketUrl, async (c) => {
    const r = await c.query<{ n: string; last: string; via_socket: boolean }>(
      'SELECT count(*) AS n, max(ip)::text AS last, inet_server_addr() IS NULL AS via_socket FROM kept',
    );
    return r.rows[0]!;
  });
  assert.deepEqual(overSocket, { n: '1000', last: '10.0.3.232/32', via_socket: true });

  // kill -9 mid-session: the client sees the connection die, every process of the server is gone.
  const victim = new pg.Client({ connectionString: url });
  const victimErrors: Error[] = [];
  victim.on('error', (e) => victimErrors.push(e));
  await victim.connect();
  await victim.query('BEGIN');
  await victim.query('INSERT INTO kept VALUES (5000, $1, $2)', ['192.0.2.1', Buffer.from([1])]); // never committed
  await server.kill9();
  assert.ok(!alive(firstPid), 'the postmaster is gone after kill9()');
  await assert.rejects(
    withClient(url, async () => undefined),
    /ECONNREFUSED|connect/,
  );
  await assert.rejects(victim.query('COMMIT'));
  await victim.end().catch(() => {});

  // Restart on the same data dir and port: committed rows kept, the open transaction rolled back.
  await server.restart();
  assert.notEqual(server.pid(), firstPid);
  const afterRestart = await withClient(url, async (c) => {
    const r = await c.query<{ n: string; uncommitted: string }>(
      'SELECT count(*) AS n, count(*) FILTER (WHERE id = 5000) AS uncommitted FROM kept',
    );
    return r.rows[0]!;
  });
  assert.deepEqual(afterRestart, { n: '1000', uncommitted: '0' });
  assert.match(server.log(), /database system was interrupted|not properly shut down|redo/i, 'crash recovery ran');

  // Teardown: the process is gone, the directory removed; a second stop() is a no-op.
  const lastPid = server.pid();
  const dir = server.dir;
  await server.stop();
  stoppedCleanly = true;
  assert.ok(!alive(lastPid), 'postgres stopped');
  assert.ok(!alive(-lastPid), 'no backend of its process group left');
  assert.ok(!existsSync(dir), `${dir} removed`);
  assert.ok(!readdirSync('/tmp').some((n) => dir.endsWith(n)));
  await server.stop();
});

test('without PostgreSQL the fixture skips locally and fails under CI=true', (t) => {
  const saved = { bin: process.env.LANSCAPE_PG_BIN, ci: process.env.CI };
  t.after(() => {
    for (const [key, value] of [
      ['LANSCAPE_PG_BIN', saved.bin],
      ['CI', saved.ci],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  process.env.LANSCAPE_PG_BIN = '/nonexistent/postgresql/bin';
  process.env.CI = 'true';
  assert.throws(() => requirePostgres(t), /PostgreSQL 15 is not installed .*CI must run every test/);
  delete process.env.CI;
  let skipped = '';
  const fake = { skip: (message: string) => (skipped = message) } as unknown as Parameters<typeof requirePostgres>[0];
  assert.equal(requirePostgres(fake), undefined);
  assert.match(skipped, /apt-get install postgresql/);
});
