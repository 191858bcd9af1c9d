import type { Address, HostStatus, SubnetRow } from '../api/types';
import { ipInRange, isIp } from './ip';

/** The address filters of the subnet page, kept in the URL. */
export interface RowFilter {
  q: string;
  state: string;
  tag: string;
  /** A port number or a service name: "22", "ssh". */
  port: string;
  status: '' | HostStatus;
}

export const FILTER_KEYS: Array<keyof RowFilter> = ['q', 'state', 'tag', 'port', 'status'];

export function filterFromParams(params: URLSearchParams): RowFilter {
  const status = params.get('status') ?? '';
  return {
    q: params.get('q') ?? '',
    state: params.get('state') ?? '',
    tag: params.get('tag') ?? '',
    port: params.get('port') ?? '',
    status: status === 'up' || status === 'down' || status === 'unknown' ? status : '',
  };
}

export function isFiltering(f: RowFilter): boolean {
  return FILTER_KEYS.some((k) => f[k].trim() !== '');
}

function matchesAddress(a: Address, f: RowFilter): boolean {
  const o = a.observed;
  if (f.state && a.state !== f.state) {
    return false;
  }
  if (f.status && (o?.status ?? 'unknown') !== f.status) {
    return false;
  }
  if (f.tag) {
    const tag = f.tag.toLowerCase();
    if (!a.tags.some((t) => t.toLowerCase() === tag)) {
      return false;
    }
  }
  if (f.port) {
    const port = f.port.trim().toLowerCase();
    const ok = (o?.ports ?? []).some(
      (p) =>
        String(p.port) === port ||
        (p.service ?? '').toLowerCase() === port ||
        `${p.port}/${p.service ?? p.protocol}` === port
    );
    if (!ok) {
      return false;
    }
  }
  const q = f.q.trim().toLowerCase();
  if (q) {
    const hay = [a.address, a.hostname, a.mac, a.owner, a.description, o?.mac, o?.vendor, o?.ptr, ...a.tags]
      .filter((v): v is string => typeof v === 'string')
      .join('\u0000')
      .toLowerCase();
    if (!hay.includes(q)) {
      return false;
    }
  }
  return true;
}

/**
 * The rows that match. Gap rows are free space: they stay only without filters, or when the
 * search is exactly an address that lies in the gap (to find where it would go).
 */
export function filterRows(rows: SubnetRow[], f: RowFilter): SubnetRow[] {
  if (!isFiltering(f)) {
    return rows;
  }
  const onlyQuery = !f.state && !f.tag && !f.port && !f.status;
  const q = f.q.trim();
  const qIsIp = onlyQuery && isIp(q);
  return rows.filter((row) => {
    if (row.type === 'gap') {
      return qIsIp && ipInRange(q, row.start_address, row.end_address);
    }
    return matchesAddress(row.address, f);
  });
}
