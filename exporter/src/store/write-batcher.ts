// Group commit: write operations that arrive in the same event-loop turn share one IMMEDIATE
// transaction, each in its own savepoint, so one failing operation rolls back alone. Callers
// are answered only after the shared COMMIT, so an acknowledged write is as durable as before;
// what the batch saves is one COMMIT (and its WAL write) per request. SQLite only: on
// PostgreSQL every write is its own transaction on a pooled connection (store.ts).
//
// A batch also has a time budget: once the operations run so far took `budgetMs`, the rest wait
// for the next turn of the event loop, so other requests (/healthz, reads) are served between
// batches. Long jobs (bulk allocations, CSV imports) submit bounded slices of work, one
// operation each, and never hold the loop for much longer than one budget.
//
// An operation may be synchronous (code still on better-sqlite3 directly) or asynchronous (code
// on SqlExec). On SQLite every SqlExec statement resolves at once, so an operation that awaits
// only the store finishes in microtasks, within the batch's turn.
import { atNextWorkingTurn } from '../turns.js';
import type { SqlExec } from './sql-exec.js';

interface PendingWrite {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Runs `fn` inside the savepoint `tx` (store.ts binds it as the ambient transaction). */
export type EnterTransaction = (tx: SqlExec, fn: () => unknown) => Promise<unknown>;

const direct: EnterTransaction = async (_tx, fn) => fn();

export class WriteBatcher {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  /** Largest batch so far, for tests and tuning. */
  maxBatch = 0;
  /** Longest batch so far (ms, the COMMIT included), for tests and tuning. */
  maxBatchMs = 0;

  constructor(
    private readonly exec: SqlExec,
    private readonly enter: EnterTransaction = direct,
    private readonly maxBatchSize = 256,
    private readonly budgetMs = 8,
  ) {}

  /** Runs `fn` (store-only work) in the next batch; resolves after commit. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
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
      void this.flush().finally(() => {
        this.scheduled = false;
        this.schedule();
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.maxBatchSize);
    if (batch.length === 0) return;
    const started = performance.now();
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      await this.exec.transaction(async (tx) => {
        for (const op of batch) {
          // Over budget: the rest go first into the next batch (at least one operation runs).
          if (outcomes.length > 0 && performance.now() - started >= this.budgetMs) break;
          try {
            outcomes.push({ ok: true, value: await tx.transaction((sp) => this.enter(sp, op.fn)) });
          } catch (e) {
            outcomes.push({ ok: false, value: e });
          }
        }
      });
    } catch (e) {
      // The transaction failed (BEGIN or COMMIT): what ran is gone; without a start, all of it fails.
      const ran = outcomes.length > 0 ? outcomes.length : batch.length;
      this.pending.unshift(...batch.slice(ran));
      for (const op of batch.slice(0, ran)) op.reject(e);
      return;
    }
    this.pending.unshift(...batch.slice(outcomes.length));
    this.maxBatch = Math.max(this.maxBatch, outcomes.length);
    this.maxBatchMs = Math.max(this.maxBatchMs, performance.now() - started);
    outcomes.forEach((o, i) => {
      const op = batch[i]!;
      if (o.ok) op.resolve(o.value);
      else op.reject(o.value);
    });
  }
}

/** What callers that queue writes use: the batcher on SQLite, one transaction per call on PostgreSQL. */
export type Writes = Pick<WriteBatcher, 'run' | 'maxBatch' | 'maxBatchMs'>;
