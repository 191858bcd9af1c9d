// A short how-to in place of a section the exporter has not been configured for: which
// environment variables turn it on.
import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Icon, Stack, Text, useStyles2 } from '@grafana/ui';
import type { ApiError } from '../api/client';

export type Integration = 'docker' | 'proxmox';

const HOW_TO: Record<Integration, { title: string; intro: string; env: Array<[string, string]>; outro: string }> = {
  docker: {
    title: 'Docker is not configured',
    intro: 'The exporter lists containers and networks of the Docker engines it is told about:',
    env: [['LANSCAPE_DOCKER_HOSTS', 'local=unix:///var/run/docker.sock,nas=http://socket-proxy:2375']],
    outro:
      'Set it on the exporter and restart it (tcp:// endpoints with TLS go in its YAML file under docker.endpoints). Container addresses then appear in IPAM.',
  },
  proxmox: {
    title: 'Proxmox VE is not configured',
    intro: 'The exporter reads nodes and guests, and creates VMs, through a Proxmox API token:',
    env: [
      ['LANSCAPE_PROXMOX_URL', 'https://pve.lan:8006'],
      ['LANSCAPE_PROXMOX_TOKEN_ID', 'lanscape@pve!ipam'],
      ['LANSCAPE_PROXMOX_TOKEN_SECRET', '…'],
      ['LANSCAPE_PROXMOX_FINGERPRINT', 'AA:BB:… (or LANSCAPE_PROXMOX_CA_FILE)'],
    ],
    outro: 'Set them on the exporter and restart it. Guest addresses then appear in IPAM.',
  },
};

/** Whether an error means "this integration is off" (503 …_not_configured), not a failure. */
export function isNotConfigured(error: ApiError | undefined): boolean {
  return (
    error !== undefined &&
    error.status === 503 &&
    (error.code?.endsWith('not_configured') === true || /not configured/i.test(error.message))
  );
}

export function NotConfigured({
  integration,
  'data-testid': testId,
}: {
  integration: Integration;
  'data-testid'?: string;
}) {
  const styles = useStyles2(getStyles);
  const how = HOW_TO[integration];
  return (
    <div className={styles.box} data-testid={testId} role="note">
      <Stack direction="column" gap={1}>
        <Stack gap={1} alignItems="center">
          <Icon name={integration === 'docker' ? 'docker' : 'cube'} size="lg" className={styles.icon} />
          <Text weight="medium">{how.title}</Text>
        </Stack>
        <Text color="secondary">{how.intro}</Text>
        <pre className={styles.env}>
          {how.env.map(([name, example]) => (
            <div key={name}>
              <span className={styles.name}>{name}</span>={example}
            </div>
          ))}
        </pre>
        <Text color="secondary" variant="bodySmall">
          {how.outro}
        </Text>
      </Stack>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  box: css({
    padding: theme.spacing(2),
    border: `1px dashed ${theme.colors.border.medium}`,
    borderRadius: theme.shape.radius.default,
    background: theme.colors.background.secondary,
    maxWidth: 760,
  }),
  icon: css({
    color: theme.colors.text.secondary,
  }),
  env: css({
    margin: 0,
    padding: theme.spacing(1, 1.5),
    background: theme.colors.background.canvas,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'pre-wrap',
    wordBreak: 'break-all',
  }),
  name: css({
    color: theme.colors.primary.text,
  }),
});
