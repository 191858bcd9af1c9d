// Response schemas of the discovery API. The routes (http.ts) declare them, the OpenAPI document
// is generated from them, and the service's view types are inferred from them (z.infer).
import { z } from 'zod';
import { HostObservation, type HostObservationView } from '../ipam/schemas.js';

export const EVENT_KINDS = ['new_device', 'up', 'down', 'mac_changed', 'hostname_changed', 'ports_changed'] as const;
export const CONFLICT_KINDS = ['mac_mismatch', 'unknown_device', 'stale_reservation'] as const;
export type ConflictKind = (typeof CONFLICT_KINDS)[number];

export const ScanPhase = z
  .object({
    phase: z.enum(['sweep', 'retry', 'ports', 'names']).meta({
      description:
        'sweep: every target once at scan.pps; retry: one pass over the targets still silent (one per scan.retries); ' +
        'ports: TCP port checks; names: PTR lookups (ports and names run side by side, from the end of the sweep pass)',
    }),
    pass: z.number().int().optional().meta({ description: 'retry passes: 1, 2, …' }),
    seconds: z.number(),
    sent: z.number().int().optional().meta({ description: 'sweep and retry: echo requests sent' }),
    found: z.number().int().optional().meta({ description: 'sweep and retry: hosts whose first answer came then' }),
    hosts: z.number().int().optional().meta({ description: 'ports and names: hosts checked / looked up' }),
  })
  .meta({ id: 'ScanPhase' });

export const SCAN_WARNING_KINDS = ['resolver_unreachable', 'names_budget', 'ports_budget'] as const;
export const ScanWarning = z
  .object({
    kind: z.enum(SCAN_WARNING_KINDS),
    message: z.string(),
  })
  .meta({ id: 'ScanWarning' });

export const Scan = z
  .object({
    id: z.number().int(),
    subnet_id: z.number().int(),
    cidr: z.string(),
    trigger: z.enum(['manual', 'schedule', 'agent']),
    state: z.enum(['queued', 'running', 'done', 'failed']),
    progress: z.number().min(0).max(1),
    targets: z.number().int(),
    sent: z.number().int().meta({ description: 'echo requests sent, retries included' }),
    alive: z.number().int(),
    queued_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    error: z.string().optional(),
    phases: z.array(ScanPhase).meta({ description: 'what the scan spent its time on, as each phase ends' }),
    warnings: z.array(ScanWarning),
  })
  .meta({ id: 'Scan' });

export const Event = z
  .object({
    id: z.number().int(),
    vrf_id: z.number().int().meta({ description: 'the VRF the address was observed in' }),
    at: z.string(),
    kind: z.enum(EVENT_KINDS),
    address: z.string().nullable(),
    subnet_id: z.number().int().nullable(),
    message: z.string(),
    details: z.unknown(),
  })
  .meta({ id: 'Event' });

export const EventList = z.object({ count: z.number().int(), results: z.array(Event) }).meta({ id: 'EventList' });

export const Conflict = z
  .object({
    kind: z.enum(CONFLICT_KINDS),
    vrf_id: z.number().int().meta({ description: 'the VRF of the address and of the host observed there' }),
    address: z.string(),
    address_id: z.number().int(),
    subnet_id: z.number().int().nullable(),
    message: z.string(),
    since: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Conflict' });

export const ConflictList = z
  .object({ count: z.number().int(), results: z.array(Conflict) })
  .meta({ id: 'ConflictList' });

export const HistorySample = z.object({ at: z.string(), up: z.boolean(), rtt_seconds: z.number().nullable() });
export const HistoryHour = z.object({
  hour: z.string(),
  samples: z.number().int(),
  up_ratio: z.number(),
  rtt_avg_seconds: z.number().nullable(),
});
export const Uptime = z.object({ '24h': z.number().nullable(), '7d': z.number().nullable() });

export const AddressHistory = z
  .object({
    address: z.string(),
    vrf_id: z.number().int().meta({ description: "the address's VRF, whose observations these are" }),
    observed: HostObservation.nullable(),
    uptime: Uptime,
    samples: z.array(HistorySample),
    hourly: z.array(HistoryHour),
  })
  .meta({ id: 'AddressHistory' });

export const SdGroup = z
  .object({ targets: z.array(z.string()), labels: z.record(z.string(), z.string()) })
  .meta({ id: 'HttpSdTargetGroup' });

export type ScanView = z.infer<typeof Scan>;
export type ScanPhaseView = z.infer<typeof ScanPhase>;
export type ScanWarningView = z.infer<typeof ScanWarning>;
export type EventView = z.infer<typeof Event>;
export type ConflictView = z.infer<typeof Conflict>;
export type SdGroup = z.infer<typeof SdGroup>;
export type UptimeView = z.infer<typeof Uptime>;
export type HistorySampleView = z.infer<typeof HistorySample>;
export type HistoryHourView = z.infer<typeof HistoryHour>;
/** An address's observation: the `observed` of IPAM's address views (HostObservation in ipam/schemas.ts). */
export type ObservationView = HostObservationView;
export type PortView = ObservationView['ports'][number];
