// Docker endpoints: one connection each (event stream + periodic full listing), an in-memory
// snapshot of containers and networks, reconciliation into IPAM, and CPU/memory samples taken
// in the background so a scrape only reads memory. An endpoint that cannot be reached is
// marked down and retried with backoff; its snapshot and its IPAM rows stay as they were.
//
// The connections and every periodic part (events, resyncs, heartbeats, stats, image checks)
// run between resume() and pause() — on the replica that leads when several share a PostgreSQL
// database — and can be started and stopped any number of times; stop() is final.
//
// The leader publishes what the read routes need (store/published.ts, at most every 2 s) and
// every replica answers from it while it has no live state of its own: followers, a paused
// leader, and a new leader until each endpoint's first connection attempt has settled.
import { type Clock, systemClock } from '../clock.js';
import type { Logger } from 'pino';
import type { Actor } from '../audit/log.js';
import type { Config, DockerEndpointConfig } from '../config/schema.js';
import { notFound } from '../errors.js';
import { ipKey, parseIp } from '../ipam/core/ip.js';
import { SubnetIndex, type IpamService } from '../ipam/service.js';
import { GLOBAL_VRF_NAME, dockerVrfName } from '../ipam/core/vrf.js';
import type { Store } from '../store/store.js';
import { PublishedState } from '../store/published.js';
import { type TimerLoop, startTimerLoop } from '../timer-loop.js';
import { type DockerClient, type DockerEvent, INSPECT_CONCURRENCY, createDockerClient } from './client.js';
import { mapLimit } from '../map-limit.js';
import { showTarget } from './core/endpoints.js';
import type { Container, ContainerStats, Network } from './core/model.js';
import { type AddressPlan, networkOverlaps, planAddresses, planSubnets } from './core/reconcile.js';
import { DockerStore } from './store.js';
import { jittered } from './core/image-update.js';
import { type ImageCheck, ImageUpdateChecker } from './image-updates.js';
import { type RegistryClient, createRegistryClient } from './registry.js';
import type { ConflictView, ContainerView, EndpointView, NetworkView } from './schemas.js';

export const DOCKER_ACTOR: Actor = { name: 'docker' };

/** A cheap call on a connected endpoint: a TCP peer that vanished does not close the stream. */
const HEARTBEAT_MS = 30_000;
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;
/** Events arrive in bursts (die, stop, network disconnect…): inspect once per burst. */
const EVENT_DEBOUNCE_MS = 50;
const STATS_CONCURRENCY = 4;
/** Container events that do not change what the exporter keeps (exec_* too). */
const IGNORED_ACTIONS = new Set([
  'attach',
  'detach',
  'resize',
  'top',
  'archive-path',
  'extract-to-dir',
  'export',
  'commit',
  'copy',
]);

type DockerConfig = Config['docker'];

interface Endpoint {
  config: DockerEndpointConfig;
  url: string;
  client: DockerClient | null;
  up: boolean;
  version: string | null;
  apiVersion: string | null;
  lastError: string | null;
  lastSyncAt: number | null;
  /** Snapshot from the last successful listing plus events since; kept while the endpoint is down. */
  containers: Map<string, Container>;
  networks: Network[];
  stats: Map<string, ContainerStats>;
  /** Unix seconds of the newest event seen: the `since` of the next connection. */
  lastEventTime: number | undefined;
  events: AbortController | null;
  dirty: Set<string>;
  networksDirty: boolean;
  flushTimer: NodeJS.Timeout | undefined;
  reconnectTimer: NodeJS.Timeout | undefined;
  reconnectDelay: number;
  /** Syncs of one endpoint run one after the other, so an older listing never overwrites a newer one. */
  queue: Promise<void>;
  statsRunning: boolean;
  lastPlanProblems: string;
  /** The activation (generation) in which the endpoint's connection last settled (up or down). */
  settled: number;
}

/** What the read routes show of one endpoint: the live state, or the copy the leader published. */
export interface EndpointState {
  name: string;
  up: boolean;
  version: string | null;
  api_version: string | null;
  last_error: string | null;
  last_sync_at: number | null;
  images_checked_at: number | null;
  containers: Container[];
  networks: Network[];
  /** [container id, stats] */
  stats: [string, ContainerStats][];
  /** [container id, check] */
  images: [string, ImageCheck][];
}

