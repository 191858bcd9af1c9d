// Add or edit a subnet. The exporter validates; its messages are shown as they come (explain()).
// Adding takes a CIDR, or the next free block of a length inside a subnet (NextFreePrefixFields,
// POST /subnets/{id}/available-prefixes).
import React, { useMemo, useState } from 'react';
import {
  Alert,
  Combobox,
  Field,
  Input,
  Modal,
  RadioButtonGroup,
  Stack,
  Switch,
  TagsInput,
  TextArea,
} from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import { LIMITS } from '../../../api/limits.gen';
import type { Subnet, SubnetInput, Vrf } from '../../../api/types';
import {
  NextFreePrefixFields,
  type NextFreeState,
  childLength,
  emptyNextFree,
  possibleParents,
  validateNextFree,
} from './NextFreePrefixFields';
import { intIn } from '../../../utils/form';
import { testIds } from '../../../components/testIds';
import { SubmitRow } from '../../../components/SubmitRow';

interface Props {
  /** The subnet to edit; absent to add one. */
  subnet?: Subnet;
  /** The subnets loaded already: the parents "Next free in a subnet" offers (adding only). */
  subnets?: Subnet[];
  /** The VRFs (#15): a new subnet's VRF is chosen when there is more than the global one. */
  vrfs?: Vrf[];
  onDismiss: () => void;
  onSaved: (subnet: Subnet) => void;
}

type AddMode = 'cidr' | 'next';
const ADD_MODES: Array<{ label: string; value: AddMode; description: string }> = [
  { label: 'CIDR', value: 'cidr', description: 'A prefix you type' },
  { label: 'Next free in a subnet', value: 'next', description: 'The first free block of a length inside a subnet' },
];

interface FormState {
  cidr: string;
  name: string;
  vlan: string;
  gateway: string;
  tags: string[];
  description: string;
  scanEnabled: boolean;
  scanInterval: string;
}

function initial(subnet?: Subnet): FormState {
  return {
    cidr: subnet?.cidr ?? '',
    name: subnet?.name ?? '',
    vlan: subnet?.vlan != null ? String(subnet.vlan) : '',
    gateway: subnet?.gateway ?? '',
    tags: subnet?.tags ?? [],
    description: subnet?.description ?? '',
    scanEnabled: subnet?.scan_enabled ?? true,
    scanInterval: subnet?.scan_interval_seconds != null ? String(subnet.scan_interval_seconds) : '',
  };
}

const { vlan: VLAN, scan_interval_seconds: SCAN_INTERVAL } = LIMITS.SubnetCreate;

/** Checks that need no server (the exporter's limits); everything else is the exporter's to say. */
export function validateSubnetForm(f: FormState, noCidr: boolean): Partial<Record<keyof FormState, string>> {
  const errors: Partial<Record<keyof FormState, string>> = {};
  if (!noCidr && !f.cidr.trim()) {
    errors.cidr = 'A CIDR is required, for example 10.0.0.0/24';
  } else if (!noCidr && !f.cidr.includes('/')) {
    errors.cidr = 'Give the prefix length too, for example 10.0.0.0/24';
  }
  if (f.vlan.trim() && intIn(f.vlan, VLAN.minimum, VLAN.maximum) === undefined) {
    errors.vlan = `A VLAN is a number from ${VLAN.minimum} to ${VLAN.maximum}`;
  }
  if (f.scanInterval.trim() && intIn(f.scanInterval, SCAN_INTERVAL.minimum, SCAN_INTERVAL.maximum) === undefined) {
    errors.scanInterval = `Seconds, a whole number (${SCAN_INTERVAL.minimum} to ${SCAN_INTERVAL.maximum}), or empty for the default`;
  }
  return errors;
}

/** The fields of a subnet besides its prefix and gateway: what the next-free POST takes as well. */
function childFields(f: FormState) {
  return {
    name: f.name.trim(),
    vlan: f.vlan.trim() ? Number(f.vlan) : null,
    tags: f.tags,
    description: f.description,
    scan_enabled: f.scanEnabled,
    scan_interval_seconds: f.scanInterval.trim() ? Number(f.scanInterval) : null,
  };
}

function toInput(f: FormState): Omit<SubnetInput, 'cidr'> {
  return { ...childFields(f), gateway: f.gateway.trim() || null };
}

