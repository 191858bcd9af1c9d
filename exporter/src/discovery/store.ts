// SQL of the discovery tables: host observations, status history, events, scans.
// Times are Unix milliseconds.
//
// It also holds discovery's read-only joins with IPAM's `addresses` table (conflicts, http_sd,
// per-host metrics): each is a discovery question about what sweeps saw, answered by one join
// driven by `hosts` (small) with one index probe into `addresses` (possibly millions), which
// only SQL does at that scale. IPAM's tables are written by ipam/store.ts alone; everything else
// discovery needs of IPAM goes through IpamService's read API.
import type { Db } from '../store/db.js';
import type { SqlDialect, SqlExec } from '../store/sql-exec.js';
import { insertRows } from '../store/insert-rows.js';
import { paddedChunks } from '../store/padded-chunks.js';
import type { Store } from '../store/store.js';

// Discovery state is kept per VRF (migration 10): a sweep of a subnet observes the subnet's VRF,
// so every host, sample and event carries the VRF it was observed in, and every join with IPAM's
// addresses is on (vrf_id, ip_key).
export interface HostRow {
  vrf_id: number;
  ip_key: Buffer;
  address: string;
  status: 'up' | 'down' | 'unknown';
  misses: number;
  rtt_seconds: number | null;
  first_seen_at: number | null;
  last_seen_at: number | null;
  status_changed_at: number | null;
  last_checked_at: number | null;
  mac: string | null;
  vendor: string | null;
  ptr: string | null;
  ports: string;
  ports_checked_at: number | null;
  nmap_checked_at: number | null;
}

export interface EventRow {
  id: number;
  vrf_id: number;
  at: number;
  kind: string;
  ip_key: Buffer | null;
  address: string | null;
  subnet_id: number | null;
  message: string;
  details: string | null;
}

export interface ScanRow {
  id: number;
  subnet_id: number;
  cidr: string;
  /** agent: a sweep a remote agent ran and posted (#15) */
  trigger: 'manual' | 'schedule' | 'agent';
  state: 'queued' | 'running' | 'done' | 'failed';
  progress: number;
  targets: number;
  sent: number;
  alive: number;
  queued_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  /** JSON: [{ phase, seconds, … }] in the order the phases ended */
  phases: string;
  /** JSON: [{ kind, message }] */
  warnings: string;
}

export interface EventFilter {
  vrf?: number | undefined;
  kind?: string | undefined;
  ipKey?: Buffer | undefined;
  between?: [Buffer, Buffer] | undefined;
  since?: number | undefined;
}

/**
 * The conflict kinds as conditions on `hosts h` joined with `addresses a`: DiscoveryService.conflicts()
 * lists them, /metrics counts them; one definition for both. stale_reservation takes @cutoff
 * (ms) and @cutoffIso.
 */
export const CONFLICT_SQL = {
  mac_mismatch: 'a.mac IS NOT NULL AND h.mac IS NOT NULL AND a.mac != h.mac',
  unknown_device: "a.source = 'discovered' AND h.status = 'up'",
  stale_reservation: `a.source != 'discovered' AND a.state IN ('reserved', 'assigned') AND h.status != 'up'
    AND h.last_checked_at IS NOT NULL AND coalesce(h.last_seen_at, 0) < @cutoff AND a.created_at < @cutoffIso`,
} as const;

// A tracked host may have per-host series: sweeps observed it (a `hosts` row) and it is recorded
// in IPAM (any state or source) or answering now: `a.id IS NOT NULL OR h.status = 'up'`.
/** `tags` holds the tag "critical" (tags cannot hold quotes, so the substring test is exact). */
const critical = (d: SqlDialect) => `${d === 'sqlite' ? 'instr' : 'strpos'}(a.tags, '"critical"') > 0`;
/** A condition as 0/1 (NULL: 0), the same on both dialects (PostgreSQL's comparisons are boolean). */
const flag = (condition: string) => `CASE WHEN ${condition} THEN 1 ELSE 0 END`;
/**
 * Which tracked hosts keep their series under metrics.max_host_series, best first: 0 tagged
 * critical or in a MAC conflict, 1 reserved/assigned by a person, 2 any other IPAM address,
 * 3 answering without an IPAM record.
 */
const hostTier = (d: SqlDialect) => `CASE WHEN a.id IS NULL THEN 3
  WHEN ${critical(d)} OR (${CONFLICT_SQL.mac_mismatch}) THEN 0
  WHEN a.source != 'discovered' AND a.state IN ('reserved', 'assigned') THEN 1 ELSE 2 END`;
const HOST_PAGE = `FROM hosts h LEFT JOIN addresses a ON a.vrf_id = h.vrf_id AND a.ip_key = h.ip_key
  WHERE h.vrf_id = @vrf AND h.ip_key > @after AND h.ip_key <= @last`;

