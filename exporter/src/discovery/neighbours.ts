// MAC addresses of hosts on directly connected segments, from the kernel's neighbour (ARP)
// table of the exporter's network namespace. Read after a sweep, which has just filled it.
import { readFileSync } from 'node:fs';

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

export function readNeighbours(path = '/proc/net/arp'): Map<string, string> {
  try {
    return parseProcNetArp(readFileSync(path, 'utf8'));
  } catch {
    return new Map();
  }
}
