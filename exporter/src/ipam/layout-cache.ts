// The subnet view's layout (which row is which address or gap) computed once per subnet and
// kept until a write touches the subnet, so a page of /subnets/{id}/addresses costs about the
// same at any depth, and the first page of a huge subnet does not hold the event loop: the
// address values are read a chunk at a time with the loop free in between.
//
// A layout keeps only the sorted address values and the row number of each address; the rows
// of a page are laid out again from the address at or before the page start (LayoutBuilder
// resumes there), so a cached /8 with 262k addresses is a few MB, not a row object per row.
import { nextTurn } from '../turns.js';
import { type Family, ipFromKey } from './core/ip.js';
import { type LabelledRange, type LayoutRow, LayoutBuilder } from './core/layout.js';
import { type Bounds, lastOf, prefixOf, usableBounds } from './core/prefix.js';
import type { IpamStore, RangeRow, SubnetRow } from './store.js';

/** Address values read per chunk while laying out a subnet (a few ms each). */
export const LAYOUT_CHUNK = 5000;
/** Cached layouts hold at most this many address values in all (LRU beyond). */
const CACHE_VALUES = 1_000_000;
const CACHE_ENTRIES = 256;
/** Chunked builds spoilt by concurrent writes before one synchronous (consistent) build. */
const ASYNC_ATTEMPTS = 3;

export interface SubnetLayout {
  readonly subnetId: number;
  readonly vrfId: number;
  readonly family: Family;
  readonly bounds: Bounds;
  readonly ranges: readonly LabelledRange[];
  readonly holes: readonly bigint[];
  /** Address values in order: IPv4 in a Float64Array (exact for 32 bits), IPv6 as bigints. */
  values: Float64Array | bigint[];
  /** Row number of each address in `values`. */
  rowOf: Float64Array;
  /** Rows in all. */
  count: number;
  readonly firstKey: Buffer;
  readonly lastKey: Buffer;
  /** Set when a write touched the subnet after its values were read (or when it was evicted). */
  stale: boolean;
}

export class SubnetLayoutCache {
  private readonly entries = new Map<number, SubnetLayout>();
  private readonly building = new Map<number, Promise<SubnetLayout>>();
  /** Layouts being built: writes mark them stale like cached ones. */
  private readonly inFlight = new Set<SubnetLayout>();
  private values = 0;
  /** For tests: layouts built so far (async and sync). */
  builds = 0;
  private seenVersion: unknown;
  /**
   * Whether layouts are kept: on SQLite only. On PostgreSQL another replica's writes to a subnet
   * are not seen here (and a version row bumped by every address write would serialise them
   * all), so every page is laid out from its read snapshot (`subnetRows`), never from a cache.
   */
  private readonly keep: boolean;

  constructor(private readonly store: IpamStore) {
    this.keep = store.dialect === 'sqlite';
    store.onSpaceChange((first, last) => {
      for (const l of this.entries.values()) if (overlaps(l, first, last)) this.evict(l);
      for (const l of this.inFlight) if (overlaps(l, first, last)) l.stale = true;
    });
  }

  /**
   * Writes through this process's store are seen one by one (onSpaceChange); a commit by
   * another connection to the same file (a CLI, another process) is not, so it drops everything.
   */
  private async checkOtherWriters(): Promise<void> {
    if (!this.keep) return;
    const version = await this.store.dataVersion(); // PRAGMA data_version: another connection committed
    if (this.seenVersion === undefined) this.seenVersion = version;
    if (version !== this.seenVersion) {
      this.seenVersion = version;
      this.clear();
    }
  }

