// API schemas of sites and agents (#15): registering agents, their health, what an agent pulls
// (its assignments) and what it posts (result batches). The agent process (src/agent) builds its
// batches from the same types, so both ends agree by construction.
import { z } from 'zod';
import { ScanWarning } from '../discovery/schemas.js';
import { Timestamp, listOf } from '../http/schema-kit.js';
import { AGENT_NAME_RE } from '../shared/agents.js';
import { AGENT_STATUSES } from './core/status.js';

export const AgentName = z
  .string()
  .regex(AGENT_NAME_RE, 'letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit');

export const AgentCreate = z.strictObject({ name: AgentName }).meta({ id: 'AgentCreate' });

export const AgentCreated = z
  .object({
    id: z.number().int(),
    name: z.string(),
    token: z.string().meta({ description: 'the agent token (scope agent); shown only in this answer, stored hashed' }),
  })
  .meta({ id: 'AgentCreated' });

export const Agent = z
  .object({
    id: z.number().int(),
    name: z.string(),
    created_at: Timestamp,
    revoked_at: Timestamp.nullable(),
    last_report_at: Timestamp.nullable().meta({ description: 'when the last result batch was applied' }),
    last_seen_at: Timestamp.nullable().meta({ description: 'the last request of the agent (assignments or results)' }),
    status: z.enum(AGENT_STATUSES).meta({
      description: 'up: seen within 3 report intervals; down: seen before, not since; never: not seen yet; revoked',
    }),
    report_interval_seconds: z.number().int().meta({
      description:
        'how often central expects a word from it (agents.report_interval_seconds, or its entry in agents.report_intervals); down after 3 of these',
    }),
    queue_depth: z
      .number()
      .int()
      .meta({ description: 'result batches waiting in the agent’s disk queue, as it last said' }),
    dropped_results_total: z
      .number()
      .int()
      .meta({ description: 'batches the agent dropped from a full queue, as it last said' }),
    version: z.string().nullable(),
    metrics_url: z.string().nullable(),
    subnets: z.array(z.object({ id: z.number().int(), cidr: z.string() })),
  })
  .meta({ id: 'Agent' });
export type AgentView = z.infer<typeof Agent>;
export const AgentList = listOf(Agent, 'AgentList');

/** What an agent reports of itself with every request (query of assignments, fields of a batch). */
const selfReport = {
  queue_depth: z.number().int().min(0).max(1_000_000),
  dropped_total: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  agent_version: z.string().max(64),
  metrics_url: z
    .url({ protocol: /^https?$/ })
    .max(512)
    .optional(),
};

export const AssignmentsQuery = z.strictObject({
  queue_depth: z
    .preprocess((v) => (typeof v === 'string' && /^\d{1,7}$/.test(v) ? Number(v) : v), selfReport.queue_depth)
    .optional(),
  dropped_total: z
    .preprocess((v) => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v), selfReport.dropped_total)
    .optional(),
  agent_version: selfReport.agent_version.optional(),
  metrics_url: selfReport.metrics_url,
});

export const AgentScanSettings = z
  .object({
    pps: z.number().int(),
    timeout_ms: z.number().int(),
    retries: z.number().int(),
    max_prefix: z.number().int(),
    ports: z.array(z.object({ port: z.number().int(), service: z.string().nullable() })),
    port_timeout_ms: z.number().int(),
    port_concurrency: z.number().int(),
    enrich_budget_seconds: z.number(),
    rdns: z.boolean(),
    nmap: z.boolean(),
  })
  .meta({ id: 'AgentScanSettings' });

export const Assignments = z
  .object({
    agent: z.object({ id: z.number().int(), name: z.string() }),
    report_interval_seconds: z.number().int().meta({
      description:
        'how often the agent asks for its assignments (its heartbeat): central’s setting for it; the agent may only shorten it',
    }),
    scan: AgentScanSettings,
    subnets: z.array(
      z.object({
        id: z.number().int(),
        cidr: z.string(),
        interval_seconds: z
          .number()
          .int()
          .nullable()
          .meta({ description: 'null: not swept on a schedule (scan_enabled off)' }),
        targets: z
          .array(z.string())
          .optional()
          .meta({ description: 'IPv6 subnets: the known addresses to sweep (IPv4 sweeps every usable address)' }),
      }),
    ),
  })
  .meta({ id: 'AgentAssignments' });
export type Assignments = z.infer<typeof Assignments>;

const Mac = z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'a MAC address in lower case, aa:bb:cc:dd:ee:ff');

export const Observation = z.strictObject({
  address: z.string().max(64),
  rtt_seconds: z.number().min(0).max(3600),
  mac: Mac.nullable().optional(),
  ports: z
    .array(z.number().int().min(1).max(65535))
    .max(1024)
    .optional()
    .meta({ description: 'open TCP ports, when they were checked in this sweep' }),
  ptr: z.string().max(255).nullable().optional().meta({ description: 'PTR name, when it was looked up' }),
  services: z
    .array(
      z.strictObject({
        port: z.number().int().min(1).max(65535),
        service: z.string().max(64).nullable(),
        product: z.string().max(255).nullable(),
        version: z.string().max(255).nullable(),
      }),
    )
    .max(1024)
    .optional()
    .meta({ description: 'nmap -sV results, when nmap ran' }),
});
export type Observation = z.infer<typeof Observation>;

export const ResultBatch = z
  .strictObject({
    batch_id: z.uuid(),
    subnet_id: z.number().int().min(1),
    started_at: z.iso.datetime(),
    finished_at: z.iso.datetime(),
    sent: z.number().int().min(0),
    observations: z.array(Observation).max(65_536).meta({ description: 'the hosts that answered' }),
    error: z.string().max(1000).optional().meta({ description: 'the sweep failed at the site (observations empty)' }),
    warnings: z.array(ScanWarning).max(16).optional(),
    ...selfReport,
  })
  .meta({ id: 'AgentResultBatch' });
export type ResultBatch = z.infer<typeof ResultBatch>;

export const BatchOutcome = z
  .object({
    applied: z.boolean(),
    duplicate: z.boolean(),
    scan_id: z.number().int().nullable().meta({ description: 'the scan row the batch became (null for a duplicate)' }),
  })
  .meta({ id: 'AgentBatchOutcome' });
export type BatchOutcome = z.infer<typeof BatchOutcome>;

export const AgentSdGroup = z.object({ targets: z.array(z.string()), labels: z.record(z.string(), z.string()) });
export const AgentSd = z.array(AgentSdGroup).meta({ id: 'AgentSdGroups' });
