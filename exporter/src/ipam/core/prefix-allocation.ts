// Free child prefixes of a subnet (NetBox's available-prefixes, #15): the space of the parent
// not taken by its child subnets or by ranges, as CIDR-aligned blocks. Like next-free, it jumps
// over what is taken, so the cost follows the number of children and ranges, not the size of
// the parent (an IPv6 /48 has 2^16 /64s).
import { type Interval, mergeIntervals } from './allocation.js';
import { BITS } from './ip.js';
import { type Prefix, lastOf } from './prefix.js';

/**
 * The first `count` free aligned blocks of `length` inside `parent`, lowest first: a block is
 * free when no taken interval overlaps it.
 */
export function freePrefixes(parent: Prefix, taken: readonly Interval[], length: number, count: number): Prefix[] {
  if (length < parent.length || length > BITS[parent.family]) return [];
  const size = 1n << BigInt(BITS[parent.family] - length);
  const end = lastOf(parent);
  const out: Prefix[] = [];
  let at = parent.network;
  for (const iv of mergeIntervals(taken)) {
    if (iv.last < at) continue;
    // Blocks that end before this taken interval starts are free.
    while (out.length < count && at + size - 1n < iv.first && at + size - 1n <= end) {
      out.push({ family: parent.family, network: at, length });
      at += size;
    }
    if (out.length >= count || iv.first > end) break;
    at = alignUp(iv.last + 1n, size);
  }
  while (out.length < count && at + size - 1n <= end) {
    out.push({ family: parent.family, network: at, length });
    at += size;
  }
  return out;
}

/**
 * The free space of `parent` as the fewest CIDR-aligned prefixes (each gap between taken
 * intervals cut into its largest aligned blocks), lowest first; at most `limit` of them.
 */
export function freeSpace(parent: Prefix, taken: readonly Interval[], limit: number): Prefix[] {
  const out: Prefix[] = [];
  let at = parent.network;
  const end = lastOf(parent);
  const gaps: Interval[] = [];
  for (const iv of mergeIntervals(taken)) {
    if (iv.last < at) continue;
    if (iv.first > end) break;
    if (iv.first > at) gaps.push({ first: at, last: iv.first - 1n });
    at = iv.last + 1n;
  }
  if (at <= end) gaps.push({ first: at, last: end });
  for (const gap of gaps) {
    for (const p of blocksOf(gap, parent.family)) {
      if (out.length >= limit) return out;
      out.push(p);
    }
  }
  return out;
}

/** An interval as the fewest aligned prefixes: at each step the largest block aligned at its start that fits. */
function* blocksOf(iv: Interval, family: Prefix['family']): Generator<Prefix> {
  const bits = BITS[family];
  let at = iv.first;
  while (at <= iv.last) {
    let length = bits;
    // Grow the block while it stays aligned at `at` and inside the interval.
    while (length > 0) {
      const bigger = 1n << BigInt(bits - length + 1);
      if (at % bigger !== 0n || at + bigger - 1n > iv.last) break;
      length -= 1;
    }
    yield { family, network: at, length };
    at += 1n << BigInt(bits - length);
  }
}

function alignUp(value: bigint, size: bigint): bigint {
  const rest = value % size;
  return rest === 0n ? value : value + size - rest;
}
