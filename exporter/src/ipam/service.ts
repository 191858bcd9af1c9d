// IPAM rules on top of the store: validation that needs the data (overlaps, containment,
// uniqueness), allocation, utilization, and an audit entry for every change. Every method
// that writes runs in one IMMEDIATE transaction, so concurrent requests serialize cleanly.
import { type Actor, AuditLog } from '../audit/log.js';
import { type Clock, isoNow, systemClock } from '../clock.js';
import { conflict, notFound, unprocessable } from '../errors.js';
import type { Db } from '../store/db.js';
import { type BlockLookup, type Interval, clip, intervalSize, sortedIntervalLookup, takeFree } from './core/allocation.js';
import { type AddressSource, type AddressState, normalizeMac } from './core/fields.js';
import { type TreeNode, buildTree } from './core/hierarchy.js';
import { type Family, type IP, formatIp, ipFromKey, ipKey, parseIp } from './core/ip.js';
import { layoutRows } from './core/layout.js';
import { type Bounds, type Prefix, contains, formatPrefix, lastOf, parseSubnetPrefix, usableBounds } from './core/prefix.js';
import { type Utilization, utilization } from './core/utilization.js';
import type { AddressCreate, AddressFields, AllocateRequest, RangeCreate, RangeUpdate, SubnetCreate, SubnetUpdate } from './schemas.js';
import { type AddressFilter, type AddressRow, IpamStore, type RangeRow, type SubnetRow } from './store.js';

export interface Paged<T> { count: number; results: T[] }

export interface UtilizationView {
  size: number; used: number; free: number; ratio: number; by_state: Record<string, number>;
}

export interface SubnetView {
  id: number; cidr: string; family: Family; prefix_length: number; name: string; description: string;
  vlan: number | null; gateway: string | null; tags: string[]; scan_enabled: boolean;
  scan_interval_seconds: number | null; parent_id: number | null; depth: number; children: number;
  utilization: UtilizationView; created_at: string; updated_at: string;
  /** What discovery knows of the subnet (alive hosts, last scan); null without it. Filled by an enricher. */
  discovery: unknown;
}

export interface AddressView {
  id: number; address: string; family: Family; subnet_id: number | null; state: AddressState;
  hostname: string | null; mac: string | null; description: string; owner: string | null; tags: string[];
  source: AddressSource; created_at: string; updated_at: string;
  /** What discovery saw at this address; null until it has been swept. Filled by an enricher. */
  observed: unknown;
}

/**
 * Adds data other domains own (e.g. discovery's observations) to address views built in bulk,
 * keyed by the address sort key. Keeps the dependency one-way: those domains know IPAM, not
 * the other way round.
 */
export type AddressEnricher = (views: readonly { key: Buffer; view: AddressView }[]) => void;
export type SubnetEnricher = (views: readonly { row: SubnetRow; view: SubnetView }[]) => void;

export interface RangeView {
  id: number; subnet_id: number; start_address: string; end_address: string; label: string;
  color: string | null; purpose: string; description: string; auto_allocate: boolean; mark_utilized: boolean;
  utilization: UtilizationView; created_at: string; updated_at: string;
}

export type SubnetRowView =
  | { type: 'address'; address: AddressView }
  | { type: 'gap'; start_address: string; end_address: string; size: number; range_id: number | null };

export type AllocationScope = { subnetId: number } | { rangeId: number };

export class IpamService {
  readonly store: IpamStore;
  readonly audit: AuditLog;
  private readonly enrichers: AddressEnricher[] = [];
  private readonly subnetEnrichers: SubnetEnricher[] = [];

  constructor(readonly db: Db, readonly clock: Clock = systemClock) {
    this.store = new IpamStore(db);
    this.audit = new AuditLog(db, clock);
  }

  addEnricher(enricher: AddressEnricher): void {
    this.enrichers.push(enricher);
  }

  addSubnetEnricher(enricher: SubnetEnricher): void {
    this.subnetEnrichers.push(enricher);
  }

  private enrichSubnets(pairs: { row: SubnetRow; view: SubnetView }[]): SubnetView[] {
    for (const e of this.subnetEnrichers) e(pairs);
    return pairs.map((p) => p.view);
  }

