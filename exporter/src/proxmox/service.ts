// Proxmox VE inventory: nodes and guests read periodically (bounded: a few requests at a time,
// each with a timeout), guest addresses recorded in IPAM through IpamService (so IPAM's rules
// and audit apply), and the reads the VM wizard needs (templates, storages, bridges).
//
// The leader runs the inventory and publishes its result (store/published.ts); the read routes
// answer from the leader's memory on the leader once it has run since it started leading, and
// from the published copy everywhere else (followers, a paused leader, a new one before its
// first run ends).
import { GLOBAL_VRF_ID } from '../ipam/core/vrf.js';
import { systemClock } from '../clock.js';
import type { Logger } from 'pino';
import type { Actor } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import { LanscapeError } from '../errors.js';
import { HOSTNAME_RE } from '../ipam/core/fields.js';
import { parseIp } from '../ipam/core/ip.js';
import { usableBounds } from '../ipam/core/prefix.js';
import { type IpamService, prefixOf } from '../ipam/service.js';
import type { Store } from '../store/store.js';
import { PublishedState } from '../store/published.js';
import { type TimerLoop, startTimerLoop } from '../timer-loop.js';
import { type PveClient, ProxmoxError, createPveClient } from './client.js';
import { type Guest, type Inventory, agentAddresses, lxcAddresses, parseGuests, parseNodes } from './core/inventory.js';
import { type Plan, type RowInfo, reconcile } from './core/reconcile.js';
import { mapLimit } from '../map-limit.js';
import { ProxmoxStore } from './store.js';
import type { BridgeListView, GuestListView, NodeListView, StorageListView, TemplateListView } from './schemas.js';
import { VmJobs } from './vms.js';

export type ProxmoxConfig = Config['proxmox'];
export type { Inventory } from './core/inventory.js';

export interface ReconcileSummary {
  created: number;
  updated: number;
  released: number;
}

export interface ProxmoxDeps {
  client?: PveClient;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** At most one publish of the inventory per this many ms (default 2 s). */
  publishPeriodMs?: number;
}

/** The published inventory: what the read routes and /info need (store/published.ts). */
export interface PublishedProxmox {
  inventory: (Omit<Inventory, 'nodesRead'> & { nodesRead: string[] }) | null;
  last_error: string | null;
  summary: ReconcileSummary | null;
}

/** The state a read answers from. */
interface InventoryState {
  inventory: Inventory | null;
  lastError: string | null;
}

const ACTOR: Actor = { name: 'proxmox' };
/** Nodes read per run; a cluster larger than this is not a homelab. */
const MAX_NODES = 64;

export class ProxmoxService {
  readonly client: PveClient;
  /** The store shared with IPAM (the inventory's changes and IPAM's are one transaction). */
  readonly store: Store;
  readonly proxmoxStore: ProxmoxStore;
  readonly vms: VmJobs;
  readonly now: () => number;
  private last: Inventory | null = null;
  private lastError: string | null = null;
  private lastSummary: ReconcileSummary | null = null;
  private inflight: Promise<Inventory> | null = null;
  private loop: TimerLoop | undefined;
  private stopped = false;
  /** A run ended since this replica last started leading: its memory is current. */
  private fresh = false;
  private readonly published: PublishedState<PublishedProxmox>;

  constructor(
    store: Store,
    readonly ipam: IpamService,
    readonly config: ProxmoxConfig,
    deps: ProxmoxDeps,
    private readonly logger: Logger,
  ) {
    if (!config.url || !config.token_id || !config.token_secret)
      throw new Error('proxmox.url, token_id and token_secret are required');
    this.client =
      deps.client ??
      createPveClient({
        url: config.url,
        tokenId: config.token_id,
        tokenSecret: config.token_secret,
        fingerprint: config.fingerprint,
        caFile: config.ca_file,
        timeoutMs: config.timeout_seconds * 1000,
        maxSockets: config.concurrency + 1,
      });
    this.now = deps.now ?? systemClock;
    this.store = store;
    this.proxmoxStore = new ProxmoxStore(store);
    this.published = new PublishedState<PublishedProxmox>(
      store,
      'proxmox',
      (err) => this.logger.warn({ err: (err as Error).message }, 'proxmox: publishing the inventory failed'),
      deps.publishPeriodMs,
    );
    this.vms = new VmJobs(
      ipam,
      store,
      this.proxmoxStore,
      this.client,
      config,
      {
        now: this.now,
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
        inventory: async () => (await this.current()).inventory,
      },
      logger.child({ part: 'vm-jobs' }),
    );
  }

