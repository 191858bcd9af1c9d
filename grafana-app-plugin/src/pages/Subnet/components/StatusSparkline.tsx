import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';
import type { AddressHistory } from '../../../api/types';
import { formatPercent } from '../../../utils/format';
import { testIds } from '../../../components/testIds';

interface Props {
  history: AddressHistory;
  width?: number;
  height?: number;
}

interface Bar {
  at: string;
  /** 0–1 share of answered probes in the bucket. */
  up: number;
  samples: number;
}

/** Hourly buckets when the exporter has them, else the raw samples. */
export function sparkBars(history: AddressHistory): Bar[] {
  if (history.hourly.length > 0) {
    return history.hourly.map((h) => ({ at: h.hour, up: h.up_ratio, samples: h.samples }));
  }
  return history.samples.map((s) => ({ at: s.at, up: s.up ? 1 : 0, samples: 1 }));
}

/** Up/down history as an uptime strip: green when every probe answered, red when none did, orange between. */
export function StatusSparkline({ history, width = 360, height = 32 }: Props) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const bars = sparkBars(history);
  if (bars.length === 0) {
    return <span className={styles.empty}>No status samples yet.</span>;
  }
  const step = width / bars.length;
  const barWidth = Math.max(1, step - (step > 3 ? 1 : 0));
  const colour = (up: number) =>
    up >= 0.999 ? theme.colors.success.main : up <= 0 ? theme.colors.error.main : theme.colors.warning.main;
  const downBuckets = bars.filter((b) => b.up < 0.999).length;
  return (
    <svg
      width="100%"
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={`Status history: ${bars.length} buckets, ${downBuckets} with missed probes`}
      data-testid={testIds.drawer.sparkline}
      className={styles.svg}
    >
      <rect x={0} y={0} width={width} height={height} fill={theme.colors.background.secondary} />
      {bars.map((b, i) => {
        return (
          <rect key={`${b.at}-${i}`} x={i * step} y={0} width={barWidth} height={height} fill={colour(b.up)}>
            <title>{`${new Date(b.at).toLocaleString()}: ${formatPercent(b.up)} up (${b.samples} probes)`}</title>
          </rect>
        );
      })}
    </svg>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  svg: css({
    display: 'block',
    borderRadius: theme.shape.radius.default,
    border: `1px solid ${theme.colors.border.weak}`,
  }),
  empty: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
});
