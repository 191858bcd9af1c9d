// A fresh store for one test, on the backend under test: `LANSCAPE_TEST_BACKEND=sqlite` (the
// default) or `postgres` (#14: the domain suites run on both). The store is closed and its
// files removed when the test ends.
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from './exporter.js';

export type TestBackend = 'sqlite' | 'postgres';

export const TEST_BACKEND: TestBackend = process.env.LANSCAPE_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

export async function openTestStore(t: TestContext): Promise<Store> {
  if (TEST_BACKEND === 'postgres') throw new Error('the PostgreSQL test store arrives with the squashed schema');
  const { dir, cleanup } = tempDir();
  const store = Store.sqlite(openDb(join(dir, 'lanscape.db')));
  t.after(async () => {
    await store.close();
    cleanup();
  });
  return store;
}
