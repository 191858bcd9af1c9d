// Opens the store the configuration names (#14): the SQLite file `db` — owned by this one
// process, checkpointed here — or, with `database.url`, a PostgreSQL pool shared with other
// replicas, its schema created or migrated at start-up (under an advisory lock, so replicas
// starting together migrate once) and an advisory-lock leader election for the periodic work.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { Checkpointer } from './checkpointer.js';
import { type Db, openDb } from './db.js';
import { AdvisoryLeader, type Leadership, SoleLeader } from './leadership.js';
import { releaseOwnership, takeOwnership } from './ownership.js';
import { migratePostgresStore } from './pg-schema.js';
import { Store, openPool } from './store.js';

export interface OpenedStore {
  readonly store: Store;
  /** The SQLite handle (null on PostgreSQL). */
  readonly db: Db | null;
  /** Who runs the periodic work: always this process on SQLite. Not started yet. */
  readonly leadership: Leadership;
  /** What the operator should read in the log: the file, or the database without its password. */
  readonly shownAs: string;
  close(): Promise<void>;
}

export async function openStore(config: Config, logger: Logger): Promise<OpenedStore> {
  const url = config.database.url;
  return url ? openPostgres(url, config, logger) : openSqlite(config);
}

function openSqlite(config: Config): OpenedStore {
  const db = openDb(config.db, { synchronous: config.db_synchronous === 'full' ? 'FULL' : 'NORMAL' });
  try {
    takeOwnership(db);
  } catch (e) {
    db.close();
    throw e;
  }
  const checkpointer = new Checkpointer(db);
  return {
    store: Store.sqlite(db),
    db,
    leadership: new SoleLeader(),
    shownAs: config.db,
    async close() {
      releaseOwnership(db);
      await checkpointer.stop();
      db.close();
    },
  };
}

async function openPostgres(url: string, config: Config, logger: Logger): Promise<OpenedStore> {
  const pool = openPool(url, { poolSize: config.database.pool_size });
  const store = Store.postgres(pool);
  try {
    const migrated = await migratePostgresStore(store.exec);
    if (migrated.from !== migrated.version)
      logger.info({ from: migrated.from, version: migrated.version }, 'PostgreSQL store migrated');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  const leadership = new AdvisoryLeader(url, {
    onError: (e) => logger.warn({ err: (e as Error).message }, 'leadership check failed'),
  });
  return {
    store,
    db: null,
    leadership,
    shownAs: redactedUrl(url),
    async close() {
      await leadership.stop();
      await store.close();
    },
  };
}

/** The database URL without its password (for the log). */
export function redactedUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