  private enrich<T extends AddressView | AddressView[]>(views: T, keys: readonly Buffer[]): T {
    if (this.enrichers.length === 0) return views;
    const list = Array.isArray(views) ? views : [views];
    const pairs = list.map((view, i) => ({ key: keys[i]!, view }));
    for (const e of this.enrichers) e(pairs);
    return views;
  }

  /** Runs `fn` in a BEGIN IMMEDIATE transaction (nested calls become savepoints). */
  write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---------------------------------------------------------------- subnets
  listSubnets(filter: { q?: string | undefined; tag?: string | undefined; vlan?: number | undefined; family?: string | undefined },
    limit: number, offset: number): Paged<SubnetView> {
    const rows = this.store.allSubnets();
    const tree = this.tree(rows);
    const q = filter.q?.toLowerCase();
    const matching = rows.filter((r) =>
      (!q || r.cidr.includes(q) || r.name.toLowerCase().includes(q) || r.description.toLowerCase().includes(q)) &&
      (!filter.tag || parseTags(r.tags).includes(filter.tag)) &&
      (filter.vlan === undefined || r.vlan === filter.vlan) &&
      (!filter.family || String(r.family) === filter.family));
    const page = matching.slice(offset, offset + limit);
    const usage = this.utilizations(page.length > 1 ? rows : page);
    return { count: matching.length, results: this.enrichSubnets(page.map((row) => ({ row, view: this.subnetView(row, tree, usage.get(row.id)) }))) };
  }

  getSubnet(id: number): SubnetView {
    const row = this.subnetRow(id);
    return this.enrichSubnets([{ row, view: this.subnetView(row) }])[0]!;
  }

  createSubnet(input: SubnetCreate, actor: Actor): SubnetView {
    const prefix = parseSubnetPrefix(input.cidr);
    const cidr = formatPrefix(prefix);
    return this.write(() => {
      const existing = this.store.subnetByCidr(cidr);
      if (existing) throw conflict(`subnet ${cidr} already exists (id ${existing.id})`, { id: existing.id });
      const gateway = this.checkGateway(prefix, input.gateway);
      const firstKey = ipKey({ family: prefix.family, value: prefix.network });
      const lastKey = ipKey({ family: prefix.family, value: lastOf(prefix) });
      // A range belongs to one subnet; a new child may not take part of an enclosing subnet's range.
      for (const r of this.store.rangesOverlapping(firstKey, lastKey)) {
        const owner = this.subnetRow(r.subnet_id);
        if (owner.prefix_length < prefix.length) {
          throw conflict(`${cidr} would cut into range "${r.label}" (${r.start_address}–${r.end_address}) of ${owner.cidr}; ` +
            'change or delete that range first', { range_id: r.id });
        }
      }
      const now = isoNow(this.clock);
      const id = this.store.insertSubnet({
        cidr, family: prefix.family, prefix_length: prefix.length,
        first_key: firstKey,
        last_key: lastKey,
        name: input.name ?? '', description: input.description ?? '', vlan: input.vlan ?? null, gateway,
        tags: JSON.stringify(dedupe(input.tags ?? [])), scan_enabled: input.scan_enabled === false ? 0 : 1,
        scan_interval_seconds: input.scan_interval_seconds ?? null, created_at: now, updated_at: now,
      });
      // The audit log records the IPAM object itself, without what other domains add to views.
      this.audit.record(actor, 'create', 'subnet', id, cidr, undefined, this.subnetView(this.subnetRow(id)));
      return this.getSubnet(id);
    });
  }

  updateSubnet(id: number, patch: SubnetUpdate, actor: Actor): SubnetView {
    return this.write(() => {
      const row = this.subnetRow(id);
      const before = this.subnetView(row);
      const gateway = patch.gateway === undefined ? undefined : this.checkGateway(prefixOf(row), patch.gateway);
      this.store.updateSubnet(id, {
        name: patch.name, description: patch.description, vlan: patch.vlan, gateway,
        tags: patch.tags && JSON.stringify(dedupe(patch.tags)),
        scan_enabled: patch.scan_enabled === undefined ? undefined : patch.scan_enabled ? 1 : 0,
        scan_interval_seconds: patch.scan_interval_seconds,
      }, isoNow(this.clock));
      const after = this.subnetView(this.subnetRow(id));
      if (changed(before, after)) this.audit.record(actor, 'update', 'subnet', id, row.cidr, before, after);
      return this.getSubnet(id);
    });
  }

