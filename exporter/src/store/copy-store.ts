// Copies a SQLite store into an empty PostgreSQL database (`npm run migrate-store`, #14): every
// table the two schemas share, audit log included, ids kept, in one PostgreSQL transaction, then
// counts compared table by table before the commit. Nothing is written to the SQLite file.
//
// - The target must be empty: its schema is created here (or found at the same version with no
//   rows); a store with rows is refused, so a second run cannot mix two stores.
// - Rows are read with 64-bit integers intact (`ip_low` holds the low half of an IPv6 address).
// - Tables are filled parents first (foreign keys checked as rows arrive).
// - Tables the database keeps itself (`address_totals`, by triggers) are not copied but compared
//   after the copy: equal totals show the triggers and the copied rows agree.
// - Identity sequences continue after the largest id the SQLite store ever handed out
//   (`sqlite_sequence`, which remembers deleted ones too): ids are never reused (migration 6).
import Database from 'better-sqlite3';
import { LATEST_VERSION } from './migrations.js';
import { liveOwner } from './ownership.js';
import type { SqlExec } from './sql-exec.js';

/** Kept by triggers on both backends: compared, not copied. */
const DERIVED_TABLES = new Set(['address_totals']);
/** PostgreSQL-only bookkeeping, not in the SQLite store. */
const TARGET_ONLY = new Set(['lanscape_meta']);
/**
 * Rows the schema itself creates (the global VRF, id 1): an empty store has them. They do not
 * make the target "not empty" and are replaced by the source's rows (same id).
 */
const SEEDED_ROWS: Record<string, string> = { vrfs: 'id = 1' };
const BATCH_ROWS = 500;

export class CopyStoreError extends Error {}

export interface TableCopy {
  table: string;
  rows: number;
}

export interface CopyProgress {
  table: string;
  copied: number;
  total: number;
}

export interface CopyStoreOptions {
  /** Creates or checks the target's schema (pg-schema.ts). */
  migrate(exec: SqlExec): Promise<unknown>;
  onProgress?(progress: CopyProgress): void;
}

interface Column {
  name: string;
}

