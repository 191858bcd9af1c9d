// Append-only audit log: who changed what, when, with the object before and after.
import { type Clock, isoNow, systemClock } from '../clock.js';
import type { Store } from '../store/store.js';
import type { AuditEntry } from './schemas.js';
import { AuditStore } from './store.js';

export type { AuditEntry } from './schemas.js';

export interface Actor {
  /** Name of the API token (read, write, admin or a named token from the config file). */
  readonly name: string;
  /** Grafana user from the X-Grafana-User header when the request came through the plugin proxy. */
  readonly grafanaUser?: string | null;
  readonly requestId?: string | null;
}

export interface AuditFilter {
  object_type?: string | undefined;
  object_id?: number | undefined;
  actor?: string | undefined;
  since?: string | undefined;
}

/** One change for the audit log (record's arguments after the actor). */
export interface AuditChange {
  action: AuditEntry['action'];
  objectType: string;
  objectId: number | null;
  repr: string;
  before: unknown;
  after: unknown;
}

export class AuditLog {
  private readonly store: AuditStore;

  constructor(
    store: Store,
    private readonly clock: Clock = systemClock,
  ) {
    this.store = new AuditStore(store);
  }

  /** One entry, written in the caller's write transaction (`store.write`), so it commits or rolls back with the change. */
  async record(
    actor: Actor,
    action: AuditEntry['action'],
    objectType: string,
    objectId: number | null,
    repr: string,
    before: unknown,
    after: unknown,
  ): Promise<void> {
    await this.store.insert(this.row(actor, { action, objectType, objectId, repr, before, after }));
  }

  /**
   * Many entries at once (imports, bulk and combined allocations): a few statements, not one per
   * entry. Each is `actor`'s unless it names its own (a combined allocation's requests).
   */
  async recordMany(actor: Actor, entries: readonly (AuditChange & { actor?: Actor | undefined })[]): Promise<void> {
    if (entries.length > 0) await this.store.insertMany(entries.map((e) => this.row(e.actor ?? actor, e)));
  }

  private row(actor: Actor, e: AuditChange) {
    return {
      at: isoNow(this.clock),
      actor: actor.name,
      grafana_user: actor.grafanaUser ?? null,
      request_id: actor.requestId ?? null,
      action: e.action,
      object_type: e.objectType,
      object_id: e.objectId,
      object_repr: e.repr,
      before: e.before === undefined ? null : JSON.stringify(e.before),
      after: e.after === undefined ? null : JSON.stringify(e.after),
    };
  }

  async list(filter: AuditFilter, limit: number, offset: number): Promise<{ count: number; results: AuditEntry[] }> {
    const { count, rows } = await this.store.list(filter, limit, offset);
    return {
      count,
      results: rows.map((r) => ({ ...r, before: parseJson(r.before), after: parseJson(r.after) })),
    };
  }
}

function parseJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}
