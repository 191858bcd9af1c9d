// The subnet's rows (known addresses and collapsed free gaps) as a windowed table: only the
// rows in view (plus some overscan) are in the DOM, so tens of thousands of rows stay smooth.
// Rows are focusable with a roving tab stop: arrows, Home/End and PageUp/PageDown move, Enter
// opens an address or expands a gap.
import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Icon, Tooltip, useStyles2 } from '@grafana/ui';
import type { Address, Range, SubnetRow } from '../../../api/types';
import { formatRtt, timeAgo } from '../../../utils/format';
import { ipInRange } from '../../../utils/ip';
import { GapRow } from './GapRow';
import { PortChips } from './PortChips';
import { StatusPill } from './StatusPill';
import { testIds } from '../../../components/testIds';
import { useElementSize } from '../../../utils/useElementSize';

export const ROW_HEIGHT = 40;
export const HEADER_HEIGHT = 36;
export const GAP_PANEL_HEIGHT = 132;
const OVERSCAN_PX = ROW_HEIGHT * 10;
/** Used when the container has no measurable height (jsdom, hidden tabs). */
const FALLBACK_VIEWPORT = 600;
const COLUMNS =
  'minmax(84px, 96px) minmax(120px, 150px) minmax(140px, 1.2fr) minmax(150px, 1.2fr) 76px 96px minmax(140px, 1.4fr) 104px 96px';

interface Props {
  subnetId: number;
  rows: SubnetRow[];
  ranges: Range[];
  onOpen: (address: Address) => void;
  onReserve: (ip: string) => void;
  /** Called when the user scrolls near the end of the loaded rows. */
  onEndReached?: () => void;
  canWrite?: boolean;
  height?: number | string;
  now?: number;
}

type Item =
  | { kind: 'address'; key: string; address: Address; range?: Range }
  | { kind: 'gap'; key: string; gap: Extract<SubnetRow, { type: 'gap' }>; range?: Range };

function itemsOf(rows: SubnetRow[], ranges: Range[]): Item[] {
  const byId = new Map(ranges.map((r) => [r.id, r]));
  return rows.map((row): Item => {
    if (row.type === 'gap') {
      const range = row.range_id !== null ? byId.get(row.range_id) : undefined;
      return { kind: 'gap', key: `gap-${row.start_address}`, gap: row, range };
    }
    const range = ranges.find((r) => ipInRange(row.address.address, r.start_address, r.end_address));
    return { kind: 'address', key: `address-${row.address.address}`, address: row.address, range };
  });
}

/** Index of the last offset ≤ y (offsets ascending, offsets[0] = 0). */
function indexAt(offsets: number[], y: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= y) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return Math.max(0, lo);
}

