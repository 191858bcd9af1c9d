// What sweeps saw, as parts of API views: an address's observation (IPAM address views carry it
// as `observed`, through IpamService.addEnricher) and the `discovery` part of subnet views
// (alive hosts and the latest scan, through addSubnetEnricher).
import type { AddressView, IpamService } from '../ipam/service.js';
import type { DiscoveryStore, HostRow, ScanRow } from './store.js';
import { iso } from './context.js';
import { parsePorts } from './core/ports.js';

/** One host's observation as the API shows it. */
export function observationView(h: HostRow) {
  return {
    status: h.status,
    rtt_seconds: h.rtt_seconds,
    first_seen_at: iso(h.first_seen_at),
    last_seen_at: iso(h.last_seen_at),
    status_changed_at: iso(h.status_changed_at),
    last_checked_at: iso(h.last_checked_at),
    mac: h.mac,
    vendor: h.vendor,
    ptr: h.ptr,
    ports: parsePorts(h.ports),
  };
}

/** Fills `observed` of address views built in bulk: one read for one view, one key-range read for many. */
export function attachObservations(store: DiscoveryStore, views: readonly { key: Buffer; view: AddressView }[]): void {
  if (views.length === 0) return;
  const keys = views.map((v) => v.key);
  const sorted = [...keys].sort(Buffer.compare);
  const hosts =
    views.length === 1
      ? [store.host(keys[0]!)].filter((h): h is HostRow => h !== undefined)
      : store.hostsBetween(sorted[0]!, sorted[sorted.length - 1]!);
  const byKey = new Map(hosts.map((h) => [h.ip_key.toString('hex'), h]));
  for (const { key, view } of views) {
    const h = byKey.get(key.toString('hex'));
    view.observed = h ? observationView(h) : null;
  }
}

/**
 * Registers the enrichers that add discovery's part to IPAM's address and subnet views.
 * @param liveScan the queued or running scan of a subnet, if any (newer than the stored ones)
 */
export function enrichIpamViews(
  ipam: IpamService,
  store: DiscoveryStore,
  liveScan: (subnetId: number) => ScanRow | undefined,
): void {
  ipam.addEnricher((views) => attachObservations(store, views));
  ipam.addSubnetEnricher((views) => {
    for (const { row, view } of views) {
      const last = liveScan(row.id) ?? store.lastScan(row.id);
      view.discovery = {
        hosts_up: store.hostsUpBetween(row.first_key, row.last_key),
        last_scan: last
          ? {
              id: last.id,
              state: last.state,
              trigger: last.trigger,
              finished_at: iso(last.finished_at),
              alive: last.alive,
              ...(last.error ? { error: last.error } : {}),
            }
          : null,
      };
    }
  });
}
