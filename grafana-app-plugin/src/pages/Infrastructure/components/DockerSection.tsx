// Docker on the infrastructure page: endpoints (up or down, engine version, last error),
// containers (state, health, restarts, addresses linked into IPAM) and networks (driver, pools,
// the IPAM subnet of each pool, overlaps with managed subnets highlighted).
import React, { useMemo } from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Alert, Text, TextLink, Tooltip, useStyles2 } from '@grafana/ui';
import { api } from '../../../api/client';
import { useApi } from '../../../api/hooks';
import type { DockerConflict, DockerNetwork, Subnet } from '../../../api/types';
import { formatDateTime, timeAgo } from '../../../utils/format';
import { formatBytes } from '../../../utils/vm';
import { subnetUrl } from '../../../utils/utils.routing';
import { testIds } from '../../../components/testIds';
import { SectionHeader } from '../../../components/SectionHeader';
import { AddressLinks } from './AddressLink';
import { ImageUpdate, imageUpdateTestId } from './ImageUpdate';
import { NotConfigured, isNotConfigured } from '../../../components/NotConfigured';
import { ContainerStatePill, HealthChip, UpDownPill } from '../../../components/StatePills';
import { ListStatus, ListTable, RowDashboardButton, SectionDashboardButton, getSectionStyles } from './parts';

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
  const outdated = useMemo(
    () => (containers.data?.results ?? []).filter((c) => c.image_update?.status === 'update_available').length,
    [containers.data]
  );
  const conflictsByPool = useMemo(() => {
    const m = new Map<string, DockerConflict>();
    conflictList.forEach((c) => m.set(conflictKey(c.endpoint, c.network, c.cidr), c));
    return m;
  }, [conflictList]);

  return (
    <section className={styles.section} aria-labelledby="infra-docker-heading" data-testid={testIds.infra.docker}>
      <SectionHeader id="infra-docker-heading" title="Docker">
        {configured && <SectionDashboardButton integration="docker" />}
      </SectionHeader>
      {!configured && <NotConfigured integration="docker" data-testid={testIds.infra.notConfigured('docker')} />}
      {configured && (
        <ListStatus
          state={endpoints}
          errorTitle="Cannot load the Docker endpoints"
          loadingText="Loading Docker endpoints…"
        />
      )}
      {ready && (
        <>
          <ListTable
            label="Docker endpoints"
            columns={[
              'Endpoint',
              'State',
              'Engine',
              'Containers',
              'Networks',
              'Last sync',
              'Last error',
              { title: 'Dashboard', hidden: true },
            ]}
          >
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
                <td title={formatDateTime(e.last_sync_at)}>
                  {timeAgo(e.last_sync_at)}
                  {e.images_checked_at && (
                    <div className={styles.sub} title={formatDateTime(e.images_checked_at)}>
                      images checked {timeAgo(e.images_checked_at)}
                    </div>
                  )}
                </td>
                <td className={cx(e.last_error && styles.errorText)}>{e.last_error ?? '–'}</td>
                <td>
                  <RowDashboardButton integration="docker" name={e.name} vars={{ endpoint: e.name }} />
                </td>
              </tr>
            ))}
          </ListTable>

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
          {outdated > 0 && (
            <div data-testid={testIds.infra.imageUpdatesSummary}>
              <Text color="secondary">
                {outdated === 1
                  ? '1 running container has an image update available'
                  : `${outdated} running containers have an image update available`}{' '}
                (the registry serves a newer build under its tag; Lanscape only reports it).
              </Text>
            </div>
          )}
          <ListStatus
            state={containers}
            errorTitle="Cannot load the containers"
            loadingText="Loading containers…"
            emptyText="No containers."
          />
          {containers.data && containers.data.results.length > 0 && (
            <ListTable
              label="Docker containers"
              columns={['Container', 'Endpoint', 'Image', 'State', 'Health', 'Restarts', 'Memory', 'Addresses']}
            >
              {containers.data.results.map((c) => {
                const addresses = c.networks.flatMap((n) =>
                  n.addresses.map((a) => ({
                    key: `${n.network}/${a.address}`,
                    ip: a.address,
                    addressId: a.address_id,
                    stale: !a.live,
                    title: `${a.address} on ${n.network}${a.live ? '' : ' (not held now)'}`,
                  }))
                );
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
                    <td>
                      <div className={styles.image} title={c.image}>
                        {c.image}
                      </div>
                      <ImageUpdate check={c.image_update} testId={imageUpdateTestId(c.endpoint, c.name)} />
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
                      <AddressLinks addresses={addresses} subnets={subnets} />
                    </td>
                  </tr>
                );
              })}
            </ListTable>
          )}

          <Text element="h3" variant="h5">
            Networks
          </Text>
          <ListStatus
            state={networks}
            errorTitle="Cannot load the Docker networks"
            loadingText="Loading networks…"
            emptyText="No networks."
          />
          {networks.data && networks.data.results.length > 0 && (
            <NetworkTable networks={networks.data.results} conflicts={conflictsByPool} />
          )}
        </>
      )}
    </section>
  );
}

function NetworkTable({ networks, conflicts }: { networks: DockerNetwork[]; conflicts: Map<string, DockerConflict> }) {
  const styles = useStyles2(getStyles);
  return (
    <ListTable
      label="Docker networks"
      columns={['Network', 'Endpoint', 'Driver', 'Pools', 'IPAM subnet', 'Containers']}
    >
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
    </ListTable>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  ...getSectionStyles(theme),
  mono: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
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
  overlap: css({
    color: theme.colors.warning.text,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
});
