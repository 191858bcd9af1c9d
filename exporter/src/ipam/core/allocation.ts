// Next-free search. Never enumerates a prefix: it jumps over blocked intervals (used runs,
// ranges closed to auto-allocation, the gateway), so cost depends on the number of
// obstacles met, not on the size of the subnet.
import type { Bounds } from './prefix.js';

export interface Interval {
  readonly first: bigint;
  readonly last: bigint;
}

/**
 * Returns the blocked interval that contains `at`, or undefined when `at` is not blocked.
 * `nextStart`, when given, returns where the first blocked interval after `at` starts: when
 * every blocker has it, a whole free stretch is handed out at once instead of a lookup per address.
 */
export type BlockLookup = ((at: bigint) => Interval | undefined) & { nextStart?: (at: bigint) => bigint | undefined };

export function* freeAddresses(bounds: Bounds, blockers: readonly BlockLookup[]): Generator<bigint> {
  let candidate = bounds.first;
  while (candidate <= bounds.last) {
    let jumped = false;
    for (const lookup of blockers) {
      const block = lookup(candidate);
      if (block && block.last >= candidate) {
        candidate = block.last + 1n;
        jumped = true;
      }
    }
    if (jumped) continue;
    let end = candidate;
    if (blockers.length === 0) {
      end = bounds.last;
    } else if (blockers.every((b) => b.nextStart)) {
      end = bounds.last;
      for (const b of blockers) {
        const next = b.nextStart!(candidate);
        if (next !== undefined && next - 1n < end) end = next - 1n;
      }
    }
    for (; candidate <= end; candidate += 1n) yield candidate;
  }
}

export function takeFree(bounds: Bounds, blockers: readonly BlockLookup[], count: number): bigint[] {
  const out: bigint[] = [];
  if (!(count > 0)) return out;
  for (const address of freeAddresses(bounds, blockers)) {
    out.push(address);
    if (out.length >= count) break;
  }
  return out;
}

/**
 * A BlockLookup that reads the store (the runs of used addresses): answered asynchronously.
 * `around`, when given, answers the run containing `at` and where the first run after `at`
 * starts in one read (one round trip on PostgreSQL instead of two).
 */
export type StoreBlockLookup = ((at: bigint) => Promise<Interval | undefined>) & {
  nextStart?: (at: bigint) => Promise<bigint | undefined>;
  around?: (at: bigint) => Promise<{ run: Interval | undefined; next: bigint | undefined }>;
};

/**
 * What `around(at)` answers, from an earlier answer for `known` ≤ `at`, when that answer settles
 * it: `at` inside the run found, or before the next run's start (no run starts in between).
 * Undefined when the store must be asked.
 */
export function aroundFromKnown(
  known: bigint,
  answer: { run: Interval | undefined; next: bigint | undefined },
  at: bigint,
): { run: Interval | undefined; next: bigint | undefined } | undefined {
  if (at < known) return undefined;
  if (answer.run && at <= answer.run.last) return answer;
  if (answer.next === undefined || at < answer.next) return { run: undefined, next: answer.next };
  return undefined;
}

/**
 * takeFree with one blocker read from the store (`runs`, #14: the only lookup that awaits) and
 * the fixed ones in memory (gateways, closed ranges, child subnets, reservations), which are
 * applied first. Runs are maximal (two never touch), so after jumping one the candidate is free
 * of runs: a run probe is needed only when a fixed blocker moved the candidate. Same answers as
 * takeFree(bounds, [runs, ...fixed], count).
 */
export async function takeFreeAround(
  bounds: Bounds,
  fixed: readonly BlockLookup[],
  runs: StoreBlockLookup,
  count: number,
): Promise<bigint[]> {
  const out: bigint[] = [];
  if (!(count > 0)) return out;
  let candidate = bounds.first;
  /** A candidate known to lie in no run (just past one). */
  let runFree: bigint | undefined;
  /** From `around`: no run starts in (after, start); `start` undefined: none after `after`. */
  let known: { after: bigint; start: bigint | undefined } | undefined;
  while (candidate <= bounds.last) {
    let jumped = false;
    for (const lookup of fixed) {
      const block = lookup(candidate);
      if (block && block.last >= candidate) {
        candidate = block.last + 1n;
        jumped = true;
      }
    }
    if (jumped) continue;
    if (candidate > bounds.last) break;
    if (runFree !== candidate) {
      let run: Interval | undefined;
      if (runs.around) {
        const a = await runs.around(candidate);
        run = a.run;
        known = { after: candidate, start: a.next };
      } else {
        run = await runs(candidate);
      }
      if (run && run.last >= candidate) {
        candidate = run.last + 1n;
        runFree = candidate;
        continue;
      }
    }
    let end = candidate;
    if (runs.nextStart && fixed.every((b) => b.nextStart)) {
      end = bounds.last;
      for (const b of fixed) {
        const next = b.nextStart!(candidate);
        if (next !== undefined && next - 1n < end) end = next - 1n;
      }
      // The first run after `candidate` is the one `around` saw when nothing starts in between
      // (runs are maximal: the run after the one jumped is the next after its end too).
      const next =
        known && known.after <= candidate && (known.start === undefined || known.start > candidate)
          ? known.start
          : await runs.nextStart(candidate);
      if (next !== undefined && next - 1n < end) end = next - 1n;
    }
    for (; candidate <= end; candidate += 1n) {
      out.push(candidate);
      if (out.length >= count) return out;
    }
  }
  return out;
}

/**
 * A BlockLookup over intervals held in memory (closed ranges, child subnets, the gateway).
 * Overlapping and adjacent intervals are merged first, so the binary search sees disjoint ones.
 */
export function sortedIntervalLookup(intervals: readonly Interval[]): BlockLookup {
  const sorted = mergeIntervals(intervals);
  const lookup: BlockLookup = (at) => {
    let lo = 0;
    let hi = sorted.length - 1;
    let found: Interval | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const iv = sorted[mid]!;
      if (iv.first <= at) {
        found = iv;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found && found.last >= at ? found : undefined;
  };
  lookup.nextStart = (at) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.first <= at) lo = mid + 1;
      else hi = mid;
    }
    return sorted[lo]?.first;
  };
  return lookup;
}

export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: Interval[] = [];
  for (const iv of sorted) {
    const prev = out[out.length - 1];
    if (prev && iv.first <= prev.last + 1n) {
      if (iv.last > prev.last) out[out.length - 1] = { first: prev.first, last: iv.last };
    } else {
      out.push(iv);
    }
  }
  return out;
}

export function intervalSize(iv: Interval): bigint {
  return iv.last - iv.first + 1n;
}

export function clip(iv: Interval, bounds: Bounds): Interval | undefined {
  const first = iv.first > bounds.first ? iv.first : bounds.first;
  const last = iv.last < bounds.last ? iv.last : bounds.last;
  return first <= last ? { first, last } : undefined;
}

/** A request's share of a combined allocation: its addresses, or how many were left when it came. */
export type Share = { readonly values: readonly bigint[] } | { readonly available: number };

/**
 * Shares out among requests, in arrival order, the first free addresses of a scope, found for
 * the sum of their counts: each request gets the next `count` of them, as if the requests had
 * run one after another. When fewer than the sum were found, the search went through the whole
 * scope, so a request that does not fit is told exactly how many were still free when its turn
 * came (its 409); the next, smaller requests may still fit.
 */
export function shareOut(free: readonly bigint[], counts: readonly number[]): Share[] {
  let next = 0;
  return counts.map((count) => {
    if (free.length - next < count) return { available: free.length - next };
    next += count;
    return { values: free.slice(next - count, next) };
  });
}
