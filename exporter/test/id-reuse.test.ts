// Ids that leave the process are never handed out again: a retried DELETE of a deleted object
// finds nothing instead of deleting the object created since with the same id (migration 6).
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type Db, openDb, schemaVersion } from '../src/store/db.js';
import { APPLICATION_ID, LATEST_VERSION, MIGRATIONS } from '../src/store/migrations.js';
import { Store } from '../src/store/store.js';
import { DiscoveryStore } from '../src/discovery/store.js';
import { TrafficStore } from '../src/traffic/store.js';
import { ProxmoxStore, type NewJobRow } from '../src/proxmox/store.js';
import { type TestExporter, startTestExporter, tempDir } from './helpers/exporter.js';

/** Tables whose ids are exposed by the API (paths, bodies, metrics labels, the audit log). */
const ID_TABLES = [
  'subnets',
  'addresses',
  'ranges',
  'audit_log',
  'events',
  'scans',
  'traffic_schedules',
  'traffic_tests',
  'proxmox_vm_jobs',
];

describe('a retried DELETE over the HTTP API', () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter({}, {}, 'sqlite'); // AUTOINCREMENT is SQLite's (PostgreSQL: identity columns)
  });
  after(async () => {
    await ex.stop();
  });

  it('subnets: the deleted id is not reused and the retry is a 404', async () => {
    const first = (await ex.api.post('/api/v1/subnets', { cidr: '10.90.0.0/24' })).body;
    assert.equal((await ex.api.delete(`/api/v1/subnets/${first.id}`)).status, 204);
    const second = await ex.api.post('/api/v1/subnets', { cidr: '10.91.0.0/24' });
    assert.equal(second.status, 201);
    assert.notEqual(second.body.id, first.id);
    assert.ok(second.body.id > first.id);
    assert.equal((await ex.api.delete(`/api/v1/subnets/${first.id}`)).status, 404);
    const still = await ex.api.get(`/api/v1/subnets/${second.body.id}`);
    assert.equal(still.status, 200);
    assert.equal(still.body.cidr, '10.91.0.0/24');
  });

  it('addresses: the deleted id is not reused and the retry is a 404', async () => {
    assert.equal((await ex.api.post('/api/v1/subnets', { cidr: '10.92.0.0/24' })).status, 201);
    const first = (await ex.api.post('/api/v1/addresses', { address: '10.92.0.5' })).body;
    assert.equal((await ex.api.delete(`/api/v1/addresses/${first.id}`)).status, 204);
    const second = await ex.api.post('/api/v1/addresses', { address: '10.92.0.6' });
    assert.equal(second.status, 201);
    assert.ok(second.body.id > first.id);
    assert.equal((await ex.api.delete(`/api/v1/addresses/${first.id}`)).status, 404);
    const still = await ex.api.get(`/api/v1/addresses/${second.body.id}`);
    assert.equal(still.status, 200);
    assert.equal(still.body.address, '10.92.0.6');
  });

  it('ranges: the deleted id is not reused and the retry is a 404', async () => {
    const subnet = (await ex.api.post('/api/v1/subnets', { cidr: '10.93.0.0/24' })).body;
    const first = (
      await ex.api.post('/api/v1/ranges', {
        subnet_id: subnet.id,
        start_address: '10.93.0.10',
        end_address: '10.93.0.19',
        label: 'a',
      })
    ).body;
    assert.equal((await ex.api.delete(`/api/v1/ranges/${first.id}`)).status, 204);
    const second = await ex.api.post('/api/v1/ranges', {
      subnet_id: subnet.id,
      start_address: '10.93.0.20',
      end_address: '10.93.0.29',
      label: 'b',
    });
    assert.equal(second.status, 201);
    assert.ok(second.body.id > first.id);
    assert.equal((await ex.api.delete(`/api/v1/ranges/${first.id}`)).status, 404);
    const still = await ex.api.get(`/api/v1/ranges/${second.body.id}`);
    assert.equal(still.status, 200);
    assert.equal(still.body.label, 'b');
  });

  it('a new store declares AUTOINCREMENT on every table with exposed ids', () => {
    const db = new Database(ex.dbFile, { readonly: true });
    try {
      for (const table of ID_TABLES) assert.ok(isAutoincrement(db, table), `${table} uses AUTOINCREMENT`);
    } finally {
      db.close();
    }
  });
});

