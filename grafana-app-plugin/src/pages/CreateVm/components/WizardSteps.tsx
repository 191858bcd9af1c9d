// The fields of the Create VM wizard's steps: node, template or resources, network, cloud-init.
// Each step gets the whole form, the errors to show, and the lists it offers (loaded by the page).
import React, { useMemo } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import {
  Alert,
  Card,
  Combobox,
  type ComboboxOption,
  Field,
  LoadingPlaceholder,
  RadioButtonGroup,
  Stack,
  Switch,
  Text,
  TextArea,
  useStyles2,
} from '@grafana/ui';
import type { ApiError } from '../../../api/client';
import type { AsyncState } from '../../../api/hooks';
import type { Paged, ProxmoxBridge, ProxmoxNode, ProxmoxStorage, ProxmoxTemplate, Subnet } from '../../../api/types';
import { formatPercent } from '../../../utils/format';
import {
  type AddressMode,
  VM_LIMITS,
  type VmForm,
  type VmFormErrors,
  type VmSource,
  formatBytes,
} from '../../../utils/vm';
import { ErrorAlert } from '../../../components/ErrorAlert';
import { FieldRow, InputField } from '../../../components/FormFields';
import { UpDownPill } from '../../../components/StatePills';
import { testIds } from '../../../components/testIds';

interface StepProps {
  form: VmForm;
  errors: VmFormErrors;
  onChange: (patch: Partial<VmForm>) => void;
}

const id = (name: string) => `vm-${name}`;
const tid = (name: string) => testIds.vm.field(name);

// ---------------------------------------------------------------- 1. node and name

export function NodeStep({ form, errors, onChange, nodes }: StepProps & { nodes: ProxmoxNode[] }) {
  const styles = useStyles2(getStyles);
  return (
    <Stack direction="column" gap={2}>
      <InputField
        label="Name"
        description="The VM's name and host name: a DNS label (lower-case letters, digits and -)"
        error={errors.name}
        id={id('name')}
        data-testid={tid('name')}
        width={40}
        placeholder="web-1"
        autoComplete="off"
        spellCheck={false}
        value={form.name}
        onChange={(name) => onChange({ name })}
      />
      <Field label="Node" description="Where the VM is created" invalid={!!errors.node} error={errors.node}>
        <Wrap className={styles.cards} role="radiogroup" aria-label="Node">
          {nodes.map((n) => (
            <Card
              key={n.node}
              isSelected={form.node === n.node}
              disabled={!n.online}
              onClick={() => onChange({ node: n.node, template: '', cloneStorage: '', storage: '', bridge: '' })}
              data-testid={testIds.vm.node(n.node)}
              noMargin
            >
              <Card.Heading>{n.node}</Card.Heading>
              <Card.Description>
                {n.cpus !== null ? `${n.cpus} CPUs` : 'CPUs unknown'}
                {n.cpu_usage_ratio !== null ? ` · ${formatPercent(n.cpu_usage_ratio, 0)} busy` : ''}
                {n.memory_total_bytes !== null
                  ? ` · ${formatBytes(n.memory_used_bytes)} of ${formatBytes(n.memory_total_bytes)} memory used`
                  : ''}
                {` · ${n.guests} guest${n.guests === 1 ? '' : 's'}`}
              </Card.Description>
              <Card.Meta>
                <UpDownPill up={n.online} upText="online" downText="offline" />
              </Card.Meta>
            </Card>
          ))}
        </Wrap>
      </Field>
    </Stack>
  );
}

// ---------------------------------------------------------------- 2. template or resources

const SOURCES: Array<{ label: string; value: VmSource; description: string }> = [
  { label: 'Clone a template', value: 'clone', description: 'A copy of a VM template on the node' },
  {
    label: 'Empty VM',
    value: 'resources',
    description: 'Cores, memory and a blank disk (install or boot an image later)',
  },
];
const CLONE_KINDS: Array<{ label: string; value: 'full' | 'linked'; description: string }> = [
  { label: 'Full clone', value: 'full', description: 'An independent copy of the disks' },
  { label: 'Linked clone', value: 'linked', description: 'Shares the template disks: fast and small' },
];

