// Leader election on PostgreSQL (#14): of the replicas sharing a database exactly one runs the
// periodic work; when it goes (stops, its session is killed, the server restarts) another one
// takes over within a retry period, and there is never a moment with two leaders.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { AdvisoryLeader, SoleLeader } from '../src/store/leadership.js';
import { startPostgres } from './helpers/postgres.js';

const EVERY_MS = 100;

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  for (let waited = 0; waited < ms; waited += 20) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('three replicas: one leader at a time, takeover on stop, on a killed session and after a server restart', async (t) => {
  const server = await startPostgres(t);
  if (!server) return;
  t.after(() => server.stop());
  const replicas = [0, 1, 2].map(() => new AdvisoryLeader(server.url, { everyMs: EVERY_MS, checkTimeoutMs: 500 }));
  // Watch every change: two leaders at once would show as a count above 1 at some change.
  let most = 0;
  const leaders = () => replicas.filter((r) => r.isLeader).length;
  for (const r of replicas) r.onChange(() => (most = Math.max(most, leaders())));
  t.after(() => Promise.all(replicas.map((r) => r.stop())));
  await Promise.all(replicas.map((r) => r.start()));
  await until('a leader', () => leaders() === 1);

  // 1. The leader stops (a clean shutdown): another takes over.
  const first = replicas.find((r) => r.isLeader)!;
  await first.stop();
  await until('a second leader', () => leaders() === 1 && !first.isLeader);

  // 2. The leader's session is killed on the server (what happens when its process dies).
  const second = replicas.find((r) => r.isLeader)!;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(
    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()",
  );
  await admin.end();
  await until('the killed session to step down', () => !second.isLeader || leaders() === 1);
  await until('a leader again', () => leaders() === 1);

  // 3. The server itself is killed: nobody leads while it is down, one leader once it is back.
  await server.kill9();
  await until('every replica to step down', () => leaders() === 0);
  await server.restart();
  await until('one leader after the restart', () => leaders() === 1, 10_000);
  assert.equal(most, 1, 'never two leaders at once');
});

test('SQLite: the only process is the leader', async () => {
  const sole = new SoleLeader();
  await sole.start();
  assert.equal(sole.isLeader, true);
});
