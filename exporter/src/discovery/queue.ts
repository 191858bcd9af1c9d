// The scan queue: two lanes (manual, schedule) feeding one sweep at a time. Each lane holds at
// most `scan.max_queued` waiting scans (the façade checks before adding); while both hold scans
// the queue alternates between them, so neither kind of sweep starves the other. A subnet has at
// most one scan queued or running, found in O(1) by subnet id.
import type { Logger } from 'pino';
import type { ScanRow } from './store.js';

/** The triggers of sweeps this exporter runs (an agent's sweeps are applied, never queued). */
export type Trigger = Exclude<ScanRow['trigger'], 'agent'>;

export class ScanQueue {
  private readonly lanes: Record<Trigger, ScanRow[]> = { manual: [], schedule: [] };
  private lastLane: Trigger = 'schedule';
  /** The queued or running scan of each subnet. */
  private readonly pending = new Map<number, ScanRow>();
  private current: ScanRow | undefined;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  /** @param run sweeps one scan (never throws on its own failures: it records them) */
  constructor(
    private readonly run: (scan: ScanRow) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** The scan of a subnet that is queued or running. */
  of(subnetId: number): ScanRow | undefined {
    return this.pending.get(subnetId);
  }

  /** A queued or running scan by id. */
  live(id: number): ScanRow | undefined {
    let found: ScanRow | undefined;
    for (const s of this.pending.values()) if (s.id === id) found = s;
    return found;
  }

  /** The scan being swept now. */
  get running(): ScanRow | undefined {
    return this.current;
  }

  get stopping(): boolean {
    return this.stopped;
  }

  /** Scans waiting in a lane (the running one not counted). */
  waiting(trigger: Trigger): number {
    return this.lanes[trigger].length;
  }

  add(trigger: Trigger, scan: ScanRow): void {
    this.lanes[trigger].push(scan);
    this.pending.set(scan.subnet_id, scan);
    this.pump();
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.current || this.pending.size > 0) await this.idle;
  }

  /** Drops what waits and resolves, with the scans dropped, when the running sweep has ended. */
  async stop(): Promise<ScanRow[]> {
    this.stopped = true;
    const dropped: ScanRow[] = [];
    for (const lane of Object.values(this.lanes)) {
      for (const s of lane) this.pending.delete(s.subnet_id);
      dropped.push(...lane.splice(0));
    }
    await this.idle;
    return dropped;
  }

  private pump(): void {
    if (this.current || this.stopped) return;
    // Alternate between the lanes while both hold scans.
    const other = this.lastLane === 'manual' ? 'schedule' : 'manual';
    const lane = this.lanes[other].length > 0 ? other : this.lastLane;
    const next = this.lanes[lane].shift();
    if (!next) return;
    this.lastLane = lane;
    this.current = next;
    this.idle = this.run(next)
      .catch((e: unknown) => {
        this.logger.error({ err: e, scan: next.id }, 'scan failed unexpectedly');
      })
      .finally(() => {
        this.current = undefined;
        if (this.pending.get(next.subnet_id) === next) this.pending.delete(next.subnet_id);
        this.pump();
      });
  }
}
