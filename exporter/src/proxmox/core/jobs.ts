// The VM creation job as a state machine over named steps. Pure: every transition takes the
// time and returns a new job, so the runner, the store and the tests share one definition of
// what "running", "progress" and "failed" mean.
import { createHash } from 'node:crypto';
import type { VmRequest } from './plan.js';

export const JOB_STATES = ['queued', 'running', 'done', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const STEP_STATES = ['pending', 'running', 'done', 'failed', 'skipped'] as const;
export type StepState = (typeof STEP_STATES)[number];
export const STEP_NAMES = [
  'reserve_address',
  'allocate_vmid',
  'create',
  'clone',
  'configure',
  'start',
  'assign_address',
  'cleanup',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface Step {
  name: StepName;
  state: StepState;
  started_at: string | null;
  finished_at: string | null;
  upid?: string;
  message?: string;
}

export interface JobProgress {
  state: JobState;
  steps: Step[];
  progress: number;
  error?: string;
}

/** The steps a request will go through, in order. */
export function plannedSteps(request: Pick<VmRequest, 'clone' | 'start'>): Step[] {
  const names: StepName[] = [
    'reserve_address',
    'allocate_vmid',
    request.clone ? 'clone' : 'create',
    'configure',
    ...(request.start ? ['start' as const] : []),
    'assign_address',
  ];
  return names.map((name) => ({ name, state: 'pending', started_at: null, finished_at: null }));
}

export function newJob(request: Pick<VmRequest, 'clone' | 'start'>): JobProgress {
  return { state: 'queued', steps: plannedSteps(request), progress: 0 };
}

function update(job: JobProgress, name: StepName, change: (s: Step) => Step): JobProgress {
  let found = false;
  const steps = job.steps.map((s) => {
    if (s.name !== name) return s;
    found = true;
    return change(s);
  });
  if (!found) throw new Error(`job has no step ${name}`);
  return withProgress({ ...job, steps });
}

/** Done steps count 1, a running one ½; skipped and cleanup steps are not part of the plan's progress. */
export function progressOf(steps: readonly Step[], state: JobState): number {
  if (state === 'done') return 1;
  const planned = steps.filter((s) => s.name !== 'cleanup' && s.state !== 'skipped');
  if (planned.length === 0) return 0;
  const done =
    planned.filter((s) => s.state === 'done').length + planned.filter((s) => s.state === 'running').length / 2;
  return Math.round((done / planned.length) * 1000) / 1000;
}

function withProgress(job: JobProgress): JobProgress {
  return { ...job, progress: progressOf(job.steps, job.state) };
}

export function startStep(job: JobProgress, name: StepName, now: string): JobProgress {
  if (job.state === 'done' || job.state === 'failed') throw new Error('the job has finished');
  const s = job.steps.find((x) => x.name === name);
  if (s && s.state !== 'pending') throw new Error(`step ${name} is ${s.state}`);
  return update({ ...job, state: 'running' }, name, (x) => ({ ...x, state: 'running', started_at: now }));
}

export function setUpid(job: JobProgress, name: StepName, upid: string): JobProgress {
  return update(job, name, (s) => ({ ...s, upid }));
}

export function finishStep(job: JobProgress, name: StepName, now: string, message?: string): JobProgress {
  return update(job, name, (s) => {
    if (s.state !== 'running') throw new Error(`step ${name} is ${s.state}, not running`);
    return { ...s, state: 'done', finished_at: now, ...(message ? { message } : {}) };
  });
}

/** A step failed: the steps after it will not run. The job stays running until cleanup ends it. */
export function failStep(job: JobProgress, name: StepName, now: string, message: string): JobProgress {
  const failed = update(job, name, (s) => ({
    ...s,
    state: 'failed',
    started_at: s.started_at ?? now,
    finished_at: now,
    message,
  }));
  return withProgress({
    ...failed,
    steps: failed.steps.map((s) => (s.state === 'pending' ? { ...s, state: 'skipped' } : s)),
  });
}

/** Appends the cleanup step (running) after a failure. */
export function startCleanup(job: JobProgress, now: string): JobProgress {
  return withProgress({
    ...job,
    steps: [...job.steps, { name: 'cleanup', state: 'running', started_at: now, finished_at: null }],
  });
}

export function succeed(job: JobProgress): JobProgress {
  const open = job.steps.find((s) => s.state !== 'done');
  if (open) throw new Error(`step ${open.name} is ${open.state}`);
  return withProgress({ ...job, state: 'done' });
}

export function fail(job: JobProgress, error: string, now: string): JobProgress {
  // Anything still open (a running step cut short by a stop) ends as failed, pending ones as skipped.
  const steps = job.steps.map((s): Step =>
    s.state === 'running'
      ? { ...s, state: 'failed', finished_at: now, message: s.message ?? error }
      : s.state === 'pending'
        ? { ...s, state: 'skipped' }
        : s,
  );
  return withProgress({ ...job, steps, state: 'failed', error });
}

/** The failed step, if any (for the error message). */
export function failedStep(job: JobProgress): Step | undefined {
  return job.steps.find((s) => s.state === 'failed');
}

/** Same request ⇔ same hash, whatever the key order of the JSON the client sent. */
export function requestHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
