// Scheduled traffic tests: every second, queue the test of each enabled schedule whose time
// has come (unless its previous test is still waiting or running). A bounded timer loop that
// stops with the exporter. A due run is claimed in the store (TrafficService.runSchedule), so
// two schedulers on one PostgreSQL database never queue one run twice; which exporter runs the
// schedulers (the leader) is decided elsewhere.
import { type Clock, systemClock } from '../clock.js';
import type { Logger } from 'pino';
import { type TimerLoop, startTimerLoop } from '../timer-loop.js';
import type { TrafficService } from './service.js';

export class TrafficScheduler {
  private loop: TimerLoop | undefined;

  constructor(
    private readonly traffic: TrafficService,
    private readonly logger: Logger,
    private readonly now: Clock = systemClock,
  ) {}

  /** Starts the loop; a no-op while it runs (the leader resumes it after a pause). */
  start(tickMs = 1000): void {
    if (this.loop) return;
    this.loop = startTimerLoop(async () => {
      try {
        await this.tick();
      } catch (e) {
        this.logger.error({ err: e }, 'traffic schedule tick failed');
      }
    }, tickMs);
  }

  stop(): void {
    this.loop?.stop();
    this.loop = undefined;
  }

  /** Queues the due schedules' tests; returns the ids of the schedules handled. */
  async tick(): Promise<number[]> {
    const handled: number[] = [];
    for (const s of await this.traffic.store.dueSchedules(this.now())) {
      // One test per schedule at a time: a slow or busy target must not pile up a backlog.
      if (await this.traffic.pendingFor(s.id)) continue;
      const out = await this.traffic.runSchedule(s);
      if (out === null) continue;
      if (out instanceof Error)
        this.logger.warn({ schedule: s.id }, `scheduled traffic test not queued: ${out.message}`);
      handled.push(s.id);
    }
    return handled;
  }
}
