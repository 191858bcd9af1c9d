// Many rows in few statements: multi-row VALUES in chunks of 128, 64 or 32 rows, and what is left
// below 32 in one statement of its size (a few dozen statement texts per table, each prepared
// once), instead of one statement per row. On PostgreSQL every statement is a round trip; one per
// row made a 20,000-row CSV import take a minute, and a combined allocation of 23 addresses took
// four (16 + 4 + 2 + 1) for its addresses and four more for its audit entries.
import type { SqlExec } from './sql-exec.js';

const MAX_ROWS = 128;
/** Rows left at most this many go in one statement of their own size. */
const EXACT_ROWS = 32;
const TEXTS = new Map<string, string>();

export interface InsertOptions {
  /** e.g. `id, ip_key`: resolve with those columns of every row. */
  returning?: string;
  /** An upsert's clause, e.g. `ON CONFLICT (k) DO UPDATE SET v = excluded.v` (no two rows may share a key). */
  onConflict?: string;
}

/**
 * Inserts `rows` (each `columns.length` values, in order) into `table`; with `returning`,
 * resolves with those columns of every row — in no promised order (neither backend promises one
 * for a multi-row RETURNING): match them by a key.
 */
export async function insertRows<R = never>(
  exec: SqlExec,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  { returning = '', onConflict = '' }: InsertOptions = {},
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < rows.length;) {
    const left = rows.length - i;
    let n = left <= EXACT_ROWS ? left : MAX_ROWS;
    while (n > left) n >>= 1;
    const text = textOf(table, columns, n, returning, onConflict);
    const params = rows.slice(i, i + n).flat();
    if (returning) out.push(...(await exec.all<R>(text, params)));
    else await exec.run(text, params);
    i += n;
  }
  return out;
}

function textOf(table: string, columns: readonly string[], n: number, returning: string, onConflict: string): string {
  const key = `${table}|${columns.join(',')}|${n}|${returning}|${onConflict}`;
  let text = TEXTS.get(key);
  if (!text) {
    const one = `(${columns.map(() => '?').join(', ')})`;
    text = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from({ length: n }, () => one).join(', ')}${
      onConflict ? ` ${onConflict}` : ''
    }${returning ? ` RETURNING ${returning}` : ''}`;
    TEXTS.set(key, text);
  }
  return text;
}
