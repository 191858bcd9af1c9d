// IPAM benchmarks: next-free allocation in a large /8, reservations through the HTTP API under
// 32 concurrent clients, /metrics with many subnets, and the subnet listing of a busy /16. The
// first three also run on PostgreSQL (#14) in the same run, beside the SQLite rows: a throw-away
// cluster (test/helpers/postgres.ts) reached over 127.0.0.1, the store opened as the exporter
// opens it; reservations also with two replicas on one database behind HAProxy.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { Store, openPool } from '../src/store/store.js';
import { migratePostgresStore } from '../src/store/pg-schema.js';
import type { Actor } from '../src/audit/log.js';
import { ADDRESS_SOURCES, ADDRESS_STATES } from '../src/ipam/core/fields.js';
import { formatIp, ipKey } from '../src/ipam/core/ip.js';
import { SUBNET_ROWS_MAX_PAGE } from '../src/ipam/schemas.js';
import { IpamService } from '../src/ipam/service.js';
import type { NewAddressRow } from '../src/ipam/store.js';
import type { HostRow } from '../src/discovery/store.js';
import { type Db, openDb } from '../src/store/db.js';
import type { TestPostgres } from '../test/helpers/postgres.js';
import { prng } from '../test/helpers/prng.js';
import {
  type Balancer,
  type BenchContext,
  type Benchmark,
  type ExporterProcess,
  type CannonRequest,
  type CannonResult,
  type Row,
  type Suite,
  cannon,
  httpCall,
  httpJson,
  int,
  median,
  ms,
  percentile,
  processCpuMs,
  processTreeCpuMs,
  sleep,
  timed,
  withPostgres,
} from './lib.js';

const ACTOR: Actor = { name: 'bench' };
const NET10 = 0x0a000000n; // 10.0.0.0
const v4 = (value: bigint) => ({ family: 4 as const, value });
const NOW = new Date().toISOString();

function addressRow(value: bigint, state: string = 'assigned', source: string = 'manual'): NewAddressRow {
  const ip = v4(value);
  return {
    vrf_id: 1,
    ip_key: ipKey(ip),
    address: formatIp(ip),
    family: 4,
    state,
    hostname: null,
    mac: null,
    description: '',
    owner: null,
    tags: '[]',
    source,
    created_at: NOW,
    updated_at: NOW,
  };
}

