// The agent's HTTP client for central (#15): HTTPS verified per connection (shared/tls.ts: a
// pinned certificate fingerprint, a CA file, or the system's CAs), plain HTTP to a loopback
// address, or a unix socket of a central on the same machine. Every failure to talk to central
// is a CentralError: `tls` (the certificate is not the one trusted: nothing was sent) or
// `unreachable` (the queue keeps the results).
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tlsAgent } from '../shared/tls.js';
import type { AgentConfig } from './config.js';

export class CentralError extends Error {
  constructor(
    message: string,
    readonly kind: 'tls' | 'unreachable',
  ) {
    super(message);
    this.name = 'CentralError';
  }
}

const TLS_CODES = /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|EPROTO|FINGERPRINT_MISMATCH)/;
const TIMEOUT_MS = 30_000;

export class CentralClient {
  private readonly agent: HttpAgent | HttpsAgent;

  constructor(private readonly config: Pick<AgentConfig, 'centralUrl' | 'token' | 'caFile' | 'fingerprint'>) {
    const base = { keepAlive: true, maxSockets: 2, timeout: TIMEOUT_MS };
    this.agent = config.centralUrl.startsWith('https:')
      ? tlsAgent({ caFile: config.caFile, fingerprint: config.fingerprint }, base, (seen, pin) =>
          Object.assign(
            new Error(
              `central's certificate has SHA-256 fingerprint ${seen || '(none)'}, not the pinned LANSCAPE_AGENT_FINGERPRINT ${pin}; refusing to connect (a changed certificate or another server)`,
            ),
            { code: 'FINGERPRINT_MISMATCH' },
          ),
        )
      : new HttpAgent(base);
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const url = this.config.centralUrl;
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.config.token}`,
      accept: 'application/json',
    };
    if (text !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(text));
    }
    let options: RequestOptions;
    if (url.startsWith('unix:')) {
      options = { socketPath: url.slice('unix:'.length), path, headers: { ...headers, host: 'localhost' } };
    } else {
      const u = new URL(path, url);
      options = {
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port || undefined,
        path: u.pathname + u.search,
        headers,
      };
    }
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    let res: IncomingMessage;
    let data: string;
    try {
      ({ res, data } = await new Promise<{ res: IncomingMessage; data: string }>((resolve, reject) => {
        const req = send({ ...options, method, agent: this.agent, timeout: TIMEOUT_MS }, (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve({ res: r, data: Buffer.concat(chunks).toString('utf8') }));
          r.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
        req.on('error', reject);
        req.end(text);
      }));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const code = err.code ?? '';
      if (TLS_CODES.test(code)) {
        const hint =
          code === 'FINGERPRINT_MISMATCH'
            ? ''
            : this.config.caFile
              ? ` (not signed by the CA in ${this.config.caFile}?)`
              : '; pin central with LANSCAPE_AGENT_FINGERPRINT or LANSCAPE_AGENT_CA_FILE';
        throw new CentralError(`TLS to central refused (${code}): ${err.message}${hint}`, 'tls');
      }
      throw new CentralError(
        `central at ${url} is unreachable: ${code ? `${code} ` : ''}${err.message}`,
        'unreachable',
      );
    }
    let parsed: unknown = data;
    if ((res.headers['content-type'] ?? '').includes('json') && data) parsed = JSON.parse(data);
    return { status: res.statusCode ?? 0, body: parsed as T };
  }

  close(): void {
    this.agent.destroy();
  }
}