export async function copyStore(sourceFile: string, target: SqlExec, options: CopyStoreOptions): Promise<TableCopy[]> {
  if (target.dialect !== 'postgres') throw new CopyStoreError('the target must be a PostgreSQL database');
  let source: Database.Database;
  try {
    source = new Database(sourceFile, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new CopyStoreError(`cannot open ${sourceFile}: ${(e as Error).message}`);
  }
  try {
    const version = source.pragma('user_version', { simple: true }) as number;
    if (version !== LATEST_VERSION) {
      throw new CopyStoreError(
        `${sourceFile} is at schema version ${version}, this Lanscape copies version ${LATEST_VERSION}` +
          (version < LATEST_VERSION ? ': start this exporter on it once (it migrates), then copy' : ''),
      );
    }
    const owner = liveOwner(source);
    if (owner !== undefined)
      throw new CopyStoreError(`an exporter (pid ${owner}) is using ${sourceFile}: stop it, or copy a backup of it`);
    await options.migrate(target);
    const targetTables = new Set(
      (
        await target.all<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
      ).map((r) => r.name),
    );
    const tables = parentsFirst(source).filter((t) => !DERIVED_TABLES.has(t));
    for (const t of tables) {
      if (!targetTables.has(t)) throw new CopyStoreError(`the target has no table ${t}`);
    }
    return await target.transaction(async (tx) => {
      for (const t of targetTables) {
        if (TARGET_ONLY.has(t)) continue;
        const seeded = SEEDED_ROWS[t];
        const row = await tx.get<{ n: number }>(
          `SELECT count(*) AS n FROM ${quoteIdent(t)}${seeded ? ` WHERE NOT (${seeded})` : ''}`,
        );
        if ((row?.n ?? 0) > 0)
          throw new CopyStoreError(`the target database is not empty (table ${t} has rows): copy into an empty one`);
      }
      for (const [t, seeded] of Object.entries(SEEDED_ROWS))
        await tx.run(`DELETE FROM ${quoteIdent(t)} WHERE ${seeded}`);
      const copied: TableCopy[] = [];
      for (const table of tables) copied.push(await copyTable(source, tx, table, options.onProgress));
      for (const table of tables) await continueIdentity(source, tx, table);
      // The totals triggers are deferred to COMMIT on PostgreSQL: run them now, to compare.
      await tx.run('SET CONSTRAINTS ALL IMMEDIATE');
      for (const table of DERIVED_TABLES) await compareDerived(source, tx, table);
      for (const c of copied) {
        const row = await tx.get<{ n: number }>(`SELECT count(*) AS n FROM ${quoteIdent(c.table)}`);
        if (row?.n !== c.rows)
          throw new CopyStoreError(`table ${c.table}: ${c.rows} rows read, ${row?.n ?? 0} in the target`);
      }
      return copied;
    });
  } finally {
    source.close();
  }
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new CopyStoreError(`unexpected table or column name ${name}`);
  return `"${name}"`;
}

/** The store's tables ordered so that every table comes after those its foreign keys point to. */
function parentsFirst(db: Database.Database): string[] {
  const names = (
    db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as {
      name: string;
    }[]
  ).map((r) => r.name);
  const parents = new Map(
    names.map((n) => [
      n,
      (db.pragma(`foreign_key_list(${quoteIdent(n)})`) as { table: string }[])
        .map((f) => f.table)
        .filter((p) => p !== n),
    ]),
  );
  const ordered: string[] = [];
  const visit = (n: string, path: Set<string>) => {
    if (ordered.includes(n)) return;
    if (path.has(n)) throw new CopyStoreError(`foreign keys form a cycle through ${n}`);
    path.add(n);
    for (const p of parents.get(n) ?? []) visit(p, path);
    path.delete(n);
    ordered.push(n);
  };
  for (const n of names) visit(n, new Set());
  return ordered;
}

async function copyTable(
  source: Database.Database,
  tx: SqlExec,
  table: string,
  onProgress: CopyStoreOptions['onProgress'],
): Promise<TableCopy> {
  const columns = (source.pragma(`table_info(${quoteIdent(table)})`) as Column[]).map((c) => c.name);
  const list = columns.map(quoteIdent).join(', ');
  // The owner_pid row names a process on the SQLite host (ownership.ts): it means nothing here.
  // The inventories the exporter published (`published:*`, store/published.ts) are copied on
  // purpose: the replicas show the last known Docker and Proxmox state until a leader lists anew.
  const where = table === 'meta' ? " WHERE key <> 'owner_pid'" : '';
  // Identity columns accept given ids (GENERATED BY DEFAULT).
  const read = source
    .prepare(`SELECT ${list} FROM ${quoteIdent(table)}${where}`)
    .raw(true)
    .safeIntegers(true);
  const total = (source.prepare(`SELECT count(*) AS n FROM ${quoteIdent(table)}${where}`).get() as { n: number }).n;
  let batch: unknown[][] = [];
  let copied = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const one = `(${columns.map(() => '?').join(', ')})`;
    await tx.run(
      `INSERT INTO ${quoteIdent(table)} (${list}) VALUES ${batch.map(() => one).join(', ')}`,
      batch.flat().map(fromSqlite),
    );
    copied += batch.length;
    batch = [];
    onProgress?.({ table, copied, total });
  };
  for (const row of read.iterate() as Iterable<unknown[]>) {
    batch.push(row);
    if (batch.length >= BATCH_ROWS) await flush();
  }
  await flush();
  return { table, rows: copied };
}

/** 64-bit integers come as BigInt (exact); those that fit a number are sent as one. */
function fromSqlite(value: unknown): unknown {
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER))
    return Number(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

async function continueIdentity(source: Database.Database, tx: SqlExec, table: string): Promise<void> {
  const identity = await tx.get<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND is_identity = 'YES'",
    [table],
  );
  if (!identity) return;
  const hasSequence = source.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get() !== undefined;
  const seq = hasSequence
    ? ((source.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(table) as { seq: number } | undefined)
        ?.seq ?? 0)
    : 0;
  const max =
    (
      source.prepare(`SELECT max(${quoteIdent(identity.column_name)}) AS m FROM ${quoteIdent(table)}`).get() as {
        m: number | null;
      }
    ).m ?? 0;
  const last = Math.max(seq, max);
  if (last === 0) return;
  await tx.get('SELECT setval(pg_get_serial_sequence(?, ?), ?)', [table, identity.column_name, last]);
}

async function compareDerived(source: Database.Database, tx: SqlExec, table: string): Promise<void> {
  // Sorted here, not by ORDER BY: the two databases may collate text differently.
  const lines = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();
  const columns = (source.pragma(`table_info(${quoteIdent(table)})`) as Column[]).map((c) => quoteIdent(c.name));
  const select = `SELECT ${columns.join(', ')} FROM ${quoteIdent(table)} WHERE n <> 0`;
  const wanted = lines(source.prepare(select).raw(true).all() as unknown[][]);
  const got = lines((await tx.all<Record<string, unknown>>(select)).map((r) => Object.values(r)));
  if (JSON.stringify(got) !== JSON.stringify(wanted))
    throw new CopyStoreError(
      `table ${table} (kept by triggers) differs after the copy: ${got.join(' ')} vs ${wanted.join(' ')}`,
    );
}
