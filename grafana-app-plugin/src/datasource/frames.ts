// The exporter's answers as Grafana data frames: one pure function per query type, so Table,
// Stat, Bar gauge and State timeline panels get proper types (time, number, boolean, string) and
// units (percentunit for utilization, s for round-trip times). Arrays (tags, ports) are joined
// into strings so a table shows them.
import { createDataFrame, type DataFrame, type FieldConfig, FieldType } from '@grafana/data';
import type {
  Address,
  Conflict,
  DockerContainer,
  GapRow,
  LanscapeEvent,
  ProxmoxGuest,
  Range,
  Subnet,
  Utilization,
} from '../api/types';
import { GLOBAL_VRF, ROUTES } from '../constants';
import { prefixRoute, subnetUrl } from '../utils/utils.routing';
import type { SubnetMeta } from './types';
import { mapSubnetOf } from '../components/SubnetMap/model';

interface Col {
  name: string;
  type: FieldType;
  values: unknown[];
  config?: FieldConfig;
}

const time = (v: string | null | undefined): number | null => (v ? Date.parse(v) : null);
const join = (v: string[] | null | undefined): string => (v ?? []).join(', ');

function frame(refId: string, name: string, cols: Col[], meta?: DataFrame['meta']): DataFrame {
  return createDataFrame({ refId, name, meta, fields: cols.map((c) => ({ ...c, config: c.config ?? {} })) });
}

const UTILIZATION: FieldConfig = { unit: 'percentunit', min: 0, max: 1, displayName: 'Utilization' };
const COUNT: FieldConfig = { unit: 'none', decimals: 0 };

function utilizationCols<T>(rows: T[], of: (row: T) => Utilization): Col[] {
  return [
    { name: 'size', type: FieldType.number, values: rows.map((r) => of(r).size), config: COUNT },
    { name: 'used', type: FieldType.number, values: rows.map((r) => of(r).used), config: COUNT },
    { name: 'free', type: FieldType.number, values: rows.map((r) => of(r).free), config: COUNT },
    { name: 'utilization', type: FieldType.number, values: rows.map((r) => of(r).ratio), config: UTILIZATION },
  ];
}

/** Subnets with their VRF (by name), utilization, counts by state and the last scan. */
export function subnetsFrame(refId: string, subnets: Subnet[], vrfName: (id: number) => string): DataFrame {
  const states = ['reserved', 'assigned', 'dhcp', 'deprecated', 'provisioning', 'discovered'];
  return frame(refId, 'subnets', [
    {
      name: 'id',
      type: FieldType.number,
      values: subnets.map((s) => s.id),
      config: { ...COUNT, custom: { hidden: true } },
    },
    {
      name: 'cidr',
      type: FieldType.string,
      values: subnets.map((s) => s.cidr),
      config: {
        displayName: 'Subnet',
        links: [{ title: 'Open in Lanscape', url: `${prefixRoute(ROUTES.Subnet)}/\${__data.fields.id}` }],
      },
    },
    {
      name: 'vrf',
      type: FieldType.string,
      values: subnets.map((s) => vrfName(s.vrf_id ?? GLOBAL_VRF.id)),
      config: { displayName: 'VRF' },
    },
    { name: 'name', type: FieldType.string, values: subnets.map((s) => s.name) },
    { name: 'description', type: FieldType.string, values: subnets.map((s) => s.description) },
    { name: 'vlan', type: FieldType.number, values: subnets.map((s) => s.vlan), config: COUNT },
    { name: 'gateway', type: FieldType.string, values: subnets.map((s) => s.gateway) },
    { name: 'tags', type: FieldType.string, values: subnets.map((s) => join(s.tags)) },
    ...utilizationCols(subnets, (s) => s.utilization),
    ...states.map((state) => ({
      name: state,
      type: FieldType.number,
      values: subnets.map((s) => s.utilization.by_state[state] ?? 0),
      config: COUNT,
    })),
    {
      name: 'hosts_up',
      type: FieldType.number,
      values: subnets.map((s) => s.discovery?.hosts_up ?? null),
      config: COUNT,
    },
    { name: 'scan_enabled', type: FieldType.boolean, values: subnets.map((s) => s.scan_enabled) },
    {
      name: 'last_scan',
      type: FieldType.time,
      values: subnets.map((s) => time(s.discovery?.last_scan?.finished_at)),
    },
    { name: 'updated_at', type: FieldType.time, values: subnets.map((s) => time(s.updated_at)) },
  ]);
}

/** Filters the addresses query applies on top of what the exporter returns. */
export interface AddressFilter {
  state?: string;
  source?: string;
  status?: string;
  tag?: string;
  search?: string;
}

