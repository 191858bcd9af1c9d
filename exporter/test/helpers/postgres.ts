// A throw-away PostgreSQL cluster for tests and benchmarks: initdb into a temp dir, then the
// server itself (`postgres -D`, no pg_ctl: this helper holds the postmaster's PID) listening on
// a free port of 127.0.0.1 and on a unix socket inside the temp dir, nowhere else. PostgreSQL
// refuses to run as root, so when the tests run as root (CI) initdb and the server run as the
// unprivileged `postgres` user that Debian's package creates (`nobody` when it is absent), and
// the temp dir is handed to that user. Settings suit tests: no fsync (a killed *process* loses
// nothing, only a killed machine would), small shared memory, logs in the temp dir. Commits stay
// synchronous, so a write acknowledged before `kill9()` is still there after `restart()`.
//
// stop() ends the server it started (SIGINT = fast shutdown, by its PID; SIGKILL to its process
// group if it lingers), waits until no process of it is left and removes the temp dir; an exit
// handler does the same as a safety net. kill9() / restart() crash the server and bring it back
// on the same data dir and port (for the failover tests of #14).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { freePort } from './registry.js';

/** The PostgreSQL major version CI installs (Debian bookworm's `postgresql`). */
export const PG_MAJOR = 15;
const INSTALL_HINT = 'apt-get install postgresql';

export interface TestPostgres {
  /** postgres://lanscape@127.0.0.1:PORT/postgres (trust authentication, loopback only). */
  url: string;
  /** The same database through the unix socket in the temp dir. */
  socketUrl: string;
  port: number;
  /** The temp dir: data/ (the cluster), the socket, postgres.log. */
  dir: string;
  /** The postmaster's PID (a new one after restart()). */
  pid(): number;
  /** Creates an empty database and returns its TCP URL. */
  createDatabase(name?: string): Promise<string>;
  /** The server's log so far. */
  log(): string;
  /** SIGKILL to the postmaster and every backend (its process group), as an OOM kill does; waits until all are gone. */
  kill9(): Promise<void>;
  /** Starts the server again on the same data dir and port; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Stops the server (if running) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The directory holding initdb and postgres, or undefined when PostgreSQL is not installed.
 * LANSCAPE_PG_BIN, when set, is the only place looked at.
 */
export function postgresBinDir(): string | undefined {
  const candidates = process.env.LANSCAPE_PG_BIN
    ? [process.env.LANSCAPE_PG_BIN]
    : [
        `/usr/lib/postgresql/${PG_MAJOR}/bin`,
        spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' }).stdout?.trim(),
      ];
  return candidates.find((d) => d && existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')));
}

/** Skips the test locally when PostgreSQL is missing; fails it under CI=true, like requireTool. */
export function requirePostgres(t: TestContext | undefined): string | undefined {
  const bin = postgresBinDir();
  if (bin) return bin;
  const message = `PostgreSQL ${PG_MAJOR} is not installed (${INSTALL_HINT})`;
  if (process.env.CI || !t) throw new Error(`${message}; CI must run every test`);
  t.skip(message);
  return undefined;
}

/**
 * uid/gid (and environment) to run the server as: ourselves, or an unprivileged user when we
 * are root. Under the suite's `faketime` the inherited FAKETIME_SHARED names a semaphore only
 * root may open, and libfaketime makes postgres exit when it cannot: the server keeps the
 * preload and the offset (so its clock agrees with the test clock) but not the shared state,
 * which only a start-at clock needs.
 */
function serverUser(): { uid: number; gid: number; env: NodeJS.ProcessEnv } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd.find((l) => l.startsWith(`${name}:`))?.split(':');
    if (fields) {
      const { FAKETIME_SHARED: _rootOnly, ...env } = process.env;
      return { uid: Number(fields[2]), gid: Number(fields[3]), env };
    }
  }
  throw new Error('running as root, but neither a postgres nor a nobody user exists to run PostgreSQL as');
}

/**
 * os.tmpdir(), unless the unprivileged server user could not reach a directory in it (TMPDIR
 * under /root, say): then /tmp. The socket path must also stay under the 107-byte limit.
 */
function reachableTmp(): string {
  const base = tmpdir();
  let dir = base;
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) return '/tmp';
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return base.length > 60 ? '/tmp' : base;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until no process of the group `pgid` is left (the postmaster and every backend). */
async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!alive(-pgid)) return true;
    await sleep(20);
  }
  return !alive(-pgid);
}

/**
 * The postmaster and its children. Each backend makes itself a process-group leader (postgres'
 * InitPostmasterChild calls setsid), so signalling the postmaster's group misses them; left
 * alive, they hold the shared memory and a restart fails ("pre-existing shared memory block").
 */
function serverProcesses(postmaster: number): number[] {
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid …: the comm may hold spaces and parentheses; the ppid follows the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** SIGKILL to the postmaster and every child; resolves once all are gone. */
async function killServer(postmaster: number, timeoutMs: number): Promise<boolean> {
  const pids = serverProcesses(postmaster);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* exited already */
    }
  }
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!pids.some(alive)) return true;
    await sleep(20);
  }
  return !pids.some(alive);
}

