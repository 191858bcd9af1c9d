// "Next free in a subnet" of the Add subnet form: the parent, the child's prefix length (typed, or
// worked out from the hosts it must hold) and a preview of the block the exporter would carve
// (GET /subnets/{id}/available-prefixes?prefix_length=N&limit=1; the POST takes the first free one).
import React, { useMemo } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Combobox, type ComboboxOption, Field, Input, Stack, Text, useStyles2 } from '@grafana/ui';
import { api, explain } from '../../../api/client';
import { useApi } from '../../../api/hooks';
import type { Subnet } from '../../../api/types';
import { testIds } from '../../../components/testIds';
import { intIn } from '../../../utils/form';
import { describePrefixLength, maxPrefixLength, prefixLengthForHosts } from '../../../utils/prefix-size';

export interface NextFreeState {
  parentId: string;
  prefixLength: string;
  hosts: string;
}

export const emptyNextFree: NextFreeState = { parentId: '', prefixLength: '', hosts: '' };

export type NextFreeErrors = Partial<Record<keyof NextFreeState, string>>;

/** Subnets a child can be carved from: all but single addresses (/32, /128). */
export function possibleParents(subnets: Subnet[]): Subnet[] {
  return subnets.filter((s) => s.prefix_length < maxPrefixLength(s.family));
}

/** The prefix length as typed, if the parent can hold a child of it. */
export function childLength(parent: Subnet | undefined, typed: string): number | undefined {
  return parent ? intIn(typed.replace(/^\//, ''), parent.prefix_length + 1, maxPrefixLength(parent.family)) : undefined;
}

/** The hosts field's answer: the length that holds them, or why none does in this parent. */
function hostsFit(parent: Subnet | undefined, hosts: string): { length?: number; error?: string } {
  const family = parent?.family ?? 4;
  const n = hosts.trim() ? intIn(hosts, 1, Number.MAX_SAFE_INTEGER) : undefined;
  if (n === undefined) {
    return hosts.trim() ? { error: 'A whole number of hosts, 1 or more' } : {};
  }
  const length = prefixLengthForHosts(family, n);
  if (length === undefined || (parent && length <= parent.prefix_length)) {
    const where = parent ? `a child of ${parent.cidr}` : `an IPv${family} subnet`;
    return { error: `More than ${where} can hold` };
  }
  return { length };
}

/** Under the length: its size, unless the hosts field shows it already; else the lengths the parent takes. */
function lengthHint(parent: Subnet | undefined, length: number | undefined, fromHosts: number | undefined) {
  if (!parent) {
    return undefined;
  }
  if (length !== undefined && length !== fromHosts) {
    return describePrefixLength(parent.family, length);
  }
  return `/${parent.prefix_length + 1} to /${maxPrefixLength(parent.family)}`;
}

export function validateNextFree(f: NextFreeState, parent: Subnet | undefined): NextFreeErrors {
  const errors: NextFreeErrors = {};
  if (!parent) {
    errors.parentId = 'Choose the subnet to take it from';
  } else if (childLength(parent, f.prefixLength) === undefined) {
    errors.prefixLength = `A prefix length from /${parent.prefix_length + 1} to /${maxPrefixLength(parent.family)} in ${parent.cidr}`;
  }
  const fit = hostsFit(parent, f.hosts);
  if (fit.error) {
    errors.hosts = fit.error;
  }
  return errors;
}

interface Props {
  subnets: Subnet[];
  value: NextFreeState;
  errors: NextFreeErrors;
  onChange: (value: NextFreeState) => void;
  /** Changed to ask for the preview again (after a refused POST: the space went meanwhile). */
  refresh?: number;
}

export function NextFreePrefixFields({ subnets, value, errors, onChange, refresh = 0 }: Props) {
  const styles = useStyles2(getStyles);
  const parents = useMemo(() => possibleParents(subnets), [subnets]);
  const options: Array<ComboboxOption<string>> = useMemo(
    () =>
      parents.map((s) => ({
        value: String(s.id),
        label: s.name ? `${s.cidr} · ${s.name}` : s.cidr,
        description: s.description || undefined,
      })),
    [parents]
  );
  const parent = parents.find((s) => String(s.id) === value.parentId);
  const length = childLength(parent, value.prefixLength);
  const fit = hostsFit(parent, value.hosts);

  const setHosts = (hosts: string) => {
    const { length: fitting } = hostsFit(parent, hosts);
    onChange({ ...value, hosts, prefixLength: fitting !== undefined ? String(fitting) : value.prefixLength });
  };
  const setParent = (parentId: string) => {
    const next = parents.find((s) => String(s.id) === parentId);
    // the hosts asked for may fit another family's length: work it out again
    const fitting = hostsFit(next, value.hosts).length;
    onChange({ ...value, parentId, prefixLength: fitting !== undefined ? String(fitting) : value.prefixLength });
  };

  return (
    <>
      <Field label="Take it from" required invalid={!!errors.parentId} error={errors.parentId}>
        <Combobox<string>
          id="subnet-parent"
          placeholder="Choose a subnet"
          options={options}
          value={value.parentId || null}
          onChange={(o) => setParent(o.value)}
          data-testid={testIds.subnetForm.parent}
        />
      </Field>
      <Stack gap={2} alignItems="flex-start">
        <Field
          label="Prefix length"
          required
          invalid={!!errors.prefixLength}
          error={errors.prefixLength}
          description={lengthHint(parent, length, fit.length)}
        >
          <Input
            id="subnet-prefix-length"
            value={value.prefixLength}
            inputMode="numeric"
            width={12}
            prefix="/"
            placeholder={parent?.family === 6 ? '64' : '26'}
            onChange={(e) => onChange({ ...value, prefixLength: e.currentTarget.value })}
            data-testid={testIds.subnetForm.prefixLength}
          />
        </Field>
        <Field
          label="Hosts needed"
          invalid={!!errors.hosts}
          error={errors.hosts}
          description={
            fit.length !== undefined ? (
              <span data-testid={testIds.subnetForm.hostsFit}>
                {describePrefixLength(parent?.family ?? 4, fit.length)}
              </span>
            ) : (
              'Sets the prefix length that holds them'
            )
          }
        >
          <Input
            id="subnet-hosts"
            value={value.hosts}
            inputMode="numeric"
            width={16}
            placeholder="50"
            onChange={(e) => setHosts(e.currentTarget.value)}
            data-testid={testIds.subnetForm.hosts}
          />
        </Field>
      </Stack>
      <div className={styles.preview} data-testid={testIds.subnetForm.preview}>
        {parent && length !== undefined ? <Preview parent={parent} length={length} refresh={refresh} /> : null}
      </div>
    </>
  );
}

/** The block the exporter would take now; another request may take it first, the POST decides. */
function Preview({ parent, length, refresh }: { parent: Subnet; length: number; refresh: number }) {
  const free = useApi(() => api.availablePrefixes(parent.id, length, 1), [parent.id, length, refresh]);
  if (free.loading) {
    return (
      <Text color="secondary">
        Looking for a free /{length} in {parent.cidr}…
      </Text>
    );
  }
  if (free.error) {
    return <Text color="error">{explain(free.error)}</Text>;
  }
  const block = free.data?.results[0];
  if (!block) {
    return (
      <Text color="warning">
        No room for a /{length} in {parent.cidr}
      </Text>
    );
  }
  return (
    <Text>
      Next free: <strong>{block.prefix}</strong>
    </Text>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  preview: css({
    minHeight: theme.spacing(3),
    marginBottom: theme.spacing(2),
  }),
});