const metricHostColumns = (
  d: SqlDialect,
) => `h.vrf_id, h.ip_key, h.address, h.status, h.last_seen_at, h.mac, h.vendor, h.ptr, h.ports,
  a.hostname, a.state, a.source, ${flag(critical(d))} AS critical, ${hostTier(d)} AS tier,
  ${flag(CONFLICT_SQL.mac_mismatch)} AS mac_mismatch, ${flag(CONFLICT_SQL.unknown_device)} AS unknown_device,
  ${flag(CONFLICT_SQL.stale_reservation)} AS stale_reservation`;

/** A host's identity: the VRF it was observed in and its address key. */
export interface HostRef {
  vrf: number;
  key: Buffer;
}

/** A conflict as its query returns it (the address row's id, text and key, with what discovery saw). */
export interface MacMismatchRow {
  id: number;
  vrf_id: number;
  address: string;
  ip_key: Buffer;
  recorded: string;
  observed: string;
  last_seen_at: number | null;
}
export interface UnknownDeviceRow {
  id: number;
  vrf_id: number;
  address: string;
  ip_key: Buffer;
  first_seen_at: number | null;
  mac: string | null;
  vendor: string | null;
}
export interface StaleReservationRow {
  id: number;
  vrf_id: number;
  address: string;
  ip_key: Buffer;
  state: string;
  created_at: string;
  last_seen_at: number | null;
}

/** An alive host for http_sd, with the IPAM address's name and tags when it is recorded. */
export interface SdHostRow {
  vrf_id: number;
  address: string;
  ports: string;
  ptr: string | null;
  host_key: Buffer;
  hostname: string | null;
  tags: string | null;
}

/** A tracked host as /metrics reads it: the observation, its IPAM fields, tier and conflicts. */
export interface MetricHostRow {
  vrf_id: number;
  ip_key: Buffer;
  address: string;
  status: HostRow['status'];
  last_seen_at: number | null;
  mac: string | null;
  vendor: string | null;
  ptr: string | null;
  ports: string;
  hostname: string | null;
  state: string | null;
  source: string | null;
  critical: number;
  tier: 0 | 1 | 2 | 3;
  mac_mismatch: number;
  unknown_device: number;
  stale_reservation: number;
}

const HOST_COLUMNS = [
  'vrf_id',
  'ip_key',
  'address',
  'status',
  'misses',
  'rtt_seconds',
  'first_seen_at',
  'last_seen_at',
  'status_changed_at',
  'last_checked_at',
  'mac',
  'vendor',
  'ptr',
  'ports',
  'ports_checked_at',
  'nmap_checked_at',
] as const;

/** "LNSD": the first key of discovery's PostgreSQL advisory locks (the second: a subnet id, or 0 for retention). */
const LOCK_KEY = 0x4c4e5344;
/** "LNSO": the first key of the session locks a replica holds on the subnets it has scans of. */
const OWNER_KEY = 0x4c4e534f;

/** `@name` parameters → `?` (in order) and the names to bind, once per text. */
const BOUND = new Map<string, { text: string; names: string[] }>();
function bind(text: string, params: Record<string, unknown>): [string, unknown[]] {
  let b = BOUND.get(text);
  if (!b) {
    const names: string[] = [];
    BOUND.set(text, (b = { text: text.replace(/@(\w+)/g, (_, n: string) => (names.push(n), '?')), names }));
  }
  return [b.text, b.names.map((n) => params[n])];
}

