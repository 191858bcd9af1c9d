// CSV columns and cell rules of subnets and addresses, and the export. The import (dry run with
// per-row errors, then all-or-nothing, in slices) is in csv-import.ts.
import { nextTurn } from '../turns.js';
import { stringify } from 'csv-stringify/sync';
import { LanscapeError } from '../errors.js';
import { ipKey, parseIp } from './core/ip.js';
import { type IpamService, parseTags } from './service.js';

export const CSV_KINDS = ['subnets', 'addresses'] as const;
export type CsvKind = (typeof CSV_KINDS)[number];

const COLUMNS: Record<CsvKind, readonly string[]> = {
  subnets: ['cidr', 'name', 'description', 'vlan', 'gateway', 'tags', 'scan_enabled', 'scan_interval_seconds', 'vrf'],
  addresses: ['address', 'state', 'hostname', 'mac', 'description', 'owner', 'tags', 'source', 'vrf'],
};
/** Columns an export adds that an import accepts and ignores, so an export imports again as is. */
const EXPORT_ONLY = ['id', 'created_at', 'updated_at'];
export const MAX_ROWS = 100_000;
const REQUIRED: Record<CsvKind, string> = { subnets: 'cidr', addresses: 'address' };
const TAG_SEPARATOR = ';';

export interface ImportReport {
  kind: CsvKind;
  dry_run: boolean;
  applied: boolean;
  rows: number;
  valid: number;
  errors: { row: number; line: number; field?: string; message: string }[];
}

/** The column names of a header row, checked for the kind. */
export function checkHeader(kind: CsvKind, header: string[]): string[] {
  const names = header.map((h) => h.trim());
  const duplicate = names.find((h, i) => names.indexOf(h) !== i);
  if (duplicate) throw new LanscapeError(400, 'invalid_csv', `the column ${duplicate} appears twice`);
  const unknown = names.filter((h) => !COLUMNS[kind].includes(h) && !EXPORT_ONLY.includes(h));
  if (unknown.length > 0) {
    throw new LanscapeError(
      400,
      'invalid_csv',
      `unknown column(s) ${unknown.join(', ')}; ${kind} take ${COLUMNS[kind].join(', ')}`,
    );
  }
  if (!names.includes(REQUIRED[kind]))
    throw new LanscapeError(400, 'invalid_csv', `the column ${REQUIRED[kind]} is required`);
  return names;
}

/** A CSV record as API input: empty cells left out, tags split, numbers and booleans typed. */
export function toInput(record: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(record)) {
    if (raw === '' || EXPORT_ONLY.includes(key)) continue;
    const value = unescapeCell(raw);
    if (key === 'tags') out.tags = value.split(TAG_SEPARATOR).filter(Boolean);
    else if (key === 'vlan' || key === 'scan_interval_seconds') out[key] = /^\d+$/.test(value) ? Number(value) : value;
    else if (key === 'scan_enabled') out.scan_enabled = value === 'true' ? true : value === 'false' ? false : value;
    else out[key] = value;
  }
  return out;
}

/**
 * A row's `vrf` cell (a VRF's name; absent: the global VRF) as the API's vrf_id. An unknown name
 * is the row's error (returned as its message).
 */
export function withVrfId(
  input: Record<string, unknown>,
  vrfIds: ReadonlyMap<string, number>,
): Record<string, unknown> | string {
  if (!('vrf' in input)) return input;
  const { vrf, ...rest } = input;
  const id = vrfIds.get(String(vrf));
  if (id === undefined) return `no VRF is named ${JSON.stringify(vrf)}; create it first (POST /api/v1/vrfs)`;
  return { ...rest, vrf_id: id };
}

/**
 * CSV injection (OWASP): a spreadsheet runs a cell that starts with = + - @, tab, CR or LF as a
 * formula, some after leading spaces too, and some read fullwidth ＝ ＋ － ＠ as their ASCII twins.
 */
const FORMULA_START = /^[\t\r\n]|^\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]/u;

/**
 * The escaping rule, chosen to round-trip any text exactly:
 * - export puts one apostrophe before a cell that starts like a formula (FORMULA_START) or
 *   already starts with an apostrophe, and leaves every other cell as it is;
 * - import removes one leading apostrophe when what follows would have needed it, and leaves
 *   every other cell as it is.
 * So import(export(x)) === x for every text x ("'quoted" → "''quoted" → "'quoted"), and
 * export(import(c)) === c for every cell export writes. A hand-written "'quoted" imports as is.
 */
function needsApostrophe(text: string): boolean {
  return text.startsWith("'") || FORMULA_START.test(text);
}

