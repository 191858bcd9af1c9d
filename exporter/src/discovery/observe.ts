// The observing half of a sweep, shared by this exporter's scans (run.ts, which then applies
// what it saw) and a remote agent's (src/agent, which posts it to central): the paced ICMP
// sweep with its retry passes, enrichment started for each host at its first answer, and the
// phases the scan row shows. Applies nothing.
import type { Config } from '../config/schema.js';
import { type EchoSocket, type SweepResult, ipv4Index, sweep } from './core/sweep.js';
import type { ScanEnrichment } from './enrich.js';
import type { ScanPhaseView } from './schemas.js';

/**
 * Sweeps `targets` over `socket` (closed at the end) at the scan settings' pace; hosts go to
 * `enrichment` as they answer, and its sweep is marked done however the sweep ends.
 */
export async function observeSweep(
  scan: Pick<Config['scan'], 'pps' | 'timeout_ms' | 'retries'>,
  targets: string[],
  family: 4 | 6,
  socket: EchoSocket & { close(): void },
  enrichment: ScanEnrichment,
  onProgress?: (sent: number, most: number) => void,
): Promise<{ result: SweepResult; phases: ScanPhaseView[] }> {
  let result: SweepResult;
  try {
    result = await sweep(targets, socket, {
      pps: scan.pps,
      timeoutMs: scan.timeout_ms,
      retries: scan.retries,
      ...(family === 4 ? { indexOf: ipv4Index(targets) } : {}),
      ...(onProgress ? { onProgress } : {}),
      onAlive: (target) => enrichment.add([target]),
    });
  } finally {
    socket.close();
    enrichment.sweepDone();
  }
  const phases: ScanPhaseView[] = result.passes.map((p) => ({
    phase: p.pass === 0 ? 'sweep' : 'retry',
    ...(p.pass > 0 ? { pass: p.pass } : {}),
    seconds: Math.round(p.seconds * 1000) / 1000,
    sent: p.sent,
    found: p.found,
  }));
  return { result, phases };
}
