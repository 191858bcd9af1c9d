// IP addresses as (family, bigint) pairs. Parsing delegates to ipaddr.js but is strict, and
// agrees with CPython's ipaddress and Go's net/netip: only dotted-quad IPv4 (no leading zeros,
// no shorthand like "10.1") and plain IPv6, whose dotted IPv4 tail follows the same rules.
// Zone ids and surrounding whitespace are refused.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;
export interface IP {
  readonly family: Family;
  readonly value: bigint;
}

export const BITS: Record<Family, number> = { 4: 32, 6: 128 };
/** Longest textual form we accept; anything longer is rejected before parsing. */
const MAX_TEXT = 64;

export class IpFormatError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'IpFormatError';
  }
}

/** The text quoted for an error message, shortened so a huge input is not echoed back. */
export function quoteText(text: string): string {
  return JSON.stringify(text.length > 48 ? `${text.slice(0, 45)}...` : text);
}

/**
 * Checks shared by addresses and CIDRs before any parsing: a non-empty string, not too long,
 * taken exactly as written (" 10.0.0.1" is refused, not trimmed, by the API and CSV import alike).
 */
export function checkText(text: unknown, what: 'address' | 'CIDR', max: number): asserts text is string {
  if (typeof text !== 'string' || text.length === 0) throw new IpFormatError(`${what} is empty`);
  if (text.length > max) throw new IpFormatError(`${what} ${quoteText(text)} is too long`);
  if (text.trim() !== text) {
    throw new IpFormatError(
      `${what} ${quoteText(text)} has leading or trailing whitespace`,
      'remove the spaces around it',
    );
  }
}

export function parseIp(text: unknown): IP {
  checkText(text, 'address', MAX_TEXT);
  const zone = text.indexOf('%');
  if (zone >= 0) {
    // A zone (fe80::1%eth0) names a link on one host; it is not part of an address plan.
    throw new IpFormatError(
      `${quoteText(text)} has a zone id (${quoteText(text.slice(zone))}); zone ids are not supported`,
      'write the address without the %zone part',
    );
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 4, value: bytesToBigInt(ipaddr.IPv4.parse(text).toByteArray()) };
  }
  if (text.includes(':')) return { family: 6, value: parseIpv6(text) };
  throw invalid(text, text);
}

function invalid(text: string, ipv4Part: string): IpFormatError {
  // CPython and Go refuse leading zeros too: some parsers read "010" as octal 8.
  if (/^[0-9]+(\.[0-9]+){3}$/.test(ipv4Part) && /(^|\.)0[0-9]/.test(ipv4Part)) {
    return new IpFormatError(`${quoteText(text)} has a leading zero in an IPv4 octet; leading zeros are not allowed`);
  }
  return new IpFormatError(`${quoteText(text)} is not a valid IPv4 or IPv6 address`);
}

function parseIpv6(text: string): bigint {
  const hex = hexTail(text);
  if (!ipaddr.IPv6.isValid(hex)) throw invalid(text, '');
  return bytesToBigInt(ipaddr.IPv6.parse(hex).toByteArray());
}

/**
 * Rewrites a dotted IPv4 tail as two hex groups: "::ffff:1.2.3.4" → "::ffff:102:304". ipaddr.js
 * on its own reads "::1.2.3.4" as the IPv4-mapped "::ffff:1.2.3.4" and takes "01.2.3.4" as a
 * tail; RFC 4291 §2.2 (like CPython and Go) reads the tail as the 32 low bits it spells and
 * holds it to the rules of an IPv4 address alone.
 */
function hexTail(text: string): string {
  const colon = text.lastIndexOf(':');
  const tail = text.slice(colon + 1);
  if (!tail.includes('.')) return text;
  if (!ipaddr.IPv4.isValidFourPartDecimal(tail)) throw invalid(text, tail);
  const [a, b, c, d] = ipaddr.IPv4.parse(tail).octets as [number, number, number, number];
  return `${text.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

export function formatIp(ip: IP): string {
  const bytes = bigIntToBytes(ip.value, BITS[ip.family] / 8);
  if (ip.family === 4) return bytes.join('.');
  const v6 = ipaddr.fromByteArray(bytes) as ipaddr.IPv6;
  // RFC 5952: compressed form, with IPv4-mapped addresses ending in dotted quad (§5).
  return v6.isIPv4MappedAddress() ? `::ffff:${v6.toIPv4Address().toString()}` : v6.toString();
}

export function compareIp(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

function bytesToBigInt(bytes: number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bigIntToBytes(value: bigint, length: number): number[] {
  const out = new Array<number>(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * Sort key for the store: one family byte then the 128-bit value, big-endian. SQLite compares
 * BLOBs with memcmp, so key order is numeric order and range scans use the index.
 */
export function ipKey(ip: IP): Buffer {
  const key = Buffer.alloc(17);
  key[0] = ip.family;
  const hex = ip.value.toString(16).padStart(32, '0');
  key.write(hex, 1, 'hex');
  return key;
}

export function ipFromKey(key: Uint8Array): IP {
  const family = key[0] as Family;
  if (key.length !== 17 || (family !== 4 && family !== 6)) throw new Error('corrupt address key');
  // IPv4 values sit in the last four bytes: no hex string on the way (a scrape reads many keys).
  if (family === 4) {
    let high = 0;
    for (let i = 1; i < 13; i++) high |= key[i]!;
    if (high === 0)
      return { family, value: BigInt(((key[13]! << 24) | (key[14]! << 16) | (key[15]! << 8) | key[16]!) >>> 0) };
  }
  const value = BigInt(`0x${Buffer.from(key.subarray(1)).toString('hex')}`);
  return { family, value };
}
