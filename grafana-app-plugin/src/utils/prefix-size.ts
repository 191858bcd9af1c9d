// The size helper of "next free /N": how many hosts a prefix length holds, and the smallest
// prefix (longest length) that holds a number of hosts. IPv4 loses the network and broadcast
// addresses below /31 (a /31 is a point-to-point link of 2, RFC 3021; a /32 is one host); IPv6
// counts the whole block.

export type Family = 4 | 6;

/** The longest prefix length of a family: 32 or 128. */
export function maxPrefixLength(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** The hosts a prefix of this length holds (IPv4 without network and broadcast below /31). */
export function usableHosts(family: Family, length: number): bigint {
  const size = BigInt(1) << BigInt(maxPrefixLength(family) - length);
  return family === 4 && length < 31 ? size - BigInt(2) : size;
}

/**
 * The longest prefix length that holds `hosts` (a whole number ≥ 1), or undefined when no prefix of
 * the family does (more than 2^32 − 2 IPv4 hosts).
 */
export function prefixLengthForHosts(family: Family, hosts: number | bigint): number | undefined {
  const needed = BigInt(hosts);
  if (needed < BigInt(1)) {
    return undefined;
  }
  for (let length = maxPrefixLength(family); length >= 0; length--) {
    if (usableHosts(family, length) >= needed) {
      return length;
    }
  }
  return undefined;
}

/** "62 usable" (IPv4), "256 addresses", "2^64 addresses" (IPv6 beyond 2^32). */
export function formatHosts(family: Family, length: number): string {
  const hosts = usableHosts(family, length);
  const bits = maxPrefixLength(family) - length;
  const count = bits > 32 ? `2^${bits}` : Number(hosts).toLocaleString('en-US');
  return family === 4 ? `${count} usable` : `${count} addresses`;
}

/** "/26 · 62 usable". */
export function describePrefixLength(family: Family, length: number): string {
  return `/${length} · ${formatHosts(family, length)}`;
}
