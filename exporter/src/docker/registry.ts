// Adapter to image registries (the Docker Registry HTTP API V2 / OCI distribution API): one
// manifest HEAD per image tag, answered with the Docker-Content-Digest header, through the
// registry's token flow (401 + WWW-Authenticate: Bearer → token endpoint, with the configured
// credentials as Basic auth) or plain Basic auth. Nothing is pulled: a HEAD transfers no
// manifest, and Docker Hub does not count it against the pull limit. Credentials go only into
// Authorization headers; errors and logs never carry them.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../clock.js';
import {
  type CheckFailureReason,
  type ImageReference,
  parseChallenge,
  registryApiHost,
  retryAfterMs,
} from './core/image-update.js';

/** Manifest kinds asked for: an index digest when the tag is multi-platform, as `docker pull` records it. */
const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');
const REQUEST_TIMEOUT_MS = 15_000;
/** Token answers and manifests are a few KiB; anything far larger is not a registry. */
const MAX_BODY = 4 * 1024 * 1024;
/** Retry-After bounds: a registry asking for more than a day is asked again after a day. */
const RATE_LIMIT_DEFAULT_MS = 60_000;
const RATE_LIMIT_MAX_MS = 86_400_000;

export interface RegistryAccess {
  /** Registry host as in image references (docker.io, ghcr.io, registry.lan:5000). */
  host: string;
  username?: string | undefined;
  password?: string | undefined;
  /** PEM CA certificates trusted for this registry, besides the system's. */
  ca?: Buffer | undefined;
  /** Plain HTTP (a registry on a trusted private network); https otherwise. */
  http?: boolean | undefined;
}

