// Periodic background work (schedules, inventory, resyncs): the next run is planned only when
// the last one has ended, so a slow run never overlaps the next. Timers are unref'd: a loop
// never keeps the process alive, and stop() ends it.

export interface TimerLoop {
  stop(): void;
}

/**
 * Runs `tick` every `everyMs` until stop(): first after `everyMs`, or at once with `runNow`.
 * An async tick is awaited before the next is planned. `tick` handles its own errors: one that
 * throws or rejects ends the loop and escapes as uncaught.
 */
export function startTimerLoop(
  tick: () => void | Promise<unknown>,
  everyMs: number,
  { runNow = false } = {},
): TimerLoop {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const plan = () => {
    if (stopped) return;
    timer = setTimeout(run, everyMs);
    timer.unref();
  };
  const run = () => {
    const pending = tick();
    if (pending instanceof Promise) void pending.then(plan);
    else plan();
  };
  if (runNow) run();
  else plan();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
