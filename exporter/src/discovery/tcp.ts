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

/** Open ports per address; at most `concurrency` connections are attempted at once. */
export async function openPorts(
  jobs: readonly { address: string; ports: readonly number[] }[],
  options: { timeoutMs: number; concurrency: number },
): Promise<Map<string, number[]>> {
  const work = jobs.flatMap((j) => j.ports.map((port) => ({ address: j.address, port })));
  const open = new Map<string, number[]>(jobs.map((j) => [j.address, []]));
  let next = 0;
  const worker = async () => {
    while (next < work.length) {
      const { address, port } = work[next++]!;
      if ((await checkPort(address, port, options.timeoutMs)) === 'open') open.get(address)!.push(port);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, work.length) }, worker));
  for (const ports of open.values()) ports.sort((a, b) => a - b);
  return open;
}
