import React, { useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Button, Icon, Tooltip, useStyles2 } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../api/client';
import { useMounted, usePolling } from '../api/hooks';
import type { Scan } from '../api/types';
import { formatPercent } from '../utils/format';
import { testIds } from './testIds';

interface Props {
  subnetId: number;
  /** Called once when a scan finishes (done or failed), to reload what it changed. */
  onDone?: (scan: Scan) => void;
  pollMs?: number;
  size?: 'sm' | 'md';
  disabled?: boolean;
}

function isScanActive(scan: Scan): boolean {
  return scan.state === 'queued' || scan.state === 'running';
}

/** "sweep 3.3 s · retry 4.3 s · ports 0.2 s · names 2.0 s": what the scan spent its time on. */
export function formatPhases(scan: Scan): string {
  return scan.phases
    .map(
      (p) => `${p.phase === 'retry' && p.pass && p.pass > 1 ? `retry ${p.pass}` : p.phase} ${p.seconds.toFixed(1)} s`
    )
    .join(' · ');
}

/** "Scan now": starts a sweep, then polls the scan until it is done and shows its progress. */
export function ScanButton({ subnetId, onDone, pollMs = 1000, size = 'sm', disabled }: Props) {
  const styles = useStyles2(getStyles);
  const mounted = useMounted();
  const polled = usePolling(api.scanStatus, isScanActive, pollMs, onDone);
  const [startError, setStartError] = useState<ApiError>();
  const scan = polled.current;
  const error = startError ?? polled.error;

  const start = async () => {
    setStartError(undefined);
    polled.stop();
    try {
      polled.start(await api.scan(subnetId));
    } catch (e) {
      if (mounted.current) {
        setStartError(toApiError(e));
      }
    }
  };

  const running = scan !== undefined && (scan.state === 'queued' || scan.state === 'running');
  return (
    <span className={styles.wrapper}>
      <Button
        size={size}
        variant="secondary"
        icon={running ? 'spinner' : 'sync'}
        disabled={disabled || running}
        onClick={start}
        data-testid={testIds.scan.button(subnetId)}
        tooltip="Sweep this subnet now (ICMP, then ports and names)"
      >
        {running ? (scan.state === 'queued' ? 'Queued' : `Scanning ${formatPercent(scan.progress, 0)}`) : 'Scan now'}
      </Button>
      <span className={styles.status} data-testid={testIds.scan.progress(subnetId)} aria-live="polite">
        {scan?.state === 'done' && (
          <Tooltip content={formatPhases(scan) || 'no phase timings'}>
            <span data-testid={testIds.scan.phases(subnetId)}>{`${scan.alive} alive of ${scan.targets}`}</span>
          </Tooltip>
        )}
        {scan?.state === 'done' && scan.warnings.length > 0 && (
          <Tooltip content={scan.warnings.map((w) => w.message).join('\n')}>
            <span className={styles.warning} data-testid={testIds.scan.warnings(subnetId)}>
              {' '}
              <Icon name="exclamation-triangle" /> {scan.warnings.map((w) => w.message).join('; ')}
            </span>
          </Tooltip>
        )}
        {scan?.state === 'failed' && (
          <Tooltip content={scan.error ?? 'the scan failed'}>
            <span className={styles.error}>
              <Icon name="exclamation-triangle" /> scan failed{scan.error ? `: ${scan.error}` : ''}
            </span>
          </Tooltip>
        )}
        {error && (
          <Tooltip content={explain(error)}>
            <span className={styles.error}>
              <Icon name="exclamation-triangle" /> {explain(error)}
            </span>
          </Tooltip>
        )}
      </span>
    </span>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({
    display: 'inline-flex',
    alignItems: 'center',
    gap: theme.spacing(1),
    minWidth: 0,
  }),
  status: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'nowrap',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    maxWidth: 260,
  }),
  error: css({
    color: theme.colors.error.text,
  }),
  warning: css({
    color: theme.colors.warning.text,
  }),
});
