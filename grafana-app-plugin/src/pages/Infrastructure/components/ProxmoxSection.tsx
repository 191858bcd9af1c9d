// Proxmox VE on the infrastructure page: nodes (online, CPU and memory) and guests (type,
// status, tags, addresses linked into IPAM), from the exporter's last inventory.
import React from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { LinkButton, Stack, Text, Tooltip, useStyles2 } from '@grafana/ui';
import { api } from '../../../api/client';
import { useApi } from '../../../api/hooks';
import type { ProxmoxGuest, Subnet } from '../../../api/types';
import { ROUTES } from '../../../constants';
import { formatDateTime, formatPercent, shortDuration, timeAgo } from '../../../utils/format';
import { formatBytes } from '../../../utils/vm';
import { prefixRoute } from '../../../utils/utils.routing';
import { Pill } from '../../../components/Pill';
import { testIds } from '../../../components/testIds';
import { SectionHeader } from '../../../components/SectionHeader';
import { AddressLinks } from './AddressLink';
import { Meter } from './Meter';
import { NotConfigured, isNotConfigured } from '../../../components/NotConfigured';
import { GuestStatusPill, UpDownPill } from '../../../components/StatePills';
import { ListStatus, ListTable, RowDashboardButton, SectionDashboardButton, getSectionStyles } from './parts';

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
        {!off && <SectionDashboardButton integration="proxmox" />}
        {!off && canCreate && (
          <LinkButton size="sm" icon="plus" href={prefixRoute(ROUTES.CreateVm)} data-testid={testIds.infra.createVm}>
            Create VM
          </LinkButton>
        )}
      </SectionHeader>
      {off ? (
        <NotConfigured integration="proxmox" data-testid={testIds.infra.notConfigured('proxmox')} />
      ) : (
        <>
          <ListStatus state={nodes} errorTitle="Cannot load the Proxmox nodes" loadingText="Loading Proxmox nodes…" />
          {nodes.data && (
            <ListTable
              label="Proxmox nodes"
              columns={[
                'Node',
                'Status',
                { title: 'CPU', className: styles.barCol },
                { title: 'Memory', className: styles.barCol },
                'Uptime',
                'Guests',
                { title: 'Dashboard', hidden: true },
              ]}
            >
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
                    <RowDashboardButton integration="proxmox" name={n.node} vars={{ node: n.node }} />
                  </td>
                </tr>
              ))}
            </ListTable>
          )}

          <Text element="h3" variant="h5">
            Guests
          </Text>
          <ListStatus
            state={guests}
            errorTitle="Cannot load the Proxmox guests"
            loadingText="Loading guests…"
            emptyText="No guests."
          />
          {guests.data && guests.data.results.length > 0 && (
            <ListTable
              label="Proxmox guests"
              columns={['ID', 'Name', 'Type', 'Node', 'Status', 'Tags', 'Memory', 'Addresses']}
            >
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
                    ) : (
                      <AddressLinks
                        addresses={g.addresses.map((a) => ({
                          key: `${a.interface}/${a.address}`,
                          ip: a.address,
                          addressId: a.address_id,
                          title: `${a.address}${a.prefix_length !== null ? `/${a.prefix_length}` : ''} on ${a.interface}`,
                        }))}
                        subnets={subnets}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </ListTable>
          )}
        </>
      )}
    </section>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  ...getSectionStyles(theme),
  barCol: css({
    minWidth: 200,
  }),
  templateRow: css({
    color: theme.colors.text.secondary,
  }),
});
