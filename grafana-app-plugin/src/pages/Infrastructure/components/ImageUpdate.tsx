// A running container's image update check, under its image on the infrastructure page:
// "update available" when the registry serves a newer build under the tag, "not checkable" for
// images pinned by digest and local builds, nothing while it is up to date or not checked yet.
// Lanscape only reports: pulling and recreating the container is up to the person.
import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { Badge, useStyles2 } from '@grafana/ui';
import type { DockerContainer } from '../../../api/types';
import { formatDateTime } from '../../../utils/format';
import { testIds } from '../../../components/testIds';

type Check = NonNullable<DockerContainer['image_update']>;

const NOT_CHECKABLE: Partial<Record<Check['status'], string>> = {
  pinned:
    'Not checkable: the container was created from the image pinned by digest (name@sha256:…), so it has no newer build under its name.',
  local: 'Not checkable: a local build never pushed to or pulled from a registry.',
};

export function ImageUpdate({ check, testId }: { check: Check | null; testId: string }) {
  const styles = useStyles2(getStyles);
  if (!check) {
    return null;
  }
  const checked = check.checked_at ? `checked ${formatDateTime(check.checked_at)}` : 'not checked yet';
  const failed = check.error ? ` — last check failed: ${check.error}` : '';
  if (check.status === 'update_available') {
    return (
      <div className={styles.line} data-testid={testId} data-status={check.status}>
        <Badge
          color="blue"
          icon="arrow-up"
          text="update available"
          tooltip={`The registry serves a newer build under this tag (${check.registry_digest ?? 'digest unknown'}; ${checked})${failed}. Pull the image and recreate the container to run it.`}
        />
      </div>
    );
  }
  const why = NOT_CHECKABLE[check.status];
  if (why) {
    return (
      <div className={styles.line} data-testid={testId} data-status={check.status}>
        <span className={styles.muted} title={why}>
          not checkable ({check.status === 'pinned' ? 'pinned by digest' : 'local build'})
        </span>
      </div>
    );
  }
  if (check.error) {
    return (
      <div className={styles.line} data-testid={testId} data-status={check.status}>
        <span className={styles.muted} title={`Last image update check failed: ${check.error}`}>
          update check failed
        </span>
      </div>
    );
  }
  return null;
}

export const imageUpdateTestId = (endpoint: string, name: string) => testIds.infra.imageUpdate(endpoint, name);

const getStyles = (theme: GrafanaTheme2) => ({
  line: css({
    marginTop: theme.spacing(0.5),
  }),
  muted: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    fontFamily: theme.typography.fontFamily,
  }),
});
