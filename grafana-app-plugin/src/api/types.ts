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
    last_scan: {
      id: number;
      state: Scan['state'];
      trigger: Scan['trigger'];
      finished_at: string | null;
      alive: number;
      error?: string;
    } | null;
  } | null;
}

export type SubnetInput = Partial<
  Pick<Subnet, 'name' | 'description' | 'vlan' | 'gateway' | 'tags' | 'scan_enabled' | 'scan_interval_seconds'>
> & { cidr: string };

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

export type AddressFields = Partial<
  Pick<Address, 'state' | 'hostname' | 'mac' | 'description' | 'owner' | 'tags' | 'source'>
>;

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

/**
 * A CSV import running in the background (the exporter answers 202 with it for files of more
 * than 1,000 rows): the report's fields plus its state and progress. Poll GET /import-jobs/{id}.
 */
export interface ImportJob extends ImportReport {
  id: number;
  state: 'queued' | 'running' | 'done' | 'failed';
  phase: 'validating' | 'applying' | 'compensating' | null;
  /** 0–1: the rows checked, then the rows stored. */
  progress: number;
  checked: number;
  stored: number;
  /** Row errors in all; `errors` lists the first 1,000. */
  error_count: number;
  /** Why the job failed, in words. */
  error?: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface ExporterInfo {
  version: string;
  schema_version: number;
  collectors: Record<string, { up: boolean; message?: string }>;
}

// Traffic tests: iperf3 between configured hosts over SSH (exporter/src/traffic/).

export interface TrafficHost {
  name: string;
  address: string;
  port: number;
  user: string;
  auth: 'key' | 'agent';
  host_key: { pinned: string | null; known_hosts: boolean; trusted_on_first_use: string | null };
  iperf3_port: number;
}

export type TrafficProtocol = 'tcp' | 'udp';
export type TrafficTestState = 'queued' | 'running' | 'done' | 'failed';

export interface TrafficResult {
  sent_bits_per_second: number;
  received_bits_per_second: number;
  retransmits: number | null;
  jitter_seconds: number | null;
  lost_packets: number | null;
  packets: number | null;
  loss_ratio: number | null;
  seconds: number;
}

/** What POST /traffic-tests takes (and a schedule repeats). */
export interface TrafficTestInput {
  source: string;
  /** A configured host's name, or an IP address. */
  target: string;
  protocol?: TrafficProtocol;
  duration_seconds?: number;
  bitrate_bits_per_second?: number;
  parallel?: number;
  reverse?: boolean;
  start_server?: boolean;
  port?: number;
}

export interface TrafficTest {
  id: number;
  source: string;
  target: string;
  target_address: string;
  protocol: TrafficProtocol;
  duration_seconds: number;
  bitrate_bits_per_second: number | null;
  parallel: number;
  reverse: boolean;
  start_server: boolean;
  port: number;
  state: TrafficTestState;
  progress: number;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: TrafficResult | null;
  error?: string;
  schedule_id: number | null;
}

export interface TrafficSchedule {
  id: number;
  source: string;
  target: string;
  protocol: TrafficProtocol;
  duration_seconds: number;
  bitrate_bits_per_second: number | null;
  parallel: number;
  reverse: boolean;
  start_server: boolean;
  port: number | null;
  interval_seconds: number;
  jitter_seconds: number;
  enabled: boolean;
  floor_bits_per_second: number | null;
  last_test_id: number | null;
  next_run_at: string | null;
}

export type TrafficScheduleInput = Omit<TrafficTestInput, 'bitrate_bits_per_second'> & {
  bitrate_bits_per_second?: number | null;
  interval_seconds: number;
  jitter_seconds?: number;
  enabled?: boolean;
  floor_bits_per_second?: number | null;
};

// Proxmox VE: inventory, the VM wizard's lists and VM creation jobs (exporter/src/proxmox/http.ts).

export interface ProxmoxNode {
  node: string;
  online: boolean;
  cpu_usage_ratio: number | null;
  cpus: number | null;
  memory_used_bytes: number | null;
  memory_total_bytes: number | null;
  uptime_seconds: number | null;
  guests: number;
}

export interface ProxmoxGuestAddress {
  address: string;
  prefix_length: number | null;
  interface: string;
  mac: string | null;
  /** The IPAM record at this address, whoever made it. */
  address_id: number | null;
  source: string | null;
}

export interface ProxmoxGuest {
  vmid: number;
  type: 'qemu' | 'lxc';
  node: string;
  name: string;
  status: string;
  template: boolean;
  tags: string[];
  cpu_usage_ratio: number | null;
  cpus: number | null;
  memory_used_bytes: number | null;
  memory_total_bytes: number | null;
  disk_total_bytes: number | null;
  uptime_seconds: number | null;
  /** null when unknown (stopped, no guest agent). */
  addresses: ProxmoxGuestAddress[] | null;
}

export interface ProxmoxTemplate {
  vmid: number;
  name: string;
  node: string;
  tags: string[];
  disk_total_bytes: number | null;
  memory_total_bytes: number | null;
}

export interface ProxmoxStorage {
  storage: string;
  type: string;
  content: string[];
  shared: boolean;
  active: boolean;
  total_bytes: number | null;
  available_bytes: number | null;
}

export interface ProxmoxBridge {
  bridge: string;
  type: string;
  active: boolean;
  vlan_aware: boolean;
  cidr: string | null;
  comments: string | null;
}

/** The body of POST /vms (VmCreate). */
export interface VmCreateInput {
  node: string;
  name: string;
  clone?: { template_vmid: number; full: boolean; storage?: string };
  resources?: { cores: number; memory_mib: number; disk_gib: number; storage: string };
  network: {
    bridge: string;
    vlan?: number;
    address: { subnet_id: number; next_free: true } | { address: string; subnet_id?: number };
    gateway?: string;
    dns?: string[];
  };
  user?: string;
  ssh_keys?: string[];
  start: boolean;
}

export type VmJobState = 'queued' | 'running' | 'done' | 'failed';
export type VmStepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';
export type VmStepName =
  'reserve_address' | 'allocate_vmid' | 'create' | 'clone' | 'configure' | 'start' | 'assign_address' | 'cleanup';

export interface VmJobStep {
  name: VmStepName;
  state: VmStepState;
  started_at: string | null;
  finished_at: string | null;
  /** The Proxmox task of this step. */
  upid?: string;
  message?: string;
}

export interface VmJob {
  id: number;
  state: VmJobState;
  progress: number;
  steps: VmJobStep[];
  node: string;
  name: string;
  vmid: number | null;
  address: string | null;
  /** The IPAM address record. */
  address_id: number | null;
  error?: string;
  idempotency_key: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

// Docker: endpoints, containers, networks and overlaps (exporter/src/docker/http.ts).

export interface DockerEndpoint {
  name: string;
  url: string;
  up: boolean;
  version: string | null;
  api_version: string | null;
  /** Why the endpoint is down; null while it is up. */
  last_error: string | null;
  last_sync_at: string | null;
  containers: number;
  running: number;
  networks: number;
}

export type DockerContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
export type DockerHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface DockerContainerAddress {
  address: string;
  /** Held now (false: fixed in the config or last recorded, container not running). */
  live: boolean;
  address_id: number | null;
  source: string | null;
}

export interface DockerContainer {
  endpoint: string;
  id: string;
  name: string;
  image: string;
  state: DockerContainerState;
  health: DockerHealth;
  restart_count: number;
  exit_code: number | null;
  started_at: string | null;
  finished_at: string | null;
  created_at: string | null;
  compose_project: string | null;
  compose_service: string | null;
  cpu_seconds: number | null;
  memory_bytes: number | null;
  networks: Array<{ network: string; mac: string | null; addresses: DockerContainerAddress[] }>;
}

export interface DockerNetwork {
  endpoint: string;
  id: string;
  name: string;
  driver: string;
  scope: string;
  internal: boolean;
  containers: number;
  subnets: Array<{
    cidr: string;
    gateway: string | null;
    ip_range: string | null;
    /** The IPAM subnet with this CIDR, if any. */
    subnet_id: number | null;
    /** That subnet is managed by a person (an overlap), not created for a Docker network. */
    managed: boolean;
  }>;
}

export interface DockerConflict {
  kind: 'network_overlap';
  endpoint: string;
  network: string;
  /** The Docker pool. */
  cidr: string;
  subnet_id: number;
  /** The managed subnet it overlaps. */
  subnet: string;
  relation: 'same' | 'inside' | 'contains';
  message: string;
}
