// CSV import in slices: the file is read and checked a slice at a time, then stored in short
// transactions through the WriteBatcher, so even the largest import (100,000 rows) never holds
// the event loop for long. All or nothing as the user sees it:
//
//   1. validate: every row against the schema and the store (read only), in-file duplicates in
//      memory; any invalid row ends the import with every row's error and nothing stored;
//   2. apply: the rows in slices of SLICE_MS, each one transaction that also journals the ids it
//      created in `meta` (import_job:<id>:<slice>); the last slice drops the journal;
//   3. compensate: when a slice fails because the store changed since step 1, what earlier
//      slices created is deleted again (audited) and the import ends failed. A job cut short by
//      a stop or a crash is compensated from its journal at the next start (recoverImports).
//
// Others may see a partial import while it applies. Small files (≤ SYNC_MAX_ROWS) keep the old
// synchronous answer (200 report / 422 with the errors): the request waits for its job.
// Larger files, or ?async=true, answer 202 with the job to poll (GET /import-jobs/{id}).
import { ImportJournalStore } from '../store/import-journal.js';
import { Parser } from 'csv-parse';
import type { Logger } from 'pino';
import type { Actor } from '../audit/log.js';
import { type Clock, isoNow, systemClock } from '../clock.js';
import { LanscapeError, notFound } from '../errors.js';

import type { Writes } from '../store/write-batcher.js';
import type { SqlDialect } from '../store/sql-exec.js';
import { type IP, ipKey, parseIp } from './core/ip.js';
import { CSV_KINDS, type CsvKind, type ImportReport, MAX_ROWS, checkHeader, toInput, withVrfId } from './csv.js';
import { GLOBAL_VRF_ID } from './core/vrf.js';
import type { ImportJobView } from './csv-schemas.js';
import { AddressCreate, SubnetCreate } from './schemas.js';
import { BatchInputError, type IpamService, SLICE_MS } from './service.js';

/** Up to this many rows an import answers synchronously (200/422) unless ?async=true. */
export const SYNC_MAX_ROWS = 1000;
/** Import jobs running at once; one more is 429 with Retry-After. */
export const MAX_RUNNING_IMPORTS = 2;
const RETRY_AFTER_SECONDS = 5;
/** Finished jobs kept for polling (oldest dropped first); jobs live in memory only. */
const KEEP_FINISHED = 100;
/** Row errors a job keeps (error_count has them all). */
const MAX_JOB_ERRORS = 1000;
/** Bytes of CSV handed to the parser at a time; the loop is let go once a slice's time is up. */
const PARSE_PIECE_BYTES = 16 * 1024;
/** Share of the progress bar for the validation pass of an import that applies. */
const VALIDATE_SHARE = 0.3;
const JOURNAL = 'import_job:';
/** Rows validated per address lookup. */
const VALIDATE_BATCH = 512;
/**
 * Address rows stored per statement batch while applying. SQLite runs a batch synchronously (it
 * holds the event loop, so small); on PostgreSQL a batch is a dozen round trips whatever its
 * size and the loop serves others while they travel, so large (32 rows took 17 ms a batch there,
 * 512 rows 73 ms: a 20,000-row import went from 18 s to 4 s).
 */
const ADDRESS_BATCH: Record<SqlDialect, number> = { sqlite: 32, postgres: 512 };

type RowError = ImportReport['errors'][number];
interface CsvRow {
  row: number;
  line: number;
  input: Record<string, unknown>;
}
type ValidRow = { row: number; line: number; data: SubnetCreate | AddressCreate };

export type ImportJobState = 'queued' | 'running' | 'done' | 'failed';

export type { ImportJobView } from './csv-schemas.js';

interface Job {
  view: ImportJobView;
  actor: Actor;
  /** The file, read again by each pass (dropped when the job ends). */
  text: string;
  done: Promise<void>;
}

class Interrupted extends Error {}

/** A row that passed validation but could not be stored: the store changed in between. */
class RowFailed extends Error {
  constructor(
    readonly row: { row: number; line: number },
    readonly error: LanscapeError,
  ) {
    super(error.message);
  }
}

/**
 * Reads CSV text a piece at a time into rows of API input, synchronously, so each piece can be
 * one slice of work in the write batch. Rows are handed out as they are parsed and not kept: a
 * job reads its text once to check it and once more to store it, so a 100,000-row file never
 * sits in memory as 100,000 objects (young-generation GCs that copied them held the event loop
 * for 100+ ms). A bad header or unreadable CSV is 400.
 */