export function matchesAddress(a: Address, f: AddressFilter): boolean {
  if (f.state && a.state !== f.state) {
    return false;
  }
  if (f.source && a.source !== f.source) {
    return false;
  }
  if (f.status && (a.observed?.status ?? 'unknown') !== f.status) {
    return false;
  }
  if (f.tag && !a.tags.includes(f.tag)) {
    return false;
  }
  if (f.search) {
    const q = f.search.toLowerCase();
    const text = [
      a.address,
      a.hostname,
      a.owner,
      a.description,
      a.mac,
      a.observed?.mac,
      a.observed?.vendor,
      a.observed?.ptr,
    ]
      .filter(Boolean)
      .join(' ')
      .toLowerCase();
    if (!text.includes(q)) {
      return false;
    }
  }
  return true;
}

/**
 * The addresses of a subnet. meta.custom carries the subnet (SubnetMeta) so the subnet map panel
 * can lay the addresses out without asking the exporter anything itself.
 */
export function addressesFrame(refId: string, subnet: Subnet, addresses: Address[]): DataFrame {
  const meta: SubnetMeta = { lanscape: 'addresses', subnet: mapSubnetOf(subnet) };
  const a = addresses;
  return frame(
    refId,
    `addresses ${subnet.cidr}`,
    [
      {
        name: 'id',
        type: FieldType.number,
        values: a.map((x) => x.id),
        config: { ...COUNT, custom: { hidden: true } },
      },
      {
        name: 'address',
        type: FieldType.string,
        values: a.map((x) => x.address),
        config: {
          displayName: 'Address',
          links: [{ title: 'Open in Lanscape', url: `${subnetUrl(subnet.id)}?address=\${__data.fields.id}` }],
        },
      },
      { name: 'state', type: FieldType.string, values: a.map((x) => x.state) },
      { name: 'source', type: FieldType.string, values: a.map((x) => x.source) },
      { name: 'status', type: FieldType.string, values: a.map((x) => x.observed?.status ?? 'unknown') },
      { name: 'hostname', type: FieldType.string, values: a.map((x) => x.hostname ?? x.observed?.ptr ?? null) },
      { name: 'owner', type: FieldType.string, values: a.map((x) => x.owner) },
      { name: 'description', type: FieldType.string, values: a.map((x) => x.description) },
      { name: 'mac', type: FieldType.string, values: a.map((x) => x.observed?.mac ?? x.mac) },
      { name: 'vendor', type: FieldType.string, values: a.map((x) => x.observed?.vendor ?? null) },
      { name: 'tags', type: FieldType.string, values: a.map((x) => join(x.tags)) },
      {
        name: 'ports',
        type: FieldType.string,
        values: a.map((x) => (x.observed?.ports ?? []).map((p) => `${p.port}/${p.protocol}`).join(', ')),
      },
      {
        name: 'rtt',
        type: FieldType.number,
        values: a.map((x) => x.observed?.rtt_seconds ?? null),
        config: { unit: 's', displayName: 'RTT' },
      },
      { name: 'last_seen', type: FieldType.time, values: a.map((x) => time(x.observed?.last_seen_at)) },
      { name: 'status_changed', type: FieldType.time, values: a.map((x) => time(x.observed?.status_changed_at)) },
      { name: 'first_seen', type: FieldType.time, values: a.map((x) => time(x.observed?.first_seen_at)) },
      { name: 'updated_at', type: FieldType.time, values: a.map((x) => time(x.updated_at)) },
    ],
    { custom: meta as unknown as Record<string, unknown> }
  );
}

/** The runs of free addresses of a subnet (the exporter's gap rows). */
export function freeRangesFrame(refId: string, subnet: Subnet, gaps: GapRow[]): DataFrame {
  return frame(refId, `free ${subnet.cidr}`, [
    { name: 'start', type: FieldType.string, values: gaps.map((g) => g.start_address) },
    { name: 'end', type: FieldType.string, values: gaps.map((g) => g.end_address) },
    { name: 'size', type: FieldType.number, values: gaps.map((g) => g.size), config: COUNT },
    { name: 'range_id', type: FieldType.number, values: gaps.map((g) => g.range_id), config: COUNT },
    { name: 'subnet', type: FieldType.string, values: gaps.map(() => subnet.cidr) },
  ]);
}

/** Ranges (DHCP pools, static blocks) with their utilization. */
export function rangesFrame(refId: string, ranges: Range[]): DataFrame {
  return frame(refId, 'ranges', [
    { name: 'id', type: FieldType.number, values: ranges.map((r) => r.id), config: COUNT },
    { name: 'subnet_id', type: FieldType.number, values: ranges.map((r) => r.subnet_id), config: COUNT },
    { name: 'label', type: FieldType.string, values: ranges.map((r) => r.label) },
    { name: 'purpose', type: FieldType.string, values: ranges.map((r) => r.purpose) },
    { name: 'start', type: FieldType.string, values: ranges.map((r) => r.start_address) },
    { name: 'end', type: FieldType.string, values: ranges.map((r) => r.end_address) },
    { name: 'description', type: FieldType.string, values: ranges.map((r) => r.description) },
    ...utilizationCols(ranges, (r) => r.utilization),
    { name: 'auto_allocate', type: FieldType.boolean, values: ranges.map((r) => r.auto_allocate) },
    { name: 'mark_utilized', type: FieldType.boolean, values: ranges.map((r) => r.mark_utilized) },
  ]);
}

