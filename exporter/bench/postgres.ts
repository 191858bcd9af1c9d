// The store-dialect decision of #14, measured. Two questions:
//  (a) what a typed query builder costs per statement on SQLite, where today every store call is
//      a synchronous better-sqlite3 prepared statement: raw, raw behind `await`, Kysely's stock
//      SqliteDialect (it prepares every statement anew) and Kysely over a driver that keeps
//      prepared statements (a cache keyed by SQL text) — and what that adds to one reservation,
//      from the number of statements IpamService.allocate really runs;
//  (b) next-free in a /8 holding 1,000,000 used addresses on PostgreSQL (target: median < 5 ms),
//      with the SQLite store's approach (maximal runs of used addresses keyed by 17-byte BLOB
//      keys → bytea; one index probe jumps a run), written twice — once in Kysely, once as
//      SQL text on a small executor interface (SqlExec) — each run on both backends; beside it
//      the same search with PostgreSQL's `inet` and no runs table.
// The decision these rows led to (SqlExec; Kysely stays a dev dependency of this file only) is
// in ARCHITECTURE.md, "Toward PostgreSQL (#14)".
// PostgreSQL is a throw-away cluster (test/helpers/postgres.ts) on its unix socket; nothing
// leaves the machine.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type Generated,
  Kysely,
  PostgresDialect,
  type QueryResult,
  SqliteAdapter,
  SqliteDialect,
  type Dialect,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import pg from 'pg';
import { Store } from '../src/store/store.js';
import type { Actor } from '../src/audit/log.js';
import { formatIp, ipFromKey, ipKey } from '../src/ipam/core/ip.js';
import { IpamService } from '../src/ipam/service.js';
import { openDb } from '../src/store/db.js';
import { type SqlExec, postgresExec, sqliteExec } from '../src/store/sql-exec.js';
import { type TestPostgres, startPostgres } from '../test/helpers/postgres.js';
import { scatteredOffsets } from './ipam.js';
import {
  BENCH_POSTGRES_SETTINGS,
  type BenchContext,
  type Benchmark,
  type Row,
  type Suite,
  int,
  median,
  percentile,
  timed,
} from './lib.js';

const ACTOR: Actor = { name: 'bench' };
const NET10 = 0x0a000000n;
const v4 = (value: bigint) => ({ family: 4 as const, value });
const key = (value: bigint) => ipKey(v4(value));
const us = (v: number) => `${v.toFixed(1)} µs`;
const msf = (v: number) => `${v.toFixed(2)} ms`;

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

// ---------------------------------------------------------------- a Kysely driver for better-sqlite3 that keeps its statements

/**
 * Kysely's SqliteDialect calls `db.prepare(sql)` for every query. This driver keeps prepared
 * statements by SQL text (Kysely compiles the same builder chain to the same text), begins
 * write transactions IMMEDIATE like the store does, and serialises connection use as Kysely's
 * own driver does (one connection).
 */
class CachedSqliteDriver implements Driver {
  private readonly statements = new Map<string, Database.Statement>();
  private queue: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;
  private readonly connection: DatabaseConnection;

  constructor(private readonly db: Database.Database) {
    const statements = this.statements;
    this.connection = {
      executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
        let stmt = statements.get(compiled.sql);
        if (!stmt) {
          stmt = db.prepare(compiled.sql);
          if (statements.size > 500) statements.clear();
          statements.set(compiled.sql, stmt);
        }
        const params = compiled.parameters as unknown[];
        if (stmt.reader) return Promise.resolve({ rows: stmt.all(...params) as R[] });
        const r = stmt.run(...params);
        return Promise.resolve({ rows: [], numAffectedRows: BigInt(r.changes), insertId: BigInt(r.lastInsertRowid) });
      },
      streamQuery() {
        throw new Error('not used by the benchmark');
      },
    };
  }
  async init() {}
  async acquireConnection() {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((r) => (release = r));
    await previous;
    this.release = release;
    return this.connection;
  }
  async releaseConnection() {
    this.release?.();
  }
  async beginTransaction(c: DatabaseConnection) {
    await c.executeQuery(CompiledQuery.raw('BEGIN IMMEDIATE'));
  }
  async commitTransaction(c: DatabaseConnection) {
    await c.executeQuery(CompiledQuery.raw('COMMIT'));
  }
  async rollbackTransaction(c: DatabaseConnection) {
    await c.executeQuery(CompiledQuery.raw('ROLLBACK'));
  }
  async destroy() {}
}

