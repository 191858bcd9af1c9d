// Status history and events of addresses: per-sweep samples rolled into hours and pruned by the
// retention settings, uptime over both, and the event list.
import { ipKey, parseIp } from '../ipam/core/ip.js';
import { type DiscoveryContext, iso } from './context.js';
import type { EventView, HistoryHourView, HistorySampleView, UptimeView } from './schemas.js';
import type { EventRow } from './store.js';

/** Rolls raw samples past `history_raw_days` into hours; prunes hours and events past `history_hourly_days`. */
export async function maintainHistory(ctx: DiscoveryContext, now: number): Promise<void> {
  const day = 86_400_000;
  await ctx.store.rollup(
    now - ctx.scan.history_raw_days * day,
    now - ctx.scan.history_hourly_days * day,
    now - ctx.scan.history_hourly_days * day,
  );
}

/** Raw samples and hourly buckets of an address since `sinceMs`. */
export async function historyOf(
  ctx: DiscoveryContext,
  vrf: number,
  address: string,
  sinceMs: number,
): Promise<{ samples: HistorySampleView[]; hourly: HistoryHourView[] }> {
  const key = ipKey(parseIp(address));
  return {
    samples: (await ctx.store.history(vrf, key, sinceMs)).map((s) => ({
      at: iso(s.at)!,
      up: s.up === 1,
      rtt_seconds: s.rtt_seconds,
    })),
    hourly: (await ctx.store.hourly(vrf, key, Math.floor(sinceMs / 3_600_000))).map((h) => ({
      hour: iso(h.hour * 3_600_000)!,
      samples: h.samples,
      up_ratio: h.samples ? h.up_samples / h.samples : 0,
      rtt_avg_seconds: h.rtt_avg_seconds,
    })),
  };
}

/** Share of samples that were up over the last day and week (null without samples). */
export async function uptimeOf(ctx: DiscoveryContext, vrf: number, address: string): Promise<UptimeView> {
  const key = ipKey(parseIp(address));
  const ratio = async (ms: number) => {
    const u = await ctx.store.uptime(vrf, key, ctx.now() - ms);
    return u.samples === 0 ? null : u.up / u.samples;
  };
  return { '24h': await ratio(86_400_000), '7d': await ratio(7 * 86_400_000) };
}

/**
 * Events, newest first, filtered by VRF, kind, address, subnet (its key span in its VRF) and
 * time. An address without a VRF matches its events in every VRF, each carrying its vrf_id.
 */
export async function listEvents(
  ctx: DiscoveryContext,
  filter: {
    vrf_id?: number | undefined;
    kind?: string | undefined;
    address?: string | undefined;
    subnet_id?: number | undefined;
    since?: string | undefined;
  },
  limit: number,
  offset: number,
) {
  let between: [Buffer, Buffer] | undefined;
  let vrf = filter.vrf_id;
  if (filter.subnet_id !== undefined) {
    const s = await ctx.ipam.subnetRow(filter.subnet_id);
    if (vrf !== undefined && vrf !== s.vrf_id) return { count: 0, results: [] }; // the subnet is in another VRF
    between = [s.first_key, s.last_key];
    vrf = s.vrf_id;
  }
  const { count, rows } = await ctx.store.listEvents(
    {
      vrf,
      kind: filter.kind,
      ipKey: filter.address ? ipKey(parseIp(filter.address)) : undefined,
      between,
      since: filter.since ? Date.parse(filter.since) : undefined,
    },
    limit,
    offset,
  );
  return { count, results: rows.map(eventView) };
}

function eventView(e: EventRow): EventView {
  return {
    // The store holds only the kinds discovery records (EVENT_KINDS); the column is plain text.
    id: e.id,
    vrf_id: e.vrf_id,
    at: iso(e.at)!,
    kind: e.kind as EventView['kind'],
    address: e.address,
    subnet_id: e.subnet_id,
    message: e.message,
    details: e.details ? (JSON.parse(e.details) as unknown) : null,
  };
}
