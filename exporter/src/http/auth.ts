// Bearer tokens with scopes admin ⊃ write ⊃ read. Tokens are compared as SHA-256 digests with
// timingSafeEqual, and every configured token is checked, so timing reveals nothing.
// Also the gate in front of the token check: Host allow-list, failed-auth throttling per client
// address, and which Grafana user (if any) a request may name.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { type GrafanaIdVerifier, printable } from '../audit/grafana-id.js';
import { type Clock, systemClock } from '../clock.js';
import { type Config, type Scope, normalizeHost } from '../config/schema.js';
import { LanscapeError } from '../errors.js';

const RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

export interface TokenIdentity {
  readonly name: string;
  readonly scope: Scope;
  /** A remote scan agent's token (#15): it may only use the routes of scope `agent`. */
  readonly agent?: { readonly id: number; readonly name: string };
}

/** Agent tokens live in the store (agents/service.ts): verified there, asynchronously. */
export interface AgentTokens {
  isAgentToken(token: string): boolean;
  verify(token: string): Promise<{ id: number; name: string } | 'revoked' | undefined>;
}

export class TokenVerifier {
  private readonly tokens: { digest: Buffer; identity: TokenIdentity }[];

  constructor(tokens: Pick<Config['tokens'], 'read' | 'write' | 'admin' | 'named'>) {
    const list: { token: string; identity: TokenIdentity }[] = [];
    for (const scope of ['read', 'write', 'admin'] as const) {
      const token = tokens[scope];
      if (token) list.push({ token, identity: { name: scope, scope } });
    }
    for (const t of tokens.named) list.push({ token: t.token, identity: { name: t.name, scope: t.scope } });
    this.tokens = list.map((t) => ({ digest: digest(t.token), identity: t.identity }));
  }

  get configured(): number {
    return this.tokens.length;
  }

  /** The identity of a bearer token, or undefined when it matches none. */
  verify(token: string): TokenIdentity | undefined {
    const d = digest(token);
    let match: TokenIdentity | undefined;
    for (const t of this.tokens) {
      if (timingSafeEqual(d, t.digest) && !match) match = t.identity;
    }
    return match;
  }
}

export function allows(have: Scope, need: Scope): boolean {
  return RANK[have] >= RANK[need];
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Reads the token from `Authorization: Bearer <token>`; undefined when absent or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+([\x21-\x7e]{1,1024})[ ]*$/i.exec(header);
  return m?.[1];
}

// ---------------------------------------------------------------------------------------------
// The gate in front of /api/v1 and /metrics: the Host allow-list, failed-authentication
// throttling per client address, and the one decision on which Grafana user a request names.
// ---------------------------------------------------------------------------------------------

/** The client's address as the throttle counts it: IPv4 (mapped ones too) as is, IPv6 by its /64. */
export function clientKey(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'local socket';
  const a = remoteAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!ipaddr.IPv6.isValid(a) || ipaddr.IPv4.isValid(a)) return a;
  // One host usually holds a whole /64 (privacy addresses): count the prefix, not each address.
  return `${ipaddr.IPv6.parse(a).toNormalizedString().split(':').slice(0, 4).join(':')}::/64`;
}

interface FailureWindow {
  start: number;
  failures: number;
}

/**
 * Failed authentications per client address in fixed one-minute windows. When an address
 * reaches the limit, every request of it on that surface gets 429 with Retry-After until its
 * window ends (valid tokens too: otherwise a guess that succeeds would still show). Logged once
 * per window and address. Memory is bounded: at most `maxEntries` addresses, expired ones
 * dropped first, then the oldest.
 */
export class AuthThrottle {
  private readonly windows = new Map<string, FailureWindow>();

  constructor(
    readonly limit: number,
    private readonly logger: Logger,
    private readonly surface: string,
    private readonly clock: Clock = systemClock,
    private readonly windowMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  get tracked(): number {
    return this.windows.size;
  }

  /** Seconds until the address may try again, or 0 when it is not held off. */
  retryAfter(key: string): number {
    if (this.limit === 0) return 0;
    const w = this.windows.get(key);
    if (!w) return 0;
    const left = w.start + this.windowMs - this.clock();
    if (left <= 0) {
      this.windows.delete(key);
      return 0;
    }
    return w.failures >= this.limit ? Math.max(1, Math.ceil(left / 1000)) : 0;
  }

  /** Counts a failed authentication of the address. */
  fail(key: string): void {
    if (this.limit === 0) return;
    const now = this.clock();
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      if (w) this.windows.delete(key);
      this.makeRoom(now);
      w = { start: now, failures: 0 };
      this.windows.set(key, w);
    }
    w.failures++;
    if (w.failures === this.limit) {
      this.logger.warn(
        {
          client: key,
          surface: this.surface,
          failures: w.failures,
          retryAfterSeconds: Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000)),
        },
        'too many failed authentications from one address; answering it 429 until its minute is over',
      );
    }
  }

  private makeRoom(now: number): void {
    if (this.windows.size < this.maxEntries) return;
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
    // Still full: forget the oldest window (Map keeps insertion order).
    while (this.windows.size >= this.maxEntries) this.windows.delete(this.windows.keys().next().value!);
  }
}

