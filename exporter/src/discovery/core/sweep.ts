// ICMP sweep scheduling: sends at a fixed rate with a cap on requests outstanding, and retries
// timed-out targets through the same pacer so the packet rate cap holds for retries too.
// The Pinger does the I/O; this module only decides when to send what.

export interface Pinger {
  /** Sends one echo request and calls back once: the round trip in seconds, or null on no answer. */
  ping(target: string, done: (rttSeconds: number | null) => void): void;
}

export interface SweepOptions {
  /** echo requests per second */
  readonly pps: number;
  /** requests outstanding at most (net-ping matches replies by a 16-bit sequence: stay well below 65,535) */
  readonly maxInFlight: number;
  /** extra tries for a target that did not answer */
  readonly retries: number;
  readonly onProgress?: (finished: number, total: number, sent: number) => void;
  readonly signal?: AbortSignal;
}

export interface SweepResult {
  /** alive targets with their round-trip time in seconds */
  readonly alive: Map<string, number>;
  /** echo requests sent, retries included */
  readonly sent: number;
  readonly seconds: number;
}

/** How often the pacer wakes up; at 20,000 pps that is about 40 requests per tick. */
const TICK_MS = 2;

export function sweep(targets: readonly string[], pinger: Pinger, options: SweepOptions): Promise<SweepResult> {
  const { pps, maxInFlight, retries } = options;
  if (!(pps > 0) || !(maxInFlight > 0) || retries < 0)
    throw new RangeError('pps, maxInFlight must be positive, retries >= 0');
  const alive = new Map<string, number>();
  const started = performance.now();
  // First tries walk the target list; only targets that need another try get a queue entry,
  // so a /16 costs no per-address objects beyond what is in flight.
  let nextTarget = 0;
  const retryQueue: { target: string; triesLeft: number }[] = [];
  let retryHead = 0;
  const pending = () => targets.length - nextTarget + retryQueue.length - retryHead;
  const take = (): { target: string; triesLeft: number } =>
    retryHead < retryQueue.length ? retryQueue[retryHead++]! : { target: targets[nextTarget++]!, triesLeft: retries };
  let sent = 0;
  let inFlight = 0;
  let finished = 0;

  return new Promise<SweepResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (timer) clearTimeout(timer);
      options.onProgress?.(finished, targets.length, sent);
      resolve({ alive, sent, seconds: (performance.now() - started) / 1000 });
    };
    const tick = () => {
      timer = undefined;
      if (options.signal?.aborted) {
        reject(options.signal.reason ?? new Error('sweep aborted'));
        return;
      }
      const budget = Math.floor(((performance.now() - started) / 1000) * pps) - sent;
      let n = Math.min(budget, maxInFlight - inFlight, pending());
      while (n-- > 0) {
        const item = take();
        sent += 1;
        inFlight += 1;
        pinger.ping(item.target, (rtt) => {
          inFlight -= 1;
          if (rtt !== null) {
            alive.set(item.target, rtt);
            finished += 1;
          } else if (item.triesLeft > 0) {
            retryQueue.push({ target: item.target, triesLeft: item.triesLeft - 1 });
          } else {
            finished += 1;
          }
          if (finished === targets.length) done();
          else if (!timer) timer = setTimeout(tick, TICK_MS);
        });
      }
      options.onProgress?.(finished, targets.length, sent);
      if (finished < targets.length && pending() > 0 && !timer) timer = setTimeout(tick, TICK_MS);
    };
    if (targets.length === 0) done();
    else tick();
  });
}
