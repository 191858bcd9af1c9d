// Overview: every subnet as a tree with its utilization, scan, edit and delete; add, CSV import,
// and the conflicts discovery found.
import React, { useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import {
  Badge,
  Button,
  Dropdown,
  EmptyState,
  FilterInput,
  IconButton,
  LoadingPlaceholder,
  Combobox,
  Menu,
  Stack,
  Text,
  Tooltip,
  useStyles2,
} from '@grafana/ui';
import { api } from '../../api/client';
import { useApi } from '../../api/hooks';
import { allSubnets } from '../../api/loaders';
import type { Subnet, Vrf } from '../../api/types';
import { ConflictsSummary } from './components/ConflictsSummary';
import { DeleteSubnetModal } from './components/DeleteSubnetModal';
import { ErrorAlert } from '../../components/ErrorAlert';
import { ImportModal } from './components/ImportModal';
import { ScanButton } from '../../components/ScanButton';
import { SubnetFormModal } from './components/SubnetFormModal';
import { UtilizationBar } from '../../components/UtilizationBar';
import { getTableStyles } from '../../components/styles';
import { testIds } from '../../components/testIds';
import { GLOBAL_VRF } from '../../constants';
import { formatCount, timeAgo } from '../../utils/format';
import { canWrite as userCanWrite } from '../../utils/permissions';
import { subnetTree, visibleSubnets } from '../../utils/tree';
import { dashboardUrl, subnetUrl } from '../../utils/utils.routing';

type ModalState =
  { kind: 'add' } | { kind: 'import' } | { kind: 'edit'; subnet: Subnet } | { kind: 'delete'; subnet: Subnet } | null;

function Overview() {
  const styles = useStyles2(getStyles);
  const subnets = useApi(allSubnets, []);
  const conflicts = useApi(() => api.conflicts(), []);
  // VRFs (#15): a column and a filter once there is more than the global one (an exporter
  // without /vrfs, or a failed read, shows none).
  const vrfs = useApi(() => api.vrfs(), []);
  const vrfList: Vrf[] = vrfs.data?.results ?? [];
  const manyVrfs = vrfList.length > 1;
  const vrfName = (id: number | undefined) => vrfList.find((v) => v.id === (id ?? 1))?.name ?? String(id ?? 1);
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const vrfFilter = manyVrfs && params.get('vrf') ? Number(params.get('vrf')) : undefined;
  const [collapsed, setCollapsed] = useState<Set<number>>(() => new Set());
  const [modal, setModal] = useState<ModalState>(null);
  const writable = userCanWrite();

  const tree = useMemo(
    () => subnetTree((subnets.data ?? []).filter((s) => vrfFilter === undefined || (s.vrf_id ?? 1) === vrfFilter)),
    [subnets.data, vrfFilter]
  );
  const visible = useMemo(() => visibleSubnets(tree, collapsed, q), [tree, collapsed, q]);

  const setQuery = (value: string) => {
    const next = new URLSearchParams(params);
    if (value) {
      next.set('q', value);
    } else {
      next.delete('q');
    }
    setParams(next, { replace: true });
  };
  const setVrf = (id: number | undefined) => {
    const next = new URLSearchParams(params);
    if (id === undefined) {
      next.delete('vrf');
    } else {
      next.set('vrf', String(id));
    }
    setParams(next, { replace: true });
  };
  const toggle = (id: number) =>
    setCollapsed((s) => {
      const next = new Set(s);
      if (next.has(id)) {
        next.delete(id);
      } else {
        next.add(id);
      }
      return next;
    });
  const reloadAll = () => {
    subnets.reload();
    conflicts.reload();
  };

  const toolbar = (
    <Stack gap={1} wrap="wrap" justifyContent="space-between" alignItems="center">
      <Stack gap={1}>
        <FilterInput value={q} onChange={setQuery} placeholder="Filter by CIDR, name, VLAN or tag" width={48} />
        {manyVrfs && (
          <Combobox<string>
            id="overview-vrf"
            aria-label="VRF"
            data-testid={testIds.overview.vrfFilter}
            width={24}
            value={String(vrfFilter ?? 0)}
            options={[
              { label: 'All VRFs', value: '0' },
              ...vrfList.map((v) => ({ label: v.name, value: String(v.id), description: v.description || undefined })),
            ]}
            onChange={(o) => setVrf(Number(o?.value ?? 0) || undefined)}
          />
        )}
      </Stack>
      <Stack gap={1}>
        <Button icon="sync" variant="secondary" onClick={reloadAll} tooltip="Reload">
          Refresh
        </Button>
        <Dropdown
          overlay={
            <Menu>
              <Menu.Item label="Overview" icon="apps" url={dashboardUrl('overview')} />
              <Menu.Item label="Scanner" icon="heart-rate" url={dashboardUrl('scanner')} />
            </Menu>
          }
        >
          <Button icon="apps" variant="secondary" data-testid={testIds.overview.dashboards}>
            Dashboards
          </Button>
        </Dropdown>
        {writable && (
          <>
            <Button
              icon="upload"
              variant="secondary"
              onClick={() => setModal({ kind: 'import' })}
              data-testid={testIds.overview.importCsv}
            >
              Import CSV
            </Button>
            <Button icon="plus" onClick={() => setModal({ kind: 'add' })} data-testid={testIds.overview.addSubnet}>
              Add subnet
            </Button>
          </>
        )}
      </Stack>
    </Stack>
  );

  return (
    <PluginPage>
      <div data-testid={testIds.overview.container} className={styles.page}>
        {conflicts.data && <ConflictsSummary conflicts={conflicts.data.results} />}
        {conflicts.error && <ErrorAlert error={conflicts.error} title="Cannot load conflicts" />}
        {toolbar}
        {subnets.error && <ErrorAlert error={subnets.error} title="Cannot load subnets" onRetry={subnets.reload} />}
        {subnets.loading && !subnets.data && <LoadingPlaceholder text="Loading subnets…" />}
        {subnets.data && subnets.data.length === 0 && (
          <EmptyState
            variant="call-to-action"
            message="No subnets yet"
            button={
              writable ? (
                <Button icon="plus" onClick={() => setModal({ kind: 'add' })}>
                  Add subnet
                </Button>
              ) : undefined
            }
          >
            Add a subnet (or import a CSV of them) and Lanscape starts sweeping it for live hosts.
          </EmptyState>
        )}
        {subnets.data && subnets.data.length > 0 && visible.length === 0 && (
          <EmptyState variant="not-found" message={`No subnet matches “${q}”`} />
        )}
        {visible.length > 0 && (
          <div className={styles.scroll}>
            <table
              className={cx(styles.table, styles.numbers)}
              data-testid={testIds.overview.subnetTree}
              aria-label="Subnets"
            >
              <thead>
                <tr>
                  <th>Subnet</th>
                  {manyVrfs && <th>VRF</th>}
                  <th>Name</th>
                  <th>VLAN</th>
                  <th className={styles.utilizationCol}>Utilization</th>
                  <th data-align="right">Used</th>
                  <th data-align="right">Free</th>
                  <th data-align="right">Alive</th>
                  <th>Last scan</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {visible.map((s) => (
                  <SubnetRow
                    key={s.id}
                    subnet={s}
                    vrf={manyVrfs ? vrfName(s.vrf_id) : undefined}
                    collapsed={collapsed.has(s.id)}
                    filtering={q.trim() !== ''}
                    writable={writable}
                    onToggle={() => toggle(s.id)}
                    onEdit={() => setModal({ kind: 'edit', subnet: s })}
                    onDelete={() => setModal({ kind: 'delete', subnet: s })}
                    onScanned={reloadAll}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {subnets.data && subnets.data.length > 0 && (
          <Text variant="bodySmall" color="secondary">
            {formatCount(subnets.data.length)} subnets
          </Text>
        )}
      </div>

      {modal?.kind === 'add' && (
        <SubnetFormModal
          subnets={subnets.data ?? []}
          vrfs={vrfList}
          onDismiss={() => setModal(null)}
          onSaved={() => {
            setModal(null);
            subnets.reload();
          }}
        />
      )}
      {modal?.kind === 'edit' && (
        <SubnetFormModal
          subnet={modal.subnet}
          onDismiss={() => setModal(null)}
          onSaved={() => {
            setModal(null);
            subnets.reload();
          }}
        />
      )}
      {modal?.kind === 'delete' && (
        <DeleteSubnetModal
          subnet={modal.subnet}
          onDismiss={() => setModal(null)}
          onDeleted={() => {
            setModal(null);
            reloadAll();
          }}
        />
      )}
      {modal?.kind === 'import' && <ImportModal onDismiss={() => setModal(null)} onImported={() => subnets.reload()} />}
    </PluginPage>
  );
}

interface RowProps {
  subnet: Subnet;
  /** The subnet's VRF by name; undefined: no VRF column (only the global VRF exists). */
  vrf?: string;
  collapsed: boolean;
  filtering: boolean;
  writable: boolean;
  onToggle: () => void;
  onEdit: () => void;
  onDelete: () => void;
  onScanned: () => void;
}

/** When the subnet was last swept, as a chip coloured by the outcome; the error on hover. */
function LastScan({ scan }: { scan: NonNullable<Subnet['discovery']>['last_scan'] }) {
  const styles = useStyles2(getStyles);
  if (!scan) {
    return <span className={styles.secondary}>never</span>;
  }
  if (scan.state === 'queued' || scan.state === 'running') {
    return <Badge text={scan.state} color="blue" icon="sync" />;
  }
  return (
    <Tooltip content={scan.error ?? `${scan.alive} alive · ${scan.trigger === 'manual' ? 'manual' : 'scheduled'} scan`}>
      <span>
        <Badge
          text={timeAgo(scan.finished_at)}
          color={scan.state === 'done' ? 'green' : 'red'}
          icon={scan.state === 'done' ? 'check' : 'exclamation-triangle'}
        />
      </span>
    </Tooltip>
  );
}

function SubnetRow({
  subnet: s,
  vrf,
  collapsed,
  filtering,
  writable,
  onToggle,
  onEdit,
  onDelete,
  onScanned,
}: RowProps) {
  const styles = useStyles2(getStyles);
  const u = s.utilization;
  return (
    <tr data-testid={testIds.overview.subnetRow(s.vrf_id ?? GLOBAL_VRF.id, s.cidr)}>
      <td>
        <div className={styles.cidrCell} style={{ paddingLeft: `${s.depth * 20}px` }}>
          {s.children > 0 && !filtering ? (
            <IconButton
              name={collapsed ? 'angle-right' : 'angle-down'}
              aria-label={collapsed ? `Expand ${s.cidr}` : `Collapse ${s.cidr}`}
              aria-expanded={!collapsed}
              onClick={onToggle}
              size="sm"
            />
          ) : (
            <span className={styles.spacer} aria-hidden />
          )}
          <Link to={subnetUrl(s.id)} className={styles.link}>
            {s.cidr}
          </Link>
          {s.tags.length > 0 && <span className={styles.tags}>{s.tags.join(', ')}</span>}
        </div>
      </td>
      {vrf !== undefined && <td data-testid={testIds.overview.vrf(s.vrf_id ?? GLOBAL_VRF.id, s.cidr)}>{vrf}</td>}
      <td className={cx(styles.truncate)} title={s.description || undefined}>
        {s.name || <span className={styles.secondary}>–</span>}
      </td>
      <td>{s.vlan ?? <span className={styles.secondary}>–</span>}</td>
      <td className={styles.utilizationCol}>
        <UtilizationBar used={u.used} size={u.size} ratio={u.ratio} compact />
      </td>
      <td
        data-align="right"
        title={
          Object.entries(u.by_state)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ') || undefined
        }
      >
        {formatCount(u.used)} <span className={styles.secondary}>({Math.round(u.ratio * 1000) / 10} %)</span>
      </td>
      <td data-align="right">{formatCount(u.free)}</td>
      <td data-align="right" data-testid={testIds.overview.alive(s.vrf_id ?? GLOBAL_VRF.id, s.cidr)}>
        {s.discovery ? formatCount(s.discovery.hosts_up) : <span className={styles.secondary}>–</span>}
      </td>
      <td>
        <LastScan scan={s.discovery?.last_scan ?? null} />
      </td>
      <td>
        <div className={styles.actions}>
          {writable && <ScanButton subnetId={s.id} onDone={onScanned} />}
          {writable && (
            <>
              <IconButton
                name="pen"
                tooltip={`Edit ${s.cidr}`}
                onClick={onEdit}
                data-testid={testIds.overview.editSubnet(s.id)}
              />
              <IconButton
                name="trash-alt"
                tooltip={`Delete ${s.cidr}`}
                onClick={onDelete}
                data-testid={testIds.overview.deleteSubnet(s.id)}
              />
            </>
          )}
        </div>
      </td>
    </tr>
  );
}

export default Overview;

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(2),
  }),
  ...getTableStyles(theme, { cellPaddingX: 1, nowrap: true }),
  /** Cells with data-align="right": numbers. */
  numbers: css({
    '& [data-align="right"]': {
      textAlign: 'right',
      fontVariantNumeric: 'tabular-nums',
    },
  }),
  cidrCell: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(0.5),
  }),
  spacer: css({
    display: 'inline-block',
    width: 24,
  }),
  link: css({
    color: theme.colors.text.link,
    fontFamily: theme.typography.fontFamilyMonospace,
    '&:hover': {
      textDecoration: 'underline',
    },
  }),
  tags: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    marginLeft: theme.spacing(1),
  }),
  truncate: css({
    maxWidth: 240,
    overflow: 'hidden',
    textOverflow: 'ellipsis',
  }),
  utilizationCol: css({
    minWidth: 160,
    width: '22%',
  }),
  secondary: css({
    color: theme.colors.text.secondary,
  }),
  actions: css({
    display: 'flex',
    alignItems: 'center',
    justifyContent: 'flex-end',
    gap: theme.spacing(1),
  }),
});