export function AddressTable({
  subnetId,
  rows,
  ranges,
  onOpen,
  onReserve,
  onEndReached,
  canWrite = true,
  height,
  now,
}: Props) {
  const styles = useStyles2(getStyles);
  const items = useMemo(() => itemsOf(rows, ranges), [rows, ranges]);
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set());
  const [scrollTop, setScrollTop] = useState(0);
  const [active, setActive] = useState(0);
  const scrollRef = useRef<HTMLDivElement>(null);
  const viewport = useElementSize(scrollRef, (el) => el.clientHeight, FALLBACK_VIEWPORT);
  const rowRefs = useRef(new Map<number, HTMLDivElement>());
  const focusPending = useRef(false);

  const offsets = useMemo(() => {
    const out = new Array<number>(items.length + 1);
    out[0] = 0;
    items.forEach((item, i) => {
      const h = item.kind === 'gap' && expanded.has(item.key) ? ROW_HEIGHT + GAP_PANEL_HEIGHT : ROW_HEIGHT;
      out[i + 1] = out[i]! + h;
    });
    return out;
  }, [items, expanded]);
  const total = offsets[items.length]!;

  const top = Math.max(0, scrollTop - HEADER_HEIGHT);
  const first = items.length === 0 ? 0 : indexAt(offsets, Math.max(0, top - OVERSCAN_PX));
  const last = items.length === 0 ? -1 : indexAt(offsets, top + viewport + OVERSCAN_PX);
  const activeIndex = Math.min(active, Math.max(0, items.length - 1));

  useEffect(() => {
    if (onEndReached && items.length > 0 && last >= items.length - 20) {
      onEndReached();
    }
  }, [last, items.length, onEndReached]);

  useEffect(() => {
    if (focusPending.current) {
      focusPending.current = false;
      rowRefs.current.get(activeIndex)?.focus({ preventScroll: true });
    }
  });

  const toggleGap = useCallback((key: string) => {
    setExpanded((s) => {
      const next = new Set(s);
      if (next.has(key)) {
        next.delete(key);
      } else {
        next.add(key);
      }
      return next;
    });
  }, []);

  const activate = (index: number) => {
    const item = items[index];
    if (!item) {
      return;
    }
    if (item.kind === 'address') {
      onOpen(item.address);
    } else {
      toggleGap(item.key);
    }
  };

  const moveTo = (index: number) => {
    const next = Math.max(0, Math.min(items.length - 1, index));
    const el = scrollRef.current;
    if (el) {
      const rowTop = offsets[next]! + HEADER_HEIGHT;
      const rowBottom = offsets[next]! + ROW_HEIGHT + HEADER_HEIGHT;
      const visibleTop = el.scrollTop + HEADER_HEIGHT;
      const visibleBottom = el.scrollTop + viewport;
      if (rowTop < visibleTop) {
        el.scrollTop = rowTop - HEADER_HEIGHT * 2;
        setScrollTop(el.scrollTop);
      } else if (rowBottom > visibleBottom) {
        el.scrollTop = rowBottom - viewport;
        setScrollTop(el.scrollTop);
      }
    }
    focusPending.current = true;
    setActive(next);
  };

  const onKeyDown = (e: React.KeyboardEvent<HTMLDivElement>) => {
    const target = e.target as HTMLElement;
    const indexText = target.getAttribute('data-row-index');
    if (indexText === null) {
      return; // keys inside an expanded gap's buttons keep their own meaning
    }
    const index = Number(indexText);
    const page = Math.max(1, Math.floor(viewport / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      PageDown: index + page,
      PageUp: index - page,
      Home: 0,
      End: items.length - 1,
    };
    if (e.key in moves) {
      e.preventDefault();
      moveTo(moves[e.key]!);
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      activate(index);
    }
  };

  const rendered: React.ReactNode[] = [];
  for (let i = first; i <= last && i < items.length; i++) {
    const item = items[i]!;
    const style: React.CSSProperties = {
      position: 'absolute',
      top: offsets[i],
      left: 0,
      right: 0,
      height: offsets[i + 1]! - offsets[i]!,
    };
    const rowRef = (el: HTMLDivElement | null) => {
      if (el) {
        rowRefs.current.set(i, el);
      } else {
        rowRefs.current.delete(i);
      }
    };
    const common = { tabIndex: i === activeIndex ? 0 : -1, rowIndex: i, rowRef, onFocus: () => setActive(i) };
    if (item.kind === 'gap') {
      rendered.push(
        <GapRow
          key={item.key}
          gap={item.gap}
          range={item.range}
          subnetId={subnetId}
          expanded={expanded.has(item.key)}
          onToggle={() => toggleGap(item.key)}
          onReserve={onReserve}
          canWrite={canWrite}
          style={style}
          {...common}
        />
      );
    } else {
      rendered.push(
        <AddressRow
          key={item.key}
          address={item.address}
          range={item.range}
          style={style}
          onOpen={onOpen}
          now={now}
          {...common}
        />
      );
    }
  }

  return (
    <div
      ref={scrollRef}
      className={styles.scroll}
      style={{ height: height ?? 'max(360px, calc(100vh - 340px))' }}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
    >
      <div
        role="table"
        aria-label="Addresses"
        aria-rowcount={items.length + 1}
        data-testid={testIds.subnet.table}
        className={styles.table}
        onKeyDown={onKeyDown}
      >
        <div role="rowgroup" className={styles.headerGroup}>
          <div role="row" aria-rowindex={1} className={cx(styles.grid, styles.header)}>
            {['Status', 'Address', 'Hostname', 'MAC / vendor', 'Latency', 'Last seen', 'Ports', 'State', 'Source'].map(
              (h) => (
                <span role="columnheader" key={h} className={styles.headerCell}>
                  {h}
                </span>
              )
            )}
          </div>
        </div>
        <div role="rowgroup" className={styles.body} style={{ height: total }}>
          {rendered}
        </div>
      </div>
    </div>
  );
}

interface RowProps {
  address: Address;
  range?: Range;
  style: React.CSSProperties;
  tabIndex: number;
  rowIndex: number;
  rowRef: (el: HTMLDivElement | null) => void;
  onFocus: () => void;
  onOpen: (address: Address) => void;
  now?: number;
}

