// SQL for the IPAM tables. Rows in, rows out: rules live in the service and the core. One SQL
// text per statement on SQLite and PostgreSQL (#14); where the dialects differ the method picks
// by `exec.dialect`. Statements run in the caller's write transaction when there is one.
import { type LiveSubnetIndex, SubnetCache } from './subnet-cache.js';
import type { SqlDialect, SqlExec } from '../store/sql-exec.js';
import type { Store } from '../store/store.js';
import { insertRows } from '../store/insert-rows.js';
import { paddedChunks } from '../store/padded-chunks.js';
import type { Interval } from './core/allocation.js';
import { addToRuns } from './core/runs.js';
import { ADDRESS_STATES } from './core/fields.js';
import { BITS, type Family, type IP, ipFromKey, ipKey } from './core/ip.js';
import { netmask } from './core/prefix.js';

const MAX: Record<Family, bigint> = { 4: (1n << BigInt(BITS[4])) - 1n, 6: (1n << BigInt(BITS[6])) - 1n };
/** Prefix lengths in use per connection (see IpamStore.lengthsOf), shared by every store on it. */
interface SharedState {
  cache: SubnetCache<SubnetRow>;
  generation: number;
  listeners: ((first: Buffer, last: Buffer) => void)[];
}
const SHARED = new WeakMap<Store, SharedState>();
const LENGTHS = new WeakMap<Store, { version: unknown; lengths: Record<Family, number[]> }>();

export interface VrfRow {
  id: number;
  name: string;
  rd: string | null;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface SubnetRow {
  id: number;
  /** The VRF (address space); fixed after creation, like the CIDR. */
  vrf_id: number;
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
  /** The remote scan agent that sweeps this subnet (#15); null: this exporter sweeps it. */
  agent_id: number | null;
}

export interface AddressRow {
  id: number;
  /** Its subnet's VRF, kept in the row for the (vrf_id, ip_key) unique key. */
  vrf_id: number;
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
  /** Its subnet's VRF, kept in the row for the (vrf_id, first_key) index. */
  vrf_id: number;
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

export type NewSubnetRow = Omit<SubnetRow, 'id' | 'agent_id'> & { agent_id?: number | null };
/** What lookups by address need of a subnet: far cheaper to read than the whole row. */
/** The columns an address insert writes (insertAddresses). */
const ADDRESS_INSERT_COLUMNS = [
  'vrf_id',
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
] as const;

export type SubnetRef = Pick<
  SubnetRow,
  'id' | 'vrf_id' | 'cidr' | 'gateway' | 'family' | 'prefix_length' | 'first_key'
>;
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
  'agent_id',
] as const;
const ADDRESS_MUTABLE = ['state', 'hostname', 'mac', 'description', 'owner', 'tags', 'source'] as const;
const RANGE_MUTABLE = ['label', 'color', 'purpose', 'description', 'auto_allocate', 'mark_utilized'] as const;
const VRF_MUTABLE = ['name', 'rd', 'description'] as const;

export class IpamStore {
  private readonly exec: SqlExec;
  /**
   * All subnets, cached between subnet writes: they change rarely and are read by every scrape
   * and address listing. Reads inside a transaction bypass the cache (they may see uncommitted
   * rows that a rollback takes back). SQLite: every subnet write marks its id (patched at the next
   * read). PostgreSQL: checked against the subnet version row (one primary-key read) before use,
   * reloaded when another replica (or this one) changed a subnet since.
   */
  private readonly subnetCache: SubnetCache<SubnetRow>;
  /**
   * What every IpamStore over one Store shares (the subnet cache, its generation, the listeners
   * below), so several services on one store (tests, a CLI) see each other's writes.
   */
  private readonly shared: SharedState;
  /**
   * Told of every insert or delete of an address, range or subnet, with the key span it touches
   * (a single key for an address), for caches derived from which addresses exist where (the
   * subnet layout cache). Any new statement that inserts or deletes such rows must call
   * spaceChanged too. Called inside the writing transaction: a rollback makes it a harmless
   * false alarm.
   */
  private readonly spaceListeners: ((first: Buffer, last: Buffer) => void)[];

  constructor(readonly store: Store) {
    this.exec = store.exec;
    let shared = SHARED.get(store);
    if (!shared) {
      const exec = store.exec;
      shared = {
        generation: 0,
        listeners: [],
        cache: new SubnetCache<SubnetRow>(
          {
            all: () => exec.all<SubnetRow>('SELECT * FROM subnets ORDER BY first_key, prefix_length, id'),
            byId: (id) => exec.get<SubnetRow>('SELECT * FROM subnets WHERE id = ?', [id]),
          },
          store.dialect === 'postgres' ? () => this.dataVersion() : undefined,
        ),
      };
      SHARED.set(store, shared);
    }
    this.shared = shared;
    this.subnetCache = shared.cache;
    this.spaceListeners = shared.listeners;
  }

  /** Bumped with every subnet write; lets callers cache what they derive from allSubnets(). */
  get subnetGeneration(): number {
    return this.shared.generation;
  }

  get dialect(): SqlDialect {
    return this.exec.dialect;
  }

