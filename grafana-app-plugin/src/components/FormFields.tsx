// Form building blocks of the traffic test fields and the VM wizard.
import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Field, Input, useStyles2 } from '@grafana/ui';

interface InputFieldProps extends Omit<React.ComponentProps<typeof Input>, 'value' | 'onChange'> {
  label: string;
  description?: React.ReactNode;
  /** Shown under the input, which is marked invalid. */
  error?: string;
  value: string;
  onChange: (value: string) => void;
}

/** A labelled text input with its description and error; the other props go to the <Input>. */
export function InputField({ label, description, error, onChange, ...input }: InputFieldProps) {
  return (
    <Field label={label} description={description} invalid={!!error} error={error}>
      <Input {...input} onChange={(e) => onChange(e.currentTarget.value)} />
    </Field>
  );
}

/** Fields side by side, wrapping when narrow. */
export function FieldRow({ children }: { children: React.ReactNode }) {
  const styles = useStyles2(getStyles);
  return <div className={styles.row}>{children}</div>;
}

const getStyles = (theme: GrafanaTheme2) => ({
  row: css({
    display: 'flex',
    flexWrap: 'wrap',
    columnGap: theme.spacing(3),
    alignItems: 'flex-start',
  }),
});
