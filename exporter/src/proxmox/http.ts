// HTTP adapter of the Proxmox domain: inventory reads, the VM wizard's lists, VM creation jobs.
// Every field of a VM request is checked here (names, ids, key lines, addresses) before the
// service sees it, so bad input is a 400 that reaches neither IPAM nor Proxmox.
import { z } from 'zod';
import { LanscapeError } from '../errors.js';
import type { ApiRoutes } from '../http/routes.js';
import { IdParams, Page, listOf } from '../http/schema-kit.js';
import { IpAddress } from '../ipam/schemas.js';
import {
  BRIDGE_RE,
  CI_USER_RE,
  NODE_RE,
  SSH_KEY_RE,
  STORAGE_RE,
  VMID_MAX,
  VMID_MIN,
  VM_NAME_RE,
} from './core/formats.js';
import { JOB_STATES } from './core/jobs.js';
import type { VmRequest } from './core/plan.js';
import { BridgeList, GuestList, NodeList, StorageList, TemplateList, VmJob } from './schemas.js';
import type { ProxmoxService } from './service.js';

const Node = z.string().max(63).regex(NODE_RE, 'a Proxmox node name: letters, digits and -, at most 63');
const Vmid = z.number().int().min(VMID_MIN).max(VMID_MAX);
const Storage = z
  .string()
  .max(100)
  .regex(STORAGE_RE, 'a Proxmox storage id: lower-case letters, digits, - _ and ., starting with a letter');
const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,128}$/;

const AddressChoice = z
  .strictObject({
    subnet_id: z.number().int().min(1).optional().meta({
      description:
        'with next_free: the subnet to take the next free address of; with address: a check that the address lies in it',
    }),
    next_free: z.literal(true).optional(),
    address: IpAddress.optional().meta({ description: 'a specific address (409 when it is taken)' }),
  })
  .superRefine((a, ctx) => {
    if ((a.next_free === true) === (a.address !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give either {"subnet_id": N, "next_free": true} or {"address": "…"}' });
    } else if (a.next_free && a.subnet_id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['subnet_id'], message: 'next_free needs subnet_id' });
    }
  })
  .meta({
    id: 'VmAddressChoice',
    description: '{"subnet_id", "next_free": true} or {"address"} (optionally with subnet_id)',
  });

export const VmCreate = z
  .strictObject({
    node: Node,
    name: z
      .string()
      .max(63)
      .regex(
        VM_NAME_RE,
        'a DNS label: lower-case letters, digits and -, 1–63 characters, not starting or ending with -',
      )
      .meta({ description: 'VM name and host name', example: 'web-1' }),
    clone: z
      .strictObject({
        template_vmid: Vmid.meta({ description: 'a VM template on the node' }),
        full: z.boolean().meta({ description: 'full copy of the disks (else a linked clone)' }),
        storage: Storage.optional().meta({ description: 'target storage of a full clone' }),
      })
      .optional(),
    resources: z
      .strictObject({
        cores: z.number().int().min(1).max(128),
        memory_mib: z.number().int().min(256).max(1_048_576),
        disk_gib: z.number().int().min(1).max(65_536),
        storage: Storage,
      })
      .optional()
      .meta({ description: 'an empty VM with this disk and a cloud-init drive on the storage' }),
    network: z.strictObject({
      bridge: z.string().max(15).regex(BRIDGE_RE, 'a bridge name such as vmbr0'),
      vlan: z.number().int().min(1).max(4094).optional(),
      address: AddressChoice,
      gateway: IpAddress.optional().meta({ description: "default: the subnet's gateway" }),
      dns: z.array(IpAddress).min(1).max(3).optional(),
    }),
    user: z
      .string()
      .max(32)
      .regex(CI_USER_RE, 'a user name: lower-case letters, digits, _ and -, at most 32')
      .optional()
      .meta({ description: "cloud-init user (default: the image's)" }),
    ssh_keys: z
      .array(
        z
          .string()
          .max(16_600)
          .regex(SSH_KEY_RE, 'an OpenSSH public key on one line: type, base64 key, optional comment'),
      )
      .max(32)
      .optional(),
    start: z.boolean(),
  })
  .superRefine((v, ctx) => {
    if ((v.clone === undefined) === (v.resources === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['clone'],
        message: 'give exactly one of clone (from a template) and resources (a new empty VM)',
      });
    }
    if (v.clone?.storage && !v.clone.full)
      ctx.addIssue({ code: 'custom', path: ['clone', 'storage'], message: 'storage applies to a full clone only' });
  })
  .meta({ id: 'VmCreate' });

const NodeQuery = z.strictObject({ node: Node });

function notConfigured(): never {
  throw new LanscapeError(
    503,
    'proxmox_not_configured',
    'Proxmox is not configured: set LANSCAPE_PROXMOX_URL, LANSCAPE_PROXMOX_TOKEN_ID and LANSCAPE_PROXMOX_TOKEN_SECRET',
  );
}