  /**
   * A layout of the subnet that is current now: the caller must read the page's address rows
   * in the same turn (no await in between) to see the same addresses. The subnet row is read
   * again after every wait, so a subnet deleted meanwhile answers 404.
   */
  async current(
    id: number,
    subnetRow: (id: number) => Promise<SubnetRow>,
  ): Promise<{ row: SubnetRow; layout: SubnetLayout }> {
    for (let attempt = 0; ; attempt++) {
      const row = await subnetRow(id);
      await this.checkOtherWriters();
      const cached = this.entries.get(id);
      if (cached && !cached.stale) {
        this.entries.delete(id); // most recently used last
        this.entries.set(id, cached);
        return { row, layout: cached };
      }
      if (attempt >= ASYNC_ATTEMPTS) {
        // Writes kept spoiling the chunked reads: one synchronous build is consistent by construction.
        return { row, layout: await this.buildNow(row) };
      }
      let pending = this.building.get(id);
      if (!pending) {
        pending = this.buildChunked(row).finally(() => this.building.delete(id));
        this.building.set(id, pending);
      }
      const layout = await pending;
      await this.checkOtherWriters();
      if (!layout.stale) return { row: await subnetRow(id), layout };
    }
  }

  /**
   * The layout as `snapshot` sees the subnet; the snapshot must have begun in this same turn.
   * The cached layout when no write touched the subnet since it was built (it then matches the
   * snapshot); otherwise one read from the snapshot a chunk at a time, with the event loop free
   * in between, and cached as well when no write touched the subnet meanwhile. Writes never
   * make it start over, since the snapshot does not change under it.
   */
  async atSnapshot(row: SubnetRow, snapshot: IpamStore): Promise<SubnetLayout> {
    await this.checkOtherWriters();
    const cached = this.entries.get(row.id);
    if (cached && !cached.stale) {
      this.entries.delete(row.id); // most recently used last
      this.entries.set(row.id, cached);
      return cached;
    }
    const b = await this.builder(row, snapshot);
    this.inFlight.add(b.layout);
    try {
      while (!(await b.chunk())) await nextTurn();
      await this.checkOtherWriters();
      const layout = b.finish();
      this.remember(layout); // not when stale: then it still describes the snapshot, only not the store
      return layout;
    } finally {
      this.inFlight.delete(b.layout);
    }
  }

  /** Whether a layout from current() still describes the store (for readers that wait between reads). */
  async isCurrent(layout: SubnetLayout): Promise<boolean> {
    await this.checkOtherWriters();
    return !layout.stale;
  }

  /** Drops every cached layout. */
  clear(): void {
    for (const l of [...this.entries.values()]) this.evict(l);
    for (const l of this.inFlight) l.stale = true;
  }

  private remember(layout: SubnetLayout): void {
    if (layout.stale || !this.keep) return;
    const old = this.entries.get(layout.subnetId);
    if (old) this.evict(old);
    this.entries.set(layout.subnetId, layout);
    this.values += layout.values.length;
    for (const l of [...this.entries.values()]) {
      if (this.values <= CACHE_VALUES && this.entries.size <= CACHE_ENTRIES) break;
      if (l !== layout) this.evict(l);
    }
  }

  private evict(layout: SubnetLayout): void {
    layout.stale = true;
    if (this.entries.get(layout.subnetId) === layout) {
      this.entries.delete(layout.subnetId);
      this.values -= layout.values.length;
    }
  }

  /** In one go: no write can come between its reads on SQLite, whose one connection it holds. */
  private async buildNow(row: SubnetRow): Promise<SubnetLayout> {
    const b = await this.builder(row);
    while (!(await b.chunk()));
    const layout = b.finish();
    this.remember(layout);
    return layout;
  }

  /** The values a chunk at a time, the event loop free between chunks; stops early once stale. */
  private async buildChunked(row: SubnetRow): Promise<SubnetLayout> {
    const b = await this.builder(row);
    this.inFlight.add(b.layout);
    try {
      while (!(await b.chunk())) {
        await nextTurn();
        await this.checkOtherWriters();
        if (b.layout.stale) return b.layout;
      }
      const layout = b.finish();
      // Into the cache in the same turn as the last read, so no write can slip in between.
      this.remember(layout);
      return layout;
    } finally {
      this.inFlight.delete(b.layout);
    }
  }