export function throttledError(seconds: number): LanscapeError {
  return new LanscapeError(
    429,
    'too_many_auth_failures',
    `too many failed authentications from this address; try again in ${seconds} s`,
    { retry_after_seconds: seconds },
  );
}

/** Normalised Host header: host and port, or undefined when it is not a plain host[:port]. */
export function requestHost(header: string | undefined): { host: string; port: string } | undefined {
  return header ? normalizeHost(header) : undefined;
}

/**
 * The Host allow-list (against DNS rebinding: a page on evil.example whose name now resolves to
 * 127.0.0.1 reaches the exporter with "Host: evil.example"). Entries without a port match any
 * port. /healthz and /readyz stay open: orchestrators probe them by address and they tell nothing.
 */
export function hostAllowList(allowed: readonly string[]): RequestHandler {
  const names = new Set(allowed);
  return (req, res, next) => {
    if (names.size === 0 || req.path === '/healthz' || req.path === '/readyz') return next();
    const h = requestHost(req.headers.host);
    if (h && (names.has(h.host) || (h.port !== '' && names.has(`${h.host}:${h.port}`)))) return next();
    res.locals.route = 'host_not_allowed';
    res.status(421).json({
      error: {
        code: 'host_not_allowed',
        message:
          `this exporter does not answer to Host "${String(req.headers.host ?? '').slice(0, 100)}"; ` +
          'add it to LANSCAPE_ALLOWED_HOSTS (allowed_hosts) if it is a name of this exporter',
      },
    });
  };
}

export interface ApiGateOptions {
  tokens: TokenVerifier;
  /** Token names whose requests come from Grafana's plugin proxy. */
  grafanaProxy: readonly string[];
  /** With Grafana's URL configured: the user comes only from its signed ID token. */
  grafanaId?: GrafanaIdVerifier | undefined;
  throttle: AuthThrottle;
  agentTokens?: AgentTokens | undefined;
}

const GRAFANA_USER = 'x-grafana-user';
const GRAFANA_ID = 'x-grafana-id';

/**
 * Router middleware ahead of the token check of /api/v1: refuses addresses that failed too
 * often, counts failed tokens, and decides the Grafana user of the request. X-Grafana-User and
 * X-Grafana-Id are removed from every request; for a token named in tokens.grafana_proxy the
 * user is put back as X-Grafana-User — from the verified ID token when Grafana's URL is
 * configured, else from Grafana's X-Grafana-User — so everything downstream (the audit log,
 * the request log) sees only a user that Grafana's proxy vouched for.
 */
export function apiGate(options: ApiGateOptions): RequestHandler {
  const proxyTokens = new Set(options.grafanaProxy);
  return (req, res, next) => {
    const key = clientKey(req.socket.remoteAddress);
    const wait = options.throttle.retryAfter(key);
    if (wait > 0) {
      res.locals.throttled = true;
      next(throttledError(wait));
      return;
    }
    const token = bearerToken(req.get('authorization'));
    const identity = token ? options.tokens.verify(token) : undefined;
    // Agent tokens are checked against the store by ApiRoutes.authenticate, which counts their failures.
    if (token && !identity && !options.agentTokens?.isAgentToken(token)) options.throttle.fail(key);
    const claimedUser = req.get(GRAFANA_USER);
    const idToken = req.get(GRAFANA_ID);
    delete req.headers[GRAFANA_USER];
    delete req.headers[GRAFANA_ID];
    if (!identity || !proxyTokens.has(identity.name)) {
      // Not Grafana's proxy (or no valid token at all, which the token check answers): whatever
      // user such a request names is ignored; the audit shows the token's name only.
      next();
      return;
    }
    if (!options.grafanaId) {
      const user = claimedUser === undefined ? '' : printable(Buffer.from(claimedUser, 'latin1').toString('utf8'));
      if (user) req.headers[GRAFANA_USER] = user;
      next();
      return;
    }
    options.grafanaId.verify(idToken).then((r) => {
      if ('user' in r) req.headers[GRAFANA_USER] = r.user;
      else if (idToken !== undefined) options.grafanaId!.warn(r.error);
      next();
    }, next);
  };
}
