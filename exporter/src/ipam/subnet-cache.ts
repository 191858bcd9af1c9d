// Every subnet in memory, in step with the table without reading it again: a subnet write marks
// its id, and the next read outside a transaction re-reads only the marked rows (by id) and
// patches the sorted list and the most-specific lookup. Reading all 20,000 subnets took
// 150–300 ms in one statement, and every subnet created during an import or a burst of creates
// made the next listing, scrape or export pay it again. Marked rows are re-read rather than
// taken from the write, so a rolled-back write leaves the cache as the table is.
//
// With a `version` (PostgreSQL, several replicas on one database) marks are not enough: another
// replica's write is not seen here. Then every read outside a transaction first reads the
// version row (one primary-key read, bumped in the same transaction as every subnet write), and
// a version other than the one the rows were read at means one full read. Inside a transaction
// a changed version (its own write, or a commit since) means the rows are read for it alone.
import { type Family, type IP, ipFromKey } from './core/ip.js';

/** What the cache needs of a subnet row (the store's SubnetRow has more). */
interface SubnetRow {
  id: number;
  vrf_id: number;
  family: Family;
  prefix_length: number;
  first_key: Buffer;
}

/** Marked rows above this many: one full read is cheaper than a probe per row. */
const PATCH_LIMIT = 5000;

export interface SubnetSource<R extends SubnetRow> {
  all(): Promise<R[]>;
  byId(id: number): Promise<R | undefined>;
}

/** Most-specific-subnet lookup over the cached rows; updated in place as rows change. */
export class LiveSubnetIndex {
  private readonly byPrefix = new Map<string, number>();
  /** Per family: prefix length → subnets of that length (the lengths to probe, longest first). */
  private readonly lengthCounts: Record<Family, Map<number, number>> = { 4: new Map(), 6: new Map() };
  private lengths: Record<Family, number[]> = { 4: [], 6: [] };

  add(r: SubnetRow): void {
    this.byPrefix.set(prefixKey(r.vrf_id, r.family, r.prefix_length, ipFromKey(r.first_key).value), r.id);
    this.count(r.family, r.prefix_length, 1);
  }

  remove(r: SubnetRow): void {
    const key = prefixKey(r.vrf_id, r.family, r.prefix_length, ipFromKey(r.first_key).value);
    if (this.byPrefix.get(key) === r.id) this.byPrefix.delete(key);
    this.count(r.family, r.prefix_length, -1);
  }

  /** The most specific subnet of `vrf` holding `ip`. */
  mostSpecific(vrf: number, ip: IP): number | null {
    const bits = ip.family === 4 ? 32n : 128n;
    for (const len of this.lengths[ip.family]) {
      const host = bits - BigInt(len);
      const id = this.byPrefix.get(prefixKey(vrf, ip.family, len, (ip.value >> host) << host));
      if (id !== undefined) return id;
    }
    return null;
  }

  private count(family: Family, length: number, delta: number): void {
    const counts = this.lengthCounts[family];
    const n = (counts.get(length) ?? 0) + delta;
    if (n > 0) counts.set(length, n);
    else counts.delete(length);
    if ((n === 1 && delta > 0) || n <= 0) this.lengths[family] = [...counts.keys()].sort((a, b) => b - a);
  }
}

