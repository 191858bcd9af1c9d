// MAC addresses of hosts on directly connected segments, from the kernel's neighbour tables of
// the exporter's network namespace: IPv4 from /proc/net/arp, IPv6 (neighbour discovery) from
// `ip -6 -json neigh` (Linux has no /proc file for it). Read after a sweep, which has just
// filled them.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { formatIp, parseIp } from '../ipam/core/ip.js';

const ATF_COM = 0x2; // entry complete

export function parseProcNetArp(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const [ip, , flags, mac] = line.trim().split(/\s+/);
    if (!ip || !flags || !mac) continue;
    if ((Number.parseInt(flags, 16) & ATF_COM) === 0 || mac === '00:00:00:00:00:00') continue;
    out.set(ip, mac.toLowerCase());
  }
  return out;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** Entries without a usable link-layer address (resolution pending or failed). */
const UNRESOLVED = new Set(['INCOMPLETE', 'FAILED', 'NONE']);

/** `ip -json neigh` output as address → MAC (addresses in IPAM's spelling; unresolved entries left out). */
export function parseIpNeighJson(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch {
    return out;
  }
  if (!Array.isArray(rows)) return out;
  for (const row of rows as { dst?: unknown; lladdr?: unknown; state?: unknown }[]) {
    if (typeof row?.dst !== 'string' || typeof row.lladdr !== 'string') continue;
    const mac = row.lladdr.toLowerCase();
    if (!MAC.test(mac) || mac === '00:00:00:00:00:00') continue;
    const states = Array.isArray(row.state) ? (row.state as unknown[]) : [];
    if (states.some((s) => typeof s === 'string' && UNRESOLVED.has(s))) continue;
    try {
      out.set(formatIp(parseIp(row.dst.split('%')[0]!)), mac);
    } catch {
      /* not an address */
    }
  }
  return out;
}

export function readArp(path = '/proc/net/arp'): Map<string, string> {
  try {
    return parseProcNetArp(readFileSync(path, 'utf8'));
  } catch {
    return new Map();
  }
}

/** IPv6 neighbours; empty when iproute2's `ip` is missing or fails. */
export function readNdp(): Promise<Map<string, string>> {
  return new Promise((resolve) => {
    execFile('ip', ['-6', '-json', 'neigh', 'show'], { timeout: 5_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) =>
      resolve(err ? new Map() : parseIpNeighJson(stdout)),
    );
  });
}

export function readNeighbours(family: 4 | 6): Map<string, string> | Promise<Map<string, string>> {
  return family === 4 ? readArp() : readNdp();
}
