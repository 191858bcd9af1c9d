// Discovery's façade: what the rest of the exporter (routes, metrics, scheduler, server) calls.
// It validates and queues scans and answers reads; the jobs live in their own modules:
//   queue.ts         the two bounded lanes, one sweep at a time
//   run.ts           one scan from start to end        apply.ts    applying a sweep (one transaction)
//   enrich.ts        ports, PTR names, nmap            history.ts  history, uptime, events
//   conflicts.ts     conflicts, computed on read       sd.ts       Prometheus http_sd
//   observations.ts  discovery's part of IPAM views    store.ts    the SQL (with the joins on IPAM's addresses)
//   observe.ts       the observing half of a sweep      remote.ts   applying an agent's sweep (#15)
import { GLOBAL_VRF_ID } from '../ipam/core/vrf.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../clock.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { LanscapeError, notFound } from '../errors.js';
import { ipKey, parseIp } from '../ipam/core/ip.js';
import { prefixOf } from '../ipam/core/prefix.js';
import type { IpamService, SubnetLookup } from '../ipam/service.js';
import type { SubnetRow } from '../ipam/store.js';
import type { Store } from '../store/store.js';
import type { Writes } from '../store/write-batcher.js';
import { listConflicts } from './conflicts.js';
import { type DiscoveryContext, type DiscoveryDeps, type SweepReport, iso } from './context.js';
import { type PortSpec, DEFAULT_PORTS, withServiceNames } from './core/ports.js';
import { SweepTooLargeError, type TargetSet, listTargets, prefixTargets, sweepTargets } from './core/targets.js';
import { Enricher } from './enrich.js';
import { historyOf, listEvents, maintainHistory, uptimeOf } from './history.js';
import type { IcmpStatus } from './icmp.js';
import { enrichIpamViews, observationView } from './observations.js';
import { ScanQueue, type Trigger } from './queue.js';
import { applySweep } from './apply.js';
import { type BatchClaim, type RemoteSweep, applyRemoteSweep } from './remote.js';
import { runScan } from './run.js';
import { serviceDiscovery, serviceDiscoveryPage } from './sd.js';
import type {
  ConflictKind,
  ConflictView,
  EventView,
  ObservationView,
  ScanView,
  ScanWarningView,
  SdGroup,
  UptimeView,
} from './schemas.js';
import { loadVendors } from './oui.js';
import { DiscoveryStore, type HostRef, type ScanRow } from './store.js';

export { DISCOVERY_ACTOR, type DiscoveryDeps, type SweepReport } from './context.js';
export { parsePorts } from './core/ports.js';
export { CONFLICT_KINDS } from './schemas.js';
export type { ConflictKind, ConflictView, EventView, ObservationView, PortView, ScanView, SdGroup } from './schemas.js';

/** Addresses tagged so are watched closely: LanscapeReservedHostDown alerts on them whatever their state. */
export const CRITICAL_TAG = 'critical';

export class DiscoveryService {
  readonly store: DiscoveryStore;
  private readonly scanCfg: Config['scan'];
  /** The exporter's clock (also for HTTP cut-offs). */
  readonly now: () => number;
  /**
   * Sweeps waiting, one lane per trigger, each holding at most `scan.max_queued`: a full manual
   * lane answers 429, a full schedule lane leaves due subnets due (see queue.ts).
   */
  private readonly queue: ScanQueue;
  /** Subnets whose startScan is under way in this process (settles when it has). */
  private readonly starting = new Map<number, Promise<void>>();
  private readonly ctx: DiscoveryContext;
  private readonly enricher: Enricher;
  /** The ports checked on alive hosts, with their service names. */
  readonly ports: readonly PortSpec[];
  icmpStatus: IcmpStatus;
  /** Listeners for finished sweeps (metrics). */
  readonly onSweep: ((report: SweepReport) => void)[] = [];
  /** Listeners for the warnings of finished scans (metrics). */
  readonly onWarnings: ((warnings: ScanWarningView[]) => void)[] = [];

