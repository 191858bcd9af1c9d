// An agent's health from what central recorded (pure): up while it was heard from (a report or
// an assignments request, its heartbeat) within three report intervals.
import type { AgentView } from '../schemas.js';

export const MISSED_INTERVALS = 3;

export function agentStatus(
  a: { revoked_at: number | null; last_seen_at: number | null; last_report_at: number | null },
  now: number,
  reportIntervalSeconds: number,
): AgentView['status'] {
  if (a.revoked_at !== null) return 'revoked';
  const heard = Math.max(a.last_seen_at ?? -Infinity, a.last_report_at ?? -Infinity);
  if (heard === -Infinity) return 'never';
  return now - heard <= MISSED_INTERVALS * reportIntervalSeconds * 1000 ? 'up' : 'down';
}
