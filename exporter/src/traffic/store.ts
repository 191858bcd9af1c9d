// SQL of the traffic tables: tests (the queue and the history), schedules, TOFU host keys.
// Times are Unix milliseconds; booleans are 0/1. One text per statement for SQLite and
// PostgreSQL (#14); the rows are the truth every replica shares: a test's state moves only by
// conditional UPDATEs (queued → running → done/failed), so two processes cannot both claim or
// both finish one test, and at most one test per target server is running (see claimNext).
import type { Store } from '../store/store.js';

export type TestState = 'queued' | 'running' | 'done' | 'failed';

/** What a test measures; shared by tests and schedules. */
export interface TestParams {
  source: string;
  target: string;
  protocol: 'tcp' | 'udp';
  duration_seconds: number;
  bitrate_bits_per_second: number | null;
  parallel: number;
  reverse: number;
  start_server: number;
  port: number;
}

export interface TestRow extends TestParams {
  id: number;
  target_address: string;
  schedule_id: number | null;
  state: TestState;
  progress: number;
  queued_at: number;
  started_at: number | null;
  finished_at: number | null;
  sent_bits_per_second: number | null;
  received_bits_per_second: number | null;
  retransmits: number | null;
  jitter_seconds: number | null;
  lost_packets: number | null;
  packets: number | null;
  loss_ratio: number | null;
  seconds: number | null;
  error: string | null;
}

export interface ScheduleRow extends Omit<TestParams, 'port'> {
  id: number;
  /** null: the target's iperf3_port when the test is queued (bitrate null: the protocol's default) */
  port: number | null;
  interval_seconds: number;
  jitter_seconds: number;
  enabled: number;
  floor_bits_per_second: number | null;
  last_test_id: number | null;
  next_run_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface TestFilter {
  source?: string | undefined;
  target?: string | undefined;
  state?: TestState | undefined;
  protocol?: 'tcp' | 'udp' | undefined;
  schedule_id?: number | undefined;
}

const PARAMS = [
  'source',
  'target',
  'protocol',
  'duration_seconds',
  'bitrate_bits_per_second',
  'parallel',
  'reverse',
  'start_server',
  'port',
] as const;
const RESULT = [
  'sent_bits_per_second',
  'received_bits_per_second',
  'retransmits',
  'jitter_seconds',
  'lost_packets',
  'packets',
  'loss_ratio',
  'seconds',
] as const;
const SCHEDULE = [
  ...PARAMS,
  'interval_seconds',
  'jitter_seconds',
  'enabled',
  'floor_bits_per_second',
  'next_run_at',
] as const;

export interface HostKeyRow {
  address: string;
  port: number;
  key_type: string;
  fingerprint: string;
  first_seen_at: number;
}

/** The iperf3 server a test runs against: its tests run one at a time. */
export interface TargetServer {
  target_address: string;
  port: number;
}

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');
const INSERT_TEST = `INSERT INTO traffic_tests (${PARAMS.join(', ')}, target_address, schedule_id, state, queued_at)
  VALUES (${placeholders(PARAMS.length + 2)}, 'queued', ?) RETURNING *`;
const FINISH_TEST = `UPDATE traffic_tests SET state = ?, progress = ?, finished_at = ?, error = ?,
  ${RESULT.map((c) => `${c} = ?`).join(', ')} WHERE id = ? AND state = 'running'`;
const INSERT_SCHEDULE = `INSERT INTO traffic_schedules (${SCHEDULE.join(', ')}, created_at, updated_at)
  VALUES (${placeholders(SCHEDULE.length + 2)}) RETURNING *`;
const UPDATE_SCHEDULE = `UPDATE traffic_schedules SET ${SCHEDULE.map((c) => `${c} = ?`).join(', ')},
  last_test_id = ?, updated_at = ? WHERE id = ?`;
const PRUNE_PAIR = `DELETE FROM traffic_tests WHERE source = ? AND target = ? AND protocol = ? AND reverse = ?
  AND state IN ('done', 'failed') AND id NOT IN (
    SELECT id FROM traffic_tests WHERE source = ? AND target = ? AND protocol = ? AND reverse = ?
      AND state IN ('done', 'failed') ORDER BY id DESC LIMIT ?)`;
// The newest finished test and the newest successful one of every pair × protocol × direction.
const LATEST = `SELECT t.* FROM traffic_tests t JOIN (
    SELECT max(id) AS id FROM traffic_tests WHERE state IN ('done', 'failed') GROUP BY source, target, protocol, reverse
    UNION SELECT max(id) FROM traffic_tests WHERE state = 'done' GROUP BY source, target, protocol, reverse
  ) l ON l.id = t.id ORDER BY t.id`;

/** First key of pg_advisory_xact_lock(int, int) for "one running test per target server" ("LNST"). */
const TARGET_LOCK_CLASS = 0x4c4e5354;

/** A stable 32-bit signed hash (FNV-1a) of a target server, the second key of its lock. */
export function targetLockKey(t: TargetServer): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(`${t.target_address}|${t.port}`)) h = Math.imul(h ^ c, 0x01000193);
  return h | 0;
}

