// Applying a sweep an agent ran at its site (#15): the same steps as this exporter's own sweeps
// (apply.ts for status, history, events and IPAM rows; enrich.ts for ports, names and nmap's
// services; a scan row; the sweep report for metrics), fed from the agent's observations instead
// of a socket. At most once: the batch id is claimed in the transaction that creates the scan row
// (a replay after a lost answer finds it and changes nothing); the apply then runs in the 5 ms
// slices of a local sweep (slices.ts), so a /16 report never holds the event loop. Measured
// against one transaction for the claim and the whole apply, which is atomic but held the loop
// for seconds on SQLite (ARCHITECTURE.md, "Sites and agents"). A central that dies mid-apply has
// applied part of that batch; its scan row is failed like any scan cut short, and the next
// report of the subnet corrects the hosts.
import type { SubnetRow } from '../ipam/store.js';
import { applySweep } from './apply.js';
import type { DiscoveryContext, SweepReport } from './context.js';
import type { PortSpec } from './core/ports.js';
import { Enricher } from './enrich.js';
import type { NmapService } from './nmap.js';
import { inSlices } from './slices.js';
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
 * scan row, or null when the claim says the batch was applied before (nothing written).
 */
export async function applyRemoteSweep(
  ctx: DiscoveryContext,
  subnet: SubnetRow,
  targets: readonly string[],
  sweep: RemoteSweep,
  ports: readonly PortSpec[],
  claim: BatchClaim,
  notify: (report: SweepReport) => void,
): Promise<ScanRow | null> {
  const at = Math.min(sweep.finishedAt, ctx.now());
  const startedAt = Math.min(sweep.startedAt, at);
  const scan = await ctx.store.store.write(async () => {
    if (await claim.applied()) return null;
    const row = await ctx.store.insertScan(subnet.id, subnet.cidr, 'agent', startedAt);
    await claim.record(row.id);
    Object.assign(row, {
      state: 'running',
      started_at: startedAt,
      targets: targets.length,
      sent: sweep.sent,
      alive: sweep.alive.size,
    });
    await ctx.store.saveScan(row);
    return row;
  });
  if (!scan) return null;
  if (sweep.error !== undefined) {
    Object.assign(scan, { state: 'failed', finished_at: at, error: `agent ${sweep.agent}: ${sweep.error}` });
    await ctx.store.saveScan(scan, ['running']);
  } else {
    try {
      const alive = await applySweep(ctx, subnet, targets, sweep.alive, at, sweep.macs);
      const enricher = new Enricher(ctx, ports, () => false);
      await enricher.record(subnet, alive, { open: sweep.open, names: sweep.names, phases: [], warnings: [] }, false);
      const services = [...sweep.services];
      await inSlices(ctx, services.length, (i) =>
        enricher.recordServices(
          subnet.vrf_id,
          services[i]![0],
          services[i]![1].map((s) => ({ ...s, protocol: 'tcp' as const, state: 'open', extraInfo: null })),
          at,
        ),
      );
    } catch (e) {
      Object.assign(scan, {
        state: 'failed',
        finished_at: ctx.now(),
        error: `applying the agent's results failed: ${(e as Error).message}`,
      });
      await ctx.store.saveScan(scan, ['running']);
      throw e;
    }
    Object.assign(scan, {
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
    if (!(await ctx.store.saveScan(scan, ['running'])))
      ctx.logger.warn({ scan: scan.id }, "an agent's scan was ended elsewhere while it was applied");
  }
  if (scan) {
    notify({
      subnet: subnet.cidr,
      vrf: subnet.vrf_id,
      seconds: Math.max(0, (sweep.finishedAt - sweep.startedAt) / 1000),
      sent: sweep.sent,
      ok: scan.state === 'done',
      rtts: sweep.alive,
    });
  }
  return scan;
}
