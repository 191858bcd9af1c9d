// Discovery: runs sweeps (one at a time, queued), turns what they see into host observations,
// status history, events and IPAM addresses, enriches alive hosts (MAC and vendor, open
// ports, PTR names, nmap service versions), and answers conflicts and service discovery.
import { systemClock } from '../clock.js';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Actor } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import { LanscapeError, notFound } from '../errors.js';
import { type IP, formatIp, ipFromKey, ipKey, parseIp } from '../ipam/core/ip.js';

import { type AddressView, type IpamService, type SubnetLookup, prefixOf } from '../ipam/service.js';
import type { SubnetRow } from '../ipam/store.js';
import type { Db } from '../store/db.js';
import { type PortSpec, DEFAULT_PORTS, withServiceNames } from './core/ports.js';
import { type HostState, observe } from './core/status.js';
import { type Pinger, sweep } from './core/sweep.js';
import { SweepTooLargeError, sweepTargets } from './core/targets.js';
import type { IcmpStatus } from './icmp.js';
import type { NmapHost } from './nmap.js';
import { vendorOf } from './oui.js';
import { CONFLICT_SQL, DiscoveryStore, type EventRow, type HostRow, type ScanRow } from './store.js';

export const DISCOVERY_ACTOR: Actor = { name: 'discovery' };

export interface DiscoveryDeps {
  icmp: () => IcmpStatus;
  createPinger: (family: 4 | 6, timeoutMs: number) => Pinger & { close(): void };
  readNeighbours: () => Map<string, string>;
  openPorts: (jobs: { address: string; ports: number[] }[], o: { timeoutMs: number; concurrency: number }) => Promise<Map<string, number[]>>;
  reverseDns: { lookup(address: string): Promise<string | null>; readonly healthy: boolean | null } | null;
  nmap: { available(): Promise<boolean>; run(address: string, ports: number[]): Promise<NmapHost | null> } | null;
  now?: () => number;
}

export interface PortView { port: number; protocol: 'tcp'; service: string | null; product: string | null; version: string | null }

export interface ObservationView {
  status: HostRow['status']; rtt_seconds: number | null; first_seen_at: string | null; last_seen_at: string | null;
  status_changed_at: string | null; last_checked_at: string | null; mac: string | null; vendor: string | null;
  ptr: string | null; ports: PortView[];
}

export interface ScanView {
  id: number; subnet_id: number; cidr: string; trigger: ScanRow['trigger']; state: ScanRow['state'];
  progress: number; targets: number; sent: number; alive: number; queued_at: string; started_at: string | null;
  finished_at: string | null; error?: string;
}

export interface EventView {
  id: number; at: string; kind: string; address: string | null; subnet_id: number | null; message: string; details: unknown;
}

export type ConflictKind = 'mac_mismatch' | 'unknown_device' | 'stale_reservation';
export const CONFLICT_KINDS: readonly ConflictKind[] = ['mac_mismatch', 'unknown_device', 'stale_reservation'];
/** Addresses tagged so are watched closely: LanscapeReservedHostDown alerts on them whatever their state. */
export const CRITICAL_TAG = 'critical';

export interface ConflictView {
  kind: ConflictKind; address: string; address_id: number; subnet_id: number | null; message: string;
  since: string | null; details: Record<string, unknown>;
}

