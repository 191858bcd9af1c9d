// When a scheduled traffic test runs next. Jitter spreads schedules created together so
// their tests do not line up on the same target servers.

/** A new (or re-enabled) schedule runs soon: within its jitter from now. */
export function firstRunAt(now: number, jitterSeconds: number, random = Math.random): number {
  return now + Math.round(random() * jitterSeconds * 1000);
}

/** The next run one interval later, ± jitter (jitter ≤ interval / 2, so always in the future). */
export function nextRunAt(now: number, intervalSeconds: number, jitterSeconds: number, random = Math.random): number {
  return now + Math.round((intervalSeconds + (2 * random() - 1) * jitterSeconds) * 1000);
}

/** Back-off before retry n (1-based) when the target's iperf3 server is busy: 1, 2, 4, 8 s. */
export const BUSY_BACKOFF_MS = [1000, 2000, 4000, 8000] as const;

export const direction = (reverse: boolean) => (reverse ? 'reverse' : 'forward');
