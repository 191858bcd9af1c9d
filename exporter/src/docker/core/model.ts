// What the exporter keeps of Docker's objects, normalised from the Engine API's JSON
// (container inspect, network list, stats). Pure and defensive: fields an older engine leaves
// out become null instead of throwing.
import { parseIp, formatIp } from '../../ipam/core/ip.js';
import { formatPrefix, parsePrefix } from '../../ipam/core/prefix.js';

/** Docker's container states (State.Status); the state metric has one series per state. */
export const CONTAINER_STATES = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

/** Healthcheck results; `none` when the container has no healthcheck. */
export const HEALTH_STATUSES = ['healthy', 'unhealthy', 'starting', 'none'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export interface ContainerNetwork {
  network: string;
  network_id: string;
  /** Addresses the container holds now (empty while it is stopped unless they are static). */
  ipv4: string | null;
  ipv6: string | null;
  /** Addresses fixed in the container's config (`--ip`), kept by Docker while it is stopped. */
  static_ipv4: string | null;
  static_ipv6: string | null;
  mac: string | null;
}

export interface Container {
  id: string;
  name: string;
  image: string;
  /** The image the container runs (sha256:…), whatever its name now points at. */
  image_id: string | null;
  state: ContainerState;
  health: HealthStatus;
  restart_count: number;
  exit_code: number | null;
  /** Milliseconds since the epoch; null when never started. */
  started_at: number | null;
  finished_at: number | null;
  created_at: number | null;
  compose_project: string | null;
  compose_service: string | null;
  networks: ContainerNetwork[];
}

export interface NetworkSubnet {
  cidr: string;
  gateway: string | null;
  ip_range: string | null;
}

export interface Network {
  id: string;
  name: string;
  driver: string;
  scope: string;
  internal: boolean;
  /** IPAM pools; empty for host, none and networks without an IPAM config. */
  subnets: NetworkSubnet[];
}

export interface ContainerStats {
  cpu_seconds: number;
  memory_bytes: number | null;
  at: number;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Docker writes 0001-01-01T00:00:00Z for "never". */
function time(v: unknown): number | null {
  const s = str(v);
  if (!s || s.startsWith('0001-')) return null;
  const ms = Date.parse(s);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

function canonicalIp(v: unknown): string | null {
  const s = str(v);
  if (!s) return null;
  try {
    return formatIp(parseIp(s));
  } catch {
    return null;
  }
}

function canonicalPrefix(v: unknown): string | null {
  const s = str(v);
  if (!s) return null;
  try {
    return formatPrefix(parsePrefix(s));
  } catch {
    return null;
  }
}

export function containerFromInspect(raw: unknown): Container {
  const c = obj(raw);
  const state = obj(c.State);
  const config = obj(c.Config);
  const labels = obj(config.Labels);
  const status = str(state.Status) ?? 'created';
  const health = str(obj(state.Health).Status) ?? 'none';
  const networks = Object.entries(obj(obj(c.NetworkSettings).Networks))
    .map(([network, v]): ContainerNetwork => {
      const n = obj(v);
      const ipam = obj(n.IPAMConfig);
      return {
        network,
        network_id: str(n.NetworkID) ?? '',
        ipv4: canonicalIp(n.IPAddress),
        ipv6: canonicalIp(n.GlobalIPv6Address),
        static_ipv4: canonicalIp(ipam.IPv4Address),
        static_ipv6: canonicalIp(ipam.IPv6Address),
        mac: str(n.MacAddress)?.toLowerCase() ?? null,
      };
    })
    .sort((a, b) => a.network.localeCompare(b.network));
  return {
    id: str(c.Id) ?? '',
    name: (str(c.Name) ?? '').replace(/^\//, ''),
    image: str(config.Image) ?? str(c.Image) ?? '',
    image_id: str(c.Image),
    state: (CONTAINER_STATES as readonly string[]).includes(status) ? (status as ContainerState) : 'dead',
    health: (HEALTH_STATUSES as readonly string[]).includes(health) ? (health as HealthStatus) : 'none',
    restart_count: num(c.RestartCount) ?? 0,
    exit_code: num(state.ExitCode),
    started_at: time(state.StartedAt),
    finished_at: time(state.FinishedAt),
    created_at: time(c.Created),
    compose_project: str(labels['com.docker.compose.project']),
    compose_service: str(labels['com.docker.compose.service']),
    networks,
  };
}

export function networkFromApi(raw: unknown): Network {
  const n = obj(raw);
  const config = Array.isArray(obj(n.IPAM).Config) ? (obj(n.IPAM).Config as unknown[]) : [];
  const subnets = config.flatMap((entry): NetworkSubnet[] => {
    const e = obj(entry);
    const cidr = canonicalPrefix(e.Subnet);
    return cidr ? [{ cidr, gateway: canonicalIp(e.Gateway), ip_range: canonicalPrefix(e.IPRange) }] : [];
  });
  return {
    id: str(n.Id) ?? '',
    name: str(n.Name) ?? '',
    driver: str(n.Driver) ?? '',
    scope: str(n.Scope) ?? 'local',
    internal: n.Internal === true,
    subnets,
  };
}

/**
 * CPU seconds and memory from one `stats?stream=false&one-shot=true` sample. Memory is the
 * working set as `docker stats` shows it: usage minus inactive page cache (cgroup v2
 * `inactive_file`, v1 `total_inactive_file`).
 */
export function statsFromApi(raw: unknown, at: number): ContainerStats | null {
  const s = obj(raw);
  const cpu = num(obj(obj(s.cpu_stats).cpu_usage).total_usage);
  if (cpu === null) return null;
  const mem = obj(s.memory_stats);
  const usage = num(mem.usage);
  const inner = obj(mem.stats);
  const inactive = num(inner.inactive_file) ?? num(inner.total_inactive_file) ?? 0;
  return { cpu_seconds: cpu / 1e9, memory_bytes: usage === null ? null : Math.max(0, usage - inactive), at };
}
