// CSV import (dry run with per-row errors, then all-or-nothing) and export of subnets and addresses.
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { z } from 'zod';
import type { Actor } from '../audit/log.js';
import { LanscapeError } from '../errors.js';
import { AddressCreate, SubnetCreate } from './schemas.js';
import type { IpamService } from './service.js';

export const CSV_KINDS = ['subnets', 'addresses'] as const;
export type CsvKind = (typeof CSV_KINDS)[number];

const COLUMNS: Record<CsvKind, readonly string[]> = {
  subnets: ['cidr', 'name', 'description', 'vlan', 'gateway', 'tags', 'scan_enabled', 'scan_interval_seconds'],
  addresses: ['address', 'state', 'hostname', 'mac', 'description', 'owner', 'tags', 'source'],
};
/** Columns an export adds that an import accepts and ignores, so an export imports again as is. */
const EXPORT_ONLY = ['id', 'created_at', 'updated_at'];
const MAX_ROWS = 100_000;
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

class Rollback extends Error {}

export function importCsv(ipam: IpamService, kind: CsvKind, text: string, dryRun: boolean, actor: Actor): ImportReport {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, {
      // No trim: a cell is taken exactly as written, like a JSON string. Free text keeps its
      // spaces (so an export imports back unchanged) and " 10.0.0.0/24" is refused as the API does.
      columns: (header: string[]) => checkHeader(kind, header), bom: true, skip_empty_lines: true, info: true,
      max_record_size: 65536, to: MAX_ROWS + 1,
    });
  } catch (e) {
    if (e instanceof LanscapeError) throw e;
    throw new LanscapeError(400, 'invalid_csv', `the CSV cannot be read: ${(e as Error).message}`);
  }
  if (records.length > MAX_ROWS) throw new LanscapeError(413, 'too_many_rows', `import at most ${MAX_ROWS} rows at a time`);
  const report: ImportReport = { kind, dry_run: dryRun, applied: false, rows: records.length, valid: 0, errors: [] };
  const schema: z.ZodType = kind === 'subnets' ? SubnetCreate : AddressCreate;
  try {
    ipam.write(() => {
      records.forEach(({ record, info }, i) => {
        const where = { row: i + 1, line: info.lines };
        const parsed = schema.safeParse(toInput(record));
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          report.errors.push({ ...where, field: issue.path.map(String).join('.'), message: issue.message });
          return;
        }
        try {
          ipam.write(() => kind === 'subnets'
            ? ipam.createSubnet(parsed.data as SubnetCreate, actor)
            : ipam.createAddress(parsed.data as AddressCreate, actor));
          report.valid += 1;
        } catch (e) {
          if (!(e instanceof LanscapeError)) throw e;
          report.errors.push({ ...where, message: e.message });
        }
      });
      if (dryRun || report.errors.length > 0) throw new Rollback();
      report.applied = true;
    });
  } catch (e) {
    if (!(e instanceof Rollback)) throw e;
  }
  return report;
}

function checkHeader(kind: CsvKind, header: string[]): string[] {
  const names = header.map((h) => h.trim());
  const duplicate = names.find((h, i) => names.indexOf(h) !== i);
  if (duplicate) throw new LanscapeError(400, 'invalid_csv', `the column ${duplicate} appears twice`);
  const unknown = names.filter((h) => !COLUMNS[kind].includes(h) && !EXPORT_ONLY.includes(h));
  if (unknown.length > 0) {
    throw new LanscapeError(400, 'invalid_csv', `unknown column(s) ${unknown.join(', ')}; ${kind} take ${COLUMNS[kind].join(', ')}`);
  }
  if (!names.includes(REQUIRED[kind])) throw new LanscapeError(400, 'invalid_csv', `the column ${REQUIRED[kind]} is required`);
  return names;
}

function toInput(record: Record<string, string>): Record<string, unknown> {
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
  const text = value === null || value === undefined ? '' : Array.isArray(value) ? value.join(TAG_SEPARATOR) : String(value);
  return needsApostrophe(text) ? `'${text}` : text;
}

/** Undoes safeCell on import, so an exported file imports back unchanged. */
export function unescapeCell(text: string): string {
  return text.startsWith("'") && needsApostrophe(text.slice(1)) ? text.slice(1) : text;
}

export function exportCsv(ipam: IpamService, kind: CsvKind, subnetId?: number): string {
  const columns = [...COLUMNS[kind], 'id', 'created_at', 'updated_at'];
  const rows: Record<string, unknown>[] = [];
  const PAGE = 1000;
  for (let offset = 0; ; offset += PAGE) {
    const page = kind === 'subnets'
      ? ipam.listSubnets({}, PAGE, offset)
      : ipam.listAddresses({ subnet_id: subnetId }, PAGE, offset);
    rows.push(...(page.results as unknown as Record<string, unknown>[]));
    if (page.results.length < PAGE) break;
  }
  // Quote cells with spaces at either end, so readers that trim unquoted cells keep them too.
  return stringify(rows.map((r) => columns.map((c) => safeCell(r[c]))), { header: true, columns, quoted_match: /^\s|\s$/ });
}
