// Long work takes turns. Every job that cuts itself into slices (exports, listings, layouts,
// allocations, imports, the scrape) awaits nextTurn() between slices. Each job yielding with its
// own setImmediate would resume *all* waiting jobs in the same loop turn: with twenty jobs at
// once that is twenty slices back to back before the loop polls sockets again, and /healthz
// waits for all of them. Here one waiting slice resumes per loop turn, so a turn holds about one
// slice (plus the write batch) whatever the number of jobs; jobs are served in order, and a
// scrape's slices go before the rest so /metrics stays fast while heavy requests run.

//
// libuv (since 1.45) accepts at most one connection per loop turn. With a slice in every turn a
// queue of fifty new connections (clients retrying after a 429, say) is fifty slices long, and a
// /healthz behind them waits seconds although no turn is long. So before the next slice the loop
// turns without one for as long as the last turn accepted a connection: queued connections are
// all accepted (and their cheap requests answered) within a few empty turns.

export type TurnPriority = 'scrape' | 'work';

const waiting: Record<TurnPriority, (() => void)[]> = { scrape: [], work: [] };
let scheduled = false;
/** Connections accepted since the last wake-up (noteAccepted). */
let accepted = 0;
/** Empty turns taken since the last slice. */
let emptyTurns = 0;
/** A bound on empty turns between two slices, so a connection flood cannot stop the work. */
const MAX_EMPTY_TURNS = 64;
/**
 * Scrape turns in a row while other work waits. A scrape cut into ~10 ms slices that got only
 * every other turn waited for a work slice and a write batch (20-80 ms under load) per slice of
 * its own; three in a row bound how long other work waits (three scrape slices) and how much of
 * the loop back-to-back scrapes can take (three turns of four).
 */
const SCRAPE_STREAK = 3;
/** Scrape turns since the last turn that ran other work. */
let scrapeStreak = 0;

/** Work that runs once at the start of the next working turn (the write batch), before its slice. */
let turnStart: (() => void)[] = [];

/** Runs `fn` once in the next working turn (not in an empty one), before that turn's slice. */
export function atNextWorkingTurn(fn: () => void): void {
  turnStart.push(fn);
  schedule();
}

/** The HTTP server calls this for each accepted connection. */
export function noteAccepted(): void {
  accepted++;
}

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
  if (accepted > 0 && emptyTurns < MAX_EMPTY_TURNS) {
    // The turn just polled accepted a connection: more may be queued, so poll again first.
    accepted = 0;
    emptyTurns++;
    schedule();
    return;
  }
  accepted = 0;
  emptyTurns = 0;
  // A scrape goes first, but takes at most SCRAPE_STREAK turns in a row while other work waits:
  // scrapes that come faster than they finish must not stop everything else.
  const othersWait = waiting.work.length > 0 || turnStart.length > 0;
  const scrape = scrapeStreak >= SCRAPE_STREAK && othersWait ? undefined : waiting.scrape.shift();
  scrapeStreak = scrape ? scrapeStreak + 1 : 0;
  // A scrape's turn holds its slice alone: the write batch waits one turn, so /metrics is not
  // slowed by a batch in every one of its turns.
  const starts = scrape ? [] : turnStart;
  if (!scrape) turnStart = [];
  const next = scrape ?? waiting.work.shift();
  if (waiting.scrape.length > 0 || waiting.work.length > 0 || turnStart.length > 0) schedule();
  for (const fn of starts) fn();
  next?.();
}

/** Slices waiting for a turn (for tests). */
export function waitingTurns(): number {
  return waiting.scrape.length + waiting.work.length + turnStart.length;
}
