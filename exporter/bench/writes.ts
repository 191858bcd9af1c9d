// Write-side availability benchmarks: the 100,000-row CSV imports (addresses into one /8,
// subnets), POST /subnets with 20,000 subnets against an empty store, and 64 concurrent bulk
// allocations of 4,096 addresses — each heavy one while a monitor polls /healthz on its own
// keep-alive connection.
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Store } from '../src/store/store.js';
import type { Actor } from '../src/audit/log.js';
import { formatIp, ipKey } from '../src/ipam/core/ip.js';
import { IpamService } from '../src/ipam/service.js';
import { type Db, openDb } from '../src/store/db.js';
import {
  type BenchContext,
  type Benchmark,
  type ExporterProcess,
  type Row,
  type Suite,
  httpCall,
  httpJson,
  int,
  median,
  ms,
  percentile,
  sleep,
} from './lib.js';

const ACTOR: Actor = { name: 'bench' };
const NOW = new Date().toISOString();
const ROWS = 100_000;
const IMPORT_TARGET_S = 30;
const HEALTH_P99_MS = 100;
const HEALTH_MAX_MS = 500;

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

async function seedStore(
  ctx: BenchContext,
  label: string,
  seed: (db: Db, ipam: IpamService) => void | Promise<void>,
): Promise<string> {
  const file = join(ctx.tempDir(label), 'lanscape.db');
  const db = openDb(file);
  try {
    await seed(db, new IpamService(Store.sqlite(db)));
    db.pragma('wal_checkpoint(TRUNCATE)');
    return file;
  } finally {
    db.close();
  }
}

/** Polls GET /healthz every 20 ms on a connection of its own until stopped; the latencies. */
function healthMonitor(url: string): { stop: () => Promise<number[]> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  let running = true;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const start = performance.now();
      const req = httpRequest(`${url}/healthz`, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          samples.push(performance.now() - start);
          resolve();
        });
      });
      req.on('error', reject);
      req.end();
    });
  const loop = (async () => {
    while (running) {
      await one();
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return samples;
    },
  };
}

function healthRow(name: string, samples: number[]): Row {
  const p99 = percentile(samples, 99);
  const max = Math.max(...samples);
  return {
    benchmark: `${name}: /healthz meanwhile`,
    target: `p99 < ${HEALTH_P99_MS} ms, max < ${HEALTH_MAX_MS} ms`,
    pass: p99 < HEALTH_P99_MS && max < HEALTH_MAX_MS,
    result: `p50 ${ms(median(samples))}, p99 ${ms(p99)}, max ${ms(max)} (n=${samples.length}, every 20 ms on its own connection)`,
  };
}

