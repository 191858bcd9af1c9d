// Starts the exporter: store, metrics, HTTP(S) server; stops it cleanly.
import { lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { type AddressInfo, connect } from 'node:net';
import { pino, type Logger } from 'pino';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config/schema.js';
import { registerDiscoveryMetrics } from './discovery/metrics.js';
import { openEchoSocket, probeIcmp } from './discovery/icmp.js';
import { readNeighbours } from './discovery/neighbours.js';
import { nmapAvailable, runNmap } from './discovery/nmap.js';
import { ReverseDns } from './discovery/rdns.js';
import { ScanScheduler } from './discovery/scheduler.js';
import { DiscoveryService } from './discovery/service.js';
import { openPorts } from './discovery/tcp.js';
import { createApp } from './http/app.js';
import { registerAgentMetrics } from './agents/metrics.js';
import { AgentService } from './agents/service.js';
import { CsvImports, recoverImports } from './ipam/csv-import.js';
import { registerIpamMetrics } from './ipam/metrics.js';
import { IpamService } from './ipam/service.js';
import { SeriesBudget, registerBudgetMetrics } from './metrics/bounds.js';
import { createRegistry, registerCollectorMetrics } from './metrics/self.js';
import type { Db } from './store/db.js';
import { StoreHealth } from './store/health.js';
import type { Leadership } from './store/leadership.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';
import { registerTrafficMetrics } from './traffic/metrics.js';
import { TrafficScheduler } from './traffic/scheduler.js';
import { TrafficService } from './traffic/service.js';
import { registerDockerMetrics } from './docker/metrics.js';
import { DockerService } from './docker/service.js';
import { registerProxmoxMetrics } from './proxmox/metrics.js';
import { ProxmoxService } from './proxmox/service.js';
import { VERSION } from './version.js';
import { noteAccepted } from './turns.js';
import { startTimerLoop } from './timer-loop.js';

export interface RunningExporter {
  readonly url: string;
  readonly store: Store;
  /** The SQLite handle; null on PostgreSQL. */
  readonly db: Db | null;
  /** Whether this replica runs the periodic work (always on SQLite). */
  readonly leadership: Leadership;
  readonly discovery: DiscoveryService;
  /** Remote scan agents (#15). */
  readonly agents: AgentService;
  readonly traffic: TrafficService;
  readonly docker: DockerService;
  /** null when Proxmox is not configured. */
  readonly proxmox: ProxmoxService | null;
  /** CSV import jobs (tests reach its hooks through this). */
  readonly imports: CsvImports;
  readonly server: Server;
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.log_level, base: { service: 'lanscape-exporter' } });
}

export interface ExporterOptions {
  /** Source of every timestamp the exporter writes; tests inject a fake one. */
  clock?: Clock;
}

