// Docker on the infrastructure page: endpoints (up or down, engine version, last error),
// containers (state, health, restarts, addresses linked into IPAM) and networks (driver, pools,
// the IPAM subnet of each pool, overlaps with managed subnets highlighted).
import React, { useMemo } from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Alert, LinkButton, LoadingPlaceholder, Stack, Text, TextLink, Tooltip, useStyles2 } from '@grafana/ui';
import { api } from '../../api/client';
import { useApi } from '../../api/hooks';
import type { DockerConflict, DockerNetwork, Subnet } from '../../api/types';
import { formatDateTime, timeAgo } from '../../utils/format';
import { formatBytes } from '../../utils/vm';
import { dashboardUrl, subnetUrl } from '../../utils/utils.routing';
import { ErrorAlert } from '../ErrorAlert';
import { testIds } from '../testIds';
import { SectionHeader } from '../traffic/SectionHeader';
import { getTableStyles } from '../traffic/tableStyles';
import { AddressLink } from './AddressLink';
import { NotConfigured, isNotConfigured } from './NotConfigured';
import { ContainerStatePill, HealthChip, UpDownPill } from './Pill';

interface Props {
  subnets: readonly Subnet[];
  /** Changes to reload every list. */
  reloadKey: number;
}

const conflictKey = (endpoint: string, network: string, cidr: string) => `${endpoint}\u0000${network}\u0000${cidr}`;

