// HTTP adapter of the IPAM domain: /api/v1 subnets, addresses, ranges, available-ips, CSV.
import { nextTurn } from '../turns.js';
import { z } from 'zod';
import { LanscapeError } from '../errors.js';
import type { ApiRoutes } from '../http/routes.js';
import type { Writes } from '../store/write-batcher.js';
import { CSV_KINDS, exportCsv } from './csv.js';
import { type CsvImports, SYNC_MAX_ROWS } from './csv-import.js';
import { ImportJobSchema, ImportReportSchema } from './csv-schemas.js';
import { IdParams, listOf } from '../http/schema-kit.js';
import {
  Address,
  AddressCreate,
  AddressListQuery,
  AddressUpdate,
  AllocateRequest,
  AvailableIps,
  AvailablePrefixes,
  AvailablePrefixesQuery,
  AvailableQuery,
  PrefixRequest,
  Range,
  RangeCreate,
  RangeListQuery,
  RangeUpdate,
  Subnet,
  SubnetCreate,
  SubnetDeleteQuery,
  SubnetListQuery,
  SubnetRow,
  SubnetRowsQuery,
  SubnetUpdate,
  Vrf,
  VrfCreate,
  VrfListQuery,
  VrfUpdate,
} from './schemas.js';
import type { AllocationScope, IpamService } from './service.js';
import { type Prefix, formatPrefix, sizeOf } from './core/prefix.js';

const Deleted = { 204: { description: 'Deleted' }, 404: { description: 'Not found' } };

/** Allocations above this count take a slot of the `bulk` cost class (429 beyond its limit). */
export const BULK_ALLOCATION = 256;

