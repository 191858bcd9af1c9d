// One subnet: header with utilization and ranges, then every known address and the free gaps
// between them in a windowed, keyboard-navigable table. Filters live in the URL.
import React, { useCallback, useMemo, useState } from 'react';
import { useParams, useSearchParams } from 'react-router-dom';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import {
  Alert,
  Button,
  Combobox,
  type ComboboxOption,
  EmptyState,
  FilterInput,
  LinkButton,
  LoadingPlaceholder,
  RadioButtonGroup,
  Stack,
  Text,
  useStyles2,
} from '@grafana/ui';
import { ApiError, api } from '../../api/client';
import { useApi } from '../../api/hooks';
import type { Address, Range, Subnet as SubnetType } from '../../api/types';
import { AddressDrawer } from './components/AddressDrawer';
import { AddressTable } from './components/AddressTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { ReserveAddressModal } from './components/ReserveAddressModal';
import { SubnetMapView } from './components/SubnetMapView';
import { ScanButton } from '../../components/ScanButton';
import { UtilizationBar } from '../../components/UtilizationBar';
import { VrfChip, useVrfs, vrfName } from '../../components/VrfChip';
import { testIds } from '../../components/testIds';
import { GLOBAL_VRF, ROUTES } from '../../constants';
import { type RowFilter, filterFromParams, filterRows, isFiltering } from '../../utils/filter';
import { formatCount, formatPercent } from '../../utils/format';
import { canWrite as userCanWrite } from '../../utils/permissions';
import { dashboardUrl, prefixRoute, reserveUrl } from '../../utils/utils.routing';
import { useSubnetRows } from './hooks/useSubnetRows';

const STATE_OPTIONS: Array<ComboboxOption<string>> = ['reserved', 'assigned', 'dhcp', 'deprecated', 'provisioning'].map(
  (s) => ({ label: s, value: s })
);
const STATUSES: Array<ComboboxOption<string>> = [
  { label: 'Up', value: 'up' },
  { label: 'Down', value: 'down' },
  { label: 'Unknown', value: 'unknown' },
];
const VIEWS: Array<{ label: string; value: 'table' | 'map'; icon: 'table' | 'apps'; description: string }> = [
  { label: 'Table', value: 'table', icon: 'table', description: 'Every address and the free gaps between them' },
  { label: 'Map', value: 'map', icon: 'apps', description: 'The subnet as a grid of its addresses' },
];

function Subnet() {
  const { id: idText } = useParams<{ id: string }>();
  const subnetId = Number(idText);
  if (!Number.isInteger(subnetId) || subnetId < 1) {
    return (
      <PluginPage>
        <ErrorAlert error={new ApiError(404, `“${idText}” is not a subnet id`)} title="No such subnet" />
      </PluginPage>
    );
  }
  return <SubnetView subnetId={subnetId} />;
}