  /**
   * Deletes a subnet and its ranges. Addresses that would be left in no subnet make this a 409
   * unless `force` is set, in which case they are deleted too (each with its audit entry).
   */
  deleteSubnet(id: number, force: boolean, actor: Actor): void {
    this.write(() => {
      const row = this.subnetRow(id);
      const before = this.subnetView(row);
      // With a parent subnet every address stays covered; otherwise those not in a child are orphaned.
      const hasParent = this.treeNode(row).parentId !== null;
      const index = this.subnetIndex();
      const orphans = hasParent ? [] : this.store.addressesBetween(row.first_key, row.last_key)
        .filter((a) => index.mostSpecific(ipFromKey(a.ip_key)) === id);
      if (orphans.length > 0 && !force) {
        throw conflict(`subnet ${row.cidr} holds ${orphans.length} address(es) that no other subnet contains; ` +
          'release them first or delete with ?force=true', { addresses: orphans.length });
      }
      for (const a of orphans) {
        this.store.deleteAddress(a);
        this.audit.record(actor, 'delete', 'address', a.id, a.address, this.addressView(a), undefined);
      }
      // Ranges go with their subnet (ON DELETE CASCADE); the audit log says so.
      for (const r of this.store.listRanges(id, Number.MAX_SAFE_INTEGER, 0).rows) {
        this.audit.record(actor, 'delete', 'range', r.id, `${r.start_address}-${r.end_address}`, this.rangeView(r), undefined);
      }
      this.store.deleteSubnet(id);
      this.audit.record(actor, 'delete', 'subnet', id, row.cidr, before, undefined);
    });
  }

  /**
   * The subnet view: known addresses plus collapsed free gaps, in address order. The layout is
   * computed from the address values alone (one integer per address); only the addresses on
   * the requested page are read in full, so any page of a large subnet costs about the same.
   */
  subnetRows(id: number, limit: number, offset: number): Paged<SubnetRowView> & { subnet: SubnetView } {
    const row = this.subnetRow(id);
    const prefix = prefixOf(row);
    const family = prefix.family;
    const values = this.store.valuesBetween({ family, value: prefix.network }, { family, value: lastOf(prefix) });
    const ranges = this.store.rangesInside(row.first_key, row.last_key).map((r) => ({ id: r.id, ...rangeInterval(r) }));
    // A child subnet's own network/broadcast (or IPv6 anycast) address can hold no record.
    const holes = this.store.subnetsInside(row.first_key, row.last_key, row.id).flatMap((child) => {
      const p = prefixOf(child);
      const usable = usableBounds(p);
      return [p.network, lastOf(p)].filter((v) => v < usable.first || v > usable.last);
    });
    const rows = layoutRows(usableBounds(prefix), values.map((value) => ({ value, item: null })), ranges, holes);
    const page = rows.slice(offset, offset + limit);
    const pageValues = page.flatMap((r) => (r.kind === 'address' ? [r.value] : []));
    const details = pageValues.length === 0 ? [] : this.store.addressesBetween(
      keyOf(family, pageValues[0]!), keyOf(family, pageValues[pageValues.length - 1]!));
    const index = this.subnetIndex();
    const views = this.enrich(details.map((d) => this.addressView(d, index)), details.map((d) => d.ip_key));
    let next = 0;
    const results = page.map((r): SubnetRowView => r.kind === 'address'
      ? { type: 'address', address: views[next++]! }
      : {
        type: 'gap', start_address: formatIp({ family, value: r.first }),
        end_address: formatIp({ family, value: r.last }), size: Number(r.size), range_id: r.rangeId,
      });
    return { count: rows.length, results, subnet: this.enrichSubnets([{ row, view: this.subnetView(row) }])[0]! };
  }