export function registerIpamRoutes(
  api: ApiRoutes,
  ipam: IpamService,
  deps: { writes: Writes; imports: CsvImports },
): void {
  const { writes, imports } = deps;
  // ---- VRFs (#15): address spaces; the global VRF (id 1) is the default and stays
  api.add({
    method: 'get',
    path: '/vrfs',
    scope: 'read',
    tag: 'vrfs',
    summary: 'List VRFs (address spaces)',
    query: VrfListQuery,
    responses: { 200: { description: 'VRFs by id', schema: listOf(Vrf, 'VrfList') } },
    handler: async ({ query }) => ({ status: 200, body: await ipam.listVrfs(query.limit, query.offset) }),
  });
  api.add({
    method: 'post',
    path: '/vrfs',
    scope: 'write',
    batched: true,
    tag: 'vrfs',
    summary: 'Create a VRF',
    description: 'The same CIDR may exist once in every VRF; uniqueness and containment hold inside one.',
    body: VrfCreate,
    responses: {
      201: { description: 'Created', schema: Vrf },
      409: { description: 'The name or route distinguisher is taken' },
    },
    handler: async ({ body, actor }) => ({ status: 201, body: await ipam.createVrf(body, actor) }),
  });
  api.add({
    method: 'get',
    path: '/vrfs/{id}',
    scope: 'read',
    tag: 'vrfs',
    summary: 'Read a VRF',
    params: IdParams,
    responses: { 200: { description: 'The VRF', schema: Vrf }, 404: { description: 'Not found' } },
    handler: async ({ params }) => ({ status: 200, body: await ipam.getVrf(params.id) }),
  });
  api.add({
    method: 'patch',
    path: '/vrfs/{id}',
    scope: 'write',
    batched: true,
    tag: 'vrfs',
    summary: 'Update a VRF (the global VRF keeps its name)',
    params: IdParams,
    body: VrfUpdate,
    responses: {
      200: { description: 'Updated', schema: Vrf },
      404: { description: 'Not found' },
      409: { description: 'The name or route distinguisher is taken' },
    },
    handler: async ({ params, body, actor }) => ({ status: 200, body: await ipam.updateVrf(params.id, body, actor) }),
  });
  api.add({
    method: 'delete',
    path: '/vrfs/{id}',
    scope: 'write',
    batched: true,
    tag: 'vrfs',
    summary: 'Delete an empty VRF',
    description: 'Refused with 409 while the VRF holds subnets, and always for the global VRF.',
    params: IdParams,
    responses: { ...Deleted, 409: { description: 'The VRF holds subnets, or is the global VRF' } },
    handler: async ({ params, actor }) => {
      await ipam.deleteVrf(params.id, actor);
      return { status: 204 };
    },
  });

  // ---- subnets
  api.add({
    method: 'get',
    path: '/subnets',
    scope: 'read',
    tag: 'subnets',
    summary: 'List subnets with utilization',
    cost: 'list',
    query: SubnetListQuery,
    responses: { 200: { description: 'Subnets in address order', schema: listOf(Subnet, 'SubnetList') } },
    handler: async ({ query }) => ({ status: 200, body: await ipam.listSubnets(query, query.limit, query.offset) }),
  });
  api.add({
    method: 'post',
    path: '/subnets',
    scope: 'write',
    batched: true,
    tag: 'subnets',
    summary: 'Create a subnet',
    body: SubnetCreate,
    responses: {
      201: { description: 'Created', schema: Subnet },
      409: { description: 'The same CIDR exists in that VRF' },
    },
    handler: async ({ body, actor }) => ({ status: 201, body: await ipam.createSubnet(body, actor) }),
  });
  api.add({
    method: 'get',
    path: '/subnets/{id}',
    scope: 'read',
    tag: 'subnets',
    summary: 'Read a subnet',
    params: IdParams,
    responses: { 200: { description: 'The subnet', schema: Subnet }, 404: { description: 'Not found' } },
    handler: async ({ params }) => ({ status: 200, body: await ipam.getSubnet(params.id) }),
  });
  api.add({
    method: 'patch',
    path: '/subnets/{id}',
    scope: 'write',
    batched: true,
    tag: 'subnets',
    summary: 'Update a subnet (the CIDR is fixed)',
    params: IdParams,
    body: SubnetUpdate,
    responses: { 200: { description: 'Updated', schema: Subnet }, 404: { description: 'Not found' } },
    handler: async ({ params, body, actor }) => ({
      status: 200,
      body: await ipam.updateSubnet(params.id, body, actor),
    }),
  });
  api.add({
    method: 'delete',
    path: '/subnets/{id}',
    scope: 'write',
    batched: true,
    tag: 'subnets',
    summary: 'Delete a subnet and its ranges',
    description: 'Refused with 409 while addresses would be left in no subnet, unless force=true deletes them too.',
    params: IdParams,
    query: SubnetDeleteQuery,
    responses: { ...Deleted, 409: { description: 'Addresses would be orphaned' } },
    handler: async ({ params, query, actor }) => {
      await ipam.deleteSubnet(params.id, query.force === 'true', actor);
      return { status: 204 };
    },
  });
  api.add({
    method: 'get',
    path: '/subnets/{id}/addresses',
    scope: 'read',
    tag: 'subnets',
    cost: 'rows',
    summary: 'Known addresses of a subnet with free gaps collapsed into rows',
    description:
      'The layout of a large subnet is computed once (in chunks, without holding up other requests) and ' +
      'kept until a write touches the subnet, so every page costs about the same at any offset.',
    params: IdParams,
    query: SubnetRowsQuery,
    responses: {
      200: {
        description: 'Rows in address order',
        schema: z
          .object({ count: z.number().int(), subnet: Subnet, results: z.array(SubnetRow) })
          .meta({ id: 'SubnetRows' }),
      },
      404: { description: 'Not found' },
    },
    handler: async ({ params, query }) => ({
      status: 200,
      body: await ipam.subnetRows(params.id, query.limit, query.offset),
    }),
  });

  // ---- next free addresses, in a subnet or in a range
  const allocation = (kind: 'subnets' | 'ranges', scopeOf: (id: number) => AllocationScope) => {
    const noun = kind === 'subnets' ? 'subnet' : 'range';
    api.add({
      method: 'get',
      path: `/${kind}/{id}/available-ips`,
      scope: 'read',
      tag: kind,
      summary: `Next free addresses of a ${noun} (nothing is reserved)`,
      params: IdParams,
      query: AvailableQuery,
      responses: {
        200: { description: 'Free addresses in order', schema: AvailableIps },
        404: { description: `No such ${noun}` },
      },
      handler: async ({ params, query }) => {
        const results = await ipam.availableIps(scopeOf(params.id), query.limit);

        const family = results[0]?.includes(':') ? 6 : 4;
        return {
          status: 200,
          body: { count: results.length, results: results.map((address) => ({ address, family })) },
        };
      },
    });
    api.add({
      method: 'post',
      path: `/${kind}/{id}/available-ips`,
      scope: 'write',
      tag: kind,
      cost: 'bulk',
      costWhen: ({ body }) => body.count > BULK_ALLOCATION,
      summary: `Reserve the next N free addresses of a ${noun} atomically`,
      params: IdParams,
      body: AllocateRequest,
      description:
        `All N or none. Large counts are stored in short slices (other requests are served in between): the ` +
        `addresses are chosen at once and held for this request, so nothing else takes them meanwhile; others may see ` +
        `some of them before the answer. More than ${BULK_ALLOCATION} at once count against the bulk limit (429).`,
      responses: {
        201: { description: 'The new addresses', schema: z.array(Address) },
        404: { description: `No such ${noun}` },
        409: { description: 'Not enough free addresses; nothing was reserved' },
      },
      handler: async ({ params, body, actor }) => {
        const views = await ipam.allocateInSlices(scopeOf(params.id), body, actor, (fn) => writes.run(fn));
        // Thousands of addresses are 1+ MB of JSON: written a slice at a time, not in one stringify.
        return views.length <= BULK_ALLOCATION
          ? { status: 201, body: views }
          : { status: 201, contentType: 'application/json; charset=utf-8', stream: jsonArray(views) };
      },
    });
  };
  allocation('subnets', (id) => ({ subnetId: id }));
  allocation('ranges', (id) => ({ rangeId: id }));

  // ---- available prefixes: free child subnets (NetBox's available-prefixes)
  const prefixesOf = (prefixes: Prefix[]) => ({
    count: prefixes.length,
    results: prefixes.map((p) => ({ prefix: formatPrefix(p), family: p.family, size: Number(sizeOf(p)) })),
  });
  api.add({
    method: 'get',
    path: '/subnets/{id}/available-prefixes',
    scope: 'read',
    tag: 'subnets',
    summary: 'Free child prefixes of a subnet (nothing is reserved)',
    description:
      'With `prefix_length`, the next free blocks of that length, lowest first; without it, the free space as the ' +
      'fewest CIDR-aligned prefixes. Child subnets and ranges count as taken.',
    params: IdParams,
    query: AvailablePrefixesQuery,
    responses: {
      200: { description: 'Free prefixes in order', schema: AvailablePrefixes },
      404: { description: 'No such subnet' },
      422: { description: 'prefix_length not longer than the subnet’s' },
    },
    handler: async ({ params, query }) => ({
      status: 200,
      body: prefixesOf(await ipam.availablePrefixes(params.id, query.prefix_length, query.limit)),
    }),
  });
  api.add({
    method: 'post',
    path: '/subnets/{id}/available-prefixes',
    scope: 'write',
    tag: 'subnets',
    summary: 'Create the next N free child subnets of a length atomically',
    description:
      'All N or none: the first free blocks of `prefix_length` inside the subnet, avoiding its children and ranges, ' +
      'each created as a subnet with the given fields. Concurrent requests (on any replica) never get overlapping blocks.',
    params: IdParams,
    body: PrefixRequest,
    responses: {
      201: { description: 'The new subnets', schema: z.array(Subnet) },
      404: { description: 'No such subnet' },
      409: { description: 'Not enough free space; nothing was created' },
      422: { description: 'prefix_length not longer than the subnet’s' },
    },
    handler: async ({ params, body, actor }) => ({
      status: 201,
      body: await ipam.allocatePrefixes(params.id, body, actor),
    }),
  });

  // ---- addresses
  api.add({
    method: 'get',
    path: '/addresses',
    scope: 'read',
    tag: 'addresses',
    summary: 'List addresses',
    query: AddressListQuery,
    cost: 'list',
    description:
      'Paged by limit/offset, or by keyset: pass the last address of a page as `after` to get the next ' +
      'one; deep pages cost the same as the first that way.',
    responses: {
      200: { description: 'Addresses in address order', schema: listOf(Address, 'AddressList') },
      404: { description: 'subnet_id does not exist' },
    },
    handler: async ({ query }) => ({
      status: 200,
      body: await ipam.listAddressesPaced({ ...query, vrf: query.vrf_id }, query.limit, query.offset),
    }),
  });
  api.add({
    method: 'post',
    path: '/addresses',
    scope: 'write',
    batched: true,
    tag: 'addresses',
    summary: 'Reserve or record a specific address',
    body: AddressCreate,
    responses: { 201: { description: 'Created', schema: Address }, 409: { description: 'The address is taken' } },
    handler: async ({ body, actor }) => ({ status: 201, body: await ipam.createAddress(body, actor) }),
  });
  api.add({
    method: 'get',
    path: '/addresses/{id}',
    scope: 'read',
    tag: 'addresses',
    summary: 'Read an address',
    params: IdParams,
    responses: { 200: { description: 'The address', schema: Address }, 404: { description: 'Not found' } },
    handler: async ({ params }) => ({ status: 200, body: await ipam.getAddress(params.id) }),
  });
  api.add({
    method: 'patch',
    path: '/addresses/{id}',
    scope: 'write',
    batched: true,
    tag: 'addresses',
    summary: 'Update an address',
    params: IdParams,
    body: AddressUpdate,
    responses: { 200: { description: 'Updated', schema: Address }, 404: { description: 'Not found' } },
    handler: async ({ params, body, actor }) => ({
      status: 200,
      body: await ipam.updateAddress(params.id, body, actor),
    }),
  });
  api.add({
    method: 'delete',
    path: '/addresses/{id}',
    scope: 'write',
    batched: true,
    tag: 'addresses',
    summary: 'Release an address',
    params: IdParams,
    responses: Deleted,
    handler: async ({ params, actor }) => {
      await ipam.deleteAddress(params.id, actor);
      return { status: 204 };
    },
  });

  // ---- ranges
  api.add({
    method: 'get',
    path: '/ranges',
    scope: 'read',
    tag: 'ranges',
    summary: 'List labelled ranges',
    query: RangeListQuery,
    responses: {
      200: { description: 'Ranges in address order', schema: listOf(Range, 'RangeList') },
      404: { description: 'subnet_id does not exist' },
    },
    handler: async ({ query }) => ({
      status: 200,
      body: await ipam.listRanges({ subnetId: query.subnet_id, vrf: query.vrf_id }, query.limit, query.offset),
    }),
  });
  api.add({
    method: 'post',
    path: '/ranges',
    scope: 'write',
    batched: true,
    tag: 'ranges',
    summary: 'Create a labelled range inside a subnet',
    body: RangeCreate,
    responses: {
      201: { description: 'Created', schema: Range },
      404: { description: 'subnet_id does not exist' },
      409: { description: 'Overlaps another range' },
    },
    handler: async ({ body, actor }) => ({ status: 201, body: await ipam.createRange(body, actor) }),
  });
  api.add({
    method: 'get',
    path: '/ranges/{id}',
    scope: 'read',
    tag: 'ranges',
    summary: 'Read a range',
    params: IdParams,
    responses: { 200: { description: 'The range', schema: Range }, 404: { description: 'Not found' } },
    handler: async ({ params }) => ({ status: 200, body: await ipam.getRange(params.id) }),
  });
  api.add({
    method: 'patch',
    path: '/ranges/{id}',
    scope: 'write',
    batched: true,
    tag: 'ranges',
    summary: 'Update a range (bounds are fixed)',
    params: IdParams,
    body: RangeUpdate,
    responses: { 200: { description: 'Updated', schema: Range }, 404: { description: 'Not found' } },
    handler: async ({ params, body, actor }) => ({ status: 200, body: await ipam.updateRange(params.id, body, actor) }),
  });
  api.add({
    method: 'delete',
    path: '/ranges/{id}',
    scope: 'write',
    batched: true,
    tag: 'ranges',
    summary: 'Delete a range',
    params: IdParams,
    responses: Deleted,
    handler: async ({ params, actor }) => {
      await ipam.deleteRange(params.id, actor);
      return { status: 204 };
    },
  });

  // ---- CSV
  const Kind = z.strictObject({ kind: z.enum(CSV_KINDS) });
  api.add({
    method: 'post',
    path: '/import/{kind}',
    scope: 'write',
    tag: 'csv',
    bodyType: 'text/csv',
    cost: 'import',
    summary: 'Import subnets or addresses from CSV',
    description:
      'With dry_run=true nothing is stored and every row is checked. Otherwise all rows are stored, or none ' +
      `(every row is checked first; the per-row errors are the answer). Up to ${SYNC_MAX_ROWS} rows the answer waits ` +
      'for the result: 200 with the report, or 422 with the report in error.details. Larger files, or async=true, ' +
      'answer 202 with an import job to poll at the Location given (GET /import-jobs/{id}). Rows are stored in short ' +
      'slices, so others may see part of an import while it is stored; if the store changed meanwhile so that a row ' +
      'no longer fits, what was stored is removed again and the job fails.',
    params: Kind,
    query: z.strictObject({
      dry_run: z.enum(['true', 'false']).default('false'),
      async: z
        .enum(['true', 'false'])
        .default('false')
        .meta({ description: `answer 202 with a job even for ${SYNC_MAX_ROWS} rows or fewer` }),
    }),
    body: z.string().meta({ example: 'cidr,name,vlan,tags\n10.0.0.0/24,servers,10,lab;core' }),
    responses: {
      200: { description: 'Report (applied, or dry run)', schema: ImportReportSchema },
      202: { description: 'Import job started; poll the Location', schema: ImportJobSchema },
      413: { description: 'More than 100,000 rows' },
      422: { description: 'Some rows are invalid; nothing was stored. The report is in error.details.' },
      429: { description: 'Too many imports are running; retry after Retry-After seconds' },
      503: { description: 'The exporter is stopping' },
    },
    handler: async ({ params, query, body, actor }) => {
      const rows = await imports.count(params.kind, body);
      const job = imports.start(params.kind, body, rows, query.dry_run === 'true', actor);
      if (query.async === 'true' || rows > SYNC_MAX_ROWS) {
        return { status: 202, body: job, headers: { Location: `/api/v1/import-jobs/${job.id}` } };
      }
      const { kind, dry_run, applied, rows: count, valid, errors, error } = await imports.wait(job.id);
      const report = { kind, dry_run, applied, rows: count, valid, errors };
      if (!applied && !dry_run) {
        throw new LanscapeError(422, 'import_rejected', error ?? 'nothing was stored', report);
      }
      return { status: 200, body: report };
    },
  });
  api.add({
    method: 'get',
    path: '/import-jobs/{id}',
    scope: 'read',
    tag: 'csv',
    summary: 'State and progress of an import job',
    description: 'Jobs are kept in memory: the last 100 finished ones, until the exporter restarts.',
    params: IdParams,
    responses: { 200: { description: 'The job', schema: ImportJobSchema }, 404: { description: 'Not found' } },
    handler: ({ params }) => ({ status: 200, body: imports.get(params.id) }),
  });
  api.add({
    method: 'get',
    path: '/export/{kind}',
    scope: 'read',
    tag: 'csv',
    summary: 'Export subnets or addresses as CSV',
    cost: 'export',
    description:
      'Streamed (chunked transfer) as it is read, in address order; not a snapshot: rows written meanwhile ' +
      'appear if the export has not passed their place yet. A failure midway cuts the connection.',
    params: Kind,
    query: z.strictObject({ subnet_id: AddressListQuery.shape.subnet_id }),
    responses: {
      200: { description: 'CSV with a header row', schema: z.string(), contentType: 'text/csv' },
      404: { description: 'subnet_id does not exist' },
    },
    handler: ({ params, query }) => ({
      status: 200,
      contentType: 'text/csv; charset=utf-8',
      headers: { 'Content-Disposition': `attachment; filename="lanscape-${params.kind}.csv"` },
      stream: exportCsv(ipam, params.kind, query.subnet_id),
    }),
  });
}

/** A JSON array as text chunks of BULK_ALLOCATION items, the event loop free between them. */
async function* jsonArray(items: readonly unknown[]): AsyncGenerator<string> {
  for (let i = 0; i < items.length; i += BULK_ALLOCATION) {
    const part = items
      .slice(i, i + BULK_ALLOCATION)
      .map((item) => JSON.stringify(item))
      .join(',');
    yield `${i === 0 ? '[' : ','}${part}${i + BULK_ALLOCATION >= items.length ? ']' : ''}`;
    await nextTurn();
  }
  if (items.length === 0) yield '[]';
}
