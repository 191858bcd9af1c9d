// Adapter to one Docker Engine API endpoint through dockerode: the few calls the exporter
// makes, normalised by core/model.ts. Read-only: nothing here creates, changes or removes.
import { systemClock } from '../clock.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mapLimit } from '../map-limit.js';
import type Docker from 'dockerode';
import type { DockerEndpointConfig } from '../config/schema.js';
import {
  type Container,
  type ContainerStats,
  type Network,
  containerFromInspect,
  networkFromApi,
  statsFromApi,
} from './core/model.js';

export interface DockerEvent {
  type: string;
  action: string;
  id: string;
  attributes: Record<string, string>;
  time: number;
}

export interface DockerClient {
  version(): Promise<{ version: string; api_version: string }>;
  /** Every container (running or not), inspected. */
  containers(): Promise<Container[]>;
  /** One container inspected; null when it no longer exists. */
  container(id: string): Promise<Container | null>;
  networks(): Promise<Network[]>;
  /**
   * Follows the event stream (containers and networks) from `since` (Unix seconds) until it
   * ends or `signal` aborts; resolves once the stream is open and returns its end as `done`.
   */
  events(
    since: number | undefined,
    onEvent: (e: DockerEvent) => void,
    signal: AbortSignal,
  ): Promise<{ done: Promise<void> }>;
  /**
   * The RepoDigests of an image (`name@sha256:…`: the manifest digests it was pulled by or pushed
   * as); null when the image no longer exists. Read-only, like everything here.
   */
  imageDigests(id: string): Promise<string[] | null>;
  /** One CPU/memory sample without Docker's 1 s wait between two samples (one-shot). */
  stats(id: string): Promise<ContainerStats | null>;
}

const REQUEST_TIMEOUT_MS = 10_000;
export const INSPECT_CONCURRENCY = 8;

/** dockerode merges its options over DOCKER_HOST & co. from the environment: name every one. */
function modemOptions(e: DockerEndpointConfig, timeout: number | undefined): Docker.DockerOptions {
  const t = e.target;
  const base = {
    timeout,
    version: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
    pathPrefix: undefined,
  } as Docker.DockerOptions;
  if (t.kind === 'unix') return { ...base, socketPath: t.path, host: undefined, port: undefined, protocol: undefined };
  const read = (what: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read tls.${what} ${file}: ${(err as Error).message}`);
    }
  };
  const tls =
    t.kind === 'tcp' && e.tls
      ? {
          ca: read('ca_file', e.tls.ca_file),
          cert: read('cert_file', e.tls.cert_file),
          key: read('key_file', e.tls.key_file),
        }
      : {};
  return {
    ...base,
    socketPath: undefined,
    host: t.host,
    port: t.port,
    protocol: t.kind === 'tcp' ? 'https' : 'http',
    ...tls,
  };
}

/** Longest event line accepted from the engine (events are well under 1 KiB). */
const MAX_EVENT_LINE = 1024 * 1024;

const notFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;

export function createDockerClient(endpoint: DockerEndpointConfig): DockerClient {
  // TLS files are read here, at every (re)connect, so renewed certificates are picked up.
  const Dockerode = loadDockerode();
  const api = new Dockerode(modemOptions(endpoint, REQUEST_TIMEOUT_MS));
  // The event stream is idle for long stretches: no socket timeout on it.
  const stream = new Dockerode(modemOptions(endpoint, undefined));
  const inspect = async (id: string): Promise<Container | null> => {
    try {
      return containerFromInspect(await api.getContainer(id).inspect());
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  };
  return {
    async version() {
      const v = await api.version();
      return { version: v.Version, api_version: v.ApiVersion };
    },
    async containers() {
      const list = await api.listContainers({ all: true });
      const inspected = await mapLimit(list, INSPECT_CONCURRENCY, (c) => inspect(c.Id));
      return inspected.filter((c): c is Container => c !== null);
    },
    container: inspect,
    async networks() {
      return (await api.listNetworks()).map(networkFromApi);
    },
    async events(since, onEvent, signal) {
      const opts = {
        filters: { type: ['container', 'network'] },
        ...(since === undefined ? {} : { since }),
        abortSignal: signal,
      };
      const res = (await stream.getEvents(opts as Docker.GetEventsOptions)) as NodeJS.ReadableStream & {
        destroy?: () => void;
      };
      const done = new Promise<void>((resolve, reject) => {
        let buffer = '';
        res.on('data', (chunk: Buffer) => {
          buffer += chunk.toString('utf8');
          // Events are one JSON line each, well under a kilobyte: a stream that never ends a line
          // is broken (or hostile), and must not grow the buffer without bound.
          if (buffer.length > MAX_EVENT_LINE && buffer.indexOf('\n') < 0) {
            res.destroy?.();
            reject(new Error(`the Docker event stream sent more than ${MAX_EVENT_LINE} bytes without a line break`));
            return;
          }
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            let raw: {
              Type?: string;
              Action?: string;
              Actor?: { ID?: string; Attributes?: Record<string, string> };
              time?: number;
            };
            try {
              raw = JSON.parse(line);
            } catch {
              continue;
            }
            onEvent({
              type: raw.Type ?? '',
              action: raw.Action ?? '',
              id: raw.Actor?.ID ?? '',
              attributes: raw.Actor?.Attributes ?? {},
              time: raw.time ?? 0,
            });
          }
        });
        res.on('end', () => resolve());
        res.on('close', () => resolve());
        res.on('error', (err: Error) => (signal.aborted ? resolve() : reject(err)));
        signal.addEventListener('abort', () => res.destroy?.(), { once: true });
      });
      return { done };
    },
    async imageDigests(id) {
      try {
        const raw = (await api.getImage(id).inspect()) as { RepoDigests?: unknown };
        return Array.isArray(raw.RepoDigests) ? raw.RepoDigests.filter((d): d is string => typeof d === 'string') : [];
      } catch (err) {
        if (notFound(err)) return null;
        throw err;
      }
    },
    async stats(id) {
      try {
        const raw = await api.getContainer(id).stats({ stream: false, 'one-shot': true });
        return statsFromApi(raw, systemClock());
      } catch (err) {
        if (notFound(err)) return null;
        throw err;
      }
    },
  };
}

// dockerode is loaded when the first endpoint is: an exporter without Docker never pays for it.
let dockerode: typeof Docker | undefined;
function loadDockerode(): typeof Docker {
  dockerode ??= createRequire(import.meta.url)('dockerode') as typeof Docker;
  return dockerode;
}