function SubnetView({ subnetId }: { subnetId: number }) {
  const styles = useStyles2(getStyles);
  const data = useSubnetRows(subnetId);
  const ranges = useApi(() => api.ranges(subnetId), [subnetId]);
  const [params, setParams] = useSearchParams();
  const filter = useMemo(() => filterFromParams(params), [params]);
  const [reserving, setReserving] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const writable = userCanWrite();
  const drawerId = Number(params.get('address'));
  const view = params.get('view') === 'map' ? 'map' : 'table';

  const setParam = useCallback(
    (key: keyof RowFilter | 'address' | 'view', value: string | undefined, replace = true) => {
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          if (value) {
            next.set(key, value);
          } else {
            next.delete(key);
          }
          return next;
        },
        { replace }
      );
    },
    [setParams]
  );

  const rangeList = useMemo(() => ranges.data?.results ?? [], [ranges.data]);
  const rows = useMemo(() => filterRows(data.rows, filter), [data.rows, filter]);
  const filtering = isFiltering(filter);
  const { tagOptions, portOptions } = useMemo(() => optionsOf(data.rows), [data.rows]);
  const openAddress = useCallback((a: Address) => setParam('address', String(a.id), false), [setParam]);
  const { loadMore } = data;
  const autoLoad = useCallback(() => loadMore(), [loadMore]);
  const onEndReached = filtering ? undefined : autoLoad;

  const subnet = data.subnet;
  const title = subnet ? subnet.cidr : `Subnet ${subnetId}`;
  // The VRF it belongs to (#15): the same CIDR may be in two. Named without a request when global.
  const vrfId = subnet?.vrf_id ?? GLOBAL_VRF.id;
  const vrfs = useVrfs(subnet !== undefined && vrfId !== GLOBAL_VRF.id);
  const vrf = vrfName(vrfId, vrfs);
  return (
    <PluginPage pageNav={{ text: title, subTitle: subnet?.name || undefined }}>
      <div className={styles.page} data-testid={testIds.subnet.container}>
        <Stack gap={1} alignItems="center">
          <LinkButton href={prefixRoute(ROUTES.Overview)} icon="arrow-left" variant="secondary" fill="text" size="sm">
            All subnets
          </LinkButton>
          {subnet && <VrfChip vrfId={vrfId} vrfs={vrfs} />}
          {subnet && (
            <LinkButton
              href={dashboardUrl('subnet', { ...(vrf.startsWith('#') ? {} : { vrf }), subnet: subnet.cidr })}
              icon="apps"
              variant="secondary"
              fill="text"
              size="sm"
              data-testid={testIds.subnet.dashboard}
              tooltip="Hosts, latency heatmap and uptime of this subnet in Prometheus"
            >
              Subnet dashboard
            </LinkButton>
          )}
        </Stack>
        {subnet && <Header subnet={subnet} ranges={rangeList} writable={writable} onScanned={data.reload} />}
        {ranges.error && <ErrorAlert error={ranges.error} title="Cannot load the ranges of this subnet" />}
        {notice && <Alert severity="success" title={notice} onRemove={() => setNotice(undefined)} />}

        <Stack gap={1} wrap="wrap" alignItems="center">
          <RadioButtonGroup
            options={VIEWS}
            value={view}
            onChange={(v) => setParam('view', v === 'map' ? v : undefined, false)}
            data-testid={testIds.subnet.view}
          />
          {view === 'table' && (
            <TableFilters
              filter={filter}
              tagOptions={tagOptions}
              portOptions={portOptions}
              setParam={setParam}
              clear={() =>
                setParams(
                  (prev) => {
                    const next = new URLSearchParams();
                    const address = prev.get('address');
                    if (address) {
                      next.set('address', address);
                    }
                    return next;
                  },
                  { replace: true }
                )
              }
            />
          )}
        </Stack>
        {data.error && (
          <ErrorAlert
            error={data.error}
            title="Cannot load the addresses of this subnet"
            onRetry={data.rows.length ? () => data.loadMore(true) : data.reload}
          />
        )}
        {data.loading && data.rows.length === 0 && !data.error && <LoadingPlaceholder text="Loading addresses…" />}
        {!data.loading && !data.error && data.count === 0 && (
          <EmptyState variant="not-found" message="This subnet has no usable addresses" />
        )}
        {view === 'map' && subnet && (
          <SubnetMapView
            subnet={subnet}
            rows={data.rows}
            count={data.count}
            hasMore={data.hasMore}
            loadAll={data.loadAll}
            onOpen={(id) => setParam('address', String(id), false)}
            onReserve={writable ? setReserving : undefined}
          />
        )}
        {view === 'table' && data.rows.length > 0 && rows.length === 0 && (
          <EmptyState variant="not-found" message="No address matches these filters">
            {data.hasMore ? `Only the ${formatCount(data.rows.length)} rows loaded so far were searched.` : undefined}
          </EmptyState>
        )}
        {view === 'table' && rows.length > 0 && (
          <AddressTable
            subnetId={subnetId}
            rows={rows}
            ranges={rangeList}
            onOpen={openAddress}
            onReserve={setReserving}
            onEndReached={onEndReached}
            canWrite={writable}
          />
        )}
        {view === 'table' && data.rows.length > 0 && (
          <Stack gap={1} alignItems="center" wrap="wrap">
            <Text variant="bodySmall" color="secondary">
              {filtering ? `${formatCount(rows.length)} matching of ` : ''}
              {formatCount(data.rows.length)} of {formatCount(data.count)} rows loaded
              {filtering && data.hasMore ? ' (filters search the loaded rows only)' : ''}
            </Text>
            {data.hasMore && (
              <>
                <Button
                  size="sm"
                  variant="secondary"
                  onClick={() => data.loadMore(true)}
                  disabled={data.loading}
                  data-testid={testIds.subnet.loadMore}
                >
                  Load more
                </Button>
                <Button size="sm" variant="secondary" fill="text" onClick={data.loadAll} disabled={data.loading}>
                  Load all
                </Button>
              </>
            )}
            {data.loading && data.rows.length > 0 && (
              <LoadingPlaceholder text="Loading…" className={styles.inlineLoading} />
            )}
          </Stack>
        )}
      </div>

      {drawerId > 0 && (
        <AddressDrawer
          addressId={drawerId}
          canWrite={writable}
          onClose={() => setParam('address', undefined, false)}
          onChanged={data.reload}
        />
      )}
      {reserving && (
        <ReserveAddressModal
          address={reserving}
          vrfId={vrfId}
          vrfs={vrfs}
          onDismiss={() => setReserving(undefined)}
          onReserved={(a) => {
            setReserving(undefined);
            setNotice(`Reserved ${a.address}${a.hostname ? ` (${a.hostname})` : ''}`);
            data.reload();
          }}
        />
      )}
    </PluginPage>
  );
}

