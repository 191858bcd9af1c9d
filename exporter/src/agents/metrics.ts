// Agent health for Prometheus (#15), read from the store at every scrape: store scope (the
// leader's alone, metrics/snapshot.ts), one series per agent that is not revoked.
import type { Registry } from 'prom-client';
import { snapshotGroup } from '../metrics/snapshot.js';
import type { AgentService } from './service.js';

export function registerAgentMetrics(registry: Registry, agents: AgentService): void {
  const gauge = snapshotGroup(registry, refresh);
  const up = gauge(
    'lanscape_agent_up',
    'Whether the agent was heard from (a report or its assignments request) within 3 report intervals (1) or not (0).',
  );
  const lastReport = gauge(
    'lanscape_agent_last_report_timestamp_seconds',
    'When the last result batch of the agent was applied (absent before its first).',
  );
  const depth = gauge(
    'lanscape_agent_queue_depth',
    "Result batches waiting in the agent's disk queue, as it last said.",
  );
  const interval = gauge(
    'lanscape_agent_report_interval_seconds',
    'How often central expects the agent to report; lanscape_agent_up turns 0 after 3 of these without a word.',
  );
  const dropped = gauge(
    'lanscape_agent_dropped_results',
    'Result batches the agent dropped from its full queue since it started using its queue directory, as it last said.',
  );

  async function refresh() {
    for (const a of await agents.list()) {
      if (a.status === 'revoked') continue;
      const labels = { agent: a.name };
      up.set(labels, a.status === 'up' ? 1 : 0);
      if (a.last_report_at) lastReport.set(labels, Date.parse(a.last_report_at) / 1000);
      interval.set(labels, a.report_interval_seconds);
      depth.set(labels, a.queue_depth);
      dropped.set(labels, a.dropped_results_total);
    }
  }
}
