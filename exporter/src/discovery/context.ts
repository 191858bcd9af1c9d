// What the discovery modules share: the pieces of the exporter they work with (store, IPAM,
// settings, adapters, clock), the actor of the IPAM rows discovery writes, and the sweep report.
import type { Logger } from 'pino';
import type { Actor } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import type { IpamService } from '../ipam/service.js';
import type { EchoSocket } from './core/sweep.js';
import type { IcmpStatus } from './icmp.js';
import type { NmapHost } from './nmap.js';
import type { DiscoveryStore } from './store.js';

export const DISCOVERY_ACTOR: Actor = { name: 'discovery' };

/** The adapters discovery talks to the network through (tests inject fakes). */
export interface DiscoveryDeps {
  icmp: () => IcmpStatus;
  openEchoSocket: (family: 4 | 6) => EchoSocket & { close(): void };
  /** MACs of neighbours of this family (IPv4 ARP, IPv6 neighbour discovery), by address. */
  readNeighbours: (family: 4 | 6) => Map<string, string> | Promise<Map<string, string>>;
  /**
   * Open ports per address, for the addresses whose every port was checked before `deadline`
   * (performance.now() ms; the others are left for the next scan).
   */
  openPorts: (
    jobs: { address: string; ports: number[] }[],
    o: { timeoutMs: number; concurrency: number; deadline?: number; limit?: () => number },
  ) => Promise<Map<string, number[]>>;
  reverseDns: ReverseLookup | null;
  nmap: { available(): Promise<boolean>; run(address: string, ports: number[]): Promise<NmapHost | null> } | null;
  now?: () => number;
}

/** PTR lookups (rdns.ts): `resolve` also says whether a server answered and whether it was cached. */
export interface ReverseLookup {
  lookup(address: string): Promise<string | null>;
  resolve?(address: string): Promise<{ name: string | null; answered: boolean; cached: boolean }>;
  readonly healthy: boolean | null;
}

/** Observations of one finished sweep, for metrics. */
export interface SweepReport {
  subnet: string;
  /** The subnet's VRF: the one whose hosts answered (the same CIDR may be swept in two VRFs). */
  vrf: number;
  seconds: number;
  sent: number;
  ok: boolean;
  rtts: Map<string, number>;
}

export interface DiscoveryContext {
  readonly ipam: IpamService;
  readonly store: DiscoveryStore;
  readonly scan: Config['scan'];
  readonly deps: DiscoveryDeps;
  readonly logger: Logger;
  /** The exporter's clock (Unix ms). */
  readonly now: () => number;
  /**
   * Runs `fn` (store-only: it awaits nothing but the store) in the store's write batcher
   * (`store.writes`): on SQLite one IMMEDIATE transaction per event-loop turn, resolved after its
   * COMMIT; on PostgreSQL a transaction of its own (run again when PostgreSQL aborts it for a
   * race). Long writes go through here in slices (apply.ts), so no turn holds the loop for much
   * longer than one slice.
   */
  readonly write: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** Unix ms as ISO text (null stays null). */
export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