class CsvReader {
  private readonly api: CsvParseApi;
  private readonly data: Buffer;
  private offset = 0;
  private rows: CsvRow[] = [];
  private head = 0;
  private done = false;
  /** Rows parsed so far. */
  count = 0;

  constructor(
    kind: CsvKind,
    text: string,
    private readonly keep = true,
  ) {
    this.data = Buffer.from(text, 'utf8');
    // csv-parse's incremental parser, as its own stream and sync entry points drive it: the
    // stream would hand records over only on later ticks, this takes them in the same call.
    const { api } = new Parser({
      // No trim: a cell is taken exactly as written, like a JSON string. Free text keeps its
      // spaces (so an export imports back unchanged) and " 10.0.0.0/24" is refused as the API does.
      columns: (header: string[]) => checkHeader(kind, header),
      bom: true,
      skip_empty_lines: true,
      info: true,
      max_record_size: 65536,
    }) as unknown as { api?: CsvParseApi };
    if (typeof api?.parse !== 'function') throw new Error('csv-parse has no incremental parser (Parser.api.parse)');
    this.api = api;
  }

  /** The next parsed row, if one is waiting. */
  take(): CsvRow | undefined {
    if (this.head < this.rows.length) return this.rows[this.head++];
    if (this.head > 0) {
      this.rows = [];
      this.head = 0;
    }
    return undefined;
  }

  /** Gives back rows taken by a slice whose transaction is run again (PostgreSQL retries a write). */
  unread(rows: readonly CsvRow[]): void {
    if (rows.length === 0) return;
    this.rows = [...rows, ...this.rows.slice(this.head)];
    this.head = 0;
  }

  /** Parses the next piece; false once the text is done. */
  more(): boolean {
    if (this.done) return false;
    const piece =
      this.offset < this.data.length ? this.data.subarray(this.offset, this.offset + PARSE_PIECE_BYTES) : undefined;
    this.offset += piece?.length ?? 0;
    if (!piece) this.done = true;
    const error = this.api.parse(
      piece,
      !piece,
      (r) => {
        this.count += 1;
        if (this.keep) this.rows.push({ row: this.count, line: r.info.lines, input: toInput(r.record) });
      },
      () => undefined,
    );
    if (error !== undefined) {
      this.done = true;
      if (error instanceof LanscapeError) throw error;
      throw new LanscapeError(400, 'invalid_csv', `the CSV cannot be read: ${error.message}`);
    }
    return true;
  }
}

interface CsvParseApi {
  parse(
    piece: Buffer | undefined,
    end: boolean,
    push: (r: { record: Record<string, string>; info: { lines: number } }) => void,
    close: () => void,
  ): Error | undefined;
}

/** Import jobs: start, poll, stop; the journal of the slices applied; recovery after a crash. */
export class CsvImports {
  private readonly jobs = new Map<number, Job>();
  private lastId = 0;
  private stopping = false;
  private readonly journal: ImportJournalStore;
  /** Test hook: runs before each apply slice, outside any transaction (simulate concurrent writes). */
  beforeApplySlice: ((job: ImportJobView) => void | Promise<void>) | undefined;

  constructor(
    private readonly ipam: IpamService,
    private readonly writes: Writes,
    private readonly logger?: Logger,
    private readonly clock: Clock = systemClock,
    private readonly maxRunning = MAX_RUNNING_IMPORTS,
  ) {
    this.journal = new ImportJournalStore(ipam.store);
  }

  get running(): number {
    let n = 0;
    for (const j of this.jobs.values()) if (j.view.state === 'queued' || j.view.state === 'running') n += 1;
    return n;
  }

  /** Starts an import job over CSV text of `rows` rows (see count); 429 while MAX_RUNNING_IMPORTS jobs run. */
  start(kind: CsvKind, text: string, rows: number, dryRun: boolean, actor: Actor): ImportJobView {
    if (this.stopping) throw new LanscapeError(503, 'stopping', 'the exporter is stopping');
    if (this.running >= this.maxRunning) {
      throw new LanscapeError(
        429,
        'rate_limited',
        `${this.maxRunning} import(s) are already running; retry in ${RETRY_AFTER_SECONDS} s`,
        { retry_after_seconds: RETRY_AFTER_SECONDS, running: this.running },
      );
    }
    // Ids from the clock (ms), strictly increasing: no id seen before a restart comes back after it.
    const id = Math.max(this.lastId + 1, this.clock());
    this.lastId = id;
    const view: ImportJobView = {
      id,
      kind,
      state: 'queued',
      phase: null,
      progress: 0,
      dry_run: dryRun,
      applied: false,
      rows,
      valid: 0,
      checked: 0,
      stored: 0,
      errors: [],
      error_count: 0,
      created_at: this.now(),
      started_at: null,
      finished_at: null,
    };
    const job: Job = { view, actor, text, done: Promise.resolve() };
    job.done = this.execute(job).catch((e: unknown) => {
      this.finish(job, 'failed', `internal error: ${(e as Error).message}`);
      this.logger?.error({ err: e, job: id }, 'import job failed');
    });
    this.jobs.set(id, job);
    this.prune();
    return this.get(id);
  }

