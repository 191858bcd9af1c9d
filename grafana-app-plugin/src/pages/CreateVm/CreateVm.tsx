// Create VM: a wizard (node → template or resources → network with an address from IPAM →
// cloud-init → review with the equivalent curl) that posts one request to the exporter's admin
// route, then follows the job every second until the VM is up with its address assigned, or the
// job failed and its address was released. Admins only: the exporter takes VM creation with its
// admin token, which Grafana's proxy adds for Admins.
import React, { useCallback, useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2, usePluginContext } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import { Alert, Button, LoadingPlaceholder, Stack, Text, TextLink, useStyles2 } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../api/client';
import { useApi, useMounted, usePolling } from '../../api/hooks';
import { allSubnets } from '../../api/loaders';
import { ErrorAlert } from '../../components/ErrorAlert';
import { NotConfigured, isNotConfigured } from '../../components/NotConfigured';
import { testIds } from '../../components/testIds';
import { ReviewStep } from './components/ReviewStep';
import { type StepItem, StepIndicator } from './components/StepIndicator';
import { VmJobView } from './components/VmJobView';
import { CloudInitStep, NetworkStep, NodeStep, SourceStep } from './components/WizardSteps';
import { ROUTES } from '../../constants';
import { isAdmin } from '../../utils/permissions';
import { prefixRoute } from '../../utils/utils.routing';
import {
  type VmForm,
  type VmFormErrors,
  WIZARD_STEPS,
  emptyVmForm,
  firstStepWithError,
  isJobActive,
  newIdempotencyKey,
  toVmInput,
  validateVmForm,
} from '../../utils/vm';

interface Props {
  /** How often the job is asked for (ms). */
  pollMs?: number;
}

const REVIEW = WIZARD_STEPS.length - 1;

/** The exporter's refusals of a VM request, in words (its message kept verbatim). */
export function createErrorText(e: ApiError): string {
  switch (e.status) {
    case 400:
      return `Check the input: ${e.message}`;
    case 409:
      return `The address is taken, or the subnet has no free address: ${e.message}`;
    case 422:
      return `The exporter refused this: ${e.message}`;
    case 429:
      return `Too many VM jobs are waiting: ${e.message}`;
    default:
      return explain(e);
  }
}

/** Failures where sending the same request again may help (and the Idempotency-Key keeps it safe). */
function retryable(e: ApiError): boolean {
  return e.status === 0 || e.status === 429 || e.status >= 500;
}

function errorsOfStep(errors: VmFormErrors, index: number): VmFormErrors {
  const fields = WIZARD_STEPS[index]!.fields as ReadonlyArray<keyof VmForm>;
  return Object.fromEntries(Object.entries(errors).filter(([k]) => fields.includes(k as keyof VmForm)));
}

function CreateVm({ pollMs = 1000 }: Props) {
  const styles = useStyles2(getStyles);
  if (!isAdmin()) {
    return (
      <PluginPage>
        <div className={styles.page} data-testid={testIds.vm.container}>
          <Alert severity="info" title="Creating VMs needs the Admin role" data-testid={testIds.vm.notAdmin}>
            The exporter creates Proxmox VMs only with its admin token, which Grafana&apos;s plugin proxy adds for
            organization Admins. Ask an Admin to create the VM, or see the existing guests on the{' '}
            <TextLink href={prefixRoute(ROUTES.Infrastructure)} inline>
              Infrastructure
            </TextLink>{' '}
            page.
          </Alert>
        </div>
      </PluginPage>
    );
  }
  return <Wizard pollMs={pollMs} />;
}

