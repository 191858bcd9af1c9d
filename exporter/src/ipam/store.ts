// SQL for the IPAM tables. Rows in, rows out: rules live in the service and the core.
import type { Db } from '../store/db.js';
import type { Interval } from './core/allocation.js';
import { ADDRESS_STATES } from './core/fields.js';
import { BITS, type Family, type IP, ipFromKey, ipKey } from './core/ip.js';

const MAX: Record<Family, bigint> = { 4: (1n << BigInt(BITS[4])) - 1n, 6: (1n << BigInt(BITS[6])) - 1n };

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
export type NewAddressRow = Omit<AddressRow, 'id' | 'ip_low'>;
export type NewRangeRow = Omit<RangeRow, 'id'>;

/** Columns a PATCH may change, per table. Keys double as an allow-list for the UPDATE. */
const SUBNET_MUTABLE = ['name', 'description', 'vlan', 'gateway', 'tags', 'scan_enabled', 'scan_interval_seconds'] as const;
const ADDRESS_MUTABLE = ['state', 'hostname', 'mac', 'description', 'owner', 'tags', 'source'] as const;
const RANGE_MUTABLE = ['label', 'color', 'purpose', 'description', 'auto_allocate', 'mark_utilized'] as const;

export class IpamStore {
  private readonly s;
  /**
   * All subnets, cached between subnet writes: they change rarely and are read by every scrape
   * and address listing. Reads inside a transaction bypass the cache (they may see uncommitted
   * rows that a rollback takes back); every subnet write drops it.
   */
  private subnetCache: SubnetRow[] | undefined;
  /** Bumped with every subnet write; lets callers cache what they derive from allSubnets(). */
  subnetGeneration = 0;

  constructor(readonly db: Db) {
    this.s = {
      subnetById: db.prepare('SELECT * FROM subnets WHERE id = ?'),
      subnetByCidr: db.prepare('SELECT * FROM subnets WHERE cidr = ?'),
      allSubnets: db.prepare('SELECT * FROM subnets ORDER BY first_key, prefix_length'),
      insertSubnet: db.prepare(`INSERT INTO subnets (cidr, family, prefix_length, first_key, last_key, name, description,
        vlan, gateway, tags, scan_enabled, scan_interval_seconds, created_at, updated_at)
        VALUES (@cidr, @family, @prefix_length, @first_key, @last_key, @name, @description, @vlan, @gateway, @tags,
        @scan_enabled, @scan_interval_seconds, @created_at, @updated_at)`),
      deleteSubnet: db.prepare('DELETE FROM subnets WHERE id = ?'),
      mostSpecificSubnet: db.prepare(`SELECT * FROM subnets WHERE first_key <= @key AND last_key >= @key
        ORDER BY prefix_length DESC LIMIT 1`),
      subnetsInside: db.prepare(`SELECT * FROM subnets WHERE first_key >= ? AND last_key <= ? AND id != ?
        ORDER BY first_key`),
      subnetsCovering: db.prepare(`SELECT * FROM subnets WHERE first_key <= ? AND last_key >= ?
        ORDER BY prefix_length DESC`),

      addressById: db.prepare('SELECT * FROM addresses WHERE id = ?'),
      addressByKey: db.prepare('SELECT * FROM addresses WHERE ip_key = ?'),
      insertAddress: db.prepare(`INSERT INTO addresses (ip_key, ip_low, address, family, state, hostname, mac, description,
        owner, tags, source, created_at, updated_at) VALUES (@ip_key, @ip_low, @address, @family, @state, @hostname, @mac,
        @description, @owner, @tags, @source, @created_at, @updated_at)`),
      deleteAddress: db.prepare('DELETE FROM addresses WHERE id = ?'),
      addressesBetween: db.prepare('SELECT * FROM addresses WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key'),
      lowValuesBetween: db.prepare('SELECT ip_low FROM addresses WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key').pluck().safeIntegers(),
      keysBetween: db.prepare('SELECT ip_key FROM addresses WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key').pluck(),
      countsBySubnetAndState: db.prepare(`SELECT s.id, ${ADDRESS_STATES.map((_, i) => `(SELECT count(*) FROM addresses a
        WHERE a.state = @s${i} AND a.ip_key BETWEEN s.first_key AND s.last_key)`).join(', ')} FROM subnets s`).raw(),
      totalsByStateAndSource: db.prepare('SELECT state, source, n FROM address_totals'),
      allRanges: db.prepare('SELECT * FROM ranges ORDER BY first_key'),
      // Addresses that sit on a subnet's first or last address (possible when a parent held them
      // before the child was created); those are not usable addresses of that subnet.
      addressesOnEdges: db.prepare(`SELECT s.id AS subnet_id, a.state AS state, 'first' AS edge FROM subnets s
        JOIN addresses a ON a.ip_key = s.first_key WHERE @id IS NULL OR s.id = @id
        UNION ALL SELECT s.id, a.state, 'last' FROM subnets s JOIN addresses a ON a.ip_key = s.last_key
        WHERE (@id IS NULL OR s.id = @id) AND s.last_key != s.first_key`),
      // One index range count per state on addresses(state, ip_key): far cheaper than grouping
      // every address row of a large subnet.
      countBetweenByState: db.prepare(`SELECT ${ADDRESS_STATES.map((_, i) => `(SELECT count(*) FROM addresses
        WHERE state = @s${i} AND ip_key BETWEEN @first AND @last)`).join(', ')}`).raw(),
      countBetween: db.prepare('SELECT count(*) AS n FROM addresses WHERE ip_key BETWEEN ? AND ?'),

      runAtOrBefore: db.prepare(`SELECT first_key, last_key FROM address_runs WHERE first_key <= ?
        ORDER BY first_key DESC LIMIT 1`),
      runStartingAt: db.prepare('SELECT first_key, last_key FROM address_runs WHERE first_key = ?'),
      insertRun: db.prepare('INSERT INTO address_runs (first_key, last_key) VALUES (?, ?)'),
      deleteRun: db.prepare('DELETE FROM address_runs WHERE first_key = ?'),
      setRunLast: db.prepare('UPDATE address_runs SET last_key = ? WHERE first_key = ?'),

      rangeById: db.prepare('SELECT * FROM ranges WHERE id = ?'),
      rangesInside: db.prepare('SELECT * FROM ranges WHERE first_key >= ? AND last_key <= ? ORDER BY first_key'),
      rangesOverlapping: db.prepare('SELECT * FROM ranges WHERE first_key <= ? AND last_key >= ? ORDER BY first_key'),
      insertRange: db.prepare(`INSERT INTO ranges (subnet_id, start_address, end_address, first_key, last_key, label,
        color, purpose, description, auto_allocate, mark_utilized, created_at, updated_at) VALUES (@subnet_id,
        @start_address, @end_address, @first_key, @last_key, @label, @color, @purpose, @description, @auto_allocate,
        @mark_utilized, @created_at, @updated_at)`),
      deleteRange: db.prepare('DELETE FROM ranges WHERE id = ?'),
    };
  }

