// SQL of the discovery tables: host observations, status history, events, scans.
// Times are Unix milliseconds.
//
// It also holds discovery's read-only joins with IPAM's `addresses` table (conflicts, http_sd,
// per-host metrics): each is a discovery question about what sweeps saw, answered by one join
// driven by `hosts` (small) with one index probe into `addresses` (possibly millions), which
// only SQL does at that scale. IPAM's tables are written by ipam/store.ts alone; everything else
// discovery needs of IPAM goes through IpamService's read API.
import type { Db } from '../store/db.js';

export interface HostRow {
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
  trigger: 'manual' | 'schedule';
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
/**
 * Which tracked hosts keep their series under metrics.max_host_series, best first: 0 tagged
 * critical or in a MAC conflict, 1 reserved/assigned by a person, 2 any other IPAM address,
 * 3 answering without an IPAM record. (Tags cannot hold quotes, so the instr() test is exact.)
 */
const HOST_TIER = `CASE WHEN a.id IS NULL THEN 3
  WHEN instr(a.tags, '"critical"') > 0 OR (${CONFLICT_SQL.mac_mismatch}) THEN 0
  WHEN a.source != 'discovered' AND a.state IN ('reserved', 'assigned') THEN 1 ELSE 2 END`;
const HOST_PAGE = `FROM hosts h LEFT JOIN addresses a ON a.ip_key = h.ip_key
  WHERE h.ip_key > @after AND h.ip_key <= @last`;

const METRIC_HOST_COLUMNS = `h.ip_key, h.address, h.status, h.last_seen_at, h.mac, h.vendor, h.ptr, h.ports,
  a.hostname, a.state, a.source, coalesce(instr(a.tags, '"critical"') > 0, 0) AS critical, ${HOST_TIER} AS tier,
  coalesce(${CONFLICT_SQL.mac_mismatch}, 0) AS mac_mismatch, coalesce(${CONFLICT_SQL.unknown_device}, 0) AS unknown_device,
  coalesce(${CONFLICT_SQL.stale_reservation}, 0) AS stale_reservation`;

/** A conflict as its query returns it (the address row's id, text and key, with what discovery saw). */
export interface MacMismatchRow {
  id: number;
  address: string;
  ip_key: Buffer;
  recorded: string;
  observed: string;
  last_seen_at: number | null;
}
export interface UnknownDeviceRow {
  id: number;
  address: string;
  ip_key: Buffer;
  first_seen_at: number | null;
  mac: string | null;
  vendor: string | null;
}
export interface StaleReservationRow {
  id: number;
  address: string;
  ip_key: Buffer;
  state: string;
  created_at: string;
  last_seen_at: number | null;
}

/** An alive host for http_sd, with the IPAM address's name and tags when it is recorded. */
export interface SdHostRow {
  address: string;
  ports: string;
  ptr: string | null;
  host_key: Buffer;
  hostname: string | null;
  tags: string | null;
}

/** A tracked host as /metrics reads it: the observation, its IPAM fields, tier and conflicts. */
export interface MetricHostRow {
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

export class DiscoveryStore {
  private readonly s;

