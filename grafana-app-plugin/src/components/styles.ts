// Styles more than one page uses (theme tokens: light and dark).
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';

interface TableOptions {
  /** Horizontal cell padding, in theme spacing units. */
  cellPaddingX?: number;
  /** Every cell on one line (else only the headers). */
  nowrap?: boolean;
}

/** A bordered, scrollable table: `scroll` on the wrapper, `table` on the <table>. */
export const getTableStyles = (theme: GrafanaTheme2, { cellPaddingX = 1.5, nowrap = false }: TableOptions = {}) => ({
  scroll: css({
    overflowX: 'auto',
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
  }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    'th, td': {
      padding: theme.spacing(0.75, cellPaddingX),
      textAlign: 'left',
      verticalAlign: 'middle',
      borderBottom: `1px solid ${theme.colors.border.weak}`,
      ...(nowrap ? { whiteSpace: 'nowrap' as const } : {}),
    },
    th: {
      color: theme.colors.text.secondary,
      fontWeight: theme.typography.fontWeightMedium,
      fontSize: theme.typography.bodySmall.fontSize,
      background: theme.colors.background.secondary,
      whiteSpace: 'nowrap',
    },
    'tbody tr:last-child td': {
      borderBottom: 'none',
    },
    'tbody tr:hover': {
      background: theme.colors.action.hover,
    },
  }),
});

/** Read by screen readers, not shown. */
export const srOnly = css({
  position: 'absolute',
  width: 1,
  height: 1,
  overflow: 'hidden',
  clip: 'rect(0 0 0 0)',
  whiteSpace: 'nowrap',
});
