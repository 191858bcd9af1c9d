// IPAM rules on top of the store: validation that needs the data (overlaps, containment,
// uniqueness), allocation, utilization, and an audit entry for every change. Every method
// that writes runs in one IMMEDIATE transaction, so concurrent requests serialize cleanly.
import { nextTurn } from '../turns.js';
import { type Actor, AuditLog } from '../audit/log.js';
import { type Clock, isoNow, systemClock } from '../clock.js';
import { LanscapeError, conflict, notFound, unprocessable } from '../errors.js';
import type { Store } from '../store/store.js';
import {
  type BlockLookup,
  type Interval,
  clip,
  intervalSize,
  type StoreBlockLookup,
  aroundFromKnown,
  shareOut,
  sortedIntervalLookup,
  takeFreeAround,
} from './core/allocation.js';
import { Combiner, type Outcome } from './combiner.js';
import { ADDRESS_STATES, type AddressSource, type AddressState, normalizeMac } from './core/fields.js';
import { type TreeNode, buildTree } from './core/hierarchy.js';
import { BITS, type Family, type IP, formatIp, ipFromKey, ipKey, parseIp } from './core/ip.js';
import { freePrefixes, freeSpace } from './core/prefix-allocation.js';
import {
  type Bounds,
  type Prefix,
  contains,
  formatPrefix,
  lastOf,
  parseSubnetPrefix,
  prefixOf,
  usableBounds,
} from './core/prefix.js';
import { type Utilization, utilization } from './core/utilization.js';
import type {
  AddressCreate,
  AddressFields,
  AllocateRequest,
  PrefixRequest,
  RangeCreate,
  RangeUpdate,
  SubnetCreate,
  SubnetUpdate,
  VrfCreate,
  VrfUpdate,
} from './schemas.js';
import type { AddressView, RangeView, SubnetRowView, SubnetView, UtilizationView, VrfView } from './schemas.js';
import {
  type AddressFilter,
  type AddressRow,
  IpamStore,
  type KeyBound,
  type NewAddressRow,
  type RangeRow,
  type SubnetRef,
  type SubnetRow,
  type VrfRow,
} from './store.js';
import { LiveSubnetIndex } from './subnet-cache.js';
import { GLOBAL_VRF_ID } from './core/vrf.js';
import { type SubnetLayout, SubnetLayoutCache, layoutPage } from './layout-cache.js';
import type { LayoutRow } from './core/layout.js';
import { ReadSnapshots } from '../store/read-snapshots.js';

// The views are the API's response shapes, inferred from the zod schemas the routes declare.
export type {
  AddressView,
  HostObservationView,
  RangeView,
  SubnetDiscoveryView,
  SubnetRowView,
  SubnetView,
  UtilizationView,
} from './schemas.js';

/** Address rows of a subnet page read (and turned into views) per event-loop turn. */
const ROWS_CHUNK = 1000;
/** Addresses a filtered listing looks at per event-loop turn (see listAddressesPaced). */
const SCAN_CHUNK = 5000;
/** Keys below and above every address key (17 bytes: family, then 16 value bytes). */
const KEY_MIN = Buffer.alloc(0);
const KEY_MAX = Buffer.alloc(18, 0xff);

export interface Paged<T> {
  count: number;
  results: T[];
}

/**
 * Adds data other domains own (e.g. discovery's observations) to address views built in bulk,
 * keyed by the address sort key. Keeps the dependency one-way: those domains know IPAM, not
 * the other way round.
 */
export type AddressEnricher = (views: readonly { key: Buffer; view: AddressView }[]) => void | Promise<void>;
export type SubnetEnricher = (views: readonly { row: SubnetRow; view: SubnetView }[]) => void | Promise<void>;

export type AllocationScope = { subnetId: number } | { rangeId: number };

export class IpamService {
  /** IPAM's tables: private, other domains read through the read API below. */
  private readonly tables: IpamStore;
  readonly audit: AuditLog;
  /** Layouts of subnet views, dropped by the store's writes to their span (see layout-cache.ts). */
  readonly layouts: SubnetLayoutCache;
  private readonly enrichers: AddressEnricher[] = [];
  private readonly subnetEnrichers: SubnetEnricher[] = [];

  /** Read-only connections for reads that must stay consistent across event-loop turns. */
  private readonly snapshots: ReadSnapshots<IpamStore>;

  constructor(
    /** The store IPAM's tables live in (SQLite or PostgreSQL); `write` runs its transactions. */
    readonly store: Store,
    readonly clock: Clock = systemClock,
  ) {
    this.tables = new IpamStore(store);
    this.audit = new AuditLog(store, clock);
    this.layouts = new SubnetLayoutCache(this.tables);
    this.snapshots = new ReadSnapshots(store, (s) => (s === store ? this.tables : new IpamStore(s)));
    this.combiner = new Combiner<PendingAllocation, AddressView[]>(
      (claim, first) => this.write(() => this.allocateBatch(first.scope, claim)),
      (batch, next) => batch.reduce((n, p) => n + p.request.count, next.request.count) <= COMBINED_MAX,
      // PostgreSQL: the next batch waits on the subnet lock meanwhile and claims once it has it.
      // SQLite: its writes take turns in the one connection anyway.
      this.store.dialect === 'postgres' ? 2 : 1,
    );
  }

  /** Reads the subnet list into memory (patched per write), so the first request does not pay it. */
  async warm(): Promise<void> {
    if (!this.store.inTransaction) await this.tables.allSubnets();
  }

  /** Closes the read-only connections (before the store itself is closed). */
  close(): void {
    this.snapshots.close();
  }

  addEnricher(enricher: AddressEnricher): void {
    this.enrichers.push(enricher);
  }

  addSubnetEnricher(enricher: SubnetEnricher): void {
    this.subnetEnrichers.push(enricher);
  }

  private async enrichSubnets(pairs: { row: SubnetRow; view: SubnetView }[]): Promise<SubnetView[]> {
    await Promise.all(this.subnetEnrichers.map((e) => e(pairs)));
    return pairs.map((p) => p.view);
  }

  private async enrich<T extends AddressView | AddressView[]>(views: T, keys: readonly Buffer[]): Promise<T> {
    if (this.enrichers.length === 0) return views;
    const list = Array.isArray(views) ? views : [views];
    const pairs = list.map((view, i) => ({ key: keys[i]!, view }));
    await Promise.all(this.enrichers.map((e) => e(pairs)));
    return views;
  }

