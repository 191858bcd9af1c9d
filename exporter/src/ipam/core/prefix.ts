// CIDR prefixes: parsing with helpful errors, containment and usable-address rules.
import { BITS, type Family, type IP, IpFormatError, checkText, formatIp, ipFromKey, parseIp, quoteText } from './ip.js';

export interface Prefix {
  readonly family: Family;
  readonly network: bigint;
  readonly length: number;
}

const MAX_TEXT = 70;

export function parsePrefix(text: unknown): Prefix {
  checkText(text, 'CIDR', MAX_TEXT);
  const slash = text.indexOf('/');
  // The address is checked first: "foo" is not an address, not an address missing its length.
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (slash < 0) {
    throw new IpFormatError(`${quoteText(text)} has no prefix length`, 'write it as address/length, e.g. 10.0.0.0/24');
  }
  const length = parseLength(text, text.slice(slash + 1), ip);
  const network = ip.value & netmask(ip.family, length);
  if (network !== ip.value) {
    const right = formatPrefix({ family: ip.family, network, length });
    throw new IpFormatError(`${quoteText(text)} has host bits set`, `did you mean ${right}?`);
  }
  return { family: ip.family, network, length };
}

/**
 * A prefix that can be a subnet: as parsePrefix, but not a /0. The whole IPv4 or IPv6 space is
 * no network anyone numbers hosts in (NetBox refuses it too), and as a subnet it would become
 * the parent of every other one.
 */
export function parseSubnetPrefix(text: unknown): Prefix {
  const prefix = parsePrefix(text);
  if (prefix.length === 0) {
    throw new IpFormatError(
      `${quoteText(text as string)} is the whole IPv${prefix.family} address space and cannot be a subnet`,
      'use a prefix length of 1 or more',
    );
  }
  return prefix;
}

function parseLength(text: string, lenText: string, ip: IP): number {
  const bits = BITS[ip.family];
  if (ip.family === 4 && lenText.includes('.')) throw netmaskNotation(text, lenText, ip);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bits) {
    throw new IpFormatError(`${quoteText(text)} has an invalid prefix length; IPv${ip.family} allows 0 to ${bits}`);
  }
  return Number(lenText);
}

/** 10.0.0.0/255.255.255.0 is refused with the prefix length to write instead. */
function netmaskNotation(text: string, mask: string, ip: IP): IpFormatError {
  const message = `${quoteText(text)} uses netmask notation, which is not supported`;
  const length = maskLength(mask);
  if (length === null) {
    return new IpFormatError(
      `${message} (and ${quoteText(mask)} is not a valid netmask)`,
      'write a prefix length, e.g. 10.0.0.0/24',
    );
  }
  const network = ip.value & netmask(4, length);
  return new IpFormatError(message, `write the prefix length instead: ${formatPrefix({ family: 4, network, length })}`);
}

/** The length of a contiguous IPv4 netmask such as 255.255.255.0 (24), or null. */
function maskLength(mask: string): number | null {
  let ip: IP;
  try {
    ip = parseIp(mask);
  } catch {
    return null;
  }
  if (ip.family !== 4) return null;
  for (let length = 0; length <= 32; length++) if (netmask(4, length) === ip.value) return length;
  return null;
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
  return (
    outer.family === inner.family &&
    outer.length <= inner.length &&
    (inner.network & netmask(outer.family, outer.length)) === outer.network
  );
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

/** The prefix of a stored subnet row (its family, first key and length). */
export function prefixOf(row: { family: Family; first_key: Buffer; prefix_length: number }): Prefix {
  return { family: row.family, network: ipFromKey(row.first_key).value, length: row.prefix_length };
}