function cachedSqliteDialect(db: Database.Database): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new CachedSqliteDriver(db),
    createIntrospector: (k) => new SqliteIntrospector(k),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}

// ---------------------------------------------------------------- (a) cost per statement on SQLite

interface StoreTables {
  subnets: { id: Generated<number>; cidr: string; description: string; first_key: Buffer; last_key: Buffer };
  address_runs: { first_key: Buffer; last_key: Buffer };
}

const BATCH = 5_000;
const BATCHES = 5;

/** Median µs per call over BATCHES batches of BATCH calls (after one warm-up batch). */
async function perCall(fn: (i: number) => unknown): Promise<number> {
  const batches: number[] = [];
  for (let b = 0; b <= BATCHES; b++) {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) {
      const r = fn(i);
      if (r instanceof Promise) await r;
    }
    if (b > 0) batches.push(((performance.now() - t0) * 1000) / BATCH);
  }
  return median(batches);
}

/** How many statements (get/all/run/iterate calls) IpamService.allocate runs per address. */
async function statementsPerAllocation(ctx: BenchContext): Promise<number> {
  const db = openDb(join(ctx.tempDir('stmt-count'), 'lanscape.db'));
  try {
    const ipam = new IpamService(Store.sqlite(db));
    const subnet = await ipam.createSubnet({ cidr: '10.1.0.0/16', name: 'count' }, ACTOR);
    for (let i = 0; i < 5; i++) await ipam.allocate({ subnetId: subnet.id }, { count: 1 }, ACTOR); // warm caches
    const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, (...a: unknown[]) => unknown>;
    const methods = ['get', 'all', 'run', 'iterate'] as const;
    const saved = methods.map((m) => proto[m]!);
    let calls = 0;
    methods.forEach((m, i) => {
      proto[m] = function (this: unknown, ...args: unknown[]) {
        calls++;
        return saved[i]!.apply(this, args);
      };
    });
    try {
      const n = 100;
      for (let i = 0; i < n; i++) await ipam.allocate({ subnetId: subnet.id }, { count: 1 }, ACTOR);
      return calls / n;
    } finally {
      methods.forEach((m, i) => (proto[m] = saved[i]!));
    }
  } finally {
    db.close();
  }
}

const RESERVE_NEXT_RPS = 1_800; // today's HTTP reserve-next (BENCHMARKS.md, ipam-reserve-next)

