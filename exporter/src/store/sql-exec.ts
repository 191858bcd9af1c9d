// One SQL text, two executors (#14; ARCHITECTURE.md, "Toward PostgreSQL"). A store statement is
// written once with `?` placeholders in the SQL both SQLite and PostgreSQL accept, and runs on
// either backend through this interface: better-sqlite3 with its prepared statements kept per
// text, or node-postgres with `?` rewritten to `$n` once per text and sent as a named statement
// (parsed and planned once per connection). Measured against Kysely in bench/postgres.ts.
//
// `store/store.ts` routes every store's statements to the transaction they run in.
//
// Transactions: `exec.transaction(fn)` runs `fn(tx)` in one transaction (SQLite: BEGIN
// IMMEDIATE on the one connection; PostgreSQL: BEGIN on a pooled connection) and commits when it
// resolves, rolls back when it throws. Inside, use `tx` only: `tx.transaction` nests as a
// savepoint. On SQLite, statements and transactions from concurrent callers take turns (one
// connection), so a statement never sees another caller's uncommitted work; calling the outer
// `exec` from inside `fn` would wait for `fn` itself — do not.
import type Database from 'better-sqlite3';
import type pg from 'pg';

export type SqlDialect = 'sqlite' | 'postgres';

export interface SqlExec {
  readonly dialect: SqlDialect;
  all<R>(text: string, params?: readonly unknown[]): Promise<R[]>;
  get<R>(text: string, params?: readonly unknown[]): Promise<R | undefined>;
  /** A statement without result rows; resolves to the number of rows it changed. */
  run(text: string, params?: readonly unknown[]): Promise<number>;
  /**
   * `mode` 'snapshot' (PostgreSQL, top level only): a `REPEATABLE READ READ ONLY` transaction,
   * for reads that must agree with each other across many turns (Store.readSnapshot).
   */
  transaction<T>(fn: (tx: SqlExec) => Promise<T>, mode?: 'write' | 'snapshot'): Promise<T>;
}

/**
 * How many independent reads a caller may have in flight at once: PostgreSQL runs them side by
 * side on pooled connections (a few, so one caller does not take the pool); SQLite has one
 * connection, where statements in flight together only run back to back without the caller's
 * pauses between them, holding the event loop longer.
 */
export function readsInFlight(dialect: SqlDialect): number {
  return dialect === 'postgres' ? 3 : 1;
}

/**
 * `?` → `$1`, `$2`, … outside string literals, quoted identifiers and comments. PostgreSQL's own
 * `?` operators (jsonb) are not used by the stores; write them as functions if ever needed.
 */
export function toPostgresPlaceholders(text: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      const stop = end === -1 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop - 1;
    } else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      out += text.slice(i, stop);
      i = stop - 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop);
      i = stop - 1;
    } else if (c === '?') {
      out += `$${++n}`;
    } else {
      out += c;
    }
  }
  return out;
}

/** Runs one caller at a time (SQLite has one connection). */
class TurnQueue {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const previous = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    await previous;
    try {
      return await fn();
    } finally {
      done();
    }
  }
}

const STATEMENT_CACHE_MAX = 1_000;

export function sqliteExec(db: Database.Database): SqlExec {
  const statements = new Map<string, Database.Statement>();
  const prepared = (text: string) => {
    let stmt = statements.get(text);
    if (!stmt) {
      if (statements.size >= STATEMENT_CACHE_MAX) statements.clear();
      statements.set(text, (stmt = db.prepare(text)));
    }
    return stmt;
  };
  const queue = new TurnQueue();
  let savepoints = 0;

  // The executor a transaction's callback gets: statements run directly (the turn is held).
  const inside: SqlExec = {
    dialect: 'sqlite',
    all: async <R>(text: string, params: readonly unknown[] = []) => prepared(text).all(...params) as R[],
    get: async <R>(text: string, params: readonly unknown[] = []) => prepared(text).get(...params) as R | undefined,
    run: async (text, params = []) => prepared(text).run(...params).changes,
    async transaction<T>(fn: (tx: SqlExec) => Promise<T>): Promise<T> {
      const name = `lanscape_sp${++savepoints}`;
      db.exec(`SAVEPOINT ${name}`);
      try {
        const result = await fn(inside);
        db.exec(`RELEASE ${name}`);
        return result;
      } catch (e) {
        db.exec(`ROLLBACK TO ${name}`);
        db.exec(`RELEASE ${name}`);
        throw e;
      }
    },
  };

  return {
    dialect: 'sqlite',
    all: (text, params) => queue.run(() => inside.all(text, params)),
    get: (text, params) => queue.run(() => inside.get(text, params)),
    run: (text, params) => queue.run(() => inside.run(text, params)),
    transaction: (fn) =>
      queue.run(async () => {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(inside);
          db.exec('COMMIT');
          return result;
        } catch (e) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw e;
        }
      }),
  };
}

