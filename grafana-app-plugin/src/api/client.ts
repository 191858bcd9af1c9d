// The typed client of the exporter, through Grafana's plugin proxy only: the browser never sees
// the exporter's URL or tokens. GETs use the "read" route (Viewer), changes the "write" route
// (Editor), VM creation and settings the "admin" route (Admin); see plugin.json.
import { getBackendSrv, isFetchError } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';
import pluginJson from '../plugin.json';
import type {
  Agent,
  AgentRegistered,
  Address,
  AddressFields,
  AddressHistory,
  AddressInput,
  AllocateInput,
  AuditEntry,
  AvailableIp,
  AvailablePrefix,
  Conflict,
  DockerConflict,
  DockerContainer,
  DockerEndpoint,
  DockerNetwork,
  ExporterInfo,
  ImportJob,
  ImportReport,
  LanscapeEvent,
  Paged,
  PrefixRequest,
  ProxmoxBridge,
  ProxmoxGuestList,
  ProxmoxNodeList,
  ProxmoxStorage,
  ProxmoxTemplate,
  QueryOf,
  Range,
  Scan,
  Subnet,
  SubnetInput,
  SubnetPatch,
  SubnetRows,
  TrafficHost,
  TrafficSchedule,
  TrafficScheduleInput,
  TrafficSchedulePatch,
  TrafficTest,
  TrafficTestInput,
  VmCreateInput,
  VmJob,
  Vrf,
} from './types';

export const PROXY_BASE = `/api/plugin-proxy/${pluginJson.id}`;

export type RouteName = 'read' | 'write' | 'admin';
type Query = Record<string, string | number | boolean | undefined>;