/** The table's search and filters (in the URL, so a filtered view can be shared). */
function TableFilters({
  filter,
  tagOptions,
  portOptions,
  setParam,
  clear,
}: {
  filter: RowFilter;
  tagOptions: Array<ComboboxOption<string>>;
  portOptions: Array<ComboboxOption<string>>;
  setParam: (key: keyof RowFilter, value: string | undefined) => void;
  clear: () => void;
}) {
  const styles = useStyles2(getStyles);
  // The pick-one filters; tags and ports also take a value typed in (not yet loaded).
  const choices: Array<{
    key: 'state' | 'status' | 'tag' | 'port';
    label: string;
    width: number;
    options: Array<ComboboxOption<string>>;
    custom?: boolean;
  }> = [
    { key: 'state', label: 'State', width: 20, options: STATE_OPTIONS },
    { key: 'status', label: 'Status', width: 16, options: STATUSES },
    { key: 'tag', label: 'Tag', width: 20, options: tagOptions, custom: true },
    { key: 'port', label: 'Port or service', width: 22, options: portOptions, custom: true },
  ];
  return (
    <>
      <div className={styles.search}>
        <FilterInput
          value={filter.q}
          onChange={(v) => setParam('q', v)}
          placeholder="Search address, hostname, MAC, vendor, owner"
          data-testid={testIds.subnet.search}
        />
      </div>
      {choices.map((c) => (
        <Combobox<string>
          key={c.key}
          isClearable
          createCustomValue={c.custom}
          placeholder={c.label}
          width={c.width}
          aria-label={`Filter by ${c.label.toLowerCase()}`}
          value={filter[c.key] || null}
          options={c.options}
          onChange={(o) => setParam(c.key, o?.value)}
        />
      ))}
      {isFiltering(filter) && (
        <Button variant="secondary" fill="text" icon="times" onClick={clear}>
          Clear filters
        </Button>
      )}
    </>
  );
}

