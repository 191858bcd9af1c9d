// Proxmox VE on the infrastructure page: nodes (online, CPU and memory) and guests (type,
// status, tags, addresses linked into IPAM), from the exporter's last inventory.
import React from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { LinkButton, LoadingPlaceholder, Stack, Text, Tooltip, useStyles2 } from '@grafana/ui';
import { api } from '../../api/client';
import { useApi } from '../../api/hooks';
import type { ProxmoxGuest, Subnet } from '../../api/types';
import { ROUTES } from '../../constants';
import { formatDateTime, formatPercent, shortDuration, timeAgo } from '../../utils/format';
import { formatBytes } from '../../utils/vm';
import { dashboardUrl, prefixRoute } from '../../utils/utils.routing';
import { ErrorAlert } from '../ErrorAlert';
import { testIds } from '../testIds';
import { SectionHeader } from '../traffic/SectionHeader';
import { AddressLink } from './AddressLink';
import { Meter } from './Meter';
import { getStyles as getDockerStyles } from './DockerSection';
import { NotConfigured, isNotConfigured } from './NotConfigured';
import { GuestStatusPill, Pill, UpDownPill } from './Pill';

interface Props {
  subnets: readonly Subnet[];
  reloadKey: number;
  /** Offer "Create VM" (Admins). */
  canCreate: boolean;
}

function typeLabel(g: ProxmoxGuest): string {
  return g.template ? 'template' : g.type === 'qemu' ? 'VM' : 'container';
}

