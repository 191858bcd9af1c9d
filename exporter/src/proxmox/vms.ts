// VM creation jobs: POST /api/v1/vms checks and reserves synchronously (so a bad request
// changes nothing and a retried one finds its job), then one job at a time talks to Proxmox
// VE: next VM id, create or clone, cloud-init, start, and the address becomes assigned.
// On failure the job deletes the VM it created and releases the address, and says so.
//
// Jobs are rows (store.ts): with several replicas on one PostgreSQL database, a job runs on the
// replica that accepted it (its in-memory queue); its state moves only from the state that
// replica last saved (a conditional UPDATE), and the replica marks the jobs it holds alive
// (updated_at, every HEARTBEAT_MS). `recover()` fails the jobs nobody holds: on SQLite every
// unfinished job this process does not hold (one process owns the file); on PostgreSQL those
// whose heartbeat stopped STALE_MS ago (their replica died), each claimed by a conditional
// UPDATE so two replicas never fail one job twice.
import { GLOBAL_VRF_ID } from '../ipam/core/vrf.js';
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Actor } from '../audit/log.js';
import { LanscapeError, unprocessable } from '../errors.js';
import { type IP, formatIp, parseIp } from '../ipam/core/ip.js';
import { contains, formatPrefix } from '../ipam/core/prefix.js';
import { type AddressView, type IpamService, prefixOf } from '../ipam/service.js';
import type { SubnetRow } from '../ipam/store.js';
import type { PveClient } from './client.js';
import { ProxmoxError } from './client.js';
import { VMID_MAX, VMID_MIN, parseUpid } from './core/formats.js';
import {
  type JobProgress,
  type JobState,
  type Step,
  type StepName,
  fail,
  failStep,
  finishStep,
  newJob,
  requestHash,
  setUpid,
  startCleanup,
  startStep,
  succeed,
} from './core/jobs.js';
import { type VmPlan, type VmRequest, cloneParams, configParams, createParams } from './core/plan.js';
import type { Config } from '../config/schema.js';
import type { Inventory } from './core/inventory.js';
import type { Store } from '../store/store.js';
import type { JobExpectation, JobRow, ProxmoxStore } from './store.js';
import type { VmJobView } from './schemas.js';

/** Jobs waiting at once; more is 429 (each one holds an address). */
export const MAX_QUEUED = 20;
/** How often a replica marks the jobs it holds alive (updated_at). */
export const HEARTBEAT_MS = 30_000;
/** PostgreSQL: an unfinished job whose updated_at is older than this has lost its replica. */
export const STALE_MS = 10 * 60_000;

export interface VmJobDeps {
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
  inventory: () => Promise<Inventory | null>;
}