/**
 * Statement names, one per text for the whole process: a name is prepared per connection, and
 * several executors may share one pool, so a per-executor numbering would give one name two texts.
 */
const POSTGRES_TEXTS = new Map<string, { name: string; text: string }>();
const named = (text: string) => {
  let q = POSTGRES_TEXTS.get(text);
  if (!q)
    POSTGRES_TEXTS.set(text, (q = { name: `lanscape_${POSTGRES_TEXTS.size}`, text: toPostgresPlaceholders(text) }));
  return q;
};

/**
 * Every connection of the pool stayed checked out for the whole connection timeout: the store is
 * reachable but saturated (pg-pool says "timeout exceeded when trying to connect" for both).
 */
export class StoreBusyError extends Error {
  constructor(readonly poolSize: number) {
    super(`all ${poolSize} connections to the store stayed in use for the whole connection timeout`);
  }
}

/** pg-pool's checkout timeout, as StoreBusyError when the pool was full (not a connect that hung). */
function busyOr(pool: pg.Pool, e: unknown): unknown {
  const max = (pool as { options?: { max?: number } }).options?.max ?? 10;
  const timedOut = e instanceof Error && e.message.startsWith('timeout exceeded when trying to connect');
  return timedOut && pool.totalCount >= max && pool.idleCount === 0 ? new StoreBusyError(max) : e;
}

export function postgresExec(pool: pg.Pool): SqlExec {
  const on = (client: pg.Pool | pg.PoolClient, depth: number): SqlExec => {
    const query = async <R extends pg.QueryResultRow>(text: string, params: readonly unknown[]) => {
      if (client !== pool) return client.query<R>({ ...named(text), values: [...params] });
      try {
        return await pool.query<R>({ ...named(text), values: [...params] });
      } catch (e) {
        throw busyOr(pool, e);
      }
    };
    return {
      dialect: 'postgres',
      all: async <R>(text: string, params: readonly unknown[] = []) =>
        (await query<pg.QueryResultRow>(text, params)).rows as R[],
      get: async <R>(text: string, params: readonly unknown[] = []) =>
        (await query<pg.QueryResultRow>(text, params)).rows[0] as R | undefined,
      run: async (text, params = []) => (await query(text, params)).rowCount ?? 0,
      async transaction<T>(fn: (tx: SqlExec) => Promise<T>, mode: 'write' | 'snapshot' = 'write'): Promise<T> {
        if (depth > 0) {
          const c = client as pg.PoolClient;
          const name = `lanscape_sp${depth}`;
          await c.query(`SAVEPOINT ${name}`);
          try {
            const result = await fn(on(c, depth + 1));
            await c.query(`RELEASE SAVEPOINT ${name}`);
            return result;
          } catch (e) {
            await c.query(`ROLLBACK TO SAVEPOINT ${name}`);
            await c.query(`RELEASE SAVEPOINT ${name}`);
            throw e;
          }
        }
        const c = await pool.connect().catch((e: unknown) => {
          throw busyOr(pool, e);
        });
        let broken: unknown;
        // A connection that dies while checked out (PostgreSQL killed between two statements)
        // emits 'error' on the client; unheard, that would end the process. The next statement
        // fails with it anyway, and the client is not handed back.
        const lost = (e: Error) => (broken = e);
        c.on('error', lost);
        try {
          await c.query(mode === 'snapshot' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
          const result = await fn(on(c, 1));
          await c.query('COMMIT');
          return result;
        } catch (e) {
          try {
            await c.query('ROLLBACK');
          } catch (rollbackError) {
            broken = rollbackError; // the connection is gone: do not hand it back to the pool
          }
          throw e;
        } finally {
          c.off('error', lost);
          c.release(broken instanceof Error ? broken : undefined);
        }
      },
    };
  };
  return on(pool, 0);
}
