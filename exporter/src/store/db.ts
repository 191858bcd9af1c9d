// Opens the SQLite store: WAL, foreign keys, busy timeout, then applies pending migrations.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { APPLICATION_ID, LATEST_VERSION, MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** NORMAL survives a crash of the process (kill -9); FULL also survives power loss. */
  readonly synchronous?: 'NORMAL' | 'FULL';
  readonly readonly?: boolean;
}

export class StoreVersionError extends Error {}

export function openDb(file: string, options: OpenOptions = {}): Db {
  if (file !== ':memory:' && !options.readonly) mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  db.pragma('busy_timeout = 5000');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  }
  db.pragma('foreign_keys = ON');
  if (!options.readonly) migrate(db);
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function applicationId(db: Db): number {
  return db.pragma('application_id', { simple: true }) as number;
}

function migrate(db: Db): void {
  const appId = applicationId(db);
  const current = schemaVersion(db);
  if (current === 0 && appId === 0) {
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
    if (tables.n > 0)
      throw new StoreVersionError('the database file is not a Lanscape store (it has tables of its own)');
  } else if (appId !== APPLICATION_ID) {
    throw new StoreVersionError('the database file is not a Lanscape store');
  }
  if (current > LATEST_VERSION) {
    throw new StoreVersionError(
      `the store has schema version ${current}, newer than this exporter understands (${LATEST_VERSION}); upgrade Lanscape`,
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    // A table rebuild needs enforcement off (the pragma is a no-op inside a transaction) and
    // every foreign key checked before it commits (steps 1 and 10 of SQLite's ALTER procedure).
    if (m.rebuildsTables) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(m.sql);
        if (m.rebuildsTables) {
          const broken = db.pragma('foreign_key_check') as unknown[];
          if (broken.length > 0) {
            throw new StoreVersionError(
              `migration ${m.version} (${m.name}) left ${broken.length} broken foreign keys: ${JSON.stringify(broken.slice(0, 5))}`,
            );
          }
        }
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${m.version}`);
      }).immediate();
    } finally {
      if (m.rebuildsTables) db.pragma('foreign_keys = ON');
    }
  }
}