  // --- VRFs
  vrf(id: number): Promise<VrfRow | undefined> {
    return this.exec.get<VrfRow>('SELECT * FROM vrfs WHERE id = ?', [id]);
  }
  vrfByName(name: string): Promise<VrfRow | undefined> {
    return this.exec.get<VrfRow>('SELECT * FROM vrfs WHERE name = ?', [name]);
  }
  /** Every VRF by id (a handful: bounded by the subnets, never one per address). */
  allVrfs(): Promise<VrfRow[]> {
    return this.exec.all<VrfRow>('SELECT * FROM vrfs ORDER BY id');
  }
  async listVrfs(limit: number, offset: number): Promise<{ count: number; rows: VrfRow[] }> {
    const count = (await this.exec.get<{ n: number }>('SELECT count(*) AS n FROM vrfs'))!.n;
    const rows = await this.exec.all<VrfRow>('SELECT * FROM vrfs ORDER BY id LIMIT ? OFFSET ?', [limit, offset]);
    return { count, rows };
  }
  async insertVrf(row: Omit<VrfRow, 'id'>): Promise<number> {
    return (await this.exec.get<{ id: number }>(
      `INSERT INTO vrfs (name, rd, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
      [row.name, row.rd, row.description, row.created_at, row.updated_at],
    ))!.id;
  }
  /**
   * The VRF with this name, created when there is none (concurrent callers on several replicas
   * get the same row: the insert that loses the race inserts nothing).
   */
  async ensureVrf(name: string, description: string, now: string): Promise<VrfRow> {
    await this.exec.run(
      `INSERT INTO vrfs (name, rd, description, created_at, updated_at) VALUES (?, NULL, ?, ?, ?)
      ON CONFLICT (name) DO NOTHING`,
      [name, description, now, now],
    );
    return (await this.vrfByName(name))!;
  }
  async updateVrf(
    id: number,
    changes: Partial<Pick<VrfRow, (typeof VRF_MUTABLE)[number]>>,
    now: string,
  ): Promise<void> {
    await this.update('vrfs', VRF_MUTABLE, id, changes, now);
  }
  async deleteVrf(id: number): Promise<void> {
    await this.exec.run('DELETE FROM vrfs WHERE id = ?', [id]);
  }
  /** Subnets in a VRF (0 when it holds none: then it may be deleted). */
  async subnetCountIn(vrf: number): Promise<number> {
    return (await this.exec.get<{ n: number }>('SELECT count(*) AS n FROM subnets WHERE vrf_id = ?', [vrf]))!.n;
  }

  // --- subnets
  subnet(id: number): Promise<SubnetRow | undefined> {
    return this.exec.get<SubnetRow>('SELECT * FROM subnets WHERE id = ?', [id]);
  }
  subnetByCidr(vrf: number, cidr: string): Promise<SubnetRow | undefined> {
    return this.exec.get<SubnetRow>('SELECT * FROM subnets WHERE vrf_id = ? AND cidr = ?', [vrf, cidr]);
  }
  allSubnets(): Promise<readonly SubnetRow[]> {
    return this.subnetCache.all(this.store.inTransaction);
  }
  /** The cached subnets as last read, without reading (see SubnetCache.peek). */
  cachedSubnets(): { index: LiveSubnetIndex; row: (id: number) => SubnetRow | undefined } {
    return this.subnetCache.peek();
  }
  /** Most-specific-subnet lookup over every subnet, kept up to date (outside transactions). */
  subnetLookup(): Promise<LiveSubnetIndex> {
    return this.subnetCache.liveIndex();
  }

  /**
   * Locks a subnet row until the end of the caller's write transaction (PostgreSQL: `SELECT … FOR
   * UPDATE`, so allocations, range edits and imports into one subnet on several replicas take
   * turns and re-check what they read under the lock). SQLite: writes are serial already; nothing.
   * Returns whether the subnet exists.
   */
  async lockSubnet(id: number): Promise<boolean> {
    if (this.exec.dialect !== 'postgres') return true;
    return (await this.exec.get('SELECT id FROM subnets WHERE id = ? FOR UPDATE', [id])) !== undefined;
  }

  /**
   * lockSubnet and subnet in one statement (PostgreSQL: the row read under its lock, one round
   * trip instead of three with a read before and after). SQLite: the row.
   */
  lockedSubnet(id: number): Promise<SubnetRow | undefined> {
    return this.exec.dialect === 'postgres'
      ? this.exec.get<SubnetRow>('SELECT * FROM subnets WHERE id = ? FOR UPDATE', [id])
      : this.subnet(id);
  }

  private async subnetsChanged(id: number): Promise<void> {
    this.subnetCache.mark(id);
    this.shared.generation += 1;
    if (this.exec.dialect === 'postgres') {
      // The version row, in the writing transaction: other replicas see it with the subnet write.
      await this.exec.run(
        `INSERT INTO meta (key, value) VALUES (?, '1')
        ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS bigint) + 1 AS text)`,
        [SUBNETS_VERSION],
      );
    }
  }

  /** Subscribes to inserts and deletes of addresses, ranges and subnets (see spaceListeners). */
  onSpaceChange(listener: (first: Buffer, last: Buffer) => void): void {
    this.spaceListeners.push(listener);
  }

  private spaceChanged(first: Buffer, last: Buffer = first): void {
    for (const l of this.spaceListeners) l(first, last);
  }
  /** The most specific subnet holding `ip`: one index probe per prefix length in use, longest first. */
  async mostSpecificRef(vrf: number, ip: IP): Promise<SubnetRef | undefined> {
    for (const length of await this.lengthsOf(ip.family)) {
      const ref = await this.probe(vrf, ip.family, ip.value, length);
      if (ref) return ref;
    }
    return undefined;
  }
  /** mostSpecificRef as a full row. */
  async mostSpecificSubnet(vrf: number, ip: IP): Promise<SubnetRow | undefined> {
    const ref = await this.mostSpecificRef(vrf, ip);
    return ref && this.subnet(ref.id);
  }
  /** Subnets strictly inside [first,last], other than `exceptId`. */
  subnetsInside(vrf: number, first: Buffer, last: Buffer, exceptId: number): Promise<SubnetRow[]> {
    // Bounded on first_key on both sides: an index range, not every subnet after `first`.
    return this.exec.all<SubnetRow>(
      `SELECT * FROM subnets WHERE vrf_id = ? AND first_key BETWEEN ? AND ? AND last_key <= ? AND id != ?
      ORDER BY first_key`,
      [vrf, first, last, last, exceptId],
    );
  }
  /**
   * Subnets that contain [first,last] (the subnet itself included), most specific first. Subnets
   * nest and never partially overlap, so these are the prefixes of `first` at each length in use
   * that reach `last`: a few index probes, whatever the number of subnets.
   */
  async subnetsCovering(vrf: number, first: Buffer, last: Buffer): Promise<SubnetRef[]> {
    const lo = ipFromKey(first);
    const hi = ipFromKey(last).value;
    const out: SubnetRef[] = [];
    for (const length of await this.lengthsOf(lo.family)) {
      if ((lo.value | (~netmask(lo.family, length) & MAX[lo.family])) < hi) continue;
      const ref = await this.probe(vrf, lo.family, lo.value, length);
      if (ref) out.push(ref);
    }
    return out;
  }

  private async probe(vrf: number, family: Family, value: bigint, length: number): Promise<SubnetRef | undefined> {
    const firstKey = ipKey({ family, value: value & netmask(family, length) });
    // One probe of the (first_key, prefix_length) index; only what the hot paths need (a full
    // row, two blobs and a dozen columns, costs several times more).
    const hit = await this.exec.get<Pick<SubnetRow, 'id' | 'cidr' | 'gateway'>>(
      'SELECT id, cidr, gateway FROM subnets WHERE vrf_id = ? AND first_key = ? AND prefix_length = ?',
      [vrf, firstKey, length],
    );
    return hit && { ...hit, vrf_id: vrf, family, prefix_length: length, first_key: firstKey };
  }

  /**
   * Prefix lengths that subnets use, per family, longest first. Kept per store and only ever
   * grown while the process runs (a length whose last subnet went stays until a restart; one
   * probe more), so a rollback can never hide a subnet from a probe. Re-read, merged, when
   * another connection or replica has committed since (dataVersion).
   */
  private async lengthsOf(family: Family): Promise<readonly number[]> {
    const version = await this.dataVersion();
    let known = LENGTHS.get(this.store);
    if (!known || known.version !== version) {
      const rows = await this.exec.all<{ family: Family; prefix_length: number }>(
        'SELECT DISTINCT family, prefix_length FROM subnets',
      );
      known = LENGTHS.get(this.store); // another caller may have merged meanwhile
      const merged = { 4: new Set(known?.lengths[4]), 6: new Set(known?.lengths[6]) };
      for (const r of rows) merged[r.family].add(r.prefix_length);
      known = {
        version,
        lengths: { 4: [...merged[4]].sort((a, b) => b - a), 6: [...merged[6]].sort((a, b) => b - a) },
      };
      LENGTHS.set(this.store, known);
    }
    return known.lengths[family];
  }

  private lengthInUse(family: Family, length: number): void {
    const known = LENGTHS.get(this.store);
    if (!known) return; // read in full at the first lookup
    if (!known.lengths[family].includes(length)) {
      known.lengths[family] = [...known.lengths[family], length].sort((a, b) => b - a);
    }
  }
  async insertSubnet(row: NewSubnetRow): Promise<number> {
    this.lengthInUse(row.family, row.prefix_length);
    this.spaceChanged(row.first_key, row.last_key);
    const { id } = (await this.exec.get<{ id: number }>(
      `INSERT INTO subnets (vrf_id, cidr, family, prefix_length, first_key, last_key, name, description,
      vlan, gateway, tags, scan_enabled, scan_interval_seconds, created_at, updated_at, agent_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [
        row.vrf_id,
        row.cidr,
        row.family,
        row.prefix_length,
        row.first_key,
        row.last_key,
        row.name,
        row.description,
        row.vlan,
        row.gateway,
        row.tags,
        row.scan_enabled,
        row.scan_interval_seconds,
        row.created_at,
        row.updated_at,
        row.agent_id ?? null,
      ],
    ))!;
    await this.subnetsChanged(id);
    return id;
  }
  async updateSubnet(
    id: number,
    changes: Partial<Pick<SubnetRow, (typeof SUBNET_MUTABLE)[number]>>,
    now: string,
  ): Promise<void> {
    if (await this.update('subnets', SUBNET_MUTABLE, id, changes, now)) await this.subnetsChanged(id);
  }
  /** An agent a subnet may be assigned to (#15): its revocation time, or undefined when there is no such agent. */
  agentFor(id: number): Promise<{ revoked_at: number | null } | undefined> {
    return this.exec.get('SELECT revoked_at FROM agents WHERE id = ?', [id]);
  }
  async deleteSubnet(id: number): Promise<void> {
    const row = await this.subnet(id);
    if (row) this.spaceChanged(row.first_key, row.last_key);
    await this.exec.run('DELETE FROM subnets WHERE id = ?', [id]);
    await this.subnetsChanged(id);
  }

