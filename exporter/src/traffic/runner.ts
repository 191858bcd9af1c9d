// Runs one traffic test: optionally a one-off iperf3 server on the target, then the iperf3
// client on the source, both over SSH. Three clocks bound it: the remote `timeout` (test
// duration + grace, then KILL 5 s later), a local timer a little after that which closes the
// connection, and the caller's abort signal (exporter stop). A busy server is retried with
// back-off.
import { systemClock } from '../clock.js';
import {
  type ClientParams,
  KILL_AFTER_SECONDS,
  iperfClientArgv,
  iperfServerArgv,
  remoteCommand,
} from './core/command.js';
import { type TrafficResult, cleanMessage, parseIperfJson } from './core/iperf.js';
import { BUSY_BACKOFF_MS } from './core/schedule.js';
import type { RunningCommand, SshSession } from './ssh.js';

export interface RunPlan extends ClientParams {
  source: string;
  target: string;
  /** Start `iperf3 -s -1` on the target first; bind it to the target address when that is an IP. */
  startServer: { bindAddress: string | null } | null;
  graceSeconds: number;
}

export interface RunDeps {
  connectSource(): Promise<SshSession>;
  connectTarget(): Promise<SshSession>;
  onProgress(progress: number): void;
  signal: AbortSignal;
  now?: () => number;
  /** How long a started server may take to say it listens (default 10 s). */
  serverReadyMs?: number;
  /** Local timer beyond the remote timeout and its kill grace (default 10 s). */
  localMarginMs?: number;
  backoffMs?: readonly number[];
  /** Told before each wait for a busy server (logging). */
  onBusy?(attempt: number, waitMs: number): void;
}

export type RunOutcome = { ok: true; result: TrafficResult } | { ok: false; error: string };

const fail = (error: string): RunOutcome => ({ ok: false, error });

export async function runTrafficTest(plan: RunPlan, deps: RunDeps): Promise<RunOutcome> {
  const now = deps.now ?? systemClock;
  const remoteSeconds = plan.durationSeconds + plan.graceSeconds;
  // Built before anything connects: a value the builder refuses means nothing runs.
  let clientCommand: string;
  let serverCommand: string | null = null;
  try {
    clientCommand = remoteCommand(iperfClientArgv(plan), remoteSeconds);
    if (plan.startServer) {
      // The server outlives the client's busy retries and start-up; -1 ends it after one test.
      const backoff = (deps.backoffMs ?? BUSY_BACKOFF_MS).reduce((a, b) => a + b, 0) / 1000;
      serverCommand = remoteCommand(
        iperfServerArgv(plan.port, plan.startServer.bindAddress),
        remoteSeconds + Math.ceil(backoff) + 30,
      );
    }
  } catch (e) {
    return fail(`refused to build the iperf3 command: ${(e as Error).message}`);
  }

  const sessions: SshSession[] = [];
  let server: RunningCommand | undefined;
  const stopped = () => fail('the exporter stopped during the test');
  try {
    if (deps.signal.aborted) return stopped();
    if (serverCommand) {
      let target: SshSession;
      try {
        target = await deps.connectTarget();
      } catch (e) {
        return fail(`cannot start the iperf3 server: ${(e as Error).message}`);
      }
      sessions.push(target);
      const started = await startServer(target, serverCommand, plan, deps.serverReadyMs ?? 10_000);
      if (!started.ok) return started;
      server = started.server;
    }
    let source: SshSession;
    try {
      source = await deps.connectSource();
    } catch (e) {
      return fail((e as Error).message);
    }
    sessions.push(source);
    const backoff = deps.backoffMs ?? BUSY_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      if (deps.signal.aborted) return stopped();
      const outcome = await runClient(source, clientCommand, plan, deps, now);
      if (outcome.ok || !outcome.busy) return outcome.ok ? outcome : fail(outcome.error);
      const wait = backoff[attempt - 1];
      if (wait === undefined) {
        return fail(`${outcome.error} (${attempt} tries over ${backoff.reduce((a, b) => a + b, 0) / 1000} s)`);
      }
      deps.onProgress(0);
      deps.onBusy?.(attempt, wait);
      if (!(await sleep(wait, deps.signal))) return stopped();
    }
  } finally {
    server?.stop();
    for (const s of sessions) s.close();
  }
}