  get(id: number): ImportJobView {
    const job = this.jobs.get(id);
    if (!job) throw notFound('import job', id);
    return { ...job.view, errors: job.view.errors.slice() };
  }

  /** Resolves when the job has ended (done or failed). */
  async wait(id: number): Promise<ImportJobView> {
    await this.jobs.get(id)?.done;
    return this.get(id);
  }

  /**
   * Stops every job at its next slice. A job stopped while applying keeps its journal, so the
   * next start compensates it (recoverImports); nothing is left half-applied for good.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }

  private now(): string {
    return isoNow(this.clock);
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.view.finished_at !== null);
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(j.view.id);
  }

  private finish(job: Job, state: 'done' | 'failed', error?: string): void {
    Object.assign(job.view, { state, phase: null, finished_at: this.now(), ...(error ? { error } : {}) });
    if (state === 'done') job.view.progress = 1;
    job.text = ''; // the file is not needed any more
    this.prune();
  }

  private addError(job: Job, error: RowError): void {
    job.view.error_count += 1;
    if (job.view.errors.length < MAX_JOB_ERRORS) job.view.errors.push(error);
  }

  /** VRF ids by name, for the rows' `vrf` cells. */
  private async vrfIds(): Promise<Map<string, number>> {
    return new Map((await this.ipam.allVrfs()).map((v) => [v.name, v.id]));
  }

  private async execute(job: Job): Promise<void> {
    const { view } = job;
    Object.assign(view, { state: 'running', phase: 'validating', started_at: this.now() });
    const valid = await this.validate(job);
    if (valid === undefined) return;
    view.valid = valid;
    if (view.dry_run) {
      this.finish(job, 'done');
      return;
    }
    if (view.error_count > 0) {
      this.finish(job, 'failed', `${view.error_count} of ${view.rows} row(s) are invalid; nothing was stored`);
      return;
    }
    await this.apply(job);
  }

  /**
   * Checks that CSV text can be read (header, quoting, row lengths) and counts its rows, a slice
   * at a time through the write batch (so with every other slice of work under one budget per
   * turn of the event loop); keeps none of them. 400 when unreadable, 413 beyond MAX_ROWS rows.
   */
  async count(kind: CsvKind, text: string): Promise<number> {
    const reader = new CsvReader(kind, text, false);
    while (await this.writes.run(() => sliced(() => reader.more()))) {
      if (reader.count > MAX_ROWS)
        throw new LanscapeError(413, 'too_many_rows', `import at most ${MAX_ROWS} rows at a time`);
    }
    if (reader.count > MAX_ROWS)
      throw new LanscapeError(413, 'too_many_rows', `import at most ${MAX_ROWS} rows at a time`);
    return reader.count;
  }

  /**
   * Pass 1: every row checked, nothing written, in slices through the write batch (read only).
   * The number of valid rows; undefined when the job was stopped.
   */
  private async validate(job: Job): Promise<number | undefined> {
    const { view } = job;
    const reader = new CsvReader(view.kind, job.text);
    const seen = new Map<string, number>();
    const vrfIds = await this.vrfIds();
    const share = view.dry_run ? 1 : VALIDATE_SHARE;
    let valid = 0;
    let more = true;
    while (more) {
      if (this.stopping) {
        this.finish(job, 'failed', 'the exporter stopped before the import was checked; nothing was stored');
        return undefined;
      }
      more = await this.writes.run(() =>
        slicedAsync(async () => {
          // Addresses a few hundred at a time (one lookup of what exists for all of them), subnets one by one.
          const size = view.kind === 'subnets' ? 1 : VALIDATE_BATCH;
          const group: CsvRow[] = [];
          while (group.length < size) {
            const r = reader.take();
            if (r) group.push(r);
            else if (!reader.more()) break;
          }
          if (group.length === 0) return false;
          for (const checked of await this.checkGroup(view.kind, group, seen, vrfIds)) {
            if ('message' in checked) this.addError(job, checked);
            else valid += 1;
            view.checked += 1;
          }
          return true;
        }),
      );
      view.progress = share * Math.min(1, view.checked / Math.max(1, view.rows));
    }
    view.progress = share;
    return valid;
  }