/** The statements whose text differs by dialect, built once per dialect. */
function statements(d: SqlDialect) {
  // SQLite's CROSS JOIN keeps `hosts` (small) the driving table; PostgreSQL's planner picks it from the statistics.
  const drive = d === 'sqlite' ? 'CROSS JOIN' : 'JOIN';
  const columns = metricHostColumns(d);
  return {
    lastSuccessfulOf:
      d === 'sqlite'
        ? `SELECT s.subnet_id, s.started_at, s.finished_at FROM json_each(?) j
        JOIN scans s ON s.id = (SELECT id FROM scans WHERE subnet_id = j.value AND state = 'done' ORDER BY id DESC LIMIT 1)`
        : `SELECT s.subnet_id, s.started_at, s.finished_at FROM unnest(CAST(? AS integer[])) AS j(value)
        JOIN scans s ON s.id = (SELECT id FROM scans WHERE subnet_id = j.value AND state = 'done' ORDER BY id DESC LIMIT 1)`,
    pageNotable: `SELECT CASE WHEN a.family = 4 THEN a.ip_low END AS low, CASE WHEN a.family = 4 THEN NULL ELSE h.ip_key END AS key6,
        ${flag(`${critical(d)} OR (${CONFLICT_SQL.mac_mismatch})`)} AS tier0,
        ${flag(CONFLICT_SQL.mac_mismatch)} AS mac_mismatch, ${flag(CONFLICT_SQL.unknown_device)} AS unknown_device,
        ${flag(CONFLICT_SQL.stale_reservation)} AS stale_reservation
      ${HOST_PAGE} AND (${critical(d)} OR (${CONFLICT_SQL.mac_mismatch}) OR (${CONFLICT_SQL.unknown_device})
        OR (${CONFLICT_SQL.stale_reservation})) ORDER BY h.ip_key`,
    pageRows: `SELECT ${columns} ${HOST_PAGE}
      AND ((@want1 = 1 AND a.source != 'discovered' AND a.state IN ('reserved', 'assigned'))
        OR (@want2 = 1 AND a.id IS NOT NULL) OR (@want3 = 1 AND a.id IS NULL AND h.status = 'up'))
      ORDER BY h.ip_key`,
    // Hosts by (VRF, hex key): SQLite a JSON array of [vrf, key], PostgreSQL two arrays.
    metricHosts:
      d === 'sqlite'
        ? `SELECT ${columns} FROM json_each(@keys) j CROSS JOIN hosts h ON h.vrf_id = (j.value ->> 0) AND h.ip_key = unhex(j.value ->> 1)
      LEFT JOIN addresses a ON a.vrf_id = h.vrf_id AND a.ip_key = h.ip_key`
        : `SELECT ${columns} FROM unnest(CAST(@vrfs AS integer[]), CAST(@keys AS text[])) AS j(vrf, value)
      JOIN hosts h ON h.vrf_id = j.vrf AND h.ip_key = decode(j.value, 'hex')
      LEFT JOIN addresses a ON a.vrf_id = h.vrf_id AND a.ip_key = h.ip_key`,
    metricHost: `SELECT ${columns} FROM hosts h LEFT JOIN addresses a ON a.vrf_id = h.vrf_id AND a.ip_key = h.ip_key
      WHERE h.vrf_id = @vrf AND h.ip_key = @key`,
    // Conflicts: a host and the IPAM address of its own VRF.
    macMismatches: `SELECT a.id, h.vrf_id, a.address, a.ip_key, a.mac AS recorded, h.mac AS observed, h.last_seen_at
      FROM hosts h ${drive} addresses a ON a.vrf_id = h.vrf_id AND a.ip_key = h.ip_key
      WHERE ${CONFLICT_SQL.mac_mismatch} AND (CAST(@vrf AS integer) IS NULL OR h.vrf_id = @vrf) ORDER BY h.vrf_id, h.ip_key`,
    unknownDevices: `SELECT a.id, h.vrf_id, a.address, a.ip_key, h.first_seen_at, h.mac, h.vendor FROM hosts h
      ${drive} addresses a ON a.vrf_id = h.vrf_id AND a.ip_key = h.ip_key
      WHERE ${CONFLICT_SQL.unknown_device} AND (CAST(@vrf AS integer) IS NULL OR h.vrf_id = @vrf) ORDER BY h.vrf_id, h.ip_key`,
    staleReservations: `SELECT a.id, h.vrf_id, a.address, a.ip_key, a.state, a.created_at, h.last_seen_at FROM hosts h
      ${drive} addresses a ON a.vrf_id = h.vrf_id AND a.ip_key = h.ip_key
      WHERE ${CONFLICT_SQL.stale_reservation} AND (CAST(@vrf AS integer) IS NULL OR h.vrf_id = @vrf) ORDER BY h.vrf_id, h.ip_key`,
    // Spans as (VRF, hex keys): SQLite a JSON array of [vrf, first, last], PostgreSQL three arrays; `i` from 0.
    hostsInRanges: `SELECT j.i AS i,
        (SELECT count(*) FROM hosts WHERE vrf_id = j.vrf AND status = 'up' AND ip_key BETWEEN j.first AND j.last) AS up,
        CASE WHEN EXISTS (SELECT 1 FROM hosts WHERE vrf_id = j.vrf AND ip_key BETWEEN j.first AND j.last) THEN 1 ELSE 0 END AS observed
      FROM ${
        d === 'sqlite'
          ? '(SELECT key AS i, value ->> 0 AS vrf, unhex(value ->> 1) AS first, unhex(value ->> 2) AS last FROM json_each(?))'
          : `(SELECT i - 1 AS i, v AS vrf, decode(f, 'hex') AS first, decode(l, 'hex') AS last
            FROM unnest(CAST(? AS integer[]), CAST(? AS text[]), CAST(? AS text[])) WITH ORDINALITY AS u(v, f, l, i))`
      } j`,
    lockedHost:
      d === 'sqlite'
        ? 'SELECT * FROM hosts WHERE vrf_id = ? AND ip_key = ?'
        : 'SELECT * FROM hosts WHERE vrf_id = ? AND ip_key = ? FOR UPDATE',
  };
}
const STATEMENTS = { sqlite: statements('sqlite'), postgres: statements('postgres') };

/** Hosts are upserted: a row written between a read and its write-back (another slice) is replaced whole. */
const UPSERT_HOSTS = `ON CONFLICT (vrf_id, ip_key) DO UPDATE SET ${HOST_COLUMNS.slice(2)
  .map((c) => `${c} = excluded.${c}`)
  .join(', ')}`;
