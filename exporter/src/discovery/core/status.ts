// Up/down/unknown per address with debounce: one answer makes a host up; it is down only after
// `downAfter` consecutive sweeps without an answer. A host never seen stays unknown until then.

export type HostStatus = 'up' | 'down' | 'unknown';

export interface HostState {
  readonly status: HostStatus;
  readonly misses: number;
  readonly firstSeenAt: number | null;
  readonly lastSeenAt: number | null;
  readonly statusChangedAt: number | null;
}

export type StatusEvent = 'new_device' | 'up' | 'down';

export function observe(
  prev: HostState | undefined,
  alive: boolean,
  now: number,
  downAfter: number,
): { next: HostState; event: StatusEvent | null } {
  if (alive) {
    if (!prev || prev.firstSeenAt === null) {
      return {
        next: { status: 'up', misses: 0, firstSeenAt: now, lastSeenAt: now, statusChangedAt: now },
        event: 'new_device',
      };
    }
    const changed = prev.status !== 'up';
    return {
      next: {
        ...prev,
        status: 'up',
        misses: 0,
        lastSeenAt: now,
        statusChangedAt: changed ? now : prev.statusChangedAt,
      },
      event: prev.status === 'down' ? 'up' : null,
    };
  }
  const base: HostState = prev ?? {
    status: 'unknown',
    misses: 0,
    firstSeenAt: null,
    lastSeenAt: null,
    statusChangedAt: null,
  };
  const misses = base.misses + 1;
  if (misses >= downAfter && base.status !== 'down') {
    return {
      next: { ...base, status: 'down', misses, statusChangedAt: now },
      event: base.status === 'up' ? 'down' : null,
    };
  }
  return { next: { ...base, misses }, event: null };
}
