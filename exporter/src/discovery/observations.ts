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

/**
 * Fills `observed` of address views built in bulk, each from the hosts of its own VRF: per VRF
 * among the views, one read for one view, one key-range read for many. IpamService calls its
 * enrichers synchronously (ipam/service.ts): on SQLite the rows are read at once
 * (DiscoveryStore.hostsNow) and this returns nothing; on PostgreSQL it returns the promise that
 * fills them, which IPAM must await (its enrichers' contract, #14).
 */
export function attachObservations(
  store: DiscoveryStore,
  views: readonly { key: Buffer; view: AddressView }[],
): void | Promise<void> {
  if (views.length === 0) return;
  const byVrf = new Map<number, { key: Buffer; view: AddressView }[]>();
  for (const v of views) {
    const list = byVrf.get(v.view.vrf_id);
    if (list) list.push(v);
    else byVrf.set(v.view.vrf_id, [v]);
  }
  const fill = (some: readonly { key: Buffer; view: AddressView }[], hosts: readonly HostRow[]) => {
    const byKey = new Map(hosts.map((h) => [h.ip_key.toString('hex'), h]));
    for (const { key, view } of some) {
      const h = byKey.get(key.toString('hex'));
      view.observed = h ? observationView(h) : null;
    }
  };
  const pending: Promise<void>[] = [];
  for (const [vrf, some] of byVrf) {
    const keys = some.map((v) => v.key);
    const now = store.hostsNow(vrf, keys);
    if (now) {
      fill(some, now);
      continue;
    }
    const sorted = [...keys].sort(Buffer.compare);
    pending.push(
      (some.length === 1
        ? store.host(vrf, keys[0]!).then((h) => (h ? [h] : []))
        : store.hostsBetween(vrf, sorted[0]!, sorted[sorted.length - 1]!)
      ).then((hosts) => fill(some, hosts)),
    );
  }
  if (pending.length > 0) return Promise.all(pending).then(() => undefined);
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
  // Synchronously on SQLite, a promise on PostgreSQL (as attachObservations).
  ipam.addSubnetEnricher((views): void | Promise<void> => {
    const fill = (view: (typeof views)[number]['view'], up: number, stored: ScanRow | undefined, id: number) => {
      const last = liveScan(id) ?? stored;
      view.discovery = {
        hosts_up: up,
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
    };
    const now = views.map(({ row }) => store.subnetNow(row.id, row.vrf_id, row.first_key, row.last_key));
    if (now.every((n) => n !== undefined)) {
      views.forEach(({ row, view }, i) => fill(view, now[i]!.up, now[i]!.scan, row.id));
      return;
    }
    return Promise.all(
      views.map(async ({ row, view }) => {
        const [up, stored] = await Promise.all([
          store.hostsUpBetween(row.vrf_id, row.first_key, row.last_key),
          store.lastScan(row.id),
        ]);
        fill(view, up, stored, row.id);
      }),
    ).then(() => undefined);
  });
}
