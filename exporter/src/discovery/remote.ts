// Applying a sweep an agent ran at its site (#15): the same steps as this exporter's own sweeps
// (apply.ts for status, history, events and IPAM rows; enrich.ts for ports, names and nmap's
// services; a scan row; the sweep report for metrics), fed from the agent's observations instead
// of a socket. At most once: the batch id is claimed in the transaction that creates the scan row
// (a replay after a lost answer finds it and changes nothing); the apply then runs in the 5 ms
// slices of a local sweep (slices.ts), so a /16 report never holds the event loop. Measured
// against one transaction for the claim and the whole apply, which is atomic but held the loop
// for seconds on SQLite (ARCHITECTURE.md, "Sites and agents"). An apply cut short (it failed, or
// central died and its scan row was failed as abandoned) leaves the claim's scan failed: the
// agent's retry of that batch claims it again and applies it in full (every step of an apply is
// an upsert or a change from what is stored, so the part applied before is not doubled).
import type { SubnetRow } from '../ipam/store.js';
import { applySweep } from './apply.js';
import type { DiscoveryContext, SweepReport } from './context.js';
import type { PortSpec } from './core/ports.js';
import type { TargetSet } from './core/targets.js';
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
  /** The batch's claim, when it was claimed before: the scan that applied (or applies) it. */
  claimed(): Promise<{ scanId: number | null } | undefined>;
  /**
   * Claims the batch for `scanId` (same transaction). `takeOverFrom`: the scan of a claim whose
   * apply was cut short; false when another apply took it over first (then nothing is written).
   */
  claim(scanId: number, takeOverFrom?: number): Promise<boolean>;
}

/** The message of a scan whose apply failed here (a retry of its batch applies it again). */
const APPLY_FAILED = "applying the agent's results failed";

/** Another apply took over the same cut-short batch first (thrown to roll back the scan row). */
class DuplicateBatch extends Error {}

/** Whether a claim's scan was cut short, so that its batch is to be applied again. */
async function cutShort(ctx: DiscoveryContext, scanId: number | null): Promise<boolean> {
  if (scanId === null) return false;
  const scan = await ctx.store.scan(scanId);
  if (!scan) return true; // pruned: only old scans are, and a batch id is forgotten before that
  return (
    scan.state === 'failed' && (scan.error?.startsWith('abandoned') || scan.error?.startsWith(APPLY_FAILED)) === true
  );
}

/**
 * Applies an agent's sweep of `subnet` over `targets` (what the agent swept). Resolves with the
 * scan row, or null when the claim says the batch was applied before (nothing written).
 */
export async function applyRemoteSweep(
  ctx: DiscoveryContext,
  subnet: SubnetRow,
  targets: TargetSet,
  sweep: RemoteSweep,
  ports: readonly PortSpec[],
  claim: BatchClaim,
  notify: (report: SweepReport) => void,
): Promise<ScanRow | null> {
  const at = Math.min(sweep.finishedAt, ctx.now());
  const startedAt = Math.min(sweep.startedAt, at);
  const scan = await ctx.store.store
    .write(async () => {
      const previous = await claim.claimed();
      if (previous && !(await cutShort(ctx, previous.scanId))) return null;
      const row = await ctx.store.insertScan(subnet.id, subnet.cidr, 'agent', startedAt);
      // (A claim without a scan is never cut short, so a previous claim here has one.)
      if (!(await claim.claim(row.id, previous?.scanId ?? undefined))) throw new DuplicateBatch();
      Object.assign(row, {
        state: 'running',
        started_at: startedAt,
        targets: targets.size,
        sent: sweep.sent,
        alive: sweep.alive.size,
      });
      await ctx.store.saveScan(row);
      return row;
    })
    .catch((e: unknown) => {
      if (e instanceof DuplicateBatch) return null; // rolled back: the scan row is not kept
      throw e;
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
        error: `${APPLY_FAILED}: ${(e as Error).message}`,
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
