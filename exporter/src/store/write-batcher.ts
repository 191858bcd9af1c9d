// Group commit: write operations that arrive in the same event-loop turn share one IMMEDIATE
// transaction, each in its own savepoint, so one failing operation rolls back alone. Callers
// are answered only after the shared COMMIT, so an acknowledged write is as durable as before;
// what the batch saves is one COMMIT (and its WAL write) per request.
//
// A batch also has a time budget: once the operations run so far took `budgetMs`, the rest wait
// for the next turn of the event loop, so other requests (/healthz, reads) are served between
// batches. Long jobs (bulk allocations, CSV imports) submit bounded slices of work, one
// operation each, and never hold the loop for much longer than one budget.
import { atNextWorkingTurn } from '../turns.js';
import type { Db } from './db.js';

interface PendingWrite {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class WriteBatcher {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  /** Largest batch so far, for tests and tuning. */
  maxBatch = 0;
  /** Longest batch so far (ms, the COMMIT included), for tests and tuning. */
  maxBatchMs = 0;

  constructor(
    private readonly db: Db,
    private readonly maxBatchSize = 256,
    private readonly budgetMs = 8,
  ) {}

  /** Runs `fn` (synchronous, store-only work) in the next batch; resolves after commit. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    // In the loop's working turns only: the empty turns that accept queued connections stay short.
    atNextWorkingTurn(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const batch = this.pending.splice(0, this.maxBatchSize);
    if (batch.length === 0) return;
    const started = performance.now();
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.db
        .transaction(() => {
          for (const op of batch) {
            // Over budget: the rest go first into the next batch (at least one operation runs).
            if (outcomes.length > 0 && performance.now() - started >= this.budgetMs) break;
            try {
              outcomes.push({ ok: true, value: this.db.transaction(op.fn)() });
            } catch (e) {
              outcomes.push({ ok: false, value: e });
            }
          }
        })
        .immediate();
    } catch (e) {
      // The transaction failed (BEGIN or COMMIT): what ran is gone; without a start, all of it fails.
      const ran = outcomes.length > 0 ? outcomes.length : batch.length;
      this.pending.unshift(...batch.slice(ran));
      this.schedule();
      for (const op of batch.slice(0, ran)) op.reject(e);
      return;
    }
    this.pending.unshift(...batch.slice(outcomes.length));
    this.schedule();
    this.maxBatch = Math.max(this.maxBatch, outcomes.length);
    this.maxBatchMs = Math.max(this.maxBatchMs, performance.now() - started);
    outcomes.forEach((o, i) => {
      const op = batch[i]!;
      if (o.ok) op.resolve(o.value);
      else op.reject(o.value);
    });
  }
}