/** The published copy of every endpoint (store/published.ts). */
export interface PublishedDocker {
  endpoints: EndpointState[];
}

export interface DockerDeps {
  client?: (endpoint: DockerEndpointConfig) => DockerClient;
  now?: Clock;
  registry?: RegistryClient;
  /** Source of the check schedule's jitter (0 ≤ x < 1). */
  random?: () => number;
  /** At most one publish of the inventory per this many ms (default 2 s). */
  publishPeriodMs?: number;
}

/** The first image check after start: a minute or so, once the endpoints have listed their containers. */
const FIRST_IMAGE_CHECK_MS = 60_000;
/** A registry that asked to wait is asked again after its Retry-After, but not sooner than this. */
const MIN_IMAGE_RETRY_MS = 30_000;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 500);

export class DockerService {
  /** The store shared with IPAM (a reconciliation is one transaction over both). */
  readonly store: Store;
  readonly dockerStore: DockerStore;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly loops: TimerLoop[] = [];
  /** Between resume() and pause(): connections and periodic work run. */
  private active = false;
  /** After stop(): resume() does nothing. */
  private stopped = false;
  /** Bumped by every resume(): work queued by an earlier activation does not run. */
  private generation = 0;
  /** Null when update checks are off. */
  readonly images: ImageUpdateChecker | null;
  private imageTimer: NodeJS.Timeout | undefined;
  /** The image pass under way, which stop() waits for. */
  private imagePass: Promise<unknown> = Promise.resolve();
  /** The copy every replica reads (written by the leader). */
  private readonly published: PublishedState<PublishedDocker>;

  constructor(
    store: Store,
    readonly ipam: IpamService,
    readonly config: DockerConfig,
    private readonly logger: Logger,
    private readonly deps: DockerDeps = {},
  ) {
    this.store = store;
    this.dockerStore = new DockerStore(store);
    this.published = new PublishedState<PublishedDocker>(
      store,
      'docker',
      (err) => this.logger.warn({ err: messageOf(err) }, 'docker: publishing the inventory failed'),
      deps.publishPeriodMs,
    );
    const now = deps.now ?? systemClock;
    this.images = config.update_checks
      ? new ImageUpdateChecker(config, deps.registry ?? createRegistryClient(now), now, logger)
      : null;
    for (const e of config.endpoints) {
      this.endpoints.set(e.name, {
        config: e,
        url: showTarget(e.target),
        client: null,
        up: false,
        version: null,
        apiVersion: null,
        lastError: null,
        lastSyncAt: null,
        containers: new Map(),
        networks: [],
        stats: new Map(),
        lastEventTime: undefined,
        events: null,
        dirty: new Set(),
        networksDirty: false,
        flushTimer: undefined,
        reconnectTimer: undefined,
        reconnectDelay: RECONNECT_MIN_MS,
        queue: Promise.resolve(),
        statsRunning: false,
        lastPlanProblems: '',
        settled: -1,
      });
    }
  }

  /** Connects the endpoints and starts the periodic work; the same as resume(). */
  start(): void {
    this.resume();
  }

  /**
   * Connects the endpoints and starts the periodic work (events, resyncs, heartbeats, stats,
   * image checks). Idempotent; a no-op after stop(). The snapshots kept from before a pause are
   * replaced by the first listing of each endpoint.
   */
  resume(): void {
    if (this.active || this.stopped || this.endpoints.size === 0) return;
    this.active = true;
    this.generation++;
    this.published.reset();
    for (const ep of this.endpoints.values()) {
      ep.reconnectDelay = RECONNECT_MIN_MS;
      void this.connect(ep);
    }
    const every = (ms: number, fn: (ep: Endpoint) => void) => {
      this.loops.push(
        startTimerLoop(() => {
          for (const ep of this.endpoints.values()) if (ep.up && this.active) fn(ep);
        }, ms),
      );
    };
    every(this.config.resync_seconds * 1000, (ep) => void this.enqueue(ep, () => this.fullSync(ep)));
    every(
      HEARTBEAT_MS,
      (ep) =>
        void this.enqueue(ep, async () => {
          await ep.client!.version();
        }),
    );
    if (this.config.stats) every(this.config.stats_interval_seconds * 1000, (ep) => void this.collectStats(ep));
    if (this.images) this.planImageCheck(jittered(FIRST_IMAGE_CHECK_MS, this.random(), 0.5));
  }

