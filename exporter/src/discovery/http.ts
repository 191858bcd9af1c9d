// HTTP adapter of discovery: scans, events, conflicts, per-address history, Prometheus http_sd.
import { nextTurn } from '../turns.js';
import { z } from 'zod';
import type { ApiRoutes } from '../http/routes.js';
import { Id, IdParams, Page, decimalInt } from '../http/schema-kit.js';
import { IpAddress } from '../ipam/schemas.js';
import type { IpamService } from '../ipam/service.js';
import { AddressHistory, CONFLICT_KINDS, ConflictList, EVENT_KINDS, EventList, Scan, SdGroup } from './schemas.js';
import type { DiscoveryService } from './service.js';
import type { HostRef } from './store.js';

export function registerDiscoveryRoutes(api: ApiRoutes, discovery: DiscoveryService, ipam: IpamService): void {
  api.add({
    method: 'post',
    path: '/subnets/{id}/scan',
    scope: 'write',
    tag: 'discovery',
    summary: 'Sweep a subnet now',
    description:
      'Queues an ICMP sweep (then port checks and name lookups) of the subnet. A subnet already queued or being swept returns that scan. Manual scans of one subnet are rate limited, and at most scan.max_queued manual scans wait at once (LANSCAPE_SCAN_MAX_QUEUED).',
    params: IdParams,
    responses: {
      202: { description: 'Queued (or already under way)', schema: Scan },
      404: { description: 'No such subnet' },
      409: {
        description: 'The subnet is assigned to a remote agent (assigned_to_agent), which sweeps it; nothing is queued',
      },
      422: { description: 'The subnet is larger than the largest sweep allowed' },
      429: {
        description:
          'Scanned moments ago (rate_limited), or too many manual scans waiting (scan_queue_full); nothing is queued, Retry-After says when to try again',
      },
    },
    handler: async ({ params }) => {
      const scan = await discovery.startScan(params.id, 'manual');
      return { status: 202, body: scan, headers: { Location: `/api/v1/scans/${scan.id}` } };
    },
  });
  api.add({
    method: 'get',
    path: '/scans/{id}',
    scope: 'read',
    tag: 'discovery',
    summary: 'Scan state and progress',
    params: IdParams,
    responses: { 200: { description: 'The scan', schema: Scan }, 404: { description: 'Not found' } },
    handler: async ({ params }) => ({ status: 200, body: await discovery.getScan(params.id) }),
  });
  api.add({
    method: 'get',
    path: '/events',
    scope: 'read',
    tag: 'discovery',
    summary: 'Change events, newest first',
    cost: 'list',
    query: z.strictObject({
      ...Page(),
      vrf_id: Id.optional().meta({ description: "only this VRF's events (with subnet_id: the subnet's VRF)" }),
      kind: z.enum(EVENT_KINDS).optional(),
      address: IpAddress.optional().meta({ description: 'this address in every VRF, unless vrf_id is given' }),
      subnet_id: Id.optional(),
      since: z.iso.datetime().optional(),
    }),
    responses: { 200: { description: 'Events', schema: EventList } },
    handler: async ({ query }) => ({ status: 200, body: await discovery.listEvents(query, query.limit, query.offset) }),
  });
  api.add({
    method: 'get',
    path: '/conflicts',
    scope: 'read',
    tag: 'discovery',
    summary: 'MAC mismatches, unknown devices and stale reservations',
    description:
      'Grouped by kind (mac_mismatch, unknown_device, stale_reservation), each in VRF then address order; count is all of them.',
    cost: 'list',
    query: z.strictObject({
      ...Page(),
      kind: z.enum(CONFLICT_KINDS).optional(),
      vrf_id: Id.optional().meta({ description: "only this VRF's conflicts" }),
    }),
    responses: { 200: { description: 'Conflicts', schema: ConflictList } },
    handler: async ({ query }) => {
      const all = await discovery.conflicts(query.kind, undefined, query.vrf_id);
      return { status: 200, body: { count: all.length, results: all.slice(query.offset, query.offset + query.limit) } };
    },
  });
  api.add({
    method: 'get',
    path: '/addresses/{id}/history',
    scope: 'read',
    tag: 'discovery',
    summary: "Status samples, hourly roll-ups and uptime of an address (observed in the address's VRF)",
    params: IdParams,
    query: z.strictObject({ hours: decimalInt(1, 24 * 90).default(24) }),
    responses: {
      200: { description: 'History', schema: AddressHistory },
      404: { description: 'No such address' },
    },
    handler: async ({ params, query }) => {
      const { address, vrf_id } = await ipam.getAddress(params.id);
      const since = discovery.now() - query.hours * 3_600_000;
      return {
        status: 200,
        body: {
          address,
          vrf_id,
          observed: await discovery.observation(vrf_id, address),
          uptime: await discovery.uptime(vrf_id, address),
          ...(await discovery.history(vrf_id, address, since)),
        },
      };
    },
  });
  api.add({
    method: 'get',
    path: '/sd',
    scope: 'read',
    tag: 'discovery',
    summary: 'Prometheus HTTP service discovery',
    cost: 'list',
    description:
      'Alive hosts with the port open, as http_sd target groups. Labels: __meta_lanscape_address, __meta_lanscape_subnet, __meta_lanscape_vrf (the VRF\'s name: relabel it to `vrf` so one address in two VRFs stays two targets), __meta_lanscape_hostname, __meta_lanscape_tags (",a,b,"). ' +
      'Prometheus cannot page, so the whole list is sent, streamed in address order 500 hosts at a time ' +
      '(memory and event-loop time stay bounded however many targets there are).',
    query: z.strictObject({
      port: decimalInt(1, 65535).default(9100),
      tag: z.string().max(64).optional(),
    }),
    responses: { 200: { description: 'Target groups', schema: z.array(SdGroup) } },
    handler: ({ query }) => ({
      status: 200,
      contentType: 'application/json; charset=utf-8',
      stream: sdStream(discovery, query.port, query.tag),
    }),
  });
}

/** Hosts read per chunk of /sd. */
const SD_CHUNK = 500;

/** The http_sd JSON array a chunk of hosts at a time: the same bytes as res.json of the whole list. */
async function* sdStream(discovery: DiscoveryService, port: number, tag: string | undefined): AsyncGenerator<string> {
  let open = '[';
  for (let after: HostRef | undefined; ;) {
    const page = await discovery.serviceDiscoveryPage(port, tag, after, SD_CHUNK);
    if (page.groups.length > 0) {
      yield open + page.groups.map((g) => JSON.stringify(g)).join(',');
      open = ',';
    }
    if (page.last === undefined) break;
    after = page.last;
    await nextTurn();
  }
  yield open === '[' ? '[]' : ']';
}
