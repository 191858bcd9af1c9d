// Shared pieces of the benchmark runner: the suite/benchmark shapes, temp files, a child
// exporter process, a tiny keep-alive HTTP client, statistics, autocannon, CPU profiles.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TestPostgres, startPostgres } from '../test/helpers/postgres.js';
import { stopChild } from '../test/helpers/processes.js';

/** Node flags the shipped exporter runs with (the Dockerfile's NODE_OPTIONS, `npm start`): benchmarks measure that. */
const SHIPPED_NODE_FLAGS = ['--max-old-space-size=320', '--max-semi-space-size=8'];

/** The exporter package directory (bench/..). */
export const EXPORTER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ------------------------------------------------------------------ shapes

export interface Row {
  benchmark: string;
  target: string;
  result: string;
  /** null: informational, no target. */
  pass: boolean | null;
}

export interface Benchmark {
  /** Short kebab-case name, the value of `--only`. */
  readonly name: string;
  readonly description: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

export interface Suite {
  readonly name: string;
  readonly benchmarks: readonly Benchmark[];
}

export interface BenchContext {
  /** A fresh directory under os.tmpdir(), removed when the run ends. */
  tempDir(label: string): string;
  /**
   * Starts the exporter in a child process on 127.0.0.1 with the given store file, or with
   * `env.LANSCAPE_DATABASE_URL` on PostgreSQL (`env`: more LANSCAPE_* settings).
   */
  startExporter(db: string, env?: Record<string, string>): Promise<ExporterProcess>;
  /** Starts HAProxy (roundrobin, loopback only) in front of the given exporters. */
  startBalancer(backends: readonly ExporterProcess[]): Promise<Balancer>;
  /** Progress message on stderr (the table goes to stdout). */
  log(message: string): void;
  /** How to start the exporter: the built dist/main.js (built once), or src/main.ts through tsx. */
  exporterEntry(): Promise<{ args: string[]; label: string }>;
  /** Runs `fn`, CPU-profiling it in-process when --profile is on. */
  profiled<T>(label: string, fn: () => Promise<T> | T): Promise<T>;
}

export interface RunnerOptions {
  /** Directory for CPU profiles (child exporters and in-process sections); off when undefined. */
  profileDir?: string | undefined;
  /** Run the exporter from src/ through tsx instead of building dist/ first. */
  useTsx?: boolean;
}

// ------------------------------------------------------------------ context

export class Runner implements BenchContext {
  private readonly dirs: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private entry: Promise<ServerEntry> | undefined;

  constructor(private readonly options: RunnerOptions) {
    if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
  }

  tempDir(label: string): string {
    const dir = mkdtempSync(join(tmpdir(), `lanscape-bench-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  log(message: string): void {
    process.stderr.write(`[bench] ${message}\n`);
  }

  async startExporter(db: string, env: Record<string, string> = {}): Promise<ExporterProcess> {
    this.entry ??= this.serverEntry();
    const entry = await this.entry;
    return spawnExporter(db, env, entry, this.children, this.options.profileDir);
  }

  startBalancer(backends: readonly ExporterProcess[]): Promise<Balancer> {
    return startHaproxy(this.tempDir('haproxy'), backends, this.children);
  }

  async profiled<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
    const dir = this.options.profileDir;
    if (!dir) return fn();
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    try {
      return await fn();
    } finally {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      const file = join(dir, `${label}-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      this.log(`CPU profile of ${label}: ${file}\n${summariseCpuProfile(file)}`);
    }
  }

  /** Kills leftover children (by their own pid) and removes the temp directories. */
  cleanup(): void {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    this.children.clear();
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }

  exporterEntry(): Promise<ServerEntry> {
    this.entry ??= this.serverEntry();
    return this.entry;
  }

  private async serverEntry(): Promise<ServerEntry> {
    const tsx: ServerEntry = {
      args: [...SHIPPED_NODE_FLAGS, '--import', 'tsx', 'src/main.ts'],
      label: 'src/main.ts via tsx',
    };
    if (this.options.useTsx) return tsx;
    this.log('building the exporter (tsc -p tsconfig.build.json) to run dist/main.js');
    const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
    const { code, output } = await runNode([tsc, '-p', 'tsconfig.build.json'], EXPORTER_DIR, this.children);
    if (code !== 0 || !existsSync(join(EXPORTER_DIR, 'dist', 'main.js'))) {
      this.log(`build failed (exit ${code}); falling back to ${tsx.label}\n${output.slice(-2000)}`);
      return tsx;
    }
    return { args: [...SHIPPED_NODE_FLAGS, 'dist/main.js'], label: 'dist/main.js' };
  }
}

interface ServerEntry {
  args: string[];
  label: string;
}

function runNode(
  args: string[],
  cwd: string,
  registry: Set<ChildProcess>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    registry.add(child);
    child.once('exit', () => registry.delete(child));
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, output }));
  });
}

// ------------------------------------------------------------------ child exporter

