// Starts exporters for tests: in-process (fast) or as a child process (for kill -9 and CLIs).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { type ExporterOptions, type RunningExporter, startExporter } from '../../src/server.js';
import { TEST_BACKEND, type TestBackend, createTestDatabase, dropTestDatabase } from './store.js';

// At least 24 characters and not one repeated character: the exporter refuses weaker tokens.
export const TOKENS = {
  read: 'read-token-0123456789abcdef',
  write: 'write-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef',
} as const;

export const EXPORTER_DIR = fileURLToPath(new URL('../..', import.meta.url));

// Every answer of an exporter started by a test is checked against the schema its route
// declares (src/http/response-check.ts): in this process, and in child exporters, which
// inherit the environment or get it from testEnv().
process.env.LANSCAPE_VALIDATE_RESPONSES ??= '1';

export function tempDir(prefix = 'lanscape-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function testEnv(db: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LANSCAPE_LISTEN: '127.0.0.1:0',
    LANSCAPE_DB: db,
    LANSCAPE_READ_TOKEN: TOKENS.read,
    LANSCAPE_WRITE_TOKEN: TOKENS.write,
    LANSCAPE_ADMIN_TOKEN: TOKENS.admin,
    LANSCAPE_LOG_LEVEL: 'silent',
    // Safety: tests outside a lab namespace must never sweep. Lab tests turn this on inside
    // their namespace; manual scans in other tests only target loopback subnets.
    LANSCAPE_SCAN_ENABLED: 'false',
    LANSCAPE_SCAN_RDNS: 'false',
    LANSCAPE_VALIDATE_RESPONSES: '1',
    ...extra,
  };
}

export interface TestExporter extends RunningExporter {
  dbFile: string;
  api: ApiClient;
  stop(): Promise<void>;
}

/**
 * An exporter in this process on an ephemeral loopback port with a fresh store: on the backend
 * under test (LANSCAPE_TEST_BACKEND; on PostgreSQL a database of its own, unless extraEnv names
 * one with LANSCAPE_DATABASE_URL — a second replica).
 */
export async function startTestExporter(
  extraEnv: Record<string, string> = {},
  options: ExporterOptions = {},
  /** `sqlite` for tests of the SQLite file itself (ownership, its ids, its copy to PostgreSQL). */
  backend: TestBackend = TEST_BACKEND,
): Promise<TestExporter> {
  const { dir, cleanup } = tempDir();
  const dbFile = join(dir, 'lanscape.db');
  const env = { ...extraEnv };
  if (backend === 'postgres' && env.LANSCAPE_DATABASE_URL === undefined) {
    env.LANSCAPE_DATABASE_URL = (await createTestDatabase(undefined, { dropLater: false }))!;
    created.add(env.LANSCAPE_DATABASE_URL);
  }
  const database = env.LANSCAPE_DATABASE_URL;
  if (database !== undefined) replicasOn.set(database, (replicasOn.get(database) ?? 0) + 1);
  const config = loadConfig(testEnv(dbFile, env));
  const running = await startExporter(config, pino({ level: 'silent' }), options);
  const api = new ApiClient(running.url);
  return {
    ...running,
    dbFile,
    api,
    async stop() {
      api.close();
      await running.close();
      cleanup();
      // The last replica on a database this helper created drops it.
      if (database === undefined) return;
      const left = replicasOn.get(database)! - 1;
      replicasOn.set(database, left);
      if (left === 0 && created.delete(database)) await dropTestDatabase(database);
    },
  };
}

/** In-process exporters per PostgreSQL database, and the databases startTestExporter made. */
const replicasOn = new Map<string, number>();
const created = new Set<string>();

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

/** A small HTTP client for tests over TCP (http://host:port) or a unix socket (unix:/path). */
export class ApiClient {
  private readonly agent: HttpAgent;

  constructor(
    readonly base: string,
    readonly defaultToken: string | null = TOKENS.admin,
  ) {
    this.agent = new HttpAgent({ keepAlive: true, maxSockets: 512 });
  }

  async call<T = any>(
    method: string,
    path: string,
    options: {
      token?: string | null;
      body?: unknown;
      rawBody?: string;
      contentType?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.defaultToken : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers['content-type'] = options.contentType ?? 'application/json';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const target = this.base.startsWith('unix:')
      ? { socketPath: this.base.slice('unix:'.length), path }
      : (() => {
          const u = new URL(path, this.base);
          return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port), path: u.pathname + u.search };
        })();
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({ ...target, method, headers, agent: this.agent }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const responseHeaders = new Headers();
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) responseHeaders.set(k, Array.isArray(v) ? v.join(', ') : v);
    let parsed: unknown = text;
    if ((responseHeaders.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.statusCode ?? 0, body: parsed as T, headers: responseHeaders, text };
  }

  get<T = any>(path: string, token?: string | null) {
    return this.call<T>('GET', path, { token });
  }
  post<T = any>(path: string, body: unknown, token?: string | null) {
    return this.call<T>('POST', path, { body, token });
  }
  patch<T = any>(path: string, body: unknown, token?: string | null) {
    return this.call<T>('PATCH', path, { body, token });
  }
  delete<T = any>(path: string, token?: string | null) {
    return this.call<T>('DELETE', path, { token });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface ChildExporter {
  url: string;
  api: ApiClient;
  process: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** The exporter as its own process (`node --import tsx src/main.ts`), for crash and CLI tests. */
export async function spawnExporter(
  env: Record<string, string>,
  args: string[] = [],
  wrapper: string[] = [],
): Promise<ChildExporter> {
  const argv = [...wrapper, process.execPath, '--import', 'tsx', 'src/main.ts', ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: EXPORTER_DIR,
    // The test reads the listening URL from the start-up log line, so info level is needed.
    env: { ...process.env, ...env, LANSCAPE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`exporter did not start:\n${out}`));
    }, 20_000);
    const onData = () => {
      const m = /"url":"((?:http|unix)[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exporter exited with ${code}:\n${out}`));
    });
  });
  const api = new ApiClient(url);
  return {
    url,
    api,
    process: child,
    output: () => out,
    async stop() {
      api.close();
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      api.close();
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs a CLI script of the exporter (src/cli/NAME.ts) and returns its exit code and output. */
export function runCli(
  name: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `src/cli/${name}.ts`, ...args], {
      cwd: EXPORTER_DIR,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