  constructor(readonly db: Db) {
    this.s = {
      host: db.prepare('SELECT * FROM hosts WHERE ip_key = ?'),
      hostsBetween: db.prepare('SELECT * FROM hosts WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key'),
      upsertHost:
        db.prepare(`INSERT INTO hosts (${HOST_COLUMNS.join(', ')}) VALUES (${HOST_COLUMNS.map((c) => `@${c}`).join(', ')})
        ON CONFLICT (ip_key) DO UPDATE SET ${HOST_COLUMNS.slice(1)
          .map((c) => `${c} = excluded.${c}`)
          .join(', ')}`),
      insertHistory: db.prepare(
        'INSERT OR REPLACE INTO host_history (ip_key, at, up, rtt_seconds) VALUES (?, ?, ?, ?)',
      ),
      insertEvent: db.prepare(`INSERT INTO events (at, kind, ip_key, address, subnet_id, message, details)
        VALUES (@at, @kind, @ip_key, @address, @subnet_id, @message, @details)`),
      insertScan: db.prepare(
        `INSERT INTO scans (subnet_id, cidr, trigger, state, queued_at) VALUES (?, ?, ?, 'queued', ?)`,
      ),
      updateScan: db.prepare(`UPDATE scans SET state = @state, progress = @progress, targets = @targets, sent = @sent,
        alive = @alive, started_at = @started_at, finished_at = @finished_at, error = @error, phases = @phases,
        warnings = @warnings WHERE id = @id`),
      scan: db.prepare('SELECT * FROM scans WHERE id = ?'),
      // Per subnet, newest first on the (subnet_id, id) index: a scrape never reads the whole
      // scan history, which grows with every sweep.
      lastSuccessfulOf: db.prepare(`SELECT s.subnet_id, s.started_at, s.finished_at FROM json_each(@ids) j
        JOIN scans s ON s.id = (SELECT id FROM scans WHERE subnet_id = j.value AND state = 'done' ORDER BY id DESC LIMIT 1)`),
      lastScanOf: db.prepare(`SELECT * FROM scans WHERE subnet_id = ? AND state = 'done' ORDER BY id DESC LIMIT 1`),
      hostsUpBetween: db.prepare(`SELECT count(*) AS n FROM hosts WHERE ip_key BETWEEN ? AND ? AND status = 'up'`),
      latestScanOf: db.prepare('SELECT * FROM scans WHERE subnet_id = ? ORDER BY id DESC LIMIT 1'),
      lastManualOf: db.prepare(
        `SELECT * FROM scans WHERE subnet_id = ? AND trigger = 'manual' ORDER BY id DESC LIMIT 1`,
      ),
      unfinishedScans: db.prepare(`SELECT * FROM scans WHERE state IN ('queued', 'running')`),
      history: db.prepare('SELECT at, up, rtt_seconds FROM host_history WHERE ip_key = ? AND at >= ? ORDER BY at'),
      hourly: db.prepare(`SELECT hour, samples, up_samples, rtt_avg_seconds FROM host_history_hourly
        WHERE ip_key = ? AND hour >= ? ORDER BY hour`),
      uptimeRaw: db.prepare(
        'SELECT count(*) AS samples, coalesce(sum(up), 0) AS up FROM host_history WHERE ip_key = ? AND at >= ?',
      ),
      uptimeHourly: db.prepare(`SELECT coalesce(sum(samples), 0) AS samples, coalesce(sum(up_samples), 0) AS up
        FROM host_history_hourly WHERE ip_key = ? AND hour >= ?`),
      rollup: db.prepare(`INSERT INTO host_history_hourly (ip_key, hour, samples, up_samples, rtt_avg_seconds)
        SELECT ip_key, at / 3600000, count(*), sum(up), avg(rtt_seconds) FROM host_history WHERE at < ? GROUP BY ip_key, at / 3600000
        ON CONFLICT (ip_key, hour) DO UPDATE SET
          rtt_avg_seconds = (coalesce(rtt_avg_seconds, 0) * up_samples + coalesce(excluded.rtt_avg_seconds, 0) * excluded.up_samples)
            / nullif(up_samples + excluded.up_samples, 0),
          samples = samples + excluded.samples, up_samples = up_samples + excluded.up_samples`),
      pruneRaw: db.prepare('DELETE FROM host_history WHERE at < ?'),
      pruneHourly: db.prepare('DELETE FROM host_history_hourly WHERE hour < ?'),
      pruneEvents: db.prepare('DELETE FROM events WHERE at < ?'),

      // /metrics reads hosts in pages of the key order (HostPass in discovery/metrics.ts).
      pageEnd: db
        .prepare(
          'SELECT max(ip_key) FROM (SELECT ip_key FROM hosts WHERE ip_key > @after ORDER BY ip_key LIMIT @limit)',
        )
        .pluck(),
      // Tracked hosts by status: `up` needs no join, the others one probe of the addresses index.
      pageStatus:
        db.prepare(`SELECT h.status AS status, count(*) AS n FROM hosts h WHERE h.ip_key > @after AND h.ip_key <= @last
        AND (h.status = 'up' OR EXISTS (SELECT 1 FROM addresses a WHERE a.ip_key = h.ip_key)) GROUP BY 1`),
      // Hosts in conflict or of tier 0, as flags and the IPv4 value (or the IPv6 key): cheap rows,
      // no Buffer for IPv4 (full rows cost three times as much).
      pageNotable: db
        .prepare(
          `SELECT CASE WHEN a.family = 4 THEN a.ip_low END, CASE WHEN a.family = 4 THEN NULL ELSE h.ip_key END,
          coalesce(instr(a.tags, '"critical"') > 0 OR (${CONFLICT_SQL.mac_mismatch}), 0),
          coalesce(${CONFLICT_SQL.mac_mismatch}, 0), coalesce(${CONFLICT_SQL.unknown_device}, 0), coalesce(${CONFLICT_SQL.stale_reservation}, 0)
        ${HOST_PAGE} AND (instr(a.tags, '"critical"') > 0 OR (${CONFLICT_SQL.mac_mismatch}) OR (${CONFLICT_SQL.unknown_device})
          OR (${CONFLICT_SQL.stale_reservation})) ORDER BY h.ip_key`,
        )
        .raw(),
      // Full rows of tiers 1-3 while they are wanted (the WHERE is a superset; tier says which).
      pageRows: db.prepare(`SELECT ${METRIC_HOST_COLUMNS} ${HOST_PAGE}
        AND ((@want1 AND a.source != 'discovered' AND a.state IN ('reserved', 'assigned'))
          OR (@want2 AND a.id IS NOT NULL) OR (@want3 AND a.id IS NULL AND h.status = 'up'))
        ORDER BY h.ip_key`),
      metricHosts:
        db.prepare(`SELECT ${METRIC_HOST_COLUMNS} FROM json_each(@keys) j CROSS JOIN hosts h ON h.ip_key = unhex(j.value)
        LEFT JOIN addresses a ON a.ip_key = h.ip_key`),
      metricHost: db.prepare(
        `SELECT ${METRIC_HOST_COLUMNS} FROM hosts h LEFT JOIN addresses a ON a.ip_key = h.ip_key WHERE h.ip_key = @key`,
      ),
      hostsInRange:
        db.prepare(`SELECT (SELECT count(*) FROM hosts WHERE status = 'up' AND ip_key BETWEEN @first AND @last) AS up,
        EXISTS (SELECT 1 FROM hosts WHERE ip_key BETWEEN @first AND @last) AS observed`),

      // Conflicts (computed on read): hosts (what sweeps saw) drives these joins: it is small;
      // addresses may hold millions.
      macMismatches: db.prepare(`SELECT a.id, a.address, a.ip_key, a.mac AS recorded, h.mac AS observed, h.last_seen_at
        FROM hosts h CROSS JOIN addresses a ON a.ip_key = h.ip_key
        WHERE ${CONFLICT_SQL.mac_mismatch} ORDER BY h.ip_key`),
      unknownDevices: db.prepare(`SELECT a.id, a.address, a.ip_key, h.first_seen_at, h.mac, h.vendor FROM hosts h
        CROSS JOIN addresses a ON a.ip_key = h.ip_key WHERE ${CONFLICT_SQL.unknown_device} ORDER BY h.ip_key`),
      staleReservations:
        db.prepare(`SELECT a.id, a.address, a.ip_key, a.state, a.created_at, h.last_seen_at FROM hosts h
        CROSS JOIN addresses a ON a.ip_key = h.ip_key WHERE ${CONFLICT_SQL.stale_reservation}
        ORDER BY h.ip_key`),
      // http_sd: alive hosts in key order, a keyset page at a time.
      sdHosts: db.prepare(`SELECT h.address, h.ports, h.ptr, h.ip_key AS host_key, a.hostname, a.tags FROM hosts h
      LEFT JOIN addresses a ON a.ip_key = h.ip_key WHERE h.status = 'up' AND h.ip_key > ? ORDER BY h.ip_key LIMIT ?`),
    };
  }