/**
 * When a running test is certainly orphaned: `started_at + duration_seconds * perSecondMs + fixedMs`
 * has passed (the process that ran it would have ended it by its own timers long before).
 */
export interface StaleBound {
  perSecondMs: number;
  fixedMs: number;
}

export class TrafficStore {
  constructor(private readonly store: Store) {}

  private get exec() {
    return this.store.exec;
  }

  // ---------------------------------------------------------------- tests
  async insertTest(
    p: TestParams & { target_address: string; schedule_id: number | null; queued_at: number },
  ): Promise<TestRow> {
    const row = await this.exec.get<TestRow>(INSERT_TEST, [
      ...PARAMS.map((c) => p[c]),
      p.target_address,
      p.schedule_id,
      p.queued_at,
    ]);
    return row!;
  }

  test(id: number): Promise<TestRow | undefined> {
    return this.exec.get<TestRow>('SELECT * FROM traffic_tests WHERE id = ?', [id]);
  }

  /** Tests waiting, all targets and all processes together. */
  async queuedCount(): Promise<number> {
    const row = await this.exec.get<{ n: number }>("SELECT count(*) AS n FROM traffic_tests WHERE state = 'queued'");
    return Number(row?.n ?? 0);
  }

  /** Target servers with waiting tests. */
  queuedTargets(): Promise<TargetServer[]> {
    return this.exec.all<TargetServer>(
      "SELECT DISTINCT target_address, port FROM traffic_tests WHERE state = 'queued' ORDER BY target_address, port",
    );
  }

  /**
   * Claims the oldest waiting test of a target server (queued → running), unless a test is
   * running against that server already ('busy'); undefined when none waits. Call inside a
   * write: on PostgreSQL a transaction-level advisory lock per target server serialises the
   * check and the claim across processes (two transactions of READ COMMITTED would otherwise
   * both see "nothing running" and claim two tests), and the UPDATE's `state = 'queued'` keeps
   * a test from being claimed twice. A running test past its stale bound (its process died) is
   * failed first, so a crashed replica does not block the server for ever.
   */
  async claimNext(
    server: TargetServer,
    now: number,
    stale: StaleBound,
    staleError: string,
  ): Promise<TestRow | 'busy' | undefined> {
    if (this.exec.dialect === 'postgres')
      await this.exec.get('SELECT pg_advisory_xact_lock(?::integer, ?::integer)', [
        TARGET_LOCK_CLASS,
        targetLockKey(server),
      ]);
    await this.exec.run(
      `UPDATE traffic_tests SET state = 'failed', finished_at = ?, error = ?
        WHERE target_address = ? AND port = ? AND state = 'running'
          AND started_at + duration_seconds * ? + ? < ?`,
      [now, staleError, server.target_address, server.port, stale.perSecondMs, stale.fixedMs, now],
    );
    const running = await this.exec.get<{ id: number }>(
      "SELECT id FROM traffic_tests WHERE target_address = ? AND port = ? AND state = 'running' LIMIT 1",
      [server.target_address, server.port],
    );
    if (running) return 'busy';
    return this.exec.get<TestRow>(
      `UPDATE traffic_tests SET state = 'running', started_at = ?, progress = 0
        WHERE id = (SELECT id FROM traffic_tests WHERE target_address = ? AND port = ? AND state = 'queued'
          ORDER BY id LIMIT 1) AND state = 'queued'
        RETURNING *`,
      [now, server.target_address, server.port],
    );
  }

