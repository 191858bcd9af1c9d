// Details of one address in a drawer: inline edit of the IPAM fields, what discovery saw,
// status history with uptime, open ports, events, release and take-over.
import React, { useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import {
  Alert,
  Button,
  ConfirmModal,
  Drawer,
  Field,
  Icon,
  Input,
  LinkButton,
  LoadingPlaceholder,
  Stack,
  TagsInput,
  Text,
  TextArea,
  useStyles2,
} from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import { useApi } from '../../../api/hooks';
import type { Address, AddressFields } from '../../../api/types';
import { formatDateTime, formatPercent, formatRtt, timeAgo } from '../../../utils/format';
import { dashboardUrl } from '../../../utils/utils.routing';
import { ErrorAlert } from '../../../components/ErrorAlert';
import { EventIcon } from '../../../components/EventIcon';
import { PortChips } from './PortChips';
import { StatusPill } from './StatusPill';
import { StatusSparkline } from './StatusSparkline';
import { testIds } from '../../../components/testIds';

interface Props {
  addressId: number;
  onClose: () => void;
  /** After an edit, take-over or release, so the table can reload. */
  onChanged?: () => void;
  canWrite?: boolean;
}

export function AddressDrawer({ addressId, onClose, onChanged, canWrite = true }: Props) {
  const styles = useStyles2(getStyles);
  const address = useApi(() => api.address(addressId), [addressId]);
  const history = useApi(() => api.history(addressId, 24 * 7), [addressId]);
  const ip = address.data?.address;
  const events = useApi(() => (ip ? api.events({ address: ip, limit: 20 }) : Promise.resolve(undefined)), [ip]);
  const [editing, setEditing] = useState(false);
  const [actionError, setActionError] = useState<ApiError>();
  const [confirmRelease, setConfirmRelease] = useState(false);
  const [busy, setBusy] = useState(false);

  const a = address.data;
  const run = async (action: () => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    setActionError(undefined);
    try {
      await action();
      after?.();
      onChanged?.();
    } catch (e) {
      setActionError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const title = a?.address ?? 'Address';
  return (
    <Drawer title={title} subtitle={a ? <Subtitle address={a} /> : undefined} onClose={onClose} size="md">
      <div data-testid={testIds.drawer.container} className={styles.body}>
        {address.loading && !a && <LoadingPlaceholder text="Loading address…" />}
        {address.error && (
          <ErrorAlert error={address.error} title="Cannot load this address" onRetry={address.reload} />
        )}
        {actionError && (
          <Alert severity="error" title="The change was not made" onRemove={() => setActionError(undefined)}>
            {explain(actionError)}
          </Alert>
        )}
        {a && (
          <Stack direction="column" gap={3}>
            <Stack gap={1} wrap="wrap">
              {canWrite && !editing && (
                <Button
                  icon="pen"
                  variant="secondary"
                  size="sm"
                  onClick={() => setEditing(true)}
                  data-testid={testIds.drawer.edit}
                >
                  Edit
                </Button>
              )}
              {canWrite && a.source === 'discovered' && (
                <Button
                  icon="user"
                  variant="secondary"
                  size="sm"
                  disabled={busy}
                  data-testid={testIds.drawer.takeOver}
                  tooltip="Record this discovered device as managed by a person (source: manual)"
                  onClick={() => run(() => api.updateAddress(a.id, { source: 'manual' }), address.reload)}
                >
                  Take over
                </Button>
              )}
              {canWrite && (
                <Button
                  icon="trash-alt"
                  variant="destructive"
                  fill="outline"
                  size="sm"
                  disabled={busy}
                  data-testid={testIds.drawer.release}
                  onClick={() => setConfirmRelease(true)}
                >
                  Release
                </Button>
              )}
              <LinkButton
                icon="apps"
                variant="secondary"
                fill="outline"
                size="sm"
                href={dashboardUrl('host', { address: a.address })}
                data-testid={testIds.drawer.hostDashboard}
                tooltip="Status, latency and uptime of this address over time"
              >
                Host dashboard
              </LinkButton>
            </Stack>

            {editing ? (
              <EditForm
                key={a.updated_at}
                address={a}
                busy={busy}
                onCancel={() => setEditing(false)}
                onSave={(patch) =>
                  run(
                    () => api.updateAddress(a.id, patch),
                    () => {
                      setEditing(false);
                      address.reload();
                    }
                  )
                }
              />
            ) : (
              <Details address={a} />
            )}

            <section>
              <Text element="h4">Status</Text>
              {history.loading && !history.data && <LoadingPlaceholder text="Loading history…" />}
              {history.error && <ErrorAlert error={history.error} title="Cannot load the status history" />}
              {history.data && (
                <Stack direction="column" gap={1}>
                  <StatusSparkline history={history.data} />
                  <Stack gap={3}>
                    <Uptime label="Uptime 24 h" value={history.data.uptime['24h']} />
                    <Uptime label="Uptime 7 d" value={history.data.uptime['7d']} />
                    <Uptime label="Latency" text={formatRtt(a.observed?.rtt_seconds)} />
                  </Stack>
                </Stack>
              )}
            </section>

            <section>
              <Text element="h4">Open ports</Text>
              {a.observed?.ports.length ? (
                <ul className={styles.ports}>
                  {[...a.observed.ports]
                    .sort((x, y) => x.port - y.port)
                    .map((p) => (
                      <li key={p.port}>
                        <PortChips ports={[p]} />
                        <span className={styles.secondary}>{[p.product, p.version].filter(Boolean).join(' ')}</span>
                      </li>
                    ))}
                </ul>
              ) : (
                <Text color="secondary">{a.observed ? 'No open ports found.' : 'Not scanned yet.'}</Text>
              )}
            </section>

            <section>
              <Text element="h4">Events</Text>
              {events.error && <ErrorAlert error={events.error} title="Cannot load events" />}
              {events.data && events.data.results.length === 0 && (
                <Text color="secondary">No events for this address.</Text>
              )}
              {events.data && events.data.results.length > 0 && (
                <ul className={styles.events}>
                  {events.data.results.map((e) => (
                    <li key={e.id} className={styles.event}>
                      <EventIcon kind={e.kind} />
                      <span>{e.message}</span>
                      <span className={styles.secondary} title={formatDateTime(e.at)}>
                        {timeAgo(e.at)}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </Stack>
        )}
      </div>
      {a && (
        <ConfirmModal
          isOpen={confirmRelease}
          title={`Release ${a.address}?`}
          body={`The IPAM record of ${a.address}${a.hostname ? ` (${a.hostname})` : ''} is deleted and the address becomes free. Discovery may record it again if it keeps answering.`}
          confirmText="Release"
          onConfirm={async () => {
            setConfirmRelease(false);
            await run(() => api.releaseAddress(a.id), onClose);
          }}
          onDismiss={() => setConfirmRelease(false)}
        />
      )}
    </Drawer>
  );
}

function Subtitle({ address: a }: { address: Address }) {
  return (
    <Stack gap={1} alignItems="center">
      <StatusPill observed={a.observed} />
      {a.hostname && <Text>{a.hostname}</Text>}
      <Text color="secondary">
        {a.state} · {a.source}
      </Text>
    </Stack>
  );
}

function Uptime({ label, value, text }: { label: string; value?: number | null; text?: string }) {
  const styles = useStyles2(getStyles);
  return (
    <div className={styles.stat}>
      <span className={styles.secondary}>{label}</span>
      <span className={styles.statValue}>{text ?? formatPercent(value, 2)}</span>
    </div>
  );
}

function Details({ address: a }: { address: Address }) {
  const styles = useStyles2(getStyles);
  const o = a.observed;
  const rows: Array<[string, React.ReactNode]> = [
    ['Hostname', a.hostname ?? '–'],
    ['Owner', a.owner ?? '–'],
    ['Description', a.description || '–'],
    ['Tags', a.tags.length ? a.tags.join(', ') : '–'],
    ['MAC (recorded)', a.mac ?? '–'],
    [
      'MAC (seen)',
      o?.mac ? (
        <span>
          {o.mac}
          {a.mac && a.mac.toLowerCase() !== o.mac.toLowerCase() && (
            <Icon name="exclamation-triangle" className={styles.warning} title="differs from the recorded MAC" />
          )}
        </span>
      ) : (
        '–'
      ),
    ],
    ['Vendor', o?.vendor ?? '–'],
    ['Reverse DNS', o?.ptr ?? '–'],
    ['First seen', o?.first_seen_at ? formatDateTime(o.first_seen_at) : '–'],
    ['Last seen', o?.last_seen_at ? `${timeAgo(o.last_seen_at)} (${formatDateTime(o.last_seen_at)})` : '–'],
    ['Last checked', o?.last_checked_at ? timeAgo(o.last_checked_at) : '–'],
    ['Created', formatDateTime(a.created_at)],
  ];
  return (
    <dl className={styles.details}>
      {rows.map(([k, v]) => (
        <React.Fragment key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </React.Fragment>
      ))}
    </dl>
  );
}

function EditForm({
  address: a,
  busy,
  onSave,
  onCancel,
}: {
  address: Address;
  busy: boolean;
  onSave: (patch: AddressFields) => void;
  onCancel: () => void;
}) {
  const [hostname, setHostname] = useState(a.hostname ?? '');
  const [owner, setOwner] = useState(a.owner ?? '');
  const [description, setDescription] = useState(a.description);
  const [tags, setTags] = useState<string[]>(a.tags);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const patch: AddressFields = {};
    if ((hostname.trim() || null) !== a.hostname) {
      patch.hostname = hostname.trim() || null;
    }
    if ((owner.trim() || null) !== a.owner) {
      patch.owner = owner.trim() || null;
    }
    if (description !== a.description) {
      patch.description = description;
    }
    if (tags.join('\u0000') !== a.tags.join('\u0000')) {
      patch.tags = tags;
    }
    if (Object.keys(patch).length === 0) {
      onCancel();
      return;
    }
    onSave(patch);
  };

  return (
    <form onSubmit={submit} aria-label="Edit address">
      <Field label="Hostname">
        <Input value={hostname} onChange={(e) => setHostname(e.currentTarget.value)} placeholder="web-1.example.net" />
      </Field>
      <Field label="Owner">
        <Input value={owner} onChange={(e) => setOwner(e.currentTarget.value)} placeholder="team or person" />
      </Field>
      <Field label="Description">
        <TextArea value={description} rows={3} onChange={(e) => setDescription(e.currentTarget.value)} />
      </Field>
      <Field label="Tags">
        <TagsInput tags={tags} onChange={setTags} addOnBlur />
      </Field>
      <Stack gap={1}>
        <Button type="submit" disabled={busy} data-testid={testIds.drawer.save}>
          Save
        </Button>
        <Button variant="secondary" fill="outline" onClick={onCancel} disabled={busy}>
          Cancel
        </Button>
      </Stack>
    </form>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  body: css({
    paddingBottom: theme.spacing(2),
  }),
  details: css({
    display: 'grid',
    gridTemplateColumns: 'max-content 1fr',
    columnGap: theme.spacing(2),
    rowGap: theme.spacing(0.5),
    margin: 0,
    dt: {
      color: theme.colors.text.secondary,
    },
    dd: {
      margin: 0,
      overflowWrap: 'anywhere',
    },
  }),
  secondary: css({
    color: theme.colors.text.secondary,
  }),
  warning: css({
    color: theme.colors.warning.text,
    marginLeft: theme.spacing(0.5),
  }),
  stat: css({
    display: 'flex',
    flexDirection: 'column',
  }),
  statValue: css({
    fontSize: theme.typography.h4.fontSize,
    fontVariantNumeric: 'tabular-nums',
  }),
  ports: css({
    listStyle: 'none',
    margin: 0,
    padding: 0,
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(0.5),
    li: {
      display: 'flex',
      gap: theme.spacing(1),
      alignItems: 'center',
    },
  }),
  events: css({
    listStyle: 'none',
    margin: 0,
    padding: 0,
  }),
  event: css({
    display: 'grid',
    gridTemplateColumns: 'auto 1fr auto',
    gap: theme.spacing(1),
    alignItems: 'center',
    padding: theme.spacing(0.5, 0),
    borderBottom: `1px solid ${theme.colors.border.weak}`,
  }),
});