function optionsOf(rows: ReturnType<typeof useSubnetRows>['rows']) {
  const tags = new Set<string>();
  const ports = new Map<number, string>();
  for (const r of rows) {
    if (r.type !== 'address') {
      continue;
    }
    r.address.tags.forEach((t) => tags.add(t));
    r.address.observed?.ports.forEach((p) => ports.set(p.port, p.service ?? p.protocol));
  }
  return {
    tagOptions: [...tags].sort().map((t) => ({ label: t, value: t })),
    portOptions: [...ports.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([port, service]) => ({ label: `${port}/${service}`, value: String(port) })),
  };
}

function Header({
  subnet: s,
  ranges,
  writable,
  onScanned,
}: {
  subnet: SubnetType;
  ranges: Range[];
  writable: boolean;
  onScanned: () => void;
}) {
  const styles = useStyles2(getStyles);
  const u = s.utilization;
  const facts: Array<[string, string]> = [
    ['VLAN', s.vlan !== null ? String(s.vlan) : '–'],
    ['Gateway', s.gateway ?? '–'],
    ['Used', `${formatCount(u.used)} of ${formatCount(u.size)}`],
    ['Free', formatCount(u.free)],
  ];
  Object.entries(u.by_state).forEach(([state, n]) => facts.push([state, formatCount(n)]));
  if (s.discovery) {
    facts.push(['Alive', formatCount(s.discovery.hosts_up)]);
  }
  return (
    <div className={styles.header}>
      <Stack direction="column" gap={1}>
        <Stack gap={2} alignItems="center" wrap="wrap" justifyContent="space-between">
          <Stack gap={1} alignItems="baseline">
            {/* The page title already names the subnet; this card is about its use. */}
            <Text element="h2" variant="h4">
              Utilization
            </Text>
          </Stack>
          {writable && (
            <Stack gap={1} alignItems="center">
              <ScanButton subnetId={s.id} onDone={onScanned} size="md" />
              <LinkButton href={reserveUrl({ subnet: s.id })} icon="lock" variant="primary">
                Reserve
              </LinkButton>
            </Stack>
          )}
        </Stack>
        {s.description && <Text color="secondary">{s.description}</Text>}
        <UtilizationBar used={u.used} size={u.size} ratio={u.ratio} />
        <dl className={styles.facts}>
          {facts.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
        {ranges.length > 0 && (
          <div className={styles.ranges} aria-label="Ranges">
            {ranges.map((r) => (
              <span key={r.id} className={styles.range} title={r.description || undefined}>
                <span className={styles.swatch} style={r.color ? { background: r.color } : undefined} aria-hidden />
                <strong>{r.label}</strong>
                <span className={styles.secondary}>
                  {r.start_address} – {r.end_address} · {r.purpose} · {formatPercent(r.utilization.ratio, 0)} used
                </span>
              </span>
            ))}
          </div>
        )}
      </Stack>
    </div>
  );
}

export default Subnet;

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(2),
  }),
  header: css({
    padding: theme.spacing(2),
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    background: theme.colors.background.secondary,
  }),
  facts: css({
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(3),
    margin: 0,
    dt: {
      color: theme.colors.text.secondary,
      fontSize: theme.typography.bodySmall.fontSize,
    },
    dd: {
      margin: 0,
      fontVariantNumeric: 'tabular-nums',
    },
  }),
  ranges: css({
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(1),
  }),
  range: css({
    display: 'inline-flex',
    alignItems: 'center',
    gap: theme.spacing(0.75),
    padding: theme.spacing(0.25, 1),
    border: `1px solid ${theme.colors.border.medium}`,
    borderRadius: theme.shape.radius.pill,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  swatch: css({
    width: 10,
    height: 10,
    borderRadius: theme.shape.radius.circle,
    background: theme.colors.text.disabled,
  }),
  secondary: css({
    color: theme.colors.text.secondary,
  }),
  search: css({
    flex: '1 1 320px',
    maxWidth: 480,
  }),
  inlineLoading: css({
    marginBottom: 0,
  }),
});
