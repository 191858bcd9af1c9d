// Consistent reads that span many event-loop turns. A long read (laying out a /8, an export)
// is cut into chunks so the loop stays free, and on the one read-write connection every write
// committed between two chunks would show up halfway through it. Each reader here is a
// read-only connection to the same file holding one WAL read transaction for the whole job:
// every chunk sees the store as it was when the job began, while the main connection goes on
// writing. Readers are few and reused; a job waits for a free one.
import type Database from 'better-sqlite3';
import { type Db, openDb } from './db.js';

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

  /**
   * @param file the store's file (a memory store has no second connection: see `available`)
   * @param makeView what a job reads through, built once per reader connection (e.g. an IpamStore)
   */
  constructor(
    private readonly file: string | undefined,
    private readonly makeView: (db: Db) => S,
  ) {}

  /** Whether snapshots can be taken (false for an in-memory store). */
  get available(): boolean {
    return this.file !== undefined && !this.closed;
  }

  /**
   * Runs `job` against one snapshot: everything it reads through `view` is as of the moment it
   * started, however many turns it takes. The snapshot ends when the job settles.
   */
  async read<T>(job: (view: S) => Promise<T>): Promise<T> {
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
          view: this.makeView(db),
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
