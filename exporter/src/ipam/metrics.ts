// IPAM metrics, computed from the store at scrape time so deleted objects vanish at once.
// Per-subnet series exist for at most metrics.max_subnet_series subnets (metrics/bounds.ts):
// subnets are ranked by their utilization, from one statement per batch of subnets (an index
// count of each one's addresses, two probes for addresses on its edges) plus their ranges
// marked used: the rules of IpamService.utilizations, which the tests compare. A scrape
// re-measures at most RANK_WINDOW subnets for the ranking (the others keep their last value,
// a few scrapes old at most) and always the chosen ones, which alone get the per-state counts
// and their ranges. lanscape_subnets and lanscape_addresses count everything, whatever the
// cap. The work is cut into slices that yield to the event loop, so a scrape of 20,000 subnets
// never holds up other requests.
import type { Registry } from 'prom-client';
import type { SeriesBudget, SubnetRank } from '../metrics/bounds.js';
import type { SubnetCatalog } from '../metrics/subnets.js';
import { Slicer, snapshotGroup } from '../metrics/snapshot.js';
import { type Interval, clip, intervalSize } from './core/allocation.js';
import { ADDRESS_SOURCES, ADDRESS_STATES } from './core/fields.js';
import { type Family, ipFromKey, ipKey } from './core/ip.js';
import { type Bounds, lastOf, usableBounds } from './core/prefix.js';
import { type Utilization, type UtilizedRange, utilization } from './core/utilization.js';
import { IpamService, prefixOf } from './service.js';
import { mapLimit } from '../map-limit.js';
import { readsInFlight } from '../store/sql-exec.js';
import type { IpamStore, RangeRow, SubnetRow } from './store.js';

/** Utilization at or above this (and at least 4 usable addresses) is LanscapeSubnetNearlyFull territory. */
const NEARLY_FULL = 0.9;
/** Ranges read per statement. */
const RANGE_PAGE = 500;
/** Subnets ranked per statement. */
const RANK_BATCH = 200;
/**
 * Subnets whose utilization a scrape recomputes for the ranking, besides new ones and the
 * chosen ones (always fresh): with more subnets, the ranking of the others is at most
 * ceil(subnets / RANK_WINDOW) scrapes old, and a scrape's work stays bounded.
 */
const RANK_WINDOW = 5000;

/** What a scrape needs of a subnet that does not change until the subnet does. */
interface SubnetMeta {
  row: SubnetRow;
  parentId: number | null;
  family: Family;
  size: bigint;
  usable: Bounds;
  usableFirstKey: Buffer;
  usableLastKey: Buffer;
  /** The first / last address of the prefix is not usable (IPv4 network and broadcast, IPv6 subnet-router anycast). */
  trimFirst: boolean;
  trimLast: boolean;
  info: Record<string, string>;
}

/**
 * Counts of addresses a scrape read, kept for the next scrapes while the store says no address
 * changed (IpamStore.addressCountsVersion, read in the database before the counts: a write on
 * any replica or connection makes the next scrape count again). Per subnet id, for its CIDR
 * (ids are never reused; a subnet's prefix and VRF never change): from the ranking [addresses in the
 * prefix, first address recorded, last address recorded], or from the per-state statement
 * [first, last, ...counts by state], which gives the ranking's too. And addresses per VRF and
 * key span (ranges marked used).
 */
class AddressCounts {
  private read: string | undefined;
  private readonly subnets = new Map<number, { cidr: string; rank?: RankCounts; states?: number[] }>();
  private readonly spans = new Map<string, number>();

  /** Forgets everything when an address changed since the counts were read. */
  async start(store: IpamStore): Promise<void> {
    const version = await store.addressCountsVersion();
    if (version === this.read) return;
    this.read = version;
    this.subnets.clear();
    this.spans.clear();
  }

  /** The version the counts kept are of. */
  get version(): string | undefined {
    return this.read;
  }

  private entry(id: number, cidr: string) {
    let e = this.subnets.get(id);
    if (e?.cidr !== cidr) this.subnets.set(id, (e = { cidr }));
    return e;
  }

