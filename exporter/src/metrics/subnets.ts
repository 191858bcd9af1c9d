// The subnets as a scrape sees them: ids, CIDRs, and a most-specific-subnet lookup in plain
// numbers for IPv4 (the store's lookup works in BigInt and strings), derived from the store's
// subnet list (IpamStore.allSubnets, kept in memory and patched per write) whenever a subnet
// changed (IpamStore.subnetGeneration), with pauses between pages of the work.
import { type IP, ipFromKey } from '../ipam/core/ip.js';
import type { IpamStore, SubnetRow } from '../ipam/store.js';
import type { Slicer } from './snapshot.js';

/** Subnets handled between two looks at the slicer. */
const PAGE = 2000;
/** Changed subnets above this many: the lookups are derived again instead of patched. */
const PATCH_LIMIT = 2000;

// IPv4: one map per VRF keyed by length and network in one number; IPv6: the VRF in the string.
const v4Key = (r: SubnetRow) => r.prefix_length * 2 ** 32 + r.first_key.readUInt32BE(13);
const v6Key = (r: SubnetRow) => `${r.vrf_id}/${r.prefix_length}/${ipFromKey(r.first_key).value}`;
type V4Maps = Map<number, Map<number, number>>;
const v4Of = (maps: V4Maps, vrf: number) => maps.get(vrf) ?? maps.set(vrf, new Map()).get(vrf)!;

export class SubnetCatalog {
  /** Bumped at every re-read: callers key what they derive on it. */
  version = 0;
  rows: readonly SubnetRow[] = [];
  byId = new Map<number, SubnetRow>();
  /** CIDRs of the subnets, for counters kept by CIDR. */
  cidrs = new Set<string>();
  private generation = -1;
  private v4: V4Maps = new Map();
  private v4Lengths: number[] = [];
  private v6 = new Map<string, number>();
  private v6Lengths: number[] = [];
  /** Per family: prefix length → subnets of that length. */
  private lengthCounts: Record<4 | 6, Map<number, number>> = { 4: new Map(), 6: new Map() };

  constructor(private readonly store: IpamStore) {}

  /** Whether the catalog holds the subnets as they are now. */
  get fresh(): boolean {
    return this.generation === this.store.subnetGeneration;
  }

  /**
   * Brings the lookups up to date when a subnet changed since the last time. A few changed
   * subnets (a create or an import page) are patched in: the store hands out the same row
   * object until a row changes, so one pass of identity checks finds them. Many changes, or the
   * first time, derive everything again, a page per slice.
   */
  async refresh(slicer: Slicer): Promise<this> {
    const generation = this.store.subnetGeneration;
    // The same list object while no subnet changed (on PostgreSQL: on any replica).
    const rows = await this.store.allSubnets();
    if (this.fresh && rows === this.rows) return this;

    if (!this.patch(rows)) await this.rebuild(rows, slicer);
    this.rows = rows;
    // A subnet written meanwhile: derive again at the next scrape.
    this.generation = generation === this.store.subnetGeneration ? generation : -1;
    this.version += 1;
    return this;
  }

