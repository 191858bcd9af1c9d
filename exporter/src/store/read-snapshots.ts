// Consistent reads that span many event-loop turns. A long read (laying out a /8, an export)
// is cut into chunks so the loop stays free, and on the one read-write connection every write
// committed between two chunks would show up halfway through it. Each reader here is a
// read-only connection to the same file holding one WAL read transaction for the whole job:
// every chunk sees the store as it was when the job began, while the main connection goes on
// writing. Readers are few and reused; a job waits for a free one.
//
// PostgreSQL (#14): a job is one `REPEATABLE READ READ ONLY` transaction on a pooled connection
// (Store.readSnapshot), the same guarantee; every statement the job issues through the store
// goes to it (ambient), so its view is the caller's own store object.
import type Database from 'better-sqlite3';
import { type Db, openDb } from './db.js';
import { Store } from './store.js';

/** Read-only connections at most (each holds its own page cache). */
const READERS = 4;

interface Reader<S> {
  db: Db;
  view: S;
  begin: Database.Statement;
}

export class ReadSnapshots<S> {
  private readonly idle: Reader<S>[] = [];
  private open = 0;
  private readonly waiting: ((reader: Reader<S>) => void)[] = [];
  private closed = false;

  private readonly file: string | undefined;
  private pgView: S | undefined;

  /**
   * @param store the store (SQLite: its file is opened read-only again; a memory store has no
   *   second connection: see `available`)
   * @param makeView what a job reads through, built once per reader connection (e.g. an
   *   IpamStore); on PostgreSQL once, over `store` itself
   */
  constructor(
    private readonly store: Store,
    private readonly makeView: (store: Store) => S,
  ) {
    const db = store.sqlite;
    this.file = db && !db.memory ? db.name : undefined;
  }

  /** Whether snapshots can be taken (false for an in-memory store). */
  get available(): boolean {
    return (this.file !== undefined || this.store.pool !== undefined) && !this.closed;
  }

  /**
   * Runs `job` against one snapshot: everything it reads through `view` is as of the moment it
   * started, however many turns it takes. The snapshot ends when the job settles.
   */
  async read<T>(job: (view: S) => Promise<T>): Promise<T> {
    if (this.store.pool) {
      const view = (this.pgView ??= this.makeView(this.store));
      return this.store.readSnapshot(() => job(view));
    }
    const reader = await this.acquire();
    try {
      reader.db.exec('BEGIN');
      // A deferred transaction takes its snapshot at its first read.
      reader.begin.get();
      return await job(reader.view);
    } finally {
      if (reader.db.inTransaction) reader.db.exec('COMMIT');
      this.release(reader);
    }
  }

  close(): void {
    this.closed = true;
    for (const r of this.idle.splice(0)) r.db.close();
  }

  private acquire(): Promise<Reader<S>> {
    const reader = this.idle.pop();
    if (reader) return Promise.resolve(reader);
    if (this.open < READERS) {
      this.open += 1;
      try {
        const db = openDb(this.file!, { readonly: true });
        return Promise.resolve({
          db,
          view: this.makeView(Store.sqlite(db)),
          begin: db.prepare('SELECT 1 FROM sqlite_master LIMIT 1'),
        });
      } catch (e) {
        this.open -= 1;
        return Promise.reject(e);
      }
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(reader: Reader<S>): void {
    if (this.closed) {
      reader.db.close();
      this.open -= 1;
      return;
    }
    const next = this.waiting.shift();
    if (next) next(reader);
    else this.idle.push(reader);
  }
}
