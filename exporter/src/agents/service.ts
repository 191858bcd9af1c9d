// Sites and agents (#15), central's side: registering agents (a token shown once, stored as its
// SHA-256), revoking them, their health, what an agent pulls (its assignments) and applying the
// result batches it posts — checked first (its subnet, addresses inside it), then applied by
// discovery exactly as a local sweep, the batch id recorded in the same transaction (at most once).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DiscoveryService } from '../discovery/service.js';
import { LanscapeError, conflict, notFound } from '../errors.js';
import { parseIp } from '../ipam/core/ip.js';
import { contains, prefixOf } from '../ipam/core/prefix.js';
import type { IpamService } from '../ipam/service.js';
import { REPORT_INTERVAL } from '../shared/agents.js';
import type { Store } from '../store/store.js';
import { agentStatus } from './core/status.js';
import type { AgentView, Assignments, BatchOutcome, ResultBatch } from './schemas.js';
import { AgentStore, type AgentRow, type SelfReport } from './store.js';

/** Applied batch ids are kept this long (an agent's queue never holds a batch longer). */
const BATCH_MEMORY_MS = 30 * 86_400_000;
const TOKEN_PREFIX = 'lsa_';

/** The agent a request comes from. */
export interface AgentIdentity {
  id: number;
  name: string;
}

