// Discovery metrics. Per-address series exist only for addresses that are known to IPAM or
// alive, so their number is bounded by what the user manages plus what answers.
import { Counter, Histogram, type Registry } from 'prom-client';
import { snapshotGroup } from '../metrics/snapshot.js';
import { buildTree } from '../ipam/core/hierarchy.js';
import { ipFromKey, parseIp } from '../ipam/core/ip.js';
import { SubnetIndex, prefixOf } from '../ipam/service.js';
import { CONFLICT_KINDS, parsePorts, type DiscoveryService } from './service.js';

/** smokeping_prober's buckets: 50 µs doubling to about 26 s. */
export const RTT_BUCKETS = Array.from({ length: 20 }, (_, i) => 0.00005 * 2 ** i);

export function registerDiscoveryMetrics(registry: Registry, discovery: DiscoveryService, collectors: () => Record<string, boolean>): void {
  const ipam = discovery.ipam;
  const rtt = new Histogram({
    name: 'lanscape_host_rtt_seconds', help: 'ICMP round-trip time per address, one observation per sweep answer.',
    labelNames: ['address', 'subnet'], buckets: RTT_BUCKETS, registers: [registry],
  });
  const packets = new Counter({
    name: 'lanscape_scan_packets_sent_total', help: 'ICMP echo requests sent by sweeps, retries included.',
    labelNames: ['subnet'], registers: [registry],
  });
  const runs = new Counter({
    name: 'lanscape_scan_runs_total', help: 'Sweeps finished, by result.', labelNames: ['subnet', 'result'], registers: [registry],
  });
  const rttSeries = new Map<string, { address: string; subnet: string }>();

  discovery.onSweep.push((report) => {
    packets.inc({ subnet: report.subnet }, report.sent);
    runs.inc({ subnet: report.subnet, result: report.ok ? 'success' : 'failure' });
    if (!report.ok) return;
    const index = ipam.subnetIndex();
    const cidrs = new Map(ipam.store.allSubnets().map((s) => [s.id, s.cidr]));
    for (const [address, seconds] of report.rtts) {
      const id = index.mostSpecific(parseIp(address));
      const labels = { address, subnet: (id && cidrs.get(id)) || report.subnet };
      rtt.observe(labels, seconds);
      rttSeries.set(`${labels.address}|${labels.subnet}`, labels);
    }
  });

  const gauge = snapshotGroup(registry, refresh);
  const hostUp = gauge('lanscape_host_up', 'Whether the address answered ICMP (1) or is down (0); unknown addresses have no series.');
  const hostInfo = gauge('lanscape_host_info', 'Known or alive addresses with their names and hardware; the value is always 1.');
  const lastSeen = gauge('lanscape_host_last_seen_timestamp_seconds', 'When the address last answered ICMP.');
  const openPort = gauge('lanscape_host_open_port_info', 'Open TCP ports of alive or known addresses; the value is always 1.');
  const hostsUp = gauge('lanscape_subnet_hosts_up', 'Addresses of a subnet that answer ICMP.');
  const duration = gauge('lanscape_scan_duration_seconds', 'Duration of the last successful sweep of a subnet.');
  const success = gauge('lanscape_scan_last_success_timestamp_seconds', 'When the last successful sweep of a subnet finished.');
  const interval = gauge('lanscape_subnet_scan_interval_seconds', 'Interval of scheduled sweeps of a subnet; no series when the subnet is not swept on a schedule.');
  const conflicts = gauge('lanscape_conflicts', 'Conflicts per subnet by kind (mac_mismatch, unknown_device, stale_reservation).');
  const conflictInfo = gauge('lanscape_address_conflict_info', 'One series per address in conflict, by kind; the value is always 1.');
  const unknownHosts = gauge('lanscape_unknown_hosts', 'Alive addresses inside managed subnets that nobody reserved.');
  const collectorUp = gauge('lanscape_collector_up', 'Whether a collector works (1) or not (0).');

  function refresh() {
    const subnets = ipam.store.allSubnets();
    const cidrs = new Map(subnets.map((s) => [s.id, s.cidr]));
    const index = new SubnetIndex(subnets);
    const tree = buildTree(subnets.map((s) => ({ id: s.id, prefix: prefixOf(s) })));
    const upBySubnet = new Map<string, number>(subnets.map((s) => [s.cidr, 0]));
    const tracked = new Set<string>();
    const subnetsWithHosts = new Set<string>();
    for (const h of discovery.trackedHosts()) {
      const ip = ipFromKey(h.ip_key);
      const id = index.mostSpecific(ip);
      const subnet = (id && cidrs.get(id)) || '';
      const labels = { address: h.address, subnet };
      tracked.add(`${h.address}|${subnet}`);
      if (subnet) subnetsWithHosts.add(subnet);
      if (h.status !== 'unknown') hostUp.set(labels, h.status === 'up' ? 1 : 0);
      hostInfo.set({ ...labels, hostname: h.hostname ?? h.ptr ?? '', mac: h.mac ?? '', vendor: h.vendor ?? '',
        state: h.state ?? '', source: h.source ?? '', critical: String(h.critical) }, 1);
      if (h.last_seen_at !== null) lastSeen.set(labels, h.last_seen_at / 1000);
      for (const p of parsePorts(h.ports)) {
        openPort.set({ ...labels, port: String(p.port), protocol: p.protocol, service: p.service ?? '' }, 1);
      }
      // A host counts as up in its subnet and every enclosing one, as utilization does.
      if (h.status === 'up') {
        for (let s = id; s !== null && s !== undefined; s = tree.get(s)?.parentId ?? null) {
          const cidr = cidrs.get(s)!;
          upBySubnet.set(cidr, (upBySubnet.get(cidr) ?? 0) + 1);
        }
      }
    }
    for (const [subnet, n] of upBySubnet) hostsUp.set({ subnet }, n);
    // From the store, not memory: the series survive exporter restarts, so scan alerts do not.
    for (const scan of discovery.store.lastSuccessfulScans()) {
      const subnet = cidrs.get(scan.subnet_id);
      if (subnet === undefined) continue;
      duration.set({ subnet }, (scan.finished_at - scan.started_at) / 1000);
      success.set({ subnet }, scan.finished_at / 1000);
    }
    for (const s of subnets) {
      const seconds = discovery.scheduledInterval(s);
      if (seconds !== null) interval.set({ subnet: s.cidr }, seconds);
    }
    const found = discovery.conflicts(undefined, index);
    // Every subnet with tracked hosts has all three kinds (0 included), so alerts and dashboards
    // see steady series; a subnet without hosts cannot have a conflict and exports none (1,000
    // empty subnets would otherwise add 3,000 series to every scrape).
    const counts = new Map<string, number>();
    for (const c of found) {
      const subnet = (c.subnet_id && cidrs.get(c.subnet_id)) || '';
      conflictInfo.set({ address: c.address, subnet, kind: c.kind }, 1);
      counts.set(`${subnet}|${c.kind}`, (counts.get(`${subnet}|${c.kind}`) ?? 0) + 1);
    }
    for (const subnet of subnetsWithHosts) {
      for (const kind of CONFLICT_KINDS) conflicts.set({ subnet, kind }, counts.get(`${subnet}|${kind}`) ?? 0);
    }
    unknownHosts.set({}, found.filter((c) => c.kind === 'unknown_device').length);
    for (const [collector, up] of Object.entries(collectors())) collectorUp.set({ collector }, up ? 1 : 0);
    // Series of addresses no longer tracked (released, subnet deleted) vanish.
    for (const [k, labels] of rttSeries) {
      if (!tracked.has(k)) {
        rtt.remove(labels);
        rttSeries.delete(k);
      }
    }
  }
}
