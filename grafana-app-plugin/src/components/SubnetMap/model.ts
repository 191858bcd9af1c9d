// The subnet map's model, pure and testable: the addresses frame of the Lanscape data source (or
// the API's addresses, on the app's Subnet page) to
// cells (a subnet of up to 256 addresses: one cell each) or blocks (a larger subnet: one block per
// /24, or per 256 addresses of IPv6, with counts), built in one pass over the addresses so a /16
// with 20,000 of them costs little. Free space is never enumerated.
import type { DataFrame } from '@grafana/data';
import { parseIp, formatIp } from '../../utils/ip';
import type { Address, Subnet } from '../../api/types';
import type { SubnetMeta } from '../../datasource/types';

/** The largest subnets the map shows: /16 of IPv4 (256 blocks of a /24), /112 of IPv6. */
export const MIN_PREFIX = { 4: 16, 6: 112 } as const;

export type Category =
  'free' | 'network' | 'broadcast' | 'reserved' | 'assigned' | 'dhcp' | 'deprecated' | 'provisioning' | 'discovered';

export const CATEGORIES: Category[] = [
  'reserved',
  'assigned',
  'dhcp',
  'provisioning',
  'deprecated',
  'discovered',
  'free',
];

export interface AddressInfo {
  id: number | null;
  address: string;
  state: string | null;
  source: string | null;
  status: 'up' | 'down' | 'unknown';
  hostname: string | null;
  owner: string | null;
  mac: string | null;
  vendor: string | null;
  description: string | null;
  lastSeen: number | null;
}

export interface Block {
  index: number;
  /** First address of the block and its prefix ("10.0.5.0/24"). */
  cidr: string;
  size: number;
  used: number;
  up: number;
  down: number;
  byCategory: Partial<Record<Category, number>>;
}

export interface SubnetModel {
  subnet: SubnetMeta['subnet'];
  family: 4 | 6;
  base: bigint;
  hostBits: number;
  /** Addresses by offset from the subnet's first address. */
  byOffset: Map<number, AddressInfo>;
  /** Set when the subnet is larger than 256 addresses: one block per 256 addresses. */
  blocks: Block[] | null;
}

export type ModelResult = { model: SubnetModel } | { error: string } | { empty: string };

export function categoryOf(a: Pick<AddressInfo, 'state' | 'source'>): Category {
  if (a.source === 'discovered') {
    return 'discovered';
  }
  switch (a.state) {
    case 'reserved':
    case 'assigned':
    case 'dhcp':
    case 'deprecated':
    case 'provisioning':
      return a.state;
    default:
      return 'assigned';
  }
}

/** The frame the map draws: the Lanscape data source's addresses frame. */
export function findAddressesFrame(series: DataFrame[]): DataFrame | undefined {
  return series.find((f) => (f.meta?.custom as Partial<SubnetMeta> | undefined)?.lanscape === 'addresses');
}

function column<T>(frame: DataFrame, name: string): T[] | undefined {
  return frame.fields.find((f) => f.name === name)?.values as T[] | undefined;
}

export function buildModel(frame: DataFrame): ModelResult {
  const meta = frame.meta?.custom as SubnetMeta | undefined;
  if (!meta || meta.lanscape !== 'addresses') {
    return { empty: 'Query the Lanscape data source for the addresses of a subnet to draw its map.' };
  }
  const ids = column<number | null>(frame, 'id') ?? [];
  const addresses = column<string>(frame, 'address') ?? [];
  const states = column<string | null>(frame, 'state') ?? [];
  const sources = column<string | null>(frame, 'source') ?? [];
  const statuses = column<string | null>(frame, 'status') ?? [];
  const hostnames = column<string | null>(frame, 'hostname') ?? [];
  const owners = column<string | null>(frame, 'owner') ?? [];
  const macs = column<string | null>(frame, 'mac') ?? [];
  const vendors = column<string | null>(frame, 'vendor') ?? [];
  const descriptions = column<string | null>(frame, 'description') ?? [];
  const lastSeen = column<number | null>(frame, 'last_seen') ?? [];
  function* rows(): Generator<AddressInfo> {
    for (let i = 0; i < frame.length; i++) {
      const status = statuses[i];
      yield {
        id: ids[i] ?? null,
        address: addresses[i]!,
        state: states[i] ?? null,
        source: sources[i] ?? null,
        status: status === 'up' || status === 'down' ? status : 'unknown',
        hostname: hostnames[i] ?? null,
        owner: owners[i] ?? null,
        mac: macs[i] ?? null,
        vendor: vendors[i] ?? null,
        description: descriptions[i] ?? null,
        lastSeen: lastSeen[i] ?? null,
      };
    }
  }
  return modelOf(meta.subnet, rows());
}

