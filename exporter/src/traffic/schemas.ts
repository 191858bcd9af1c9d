// Response schemas of the traffic API. The routes (http.ts) declare them, the OpenAPI document is
// generated from them, and the service's view types are inferred from them (z.infer).
import { z } from 'zod';
import { Timestamp } from '../http/schema-kit.js';

export const Protocol = z.enum(['tcp', 'udp']);
export const State = z.enum(['queued', 'running', 'done', 'failed']);

export const Result = z
  .object({
    sent_bits_per_second: z.number(),
    received_bits_per_second: z.number(),
    retransmits: z.number().int().nullable().meta({ description: 'TCP only' }),
    jitter_seconds: z.number().nullable().meta({ description: 'UDP only' }),
    lost_packets: z.number().int().nullable(),
    packets: z.number().int().nullable(),
    loss_ratio: z.number().min(0).max(1).nullable(),
    seconds: z.number().meta({ description: 'measured interval' }),
  })
  .meta({ id: 'TrafficResult' });

export const Test = z
  .object({
    id: z.number().int(),
    source: z.string(),
    target: z.string().meta({ description: 'the configured host name, else the address' }),
    target_address: z.string(),
    protocol: Protocol,
    duration_seconds: z.number().int(),
    bitrate_bits_per_second: z.number().int().nullable(),
    parallel: z.number().int(),
    reverse: z.boolean(),
    start_server: z.boolean(),
    port: z.number().int(),
    state: State,
    progress: z.number().min(0).max(1),
    queued_at: Timestamp,
    started_at: Timestamp.nullable(),
    finished_at: Timestamp.nullable(),
    result: Result.nullable(),
    error: z.string().optional(),
    schedule_id: z.number().int().nullable(),
  })
  .meta({ id: 'TrafficTest' });

export const Host = z
  .object({
    name: z.string(),
    address: z.string(),
    port: z.number().int(),
    user: z.string(),
    auth: z.enum(['key', 'agent']),
    host_key: z.object({
      pinned: z.string().nullable(),
      known_hosts: z.boolean(),
      trusted_on_first_use: z
        .string()
        .nullable()
        .meta({ description: 'the key stored at the first connection (trust_on_first_use)' }),
    }),
    iperf3_port: z.number().int(),
  })
  .meta({ id: 'TrafficHost' });

export const Schedule = z
  .object({
    id: z.number().int(),
    source: z.string(),
    target: z.string(),
    protocol: Protocol,
    duration_seconds: z.number().int(),
    bitrate_bits_per_second: z.number().int().nullable().meta({ description: "null: the protocol's default" }),
    parallel: z.number().int(),
    reverse: z.boolean(),
    start_server: z.boolean(),
    port: z
      .number()
      .int()
      .nullable()
      .meta({ description: "null: the target host's iperf3_port (else 5201) at each run" }),
    interval_seconds: z.number().int(),
    jitter_seconds: z.number().int(),
    enabled: z.boolean(),
    floor_bits_per_second: z.number().int().nullable(),
    last_test_id: z.number().int().nullable(),
    next_run_at: Timestamp.nullable(),
  })
  .meta({ id: 'TrafficSchedule' });

export type HostView = z.infer<typeof Host>;
export type TestView = z.infer<typeof Test>;
export type ScheduleView = z.infer<typeof Schedule>;