  // ---------------------------------------------------------------- allocation
  /** The next `limit` free addresses in a subnet or range, without reserving them. */
  availableIps(scope: AllocationScope, limit: number): string[] {
    const { family, bounds, blockers } = this.allocationPlan(scope);
    return takeFree(bounds, blockers, limit).map((value) => formatIp({ family, value }));
  }

  /** Reserves the next `count` free addresses atomically; 409 when fewer are free. */
  allocate(scope: AllocationScope, request: AllocateRequest, actor: Actor): AddressView[] {
    return this.write(() => {
      const { family, bounds, blockers, what } = this.allocationPlan(scope);
      const free = takeFree(bounds, blockers, request.count);
      if (free.length < request.count) {
        throw conflict(`${what} has ${free.length === 0 ? 'no' : `only ${free.length}`} free address(es); ` +
          `${request.count} requested`, { requested: request.count, available: free.length });
      }
      return free.map((value) => this.insertAddress({ family, value }, request, actor));
    });
  }

  /**
   * What next-free may hand out: the usable addresses of the subnet (or of the chosen range)
   * minus used addresses and three kinds of blocked interval: the gateways of the subnet and of
   * every subnet covering it, ranges closed to auto-allocation that reach into it (a parent's
   * DHCP pool included; a range chosen explicitly is the exception), and child subnets, whose
   * space is theirs to hand out.
   */
  private allocationPlan(scope: AllocationScope): { family: Family; bounds: Bounds; blockers: BlockLookup[]; what: string } {
    const range = 'rangeId' in scope ? this.rangeRow(scope.rangeId) : undefined;
    const subnet = this.subnetRow(range ? range.subnet_id : (scope as { subnetId: number }).subnetId);
    const prefix = prefixOf(subnet);
    const usable = usableBounds(prefix);
    const fixed: Interval[] = [];
    for (const s of this.store.subnetsCovering(subnet.first_key, subnet.last_key)) {
      if (s.gateway) fixed.push(point(parseIp(s.gateway).value));
    }
    for (const r of this.store.rangesOverlapping(subnet.first_key, subnet.last_key)) {
      if (!r.auto_allocate && r.id !== range?.id) fixed.push(rangeInterval(r));
    }
    for (const child of this.store.subnetsInside(subnet.first_key, subnet.last_key, subnet.id)) {
      const p = prefixOf(child);
      fixed.push({ first: p.network, last: lastOf(p) });
    }
    const runs: BlockLookup = (at) => this.store.runContaining({ family: prefix.family, value: at });
    return {
      family: prefix.family,
      bounds: (range ? clip(rangeInterval(range), usable) : usable) ?? { first: 1n, last: 0n },
      blockers: [runs, sortedIntervalLookup(fixed)],
      what: range ? `range ${range.label} (${range.start_address}–${range.end_address})` : `subnet ${subnet.cidr}`,
    };
  }

  // ---------------------------------------------------------------- addresses
  listAddresses(filter: Omit<AddressFilter, 'between'> & { subnet_id?: number | undefined }, limit: number, offset: number): Paged<AddressView> {
    let between: [Buffer, Buffer] | undefined;
    if (filter.subnet_id !== undefined) {
      const s = this.subnetRow(filter.subnet_id);
      between = [s.first_key, s.last_key];
    }
    const { count, rows } = this.store.listAddresses({ ...filter, between }, limit, offset);
    const index = this.subnetIndex();
    return { count, results: this.enrich(rows.map((r) => this.addressView(r, index)), rows.map((r) => r.ip_key)) };
  }

  getAddress(id: number): AddressView {
    const row = this.addressRow(id);
    return this.enrich(this.addressView(row), [row.ip_key]);
  }

  createAddress(input: AddressCreate, actor: Actor): AddressView {
    const ip = parseIp(input.address);
    return this.write(() => this.insertAddress(ip, input, actor));
  }

