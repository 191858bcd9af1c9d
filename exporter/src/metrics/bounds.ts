// Bounded cardinality. Per-subnet and per-host series exist for at most
// metrics.max_subnet_series subnets and metrics.max_host_series hosts; totals are computed over
// everything, whatever the caps. One SeriesBudget per exporter is shared by the IPAM and
// discovery metrics: the IPAM refresh (registered first, so it runs first in every scrape)
// ranks all subnets and picks the ones with series; the discovery refresh, later in the same
// scrape, uses that choice and picks the hosts; lanscape_metrics_objects_dropped, registered
// last, reports how many subnets and hosts both left without series.
import type { Registry } from 'prom-client';
import type { IpamStore } from '../ipam/store.js';
import { type Slicer, SnapshotGauge } from './snapshot.js';
import { SubnetCatalog } from './subnets.js';

export interface SeriesLimits {
  /** Subnets that get per-subnet series. */
  max_subnet_series: number;
  /** Tracked hosts that get per-host series. */
  max_host_series: number;
}

export const DROPPED_KINDS = ['subnet', 'host'] as const;
export type DroppedKind = (typeof DROPPED_KINDS)[number];

/** A subnet as the ranking sees it. */
export interface SubnetRank {
  id: number;
  /** Something an alert rule reads needs its series: nearly full, sweeps failing or stale. */
  urgent: boolean;
  ratio: number;
}

/**
 * Which subnets and hosts have series in the current scrape, and how many the caps left out.
 * The subnet choice: subnets an alert needs first (nearly full, failing or stale sweeps),
 * then the fullest, ties by id (the oldest): deterministic, and what capacity alerts and
 * "fullest subnets" panels need. The host choice is made by discovery (discovery/metrics.ts).
 */
export class SeriesBudget {
  /** Subnet ids with per-subnet series in the current scrape. */
  subnets: ReadonlySet<number> = new Set();
  /**
   * Hosts (`address|subnet`) with per-host series in the latest scrape; undefined before the
   * first one. Sweeps record RTT histograms only for these.
   */
  hosts: ReadonlySet<string> | undefined;
  /** Other domains mark the subnets whose series their alerts need (called once per scrape). */
  readonly urgentSubnets: ((slicer: Slicer) => Promise<ReadonlySet<number>>)[] = [];
  private readonly dropped: Record<DroppedKind, number> = { subnet: 0, host: 0 };
  /** The subnets as scrapes see them (read again, in pages, only after a subnet changed). */
  readonly catalog: SubnetCatalog;

  constructor(
    readonly limits: SeriesLimits,
    store: IpamStore,
  ) {
    this.catalog = new SubnetCatalog(store);
  }

  /** The catalog as this scrape sees it (refreshCatalog). */
  private scrapeCatalog: Promise<SubnetCatalog> | undefined;

  /** Called by the first refresh of a scrape (IPAM's). */
  startScrape(): void {
    for (const kind of DROPPED_KINDS) this.dropped[kind] = 0;
    this.scrapeCatalog = undefined;
  }

  /**
   * The catalog brought up to date once per scrape: the refreshes of a scrape see the same
   * subnets (the later ones already depend on the first's choice), and on PostgreSQL check the
   * subnet version row once.
   */
  refreshCatalog(slicer: Slicer): Promise<SubnetCatalog> {
    return (this.scrapeCatalog ??= this.catalog.refresh(slicer));
  }

  /** Counts subnets or hosts the caps left without per-object series in this scrape. */
  drop(kind: DroppedKind, objects: number): void {
    this.dropped[kind] += objects;
  }

  droppedObjects(kind: DroppedKind): number {
    return this.dropped[kind];
  }

  /** The subnets that keep their series: urgent first, then the fullest, then the smallest id. */
  selectSubnets(ranks: SubnetRank[]): ReadonlySet<number> {
    const max = this.limits.max_subnet_series;
    if (ranks.length > max) {
      ranks.sort((a, b) => Number(b.urgent) - Number(a.urgent) || b.ratio - a.ratio || a.id - b.id);
    }
    this.subnets = new Set(ranks.slice(0, max).map((r) => r.id));
    return this.subnets;
  }
}

/** lanscape_metrics_objects_dropped: read after the refreshes of the scrape (register it last). */
export function registerBudgetMetrics(registry: Registry, budget: SeriesBudget): void {
  const dropped = new SnapshotGauge(
    'lanscape_metrics_objects_dropped',
    'Subnets (kind subnet, beyond metrics.max_subnet_series) and tracked hosts (kind host, beyond metrics.max_host_series) ' +
      'that have no per-subnet or per-host series in this scrape; 0 under the caps. Totals still count them.',
    registry,
  );
  dropped.get = () => {
    dropped.begin();
    for (const kind of DROPPED_KINDS) dropped.set({ kind }, budget.droppedObjects(kind));
    dropped.commit();
    return dropped.read();
  };
}