const dialectOverhead: Benchmark = {
  name: 'store-dialect-sqlite',
  description:
    'µs per small statement on the real SQLite store: raw better-sqlite3, raw behind await, Kysely (stock SqliteDialect), Kysely with kept statements',
  async run(ctx) {
    const db = openDb(join(ctx.tempDir('dialect'), 'lanscape.db'));
    const stock = new Kysely<StoreTables>({ dialect: new SqliteDialect({ database: db }) });
    const cached = new Kysely<StoreTables>({ dialect: cachedSqliteDialect(db) });
    try {
      const ipam = new IpamService(Store.sqlite(db));
      const ids: number[] = [];
      for (let i = 0; i < 256; i++)
        ids.push((await ipam.createSubnet({ cidr: `10.${i}.0.0/16`, name: `s${i}` }, ACTOR)).id);
      for (let i = 0; i < 40; i++) await ipam.allocate({ subnetId: ids[i]! }, { count: 50 }, ACTOR);
      const pick = (i: number) => ids[(i * 7919) % ids.length]!;
      const probe = (i: number) => key(NET10 + BigInt((i * 104_729) % 0xffffff));

      // 1. point read by primary key
      const byId = db.prepare('SELECT * FROM subnets WHERE id = ?');
      const byIdK = (k: Kysely<StoreTables>, i: number) =>
        k.selectFrom('subnets').selectAll().where('id', '=', pick(i));
      // 2. the run lookup next-free makes (index probe, LIMIT 1)
      const run = db.prepare(
        'SELECT first_key, last_key FROM address_runs WHERE first_key <= ? ORDER BY first_key DESC LIMIT 1',
      );
      const runK = (k: Kysely<StoreTables>, i: number) =>
        k
          .selectFrom('address_runs')
          .select(['first_key', 'last_key'])
          .where('first_key', '<=', probe(i))
          .orderBy('first_key', 'desc')
          .limit(1);
      // 3. a single-row update (inside one open transaction: the statement, not the commit)
      const upd = db.prepare('UPDATE subnets SET description = ? WHERE id = ?');
      const updK = (k: Kysely<StoreTables>, i: number) =>
        k
          .updateTable('subnets')
          .set({ description: `d${i}` })
          .where('id', '=', pick(i));

      const results: Record<string, number[]> = { raw: [], awaited: [], stock: [], cached: [], compiled: [] };
      // `params(i)`: the statement's parameters in the order the builder compiles them, for the
      // compiled-once variant (Kysely builds and compiles the query once; only parameters change).
      const measure = async (
        rawFn: (i: number) => unknown,
        kFn: (k: Kysely<StoreTables>, i: number) => { compile(): CompiledQuery; execute(): Promise<unknown> },
        params: (i: number) => unknown[],
      ) => {
        results.raw!.push(await perCall(rawFn));
        results.awaited!.push(await perCall(async (i) => rawFn(i)));
        results.stock!.push(await perCall((i) => kFn(stock, i).execute()));
        results.cached!.push(await perCall((i) => kFn(cached, i).execute()));
        const once = kFn(cached, 0).compile();
        results.compiled!.push(await perCall((i) => cached.executeQuery({ ...once, parameters: params(i) })));
      };
      await ctx.profiled('store-dialect-sqlite', async () => {
        await measure(
          (i) => byId.get(pick(i)),
          byIdK,
          (i) => [pick(i)],
        );
        await measure(
          (i) => run.get(probe(i)),
          runK,
          (i) => [probe(i), 1],
        );
        db.exec('BEGIN IMMEDIATE');
        try {
          await measure(
            (i) => upd.run(`d${i}`, pick(i)),
            updK,
            (i) => [`d${i}`, pick(i)],
          );
        } finally {
          db.exec('ROLLBACK');
        }
      });
      // Sanity: the builders answer what the raw statements answer.
      for (const k of [stock, cached]) {
        const viaBuilder = await byIdK(k, 5).executeTakeFirst();
        check(viaBuilder?.cidr === (byId.get(pick(5)) as { cidr: string }).cidr, 'Kysely read differs from raw');
      }

      const perRequest = await statementsPerAllocation(ctx);
      const fmt = (xs: number[]) => xs.map(us).join(' / ');
      const extra = (v: 'stock' | 'cached' | 'compiled') =>
        median(results[v]!.map((x, i) => x - results.raw![i]!)) * perRequest;
      const projected = (v: 'stock' | 'cached' | 'compiled') => 1 / (1 / RESERVE_NEXT_RPS + extra(v) / 1e6);
      return [
        {
          benchmark: 'store-dialect-sqlite: raw better-sqlite3 (read by id / run probe / update)',
          target: '-',
          pass: null,
          result: fmt(results.raw!),
        },
        { benchmark: 'store-dialect-sqlite: raw behind await', target: '-', pass: null, result: fmt(results.awaited!) },
        {
          benchmark: 'store-dialect-sqlite: Kysely, stock SqliteDialect (prepares each query)',
          target: '-',
          pass: null,
          result: fmt(results.stock!),
        },
        {
          benchmark: 'store-dialect-sqlite: Kysely, driver keeping prepared statements',
          target: '-',
          pass: null,
          result: fmt(results.cached!),
        },
        {
          benchmark: 'store-dialect-sqlite: Kysely, compiled once, parameters swapped',
          target: '-',
          pass: null,
          result: fmt(results.compiled!),
        },
        {
          benchmark: 'store-dialect-sqlite: reserve-next, projected (info)',
          target: '-',
          pass: null,
          result:
            `${perRequest.toFixed(1)} statements per allocation; +${(extra('stock') / 1000).toFixed(3)} ms stock ` +
            `→ ~${int(projected('stock'))} req/s, +${(extra('cached') / 1000).toFixed(3)} ms kept → ` +
            `~${int(projected('cached'))} req/s, +${(extra('compiled') / 1000).toFixed(3)} ms compiled once → ` +
            `~${int(projected('compiled'))} req/s (today ${int(RESERVE_NEXT_RPS)})`,
        },
      ];
    } finally {
      await stock.destroy().catch(() => {});
      db.close();
    }
  },
};