  /** Rows in file order: each one's error or validated input (check(), with the address lookups batched). */
  private async checkGroup(
    kind: CsvKind,
    given: readonly CsvRow[],
    seen: Map<string, number>,
    vrfIds: ReadonlyMap<string, number>,
  ) {
    // The `vrf` cell (a name) as vrf_id first: an unknown VRF is the row's error.
    const rows = given.map((r): CsvRow | RowError => {
      const input = withVrfId(r.input, vrfIds);
      return typeof input === 'string' ? { row: r.row, line: r.line, field: 'vrf', message: input } : { ...r, input };
    });
    if (kind === 'subnets') {
      const out: (ValidRow | RowError)[] = [];
      for (const r of rows) out.push('message' in r ? r : await this.check(kind, r, seen));
      return out;
    }
    type Parsed =
      | { kind: 'invalid'; r: CsvRow | RowError; error: RowError }
      | { kind: 'address'; r: CsvRow; data: AddressCreate; ip: IP };
    const parsed = rows.map((r): Parsed => {
      if ('message' in r) return { kind: 'invalid', r, error: r };
      const where = { row: r.row, line: r.line };
      const p = AddressCreate.safeParse(r.input);
      if (!p.success) {
        const issue = p.error.issues[0]!;
        return {
          kind: 'invalid',
          r,
          error: { ...where, field: issue.path.map(String).join('.'), message: issue.message },
        };
      }
      try {
        return { kind: 'address', r, data: p.data, ip: parseIp(p.data.address) };
      } catch (e) {
        if (!(e instanceof LanscapeError)) throw e;
        return { kind: 'invalid', r, error: { ...where, message: e.message } };
      }
    });
    const verdicts = await this.ipam.checkNewAddresses(
      parsed.flatMap((x) => (x.kind === 'address' ? [{ vrf: x.data.vrf_id ?? GLOBAL_VRF_ID, ip: x.ip }] : [])),
    );
    let next = 0;
    return parsed.map((x): ValidRow | RowError => {
      if (x.kind === 'invalid') return x.error;
      const where = { row: x.r.row, line: x.r.line };
      const verdict = verdicts[next++]!;
      if (verdict instanceof LanscapeError) return { ...where, message: verdict.message };
      const key = `${x.data.vrf_id ?? GLOBAL_VRF_ID}/${ipKey(x.ip).toString('latin1')}`;
      const first = seen.get(key);
      if (first !== undefined)
        return { ...where, message: `${x.data.address} already exists in row ${first} of this file` };
      seen.set(key, x.r.row);
      return { ...where, data: x.data };
    });
  }

  /** One row: its error, or the validated input. Records the row's key in `seen` (in-file duplicates). */
  private async check(kind: CsvKind, r: CsvRow, seen: Map<string, number>): Promise<ValidRow | RowError> {
    const where = { row: r.row, line: r.line };
    const parsed = (kind === 'subnets' ? SubnetCreate : AddressCreate).safeParse(r.input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { ...where, field: issue.path.map(String).join('.'), message: issue.message };
    }
    try {
      let key: string;
      let what: string;
      if (kind === 'subnets') {
        const { vrf, cidr } = await this.ipam.checkNewSubnet(parsed.data as SubnetCreate);
        key = `${vrf}/${cidr}`;
        what = `subnet ${cidr}`;
      } else {
        const ip = parseIp((parsed.data as AddressCreate).address);
        const vrf = await this.ipam.vrfIdOf((parsed.data as AddressCreate).vrf_id);
        await this.ipam.checkNewAddress(vrf, ip);
        key = `${vrf}/${ipKey(ip).toString('latin1')}`;
        what = (parsed.data as AddressCreate).address;
      }
      const first = seen.get(key);
      if (first !== undefined) return { ...where, message: `${what} already exists in row ${first} of this file` };
      seen.set(key, r.row);
    } catch (e) {
      if (!(e instanceof LanscapeError)) throw e;
      return { ...where, message: e.message };
    }
    return { ...where, data: parsed.data };
  }

