// SQL of the discovery tables: host observations, status history, events, scans.
// Times are Unix milliseconds.
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
}

export interface EventFilter {
  kind?: string | undefined;
  ipKey?: Buffer | undefined;
  between?: [Buffer, Buffer] | undefined;
  since?: number | undefined;
}

const HOST_COLUMNS = ['ip_key', 'address', 'status', 'misses', 'rtt_seconds', 'first_seen_at', 'last_seen_at',
  'status_changed_at', 'last_checked_at', 'mac', 'vendor', 'ptr', 'ports', 'ports_checked_at', 'nmap_checked_at'] as const;

export class DiscoveryStore {
  private readonly s;

  constructor(readonly db: Db) {
    this.s = {
      host: db.prepare('SELECT * FROM hosts WHERE ip_key = ?'),
      hostsBetween: db.prepare('SELECT * FROM hosts WHERE ip_key BETWEEN ? AND ? ORDER BY ip_key'),
      upsertHost: db.prepare(`INSERT INTO hosts (${HOST_COLUMNS.join(', ')}) VALUES (${HOST_COLUMNS.map((c) => `@${c}`).join(', ')})
        ON CONFLICT (ip_key) DO UPDATE SET ${HOST_COLUMNS.slice(1).map((c) => `${c} = excluded.${c}`).join(', ')}`),
      insertHistory: db.prepare('INSERT OR REPLACE INTO host_history (ip_key, at, up, rtt_seconds) VALUES (?, ?, ?, ?)'),
      insertEvent: db.prepare(`INSERT INTO events (at, kind, ip_key, address, subnet_id, message, details)
        VALUES (@at, @kind, @ip_key, @address, @subnet_id, @message, @details)`),
      insertScan: db.prepare(`INSERT INTO scans (subnet_id, cidr, trigger, state, queued_at) VALUES (?, ?, ?, 'queued', ?)`),
      updateScan: db.prepare(`UPDATE scans SET state = @state, progress = @progress, targets = @targets, sent = @sent,
        alive = @alive, started_at = @started_at, finished_at = @finished_at, error = @error WHERE id = @id`),
      scan: db.prepare('SELECT * FROM scans WHERE id = ?'),
      // Per subnet, newest first on the (subnet_id, id) index: a scrape never reads the whole
      // scan history, which grows with every sweep.
      lastSuccessful: db.prepare(`SELECT s.subnet_id, s.started_at, s.finished_at FROM subnets sub
        JOIN scans s ON s.id = (SELECT id FROM scans WHERE subnet_id = sub.id AND state = 'done' ORDER BY id DESC LIMIT 1)`),
      lastScanOf: db.prepare(`SELECT * FROM scans WHERE subnet_id = ? AND state = 'done' ORDER BY id DESC LIMIT 1`),
      hostsUpBetween: db.prepare(`SELECT count(*) AS n FROM hosts WHERE ip_key BETWEEN ? AND ? AND status = 'up'`),
      latestScanOf: db.prepare('SELECT * FROM scans WHERE subnet_id = ? ORDER BY id DESC LIMIT 1'),
      lastManualOf: db.prepare(`SELECT * FROM scans WHERE subnet_id = ? AND trigger = 'manual' ORDER BY id DESC LIMIT 1`),
      unfinishedScans: db.prepare(`SELECT * FROM scans WHERE state IN ('queued', 'running')`),
      history: db.prepare('SELECT at, up, rtt_seconds FROM host_history WHERE ip_key = ? AND at >= ? ORDER BY at'),
      hourly: db.prepare(`SELECT hour, samples, up_samples, rtt_avg_seconds FROM host_history_hourly
        WHERE ip_key = ? AND hour >= ? ORDER BY hour`),
      uptimeRaw: db.prepare('SELECT count(*) AS samples, coalesce(sum(up), 0) AS up FROM host_history WHERE ip_key = ? AND at >= ?'),
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
    };
  }

  host(key: Buffer) { return this.s.host.get(key) as HostRow | undefined; }
  hostsBetween(first: Buffer, last: Buffer) { return this.s.hostsBetween.all(first, last) as HostRow[]; }
  upsertHost(row: HostRow) { this.s.upsertHost.run(row); }
  insertHistory(key: Buffer, at: number, up: boolean, rtt: number | null) { this.s.insertHistory.run(key, at, up ? 1 : 0, rtt); }

  insertEvent(e: Omit<EventRow, 'id'>): void { this.s.insertEvent.run(e); }

  listEvents(filter: EventFilter, limit: number, offset: number): { count: number; rows: EventRow[] } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.kind) { where.push('kind = ?'); args.push(filter.kind); }
    if (filter.ipKey) { where.push('ip_key = ?'); args.push(filter.ipKey); }
    if (filter.between) { where.push('ip_key BETWEEN ? AND ?'); args.push(...filter.between); }
    if (filter.since !== undefined) { where.push('at >= ?'); args.push(filter.since); }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = (this.db.prepare(`SELECT count(*) AS n FROM events ${clause}`).get(...args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM events ${clause} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as EventRow[];
    return { count, rows };
  }

  /** The last successful sweep of every subnet that has one (for metrics that survive restarts). */
  lastSuccessfulScans(): { subnet_id: number; started_at: number; finished_at: number }[] {
    return this.s.lastSuccessful.all() as { subnet_id: number; started_at: number; finished_at: number }[];
  }

  insertScan(subnetId: number, cidr: string, trigger: ScanRow['trigger'], now: number): number {
    return Number(this.s.insertScan.run(subnetId, cidr, trigger, now).lastInsertRowid);
  }
  saveScan(scan: ScanRow) { this.s.updateScan.run(scan); }
  scan(id: number) { return this.s.scan.get(id) as ScanRow | undefined; }
  lastDoneScan(subnetId: number) { return this.s.lastScanOf.get(subnetId) as ScanRow | undefined; }
  hostsUpBetween(first: Buffer, last: Buffer): number { return (this.s.hostsUpBetween.get(first, last) as { n: number }).n; }
  lastScan(subnetId: number) { return this.s.latestScanOf.get(subnetId) as ScanRow | undefined; }
  lastManualScan(subnetId: number) { return this.s.lastManualOf.get(subnetId) as ScanRow | undefined; }
  unfinishedScans() { return this.s.unfinishedScans.all() as ScanRow[]; }

  history(key: Buffer, since: number) { return this.s.history.all(key, since) as { at: number; up: number; rtt_seconds: number | null }[]; }
  hourly(key: Buffer, sinceHour: number) {
    return this.s.hourly.all(key, sinceHour) as { hour: number; samples: number; up_samples: number; rtt_avg_seconds: number | null }[];
  }

  /** Share of samples that were up since `since`, raw and rolled-up history together. */
  uptime(key: Buffer, since: number): { samples: number; up: number } {
    const raw = this.s.uptimeRaw.get(key, since) as { samples: number; up: number };
    const hourly = this.s.uptimeHourly.get(key, Math.floor(since / 3_600_000)) as { samples: number; up: number };
    return { samples: raw.samples + hourly.samples, up: raw.up + hourly.up };
  }

  /** Rolls raw samples older than `rawBefore` up into hours, then prunes what is past retention. */
  rollup(rawBefore: number, hourlyBefore: number, eventsBefore: number): void {
    this.db.transaction(() => {
      this.s.rollup.run(rawBefore);
      this.s.pruneRaw.run(rawBefore);
      this.s.pruneHourly.run(Math.floor(hourlyBefore / 3_600_000));
      this.s.pruneEvents.run(eventsBefore);
    }).immediate();
  }
}
