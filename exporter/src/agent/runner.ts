// The agent's loop (#15): pull the assignments every report interval (its heartbeat, with what
// it says of itself), sweep each subnet when due, put every result batch in the disk queue
// first, then send the queue to central oldest first. A batch leaves the queue when central
// has it (200: applied, or a duplicate of one it applied) or refused it for good (400, 403, 404,
// 409, 413, 422: logged and counted); anything else (unreachable, TLS refused, 401, 429, 5xx)
// stops the sending until the next tick, so batches are never reordered or skipped.
import type { Logger } from 'pino';
import type { Assignments, BatchOutcome } from '../agents/schemas.js';
import type { DiscoveryDeps } from '../discovery/context.js';
import { REPORT_INTERVAL, effectiveReportInterval } from '../shared/agents.js';
import { type TimerLoop, startTimerLoop } from '../timer-loop.js';
import { CentralError, type CentralClient } from './client.js';
import type { DiskQueue } from './queue.js';
import { type SiteMemory, type SweptBatch, sweepSubnet } from './sweep.js';

/** Answers after which a batch can never be applied: it leaves the queue (counted as rejected). */
const FINAL_REFUSALS = new Set([400, 403, 404, 409, 413, 422]);
/** Spread of the sweep schedule (±), as central's scan.jitter_ratio default. */
const JITTER = 0.1;

export interface AgentRunnerOptions {
  client: CentralClient;
  queue: DiskQueue;
  adapters: DiscoveryDeps;
  now: () => number;
  logger: Logger;
  version: string;
  /** How often the loop looks for work (ms). */
  tickMs?: number;
  /** The agent's own report interval (s): used when shorter than central's (shared/agents.ts). */
  reportIntervalSeconds?: number | undefined;
}

export class AgentRunner {
  assignments: Assignments | undefined;
  /** Whether the last exchange with central succeeded. */
  centralUp = false;
  /** When central last took a batch (ms), or null. */
  lastSuccessAt: number | null = null;
  sweeps = { ok: 0, failed: 0 };
  rejected = 0;
  /** The URL of this agent's /metrics, told to central (for its http_sd). */
  metricsUrl: string | undefined;
  private lastPull = -Infinity;
  private readonly due = new Map<number, number>();
  private readonly memory: SiteMemory = { portsCheckedAt: new Map(), nmapAt: new Map() };
  private loop: TimerLoop | undefined;
  private flushing: Promise<void> | undefined;
  private busy: Promise<void> = Promise.resolve();

  constructor(private readonly o: AgentRunnerOptions) {}

  start(): void {
    this.loop ??= startTimerLoop(() => this.tick(), this.o.tickMs ?? 1000, { runNow: true });
  }

  async stop(): Promise<void> {
    this.loop?.stop();
    this.loop = undefined;
    await this.busy;
    await this.flushing;
    this.o.client.close();
  }

  /**
   * Seconds between two assignments requests: central's interval for this agent, or the agent's
   * own when shorter; before central answered, the agent's own or the default.
   */
  get reportIntervalSeconds(): number {
    const own = this.o.reportIntervalSeconds;
    const central = this.assignments?.report_interval_seconds;
    return central === undefined ? (own ?? REPORT_INTERVAL.default) : effectiveReportInterval(central, own);
  }

  /** One turn: assignments when their interval passed, due sweeps, then the queue. */
  async tick(): Promise<void> {
    if (this.o.now() - this.lastPull >= this.reportIntervalSeconds * 1000) await this.pull();
    for (const s of this.assignments?.subnets ?? []) {
      if (s.interval_seconds === null) continue;
      const at = this.due.get(s.id) ?? this.o.now() + Math.random() * Math.min(s.interval_seconds * 1000, 5000);
      this.due.set(s.id, at);
      if (this.o.now() < at) continue;
      await this.sweep(s.id);
      this.due.set(s.id, this.o.now() + s.interval_seconds * 1000 * (1 + JITTER * (2 * Math.random() - 1)));
    }
    await this.flush();
  }

