import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';
import { utilizationColor } from '../../../components/UtilizationBar';

/** A small bar for a ratio (CPU, memory) with its words: green, orange above 80 %, red above 90 %. */
export function Meter({ ratio, label, text }: { ratio: number; label: string; text: string }) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const r = Math.min(1, Math.max(0, ratio));
  return (
    <div className={styles.wrapper}>
      <div
        className={styles.track}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(r * 1000) / 10}
        aria-valuetext={text}
      >
        <div className={styles.fill} style={{ width: `${r * 100}%`, background: utilizationColor(theme, r) }} />
      </div>
      <span className={styles.text}>{text}</span>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(1),
  }),
  track: css({
    width: 120,
    flex: '0 0 120px',
    height: theme.spacing(1),
    borderRadius: theme.shape.radius.pill,
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.weak}`,
    overflow: 'hidden',
  }),
  fill: css({
    height: '100%',
    borderRadius: theme.shape.radius.pill,
  }),
  text: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    fontVariantNumeric: 'tabular-nums',
    whiteSpace: 'nowrap',
  }),
});
