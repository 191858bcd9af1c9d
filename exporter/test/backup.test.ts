// Online backup under write load, restore into a stopped store, and the refusals.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { type ChildExporter, runCli, spawnExporter, tempDir, testEnv } from './helpers/exporter.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

describe('backup and restore', () => {
  it('takes a consistent backup under write load that restores every earlier reservation', async () => {
    const live = join(dir, 'live.db');
    const exporter: ChildExporter = await spawnExporter(testEnv(live));
    const subnet = (await exporter.api.post('/api/v1/subnets', { cidr: '10.88.0.0/16' })).body;
    const acknowledged: string[] = [];
    let writing = true;
    const writer = async () => {
      while (writing) {
        const r = await exporter.api.post(`/api/v1/subnets/${subnet.id}/available-ips`, { count: 1 });
        assert.equal(r.status, 201);
        acknowledged.push(r.body[0].address);
      }
    };
    const writers = Promise.all(Array.from({ length: 8 }, writer));
    while (acknowledged.length < 500) await sleep(5);
    const beforeBackup = [...acknowledged];
    const backupFile = join(dir, 'backup.db');
    const result = await runCli('backup', [backupFile, '--db', live]);
    const duringBackup = acknowledged.length - beforeBackup.length;
    writing = false;
    await writers;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      ['-wal', '-shm'].filter((x) => existsSync(backupFile + x)),
      [],
      'the backup is one file',
    );
    const summary = JSON.parse(result.stdout);
    assert.ok(summary.addresses >= beforeBackup.length);
    assert.ok(duringBackup > 0, 'writes went on while the backup ran');

    // Restore is refused while the exporter uses the store.
    const refused = await runCli('restore', [backupFile, '--db', live]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /is using .*stop it before restoring/);
    await exporter.stop();

    const target = join(dir, 'restored.db');
    const restored = await runCli('restore', [backupFile, '--db', target]);
    assert.equal(restored.code, 0, restored.stderr);
    const db = new Database(target, { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const have = new Set(
        (db.prepare('SELECT address FROM addresses').all() as { address: string }[]).map((r) => r.address),
      );
      const missing = beforeBackup.filter((a) => !have.has(a));
      assert.deepEqual(missing, []);
    } finally {
      db.close();
    }
    // The restored store serves: an exporter starts on it and allocates a new address.
    const again = await spawnExporter(testEnv(target));
    try {
      const next = await again.api.post(`/api/v1/subnets/${subnet.id}/available-ips`, { count: 1 });
      assert.equal(next.status, 201);
    } finally {
      await again.stop();
    }
    // Restoring over an existing stopped store keeps the old one aside.
    const over = await runCli('restore', [backupFile, '--db', live]);
    assert.equal(over.code, 0, over.stderr);
    assert.match(JSON.parse(over.stdout).previous, /live\.db\.pre-restore-/);
  });

  it('refuses files that are not Lanscape stores or come from a newer schema', async () => {
    const target = join(dir, 'target.db');
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello, not a database\n'.repeat(100));
    const r1 = await runCli('restore', [text, '--db', target]);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /not a SQLite database/);

    const foreign = join(dir, 'foreign.db');
    const f = new Database(foreign);
    f.exec('CREATE TABLE t (x)');
    f.close();
    const r2 = await runCli('restore', [foreign, '--db', target]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /not a Lanscape store/);

    const base = join(dir, 'live.db');
    const newer = join(dir, 'newer.db');
    copyFileSync(base, newer);
    const n = new Database(newer);
    n.pragma('user_version = 999');
    n.close();
    const r3 = await runCli('restore', [newer, '--db', target]);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /schema version 999, newer than this Lanscape/);

    const r4 = await runCli('backup', [join(dir, 'x.db'), '--db', join(dir, 'missing.db')]);
    assert.equal(r4.code, 2);
    assert.match(r4.stderr, /no store at/);
    // A folder that does not exist is a clear refusal, not a stack trace, and writes nothing.
    const before = readdirSync(dir).sort();
    const r6 = await runCli('backup', [join(dir, 'backups', 'x.db'), '--db', base]);
    assert.equal(r6.code, 2);
    assert.match(r6.stderr, /folder .*backups does not exist; create it first/);
    assert.doesNotMatch(r6.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(readdirSync(dir).sort(), before);
    const r5 = await runCli('backup', ['--bogus']);
    assert.equal(r5.code, 2);
    assert.match(r5.stderr, /Unknown option '--bogus'/);
  });
});
