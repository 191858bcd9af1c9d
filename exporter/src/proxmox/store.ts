// SQL of VM jobs (with their idempotency keys) and of the links between IPAM address rows and
// Proxmox guests. Rows in, rows out; the rules are in core/ and the services. One SQL text per
// statement on SQLite and PostgreSQL (store/store.ts); statements issued inside a
// `store.write` go to its transaction.
//
// Several replicas on one PostgreSQL database: a job's idempotency key is unique, so two
// replicas given the same key insert one row (`insertJob` answers undefined to the other, which
// then reads the winner's job); a job's state only moves from the state its writer last saw
// (`saveJob` is conditional), so two replicas cannot both advance or fail one job.
import type { Store } from '../store/store.js';
import type { GuestType } from './core/inventory.js';
import type { JobState } from './core/jobs.js';
import type { Link } from './core/reconcile.js';

export interface JobRow {
  id: number;
  idempotency_key: string | null;
  request_hash: string;
  request: string;
  actor: string;
  node: string;
  name: string;
  state: JobState;
  steps: string;
  progress: number;
  vmid: number | null;
  vm_created: number;
  address: string | null;
  address_id: number | null;
  prefix_length: number | null;
  gateway: string | null;
  dns: string;
  error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export type NewJobRow = Omit<JobRow, 'id'>;

/** What a conditional save expects the stored row to be: its state, and its updated_at if given. */
export interface JobExpectation {
  state: JobState;
  updated_at?: number;
}

interface LinkRow {
  address_id: number;
  address: string;
  vmid: number | null;
  node: string | null;
  guest_type: GuestType | null;
  pinned: number;
  created_at: number;
}

const JOB_COLUMNS = `id, idempotency_key, request_hash, request, actor, node, name, state, steps, progress, vmid,
  vm_created, address, address_id, prefix_length, gateway, dns, error, created_at, updated_at, finished_at`;

export class ProxmoxStore {
  constructor(private readonly store: Store) {}

  /**
   * Inserts a job; undefined when its idempotency key is taken already (by a committed job, or
   * by one another transaction commits meanwhile: PostgreSQL waits for it, then skips the row).
   */
  async insertJob(row: NewJobRow): Promise<JobRow | undefined> {
    const inserted = await this.store.exec.get<{ id: number }>(
      `INSERT INTO proxmox_vm_jobs (idempotency_key, request_hash, request, actor, node, name, state, steps,
        progress, vmid, vm_created, address, address_id, prefix_length, gateway, dns, error, created_at, updated_at, finished_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
      [
        row.idempotency_key,
        row.request_hash,
        row.request,
        row.actor,
        row.node,
        row.name,
        row.state,
        row.steps,
        row.progress,
        row.vmid,
        row.vm_created,
        row.address,
        row.address_id,
        row.prefix_length,
        row.gateway,
        row.dns,
        row.error,
        row.created_at,
        row.updated_at,
        row.finished_at,
      ],
    );
    return inserted && { ...row, id: Number(inserted.id) };
  }

  /**
   * Saves a job if the stored row is still as `expected` (its state, and updated_at when given);
   * false when another writer (a replica failing a job it thought abandoned) got there first.
   */
  async saveJob(row: JobRow, expected: JobExpectation): Promise<boolean> {
    const changed = await this.store.exec.run(
      `UPDATE proxmox_vm_jobs SET state = ?, steps = ?, progress = ?, vmid = ?, vm_created = ?, address = ?,
        address_id = ?, prefix_length = ?, gateway = ?, dns = ?, error = ?, updated_at = ?, finished_at = ?
        WHERE id = ? AND state = ?${expected.updated_at === undefined ? '' : ' AND updated_at = ?'}`,
      [
        row.state,
        row.steps,
        row.progress,
        row.vmid,
        row.vm_created,
        row.address,
        row.address_id,
        row.prefix_length,
        row.gateway,
        row.dns,
        row.error,
        row.updated_at,
        row.finished_at,
        row.id,
        expected.state,
        ...(expected.updated_at === undefined ? [] : [expected.updated_at]),
      ],
    );
    return changed === 1;
  }

  /** Marks unfinished jobs as alive (updated_at = now): a replica's heartbeat for the jobs it holds. */
  async touchJobs(ids: readonly number[], now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.store.exec.run(
      `UPDATE proxmox_vm_jobs SET updated_at = ? WHERE id IN (${ids.map(() => '?').join(', ')})
        AND state IN ('queued', 'running') AND updated_at < ?`,
      [now, ...ids, now],
    );
  }

  job(id: number): Promise<JobRow | undefined> {
    return this.store.exec.get<JobRow>(`SELECT ${JOB_COLUMNS} FROM proxmox_vm_jobs WHERE id = ?`, [id]);
  }

  jobByKey(key: string): Promise<JobRow | undefined> {
    return this.store.exec.get<JobRow>(`SELECT ${JOB_COLUMNS} FROM proxmox_vm_jobs WHERE idempotency_key = ?`, [key]);
  }

  /** Jobs in a non-terminal state (SQLite: left by a stopped process; PostgreSQL: maybe another replica's). */
  unfinishedJobs(): Promise<JobRow[]> {
    return this.store.exec.all<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM proxmox_vm_jobs WHERE state IN ('queued', 'running') ORDER BY id`,
    );
  }