export class SubnetCache<R extends SubnetRow> {
  /** Sorted like the table's list: by first_key, prefix_length, id. Replaced, never changed. */
  private rows: R[] | undefined;
  private readonly byId = new Map<number, R>();
  private index = new LiveSubnetIndex();
  private readonly marked = new Set<number>();
  /** The version the rows were read at (version mode). */
  private loadedVersion: unknown;
  /** Full reads under way (marks made meanwhile are kept for the next sync). */
  private loading = 0;
  /** A sync running now: concurrent readers wait for it instead of patching twice. */
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly source: SubnetSource<R>,
    /** PostgreSQL: the subnet version row (see above); SQLite: none, marks and patches. */
    private readonly version?: () => Promise<unknown>,
  ) {}

  /** A subnet was inserted, updated or deleted (called by the writing statement). */
  mark(id: number): void {
    if (this.rows || this.loading > 0) this.marked.add(id);
  }

  /** Drops everything (after a restore): the next read is a full one. */
  clear(): void {
    this.rows = undefined;
    this.marked.clear();
  }

  /**
   * The rows as the table has them now. `inTransaction`: the caller's transaction may still roll
   * back, so marked rows are read into a copy and the cache itself is left as it was.
   */
  async all(inTransaction: boolean): Promise<readonly R[]> {
    if (this.version) return this.allVersioned(inTransaction);
    if (!this.rows) {
      if (inTransaction) return this.source.all();
      const rows = await this.fullRead();
      if (!this.rows) this.load(rows);
      return this.all(false);
    }
    if (this.marked.size === 0 && !this.syncing) return this.rows;
    if (inTransaction) return this.patchedCopy();
    while (this.marked.size > 0 || this.syncing) {
      this.syncing ??= this.sync().finally(() => (this.syncing = undefined));
      await this.syncing;
    }
    return this.rows;
  }

  private async allVersioned(inTransaction: boolean): Promise<readonly R[]> {
    const version = await this.version!();
    if (this.rows && this.loadedVersion === version) return this.rows;
    const rows = await this.source.all();
    if (!inTransaction) {
      this.load(rows);
      this.marked.clear();
      this.loadedVersion = version;
    }
    return rows;
  }

  /**
   * The lookup and rows as last read, without reading (for synchronous callers such as metrics
   * listeners; a write since may be missing until the next read).
   */
  peek(): { index: LiveSubnetIndex; row: (id: number) => R | undefined } {
    return { index: this.index, row: (id) => this.byId.get(id) };
  }

  /** The lookup over the rows as the table has them now (outside a transaction only). */
  async liveIndex(): Promise<LiveSubnetIndex> {
    await this.all(false);
    return this.index;
  }

  /** Every row; marks made while it reads stay for the next sync (the read may predate their commit). */
  private async fullRead(): Promise<R[]> {
    this.loading += 1;
    try {
      return await this.source.all();
    } finally {
      this.loading -= 1;
    }
  }

  private load(rows: R[]): void {
    this.rows = rows;
    this.byId.clear();
    this.index = new LiveSubnetIndex();
    for (const r of rows) {
      this.byId.set(r.id, r);
      this.index.add(r);
    }
  }

  private async sync(): Promise<void> {
    const ids = [...this.marked];
    this.marked.clear(); // marks arriving while this reads are taken by the next sync
    if (ids.length > PATCH_LIMIT) {
      this.load(await this.fullRead());
      return;
    }
    const now = new Map<number, R | undefined>();
    for (const id of ids) now.set(id, await this.source.byId(id));
    // A new list, never the old one changed: readers may be walking it between event-loop turns.
    const rows = this.rows!.slice();
    for (const id of ids) {
      const old = this.byId.get(id);
      if (old) {
        const at = findRow(rows, old);
        if (at >= 0) rows.splice(at, 1);
        this.byId.delete(id);
        this.index.remove(old);
      }
      const row = now.get(id);
      if (row) {
        rows.splice(insertionPoint(rows, row), 0, row);
        this.byId.set(id, row);
        this.index.add(row);
      }
    }
    this.rows = rows;
  }

  private async patchedCopy(): Promise<R[]> {
    if (this.marked.size > PATCH_LIMIT) return this.source.all();
    const ids = [...this.marked];
    const rows = this.rows!.filter((r) => !this.marked.has(r.id));
    for (const id of ids) {
      const now = await this.source.byId(id);
      if (now) rows.splice(insertionPoint(rows, now), 0, now);
    }
    return rows;
  }
}

function prefixKey(vrf: number, family: Family, length: number, network: bigint): string {
  return `${vrf}/${family}/${length}/${network}`;
}

function compareRows(a: SubnetRow, b: SubnetRow): number {
  return Buffer.compare(a.first_key, b.first_key) || a.prefix_length - b.prefix_length || a.id - b.id;
}

/** Where `row` goes in the sorted list (binary search). */
function insertionPoint(rows: readonly SubnetRow[], row: SubnetRow): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareRows(rows[mid]!, row) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function findRow(rows: readonly SubnetRow[], row: SubnetRow): number {
  const at = insertionPoint(rows, row);
  if (rows[at] === row) return at;
  const i = rows.indexOf(row); // cannot happen for rows kept sorted; stays correct if it does
  return i;
}
