// Applying a sweep: turns what a sweep saw into host observations (status debounce), history
// samples, events on changes, and IPAM rows for new devices — in slices of a few milliseconds,
// each committed with its turn's write batch (slices.ts), so applying a /16 never holds the
// event loop for long and alive hosts become visible slice by slice.
import { type IP, ipFromKey, ipKey, parseIp } from '../ipam/core/ip.js';
import { prefixOf } from '../ipam/core/prefix.js';
import type { AddressFields } from '../ipam/schemas.js';
import type { SubnetRow } from '../ipam/store.js';
import { DISCOVERY_ACTOR, type DiscoveryContext } from './context.js';
import { type HostState, observe } from './core/status.js';
import type { TargetSet } from './core/targets.js';
import { loadVendors, vendorOf } from './oui.js';
import { hostsPerStep, inSlices } from './slices.js';
import type { EventRow, HistorySample, HostRow } from './store.js';

/**
 * Records one sweep: observations and history for every tracked address (known to IPAM, alive
 * now, or seen before), events on changes, IPAM rows for new devices. The tracked addresses are
 * read once; each address is then written in a slice (slices.ts) that re-reads its host row, so
 * a write between two slices (nmap's results, a person's edit) is never overwritten with an old
 * copy. Resolves with the alive addresses. `neighbours`: MACs by address (default: the IPv4 ARP
 * table read now). `onSlice`: after each committed slice, addresses applied and tracked.
 */
export async function applySweep(
  ctx: DiscoveryContext,
  subnet: SubnetRow,
  targets: TargetSet,
  alive: Map<string, number>,
  now: number,
  neighbours?: ReadonlyMap<string, string>,
  onSlice?: (applied: number, tracked: number) => void,
): Promise<string[]> {
  const { store, ipam } = ctx;
  if (!neighbours) {
    const read = await ctx.deps.readNeighbours(prefixOf(subnet).family);
    neighbours = read instanceof Map ? read : new Map<string, string>();
  }
  const macs = neighbours;
  // Vendor names are looked up per MAC: the index is built in slices of its own first.
  if (macs.size > 0) await loadVendors();
  // Addresses only: the rows are re-read where they are written.
  const known = new Set(
    (await ipam.addressesBetween(subnet.vrf_id, subnet.first_key, subnet.last_key)).map((a) => a.address),
  );
  // The sweep observed the subnet's own VRF (ARCHITECTURE.md "Discovery per VRF"): its hosts, samples and events.
  const vrf = subnet.vrf_id;
  const seen = (await store.hostsBetween(vrf, subnet.first_key, subnet.last_key)).map((h) => h.address);
  const tracked = [...new Set([...known, ...seen, ...alive.keys()])].filter((a) => targets.has(a));
  const dhcpRanges = (await ipam.rangesInside(subnet.vrf_id, subnet.first_key, subnet.last_key))
    .filter((r) => r.purpose === 'dhcp')
    .map((r) => ({ first: ipFromKey(r.first_key).value, last: ipFromKey(r.last_key).value }));
  // Per chunk of hosts, store-only (slices.ts): their rows read in one statement (locked on
  // PostgreSQL) and written back in one, one history sample per host and sweep time (an upsert),
  // events on changes, new devices recorded in IPAM together. One statement per host and kind
  // made the first report of a /16 with 1,000 new devices take ~400 ms of statements.
  const applyChunk = async (addresses: readonly string[]) => {
    const ips = addresses.map(parseIp);
    const keys = ips.map(ipKey);
    const previous = await store.lockedHosts(vrf, keys);
    const hosts: HostRow[] = [];
    const samples: HistorySample[] = [];
    const events: Omit<EventRow, 'id'>[] = [];
    const discovered: { vrf: number; ip: IP; fields: AddressFields }[] = [];
    addresses.forEach((address, i) => {
      const ip = ips[i]!;
      const key = keys[i]!;
      const prev = previous.get(key.toString('hex'));
      const rtt = alive.get(address);
      const isAlive = rtt !== undefined;
      const { next, event } = observe(prev && hostState(prev), isAlive, now, ctx.scan.down_after);
      const mac = isAlive ? (macs.get(address) ?? prev?.mac ?? null) : (prev?.mac ?? null);
      const row: HostRow = {
        vrf_id: vrf,
        ip_key: key,
        address,
        status: next.status,
        misses: next.misses,
        rtt_seconds: isAlive ? rtt : (prev?.rtt_seconds ?? null),
        first_seen_at: next.firstSeenAt,
        last_seen_at: next.lastSeenAt,
        status_changed_at: next.statusChangedAt,
        last_checked_at: now,
        mac,
        vendor: mac ? vendorOf(mac) : null,
        ptr: prev?.ptr ?? null,
        ports: prev?.ports ?? '[]',
        ports_checked_at: prev?.ports_checked_at ?? null,
        nmap_checked_at: prev?.nmap_checked_at ?? null,
      };
      hosts.push(row);
      samples.push({ vrf_id: vrf, ip_key: key, at: now, up: isAlive, rtt_seconds: isAlive ? rtt : null });
      const base = { vrf_id: vrf, at: now, ip_key: key, address, subnet_id: subnet.id };
      if (event === 'new_device') {
        events.push({
          ...base,
          kind: 'new_device',
          message: `new device ${address}${mac ? ` (${mac}${row.vendor ? `, ${row.vendor}` : ''})` : ''}`,
          details: JSON.stringify({ mac, vendor: row.vendor }),
        });
      } else if (event === 'up') {
        const downFor = prev?.status_changed_at ? Math.round((now - prev.status_changed_at) / 1000) : null;
        events.push({
          ...base,
          kind: 'up',
          message: `${address} is up${downFor !== null ? ` after ${humanDuration(downFor)} down` : ''}`,
          details: JSON.stringify({ down_seconds: downFor }),
        });
      } else if (event === 'down') {
        events.push({
          ...base,
          kind: 'down',
          message: `${address} is down (no answer to ${next.misses} sweeps)`,
          details: JSON.stringify({ misses: next.misses }),
        });
      }
      if (isAlive && prev?.mac && mac && prev.mac !== mac) {
        events.push({
          ...base,
          kind: 'mac_changed',
          message: `${address} answers from ${mac} instead of ${prev.mac}`,
          details: JSON.stringify({ before: prev.mac, after: mac }),
        });
      }
      if (isAlive && !known.has(address)) {
        // A device nobody recorded becomes an IPAM address with source "discovered", in the VRF it was seen in.
        const inDhcp = dhcpRanges.some((r) => ip.value >= r.first && ip.value <= r.last);
        discovered.push({ vrf, ip, fields: { state: inDhcp ? 'dhcp' : 'assigned', mac, source: 'discovered' } });
      }
    });
    await store.upsertHosts(hosts);
    await store.insertHistory(samples);
    if (events.length > 0) await store.insertEvents(events);
    await ctx.ipam.recordDiscovered(discovered, DISCOVERY_ACTOR);
  };
  const chunk = hostsPerStep(store.dialect);
  const chunks = Math.ceil(tracked.length / chunk);
  await inSlices(
    ctx,
    chunks,
    (c) => applyChunk(tracked.slice(c * chunk, (c + 1) * chunk)),
    (done) => onSlice?.(Math.min(done * chunk, tracked.length), tracked.length),
  );
  return [...alive.keys()];
}

function hostState(h: HostRow): HostState {
  return {
    status: h.status,
    misses: h.misses,
    firstSeenAt: h.first_seen_at,
    lastSeenAt: h.last_seen_at,
    statusChangedAt: h.status_changed_at,
  };
}

function humanDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}
