// The phpIPAM-style map of a subnet: a /24 as a 16×16 grid of addresses coloured by state (or by
// up/down), a larger subnet (up to a /16) as a map of /24 blocks shaded by utilization; clicking
// a block zooms into it, clicking an address opens it in the Lanscape app (a free one: reserve
// it), hovering shows its card. Drawn by the subnet map panel and on the app's Subnet page.
import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { dateTimeFormat, type GrafanaTheme2 } from '@grafana/data';
import { locationService } from '@grafana/runtime';
import { Button, useStyles2, useTheme2 } from '@grafana/ui';
import { reserveUrl, subnetUrl } from '../../utils/utils.routing';
import { CATEGORY_LABELS, categoryColors, statusColors } from './colors';
import { type Block, CATEGORIES, type Cell, gridCells, type SubnetModel } from './model';

export interface SubnetMapOptions {
  /** Fill cells by IPAM state, or by up/down status. */
  colorBy: 'state' | 'status';
  showLegend: boolean;
}

const GAP = 2;

interface Hover {
  x: number;
  y: number;
  cell?: Cell;
  block?: Block;
}

export function SubnetMap({
  model,
  width,
  height,
  options,
  onOpen = (id) => locationService.push(subnetUrl(model.subnet.id, { address: id })),
  onReserve = (address) => locationService.push(reserveUrl({ subnet: model.subnet.id, address })),
}: {
  model: SubnetModel;
  width: number;
  height: number;
  options: SubnetMapOptions;
  /** A click on a known address (default: open it in the app) */
  onOpen?: (id: number) => void;
  /** A click on a free address (default: the app's Reserve page) */
  onReserve?: (address: string) => void;
}) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const colors = useMemo(() => categoryColors(theme), [theme]);
  const status = useMemo(() => statusColors(theme), [theme]);
  const [zoom, setZoom] = useState<number | null>(null);
  const [hover, setHover] = useState<Hover | null>(null);
  const blockView = model.blocks !== null && zoom === null;
  const cells = useMemo(() => (blockView ? [] : gridCells(model, zoom)), [model, zoom, blockView]);
  const items = blockView ? model.blocks!.length : cells.length;
  const columns = Math.min(16, items);
  const rows = Math.ceil(items / columns);
  const header = 28;
  const legend = options.showLegend ? 44 : 0;
  const side = Math.max(
    6,
    Math.floor(Math.min((width - GAP * (columns - 1)) / columns, (height - header - legend - GAP * (rows - 1)) / rows))
  );
  const title =
    zoom !== null && model.blocks
      ? model.blocks[zoom]!.cidr
      : `${model.subnet.cidr}${model.subnet.name ? ` · ${model.subnet.name}` : ''}`;
  // The whole subnet counts its usable addresses (as IPAM does); a zoomed-in block all 256.
  const size = zoom === null ? model.subnet.size : cells.length;
  const used = zoom === null ? model.byOffset.size : cells.filter((c) => c.info).length;

  const fill = (c: Cell) => (options.colorBy === 'status' && c.info ? status[c.info.status] : colors[c.category]);

  const onMove = (e: React.MouseEvent<HTMLDivElement>) => {
    const target = (e.target as HTMLElement).closest<HTMLElement>('[data-index]');
    if (!target) {
      setHover(null);
      return;
    }
    const index = Number(target.dataset.index);
    const box = e.currentTarget.parentElement!.getBoundingClientRect();
    const x = e.clientX - box.left;
    const y = e.clientY - box.top;
    setHover(blockView ? { x, y, block: model.blocks![index] } : { x, y, cell: cells[index] });
  };
  const onClick = (e: React.MouseEvent<HTMLDivElement>) => {
    const target = (e.target as HTMLElement).closest<HTMLElement>('[data-index]');
    if (!target) {
      return;
    }
    const index = Number(target.dataset.index);
    if (blockView) {
      setZoom(index);
      setHover(null);
      return;
    }
    const cell = cells[index]!;
    if (cell.info?.id) {
      onOpen(cell.info.id);
    } else if (cell.category === 'free') {
      onReserve(cell.address);
    }
  };

  return (
    <div
      className={styles.wrap}
      style={{ width, height }}
      data-testid="subnet-map"
      data-view={blockView ? 'blocks' : 'grid'}
    >
      <div className={styles.header} style={{ height: header }}>
        {zoom !== null && (
          <Button
            size="sm"
            variant="secondary"
            fill="text"
            icon="arrow-left"
            onClick={() => setZoom(null)}
            aria-label="Back to the whole subnet"
          >
            {model.subnet.cidr}
          </Button>
        )}
        <span className={styles.title}>{title}</span>
        <span className={styles.muted}>
          {used.toLocaleString('en-US')} of {size.toLocaleString('en-US')} used
          {blockView ? ' · click a block to zoom in' : ''}
        </span>
      </div>
      <div
        className={styles.grid}
        style={{ gridTemplateColumns: `repeat(${columns}, ${side}px)`, gridAutoRows: `${side}px`, gap: GAP }}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
        onClick={onClick}
        role="grid"
        aria-label={`Map of ${title}`}
      >
        {blockView
          ? model.blocks!.map((b) => (
              <BlockTile key={b.index} block={b} side={side} colors={colors} downColor={status.down} styles={styles} />
            ))
          : cells.map((c, i) => (
              <div
                key={c.offset}
                data-index={i}
                data-category={c.category}
                data-status={c.info?.status ?? ''}
                className={styles.cell}
                style={{
                  background: fill(c),
                  // Readable on any fill in either theme (white on yellow in the dark theme is not).
                  color: c.info ? theme.colors.getContrastText(fill(c)) : undefined,
                  boxShadow: c.info?.status === 'down' ? `inset 0 0 0 2px ${status.down}` : undefined,
                  fontSize: Math.max(8, Math.floor(side / 3)),
                }}
              >
                {side >= 22 ? lastPart(c.address) : ''}
                {c.info && c.info.status !== 'unknown' && side >= 14 && (
                  <span className={styles.dot} style={{ background: status[c.info.status] }} />
                )}
              </div>
            ))}
      </div>
      {options.showLegend && (
        <div className={styles.legend} style={{ height: legend }}>
          {CATEGORIES.map((c) => (
            <span key={c} className={styles.legendItem}>
              <span className={styles.swatch} style={{ background: colors[c] }} />
              {CATEGORY_LABELS[c]}
            </span>
          ))}
          <span className={styles.legendItem}>
            <span className={styles.swatch} style={{ background: status.up, borderRadius: '50%' }} /> up
          </span>
          <span className={styles.legendItem}>
            <span className={styles.swatch} style={{ background: status.down, borderRadius: '50%' }} /> down
          </span>
        </div>
      )}
      {hover && (hover.cell || hover.block) && (
        <div
          className={styles.card}
          data-testid="subnet-map-card"
          style={{
            left: Math.min(hover.x + 12, Math.max(0, width - 260)),
            top: Math.min(hover.y + 12, Math.max(0, height - 170)),
          }}
        >
          {hover.cell ? <CellCard cell={hover.cell} /> : <BlockCard block={hover.block!} />}
        </div>
      )}
    </div>
  );
}

