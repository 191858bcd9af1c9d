// Register a scan agent: a name, then its token — shown this once (the exporter keeps only a
// hash) with the environment the agent needs to start.
import React, { useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Alert, Button, ClipboardButton, Field, Input, Modal, Stack, Text, useStyles2 } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import type { AgentRegistered } from '../../../api/types';
import { SubmitRow } from '../../../components/SubmitRow';
import { testIds } from '../../../components/testIds';

interface Props {
  /** Closed: with or without a new agent (the list reloads either way). */
  onDismiss: () => void;
}

/** The environment of `npm run agent` at the remote site (DESIGN.md's agent variables). */
export function agentEnvironment(token: string): string {
  return [
    'LANSCAPE_AGENT_CENTRAL_URL=https://<this exporter>:9645',
    `LANSCAPE_AGENT_TOKEN=${token}`,
    '# the CA that signed the exporter certificate, or its SHA-256 fingerprint:',
    'LANSCAPE_AGENT_CA_FILE=/etc/lanscape/central-ca.pem',
    'LANSCAPE_AGENT_QUEUE_DIR=/var/lib/lanscape-agent',
  ].join('\n');
}

export function RegisterAgentModal({ onDismiss }: Props) {
  const styles = useStyles2(getStyles);
  const [name, setName] = useState('');
  const [invalid, setInvalid] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [registered, setRegistered] = useState<AgentRegistered>();

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) {
      setInvalid('A name is required');
      return;
    }
    setInvalid(undefined);
    setBusy(true);
    try {
      setRegistered(await api.registerAgent(trimmed));
      setError(undefined);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  if (registered) {
    const env = agentEnvironment(registered.token);
    return (
      <Modal title={`Agent ${registered.name} registered`} isOpen onDismiss={onDismiss}>
        <Stack direction="column" gap={2}>
          <Alert severity="warning" title="Copy the token now">
            It is shown only this once; the exporter keeps a hash of it. Lost tokens cannot be recovered: revoke the
            agent and register it again.
          </Alert>
          <Field label="Token">
            <Stack gap={1}>
              <Input readOnly value={registered.token} data-testid={testIds.infra.agentToken} />
              <ClipboardButton icon="copy" variant="secondary" getText={() => registered.token}>
                Copy
              </ClipboardButton>
            </Stack>
          </Field>
          <div>
            <Text color="secondary">Start the agent at its site with:</Text>
            <pre className={styles.env}>{env}</pre>
            <Text color="secondary">
              then <code>npm run agent</code>. Assign subnets to it by editing a subnet.
            </Text>
          </div>
        </Stack>
        <Modal.ButtonRow>
          <Button onClick={onDismiss}>Done</Button>
        </Modal.ButtonRow>
      </Modal>
    );
  }

  return (
    <Modal title="Register a scan agent" isOpen onDismiss={onDismiss}>
      <form onSubmit={submit} noValidate data-testid={testIds.infra.registerAgentForm}>
        {error && (
          <Alert severity="error" title="The agent was not registered">
            {explain(error)}
          </Alert>
        )}
        <Field
          label="Name"
          required
          invalid={!!invalid}
          error={invalid}
          description="The site or host it runs at; shown in metrics as the agent label"
        >
          <Input
            id="agent-name"
            value={name}
            placeholder="branch-office"
            autoFocus
            onChange={(e) => setName(e.currentTarget.value)}
            data-testid={testIds.infra.agentName}
          />
        </Field>
        <SubmitRow label="Register" icon="plus" busy={busy} onCancel={onDismiss} />
      </form>
    </Modal>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  env: css({
    margin: theme.spacing(1, 0),
    padding: theme.spacing(1),
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    background: theme.colors.background.secondary,
    whiteSpace: 'pre-wrap',
    wordBreak: 'break-all',
  }),
});