  private random(): number {
    return (this.deps.random ?? Math.random)();
  }

  // ---------------------------------------------------------------- image updates
  private planImageCheck(ms: number): void {
    if (!this.active) return;
    clearTimeout(this.imageTimer);
    this.imageTimer = setTimeout(() => {
      void this.checkImagesNow()
        .catch((err: unknown) => {
          this.logger.warn({ err: messageOf(err) }, 'docker: image update pass failed');
          return { retryAt: null };
        })
        .then(({ retryAt }) => {
          const every = jittered(this.config.update_interval_seconds * 1000, this.random());
          const now = (this.deps.now ?? systemClock)();
          // Images skipped for a registry's Retry-After are tried once it has passed, not hours later.
          this.planImageCheck(retryAt === null ? every : Math.min(every, Math.max(retryAt - now, MIN_IMAGE_RETRY_MS)));
        });
    }, ms);
    this.imageTimer.unref();
  }

  /**
   * One image update pass over every connected endpoint now (the schedule calls it; tests too).
   * An endpoint that is down is skipped: its containers keep their last results.
   */
  checkImagesNow(): Promise<{ retryAt: number | null }> {
    const pass = this.imagePassOnce();
    this.imagePass = pass.catch(() => undefined);
    return pass;
  }

  private async imagePassOnce(): Promise<{ retryAt: number | null }> {
    const images = this.images;
    if (!images) return { retryAt: null };
    // Endpoints one after the other: update_concurrency bounds the requests of the whole
    // exporter, and a tag that runs on several endpoints is asked for once (the cache).
    let retryAt: number | null = null;
    for (const ep of this.endpoints.values()) {
      if (!this.active || !ep.up || !ep.client) continue;
      const r = await images.check(ep.config.name, ep.client, [...ep.containers.values()]);
      this.changed();
      if (r.retryAt !== null) retryAt = Math.min(retryAt ?? r.retryAt, r.retryAt);
    }
    return { retryAt };
  }

  /**
   * Stops the connections and the periodic work and waits for work under way (this replica no
   * longer leads). Idempotent; resume() starts again. Reads answer from the published copy.
   */
  async pause(): Promise<void> {
    this.active = false;
    // What is not published yet stays unpublished: the next leader publishes its own listing.
    this.published.reset();
    clearTimeout(this.imageTimer);
    this.imageTimer = undefined;
    for (const loop of this.loops.splice(0)) loop.stop();
    for (const ep of this.endpoints.values()) {
      clearTimeout(ep.flushTimer);
      ep.flushTimer = undefined;
      clearTimeout(ep.reconnectTimer);
      ep.reconnectTimer = undefined;
      ep.events?.abort();
      ep.events = null;
    }
    await Promise.all([...this.endpoints.values()].map((ep) => ep.queue));
    await this.imagePass;
    await this.published.idle();
  }

  /** Whether the connections and periodic work run. */
  get running(): boolean {
    return this.active;
  }

  /** The final shutdown. */
  async stop(): Promise<void> {
    this.stopped = true;
    // Still leading: the last changes go out before the connections close.
    if (this.active) await this.publishNow();
    await this.pause();
  }

  // ---------------------------------------------------------------- publishing
  /** Something the read routes show changed: publish it (throttled) while this replica leads. */
  private changed(): void {
    if (this.active) this.published.schedule(() => this.publishedCopy());
  }

  private publishedCopy(): PublishedDocker {
    return { endpoints: [...this.endpoints.values()].map((ep) => this.liveState(ep)) };
  }

  /** Publishes the live state now (while leading); tests and stop() use it. */
  async publishNow(): Promise<void> {
    if (!this.active) return;
    this.published.schedule(() => this.publishedCopy());
    await this.published.flush();
  }

