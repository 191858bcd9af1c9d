// Applying a sweep: turns what a sweep saw into host observations (status debounce), history
// samples, events on changes, and IPAM rows for new devices — in slices of a few milliseconds,
// each committed with its turn's write batch (slices.ts), so applying a /16 never holds the
// event loop for long and alive hosts become visible slice by slice.
import net from 'node:net';
import { LanscapeError } from '../errors.js';
import { type IP, formatIp, ipFromKey, ipKey, parseIp } from '../ipam/core/ip.js';
import { prefixOf } from '../ipam/core/prefix.js';
import type { SubnetRow } from '../ipam/store.js';
import { DISCOVERY_ACTOR, type DiscoveryContext } from './context.js';
import { type HostState, observe } from './core/status.js';
import { ipv4Index } from './core/sweep.js';
import { loadVendors, vendorOf } from './oui.js';
import { inSlices } from './slices.js';
import type { HostRow } from './store.js';

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
  targets: readonly string[],
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
  const swept = membership(targets);
  // Addresses only: the rows are re-read where they are written.
  const known = new Set(
    (await ipam.addressesBetween(subnet.vrf_id, subnet.first_key, subnet.last_key)).map((a) => a.address),
  );
  // The sweep observed the subnet's own VRF (ARCHITECTURE.md "Discovery per VRF"): its hosts, samples and events.
  const vrf = subnet.vrf_id;
  const seen = (await store.hostsBetween(vrf, subnet.first_key, subnet.last_key)).map((h) => h.address);
  const tracked = [...new Set([...known, ...seen, ...alive.keys()])].filter(swept);
  const dhcpRanges = (await ipam.rangesInside(subnet.vrf_id, subnet.first_key, subnet.last_key))
    .filter((r) => r.purpose === 'dhcp')
    .map((r) => ({ first: ipFromKey(r.first_key).value, last: ipFromKey(r.last_key).value }));
  // Per host, store-only (slices.ts): the row read locked (PostgreSQL) and written back, one
  // history sample per host and sweep time (an upsert), events on changes.
  const applyOne = async (address: string) => {
    const ip = parseIp(address);
    const key = ipKey(ip);
    const prev = await store.lockedHost(vrf, key);
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
    await store.upsertHost(row);
    await store.insertHistory(vrf, key, now, isAlive, isAlive ? rtt : null);
    const base = { vrf_id: vrf, at: now, ip_key: key, address, subnet_id: subnet.id };
    if (event === 'new_device') {
      await store.insertEvent({
        ...base,
        kind: 'new_device',
        message: `new device ${address}${mac ? ` (${mac}${row.vendor ? `, ${row.vendor}` : ''})` : ''}`,
        details: JSON.stringify({ mac, vendor: row.vendor }),
      });
    } else if (event === 'up') {
      const downFor = prev?.status_changed_at ? Math.round((now - prev.status_changed_at) / 1000) : null;
      await store.insertEvent({
        ...base,
        kind: 'up',
        message: `${address} is up${downFor !== null ? ` after ${humanDuration(downFor)} down` : ''}`,
        details: JSON.stringify({ down_seconds: downFor }),
      });
    } else if (event === 'down') {
      await store.insertEvent({
        ...base,
        kind: 'down',
        message: `${address} is down (no answer to ${next.misses} sweeps)`,
        details: JSON.stringify({ misses: next.misses }),
      });
    }
    if (isAlive && prev?.mac && mac && prev.mac !== mac) {
      await store.insertEvent({
        ...base,
        kind: 'mac_changed',
        message: `${address} answers from ${mac} instead of ${prev.mac}`,
        details: JSON.stringify({ before: prev.mac, after: mac }),
      });
    }
    if (isAlive && !known.has(address)) {
      const inDhcp = dhcpRanges.some((r) => ip.value >= r.first && ip.value <= r.last);
      await recordDiscovered(ctx, vrf, ip, { state: inDhcp ? 'dhcp' : 'assigned', mac });
    }
  };
  await inSlices(
    ctx,
    tracked.length,
    (i) => applyOne(tracked[i]!),
    (done) => onSlice?.(done, tracked.length),
  );
  return [...alive.keys()];
}

/** A device nobody recorded becomes an IPAM address with source "discovered", in the VRF it was seen in. */
async function recordDiscovered(
  ctx: DiscoveryContext,
  vrf: number,
  ip: IP,
  fields: { state: 'dhcp' | 'assigned'; mac: string | null },
): Promise<void> {
  try {
    await ctx.ipam.createAddress(
      { address: formatIp(ip), vrf_id: vrf, state: fields.state, mac: fields.mac, source: 'discovered' },
      DISCOVERY_ACTOR,
    );
  } catch (e) {
    // e.g. the network address of a child subnet: observed, but not an address to record
    if (!(e instanceof LanscapeError)) throw e;
  }
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

/**
 * Whether an address was among the targets. A prefix's hosts (contiguous IPv4, ascending, as
 * sweepTargets makes them) are checked by arithmetic; other lists through a Set.
 */
function membership(targets: readonly string[]): (address: string) => boolean {
  const n = targets.length;
  if (n > 0 && net.isIPv4(targets[0]!) && net.isIPv4(targets[n - 1]!)) {
    const index = ipv4Index(targets);
    if (index(targets[n - 1]!) === n - 1) return (a) => index(a) >= 0;
  }
  const set = new Set(targets);
  return (a) => set.has(a);
}
