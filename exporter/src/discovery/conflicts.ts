// Conflicts between what IPAM records and what sweeps see, computed on read: mac_mismatch,
// unknown_device, stale_reservation (their SQL conditions are CONFLICT_SQL in store.ts, shared
// with /metrics).
import { ipFromKey } from '../ipam/core/ip.js';
import type { SubnetLookup } from '../ipam/service.js';
import { iso } from './context.js';
import { vendorOf } from './oui.js';
import type { CONFLICT_SQL, DiscoveryStore } from './store.js';

/**
 * The conflicts of one kind (or all), by kind then VRF and address key; of one VRF when `vrf` is set.
 * @param index the most specific subnet of an address
 * @param cutoff reservations unanswered since before this (ms) are stale
 */
export async function listConflicts(
  store: DiscoveryStore,
  kind: keyof typeof CONFLICT_SQL | undefined,
  index: SubnetLookup,
  cutoff: number,
  vrf?: number,
): Promise<
  {
    kind: keyof typeof CONFLICT_SQL;
    vrf_id: number;
    address: string;
    address_id: number;
    subnet_id: number | null;
    message: string;
    since: string | null;
    details: Record<string, unknown>;
  }[]
> {
  const out: {
    kind: keyof typeof CONFLICT_SQL;
    vrf_id: number;
    address: string;
    address_id: number;
    subnet_id: number | null;
    message: string;
    since: string | null;
    details: Record<string, unknown>;
  }[] = [];
  // A host is joined with the address of its own VRF (ARCHITECTURE.md "Discovery per VRF").
  const subnetOf = (r: { vrf_id: number; ip_key: Buffer }) => index.mostSpecific(r.vrf_id, ipFromKey(r.ip_key));
  if (!kind || kind === 'mac_mismatch') {
    for (const r of await store.macMismatches(vrf)) {
      out.push({
        kind: 'mac_mismatch',
        vrf_id: r.vrf_id,
        address: r.address,
        address_id: r.id,
        subnet_id: subnetOf(r),
        since: iso(r.last_seen_at),
        message: `${r.address} answers from ${r.observed} (${vendorOf(r.observed) ?? 'unknown vendor'}), but ${r.recorded} is recorded`,
        details: { recorded_mac: r.recorded, observed_mac: r.observed },
      });
    }
  }
  if (!kind || kind === 'unknown_device') {
    for (const r of await store.unknownDevices(vrf)) {
      out.push({
        kind: 'unknown_device',
        vrf_id: r.vrf_id,
        address: r.address,
        address_id: r.id,
        subnet_id: subnetOf(r),
        since: iso(r.first_seen_at),
        message: `${r.address} is alive but nobody reserved it${r.mac ? ` (${r.mac}${r.vendor ? `, ${r.vendor}` : ''})` : ''}`,
        details: { mac: r.mac, vendor: r.vendor },
      });
    }
  }
  if (!kind || kind === 'stale_reservation') {
    for (const r of await store.staleReservations(cutoff, vrf)) {
      out.push({
        kind: 'stale_reservation',
        vrf_id: r.vrf_id,
        address: r.address,
        address_id: r.id,
        subnet_id: subnetOf(r),
        since: iso(r.last_seen_at) ?? r.created_at,
        message:
          r.last_seen_at === null
            ? `${r.address} is ${r.state} but has never answered`
            : `${r.address} is ${r.state} but has not answered since ${iso(r.last_seen_at)}`,
        details: { state: r.state, last_seen_at: iso(r.last_seen_at) },
      });
    }
  }
  return out;
}