  private liveState(ep: Endpoint): EndpointState {
    const images = this.images?.view(ep.config.name);
    return {
      name: ep.config.name,
      up: ep.up,
      version: ep.version,
      api_version: ep.apiVersion,
      last_error: ep.lastError,
      last_sync_at: ep.lastSyncAt,
      images_checked_at: images?.lastSuccess ?? null,
      containers: [...ep.containers.values()],
      networks: ep.networks,
      stats: [...ep.stats],
      images: images ? [...images.results] : [],
    };
  }

  /**
   * The state the read routes show, per configured endpoint: the live one where this replica
   * leads and the endpoint's connection has settled since it started leading, else the copy the
   * leader published (one small statement when it has not changed) unless this replica's own
   * last listing is newer, else an empty one.
   */
  private async states(selected: Endpoint[]): Promise<EndpointState[]> {
    const live = (ep: Endpoint) => this.active && ep.settled === this.generation;
    const copy = selected.every(live) ? null : await this.published.read();
    const byName = new Map((copy?.value.endpoints ?? []).map((e) => [e.name, e]));
    return selected.map((ep) => {
      if (live(ep)) return this.liveState(ep);
      const published = byName.get(ep.config.name);
      // A replica that led until moments ago may hold a listing newer than the last publish
      // (changes within the publish period are not published once it stops leading): the newer one.
      const ownSync = ep.lastSyncAt ?? -Infinity;
      if (ownSync > (published?.last_sync_at ?? -Infinity)) return this.liveState(ep);
      return published ?? emptyState(ep);
    });
  }

  /** Collector status per endpoint, as `docker:<name>`: this replica's own connections. */
  collectors(): Record<string, { up: boolean; message?: string }> {
    return Object.fromEntries(
      [...this.endpoints.values()].map((ep) => [
        `docker:${ep.config.name}`,
        { up: ep.up, ...(ep.up || !ep.lastError ? {} : { message: ep.lastError }) },
      ]),
    );
  }

  /** Collector status per endpoint as the leader published it (/info on a follower). */
  async publishedCollectors(): Promise<Record<string, { up: boolean; message?: string }>> {
    const states = await this.states([...this.endpoints.values()]);
    return Object.fromEntries(
      states.map((s) => [
        `docker:${s.name}`,
        s.up
          ? { up: true }
          : { up: false, message: `${s.last_error ?? 'not connected'} (as the leading replica reports)` },
      ]),
    );
  }

  /** Full listing of every connected endpoint now, for tests and after configuration changes. */
  async syncNow(): Promise<void> {
    await Promise.all(
      [...this.endpoints.values()].filter((ep) => ep.up).map((ep) => this.enqueue(ep, () => this.fullSync(ep))),
    );
  }

  // ---------------------------------------------------------------- connection
  private enqueue(ep: Endpoint, task: () => Promise<void>): Promise<void> {
    const generation = this.generation;
    const current = () => this.active && generation === this.generation;
    const run = ep.queue.then(async () => {
      if (!current()) return;
      try {
        await task();
      } catch (err) {
        if (!current()) return; // cut short by pause()
        this.markDown(ep, err);
        this.scheduleReconnect(ep);
      }
    });
    ep.queue = run;
    return run;
  }

  private connect(ep: Endpoint): Promise<void> {
    ep.reconnectTimer = undefined;
    return this.enqueue(ep, async () => {
      ep.events?.abort();
      ep.events = null;
      const client = (this.deps.client ?? createDockerClient)(ep.config);
      const version = await client.version();
      // The stream opens before the listing, so nothing between the two is missed; `since`
      // replays what happened while the connection was away (as far as the engine keeps it).
      const events = new AbortController();
      const { done } = await client.events(ep.lastEventTime, (e) => this.onEvent(ep, e), events.signal);
      ep.client = client;
      ep.events = events;
      done.then(
        () => this.streamEnded(ep, events, null),
        (err: unknown) => this.streamEnded(ep, events, err),
      );
      await this.fullSync(ep);
      ep.version = version.version;
      ep.apiVersion = version.api_version;
      if (!ep.up)
        this.logger.info(
          { endpoint: ep.config.name, url: ep.url, version: version.version },
          'docker endpoint connected',
        );
      ep.up = true;
      ep.lastError = null;
      ep.reconnectDelay = RECONNECT_MIN_MS;
      ep.settled = this.generation;
      this.changed();
      if (this.config.stats) void this.collectStats(ep);
    });
  }

