import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';

/** The bordered, scrollable tables of the traffic page (theme tokens: light and dark). */
export const getTableStyles = (theme: GrafanaTheme2) => ({
  scroll: css({
    overflowX: 'auto',
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
  }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    'th, td': {
      padding: theme.spacing(0.75, 1.5),
      textAlign: 'left',
      verticalAlign: 'middle',
      borderBottom: `1px solid ${theme.colors.border.weak}`,
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
