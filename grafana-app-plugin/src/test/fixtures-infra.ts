// Objects shaped like the exporter's Proxmox and Docker answers (exporter/src/proxmox/http.ts,
// exporter/src/docker/http.ts).
import type {
  DockerContainer,
  DockerEndpoint,
  DockerNetwork,
  ProxmoxBridge,
  ProxmoxGuest,
  ProxmoxNode,
  ProxmoxStorage,
  ProxmoxTemplate,
  VmJob,
  VmJobStep,
  VmStepName,
} from '../api/types';
import { fail } from './backend';

const GiB = 2 ** 30;
export const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG7p4mxWyuQW+Zv0fjVwL9XbQn3oH1pA/2sVbq0o0Jj1 alice@laptop';
export const UPID = 'UPID:pve1:00001001:00007007:67400000:qmclone:9000:root@pam!lanscape:';
/** The exporter's answer while Proxmox is not configured (503). */
export const PROXMOX_NOT_CONFIGURED = fail(
  503,
  'Proxmox is not configured: set LANSCAPE_PROXMOX_URL, LANSCAPE_PROXMOX_TOKEN_ID and LANSCAPE_PROXMOX_TOKEN_SECRET',
  'proxmox_not_configured'
);

export function pveNode(node: string, overrides: Partial<ProxmoxNode> = {}): ProxmoxNode {
  return {
    node,
    online: true,
    cpu_usage_ratio: 0.12,
    cpus: 8,
    memory_used_bytes: 6 * GiB,
    memory_total_bytes: 32 * GiB,
    uptime_seconds: 86_400,
    guests: 3,
    ...overrides,
  };
}

export function pveGuest(vmid: number, overrides: Partial<ProxmoxGuest> = {}): ProxmoxGuest {
  return {
    vmid,
    type: 'qemu',
    node: 'pve1',
    name: `vm-${vmid}`,
    status: 'running',
    template: false,
    tags: [],
    cpu_usage_ratio: 0.05,
    cpus: 2,
    memory_used_bytes: GiB / 2,
    memory_total_bytes: 2 * GiB,
    disk_total_bytes: 32 * GiB,
    uptime_seconds: 1234,
    addresses: [],
    ...overrides,
  };
}

export function pveTemplate(vmid = 9000, overrides: Partial<ProxmoxTemplate> = {}): ProxmoxTemplate {
  return {
    vmid,
    name: 'debian-12',
    node: 'pve1',
    tags: [],
    disk_total_bytes: 4 * GiB,
    memory_total_bytes: 2 * GiB,
    ...overrides,
  };
}

export function pveStorage(storage = 'local-lvm', overrides: Partial<ProxmoxStorage> = {}): ProxmoxStorage {
  return {
    storage,
    type: 'lvmthin',
    content: ['images', 'rootdir'],
    shared: false,
    active: true,
    total_bytes: 400 * GiB,
    available_bytes: 360 * GiB,
    ...overrides,
  };
}

export function pveBridge(bridge = 'vmbr0', overrides: Partial<ProxmoxBridge> = {}): ProxmoxBridge {
  return {
    bridge,
    type: 'bridge',
    active: true,
    vlan_aware: true,
    cidr: '192.0.2.10/24',
    comments: null,
    ...overrides,
  };
}

const CLONE_STEPS: VmStepName[] = ['reserve_address', 'allocate_vmid', 'clone', 'configure', 'start', 'assign_address'];

/** Steps of a clone job: the first `done` done, the next running (with a UPID), the rest pending. */
export function cloneSteps(done: number, names: VmStepName[] = CLONE_STEPS): VmJobStep[] {
  return names.map((name, i) => ({
    name,
    state: i < done ? 'done' : i === done ? 'running' : 'pending',
    started_at: i <= done ? '2026-11-22T10:00:00.000Z' : null,
    finished_at: i < done ? '2026-11-22T10:00:01.000Z' : null,
    ...(name === 'clone' && i <= done ? { upid: UPID } : {}),
  }));
}

export function vmJob(overrides: Partial<VmJob> = {}): VmJob {
  return {
    id: 4,
    state: 'running',
    progress: 0.25,
    steps: cloneSteps(1),
    node: 'pve1',
    name: 'web-1',
    vmid: null,
    address: '10.20.0.2',
    address_id: 77,
    idempotency_key: null,
    created_at: '2026-11-22T10:00:00.000Z',
    updated_at: '2026-11-22T10:00:00.000Z',
    finished_at: null,
    ...overrides,
  };
}

export function dockerEndpoint(name: string, overrides: Partial<DockerEndpoint> = {}): DockerEndpoint {
  return {
    name,
    url: 'unix:///var/run/docker.sock',
    up: true,
    version: '27.5.1',
    api_version: '1.47',
    last_error: null,
    last_sync_at: '2026-11-22T09:59:00.000Z',
    images_checked_at: null,
    containers: 2,
    running: 1,
    networks: 1,
    ...overrides,
  };
}

export function dockerContainer(name: string, overrides: Partial<DockerContainer> = {}): DockerContainer {
  return {
    endpoint: 'local',
    id: `${name}-0123456789ab`,
    name,
    image: 'nginx:1.27',
    state: 'running',
    health: 'none',
    restart_count: 0,
    exit_code: null,
    started_at: '2026-11-22T09:00:00.000Z',
    finished_at: null,
    created_at: '2026-11-22T08:59:00.000Z',
    compose_project: null,
    compose_service: null,
    cpu_seconds: 12.5,
    memory_bytes: 64 * 2 ** 20,
    image_update: null,
    networks: [],
    ...overrides,
  };
}

export function dockerNetwork(name: string, overrides: Partial<DockerNetwork> = {}): DockerNetwork {
  return {
    endpoint: 'local',
    id: `${name}-net-id`,
    name,
    driver: 'bridge',
    scope: 'local',
    internal: false,
    containers: 1,
    subnets: [],
    ...overrides,
  };
}