  /** Addresses whose recorded MAC differs from the one answering, by key. */
  macMismatches(): MacMismatchRow[] {
    return this.s.macMismatches.all() as MacMismatchRow[];
  }

  /** Alive addresses recorded by discovery itself (nobody reserved them), by key. */
  unknownDevices(): UnknownDeviceRow[] {
    return this.s.unknownDevices.all() as UnknownDeviceRow[];
  }

  /** Addresses reserved or assigned by a person, swept, and silent since before `cutoff` (ms), by key. */
  staleReservations(cutoff: number): StaleReservationRow[] {
    return this.s.staleReservations.all({ cutoff, cutoffIso: new Date(cutoff).toISOString() }) as StaleReservationRow[];
  }

  /** Up to `limit` alive hosts after the key `after` (an empty Buffer: from the start), by key. */
  sdHosts(after: Buffer, limit: number): SdHostRow[] {
    return this.s.sdHosts.all(after, limit) as SdHostRow[];
  }

  /** The last key of the next page of up to `limit` hosts after `after` (an empty Buffer: from the start); null at the end. */
  hostPageEnd(after: Buffer, limit: number): Buffer | null {
    return this.s.pageEnd.get({ after, limit }) as Buffer | null;
  }

  /** Tracked hosts of the page (after, last] by status. */
  hostPageStatus(after: Buffer, last: Buffer) {
    return this.s.pageStatus.all({ after, last }) as { status: HostRow['status']; n: number }[];
  }