  // --- addresses
  address(id: number): Promise<AddressRow | undefined> {
    return this.exec.get<AddressRow>('SELECT * FROM addresses WHERE id = ?', [id]);
  }
  /**
   * The address rows at these keys, by the key's hex: one query per 512 keys (padded, so a
   * handful of statement texts are prepared).
   */
  async addressesAt(vrf: number, keys: readonly Buffer[]): Promise<Map<string, AddressRow>> {
    const out = new Map<string, AddressRow>();
    for (const chunk of paddedChunks(keys, 512)) {
      // The redundant BETWEEN bounds the scan: without it PostgreSQL's generic plan walked every
      // address of the VRF (1.2 s per call in a 100,000-row import) instead of the (vrf_id, ip_key) range.
      const rows = await this.exec.all<AddressRow>(
        `SELECT * FROM addresses WHERE vrf_id = ? AND ip_key IN (${chunk.map(() => '?').join(', ')}) AND ip_key BETWEEN ? AND ?`,
        [vrf, ...chunk, minKey(chunk), maxKey(chunk)],
      );
      for (const r of rows) out.set(Buffer.from(r.ip_key).toString('hex'), r);
    }
    return out;
  }
  addressAt(vrf: number, ip: IP): Promise<AddressRow | undefined> {
    return this.exec.get<AddressRow>('SELECT * FROM addresses WHERE vrf_id = ? AND ip_key = ?', [vrf, ipKey(ip)]);
  }
  addressesBetween(vrf: number, first: Buffer, last: Buffer): Promise<AddressRow[]> {
    return this.exec.all<AddressRow>(
      'SELECT * FROM addresses WHERE vrf_id = ? AND ip_key BETWEEN ? AND ? ORDER BY ip_key',
      [vrf, first, last],
    );
  }
  async countBetween(vrf: number, first: Buffer, last: Buffer): Promise<number> {
    return (await this.exec.get<{ n: number }>(
      'SELECT count(*) AS n FROM addresses WHERE vrf_id = ? AND ip_key BETWEEN ? AND ?',
      [vrf, first, last],
    ))!.n;
  }
  /** Known addresses in [first,last] by state (states with none are left out). */
  async countBetweenByState(vrf: number, first: Buffer, last: Buffer): Promise<{ state: string; n: number }[]> {
    // One index range count per state on addresses(state, ip_key): far cheaper than grouping
    // every address row of a large subnet.
    const row = await this.exec.get<Record<string, number>>(
      `SELECT ${ADDRESS_STATES.map(
        (_, i) => `(SELECT count(*) FROM addresses WHERE vrf_id = ? AND state = ? AND ip_key BETWEEN ? AND ?) AS c${i}`,
      ).join(', ')}`,
      ADDRESS_STATES.flatMap((state) => [vrf, state, first, last]),
    );
    return statesWithCounts(ADDRESS_STATES.map((_, i) => row![`c${i}`]!));
  }
  async insertAddress(row: NewAddressRow): Promise<number> {
    return (await this.insertAddresses([row]))[0]!;
  }

