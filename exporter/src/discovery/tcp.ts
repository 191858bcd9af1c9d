// Port checks with a plain TCP connect (no privileges needed), bounded concurrency.
import { connect } from 'node:net';

export type PortState = 'open' | 'closed' | 'filtered';

export function checkPort(address: string, port: number, timeoutMs: number): Promise<PortState> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: timeoutMs });
    const finish = (state: PortState) => {
      socket.destroy();
      resolve(state);
    };
    socket.once('connect', () => finish('open'));
    socket.once('timeout', () => finish('filtered'));
    socket.once('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNREFUSED' ? 'closed' : 'filtered'));
  });
}

/**
 * Open ports per address; at most `concurrency` connections are attempted at once. With a
 * `deadline` (performance.now() ms) no connection starts after it, and it also cuts each
 * connection's timeout short: only addresses whose every port got an answer or a full timeout
 * are in the result. With `limit`, at most limit() connections (up to `concurrency`) at a time.
 */
export async function openPorts(
  jobs: readonly { address: string; ports: readonly number[] }[],
  options: { timeoutMs: number; concurrency: number; deadline?: number; limit?: () => number },
): Promise<Map<string, number[]>> {
  const work = jobs.flatMap((j) => j.ports.map((port) => ({ address: j.address, port })));
  const open = new Map<string, number[]>(jobs.map((j) => [j.address, []]));
  const left = new Map<string, number>(jobs.map((j) => [j.address, j.ports.length]));
  const deadline = options.deadline ?? Infinity;
  let next = 0;
  // Worker k waits while `limit()` is k or less (a scan checks fewer ports at once while its sweep runs).
  const worker = async (k: number) => {
    while (next < work.length) {
      if (options.limit && k >= options.limit()) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      const budget = deadline - performance.now();
      if (budget <= 0) return;
      const { address, port } = work[next++]!;
      const timeout = Math.min(options.timeoutMs, budget);
      const state = await checkPort(address, port, Math.max(1, Math.floor(timeout)));
      // A connection cut short by the deadline proves nothing: its address stays unchecked.
      if (state === 'filtered' && timeout < options.timeoutMs) continue;
      if (state === 'open') open.get(address)!.push(port);
      left.set(address, left.get(address)! - 1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, work.length) }, (_, k) => worker(k)));
  for (const [address, ports] of open) {
    if (left.get(address)! > 0) open.delete(address);
    else ports.sort((a, b) => a - b);
  }
  return open;
}
