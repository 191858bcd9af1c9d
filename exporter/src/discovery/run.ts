// One scan from start to end: targets of the subnet, the paced ICMP sweep, applying what it saw,
// enrichment, the scan row's progress and outcome, the report for metrics, history retention.
import { prefixOf } from '../ipam/core/prefix.js';
import { applySweep } from './apply.js';
import type { DiscoveryContext, SweepReport } from './context.js';
import { sweep } from './core/sweep.js';
import { sweepTargets } from './core/targets.js';
import type { Enricher } from './enrich.js';
import { maintainHistory } from './history.js';
import type { IcmpStatus } from './icmp.js';
import type { ScanRow } from './store.js';

export interface ScanSteps {
  /** Whether ICMP sweeps can run now. */
  icmp: () => IcmpStatus;
  enricher: Enricher;
  /** Called once per scan, failed or done. */
  notify: (report: SweepReport) => void;
}

/** Sweeps one queued scan and records its outcome in the scan row (a failure is recorded, not thrown). */
export async function runScan(ctx: DiscoveryContext, scan: ScanRow, steps: ScanSteps): Promise<void> {
  const { store, ipam } = ctx;
  const cfg = ctx.scan;
  const subnet = ipam.subnet(scan.subnet_id);
  const started = ctx.now();
  Object.assign(scan, { state: 'running', started_at: started });
  store.saveScan(scan);
  const fail = (error: string) => {
    Object.assign(scan, { state: 'failed', error, finished_at: ctx.now() });
    store.saveScan(scan);
    steps.notify({
      subnet: scan.cidr,
      seconds: (ctx.now() - started) / 1000,
      sent: scan.sent,
      ok: false,
      rtts: new Map(),
    });
  };
  if (!subnet) return fail('the subnet was deleted before its scan started');
  const icmp = steps.icmp();
  if (!icmp.up) return fail(`ICMP is unavailable: ${icmp.message}`);
  const prefix = prefixOf(subnet);
  let targets: string[];
  try {
    targets =
      prefix.family === 4
        ? sweepTargets(prefix, cfg.max_prefix)
        : ipam.addressesBetween(subnet.first_key, subnet.last_key).map((a) => a.address);
  } catch (e) {
    return fail((e as Error).message);
  }
  scan.targets = targets.length;
  let pinger;
  try {
    pinger = ctx.deps.createPinger(prefix.family, cfg.timeout_ms);
  } catch (e) {
    return fail(`cannot open an ICMP socket: ${(e as Error).message}`);
  }
  let result;
  try {
    result = await sweep(targets, pinger, {
      pps: cfg.pps,
      maxInFlight: Math.min(cfg.max_in_flight, 60_000),
      retries: cfg.retries,
      onProgress: (finished, total, sent) => {
        scan.progress = total === 0 ? 0.8 : 0.8 * (finished / total);
        scan.sent = sent;
      },
    });
  } catch (e) {
    return fail(`sweep failed: ${(e as Error).message}`);
  } finally {
    pinger.close();
  }
  const current = ipam.subnet(subnet.id);
  if (!current) return fail('the subnet was deleted during its scan');
  scan.sent = result.sent;
  scan.alive = result.alive.size;
  const now = ctx.now();
  const aliveHosts = applySweep(ctx, current, targets, result.alive, now);
  scan.progress = 0.85;
  await steps.enricher.enrich(current, aliveHosts);
  Object.assign(scan, { state: 'done', progress: 1, finished_at: ctx.now() });
  store.saveScan(scan);
  steps.notify({ subnet: current.cidr, seconds: result.seconds, sent: result.sent, ok: true, rtts: result.alive });
  maintainHistory(ctx, now);
}
