// IPAM metrics, computed from the store at scrape time so deleted objects vanish at once.
import type { Registry } from 'prom-client';
import { snapshotGroup } from '../metrics/snapshot.js';
import { ADDRESS_SOURCES, ADDRESS_STATES } from './core/fields.js';
import { buildTree } from './core/hierarchy.js';
import { type IpamService, prefixOf } from './service.js';
import type { RangeRow } from './store.js';

export function registerIpamMetrics(registry: Registry, ipam: IpamService): void {
  const gauge = snapshotGroup(registry, refresh);
  const subnetInfo = gauge('lanscape_subnet_info', 'Subnets managed by Lanscape; the value is always 1.');
  const subnetSize = gauge('lanscape_subnet_size_addresses', 'Usable addresses of a subnet.');
  const subnetAddresses = gauge('lanscape_subnet_addresses', 'Known addresses of a subnet by state.');
  const subnetFree = gauge('lanscape_subnet_free_addresses', 'Usable addresses of a subnet that are neither known nor in a range marked used.');
  const subnetRatio = gauge('lanscape_subnet_utilization_ratio', 'Used share of a subnet\'s usable addresses (0–1).');
  const rangeInfo = gauge('lanscape_range_info', 'Labelled ranges; the value is always 1.');
  const rangeSize = gauge('lanscape_range_size_addresses', 'Usable addresses of a range.');
  const rangeFree = gauge('lanscape_range_free_addresses', 'Free addresses of a range.');
  const rangeRatio = gauge('lanscape_range_utilization_ratio', 'Used share of a range (0–1).');
  const addresses = gauge('lanscape_addresses', 'All known addresses by state and source.');

  function refresh() {
    const rows = ipam.store.allSubnets();
    const tree = buildTree(rows.map((r) => ({ id: r.id, prefix: prefixOf(r) })));
    const cidrById = new Map(rows.map((r) => [r.id, r.cidr]));
    const usage = ipam.utilizations(rows);
    const rangesBySubnet = new Map<number, RangeRow[]>();
    for (const r of ipam.store.allRanges()) rangesBySubnet.set(r.subnet_id, [...(rangesBySubnet.get(r.subnet_id) ?? []), r]);
    for (const row of rows) {
      const subnet = row.cidr;
      const u = usage.get(row.id)!;
      const parentId = tree.get(row.id)?.parentId;
      subnetInfo.set({ subnet, name: row.name, vlan: row.vlan === null ? '' : String(row.vlan), family: String(row.family),
        parent: parentId ? cidrById.get(parentId) ?? '' : '' }, 1);
      subnetSize.set({ subnet }, Number(u.size));
      subnetFree.set({ subnet }, Number(u.free));
      subnetRatio.set({ subnet }, u.ratio);
      for (const state of ADDRESS_STATES) subnetAddresses.set({ subnet, state }, u.byState[state] ?? 0);
      for (const r of rangesBySubnet.get(row.id) ?? []) {
        const range = `${r.start_address}-${r.end_address}`;
        const ru = ipam.rangeUtilization(r, row);
        rangeInfo.set({ subnet, range, label: r.label, purpose: r.purpose, auto_allocate: String(r.auto_allocate === 1) }, 1);
        rangeSize.set({ subnet, range }, Number(ru.size));
        rangeFree.set({ subnet, range }, Number(ru.free));
        rangeRatio.set({ subnet, range }, ru.ratio);
      }
    }
    const counts = ipam.store.totalsByStateAndSource();
    const total = new Map(counts.map((c) => [`${c.state}/${c.source}`, c.n]));
    for (const state of ADDRESS_STATES) {
      for (const source of ADDRESS_SOURCES) addresses.set({ state, source }, total.get(`${state}/${source}`) ?? 0);
    }
  }
}
