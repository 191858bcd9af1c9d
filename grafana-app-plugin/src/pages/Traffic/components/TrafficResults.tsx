// Recent traffic tests, newest first, each with its pair's throughput history (a sparkline of the
// pair's last done tests of the same protocol and direction) and a link to the traffic dashboard.
import React, { useEffect, useMemo } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Button, EmptyState, LinkButton, LoadingPlaceholder, Tooltip, useStyles2 } from '@grafana/ui';
import { api } from '../../../api/client';
import { useApi } from '../../../api/hooks';
import type { TrafficTest } from '../../../api/types';
import { formatDateTime, timeAgo } from '../../../utils/format';
import { formatBitrate, formatJitter, formatLoss, isActive, pairKey, throughput } from '../../../utils/traffic';
import { dashboardUrl } from '../../../utils/utils.routing';
import { ErrorAlert } from '../../../components/ErrorAlert';
import { testIds } from '../../../components/testIds';
import { getTableStyles } from '../../../components/styles';
import { SectionHeader } from '../../../components/SectionHeader';
import { ThroughputSparkline } from './ThroughputSparkline';
import { TrafficStatePill } from './TrafficStatePill';

/** Rows of the table. */
export const RECENT_LIMIT = 25;
/** Done tests of a pair asked for, and points of a sparkline. */
const HISTORY_FETCH = 50;
export const HISTORY_POINTS = 20;

interface Props {
  /** Changes when something new finished (the page's own test): reloads the table. */
  reloadKey: number;
  /** While a listed test is queued or running, the table reloads this often (ms). */
  refreshMs?: number;
}

type Pair = { source: string; target: string };

/** Done tests per pair (newest first), from the list endpoint filtered by source and target. */
async function loadHistories(pairs: Pair[]): Promise<Map<string, TrafficTest[]>> {
  const entries = await Promise.all(
    pairs.map(async (p) => {
      const page = await api
        .trafficTests({ source: p.source, target: p.target, state: 'done', limit: HISTORY_FETCH })
        .catch(() => undefined);
      return [pairKey(p), page?.results ?? []] as const;
    })
  );
  return new Map(entries);
}

/** The throughput of the tests like `test` (pair, protocol, direction), oldest first, at most HISTORY_POINTS. */
export function historyOf(test: TrafficTest, history: TrafficTest[]): number[] {
  return history
    .filter((h) => h.protocol === test.protocol && h.reverse === test.reverse && h.result)
    .slice(0, HISTORY_POINTS)
    .map((h) => h.result!.received_bits_per_second)
    .reverse();
}