const EVENT_COLUMNS = ['vrf_id', 'at', 'kind', 'ip_key', 'address', 'subnet_id', 'message', 'details'] as const;
/** A history sample: one per host and sweep time, a second write of the same sample replaces it. */
export interface HistorySample {
  vrf_id: number;
  ip_key: Buffer;
  at: number;
  up: boolean;
  rtt_seconds: number | null;
}
const SCAN_STATES = ['queued', 'running', 'done', 'failed'] as const;
/** The update of a scan row from one of its states, per set of states (one text each). */
const SAVE_SCAN = new Map<string, string>();
const saveScanText = (from: readonly ScanRow['state'][]) => {
  const k = from.join(',');
  let text = SAVE_SCAN.get(k);
  if (!text)
    SAVE_SCAN.set(
      k,
      (text = `UPDATE scans SET state = ?, progress = ?, targets = ?, sent = ?, alive = ?, started_at = ?,
        finished_at = ?, error = ?, phases = ?, warnings = ? WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})`),
    );
  return text;
};

export class DiscoveryStore {
  private readonly exec: SqlExec;
  private readonly q: ReturnType<typeof statements>;
  /** SQLite only: the connection, for the reads IPAM's view enrichers make synchronously (observations.ts). */
  private readonly now: Db | undefined;
  private readonly nowStatements = new Map<string, { all(...params: unknown[]): unknown[] }>();

  constructor(readonly store: Store) {
    this.exec = store.exec;
    this.q = STATEMENTS[store.dialect];
    this.now = store.sqlite;
  }

  get dialect(): SqlDialect {
    return this.exec.dialect;
  }

  /** Addresses whose recorded MAC differs from the one answering, by VRF and key (`vrf`: that VRF's only). */
  macMismatches(vrf?: number): Promise<MacMismatchRow[]> {
    return this.exec.all<MacMismatchRow>(...bind(this.q.macMismatches, { vrf: vrf ?? null }));
  }

  /** Alive addresses recorded by discovery itself (nobody reserved them), by VRF and key. */
  unknownDevices(vrf?: number): Promise<UnknownDeviceRow[]> {
    return this.exec.all<UnknownDeviceRow>(...bind(this.q.unknownDevices, { vrf: vrf ?? null }));
  }

  /** Addresses reserved or assigned by a person, swept, and silent since before `cutoff` (ms), by VRF and key. */
  staleReservations(cutoff: number, vrf?: number): Promise<StaleReservationRow[]> {
    return this.exec.all<StaleReservationRow>(
      ...bind(this.q.staleReservations, { cutoff, cutoffIso: new Date(cutoff).toISOString(), vrf: vrf ?? null }),
    );
  }

  /**
   * Up to `limit` alive hosts after (VRF, key) `after` (undefined: from the start), by VRF and
   * key (a row-value comparison: the keyset spans VRFs).
   */
  sdHosts(after: HostRef | undefined, limit: number): Promise<SdHostRow[]> {
    return this.exec.all<SdHostRow>(
      `SELECT h.vrf_id, h.address, h.ports, h.ptr, h.ip_key AS host_key, a.hostname, a.tags FROM hosts h
      LEFT JOIN addresses a ON a.vrf_id = h.vrf_id AND a.ip_key = h.ip_key
      WHERE h.status = 'up' AND (h.vrf_id, h.ip_key) > (?, ?) ORDER BY h.vrf_id, h.ip_key LIMIT ?`,
      [after?.vrf ?? 0, after?.key ?? Buffer.alloc(0), limit],
    );
  }

  /** The VRFs with hosts, ascending. */
  async hostVrfs(): Promise<number[]> {
    // One probe of the primary key per VRF (a handful of rows in vrfs), not a scan of hosts.
    const rows = await this.exec.all<{ id: number }>(
      'SELECT v.id FROM vrfs v WHERE EXISTS (SELECT 1 FROM hosts h WHERE h.vrf_id = v.id) ORDER BY v.id',
    );
    return rows.map((r) => r.id);
  }

  /**
   * The last key of the next page of up to `limit` hosts of VRF `vrf` after `after` (an empty
   * Buffer: from the start); null at the end of that VRF.
   */
  async hostPageEnd(vrf: number, after: Buffer, limit: number): Promise<Buffer | null> {
    const row = await this.exec.get<{ last: Buffer | null }>(
      // (PostgreSQL has no max(bytea): the page's last key by a descending order of the page.)
      `SELECT ip_key AS last FROM (SELECT ip_key FROM hosts WHERE vrf_id = ? AND ip_key > ? ORDER BY ip_key LIMIT ?) p
      ORDER BY ip_key DESC LIMIT 1`,
      [vrf, after, limit],
    );
    return row?.last ?? null;
  }

