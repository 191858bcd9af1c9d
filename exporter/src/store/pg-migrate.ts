// The migration runner for PostgreSQL (#14, plan item 5), on SqlExec. Not wired into start-up
// yet (no config option until the stores are ported). Differences from SQLite's runner (db.ts):
// - the version lives in a meta row (lanscape_meta) instead of PRAGMA user_version;
// - migrating holds pg_advisory_xact_lock(MIGRATION_LOCK_KEY) inside one transaction (DDL is
//   transactional on PostgreSQL), so N replicas starting together migrate once: the others wait
//   for the lock, then see the version already written;
// - an empty database gets one squashed schema body at its version, not the SQLite history; a
//   database at an older version is brought up by the schema's upgrade steps, one per version
//   (from 10 on: databases before 9 were never released with a step, and are refused).
import { StoreVersionError } from './db.js';
import type { SqlExec } from './sql-exec.js';

/** A fixed advisory-lock key ("LNSC" as in APPLICATION_ID, then "MIGR"). */
export const MIGRATION_LOCK_KEY = 0x4c4e53434d494752n;

export interface PostgresSchema {
  version: number;
  /** One statement per entry (named statements take one statement each). */
  statements: readonly string[];
  /**
   * Upgrade steps by the version they reach: `upgrades[n]` takes a database at n - 1 to n (one
   * statement per entry), so that it ends with the catalog `statements` create.
   */
  upgrades?: Readonly<Record<number, readonly string[]>>;
}

export interface MigrateResult {
  /** The version before this call (0: an empty database). */
  from: number;
  version: number;
  /** Whether this call created the schema. */
  created: boolean;
}

const META_DDL = 'CREATE TABLE lanscape_meta (key text PRIMARY KEY, value text NOT NULL)';

export async function migratePostgres(exec: SqlExec, schema: PostgresSchema): Promise<MigrateResult> {
  if (exec.dialect !== 'postgres') throw new Error('migratePostgres needs a PostgreSQL executor');
  return exec.transaction(async (tx) => {
    await tx.get('SELECT pg_advisory_xact_lock(?::bigint)', [MIGRATION_LOCK_KEY.toString()]);
    const tables = await tx.all<{ name: string }>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()',
    );
    if (!tables.some((r) => r.name === 'lanscape_meta')) {
      if (tables.length > 0) {
        throw new StoreVersionError('the database is not a Lanscape store (it has tables of its own)');
      }
      await tx.run(META_DDL);
      for (const statement of schema.statements) await tx.run(statement);
      await tx.run("INSERT INTO lanscape_meta (key, value) VALUES ('version', ?)", [String(schema.version)]);
      return { from: 0, version: schema.version, created: true };
    }
    const row = await tx.get<{ value: string }>("SELECT value FROM lanscape_meta WHERE key = 'version'");
    const version = Number(row?.value);
    if (!Number.isInteger(version) || version < 1) {
      throw new StoreVersionError('the database is not a Lanscape store (no version in lanscape_meta)');
    }
    if (version > schema.version) {
      throw new StoreVersionError(
        `the database is at schema version ${version}, newer than this Lanscape (${schema.version}); ` +
          'upgrade Lanscape or restore a backup',
      );
    }
    for (let to = version + 1; to <= schema.version; to++) {
      const steps = schema.upgrades?.[to];
      // Checked before anything runs: a database that cannot reach the version is left as it is.
      if (!steps) throw new StoreVersionError(`no PostgreSQL migration from version ${to - 1} to ${to}`);
    }
    for (let to = version + 1; to <= schema.version; to++) {
      for (const statement of schema.upgrades![to]!) await tx.run(statement);
      await tx.run("UPDATE lanscape_meta SET value = ? WHERE key = 'version'", [String(to)]);
    }
    return { from: version, version: schema.version, created: false };
  });
}