  /**
   * Inserts addresses none of which is recorded yet (a duplicate fails on the UNIQUE key) and
   * returns their ids in order. The runs index is updated once per stretch of consecutive
   * addresses, and listeners are told once for the whole span, instead of once per address.
   */
  async insertAddresses(rows: readonly NewAddressRow[]): Promise<number[]> {
    if (rows.length === 0) return [];
    const ips = rows.map((row) => ipFromKey(row.ip_key));
    const inserted = await insertRows<{ id: number; vrf_id: number; ip_key: Buffer }>(
      this.exec,
      'addresses',
      ADDRESS_INSERT_COLUMNS,
      rows.map((row, i) => [
        row.vrf_id,
        row.ip_key,
        BigInt.asIntN(64, ips[i]!.value),
        row.address,
        row.family,
        row.state,
        row.hostname,
        row.mac,
        row.description,
        row.owner,
        row.tags,
        row.source,
        row.created_at,
        row.updated_at,
      ]),
      { returning: 'id, vrf_id, ip_key' },
    );
    const keyOf = (vrf: number, key: Buffer) => `${vrf}/${Buffer.from(key).toString('hex')}`;
    const idOf = new Map(inserted.map((r) => [keyOf(r.vrf_id, r.ip_key), r.id]));
    const ids = rows.map((row) => idOf.get(keyOf(row.vrf_id, row.ip_key))!);
    const sorted = rows
      .map((row, i) => ({ vrf: row.vrf_id, ip: ips[i]! }))
      .sort(
        (a, b) =>
          a.vrf - b.vrf ||
          a.ip.family - b.ip.family ||
          (a.ip.value < b.ip.value ? -1 : a.ip.value > b.ip.value ? 1 : 0),
      );
    // Stretches of consecutive addresses per VRF and family, each group's runs updated at once.
    let group: { vrf: number; family: Family; stretches: Interval[] } | undefined;
    for (const at of sorted) {
      const last = group?.stretches.at(-1);
      if (group && at.vrf === group.vrf && at.ip.family === group.family) {
        if (at.ip.value === last!.last + 1n)
          group.stretches[group.stretches.length - 1] = { first: last!.first, last: at.ip.value };
        else group.stretches.push({ first: at.ip.value, last: at.ip.value });
        continue;
      }
      if (group) await this.occupy(group.vrf, group.family, group.stretches);
      group = { vrf: at.vrf, family: at.ip.family, stretches: [{ first: at.ip.value, last: at.ip.value }] };
    }
    await this.occupy(group!.vrf, group!.family, group!.stretches);
    // One notice for the whole key span (listeners compare keys, whatever the VRF).
    const keys = sorted.map((at) => ipKey(at.ip)).sort(Buffer.compare);
    this.spaceChanged(keys[0]!, keys[keys.length - 1]!);
    return ids;
  }

  /**
   * The values of the addresses in [first,last] in order, without building row objects. IPv4
   * reads the integer column (exact in a number); IPv6 the keys (the low 64 bits would not fit).
   */
  async valuesBetween(vrf: number, first: IP, last: IP): Promise<bigint[]> {
    return this.values(vrf, first, last, undefined);
  }

  /**
   * At most `limit` address values in [first,last], in order: one chunk of valuesBetween, for
   * callers that read a large span a chunk at a time (the next chunk starts after the last value).
   */
  async valuesPage(vrf: number, first: IP, last: IP, limit: number): Promise<bigint[]> {
    return this.values(vrf, first, last, limit);
  }

  private async values(vrf: number, first: IP, last: IP, limit: number | undefined): Promise<bigint[]> {
    const lo = ipKey(first);
    const hi = ipKey(last);
    const page = limit === undefined ? '' : ' LIMIT ?';
    const args = limit === undefined ? [vrf, lo, hi] : [vrf, lo, hi, limit];
    if (first.family === 6) {
      const rows = await this.exec.all<{ ip_key: Buffer }>(
        `SELECT ip_key FROM addresses WHERE vrf_id = ? AND ip_key BETWEEN ? AND ? ORDER BY ip_key${page}`,
        args,
      );
      return rows.map((r) => ipFromKey(r.ip_key).value);
    }
    const rows = await this.exec.all<{ ip_low: number }>(
      `SELECT ip_low FROM addresses WHERE vrf_id = ? AND ip_key BETWEEN ? AND ? ORDER BY ip_key${page}`,
      args,
    );
    return rows.map((r) => BigInt(r.ip_low));
  }

  /**
   * Keyset page of address rows in key order: up to `limit` rows in [first,last] after the key
   * `after` (from `first` itself when there is none).
   */
  addressesPage(
    vrf: number,
    first: Buffer,
    last: Buffer,
    after: Buffer | undefined,
    limit: number,
  ): Promise<AddressRow[]> {
    return after
      ? this.exec.all<AddressRow>(
          'SELECT * FROM addresses WHERE vrf_id = ? AND ip_key > ? AND ip_key <= ? ORDER BY ip_key LIMIT ?',
          [vrf, after, last, limit],
        )
      : this.exec.all<AddressRow>(
          'SELECT * FROM addresses WHERE vrf_id = ? AND ip_key >= ? AND ip_key <= ? ORDER BY ip_key LIMIT ?',
          [vrf, first, last, limit],
        );
  }

  /**
   * Keyset page of raw address rows (arrays of the given columns, in that order) for bulk
   * readers such as the CSV export: rows in [first,last] with a key above `after` (from `first`
   * when there is none).
   */
  async addressColumnsPage(
    vrf: number,
    columns: readonly string[],
    first: Buffer,
    last: Buffer,
    after: Buffer | undefined,
    limit: number,
  ): Promise<unknown[][]> {
    const unknown = columns.filter((c) => !ADDRESS_COLUMNS.has(c));
    if (unknown.length > 0) throw new Error(`not address columns: ${unknown.join(', ')}`);
    const list = columns.join(', ');
    const rows = await this.exec.all<Record<string, unknown>>(
      `SELECT ${list} FROM addresses WHERE vrf_id = ? AND ip_key ${after ? '>' : '>='} ? AND ip_key <= ?
      ORDER BY ip_key LIMIT ?`,
      [vrf, after ?? first, last, limit],
    );
    return rows.map((r) => columns.map((c) => r[c]));
  }

  /** Known addresses by state for every subnet at once (one statement, for /metrics). */
  async countsBySubnetAndState(): Promise<{ subnet_id: number; state: string; n: number }[]> {
    const rows = await this.exec.all<Record<string, number>>(
      `SELECT s.id AS id, ${ADDRESS_STATES.map(
        (_, i) => `(SELECT count(*) FROM addresses a
        WHERE a.vrf_id = s.vrf_id AND a.state = ? AND a.ip_key BETWEEN s.first_key AND s.last_key) AS c${i}`,
      ).join(', ')} FROM subnets s`,
      ADDRESS_STATES,
    );
    return rows.flatMap((r) =>
      statesWithCounts(ADDRESS_STATES.map((_, i) => r[`c${i}`]!)).map((c) => ({ subnet_id: r.id!, ...c })),
    );
  }

  /** `FROM <the ids> j JOIN subnets s ON s.id = j.value`, and its parameter, per dialect. */
  private idsJoin(ids: readonly number[]): { from: string; param: unknown } {
    return this.exec.dialect === 'postgres'
      ? { from: 'unnest(CAST(? AS bigint[])) AS j(value) JOIN subnets s ON s.id = j.value', param: [...ids] }
      : { from: 'json_each(?) j CROSS JOIN subnets s ON s.id = j.value', param: JSON.stringify(ids) };
  }