export function registerProxmoxRoutes(api: ApiRoutes, proxmox: ProxmoxService | null): void {
  const need = (): ProxmoxService => proxmox ?? notConfigured();
  const unavailable = { 503: { description: 'Proxmox is not configured or not reachable' } };

  api.add({
    method: 'get',
    path: '/proxmox/nodes',
    scope: 'read',
    tag: 'proxmox',
    summary: 'Cluster nodes from the last inventory',
    responses: { 200: { description: 'Nodes', schema: NodeList }, ...unavailable },
    handler: async () => ({ status: 200, body: await need().nodes() }),
  });
  api.add({
    method: 'get',
    path: '/proxmox/guests',
    scope: 'read',
    tag: 'proxmox',
    summary: 'VMs and containers from the last inventory, with their IPAM address ids',
    query: z.strictObject({ node: Node.optional(), type: z.enum(['qemu', 'lxc']).optional() }),
    responses: { 200: { description: 'Guests', schema: GuestList }, ...unavailable },
    handler: async ({ query }) => ({ status: 200, body: await need().guests(query) }),
  });
  api.add({
    method: 'get',
    path: '/proxmox/templates',
    scope: 'read',
    tag: 'proxmox',
    summary: 'VM templates on a node (asked live)',
    query: NodeQuery,
    responses: {
      200: { description: 'Templates', schema: TemplateList },
      ...unavailable,
    },
    handler: async ({ query }) => ({ status: 200, body: await need().templates(query.node) }),
  });
  api.add({
    method: 'get',
    path: '/proxmox/storages',
    scope: 'read',
    tag: 'proxmox',
    summary: 'Enabled storages for VM disks on a node (asked live)',
    query: NodeQuery,
    responses: {
      200: {
        description: 'Storages',
        schema: StorageList,
      },
      ...unavailable,
    },
    handler: async ({ query }) => ({ status: 200, body: await need().storages(query.node) }),
  });
  api.add({
    method: 'get',
    path: '/proxmox/bridges',
    scope: 'read',
    tag: 'proxmox',
    summary: 'Bridges of a node (asked live)',
    query: NodeQuery,
    responses: {
      200: {
        description: 'Bridges',
        schema: BridgeList,
      },
      ...unavailable,
    },
    handler: async ({ query }) => ({ status: 200, body: await need().bridges(query.node) }),
  });

  api.add({
    method: 'post',
    path: '/vms',
    scope: 'admin',
    tag: 'proxmox',
    summary: 'Create a Proxmox VM with an address from IPAM',
    description:
      'Reserves the address (state provisioning), then in the background: next VM id, create or clone, cloud-init ' +
      '(ipconfig0, nameserver, ciuser, sshkeys) and the NIC, start, and the address becomes assigned. On failure the VM the ' +
      'job created is deleted and the address released. Follow the job at /api/v1/vms/jobs/{id}. Send an Idempotency-Key ' +
      'header to make retries safe: the same key with the same body returns the first job; with another body it is 422.',
    body: VmCreate,
    responses: {
      202: { description: 'Queued (or, with a known Idempotency-Key, the earlier job)', schema: VmJob },
      409: { description: 'The address is taken, or the subnet has no free address' },
      422: {
        description:
          'Breaks an IPAM rule (address outside the subnet, unknown subnet or node), or the Idempotency-Key was used with another body',
      },
      429: { description: 'Too many VM jobs waiting' },
      ...unavailable,
    },
    handler: async ({ body, actor, req }) => {
      const service = need();
      const key = req.get('idempotency-key');
      if (key !== undefined && !IDEMPOTENCY_KEY_RE.test(key)) {
        throw new LanscapeError(
          400,
          'validation_failed',
          'header Idempotency-Key: 1–128 printable ASCII characters without spaces',
        );
      }
      const { job, replayed } = await service.vms.create(toRequest(body), key, actor);
      return {
        status: 202,
        body: job,
        headers: { Location: `/api/v1/vms/jobs/${job.id}`, ...(replayed ? { 'Idempotent-Replayed': 'true' } : {}) },
      };
    },
  });
  api.add({
    method: 'get',
    path: '/vms/jobs',
    scope: 'read',
    tag: 'proxmox',
    summary: 'VM creation jobs, newest first',
    query: z.strictObject({ ...Page(), state: z.enum(JOB_STATES).optional() }),
    responses: { 200: { description: 'Jobs', schema: listOf(VmJob, 'VmJobList') }, ...unavailable },
    handler: async ({ query }) => ({ status: 200, body: await need().vms.list(query, query.limit, query.offset) }),
  });
  api.add({
    method: 'get',
    path: '/vms/jobs/{id}',
    scope: 'read',
    tag: 'proxmox',
    summary: 'A VM creation job: state, steps with their Proxmox tasks, progress',
    params: IdParams,
    responses: { 200: { description: 'The job', schema: VmJob }, 404: { description: 'Not found' }, ...unavailable },
    handler: async ({ params }) => ({ status: 200, body: await need().vms.get(params.id) }),
  });
}

/** The parsed body as the service's request type (the address choice becomes one of two shapes). */
function toRequest(body: z.infer<typeof VmCreate>): VmRequest {
  const a = body.network.address;
  const address = a.next_free
    ? { subnet_id: a.subnet_id!, next_free: true as const }
    : { address: a.address!, ...(a.subnet_id !== undefined ? { subnet_id: a.subnet_id } : {}) };
  return { ...body, network: { ...body.network, address } };
}