/** Storages as options: id, type, free space. */
function storageOptions(storages: ProxmoxStorage[]): Array<ComboboxOption<string>> {
  return storages.map((s) => ({
    value: s.storage,
    label: s.storage,
    description: `${s.type}${s.shared ? ', shared' : ''}${
      s.available_bytes !== null ? ` · ${formatBytes(s.available_bytes)} free` : ''
    }${s.active ? '' : ' · inactive'}`,
  }));
}

interface SourceProps extends StepProps {
  templates: AsyncState<Paged<ProxmoxTemplate> | undefined>;
  storages: AsyncState<Paged<ProxmoxStorage> | undefined>;
}

export function SourceStep({ form, errors, onChange, templates, storages }: SourceProps) {
  const styles = useStyles2(getStyles);
  const templateOptions: Array<ComboboxOption<string>> = useMemo(
    () =>
      (templates.data?.results ?? []).map((t) => ({
        value: String(t.vmid),
        label: `${t.name} (${t.vmid})`,
        description: [
          t.disk_total_bytes !== null ? `${formatBytes(t.disk_total_bytes)} disk` : '',
          t.memory_total_bytes !== null ? `${formatBytes(t.memory_total_bytes)} memory` : '',
          t.tags.length ? t.tags.join(', ') : '',
        ]
          .filter(Boolean)
          .join(' · '),
      })),
    [templates.data]
  );
  const storageList = useMemo(() => storageOptions(storages.data?.results ?? []), [storages.data]);
  return (
    <Stack direction="column" gap={2}>
      <Field label="Start from">
        <RadioButtonGroup<VmSource>
          id={id('source')}
          data-testid={tid('source')}
          options={SOURCES}
          value={form.source}
          onChange={(source) => onChange({ source })}
        />
      </Field>
      {form.source === 'clone' && (
        <>
          <Field
            label="Template"
            description={`The VM templates on ${form.node}`}
            invalid={!!errors.template}
            error={errors.template}
          >
            <Wrap className={styles.wide}>
              {templates.error ? (
                <ListError error={templates.error} what="templates" onRetry={templates.reload} />
              ) : templates.data && templates.data.count === 0 ? (
                <Alert severity="info" title={`No templates on ${form.node}`}>
                  Convert a prepared VM (with a cloud-init drive) to a template in Proxmox, or create an empty VM.
                </Alert>
              ) : (
                <Combobox<string>
                  id={id('template')}
                  data-testid={tid('template')}
                  placeholder={templates.loading ? 'Loading templates…' : 'Choose a template'}
                  loading={templates.loading}
                  options={templateOptions}
                  value={form.template || null}
                  invalid={!!errors.template}
                  onChange={(o) => onChange({ template: o.value })}
                />
              )}
            </Wrap>
          </Field>
          <Field label="Clone">
            <RadioButtonGroup<'full' | 'linked'>
              id={id('clone-kind')}
              data-testid={tid('clone-kind')}
              options={CLONE_KINDS}
              value={form.full ? 'full' : 'linked'}
              onChange={(kind) =>
                onChange({ full: kind === 'full', cloneStorage: kind === 'full' ? form.cloneStorage : '' })
              }
            />
          </Field>
          {form.full && (
            <Field
              label="Target storage"
              description="Where the copied disks go; empty: the template's storage"
              invalid={!!errors.cloneStorage}
              error={errors.cloneStorage}
            >
              <Wrap className={styles.wide}>
                {storages.error ? (
                  <ListError error={storages.error} what="storages" onRetry={storages.reload} />
                ) : (
                  <Combobox<string>
                    id={id('clone-storage')}
                    data-testid={tid('clone-storage')}
                    placeholder="Same as the template"
                    loading={storages.loading}
                    options={storageList}
                    value={form.cloneStorage || null}
                    isClearable
                    onChange={(o) => onChange({ cloneStorage: o?.value ?? '' })}
                  />
                )}
              </Wrap>
            </Field>
          )}
        </>
      )}
      {form.source === 'resources' && (
        <>
          <FieldRow>
            <InputField
              label="Cores"
              description={`${VM_LIMITS.coresMin} to ${VM_LIMITS.coresMax}`}
              error={errors.cores}
              id={id('cores')}
              data-testid={tid('cores')}
              width={12}
              inputMode="numeric"
              value={form.cores}
              onChange={(cores) => onChange({ cores })}
            />
            <InputField
              label="Memory (MiB)"
              description={`${VM_LIMITS.memoryMin} to ${VM_LIMITS.memoryMax.toLocaleString('en-US')}`}
              error={errors.memoryMib}
              id={id('memory')}
              data-testid={tid('memory')}
              width={16}
              inputMode="numeric"
              value={form.memoryMib}
              onChange={(memoryMib) => onChange({ memoryMib })}
            />
            <InputField
              label="Disk (GiB)"
              description={`${VM_LIMITS.diskMin} to ${VM_LIMITS.diskMax.toLocaleString('en-US')}`}
              error={errors.diskGib}
              id={id('disk')}
              data-testid={tid('disk')}
              width={12}
              inputMode="numeric"
              value={form.diskGib}
              onChange={(diskGib) => onChange({ diskGib })}
            />
          </FieldRow>
          <Field
            label="Storage"
            description="For the disk and the cloud-init drive"
            invalid={!!errors.storage}
            error={errors.storage}
          >
            <Wrap className={styles.wide}>
              {storages.error ? (
                <ListError error={storages.error} what="storages" onRetry={storages.reload} />
              ) : (
                <Combobox<string>
                  id={id('storage')}
                  data-testid={tid('storage')}
                  placeholder={storages.loading ? 'Loading storages…' : 'Choose a storage'}
                  loading={storages.loading}
                  options={storageList}
                  value={form.storage || null}
                  invalid={!!errors.storage}
                  onChange={(o) => onChange({ storage: o.value })}
                />
              )}
            </Wrap>
          </Field>
        </>
      )}
    </Stack>
  );
}

