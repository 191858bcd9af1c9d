import { DASHBOARDS, PLUGIN_BASE_URL, ROUTES } from '../constants';

// Prefixes the route with the base URL of the plugin
export function prefixRoute(route: string): string {
  return `${PLUGIN_BASE_URL}/${route}`;
}

/** Link to a subnet page, optionally with search parameters (address drawer, search text). */
export function subnetUrl(subnetId: number, params: Record<string, string | number | undefined> = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== '') {
      qs.set(k, String(v));
    }
  }
  const q = qs.toString();
  return prefixRoute(`${ROUTES.Subnet}/${subnetId}${q ? `?${q}` : ''}`);
}

/** Link to the reserve page with a subnet (and optionally an address) chosen. */
export function reserveUrl(params: { subnet?: number; range?: number; address?: string } = {}): string {
  const qs = new URLSearchParams();
  if (params.subnet !== undefined) {
    qs.set('subnet', String(params.subnet));
  }
  if (params.range !== undefined) {
    qs.set('range', String(params.range));
  }
  if (params.address) {
    qs.set('address', params.address);
    qs.set('mode', 'specific');
  }
  const q = qs.toString();
  return prefixRoute(`${ROUTES.Reserve}${q ? `?${q}` : ''}`);
}

/**
 * Link to one of the Lanscape dashboards (provisioned by the stack, or bundled with the app),
 * with template variables set: `dashboardUrl('subnet', { subnet: '10.0.0.0/24' })`.
 */
export function dashboardUrl(dashboard: keyof typeof DASHBOARDS, vars: Record<string, string> = {}): string {
  const qs = new URLSearchParams();
  for (const [name, value] of Object.entries(vars)) {
    qs.set(`var-${name}`, value);
  }
  const q = qs.toString();
  return `/d/${DASHBOARDS[dashboard]}${q ? `?${q}` : ''}`;
}
