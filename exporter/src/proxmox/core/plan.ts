// What a VM creation job sends to Proxmox VE, step by step, as plain parameter objects. The
// transport turns booleans into 1/0 and form-encodes; nothing here talks to the network.
import type { IP } from '../../ipam/core/ip.js';
import { encodeSshKeys, ipConfig, nameservers, netDevice } from './cloudinit.js';

export interface VmRequest {
  node: string;
  name: string;
  clone?: { template_vmid: number; full: boolean; storage?: string | undefined } | undefined;
  resources?: { cores: number; memory_mib: number; disk_gib: number; storage: string } | undefined;
  network: {
    bridge: string;
    vlan?: number | undefined;
    address: { subnet_id: number; next_free: true } | { address: string; subnet_id?: number | undefined };
    gateway?: string | undefined;
    dns?: string[] | undefined;
  };
  user?: string | undefined;
  ssh_keys?: string[] | undefined;
  start: boolean;
}

/** A request with everything resolved: the reserved address, its prefix, the gateway, the VM id. */
export interface VmPlan {
  jobId: number;
  request: VmRequest;
  address: IP;
  prefixLength: number;
  gateway: IP | null;
  dns: IP[];
  vmid: number;
}

function description(plan: VmPlan, address: string): string {
  return `Created by Lanscape (VM job ${plan.jobId}); address ${address} from IPAM.`;
}

/** POST /nodes/{node}/qemu: an empty VM with a disk, a cloud-init drive and a serial console. */
export function createParams(plan: VmPlan, address: string) {
  const r = plan.request.resources;
  if (!r) throw new Error('createParams needs resources');
  return {
    vmid: plan.vmid,
    name: plan.request.name,
    cores: r.cores,
    memory: String(r.memory_mib),
    scsihw: 'virtio-scsi-pci' as const,
    scsi0: `${r.storage}:${r.disk_gib}`,
    ide2: `${r.storage}:cloudinit`,
    ostype: 'l26' as const,
    agent: 'enabled=1',
    description: description(plan, address),
  };
}

/** POST /nodes/{node}/qemu/{template}/clone. */
export function cloneParams(plan: VmPlan, address: string) {
  const c = plan.request.clone;
  if (!c) throw new Error('cloneParams needs clone');
  return {
    newid: plan.vmid,
    name: plan.request.name,
    full: c.full,
    ...(c.storage ? { storage: c.storage } : {}),
    description: description(plan, address),
  };
}

/** POST /nodes/{node}/qemu/{vmid}/config: the NIC and cloud-init (address, gateway, DNS, user, keys). */
export function configParams(plan: VmPlan) {
  const { network, user, ssh_keys: keys } = plan.request;
  return {
    net0: netDevice(network.bridge, network.vlan),
    ipconfig0: ipConfig(plan.address, plan.prefixLength, plan.gateway),
    ...(plan.dns.length ? { nameserver: nameservers(plan.dns) } : {}),
    ...(user ? { ciuser: user } : {}),
    ...(keys && keys.length ? { sshkeys: encodeSshKeys(keys) } : {}),
  };
}