/** The settings the tests run with (appended to postgresql.conf, so a restart keeps them). */
function testSettings(port: number, dir: string): string {
  return [
    '# lanscape test cluster',
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    'unix_socket_permissions = 0777',
    'max_connections = 60',
    'shared_buffers = 64MB',
    'fsync = off',
    'full_page_writes = off',
    'synchronous_commit = on',
    'max_wal_size = 1GB',
    'checkpoint_timeout = 30min',
    "dynamic_shared_memory_type = 'posix'",
    "log_min_messages = 'warning'",
    "log_line_prefix = '%m [%p] '",
    "timezone = 'UTC'",
    'jit = off',
    '',
  ].join('\n');
}

export interface StartPostgresOptions {
  /** Extra postgresql.conf lines. */
  settings?: string[];
}

/**
 * Starts a cluster, or skips the test locally / fails it under CI=true when PostgreSQL is not
 * installed. Pass `t` = undefined outside node:test (benchmarks): a missing install then throws.
 */
export async function startPostgres(
  t: TestContext | undefined,
  options: StartPostgresOptions = {},
): Promise<TestPostgres | undefined> {
  const bin = requirePostgres(t);
  if (!bin) return undefined;
  const user = serverUser();
  const dir = mkdtempSync(join(user ? reachableTmp() : tmpdir(), 'lanscape-test-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  let child: ChildProcess | undefined;
  let stopped = false;
  const killGroup = () => {
    if (!child?.pid || !alive(child.pid)) return;
    for (const pid of serverProcesses(child.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* exited already */
      }
    }
  };
  const safetyNet = () => {
    killGroup();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', safetyNet);
  // A test process ended by a signal (a runner's timeout, ^C) runs no exit handlers: the cluster
  // (a process group of its own) would outlive it.
  const onSignal = (signal: NodeJS.Signals) => {
    safetyNet();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    if (user) {
      chownSync(dir, user.uid, user.gid);
      chmodSync(dir, 0o700);
    }
    const initdb = spawnSync(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'lanscape', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions'],
      { encoding: 'utf8', timeout: 120_000, cwd: dir, ...user },
    );
    if (initdb.status !== 0) throw new Error(`initdb failed (${initdb.status}): ${initdb.stderr}${initdb.stdout}`);
    const port = await freePort();
    appendFileSync(data + '/postgresql.conf', testSettings(port, dir) + (options.settings ?? []).join('\n') + '\n');
    const url = `postgres://lanscape@127.0.0.1:${port}/postgres`;
    const socketUrl = `postgres://lanscape@/postgres?host=${encodeURIComponent(dir)}&port=${port}`;

    const launch = async () => {
      const out = openSync(logFile, 'a', 0o666);
      if (user) chownSync(logFile, user.uid, user.gid);
      // detached: the postmaster leads its own process group, so kill9() reaches every backend.
      const proc = spawn(join(bin, 'postgres'), ['-D', data], {
        stdio: ['ignore', out, out],
        detached: true,
        cwd: dir,
        ...user,
      });
      child = proc;
      const until = Date.now() + 60_000;
      for (;;) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`postgres exited (${proc.exitCode ?? proc.signalCode}) while starting:\n${readLog()}`);
        }
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
        client.on('error', () => {});
        try {
          await client.connect();
          await client.query('SELECT 1');
          await client.end();
          return;
        } catch {
          await client.end().catch(() => {});
        }
        if (Date.now() > until) throw new Error(`postgres did not accept connections within 60 s:\n${readLog()}`);
        await sleep(50);
      }
    };
    const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
    const kill9 = async () => {
      const pid = child?.pid;
      if (!pid) return;
      if (!(await killServer(pid, 10_000))) throw new Error(`postgres (${pid}) or a backend still alive after SIGKILL`);
    };

    await launch();
    return {
      url,
      socketUrl,
      port,
      dir,
      pid: () => child?.pid ?? 0,
      log: readLog,
      async createDatabase(name = `t_${randomBytes(6).toString('hex')}`) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return url.replace(/\/postgres$/, `/${name}`);
      },
      kill9,
      async restart() {
        if (stopped) throw new Error('the cluster was stopped');
        if (child && alive(-child.pid!)) throw new Error('postgres is still running: kill9() or stop() it first');
        await launch();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        const pid = child?.pid;
        if (pid && alive(pid)) {
          process.kill(pid, 'SIGINT'); // fast shutdown: ends sessions, writes a checkpoint
          if (!(await groupGone(pid, 15_000))) await kill9();
        } else if (pid) {
          await kill9(); // backends orphaned by a dead postmaster
        }
        rmSync(dir, { recursive: true, force: true });
        process.off('exit', safetyNet);
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      },
    };
  } catch (e) {
    safetyNet();
    process.off('exit', safetyNet);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    throw e;
  }
}
