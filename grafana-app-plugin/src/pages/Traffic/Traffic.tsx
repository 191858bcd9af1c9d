// Traffic tests: iperf3 between the SSH hosts the exporter is configured with. Editors run a test
// (followed live until its result) and manage schedules; everyone sees the recent results with each
// pair's throughput history and a link to the traffic dashboard.
import React, { useCallback, useState } from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import { Alert, LoadingPlaceholder, useStyles2 } from '@grafana/ui';
import { api } from '../../api/client';
import { useApi } from '../../api/hooks';
import { ErrorAlert } from '../../components/ErrorAlert';
import { testIds } from '../../components/testIds';
import { TrafficResults } from './components/TrafficResults';
import { SectionHeader } from '../../components/SectionHeader';
import { TrafficRunPanel } from './components/TrafficRunPanel';
import { TrafficSchedules } from './components/TrafficSchedules';
import { canWrite } from '../../utils/permissions';

interface Props {
  /** How often a running test is polled (ms); the results table refreshes at 5× that while tests run. */
  pollMs?: number;
}

function Traffic({ pollMs = 1000 }: Props) {
  const styles = useStyles2(getStyles);
  const writable = canWrite();
  const hosts = useApi(() => api.trafficHosts(), []);
  const hostList = hosts.data?.results ?? [];
  // Bumped when the page's own test ends: the results and the schedules' last results reload.
  const [finished, setFinished] = useState(0);
  const onFinished = useCallback(() => setFinished((n) => n + 1), []);

  return (
    <PluginPage>
      <div className={styles.page} data-testid={testIds.traffic.container}>
        <section className={styles.section} aria-labelledby="traffic-run-heading">
          <SectionHeader id="traffic-run-heading" title="Run a test" />
          {hosts.error && <ErrorAlert error={hosts.error} title="Cannot load the SSH hosts" onRetry={hosts.reload} />}
          {hosts.loading && !hosts.data && <LoadingPlaceholder text="Loading SSH hosts…" />}
          {hosts.data && hostList.length === 0 && (
            <Alert severity="info" title="No SSH hosts configured" data-testid={testIds.traffic.noHosts}>
              Traffic tests run iperf3 on hosts the exporter reaches over SSH. List them under{' '}
              <code>traffic.hosts</code> in the exporter&apos;s configuration file (name, address, user, key) and
              restart it.
            </Alert>
          )}
          {hosts.data && hostList.length > 0 && !writable && (
            <Alert severity="info" title="Read only" data-testid={testIds.traffic.viewerHint}>
              Running and scheduling tests needs the Editor role. You can see the results below.
            </Alert>
          )}
          {hostList.length > 0 && writable && (
            <TrafficRunPanel hosts={hostList} pollMs={pollMs} onFinished={onFinished} />
          )}
        </section>

        <TrafficResults reloadKey={finished} refreshMs={pollMs * 5} />
        <TrafficSchedules hosts={hostList} writable={writable} reloadKey={finished} />
      </div>
    </PluginPage>
  );
}

export default Traffic;

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(4),
  }),
  section: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1.5),
  }),
});
