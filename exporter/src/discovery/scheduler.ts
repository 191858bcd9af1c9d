// Scheduled sweeps: every subnet with scanning on is swept every interval (its own, or the
// default), jittered so subnets added together do not sweep in lockstep. A bounded timer loop
// that stops with the exporter. At most scan.max_queued scheduled sweeps wait at once; a due
// subnet that finds no room stays due and goes first when room frees up.
import { type Clock, systemClock } from '../clock.js';
import type { IpamService } from '../ipam/service.js';
import { type TimerLoop, startTimerLoop } from '../timer-loop.js';
import type { DiscoveryService } from './service.js';

/** How often the scheduler fails the scans of replicas that died (DiscoveryService.failAbandonedScans). */
const ABANDONED_CHECK_MS = 10_000;

export class ScanScheduler {
  private loop: TimerLoop | undefined;
  private readonly due = new Map<number, number>();

  constructor(
    private readonly ipam: IpamService,
    private readonly discovery: DiscoveryService,
    private readonly defaults: { jitter_ratio: number },
    private readonly now: Clock = systemClock,
    /** A tick that failed (the store unreachable, …): the loop goes on. */
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  private tickMs = 1000;
  private started = false;
  private paused = false;
  /** When the last check for abandoned scans ran (clock ms). */
  private checkedAbandonedAt = -Infinity;

  start(tickMs = 1000): void {
    this.tickMs = tickMs;
    this.started = true;
    this.run();
  }

  /**
   * Stops the periodic work while this replica is not the leader (store/leadership.ts); resume()
   * starts it again. Both are idempotent and may alternate any number of times; the due times
   * are forgotten on pause (a new leader plans from the last sweeps in the store).
   */
  pause(): void {
    this.paused = true;
    this.loop?.stop();
    this.loop = undefined;
    this.due.clear();
  }

  resume(): void {
    this.paused = false;
    this.checkedAbandonedAt = -Infinity; // a new leader looks for what a dead one left at once
    this.run();
  }

  stop(): void {
    this.started = false;
    this.loop?.stop();
    this.loop = undefined;
  }

  private run(): void {
    if (!this.started || this.paused || this.loop) return;
    const loop = startTimerLoop(async () => {
      try {
        await this.tick();
      } catch (e) {
        this.onError(e);
      }
      // A pause during the tick: this loop ends (a resume starts another).
      if (this.loop !== loop) loop.stop();
    }, this.tickMs);
    this.loop = loop;
  }

  /**
   * Queues the subnets whose time has come, most overdue first, as many as the schedule lane of
   * the scan queue has room for (scan.max_queued); the others stay due for the next tick.
   * Returns their ids.
   */
  async tick(): Promise<number[]> {
    const now = this.now();
    if (now - this.checkedAbandonedAt >= ABANDONED_CHECK_MS) {
      this.checkedAbandonedAt = now;
      await this.discovery.failAbandonedScans();
    }
    const due: { id: number; at: number; interval: number }[] = [];
    const seen = new Set<number>();
    for (const subnet of await this.ipam.allSubnets()) {
      seen.add(subnet.id);
      // An agent sweeps its subnets itself (#15): this exporter never does.
      const seconds = subnet.agent_id === null ? this.discovery.scheduledInterval(subnet) : null;
      if (seconds === null) continue;
      const interval = seconds * 1000;
      let at = this.due.get(subnet.id);
      if (at === undefined) {
        // First sight: continue from the last sweep, or start soon, spread over a few seconds.
        const last = (await this.discovery.lastDoneScan(subnet.id))?.started_at;
        at = last ? last + this.jittered(interval) : now + Math.random() * Math.min(interval, 5000);
        this.due.set(subnet.id, at);
      }
      if (now < at || this.discovery.busy(subnet.id)) continue;
      due.push({ id: subnet.id, at, interval });
    }
    for (const id of this.due.keys()) if (!seen.has(id)) this.due.delete(id);
    due.sort((a, b) => a.at - b.at || a.id - b.id);
    const started: number[] = [];
    for (const d of due.slice(0, this.discovery.scheduleRoom())) {
      if (this.paused) break;
      await this.discovery.startScan(d.id, 'schedule');
      this.due.set(d.id, now + this.jittered(d.interval));
      started.push(d.id);
    }
    return started;
  }

  private jittered(interval: number): number {
    return interval * (1 + this.defaults.jitter_ratio * (2 * Math.random() - 1));
  }
}