  updateAddress(id: number, patch: AddressFields, actor: Actor): AddressView {
    return this.write(() => {
      const row = this.addressRow(id);
      const before = this.addressView(row);
      this.store.updateAddress(id, {
        state: patch.state, hostname: patch.hostname, description: patch.description, owner: patch.owner,
        source: patch.source, mac: patch.mac === undefined ? undefined : patch.mac && normalizeMac(patch.mac),
        tags: patch.tags && JSON.stringify(dedupe(patch.tags)),
      }, isoNow(this.clock));
      const after = this.addressView(this.addressRow(id));
      if (changed(before, after)) this.audit.record(actor, 'update', 'address', id, row.address, before, after);
      return this.getAddress(id);
    });
  }

  deleteAddress(id: number, actor: Actor): void {
    this.write(() => {
      const row = this.addressRow(id);
      const before = this.addressView(row);
      this.store.deleteAddress(row);
      this.audit.record(actor, 'delete', 'address', id, row.address, before, undefined);
    });
  }

  private insertAddress(ip: IP, fields: AddressFields, actor: Actor): AddressView {
    const text = formatIp(ip);
    const subnet = this.store.mostSpecificSubnet(ip);
    if (!subnet) throw unprocessable(`no subnet contains ${text}; create the subnet first`);
    const prefix = prefixOf(subnet);
    const usable = usableBounds(prefix);
    if (ip.value < usable.first || ip.value > usable.last) {
      throw unprocessable(`${text} is the ${ip.value === prefix.network ? 'network' : 'broadcast'} address of ${subnet.cidr}`);
    }
    const existing = this.store.addressAt(ip);
    if (existing) {
      throw conflict(`${text} is already ${existing.state} (address id ${existing.id})`, { id: existing.id, state: existing.state });
    }
    const now = isoNow(this.clock);
    const id = this.store.insertAddress({
      ip_key: ipKey(ip), address: text, family: ip.family, state: fields.state ?? 'reserved',
      hostname: fields.hostname ?? null, mac: fields.mac ? normalizeMac(fields.mac) : null,
      description: fields.description ?? '', owner: fields.owner ?? null, tags: JSON.stringify(dedupe(fields.tags ?? [])),
      source: fields.source ?? 'manual', created_at: now, updated_at: now,
    });
    const view = this.addressView(this.addressRow(id), undefined, subnet.id);
    this.audit.record(actor, 'create', 'address', id, text, undefined, view);
    return view;
  }

  // ---------------------------------------------------------------- ranges
  listRanges(subnetId: number | undefined, limit: number, offset: number): Paged<RangeView> {
    if (subnetId !== undefined) this.subnetRow(subnetId);
    const { count, rows } = this.store.listRanges(subnetId, limit, offset);
    return { count, results: rows.map((r) => this.rangeView(r)) };
  }

  getRange(id: number): RangeView {
    return this.rangeView(this.rangeRow(id));
  }

  createRange(input: RangeCreate, actor: Actor): RangeView {
    return this.write(() => {
      const subnet = this.subnetRow(input.subnet_id);
      const prefix = prefixOf(subnet);
      const start = parseIp(input.start_address);
      const end = parseIp(input.end_address);
      requireUsable(prefix, start, 'start_address');
      requireUsable(prefix, end, 'end_address');
      if (start.value > end.value) throw unprocessable('start_address is after end_address');
      const firstKey = ipKey(start);
      const lastKey = ipKey(end);
      const clash = this.store.rangesOverlapping(firstKey, lastKey)[0];
      if (clash) {
        throw conflict(`overlaps range "${clash.label}" (${clash.start_address}–${clash.end_address}, id ${clash.id})`, { id: clash.id });
      }
      const child = this.store.subnetsInside(subnet.first_key, subnet.last_key, subnet.id)
        .find((c) => Buffer.compare(c.first_key, lastKey) <= 0 && Buffer.compare(firstKey, c.last_key) <= 0);
      if (child) {
        throw conflict(`overlaps child subnet ${child.cidr}; a range belongs to the most specific subnet, so create it there`, { subnet_id: child.id });
      }
      const now = isoNow(this.clock);
      const id = this.store.insertRange({
        subnet_id: subnet.id, start_address: formatIp(start), end_address: formatIp(end), first_key: firstKey,
        last_key: lastKey, label: input.label, color: input.color ?? null, purpose: input.purpose ?? 'other',
        description: input.description ?? '', auto_allocate: input.auto_allocate === false ? 0 : 1,
        mark_utilized: input.mark_utilized ? 1 : 0, created_at: now, updated_at: now,
      });
      const view = this.getRange(id);
      this.audit.record(actor, 'create', 'range', id, `${view.start_address}-${view.end_address}`, undefined, view);
      return view;
    });
  }