/** An error from the exporter (or the proxy), with the exporter's own message when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly details?: unknown
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function proxyUrl(route: RouteName, path: string, query?: Query): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== '') {
      qs.set(k, String(v));
    }
  }
  const q = qs.toString();
  return `${PROXY_BASE}/${route}${path}${q ? `?${q}` : ''}`;
}

async function request<T>(
  route: RouteName,
  method: string,
  path: string,
  options: { query?: Query; body?: unknown; contentType?: string; headers?: Record<string, string> } = {}
): Promise<T> {
  const headers = {
    ...(options.contentType ? { 'Content-Type': options.contentType } : {}),
    ...options.headers,
  };
  try {
    const response = await lastValueFrom(
      getBackendSrv().fetch<T>({
        url: proxyUrl(route, path, options.query),
        method,
        data: options.body,
        headers: Object.keys(headers).length > 0 ? headers : undefined,
        showErrorAlert: false,
        showSuccessAlert: false,
      })
    );
    return response.data;
  } catch (e) {
    throw toApiError(e);
  }
}

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) {
    return e;
  }
  if (isFetchError(e)) {
    const body = e.data as
      { error?: { code?: string; message?: string; details?: unknown }; message?: string } | undefined;
    const message = body?.error?.message ?? body?.message ?? e.statusText ?? `HTTP ${e.status}`;
    return new ApiError(e.status, message, body?.error?.code, body?.error?.details);
  }
  return new ApiError(0, e instanceof Error ? e.message : String(e));
}

export const api = {
  info: () => request<ExporterInfo>('read', 'GET', '/info'),

  vrfs: () => request<Paged<Vrf>>('read', 'GET', '/vrfs', { query: { limit: 1000 } }),
  subnets: (query: QueryOf<'/api/v1/subnets', 'get'> = {}) =>
    request<Paged<Subnet>>('read', 'GET', '/subnets', { query: { limit: 1000, ...query } }),
  subnet: (id: number) => request<Subnet>('read', 'GET', `/subnets/${id}`),
  createSubnet: (input: SubnetInput) => request<Subnet>('write', 'POST', '/subnets', { body: input }),
  updateSubnet: (id: number, patch: SubnetPatch) =>
    request<Subnet>('write', 'PATCH', `/subnets/${id}`, { body: patch }),
  deleteSubnet: (id: number, force = false) =>
    request<void>('write', 'DELETE', `/subnets/${id}`, { query: force ? { force: 'true' } : {} }),
  subnetRows: (id: number, offset = 0, limit = 1000) =>
    request<SubnetRows>('read', 'GET', `/subnets/${id}/addresses`, { query: { offset, limit } }),
  availableIps: (scope: { subnetId: number } | { rangeId: number }, limit = 1) =>
    request<Paged<AvailableIp>>('read', 'GET', `${scopePath(scope)}/available-ips`, {
      query: { limit },
    }),
  allocate: (
    scope: { subnetId: number } | { rangeId: number },
    count: number,
    fields: Omit<AllocateInput, 'count'> = {}
  ) =>
    request<Address[]>('write', 'POST', `${scopePath(scope)}/available-ips`, {
      body: { count, ...fields } satisfies AllocateInput,
    }),
  /** The next free child blocks of `prefixLength` in a subnet, lowest first (nothing is reserved). */
  availablePrefixes: (subnetId: number, prefixLength: number, limit = 1) =>
    request<Paged<AvailablePrefix>>('read', 'GET', `/subnets/${subnetId}/available-prefixes`, {
      query: { prefix_length: prefixLength, limit } satisfies QueryOf<'/api/v1/subnets/{id}/available-prefixes', 'get'>,
    }),
  /** Creates the first free `count` child subnets of a length, all or none (409 when they do not fit). */
  allocatePrefixes: (subnetId: number, input: PrefixRequest) =>
    request<Subnet[]>('write', 'POST', `/subnets/${subnetId}/available-prefixes`, { body: input }),
  scan: (subnetId: number) => request<Scan>('write', 'POST', `/subnets/${subnetId}/scan`, { body: {} }),
  scanStatus: (scanId: number) => request<Scan>('read', 'GET', `/scans/${scanId}`),

  addresses: (query: QueryOf<'/api/v1/addresses', 'get'> = {}) =>
    request<Paged<Address>>('read', 'GET', '/addresses', { query }),
  address: (id: number) => request<Address>('read', 'GET', `/addresses/${id}`),
  createAddress: (address: string, fields: Omit<AddressInput, 'address'> = {}) =>
    request<Address>('write', 'POST', '/addresses', { body: { address, ...fields } satisfies AddressInput }),
  updateAddress: (id: number, patch: AddressFields) =>
    request<Address>('write', 'PATCH', `/addresses/${id}`, { body: patch }),
  releaseAddress: (id: number) => request<void>('write', 'DELETE', `/addresses/${id}`),
  history: (id: number, hours = 24 * 7) =>
    request<AddressHistory>('read', 'GET', `/addresses/${id}/history`, { query: { hours } }),

  ranges: (subnetId?: number) =>
    request<Paged<Range>>('read', 'GET', '/ranges', { query: { subnet_id: subnetId, limit: 1000 } }),

  events: (query: QueryOf<'/api/v1/events', 'get'> = {}) =>
    request<Paged<LanscapeEvent>>('read', 'GET', '/events', { query }),
  /** Every conflict, following the exporter's pages (1,000 a page). */
  conflicts: async (kind?: Conflict['kind']): Promise<Paged<Conflict>> => {
    const results: Conflict[] = [];
    for (;;) {
      const page = await request<Paged<Conflict>>('read', 'GET', '/conflicts', {
        query: { kind, limit: 1000, offset: results.length },
      });
      results.push(...page.results);
      if (page.results.length === 0 || results.length >= page.count) {
        return { count: page.count, results };
      }
    }
  },
  audit: (query: QueryOf<'/api/v1/audit', 'get'> = {}) =>
    request<Paged<AuditEntry>>('read', 'GET', '/audit', { query }),

  trafficHosts: () => request<Paged<TrafficHost>>('read', 'GET', '/traffic/hosts'),
  trafficTests: (query: QueryOf<'/api/v1/traffic-tests', 'get'> = {}) =>
    request<Paged<TrafficTest>>('read', 'GET', '/traffic-tests', { query }),
  trafficTest: (id: number) => request<TrafficTest>('read', 'GET', `/traffic-tests/${id}`),
  startTrafficTest: (input: TrafficTestInput) =>
    request<TrafficTest>('write', 'POST', '/traffic-tests', { body: input }),
  trafficSchedules: () => request<Paged<TrafficSchedule>>('read', 'GET', '/traffic-schedules'),
  createTrafficSchedule: (input: TrafficScheduleInput) =>
    request<TrafficSchedule>('write', 'POST', '/traffic-schedules', { body: input }),
  updateTrafficSchedule: (id: number, patch: TrafficSchedulePatch) =>
    request<TrafficSchedule>('write', 'PATCH', `/traffic-schedules/${id}`, { body: patch }),
  deleteTrafficSchedule: (id: number) => request<void>('write', 'DELETE', `/traffic-schedules/${id}`),

  agents: () => request<Paged<Agent>>('read', 'GET', '/agents'),
  /** Registers a scan agent (the admin route): the answer holds its token, shown this once. */
  registerAgent: (name: string) => request<AgentRegistered>('admin', 'POST', '/agents', { body: { name } }),
  revokeAgent: (id: number) => request<void>('admin', 'DELETE', `/agents/${id}`),

  proxmoxNodes: () => request<ProxmoxNodeList>('read', 'GET', '/proxmox/nodes'),
  proxmoxGuests: (query: QueryOf<'/api/v1/proxmox/guests', 'get'> = {}) =>
    request<ProxmoxGuestList>('read', 'GET', '/proxmox/guests', { query }),
  proxmoxTemplates: (node: string) =>
    request<Paged<ProxmoxTemplate>>('read', 'GET', '/proxmox/templates', { query: { node } }),
  proxmoxStorages: (node: string) =>
    request<Paged<ProxmoxStorage>>('read', 'GET', '/proxmox/storages', { query: { node } }),
  proxmoxBridges: (node: string) =>
    request<Paged<ProxmoxBridge>>('read', 'GET', '/proxmox/bridges', { query: { node } }),
  /**
   * Creates a VM (202: the job). The admin route: the exporter takes VM creation with the admin
   * token only. The same Idempotency-Key with the same body returns the first job.
   */
  createVm: (input: VmCreateInput, idempotencyKey: string) =>
    request<VmJob>('admin', 'POST', '/vms', { body: input, headers: { 'Idempotency-Key': idempotencyKey } }),
  vmJobs: (query: QueryOf<'/api/v1/vms/jobs', 'get'> = {}) =>
    request<Paged<VmJob>>('read', 'GET', '/vms/jobs', { query }),
  vmJob: (id: number) => request<VmJob>('read', 'GET', `/vms/jobs/${id}`),

  dockerEndpoints: () => request<Paged<DockerEndpoint>>('read', 'GET', '/docker/endpoints'),
  dockerContainers: (endpoint?: string) =>
    request<Paged<DockerContainer>>('read', 'GET', '/docker/containers', { query: { endpoint, limit: 1000 } }),
  dockerNetworks: (endpoint?: string) =>
    request<Paged<DockerNetwork>>('read', 'GET', '/docker/networks', { query: { endpoint, limit: 1000 } }),
  dockerConflicts: () => request<Paged<DockerConflict>>('read', 'GET', '/docker/conflicts'),

  /**
   * Imports (or with dryRun checks) a CSV file. Small files answer with the report; larger ones
   * with an import job (202) to follow with importJob until it ends (see isImportJob).
   */
  importCsv: (kind: 'subnets' | 'addresses', csv: string, dryRun: boolean) =>
    request<ImportReport | ImportJob>('write', 'POST', `/import/${kind}`, {
      query: { dry_run: dryRun },
      body: csv,
      contentType: 'text/csv',
    }),
  importJob: (id: number) => request<ImportJob>('read', 'GET', `/import-jobs/${id}`),
};

/** Whether an import answer is a job still to follow (202) rather than the final report (200). */
export function isImportJob(answer: ImportReport | ImportJob): answer is ImportJob {
  return (
    typeof (answer as Partial<ImportJob>).id === 'number' && typeof (answer as Partial<ImportJob>).state === 'string'
  );
}

function scopePath(scope: { subnetId: number } | { rangeId: number }): string {
  return 'subnetId' in scope ? `/subnets/${scope.subnetId}` : `/ranges/${scope.rangeId}`;
}

/** Words for the errors people meet most, with the exporter's own message kept. */
export function explain(error: ApiError): string {
  switch (error.status) {
    case 401:
      return `The exporter refused the token: check the tokens on the Lanscape configuration page. (${error.message})`;
    case 403:
      return `Your Grafana role or the configured token is not allowed to do this. (${error.message})`;
    case 409:
      return `Conflict: ${error.message}`;
    case 429:
      return `Too soon: ${error.message}`;
    case 502:
    case 503:
    case 504:
      return `The exporter cannot be reached through Grafana: ${error.message}`;
    default:
      return error.message;
  }
}
