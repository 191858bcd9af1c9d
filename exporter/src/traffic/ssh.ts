// SSH adapter (ssh2): connect with a host key check, run one command, stream its output.
// Errors become one-line messages that name the host; secrets never enter them.
// ssh2 is CommonJS without named ESM exports.
import type { Client as SshClient, ClientChannel, ConnectConfig } from 'ssh2';
import { loadSsh2 } from './ssh2.js';
import type { HostKeyDecision } from './core/hostkeys.js';
import { cleanMessage } from './core/iperf.js';

export interface SshEndpoint {
  /** "nas (10.200.0.11:22)", for messages */
  label: string;
  address: string;
  port: number;
  user: string;
  auth: { privateKey: Buffer; passphrase?: string } | { agent: string };
  /** Decides on the presented host key, during the key exchange. */
  verifyHostKey: (key: Buffer) => HostKeyDecision;
  /**
   * Called once the handshake has completed, i.e. the server has proven it holds the key the
   * verifier accepted (ssh2 checks the server's signature only after the verifier). Throws to
   * refuse the connection after all.
   */
  hostKeyProven?: () => void | Promise<void>;
  /** Host key algorithms in order of preference (known_hosts' key types first). */
  hostKeyAlgorithms?: string[];
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface RunningCommand {
  readonly done: Promise<ExecResult>;
  /** Sends a signal to the remote process (OpenSSH 7.9+ honours it) and closes the channel. */
  stop(): void;
}

export interface SshSession {
  exec(command: string, opts?: { onStdout?: (text: string) => void; maxBytes?: number }): Promise<RunningCommand>;
  close(): void;
}

export class SshError extends Error {
  constructor(
    message: string,
    readonly kind: 'host_key' | 'connect' | 'auth' | 'timeout' | 'channel',
  ) {
    super(message);
    this.name = 'SshError';
  }
}

const KEEPALIVE_MS = 5000;
const KEEPALIVE_COUNT = 3;
const MAX_OUTPUT = 64 * 1024 * 1024;

export function sshConnect(ep: SshEndpoint, readyTimeoutMs: number): Promise<SshSession> {
  const client = new (loadSsh2().Client)();
  let refusal: string | undefined;
  const config: ConnectConfig = {
    host: ep.address,
    port: ep.port,
    username: ep.user,
    readyTimeout: readyTimeoutMs,
    keepaliveInterval: KEEPALIVE_MS,
    keepaliveCountMax: KEEPALIVE_COUNT,
    // Only our own methods: no password prompts, no keyboard-interactive.
    ...('agent' in ep.auth
      ? { agent: ep.auth.agent }
      : { privateKey: ep.auth.privateKey, ...(ep.auth.passphrase ? { passphrase: ep.auth.passphrase } : {}) }),
    hostVerifier: (key: Buffer) => {
      const decision = ep.verifyHostKey(key);
      if (!decision.ok) refusal = decision.message;
      return decision.ok;
    },
    ...(ep.hostKeyAlgorithms?.length ? { algorithms: { serverHostKey: ep.hostKeyAlgorithms as never } } : {}),
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    client.once('ready', () => {
      settled = true;
      Promise.resolve()
        .then(() => ep.hostKeyProven?.())
        .then(
          () => resolve(session(client, ep)),
          (e: unknown) => {
            client.end();
            reject(new SshError((e as Error).message, 'host_key'));
          },
        );
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(connectError(ep, err, refusal, readyTimeoutMs));
    });
    client.once('close', () => {
      if (settled) return;
      settled = true;
      reject(
        new SshError(
          refusal ?? `SSH connection to ${ep.label} closed during the handshake`,
          refusal ? 'host_key' : 'connect',
        ),
      );
    });
    try {
      client.connect(config);
    } catch (e) {
      settled = true;
      reject(new SshError(`cannot connect to ${ep.label}: ${cleanMessage((e as Error).message)}`, 'connect'));
    }
  });
}

function connectError(
  ep: SshEndpoint,
  err: Error & { level?: string; code?: string },
  refusal: string | undefined,
  timeoutMs: number,
): SshError {
  if (refusal) return new SshError(refusal, 'host_key');
  const where = `${ep.label}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return new SshError(`cannot connect to ${where}: connection refused (is sshd running?)`, 'connect');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new SshError(`cannot connect to ${where}: no route to host`, 'connect');
    case 'ETIMEDOUT':
      return new SshError(`cannot connect to ${where}: connection timed out`, 'timeout');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new SshError(`cannot resolve ${where}`, 'connect');
    default:
      break;
  }
  if (err.level === 'client-timeout')
    return new SshError(`no SSH handshake with ${where} within ${Math.round(timeoutMs / 1000)} s`, 'timeout');
  if (err.level === 'client-authentication')
    return new SshError(`SSH authentication as ${ep.user} on ${where} failed (the key was not accepted)`, 'auth');
  return new SshError(`SSH to ${where} failed: ${cleanMessage(err.message)}`, 'connect');
}

function session(client: SshClient, ep: SshEndpoint): SshSession {
  return {
    exec(command, opts = {}) {
      const max = opts.maxBytes ?? MAX_OUTPUT;
      return new Promise<RunningCommand>((resolve, reject) => {
        client.exec(command, (err, channel: ClientChannel) => {
          if (err) {
            reject(new SshError(`cannot run a command on ${ep.label}: ${cleanMessage(err.message)}`, 'channel'));
            return;
          }
          let stdout = '';
          let stderr = '';
          let bytes = 0;
          channel.setEncoding('utf8');
          channel.stderr.setEncoding('utf8');
          channel.on('data', (d: string) => {
            bytes += d.length;
            if (bytes <= max) stdout += d;
            opts.onStdout?.(d);
          });
          channel.stderr.on('data', (d: string) => {
            if (stderr.length < 64 * 1024) stderr += d;
          });
          const done = new Promise<ExecResult>((res) => {
            let exit: { code: number | null; signal: string | null } = { code: null, signal: null };
            channel.on('exit', (code: number | null, signal?: string) => {
              exit = { code: code ?? null, signal: signal ?? null };
            });
            channel.once('close', () => res({ ...exit, stdout, stderr }));
            // A dropped connection closes the channel too; make sure `done` settles.
            client.once('close', () => res({ ...exit, stdout, stderr }));
          });
          resolve({
            done,
            stop() {
              try {
                channel.signal('TERM');
              } catch {
                /* the channel may be gone */
              }
              channel.close();
            },
          });
        });
      });
    },
    close() {
      client.end();
    },
  };
}