  updateRange(id: number, patch: RangeUpdate, actor: Actor): RangeView {
    return this.write(() => {
      const row = this.rangeRow(id);
      const before = this.rangeView(row);
      this.store.updateRange(id, {
        label: patch.label, color: patch.color, purpose: patch.purpose, description: patch.description,
        auto_allocate: patch.auto_allocate === undefined ? undefined : patch.auto_allocate ? 1 : 0,
        mark_utilized: patch.mark_utilized === undefined ? undefined : patch.mark_utilized ? 1 : 0,
      }, isoNow(this.clock));
      const after = this.getRange(id);
      if (changed(before, after)) this.audit.record(actor, 'update', 'range', id, `${row.start_address}-${row.end_address}`, before, after);
      return after;
    });
  }

  deleteRange(id: number, actor: Actor): void {
    this.write(() => {
      const row = this.rangeRow(id);
      const before = this.rangeView(row);
      this.store.deleteRange(id);
      this.audit.record(actor, 'delete', 'range', id, `${row.start_address}-${row.end_address}`, before, undefined);
    });
  }

  // ---------------------------------------------------------------- utilization
  subnetUtilization(row: SubnetRow): UtilizationWithStates {
    return this.utilizations([row]).get(row.id)!;
  }

  /**
   * Utilization of many subnets with a fixed number of statements (one GROUP BY join for the
   * counts, one for addresses on subnet edges, one for ranges), not a few per subnet: /metrics
   * and the subnet list ask for all of them at once.
   */
  utilizations(rows: readonly SubnetRow[]): Map<number, UtilizationWithStates> {
    const one = rows.length === 1 ? rows[0]! : undefined;
    const counts = new Map<number, Record<string, number>>();
    const countsOf = (id: number) => counts.get(id) ?? counts.set(id, {}).get(id)!;
    if (one) {
      for (const c of this.store.countBetweenByState(one.first_key, one.last_key)) countsOf(one.id)[c.state] = c.n;
    } else {
      for (const c of this.store.countsBySubnetAndState()) countsOf(c.subnet_id)[c.state] = c.n;
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const e of this.store.addressesOnEdges(one?.id)) {
      const row = byId.get(e.subnet_id);
      if (!row) continue;
      const usable = usableBounds(prefixOf(row));
      const value = e.edge === 'first' ? ipFromKey(row.first_key).value : ipFromKey(row.last_key).value;
      if (value < usable.first || value > usable.last) countsOf(row.id)[e.state]! -= 1;
    }
    const ranges = one ? this.store.rangesInside(one.first_key, one.last_key) : this.store.allRanges();
    const out = new Map<number, UtilizationWithStates>();
    for (const row of rows) {
      const prefix = prefixOf(row);
      const usable = usableBounds(prefix);
      const byState = Object.fromEntries(Object.entries(countsOf(row.id)).filter(([, n]) => n > 0));
      const addressCount = Object.values(byState).reduce((a, n) => a + BigInt(n), 0n);
      const utilized = rangesWithin(ranges, row.first_key, row.last_key).filter((r) => r.mark_utilized)
        .flatMap((r) => this.utilizedPart(prefix.family, r, usable));
      out.set(row.id, { ...utilization(usable.last - usable.first + 1n, addressCount, utilized), byState });
    }
    return out;
  }

