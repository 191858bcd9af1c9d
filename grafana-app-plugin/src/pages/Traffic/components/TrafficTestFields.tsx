// The fields of a traffic test, shared by the run form and the schedule modal.
import React, { useMemo } from 'react';
import { css } from '@emotion/css';
import { Combobox, type ComboboxOption, Field, RadioButtonGroup, Switch, useStyles2 } from '@grafana/ui';
import type { TrafficHost, TrafficProtocol } from '../../../api/types';
import { type FormErrors } from '../../../utils/form';
import { TRAFFIC_LIMITS, type TrafficForm, targetIsHost } from '../../../utils/traffic';
import { FieldRow, InputField } from '../../../components/FormFields';
import { testIds } from '../../../components/testIds';

const PROTOCOLS: Array<{ label: string; value: TrafficProtocol; description: string }> = [
  { label: 'TCP', value: 'tcp', description: 'Throughput and retransmits' },
  { label: 'UDP', value: 'udp', description: 'At a set bitrate: jitter and packet loss' },
];

interface Props {
  /** Keeps ids and test ids apart when the run form and the schedule modal are both on the page. */
  prefix: 'run' | 'schedule';
  form: TrafficForm;
  onChange: (patch: Partial<TrafficForm>) => void;
  hosts: TrafficHost[];
  errors: FormErrors<TrafficForm>;
  disabled?: boolean;
}

export function hostDescription(h: TrafficHost): string {
  const key = h.host_key.pinned
    ? 'host key pinned'
    : h.host_key.known_hosts
      ? 'known_hosts'
      : h.host_key.trusted_on_first_use
        ? 'host key trusted on first use'
        : 'host key not yet seen';
  return `${h.user}@${h.address}:${h.port} · iperf3 port ${h.iperf3_port} · ${key}`;
}

export function TrafficTestFields({ prefix, form, onChange, hosts, errors, disabled }: Props) {
  const styles = useStyles2(getStyles);
  const id = (name: string) => `traffic-${prefix}-${name}`;
  const tid = (name: string) => testIds.traffic.field(prefix, name);
  const hostNames = useMemo(() => hosts.map((h) => h.name), [hosts]);
  const options: Array<ComboboxOption<string>> = useMemo(
    () => hosts.map((h) => ({ value: h.name, label: h.name, description: hostDescription(h) })),
    [hosts]
  );
  const targetHost = targetIsHost(form, hostNames);
  return (
    <div className={styles.fields}>
      <FieldRow>
        <Field
          label="Source"
          description="Runs the iperf3 client over SSH"
          invalid={!!errors.source}
          error={errors.source}
          className={styles.host}
        >
          <Combobox<string>
            id={id('source')}
            data-testid={tid('source')}
            placeholder="Choose an SSH host"
            options={options}
            value={form.source || null}
            disabled={disabled}
            invalid={!!errors.source}
            onChange={(o) => onChange({ source: o.value })}
          />
        </Field>
        <Field
          label="Target"
          description="A configured host, or type an IP address"
          invalid={!!errors.target}
          error={errors.target}
          className={styles.host}
        >
          <Combobox<string>
            id={id('target')}
            data-testid={tid('target')}
            placeholder="Host or IP address"
            options={options}
            createCustomValue
            customValueDescription="Use this address (an iperf3 server must listen there)"
            value={form.target || null}
            disabled={disabled}
            invalid={!!errors.target}
            onChange={(o) => {
              const target = String(o.value).trim();
              onChange({ target, startServer: hostNames.includes(target) ? form.startServer : false });
            }}
          />
        </Field>
      </FieldRow>
      <FieldRow>
        <Field label="Protocol">
          <RadioButtonGroup<TrafficProtocol>
            id={id('protocol')}
            data-testid={tid('protocol')}
            options={PROTOCOLS}
            value={form.protocol}
            disabled={disabled}
            onChange={(protocol) => onChange({ protocol })}
          />
        </Field>
        <InputField
          label="Duration (s)"
          description={`${TRAFFIC_LIMITS.durationMin} to ${TRAFFIC_LIMITS.durationMax}`}
          error={errors.duration}
          id={id('duration')}
          data-testid={tid('duration')}
          width={12}
          inputMode="numeric"
          value={form.duration}
          disabled={disabled}
          onChange={(duration) => onChange({ duration })}
        />
        <InputField
          label="Parallel streams"
          description={`${TRAFFIC_LIMITS.parallelMin} to ${TRAFFIC_LIMITS.parallelMax}`}
          error={errors.parallel}
          id={id('parallel')}
          data-testid={tid('parallel')}
          width={12}
          inputMode="numeric"
          value={form.parallel}
          disabled={disabled}
          onChange={(parallel) => onChange({ parallel })}
        />
        {form.protocol === 'udp' && (
          <InputField
            label="Bitrate (Mbit/s)"
            description="Empty: iperf3's default (1 Mbit/s)"
            error={errors.bitrateMbps}
            id={id('bitrate')}
            data-testid={tid('bitrate')}
            width={16}
            inputMode="decimal"
            placeholder="100"
            value={form.bitrateMbps}
            disabled={disabled}
            onChange={(bitrateMbps) => onChange({ bitrateMbps })}
          />
        )}
      </FieldRow>
      <FieldRow>
        <Field label="Reverse" description="The target sends, the source receives">
          <Switch
            id={id('reverse')}
            data-testid={tid('reverse')}
            value={form.reverse}
            disabled={disabled}
            onChange={(e) => onChange({ reverse: e.currentTarget.checked })}
          />
        </Field>
        <Field
          label="Start a server on the target"
          description={
            targetHost
              ? 'A one-off iperf3 server over SSH, for this test only'
              : 'Only when the target is a configured host'
          }
        >
          <Switch
            id={id('start-server')}
            data-testid={tid('start-server')}
            value={form.startServer && targetHost}
            disabled={disabled || !targetHost}
            onChange={(e) => onChange({ startServer: e.currentTarget.checked })}
          />
        </Field>
      </FieldRow>
    </div>
  );
}

const getStyles = () => ({
  fields: css({
    display: 'flex',
    flexDirection: 'column',
  }),
  host: css({
    flex: '1 1 240px',
    maxWidth: 360,
  }),
});
