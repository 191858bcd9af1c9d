// Enrichment of alive hosts: open TCP ports (when due) and PTR names (which also name discovered
// IPAM rows), gathered side by side from the end of the sweep pass under one time budget per
// scan and recorded after the sweep is applied; then nmap -sV service versions, one host at a
// time in the background. A resolver that does not answer is found out by the scan's first
// lookup: the scan warns and looks up nothing else, so it costs one timeout, not one per host.
import { ipKey, parseIp } from '../ipam/core/ip.js';
import type { SubnetRow } from '../ipam/store.js';
import { DISCOVERY_ACTOR, type DiscoveryContext } from './context.js';
import { type PortSpec, type StoredPort, parsePorts } from './core/ports.js';
import type { NmapHost } from './nmap.js';
import type { ScanPhaseView, ScanWarningView } from './schemas.js';
import { hostsPerStep, inSlices } from './slices.js';
import type { EventRow, HostRow } from './store.js';

/** PTR lookups in flight at once per scan (the resolver adapter has its own cap too). */
const NAME_CONCURRENCY = 16;
/** Connections at once per host; a scan checks scan.port_concurrency / this many hosts at once. */
const PORTS_PER_HOST = 8;
/**
 * Port-check connections at once while the sweep runs: connections are work on the event loop
 * the sweep's pacer shares; scan.port_concurrency applies once the sweep is over.
 */
const PORTS_WHILE_SWEEPING = 16;

/** What a scan's enrichment needs: settings, adapters, clock, and whether a host's ports are due. */
export interface EnrichEnv {
  scan: Pick<DiscoveryContext['scan'], 'port_timeout_ms' | 'port_concurrency' | 'enrich_budget_seconds'>;
  deps: Pick<DiscoveryContext['deps'], 'openPorts' | 'reverseDns'>;
  now: () => number;
  /** Whether a host's port check is due (its last check is older than scan.port_interval_seconds). */
  portsDue(address: string): Promise<boolean>;
}

export interface Enriched {
  open: Map<string, number[]>;
  names: Map<string, string | null>;
  phases: ScanPhaseView[];
  warnings: ScanWarningView[];
}

/**
 * One scan's enrichment: add() hosts as the sweep finds them (each host once), then finish().
 * Two queues with bounded worker pools: port checks (a host at a time per worker) and PTR
 * lookups, whose first uncached lookup is the scan's probe of the resolver.
 */
export class ScanEnrichment {
  private readonly open = new Map<string, number[]>();
  private readonly names = new Map<string, string | null>();
  private readonly warnings: ScanWarningView[] = [];
  private readonly seen = new Set<string>();
  private readonly portQueue: string[] = [];
  private readonly nameQueue: string[] = [];
  private readonly jobs: Promise<void>[] = [];
  /** Hosts being queued (add() reads their port check's age from the store). */
  private readonly adding: Promise<void>[] = [];
  private portWorkers = 0;
  private nameWorkers = 0;
  private resolver: 'unknown' | 'probing' | 'up' | 'down' = 'unknown';
  private sweeping = true;
  // From the first host handed over to the last answer: phases run side by side with the sweep.
  private readonly ports = { start: 0, end: 0, hosts: 0, used: false, late: 0 };
  private readonly lookups = { start: 0, end: 0, hosts: 0, used: false, late: 0 };

  /** @param deadline performance.now() ms after which no check or lookup starts */
  constructor(
    private readonly ctx: EnrichEnv,
    private readonly portSpecs: readonly PortSpec[],
    private readonly deadline: number,
  ) {}

  /** The sweep is over: port checks may use scan.port_concurrency. */
  sweepDone(): void {
    this.sweeping = false;
    this.pump();
  }

  /** Queues port checks (when due) and PTR lookups of these hosts; each host at most once per scan. */
  add(addresses: readonly string[]): void {
    const fresh = addresses.filter((a) => !this.seen.has(a));
    for (const a of fresh) this.seen.add(a);
    if (fresh.length > 0) this.adding.push(this.queueUp(fresh));
  }

