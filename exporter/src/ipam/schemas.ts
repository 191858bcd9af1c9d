// Request and response schemas of the IPAM API. The same zod objects validate requests, check
// CSV import rows and generate the OpenAPI document, so the three cannot drift apart.
import { z } from 'zod';
import {
  ADDRESS_SOURCES,
  ADDRESS_STATES,
  COLOR_RE,
  HOSTNAME_RE,
  RANGE_PURPOSES,
  TAG_RE,
  normalizeMac,
} from './core/fields.js';
import { IpFormatError, parseIp } from './core/ip.js';
import { parseSubnetPrefix } from './core/prefix.js';
import { VRF_NAME_RE, VRF_RD_RE } from './core/vrf.js';
import { Id, Page, Timestamp, decimalInt } from '../http/schema-kit.js';

function parsedBy(parse: (v: string) => unknown) {
  return (value: string, ctx: z.RefinementCtx) => {
    try {
      parse(value);
    } catch (e) {
      if (!(e instanceof IpFormatError)) throw e;
      ctx.addIssue({ code: 'custom', message: e.hint ? `${e.message}; ${e.hint}` : e.message });
    }
  };
}

export const Cidr = z
  .string()
  .max(70)
  .superRefine(parsedBy(parseSubnetPrefix))
  .meta({ description: 'IPv4 or IPv6 prefix in CIDR notation, host bits clear', example: '10.0.0.0/24' });
export const IpAddress = z
  .string()
  .max(64)
  .superRefine(parsedBy(parseIp))
  .meta({ description: 'IPv4 (dotted quad) or IPv6 address', example: '10.0.0.10' });
const Tags = z
  .array(
    z
      .string()
      .regex(TAG_RE, 'tags start with a letter or digit and use letters, digits, space and _ . : / -')
      .meta({ example: 'web' }),
  )
  .max(32)
  .meta({ example: ['web', 'rack-1'] });
const Hostname = z.string().regex(HOSTNAME_RE, 'not a valid DNS host name').meta({ example: 'nas.lan' });
const Mac = z
  .string()
  .max(17)
  .refine((v) => normalizeMac(v) !== null, 'not a MAC address (aa:bb:cc:dd:ee:ff)');
/** Free text: no control characters but tab and newline, and well-formed Unicode (no lone surrogates). */
const Text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((v) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(v), 'control characters are not allowed')
    .refine((v) => v.isWellFormed(), 'not well-formed Unicode (lone surrogate)');
// --- VRFs (#15)
const VrfId = z
  .number()
  .int()
  .min(1)
  .max(Number.MAX_SAFE_INTEGER)
  .meta({ description: 'the VRF (address space); absent: the global VRF (id 1)', example: 1 });
const vrfFields = {
  rd: z
    .string()
    .regex(VRF_RD_RE, 'a route distinguisher is up to 21 letters, digits and _ . : - (e.g. 65000:1)')
    .nullable()
    .optional()
    .meta({ description: 'route distinguisher, unique when set', example: '65000:1' }),
  description: Text(2000).optional(),
};
const VrfName = z
  .string()
  .regex(VRF_NAME_RE, 'a VRF name is 1–64 letters, digits and _ . : / -, starting with a letter or digit')
  .meta({ example: 'site-b' });
