// Locks that say "this replica is alive and owns X" to the other replicas on one PostgreSQL
// database (#14): session-level advisory locks on a connection of their own, not a pooled one
// (a session lock lives and dies with its connection). When a replica dies (kill -9, a crash)
// the server ends its session and its locks go with it, so another replica that can take one
// knows the owner is gone — at once, not after a time bound. Used for the subnets a replica has
// a scan queued or running on (discovery/service.ts).
//
// If this connection drops while the process lives, its locks are gone too: the others may then
// take over what it owned while it still works on it; the owners' conditional state transitions
// keep it from recording over their decision.
import pg from 'pg';

export class SessionLocks {
  private client: Promise<pg.Client> | undefined;
  private closed = false;

  constructor(private readonly options: pg.ClientConfig) {}

  /** Takes the lock (k1, k2) unless another session holds it; re-entrant within this process. */
  async tryHold(k1: number, k2: number): Promise<boolean> {
    const client = await this.connection();
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [k1, k2]);
    return r.rows[0]!.ok;
  }

  /** Releases one hold of (k1, k2); nothing when the session (and the lock) is gone already. */
  async release(k1: number, k2: number): Promise<void> {
    const client = await this.client?.catch(() => undefined);
    if (!client) return;
    await client.query('SELECT pg_advisory_unlock($1, $2)', [k1, k2]).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = await this.client?.catch(() => undefined);
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connection(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    this.client ??= (async () => {
      const client = new pg.Client({ ...this.options, keepAlive: true });
      // A lost connection is a lost set of locks: the next call opens a new session.
      const forget = () => {
        if (this.client === current) this.client = undefined;
      };
      client.on('error', forget);
      client.on('end', forget);
      try {
        await client.connect();
      } catch (e) {
        forget();
        throw e;
      }
      return client;
    })();
    const current = this.client;
    return current;
  }
}
