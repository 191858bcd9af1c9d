// Utilization of a subnet or range: addresses held plus ranges marked "fully used".
export interface UtilizedRange {
  /** usable addresses of the range (clipped to the subnet's usable bounds) */
  readonly size: bigint;
  /** known addresses inside that part of the range, already counted in `addressCount` */
  readonly addressCount: bigint;
}

export interface Utilization {
  readonly size: bigint;
  readonly used: bigint;
  readonly free: bigint;
  readonly ratio: number;
}

export function utilization(
  usable: bigint,
  addressCount: bigint,
  utilized: readonly UtilizedRange[] = [],
): Utilization {
  let used = addressCount;
  for (const r of utilized) used += r.size - r.addressCount;
  if (used > usable) used = usable;
  const ratio = usable === 0n ? 0 : ratioOf(used, usable);
  return { size: usable, used, free: usable - used, ratio };
}

/** used/size as a float without losing precision when both exceed 2^53. */
function ratioOf(used: bigint, size: bigint): number {
  const scale = 1_000_000_000n;
  return Number((used * scale) / size) / Number(scale);
}