// ---------------------------------------------------------------- (b) next-free in a /8 with 1M used, both dialects

interface AllocTables {
  subnets: { id: Generated<number>; first_key: Buffer; last_key: Buffer; name: string };
  addresses: { id: Generated<number>; ip_key: Buffer; address: string; state: string; created_at: string };
  address_runs: { first_key: Buffer; last_key: Buffer };
  audit_log: { id: Generated<number>; at: string; actor: string; action: string; detail: string };
}

const RUN = 1_000_000;
const SCATTERED = 1_000;
const ALLOCATIONS = 200;
/** PostgreSQL: three variants in turn, 100 timed allocations each. */
const PG_ALLOCATIONS = 300;
const WARMUP = 10;

/** Maximal runs of consecutive offsets: [first, last] pairs. */
function runsOf(sorted: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const v of sorted) {
    const last = out[out.length - 1];
    if (last && v === last[1] + 1) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

/**
 * The allocation, written once for both dialects. The subnet's bounds come from the caller (a
 * subnet's CIDR never changes, so any cache of it is good enough). Round trips: BEGIN; the subnet
 * row (locked FOR UPDATE on PostgreSQL, which serialises allocations of one subnet across
 * replicas; SQLite's IMMEDIATE transaction already holds the write lock) together with the run
 * at or before the first usable address; the address; the run starting right after it, taken
 * out (DELETE … RETURNING); the run before it extended (or a new one); the audit entry; COMMIT.
 * Runs are maximal, so the address after a run is free of runs: one probe jumps the 1M run,
 * as core/allocation.ts does, with no second probe to confirm it.
 */
async function allocateNext(k: Kysely<AllocTables>, subnetId: number, bounds: Bounds, postgres: boolean) {
  return k.transaction().execute(async (trx) => {
    let locked = trx
      .selectFrom('subnets as s')
      .leftJoin('address_runs as r', (j) =>
        j.onRef('r.first_key', '=', (eb) =>
          eb
            .selectFrom('address_runs')
            .select('first_key')
            .where('first_key', '<=', key(bounds.first))
            .orderBy('first_key', 'desc')
            .limit(1),
        ),
      )
      .select(['s.id', 'r.first_key', 'r.last_key'])
      .where('s.id', '=', subnetId);
    if (postgres) locked = locked.forUpdate('s');
    const row = await locked.executeTakeFirst();
    if (!row) throw new Error('no such subnet');
    const { candidate, left } = afterRun(bounds, row.first_key, row.last_key);
    const address = formatIp(v4(candidate));
    const now = new Date().toISOString();
    await trx
      .insertInto('addresses')
      .values({ ip_key: key(candidate), address, state: 'assigned', created_at: now })
      .execute();
    const right = await trx
      .deleteFrom('address_runs')
      .where('first_key', '=', key(candidate + 1n))
      .returning('last_key')
      .executeTakeFirst();
    const lastKey = right ? right.last_key : key(candidate);
    if (left) await trx.updateTable('address_runs').set({ last_key: lastKey }).where('first_key', '=', left).execute();
    else
      await trx
        .insertInto('address_runs')
        .values({ first_key: key(candidate), last_key: lastKey })
        .execute();
    await trx
      .insertInto('audit_log')
      .values({ at: now, actor: 'bench', action: 'address.allocate', detail: JSON.stringify({ address }) })
      .execute();
    return address;
  });
}

interface Bounds {
  first: bigint;
  last: bigint;
}

/** The first free address given the run at or before `bounds.first`, and the key of the run it extends. */
function afterRun(bounds: Bounds, runFirst: Buffer | null, runLast: Buffer | null) {
  let candidate = bounds.first;
  let left: Buffer | undefined;
  if (runFirst && runLast) {
    const last = ipFromKey(runLast);
    if (last.family === 4 && last.value >= candidate) {
      candidate = last.value + 1n;
      left = runFirst;
    } else if (last.family === 4 && last.value === candidate - 1n) {
      left = runFirst;
    }
  }
  if (candidate > bounds.last) throw new Error('subnet full');
  return { candidate, left };
}

// ---------------------------------------------------------------- the alternative: one SQL text, two executors

// The other way to one implementation: the store's statements stay SQL text, and an executor
// per backend runs them (src/store/sql-exec.ts, the one the exporter ships). The domain code is
// written once against SqlExec, as `allocateNextSql` is.

/** allocateNext's transaction, statement for statement, on the SqlExec interface. */
async function allocateNextSql(exec: SqlExec, subnetId: number, bounds: Bounds): Promise<string> {
  return exec.transaction(async (tx) => {
    const [row] = await tx.all<{ first_key: Buffer | null; last_key: Buffer | null }>(
      `SELECT s.id, r.first_key, r.last_key FROM subnets s LEFT JOIN address_runs r
        ON r.first_key = (SELECT first_key FROM address_runs WHERE first_key <= ? ORDER BY first_key DESC LIMIT 1)
        WHERE s.id = ?${tx.dialect === 'postgres' ? ' FOR UPDATE OF s' : ''}`,
      [key(bounds.first), subnetId],
    );
    if (!row) throw new Error('no such subnet');
    const { candidate, left } = afterRun(bounds, row.first_key, row.last_key);
    const address = formatIp(v4(candidate));
    const now = new Date().toISOString();
    await tx.run(`INSERT INTO addresses (ip_key, address, state, created_at) VALUES (?, ?, 'assigned', ?)`, [
      key(candidate),
      address,
      now,
    ]);
    const [right] = await tx.all<{ last_key: Buffer }>(
      'DELETE FROM address_runs WHERE first_key = ? RETURNING last_key',
      [key(candidate + 1n)],
    );
    const lastKey = right ? right.last_key : key(candidate);
    if (left) await tx.run('UPDATE address_runs SET last_key = ? WHERE first_key = ?', [lastKey, left]);
    else await tx.run('INSERT INTO address_runs (first_key, last_key) VALUES (?, ?)', [key(candidate), lastKey]);
    await tx.run(`INSERT INTO audit_log (at, actor, action, detail) VALUES (?, 'bench', 'address.allocate', ?)`, [
      now,
      JSON.stringify({ address }),
    ]);
    return address;
  });
}

const BOUNDS: Bounds = { first: NET10 + 1n, last: NET10 + 0xfffffen };
const EXPECTED_FIRST = formatIp(v4(NET10 + BigInt(RUN) + 1n)); // 10.15.66.65

function checkAllocations(got: string[], label: string) {
  check(got[0] === EXPECTED_FIRST, `${label}: first allocation gave ${got[0]}, expected ${EXPECTED_FIRST}`);
  check(new Set(got).size === got.length, `${label}: duplicate addresses`);
}

/**
 * A pool for Kysely's PostgresDialect whose clients send every parameterised query as a named
 * prepared statement (parsed and planned once per connection, as better-sqlite3 keeps its
 * statements): the name is derived from the SQL text Kysely compiled.
 */
function namedStatementPool(pool: pg.Pool): pg.Pool {
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (!name) names.set(text, (name = `k${names.size}`));
    return name;
  };
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop !== 'connect') return Reflect.get(target, prop, receiver) as unknown;
      return async () => {
        const client = await target.connect();
        return new Proxy(client, {
          get(c, p, r) {
            if (p !== 'query') return Reflect.get(c, p, r) as unknown;
            return (text: unknown, values?: unknown[]) =>
              typeof text === 'string' && values && values.length > 0
                ? c.query({ name: nameOf(text), text, values })
                : (c.query as (...a: unknown[]) => unknown)(text, values);
          },
        });
      };
    },
  });
}

