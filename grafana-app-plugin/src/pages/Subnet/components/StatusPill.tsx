import React from 'react';
import { cx } from '@emotion/css';
import { Tooltip, useStyles2 } from '@grafana/ui';
import type { HostStatus, Observation } from '../../../api/types';
import { formatDateTime, timeAgo } from '../../../utils/format';
import { type Tone, getPillStyles } from '../../../components/Pill';
import { testIds } from '../../../components/testIds';

interface Props {
  observed: Observation | null | undefined;
  now?: number;
}

const LABELS: Record<HostStatus, string> = { up: 'Up', down: 'Down', unknown: 'Unknown' };
const TONES: Record<HostStatus, Tone> = { up: 'ok', down: 'error', unknown: 'neutral' };

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
  const styles = useStyles2(getPillStyles);
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
        className={cx(styles.pill, styles[TONES[status]])}
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
