import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Tag, Tooltip, useStyles2 } from '@grafana/ui';
import type { OpenPort } from '../../../api/types';

interface Props {
  ports: OpenPort[] | undefined;
  /** Show at most this many chips and a "+N" for the rest. */
  max?: number;
}

export function portLabel(p: OpenPort): string {
  return `${p.port}/${p.service ?? p.protocol}`;
}

function portDetails(p: OpenPort): string {
  const product = [p.product, p.version].filter(Boolean).join(' ');
  return product ? `${portLabel(p)}: ${product}` : `${portLabel(p)} open`;
}

/** Open ports as chips: 22/ssh, 443/https (product and version in the tooltip). */
export function PortChips({ ports, max }: Props) {
  const styles = useStyles2(getStyles);
  if (!ports || ports.length === 0) {
    return null;
  }
  const sorted = [...ports].sort((a, b) => a.port - b.port);
  const shown = max !== undefined ? sorted.slice(0, max) : sorted;
  const rest = sorted.length - shown.length;
  return (
    <span className={styles.chips}>
      {shown.map((p) => (
        <Tooltip key={p.port} content={portDetails(p)}>
          <Tag name={portLabel(p)} className={styles.tag} />
        </Tooltip>
      ))}
      {rest > 0 && (
        <Tooltip content={sorted.slice(shown.length).map(portLabel).join(', ')}>
          <span className={styles.more}>+{rest}</span>
        </Tooltip>
      )}
    </span>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  chips: css({
    display: 'inline-flex',
    flexWrap: 'nowrap',
    gap: theme.spacing(0.5),
    alignItems: 'center',
    overflow: 'hidden',
    minWidth: 0,
  }),
  tag: css({
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'nowrap',
  }),
  more: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
});