  // --- subnets
  subnet(id: number) { return this.s.subnetById.get(id) as SubnetRow | undefined; }
  subnetByCidr(cidr: string) { return this.s.subnetByCidr.get(cidr) as SubnetRow | undefined; }
  allSubnets(): readonly SubnetRow[] {
    if (this.subnetCache && !this.db.inTransaction) return this.subnetCache;
    const rows = this.s.allSubnets.all() as SubnetRow[];
    if (!this.db.inTransaction) this.subnetCache = rows;
    return rows;
  }

  private subnetsChanged(): void {
    this.subnetCache = undefined;
    this.subnetGeneration += 1;
  }
  mostSpecificSubnet(ip: IP) { return this.s.mostSpecificSubnet.get({ key: ipKey(ip) }) as SubnetRow | undefined; }
  /** Subnets strictly inside [first,last], other than `exceptId`. */
  subnetsInside(first: Buffer, last: Buffer, exceptId: number) {
    return this.s.subnetsInside.all(first, last, exceptId) as SubnetRow[];
  }
  /** Subnets that contain [first,last] (the subnet itself included), most specific first. */
  subnetsCovering(first: Buffer, last: Buffer) {
    return this.s.subnetsCovering.all(first, last) as SubnetRow[];
  }
  insertSubnet(row: NewSubnetRow): number {
    this.subnetsChanged();
    return Number(this.s.insertSubnet.run(row).lastInsertRowid);
  }
  updateSubnet(id: number, changes: Partial<Pick<SubnetRow, (typeof SUBNET_MUTABLE)[number]>>, now: string) {
    this.subnetsChanged();
    this.update('subnets', SUBNET_MUTABLE, id, changes, now);
  }
  deleteSubnet(id: number) {
    this.subnetsChanged();
    this.s.deleteSubnet.run(id);
  }

  // --- addresses
  address(id: number) { return this.s.addressById.get(id) as AddressRow | undefined; }
  addressAt(ip: IP) { return this.s.addressByKey.get(ipKey(ip)) as AddressRow | undefined; }
  addressesBetween(first: Buffer, last: Buffer) { return this.s.addressesBetween.all(first, last) as AddressRow[]; }
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
    this.occupy(ip);
    return id;
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

  /** Known addresses by state for every subnet at once (one statement, for /metrics). */
  countsBySubnetAndState(): { subnet_id: number; state: string; n: number }[] {
    return (this.s.countsBySubnetAndState.all(STATE_PARAMS) as number[][])
      .flatMap(([id, ...counts]) => statesWithCounts(counts).map((c) => ({ subnet_id: id!, ...c })));
  }

  totalsByStateAndSource() {
    return this.s.totalsByStateAndSource.all() as { state: string; source: string; n: number }[];
  }

  allRanges() { return this.s.allRanges.all() as RangeRow[]; }

  addressesOnEdges(subnetId?: number) {
    return this.s.addressesOnEdges.all({ id: subnetId ?? null }) as { subnet_id: number; state: string; edge: 'first' | 'last' }[];
  }
  updateAddress(id: number, changes: Partial<Pick<AddressRow, (typeof ADDRESS_MUTABLE)[number]>>, now: string) {
    this.update('addresses', ADDRESS_MUTABLE, id, changes, now);
  }
  deleteAddress(row: AddressRow) {
    this.s.deleteAddress.run(row.id);
    this.release(ipFromKey(row.ip_key));
  }

