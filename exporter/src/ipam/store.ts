// SQL for the IPAM tables. Rows in, rows out: rules live in the service and the core.
import type Database from 'better-sqlite3';
import { type LiveSubnetIndex, SubnetCache } from './subnet-cache.js';
import type { Db } from '../store/db.js';
import type { Interval } from './core/allocation.js';
import { ADDRESS_STATES } from './core/fields.js';
import { BITS, type Family, type IP, ipFromKey, ipKey } from './core/ip.js';
import { netmask } from './core/prefix.js';

const MAX: Record<Family, bigint> = { 4: (1n << BigInt(BITS[4])) - 1n, 6: (1n << BigInt(BITS[6])) - 1n };
/** Prefix lengths in use per connection (see IpamStore.lengthsOf), shared by every store on it. */
const LENGTHS = new WeakMap<Db, { version: number; lengths: Record<Family, number[]> }>();

export interface SubnetRow {
  id: number;
  cidr: string;
  family: Family;
  prefix_length: number;
  first_key: Buffer;
  last_key: Buffer;
  name: string;
  description: string;
  vlan: number | null;
  gateway: string | null;
  tags: string;
  scan_enabled: number;
  scan_interval_seconds: number | null;
  created_at: string;
  updated_at: string;
}

export interface AddressRow {
  id: number;
  ip_key: Buffer;
  ip_low: bigint | number;
  address: string;
  family: Family;
  state: string;
  hostname: string | null;
  mac: string | null;
  description: string;
  owner: string | null;
  tags: string;
  source: string;
  created_at: string;
  updated_at: string;
}

export interface RangeRow {
  id: number;
  subnet_id: number;
  start_address: string;
  end_address: string;
  first_key: Buffer;
  last_key: Buffer;
  label: string;
  color: string | null;
  purpose: string;
  description: string;
  auto_allocate: number;
  mark_utilized: number;
  created_at: string;
  updated_at: string;
}

export type NewSubnetRow = Omit<SubnetRow, 'id'>;
/** What lookups by address need of a subnet: far cheaper to read than the whole row. */
export type SubnetRef = Pick<SubnetRow, 'id' | 'cidr' | 'gateway' | 'family' | 'prefix_length' | 'first_key'>;
export type NewAddressRow = Omit<AddressRow, 'id' | 'ip_low'>;
export type NewRangeRow = Omit<RangeRow, 'id'>;

/** Columns a PATCH may change, per table. Keys double as an allow-list for the UPDATE. */
const SUBNET_MUTABLE = [
  'name',
  'description',
  'vlan',
  'gateway',
  'tags',
  'scan_enabled',
  'scan_interval_seconds',
] as const;
const ADDRESS_MUTABLE = ['state', 'hostname', 'mac', 'description', 'owner', 'tags', 'source'] as const;
const RANGE_MUTABLE = ['label', 'color', 'purpose', 'description', 'auto_allocate', 'mark_utilized'] as const;

export class IpamStore {
  private readonly s;
  /**
   * All subnets, cached between subnet writes: they change rarely and are read by every scrape
   * and address listing. Reads inside a transaction bypass the cache (they may see uncommitted
   * rows that a rollback takes back); every subnet write drops it.
   */
  private readonly subnetCache = new SubnetCache<SubnetRow>({
    all: () => this.s.allSubnets.all() as SubnetRow[],
    byId: (id) => this.subnet(id),
  });
  /** Bumped with every subnet write; lets callers cache what they derive from allSubnets(). */
  subnetGeneration = 0;
  /**
   * Told of every insert or delete of an address, range or subnet, with the key span it touches
   * (a single key for an address), for caches derived from which addresses exist where (the
   * subnet layout cache). Any new statement that inserts or deletes such rows must call
   * spaceChanged too. Called inside the writing transaction: a rollback makes it a harmless
   * false alarm.
   */
  private readonly spaceListeners: ((first: Buffer, last: Buffer) => void)[] = [];

