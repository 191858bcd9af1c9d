// The Lanscape data source's query model. A query names what to read (queryType) and, for the
// types that have one, the subnet (an id, a CIDR, or a template variable such as `$subnet`) and
// the VRF its CIDR is in (queries saved before VRFs have none: the global VRF).
import type { DataQuery } from '@grafana/schema';

export const QUERY_TYPES = ['subnets', 'addresses', 'freeRanges', 'ranges', 'events', 'conflicts', 'guests'] as const;
export type QueryType = (typeof QUERY_TYPES)[number];

export const QUERY_TYPE_LABELS: Record<QueryType, { label: string; description: string }> = {
  subnets: { label: 'Subnets', description: 'Every subnet with its utilization' },
  addresses: { label: 'Addresses', description: 'The addresses of a subnet: state, owner, status, MAC, last seen' },
  freeRanges: { label: 'Free ranges', description: 'The runs of free addresses of a subnet' },
  ranges: { label: 'Ranges', description: 'The labelled ranges (DHCP pools, static blocks) with utilization' },
  events: { label: 'Events', description: 'Up/down, new device, MAC and hostname changes in the time range' },
  conflicts: { label: 'Conflicts', description: 'MAC mismatches, unknown devices and stale reservations' },
  guests: { label: 'Guests', description: 'Docker containers and Proxmox guests with their addresses' },
};

/** Query types that need a subnet. */
export const NEEDS_SUBNET: ReadonlySet<QueryType> = new Set(['addresses', 'freeRanges']);

export interface LanscapeQuery extends DataQuery {
  queryType?: QueryType;
  /**
   * Subnet id, CIDR ("10.0.0.0/24", or "10.0.0.0/24 (site-b)" naming its VRF) or a template
   * variable; ranges/events/conflicts take it as an optional filter.
   */
  subnet?: string;
  /** The VRF a CIDR is looked up in, by name or a template variable ($vrf); empty: global (#15). */
  vrf?: string;
  /** Address filters (addresses): state, source, up/down status, tag, free text. */
  state?: string;
  source?: string;
  status?: string;
  tag?: string;
  search?: string;
  /** Event kind (events). */
  eventKind?: string;
  /** Conflict kind (conflicts). */
  conflictKind?: string;
  /** docker | proxmox | all (guests). */
  platform?: 'all' | 'docker' | 'proxmox';
}

export const DEFAULT_QUERY: Partial<LanscapeQuery> = { queryType: 'subnets' };

/** The data source has no settings of its own: the Lanscape app's proxy holds the exporter's URL and tokens. */
export interface LanscapeOptions {}

/** What the addresses frame carries for the subnet map panel, in frame.meta.custom. */
export interface SubnetMeta {
  lanscape: 'addresses';
  subnet: { id: number; cidr: string; name: string; family: 4 | 6; prefix_length: number; size: number; used: number };
}
