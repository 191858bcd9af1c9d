// SQL of sites and agents (#15): the agents and the result batches applied. One text per
// statement on both backends (store/sql-exec.ts).
import type { Store } from '../store/store.js';

export interface AgentRow {
  id: number;
  name: string;
  token_hash: Buffer;
  created_at: number;
  revoked_at: number | null;
  last_report_at: number | null;
  last_seen_at: number | null;
  queue_depth: number;
  dropped_results_total: number;
  version: string | null;
  metrics_url: string | null;
}

/** What an agent says of itself (with its assignments request or a batch). */
export interface SelfReport {
  queue_depth?: number | undefined;
  dropped_total?: number | undefined;
  agent_version?: string | undefined;
  metrics_url?: string | undefined;
}

export class AgentStore {
  constructor(readonly store: Store) {}

  private get exec() {
    return this.store.exec;
  }

  async insert(name: string, tokenHash: Buffer, now: number): Promise<number> {
    const row = await this.exec.get<{ id: number }>(
      'INSERT INTO agents (name, token_hash, created_at) VALUES (?, ?, ?) RETURNING id',
      [name, tokenHash, now],
    );
    return row!.id;
  }
  byId(id: number): Promise<AgentRow | undefined> {
    return this.exec.get<AgentRow>('SELECT * FROM agents WHERE id = ?', [id]);
  }
  byName(name: string): Promise<AgentRow | undefined> {
    return this.exec.get<AgentRow>('SELECT * FROM agents WHERE name = ?', [name]);
  }
  all(): Promise<AgentRow[]> {
    return this.exec.all<AgentRow>('SELECT * FROM agents ORDER BY id');
  }
  /** Subnets assigned to each agent, by agent id. */
  async assigned(): Promise<Map<number, { id: number; cidr: string }[]>> {
    const rows = await this.exec.all<{ id: number; cidr: string; agent_id: number }>(
      'SELECT id, cidr, agent_id FROM subnets WHERE agent_id IS NOT NULL ORDER BY id',
    );
    const out = new Map<number, { id: number; cidr: string }[]>();
    for (const r of rows) {
      const list = out.get(r.agent_id) ?? [];
      list.push({ id: r.id, cidr: r.cidr });
      out.set(r.agent_id, list);
    }
    return out;
  }
  async revoke(id: number, now: number): Promise<boolean> {
    return (await this.exec.run('UPDATE agents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, id])) > 0;
  }
  /** A request of the agent: last seen now, and what it says of itself (absent fields kept). */
  async seen(id: number, now: number, report: SelfReport, reported: boolean): Promise<void> {
    await this.exec.run(
      `UPDATE agents SET last_seen_at = ?,
        last_report_at = CASE WHEN ? = 1 THEN ? ELSE last_report_at END,
        queue_depth = coalesce(?, queue_depth), dropped_results_total = coalesce(?, dropped_results_total),
        version = coalesce(?, version), metrics_url = coalesce(?, metrics_url)
       WHERE id = ?`,
      [
        now,
        reported ? 1 : 0,
        now,
        report.queue_depth ?? null,
        report.dropped_total ?? null,
        report.agent_version ?? null,
        report.metrics_url ?? null,
        id,
      ],
    );
  }
  /** A batch's claim, when it was claimed before: the scan that applied (or applies) it. */
  async batchClaim(batchId: string): Promise<{ scanId: number | null } | undefined> {
    const row = await this.exec.get<{ scan_id: number | null }>(
      'SELECT scan_id FROM agent_batches WHERE batch_id = ?',
      [batchId],
    );
    return row && { scanId: row.scan_id };
  }
  /**
   * Claims a batch for the scan applying it (in that transaction). `takeOverFrom`: the scan of
   * the claim being taken over (an apply cut short), compared and swapped, so of two replicas
   * retrying one batch only one takes it over; false for the other.
   */
  async claimBatch(
    batchId: string,
    agentId: number,
    subnetId: number,
    scanId: number,
    now: number,
    takeOverFrom?: number,
  ): Promise<boolean> {
    if (takeOverFrom === undefined) {
      await this.exec.run(
        'INSERT INTO agent_batches (batch_id, agent_id, subnet_id, scan_id, applied_at) VALUES (?, ?, ?, ?, ?)',
        [batchId, agentId, subnetId, scanId, now],
      );
      return true;
    }
    const taken = await this.exec.run(
      'UPDATE agent_batches SET scan_id = ?, applied_at = ? WHERE batch_id = ? AND scan_id = ?',
      [scanId, now, batchId, takeOverFrom],
    );
    return taken === 1;
  }
  /** Batch ids older than this are forgotten (an agent's queue never holds a batch that long). */
  async pruneBatches(before: number): Promise<number> {
    return this.exec.run('DELETE FROM agent_batches WHERE applied_at < ?', [before]);
  }
}
