// Grafana's signed ID token (X-Grafana-Id): who the Grafana user behind a plugin-proxy request
// is, proven by Grafana's signature rather than by a header anyone holding the token could set.
//
// Grafana signs a short-lived JWT per identity (pkg/services/auth/idimpl: ES256, header kid and
// typ "jwt", claims iss, sub "user:<uid>", aud ["org:<id>"], exp (10 min), iat, username, …) and
// its plugin proxy forwards it as X-Grafana-Id (pkg/util/proxyutil ApplyForwardIDHeader). The
// public keys are a JWKS at <root url>/api/signing-keys/keys. This module verifies with
// node:crypto alone: ES256 only, the key chosen by kid from that JWKS, exp/nbf/iat with a
// small leeway, an org audience. Bounded: a token of at most 8 KiB, a JWKS of at most 64 KiB
// fetched with a 5 s timeout, no more often than every 30 s for an unknown kid, kept 10 min.
import { type KeyObject, createPublicKey, verify as verifySignature } from 'node:crypto';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock.js';

export const SIGNING_KEYS_PATH = '/api/signing-keys/keys';

export interface GrafanaIdOptions {
  clock?: Clock;
  /** ms before a JWKS request is abandoned. */
  fetchTimeoutMs?: number;
  /** How long fetched keys are used before they are fetched again. */
  keysMaxAgeMs?: number;
  /** Least time between two fetches (an unknown kid does not make every request fetch). */
  refetchCooldownMs?: number;
  /** Clock skew allowed on exp, nbf and iat, in seconds. */
  leewaySeconds?: number;
}

export interface GrafanaIdentity {
  /** The user's login (claim username), or the subject (e.g. service-account:3) when it has none. */
  user: string;
  subject: string;
  audience: string;
}

const MAX_TOKEN_BYTES = 8192;
const MAX_JWKS_BYTES = 64 * 1024;
const B64URL = /^[A-Za-z0-9_-]+$/;

export class GrafanaIdVerifier {
  readonly keysUrl: string;
  private keys = new Map<string, KeyObject>();
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private inflight: Promise<void> | undefined;
  private lastWarnAt = -Infinity;
  private readonly clock: Clock;
  private readonly fetchTimeoutMs: number;
  private readonly keysMaxAgeMs: number;
  private readonly refetchCooldownMs: number;
  private readonly leeway: number;

  constructor(
    grafanaUrl: string,
    private readonly logger: Logger,
    options: GrafanaIdOptions = {},
  ) {
    this.keysUrl = `${grafanaUrl.replace(/\/+$/, '')}${SIGNING_KEYS_PATH}`;
    this.clock = options.clock ?? systemClock;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5000;
    this.keysMaxAgeMs = options.keysMaxAgeMs ?? 10 * 60_000;
    this.refetchCooldownMs = options.refetchCooldownMs ?? 30_000;
    this.leeway = options.leewaySeconds ?? 60;
  }

