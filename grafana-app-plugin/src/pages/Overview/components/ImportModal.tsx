// CSV import: paste or drop a file, "Check" runs a dry run that lists every bad row, "Import"
// stores all rows or none. Files of more than 1,000 rows run as an import job in the exporter
// (202): the modal follows it with a progress bar until it is done or failed.
import React, { useRef, useState } from 'react';
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
import { type ApiError, api, explain, isImportJob, toApiError } from '../../../api/client';
import { usePolling } from '../../../api/hooks';
import type { ImportJob, ImportReport } from '../../../api/types';
import { formatPercent } from '../../../utils/format';
import { ProgressBar } from '../../../components/ProgressBar';
import { testIds } from '../../../components/testIds';

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
  /** How often a running import job is asked for (ms). */
  pollMs?: number;
}

const isRunning = (job: ImportJob) => job.state === 'queued' || job.state === 'running';

export function ImportModal({ onDismiss, onImported, initialKind = 'subnets', pollMs = 1000 }: Props) {
  const styles = useStyles2(getStyles);
  const [kind, setKind] = useState<Kind>(initialKind);
  const [csv, setCsv] = useState('');
  const [report, setReport] = useState<ImportReport | ImportJob>();
  const [checked, setChecked] = useState<string>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  /** The kind and text the running check or import is about. */
  const runKey = useRef('');

  /** A check or an import has ended: its report (or job), and what follows from it. */
  const settle = (r: ImportReport | ImportJob) => {
    setBusy(false);
    setReport(r);
    const ok = r.errors.length === 0 && !(isImportJob(r) && r.state === 'failed');
    if (r.dry_run) {
      setChecked(ok ? runKey.current : undefined);
    } else if (r.applied) {
      onImported(r);
    }
  };
  const job = usePolling(api.importJob, isRunning, pollMs, settle);
  // A job the exporter no longer knows (it restarted): polling has stopped; say so and unlock.
  const lost = busy && job.error?.status === 404 ? job.error : undefined;
  const working = busy && !lost;
  const shownError = error ?? lost;

  const reset = () => {
    setReport(undefined);
    setChecked(undefined);
    setError(undefined);
  };

  const run = async (dryRun: boolean) => {
    job.stop();
    setBusy(true);
    setError(undefined);
    setReport(undefined);
    runKey.current = `${kind}\u0000${csv}`;
    try {
      const r = await api.importCsv(kind, csv, dryRun);
      if (isImportJob(r)) {
        job.start(r); // followed until it ends; settle() then
      } else {
        settle(r);
      }
    } catch (e) {
      setError(toApiError(e));
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
            disabled={working}
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
          options={{ accept: { 'text/csv': ['.csv'], 'text/plain': ['.txt'] }, multiple: false, disabled: working }}
          onLoad={(result) => {
            setCsv(typeof result === 'string' ? result : '');
            reset();
          }}
        />
        <Field label="CSV" description="Or paste it here">
          <TextArea
            rows={8}
            value={csv}
            disabled={working}
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
        {shownError && (
          <Alert severity="error" title="The exporter could not read the file">
            {explain(shownError)}
          </Alert>
        )}
        {working && job.current && isRunning(job.current) && <JobProgress job={job.current} />}
        {job.error && working && (
          <Alert severity="warning" title="Lost track of the import for a moment">
            {explain(job.error)}
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
          disabled={working || !csv.trim()}
          onClick={() => run(true)}
          data-testid={testIds.importModal.check}
        >
          Check
        </Button>
        <Button
          icon="upload"
          disabled={working || !checkedOk}
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

/** A running import job: its phase and how far it got. */
function JobProgress({ job }: { job: ImportJob }) {
  const caption =
    job.state === 'queued'
      ? 'Waiting to start…'
      : job.phase === 'applying'
        ? `Storing rows: ${job.stored} of ${job.valid}`
        : job.phase === 'compensating'
          ? 'A row no longer fits: removing the rows stored…'
          : `Checking rows: ${job.checked} of ${job.rows}`;
  return (
    <Stack direction="column" gap={0.5}>
      <ProgressBar
        ratio={job.progress}
        label="Import progress"
        caption={`${caption} · ${formatPercent(job.progress, 0)}`}
        maxWidth={480}
        data-testid={testIds.importModal.progress}
      />
      <Text variant="bodySmall" color="secondary">
        The exporter runs the import in the background; it goes on if you close this window.
      </Text>
    </Stack>
  );
}

function ReportView({ report }: { report: ImportReport | ImportJob }) {
  const styles = useStyles2(getStyles);
  const job = isImportJob(report) ? report : undefined;
  const errorCount = job?.error_count ?? report.errors.length;
  if (errorCount === 0 && job?.state !== 'failed') {
    return (
      <Alert severity="success" title={report.applied ? 'Imported' : 'Ready to import'}>
        {report.applied
          ? `${report.valid} of ${report.rows} ${report.kind} stored.`
          : `All ${report.rows} rows are valid. Press Import to store them.`}
      </Alert>
    );
  }
  if (errorCount === 0) {
    return (
      <Alert severity="error" title="The import failed">
        {job?.error ?? 'Nothing was stored.'}
      </Alert>
    );
  }
  // Rows that were valid when checked but no longer fit when stored: the import was undone.
  const undone = job?.state === 'failed' && job.valid === job.rows;
  return (
    <div>
      {undone ? (
        <Alert severity="error" title="The import was undone">
          {job?.error}
        </Alert>
      ) : (
        <Alert severity="warning" title={`${errorCount} of ${report.rows} rows have errors`}>
          Nothing was stored: an import stores all rows or none. Fix these rows and check again.
          {errorCount > report.errors.length && ` The first ${report.errors.length} are listed.`}
        </Alert>
      )}
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
