// Traffic tests: the configured hosts, validation of what a test may do, one queue per target
// server (iperf3 serves one test at a time), the runs, their history and schedules.
//
// The queue is the table (#14): a test is a row, queued on any process and visible to all; a
// worker per target server claims the oldest waiting row (store.claimNext: conditional, one
// running test per server across processes) and runs it here. Several exporters on one
// PostgreSQL database therefore share the queues; one SQLite exporter behaves as before.
import { systemClock } from '../clock.js';
import { accessSync, constants, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { loadSsh2 } from './ssh2.js';
import type { Config } from '../config/schema.js';
import { LanscapeError, notFound, unprocessable } from '../errors.js';
import { KILL_AFTER_SECONDS, ipLiteral } from './core/command.js';
import {
  type HostKeyPolicy,
  decideHostKey,
  hostKeyAlgorithmsFor,
  knownKeysFor,
  normalizeFingerprint,
  parseKnownHosts,
} from './core/hostkeys.js';
import type { TrafficResult } from './core/iperf.js';
import { BUSY_BACKOFF_MS, firstRunAt, nextRunAt } from './core/schedule.js';
import { type RunOutcome, runTrafficTest } from './runner.js';
import { type SshEndpoint, type SshSession, sshConnect } from './ssh.js';
import {
  type ScheduleRow,
  type StaleBound,
  type TargetServer,
  type TestFilter,
  type TestParams,
  type TestRow,
  TrafficStore,
} from './store.js';
import type { HostView, ScheduleView, TestView } from './schemas.js';
import type { Store } from '../store/store.js';

export type HostConfig = Config['traffic']['hosts'][number];
export type Protocol = 'tcp' | 'udp';

export const HOST_NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;
export const DEFAULT_IPERF3_PORT = 5201;
export const DEFAULT_UDP_BITRATE = 1_000_000;
/** Tests waiting at once, all targets together; more is 429. */
export const MAX_QUEUED = 100;
/** How often a worker asks again while another process runs a test against its target server. */
export const BUSY_POLL_MS = 1000;
/** How often a running test's progress is written to its row (for the other processes). */
export const PROGRESS_SAVE_MS = 1000;
/** Clock skew between processes and slack on top of a test's longest possible run. */
const STALE_MARGIN_MS = 120_000;
const STOPPED_BEFORE_RUN = 'the exporter stopped before this test ran';
const STOPPED_DURING_RUN = 'the exporter stopped before this test finished';

export interface TestInput {
  source: string;
  target: string;
  protocol: Protocol;
  duration_seconds: number;
  bitrate_bits_per_second?: number | null | undefined;
  parallel: number;
  reverse: boolean;
  start_server: boolean;
  port?: number | null | undefined;
}

export interface ScheduleInput extends TestInput {
  interval_seconds: number;
  jitter_seconds?: number | undefined;
  enabled: boolean;
  floor_bits_per_second?: number | null | undefined;
}

export interface TrafficDeps {
  connect?: (endpoint: SshEndpoint, readyTimeoutMs: number) => Promise<SshSession>;
  now?: () => number;
  random?: () => number;
}

/**
 * The longest a run can take (runner.ts): both SSH connects, a started server's 10 s, up to one
 * client attempt per busy back-off plus one, each bounded by its local timer, and the back-offs.
 * A row still running after this (plus a margin) has lost its process.
 */
export function staleBound(config: Config['traffic']): StaleBound {
  const attempts = BUSY_BACKOFF_MS.length + 1;
  const perAttemptFixed = config.remote_grace_seconds + KILL_AFTER_SECONDS + 10;
  const backoff = BUSY_BACKOFF_MS.reduce((a, b) => a + b, 0);
  return {
    perSecondMs: attempts * 1000,
    fixedMs: (2 * config.connect_timeout_seconds + 10 + attempts * perAttemptFixed) * 1000 + backoff + STALE_MARGIN_MS,
  };
}

const serverKey = (t: TargetServer) => `${t.target_address}|${t.port}`;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const RESULT_KEYS = [
  'sent_bits_per_second',
  'received_bits_per_second',
  'retransmits',
  'jitter_seconds',
  'lost_packets',
  'packets',
  'loss_ratio',
  'seconds',
] as const;

export class TrafficService {
  readonly store: TrafficStore;
  readonly hostsByName: ReadonlyMap<string, HostConfig>;
  /** Listeners for finished tests (metrics). */
  readonly onFinish: ((test: TestRow) => void)[] = [];
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly connect: NonNullable<TrafficDeps['connect']>;
  /** One worker per target server (address|port) with waiting tests: claims and runs them one at a time. */
  private readonly workers = new Map<string, Promise<void>>();
  /** Target servers a worker must look at again (a test was queued while it was claiming). */
  private readonly wanted = new Set<string>();
  /** Tests this process runs, with their live progress, by target server. */
  private readonly running = new Map<string, TestRow>();
  /** Tests this process queued and that may still wait (id → target server): failed when it stops. */
  private readonly queuedHere = new Map<number, string>();
  private readonly abort = new AbortController();
  private readonly stale: StaleBound;
  /** Start-up recovery (async); everything that queues waits for it. */
  private readonly ready: Promise<void>;
  private problems: string[] = [];

  constructor(
    private readonly backend: Store,
    readonly config: Config['traffic'],
    deps: TrafficDeps,
    private readonly logger: Logger,
  ) {
    this.store = new TrafficStore(backend);
    this.hostsByName = new Map(config.hosts.map((h) => [h.name, h]));
    this.now = deps.now ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.connect = deps.connect ?? sshConnect;
    this.stale = staleBound(config);
    this.ready = this.recover().catch((e: unknown) => {
      this.logger.error({ err: e }, 'traffic: cannot recover the tests of a previous run');
    });
    this.problems = this.checkCredentials();
    if (this.problems.length) logger.warn({ collector: 'traffic' }, `traffic hosts: ${this.problems.join('; ')}`);
  }

  /**
   * Tests cut short by a stop or crash are not resumed; say so instead of leaving them pending.
   * SQLite has one exporter, so every unfinished test is an orphan. On PostgreSQL other
   * exporters may be running theirs: only running tests past their stale bound are failed, and
   * tests still waiting (their exporter may be gone) get a worker here, so they run once.
   */
  private async recover(): Promise<void> {
    if (this.backend.dialect === 'sqlite') {
      await this.backend.write(() => this.store.failUnfinished(this.now(), STOPPED_DURING_RUN));
      return;
    }
    await this.backend.write(() => this.store.failStaleRunning(this.now(), this.stale, STOPPED_DURING_RUN));
    for (const server of await this.store.queuedTargets()) this.pump(serverKey(server), server);
  }

  /** Collector status: the configured credentials and known_hosts files are readable. */
  get status(): { up: boolean; message?: string } {
    return this.problems.length ? { up: false, message: this.problems.join('; ') } : { up: true };
  }

  /** Key files are read and parsed (never logged); only the reason of a failure is kept. */
  private checkCredentials(): string[] {
    const out: string[] = [];
    for (const h of this.config.hosts) {
      try {
        if (h.agent) {
          if (!process.env.SSH_AUTH_SOCK) out.push(`${h.name}: agent: true but SSH_AUTH_SOCK is not set`);
        } else {
          this.credentials(h);
        }
        if (h.known_hosts_file) accessSync(h.known_hosts_file, constants.R_OK);
      } catch (e) {
        out.push(`${h.name}: ${(e as Error).message}`);
      }
    }
    return out;
  }

  private credentials(h: HostConfig): SshEndpoint['auth'] {
    if (h.agent) {
      const agent = process.env.SSH_AUTH_SOCK;
      if (!agent) throw new Error('agent: true but SSH_AUTH_SOCK is not set');
      return { agent };
    }
    const file = h.private_key_file!;
    let privateKey: Buffer;
    let passphrase: string | undefined;
    try {
      privateKey = readFileSync(file);
    } catch (e) {
      throw new Error(`cannot read private_key_file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (h.passphrase_file) {
      try {
        passphrase = readFileSync(h.passphrase_file, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        throw new Error(
          `cannot read passphrase_file ${h.passphrase_file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
    }
    // parseKey's messages say what is wrong (format, passphrase) without quoting the key.
    const parsed = loadSsh2().utils.parseKey(privateKey, passphrase);
    if (parsed instanceof Error) throw new Error(`private_key_file ${file}: ${parsed.message.slice(0, 120)}`);
    return passphrase ? { privateKey, passphrase } : { privateKey };
  }

  // ------------------------------------------------------------------ hosts
  async hosts(): Promise<HostView[]> {
    const tofu = new Map<string, string | null>();
    for (const h of this.config.hosts)
      if (!h.host_key && !h.known_hosts_file)
        tofu.set(h.name, (await this.store.hostKey(h.address, h.port))?.fingerprint ?? null);
    return this.config.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      port: h.port,
      user: h.user,
      auth: h.agent ? 'agent' : 'key',
      host_key: {
        pinned: h.host_key ? normalizeFingerprint(h.host_key) : null,
        known_hosts: h.known_hosts_file !== undefined,
        trusted_on_first_use: tofu.get(h.name) ?? null,
      },
      iperf3_port: h.iperf3_port,
    }));
  }

  private host(name: string, role: 'source' | 'target'): HostConfig {
    const h = this.hostsByName.get(name);
    if (!h) {
      const known = [...this.hostsByName.keys()];
      throw unprocessable(
        `${role} "${name}" is not a configured traffic host (${known.length ? `configured: ${known.join(', ')}` : 'none configured: add traffic.hosts to the YAML file'})`,
      );
    }
    return h;
  }

  private async endpoint(h: HostConfig): Promise<SshEndpoint> {
    const label = `${h.name} (${h.address.includes(':') ? `[${h.address}]` : h.address}:${h.port})`;
    let policy: HostKeyPolicy;
    let algorithms: string[] | undefined;
    let firstUse: { key: Buffer; keyType: string; fingerprint: string } | undefined;
    if (h.host_key) {
      policy = { kind: 'pinned', fingerprint: h.host_key };
    } else if (h.known_hosts_file) {
      let text: string;
      try {
        text = readFileSync(h.known_hosts_file, 'utf8');
      } catch (e) {
        throw new Error(
          `cannot read known_hosts_file ${h.known_hosts_file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
      const entries = parseKnownHosts(text);
      policy = { kind: 'known_hosts', file: h.known_hosts_file, entries };
      algorithms = hostKeyAlgorithmsFor(
        knownKeysFor(entries, h.address, h.port)
          .filter((e) => e.marker === null)
          .map((e) => e.keyType),
      );
    } else {
      policy = { kind: 'tofu', stored: (await this.store.hostKey(h.address, h.port))?.fingerprint ?? null };
    }
    return {
      label,
      address: h.address,
      port: h.port,
      user: h.user,
      auth: this.credentials(h),
      ...(algorithms ? { hostKeyAlgorithms: algorithms } : {}),
      verifyHostKey: (key) => {
        const decision = decideHostKey(policy, key, label, h.address, h.port);
        if (decision.ok && decision.trustNow)
          firstUse = { key, keyType: decision.keyType, fingerprint: decision.fingerprint };
        if (!decision.ok) this.logger.warn({ host: h.name, fingerprint: decision.fingerprint }, decision.message);
        return decision;
      },
      // A first-use key is stored only after the handshake: a machine in the middle that shows
      // someone else's public key (without its private key) must not get it trusted.
      hostKeyProven: async () => {
        if (!firstUse) return;
        const key = firstUse;
        // Another connection (of any exporter) may have stored a different key first: the first one wins.
        const stored = await this.backend.write(() =>
          this.store.trustHostKey(h.address, h.port, key.keyType, key.fingerprint, this.now()),
        );
        const decision = decideHostKey({ kind: 'tofu', stored }, key.key, label, h.address, h.port);
        if (!decision.ok) {
          this.logger.warn({ host: h.name, fingerprint: key.fingerprint }, decision.message);
          throw new Error(decision.message);
        }
        if (stored === key.fingerprint)
          this.logger.info({ host: h.name, fingerprint: stored }, 'host key trusted on first use');
      },
    };
  }

  // ------------------------------------------------------------------ tests
  /** Checks and completes the parameters: hosts exist, defaults applied, target resolved. */
  resolve(input: TestInput): TestParams & { target_address: string } {
    this.host(input.source, 'source');
    let targetHost: HostConfig | undefined;
    let targetAddress: string;
    let targetLabel: string;
    const literal = ipLiteral(input.target);
    if (literal !== null) {
      targetAddress = literal;
      // An address that is a configured host's address is that host (same label, same port).
      targetHost = this.config.hosts.find((h) => ipLiteral(h.address) === literal);
      targetLabel = targetHost?.name ?? literal;
    } else {
      targetHost = this.host(input.target, 'target');
      targetAddress = targetHost.address;
      targetLabel = targetHost.name;
    }
    if (input.start_server && !targetHost) {
      throw unprocessable(
        `start_server needs the target to be a configured host (SSH to ${targetAddress} is not configured)`,
      );
    }
    const bitrate = input.bitrate_bits_per_second ?? (input.protocol === 'udp' ? DEFAULT_UDP_BITRATE : null);
    return {
      source: input.source,
      target: targetLabel,
      target_address: targetAddress,
      protocol: input.protocol,
      duration_seconds: input.duration_seconds,
      bitrate_bits_per_second: bitrate,
      parallel: input.parallel,
      reverse: input.reverse ? 1 : 0,
      start_server: input.start_server ? 1 : 0,
      port: input.port ?? targetHost?.iperf3_port ?? DEFAULT_IPERF3_PORT,
    };
  }

  /** Queues a test behind the others for the same target server. */
  async startTest(input: TestInput): Promise<TestView> {
    const params = this.resolve(input);
    await this.ready;
    const test = await this.backend.write(() => this.queueTest(params, null));
    this.queuedHere.set(test.id, serverKey(test));
    // The answer describes the test as accepted (queued), even when it starts at once.
    const view = this.view(test);
    this.pump(serverKey(test), test);
    return view;
  }

  /** Inserts a waiting test (inside a write), unless too many wait already (429). */
  private async queueTest(params: TestParams & { target_address: string }, scheduleId: number | null) {
    const queued = await this.store.queuedCount();
    if (queued >= MAX_QUEUED) {
      throw new LanscapeError(429, 'rate_limited', `${queued} traffic tests are waiting already; try again later`, {
        retry_after_seconds: 30,
      });
    }
    return this.store.insertTest({ ...params, schedule_id: scheduleId, queued_at: this.now() });
  }

  async getTest(id: number): Promise<TestView> {
    const row = this.live(id) ?? (await this.store.test(id));
    if (!row) throw notFound('traffic test', id);
    return this.view(row);
  }

  async listTests(filter: TestFilter, limit: number, offset: number): Promise<{ count: number; results: TestView[] }> {
    // Tests against a configured host's address are stored under the host's name.
    const literal = filter.target === undefined ? null : ipLiteral(filter.target);
    const host = literal === null ? undefined : this.config.hosts.find((h) => ipLiteral(h.address) === literal);
    const { count, rows } = await this.store.listTests(host ? { ...filter, target: host.name } : filter, limit, offset);
    return { count, results: rows.map((r) => this.view(this.live(r.id) ?? r)) };
  }

  /** True while a test of this schedule is queued or running (in any exporter on the store). */
  pendingFor(scheduleId: number): Promise<boolean> {
    return this.store.pendingFor(scheduleId);
  }

  /** A test this process runs, with its live progress. */
  private live(id: number): TestRow | undefined {
    for (const t of this.running.values()) if (t.id === id) return t;
    return undefined;
  }

  private view(t: TestRow): TestView {
    const done = t.state === 'done' && t.received_bits_per_second !== null;
    return {
      id: t.id,
      source: t.source,
      target: t.target,
      target_address: t.target_address,
      protocol: t.protocol,
      duration_seconds: t.duration_seconds,
      bitrate_bits_per_second: t.bitrate_bits_per_second,
      parallel: t.parallel,
      reverse: t.reverse === 1,
      start_server: t.start_server === 1,
      port: t.port,
      state: t.state,
      progress: t.progress,
      queued_at: iso(t.queued_at)!,
      started_at: iso(t.started_at),
      finished_at: iso(t.finished_at),
      result: done ? (Object.fromEntries(RESULT_KEYS.map((k) => [k, t[k]])) as unknown as TrafficResult) : null,
      ...(t.error ? { error: t.error } : {}),
      schedule_id: t.schedule_id,
    };
  }

  /** Makes sure a worker looks at the server's waiting tests. */
  private pump(key: string, server: TargetServer): void {
    if (this.abort.signal.aborted) return;
    this.wanted.add(key);
    if (this.workers.has(key)) return;
    const worker = this.work(key, { target_address: server.target_address, port: server.port })
      .catch((e: unknown) => this.logger.error({ err: e, target: key }, 'traffic queue worker failed'))
      .finally(() => this.workers.delete(key));
    this.workers.set(key, worker);
  }

  /**
   * Claims and runs the server's waiting tests, oldest first, until none waits. While another
   * exporter runs a test against the server, asks again every BUSY_POLL_MS (bounded: that test
   * ends, or its row goes stale and the next claim fails it).
   */
  private async work(key: string, server: TargetServer): Promise<void> {
    while (!this.abort.signal.aborted) {
      this.wanted.delete(key);
      const mine = [...this.queuedHere].filter(([, server]) => server === key).map(([id]) => id);
      let claimed: TestRow | 'busy' | undefined;
      try {
        claimed = await this.backend.write(() =>
          this.store.claimNext(
            server,
            this.now(),
            this.stale,
            'the exporter running this test stopped before it finished',
          ),
        );
      } catch (e) {
        this.logger.error({ err: e, target: key }, 'traffic: cannot claim the next test');
        claimed = 'busy';
      }
      if (claimed === undefined) {
        // Nothing waits for the server: what this process had queued for it ran (here or elsewhere).
        for (const id of mine) this.queuedHere.delete(id);
        if (this.wanted.has(key)) continue;
        return;
      }
      if (claimed === 'busy') {
        if (!(await pause(BUSY_POLL_MS, this.abort.signal))) return;
        continue;
      }
      const test = claimed;
      this.queuedHere.delete(test.id);
      this.running.set(key, test);
      try {
        await this.run(test);
      } catch (e) {
        this.logger.error({ err: e, test: test.id }, 'traffic test failed unexpectedly');
        await this.finish(test, { ok: false, error: 'internal error; see the exporter log' });
      } finally {
        this.running.delete(key);
      }
    }
  }

  private async run(test: TestRow): Promise<void> {
    const source = this.hostsByName.get(test.source);
    if (!source) return this.finish(test, { ok: false, error: `source ${test.source} is no longer configured` });
    const targetHost = this.hostsByName.get(test.target);
    if (test.start_server && !targetHost)
      return this.finish(test, { ok: false, error: `target ${test.target} is no longer configured` });
    const timeoutMs = this.config.connect_timeout_seconds * 1000;
    // Progress lives here; the row gets it now and then, for the other exporters' answers.
    let savedAt = this.now();
    let saving: Promise<void> = Promise.resolve();
    const outcome = await runTrafficTest(
      {
        source: test.source,
        target: test.target,
        targetAddress: test.target_address,
        port: test.port,
        protocol: test.protocol,
        durationSeconds: test.duration_seconds,
        bitrate: test.bitrate_bits_per_second,
        parallel: test.parallel,
        reverse: test.reverse === 1,
        graceSeconds: this.config.remote_grace_seconds,
        startServer: test.start_server ? { bindAddress: ipLiteral(test.target_address) } : null,
      },
      {
        connectSource: () => this.connectTo(source, timeoutMs),
        connectTarget: () => this.connectTo(targetHost!, timeoutMs),
        onProgress: (p) => {
          test.progress = p;
          const now = this.now();
          if (now - savedAt < PROGRESS_SAVE_MS) return;
          savedAt = now;
          saving = saving
            .then(() => this.backend.write(() => this.store.saveProgress(test.id, p)))
            .catch((e: unknown) => this.logger.warn({ err: e, test: test.id }, 'traffic: cannot save progress'));
        },
        onBusy: (attempt, waitMs) =>
          this.logger.info(
            { test: test.id, target: `${test.target_address}:${test.port}` },
            `iperf3 server busy with another test; try ${attempt + 1} in ${waitMs / 1000} s`,
          ),
        signal: this.abort.signal,
        now: this.now,
      },
    );
    await saving;
    await this.finish(test, outcome);
  }

  private async connectTo(h: HostConfig, timeoutMs: number): Promise<SshSession> {
    let endpoint: SshEndpoint;
    try {
      endpoint = await this.endpoint(h);
    } catch (e) {
      throw new Error(`${h.name}: ${(e as Error).message}`);
    }
    return this.connect(endpoint, timeoutMs);
  }

  private async finish(test: TestRow, outcome: RunOutcome): Promise<void> {
    if (test.state === 'done' || test.state === 'failed') return;
    const now = this.now();
    const ended: TestRow = outcome.ok
      ? { ...test, state: 'done', progress: 1, finished_at: now, error: null, ...outcome.result }
      : { ...test, state: 'failed', finished_at: now, error: outcome.error };
    const saved = await this.backend.write(async () => {
      if (!(await this.store.finishTest(ended))) return false;
      await this.store.prune(ended, this.config.history_per_pair);
      return true;
    });
    Object.assign(test, ended);
    if (!saved) {
      // Another exporter took it for an orphan (its stale bound passed): its row says so.
      this.logger.warn({ test: test.id }, 'traffic test was already ended elsewhere; its result is not recorded');
      return;
    }
    if (!outcome.ok)
      this.logger.warn(
        { test: test.id, source: test.source, target: test.target },
        `traffic test failed: ${outcome.error}`,
      );
    for (const listener of this.onFinish) listener(test);
  }

  /** Resolves when nothing is queued or running here (tests). */
  async drain(): Promise<void> {
    await this.ready;
    while (this.workers.size > 0) await Promise.all([...this.workers.values()]);
  }

  /** Ends running tests (their connections close; the remote timeout ends iperf3) and fails the ones queued here. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.ready;
    const now = this.now();
    const ids = [...this.queuedHere.keys()];
    this.queuedHere.clear();
    if (ids.length > 0)
      await this.backend.write(async () => {
        for (const id of ids) await this.store.failQueued(id, now, STOPPED_BEFORE_RUN);
      });
    await Promise.allSettled([...this.workers.values()]);
  }

  // ------------------------------------------------------------------ schedules
  async listSchedules(): Promise<ScheduleView[]> {
    return (await this.store.schedules()).map((s) => this.scheduleView(s));
  }

  async getSchedule(id: number): Promise<ScheduleView> {
    return this.scheduleView(await this.scheduleRow(id));
  }

  async scheduleRow(id: number): Promise<ScheduleRow> {
    const row = await this.store.schedule(id);
    if (!row) throw notFound('traffic schedule', id);
    return row;
  }

  async createSchedule(input: ScheduleInput): Promise<ScheduleView> {
    const row = this.scheduleFields(input);
    const saved = await this.backend.write(() => {
      const now = this.now();
      return this.store.insertSchedule({
        ...row,
        next_run_at: row.enabled ? firstRunAt(now, row.jitter_seconds, this.random) : null,
        created_at: now,
        updated_at: now,
      });
    });
    return this.scheduleView(saved);
  }

  /** Read, merge, check and save under the row's lock (PostgreSQL): a concurrent PATCH is not lost. */
  async updateSchedule(id: number, patch: Partial<ScheduleInput>): Promise<ScheduleView> {
    const saved = await this.backend.write(async () => {
      const current = await this.store.scheduleForUpdate(id);
      if (!current) throw notFound('traffic schedule', id);
      const next = this.mergedSchedule(current, patch);
      await this.store.saveSchedule(next);
      return next;
    });
    return this.scheduleView(saved);
  }

  private mergedSchedule(current: ScheduleRow, patch: Partial<ScheduleInput>): ScheduleRow {
    const merged: ScheduleInput = { ...this.scheduleInput(current), ...patch };
    // A new interval without a new jitter keeps the jitter only while it still fits.
    if (patch.interval_seconds !== undefined && patch.jitter_seconds === undefined) {
      merged.jitter_seconds = Math.min(current.jitter_seconds, Math.floor(patch.interval_seconds / 2));
    }
    const row = this.scheduleFields(merged);
    const now = this.now();
    let next = current.next_run_at;
    if (!row.enabled) next = null;
    else if (!current.enabled || next === null) next = firstRunAt(now, row.jitter_seconds, this.random);
    else if (row.interval_seconds !== current.interval_seconds || row.jitter_seconds !== current.jitter_seconds) {
      next = Math.min(next, nextRunAt(now, row.interval_seconds, row.jitter_seconds, this.random));
    }
    return { ...current, ...row, next_run_at: next, updated_at: now };
  }

  async deleteSchedule(id: number): Promise<void> {
    if (!(await this.backend.write(() => this.store.deleteSchedule(id)))) throw notFound('traffic schedule', id);
  }

  /**
   * Queues the test of a due schedule and sets its next run; returns the test, the reason it
   * could not run, or null when this run was taken already (another scheduler, or the schedule
   * changed since it was read as due): the run is claimed by moving next_run_at conditionally,
   * in the same transaction as the test's row.
   */
  async runSchedule(s: ScheduleRow): Promise<TestView | Error | null> {
    if (s.next_run_at === null) return null;
    const seen = s.next_run_at;
    let params: (TestParams & { target_address: string }) | Error;
    try {
      params = this.resolve(this.scheduleInput(s));
    } catch (e) {
      params = e as Error;
    }
    await this.ready;
    const out = await this.backend.write(async () => {
      const next = nextRunAt(this.now(), s.interval_seconds, s.jitter_seconds, this.random);
      if (!(await this.store.claimScheduleRun(s.id, seen, next))) return null;
      if (params instanceof Error) return params;
      try {
        const test = await this.queueTest(params, s.id);
        await this.store.setScheduleLastTest(s.id, test.id);
        return test;
      } catch (e) {
        if (e instanceof LanscapeError) return e;
        throw e;
      }
    });
    if (out === null || out instanceof Error) return out;
    this.queuedHere.set(out.id, serverKey(out));
    this.pump(serverKey(out), out);
    return this.view(out);
  }

  /** Schedule fields from input: hosts resolved now so a bad one is refused at once (422). */
  private scheduleFields(
    input: ScheduleInput,
  ): Omit<ScheduleRow, 'id' | 'last_test_id' | 'next_run_at' | 'created_at' | 'updated_at'> {
    const params = this.resolve(input);
    const jitter = input.jitter_seconds ?? Math.floor(input.interval_seconds / 10);
    if (jitter > input.interval_seconds / 2) {
      throw unprocessable(
        `jitter_seconds (${jitter}) may be at most half of interval_seconds (${input.interval_seconds})`,
      );
    }
    return {
      source: params.source,
      target: params.target,
      protocol: params.protocol,
      duration_seconds: params.duration_seconds,
      bitrate_bits_per_second: input.bitrate_bits_per_second ?? null,
      parallel: params.parallel,
      reverse: params.reverse,
      start_server: params.start_server,
      port: input.port ?? null,
      interval_seconds: input.interval_seconds,
      jitter_seconds: jitter,
      enabled: input.enabled ? 1 : 0,
      floor_bits_per_second: input.floor_bits_per_second ?? null,
    };
  }

  private scheduleInput(s: ScheduleRow): ScheduleInput {
    return this.scheduleSettings(s);
  }

  /** A schedule row's settings as the API spells them (booleans, not 0/1). */
  private scheduleSettings(s: ScheduleRow): Omit<ScheduleView, 'id' | 'last_test_id' | 'next_run_at'> {
    return {
      source: s.source,
      target: s.target,
      protocol: s.protocol,
      duration_seconds: s.duration_seconds,
      bitrate_bits_per_second: s.bitrate_bits_per_second,
      parallel: s.parallel,
      reverse: s.reverse === 1,
      start_server: s.start_server === 1,
      port: s.port,
      interval_seconds: s.interval_seconds,
      jitter_seconds: s.jitter_seconds,
      enabled: s.enabled === 1,
      floor_bits_per_second: s.floor_bits_per_second,
    };
  }

  private scheduleView(s: ScheduleRow): ScheduleView {
    return { id: s.id, ...this.scheduleSettings(s), last_test_id: s.last_test_id, next_run_at: iso(s.next_run_at) };
  }
}

/** Resolves true after `ms`, or false at once when the signal aborts; never keeps the process alive. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
