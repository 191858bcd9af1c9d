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
  subnets: ['cidr', 'name', 'description', 'vlan', 'gateway', 'tags', 'scan_enabled'],
  addresses: ['address', 'state', 'hostname', 'mac', 'description', 'owner', 'tags', 'source'],
};
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
    records = parse(text, { columns: true, bom: true, skip_empty_lines: true, trim: true, info: true, max_record_size: 65536 });
  } catch (e) {
    throw new LanscapeError(400, 'invalid_csv', `the CSV cannot be read: ${(e as Error).message}`);
  }
  const header = records[0] ? Object.keys(records[0].record) : [];
  const unknown = header.filter((h) => !COLUMNS[kind].includes(h));
  if (records.length > 0 && (unknown.length > 0 || !header.includes(REQUIRED[kind]))) {
    throw new LanscapeError(400, 'invalid_csv', unknown.length
      ? `unknown column(s) ${unknown.join(', ')}; ${kind} take ${COLUMNS[kind].join(', ')}`
      : `the column ${REQUIRED[kind]} is required`);
  }
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

function toInput(record: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === '') continue;
    if (key === 'tags') out.tags = value.split(TAG_SEPARATOR).map((t) => t.trim()).filter(Boolean);
    else if (key === 'vlan') out.vlan = /^\d+$/.test(value) ? Number(value) : value;
    else if (key === 'scan_enabled') out.scan_enabled = value === 'true' ? true : value === 'false' ? false : value;
    else out[key] = value;
  }
  return out;
}

/** Cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP CSV injection). */
function safeCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : Array.isArray(value) ? value.join(TAG_SEPARATOR) : String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
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
  return stringify(rows.map((r) => columns.map((c) => safeCell(r[c]))), { header: true, columns });
}