  private streamEnded(ep: Endpoint, stream: AbortController, err: unknown): void {
    if (!this.active || ep.events !== stream) return;
    this.markDown(ep, new Error(err ? `the event stream broke: ${messageOf(err)}` : 'the event stream ended'));
    this.scheduleReconnect(ep);
  }

  private markDown(ep: Endpoint, err: unknown): void {
    const message = messageOf(err);
    if (ep.up || ep.lastError !== message)
      this.logger.warn({ endpoint: ep.config.name, url: ep.url, err: message }, 'docker endpoint unavailable');
    ep.up = false;
    ep.lastError = message;
    ep.events?.abort();
    ep.events = null;
    ep.settled = this.generation;
    this.changed();
  }

  private scheduleReconnect(ep: Endpoint): void {
    if (!this.active || ep.reconnectTimer) return;
    ep.reconnectTimer = setTimeout(() => void this.connect(ep), ep.reconnectDelay);
    ep.reconnectTimer.unref();
    ep.reconnectDelay = Math.min(ep.reconnectDelay * 2, RECONNECT_MAX_MS);
  }

  // ---------------------------------------------------------------- sync
  private onEvent(ep: Endpoint, e: DockerEvent): void {
    if (e.time > (ep.lastEventTime ?? 0)) ep.lastEventTime = e.time;
    if (e.type === 'container') {
      if (IGNORED_ACTIONS.has(e.action) || e.action.startsWith('exec_')) return;
      ep.dirty.add(e.id);
    } else if (e.type === 'network') {
      if (e.action === 'connect' || e.action === 'disconnect') {
        if (e.attributes.container) ep.dirty.add(e.attributes.container);
      } else {
        ep.networksDirty = true;
      }
    } else {
      return;
    }
    if (!ep.flushTimer) {
      ep.flushTimer = setTimeout(() => {
        ep.flushTimer = undefined;
        void this.enqueue(ep, () => this.flushEvents(ep));
      }, EVENT_DEBOUNCE_MS);
    }
  }

  private async flushEvents(ep: Endpoint): Promise<void> {
    if (!ep.client || !ep.events) return; // down: the reconnect's full listing covers it
    const ids = [...ep.dirty];
    ep.dirty.clear();
    const networks = ep.networksDirty;
    ep.networksDirty = false;
    const client = ep.client;
    const inspected = await mapLimit(ids, INSPECT_CONCURRENCY, (id) => client.container(id));
    if (networks) ep.networks = await ep.client.networks();
    ids.forEach((id, i) => {
      const c = inspected[i];
      if (c) ep.containers.set(c.id, c);
      else ep.containers.delete(id);
    });
    this.changed();
    await this.reconcile(ep);
  }

  private async fullSync(ep: Endpoint): Promise<void> {
    const client = ep.client!;
    const [containers, networks] = await Promise.all([client.containers(), client.networks()]);
    ep.containers = new Map(containers.map((c) => [c.id, c]));
    ep.networks = networks;
    ep.dirty.clear();
    ep.networksDirty = false;
    await this.reconcile(ep);
    ep.lastSyncAt = (this.deps.now ?? systemClock)();
    this.changed();
  }