const PG_SCHEMA = `
  CREATE TABLE subnets (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, first_key bytea NOT NULL,
    last_key bytea NOT NULL, name text NOT NULL);
  CREATE TABLE addresses (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ip_key bytea NOT NULL UNIQUE,
    address text NOT NULL, state text NOT NULL, created_at text NOT NULL);
  CREATE TABLE address_runs (first_key bytea PRIMARY KEY, last_key bytea NOT NULL);
  CREATE TABLE audit_log (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at text NOT NULL, actor text NOT NULL,
    action text NOT NULL, detail text NOT NULL);
  -- the inet variant: the same addresses as inet, no runs table
  CREATE TABLE addresses_inet (ip inet PRIMARY KEY);`;

const SQLITE_SCHEMA = `
  CREATE TABLE subnets (id INTEGER PRIMARY KEY, first_key BLOB NOT NULL, last_key BLOB NOT NULL, name TEXT NOT NULL);
  CREATE TABLE addresses (id INTEGER PRIMARY KEY, ip_key BLOB NOT NULL UNIQUE, address TEXT NOT NULL,
    state TEXT NOT NULL, created_at TEXT NOT NULL);
  CREATE TABLE address_runs (first_key BLOB PRIMARY KEY, last_key BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    detail TEXT NOT NULL);`;