describe('ids in the store modules', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: Db;
  before(() => {
    dir = tempDir();
    db = openDb(join(dir.dir, 'store.db'));
  });
  after(() => {
    db.close();
    dir.cleanup();
  });

  /** Inserts, deletes the newest row, inserts again: the second id must be new. */
  async function assertNotReused(table: string, insert: () => number | Promise<number>): Promise<void> {
    const first = await insert();
    db.prepare(`DELETE FROM ${table} WHERE id = ?`).run(first);
    const second = await insert();
    assert.ok(second > first, `${table}: id ${second} after deleted ${first}`);
  }

  it('scans and events', async () => {
    const discovery = new DiscoveryStore(Store.sqlite(db));
    const insertEvent = () =>
      discovery.insertEvent({
        vrf_id: 1,
        at: Date.now(),
        kind: 'host_up',
        ip_key: null,
        address: '10.0.0.1',
        subnet_id: null,
        message: 'up',
        details: null,
      });
    await assertNotReused('scans', async () => (await discovery.insertScan(1, '10.0.0.0/24', 'manual', Date.now())).id);
    await assertNotReused('events', insertEvent);
    // events are pruned by age: pruning all of them must not restart the numbering either
    const last = (db.prepare('SELECT max(id) AS id FROM events').get() as { id: number }).id;
    await discovery.rollup(0, 0, Date.now() + 1);
    assert.equal((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 0);
    await insertEvent();
    assert.ok((db.prepare('SELECT max(id) AS id FROM events').get() as { id: number }).id > last);
  });

  it('traffic tests and schedules', async () => {
    const traffic = new TrafficStore(Store.sqlite(db));
    const params = {
      source: 'a',
      target: 'b',
      protocol: 'tcp' as const,
      duration_seconds: 5,
      bitrate_bits_per_second: null,
      parallel: 1,
      reverse: 0,
      start_server: 0,
    };
    await assertNotReused(
      'traffic_tests',
      async () =>
        (
          await traffic.insertTest({
            ...params,
            port: 5201,
            target_address: '10.0.0.2',
            schedule_id: null,
            queued_at: 1,
          })
        ).id,
    );
    await assertNotReused(
      'traffic_schedules',
      async () =>
        (
          await traffic.insertSchedule({
            ...params,
            port: null,
            interval_seconds: 600,
            jitter_seconds: 0,
            enabled: 1,
            floor_bits_per_second: null,
            next_run_at: null,
            created_at: 1,
            updated_at: 1,
          })
        ).id,
    );
  });

  it('proxmox VM jobs', async () => {
    const proxmox = new ProxmoxStore(Store.sqlite(db));
    const job: NewJobRow = {
      idempotency_key: null,
      request_hash: 'h',
      request: '{}',
      actor: 'admin',
      node: 'pve',
      name: 'vm',
      state: 'queued',
      steps: '[]',
      progress: 0,
      vmid: null,
      vm_created: 0,
      address: null,
      address_id: null,
      prefix_length: null,
      gateway: null,
      dns: '[]',
      error: null,
      created_at: 1,
      updated_at: 1,
      finished_at: null,
    };
    await assertNotReused('proxmox_vm_jobs', async () => (await proxmox.insertJob(job))!.id);
  });

  it('the IPAM tables and the audit log', async () => {
    const now = new Date().toISOString();
    await assertNotReused('subnets', () =>
      Number(
        db
          .prepare(
            `INSERT INTO subnets (cidr, family, prefix_length, first_key, last_key, created_at, updated_at)
      VALUES ('10.1.0.0/24', 4, 24, x'0a010000', x'0a0100ff', ?, ?)`,
          )
          .run(now, now).lastInsertRowid,
      ),
    );
    await assertNotReused('addresses', () =>
      Number(
        db
          .prepare(
            `INSERT INTO addresses (ip_key, ip_low, address, family, state, source, created_at, updated_at)
      VALUES (x'0a010005', 167837701, '10.1.0.5', 4, 'reserved', 'manual', ?, ?)`,
          )
          .run(now, now).lastInsertRowid,
      ),
    );
    await assertNotReused('audit_log', () =>
      Number(
        db
          .prepare(
            `INSERT INTO audit_log (at, actor, action, object_type, object_repr)
      VALUES (?, 'admin', 'create', 'subnet', 'x')`,
          )
          .run(now).lastInsertRowid,
      ),
    );
  });
});

