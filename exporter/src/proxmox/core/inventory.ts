// Proxmox VE answers turned into the exporter's model. PVE omits fields freely (a stopped
// guest has no cpu, a node offline has no memory), so every field is read defensively and a
// malformed entry is dropped rather than trusted.
import { type IP, formatIp, parseIp } from '../../ipam/core/ip.js';
import { NODE_RE, VMID_MAX, VMID_MIN } from './formats.js';

export type GuestType = 'qemu' | 'lxc';

export interface PveNode {
  node: string;
  online: boolean;
  id: string;
  level: string;
  cpu: number | null;
  cpus: number | null;
  mem: number | null;
  maxmem: number | null;
  uptime: number | null;
}

export interface GuestAddress {
  address: string;
  prefix: number | null;
  interface: string;
  mac: string | null;
}

export interface Guest {
  vmid: number;
  type: GuestType;
  node: string;
  name: string;
  status: string;
  running: boolean;
  template: boolean;
  tags: string[];
  cpu: number | null;
  cpus: number | null;
  mem: number | null;
  maxmem: number | null;
  maxdisk: number | null;
  uptime: number | null;
  /** null: not read (stopped, no guest agent, error); [] read and empty. */
  addresses: GuestAddress[] | null;
}

/** One inventory run: what the nodes answered, when, and what went wrong on the way. */
export interface Inventory {
  startedAt: number;
  finishedAt: number;
  nodes: PveNode[];
  guests: Guest[];
  nodesRead: Set<string>;
  problems: string[];
}

const num = (v: unknown): number | null =>
  typeof v === 'number' && Number.isFinite(v)
    ? v
    : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)
      ? Number(v)
      : null;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const bool = (v: unknown): boolean => v === true || v === 1 || v === '1';

export function parseNodes(data: unknown): PveNode[] {
  if (!Array.isArray(data)) return [];
  const out: PveNode[] = [];
  for (const n of data as Record<string, unknown>[]) {
    if (!n || typeof n !== 'object' || !NODE_RE.test(str(n.node))) continue;
    out.push({
      node: str(n.node),
      online: n.status === 'online',
      id: str(n.id),
      level: str(n.level),
      cpu: num(n.cpu),
      cpus: num(n.maxcpu),
      mem: num(n.mem),
      maxmem: num(n.maxmem),
      uptime: num(n.uptime),
    });
  }
  return out.sort((a, b) => a.node.localeCompare(b.node));
}

/** PVE tags are one string separated by ';' (also ',' or spaces in older versions). */
export function parseTags(v: unknown): string[] {
  return [
    ...new Set(
      str(v)
        .split(/[;,\s]+/)
        .filter((t) => /^[\w.+-]{1,64}$/.test(t)),
    ),
  ].sort();
}

export function parseGuests(data: unknown, node: string, type: GuestType): Guest[] {
  if (!Array.isArray(data)) return [];
  const out: Guest[] = [];
  for (const g of data as Record<string, unknown>[]) {
    const vmid = num(g?.vmid);
    if (vmid === null || !Number.isInteger(vmid) || vmid < VMID_MIN || vmid > VMID_MAX) continue;
    const status = str(g.status) || 'unknown';
    out.push({
      vmid,
      type,
      node,
      name: str(g.name).slice(0, 253),
      status,
      running: status === 'running',
      template: bool(g.template),
      tags: parseTags(g.tags),
      cpu: num(g.cpu),
      cpus: num(g.cpus),
      mem: num(g.mem),
      maxmem: num(g.maxmem),
      maxdisk: num(g.maxdisk),
      uptime: num(g.uptime),
      addresses: null,
    });
  }
  return out.sort((a, b) => a.vmid - b.vmid);
}

/** Global unicast only: loopback, link-local, multicast and unspecified addresses are not inventory. */
export function usefulAddress(text: string): IP | undefined {
  let ip: IP;
  try {
    ip = parseIp(text);
  } catch {
    return undefined;
  }
  if (ip.family === 4) {
    const first = Number(ip.value >> 24n);
    const second = Number((ip.value >> 16n) & 0xffn);
    if (first === 0 || first === 127 || first >= 224 || (first === 169 && second === 254)) return undefined;
  } else {
    const top = ip.value >> 112n;
    if (ip.value === 0n || ip.value === 1n || (top & 0xffc0n) === 0xfe80n || (top & 0xff00n) === 0xff00n)
      return undefined;
  }
  return ip;
}

function push(out: GuestAddress[], text: unknown, prefix: unknown, iface: string, mac: string | null): void {
  if (typeof text !== 'string') return;
  const ip = usefulAddress(text);
  if (!ip) return;
  const address = formatIp(ip);
  if (out.some((a) => a.address === address)) return;
  const p = num(prefix);
  out.push({ address, prefix: p !== null && Number.isInteger(p) ? p : null, interface: iface.slice(0, 64), mac });
}

/** GET …/agent/network-get-interfaces: {result: [{name, hardware-address, ip-addresses: [{ip-address, prefix}]}]}. */
export function agentAddresses(data: unknown): GuestAddress[] {
  const result = (data as { result?: unknown } | null)?.result;
  const out: GuestAddress[] = [];
  if (!Array.isArray(result)) return out;
  for (const i of result as Record<string, unknown>[]) {
    const name = str(i?.name);
    if (name === 'lo') continue;
    const mac = macOf(i['hardware-address']);
    const list = i['ip-addresses'];
    if (!Array.isArray(list)) continue;
    for (const a of list as Record<string, unknown>[]) push(out, a?.['ip-address'], a?.prefix, name, mac);
  }
  return out;
}

/** GET /nodes/{node}/lxc/{vmid}/interfaces: [{name, hwaddr, inet: "10.0.0.5/24", inet6}]. */
export function lxcAddresses(data: unknown): GuestAddress[] {
  const out: GuestAddress[] = [];
  if (!Array.isArray(data)) return out;
  for (const i of data as Record<string, unknown>[]) {
    const name = str(i?.name);
    if (name === 'lo') continue;
    const mac = macOf(i.hwaddr ?? i['hardware-address']);
    for (const key of ['inet', 'inet6']) {
      const [addr, prefix] = str(i[key]).split('/');
      if (addr) push(out, addr, prefix, name, mac);
    }
    const list = i['ip-addresses'];
    if (Array.isArray(list))
      for (const a of list as Record<string, unknown>[]) push(out, a?.['ip-address'], a?.prefix, name, mac);
  }
  return out;
}

function macOf(v: unknown): string | null {
  const s = str(v).toLowerCase();
  return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(s) && s !== '00:00:00:00:00:00' ? s : null;
}
