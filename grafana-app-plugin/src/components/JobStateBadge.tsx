import React from 'react';
import { type IconName } from '@grafana/data';
import { Badge, type BadgeColor } from '@grafana/ui';
import type { TrafficTestState, VmJobState } from '../api/types';

type JobState = TrafficTestState | VmJobState;

const LOOK: Record<JobState, { color: BadgeColor; icon: IconName; text: string }> = {
  queued: { color: 'darkgrey', icon: 'clock-nine', text: 'Queued' },
  running: { color: 'blue', icon: 'fa fa-spinner', text: 'Running' },
  done: { color: 'green', icon: 'check', text: 'Done' },
  failed: { color: 'red', icon: 'exclamation-triangle', text: 'Failed' },
};

/** A job's state (a traffic test, a VM creation) as a Grafana badge: Queued / Running / Done / Failed. */
export function JobStateBadge({ state, tooltip }: { state: JobState; tooltip?: string }) {
  const look = LOOK[state];
  return <Badge color={look.color} icon={look.icon} text={look.text} tooltip={tooltip} />;
}
