// The subnets as a scrape sees them: ids, CIDRs, and a most-specific-subnet lookup in plain
// numbers for IPv4 (the store's lookup works in BigInt and strings), derived from the store's
// subnet list (IpamStore.allSubnets, kept in memory and patched per write) whenever a subnet
// changed (IpamStore.subnetGeneration), with pauses between pages of the work.
import { type IP, ipFromKey } from '../ipam/core/ip.js';
import type { IpamStore, SubnetRow } from '../ipam/store.js';
import type { Slicer } from './snapshot.js';

/** Subnets handled between two looks at the slicer. */
const PAGE = 2000;

export class SubnetCatalog {
  /** Bumped at every re-read: callers key what they derive on it. */
  version = 0;
  rows: readonly SubnetRow[] = [];
  byId = new Map<number, SubnetRow>();
  /** CIDRs of the subnets, for counters kept by CIDR. */
  cidrs = new Set<string>();
  private generation = -1;
  private v4 = new Map<number, number>();
  private v4Lengths: number[] = [];
  private v6 = new Map<string, number>();
  private v6Lengths: number[] = [];

  constructor(private readonly store: IpamStore) {}

  /** Whether the catalog holds the subnets as they are now. */
  get fresh(): boolean {
    return this.generation === this.store.subnetGeneration;
  }

  /** Derives the lookups again when a subnet changed since the last time, a page per slice. */
  async refresh(slicer: Slicer): Promise<this> {
    if (this.fresh) return this;
    const generation = this.store.subnetGeneration;
    const rows = this.store.allSubnets();
    const v4 = new Map<number, number>();
    const v6 = new Map<string, number>();
    const lengths = { 4: new Set<number>(), 6: new Set<number>() };
    for (const [i, r] of rows.entries()) {
      if (i % PAGE === PAGE - 1) await slicer.maybePause();
      if (r.family === 4) v4.set(r.prefix_length * 2 ** 32 + r.first_key.readUInt32BE(13), r.id);
      else v6.set(`${r.prefix_length}/${ipFromKey(r.first_key).value}`, r.id);
      lengths[r.family].add(r.prefix_length);
    }
    this.rows = rows;
    this.byId = new Map(rows.map((r) => [r.id, r]));
    this.cidrs = new Set(rows.map((r) => r.cidr));
    this.v4 = v4;
    this.v6 = v6;
    this.v4Lengths = [...lengths[4]].sort((a, b) => b - a);
    this.v6Lengths = [...lengths[6]].sort((a, b) => b - a);
    // A subnet written meanwhile: derive again at the next scrape.
    this.generation = generation === this.store.subnetGeneration ? generation : -1;
    this.version += 1;
    return this;
  }

  /** Id of the most specific subnet holding an IPv4 address given as a number. */
  mostSpecificV4(value: number): number | null {
    for (const len of this.v4Lengths) {
      const id = this.v4.get(len * 2 ** 32 + value - (value % 2 ** (32 - len)));
      if (id !== undefined) return id;
    }
    return null;
  }

  /** Id of the most specific subnet holding an address. */
  mostSpecific(ip: IP): number | null {
    if (ip.family === 4) return this.mostSpecificV4(Number(ip.value));
    for (const len of this.v6Lengths) {
      const host = BigInt(128 - len);
      const id = this.v6.get(`${len}/${(ip.value >> host) << host}`);
      if (id !== undefined) return id;
    }
    return null;
  }

  /** The smallest other subnet covering a subnet (NetBox's rule, as ipam/core/hierarchy.ts). */
  parentOf(row: SubnetRow): number | null {
    if (row.family === 4) {
      const value = row.first_key.readUInt32BE(13);
      for (const len of this.v4Lengths) {
        if (len >= row.prefix_length) continue;
        const id = this.v4.get(len * 2 ** 32 + value - (value % 2 ** (32 - len)));
        if (id !== undefined) return id;
      }
      return null;
    }
    const value = ipFromKey(row.first_key).value;
    for (const len of this.v6Lengths) {
      if (len >= row.prefix_length) continue;
      const host = BigInt(128 - len);
      const id = this.v6.get(`${len}/${(value >> host) << host}`);
      if (id !== undefined) return id;
    }
    return null;
  }

  /** The same for a 17-byte address key (IPv4 without BigInt). */
  mostSpecificKey(key: Buffer): number | null {
    return key[0] === 4 ? this.mostSpecificV4(key.readUInt32BE(13)) : this.mostSpecific(ipFromKey(key));
  }
}
