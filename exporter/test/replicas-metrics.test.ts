// Several replicas on one PostgreSQL database (#14) count the store once: two real Prometheus
// servers, A scraping replica 1 alone and B scraping replicas 1, 2 and 3, give the same answer
// to every dashboard panel query (dashboards/*.json) and every alerting/recording rule
// (alerting/*.rules.yml) once the instance and job labels are dropped. Store-derived families
// come from the leader only and per-process ones (sweeps, traffic tests) from the replica that
// did the work, so sum() and max() over replicas equal one replica's figures. Per-process self
// metrics (up, process_*, nodejs_*, lanscape_http_*, lanscape_build_info, lanscape_collector_up,
// lanscape_leader) differ by nature: the queries over them are listed in SELF_METRIC_QUERIES,
// and the test fails when a query over them is not listed (or a listed one is gone). Then the
// leader stops and a follower takes over: B shows one leader again and the same store figures.
//
// PostgreSQL always (whatever LANSCAPE_TEST_BACKEND); everything on loopback; the scan sweeps
// 127.0.0.0/30 from replica 1 (raw ICMP needs root; under CI a missing tool or root fails).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { type ApiClient, EXPORTER_DIR, type TestExporter, startTestExporter, tempDir } from './helpers/exporter.js';
import { startPostgres } from './helpers/postgres.js';
import { stopChild } from './helpers/processes.js';
import { freePort } from './helpers/registry.js';
import { requireTool } from './helpers/tools.js';

const REPO = join(EXPORTER_DIR, '..');
const METRICS_USER = 'prometheus';
const METRICS_PASSWORD = 'scrape-password-0123456789';

/**
 * Queries over per-process self-metrics, by `dashboard / panel` or alert name, with the reason
 * they may differ between one replica and three. Everything else must give the same answer.
 */
const SELF_METRIC_QUERIES: Readonly<Record<string, string>> = {
  'lanscape-overview / Exporter': 'up: one series per scraped replica',
  'lanscape-overview / Version': 'lanscape_build_info: one per replica (versions differ during a rolling update)',
  'lanscape-scanner / Exporter': 'up: one series per scraped replica',
  'lanscape-scanner / Collectors':
    'lanscape_collector_up: what each replica reaches (its store connection, its ICMP socket; Docker/Proxmox on the leader)',
  'lanscape-scanner / Collector state': 'lanscape_collector_up, as above',
  'lanscape-scanner / Requests': 'lanscape_http_*: requests each replica served',
  'lanscape-scanner / Request latency': 'lanscape_http_*: requests each replica served',
  'lanscape-scanner / Memory': 'process_* / nodejs_*: each process its own',
  'lanscape-scanner / CPU': 'process_*: each process its own',
  'lanscape-scanner / Event loop lag': 'nodejs_*: each process its own',
  'rule LanscapeExporterDown': 'up: one series per scraped replica',
  'rule LanscapeCollectorDown': 'lanscape_collector_up: per replica (a replica without ICMP alerts on its own)',
};

/** Metric names that are per-process self-metrics (matched outside string literals). */
const SELF_METRIC =
  /(?<![\w:])(up|scrape_\w+|process_\w+|nodejs_\w+|lanscape_http_\w+|lanscape_build_info|lanscape_collector_up|lanscape_leader)(?![\w:])/;
const usesSelfMetrics = (expr: string) => SELF_METRIC.test(expr.replace(/"(?:[^"\\]|\\.)*"/g, '""'));

interface Query {
  key: string;
  where: string;
  expr: string;
}

interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

/** Every panel query of dashboards/*.json, from the repo's own loader (test/helpers/dashboards.ts). */
async function dashboardQueries(vars: Record<string, string>): Promise<Query[]> {
  const helper = pathToFileURL(join(REPO, 'test/helpers/dashboards.ts')).href;
  const { panelQueries } = (await import(helper)) as { panelQueries: (v: Record<string, string>) => PanelQuery[] };
  return panelQueries(vars).map((q) => ({
    key: `${q.dashboard} / ${q.panel}`,
    where: `${q.dashboard} / ${q.panel} / ${q.refId}`,
    expr: q.expr,
  }));
}

