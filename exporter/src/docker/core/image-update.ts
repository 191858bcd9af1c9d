// Whether a running container's image has a newer build under the same tag. Pure: image
// references as Docker normalises them, which containers can be checked at all, the decision
// from the digests the engine knows for the image and the digest the registry serves now, and
// the registry's WWW-Authenticate and Retry-After headers. The HTTP side is in ../registry.ts.

/** What the exporter reports per running container. */
export const IMAGE_STATUSES = ['up_to_date', 'update_available', 'pinned', 'local', 'unknown'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

/** Why a registry lookup failed; the failures counter has one series per reason. */
export const CHECK_FAILURE_REASONS = [
  'unreachable',
  'tls',
  'unauthorized',
  'not_found',
  'rate_limited',
  'bad_response',
  'engine',
] as const;
export type CheckFailureReason = (typeof CHECK_FAILURE_REASONS)[number];

export const DOCKER_HUB = 'docker.io';

export interface ImageReference {
  /** Registry host as written (docker.io for Docker Hub), with its port if any. */
  registry: string;
  /** Repository path inside the registry (library/nginx for Docker Hub's official images). */
  repository: string;
  tag: string | null;
  digest: string | null;
}

const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/;

/**
 * Parses an image reference the way the Docker CLI and engine do (distribution/reference's
 * ParseNormalizedNamed): the first path component is a registry when it has a dot or a colon or
 * is `localhost`; otherwise the image lives on Docker Hub, under library/ when it has no slash.
 * Returns null for what is not a reference to a registry image (an image ID, garbage).
 */
export function parseImageReference(text: string): ImageReference | null {
  if (!text || text.length > 1024 || /^sha256:[0-9a-f]{64}$/.test(text) || /^[0-9a-f]{64}$/.test(text)) return null;
  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) return null;
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return null;
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) {
    registry = parts.shift()!;
    if (!HOST_RE.test(registry)) return null;
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT_RE.test(p))) return null;
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  if (tag === null && digest === null) tag = 'latest';
  return { registry, repository: parts.join('/'), tag, digest };
}

/** The host the Registry HTTP API answers on: Docker Hub's API is not at docker.io. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** `registry/repository:tag`, the key results are cached under (many containers share one). */
export function lookupKey(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}:${ref.tag}`;
}

/** The repository part of an engine RepoDigests entry (`name@sha256:…`), normalised like a reference. */
function repoDigest(entry: string): { registry: string; repository: string; digest: string } | null {
  const r = parseImageReference(entry);
  return r && r.digest ? { registry: r.registry, repository: r.repository, digest: r.digest } : null;
}

export type Checkability =
  { kind: 'pinned' } | { kind: 'local' } | { kind: 'checkable'; ref: ImageReference; key: string; digests: string[] };

/**
 * What can be known about a container's image before asking a registry. `image` is what the
 * container was created from (Config.Image); `repoDigests` are the engine's RepoDigests of the
 * image it runs: the manifest digests it was pulled by or pushed as, per repository.
 * - pinned: created from `name@sha256:…`, it can never have a newer build under its name;
 * - local: built here and never pushed or pulled (no digest for its repository), or created
 *   from an image ID: no registry holds what it runs.
 */
export function classifyImage(image: string, repoDigests: readonly string[]): Checkability {
  const ref = parseImageReference(image);
  if (!ref) return { kind: 'local' };
  if (ref.digest !== null) return { kind: 'pinned' };
  const digests = repoDigests
    .map(repoDigest)
    .filter((d) => d !== null && d.registry === ref.registry && d.repository === ref.repository)
    .map((d) => d!.digest);
  if (digests.length === 0) return { kind: 'local' };
  return { kind: 'checkable', ref, key: lookupKey(ref), digests };
}

/**
 * The registry's digest for the tag against the digests the running image is known by. The
 * engine keeps every digest an image was pulled or pushed as, so one match means "the same".
 */
export function compareDigests(running: readonly string[], remote: string): 'up_to_date' | 'update_available' {
  return running.includes(remote) ? 'up_to_date' : 'update_available';
}

/** RFC 7235 challenge: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(header: string | null | undefined): Challenge | null {
  if (!header) return null;
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  const rest = m[2]!;
  re.lastIndex = 0;
  let p: RegExpExecArray | null;
  while (re.lastIndex < rest.length && (p = re.exec(rest)) !== null) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** Retry-After as seconds or an HTTP date, in milliseconds from `now`; `fallbackMs` when absent or unreadable. */
export function retryAfterMs(
  header: string | null | undefined,
  now: number,
  fallbackMs: number,
  maxMs: number,
): number {
  let ms = fallbackMs;
  const v = header?.trim();
  if (v && /^\d{1,10}$/.test(v)) ms = Number(v) * 1000;
  else if (v) {
    const at = Date.parse(v);
    if (Number.isFinite(at)) ms = at - now;
  }
  return Math.min(Math.max(ms, 1000), maxMs);
}

/** The next run of a periodic check: `everyMs` spread by ±`spread` so many exporters do not ask at once. */
export function jittered(everyMs: number, random: number, spread = 0.1): number {
  return Math.round(everyMs * (1 - spread + 2 * spread * Math.min(Math.max(random, 0), 1)));
}