/** 17-byte key of 10.0.0.0 + offset computed by PostgreSQL itself (family byte, 12 zero bytes, 4 address bytes). */
const PG_KEY = (expr: string) => `'\\x04000000000000000000000000'::bytea || int4send(${Number(NET10)} + ${expr})`;

async function seedPostgres(client: pg.Client, offsets: number[]): Promise<void> {
  await client.query(PG_SCHEMA);
  await client.query(`INSERT INTO subnets (first_key, last_key, name) VALUES ($1, $2, 'bench /8')`, [
    key(NET10),
    key(NET10 + 0xffffffn),
  ]);
  const now = new Date().toISOString();
  await client.query(
    `INSERT INTO addresses (ip_key, address, state, created_at)
     SELECT ${PG_KEY('g')}, host('10.0.0.0'::inet + g), 'assigned', $1
     FROM (SELECT generate_series(1, ${RUN}) AS g UNION ALL SELECT unnest($2::int[])) s`,
    [now, offsets],
  );
  const runs = runsOf([...Array.from({ length: RUN }, (_, i) => i + 1), ...offsets]);
  await client.query(
    `INSERT INTO address_runs (first_key, last_key)
     SELECT ${PG_KEY('f')}, ${PG_KEY('l')} FROM unnest($1::int[], $2::int[]) AS r(f, l)`,
    [runs.map((r) => r[0]), runs.map((r) => r[1])],
  );
  await client.query(
    `INSERT INTO addresses_inet SELECT '10.0.0.0'::inet + g
     FROM (SELECT generate_series(1, ${RUN}) AS g UNION ALL SELECT unnest($1::int[])) s`,
    [offsets],
  );
  await client.query('VACUUM ANALYZE');
}

function seedSqlite(db: Database.Database, offsets: number[]): void {
  db.exec(SQLITE_SCHEMA);
  db.prepare('INSERT INTO subnets (first_key, last_key, name) VALUES (?, ?, ?)').run(
    key(NET10),
    key(NET10 + 0xffffffn),
    'bench /8',
  );
  const now = new Date().toISOString();
  const ins = db.prepare("INSERT INTO addresses (ip_key, address, state, created_at) VALUES (?, ?, 'assigned', ?)");
  const insRun = db.prepare('INSERT INTO address_runs (first_key, last_key) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 1; i <= RUN; i++) ins.run(key(NET10 + BigInt(i)), formatIp(v4(NET10 + BigInt(i))), now);
    for (const o of offsets) ins.run(key(NET10 + BigInt(o)), formatIp(v4(NET10 + BigInt(o))), now);
    for (const [f, l] of runsOf([...Array.from({ length: RUN }, (_, i) => i + 1), ...offsets]))
      insRun.run(key(NET10 + BigInt(f)), key(NET10 + BigInt(l)));
  })();
}

const INET_SAMPLES = 5;

