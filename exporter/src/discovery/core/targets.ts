// What a sweep may touch: every usable address of an IPv4 subnet no larger than the configured
// maximum. The sweep never receives an address from anywhere else.
import { type Prefix, formatPrefix, usableBounds } from '../../ipam/core/prefix.js';

export class SweepTooLargeError extends Error {}

/**
 * What a sweep covered, as applying it needs it: how many addresses, and whether one of them
 * (in its canonical text, as stored and as formatIp writes it) was among them.
 */
export interface TargetSet {
  readonly size: number;
  has(address: string): boolean;
}

function checkSweepable(prefix: Prefix, maxPrefix: number): void {
  if (prefix.family !== 4) throw new Error('only IPv4 subnets are swept; IPv6 known addresses are pinged instead');
  if (prefix.length < maxPrefix) {
    throw new SweepTooLargeError(
      `${formatPrefix(prefix)} is larger than the largest sweep allowed (/${maxPrefix}, ` +
        'LANSCAPE_SCAN_MAX_PREFIX); add smaller subnets inside it or raise the limit',
    );
  }
}

export function sweepTargets(prefix: Prefix, maxPrefix: number): string[] {
  checkSweepable(prefix, maxPrefix);
  const { first, last } = usableBounds(prefix);
  const out: string[] = [];
  for (let v = Number(first); v <= Number(last); v++) out.push(ipv4Text(v));
  return out;
}

/**
 * sweepTargets as a TargetSet, by arithmetic: applying an agent's report of a /16 needs no list
 * of its 65,534 addresses (building one took ~15 ms and its garbage as much again, per report).
 */
export function prefixTargets(prefix: Prefix, maxPrefix: number): TargetSet {
  checkSweepable(prefix, maxPrefix);
  const { first, last } = usableBounds(prefix);
  const lo = Number(first);
  const hi = Number(last);
  return {
    size: hi - lo + 1,
    has: (address) => {
      const v = ipv4Value(address);
      return v >= lo && v <= hi;
    },
  };
}

/**
 * A list of targets as a TargetSet: an ascending run of IPv4 addresses (sweepTargets' list) by
 * arithmetic, any other list through a Set.
 */
export function listTargets(targets: readonly string[]): TargetSet {
  const n = targets.length;
  const lo = n > 0 ? ipv4Value(targets[0]!) : NaN;
  if (targets.every((t, i) => ipv4Value(t) === lo + i)) {
    return {
      size: n,
      has: (address) => {
        const i = ipv4Value(address) - lo;
        return i >= 0 && i < n;
      },
    };
  }
  const set = new Set(targets);
  return { size: set.size, has: (address) => set.has(address) };
}

function ipv4Text(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** The value of a canonical dotted-quad IPv4 address (no leading zeros), else NaN. */
export function ipv4Value(text: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; // a final '.' closes the last part
    if (c === 46) {
      if (digits === 0 || part > 255 || ++parts > 4) return NaN;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return NaN; // a leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3) return NaN;
    } else return NaN;
  }
  return parts === 4 ? value : NaN;
}
