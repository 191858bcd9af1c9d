// Scheduled traffic tests: every second, queue the test of each enabled schedule whose time
// has come (unless its previous test is still waiting or running). A bounded timer loop that
// stops with the exporter.
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

  start(tickMs = 1000): void {
    this.loop = startTimerLoop(() => {
      try {
        this.tick();
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
  tick(): number[] {
    const handled: number[] = [];
    for (const s of this.traffic.store.dueSchedules(this.now())) {
      // One test per schedule at a time: a slow or busy target must not pile up a backlog.
      if (this.traffic.pendingFor(s.id)) continue;
      const out = this.traffic.runSchedule(s);
      if (out instanceof Error)
        this.logger.warn({ schedule: s.id }, `scheduled traffic test not queued: ${out.message}`);
      handled.push(s.id);
    }
    return handled;
  }
}
