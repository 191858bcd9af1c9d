// Shapes of the Lanscape exporter API: names over the types generated from the exporter's OpenAPI
// document (openapi.gen.ts, `npm run generate:api`), so a changed exporter schema changes them
// and the typecheck shows every place the plugin has to follow. Nothing here is written by hand
// but the names and the picks of parts (an enum, a nested object, a list's item).
import type { components, paths } from './openapi.gen';

type Schemas = components['schemas'];

/** A list answer: `?limit=&offset=` → `{ count, results }` (the exporter's `listOf`). */
export interface Paged<T> {
  count: number;
  results: T[];
}

/** The query parameters of an operation (`QueryOf<'/api/v1/events', 'get'>`). */
export type QueryOf<P extends keyof paths, M extends 'get' | 'post' | 'patch' | 'delete'> = NonNullable<
  paths[P][M] extends { parameters: { query?: infer Q } } ? Q : never
>;

export type ExporterInfo = Schemas['Info'];
export type ErrorBody = Schemas['Error'];

// ---- IPAM: subnets, addresses, ranges, imports

export type Utilization = Schemas['Utilization'];
/** A VRF (address space, #15): the same CIDR may exist once in each; id 1 is the global VRF. */
export type Vrf = Schemas['Vrf'];
export type Subnet = Schemas['Subnet'];
/** The body of POST /subnets. */
export type SubnetInput = Schemas['SubnetCreate'];
/** The body of PATCH /subnets/{id}. */
export type SubnetPatch = Schemas['SubnetUpdate'];
/** The body of POST /subnets/{id}/available-prefixes: the next free child subnets of a length. */
export type PrefixRequest = Schemas['PrefixRequest'];
/** A free block of GET /subnets/{id}/available-prefixes. */
export type AvailablePrefix = Schemas['AvailablePrefixes']['results'][number];

export type Address = Schemas['Address'];
export type AddressState = Address['state'];
export type AddressSource = Address['source'];
/** The fields of an address a person sets: the body of PATCH /addresses/{id}. */
export type AddressFields = Schemas['AddressUpdate'];
/** The body of POST /addresses. */
export type AddressInput = Schemas['AddressCreate'];
/** The body of POST /subnets|ranges/{id}/available-ips. */
export type AllocateInput = Schemas['AllocateRequest'];
export type AvailableIp = Schemas['AvailableIps']['results'][number];

/** What discovery knows of an address (null in an answer: never observed). */
export type Observation = NonNullable<Schemas['HostObservation']>;
export type HostStatus = Observation['status'];
export type OpenPort = Observation['ports'][number];

export type SubnetRow = Schemas['SubnetRow'];
export type GapRow = Extract<SubnetRow, { type: 'gap' }>;
export type SubnetRows = Schemas['SubnetRows'];

export type Range = Schemas['Range'];
export type RangePurpose = Range['purpose'];

export type ImportReport = Schemas['ImportReport'];
/**
 * A CSV import running in the background (the exporter answers 202 with it for files of more
 * than 1,000 rows): the report's fields plus its state and progress. Poll GET /import-jobs/{id}.
 */
export type ImportJob = Schemas['ImportJob'];

// ---- Discovery and audit

export type Scan = Schemas['Scan'];
export type LanscapeEvent = Schemas['Event'];
export type EventKind = LanscapeEvent['kind'];
export type Conflict = Schemas['Conflict'];
export type AddressHistory = Schemas['AddressHistory'];
export type AuditEntry = Schemas['AuditEntry'];

// ---- Traffic tests: iperf3 between configured hosts over SSH (exporter/src/traffic/)

export type TrafficHost = Schemas['TrafficHost'];
export type TrafficTest = Schemas['TrafficTest'];
export type TrafficProtocol = TrafficTest['protocol'];
export type TrafficTestState = TrafficTest['state'];
export type TrafficResult = NonNullable<Schemas['TrafficResult']>;
/** The body of POST /traffic-tests. */
export type TrafficTestInput = Schemas['TrafficTestCreate'];
export type TrafficSchedule = Schemas['TrafficSchedule'];
/** The body of POST /traffic-schedules. */
export type TrafficScheduleInput = Schemas['TrafficScheduleCreate'];
/** The body of PATCH /traffic-schedules/{id} (null clears the bitrate, port or floor). */
export type TrafficSchedulePatch = Schemas['TrafficScheduleUpdate'];

// ---- Proxmox VE: inventory, the VM wizard's lists and VM creation jobs (exporter/src/proxmox/)

export type ProxmoxNodeList = Schemas['ProxmoxNodeList'];
export type ProxmoxNode = Schemas['ProxmoxNode'];
export type ProxmoxGuestList = Schemas['ProxmoxGuestList'];
export type ProxmoxGuest = Schemas['ProxmoxGuest'];
export type ProxmoxGuestAddress = NonNullable<ProxmoxGuest['addresses']>[number];
export type ProxmoxTemplate = Schemas['ProxmoxTemplateList']['results'][number];
export type ProxmoxStorage = Schemas['ProxmoxStorageList']['results'][number];
export type ProxmoxBridge = Schemas['ProxmoxBridgeList']['results'][number];

/** The body of POST /vms. */
export type VmCreateInput = Schemas['VmCreate'];
export type VmJob = Schemas['VmJob'];
export type VmJobState = VmJob['state'];
export type VmJobStep = Schemas['VmJobStep'];
export type VmStepState = VmJobStep['state'];
export type VmStepName = VmJobStep['name'];

// ---- Docker: endpoints, containers, networks and overlaps (exporter/src/docker/)

export type DockerEndpoint = Schemas['DockerEndpoint'];
export type DockerContainer = Schemas['DockerContainer'];
export type DockerContainerState = DockerContainer['state'];
export type DockerHealth = DockerContainer['health'];
export type DockerContainerAddress = DockerContainer['networks'][number]['addresses'][number];
export type DockerNetwork = Schemas['DockerNetwork'];
export type DockerConflict = Schemas['DockerConflict'];

// ---- Sites and agents: remote scan agents and what they report (exporter/src/agents/)

export type Agent = Schemas['Agent'];
export type AgentStatus = Agent['status'];
/** The answer of POST /agents: the token, shown this once. */
export type AgentRegistered = Schemas['AgentCreated'];