export async function startExporter(
  config: Config,
  logger: Logger = createLogger(config),
  options: ExporterOptions = {},
): Promise<RunningExporter> {
  const clock = options.clock ?? systemClock;
  const opened = await openStore(config, logger);
  const { store, db, leadership } = opened;
  const ipam = new IpamService(store, clock);
  const { registry, observeRequest } = createRegistry({
    dbFile: db ? config.db : null,
    leads: () => leadership.isLeader,
  });
  const writes = store.writes;
  const storeHealth = new StoreHealth(store);
  await storeHealth.start();
  // An import cut short by a stop or a crash is rolled back before anything is served.
  await recoverImports(ipam, logger.child({ domain: 'ipam' }));
  // The subnet list lives in memory (patched per write): read once, before anything is served.
  await ipam.warm();

  const imports = new CsvImports(ipam, writes, logger.child({ domain: 'ipam' }), clock);
  // Per-subnet and per-host series are capped; IPAM's refresh picks the subnets, discovery's the hosts.
  const budget = new SeriesBudget(config.metrics, IpamService.storeOf(ipam));
  registerIpamMetrics(registry, ipam, budget);
  const reverseDns = config.scan.rdns
    ? new ReverseDns({ ...(config.scan.dns_servers ? { servers: config.scan.dns_servers } : {}), now: clock })
    : null;
  const nmap = config.scan.nmap
    ? { available: () => nmapAvailable(), run: (a: string, p: number[]) => runNmap(a, p) }
    : null;
  const discovery = new DiscoveryService(
    store,
    ipam,
    config,
    {
      icmp: probeIcmp,
      openEchoSocket,
      readNeighbours,
      openPorts,
      reverseDns,
      nmap,
      now: clock,
    },
    logger.child({ domain: 'discovery' }),
  );
  let nmapFound: boolean | null = null;
  if (nmap)
    void nmap.available().then((ok) => {
      nmapFound = ok;
      if (!ok) logger.warn('LANSCAPE_SCAN_NMAP is on but nmap is not installed');
    });
  const traffic = new TrafficService(store, config.traffic, { now: clock }, logger.child({ domain: 'traffic' }));
  // Docker endpoints connect in the background; one that is down is only its collector down.
  const docker = new DockerService(store, ipam, config.docker, logger.child({ domain: 'docker' }), {
    now: clock,
  });
  const proxmox = config.proxmox.url
    ? new ProxmoxService(store, ipam, config.proxmox, { now: clock }, logger.child({ domain: 'proxmox' }))
    : null;
  const collectors = (): Record<string, { up: boolean; message?: string }> => ({
    store: storeHealth.status,
    icmp: discovery.icmpStatus,
    ...(reverseDns ? { rdns: { up: reverseDns.healthy !== false } } : {}),
    ...(nmap
      ? { nmap: { up: nmapFound !== false, ...(nmapFound === false ? { message: 'nmap is not installed' } : {}) } }
      : {}),
    ...(config.traffic.hosts.length ? { traffic: traffic.status } : {}),
    // Only the leader connects to Docker engines and Proxmox: its own state, in /metrics too.
    ...(leadership.isLeader ? docker.collectors() : {}),
    ...(proxmox && leadership.isLeader ? { proxmox: proxmox.status } : {}),
  });
  // /info on a follower shows the inventories' collectors as the leader published them (the
  // state its Docker and Proxmox routes answer from); left out when the store cannot be read.
  const infoCollectors = async (): Promise<Record<string, { up: boolean; message?: string }>> => {
    const own = collectors();
    if (leadership.isLeader) return own;
    const [dockerCollectors, proxmoxStatus] = await Promise.all([
      docker.publishedCollectors().catch(() => ({})),
      proxmox?.publishedStatus().catch(() => null),
    ]);
    return { ...own, ...dockerCollectors, ...(proxmoxStatus ? { proxmox: proxmoxStatus } : {}) };
  };
  registerDiscoveryMetrics(registry, discovery, budget);
  const agents = new AgentService(
    store,
    ipam,
    discovery,
    config.scan,
    clock,
    logger.child({ domain: 'agents' }),
    config.agents,
  );
  registerAgentMetrics(registry, agents);
  // Applied batch ids are forgotten after 30 days (periodic work: the leader's).
  const agentUpkeep = startTimerLoop(async () => {
    if (!leadership.isLeader) return;
    await agents.prune().catch((e: unknown) => logger.warn({ err: e }, 'could not forget old agent batch ids'));
  }, 3_600_000);
  registerCollectorMetrics(registry, () => Object.fromEntries(Object.entries(collectors()).map(([k, v]) => [k, v.up])));
  registerBudgetMetrics(registry, budget);
  const scheduler = new ScanScheduler(ipam, discovery, config.scan, clock, (e) =>
    logger.child({ domain: 'discovery' }).error({ err: e }, 'scheduled sweeps: tick failed'),
  );
  registerTrafficMetrics(registry, traffic, clock);
  registerDockerMetrics(registry, docker);
  if (proxmox) {
    await proxmox.recover();
    registerProxmoxMetrics(registry, proxmox);
  }
  const trafficScheduler = new TrafficScheduler(traffic, logger.child({ domain: 'traffic' }), clock);
  // The periodic work runs on the leader only (store/leadership.ts): always this process on
  // SQLite; on PostgreSQL the replica holding the advisory lock, the others take over when it dies.
  let closed = false;
  await leadership.start();
  leadership.onChange((leader) => {
    if (closed) return;
    logger.info({ leader }, leader ? 'leading: periodic work starts here' : 'no longer leading: periodic work paused');
    if (leader) {
      scheduler.resume();
      if (config.traffic.schedules_enabled) trafficScheduler.start();
      docker.resume();
      proxmox?.resume();
    } else {
      scheduler.pause();
      trafficScheduler.stop();
      void Promise.all([docker.pause(), proxmox?.pause()]).catch((e: unknown) =>
        logger.warn({ err: e }, 'pausing the periodic work failed'),
      );
    }
  });
  if (!leadership.isLeader) scheduler.pause();
  if (config.scan.enabled && discovery.icmpStatus.up) scheduler.start();
  if (leadership.isLeader) {
    proxmox?.start();
    if (config.traffic.schedules_enabled) trafficScheduler.start();
  }
  const app = createApp({
    config,
    logger,
    ipam,
    discovery,
    agents,
    traffic,
    docker,
    proxmox,
    registry,
    observeRequest,
    writes,
    imports,
    collectors,
    infoCollectors,
  });
  const tls =
    config.tls.cert_file && config.tls.key_file
      ? { cert: readFileSync(config.tls.cert_file), key: readFileSync(config.tls.key_file) }
      : undefined;
  const server = tls ? createHttps(tls, app) : createHttp(app);
  server.keepAliveTimeout = 65_000;
  // Queued connections are accepted in empty turns before the next slice of long work (turns.ts).
  server.on('connection', noteAccepted);
  // The first scrape derives per-subnet facts and rankings for every subnet (about a second of
  // work at 25,000 subnets): done before listening, not when Prometheus first asks. Done after
  // listening, under load, it made the first scrape take seconds (every scrape that arrived
  // meanwhile shares it).
  await registry.metrics().catch((e: unknown) => {
    logger.warn({ err: e }, 'metrics warm-up failed');
  });
  const socketPath = config.listen.startsWith('unix:') ? config.listen.slice('unix:'.length) : undefined;
  if (socketPath) await removeStaleSocket(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (socketPath) server.listen(socketPath, done);
    else server.listen(splitListen(config.listen).port, splitListen(config.listen).host, done);
  });
  let url: string;
  if (socketPath) {
    url = `unix:${socketPath}`;
  } else {
    const addr = server.address() as AddressInfo;
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    url = `${tls ? 'https' : 'http'}://${shownHost}:${addr.port}`;
  }
  logger.info(
    { url, version: VERSION, store: opened.shownAs, leader: leadership.isLeader },
    'lanscape exporter listening',
  );
  // Docker after listen: a failed start leaves no engine connection behind.
  if (leadership.isLeader) docker.start();

  return {
    url,
    store,
    db,
    leadership,
    server,
    discovery,
    agents,
    traffic,
    docker,
    proxmox,
    imports,
    async close() {
      if (closed) return;
      closed = true;
      // Import jobs stop at their next slice from now on (a stopped one is rolled back at the next start).
      const importsStopped = imports.stop();
      scheduler.stop();
      trafficScheduler.stop();
      agentUpkeep.stop();
      storeHealth.stop();
      await closeServer(server);
      await Promise.all([discovery.stop(), traffic.stop(), docker.stop(), proxmox?.stop(), importsStopped]);
      ipam.close();
      // Last: on PostgreSQL this releases the leadership (another replica takes over at once).
      await opened.close();
    },
  };
}

/** How long close() lets requests under way finish before it cuts their connections. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Stops listening and ends every connection. server.close() alone waits for kept-alive
 * connections, and Node keeps serving new requests on them: a Prometheus scraping more often
 * than keepAliveTimeout over a connection that was busy when close() began kept the exporter
 * (and, on PostgreSQL, its leadership) from ever stopping. Connections are closed as soon as
 * they are idle, and whatever is left after CLOSE_GRACE_MS is cut.
 */
async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
  try {
    await closed;
  } finally {
    clearInterval(idle);
    clearTimeout(cut);
  }
}

/** A socket file left by a killed exporter would make listen() fail; a live one is kept. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw Object.assign(new Error(`${path} exists and is not a socket`), { code: 'EADDRINUSE' });
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path)
      .once('connect', () => {
        probe.destroy();
        resolve(true);
      })
      .once('error', () => resolve(false));
  });
  if (live) throw Object.assign(new Error(`another process listens on ${path}`), { code: 'EADDRINUSE' });
  unlinkSync(path);
}

export function splitListen(listen: string): { host: string | undefined; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host === '' ? undefined : host, port: Number(listen.slice(i + 1)) };
}
