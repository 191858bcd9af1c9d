// Group commit: write operations that arrive in the same event-loop turn share one IMMEDIATE
// transaction, each in its own savepoint, so one failing operation rolls back alone. Callers
// are answered only after the shared COMMIT, so an acknowledged write is as durable as before;
// what the batch saves is one COMMIT (and its WAL write) per request.
import type { Db } from './db.js';

interface PendingWrite {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class WriteBatcher {
  private pending: PendingWrite[] = [];
  /** Largest batch so far, for tests and tuning. */
  maxBatch = 0;

  constructor(private readonly db: Db, private readonly maxBatchSize = 256) {}

  /** Runs `fn` (synchronous, store-only work) in the next batch; resolves after commit. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending.splice(0, this.maxBatchSize);
    if (this.pending.length > 0) setImmediate(() => this.flush());
    if (batch.length === 0) return;
    this.maxBatch = Math.max(this.maxBatch, batch.length);
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.db.transaction(() => {
        for (const op of batch) {
          try {
            outcomes.push({ ok: true, value: this.db.transaction(op.fn)() });
          } catch (e) {
            outcomes.push({ ok: false, value: e });
          }
        }
      }).immediate();
    } catch (e) {
      for (const op of batch) op.reject(e);
      return;
    }
    batch.forEach((op, i) => {
      const o = outcomes[i]!;
      if (o.ok) op.resolve(o.value);
      else op.reject(o.value);
    });
  }
}