  /**
   * One transaction: subnets for new networks first (so new addresses have a home), then the
   * address changes, then subnets of networks that are gone. A single refused change (e.g. a
   * pool that would cut into a person's range) is logged and skipped; the rest goes through.
   */
  private async reconcile(ep: Endpoint): Promise<void> {
    const name = ep.config.name;
    const problems: string[] = [];
    /** One change in a savepoint: a refused one is rolled back alone, the transaction goes on. */
    const attempt = async (what: string, fn: () => unknown) => {
      try {
        await this.store.write(fn);
      } catch (err) {
        problems.push(`${what}: ${messageOf(err)}`);
      }
    };
    const keyOf = (address: string): Buffer | undefined => {
      try {
        return ipKey(parseIp(address));
      } catch {
        return undefined;
      }
    };
    let addressPlan: AddressPlan | undefined;
    await this.store.write(async () => {
      problems.length = 0; // PostgreSQL may run the transaction again
      // The endpoint's networks live in its own VRF (#15): the same pool on two hosts is two subnets.
      const vrf = (await this.ipam.ensureVrf(dockerVrfName(name), `Docker networks of endpoint ${name}`, DOCKER_ACTOR))
        .id;
      const subnetPlan = planSubnets(name, ep.networks, await this.dockerStore.subnets(vrf));
      for (const s of subnetPlan.create) {
        await attempt(`subnet ${s.cidr}`, async () => {
          const input = {
            vrf_id: vrf,
            cidr: s.cidr,
            name: s.name,
            description: s.description,
            tags: ['docker'],
            scan_enabled: false,
          };
          let view;
          try {
            view = await this.store.write(() => this.ipam.createSubnet({ ...input, gateway: s.gateway }, DOCKER_ACTOR));
          } catch {
            view = await this.ipam.createSubnet(input, DOCKER_ACTOR); // a gateway IPAM refuses (e.g. outside the usable range)
          }
          await this.dockerStore.linkSubnet(view.id, name, s.network, s.network_id);
        });
      }
      for (const r of subnetPlan.relink) await this.dockerStore.linkSubnet(r.id, name, r.network, r.network_id);
      const removed = new Set(subnetPlan.remove.map((r) => r.id));
      const index = new SubnetIndex(
        (await this.ipam.allSubnets()).filter((s) => s.vrf_id === vrf && !removed.has(s.id)),
      );
      const owned = await this.dockerStore.ownedAddresses(name);
      // Every address the plan may look at, read in a few statements.
      const candidates = [
        ...[...ep.containers.values()].flatMap((c) =>
          c.networks.flatMap((n) => [n.ipv4, n.static_ipv4, n.ipv6, n.static_ipv6]),
        ),
        ...owned.map((r) => r.address),
      ];
      const keys = new Map<string, Buffer>();
      for (const a of candidates) {
        const key = a === null ? undefined : keyOf(a);
        if (key) keys.set(key.toString('hex'), key);
      }
      const rows = await this.dockerStore.addressesAt(vrf, [...keys.values()]);
      addressPlan = planAddresses({
        endpoint: name,
        containers: [...ep.containers.values()],
        owned,
        lookup: (a) => rows.get(ipKey(parseIp(a)).toString('hex')),
        covered: (a) => index.mostSpecific(vrf, parseIp(a)) !== null,
      });
      for (const r of addressPlan.remove)
        await attempt(`release ${r.address}`, () => this.ipam.deleteAddress(r.id, DOCKER_ACTOR));
      for (const r of addressPlan.unlink) await this.dockerStore.unlinkAddress(r.id);
      for (const u of addressPlan.update) {
        await attempt(`update ${u.address}`, async () => {
          await this.ipam.updateAddress(u.id, { ...u.fields, source: 'docker' }, DOCKER_ACTOR);
          await this.dockerStore.linkAddress(u.id, name, u.link);
        });
      }
      for (const c of addressPlan.create) {
        await attempt(`record ${c.address}`, async () => {
          const view = await this.ipam.createAddress(
            { address: c.address, vrf_id: vrf, ...c.fields, source: 'docker' },
            DOCKER_ACTOR,
          );
          await this.dockerStore.linkAddress(view.id, name, c.link);
        });
      }
      // A subnet that still holds a person's addresses stays (IPAM answers 409); it is retried at every sync.
      for (const r of subnetPlan.remove)
        await attempt(`remove subnet ${r.cidr}`, () => this.ipam.deleteSubnet(r.id, false, DOCKER_ACTOR));
    });
    // Log a changed set of problems once, not at every sync.
    const summary = problems.join('; ');
    if (summary !== ep.lastPlanProblems) {
      if (summary) this.logger.warn({ endpoint: name, problems }, 'docker: some IPAM changes were refused');
      ep.lastPlanProblems = summary;
    }
    if (addressPlan?.skipped.length)
      this.logger.debug({ endpoint: name, skipped: addressPlan.skipped }, 'docker: addresses not recorded');
  }