  /** The verified identity in a token, or a reason why there is none. Never throws. */
  async verify(token: string | undefined): Promise<GrafanaIdentity | { error: string }> {
    if (!token) return { error: 'no X-Grafana-Id token' };
    if (token.length > MAX_TOKEN_BYTES) return { error: 'X-Grafana-Id is too long' };
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p)))
      return { error: 'X-Grafana-Id is not a compact JWS' };
    const [h, p, s] = parts as [string, string, string];
    const header = decodeJson(h);
    if (!header) return { error: 'X-Grafana-Id has an unreadable header' };
    // Only the algorithm Grafana signs with: no "none", no HMAC with a public key as secret.
    if (header.alg !== 'ES256') return { error: `X-Grafana-Id is signed with ${String(header.alg)}, not ES256` };
    if (typeof header.typ === 'string' && header.typ.toLowerCase() !== 'jwt')
      return { error: 'X-Grafana-Id is not an ID token (typ)' };
    if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 200)
      return { error: 'X-Grafana-Id names no key (kid)' };
    if (header.crit !== undefined) return { error: 'X-Grafana-Id has critical header parameters' };
    const key = await this.key(header.kid);
    if (!key) return { error: `no key "${header.kid.slice(0, 64)}" at ${this.keysUrl}` };
    const signature = Buffer.from(s, 'base64url');
    if (signature.length !== 64) return { error: 'X-Grafana-Id has a malformed ES256 signature' };
    const ok = verifySignature(
      'sha256',
      Buffer.from(`${h}.${p}`, 'ascii'),
      { key, dsaEncoding: 'ieee-p1363' },
      signature,
    );
    if (!ok) return { error: 'X-Grafana-Id signature does not verify' };
    const claims = decodeJson(p);
    if (!claims) return { error: 'X-Grafana-Id has unreadable claims' };
    const now = this.clock() / 1000;
    if (typeof claims.exp !== 'number') return { error: 'X-Grafana-Id has no expiry' };
    if (now > claims.exp + this.leeway) return { error: 'X-Grafana-Id has expired' };
    if (typeof claims.nbf === 'number' && now < claims.nbf - this.leeway)
      return { error: 'X-Grafana-Id is not valid yet' };
    if (typeof claims.iat === 'number' && now < claims.iat - this.leeway)
      return { error: 'X-Grafana-Id was issued in the future' };
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const audience = audiences.find((a): a is string => typeof a === 'string' && /^org:\d+$/.test(a));
    if (!audience) return { error: 'X-Grafana-Id is not for a Grafana organisation (aud)' };
    const subject = typeof claims.sub === 'string' ? claims.sub : '';
    const username = typeof claims.username === 'string' ? claims.username : '';
    const user = printable(username) || printable(subject);
    if (!user) return { error: 'X-Grafana-Id names no user' };
    return { user, subject: printable(subject), audience };
  }

  /** Logs a verification failure at most once a minute (a misconfiguration repeats on every request). */
  warn(reason: string): void {
    const now = this.clock();
    if (now - this.lastWarnAt < 60_000) return;
    this.lastWarnAt = now;
    this.logger.warn(
      { reason, keys: this.keysUrl },
      'Grafana ID token not accepted; the audit log names the token only',
    );
  }

  private async key(kid: string): Promise<KeyObject | undefined> {
    const now = this.clock();
    const stale = now - this.fetchedAt > this.keysMaxAgeMs;
    if ((stale || !this.keys.has(kid)) && now - this.attemptedAt >= this.refetchCooldownMs) {
      // One fetch at a time; concurrent requests wait for it.
      this.inflight ??= this.fetchKeys().finally(() => {
        this.inflight = undefined;
      });
      await this.inflight;
    } else if (this.inflight) {
      await this.inflight;
    }
    return this.keys.get(kid);
  }

  private async fetchKeys(): Promise<void> {
    this.attemptedAt = this.clock();
    try {
      const res = await fetch(this.keysUrl, {
        signal: AbortSignal.timeout(this.fetchTimeoutMs),
        redirect: 'error',
        headers: { accept: 'application/json' },
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const text = await readCapped(res, MAX_JWKS_BYTES);
      const body = JSON.parse(text) as { keys?: unknown };
      const keys = new Map<string, KeyObject>();
      for (const jwk of Array.isArray(body.keys) ? body.keys : []) {
        const k = jwk as Record<string, unknown>;
        if (k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.kid !== 'string') continue;
        if ((k.alg !== undefined && k.alg !== 'ES256') || (k.use !== undefined && k.use !== 'sig')) continue;
        if (typeof k.x !== 'string' || typeof k.y !== 'string' || keys.size >= 50) continue;
        try {
          keys.set(k.kid, createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' }));
        } catch {
          /* not a P-256 point: skipped */
        }
      }
      this.keys = keys;
      this.fetchedAt = this.clock();
    } catch (e) {
      // Keep the keys we had: Grafana restarting must not drop every user name at once.
      this.logger.warn({ err: (e as Error).message, keys: this.keysUrl }, "cannot read Grafana's signing keys");
    }
  }
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Printable text of at most 256 characters (control characters never reach logs or the store). */
export function printable(text: string): string {
  return /^[^\u0000-\u001f\u007f]{1,256}$/u.test(text) ? text : '';
}

async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > max) throw new Error(`the key set is larger than ${max} bytes`);
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) throw new Error(`the key set is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
