// HTTP adapter of traffic tests: hosts (no secrets), tests, schedules. Every field a test
// passes to a remote command is checked here first (names, IP literals, integers, enums);
// anything else is 400 before the service, let alone SSH, sees it.
import { z } from 'zod';
import type { ApiRoutes } from '../http/routes.js';
import { Id, IdParams, Page, listOf, listed } from '../http/schema-kit.js';
import { Host, Protocol, Schedule, State, Test } from './schemas.js';
import { LIMITS, ipLiteral } from './core/command.js';
import { HOST_NAME_RE, type TrafficService } from './service.js';

const HostName = z
  .string()
  .max(32)
  .regex(HOST_NAME_RE, 'a configured traffic host name (lower-case letters, digits and -)');
const Target = z
  .string()
  .max(64)
  .refine(
    (v) => HOST_NAME_RE.test(v) || ipLiteral(v) !== null,
    'a configured traffic host name or an IPv4/IPv6 address',
  )
  .transform((v) => ipLiteral(v) ?? v)
  .meta({ description: 'a configured host name, or an IP address with an iperf3 server', example: 'nas' });

const params = {
  source: HostName.meta({ description: 'the configured host that runs the iperf3 client', example: 'nas' }),
  target: Target,
  protocol: Protocol.default('tcp'),
  duration_seconds: z.number().int().min(LIMITS.duration[0]).max(LIMITS.duration[1]).default(10),
  bitrate_bits_per_second: z
    .number()
    .int()
    .min(LIMITS.bitrate[0])
    .max(LIMITS.bitrate[1])
    .optional()
    .meta({ description: 'target bitrate; UDP defaults to 1 Mbit/s, TCP is unlimited unless set' }),
  parallel: z
    .number()
    .int()
    .min(LIMITS.parallel[0])
    .max(LIMITS.parallel[1])
    .default(1)
    .meta({ description: 'parallel streams (-P)' }),
  reverse: z.boolean().default(false).meta({ description: 'the target sends, the source receives (-R)' }),
  start_server: z.boolean().default(false).meta({
    description:
      'start a one-off iperf3 server (-s -1) on the target over SSH first; the target must be a configured host',
  }),
  port: z
    .number()
    .int()
    .min(LIMITS.port[0])
    .max(LIMITS.port[1])
    .optional()
    .meta({ description: "the target's iperf3 port; default: the target host's iperf3_port, else 5201" }),
};

const TestCreate = z.strictObject(params).meta({ id: 'TrafficTestCreate' });

const INTERVAL = [60, 604_800] as const;
const scheduleFields = {
  interval_seconds: z.number().int().min(INTERVAL[0]).max(INTERVAL[1]),
  jitter_seconds: z
    .number()
    .int()
    .min(0)
    .max(INTERVAL[1] / 2)
    .optional()
    .meta({ description: 'each run moves by up to ± this much; at most interval/2; default interval/10' }),
  enabled: z.boolean().default(true),
  floor_bits_per_second: z
    .number()
    .int()
    .min(0)
    .max(LIMITS.bitrate[1])
    .nullable()
    .optional()
    .meta({ description: 'alert floor, exported as lanscape_traffic_test_floor_bits_per_second' }),
};
const ScheduleCreate = z
  .strictObject({ ...params, ...scheduleFields })
  .refine((s) => s.jitter_seconds === undefined || s.jitter_seconds <= s.interval_seconds / 2, {
    message: 'jitter_seconds may be at most half of interval_seconds',
    path: ['jitter_seconds'],
  })
  .meta({ id: 'TrafficScheduleCreate' });
const ScheduleUpdate = z
  .strictObject({
    source: params.source.optional(),
    target: params.target.optional(),
    protocol: Protocol.optional(),
    duration_seconds: z.number().int().min(LIMITS.duration[0]).max(LIMITS.duration[1]).optional(),
    bitrate_bits_per_second: z.number().int().min(LIMITS.bitrate[0]).max(LIMITS.bitrate[1]).nullable().optional(),
    parallel: z.number().int().min(LIMITS.parallel[0]).max(LIMITS.parallel[1]).optional(),
    reverse: z.boolean().optional(),
    start_server: z.boolean().optional(),
    port: z.number().int().min(LIMITS.port[0]).max(LIMITS.port[1]).nullable().optional(),
    interval_seconds: scheduleFields.interval_seconds.optional(),
    jitter_seconds: scheduleFields.jitter_seconds,
    enabled: z.boolean().optional(),
    floor_bits_per_second: scheduleFields.floor_bits_per_second,
  })
  .meta({ id: 'TrafficScheduleUpdate' });

const UNPROCESSABLE = { description: 'Unknown source or target host, or start_server without a configured target' };