  /** Queues what is due of these hosts. */
  private async queueUp(addresses: readonly string[]): Promise<void> {
    const { ctx } = this;
    for (const a of addresses) {
      if (this.portSpecs.length > 0 && (await ctx.portsDue(a))) this.portQueue.push(a);
      if (ctx.deps.reverseDns) this.nameQueue.push(a);
    }
    this.pump();
  }

  async finish(): Promise<Enriched> {
    while (this.adding.length > 0) await Promise.all(this.adding.splice(0));
    this.sweepDone();
    while (this.jobs.length > 0) await Promise.all(this.jobs.splice(0));
    this.ports.late += this.portQueue.length;
    if (this.resolver !== 'down') this.lookups.late += this.nameQueue.length;
    const phases: ScanPhaseView[] = [];
    const secs = (p: { start: number; end: number }) => Math.round(Math.max(0, p.end - p.start)) / 1000;
    if (this.ports.used) phases.push({ phase: 'ports', seconds: secs(this.ports), hosts: this.ports.hosts });
    if (this.lookups.used) phases.push({ phase: 'names', seconds: secs(this.lookups), hosts: this.lookups.hosts });
    const budget = this.ctx.scan.enrich_budget_seconds;
    if (this.ports.late > 0)
      this.warnings.push({
        kind: 'ports_budget',
        message: `port checks of ${this.ports.late} hosts did not fit the scan's budget (scan.enrich_budget_seconds = ${budget}); the next scan checks them`,
      });
    if (this.lookups.late > 0)
      this.warnings.push({
        kind: 'names_budget',
        message: `PTR lookups of ${this.lookups.late} hosts did not fit the scan's budget (scan.enrich_budget_seconds = ${budget}); the next scan looks them up`,
      });
    return { open: this.open, names: this.names, phases, warnings: this.warnings };
  }

  private portWorkerLimit(): number {
    const connections = this.sweeping ? PORTS_WHILE_SWEEPING : this.ctx.scan.port_concurrency;
    return Math.max(1, Math.floor(connections / PORTS_PER_HOST));
  }

  /** Starts workers for what is queued, within the pools. */
  private pump(): void {
    if (performance.now() >= this.deadline) return;
    while (this.portQueue.length > 0 && this.portWorkers < this.portWorkerLimit()) {
      this.portWorkers++;
      this.jobs.push(this.portWorker());
    }
    if (this.nameQueue.length === 0) return;
    if (this.resolver === 'unknown') {
      this.resolver = 'probing';
      this.jobs.push(this.probe());
      return;
    }
    if (this.resolver !== 'up') return;
    while (this.nameQueue.length > 0 && this.nameWorkers < NAME_CONCURRENCY) {
      this.nameWorkers++;
      this.jobs.push(this.nameWorker());
    }
  }

  private async portWorker(): Promise<void> {
    const cfg = this.ctx.scan;
    const ports = this.portSpecs.map((p) => p.port);
    if (!this.ports.used) this.ports.start = performance.now();
    this.ports.used = true;
    try {
      while (this.portQueue.length > 0 && performance.now() < this.deadline) {
        const address = this.portQueue.shift()!;
        const found = await this.ctx.deps.openPorts([{ address, ports }], {
          timeoutMs: cfg.port_timeout_ms,
          concurrency: Math.min(PORTS_PER_HOST, cfg.port_concurrency),
          deadline: this.deadline,
        });
        const open = found.get(address);
        if (open) {
          this.open.set(address, open);
          this.ports.hosts += 1;
        } else this.ports.late += 1;
        this.ports.end = Math.max(this.ports.end, performance.now());
      }
    } finally {
      this.portWorkers--;
    }
  }

  /**
   * Looks up queued addresses one by one until one is not in the cache: whether a server answered
   * that query says whether the resolver is usable for the rest of the scan.
   */
  private async probe(): Promise<void> {
    const rdns = this.ctx.deps.reverseDns!;
    if (!this.lookups.used) this.lookups.start = performance.now();
    this.lookups.used = true;
    let asked = false;
    while (this.nameQueue.length > 0 && performance.now() < this.deadline) {
      const address = this.nameQueue.shift()!;
      const r = rdns.resolve
        ? await rdns.resolve(address)
        : { name: await rdns.lookup(address), answered: true, cached: false };
      this.names.set(address, r.name);
      this.lookups.hosts += 1;
      this.lookups.end = Math.max(this.lookups.end, performance.now());
      if (r.cached) continue;
      asked = true;
      if (!r.answered) {
        this.resolver = 'down';
        this.warnings.push({
          kind: 'resolver_unreachable',
          message: `reverse DNS: the resolver did not answer the PTR query for ${address} (timeout or refused); this scan looks up no other names`,
        });
        return;
      }
      break;
    }
    this.resolver = asked ? 'up' : 'unknown';
    this.pump();
  }

