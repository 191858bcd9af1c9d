// Append-only audit log: who changed what, when, with the object before and after.
import { type Clock, isoNow, systemClock } from '../clock.js';
import type { Db } from '../store/db.js';

export interface Actor {
  /** Name of the API token (read, write, admin or a named token from the config file). */
  readonly name: string;
  /** Grafana user from the X-Grafana-User header when the request came through the plugin proxy. */
  readonly grafanaUser?: string | null;
  readonly requestId?: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  grafana_user: string | null;
  request_id: string | null;
  action: 'create' | 'update' | 'delete';
  object_type: string;
  object_id: number | null;
  object_repr: string;
  before: unknown;
  after: unknown;
}

export interface AuditFilter {
  object_type?: string | undefined;
  object_id?: number | undefined;
  actor?: string | undefined;
  since?: string | undefined;
}

interface AuditRow extends Omit<AuditEntry, 'before' | 'after'> {
  before: string | null;
  after: string | null;
}

export class AuditLog {
  private readonly insert;

  constructor(private readonly db: Db, private readonly clock: Clock = systemClock) {
    this.insert = db.prepare(`INSERT INTO audit_log
      (at, actor, grafana_user, request_id, action, object_type, object_id, object_repr, before, after)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  }

  record(actor: Actor, action: AuditEntry['action'], objectType: string, objectId: number | null,
    repr: string, before: unknown, after: unknown): void {
    this.insert.run(isoNow(this.clock), actor.name, actor.grafanaUser ?? null, actor.requestId ?? null,
      action, objectType, objectId, repr,
      before === undefined ? null : JSON.stringify(before), after === undefined ? null : JSON.stringify(after));
  }

  list(filter: AuditFilter, limit: number, offset: number): { count: number; results: AuditEntry[] } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.object_type) { where.push('object_type = ?'); args.push(filter.object_type); }
    if (filter.object_id !== undefined) { where.push('object_id = ?'); args.push(filter.object_id); }
    if (filter.actor) { where.push('(actor = ? OR grafana_user = ?)'); args.push(filter.actor, filter.actor); }
    if (filter.since) { where.push('at >= ?'); args.push(filter.since); }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = (this.db.prepare(`SELECT count(*) AS n FROM audit_log ${clause}`).get(...args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM audit_log ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as AuditRow[];
    return {
      count,
      results: rows.map((r) => ({ ...r, before: parseJson(r.before), after: parseJson(r.after) })),
    };
  }
}

function parseJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}
