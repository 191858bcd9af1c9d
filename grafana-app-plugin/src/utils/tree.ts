import type { Subnet } from '../api/types';
import { compareIp } from './ip';

function compareCidr(a: Subnet, b: Subnet): number {
  // The same CIDR may exist in several VRFs (#15): VRF first, as the exporter lists them.
  return (
    (a.vrf_id ?? 1) - (b.vrf_id ?? 1) ||
    compareIp(a.cidr.split('/')[0]!, b.cidr.split('/')[0]!) ||
    a.prefix_length - b.prefix_length
  );
}

/**
 * Subnets in tree order: each parent (from parent_id) followed by its children, siblings in
 * address order. Subnets whose parent is missing from the list are roots.
 */
export function subnetTree(subnets: Subnet[]): Subnet[] {
  const ids = new Set(subnets.map((s) => s.id));
  const children = new Map<number | null, Subnet[]>();
  for (const s of subnets) {
    const parent = s.parent_id !== null && ids.has(s.parent_id) ? s.parent_id : null;
    const list = children.get(parent) ?? [];
    list.push(s);
    children.set(parent, list);
  }
  children.forEach((list) => list.sort(compareCidr));
  const out: Subnet[] = [];
  const seen = new Set<number>();
  const visit = (s: Subnet) => {
    if (seen.has(s.id)) {
      return;
    }
    seen.add(s.id);
    out.push(s);
    (children.get(s.id) ?? []).forEach(visit);
  };
  (children.get(null) ?? []).forEach(visit);
  // Anything in a parent cycle (should not happen) still shows.
  subnets.forEach(visit);
  return out;
}

/** The tree without the descendants of collapsed subnets, or the matches of `q` with their ancestors. */
export function visibleSubnets(tree: Subnet[], collapsed: Set<number>, q: string): Subnet[] {
  const byId = new Map(tree.map((s) => [s.id, s]));
  const text = q.trim().toLowerCase();
  if (text) {
    const keep = new Set<number>();
    for (const s of tree) {
      const hay = `${s.cidr} ${s.name} ${s.description} ${s.vlan ?? ''} ${s.tags.join(' ')}`.toLowerCase();
      if (hay.includes(text)) {
        for (
          let cur: Subnet | undefined = s;
          cur && !keep.has(cur.id);
          cur = cur.parent_id !== null ? byId.get(cur.parent_id) : undefined
        ) {
          keep.add(cur.id);
        }
      }
    }
    return tree.filter((s) => keep.has(s.id));
  }
  const hidden = new Set<number>();
  return tree.filter((s) => {
    const parent = s.parent_id;
    if (parent !== null && (hidden.has(parent) || collapsed.has(parent))) {
      hidden.add(s.id);
      return false;
    }
    return true;
  });
}
