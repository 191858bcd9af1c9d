// Whether the store answers, for /readyz and `lanscape_collector_up{collector="store"}`. Those
// are read synchronously (a scrape, a probe), while asking PostgreSQL is a round trip: so a loop
// asks every `everyMs` and the answer is kept. A probe that takes longer than `timeoutMs` counts
// as down (a server that accepts connections but does not answer is not ready), and so does a
// connection error reported by the pool in between (the next probe may bring it back up).
import { startTimerLoop, type TimerLoop } from '../timer-loop.js';
import type { Store } from './store.js';

export interface StoreHealthOptions {
  readonly everyMs?: number;
  readonly timeoutMs?: number;
}

export class StoreHealth {
  private ok = true;
  private reason: string | undefined;
  private loop: TimerLoop | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: StoreHealthOptions = {},
  ) {
    store.pool?.on('error', (e: Error) => this.down(`connection lost: ${e.message}`));
  }

  get status(): { up: boolean; message?: string } {
    return this.ok ? { up: true } : { up: false, ...(this.reason ? { message: this.reason } : {}) };
  }

  /** Probes once now (start-up), then every `everyMs` until stop(). */
  async start(): Promise<void> {
    await this.probe();
    this.loop = startTimerLoop(() => this.probe(), this.options.everyMs ?? 1_000);
  }

  stop(): void {
    this.loop?.stop();
  }

  async probe(): Promise<boolean> {
    const timeoutMs = this.options.timeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    const answered = await Promise.race([this.store.answers(), timedOut]);
    clearTimeout(timer);
    if (answered) {
      this.ok = true;
      this.reason = undefined;
    } else {
      this.down(`the store did not answer within ${timeoutMs} ms`);
    }
    return answered;
  }

  private down(reason: string): void {
    this.ok = false;
    this.reason = reason;
  }
}
