// Objects shaped like the exporter's answers (see exporter/src/ipam/schemas.ts).
import type {
  Address,
  Observation,
  Range,
  Subnet,
  SubnetRow,
  TrafficHost,
  TrafficSchedule,
  TrafficTest,
  TrafficTestInput,
  Utilization,
} from '../api/types';

export function utilization(used: number, size: number, extra: Partial<Utilization> = {}): Utilization {
  return { size, used, free: size - used, ratio: size ? used / size : 0, by_state: {}, ...extra };
}

export function subnet(overrides: Partial<Subnet> = {}): Subnet {
  return {
    id: 1,
    vrf_id: 1,
    cidr: '10.0.0.0/24',
    family: 4,
    prefix_length: 24,
    name: 'servers',
    description: '',
    vlan: 10,
    gateway: '10.0.0.1',
    tags: [],
    scan_enabled: true,
    scan_interval_seconds: null,
    agent_id: null,
    parent_id: null,
    depth: 0,
    children: 0,
    utilization: utilization(12, 254),
    created_at: '2026-11-20T10:00:00.000Z',
    updated_at: '2026-11-20T10:00:00.000Z',
    discovery: { hosts_up: 0, last_scan: null },
    ...overrides,
  };
}

export function observation(overrides: Partial<Observation> = {}): Observation {
  return {
    status: 'up',
    rtt_seconds: 0.00042,
    first_seen_at: '2026-11-20T10:00:00.000Z',
    last_seen_at: '2026-11-22T09:59:00.000Z',
    status_changed_at: '2026-11-22T08:00:00.000Z',
    last_checked_at: '2026-11-22T09:59:00.000Z',
    mac: null,
    vendor: null,
    ptr: null,
    ports: [],
    ...overrides,
  };
}

let nextId = 100;

export function address(ip: string, overrides: Partial<Address> = {}): Address {
  return {
    id: nextId++,
    vrf_id: 1,
    address: ip,
    family: ip.includes(':') ? 6 : 4,
    subnet_id: 1,
    state: 'assigned',
    hostname: null,
    mac: null,
    description: '',
    owner: null,
    tags: [],
    source: 'manual',
    created_at: '2026-11-20T10:00:00.000Z',
    updated_at: '2026-11-20T10:00:00.000Z',
    observed: null,
    ...overrides,
  };
}

export function addressRow(a: Address): SubnetRow {
  return { type: 'address', address: a };
}

export function gapRow(start: string, end: string, size: number, rangeId: number | null = null): SubnetRow {
  return { type: 'gap', start_address: start, end_address: end, size, range_id: rangeId };
}

export function range(overrides: Partial<Range> = {}): Range {
  return {
    id: 7,
    subnet_id: 1,
    vrf_id: 1,
    start_address: '10.0.0.100',
    end_address: '10.0.0.199',
    label: 'DHCP pool',
    color: '#33aa55',
    purpose: 'dhcp',
    description: '',
    auto_allocate: false,
    mark_utilized: false,
    utilization: utilization(0, 100),
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

export function trafficHost(name: string, overrides: Partial<TrafficHost> = {}): TrafficHost {
  return {
    name,
    address: '127.0.0.1',
    port: 22,
    user: 'lanscape',
    auth: 'key',
    host_key: { pinned: 'SHA256:abc', known_hosts: false, trusted_on_first_use: null },
    iperf3_port: 5201,
    ...overrides,
  };
}

/** What the forms send by default for loop-a → loop-b: TCP, 10 s, one stream, forward. */
const LOOP_TEST = {
  source: 'loop-a',
  target: 'loop-b',
  protocol: 'tcp',
  duration_seconds: 10,
  parallel: 1,
  reverse: false,
  start_server: false,
} as const;

/** The body of POST /traffic-tests (and what a schedule repeats) for loop-a → loop-b. */
export function trafficInput(overrides: Partial<TrafficTestInput> = {}): TrafficTestInput {
  return { ...LOOP_TEST, ...overrides };
}

/** A finished TCP test of loop-a → loop-b (exporter/src/traffic: the test view). */
export function trafficTest(overrides: Partial<TrafficTest> = {}): TrafficTest {
  return {
    id: 7,
    ...LOOP_TEST,
    target_address: '127.0.0.1',
    bitrate_bits_per_second: null,
    port: 5201,
    state: 'done',
    progress: 1,
    queued_at: '2026-11-22T10:00:00.000Z',
    started_at: '2026-11-22T10:00:00.100Z',
    finished_at: '2026-11-22T10:00:10.200Z',
    result: {
      sent_bits_per_second: 941_500_000,
      received_bits_per_second: 940_100_000,
      retransmits: 3,
      jitter_seconds: null,
      lost_packets: null,
      packets: null,
      loss_ratio: null,
      seconds: 10,
    },
    schedule_id: null,
    ...overrides,
  };
}

export function trafficSchedule(overrides: Partial<TrafficSchedule> = {}): TrafficSchedule {
  return {
    id: 3,
    ...LOOP_TEST,
    bitrate_bits_per_second: null,
    port: null,
    interval_seconds: 3600,
    jitter_seconds: 0,
    enabled: true,
    floor_bits_per_second: 500_000_000,
    last_test_id: null,
    next_run_at: null,
    ...overrides,
  };
}
