// Group commit: concurrent writes share a transaction, fail alone, and are answered after COMMIT.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { openDb } from '../src/store/db.js';
import { sqliteExec } from '../src/store/sql-exec.js';
import { WriteBatcher } from '../src/store/write-batcher.js';
import { tempDir } from './helpers/exporter.js';

it('batches, isolates failures with savepoints and resolves only once committed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'b.db');
    const db = openDb(file);
    db.exec('CREATE TABLE t (x INTEGER UNIQUE)');
    // Without the time budget (8 ms by default), which split the four on a loaded CI machine:
    // grouping is what this test checks; the budget is checked below.
    const writes = new WriteBatcher(sqliteExec(db), undefined, 256, Number.POSITIVE_INFINITY);
    const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
    const other = new Database(file, { readonly: true });
    const visibleElsewhere = () => (other.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
    const ops = [1, 2, 2, 3].map((x) =>
      writes.run(() => {
        insert.run(x);
        return x;
      }),
    );
    assert.equal(visibleElsewhere(), 0, 'nothing runs before the batch is flushed');
    const settled = await Promise.allSettled(ops);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((settled[2] as PromiseRejectedResult).reason), /UNIQUE/);
    assert.equal(visibleElsewhere(), 3, 'committed: another connection sees the writes');
    assert.equal(writes.maxBatch, 4, 'one transaction for the four');
    // A batch over its budget leaves the rest to the next one (a budget of 0: one each).
    const strict = new WriteBatcher(sqliteExec(db), undefined, 256, 0);
    await Promise.all([4, 5, 6].map((x) => strict.run(() => insert.run(x))));
    assert.equal(strict.maxBatch, 1);
    assert.equal(visibleElsewhere(), 6);
    other.close();
    db.close();
  } finally {
    cleanup();
  }
});
