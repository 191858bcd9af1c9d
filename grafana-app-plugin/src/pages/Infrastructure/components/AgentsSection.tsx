// Sites and agents on the infrastructure page: each remote scan agent with its status, last
// report, the subnets it sweeps and its delivery queue; Admins register agents (the token is shown
// once) and revoke them.
import React, { useState } from 'react';
import { Alert, Button, ConfirmModal, Stack, Text, TextLink, Tooltip, useStyles2 } from '@grafana/ui';
import { type ApiError, api, explain, toApiError } from '../../../api/client';
import { useApi } from '../../../api/hooks';
import type { Agent } from '../../../api/types';
import { ROUTES } from '../../../constants';
import { formatCount, formatDateTime, shortDuration, timeAgo } from '../../../utils/format';
import { prefixRoute } from '../../../utils/utils.routing';
import { Pill } from '../../../components/Pill';
import { AgentStatusPill } from '../../../components/StatePills';
import { SectionHeader } from '../../../components/SectionHeader';
import { testIds } from '../../../components/testIds';
import { RegisterAgentModal } from './RegisterAgentModal';
import { ListStatus, ListTable, getSectionStyles } from './parts';

interface Props {
  reloadKey: number;
  /** Offer "Register agent" and "Revoke" (Admins: the exporter takes both with the admin token). */
  canManage: boolean;
}

export function AgentsSection({ reloadKey, canManage }: Props) {
  const styles = useStyles2(getSectionStyles);
  const [tick, setTick] = useState(0);
  const agents = useApi(() => api.agents(), [reloadKey, tick]);
  const [registering, setRegistering] = useState(false);
  const [revoking, setRevoking] = useState<Agent>();
  const [revokeError, setRevokeError] = useState<ApiError>();
  const reload = () => setTick((t) => t + 1);

  const revoke = async () => {
    if (!revoking) {
      return;
    }
    try {
      await api.revokeAgent(revoking.id);
      setRevoking(undefined);
      setRevokeError(undefined);
      reload();
    } catch (e) {
      setRevokeError(toApiError(e));
    }
  };

  const list = agents.data?.results ?? [];
  const down = list.filter((a) => a.status === 'down').length;

  return (
    <section className={styles.section} aria-labelledby="infra-agents-heading" data-testid={testIds.infra.agents}>
      <SectionHeader id="infra-agents-heading" title="Sites and agents">
        {down > 0 && (
          <Pill tone="error" state="agents-down">
            {down} down
          </Pill>
        )}
        {canManage && (
          <Button size="sm" icon="plus" onClick={() => setRegistering(true)} data-testid={testIds.infra.registerAgent}>
            Register agent
          </Button>
        )}
      </SectionHeader>
      <ListStatus
        state={agents}
        errorTitle="Cannot load the agents"
        loadingText="Loading agents…"
        emptyText="No agents. An agent is this exporter started at another site (npm run agent): it sweeps the subnets assigned to it and reports here."
      />
      {list.length > 0 && (
        <ListTable
          label="Scan agents"
          columns={[
            'Agent',
            'Status',
            'Last report',
            'Subnets',
            'Queue',
            ...(canManage ? [{ title: 'Actions', hidden: true }] : []),
          ]}
        >
          {list.map((a) => (
            <tr key={a.id} data-testid={testIds.infra.agentRow(a.name)}>
              <td>
                <Stack direction="column" gap={0}>
                  <Text weight="medium">{a.name}</Text>
                  {a.version && <span className={styles.sub}>v{a.version}</span>}
                </Stack>
              </td>
              <td>
                <AgentStatusPill status={a.status} />
              </td>
              <td>
                <Stack direction="column" gap={0}>
                  <span title={formatDateTime(a.last_report_at)}>{timeAgo(a.last_report_at)}</span>
                  {/* Central's interval for this agent: it is down after three of these without a word. */}
                  <span className={styles.sub} title="Down after three report intervals without a word">
                    every {shortDuration(a.report_interval_seconds * 1000)}
                  </span>
                </Stack>
              </td>
              <td>
                {a.subnets.length > 0 ? (
                  <Stack gap={0.5} wrap="wrap">
                    {a.subnets.map((s) => (
                      <TextLink key={s.id} href={prefixRoute(`${ROUTES.Subnet}/${s.id}`)} inline={false}>
                        {s.cidr}
                      </TextLink>
                    ))}
                  </Stack>
                ) : (
                  <span className={styles.sub}>none assigned</span>
                )}
              </td>
              <td className={styles.num}>
                <QueueCell agent={a} />
              </td>
              {canManage && (
                <td>
                  {a.status !== 'revoked' && (
                    <Button
                      size="sm"
                      variant="destructive"
                      fill="text"
                      icon="ban"
                      aria-label={`Revoke ${a.name}`}
                      onClick={() => setRevoking(a)}
                    >
                      Revoke
                    </Button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </ListTable>
      )}
      {registering && (
        <RegisterAgentModal
          onDismiss={() => {
            setRegistering(false);
            reload();
          }}
        />
      )}
      {revoking && (
        <ConfirmModal
          isOpen
          title={`Revoke ${revoking.name}`}
          body={
            <Stack direction="column" gap={1}>
              <Text>
                Revoke the agent {revoking.name}? Its token stops working at once: what it has not delivered yet is
                lost, and its {revoking.subnets.length} subnet(s) are swept by nobody until you assign them again.
              </Text>
              {revokeError && (
                <Alert severity="error" title="The agent was not revoked">
                  {explain(revokeError)}
                </Alert>
              )}
            </Stack>
          }
          confirmText="Revoke"
          onConfirm={revoke}
          onDismiss={() => {
            setRevoking(undefined);
            setRevokeError(undefined);
          }}
        />
      )}
    </section>
  );
}

/** Results waiting in the agent's disk queue (as it last said; – before it said anything), and how many it had to drop. */
function QueueCell({ agent }: { agent: Agent }) {
  const depth = agent.status === 'never' ? '–' : formatCount(agent.queue_depth);
  if (!agent.dropped_results_total) {
    return <>{depth}</>;
  }
  return (
    <Stack gap={0.5} justifyContent="flex-end">
      {depth}
      <Tooltip content="Results the agent dropped because its queue was full while it could not reach the exporter">
        <span>
          <Pill tone="warning" chip state="dropped">
            {formatCount(agent.dropped_results_total)} dropped
          </Pill>
        </span>
      </Tooltip>
    </Stack>
  );
}