  /** Scans of an earlier process failed (SQLite); everything that queues or reads scans waits for it. */
  private readonly recovered: Promise<void>;

  constructor(
    store: Store,
    readonly ipam: IpamService,
    config: Config,
    deps: DiscoveryDeps,
    private readonly logger: Logger,
    /** The store's write batcher by default (tests may count what goes through it). */
    writes: Pick<Writes, 'run'> = store.writes,
  ) {
    this.store = new DiscoveryStore(store);
    this.scanCfg = config.scan;
    const ports: PortSpec[] = withServiceNames(config.scan.ports ?? DEFAULT_PORTS);
    this.ports = ports;
    this.now = deps.now ?? systemClock;
    this.ctx = {
      ipam,
      store: this.store,
      scan: config.scan,
      deps,
      logger,
      now: this.now,
      write: (fn) => writes.run(fn),
    };
    this.icmpStatus = deps.icmp();
    if (!this.icmpStatus.up) logger.warn({ collector: 'icmp' }, `ICMP sweeps are off: ${this.icmpStatus.message}`);
    this.queue = new ScanQueue(
      (scan) =>
        runScan(this.ctx, scan, {
          icmp: () => this.icmpStatus,
          enricher: this.enricher,
          notify: (report) => this.notify(report),
          warn: (warnings) => {
            for (const listener of this.onWarnings) listener(warnings);
          },
        }).finally(() => this.store.releaseSubnetScans(scan.subnet_id)),
      logger,
    );
    this.enricher = new Enricher(this.ctx, ports, () => this.queue.stopping);
    // The vendor index (oui.ts) is built in the background now, not when the first sweep (or
    // agent's report) is applied: that made the first reports after a start ~10 % slower.
    loadVendors().catch((e: unknown) => logger.warn({ err: e }, 'could not load the OUI vendor registry'));
    this.recovered = this.recoverScans().catch((e: unknown) => {
      logger.error({ err: e }, 'could not fail the scans an earlier run left unfinished');
    });
    enrichIpamViews(ipam, this.store, (subnetId) => this.queue.of(subnetId));
  }

  /**
   * Scans cut short by a stop or crash are not resumed; say so instead of leaving them
   * "running". SQLite: one process owns the store (store/ownership.ts), so every unfinished scan
   * is an earlier run's. PostgreSQL: other replicas' scans are alive; the ones a dead replica
   * left are failed by failAbandonedScans (the leader's periodic work).
   */
  private async recoverScans(): Promise<void> {
    if (this.store.dialect !== 'sqlite') return;
    for (const s of await this.store.unfinishedScans()) {
      await this.store.saveScan(
        { ...s, state: 'failed', finished_at: this.now(), error: 'the exporter stopped before this scan finished' },
        [s.state],
      );
    }
  }

  /**
   * How long a scan may stay queued or running before it counts as abandoned by a replica that
   * died (ms): generous bounds from the settings — the longest sweep the settings allow (every
   * target of a scan.max_prefix subnet with its retries at scan.pps, the timeout, the enrichment
   * budget, a minute of slack), three times over for a running scan and at least 15 minutes; for
   * a queued one, that plus both lanes full of such sweeps ahead of it.
   */
  abandonBounds(): { queued: number; running: number } {
    const cfg = this.scanCfg;
    const targets = 2 ** Math.max(0, 32 - cfg.max_prefix);
    const longest =
      ((targets * (1 + cfg.retries)) / cfg.pps) * 1000 + cfg.timeout_ms + cfg.enrich_budget_seconds * 1000 + 60_000;
    const running = Math.max(15 * 60_000, 3 * longest);
    return { running, queued: running + 2 * cfg.max_queued * longest };
  }

