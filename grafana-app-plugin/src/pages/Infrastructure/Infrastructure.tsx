// Infrastructure: what the exporter sees of Docker and Proxmox VE, with every address linked
// into IPAM, and the scan agents at other sites. A section the exporter is not configured for
// explains how to turn it on.
import React, { useEffect, useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import { Button, useStyles2 } from '@grafana/ui';
import { useApi } from '../../api/hooks';
import { allSubnets } from '../../api/loaders';
import { AgentsSection } from './components/AgentsSection';
import { DockerSection } from './components/DockerSection';
import { ProxmoxSection } from './components/ProxmoxSection';
import { testIds } from '../../components/testIds';
import { isAdmin } from '../../utils/permissions';

interface Props {
  /** Everything reloads this often (ms); 0: only on "Refresh". */
  refreshMs?: number;
}

function Infrastructure({ refreshMs = 30_000 }: Props) {
  const styles = useStyles2(getStyles);
  const [reloadKey, setReloadKey] = useState(0);
  // The subnets place each address in IPAM (the most specific subnet that holds it).
  const subnets = useApi(allSubnets, [reloadKey]);
  useEffect(() => {
    if (!refreshMs) {
      return;
    }
    const t = setInterval(() => setReloadKey((k) => k + 1), refreshMs);
    return () => clearInterval(t);
  }, [refreshMs]);
  const subnetList = subnets.data ?? [];

  return (
    <PluginPage
      actions={
        <Button variant="secondary" icon="sync" onClick={() => setReloadKey((k) => k + 1)}>
          Refresh
        </Button>
      }
    >
      <div className={styles.page} data-testid={testIds.infra.container}>
        <DockerSection subnets={subnetList} reloadKey={reloadKey} />
        <ProxmoxSection subnets={subnetList} reloadKey={reloadKey} canCreate={isAdmin()} />
        <AgentsSection reloadKey={reloadKey} canManage={isAdmin()} />
      </div>
    </PluginPage>
  );
}

export default Infrastructure;

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(4),
  }),
});
