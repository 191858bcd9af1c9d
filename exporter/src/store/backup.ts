// Online backup with SQLite's backup API, and restore into a stopped store.
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Clock, systemClock } from '../clock.js';
import { type Db, applicationId, schemaVersion } from './db.js';
import Database from 'better-sqlite3';
import { APPLICATION_ID, LATEST_VERSION } from './migrations.js';
import { liveOwner } from './ownership.js';

export class BackupError extends Error {}

export interface BackupSummary {
  file: string;
  bytes: number;
  schema_version: number;
  subnets: number;
  addresses: number;
}

/**
 * Copies the live store to `target`. After a first small step the rest goes in one step, i.e. one
 * read transaction, so a busy writer cannot keep restarting it and the copy is one snapshot.
 */
export async function backupStore(source: string, target: string): Promise<BackupSummary> {
  if (!existsSync(source)) throw new BackupError(`no store at ${source}`);
  if (existsSync(target)) throw new BackupError(`${target} exists; choose a new file name`);
  const folder = dirname(target);
  if (!existsSync(folder))
    throw new BackupError(`folder ${folder} does not exist; create it first (mkdir -p ${folder})`);
  if (!statSync(folder).isDirectory()) throw new BackupError(`${folder} is not a folder`);
  const db = new Database(source, { fileMustExist: true });
  try {
    checkLanscape(db, source);
    await db.backup(target, { progress: () => 1 << 30 });
  } finally {
    db.close();
  }
  toSingleFile(target);
  return verify(target);
}

/** Replaces the store at `target` with the backup in `source`; the old store is kept beside it. */
export async function restoreStore(
  source: string,
  target: string,
  clock: Clock = systemClock,
): Promise<BackupSummary & { previous?: string }> {
  const summary = verify(source);
  if (existsSync(target)) {
    const current = new Database(target, { fileMustExist: true });
    try {
      const pid = liveOwner(current);
      if (pid) throw new BackupError(`the exporter (pid ${pid}) is using ${target}; stop it before restoring`);
    } finally {
      current.close();
    }
  }
  const staging = `${target}.restore-${process.pid}`;
  const src = new Database(source, { readonly: true, fileMustExist: true });
  try {
    await src.backup(staging, { progress: () => 1 << 30 });
  } finally {
    src.close();
  }
  let previous: string | undefined;
  if (existsSync(target)) {
    previous = `${target}.pre-restore-${new Date(clock()).toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(target + suffix)) renameSync(target + suffix, previous + suffix);
    }
  }
  renameSync(staging, target);
  rmSync(`${staging}-journal`, { force: true });
  return { ...summary, file: target, ...(previous ? { previous } : {}) };
}

function checkLanscape(db: Db, file: string): number {
  if (applicationId(db) !== APPLICATION_ID) throw new BackupError(`${file} is not a Lanscape store`);
  const version = schemaVersion(db);
  if (version > LATEST_VERSION) {
    throw new BackupError(
      `${file} has schema version ${version}, newer than this Lanscape (${LATEST_VERSION}); upgrade first`,
    );
  }
  return version;
}

/**
 * The copy inherits the live store's WAL mode, so every later open would leave -wal/-shm files
 * beside it; a backup is one self-contained file (the exporter turns WAL back on after a restore).
 */
function toSingleFile(file: string): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
}

function verify(file: string): BackupSummary {
  if (!existsSync(file)) throw new BackupError(`no file ${file}`);
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('schema_version'); // forces the header to be read: fails on a file that is not SQLite
  } catch (e) {
    throw new BackupError(`${file} is not a SQLite database (${(e as Error).message})`);
  }
  try {
    const version = checkLanscape(db, file);
    const check = db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`${file} fails the integrity check: ${String(check)}`);
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      file,
      bytes: statSync(file).size,
      schema_version: version,
      subnets: count('subnets'),
      addresses: count('addresses'),
    };
  } finally {
    db.close();
  }
}
