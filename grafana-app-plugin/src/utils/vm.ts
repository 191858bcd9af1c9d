// The Create VM wizard: its form state, the checks of the exporter's request schema (VmCreate,
// patterns and limits generated from its OpenAPI document), the request body, the equivalent
// curl command, the Idempotency-Key, and words for a job's steps.
import { LIMITS } from '../api/limits.gen';
import type { Subnet, VmCreateInput, VmJob, VmJobStep, VmStepName } from '../api/types';
import { type FormErrors, intIn } from './form';
import { ipInCidr, isIp } from './ip';

/** The exporter's patterns and limits, from its OpenAPI document (the VmCreate schema). */
const VM = LIMITS.VmCreate;
export const VM_NAME_RE = VM.name.pattern;
export const NODE_RE = VM.node.pattern;
export const STORAGE_RE = VM['resources.storage'].pattern;
export const CLONE_STORAGE_RE = VM['clone.storage'].pattern;
export const BRIDGE_RE = VM['network.bridge'].pattern;
export const CI_USER_RE = VM.user.pattern;
export const SSH_KEY_RE = VM['ssh_keys[]'].pattern;
export const VM_LIMITS = {
  nameMax: VM.name.maxLength,
  vmidMin: VM['clone.template_vmid'].minimum,
  vmidMax: VM['clone.template_vmid'].maximum,
  coresMin: VM['resources.cores'].minimum,
  coresMax: VM['resources.cores'].maximum,
  memoryMin: VM['resources.memory_mib'].minimum,
  memoryMax: VM['resources.memory_mib'].maximum,
  diskMin: VM['resources.disk_gib'].minimum,
  diskMax: VM['resources.disk_gib'].maximum,
  vlanMin: VM['network.vlan'].minimum,
  vlanMax: VM['network.vlan'].maximum,
  dnsMax: VM['network.dns'].maxItems,
  sshKeysMax: VM.ssh_keys.maxItems,
  sshKeyLengthMax: VM['ssh_keys[]'].maxLength,
} as const;

export type VmSource = 'clone' | 'resources';
export type AddressMode = 'next' | 'specific';

export interface VmForm {
  name: string;
  node: string;
  source: VmSource;
  /** Template VM id, as chosen. */
  template: string;
  /** Full copy of the disks (else a linked clone). */
  full: boolean;
  /** Target storage of a full clone; empty: the template's. */
  cloneStorage: string;
  cores: string;
  memoryMib: string;
  diskGib: string;
  storage: string;
  bridge: string;
  vlan: string;
  subnetId: string;
  addressMode: AddressMode;
  address: string;
  gateway: string;
  /** DNS servers, separated by commas or spaces. */
  dns: string;
  user: string;
  /** OpenSSH public keys, one a line. */
  sshKeys: string;
  start: boolean;
}

export function emptyVmForm(overrides: Partial<VmForm> = {}): VmForm {
  return {
    name: '',
    node: '',
    source: 'clone',
    template: '',
    full: true,
    cloneStorage: '',
    cores: '2',
    memoryMib: '2048',
    diskGib: '20',
    storage: '',
    bridge: '',
    vlan: '',
    subnetId: '',
    addressMode: 'next',
    address: '',
    gateway: '',
    dns: '',
    user: '',
    sshKeys: '',
    start: true,
    ...overrides,
  };
}

export type VmFormErrors = FormErrors<VmForm>;

/** The wizard's steps, in order, and the fields each one owns. */
export const WIZARD_STEPS = [
  { id: 'node', title: 'Node', fields: ['name', 'node'] },
  {
    id: 'source',
    title: 'Template or resources',
    fields: ['source', 'template', 'full', 'cloneStorage', 'cores', 'memoryMib', 'diskGib', 'storage'],
  },
  {
    id: 'network',
    title: 'Network',
    fields: ['bridge', 'vlan', 'subnetId', 'addressMode', 'address', 'gateway', 'dns'],
  },
  { id: 'cloudinit', title: 'Cloud-init', fields: ['user', 'sshKeys', 'start'] },
  { id: 'review', title: 'Review', fields: [] },
] as const satisfies ReadonlyArray<{ id: string; title: string; fields: ReadonlyArray<keyof VmForm> }>;

export type WizardStepId = (typeof WIZARD_STEPS)[number]['id'];

/** The index of the first step with an error, or -1. */
export function firstStepWithError(errors: VmFormErrors): number {
  return WIZARD_STEPS.findIndex((s) => (s.fields as ReadonlyArray<keyof VmForm>).some((f) => errors[f] !== undefined));
}

