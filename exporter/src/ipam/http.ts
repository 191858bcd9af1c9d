// HTTP adapter of the IPAM domain: /api/v1 subnets, addresses, ranges, available-ips, CSV.
import { z } from 'zod';
import { LanscapeError } from '../errors.js';
import type { ApiRoutes } from '../http/routes.js';
import { CSV_KINDS, exportCsv, importCsv } from './csv.js';
import {
  Address, AddressCreate, AddressListQuery, AddressUpdate, AllocateRequest, AvailableIps, AvailableQuery, IdParams,
  Range, RangeCreate, RangeListQuery, RangeUpdate, Subnet, SubnetCreate, SubnetDeleteQuery, SubnetListQuery,
  SubnetRow, SubnetRowsQuery, SubnetUpdate, listOf,
} from './schemas.js';
import type { AllocationScope, IpamService } from './service.js';

const Deleted = { 204: { description: 'Deleted' }, 404: { description: 'Not found' } };

export function registerIpamRoutes(api: ApiRoutes, ipam: IpamService): void {
  // ---- subnets
  api.add({
    method: 'get', path: '/subnets', scope: 'read', tag: 'subnets', summary: 'List subnets with utilization',
    query: SubnetListQuery,
    responses: { 200: { description: 'Subnets in address order', schema: listOf(Subnet, 'SubnetList') } },
    handler: ({ query }) => ({ status: 200, body: ipam.listSubnets(query, query.limit, query.offset) }),
  });
  api.add({
    method: 'post', path: '/subnets', scope: 'write', batched: true, tag: 'subnets', summary: 'Create a subnet',
    body: SubnetCreate,
    responses: { 201: { description: 'Created', schema: Subnet }, 409: { description: 'Same CIDR exists' } },
    handler: ({ body, actor }) => ({ status: 201, body: ipam.createSubnet(body, actor) }),
  });
  api.add({
    method: 'get', path: '/subnets/{id}', scope: 'read', tag: 'subnets', summary: 'Read a subnet', params: IdParams,
    responses: { 200: { description: 'The subnet', schema: Subnet }, 404: { description: 'Not found' } },
    handler: ({ params }) => ({ status: 200, body: ipam.getSubnet(params.id) }),
  });
  api.add({
    method: 'patch', path: '/subnets/{id}', scope: 'write', batched: true, tag: 'subnets', summary: 'Update a subnet (the CIDR is fixed)',
    params: IdParams, body: SubnetUpdate,
    responses: { 200: { description: 'Updated', schema: Subnet }, 404: { description: 'Not found' } },
    handler: ({ params, body, actor }) => ({ status: 200, body: ipam.updateSubnet(params.id, body, actor) }),
  });
  api.add({
    method: 'delete', path: '/subnets/{id}', scope: 'write', batched: true, tag: 'subnets', summary: 'Delete a subnet and its ranges',
    description: 'Refused with 409 while addresses would be left in no subnet, unless force=true deletes them too.',
    params: IdParams, query: SubnetDeleteQuery,
    responses: { ...Deleted, 409: { description: 'Addresses would be orphaned' } },
    handler: ({ params, query, actor }) => {
      ipam.deleteSubnet(params.id, query.force === 'true', actor);
      return { status: 204 };
    },
  });
  api.add({
    method: 'get', path: '/subnets/{id}/addresses', scope: 'read', tag: 'subnets',
    summary: 'Known addresses of a subnet with free gaps collapsed into rows',
    params: IdParams, query: SubnetRowsQuery,
    responses: {
      200: {
        description: 'Rows in address order',
        schema: z.object({ count: z.number().int(), subnet: Subnet, results: z.array(SubnetRow) }).meta({ id: 'SubnetRows' }),
      },
    },
    handler: ({ params, query }) => ({ status: 200, body: ipam.subnetRows(params.id, query.limit, query.offset) }),
  });

  // ---- next free addresses, in a subnet or in a range
  const allocation = (kind: 'subnets' | 'ranges', scopeOf: (id: number) => AllocationScope) => {
    const noun = kind === 'subnets' ? 'subnet' : 'range';
    api.add({
      method: 'get', path: `/${kind}/{id}/available-ips`, scope: 'read', tag: kind,
      summary: `Next free addresses of a ${noun} (nothing is reserved)`, params: IdParams, query: AvailableQuery,
      responses: { 200: { description: 'Free addresses in order', schema: AvailableIps } },
      handler: ({ params, query }) => {
        const results = ipam.availableIps(scopeOf(params.id), query.limit);
        const family = results[0]?.includes(':') ? 6 : 4;
        return { status: 200, body: { count: results.length, results: results.map((address) => ({ address, family })) } };
      },
    });
    api.add({
      method: 'post', path: `/${kind}/{id}/available-ips`, scope: 'write', batched: true, tag: kind,
      summary: `Reserve the next N free addresses of a ${noun} atomically`, params: IdParams, body: AllocateRequest,
      responses: {
        201: { description: 'The new addresses', schema: z.array(Address) },
        409: { description: 'Not enough free addresses; nothing was reserved' },
      },
      handler: ({ params, body, actor }) => ({ status: 201, body: ipam.allocate(scopeOf(params.id), body, actor) }),
    });
  };
  allocation('subnets', (id) => ({ subnetId: id }));
  allocation('ranges', (id) => ({ rangeId: id }));

  // ---- addresses
  api.add({
    method: 'get', path: '/addresses', scope: 'read', tag: 'addresses', summary: 'List addresses', query: AddressListQuery,
    responses: { 200: { description: 'Addresses in address order', schema: listOf(Address, 'AddressList') } },
    handler: ({ query }) => ({ status: 200, body: ipam.listAddresses(query, query.limit, query.offset) }),
  });
  api.add({
    method: 'post', path: '/addresses', scope: 'write', batched: true, tag: 'addresses', summary: 'Reserve or record a specific address',
    body: AddressCreate,
    responses: { 201: { description: 'Created', schema: Address }, 409: { description: 'The address is taken' } },
    handler: ({ body, actor }) => ({ status: 201, body: ipam.createAddress(body, actor) }),
  });
  api.add({
    method: 'get', path: '/addresses/{id}', scope: 'read', tag: 'addresses', summary: 'Read an address', params: IdParams,
    responses: { 200: { description: 'The address', schema: Address }, 404: { description: 'Not found' } },
    handler: ({ params }) => ({ status: 200, body: ipam.getAddress(params.id) }),
  });
  api.add({
    method: 'patch', path: '/addresses/{id}', scope: 'write', batched: true, tag: 'addresses', summary: 'Update an address',
    params: IdParams, body: AddressUpdate,
    responses: { 200: { description: 'Updated', schema: Address }, 404: { description: 'Not found' } },
    handler: ({ params, body, actor }) => ({ status: 200, body: ipam.updateAddress(params.id, body, actor) }),
  });
  api.add({
    method: 'delete', path: '/addresses/{id}', scope: 'write', batched: true, tag: 'addresses', summary: 'Release an address',
    params: IdParams, responses: Deleted,
    handler: ({ params, actor }) => {
      ipam.deleteAddress(params.id, actor);
      return { status: 204 };
    },
  });

  // ---- ranges
  api.add({
    method: 'get', path: '/ranges', scope: 'read', tag: 'ranges', summary: 'List labelled ranges', query: RangeListQuery,
    responses: { 200: { description: 'Ranges in address order', schema: listOf(Range, 'RangeList') } },
    handler: ({ query }) => ({ status: 200, body: ipam.listRanges(query.subnet_id, query.limit, query.offset) }),
  });
  api.add({
    method: 'post', path: '/ranges', scope: 'write', batched: true, tag: 'ranges', summary: 'Create a labelled range inside a subnet',
    body: RangeCreate,
    responses: { 201: { description: 'Created', schema: Range }, 409: { description: 'Overlaps another range' } },
    handler: ({ body, actor }) => ({ status: 201, body: ipam.createRange(body, actor) }),
  });
  api.add({
    method: 'get', path: '/ranges/{id}', scope: 'read', tag: 'ranges', summary: 'Read a range', params: IdParams,
    responses: { 200: { description: 'The range', schema: Range }, 404: { description: 'Not found' } },
    handler: ({ params }) => ({ status: 200, body: ipam.getRange(params.id) }),
  });
  api.add({
    method: 'patch', path: '/ranges/{id}', scope: 'write', batched: true, tag: 'ranges', summary: 'Update a range (bounds are fixed)',
    params: IdParams, body: RangeUpdate,
    responses: { 200: { description: 'Updated', schema: Range }, 404: { description: 'Not found' } },
    handler: ({ params, body, actor }) => ({ status: 200, body: ipam.updateRange(params.id, body, actor) }),
  });
  api.add({
    method: 'delete', path: '/ranges/{id}', scope: 'write', batched: true, tag: 'ranges', summary: 'Delete a range', params: IdParams,
    responses: Deleted,
    handler: ({ params, actor }) => {
      ipam.deleteRange(params.id, actor);
      return { status: 204 };
    },
  });

  // ---- CSV
  const Kind = z.strictObject({ kind: z.enum(CSV_KINDS) });
  api.add({
    method: 'post', path: '/import/{kind}', scope: 'write', batched: true, tag: 'csv', bodyType: 'text/csv',
    summary: 'Import subnets or addresses from CSV',
    description: 'With dry_run=true nothing is stored and every row is checked. Otherwise all rows are stored, or none (422 with the per-row errors).',
    params: Kind, query: z.strictObject({ dry_run: z.enum(['true', 'false']).default('false') }),
    body: z.string().meta({ example: 'cidr,name,vlan,tags\n10.0.0.0/24,servers,10,lab;core' }),
    responses: {
      200: { description: 'Report (applied, or dry run)', schema: ImportReportSchema },
      422: { description: 'Some rows are invalid; nothing was stored. The report is in error.details.' },
    },
    handler: ({ params, query, body, actor }) => {
      const report = importCsv(ipam, params.kind, body, query.dry_run === 'true', actor);
      if (report.errors.length > 0 && !report.dry_run) {
        throw new LanscapeError(422, 'import_rejected',
          `${report.errors.length} of ${report.rows} row(s) are invalid; nothing was stored`, report);
      }
      return { status: 200, body: report };
    },
  });
  api.add({
    method: 'get', path: '/export/{kind}', scope: 'read', tag: 'csv', summary: 'Export subnets or addresses as CSV',
    params: Kind, query: z.strictObject({ subnet_id: AddressListQuery.shape.subnet_id }),
    responses: { 200: { description: 'CSV with a header row', schema: z.string(), contentType: 'text/csv' } },
    handler: ({ params, query }) => ({
      status: 200,
      contentType: 'text/csv; charset=utf-8',
      headers: { 'Content-Disposition': `attachment; filename="lanscape-${params.kind}.csv"` },
      body: exportCsv(ipam, params.kind, query.subnet_id),
    }),
  });
}

const ImportReportSchema = z.object({
  kind: z.enum(CSV_KINDS),
  dry_run: z.boolean(),
  applied: z.boolean(),
  rows: z.number().int(),
  valid: z.number().int(),
  errors: z.array(z.object({ row: z.number().int(), line: z.number().int(), field: z.string().optional(), message: z.string() })),
}).meta({ id: 'ImportReport' });
