// Image update checks: per endpoint, every running container's image digests (from the engine)
// against the digest its registry serves now for the same tag (registry.ts). Only reports:
// nothing is pulled, nothing restarted. One lookup per image tag and pass, shared by every
// container (and endpoint) running it; at most `update_concurrency` registry requests at once;
// a registry that answers 429 is left alone until its Retry-After has passed. A failed lookup
// keeps the container's last result, so a registry outage changes no update metric (and fires
// or clears no alert): it shows in the failure counter and in a last-success time that stops.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { DockerRegistryConfig } from '../config/schema.js';
import { mapLimit } from '../map-limit.js';
import type { DockerClient } from './client.js';
import {
  CHECK_FAILURE_REASONS,
  type CheckFailureReason,
  DOCKER_HUB,
  type ImageReference,
  type ImageStatus,
  classifyImage,
  compareDigests,
} from './core/image-update.js';
import type { Container } from './core/model.js';
import { type RegistryAccess, type RegistryClient, RegistryError } from './registry.js';

/** Engine calls (image inspect) at once; they are local and cheap. */
const ENGINE_CONCURRENCY = 4;

export interface ImageCheck {
  status: ImageStatus;
  /** The image the result is about: a recreated container starts over. */
  image_id: string | null;
  /** When the registry last answered for this container's image (ms). */
  checked_at: number | null;
  /** What the registry serves for the tag, from that answer. */
  registry_digest: string | null;
  /** Why the last lookup failed; null after a successful one. */
  error: string | null;
}

interface EndpointState {
  results: Map<string, ImageCheck>;
  lastSuccess: number | null;
  lastRun: number | null;
  failures: Map<CheckFailureReason, number>;
  running: Promise<PassResult> | null;
  /** The last logged problem, so an outage is logged once and not at every pass. */
  lastProblem: string;
}

export interface PassResult {
  /** Lookups a registry answered 429 to or that were skipped for it: the earliest time to try again (ms). */
  retryAt: number | null;
}

export interface ImageUpdateSettings {
  update_interval_seconds: number;
  update_concurrency: number;
  registries: DockerRegistryConfig[];
}

type Lookup = { digest: string } | { error: RegistryError } | { deferred: number };

const HUB_ALIASES = new Set([DOCKER_HUB, 'index.docker.io', 'registry-1.docker.io']);
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 300);

export class ImageUpdateChecker {
  private readonly endpoints = new Map<string, EndpointState>();
  /** Registry answers per `registry/repository:tag`, reused within half an interval. */
  private readonly cache = new Map<string, { digest: string; at: number }>();
  /** Registries that answered 429: not asked again before this time (ms). */
  private readonly backoff = new Map<string, number>();

  constructor(
    private readonly settings: ImageUpdateSettings,
    private readonly registry: RegistryClient,
    private readonly now: Clock,
    private readonly logger: Logger,
  ) {}

  private state(endpoint: string): EndpointState {
    let s = this.endpoints.get(endpoint);
    if (!s) {
      s = {
        results: new Map(),
        lastSuccess: null,
        lastRun: null,
        failures: new Map(CHECK_FAILURE_REASONS.map((r) => [r, 0])),
        running: null,
        lastProblem: '',
      };
      this.endpoints.set(endpoint, s);
    }
    return s;
  }

  /** The results of the last pass per container id, for metrics and the API: no I/O. */
  view(endpoint: string): {
    results: ReadonlyMap<string, ImageCheck>;
    lastSuccess: number | null;
    failures: ReadonlyMap<CheckFailureReason, number>;
  } {
    const s = this.state(endpoint);
    return { results: s.results, lastSuccess: s.lastSuccess, failures: s.failures };
  }

  /** One pass over an endpoint's running containers; a pass already under way is joined, not doubled. */
  check(endpoint: string, client: DockerClient, containers: readonly Container[]): Promise<PassResult> {
    const s = this.state(endpoint);
    s.running ??= this.pass(s, endpoint, client, containers).finally(() => {
      s.running = null;
    });
    return s.running;
  }