// ---------------------------------------------------------------- 3. network

const ADDRESS_MODES: Array<{ label: string; value: AddressMode; description: string }> = [
  {
    label: 'Next free address',
    value: 'next',
    description: 'The lowest free address of the subnet, reserved when you create',
  },
  { label: 'Specific address', value: 'specific', description: 'An address you choose (it must be free)' },
];

interface NetworkProps extends StepProps {
  bridges: AsyncState<Paged<ProxmoxBridge> | undefined>;
  subnets: AsyncState<Subnet[]>;
  subnet: Subnet | undefined;
  preview: AsyncState<Paged<{ address: string }> | undefined>;
}

export function NetworkStep({ form, errors, onChange, bridges, subnets, subnet, preview }: NetworkProps) {
  const styles = useStyles2(getStyles);
  const bridgeList = useMemo(() => bridges.data?.results ?? [], [bridges.data]);
  const bridgeOptions: Array<ComboboxOption<string>> = useMemo(
    () =>
      bridgeList.map((b) => ({
        value: b.bridge,
        label: b.bridge,
        description: [
          b.type,
          b.vlan_aware ? 'VLAN-aware' : '',
          b.cidr ?? '',
          b.comments?.trim() ?? '',
          b.active ? '' : 'inactive',
        ]
          .filter(Boolean)
          .join(' · '),
      })),
    [bridgeList]
  );
  const subnetOptions: Array<ComboboxOption<string>> = useMemo(
    () =>
      (subnets.data ?? []).map((s) => ({
        value: String(s.id),
        label: s.name ? `${s.cidr} · ${s.name}` : s.cidr,
        description: [
          s.vlan !== null ? `VLAN ${s.vlan}` : '',
          s.gateway ? `gateway ${s.gateway}` : 'no gateway',
          `${s.utilization.free.toLocaleString('en-US')} free`,
        ]
          .filter(Boolean)
          .join(' · '),
      })),
    [subnets.data]
  );
  const bridge = bridgeList.find((b) => b.bridge === form.bridge);
  const next = preview.data?.results[0]?.address;
  return (
    <Stack direction="column" gap={2}>
      <FieldRow>
        <Field
          label="Bridge"
          description={`The network card's bridge on ${form.node}`}
          invalid={!!errors.bridge}
          error={errors.bridge}
        >
          <Wrap className={styles.medium}>
            {bridges.error ? (
              <ListError error={bridges.error} what="bridges" onRetry={bridges.reload} />
            ) : (
              <Combobox<string>
                id={id('bridge')}
                data-testid={tid('bridge')}
                placeholder={bridges.loading ? 'Loading bridges…' : 'Choose a bridge'}
                loading={bridges.loading}
                options={bridgeOptions}
                value={form.bridge || null}
                invalid={!!errors.bridge}
                onChange={(o) => onChange({ bridge: o.value })}
              />
            )}
          </Wrap>
        </Field>
        <InputField
          label="VLAN tag"
          description={
            bridge && !bridge.vlan_aware && form.vlan.trim()
              ? `${bridge.bridge} is not VLAN-aware: the tag may not work`
              : 'Empty: untagged'
          }
          error={errors.vlan}
          id={id('vlan')}
          data-testid={tid('vlan')}
          width={12}
          inputMode="numeric"
          placeholder={subnet?.vlan !== null && subnet?.vlan !== undefined ? String(subnet.vlan) : ''}
          value={form.vlan}
          onChange={(vlan) => onChange({ vlan })}
        />
      </FieldRow>
      <Field
        label="Subnet"
        description="The VM's address comes from this subnet in IPAM"
        invalid={!!errors.subnetId}
        error={errors.subnetId}
      >
        <Wrap className={styles.wide}>
          {subnets.error ? (
            <ListError error={subnets.error} what="subnets" onRetry={subnets.reload} />
          ) : subnets.data && subnets.data.length === 0 ? (
            <Alert severity="info" title="No subnets in IPAM">
              Add the subnet the VM goes into on the Overview page first.
            </Alert>
          ) : (
            <Combobox<string>
              id={id('subnet')}
              data-testid={tid('subnet')}
              placeholder={subnets.loading ? 'Loading subnets…' : 'Choose a subnet'}
              loading={subnets.loading}
              options={subnetOptions}
              value={form.subnetId || null}
              invalid={!!errors.subnetId}
              onChange={(o) => {
                const chosen = subnets.data?.find((s) => String(s.id) === o.value);
                onChange({
                  subnetId: o.value,
                  // The gateway follows the subnet's; the VLAN tag too when none was typed.
                  gateway: chosen?.gateway ?? '',
                  ...(chosen?.vlan && !form.vlan.trim() ? { vlan: String(chosen.vlan) } : {}),
                });
              }}
            />
          )}
        </Wrap>
      </Field>
      <Field label="Address">
        <RadioButtonGroup<AddressMode>
          id={id('address-mode')}
          data-testid={tid('address-mode')}
          options={ADDRESS_MODES}
          value={form.addressMode}
          onChange={(addressMode) => onChange({ addressMode })}
        />
      </Field>
      {form.addressMode === 'next' && form.subnetId && (
        <div className={styles.preview} data-testid={testIds.vm.preview} aria-live="polite">
          {preview.error ? (
            <Text color="error">Cannot preview the next free address: {preview.error.message}</Text>
          ) : preview.loading && !preview.data ? (
            <LoadingPlaceholder text="Looking for the next free address…" />
          ) : next ? (
            <Text>
              Next free address: <span className={styles.mono}>{next}</span>
              <Text color="secondary"> (reserved when you create; another reservation meanwhile moves it on)</Text>
            </Text>
          ) : (
            <Text color="warning">{subnet?.cidr ?? 'This subnet'} has no free address.</Text>
          )}
        </div>
      )}
      {form.addressMode === 'specific' && (
        <InputField
          label="IP address"
          description={subnet ? `Inside ${subnet.cidr}` : undefined}
          error={errors.address}
          id={id('address')}
          data-testid={tid('address')}
          width={30}
          placeholder={next ?? ''}
          value={form.address}
          onChange={(address) => onChange({ address })}
        />
      )}
      <FieldRow>
        <InputField
          label="Gateway"
          description={subnet?.gateway ? `Default: the subnet's gateway ${subnet.gateway}` : 'Empty: none'}
          error={errors.gateway}
          id={id('gateway')}
          data-testid={tid('gateway')}
          width={30}
          value={form.gateway}
          onChange={(gateway) => onChange({ gateway })}
        />
        <InputField
          label="DNS servers"
          description={`Up to ${VM_LIMITS.dnsMax}, separated by commas; empty: the template's`}
          error={errors.dns}
          id={id('dns')}
          data-testid={tid('dns')}
          width={40}
          placeholder="10.0.0.53, 10.0.0.54"
          value={form.dns}
          onChange={(dns) => onChange({ dns })}
        />
      </FieldRow>
    </Stack>
  );
}

