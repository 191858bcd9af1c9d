// Migration 10 (discovery per VRF, #15) on a SQLite store the exporter of schema 9 left: every
// host, sample, hourly roll-up and event lands in the global VRF (1) with its values and ids kept,
// the keys lead with vrf_id (the same address may then be observed in a second VRF), and the
// AUTOINCREMENT mark of events survives. (PostgreSQL's step from 9 to 10 is tested in
// test/pg-schema.test.ts, against a real server.)
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openDb } from '../src/store/db.js';
import { APPLICATION_ID, LATEST_VERSION, MIGRATIONS } from '../src/store/migrations.js';
import { tempDir } from './helpers/exporter.js';

const BEFORE = 9;

/** A store as the exporter of schema `version` left it. */
function storeAt(file: string, version: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
    db.pragma(`foreign_keys = ${m.rebuildsTables ? 'OFF' : 'ON'}`);
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  db.close();
}

const key = (last: number) => Buffer.from([4, ...Array<number>(12).fill(0), 10, 50, 0, last]);

describe('migration 10: discovery state per VRF', () => {
  it('puts existing hosts, history, roll-ups and events in the global VRF, keyed by (vrf_id, ip_key)', () => {
    assert.equal(LATEST_VERSION >= 10, true);
    const dir = tempDir();
    try {
      const file = join(dir.dir, 'v9.db');
      storeAt(file, BEFORE);
      const old = new Database(file);
      const host = old.prepare(
        `INSERT INTO hosts (ip_key, address, status, misses, rtt_seconds, last_seen_at, mac, ports)
        VALUES (?, ?, ?, 0, 0.001, 1000, ?, '[{"port":22,"protocol":"tcp"}]')`,
      );
      host.run(key(10), '10.50.0.10', 'up', '02:00:00:00:00:10');
      host.run(key(11), '10.50.0.11', 'down', null);
      old
        .prepare('INSERT INTO host_history (ip_key, at, up, rtt_seconds) VALUES (?, ?, ?, ?)')
        .run(key(10), 5, 1, 0.001);
      old
        .prepare('INSERT INTO host_history (ip_key, at, up, rtt_seconds) VALUES (?, ?, ?, ?)')
        .run(key(11), 5, 0, null);
      old
        .prepare(
          'INSERT INTO host_history_hourly (ip_key, hour, samples, up_samples, rtt_avg_seconds) VALUES (?, 1, 4, 3, 0.002)',
        )
        .run(key(10));
      const event = old.prepare(
        `INSERT INTO events (id, at, kind, ip_key, address, subnet_id, message) VALUES (?, 7, 'up', ?, '10.50.0.10', 3, 'up')`,
      );
      event.run(5, key(10));
      event.run(9, key(10));
      old.prepare('DELETE FROM events WHERE id = 9').run(); // the mark stays at 9
      old.close();

      const db = openDb(file);
      try {
        assert.equal(db.pragma('user_version', { simple: true }), LATEST_VERSION);
        assert.deepEqual(db.pragma('foreign_key_check'), []);
        assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
        assert.deepEqual(db.prepare('SELECT vrf_id, address, status, mac, ports FROM hosts ORDER BY ip_key').all(), [
          {
            vrf_id: 1,
            address: '10.50.0.10',
            status: 'up',
            mac: '02:00:00:00:00:10',
            ports: '[{"port":22,"protocol":"tcp"}]',
          },
          {
            vrf_id: 1,
            address: '10.50.0.11',
            status: 'down',
            mac: null,
            ports: '[{"port":22,"protocol":"tcp"}]',
          },
        ]);
        assert.deepEqual(db.prepare('SELECT vrf_id, at, up, rtt_seconds FROM host_history ORDER BY ip_key').all(), [
          { vrf_id: 1, at: 5, up: 1, rtt_seconds: 0.001 },
          { vrf_id: 1, at: 5, up: 0, rtt_seconds: null },
        ]);
        assert.deepEqual(db.prepare('SELECT vrf_id, hour, samples, up_samples FROM host_history_hourly').all(), [
          { vrf_id: 1, hour: 1, samples: 4, up_samples: 3 },
        ]);
        assert.deepEqual(db.prepare('SELECT id, vrf_id, address, subnet_id FROM events').all(), [
          { id: 5, vrf_id: 1, address: '10.50.0.10', subnet_id: 3 },
        ]);
        // Keys lead with vrf_id.
        const pk = (table: string) =>
          (
            db.prepare('SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk').all(table) as {
              name: string;
            }[]
          ).map((c) => c.name);
        assert.deepEqual(pk('hosts'), ['vrf_id', 'ip_key']);
        assert.deepEqual(pk('host_history'), ['vrf_id', 'ip_key', 'at']);
        assert.deepEqual(pk('host_history_hourly'), ['vrf_id', 'ip_key', 'hour']);
        assert.deepEqual(
          (db.prepare("SELECT name FROM pragma_index_info('events_ip')").all() as { name: string }[]).map(
            (c) => c.name,
          ),
          ['vrf_id', 'ip_key', 'at'],
        );
        // The same address in a second VRF is a second host; a VRF that does not exist is refused.
        db.prepare(
          "INSERT INTO vrfs (id, name, created_at, updated_at) VALUES (2, 'site-b', '2026-12-04T00:00:00Z', '2026-12-04T00:00:00Z')",
        ).run();
        db.prepare("INSERT INTO hosts (vrf_id, ip_key, address, status) VALUES (2, ?, '10.50.0.10', 'up')").run(
          key(10),
        );
        assert.equal(
          (db.prepare('SELECT count(*) AS n FROM hosts WHERE ip_key = ?').get(key(10)) as { n: number }).n,
          2,
        );
        assert.throws(
          () =>
            db
              .prepare("INSERT INTO hosts (vrf_id, ip_key, address, status) VALUES (3, ?, '10.50.0.10', 'up')")
              .run(key(10)),
          /FOREIGN KEY/,
        );
        // events keeps its AUTOINCREMENT mark: id 9 (deleted before the upgrade) is not handed out again.
        const id = db.prepare("INSERT INTO events (at, kind, message) VALUES (8, 'up', 'x') RETURNING id").get() as {
          id: number;
        };
        assert.equal(id.id, 10);
      } finally {
        db.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});
