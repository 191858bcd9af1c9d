// One transaction for the requests waiting on the same key (the allocations of one subnet or
// range, #14): requests that arrive while the key's transaction is in flight queue and go
// together in the next one. On PostgreSQL an allocation holds its subnet's row lock from the plan
// to COMMIT (about a dozen round trips), so allocations in one subnet take turns on that lock; a
// batch pays those round trips once for all its requests (ARCHITECTURE.md, "Scaling out").
//
// The batch is claimed inside its transaction, not when it is queued — the allocations claim
// once their subnet is locked — so the requests that arrived while a connection was taken, BEGIN
// was sent and the lock was waited for (another replica holding it) are in it too. A
// transaction that runs again (PostgreSQL retries a lost race) claims again: the same requests,
// in the same order, and whatever arrived meanwhile, so its outcomes are for all of them.

/** What one request of a batch gets: its value, or its own error (the others still succeed). */
export type Outcome<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

interface Waiting<Q, R> {
  readonly request: Q;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

interface Queue<Q, R> {
  readonly waiting: Waiting<Q, R>[];
  /** Batches of this key in flight (at most `inFlight`). */
  running: number;
}

export class Combiner<Q, R> {
  private readonly queues = new Map<string, Queue<Q, R>>();
  /** Most requests one batch answered so far, for tests and tuning. */
  maxBatch = 0;

  constructor(
    /**
     * Runs one batch: calls `claim()` once per attempt (inside its transaction) and answers one
     * outcome per claimed request, in order. A throw fails every claimed request with that error.
     * `first` is the request that will be claimed first (what the batch is about before it claims).
     */
    private readonly runBatch: (claim: () => readonly Q[], first: Q) => Promise<readonly Outcome<R>[]>,
    /** Whether `next` may join `batch` (at least one request always goes). */
    private readonly fits: (batch: readonly Q[], next: Q) => boolean = () => true,
    /**
     * Batches of one key in flight at once. More than one only where a batch claims after
     * waiting for something the previous one holds (the subnet's row lock): the next batch then
     * has its connection, BEGIN and lock request ready when the previous one commits.
     */
    private readonly inFlight = 1,
  ) {}

  submit(key: string, request: Q): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) this.queues.set(key, (queue = { waiting: [], running: 0 }));
      queue.waiting.push({ request, resolve, reject });
      if (queue.running < this.inFlight) void this.drain(key, queue);
    });
  }

  private async drain(key: string, queue: Queue<Q, R>): Promise<void> {
    queue.running += 1;
    while (queue.waiting.length > 0) {
      const claimed: Waiting<Q, R>[] = [];
      const batch: Q[] = [];
      const claim = (): readonly Q[] => {
        while (queue.waiting.length > 0 && (batch.length === 0 || this.fits(batch, queue.waiting[0]!.request))) {
          const w = queue.waiting.shift()!;
          claimed.push(w);
          batch.push(w.request);
        }
        return batch;
      };
      try {
        const outcomes = await this.runBatch(claim, queue.waiting[0]!.request);
        this.maxBatch = Math.max(this.maxBatch, claimed.length); // 0: the previous batch took them all
        claimed.forEach((w, i) => {
          const o = outcomes[i];
          if (o?.ok) w.resolve(o.value);
          else w.reject(o ? o.error : new Error('a combined batch answered fewer outcomes than requests'));
        });
      } catch (e) {
        // Failed before claiming (no connection, BEGIN refused): the batch it would have taken fails
        // with it, as each would have alone; the rest try again.
        if (claimed.length === 0) claim();
        for (const w of claimed) w.reject(e);
      }
    }
    queue.running -= 1;
    if (queue.running === 0) this.queues.delete(key);
  }
}
