// The subnet view: known addresses in order, with the free space between them collapsed into
// gap rows ("10.0.0.15 – 10.0.0.200 · 186 free"). Gaps are split where a labelled range
// starts or ends so each gap row belongs to at most one range.
import type { Bounds } from './prefix.js';
import type { Interval } from './allocation.js';

export interface LabelledRange extends Interval {
  readonly id: number;
}

export type LayoutRow<T> =
  | { kind: 'address'; value: bigint; item: T }
  | { kind: 'gap'; first: bigint; last: bigint; size: bigint; rangeId: number | null };

/**
 * @param used addresses with their items, ascending by value
 * @param ranges non-overlapping ranges, any order
 * @param holes addresses that are neither used nor free (e.g. the network and broadcast
 *   addresses of child subnets): gaps skip them, so every address a gap offers can be reserved
 */
export function layoutRows<T>(
  bounds: Bounds,
  used: readonly { value: bigint; item: T }[],
  ranges: readonly LabelledRange[],
  holes: readonly bigint[] = [],
): LayoutRow<T>[] {
  const sortedRanges = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const sortedHoles = [...new Set(holes)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rows: LayoutRow<T>[] = [];
  let cursor = bounds.first;
  let nextHole = 0;
  const pushGap = (first: bigint, last: bigint) => {
    while (nextHole < sortedHoles.length && sortedHoles[nextHole]! < first) nextHole++;
    let from = first;
    while (nextHole < sortedHoles.length && sortedHoles[nextHole]! <= last) {
      const hole = sortedHoles[nextHole++]!;
      if (hole > from) pushFree(from, hole - 1n);
      from = hole + 1n;
    }
    if (from <= last) pushFree(from, last);
  };
  const pushFree = (first: bigint, last: bigint) => {
    // Cut [first,last] at range edges.
    let at = first;
    for (const r of sortedRanges) {
      if (at > last) break;
      if (r.last < at || r.first > last) continue;
      if (r.first > at) {
        rows.push(gap(at, r.first - 1n, null));
        at = r.first;
      }
      const end = r.last < last ? r.last : last;
      rows.push(gap(at, end, r.id));
      at = end + 1n;
    }
    if (at <= last) rows.push(gap(at, last, null));
  };
  for (const u of used) {
    if (u.value > cursor) pushGap(cursor, (u.value < bounds.last + 1n ? u.value : bounds.last + 1n) - 1n);
    rows.push({ kind: 'address', value: u.value, item: u.item });
    if (u.value + 1n > cursor) cursor = u.value + 1n;
  }
  if (cursor <= bounds.last) pushGap(cursor, bounds.last);
  return rows;
}

function gap<T>(first: bigint, last: bigint, rangeId: number | null): LayoutRow<T> {
  return { kind: 'gap', first, last, size: last - first + 1n, rangeId };
}
