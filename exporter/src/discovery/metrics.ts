// Discovery metrics. Per-host series exist only for tracked hosts (observed by a sweep, and
// recorded in IPAM or answering now; discovery/store.ts), and for at most metrics.max_host_series
// of them, best first: tagged critical or in a MAC conflict; reserved/assigned by a person; any
// other IPAM address; answering without a record; then by address. Per-subnet series exist for
// the subnets the IPAM refresh chose earlier in the same scrape (metrics/bounds.ts). Totals
// (lanscape_hosts, lanscape_address_conflicts, lanscape_unknown_hosts) count everything. Hosts
// are read in pages of the key order with SQL doing the counting, so a scrape builds objects
// only for the chosen hosts and the conflicts, and lets other requests in between pages.
// Hosts are kept per VRF (migration 10): the `vrf` label is the VRF the host or subnet is in,
// so one address in two VRFs is two series; the caps bound series across all VRFs together.
import type { Registry } from 'prom-client';
import type { SeriesBudget } from '../metrics/bounds.js';
import { Slicer, snapshotGroup } from '../metrics/snapshot.js';
import type { SubnetCatalog } from '../metrics/subnets.js';
import { ipKey, parseIp } from '../ipam/core/ip.js';
import { CONFLICT_KINDS, type ConflictKind, type DiscoveryService, parsePorts } from './service.js';
import { SCAN_WARNING_KINDS, type ScanWarningView } from './schemas.js';
import type { DiscoveryStore, MetricHostRow } from './store.js';
import type { SubnetRow } from '../ipam/store.js';
import { mapLimit } from '../map-limit.js';
import { readsInFlight } from '../store/sql-exec.js';

/** smokeping_prober's buckets: 50 µs doubling to about 26 s. */
export const RTT_BUCKETS = Array.from({ length: 20 }, (_, i) => 0.00005 * 2 ** i);
const RTT_LE = RTT_BUCKETS.map(String);
/** Hosts read per page (a few index-ordered statements), with pauses between them. */
const HOST_PAGE = 1000;
/**
 * Hosts a scrape reads at most once a first pass is done: a pass over a larger table is spread
 * over several scrapes (totals and the choice then lag by that many scrapes), so a scrape's
 * work is bounded whatever the number of hosts.
 */
const HOST_WINDOW = 20_000;
const STATUSES = ['up', 'down', 'unknown'] as const;
/** Subnets whose hosts are counted per statement. */
const SPAN_BATCH = 500;

interface RttSeries {
  /** vrf: the VRF's id, named at scrape time (a listener answers synchronously). */
  labels: { address: string; subnet: string; vrf: number };
  buckets: number[];
  sum: number;
  count: number;
}

/** The key of a swept subnet's counters: its VRF and CIDR. */
const subnetKey = (vrf: number, cidr: string) => `${vrf}|${cidr}`;
/** The key of a host's series: its VRF, address and subnet. */
const hostKey = (vrf: number, address: string, subnet: string) => `${vrf}|${address}|${subnet}`;

/**
 * One pass over the hosts in (VRF, key) order, a page at a time, resumable across scrapes: totals by
 * SQL (tracked hosts by status), rows only for hosts in conflict (key and flags, attributed to
 * their most specific subnet) and for the candidates of each tier (in key order, while the
 * tiers up to it hold fewer than the cap), so the rows built are bounded by the conflicts and
 * the cap, not by the table.
 */
class HostPass {
  readonly version: number;
  readonly byStatus: Record<string, number> = { up: 0, down: 0, unknown: 0 };
  tracked = 0;
  readonly totals: Record<ConflictKind, number> = { mac_mismatch: 0, unknown_device: 0, stale_reservation: 0 };
  /** Conflicts by the id of their most specific subnet (0: none). */
  readonly bySubnet = new Map<number, Record<ConflictKind, number>>();
  private readonly candidates: MetricHostRow[][] = [[], [], [], []];
  /** The VRFs with hosts (read when the pass starts) and the one being read. */
  private vrfs: number[] | undefined;
  private vrfAt = 0;
  private after: Buffer = Buffer.alloc(0);
  /** Scrapes this pass has taken so far. */
  scrapes = 0;