  /**
   * Fails the scans a replica that died left queued or running, not this process's own: on
   * PostgreSQL those whose subnet no live replica holds (session locks, see queueScan), at once;
   * on SQLite those older than abandonBounds(). Each by a conditional transition, so a replica
   * that is in fact still finishing it and this check cannot both decide its end. Returns how
   * many were failed. Periodic work (the scheduler calls it on the leader).
   */
  async failAbandonedScans(): Promise<number> {
    await this.recovered;
    const now = this.now();
    // PostgreSQL: a scan whose subnet no live replica holds (session locks) is abandoned at once.
    const byLock = this.store.dialect === 'postgres';
    const bounds = this.abandonBounds();
    let failed = 0;
    const unfinished = byLock
      ? await this.store.unfinishedScans()
      : await this.store.unfinishedScans(now - bounds.queued, now - bounds.running);
    for (const s of unfinished) {
      if (this.queue.live(s.id)) continue;
      // An agent's results being applied (by any replica) hold no session lock: the time bound.
      if (s.trigger === 'agent' && now - (s.started_at ?? s.queued_at) < bounds.running) continue;
      if (byLock && (this.starting.has(s.subnet_id) || (await this.store.subnetScansHeld(s.subnet_id)))) continue;
      if (await this.store.saveScan(abandoned(s, now), [s.state])) failed += 1;
    }
    if (failed > 0) this.logger.warn({ scans: failed }, 'failed scans an exporter left unfinished');
    return failed;
  }

  // ------------------------------------------------------------------ scans
  /**
   * Queues a sweep of a subnet. A subnet already queued or being swept returns that scan. Manual
   * scans of the same subnet are rate limited, and at most `scan.max_queued` manual scans wait
   * at once (429 with the seconds to wait, nothing queued). Scheduled scans have their own lane
   * of the same size: the scheduler asks scheduleRoom() first, so it never hits the cap.
   */
  async startScan(subnetId: number, trigger: Trigger): Promise<ScanView> {
    await this.recovered;
    const subnet = await this.ipam.subnetRow(subnetId);
    if (subnet.agent_id !== null) {
      // Central never sends a packet to an agent's subnet (#15): the agent sweeps it on its schedule.
      throw new LanscapeError(
        409,
        'assigned_to_agent',
        `subnet ${subnet.cidr} is swept by agent ${subnet.agent_id}, not by this exporter; its results arrive with the agent's next report`,
        { agent_id: subnet.agent_id },
      );
    }
    if (subnet.vrf_id !== GLOBAL_VRF_ID) {
      // This exporter reaches the global VRF's network; another VRF's addresses are generally not
      // routable from here (they are an agent's to sweep). ARCHITECTURE.md "Discovery per VRF".
      throw new LanscapeError(
        422,
        'sweep_other_vrf',
        `${subnet.cidr} is in another VRF than the global one; this exporter sweeps the global VRF only`,
      );
    }
    const prefix = prefixOf(subnet);
    if (prefix.family === 4) {
      try {
        if (prefix.length < this.scanCfg.max_prefix) sweepTargets(prefix, this.scanCfg.max_prefix);
      } catch (e) {
        if (e instanceof SweepTooLargeError) throw new LanscapeError(422, 'sweep_too_large', e.message);
        throw e;
      }
    }
    // One start per subnet at a time in this process (the session lock below is re-entrant).
    for (let waited = this.starting.get(subnetId); waited; waited = this.starting.get(subnetId)) await waited;
    // A scan that is done but still finishing (history upkeep) is not under way: the rate limit applies.
    const pending = this.queue.of(subnetId);
    if (pending && (pending.state === 'queued' || pending.state === 'running')) return this.scanView(pending);
    const started = this.queueScan(subnet, trigger);
    const settled = started.then(
      () => undefined,
      () => undefined,
    );
    this.starting.set(subnetId, settled);
    try {
      return this.scanView(await started);
    } finally {
      if (this.starting.get(subnetId) === settled) this.starting.delete(subnetId);
    }
  }