  /** Pass 2: store the rows in slices, journalled; compensate when a slice fails. */
  private async apply(job: Job): Promise<void> {
    const { view, actor } = job;
    view.phase = 'applying';
    const reader = new CsvReader(view.kind, job.text);
    const created: number[] = [];
    const vrfIds = await this.vrfIds();
    let slice = 0;
    let complete = false;
    /** Rows the slice being stored took from the reader (given back when its transaction runs again). */
    let taken: CsvRow[] = [];
    try {
      while (!complete) {
        if (this.stopping) throw new Interrupted();
        await this.beforeApplySlice?.(this.get(view.id));
        taken = [];
        const ids = await this.writes.run(async () => {
          reader.unread(taken);
          taken = [];
          complete = false;
          const out: number[] = [];
          // Addresses a few at a time (their runs index is updated once per stretch), subnets one by one.
          const size = view.kind === 'subnets' ? 1 : ADDRESS_BATCH[this.ipam.store.dialect];
          await slicedAsync(async () => {
            const group: CsvRow[] = [];
            while (group.length < size) {
              const r = reader.take();
              if (r) group.push(r);
              else if (!reader.more()) break;
            }
            taken.push(...group);
            if (group.length === 0) {
              complete = true;
              return false;
            }
            try {
              const inputs = group.map((r) => parseRow(view.kind, r, vrfIds));
              if (view.kind === 'subnets')
                out.push((await this.ipam.createSubnetRecord(inputs[0] as SubnetCreate, actor)).row.id);
              else
                out.push(...(await this.ipam.createAddressRecords(inputs as AddressCreate[], actor)).map((v) => v.id));
            } catch (e) {
              if (e instanceof BatchInputError) throw new RowFailed(group[e.index]!, e.error);
              if (e instanceof RowFailed) throw e;
              if (e instanceof LanscapeError) throw new RowFailed(group[0]!, e);
              throw e;
            }
            return true;
          });
          if (complete) {
            await this.dropJournal(view.id); // the import is complete in this transaction
          } else if (out.length > 0) {
            await this.journal.insert(journalKey(view.id, slice), JSON.stringify({ kind: view.kind, actor, ids: out }));
          }
          return out;
        });
        created.push(...ids);
        slice += 1;
        view.stored = created.length;
        view.progress = VALIDATE_SHARE + (1 - VALIDATE_SHARE) * Math.min(1, created.length / Math.max(1, view.valid));
      }
    } catch (e) {
      if (e instanceof Interrupted) {
        this.finish(
          job,
          'failed',
          `the exporter stopped while the import was being stored; the ${created.length} row(s) ` +
            'stored so far are removed at its next start',
        );
        return;
      }
      // A row that no longer fits, or anything unexpected: what earlier slices stored goes again.
      if (e instanceof RowFailed) this.addError(job, { row: e.row.row, line: e.row.line, message: e.error.message });
      else this.logger?.error({ err: e, job: view.id }, 'an import failed while storing; rolling it back');
      view.phase = 'compensating';
      const kept = await this.compensate(view.kind, created, actor, view.id);
      view.stored = kept.length;
      const why =
        e instanceof RowFailed
          ? `row ${e.row.row} could not be stored: the store changed after the file was checked (${e.error.message})`
          : `storing failed (${(e as Error).message})`;
      this.finish(
        job,
        'failed',
        `${why}; the ${created.length} row(s) stored before were removed again` +
          (kept.length > 0
            ? `, except ${kept.length} subnet(s) that now hold other addresses (ids ${kept.slice(0, 20).join(', ')})`
            : ''),
      );
      return;
    }
    view.applied = true;
    this.finish(job, 'done');
  }

  /**
   * Deletes what an import created (newest first), each with its audit entry, in slices; then
   * drops the job's journal. Returns the ids of subnets kept because deleting them would now
   * orphan addresses someone else added.
   */
  private async compensate(kind: CsvKind, created: readonly number[], actor: Actor, jobId: number): Promise<number[]> {
    const ids = [...created].reverse();
    const kept: number[] = [];
    if (kind === 'addresses') {
      await this.ipam.releaseCreated(ids, actor, (fn) => this.writes.run(fn));
    } else {
      let next = 0;
      while (next < ids.length) {
        next = await this.writes.run(() =>
          deleteSubnets(this.ipam, ids, next, actor, kept, performance.now() + SLICE_MS),
        );
      }
    }
    await this.writes.run(() => this.dropJournal(jobId));
    return kept;
  }

  private dropJournal(jobId: number): Promise<void> {
    return this.journal.deleteBetween(`${JOURNAL}${jobId}:`, `${JOURNAL}${jobId};`);
  }
}