function lastPart(address: string): string {
  const i = Math.max(address.lastIndexOf('.'), address.lastIndexOf(':'));
  return address.slice(i + 1);
}

function BlockTile({
  block,
  side,
  colors,
  downColor,
  styles,
}: {
  block: Block;
  side: number;
  colors: Record<string, string>;
  downColor: string;
  styles: ReturnType<typeof getStyles>;
}) {
  const ratio = block.used / block.size;
  // The block's fill: its most common state, as strong as the block is full.
  let top: string | null = null;
  let topCount = 0;
  for (const [k, v] of Object.entries(block.byCategory)) {
    if ((v ?? 0) > topCount) {
      top = k;
      topCount = v ?? 0;
    }
  }
  const label = block.cidr.split('/')[0]!.split('.')[2] ?? String(block.index);
  return (
    <div
      data-index={block.index}
      data-used={block.used}
      className={styles.block}
      style={{ background: colors.free, fontSize: Math.max(8, Math.floor(side / 3.2)) }}
    >
      {top && (
        <span
          className={styles.blockFill}
          style={{ background: colors[top], opacity: 0.25 + 0.75 * ratio, height: `${Math.max(8, ratio * 100)}%` }}
        />
      )}
      {side >= 20 && <span className={styles.blockLabel}>{label}</span>}
      {block.down > 0 && side >= 14 && <span className={styles.dot} style={{ background: downColor }} />}
    </div>
  );
}

function Row({ name, value }: { name: string; value: React.ReactNode }) {
  if (value === null || value === undefined || value === '') {
    return null;
  }
  return (
    <>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </>
  );
}

