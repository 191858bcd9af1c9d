// Which replica runs the periodic work (#14: scheduled sweeps, traffic schedules, Docker and
// Proxmox inventories, retention run exactly once across the replicas sharing a database).
//
// SQLite: one process owns the file (ownership.ts), so it always leads. PostgreSQL: the leader is
// the replica holding a session-level advisory lock, taken with pg_try_advisory_lock on a
// connection of its own (a session lock lives and dies with its connection, so it must not be a
// pooled one). Every `everyMs` a follower tries to take it and the leader checks its connection
// (a statement with a deadline): a leader whose connection fails or stalls steps down at once —
// before PostgreSQL can have handed the lock to another replica, as long as that replica's
// retry period is not shorter than our deadline. When a leader dies (kill -9, a crash), the
// kernel closes its socket, the server ends its session and releases the lock, and a follower
// takes it at its next try; for a host that vanishes without closing its sockets, TCP keepalive
// on this connection bounds how long its session (and the lock) can linger.
import pg from 'pg';
import { startTimerLoop, type TimerLoop } from '../timer-loop.js';

/** "LNSC" + "LEAD": the advisory lock every replica of one database competes for. */
export const LEADER_LOCK_KEY = 0x4c4e53434c454144n;

export interface Leadership {
  /** Whether this process runs the periodic work now. */
  readonly isLeader: boolean;
  /** Called with true when this process becomes the leader, false when it steps down. */
  onChange(listener: (leader: boolean) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The only process on its store (SQLite): always the leader. */
export class SoleLeader implements Leadership {
  readonly isLeader = true;
  onChange(): void {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export interface AdvisoryLeaderOptions {
  /** How often a follower tries to take the lock and the leader checks it still holds it. */
  readonly everyMs?: number;
  /** A check that takes longer than this steps the leader down. */
  readonly checkTimeoutMs?: number;
  readonly key?: bigint;
  /** Told of each failed check (for the log). */
  readonly onError?: (error: unknown) => void;
}

export class AdvisoryLeader implements Leadership {
  private client: pg.Client | undefined;
  private leader = false;
  private readonly listeners: ((leader: boolean) => void)[] = [];
  private loop: TimerLoop | undefined;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly options: AdvisoryLeaderOptions = {},
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  onChange(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.tick();
    this.loop = startTimerLoop(() => this.tick(), this.options.everyMs ?? 2_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.loop?.stop();
    this.set(false);
    // Closing the session releases the lock at once (no wait for a follower's timeout).
    await this.drop();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const client = await this.connection();
      const held = await this.withDeadline(
        client.query<{ held: boolean }>(
          this.leader ? 'SELECT true AS held' : 'SELECT pg_try_advisory_lock($1::bigint) AS held',
          this.leader ? [] : [(this.options.key ?? LEADER_LOCK_KEY).toString()],
        ),
      );
      if (this.stopped) return;
      this.set(held.rows[0]?.held === true);
    } catch (e) {
      // A failed or stalled check: step down first, then start over on a new connection.
      this.set(false);
      this.options.onError?.(e);
      await this.drop();
    }
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
      connectionTimeoutMillis: this.options.checkTimeoutMs ?? 1_500,
      application_name: 'lanscape-leader',
    });
    // An error between ticks (the server went away): the next tick steps down and reconnects.
    client.on('error', () => {
      if (this.client === client) this.client = undefined;
      this.set(false);
    });
    await client.connect();
    this.client = client;
    return client;
  }

  private withDeadline<T>(p: Promise<T>): Promise<T> {
    const ms = this.options.checkTimeoutMs ?? 1_500;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`leader check took more than ${ms} ms`)), ms);
      timer.unref();
    });
    return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // end() waits for the server's goodbye; a dead server never sends it.
    await this.withDeadline(client.end()).catch(() => {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    });
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    for (const l of this.listeners) l(leader);
  }
}