  rangeUtilization(row: RangeRow, subnet: SubnetRow): UtilizationWithStates {
    const prefix = prefixOf(subnet);
    const bounds = clip(rangeInterval(row), usableBounds(prefix));
    const byState: Record<string, number> = {};
    let addressCount = 0n;
    if (bounds) {
      for (const { state, n } of this.store.countBetweenByState(keyOf(prefix.family, bounds.first), keyOf(prefix.family, bounds.last))) {
        byState[state] = n;
        addressCount += BigInt(n);
      }
    }
    const size = bounds ? intervalSize(bounds) : 0n;
    const utilized = bounds && row.mark_utilized ? [{ size, addressCount }] : [];
    return { ...utilization(size, addressCount, utilized), byState };
  }

  /** The usable part of a range marked used, with the addresses already inside it. */
  private utilizedPart(family: Family, r: RangeRow, usable: Bounds) {
    const part = clip(rangeInterval(r), usable);
    if (!part) return [];
    const inside = this.store.countBetween(keyOf(family, part.first), keyOf(family, part.last));
    return [{ size: intervalSize(part), addressCount: BigInt(inside) }];
  }

  // ---------------------------------------------------------------- views and lookups
  subnetRow(id: number): SubnetRow {
    const row = this.store.subnet(id);
    if (!row) throw notFound('subnet', id);
    return row;
  }

  private addressRow(id: number): AddressRow {
    const row = this.store.address(id);
    if (!row) throw notFound('address', id);
    return row;
  }

  private rangeRow(id: number): RangeRow {
    const row = this.store.range(id);
    if (!row) throw notFound('range', id);
    return row;
  }

  /**
   * One subnet's place in the tree from the subnets around it (ancestors and descendants by key
   * range), so creating or reading one subnet does not read them all.
   */
  private treeNode(row: SubnetRow): TreeNode {
    const ancestors = this.store.subnetsCovering(row.first_key, row.last_key).filter((s) => s.id !== row.id);
    const around = [...ancestors, row, ...this.store.subnetsInside(row.first_key, row.last_key, row.id)];
    return buildTree(around.map((r) => ({ id: r.id, prefix: prefixOf(r) }))).get(row.id)!;
  }

  private tree(rows: readonly SubnetRow[] = this.store.allSubnets()) {
    return buildTree(rows.map((r) => ({ id: r.id, prefix: prefixOf(r) })));
  }

  subnetView(row: SubnetRow, tree?: Map<number, TreeNode>, usage = this.subnetUtilization(row)): SubnetView {
    const node = tree ? tree.get(row.id) : this.treeNode(row);
    return {
      id: row.id, cidr: row.cidr, family: row.family, prefix_length: row.prefix_length, name: row.name,
      description: row.description, vlan: row.vlan, gateway: row.gateway, tags: parseTags(row.tags),
      scan_enabled: row.scan_enabled === 1, scan_interval_seconds: row.scan_interval_seconds,
      parent_id: node?.parentId ?? null, depth: node?.depth ?? 0, children: node?.childCount ?? 0,
      utilization: utilizationView(usage), created_at: row.created_at, updated_at: row.updated_at, discovery: null,
    };
  }

  addressView(row: AddressRow, index?: SubnetIndex, subnetId?: number): AddressView {
    const ip = ipFromKey(row.ip_key);
    return {
      id: row.id, address: row.address, family: row.family,
      subnet_id: subnetId ?? (index ? index.mostSpecific(ip) : this.store.mostSpecificSubnet(ip)?.id ?? null),
      state: row.state as AddressState, hostname: row.hostname, mac: row.mac, description: row.description,
      owner: row.owner, tags: parseTags(row.tags), source: row.source as AddressSource,
      created_at: row.created_at, updated_at: row.updated_at, observed: null,
    };
  }

  /** The address row at an IP, if one is recorded (for other domains). */
  addressAt(ip: IP): AddressRow | undefined {
    return this.store.addressAt(ip);
  }

  rangeView(row: RangeRow): RangeView {
    const subnet = this.subnetRow(row.subnet_id);
    return {
      id: row.id, subnet_id: row.subnet_id, start_address: row.start_address, end_address: row.end_address,
      label: row.label, color: row.color, purpose: row.purpose, description: row.description,
      auto_allocate: row.auto_allocate === 1, mark_utilized: row.mark_utilized === 1,
      utilization: utilizationView(this.rangeUtilization(row, subnet)), created_at: row.created_at, updated_at: row.updated_at,
    };
  }