// ---------------------------------------------------------------- 4. cloud-init

export function CloudInitStep({ form, errors, onChange }: StepProps) {
  const styles = useStyles2(getStyles);
  return (
    <Stack direction="column" gap={2}>
      <InputField
        label="User"
        description="The cloud-init user; empty: the image's default user"
        error={errors.user}
        id={id('user')}
        data-testid={tid('user')}
        width={30}
        placeholder="debian"
        autoComplete="off"
        spellCheck={false}
        value={form.user}
        onChange={(user) => onChange({ user })}
      />
      <Field
        label="SSH public keys"
        description={`One OpenSSH public key a line (at most ${VM_LIMITS.sshKeysMax}); they are added for that user`}
        invalid={!!errors.sshKeys}
        error={errors.sshKeys}
      >
        <TextArea
          id={id('ssh-keys')}
          data-testid={tid('ssh-keys')}
          className={styles.keys}
          rows={4}
          spellCheck={false}
          placeholder="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… you@laptop"
          value={form.sshKeys}
          onChange={(e) => onChange({ sshKeys: e.currentTarget.value })}
        />
      </Field>
      <Field label="Start the VM" description="Boot it once it is configured">
        <Switch
          id={id('start')}
          data-testid={tid('start')}
          value={form.start}
          onChange={(e) => onChange({ start: e.currentTarget.checked })}
        />
      </Field>
    </Stack>
  );
}

