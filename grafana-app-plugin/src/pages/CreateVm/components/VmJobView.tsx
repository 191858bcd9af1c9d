// A VM creation job followed live: its steps with state icons (and the Proxmox task of each), a
// progress bar, then the new VM's address in IPAM, or the error in words and what became of
// the address.
import React from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2, type IconName } from '@grafana/data';
import { Alert, Button, Icon, LinkButton, Stack, Text, TextLink, useStyles2 } from '@grafana/ui';
import { type ApiError, explain } from '../../../api/client';
import type { VmJob, VmStepState } from '../../../api/types';
import { formatPercent, formatDateTime } from '../../../utils/format';
import { STEP_TITLES, addressOutcome, isJobActive } from '../../../utils/vm';
import { subnetUrl } from '../../../utils/utils.routing';
import { JobStateBadge } from '../../../components/JobStateBadge';
import { ProgressBar } from '../../../components/ProgressBar';
import { testIds } from '../../../components/testIds';

const STEP_ICON: Record<VmStepState, { icon: IconName; label: string }> = {
  pending: { icon: 'circle', label: 'waiting' },
  running: { icon: 'spinner', label: 'running' },
  done: { icon: 'check-circle', label: 'done' },
  failed: { icon: 'times-circle', label: 'failed' },
  skipped: { icon: 'minus-circle', label: 'skipped' },
};

interface Props {
  job: VmJob;
  /** The subnet the address came from (for the link into IPAM). */
  subnetId: number | undefined;
  pollError?: ApiError;
  /** Start over with a fresh form. */
  onAgain: () => void;
  /** Back to the wizard with the same answers (a failed job). */
  onEdit: () => void;
}

export function VmJobView({ job, subnetId, pollError, onAgain, onEdit }: Props) {
  const styles = useStyles2(getStyles);
  const active = isJobActive(job);
  const outcome = job.state === 'failed' ? addressOutcome(job) : undefined;
  return (
    <section className={styles.job} data-testid={testIds.vm.job} data-state={job.state} aria-live="polite">
      <Stack gap={1.5} alignItems="center" wrap="wrap">
        <JobStateBadge state={job.state} />
        <Text weight="medium">
          {job.name} on {job.node}
        </Text>
        <Text color="secondary">
          {job.address ? `address ${job.address}` : 'address not reserved yet'}
          {job.vmid !== null ? ` · VM ${job.vmid}` : ''} · job {job.id}
        </Text>
      </Stack>

      {(active || job.state === 'done') && (
        <ProgressBar
          ratio={job.progress}
          label="VM creation progress"
          caption={job.state === 'queued' ? 'Waiting for the jobs before it…' : formatPercent(job.progress, 0)}
          maxWidth={560}
          done={job.state === 'done'}
          data-testid={testIds.vm.progress}
        />
      )}

      <ol className={styles.steps}>
        {job.steps.map((s) => {
          const icon = STEP_ICON[s.state];
          return (
            <li key={s.name} className={styles.step} data-testid={testIds.vm.jobStep(s.name)} data-state={s.state}>
              <Icon name={icon.icon} className={cx(styles.icon, styles[s.state])} aria-label={icon.label} />
              <div className={styles.stepText}>
                <span className={cx(s.state === 'skipped' && styles.skipped)}>{STEP_TITLES[s.name]}</span>
                {s.message && <span className={styles.message}>{s.message}</span>}
                {s.upid && (
                  <span
                    className={styles.upid}
                    title={`Proxmox task${s.started_at ? `, started ${formatDateTime(s.started_at)}` : ''}`}
                    data-testid={s.state === 'running' ? testIds.vm.upid : undefined}
                  >
                    {s.upid}
                  </span>
                )}
              </div>
            </li>
          );
        })}
      </ol>

      {pollError && active && (
        <Alert severity="warning" title="Cannot follow the job right now; retrying">
          {explain(pollError)}
        </Alert>
      )}

      {job.state === 'done' && (
        <Alert severity="success" title={`VM ${job.vmid ?? ''} ${job.name} is ready`} data-testid={testIds.vm.success}>
          <Stack direction="column" gap={1}>
            <span>
              Proxmox VM <strong>{job.vmid}</strong> on {job.node} has the address{' '}
              {job.address && subnetId !== undefined && job.address_id !== null ? (
                <TextLink
                  href={subnetUrl(subnetId, { address: job.address_id })}
                  inline
                  data-testid={testIds.vm.addressLink}
                >
                  {job.address}
                </TextLink>
              ) : (
                <strong>{job.address}</strong>
              )}
              , recorded as assigned in IPAM.
            </span>
          </Stack>
        </Alert>
      )}

      {job.state === 'failed' && (
        <Alert severity="error" title="The VM was not created" data-testid={testIds.vm.failure}>
          <Stack direction="column" gap={1}>
            <span>{job.error ?? 'The exporter gave no reason.'}</span>
            {outcome === 'released' && <span>The address {job.address} was released: it is free again in IPAM.</span>}
            {outcome === 'kept' && (
              <span>
                The address {job.address} is still reserved: check Proxmox, then release it in IPAM if no VM uses it.
              </span>
            )}
          </Stack>
        </Alert>
      )}

      {!active && (
        <Stack gap={1}>
          {job.state === 'failed' && (
            <Button icon="arrow-left" onClick={onEdit} data-testid={testIds.vm.again}>
              Change and try again
            </Button>
          )}
          <Button
            variant={job.state === 'failed' ? 'secondary' : 'primary'}
            icon="plus"
            onClick={onAgain}
            data-testid={job.state === 'done' ? testIds.vm.again : undefined}
          >
            Create another VM
          </Button>
          {job.state === 'done' && job.address_id !== null && subnetId !== undefined && (
            <LinkButton variant="secondary" icon="sitemap" href={subnetUrl(subnetId, { address: job.address_id })}>
              Open in IPAM
            </LinkButton>
          )}
        </Stack>
      )}
    </section>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  job: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(2),
    padding: theme.spacing(2),
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    maxWidth: 1000,
  }),
  steps: css({
    listStyle: 'none',
    margin: 0,
    padding: 0,
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1),
  }),
  step: css({
    display: 'flex',
    alignItems: 'flex-start',
    gap: theme.spacing(1),
  }),
  stepText: css({
    display: 'flex',
    flexDirection: 'column',
    minWidth: 0,
  }),
  icon: css({
    flex: '0 0 auto',
    marginTop: 2,
  }),
  pending: css({ color: theme.colors.text.disabled }),
  running: css({ color: theme.colors.primary.text }),
  done: css({ color: theme.colors.success.text }),
  failed: css({ color: theme.colors.error.text }),
  skipped: css({ color: theme.colors.text.disabled }),
  message: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  upid: css({
    color: theme.colors.text.secondary,
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    overflowWrap: 'anywhere',
  }),
});
