// The query editor: a query type and, per type, the subnet and filters it takes.
import React from 'react';
import type { QueryEditorProps, SelectableValue } from '@grafana/data';
import { Combobox, type ComboboxOption, InlineField, InlineFieldRow, Input, RadioButtonGroup } from '@grafana/ui';
import type { LanscapeDataSource } from './datasource';
import { type LanscapeOptions, type LanscapeQuery, QUERY_TYPES, QUERY_TYPE_LABELS, type QueryType } from './types';

type Props = QueryEditorProps<LanscapeDataSource, LanscapeQuery, LanscapeOptions>;

const TYPE_OPTIONS: Array<ComboboxOption<QueryType>> = QUERY_TYPES.map((t) => ({
  value: t,
  label: QUERY_TYPE_LABELS[t].label,
  description: QUERY_TYPE_LABELS[t].description,
}));

const opts = (values: string[]): Array<ComboboxOption<string>> => [
  { value: '', label: 'Any' },
  ...values.map((v) => ({ value: v, label: v })),
];
const STATES = opts(['reserved', 'assigned', 'dhcp', 'deprecated', 'provisioning']);
const SOURCES = opts(['manual', 'discovered', 'docker', 'proxmox']);
const STATUSES = opts(['up', 'down', 'unknown']);
const EVENT_KINDS = opts(['new_device', 'up', 'down', 'mac_changed', 'hostname_changed', 'ports_changed']);
const CONFLICT_KINDS = opts(['mac_mismatch', 'unknown_device', 'stale_reservation']);
const PLATFORMS: Array<SelectableValue<'all' | 'docker' | 'proxmox'>> = [
  { value: 'all', label: 'All' },
  { value: 'docker', label: 'Docker' },
  { value: 'proxmox', label: 'Proxmox' },
];

export function QueryEditor({ query, onChange, onRunQuery }: Props) {
  const type = query.queryType ?? 'subnets';
  const set = (patch: Partial<LanscapeQuery>, run = true) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };
  const text = (key: 'subnet' | 'vrf' | 'tag' | 'search', label: string, placeholder: string, tooltip: string) => (
    <InlineField label={label} labelWidth={12} tooltip={tooltip}>
      <Input
        width={28}
        aria-label={label}
        placeholder={placeholder}
        value={query[key] ?? ''}
        onChange={(e) => set({ [key]: e.currentTarget.value }, false)}
        onBlur={() => onRunQuery()}
      />
    </InlineField>
  );
  const select = (
    key: 'state' | 'source' | 'status' | 'eventKind' | 'conflictKind',
    label: string,
    options: Array<ComboboxOption<string>>
  ) => (
    <InlineField label={label} labelWidth={12}>
      <Combobox<string>
        width={20}
        aria-label={label}
        options={options}
        value={query[key] ?? ''}
        onChange={(v) => set({ [key]: v?.value ?? '' })}
      />
    </InlineField>
  );
  const subnetTooltip =
    'The subnet id or CIDR (10.0.0.0/24, or 10.0.0.0/24 (site-b) with its VRF), or a template variable such as $subnet';
  const vrfField = text(
    'vrf',
    'VRF',
    'global',
    'The VRF (address space) the CIDR is in, by name or a template variable such as $vrf; empty: global. The same CIDR may exist in several VRFs.'
  );
  return (
    <>
      <InlineFieldRow>
        <InlineField label="Query" labelWidth={12} tooltip={QUERY_TYPE_LABELS[type].description}>
          <Combobox<QueryType>
            width={28}
            aria-label="Query type"
            options={TYPE_OPTIONS}
            value={type}
            onChange={(v) => set({ queryType: v.value })}
          />
        </InlineField>
        {type === 'addresses' || type === 'freeRanges'
          ? text('subnet', 'Subnet', '$subnet', subnetTooltip)
          : type === 'ranges' || type === 'events' || type === 'conflicts'
            ? text('subnet', 'Subnet', 'all subnets', `${subnetTooltip}; empty for every subnet`)
            : null}
        {type !== 'subnets' && type !== 'guests' && vrfField}
      </InlineFieldRow>
      {type === 'addresses' && (
        <InlineFieldRow>
          {select('state', 'State', STATES)}
          {select('source', 'Source', SOURCES)}
          {select('status', 'Status', STATUSES)}
          {text('tag', 'Tag', 'any tag', 'Only addresses with this tag')}
          {text('search', 'Search', 'text', 'Address, hostname, owner, description, MAC or vendor contains')}
        </InlineFieldRow>
      )}
      {type === 'events' && <InlineFieldRow>{select('eventKind', 'Kind', EVENT_KINDS)}</InlineFieldRow>}
      {type === 'conflicts' && <InlineFieldRow>{select('conflictKind', 'Kind', CONFLICT_KINDS)}</InlineFieldRow>}
      {type === 'guests' && (
        <InlineFieldRow>
          <InlineField label="Platform" labelWidth={12}>
            <RadioButtonGroup
              options={PLATFORMS}
              value={query.platform ?? 'all'}
              onChange={(v) => set({ platform: v })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
    </>
  );
}
