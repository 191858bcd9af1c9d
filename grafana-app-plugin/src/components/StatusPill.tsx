import React from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Tooltip, useStyles2 } from '@grafana/ui';
import type { HostStatus, Observation } from '../api/types';
import { formatDateTime, timeAgo } from '../utils/format';
import { testIds } from './testIds';

interface Props {
  observed: Observation | null | undefined;
  now?: number;
}

const LABELS: Record<HostStatus, string> = { up: 'Up', down: 'Down', unknown: 'Unknown' };

/** Words for the tooltip: "down 12m ago", "up since 3h ago", "never answered". */
export function statusDescription(observed: Observation | null | undefined, now: number = Date.now()): string {
  const status = observed?.status ?? 'unknown';
  if (status === 'unknown' || !observed) {
    return observed?.last_checked_at
      ? `no answer yet (checked ${timeAgo(observed.last_checked_at, now)})`
      : 'not checked yet';
  }
  const since = observed.status_changed_at ? timeAgo(observed.status_changed_at, now) : null;
  if (status === 'down') {
    return since ? `down ${since}` : 'down';
  }
  return since ? `up since ${since}` : 'up';
}

/** Up / Down / Unknown from observed.status, with when it changed in a tooltip. */
export function StatusPill({ observed, now }: Props) {
  const styles = useStyles2(getStyles);
  const status: HostStatus = observed?.status ?? 'unknown';
  const description = statusDescription(observed, now);
  const tooltip = (
    <div>
      <div>{description}</div>
      {observed?.last_seen_at && <div>last answer {formatDateTime(observed.last_seen_at)}</div>}
    </div>
  );
  return (
    <Tooltip content={tooltip} placement="top">
      <span
        className={cx(styles.pill, styles[status])}
        data-testid={testIds.statusPill}
        data-status={status}
        aria-label={`${LABELS[status]}: ${description}`}
      >
        <span className={styles.dot} aria-hidden />
        {LABELS[status]}
      </span>
    </Tooltip>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  pill: css({
    display: 'inline-flex',
    alignItems: 'center',
    gap: theme.spacing(0.5),
    padding: theme.spacing(0, 1),
    borderRadius: theme.shape.radius.pill,
    fontSize: theme.typography.bodySmall.fontSize,
    lineHeight: '20px',
    fontWeight: theme.typography.fontWeightMedium,
    whiteSpace: 'nowrap',
    border: '1px solid transparent',
  }),
  dot: css({
    width: 8,
    height: 8,
    borderRadius: theme.shape.radius.circle,
    background: 'currentColor',
  }),
  up: css({
    color: theme.colors.success.text,
    background: theme.colors.success.transparent,
    borderColor: theme.colors.success.border,
  }),
  down: css({
    color: theme.colors.error.text,
    background: theme.colors.error.transparent,
    borderColor: theme.colors.error.border,
  }),
  unknown: css({
    color: theme.colors.text.secondary,
    background: theme.colors.background.secondary,
    borderColor: theme.colors.border.weak,
  }),
});
