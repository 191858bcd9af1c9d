// Gauges whose every value is recomputed at scrape time. prom-client's registry reads any
// registered object through get() -> {name, help, type, values}; building that list directly
// skips Gauge.set's per-series label hashing, which cost a third of a 1,000-subnet scrape.
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

export class SnapshotGauge {
  readonly aggregator = 'sum';
  private values: { labels: Labels; value: number }[] = [];

  /** `counter` for totals another system counts (e.g. Docker's restart count): promtool wants _total on counters only. */
  constructor(readonly name: string, readonly help: string, registry: Registry, readonly type: 'gauge' | 'counter' = 'gauge') {
    registry.registerMetric(this as never);
  }

  set(labels: Labels, value: number): void {
    this.values.push({ labels, value });
  }

  reset(): void {
    this.values = [];
  }

  get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values };
  }
}

/**
 * A set of snapshot gauges filled by one refresh per scrape. prom-client reads metrics in
 * registration order; the first one's get() empties every gauge of the group and runs the
 * refresh before any value is read, so a series the refresh does not set again is gone.
 */
export function snapshotGroup(registry: Registry, refresh: () => void) {
  const group: SnapshotGauge[] = [];
  return (name: string, help: string, type: 'gauge' | 'counter' = 'gauge'): SnapshotGauge => {
    const g = new SnapshotGauge(name, help, registry, type);
    if (group.length === 0) {
      const read = g.get.bind(g);
      g.get = () => {
        for (const member of group) member.reset();
        refresh();
        return read();
      };
    }
    group.push(g);
    return g;
  };
}
