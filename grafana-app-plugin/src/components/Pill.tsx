// A small state pill (or a chip) in theme colours (light and dark): the infrastructure page's
// states and a host's Up / Down.
import React from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';
import { testIds } from './testIds';

export type Tone = 'ok' | 'warning' | 'error' | 'neutral' | 'info';

interface Props {
  tone: Tone;
  children: React.ReactNode;
  /** A machine-readable state for tests and styling (data-state). */
  state?: string;
  title?: string;
  /** A chip: a lighter, square-ish look for secondary facts (health, tags). */
  chip?: boolean;
}

export function Pill({ tone, children, state, title, chip }: Props) {
  const styles = useStyles2(getPillStyles);
  return (
    <span
      className={cx(styles.pill, chip && styles.chip, styles[tone])}
      data-testid={testIds.infra.pill}
      data-state={state}
      title={title}
    >
      {!chip && <span className={styles.dot} aria-hidden />}
      {children}
    </span>
  );
}

export const getPillStyles = (theme: GrafanaTheme2) => ({
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
  chip: css({
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(0, 0.75),
    fontWeight: theme.typography.fontWeightRegular,
  }),
  dot: css({
    width: 8,
    height: 8,
    borderRadius: theme.shape.radius.circle,
    background: 'currentColor',
  }),
  ok: css({
    color: theme.colors.success.text,
    background: theme.colors.success.transparent,
    borderColor: theme.colors.success.border,
  }),
  warning: css({
    color: theme.colors.warning.text,
    background: theme.colors.warning.transparent,
    borderColor: theme.colors.warning.border,
  }),
  error: css({
    color: theme.colors.error.text,
    background: theme.colors.error.transparent,
    borderColor: theme.colors.error.border,
  }),
  info: css({
    color: theme.colors.info.text,
    background: theme.colors.info.transparent,
    borderColor: theme.colors.info.border,
  }),
  neutral: css({
    color: theme.colors.text.secondary,
    background: theme.colors.background.secondary,
    borderColor: theme.colors.border.weak,
  }),
});
