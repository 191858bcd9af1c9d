// CIDR prefixes: parsing with helpful errors, containment and usable-address rules.
import { BITS, type Family, type IP, IpFormatError, formatIp, parseIp } from './ip.js';

export interface Prefix {
  readonly family: Family;
  readonly network: bigint;
  readonly length: number;
}

const MAX_TEXT = 70;

export function parsePrefix(text: unknown): Prefix {
  if (typeof text !== 'string' || text.length === 0) throw new IpFormatError('CIDR is empty');
  if (text.length > MAX_TEXT) throw new IpFormatError('CIDR is too long');
  const slash = text.indexOf('/');
  if (slash < 0) {
    throw new IpFormatError(`"${text}" has no prefix length`, 'write it as address/length, e.g. 10.0.0.0/24');
  }
  const ip = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  const bits = BITS[ip.family];
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bits) {
    throw new IpFormatError(`"${text}" has an invalid prefix length; IPv${ip.family} allows 0 to ${bits}`);
  }
  const length = Number(lenText);
  const network = ip.value & netmask(ip.family, length);
  if (network !== ip.value) {
    const right = formatPrefix({ family: ip.family, network, length });
    throw new IpFormatError(`"${text}" has host bits set`, `did you mean ${right}?`);
  }
  return { family: ip.family, network, length };
}

export function netmask(family: Family, length: number): bigint {
  const bits = BigInt(BITS[family]);
  const all = (1n << bits) - 1n;
  return all ^ ((1n << (bits - BigInt(length))) - 1n);
}

export function formatPrefix(p: Prefix): string {
  return `${formatIp({ family: p.family, value: p.network })}/${p.length}`;
}

export function sizeOf(p: Prefix): bigint {
  return 1n << BigInt(BITS[p.family] - p.length);
}

export function lastOf(p: Prefix): bigint {
  return p.network + sizeOf(p) - 1n;
}

export function contains(p: Prefix, ip: IP): boolean {
  return ip.family === p.family && ip.value >= p.network && ip.value <= lastOf(p);
}

/** True when `inner` lies inside `outer` (equal prefixes included). */
export function covers(outer: Prefix, inner: Prefix): boolean {
  return outer.family === inner.family && outer.length <= inner.length &&
    (inner.network & netmask(outer.family, outer.length)) === outer.network;
}

export interface Bounds {
  readonly first: bigint;
  readonly last: bigint;
}

/**
 * The addresses a host may hold. IPv4 excludes network and broadcast except in /31 and /32
 * (RFC 3021). IPv6 excludes the subnet-router anycast address (RFC 4291) except in /127 and
 * /128 (RFC 6164).
 */
export function usableBounds(p: Prefix): Bounds {
  const last = lastOf(p);
  if (p.family === 4) {
    return p.length >= 31 ? { first: p.network, last } : { first: p.network + 1n, last: last - 1n };
  }
  return p.length >= 127 ? { first: p.network, last } : { first: p.network + 1n, last };
}

export function usableCount(p: Prefix): bigint {
  const b = usableBounds(p);
  return b.last - b.first + 1n;
}
