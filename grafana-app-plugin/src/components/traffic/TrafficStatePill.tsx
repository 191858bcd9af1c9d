import React from 'react';
import { Badge, type BadgeColor } from '@grafana/ui';
import type { IconName } from '@grafana/data';
import type { TrafficTestState } from '../../api/types';
import { testIds } from '../testIds';

const LOOK: Record<TrafficTestState, { color: BadgeColor; icon: IconName; text: string }> = {
  queued: { color: 'darkgrey', icon: 'clock-nine', text: 'Queued' },
  running: { color: 'blue', icon: 'fa fa-spinner', text: 'Running' },
  done: { color: 'green', icon: 'check', text: 'Done' },
  failed: { color: 'red', icon: 'exclamation-triangle', text: 'Failed' },
};

/** Queued / Running / Done / Failed as a Grafana badge (theme colours, light and dark). */
export function TrafficStatePill({ state, tooltip }: { state: TrafficTestState; tooltip?: string }) {
  const look = LOOK[state];
  return (
    <span data-testid={testIds.traffic.statePill} data-state={state}>
      <Badge color={look.color} icon={look.icon} text={look.text} tooltip={tooltip} />
    </span>
  );
}