function CellCard({ cell }: { cell: Cell }) {
  const a = cell.info;
  return (
    <>
      <strong>{cell.address}</strong>
      <dl>
        <Row
          name="State"
          value={
            a
              ? `${a.state ?? ''}${a.source && a.source !== 'manual' ? ` (${a.source})` : ''}`
              : CATEGORY_LABELS[cell.category]
          }
        />
        {a && <Row name="Status" value={a.status} />}
        <Row name="Hostname" value={a?.hostname} />
        <Row name="Owner" value={a?.owner} />
        <Row name="MAC" value={a?.mac ? `${a.mac}${a.vendor ? ` · ${a.vendor}` : ''}` : null} />
        <Row name="Last seen" value={a?.lastSeen ? dateTimeFormat(a.lastSeen) : null} />
        <Row name="Note" value={a?.description} />
      </dl>
      <small>{a?.id ? 'Click to open in Lanscape' : cell.category === 'free' ? 'Click to reserve' : ''}</small>
    </>
  );
}

function BlockCard({ block }: { block: Block }) {
  return (
    <>
      <strong>{block.cidr}</strong>
      <dl>
        <Row name="Used" value={`${block.used} of ${block.size} (${Math.round((block.used / block.size) * 100)}%)`} />
        {Object.entries(block.byCategory).map(([k, v]) => (
          <Row key={k} name={CATEGORY_LABELS[k as keyof typeof CATEGORY_LABELS]} value={v} />
        ))}
        <Row name="Up / down" value={block.up + block.down > 0 ? `${block.up} / ${block.down}` : null} />
      </dl>
      <small>Click to zoom in</small>
    </>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrap: css({ position: 'relative', display: 'flex', flexDirection: 'column', overflow: 'hidden' }),
  header: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(1),
    whiteSpace: 'nowrap',
    overflow: 'hidden',
  }),
  title: css({ fontWeight: theme.typography.fontWeightMedium }),
  muted: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }),
  grid: css({ display: 'grid', flex: 'none' }),
  cell: css({
    position: 'relative',
    borderRadius: theme.shape.radius.default,
    border: `1px solid ${theme.colors.border.weak}`,
    color: theme.colors.text.primary,
    display: 'flex',
    alignItems: 'center',
    justifyContent: 'center',
    cursor: 'pointer',
    overflow: 'hidden',
    '&:hover': { outline: `2px solid ${theme.colors.primary.border}`, zIndex: 1 },
  }),
  block: css({
    position: 'relative',
    borderRadius: theme.shape.radius.default,
    border: `1px solid ${theme.colors.border.medium}`,
    cursor: 'zoom-in',
    overflow: 'hidden',
    '&:hover': { outline: `2px solid ${theme.colors.primary.border}`, zIndex: 1 },
  }),
  blockFill: css({ position: 'absolute', left: 0, right: 0, bottom: 0 }),
  blockLabel: css({
    position: 'absolute',
    inset: 0,
    display: 'flex',
    alignItems: 'center',
    justifyContent: 'center',
    color: theme.colors.text.primary,
  }),
  dot: css({ position: 'absolute', top: 2, right: 2, width: 6, height: 6, borderRadius: '50%' }),
  legend: css({
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(1.5),
    alignItems: 'center',
    fontSize: theme.typography.bodySmall.fontSize,
    color: theme.colors.text.secondary,
    overflow: 'hidden',
  }),
  legendItem: css({ display: 'inline-flex', alignItems: 'center', gap: theme.spacing(0.5) }),
  swatch: css({
    display: 'inline-block',
    width: 10,
    height: 10,
    borderRadius: 2,
    border: `1px solid ${theme.colors.border.weak}`,
  }),
  card: css({
    position: 'absolute',
    zIndex: theme.zIndex.tooltip,
    pointerEvents: 'none',
    width: 250,
    padding: theme.spacing(1),
    background: theme.colors.background.elevated ?? theme.colors.background.primary,
    border: `1px solid ${theme.colors.border.medium}`,
    borderRadius: theme.shape.radius.default,
    boxShadow: theme.shadows.z3,
    fontSize: theme.typography.bodySmall.fontSize,
    dl: {
      display: 'grid',
      gridTemplateColumns: 'auto 1fr',
      columnGap: theme.spacing(1),
      margin: theme.spacing(0.5, 0),
    },
    dt: { color: theme.colors.text.secondary },
    dd: { margin: 0, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' },
    small: { color: theme.colors.text.secondary },
  }),
});