  async listJobs(
    filter: { state?: JobState | undefined },
    limit: number,
    offset: number,
  ): Promise<{ count: number; rows: JobRow[] }> {
    const where = filter.state ? 'WHERE state = ?' : '';
    const args = filter.state ? [filter.state] : [];
    const count = await this.store.exec.get<{ n: number }>(`SELECT count(*) AS n FROM proxmox_vm_jobs ${where}`, args);
    const rows = await this.store.exec.all<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM proxmox_vm_jobs ${where} ORDER BY id DESC LIMIT ? OFFSET ?`,
      [...args, limit, offset],
    );
    return { count: Number(count?.n ?? 0), rows };
  }

  async jobCounts(): Promise<Record<string, number>> {
    const rows = await this.store.exec.all<{ state: string; n: number }>(
      'SELECT state, count(*) AS n FROM proxmox_vm_jobs GROUP BY state',
    );
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  async links(): Promise<Link[]> {
    const rows = await this.store.exec.all<LinkRow>(
      `SELECT l.address_id, a.address, l.vmid, l.node, l.guest_type, l.pinned, l.created_at
        FROM proxmox_address_links l JOIN addresses a ON a.id = l.address_id ORDER BY l.address_id`,
    );
    return rows.map((r) => ({ ...r, pinned: r.pinned === 1 }));
  }

  linkedVmid(addressId: number): Promise<{ vmid: number | null } | undefined> {
    return this.store.exec.get<{ vmid: number | null }>(
      'SELECT address_id, vmid FROM proxmox_address_links WHERE address_id = ?',
      [addressId],
    );
  }

  async insertLink(link: {
    address_id: number;
    vmid: number | null;
    node: string | null;
    guest_type: GuestType | null;
    pinned: boolean;
    job_id: number | null;
    created_at: number;
  }): Promise<void> {
    await this.store.exec.run(
      `INSERT INTO proxmox_address_links (address_id, vmid, node, guest_type, pinned, job_id, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [link.address_id, link.vmid, link.node, link.guest_type, link.pinned ? 1 : 0, link.job_id, link.created_at],
    );
  }

  async updateLink(addressId: number, link: { vmid: number; node: string; guest_type: GuestType }): Promise<void> {
    await this.store.exec.run(
      'UPDATE proxmox_address_links SET vmid = ?, node = ?, guest_type = ? WHERE address_id = ?',
      [link.vmid, link.node, link.guest_type, addressId],
    );
  }

  /** A job's link gets its VM; created_at moves to now so no older snapshot can release it. */
  async settleLink(
    addressId: number,
    link: { vmid: number; node: string; guest_type: GuestType },
    now: number,
  ): Promise<void> {
    await this.store.exec.run(
      'UPDATE proxmox_address_links SET vmid = ?, node = ?, guest_type = ?, created_at = ? WHERE address_id = ?',
      [link.vmid, link.node, link.guest_type, now, addressId],
    );
  }

  async deleteLink(addressId: number): Promise<void> {
    await this.store.exec.run('DELETE FROM proxmox_address_links WHERE address_id = ?', [addressId]);
  }
}
