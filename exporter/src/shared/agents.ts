// Names and the report interval of remote scan agents (#15), shared by central's settings
// (config), central's agent domain (agents/) and the agent process (agent/).

/** An agent's name: what POST /agents takes and what the per-agent settings are keyed by. */
export const AGENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * How often an agent asks for its assignments (its heartbeat), in seconds. Central calls an agent
 * down after three of its intervals, so the bounds keep that between 30 s (a heartbeat is a store
 * write and a read of every subnet) and 30 min (LanscapeAgentDown adds its 5 m to that).
 */
export const REPORT_INTERVAL = { default: 60, min: 10, max: 600 } as const;

export const REPORT_INTERVAL_RANGE = `${REPORT_INTERVAL.min}–${REPORT_INTERVAL.max}`;

/**
 * The interval an agent reports at: central's, or the agent's own setting when that is shorter.
 * Never longer: central judges an agent by the interval it handed out, and an agent reporting
 * less often would be called down between its reports.
 */
export function effectiveReportInterval(central: number, own: number | undefined): number {
  return own !== undefined && own < central ? own : central;
}
