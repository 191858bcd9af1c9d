import React from 'react';
import type { TrafficTestState } from '../../../api/types';
import { JobStateBadge } from '../../../components/JobStateBadge';
import { testIds } from '../../../components/testIds';

/** Queued / Running / Done / Failed as a Grafana badge (theme colours, light and dark). */
export function TrafficStatePill({ state, tooltip }: { state: TrafficTestState; tooltip?: string }) {
  return (
    <span data-testid={testIds.traffic.statePill} data-state={state}>
      <JobStateBadge state={state} tooltip={tooltip} />
    </span>
  );
}
