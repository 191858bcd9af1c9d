import React, { useEffect, useRef, useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Button, Icon, Tooltip, useStyles2 } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../api/client';
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

/** "Scan now": starts a sweep, then polls the scan until it is done and shows its progress. */
export function ScanButton({ subnetId, onDone, pollMs = 1000, size = 'sm', disabled }: Props) {
  const styles = useStyles2(getStyles);
  const [scan, setScan] = useState<Scan>();
  const [error, setError] = useState<ApiError>();
  const timer = useRef<ReturnType<typeof setTimeout>>();
  const alive = useRef(true);
  const onDoneRef = useRef(onDone);
  useEffect(() => {
    onDoneRef.current = onDone;
  }, [onDone]);

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
      clearTimeout(timer.current);
    };
  }, []);

  const follow = (current: Scan) => {
    if (!alive.current) {
      return;
    }
    setScan(current);
    if (current.state === 'done' || current.state === 'failed') {
      onDoneRef.current?.(current);
      return;
    }
    timer.current = setTimeout(() => {
      api.scanStatus(current.id).then(follow, (e: unknown) => alive.current && setError(toApiError(e)));
    }, pollMs);
  };

  const start = async () => {
    setError(undefined);
    setScan(undefined);
    try {
      follow(await api.scan(subnetId));
    } catch (e) {
      if (alive.current) {
        setError(toApiError(e));
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
        {scan?.state === 'done' && `${scan.alive} alive of ${scan.targets}`}
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
});