  /** Reads the assignments (the agent's heartbeat). False when central could not be asked. */
  async pull(): Promise<boolean> {
    const q = new URLSearchParams({
      queue_depth: String(this.o.queue.depth),
      dropped_total: String(this.o.queue.dropped),
      agent_version: this.o.version,
      ...(this.metricsUrl ? { metrics_url: this.metricsUrl } : {}),
    });
    try {
      const r = await this.o.client.call<Assignments>('GET', `/api/v1/agent/assignments?${q.toString()}`);
      if (r.status !== 200) {
        this.centralUp = false;
        this.o.logger.error(
          { status: r.status, answer: r.body },
          `central refused the assignments request (${r.status})`,
        );
        return false;
      }
      this.lastPull = this.o.now();
      this.centralUp = true;
      const before = this.assignments?.report_interval_seconds;
      this.assignments = r.body;
      const own = this.o.reportIntervalSeconds;
      if (own !== undefined && own > r.body.report_interval_seconds && before !== r.body.report_interval_seconds)
        this.o.logger.warn(
          { own, central: r.body.report_interval_seconds },
          'the agent’s report interval is longer than central’s for it: reporting at central’s (central would call the agent down between reports); lengthen it on central (agents.report_intervals)',
        );
      const ids = new Set(r.body.subnets.map((s) => s.id));
      for (const id of this.due.keys()) if (!ids.has(id)) this.due.delete(id);
      return true;
    } catch (e) {
      this.unreachable(e);
      return false;
    }
  }

  /** Sweeps one assigned subnet now and queues its batch (the batch, or undefined if not assigned). */
  async sweep(subnetId: number): Promise<SweptBatch | undefined> {
    const subnet = this.assignments?.subnets.find((s) => s.id === subnetId);
    if (!subnet || !this.assignments) return undefined;
    const settings = this.assignments.scan;
    const run = this.busy.then(() => sweepSubnet(subnet, settings, this.o.adapters, this.memory, this.o.now));
    this.busy = run.then(
      () => undefined,
      () => undefined,
    );
    const batch = await run;
    if (batch.error) this.sweeps.failed += 1;
    else this.sweeps.ok += 1;
    const dropped = this.o.queue.push(batch.batch_id, batch);
    this.o.logger.info(
      {
        subnet: subnet.cidr,
        batch: batch.batch_id,
        alive: batch.observations.length,
        error: batch.error,
        queued: this.o.queue.depth,
      },
      'sweep queued for central',
    );
    if (dropped.length > 0)
      this.o.logger.warn(
        { dropped: dropped.map((d) => d.batchId), dropped_total: this.o.queue.dropped },
        'the result queue is full: dropped the oldest batches (LANSCAPE_AGENT_QUEUE_MAX)',
      );
    return batch;
  }

  /** Sends the queue, oldest first, until it is empty or central cannot take the next batch. */
  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async send(): Promise<void> {
    for (let next = this.o.queue.peek(); next; next = this.o.queue.peek()) {
      const body = {
        ...(next.body as SweptBatch),
        queue_depth: this.o.queue.depth - 1,
        dropped_total: this.o.queue.dropped,
        agent_version: this.o.version,
        ...(this.metricsUrl ? { metrics_url: this.metricsUrl } : {}),
      };
      let r;
      try {
        r = await this.o.client.call<BatchOutcome>('POST', '/api/v1/agent/results', body);
      } catch (e) {
        this.unreachable(e);
        return;
      }
      if (r.status === 200) {
        this.centralUp = true;
        this.lastSuccessAt = this.o.now();
        this.o.queue.remove(next.entry);
        continue;
      }
      if (FINAL_REFUSALS.has(r.status)) {
        this.rejected += 1;
        this.o.logger.warn(
          { batch: next.entry.batchId, status: r.status, answer: r.body },
          'central refused a result batch for good; dropped from the queue',
        );
        this.o.queue.remove(next.entry);
        continue;
      }
      this.centralUp = r.status !== 401;
      this.o.logger.error(
        { status: r.status, answer: r.body },
        `central did not take a result batch (${r.status}); kept in the queue`,
      );
      return;
    }
  }

  private unreachable(e: unknown): void {
    this.centralUp = false;
    if (!(e instanceof CentralError)) throw e;
    if (e.kind === 'tls') this.o.logger.error(e.message);
    else this.o.logger.warn({ queued: this.o.queue.depth }, e.message);
  }
}