  private async nameWorker(): Promise<void> {
    const rdns = this.ctx.deps.reverseDns!;
    try {
      // A lookup started before the deadline may end after it, by at most the resolver's timeout.
      while (this.nameQueue.length > 0 && performance.now() < this.deadline) {
        const address = this.nameQueue.shift()!;
        this.names.set(address, await rdns.lookup(address));
        this.lookups.hosts += 1;
        this.lookups.end = Math.max(this.lookups.end, performance.now());
      }
    } finally {
      this.nameWorkers--;
    }
  }
}

export class Enricher {
  private nmapBusy = false;

  /** @param stopping true once the exporter stops (the nmap loop ends between hosts) */
  constructor(
    private readonly ctx: DiscoveryContext,
    private readonly ports: readonly PortSpec[],
    private readonly stopping: () => boolean,
  ) {}

  /** A scan's enrichment of hosts of VRF `vrf`, under the scan's budget from now. */
  begin(vrf: number): ScanEnrichment {
    const { ctx } = this;
    // Port checks are due when the host's last one (in the store) is older than scan.port_interval_seconds.
    const portsDue = async (address: string) => {
      const h = await ctx.store.host(vrf, ipKey(parseIp(address)));
      return !h?.ports_checked_at || ctx.now() - h.ports_checked_at >= ctx.scan.port_interval_seconds * 1000;
    };
    return new ScanEnrichment(
      { scan: ctx.scan, deps: ctx.deps, now: ctx.now, portsDue },
      this.ports,
      performance.now() + ctx.scan.enrich_budget_seconds * 1000,
    );
  }

  /**
   * Records what a scan's enrichment learned, in slices (slices.ts: a few ms each, one write batch
   * per turn), then starts nmap in the background (unless `nmap` is false: an agent's sweep,
   * whose hosts this exporter must not probe).
   */
  async record(subnet: SubnetRow, alive: string[], found: Enriched, nmap = true): Promise<void> {
    const { ctx } = this;
    const at = ctx.now();
    const open = [...found.open];
    const names = [...found.names];
    // Ports in chunks (a sweep checks every alive host's), names one by one (few change).
    const chunk = hostsPerStep(ctx.store.dialect);
    const portChunks = Math.ceil(open.length / chunk);
    await inSlices(ctx, portChunks + names.length, async (i) => {
      if (i < portChunks) await this.recordPorts(subnet, open.slice(i * chunk, (i + 1) * chunk), at);
      else await this.recordPtr(subnet, names[i - portChunks]![0], names[i - portChunks]![1], at);
    });
    if (nmap && ctx.deps.nmap && ctx.scan.nmap) void this.runNmap(subnet.vrf_id, alive);
  }

  /** Records service versions nmap found for a host of VRF `vrf` (here or at an agent's site) onto its ports. */
  async recordServices(
    vrf: number,
    address: string,
    found: NmapHost['services'] | undefined,
    at: number,
  ): Promise<void> {
    const { store } = this.ctx;
    const key = ipKey(parseIp(address));
    const fresh = await store.lockedHost(vrf, key);
    if (!fresh) return;
    const merged = parsePorts(fresh.ports).map((p) => {
      const s = found?.find((x) => x.port === p.port && x.protocol === 'tcp');
      // Chips keep the configured name; nmap's fills in where there is none.
      return s
        ? {
            ...p,
            service: p.service ?? (s.service === 'unknown' ? null : s.service),
            product: s.product,
            version: s.version,
          }
        : p;
    });
    await store.upsertHost({ ...fresh, ports: JSON.stringify(merged), nmap_checked_at: at });
  }

