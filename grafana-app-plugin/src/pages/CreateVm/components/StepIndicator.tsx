// The wizard's steps as a row of numbered circles joined by lines: done steps show a check, the
// current one is highlighted, a step with errors shows a warning; visited steps can be clicked.
import React from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Icon, useStyles2 } from '@grafana/ui';
import { srOnly } from '../../../components/styles';
import { testIds } from '../../../components/testIds';

export type StepState = 'done' | 'current' | 'error' | 'upcoming';

export interface StepItem {
  id: string;
  title: string;
  state: StepState;
  /** Whether the user may jump to it (visited before). */
  reachable: boolean;
}

interface Props {
  steps: StepItem[];
  onSelect: (index: number) => void;
  disabled?: boolean;
}

export function StepIndicator({ steps, onSelect, disabled }: Props) {
  const styles = useStyles2(getStyles);
  return (
    <nav aria-label="Steps of the wizard" data-testid={testIds.vm.stepper}>
      <ol className={styles.list}>
        {steps.map((s, i) => (
          <li key={s.id} className={styles.item}>
            <button
              type="button"
              className={cx(styles.step, styles[s.state])}
              disabled={disabled || !s.reachable || s.state === 'current'}
              aria-current={s.state === 'current' ? 'step' : undefined}
              data-testid={testIds.vm.stepTab(s.id)}
              data-state={s.state}
              onClick={() => onSelect(i)}
            >
              <span className={styles.circle} aria-hidden>
                {s.state === 'done' ? (
                  <Icon name="check" size="sm" />
                ) : s.state === 'error' ? (
                  <Icon name="exclamation" size="sm" />
                ) : (
                  i + 1
                )}
              </span>
              <span className={styles.title}>
                {s.title}
                {s.state === 'error' && <span className={srOnly}> (needs attention)</span>}
                {s.state === 'done' && <span className={srOnly}> (done)</span>}
              </span>
            </button>
            {i < steps.length - 1 && <span className={styles.connector} aria-hidden />}
          </li>
        ))}
      </ol>
    </nav>
  );
}

const getStyles = (theme: GrafanaTheme2) => {
  const circle = (color: string, background: string, border: string) => ({
    '& > span:first-of-type': { color, background, borderColor: border },
  });
  return {
    list: css({
      display: 'flex',
      flexWrap: 'wrap',
      alignItems: 'center',
      gap: theme.spacing(1),
      listStyle: 'none',
      margin: 0,
      padding: 0,
    }),
    item: css({
      display: 'flex',
      alignItems: 'center',
      gap: theme.spacing(1),
    }),
    step: css({
      display: 'inline-flex',
      alignItems: 'center',
      gap: theme.spacing(1),
      padding: theme.spacing(0.5, 1),
      border: 'none',
      borderRadius: theme.shape.radius.default,
      background: 'transparent',
      color: theme.colors.text.secondary,
      fontSize: theme.typography.body.fontSize,
      cursor: 'pointer',
      '&:disabled': { cursor: 'default' },
      '&:not(:disabled):hover': { background: theme.colors.action.hover },
      '&:focus-visible': {
        outline: `2px solid ${theme.colors.primary.main}`,
        outlineOffset: 2,
      },
    }),
    circle: css({
      display: 'inline-flex',
      alignItems: 'center',
      justifyContent: 'center',
      width: 24,
      height: 24,
      flex: '0 0 24px',
      borderRadius: theme.shape.radius.circle,
      border: `1px solid ${theme.colors.border.medium}`,
      fontSize: theme.typography.bodySmall.fontSize,
      fontWeight: theme.typography.fontWeightMedium,
      fontVariantNumeric: 'tabular-nums',
    }),
    title: css({
      whiteSpace: 'nowrap',
    }),
    connector: css({
      display: 'inline-block',
      width: theme.spacing(4),
      height: 1,
      background: theme.colors.border.medium,
    }),
    done: css({
      color: theme.colors.text.primary,
      ...circle(theme.colors.success.contrastText, theme.colors.success.main, theme.colors.success.main),
    }),
    current: css({
      color: theme.colors.text.primary,
      fontWeight: theme.typography.fontWeightMedium,
      ...circle(theme.colors.primary.contrastText, theme.colors.primary.main, theme.colors.primary.main),
    }),
    error: css({
      color: theme.colors.error.text,
      ...circle(theme.colors.error.contrastText, theme.colors.error.main, theme.colors.error.main),
    }),
    upcoming: css({
      ...circle(theme.colors.text.secondary, theme.colors.background.secondary, theme.colors.border.medium),
    }),
  };
};
