// A fresh store for one test, on the backend under test: `LANSCAPE_TEST_BACKEND=sqlite` (the
// default) or `postgres` (#14: the domain suites run on both). The store is closed and its
// files or database removed when the test ends.
//
// PostgreSQL: every test gets a database of its own, migrated with the squashed schema, in one
// throw-away cluster per test process (helpers/postgres.ts, started at the first use and stopped
// when the process ends) — or in the cluster named by LANSCAPE_TEST_PG_URL (a runner that
// starts one cluster for many test files).
import { after, type TestContext } from 'node:test';
import { join } from 'node:path';
import pg from 'pg';
import { openDb } from '../../src/store/db.js';
import { migratePostgresStore } from '../../src/store/pg-schema.js';
import { Store, openPool } from '../../src/store/store.js';
import { tempDir } from './exporter.js';
import { type TestPostgres, startPostgres } from './postgres.js';

export type TestBackend = 'sqlite' | 'postgres';

export const TEST_BACKEND: TestBackend = process.env.LANSCAPE_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

let cluster: Promise<TestPostgres | undefined> | undefined;
/**
 * Databases to drop once every test of the file has run: a test's `after` hooks run in the order
 * they were registered, so a drop registered there would run before the stores opened later
 * (a second replica's) are closed, and end their pooled connections under them.
 */
const drops: (() => Promise<void>)[] = [];
// Once every test of the file has run (a hook of the file's root, registered as it loads).
after(async () => {
  for (const drop of drops.splice(0)) await drop();
  await (await cluster)?.stop();
});

/**
 * The cluster's admin URL (…/postgres), starting this process's cluster at the first call.
 * Without `t` (a before() hook) a missing PostgreSQL throws instead of skipping.
 */
async function clusterUrl(t: TestContext | undefined): Promise<string | undefined> {
  if (process.env.LANSCAPE_TEST_PG_URL) return process.env.LANSCAPE_TEST_PG_URL;
  if (!cluster) {
    cluster = startPostgres(t);
  }
  return (await cluster)?.url;
}

/**
 * A fresh, empty PostgreSQL database in the test cluster (undefined: the test was skipped).
 * It is dropped once the file's tests ran — or, with `dropLater: false`, when the caller says
 * (dropTestDatabase: an exporter drops its own database when it stops).
 */
export async function createTestDatabase(
  t?: TestContext,
  { dropLater = true }: { dropLater?: boolean } = {},
): Promise<string | undefined> {
  const admin = await clusterUrl(t);
  if (!admin) return undefined;
  const name = `t_${Math.random().toString(36).slice(2, 12)}`;
  await asAdmin(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  if (dropLater) drops.push(() => dropTestDatabase(url.toString()));
  return url.toString();
}

/** Drops a database createTestDatabase made (its connections ended first). */
export async function dropTestDatabase(url: string): Promise<void> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  try {
    await asAdmin(admin.toString(), (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  } catch (e) {
    // The file's cluster stopped already (its root after() hook ran first): nothing is left.
    if ((e as NodeJS.ErrnoException).code !== 'ECONNREFUSED' && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

async function asAdmin(url: string, fn: (c: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A migrated store on the backend under test. On PostgreSQL, `url` (another database of the
 * same test, e.g. for a second replica) shares that database instead of creating one.
 */
export async function openTestStore(t: TestContext, options: { url?: string; poolSize?: number } = {}): Promise<Store> {
  if (TEST_BACKEND === 'postgres' || options.url) {
    const url = options.url ?? (await createTestDatabase(t));
    if (!url) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
    const store = Store.postgres(openPool(url, { poolSize: options.poolSize ?? 4 }));
    t.after(() => store.close());
    await migratePostgresStore(store.exec);
    return store;
  }
  const { dir, cleanup } = tempDir();
  const store = Store.sqlite(openDb(join(dir, 'lanscape.db')));
  t.after(async () => {
    await store.close();
    cleanup();
  });
  return store;
}

/** The URL of the PostgreSQL database behind a store (for a second replica on the same data). */
export function databaseUrlOf(store: Store): string | undefined {
  const options = (store.pool as unknown as { options?: { connectionString?: string } } | undefined)?.options;
  return options?.connectionString;
}
