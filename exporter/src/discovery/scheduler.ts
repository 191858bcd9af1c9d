// Scheduled sweeps: every subnet with scanning on is swept every interval (its own, or the
// default), jittered so subnets added together do not sweep in lockstep. A bounded timer loop
// that stops with the exporter.
import { type Clock, systemClock } from '../clock.js';
import type { IpamService } from '../ipam/service.js';
import { type TimerLoop, startTimerLoop } from '../timer-loop.js';
import type { DiscoveryService } from './service.js';

export class ScanScheduler {
  private loop: TimerLoop | undefined;
  private readonly due = new Map<number, number>();

  constructor(private readonly ipam: IpamService, private readonly discovery: DiscoveryService,
    private readonly defaults: { jitter_ratio: number }, private readonly now: Clock = systemClock) {}

  start(tickMs = 1000): void {
    this.loop = startTimerLoop(() => { this.tick(); }, tickMs);
  }

  stop(): void {
    this.loop?.stop();
    this.loop = undefined;
  }

  /** Queues the subnets whose time has come; returns their ids. */
  tick(): number[] {
    const now = this.now();
    const started: number[] = [];
    const seen = new Set<number>();
    for (const subnet of this.ipam.store.allSubnets()) {
      seen.add(subnet.id);
      const seconds = this.discovery.scheduledInterval(subnet);
      if (seconds === null) continue;
      const interval = seconds * 1000;
      let due = this.due.get(subnet.id);
      if (due === undefined) {
        // First sight: continue from the last sweep, or start soon, spread over a few seconds.
        const last = this.discovery.lastDoneScan(subnet.id)?.started_at;
        due = last ? last + this.jittered(interval) : now + Math.random() * Math.min(interval, 5000);
        this.due.set(subnet.id, due);
      }
      if (now < due || this.discovery.busy(subnet.id)) continue;
      this.discovery.startScan(subnet.id, 'schedule');
      this.due.set(subnet.id, now + this.jittered(interval));
      started.push(subnet.id);
    }
    for (const id of this.due.keys()) if (!seen.has(id)) this.due.delete(id);
    return started;
  }

  private jittered(interval: number): number {
    return interval * (1 + this.defaults.jitter_ratio * (2 * Math.random() - 1));
  }
}
