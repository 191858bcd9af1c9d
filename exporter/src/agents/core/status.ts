// An agent's health from what central recorded (pure): up while it was heard from (a report or
// an assignments request, its heartbeat) within three report intervals.

export const MISSED_INTERVALS = 3;

export const AGENT_STATUSES = ['up', 'down', 'never', 'revoked'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export function agentStatus(
  a: { revoked_at: number | null; last_seen_at: number | null; last_report_at: number | null },
  now: number,
  reportIntervalSeconds: number,
): AgentStatus {
  if (a.revoked_at !== null) return 'revoked';
  const heard = Math.max(a.last_seen_at ?? -Infinity, a.last_report_at ?? -Infinity);
  if (heard === -Infinity) return 'never';
  return now - heard <= MISSED_INTERVALS * reportIntervalSeconds * 1000 ? 'up' : 'down';
}