export function TrafficResults({ reloadKey, refreshMs = 5000 }: Props) {
  const styles = useStyles2(getStyles);
  const tests = useApi(() => api.trafficTests({ limit: RECENT_LIMIT }), [reloadKey]);
  const rows = useMemo(() => tests.data?.results ?? [], [tests.data]);
  const anyActive = rows.some(isActive);
  const { reload, loading } = tests;
  useEffect(() => {
    if (!anyActive || loading) {
      return;
    }
    const t = setTimeout(reload, refreshMs);
    return () => clearTimeout(t);
  }, [anyActive, loading, reload, refreshMs]);

  const pairs = useMemo(() => {
    const seen = new Map<string, Pair>();
    rows.forEach((r) => seen.set(pairKey(r), { source: r.source, target: r.target }));
    return [...seen.values()];
  }, [rows]);
  // Reloaded when the set of pairs or the newest finished test changes.
  const newestDone = rows.find((r) => r.state === 'done')?.id ?? 0;
  const histories = useApi(() => loadHistories(pairs), [pairs, newestDone]);

  return (
    <section className={styles.wrapper} data-testid={testIds.traffic.results} aria-labelledby="traffic-results-heading">
      <SectionHeader id="traffic-results-heading" title="Recent results">
        <Button size="sm" variant="secondary" icon="sync" onClick={reload} disabled={loading}>
          Refresh
        </Button>
      </SectionHeader>
      {tests.error && <ErrorAlert error={tests.error} title="Cannot load the traffic tests" onRetry={reload} />}
      {loading && !tests.data && <LoadingPlaceholder text="Loading traffic tests…" />}
      {tests.data && rows.length === 0 && (
        <EmptyState variant="call-to-action" hideImage message="No traffic tests yet" />
      )}
      {rows.length > 0 && (
        <div className={styles.scroll}>
          <table className={styles.table} aria-label="Recent traffic tests">
            <thead>
              <tr>
                <th>Time</th>
                <th>Source → target</th>
                <th>Protocol</th>
                <th>Direction</th>
                <th className={styles.number}>Throughput</th>
                <th>Retransmits / jitter / loss</th>
                <th>State</th>
                <th>History</th>
                <th aria-label="Dashboard" />
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <ResultRow key={t.id} test={t} history={historyOf(t, histories.data?.get(pairKey(t)) ?? [])} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function ResultRow({ test: t, history }: { test: TrafficTest; history: number[] }) {
  const styles = useStyles2(getStyles);
  const at = t.finished_at ?? t.started_at ?? t.queued_at;
  const r = t.result;
  return (
    <tr data-testid={testIds.traffic.resultRow(t.id)} data-state={t.state}>
      <td className={styles.nowrap}>
        <time dateTime={at} title={formatDateTime(at)}>
          {timeAgo(at)}
        </time>
        {t.schedule_id !== null && <span className={styles.secondary}> · scheduled</span>}
      </td>
      <td>
        <span className={styles.pair}>
          {t.source} → {t.target}
        </span>
        {t.target_address && t.target_address !== t.target && (
          <span className={styles.secondary}> ({t.target_address})</span>
        )}
      </td>
      <td className={styles.nowrap}>
        {t.protocol.toUpperCase()}
        {t.parallel > 1 ? ` ×${t.parallel}` : ''}
        <span className={styles.secondary}> · {t.duration_seconds} s</span>
      </td>
      <td>
        {t.reverse ? (
          <Tooltip content={`${t.target} sends, ${t.source} receives`}>
            <span>reverse</span>
          </Tooltip>
        ) : (
          'forward'
        )}
      </td>
      <td
        className={styles.number}
        data-testid={testIds.traffic.throughput(t.id)}
        data-bits={throughput(t) ?? undefined}
        title={
          r
            ? `received ${formatBitrate(r.received_bits_per_second)}, sent ${formatBitrate(r.sent_bits_per_second)}`
            : undefined
        }
      >
        {formatBitrate(throughput(t))}
      </td>
      <td className={styles.nowrap}>
        {!r
          ? '–'
          : t.protocol === 'tcp'
            ? `${r.retransmits ?? '–'} retransmits`
            : `jitter ${formatJitter(r.jitter_seconds)} · loss ${formatLoss(r.loss_ratio)}`}
      </td>
      <td>
        <TrafficStatePill state={t.state} tooltip={t.state === 'failed' ? t.error : undefined} />
        {t.state === 'failed' && t.error && <div className={styles.error}>{t.error}</div>}
      </td>
      <td>
        <ThroughputSparkline values={history} label={`${t.source} → ${t.target} ${t.protocol.toUpperCase()}`} />
      </td>
      <td>
        <LinkButton
          href={dashboardUrl('traffic', { source: t.source, target: t.target })}
          icon="apps"
          variant="secondary"
          fill="text"
          size="sm"
          data-testid={testIds.traffic.dashboard}
          tooltip={`Throughput, loss and jitter of ${t.source} → ${t.target} over time`}
        >
          View in dashboard
        </LinkButton>
      </td>
    </tr>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1.5),
  }),
  ...getTableStyles(theme),
  number: css({
    '&&': {
      textAlign: 'right',
    },
    fontVariantNumeric: 'tabular-nums',
    whiteSpace: 'nowrap',
    fontWeight: theme.typography.fontWeightMedium,
  }),
  nowrap: css({
    whiteSpace: 'nowrap',
  }),
  pair: css({
    fontWeight: theme.typography.fontWeightMedium,
    whiteSpace: 'nowrap',
  }),
  secondary: css({
    color: theme.colors.text.secondary,
  }),
  error: css({
    color: theme.colors.error.text,
    fontSize: theme.typography.bodySmall.fontSize,
    maxWidth: 320,
    overflowWrap: 'anywhere',
  }),
});
