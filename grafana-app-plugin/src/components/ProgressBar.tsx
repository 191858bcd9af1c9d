// A job's progress (a traffic test, a VM creation): a bar with its words beside it.
import React from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';
import { formatPercent } from '../utils/format';

interface Props {
  /** Done so far, 0–1 (clamped). */
  ratio: number;
  /** aria-label of the bar. */
  label: string;
  /** aria-valuenow of aria-valuemax, and aria-valuetext; a whole percent of `ratio` by default. */
  now?: number;
  max?: number;
  valueText?: string;
  /** The words beside the bar. */
  caption: React.ReactNode;
  /** The bar's widest (px). */
  maxWidth: number;
  /** Filled in the success colour (the job is done). */
  done?: boolean;
  'data-testid'?: string;
}

export function ProgressBar({
  ratio,
  label,
  now = Math.round(ratio * 100),
  max = 100,
  valueText = formatPercent(ratio, 0),
  caption,
  maxWidth,
  done,
  'data-testid': testId,
}: Props) {
  const styles = useStyles2(getStyles, maxWidth);
  return (
    <div className={styles.row}>
      <div
        className={styles.track}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={max}
        aria-valuenow={now}
        aria-valuetext={valueText}
        data-testid={testId}
      >
        <div
          className={cx(styles.fill, done && styles.fillDone)}
          style={{ width: `${Math.min(1, Math.max(0, ratio)) * 100}%` }}
        />
      </div>
      <span className={styles.caption}>{caption}</span>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2, maxWidth: number) => ({
  row: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(1.5),
  }),
  track: css({
    flex: '1 1 auto',
    maxWidth,
    height: 8,
    borderRadius: theme.shape.radius.pill,
    background: theme.colors.background.canvas,
    border: `1px solid ${theme.colors.border.weak}`,
    overflow: 'hidden',
  }),
  fill: css({
    height: '100%',
    background: theme.colors.primary.main,
    [theme.transitions.handleMotion('no-preference')]: {
      transition: 'width 0.5s linear',
    },
  }),
  fillDone: css({
    background: theme.colors.success.main,
  }),
  caption: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'nowrap',
  }),
});