export interface ExporterProcess {
  readonly url: string;
  /** Write-scope bearer token (write includes read). */
  readonly token: string;
  readonly pid: number;
  /** What was started: dist/main.js or src/main.ts via tsx. */
  readonly entry: string;
  /** SIGTERM, wait for a clean exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** Last lines the process wrote (for error messages). */
  tail(): string;
  /** CPU time (user + system) the process has used so far, in ms; undefined off Linux. */
  cpuMs(): number | undefined;
}

/** CPU time of a process from /proc/<pid>/stat (utime + stime, at the usual 100 ticks/s). */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

export interface CpuSnapshot {
  machineBusyMs: number;
  machineTotalMs: number;
  ownMs: number;
}

/**
 * Machine-wide and own CPU time (this process plus its exited children) from /proc, so a run
 * can tell how much CPU other processes took meanwhile. Undefined off Linux.
 */
export function cpuSnapshot(): CpuSnapshot | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
    const busy = user + nice + system + irq + softirq + steal;
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const own = (f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0); // utime stime cutime cstime
    return { machineBusyMs: busy * 10, machineTotalMs: (busy + idle + iowait) * 10, ownMs: own * 10 };
  } catch {
    return undefined;
  }
}

/** "other processes used 3% of the machine" between two snapshots. */
export function foreignCpu(a: CpuSnapshot | undefined, b: CpuSnapshot | undefined): string {
  if (!a || !b || b.machineTotalMs <= a.machineTotalMs) return 'CPU use of other processes unknown';
  const foreign = Math.max(0, b.machineBusyMs - a.machineBusyMs - (b.ownMs - a.ownMs));
  return `other processes used ${((100 * foreign) / (b.machineTotalMs - a.machineTotalMs)).toFixed(0)}% of the machine's CPU`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePromise(port));
    });
  });
}

async function spawnExporter(
  db: string,
  extraEnv: Record<string, string>,
  entry: ServerEntry,
  registry: Set<ChildProcess>,
  profileDir: string | undefined,
): Promise<ExporterProcess> {
  const port = await freePort();
  const token = extraEnv.LANSCAPE_WRITE_TOKEN ?? randomBytes(24).toString('hex');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LANSCAPE_')) env[k] = v;
  Object.assign(env, {
    LANSCAPE_LISTEN: `127.0.0.1:${port}`,
    LANSCAPE_DB: db,
    LANSCAPE_WRITE_TOKEN: token,
    LANSCAPE_LOG_LEVEL: 'warn',
    ...extraEnv,
    // Safety: the IPAM benchmarks run outside any lab namespace and must never sweep.
    LANSCAPE_SCAN_ENABLED: 'false',
    LANSCAPE_SCAN_RDNS: 'false',
  });
  const profileArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=200'] : [];
  const child = spawn(process.execPath, [...profileArgs, ...entry.args], {
    cwd: EXPORTER_DIR,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  registry.add(child);
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', () => registry.delete(child));
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the exporter exited during startup (${child.exitCode ?? child.signalCode}):\n${out}`);
    }
    try {
      const r = await httpCall(`${url}/readyz`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the exporter did not become ready within 30 s:\n${out}`);
    }
    await sleep(50);
  }

  return {
    url,
    token,
    pid: child.pid ?? -1,
    entry: entry.label,
    async stop() {
      await stopChild(child, 10_000);
      if (profileDir) {
        for (const f of readdirSync(profileDir).filter(
          (n) => n.endsWith('.cpuprofile') && n.includes(`.${child.pid}.`),
        )) {
          process.stderr.write(
            `[bench] CPU profile of exporter pid ${child.pid}: ${join(profileDir, f)}\n` +
              `${summariseCpuProfile(join(profileDir, f))}\n`,
          );
        }
      }
    },
    tail: () => out,
    cpuMs: () => processCpuMs(child.pid ?? -1),
  };
}

// ------------------------------------------------------------------ PostgreSQL and HAProxy

/** postgresql.conf lines of the benchmarks' throw-away clusters (on top of the test fixture's). */
export const BENCH_POSTGRES_SETTINGS = ['shared_buffers = 256MB', 'work_mem = 16MB'];

/**
 * Runs `fn` with a throw-away PostgreSQL cluster (test/helpers/postgres.ts: a temp dir, 127.0.0.1
 * and a unix socket only), stopped and removed when `fn` settles.
 */
export async function withPostgres<T>(fn: (server: TestPostgres) => Promise<T>): Promise<T> {
  const server = await startPostgres(undefined, { settings: BENCH_POSTGRES_SETTINGS });
  if (!server) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/**
 * CPU time (user + system, in ms) of a process and its children (a PostgreSQL cluster: the
 * postmaster and its backends and workers, each a session of its own), plus what the children it
 * reaped used (backends that exited). Undefined off Linux.
 */
export function processTreeCpuMs(pid: number): number | undefined {
  let total = 0;
  let found = false;
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const self = Number(entry) === pid;
    if (!self && Number(f[1]) !== pid) continue; // field 4, ppid
    found ||= self;
    total += Number(f[11]) + Number(f[12]); // utime stime
    if (self) total += Number(f[13]) + Number(f[14]); // cutime cstime
  }
  return found ? total * 10 : undefined;
}