  /** Collector status for /info and lanscape_collector_up{collector="proxmox"}: this replica's runs. */
  get status(): { up: boolean; message?: string } {
    return statusOf({ inventory: this.last, lastError: this.lastError });
  }

  /** Collector status from the inventory the read routes answer from (/info on a follower). */
  async publishedStatus(): Promise<{ up: boolean; message?: string }> {
    const s = statusOf(await this.current());
    return s.up ? s : { up: false, message: `${s.message ?? ''} (as the leading replica reports)` };
  }

  /**
   * The inventory reads answer from: this replica's last run when it leads and has run since,
   * else the published copy (one small statement when unchanged), else none yet.
   */
  private async current(): Promise<InventoryState> {
    if (this.running && this.fresh) return { inventory: this.last, lastError: this.lastError };
    const copy = await this.published.read();
    if (!copy) return { inventory: null, lastError: null };
    const inv = copy.value.inventory;
    return {
      inventory: inv && { ...inv, nodesRead: new Set(inv.nodesRead) },
      lastError: copy.value.last_error,
    };
  }

  /** Publishes the state of the last run now (while leading); tests use it. */
  async publishNow(): Promise<void> {
    if (!this.running) return;
    this.schedulePublish();
    await this.published.flush();
  }

  private schedulePublish(): void {
    this.published.schedule(() => ({
      inventory: this.last && { ...this.last, nodesRead: [...this.last.nodesRead] },
      last_error: this.lastError,
      summary: this.lastSummary,
    }));
  }

  /** Whether the last inventory run reached the API; null before the first one. */
  get up(): boolean | null {
    if (this.lastError) return false;
    return this.last ? true : null;
  }

  get inventory(): Inventory | null {
    return this.last;
  }
  get summary(): ReconcileSummary | null {
    return this.lastSummary;
  }

  /** Fails the VM jobs a stop or crash cut short (vms.ts, recover); the inventory loop does it too. */
  recover(): Promise<number> {
    return this.vms.recover();
  }

  /** Starts the periodic inventory (and recovery of abandoned VM jobs); the same as resume(). */
  start(): void {
    this.resume();
  }

  /**
   * (Re)starts the periodic part — the inventory loop, which also fails abandoned VM jobs — on
   * the replica that leads. Idempotent; a no-op after stop().
   */
  resume(): void {
    if (this.loop || this.stopped) return;
    this.fresh = false;
    this.published.reset();
    const tick = async () => {
      // Both log their own failures; the loop goes on.
      await this.vms.recover().catch((err: unknown) => {
        this.logger.warn({ err: (err as Error).message }, 'VM jobs: recovery failed');
      });
      await this.refresh().catch(() => undefined);
    };
    this.loop = startTimerLoop(tick, this.config.interval_seconds * 1000, { runNow: true });
  }

  /**
   * Stops the periodic part (this replica no longer leads) and waits for a run under way.
   * Idempotent; resume() starts it again. VM jobs this replica accepted keep running, and reads
   * (the published inventory, the wizard's live calls) keep answering.
   */
  async pause(): Promise<void> {
    this.loop?.stop();
    this.loop = undefined;
    this.published.reset();
    await this.inflight?.catch(() => undefined);
    await this.published.idle();
  }

  /** Whether the periodic part runs. */
  get running(): boolean {
    return this.loop !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.publishNow();
    await this.pause();
    // Abort first, then drop the sockets, so nothing waits for a request timeout.
    this.vms.abort();
    this.client.transport.close();
    await Promise.allSettled([this.inflight, this.vms.idle()]);
  }

