import pluginJson from './plugin.json';

export const PLUGIN_ID = pluginJson.id;
export const PLUGIN_BASE_URL = `/a/${pluginJson.id}`;

/** Routes of the app, relative to PLUGIN_BASE_URL. */
export enum ROUTES {
  Overview = 'overview',
  Subnet = 'subnets',
  Reserve = 'reserve',
  Activity = 'activity',
  Traffic = 'traffic',
  Infrastructure = 'infrastructure',
  CreateVm = 'vms/new',
}

/** Utilization thresholds of the bars: below WARN is fine, below CRITICAL is a warning, above is an error. */
export const UTILIZATION_WARN = 0.8;
export const UTILIZATION_CRITICAL = 0.9;

/** uids of the Lanscape dashboards (dashboards/ at the repository root; bundled in the app). */
export const DASHBOARDS = {
  overview: 'lanscape-overview',
  subnet: 'lanscape-subnet',
  host: 'lanscape-host',
  scanner: 'lanscape-scanner',
  traffic: 'lanscape-traffic',
  docker: 'lanscape-docker',
  proxmox: 'lanscape-proxmox',
} as const;

/** The global VRF (#15): the exporter's schema creates it with this id and name; it cannot be renamed or deleted. */
export const GLOBAL_VRF = { id: 1, name: 'global' } as const;