  rank(id: number, cidr: string): RankCounts | undefined {
    const e = this.subnets.get(id);
    if (e?.cidr !== cidr) return undefined;
    if (e.rank) return e.rank;
    return e.states && [e.states.slice(2).reduce((a, b) => a + b, 0), e.states[0]!, e.states[1]!];
  }

  states(id: number, cidr: string): number[] | undefined {
    const e = this.subnets.get(id);
    return e?.cidr === cidr ? e.states : undefined;
  }

  setRank(id: number, cidr: string, counts: RankCounts): void {
    this.entry(id, cidr).rank = counts;
  }

  setStates(id: number, cidr: string, counts: number[]): void {
    this.entry(id, cidr).states = counts;
  }

  async between(vrfId: number, first: Buffer, last: Buffer, count: () => Promise<number>): Promise<number> {
    const key = `${vrfId}:${first.toString('hex')}-${last.toString('hex')}`;
    let n = this.spans.get(key);
    if (n === undefined) this.spans.set(key, (n = await count()));
    return n;
  }

  /** Drops subnets no longer in the catalog. */
  keepOnly(ids: { has(id: number): boolean }): void {
    for (const id of this.subnets.keys()) if (!ids.has(id)) this.subnets.delete(id);
  }
}

/** [addresses in the prefix, first address recorded (0/1), last address recorded (0/1)]. */
type RankCounts = [number, number, number];

