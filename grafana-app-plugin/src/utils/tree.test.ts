import { subnet } from '../test/fixtures';
import { subnetTree, visibleSubnets } from './tree';

describe('subnet tree', () => {
  const parent = subnet({ id: 1, cidr: '10.0.0.0/16', name: 'campus', children: 2 });
  const childB = subnet({ id: 3, cidr: '10.0.2.0/24', name: 'printers', parent_id: 1, depth: 1 });
  const childA = subnet({ id: 2, cidr: '10.0.1.0/24', name: 'servers', parent_id: 1, depth: 1, children: 1 });
  const grandchild = subnet({ id: 5, cidr: '10.0.1.128/25', name: 'db', parent_id: 2, depth: 2 });
  const other = subnet({ id: 4, cidr: '192.168.1.0/24', name: 'home' });

  it('puts children after their parent, siblings in address order', () => {
    expect(subnetTree([other, grandchild, childB, parent, childA]).map((s) => s.id)).toEqual([1, 2, 5, 3, 4]);
  });

  it('hides the descendants of a collapsed subnet', () => {
    const tree = subnetTree([other, grandchild, childB, parent, childA]);
    expect(visibleSubnets(tree, new Set([2]), '').map((s) => s.id)).toEqual([1, 2, 3, 4]);
    expect(visibleSubnets(tree, new Set([1]), '').map((s) => s.id)).toEqual([1, 4]);
  });

  it('keeps the ancestors of a match when filtering', () => {
    const tree = subnetTree([other, grandchild, childB, parent, childA]);
    expect(visibleSubnets(tree, new Set([1]), 'db').map((s) => s.id)).toEqual([1, 2, 5]);
  });
});
