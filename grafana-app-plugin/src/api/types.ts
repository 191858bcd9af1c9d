// Shapes of the Lanscape exporter API (see the exporter's /api/v1/openapi.json).

export interface Paged<T> {
  count: number;
  results: T[];
}

export interface Utilization {
  size: number;
  used: number;
  free: number;
  ratio: number;
  by_state: Record<string, number>;
}

export interface Subnet {
  id: number;
  cidr: string;
  family: 4 | 6;
  prefix_length: number;
  name: string;
  description: string;
  vlan: number | null;
  gateway: string | null;
  tags: string[];
  scan_enabled: boolean;
  scan_interval_seconds: number | null;
  parent_id: number | null;
  depth: number;
  children: number;
  utilization: Utilization;
  created_at: string;
  updated_at: string;
  /** What discovery knows: alive hosts and the latest scan (null when the exporter has no discovery). */
  discovery: {
    hosts_up: number;
    last_scan: { id: number; state: Scan['state']; trigger: Scan['trigger']; finished_at: string | null; alive: number; error?: string } | null;
  } | null;
}

export type SubnetInput = Partial<Pick<Subnet, 'name' | 'description' | 'vlan' | 'gateway' | 'tags' | 'scan_enabled' | 'scan_interval_seconds'>> & { cidr: string };

export type AddressState = 'reserved' | 'assigned' | 'dhcp' | 'deprecated' | 'provisioning';
export type AddressSource = 'manual' | 'discovered' | 'docker' | 'proxmox';
export type HostStatus = 'up' | 'down' | 'unknown';

export interface OpenPort {
  port: number;
  protocol: 'tcp';
  service: string | null;
  product: string | null;
  version: string | null;
}

export interface Observation {
  status: HostStatus;
  rtt_seconds: number | null;
  first_seen_at: string | null;
  last_seen_at: string | null;
  status_changed_at: string | null;
  last_checked_at: string | null;
  mac: string | null;
  vendor: string | null;
  ptr: string | null;
  ports: OpenPort[];
}

export interface Address {
  id: number;
  address: string;
  family: 4 | 6;
  subnet_id: number | null;
  state: AddressState;
  hostname: string | null;
  mac: string | null;
  description: string;
  owner: string | null;
  tags: string[];
  source: AddressSource;
  created_at: string;
  updated_at: string;
  observed: Observation | null;
}

export type AddressFields = Partial<Pick<Address, 'state' | 'hostname' | 'mac' | 'description' | 'owner' | 'tags' | 'source'>>;

export interface GapRow {
  type: 'gap';
  start_address: string;
  end_address: string;
  size: number;
  range_id: number | null;
}

export type SubnetRow = { type: 'address'; address: Address } | GapRow;

export interface SubnetRows extends Paged<SubnetRow> {
  subnet: Subnet;
}

export interface Range {
  id: number;
  subnet_id: number;
  start_address: string;
  end_address: string;
  label: string;
  color: string | null;
  purpose: string;
  description: string;
  auto_allocate: boolean;
  mark_utilized: boolean;
  utilization: Utilization;
}

export interface Scan {
  id: number;
  subnet_id: number;
  cidr: string;
  trigger: 'manual' | 'schedule';
  state: 'queued' | 'running' | 'done' | 'failed';
  progress: number;
  targets: number;
  sent: number;
  alive: number;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  error?: string;
}

export type EventKind = 'new_device' | 'up' | 'down' | 'mac_changed' | 'hostname_changed' | 'ports_changed';

export interface LanscapeEvent {
  id: number;
  at: string;
  kind: EventKind;
  address: string | null;
  subnet_id: number | null;
  message: string;
  details: unknown;
}

export interface Conflict {
  kind: 'mac_mismatch' | 'unknown_device' | 'stale_reservation';
  address: string;
  address_id: number;
  subnet_id: number | null;
  message: string;
  since: string | null;
  details: Record<string, unknown>;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  grafana_user: string | null;
  action: 'create' | 'update' | 'delete';
  object_type: 'subnet' | 'address' | 'range';
  object_id: number | null;
  object_repr: string;
  before: unknown;
  after: unknown;
}

export interface AddressHistory {
  address: string;
  observed: Observation | null;
  uptime: { '24h': number | null; '7d': number | null };
  samples: Array<{ at: string; up: boolean; rtt_seconds: number | null }>;
  hourly: Array<{ hour: string; samples: number; up_ratio: number; rtt_avg_seconds: number | null }>;
}

export interface ImportReport {
  kind: 'subnets' | 'addresses';
  dry_run: boolean;
  applied: boolean;
  rows: number;
  valid: number;
  errors: Array<{ row: number; line: number; field?: string; message: string }>;
}

export interface ExporterInfo {
  version: string;
  schema_version: number;
  collectors: Record<string, { up: boolean; message?: string }>;
}
