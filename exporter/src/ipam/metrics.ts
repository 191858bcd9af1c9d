// IPAM metrics, computed from the store at scrape time so deleted objects vanish at once.
import { Gauge, type Registry } from 'prom-client';
import { ADDRESS_SOURCES, ADDRESS_STATES } from './core/fields.js';
import { buildTree } from './core/hierarchy.js';
import { type IpamService, prefixOf } from './service.js';

export function registerIpamMetrics(registry: Registry, ipam: IpamService): void {
  const gauge = (name: string, help: string, labelNames: string[], collect?: () => void) =>
    new Gauge({ name, help, labelNames, registers: [], ...(collect ? { collect } : {}) });
  // prom-client collects metrics in registration order and this one's collect is synchronous,
  // so refreshing here updates every IPAM series once per scrape, before the others are read.
  const subnetInfo = gauge('lanscape_subnet_info', 'Subnets managed by Lanscape; the value is always 1.',
    ['subnet', 'name', 'vlan', 'family', 'parent'], () => refresh());
  const subnetSize = gauge('lanscape_subnet_size_addresses', 'Usable addresses of a subnet.', ['subnet']);
  const subnetAddresses = gauge('lanscape_subnet_addresses', 'Known addresses of a subnet by state.', ['subnet', 'state']);
  const subnetFree = gauge('lanscape_subnet_free_addresses', 'Usable addresses of a subnet that are neither known nor in a range marked used.', ['subnet']);
  const subnetRatio = gauge('lanscape_subnet_utilization_ratio', 'Used share of a subnet\'s usable addresses (0–1).', ['subnet']);
  const rangeInfo = gauge('lanscape_range_info', 'Labelled ranges; the value is always 1.', ['subnet', 'range', 'label', 'purpose', 'auto_allocate']);
  const rangeSize = gauge('lanscape_range_size_addresses', 'Usable addresses of a range.', ['subnet', 'range']);
  const rangeFree = gauge('lanscape_range_free_addresses', 'Free addresses of a range.', ['subnet', 'range']);
  const rangeRatio = gauge('lanscape_range_utilization_ratio', 'Used share of a range (0–1).', ['subnet', 'range']);
  const addresses = gauge('lanscape_addresses', 'All known addresses by state and source.', ['state', 'source']);
  const all = [subnetInfo, subnetSize, subnetAddresses, subnetFree, subnetRatio, rangeInfo, rangeSize, rangeFree, rangeRatio, addresses];

  function refresh() {
    for (const g of all) g.reset();
    const rows = ipam.store.allSubnets();
    const tree = buildTree(rows.map((r) => ({ id: r.id, prefix: prefixOf(r) })));
    const cidrById = new Map(rows.map((r) => [r.id, r.cidr]));
    for (const row of rows) {
      const subnet = row.cidr;
      const u = ipam.subnetUtilization(row);
      const parentId = tree.get(row.id)?.parentId;
      subnetInfo.set({ subnet, name: row.name, vlan: row.vlan === null ? '' : String(row.vlan), family: String(row.family),
        parent: parentId ? cidrById.get(parentId) ?? '' : '' }, 1);
      subnetSize.set({ subnet }, Number(u.size));
      subnetFree.set({ subnet }, Number(u.free));
      subnetRatio.set({ subnet }, u.ratio);
      for (const state of ADDRESS_STATES) subnetAddresses.set({ subnet, state }, u.byState[state] ?? 0);
      for (const r of ipam.store.rangesOfSubnet(row.id)) {
        const range = `${r.start_address}-${r.end_address}`;
        const ru = ipam.rangeUtilization(r, row);
        rangeInfo.set({ subnet, range, label: r.label, purpose: r.purpose, auto_allocate: String(r.auto_allocate === 1) }, 1);
        rangeSize.set({ subnet, range }, Number(ru.size));
        rangeFree.set({ subnet, range }, Number(ru.free));
        rangeRatio.set({ subnet, range }, ru.ratio);
      }
    }
    const counts = ipam.db.prepare('SELECT state, source, count(*) AS n FROM addresses GROUP BY state, source').all() as
      { state: string; source: string; n: number }[];
    for (const state of ADDRESS_STATES) for (const source of ADDRESS_SOURCES) addresses.set({ state, source }, 0);
    for (const c of counts) addresses.set({ state: c.state, source: c.source }, c.n);
  }
  for (const g of all) registry.registerMetric(g);
}
