// One scan from start to end: targets of the subnet, the paced ICMP sweep (pass, then retry
// passes), applying what it saw, enrichment (started for the hosts of the sweep pass while the
// retry passes run), the scan row's progress, phases and warnings, the report for metrics,
// history retention.
import { prefixOf } from '../ipam/core/prefix.js';
import { GLOBAL_VRF_ID } from '../ipam/core/vrf.js';
import { applySweep } from './apply.js';
import type { DiscoveryContext, SweepReport } from './context.js';
import type { SweepResult } from './core/sweep.js';
import { observeSweep } from './observe.js';
import { listTargets, sweepTargets } from './core/targets.js';
import type { Enricher } from './enrich.js';
import { maintainHistory } from './history.js';
import type { IcmpStatus } from './icmp.js';
import type { ScanPhaseView, ScanWarningView } from './schemas.js';
import type { ScanRow } from './store.js';

/** How often a running scan's progress is written to its row (ms). */
const PROGRESS_EVERY_MS = 2_000;

export interface ScanSteps {
  /** Whether ICMP sweeps can run now. */
  icmp: () => IcmpStatus;
  enricher: Enricher;
  /** Called once per scan when the sweep is applied (alive and MACs recorded), or when the scan failed. */
  notify: (report: SweepReport) => void;
  /** Called once per scan that warns, with its warnings. */
  warn: (warnings: ScanWarningView[]) => void;
}

/** Sweeps one queued scan and records its outcome in the scan row (a failure is recorded, not thrown). */
export async function runScan(ctx: DiscoveryContext, scan: ScanRow, steps: ScanSteps): Promise<void> {
  const { store, ipam } = ctx;
  const cfg = ctx.scan;
  const subnet = await ipam.subnet(scan.subnet_id);
  const started = ctx.now();
  Object.assign(scan, { state: 'running', started_at: started });
  // Conditional transitions (store.saveScan): a scan failed meanwhile as abandoned
  // (DiscoveryService.failAbandonedScans) is not started, and its end is written once.
  if (!(await store.saveScan(scan, ['queued']))) {
    ctx.logger.warn({ scan: scan.id }, 'scan was ended elsewhere before it started; not swept');
    return;
  }
  const fail = async (error: string) => {
    Object.assign(scan, { state: 'failed', error, finished_at: ctx.now() });
    await store.saveScan(scan, ['running']);
    steps.notify({
      subnet: scan.cidr,
      vrf: subnet?.vrf_id ?? GLOBAL_VRF_ID,
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
        : (await ipam.addressesBetween(subnet.vrf_id, subnet.first_key, subnet.last_key)).map((a) => a.address);
  } catch (e) {
    return fail((e as Error).message);
  }
  scan.targets = targets.length;
  let socket;
  try {
    socket = ctx.deps.openEchoSocket(prefix.family);
  } catch (e) {
    return fail(`cannot open an ICMP socket: ${(e as Error).message}`);
  }
  // Progress into the row every PROGRESS_EVERY_MS, for the other replicas (this one reads its
  // live copy); never backwards, and only while the row is running (saveProgress).
  let published = performance.now();
  const publish = () => {
    if (performance.now() - published < PROGRESS_EVERY_MS) return;
    published = performance.now();
    store.saveProgress(scan.id, scan.progress, scan.sent).catch((e: unknown) => {
      ctx.logger.warn({ err: e, scan: scan.id }, 'could not record scan progress');
    });
  };
  // Port checks and names start with each host's first answer, while the sweep goes on.
  const enrichment = steps.enricher.begin(subnet.vrf_id);
  let result: SweepResult;
  let phases: ScanPhaseView[];
  try {
    ({ result, phases } = await observeSweep(cfg, targets, prefix.family, socket, enrichment, (sent, most) => {
      scan.progress = most === 0 ? 0.8 : 0.8 * Math.min(1, sent / most);
      scan.sent = sent;
      publish();
    }));
  } catch (e) {
    return fail(`sweep failed: ${(e as Error).message}`);
  }
  const current = await ipam.subnet(subnet.id);
  if (!current) return fail('the subnet was deleted during its scan');
  scan.sent = result.sent;
  scan.alive = result.alive.size;
  const now = ctx.now();
  const neighbours = await ctx.deps.readNeighbours(prefix.family);
  const applying = performance.now();
  let slices = 0;
  // In slices, each committed with its turn's write batch: the progress moves from 0.8 to 0.85.
  const aliveHosts = await applySweep(
    ctx,
    current,
    listTargets(targets),
    result.alive,
    now,
    neighbours,
    (applied, tracked) => {
      slices += 1;
      scan.progress = 0.8 + 0.05 * (applied / tracked);
      publish();
    },
  );
  ctx.logger.info(
    {
      subnet: current.cidr,
      scan: scan.id,
      alive: aliveHosts.length,
      sweep_seconds: result.seconds,
      apply_ms: Math.round(performance.now() - applying),
      apply_slices: slices,
    },
    'sweep applied',
  );
  // Alive hosts and MACs are recorded: visible in the API and metrics while enrichment goes on.
  scan.progress = 0.85;
  scan.phases = JSON.stringify(phases);
  if (!(await store.saveScan(scan, ['running']))) {
    ctx.logger.warn({ scan: scan.id }, 'scan was ended elsewhere while it ran; its enrichment is skipped');
    enrichment.sweepDone();
    await enrichment.finish();
    return;
  }
  steps.notify({
    subnet: current.cidr,
    vrf: current.vrf_id,
    seconds: result.seconds,
    sent: result.sent,
    ok: true,
    rtts: result.alive,
  });
  enrichment.add(aliveHosts);
  const found = await enrichment.finish();
  await steps.enricher.record((await ipam.subnet(subnet.id)) ?? current, aliveHosts, found);
  phases.push(...found.phases);
  // The row first, then the live copy the API answers from: a client that sees the scan done and
  // asks for another must find the row done too (else, on PostgreSQL, it is handed this scan again).
  const done: ScanRow = {
    ...scan,
    state: 'done',
    progress: 1,
    finished_at: ctx.now(),
    phases: JSON.stringify(phases),
    warnings: JSON.stringify(found.warnings),
  };
  const saved = await store.saveScan(done, ['running']);
  Object.assign(scan, done);
  if (!saved) ctx.logger.warn({ scan: scan.id }, 'scan was ended elsewhere while it ran; its outcome is not recorded');
  else if (found.warnings.length > 0) steps.warn(found.warnings);
  await maintainHistory(ctx, now);
}