/**
 * Events in the time range, newest first. The fields time/title/text/tags are what Grafana's
 * annotation support reads, so the same frame serves as annotations.
 */
export function eventsFrame(refId: string, events: LanscapeEvent[]): DataFrame {
  return frame(refId, 'events', [
    { name: 'time', type: FieldType.time, values: events.map((e) => Date.parse(e.at)) },
    { name: 'kind', type: FieldType.string, values: events.map((e) => e.kind) },
    { name: 'address', type: FieldType.string, values: events.map((e) => e.address) },
    { name: 'subnet_id', type: FieldType.number, values: events.map((e) => e.subnet_id), config: COUNT },
    {
      name: 'title',
      type: FieldType.string,
      values: events.map((e) => `${e.kind.replace(/_/g, ' ')}${e.address ? ` ${e.address}` : ''}`),
    },
    { name: 'text', type: FieldType.string, values: events.map((e) => e.message) },
    { name: 'tags', type: FieldType.other, values: events.map((e) => ['lanscape', e.kind]) },
  ]);
}

/** Open conflicts; `time` is when each began (null when unknown). */
export function conflictsFrame(refId: string, conflicts: Conflict[]): DataFrame {
  return frame(refId, 'conflicts', [
    { name: 'time', type: FieldType.time, values: conflicts.map((c) => time(c.since)) },
    { name: 'kind', type: FieldType.string, values: conflicts.map((c) => c.kind) },
    { name: 'address', type: FieldType.string, values: conflicts.map((c) => c.address) },
    { name: 'address_id', type: FieldType.number, values: conflicts.map((c) => c.address_id), config: COUNT },
    { name: 'subnet_id', type: FieldType.number, values: conflicts.map((c) => c.subnet_id), config: COUNT },
    {
      name: 'title',
      type: FieldType.string,
      values: conflicts.map((c) => `${c.kind.replace(/_/g, ' ')} ${c.address}`),
    },
    { name: 'text', type: FieldType.string, values: conflicts.map((c) => c.message) },
    { name: 'tags', type: FieldType.other, values: conflicts.map((c) => ['lanscape', 'conflict', c.kind]) },
  ]);
}

interface GuestRow {
  platform: 'docker' | 'proxmox';
  host: string;
  name: string;
  id: string;
  kind: string;
  status: string;
  address: string | null;
  mac: string | null;
  network: string | null;
  address_id: number | null;
  memory: number | null;
}

/** Docker containers and Proxmox guests, one row per address (a guest without one: one row, no address). */
export function guestsFrame(refId: string, containers: DockerContainer[], guests: ProxmoxGuest[]): DataFrame {
  const rows: GuestRow[] = [];
  for (const c of containers) {
    const base = {
      platform: 'docker' as const,
      host: c.endpoint,
      name: c.name,
      id: c.id.slice(0, 12),
      kind: c.image,
      status: c.state,
      memory: c.memory_bytes,
    };
    const addrs = c.networks.flatMap((n) =>
      n.addresses.map((a) => ({ address: a.address, mac: n.mac, network: n.network, address_id: a.address_id ?? null }))
    );
    if (addrs.length === 0) {
      rows.push({ ...base, address: null, mac: null, network: null, address_id: null });
    }
    for (const a of addrs) {
      rows.push({ ...base, ...a });
    }
  }
  for (const g of guests) {
    const base = {
      platform: 'proxmox' as const,
      host: g.node,
      name: g.name,
      id: String(g.vmid),
      kind: g.type,
      status: g.status,
      memory: g.memory_used_bytes,
    };
    const addrs = g.addresses ?? [];
    if (addrs.length === 0) {
      rows.push({ ...base, address: null, mac: null, network: null, address_id: null });
    }
    for (const a of addrs) {
      rows.push({ ...base, address: a.address, mac: a.mac, network: a.interface, address_id: a.address_id });
    }
  }
  return frame(refId, 'guests', [
    { name: 'platform', type: FieldType.string, values: rows.map((r) => r.platform) },
    { name: 'host', type: FieldType.string, values: rows.map((r) => r.host) },
    { name: 'name', type: FieldType.string, values: rows.map((r) => r.name) },
    { name: 'id', type: FieldType.string, values: rows.map((r) => r.id) },
    { name: 'kind', type: FieldType.string, values: rows.map((r) => r.kind) },
    { name: 'status', type: FieldType.string, values: rows.map((r) => r.status) },
    { name: 'address', type: FieldType.string, values: rows.map((r) => r.address) },
    { name: 'mac', type: FieldType.string, values: rows.map((r) => r.mac) },
    { name: 'network', type: FieldType.string, values: rows.map((r) => r.network) },
    { name: 'address_id', type: FieldType.number, values: rows.map((r) => r.address_id), config: COUNT },
    { name: 'memory', type: FieldType.number, values: rows.map((r) => r.memory), config: { unit: 'bytes' } },
  ]);
}
