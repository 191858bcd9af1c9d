// What the Docker and Proxmox sections of the infrastructure page share: their styles, a list's
// loading / error / empty state, and the links to their dashboards.
import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { LinkButton, LoadingPlaceholder, Text, useStyles2 } from '@grafana/ui';
import type { AsyncState } from '../../../api/hooks';
import { dashboardUrl } from '../../../utils/utils.routing';
import { ErrorAlert } from '../../../components/ErrorAlert';
import { getTableStyles, srOnly } from '../../../components/styles';
import { testIds } from '../../../components/testIds';
import { type Integration } from '../../../components/NotConfigured';

const NAMES: Record<Integration, string> = { docker: 'Docker', proxmox: 'Proxmox' };

/**
 * In place of a list's table: its error (with a retry), a placeholder until it first loads, or
 * `emptyText` when it has no row. Render the table when `state.data` has rows.
 */
export function ListStatus({
  state,
  errorTitle,
  loadingText,
  emptyText,
}: {
  state: AsyncState<{ results: readonly unknown[] } | undefined>;
  errorTitle: string;
  loadingText: string;
  emptyText?: string;
}) {
  return (
    <>
      {state.error && <ErrorAlert error={state.error} title={errorTitle} onRetry={state.reload} />}
      {!state.data && !state.error && <LoadingPlaceholder text={loadingText} />}
      {emptyText && state.data && state.data.results.length === 0 && <Text color="secondary">{emptyText}</Text>}
    </>
  );
}

export type Column =
  string | { title: string; className?: string; /** Said to screen readers only. */ hidden?: boolean };

/** A list's bordered, scrollable table: `columns` head it, `children` are its rows. */
export function ListTable({
  label,
  columns,
  children,
}: {
  label: string;
  columns: Column[];
  children: React.ReactNode;
}) {
  const styles = useStyles2(getTableStyles);
  return (
    <div className={styles.scroll}>
      <table className={styles.table} aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => {
              const { title, className, hidden } = typeof c === 'string' ? { title: c } : c;
              return (
                <th key={title} className={className}>
                  {hidden ? <span className={srOnly}>{title}</span> : title}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** "Docker dashboard", in the section's header. */
export function SectionDashboardButton({ integration }: { integration: Integration }) {
  return (
    <LinkButton
      size="sm"
      variant="secondary"
      icon="apps"
      href={dashboardUrl(integration)}
      data-testid={testIds.infra.dashboard(integration)}
    >
      {NAMES[integration]} dashboard
    </LinkButton>
  );
}

/** The dashboard of one row (an endpoint, a node), as an icon in the row's last cell. */
export function RowDashboardButton({
  integration,
  name,
  vars,
}: {
  integration: Integration;
  name: string;
  vars: Record<string, string>;
}) {
  const title = `${NAMES[integration]} dashboard for ${name}`;
  return (
    <LinkButton
      size="sm"
      variant="secondary"
      fill="text"
      icon="apps"
      href={dashboardUrl(integration, vars)}
      tooltip={title}
      aria-label={title}
      data-testid={testIds.infra.dashboard(`${integration}-${name}`)}
    />
  );
}

export const getSectionStyles = (theme: GrafanaTheme2) => ({
  section: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1.5),
  }),
  sub: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  num: css({
    fontVariantNumeric: 'tabular-nums',
    whiteSpace: 'nowrap',
  }),
});
