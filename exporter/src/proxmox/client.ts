// The Proxmox VE API client: typed paths from the proxmox-api package (GPL-3.0) over our own
// transport. The transport (not proxmox-api's engine) does the HTTP because it must:
// - verify TLS per connection (tls.ts) — the engine uses a process-wide fetch;
// - never retry a POST (the engine retries once on any network error, which could clone twice);
// - turn PVE errors into words (PVE puts the message in the HTTP reason phrase, parameter
//   errors in `errors`) without ever putting the token into a message.
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import type { Proxmox, proxmoxApi as ProxmoxApi } from 'proxmox-api';
import type { ApiRequestable } from 'proxmox-api';
import { type TlsSettings, createTlsAgent, describeTlsError, ProxmoxTlsError } from './tls.js';

export interface ClientSettings extends TlsSettings {
  url: string;
  tokenId: string;
  tokenSecret: string;
  timeoutMs: number;
  maxSockets: number;
}

export type ProxmoxErrorKind = 'tls' | 'network' | 'timeout' | 'auth' | 'http' | 'protocol';

export class ProxmoxError extends Error {
  constructor(
    message: string,
    readonly kind: ProxmoxErrorKind,
    readonly status: number | null = null,
    readonly errors: Record<string, string> | null = null,
  ) {
    super(message);
    this.name = 'ProxmoxError';
  }
}

const MAX_BODY = 16 * 1024 * 1024;

/** Form/query encoding as PVE reads it: booleans 1/0, arrays repeated, null/undefined left out. */
export function encodeParams(params: Record<string, unknown> | undefined): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const e of v) out.append(k, String(e));
    else if (typeof v === 'boolean') out.set(k, v ? '1' : '0');
    else out.set(k, String(v));
  }
  return out;
}

export class PveTransport implements ApiRequestable {
  readonly #authorization: string;
  readonly #agent;
  private readonly base: URL;
  /** Everything but the token: only the private field holds the secret. */
  private readonly settings: Omit<ClientSettings, 'tokenId' | 'tokenSecret'>;

  constructor({ tokenId, tokenSecret, ...settings }: ClientSettings) {
    // A private field: the secret is not an enumerable property, so no log or JSON of the client shows it.
    this.#authorization = `PVEAPIToken=${tokenId}=${tokenSecret}`;
    this.settings = settings;
    this.#agent = createTlsAgent(settings, settings.maxSockets);
    this.base = new URL(settings.url);
  }

  /** Drops every connection (in use or idle); requests still running fail. */
  close(): void {
    this.#agent.destroy();
  }

  /** ApiRequestable: `path` comes from proxmox-api, e.g. /api2/json/nodes/pve1/qemu. */
  async doRequest(
    httpMethod: string,
    path: string,
    _pathTemplate: string,
    params?: Record<string, unknown>,
  ): Promise<any> {
    const method = httpMethod.toUpperCase();
    const encoded = encodeParams(params);
    const hasBody = method === 'POST' || method === 'PUT';
    const query = !hasBody && [...encoded.keys()].length ? `?${encoded.toString()}` : '';
    const body = hasBody ? encoded.toString() : undefined;
    const shown = `${method} ${path.replace(/^\/api2\/json/, '')}`;
    const headers: Record<string, string> = { Accept: 'application/json', Authorization: this.#authorization };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const res = await new Promise<{ status: number; reason: string; text: string }>((resolve, reject) => {
      const req = httpsRequest(
        {
          protocol: 'https:',
          hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port || 8006,
          path: `${this.base.pathname.replace(/\/$/, '')}${path}${query}`,
          method,
          headers,
          agent: this.#agent,
          servername: isIpLiteral(this.base.hostname) ? undefined : this.base.hostname,
        },
        (r: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          r.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY) {
              r.destroy(new ProxmoxError(`${shown}: the answer is larger than ${MAX_BODY} bytes`, 'protocol'));
              return;
            }
            chunks.push(c);
          });
          r.on('end', () =>
            resolve({
              status: r.statusCode ?? 0,
              reason: r.statusMessage ?? '',
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          r.on('error', reject);
        },
      );
      req.setTimeout(this.settings.timeoutMs, () => {
        req.destroy(new ProxmoxError(`${shown}: no answer within ${this.settings.timeoutMs} ms`, 'timeout'));
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.describe(e, shown)));
      req.end(body);
    });
    return this.result(res, shown);
  }

  private describe(e: NodeJS.ErrnoException, shown: string): Error {
    if (e instanceof ProxmoxError) return e;
    if (e instanceof ProxmoxTlsError) return new ProxmoxError(e.message, 'tls');
    const tls = describeTlsError(e, this.settings);
    if (tls) return new ProxmoxError(tls.message, 'tls');
    return new ProxmoxError(`${shown}: cannot reach ${this.base.host} (${e.code ?? e.message})`, 'network');
  }

  private result(res: { status: number; reason: string; text: string }, shown: string): unknown {
    let json: { data?: unknown; errors?: unknown; message?: unknown } | undefined;
    try {
      json = JSON.parse(res.text) as typeof json;
    } catch {
      json = undefined;
    }
    if (res.status === 200) {
      if (!json || typeof json !== 'object' || !('data' in json))
        throw new ProxmoxError(`${shown}: the answer is not PVE's JSON ({"data": …})`, 'protocol');
      return json.data;
    }
    const errors = json?.errors && typeof json.errors === 'object' ? (json.errors as Record<string, string>) : null;
    const reason = oneLine(typeof json?.message === 'string' && json.message.trim() ? json.message : res.reason);
    if (res.status === 401) {
      throw new ProxmoxError(
        `Proxmox refused the API token (HTTP 401${reason ? `: ${reason}` : ''}); check LANSCAPE_PROXMOX_TOKEN_ID and LANSCAPE_PROXMOX_TOKEN_SECRET`,
        'auth',
        401,
      );
    }
    if (res.status === 403) {
      throw new ProxmoxError(
        `${shown}: permission denied (HTTP 403${reason ? `: ${reason}` : ''}); the API token lacks a privilege for this`,
        'auth',
        403,
      );
    }
    const detail = errors
      ? Object.entries(errors)
          .map(([k, v]) => `${k}: ${oneLine(String(v))}`)
          .join('; ')
      : '';
    const what = res.status === 400 ? 'rejected the parameters of' : 'failed';
    throw new ProxmoxError(
      `Proxmox ${what} ${shown} (HTTP ${res.status}${reason ? `: ${reason}` : ''})${detail ? `: ${detail}` : ''}`,
      'http',
      res.status,
      errors,
    );
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':') || host.startsWith('[');
}

export interface PveClient {
  readonly api: Proxmox.Api;
  readonly transport: PveTransport;
}

export function createPveClient(settings: ClientSettings): PveClient {
  const transport = new PveTransport(settings);
  // Loaded here, not at start-up: an exporter without Proxmox never pays for it.
  const { proxmoxApi } = createRequire(import.meta.url)('proxmox-api') as { proxmoxApi: typeof ProxmoxApi };
  return { api: proxmoxApi(transport), transport };
}