export class RegistryError extends Error {
  constructor(
    readonly reason: CheckFailureReason,
    message: string,
    /** For rate_limited: when to ask this registry again, in ms from now. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface RegistryClient {
  /** The digest the registry serves now for `ref`'s tag. Throws RegistryError. */
  digest(ref: ImageReference, access: RegistryAccess | undefined): Promise<string>;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const TLS_CODES = /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_OSSL|HOSTNAME_MISMATCH)/;

function send(
  url: URL,
  method: 'GET' | 'HEAD',
  headers: Record<string, string>,
  access: RegistryAccess | undefined,
): Promise<Answer> {
  const https = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      url,
      {
        method,
        headers: { 'User-Agent': 'lanscape-exporter', ...headers },
        timeout: REQUEST_TIMEOUT_MS,
        ...(https && access?.ca ? { ca: access.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) {
            req.destroy(new RegistryError('bad_response', `${url.host} sent more than ${MAX_BODY} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new RegistryError('unreachable', `${url.host} did not answer in time`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof RegistryError) return reject(err);
      const code = err.code ?? '';
      const reason: CheckFailureReason =
        TLS_CODES.test(code) || /certificate|TLS|SSL/i.test(err.message) ? 'tls' : 'unreachable';
      reject(new RegistryError(reason, `${url.host}: ${code || err.message}`));
    });
    req.end();
  });
}

const header = (a: Answer, name: string): string | undefined => {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function basic(access: RegistryAccess | undefined): string | undefined {
  if (access?.username === undefined || access.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${access.username}:${access.password}`).toString('base64')}`;
}

export function createRegistryClient(clock: Clock): RegistryClient {
  /** Bearer tokens per registry and repository until they expire. */
  const tokens = new Map<string, { token: string; until: number }>();

  async function token(
    challenge: Record<string, string>,
    apiUrl: URL,
    ref: ImageReference,
    access: RegistryAccess | undefined,
  ): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm ?? '');
    } catch {
      throw new RegistryError('bad_response', `${apiUrl.host} named no usable token realm`);
    }
    // Credentials travel to the token service only over TLS (or to the plain-HTTP registry itself).
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && realm.host === apiUrl.host && access?.http))
      throw new RegistryError('bad_response', `${apiUrl.host} named a token realm that is not https`);
    if (challenge.service) realm.searchParams.set('service', challenge.service);
    realm.searchParams.set('scope', `repository:${ref.repository}:pull`);
    const auth = basic(access);
    const a = await send(realm, 'GET', auth ? { Authorization: auth } : {}, access);
    if (a.status === 401 || a.status === 403)
      throw new RegistryError(
        'unauthorized',
        `the token service of ${apiUrl.host} refused the credentials (${a.status})`,
      );
    if (a.status === 429)
      throw new RegistryError(
        'rate_limited',
        `the token service of ${apiUrl.host} answered 429`,
        retryAfterMs(header(a, 'retry-after'), clock(), RATE_LIMIT_DEFAULT_MS, RATE_LIMIT_MAX_MS),
      );
    if (a.status !== 200)
      throw new RegistryError('bad_response', `the token service of ${apiUrl.host} answered ${a.status}`);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(a.body.toString('utf8'));
    } catch {
      throw new RegistryError('bad_response', `the token service of ${apiUrl.host} answered no JSON`);
    }
    const t =
      typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : '';
    if (!t) throw new RegistryError('bad_response', `the token service of ${apiUrl.host} answered no token`);
    const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    // A little before it expires, so a token is never used at its last second.
    tokens.set(`${apiUrl.host}|${ref.repository}`, { token: t, until: clock() + Math.max(ttl - 10, 5) * 1000 });
    return t;
  }

  return {
    async digest(ref, access) {
      if (ref.tag === null) throw new RegistryError('bad_response', 'a reference without a tag has nothing to check');
      const scheme = access?.http ? 'http' : 'https';
      const url = new URL(`${scheme}://${registryApiHost(ref.registry)}/v2/${ref.repository}/manifests/${ref.tag}`);
      const key = `${url.host}|${ref.repository}`;
      const cached = tokens.get(key);
      let authorization = cached && cached.until > clock() ? `Bearer ${cached.token}` : undefined;
      if (!cached || cached.until <= clock()) tokens.delete(key);
      let answer: Answer | undefined;
      for (let attempt = 0; attempt < 2; attempt++) {
        answer = await send(
          url,
          'HEAD',
          { Accept: ACCEPT, ...(authorization ? { Authorization: authorization } : {}) },
          access,
        );
        if (answer.status !== 401 || attempt === 1) break;
        const challenge = parseChallenge(header(answer, 'www-authenticate'));
        if (challenge?.scheme === 'bearer') authorization = `Bearer ${await token(challenge.params, url, ref, access)}`;
        else if (challenge?.scheme === 'basic' && basic(access)) authorization = basic(access);
        else break;
      }
      const a = answer!;
      if (a.status === 429)
        throw new RegistryError(
          'rate_limited',
          `${url.host} answered 429`,
          retryAfterMs(header(a, 'retry-after'), clock(), RATE_LIMIT_DEFAULT_MS, RATE_LIMIT_MAX_MS),
        );
      if (a.status === 401 || a.status === 403) {
        tokens.delete(key);
        throw new RegistryError('unauthorized', `${url.host} refused access to ${ref.repository} (${a.status})`);
      }
      if (a.status === 404) throw new RegistryError('not_found', `${url.host} has no ${ref.repository}:${ref.tag}`);
      if (a.status !== 200) throw new RegistryError('bad_response', `${url.host} answered ${a.status}`);
      const digest = header(a, 'docker-content-digest');
      if (digest && /^sha256:[0-9a-f]{64}$/.test(digest)) return digest;
      // A registry that leaves the header out of HEAD answers: the digest is the manifest's hash.
      const got = await send(
        url,
        'GET',
        { Accept: ACCEPT, ...(authorization ? { Authorization: authorization } : {}) },
        access,
      );
      if (got.status !== 200)
        throw new RegistryError('bad_response', `${url.host} answered ${got.status} to a manifest GET`);
      return `sha256:${createHash('sha256').update(got.body).digest('hex')}`;
    },
  };
}
