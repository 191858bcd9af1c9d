// Traffic tests: the configured hosts, validation of what a test may do, one queue per target
// server (iperf3 serves one test at a time), the runs, their history and schedules.
import { systemClock } from '../clock.js';
import { accessSync, constants, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { loadSsh2 } from './ssh2.js';
import type { Config } from '../config/schema.js';
import { LanscapeError, notFound, unprocessable } from '../errors.js';
import { ipLiteral } from './core/command.js';
import {
  type HostKeyPolicy,
  decideHostKey,
  hostKeyAlgorithmsFor,
  knownKeysFor,
  normalizeFingerprint,
  parseKnownHosts,
} from './core/hostkeys.js';
import type { TrafficResult } from './core/iperf.js';
import { firstRunAt, nextRunAt } from './core/schedule.js';
import { type RunOutcome, runTrafficTest } from './runner.js';
import { type SshEndpoint, type SshSession, sshConnect } from './ssh.js';
import { type ScheduleRow, type TestFilter, type TestParams, type TestRow, TrafficStore } from './store.js';
import type { HostView, ScheduleView, TestView } from './schemas.js';
import type { Db } from '../store/db.js';

export type HostConfig = Config['traffic']['hosts'][number];
export type Protocol = 'tcp' | 'udp';

export const HOST_NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;
export const DEFAULT_IPERF3_PORT = 5201;
export const DEFAULT_UDP_BITRATE = 1_000_000;
/** Tests waiting at once, all targets together; more is 429. */
export const MAX_QUEUED = 100;

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
  /** Waiting tests per target server (address|port), run one at a time per server. */
  private readonly queues = new Map<string, TestRow[]>();
  private readonly running = new Map<string, TestRow>();
  private readonly runs = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private problems: string[] = [];

  constructor(
    db: Db,
    readonly config: Config['traffic'],
    deps: TrafficDeps,
    private readonly logger: Logger,
  ) {
    this.store = new TrafficStore(db);
    this.hostsByName = new Map(config.hosts.map((h) => [h.name, h]));
    this.now = deps.now ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.connect = deps.connect ?? sshConnect;
    // Tests cut short by a stop or crash are not resumed; say so instead of leaving them pending.
    for (const t of this.store.unfinishedTests()) {
      this.store.saveTest({
        ...t,
        state: 'failed',
        finished_at: this.now(),
        error: 'the exporter stopped before this test finished',
      });
    }
    this.problems = this.checkCredentials();
    if (this.problems.length) logger.warn({ collector: 'traffic' }, `traffic hosts: ${this.problems.join('; ')}`);
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
  hosts(): HostView[] {
    return this.config.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      port: h.port,
      user: h.user,
      auth: h.agent ? 'agent' : 'key',
      host_key: {
        pinned: h.host_key ? normalizeFingerprint(h.host_key) : null,
        known_hosts: h.known_hosts_file !== undefined,
        trusted_on_first_use:
          !h.host_key && !h.known_hosts_file ? (this.store.hostKey(h.address, h.port)?.fingerprint ?? null) : null,
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

  private endpoint(h: HostConfig): SshEndpoint {
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
      policy = { kind: 'tofu', stored: this.store.hostKey(h.address, h.port)?.fingerprint ?? null };
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
      hostKeyProven: () => {
        if (!firstUse) return;
        this.store.trustHostKey(h.address, h.port, firstUse.keyType, firstUse.fingerprint, this.now());
        // Another connection may have stored a different key first: the first one wins.
        const stored = this.store.hostKey(h.address, h.port)!.fingerprint;
        const decision = decideHostKey({ kind: 'tofu', stored }, firstUse.key, label, h.address, h.port);
        if (!decision.ok) {
          this.logger.warn({ host: h.name, fingerprint: firstUse.fingerprint }, decision.message);
          throw new Error(decision.message);
        }
        if (stored === firstUse.fingerprint)
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
  startTest(input: TestInput, scheduleId: number | null = null): TestView {
    const params = this.resolve(input);
    const queued = [...this.queues.values()].reduce((n, q) => n + q.length, 0);
    if (queued >= MAX_QUEUED) {
      throw new LanscapeError(429, 'rate_limited', `${queued} traffic tests are waiting already; try again later`, {
        retry_after_seconds: 30,
      });
    }
    const test = this.store.insertTest({ ...params, schedule_id: scheduleId, queued_at: this.now() });
    const key = `${test.target_address}|${test.port}`;
    const queue = this.queues.get(key) ?? [];
    queue.push(test);
    this.queues.set(key, queue);
    // The answer describes the test as accepted (queued), even when it starts at once.
    const view = this.view(test);
    this.pump(key);
    return view;
  }

  getTest(id: number): TestView {
    const row = this.live(id) ?? this.store.test(id);
    if (!row) throw notFound('traffic test', id);
    return this.view(row);
  }

  listTests(filter: TestFilter, limit: number, offset: number): { count: number; results: TestView[] } {
    // Tests against a configured host's address are stored under the host's name.
    const literal = filter.target === undefined ? null : ipLiteral(filter.target);
    const host = literal === null ? undefined : this.config.hosts.find((h) => ipLiteral(h.address) === literal);
    const { count, rows } = this.store.listTests(host ? { ...filter, target: host.name } : filter, limit, offset);
    return { count, results: rows.map((r) => this.view(this.live(r.id) ?? r)) };
  }

  /** True while a test of this schedule is queued or running. */
  pendingFor(scheduleId: number): boolean {
    return [...this.running.values(), ...[...this.queues.values()].flat()].some((t) => t.schedule_id === scheduleId);
  }

  private live(id: number): TestRow | undefined {
    for (const t of this.running.values()) if (t.id === id) return t;
    for (const q of this.queues.values()) for (const t of q) if (t.id === id) return t;
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

  private pump(key: string): void {
    if (this.running.has(key) || this.abort.signal.aborted) return;
    const queue = this.queues.get(key);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.queues.delete(key);
    if (!next) return;
    this.running.set(key, next);
    const run = this.run(next)
      .catch((e: unknown) => {
        this.logger.error({ err: e, test: next.id }, 'traffic test failed unexpectedly');
        this.finish(next, { ok: false, error: 'internal error; see the exporter log' });
      })
      .finally(() => {
        this.running.delete(key);
        this.runs.delete(run);
        this.pump(key);
      });
    this.runs.add(run);
  }

  private async run(test: TestRow): Promise<void> {
    Object.assign(test, { state: 'running', started_at: this.now(), progress: 0 });
    this.store.saveTest(test);
    const source = this.hostsByName.get(test.source);
    if (!source) return this.finish(test, { ok: false, error: `source ${test.source} is no longer configured` });
    const targetHost = this.hostsByName.get(test.target);
    if (test.start_server && !targetHost)
      return this.finish(test, { ok: false, error: `target ${test.target} is no longer configured` });
    const timeoutMs = this.config.connect_timeout_seconds * 1000;
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
    this.finish(test, outcome);
  }

  private async connectTo(h: HostConfig, timeoutMs: number): Promise<SshSession> {
    let endpoint: SshEndpoint;
    try {
      endpoint = this.endpoint(h);
    } catch (e) {
      throw new Error(`${h.name}: ${(e as Error).message}`);
    }
    return this.connect(endpoint, timeoutMs);
  }

  private finish(test: TestRow, outcome: RunOutcome): void {
    if (test.state === 'done' || test.state === 'failed') return;
    const now = this.now();
    if (outcome.ok) {
      Object.assign(test, { state: 'done', progress: 1, finished_at: now, error: null }, outcome.result);
    } else {
      Object.assign(test, { state: 'failed', finished_at: now, error: outcome.error });
      this.logger.warn(
        { test: test.id, source: test.source, target: test.target },
        `traffic test failed: ${outcome.error}`,
      );
    }
    this.store.saveTest(test);
    this.store.prune(test, this.config.history_per_pair);
    for (const listener of this.onFinish) listener(test);
  }

  /** Resolves when nothing is queued or running (tests). */
  async drain(): Promise<void> {
    while (this.runs.size > 0) await Promise.all([...this.runs]);
  }

  /** Ends running tests (their connections close; the remote timeout ends iperf3) and fails queued ones. */
  async stop(): Promise<void> {
    this.abort.abort();
    for (const queue of this.queues.values()) {
      for (const t of queue)
        this.store.saveTest({
          ...t,
          state: 'failed',
          finished_at: this.now(),
          error: 'the exporter stopped before this test ran',
        });
    }
    this.queues.clear();
    await Promise.allSettled([...this.runs]);
  }

  // ------------------------------------------------------------------ schedules
  listSchedules(): ScheduleView[] {
    return this.store.schedules().map((s) => this.scheduleView(s));
  }

  getSchedule(id: number): ScheduleView {
    return this.scheduleView(this.scheduleRow(id));
  }

  scheduleRow(id: number): ScheduleRow {
    const row = this.store.schedule(id);
    if (!row) throw notFound('traffic schedule', id);
    return row;
  }

  createSchedule(input: ScheduleInput): ScheduleView {
    const row = this.scheduleFields(input);
    const now = this.now();
    const saved = this.store.insertSchedule({
      ...row,
      next_run_at: row.enabled ? firstRunAt(now, row.jitter_seconds, this.random) : null,
      created_at: now,
      updated_at: now,
    });
    return this.scheduleView(saved);
  }

  updateSchedule(id: number, patch: Partial<ScheduleInput>): ScheduleView {
    const current = this.scheduleRow(id);
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
    const saved: ScheduleRow = { ...current, ...row, next_run_at: next, updated_at: now };
    this.store.saveSchedule(saved);
    return this.scheduleView(saved);
  }

  deleteSchedule(id: number): void {
    if (!this.store.deleteSchedule(id)) throw notFound('traffic schedule', id);
  }

  /** Queues the test of a due schedule and sets its next run; returns the test or the reason it could not run. */
  runSchedule(s: ScheduleRow): TestView | Error {
    const now = this.now();
    let test: TestView | Error;
    try {
      test = this.startTest(this.scheduleInput(s), s.id);
    } catch (e) {
      test = e as Error;
    }
    const saved: ScheduleRow = {
      ...s,
      last_test_id: test instanceof Error ? s.last_test_id : test.id,
      next_run_at: nextRunAt(now, s.interval_seconds, s.jitter_seconds, this.random),
      updated_at: s.updated_at,
    };
    this.store.saveSchedule(saved);
    return test;
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
