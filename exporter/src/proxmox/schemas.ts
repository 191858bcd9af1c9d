// Response schemas of the Proxmox API. The routes (http.ts) declare them, the OpenAPI document is
// generated from them, and the service's view types are inferred from them (z.infer).
import { z } from 'zod';
import { Timestamp, listOf } from '../http/schema-kit.js';
import { JOB_STATES, STEP_NAMES, STEP_STATES } from './core/jobs.js';

export const StepView = z
  .object({
    name: z.enum(STEP_NAMES),
    state: z.enum(STEP_STATES),
    started_at: Timestamp.nullable(),
    finished_at: Timestamp.nullable(),
    upid: z.string().optional().meta({ description: 'the Proxmox task of this step' }),
    message: z.string().optional(),
  })
  .meta({ id: 'VmJobStep' });

export const VmJob = z
  .object({
    id: z.number().int(),
    state: z.enum(JOB_STATES),
    progress: z.number().min(0).max(1),
    steps: z.array(StepView),
    node: z.string(),
    name: z.string(),
    vmid: z.number().int().nullable(),
    address: z.string().nullable(),
    address_id: z.number().int().nullable().meta({ description: 'the IPAM address record' }),
    error: z.string().optional(),
    idempotency_key: z.string().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    finished_at: Timestamp.nullable(),
  })
  .meta({ id: 'VmJob' });

const Num = z.number().nullable();
export const NodeView = z
  .object({
    node: z.string(),
    online: z.boolean(),
    cpu_usage_ratio: Num,
    cpus: Num,
    memory_used_bytes: Num,
    memory_total_bytes: Num,
    uptime_seconds: Num,
    guests: z.number().int(),
  })
  .meta({ id: 'ProxmoxNode' });
export const GuestView = z
  .object({
    vmid: z.number().int(),
    type: z.enum(['qemu', 'lxc']),
    node: z.string(),
    name: z.string(),
    status: z.string(),
    template: z.boolean(),
    tags: z.array(z.string()),
    cpu_usage_ratio: Num,
    cpus: Num,
    memory_used_bytes: Num,
    memory_total_bytes: Num,
    disk_total_bytes: Num,
    uptime_seconds: Num,
    addresses: z
      .array(
        z.object({
          address: z.string(),
          prefix_length: z.number().int().nullable(),
          interface: z.string(),
          mac: z.string().nullable(),
          address_id: z
            .number()
            .int()
            .nullable()
            .meta({ description: 'the IPAM record at this address, whoever made it' }),
          source: z.string().nullable(),
        }),
      )
      .nullable()
      .meta({ description: 'null when unknown (stopped, no guest agent)' }),
  })
  .meta({ id: 'ProxmoxGuest' });

export const NodeList = z.object({ updated_at: Timestamp, results: z.array(NodeView) }).meta({ id: 'ProxmoxNodeList' });
export const GuestList = z
  .object({ updated_at: Timestamp, count: z.number().int(), results: z.array(GuestView) })
  .meta({ id: 'ProxmoxGuestList' });
export const TemplateList = listOf(
  z.object({
    vmid: z.number().int(),
    name: z.string(),
    node: z.string(),
    tags: z.array(z.string()),
    disk_total_bytes: Num,
    memory_total_bytes: Num,
  }),
  'ProxmoxTemplateList',
);
export const StorageList = listOf(
  z.object({
    storage: z.string(),
    type: z.string(),
    content: z.array(z.string()),
    shared: z.boolean(),
    active: z.boolean(),
    total_bytes: Num,
    available_bytes: Num,
  }),
  'ProxmoxStorageList',
);
export const BridgeList = listOf(
  z.object({
    bridge: z.string(),
    type: z.string(),
    active: z.boolean(),
    vlan_aware: z.boolean(),
    cidr: z.string().nullable(),
    comments: z.string().nullable(),
  }),
  'ProxmoxBridgeList',
);

export type VmJobView = z.infer<typeof VmJob>;
export type NodeListView = z.infer<typeof NodeList>;
export type GuestListView = z.infer<typeof GuestList>;
export type TemplateListView = z.infer<typeof TemplateList>;
export type StorageListView = z.infer<typeof StorageList>;
export type BridgeListView = z.infer<typeof BridgeList>;
