// Activity: discovery events (new devices, up/down, MAC, name and port changes) merged with the
// audit log (who changed what), newest first, each linking to its subnet and address.
import React, { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import {
  Button,
  Combobox,
  type ComboboxOption,
  EmptyState,
  FilterInput,
  LoadingPlaceholder,
  Stack,
  TextLink,
  useStyles2,
} from '@grafana/ui';
import { api } from '../../api/client';
import { useApi } from '../../api/hooks';
import { QUERY_LIMITS } from '../../api/limits.gen';
import type { AuditEntry, EventKind, LanscapeEvent } from '../../api/types';
import { ACTIVITY_LABELS, type ActivityKind, EventIcon } from '../../components/EventIcon';
import { ErrorAlert } from '../../components/ErrorAlert';
import { VrfChip, useVrfs } from '../../components/VrfChip';
import { GLOBAL_VRF } from '../../constants';
import { testIds } from '../../components/testIds';
import { formatDateTime, timeAgo } from '../../utils/format';
import { isIp } from '../../utils/ip';
import { subnetUrl } from '../../utils/utils.routing';

const EVENT_KINDS: EventKind[] = ['new_device', 'up', 'down', 'mac_changed', 'hostname_changed', 'ports_changed'];
const PAGE = 100;
/** The most entries the exporter lists in one answer (both lists take the same page size). */
const MAX_LIMIT = Math.min(QUERY_LIMITS['GET /events'].limit.maximum, QUERY_LIMITS['GET /audit'].limit.maximum);

const KIND_OPTIONS: Array<ComboboxOption<string>> = [
  ...EVENT_KINDS.map((k) => ({ value: k, label: ACTIVITY_LABELS[k] })),
  { value: 'changes', label: 'IPAM changes (audit log)' },
];

export interface ActivityItem {
  key: string;
  at: string;
  kind: ActivityKind;
  text: string;
  actor?: string;
  address?: string;
  addressId?: number;
  subnetId?: number;
  subnetLabel?: string;
  /** The VRF an event was observed in (the same address may be in several). */
  vrfId?: number;
}

function fromEvent(e: LanscapeEvent): ActivityItem {
  return {
    key: `event-${e.id}`,
    at: e.at,
    kind: e.kind,
    text: e.message,
    address: e.address ?? undefined,
    subnetId: e.subnet_id ?? undefined,
    vrfId: e.vrf_id,
  };
}

function field(value: unknown, key: string): unknown {
  return value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

function changedFields(before: unknown, after: unknown): string[] {
  if (!before || !after || typeof before !== 'object' || typeof after !== 'object') {
    return [];
  }
  const skip = new Set(['updated_at', 'utilization', 'observed', 'children', 'depth']);
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => !skip.has(k) && JSON.stringify(field(before, k)) !== JSON.stringify(field(after, k)));
}

export function fromAudit(a: AuditEntry): ActivityItem {
  const state = a.after ?? a.before;
  const verb = { create: 'created', update: 'updated', delete: 'deleted' }[a.action];
  const changed = a.action === 'update' ? changedFields(a.before, a.after) : [];
  const who = a.grafana_user ? `${a.grafana_user} (${a.actor})` : a.actor;
  const item: ActivityItem = {
    key: `audit-${a.id}`,
    at: a.at,
    kind: `audit_${a.action}`,
    text: `${verb} ${a.object_type} ${a.object_repr}${changed.length ? `: ${changed.join(', ')}` : ''}`,
    actor: who,
  };
  const live = a.action !== 'delete';
  if (a.object_type === 'subnet') {
    item.subnetId = live && a.object_id !== null ? a.object_id : undefined;
    item.subnetLabel = String(field(state, 'cidr') ?? a.object_repr);
  } else if (a.object_type === 'address') {
    const subnetId = field(state, 'subnet_id');
    item.subnetId = live && typeof subnetId === 'number' ? subnetId : undefined;
    item.address = String(field(state, 'address') ?? a.object_repr);
    item.addressId = live && a.object_id !== null ? a.object_id : undefined;
  } else {
    const subnetId = field(state, 'subnet_id');
    item.subnetId = typeof subnetId === 'number' ? subnetId : undefined;
  }
  return item;
}

/** Events and audit entries in one list, newest first. */
export function mergeActivity(events: LanscapeEvent[], audit: AuditEntry[]): ActivityItem[] {
  return [...events.map(fromEvent), ...audit.map(fromAudit)].sort((x, y) => Date.parse(y.at) - Date.parse(x.at));
}

function Activity() {
  const styles = useStyles2(getStyles);
  const [params, setParams] = useSearchParams();
  const kind = params.get('kind') ?? '';
  const q = params.get('q') ?? '';
  const [limit, setLimit] = useState(PAGE);
  const eventKind = EVENT_KINDS.find((k) => k === kind);
  const isEventKind = eventKind !== undefined;
  const wantEvents = kind !== 'changes';
  const wantAudit = !isEventKind;
  const ipQuery = isIp(q.trim()) ? q.trim() : undefined;

  const events = useApi(
    () => (wantEvents ? api.events({ limit, kind: eventKind, address: ipQuery }) : Promise.resolve(undefined)),
    [wantEvents, limit, kind, ipQuery]
  );
  const audit = useApi(() => (wantAudit ? api.audit({ limit }) : Promise.resolve(undefined)), [wantAudit, limit]);

  const items = useMemo(() => {
    const all = mergeActivity(events.data?.results ?? [], audit.data?.results ?? []);
    const text = q.trim().toLowerCase();
    return text ? all.filter((i) => `${i.address ?? ''} ${i.text} ${i.actor ?? ''}`.toLowerCase().includes(text)) : all;
  }, [events.data, audit.data, q]);
  // Named only where it tells something: an event outside the global VRF.
  const vrfs = useVrfs(items.some((i) => i.vrfId !== undefined && i.vrfId !== GLOBAL_VRF.id));

  const setParam = (key: string, value: string | undefined) => {
    const next = new URLSearchParams(params);
    if (value) {
      next.set(key, value);
    } else {
      next.delete(key);
    }
    setParams(next, { replace: true });
  };

  const more =
    limit < MAX_LIMIT &&
    ((events.data && events.data.count > events.data.results.length) ||
      (audit.data && audit.data.count > audit.data.results.length));
  const loading = (events.loading && !events.data && wantEvents) || (audit.loading && !audit.data && wantAudit);
  return (
    <PluginPage>
      <div className={styles.page} data-testid={testIds.activity.container}>
        <Stack gap={1} wrap="wrap" alignItems="center">
          <Combobox<string>
            isClearable
            width={32}
            placeholder="All kinds"
            options={KIND_OPTIONS}
            value={kind || null}
            onChange={(o) => setParam('kind', o?.value)}
          />
          <div className={styles.search}>
            <FilterInput value={q} onChange={(v) => setParam('q', v)} placeholder="Address or text" />
          </div>
          <Button
            icon="sync"
            variant="secondary"
            onClick={() => {
              events.reload();
              audit.reload();
            }}
          >
            Refresh
          </Button>
        </Stack>
        {events.error && <ErrorAlert error={events.error} title="Cannot load events" onRetry={events.reload} />}
        {audit.error && <ErrorAlert error={audit.error} title="Cannot load the audit log" onRetry={audit.reload} />}
        {loading && <LoadingPlaceholder text="Loading activity…" />}
        {!loading && items.length === 0 && !events.error && !audit.error && (
          <EmptyState variant="not-found" message={q || kind ? 'Nothing matches these filters' : 'No activity yet'} />
        )}
        {items.length > 0 && (
          <ol className={styles.list} aria-label="Activity">
            {items.map((item) => (
              <li key={item.key} className={styles.item} data-testid={testIds.activity.item(item.key)}>
                <span className={styles.icon}>
                  <EventIcon kind={item.kind} />
                </span>
                <span className={styles.main}>
                  {item.address &&
                    (item.subnetId !== undefined ? (
                      <TextLink
                        href={subnetUrl(
                          item.subnetId,
                          item.addressId ? { address: item.addressId } : { q: item.address }
                        )}
                        inline
                      >
                        {item.address}
                      </TextLink>
                    ) : (
                      <strong>{item.address}</strong>
                    ))}
                  {item.address && ' '}
                  {item.vrfId !== undefined && item.vrfId !== GLOBAL_VRF.id && (
                    <>
                      <VrfChip vrfId={item.vrfId} vrfs={vrfs} />{' '}
                    </>
                  )}
                  <span>{item.text}</span>
                  {!item.address && item.subnetId !== undefined && (
                    <>
                      {' · '}
                      <TextLink href={subnetUrl(item.subnetId)} inline>
                        {item.subnetLabel ?? 'subnet'}
                      </TextLink>
                    </>
                  )}
                  {item.actor && <span className={styles.secondary}> · by {item.actor}</span>}
                </span>
                <time className={styles.secondary} dateTime={item.at} title={formatDateTime(item.at)}>
                  {timeAgo(item.at)}
                </time>
              </li>
            ))}
          </ol>
        )}
        {more && (
          <div>
            <Button
              variant="secondary"
              onClick={() => setLimit((l) => Math.min(l + PAGE, MAX_LIMIT))}
              disabled={events.loading || audit.loading}
            >
              Load older
            </Button>
          </div>
        )}
      </div>
    </PluginPage>
  );
}

export default Activity;

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(2),
  }),
  search: css({
    flex: '1 1 280px',
    maxWidth: 420,
  }),
  list: css({
    listStyle: 'none',
    margin: 0,
    padding: 0,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
  }),
  item: css({
    display: 'grid',
    gridTemplateColumns: 'auto 1fr auto',
    gap: theme.spacing(1.5),
    alignItems: 'center',
    padding: theme.spacing(1, 1.5),
    borderBottom: `1px solid ${theme.colors.border.weak}`,
    '&:last-child': {
      borderBottom: 'none',
    },
  }),
  icon: css({
    display: 'flex',
    width: 24,
    justifyContent: 'center',
  }),
  main: css({
    minWidth: 0,
    overflowWrap: 'anywhere',
  }),
  secondary: css({
    color: theme.colors.text.secondary,
    whiteSpace: 'nowrap',
  }),
});
