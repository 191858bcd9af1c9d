// Small IPv4/IPv6 helpers for the browser: parse, format, compare, and list the first free
// addresses of a gap row. Values are bigints so IPv6 works the same way as IPv4.

export interface Ip {
  family: 4 | 6;
  value: bigint;
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEXTET_RE = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4(text: string): bigint | null {
  if (!IPV4_RE.test(text)) {
    return null;
  }
  return text.split('.').reduce((acc, part) => acc * BigInt(256) + BigInt(Number(part)), BigInt(0));
}

function parseHextets(text: string): number[] | null {
  if (text === '') {
    return [];
  }
  const parts = text.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIPv4(part);
      if (v4 === null) {
        return null;
      }
      const n = Number(v4);
      out.push(Math.floor(n / 65536), n % 65536);
    } else if (HEXTET_RE.test(part)) {
      out.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return out;
}

function parseIPv6(text: string): bigint | null {
  const address = text.split('%')[0]!;
  const halves = address.split('::');
  if (halves.length > 2) {
    return null;
  }
  const head = parseHextets(halves[0]!);
  const tail = halves.length === 2 ? parseHextets(halves[1]!) : [];
  if (head === null || tail === null) {
    return null;
  }
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) {
    return null;
  }
  const hextets = [...head, ...new Array<number>(Math.max(0, missing)).fill(0), ...tail];
  return hextets.reduce((acc, h) => acc * BigInt(65536) + BigInt(h), BigInt(0));
}

/** Parses an IPv4 or IPv6 address; null when the text is not one. */
export function parseIp(text: string): Ip | null {
  const t = text.trim();
  if (t.includes(':')) {
    const value = parseIPv6(t);
    return value === null ? null : { family: 6, value };
  }
  const value = parseIPv4(t);
  return value === null ? null : { family: 4, value };
}

export function isIp(text: string): boolean {
  return parseIp(text) !== null;
}

/** Formats an address: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as ::). */
export function formatIp(ip: Ip): string {
  if (ip.family === 4) {
    const n = Number(ip.value);
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
  }
  const hextets: number[] = [];
  let v = ip.value;
  for (let i = 0; i < 8; i++) {
    hextets.unshift(Number(v % BigInt(65536)));
    v = v / BigInt(65536);
  }
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (hextets[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && hextets[j] === 0) {
      j++;
    }
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = hextets.map((h) => h.toString(16));
  if (bestStart < 0) {
    return hex.join(':');
  }
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Orders two addresses (IPv4 before IPv6); unparsable text sorts last. */
export function compareIp(a: string, b: string): number {
  const x = parseIp(a);
  const y = parseIp(b);
  if (!x || !y) {
    return x ? -1 : y ? 1 : a.localeCompare(b);
  }
  if (x.family !== y.family) {
    return x.family - y.family;
  }
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}

/** True when `address` lies in [start, end] (same family). */
export function ipInRange(address: string, start: string, end: string): boolean {
  const a = parseIp(address);
  const s = parseIp(start);
  const e = parseIp(end);
  if (!a || !s || !e || a.family !== s.family || a.family !== e.family) {
    return false;
  }
  return a.value >= s.value && a.value <= e.value;
}

/** The first `max` addresses of [start, end], in order. */
export function firstAddresses(start: string, end: string, max: number): string[] {
  const s = parseIp(start);
  const e = parseIp(end);
  if (!s || !e || s.family !== e.family || s.value > e.value) {
    return [];
  }
  const out: string[] = [];
  for (let v = s.value; v <= e.value && out.length < max; v = v + BigInt(1)) {
    out.push(formatIp({ family: s.family, value: v }));
  }
  return out;
}

/** Whether an address lies inside a CIDR prefix. */
export function ipInCidr(address: string, cidr: string): boolean {
  const [network, lengthText] = cidr.split('/');
  const a = parseIp(address);
  const n = parseIp(network ?? '');
  const length = Number(lengthText);
  if (!a || !n || a.family !== n.family || !Number.isInteger(length)) {
    return false;
  }
  const bits = a.family === 4 ? 32 : 128;
  const hostBits = BigInt(bits - length);
  return a.value >> hostBits === n.value >> hostBits;
}