/** What the map needs to know of a subnet of the API. */
export function mapSubnetOf(subnet: Subnet): SubnetMeta['subnet'] {
  return {
    id: subnet.id,
    cidr: subnet.cidr,
    name: subnet.name,
    family: subnet.family,
    prefix_length: subnet.prefix_length,
    size: subnet.utilization.size,
    used: subnet.utilization.used,
  };
}

/** An address of the API as the map shows it (the names discovery found stand in for unset ones). */
export function addressInfoOf(a: Address): AddressInfo {
  const seen = a.observed?.last_seen_at;
  return {
    id: a.id,
    address: a.address,
    state: a.state,
    source: a.source,
    status: a.observed?.status ?? 'unknown',
    hostname: a.hostname ?? a.observed?.ptr ?? null,
    owner: a.owner,
    mac: a.observed?.mac ?? a.mac,
    vendor: a.observed?.vendor ?? null,
    description: a.description || null,
    lastSeen: seen ? Date.parse(seen) : null,
  };
}

/** The map of `subnet` with these of its addresses (addresses outside it are left out). */
export function modelOf(subnet: SubnetMeta['subnet'], addresses: Iterable<AddressInfo>): ModelResult {
  const family = subnet.family;
  const bits = family === 4 ? 32 : 128;
  const hostBits = bits - subnet.prefix_length;
  if (subnet.prefix_length < MIN_PREFIX[family]) {
    return {
      error: `${subnet.cidr} is too large for a map (${family === 4 ? `${subnet.size.toLocaleString('en-US')} addresses` : `a /${subnet.prefix_length}`}): the subnet map shows subnets from /${MIN_PREFIX[family]} to /${bits}. Choose one of its smaller subnets.`,
    };
  }
  const network = parseIp(subnet.cidr.split('/')[0] ?? '');
  if (!network) {
    return { error: `Cannot read the subnet ${subnet.cidr}.` };
  }
  const base = network.value;
  const size = 2 ** hostBits;
  const blockCount = hostBits > 8 ? size / 256 : 0;
  const blocks: Block[] | null =
    blockCount > 0
      ? Array.from({ length: blockCount }, (_, index) => ({
          index,
          cidr: `${formatIp({ family, value: base + BigInt(index * 256) })}/${bits - 8}`,
          size: 256,
          used: 0,
          up: 0,
          down: 0,
          byCategory: {},
        }))
      : null;
  const byOffset = new Map<number, AddressInfo>();
  // IPv4 offsets in plain numbers (fast); IPv6 through bigint.
  const base4 = family === 4 ? Number(base) : 0;
  for (const info of addresses) {
    const address = info.address;
    let offset: number;
    if (family === 4) {
      const p = address.split('.');
      offset = ((+p[0]! * 256 + +p[1]!) * 256 + +p[2]!) * 256 + +p[3]! - base4;
    } else {
      const ip = parseIp(address);
      offset = ip ? Number(ip.value - base) : -1;
    }
    if (!(offset >= 0 && offset < size)) {
      continue;
    }
    byOffset.set(offset, info);
    if (blocks) {
      const b = blocks[Math.floor(offset / 256)]!;
      b.used++;
      if (info.status === 'up') {
        b.up++;
      } else if (info.status === 'down') {
        b.down++;
      }
      const c = categoryOf(info);
      b.byCategory[c] = (b.byCategory[c] ?? 0) + 1;
    }
  }
  return { model: { subnet, family, base, hostBits, byOffset, blocks } };
}

export interface Cell {
  offset: number;
  address: string;
  category: Category;
  info: AddressInfo | null;
}

/**
 * The cells of a grid: the whole subnet when it has up to 256 addresses, else the block `block`.
 * IPv4 subnets up to /30 mark their network and broadcast addresses.
 */
export function gridCells(model: SubnetModel, block: number | null): Cell[] {
  const start = block === null ? 0 : block * 256;
  const count = block === null ? 2 ** model.hostBits : 256;
  const size = 2 ** model.hostBits;
  const edges = model.family === 4 && model.hostBits >= 2;
  const cells: Cell[] = [];
  for (let k = 0; k < count; k++) {
    const offset = start + k;
    const info = model.byOffset.get(offset) ?? null;
    let category: Category = info ? categoryOf(info) : 'free';
    if (!info && edges && offset === 0) {
      category = 'network';
    } else if (!info && edges && offset === size - 1) {
      category = 'broadcast';
    }
    cells.push({
      offset,
      address: info?.address ?? formatIp({ family: model.family, value: model.base + BigInt(offset) }),
      category,
      info,
    });
  }
  return cells;
}
