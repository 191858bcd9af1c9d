// Enrichment of alive hosts after a sweep: open TCP ports (when due), PTR names (which also name
// discovered IPAM rows), then nmap -sV service versions, one host at a time in the background.
import { ipKey, parseIp } from '../ipam/core/ip.js';
import type { SubnetRow } from '../ipam/store.js';
import { DISCOVERY_ACTOR, type DiscoveryContext } from './context.js';
import { type PortSpec, type StoredPort, parsePorts } from './core/ports.js';
import type { NmapHost } from './nmap.js';

export class Enricher {
  private nmapBusy = false;

  /** @param stopping true once the exporter stops (the nmap loop ends between hosts) */
  constructor(
    private readonly ctx: DiscoveryContext,
    private readonly ports: readonly PortSpec[],
    private readonly stopping: () => boolean,
  ) {}

  async enrich(subnet: SubnetRow, alive: string[]): Promise<void> {
    const { ctx } = this;
    const cfg = ctx.scan;
    const now = ctx.now();
    const due = alive.filter((a) => {
      const h = ctx.store.host(ipKey(parseIp(a)));
      return !h?.ports_checked_at || now - h.ports_checked_at >= cfg.port_interval_seconds * 1000;
    });
    const [open, names] = await Promise.all([
      due.length > 0 && this.ports.length > 0
        ? ctx.deps.openPorts(
            due.map((address) => ({ address, ports: this.ports.map((p) => p.port) })),
            { timeoutMs: cfg.port_timeout_ms, concurrency: cfg.port_concurrency },
          )
        : Promise.resolve(new Map<string, number[]>()),
      ctx.deps.reverseDns
        ? Promise.all(alive.map(async (a) => [a, await ctx.deps.reverseDns!.lookup(a)] as const))
        : Promise.resolve([] as (readonly [string, string | null])[]),
    ]);
    const at = ctx.now();
    ctx.db
      .transaction(() => {
        for (const [address, ports] of open) this.recordPorts(subnet, address, ports, at);
        for (const [address, ptr] of names) this.recordPtr(subnet, address, ptr, at);
      })
      .immediate();
    if (ctx.deps.nmap && cfg.nmap) void this.runNmap(alive);
  }

  private recordPorts(subnet: SubnetRow, address: string, ports: number[], at: number): void {
    const { store } = this.ctx;
    const key = ipKey(parseIp(address));
    const host = store.host(key);
    if (!host) return;
    const before = parsePorts(host.ports);
    const names = new Map(this.ports.map((p) => [p.port, p.service]));
    const next: StoredPort[] = ports.map((port) => {
      const old = before.find((p) => p.port === port);
      return old ?? { port, protocol: 'tcp', service: names.get(port) ?? null, product: null, version: null };
    });
    store.upsertHost({ ...host, ports: JSON.stringify(next), ports_checked_at: at });
    const was = before.map((p) => p.port).join(',');
    const now = ports.join(',');
    if (host.ports_checked_at !== null && was !== now) {
      const opened = ports.filter((p) => !before.some((b) => b.port === p));
      const closed = before.filter((b) => !ports.includes(b.port)).map((b) => b.port);
      store.insertEvent({
        at,
        kind: 'ports_changed',
        ip_key: key,
        address,
        subnet_id: subnet.id,
        message: `${address}: ${[opened.length ? `opened ${opened.join(', ')}` : '', closed.length ? `closed ${closed.join(', ')}` : ''].filter(Boolean).join('; ')}`,
        details: JSON.stringify({ opened, closed }),
      });
    }
  }

  private recordPtr(subnet: SubnetRow, address: string, ptr: string | null, at: number): void {
    const { store, ipam } = this.ctx;
    const ip = parseIp(address);
    const key = ipKey(ip);
    const host = store.host(key);
    if (!host || host.ptr === ptr || ptr === null) return;
    store.upsertHost({ ...host, ptr });
    if (host.ptr !== null) {
      store.insertEvent({
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
    const row = ipam.addressAt(ip);
    if (row && row.source === 'discovered' && (row.hostname === null || row.hostname === host.ptr)) {
      ipam.updateAddress(row.id, { hostname: ptr }, DISCOVERY_ACTOR);
    }
  }

  /** nmap -sV, one host at a time, for alive hosts with open ports whose last run is old enough (jittered). */
  private async runNmap(alive: string[]): Promise<void> {
    const { ctx } = this;
    const nmap = ctx.deps.nmap;
    if (this.nmapBusy || !nmap || !(await nmap.available())) return;
    this.nmapBusy = true;
    try {
      for (const address of alive) {
        if (this.stopping()) return;
        const key = ipKey(parseIp(address));
        const host = ctx.store.host(key);
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
        const fresh = ctx.store.host(key);
        if (!fresh) continue;
        const merged = parsePorts(fresh.ports).map((p) => {
          const s = found?.services.find((x) => x.port === p.port && x.protocol === 'tcp');
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
        ctx.store.upsertHost({ ...fresh, ports: JSON.stringify(merged), nmap_checked_at: ctx.now() });
      }
    } finally {
      this.nmapBusy = false;
    }
  }
}