/** One exported cell: tags joined, null as empty, and the apostrophe rule above applied. */
export function safeCell(value: unknown): string {
  const text =
    value === null || value === undefined ? '' : Array.isArray(value) ? value.join(TAG_SEPARATOR) : String(value);
  return needsApostrophe(text) ? `'${text}` : text;
}

/** Undoes safeCell on import, so an exported file imports back unchanged. */
export function unescapeCell(text: string): string {
  return text.startsWith("'") && needsApostrophe(text.slice(1)) ? text.slice(1) : text;
}

/** Rows per chunk of a streamed export: each chunk is read and written as CSV in a few ms. */
export const EXPORT_CHUNK = 1000;
/** Keys below and above every address key (17 bytes: family, then 16 value bytes). */
const KEY_MIN = Buffer.alloc(0);
const KEY_MAX = Buffer.alloc(18, 0xff);

/**
 * The CSV export as chunks of text: the header, then EXPORT_CHUNK rows at a time, read by
 * keyset (addresses by ip_key; subnets in the subnet list's order), with the event loop free
 * between chunks. Concatenated, the chunks are the same bytes one stringify of all rows gives.
 * Not a snapshot: a row written while the export runs is in it if the export has not passed
 * its place yet; a row that exists throughout is in it exactly once.
 */
export async function* exportCsv(ipam: IpamService, kind: CsvKind, subnetId?: number): AsyncGenerator<string> {
  const columns = [...COLUMNS[kind], 'id', 'created_at', 'updated_at'];
  const vrfNames = new Map((await ipam.allVrfs()).map((v) => [v.id, v.name]));
  // Quote cells with spaces at either end, so readers that trim unquoted cells keep them too.
  const options = { columns, quoted_match: /^\s|\s$/ };
  let header = true;
  const chunks =
    kind === 'subnets' ? subnetChunks(ipam, columns, vrfNames) : addressChunks(ipam, subnetId, columns, vrfNames);
  for await (const rows of chunks) {
    yield stringify(
      rows.map((r) => r.map((v) => safeCell(v))),
      { ...options, header },
    );
    header = false;
    await nextTurn();
  }
  if (header) yield stringify([], { ...options, header: true });
}

async function* subnetChunks(
  ipam: IpamService,
  columns: readonly string[],
  vrfNames: ReadonlyMap<number, string>,
): AsyncGenerator<unknown[][]> {
  // The cached list is replaced, never changed, by subnet writes: a stable snapshot to walk.
  const rows = await ipam.allSubnets();
  for (let i = 0; i < rows.length; i += EXPORT_CHUNK) {
    // The subnet view's fields that are exported, without its utilization (not exported, and costly).
    yield rows.slice(i, i + EXPORT_CHUNK).map((r) => {
      const view: Record<string, unknown> = {
        ...r,
        tags: parseTags(r.tags),
        scan_enabled: r.scan_enabled === 1,
        vrf: vrfNames.get(r.vrf_id),
      };
      return columns.map((c) => view[c]);
    });
  }
}

async function* addressChunks(
  ipam: IpamService,
  subnetId: number | undefined,
  columns: readonly string[],
  vrfNames: ReadonlyMap<number, string>,
): AsyncGenerator<unknown[][]> {
  const subnet = subnetId === undefined ? undefined : await ipam.subnetRow(subnetId);
  const first = subnet?.first_key ?? KEY_MIN;
  const last = subnet?.last_key ?? KEY_MAX;
  // Every export column but `vrf` is a column of the table; read as arrays in export order (the
  // cheapest way SQLite hands rows over), with the address last once more for the keyset cursor.
  // `vrf` is the VRF's name: the rows are read a VRF at a time (VRF, then address order).
  const tags = columns.indexOf('tags');
  const vrfAt = columns.indexOf('vrf');
  const read = columns.map((c) => (c === 'vrf' ? 'vrf_id' : c));
  for (const vrf of subnet ? [subnet.vrf_id] : [...vrfNames.keys()]) {
    let after: Buffer | undefined;
    for (;;) {
      const rows = await ipam.addressColumnsPage(vrf, [...read, 'address'], first, last, after, EXPORT_CHUNK);
      if (rows.length === 0) break;
      // As in the address view: tags are a JSON list in the table.
      yield rows.map((r) =>
        columns.map((_, i) => (i === tags ? parseTags(r[i] as string) : i === vrfAt ? vrfNames.get(vrf) : r[i])),
      );
      if (rows.length < EXPORT_CHUNK) break;
      after = ipKey(parseIp(rows[rows.length - 1]![columns.length] as string));
    }
  }
}