/** Deletes subnets ids[from..] until the deadline (at least one); returns where it stopped. */
async function deleteSubnets(
  ipam: IpamService,
  ids: readonly number[],
  from: number,
  actor: Actor,
  kept: number[],
  deadline: number,
): Promise<number> {
  let i = from;
  do {
    const id = ids[i]!;
    if (await ipam.subnet(id)) {
      try {
        await ipam.deleteSubnet(id, false, actor); // its own savepoint: a 409 rolls back this delete alone
      } catch (e) {
        if (!(e instanceof LanscapeError) || e.status !== 409) throw e;
        kept.push(id);
      }
    }
    i += 1;
  } while (i < ids.length && performance.now() < deadline);
  return i;
}

/** A row's input as its schema gives it (checked in pass 1; a failure here is the row's error). */
function parseRow(kind: CsvKind, r: CsvRow, vrfIds: ReadonlyMap<string, number>): SubnetCreate | AddressCreate {
  const input = withVrfId(r.input, vrfIds);
  if (typeof input === 'string') throw new RowFailed(r, new LanscapeError(422, 'validation_failed', input));
  const parsed = (kind === 'subnets' ? SubnetCreate : AddressCreate).safeParse(input);
  if (!parsed.success)
    throw new RowFailed(r, new LanscapeError(400, 'validation_failed', parsed.error.issues[0]!.message));
  return parsed.data;
}

/**
 * Runs `step` until it returns false or SLICE_MS have passed (at least once): one slice of
 * work. The result is whether there is more to do.
 */
function sliced(step: () => boolean): boolean {
  const deadline = performance.now() + SLICE_MS;
  let more: boolean;
  do more = step();
  while (more && performance.now() < deadline);
  return more;
}

/** sliced for steps that await the store (inside a write: on SQLite they finish in microtasks). */
async function slicedAsync(step: () => Promise<boolean>): Promise<boolean> {
  const deadline = performance.now() + SLICE_MS;
  let more: boolean;
  do more = await step();
  while (more && performance.now() < deadline);
  return more;
}

function journalKey(jobId: number, slice: number): string {
  return `${JOURNAL}${jobId}:${String(slice).padStart(8, '0')}`;
}

/**
 * At start, before serving: imports cut short by a stop or a crash while they were being
 * stored are rolled back from their journal (audited, as their own actor). Returns the jobs
 * compensated.
 */
export async function recoverImports(ipam: IpamService, logger?: Logger): Promise<number> {
  const journal = new ImportJournalStore(ipam.store);
  const entries = await journal.between(JOURNAL, `${JOURNAL.slice(0, -1)};`);
  const byJob = new Map<string, { kind: CsvKind; actor: Actor; ids: number[] }>();
  for (const e of entries) {
    const job = e.key.slice(JOURNAL.length).split(':')[0]!;
    let slice: { kind: CsvKind; actor: Actor; ids: number[] };
    try {
      slice = JSON.parse(e.value) as typeof slice;
      if (!CSV_KINDS.includes(slice.kind) || !Array.isArray(slice.ids) || typeof slice.actor?.name !== 'string')
        throw new Error('unexpected shape');
    } catch (err) {
      // Not ours to guess at: said loudly, then dropped so that it does not stop every start.
      logger?.error({ key: e.key, err }, 'an import journal entry cannot be read; dropped');
      await journal.delete(e.key);
      continue;
    }
    const into = byJob.get(job) ?? byJob.set(job, { kind: slice.kind, actor: slice.actor, ids: [] }).get(job)!;
    into.ids.push(...slice.ids);
  }
  for (const [job, { kind, actor, ids }] of byJob) {
    const newestFirst = [...ids].reverse();
    const kept: number[] = [];
    for (let next = 0; next < newestFirst.length;) {
      const from = next;
      next = await ipam.write(async () => {
        if (kind === 'subnets') return deleteSubnets(ipam, newestFirst, from, actor, kept, performance.now() + 50);
        let i = from;
        for (const end = Math.min(newestFirst.length, from + 1000); i < end; i += 1) {
          const row = await ipam.address(newestFirst[i]!);
          if (row) await ipam.deleteAddress(row.id, actor);
        }
        return i;
      });
    }
    await ipam.write(() => journal.deleteBetween(`${JOURNAL}${job}:`, `${JOURNAL}${job};`));

    logger?.warn(
      { job: Number(job), kind, removed: ids.length - kept.length, kept },
      'an import cut short by a stop was rolled back',
    );
  }
  return byJob.size;
}
