// IP addresses as (family, bigint) pairs. Parsing delegates to ipaddr.js but is strict:
// only dotted-quad IPv4 and plain IPv6 (no zone ids, no shorthand like "10.1").
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
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'IpFormatError';
  }
}

function describe(text: string): string {
  return JSON.stringify(text.length > 48 ? `${text.slice(0, 45)}...` : text);
}

export function parseIp(text: unknown): IP {
  if (typeof text !== 'string' || text.length === 0) throw new IpFormatError('address is empty');
  if (text.length > MAX_TEXT) throw new IpFormatError(`address ${describe(text)} is too long`);
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    const bytes = ipaddr.IPv4.parse(text).toByteArray();
    return { family: 4, value: bytesToBigInt(bytes) };
  }
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) {
    return { family: 6, value: bytesToBigInt(ipaddr.IPv6.parse(text).toByteArray()) };
  }
  throw new IpFormatError(`${describe(text)} is not a valid IPv4 or IPv6 address`);
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
  const value = BigInt(`0x${Buffer.from(key.subarray(1)).toString('hex')}`);
  return { family, value };
}