async function startServer(
  target: SshSession,
  command: string,
  plan: RunPlan,
  readyMs: number,
): Promise<{ ok: true; server: RunningCommand } | { ok: false; error: string }> {
  let out = '';
  let onListening: () => void = () => {};
  const listening = new Promise<void>((resolve) => {
    onListening = resolve;
  });
  let server: RunningCommand;
  try {
    server = await target.exec(command, {
      maxBytes: 1 << 20,
      onStdout: (d) => {
        out += d;
        if (/Server listening on/.test(out)) onListening();
      },
    });
  } catch (e) {
    return { ok: false, error: `cannot start the iperf3 server: ${(e as Error).message}` };
  }
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    listening.then(() => 'ready' as const),
    server.done.then((r) => r),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), readyMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'ready') return { ok: true, server };
  server.stop();
  if (outcome === 'timeout')
    return {
      ok: false,
      error: `the iperf3 server on ${plan.target} did not start listening within ${readyMs / 1000} s`,
    };
  const why = cleanMessage(`${outcome.stderr} ${outcome.stdout}`) || `exit code ${outcome.code}`;
  return { ok: false, error: `the iperf3 server on ${plan.target} did not start: ${why}` };
}

async function runClient(
  source: SshSession,
  command: string,
  plan: RunPlan,
  deps: RunDeps,
  now: () => number,
): Promise<{ ok: true; result: TrafficResult } | { ok: false; error: string; busy: boolean }> {
  const remoteSeconds = plan.durationSeconds + plan.graceSeconds;
  const localMs = (remoteSeconds + KILL_AFTER_SECONDS) * 1000 + (deps.localMarginMs ?? 10_000);
  let cmd: RunningCommand;
  try {
    cmd = await source.exec(command);
  } catch (e) {
    return { ok: false, error: (e as Error).message, busy: false };
  }
  const started = now();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    cmd.stop();
    source.close();
  }, localMs);
  const progress = setInterval(
    () => deps.onProgress(Math.min(0.99, (now() - started) / 1000 / plan.durationSeconds)),
    500,
  );
  const onAbort = () => cmd.stop();
  deps.signal.addEventListener('abort', onAbort, { once: true });
  let res;
  try {
    res = await cmd.done;
  } finally {
    clearTimeout(timer);
    clearInterval(progress);
    deps.signal.removeEventListener('abort', onAbort);
  }
  if (deps.signal.aborted) return { ok: false, error: 'the exporter stopped during the test', busy: false };
  if (timedOut) {
    return {
      ok: false,
      busy: false,
      error: `no result from ${plan.source} within ${Math.round(localMs / 1000)} s; the connection was closed (the remote timeout ends iperf3)`,
    };
  }
  if (res.code === null && res.signal === null && !res.stdout.trim()) {
    return { ok: false, busy: false, error: `the SSH connection to ${plan.source} was lost during the test` };
  }
  if (res.code === 124 || res.code === 137) {
    const parsed = parseIperfJson(res.stdout, plan.protocol);
    const detail = !parsed.ok && parsed.error.startsWith('iperf3:') ? ` (${parsed.error})` : '';
    return {
      ok: false,
      busy: false,
      error: `iperf3 on ${plan.source} did not finish within ${remoteSeconds} s and was stopped by the remote timeout${detail}`,
    };
  }
  if (res.code === 127 || res.code === 126) {
    return {
      ok: false,
      busy: false,
      error: `cannot run iperf3 on ${plan.source} (is it installed, with coreutils timeout?): ${cleanMessage(res.stderr) || `exit code ${res.code}`}`,
    };
  }
  const parsed = parseIperfJson(res.stdout, plan.protocol);
  if (parsed.ok) return parsed;
  if (parsed.busy) return parsed;
  if (/unable to (connect|send|receive)|connection refused|no route|timed out|unreachable/i.test(parsed.error)) {
    return {
      ok: false,
      busy: false,
      error: `iperf3 on ${plan.source} could not test against ${plan.targetAddress}:${plan.port}: ${parsed.error}`,
    };
  }
  const stderr = cleanMessage(res.stderr);
  return { ok: false, busy: false, error: stderr && !res.stdout.trim() ? `${parsed.error}: ${stderr}` : parsed.error };
}

/** Resolves true after `ms`, or false at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