  /**
   * Hosts of the page in conflict or of tier 0, in key order: [IPv4 value or null, IPv6 key or
   * null, tier 0, mac_mismatch, unknown_device, stale_reservation].
   */
  hostPageNotable(
    after: Buffer,
    last: Buffer,
    cutoff: number,
  ): [number | null, Buffer | null, number, number, number, number][] {
    return this.s.pageNotable.all({ after, last, cutoff, cutoffIso: new Date(cutoff).toISOString() }) as [
      number | null,
      Buffer | null,
      number,
      number,
      number,
      number,
    ][];
  }

  /** Tracked hosts of the page whose tier (1-3) is wanted, and maybe others (check `tier`), in key order. */
  hostPageRows(after: Buffer, last: Buffer, cutoff: number, want: readonly boolean[]): MetricHostRow[] {
    return this.s.pageRows.all({
      after,
      last,
      cutoff,
      cutoffIso: new Date(cutoff).toISOString(),
      want1: want[1] ? 1 : 0,
      want2: want[2] ? 1 : 0,
      want3: want[3] ? 1 : 0,
    }) as MetricHostRow[];
  }

  /** Hosts as /metrics reads them, by key (the ones found, in no particular order). */
  metricHosts(keys: readonly Buffer[], cutoff: number): MetricHostRow[] {
    return this.s.metricHosts.all({
      keys: JSON.stringify(keys.map((k) => k.toString('hex'))),
      cutoff,
      cutoffIso: new Date(cutoff).toISOString(),
    }) as MetricHostRow[];
  }

  /** One host as /metrics reads it. */
  metricHost(key: Buffer, cutoff: number): MetricHostRow | undefined {
    return this.s.metricHost.get({ key, cutoff, cutoffIso: new Date(cutoff).toISOString() }) as
      MetricHostRow | undefined;
  }

