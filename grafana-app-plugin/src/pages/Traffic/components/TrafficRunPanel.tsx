// "Run a test": the form, then the test followed live (polled every second while queued or
// running) with its progress, and its result or error when it ends.
import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Alert, Button, Stack, Text, useStyles2 } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import { useMounted, usePolling } from '../../../api/hooks';
import type { TrafficHost, TrafficTest } from '../../../api/types';
import { formatPercent } from '../../../utils/format';
import {
  emptyTrafficForm,
  formatBitrate,
  formatJitter,
  formatLoss,
  isActive,
  toTrafficInput,
  type TrafficForm,
  validateTrafficForm,
} from '../../../utils/traffic';
import { ProgressBar } from '../../../components/ProgressBar';
import { testIds } from '../../../components/testIds';
import { TrafficStatePill } from './TrafficStatePill';
import { TrafficTestFields } from './TrafficTestFields';

interface Props {
  hosts: TrafficHost[];
  /** How often a running test is asked for (ms). */
  pollMs?: number;
  /** Called once when the followed test ends (done or failed). */
  onFinished?: (test: TrafficTest) => void;
}

/** 400 and 422 with the exporter's message verbatim. */
export function startErrorText(e: ApiError): string {
  switch (e.status) {
    case 400:
      return `Check the input: ${e.message}`;
    case 422:
      return `The exporter refused this test: ${e.message}`;
    default:
      return explain(e);
  }
}

export function TrafficRunPanel({ hosts, pollMs = 1000, onFinished }: Props) {
  const styles = useStyles2(getStyles);
  const hostNames = useMemo(() => hosts.map((h) => h.name), [hosts]);
  const [form, setForm] = useState<TrafficForm>(() =>
    emptyTrafficForm({ source: hosts.length === 1 ? hosts[0]!.name : '' })
  );
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const mounted = useMounted();
  const polled = usePolling(api.trafficTest, isActive, pollMs, onFinished);
  const test = polled.current;

  const errors = touched ? validateTrafficForm(form, hostNames) : {};
  const running = isActive(test);

  const run = async () => {
    setTouched(true);
    setError(undefined);
    if (Object.keys(validateTrafficForm(form, hostNames)).length > 0) {
      return;
    }
    setBusy(true);
    try {
      polled.start(await api.startTrafficTest(toTrafficInput(form, hostNames)));
    } catch (e) {
      if (mounted.current) {
        setError(toApiError(e));
      }
    } finally {
      if (mounted.current) {
        setBusy(false);
      }
    }
  };

  return (
    <div className={styles.panel}>
      <form
        data-testid={testIds.traffic.form}
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
      >
        <TrafficTestFields
          prefix="run"
          form={form}
          hosts={hosts}
          errors={errors}
          disabled={running}
          onChange={(patch) => {
            setForm((f) => ({ ...f, ...patch }));
            setError(undefined);
          }}
        />
        {error && (
          <Alert severity="error" title="The test was not started" data-testid={testIds.traffic.runError}>
            {startErrorText(error)}
          </Alert>
        )}
        <Button
          type="submit"
          icon={busy || running ? 'spinner' : 'play'}
          disabled={busy || running}
          data-testid={testIds.traffic.run}
        >
          {running ? 'Test running…' : 'Run test'}
        </Button>
      </form>
      {test && <CurrentTest test={test} pollError={polled.error} />}
    </div>
  );
}

function CurrentTest({ test, pollError }: { test: TrafficTest; pollError?: ApiError }) {
  const styles = useStyles2(getStyles);
  const progress = Math.min(1, Math.max(0, test.progress));
  const elapsed = test.state === 'done' ? test.duration_seconds : Math.round(progress * test.duration_seconds);
  return (
    <section
      className={styles.current}
      data-testid={testIds.traffic.current}
      data-state={test.state}
      aria-live="polite"
    >
      <Stack gap={1.5} alignItems="center" wrap="wrap">
        <TrafficStatePill state={test.state} />
        <Text weight="medium">
          {test.source} → {test.target}
          {test.target_address && test.target_address !== test.target ? ` (${test.target_address})` : ''}
        </Text>
        <Text color="secondary">
          {test.protocol.toUpperCase()}
          {test.parallel > 1 ? ` ×${test.parallel}` : ''} · {test.duration_seconds} s ·{' '}
          {test.reverse ? 'reverse' : 'forward'}
          {test.bitrate_bits_per_second ? ` · ${formatBitrate(test.bitrate_bits_per_second)}` : ''}
        </Text>
      </Stack>
      {isActive(test) && (
        <ProgressBar
          ratio={progress}
          label="Test progress"
          now={elapsed}
          max={test.duration_seconds}
          valueText={`${elapsed} s of ${test.duration_seconds} s`}
          caption={
            test.state === 'queued'
              ? 'Waiting for a free runner…'
              : `${elapsed} s of ${test.duration_seconds} s · ${formatPercent(progress, 0)}`
          }
          maxWidth={480}
          data-testid={testIds.traffic.progress}
        />
      )}
      {pollError && (
        <Alert severity="warning" title="Cannot follow the test right now; retrying">
          {explain(pollError)}
        </Alert>
      )}
      {test.state === 'done' && test.result && <ResultSummary test={test} />}
      {test.state === 'failed' && (
        <Alert severity="error" title="The test failed" data-testid={testIds.traffic.testError}>
          {test.error ?? 'The exporter gave no reason.'}
        </Alert>
      )}
    </section>
  );
}

function ResultSummary({ test }: { test: TrafficTest }) {
  const styles = useStyles2(getStyles);
  const r = test.result!;
  const items: Array<[string, string]> = [
    ['Received', formatBitrate(r.received_bits_per_second)],
    ['Sent', formatBitrate(r.sent_bits_per_second)],
  ];
  if (test.protocol === 'tcp') {
    items.push(['Retransmits', r.retransmits === null ? '–' : String(r.retransmits)]);
  } else {
    items.push(['Jitter', formatJitter(r.jitter_seconds)]);
    items.push([
      'Loss',
      `${formatLoss(r.loss_ratio)}${r.lost_packets !== null && r.packets !== null ? ` (${r.lost_packets} of ${r.packets})` : ''}`,
    ]);
  }
  items.push(['Measured', `${Number(r.seconds.toFixed(1))} s`]);
  return (
    <dl className={styles.result} data-testid={testIds.traffic.result}>
      {items.map(([label, value]) => (
        <div key={label} className={styles.stat}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  panel: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(2),
  }),
  current: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1.5),
    padding: theme.spacing(2),
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
  }),
  result: css({
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(3),
    margin: 0,
  }),
  stat: css({
    dt: {
      color: theme.colors.text.secondary,
      fontSize: theme.typography.bodySmall.fontSize,
      fontWeight: theme.typography.fontWeightRegular,
    },
    dd: {
      margin: 0,
      fontSize: theme.typography.h4.fontSize,
      fontWeight: theme.typography.fontWeightMedium,
    },
  }),
});
