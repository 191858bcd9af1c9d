import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { DASHBOARDS } from '../constants';
import { dashboardUrl } from './utils.routing';

// The pages link to the dashboards in dashboards/ at the repository root by uid and variables:
// a renamed uid or variable must break this test, not the links.
const dir = join(__dirname, '../../../dashboards');
const dashboards = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));

describe('links to the Lanscape dashboards', () => {
  it.each(Object.entries(DASHBOARDS))('%s → a dashboard with uid %s exists', (_, uid) => {
    expect(dashboards.map((d) => d.uid)).toContain(uid);
  });

  it.each([
    ['subnet', 'subnet'],
    ['host', 'address'],
    ['docker', 'endpoint'],
    ['proxmox', 'node'],
  ] as const)('the %s dashboard has the variable %s the pages set', (which, variable) => {
    const dashboard = dashboards.find((d) => d.uid === DASHBOARDS[which]);
    expect(dashboard.templating.list.map((v: { name: string }) => v.name)).toContain(variable);
    expect(dashboardUrl(which, { [variable]: '10.0.0.0/24' })).toBe(
      `/d/${DASHBOARDS[which]}?var-${variable}=10.0.0.0%2F24`
    );
  });
});