  /**
   * Runs `fn` in one write transaction of the store (`Store.write`; nested calls become
   * savepoints): every IPAM call inside it, and every statement through the store, is part of it.
   * `fn` must await only the store. On PostgreSQL it may run more than once (retried races).
   */
  write<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.store.write(fn);
  }

  // ---------------------------------------------------------------- subnets
  async listSubnets(
    filter: {
      q?: string | undefined;
      tag?: string | undefined;
      vlan?: number | undefined;
      family?: string | undefined;
      vrf_id?: number | undefined;
    },
    limit: number,
    offset: number,
  ): Promise<Paged<SubnetView>> {
    const rows = await this.tables.allSubnets();
    const tree = this.tree(rows);
    const q = filter.q?.toLowerCase();
    const matching = rows.filter(
      (r) =>
        (!q || r.cidr.includes(q) || r.name.toLowerCase().includes(q) || r.description.toLowerCase().includes(q)) &&
        (!filter.tag || parseTags(r.tags).includes(filter.tag)) &&
        (filter.vlan === undefined || r.vlan === filter.vlan) &&
        (filter.vrf_id === undefined || r.vrf_id === filter.vrf_id) &&
        (!filter.family || String(r.family) === filter.family),
    );
    const page = matching.slice(offset, offset + limit);
    const usage = await this.utilizations(page.length > 1 ? rows : page);
    return {
      count: matching.length,
      results: await this.enrichSubnets(
        page.map((row) => ({ row, view: this.subnetViewOf(row, tree.get(row.id), usage.get(row.id)!) })),
      ),
    };
  }

  async getSubnet(id: number): Promise<SubnetView> {
    const row = await this.subnetRow(id);
    return (await this.enrichSubnets([{ row, view: await this.subnetView(row) }]))[0]!;
  }

  async createSubnet(input: SubnetCreate, actor: Actor): Promise<SubnetView> {
    return this.write(async () => {
      const created = await this.createSubnetRecord(input, actor);
      return (await this.enrichSubnets([created]))[0]!;
    });
  }

  // ---------------------------------------------------------------- VRFs (#15)
  async listVrfs(limit: number, offset: number): Promise<Paged<VrfView>> {
    const { count, rows } = await this.tables.listVrfs(limit, offset);
    const results: VrfView[] = [];
    for (const r of rows) results.push(await this.vrfView(r));
    return { count, results };
  }

  async getVrf(id: number): Promise<VrfView> {
    return this.vrfView(await this.vrfRow(id));
  }

  async createVrf(input: VrfCreate, actor: Actor): Promise<VrfView> {
    return this.write(async () => {
      await this.checkVrfNames(undefined, input.name, input.rd);
      const now = isoNow(this.clock);
      const id = await this.tables.insertVrf({
        name: input.name,
        rd: input.rd ?? null,
        description: input.description ?? '',
        created_at: now,
        updated_at: now,
      });
      const view = await this.getVrf(id);
      await this.audit.record(actor, 'create', 'vrf', id, view.name, undefined, view);
      return view;
    });
  }

  /** The global VRF keeps its name (every other part finds it by id, metrics and CSV by name). */
  async updateVrf(id: number, patch: VrfUpdate, actor: Actor): Promise<VrfView> {
    return this.write(async () => {
      const row = await this.vrfRow(id);
      if (id === GLOBAL_VRF_ID && patch.name !== undefined && patch.name !== row.name) {
        throw unprocessable('the global VRF cannot be renamed', { field: 'name' });
      }
      await this.checkVrfNames(id, patch.name, patch.rd);
      const before = await this.vrfView(row);
      await this.tables.updateVrf(id, patch, isoNow(this.clock));
      const after = await this.getVrf(id);
      if (changed(before, after)) await this.audit.record(actor, 'update', 'vrf', id, row.name, before, after);
      return after;
    });
  }

  /** 409 while the VRF holds subnets (their ranges and addresses go with them); the global one stays. */
  async deleteVrf(id: number, actor: Actor): Promise<void> {
    await this.write(async () => {
      const row = await this.vrfRow(id);
      if (id === GLOBAL_VRF_ID) throw conflict('the global VRF cannot be deleted');
      const subnets = await this.tables.subnetCountIn(id);
      if (subnets > 0) {
        throw conflict(`VRF ${row.name} holds ${subnets} subnet(s); delete or move them first`, { subnets });
      }
      const before = await this.vrfView(row);
      await this.tables.deleteVrf(id);
      await this.audit.record(actor, 'delete', 'vrf', id, row.name, before, undefined);
    });
  }

  private async checkVrfNames(id: number | undefined, name: string | undefined, rd: string | null | undefined) {
    const byName = name === undefined ? undefined : await this.tables.vrfByName(name);
    if (byName && byName.id !== id) throw conflict(`VRF ${name} already exists (id ${byName.id})`, { id: byName.id });
    if (rd) {
      const byRd = (await this.tables.allVrfs()).find((v) => v.rd === rd && v.id !== id);
      if (byRd) throw conflict(`route distinguisher ${rd} is VRF ${byRd.name}'s (id ${byRd.id})`, { id: byRd.id });
    }
  }

  private async vrfRow(id: number): Promise<VrfRow> {
    const row = await this.tables.vrf(id);
    if (!row) throw notFound('vrf', id);
    return row;
  }

  private async vrfView(row: VrfRow): Promise<VrfView> {
    return { ...row, subnets: await this.tables.subnetCountIn(row.id) };
  }

  /** The VRF a create names (422 when there is none), the global one when it names none. */
  async vrfIdOf(id: number | undefined): Promise<number> {
    if (id === undefined || id === GLOBAL_VRF_ID) return GLOBAL_VRF_ID;
    if (!(await this.tables.vrf(id))) throw unprocessable(`no VRF has id ${id}`, { field: 'vrf_id' });
    return id;
  }

  private async vrfName(id: number): Promise<string> {
    return (await this.tables.vrf(id))?.name ?? String(id);
  }

  // ---------------------------------------------------------------- available prefixes (#15)
  /**
   * Free child prefixes of a subnet, nothing reserved: the next free blocks of `length`, or
   * without a length the free space as the fewest aligned prefixes. Child subnets and ranges
   * count as taken.
   */
  async availablePrefixes(subnetId: number, length: number | undefined, limit: number): Promise<Prefix[]> {
    const parent = await this.subnetRow(subnetId);
    const prefix = prefixOf(parent);
    if (length !== undefined) this.checkChildLength(parent, length);
    const taken = await this.takenInside(parent);
    return length === undefined ? freeSpace(prefix, taken, limit) : freePrefixes(prefix, taken, length, limit);
  }

  /**
   * Carves the first `count` free child subnets of `prefix_length` out of a subnet, all or none
   * (409 when they do not fit). Race-free across requests and replicas: the parent is locked
   * (PostgreSQL) or writes are serial (SQLite) while the free blocks are found and created.
   */
  async allocatePrefixes(subnetId: number, request: PrefixRequest, actor: Actor): Promise<SubnetView[]> {
    return this.write(async () => {
      await this.tables.lockSubnet(subnetId);
      const parent = await this.subnetRow(subnetId);
      const { prefix_length: length, count, ...fields } = request;
      this.checkChildLength(parent, length);
      const blocks = freePrefixes(prefixOf(parent), await this.takenInside(parent), length, count);
      if (blocks.length < count) {
        throw conflict(
          `${parent.cidr} has room for ${blocks.length} more /${length} (asked for ${count}); nothing was created`,
          { available: blocks.length },
        );
      }
      const created = [];
      for (const b of blocks) {
        created.push(await this.createSubnetRecord({ ...fields, vrf_id: parent.vrf_id, cidr: formatPrefix(b) }, actor));
      }
      return this.enrichSubnets(created);
    });
  }

  private checkChildLength(parent: SubnetRow, length: number): void {
    const bits = BITS[parent.family as Family];
    if (length <= parent.prefix_length || length > bits) {
      throw unprocessable(
        `prefix_length must be longer than the subnet's /${parent.prefix_length} and at most ${bits}`,
        { field: 'prefix_length' },
      );
    }
  }

  /** What a new child may not overlap: the subnets inside the parent and the ranges reaching into it. */
  private async takenInside(parent: SubnetRow): Promise<Interval[]> {
    const children = await this.tables.subnetsInside(parent.vrf_id, parent.first_key, parent.last_key, parent.id);
    const ranges = await this.tables.rangesOverlapping(parent.vrf_id, parent.first_key, parent.last_key);
    return [...children, ...ranges].map((r) => ({
      first: ipFromKey(r.first_key).value,
      last: ipFromKey(r.last_key).value,
    }));
  }

  /**
   * Every check createSubnet makes, without writing (a CSV import's validation pass): throws the
   * error the create would answer. Each check is an index lookup, whatever the number of subnets.
   */
  async checkNewSubnet(input: SubnetCreate): Promise<{
    vrf: number;
    prefix: Prefix;
    cidr: string;
    gateway: string | null;
    firstKey: Buffer;
    lastKey: Buffer;
  }> {
    const prefix = parseSubnetPrefix(input.cidr);
    const cidr = formatPrefix(prefix);
    const vrf = await this.vrfIdOf(input.vrf_id);
    const existing = await this.tables.subnetByCidr(vrf, cidr);
    if (existing) {
      throw conflict(`subnet ${cidr} already exists in VRF ${await this.vrfName(vrf)} (id ${existing.id})`, {
        id: existing.id,
      });
    }
    const gateway = this.checkGateway(prefix, input.gateway);
    const firstKey = ipKey({ family: prefix.family, value: prefix.network });
    const lastKey = ipKey({ family: prefix.family, value: lastOf(prefix) });
    // A range belongs to one subnet; a new child may not take part of an enclosing subnet's range.
    for (const r of await this.tables.rangesOverlapping(vrf, firstKey, lastKey)) {
      const owner = await this.subnetRow(r.subnet_id);
      if (owner.prefix_length < prefix.length) {
        throw conflict(
          `${cidr} would cut into range "${r.label}" (${r.start_address}–${r.end_address}) of ${owner.cidr}; ` +
            'change or delete that range first',
          { range_id: r.id },
        );
      }
    }
    return { vrf, prefix, cidr, gateway, firstKey, lastKey };
  }

  /**
   * Creates a subnet with its audit entry inside the caller's transaction (createSubnet and the
   * CSV import) and returns its row and its view as audited (not enriched).
   */
  async createSubnetRecord(input: SubnetCreate, actor: Actor): Promise<{ row: SubnetRow; view: SubnetView }> {
    const { vrf, prefix, cidr, gateway, firstKey, lastKey } = await this.checkNewSubnet(input);
    // PostgreSQL: the enclosing subnet locked, so no allocation there hands out part of the new
    // child meanwhile (allocation skips child subnets and locks the subnet it allocates in).
    if (this.tables.dialect === 'postgres') {
      const parent = (await this.tables.subnetsCovering(vrf, firstKey, lastKey))[0];
      if (parent) await this.tables.lockSubnet(parent.id);
    }

    const now = isoNow(this.clock);
    const row = {
      vrf_id: vrf,
      cidr,
      family: prefix.family,
      prefix_length: prefix.length,
      first_key: firstKey,
      last_key: lastKey,
      name: input.name ?? '',
      description: input.description ?? '',
      vlan: input.vlan ?? null,
      gateway,
      tags: JSON.stringify(dedupe(input.tags ?? [])),
      scan_enabled: input.scan_enabled === false ? 0 : 1,
      scan_interval_seconds: input.scan_interval_seconds ?? null,
      created_at: now,
      updated_at: now,
      agent_id: await this.checkAgent(input.agent_id ?? null),
    };
    const id = await this.tables.insertSubnet(row);
    const created = { id, ...row };
    const view = await this.subnetView(created);
    // The audit log records the IPAM object itself, without what other domains add to views
    // (record() serialises it at once, so enriching the view afterwards does not reach the log).
    await this.audit.record(actor, 'create', 'subnet', id, cidr, undefined, view);
    return { row: created, view };
  }

  /**
   * A subnet may be assigned to an agent that exists and is not revoked (422 otherwise), in any
   * VRF: host observations are kept per VRF (ARCHITECTURE.md "Discovery per VRF"), so two sites'
   * same /24 in two VRFs are two sets of hosts.
   */
  private async checkAgent(id: number | null): Promise<number | null> {
    if (id === null) return null;
    const agent = await this.tables.agentFor(id);
    if (!agent) throw new LanscapeError(422, 'invalid_agent', `no agent ${id}`);
    if (agent.revoked_at !== null) throw new LanscapeError(422, 'invalid_agent', `agent ${id} is revoked`);
    return id;
  }

  async updateSubnet(id: number, patch: SubnetUpdate, actor: Actor): Promise<SubnetView> {
    return this.write(async () => {
      await this.tables.lockSubnet(id); // PostgreSQL: allocations and range edits there wait
      const row = await this.subnetRow(id);
      const before = await this.subnetView(row);
      const gateway = patch.gateway === undefined ? undefined : this.checkGateway(prefixOf(row), patch.gateway);
      await this.tables.updateSubnet(
        id,
        {
          name: patch.name,
          description: patch.description,
          vlan: patch.vlan,
          gateway,
          tags: patch.tags && JSON.stringify(dedupe(patch.tags)),
          scan_enabled: patch.scan_enabled === undefined ? undefined : patch.scan_enabled ? 1 : 0,
          scan_interval_seconds: patch.scan_interval_seconds,
          agent_id: patch.agent_id === undefined ? undefined : await this.checkAgent(patch.agent_id),
        },
        isoNow(this.clock),
      );
      const after = await this.subnetView(await this.subnetRow(id));
      if (changed(before, after)) await this.audit.record(actor, 'update', 'subnet', id, row.cidr, before, after);
      return this.getSubnet(id);
    });
  }

  /**
   * Deletes a subnet and its ranges. Addresses that would be left in no subnet make this a 409
   * unless `force` is set, in which case they are deleted too (each with its audit entry).
   */
  async deleteSubnet(id: number, force: boolean, actor: Actor): Promise<void> {
    await this.write(async () => {
      await this.tables.lockSubnet(id); // PostgreSQL: allocations and range edits there wait
      const row = await this.subnetRow(id);
      const before = await this.subnetView(row);
      // With a parent subnet every address stays covered; otherwise those not in a child are orphaned.
      // (Index lookups around this subnet only: no index of every subnet inside the transaction.)
      const hasParent = (await this.tables.subnetsCovering(row.vrf_id, row.first_key, row.last_key)).some(
        (s) => s.id !== id,
      );
      const inChild = sortedIntervalLookup(
        (await this.tables.subnetsInside(row.vrf_id, row.first_key, row.last_key, id)).map((c) => {
          const p = prefixOf(c);
          return { first: p.network, last: lastOf(p) };
        }),
      );
      const orphans = hasParent
        ? []
        : (await this.tables.addressesBetween(row.vrf_id, row.first_key, row.last_key)).filter(
            (a) => !inChild(ipFromKey(a.ip_key).value),
          );
      if (orphans.length > 0 && !force) {
        throw conflict(
          `subnet ${row.cidr} holds ${orphans.length} address(es) that no other subnet contains; ` +
            'release them first or delete with ?force=true',
          { addresses: orphans.length },
        );
      }
      for (const a of orphans) {
        await this.tables.deleteAddress(a);
        await this.audit.record(actor, 'delete', 'address', a.id, a.address, this.addressViewOf(a, id), undefined);
      }
      // Ranges go with their subnet (ON DELETE CASCADE); the audit log says so.
      for (const r of (await this.tables.listRanges({ subnetId: id }, Number.MAX_SAFE_INTEGER, 0)).rows) {
        await this.audit.record(
          actor,
          'delete',
          'range',
          r.id,
          `${r.start_address}-${r.end_address}`,
          await this.rangeView(r),
          undefined,
        );
      }
      await this.tables.deleteSubnet(id);
      await this.audit.record(actor, 'delete', 'subnet', id, row.cidr, before, undefined);
    });
  }

  /**
   * The subnet view: known addresses plus collapsed free gaps, in address order. The layout is
   * computed from the address values alone (one number per address), a chunk at a time with the
   * event loop free in between, and cached until a write touches the subnet; a page is laid out
   * again from the cached address at or before its start and only its addresses are read in
   * full, so any page of a large subnet costs about the same and none holds the loop long.
   */
  async subnetRows(id: number, limit: number, offset: number): Promise<Paged<SubnetRowView> & { subnet: SubnetView }> {
    if (!this.snapshots.available) return this.subnetRowsLive(id, limit, offset);
    // One read snapshot for the whole page: the layout, the page's addresses and the counts
    // agree with each other however many writes land meanwhile.
    return this.snapshots.read(async (snap) => {
      const row = (await snap.subnet(id)) ?? (await this.subnetRow(id)); // 404 unless created since the snapshot began
      const layout = await this.layouts.atSnapshot(row, snap);
      const family = layout.family;
      const page = layoutPage(layout, limit, offset);
      const pageValues = page.flatMap((r) => (r.kind === 'address' ? [r.value] : []));
      const views: AddressView[] = [];
      for (let i = 0; i < pageValues.length; i += ROWS_CHUNK) {
        if (i > 0) await nextTurn();
        const part = pageValues.slice(i, i + ROWS_CHUNK);
        const details = await snap.addressesBetween(
          row.vrf_id,
          keyOf(family, part[0]!),
          keyOf(family, part[part.length - 1]!),
        );
        const index = await this.subnetIndex();
        views.push(
          ...(await this.enrich(
            details.map((d) => this.addressViewIn(d, index)),
            details.map((d) => d.ip_key),
          )),
        );
      }
      const counts = await this.countByStatePaced(row, snap);
      return this.rowsAnswer(layout, page, views, row, counts);
    });
  }

  /** subnetRows without a snapshot (a store in memory): starts over when a write spoils a page. */
  private async subnetRowsLive(
    id: number,
    limit: number,
    offset: number,
  ): Promise<Paged<SubnetRowView> & { subnet: SubnetView }> {
    for (let attempt = 1; ; attempt++) {
      const { layout } = await this.layouts.current(id, (i) => this.subnetRow(i));
      const family = layout.family;
      const page = layoutPage(layout, limit, offset);
      const pageValues = page.flatMap((r) => (r.kind === 'address' ? [r.value] : []));
      // The page's addresses in full, ROWS_CHUNK at a time with the loop free in between. A
      // write that adds or removes an address in the subnet meanwhile marks the layout stale:
      // then the page starts over (after a few tries, in one go, which no write can split).
      const views: AddressView[] = [];
      const chunk = attempt > 3 ? pageValues.length : ROWS_CHUNK;
      for (let i = 0; i < pageValues.length; i += chunk) {
        if (i > 0) await nextTurn();
        if (!(await this.layouts.isCurrent(layout))) break;
        const part = pageValues.slice(i, i + chunk);
        const details = await this.tables.addressesBetween(
          layout.vrfId,
          keyOf(family, part[0]!),
          keyOf(family, part[part.length - 1]!),
        );
        if (details.length !== part.length) break; // cannot happen with a current layout; start over if it does
        const index = await this.subnetIndex();
        views.push(
          ...(await this.enrich(
            details.map((d) => this.addressViewIn(d, index)),
            details.map((d) => d.ip_key),
          )),
        );
      }
      if (views.length !== pageValues.length) continue;
      // The subnet's own view: its utilization counts every address of the subnet, a chunk at a time.
      const counts = await this.countByStatePaced(await this.subnetRow(id));
      return this.rowsAnswer(layout, page, views, await this.subnetRow(id), counts);
    }
  }

  private async rowsAnswer(
    layout: SubnetLayout,
    page: LayoutRow<null>[],
    views: AddressView[],
    row: SubnetRow,
    counts: { state: string; n: number }[],
  ): Promise<Paged<SubnetRowView> & { subnet: SubnetView }> {
    const family = layout.family;
    let next = 0;
    const results = page.map((r): SubnetRowView =>
      r.kind === 'address'
        ? { type: 'address', address: views[next++]! }
        : {
            type: 'gap',
            start_address: formatIp({ family, value: r.first }),
            end_address: formatIp({ family, value: r.last }),
            size: Number(r.size),
            range_id: r.rangeId,
          },
    );
    const usage = (await this.utilizations([row], counts)).get(row.id)!;
    return {
      count: layout.count,
      results,
      subnet: (await this.enrichSubnets([{ row, view: await this.subnetView(row, undefined, usage) }]))[0]!,
    };
  }

  /**
   * countBetweenByState of a subnet, SCAN_CHUNK * 4 index entries per event-loop turn: the same
   * numbers for a subnet without writes meanwhile (otherwise as of somewhere in between).
   */
  private async countByStatePaced(
    row: SubnetRow,
    store: IpamStore = this.tables,
  ): Promise<{ state: string; n: number }[]> {
    const family = row.family;
    const total = new Map<string, number>();
    let lo: Buffer = row.first_key;
    for (;;) {
      const end = await store.addressKeyAt(row.vrf_id, { key: lo, inclusive: true }, row.last_key, SCAN_CHUNK * 4);
      for (const c of await store.countBetweenByState(row.vrf_id, lo, end ?? row.last_key))
        total.set(c.state, (total.get(c.state) ?? 0) + c.n);
      const next = end && ipFromKey(end).value + 1n;
      if (next === undefined || Buffer.compare(end!, row.last_key) >= 0) break;
      lo = keyOf(family, next);
      await nextTurn();
    }
    // In ADDRESS_STATES order, as countBetweenByState answers (by_state keeps that order).
    return ADDRESS_STATES.flatMap((state) => (total.get(state) ? [{ state, n: total.get(state)! }] : []));
  }

  // ---------------------------------------------------------------- allocation
  /** The next `limit` free addresses in a subnet or range, without reserving them. */
  async availableIps(scope: AllocationScope, limit: number): Promise<string[]> {
    const { family, bounds, fixed, runs } = await this.allocationPlan(scope);
    return (await takeFreeAround(bounds, fixed, runs, limit)).map((value) => formatIp({ family, value }));
  }

  /**
   * Reserves the next `count` free addresses atomically, in one transaction; 409 when fewer are
   * free. Outside a caller's transaction, small counts share one with the allocations waiting on
   * the same scope (allocateCombined).
   */
  async allocate(scope: AllocationScope, request: AllocateRequest, actor: Actor): Promise<AddressView[]> {
    if (request.count <= ALLOCATION_STEP && !this.store.inTransaction)
      return this.allocateCombined(scope, request, actor);
    return this.write(async () => {
      const plan = await this.allocationPlan(scope, true);
      const free = await takeEnough(plan, request.count);
      return this.insertNewAddresses(plan.subnet.vrf_id, plan.family, plan.subnet.id, free, request, actor);
    });
  }

  /**
   * Allocations of one scope that wait while its transaction is in flight go together in the
   * next one (combiner.ts): one lock, one plan for the sum of their counts, one multi-row insert
   * with each request's own fields and audit actor, one commit. Each is answered as if it had run
   * alone after the ones before it: its own addresses, or its own 409 while the others succeed.
   */
  private readonly combiner: Combiner<PendingAllocation, AddressView[]>;

  /** Most allocations one combined transaction answered so far, for tests and tuning. */
  get largestAllocationBatch(): number {
    return this.combiner.maxBatch;
  }

  private allocateCombined(scope: AllocationScope, request: AllocateRequest, actor: Actor): Promise<AddressView[]> {
    const key = 'rangeId' in scope ? `range:${scope.rangeId}` : `subnet:${scope.subnetId}`;
    return this.combiner.submit(key, { scope, request, actor });
  }

  /**
   * One combined batch, inside its transaction: the scope locked and planned first, then the
   * requests waiting by then claimed (in arrival order), those that came during the wait included.
   */
  private async allocateBatch(
    scope: AllocationScope,
    claim: () => readonly PendingAllocation[],
  ): Promise<Outcome<AddressView[]>[]> {
    const plan = await this.allocationPlan(scope, true);
    const batch = claim();
    if (batch.length === 0) return []; // the batch before took them all
    const counts = batch.map((p) => p.request.count);
    const free = await takeFreeAround(
      plan.bounds,
      plan.fixed,
      plan.runs,
      counts.reduce((a, b) => a + b, 0),
    );
    const shares = shareOut(free, counts);
    const entries = batch.flatMap((p, i) => {
      const share = shares[i]!;
      if (!('values' in share)) return [];
      return share.values.map((value) => ({
        vrf: plan.subnet.vrf_id,
        ip: { family: plan.family, value },
        fields: p.request,
        subnetId: plan.subnet.id,
        actor: p.actor,
      }));
    });
    const views = await this.storeNewAddresses(entries, batch[0]!.actor);
    let next = 0;
    return shares.map((share, i) => {
      if (!('values' in share)) return { ok: false, error: notEnough(plan, counts[i]!, share.available) };
      next += share.values.length;
      return { ok: true, value: views.slice(next - share.values.length, next) };
    });
  }

  /**
   * Addresses chosen by allocations still being stored (allocateInSlices), per allocation:
   * next-free skips them and creating one of them is a 409, so nothing else in this process takes
   * them between the slices that store them.
   */
  private readonly reservations = new Map<number, { vrf: number; family: Family; lookup: BlockLookup }>();
  private reservationSeq = 0;

  private reservedBlock(vrf: number, family: Family, at: bigint): Interval | undefined {
    for (const r of this.reservations.values()) {
      if (r.vrf !== vrf || r.family !== family) continue;
      const hit = r.lookup(at);
      if (hit) return hit;
    }
    return undefined;
  }

  private nextReserved(vrf: number, family: Family, at: bigint): bigint | undefined {
    let next: bigint | undefined;
    for (const r of this.reservations.values()) {
      if (r.vrf !== vrf || r.family !== family) continue;
      const n = r.lookup.nextStart?.(at);
      if (n !== undefined && (next === undefined || n < next)) next = n;
    }
    return next;
  }

  /**
   * Reserves the next `count` free addresses like allocate, as slices of at most `sliceMs` of
   * work that each run as one transaction through `run` (the WriteBatcher), so a count of
   * thousands never holds the event loop for long. All or nothing as the caller sees it: the
   * first slice chooses every address at once (409 when fewer are free; nothing is stored) and
   * reserves them in memory, so no other allocation or create takes one between slices. When a
   * later slice fails (the subnet was deleted meanwhile), the addresses already stored are
   * deleted again, each with its audit entry, before the error is thrown. Others may see some of
   * the addresses before the answer.
   */
  async allocateInSlices(
    scope: AllocationScope,
    request: AllocateRequest,
    actor: Actor,
    run: <T>(fn: () => T) => Promise<T>,
    sliceMs = SLICE_MS,
  ): Promise<AddressView[]> {
    // One slice's worth: stored in one transaction anyway, so it may share it (allocate).
    if (request.count <= ALLOCATION_STEP) return this.allocate(scope, request, actor);
    const token = ++this.reservationSeq;
    const views: AddressView[] = [];
    let plan: { vrf: number; family: Family; subnetId: number; generation: number; free: bigint[] } | undefined;
    /** Whether the slice that made `plan` committed (PostgreSQL may run a slice again: then it plans again). */
    let planned = false;
    try {
      do {
        // Pushed only once committed: a slice that rolls back leaves nothing behind.
        views.push(
          ...(await run(async () => {
            const deadline = performance.now() + sliceMs;
            if (!plan || !planned) {
              this.reservations.delete(token);
              const p = await this.allocationPlan(scope, true);
              const free = await takeEnough(p, request.count);
              plan = {
                vrf: p.subnet.vrf_id,
                family: p.family,
                subnetId: p.subnet.id,
                generation: this.tables.subnetGeneration,
                free,
              };
              this.reservations.set(token, {
                vrf: p.subnet.vrf_id,
                family: p.family,
                lookup: sortedIntervalLookup(free.map(point)),
              });
            } else {
              await this.tables.lockSubnet(plan.subnetId);
              await this.subnetRow(plan.subnetId); // 404 once the subnet is gone
            }
            // The addresses' subnet is the allocation's own unless subnets changed since the plan.
            const subnetId = this.tables.subnetGeneration === plan.generation ? plan.subnetId : undefined;
            const out: AddressView[] = [];
            let next = views.length;
            do {
              const part = plan.free.slice(next, next + ALLOCATION_STEP);
              out.push(...(await this.insertNewAddresses(plan.vrf, plan.family, subnetId, part, request, actor)));
              next += part.length;
            } while (next < plan.free.length && performance.now() < deadline);
            return out;
          })),
        );
        planned = true;
      } while (views.length < plan!.free.length);
      return views;
    } catch (e) {
      if (views.length > 0)
        await this.releaseCreated(
          views.map((v) => v.id),
          actor,
          run,
          sliceMs,
        );
      throw e;
    } finally {
      this.reservations.delete(token);
    }
  }

  /**
   * Deletes addresses this process created moments ago (undoing an interrupted allocation or
   * import), each with its audit entry, in slices through `run`. Ones already gone are skipped.
   */
  async releaseCreated(
    ids: readonly number[],
    actor: Actor,
    run: <T>(fn: () => T) => Promise<T>,
    sliceMs = SLICE_MS,
  ): Promise<void> {
    let next = 0;
    while (next < ids.length) {
      next = await run(async () => {
        const deadline = performance.now() + sliceMs;
        let i = next;
        do {
          const row = await this.tables.address(ids[i]!);
          if (row) {
            await this.tables.deleteAddress(row);
            await this.audit.record(
              actor,
              'delete',
              'address',
              row.id,
              row.address,
              await this.addressView(row),
              undefined,
            );
          }
          i += 1;
        } while (i < ids.length && performance.now() < deadline);
        return i;
      });
    }
  }

  /**
   * What next-free may hand out: the usable addresses of the subnet (or of the chosen range)
   * minus used addresses and three kinds of blocked interval: the gateways of the subnet and of
   * every subnet covering it, ranges closed to auto-allocation that reach into it (a parent's
   * DHCP pool included; a range chosen explicitly is the exception), and child subnets, whose
   * space is theirs to hand out. `lock` (inside a write): the subnet row is locked first
   * (PostgreSQL), so what is read here stays true until the allocation commits.
   */
  private async allocationPlan(scope: AllocationScope, lock = false): Promise<AllocationPlan> {
    let range = 'rangeId' in scope ? await this.rangeRow(scope.rangeId) : undefined;
    const subnetId = range ? range.subnet_id : (scope as { subnetId: number }).subnetId;
    let subnet: SubnetRow;
    if (lock && this.tables.dialect === 'postgres') {
      // Read under the lock: a range or subnet deleted meanwhile answers 404.
      const locked = await this.tables.lockedSubnet(subnetId);
      if (!locked) throw notFound('subnet', subnetId);
      subnet = locked;
      if (range) range = await this.rangeRow(range.id);
    } else {
      subnet = await this.subnetRow(subnetId);
    }
    const prefix = prefixOf(subnet);
    const usable = usableBounds(prefix);
    const vrf = subnet.vrf_id;
    const bounds = (range ? clip(rangeInterval(range), usable) : usable) ?? { first: 1n, last: 0n };
    const start = { family: prefix.family, value: bounds.first };
    // Gateways, ranges, children and the runs where the search starts: one round trip.
    const near = await this.tables.allocationSurroundings(vrf, subnet.id, subnet.first_key, subnet.last_key, start);
    const fixed: Interval[] = near.gateways.map((g) => point(parseIp(g).value));
    for (const r of near.ranges) if (!r.auto_allocate && r.id !== range?.id) fixed.push(rangeInterval(r));
    fixed.push(...near.children);
    // The runs of used addresses: the one blocker read from the store (core/allocation.ts).
    const runs: StoreBlockLookup = (at) => this.tables.runContaining(vrf, { family: prefix.family, value: at });
    runs.nextStart = (at) => this.tables.nextRunStart(vrf, { family: prefix.family, value: at });
    runs.around = async (at) =>
      aroundFromKnown(bounds.first, near.around, at) ??
      this.tables.runAround(vrf, { family: prefix.family, value: at });
    const blockers = [sortedIntervalLookup(fixed)];
    // Addresses other allocations have chosen but not stored yet.
    if (this.reservations.size > 0) {
      const reserved: BlockLookup = (at) => this.reservedBlock(vrf, prefix.family, at);
      reserved.nextStart = (at) => this.nextReserved(vrf, prefix.family, at);
      blockers.push(reserved);
    }
    return {
      family: prefix.family,
      subnet,
      bounds,
      fixed: blockers,
      runs,
      what: range ? `range ${range.label} (${range.start_address}–${range.end_address})` : `subnet ${subnet.cidr}`,
    };
  }

  // ---------------------------------------------------------------- addresses
  /** @param filter.after keyset paging: only addresses after this one (in address order) */
  async listAddresses(
    filter: Omit<AddressFilter, 'between' | 'after'> & {
      subnet_id?: number | undefined;
      after?: string | undefined;
      /** The VRF of `after` when the listing spans VRFs (default: the VRF filtered on, else global). */
      after_vrf_id?: number | undefined;
    },
    limit: number,
    offset: number,
  ): Promise<Paged<AddressView>> {
    let between: [Buffer, Buffer] | undefined;
    let vrf = filter.vrf;
    if (filter.subnet_id !== undefined) {
      const s = await this.subnetRow(filter.subnet_id);
      between = [s.first_key, s.last_key];
      if (vrf !== undefined && vrf !== s.vrf_id) return { count: 0, results: [] };
      vrf = s.vrf_id;
    }
    const after =
      filter.after === undefined
        ? undefined
        : { vrf: filter.after_vrf_id ?? vrf ?? GLOBAL_VRF_ID, key: ipKey(parseIp(filter.after)) };
    const { count, rows } = await this.tables.listAddresses({ ...filter, vrf, between, after }, limit, offset);
    const index = await this.subnetIndex();
    return {
      count,
      results: await this.enrich(
        rows.map((r) => this.addressViewIn(r, index)),
        rows.map((r) => r.ip_key),
      ),
    };
  }

  /**
   * listAddresses for the HTTP API: a filter no index serves (q, tag, source) has to look at
   * every address in scope, and a large offset walks that many index entries, so those are
   * counted and read SCAN_CHUNK addresses at a time with the event loop free in between (a
   * search of 300k addresses takes as long, but holds nothing up). Not a snapshot: writes
   * meanwhile may show up in the rows or the count.
   */
  async listAddressesPaced(
    filter: Parameters<IpamService['listAddresses']>[0],
    limit: number,
    offset: number,
  ): Promise<Paged<AddressView>> {
    if (!filter.q && !filter.tag && !filter.source && offset <= SCAN_CHUNK)
      return this.listAddresses(filter, limit, offset);
    const subnet = filter.subnet_id === undefined ? undefined : await this.subnetRow(filter.subnet_id);
    if (subnet && filter.vrf !== undefined && filter.vrf !== subnet.vrf_id) return { count: 0, results: [] };
    const last = subnet?.last_key ?? KEY_MAX;
    const cursorVrf = filter.after_vrf_id ?? subnet?.vrf_id ?? filter.vrf ?? GLOBAL_VRF_ID;
    const criteria = { state: filter.state, source: filter.source, tag: filter.tag, q: filter.q };
    // Listing order is VRF, then address: one key walk per VRF in scope.
    const vrfs = subnet
      ? [subnet.vrf_id]
      : filter.vrf !== undefined
        ? [filter.vrf]
        : (await this.tables.allVrfs()).map((v) => v.id);
    let count = 0;
    let skip = offset;
    const rows: AddressRow[] = [];
    for (const vrf of vrfs) {
      // The cursor: VRFs before its own are counted but listed from none; its own from after it.
      const after =
        filter.after === undefined || vrf > cursorVrf
          ? undefined
          : vrf < cursorVrf
            ? KEY_MAX
            : ipKey(parseIp(filter.after));
      let lo: KeyBound = { key: subnet?.first_key ?? KEY_MIN, inclusive: true };
      for (;;) {
        const end = await this.tables.addressKeyAt(vrf, lo, last, SCAN_CHUNK);
        const hi = end ?? last;
        const want = { limit: limit - rows.length, offset: skip };
        if (!after || Buffer.compare(after, lo.key) < 0) {
          const part = await this.tables.addressesIn(vrf, criteria, lo, hi, rows.length < limit ? want : undefined);
          count += part.count;
          rows.push(...part.rows);
          skip = Math.max(0, skip - part.count);
        } else {
          // The chunk holding the cursor: everything counts, only rows above it are listed.
          count += (await this.tables.addressesIn(vrf, criteria, lo, hi)).count;
          if (Buffer.compare(after, hi) < 0) {
            const part = await this.tables.addressesIn(
              vrf,
              criteria,
              { key: after, inclusive: false },
              hi,
              rows.length < limit ? want : undefined,
            );
            rows.push(...part.rows);
            skip = Math.max(0, skip - part.count);
          }
        }
        if (!end) break;
        lo = { key: end, inclusive: false };
        await nextTurn();
      }
    }
    const index = await this.subnetIndex();
    return {
      count,
      results: await this.enrich(
        rows.map((r) => this.addressViewIn(r, index)),
        rows.map((r) => r.ip_key),
      ),
    };
  }

  async getAddress(id: number): Promise<AddressView> {
    const row = await this.addressRow(id);
    return await this.enrich(await this.addressView(row), [row.ip_key]);
  }

  async createAddress(input: AddressCreate, actor: Actor): Promise<AddressView> {
    const ip = parseIp(input.address);
    return this.write(async () => await this.insertAddress(await this.vrfIdOf(input.vrf_id), ip, input, actor));
  }

  /**
   * createAddress for several inputs inside the caller's transaction (the CSV import): each is
   * checked like createAddress (BatchInputError says which one broke a rule), then all are
   * stored at once, the runs index once per stretch of consecutive addresses. The views are as
   * audited, not enriched.
   */
  async createAddressRecords(inputs: readonly AddressCreate[], actor: Actor): Promise<AddressView[]> {
    const entries: { vrf: number; ip: IP; fields: AddressCreate; subnetId: number }[] = [];
    const ips: { vrf: number; ip: IP }[] = [];
    for (const [index, fields] of inputs.entries()) {
      try {
        ips.push({ vrf: await this.vrfIdOf(fields.vrf_id), ip: parseIp(fields.address) });
      } catch (e) {
        throw e instanceof LanscapeError ? new BatchInputError(index, e) : e;
      }
    }
    const checked = await this.checkNewAddresses(ips);
    for (const [index, fields] of inputs.entries()) {
      const subnet = checked[index]!;
      if (subnet instanceof LanscapeError) throw new BatchInputError(index, subnet);
      entries.push({ ...ips[index]!, fields, subnetId: subnet.id });
    }
    // PostgreSQL: the subnets written into, locked in id order (the runs of used addresses there).
    if (this.tables.dialect === 'postgres') {
      for (const id of [...new Set(entries.map((e) => e.subnetId))].sort((a, b) => a - b))
        await this.tables.lockSubnet(id);
    }
    try {
      return await this.storeNewAddresses(entries, actor);
    } catch (e) {
      // Two equal inputs pass their checks alike; the UNIQUE key stops the second.
      if (!isUniqueViolation(e)) throw e;
      const seen = new Set<string>();
      const index = entries.findIndex((e) => seen.size === seen.add(`${e.vrf}/${formatIp(e.ip)}`).size);
      throw new BatchInputError(
        Math.max(index, 0),
        conflict(`${inputs[Math.max(index, 0)]!.address} is twice in one batch`),
      );
    }
  }

  /**
   * Devices a sweep found that IPAM has no row for (source "discovered"), inside the caller's
   * write (a slice of applying a sweep): each checked like createAddress, one a rule refuses
   * (the network address of a child subnet, an address recorded meanwhile) left out, the rest
   * stored at once. Resolves with how many were recorded.
   */
  async recordDiscovered(
    devices: readonly { vrf: number; ip: IP; fields: AddressFields }[],
    actor: Actor,
  ): Promise<number> {
    if (devices.length === 0) return 0;
    const checked = await this.checkNewAddresses(devices);
    const entries = devices.flatMap((d, i) => {
      const subnet = checked[i]!;
      return subnet instanceof LanscapeError ? [] : [{ ...d, subnetId: subnet.id }];
    });
    if (this.tables.dialect === 'postgres') {
      for (const id of [...new Set(entries.map((e) => e.subnetId))].sort((a, b) => a - b))
        await this.tables.lockSubnet(id);
    }
    await this.storeNewAddresses(entries, actor);
    return entries.length;
  }

  async updateAddress(id: number, patch: AddressFields, actor: Actor): Promise<AddressView> {
    return this.write(async () => {
      const row = await this.addressRow(id);
      const before = await this.addressView(row);
      await this.tables.updateAddress(
        id,
        {
          state: patch.state,
          hostname: patch.hostname,
          description: patch.description,
          owner: patch.owner,
          source: patch.source,
          mac: patch.mac === undefined ? undefined : patch.mac && normalizeMac(patch.mac),
          tags: patch.tags && JSON.stringify(dedupe(patch.tags)),
        },
        isoNow(this.clock),
      );
      const after = await this.addressView(await this.addressRow(id));
      if (changed(before, after)) await this.audit.record(actor, 'update', 'address', id, row.address, before, after);
      return this.getAddress(id);
    });
  }

  async deleteAddress(id: number, actor: Actor): Promise<void> {
    await this.write(async () => {
      let row = await this.addressRow(id);
      if (this.tables.dialect === 'postgres') {
        // The runs of used addresses around it change: its subnet locked, the row read again.
        const subnet = await this.tables.mostSpecificRef(row.vrf_id, ipFromKey(row.ip_key));
        if (subnet) await this.tables.lockSubnet(subnet.id);
        row = await this.addressRow(id);
      }
      const before = await this.addressView(row);
      await this.tables.deleteAddress(row);
      await this.audit.record(actor, 'delete', 'address', id, row.address, before, undefined);
    });
  }

  /**
   * Every check creating the address makes, without writing (a CSV import's validation pass):
   * throws the error the create would answer, else returns the address's subnet.
   */
  async checkNewAddress(vrf: number, ip: IP): Promise<SubnetRef> {
    const subnet = await this.tables.mostSpecificRef(vrf, ip);
    return this.admitNewAddress(ip, subnet, subnet && (await this.tables.addressAt(vrf, ip)), vrf);
  }

  /**
   * checkNewAddress for many addresses (CSV imports): the subnets from the subnet list, the
   * existing addresses from one query per few hundred — not a few round trips per address. Per
   * input: its subnet, or the LanscapeError checkNewAddress would throw.
   */
  async checkNewAddresses(ips: readonly { vrf: number; ip: IP }[]): Promise<(SubnetRef | LanscapeError)[]> {
    const subnets = await this.tables.allSubnets();
    const index = indexOfSubnets(subnets);
    const existing = new Map<number, Map<string, AddressRow>>();
    for (const vrf of new Set(ips.map((i) => i.vrf))) {
      existing.set(
        vrf,
        await this.tables.addressesAt(
          vrf,
          ips.filter((i) => i.vrf === vrf).map((i) => ipKey(i.ip)),
        ),
      );
    }
    return ips.map(({ vrf, ip }) => {
      try {
        const id = index.lookup.mostSpecific(vrf, ip);
        return this.admitNewAddress(
          ip,
          id === null ? undefined : index.byId.get(id),
          existing.get(vrf)!.get(ipKey(ip).toString('hex')),
          vrf,
        );
      } catch (e) {
        if (e instanceof LanscapeError) return e;
        throw e;
      }
    });
  }

  /** The checks of a new address, given its most specific subnet and the address row already there. */
  private admitNewAddress(
    ip: IP,
    subnet: SubnetRef | undefined,
    existing: AddressRow | undefined,
    vrf: number,
  ): SubnetRef {
    const text = formatIp(ip);
    if (!subnet) {
      throw unprocessable(
        `no subnet contains ${text}${vrf === GLOBAL_VRF_ID ? '' : ` in VRF id ${vrf}`}; create the subnet first`,
      );
    }
    const prefix = prefixOf(subnet);
    const usable = usableBounds(prefix);
    if (ip.value < usable.first || ip.value > usable.last) {
      throw unprocessable(
        `${text} is the ${ip.value === prefix.network ? 'network' : 'broadcast'} address of ${subnet.cidr}`,
      );
    }
    if (existing) {
      throw conflict(`${text} is already ${existing.state} (address id ${existing.id})`, {
        id: existing.id,
        state: existing.state,
      });
    }
    if (this.reservations.size > 0 && this.reservedBlock(vrf, ip.family, ip.value)) {
      throw conflict(`${text} is being allocated by a request in progress`, { reserved: true });
    }
    return subnet;
  }

  private async insertAddress(vrf: number, ip: IP, fields: AddressFields, actor: Actor): Promise<AddressView> {
    const subnet = await this.checkNewAddress(vrf, ip);
    await this.tables.lockSubnet(subnet.id);
    return (await this.storeNewAddresses([{ vrf, ip, fields, subnetId: subnet.id }], actor))[0]!;
  }

  /** Free addresses of one family with the same fields (an allocation): see storeNewAddresses. */
  private async insertNewAddresses(
    vrf: number,
    family: Family,
    subnetId: number | undefined,
    values: readonly bigint[],
    fields: AddressFields,
    actor: Actor,
  ): Promise<AddressView[]> {
    return this.storeNewAddresses(
      values.map((value) => ({ vrf, ip: { family, value }, fields, subnetId })),
      actor,
    );
  }

  /**
   * Stores addresses known to be free and allowed (checked by the caller) with one audit entry
   * each; `subnetId` is an address's most specific subnet when the caller knows it. The views
   * are built from the rows written, not read back.
   */
  private async storeNewAddresses(
    entries: readonly { vrf: number; ip: IP; fields: AddressFields; subnetId: number | undefined; actor?: Actor }[],
    actor: Actor,
  ): Promise<AddressView[]> {
    const now = isoNow(this.clock);
    let fieldsOf: AddressFields | undefined;
    let common: Omit<NewAddressRow, 'vrf_id' | 'ip_key' | 'address' | 'family'> | undefined;
    const rows = entries.map(({ vrf, ip, fields }) => {
      if (fields !== fieldsOf || !common) {
        fieldsOf = fields;
        common = {
          state: fields.state ?? 'reserved',
          hostname: fields.hostname ?? null,
          mac: fields.mac ? normalizeMac(fields.mac) : null,
          description: fields.description ?? '',
          owner: fields.owner ?? null,
          tags: JSON.stringify(dedupe(fields.tags ?? [])),
          source: fields.source ?? 'manual',
          created_at: now,
          updated_at: now,
        };
      }
      return { vrf_id: vrf, ip_key: ipKey(ip), address: formatIp(ip), family: ip.family, ...common };
    });
    const ids = await this.tables.insertAddresses(rows);
    const views: AddressView[] = [];
    for (let i = 0; i < rows.length; i++) {
      const row = { ...rows[i]!, id: ids[i]!, ip_low: 0 };
      const subnetId = entries[i]!.subnetId;
      views.push(subnetId === undefined ? await this.addressView(row) : this.addressViewOf(row, subnetId));
    }
    await this.audit.recordMany(
      actor,
      views.map((v, i) => ({
        actor: entries[i]!.actor,
        action: 'create' as const,
        objectType: 'address',
        objectId: v.id,
        repr: v.address,
        before: undefined,
        after: v,
      })),
    );
    return views;
  }

  // ---------------------------------------------------------------- ranges
  async listRanges(
    filter: { subnetId?: number | undefined; vrf?: number | undefined },
    limit: number,
    offset: number,
  ): Promise<Paged<RangeView>> {
    if (filter.subnetId !== undefined) await this.subnetRow(filter.subnetId);
    const { count, rows } = await this.tables.listRanges(filter, limit, offset);
    const results: RangeView[] = [];
    for (const r of rows) results.push(await this.rangeView(r));
    return { count, results };
  }

  async getRange(id: number): Promise<RangeView> {
    return this.rangeView(await this.rangeRow(id));
  }

  async createRange(input: RangeCreate, actor: Actor): Promise<RangeView> {
    return this.write(async () => {
      const subnet = await this.subnetRow(input.subnet_id);
      if (input.vrf_id !== undefined && input.vrf_id !== subnet.vrf_id) {
        throw unprocessable(`subnet ${subnet.cidr} is in VRF id ${subnet.vrf_id}, not ${input.vrf_id}`, {
          field: 'vrf_id',
        });
      }
      await this.tables.lockSubnet(subnet.id); // then the overlap checks below hold until commit
      const prefix = prefixOf(subnet);
      const start = parseIp(input.start_address);
      const end = parseIp(input.end_address);
      requireUsable(prefix, start, 'start_address');
      requireUsable(prefix, end, 'end_address');
      if (start.value > end.value) throw unprocessable('start_address is after end_address');
      const firstKey = ipKey(start);
      const lastKey = ipKey(end);
      const clash = (await this.tables.rangesOverlapping(subnet.vrf_id, firstKey, lastKey))[0];
      if (clash) {
        throw conflict(
          `overlaps range "${clash.label}" (${clash.start_address}–${clash.end_address}, id ${clash.id})`,
          { id: clash.id },
        );
      }
      const child = (await this.tables.subnetsInside(subnet.vrf_id, subnet.first_key, subnet.last_key, subnet.id)).find(
        (c) => Buffer.compare(c.first_key, lastKey) <= 0 && Buffer.compare(firstKey, c.last_key) <= 0,
      );
      if (child) {
        throw conflict(
          `overlaps child subnet ${child.cidr}; a range belongs to the most specific subnet, so create it there`,
          { subnet_id: child.id },
        );
      }
      const now = isoNow(this.clock);
      const id = await this.tables.insertRange({
        subnet_id: subnet.id,
        vrf_id: subnet.vrf_id,
        start_address: formatIp(start),
        end_address: formatIp(end),
        first_key: firstKey,
        last_key: lastKey,
        label: input.label,
        color: input.color ?? null,
        purpose: input.purpose ?? 'other',
        description: input.description ?? '',
        auto_allocate: input.auto_allocate === false ? 0 : 1,
        mark_utilized: input.mark_utilized ? 1 : 0,
        created_at: now,
        updated_at: now,
      });
      const view = await this.getRange(id);
      await this.audit.record(
        actor,
        'create',
        'range',
        id,
        `${view.start_address}-${view.end_address}`,
        undefined,
        view,
      );
      return view;
    });
  }

  async updateRange(id: number, patch: RangeUpdate, actor: Actor): Promise<RangeView> {
    return this.write(async () => {
      const row = await this.lockedRange(id);
      const before = await this.rangeView(row);
      await this.tables.updateRange(
        id,
        {
          label: patch.label,
          color: patch.color,
          purpose: patch.purpose,
          description: patch.description,
          auto_allocate: patch.auto_allocate === undefined ? undefined : patch.auto_allocate ? 1 : 0,
          mark_utilized: patch.mark_utilized === undefined ? undefined : patch.mark_utilized ? 1 : 0,
        },
        isoNow(this.clock),
      );
      const after = await this.getRange(id);
      if (changed(before, after))
        await this.audit.record(actor, 'update', 'range', id, `${row.start_address}-${row.end_address}`, before, after);
      return after;
    });
  }

  async deleteRange(id: number, actor: Actor): Promise<void> {
    await this.write(async () => {
      const row = await this.lockedRange(id);
      const before = await this.rangeView(row);
      await this.tables.deleteRange(id);
      await this.audit.record(
        actor,
        'delete',
        'range',
        id,
        `${row.start_address}-${row.end_address}`,
        before,
        undefined,
      );
    });
  }

  // ---------------------------------------------------------------- utilization
  async subnetUtilization(row: SubnetRow): Promise<UtilizationWithStates> {
    return (await this.utilizations([row])).get(row.id)!;
  }

  /**
   * Utilization of many subnets with a fixed number of statements (one GROUP BY join for the
   * counts, one for addresses on subnet edges, one for ranges), not a few per subnet: /metrics
   * and the subnet list ask for all of them at once.
   */
  async utilizations(
    rows: readonly SubnetRow[],
    oneCounts?: readonly { state: string; n: number }[],
  ): Promise<Map<number, UtilizationWithStates>> {
    const one = rows.length === 1 ? rows[0]! : undefined;
    const counts = new Map<number, Record<string, number>>();
    const countsOf = (id: number) => counts.get(id) ?? counts.set(id, {}).get(id)!;
    if (one) {
      for (const c of oneCounts ?? (await this.tables.countBetweenByState(one.vrf_id, one.first_key, one.last_key)))
        countsOf(one.id)[c.state] = c.n;
    } else {
      for (const c of await this.tables.countsBySubnetAndState()) countsOf(c.subnet_id)[c.state] = c.n;
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const e of await this.tables.addressesOnEdges(one?.id)) {
      const row = byId.get(e.subnet_id);
      if (!row) continue;
      const usable = usableBounds(prefixOf(row));
      const value = e.edge === 'first' ? ipFromKey(row.first_key).value : ipFromKey(row.last_key).value;
      if (value < usable.first || value > usable.last) countsOf(row.id)[e.state]! -= 1;
    }
    const ranges = one
      ? await this.tables.rangesInside(one.vrf_id, one.first_key, one.last_key)
      : await this.tables.allRanges();
    const out = new Map<number, UtilizationWithStates>();
    for (const row of rows) {
      const prefix = prefixOf(row);
      const usable = usableBounds(prefix);
      const byState = Object.fromEntries(Object.entries(countsOf(row.id)).filter(([, n]) => n > 0));
      const addressCount = Object.values(byState).reduce((a, n) => a + BigInt(n), 0n);
      const utilized: { size: bigint; addressCount: bigint }[] = [];
      for (const r of rangesWithin(ranges, row.vrf_id, row.first_key, row.last_key)) {
        if (r.mark_utilized) utilized.push(...(await this.utilizedPart(prefix.family, r, usable)));
      }
      out.set(row.id, { ...utilization(usable.last - usable.first + 1n, addressCount, utilized), byState });
    }
    return out;
  }

  async rangeUtilization(row: RangeRow, subnet: SubnetRow): Promise<UtilizationWithStates> {
    const prefix = prefixOf(subnet);
    const bounds = clip(rangeInterval(row), usableBounds(prefix));
    const byState: Record<string, number> = {};
    let addressCount = 0n;
    if (bounds) {
      for (const { state, n } of await this.tables.countBetweenByState(
        row.vrf_id,
        keyOf(prefix.family, bounds.first),
        keyOf(prefix.family, bounds.last),
      )) {
        byState[state] = n;
        addressCount += BigInt(n);
      }
    }
    const size = bounds ? intervalSize(bounds) : 0n;
    const utilized = bounds && row.mark_utilized ? [{ size, addressCount }] : [];
    return { ...utilization(size, addressCount, utilized), byState };
  }

  /** The usable part of a range marked used, with the addresses already inside it. */
  private async utilizedPart(family: Family, r: RangeRow, usable: Bounds) {
    const part = clip(rangeInterval(r), usable);
    if (!part) return [];
    const inside = await this.tables.countBetween(r.vrf_id, keyOf(family, part.first), keyOf(family, part.last));
    return [{ size: intervalSize(part), addressCount: BigInt(inside) }];
  }

  // ---------------------------------------------------------------- views and lookups
  async subnetRow(id: number): Promise<SubnetRow> {
    const row = await this.tables.subnet(id);
    if (!row) throw notFound('subnet', id);
    return row;
  }

  private async addressRow(id: number): Promise<AddressRow> {
    const row = await this.tables.address(id);
    if (!row) throw notFound('address', id);
    return row;
  }

  /** A range row with its subnet locked (PostgreSQL; read again under the lock). */
  private async lockedRange(id: number): Promise<RangeRow> {
    const row = await this.rangeRow(id);
    if (this.tables.dialect !== 'postgres') return row;
    await this.tables.lockSubnet(row.subnet_id);
    return this.rangeRow(id);
  }

  private async rangeRow(id: number): Promise<RangeRow> {
    const row = await this.tables.range(id);
    if (!row) throw notFound('range', id);
    return row;
  }

  /**
   * One subnet's place in the tree from the subnets around it (ancestors and descendants by key
   * range), so creating or reading one subnet does not read them all.
   */
  private async treeNode(row: SubnetRow): Promise<TreeNode> {
    const vrf = row.vrf_id;
    const ancestors = (await this.tables.subnetsCovering(vrf, row.first_key, row.last_key)).filter(
      (s) => s.id !== row.id,
    );
    const around = [...ancestors, row, ...(await this.tables.subnetsInside(vrf, row.first_key, row.last_key, row.id))];
    return buildTree(around.map((r) => ({ id: r.id, vrf, prefix: prefixOf(r) }))).get(row.id)!;
  }

  private tree(rows: readonly SubnetRow[]) {
    return buildTree(rows.map((r) => ({ id: r.id, vrf: r.vrf_id, prefix: prefixOf(r) })));
  }

  /** A subnet's view; its place in the tree and its utilization read unless given. */
  async subnetView(row: SubnetRow, tree?: Map<number, TreeNode>, usage?: UtilizationWithStates): Promise<SubnetView> {
    const node = tree ? tree.get(row.id) : await this.treeNode(row);
    return this.subnetViewOf(row, node, usage ?? (await this.subnetUtilization(row)));
  }

  private subnetViewOf(row: SubnetRow, node: TreeNode | undefined, usage: UtilizationWithStates): SubnetView {
    return {
      id: row.id,
      vrf_id: row.vrf_id,
      cidr: row.cidr,
      family: row.family,
      prefix_length: row.prefix_length,
      name: row.name,
      description: row.description,
      vlan: row.vlan,
      gateway: row.gateway,
      tags: parseTags(row.tags),
      scan_enabled: row.scan_enabled === 1,
      scan_interval_seconds: row.scan_interval_seconds,
      agent_id: row.agent_id,
      parent_id: node?.parentId ?? null,
      depth: node?.depth ?? 0,
      children: node?.childCount ?? 0,
      utilization: utilizationView(usage),
      created_at: row.created_at,
      updated_at: row.updated_at,
      discovery: null,
    };
  }

  /** An address's view, its subnet looked up (one probe per prefix length in use). */
  async addressView(row: AddressRow): Promise<AddressView> {
    return this.addressViewOf(row, (await this.tables.mostSpecificRef(row.vrf_id, ipFromKey(row.ip_key)))?.id ?? null);
  }

  /** An address's view, its subnet from an in-memory lookup. */
  addressViewIn(row: AddressRow, index: SubnetLookup): AddressView {
    return this.addressViewOf(row, index.mostSpecific(row.vrf_id, ipFromKey(row.ip_key)));
  }

  addressViewOf(row: AddressRow, subnetId: number | null): AddressView {
    return {
      id: row.id,
      vrf_id: row.vrf_id,
      address: row.address,
      family: row.family,
      subnet_id: subnetId,
      state: row.state as AddressState,
      hostname: row.hostname,
      mac: row.mac,
      description: row.description,
      owner: row.owner,
      tags: parseTags(row.tags),
      source: row.source as AddressSource,
      created_at: row.created_at,
      updated_at: row.updated_at,
      observed: null,
    };
  }

  /** The address row at an IP of a VRF, if one is recorded (for other domains). */
  async addressAt(vrf: number, ip: IP): Promise<AddressRow | undefined> {
    return this.tables.addressAt(vrf, ip);
  }

  // ---------------------------------------------------------------- read API
  // What other domains (discovery, Docker, Proxmox), the metrics and IPAM's CSV modules read of
  // IPAM's tables. The store itself is private: a change to the tables is a change here, seen by
  // the type checker, and a second store backend only has to answer these.

  /** A subnet's row, or undefined (subnetRow() answers 404 instead). */
  async subnet(id: number): Promise<SubnetRow | undefined> {
    return this.tables.subnet(id);
  }

  /** Every subnet, ordered by first address then prefix length (cached until a subnet changes). */
  async allSubnets(): Promise<readonly SubnetRow[]> {
    return this.tables.allSubnets();
  }

  /** The CIDR of every subnet by id. */
  async subnetCidrs(): Promise<Map<number, string>> {
    return new Map((await this.tables.allSubnets()).map((s) => [s.id, s.cidr]));
  }

  /** The most specific subnet containing an address, if any. */
  async mostSpecificSubnet(vrf: number, ip: IP): Promise<SubnetRow | undefined> {
    return this.tables.mostSpecificSubnet(vrf, ip);
  }

  /** An address row by id, or undefined. */
  async address(id: number): Promise<AddressRow | undefined> {
    return this.tables.address(id);
  }

  /** Address rows with keys in [first, last] (e.g. a subnet's first_key..last_key), by key. */
  async addressesBetween(vrf: number, first: Buffer, last: Buffer): Promise<AddressRow[]> {
    return this.tables.addressesBetween(vrf, first, last);
  }

  /** Up to `limit` address rows in [first, last] after the key `after`, as arrays of `columns` (CSV export). */
  async addressColumnsPage(
    vrf: number,
    columns: readonly string[],
    first: Buffer,
    last: Buffer,
    after: Buffer | undefined,
    limit: number,
  ): Promise<unknown[][]> {
    return this.tables.addressColumnsPage(vrf, columns, first, last, after, limit);
  }

  /** Ranges lying entirely inside [first, last] (e.g. a subnet's keys), by first key. */
  async rangesInside(vrf: number, first: Buffer, last: Buffer): Promise<RangeRow[]> {
    return this.tables.rangesInside(vrf, first, last);
  }

  /** Addresses recorded in [first, last]. */
  async countBetween(vrf: number, first: Buffer, last: Buffer): Promise<number> {
    return this.tables.countBetween(vrf, first, last);
  }

  /** Addresses recorded in [first, last] per state. */
  async countBetweenByState(vrf: number, first: Buffer, last: Buffer): Promise<{ state: string; n: number }[]> {
    return this.tables.countBetweenByState(vrf, first, last);
  }

  /** Every VRF (a handful), by id. */
  async allVrfs(): Promise<readonly VrfRow[]> {
    return this.tables.allVrfs();
  }

  /** The VRF of this name, created (audited) when there is none: a Docker endpoint's own VRF. */
  async ensureVrf(name: string, description: string, actor: Actor): Promise<VrfRow> {
    return this.write(async () => {
      const existing = await this.tables.vrfByName(name);
      if (existing) return existing;
      const row = await this.tables.ensureVrf(name, description, isoNow(this.clock));
      await this.audit.record(actor, 'create', 'vrf', row.id, row.name, undefined, await this.vrfView(row));
      return row;
    });
  }

  /** Addresses per state and source over everything. */
  async totalsByStateAndSource(): Promise<{ state: string; source: string; n: number }[]> {
    return this.tables.totalsByStateAndSource();
  }

  /**
   * The store itself, for what reads IPAM's tables with its own SQL until the #18 work moves
   * that SQL into ipam/store.ts: the metrics' subnet catalog (metrics/subnets.ts, built in
   * server.ts). Tests and benchmarks seed through it too. ESLint refuses it anywhere else in src/.
   */
  static storeOf(ipam: IpamService): IpamStore {
    return ipam.tables;
  }

  async rangeView(row: RangeRow): Promise<RangeView> {
    const subnet = await this.subnetRow(row.subnet_id);
    return {
      id: row.id,
      subnet_id: row.subnet_id,
      vrf_id: row.vrf_id,
      start_address: row.start_address,
      end_address: row.end_address,
      // purpose is one of RANGE_PURPOSES: the API checks it before it is stored
      label: row.label,
      color: row.color,
      purpose: row.purpose as RangeView['purpose'],
      description: row.description,
      auto_allocate: row.auto_allocate === 1,
      mark_utilized: row.mark_utilized === 1,
      utilization: utilizationView(await this.rangeUtilization(row, subnet)),
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  /**
   * The in-memory subnet lookup and rows as last read, without reading: for synchronous callers
   * (a metrics listener) that can live with a subnet written since being missing.
   */
  cachedSubnets(): { index: SubnetLookup; row: (id: number) => SubnetRow | undefined } {
    return this.tables.cachedSubnets();
  }

  /** In-memory most-specific-subnet lookup for listing many addresses at once. */
  async subnetIndex(): Promise<SubnetLookup> {
    if (this.store.inTransaction) return new SubnetIndex(await this.tables.allSubnets());
    return this.tables.subnetLookup();
  }

  private checkGateway(prefix: Prefix, gateway: string | null | undefined): string | null {
    if (!gateway) return null;
    const ip = parseIp(gateway);
    requireUsable(prefix, ip, 'gateway');
    return formatIp(ip);
  }
}

/** Which subnet an address belongs to (the most specific one of its VRF holding it). */
export interface SubnetLookup {
  mostSpecific(vrf: number, ip: IP): number | null;
}

/** A most-specific lookup over a fixed list of rows (the live one, built once). */
export class SubnetIndex extends LiveSubnetIndex implements SubnetLookup {
  constructor(rows: readonly SubnetRow[]) {
    super();
    for (const r of rows) this.add(r);
  }
}

/** Thrown by a batch create: which input broke a rule, with the error creating it alone gives. */
export class BatchInputError extends Error {
  constructor(
    readonly index: number,
    readonly error: LanscapeError,
  ) {
    super(error.message);
  }
}

/** Work per slice of a sliced allocation or import (ms): well under the write batch budget. */
export const SLICE_MS = 5;
/** Addresses stored between two deadline checks of a sliced allocation. */
const ALLOCATION_STEP = 64;

interface AllocationPlan {
  family: Family;
  subnet: SubnetRow;
  bounds: Bounds;
  /** Blockers held in memory (gateways, closed ranges, child subnets, reservations). */
  fixed: BlockLookup[];
  runs: StoreBlockLookup;
  what: string;
}

/** The first `count` free addresses of the plan; 409 (nothing reserved) when fewer are free. */
async function takeEnough(plan: AllocationPlan, count: number): Promise<bigint[]> {
  const free = await takeFreeAround(plan.bounds, plan.fixed, plan.runs, count);
  if (free.length < count) throw notEnough(plan, count, free.length);
  return free;
}

function notEnough(plan: AllocationPlan, count: number, available: number): LanscapeError {
  return conflict(
    `${plan.what} has ${available === 0 ? 'no' : `only ${available}`} free address(es); ` + `${count} requested`,
    { requested: count, available },
  );
}

interface PendingAllocation {
  readonly scope: AllocationScope;
  readonly request: AllocateRequest;
  readonly actor: Actor;
}

/** Addresses one combined allocation stores at most (the sum of its requests' counts). */
const COMBINED_MAX = 256;

/** A unique key refused the row (SQLite, PostgreSQL). */
function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

/** The prefix of a subnet row
 (lives in core/prefix.ts; re-exported for the domains that import it from here). */
export { prefixOf } from './core/prefix.js';

function rangeInterval(r: Pick<RangeRow, 'first_key' | 'last_key'>): Interval {
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
function rangesWithin(sorted: readonly RangeRow[], vrf: number, first: Buffer, last: Buffer): RangeRow[] {
  // Sorted by VRF, then first key (allRanges, or one subnet's ranges).
  const before = (r: RangeRow, key: Buffer) => r.vrf_id - vrf || Buffer.compare(r.first_key, key);
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(sorted[mid]!, first) < 0) lo = mid + 1;
    else hi = mid;
  }
  const out: RangeRow[] = [];
  for (let i = lo; i < sorted.length && before(sorted[i]!, last) <= 0; i++) {
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

/** A lookup and rows by id over one subnet list, built once per list (the cache hands out the same array until a subnet changes). */
const SUBNET_INDEXES = new WeakMap<readonly SubnetRow[], { lookup: SubnetIndex; byId: Map<number, SubnetRow> }>();
function indexOfSubnets(subnets: readonly SubnetRow[]): { lookup: SubnetIndex; byId: Map<number, SubnetRow> } {
  let index = SUBNET_INDEXES.get(subnets);
  if (!index) {
    index = { lookup: new SubnetIndex(subnets), byId: new Map(subnets.map((s) => [s.id, s])) };
    SUBNET_INDEXES.set(subnets, index);
  }
  return index;
}
