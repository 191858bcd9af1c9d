// SQL of the audit log (table audit_log, append-only). `before` and `after` are stored as JSON text.
import type { Store } from '../store/store.js';
import { insertRows } from '../store/insert-rows.js';

/** A stored audit entry: the object before and after as JSON text (null when absent). */
export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  grafana_user: string | null;
  request_id: string | null;
  action: 'create' | 'update' | 'delete';
  object_type: string;
  object_id: number | null;
  object_repr: string;
  before: string | null;
  after: string | null;
}

export interface AuditRowFilter {
  object_type?: string | undefined;
  object_id?: number | undefined;
  /** The token name or the Grafana user. */
  actor?: string | undefined;
  /** ISO time: entries at or after it. */
  since?: string | undefined;
}

const INSERT = `INSERT INTO audit_log
  (at, actor, grafana_user, request_id, action, object_type, object_id, object_repr, before, after)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const AUDIT_COLUMNS = [
  'at',
  'actor',
  'grafana_user',
  'request_id',
  'action',
  'object_type',
  'object_id',
  'object_repr',
  'before',
  'after',
] as const;

export class AuditStore {
  constructor(private readonly store: Store) {}

  /** In the caller's write transaction (the ambient one). */
  async insert(row: Omit<AuditRow, 'id'>): Promise<void> {
    await this.store.exec.run(INSERT, [
      row.at,
      row.actor,
      row.grafana_user,
      row.request_id,
      row.action,
      row.object_type,
      row.object_id,
      row.object_repr,
      row.before,
      row.after,
    ]);
  }

  /** Many entries in a few statements (store/insert-rows.ts), in the ambient transaction. */
  async insertMany(rows: readonly Omit<AuditRow, 'id'>[]): Promise<void> {
    await insertRows(
      this.store.exec,
      'audit_log',
      AUDIT_COLUMNS,
      rows.map((r) => AUDIT_COLUMNS.map((c) => r[c])),
    );
  }

  /** Entries matching the filter, newest first, and how many match in all. */
  async list(filter: AuditRowFilter, limit: number, offset: number): Promise<{ count: number; rows: AuditRow[] }> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.object_type) {
      where.push('object_type = ?');
      args.push(filter.object_type);
    }
    if (filter.object_id !== undefined) {
      where.push('object_id = ?');
      args.push(filter.object_id);
    }
    if (filter.actor) {
      where.push('(actor = ? OR grafana_user = ?)');
      args.push(filter.actor, filter.actor);
    }
    if (filter.since) {
      where.push('at >= ?');
      args.push(filter.since);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const exec = this.store.exec;
    const count = (await exec.get<{ n: number }>(`SELECT count(*) AS n FROM audit_log ${clause}`, args))!.n;
    const rows = await exec.all<AuditRow>(`SELECT * FROM audit_log ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`, [
      ...args,
      limit,
      offset,
    ]);
    return { count, rows };
  }
}
