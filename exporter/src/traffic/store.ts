// SQL of the traffic tables: tests (queue state and history), schedules, TOFU host keys.
// Times are Unix milliseconds; booleans are 0/1.
import type { Db } from '../store/db.js';

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

export class TrafficStore {
  private readonly s;

  constructor(readonly db: Db) {
    this.s = {
      insertTest:
        db.prepare(`INSERT INTO traffic_tests (${PARAMS.join(', ')}, target_address, schedule_id, state, queued_at)
        VALUES (${PARAMS.map((c) => `@${c}`).join(', ')}, @target_address, @schedule_id, 'queued', @queued_at)`),
      test: db.prepare('SELECT * FROM traffic_tests WHERE id = ?'),
      saveState: db.prepare(`UPDATE traffic_tests SET state = @state, progress = @progress, started_at = @started_at,
        finished_at = @finished_at, error = @error, ${RESULT.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`),
      unfinished: db.prepare(`SELECT * FROM traffic_tests WHERE state IN ('queued', 'running') ORDER BY id`),
      prunePair:
        db.prepare(`DELETE FROM traffic_tests WHERE source = @source AND target = @target AND protocol = @protocol
        AND reverse = @reverse AND state IN ('done', 'failed') AND id NOT IN (
          SELECT id FROM traffic_tests WHERE source = @source AND target = @target AND protocol = @protocol AND reverse = @reverse
            AND state IN ('done', 'failed') ORDER BY id DESC LIMIT @keep)`),
      // The newest finished test and the newest successful one of every pair × protocol × direction.
      latest: db.prepare(`SELECT t.* FROM traffic_tests t JOIN (
          SELECT max(id) AS id FROM traffic_tests WHERE state IN ('done', 'failed') GROUP BY source, target, protocol, reverse
          UNION SELECT max(id) FROM traffic_tests WHERE state = 'done' GROUP BY source, target, protocol, reverse
        ) l ON l.id = t.id ORDER BY t.id`),
      insertSchedule: db.prepare(`INSERT INTO traffic_schedules (${SCHEDULE.join(', ')}, created_at, updated_at)
        VALUES (${SCHEDULE.map((c) => `@${c}`).join(', ')}, @created_at, @updated_at)`),
      updateSchedule: db.prepare(`UPDATE traffic_schedules SET ${SCHEDULE.map((c) => `${c} = @${c}`).join(', ')},
        last_test_id = @last_test_id, updated_at = @updated_at WHERE id = @id`),
      schedule: db.prepare('SELECT * FROM traffic_schedules WHERE id = ?'),
      schedules: db.prepare('SELECT * FROM traffic_schedules ORDER BY id'),
      deleteSchedule: db.prepare('DELETE FROM traffic_schedules WHERE id = ?'),
      dueSchedules: db.prepare(
        'SELECT * FROM traffic_schedules WHERE enabled = 1 AND next_run_at <= ? ORDER BY next_run_at',
      ),
      hostKey: db.prepare('SELECT * FROM traffic_host_keys WHERE address = ? AND port = ?'),
      insertHostKey: db.prepare(`INSERT INTO traffic_host_keys (address, port, key_type, fingerprint, first_seen_at)
        VALUES (?, ?, ?, ?, ?) ON CONFLICT (address, port) DO NOTHING`),
    };
  }

  insertTest(p: TestParams & { target_address: string; schedule_id: number | null; queued_at: number }): TestRow {
    const id = Number(this.s.insertTest.run(p).lastInsertRowid);
    return this.test(id)!;
  }

  test(id: number) {
    return this.s.test.get(id) as TestRow | undefined;
  }

  saveTest(t: TestRow): void {
    this.s.saveState.run(t);
  }

  unfinishedTests() {
    return this.s.unfinished.all() as TestRow[];
  }

  listTests(filter: TestFilter, limit: number, offset: number): { count: number; rows: TestRow[] } {
    const where: string[] = [];
    const args: unknown[] = [];
    for (const key of ['source', 'target', 'state', 'protocol', 'schedule_id'] as const) {
      if (filter[key] !== undefined) {
        where.push(`${key} = ?`);
        args.push(filter[key]);
      }
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = (this.db.prepare(`SELECT count(*) AS n FROM traffic_tests ${clause}`).get(...args) as { n: number })
      .n;
    const rows = this.db
      .prepare(`SELECT * FROM traffic_tests ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as TestRow[];
    return { count, rows };
  }

  /** Keeps the newest `keep` finished tests of the test's pair, protocol and direction. */
  prune(t: TestParams, keep: number): void {
    this.s.prunePair.run({ source: t.source, target: t.target, protocol: t.protocol, reverse: t.reverse, keep });
  }

  latestPerSeries() {
    return this.s.latest.all() as TestRow[];
  }

  insertSchedule(row: Omit<ScheduleRow, 'id' | 'last_test_id'>): ScheduleRow {
    const id = Number(this.s.insertSchedule.run(row).lastInsertRowid);
    return this.schedule(id)!;
  }
  saveSchedule(row: ScheduleRow): void {
    this.s.updateSchedule.run(row);
  }
  schedule(id: number) {
    return this.s.schedule.get(id) as ScheduleRow | undefined;
  }
  schedules() {
    return this.s.schedules.all() as ScheduleRow[];
  }
  deleteSchedule(id: number): boolean {
    return this.s.deleteSchedule.run(id).changes > 0;
  }
  dueSchedules(now: number) {
    return this.s.dueSchedules.all(now) as ScheduleRow[];
  }

  hostKey(address: string, port: number) {
    return this.s.hostKey.get(address, port) as
      { address: string; port: number; key_type: string; fingerprint: string; first_seen_at: number } | undefined;
  }
  /** Stores a first-use key; a key already stored for the endpoint stays (first one wins). */
  trustHostKey(address: string, port: number, keyType: string, fingerprint: string, now: number): void {
    this.s.insertHostKey.run(address, port, keyType, fingerprint, now);
  }
}