/** Every alerting and recording rule of alerting/*.rules.yml. */
function ruleQueries(): Query[] {
  const out: Query[] = [];
  const dir = join(REPO, 'alerting');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.rules.yml'))) {
    const doc = parse(readFileSync(join(dir, file), 'utf8')) as {
      groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
    };
    for (const group of doc.groups) {
      group.rules.forEach((r, i) => {
        const name = r.alert ?? r.record!;
        out.push({ key: `rule ${name}`, where: `${file} / ${group.name} / ${name} (#${i + 1})`, expr: r.expr });
      });
    }
  }
  return out;
}

interface Prometheus {
  url: string;
  query(expr: string, time?: number): Promise<{ labels: Record<string, string>; value: number }[]>;
  /** Prometheus's own clock: the test's clock may be shifted (the faketime suites), Prometheus's is not. */
  now(): Promise<number>;
  stop(): Promise<void>;
}

/** A real Prometheus on a free loopback port scraping `targets` every second, with the repo's rules. */
async function startPrometheus(dir: string, name: string, targets: string[]): Promise<Prometheus> {
  const passwordFile = join(dir, `${name}-password`);
  writeFileSync(passwordFile, METRICS_PASSWORD);
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [join(REPO, 'alerting', '*.rules.yml')],
    scrape_configs: [
      {
        job_name: 'lanscape',
        basic_auth: { username: METRICS_USER, password_file: passwordFile },
        static_configs: [{ targets }],
      },
    ],
  };
  const configFile = join(dir, `${name}.yml`);
  writeFileSync(configFile, JSON.stringify(config)); // JSON is YAML
  const port = await freePort();
  const log = join(dir, `${name}.log`);
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, `${name}-data`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')] },
  );
  const url = `http://127.0.0.1:${port}`;
  // Should the test be cut short (a timeout), the server still ends with this process.
  const safetyNet = () => child.kill('SIGKILL');
  process.once('exit', safetyNet);
  const stop = async () => {
    await stopChild(child, 5_000);
    process.off('exit', safetyNet);
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`prometheus ${name} exited:\n${readFileSync(log, 'utf8')}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (i > 200) {
      await stop();
      throw new Error(`prometheus ${name} not ready in 20 s:\n${readFileSync(log, 'utf8')}`);
    }
    await sleep(100);
  }
  const prometheus: Prometheus = {
    url,
    stop,
    async now() {
      const [row] = await prometheus.query('time()');
      return row!.value;
    },
    async query(expr, time) {
      const at = time === undefined ? '' : `&time=${time}`;
      const u = `${url}/api/v1/query?query=${encodeURIComponent(expr)}${at}`;
      const body = (await (await fetch(u)).json()) as {
        status: string;
        error?: string;
        data: { resultType: string; result: any };
      };
      if (body.status !== 'success') throw new Error(`${name}: ${expr}: ${body.error}`);
      const { resultType, result } = body.data;
      if (resultType === 'scalar') return [{ labels: {}, value: Number(result[1]) }];
      assert.equal(resultType, 'vector', `${expr}: an instant query`);
      return (result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({
        labels: s.metric,
        value: Number(s.value[1]),
      }));
    },
  };
  return prometheus;
}

/** A query's answer without instance and job, by label set; fails on a label set seen twice. */
function keyed(rows: { labels: Record<string, string>; value: number }[], what: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const { labels, value } of rows) {
    const rest = Object.entries(labels)
      .filter(([k]) => k !== 'instance' && k !== 'job')
      .sort(([a], [b]) => (a < b ? -1 : 1));
    const key = JSON.stringify(rest);
    assert.ok(!out.has(key), `${what}: the label set ${key} appears twice without instance/job (double counting)`);
    out.set(key, value);
  }
  return out;
}

function sameValue(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

function assertSameAnswer(a: Map<string, number>, b: Map<string, number>, where: string, expr: string) {
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), `${where}: other series with 3 replicas\n${expr}`);
  for (const [k, v] of a) {
    assert.ok(sameValue(v, b.get(k)!), `${where}: ${k} is ${v} with 1 replica, ${b.get(k)} with 3\n${expr}`);
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function created(api: ApiClient, path: string, body: unknown): Promise<any> {
  const r = await api.post(path, body);
  assert.equal(r.status, 201, `${path} ${JSON.stringify(body)}: ${r.text}`);
  return r.body;
}

async function runScan(t: TestContext, api: ApiClient, subnetId: number) {
  const start = await api.post(`/api/v1/subnets/${subnetId}/scan`, {});
  assert.equal(start.status, 202, start.text);
  const done = await until('the loopback scan', 30_000, async () => {
    const r = await api.get(`/api/v1/scans/${start.body.id}`);
    return r.body.state === 'done' || r.body.state === 'failed' ? r.body : undefined;
  });
  assert.equal(done.state, 'done', JSON.stringify(done));
  t.diagnostic(`loopback scan: ${done.alive} of ${done.targets} addresses alive`);
  assert.equal(done.alive, 2);
}

test('1 or 3 replicas scraped give the same figures in every dashboard and rule', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'prometheus', 'apt-get install prometheus')) return;
  if (process.getuid?.() !== 0) {
    if (process.env.CI) throw new Error('raw ICMP (the loopback scan) needs root in CI');
    return t.skip('needs root for raw ICMP (the loopback scan)');
  }
  const pg = await startPostgres(t);
  if (!pg) return;
  const cleanups: (() => Promise<unknown>)[] = [() => pg.stop()];
  const { dir, cleanup } = tempDir('lanscape-replicas-prom-');
  cleanups.push(async () => cleanup());
  try {
    const database = await pg.createDatabase('replicas');
    const env = {
      LANSCAPE_DATABASE_URL: database,
      LANSCAPE_METRICS_USERNAME: METRICS_USER,
      LANSCAPE_METRICS_PASSWORD: METRICS_PASSWORD,
      LANSCAPE_SCAN_TIMEOUT_MS: '300',
      LANSCAPE_SCAN_PORTS: '9',
    };
    const replicas: TestExporter[] = [];
    for (let i = 0; i < 3; i++) {
      const ex = await startTestExporter(env);
      replicas.push(ex);
      cleanups.push(() => ex.stop());
    }
    const [r1, r2, r3] = replicas as [TestExporter, TestExporter, TestExporter];
    assert.equal(r1.leadership.isLeader, true, 'the first replica takes the lock');
    assert.equal(r2.leadership.isLeader || r3.leadership.isLeader, false);

    // Data, written through every replica (each reads what the others wrote).
    const campus = await created(r2.api, '/api/v1/subnets', { cidr: '10.20.0.0/16', name: 'campus', vlan: 10 });
    const servers = await created(r3.api, '/api/v1/subnets', { cidr: '10.20.1.0/24', name: 'servers', vlan: 11 });
    const lab = await created(r1.api, '/api/v1/subnets', { cidr: '10.30.0.0/24', name: 'lab' });
    const full = await created(r2.api, '/api/v1/subnets', { cidr: '10.40.0.0/29', name: 'nearly-full' });
    const loopback = await created(r1.api, '/api/v1/subnets', { cidr: '127.0.0.0/30', name: 'loopback' });
    const addresses: [ApiClient, Record<string, unknown>][] = [
      [r2.api, { address: '10.20.1.10', state: 'reserved', hostname: 'db1' }],
      [r3.api, { address: '10.20.1.11', state: 'assigned', tags: ['critical'] }],
      [r1.api, { address: '10.20.1.12', state: 'dhcp' }],
      [r2.api, { address: '10.20.1.13', state: 'deprecated', source: 'docker' }],
      [r3.api, { address: '10.20.1.14', state: 'provisioning', source: 'proxmox' }],
      [r1.api, { address: '10.20.2.1', state: 'assigned' }],
      [r2.api, { address: '10.30.0.5', state: 'assigned', source: 'discovered' }],
      [r3.api, { address: '127.0.0.2', state: 'reserved', hostname: 'loop2' }],
    ];
    for (const [api, body] of addresses) await created(api, '/api/v1/addresses', body);
    assert.equal((await r3.api.post(`/api/v1/subnets/${lab.id}/available-ips`, { count: 3 })).status, 201);
    const ranges: [ApiClient, Record<string, unknown>][] = [
      [
        r3.api,
        {
          subnet_id: servers.id,
          start_address: '10.20.1.100',
          end_address: '10.20.1.149',
          label: 'pool',
          purpose: 'dhcp',
          mark_utilized: true,
        },
      ],
      [
        r1.api,
        {
          subnet_id: lab.id,
          start_address: '10.30.0.200',
          end_address: '10.30.0.220',
          label: 'vips',
          purpose: 'services',
          auto_allocate: true,
        },
      ],
      [
        r2.api,
        { subnet_id: full.id, start_address: '10.40.0.1', end_address: '10.40.0.6', label: 'all', mark_utilized: true },
      ],
    ];
    for (const [api, body] of ranges) await created(api, '/api/v1/ranges', body);
    assert.ok(campus.id > 0);
    // Sweep counters are per process: the sweep runs on replica 1, the one both servers scrape.
    await runScan(t, r1.api, loopback.id);

    const targets = replicas.map((r) => new URL(r.url).host);
    const a = await startPrometheus(dir, 'a', [targets[0]!]);
    cleanups.push(() => a.stop());
    const b = await startPrometheus(dir, 'b', targets);
    cleanups.push(() => b.stop());

    // Enough history for rate() over 1m, and the recording rules evaluated on both servers.
    // Evaluated 2 s in the past: every scrape that started before then has ended (1 s timeout),
    // so later scrapes cannot change the answers.
    const settled = async () => (await a.now()) - 2;
    const scraped = async (p: Prometheus, n: number, time: number) => {
      const counts = await p.query('count_over_time(up{job="lanscape"}[1m]) and up == 1', time);
      const rules = await p.query('count(address:lanscape_host_up:avg_over_time1h)', time);
      return counts.length === n && counts.every((c) => c.value >= 4) && rules.length === 1;
    };
    const t1 = await until('both servers scraping every replica and evaluating rules', 30_000, async () => {
      const time = await settled();
      return (await scraped(a, 1, time)) && (await scraped(b, 3, time)) ? time : undefined;
    });

    // B: three targets up, one leader.
    assert.equal((await b.query('count(up{job="lanscape"} == 1)', t1))[0]?.value, 3, 'B scrapes 3 replicas');
    assert.equal((await b.query('sum(lanscape_leader)', t1))[0]?.value, 1, 'one leader among 3 replicas');
    assert.equal((await b.query('count(lanscape_leader)', t1))[0]?.value, 3);

    const vars = {
      vrf: 'global',
      subnet: '127.0.0.0/30',
      address: '127.0.0.2',
      endpoint: '.+',
      node: '.+',
      source: '.+',
      target: '.+',
    };
    const queries = [...(await dashboardQueries(vars)), ...ruleQueries()];
    const selfKeys = new Set<string>();
    let compared = 0;
    let nonEmpty = 0;
    const answers = new Map<string, { expr: string; a: Map<string, number> }>();
    for (const q of queries) {
      if (usesSelfMetrics(q.expr)) {
        assert.ok(
          Object.hasOwn(SELF_METRIC_QUERIES, q.key),
          `${q.where} reads per-process self-metrics; list it in SELF_METRIC_QUERIES with the reason\n${q.expr}`,
        );
        selfKeys.add(q.key);
        continue;
      }
      const [ra, rb] = await Promise.all([a.query(q.expr, t1), b.query(q.expr, t1)]);
      const ka = keyed(ra, `${q.where} (1 replica)`);
      const kb = keyed(rb, `${q.where} (3 replicas)`);
      assertSameAnswer(ka, kb, q.where, q.expr);
      compared += 1;
      if (ka.size > 0) nonEmpty += 1;
      answers.set(q.where, { expr: q.expr, a: ka });
    }
    assert.deepEqual(
      [...selfKeys].sort(),
      Object.keys(SELF_METRIC_QUERIES).sort(),
      'SELF_METRIC_QUERIES lists exactly the queries over self-metrics',
    );
    const skipped = queries.length - compared;
    t.diagnostic(
      `${queries.length} queries: ${compared} compared (${nonEmpty} non-empty on both), ${skipped} over self-metrics skipped`,
    );
    assert.ok(nonEmpty >= 60, `only ${nonEmpty} queries had data: the comparison would say little`);
    for (const where of [
      'lanscape-overview / Utilization per subnet / A',
      'lanscape-subnet / Utilization / A',
      'lanscape-subnet / Addresses by state / A',
      'lanscape-subnet / Hosts / A',
      'lanscape-overview / Managed subnets / A',
    ]) {
      assert.ok((answers.get(where)?.a.size ?? 0) > 0, `${where} has data`);
    }
    const subnetAddresses = async (p: Prometheus, time: number) =>
      (await p.query('sum(lanscape_subnet_addresses)', time))[0]?.value;
    const addressesA = await subnetAddresses(a, t1);
    assert.ok(addressesA! > 0);
    t.diagnostic(`sum(lanscape_subnet_addresses): ${addressesA} on A, ${await subnetAddresses(b, t1)} on B`);

    // Failover: the leader stops, a follower takes over within a few seconds.
    let tookOver: number | undefined;
    for (const r of [r2, r3]) r.leadership.onChange((leads) => void (leads && (tookOver ??= Date.now())));
    const stoppedAt = Date.now();
    const stoppedAtOnB = await b.now();
    await r1.stop();
    const subnetsA = (await a.query('count(lanscape_subnet_info)', t1))[0]!.value;
    const t2 = await until('a follower leading, seen by B', 20_000, async () => {
      const now = await settled();
      const leaders = await b.query('lanscape_leader == 1', now);
      const subnets = await b.query('count(lanscape_subnet_info)', now);
      const hosts = await b.query('count(lanscape_host_info)', now);
      return leaders.length === 1 &&
        leaders[0]!.labels.instance !== targets[0] &&
        subnets[0]?.value === subnetsA &&
        hosts.length === 1
        ? now
        : undefined;
    });
    const leader = [r2, r3].find((r) => r.leadership.isLeader);
    assert.ok(leader, 'replica 2 or 3 leads');
    assert.ok(tookOver !== undefined);
    t.diagnostic(
      `failover: ${new URL(leader.url).host} leads ${tookOver - stoppedAt} ms after the leader stopped; ` +
        `B scraped it ${Math.round((t2 - stoppedAtOnB) * 1000)} ms after`,
    );
    assert.ok(tookOver - stoppedAt < 5_000, 'a follower takes over within a few seconds');
    assert.equal((await b.query('sum(lanscape_leader)', t2))[0]?.value, 1);
    assert.equal(await subnetAddresses(b, t2), addressesA, 'sum(lanscape_subnet_addresses) after failover');
    // Instant queries over the store (no ranges, no time(), no recorded series, no sweep
    // counters of the stopped replica): B after the failover answers as A did before it.
    let again = 0;
    for (const [where, { expr, a: ka }] of answers) {
      if (/\[|time\(\)|\w:\w|ALERTS|lanscape_scan_(runs|packets)|lanscape_traffic_tests_total/.test(expr)) continue;
      assertSameAnswer(
        ka,
        keyed(await b.query(expr, t2), `${where} (after failover)`),
        `${where} (after failover)`,
        expr,
      );
      again += 1;
    }
    t.diagnostic(`after failover: ${again} store queries on B equal A's answers before it`);
    assert.ok(again >= 40);

    // A sweep on the follower left: its counters come from that replica, the hosts it found from
    // the leader, each once; the stopped replica's sweep still counts over a range.
    const follower = [r2, r3].find((r) => r !== leader)!;
    const loop2 = await created(follower.api, '/api/v1/subnets', { cidr: '127.0.1.0/30', name: 'loopback-2' });
    await runScan(t, follower.api, loop2.id);
    const t3 = await until('B scraping the second sweep', 15_000, async () => {
      const now = await settled();
      const hosts = await b.query('count(lanscape_host_up{subnet="127.0.1.0/30"})', now);
      const runs = await b.query('lanscape_scan_runs_total{subnet="127.0.1.0/30"}', now);
      return hosts[0]?.value === 2 && runs.length === 1 ? now : undefined;
    });
    const instances = async (expr: string) =>
      [...new Set((await b.query(expr, t3)).map((s) => s.labels.instance))].join(' ');
    assert.equal(await instances('lanscape_scan_runs_total{subnet="127.0.1.0/30"}'), new URL(follower.url).host);
    assert.equal(await instances('lanscape_host_up{subnet="127.0.1.0/30"}'), new URL(leader.url).host);
    const swept = (await b.query('sum(max_over_time(lanscape_scan_runs_total{result="success"}[5m]))', t3))[0]?.value;
    const [{ n: scans }] = (await leader.store.exec.all<{ n: number }>(
      "SELECT count(*) AS n FROM scans WHERE state = 'done'",
    )) as [{ n: number }];
    t.diagnostic(`sweeps: ${scans} done in the store, ${swept} counted by B over 5 minutes`);
    assert.equal(swept, 2);
    assert.equal(scans, 2);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
});