  /**
   * The scan rows are the record all replicas share. PostgreSQL: this replica first takes the
   * subnet's session lock (held until its scan ends, see store/session-locks.ts); a live replica
   * holding it has the subnet's scan, which is returned. Then one transaction (holding the
   * subnet's advisory lock) finds a scan of the subnet queued or running — with the session lock
   * ours, one a dead replica left, failed here so the subnet is swept again at once — checks
   * the rate limit, and inserts.
   */
  private async queueScan(subnet: SubnetRow, trigger: Trigger): Promise<ScanRow> {
    const subnetId = subnet.id;
    for (let tries = 0; !(await this.store.holdSubnetScans(subnetId)); tries++) {
      const other = await this.store.unfinishedScanOf(subnetId);
      if (other) return other;
      // The holder is between taking the lock and inserting its scan, or between its scan's end and the release.
      if (tries >= 20)
        throw new LanscapeError(409, 'conflict', `another exporter is starting a scan of ${subnet.cidr}`);
      await sleep(50);
    }
    let queued: { scan: ScanRow; ours: boolean };
    try {
      queued = await this.store.store.write(async () => {
        await this.store.lockSubnetScans(subnetId);
        const other = await this.store.unfinishedScanOf(subnetId);
        if (other && this.store.dialect === 'postgres') {
          await this.store.saveScan(abandoned(other, this.now()), [other.state]);
          this.logger.warn({ scan: other.id, subnet: subnet.cidr }, 'failed a scan an exporter left unfinished');
        } else if (other) {
          return { scan: other, ours: false };
        }
        this.admit(subnet.cidr, trigger, await this.store.lastManualScan(subnetId));
        return { scan: await this.store.insertScan(subnetId, subnet.cidr, trigger, this.now()), ours: true };
      });
    } catch (e) {
      await this.store.releaseSubnetScans(subnetId);
      throw e;
    }
    if (!queued.ours) {
      await this.store.releaseSubnetScans(subnetId);
      return this.queue.of(subnetId) ?? queued.scan;
    }
    this.queue.add(trigger, queued.scan);
    return queued.scan;
  }

  /** Throws 429 when the subnet was scanned moments ago (manual) or the trigger's lane is full. */
  private admit(cidr: string, trigger: Trigger, lastManual: ScanRow | undefined): void {
    if (trigger === 'manual') {
      const last = lastManual;
      const wait = last ? last.queued_at + this.scanCfg.manual_min_interval_seconds * 1000 - this.now() : 0;
      if (wait > 0) {
        throw new LanscapeError(
          429,
          'rate_limited',
          `subnet ${cidr} was scanned moments ago; try again in ${Math.ceil(wait / 1000)} s`,
          { retry_after_seconds: Math.ceil(wait / 1000) },
        );
      }
    }
    const waiting = this.queue.waiting(trigger);
    if (waiting >= this.scanCfg.max_queued) {
      const wait = this.secondsUntilNextStart();
      throw new LanscapeError(
        429,
        'scan_queue_full',
        `${waiting} ${trigger === 'manual' ? 'manual' : 'scheduled'} scans are waiting already (scan.max_queued); try again in ${wait} s`,
        { retry_after_seconds: wait, queued: waiting },
      );
    }
  }

  /** A scan: this process's live copy while it sweeps it, else the row (any replica's). */
  async getScan(id: number): Promise<ScanView> {
    await this.recovered;
    const row = this.queue.live(id) ?? (await this.store.scan(id));
    if (!row) throw notFound('scan', id);
    return this.scanView(row);
  }

  /** True while a sweep is queued or running for this subnet. */
  busy(subnetId: number): boolean {
    return this.queue.of(subnetId) !== undefined;
  }

  /** How many more scheduled scans may be queued now (the scheduler queues the most overdue first). */
  scheduleRoom(): number {
    return Math.max(0, this.scanCfg.max_queued - this.queue.waiting('schedule'));
  }

  /** Scans waiting per trigger (the running one not counted). */
  queued(): Record<Trigger, number> {
    return { manual: this.queue.waiting('manual'), schedule: this.queue.waiting('schedule') };
  }

  /**
   * When the next waiting scan should start: what the running sweep has left at `scan.pps`
   * (retries and timeout included), at least 1 s, at most an hour.
   */
  private secondsUntilNextStart(): number {
    const r = this.queue.running;
    if (!r) return 1;
    const left =
      Math.max(0, r.targets * (1 + this.scanCfg.retries) - r.sent) / this.scanCfg.pps + this.scanCfg.timeout_ms / 1000;
    return Math.min(3600, Math.max(1, Math.ceil(left)));
  }