  /** The open ports of some hosts: their rows read and written in one statement each, events on changes. */
  private async recordPorts(subnet: SubnetRow, found: readonly [string, number[]][], at: number): Promise<void> {
    const { store } = this.ctx;
    const keys = found.map(([address]) => ipKey(parseIp(address)));
    const hosts = await store.lockedHosts(subnet.vrf_id, keys);
    const names = new Map(this.ports.map((p) => [p.port, p.service]));
    const rows: HostRow[] = [];
    const events: Omit<EventRow, 'id'>[] = [];
    found.forEach(([address, ports], i) => {
      const key = keys[i]!;
      const host = hosts.get(key.toString('hex'));
      if (!host) return;
      const before = parsePorts(host.ports);
      const next: StoredPort[] = ports.map((port) => {
        const old = before.find((p) => p.port === port);
        return old ?? { port, protocol: 'tcp', service: names.get(port) ?? null, product: null, version: null };
      });
      rows.push({ ...host, ports: JSON.stringify(next), ports_checked_at: at });
      const was = before.map((p) => p.port).join(',');
      const now = ports.join(',');
      if (host.ports_checked_at !== null && was !== now) {
        const opened = ports.filter((p) => !before.some((b) => b.port === p));
        const closed = before.filter((b) => !ports.includes(b.port)).map((b) => b.port);
        events.push({
          vrf_id: subnet.vrf_id,
          at,
          kind: 'ports_changed',
          ip_key: key,
          address,
          subnet_id: subnet.id,
          message: `${address}: ${[opened.length ? `opened ${opened.join(', ')}` : '', closed.length ? `closed ${closed.join(', ')}` : ''].filter(Boolean).join('; ')}`,
          details: JSON.stringify({ opened, closed }),
        });
      }
    });
    await store.upsertHosts(rows);
    if (events.length > 0) await store.insertEvents(events);
  }

  private async recordPtr(subnet: SubnetRow, address: string, ptr: string | null, at: number): Promise<void> {
    const { store, ipam } = this.ctx;
    const ip = parseIp(address);
    const key = ipKey(ip);
    const host = await store.lockedHost(subnet.vrf_id, key);
    if (!host || host.ptr === ptr || ptr === null) return;
    await store.upsertHost({ ...host, ptr });
    if (host.ptr !== null) {
      await store.insertEvent({
        vrf_id: subnet.vrf_id,
        at,
        kind: 'hostname_changed',
        ip_key: key,
        address,
        subnet_id: subnet.id,
        message: `${address} is now named ${ptr} (was ${host.ptr})`,
        details: JSON.stringify({ before: host.ptr, after: ptr }),
      });
    }
    // Discovered rows take the PTR name; a name a person entered always wins.
    const row = await ipam.addressAt(subnet.vrf_id, ip);
    if (row && row.source === 'discovered' && (row.hostname === null || row.hostname === host.ptr)) {
      await ipam.updateAddress(row.id, { hostname: ptr }, DISCOVERY_ACTOR);
    }
  }

  /** nmap -sV, one host at a time, for alive hosts with open ports whose last run is old enough (jittered). */
  private async runNmap(vrf: number, alive: string[]): Promise<void> {
    const { ctx } = this;
    const nmap = ctx.deps.nmap;
    if (this.nmapBusy || !nmap || !(await nmap.available())) return;
    this.nmapBusy = true;
    try {
      for (const address of alive) {
        if (this.stopping()) return;
        const key = ipKey(parseIp(address));
        const host = await ctx.store.host(vrf, key);
        const ports = host ? parsePorts(host.ports) : [];
        const interval = ctx.scan.nmap_interval_seconds * 1000 * (1 - ctx.scan.jitter_ratio * Math.random());
        if (
          !host ||
          ports.length === 0 ||
          (host.nmap_checked_at !== null && ctx.now() - host.nmap_checked_at < interval)
        )
          continue;
        let found: NmapHost | null = null;
        try {
          found = await nmap.run(
            address,
            ports.map((p) => p.port),
          );
        } catch (e) {
          ctx.logger.warn({ err: e, address }, 'nmap failed');
        }
        // Read again and written in one transaction: a sweep may have written the host meanwhile.
        await ctx.write(() => this.recordServices(vrf, address, found?.services, ctx.now()));
      }
    } finally {
      this.nmapBusy = false;
    }
  }
}
