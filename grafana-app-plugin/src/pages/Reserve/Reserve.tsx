// Reserve addresses: the next free one (previewed first), a specific one, or N at once, in a
// subnet or one of its ranges. The choice of subnet, range and mode lives in the URL.
import React, { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import {
  Alert,
  Button,
  Combobox,
  type ComboboxOption,
  Field,
  Input,
  LoadingPlaceholder,
  RadioButtonGroup,
  Stack,
  Text,
  TextLink,
  useStyles2,
} from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../api/client';
import { useApi } from '../../api/hooks';
import { LIMITS, QUERY_LIMITS } from '../../api/limits.gen';
import { allSubnets } from '../../api/loaders';
import type { Address, AddressFields } from '../../api/types';
import { ErrorAlert } from '../../components/ErrorAlert';
import { UtilizationBar } from '../../components/UtilizationBar';
import { VrfChip, useVrfs, vrfName } from '../../components/VrfChip';
import { testIds } from '../../components/testIds';
import { formatCount } from '../../utils/format';
import { ipInCidr, isIp } from '../../utils/ip';
import { subnetUrl } from '../../utils/utils.routing';
import { vrfOf } from '../../utils/vrf';
import { GLOBAL_VRF } from '../../constants';

export type ReserveMode = 'next' | 'specific' | 'many';
const MODES: Array<{ label: string; value: ReserveMode; description: string }> = [
  { label: 'Next free', value: 'next', description: 'The lowest free address' },
  { label: 'Specific address', value: 'specific', description: 'An address you choose' },
  { label: 'Several at once', value: 'many', description: 'The next N free addresses, all or none' },
];
/** The exporter reserves at most this many at once… */
const MAX_COUNT = LIMITS.AllocateRequest.count.maximum;
/** …and previews at most this many. */
const MAX_PREVIEW = QUERY_LIMITS['GET /subnets/{id}/available-ips'].limit.maximum;

/** 409 and 422 in words, with the exporter's message kept. */
export function reserveErrorText(e: ApiError): string {
  switch (e.status) {
    case 409:
      return `${explain(e)}. The address is already recorded, or there are not enough free addresses here: pick another address, a smaller count or another range.`;
    case 422:
      return `The exporter refused this by an IPAM rule: ${e.message}.`;
    case 400:
      return `Check the input: ${e.message}.`;
    case 404:
      return `Not found: ${e.message}. The subnet or range may have been deleted; reload the page.`;
    default:
      return explain(e);
  }
}

function Reserve() {
  const styles = useStyles2(getStyles);
  const [params, setParams] = useSearchParams();
  const subnetId = Number(params.get('subnet')) || undefined;
  const rangeId = Number(params.get('range')) || undefined;
  const modeParam = params.get('mode');
  const mode: ReserveMode = modeParam === 'specific' || modeParam === 'many' ? modeParam : 'next';

  const subnets = useApi(allSubnets, []);
  const ranges = useApi(() => (subnetId ? api.ranges(subnetId) : Promise.resolve(undefined)), [subnetId]);
  const subnet = subnets.data?.find((s) => s.id === subnetId);
  // VRFs (#15): subnets are labelled with theirs once they span several (the same CIDR may be in
  // two), and the chosen one's is shown; names are read only when a VRF other than global is in play.
  const vrfIds = useMemo(() => new Set((subnets.data ?? []).map((s) => s.vrf_id ?? GLOBAL_VRF.id)), [subnets.data]);
  const manyVrfs = vrfIds.size > 1;
  const vrfs = useVrfs(manyVrfs || (subnet !== undefined && subnet.vrf_id !== GLOBAL_VRF.id));
  const range = ranges.data?.results.find((r) => r.id === rangeId);
  const scope = rangeId ? { rangeId } : subnetId ? { subnetId } : undefined;

  const [address, setAddress] = useState(params.get('address') ?? '');
  const [countText, setCountText] = useState('4');
  const [hostname, setHostname] = useState('');
  const [owner, setOwner] = useState('');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [results, setResults] = useState<Address[]>([]);

  const count = /^\d+$/.test(countText.trim()) ? Number(countText) : NaN;
  const countValid = Number.isInteger(count) && count >= 1 && count <= MAX_COUNT;
  const previewSize = mode === 'many' ? (countValid ? Math.min(count, MAX_PREVIEW) : 0) : 1;
  const preview = useApi(
    () =>
      scope && mode !== 'specific' && previewSize > 0
        ? api.availableIps(scope, previewSize)
        : Promise.resolve(undefined),
    [subnetId, rangeId, mode, previewSize]
  );

  const update = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(params);
    Object.entries(changes).forEach(([k, v]) => (v ? next.set(k, v) : next.delete(k)));
    setParams(next, { replace: true });
    setError(undefined);
  };

  const subnetOptions: Array<ComboboxOption<string>> = useMemo(
    () =>
      (subnets.data ?? []).map((s) => {
        const cidr = manyVrfs ? `${s.cidr} (${vrfName(s.vrf_id ?? GLOBAL_VRF.id, vrfs)})` : s.cidr;
        return {
          value: String(s.id),
          label: s.name ? `${cidr} · ${s.name}` : cidr,
          description: s.description || undefined,
        };
      }),
    [subnets.data, manyVrfs, vrfs]
  );
  const rangeOptions: Array<ComboboxOption<string>> = useMemo(
    () =>
      (ranges.data?.results ?? []).map((r) => ({
        value: String(r.id),
        label: `${r.label} (${r.start_address} – ${r.end_address})`,
        description: `${r.purpose}${r.auto_allocate ? ', auto-allocate' : ''} · ${formatCount(r.utilization.free)} free`,
      })),
    [ranges.data]
  );

  const fields: AddressFields = {
    hostname: hostname.trim() || undefined,
    owner: owner.trim() || undefined,
    description: description.trim() || undefined,
  };
  const specificProblem =
    mode !== 'specific'
      ? undefined
      : !address.trim()
        ? 'Type the address to reserve'
        : !isIp(address)
          ? `${address} is not an IPv4 or IPv6 address`
          : subnet && !ipInCidr(address.trim(), subnet.cidr)
            ? `${address} is outside ${subnet.cidr}`
            : undefined;
  const previewList = preview.data?.results.map((r) => r.address) ?? [];
  const canConfirm =
    !busy &&
    (mode === 'specific'
      ? !specificProblem
      : scope !== undefined &&
        (mode === 'next' ? previewList.length > 0 : countValid && previewList.length >= previewSize));

  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      let created: Address[];
      if (mode === 'specific') {
        // The address is looked up in the chosen subnet's VRF (#15); without a choice, the global one.
        created = [await api.createAddress(address.trim(), { ...fields, ...vrfOf(subnet?.vrf_id) })];
      } else {
        created = await api.allocate(scope!, mode === 'next' ? 1 : count, fields);
      }
      setResults((r) => [...created, ...r]);
      if (mode === 'specific') {
        setAddress('');
      }
      preview.reload();
      subnets.reload();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const confirmText =
    mode === 'specific'
      ? `Reserve ${address.trim() || 'address'}`
      : mode === 'next'
        ? previewList[0]
          ? `Reserve ${previewList[0]}`
          : 'Reserve next free'
        : `Reserve ${countValid ? count : 'N'} addresses`;

  return (
    <PluginPage>
      <div className={styles.page} data-testid={testIds.reserve.container}>
        {subnets.error && <ErrorAlert error={subnets.error} title="Cannot load subnets" onRetry={subnets.reload} />}
        {subnets.loading && !subnets.data && <LoadingPlaceholder text="Loading subnets…" />}
        {subnets.data && subnets.data.length === 0 && (
          <Alert severity="info" title="No subnets yet">
            Add a subnet on the Overview page first.
          </Alert>
        )}
        {subnets.data && subnets.data.length > 0 && (
          <div className={styles.form}>
            <Field label="Subnet" description="Where the address comes from">
              <Combobox<string>
                id="reserve-subnet"
                placeholder="Choose a subnet"
                options={subnetOptions}
                value={subnetId ? String(subnetId) : null}
                onChange={(o) => update({ subnet: o.value, range: undefined })}
              />
            </Field>
            {subnet && (
              <div className={styles.util}>
                <div className={styles.vrf}>
                  <VrfChip vrfId={subnet.vrf_id ?? GLOBAL_VRF.id} vrfs={vrfs} />
                </div>
                <UtilizationBar
                  used={subnet.utilization.used}
                  size={subnet.utilization.size}
                  ratio={subnet.utilization.ratio}
                />
              </div>
            )}
            {subnetId && rangeOptions.length > 0 && mode !== 'specific' && (
              <Field label="Range" description="Optional: take addresses from one labelled range only">
                <Combobox<string>
                  id="reserve-range"
                  isClearable
                  placeholder="Anywhere in the subnet"
                  options={rangeOptions}
                  value={rangeId ? String(rangeId) : null}
                  onChange={(o) => update({ range: o?.value })}
                />
              </Field>
            )}
            {ranges.error && <ErrorAlert error={ranges.error} title="Cannot load the ranges of this subnet" />}

            <Field label="What to reserve">
              <RadioButtonGroup<ReserveMode>
                options={MODES}
                value={mode}
                onChange={(m) => update({ mode: m === 'next' ? undefined : m })}
              />
            </Field>

            {mode === 'specific' && (
              <Field
                label="Address"
                invalid={!!address.trim() && !!specificProblem}
                error={address.trim() ? specificProblem : undefined}
              >
                <Input
                  id="reserve-address"
                  value={address}
                  width={40}
                  placeholder={subnet ? subnet.cidr.split('/')[0] : '10.0.0.10'}
                  onChange={(e) => {
                    setAddress(e.currentTarget.value);
                    setError(undefined);
                  }}
                  data-testid={testIds.reserve.address}
                />
              </Field>
            )}
            {mode === 'many' && (
              <Field
                label="How many"
                invalid={!countValid}
                error={countValid ? undefined : `A number from 1 to ${MAX_COUNT}`}
                description="Reserved together: all of them or none"
              >
                <Input
                  id="reserve-count"
                  value={countText}
                  width={12}
                  inputMode="numeric"
                  onChange={(e) => setCountText(e.currentTarget.value)}
                  data-testid={testIds.reserve.count}
                />
              </Field>
            )}

            {mode !== 'specific' && scope && (
              <div className={styles.preview} data-testid={testIds.reserve.preview} aria-live="polite">
                {preview.loading && !preview.data && <LoadingPlaceholder text="Looking for free addresses…" />}
                {preview.error && <ErrorAlert error={preview.error} title="Cannot preview free addresses" />}
                {preview.data && previewList.length === 0 && (
                  <Alert severity="warning" title="Nothing free">
                    {range ? `The range ${range.label}` : subnet ? subnet.cidr : 'This subnet'} has no free address.
                  </Alert>
                )}
                {preview.data && previewList.length > 0 && mode === 'next' && (
                  <Text>
                    Next free: <strong className={styles.mono}>{previewList[0]}</strong>
                  </Text>
                )}
                {preview.data && previewList.length > 0 && mode === 'many' && (
                  <Stack direction="column" gap={1}>
                    <Text>
                      {previewList.length < previewSize
                        ? `Only ${previewList.length} free:`
                        : count > MAX_PREVIEW
                          ? `The first ${previewList.length} of the ${count}:`
                          : `The next ${previewList.length}:`}
                    </Text>
                    <span className={styles.mono}>
                      {previewList.slice(0, 32).join(', ')}
                      {previewList.length > 32 ? ` … ${previewList[previewList.length - 1]}` : ''}
                    </span>
                  </Stack>
                )}
              </div>
            )}

            <Stack gap={2} wrap="wrap">
              <Field label="Hostname" description={mode === 'many' ? 'Given to every address reserved' : undefined}>
                <Input
                  id="reserve-hostname"
                  value={hostname}
                  width={30}
                  placeholder="web-1"
                  onChange={(e) => setHostname(e.currentTarget.value)}
                  data-testid={testIds.reserve.hostname}
                />
              </Field>
              <Field label="Owner">
                <Input
                  id="reserve-owner"
                  value={owner}
                  width={24}
                  placeholder="team or person"
                  onChange={(e) => setOwner(e.currentTarget.value)}
                  data-testid={testIds.reserve.owner}
                />
              </Field>
            </Stack>
            <Field label="Description">
              <Input
                id="reserve-description"
                value={description}
                onChange={(e) => setDescription(e.currentTarget.value)}
                data-testid={testIds.reserve.description}
              />
            </Field>

            {error && (
              <Alert severity="error" title="Nothing was reserved" data-testid={testIds.reserve.error}>
                {reserveErrorText(error)}
              </Alert>
            )}
            <div>
              <Button
                icon={busy ? 'spinner' : 'lock'}
                disabled={!canConfirm}
                onClick={confirm}
                data-testid={testIds.reserve.confirm}
              >
                {confirmText}
              </Button>
            </div>
          </div>
        )}

        {results.length > 0 && (
          <section className={styles.results} data-testid={testIds.reserve.results}>
            <Text element="h3" variant="h4">
              Reserved
            </Text>
            <ul>
              {results.map((a) => (
                <li key={a.id}>
                  {a.subnet_id !== null ? (
                    <TextLink href={subnetUrl(a.subnet_id, { address: a.id })} inline>
                      {a.address}
                    </TextLink>
                  ) : (
                    <strong>{a.address}</strong>
                  )}
                  {a.hostname && <span> · {a.hostname}</span>}
                  {a.owner && <span className={styles.secondary}> · {a.owner}</span>}
                  <span className={styles.secondary}> · {a.state}</span>
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
    </PluginPage>
  );
}

export default Reserve;

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(3),
    maxWidth: 800,
  }),
  form: css({
    display: 'flex',
    flexDirection: 'column',
  }),
  util: css({
    marginBottom: theme.spacing(2),
    maxWidth: 480,
  }),
  vrf: css({
    marginBottom: theme.spacing(1),
  }),
  preview: css({
    padding: theme.spacing(1.5, 2),
    marginBottom: theme.spacing(2),
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
  }),
  mono: css({
    fontFamily: theme.typography.fontFamilyMonospace,
  }),
  secondary: css({
    color: theme.colors.text.secondary,
  }),
  results: css({
    ul: {
      margin: 0,
      paddingLeft: theme.spacing(2.5),
    },
  }),
});