  /** Patches the lookups to `rows` when few rows changed; false (nothing changed) otherwise. */
  private patch(rows: readonly SubnetRow[]): boolean {
    if (this.rows.length === 0) return false;
    const byId = this.byId;
    const changed: SubnetRow[] = [];
    let kept = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (byId.get(r.id) === r) kept += 1;
      else if (changed.push(r) > PATCH_LIMIT) return false;
    }
    const gone: SubnetRow[] = [];
    for (const r of changed) {
      const old = byId.get(r.id);
      if (old) gone.push(old);
    }
    if (kept + gone.length < this.rows.length) {
      // Deleted subnets: the old rows whose id is in the new list no more.
      const ids = new Set<number>();
      for (const r of rows) ids.add(r.id);
      for (const r of this.rows) if (!ids.has(r.id)) gone.push(r);
    }
    if (gone.length > PATCH_LIMIT) return false;
    // Old versions out first, then the new ones in: CIDRs are unique at any one time.
    for (const r of gone) {
      byId.delete(r.id);
      this.cidrs.delete(r.cidr);
      if (r.family === 4) {
        const key = v4Key(r);
        const map = v4Of(this.v4, r.vrf_id);
        if (map.get(key) === r.id) map.delete(key);
      } else {
        const key = v6Key(r);
        if (this.v6.get(key) === r.id) this.v6.delete(key);
      }
      this.countLength(r, -1);
    }
    for (const r of changed) {
      byId.set(r.id, r);
      this.cidrs.add(r.cidr);
      if (r.family === 4) v4Of(this.v4, r.vrf_id).set(v4Key(r), r.id);
      else this.v6.set(v6Key(r), r.id);
      this.countLength(r, 1);
    }
    this.sortLengths();
    return true;
  }

  /** Derives every lookup from `rows`, a page per slice. */
  private async rebuild(rows: readonly SubnetRow[], slicer: Slicer): Promise<void> {
    const v4: V4Maps = new Map();
    const v6 = new Map<string, number>();
    const lengths: Record<4 | 6, Map<number, number>> = { 4: new Map(), 6: new Map() };
    for (const [i, r] of rows.entries()) {
      if (i % PAGE === PAGE - 1) await slicer.maybePause();
      if (r.family === 4) v4Of(v4, r.vrf_id).set(v4Key(r), r.id);
      else v6.set(v6Key(r), r.id);
      const counts = lengths[r.family];
      counts.set(r.prefix_length, (counts.get(r.prefix_length) ?? 0) + 1);
    }
    this.byId = new Map(rows.map((r) => [r.id, r]));
    this.cidrs = new Set(rows.map((r) => r.cidr));
    this.v4 = v4;
    this.v6 = v6;
    this.lengthCounts = lengths;
    this.sortLengths();
  }

  private countLength(r: SubnetRow, delta: number): void {
    const counts = this.lengthCounts[r.family];
    const n = (counts.get(r.prefix_length) ?? 0) + delta;
    if (n > 0) counts.set(r.prefix_length, n);
    else counts.delete(r.prefix_length);
  }

  private sortLengths(): void {
    this.v4Lengths = [...this.lengthCounts[4].keys()].sort((a, b) => b - a);
    this.v6Lengths = [...this.lengthCounts[6].keys()].sort((a, b) => b - a);
  }

  /** Id of the most specific subnet of a VRF holding an IPv4 address given as a number. */
  mostSpecificV4(vrf: number, value: number): number | null {
    const map = this.v4.get(vrf);
    if (!map) return null;
    for (const len of this.v4Lengths) {
      const id = map.get(len * 2 ** 32 + value - (value % 2 ** (32 - len)));
      if (id !== undefined) return id;
    }
    return null;
  }

  /** Id of the most specific subnet of a VRF holding an address. */
  mostSpecific(vrf: number, ip: IP): number | null {
    if (ip.family === 4) return this.mostSpecificV4(vrf, Number(ip.value));
    for (const len of this.v6Lengths) {
      const host = BigInt(128 - len);
      const id = this.v6.get(`${vrf}/${len}/${(ip.value >> host) << host}`);
      if (id !== undefined) return id;
    }
    return null;
  }

  /** The smallest other subnet of its VRF covering a subnet (NetBox's rule, as ipam/core/hierarchy.ts). */
  parentOf(row: SubnetRow): number | null {
    if (row.family === 4) {
      const value = row.first_key.readUInt32BE(13);
      const map = this.v4.get(row.vrf_id);
      for (const len of this.v4Lengths) {
        if (len >= row.prefix_length) continue;
        const id = map?.get(len * 2 ** 32 + value - (value % 2 ** (32 - len)));
        if (id !== undefined) return id;
      }
      return null;
    }
    const value = ipFromKey(row.first_key).value;
    for (const len of this.v6Lengths) {
      if (len >= row.prefix_length) continue;
      const host = BigInt(128 - len);
      const id = this.v6.get(`${row.vrf_id}/${len}/${(value >> host) << host}`);
      if (id !== undefined) return id;
    }
    return null;
  }

  /** The same for a 17-byte address key of a VRF (IPv4 without BigInt). */
  mostSpecificKey(vrf: number, key: Buffer): number | null {
    return key[0] === 4 ? this.mostSpecificV4(vrf, key.readUInt32BE(13)) : this.mostSpecific(vrf, ipFromKey(key));
  }
}
