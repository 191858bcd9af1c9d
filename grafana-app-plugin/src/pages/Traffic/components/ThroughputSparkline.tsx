import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';
import { formatBitrate } from '../../../utils/traffic';
import { testIds } from '../../../components/testIds';

interface Props {
  /** bits/s, oldest first. */
  values: number[];
  width?: number;
  height?: number;
  label?: string;
}

/** Points of a line through `values` in a width×height box (0 at the bottom, the largest value at the top). */
export function sparkPoints(values: number[], width: number, height: number, pad = 2): Array<[number, number]> {
  const max = Math.max(...values, 0);
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  return values.map((v, i) => [
    values.length > 1 ? pad + i * step : width / 2,
    max > 0 ? height - pad - (v / max) * (height - 2 * pad) : height - pad,
  ]);
}

/** A small line of a pair's throughput history in the theme's colours; the newest point marked. */
export function ThroughputSparkline({ values, width = 120, height = 28, label = 'Throughput history' }: Props) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  if (values.length === 0) {
    return <span className={styles.empty}>–</span>;
  }
  const points = sparkPoints(values, width, height);
  const [lastX, lastY] = points[points.length - 1]!;
  const summary = `${label}: ${values.length} test(s), latest ${formatBitrate(values[values.length - 1])}, lowest ${formatBitrate(
    Math.min(...values)
  )}, highest ${formatBitrate(Math.max(...values))}`;
  const colour = theme.visualization.getColorByName('blue');
  return (
    <svg
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={summary}
      data-testid={testIds.traffic.sparkline}
      data-points={values.length}
      className={styles.svg}
    >
      <title>{summary}</title>
      <polyline
        points={points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}
        fill="none"
        stroke={colour}
        strokeWidth={1.5}
        strokeLinejoin="round"
        strokeLinecap="round"
      />
      <circle cx={lastX} cy={lastY} r={2.5} fill={colour} />
    </svg>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  svg: css({
    display: 'block',
    background: theme.colors.background.secondary,
    borderRadius: theme.shape.radius.default,
  }),
  empty: css({
    color: theme.colors.text.secondary,
  }),
});
