// What the inventory changes in IPAM. Rules:
// - Only addresses inside managed subnets are recorded, with source proxmox.
// - Only rows Lanscape linked to a guest are ever changed or released; a row someone else
//   made (manual, discovered, docker, or proxmox typed by hand) is left alone.
// - Unknown is not gone: a guest whose addresses could not be read (stopped, no agent) keeps
//   its rows; a guest missing from the lists is gone only if its node's lists were read.
// - A row linked by a VM job (pinned) stays while its guest exists, reported or not.
// - Rows linked after the snapshot started are left for the next run (the snapshot cannot
//   know a VM created while it was taken).
import type { Guest, GuestType } from './inventory.js';

export interface Link {
  address_id: number;
  address: string;
  /** null while a VM job is still running. */
  vmid: number | null;
  node: string | null;
  guest_type: GuestType | null;
  pinned: boolean;
  created_at: number;
}

export interface RowInfo {
  id: number;
  address: string;
  source: string;
  hostname: string | null;
  description: string;
}

export interface Snapshot {
  startedAt: number;
  guests: readonly Guest[];
  /** Nodes whose qemu and lxc lists were both read in this snapshot. */
  nodesRead: ReadonlySet<string>;
  /** Every node the cluster reported. */
  clusterNodes: ReadonlySet<string>;
}

export interface Desired {
  address: string;
  vmid: number;
  node: string;
  type: GuestType;
  hostname: string | null;
  description: string;
  mac: string | null;
}

export interface Plan {
  create: Desired[];
  update: {
    address_id: number;
    hostname: string | null;
    description: string;
    link: Omit<Link, 'address_id' | 'address' | 'created_at' | 'pinned'>;
  }[];
  release: { address_id: number; address: string; reason: string }[];
  unlink: number[];
}

export function guestDescription(g: Pick<Guest, 'type' | 'vmid' | 'node'>): string {
  return `Proxmox ${g.type === 'qemu' ? 'VM' : 'container'} ${g.vmid} on node ${g.node}`;
}

export function reconcile(
  snapshot: Snapshot,
  links: readonly Link[],
  rowsByAddress: ReadonlyMap<string, RowInfo>,
  managed: ReadonlySet<string>,
  hostnameOf: (name: string) => string | null,
): Plan {
  const plan: Plan = { create: [], update: [], release: [], unlink: [] };
  const guests = new Map(snapshot.guests.map((g) => [g.vmid, g]));
  const linkById = new Map(links.map((l) => [l.address_id, l]));
  // The first guest (lowest vmid) claiming an address gets it; templates hold no addresses.
  const desired = new Map<string, Desired>();
  for (const g of [...snapshot.guests].sort((a, b) => a.vmid - b.vmid)) {
    if (g.template) continue;
    for (const a of g.addresses ?? []) {
      if (!managed.has(a.address) || desired.has(a.address)) continue;
      desired.set(a.address, {
        address: a.address,
        vmid: g.vmid,
        node: g.node,
        type: g.type,
        hostname: hostnameOf(g.name),
        description: guestDescription(g),
        mac: a.mac,
      });
    }
  }

  const handled = new Set<number>();
  for (const d of desired.values()) {
    const row = rowsByAddress.get(d.address);
    if (!row) {
      plan.create.push(d);
      continue;
    }
    const link = linkById.get(row.id);
    if (!link || row.source !== 'proxmox' || link.vmid === null) continue;
    if (link.vmid !== d.vmid && guests.has(link.vmid)) continue; // two live guests claim it: leave it
    handled.add(row.id);
    if (link.pinned && link.vmid === d.vmid) {
      // A job's row keeps the job's description; only a move to another node is followed.
      if (link.node !== d.node)
        plan.update.push({
          address_id: row.id,
          hostname: row.hostname,
          description: row.description,
          link: { vmid: d.vmid, node: d.node, guest_type: d.type },
        });
      continue;
    }
    if (
      link.vmid !== d.vmid ||
      link.node !== d.node ||
      row.hostname !== d.hostname ||
      row.description !== d.description
    ) {
      plan.update.push({
        address_id: row.id,
        hostname: d.hostname,
        description: d.description,
        link: { vmid: d.vmid, node: d.node, guest_type: d.type },
      });
    }
  }

  const rowsById = new Map([...rowsByAddress.values()].map((r) => [r.id, r]));
  for (const link of links) {
    if (handled.has(link.address_id) || link.vmid === null || link.created_at >= snapshot.startedAt) continue;
    const row = rowsById.get(link.address_id);
    if (!row) continue;
    if (row.source !== 'proxmox') {
      plan.unlink.push(link.address_id);
      continue;
    }
    const g = guests.get(link.vmid);
    if (!g) {
      const nodeGone = link.node !== null && !snapshot.clusterNodes.has(link.node);
      if (nodeGone || (link.node !== null && snapshot.nodesRead.has(link.node)) || everyNodeRead(snapshot)) {
        plan.release.push({
          address_id: link.address_id,
          address: link.address,
          reason: `guest ${link.vmid} no longer exists`,
        });
      }
      continue;
    }
    if (!link.pinned && g.addresses !== null && !g.addresses.some((a) => a.address === link.address)) {
      plan.release.push({
        address_id: link.address_id,
        address: link.address,
        reason: `guest ${g.vmid} no longer reports ${link.address}`,
      });
    }
  }
  return plan;
}

/** A guest can only have vanished from a node we read, unless every node was read. */
function everyNodeRead(s: Snapshot): boolean {
  for (const n of s.clusterNodes) if (!s.nodesRead.has(n)) return false;
  return s.clusterNodes.size > 0;
}
