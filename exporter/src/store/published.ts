// State the leader keeps in memory and every replica must be able to read (#14): the Docker and
// Proxmox inventories. The leader publishes a JSON copy into the `meta` table — the body under
// `published:<name>` and a fresh token under `published:<name>:version`, one transaction —
// when it changes, at most once per period (an event storm is one write per period, the last
// state always goes out). A reader asks for the version (one small statement) and reads the body
// only when the version moved since its last read. Same SQL on SQLite and PostgreSQL.
import { randomUUID } from 'node:crypto';
import type { Store } from './store.js';

/** The default publish period: at most one write per inventory per this many ms. */
export const PUBLISH_PERIOD_MS = 2_000;

export interface Published<T> {
  /** The version token (a new one per publish). */
  readonly version: string;
  readonly value: T;
}

export class PublishedState<T> {
  private readonly bodyKey: string;
  private readonly versionKey: string;
  /** The text this process wrote last (a publish of the same text is skipped). */
  private lastWritten: string | null = null;
  private lastWriteAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private produce: (() => T) | null = null;
  private writing: Promise<void> = Promise.resolve();
  private cache: Published<T> | null = null;

  constructor(
    private readonly store: Store,
    name: string,
    private readonly onError: (err: unknown) => void,
    private readonly periodMs: number = PUBLISH_PERIOD_MS,
  ) {
    this.bodyKey = `published:${name}`;
    this.versionKey = `published:${name}:version`;
  }

  /**
   * Publishes `produce()` soon: at once when the last write is older than the period, else at
   * the end of it (calls meanwhile are folded into that one write, which takes the newest state).
   */
  schedule(produce: () => T): void {
    this.produce = produce;
    if (this.timer) return;
    const wait = Math.max(0, this.lastWriteAt + this.periodMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
    this.timer.unref();
  }

  /** Writes the scheduled state now (when there is one); resolves once it is stored. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const produce = this.produce;
    this.produce = null;
    if (!produce) return this.writing;
    const run = this.writing.then(async () => {
      const value = produce();
      const text = JSON.stringify(value);
      if (text === this.lastWritten) return;
      this.lastWriteAt = performance.now();
      const version = randomUUID();
      try {
        await this.store.write(async () => {
          const upsert = `INSERT INTO meta (key, value) VALUES (?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
          await this.store.exec.run(upsert, [this.bodyKey, text]);
          await this.store.exec.run(upsert, [this.versionKey, version]);
        });
        this.lastWritten = text;
        this.cache = { version, value: JSON.parse(text) as T };
      } catch (err) {
        this.onError(err);
      }
    });
    this.writing = run;
    return run;
  }

  /** Drops what is scheduled and forgets what was written (this replica stops or starts leading). */
  reset(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.produce = null;
    this.lastWritten = null;
    this.lastWriteAt = -Infinity;
  }

  /** Waits for a write under way. */
  idle(): Promise<void> {
    return this.writing;
  }

  /** The published copy: one small statement when unchanged since the last read; null when none. */
  async read(): Promise<Published<T> | null> {
    const row = await this.store.exec.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', [this.versionKey]);
    if (!row) return null;
    if (this.cache?.version === row.value) return this.cache;
    const rows = await this.store.exec.all<{ key: string; value: string }>(
      'SELECT key, value FROM meta WHERE key IN (?, ?)',
      [this.bodyKey, this.versionKey],
    );
    const body = rows.find((r) => r.key === this.bodyKey);
    const version = rows.find((r) => r.key === this.versionKey);
    if (!body || !version) return null;
    this.cache = { version: version.value, value: JSON.parse(body.value) as T };
    return this.cache;
  }

  /** The copy of the last read or write, without I/O (null before either). */
  get cached(): Published<T> | null {
    return this.cache;
  }
}
