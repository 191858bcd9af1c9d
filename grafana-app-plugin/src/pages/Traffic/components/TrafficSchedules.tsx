// Scheduled traffic tests: the list with each schedule's last result; Editors add, edit, enable
// or disable and delete them.
import React, { useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import {
  Alert,
  Button,
  ConfirmModal,
  EmptyState,
  IconButton,
  LoadingPlaceholder,
  Stack,
  Switch,
  Text,
  useStyles2,
} from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import { useApi } from '../../../api/hooks';
import type { TrafficHost, TrafficSchedule, TrafficTest } from '../../../api/types';
import { formatDateTime, shortDuration, timeAgo } from '../../../utils/format';
import { formatBitrate, formatInterval, throughput } from '../../../utils/traffic';
import { ErrorAlert } from '../../../components/ErrorAlert';
import { testIds } from '../../../components/testIds';
import { getTableStyles } from '../../../components/styles';
import { SectionHeader } from '../../../components/SectionHeader';
import { TrafficScheduleModal } from './TrafficScheduleModal';
import { TrafficStatePill } from './TrafficStatePill';

interface Props {
  hosts: TrafficHost[];
  writable: boolean;
  /** Changes when a test finished elsewhere on the page: the last results may have changed. */
  reloadKey: number;
}

/** The last test of each schedule that has one, by test id. */
async function loadLastTests(ids: number[]): Promise<Map<number, TrafficTest>> {
  const tests = await Promise.all(ids.map((id) => api.trafficTest(id).catch(() => undefined)));
  return new Map(tests.filter((t): t is TrafficTest => t !== undefined).map((t) => [t.id, t]));
}

/** "in 4m", "due" for the next run. */
export function nextRunText(iso: string | null, now = Date.now()): string {
  if (!iso) {
    return '–';
  }
  const ms = Date.parse(iso) - now;
  return ms > 1000 ? `in ${shortDuration(ms)}` : 'due';
}

export function TrafficSchedules({ hosts, writable, reloadKey }: Props) {
  const styles = useStyles2(getStyles);
  const schedules = useApi(() => api.trafficSchedules(), [reloadKey]);
  const list = schedules.data?.results ?? [];
  const lastIds = list.map((s) => s.last_test_id).filter((id): id is number => id !== null);
  const lastTests = useApi(() => loadLastTests(lastIds), [lastIds]);
  const [editing, setEditing] = useState<TrafficSchedule | 'new'>();
  const [deleting, setDeleting] = useState<TrafficSchedule>();
  const [deleteError, setDeleteError] = useState<ApiError>();
  const [actionError, setActionError] = useState<ApiError>();

  const toggle = async (s: TrafficSchedule, enabled: boolean) => {
    setActionError(undefined);
    try {
      await api.updateTrafficSchedule(s.id, { enabled });
    } catch (e) {
      setActionError(toApiError(e));
    }
    schedules.reload();
  };

  const remove = async () => {
    if (!deleting) {
      return;
    }
    try {
      await api.deleteTrafficSchedule(deleting.id);
      setDeleting(undefined);
      setDeleteError(undefined);
      schedules.reload();
    } catch (e) {
      setDeleteError(toApiError(e));
    }
  };

  return (
    <section
      className={styles.wrapper}
      data-testid={testIds.traffic.schedules}
      aria-labelledby="traffic-schedules-heading"
    >
      <SectionHeader id="traffic-schedules-heading" title="Schedules">
        {writable && (
          <Button
            size="sm"
            icon="plus"
            onClick={() => setEditing('new')}
            disabled={hosts.length === 0}
            tooltip={hosts.length === 0 ? 'Configure SSH hosts in the exporter first' : undefined}
            data-testid={testIds.traffic.addSchedule}
          >
            Add schedule
          </Button>
        )}
      </SectionHeader>
      {schedules.error && (
        <ErrorAlert error={schedules.error} title="Cannot load the schedules" onRetry={schedules.reload} />
      )}
      {actionError && (
        <Alert severity="error" title="The schedule was not changed" onRemove={() => setActionError(undefined)}>
          {explain(actionError)}
        </Alert>
      )}
      {schedules.loading && !schedules.data && <LoadingPlaceholder text="Loading schedules…" />}
      {schedules.data && list.length === 0 && (
        <EmptyState variant="call-to-action" hideImage message="No scheduled tests">
          <Text color="secondary">
            A schedule runs a test every interval; its results feed the traffic dashboard and alerts.
          </Text>
        </EmptyState>
      )}
      {list.length > 0 && (
        <div className={styles.scroll}>
          <table className={styles.table} aria-label="Traffic test schedules">
            <thead>
              <tr>
                <th>Source → target</th>
                <th>Test</th>
                <th>Every</th>
                <th>Floor</th>
                <th>Enabled</th>
                <th>Last result</th>
                <th>Next run</th>
                {writable && <th aria-label="Actions" />}
              </tr>
            </thead>
            <tbody>
              {list.map((s) => {
                const last = s.last_test_id !== null ? lastTests.data?.get(s.last_test_id) : undefined;
                const bits = last ? throughput(last) : null;
                const below = bits !== null && s.floor_bits_per_second !== null && bits < s.floor_bits_per_second;
                return (
                  <tr key={s.id} data-testid={testIds.traffic.scheduleRow(s.id)}>
                    <td className={styles.pair}>
                      {s.source} → {s.target}
                    </td>
                    <td className={styles.nowrap}>
                      {s.protocol.toUpperCase()}
                      {s.parallel > 1 ? ` ×${s.parallel}` : ''} · {s.duration_seconds} s ·{' '}
                      {s.reverse ? 'reverse' : 'forward'}
                      {s.bitrate_bits_per_second ? ` · ${formatBitrate(s.bitrate_bits_per_second)}` : ''}
                    </td>
                    <td className={styles.nowrap}>{formatInterval(s.interval_seconds)}</td>
                    <td className={styles.nowrap}>
                      {s.floor_bits_per_second === null ? '–' : formatBitrate(s.floor_bits_per_second)}
                    </td>
                    <td>
                      {writable ? (
                        <Switch
                          value={s.enabled}
                          aria-label={`${s.enabled ? 'Disable' : 'Enable'} ${s.source} → ${s.target}`}
                          data-testid={testIds.traffic.scheduleEnabled(s.id)}
                          onChange={(e) => toggle(s, e.currentTarget.checked)}
                        />
                      ) : s.enabled ? (
                        'Yes'
                      ) : (
                        'No'
                      )}
                    </td>
                    <td className={styles.nowrap}>
                      {last ? (
                        <Stack gap={1} alignItems="center">
                          <TrafficStatePill state={last.state} tooltip={last.error} />
                          {bits !== null && (
                            <span className={below ? styles.below : undefined}>
                              {formatBitrate(bits)}
                              {below ? ' (below the floor)' : ''}
                            </span>
                          )}
                          <time
                            className={styles.secondary}
                            dateTime={last.finished_at ?? last.queued_at}
                            title={formatDateTime(last.finished_at ?? last.queued_at)}
                          >
                            {timeAgo(last.finished_at ?? last.queued_at)}
                          </time>
                        </Stack>
                      ) : (
                        <span className={styles.secondary}>not run yet</span>
                      )}
                    </td>
                    <td className={styles.nowrap} title={formatDateTime(s.next_run_at)}>
                      {s.enabled ? nextRunText(s.next_run_at) : '–'}
                    </td>
                    {writable && (
                      <td className={styles.nowrap}>
                        <IconButton
                          name="pen"
                          tooltip="Edit"
                          onClick={() => setEditing(s)}
                          data-testid={testIds.traffic.editSchedule(s.id)}
                        />
                        <IconButton
                          name="trash-alt"
                          tooltip="Delete"
                          onClick={() => {
                            setDeleteError(undefined);
                            setDeleting(s);
                          }}
                          data-testid={testIds.traffic.deleteSchedule(s.id)}
                        />
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <TrafficScheduleModal
          schedule={editing === 'new' ? undefined : editing}
          hosts={hosts}
          onDismiss={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            schedules.reload();
          }}
        />
      )}
      {deleting && (
        <ConfirmModal
          isOpen
          title="Delete schedule"
          body={
            <Stack direction="column" gap={1}>
              <Text>
                Stop testing {deleting.source} → {deleting.target} every {formatInterval(deleting.interval_seconds)}?
                The results it already has stay.
              </Text>
              {deleteError && (
                <Alert severity="error" title="The schedule was not deleted">
                  {explain(deleteError)}
                </Alert>
              )}
            </Stack>
          }
          confirmText="Delete"
          onConfirm={remove}
          onDismiss={() => setDeleting(undefined)}
        />
      )}
    </section>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1.5),
  }),
  ...getTableStyles(theme),
  pair: css({
    fontWeight: theme.typography.fontWeightMedium,
    whiteSpace: 'nowrap',
  }),
  nowrap: css({
    whiteSpace: 'nowrap',
  }),
  secondary: css({
    color: theme.colors.text.secondary,
  }),
  below: css({
    color: theme.colors.warning.text,
    fontWeight: theme.typography.fontWeightMedium,
  }),
});