function Wizard({ pollMs }: { pollMs: number }) {
  const styles = useStyles2(getStyles);
  const plugin = usePluginContext();
  const exporterUrl = plugin?.meta.jsonData?.exporterUrl;
  const [form, setForm] = useState<VmForm>(() => emptyVmForm());
  const [step, setStep] = useState(0);
  const [reached, setReached] = useState(0);
  /** Steps whose errors are shown (the user tried to leave them, or to create). */
  const [shown, setShown] = useState<Set<number>>(() => new Set());
  /** The Idempotency-Key of this submission and the body it was made for. */
  const [submission, setSubmission] = useState<{ key: string; body: string }>();
  const [busy, setBusy] = useState(false);
  const [submitError, setSubmitError] = useState<ApiError>();
  const mounted = useMounted();
  const polled = usePolling(api.vmJob, isJobActive, pollMs);
  const job = polled.current;

  const nodes = useApi(() => api.proxmoxNodes(), []);
  const node = form.node;
  const templates = useApi(() => (node ? api.proxmoxTemplates(node) : Promise.resolve(undefined)), [node]);
  const storages = useApi(() => (node ? api.proxmoxStorages(node) : Promise.resolve(undefined)), [node]);
  const bridges = useApi(() => (node ? api.proxmoxBridges(node) : Promise.resolve(undefined)), [node]);
  const subnets = useApi(allSubnets, []);
  const subnetId = Number(form.subnetId) || undefined;
  const subnet = subnets.data?.find((s) => s.id === subnetId);
  const wantPreview = subnetId !== undefined && form.addressMode === 'next';
  // The preview is asked again when the review step opens, so it shows what "next free" is now.
  const preview = useApi(
    () => (wantPreview ? api.availableIps({ subnetId: subnetId! }, 1) : Promise.resolve(undefined)),
    [subnetId, wantPreview, step === REVIEW]
  );

  const errors = useMemo(() => validateVmForm(form, subnet), [form, subnet]);
  const input = useMemo(() => (Object.keys(errors).length === 0 ? toVmInput(form) : undefined), [errors, form]);
  const body = input ? JSON.stringify(input) : undefined;
  // One key per submission, made when the review opens: kept while the body stays the same (a
  // retry, a double click), new when the answers changed.
  const keyForReview = () => {
    if (body && submission?.body !== body) {
      setSubmission({ key: newIdempotencyKey(), body });
    }
  };

  const onChange = useCallback((patch: Partial<VmForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setSubmitError(undefined);
  }, []);

  const goTo = (target: number) => {
    // Moving on needs every step before the target to be right: stop at the first that is not.
    const blocking = firstStepWithError(errors);
    if (target > step && blocking !== -1 && blocking < target) {
      setShown((s) => new Set(s).add(blocking));
      setStep(blocking);
      return;
    }
    if (target === REVIEW) {
      keyForReview();
    }
    setStep(target);
    setReached((r) => Math.max(r, target));
  };

  const create = async () => {
    if (busy) {
      return;
    }
    const blocking = firstStepWithError(errors);
    if (blocking !== -1 || !input || !body) {
      setShown((s) => new Set(s).add(blocking === -1 ? 0 : blocking));
      setStep(blocking === -1 ? 0 : blocking);
      return;
    }
    const key = submission?.body === body ? submission.key : newIdempotencyKey();
    if (submission?.key !== key) {
      setSubmission({ key, body });
    }
    setBusy(true);
    setSubmitError(undefined);
    try {
      polled.start(await api.createVm(input, key));
    } catch (e) {
      if (mounted.current) {
        setSubmitError(toApiError(e));
      }
    } finally {
      if (mounted.current) {
        setBusy(false);
      }
    }
  };

  const startOver = () => {
    polled.stop();
    setSubmission(undefined);
    setSubmitError(undefined);
    setForm((f) => emptyVmForm({ node: f.node }));
    setShown(new Set());
    setStep(0);
    setReached(0);
  };
  const editAgain = () => {
    // A new submission: the failed job's key would only bring that job back.
    polled.stop();
    setSubmission(body ? { key: newIdempotencyKey(), body } : undefined);
    setSubmitError(undefined);
    setStep(REVIEW);
  };

  if (nodes.error) {
    return (
      <PluginPage>
        <div className={styles.page} data-testid={testIds.vm.container}>
          {isNotConfigured(nodes.error) ? (
            <NotConfigured integration="proxmox" data-testid={testIds.vm.notConfigured} />
          ) : (
            <ErrorAlert error={nodes.error} title="Cannot load the Proxmox nodes" onRetry={nodes.reload} />
          )}
        </div>
      </PluginPage>
    );
  }

  const stepItems: StepItem[] = WIZARD_STEPS.map((s, i) => {
    const hasErrors = Object.keys(errorsOfStep(errors, i)).length > 0;
    return {
      id: s.id,
      title: s.title,
      state:
        i === step
          ? 'current'
          : shown.has(i) && hasErrors
            ? 'error'
            : i <= reached && i !== REVIEW && !hasErrors
              ? 'done'
              : 'upcoming',
      reachable: i <= reached,
    };
  });
  const visibleErrors = shown.has(step) ? errorsOfStep(errors, step) : {};
  const nodeList = nodes.data?.results ?? [];
  const template = templates.data?.results.find((t) => String(t.vmid) === form.template);

  return (
    <PluginPage>
      <div className={styles.page} data-testid={testIds.vm.container}>
        {job ? (
          <VmJobView job={job} subnetId={subnetId} pollError={polled.error} onAgain={startOver} onEdit={editAgain} />
        ) : !nodes.data ? (
          <LoadingPlaceholder text="Loading Proxmox nodes…" />
        ) : nodeList.length === 0 ? (
          <Alert severity="warning" title="No Proxmox nodes">
            The exporter&apos;s last inventory found no node in the cluster.
          </Alert>
        ) : (
          <>
            <StepIndicator steps={stepItems} onSelect={goTo} disabled={busy} />
            <form
              className={styles.form}
              data-testid={testIds.vm.form}
              noValidate
              onSubmit={(e) => {
                e.preventDefault();
                if (step === REVIEW) {
                  create();
                } else {
                  next();
                }
              }}
            >
              <Text element="h2" variant="h4">
                {WIZARD_STEPS[step]!.title}
              </Text>
              {step === 0 && <NodeStep form={form} errors={visibleErrors} onChange={onChange} nodes={nodeList} />}
              {step === 1 && (
                <SourceStep
                  form={form}
                  errors={visibleErrors}
                  onChange={onChange}
                  templates={templates}
                  storages={storages}
                />
              )}
              {step === 2 && (
                <NetworkStep
                  form={form}
                  errors={visibleErrors}
                  onChange={onChange}
                  bridges={bridges}
                  subnets={subnets}
                  subnet={subnet}
                  preview={preview}
                />
              )}
              {step === 3 && <CloudInitStep form={form} errors={visibleErrors} onChange={onChange} />}
              {step === REVIEW && input && submission && (
                <ReviewStep
                  input={input}
                  idempotencyKey={submission.key}
                  subnet={subnet}
                  template={template}
                  nextFree={preview.data?.results[0]?.address}
                  exporterUrl={typeof exporterUrl === 'string' && exporterUrl ? exporterUrl : undefined}
                />
              )}
              {submitError && (
                <Alert severity="error" title="The VM was not created" data-testid={testIds.vm.submitError}>
                  <Stack direction="column" gap={1}>
                    <span>{createErrorText(submitError)}</span>
                    {retryable(submitError) && (
                      <span>
                        Retrying sends the same request with the same Idempotency-Key: if the first one did reach the
                        exporter, you get its job instead of a second VM.
                      </span>
                    )}
                  </Stack>
                </Alert>
              )}
              <Stack gap={1}>
                {step > 0 && (
                  <Button
                    variant="secondary"
                    icon="arrow-left"
                    type="button"
                    disabled={busy}
                    onClick={() => setStep(step - 1)}
                    data-testid={testIds.vm.back}
                  >
                    Back
                  </Button>
                )}
                {step < REVIEW && (
                  <Button type="submit" icon="arrow-right" data-testid={testIds.vm.next}>
                    Next
                  </Button>
                )}
                {step === REVIEW && submitError && retryable(submitError) && (
                  <Button type="submit" icon="sync" disabled={busy} data-testid={testIds.vm.retry}>
                    Retry
                  </Button>
                )}
                {step === REVIEW && !(submitError && retryable(submitError)) && (
                  <Button
                    type="submit"
                    icon={busy ? 'spinner' : 'plus-circle'}
                    disabled={busy || !input}
                    data-testid={testIds.vm.create}
                  >
                    {busy ? 'Creating…' : 'Create VM'}
                  </Button>
                )}
              </Stack>
            </form>
          </>
        )}
      </div>
    </PluginPage>
  );

  function next() {
    const stepErrors = errorsOfStep(errors, step);
    if (Object.keys(stepErrors).length > 0) {
      setShown((s) => new Set(s).add(step));
      return;
    }
    goTo(step + 1);
  }
}

export default CreateVm;

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(3),
  }),
  form: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(2),
    padding: theme.spacing(2, 3, 3),
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    background: theme.colors.background.primary,
    maxWidth: 1000,
  }),
});