  lastDoneScan(subnetId: number): Promise<ScanRow | undefined> {
    return this.store.lastDoneScan(subnetId);
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  /**
   * Drops the waiting scans, failing their rows (other replicas would otherwise see their
   * subnets busy until abandonBounds() passes), and resolves when the running sweep has ended.
   */
  async stop(): Promise<void> {
    const dropped = await this.queue.stop();
    for (const s of dropped) {
      const error = 'the exporter stopped before this scan started';
      try {
        await this.store.saveScan({ ...s, state: 'failed', finished_at: this.now(), error }, ['queued']);
      } catch (e) {
        this.logger.warn({ err: e, scan: s.id }, 'could not fail a scan dropped at stop');
      }
      await this.store.releaseSubnetScans(s.subnet_id);
    }
  }

  private notify(report: SweepReport): void {
    for (const listener of this.onSweep) listener(report);
  }

  /** Records one sweep's observations (see apply.ts, in slices); resolves with the alive addresses. */
  applySweep(
    subnet: SubnetRow,
    targets: readonly string[],
    alive: Map<string, number>,
    now: number,
  ): Promise<string[]> {
    return applySweep(this.ctx, subnet, listTargets(targets), alive, now);
  }

  /**
   * What a sweep of `subnet` targets: every usable address of an IPv4 subnet no larger than
   * scan.max_prefix (422 beyond), the known addresses of an IPv6 one. Agents sweep the same.
   */
  async targetsOf(subnet: SubnetRow): Promise<string[]> {
    const prefix = prefixOf(subnet);
    if (prefix.family === 6) return this.knownAddresses(subnet);
    return tooLargeIs422(() => sweepTargets(prefix, this.scanCfg.max_prefix));
  }

  /** targetsOf as a TargetSet: an IPv4 subnet's by arithmetic, without its list. */
  private async targetSetOf(subnet: SubnetRow): Promise<TargetSet> {
    const prefix = prefixOf(subnet);
    if (prefix.family === 6) return listTargets(await this.knownAddresses(subnet));
    return tooLargeIs422(() => prefixTargets(prefix, this.scanCfg.max_prefix));
  }

  private async knownAddresses(subnet: SubnetRow): Promise<string[]> {
    return (await this.ipam.addressesBetween(subnet.vrf_id, subnet.first_key, subnet.last_key)).map((a) => a.address);
  }

  /**
   * Applies a sweep an agent ran (remote.ts): one transaction with the caller's batch record,
   * then history upkeep. Resolves with the scan row, or null for a batch applied before.
   */
  async applyRemote(subnet: SubnetRow, sweep: RemoteSweep, claim: BatchClaim): Promise<ScanView | null> {
    await this.recovered;
    const targets = await this.targetSetOf(subnet);
    const scan = await applyRemoteSweep(this.ctx, subnet, targets, sweep, this.ports, claim, (r) => this.notify(r));
    if (scan) await maintainHistory(this.ctx, this.now());
    return scan && this.scanView(scan);
  }

  // ------------------------------------------------------------------ reading
  async observation(vrf: number, address: string): Promise<ObservationView | null> {
    const h = await this.store.host(vrf, ipKey(parseIp(address)));
    return h ? observationView(h) : null;
  }

  history(vrf: number, address: string, sinceMs: number) {
    return historyOf(this.ctx, vrf, address, sinceMs);
  }

  uptime(vrf: number, address: string): Promise<UptimeView> {
    return uptimeOf(this.ctx, vrf, address);
  }

  listEvents(
    filter: {
      vrf_id?: number | undefined;
      kind?: string | undefined;
      address?: string | undefined;
      subnet_id?: number | undefined;
      since?: string | undefined;
    },
    limit: number,
    offset: number,
  ): Promise<{ count: number; results: EventView[] }> {
    return listEvents(this.ctx, filter, limit, offset);
  }

  /**
   * @param index a subnet index the caller already has (a scrape builds one for everything)
   * @param vrf only this VRF's conflicts
   */
  async conflicts(kind?: ConflictKind, index?: SubnetLookup, vrf?: number): Promise<ConflictView[]> {
    return listConflicts(this.store, kind, index ?? (await this.ipam.subnetIndex()), this.staleCutoff(), vrf);
  }

  /**
   * Prometheus http_sd targets: alive hosts with `port` open, optionally only addresses carrying
   * `tag`, grouped one target per group so each carries its own labels.
   */
  serviceDiscovery(port: number, tag?: string): Promise<SdGroup[]> {
    return serviceDiscovery(this.store, this.ipam, port, tag);
  }

  /**
   * One keyset page of serviceDiscovery: the groups among the next `hosts` alive hosts after
   * the key `after`, and the key to continue from (undefined when there are no more hosts).
   */
  serviceDiscoveryPage(
    port: number,
    tag: string | undefined,
    after: HostRef | undefined,
    hosts: number,
  ): Promise<{ groups: SdGroup[]; last: HostRef | undefined }> {
    return serviceDiscoveryPage(this.store, this.ipam, port, tag, after, hosts);
  }

  scanView(s: ScanRow): ScanView {
    return {
      id: s.id,
      subnet_id: s.subnet_id,
      cidr: s.cidr,
      trigger: s.trigger,
      state: s.state,
      progress: Math.round(s.progress * 1000) / 1000,
      targets: s.targets,
      sent: s.sent,
      alive: s.alive,
      queued_at: iso(s.queued_at)!,
      started_at: iso(s.started_at),
      finished_at: iso(s.finished_at),
      ...(s.error ? { error: s.error } : {}),
      phases: JSON.parse(s.phases ?? '[]') as ScanView['phases'],
      warnings: JSON.parse(s.warnings ?? '[]') as ScanView['warnings'],
    };
  }

  // ------------------------------------------------------------------ for the scheduler and metrics
  /** Seconds between scheduled sweeps of a subnet, or null when it is not swept on a schedule. */
  scheduledInterval(subnet: SubnetRow): number | null {
    // An agent's subnet is swept at its site on this schedule, whatever this exporter's ICMP.
    if (subnet.agent_id !== null)
      return subnet.scan_enabled && this.sweepable(subnet)
        ? (subnet.scan_interval_seconds ?? this.scanCfg.interval_seconds)
        : null;
    // ICMP down means the scheduler is not running (that is LanscapeCollectorDown's alert).
    if (!this.scanCfg.enabled || !this.icmpStatus.up || !subnet.scan_enabled || !this.sweepable(subnet)) return null;
    if (subnet.vrf_id !== GLOBAL_VRF_ID) return null; // sweeps cover the global VRF (startScan)
    return subnet.scan_interval_seconds ?? this.scanCfg.interval_seconds;
  }

  /** Highest subnet prefix length the sweeper accepts (for the scheduler). */
  sweepable(subnet: SubnetRow): boolean {
    return subnet.family === 6 || subnet.prefix_length >= this.scanCfg.max_prefix;
  }

  /** Reservations unanswered since before this (ms) are stale_reservation conflicts. */
  staleCutoff(): number {
    return this.now() - this.scanCfg.stale_after_hours * 3_600_000;
  }
}

/** A scan a dead replica left, as failed. */
function abandoned(s: ScanRow, now: number): ScanRow {
  const error = `abandoned: ${s.state} since ${iso(s.started_at ?? s.queued_at)} by an exporter that stopped`;
  return { ...s, state: 'failed', finished_at: now, error };
}

/** A sweep larger than scan.max_prefix, answered as 422 sweep_too_large. */
function tooLargeIs422<T>(targets: () => T): T {
  try {
    return targets();
  } catch (e) {
    if (e instanceof SweepTooLargeError) throw new LanscapeError(422, 'sweep_too_large', e.message);
    throw e;
  }
}
