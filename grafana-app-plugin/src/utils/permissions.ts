import { config } from '@grafana/runtime';

/**
 * Whether to offer changes. Only a known Viewer is refused here: the plugin proxy's write route
 * checks the role anyway, and its 403 is explained where it happens.
 */
export function canWrite(): boolean {
  const role = config.bootData?.user?.orgRole;
  return role !== 'Viewer' && role !== 'None';
}

export function isAdmin(): boolean {
  const user = config.bootData?.user;
  return user?.orgRole === 'Admin' || Boolean(user?.isGrafanaAdmin);
}