export const isAgentToken = (token: string) => token.startsWith(TOKEN_PREFIX);

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export class AgentService {
  readonly store: AgentStore;

  constructor(
    store: Store,
    private readonly ipam: IpamService,
    private readonly discovery: DiscoveryService,
    private readonly scan: Config['scan'],
    private readonly now: () => number,
    private readonly logger: Logger,
    private readonly settings: Config['agents'] = {
      report_interval_seconds: REPORT_INTERVAL.default,
      report_intervals: {},
    },
  ) {
    this.store = new AgentStore(store);
  }

  async create(name: string): Promise<{ id: number; name: string; token: string }> {
    // 32 random bytes: a fast hash is enough (nothing to guess), and the id in the token finds the row.
    const secret = randomBytes(32).toString('base64url');
    const id = await this.store.store.write(async () => {
      if (await this.store.byName(name)) throw conflict(`an agent named ${name} exists already`);
      return this.store.insert(name, sha256(secret), this.now());
    });
    this.logger.info({ agent: name, id }, 'agent registered');
    return { id, name, token: `${TOKEN_PREFIX}${id}_${secret}` };
  }

  async revoke(id: number): Promise<void> {
    const row = await this.store.byId(id);
    if (!row) throw notFound('agent', id);
    await this.store.revoke(id, this.now());
    this.logger.info({ agent: row.name, id }, 'agent revoked');
  }

  /**
   * The agent of a token: its identity, 'revoked', or undefined when the token is none of an
   * agent's. The secret is compared as a SHA-256 digest in constant time.
   */
  async verify(token: string): Promise<AgentIdentity | 'revoked' | undefined> {
    const m = /^lsa_([1-9][0-9]{0,9})_([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return undefined;
    const row = await this.store.byId(Number(m[1]));
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash), sha256(m[2]!))) return undefined;
    if (row.revoked_at !== null) return 'revoked';
    return { id: row.id, name: row.name };
  }

  async list(): Promise<AgentView[]> {
    const [rows, assigned] = await Promise.all([this.store.all(), this.store.assigned()]);
    return rows.map((r) => this.view(r, assigned.get(r.id) ?? []));
  }

  async get(id: number): Promise<AgentView> {
    const row = await this.store.byId(id);
    if (!row) throw notFound('agent', id);
    return this.view(row, (await this.store.assigned()).get(id) ?? []);
  }

  /**
   * How often an agent reports (s): its own entry in agents.report_intervals, else the global
   * setting. Handed out with its assignments and the measure of its health.
   */
  reportIntervalOf(name: string): number {
    return this.settings.report_intervals[name] ?? this.settings.report_interval_seconds;
  }

  private view(r: AgentRow, subnets: { id: number; cidr: string }[]): AgentView {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      id: r.id,
      name: r.name,
      created_at: iso(r.created_at)!,
      revoked_at: iso(r.revoked_at),
      last_report_at: iso(r.last_report_at),
      last_seen_at: iso(r.last_seen_at),
      status: agentStatus(r, this.now(), this.reportIntervalOf(r.name)),
      report_interval_seconds: this.reportIntervalOf(r.name),
      queue_depth: r.queue_depth,
      dropped_results_total: r.dropped_results_total,
      version: r.version,
      metrics_url: r.metrics_url,
      subnets,
    };
  }

  /** An agent's assignments (a heartbeat too: last seen now, with what it says of itself). */
  async assignments(agent: AgentIdentity, report: SelfReport): Promise<Assignments> {
    await this.store.seen(agent.id, this.now(), report, false);
    const subnets: Assignments['subnets'] = [];
    for (const s of await this.ipam.allSubnets()) {
      if (s.agent_id !== agent.id) continue;
      const interval = this.discovery.scheduledInterval(s);
      subnets.push({
        id: s.id,
        cidr: s.cidr,
        interval_seconds: interval,
        ...(s.family === 6 ? { targets: await this.discovery.targetsOf(s) } : {}),
      });
    }
    const cfg = this.scan;
    return {
      agent: { id: agent.id, name: agent.name },
      report_interval_seconds: this.reportIntervalOf(agent.name),
      scan: {
        pps: cfg.pps,
        timeout_ms: cfg.timeout_ms,
        retries: cfg.retries,
        max_prefix: cfg.max_prefix,
        ports: this.discovery.ports.map((p) => ({ port: p.port, service: p.service })),
        port_timeout_ms: cfg.port_timeout_ms,
        port_concurrency: cfg.port_concurrency,
        enrich_budget_seconds: cfg.enrich_budget_seconds,
        rdns: cfg.rdns,
        nmap: cfg.nmap,
      },
      subnets,
    };
  }

  /**
   * Applies a result batch: 403 when the subnet is not this agent's, 422 when an address lies
   * outside it (both before anything is written), a replay of an applied batch changes nothing.
   */
  async ingest(agent: AgentIdentity, batch: ResultBatch): Promise<BatchOutcome> {
    const report = {
      queue_depth: batch.queue_depth,
      dropped_total: batch.dropped_total,
      agent_version: batch.agent_version,
      metrics_url: batch.metrics_url,
    };
    const subnet = await this.ipam.subnet(batch.subnet_id);
    if (!subnet || subnet.agent_id !== agent.id) {
      await this.store.seen(agent.id, this.now(), report, false);
      throw new LanscapeError(403, 'not_assigned', `subnet ${batch.subnet_id} is not assigned to agent ${agent.name}`);
    }
    const prefix = prefixOf(subnet);
    const outside: string[] = [];
    const seen = new Set<string>();
    const sweep = {
      agent: agent.name,
      startedAt: Date.parse(batch.started_at),
      finishedAt: Date.parse(batch.finished_at),
      sent: batch.sent,
      alive: new Map<string, number>(),
      macs: new Map<string, string>(),
      open: new Map<string, number[]>(),
      names: new Map<string, string | null>(),
      services: new Map<string, NonNullable<ResultBatch['observations'][number]['services']>>(),
      error: batch.error,
      warnings: batch.warnings ?? [],
    };
    for (const o of batch.observations) {
      let address: string;
      try {
        const ip = parseIp(o.address);
        if (!contains(prefix, ip)) throw new Error('outside');
        address = o.address;
      } catch {
        if (outside.length < 20) outside.push(o.address);
        continue;
      }
      if (seen.has(address)) throw new LanscapeError(422, 'duplicate_observation', `${address} is observed twice`);
      seen.add(address);
      sweep.alive.set(address, o.rtt_seconds);
      if (o.mac) sweep.macs.set(address, o.mac);
      if (o.ports) sweep.open.set(address, o.ports);
      if (o.ptr !== undefined) sweep.names.set(address, o.ptr);
      if (o.services) sweep.services.set(address, o.services);
    }
    if (outside.length > 0) {
      throw new LanscapeError(
        422,
        'outside_subnet',
        `observations outside subnet ${subnet.cidr}: ${outside.join(', ')}`,
        {
          addresses: outside,
        },
      );
    }
    if (!(sweep.finishedAt >= sweep.startedAt))
      throw new LanscapeError(422, 'invalid_times', 'finished_at is before started_at');
    const now = this.now();
    const scan = await this.discovery.applyRemote(subnet, sweep, {
      claimed: () => this.store.batchClaim(batch.batch_id),
      claim: (scanId, takeOverFrom) =>
        this.store.claimBatch(batch.batch_id, agent.id, subnet.id, scanId, now, takeOverFrom),
    });
    await this.store.seen(agent.id, this.now(), report, scan !== null);
    if (scan === null) return { applied: false, duplicate: true, scan_id: null };
    this.logger.info(
      {
        agent: agent.name,
        subnet: subnet.cidr,
        batch: batch.batch_id,
        alive: sweep.alive.size,
      },
      'agent results applied',
    );
    return { applied: true, duplicate: false, scan_id: scan.id };
  }

  /** Forgets batch ids older than BATCH_MEMORY_MS (periodic work). */
  prune(): Promise<number> {
    return this.store.pruneBatches(this.now() - BATCH_MEMORY_MS);
  }
}
