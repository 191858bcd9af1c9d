// SQL of VM jobs (with their idempotency keys) and of the links between IPAM address rows and
// Proxmox guests. Rows in, rows out; the rules are in core/ and the services.
import type { Db } from '../store/db.js';
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

interface LinkRow {
  address_id: number;
  address: string;
  vmid: number | null;
  node: string | null;
  guest_type: GuestType | null;
  pinned: number;
  created_at: number;
}

export class ProxmoxStore {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      insertJob:
        db.prepare(`INSERT INTO proxmox_vm_jobs (idempotency_key, request_hash, request, actor, node, name, state, steps,
        progress, vmid, vm_created, address, address_id, prefix_length, gateway, dns, error, created_at, updated_at, finished_at)
        VALUES (@idempotency_key, @request_hash, @request, @actor, @node, @name, @state, @steps, @progress, @vmid, @vm_created,
        @address, @address_id, @prefix_length, @gateway, @dns, @error, @created_at, @updated_at, @finished_at)`),
      saveJob:
        db.prepare(`UPDATE proxmox_vm_jobs SET state = @state, steps = @steps, progress = @progress, vmid = @vmid,
        vm_created = @vm_created, address = @address, address_id = @address_id, prefix_length = @prefix_length, gateway = @gateway,
        dns = @dns, error = @error, updated_at = @updated_at, finished_at = @finished_at WHERE id = @id`),
      job: db.prepare('SELECT * FROM proxmox_vm_jobs WHERE id = ?'),
      jobByKey: db.prepare('SELECT * FROM proxmox_vm_jobs WHERE idempotency_key = ?'),
      unfinished: db.prepare("SELECT * FROM proxmox_vm_jobs WHERE state IN ('queued', 'running') ORDER BY id"),
      countByState: db.prepare('SELECT state, count(*) AS n FROM proxmox_vm_jobs GROUP BY state'),
      links: db.prepare(`SELECT l.address_id, a.address, l.vmid, l.node, l.guest_type, l.pinned, l.created_at
        FROM proxmox_address_links l JOIN addresses a ON a.id = l.address_id`),
      linkOf: db.prepare('SELECT address_id, vmid FROM proxmox_address_links WHERE address_id = ?'),
      insertLink:
        db.prepare(`INSERT INTO proxmox_address_links (address_id, vmid, node, guest_type, pinned, job_id, created_at)
        VALUES (@address_id, @vmid, @node, @guest_type, @pinned, @job_id, @created_at)`),
      updateLink: db.prepare(
        'UPDATE proxmox_address_links SET vmid = @vmid, node = @node, guest_type = @guest_type WHERE address_id = @address_id',
      ),
      settleLink: db.prepare(
        'UPDATE proxmox_address_links SET vmid = @vmid, node = @node, guest_type = @guest_type, created_at = @created_at WHERE address_id = @address_id',
      ),
      deleteLink: db.prepare('DELETE FROM proxmox_address_links WHERE address_id = ?'),
    };
  }

  insertJob(row: NewJobRow): JobRow {
    const id = Number(this.s.insertJob.run(row).lastInsertRowid);
    return { ...row, id };
  }

  saveJob(row: JobRow): void {
    this.s.saveJob.run(row);
  }

  job(id: number): JobRow | undefined {
    return this.s.job.get(id) as JobRow | undefined;
  }
  jobByKey(key: string): JobRow | undefined {
    return this.s.jobByKey.get(key) as JobRow | undefined;
  }
  unfinishedJobs(): JobRow[] {
    return this.s.unfinished.all() as JobRow[];
  }

  listJobs(filter: { state?: JobState | undefined }, limit: number, offset: number): { count: number; rows: JobRow[] } {
    const where = filter.state ? 'WHERE state = ?' : '';
    const args = filter.state ? [filter.state] : [];
    const count = (this.db.prepare(`SELECT count(*) AS n FROM proxmox_vm_jobs ${where}`).get(...args) as { n: number })
      .n;
    const rows = this.db
      .prepare(`SELECT * FROM proxmox_vm_jobs ${where} ORDER BY id DESC LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as JobRow[];
    return { count, rows };
  }

  jobCounts(): Record<string, number> {
    return Object.fromEntries((this.s.countByState.all() as { state: string; n: number }[]).map((r) => [r.state, r.n]));
  }

  links(): Link[] {
    return (this.s.links.all() as LinkRow[]).map((r) => ({ ...r, pinned: r.pinned === 1 }));
  }

  linkedVmid(addressId: number): { vmid: number | null } | undefined {
    return this.s.linkOf.get(addressId) as { vmid: number | null } | undefined;
  }

  insertLink(link: {
    address_id: number;
    vmid: number | null;
    node: string | null;
    guest_type: GuestType | null;
    pinned: boolean;
    job_id: number | null;
    created_at: number;
  }): void {
    this.s.insertLink.run({ ...link, pinned: link.pinned ? 1 : 0 });
  }

  updateLink(addressId: number, link: { vmid: number; node: string; guest_type: GuestType }): void {
    this.s.updateLink.run({ address_id: addressId, ...link });
  }

  /** A job's link gets its VM; created_at moves to now so no older snapshot can release it. */
  settleLink(addressId: number, link: { vmid: number; node: string; guest_type: GuestType }, now: number): void {
    this.s.settleLink.run({ address_id: addressId, ...link, created_at: now });
  }

  deleteLink(addressId: number): void {
    this.s.deleteLink.run(addressId);
  }
}
