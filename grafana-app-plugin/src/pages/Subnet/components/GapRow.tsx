import React from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Button, Icon, LinkButton, Stack, Text, useStyles2 } from '@grafana/ui';
import type { GapRow as Gap, Range } from '../../../api/types';
import { formatCount } from '../../../utils/format';
import { firstAddresses } from '../../../utils/ip';
import { reserveUrl } from '../../../utils/utils.routing';
import { testIds } from '../../../components/testIds';

/** How many free addresses an expanded gap lists. */
export const GAP_PREVIEW = 16;

/** "10.0.0.15 – 10.0.0.200 · 186 free" */
export function gapText(gap: Gap): string {
  const span = gap.start_address === gap.end_address ? gap.start_address : `${gap.start_address} – ${gap.end_address}`;
  return `${span} · ${formatCount(gap.size)} free`;
}

interface Props {
  gap: Gap;
  range?: Range;
  subnetId: number;
  expanded: boolean;
  onToggle: () => void;
  onReserve: (address: string) => void;
  canWrite?: boolean;
  /** Row props from the table: position, focus handling. */
  style?: React.CSSProperties;
  tabIndex?: number;
  rowIndex?: number;
  rowRef?: (el: HTMLDivElement | null) => void;
  onFocus?: () => void;
}

/** Free space between known addresses as ONE row; expands to the first free addresses. */
export function GapRow({
  gap,
  range,
  subnetId,
  expanded,
  onToggle,
  onReserve,
  canWrite = true,
  style,
  tabIndex = 0,
  rowIndex,
  rowRef,
  onFocus,
}: Props) {
  const styles = useStyles2(getStyles);
  const free = expanded ? firstAddresses(gap.start_address, gap.end_address, GAP_PREVIEW) : [];
  const label = gapText(gap);
  const swatch = range?.color ?? undefined;
  return (
    <div className={styles.wrapper} style={style}>
      <div
        ref={rowRef}
        role="row"
        aria-rowindex={rowIndex !== undefined ? rowIndex + 2 : undefined}
        aria-expanded={expanded}
        aria-label={`Free: ${label}${range ? ` in range ${range.label}` : ''}`}
        tabIndex={tabIndex}
        data-row-index={rowIndex}
        data-testid={testIds.subnet.gapRow(gap.start_address)}
        className={cx(styles.row, range && styles.inRange)}
        style={range ? { borderLeftColor: swatch } : undefined}
        onClick={onToggle}
        onFocus={onFocus}
      >
        <span role="cell" className={styles.cell}>
          <Icon name={expanded ? 'angle-down' : 'angle-right'} className={styles.chevron} />
          <span className={styles.text}>{label}</span>
          {range && (
            <span className={styles.range} title={range.description || range.purpose}>
              <span className={styles.swatch} style={swatch ? { background: swatch } : undefined} aria-hidden />
              {range.label}
              <span className={styles.purpose}>{range.purpose}</span>
            </span>
          )}
        </span>
      </div>
      {expanded && (
        <div className={styles.panel} role="group" aria-label={`First free addresses of ${label}`}>
          <Stack direction="column" gap={1}>
            <Text variant="bodySmall" color="secondary">
              {gap.size > free.length
                ? `First ${free.length} of ${formatCount(gap.size)} free addresses`
                : 'Free addresses'}
              {canWrite ? ': pick one to reserve it.' : '.'}
            </Text>
            <div className={styles.addresses}>
              {free.map((ip) => (
                <Button
                  key={ip}
                  size="sm"
                  variant="secondary"
                  icon="plus"
                  disabled={!canWrite}
                  aria-label={`Reserve ${ip}`}
                  data-testid={testIds.subnet.gapReserve(ip)}
                  onClick={() => onReserve(ip)}
                >
                  {ip}
                </Button>
              ))}
              <LinkButton
                size="sm"
                variant="primary"
                fill="text"
                icon="arrow-right"
                href={range ? reserveUrl({ subnet: subnetId, range: range.id }) : reserveUrl({ subnet: subnetId })}
              >
                More options
              </LinkButton>
            </div>
          </Stack>
        </div>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({
    display: 'flex',
    flexDirection: 'column',
  }),
  row: css({
    height: 40,
    flex: '0 0 40px',
    display: 'flex',
    alignItems: 'center',
    padding: theme.spacing(0, 1),
    cursor: 'pointer',
    color: theme.colors.text.secondary,
    background: theme.colors.background.canvas,
    borderBottom: `1px solid ${theme.colors.border.weak}`,
    borderLeft: `3px solid ${theme.colors.border.weak}`,
    '&:hover': {
      background: theme.colors.action.hover,
    },
    '&:focus-visible': {
      outline: `2px solid ${theme.colors.primary.main}`,
      outlineOffset: -2,
    },
  }),
  inRange: css({
    borderLeftColor: theme.colors.border.strong,
  }),
  cell: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(1),
    minWidth: 0,
  }),
  chevron: css({
    flex: '0 0 auto',
  }),
  text: css({
    fontStyle: 'italic',
    fontVariantNumeric: 'tabular-nums',
    whiteSpace: 'nowrap',
  }),
  range: css({
    display: 'inline-flex',
    alignItems: 'center',
    gap: theme.spacing(0.5),
    padding: theme.spacing(0, 1),
    borderRadius: theme.shape.radius.pill,
    border: `1px solid ${theme.colors.border.medium}`,
    color: theme.colors.text.primary,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'nowrap',
  }),
  swatch: css({
    width: 10,
    height: 10,
    borderRadius: theme.shape.radius.circle,
    background: theme.colors.text.disabled,
  }),
  purpose: css({
    color: theme.colors.text.secondary,
  }),
  panel: css({
    flex: '1 1 auto',
    overflowY: 'auto',
    padding: theme.spacing(1, 2, 1, 4),
    background: theme.colors.background.secondary,
    borderBottom: `1px solid ${theme.colors.border.weak}`,
  }),
  addresses: css({
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(0.5),
    alignItems: 'center',
  }),
});