/** DNS servers as typed ("10.0.0.53, 10.0.0.54" or space-separated) → the list. */
export function splitDns(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** SSH keys as typed, one a line (blank lines and surrounding spaces ignored). */
export function splitKeys(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The checks that need no server, worded for the form: what the exporter's schema refuses with a
 * 400, and the IPAM rules it would refuse with a 422 that the page can see (the address and the
 * gateway inside the chosen subnet). The exporter has the final say.
 */
export function validateVmForm(form: VmForm, subnet?: Pick<Subnet, 'cidr'>): VmFormErrors {
  const errors: VmFormErrors = {};
  const name = form.name.trim();
  if (!name) {
    errors.name = 'Name the VM (it is also its host name)';
  } else if (name.length > VM_LIMITS.nameMax || !VM_NAME_RE.test(name)) {
    errors.name = `A DNS label: lower-case letters, digits and -, 1–${VM_LIMITS.nameMax} characters, not starting or ending with -`;
  }
  if (!form.node) {
    errors.node = 'Choose the node to create the VM on';
  } else if (!NODE_RE.test(form.node)) {
    errors.node = `${form.node} is not a Proxmox node name`;
  }

  if (form.source === 'clone') {
    if (!form.template) {
      errors.template = 'Choose a template to clone';
    } else if (intIn(form.template, VM_LIMITS.vmidMin, VM_LIMITS.vmidMax) === undefined) {
      errors.template = `A VM id from ${VM_LIMITS.vmidMin} to ${VM_LIMITS.vmidMax}`;
    }
    if (form.full && form.cloneStorage && !CLONE_STORAGE_RE.test(form.cloneStorage)) {
      errors.cloneStorage = `${form.cloneStorage} is not a Proxmox storage id`;
    }
  } else {
    if (intIn(form.cores, VM_LIMITS.coresMin, VM_LIMITS.coresMax) === undefined) {
      errors.cores = `A whole number from ${VM_LIMITS.coresMin} to ${VM_LIMITS.coresMax}`;
    }
    if (intIn(form.memoryMib, VM_LIMITS.memoryMin, VM_LIMITS.memoryMax) === undefined) {
      errors.memoryMib = `MiB, a whole number from ${VM_LIMITS.memoryMin} to ${VM_LIMITS.memoryMax.toLocaleString('en-US')}`;
    }
    if (intIn(form.diskGib, VM_LIMITS.diskMin, VM_LIMITS.diskMax) === undefined) {
      errors.diskGib = `GiB, a whole number from ${VM_LIMITS.diskMin} to ${VM_LIMITS.diskMax.toLocaleString('en-US')}`;
    }
    if (!form.storage) {
      errors.storage = 'Choose the storage for the disk and the cloud-init drive';
    } else if (!STORAGE_RE.test(form.storage)) {
      errors.storage = `${form.storage} is not a Proxmox storage id`;
    }
  }

  if (!form.bridge) {
    errors.bridge = 'Choose the bridge of the network card';
  } else if (!BRIDGE_RE.test(form.bridge)) {
    errors.bridge = 'A bridge name such as vmbr0';
  }
  if (form.vlan.trim() && intIn(form.vlan, VM_LIMITS.vlanMin, VM_LIMITS.vlanMax) === undefined) {
    errors.vlan = `A VLAN tag from ${VM_LIMITS.vlanMin} to ${VM_LIMITS.vlanMax}, or empty for none`;
  }
  if (!form.subnetId) {
    errors.subnetId = 'Choose the subnet the address comes from';
  }
  const address = form.address.trim();
  if (form.addressMode === 'specific') {
    if (!address) {
      errors.address = 'Type the address to give the VM';
    } else if (!isIp(address)) {
      errors.address = `${address} is not an IPv4 or IPv6 address`;
    } else if (subnet && !ipInCidr(address, subnet.cidr)) {
      errors.address = `${address} is outside ${subnet.cidr}`;
    }
  }
  const gateway = form.gateway.trim();
  if (gateway) {
    if (!isIp(gateway)) {
      errors.gateway = `${gateway} is not an IPv4 or IPv6 address`;
    } else if (subnet && !ipInCidr(gateway, subnet.cidr)) {
      errors.gateway = `The gateway must be inside ${subnet.cidr}`;
    } else if (form.addressMode === 'specific' && gateway === address) {
      errors.gateway = "The gateway cannot be the VM's own address";
    }
  }
  const dns = splitDns(form.dns);
  const badDns = dns.find((d) => !isIp(d));
  if (badDns) {
    errors.dns = `${badDns} is not an IPv4 or IPv6 address`;
  } else if (dns.length > VM_LIMITS.dnsMax) {
    errors.dns = `At most ${VM_LIMITS.dnsMax} DNS servers`;
  }

  const user = form.user.trim();
  if (user && !CI_USER_RE.test(user)) {
    errors.user = 'A user name: lower-case letters, digits, _ and -, starting with a letter or _, at most 32';
  }
  const keys = splitKeys(form.sshKeys);
  if (keys.length > VM_LIMITS.sshKeysMax) {
    errors.sshKeys = `At most ${VM_LIMITS.sshKeysMax} keys`;
  } else {
    const bad = keys.findIndex((k) => k.length > VM_LIMITS.sshKeyLengthMax || !SSH_KEY_RE.test(k));
    if (bad >= 0) {
      errors.sshKeys = `Line ${bad + 1} is not an OpenSSH public key (type, base64 key, optional comment), for example ssh-ed25519 AAAA… you@host`;
    }
  }
  return errors;
}

/** The body of POST /vms for a valid form. */
export function toVmInput(form: VmForm): VmCreateInput {
  const subnetId = Number(form.subnetId);
  const vlan = form.vlan.trim();
  const gateway = form.gateway.trim();
  const dns = splitDns(form.dns);
  const user = form.user.trim();
  const keys = splitKeys(form.sshKeys);
  return {
    node: form.node,
    name: form.name.trim(),
    ...(form.source === 'clone'
      ? {
          clone: {
            template_vmid: Number(form.template),
            full: form.full,
            ...(form.full && form.cloneStorage ? { storage: form.cloneStorage } : {}),
          },
        }
      : {
          resources: {
            cores: Number(form.cores.trim()),
            memory_mib: Number(form.memoryMib.trim()),
            disk_gib: Number(form.diskGib.trim()),
            storage: form.storage,
          },
        }),
    network: {
      bridge: form.bridge,
      ...(vlan ? { vlan: Number(vlan) } : {}),
      address:
        form.addressMode === 'next'
          ? { subnet_id: subnetId, next_free: true }
          : { address: form.address.trim(), subnet_id: subnetId },
      ...(gateway ? { gateway } : {}),
      ...(dns.length ? { dns } : {}),
    },
    ...(user ? { user } : {}),
    ...(keys.length ? { ssh_keys: keys } : {}),
    start: form.start,
  };
}

/** Quotes text for a POSIX shell ('…', with ' written as '\''). */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The same request as a curl command against the exporter (the token elided: Grafana keeps it).
 * `exporterUrl` is the configured one when the page knows it, else a placeholder.
 */
export function curlCommand(input: VmCreateInput, idempotencyKey: string, exporterUrl = '$LANSCAPE_URL'): string {
  const base = exporterUrl.replace(/\/+$/, '');
  return [
    `curl -X POST ${base.startsWith('$') ? `"${base}/api/v1/vms"` : shellQuote(`${base}/api/v1/vms`)} \\`,
    `  -H "Authorization: Bearer $LANSCAPE_ADMIN_TOKEN" \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -H ${shellQuote(`Idempotency-Key: ${idempotencyKey}`)} \\`,
    `  --data ${shellQuote(JSON.stringify(input, null, 2))}`,
  ].join('\n');
}

/**
 * A fresh Idempotency-Key: a random UUID. crypto.randomUUID exists only in secure contexts
 * (HTTPS or localhost); Grafana on plain HTTP gets one built from crypto.getRandomValues.
 */
export function newIdempotencyKey(): string {
  const c: Crypto | undefined = typeof globalThis.crypto === 'undefined' ? undefined : globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') {
    return c.randomUUID();
  }
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') {
    c.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = Math.floor(Math.random() * 256);
    }
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const STEP_TITLES: Record<VmStepName, string> = {
  reserve_address: 'Reserve the address in IPAM',
  allocate_vmid: 'Get the next free VM id',
  create: 'Create the VM',
  clone: 'Clone the template',
  configure: 'Configure the network and cloud-init',
  start: 'Start the VM',
  assign_address: 'Record the address as assigned',
  cleanup: 'Clean up',
};

export function isJobActive(job: Pick<VmJob, 'state'> | undefined): boolean {
  return job !== undefined && (job.state === 'queued' || job.state === 'running');
}

/** The step running now (the one whose Proxmox task the page shows). */
export function runningStep(job: Pick<VmJob, 'steps'>): VmJobStep | undefined {
  return job.steps.find((s) => s.state === 'running');
}

/**
 * What became of the address after a failure, from the cleanup step's notes and the error:
 * 'released' (free again), 'kept' (still reserved: a person should check), or 'unknown'.
 */
export function addressOutcome(
  job: Pick<VmJob, 'steps' | 'error' | 'address'>
): 'released' | 'kept' | 'none' | 'unknown' {
  const text = `${job.steps.find((s) => s.name === 'cleanup')?.message ?? ''} ${job.error ?? ''}`;
  if (/no address was reserved/.test(text) || job.address === null) {
    return 'none';
  }
  if (/was released|was already gone/.test(text)) {
    return 'released';
  }
  if (/stays reserved|was kept/.test(text)) {
    return 'kept';
  }
  return 'unknown';
}

/** Bytes → "32 GiB", "512 MiB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '–';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : Number(v.toPrecision(3))} ${units[i]}`;
}