export function ProxmoxSection({ subnets, reloadKey, canCreate }: Props) {
  const styles = useStyles2(getStyles);
  const nodes = useApi(() => api.proxmoxNodes(), [reloadKey]);
  const off = isNotConfigured(nodes.error);
  const guests = useApi(() => (off ? Promise.resolve(undefined) : api.proxmoxGuests()), [reloadKey, off]);

  return (
    <section className={styles.section} aria-labelledby="infra-proxmox-heading" data-testid={testIds.infra.proxmox}>
      <SectionHeader id="infra-proxmox-heading" title="Proxmox VE">
        {!off && nodes.data && (
          <Text color="secondary" variant="bodySmall">
            <span title={formatDateTime(nodes.data.updated_at)}>inventory {timeAgo(nodes.data.updated_at)}</span>
          </Text>
        )}
        {!off && (
          <LinkButton
            size="sm"
            variant="secondary"
            icon="apps"
            href={dashboardUrl('proxmox')}
            data-testid={testIds.infra.dashboard('proxmox')}
          >
            Proxmox dashboard
          </LinkButton>
        )}
        {!off && canCreate && (
          <LinkButton size="sm" icon="plus" href={prefixRoute(ROUTES.CreateVm)} data-testid={testIds.infra.createVm}>
            Create VM
          </LinkButton>
        )}
      </SectionHeader>
      {off && <NotConfigured integration="proxmox" data-testid={testIds.infra.notConfigured('proxmox')} />}
      {!off && nodes.error && (
        <ErrorAlert error={nodes.error} title="Cannot load the Proxmox nodes" onRetry={nodes.reload} />
      )}
      {!off && !nodes.data && !nodes.error && <LoadingPlaceholder text="Loading Proxmox nodes…" />}
      {!off && nodes.data && (
        <div className={styles.scroll}>
          <table className={styles.table} aria-label="Proxmox nodes">
            <thead>
              <tr>
                <th>Node</th>
                <th>Status</th>
                <th className={styles.barCol}>CPU</th>
                <th className={styles.barCol}>Memory</th>
                <th>Uptime</th>
                <th>Guests</th>
                <th>
                  <span className={styles.srOnly}>Dashboard</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {nodes.data.results.map((n) => (
                <tr key={n.node} data-testid={testIds.infra.nodeRow(n.node)}>
                  <td>
                    <Text weight="medium">{n.node}</Text>
                  </td>
                  <td>
                    <UpDownPill up={n.online} upText="online" downText="offline" />
                  </td>
                  <td className={styles.barCol}>
                    {n.cpu_usage_ratio !== null ? (
                      <Meter
                        ratio={n.cpu_usage_ratio}
                        label={`CPU of ${n.node}`}
                        text={`${formatPercent(n.cpu_usage_ratio)}${n.cpus !== null ? ` of ${n.cpus} CPUs` : ''}`}
                      />
                    ) : (
                      '–'
                    )}
                  </td>
                  <td className={styles.barCol}>
                    {n.memory_used_bytes !== null && n.memory_total_bytes ? (
                      <Meter
                        ratio={n.memory_used_bytes / n.memory_total_bytes}
                        label={`Memory of ${n.node}`}
                        text={`${formatBytes(n.memory_used_bytes)} of ${formatBytes(n.memory_total_bytes)}`}
                      />
                    ) : (
                      '–'
                    )}
                  </td>
                  <td className={styles.num}>
                    {n.uptime_seconds !== null ? shortDuration(n.uptime_seconds * 1000) : '–'}
                  </td>
                  <td className={styles.num}>{n.guests}</td>
                  <td>
                    <LinkButton
                      size="sm"
                      variant="secondary"
                      fill="text"
                      icon="apps"
                      href={dashboardUrl('proxmox', { node: n.node })}
                      tooltip={`Proxmox dashboard for ${n.node}`}
                      aria-label={`Proxmox dashboard for ${n.node}`}
                      data-testid={testIds.infra.dashboard(`proxmox-${n.node}`)}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {!off && (
        <Text element="h3" variant="h5">
          Guests
        </Text>
      )}
      {!off && guests.error && (
        <ErrorAlert error={guests.error} title="Cannot load the Proxmox guests" onRetry={guests.reload} />
      )}
      {!off && !guests.data && !guests.error && <LoadingPlaceholder text="Loading guests…" />}
      {!off && guests.data && guests.data.count === 0 && <Text color="secondary">No guests.</Text>}
      {!off && guests.data && guests.data.count > 0 && (
        <div className={styles.scroll}>
          <table className={styles.table} aria-label="Proxmox guests">
            <thead>
              <tr>
                <th>ID</th>
                <th>Name</th>
                <th>Type</th>
                <th>Node</th>
                <th>Status</th>
                <th>Tags</th>
                <th>Memory</th>
                <th>Addresses</th>
              </tr>
            </thead>
            <tbody>
              {guests.data.results.map((g) => (
                <tr
                  key={g.vmid}
                  data-testid={testIds.infra.guestRow(g.vmid)}
                  className={cx(g.template && styles.templateRow)}
                >
                  <td className={styles.num}>{g.vmid}</td>
                  <td>
                    <Text weight="medium">{g.name}</Text>
                  </td>
                  <td>{typeLabel(g)}</td>
                  <td>{g.node}</td>
                  <td>{g.template ? <span className={styles.sub}>–</span> : <GuestStatusPill status={g.status} />}</td>
                  <td>
                    {g.tags.length > 0 ? (
                      <Stack gap={0.5} wrap="wrap">
                        {g.tags.map((t) => (
                          <Pill key={t} tone="info" chip state={t}>
                            {t}
                          </Pill>
                        ))}
                      </Stack>
                    ) : (
                      <span className={styles.sub}>–</span>
                    )}
                  </td>
                  <td className={styles.num}>{formatBytes(g.memory_total_bytes)}</td>
                  <td>
                    {g.addresses === null ? (
                      <Tooltip content="Unknown: the guest is stopped or has no guest agent">
                        <span className={styles.sub}>unknown</span>
                      </Tooltip>
                    ) : g.addresses.length === 0 ? (
                      <span className={styles.sub}>none</span>
                    ) : (
                      <Stack gap={1} wrap="wrap">
                        {g.addresses.map((a) => (
                          <AddressLink
                            key={`${a.interface}/${a.address}`}
                            ip={a.address}
                            addressId={a.address_id}
                            subnets={subnets}
                            title={`${a.address}${a.prefix_length !== null ? `/${a.prefix_length}` : ''} on ${a.interface}`}
                          />
                        ))}
                      </Stack>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  ...getDockerStyles(theme),
  barCol: css({
    minWidth: 200,
  }),
  templateRow: css({
    color: theme.colors.text.secondary,
  }),
});
