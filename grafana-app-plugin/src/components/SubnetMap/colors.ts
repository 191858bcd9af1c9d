// Theme-aware colours of the map: a fill per state, green/red for up/down.
import type { GrafanaTheme2 } from '@grafana/data';
import type { Category } from './model';

export function categoryColors(theme: GrafanaTheme2): Record<Category, string> {
  const c = (name: string) => theme.visualization.getColorByName(name);
  return {
    reserved: c('purple'),
    assigned: c('blue'),
    dhcp: c('yellow'),
    provisioning: c('orange'),
    deprecated: theme.colors.text.disabled,
    discovered: c('super-light-blue'),
    free: theme.colors.background.secondary,
    network: theme.colors.action.disabledBackground,
    broadcast: theme.colors.action.disabledBackground,
  };
}

export function statusColors(theme: GrafanaTheme2): Record<'up' | 'down' | 'unknown', string> {
  return {
    up: theme.visualization.getColorByName('green'),
    down: theme.visualization.getColorByName('red'),
    unknown: theme.colors.text.disabled,
  };
}

export const CATEGORY_LABELS: Record<Category, string> = {
  reserved: 'Reserved',
  assigned: 'Assigned',
  dhcp: 'DHCP',
  provisioning: 'Provisioning',
  deprecated: 'Deprecated',
  discovered: 'Discovered',
  free: 'Free',
  network: 'Network',
  broadcast: 'Broadcast',
};
