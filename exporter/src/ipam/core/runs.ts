// The runs index (address_runs): the maximal runs of consecutive recorded addresses, which the
// next-free search jumps over. Adding addresses merges them with the runs they touch; this is
// the pure part of doing that for many addresses at once (ipam/store.ts reads the runs around
// them in one statement and writes the outcome in two).
import type { Interval } from './allocation.js';

export interface RunsChange {
  /** Runs (by their first value) that were merged into another and are to be deleted. */
  remove: bigint[];
  /** Runs to write (an upsert by first value): new ones and grown ones. */
  write: Interval[];
}

/**
 * How the runs change when `added` (stretches of addresses recorded now, none of them in a run,
 * in any order) join `existing` (the runs that may touch them: every run starting from the one
 * before the first added address through the one right after the last, in any order).
 */
export function addToRuns(existing: readonly Interval[], added: readonly Interval[]): RunsChange {
  const all = [...existing.map((r) => ({ ...r, old: true })), ...added.map((r) => ({ ...r, old: false }))].sort(
    (a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0),
  );
  const remove: bigint[] = [];
  const write: Interval[] = [];
  let i = 0;
  while (i < all.length) {
    // One merged run: the pieces that follow each other without a gap.
    const head = all[i]!;
    let last = head.last;
    let grew = !head.old;
    let j = i + 1;
    for (; j < all.length && all[j]!.first <= last + 1n; j++) {
      const piece = all[j]!;
      if (piece.last > last) last = piece.last;
      grew = true;
      if (piece.old) remove.push(piece.first);
    }
    if (grew) write.push({ first: head.first, last });
    i = j;
  }
  return { remove, write };
}