export function DockerSection({ subnets, reloadKey }: Props) {
  const styles = useStyles2(getStyles);
  const endpoints = useApi(() => api.dockerEndpoints(), [reloadKey]);
  const configured = !isNotConfigured(endpoints.error) && (endpoints.data === undefined || endpoints.data.count > 0);
  const ready = configured && endpoints.data !== undefined;
  const containers = useApi(() => (ready ? api.dockerContainers() : Promise.resolve(undefined)), [reloadKey, ready]);
  const networks = useApi(() => (ready ? api.dockerNetworks() : Promise.resolve(undefined)), [reloadKey, ready]);
  const conflicts = useApi(() => (ready ? api.dockerConflicts() : Promise.resolve(undefined)), [reloadKey, ready]);
  const conflictList = useMemo(() => conflicts.data?.results ?? [], [conflicts.data]);
  const conflictsByPool = useMemo(() => {
    const m = new Map<string, DockerConflict>();
    conflictList.forEach((c) => m.set(conflictKey(c.endpoint, c.network, c.cidr), c));
    return m;
  }, [conflictList]);

  return (
    <section className={styles.section} aria-labelledby="infra-docker-heading" data-testid={testIds.infra.docker}>
      <SectionHeader id="infra-docker-heading" title="Docker">
        {configured && (
          <LinkButton
            size="sm"
            variant="secondary"
            icon="apps"
            href={dashboardUrl('docker')}
            data-testid={testIds.infra.dashboard('docker')}
          >
            Docker dashboard
          </LinkButton>
        )}
      </SectionHeader>
      {!configured && <NotConfigured integration="docker" data-testid={testIds.infra.notConfigured('docker')} />}
      {configured && endpoints.error && (
        <ErrorAlert error={endpoints.error} title="Cannot load the Docker endpoints" onRetry={endpoints.reload} />
      )}
      {configured && !endpoints.data && !endpoints.error && <LoadingPlaceholder text="Loading Docker endpoints…" />}
      {ready && (
        <>
          <div className={styles.scroll}>
            <table className={styles.table} aria-label="Docker endpoints">
              <thead>
                <tr>
                  <th>Endpoint</th>
                  <th>State</th>
                  <th>Engine</th>
                  <th>Containers</th>
                  <th>Networks</th>
                  <th>Last sync</th>
                  <th>Last error</th>
                  <th>
                    <span className={styles.srOnly}>Dashboard</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {endpoints.data!.results.map((e) => (
                  <tr key={e.name} data-testid={testIds.infra.endpointRow(e.name)}>
                    <td>
                      <Text weight="medium">{e.name}</Text>
                      <div className={styles.sub}>{e.url}</div>
                    </td>
                    <td>
                      <UpDownPill up={e.up} />
                    </td>
                    <td>
                      {e.version ? `Docker ${e.version}` : '–'}
                      {e.api_version && <div className={styles.sub}>API {e.api_version}</div>}
                    </td>
                    <td className={styles.num}>
                      {e.running} running / {e.containers}
                    </td>
                    <td className={styles.num}>{e.networks}</td>
                    <td title={formatDateTime(e.last_sync_at)}>{timeAgo(e.last_sync_at)}</td>
                    <td className={cx(e.last_error && styles.errorText)}>{e.last_error ?? '–'}</td>
                    <td>
                      <LinkButton
                        size="sm"
                        variant="secondary"
                        fill="text"
                        icon="apps"
                        href={dashboardUrl('docker', { endpoint: e.name })}
                        tooltip={`Docker dashboard for ${e.name}`}
                        aria-label={`Docker dashboard for ${e.name}`}
                        data-testid={testIds.infra.dashboard(`docker-${e.name}`)}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>

          {conflictList.length > 0 && (
            <Alert
              severity="warning"
              title={`${conflictList.length} Docker network${conflictList.length === 1 ? '' : 's'} overlap${conflictList.length === 1 ? 's' : ''} managed subnets`}
              data-testid={testIds.infra.conflict}
            >
              <ul className={styles.conflicts}>
                {conflictList.map((c) => (
                  <li key={conflictKey(c.endpoint, c.network, c.cidr)}>
                    {c.message}{' '}
                    <TextLink href={subnetUrl(c.subnet_id)} inline>
                      {c.subnet}
                    </TextLink>
                  </li>
                ))}
              </ul>
            </Alert>
          )}

          <Text element="h3" variant="h5">
            Containers
          </Text>
          {containers.error && (
            <ErrorAlert error={containers.error} title="Cannot load the containers" onRetry={containers.reload} />
          )}
          {!containers.data && !containers.error && <LoadingPlaceholder text="Loading containers…" />}
          {containers.data && containers.data.count === 0 && <Text color="secondary">No containers.</Text>}
          {containers.data && containers.data.count > 0 && (
            <div className={styles.scroll}>
              <table className={styles.table} aria-label="Docker containers">
                <thead>
                  <tr>
                    <th>Container</th>
                    <th>Endpoint</th>
                    <th>Image</th>
                    <th>State</th>
                    <th>Health</th>
                    <th>Restarts</th>
                    <th>Memory</th>
                    <th>Addresses</th>
                  </tr>
                </thead>
                <tbody>
                  {containers.data.results.map((c) => {
                    const addresses = c.networks.flatMap((n) => n.addresses.map((a) => ({ ...a, network: n.network })));
                    return (
                      <tr key={`${c.endpoint}/${c.id}`} data-testid={testIds.infra.containerRow(c.endpoint, c.name)}>
                        <td>
                          <Text weight="medium">{c.name}</Text>
                          {c.compose_project && (
                            <div className={styles.sub}>
                              compose {c.compose_project}
                              {c.compose_service ? ` / ${c.compose_service}` : ''}
                            </div>
                          )}
                        </td>
                        <td>{c.endpoint}</td>
                        <td className={styles.image} title={c.image}>
                          {c.image}
                        </td>
                        <td>
                          <ContainerStatePill state={c.state} exitCode={c.exit_code} />
                        </td>
                        <td>
                          <HealthChip health={c.health} />
                        </td>
                        <td className={cx(styles.num, c.restart_count > 0 && styles.warnText)}>{c.restart_count}</td>
                        <td className={styles.num}>{c.memory_bytes === null ? '–' : formatBytes(c.memory_bytes)}</td>
                        <td>
                          {addresses.length === 0 ? (
                            <span className={styles.sub}>none</span>
                          ) : (
                            <Stack gap={1} wrap="wrap">
                              {addresses.map((a) => (
                                <AddressLink
                                  key={`${a.network}/${a.address}`}
                                  ip={a.address}
                                  addressId={a.address_id}
                                  subnets={subnets}
                                  stale={!a.live}
                                  title={`${a.address} on ${a.network}${a.live ? '' : ' (not held now)'}`}
                                />
                              ))}
                            </Stack>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}

          <Text element="h3" variant="h5">
            Networks
          </Text>
          {networks.error && (
            <ErrorAlert error={networks.error} title="Cannot load the Docker networks" onRetry={networks.reload} />
          )}
          {!networks.data && !networks.error && <LoadingPlaceholder text="Loading networks…" />}
          {networks.data && <NetworkTable networks={networks.data.results} conflicts={conflictsByPool} />}
        </>
      )}
    </section>
  );
}

function NetworkTable({ networks, conflicts }: { networks: DockerNetwork[]; conflicts: Map<string, DockerConflict> }) {
  const styles = useStyles2(getStyles);
  if (networks.length === 0) {
    return <Text color="secondary">No networks.</Text>;
  }
  return (
    <div className={styles.scroll}>
      <table className={styles.table} aria-label="Docker networks">
        <thead>
          <tr>
            <th>Network</th>
            <th>Endpoint</th>
            <th>Driver</th>
            <th>Pools</th>
            <th>IPAM subnet</th>
            <th>Containers</th>
          </tr>
        </thead>
        <tbody>
          {networks.map((n) => {
            const overlaps = n.subnets.map((s) => conflicts.get(conflictKey(n.endpoint, n.name, s.cidr)));
            const conflicted = overlaps.some(Boolean);
            return (
              <tr
                key={`${n.endpoint}/${n.id}`}
                className={cx(conflicted && styles.conflictRow)}
                data-testid={testIds.infra.networkRow(n.endpoint, n.name)}
                data-conflict={conflicted ? 'true' : undefined}
              >
                <td>
                  <Text weight="medium">{n.name}</Text>
                  {n.internal && <div className={styles.sub}>internal</div>}
                </td>
                <td>{n.endpoint}</td>
                <td>
                  {n.driver}
                  <div className={styles.sub}>{n.scope}</div>
                </td>
                <td>
                  {n.subnets.length === 0 ? (
                    <span className={styles.sub}>none</span>
                  ) : (
                    n.subnets.map((s) => (
                      <div key={s.cidr} className={styles.mono}>
                        {s.cidr}
                        {s.gateway && <span className={styles.sub}> gw {s.gateway}</span>}
                      </div>
                    ))
                  )}
                </td>
                <td>
                  {n.subnets.map((s, i) => {
                    const overlap = overlaps[i];
                    return (
                      <div key={s.cidr}>
                        {s.subnet_id !== null ? (
                          <TextLink href={subnetUrl(s.subnet_id)} inline>
                            {s.cidr}
                          </TextLink>
                        ) : (
                          <span className={styles.sub}>–</span>
                        )}
                        {overlap && (
                          <Tooltip content={overlap.message}>
                            <span className={styles.overlap}>
                              {' '}
                              overlaps{' '}
                              <TextLink href={subnetUrl(overlap.subnet_id)} inline>
                                {overlap.subnet}
                              </TextLink>
                            </span>
                          </Tooltip>
                        )}
                        {!overlap && s.managed && <span className={styles.sub}> (managed)</span>}
                      </div>
                    );
                  })}
                </td>
                <td className={styles.num}>{n.containers}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export const getStyles = (theme: GrafanaTheme2) => ({
  ...getTableStyles(theme),
  section: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1.5),
  }),
  sub: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  mono: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'nowrap',
  }),
  num: css({
    fontVariantNumeric: 'tabular-nums',
    whiteSpace: 'nowrap',
  }),
  image: css({
    maxWidth: 280,
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    whiteSpace: 'nowrap',
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  errorText: css({
    color: theme.colors.error.text,
  }),
  warnText: css({
    color: theme.colors.warning.text,
    fontWeight: theme.typography.fontWeightMedium,
  }),
  conflicts: css({
    margin: 0,
    paddingLeft: theme.spacing(2),
  }),
  conflictRow: css({
    background: theme.colors.warning.transparent,
    boxShadow: `inset 3px 0 0 ${theme.colors.warning.main}`,
  }),
  srOnly: css({
    position: 'absolute',
    width: 1,
    height: 1,
    overflow: 'hidden',
    clip: 'rect(0 0 0 0)',
    whiteSpace: 'nowrap',
  }),
  overlap: css({
    color: theme.colors.warning.text,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
});