  /** Tracked hosts of the page (after, last] of VRF `vrf` by status: `up` needs no join, the others one probe of the addresses index. */
  hostPageStatus(vrf: number, after: Buffer, last: Buffer) {
    return this.exec.all<{ status: HostRow['status']; n: number }>(
      `SELECT h.status AS status, count(*) AS n FROM hosts h WHERE h.vrf_id = ? AND h.ip_key > ? AND h.ip_key <= ?
      AND (h.status = 'up' OR EXISTS (SELECT 1 FROM addresses a WHERE a.vrf_id = h.vrf_id AND a.ip_key = h.ip_key)) GROUP BY h.status`,
      [vrf, after, last],
    );
  }

  /**
   * Hosts of the page in conflict or of tier 0, in key order: [IPv4 value or null, IPv6 key or
   * null, tier 0, mac_mismatch, unknown_device, stale_reservation] (cheap rows: no Buffer for IPv4).
   */
  async hostPageNotable(
    vrf: number,
    after: Buffer,
    last: Buffer,
    cutoff: number,
  ): Promise<[number | null, Buffer | null, number, number, number, number][]> {
    const rows = await this.exec.all<{
      low: number | null;
      key6: Buffer | null;
      tier0: number;
      mac_mismatch: number;
      unknown_device: number;
      stale_reservation: number;
    }>(...bind(this.q.pageNotable, { vrf, after, last, cutoff, cutoffIso: new Date(cutoff).toISOString() }));
    return rows.map((r) => [r.low, r.key6, r.tier0, r.mac_mismatch, r.unknown_device, r.stale_reservation]);
  }

  /** Tracked hosts of the page whose tier (1-3) is wanted, and maybe others (check `tier`), in key order. */
  hostPageRows(
    vrf: number,
    after: Buffer,
    last: Buffer,
    cutoff: number,
    want: readonly boolean[],
  ): Promise<MetricHostRow[]> {
    return this.exec.all<MetricHostRow>(
      ...bind(this.q.pageRows, {
        vrf,
        after,
        last,
        cutoff,
        cutoffIso: new Date(cutoff).toISOString(),
        want1: want[1] ? 1 : 0,
        want2: want[2] ? 1 : 0,
        want3: want[3] ? 1 : 0,
      }),
    );
  }

  /** Hosts as /metrics reads them, by VRF and key (the ones found, in no particular order). */
  metricHosts(hosts: readonly HostRef[], cutoff: number): Promise<MetricHostRow[]> {
    const hex = hosts.map((h) => h.key.toString('hex'));
    return this.exec.all<MetricHostRow>(
      ...bind(this.q.metricHosts, {
        keys: this.dialect === 'sqlite' ? JSON.stringify(hosts.map((h, i) => [h.vrf, hex[i]])) : hex,
        vrfs: hosts.map((h) => h.vrf),
        cutoff,
        cutoffIso: new Date(cutoff).toISOString(),
      }),
    );
  }

  /** One host as /metrics reads it. */
  metricHost(vrf: number, key: Buffer, cutoff: number): Promise<MetricHostRow | undefined> {
    return this.exec.get<MetricHostRow>(
      ...bind(this.q.metricHost, { vrf, key, cutoff, cutoffIso: new Date(cutoff).toISOString() }),
    );
  }

  /**
   * Per key span [first, last], in the order given: hosts answering there, and whether sweeps
   * observed any address there (0/1). One statement for many spans (a scrape asks for every
   * chosen subnet: one round trip each cost ~0.3 ms on PostgreSQL, 1,000 of them most of a scrape).
   */
  async hostsInRanges(
    spans: readonly (readonly [number, Buffer, Buffer])[],
  ): Promise<{ up: number; observed: number }[]> {
    if (spans.length === 0) return [];
    const hex = spans.map(([vrf, first, last]) => [vrf, first.toString('hex'), last.toString('hex')] as const);
    const rows = await this.exec.all<{ i: number; up: number; observed: number }>(
      this.q.hostsInRanges,
      this.dialect === 'sqlite'
        ? [JSON.stringify(hex)]
        : [hex.map(([vrf]) => vrf), hex.map(([, first]) => first), hex.map(([, , last]) => last)],
    );
    const out = spans.map(() => ({ up: 0, observed: 0 }));
    for (const r of rows) out[Number(r.i)] = { up: r.up, observed: r.observed };
    return out;
  }

