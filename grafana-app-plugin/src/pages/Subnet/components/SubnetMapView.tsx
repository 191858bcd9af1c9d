// The Subnet page's map view: the subnet's addresses drawn as the subnet map (the drawing of the
// subnet map panel). The map wants every address, so opening it loads the rows not loaded yet.
import React, { useEffect, useMemo, useRef, useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Alert, RadioButtonGroup, Stack, Text, useStyles2 } from '@grafana/ui';
import type { Subnet, SubnetRow } from '../../../api/types';
import { SubnetMap, type SubnetMapOptions } from '../../../components/SubnetMap/SubnetMap';
import { type AddressInfo, addressInfoOf, mapSubnetOf, modelOf } from '../../../components/SubnetMap/model';
import { testIds } from '../../../components/testIds';
import { formatCount } from '../../../utils/format';
import { useElementSize } from '../../../utils/useElementSize';

const COLOR_BY: Array<{ label: string; value: SubnetMapOptions['colorBy']; description: string }> = [
  { label: 'State', value: 'state', description: 'Colour addresses by their IPAM state' },
  { label: 'Up / down', value: 'status', description: 'Colour addresses by what the last sweeps saw' },
];
/** The map's header and legend (see SubnetMap), above and below the grid. */
const CHROME_HEIGHT = 28 + 44;
const MAX_GRID_HEIGHT = 560;

interface Props {
  subnet: Subnet;
  rows: SubnetRow[];
  count: number;
  hasMore: boolean;
  loadAll: () => void;
  onOpen: (id: number) => void;
  /** Offered for free addresses only to those who may write. */
  onReserve?: (address: string) => void;
}

export function SubnetMapView({ subnet, rows, count, hasMore, loadAll, onOpen, onReserve }: Props) {
  const styles = useStyles2(getStyles);
  const [colorBy, setColorBy] = useState<SubnetMapOptions['colorBy']>('state');
  const ref = useRef<HTMLDivElement>(null);
  // jsdom lays nothing out: tests draw at 800 px.
  const width = useElementSize(ref, (el) => el.clientWidth, 800);
  // Once per opening: after a failed load the page's error alert offers the retry.
  const askedForAll = useRef(false);
  useEffect(() => {
    if (hasMore && !askedForAll.current) {
      askedForAll.current = true;
      loadAll();
    }
  }, [hasMore, loadAll]);
  const result = useMemo(() => {
    const addresses: AddressInfo[] = [];
    for (const r of rows) {
      if (r.type === 'address') {
        addresses.push(addressInfoOf(r.address));
      }
    }
    return modelOf(mapSubnetOf(subnet), addresses);
  }, [subnet, rows]);

  return (
    <div className={styles.wrap} data-testid={testIds.subnet.map}>
      <Stack gap={1} alignItems="center" wrap="wrap">
        <Text variant="bodySmall" color="secondary">
          Colour by
        </Text>
        <RadioButtonGroup size="sm" options={COLOR_BY} value={colorBy} onChange={setColorBy} />
        {hasMore && (
          <Text variant="bodySmall" color="secondary">
            Loading every address: the map shows the {formatCount(rows.length)} of {formatCount(count)} rows loaded so
            far.
          </Text>
        )}
      </Stack>
      {'error' in result && (
        <Alert severity="info" title="No map for this subnet">
          {result.error} The table lists its addresses.
        </Alert>
      )}
      <div ref={ref}>
        {'model' in result && (
          <SubnetMap
            model={result.model}
            width={width}
            height={Math.min(width, MAX_GRID_HEIGHT) + CHROME_HEIGHT}
            options={{ colorBy, showLegend: true }}
            onOpen={onOpen}
            onReserve={onReserve ?? (() => {})}
          />
        )}
      </div>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrap: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1),
    padding: theme.spacing(2),
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
  }),
});