/** A fresh store file with `seed` applied in-process; the store is closed before returning. */
async function seedStore<T>(
  ctx: BenchContext,
  label: string,
  seed: (db: Db, ipam: IpamService) => T | Promise<T>,
): Promise<{ file: string; value: T }> {
  const file = join(ctx.tempDir(label), 'lanscape.db');
  const db = openDb(file);
  try {
    const value = await seed(db, new IpamService(Store.sqlite(db)));
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { file, value };
  } finally {
    db.close();
  }
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

// ---------------------------------------------------------------- PostgreSQL: stores and seeds

/**
 * Runs `fn` with IpamService on a PostgreSQL store, opened as the exporter opens one
 * (store/open.ts: openPool, Store.postgres, migratePostgresStore); closed afterwards.
 */
async function withPostgresIpam<T>(url: string, fn: (ipam: IpamService) => Promise<T>): Promise<T> {
  const store = Store.postgres(openPool(url, { poolSize: 4 }));
  const ipam = new IpamService(store);
  try {
    await migratePostgresStore(store.exec);
    return await fn(ipam);
  } finally {
    ipam.close();
    await store.close();
  }
}

/** The 17-byte address key (ipKey) of the IPv4 value `expr` (a bigint), computed by PostgreSQL. */
const PG_V4_KEY = (expr: string) => `'\\x04000000000000000000000000'::bytea || substring(int8send(${expr}) from 5)`;

/**
 * Seeds IPv4 addresses server-side into a migrated database holding no addresses yet: `select`
 * yields (v bigint, state text, source text) rows. The rows are what IpamStore.insertAddresses
 * writes (ip_key, ip_low, address, family 4, the defaults of a bare create, NOW), and the derived
 * tables are what the store keeps: address_runs the maximal runs of consecutive addresses (what
 * occupy() maintains), address_totals the count per (state, source) (what the deferred triggers
 * would add at COMMIT; they are switched off for this one transaction, a million trigger calls
 * being the slow part). Checked afterwards: the runs are `expectedRuns` and the totals add up.
 */
async function seedPostgresAddresses(
  url: string,
  select: string,
  params: unknown[],
  expectedRuns: number,
): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const before = await client.query<{ a: string; r: string; t: string }>(
      'SELECT (SELECT count(*) FROM addresses) AS a, (SELECT count(*) FROM address_runs) AS r, (SELECT count(*) FROM address_totals) AS t',
    );
    const b = before.rows[0]!;
    check(Number(b.a) + Number(b.r) + Number(b.t) === 0, 'seedPostgresAddresses wants a database without addresses');
    await client.query('BEGIN');
    await client.query('SET LOCAL session_replication_role = replica'); // no triggers in this transaction
    const inserted = await client.query(
      `INSERT INTO addresses (ip_key, ip_low, address, family, state, hostname, mac, description, owner, tags,
        source, created_at, updated_at)
       SELECT ${PG_V4_KEY('s.v')}, s.v, host('0.0.0.0'::inet + s.v), 4, s.state, NULL, NULL, '', NULL, '[]',
        s.source, '${NOW}', '${NOW}'
       FROM (${select}) AS s(v, state, source)`,
      params,
    );
    await client.query(
      `INSERT INTO address_runs (first_key, last_key)
       SELECT ${PG_V4_KEY('min(ip_low)')}, ${PG_V4_KEY('max(ip_low)')}
       FROM (SELECT ip_low, ip_low - row_number() OVER (ORDER BY ip_low) AS run FROM addresses WHERE family = 4) r
       GROUP BY run`,
    );
    await client.query(
      'INSERT INTO address_totals (state, source, n) SELECT state, source, count(*) FROM addresses GROUP BY state, source',
    );
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE');
    const after = await client.query<{ a: string; r: string; t: string }>(
      'SELECT (SELECT count(*) FROM addresses) AS a, (SELECT count(*) FROM address_runs) AS r, (SELECT sum(n) FROM address_totals) AS t',
    );
    const a = after.rows[0]!;
    check(Number(a.r) === expectedRuns, `seeded ${a.r} runs, expected ${expectedRuns}`);
    check(Number(a.t) === Number(a.a), `address_totals add up to ${a.t}, the table holds ${a.a}`);
    return inserted.rowCount ?? 0;
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------- 1. next free in a /8

const RUN = 1_000_000;
const SCATTERED = 1_000;
const ALLOCATIONS = 200;
const ALLOC_WARMUP = 10;
const ALLOC_TARGET_MS = { sqlite: 2, postgres: 5 };

/** Offsets in 10.0.0.0/8 of the scattered addresses: from 10.16.0.0 on, clear of the run and of what gets allocated. */
export function scatteredOffsets(): number[] {
  const rnd = prng(8);
  const picked = new Set<number>();
  while (picked.size < SCATTERED) picked.add(0x100000 + Math.floor(rnd() * (0xfffffe - 0x100000)));
  return [...picked].sort((a, b) => a - b);
}

/** Times ALLOCATIONS single allocations (after a warm-up) in the seeded /8 and checks what they took. */
async function nextFreeRow(
  ctx: BenchContext,
  backend: 'sqlite' | 'postgres',
  ipam: IpamService,
  subnetId: number,
): Promise<Row> {
  const store = IpamService.storeOf(ipam);
  const [lo, hi] = [ipKey(v4(NET10)), ipKey(v4(NET10 + 0xffffffn))];
  const inside = await store.countBetween(1, lo, hi);
  check(inside === RUN + SCATTERED, `seeded ${inside} addresses, expected ${RUN + SCATTERED}`);
  const expectedFirst = formatIp(v4(NET10 + BigInt(RUN) + 1n)); // 10.15.66.65
  const got: string[] = [];
  const samples: number[] = [];
  await ctx.profiled(`alloc-next-free-${backend}`, async () => {
    for (let i = 0; i < ALLOC_WARMUP + ALLOCATIONS; i++) {
      const start = performance.now();
      const views = await ipam.allocate({ subnetId }, { count: 1 }, ACTOR);
      const elapsed = performance.now() - start;
      if (i >= ALLOC_WARMUP) samples.push(elapsed);
      got.push(views[0]!.address);
    }
  });
  check(got[0] === expectedFirst, `first allocation gave ${got[0]}, expected ${expectedFirst}`);
  check(new Set(got).size === got.length, 'allocations returned duplicate addresses');
  const after = await store.countBetween(1, lo, hi);
  check(
    after === RUN + SCATTERED + got.length,
    `store holds ${after} addresses after allocating, expected ${RUN + SCATTERED + got.length}`,
  );
  const med = median(samples);
  const target = ALLOC_TARGET_MS[backend];
  return {
    benchmark:
      backend === 'sqlite'
        ? 'alloc-next-free: allocate 1 in /8 with 1M used'
        : 'alloc-next-free: PostgreSQL, allocate 1 in /8 with 1M used',
    target: `median < ${target} ms`,
    pass: med < target,
    result: `median ${ms(med)}, p99 ${ms(percentile(samples, 99))} (n=${samples.length})`,
  };
}

const allocNextFree: Benchmark = {
  name: 'alloc-next-free',
  description: `IpamService.allocate(count 1) in 10.0.0.0/8 holding ${int(RUN)} contiguous addresses from 10.0.0.1 plus ${int(SCATTERED)} scattered ones: on SQLite, then on PostgreSQL (Store.postgres over 127.0.0.1, a throw-away cluster)`,
  async run(ctx) {
    const rows: Row[] = [];
    const offsets = scatteredOffsets();
    const file = join(ctx.tempDir('alloc'), 'lanscape.db');
    const db = openDb(file);
    try {
      const ipam = new IpamService(Store.sqlite(db));
      const subnet = await ipam.createSubnet({ cidr: '10.0.0.0/8', name: 'bench /8' }, ACTOR);
      ctx.log(`alloc-next-free: seeding ${int(RUN + SCATTERED)} addresses in one transaction (SQLite)`);
      const seed = await timed(async () => {
        await Store.sqlite(db).write(async () => {
          for (let i = 1n; i <= BigInt(RUN); i++) await IpamService.storeOf(ipam).insertAddress(addressRow(NET10 + i));
          for (const off of offsets) await IpamService.storeOf(ipam).insertAddress(addressRow(NET10 + BigInt(off)));
        });
        db.pragma('wal_checkpoint(TRUNCATE)');
      });
      rows.push({
        benchmark: 'alloc-next-free: seed 1,001,000 rows (info)',
        target: '-',
        pass: null,
        result: `${(seed.ms / 1000).toFixed(1)} s (${int((RUN + SCATTERED) / (seed.ms / 1000))} rows/s)`,
      });
      rows.push(await nextFreeRow(ctx, 'sqlite', ipam, subnet.id));
    } finally {
      db.close();
    }

    await withPostgres(async (server) => {
      const url = await server.createDatabase('alloc');
      await withPostgresIpam(url, async (ipam) => {
        const subnet = await ipam.createSubnet({ cidr: '10.0.0.0/8', name: 'bench /8' }, ACTOR);
        ctx.log(`alloc-next-free: seeding ${int(RUN + SCATTERED)} addresses server-side (PostgreSQL)`);
        const seed = await timed(() =>
          seedPostgresAddresses(
            url,
            `SELECT ${NET10}::bigint + g, 'assigned', 'manual'
             FROM (SELECT generate_series(1, ${RUN}) UNION ALL SELECT unnest($1::int[])) AS o(g)`,
            [offsets],
            SCATTERED + 1, // the run, and every scattered address on its own (none are neighbours)
          ),
        );
        rows.push({
          benchmark: 'alloc-next-free: PostgreSQL seed 1,001,000 rows (info)',
          target: '-',
          pass: null,
          result: `${(seed.ms / 1000).toFixed(1)} s (server-side generate_series, runs and totals derived, VACUUM ANALYZE)`,
        });
        rows.push(await nextFreeRow(ctx, 'postgres', ipam, subnet.id));
      });
    });
    return rows;
  },
};

// ---------------------------------------------------------------- 2. reservations over HTTP

const CONNECTIONS = 32;
const DURATION_S = 10;
const HTTP_WARMUP_S = 2;
const RATE_TARGET = 2000;
const P99_TARGET_MS = 25;
/** PostgreSQL, one replica against SQLite's in the same run (#14). */
const PG_RATE_SHARE = 0.5;
const PG_P99_TARGET_MS = 50;

interface LoadTarget {
  minRate: number;
  p99Ms: number;
  text: string;
}

const SQLITE_TARGET: LoadTarget = {
  minRate: RATE_TARGET,
  p99Ms: P99_TARGET_MS,
  text: `>= ${int(RATE_TARGET)} req/s, p99 < ${P99_TARGET_MS} ms, 0 non-2xx`,
};

/** Where a load test's exporters keep their store: SQLite, or N replicas on one PostgreSQL database. */
interface Deployment {
  /** In the row's name, e.g. "PostgreSQL, 2 replicas behind HAProxy" ('' for SQLite). */
  label: string;
  postgres?: { server: TestPostgres; url: string; replicas: number };
}

const SQLITE: Deployment = { label: '' };

interface LoadOutcome {
  row: Row;
  result: CannonResult;
  /** CPU-ms per completed request, per process (or group) measured. */
  cpuPerRequest: { name: string; ms: number }[];
}

/**
 * `stored` must lie between the 2xx answers counted and the requests sent: autocannon stops
 * counting at the deadline, while the requests then in flight still complete on the server.
 * Without a target the row is info, unless something went wrong.
 */
function loadRow(
  name: string,
  r: CannonResult,
  stored: number,
  expected: { min: number; max: number },
  target: LoadTarget | null,
): Row {
  const storedOk = stored >= expected.min && stored <= expected.max;
  const clean = r.non2xx === 0 && r.errors === 0 && r.timeouts === 0 && storedOk;
  const met = target ? r.requests.average >= target.minRate && r.latency.p99 < target.p99Ms : true;
  const problems = [
    r.errors || r.timeouts ? `${r.errors} errors, ${r.timeouts} timeouts` : '',
    storedOk ? '' : `store holds ${stored} addresses, expected ${expected.min}–${expected.max}`,
  ]
    .filter(Boolean)
    .join('; ');
  return {
    benchmark: name,
    target: target?.text ?? '-',
    pass: target ? met && clean : clean ? null : false,
    result:
      `${int(r.requests.average)} req/s (min ${int(r.requests.min)}/s), p50 ${ms(r.latency.p50)}, ` +
      `p99 ${ms(r.latency.p99)}, non-2xx ${r.non2xx}${problems ? ` — ${problems}` : ''}`,
  };
}

/** A subnet `cidr` in a fresh store of the deployment; the SQLite file (a path unused on PostgreSQL) and its id. */
async function seedSubnet(
  ctx: BenchContext,
  name: string,
  cidr: string,
  deployment: Deployment,
): Promise<{ file: string; subnetId: number }> {
  if (!deployment.postgres) {
    const { file, value } = await seedStore(
      ctx,
      name,
      async (_db, ipam) => (await ipam.createSubnet({ cidr, name }, ACTOR)).id,
    );
    return { file, subnetId: value };
  }
  const subnetId = await withPostgresIpam(
    deployment.postgres.url,
    async (ipam) => (await ipam.createSubnet({ cidr, name }, ACTOR)).id,
  );
  return { file: join(ctx.tempDir(name), 'unused.db'), subnetId };
}

async function loadTest(
  ctx: BenchContext,
  name: string,
  label: string,
  cidr: string,
  build: (subnetId: number) => { path: string; requests: CannonRequest[] },
  deployment: Deployment = SQLITE,
  /** null: an info row. */
  target: LoadTarget | null = SQLITE_TARGET,
): Promise<LoadOutcome> {
  const { file, subnetId } = await seedSubnet(ctx, name, cidr, deployment);
  const pgSetup = deployment.postgres;
  // Replicas behind one balancer share one write token.
  const env: Record<string, string> = pgSetup
    ? { LANSCAPE_DATABASE_URL: pgSetup.url, LANSCAPE_WRITE_TOKEN: randomBytes(24).toString('hex') }
    : {};
  const servers: ExporterProcess[] = [];
  let balancer: Balancer | undefined;
  try {
    for (let i = 0; i < (pgSetup?.replicas ?? 1); i++) servers.push(await ctx.startExporter(file, env));
    if (servers.length > 1) balancer = await ctx.startBalancer(servers);
    const base = balancer?.url ?? servers[0]!.url;
    const token = servers[0]!.token;
    const { path, requests } = build(subnetId);
    const opts = {
      url: `${base}${path}`,
      connections: CONNECTIONS,
      method: 'POST',
      timeout: 10,
      requests,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    };
    const where = `${servers.map((s) => `pid ${s.pid}`).join(', ')}${balancer ? `, HAProxy pid ${balancer.pid}` : ''}${pgSetup ? `, PostgreSQL pid ${pgSetup.server.pid()}` : ''}`;
    ctx.log(
      `${name}${deployment.label ? ` (${deployment.label})` : ''}: ${servers[0]!.entry} ${where}; warm-up ${HTTP_WARMUP_S} s, then ${DURATION_S} s with ${CONNECTIONS} connections`,
    );
    const warm = await cannon({ ...opts, duration: HTTP_WARMUP_S });
    // CPU meters: each exporter, HAProxy, the PostgreSQL cluster (postmaster and backends), this process.
    const meters: { name: string; read: () => number | undefined }[] = [
      ...servers.map((s, i) => ({
        name: servers.length > 1 ? `exporter ${i + 1}` : 'exporter',
        read: () => s.cpuMs(),
      })),
      ...(balancer ? [{ name: 'HAProxy', read: () => processCpuMs(balancer!.pid) }] : []),
      ...(pgSetup ? [{ name: 'PostgreSQL', read: () => processTreeCpuMs(pgSetup.server.pid()) }] : []),
      {
        name: 'client',
        read: () => {
          const u = process.cpuUsage();
          return (u.user + u.system) / 1000;
        },
      },
    ];
    const cpu0 = meters.map((m) => m.read());
    const at = performance.now();
    const r = await cannon({ ...opts, duration: DURATION_S });
    const wall = performance.now() - at;
    const cpu1 = meters.map((m) => m.read());
    const used = meters.map((m, i) => ({
      name: m.name,
      ms: cpu0[i] === undefined || cpu1[i] === undefined ? NaN : cpu1[i]! - cpu0[i]!,
    }));
    const completed = r['2xx'] + r.non2xx;
    const cpuPerRequest = used.map((u) => ({ name: u.name, ms: u.ms / completed }));
    const subnet = await httpJson<{ utilization: { used: number } }>(`${base}/api/v1/subnets/${subnetId}`, { token });
    const row = loadRow(
      `${name}: ${deployment.label ? `${deployment.label}, ` : ''}${label}`,
      r,
      subnet.utilization.used,
      { min: warm['2xx'] + r['2xx'], max: warm.requests.sent + r.requests.sent },
      target,
    );
    row.result += `; CPU ${used.map((u) => `${u.name} ${Number.isNaN(u.ms) ? '?' : `${((100 * u.ms) / wall).toFixed(0)}%`}`).join(', ')}`;
    if (warm.non2xx > 0) row.result += ` (warm-up non-2xx ${warm.non2xx})`;
    if (row.pass === false && (r.non2xx > 0 || r.errors > 0))
      ctx.log(
        `${name}: status codes ${JSON.stringify(r.statusCodeStats)}; exporter output:\n${servers.map((s) => s.tail()).join('\n')}`,
      );
    return { row, result: r, cpuPerRequest };
  } finally {
    await balancer?.stop();
    for (const s of servers) await s.stop();
  }
}

const reserveNext = (id: number) => ({
  path: `/api/v1/subnets/${id}/available-ips`,
  requests: [{ body: JSON.stringify({ count: 1 }) }],
});

const httpReserveNext: Benchmark = {
  name: 'http-reserve-next',
  description:
    `POST /api/v1/subnets/{id}/available-ips {"count":1} in a /16, ${CONNECTIONS} connections, ${DURATION_S} s: ` +
    'one exporter on SQLite, one on PostgreSQL, two on one PostgreSQL database behind HAProxy (roundrobin)',
  async run(ctx) {
    const label = `POST available-ips, ${CONNECTIONS} clients`;
    const sqlite = await loadTest(ctx, 'http-reserve-next', label, '10.1.0.0/16', reserveNext);
    const sqliteRate = sqlite.result.requests.average;
    const rows = [sqlite.row];
    await withPostgres(async (server) => {
      const one = await loadTest(
        ctx,
        'http-reserve-next',
        label,
        '10.1.0.0/16',
        reserveNext,
        { label: 'PostgreSQL', postgres: { server, url: await server.createDatabase('reserve_one'), replicas: 1 } },
        {
          minRate: PG_RATE_SHARE * sqliteRate,
          p99Ms: PG_P99_TARGET_MS,
          text: `>= ${100 * PG_RATE_SHARE}% of SQLite's (${int(PG_RATE_SHARE * sqliteRate)} req/s), p99 < ${PG_P99_TARGET_MS} ms, 0 non-2xx`,
        },
      );
      one.row.result += ` — ${((100 * one.result.requests.average) / sqliteRate).toFixed(0)}% of SQLite's`;
      const two = await loadTest(
        ctx,
        'http-reserve-next',
        label,
        '10.1.0.0/16',
        reserveNext,
        {
          label: 'PostgreSQL, 2 replicas behind HAProxy',
          postgres: { server, url: await server.createDatabase('reserve_two'), replicas: 2 },
        },
        null,
      );
      two.row.benchmark += ' (info)';
      const perRequest = (o: LoadOutcome) =>
        o.cpuPerRequest.map((c) => `${c.name} ${Number.isNaN(c.ms) ? '?' : c.ms.toFixed(3)}`).join(', ');
      const sum = (o: LoadOutcome, prefix: string) =>
        o.cpuPerRequest.filter((c) => c.name.startsWith(prefix)).reduce((n, c) => n + c.ms, 0);
      const cpuRow = (o: LoadOutcome, what: string): Row => ({
        benchmark: `http-reserve-next: CPU-ms per request, ${what} (info)`,
        target: '-',
        pass: null,
        result: `${perRequest(o)}; exporters ${sum(o, 'exporter').toFixed(3)}, PostgreSQL ${sum(o, 'PostgreSQL').toFixed(3)}`,
      });
      rows.push(one.row, cpuRow(one, 'PostgreSQL, 1 replica'), two.row, cpuRow(two, '2 replicas behind HAProxy'));
    });
    return rows;
  },
};

const httpAddressCreate: Benchmark = {
  name: 'http-address-create',
  description: `POST /api/v1/addresses with a distinct address of a second /16 each time, ${CONNECTIONS} connections, ${DURATION_S} s`,
  run: async (ctx) => {
    const base = NET10 + (2n << 16n); // 10.2.0.0/16
    let next = 1n;
    const { row } = await loadTest(
      ctx,
      'http-address-create',
      `POST addresses, ${CONNECTIONS} clients`,
      '10.2.0.0/16',
      () => ({
        path: '/api/v1/addresses',
        requests: [
          {
            setupRequest: (req) => {
              // Past .255.254 this repeats an address: the run would then show 409s, not hide them.
              const address = formatIp(v4(base + (next <= 0xfffen ? next++ : 0xfffen)));
              return { ...req, body: JSON.stringify({ address }) };
            },
          },
        ],
      }),
    );
    return [row];
  },
};

// ---------------------------------------------------------------- 3. /metrics

const METRIC_SUBNETS = 1_000;
const PER_SUBNET = 100;
const SCRAPE_WARMUP = 3;
const SCRAPES = 20;
const PG_SCRAPE_TARGET_MS = 150;

/** Host offset of the k-th address of a metrics subnet: 60 contiguous hosts, then 40 every third one. */
const metricsHost = (k: number) => (k < 60 ? k + 1 : 70 + (k - 60) * 3);
/** The network of the i-th metrics subnet: 10.3.0.0/24, 10.3.1.0/24, ... 10.6.231.0/24. */
const metricsNet = (i: number) => NET10 + (3n << 16n) + (BigInt(i) << 8n);

async function createMetricsSubnets(ipam: IpamService): Promise<void> {
  for (let i = 0; i < METRIC_SUBNETS; i++)
    await ipam.createSubnet(
      { cidr: `${formatIp(v4(metricsNet(i)))}/24`, name: `bench-${i}`, vlan: (i % 4094) + 1 },
      ACTOR,
    );
}

/**
 * Scrapes /metrics (warm-up, then timed) and checks what it says of the seeded subnets; then
 * times scrapes that each follow a write (one address created through the API, not timed): the
 * exporter keeps per-subnet counts while no address changed (ipam/metrics.ts), so the first row
 * is the steady state and the second what a scrape costs when it must count again.
 */
async function scrapeRows(ctx: BenchContext, srv: ExporterProcess, backend: 'sqlite' | 'postgres'): Promise<Row[]> {
  ctx.log(
    `metrics-scrape (${backend}): ${srv.entry} pid ${srv.pid}; ${SCRAPE_WARMUP} warm-up + ${SCRAPES} timed scrapes, ` +
      `then ${SCRAPES} after a write each`,
  );
  // PostgreSQL: store-scoped series come from the leader only; the one replica takes the lock at start.
  const deadline = Date.now() + 30_000;
  while (!/^lanscape_leader 1$/m.test((await httpCall(`${srv.url}/metrics`)).body.toString())) {
    check(Date.now() < deadline, 'the exporter did not become the leader within 30 s');
    await sleep(200);
  }
  const samples: number[] = [];
  let body = '';
  for (let i = 0; i < SCRAPE_WARMUP + SCRAPES; i++) {
    const r = await httpCall(`${srv.url}/metrics`);
    check(r.status === 200, `GET /metrics: HTTP ${r.status}`);
    if (i >= SCRAPE_WARMUP) samples.push(r.ms);
    body = r.body.toString();
  }
  const subnets = new Set<string>();
  for (const m of body.matchAll(/^lanscape_subnet_utilization_ratio\{subnet="([^"]+)",vrf="global"\} (\S+)$/gm))
    subnets.add(m[1]!);
  check(
    subnets.size === METRIC_SUBNETS,
    `/metrics has lanscape_subnet_utilization_ratio for ${subnets.size} subnets, expected ${METRIC_SUBNETS}`,
  );
  const addresses = (text: string) =>
    [...text.matchAll(/^lanscape_addresses\{[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  check(addresses(body) === METRIC_SUBNETS * PER_SUBNET, `lanscape_addresses adds up to ${addresses(body)}`);

  const changed: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    // .250 of subnet i: outside the seeded hosts (the last is .187).
    const address = formatIp(v4(metricsNet(i) + 250n));
    await httpJson(`${srv.url}/api/v1/addresses`, { method: 'POST', token: srv.token, json: { address } });
    const r = await httpCall(`${srv.url}/metrics`);
    check(r.status === 200, `GET /metrics: HTTP ${r.status}`);
    changed.push(r.ms);
    const text = r.body.toString();
    const counted = text.match(
      new RegExp(
        `^lanscape_subnet_addresses\\{subnet="${address.replace(/\.\d+$/, '.0')}/24",vrf="global",state="reserved"\\} (\\d+)$`,
        'm',
      ),
    );
    check(counted?.[1] === String(1 + PER_SUBNET / ADDRESS_STATES.length), `the scrape after ${address} counted it`);
    check(addresses(text) === METRIC_SUBNETS * PER_SUBNET + i + 1, `lanscape_addresses adds up to ${addresses(text)}`);
  }

  const size = `(n=${SCRAPES}, ${subnets.size} subnets, ${(Buffer.byteLength(body) / 1024).toFixed(0)} KiB)`;
  const stats = (xs: number[]) => ({ med: median(xs), max: Math.max(...xs), p99: percentile(xs, 99) });
  const steady = stats(samples);
  const cold = stats(changed);
  if (backend === 'sqlite')
    return [
      {
        benchmark: 'metrics-scrape: 1,000 subnets, 100,000 addresses',
        target: '< 100 ms every scrape (max)',
        pass: steady.max < 100,
        result: `median ${ms(steady.med)}, max ${ms(steady.max)} ${size}`,
      },
      {
        benchmark: 'metrics-scrape: the same, an address created before each scrape (info)',
        target: '-',
        pass: null,
        result: `median ${ms(cold.med)}, p99 ${ms(cold.p99)}, max ${ms(cold.max)} (n=${SCRAPES})`,
      },
    ];
  const pgRow = (benchmark: string, x: typeof steady, extra: string): Row => ({
    benchmark,
    target: `median and p99 < ${PG_SCRAPE_TARGET_MS} ms`,
    pass: x.med < PG_SCRAPE_TARGET_MS && x.p99 < PG_SCRAPE_TARGET_MS,
    result: `median ${ms(x.med)}, p99 ${ms(x.p99)}, max ${ms(x.max)} ${extra}`,
  });
  return [
    pgRow('metrics-scrape: PostgreSQL, 1,000 subnets, 100,000 addresses', steady, size),
    pgRow('metrics-scrape: PostgreSQL, the same, an address created before each scrape', cold, `(n=${SCRAPES})`),
  ];
}

const metricsScrape: Benchmark = {
  name: 'metrics-scrape',
  description: `GET /metrics with ${int(METRIC_SUBNETS)} /24 subnets holding ${PER_SUBNET} addresses each, on SQLite, then on PostgreSQL`,
  async run(ctx) {
    const { file } = await seedStore(ctx, 'metrics', async (db, ipam) => {
      await Store.sqlite(db).write(async () => {
        await createMetricsSubnets(ipam);
        for (let i = 0; i < METRIC_SUBNETS; i++) {
          // A mix of runs and holes, states and sources.
          for (let k = 0; k < PER_SUBNET; k++) {
            await IpamService.storeOf(ipam).insertAddress(
              addressRow(
                metricsNet(i) + BigInt(metricsHost(k)),
                ADDRESS_STATES[k % ADDRESS_STATES.length],
                ADDRESS_SOURCES[k % ADDRESS_SOURCES.length],
              ),
            );
          }
        }
      });
    });
    const rows: Row[] = [];
    const srv = await ctx.startExporter(file);
    try {
      rows.push(...(await scrapeRows(ctx, srv, 'sqlite')));
    } finally {
      await srv.stop();
    }

    await withPostgres(async (server) => {
      const url = await server.createDatabase('metrics');
      ctx.log('metrics-scrape: seeding PostgreSQL (subnets through IpamService, addresses server-side)');
      await withPostgresIpam(url, (ipam) => ipam.write(() => createMetricsSubnets(ipam)));
      const hosts = Array.from({ length: PER_SUBNET }, (_, k) => metricsHost(k));
      // Runs per subnet: the 60 contiguous hosts, then each of the 40 on its own.
      await seedPostgresAddresses(
        url,
        `SELECT ${metricsNet(0)}::bigint + i * 256 + ($1::int[])[k + 1], ($2::text[])[k % ${ADDRESS_STATES.length} + 1],
           ($3::text[])[k % ${ADDRESS_SOURCES.length} + 1]
         FROM generate_series(0, ${METRIC_SUBNETS - 1}) AS i, generate_series(0, ${PER_SUBNET - 1}) AS k`,
        [hosts, [...ADDRESS_STATES], [...ADDRESS_SOURCES]],
        METRIC_SUBNETS * (1 + (PER_SUBNET - 60)),
      );
      const pgSrv = await ctx.startExporter(join(ctx.tempDir('metrics-pg'), 'unused.db'), {
        LANSCAPE_DATABASE_URL: url,
      });
      try {
        rows.push(...(await scrapeRows(ctx, pgSrv, 'postgres')));
      } finally {
        await pgSrv.stop();
      }
    });
    return rows;
  },
};

// ---------------------------------------------------------------- 3b. /metrics with 20,000 subnets

const BIG_SUBNETS = 20_000;
const BIG_PER_SUBNET = 5;
const BIG_SCRAPE_WARMUP = 2;
const BIG_SCRAPES = 10;
const BIG_TARGET_MS = 1000;
const HEALTH_TARGET_MS = 100;

/**
 * 20,000 /24s (10.64.0.0/24 on) with 5 addresses each, every address observed by a (pretend)
 * sweep, states and sources cycling, 1 in 97 tagged critical, a range in every tenth subnet (every
 * other one marked used). Written straight through the store: IpamService.createSubnet checks
 * each new subnet against the tree, which is not what this measures.
 */
async function seedBig(db: Db, ipam: IpamService): Promise<{ addresses: number; tracked: number }> {
  // Synchronously, in the seed's one transaction (DiscoveryStore is async, over the Store).
  const insertHost = db.prepare(`INSERT INTO hosts (vrf_id, ip_key, address, status, misses, rtt_seconds, first_seen_at,
    last_seen_at, status_changed_at, last_checked_at, mac, vendor, ptr, ports, ports_checked_at, nmap_checked_at)
    VALUES (@vrf_id, @ip_key, @address, @status, @misses, @rtt_seconds, @first_seen_at, @last_seen_at, @status_changed_at,
    @last_checked_at, @mac, @vendor, @ptr, @ports, @ports_checked_at, @nmap_checked_at)`);
  const hosts = { upsertHost: (row: HostRow) => insertHost.run(row) };
  const now = Date.now();
  let addresses = 0;
  let tracked = 0;
  await Store.sqlite(db).write(async () => {
    for (let i = 0; i < BIG_SUBNETS; i++) {
      const net = NET10 + (64n << 16n) + (BigInt(i) << 8n);
      const first = v4(net);
      const last = v4(net + 255n);
      const subnetId = await IpamService.storeOf(ipam).insertSubnet({
        vrf_id: 1,
        cidr: `${formatIp(first)}/24`,
        family: 4,
        prefix_length: 24,
        first_key: ipKey(first),
        last_key: ipKey(last),
        name: `big-${i}`,
        description: '',
        vlan: (i % 4094) + 1,
        gateway: null,
        tags: '[]',
        scan_enabled: 1,
        scan_interval_seconds: null,
        created_at: NOW,
        updated_at: NOW,
      });
      if (i % 10 === 0) {
        const a = v4(net + 200n);
        const b = v4(net + 220n);
        await IpamService.storeOf(ipam).insertRange({
          vrf_id: 1,
          subnet_id: subnetId,
          start_address: formatIp(a),
          end_address: formatIp(b),
          first_key: ipKey(a),
          last_key: ipKey(b),
          label: 'pool',
          color: null,
          purpose: 'dhcp',
          description: '',
          auto_allocate: 1,
          mark_utilized: i % 20 === 0 ? 1 : 0,
          created_at: NOW,
          updated_at: NOW,
        });
      }
      for (let k = 0; k < BIG_PER_SUBNET; k++) {
        const n = i * BIG_PER_SUBNET + k;
        const ip = v4(net + BigInt(1 + k * ((i % 7) + 1)));
        const source = ADDRESS_SOURCES[n % ADDRESS_SOURCES.length]!;
        await IpamService.storeOf(ipam).insertAddress({
          ...addressRow(ip.value, ADDRESS_STATES[(i + k) % ADDRESS_STATES.length], source),
          tags: n % 97 === 0 ? '["critical"]' : '[]',
        });
        addresses += 1;
        const status = n % 5 < 3 ? 'up' : n % 5 < 4 ? 'down' : 'unknown';
        hosts.upsertHost({
          vrf_id: 1,
          ip_key: ipKey(ip),
          address: formatIp(ip),
          status,
          misses: 0,
          rtt_seconds: 0.001,
          first_seen_at: now - 86_400_000,
          last_seen_at: status === 'unknown' ? null : now - 60_000,
          status_changed_at: null,
          last_checked_at: now,
          mac: null,
          vendor: null,
          ptr: null,
          ports: k === 0 ? '[{"port":22,"protocol":"tcp","service":"ssh","product":null,"version":null}]' : '[]',
          ports_checked_at: null,
          nmap_checked_at: null,
        });
        tracked += 1;
      }
    }
  });
  return { addresses, tracked };
}

const metricsScrapeBig: Benchmark = {
  name: 'metrics-scrape-20k',
  description: `GET /metrics with ${int(BIG_SUBNETS)} subnets, ${int(BIG_SUBNETS * BIG_PER_SUBNET)} addresses and host observations (default caps), while /healthz is polled`,
  async run(ctx) {
    ctx.log(
      `metrics-scrape-20k: seeding ${int(BIG_SUBNETS)} subnets and ${int(BIG_SUBNETS * BIG_PER_SUBNET)} addresses`,
    );
    const { file, value: seeded } = await seedStore(ctx, 'metrics-big', seedBig);
    const srv = await ctx.startExporter(file);
    try {
      ctx.log(
        `metrics-scrape-20k: ${srv.entry} pid ${srv.pid}; ${BIG_SCRAPE_WARMUP} warm-up + ${BIG_SCRAPES} timed scrapes, /healthz every 5 ms meanwhile`,
      );
      const samples: number[] = [];
      const health: number[] = [];
      let scraping = true;
      const prober = (async () => {
        while (scraping) {
          const r = await httpCall(`${srv.url}/healthz`);
          check(r.status === 200, `GET /healthz: HTTP ${r.status}`);
          health.push(r.ms);
          await sleep(5);
        }
      })();
      let body = '';
      let cpu0 = srv.cpuMs();
      try {
        for (let i = 0; i < BIG_SCRAPE_WARMUP + BIG_SCRAPES; i++) {
          if (i === BIG_SCRAPE_WARMUP) {
            health.length = 0;
            cpu0 = srv.cpuMs();
          }
          const r = await httpCall(`${srv.url}/metrics`);
          check(r.status === 200, `GET /metrics: HTTP ${r.status}`);
          if (i >= BIG_SCRAPE_WARMUP) samples.push(r.ms);
          body = r.body.toString();
        }
      } finally {
        scraping = false;
        await prober;
      }
      const cpu1 = srv.cpuMs();
      const metric = (name: string, labels = '') => {
        const m = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ''} (\\S+)$`, 'm').exec(body);
        return m ? Number(m[1]) : NaN;
      };
      const subnets = new Set([...body.matchAll(/^lanscape_subnet_info\{subnet="([^"]+)"/gm)].map((m) => m[1]));
      const hostsWithSeries = new Set([...body.matchAll(/^lanscape_host_info\{address="([^"]+)"/gm)].map((m) => m[1]));
      const addressTotal = [...body.matchAll(/^lanscape_addresses\{[^}]*\} (\S+)$/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
      check(
        subnets.size === 2000,
        `lanscape_subnet_info for ${subnets.size} subnets, expected 2,000 (the default cap)`,
      );
      check(metric('lanscape_subnets') === BIG_SUBNETS, `lanscape_subnets ${metric('lanscape_subnets')}`);
      check(metric('lanscape_metrics_objects_dropped', 'kind="subnet"') === BIG_SUBNETS - 2000, 'subnets dropped');
      check(
        hostsWithSeries.size === 2000,
        `lanscape_host_info for ${hostsWithSeries.size} hosts, expected 2,000 (the default cap)`,
      );
      check(metric('lanscape_metrics_objects_dropped', 'kind="host"') === seeded.tracked - 2000, 'hosts dropped');
      check(
        addressTotal === seeded.addresses,
        `lanscape_addresses adds up to ${addressTotal}, expected ${seeded.addresses}`,
      );
      const series = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
      const max = Math.max(...samples);
      const healthMax = Math.max(...health);
      const cpu =
        cpu0 === undefined || cpu1 === undefined
          ? ''
          : `, exporter CPU ${int((cpu1 - cpu0) / BIG_SCRAPES)} ms/scrape with /healthz`;
      return [
        {
          benchmark: 'metrics-scrape-20k: 20,000 subnets, 100,000 hosts',
          target: `< ${int(BIG_TARGET_MS)} ms every scrape, /healthz < ${HEALTH_TARGET_MS} ms`,
          pass: max < BIG_TARGET_MS && healthMax < HEALTH_TARGET_MS,
          result:
            `median ${ms(median(samples))}, max ${ms(max)} (n=${BIG_SCRAPES}, ${int(series)} series, ${(Buffer.byteLength(body) / 1048576).toFixed(1)} MiB${cpu}); ` +
            `/healthz max ${ms(healthMax)}, p99 ${ms(percentile(health, 99))} (n=${health.length})`,
        },
      ];
    } finally {
      await srv.stop();
    }
  },
};

// ---------------------------------------------------------------- 4. subnet listing

const LIST_ADDRESSES = 20_000;
const LIST_WARMUP = 3;
const LISTS = 21;
const FULL_LISTS = 5;

/** Host offsets in a /16: 15,000 every third address, then 20 clumps of 250. */
function listingHosts(): number[] {
  const hosts: number[] = [];
  for (let k = 0; k < 15_000; k++) hosts.push(1 + 3 * k); // .0.1 .. 175.187 (offset 44,998)
  for (let c = 0; c < 20; c++) for (let j = 0; j < 250; j++) hosts.push(45_100 + c * 1_000 + j);
  return hosts;
}

/** Free intervals of the usable hosts 1..65534 around the sorted `hosts`. */
function gapCount(hosts: readonly number[]): number {
  let gaps = 0;
  let cursor = 1;
  for (const h of hosts) {
    if (h > cursor) gaps++;
    cursor = h + 1;
  }
  return cursor <= 0xfffe ? gaps + 1 : gaps;
}

const subnetList: Benchmark = {
  name: 'subnet-list',
  description: `GET /api/v1/subnets/{id}/addresses pages (and the full listing) of a /16 with ${int(LIST_ADDRESSES)} addresses (rows plus free gaps)`,
  async run(ctx) {
    const hosts = listingHosts();
    check(hosts.length === LIST_ADDRESSES, 'listing seed is not 20,000 addresses');
    const base = NET10 + (7n << 16n); // 10.7.0.0/16
    const { file, value: subnetId } = await seedStore(ctx, 'list', async (db, ipam) => {
      const id = (await ipam.createSubnet({ cidr: '10.7.0.0/16', name: 'bench list' }, ACTOR)).id;
      await Store.sqlite(db).write(async () => {
        for (const [k, h] of hosts.entries())
          await IpamService.storeOf(ipam).insertAddress(
            addressRow(base + BigInt(h), ADDRESS_STATES[k % ADDRESS_STATES.length]),
          );
      });
      return id;
    });
    const expectedGaps = gapCount(hosts);
    const srv = await ctx.startExporter(file);
    try {
      // What the subnet page does: pages of 1,000 rows (the default) with the total count, at the
      // start, the middle and the end of the /16. The full dump of every row is reported beside it.
      ctx.log(
        `subnet-list: ${srv.entry} pid ${srv.pid}; ${LIST_WARMUP} warm-up + ${LISTS} timed pages, then full listings`,
      );
      const base = `${srv.url}/api/v1/subnets/${subnetId}/addresses`;
      const first = await httpCall(base, { token: srv.token });
      check(first.status === 200, `GET ${base}: HTTP ${first.status} ${first.body.toString().slice(0, 300)}`);
      const total = (JSON.parse(first.body.toString()) as { count: number }).count;
      const offsets = [0, Math.floor(total / 2), Math.max(0, total - 1000)];
      const samples: number[] = [];
      for (let i = 0; i < LIST_WARMUP + LISTS; i++) {
        const offset = offsets[i % offsets.length]!;
        const r = await httpCall(`${base}?offset=${offset}`, { token: srv.token });
        check(r.status === 200, `GET page at ${offset}: HTTP ${r.status}`);
        const page = JSON.parse(r.body.toString()) as { count: number; results: unknown[] };
        check(
          page.count === total && page.results.length === Math.min(1000, total - offset),
          `page at ${offset} has ${page.results.length} rows`,
        );
        if (i >= LIST_WARMUP) samples.push(r.ms);
      }
      // The whole subnet, page after page of the largest page the API serves (SUBNET_ROWS_MAX_PAGE).
      const fullSamples: number[] = [];
      let page: { count: number; results: { type: 'address' | 'gap' }[] } = { count: 0, results: [] };
      let bytes = 0;
      for (let i = 0; i < 1 + FULL_LISTS; i++) {
        const rows: { type: 'address' | 'gap' }[] = [];
        let took = 0;
        bytes = 0;
        for (let offset = 0; offset === 0 || offset < page.count; offset += SUBNET_ROWS_MAX_PAGE) {
          const r = await httpCall(`${base}?limit=${SUBNET_ROWS_MAX_PAGE}&offset=${offset}`, { token: srv.token });
          check(r.status === 200, `GET full listing at ${offset}: HTTP ${r.status}`);
          took += r.ms;
          bytes += r.body.length;
          page = JSON.parse(r.body.toString()) as typeof page;
          rows.push(...page.results);
        }
        if (i >= 1) fullSamples.push(took);
        page = { count: page.count, results: rows };
      }
      const addresses = page.results.filter((r) => r.type === 'address').length;
      const gaps = page.results.filter((r) => r.type === 'gap').length;
      check(page.results.length === page.count, `returned ${page.results.length} of ${page.count} rows`);
      check(addresses === LIST_ADDRESSES, `returned ${addresses} address rows, expected ${LIST_ADDRESSES}`);
      check(gaps === expectedGaps && gaps > 0, `returned ${gaps} gap rows, expected ${expectedGaps}`);
      const med = median(samples);
      return [
        {
          benchmark: 'subnet-list: /16 with 20,000 used, a page',
          target: 'median < 50 ms',
          pass: med < 50,
          result:
            `median ${ms(med)}, max ${ms(Math.max(...samples))} (n=${LISTS}; 1,000-row pages at offsets ` +
            `${offsets.map(int).join(', ')} of ${int(total)} rows)`,
        },
        {
          benchmark: 'subnet-list: the same, every row page by page (info)',
          target: '-',
          pass: null,
          result:
            `median ${ms(median(fullSamples))} (n=${FULL_LISTS}; ${int(page.count)} rows: ` +
            `${int(addresses)} addresses + ${int(gaps)} gaps, ${(bytes / 1048576).toFixed(1)} MiB in pages of ${int(SUBNET_ROWS_MAX_PAGE)})`,
        },
      ];
    } finally {
      await srv.stop();
    }
  },
};

export const ipamSuite: Suite = {
  name: 'ipam',
  benchmarks: [allocNextFree, httpReserveNext, httpAddressCreate, metricsScrape, metricsScrapeBig, subnetList],
};
