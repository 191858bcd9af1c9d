// Traffic test metrics, read from the store at scrape time: the last test of each source ×
// target × protocol × direction. Series exist for configured sources and for targets that are
// configured hosts, targets of a schedule, or tested in the last day, so ad-hoc tests against
// many addresses do not pile up series forever.
import { type Clock, systemClock } from '../clock.js';
import { Counter, type Registry } from 'prom-client';
import { snapshotGroup } from '../metrics/snapshot.js';
import { direction } from './core/schedule.js';
import type { TrafficService } from './service.js';
import type { TestRow } from './store.js';

const AD_HOC_TARGET_MS = 24 * 3_600_000;

export function registerTrafficMetrics(registry: Registry, traffic: TrafficService, now: Clock = systemClock): void {
  const total = new Counter({
    name: 'lanscape_traffic_tests_total',
    help: 'Traffic tests finished by this exporter, by result (success, failure).',
    labelNames: ['result'],
    registers: [registry],
  });
  total.inc({ result: 'success' }, 0);
  total.inc({ result: 'failure' }, 0);
  traffic.onFinish.push((t) => total.inc({ result: t.state === 'done' ? 'success' : 'failure' }));

  const gauge = snapshotGroup(registry, refresh);
  // Bytes, not bits: Prometheus' base unit (promtool rejects "_bits"); multiply by 8 for bit/s.
  const throughput = gauge(
    'lanscape_traffic_test_throughput_bytes_per_second',
    'Received bytes per second of the last successful test (direction forward: the source sends; reverse: the target sends).',
  );
  const retransmits = gauge('lanscape_traffic_test_retransmits', 'TCP retransmits of the last successful TCP test.');
  const jitter = gauge(
    'lanscape_traffic_test_jitter_seconds',
    'UDP jitter the receiver saw in the last successful UDP test.',
  );
  const loss = gauge(
    'lanscape_traffic_test_loss_ratio',
    'Share of UDP datagrams lost in the last successful UDP test (0–1).',
  );
  const lastRun = gauge(
    'lanscape_traffic_test_last_run_timestamp_seconds',
    'When the last test (successful or not) finished.',
  );
  const duration = gauge(
    'lanscape_traffic_test_duration_seconds',
    'Wall time of the last test, SSH and retries included.',
  );
  const success = gauge('lanscape_traffic_test_success', 'Whether the last test succeeded (1) or failed (0).');
  const floor = gauge(
    'lanscape_traffic_test_floor_bytes_per_second',
    'Throughput floor of a schedule (its floor_bits_per_second / 8), for alerting; the highest when several set one.',
  );

  async function refresh() {
    // Two round trips on PostgreSQL: together.
    const [schedules, latest] = await Promise.all([traffic.store.schedules(), traffic.store.latestPerSeries()]);
    const hosts = traffic.hostsByName;
    const scheduled = new Set(schedules.map((s) => s.target));
    const since = now() - AD_HOC_TARGET_MS;
    const shown = (t: TestRow) =>
      hosts.has(t.source) && (hosts.has(t.target) || scheduled.has(t.target) || (t.finished_at ?? 0) >= since);
    // latestPerSeries gives, per series, the newest finished test and the newest successful one.
    const lastFinished = new Map<string, TestRow>();
    const lastDone = new Map<string, TestRow>();
    for (const t of latest) {
      if (!shown(t)) continue;
      const key = `${t.source}|${t.target}|${t.protocol}|${t.reverse}`;
      if ((lastFinished.get(key)?.id ?? 0) < t.id) lastFinished.set(key, t);
      if (t.state === 'done' && (lastDone.get(key)?.id ?? 0) < t.id) lastDone.set(key, t);
    }
    for (const t of lastFinished.values()) {
      const labels = {
        source: t.source,
        target: t.target,
        protocol: t.protocol,
        direction: direction(t.reverse === 1),
      };
      lastRun.set(labels, t.finished_at! / 1000);
      if (t.started_at !== null) duration.set(labels, (t.finished_at! - t.started_at) / 1000);
      success.set(labels, t.state === 'done' ? 1 : 0);
    }
    for (const t of lastDone.values()) {
      const dir = direction(t.reverse === 1);
      throughput.set(
        { source: t.source, target: t.target, protocol: t.protocol, direction: dir },
        (t.received_bits_per_second ?? 0) / 8,
      );
      const pair = { source: t.source, target: t.target, direction: dir };
      if (t.protocol === 'tcp' && t.retransmits !== null) retransmits.set(pair, t.retransmits);
      if (t.protocol === 'udp' && t.jitter_seconds !== null) jitter.set(pair, t.jitter_seconds);
      if (t.protocol === 'udp' && t.loss_ratio !== null) loss.set(pair, t.loss_ratio);
    }
    const floors = new Map<string, { labels: Record<string, string>; value: number }>();
    for (const s of schedules) {
      if (!s.enabled || s.floor_bits_per_second === null || !hosts.has(s.source)) continue;
      const labels = {
        source: s.source,
        target: s.target,
        protocol: s.protocol,
        direction: direction(s.reverse === 1),
      };
      const key = Object.values(labels).join('|');
      if ((floors.get(key)?.value ?? -1) < s.floor_bits_per_second)
        floors.set(key, { labels, value: s.floor_bits_per_second });
    }
    for (const f of floors.values()) floor.set(f.labels, f.value / 8);
  }
}