export function SubnetFormModal({ subnet, subnets = [], vrfs = [], onDismiss, onSaved }: Props) {
  const editing = subnet !== undefined;
  const [form, setForm] = useState<FormState>(() => initial(subnet));
  const [vrfId, setVrfId] = useState<number>(1);
  const [mode, setMode] = useState<AddMode>('cidr');
  const [nextFree, setNextFree] = useState<NextFreeState>(emptyNextFree);
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [failures, setFailures] = useState(0);
  const parents = useMemo(() => (editing ? [] : possibleParents(subnets)), [editing, subnets]);
  const carving = !editing && mode === 'next';
  const parent = parents.find((s) => String(s.id) === nextFree.parentId);
  const check = () => {
    const common = validateSubnetForm(form, editing || carving);
    return { common, nextFree: carving ? validateNextFree(nextFree, parent) : {} };
  };
  const errors = touched ? check() : { common: {}, nextFree: {} };
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setForm((f) => ({ ...f, [key]: value }));

  const save = async (): Promise<Subnet> => {
    if (editing) {
      return api.updateSubnet(subnet.id, toInput(form));
    }
    if (carving && parent) {
      const [created] = await api.allocatePrefixes(parent.id, {
        prefix_length: childLength(parent, nextFree.prefixLength)!,
        count: 1,
        ...childFields(form),
      });
      return created!;
    }
    return api.createSubnet({
      cidr: form.cidr.trim(),
      ...(vrfs.length > 1 && vrfId !== 1 ? { vrf_id: vrfId } : {}),
      ...toInput(form),
    });
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setTouched(true);
    const found = check();
    if (Object.keys(found.common).length + Object.keys(found.nextFree).length > 0) {
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      onSaved(await save());
    } catch (err) {
      setError(toApiError(err));
      setFailures((n) => n + 1);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={editing ? `Edit ${subnet.cidr}` : 'Add subnet'} isOpen onDismiss={onDismiss}>
      <form onSubmit={submit} data-testid={testIds.subnetForm.form} noValidate>
        {error && (
          <Alert
            severity="error"
            title={editing ? 'The subnet was not saved' : 'The subnet was not added'}
            data-testid={testIds.subnetForm.error}
          >
            {explain(error)}
          </Alert>
        )}
        {parents.length > 0 && (
          <Field label="Prefix">
            <div data-testid={testIds.subnetForm.mode}>
              <RadioButtonGroup<AddMode> options={ADD_MODES} value={mode} onChange={setMode} />
            </div>
          </Field>
        )}
        {carving ? (
          <NextFreePrefixFields
            subnets={parents}
            value={nextFree}
            errors={errors.nextFree}
            onChange={setNextFree}
            refresh={failures}
          />
        ) : (
          <Field
            label="CIDR"
            required={!editing}
            invalid={!!errors.common.cidr}
            error={errors.common.cidr}
            description={editing ? 'The prefix of a subnet cannot change.' : 'IPv4 or IPv6 prefix, host bits clear'}
          >
            <Input
              id="subnet-cidr"
              value={form.cidr}
              disabled={editing}
              placeholder="10.0.0.0/24"
              autoFocus={!editing}
              onChange={(e) => set('cidr', e.currentTarget.value)}
              data-testid={testIds.subnetForm.cidr}
            />
          </Field>
        )}
        {!editing && !carving && vrfs.length > 1 && (
          <Field label="VRF" description="The address space: the same CIDR may exist once in each VRF">
            <Combobox<string>
              id="subnet-vrf"
              value={String(vrfId)}
              options={vrfs.map((v) => ({
                label: v.name,
                value: String(v.id),
                description: v.description || undefined,
              }))}
              onChange={(o) => setVrfId(Number(o?.value ?? 1))}
              data-testid={testIds.subnetForm.vrf}
            />
          </Field>
        )}
        <Field label="Name">
          <Input
            id="subnet-name"
            value={form.name}
            placeholder="servers"
            onChange={(e) => set('name', e.currentTarget.value)}
            data-testid={testIds.subnetForm.name}
          />
        </Field>
        <Stack gap={2}>
          <Field label="VLAN" invalid={!!errors.common.vlan} error={errors.common.vlan}>
            <Input
              id="subnet-vlan"
              value={form.vlan}
              inputMode="numeric"
              width={12}
              placeholder="10"
              onChange={(e) => set('vlan', e.currentTarget.value)}
              data-testid={testIds.subnetForm.vlan}
            />
          </Field>
          {!carving && (
            <Field label="Gateway">
              <Input
                id="subnet-gateway"
                value={form.gateway}
                width={30}
                placeholder="10.0.0.1"
                onChange={(e) => set('gateway', e.currentTarget.value)}
                data-testid={testIds.subnetForm.gateway}
              />
            </Field>
          )}
        </Stack>
        <Field label="Tags" description="Letters, digits, space and _ . : / -">
          <div data-testid={testIds.subnetForm.tags}>
            <TagsInput id="subnet-tags" tags={form.tags} onChange={(tags) => set('tags', tags)} addOnBlur />
          </div>
        </Field>
        <Field label="Description">
          <TextArea
            id="subnet-description"
            rows={2}
            value={form.description}
            onChange={(e) => set('description', e.currentTarget.value)}
            data-testid={testIds.subnetForm.description}
          />
        </Field>
        <Stack gap={2} alignItems="flex-start">
          <Field label="Scheduled sweeps">
            <Switch
              id="subnet-scan"
              value={form.scanEnabled}
              onChange={(e) => set('scanEnabled', e.currentTarget.checked)}
            />
          </Field>
          <Field
            label="Sweep interval (s)"
            invalid={!!errors.common.scanInterval}
            error={errors.common.scanInterval}
            description="Empty: the exporter's default"
          >
            <Input
              id="subnet-interval"
              value={form.scanInterval}
              width={16}
              inputMode="numeric"
              placeholder="300"
              onChange={(e) => set('scanInterval', e.currentTarget.value)}
            />
          </Field>
        </Stack>
        <SubmitRow
          label={editing ? 'Save' : 'Add subnet'}
          busy={busy}
          onCancel={onDismiss}
          testId={testIds.subnetForm.submit}
        />
      </form>
    </Modal>
  );
}