  private cachedIndex: { generation: number; index: SubnetIndex } | undefined;

  /** In-memory most-specific-subnet lookup for listing many addresses at once. */
  subnetIndex(): SubnetIndex {
    if (this.db.inTransaction) return new SubnetIndex(this.store.allSubnets());
    if (this.cachedIndex?.generation !== this.store.subnetGeneration) {
      this.cachedIndex = { generation: this.store.subnetGeneration, index: new SubnetIndex(this.store.allSubnets()) };
    }
    return this.cachedIndex.index;
  }

  private checkGateway(prefix: Prefix, gateway: string | null | undefined): string | null {
    if (!gateway) return null;
    const ip = parseIp(gateway);
    requireUsable(prefix, ip, 'gateway');
    return formatIp(ip);
  }

}

/** Most specific subnet of an address by probing one hash map per prefix length in use. */
export class SubnetIndex {
  private readonly byLength = new Map<string, number>();
  private readonly lengths: Record<Family, number[]> = { 4: [], 6: [] };

  constructor(rows: readonly SubnetRow[]) {
    const seen = { 4: new Set<number>(), 6: new Set<number>() };
    for (const r of rows) {
      this.byLength.set(`${r.family}/${r.prefix_length}/${ipFromKey(r.first_key).value}`, r.id);
      seen[r.family].add(r.prefix_length);
    }
    for (const f of [4, 6] as const) this.lengths[f] = [...seen[f]].sort((a, b) => b - a);
  }

  mostSpecific(ip: IP): number | null {
    const bits = ip.family === 4 ? 32n : 128n;
    for (const len of this.lengths[ip.family]) {
      const host = bits - BigInt(len);
      const network = (ip.value >> host) << host;
      const id = this.byLength.get(`${ip.family}/${len}/${network}`);
      if (id !== undefined) return id;
    }
    return null;
  }
}

export function prefixOf(row: SubnetRow): Prefix {
  return { family: row.family, network: ipFromKey(row.first_key).value, length: row.prefix_length };
}

function rangeInterval(r: RangeRow): Interval {
  return { first: ipFromKey(r.first_key).value, last: ipFromKey(r.last_key).value };
}

function keyOf(family: Family, value: bigint): Buffer {
  return ipKey({ family, value });
}

function point(value: bigint): Interval {
  return { first: value, last: value };
}

/** Whether an update changed anything a person would see (updated_at aside). */
function changed(before: { updated_at: string }, after: { updated_at: string }): boolean {
  return JSON.stringify({ ...before, updated_at: '' }) !== JSON.stringify({ ...after, updated_at: '' });
}

function requireUsable(prefix: Prefix, ip: IP, field: string): void {
  const usable = usableBounds(prefix);
  if (!contains(prefix, ip) || ip.value < usable.first || ip.value > usable.last) {
    throw unprocessable(`${field} ${formatIp(ip)} is not a usable address of ${formatPrefix(prefix)}`);
  }
}

/** Ranges (sorted by first key) that lie inside [first,last], found by binary search. */
function rangesWithin(sorted: readonly RangeRow[], first: Buffer, last: Buffer): RangeRow[] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Buffer.compare(sorted[mid]!.first_key, first) < 0) lo = mid + 1;
    else hi = mid;
  }
  const out: RangeRow[] = [];
  for (let i = lo; i < sorted.length && Buffer.compare(sorted[i]!.first_key, last) <= 0; i++) {
    if (Buffer.compare(sorted[i]!.last_key, last) <= 0) out.push(sorted[i]!);
  }
  return out;
}

type UtilizationWithStates = Utilization & { byState: Record<string, number> };

function utilizationView(u: UtilizationWithStates): UtilizationView {
  return { size: Number(u.size), used: Number(u.used), free: Number(u.free), ratio: u.ratio, by_state: u.byState };
}

export function parseTags(json: string): string[] {
  return JSON.parse(json) as string[];
}

function dedupe(tags: string[]): string[] {
  return [...new Set(tags)];
}