  // ---------------------------------------------------------------- stats
  private async collectStats(ep: Endpoint): Promise<void> {
    if (ep.statsRunning || !ep.client || !ep.up) return;
    ep.statsRunning = true;
    try {
      const client = ep.client;
      const running = [...ep.containers.values()].filter((c) => c.state === 'running');
      const ids = new Set(running.map((c) => c.id));
      for (const id of ep.stats.keys()) if (!ids.has(id)) ep.stats.delete(id);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(STATS_CONCURRENCY, running.length) }, async () => {
          while (next < running.length && this.active) {
            const c = running[next++]!;
            try {
              const s = await client.stats(c.id);
              if (s) ep.stats.set(c.id, s);
            } catch (err) {
              this.logger.debug(
                { endpoint: ep.config.name, container: c.name, err: messageOf(err) },
                'docker stats failed',
              );
            }
          }
        }),
      );
    } finally {
      ep.statsRunning = false;
      this.changed();
    }
  }

  // ---------------------------------------------------------------- views
  private endpoint(name: string): Endpoint {
    const ep = this.endpoints.get(name);
    if (!ep) throw notFound('docker endpoint', name);
    return ep;
  }

  private selected(name: string | undefined): Endpoint[] {
    return name === undefined ? [...this.endpoints.values()] : [this.endpoint(name)];
  }

  /** The in-memory state metrics read: no I/O. */
  snapshot(): {
    name: string;
    up: boolean;
    containers: Container[];
    networks: Network[];
    stats: ReadonlyMap<string, ContainerStats>;
    images: ReturnType<ImageUpdateChecker['view']> | null;
  }[] {
    return [...this.endpoints.values()].map((ep) => ({
      name: ep.config.name,
      up: ep.up,
      containers: [...ep.containers.values()],
      networks: ep.networks,
      stats: ep.stats,
      images: this.images?.view(ep.config.name) ?? null,
    }));
  }

  async endpointViews(): Promise<EndpointView[]> {
    const eps = [...this.endpoints.values()];
    const states = await this.states(eps);
    return eps.map((ep, i) => {
      const s = states[i]!;
      return {
        name: ep.config.name,
        url: ep.url,
        up: s.up,
        version: s.version,
        api_version: s.api_version,
        last_error: s.last_error,
        last_sync_at: iso(s.last_sync_at),
        images_checked_at: iso(s.images_checked_at),
        containers: s.containers.length,
        running: s.containers.filter((c) => c.state === 'running').length,
        networks: s.networks.length,
      };
    });
  }

  async containerViews(endpoint: string | undefined): Promise<ContainerView[]> {
    const out: ContainerView[] = [];
    for (const ep of await this.states(this.selected(endpoint))) {
      const recorded = new Map<string, string[]>();
      const owned = await this.dockerStore.ownedAddresses(ep.name);
      for (const r of owned) {
        if (!r.docker) continue;
        const key = `${r.docker.container_id}|${r.docker.network}`;
        recorded.set(key, [...(recorded.get(key) ?? []), r.address]);
      }
      const sorted = [...ep.containers].sort((a, b) => a.name.localeCompare(b.name));
      // The IPAM rows of every address shown, read in a few statements.
      const shown = new Map<string, Buffer>();
      for (const c of sorted)
        for (const n of c.networks)
          for (const a of [n.ipv4, n.ipv6, n.static_ipv4, n.static_ipv6]) {
            if (a === null) continue;
            const key = ipKey(parseIp(a));
            shown.set(key.toString('hex'), key);
          }
      for (const r of owned) {
        const key = ipKey(parseIp(r.address));
        shown.set(key.toString('hex'), key);
      }
      const vrf = (await this.ipam.allVrfs()).find((v) => v.name === dockerVrfName(ep.name));
      const rows = vrf ? await this.dockerStore.addressesAt(vrf.id, [...shown.values()]) : new Map<string, never>();
      const checks = new Map(ep.images);
      const allStats = new Map(ep.stats);
      for (const c of sorted) {
        const stats = allStats.get(c.id);
        const check: ImageCheck | undefined = c.state === 'running' ? checks.get(c.id) : undefined;
        out.push({
          endpoint: ep.name,
          id: c.id,
          name: c.name,
          image: c.image,
          state: c.state,
          health: c.health,
          restart_count: c.restart_count,
          exit_code: c.exit_code,
          started_at: iso(c.started_at),
          finished_at: iso(c.finished_at),
          created_at: iso(c.created_at),
          compose_project: c.compose_project,
          compose_service: c.compose_service,
          cpu_seconds: stats?.cpu_seconds ?? null,
          memory_bytes: stats?.memory_bytes ?? null,
          image_update: check
            ? {
                status: check.status,
                checked_at: iso(check.checked_at),
                registry_digest: check.registry_digest,
                error: check.error,
              }
            : null,
          networks: c.networks.map((n) => {
            const live = [n.ipv4, n.ipv6].filter((a): a is string => a !== null);
            const all = [
              ...new Set([...live, n.static_ipv4, n.static_ipv6, ...(recorded.get(`${c.id}|${n.network}`) ?? [])]),
            ].filter((a): a is string => a !== null);
            return {
              network: n.network,
              mac: n.mac,
              addresses: all.map((address) => {
                const row = rows.get(ipKey(parseIp(address)).toString('hex'));
                return {
                  address,
                  live: live.includes(address),
                  address_id: row?.id ?? null,
                  source: row?.source ?? null,
                };
              }),
            };
          }),
        });
      }
    }
    return out;
  }

  async networkViews(endpoint: string | undefined): Promise<NetworkView[]> {
    const subnets = await this.dockerStore.subnets();
    // Each endpoint's pools are subnets of its own VRF.
    const byCidr = new Map(subnets.map((s) => [`${s.vrf}|${s.cidr}`, s]));
    return (await this.states(this.selected(endpoint))).flatMap((ep) =>
      [...ep.networks]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((n) => ({
          endpoint: ep.name,
          id: n.id,
          name: n.name,
          driver: n.driver,
          scope: n.scope,
          internal: n.internal,
          containers: ep.containers.filter((c) => c.networks.some((cn) => cn.network === n.name)).length,
          subnets: n.subnets.map((p) => {
            const s = byCidr.get(`${dockerVrfName(ep.name)}|${p.cidr}`);
            return {
              cidr: p.cidr,
              gateway: p.gateway,
              ip_range: p.ip_range,
              subnet_id: s?.id ?? null,
              managed: s !== undefined && s.docker === null,
            };
          }),
        })),
    );
  }

  /** Docker pools overlapping subnets a person manages; computed on read from the snapshots. */
  async conflicts(): Promise<ConflictView[]> {
    const pools = (await this.states([...this.endpoints.values()])).flatMap((ep) =>
      ep.networks.flatMap((n) => n.subnets.map((p) => ({ endpoint: ep.name, network: n.name, cidr: p.cidr }))),
    );
    if (pools.length === 0) return [];
    // A person's subnet in the global VRF (the host's own network) or in the endpoint's VRF.
    const managed = (await this.dockerStore.subnets()).filter((s) => s.docker === null);
    const vrfOf = new Map(managed.map((s) => [s.id, s.vrf]));
    const seenBy = (o: { endpoint: string; subnet_id: number }) =>
      vrfOf.get(o.subnet_id) === GLOBAL_VRF_NAME || vrfOf.get(o.subnet_id) === dockerVrfName(o.endpoint);
    return networkOverlaps(pools, managed)
      .filter(seenBy)
      .map((o) => ({
        kind: 'network_overlap',
        ...o,
        message: `Docker network ${o.network} on ${o.endpoint} (${o.cidr}) ${o.relation === 'same' ? 'is' : o.relation === 'inside' ? 'lies inside' : 'covers'} managed subnet ${o.subnet}`,
      }));
  }
}

/** An endpoint nobody has published yet. */
function emptyState(ep: Endpoint): EndpointState {
  return {
    name: ep.config.name,
    up: false,
    version: null,
    api_version: null,
    last_error: null,
    last_sync_at: null,
    images_checked_at: null,
    containers: [],
    networks: [],
    stats: [],
    images: [],
  };
}