  private async builder(
    row: SubnetRow,
    store: IpamStore = this.store,
  ): Promise<{ layout: SubnetLayout; chunk: () => Promise<boolean>; finish: () => SubnetLayout }> {
    this.builds += 1;
    const prefix = prefixOf(row);
    const { family } = prefix;
    const bounds = usableBounds(prefix);
    const ranges = (await store.rangesInside(row.vrf_id, row.first_key, row.last_key)).map((r) => ({
      id: r.id,
      ...rangeInterval(r),
    }));
    // A child subnet's own network/broadcast (or IPv6 anycast) address can hold no record.
    const holes = (await store.subnetsInside(row.vrf_id, row.first_key, row.last_key, row.id)).flatMap((child) => {
      const p = prefixOf(child);
      const usable = usableBounds(p);
      return [p.network, lastOf(p)].filter((v) => v < usable.first || v > usable.last);
    });
    const layout: SubnetLayout = {
      subnetId: row.id,
      vrfId: row.vrf_id,
      family,
      bounds,
      ranges,
      holes,
      values: [],
      rowOf: new Float64Array(0),
      count: 0,
      firstKey: row.first_key,
      lastKey: row.last_key,
      stale: false,
    };
    const values: (number | bigint)[] = [];
    const rowOf: number[] = [];
    let count = 0;
    const builder = new LayoutBuilder<null>(bounds, ranges, holes, (r: LayoutRow<null>) => {
      if (r.kind === 'address') rowOf.push(count);
      count += 1;
    });
    const last = lastOf(prefix);
    let from = prefix.network;
    return {
      layout,
      /** One chunk of values; true when it was the last. */
      chunk: async () => {
        const page = await store.valuesPage(row.vrf_id, { family, value: from }, { family, value: last }, LAYOUT_CHUNK);
        for (const v of page) {
          builder.add(v, null);
          values.push(family === 4 ? Number(v) : v);
        }
        const end = page[page.length - 1];
        if (page.length < LAYOUT_CHUNK || end === undefined || end >= last) return true;
        from = end + 1n;
        return false;
      },
      finish: () => {
        builder.finish();
        layout.values = family === 4 ? Float64Array.from(values as number[]) : (values as bigint[]);
        layout.rowOf = Float64Array.from(rowOf);
        layout.count = count;
        return layout;
      },
    };
  }
}

/** The address value at index i of a layout. */
export function valueAt(layout: SubnetLayout, i: number): bigint {
  const v = layout.values[i]!;
  return typeof v === 'bigint' ? v : BigInt(v);
}

/**
 * Rows [offset, offset+limit) of a layout, laid out again from the last address at or before
 * `offset` (binary search on rowOf), so the cost is the page's, not the subnet's.
 */
export function layoutPage(layout: SubnetLayout, limit: number, offset: number): LayoutRow<null>[] {
  const { rowOf } = layout;
  let lo = 0;
  let hi = rowOf.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rowOf[mid]! <= offset) lo = mid + 1;
    else hi = mid;
  }
  const j = lo - 1; // last address whose row is at or before offset, or -1
  const end = offset + limit;
  const rows: LayoutRow<null>[] = [];
  let index = j >= 0 ? rowOf[j]! : 0;
  const builder = new LayoutBuilder<null>(
    layout.bounds,
    layout.ranges,
    layout.holes,
    (r) => {
      if (index >= offset && index < end) rows.push(r);
      index += 1;
    },
    j >= 0 ? { value: valueAt(layout, j) } : undefined,
  );
  let i = Math.max(j, 0);
  for (; i < layout.values.length && index < end; i++) builder.add(valueAt(layout, i), null);
  if (i === layout.values.length && index < end) builder.finish();
  return rows;
}

function overlaps(l: { firstKey: Buffer; lastKey: Buffer }, first: Buffer, last: Buffer): boolean {
  return Buffer.compare(first, l.lastKey) <= 0 && Buffer.compare(last, l.firstKey) >= 0;
}

function rangeInterval(r: RangeRow) {
  return { first: ipFromKey(r.first_key).value, last: ipFromKey(r.last_key).value };
}