const nextFreePostgres: Benchmark = {
  name: 'pg-next-free',
  description: `next-free in 10.0.0.0/8 holding ${int(RUN)} contiguous + ${int(SCATTERED)} scattered addresses: the same transaction in Kysely and as SQL text (SqlExec), each on SQLite and on PostgreSQL 15 (unix socket); an inet query without runs`,
  async run(ctx) {
    const offsets = scatteredOffsets();
    const rows: Row[] = [];

    // SQLite through the same two implementations (Kysely with kept statements; SqlExec).
    const sqliteDb = new Database(join(ctx.tempDir('pg-next-free'), 'k.db'));
    sqliteDb.pragma('journal_mode = WAL');
    sqliteDb.pragma('synchronous = NORMAL');
    const ks = new Kysely<AllocTables>({ dialect: cachedSqliteDialect(sqliteDb) });
    try {
      ctx.log('pg-next-free: seeding SQLite');
      seedSqlite(sqliteDb, offsets);
      // Rounds of 10 in turn: the Kysely code and the SqlExec code on the same file.
      const sqlite = sqliteExec(sqliteDb);
      const kSamples: number[] = [];
      const xSamples: number[] = [];
      const got: string[] = [];
      for (let i = 0; i < WARMUP * 2 + ALLOCATIONS; i++) {
        const useExec = Math.floor(i / 10) % 2 === 1;
        const t0 = performance.now();
        got.push(useExec ? await allocateNextSql(sqlite, 1, BOUNDS) : await allocateNext(ks, 1, BOUNDS, false));
        if (i >= WARMUP * 2) (useExec ? xSamples : kSamples).push(performance.now() - t0);
      }
      checkAllocations(got, 'SQLite');
      const runs = sqliteDb.prepare('SELECT count(*) FROM address_runs').pluck().get() as number;
      check(runs === SCATTERED + 1, `SQLite holds ${runs} runs, expected ${SCATTERED + 1}`);
      rows.push({
        benchmark: 'pg-next-free: SQLite, allocate 1 in /8 with 1M used, Kysely (kept statements) / SqlExec',
        target: '-',
        pass: null,
        result:
          `median ${msf(median(kSamples))} / ${msf(median(xSamples))}, ` +
          `p99 ${msf(percentile(kSamples, 99))} / ${msf(percentile(xSamples, 99))} (n=${kSamples.length} each)`,
      });
    } finally {
      sqliteDb.close();
    }

    let server: TestPostgres | undefined;
    const pool = { value: undefined as pg.Pool | undefined };
    let closing = false;
    try {
      server = await startPostgres(undefined, { settings: BENCH_POSTGRES_SETTINGS });
      if (!server) throw new Error('PostgreSQL missing');
      const url = await server.createDatabase('bench');
      const socketUrl = server.socketUrl.replace('/postgres?', '/bench?');
      const seedClient = new pg.Client({ connectionString: url });
      await seedClient.connect();
      ctx.log('pg-next-free: seeding PostgreSQL');
      const seed = await timed(() => seedPostgres(seedClient, offsets));
      await seedClient.end();
      rows.push({
        benchmark: 'pg-next-free: PostgreSQL seed 1,001,000 addresses + runs + inet copy (info)',
        target: '-',
        pass: null,
        result: `${(seed.ms / 1000).toFixed(1)} s (server-side generate_series)`,
      });

      pool.value = new pg.Pool({ connectionString: socketUrl, max: 4 });
      // An idle connection may hear the server's shutdown before its own goodbye: not a failure.
      pool.value.on('error', (e) => closing || ctx.log(`pg-next-free: idle connection failed: ${e.message}`));
      const kp = new Kysely<AllocTables>({ dialect: new PostgresDialect({ pool: pool.value }) });
      // Rounds of 10 in turn: Kysely, Kysely with named statements, SqlExec see the same machine load.
      const kpNamed = new Kysely<AllocTables>({
        dialect: new PostgresDialect({ pool: namedStatementPool(pool.value) }),
      });
      const pgExec = postgresExec(pool.value);
      const samples: [number[], number[], number[]] = [[], [], []];
      const got: string[] = [];
      await ctx.profiled('pg-next-free', async () => {
        for (let i = 0; i < WARMUP * 3 + PG_ALLOCATIONS; i++) {
          const variant = Math.floor(i / 10) % 3;
          const t0 = performance.now();
          got.push(
            variant === 2
              ? await allocateNextSql(pgExec, 1, BOUNDS)
              : await allocateNext(variant === 0 ? kp : kpNamed, 1, BOUNDS, true),
          );
          const elapsed = performance.now() - t0;
          if (i >= WARMUP * 3) samples[variant]!.push(elapsed);
        }
      });
      const [kysely, named, raw] = samples;
      checkAllocations(got, 'PostgreSQL');
      check(
        got.every((a, i) => a === formatIp(v4(NET10 + BigInt(RUN) + 1n + BigInt(i)))),
        'PostgreSQL allocations are not consecutive',
      );
      const stored = await pool.value.query<{ n: string; runs: string }>(
        `SELECT (SELECT count(*) FROM addresses WHERE ip_key BETWEEN $1 AND $2) AS n, (SELECT count(*) FROM address_runs) AS runs`,
        [key(NET10), key(NET10 + 0xffffffn)],
      );
      check(
        Number(stored.rows[0]!.n) === RUN + SCATTERED + got.length,
        `PostgreSQL holds ${stored.rows[0]!.n} addresses, expected ${RUN + SCATTERED + got.length}`,
      );
      check(Number(stored.rows[0]!.runs) === SCATTERED + 1, `PostgreSQL holds ${stored.rows[0]!.runs} runs`);
      const med = median(kysely);
      rows.push({
        benchmark: 'pg-next-free: Kysely on PostgreSQL (bytea runs), allocate 1 in /8 with 1M used',
        target: 'median < 5 ms',
        pass: med < 5,
        result: `median ${msf(med)}, p99 ${msf(percentile(kysely, 99))} (n=${kysely.length}, 7 round trips incl. BEGIN/COMMIT)`,
      });
      rows.push({
        benchmark: 'pg-next-free: the same Kysely code, pool sending named statements (info)',
        target: '-',
        pass: null,
        result: `median ${msf(median(named))}, p99 ${msf(percentile(named, 99))} (n=${named.length})`,
      });
      rows.push({
        benchmark: 'pg-next-free: the same transaction as SQL text on node-postgres (SqlExec, named statements) (info)',
        target: '-',
        pass: null,
        result: `median ${msf(median(raw))}, p99 ${msf(percentile(raw, 99))} (n=${raw.length})`,
      });

      // The lookups alone, raw pg vs Kysely on the same pool: what the builder costs on PostgreSQL.
      const probeSql =
        'SELECT first_key, last_key FROM address_runs WHERE first_key <= $1 ORDER BY first_key DESC LIMIT 1';
      const rawProbe: number[] = [];
      const kProbe: number[] = [];
      const namedProbe: number[] = [];
      for (let i = 0; i < 2_000; i++) {
        const at = key(NET10 + BigInt((i * 104_729) % 0xffffff));
        let t0 = performance.now();
        await pool.value.query({ name: 'probe', text: probeSql, values: [at] });
        rawProbe.push((performance.now() - t0) * 1000);
        for (const [k, out] of [
          [kp, kProbe],
          [kpNamed, namedProbe],
        ] as const) {
          t0 = performance.now();
          await k
            .selectFrom('address_runs')
            .select(['first_key', 'last_key'])
            .where('first_key', '<=', at)
            .orderBy('first_key', 'desc')
            .limit(1)
            .executeTakeFirst();
          out.push((performance.now() - t0) * 1000);
        }
      }
      rows.push({
        benchmark: 'pg-next-free: one run probe on PostgreSQL, raw pg (named) / Kysely / Kysely named',
        target: '-',
        pass: null,
        result: `median ${us(median(rawProbe))} / ${us(median(kProbe))} / ${us(median(namedProbe))}`,
      });

      // inet without runs: the first used address whose successor is free (anti-join over the index).
      const inetSql = `SELECT host(a.ip + 1) AS next FROM addresses_inet a
        WHERE a.ip >= '10.0.0.0'::inet AND a.ip < '10.255.255.254'::inet
          AND NOT EXISTS (SELECT 1 FROM addresses_inet b WHERE b.ip = a.ip + 1)
        ORDER BY a.ip LIMIT 1`;
      const inetSamples: number[] = [];
      let inetAnswer = '';
      for (let i = 0; i < INET_SAMPLES; i++) {
        const t0 = performance.now();
        inetAnswer = (await pool.value.query<{ next: string }>(inetSql)).rows[0]!.next;
        inetSamples.push(performance.now() - t0);
      }
      check(inetAnswer === EXPECTED_FIRST, `inet query answered ${inetAnswer}, expected ${EXPECTED_FIRST}`);
      rows.push({
        benchmark: 'pg-next-free: inet, no runs table (anti-join), find 1 in /8 with 1M used (info)',
        target: '-',
        pass: null,
        result: `median ${msf(median(inetSamples))} (n=${INET_SAMPLES}; walks the whole 1M run)`,
      });
      closing = true;
      await kp.destroy(); // ends the pool
      pool.value = undefined;
    } finally {
      closing = true;
      await pool.value?.end().catch(() => {});
      await server?.stop();
    }
    return rows;
  },
};

export const postgresSuite: Suite = {
  name: 'postgres',
  benchmarks: [dialectOverhead, nextFreePostgres],
};