function ListError({ error, what, onRetry }: { error: ApiError; what: string; onRetry: () => void }) {
  return <ErrorAlert error={error} title={`Cannot load the ${what} of the node`} onRetry={onRetry} />;
}

const getStyles = (theme: GrafanaTheme2) => ({
  cards: css({
    display: 'grid',
    gridTemplateColumns: 'repeat(auto-fill, minmax(280px, 1fr))',
    gap: theme.spacing(1),
    maxWidth: 900,
  }),
  wide: css({
    width: 480,
    maxWidth: '100%',
  }),
  medium: css({
    width: 280,
    maxWidth: '100%',
  }),
  preview: css({
    padding: theme.spacing(1, 1.5),
    borderLeft: `3px solid ${theme.colors.primary.main}`,
    background: theme.colors.background.secondary,
    borderRadius: theme.shape.radius.default,
    maxWidth: 760,
  }),
  mono: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontWeight: theme.typography.fontWeightMedium,
  }),
  keys: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    maxWidth: 760,
  }),
});

/**
 * A layout box inside a Field: Field passes `invalid` (and `disabled`, `loading`) to its child,
 * which a plain <div> would write to the DOM; this takes them and keeps only its own.
 */
function Wrap({
  className,
  children,
  role,
  'aria-label': ariaLabel,
}: {
  className?: string;
  children: React.ReactNode;
  role?: string;
  'aria-label'?: string;
  invalid?: boolean;
  disabled?: boolean;
  loading?: boolean;
}) {
  return (
    <div className={className} role={role} aria-label={ariaLabel}>
      {children}
    </div>
  );
}