/** POST text/csv, then poll the import job to its end; seconds from the POST to the end. */
async function importJob(
  srv: ExporterProcess,
  kind: string,
  csv: string,
): Promise<{ seconds: number; postMs: number; job: Record<string, unknown> }> {
  const started = performance.now();
  const body = Buffer.from(csv);
  const post = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(
      `${srv.url}/api/v1/import/${kind}`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'text/csv', 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  const postMs = performance.now() - started;
  check(post.status === 202, `POST /import/${kind}: HTTP ${post.status} ${post.text.slice(0, 300)}`);
  let job = JSON.parse(post.text) as Record<string, unknown>;
  while (job.state === 'queued' || job.state === 'running') {
    await sleep(100);
    job = await httpJson(`${srv.url}/api/v1/import-jobs/${String(job.id)}`, { token: srv.token });
  }
  return { seconds: (performance.now() - started) / 1000, postMs, job };
}

/** POST a JSON body on the given agent; status, body and time to the last byte. */
function postJson(
  url: string,
  token: string,
  json: unknown,
  agent: Agent,
): Promise<{ status: number; body: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(JSON.stringify(json));
    const start = performance.now();
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': body.length,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - start }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function csvOf(header: string, count: number, line: (i: number) => string): string {
  const lines = [header];
  for (let i = 0; i < count; i++) lines.push(line(i));
  return `${lines.join('\n')}\n`;
}

const v4 = (n: number) => `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

// ---------------------------------------------------------------- 1. 100,000 addresses into a /8

const importAddresses: Benchmark = {
  name: 'import-addresses',
  description: `POST /api/v1/import/addresses with ${int(ROWS)} rows into 10.0.0.0/8 (202, then the job polled to its end), /healthz polled meanwhile`,
  async run(ctx) {
    const file = await seedStore(ctx, 'import-addr', async (_db, ipam) => {
      await ipam.createSubnet({ cidr: '10.0.0.0/8', name: 'bench /8' }, ACTOR);
    });
    const srv = await ctx.startExporter(file);
    try {
      const csv = csvOf('address,hostname,tags', ROWS, (i) => `${v4(0x0a000001 + i)},host-${i},bench`);
      ctx.log(`import-addresses: ${srv.entry} pid ${srv.pid}; ${(csv.length / 1048576).toFixed(1)} MiB of CSV`);
      const monitor = healthMonitor(srv.url);
      const cpu0 = srv.cpuMs();
      const { seconds, postMs, job } = await importJob(srv, 'addresses', csv);
      const cpu = srv.cpuMs();
      const health = await monitor.stop();
      check(
        job.state === 'done' && job.stored === ROWS,
        `the job ended ${String(job.state)} with ${String(job.stored)} rows stored: ${String(job.error)}`,
      );
      const subnets = await httpJson<{ results: { utilization: { used: number } }[] }>(
        `${srv.url}/api/v1/subnets?q=10.0.0.0`,
        { token: srv.token },
      );
      check(
        subnets.results[0]?.utilization.used === ROWS,
        `the /8 holds ${subnets.results[0]?.utilization.used} addresses`,
      );
      return [
        {
          benchmark: 'import-addresses: 100,000 rows into a /8',
          target: `< ${IMPORT_TARGET_S} s`,
          pass: seconds < IMPORT_TARGET_S,
          result:
            `${seconds.toFixed(1)} s (${int(ROWS / seconds)} rows/s; the 202 after ${ms(postMs)}; server CPU ` +
            `${cpu0 === undefined || cpu === undefined ? '?' : `${((cpu - cpu0) / 1000).toFixed(1)} s`})`,
        },
        healthRow('import-addresses', health),
      ];
    } finally {
      await srv.stop();
    }
  },
};

// ---------------------------------------------------------------- 2. 100,000 subnets

const importSubnets: Benchmark = {
  name: 'import-subnets',
  description: `POST /api/v1/import/subnets with ${int(ROWS)} /24s (10.0.0.0/24 on) into an empty store, /healthz polled meanwhile`,
  async run(ctx) {
    const file = await seedStore(ctx, 'import-subnets', async () => undefined);
    const srv = await ctx.startExporter(file);
    try {
      const csv = csvOf('cidr,name,vlan', ROWS, (i) => `${v4(0x0a000000 + i * 256)}/24,net-${i},${(i % 4094) + 1}`);
      ctx.log(`import-subnets: ${srv.entry} pid ${srv.pid}; ${(csv.length / 1048576).toFixed(1)} MiB of CSV`);
      const monitor = healthMonitor(srv.url);
      const cpu0 = srv.cpuMs();
      const { seconds, postMs, job } = await importJob(srv, 'subnets', csv);
      const cpu = srv.cpuMs();
      const health = await monitor.stop();
      check(
        job.state === 'done' && job.stored === ROWS,
        `the job ended ${String(job.state)} with ${String(job.stored)} rows stored: ${String(job.error)}`,
      );
      const list = await httpJson<{ count: number }>(`${srv.url}/api/v1/subnets?limit=1`, { token: srv.token });
      check(list.count === ROWS, `${list.count} subnets stored`);
      return [
        {
          benchmark: 'import-subnets: 100,000 subnets',
          target: `< ${IMPORT_TARGET_S} s`,
          pass: seconds < IMPORT_TARGET_S,
          result:
            `${seconds.toFixed(1)} s (${int(ROWS / seconds)} rows/s; the 202 after ${ms(postMs)}; server CPU ` +
            `${cpu0 === undefined || cpu === undefined ? '?' : `${((cpu - cpu0) / 1000).toFixed(1)} s`})`,
        },
        healthRow('import-subnets', health),
      ];
    } finally {
      await srv.stop();
    }
  },
};

// ---------------------------------------------------------------- 3. POST /subnets at 0 and 20,000

const EXISTING = 20_000;
const CREATES = 200;
const CREATE_WARMUP = 20;

const subnetCreate: Benchmark = {
  name: 'subnet-create',
  description: `POST /api/v1/subnets one after another (${CREATE_WARMUP} warm-up + ${CREATES} timed) into an empty store and into one with ${int(EXISTING)} subnets`,
  async run(ctx) {
    const empty = await seedStore(ctx, 'create-0', async () => undefined);
    const full = await seedStore(ctx, 'create-20k', async (db, ipam) => {
      await Store.sqlite(db).write(async () => {
        for (let i = 0; i < EXISTING; i++) {
          const first = { family: 4 as const, value: BigInt(0x0a000000 + i * 256) };
          const last = { family: 4 as const, value: first.value + 255n };
          await IpamService.storeOf(ipam).insertSubnet({
            vrf_id: 1,
            cidr: `${formatIp(first)}/24`,
            family: 4,
            prefix_length: 24,
            first_key: ipKey(first),
            last_key: ipKey(last),
            name: `s-${i}`,
            description: '',
            vlan: null,
            gateway: null,
            tags: '[]',
            scan_enabled: 1,
            scan_interval_seconds: null,
            created_at: NOW,
            updated_at: NOW,
          });
        }
      });
    });
    const medians: number[] = [];
    const rows: Row[] = [];
    for (const [label, file] of [
      ['0', empty],
      [int(EXISTING), full],
    ] as const) {
      const srv = await ctx.startExporter(file);
      try {
        const samples: number[] = [];
        for (let i = 0; i < CREATE_WARMUP + CREATES; i++) {
          // 172.16.0.0/24 on: outside the seeded 10.x subnets.
          const r = await httpCall(`${srv.url}/api/v1/subnets`, {
            method: 'POST',
            token: srv.token,
            json: { cidr: `${v4(0xac100000 + i * 256)}/24`, name: `new-${i}` },
          });
          check(r.status === 201, `POST /subnets: HTTP ${r.status} ${r.body.toString().slice(0, 200)}`);
          if (i >= CREATE_WARMUP) samples.push(r.ms);
        }
        medians.push(median(samples));
        rows.push({
          benchmark: `subnet-create: POST /subnets with ${label} existing`,
          target: label === '0' ? '-' : `median < 5 ms, < 1.5× the empty store`,
          pass: null,
          result: `median ${ms(median(samples))}, p99 ${ms(percentile(samples, 99))} (n=${CREATES})`,
        });
      } finally {
        await srv.stop();
      }
    }
    const ratio = medians[1]! / medians[0]!;
    rows[1]!.pass = medians[1]! < 5 && ratio < 1.5;
    rows[1]!.result += `; ${ratio.toFixed(2)}× the empty store`;
    return rows;
  },
};

// ---------------------------------------------------------------- 4. 64 × 4,096 at once

const CLIENTS = 64;
const COUNT = 4096;

const bulkAllocate: Benchmark = {
  name: 'bulk-allocate',
  description: `${CLIENTS} concurrent POST /api/v1/subnets/{id}/available-ips {"count":${COUNT}} in 10.0.0.0/8 (a 429 is retried 200 ms later), /healthz polled meanwhile`,
  async run(ctx) {
    let subnetId = 0;
    const file = await seedStore(ctx, 'bulk', async (_db, ipam) => {
      subnetId = (await ipam.createSubnet({ cidr: '10.0.0.0/8', name: 'bench /8' }, ACTOR)).id;
    });
    const srv = await ctx.startExporter(file);
    try {
      ctx.log(`bulk-allocate: ${srv.entry} pid ${srv.pid}`);
      const monitor = healthMonitor(srv.url);
      const started = performance.now();
      let refused = 0;
      // Every client on its own connection (lib's httpCall shares 4).
      const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
      const results = await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          for (;;) {
            const r = await postJson(
              `${srv.url}/api/v1/subnets/${subnetId}/available-ips`,
              srv.token,
              { count: COUNT },
              agent,
            );
            if (r.status !== 429) return r;
            refused += 1;
            await sleep(200);
          }
        }),
      );
      agent.destroy();
      const seconds = (performance.now() - started) / 1000;
      const health = await monitor.stop();
      check(
        results.every((r) => r.status === 201),
        `statuses ${results.map((r) => r.status).join(',')}`,
      );
      const addresses = results.flatMap((r) =>
        (JSON.parse(r.body.toString()) as { address: string }[]).map((a) => a.address),
      );
      check(
        addresses.length === CLIENTS * COUNT && new Set(addresses).size === addresses.length,
        'duplicate or missing addresses',
      );
      const subnet = await httpJson<{ utilization: { used: number } }>(`${srv.url}/api/v1/subnets/${subnetId}`, {
        token: srv.token,
      });
      check(subnet.utilization.used === CLIENTS * COUNT, `the /8 holds ${subnet.utilization.used} addresses`);
      const latencies = results.map((r) => r.ms);
      return [
        {
          benchmark: `bulk-allocate: ${CLIENTS} × ${int(COUNT)} at once (info)`,
          target: '-',
          pass: null,
          result:
            `${seconds.toFixed(1)} s for ${int(CLIENTS * COUNT)} addresses (${int((CLIENTS * COUNT) / seconds)}/s), all distinct; ` +
            `a request ${ms(median(latencies))} median once admitted; ${int(refused)} answers 429 (4 bulk requests at once, retried)`,
        },
        healthRow('bulk-allocate', health),
      ];
    } finally {
      await srv.stop();
    }
  },
};

export const writesSuite: Suite = {
  name: 'writes',
  benchmarks: [importAddresses, importSubnets, subnetCreate, bulkAllocate],
};
