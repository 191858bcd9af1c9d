// The running exporter records its pid in the store so that restore can refuse to replace a
// store that is in use. A pid left by a killed exporter is ignored once that process is gone.
import type { Db } from './db.js';

export class StoreInUseError extends Error {}

/** Records this process as the store's user; refuses a store that a live exporter already uses. */
export function takeOwnership(db: Db): void {
  const other = liveOwner(db);
  if (other) throw new StoreInUseError(`another exporter (pid ${other}) is using this store`);
  db.prepare(
    "INSERT INTO meta (key, value) VALUES ('owner_pid', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  ).run(String(process.pid));
}

export function releaseOwnership(db: Db): void {
  db.prepare("DELETE FROM meta WHERE key = 'owner_pid' AND value = ?").run(String(process.pid));
}

/** The pid of a live exporter using this store, if any. */
export function liveOwner(db: Db): number | undefined {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'owner_pid'").get() as { value: string } | undefined;
  const pid = row ? Number(row.value) : NaN;
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
