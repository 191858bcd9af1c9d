// ICMP sweep engine: the send rate is bounded by `pps` alone. Pass 0 sends every target at that
// rate; each retry pass then walks the targets still silent, in the order they were last sent,
// each one no earlier than one timeout after its previous request (so the retry pass follows the
// first pass directly when that pass took longer than a timeout). Replies are collected as they
// come and matched by source address, ICMP identifier and sequence: a reply only counts for the
// target it came from, and only if it carries the sequence that target was sent.
// The EchoSocket does the I/O; this module decides when to send what.

/** One raw ICMP echo socket. */
export interface EchoSocket {
  /** ICMP identifier of this socket's requests. */
  readonly id: number;
  /**
   * Sends one echo request with this sequence number. 'busy': the kernel's send buffer is full,
   * nothing was sent, try again later; 'failed': it cannot be sent to this target (no route, …).
   */
  send(target: string, seq: number): 'sent' | 'busy' | 'failed';
  /** Echo replies as they arrive: source address, identifier and sequence. One listener. */
  listen(onReply: (source: string, id: number, seq: number) => void): void;
}

export interface SweepOptions {
  /** echo requests per second, retries included */
  readonly pps: number;
  /** how long a request waits for its reply before its target is retried or counted silent */
  readonly timeoutMs: number;
  /** retry passes over the targets that stayed silent */
  readonly retries: number;
  /**
   * The index of a reply's source in `targets`, or -1 (default: a Map of the targets; a /16
   * sweep passes arithmetic instead, see ipv4Index)
   */
  readonly indexOf?: (source: string) => number;
  /** sequence of the first target (the others follow it, modulo 2^16); default 0 */
  readonly seqBase?: number;
  /** called after every burst of sends: requests sent so far, and the most this sweep will send */
  readonly onProgress?: (sent: number, most: number) => void;
  /** called for each target at its first answer */
  readonly onAlive?: (target: string) => void;
  readonly signal?: AbortSignal;
}

export interface PassReport {
  /** 0 = the sweep, 1.. = retry passes */
  readonly pass: number;
  /** from the pass's first request to the next pass's first (the last pass: to the end of its wait) */
  readonly seconds: number;
  readonly sent: number;
  /** targets that answered a request of this pass */
  readonly found: number;
}

export interface SweepResult {
  /** alive targets with their round-trip time in seconds */
  readonly alive: Map<string, number>;
  /** echo requests sent, retries included */
  readonly sent: number;
  readonly seconds: number;
  readonly passes: PassReport[];
  /** replies from a target that carried a sequence it was not sent (late or stray), ignored */
  readonly mismatched: number;
}

/** How often the pacer wakes up; at 20,000 pps that is about 40 requests per tick. */
const TICK_MS = 2;
/** Sends allowed at once after the event loop was held up: 50 ms worth at the rate. */
const BURST_SECONDS = 0.05;