  host(vrf: number, key: Buffer): Promise<HostRow | undefined> {
    return this.exec.get<HostRow>('SELECT * FROM hosts WHERE vrf_id = ? AND ip_key = ?', [vrf, key]);
  }
  /** A host read to be written back (inside a write): locked on PostgreSQL until the transaction ends. */
  lockedHost(vrf: number, key: Buffer): Promise<HostRow | undefined> {
    return this.exec.get<HostRow>(this.q.lockedHost, [vrf, key]);
  }
  /**
   * lockedHost for many keys, by the key's hex: one statement per 256 keys (padded, so a handful
   * of texts are prepared), locked in key order on PostgreSQL.
   */
  async lockedHosts(vrf: number, keys: readonly Buffer[]): Promise<Map<string, HostRow>> {
    const out = new Map<string, HostRow>();
    for (const chunk of paddedChunks(keys, 256)) {
      const rows = await this.exec.all<HostRow>(
        `SELECT * FROM hosts WHERE vrf_id = ? AND ip_key IN (${chunk.map(() => '?').join(', ')}) ORDER BY ip_key${
          this.exec.dialect === 'postgres' ? ' FOR UPDATE' : ''
        }`,
        [vrf, ...chunk],
      );
      for (const r of rows) out.set(Buffer.from(r.ip_key).toString('hex'), r);
    }
    return out;
  }
  hostsBetween(vrf: number, first: Buffer, last: Buffer): Promise<HostRow[]> {
    return this.exec.all<HostRow>('SELECT * FROM hosts WHERE vrf_id = ? AND ip_key BETWEEN ? AND ? ORDER BY ip_key', [
      vrf,
      first,
      last,
    ]);
  }
  async upsertHost(row: HostRow): Promise<void> {
    await this.upsertHosts([row]);
  }
  /** Hosts written whole, in a few statements (no two rows for one host). */
  async upsertHosts(rows: readonly HostRow[]): Promise<void> {
    await insertRows(
      this.exec,
      'hosts',
      HOST_COLUMNS,
      rows.map((row) => HOST_COLUMNS.map((c) => row[c])),
      { onConflict: UPSERT_HOSTS },
    );
  }
  /** History samples in a few statements (no two for one host and time). */
  async insertHistory(samples: readonly HistorySample[]): Promise<void> {
    await insertRows(
      this.exec,
      'host_history',
      ['vrf_id', 'ip_key', 'at', 'up', 'rtt_seconds'],
      samples.map((h) => [h.vrf_id, h.ip_key, h.at, h.up ? 1 : 0, h.rtt_seconds]),
      {
        onConflict:
          'ON CONFLICT (vrf_id, ip_key, at) DO UPDATE SET up = excluded.up, rtt_seconds = excluded.rtt_seconds',
      },
    );
  }

  async insertEvent(e: Omit<EventRow, 'id'>): Promise<number> {
    const [row] = await insertRows<{ id: number }>(
      this.exec,
      'events',
      EVENT_COLUMNS,
      [EVENT_COLUMNS.map((c) => e[c])],
      {
        returning: 'id',
      },
    );
    return row!.id;
  }
  /** Events in a few statements. */
  async insertEvents(events: readonly Omit<EventRow, 'id'>[]): Promise<void> {
    await insertRows(
      this.exec,
      'events',
      EVENT_COLUMNS,
      events.map((e) => EVENT_COLUMNS.map((c) => e[c])),
    );
  }