describe('upgrading a store of the previous schema version', () => {
  const previous = MIGRATIONS.find((m) => m.rebuildsTables && m.name.startsWith('ids are never reused'))!.version - 1;

  /** A store as the exporter of schema `version` left it: migrations 1..version applied. */
  function storeAt(file: string, version: number): Database.Database {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    for (const m of MIGRATIONS.filter((m) => m.version <= version)) {
      db.transaction(() => {
        db.exec(m.sql);
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${m.version}`);
      })();
    }
    return db;
  }

  function fill(db: Database.Database): void {
    const now = '2026-01-01T00:00:00.000Z';
    const subnet =
      db.prepare(`INSERT INTO subnets (id, cidr, family, prefix_length, first_key, last_key, name, tags, created_at, updated_at)
      VALUES (?, ?, 4, 24, ?, ?, ?, '["web"]', ?, ?)`);
    subnet.run(1, '10.1.0.0/24', Buffer.from([10, 1, 0, 0]), Buffer.from([10, 1, 0, 255]), 'one', now, now);
    subnet.run(2, '10.2.0.0/24', Buffer.from([10, 2, 0, 0]), Buffer.from([10, 2, 0, 255]), 'two', now, now);
    subnet.run(3, '10.3.0.0/24', Buffer.from([10, 3, 0, 0]), Buffer.from([10, 3, 0, 255]), 'three', now, now);
    const address =
      db.prepare(`INSERT INTO addresses (id, ip_key, ip_low, address, family, state, source, created_at, updated_at)
      VALUES (?, ?, ?, ?, 4, ?, ?, ?, ?)`);
    for (let i = 1; i <= 20; i++) {
      address.run(
        i,
        Buffer.from([10, 1, 0, i]),
        167837696 + i,
        `10.1.0.${i}`,
        i % 2 ? 'assigned' : 'reserved',
        i <= 2 ? 'docker' : 'manual',
        now,
        now,
      );
    }
    db.prepare(
      `INSERT INTO ranges (id, subnet_id, start_address, end_address, first_key, last_key, label, created_at, updated_at)
      VALUES (5, 2, '10.2.0.10', '10.2.0.20', x'0a02000a', x'0a020014', 'pool', ?, ?)`,
    ).run(now, now);
    db.prepare(
      `INSERT INTO docker_subnets (subnet_id, endpoint, network, network_id) VALUES (1, 'local', 'br', 'n1')`,
    ).run();
    db.prepare(
      `INSERT INTO docker_addresses (address_id, endpoint, container_id, network) VALUES (1, 'local', 'c1', 'br'), (2, 'local', 'c2', 'br')`,
    ).run();
    // subnet 3 and address 20 are deleted at the top end: only the audit log still names them
    const audit = db.prepare(
      `INSERT INTO audit_log (at, actor, action, object_type, object_id, object_repr) VALUES (?, 'write', ?, ?, ?, 'x')`,
    );
    audit.run(now, 'create', 'subnet', 3);
    audit.run(now, 'delete', 'subnet', 3);
    audit.run(now, 'delete', 'address', 20);
    db.prepare('DELETE FROM subnets WHERE id = 3').run();
    db.prepare('DELETE FROM addresses WHERE id = 20').run();
    db.prepare(
      `INSERT INTO events (id, at, kind, address, subnet_id, message) VALUES (7, 1, 'host_up', '10.1.0.1', 1, 'up')`,
    ).run();
    db.prepare(
      `INSERT INTO scans (id, subnet_id, cidr, trigger, state, queued_at) VALUES (4, 1, '10.1.0.0/24', 'manual', 'done', 1)`,
    ).run();
    db.prepare(
      `INSERT INTO traffic_schedules (id, source, target, protocol, duration_seconds, parallel, reverse, start_server,
      interval_seconds, jitter_seconds, enabled, last_test_id, created_at, updated_at) VALUES (2, 'a', 'b', 'tcp', 5, 1, 0, 0, 600, 0, 1, 9, 1, 1)`,
    ).run();
    db.prepare(
      `INSERT INTO traffic_tests (id, source, target, target_address, protocol, duration_seconds, parallel, reverse,
      start_server, port, schedule_id, state, queued_at) VALUES (3, 'a', 'b', '10.1.0.9', 'tcp', 5, 1, 0, 0, 5201, 2, 'done', 1)`,
    ).run();
    db.prepare(
      `INSERT INTO proxmox_vm_jobs (id, idempotency_key, request_hash, request, actor, node, name, state, steps,
      created_at, updated_at) VALUES (6, 'k1', 'h', '{}', 'admin', 'pve', 'vm', 'done', '[]', 1, 1)`,
    ).run();
    db.prepare(
      `INSERT INTO proxmox_address_links (address_id, vmid, node, guest_type, pinned, job_id, created_at)
      VALUES (4, 100, 'pve', 'qemu', 1, 6, 1)`,
    ).run();
  }

  /** Everything but the tables' own CREATE statements, which gain AUTOINCREMENT. */
  function schemaOf(db: Database.Database) {
    const objects = db
      .prepare(
        `SELECT type, name, tbl_name, sql FROM sqlite_master
      WHERE type IN ('index', 'trigger', 'view') ORDER BY type, name`,
      )
      .all() as { sql: string | null }[];
    const normalized = objects.map((o) => ({ ...o, sql: o.sql?.replace(/\s+/g, ' ') ?? null }));
    const tables = (
      db
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence' ORDER BY name`)
        .all() as { name: string }[]
    ).map((t) => t.name);
    const foreignKeys = Object.fromEntries(tables.map((t) => [t, db.pragma(`foreign_key_list(${t})`)]));
    const columns = Object.fromEntries(tables.map((t) => [t, db.pragma(`table_xinfo(${t})`)]));
    return { tables, objects: normalized, foreignKeys, columns };
  }

  function dump(db: Database.Database, tables: string[]) {
    return Object.fromEntries(
      tables.map((t) => {
        const columns = (db.pragma(`table_info(${t})`) as { name: string }[]).map((c) => `"${c.name}"`).join(', ');
        return [t, db.prepare(`SELECT * FROM ${t} ORDER BY ${columns}`).all()];
      }),
    );
  }

  it('keeps every row, index, trigger and foreign key, and gains AUTOINCREMENT', () => {
    assert.ok(previous >= 5 && previous < LATEST_VERSION);
    const dir = tempDir();
    try {
      const file = join(dir.dir, 'old.db');
      const old = storeAt(file, previous);
      fill(old);
      for (const table of ID_TABLES)
        assert.ok(!isAutoincrement(old, table), `${table} has no AUTOINCREMENT before the upgrade`);
      old.close();
      // What the upgrade must keep: the old store, plus what migrations after the rebuild add.
      const expectedFile = join(dir.dir, 'expected.db');
      copyFileSync(file, expectedFile);
      const expected = new Database(expectedFile);
      for (const m of MIGRATIONS.filter((x) => x.version > previous + 1)) {
        // As the runner does: a rebuild's DROP TABLE must not cascade into the tables referring to it.
        if (m.rebuildsTables) expected.pragma('foreign_keys = OFF');
        expected.exec(m.sql);
        expected.pragma('foreign_keys = ON');
      }
      const schemaBefore = schemaOf(expected);
      const rowsBefore = dump(expected, schemaBefore.tables);
      expected.close();

      const db = openDb(file);
      try {
        assert.equal(schemaVersion(db), LATEST_VERSION);
        assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'enforcement is back on after the rebuild');
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        assert.deepEqual(db.pragma('foreign_key_check'), []);
        assert.deepEqual(schemaOf(db), schemaBefore);
        assert.deepEqual(dump(db, schemaBefore.tables), rowsBefore);
        for (const table of ID_TABLES)
          assert.ok(isAutoincrement(db, table), `${table} uses AUTOINCREMENT after the upgrade`);

        // The high-water marks: the largest id, or a larger one that other rows or the audit log mention.
        const seq = Object.fromEntries(
          (db.prepare('SELECT name, seq FROM sqlite_sequence').all() as { name: string; seq: number }[]).map((r) => [
            r.name,
            r.seq,
          ]),
        );
        assert.deepEqual(seq, {
          subnets: 3,
          addresses: 20,
          ranges: 5,
          audit_log: 3,
          events: 7,
          scans: 4,
          traffic_schedules: 2,
          traffic_tests: 9,
          proxmox_vm_jobs: 6,
          vrfs: 1, // the global VRF (migration 8)
        });

        // The triggers work: address_totals follows inserts and deletes.
        const totals = () =>
          Object.fromEntries(
            (
              db.prepare('SELECT state, source, n FROM address_totals').all() as {
                state: string;
                source: string;
                n: number;
              }[]
            ).map((r) => [`${r.state}/${r.source}`, r.n]),
          );
        assert.deepEqual(totals(), {
          'assigned/docker': 1,
          'reserved/docker': 1,
          'assigned/manual': 9,
          'reserved/manual': 8,
        });
        const now = new Date().toISOString();
        const added = Number(
          db
            .prepare(
              `INSERT INTO addresses (ip_key, ip_low, address, family, state, source, created_at, updated_at)
          VALUES (x'0a010032', 167837746, '10.1.0.50', 4, 'reserved', 'manual', ?, ?)`,
            )
            .run(now, now).lastInsertRowid,
        );
        assert.equal(added, 21, 'address 20, deleted before the upgrade, is not handed out again');
        assert.equal(totals()['reserved/manual'], 9);

        // Subnet 3 was deleted before the upgrade; its id stays retired.
        const subnet = Number(
          db
            .prepare(
              `INSERT INTO subnets (cidr, family, prefix_length, first_key, last_key, created_at, updated_at)
          VALUES ('10.4.0.0/24', 4, 24, x'0a040000', x'0a0400ff', ?, ?)`,
            )
            .run(now, now).lastInsertRowid,
        );
        assert.equal(subnet, 4);

        // ON DELETE CASCADE and SET NULL still act, now on the rebuilt tables.
        db.prepare('DELETE FROM subnets WHERE id = 2').run();
        assert.equal((db.prepare('SELECT count(*) AS n FROM ranges').get() as { n: number }).n, 0);
        db.prepare('DELETE FROM subnets WHERE id = 1').run();
        assert.equal((db.prepare('SELECT count(*) AS n FROM docker_subnets').get() as { n: number }).n, 0);
        db.prepare('DELETE FROM addresses WHERE id IN (1, 4)').run();
        assert.equal((db.prepare('SELECT count(*) AS n FROM docker_addresses').get() as { n: number }).n, 1);
        assert.equal((db.prepare('SELECT count(*) AS n FROM proxmox_address_links').get() as { n: number }).n, 0);
        db.prepare('DELETE FROM traffic_schedules WHERE id = 2').run();
        assert.equal(
          (db.prepare('SELECT schedule_id FROM traffic_tests WHERE id = 3').get() as { schedule_id: number | null })
            .schedule_id,
          null,
        );
        assert.throws(
          () =>
            db
              .prepare(
                `INSERT INTO ranges (subnet_id, start_address, end_address, first_key, last_key, label, created_at, updated_at)
          VALUES (99, 'a', 'b', x'00', x'01', 'l', ?, ?)`,
              )
              .run(now, now),
          /FOREIGN KEY/,
        );
      } finally {
        db.close();
      }
      // Opening the upgraded store again changes nothing.
      const again = openDb(file);
      assert.equal(schemaVersion(again), LATEST_VERSION);
      again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('upgrades an empty store of the previous version', () => {
    const dir = tempDir();
    try {
      const file = join(dir.dir, 'empty.db');
      storeAt(file, previous).close();
      const db = openDb(file);
      try {
        for (const table of ID_TABLES) assert.ok(isAutoincrement(db, table), table);
        const first = Number(
          db.prepare(`INSERT INTO events (at, kind, message) VALUES (1, 'x', 'm')`).run().lastInsertRowid,
        );
        assert.equal(first, 1);
      } finally {
        db.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});

function isAutoincrement(db: Database.Database, table: string): boolean {
  const row = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) as
    { sql: string } | undefined;
  assert.ok(row, `table ${table} exists`);
  return /\bid INTEGER PRIMARY KEY AUTOINCREMENT\b/i.test(row.sql);
}