export const VrfCreate = z.strictObject({ name: VrfName, ...vrfFields }).meta({ id: 'VrfCreate' });
export const VrfUpdate = z.strictObject({ name: VrfName.optional(), ...vrfFields }).meta({ id: 'VrfUpdate' });
export type VrfCreate = z.infer<typeof VrfCreate>;
export type VrfUpdate = z.infer<typeof VrfUpdate>;
export const Vrf = z
  .object({
    id: z.number().int(),
    name: z.string(),
    rd: z.string().nullable(),
    description: z.string(),
    subnets: z.number().int().meta({ description: 'subnets in this VRF' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'Vrf' });
export type VrfView = z.infer<typeof Vrf>;
export const VrfListQuery = z.strictObject({ ...Page() });
const VrfFilter = Id.optional().meta({ description: 'only this VRF' });

// --- subnets
const subnetFields = {
  name: Text(128).optional(),
  description: Text(2000).optional(),
  vlan: z.number().int().min(1).max(4094).nullable().optional(),
  gateway: IpAddress.nullable().optional(),
  tags: Tags.optional(),
  scan_enabled: z.boolean().optional().meta({ description: 'include this subnet in scheduled sweeps' }),
  scan_interval_seconds: z
    .number()
    .int()
    .min(10)
    .max(604800)
    .nullable()
    .optional()
    .meta({ description: 'sweep interval; null uses the exporter default' }),
  agent_id: z
    .number()
    .int()
    .min(1)
    .nullable()
    .optional()
    .meta({ description: 'the remote scan agent that sweeps this subnet (#15); null: this exporter sweeps it' }),
};
export const SubnetCreate = z
  .strictObject({ cidr: Cidr, vrf_id: VrfId.optional(), ...subnetFields })
  .meta({ id: 'SubnetCreate' });
export const SubnetUpdate = z.strictObject(subnetFields).meta({ id: 'SubnetUpdate' });
export type SubnetCreate = z.infer<typeof SubnetCreate>;
export type SubnetUpdate = z.infer<typeof SubnetUpdate>;

export const Utilization = z
  .object({
    size: z.number().meta({ description: 'usable addresses (may be rounded above 2^53)' }),
    used: z.number(),
    free: z.number(),
    ratio: z.number().min(0).max(1),
    by_state: z.record(z.string(), z.number().int()),
  })
  .meta({ id: 'Utilization' });

export const Subnet = z
  .object({
    id: z.number().int(),
    vrf_id: z.number().int(),
    cidr: z.string(),
    family: z.union([z.literal(4), z.literal(6)]),
    prefix_length: z.number().int(),
    name: z.string(),
    description: z.string(),
    vlan: z.number().int().nullable(),
    gateway: z.string().nullable(),
    tags: z.array(z.string()),
    scan_enabled: z.boolean(),
    scan_interval_seconds: z.number().int().nullable(),
    agent_id: z.number().int().nullable().meta({ description: 'the remote scan agent that sweeps this subnet' }),
    parent_id: z.number().int().nullable().meta({ description: 'smallest subnet that contains this one' }),
    depth: z.number().int(),
    children: z.number().int(),
    utilization: Utilization,
    created_at: Timestamp,
    updated_at: Timestamp,
    discovery: z
      .object({
        hosts_up: z.number().int().meta({ description: 'addresses answering ICMP' }),
        last_scan: z
          .object({
            id: z.number().int(),
            state: z.enum(['queued', 'running', 'done', 'failed']),
            trigger: z.enum(['manual', 'schedule', 'agent']),
            finished_at: Timestamp.nullable(),
            alive: z.number().int(),
            error: z.string().optional(),
          })
          .nullable(),
      })
      .nullable(),
  })
  .meta({ id: 'Subnet' });

export const SubnetListQuery = z.strictObject({
  ...Page(),
  q: Text(200).optional().meta({ description: 'substring of CIDR, name or description' }),
  tag: Text(64).optional(),
  vlan: decimalInt(1, 4094).optional(),
  family: z.enum(['4', '6']).optional(),
  vrf_id: VrfFilter,
});

export const SubnetDeleteQuery = z.strictObject({
  force: z
    .enum(['true', 'false'])
    .optional()
    .meta({ description: 'also delete addresses that no other subnet contains' }),
});

// --- addresses
const addressFields = {
  state: z.enum(ADDRESS_STATES).optional().meta({ description: 'defaults to reserved' }),
  hostname: Hostname.nullable().optional(),
  mac: Mac.nullable().optional(),
  description: Text(2000).optional(),
  owner: Text(128).nullable().optional(),
  tags: Tags.optional(),
  source: z.enum(ADDRESS_SOURCES).optional().meta({ description: 'defaults to manual' }),
};
export const AddressCreate = z
  .strictObject({ address: IpAddress, vrf_id: VrfId.optional(), ...addressFields })
  .meta({ id: 'AddressCreate' });
export const AddressUpdate = z.strictObject(addressFields).meta({ id: 'AddressUpdate' });
export type AddressFields = z.infer<typeof AddressUpdate>;
export type AddressCreate = z.infer<typeof AddressCreate>;

export const HostObservation = z
  .object({
    status: z
      .enum(['up', 'down', 'unknown'])
      .meta({ description: 'down after LANSCAPE_SCAN_DOWN_AFTER missed sweeps' }),
    rtt_seconds: z.number().nullable(),
    first_seen_at: Timestamp.nullable(),
    last_seen_at: Timestamp.nullable(),
    status_changed_at: Timestamp.nullable(),
    last_checked_at: Timestamp.nullable(),
    mac: z.string().nullable().meta({ description: 'from the neighbour table (directly connected segments only)' }),
    vendor: z.string().nullable(),
    ptr: z.string().nullable(),
    ports: z.array(
      z.object({
        port: z.number().int(),
        protocol: z.literal('tcp'),
        service: z.string().nullable(),
        product: z.string().nullable(),
        version: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'HostObservation' });

export const Address = z
  .object({
    id: z.number().int(),
    vrf_id: z.number().int(),
    address: z.string(),
    family: z.union([z.literal(4), z.literal(6)]),
    subnet_id: z.number().int().nullable(),
    state: z.enum(ADDRESS_STATES),
    hostname: z.string().nullable(),
    mac: z.string().nullable(),
    description: z.string(),
    owner: z.string().nullable(),
    tags: z.array(z.string()),
    source: z.enum(ADDRESS_SOURCES),
    created_at: Timestamp,
    updated_at: Timestamp,
    observed: HostObservation.nullable(),
  })
  .meta({ id: 'Address' });

export const AddressListQuery = z.strictObject({
  ...Page(),
  after: IpAddress.optional().meta({
    description:
      'keyset paging: only addresses after this one in listing order, VRF then address (pass the last address ' +
      'of the previous page, and its vrf_id as after_vrf_id when the listing spans VRFs). Cheap at any depth, ' +
      'unlike a large offset; count stays the number of all matches. Combines with offset.',
    example: '10.0.3.255',
  }),
  after_vrf_id: Id.optional().meta({
    description: "the VRF of `after` (default: vrf_id, or the subnet's VRF, else the global VRF)",
  }),
  subnet_id: Id.optional(),
  vrf_id: VrfFilter,
  state: z.enum(ADDRESS_STATES).optional(),
  source: z.enum(ADDRESS_SOURCES).optional(),
  tag: Text(64).optional(),
  q: Text(200).optional().meta({ description: 'substring of address, hostname, MAC, owner or description' }),
});

export const AllocateRequest = z
  .strictObject({
    count: z.number().int().min(1).max(4096).default(1),
    ...addressFields,
  })
  .meta({ id: 'AllocateRequest' });
export type AllocateRequest = z.infer<typeof AllocateRequest>;

export const AvailableQuery = z.strictObject({
  limit: decimalInt(1, 1000).default(10),
});

export const AvailableIps = z
  .object({
    count: z.number().int(),
    results: z.array(z.object({ address: z.string(), family: z.number().int() })),
  })
  .meta({ id: 'AvailableIps' });

// ---- available prefixes (#15): free child subnets of a subnet
const { gateway: _gateway, ...childFields } = subnetFields;
export const PrefixRequest = z
  .strictObject({
    prefix_length: z.number().int().min(1).max(128).meta({
      description: 'length of each new child subnet; longer than the parent, at most 32 (IPv4) or 128 (IPv6)',
    }),
    count: z.number().int().min(1).max(256).default(1).meta({ description: 'how many children; all or none' }),
    ...childFields,
  })
  .meta({ id: 'PrefixRequest' });
export type PrefixRequest = z.infer<typeof PrefixRequest>;

export const AvailablePrefixesQuery = z.strictObject({
  prefix_length: decimalInt(1, 128).optional().meta({
    description: 'the next free blocks of this length; without it, the free space as the fewest aligned prefixes',
  }),
  limit: decimalInt(1, 1000).default(10),
});

export const AvailablePrefixes = z
  .object({
    count: z.number().int(),
    results: z.array(z.object({ prefix: z.string(), family: z.number().int(), size: z.number() })),
  })
  .meta({ id: 'AvailablePrefixes' });

/** The largest page of a subnet's rows: bounds the time one page holds the event loop. */
export const SUBNET_ROWS_MAX_PAGE = 5000;
export const SubnetRowsQuery = z.strictObject({
  ...Page(SUBNET_ROWS_MAX_PAGE, 1000),
});

export const SubnetRow = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('address'), address: Address }),
    z.object({
      type: z.literal('gap'),
      start_address: z.string(),
      end_address: z.string(),
      size: z.number(),
      range_id: z.number().int().nullable(),
    }),
  ])
  .meta({ id: 'SubnetRow' });

// --- ranges
const rangeFields = {
  label: Text(64).min(1),
  color: z.string().regex(COLOR_RE, 'colour is #rrggbb').meta({ example: '#3b82f6' }).nullable().optional(),
  purpose: z.enum(RANGE_PURPOSES).optional(),
  description: Text(2000).optional(),
  auto_allocate: z.boolean().optional().meta({ description: 'next-free allocation in the subnet may use this range' }),
  mark_utilized: z.boolean().optional().meta({ description: 'count the whole range as used' }),
};
export const RangeCreate = z
  .strictObject({
    subnet_id: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    vrf_id: VrfId.optional().meta({ description: "the subnet's VRF (a range lives in its subnet's VRF)" }),
    start_address: IpAddress,
    end_address: IpAddress,
    ...rangeFields,
  })
  .meta({ id: 'RangeCreate' });
export const RangeUpdate = z
  .strictObject({ ...rangeFields, label: rangeFields.label.optional() })
  .meta({ id: 'RangeUpdate' });
export type RangeCreate = z.infer<typeof RangeCreate>;
export type RangeUpdate = z.infer<typeof RangeUpdate>;

export const Range = z
  .object({
    id: z.number().int(),
    subnet_id: z.number().int(),
    vrf_id: z.number().int(),
    start_address: z.string(),
    end_address: z.string(),
    label: z.string(),
    color: z.string().nullable(),
    purpose: z.enum(RANGE_PURPOSES),
    description: z.string(),
    auto_allocate: z.boolean(),
    mark_utilized: z.boolean(),
    utilization: Utilization,
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'Range' });

export const RangeListQuery = z.strictObject({ ...Page(), subnet_id: Id.optional(), vrf_id: VrfFilter });

// --- view types: what the service builds, inferred from the response schemas above
export type UtilizationView = z.infer<typeof Utilization>;
export type SubnetView = z.infer<typeof Subnet>;
/** What discovery knows of a subnet (alive hosts, last scan); filled by a subnet enricher. */
export type SubnetDiscoveryView = NonNullable<SubnetView['discovery']>;
export type HostObservationView = z.infer<typeof HostObservation>;
export type AddressView = z.infer<typeof Address>;
export type RangeView = z.infer<typeof Range>;
export type SubnetRowView = z.infer<typeof SubnetRow>;
