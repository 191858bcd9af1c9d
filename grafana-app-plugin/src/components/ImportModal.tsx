// CSV import: paste or drop a file, "Check" runs a dry run that lists every bad row, "Import"
// stores all rows or none.
import React, { useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import {
  Alert,
  Button,
  Field,
  FileDropzone,
  Modal,
  RadioButtonGroup,
  Stack,
  Text,
  TextArea,
  useStyles2,
} from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../api/client';
import type { ImportReport } from '../api/types';
import { testIds } from './testIds';

type Kind = 'subnets' | 'addresses';

const COLUMNS: Record<Kind, string> = {
  subnets: 'cidr (required), name, description, vlan, gateway, tags (a;b), scan_enabled, scan_interval_seconds',
  addresses: 'address (required), state, hostname, mac, description, owner, tags (a;b), source',
};

interface Props {
  onDismiss: () => void;
  /** After a successful import. */
  onImported: (report: ImportReport) => void;
  initialKind?: Kind;
}

export function ImportModal({ onDismiss, onImported, initialKind = 'subnets' }: Props) {
  const styles = useStyles2(getStyles);
  const [kind, setKind] = useState<Kind>(initialKind);
  const [csv, setCsv] = useState('');
  const [report, setReport] = useState<ImportReport>();
  const [checked, setChecked] = useState<string>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);

  const reset = () => {
    setReport(undefined);
    setChecked(undefined);
    setError(undefined);
  };

  const run = async (dryRun: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.importCsv(kind, csv, dryRun);
      setReport(r);
      if (dryRun) {
        setChecked(r.errors.length === 0 ? `${kind}\u0000${csv}` : undefined);
      } else if (r.applied) {
        onImported(r);
      }
    } catch (e) {
      setReport(undefined);
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const checkedOk = checked === `${kind}\u0000${csv}`;
  return (
    <Modal title="Import CSV" isOpen onDismiss={onDismiss} className={styles.modal}>
      <Stack direction="column" gap={2}>
        <Field label="What the file holds">
          <RadioButtonGroup<Kind>
            value={kind}
            options={[
              { label: 'Subnets', value: 'subnets' },
              { label: 'Addresses', value: 'addresses' },
            ]}
            onChange={(k) => {
              setKind(k);
              reset();
            }}
          />
        </Field>
        <Text variant="bodySmall" color="secondary">
          Columns: {COLUMNS[kind]}. An export of Lanscape imports as is.
        </Text>
        <FileDropzone
          readAs="readAsText"
          options={{ accept: { 'text/csv': ['.csv'], 'text/plain': ['.txt'] }, multiple: false }}
          onLoad={(result) => {
            setCsv(typeof result === 'string' ? result : '');
            reset();
          }}
        />
        <Field label="CSV" description="Or paste it here">
          <TextArea
            rows={8}
            value={csv}
            className={styles.csv}
            placeholder={
              kind === 'subnets'
                ? 'cidr,name,vlan\n10.0.0.0/24,servers,10'
                : 'address,hostname,owner\n10.0.0.10,web-1,alice'
            }
            onChange={(e) => {
              setCsv(e.currentTarget.value);
              reset();
            }}
            data-testid={testIds.importModal.csv}
          />
        </Field>
        {error && (
          <Alert severity="error" title="The exporter could not read the file">
            {explain(error)}
          </Alert>
        )}
        {report && <ReportView report={report} />}
      </Stack>
      <Modal.ButtonRow>
        <Button variant="secondary" fill="outline" onClick={onDismiss}>
          Close
        </Button>
        <Button
          variant="secondary"
          icon="check"
          disabled={busy || !csv.trim()}
          onClick={() => run(true)}
          data-testid={testIds.importModal.check}
        >
          Check
        </Button>
        <Button
          icon="upload"
          disabled={busy || !checkedOk}
          tooltip={checkedOk ? undefined : 'Check the file first: the import runs once the check finds no errors'}
          onClick={() => run(false)}
          data-testid={testIds.importModal.apply}
        >
          Import
        </Button>
      </Modal.ButtonRow>
    </Modal>
  );
}

function ReportView({ report }: { report: ImportReport }) {
  const styles = useStyles2(getStyles);
  if (report.errors.length === 0) {
    return (
      <Alert severity="success" title={report.applied ? 'Imported' : 'Ready to import'}>
        {report.applied
          ? `${report.valid} of ${report.rows} ${report.kind} stored.`
          : `All ${report.rows} rows are valid. Press Import to store them.`}
      </Alert>
    );
  }
  return (
    <div>
      <Alert severity="warning" title={`${report.errors.length} of ${report.rows} rows have errors`}>
        Nothing was stored: an import stores all rows or none. Fix these rows and check again.
      </Alert>
      <div className={styles.errorsScroll}>
        <table className={styles.table} data-testid={testIds.importModal.errors}>
          <thead>
            <tr>
              <th>Row</th>
              <th>Line</th>
              <th>Field</th>
              <th>Problem</th>
            </tr>
          </thead>
          <tbody>
            {report.errors.map((e, i) => (
              <tr key={`${e.row}-${i}`}>
                <td>{e.row}</td>
                <td>{e.line}</td>
                <td>{e.field ?? ''}</td>
                <td>{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  modal: css({
    width: 760,
    maxWidth: '95vw',
  }),
  csv: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  errorsScroll: css({
    maxHeight: 240,
    overflow: 'auto',
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
  }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    fontSize: theme.typography.bodySmall.fontSize,
    'th, td': {
      textAlign: 'left',
      padding: theme.spacing(0.5, 1),
      borderBottom: `1px solid ${theme.colors.border.weak}`,
      verticalAlign: 'top',
    },
    th: {
      position: 'sticky',
      top: 0,
      background: theme.colors.background.secondary,
      color: theme.colors.text.secondary,
    },
  }),
});