export function sweep(targets: readonly string[], socket: EchoSocket, options: SweepOptions): Promise<SweepResult> {
  const { pps, timeoutMs, retries } = options;
  if (!(pps > 0) || !(timeoutMs > 0) || !(retries >= 0)) throw new RangeError('pps, timeoutMs > 0, retries >= 0');
  const n = targets.length;
  const seqBase = options.seqBase ?? 0;
  const seqOf = (i: number) => (seqBase + i) & 0xffff;
  let indexOf = options.indexOf;
  if (!indexOf) {
    const index = new Map<string, number>();
    for (let i = 0; i < n; i++) index.set(targets[i]!, i);
    indexOf = (source) => index.get(source) ?? -1;
  }
  // Per target: when its last request left (ms, performance.now()), 0 = never.
  const sentAt = new Float64Array(n);
  // Per target: the pass of its last request; per pass: the targets that answered it.
  const sentIn = new Uint8Array(n);
  const foundIn = new Array<number>(retries + 1).fill(0);
  const alive = new Map<string, number>();
  const passes: PassReport[] = [];
  const started = performance.now();
  let sent = 0;
  let mismatched = 0;
  let unanswered = n;
  const most = n * (1 + retries);

  // The current pass walks `list` (pass 0: the targets themselves) and records what it sent in
  // `next`, the list of the following pass.
  let pass = 0;
  let list: Uint32Array | null = null; // null: 0..n-1
  let listLength = n;
  let pos = 0;
  let next = retries > 0 ? new Uint32Array(n) : null;
  let nextLength = 0;
  let passStart = started;
  let passSent = 0;
  let lastSend = started;

  socket.listen((source, id, seq) => {
    if (id !== socket.id) return;
    const i = indexOf(source);
    if (i < 0 || sentAt[i] === 0) return;
    if (seq !== seqOf(i)) {
      mismatched += 1;
      return;
    }
    if (alive.has(source)) return;
    alive.set(source, (performance.now() - sentAt[i]!) / 1000);
    unanswered -= 1;
    foundIn[sentIn[i]!]! += 1;
    options.onAlive?.(source);
  });

  return new Promise<SweepResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let credit = 0;
    let last = started;
    let sending = n > 0;
    const endPass = (now: number) => {
      const seconds = (now - passStart) / 1000;
      // A retry pass that sent nothing (everyone answered meanwhile) was the last pass's wait.
      if (pass > 0 && passSent === 0) (passes[passes.length - 1] as { seconds: number }).seconds += seconds;
      else passes.push({ pass, seconds, sent: passSent, found: 0 });
      passStart = now;
      passSent = 0;
    };
    const finish = (now: number) => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      socket.listen(() => {});
      if (n > 0) endPass(now);
      for (const p of passes) (p as { found: number }).found = foundIn[p.pass]!;
      options.onProgress?.(sent, most);
      resolve({ alive, sent, seconds: (now - started) / 1000, passes, mismatched });
    };
    const schedule = (ms: number) => {
      timer = setTimeout(tick, Math.max(1, Math.min(ms, 1000)));
    };
    const tick = () => {
      timer = undefined;
      if (options.signal?.aborted) {
        socket.listen(() => {});
        reject(options.signal.reason ?? new Error('sweep aborted'));
        return;
      }
      const now = performance.now();
      if (unanswered === 0) return finish(now);
      credit = Math.min(Math.max(1, pps * BURST_SECONDS), credit + ((now - last) * pps) / 1000);
      last = now;
      let wait = TICK_MS;
      while (sending && credit >= 1) {
        // Skip what answered meanwhile; at the end of the list, the next pass.
        while (pos < listLength && list !== null && alive.has(targets[list[pos]!]!)) pos++;
        if (pos >= listLength) {
          if (pass >= retries || next === null || nextLength === 0) {
            sending = false;
            break;
          }
          endPass(now);
          pass += 1;
          list = next;
          listLength = nextLength;
          next = pass < retries ? new Uint32Array(listLength) : null;
          nextLength = 0;
          pos = 0;
          continue;
        }
        const i = list === null ? pos : list[pos]!;
        if (pass > 0) {
          // The clock read now, not at the start of the tick: a burst on a busy machine takes a
          // while, and a retry must not leave before one full timeout after its request did.
          const at = performance.now();
          if (at < sentAt[i]! + timeoutMs) {
            wait = sentAt[i]! + timeoutMs - at;
            break;
          }
        }
        const r = socket.send(targets[i]!, seqOf(i));
        if (r === 'busy') break;
        pos += 1;
        credit -= 1;
        sent += 1;
        passSent += 1;
        // Stamped after the send returned, so the timeout is counted from when the request left.
        sentAt[i] = performance.now();
        sentIn[i] = pass;
        lastSend = sentAt[i]!;
        if (next !== null) next[nextLength++] = i;
      }
      options.onProgress?.(sent, most);
      if (!sending) {
        // The final wait: one timeout after the last request, unless everyone answered.
        const left = lastSend + timeoutMs - now;
        if (left <= 0) return finish(now);
        wait = Math.min(left, 20);
      }
      schedule(wait);
    };
    if (n === 0) finish(performance.now());
    else tick();
  });
}

/**
 * indexOf for IPv4 targets in ascending order without gaps (a prefix's hosts): arithmetic on
 * the address instead of a Map of every target.
 */
export function ipv4Index(targets: readonly string[]): (source: string) => number {
  const toInt = (a: string) => {
    const p = a.split('.');
    return p.length === 4 ? ((+p[0]! << 24) | (+p[1]! << 16) | (+p[2]! << 8) | +p[3]!) >>> 0 : NaN;
  };
  const base = targets.length > 0 ? toInt(targets[0]!) : 0;
  return (source) => {
    const i = toInt(source) - base;
    return i >= 0 && i < targets.length && targets[i] === source ? i : -1;
  };
}
