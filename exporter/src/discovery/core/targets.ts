// What a sweep may touch: every usable address of an IPv4 subnet no larger than the configured
// maximum. The sweep never receives an address from anywhere else.
import { type Prefix, formatPrefix, usableBounds } from '../../ipam/core/prefix.js';

export class SweepTooLargeError extends Error {}

export function sweepTargets(prefix: Prefix, maxPrefix: number): string[] {
  if (prefix.family !== 4) throw new Error('only IPv4 subnets are swept; IPv6 known addresses are pinged instead');
  if (prefix.length < maxPrefix) {
    throw new SweepTooLargeError(
      `${formatPrefix(prefix)} is larger than the largest sweep allowed (/${maxPrefix}, ` +
        'LANSCAPE_SCAN_MAX_PREFIX); add smaller subnets inside it or raise the limit',
    );
  }
  const { first, last } = usableBounds(prefix);
  const out: string[] = [];
  for (let v = Number(first); v <= Number(last); v++)
    out.push(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`);
  return out;
}