  /** One inventory run; callers during a run share it. Throws the run's error in words. */
  refresh(): Promise<Inventory> {
    this.inflight ??= this.run().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async run(): Promise<Inventory> {
    try {
      const inv = await this.collect();
      this.lastSummary = await this.apply(inv);
      this.last = inv;
      this.lastError = null;
      return inv;
    } catch (e) {
      this.lastError = e instanceof ProxmoxError ? e.message : `inventory failed: ${(e as Error).message}`;
      this.logger.warn({ collector: 'proxmox' }, this.lastError);
      throw e;
    } finally {
      if (this.running) {
        this.fresh = true;
        this.schedulePublish();
      }
    }
  }

  private async collect(): Promise<Inventory> {
    const startedAt = this.now();
    const api = this.client.api;
    const nodes = parseNodes(await api.nodes.$get()).slice(0, MAX_NODES);
    const guests: Guest[] = [];
    const nodesRead = new Set<string>();
    const problems: string[] = [];
    const limit = this.config.concurrency;
    await mapLimit(
      nodes.filter((n) => n.online),
      limit,
      async (n) => {
        try {
          const node = api.nodes.$(n.node);
          const qemu = parseGuests(await node.qemu.$get(), n.node, 'qemu');
          const lxc = parseGuests(await node.lxc.$get(), n.node, 'lxc');
          guests.push(...qemu, ...lxc);
          nodesRead.add(n.node);
        } catch (e) {
          problems.push(`node ${n.node}: ${(e as Error).message}`);
        }
      },
    );
    guests.sort((a, b) => a.vmid - b.vmid);
    // Addresses of running guests: the QEMU guest agent or the container's interfaces. A guest
    // without a running agent answers an error; its addresses stay unknown (not empty).
    const running = guests.filter((g) => g.running && !g.template).slice(0, this.config.max_guests);
    if (running.length < guests.filter((g) => g.running && !g.template).length) {
      problems.push(`addresses read for the first ${this.config.max_guests} running guests only (proxmox.max_guests)`);
    }
    await mapLimit(running, limit, async (g) => {
      try {
        if (g.type === 'qemu') {
          g.addresses = agentAddresses(await api.nodes.$(g.node).qemu.$(g.vmid).agent['network-get-interfaces'].$get());
        } else {
          g.addresses = lxcAddresses(await api.nodes.$(g.node).lxc.$(g.vmid).interfaces.$get());
        }
      } catch (e) {
        this.logger.debug({ vmid: g.vmid, node: g.node }, `no addresses: ${(e as Error).message}`);
      }
    });
    return { startedAt, finishedAt: this.now(), nodes, guests, nodesRead, problems };
  }

  /** Records guest addresses in IPAM and releases what is gone: one transaction, every change audited. */
  private async apply(inv: Inventory): Promise<ReconcileSummary> {
    const released: { address: string; reason: string }[] = [];
    const summary = await this.store.write(async () => {
      released.length = 0; // PostgreSQL may run the transaction again
      const links = await this.proxmoxStore.links();
      const managed = new Set<string>();
      const rows = new Map<string, RowInfo>();
      const remember = async (address: string) => {
        const row = await this.ipam.addressAt(GLOBAL_VRF_ID, parseIp(address));
        if (row)
          rows.set(row.address, {
            id: row.id,
            address: row.address,
            source: row.source,
            hostname: row.hostname,
            description: row.description,
          });
      };
      for (const g of inv.guests) {
        for (const a of g.addresses ?? []) {
          if (!(await this.isManaged(a.address))) continue;
          managed.add(a.address);
          await remember(a.address);
        }
      }
      for (const l of links) await remember(l.address);
      const plan: Plan = reconcile(
        {
          startedAt: inv.startedAt,
          guests: inv.guests,
          nodesRead: inv.nodesRead,
          clusterNodes: new Set(inv.nodes.map((n) => n.node)),
        },
        links,
        rows,
        managed,
        (name) => (HOSTNAME_RE.test(name) ? name : null),
      );
      const summary = { created: 0, updated: 0, released: 0 };
      const now = this.now();
      for (const c of plan.create) {
        try {
          // A savepoint: a refused address leaves the rest of the transaction usable (PostgreSQL).
          await this.store.write(async () => {
            const view = await this.ipam.createAddress(
              {
                address: c.address,
                state: 'assigned',
                source: 'proxmox',
                hostname: c.hostname,
                description: c.description,
                mac: c.mac,
              },
              ACTOR,
            );
            await this.proxmoxStore.insertLink({
              address_id: view.id,
              vmid: c.vmid,
              node: c.node,
              guest_type: c.type,
              pinned: false,
              job_id: null,
              created_at: now,
            });
          });
          summary.created++;
        } catch (e) {
          if (!(e instanceof LanscapeError)) throw e;
          this.logger.debug({ address: c.address }, `not recorded: ${e.message}`);
        }
      }
      for (const u of plan.update) {
        await this.ipam.updateAddress(u.address_id, { hostname: u.hostname, description: u.description }, ACTOR);
        await this.proxmoxStore.updateLink(u.address_id, {
          vmid: u.link.vmid!,
          node: u.link.node!,
          guest_type: u.link.guest_type!,
        });
        summary.updated++;
      }
      for (const r of plan.release) {
        await this.ipam.deleteAddress(r.address_id, ACTOR);
        released.push({ address: r.address, reason: r.reason });
        summary.released++;
      }
      for (const id of plan.unlink) await this.proxmoxStore.deleteLink(id);
      return summary;
    });
    for (const r of released) this.logger.info({ address: r.address }, `released: ${r.reason}`);
    return summary;
  }

  /** Inside a managed subnet and usable there (not its network or broadcast address). */
  private async isManaged(address: string): Promise<boolean> {
    const ip = parseIp(address);
    const subnet = await this.ipam.mostSpecificSubnet(GLOBAL_VRF_ID, ip);
    if (!subnet) return false;
    const b = usableBounds(prefixOf(subnet));
    return ip.value >= b.first && ip.value <= b.last;
  }

  // ------------------------------------------------------------------ reads
  private async requireInventory(): Promise<Inventory> {
    const { inventory, lastError } = await this.current();
    if (inventory) return inventory;
    throw new LanscapeError(
      503,
      'unavailable',
      lastError
        ? `Proxmox inventory failed: ${lastError}`
        : 'the first Proxmox inventory has not finished yet; try again in a moment',
    );
  }

  async nodes(): Promise<NodeListView> {
    const inv = await this.requireInventory();
    return {
      updated_at: new Date(inv.finishedAt).toISOString(),
      results: inv.nodes.map((n) => ({
        node: n.node,
        online: n.online,
        cpu_usage_ratio: n.cpu,
        cpus: n.cpus,
        memory_used_bytes: n.mem,
        memory_total_bytes: n.maxmem,
        uptime_seconds: n.uptime,
        guests: inv.guests.filter((g) => g.node === n.node).length,
      })),
    };
  }

  async guests(filter: { node?: string | undefined; type?: 'qemu' | 'lxc' | undefined }): Promise<GuestListView> {
    const inv = await this.requireInventory();
    const list = inv.guests.filter(
      (g) => (!filter.node || g.node === filter.node) && (!filter.type || g.type === filter.type),
    );
    // The IPAM rows of the guests' addresses, read before the views are built.
    const rows = new Map<string, { id: number; source: string } | undefined>();
    for (const g of list) {
      for (const a of g.addresses ?? [])
        rows.set(a.address, await this.ipam.addressAt(GLOBAL_VRF_ID, parseIp(a.address)));
    }
    return {
      updated_at: new Date(inv.finishedAt).toISOString(),
      count: list.length,
      results: list.map((g) => ({
        vmid: g.vmid,
        type: g.type,
        node: g.node,
        name: g.name,
        status: g.status,
        template: g.template,
        tags: g.tags,
        cpu_usage_ratio: g.cpu,
        cpus: g.cpus,
        memory_used_bytes: g.mem,
        memory_total_bytes: g.maxmem,
        disk_total_bytes: g.maxdisk,
        uptime_seconds: g.uptime,
        addresses:
          g.addresses === null
            ? null
            : g.addresses.map((a) => {
                const row = rows.get(a.address);
                return {
                  address: a.address,
                  prefix_length: a.prefix,
                  interface: a.interface,
                  mac: a.mac,
                  address_id: row?.id ?? null,
                  source: row?.source ?? null,
                };
              }),
      })),
    };
  }

  /** A node the last inventory does not know is refused without asking PVE. */
  private async knownNode(node: string): Promise<void> {
    const { inventory: inv } = await this.current();
    if (inv && !inv.nodes.some((n) => n.node === node)) {
      throw new LanscapeError(
        422,
        'unknown_node',
        `node "${node}" is not in the Proxmox cluster (nodes: ${inv.nodes.map((n) => n.node).join(', ') || 'none'})`,
      );
    }
  }

  /** Live reads for the VM wizard (fresher than the inventory). */
  async templates(node: string): Promise<TemplateListView> {
    await this.knownNode(node);
    const list = parseGuests(await this.live(() => this.client.api.nodes.$(node).qemu.$get()), node, 'qemu').filter(
      (g) => g.template,
    );
    return {
      count: list.length,
      results: list.map((g) => ({
        vmid: g.vmid,
        name: g.name,
        node,
        tags: g.tags,
        disk_total_bytes: g.maxdisk,
        memory_total_bytes: g.maxmem,
      })),
    };
  }

  async storages(node: string): Promise<StorageListView> {
    await this.knownNode(node);
    const data = await this.live(() =>
      this.client.api.nodes.$(node).storage.$get({ enabled: true, content: 'images' }),
    );
    const list = (Array.isArray(data) ? (data as Record<string, unknown>[]) : [])
      .filter((s) => typeof s.storage === 'string')
      .map((s) => ({
        storage: String(s.storage),
        type: String(s.type ?? ''),
        content: String(s.content ?? '')
          .split(',')
          .filter(Boolean),
        shared: s.shared === 1 || s.shared === true,
        active: s.active === 1 || s.active === true,
        total_bytes: typeof s.total === 'number' ? s.total : null,
        available_bytes: typeof s.avail === 'number' ? s.avail : null,
      }));
    return { count: list.length, results: list };
  }

  async bridges(node: string): Promise<BridgeListView> {
    await this.knownNode(node);
    const data = await this.live(() => this.client.api.nodes.$(node).network.$get({ type: 'any_bridge' }));
    const list = (Array.isArray(data) ? (data as Record<string, unknown>[]) : [])
      .filter((b) => typeof b.iface === 'string')
      .map((b) => ({
        bridge: String(b.iface),
        type: String(b.type ?? ''),
        active: b.active === 1 || b.active === true,
        vlan_aware: b.bridge_vlan_aware === 1 || b.bridge_vlan_aware === true,
        cidr: typeof b.cidr === 'string' ? b.cidr : null,
        comments: typeof b.comments === 'string' ? b.comments.trim() : null,
      }));
    return { count: list.length, results: list };
  }

  /** A live call whose Proxmox error becomes a 502-like answer in words (503 here: the upstream is the problem). */
  private async live<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ProxmoxError) {
        if (
          e.status === 400 ||
          e.status === 404 ||
          (e.status === 500 && /does not exist|no such|not found|hostname lookup/i.test(e.message))
        ) {
          throw new LanscapeError(422, 'proxmox_error', e.message);
        }
        throw new LanscapeError(503, 'proxmox_unavailable', e.message);
      }
      throw e;
    }
  }
}

function statusOf({ inventory, lastError }: InventoryState): { up: boolean; message?: string } {
  if (lastError) return { up: false, message: lastError };
  if (!inventory) return { up: false, message: 'no inventory yet' };
  return inventory.problems.length ? { up: true, message: inventory.problems.join('; ') } : { up: true };
}