export function registerTrafficRoutes(api: ApiRoutes, traffic: TrafficService): void {
  api.add({
    method: 'get',
    path: '/traffic/hosts',
    scope: 'read',
    tag: 'traffic',
    summary: 'Hosts traffic tests can run between',
    description:
      'The hosts of the traffic.hosts configuration, with how their host keys are checked. Never any key material.',
    responses: { 200: { description: 'Hosts', schema: listOf(Host, 'TrafficHostList') } },
    handler: async () => ({ status: 200, body: listed(await traffic.hosts()) }),
  });
  api.add({
    method: 'post',
    path: '/traffic-tests',
    scope: 'write',
    tag: 'traffic',
    summary: 'Run an iperf3 test between two hosts',
    description:
      "Queues an iperf3 test run over SSH on the source host against the target. Tests against one target server run one at a time; a server busy with someone else's test is retried with back-off (1, 2, 4, 8 s).",
    body: TestCreate,
    responses: {
      202: { description: 'Queued', schema: Test },
      422: UNPROCESSABLE,
      429: { description: 'Too many tests waiting' },
    },
    handler: async ({ body }) => {
      const test = await traffic.startTest(body);
      return { status: 202, body: test, headers: { Location: `/api/v1/traffic-tests/${test.id}` } };
    },
  });
  api.add({
    method: 'get',
    path: '/traffic-tests',
    scope: 'read',
    tag: 'traffic',
    summary: 'Traffic tests, newest first',
    description: 'Filter by source and target (and state=done) for the history of a pair, e.g. for sparklines.',
    query: z.strictObject({
      ...Page(),
      source: HostName.optional(),
      target: Target.optional(),
      state: State.optional(),
      protocol: Protocol.optional(),
      schedule_id: Id.optional(),
    }),
    responses: { 200: { description: 'Tests', schema: listOf(Test, 'TrafficTestList') } },
    handler: async ({ query }) => ({ status: 200, body: await traffic.listTests(query, query.limit, query.offset) }),
  });
  api.add({
    method: 'get',
    path: '/traffic-tests/{id}',
    scope: 'read',
    tag: 'traffic',
    summary: 'A traffic test: state, progress, result',
    params: IdParams,
    responses: { 200: { description: 'The test', schema: Test }, 404: { description: 'Not found' } },
    handler: async ({ params: p }) => ({ status: 200, body: await traffic.getTest(p.id) }),
  });
  api.add({
    method: 'get',
    path: '/traffic-schedules',
    scope: 'read',
    tag: 'traffic',
    summary: 'Traffic test schedules',
    responses: { 200: { description: 'Schedules', schema: listOf(Schedule, 'TrafficScheduleList') } },
    handler: async () => ({ status: 200, body: listed(await traffic.listSchedules()) }),
  });
  api.add({
    method: 'post',
    path: '/traffic-schedules',
    scope: 'write',
    tag: 'traffic',
    summary: 'Run a traffic test every interval',
    description: 'A new or re-enabled schedule runs within its jitter; then every interval ± jitter.',
    body: ScheduleCreate,
    responses: { 201: { description: 'Created', schema: Schedule }, 422: UNPROCESSABLE },
    handler: async ({ body }) => {
      const s = await traffic.createSchedule(body);
      return { status: 201, body: s, headers: { Location: `/api/v1/traffic-schedules/${s.id}` } };
    },
  });
  api.add({
    method: 'get',
    path: '/traffic-schedules/{id}',
    scope: 'read',
    tag: 'traffic',
    summary: 'A traffic test schedule',
    params: IdParams,
    responses: { 200: { description: 'The schedule', schema: Schedule }, 404: { description: 'Not found' } },
    handler: async ({ params: p }) => ({ status: 200, body: await traffic.getSchedule(p.id) }),
  });
  api.add({
    method: 'patch',
    path: '/traffic-schedules/{id}',
    scope: 'write',
    tag: 'traffic',
    summary: 'Change a traffic test schedule',
    params: IdParams,
    body: ScheduleUpdate,
    responses: {
      200: { description: 'Updated', schema: Schedule },
      404: { description: 'Not found' },
      422: UNPROCESSABLE,
    },
    handler: async ({ params: p, body }) => ({ status: 200, body: await traffic.updateSchedule(p.id, body) }),
  });
  api.add({
    method: 'delete',
    path: '/traffic-schedules/{id}',
    scope: 'write',
    tag: 'traffic',
    summary: 'Delete a traffic test schedule',
    description: 'Its past tests stay in the history (their schedule_id becomes null).',
    params: IdParams,
    responses: { 204: { description: 'Deleted' }, 404: { description: 'Not found' } },
    handler: async ({ params: p }) => {
      await traffic.deleteSchedule(p.id);
      return { status: 204 };
    },
  });
}