function AddressRow({ address: a, range, style, tabIndex, rowIndex, rowRef, onFocus, onOpen, now }: RowProps) {
  const styles = useStyles2(getStyles);
  const o = a.observed;
  const mac = a.mac ?? o?.mac ?? null;
  const macMismatch = Boolean(a.mac && o?.mac && a.mac.toLowerCase() !== o.mac.toLowerCase());
  const hostname = a.hostname ?? o?.ptr ?? null;
  return (
    <div
      ref={rowRef}
      role="row"
      aria-rowindex={rowIndex + 2}
      aria-label={`${a.address}${a.hostname ? ` ${a.hostname}` : ''}, ${o?.status ?? 'unknown'}`}
      tabIndex={tabIndex}
      data-row-index={rowIndex}
      data-testid={testIds.subnet.addressRow(a.address)}
      className={cx(styles.grid, styles.row)}
      style={{ ...style, borderLeftColor: range?.color ?? undefined }}
      onClick={() => onOpen(a)}
      onFocus={onFocus}
    >
      <span role="cell" className={styles.cell}>
        <StatusPill observed={o} now={now} />
      </span>
      <span role="cell" className={cx(styles.cell, styles.mono)}>
        {a.address}
      </span>
      <span role="cell" className={styles.cell} title={hostname ?? undefined}>
        {a.hostname ??
          (o?.ptr ? (
            <span className={styles.secondary} title="from reverse DNS">
              {o.ptr}
            </span>
          ) : (
            <span className={styles.secondary}>–</span>
          ))}
      </span>
      <span role="cell" className={styles.cell} title={[mac, o?.vendor].filter(Boolean).join(' · ') || undefined}>
        {mac ? (
          <span className={styles.mono}>
            {mac}
            {macMismatch && (
              <Tooltip content={`seen with ${o?.mac}, recorded ${a.mac}`}>
                <Icon name="exclamation-triangle" className={styles.warning} aria-label="MAC mismatch" />
              </Tooltip>
            )}
          </span>
        ) : (
          <span className={styles.secondary}>–</span>
        )}
        {o?.vendor && <span className={styles.vendor}>{o.vendor}</span>}
      </span>
      <span role="cell" className={styles.cell}>
        {o?.rtt_seconds !== null && o?.rtt_seconds !== undefined ? (
          <span className={styles.latency}>{formatRtt(o.rtt_seconds)}</span>
        ) : (
          <span className={styles.secondary}>–</span>
        )}
      </span>
      <span role="cell" className={cx(styles.cell, styles.secondary)} title={o?.last_seen_at ?? undefined}>
        {o?.last_seen_at ? timeAgo(o.last_seen_at, now) : '–'}
      </span>
      <span role="cell" className={styles.cell}>
        <PortChips ports={o?.ports} max={3} />
      </span>
      <span role="cell" className={styles.cell}>
        {a.state}
      </span>
      <span role="cell" className={cx(styles.cell, styles.secondary)}>
        {a.source}
      </span>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  scroll: css({
    overflow: 'auto',
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    background: theme.colors.background.primary,
  }),
  table: css({
    minWidth: 1100,
    position: 'relative',
  }),
  headerGroup: css({
    position: 'sticky',
    top: 0,
    zIndex: 1,
  }),
  grid: css({
    display: 'grid',
    gridTemplateColumns: COLUMNS,
    columnGap: theme.spacing(1),
    alignItems: 'center',
    padding: theme.spacing(0, 1),
  }),
  header: css({
    height: HEADER_HEIGHT,
    background: theme.colors.background.secondary,
    borderBottom: `1px solid ${theme.colors.border.medium}`,
    borderLeft: '3px solid transparent',
  }),
  headerCell: css({
    fontSize: theme.typography.bodySmall.fontSize,
    fontWeight: theme.typography.fontWeightMedium,
    color: theme.colors.text.secondary,
    whiteSpace: 'nowrap',
  }),
  body: css({
    position: 'relative',
  }),
  row: css({
    height: ROW_HEIGHT,
    cursor: 'pointer',
    borderBottom: `1px solid ${theme.colors.border.weak}`,
    borderLeft: '3px solid transparent',
    '&:hover': {
      background: theme.colors.action.hover,
    },
    '&:focus-visible': {
      outline: `2px solid ${theme.colors.primary.main}`,
      outlineOffset: -2,
    },
  }),
  cell: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(0.5),
    minWidth: 0,
    overflow: 'hidden',
    whiteSpace: 'nowrap',
    textOverflow: 'ellipsis',
  }),
  mono: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    display: 'inline-flex',
    alignItems: 'center',
    gap: theme.spacing(0.5),
  }),
  secondary: css({
    color: theme.colors.text.secondary,
  }),
  vendor: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    overflow: 'hidden',
    textOverflow: 'ellipsis',
  }),
  warning: css({
    color: theme.colors.warning.text,
  }),
  latency: css({
    padding: theme.spacing(0, 0.75),
    borderRadius: theme.shape.radius.default,
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.weak}`,
    fontSize: theme.typography.bodySmall.fontSize,
    fontVariantNumeric: 'tabular-nums',
  }),
});
