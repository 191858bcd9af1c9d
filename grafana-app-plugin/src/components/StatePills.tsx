// The infrastructure page's state pills and chips: containers, health, guests, up or down.
import React from 'react';
import { css } from '@emotion/css';
import { type GrafanaTheme2 } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';
import type { AgentStatus, DockerContainerState, DockerHealth } from '../api/types';
import { Pill, type Tone } from './Pill';

const CONTAINER_TONE: Record<DockerContainerState, Tone> = {
  running: 'ok',
  created: 'neutral',
  paused: 'warning',
  restarting: 'warning',
  removing: 'neutral',
  exited: 'neutral',
  dead: 'error',
};

export function ContainerStatePill({ state, exitCode }: { state: DockerContainerState; exitCode: number | null }) {
  const tone = state === 'exited' && exitCode !== null && exitCode !== 0 ? 'error' : CONTAINER_TONE[state];
  const text = state === 'exited' && exitCode !== null ? `exited (${exitCode})` : state;
  return (
    <Pill tone={tone} state={state}>
      {text}
    </Pill>
  );
}

const HEALTH_TONE: Record<DockerHealth, Tone> = {
  healthy: 'ok',
  unhealthy: 'error',
  starting: 'info',
  none: 'neutral',
};

export function HealthChip({ health }: { health: DockerHealth }) {
  const styles = useStyles2(getStyles);
  if (health === 'none') {
    return (
      <span className={styles.muted} title="No healthcheck">
        –
      </span>
    );
  }
  return (
    <Pill tone={HEALTH_TONE[health]} state={health} chip>
      {health}
    </Pill>
  );
}

/** A Proxmox guest's status: running, stopped, paused, or what PVE says. */
export function GuestStatusPill({ status }: { status: string }) {
  const tone: Tone = status === 'running' ? 'ok' : status === 'stopped' ? 'neutral' : 'warning';
  return (
    <Pill tone={tone} state={status}>
      {status}
    </Pill>
  );
}

export function UpDownPill({
  up,
  upText = 'up',
  downText = 'down',
}: {
  up: boolean;
  upText?: string;
  downText?: string;
}) {
  return (
    <Pill tone={up ? 'ok' : 'error'} state={up ? 'up' : 'down'}>
      {up ? upText : downText}
    </Pill>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  muted: css({
    color: theme.colors.text.disabled,
  }),
});

const AGENT_STATUS: Record<AgentStatus, { tone: Tone; text: string; title: string }> = {
  up: { tone: 'ok', text: 'up', title: 'Reported within three report intervals' },
  down: { tone: 'error', text: 'down', title: 'No report for more than three report intervals' },
  never: { tone: 'neutral', text: 'no report yet', title: 'Registered, has not reported yet' },
  revoked: { tone: 'neutral', text: 'revoked', title: 'Its token no longer works' },
};

/** A scan agent's status: up, down, never reported, revoked. */
export function AgentStatusPill({ status }: { status: AgentStatus }) {
  const { tone, text, title } = AGENT_STATUS[status];
  return (
    <Pill tone={tone} state={status} title={title}>
      {text}
    </Pill>
  );
}
