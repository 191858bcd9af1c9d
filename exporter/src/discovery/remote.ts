// Applying a sweep an agent ran at its site (#15): the same steps as this exporter's own sweeps
// (apply.ts for status, history, events and IPAM rows; enrich.ts for ports, names and nmap's
// services; a scan row; the sweep report for metrics), fed from the agent's observations instead
// of a socket. Everything of one batch is ONE transaction, the caller's batch id in it, so a batch
// is applied once or not at all: a replay after a lost answer finds its id and changes nothing.
// The price: on SQLite the apply holds the event loop for its length (a /24: a few ms; a /16 with
// 1,000 new devices, each an audited IPAM row: a few hundred ms), instead of the 5 ms slices of a
// local sweep.
import type { SubnetRow } from '../ipam/store.js';
import { applySweep } from './apply.js';
import type { DiscoveryContext, SweepReport } from './context.js';
import type { PortSpec } from './core/ports.js';
import { Enricher } from './enrich.js';
import type { NmapService } from './nmap.js';
import { loadVendors } from './oui.js';
import type { ScanWarningView } from './schemas.js';
import type { ScanRow } from './store.js';

/** One sweep as an agent observed it. */
export interface RemoteSweep {
  agent: string;
  startedAt: number;
  finishedAt: number;
  sent: number;
  /** RTT in seconds of each address that answered. */
  alive: Map<string, number>;
  macs: Map<string, string>;
  /** Open ports of the hosts whose ports were checked in this sweep. */
  open: Map<string, number[]>;
  /** PTR names of the hosts looked up in this sweep (null: no name). */
  names: Map<string, string | null>;
  /** nmap's services of the hosts nmap ran on. */
  services: Map<string, Pick<NmapService, 'port' | 'service' | 'product' | 'version'>[]>;
  /** The sweep failed at the site. */
  error?: string | undefined;
  warnings: ScanWarningView[];
}

/** The caller's record of the batch, inside the apply's transaction. */
export interface BatchClaim {
  /** Whether the batch was applied before (then nothing is written). */
  applied(): Promise<boolean>;
  /** Records the batch as applied (same transaction). */
  record(scanId: number): Promise<void>;
}

/**
 * Applies an agent's sweep of `subnet` over `targets` (what the agent swept). Resolves with the
 * scan row, or null when the claim says the batch was applied before.
 */
export async function applyRemoteSweep(
  base: DiscoveryContext,
  subnet: SubnetRow,
  targets: readonly string[],
  sweep: RemoteSweep,
  ports: readonly PortSpec[],
  claim: BatchClaim,
  notify: (report: SweepReport) => void,
): Promise<ScanRow | null> {
  // Nested writes become savepoints of the one transaction (store.write), not later write batches.
  const ctx: DiscoveryContext = { ...base, write: (fn) => base.store.store.write(fn) };
  // Built before the transaction: it yields between slices, which a transaction must not.
  if (sweep.macs.size > 0) await loadVendors();
  const at = Math.min(sweep.finishedAt, base.now());
  const scan = await base.store.store.write(async () => {
    if (await claim.applied()) return null;
    const row = await base.store.insertScan(subnet.id, subnet.cidr, 'agent', Math.min(sweep.startedAt, at));
    await claim.record(row.id);
    Object.assign(row, {
      state: 'running',
      started_at: Math.min(sweep.startedAt, at),
      targets: targets.length,
      sent: sweep.sent,
      alive: sweep.alive.size,
    });
    if (sweep.error !== undefined) {
      Object.assign(row, { state: 'failed', finished_at: at, error: `agent ${sweep.agent}: ${sweep.error}` });
      await base.store.saveScan(row);
      return row;
    }
    const alive = await applySweep(ctx, subnet, targets, sweep.alive, at, sweep.macs);
    const enricher = new Enricher(ctx, ports, () => false);
    await enricher.record(subnet, alive, { open: sweep.open, names: sweep.names, phases: [], warnings: [] }, false);
    for (const [address, services] of sweep.services)
      await enricher.recordServices(
        address,
        services.map((s) => ({ ...s, protocol: 'tcp' as const, state: 'open', extraInfo: null })),
        at,
      );
    Object.assign(row, {
      state: 'done',
      progress: 1,
      finished_at: at,
      warnings: JSON.stringify(sweep.warnings),
      phases: JSON.stringify([
        {
          phase: 'sweep',
          seconds: (sweep.finishedAt - sweep.startedAt) / 1000,
          sent: sweep.sent,
          found: sweep.alive.size,
        },
      ]),
    });
    await base.store.saveScan(row);
    return row;
  });
  if (scan) {
    notify({
      subnet: subnet.cidr,
      seconds: Math.max(0, (sweep.finishedAt - sweep.startedAt) / 1000),
      sent: sweep.sent,
      ok: scan.state === 'done',
      rtts: sweep.alive,
    });
  }
  return scan;
}
