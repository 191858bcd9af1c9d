// A real OpenSSH server for tests: its own host key, key authentication only, everything in a
// temp dir. Runs in this namespace on loopback, or in a lab namespace through `spawn`
// (e.g. (argv) => lab.spawn(lab.ns.hosts, argv)), so SSH never leaves the test's own network.
import { type ChildProcess, execFileSync, spawn as spawnChild } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { stopChild } from './processes.js';
import { which } from './tools.js';

export const SSHD = '/usr/sbin/sshd';

export interface SshServer {
  address: string;
  port: number;
  user: string;
  /** The host key's fingerprint as OpenSSH prints it: SHA256:<base64 without padding>. */
  hostKeyFingerprint: string;
  /** A known_hosts line for this server ([address]:port form when the port is not 22). */
  knownHostsLine: string;
  /** An ed25519 private key (no passphrase) that sshd accepts for `user`. */
  clientKeyFile: string;
  dir: string;
  /** sshd's log so far (-e: to stderr, LogLevel VERBOSE: connections and accepted keys). */
  log(): string;
  /** How many public-key logins sshd accepted so far. */
  logins(): number;
  /** How many sessions (exec or shell) sshd started so far. */
  sessions(): number;
  /** How many TCP connections sshd saw so far (logins or not). */
  connections(): number;
  stop(): Promise<void>;
}

/** Skips the test locally when OpenSSH's server is missing; fails under CI=true, like requireTool. */
export function requireSshd(t: TestContext): boolean {
  if (existsSync(SSHD) && which('ssh-keygen')) return true;
  const message = `${SSHD} or ssh-keygen is not installed (apt-get install openssh-server)`;
  if (process.env.CI) throw new Error(`${message}; CI must run every test`);
  t.skip(message);
  return false;
}

function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1';
}

/** A free TCP port on a local address (bind to port 0, close, reuse the number). */
export function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, address, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** SHA256:<base64 without padding> of a public key line ("ssh-ed25519 AAAA... comment"). */
export function fingerprintOfPublicKey(line: string): string {
  const blob = Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function keygen(file: string, comment: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
    stdio: 'ignore',
    timeout: 10_000,
  });
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

/**
 * Starts a real sshd (-D -e, own host key, key auth only, authorized_keys in a temp dir)
 * listening on address:port. `spawn` runs it (e.g. (argv) => lab.spawn(lab.ns.hosts, argv));
 * default: spawn in the current namespace — then address must be loopback.
 */
export async function startSshd(opts: {
  address: string;
  port?: number;
  spawn?: (argv: string[]) => ChildProcess;
  /** Use this host key file instead of a fresh one (e.g. to restart with the same identity). */
  hostKeyFile?: string;
}): Promise<SshServer> {
  if (!opts.spawn && !isLoopback(opts.address)) {
    throw new Error(`startSshd: ${opts.address} is not loopback; pass spawn to run sshd inside a lab namespace`);
  }
  const port = opts.port ?? (opts.spawn ? 22 : await freePort(opts.address));
  const dir = mkdtempSync(join(tmpdir(), 'lanscape-sshd-'));
  const hostKey = opts.hostKeyFile ?? join(dir, 'host_ed25519');
  const hostPub = opts.hostKeyFile
    ? readFileSync(`${opts.hostKeyFile}.pub`, 'utf8').trim()
    : keygen(hostKey, 'lanscape-test-host');
  const clientKeyFile = join(dir, 'client_ed25519');
  const clientPub = keygen(clientKeyFile, 'lanscape-test-client');
  writeFileSync(join(dir, 'authorized_keys'), `${clientPub}\n`, { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress ${opts.address.includes(':') ? `[${opts.address}]` : opts.address}`,
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'UseDNS no',
      'PrintMotd no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  // Privilege separation directory; /run is shared by every network namespace.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const argv = [SSHD, '-D', '-e', '-f', config];
  const child = opts.spawn
    ? opts.spawn(argv)
    : spawnChild(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`sshd did not start on ${opts.address}:${port}:\n${log}`)),
        10_000,
      );
      const check = () => {
        if (/Server listening on/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr?.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited with ${code}:\n${log}`));
      });
      check();
    });
  } catch (e) {
    if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const host = port === 22 ? opts.address : `[${opts.address}]:${port}`;
  const [type, blob] = hostPub.split(/\s+/);
  return {
    address: opts.address,
    port,
    user: 'root',
    hostKeyFingerprint: fingerprintOfPublicKey(hostPub),
    knownHostsLine: `${host} ${type} ${blob}`,
    clientKeyFile,
    dir,
    log: () => log,
    logins: () => (log.match(/Accepted publickey/g) ?? []).length,
    sessions: () => (log.match(/Starting session: /g) ?? []).length,
    connections: () => (log.match(/Connection from /g) ?? []).length,
    async stop() {
      // -D keeps sshd in the foreground as the listener; its per-connection children end when
      // their clients disconnect (or with the namespace).
      await stopChild(child, 3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
