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
  const rows: LayoutRow<T>[] = [];
  const builder = new LayoutBuilder<T>(bounds, ranges, holes, (row) => rows.push(row));
  for (const u of used) builder.add(u.value, u.item);
  builder.finish();
  return rows;
}

/**
 * layoutRows one address at a time, so a large subnet can be laid out in chunks (with the event
 * loop free in between) and a page can be laid out from any address on: `start` resumes right
 * after the address `start.value` (whose row is emitted by adding it again), with the same rows
 * from there on as a layout from the beginning.
 */
export class LayoutBuilder<T> {
  private readonly sortedRanges: LabelledRange[];
  private readonly sortedHoles: bigint[];
  private cursor: bigint;
  private nextHole = 0;

  constructor(
    private readonly bounds: Bounds,
    ranges: readonly LabelledRange[],
    holes: readonly bigint[],
    private readonly emit: (row: LayoutRow<T>) => void,
    start?: { value: bigint },
  ) {
    this.sortedRanges = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    this.sortedHoles = [...new Set(holes)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    // After addresses up to v the cursor is max(first, v + 1); adding v itself again moves it there.
    this.cursor = start && start.value > bounds.first ? start.value : bounds.first;
  }

  /** The next used address (ascending): the gap rows before it, then its own row. */
  add(value: bigint, item: T): void {
    const { bounds } = this;
    if (value > this.cursor) this.pushGap(this.cursor, (value < bounds.last + 1n ? value : bounds.last + 1n) - 1n);
    this.emit({ kind: 'address', value, item });
    if (value + 1n > this.cursor) this.cursor = value + 1n;
  }

  /** The gap rows after the last address. */
  finish(): void {
    if (this.cursor <= this.bounds.last) this.pushGap(this.cursor, this.bounds.last);
  }

  private pushGap(first: bigint, last: bigint): void {
    const holes = this.sortedHoles;
    while (this.nextHole < holes.length && holes[this.nextHole]! < first) this.nextHole++;
    let from = first;
    while (this.nextHole < holes.length && holes[this.nextHole]! <= last) {
      const hole = holes[this.nextHole++]!;
      if (hole > from) this.pushFree(from, hole - 1n);
      from = hole + 1n;
    }
    if (from <= last) this.pushFree(from, last);
  }

  private pushFree(first: bigint, last: bigint): void {
    // Cut [first,last] at range edges.
    let at = first;
    for (const r of this.sortedRanges) {
      if (at > last) break;
      if (r.last < at || r.first > last) continue;
      if (r.first > at) {
        this.emit(gap(at, r.first - 1n, null));
        at = r.first;
      }
      const end = r.last < last ? r.last : last;
      this.emit(gap(at, end, r.id));
      at = end + 1n;
    }
    if (at <= last) this.emit(gap(at, last, null));
  }
}

function gap<T>(first: bigint, last: bigint, rangeId: number | null): LayoutRow<T> {
  return { kind: 'gap', first, last, size: last - first + 1n, rangeId };
}
