import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';
import { UTILIZATION_CRITICAL, UTILIZATION_WARN } from '../constants';
import { formatCount, formatPercent } from '../utils/format';
import { testIds } from './testIds';

interface Props {
  used: number;
  size: number;
  /** The exporter's ratio (counts ranges marked used); computed from used/size when absent. */
  ratio?: number;
  /** Hide the "12 / 254" text. */
  compact?: boolean;
  width?: number | string;
}

export type UtilizationLevel = 'ok' | 'warning' | 'critical';

export function utilizationLevel(ratio: number): UtilizationLevel {
  return ratio < UTILIZATION_WARN ? 'ok' : ratio < UTILIZATION_CRITICAL ? 'warning' : 'critical';
}

export function utilizationColor(theme: GrafanaTheme2, ratio: number): string {
  const level = utilizationLevel(ratio);
  return level === 'ok'
    ? theme.colors.success.main
    : level === 'warning'
      ? theme.colors.warning.main
      : theme.colors.error.main;
}

/** A bar of used/size: green below 80 %, orange below 90 %, red above (theme colours). */
export function UtilizationBar({ used, size, ratio, compact, width = '100%' }: Props) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const r = Math.min(1, Math.max(0, ratio ?? (size > 0 ? used / size : 0)));
  const label = `${formatCount(used)} of ${formatCount(size)} used (${formatPercent(r)})`;
  return (
    <div className={styles.wrapper} style={{ width }} title={label}>
      <div
        className={styles.track}
        role="meter"
        aria-label="Utilization"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(r * 1000) / 10}
        aria-valuetext={label}
        data-testid={testIds.utilizationBar}
        data-level={utilizationLevel(r)}
      >
        <div className={styles.fill} style={{ width: `${r * 100}%`, background: utilizationColor(theme, r) }} />
      </div>
      {!compact && (
        <span className={styles.text}>
          {formatCount(used)} / {formatCount(size)} · {formatPercent(r)}
        </span>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(1),
    minWidth: 0,
  }),
  track: css({
    flex: '1 1 auto',
    minWidth: 60,
    height: theme.spacing(1),
    borderRadius: theme.shape.radius.pill,
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.weak}`,
    overflow: 'hidden',
  }),
  fill: css({
    height: '100%',
    borderRadius: theme.shape.radius.pill,
    [theme.transitions.handleMotion('no-preference')]: {
      transition: theme.transitions.create('width'),
    },
  }),
  text: css({
    flex: '0 0 auto',
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    fontVariantNumeric: 'tabular-nums',
    whiteSpace: 'nowrap',
  }),
});
