// The subnet map panel: the addresses frame of the Lanscape data source drawn as a subnet map
// (components/SubnetMap), or a clear message when the query gave no such frame or failed.
import React, { useMemo } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2, LoadingState, type PanelProps } from '@grafana/data';
import { Icon, useStyles2 } from '@grafana/ui';
import { SubnetMap } from '../../components/SubnetMap/SubnetMap';
import { buildModel, findAddressesFrame } from '../../components/SubnetMap/model';
import type { SubnetMapOptions } from './types';

type Props = PanelProps<SubnetMapOptions>;

export function SubnetMapPanel({ data, width, height, options }: Props) {
  const styles = useStyles2(getStyles);
  const frame = findAddressesFrame(data.series);
  const result = useMemo(() => (frame ? buildModel(frame) : null), [frame]);
  const errors = data.errors ?? [];
  if (errors.length > 0) {
    return (
      <div className={styles.message} role="alert" data-testid="subnet-map-error">
        <Icon name="exclamation-triangle" size="xl" className={styles.errorIcon} />
        <div>
          {errors.map((e, i) => (
            <div key={i}>{e.message ?? 'The query failed.'}</div>
          ))}
        </div>
      </div>
    );
  }
  if (!result) {
    return (
      <div className={styles.message} data-testid="subnet-map-empty">
        {data.state === LoadingState.Loading
          ? 'Loading…'
          : 'Query the Lanscape data source for the addresses of a subnet to draw its map.'}
      </div>
    );
  }
  if ('error' in result) {
    return (
      <div className={styles.message} role="alert" data-testid="subnet-map-error">
        <Icon name="exclamation-triangle" size="xl" className={styles.errorIcon} />
        <div>{result.error}</div>
      </div>
    );
  }
  if ('empty' in result) {
    return (
      <div className={styles.message} data-testid="subnet-map-empty">
        {result.empty}
      </div>
    );
  }
  return <SubnetMap model={result.model} width={width} height={height} options={options} />;
}

const getStyles = (theme: GrafanaTheme2) => ({
  message: css({
    display: 'flex',
    gap: theme.spacing(1),
    alignItems: 'center',
    justifyContent: 'center',
    height: '100%',
    padding: theme.spacing(2),
    textAlign: 'center',
    color: theme.colors.text.secondary,
  }),
  errorIcon: css({ color: theme.colors.error.text, flex: 'none' }),
});
