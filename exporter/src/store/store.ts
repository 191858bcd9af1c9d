// The store every domain reads and writes through (#14): one SQL text per statement on SQLite
// (the embedded default, `LANSCAPE_DB`) or PostgreSQL (`LANSCAPE_DATABASE_URL`).
//
// Transactions are ambient. `store.write(fn)` runs `fn` in a write transaction, and every
// statement issued through `store.exec` while `fn` runs — in this module's callers, in the
// services and stores they call, however deep — goes to that transaction (an AsyncLocalStorage
// holds it), so no store method takes a transaction argument and a read inside a write can never
// go to another connection by mistake (on SQLite it would wait for the write itself; on
// PostgreSQL it would not see the write's rows). A `write` inside a `write` is a savepoint.
//
// SQLite: writes go through the write batcher (group commit, one savepoint per operation).
// PostgreSQL: each top-level write is its own transaction on a pooled connection (READ
// COMMITTED, rows a rule depends on locked by the store's `FOR UPDATE`), retried as a whole when
// PostgreSQL aborts it for a race it detected (serialization failure, deadlock, a unique key
// taken meanwhile), up to WRITE_ATTEMPTS times.
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { SessionLocks } from './session-locks.js';
import type { Db } from './db.js';
import { postgresExec, type SqlDialect, type SqlExec, sqliteExec } from './sql-exec.js';
import { WriteBatcher, type Writes } from './write-batcher.js';

/** SQLSTATEs for which a whole transaction is retried: it lost a race the database noticed. */
const RETRYABLE = new Set(['40001', '40P01', '23505']);
export const WRITE_ATTEMPTS = 5;

interface Ambient {
  readonly tx: SqlExec;
  /** False once the transaction ended: a callback scheduled inside it must not use it later. */
  open: boolean;
}

export interface StoreOptions {
  /** PostgreSQL pool size (default 10). */
  readonly poolSize?: number;
  /** How long a statement waits for a free connection, ms (default 5,000). */
  readonly connectionTimeoutMs?: number;
}

const SQLITE_STORES = new WeakMap<Db, Store>();

export class Store {
  /** Statements: in the ambient transaction when there is one, else on their own. */
  readonly exec: SqlExec;
  private readonly ambient = new AsyncLocalStorage<Ambient>();
  private readonly batcher: WriteBatcher | undefined;

  private constructor(
    private readonly base: SqlExec,
    /** The better-sqlite3 handle (SQLite only): checkpoints, backups, ownership, read snapshots. */
    readonly sqlite: Db | undefined,
    /** The connection pool (PostgreSQL only). */
    readonly pool: pg.Pool | undefined,
  ) {
    const current = () => this.current();
    this.exec = {
      dialect: base.dialect,
      all: (text, params) => current().all(text, params),
      get: (text, params) => current().get(text, params),
      run: (text, params) => current().run(text, params),
      transaction: (fn) => this.write(() => fn(current())),
    };
    if (sqlite) this.batcher = new WriteBatcher(base, (tx, fn) => this.within(tx, fn));
  }

  /** The one store of a SQLite connection (one per connection: its turns and batches are shared). */
  static sqlite(db: Db): Store {
    let store = SQLITE_STORES.get(db);
    if (!store) SQLITE_STORES.set(db, (store = new Store(sqliteExec(db), db, undefined)));
    return store;
  }

  /** A store on a PostgreSQL pool (the caller migrates it; see pg-migrate.ts). */
  static postgres(pool: pg.Pool): Store {
    return new Store(postgresExec(pool), undefined, pool);
  }

  get dialect(): SqlDialect {
    return this.base.dialect;
  }

  /** Whether the caller runs inside a write transaction of this store. */
  get inTransaction(): boolean {
    return this.ambient.getStore()?.open === true;
  }

  /**
   * The write batcher's interface for code that queues writes itself (SQLite: the batcher, whose
   * counters tests and benchmarks read; PostgreSQL: `write`, one transaction each).
   */
  get writes(): Writes {
    return this.batcher ?? { run: (fn) => this.write(fn), maxBatch: 1, maxBatchMs: 0 };
  }

  private current(): SqlExec {
    const a = this.ambient.getStore();
    return a?.open ? a.tx : this.base;
  }

  private async within<T>(tx: SqlExec, fn: () => T | Promise<T>): Promise<T> {
    const ambient: Ambient = { tx, open: true };
    try {
      return await this.ambient.run(ambient, fn);
    } finally {
      ambient.open = false;
    }
  }

  /** Runs `fn` in one write transaction (a savepoint when already inside one); resolves after commit. */
  async write<T>(fn: () => T | Promise<T>): Promise<T> {
    const outer = this.ambient.getStore();
    if (outer?.open) return outer.tx.transaction((sp) => this.within(sp, fn));
    if (this.batcher) return this.batcher.run(fn);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.base.transaction((tx) => this.within(tx, fn));
      } catch (e) {
        if (attempt >= WRITE_ATTEMPTS || !RETRYABLE.has((e as { code?: string }).code ?? '')) throw e;
      }
    }
  }

  /**
   * PostgreSQL: runs `fn` in one `REPEATABLE READ READ ONLY` transaction on a pooled connection
   * held until it settles: every statement `fn` issues through `exec`, across any number of
   * event-loop turns, sees the database as of its first one (store/read-snapshots.ts). SQLite
   * has no such transaction on its one connection: ReadSnapshots opens read-only connections.
   */
  async readSnapshot<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.pool) throw new Error('readSnapshot is for PostgreSQL; SQLite reads snapshots through ReadSnapshots');
    return this.base.transaction((tx) => this.within(tx, fn), 'snapshot');
  }

  /** Whether the store answers a trivial query (the `store` collector, /readyz). */
  async answers(): Promise<boolean> {
    try {
      return (await this.base.get<{ ok: number }>('SELECT 1 AS ok')) !== undefined;
    } catch {
      return false;
    }
  }

  private locks: SessionLocks | undefined;

  /**
   * PostgreSQL: this process's session locks (store/session-locks.ts), on one connection of
   * their own opened at first use. Undefined on SQLite (one process owns the file).
   */
  get sessionLocks(): SessionLocks | undefined {
    if (!this.pool) return undefined;
    this.locks ??= new SessionLocks((this.pool as unknown as { options: pg.ClientConfig }).options);
    return this.locks;
  }

  async close(): Promise<void> {
    if (this.sqlite) this.sqlite.close();
    await this.locks?.close();
    if (this.pool) await this.pool.end();
  }
}

/** `bigint`/`numeric` as numbers (counts, sums, ids) unless they do not fit, as better-sqlite3 reads them. */
const NUMERIC_TYPES = [20, 1700];
const toNumber = (text: string): number | bigint => {
  const n = Number(text);
  return Number.isSafeInteger(n) || !/^-?\d+$/.test(text) ? n : BigInt(text);
};

/** The pool for `LANSCAPE_DATABASE_URL`: its own type parsers, so the rows look like SQLite's. */
export function openPool(url: string, options: StoreOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    // A request waits at most this long for a connection (PostgreSQL down: an error, not a hang).
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    keepAlive: true,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        NUMERIC_TYPES.includes(oid) && format !== 'binary'
          ? toNumber
          : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection that dies (PostgreSQL stopped or restarted) emits 'error' on the pool;
  // unheard, that ends the process. StoreHealth listens too and reports the store down.
  pool.on('error', () => {});
  return pool;
}