  /** Progress of a running test (other processes read it from the row). */
  async saveProgress(id: number, progress: number): Promise<void> {
    await this.exec.run("UPDATE traffic_tests SET progress = ? WHERE id = ? AND state = 'running'", [progress, id]);
  }

  /** Ends a running test; false when it is not running (any more): another process failed it. */
  async finishTest(t: TestRow): Promise<boolean> {
    const changed = await this.exec.run(FINISH_TEST, [
      t.state,
      t.progress,
      t.finished_at,
      t.error,
      ...RESULT.map((c) => t[c]),
      t.id,
    ]);
    return changed > 0;
  }

  /** Fails every queued or running test (SQLite at start-up: the one process that ran them is gone). */
  failUnfinished(now: number, error: string): Promise<number> {
    return this.exec.run(
      "UPDATE traffic_tests SET state = 'failed', finished_at = ?, error = ? WHERE state IN ('queued', 'running')",
      [now, error],
    );
  }

  /** Fails every running test past its stale bound (its process died; see claimNext). */
  failStaleRunning(now: number, stale: StaleBound, error: string): Promise<number> {
    return this.exec.run(
      `UPDATE traffic_tests SET state = 'failed', finished_at = ?, error = ?
        WHERE state = 'running' AND started_at + duration_seconds * ? + ? < ?`,
      [now, error, stale.perSecondMs, stale.fixedMs, now],
    );
  }

  /** Fails one test if it is still waiting; false when someone claimed or ended it first. */
  async failQueued(id: number, now: number, error: string): Promise<boolean> {
    const changed = await this.exec.run(
      "UPDATE traffic_tests SET state = 'failed', finished_at = ?, error = ? WHERE id = ? AND state = 'queued'",
      [now, error, id],
    );
    return changed > 0;
  }

  /** Whether a test of this schedule is queued or running (in any process). */
  async pendingFor(scheduleId: number): Promise<boolean> {
    const row = await this.exec.get<{ id: number }>(
      "SELECT id FROM traffic_tests WHERE schedule_id = ? AND state IN ('queued', 'running') LIMIT 1",
      [scheduleId],
    );
    return row !== undefined;
  }

