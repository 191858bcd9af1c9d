// The wizard's last step: what will be created, in words, and the same request as a curl
// command (JSON body, Idempotency-Key; the token elided).
import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { ClipboardButton, Stack, Text, useStyles2 } from '@grafana/ui';
import type { ProxmoxTemplate, Subnet, VmCreateInput } from '../../../api/types';
import { curlCommand } from '../../../utils/vm';
import { testIds } from '../../../components/testIds';

interface Props {
  input: VmCreateInput;
  idempotencyKey: string;
  subnet: Subnet | undefined;
  template: ProxmoxTemplate | undefined;
  /** The next free address the exporter would give now (a preview). */
  nextFree: string | undefined;
  exporterUrl?: string;
}

export function ReviewStep({ input, idempotencyKey, subnet, template, nextFree, exporterUrl }: Props) {
  const styles = useStyles2(getStyles);
  const a = input.network.address;
  const address =
    'next_free' in a
      ? `the next free address of ${subnet?.cidr ?? `subnet ${a.subnet_id}`}${nextFree ? ` (now ${nextFree})` : ''}`
      : a.address;
  const rows: Array<[string, React.ReactNode]> = [
    ['Name', input.name],
    ['Node', input.node],
    [
      'Source',
      input.clone
        ? `${input.clone.full ? 'Full' : 'Linked'} clone of ${template ? `${template.name} (${input.clone.template_vmid})` : `template ${input.clone.template_vmid}`}${
            input.clone.storage ? ` onto ${input.clone.storage}` : ''
          }`
        : `Empty VM: ${input.resources!.cores} cores, ${input.resources!.memory_mib} MiB memory, ${input.resources!.disk_gib} GiB disk on ${input.resources!.storage}`,
    ],
    ['Network', `${input.network.bridge}${input.network.vlan ? `, VLAN ${input.network.vlan}` : ', untagged'}`],
    ['Address', address],
    ['Gateway', input.network.gateway ?? 'none'],
    ['DNS', input.network.dns?.join(', ') ?? "the template's"],
    ['Cloud-init user', input.user ?? "the image's default"],
    [
      'SSH keys',
      input.ssh_keys?.length ? `${input.ssh_keys.length} key${input.ssh_keys.length === 1 ? '' : 's'}` : 'none',
    ],
    ['Start', input.start ? 'yes, once configured' : 'no'],
  ];
  const curl = curlCommand(input, idempotencyKey, exporterUrl);
  return (
    <Stack direction="column" gap={2}>
      <dl className={styles.summary} data-testid={testIds.vm.review}>
        {rows.map(([label, value]) => (
          <React.Fragment key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </React.Fragment>
        ))}
      </dl>
      <Stack direction="column" gap={1}>
        <Stack justifyContent="space-between" alignItems="center">
          <Text element="h3" variant="h6">
            The same request with curl
          </Text>
          <ClipboardButton icon="copy" variant="secondary" size="sm" getText={() => curl}>
            Copy
          </ClipboardButton>
        </Stack>
        <pre className={styles.curl} data-testid={testIds.vm.curl}>
          {curl}
        </pre>
        <Text color="secondary" variant="bodySmall">
          The exporter takes VM creation with its admin token (elided here; Grafana adds it for Admins). The
          Idempotency-Key makes a retry return the same job instead of creating a second VM.
        </Text>
      </Stack>
    </Stack>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  summary: css({
    display: 'grid',
    gridTemplateColumns: 'max-content 1fr',
    columnGap: theme.spacing(3),
    rowGap: theme.spacing(0.75),
    margin: 0,
    maxWidth: 900,
    dt: {
      color: theme.colors.text.secondary,
    },
    dd: {
      margin: 0,
      overflowWrap: 'anywhere',
    },
  }),
  curl: css({
    margin: 0,
    padding: theme.spacing(1.5),
    maxWidth: 900,
    maxHeight: 360,
    overflow: 'auto',
    background: theme.colors.background.canvas,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'pre',
  }),
});
