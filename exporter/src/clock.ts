// The one source of "now" for every domain. Timestamps the exporter writes (created_at, audit
// entries, scan and test times, cut-offs) come from an injected Clock, so tests run on any date.

/** Milliseconds since the Unix epoch. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** The clock's current time as an ISO 8601 UTC timestamp, the form the store and API use. */
export function isoNow(clock: Clock): string {
  return new Date(clock()).toISOString();
}