export function registerIpamMetrics(registry: Registry, ipam: IpamService, budget: SeriesBudget): void {
  const gauge = snapshotGroup(registry, refresh);
  const subnetInfo = gauge('lanscape_subnet_info', 'Subnets managed by Lanscape; the value is always 1.');
  const subnetSize = gauge('lanscape_subnet_size_addresses', 'Usable addresses of a subnet.');
  const subnetAddresses = gauge('lanscape_subnet_addresses', 'Known addresses of a subnet by state.');
  const subnetFree = gauge(
    'lanscape_subnet_free_addresses',
    'Usable addresses of a subnet that are neither known nor in a range marked used.',
  );
  const subnetRatio = gauge('lanscape_subnet_utilization_ratio', "Used share of a subnet's usable addresses (0–1).");
  const rangeInfo = gauge('lanscape_range_info', 'Labelled ranges; the value is always 1.');
  const rangeSize = gauge('lanscape_range_size_addresses', 'Usable addresses of a range.');
  const rangeFree = gauge('lanscape_range_free_addresses', 'Free addresses of a range.');
  const rangeRatio = gauge('lanscape_range_utilization_ratio', 'Used share of a range (0–1).');
  const addresses = gauge('lanscape_addresses', 'All known addresses by state and source.');
  const subnets = gauge(
    'lanscape_subnets',
    'Subnets managed by Lanscape, all of them (per-subnet series exist for at most metrics.max_subnet_series).',
  );
  const perSubnet = [
    subnetInfo,
    subnetSize,
    subnetAddresses,
    subnetFree,
    subnetRatio,
    rangeInfo,
    rangeSize,
    rangeFree,
    rangeRatio,
  ];
  /** What the last complete refresh of the per-subnet families was made from. */
  let lastInputs: string | undefined;

  let cache: { version: number; vrfKey: string; meta: SubnetMeta[] } | undefined;
  /** The last ratio computed for each subnet, and whether it was nearly full (the ranking reads them). */
  const known = new Map<number, { ratio: number; full: boolean }>();
  let cursor = 0;
  const store = IpamService.storeOf(ipam);
  const counted = new AddressCounts();

  async function refresh() {
    budget.startScrape();
    const slicer = new Slicer();
    // Reads that depend on nothing else go out together: on PostgreSQL each is a round trip, and
    // under load every round trip also waits for the exporter and a backend to be scheduled.
    // The address version is read before any count (see AddressCounts).
    const [, catalog, ranges, totals] = await Promise.all([
      counted.start(store),
      budget.refreshCatalog(slicer),
      allRanges(slicer),
      ipam.totalsByStateAndSource(),
    ]);
    const rows = catalog.rows;
    // The `vrf` label is the VRF's name (a handful of rows; a rename shows at the next scrape).
    const vrfNames = new Map((await ipam.allVrfs()).map((v) => [v.id, v.name]));
    const vrfKey = [...vrfNames].join('\n');
    if (cache?.version !== catalog.version || cache.vrfKey !== vrfKey) {
      cache = { version: catalog.version, vrfKey, meta: await describe(catalog, vrfNames, slicer) };
      for (const id of known.keys()) if (!catalog.byId.has(id)) known.delete(id);
      counted.keepOnly(catalog.byId);
    }
    const { meta } = cache;
    /** describe() has just described every row of the catalog. */
    const metaOf = (id: number) => described.get(catalog.byId.get(id)!)!;
    // Needed only to rank: read meanwhile.
    const urgentOnes = (async () => {
      const urgent = new Set<number>();
      for (const mark of budget.urgentSubnets) for (const id of await mark(slicer)) urgent.add(id);
      return urgent;
    })();
    // A range lies inside its subnet and every enclosing one (ranges never overlap child subnets).
    const utilized = new Map<number, RangeRow[]>();
    for (const r of ranges) {
      if (!r.mark_utilized) continue;
      for (
        let id: number | null | undefined = r.subnet_id;
        id !== null && id !== undefined;
        id = catalog.byId.has(id) ? metaOf(id).parentId : undefined
      ) {
        const list = utilized.get(id);
        if (list) list.push(r);
        else utilized.set(id, [r]);
      }
    }
    await slicer.maybePause();

    const usage = new Map<number, Utilization>();
    /** Subnets with an address recorded on an edge that is not usable (rare: counted on their own below). */
    const edged = new Set<number>();
    const measured = async (id: number, inPrefix: number, atFirst: number, atLast: number) => {
      const m = metaOf(id);
      const trimmed = (atFirst && m.trimFirst ? 1 : 0) + (atLast && m.trimLast ? 1 : 0);
      if (trimmed) edged.add(id);
      const u = await subnetUsage(m, inPrefix - trimmed, utilized.get(id) ?? []);
      usage.set(id, u);
      known.set(id, { ratio: u.ratio, full: u.ratio >= NEARLY_FULL && u.size >= 4n });
    };
    // Rank: this scrape's window, and subnets not measured yet; the others keep their last value.
    const window: number[] = [];
    if (meta.length <= budget.limits.max_subnet_series) {
      // Nothing to rank: every subnet fits under the cap, all are chosen and measured below.
    } else if (meta.length <= RANK_WINDOW) {
      for (const m of meta) window.push(m.row.id);
    } else {
      for (let k = 0; k < RANK_WINDOW; k++) window.push(meta[(cursor + k) % meta.length]!.row.id);
      cursor = (cursor + RANK_WINDOW) % meta.length;
      for (const m of meta) if (!known.has(m.row.id)) window.push(m.row.id);
    }
    const toRank: number[] = [];
    for (const id of new Set(window)) {
      const c = counted.rank(id, metaOf(id).row.cidr);
      if (c) await measured(id, ...c);
      else toRank.push(id);
      if (slicer.due()) await slicer.pause();
    }
    for (const rows of await batched(toRank, (ids) => store.subnetRankCounts(ids), slicer)) {
      for (const [id, inPrefix, atFirst, atLast] of rows) {
        counted.setRank(id, metaOf(id).row.cidr, [inPrefix, atFirst, atLast]);
        await measured(id, inPrefix, atFirst, atLast);
      }
      await slicer.maybePause();
    }
    const urgent = await urgentOnes;
    const ranks: SubnetRank[] = meta.map((m) => {
      const k = known.get(m.row.id);
      return { id: m.row.id, ratio: k?.ratio ?? 0, urgent: k?.full === true || urgent.has(m.row.id) };
    });
    const selected = budget.selectSubnets(ranks);
    budget.drop('subnet', meta.length - selected.size);
    subnets.set({}, rows.length);

    const rangesBySubnet = new Map<number, RangeRow[]>();
    for (const r of ranges) {
      const list = rangesBySubnet.get(r.subnet_id);
      if (list) list.push(r);
      else rangesBySubnet.set(r.subnet_id, [r]);
    }
    const total = new Map(totals.map((c) => [`${c.state}/${c.source}`, c.n]));
    for (const state of ADDRESS_STATES) {
      for (const source of ADDRESS_SOURCES) addresses.set({ state, source }, total.get(`${state}/${source}`) ?? 0);
    }
    // Nothing the per-subnet families show changed since the last refresh (the same subnets and
    // choice, the same ranges, no address written since: AddressCounts' version, read in the
    // database): they keep their values, and the exposition its text of them.
    const inputs = `${catalog.version}|${cache.vrfKey}|${counted.version}|${[...selected].join(',')}|${ranges.map(rangeKey).join(';')}`;
    if (inputs === lastInputs) {
      for (const g of perSubnet) g.keep();
      return;
    }
    lastInputs = undefined;
    // The chosen subnets' values are always this scrape's: their counts by state add up to the
    // addresses in their prefix, so one statement serves both.
    const chosen = meta.filter((m) => selected.has(m.row.id));
    const states = new Map<number, number[]>();
    const toCount: number[] = [];
    const measuredStates = async (id: number, [atFirst, atLast, ...n]: number[]) => {
      states.set(id, n);
      await measured(
        id,
        n.reduce((a, b) => a + b, 0),
        atFirst!,
        atLast!,
      );
    };
    for (const m of chosen) {
      const c = counted.states(m.row.id, m.row.cidr);
      if (c) await measuredStates(m.row.id, c);
      else toCount.push(m.row.id);
      if (slicer.due()) await slicer.pause();
    }
    for (const rows of await batched(toCount, (ids) => store.subnetCountsByState(ids), slicer)) {
      for (const [id, ...c] of rows) {
        counted.setStates(id, metaOf(id).row.cidr, c);
        await measuredStates(id, c);
      }
      await slicer.maybePause();
    }
    for (const m of chosen) {
      const own = rangesBySubnet.get(m.row.id) ?? [];
      const subnet = m.info.subnet!;
      const vrf = m.info.vrf!;
      const u = usage.get(m.row.id)!;
      subnetInfo.set(m.info, 1);
      subnetSize.set({ subnet, vrf }, Number(u.size));
      subnetFree.set({ subnet, vrf }, Number(u.free));
      subnetRatio.set({ subnet, vrf }, u.ratio);
      if (edged.has(m.row.id)) {
        const byState = new Map(
          (await ipam.countBetweenByState(m.row.vrf_id, m.usableFirstKey, m.usableLastKey)).map((c) => [c.state, c.n]),
        );
        for (const state of ADDRESS_STATES) subnetAddresses.set({ subnet, vrf, state }, byState.get(state) ?? 0);
      } else {
        const n = states.get(m.row.id) ?? [];
        ADDRESS_STATES.forEach((state, i) => subnetAddresses.set({ subnet, vrf, state }, n[i] ?? 0));
      }
      for (const r of own) {
        const range = `${r.start_address}-${r.end_address}`;
        const ru = await ipam.rangeUtilization(r, m.row);
        rangeInfo.set(
          { subnet, vrf, range, label: r.label, purpose: r.purpose, auto_allocate: String(r.auto_allocate === 1) },
          1,
        );
        rangeSize.set({ subnet, vrf, range }, Number(ru.size));
        rangeFree.set({ subnet, vrf, range }, Number(ru.free));
        rangeRatio.set({ subnet, vrf, range }, ru.ratio);
      }
      if (slicer.due()) await slicer.pause();
    }
    lastInputs = inputs;
  }

  async function allRanges(slicer: Slicer): Promise<RangeRow[]> {
    const ranges: RangeRow[] = [];
    for (let after = 0; ;) {
      const page = await store.rangesAfter(after, RANGE_PAGE);
      ranges.push(...page);
      await slicer.maybePause();
      if (page.length < RANGE_PAGE) return ranges;
      after = page[page.length - 1]!.id;
    }
  }

  /**
   * `count` over `ids` in batches of RANK_BATCH, several statements at once on PostgreSQL
   * (readsInFlight), with a pause after each batch.
   */
  function batched<R>(
    ids: readonly number[],
    count: (ids: readonly number[]) => Promise<R>,
    slicer: Slicer,
  ): Promise<R[]> {
    const batches: number[][] = [];
    for (let i = 0; i < ids.length; i += RANK_BATCH) batches.push(ids.slice(i, i + RANK_BATCH));
    return mapLimit(batches, readsInFlight(store.dialect), async (batch) => {
      const rows = await count(batch);
      await slicer.maybePause();
      return rows;
    });
  }

  /** Utilization of a subnet: known addresses in its usable bounds plus the rest of its ranges marked used. */
  async function subnetUsage(m: SubnetMeta, addressCount: number, utilized: readonly RangeRow[]): Promise<Utilization> {
    const parts: UtilizedRange[] = [];
    for (const r of utilized) {
      const part = clip(interval(r), m.usable);
      if (!part) continue;
      const first = ipKey({ family: m.family, value: part.first });
      const last = ipKey({ family: m.family, value: part.last });
      const vrfId = m.row.vrf_id;
      const inside = await counted.between(vrfId, first, last, () => ipam.countBetween(vrfId, first, last));
      parts.push({ size: intervalSize(part), addressCount: BigInt(inside) });
    }
    return utilization(m.size, BigInt(addressCount), parts);
  }
}

