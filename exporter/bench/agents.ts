// Sites and agents (#15): central applying result batches from 4 agents, each reporting a /16
// with 1,000 alive hosts, while the API is read. Targets (the issue's): >= 4 reports/s, API p99
// < 50 ms meanwhile. Round 1 creates 4,000 discovered IPAM rows (audited); later rounds update
// hosts only. `agent-reports` on SQLite, `agent-reports-pg` with the store on PostgreSQL.
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import type { BenchContext, Benchmark, Row, Suite } from './lib.js';
import { httpCall, httpJson, int, ms, percentile, withPostgres } from './lib.js';

const AGENTS = 4;
const ALIVE = 1_000;
const ROUNDS = 3;

/** GET on a connection of its own (httpCall's pool of 4 sockets is busy with the 4 reports). */
const readerAgent = new Agent({ keepAlive: true, maxSockets: 1 });
function timedGet(url: string, token: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, agent: readerAgent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The bench on one store backend: SQLite (a file), or PostgreSQL (`url`). */
async function runReports(ctx: BenchContext, url?: string): Promise<Row[]> {
  const admin = randomBytes(24).toString('hex');
  const on = url ? ' (PostgreSQL)' : '';
  const ex = await ctx.startExporter(join(ctx.tempDir('agents'), 'lanscape.db'), {
    LANSCAPE_ADMIN_TOKEN: admin,
    LANSCAPE_BODY_LIMIT_BYTES: String(4 * 1024 * 1024),
    ...(url ? { LANSCAPE_DATABASE_URL: url } : {}),
  });
  try {
    const sites: { token: string; subnetId: number; second: number }[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const agent = await httpJson<{ id: number; token: string }>(`${ex.url}/api/v1/agents`, {
        method: 'POST',
        token: admin,
        json: { name: `site-${i}` },
      });
      const subnet = await httpJson<{ id: number }>(`${ex.url}/api/v1/subnets`, {
        method: 'POST',
        token: admin,
        json: { cidr: `10.${100 + i}.0.0/16`, agent_id: agent.id },
      });
      sites.push({ token: agent.token, subnetId: subnet.id, second: 100 + i });
    }
    const batch = (s: (typeof sites)[number], round: number) => ({
      batch_id: randomUUID(),
      subnet_id: s.subnetId,
      started_at: new Date(Date.now() - 60_000).toISOString(),
      finished_at: new Date().toISOString(),
      sent: 65_534 * 2,
      observations: Array.from({ length: ALIVE }, (_, k) => ({
        address: `10.${s.second}.${(k * 61) >> 8}.${(k * 61) & 255 || 1}`,
        rtt_seconds: 0.001 + (k % 7) / 1000,
        mac: `02:00:${s.second.toString(16).padStart(2, '0')}:${round.toString(16).padStart(2, '0')}:${((k >> 8) & 255).toString(16).padStart(2, '0')}:${(k & 255).toString(16).padStart(2, '0')}`,
        ports: k % 10 === 0 ? [22, 80] : [],
      })),
      queue_depth: 0,
      dropped_total: 0,
      agent_version: 'bench',
    });
    // Distinct addresses per site: k * 61 spread over the /16, never .0.
    // The read path warmed up first: a cold first GET (its code not yet compiled) is no measure of reporting.
    for (let i = 0; i < 20; i++) await timedGet(`${ex.url}/api/v1/subnets?limit=50`, admin);
    const latencies: number[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const r = await timedGet(`${ex.url}/api/v1/subnets?limit=50`, admin);
        if (r.status === 200) latencies.push(r.ms);
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const rows: Row[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const bodies = sites.map((s) => batch(s, round));
      const started = performance.now();
      const answers = await Promise.all(
        sites.map((s, i) =>
          httpCall(`${ex.url}/api/v1/agent/results`, { method: 'POST', token: s.token, json: bodies[i] }),
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      for (const a of answers)
        if (a.status !== 200) throw new Error(`results: HTTP ${a.status} ${a.body.toString().slice(0, 300)}`);
      const rate = AGENTS / seconds;
      ctx.log(`round ${round}: ${AGENTS} reports in ${seconds.toFixed(2)} s`);
      rows.push({
        benchmark: `agent reports${on}, round ${round}${round === 1 ? ' (4,000 new devices)' : ''}`,
        target: '>= 4 reports/s',
        result: `${rate.toFixed(1)} reports/s (${ALIVE} alive each)`,
        pass: rate >= 4,
      });
    }
    reading = false;
    await reader;
    const idle: number[] = [];
    for (let i = 0; i < 20; i++) idle.push((await timedGet(`${ex.url}/api/v1/subnets?limit=50`, admin)).ms);
    rows.push({
      benchmark: `GET /subnets afterwards, idle${on}`,
      target: '—',
      result: `median ${ms(percentile(idle, 50))}, p99 ${ms(percentile(idle, 99))}`,
      pass: null,
    });
    rows.push({
      benchmark: `GET /subnets while agents report${on}`,
      target: 'p99 < 50 ms',
      result: `p99 ${ms(percentile(latencies, 99))}, max ${ms(Math.max(...latencies))} (${int(latencies.length)} requests)`,
      pass: percentile(latencies, 99) < 50,
    });
    return rows;
  } finally {
    await ex.stop();
  }
}

const description = `${AGENTS} agents each post a /16 with ${ALIVE} alive hosts, ${ROUNDS} rounds, while GET /subnets is timed`;
const reports: Benchmark = { name: 'agent-reports', description, run: (ctx) => runReports(ctx) };
const reportsPostgres: Benchmark = {
  name: 'agent-reports-pg',
  description: `${description}; the store on PostgreSQL`,
  run: (ctx) => withPostgres(async (server) => runReports(ctx, await server.createDatabase('agents'))),
};

export const agentsSuite: Suite = { name: 'agents', benchmarks: [reports, reportsPostgres] };