  private access(registry: string): RegistryAccess | undefined {
    const host = registry.toLowerCase();
    const entry = this.settings.registries.find((r) => {
      const h = r.host.toLowerCase();
      return h === host || (HUB_ALIASES.has(h) && HUB_ALIASES.has(host));
    });
    if (!entry) return undefined;
    // Files are read at every pass: a renewed token or CA is picked up without a restart.
    const read = (what: string, file: string) => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new RegistryError(
          'unauthorized',
          `registry ${entry.host}: cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
    };
    return {
      host: entry.host,
      username: entry.username,
      password: entry.password_file
        ? read('password_file', entry.password_file).toString('utf8').trim()
        : entry.password,
      ca: entry.ca_file ? read('ca_file', entry.ca_file) : undefined,
      http: entry.http,
    };
  }

  private async lookup(ref: ImageReference, key: string): Promise<Lookup> {
    const now = this.now();
    const cached = this.cache.get(key);
    if (cached && now - cached.at < (this.settings.update_interval_seconds * 1000) / 2)
      return { digest: cached.digest };
    const until = this.backoff.get(ref.registry);
    if (until !== undefined && until > now) return { deferred: until };
    try {
      const digest = await this.registry.digest(ref, this.access(ref.registry));
      this.cache.set(key, { digest, at: this.now() });
      return { digest };
    } catch (err) {
      const e = err instanceof RegistryError ? err : new RegistryError('bad_response', messageOf(err));
      if (e.reason === 'rate_limited') {
        this.backoff.set(ref.registry, this.now() + (e.retryAfterMs ?? 60_000));
      }
      return { error: e };
    }
  }

  private async pass(
    s: EndpointState,
    endpoint: string,
    client: DockerClient,
    containers: readonly Container[],
  ): Promise<PassResult> {
    const running = containers.filter((c) => c.state === 'running');
    const problems: string[] = [];
    const fail = (reason: CheckFailureReason, message: string) => {
      s.failures.set(reason, (s.failures.get(reason) ?? 0) + 1);
      problems.push(message);
    };
    // The engine's digests per image (many containers share one image).
    const imageIds = [...new Set(running.map((c) => c.image_id).filter((id): id is string => id !== null))];
    const digests = new Map<string, string[] | null | Error>();
    await mapLimit(imageIds, ENGINE_CONCURRENCY, async (id) => {
      try {
        digests.set(id, await client.imageDigests(id));
      } catch (err) {
        digests.set(id, err instanceof Error ? err : new Error(String(err)));
      }
    });
    const plans = running.map((c) => {
      const d = c.image_id === null ? [] : digests.get(c.image_id);
      if (d instanceof Error) return { c, kind: 'engine' as const, error: d };
      return { c, ...classifyImage(c.image, d ?? []) };
    });
    const engineErrors = new Set(plans.flatMap((p) => (p.kind === 'engine' ? [messageOf(p.error)] : [])));
    for (const m of engineErrors) fail('engine', `image inspect: ${m}`);
    const refs = new Map<string, ImageReference>();
    for (const p of plans) if (p.kind === 'checkable') refs.set(p.key, p.ref);
    // Answers too old to reuse are dropped: the cache holds only tags that still run somewhere.
    const horizon = this.now() - this.settings.update_interval_seconds * 1000;
    for (const [key, entry] of this.cache) if (entry.at < horizon) this.cache.delete(key);
    const answers = new Map<string, Lookup>();
    const keys = [...refs.keys()];
    await mapLimit(keys, this.settings.update_concurrency, async (key) => {
      answers.set(key, await this.lookup(refs.get(key)!, key));
    });
    let retryAt: number | null = null;
    const later = (at: number | undefined) => {
      if (at !== undefined) retryAt = Math.min(retryAt ?? at, at);
    };
    for (const [key, a] of answers) {
      if ('error' in a) {
        fail(a.error.reason, `${key}: ${a.error.message}`);
        // The registry that said 429 is asked again once its Retry-After has passed.
        if (a.error.reason === 'rate_limited') later(this.backoff.get(refs.get(key)!.registry));
      } else if ('deferred' in a) later(a.deferred);
    }
    const now = this.now();
    const next = new Map<string, ImageCheck>();
    for (const p of plans) {
      const before = s.results.get(p.c.id);
      const kept = before && before.image_id === p.c.image_id ? before : undefined;
      if (p.kind === 'pinned' || p.kind === 'local') {
        next.set(p.c.id, {
          status: p.kind,
          image_id: p.c.image_id,
          checked_at: now,
          registry_digest: null,
          error: null,
        });
        continue;
      }
      if (p.kind === 'engine') {
        next.set(p.c.id, kept ?? unknown(p.c.image_id, messageOf(p.error)));
        continue;
      }
      const a = answers.get(p.key)!;
      if ('digest' in a) {
        next.set(p.c.id, {
          status: compareDigests(p.digests, a.digest),
          image_id: p.c.image_id,
          checked_at: now,
          registry_digest: a.digest,
          error: null,
        });
      } else {
        const error =
          'error' in a
            ? a.error.message
            : `${p.ref.registry} asked to wait (429); asked again after ${new Date(a.deferred).toISOString()}`;
        next.set(p.c.id, kept ? { ...kept, error } : unknown(p.c.image_id, error));
      }
    }
    s.results = next;
    s.lastRun = now;
    if (problems.length === 0 && retryAt === null) s.lastSuccess = now;
    const summary = problems.join('; ');
    if (summary !== s.lastProblem) {
      if (summary) this.logger.warn({ endpoint, problems }, 'docker: image update check failed for some images');
      else this.logger.info({ endpoint }, 'docker: image update checks answer again');
      s.lastProblem = summary;
    }
    return { retryAt };
  }
}

const unknown = (imageId: string | null, error: string): ImageCheck => ({
  status: 'unknown',
  image_id: imageId,
  checked_at: null,
  registry_digest: null,
  error,
});