  /**
   * Per subnet id: [id, its first address recorded (0/1), its last address recorded (0/1), count
   * per state in ADDRESS_STATES order over its whole prefix].
   */
  async subnetCountsByState(ids: readonly number[]): Promise<[number, number, number, ...number[]][]> {
    const { from, param } = this.idsJoin(ids);
    const rows = await this.exec.all<Record<string, number>>(
      `SELECT s.id AS id, ${EDGE_FLAGS}, ${ADDRESS_STATES.map(
        (_, i) => `(SELECT count(*) FROM addresses a
        WHERE a.vrf_id = s.vrf_id AND a.state = ? AND a.ip_key BETWEEN s.first_key AND s.last_key) AS c${i}`,
      ).join(', ')}
      FROM ${from}`,
      [...ADDRESS_STATES, param],
    );
    return rows.map((r) => [r.id!, r.on_first!, r.on_last!, ...ADDRESS_STATES.map((_, i) => r[`c${i}`]!)]);
  }
  /** Per subnet id: [id, addresses in its prefix, first address recorded (0/1), last address recorded (0/1)]. */
  async subnetRankCounts(ids: readonly number[]): Promise<[number, number, number, number][]> {
    const { from, param } = this.idsJoin(ids);
    const rows = await this.exec.all<Record<string, number>>(
      `SELECT s.id AS id, (SELECT count(*) FROM addresses a
      WHERE a.vrf_id = s.vrf_id AND a.ip_key BETWEEN s.first_key AND s.last_key) AS n,
      ${EDGE_FLAGS} FROM ${from}`,
      [param],
    );
    return rows.map((r) => [r.id!, r.n!, r.on_first!, r.on_last!]);
  }
  /** Ranges in id order after `after`, at most `limit`. */
  rangesAfter(after: number, limit: number): Promise<RangeRow[]> {
    return this.exec.all<RangeRow>('SELECT * FROM ranges WHERE id > ? ORDER BY id LIMIT ?', [after, limit]);
  }
  /**
   * Changes when another writer committed. SQLite: PRAGMA data_version (another connection to
   * the file). PostgreSQL: the subnet version row (any replica's subnet write, this one's too).
   */
  async dataVersion(): Promise<unknown> {
    if (this.exec.dialect === 'postgres') {
      return (await this.exec.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', [SUBNETS_VERSION]))?.value;
    }
    return (await this.exec.get<{ data_version: number }>('PRAGMA data_version'))!.data_version;
  }

  /**
   * Changes whenever a committed write may have changed which addresses exist or their state
   * (what counts of addresses by key span and state depend on), on any replica or connection;
   * read in the database, so a reader that cached counts under the value it read before them
   * recounts once anything committed since. PostgreSQL: the transaction ids (`xmin`) of the
   * address_totals rows — every insert, delete and change of state or source updates one of them
   * in the writing transaction (the deferred triggers), and an updated row carries its writer's
   * id, so even writes that leave the totals equal change it. SQLite: its data_version (commits
   * of other connections) and this connection's total_changes() — any row written, a coarser
   * but safe sign (a rolled-back write is a false alarm).
   */
  async addressCountsVersion(): Promise<string> {
    return (
      (await this.exec.get<{ v: string | null }>(
        this.exec.dialect === 'postgres'
          ? "SELECT string_agg(xmin::text, ',' ORDER BY state, source) AS v FROM address_totals"
          : "SELECT (SELECT data_version FROM pragma_data_version) || '/' || total_changes() AS v",
      ))!.v ?? ''
    );
  }

  totalsByStateAndSource(): Promise<{ state: string; source: string; n: number }[]> {
    return this.exec.all('SELECT state, source, n FROM address_totals');
  }

  allRanges(): Promise<RangeRow[]> {
    return this.exec.all<RangeRow>('SELECT * FROM ranges ORDER BY vrf_id, first_key');
  }

  /**
   * Addresses that sit on a subnet's first or last address (possible when a parent held them
   * before the child was created); those are not usable addresses of that subnet. For one
   * subnet: two key lookups (an "? IS NULL OR" filter would scan every subnet).
   */
  addressesOnEdges(subnetId?: number): Promise<{ subnet_id: number; state: string; edge: 'first' | 'last' }[]> {
    return subnetId === undefined
      ? this.exec.all(`SELECT s.id AS subnet_id, a.state AS state, 'first' AS edge FROM subnets s
        JOIN addresses a ON a.vrf_id = s.vrf_id AND a.ip_key = s.first_key
        UNION ALL SELECT s.id, a.state, 'last' FROM subnets s
        JOIN addresses a ON a.vrf_id = s.vrf_id AND a.ip_key = s.last_key
        WHERE s.last_key != s.first_key`)
      : this.exec.all(
          `SELECT s.id AS subnet_id, a.state AS state, 'first' AS edge FROM subnets s
        JOIN addresses a ON a.vrf_id = s.vrf_id AND a.ip_key = s.first_key WHERE s.id = ?
        UNION ALL SELECT s.id, a.state, 'last' FROM subnets s
        JOIN addresses a ON a.vrf_id = s.vrf_id AND a.ip_key = s.last_key
        WHERE s.id = ? AND s.last_key != s.first_key`,
          [subnetId, subnetId],
        );
  }
  async updateAddress(
    id: number,
    changes: Partial<Pick<AddressRow, (typeof ADDRESS_MUTABLE)[number]>>,
    now: string,
  ): Promise<void> {
    await this.update('addresses', ADDRESS_MUTABLE, id, changes, now);
  }
  async deleteAddress(row: AddressRow): Promise<void> {
    await this.exec.run('DELETE FROM addresses WHERE id = ?', [row.id]);
    await this.release(row.vrf_id, ipFromKey(row.ip_key));
    this.spaceChanged(row.ip_key);
  }

  /** Filtered, paged address listing. Filters are values only; column names are fixed here. */
  async listAddresses(
    filter: AddressFilter,
    limit: number,
    offset: number,
  ): Promise<{ count: number; rows: AddressRow[] }> {
    const { where, args } = this.filterWhere(filter);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = (await this.exec.get<{ n: number }>(`SELECT count(*) AS n FROM addresses ${clause}`, args))!.n;
    // Keyset: `after` narrows the rows, not the count (which stays the number of all matches).
    // The order is VRF, then address.
    const page = filter.after
      ? `${clause ? `${clause} AND` : 'WHERE'} (vrf_id > ? OR (vrf_id = ? AND ip_key > ?))`
      : clause;
    const rows = await this.exec.all<AddressRow>(
      `SELECT * FROM addresses ${page} ORDER BY vrf_id, ip_key LIMIT ? OFFSET ?`,
      [...args, ...(filter.after ? [filter.after.vrf, filter.after.vrf, filter.after.key] : []), limit, offset],
    );
    return { count, rows };
  }

  // --- chunked scans: a filter no index serves (q, tag, source) read a key span at a time
  /**
   * The key of the `n`-th address from `lo` on (up to `hi`), or undefined when fewer are left:
   * where a scan chunk of n rows ends (one walk of n index entries).
   */
  async addressKeyAt(vrf: number, lo: KeyBound, hi: Buffer, n: number): Promise<Buffer | undefined> {
    const row = await this.exec.get<{ ip_key: Buffer }>(
      `SELECT ip_key FROM addresses WHERE vrf_id = ? AND ip_key ${lo.inclusive ? '>=' : '>'} ? AND ip_key <= ?
      ORDER BY ip_key LIMIT 1 OFFSET ?`,
      [vrf, lo.key, hi, n - 1],
    );
    return row?.ip_key;
  }

  /** Addresses matching `filter` (between/after aside) with keys from `lo` to `hi`: how many, and a page of them. */
  async addressesIn(
    vrf: number,
    filter: AddressFilter,
    lo: KeyBound,
    hi: Buffer,
    page?: { limit: number; offset: number },
  ): Promise<{ count: number; rows: AddressRow[] }> {
    const { where, args } = this.filterWhere({ ...filter, vrf: undefined, between: undefined, after: undefined });
    where.unshift(`vrf_id = ? AND ip_key ${lo.inclusive ? '>=' : '>'} ? AND ip_key <= ?`);
    args.unshift(vrf, lo.key, hi);
    const clause = `WHERE ${where.join(' AND ')}`;
    const count = (await this.exec.get<{ n: number }>(`SELECT count(*) AS n FROM addresses ${clause}`, args))!.n;
    const rows =
      !page || count <= page.offset
        ? []
        : await this.exec.all<AddressRow>(`SELECT * FROM addresses ${clause} ORDER BY ip_key LIMIT ? OFFSET ?`, [
            ...args,
            page.limit,
            page.offset,
          ]);
    return { count, rows };
  }

  // --- runs of consecutive used addresses
  /** The run of used addresses containing `at`, if any. */
  async runContaining(vrf: number, at: IP): Promise<Interval | undefined> {
    const run = await this.exec.get<{ first_key: Buffer; last_key: Buffer }>(
      `SELECT first_key, last_key FROM address_runs WHERE vrf_id = ? AND first_key <= ?
      ORDER BY first_key DESC LIMIT 1`,
      [vrf, ipKey(at)],
    );
    if (!run) return undefined;
    const first = ipFromKey(run.first_key);
    const last = ipFromKey(run.last_key);
    if (first.family !== at.family || last.value < at.value) return undefined;
    return { first: first.value, last: last.value };
  }

  /** runContaining and nextRunStart of `at` in one statement (one round trip on PostgreSQL). */
  async runAround(vrf: number, at: IP): Promise<{ run: Interval | undefined; next: bigint | undefined }> {
    const key = ipKey(at);
    const rows = await this.exec.all<{ first_key: Buffer; last_key: Buffer }>(
      `SELECT first_key, last_key FROM (SELECT first_key, last_key FROM address_runs WHERE vrf_id = ? AND first_key <= ?
      ORDER BY first_key DESC LIMIT 1) b UNION ALL SELECT first_key, last_key FROM (SELECT first_key, last_key
      FROM address_runs WHERE vrf_id = ? AND first_key > ? ORDER BY first_key LIMIT 1) a`,
      [vrf, key, vrf, key],
    );
    return runsAround(rows, at, key);
  }

  /**
   * What an allocation's plan reads besides later run lookups, in one statement (one round trip
   * on PostgreSQL, where a plan runs under its subnet's lock): the gateways of the subnets covering
   * [first,last] (itself included), the ranges reaching into it, the subnets inside it but
   * `subnetId`, and runAround(`at`). Covering subnets are found without the prefix-length cache:
   * their first key can only be `first` masked to some length, so those keys are the IN list.
   */
  async allocationSurroundings(
    vrf: number,
    subnetId: number,
    first: Buffer,
    last: Buffer,
    at: IP,
  ): Promise<{
    gateways: string[];
    ranges: Pick<RangeRow, 'id' | 'first_key' | 'last_key' | 'auto_allocate'>[];
    children: Interval[];
    around: { run: Interval | undefined; next: bigint | undefined };
  }> {
    const lo = ipFromKey(first);
    const hi = ipFromKey(last).value;
    const networks = new Map<string, Buffer>();
    for (let length = 0; length <= BITS[lo.family]; length++) {
      const mask = netmask(lo.family, length);
      if ((lo.value | (~mask & MAX[lo.family])) < hi) break; // longer prefixes reach even less far
      const key = ipKey({ family: lo.family, value: lo.value & mask });
      networks.set(key.toString('hex'), key);
    }
    const covering = [...networks.values()];
    const atKey = ipKey(at);
    const rows = await this.exec.all<{
      kind: 'cover' | 'range' | 'child' | 'run';
      id: number;
      first_key: Buffer | null;
      last_key: Buffer | null;
      auto_allocate: number;
      gateway: string | null;
    }>(
      `SELECT 'range' AS kind, id, first_key, last_key, auto_allocate, NULL AS gateway FROM ranges
        WHERE vrf_id = ? AND first_key BETWEEN coalesce((SELECT first_key FROM ranges WHERE vrf_id = ? AND first_key < ?
        ORDER BY first_key DESC LIMIT 1), ?) AND ? AND last_key >= ?
      UNION ALL SELECT 'cover', id, NULL, NULL, 0, gateway FROM subnets
        WHERE vrf_id = ? AND first_key IN (${covering.map(() => '?').join(', ')}) AND last_key >= ?
      UNION ALL SELECT 'child', id, first_key, last_key, 0, NULL FROM subnets
        WHERE vrf_id = ? AND first_key BETWEEN ? AND ? AND last_key <= ? AND id != ?
      UNION ALL SELECT 'run', 0, first_key, last_key, 0, NULL FROM (SELECT first_key, last_key FROM address_runs
        WHERE vrf_id = ? AND first_key <= ? ORDER BY first_key DESC LIMIT 1) b
      UNION ALL SELECT 'run', 0, first_key, last_key, 0, NULL FROM (SELECT first_key, last_key FROM address_runs
        WHERE vrf_id = ? AND first_key > ? ORDER BY first_key LIMIT 1) a`,
      [
        ...[vrf, vrf, first, first, last, first],
        ...[vrf, ...covering, last],
        ...[vrf, first, last, last, subnetId],
        ...[vrf, atKey, vrf, atKey],
      ],
    );
    const keys = (r: (typeof rows)[number]) => ({ first_key: r.first_key!, last_key: r.last_key! });
    return {
      gateways: rows.flatMap((r) => (r.kind === 'cover' && r.gateway ? [r.gateway] : [])),
      ranges: rows
        .filter((r) => r.kind === 'range')
        .map((r) => ({ id: r.id, auto_allocate: r.auto_allocate, ...keys(r) })),
      children: rows
        .filter((r) => r.kind === 'child')
        .map((r) => ({ first: ipFromKey(r.first_key!).value, last: ipFromKey(r.last_key!).value })),
      around: runsAround(rows.filter((r) => r.kind === 'run').map(keys), at, atKey),
    };
  }

  /** Where the first run of used addresses after `at` (same family) starts, if any. */
  async nextRunStart(vrf: number, at: IP): Promise<bigint | undefined> {
    const key = (
      await this.exec.get<{ first_key: Buffer }>(
        'SELECT first_key FROM address_runs WHERE vrf_id = ? AND first_key > ? ORDER BY first_key LIMIT 1',
        [vrf, ipKey(at)],
      )
    )?.first_key;
    if (!key || key[0] !== at.family) return undefined;
    return ipFromKey(key).value;
  }

  /** Marks [first,last] used (none of it was): joins the runs on either side. */
  /**
   * Adds stretches of newly recorded addresses (ascending, none in a run) to the runs index: the
   * runs that may touch them read in one statement per 64 stretches (per stretch, the run at or
   * before the address left of it and the run starting right after it), the merged runs written
   * in two (core/runs.ts). One read and one or two writes per stretch made a batch of scattered
   * addresses (an agent's first report: 1,000 of them) cost ~2,500 statements.
   */
  private async occupy(vrf: number, family: Family, stretches: readonly Interval[]): Promise<void> {
    const keyAt = (value: bigint) => ipKey({ family, value });
    const existing = new Map<string, Interval>();
    for (const chunk of paddedChunks(stretches, 64)) {
      const rows = await this.exec.all<{ first_key: Buffer; last_key: Buffer }>(
        chunk.map((_, k) => NEAR_RUNS.replaceAll('@k', String(k))).join(' UNION ALL '),
        chunk.flatMap((s) => [
          vrf,
          keyAt(s.first > 0n ? s.first - 1n : s.first),
          vrf,
          keyAt(s.last < MAX[family] ? s.last + 1n : s.last),
        ]),
      );
      for (const r of rows) {
        // The run at or before may be of the other family (keys start with the family).
        if (r.first_key[0] !== family) continue;
        existing.set(Buffer.from(r.first_key).toString('hex'), {
          first: ipFromKey(r.first_key).value,
          last: ipFromKey(r.last_key).value,
        });
      }
    }
    const { remove, write } = addToRuns([...existing.values()], stretches);
    for (let i = 0; i < remove.length; i += 256) {
      const chunk = remove.slice(i, i + 256);
      await this.exec.run(
        `DELETE FROM address_runs WHERE vrf_id = ? AND first_key IN (${chunk.map(() => '?').join(', ')})`,
        [vrf, ...chunk.map(keyAt)],
      );
    }
    await insertRows(
      this.exec,
      'address_runs',
      ['vrf_id', 'first_key', 'last_key'],
      write.map((r) => [vrf, keyAt(r.first), keyAt(r.last)]),
      { onConflict: 'ON CONFLICT (vrf_id, first_key) DO UPDATE SET last_key = excluded.last_key' },
    );
  }

  private async release(vrf: number, ip: IP): Promise<void> {
    const run = await this.runContaining(vrf, ip);
    if (!run) return;
    const firstKey = ipKey({ family: ip.family, value: run.first });
    if (run.first === ip.value) await this.exec.run(DELETE_RUN, [vrf, firstKey]);
    else await this.exec.run(SET_RUN_LAST, [ipKey({ family: ip.family, value: ip.value - 1n }), vrf, firstKey]);
    if (run.last > ip.value) {
      await this.exec.run(INSERT_RUN, [
        vrf,
        ipKey({ family: ip.family, value: ip.value + 1n }),
        ipKey({ family: ip.family, value: run.last }),
      ]);
    }
  }

  // --- ranges
  range(id: number): Promise<RangeRow | undefined> {
    return this.exec.get<RangeRow>('SELECT * FROM ranges WHERE id = ?', [id]);
  }
  rangesInside(vrf: number, first: Buffer, last: Buffer): Promise<RangeRow[]> {
    return this.exec.all<RangeRow>(
      'SELECT * FROM ranges WHERE vrf_id = ? AND first_key BETWEEN ? AND ? AND last_key <= ? ORDER BY first_key',
      [vrf, first, last, last],
    );
  }
  /**
   * Ranges never overlap each other (createRange refuses it), so sorted by first_key they are
   * sorted by last_key too: only the last range starting before `first` can reach into
   * [first,last] from the left. Two index ranges instead of every range before `last` (no
   * max() of a blob: PostgreSQL has none for bytea).
   */
  rangesOverlapping(vrf: number, first: Buffer, last: Buffer): Promise<RangeRow[]> {
    return this.exec.all<RangeRow>(
      `SELECT * FROM ranges WHERE vrf_id = ? AND first_key BETWEEN coalesce((SELECT first_key FROM ranges
      WHERE vrf_id = ? AND first_key < ? ORDER BY first_key DESC LIMIT 1), ?) AND ? AND last_key >= ?
      ORDER BY first_key`,
      [vrf, vrf, first, first, last, first],
    );
  }
  async insertRange(row: NewRangeRow): Promise<number> {
    this.spaceChanged(row.first_key, row.last_key);
    return (await this.exec.get<{ id: number }>(
      `INSERT INTO ranges (subnet_id, vrf_id, start_address, end_address, first_key, last_key, label,
      color, purpose, description, auto_allocate, mark_utilized, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [
        row.subnet_id,
        row.vrf_id,
        row.start_address,
        row.end_address,
        row.first_key,
        row.last_key,
        row.label,
        row.color,
        row.purpose,
        row.description,
        row.auto_allocate,
        row.mark_utilized,
        row.created_at,
        row.updated_at,
      ],
    ))!.id;
  }
  async updateRange(
    id: number,
    changes: Partial<Pick<RangeRow, (typeof RANGE_MUTABLE)[number]>>,
    now: string,
  ): Promise<void> {
    await this.update('ranges', RANGE_MUTABLE, id, changes, now);
  }
  async deleteRange(id: number): Promise<void> {
    const row = await this.range(id);
    if (row) this.spaceChanged(row.first_key, row.last_key);
    await this.exec.run('DELETE FROM ranges WHERE id = ?', [id]);
  }
  async listRanges(
    filter: { subnetId?: number | undefined; vrf?: number | undefined },
    limit: number,
    offset: number,
  ): Promise<{ count: number; rows: RangeRow[] }> {
    const where = [
      ...(filter.subnetId === undefined ? [] : ['subnet_id = ?']),
      ...(filter.vrf === undefined ? [] : ['vrf_id = ?']),
    ];
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const args = [filter.subnetId, filter.vrf].filter((v) => v !== undefined);
    const count = (await this.exec.get<{ n: number }>(`SELECT count(*) AS n FROM ranges ${clause}`, args))!.n;
    const rows = await this.exec.all<RangeRow>(`SELECT * FROM ranges ${clause} ORDER BY first_key LIMIT ? OFFSET ?`, [
      ...args,
      limit,
      offset,
    ]);
    return { count, rows };
  }

  /** Returns whether the row changed. */
  private async update(
    table: string,
    allowed: readonly string[],
    id: number,
    changes: Record<string, unknown>,
    now: string,
  ): Promise<boolean> {
    const cols = Object.keys(changes).filter((c) => allowed.includes(c) && changes[c] !== undefined);
    if (cols.length === 0) return false;
    // Only when a value really changes, so a no-op PATCH leaves updated_at (and the audit log) alone.
    const sql =
      `UPDATE ${table} SET ${cols.map((c) => `${c} = ?`).join(', ')}, updated_at = ? ` +
      `WHERE id = ? AND (${cols.map((c) => `${c} IS DISTINCT FROM ?`).join(' OR ')})`;
    const values = cols.map((c) => changes[c]);
    return (await this.exec.run(sql, [...values, now, id, ...values])) > 0;
  }

  /** The WHERE terms of an address filter (`after` aside: it narrows rows, not counts). */
  private filterWhere(filter: AddressFilter): { where: string[]; args: unknown[] } {
    const pg = this.exec.dialect === 'postgres';
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.between && filter.vrf === undefined) throw new Error('an address key span needs its VRF');
    if (filter.vrf !== undefined) {
      where.push('vrf_id = ?');
      args.push(filter.vrf);
    }
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
      where.push(
        pg
          ? 'EXISTS (SELECT 1 FROM jsonb_array_elements_text(CAST(addresses.tags AS jsonb)) AS t(value) WHERE t.value = ?)'
          : 'EXISTS (SELECT 1 FROM json_each(addresses.tags) WHERE value = ?)',
      );
      args.push(filter.tag);
    }
    if (filter.q) {
      // Case-insensitive as SQLite's LIKE is (for ASCII); PostgreSQL's LIKE is not.
      const like = pg ? 'ILIKE' : 'LIKE';
      const terms = ['address', 'hostname', 'description', 'owner', 'mac'].map((c) => `${c} ${like} ? ESCAPE '\\'`);
      where.push(`(${terms.join(' OR ')})`);
      const pattern = `%${escapeLike(filter.q)}%`;
      args.push(pattern, pattern, pattern, pattern, pattern);
    }
    return { where, args };
  }
}

/** The meta row PostgreSQL's subnet caches are checked against (bumped with every subnet write). */
const SUBNETS_VERSION = 'ipam:subnets_version';
const INSERT_RUN = 'INSERT INTO address_runs (vrf_id, first_key, last_key) VALUES (?, ?, ?)';
/** The runs that may touch stretch number @k: the one at or before its left neighbour, the one right after it. */
const NEAR_RUNS = `SELECT first_key, last_key FROM (SELECT first_key, last_key FROM address_runs
  WHERE vrf_id = ? AND first_key <= ? ORDER BY first_key DESC LIMIT 1) before_@k
  UNION ALL SELECT first_key, last_key FROM address_runs WHERE vrf_id = ? AND first_key = ?`;
const DELETE_RUN = 'DELETE FROM address_runs WHERE vrf_id = ? AND first_key = ?';
const SET_RUN_LAST = 'UPDATE address_runs SET last_key = ? WHERE vrf_id = ? AND first_key = ?';
/** Whether a subnet's first / last address is recorded, as 0/1 on both dialects. */
const EDGE_FLAGS = `CASE WHEN EXISTS (SELECT 1 FROM addresses a WHERE a.vrf_id = s.vrf_id AND a.ip_key = s.first_key)
      THEN 1 ELSE 0 END AS on_first,
      CASE WHEN EXISTS (SELECT 1 FROM addresses a WHERE a.vrf_id = s.vrf_id AND a.ip_key = s.last_key)
      THEN 1 ELSE 0 END AS on_last`;

export interface AddressFilter {
  /** Only this VRF's addresses (required with `between`: a key span means something in one VRF). */
  vrf?: number | undefined;
  between?: [Buffer, Buffer] | undefined;
  /** Keyset paging: only rows after this (VRF, key) (the count ignores it). */
  after?: { vrf: number; key: Buffer } | undefined;
  state?: string | undefined;
  source?: string | undefined;
  tag?: string | undefined;
  q?: string | undefined;
}

/** Columns of the addresses table, the allow-list for addressColumnsPage. */
const ADDRESS_COLUMNS = new Set([
  'id',
  'vrf_id',
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

function statesWithCounts(counts: number[]): { state: string; n: number }[] {
  return ADDRESS_STATES.flatMap((state, i) => (counts[i] ? [{ state, n: counts[i]! }] : []));
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const minKey = (keys: readonly Buffer[]) => keys.reduce((a, b) => (Buffer.compare(a, b) <= 0 ? a : b));
const maxKey = (keys: readonly Buffer[]) => keys.reduce((a, b) => (Buffer.compare(a, b) >= 0 ? a : b));

/**
 * runAround's answer from the run at or before `at` and the first run after it (either may be
 * missing): the run containing `at`, and where the next run (same family) starts.
 */
function runsAround(
  rows: readonly { first_key: Buffer; last_key: Buffer }[],
  at: IP,
  key: Buffer,
): { run: Interval | undefined; next: bigint | undefined } {
  let run: Interval | undefined;
  let next: bigint | undefined;
  for (const r of rows) {
    if (Buffer.compare(r.first_key, key) > 0) {
      if (r.first_key[0] === at.family) next = ipFromKey(r.first_key).value;
      continue;
    }
    const first = ipFromKey(r.first_key);
    const last = ipFromKey(r.last_key);
    if (first.family === at.family && last.value >= at.value) run = { first: first.value, last: last.value };
  }
  return { run, next };
}