  constructor(readonly db: Db) {
    this.s = {
      subnetById: db.prepare('SELECT * FROM subnets WHERE id = ?'),
      subnetByCidr: db.prepare('SELECT * FROM subnets WHERE cidr = ?'),
      allSubnets: db.prepare('SELECT * FROM subnets ORDER BY first_key, prefix_length'),
      insertSubnet:
        db.prepare(`INSERT INTO subnets (cidr, family, prefix_length, first_key, last_key, name, description,
        vlan, gateway, tags, scan_enabled, scan_interval_seconds, created_at, updated_at)
        VALUES (@cidr, @family, @prefix_length, @first_key, @last_key, @name, @description, @vlan, @gateway, @tags,
        @scan_enabled, @scan_interval_seconds, @created_at, @updated_at)`),
      deleteSubnet: db.prepare('DELETE FROM subnets WHERE id = ?'),
      // One probe of the (first_key, prefix_length) index: covering and most-specific lookups
      // probe each prefix length in use instead of scanning every subnet before a key.
      // Only what the hot paths need: a full row (two blobs, a dozen columns) costs several times more.
      subnetRefAt: db.prepare('SELECT id, cidr, gateway FROM subnets WHERE first_key = ? AND prefix_length = ?'),
      subnetLengths: db.prepare('SELECT DISTINCT family, prefix_length FROM subnets'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      // Bounded on first_key on both sides: an index range, not every subnet after `first`.
      subnetsInside: db.prepare(`SELECT * FROM subnets WHERE first_key BETWEEN @first AND @last AND last_key <= @last
        AND id != @except ORDER BY first_key`),

      addressById: db.prepare('SELECT * FROM addresses WHERE id = ?'),
      addressByKey: db.prepare('SELECT * FROM addresses WHERE ip_key = ?'),
      insertAddress:
        db.prepare(`INSERT INTO addresses (ip_key, ip_low, address, family, state, hostname, mac, description,
        owner, tags, source, created_at, updated_at) VALUES (@ip_key, @ip_low, @address, @family, @state, @hostname, @mac,
        @description, @owner, @tags, @source, @created_at, @updated_at)`),
      deleteAddress: db.prepare('DELETE FROM addresses WHERE id = ?'),
      addressesBetween: db.prepare('SELECT * FROM addresses WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key'),
      lowValuesBetween: db
        .prepare('SELECT ip_low FROM addresses WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key')
        .pluck()
        .safeIntegers(),
      keysBetween: db.prepare('SELECT ip_key FROM addresses WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key').pluck(),
      lowValuesPage: db
        .prepare('SELECT ip_low FROM addresses WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key LIMIT ?')
        .pluck()
        .safeIntegers(),
      keysPage: db.prepare('SELECT ip_key FROM addresses WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key LIMIT ?').pluck(),
      addressesFrom: db.prepare('SELECT * FROM addresses WHERE ip_key >= ? AND ip_key <= ? ORDER BY ip_key LIMIT ?'),
      addressesAfter: db.prepare('SELECT * FROM addresses WHERE ip_key > ? AND ip_key <= ? ORDER BY ip_key LIMIT ?'),
      countsBySubnetAndState: db
        .prepare(
          `SELECT s.id, ${ADDRESS_STATES.map(
            (_, i) => `(SELECT count(*) FROM addresses a
        WHERE a.state = @s${i} AND a.ip_key BETWEEN s.first_key AND s.last_key)`,
          ).join(', ')} FROM subnets s`,
        )
        .raw(),
      totalsByStateAndSource: db.prepare('SELECT state, source, n FROM address_totals'),
      allRanges: db.prepare('SELECT * FROM ranges ORDER BY first_key'),
      // Addresses that sit on a subnet's first or last address (possible when a parent held them
      // before the child was created); those are not usable addresses of that subnet.
      addressesOnEdges: db.prepare(`SELECT s.id AS subnet_id, a.state AS state, 'first' AS edge FROM subnets s
        JOIN addresses a ON a.ip_key = s.first_key
        UNION ALL SELECT s.id, a.state, 'last' FROM subnets s JOIN addresses a ON a.ip_key = s.last_key
        WHERE s.last_key != s.first_key`),
      // The same for one subnet: two key lookups (an "@id IS NULL OR" filter would scan every subnet).
      addressesOnEdgesOf: db.prepare(`SELECT s.id AS subnet_id, a.state AS state, 'first' AS edge FROM subnets s
        JOIN addresses a ON a.ip_key = s.first_key WHERE s.id = @id
        UNION ALL SELECT s.id, a.state, 'last' FROM subnets s JOIN addresses a ON a.ip_key = s.last_key
        WHERE s.id = @id AND s.last_key != s.first_key`),
      // One index range count per state on addresses(state, ip_key): far cheaper than grouping
      // every address row of a large subnet.
      countBetweenByState: db
        .prepare(
          `SELECT ${ADDRESS_STATES.map(
            (_, i) => `(SELECT count(*) FROM addresses
        WHERE state = @s${i} AND ip_key BETWEEN @first AND @last)`,
          ).join(', ')}`,
        )
        .raw(),
      countBetween: db.prepare('SELECT count(*) AS n FROM addresses WHERE ip_key BETWEEN ? AND ?'),
      // For the scrape (ipam/metrics.ts): per subnet of a JSON id list, whether its first / last
      // address is recorded and the addresses in its whole prefix by state (one index count per
      // state; the chosen subnets); and addresses in its prefix with the same two flags (the ranking).
      subnetCountsByState: db
        .prepare(
          `SELECT s.id, EXISTS (SELECT 1 FROM addresses a WHERE a.ip_key = s.first_key),
        EXISTS (SELECT 1 FROM addresses a WHERE a.ip_key = s.last_key), ${ADDRESS_STATES.map(
          (_, i) => `(SELECT count(*) FROM addresses a
        WHERE a.state = @s${i} AND a.ip_key BETWEEN s.first_key AND s.last_key)`,
        ).join(', ')}
        FROM json_each(@ids) j CROSS JOIN subnets s ON s.id = j.value`,
        )
        .raw(),
      subnetRankCounts: db
        .prepare(
          `SELECT s.id, (SELECT count(*) FROM addresses a WHERE a.ip_key BETWEEN s.first_key AND s.last_key),
        EXISTS (SELECT 1 FROM addresses a WHERE a.ip_key = s.first_key), EXISTS (SELECT 1 FROM addresses a WHERE a.ip_key = s.last_key)
        FROM json_each(@ids) j CROSS JOIN subnets s ON s.id = j.value`,
        )
        .raw(),
      rangesAfter: db.prepare('SELECT * FROM ranges WHERE id > ? ORDER BY id LIMIT ?'),

      runAtOrBefore: db.prepare(`SELECT first_key, last_key FROM address_runs WHERE first_key <= ?
        ORDER BY first_key DESC LIMIT 1`),
      runStartingAt: db.prepare('SELECT first_key, last_key FROM address_runs WHERE first_key = ?'),
      runAfter: db.prepare('SELECT first_key FROM address_runs WHERE first_key > ? ORDER BY first_key LIMIT 1').pluck(),
      insertRun: db.prepare('INSERT INTO address_runs (first_key, last_key) VALUES (?, ?)'),
      deleteRun: db.prepare('DELETE FROM address_runs WHERE first_key = ?'),
      setRunLast: db.prepare('UPDATE address_runs SET last_key = ? WHERE first_key = ?'),

      rangeById: db.prepare('SELECT * FROM ranges WHERE id = ?'),
      rangesInside: db.prepare(`SELECT * FROM ranges WHERE first_key BETWEEN @first AND @last AND last_key <= @last
        ORDER BY first_key`),
      // Ranges never overlap each other (createRange refuses it), so sorted by first_key they are
      // sorted by last_key too: only the last range starting before `first` can reach into
      // [first,last] from the left. Two index ranges instead of every range before `last`.
      rangesOverlapping: db.prepare(`SELECT * FROM ranges WHERE first_key BETWEEN coalesce((SELECT max(first_key)
        FROM ranges WHERE first_key < @first), @first) AND @last AND last_key >= @first ORDER BY first_key`),
      insertRange: db.prepare(`INSERT INTO ranges (subnet_id, start_address, end_address, first_key, last_key, label,
        color, purpose, description, auto_allocate, mark_utilized, created_at, updated_at) VALUES (@subnet_id,
        @start_address, @end_address, @first_key, @last_key, @label, @color, @purpose, @description, @auto_allocate,
        @mark_utilized, @created_at, @updated_at)`),
      deleteRange: db.prepare('DELETE FROM ranges WHERE id = ?'),
    };
  }

  // --- subnets
  subnet(id: number) {
    return this.s.subnetById.get(id) as SubnetRow | undefined;
  }
  subnetByCidr(cidr: string) {
    return this.s.subnetByCidr.get(cidr) as SubnetRow | undefined;
  }
  allSubnets(): readonly SubnetRow[] {
    return this.subnetCache.all(this.db.inTransaction);
  }
  /** Most-specific-subnet lookup over every subnet, kept up to date (outside transactions). */
  subnetLookup(): LiveSubnetIndex {
    return this.subnetCache.liveIndex();
  }

  private subnetsChanged(id: number): void {
    this.subnetCache.mark(id);
    this.subnetGeneration += 1;
  }

  /** Subscribes to inserts and deletes of addresses, ranges and subnets (see spaceListeners). */
  onSpaceChange(listener: (first: Buffer, last: Buffer) => void): void {
    this.spaceListeners.push(listener);
  }

  private spaceChanged(first: Buffer, last: Buffer = first): void {
    for (const l of this.spaceListeners) l(first, last);
  }
  /** The most specific subnet holding `ip`: one index probe per prefix length in use, longest first. */
  mostSpecificRef(ip: IP): SubnetRef | undefined {
    for (const length of this.lengthsOf(ip.family)) {
      const ref = this.probe(ip.family, ip.value, length);
      if (ref) return ref;
    }
    return undefined;
  }
  /** mostSpecificRef as a full row. */
  mostSpecificSubnet(ip: IP): SubnetRow | undefined {
    const ref = this.mostSpecificRef(ip);
    return ref && this.subnet(ref.id);
  }
  /** Subnets strictly inside [first,last], other than `exceptId`. */
  subnetsInside(first: Buffer, last: Buffer, exceptId: number) {
    return this.s.subnetsInside.all({ first, last, except: exceptId }) as SubnetRow[];
  }
  /**
   * Subnets that contain [first,last] (the subnet itself included), most specific first. Subnets
   * nest and never partially overlap, so these are the prefixes of `first` at each length in use
   * that reach `last`: a few index probes, whatever the number of subnets.
   */
  subnetsCovering(first: Buffer, last: Buffer): SubnetRef[] {
    const lo = ipFromKey(first);
    const hi = ipFromKey(last).value;
    const out: SubnetRef[] = [];
    for (const length of this.lengthsOf(lo.family)) {
      const ref = this.probe(lo.family, lo.value, length);
      if (ref && (lo.value | (~netmask(lo.family, length) & MAX[lo.family])) >= hi) out.push(ref);
    }
    return out;
  }

  private probe(family: Family, value: bigint, length: number): SubnetRef | undefined {
    const firstKey = ipKey({ family, value: value & netmask(family, length) });
    const hit = this.s.subnetRefAt.get(firstKey, length) as Pick<SubnetRow, 'id' | 'cidr' | 'gateway'> | undefined;
    return hit && { ...hit, family, prefix_length: length, first_key: firstKey };
  }

  /**
   * Prefix lengths that subnets use, per family, longest first. Kept per connection and only
   * ever grown while the process runs (a length whose last subnet went stays until a restart;
   * one probe more), so a rollback can never hide a subnet from a probe. Re-read, merged, when
   * another connection has committed since (PRAGMA data_version).
   */
  private lengthsOf(family: Family): readonly number[] {
    const version = this.s.dataVersion.get() as number;
    let known = LENGTHS.get(this.db);
    if (!known || known.version !== version) {
      const merged = { 4: new Set(known?.lengths[4]), 6: new Set(known?.lengths[6]) };
      for (const r of this.s.subnetLengths.all() as { family: Family; prefix_length: number }[])
        merged[r.family].add(r.prefix_length);
      known = {
        version,
        lengths: { 4: [...merged[4]].sort((a, b) => b - a), 6: [...merged[6]].sort((a, b) => b - a) },
      };
      LENGTHS.set(this.db, known);
    }
    return known.lengths[family];
  }

  private lengthInUse(family: Family, length: number): void {
    const known = LENGTHS.get(this.db);
    if (!known) return; // read in full at the first lookup
    if (!known.lengths[family].includes(length)) {
      known.lengths[family] = [...known.lengths[family], length].sort((a, b) => b - a);
    }
  }
  insertSubnet(row: NewSubnetRow): number {
    this.lengthInUse(row.family, row.prefix_length);
    this.spaceChanged(row.first_key, row.last_key);
    const id = Number(this.s.insertSubnet.run(row).lastInsertRowid);
    this.subnetsChanged(id);
    return id;
  }
  updateSubnet(id: number, changes: Partial<Pick<SubnetRow, (typeof SUBNET_MUTABLE)[number]>>, now: string) {
    this.subnetsChanged(id);
    this.update('subnets', SUBNET_MUTABLE, id, changes, now);
  }
  deleteSubnet(id: number) {
    this.subnetsChanged(id);
    const row = this.subnet(id);
    if (row) this.spaceChanged(row.first_key, row.last_key);
    this.s.deleteSubnet.run(id);
  }

  // --- addresses
  address(id: number) {
    return this.s.addressById.get(id) as AddressRow | undefined;
  }
  addressAt(ip: IP) {
    return this.s.addressByKey.get(ipKey(ip)) as AddressRow | undefined;
  }
  addressesBetween(first: Buffer, last: Buffer) {
    return this.s.addressesBetween.all(first, last) as AddressRow[];
  }
  countBetween(first: Buffer, last: Buffer): number {
    return (this.s.countBetween.get(first, last) as { n: number }).n;
  }
  /** Known addresses in [first,last] by state (states with none are left out). */
  countBetweenByState(first: Buffer, last: Buffer): { state: string; n: number }[] {
    const counts = this.s.countBetweenByState.get({ ...STATE_PARAMS, first, last }) as number[];
    return statesWithCounts(counts);
  }
  insertAddress(row: NewAddressRow): number {
    const ip = ipFromKey(row.ip_key);
    const id = Number(this.s.insertAddress.run({ ...row, ip_low: BigInt.asIntN(64, ip.value) }).lastInsertRowid);
    this.occupy(ip.family, ip.value, ip.value);
    this.spaceChanged(row.ip_key);
    return id;
  }

  /**
   * Inserts addresses none of which is recorded yet (a duplicate fails on the UNIQUE key) and
   * returns their ids in order. The runs index is updated once per stretch of consecutive
   * addresses, and listeners are told once for the whole span, instead of once per address.
   */
  insertAddresses(rows: readonly NewAddressRow[]): number[] {
    if (rows.length === 0) return [];
    const ips = rows.map((row) => ipFromKey(row.ip_key));
    const ids = rows.map((row, i) =>
      Number(this.s.insertAddress.run({ ...row, ip_low: BigInt.asIntN(64, ips[i]!.value) }).lastInsertRowid),
    );
    const sorted = [...ips].sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    let start = sorted[0]!;
    let end = start;
    for (const ip of sorted.slice(1)) {
      if (ip.family === end.family && ip.value === end.value + 1n) {
        end = ip;
        continue;
      }
      this.occupy(start.family, start.value, end.value);
      start = ip;
      end = ip;
    }
    this.occupy(start.family, start.value, end.value);
    this.spaceChanged(ipKey(sorted[0]!), ipKey(sorted[sorted.length - 1]!));
    return ids;
  }

  /**
   * The values of the addresses in [first,last] in order, without building row objects. When
   * every address there shares its high 64 bits (all IPv4, IPv6 prefixes of /64 or longer) the
   * integer column is enough; otherwise the full keys are read.
   */
  valuesBetween(first: IP, last: IP): bigint[] {
    const lo = ipKey(first);
    const hi = ipKey(last);
    const high = first.value >> 64n;
    if (high !== last.value >> 64n) {
      return (this.s.keysBetween.all(lo, hi) as Buffer[]).map((k) => ipFromKey(k).value);
    }
    const base = high << 64n;
    return (this.s.lowValuesBetween.all(lo, hi) as bigint[]).map((v) => base | BigInt.asUintN(64, v));
  }

  /**
   * At most `limit` address values in [first,last], in order: one chunk of valuesBetween, for
   * callers that read a large span a chunk at a time (the next chunk starts after the last value).
   */
  valuesPage(first: IP, last: IP, limit: number): bigint[] {
    const lo = ipKey(first);
    const hi = ipKey(last);
    const high = first.value >> 64n;
    if (high !== last.value >> 64n) {
      return (this.s.keysPage.all(lo, hi, limit) as Buffer[]).map((k) => ipFromKey(k).value);
    }
    const base = high << 64n;
    return (this.s.lowValuesPage.all(lo, hi, limit) as bigint[]).map((v) => base | BigInt.asUintN(64, v));
  }

  /**
   * Keyset page of address rows in key order: up to `limit` rows in [first,last] after the key
   * `after` (from `first` itself when there is none).
   */
  addressesPage(first: Buffer, last: Buffer, after: Buffer | undefined, limit: number): AddressRow[] {
    return (
      after ? this.s.addressesAfter.all(after, last, limit) : this.s.addressesFrom.all(first, last, limit)
    ) as AddressRow[];
  }

  /**
   * Keyset page of raw address rows (arrays of the given columns, in that order) for bulk
   * readers such as the CSV export: rows in [first,last] with a key above `after` (from `first`
   * when there is none). Arrays of a few columns cost a fraction of full row objects.
   */
  addressColumnsPage(
    columns: readonly string[],
    first: Buffer,
    last: Buffer,
    after: Buffer | undefined,
    limit: number,
  ): unknown[][] {
    const unknown = columns.filter((c) => !ADDRESS_COLUMNS.has(c));
    if (unknown.length > 0) throw new Error(`not address columns: ${unknown.join(', ')}`);
    const list = columns.join(', ');
    let st = this.columnPages.get(list);
    if (!st) {
      st = {
        from: this.db
          .prepare(`SELECT ${list} FROM addresses WHERE ip_key >= ? AND ip_key <= ? ORDER BY ip_key LIMIT ?`)
          .raw(),
        after: this.db
          .prepare(`SELECT ${list} FROM addresses WHERE ip_key > ? AND ip_key <= ? ORDER BY ip_key LIMIT ?`)
          .raw(),
      };
      this.columnPages.set(list, st);
    }
    return (after ? st.after.all(after, last, limit) : st.from.all(first, last, limit)) as unknown[][];
  }

  private readonly columnPages = new Map<string, { from: Database.Statement; after: Database.Statement }>();

  /** Known addresses by state for every subnet at once (one statement, for /metrics). */
  countsBySubnetAndState(): { subnet_id: number; state: string; n: number }[] {
    return (this.s.countsBySubnetAndState.all(STATE_PARAMS) as number[][]).flatMap(([id, ...counts]) =>
      statesWithCounts(counts).map((c) => ({ subnet_id: id!, ...c })),
    );
  }

  /**
   * Per subnet id: [id, its first address recorded (0/1), its last address recorded (0/1), count
   * per state in ADDRESS_STATES order over its whole prefix].
   */
  subnetCountsByState(ids: readonly number[]): [number, number, number, ...number[]][] {
    return this.s.subnetCountsByState.all({ ...STATE_PARAMS, ids: JSON.stringify(ids) }) as [
      number,
      number,
      number,
      ...number[],
    ][];
  }
  /** Per subnet id: [id, addresses in its prefix, first address recorded (0/1), last address recorded (0/1)]. */
  subnetRankCounts(ids: readonly number[]): [number, number, number, number][] {
    return this.s.subnetRankCounts.all({ ids: JSON.stringify(ids) }) as [number, number, number, number][];
  }
  /** Ranges in id order after `after`, at most `limit`. */
  rangesAfter(after: number, limit: number): RangeRow[] {
    return this.s.rangesAfter.all(after, limit) as RangeRow[];
  }
  /** SQLite's PRAGMA data_version: changes when another connection commits. */
  dataVersion(): unknown {
    return this.s.dataVersion.get();
  }

  totalsByStateAndSource() {
    return this.s.totalsByStateAndSource.all() as { state: string; source: string; n: number }[];
  }

  allRanges() {
    return this.s.allRanges.all() as RangeRow[];
  }

  addressesOnEdges(subnetId?: number) {
    return (
      subnetId === undefined ? this.s.addressesOnEdges.all() : this.s.addressesOnEdgesOf.all({ id: subnetId })
    ) as { subnet_id: number; state: string; edge: 'first' | 'last' }[];
  }
  updateAddress(id: number, changes: Partial<Pick<AddressRow, (typeof ADDRESS_MUTABLE)[number]>>, now: string) {
    this.update('addresses', ADDRESS_MUTABLE, id, changes, now);
  }
  deleteAddress(row: AddressRow) {
    this.s.deleteAddress.run(row.id);
    this.release(ipFromKey(row.ip_key));
    this.spaceChanged(row.ip_key);
  }

  /** Filtered, paged address listing. Filters are values only; column names are fixed here. */
  listAddresses(filter: AddressFilter, limit: number, offset: number): { count: number; rows: AddressRow[] } {
    const { where, args } = filterWhere(filter);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = (this.db.prepare(`SELECT count(*) AS n FROM addresses ${clause}`).get(...args) as { n: number }).n;
    // Keyset: `after` narrows the rows, not the count (which stays the number of all matches).
    const page = filter.after ? `${clause ? `${clause} AND` : 'WHERE'} ip_key > ?` : clause;
    const rows = this.db
      .prepare(`SELECT * FROM addresses ${page} ORDER BY ip_key LIMIT ? OFFSET ?`)
      .all(...args, ...(filter.after ? [filter.after] : []), limit, offset) as AddressRow[];
    return { count, rows };
  }

  // --- chunked scans: a filter no index serves (q, tag, source) read a key span at a time
  /**
   * The key of the `n`-th address from `lo` on (up to `hi`), or undefined when fewer are left:
   * where a scan chunk of n rows ends (one walk of n index entries).
   */
  addressKeyAt(lo: KeyBound, hi: Buffer, n: number): Buffer | undefined {
    return this.db
      .prepare(
        `SELECT ip_key FROM addresses WHERE ip_key ${lo.inclusive ? '>=' : '>'} ? AND ip_key <= ?
      ORDER BY ip_key LIMIT 1 OFFSET ?`,
      )
      .pluck()
      .get(lo.key, hi, n - 1) as Buffer | undefined;
  }

  /** Addresses matching `filter` (between/after aside) with keys from `lo` to `hi`: how many, and a page of them. */
  addressesIn(
    filter: AddressFilter,
    lo: KeyBound,
    hi: Buffer,
    page?: { limit: number; offset: number },
  ): { count: number; rows: AddressRow[] } {
    const { where, args } = filterWhere({ ...filter, between: undefined, after: undefined });
    where.unshift(`ip_key ${lo.inclusive ? '>=' : '>'} ? AND ip_key <= ?`);
    args.unshift(lo.key, hi);
    const clause = `WHERE ${where.join(' AND ')}`;
    const count = (this.db.prepare(`SELECT count(*) AS n FROM addresses ${clause}`).get(...args) as { n: number }).n;
    const rows =
      !page || count <= page.offset
        ? []
        : (this.db
            .prepare(`SELECT * FROM addresses ${clause} ORDER BY ip_key LIMIT ? OFFSET ?`)
            .all(...args, page.limit, page.offset) as AddressRow[]);
    return { count, rows };
  }

  // --- runs of consecutive used addresses
  /** The run of used addresses containing `at`, if any. */
  runContaining(at: IP): Interval | undefined {
    const run = this.s.runAtOrBefore.get(ipKey(at)) as { first_key: Buffer; last_key: Buffer } | undefined;
    if (!run) return undefined;
    const first = ipFromKey(run.first_key);
    const last = ipFromKey(run.last_key);
    if (first.family !== at.family || last.value < at.value) return undefined;
    return { first: first.value, last: last.value };
  }

  /** Where the first run of used addresses after `at` (same family) starts, if any. */
  nextRunStart(at: IP): bigint | undefined {
    const key = this.s.runAfter.get(ipKey(at)) as Buffer | undefined;
    if (!key || key[0] !== at.family) return undefined;
    return ipFromKey(key).value;
  }

  /** Marks [first,last] used (none of it was): joins the runs on either side. */
  private occupy(family: Family, first: bigint, last: bigint) {
    const left = first > 0n ? this.runContaining({ family, value: first - 1n }) : undefined;
    const rightKey = last < MAX[family] ? ipKey({ family, value: last + 1n }) : undefined;
    const right =
      rightKey && (this.s.runStartingAt.get(rightKey) as { first_key: Buffer; last_key: Buffer } | undefined);
    const lastKey = right ? right.last_key : ipKey({ family, value: last });
    if (right) this.s.deleteRun.run(rightKey);
    if (left) this.s.setRunLast.run(lastKey, ipKey({ family, value: left.first }));
    else this.s.insertRun.run(ipKey({ family, value: first }), lastKey);
  }

  private release(ip: IP) {
    const run = this.runContaining(ip);
    if (!run) return;
    const firstKey = ipKey({ family: ip.family, value: run.first });
    if (run.first === ip.value) this.s.deleteRun.run(firstKey);
    else this.s.setRunLast.run(ipKey({ family: ip.family, value: ip.value - 1n }), firstKey);
    if (run.last > ip.value) {
      this.s.insertRun.run(
        ipKey({ family: ip.family, value: ip.value + 1n }),
        ipKey({ family: ip.family, value: run.last }),
      );
    }
  }

  // --- ranges
  range(id: number) {
    return this.s.rangeById.get(id) as RangeRow | undefined;
  }
  rangesInside(first: Buffer, last: Buffer) {
    return this.s.rangesInside.all({ first, last }) as RangeRow[];
  }
  rangesOverlapping(first: Buffer, last: Buffer) {
    return this.s.rangesOverlapping.all({ first, last }) as RangeRow[];
  }
  insertRange(row: NewRangeRow): number {
    this.spaceChanged(row.first_key, row.last_key);
    return Number(this.s.insertRange.run(row).lastInsertRowid);
  }
  updateRange(id: number, changes: Partial<Pick<RangeRow, (typeof RANGE_MUTABLE)[number]>>, now: string) {
    this.update('ranges', RANGE_MUTABLE, id, changes, now);
  }
  deleteRange(id: number) {
    const row = this.range(id);
    if (row) this.spaceChanged(row.first_key, row.last_key);
    this.s.deleteRange.run(id);
  }
  listRanges(subnetId: number | undefined, limit: number, offset: number) {
    const clause = subnetId === undefined ? '' : 'WHERE subnet_id = ?';
    const args = subnetId === undefined ? [] : [subnetId];
    const count = (this.db.prepare(`SELECT count(*) AS n FROM ranges ${clause}`).get(...args) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT * FROM ranges ${clause} ORDER BY first_key LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as RangeRow[];
    return { count, rows };
  }

  private update(table: string, allowed: readonly string[], id: number, changes: Record<string, unknown>, now: string) {
    const cols = Object.keys(changes).filter((c) => allowed.includes(c) && changes[c] !== undefined);
    if (cols.length === 0) return;
    // Only when a value really changes, so a no-op PATCH leaves updated_at (and the audit log) alone.
    const sql =
      `UPDATE ${table} SET ${cols.map((c) => `${c} = @${c}`).join(', ')}, updated_at = @updated_at ` +
      `WHERE id = @id AND (${cols.map((c) => `${c} IS NOT @${c}`).join(' OR ')})`;
    const values: Record<string, unknown> = { id, updated_at: now };
    for (const c of cols) values[c] = changes[c];
    this.db.prepare(sql).run(values);
  }
}

export interface AddressFilter {
  between?: [Buffer, Buffer] | undefined;
  /** Keyset paging: only rows with a larger key (the count ignores it). */
  after?: Buffer | undefined;
  state?: string | undefined;
  source?: string | undefined;
  tag?: string | undefined;
  q?: string | undefined;
}

/** Columns of the addresses table, the allow-list for addressColumnsPage. */
const ADDRESS_COLUMNS = new Set([
  'id',
  'ip_key',
  'ip_low',
  'address',
  'family',
  'state',
  'hostname',
  'mac',
  'description',
  'owner',
  'tags',
  'source',
  'created_at',
  'updated_at',
]);

/** A lower bound of a key span: the key itself included or not. */
export interface KeyBound {
  key: Buffer;
  inclusive: boolean;
}

/** The WHERE terms of an address filter (`after` aside: it narrows rows, not counts). */
function filterWhere(filter: AddressFilter): { where: string[]; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.between) {
    where.push('ip_key BETWEEN ? AND ?');
    args.push(filter.between[0], filter.between[1]);
  }
  if (filter.state) {
    where.push('state = ?');
    args.push(filter.state);
  }
  if (filter.source) {
    where.push('source = ?');
    args.push(filter.source);
  }
  if (filter.tag) {
    where.push('EXISTS (SELECT 1 FROM json_each(addresses.tags) WHERE value = ?)');
    args.push(filter.tag);
  }
  if (filter.q) {
    where.push(
      "(address LIKE ? ESCAPE '\\' OR hostname LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\' OR owner LIKE ? ESCAPE '\\' OR mac LIKE ? ESCAPE '\\')",
    );
    const like = `%${escapeLike(filter.q)}%`;
    args.push(like, like, like, like, like);
  }
  return { where, args };
}

const STATE_PARAMS = Object.fromEntries(ADDRESS_STATES.map((state, i) => [`s${i}`, state]));

function statesWithCounts(counts: number[]): { state: string; n: number }[] {
  return ADDRESS_STATES.flatMap((state, i) => (counts[i] ? [{ state, n: counts[i]! }] : []));
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
