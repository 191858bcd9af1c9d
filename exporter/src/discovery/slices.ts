// Long discovery writes in slices: applying a sweep (apply.ts) and recording what enrichment
// learned (enrich.ts) touch one row group per address, 0.1–0.6 ms each (creating an audited IPAM
// row is the dearest), so a /16 with hundreds of hosts took 25–120 ms in one transaction, one
// turn of the event loop. Here the steps run through the write batcher in slices of at most
// APPLY_SLICE_MS each: a slice is one savepoint in that turn's write batch, committed with it,
// and the next slice waits for a later working turn (turns.ts), so requests are served between
// slices and what a slice wrote is visible as soon as its batch commits. A step awaits only the
// store: on SQLite every statement resolves at once, so a slice still finishes within its turn.
import type { SqlDialect } from '../store/sql-exec.js';
import type { DiscoveryContext } from './context.js';

/** The longest a slice of discovery's writes runs before it commits and waits for a turn (ms). */
export const APPLY_SLICE_MS = 5;

/**
 * Hosts per step where a step handles many hosts at once (a sweep's hosts, their open ports):
 * read and written in one statement each. SQLite: 32, so a step stays well inside a slice (the
 * loop waits for it). PostgreSQL: 128, because there a statement is a round trip that waits on
 * the network, not the loop, and four times fewer of them carry the same rows.
 */
export function hostsPerStep(dialect: SqlDialect): number {
  return dialect === 'postgres' ? 128 : 32;
}

/**
 * Runs step(0) … step(count - 1) in order, in slices of at most `sliceMs` each (at least one
 * step per slice), each slice in its own write batch. `onSlice` is called after each committed
 * slice with the number of steps done. A step that throws fails the rest (what earlier slices
 * committed stays).
 */
export async function inSlices(
  ctx: Pick<DiscoveryContext, 'write'>,
  count: number,
  step: (i: number) => Promise<void>,
  onSlice?: (done: number) => void,
  sliceMs = APPLY_SLICE_MS,
): Promise<void> {
  let done = 0;
  while (done < count) {
    const from = done;
    // On PostgreSQL a slice may run again (a race the database aborted): it starts from `from` each time.
    done = await ctx.write(async () => {
      const deadline = performance.now() + sliceMs;
      let i = from;
      do await step(i++);
      while (i < count && performance.now() < deadline);
      return i;
    });
    onSlice?.(done);
  }
}