const STEP_LABEL: Record<StepName, string> = {
  reserve_address: 'reserving the address',
  allocate_vmid: 'getting the next free VM id',
  create: 'creating the VM',
  clone: 'cloning the template',
  configure: 'configuring cloud-init and the network',
  start: 'starting the VM',
  assign_address: 'recording the address as assigned',
  cleanup: 'cleaning up',
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

class Interrupted extends Error {}
/** The job's row changed under this replica (another one failed it as abandoned): stop running it. */
class JobLost extends Error {}

export class VmJobs {
  private readonly queue: number[] = [];
  private current: Promise<void> | null = null;
  private readonly aborter = new AbortController();
  /** Jobs this process holds: queued, running, or being created (recover() leaves them alone). */
  private readonly held = new Set<number>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly ipam: IpamService,
    /** The store shared with IPAM: one transaction holds the job's rows and IPAM's. */
    private readonly shared: Store,
    private readonly store: ProxmoxStore,
    private readonly client: PveClient,
    private readonly config: Config['proxmox'],
    private readonly deps: VmJobDeps,
    private readonly logger: Logger,
  ) {}

  /**
   * Fails the jobs a stop or crash cut short (their reservations released when nothing reached
   * Proxmox). SQLite: every unfinished job this process does not hold. PostgreSQL: those whose
   * updated_at is older than STALE_MS (see the top of this file). Returns how many it failed.
   */
  async recover(): Promise<number> {
    const staleBefore = this.shared.dialect === 'postgres' ? this.deps.now() - STALE_MS : Infinity;
    let failed = 0;
    for (const row of await this.store.unfinishedJobs()) {
      if (this.held.has(row.id) || row.updated_at >= staleBefore) continue;
      if (await this.interrupted(row, parseJob(row), { state: row.state, updated_at: row.updated_at })) failed++;
    }
    return failed;
  }

  // ------------------------------------------------------------------ API
  /**
   * Checks the request against IPAM and the inventory, reserves the address (state
   * provisioning) and queues the job, all in one transaction: a request that fails here
   * changed nothing. A known Idempotency-Key returns its job (same body) or 422 (another body).
   */
  async create(
    request: VmRequest,
    key: string | undefined,
    actor: Actor,
  ): Promise<{ job: VmJobView; replayed: boolean }> {
    const hash = requestHash(request);
    const replay = (existing: JobRow) => {
      if (existing.request_hash !== hash) {
        throw unprocessable(
          `Idempotency-Key "${key}" belongs to VM job ${existing.id}, made with a different request body; ` +
            'send the same body to get that job, or a new key for a new VM',
          { job_id: existing.id },
        );
      }
      return { job: this.view(existing), replayed: true };
    };
    /** Ids this call inserted, attempt by attempt (PostgreSQL may run the transaction again). */
    const attempts: number[] = [];
    let out: { job: VmJobView; replayed: boolean };
    try {
      out = await this.shared.write(async () => {
        if (key !== undefined) {
          const existing = await this.store.jobByKey(key);
          if (existing) return replay(existing);
        }
        return this.insert(request, key, hash, actor, attempts, replay);
      });
    } finally {
      for (const id of attempts) this.held.delete(id);
    }
    if (!out.replayed) {
      this.held.add(out.job.id);
      this.queue.push(out.job.id);
      this.startHeartbeat();
      this.pump();
    }
    return out;
  }

  private async insert(
    request: VmRequest,
    key: string | undefined,
    hash: string,
    actor: Actor,
    attempts: number[],
    replay: (existing: JobRow) => { job: VmJobView; replayed: boolean },
  ): Promise<{ job: VmJobView; replayed: boolean }> {
    if (this.queue.length >= MAX_QUEUED) {
      throw new LanscapeError(
        429,
        'rate_limited',
        `${this.queue.length} VM jobs are waiting already; try again later`,
        { retry_after_seconds: 30 },
      );
    }
    await this.checkNode(request.node);
    const now = this.deps.now();
    let job = newJob(request);
    const inserted = await this.store.insertJob({
      idempotency_key: key ?? null,
      request_hash: hash,
      request: JSON.stringify(request),
      actor: JSON.stringify({
        name: actor.name,
        grafanaUser: actor.grafanaUser ?? null,
        requestId: actor.requestId ?? null,
      }),
      node: request.node,
      name: request.name,
      state: job.state,
      steps: JSON.stringify(job.steps),
      progress: 0,
      vmid: null,
      vm_created: 0,
      address: null,
      address_id: null,
      prefix_length: null,
      gateway: null,
      dns: '[]',
      error: null,
      created_at: now,
      updated_at: now,
      finished_at: null,
    });
    if (!inserted) {
      // Another request with this key committed meanwhile (another replica): its job is the answer.
      const existing = await this.store.jobByKey(key!);
      if (!existing) throw new Error(`the VM job of Idempotency-Key "${key}" vanished`);
      return replay(existing);
    }
    let row = inserted;
    attempts.push(row.id);
    this.held.add(row.id); // recover() must not fail it between the commit and the queue
    job = startStep(job, 'reserve_address', iso(now)!);
    const r = await this.reserve(request, row.id, actor);
    job = {
      ...finishStep(
        job,
        'reserve_address',
        iso(now)!,
        `reserved ${r.view.address} in ${r.subnet.cidr} (state provisioning)`,
      ),
      state: 'queued',
    };
    row = {
      ...row,
      address: r.view.address,
      address_id: r.view.id,
      prefix_length: r.subnet.prefix_length,
      gateway: r.gateway ? formatIp(r.gateway) : null,
      dns: JSON.stringify(r.dns.map(formatIp)),
      steps: JSON.stringify(job.steps),
      progress: job.progress,
    };
    row = { ...row, state: job.state };
    if (!(await this.store.saveJob(row, { state: inserted.state })))
      throw new Error(`VM job ${row.id} changed while it was created`);
    // Pinned to the job: the inventory leaves it alone until the job gives it a VM id.
    await this.store.insertLink({
      address_id: r.view.id,
      vmid: null,
      node: request.node,
      guest_type: 'qemu',
      pinned: true,
      job_id: row.id,
      created_at: now,
    });
    await this.ipam.audit.record(
      actor,
      'create',
      'vm_job',
      row.id,
      `VM job ${row.id} (${request.name})`,
      undefined,
      this.view(row),
    );
    return { job: this.view(row), replayed: false };
  }

  async get(id: number): Promise<VmJobView> {
    const row = await this.store.job(id);
    if (!row) throw new LanscapeError(404, 'not_found', `VM job ${id} does not exist`);
    return this.view(row);
  }

  async list(
    filter: { state?: JobState | undefined },
    limit: number,
    offset: number,
  ): Promise<{ count: number; results: VmJobView[] }> {
    const { count, rows } = await this.store.listJobs(filter, limit, offset);
    return { count, results: rows.map((r) => this.view(r)) };
  }

  /** Resolves when no job is queued or running (tests). */
  async drain(): Promise<void> {
    while (this.current) await this.current;
  }

  /** Job counts by state, for the metrics. */
  counts(): Promise<Record<string, number>> {
    return this.store.jobCounts();
  }

  abort(): void {
    this.aborter.abort();
    this.stopHeartbeat();
  }

  /** Marks the held jobs alive while there are any (PostgreSQL: other replicas' recover() skips them). */
  private startHeartbeat(): void {
    if (this.heartbeat || this.shared.dialect !== 'postgres' || this.aborter.signal.aborted) return;
    this.heartbeat = setInterval(() => {
      if (this.held.size === 0) return this.stopHeartbeat();
      this.store.touchJobs([...this.held], this.deps.now()).catch((err: unknown) => {
        this.logger.warn({ err: (err as Error).message }, 'VM jobs: heartbeat failed');
      });
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  async idle(): Promise<void> {
    await this.current?.catch(() => undefined);
  }

  // ------------------------------------------------------------------ checks and reservation
  /** The node must be in the last inventory and online (no PVE call: bad input reaches nothing). */
  private async checkNode(node: string): Promise<void> {
    const inv = await this.deps.inventory();
    if (!inv) return;
    const n = inv.nodes.find((x) => x.node === node);
    if (!n)
      throw unprocessable(
        `node "${node}" is not in the Proxmox cluster (nodes: ${inv.nodes.map((x) => x.node).join(', ') || 'none'})`,
      );
    if (!n.online) throw unprocessable(`node ${node} is offline`);
  }

  private async subnet(id: number): Promise<SubnetRow> {
    const row = await this.ipam.subnet(id);
    if (!row) throw unprocessable(`subnet ${id} does not exist`);
    return row;
  }

  private async reserve(
    request: VmRequest,
    jobId: number,
    actor: Actor,
  ): Promise<{ view: AddressView; subnet: SubnetRow; gateway: IP | null; dns: IP[] }> {
    const spec = request.network.address;
    const fields = {
      state: 'provisioning' as const,
      source: 'proxmox' as const,
      hostname: request.name,
      description: `Reserved for Proxmox VM "${request.name}" on node ${request.node} (VM job ${jobId})`,
    };
    let view: AddressView;
    let subnet: SubnetRow;
    if ('next_free' in spec) {
      subnet = await this.subnet(spec.subnet_id);
      view = (await this.ipam.allocate({ subnetId: subnet.id }, { count: 1, ...fields }, actor))[0]!;
    } else {
      const ip = parseIp(spec.address);
      if (spec.subnet_id !== undefined) {
        const given = await this.subnet(spec.subnet_id);
        if (!contains(prefixOf(given), ip))
          throw unprocessable(`${formatIp(ip)} is outside subnet ${given.cidr} (id ${given.id})`);
      }
      const found = await this.ipam.mostSpecificSubnet(GLOBAL_VRF_ID, ip);
      if (!found) throw unprocessable(`${formatIp(ip)} is not inside any managed subnet; create the subnet first`);
      subnet = found;
      view = await this.ipam.createAddress({ address: spec.address, ...fields }, actor);
    }
    const prefix = prefixOf(subnet);
    const gwText = request.network.gateway ?? subnet.gateway;
    let gateway: IP | null = null;
    if (gwText) {
      gateway = parseIp(gwText);
      if (gateway.family !== prefix.family || !contains(prefix, gateway)) {
        throw unprocessable(
          `gateway ${formatIp(gateway)} is not inside ${formatPrefix(prefix)}, the subnet of ${view.address}`,
        );
      }
      if (formatIp(gateway) === view.address)
        throw unprocessable(`the gateway cannot be the VM's own address ${view.address}`);
    }
    const dns = (request.network.dns ?? []).map((d) => parseIp(d));
    return { view, subnet, gateway, dns };
  }

  // ------------------------------------------------------------------ running
  private pump(): void {
    if (this.current || this.aborter.signal.aborted) return;
    const id = this.queue.shift();
    if (id === undefined) return;
    this.current = this.run(id)
      .catch((e: unknown) => {
        if (e instanceof JobLost) this.logger.warn({ job: id }, e.message);
        else this.logger.error({ err: e, job: id }, 'VM job failed unexpectedly');
      })
      .finally(() => {
        this.held.delete(id);
        this.current = null;
        this.pump();
      });
  }

  private async sleep(ms: number): Promise<void> {
    if (this.deps.sleep) await this.deps.sleep(ms);
    else await sleepFor(ms, undefined, { signal: this.aborter.signal }).catch(() => undefined);
    if (this.aborter.signal.aborted) throw new Interrupted('the exporter is stopping');
  }

  private async run(id: number): Promise<void> {
    const stored = await this.store.job(id);
    if (!stored || stored.state !== 'queued') return; // failed meanwhile by a recovery
    let row = stored;
    let job = parseJob(row);
    const request = JSON.parse(row.request) as VmRequest;
    const actor = JSON.parse(row.actor) as Actor;
    const api = this.client.api;
    const now = () => iso(this.deps.now())!;
    /** Saves the job if it is still in the state this runner saved last (else JobLost). */
    const save = async (patch: Partial<JobRow> = {}) => {
      const expected = row.state;
      const next: JobRow = {
        ...row,
        ...patch,
        state: job.state,
        steps: JSON.stringify(job.steps),
        progress: job.progress,
        error: job.error ?? null,
        updated_at: this.deps.now(),
      };
      if (!(await this.store.saveJob(next, { state: expected })))
        throw new JobLost(
          `VM job ${id} was changed by another replica (failed as abandoned); this one stops running it`,
        );
      row = next;
    };
    const audit = (action: 'update', after: unknown) =>
      this.ipam.audit.record(actor, action, 'vm_job', id, `VM job ${id} (${request.name})`, undefined, after);
    const auditStep = (name: StepName) => {
      const s = job.steps.find((x) => x.name === name)!;
      return audit('update', {
        step: s.name,
        state: s.state,
        upid: s.upid ?? null,
        message: s.message ?? null,
        vmid: row.vmid,
      });
    };
    let stepName: StepName | null = null;
    const step = async (name: StepName, fn: () => Promise<string | undefined>) => {
      if (this.aborter.signal.aborted) throw new Interrupted('the exporter is stopping');
      stepName = name;
      job = startStep(job, name, now());
      await save();
      const message = await fn();
      job = finishStep(job, name, now(), message);
      await save();
      await auditStep(name);
      stepName = null;
    };
    /** Follows a PVE task to its end; the step shows its UPID meanwhile. */
    const task = async (name: StepName, upid: unknown, node: string) => {
      if (upid === null || upid === undefined || upid === '') return; // finished synchronously
      const u = parseUpid(upid);
      if (!u)
        throw new ProxmoxError(
          `Proxmox answered without a valid task id (${JSON.stringify(upid).slice(0, 80)})`,
          'protocol',
        );
      job = setUpid(job, name, upid as string);
      await save();
      await this.waitTask(u.node || node, upid as string);
    };

    try {
      job = { ...job, state: 'running' };
      await save();
      await step('allocate_vmid', async () => {
        const raw = await api.cluster.nextid.$get();
        const vmid = Number(raw);
        if (!Number.isInteger(vmid) || vmid < VMID_MIN || vmid > VMID_MAX)
          throw new ProxmoxError(`Proxmox answered an invalid next VM id (${String(raw).slice(0, 20)})`, 'protocol');
        await save({ vmid });
        return `VM id ${vmid}`;
      });
      const vmid = row.vmid!;
      const plan: VmPlan = {
        jobId: id,
        request,
        vmid,
        address: parseIp(row.address!),
        prefixLength: row.prefix_length!,
        gateway: row.gateway ? parseIp(row.gateway) : null,
        dns: (JSON.parse(row.dns) as string[]).map((d) => parseIp(d)),
      };
      const node = api.nodes.$(request.node);
      if (request.clone) {
        const template = request.clone.template_vmid;
        await step('clone', async () => {
          const upid = await node.qemu.$(template).clone.$post(cloneParams(plan, row.address!));
          // From here the VM may exist: if the clone task fails, PVE removes what it made.
          await task('clone', upid, request.node);
          await save({ vm_created: 1 });
          return `${request.clone!.full ? 'full' : 'linked'} clone of template ${template} as VM ${vmid}`;
        });
      } else {
        await step('create', async () => {
          const upid = await node.qemu.$post(createParams(plan, row.address!));
          await task('create', upid, request.node);
          await save({ vm_created: 1 });
          return `VM ${vmid} created`;
        });
      }
      await step('configure', async () => {
        const upid = await node.qemu.$(vmid).config.$post(configParams(plan));
        await task('configure', upid, request.node);
        return `ipconfig0 ${configParams(plan).ipconfig0}`;
      });
      if (request.start) {
        await step('start', async () => {
          await task('start', await node.qemu.$(vmid).status.start.$post({}), request.node);
          return `VM ${vmid} started`;
        });
      }
      await step('assign_address', async () => {
        await this.shared.write(async () => {
          const current = await this.ipam.addressAt(GLOBAL_VRF_ID, plan.address);
          if (!current || current.id !== row.address_id)
            throw new Error(`the address record of ${row.address} was deleted meanwhile`);
          await this.ipam.updateAddress(
            current.id,
            {
              state: 'assigned',
              hostname: request.name,
              description: `Proxmox VM ${vmid} "${request.name}" on node ${request.node} (created by VM job ${id})`,
            },
            actor,
          );
          await this.store.settleLink(current.id, { vmid, node: request.node, guest_type: 'qemu' }, this.deps.now());
        });
        return `${row.address} assigned to VM ${vmid}`;
      });
      job = succeed(job);
      await save({ finished_at: this.deps.now() });
      await this.ipam.audit.record(
        actor,
        'create',
        'proxmox_vm',
        vmid,
        `VM ${vmid} (${request.name}) on ${request.node}`,
        undefined,
        { vmid, name: request.name, node: request.node, address: row.address, job_id: id },
      );
      await audit('update', { state: 'done', vmid, address: row.address });
    } catch (e) {
      if (e instanceof JobLost) throw e;
      if (e instanceof Interrupted || this.aborter.signal.aborted) {
        await this.interrupted(row, job, { state: row.state });
        return;
      }
      const message =
        e instanceof ProxmoxError || e instanceof LanscapeError ? e.message : `internal error: ${(e as Error).message}`;
      const failed: StepName = stepName ?? 'allocate_vmid';
      job = failStep(job, failed, now(), message);
      await save();
      await auditStep(failed);
      job = startCleanup(job, now());
      await save();
      const notes = await this.cleanup(
        row,
        request,
        actor,
        job.steps.some((s) => s.name === 'start' && s.state === 'done'),
      );
      job = finishStep(job, 'cleanup', now(), notes.join('; '));
      await auditStep('cleanup');
      job = fail(job, `${STEP_LABEL[failed]} failed: ${message}. ${capitalize(notes.join('; '))}.`, now());
      await save({ finished_at: this.deps.now() });
      await audit('update', { state: 'failed', error: job.error });
      this.logger.warn({ job: id, vmid: row.vmid }, `VM job failed: ${job.error}`);
    }
  }

  /**
   * After a failure: delete the VM this job made (only that one: its id came from nextid and
   * the create/clone task succeeded), then release the address if it is still the job's
   * reservation. A running VM is left alone (deleting needs a stop; a person should decide).
   */
  private async cleanup(row: JobRow, request: VmRequest, actor: Actor, started: boolean): Promise<string[]> {
    const notes: string[] = [];
    if (row.vm_created && row.vmid !== null) {
      if (started) {
        notes.push(`VM ${row.vmid} was left running on node ${request.node}`);
      } else {
        try {
          const upid = await this.client.api.nodes
            .$(request.node)
            .qemu.$(row.vmid)
            .$delete({ purge: true, 'destroy-unreferenced-disks': true });
          const u = parseUpid(upid);
          if (!u) throw new ProxmoxError('Proxmox answered without a valid task id', 'protocol');
          await this.waitTask(u.node, upid as string);
          notes.push(`VM ${row.vmid} was deleted`);
        } catch (e) {
          notes.push(`VM ${row.vmid} was left on node ${request.node}: deleting it failed: ${(e as Error).message}`);
        }
      }
    }
    notes.push(await this.shared.write(() => this.release(row, actor)));
    return notes;
  }

  /** Polls a PVE task until it stops; its exit status other than OK (or WARNINGS: n) is the error. */
  private async waitTask(node: string, upid: string): Promise<void> {
    const type = parseUpid(upid)?.type ?? 'task';
    const deadline = this.deps.now() + this.config.task_timeout_seconds * 1000;
    for (;;) {
      const s = (await this.client.api.nodes.$(node).tasks.$(encodeURIComponent(upid)).status.$get()) as {
        status?: string;
        exitstatus?: string;
      };
      if (s.status === 'stopped') {
        const exit = s.exitstatus ?? '';
        if (exit === 'OK' || /^WARNINGS: \d+$/.test(exit)) return;
        throw new ProxmoxError(`the Proxmox task ${type} failed: ${exit || 'no exit status'}`, 'http');
      }
      if (this.deps.now() > deadline)
        throw new ProxmoxError(
          `the Proxmox task ${type} did not finish within ${this.config.task_timeout_seconds} s (${upid})`,
          'timeout',
        );
      await this.sleep(this.config.task_poll_ms);
    }
  }

  /** Releases the job's reservation unless someone changed it meanwhile (call inside a write). */
  private async release(row: JobRow, actor: Actor): Promise<string> {
    if (row.address_id === null || row.address === null) return 'no address was reserved';
    const current = await this.ipam.addressAt(GLOBAL_VRF_ID, parseIp(row.address));
    if (!current || current.id !== row.address_id) return `address ${row.address} was already gone`;
    if (current.source !== 'proxmox' || current.state !== 'provisioning')
      return `address ${row.address} was kept: it was changed meanwhile (${current.state}, ${current.source})`;
    await this.ipam.deleteAddress(current.id, actor);
    return `address ${row.address} was released`;
  }

  /**
   * A job cut short by a stop or crash. If it never reached Proxmox its address is released;
   * otherwise a VM may exist, so the address stays reserved and the error says what to check.
   * One transaction, claimed by a conditional save: false when the row is no longer as
   * `expected` (another replica failed or advanced it), and then nothing changed.
   */
  private async interrupted(row: JobRow, job: JobProgress, expected: JobExpectation): Promise<boolean> {
    const reached = job.steps.some(
      (s) =>
        s.name !== 'reserve_address' && s.name !== 'allocate_vmid' && s.state !== 'pending' && s.state !== 'skipped',
    );
    const actor = JSON.parse(row.actor) as Actor;
    const open = job.steps.find((s) => s.state === 'running')?.name;
    const stopped = `the exporter stopped during this job${open ? ` (${STEP_LABEL[open]})` : ''}`;
    try {
      return await this.shared.write(async () => {
        let error = stopped;
        if (reached) {
          error += `; VM ${row.vmid ?? '?'} may exist on node ${row.node}; address ${row.address} stays reserved (provisioning): check Proxmox, then delete the VM or the address`;
        } else {
          error += `; nothing was created in Proxmox; ${await this.release(row, actor)}`;
        }
        const failed = fail(job, error, iso(this.deps.now())!);
        const next: JobRow = {
          ...row,
          state: failed.state,
          steps: JSON.stringify(failed.steps),
          progress: failed.progress,
          error,
          updated_at: this.deps.now(),
          finished_at: this.deps.now(),
        };
        // Someone else got there first: roll the release back too.
        if (!(await this.store.saveJob(next, expected))) throw new JobLost(`VM job ${row.id} was taken meanwhile`);
        await this.ipam.audit.record(actor, 'update', 'vm_job', row.id, `VM job ${row.id} (${row.name})`, undefined, {
          state: 'failed',
          error,
        });
        return true;
      });
    } catch (e) {
      if (e instanceof JobLost) return false;
      throw e;
    }
  }

  private view(row: JobRow): VmJobView {
    const job = parseJob(row);
    return {
      id: row.id,
      state: row.state,
      progress: row.progress,
      steps: job.steps,
      node: row.node,
      name: row.name,
      vmid: row.vmid,
      address: row.address,
      address_id: row.address_id,
      ...(row.error ? { error: row.error } : {}),
      idempotency_key: row.idempotency_key,
      created_at: iso(row.created_at)!,
      updated_at: iso(row.updated_at)!,
      finished_at: iso(row.finished_at),
    };
  }
}

function parseJob(row: JobRow): JobProgress {
  return {
    state: row.state,
    steps: JSON.parse(row.steps) as Step[],
    progress: row.progress,
    ...(row.error ? { error: row.error } : {}),
  };
}

function capitalize(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1) : s;
}