/** Observations of one finished sweep, for metrics. */
export interface SweepReport { subnet: string; seconds: number; sent: number; ok: boolean; rtts: Map<string, number> }

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class DiscoveryService {
  readonly store: DiscoveryStore;
  private readonly scanCfg: Config['scan'];
  private readonly ports: PortSpec[];
  /** The exporter's clock (also for HTTP cut-offs). */
  readonly now: () => number;
  /**
   * Sweeps waiting, one lane per trigger, each holding at most `scan.max_queued`: a full manual
   * lane answers 429, a full schedule lane leaves due subnets due. pump() alternates between
   * the lanes, so neither kind of sweep starves the other.
   */
  private readonly lanes: Record<ScanRow['trigger'], ScanRow[]> = { manual: [], schedule: [] };
  private lastLane: ScanRow['trigger'] = 'schedule';
  /** The queued or running scan of each subnet: one at a time per subnet, O(1) to look up. */
  private readonly pending = new Map<number, ScanRow>();
  private running: ScanRow | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  private stopping = false;
  private idle: Promise<void> = Promise.resolve();
  private nmapBusy = false;
  icmpStatus: IcmpStatus;
  /** Listeners for finished sweeps (metrics). */
  readonly onSweep: ((report: SweepReport) => void)[] = [];

  constructor(readonly db: Db, readonly ipam: IpamService, config: Config, private readonly deps: DiscoveryDeps,
    private readonly logger: Logger) {
    this.store = new DiscoveryStore(db);
    this.scanCfg = config.scan;
    this.ports = withServiceNames(config.scan.ports ?? DEFAULT_PORTS);
    this.now = deps.now ?? systemClock;
    this.icmpStatus = deps.icmp();
    if (!this.icmpStatus.up) logger.warn({ collector: 'icmp' }, `ICMP sweeps are off: ${this.icmpStatus.message}`);
    // Scans cut short by a stop or crash are not resumed; say so instead of leaving them "running".
    for (const s of this.store.unfinishedScans()) {
      this.store.saveScan({ ...s, state: 'failed', finished_at: this.now(), error: 'the exporter stopped before this scan finished' });
    }
    ipam.addEnricher((views) => this.attachObservations(views));
    ipam.addSubnetEnricher((views) => {
      for (const { row, view } of views) {
        const last = this.pending.get(row.id) ?? this.store.lastScan(row.id);
        view.discovery = {
          hosts_up: this.store.hostsUpBetween(row.first_key, row.last_key),
          last_scan: last ? {
            id: last.id, state: last.state, trigger: last.trigger, finished_at: iso(last.finished_at), alive: last.alive,
            ...(last.error ? { error: last.error } : {}),
          } : null,
        };
      }
    });
  }

  // ------------------------------------------------------------------ scans
  /**
   * Queues a sweep of a subnet. A subnet already queued or being swept returns that scan. Manual
   * scans of the same subnet are rate limited, and at most `scan.max_queued` manual scans wait
   * at once (429 with the seconds to wait, nothing queued). Scheduled scans have their own lane
   * of the same size: the scheduler asks scheduleRoom() first, so it never hits the cap.
   */
  startScan(subnetId: number, trigger: ScanRow['trigger']): ScanView {
    const subnet = this.ipam.subnetRow(subnetId);
    const prefix = prefixOf(subnet);
    if (prefix.family === 4) {
      try {
        if (prefix.length < this.scanCfg.max_prefix) sweepTargets(prefix, this.scanCfg.max_prefix);
      } catch (e) {
        if (e instanceof SweepTooLargeError) throw new LanscapeError(422, 'sweep_too_large', e.message);
        throw e;
      }
    }
    const pending = this.pending.get(subnetId);
    if (pending) return this.scanView(pending);
    if (trigger === 'manual') {
      const last = this.store.lastManualScan(subnetId);
      const wait = last ? last.queued_at + this.scanCfg.manual_min_interval_seconds * 1000 - this.now() : 0;
      if (wait > 0) {
        throw new LanscapeError(429, 'rate_limited', `subnet ${subnet.cidr} was scanned moments ago; try again in ${Math.ceil(wait / 1000)} s`,
          { retry_after_seconds: Math.ceil(wait / 1000) });
      }
    }
    if (this.lanes[trigger].length >= this.scanCfg.max_queued) {
      const wait = this.secondsUntilNextStart();
      throw new LanscapeError(429, 'scan_queue_full',
        `${this.lanes[trigger].length} ${trigger === 'manual' ? 'manual' : 'scheduled'} scans are waiting already (scan.max_queued); try again in ${wait} s`,
        { retry_after_seconds: wait, queued: this.lanes[trigger].length });
    }
    const id = this.store.insertScan(subnetId, subnet.cidr, trigger, this.now());
    const scan = this.store.scan(id)!;
    this.lanes[trigger].push(scan);
    this.pending.set(subnetId, scan);
    this.pump();
    return this.scanView(scan);
  }

  getScan(id: number): ScanView {
    let live: ScanRow | undefined;
    for (const s of this.pending.values()) if (s.id === id) live = s;
    const row = live ?? this.store.scan(id);
    if (!row) throw notFound('scan', id);
    return this.scanView(row);
  }

  /** True while a sweep is queued or running for this subnet. */
  busy(subnetId: number): boolean {
    return this.pending.has(subnetId);
  }

  /** How many more scheduled scans may be queued now (the scheduler queues the most overdue first). */
  scheduleRoom(): number {
    return Math.max(0, this.scanCfg.max_queued - this.lanes.schedule.length);
  }

  /** Scans waiting per trigger (the running one not counted). */
  queued(): Record<ScanRow['trigger'], number> {
    return { manual: this.lanes.manual.length, schedule: this.lanes.schedule.length };
  }

  /**
   * When the next waiting scan should start: what the running sweep has left at `scan.pps`
   * (retries and timeout included), at least 1 s, at most an hour.
   */
  private secondsUntilNextStart(): number {
    const r = this.running;
    if (!r) return 1;
    const left = Math.max(0, r.targets * (1 + this.scanCfg.retries) - r.sent) / this.scanCfg.pps + this.scanCfg.timeout_ms / 1000;
    return Math.min(3600, Math.max(1, Math.ceil(left)));
  }

  lastDoneScan(subnetId: number): ScanRow | undefined {
    return this.store.lastDoneScan(subnetId);
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.running || this.pending.size > 0) await this.idle;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const lane of Object.values(this.lanes)) {
      for (const s of lane) this.pending.delete(s.subnet_id);
      lane.length = 0;
    }
    await this.idle;
  }

  private pump(): void {
    if (this.running || this.stopping) return;
    // Alternate between the lanes while both hold scans.
    const other = this.lastLane === 'manual' ? 'schedule' : 'manual';
    const lane = this.lanes[other].length > 0 ? other : this.lastLane;
    const next = this.lanes[lane].shift();
    if (!next) return;
    this.lastLane = lane;
    this.running = next;
    this.idle = this.runScan(next).catch((e: unknown) => {
      this.logger.error({ err: e, scan: next.id }, 'scan failed unexpectedly');
    }).finally(() => {
      this.running = undefined;
      if (this.pending.get(next.subnet_id) === next) this.pending.delete(next.subnet_id);
      this.pump();
    });
  }

  private async runScan(scan: ScanRow): Promise<void> {
    const subnet = this.ipam.store.subnet(scan.subnet_id);
    const started = this.now();
    Object.assign(scan, { state: 'running', started_at: started });
    this.store.saveScan(scan);
    const fail = (error: string) => {
      Object.assign(scan, { state: 'failed', error, finished_at: this.now() });
      this.store.saveScan(scan);
      this.notify({ subnet: scan.cidr, seconds: (this.now() - started) / 1000, sent: scan.sent, ok: false, rtts: new Map() });
    };
    if (!subnet) return fail('the subnet was deleted before its scan started');
    if (!this.icmpStatus.up) return fail(`ICMP is unavailable: ${this.icmpStatus.message}`);
    const prefix = prefixOf(subnet);
    let targets: string[];
    try {
      targets = prefix.family === 4
        ? sweepTargets(prefix, this.scanCfg.max_prefix)
        : this.ipam.store.addressesBetween(subnet.first_key, subnet.last_key).map((a) => a.address);
    } catch (e) {
      return fail((e as Error).message);
    }
    scan.targets = targets.length;
    let pinger;
    try {
      pinger = this.deps.createPinger(prefix.family, this.scanCfg.timeout_ms);
    } catch (e) {
      return fail(`cannot open an ICMP socket: ${(e as Error).message}`);
    }
    let result;
    try {
      result = await sweep(targets, pinger, {
        pps: this.scanCfg.pps, maxInFlight: Math.min(this.scanCfg.max_in_flight, 60_000), retries: this.scanCfg.retries,
        onProgress: (finished, total, sent) => {
          scan.progress = total === 0 ? 0.8 : 0.8 * (finished / total);
          scan.sent = sent;
        },
      });
    } catch (e) {
      return fail(`sweep failed: ${(e as Error).message}`);
    } finally {
      pinger.close();
    }
    const current = this.ipam.store.subnet(subnet.id);
    if (!current) return fail('the subnet was deleted during its scan');
    scan.sent = result.sent;
    scan.alive = result.alive.size;
    const now = this.now();
    const aliveHosts = this.applySweep(current, targets, result.alive, now);
    scan.progress = 0.85;
    await this.enrich(current, aliveHosts);
    Object.assign(scan, { state: 'done', progress: 1, finished_at: this.now() });
    this.store.saveScan(scan);
    this.notify({ subnet: current.cidr, seconds: result.seconds, sent: result.sent, ok: true, rtts: result.alive });
    this.maintainHistory(now);
  }

  private notify(report: SweepReport): void {
    for (const listener of this.onSweep) listener(report);
  }

  // ------------------------------------------------------------------ applying a sweep
  /**
   * Records one sweep in a single transaction: observations and history for every tracked address
   * (known to IPAM, alive now, or seen before), events on changes, IPAM rows for new devices.
   * Returns the alive addresses.
   */
  applySweep(subnet: SubnetRow, targets: readonly string[], alive: Map<string, number>, now: number): string[] {
    const prefix = prefixOf(subnet);
    const neighbours = prefix.family === 4 ? this.deps.readNeighbours() : new Map<string, string>();
    const swept = new Set(targets);
    return this.db.transaction(() => {
      const hosts = new Map(this.store.hostsBetween(subnet.first_key, subnet.last_key).map((h) => [h.address, h]));
      const known = new Map(this.ipam.store.addressesBetween(subnet.first_key, subnet.last_key).map((a) => [a.address, a]));
      const tracked = new Set([...known.keys(), ...hosts.keys(), ...alive.keys()].filter((a) => swept.has(a)));
      const dhcpRanges = this.ipam.store.rangesInside(subnet.first_key, subnet.last_key).filter((r) => r.purpose === 'dhcp')
        .map((r) => ({ first: ipFromKey(r.first_key).value, last: ipFromKey(r.last_key).value }));
      for (const address of tracked) {
        const ip = parseIp(address);
        const key = ipKey(ip);
        const prev = hosts.get(address);
        const rtt = alive.get(address);
        const isAlive = rtt !== undefined;
        const { next, event } = observe(prev && hostState(prev), isAlive, now, this.scanCfg.down_after);
        const mac = isAlive ? neighbours.get(address) ?? prev?.mac ?? null : prev?.mac ?? null;
        const row: HostRow = {
          ip_key: key, address, status: next.status, misses: next.misses, rtt_seconds: isAlive ? rtt : prev?.rtt_seconds ?? null,
          first_seen_at: next.firstSeenAt, last_seen_at: next.lastSeenAt, status_changed_at: next.statusChangedAt,
          last_checked_at: now, mac, vendor: mac ? vendorOf(mac) : null, ptr: prev?.ptr ?? null, ports: prev?.ports ?? '[]',
          ports_checked_at: prev?.ports_checked_at ?? null, nmap_checked_at: prev?.nmap_checked_at ?? null,
        };
        this.store.upsertHost(row);
        this.store.insertHistory(key, now, isAlive, isAlive ? rtt : null);
        const base = { at: now, ip_key: key, address, subnet_id: subnet.id };
        if (event === 'new_device') {
          this.store.insertEvent({ ...base, kind: 'new_device', message: `new device ${address}${mac ? ` (${mac}${row.vendor ? `, ${row.vendor}` : ''})` : ''}`, details: JSON.stringify({ mac, vendor: row.vendor }) });
        } else if (event === 'up') {
          const downFor = prev?.status_changed_at ? Math.round((now - prev.status_changed_at) / 1000) : null;
          this.store.insertEvent({ ...base, kind: 'up', message: `${address} is up${downFor !== null ? ` after ${humanDuration(downFor)} down` : ''}`, details: JSON.stringify({ down_seconds: downFor }) });
        } else if (event === 'down') {
          this.store.insertEvent({ ...base, kind: 'down', message: `${address} is down (no answer to ${next.misses} sweeps)`, details: JSON.stringify({ misses: next.misses }) });
        }
        if (isAlive && prev?.mac && mac && prev.mac !== mac) {
          this.store.insertEvent({ ...base, kind: 'mac_changed', message: `${address} answers from ${mac} instead of ${prev.mac}`, details: JSON.stringify({ before: prev.mac, after: mac }) });
        }
        if (isAlive && !known.has(address)) {
          const inDhcp = dhcpRanges.some((r) => ip.value >= r.first && ip.value <= r.last);
          this.recordDiscovered(ip, { state: inDhcp ? 'dhcp' : 'assigned', mac });
        }
      }
      return [...alive.keys()];
    }).immediate();
  }

  /** A device nobody recorded becomes an IPAM address with source "discovered". */
  private recordDiscovered(ip: IP, fields: { state: 'dhcp' | 'assigned'; mac: string | null }): void {
    try {
      this.ipam.createAddress({ address: formatIp(ip), state: fields.state, mac: fields.mac, source: 'discovered' }, DISCOVERY_ACTOR);
    } catch (e) {
      // e.g. the network address of a child subnet: observed, but not an address to record
      if (!(e instanceof LanscapeError)) throw e;
    }
  }

  // ------------------------------------------------------------------ enrichment
  private async enrich(subnet: SubnetRow, alive: string[]): Promise<void> {
    const now = this.now();
    const due = alive.filter((a) => {
      const h = this.store.host(ipKey(parseIp(a)));
      return !h?.ports_checked_at || now - h.ports_checked_at >= this.scanCfg.port_interval_seconds * 1000;
    });
    const [open, names] = await Promise.all([
      due.length > 0 && this.ports.length > 0
        ? this.deps.openPorts(due.map((address) => ({ address, ports: this.ports.map((p) => p.port) })),
          { timeoutMs: this.scanCfg.port_timeout_ms, concurrency: this.scanCfg.port_concurrency })
        : Promise.resolve(new Map<string, number[]>()),
      this.deps.reverseDns
        ? Promise.all(alive.map(async (a) => [a, await this.deps.reverseDns!.lookup(a)] as const))
        : Promise.resolve([] as (readonly [string, string | null])[]),
    ]);
    const at = this.now();
    this.db.transaction(() => {
      for (const [address, ports] of open) this.recordPorts(subnet, address, ports, at);
      for (const [address, ptr] of names) this.recordPtr(subnet, address, ptr, at);
    }).immediate();
    if (this.deps.nmap && this.scanCfg.nmap) void this.runNmap(alive);
  }

  private recordPorts(subnet: SubnetRow, address: string, ports: number[], at: number): void {
    const key = ipKey(parseIp(address));
    const host = this.store.host(key);
    if (!host) return;
    const before = parsePorts(host.ports);
    const names = new Map(this.ports.map((p) => [p.port, p.service]));
    const next: PortView[] = ports.map((port) => {
      const old = before.find((p) => p.port === port);
      return old ?? { port, protocol: 'tcp', service: names.get(port) ?? null, product: null, version: null };
    });
    this.store.upsertHost({ ...host, ports: JSON.stringify(next), ports_checked_at: at });
    const was = before.map((p) => p.port).join(',');
    const now = ports.join(',');
    if (host.ports_checked_at !== null && was !== now) {
      const opened = ports.filter((p) => !before.some((b) => b.port === p));
      const closed = before.filter((b) => !ports.includes(b.port)).map((b) => b.port);
      this.store.insertEvent({
        at, kind: 'ports_changed', ip_key: key, address, subnet_id: subnet.id,
        message: `${address}: ${[opened.length ? `opened ${opened.join(', ')}` : '', closed.length ? `closed ${closed.join(', ')}` : ''].filter(Boolean).join('; ')}`,
        details: JSON.stringify({ opened, closed }),
      });
    }
  }

  private recordPtr(subnet: SubnetRow, address: string, ptr: string | null, at: number): void {
    const ip = parseIp(address);
    const key = ipKey(ip);
    const host = this.store.host(key);
    if (!host || host.ptr === ptr || ptr === null) return;
    this.store.upsertHost({ ...host, ptr });
    if (host.ptr !== null) {
      this.store.insertEvent({ at, kind: 'hostname_changed', ip_key: key, address, subnet_id: subnet.id,
        message: `${address} is now named ${ptr} (was ${host.ptr})`, details: JSON.stringify({ before: host.ptr, after: ptr }) });
    }
    // Discovered rows take the PTR name; a name a person entered always wins.
    const row = this.ipam.addressAt(ip);
    if (row && row.source === 'discovered' && (row.hostname === null || row.hostname === host.ptr)) {
      this.ipam.updateAddress(row.id, { hostname: ptr }, DISCOVERY_ACTOR);
    }
  }

  /** nmap -sV, one host at a time, for alive hosts with open ports whose last run is old enough (jittered). */
  private async runNmap(alive: string[]): Promise<void> {
    if (this.nmapBusy || !this.deps.nmap || !(await this.deps.nmap.available())) return;
    this.nmapBusy = true;
    try {
      for (const address of alive) {
        if (this.stopping) return;
        const key = ipKey(parseIp(address));
        const host = this.store.host(key);
        const ports = host ? parsePorts(host.ports) : [];
        const interval = this.scanCfg.nmap_interval_seconds * 1000 * (1 - this.scanCfg.jitter_ratio * Math.random());
        if (!host || ports.length === 0 || (host.nmap_checked_at !== null && this.now() - host.nmap_checked_at < interval)) continue;
        let found: NmapHost | null = null;
        try {
          found = await this.deps.nmap.run(address, ports.map((p) => p.port));
        } catch (e) {
          this.logger.warn({ err: e, address }, 'nmap failed');
        }
        const fresh = this.store.host(key);
        if (!fresh) continue;
        const merged = parsePorts(fresh.ports).map((p) => {
          const s = found?.services.find((x) => x.port === p.port && x.protocol === 'tcp');
          // Chips keep the configured name; nmap's fills in where there is none.
          return s ? { ...p, service: p.service ?? (s.service === 'unknown' ? null : s.service), product: s.product, version: s.version } : p;
        });
        this.store.upsertHost({ ...fresh, ports: JSON.stringify(merged), nmap_checked_at: this.now() });
      }
    } finally {
      this.nmapBusy = false;
    }
  }

  private maintainHistory(now: number): void {
    const day = 86_400_000;
    this.store.rollup(now - this.scanCfg.history_raw_days * day, now - this.scanCfg.history_hourly_days * day,
      now - this.scanCfg.history_hourly_days * day);
  }

  // ------------------------------------------------------------------ reading
  private attachObservations(views: readonly { key: Buffer; view: AddressView }[]): void {
    if (views.length === 0) return;
    const keys = views.map((v) => v.key);
    const sorted = [...keys].sort(Buffer.compare);
    const hosts = views.length === 1
      ? [this.store.host(keys[0]!)].filter((h): h is HostRow => h !== undefined)
      : this.store.hostsBetween(sorted[0]!, sorted[sorted.length - 1]!);
    const byKey = new Map(hosts.map((h) => [h.ip_key.toString('hex'), h]));
    for (const { key, view } of views) {
      const h = byKey.get(key.toString('hex'));
      view.observed = h ? observationView(h) : null;
    }
  }

  observation(address: string): ObservationView | null {
    const h = this.store.host(ipKey(parseIp(address)));
    return h ? observationView(h) : null;
  }

  history(address: string, sinceMs: number) {
    const key = ipKey(parseIp(address));
    return {
      samples: this.store.history(key, sinceMs).map((s) => ({ at: iso(s.at)!, up: s.up === 1, rtt_seconds: s.rtt_seconds })),
      hourly: this.store.hourly(key, Math.floor(sinceMs / 3_600_000)).map((h) => ({
        hour: iso(h.hour * 3_600_000)!, samples: h.samples, up_ratio: h.samples ? h.up_samples / h.samples : 0, rtt_avg_seconds: h.rtt_avg_seconds,
      })),
    };
  }

  uptime(address: string): { '24h': number | null; '7d': number | null } {
    const key = ipKey(parseIp(address));
    const ratio = (ms: number) => {
      const u = this.store.uptime(key, this.now() - ms);
      return u.samples === 0 ? null : u.up / u.samples;
    };
    return { '24h': ratio(86_400_000), '7d': ratio(7 * 86_400_000) };
  }

  listEvents(filter: { kind?: string | undefined; address?: string | undefined; subnet_id?: number | undefined; since?: string | undefined },
    limit: number, offset: number): { count: number; results: EventView[] } {
    let between: [Buffer, Buffer] | undefined;
    if (filter.subnet_id !== undefined) {
      const s = this.ipam.subnetRow(filter.subnet_id);
      between = [s.first_key, s.last_key];
    }
    const { count, rows } = this.store.listEvents({
      kind: filter.kind, ipKey: filter.address ? ipKey(parseIp(filter.address)) : undefined, between,
      since: filter.since ? Date.parse(filter.since) : undefined,
    }, limit, offset);
    return { count, results: rows.map(eventView) };
  }

  /** @param index a subnet index the caller already has (a scrape builds one for everything) */
  conflicts(kind?: ConflictKind, index: SubnetLookup = this.ipam.subnetIndex()): ConflictView[] {
    const out: ConflictView[] = [];
    const subnetOf = (key: Buffer) => index.mostSpecific(ipFromKey(key));
    if (!kind || kind === 'mac_mismatch') {
      // hosts (what sweeps saw) drives these joins: it is small; addresses may hold millions.
      for (const r of this.statement(`SELECT a.id, a.address, a.ip_key, a.mac AS recorded, h.mac AS observed, h.last_seen_at
        FROM hosts h CROSS JOIN addresses a ON a.ip_key = h.ip_key
        WHERE ${CONFLICT_SQL.mac_mismatch} ORDER BY h.ip_key`).all() as
        { id: number; address: string; ip_key: Buffer; recorded: string; observed: string; last_seen_at: number | null }[]) {
        out.push({
          kind: 'mac_mismatch', address: r.address, address_id: r.id, subnet_id: subnetOf(r.ip_key), since: iso(r.last_seen_at),
          message: `${r.address} answers from ${r.observed} (${vendorOf(r.observed) ?? 'unknown vendor'}), but ${r.recorded} is recorded`,
          details: { recorded_mac: r.recorded, observed_mac: r.observed },
        });
      }
    }
    if (!kind || kind === 'unknown_device') {
      for (const r of this.statement(`SELECT a.id, a.address, a.ip_key, h.first_seen_at, h.mac, h.vendor FROM hosts h
        CROSS JOIN addresses a ON a.ip_key = h.ip_key WHERE ${CONFLICT_SQL.unknown_device} ORDER BY h.ip_key`).all() as
        { id: number; address: string; ip_key: Buffer; first_seen_at: number | null; mac: string | null; vendor: string | null }[]) {
        out.push({
          kind: 'unknown_device', address: r.address, address_id: r.id, subnet_id: subnetOf(r.ip_key), since: iso(r.first_seen_at),
          message: `${r.address} is alive but nobody reserved it${r.mac ? ` (${r.mac}${r.vendor ? `, ${r.vendor}` : ''})` : ''}`,
          details: { mac: r.mac, vendor: r.vendor },
        });
      }
    }
    if (!kind || kind === 'stale_reservation') {
      const cutoff = this.staleCutoff();
      for (const r of this.statement(`SELECT a.id, a.address, a.ip_key, a.state, a.created_at, h.last_seen_at FROM hosts h
        CROSS JOIN addresses a ON a.ip_key = h.ip_key WHERE ${CONFLICT_SQL.stale_reservation}
        ORDER BY h.ip_key`).all({ cutoff, cutoffIso: new Date(cutoff).toISOString() }) as
        { id: number; address: string; ip_key: Buffer; state: string; created_at: string; last_seen_at: number | null }[]) {
        out.push({
          kind: 'stale_reservation', address: r.address, address_id: r.id, subnet_id: subnetOf(r.ip_key),
          since: iso(r.last_seen_at) ?? r.created_at,
          message: r.last_seen_at === null
            ? `${r.address} is ${r.state} but has never answered`
            : `${r.address} is ${r.state} but has not answered since ${iso(r.last_seen_at)}`,
          details: { state: r.state, last_seen_at: iso(r.last_seen_at) },
        });
      }
    }
    return out;
  }

  /**
   * Prometheus http_sd targets: alive hosts with `port` open, optionally only addresses carrying
   * `tag`, grouped one target per group so each carries its own labels.
   */
  serviceDiscovery(port: number, tag?: string): SdGroup[] {
    const out: SdGroup[] = [];
    for (let after: Buffer | undefined; ;) {
      const page = this.serviceDiscoveryPage(port, tag, after, 10_000);
      out.push(...page.groups);
      if (page.last === undefined) return out;
      after = page.last;
    }
  }

  /**
   * One keyset page of serviceDiscovery: the groups among the next `hosts` alive hosts after
   * the key `after`, and the key to continue from (undefined when there are no more hosts).
   */
  serviceDiscoveryPage(port: number, tag: string | undefined, after: Buffer | undefined, hosts: number): { groups: SdGroup[]; last: Buffer | undefined } {
    const rows = this.db.prepare(`SELECT h.address, h.ports, h.ptr, h.ip_key AS host_key, a.hostname, a.tags FROM hosts h
      LEFT JOIN addresses a ON a.ip_key = h.ip_key WHERE h.status = 'up' AND h.ip_key > ? ORDER BY h.ip_key LIMIT ?`)
      .all(after ?? Buffer.alloc(0), hosts) as
      { address: string; ports: string; ptr: string | null; host_key: Buffer; hostname: string | null; tags: string | null }[];
    const index = this.ipam.subnetIndex();
    const cidrs = new Map(this.ipam.store.allSubnets().map((s) => [s.id, s.cidr]));
    const groups: SdGroup[] = [];
    for (const r of rows) {
      if (!parsePorts(r.ports).some((p) => p.port === port)) continue;
      const tags = r.tags ? (JSON.parse(r.tags) as string[]) : [];
      if (tag && !tags.includes(tag)) continue;
      const ip = parseIp(r.address);
      const subnetId = index.mostSpecific(ip);
      const host = ip.family === 6 ? `[${r.address}]` : r.address;
      groups.push({
        targets: [`${host}:${port}`],
        labels: {
          __meta_lanscape_address: r.address,
          __meta_lanscape_subnet: subnetId ? cidrs.get(subnetId) ?? '' : '',
          __meta_lanscape_hostname: r.hostname ?? r.ptr ?? '',
          __meta_lanscape_tags: tags.length ? `,${tags.join(',')},` : '',
        },
      });
    }
    return { groups, last: rows.length < hosts ? undefined : rows[rows.length - 1]!.host_key };
  }

  scanView(s: ScanRow): ScanView {
    return {
      id: s.id, subnet_id: s.subnet_id, cidr: s.cidr, trigger: s.trigger, state: s.state,
      progress: Math.round(s.progress * 1000) / 1000, targets: s.targets, sent: s.sent, alive: s.alive,
      queued_at: iso(s.queued_at)!, started_at: iso(s.started_at), finished_at: iso(s.finished_at),
      ...(s.error ? { error: s.error } : {}),
    };
  }

  /** Seconds between scheduled sweeps of a subnet, or null when it is not swept on a schedule. */
  scheduledInterval(subnet: SubnetRow): number | null {
    // ICMP down means the scheduler is not running (that is LanscapeCollectorDown's alert).
    if (!this.scanCfg.enabled || !this.icmpStatus.up || !subnet.scan_enabled || !this.sweepable(subnet)) return null;
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

  /** A statement prepared once (conflicts, http_sd and tracked hosts run on every scrape or read). */
  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }
}

export interface SdGroup { targets: string[]; labels: Record<string, string> }

function hostState(h: HostRow): HostState {
  return { status: h.status, misses: h.misses, firstSeenAt: h.first_seen_at, lastSeenAt: h.last_seen_at, statusChangedAt: h.status_changed_at };
}

export function parsePorts(json: string): PortView[] {
  return JSON.parse(json) as PortView[];
}

function observationView(h: HostRow): ObservationView {
  return {
    status: h.status, rtt_seconds: h.rtt_seconds, first_seen_at: iso(h.first_seen_at), last_seen_at: iso(h.last_seen_at),
    status_changed_at: iso(h.status_changed_at), last_checked_at: iso(h.last_checked_at), mac: h.mac, vendor: h.vendor,
    ptr: h.ptr, ports: parsePorts(h.ports),
  };
}

function eventView(e: EventRow): EventView {
  return {
    id: e.id, at: iso(e.at)!, kind: e.kind, address: e.address, subnet_id: e.subnet_id, message: e.message,
    details: e.details ? JSON.parse(e.details) : null,
  };
}

function humanDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

