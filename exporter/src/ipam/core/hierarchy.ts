// Parent/child relations are derived from the CIDRs, never stored: a subnet's parent is the
// smallest other subnet of its VRF that covers it (NetBox's rule).
import { covers, type Prefix } from './prefix.js';

export interface TreeNode {
  readonly parentId: number | null;
  readonly depth: number;
  readonly childCount: number;
}

export function buildTree(subnets: readonly { id: number; vrf: number; prefix: Prefix }[]): Map<number, TreeNode> {
  const sorted = [...subnets].sort((a, b) => {
    if (a.vrf !== b.vrf) return a.vrf - b.vrf;
    if (a.prefix.family !== b.prefix.family) return a.prefix.family - b.prefix.family;
    if (a.prefix.network !== b.prefix.network) return a.prefix.network < b.prefix.network ? -1 : 1;
    return a.prefix.length - b.prefix.length;
  });
  const parents = new Map<number, number | null>();
  const depths = new Map<number, number>();
  const children = new Map<number, number>();
  const stack: { id: number; vrf: number; prefix: Prefix }[] = [];
  for (const s of sorted) {
    while (
      stack.length > 0 &&
      (stack[stack.length - 1]!.vrf !== s.vrf || !covers(stack[stack.length - 1]!.prefix, s.prefix))
    )
      stack.pop();
    const parent = stack[stack.length - 1];
    parents.set(s.id, parent ? parent.id : null);
    depths.set(s.id, stack.length);
    if (parent) children.set(parent.id, (children.get(parent.id) ?? 0) + 1);
    stack.push(s);
  }
  const out = new Map<number, TreeNode>();
  for (const s of subnets) {
    out.set(s.id, {
      parentId: parents.get(s.id) ?? null,
      depth: depths.get(s.id) ?? 0,
      childCount: children.get(s.id) ?? 0,
    });
  }
  return out;
}