  constructor(
    private readonly catalog: SubnetCatalog,
    private readonly cutoff: number,
    private readonly max: number,
  ) {
    this.version = catalog.version;
  }

  /** The hosts that get series, best first. */
  chosen(): MetricHostRow[] {
    return this.candidates.flat().slice(0, this.max);
  }

  private upTo(tier: number): number {
    let n = 0;
    for (let t = 0; t <= tier; t++) n += this.candidates[t]!.length;
    return n;
  }

  /** Reads pages until `budget` hosts are read or the table ends; true at the end. */
  async advance(store: DiscoveryStore, budget: number, slicer: Slicer): Promise<boolean> {
    const { cutoff, max } = this;
    this.scrapes += 1;
    this.vrfs ??= await store.hostVrfs();
    for (let read = 0; read < budget;) {
      const vrf = this.vrfs[this.vrfAt];
      if (vrf === undefined) return true;
      const last = await store.hostPageEnd(vrf, this.after, HOST_PAGE);
      if (last === null) {
        this.vrfAt += 1;
        this.after = Buffer.alloc(0);
        continue;
      }
      const after = this.after;
      for (const s of await store.hostPageStatus(vrf, after, last)) {
        this.byStatus[s.status] = (this.byStatus[s.status] ?? 0) + s.n;
        this.tracked += s.n;
      }
      await slicer.maybePause();
      for (const [low, key6, tier0, ...flags] of await store.hostPageNotable(vrf, after, last, cutoff)) {
        if (tier0 && this.upTo(0) < max) {
          const h = await store.metricHost(vrf, key6 ?? ipKey({ family: 4, value: BigInt(low!) }), cutoff);
          if (h) this.candidates[0]!.push(h);
        }
        if (flags.some(Boolean)) {
          const id = (key6 ? this.catalog.mostSpecificKey(vrf, key6) : this.catalog.mostSpecificV4(vrf, low!)) ?? 0;
          let c = this.bySubnet.get(id);
          if (!c) this.bySubnet.set(id, (c = { mac_mismatch: 0, unknown_device: 0, stale_reservation: 0 }));
          CONFLICT_KINDS.forEach((kind, i) => {
            if (flags[i]) {
              c[kind] += 1;
              this.totals[kind] += 1;
            }
          });
        }
      }
      const want = [0, 1, 2, 3].map((t) => this.upTo(t) < max);
      await slicer.maybePause();
      if (want[1] || want[2] || want[3]) {
        for (const h of await store.hostPageRows(vrf, after, last, cutoff, want)) {
          if (h.tier !== 0 && want[h.tier] && this.upTo(h.tier) < max) this.candidates[h.tier]!.push(h);
        }
      }
      this.after = last;
      read += HOST_PAGE;
      await slicer.maybePause();
    }
    return false;
  }
}

