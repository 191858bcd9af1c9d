// Add or edit a subnet. The exporter validates; its messages are shown as they come (explain()).
import React, { useState } from 'react';
import { Alert, Field, Input, Modal, Stack, Switch, TagsInput, TextArea } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import { LIMITS } from '../../../api/limits.gen';
import type { Subnet, SubnetInput } from '../../../api/types';
import { intIn } from '../../../utils/form';
import { testIds } from '../../../components/testIds';
import { SubmitRow } from '../../../components/SubmitRow';

interface Props {
  /** The subnet to edit; absent to add one. */
  subnet?: Subnet;
  onDismiss: () => void;
  onSaved: (subnet: Subnet) => void;
}

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
export function validateSubnetForm(f: FormState, editing: boolean): Partial<Record<keyof FormState, string>> {
  const errors: Partial<Record<keyof FormState, string>> = {};
  if (!editing && !f.cidr.trim()) {
    errors.cidr = 'A CIDR is required, for example 10.0.0.0/24';
  } else if (!editing && !f.cidr.includes('/')) {
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

function toInput(f: FormState): Omit<SubnetInput, 'cidr'> {
  return {
    name: f.name.trim(),
    vlan: f.vlan.trim() ? Number(f.vlan) : null,
    gateway: f.gateway.trim() || null,
    tags: f.tags,
    description: f.description,
    scan_enabled: f.scanEnabled,
    scan_interval_seconds: f.scanInterval.trim() ? Number(f.scanInterval) : null,
  };
}

export function SubnetFormModal({ subnet, onDismiss, onSaved }: Props) {
  const editing = subnet !== undefined;
  const [form, setForm] = useState<FormState>(() => initial(subnet));
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const errors = touched ? validateSubnetForm(form, editing) : {};
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setForm((f) => ({ ...f, [key]: value }));

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (Object.keys(validateSubnetForm(form, editing)).length > 0) {
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const saved = editing
        ? await api.updateSubnet(subnet.id, toInput(form))
        : await api.createSubnet({ cidr: form.cidr.trim(), ...toInput(form) });
      onSaved(saved);
    } catch (err) {
      setError(toApiError(err));
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
        <Field
          label="CIDR"
          required={!editing}
          invalid={!!errors.cidr}
          error={errors.cidr}
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
          <Field label="VLAN" invalid={!!errors.vlan} error={errors.vlan}>
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
            invalid={!!errors.scanInterval}
            error={errors.scanInterval}
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