  /** Hosts answering in [first, last], and whether sweeps observed any address there. */
  hostsInRange(first: Buffer, last: Buffer): { up: number; observed: number } {
    return this.s.hostsInRange.get({ first, last }) as { up: number; observed: number };
  }

  host(key: Buffer) {
    return this.s.host.get(key) as HostRow | undefined;
  }
  hostsBetween(first: Buffer, last: Buffer) {
    return this.s.hostsBetween.all(first, last) as HostRow[];
  }
  upsertHost(row: HostRow) {
    this.s.upsertHost.run(row);
  }
  insertHistory(key: Buffer, at: number, up: boolean, rtt: number | null) {
    this.s.insertHistory.run(key, at, up ? 1 : 0, rtt);
  }

  insertEvent(e: Omit<EventRow, 'id'>): void {
    this.s.insertEvent.run(e);
  }

  listEvents(filter: EventFilter, limit: number, offset: number): { count: number; rows: EventRow[] } {
    const where: string[] = [];
    const args: unknown[] = [];
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
    const count = (this.db.prepare(`SELECT count(*) AS n FROM events ${clause}`).get(...args) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT * FROM events ${clause} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as EventRow[];
    return { count, rows };
  }

  /** The last successful sweep of each of these subnets that has one (metrics that survive restarts; a scrape asks in batches). */
  lastSuccessfulScansOf(ids: readonly number[]): { subnet_id: number; started_at: number; finished_at: number }[] {
    return this.s.lastSuccessfulOf.all({ ids: JSON.stringify(ids) }) as {
      subnet_id: number;
      started_at: number;
      finished_at: number;
    }[];
  }

  insertScan(subnetId: number, cidr: string, trigger: ScanRow['trigger'], now: number): number {
    return Number(this.s.insertScan.run(subnetId, cidr, trigger, now).lastInsertRowid);
  }
  saveScan(scan: ScanRow) {
    this.s.updateScan.run(scan);
  }
  scan(id: number) {
    return this.s.scan.get(id) as ScanRow | undefined;
  }
  lastDoneScan(subnetId: number) {
    return this.s.lastScanOf.get(subnetId) as ScanRow | undefined;
  }
  hostsUpBetween(first: Buffer, last: Buffer): number {
    return (this.s.hostsUpBetween.get(first, last) as { n: number }).n;
  }
  lastScan(subnetId: number) {
    return this.s.latestScanOf.get(subnetId) as ScanRow | undefined;
  }
  lastManualScan(subnetId: number) {
    return this.s.lastManualOf.get(subnetId) as ScanRow | undefined;
  }
  unfinishedScans() {
    return this.s.unfinishedScans.all() as ScanRow[];
  }

  history(key: Buffer, since: number) {
    return this.s.history.all(key, since) as { at: number; up: number; rtt_seconds: number | null }[];
  }
  hourly(key: Buffer, sinceHour: number) {
    return this.s.hourly.all(key, sinceHour) as {
      hour: number;
      samples: number;
      up_samples: number;
      rtt_avg_seconds: number | null;
    }[];
  }

  /** Share of samples that were up since `since`, raw and rolled-up history together. */
  uptime(key: Buffer, since: number): { samples: number; up: number } {
    const raw = this.s.uptimeRaw.get(key, since) as { samples: number; up: number };
    const hourly = this.s.uptimeHourly.get(key, Math.floor(since / 3_600_000)) as { samples: number; up: number };
    return { samples: raw.samples + hourly.samples, up: raw.up + hourly.up };
  }

  /** Rolls raw samples older than `rawBefore` up into hours, then prunes what is past retention. */
  rollup(rawBefore: number, hourlyBefore: number, eventsBefore: number): void {
    this.db
      .transaction(() => {
        this.s.rollup.run(rawBefore);
        this.s.pruneRaw.run(rawBefore);
        this.s.pruneHourly.run(Math.floor(hourlyBefore / 3_600_000));
        this.s.pruneEvents.run(eventsBefore);
      })
      .immediate();
  }
}
