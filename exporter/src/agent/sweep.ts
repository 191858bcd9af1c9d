// One sweep at the agent's site (#15): the full discovery pipeline of a local scan — the paced
// ICMP sweep with retries (discovery/observe.ts), neighbour MACs, port checks and PTR names under
// the scan's budget (discovery/enrich.ts), nmap -sV when central turned it on — turned into a
// result batch's observations. Nothing is applied here: central does that.
import { randomUUID } from 'node:crypto';
import type { Assignments, Observation, ResultBatch } from '../agents/schemas.js';
import type { DiscoveryDeps } from '../discovery/context.js';
import { withServiceNames } from '../discovery/core/ports.js';
import { sweepTargets } from '../discovery/core/targets.js';
import { ScanEnrichment } from '../discovery/enrich.js';
import { observeSweep } from '../discovery/observe.js';
import { parseSubnetPrefix } from '../ipam/core/prefix.js';

/** nmap runs on a host at most this often (the agent keeps the times in memory). */
const NMAP_INTERVAL_MS = 24 * 3_600_000;
/** Port checks of a host at most this often (as central's default scan.port_interval_seconds). */
const PORT_INTERVAL_MS = 3_600_000;

/** What a sweep made: a batch without the agent's self-report (added when it is sent). */
export type SweptBatch = Omit<ResultBatch, 'queue_depth' | 'dropped_total' | 'agent_version' | 'metrics_url'>;

/** What the agent remembers between sweeps (in memory: a restart checks ports again, harmlessly). */
export interface SiteMemory {
  portsCheckedAt: Map<string, number>;
  nmapAt: Map<string, number>;
}

export async function sweepSubnet(
  subnet: Assignments['subnets'][number],
  settings: Assignments['scan'],
  deps: DiscoveryDeps,
  memory: SiteMemory,
  now: () => number,
): Promise<SweptBatch> {
  const startedAt = now();
  const base = { batch_id: randomUUID(), subnet_id: subnet.id, started_at: new Date(startedAt).toISOString() };
  const failed = (error: string): SweptBatch => ({
    ...base,
    finished_at: new Date(now()).toISOString(),
    sent: 0,
    observations: [],
    error,
  });
  const icmp = deps.icmp();
  if (!icmp.up) return failed(`ICMP is unavailable: ${icmp.message}`);
  const prefix = parseSubnetPrefix(subnet.cidr);
  let targets: string[];
  try {
    targets = prefix.family === 4 ? sweepTargets(prefix, settings.max_prefix) : [...(subnet.targets ?? [])];
  } catch (e) {
    return failed((e as Error).message);
  }
  let socket;
  try {
    socket = deps.openEchoSocket(prefix.family);
  } catch (e) {
    return failed(`cannot open an ICMP socket: ${(e as Error).message}`);
  }
  const ports = withServiceNames(settings.ports);
  const enrichment = new ScanEnrichment(
    {
      scan: settings,
      deps: { openPorts: deps.openPorts, reverseDns: settings.rdns ? deps.reverseDns : null },
      now,
      portsDue: async (a) => now() - (memory.portsCheckedAt.get(a) ?? -Infinity) >= PORT_INTERVAL_MS,
    },
    settings.ports.length > 0 ? ports : [],
    performance.now() + settings.enrich_budget_seconds * 1000,
  );
  let result;
  try {
    ({ result } = await observeSweep(settings, targets, prefix.family, socket, enrichment));
  } catch (e) {
    return failed(`sweep failed: ${(e as Error).message}`);
  }
  const neighbours = await deps.readNeighbours(prefix.family);
  enrichment.add([...result.alive.keys()]);
  const found = await enrichment.finish();
  const checkedAt = now();
  for (const a of found.open.keys()) memory.portsCheckedAt.set(a, checkedAt);
  const services = new Map<string, NonNullable<Observation['services']>>();
  if (settings.nmap && deps.nmap && (await deps.nmap.available())) {
    for (const [address, open] of found.open) {
      if (open.length === 0 || checkedAt - (memory.nmapAt.get(address) ?? -Infinity) < NMAP_INTERVAL_MS) continue;
      const host = await deps.nmap.run(address, open).catch(() => null);
      memory.nmapAt.set(address, checkedAt);
      if (!host) continue;
      services.set(
        address,
        host.services
          .filter((s) => s.protocol === 'tcp' && open.includes(s.port))
          .map((s) => ({ port: s.port, service: s.service, product: s.product, version: s.version })),
      );
    }
  }
  const observations: Observation[] = [...result.alive].map(([address, rtt]) => {
    const mac = neighbours.get(address);
    const o: Observation = { address, rtt_seconds: rtt, mac: mac ? mac.toLowerCase() : null };
    const open = found.open.get(address);
    if (open) o.ports = open;
    if (found.names.has(address)) o.ptr = found.names.get(address) ?? null;
    const s = services.get(address);
    if (s) o.services = s;
    return o;
  });
  return {
    ...base,
    finished_at: new Date(now()).toISOString(),
    sent: result.sent,
    observations,
    ...(found.warnings.length > 0 ? { warnings: found.warnings } : {}),
  };
}
