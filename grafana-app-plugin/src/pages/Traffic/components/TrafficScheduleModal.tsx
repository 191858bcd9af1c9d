// Add or edit a traffic test schedule: the test's fields, the interval, the floor, enabled.
import React, { useMemo, useState } from 'react';
import { Alert, Field, Modal, Stack, Switch } from '@grafana/ui';
import { type ApiError, api, toApiError } from '../../../api/client';
import type { TrafficHost, TrafficSchedule } from '../../../api/types';
import {
  bitsToMbps,
  emptyTrafficForm,
  formatInterval,
  type ScheduleForm,
  toScheduleInput,
  toSchedulePatch,
  validateScheduleForm,
} from '../../../utils/traffic';
import { InputField } from '../../../components/FormFields';
import { testIds } from '../../../components/testIds';
import { startErrorText } from './TrafficRunPanel';
import { TrafficTestFields } from './TrafficTestFields';
import { SubmitRow } from '../../../components/SubmitRow';

interface Props {
  /** The schedule to edit; absent to add one. */
  schedule?: TrafficSchedule;
  hosts: TrafficHost[];
  onDismiss: () => void;
  onSaved: (schedule: TrafficSchedule) => void;
}

export function scheduleToForm(s?: TrafficSchedule): ScheduleForm {
  if (!s) {
    return { ...emptyTrafficForm(), interval: '1h', floorMbps: '', enabled: true };
  }
  return {
    source: s.source,
    target: s.target,
    protocol: s.protocol,
    duration: String(s.duration_seconds),
    bitrateMbps: bitsToMbps(s.bitrate_bits_per_second),
    parallel: String(s.parallel),
    reverse: s.reverse,
    startServer: s.start_server,
    interval: formatInterval(s.interval_seconds),
    floorMbps: bitsToMbps(s.floor_bits_per_second),
    enabled: s.enabled,
  };
}

export function TrafficScheduleModal({ schedule, hosts, onDismiss, onSaved }: Props) {
  const editing = schedule !== undefined;
  const hostNames = useMemo(() => hosts.map((h) => h.name), [hosts]);
  const [form, setForm] = useState<ScheduleForm>(() => scheduleToForm(schedule));
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const errors = touched ? validateScheduleForm(form, hostNames) : {};
  const set = (patch: Partial<ScheduleForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setError(undefined);
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (Object.keys(validateScheduleForm(form, hostNames)).length > 0) {
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const saved = editing
        ? await api.updateTrafficSchedule(schedule.id, toSchedulePatch(form, hostNames))
        : await api.createTrafficSchedule(toScheduleInput(form, hostNames));
      onSaved(saved);
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
  };

  return (
    <Modal
      isOpen
      title={editing ? `Edit schedule ${schedule.source} → ${schedule.target}` : 'Add a schedule'}
      onDismiss={onDismiss}
    >
      <form onSubmit={submit} data-testid={testIds.traffic.scheduleForm}>
        <TrafficTestFields prefix="schedule" form={form} onChange={set} hosts={hosts} errors={errors} />
        <Stack gap={3} wrap="wrap">
          <InputField
            label="Every"
            description="1m to 7d: 15m, 1h, 1d or seconds"
            error={errors.interval}
            id="traffic-schedule-interval"
            data-testid={testIds.traffic.field('schedule', 'interval')}
            width={16}
            value={form.interval}
            onChange={(interval) => set({ interval })}
          />
          <InputField
            label="Floor (Mbit/s)"
            description="A result below it fires LanscapeThroughputDegraded; empty: none"
            error={errors.floorMbps}
            id="traffic-schedule-floor"
            data-testid={testIds.traffic.field('schedule', 'floor')}
            width={16}
            inputMode="decimal"
            value={form.floorMbps}
            onChange={(floorMbps) => set({ floorMbps })}
          />
          <Field label="Enabled">
            <Switch
              id="traffic-schedule-enabled"
              data-testid={testIds.traffic.field('schedule', 'enabled')}
              value={form.enabled}
              onChange={(e) => set({ enabled: e.currentTarget.checked })}
            />
          </Field>
        </Stack>
        {error && (
          <Alert severity="error" title="The schedule was not saved" data-testid={testIds.traffic.scheduleError}>
            {startErrorText(error)}
          </Alert>
        )}
        <SubmitRow
          label={editing ? 'Save' : 'Add schedule'}
          busy={busy}
          onCancel={onDismiss}
          testId={testIds.traffic.scheduleSubmit}
        />
      </form>
    </Modal>
  );
}