  async listTests(filter: TestFilter, limit: number, offset: number): Promise<{ count: number; rows: TestRow[] }> {
    const where: string[] = [];
    const args: unknown[] = [];
    for (const key of ['source', 'target', 'state', 'protocol', 'schedule_id'] as const) {
      if (filter[key] !== undefined) {
        where.push(`${key} = ?`);
        args.push(filter[key]);
      }
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = await this.exec.get<{ n: number }>(`SELECT count(*) AS n FROM traffic_tests ${clause}`, args);
    const rows = await this.exec.all<TestRow>(
      `SELECT * FROM traffic_tests ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`,
      [...args, limit, offset],
    );
    return { count: Number(count?.n ?? 0), rows };
  }

  /** Keeps the newest `keep` finished tests of the test's pair, protocol and direction. */
  async prune(t: TestParams, keep: number): Promise<void> {
    const pair = [t.source, t.target, t.protocol, t.reverse];
    await this.exec.run(PRUNE_PAIR, [...pair, ...pair, keep]);
  }

  latestPerSeries(): Promise<TestRow[]> {
    return this.exec.all<TestRow>(LATEST);
  }

  // ---------------------------------------------------------------- schedules
  async insertSchedule(row: Omit<ScheduleRow, 'id' | 'last_test_id'>): Promise<ScheduleRow> {
    const saved = await this.exec.get<ScheduleRow>(INSERT_SCHEDULE, [
      ...SCHEDULE.map((c) => row[c]),
      row.created_at,
      row.updated_at,
    ]);
    return saved!;
  }

  async saveSchedule(row: ScheduleRow): Promise<void> {
    await this.exec.run(UPDATE_SCHEDULE, [...SCHEDULE.map((c) => row[c]), row.last_test_id, row.updated_at, row.id]);
  }

  schedule(id: number): Promise<ScheduleRow | undefined> {
    return this.exec.get<ScheduleRow>('SELECT * FROM traffic_schedules WHERE id = ?', [id]);
  }

  /** The schedule, locked until the write ends on PostgreSQL (read-modify-write of a PATCH). */
  scheduleForUpdate(id: number): Promise<ScheduleRow | undefined> {
    return this.exec.get<ScheduleRow>(
      this.exec.dialect === 'postgres'
        ? 'SELECT * FROM traffic_schedules WHERE id = ? FOR UPDATE'
        : 'SELECT * FROM traffic_schedules WHERE id = ?',
      [id],
    );
  }

  schedules(): Promise<ScheduleRow[]> {
    return this.exec.all<ScheduleRow>('SELECT * FROM traffic_schedules ORDER BY id');
  }

  async deleteSchedule(id: number): Promise<boolean> {
    return (await this.exec.run('DELETE FROM traffic_schedules WHERE id = ?', [id])) > 0;
  }

  dueSchedules(now: number): Promise<ScheduleRow[]> {
    return this.exec.all<ScheduleRow>(
      'SELECT * FROM traffic_schedules WHERE enabled = 1 AND next_run_at <= ? ORDER BY next_run_at',
      [now],
    );
  }

  /**
   * Takes a due run of a schedule: moves next_run_at from the value the caller saw to `next`.
   * False when another process took it first (or the schedule changed or went), so one run is
   * queued once however many schedulers saw it due.
   */
  async claimScheduleRun(id: number, seenNextRunAt: number, next: number): Promise<boolean> {
    const changed = await this.exec.run(
      'UPDATE traffic_schedules SET next_run_at = ? WHERE id = ? AND enabled = 1 AND next_run_at = ?',
      [next, id, seenNextRunAt],
    );
    return changed > 0;
  }

  async setScheduleLastTest(id: number, testId: number): Promise<void> {
    await this.exec.run('UPDATE traffic_schedules SET last_test_id = ? WHERE id = ?', [testId, id]);
  }

  // ---------------------------------------------------------------- host keys
  hostKey(address: string, port: number): Promise<HostKeyRow | undefined> {
    return this.exec.get<HostKeyRow>('SELECT * FROM traffic_host_keys WHERE address = ? AND port = ?', [address, port]);
  }

  /**
   * Stores a first-use key unless one is stored for the endpoint already, and returns the stored
   * fingerprint: the first key wins, whichever process offered it (ON CONFLICT DO NOTHING, then a
   * read of the winner). Call inside a write.
   */
  async trustHostKey(
    address: string,
    port: number,
    keyType: string,
    fingerprint: string,
    now: number,
  ): Promise<string> {
    await this.exec.run(
      `INSERT INTO traffic_host_keys (address, port, key_type, fingerprint, first_seen_at)
        VALUES (?, ?, ?, ?, ?) ON CONFLICT (address, port) DO NOTHING`,
      [address, port, keyType, fingerprint, now],
    );
    return (await this.hostKey(address, port))!.fingerprint;
  }
}
