// A real image registry for tests: Debian's docker-registry (the CNCF distribution registry)
// on a loopback port, serving TLS with a throw-away CA made by openssl and Basic auth from an
// htpasswd file (bcrypt, as the registry requires: apache2-utils' htpasswd -B). Everything
// lives in a temp directory; stop() ends the registry this helper started, by its PID.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './exporter.js';
import { requireTool } from './tools.js';

export interface TestRegistry {
  /** 127.0.0.1:PORT, as image names start with it. */
  host: string;
  port: number;
  username: string;
  password: string;
  /** PEM of the throw-away CA that signed the registry's certificate. */
  caFile: string;
  dir: string;
  /** Stops the registry process (its storage stays, so start() serves the same images again). */
  pause(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A CA and a server certificate for 127.0.0.1 signed by it, in `dir`: ca.crt, server.crt, server.key. */
export function throwAwayCa(dir: string): { ca: string; cert: string; key: string } {
  run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=lanscape test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    ],
    dir,
  );
  run(
    'openssl',
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
    ],
    dir,
  );
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
      '-out',
      'server.crt',
    ],
    dir,
  );
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

/** Starts a registry, or skips the test (locally) / fails it (CI) when a tool is missing. */
export async function startRegistry(t: TestContext): Promise<TestRegistry | undefined> {
  if (!requireTool(t, 'docker-registry', 'apt-get install docker-registry')) return undefined;
  if (!requireTool(t, 'htpasswd', 'apt-get install apache2-utils')) return undefined;
  if (!requireTool(t, 'openssl', 'apt-get install openssl')) return undefined;
  const { dir, cleanup } = tempDir('lanscape-test-registry-');
  const username = 'lanscape';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const tls = throwAwayCa(dir);
  run('htpasswd', ['-Bbc', join(dir, 'htpasswd'), username, password], dir);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      `  secret: ${Math.random().toString(36).slice(2)}`,
      '  tls:',
      `    certificate: ${tls.cert}`,
      `    key: ${tls.key}`,
      'auth:',
      '  htpasswd:',
      '    realm: lanscape-test',
      `    path: ${join(dir, 'htpasswd')}`,
      '',
    ].join('\n'),
  );
  const ca = readFileSync(tls.ca);
  let child: ChildProcess | null = null;
  let log = '';
  const kill = () => child?.kill('SIGKILL');
  process.once('exit', kill);

  async function start(): Promise<void> {
    const c = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    c.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const { request } = await import('node:https');
    for (let i = 0; i < 100; i++) {
      if (c.exitCode !== null) throw new Error(`docker-registry exited with ${c.exitCode}: ${log}`);
      const status = await new Promise<number>((resolve) => {
        const req = request(`https://${host}/v2/`, { ca, timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        req.end();
      });
      if (status === 401) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`docker-registry did not answer on ${host}: ${log}`);
  }

  async function pause(): Promise<void> {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  try {
    await start();
  } catch (err) {
    kill();
    cleanup();
    throw err;
  }
  return {
    host,
    port,
    username,
    password,
    caFile: tls.ca,
    dir,
    pause,
    start,
    async stop() {
      await pause();
      process.off('exit', kill);
      cleanup();
    },
  };
}
