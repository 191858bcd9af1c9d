import React from 'react';
import { screen } from '@testing-library/react';
import { type AppRootProps } from '@grafana/data';
import { routes } from '../../test/backend';
import '../../test/dom';
import { gapRow, subnet } from '../../test/fixtures';
import { currentLocation, renderAt } from '../../test/render';
import { testIds } from '../testIds';
import App from './App';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const props = {} as AppRootProps;
// Grafana mounts an app's root page under /a/<plugin id>/.
const BASE = '/a/lanscape-ipam-app';
const renderApp = (path: string) => renderAt(<App {...props} />, `${BASE}${path}`, `${BASE}/*`);

describe('App routes', () => {
  beforeEach(() =>
    mockFetch.mockImplementation(
      routes({
        'GET read/subnets': { count: 0, results: [] },
        'GET read/conflicts': { count: 0, results: [] },
        'GET read/events': { count: 0, results: [] },
        'GET read/audit': { count: 0, results: [] },
        'GET read/subnets/5/addresses': {
          count: 1,
          results: [gapRow('10.5.0.1', '10.5.0.254', 254)],
          subnet: subnet({ id: 5, cidr: '10.5.0.0/24' }),
        },
        'GET read/ranges': { count: 0, results: [] },
        'GET read/traffic/hosts': { count: 0, results: [] },
        'GET read/traffic-tests': { count: 0, results: [] },
        'GET read/traffic-schedules': { count: 0, results: [] },
        'GET read/docker/endpoints': { count: 0, results: [] },
        'GET read/proxmox/nodes': { updated_at: '2026-11-22T10:00:00.000Z', results: [] },
        'GET read/proxmox/guests': { updated_at: '2026-11-22T10:00:00.000Z', count: 0, results: [] },
      })
    )
  );

  it('sends unknown paths to the overview', async () => {
    renderApp('/no/such/page');
    expect(await screen.findByTestId(testIds.overview.container)).toBeInTheDocument();
    expect(currentLocation()).toBe(`${BASE}/overview`);
  });

  it.each([
    ['/overview', testIds.overview.container],
    ['/reserve', testIds.reserve.container],
    ['/activity', testIds.activity.container],
    ['/traffic', testIds.traffic.container],
    ['/infrastructure', testIds.infra.container],
    ['/vms/new', testIds.vm.container],
  ])('renders %s', async (url, testId) => {
    renderApp(url);
    expect(await screen.findByTestId(testId)).toBeInTheDocument();
  });

  it('renders a subnet page from its id', async () => {
    renderApp('/subnets/5');
    // The CIDR is the PluginPage title (Grafana's chrome draws it); the page itself shows the subnet's use.
    expect(await screen.findByRole('heading', { name: 'Utilization' })).toBeInTheDocument();
    const urls = mockFetch.mock.calls.map(([req]) => (req as { url: string }).url);
    expect(urls.some((u) => u.startsWith('/api/plugin-proxy/lanscape-ipam-app/read/subnets/5/addresses'))).toBe(true);
  });

  it('refuses a subnet id that is not a number', async () => {
    renderApp('/subnets/abc');
    expect(await screen.findByText('“abc” is not a subnet id')).toBeInTheDocument();
  });
});