export interface Balancer {
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/**
 * HAProxy in front of `backends`, as provisioning/haproxy/haproxy.cfg sets it up (health checks
 * on /readyz, retries only for refused connections) but balancing roundrobin, bound to a free
 * port of 127.0.0.1, its config in `dir`. Resolves once every backend answers through it.
 */
async function startHaproxy(
  dir: string,
  backends: readonly ExporterProcess[],
  registry: Set<ChildProcess>,
): Promise<Balancer> {
  const port = await freePort();
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '    maxconn 4096',
      'defaults',
      '    mode http',
      '    timeout connect 2s',
      '    timeout client 120s',
      '    timeout server 120s',
      '    retries 3',
      '    retry-on conn-failure',
      '    option redispatch 1',
      'frontend lanscape',
      `    bind 127.0.0.1:${port}`,
      '    default_backend exporters',
      'backend exporters',
      '    balance roundrobin',
      '    option httpchk GET /readyz',
      '    http-check expect status 200',
      '    default-server inter 1s fall 2 rise 2',
      ...backends.map((b, i) => `    server exporter-${i + 1} ${new URL(b.url).host} check`),
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  registry.add(child);
  child.once('exit', () => registry.delete(child));
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const spawned = await new Promise<Error | undefined>((r) => {
    child.once('spawn', () => r(undefined));
    child.once('error', r);
  });
  if (spawned) throw new Error(`haproxy did not start (apt-get install haproxy): ${spawned.message}`);
  const url = `http://127.0.0.1:${port}`;
  // Every replica must answer through the balancer: 4 rounds of roundrobin all 200.
  const deadline = Date.now() + 30_000;
  for (let ok = 0; ok < 4 * backends.length;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`haproxy did not pass requests within 30 s:\n${out}`);
    }
    const r = await httpCall(`${url}/readyz`).catch(() => undefined);
    if (r?.status === 200) ok += 1;
    else {
      ok = 0;
      await sleep(100);
    }
  }
  return { url, pid: child.pid ?? -1, stop: () => stopChild(child, 10_000) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------------ HTTP client

export interface CallResult {
  status: number;
  body: Buffer;
  ms: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** One request on a keep-alive connection; `ms` runs from sending to the last body byte. */
export function httpCall(
  url: string,
  init: { method?: string; token?: string; json?: unknown } = {},
): Promise<CallResult> {
  return new Promise((resolvePromise, reject) => {
    const body = init.json === undefined ? undefined : Buffer.from(JSON.stringify(init.json));
    const headers: Record<string, string | number> = {};
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
    }
    const start = performance.now();
    const req = httpRequest(url, { method: init.method ?? 'GET', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - start }),
      );
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Like httpCall, but throws unless the status is 2xx, and parses the JSON body. */
export async function httpJson<T>(
  url: string,
  init: { method?: string; token?: string; json?: unknown } = {},
): Promise<T> {
  const r = await httpCall(url, init);
  if (r.status < 200 || r.status > 299)
    throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${r.status} ${r.body.toString().slice(0, 500)}`);
  return JSON.parse(r.body.toString()) as T;
}

// ------------------------------------------------------------------ autocannon (ships no types)

export interface CannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  setupRequest?: (req: CannonRequest, context: Record<string, unknown>) => CannonRequest;
}

export interface CannonOptions {
  url: string;
  connections: number;
  duration?: number;
  amount?: number;
  pipelining?: number;
  timeout?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  requests?: CannonRequest[];
}

export interface CannonHistogram {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  total: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
  p99_9: number;
}

export interface CannonResult {
  requests: CannonHistogram & { sent: number };
  latency: CannonHistogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
}

const autocannon = createRequire(import.meta.url)('autocannon') as (opts: CannonOptions) => Promise<CannonResult>;

export function cannon(opts: CannonOptions): Promise<CannonResult> {
  return autocannon(opts);
}

// ------------------------------------------------------------------ statistics and formatting

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ms`;
}

export function int(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Times `fn` once, in milliseconds. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

export function renderTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => [r.benchmark, r.target, r.result, r.pass === null ? 'info' : r.pass ? 'yes' : 'NO']);
  const head = ['benchmark', 'target', 'result', 'pass'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

// ------------------------------------------------------------------ CPU profiles

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The heaviest frames of a .cpuprofile by self time, as text lines. */
export function summariseCpuProfile(file: string, top = 20): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const f = node.callFrame;
    const where = f.url
      ? `${f.url
          .replace(/^file:\/\//, '')
          .replace(`${EXPORTER_DIR}/`, '')
          .replace(/^.*node_modules\//, 'node_modules/')}:${f.lineNumber + 1}`
      : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const lines = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `  ${(v / 1000).toFixed(0).padStart(7)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  return [`  self time, total ${(total / 1000).toFixed(0)} ms:`, ...lines].join('\n');
}
