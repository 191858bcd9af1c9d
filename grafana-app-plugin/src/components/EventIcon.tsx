import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2, type IconName } from '@grafana/data';
import { Icon, useStyles2 } from '@grafana/ui';
import type { AuditEntry, EventKind } from '../api/types';

export type ActivityKind = EventKind | `audit_${AuditEntry['action']}`;

const ICONS: Record<ActivityKind, IconName> = {
  new_device: 'plus-circle',
  up: 'arrow-up',
  down: 'arrow-down',
  mac_changed: 'exchange-alt',
  hostname_changed: 'tag-alt',
  ports_changed: 'plug',
  audit_create: 'plus',
  audit_update: 'pen',
  audit_delete: 'trash-alt',
};

export const ACTIVITY_LABELS: Record<ActivityKind, string> = {
  new_device: 'New device',
  up: 'Up',
  down: 'Down',
  mac_changed: 'MAC changed',
  hostname_changed: 'Name changed',
  ports_changed: 'Ports changed',
  audit_create: 'Created',
  audit_update: 'Updated',
  audit_delete: 'Deleted',
};

/** An icon per event or audit kind, coloured by meaning (theme colours). */
export function EventIcon({ kind }: { kind: ActivityKind }) {
  const styles = useStyles2(getStyles);
  const tone =
    kind === 'up'
      ? styles.good
      : kind === 'down' || kind === 'audit_delete'
        ? styles.bad
        : kind === 'new_device' || kind === 'mac_changed'
          ? styles.warn
          : styles.neutral;
  return (
    <Icon
      name={ICONS[kind] ?? 'info-circle'}
      className={tone}
      title={ACTIVITY_LABELS[kind] ?? kind}
      aria-label={ACTIVITY_LABELS[kind] ?? kind}
    />
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  good: css({ color: theme.colors.success.text }),
  bad: css({ color: theme.colors.error.text }),
  warn: css({ color: theme.colors.warning.text }),
  neutral: css({ color: theme.colors.text.secondary }),
});