/** What describe() derives from a subnet row alone; kept per row object (a changed subnet is a new row). */
type RowFacts = Omit<SubnetMeta, 'parentId' | 'info'>;
const rowFacts = new WeakMap<SubnetRow, RowFacts>();

function factsOf(row: SubnetRow): RowFacts {
  let facts = rowFacts.get(row);
  if (!facts) {
    const prefix = prefixOf(row);
    const usable = usableBounds(prefix);
    facts = {
      row,
      family: prefix.family,
      size: usable.last - usable.first + 1n,
      usable,
      trimFirst: usable.first !== prefix.network,
      trimLast: usable.last !== lastOf(prefix),
      usableFirstKey: ipKey({ family: prefix.family, value: usable.first }),
      usableLastKey: ipKey({ family: prefix.family, value: usable.last }),
    };
    rowFacts.set(row, facts);
  }
  return facts;
}

/** The last description of each row object, reused while its parent stays the same. */
const described = new WeakMap<SubnetRow, SubnetMeta>();

/**
 * The per-subnet facts a scrape reuses until the subnets change (parent, labels, usable bounds).
 * After a change only new or changed rows, and rows whose parent changed, are described again.
 */
async function describe(
  catalog: SubnetCatalog,
  vrfNames: ReadonlyMap<number, string>,
  slicer: Slicer,
): Promise<SubnetMeta[]> {
  const rows = catalog.rows;
  const out: SubnetMeta[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    // The parent can change without the row changing (a covering subnet created or deleted).
    const parentId = catalog.parentOf(row);
    const parent = parentId ? (catalog.byId.get(parentId)?.cidr ?? '') : '';
    const vrf = vrfNames.get(row.vrf_id) ?? String(row.vrf_id);
    let m = described.get(row);
    if (m?.parentId !== parentId || m.info.parent !== parent || m.info.vrf !== vrf) {
      m = {
        ...factsOf(row),
        parentId,
        info: {
          subnet: row.cidr,
          vrf,
          name: row.name,
          vlan: row.vlan === null ? '' : String(row.vlan),
          family: String(row.family),
          parent,
        },
      };
      described.set(row, m);
    }
    out.push(m);
    if (i % 512 === 511 && slicer.due()) await slicer.pause();
  }
  return out;
}

/** Everything of a range the IPAM families show or count with. */
function rangeKey(r: RangeRow): string {
  return JSON.stringify([
    r.id,
    r.subnet_id,
    r.start_address,
    r.end_address,
    r.mark_utilized,
    r.auto_allocate,
    r.purpose,
    r.label,
  ]);
}

function interval(r: RangeRow): Interval {
  return { first: ipFromKey(r.first_key).value, last: ipFromKey(r.last_key).value };
}
