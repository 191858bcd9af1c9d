// Long work takes turns. Every job that cuts itself into slices (exports, listings, layouts,
// allocations, imports, the scrape) awaits nextTurn() between slices. Each job yielding with its
// own setImmediate would resume *all* waiting jobs in the same loop turn: with twenty jobs at
// once that is twenty slices back to back before the loop polls sockets again, and /healthz
// waits for all of them. Here one waiting slice resumes per loop turn, so a turn holds about one
// slice (plus the write batch) whatever the number of jobs; jobs are served in order, and a
// scrape's slices go before the rest so /metrics stays fast while heavy requests run.

export type TurnPriority = 'scrape' | 'work';

const waiting: Record<TurnPriority, (() => void)[]> = { scrape: [], work: [] };
let scheduled = false;

/** Resolves at a later turn of the event loop, after sockets were polled. */
export function nextTurn(priority: TurnPriority = 'work'): Promise<void> {
  return new Promise<void>((resolve) => {
    waiting[priority].push(resolve);
    schedule();
  });
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  // An immediate queued from inside an immediate runs at the next loop turn, after the poll phase.
  setImmediate(wakeOne);
}

function wakeOne(): void {
  scheduled = false;
  const next = waiting.scrape.shift() ?? waiting.work.shift();
  if (waiting.scrape.length > 0 || waiting.work.length > 0) schedule();
  next?.();
}

/** Slices waiting for a turn (for tests). */
export function waitingTurns(): number {
  return waiting.scrape.length + waiting.work.length;
}