  /** Filtered, paged address listing. Filters are values only; column names are fixed here. */
  listAddresses(filter: AddressFilter, limit: number, offset: number): { count: number; rows: AddressRow[] } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.between) { where.push('ip_key BETWEEN ? AND ?'); args.push(filter.between[0], filter.between[1]); }
    if (filter.state) { where.push('state = ?'); args.push(filter.state); }
    if (filter.source) { where.push('source = ?'); args.push(filter.source); }
    if (filter.tag) { where.push('EXISTS (SELECT 1 FROM json_each(addresses.tags) WHERE value = ?)'); args.push(filter.tag); }
    if (filter.q) {
      where.push("(address LIKE ? ESCAPE '\\' OR hostname LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\' OR owner LIKE ? ESCAPE '\\' OR mac LIKE ? ESCAPE '\\')");
      const like = `%${escapeLike(filter.q)}%`;
      args.push(like, like, like, like, like);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = (this.db.prepare(`SELECT count(*) AS n FROM addresses ${clause}`).get(...args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM addresses ${clause} ORDER BY ip_key LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as AddressRow[];
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

  private occupy(ip: IP) {
    const key = ipKey(ip);
    const left = ip.value > 0n ? this.runContaining({ family: ip.family, value: ip.value - 1n }) : undefined;
    const rightKey = ip.value < MAX[ip.family] ? ipKey({ family: ip.family, value: ip.value + 1n }) : undefined;
    const right = rightKey && (this.s.runStartingAt.get(rightKey) as { first_key: Buffer; last_key: Buffer } | undefined);
    const lastKey = right ? right.last_key : key;
    if (right) this.s.deleteRun.run(rightKey);
    if (left) this.s.setRunLast.run(lastKey, ipKey({ family: ip.family, value: left.first }));
    else this.s.insertRun.run(key, lastKey);
  }

  private release(ip: IP) {
    const run = this.runContaining(ip);
    if (!run) return;
    const firstKey = ipKey({ family: ip.family, value: run.first });
    if (run.first === ip.value) this.s.deleteRun.run(firstKey);
    else this.s.setRunLast.run(ipKey({ family: ip.family, value: ip.value - 1n }), firstKey);
    if (run.last > ip.value) {
      this.s.insertRun.run(ipKey({ family: ip.family, value: ip.value + 1n }), ipKey({ family: ip.family, value: run.last }));
    }
  }

  // --- ranges
  range(id: number) { return this.s.rangeById.get(id) as RangeRow | undefined; }
  rangesInside(first: Buffer, last: Buffer) { return this.s.rangesInside.all(first, last) as RangeRow[]; }
  rangesOverlapping(first: Buffer, last: Buffer) { return this.s.rangesOverlapping.all(last, first) as RangeRow[]; }
  insertRange(row: NewRangeRow): number { return Number(this.s.insertRange.run(row).lastInsertRowid); }
  updateRange(id: number, changes: Partial<Pick<RangeRow, (typeof RANGE_MUTABLE)[number]>>, now: string) {
    this.update('ranges', RANGE_MUTABLE, id, changes, now);
  }
  deleteRange(id: number) { this.s.deleteRange.run(id); }
  listRanges(subnetId: number | undefined, limit: number, offset: number) {
    const clause = subnetId === undefined ? '' : 'WHERE subnet_id = ?';
    const args = subnetId === undefined ? [] : [subnetId];
    const count = (this.db.prepare(`SELECT count(*) AS n FROM ranges ${clause}`).get(...args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM ranges ${clause} ORDER BY first_key LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as RangeRow[];
    return { count, rows };
  }

  private update(table: string, allowed: readonly string[], id: number, changes: Record<string, unknown>, now: string) {
    const cols = Object.keys(changes).filter((c) => allowed.includes(c) && changes[c] !== undefined);
    if (cols.length === 0) return;
    // Only when a value really changes, so a no-op PATCH leaves updated_at (and the audit log) alone.
    const sql = `UPDATE ${table} SET ${cols.map((c) => `${c} = @${c}`).join(', ')}, updated_at = @updated_at ` +
      `WHERE id = @id AND (${cols.map((c) => `${c} IS NOT @${c}`).join(' OR ')})`;
    const values: Record<string, unknown> = { id, updated_at: now };
    for (const c of cols) values[c] = changes[c];
    this.db.prepare(sql).run(values);
  }
}

export interface AddressFilter {
  between?: [Buffer, Buffer] | undefined;
  state?: string | undefined;
  source?: string | undefined;
  tag?: string | undefined;
  q?: string | undefined;
}

const STATE_PARAMS = Object.fromEntries(ADDRESS_STATES.map((state, i) => [`s${i}`, state]));

function statesWithCounts(counts: number[]): { state: string; n: number }[] {
  return ADDRESS_STATES.flatMap((state, i) => (counts[i] ? [{ state, n: counts[i]! }] : []));
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