  async listEvents(filter: EventFilter, limit: number, offset: number): Promise<{ count: number; rows: EventRow[] }> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.vrf !== undefined) {
      where.push('vrf_id = ?');
      args.push(filter.vrf);
    }
    if (filter.kind) {
      where.push('kind = ?');
      args.push(filter.kind);
    }
    if (filter.ipKey) {
      where.push('ip_key = ?');
      args.push(filter.ipKey);
    }
    if (filter.between) {
      where.push('ip_key BETWEEN ? AND ?');
      args.push(...filter.between);
    }
    if (filter.since !== undefined) {
      where.push('at >= ?');
      args.push(filter.since);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = (await this.exec.get<{ n: number }>(`SELECT count(*) AS n FROM events ${clause}`, args))!.n;
    const rows = await this.exec.all<EventRow>(
      `SELECT * FROM events ${clause} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`,
      [...args, limit, offset],
    );
    return { count, rows };
  }

  /** The last successful sweep of each of these subnets that has one (metrics that survive restarts; a scrape asks in batches). */
  lastSuccessfulScansOf(
    ids: readonly number[],
  ): Promise<{ subnet_id: number; started_at: number; finished_at: number }[]> {
    // Per subnet, newest first on the (subnet_id, id) index: a scrape never reads the whole scan history.
    return this.exec.all(this.q.lastSuccessfulOf, [this.dialect === 'sqlite' ? JSON.stringify(ids) : [...ids]]);
  }

  /** A new queued scan. */
  async insertScan(subnetId: number, cidr: string, trigger: ScanRow['trigger'], now: number): Promise<ScanRow> {
    return (await this.exec.get<ScanRow>(
      `INSERT INTO scans (subnet_id, cidr, trigger, state, queued_at) VALUES (?, ?, ?, 'queued', ?) RETURNING *`,
      [subnetId, cidr, trigger, now],
    ))!;
  }

  /**
   * Writes the scan row's fields if its stored state is one of `from` (a conditional
   * transition: of two replicas finishing or failing one scan, one wins). False when the row
   * had moved on (e.g. failed as abandoned meanwhile).
   */
  async saveScan(scan: ScanRow, from: readonly ScanRow['state'][] = SCAN_STATES): Promise<boolean> {
    const changed = await this.exec.run(saveScanText(from), [
      scan.state,
      scan.progress,
      scan.targets,
      scan.sent,
      scan.alive,
      scan.started_at,
      scan.finished_at,
      scan.error,
      scan.phases,
      scan.warnings,
      scan.id,
      ...from,
    ]);
    return changed > 0;
  }
  /** A running scan's progress for the other replicas: only forward, only while it runs. */
  async saveProgress(id: number, progress: number, sent: number): Promise<void> {
    await this.exec.run(`UPDATE scans SET progress = ?, sent = ? WHERE id = ? AND state = 'running' AND progress < ?`, [
      progress,
      sent,
      id,
      progress,
    ]);
  }
  scan(id: number): Promise<ScanRow | undefined> {
    return this.exec.get<ScanRow>('SELECT * FROM scans WHERE id = ?', [id]);
  }
  lastDoneScan(subnetId: number): Promise<ScanRow | undefined> {
    return this.exec.get<ScanRow>(
      `SELECT * FROM scans WHERE subnet_id = ? AND state = 'done' ORDER BY id DESC LIMIT 1`,
      [subnetId],
    );
  }
  async hostsUpBetween(vrf: number, first: Buffer, last: Buffer): Promise<number> {
    return (await this.exec.get<{ n: number }>(
      `SELECT count(*) AS n FROM hosts WHERE vrf_id = ? AND ip_key BETWEEN ? AND ? AND status = 'up'`,
      [vrf, first, last],
    ))!.n;
  }
  lastScan(subnetId: number): Promise<ScanRow | undefined> {
    return this.exec.get<ScanRow>('SELECT * FROM scans WHERE subnet_id = ? ORDER BY id DESC LIMIT 1', [subnetId]);
  }
  lastManualScan(subnetId: number): Promise<ScanRow | undefined> {
    return this.exec.get<ScanRow>(
      `SELECT * FROM scans WHERE subnet_id = ? AND trigger = 'manual' ORDER BY id DESC LIMIT 1`,
      [subnetId],
    );
  }
  /** The subnet's scan queued or running on any replica, newest first (the (subnet_id, id) index). */
  unfinishedScanOf(subnetId: number): Promise<ScanRow | undefined> {
    return this.exec.get<ScanRow>(
      `SELECT * FROM scans WHERE subnet_id = ? AND state IN ('queued', 'running') ORDER BY id DESC LIMIT 1`,
      [subnetId],
    );
  }
  /** Scans queued before `queuedBefore` or running since before `startedBefore` (ms), on any replica. */
  unfinishedScans(queuedBefore = Infinity, startedBefore = Infinity): Promise<ScanRow[]> {
    const bound = (ms: number) => (Number.isFinite(ms) ? ms : Number.MAX_SAFE_INTEGER);
    return this.exec.all<ScanRow>(
      `SELECT * FROM scans WHERE (state = 'queued' AND queued_at < ?) OR (state = 'running' AND started_at < ?) ORDER BY id`,
      [bound(queuedBefore), bound(startedBefore)],
    );
  }
  /**
   * Inside a write: serialises queueing a scan of this subnet across replicas (PostgreSQL: a
   * transaction-level advisory lock; SQLite: writes are serial already).
   */
  /**
   * PostgreSQL: this replica's hold on a subnet's scans while it has one queued or running there
   * (a session lock: it goes when the replica dies, store/session-locks.ts). False when a live
   * replica holds it. SQLite: always true (one process).
   */
  async holdSubnetScans(subnetId: number): Promise<boolean> {
    return (await this.store.sessionLocks?.tryHold(OWNER_KEY, subnetId)) ?? true;
  }

  async releaseSubnetScans(subnetId: number): Promise<void> {
    await this.store.sessionLocks?.release(OWNER_KEY, subnetId);
  }

  /**
   * Whether a live replica holds the subnet's scans (PostgreSQL; a transaction-level try in its
   * own statement, released at once). SQLite: false.
   */
  async subnetScansHeld(subnetId: number): Promise<boolean> {
    if (this.dialect !== 'postgres') return false;
    const r = await this.exec.get<{ free: boolean }>('SELECT pg_try_advisory_xact_lock(?, ?) AS free', [
      OWNER_KEY,
      subnetId,
    ]);
    return r?.free === false;
  }

  async lockSubnetScans(subnetId: number): Promise<void> {
    if (this.dialect === 'postgres') await this.exec.get('SELECT pg_advisory_xact_lock(?, ?)', [LOCK_KEY, subnetId]);
  }

  history(vrf: number, key: Buffer, since: number) {
    return this.exec.all<{ at: number; up: number; rtt_seconds: number | null }>(
      'SELECT at, up, rtt_seconds FROM host_history WHERE vrf_id = ? AND ip_key = ? AND at >= ? ORDER BY at',
      [vrf, key, since],
    );
  }
  hourly(vrf: number, key: Buffer, sinceHour: number) {
    return this.exec.all<{ hour: number; samples: number; up_samples: number; rtt_avg_seconds: number | null }>(
      `SELECT hour, samples, up_samples, rtt_avg_seconds FROM host_history_hourly
      WHERE vrf_id = ? AND ip_key = ? AND hour >= ? ORDER BY hour`,
      [vrf, key, sinceHour],
    );
  }

  /** Share of samples that were up since `since`, raw and rolled-up history together. */
  async uptime(vrf: number, key: Buffer, since: number): Promise<{ samples: number; up: number }> {
    const raw = (await this.exec.get<{ samples: number; up: number }>(
      'SELECT count(*) AS samples, coalesce(sum(up), 0) AS up FROM host_history WHERE vrf_id = ? AND ip_key = ? AND at >= ?',
      [vrf, key, since],
    ))!;
    const hourly = (await this.exec.get<{ samples: number; up: number }>(
      `SELECT coalesce(sum(samples), 0) AS samples, coalesce(sum(up_samples), 0) AS up
      FROM host_history_hourly WHERE vrf_id = ? AND ip_key = ? AND hour >= ?`,
      [vrf, key, Math.floor(since / 3_600_000)],
    ))!;
    return { samples: raw.samples + hourly.samples, up: raw.up + hourly.up };
  }

  /**
   * Rolls raw samples older than `rawBefore` up into hours, then prunes what is past retention,
   * in one transaction. On PostgreSQL an advisory lock makes replicas take turns: two roll-ups
   * of the same raw rows at once would add them to the hours twice.
   */
  rollup(rawBefore: number, hourlyBefore: number, eventsBefore: number): Promise<void> {
    return this.store.write(async () => {
      if (this.dialect === 'postgres') await this.exec.get('SELECT pg_advisory_xact_lock(?, ?)', [LOCK_KEY, 0]);
      await this.exec.run(
        `INSERT INTO host_history_hourly (vrf_id, ip_key, hour, samples, up_samples, rtt_avg_seconds)
        SELECT vrf_id, ip_key, at / 3600000, count(*), sum(up), avg(rtt_seconds) FROM host_history WHERE at < ?
        GROUP BY vrf_id, ip_key, at / 3600000
        ON CONFLICT (vrf_id, ip_key, hour) DO UPDATE SET
          rtt_avg_seconds = (coalesce(host_history_hourly.rtt_avg_seconds, 0) * host_history_hourly.up_samples
            + coalesce(excluded.rtt_avg_seconds, 0) * excluded.up_samples)
            / nullif(host_history_hourly.up_samples + excluded.up_samples, 0),
          samples = host_history_hourly.samples + excluded.samples,
          up_samples = host_history_hourly.up_samples + excluded.up_samples`,
        [rawBefore],
      );
      await this.exec.run('DELETE FROM host_history WHERE at < ?', [rawBefore]);
      await this.exec.run('DELETE FROM host_history_hourly WHERE hour < ?', [Math.floor(hourlyBefore / 3_600_000)]);
      await this.exec.run('DELETE FROM events WHERE at < ?', [eventsBefore]);
    });
  }

  // IpamService calls view enrichers synchronously (ipam/service.ts). On SQLite these reads
  // answer at once on the store's connection (inside the caller's transaction when there is
  // one); on PostgreSQL they return undefined and the enricher reads through the async methods
  // above (observations.ts) — complete once IPAM awaits what an enricher returns.
  private readNow<R>(text: string, params: unknown[]): R[] | undefined {
    const db = this.now;
    if (!db) return undefined;
    let stmt = this.nowStatements.get(text);
    if (!stmt) this.nowStatements.set(text, (stmt = db.prepare(text)));
    return stmt.all(...params) as R[];
  }
  /** Hosts of these keys in VRF `vrf` (SQLite, synchronously; undefined on PostgreSQL). */
  hostsNow(vrf: number, keys: readonly Buffer[]): HostRow[] | undefined {
    if (keys.length === 1)
      return this.readNow<HostRow>('SELECT * FROM hosts WHERE vrf_id = ? AND ip_key = ?', [vrf, keys[0]]);
    const sorted = [...keys].sort(Buffer.compare);
    return this.readNow<HostRow>('SELECT * FROM hosts WHERE vrf_id = ? AND ip_key BETWEEN ? AND ? ORDER BY ip_key', [
      vrf,
      sorted[0],
      sorted[sorted.length - 1],
    ]);
  }
  /** Hosts up in [first, last] of VRF `vrf` and the subnet's latest scan (SQLite, synchronously; undefined on PostgreSQL). */
  subnetNow(
    subnetId: number,
    vrf: number,
    first: Buffer,
    last: Buffer,
  ): { up: number; scan: ScanRow | undefined } | undefined {
    const up = this.readNow<{ n: number }>(
      `SELECT count(*) AS n FROM hosts WHERE vrf_id = ? AND ip_key BETWEEN ? AND ? AND status = 'up'`,
      [vrf, first, last],
    );
    if (!up) return undefined;
    const scan = this.readNow<ScanRow>('SELECT * FROM scans WHERE subnet_id = ? ORDER BY id DESC LIMIT 1', [subnetId]);
    return { up: up[0]!.n, scan: scan?.[0] };
  }
}