export function registerDiscoveryMetrics(registry: Registry, discovery: DiscoveryService, budget: SeriesBudget): void {
  const ipam = discovery.ipam;
  // Sweep-time numbers, kept here and exported for the chosen subnets and hosts only.
  const packets = new Map<string, number>();
  const runs = new Map<string, Map<'success' | 'failure', number>>();
  const lastOk = new Map<string, boolean>();
  const rtts = new Map<string, RttSeries>();

  const catalog = budget.catalog;
  const warned = new Map<ScanWarningView['kind'], number>(SCAN_WARNING_KINDS.map((k) => [k, 0]));
  discovery.onWarnings.push((warnings) => {
    for (const w of warnings) warned.set(w.kind, (warned.get(w.kind) ?? 0) + 1);
  });

  discovery.onSweep.push((report) => {
    // By VRF and CIDR: the same CIDR swept in two VRFs (by two agents) is two subnets.
    const swept = subnetKey(report.vrf, report.subnet);
    packets.set(swept, (packets.get(swept) ?? 0) + report.sent);
    const result = report.ok ? 'success' : 'failure';
    const byResult = runs.get(swept) ?? new Map<'success' | 'failure', number>();
    byResult.set(result, (byResult.get(result) ?? 0) + 1);
    runs.set(swept, byResult);
    lastOk.set(swept, report.ok);
    if (!report.ok) return;
    // The catalog when it is current (it is after every scrape), else IPAM's own lookup.
    // (A listener answers synchronously: IPAM's cached subnets as last read, not a store read.)
    const cached = catalog.fresh ? undefined : ipam.cachedSubnets();
    const index = cached ? cached.index : catalog;
    for (const [address, seconds] of report.rtts) {
      const id = index.mostSpecific(report.vrf, parseIp(address)); // the swept subnet's VRF
      const subnet = (id && (catalog.byId.get(id)?.cidr ?? cached?.row(id)?.cidr)) || report.subnet;

      const key = hostKey(report.vrf, address, subnet);
      let s = rtts.get(key);
      if (!s) {
        // A host the last scrape chose, or room under the cap (the next scrape decides).
        if (!budget.hosts?.has(key) && rtts.size >= budget.limits.max_host_series) continue;
        s = { labels: { address, subnet, vrf: report.vrf }, buckets: RTT_BUCKETS.map(() => 0), sum: 0, count: 0 };
        rtts.set(key, s);
      }
      for (let i = 0; i < RTT_BUCKETS.length; i++) if (seconds <= RTT_BUCKETS[i]!) s.buckets[i]! += 1;
      s.sum += seconds;
      s.count += 1;
    }
  });

  type LastSuccess = { started_at: number; finished_at: number };
  /** Last successful sweeps of this scrape: filled for scheduled subnets, then for the chosen ones. */
  const scans = new Map<number, LastSuccess>();
  const readScans = async (ids: number[], slicer: Slicer) => {
    for (let i = 0; i < ids.length; i += 1000) {
      for (const s of await discovery.store.lastSuccessfulScansOf(ids.slice(i, i + 1000))) scans.set(s.subnet_id, s);
      await slicer.maybePause();
    }
  };
  // Subnets whose series the scan alerts need: the last sweep failed, or the last success is
  // older than LanscapeScanStale's threshold (three scheduled intervals, at least 30 minutes).
  budget.urgentSubnets.push(async (slicer) => {
    scans.clear();
    const now = discovery.now();
    const out = new Set<number>();
    const scheduled = new Map<number, number>();
    for (const s of catalog.rows) {
      if (lastOk.get(subnetKey(s.vrf_id, s.cidr)) === false) out.add(s.id);
      const interval = discovery.scheduledInterval(s);
      if (interval !== null) scheduled.set(s.id, interval);
      if (slicer.due()) await slicer.pause();
    }
    await readScans([...scheduled.keys()], slicer);
    for (const [id, interval] of scheduled) {
      const last = scans.get(id);
      if (last && now - last.finished_at > Math.max(3 * interval, 1800) * 1000) out.add(id);
    }
    return out;
  });

  const gauge = snapshotGroup(registry, refresh);
  const hostUp = gauge(
    'lanscape_host_up',
    'Whether the address answered ICMP (1) or is down (0); unknown addresses have no series.',
  );
  const hostInfo = gauge(
    'lanscape_host_info',
    'Known or alive addresses with their names and hardware; the value is always 1.',
  );
  const lastSeen = gauge('lanscape_host_last_seen_timestamp_seconds', 'When the address last answered ICMP.');
  const openPort = gauge(
    'lanscape_host_open_port_info',
    'Open TCP ports of alive or known addresses; the value is always 1.',
  );
  const rtt = gauge(
    'lanscape_host_rtt_seconds',
    'ICMP round-trip time per address, one observation per sweep answer.',
    'histogram',
    'process', // sweeps this replica ran
  );
  const hostsUp = gauge('lanscape_subnet_hosts_up', 'Addresses of a subnet that answer ICMP.');
  const duration = gauge('lanscape_scan_duration_seconds', 'Duration of the last successful sweep of a subnet.');
  const success = gauge(
    'lanscape_scan_last_success_timestamp_seconds',
    'When the last successful sweep of a subnet finished.',
  );
  const interval = gauge(
    'lanscape_subnet_scan_interval_seconds',
    'Interval of scheduled sweeps of a subnet; no series when the subnet is not swept on a schedule.',
  );
  const packetsSent = gauge(
    'lanscape_scan_packets_sent_total',
    'ICMP echo requests sent by sweeps, retries included.',
    'counter',
    'process',
  );
  const runsTotal = gauge('lanscape_scan_runs_total', 'Sweeps finished, by result.', 'counter', 'process');
  const warningsTotal = gauge(
    'lanscape_scan_warnings_total',
    "Scans that warned, by kind (resolver_unreachable: the resolver did not answer the scan's first PTR query; names_budget, ports_budget: enrichment cut at scan.enrich_budget_seconds).",
    'counter',
    'process',
  );
  const conflicts = gauge(
    'lanscape_conflicts',
    'Conflicts per subnet by kind (mac_mismatch, unknown_device, stale_reservation).',
  );
  const conflictInfo = gauge(
    'lanscape_address_conflict_info',
    'One series per address in conflict, by kind; the value is always 1.',
  );
  const unknownHosts = gauge('lanscape_unknown_hosts', 'Alive addresses inside managed subnets that nobody reserved.');
  const hosts = gauge(
    'lanscape_hosts',
    'Tracked hosts (observed by sweeps, and recorded in IPAM or answering) by status, all of them (per-host series exist for at most metrics.max_host_series).',
  );
  const addressConflicts = gauge('lanscape_address_conflicts', 'Addresses in conflict by kind, across all subnets.');

  let pass: HostPass | undefined;
  let finished: HostPass | undefined;
  let subnetKeys: { version: number; keys: Set<string> } | undefined;

  async function refresh() {
    const slicer = new Slicer();
    await budget.refreshCatalog(slicer);
    const rows = catalog.rows;
    const cidrOf = (id: number | null) => (id === null ? '' : (catalog.byId.get(id)?.cidr ?? ''));
    const chosen = budget.subnets;
    const cutoff = discovery.staleCutoff();
    const max = budget.limits.max_host_series;
    // The `vrf` label is the VRF's name (a handful of rows; a rename shows at the next scrape).
    const vrfNames = new Map((await ipam.allVrfs()).map((v) => [v.id, v.name]));
    const vrfName = (id: number) => vrfNames.get(id) ?? String(id);

    // Hosts: a pass over the table in key order, up to HOST_WINDOW hosts per scrape once a first
    // pass is done (small stores finish a pass in every scrape). Totals and the choice of hosts
    // come from the last finished pass; the chosen hosts' rows are this scrape's.
    if (!pass || pass.version !== catalog.version) pass = new HostPass(catalog, cutoff, max);
    let fresh = false;
    if (await pass.advance(discovery.store, finished ? HOST_WINDOW : Infinity, slicer)) {
      finished = pass;
      pass = undefined;
      fresh = finished.scrapes === 1;
    }
    const { byStatus, tracked, totals, bySubnet } = finished!;
    // Read the chosen hosts again unless the pass has just read them (their order does not
    // matter); a host no longer tracked has no series.
    let chosenHosts = finished!.chosen();
    if (!fresh) {
      const again: MetricHostRow[] = [];
      for (let i = 0; i < chosenHosts.length; i += 500) {
        again.push(
          ...(await discovery.store.metricHosts(
            chosenHosts.slice(i, i + 500).map((h) => ({ vrf: h.vrf_id, key: h.ip_key })),
            cutoff,
          )),
        );
        await slicer.maybePause();
      }
      chosenHosts = again.filter((h) => h.state !== null || h.status === 'up');
    }
    const keys = new Set<string>();
    for (let i = 0; i < chosenHosts.length; i++) {
      const h = chosenHosts[i]!;
      const subnet = cidrOf(catalog.mostSpecificKey(h.vrf_id, h.ip_key));
      const labels = { address: h.address, subnet, vrf: vrfName(h.vrf_id) };
      keys.add(hostKey(h.vrf_id, h.address, subnet));
      if (h.status !== 'unknown') {
        hostUp.set(labels, h.status === 'up' ? 1 : 0);
      }
      hostInfo.set(
        {
          ...labels,
          hostname: h.hostname ?? h.ptr ?? '',
          mac: h.mac ?? '',
          vendor: h.vendor ?? '',
          state: h.state ?? '',
          source: h.source ?? '',
          critical: String(h.critical === 1),
        },
        1,
      );
      if (h.last_seen_at !== null) lastSeen.set(labels, h.last_seen_at / 1000);
      for (const p of parsePorts(h.ports)) {
        openPort.set({ ...labels, port: String(p.port), protocol: p.protocol, service: p.service ?? '' }, 1);
      }
      for (const kind of CONFLICT_KINDS) if (h[kind]) conflictInfo.set({ ...labels, kind }, 1);
      if (slicer.due()) await slicer.pause();
    }
    budget.hosts = keys;
    budget.drop('host', tracked - chosenHosts.length);
    // RTT histograms: the chosen hosts' only (sweeps record no others once a scrape has chosen).
    for (const [key, s] of rtts) {
      if (!keys.has(key)) {
        rtts.delete(key);
        continue;
      }
      const labels = { ...s.labels, vrf: vrfName(s.labels.vrf) };
      for (let i = 0; i < RTT_BUCKETS.length; i++) rtt.sample('_bucket', { ...labels, le: RTT_LE[i]! }, s.buckets[i]!);
      rtt.sample('_bucket', { ...labels, le: '+Inf' }, s.count);
      rtt.sample('_sum', labels, s.sum);
      rtt.sample('_count', labels, s.count);
    }
    await slicer.maybePause();

    // Per-subnet series of the chosen subnets. hosts_up counts the subnet's whole range (a host
    // is up in its subnet and every enclosing one, as utilization counts it); conflicts go to
    // the most specific subnet, with all three kinds (0 included) where sweeps observed hosts.
    // The (VRF, CIDR) keys of the subnets, built again only when the subnets changed.
    if (subnetKeys?.version !== catalog.version) {
      subnetKeys = { version: catalog.version, keys: new Set(rows.map((s) => subnetKey(s.vrf_id, s.cidr))) };
    }
    for (const swept of [...packets.keys(), ...runs.keys()]) {
      if (!subnetKeys.keys.has(swept)) {
        packets.delete(swept);
        runs.delete(swept);
        lastOk.delete(swept);
      }
    }
    // Every VRF's subnets: central sweeps the global VRF, agents sweep theirs in any VRF.
    const chosenRows = rows.filter((s) => chosen.has(s.id));
    const batches: SubnetRow[][] = [];
    for (let i = 0; i < chosenRows.length; i += SPAN_BATCH) batches.push(chosenRows.slice(i, i + SPAN_BATCH));
    // Independent reads, together (round trips on PostgreSQL).
    const [, counts] = await Promise.all([
      readScans(
        chosenRows.filter((s) => !scans.has(s.id) && discovery.scheduledInterval(s) === null).map((s) => s.id),
        slicer,
      ),
      mapLimit(batches, readsInFlight(discovery.store.dialect), async (batch) => {
        const n = await discovery.store.hostsInRanges(batch.map((s) => [s.vrf_id, s.first_key, s.last_key] as const));
        await slicer.maybePause();
        return n;
      }),
    ]);
    const ranges = counts.flat();
    for (let i = 0; i < chosenRows.length; i++) {
      const s = chosenRows[i]!;
      const subnet = s.cidr;
      const vrf = vrfName(s.vrf_id);
      const swept = subnetKey(s.vrf_id, s.cidr);
      const scan = scans.get(s.id);
      const seconds = discovery.scheduledInterval(s);
      const counted = runs.get(swept);
      const range = ranges[i]!;
      hostsUp.set({ subnet, vrf }, range.up);
      if (scan) {
        duration.set({ subnet, vrf }, (scan.finished_at - scan.started_at) / 1000);
        success.set({ subnet, vrf }, scan.finished_at / 1000);
      }
      if (seconds !== null) interval.set({ subnet, vrf }, seconds);
      const sent = packets.get(swept);
      if (sent !== undefined) packetsSent.set({ subnet, vrf }, sent);
      for (const [result, n] of counted ?? []) runsTotal.set({ subnet, vrf, result }, n);
      if (range.observed) {
        const c = bySubnet.get(s.id);
        for (const kind of CONFLICT_KINDS) conflicts.set({ subnet, vrf, kind }, c?.[kind] ?? 0);
      }
      if (slicer.due()) await slicer.pause();
    }
    for (const status of STATUSES) hosts.set({ status }, byStatus[status] ?? 0);
    for (const kind of CONFLICT_KINDS) addressConflicts.set({ kind }, totals[kind]);
    unknownHosts.set({}, totals.unknown_device);
    for (const [kind, n] of warned) warningsTotal.set({ kind }, n);
  }
}
