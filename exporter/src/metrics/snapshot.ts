// Families whose every value is recomputed at scrape time. prom-client's registry reads any
// registered object through get() -> {name, help, type, values}; building that list directly
// skips Gauge.set's per-series label hashing, which cost a third of a 1,000-subnet scrape.
// The exporter's registry (metrics/self.ts) formats these families itself, in slices.
import type { Registry } from 'prom-client';
import { nextTurn } from '../turns.js';

export type Labels = Record<string, string>;

/** One exposition line: `metricName` (default: the family name) with labels and value. */
export interface SnapshotValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

export interface SnapshotFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  aggregator: 'sum';
  values: readonly SnapshotValue[];
}

/**
 * Whose figures a family shows. `store`: state read from the shared store (IPAM, hosts, last
 * sweeps) or kept by the replica that leads (Docker, Proxmox inventories) — with several
 * replicas only the leader exposes it, so sum() over all replicas counts it once. `process`:
 * this process's own work (sweeps it ran, collectors it reaches) — every replica exposes its own.
 */
export type MetricScope = 'store' | 'process';

export class SnapshotGauge {
  readonly aggregator = 'sum';
  /** What the last finished refresh set; readers only ever see a complete refresh. */
  private values: SnapshotValue[] = [];
  /** What the refresh under way is setting. */
  private next: SnapshotValue[] = [];

  /**
   * `counter` for totals (Docker's restart count, sweeps run): promtool wants _total on counters
   * only; `histogram` for families written with sample() (`_bucket`, `_sum`, `_count` lines).
   */
  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
    readonly type: 'gauge' | 'counter' | 'histogram' = 'gauge',
    readonly scope: MetricScope = 'store',
  ) {
    registry.registerMetric(this as never);
  }

  set(labels: Labels, value: number): void {
    this.pending().push({ labels, value });
  }

  /** One line of a histogram family: `suffix` is `_bucket` (labels with `le`), `_sum` or `_count`. */
  sample(suffix: '_bucket' | '_sum' | '_count', labels: Labels, value: number): void {
    this.pending().push({ metricName: this.name + suffix, labels, value });
  }

  /** Starts a refresh: what set() adds from now on replaces the current values at commit(). */
  begin(): void {
    this.next = [];
  }

  /**
   * This refresh keeps the current values (nothing they show changed). The same list object is
   * committed again, so the exposition reuses its text of them (metrics/self.ts).
   */
  keep(): void {
    this.next = this.values;
  }

  /** The list set() adds to (a kept list is copied first: a committed list never changes). */
  private pending(): SnapshotValue[] {
    if (this.next === this.values) this.next = [...this.values];
    return this.next;
  }

  commit(): void {
    this.values = this.next;
    this.next = [];
  }

  /** prom-client's Registry.resetMetrics() contract. */
  reset(): void {
    this.values = [];
    this.next = [];
  }

  read(): SnapshotFamily {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values };
  }

  get(): SnapshotFamily | Promise<SnapshotFamily> {
    return this.read();
  }
}

/**
 * A set of snapshot gauges filled by one refresh per scrape. The exporter's registry reads
 * metrics in registration order, one after another; the first member's get() runs the refresh
 * (which may be async and yield to other work), then every member publishes what it set, so a
 * series the refresh does not set again is gone. Readers that call every get() at once (plain
 * prom-client) wait for the same refresh; a second scrape while one runs shares it.
 */
export function snapshotGroup(registry: Registry, refresh: () => void | Promise<void>) {
  const group: SnapshotGauge[] = [];
  let pending: Promise<void> | undefined;
  const run = async () => {
    for (const member of group) member.begin();
    await refresh();
    for (const member of group) member.commit();
  };
  return (
    name: string,
    help: string,
    type: 'gauge' | 'counter' | 'histogram' = 'gauge',
    scope: MetricScope = 'store',
  ): SnapshotGauge => {
    const g = new SnapshotGauge(name, help, registry, type, scope);
    if (group.length === 0) {
      g.get = () => {
        pending ??= run().finally(() => {
          pending = undefined;
        });
        return pending.then(() => g.read());
      };
    } else {
      g.get = () => (pending ? pending.then(() => g.read()) : g.read());
    }
    group.push(g);
    return g;
  };
}

/** When the event loop last had a turn during a scrape: shared, so nested work slices as one. */
let sliceStart = performance.now();

/**
 * Cuts long synchronous work into slices: `due()` says when the current slice (shared by every
 * Slicer, so a refresh inside the exposition does not count twice) has run for `sliceMs`,
 * `pause()` lets the event loop serve I/O (a scrape's turn, ahead of other long work) and starts a new slice.
 */
export class Slicer {
  constructor(readonly sliceMs = 10) {}

  /** Starts a slice now (the exposition calls it when a scrape begins). */
  static begin(): void {
    sliceStart = performance.now();
  }

  due(): boolean {
    return performance.now() - sliceStart >= this.sliceMs;
  }

  async pause(): Promise<void> {
    await nextTurn('scrape');
    sliceStart = performance.now();
  }

  /** pause() when the slice is used up; otherwise nothing. */
  async maybePause(): Promise<void> {
    if (this.due()) await this.pause();
  }
}
