import React from 'react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { Subnet as SubnetType, SubnetRow } from '../../api/types';
import { testIds } from '../../components/testIds';
import { Failure, calls, fail, requestTo, routes } from '../../test/backend';
import { address, addressRow, gapRow, observation, range, subnet, utilization } from '../../test/fixtures';
import { currentLocation, renderAt } from '../../test/render';
import '../../test/dom';
import Subnet from './Subnet';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const theSubnet = subnet({ id: 1, utilization: utilization(3, 254, { by_state: { assigned: 2, reserved: 1 } }) });
const gw = address('10.0.0.1', { id: 11, hostname: 'gw', observed: observation({ status: 'up' }) });
const cam = address('10.0.0.14', { id: 14, hostname: 'cam', observed: observation({ status: 'down' }) });
const bigSubnet = subnet({
  id: 1,
  cidr: '10.0.0.0/16',
  prefix_length: 16,
  utilization: utilization(2500, 65534),
});
const rows: SubnetRow[] = [
  addressRow(gw),
  gapRow('10.0.0.2', '10.0.0.13', 12),
  addressRow(cam),
  gapRow('10.0.0.15', '10.0.0.99', 85),
  gapRow('10.0.0.100', '10.0.0.199', 100, 7),
  gapRow('10.0.0.200', '10.0.0.254', 55),
];

function backend(extra: Record<string, unknown> = {}) {
  mockFetch.mockImplementation(
    routes({
      'GET read/subnets/1/addresses': { count: rows.length, results: rows, subnet: theSubnet },
      'GET read/ranges': { count: 1, results: [range()] },
      ...extra,
    })
  );
}

/** A subnet of `total` address rows (row i made by `row`), served in the pages asked for. */
function pagedBackend(total: number, of: SubnetType, row: (i: number) => SubnetRow) {
  mockFetch.mockImplementation(
    routes({
      'GET read/subnets/1/addresses': (req: { url: string }) => {
        const q = new URL(req.url, 'http://x').searchParams;
        const offset = Number(q.get('offset'));
        const limit = Number(q.get('limit'));
        expect(limit).toBeLessThanOrEqual(5000);
        const results = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, i) => row(offset + i));
        return { count: total, results, subnet: of };
      },
      'GET read/ranges': { count: 0, results: [] },
    })
  );
}

const renderSubnet = (url = '/subnets/1') => renderAt(<Subnet />, url, 'subnets/:id');

describe('Subnet page', () => {
  beforeEach(() => mockFetch.mockReset());

  it('shows the subnet header and its rows with gaps collapsed and range labels', async () => {
    backend();
    renderSubnet();
    expect(await screen.findByTestId(testIds.subnet.gapRow('10.0.0.15'))).toHaveTextContent(
      '10.0.0.15 – 10.0.0.99 · 85 free'
    );
    // The CIDR is the page title, which Grafana's PluginPage chrome renders (the browser test sees it).
    expect(screen.getByRole('heading', { name: 'Utilization' })).toBeInTheDocument();
    expect(screen.getAllByTestId(testIds.utilizationBar)[0]).toHaveAttribute('aria-valuetext', '3 of 254 used (1.2 %)');
    expect(
      await screen.findByText('DHCP pool', { selector: `[data-testid="${testIds.subnet.gapRow('10.0.0.100')}"] *` })
    ).toBeInTheDocument();
    expect(calls(mockFetch)).toEqual(
      expect.arrayContaining([
        'GET /api/plugin-proxy/lanscape-ipam-app/read/subnets/1/addresses?offset=0&limit=1000',
        'GET /api/plugin-proxy/lanscape-ipam-app/read/ranges?subnet_id=1&limit=1000',
      ])
    );
    expect(screen.getByText('6 of 6 rows loaded')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.subnet.dashboard)).toHaveAttribute(
      'href',
      '/d/lanscape-subnet?var-vrf=global&var-subnet=10.0.0.0%2F24'
    );
    // Its VRF (#15): the global one is named without asking for the VRFs.
    expect(screen.getByTestId(testIds.vrfChip)).toHaveTextContent('VRF global');
    expect(calls(mockFetch).some((c) => c.includes('/vrfs'))).toBe(false);
  });

  it('VRFs (#15): names the subnet’s VRF, links its dashboard with it, and reserves a gap address in it', async () => {
    const inSiteB = { ...theSubnet, vrf_id: 2 };
    const created = address('10.0.0.20', { id: 20, vrf_id: 2, state: 'reserved' });
    backend({
      'GET read/subnets/1/addresses': { count: rows.length, results: rows, subnet: inSiteB },
      'GET read/vrfs': {
        count: 2,
        results: [
          { id: 1, name: 'global', rd: null, description: '', subnets: 3, created_at: '', updated_at: '' },
          { id: 2, name: 'site-b', rd: null, description: 'Branch office', subnets: 1, created_at: '', updated_at: '' },
        ],
      },
      'POST write/addresses': created,
    });
    renderSubnet();
    await waitFor(() => expect(screen.getByTestId(testIds.vrfChip)).toHaveAttribute('data-vrf', 'site-b'));
    expect(screen.getByTestId(testIds.vrfChip)).toHaveTextContent('VRF site-b');
    expect(screen.getByTestId(testIds.subnet.dashboard)).toHaveAttribute(
      'href',
      '/d/lanscape-subnet?var-vrf=site-b&var-subnet=10.0.0.0%2F24'
    );
    fireEvent.click(await screen.findByTestId(testIds.subnet.gapRow('10.0.0.15')));
    fireEvent.click(screen.getByTestId(testIds.subnet.gapReserve('10.0.0.20')));
    const dialog = await screen.findByRole('dialog');
    expect(within(dialog).getByTestId(testIds.vrfChip)).toHaveTextContent('VRF site-b');
    fireEvent.click(within(dialog).getByRole('button', { name: /Reserve 10\.0\.0\.20/ }));
    expect(await screen.findByText('Reserved 10.0.0.20')).toBeInTheDocument();
    // Recorded in the subnet's VRF, not in the global one's 10.0.0.0/24.
    expect(requestTo(mockFetch, 'POST', 'write/addresses')?.data).toEqual({ address: '10.0.0.20', vrf_id: 2 });
  });

  it('applies the filters kept in the URL and writes the search into it', async () => {
    backend();
    renderSubnet('/subnets/1?status=down');
    expect(await screen.findByTestId(testIds.subnet.addressRow('10.0.0.14'))).toBeInTheDocument();
    expect(screen.queryByTestId(testIds.subnet.addressRow('10.0.0.1'))).not.toBeInTheDocument();
    expect(screen.queryByTestId(testIds.subnet.gapRow('10.0.0.15'))).not.toBeInTheDocument();
    expect(screen.getByText('1 matching of 6 of 6 rows loaded')).toBeInTheDocument();

    fireEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    expect(await screen.findByTestId(testIds.subnet.addressRow('10.0.0.1'))).toBeInTheDocument();

    fireEvent.change(screen.getByPlaceholderText('Search address, hostname, MAC, vendor, owner'), {
      target: { value: 'gw' },
    });
    await waitFor(() => expect(currentLocation()).toBe('/subnets/1?q=gw'));
    expect(screen.queryByTestId(testIds.subnet.addressRow('10.0.0.14'))).not.toBeInTheDocument();
  });

  it('reserves a free address picked in an expanded gap, then reloads the rows', async () => {
    const created = address('10.0.0.20', { id: 20, hostname: 'cam-2', state: 'reserved' });
    backend({ 'POST write/addresses': created });
    renderSubnet();
    fireEvent.click(await screen.findByTestId(testIds.subnet.gapRow('10.0.0.15')));
    fireEvent.click(screen.getByTestId(testIds.subnet.gapReserve('10.0.0.20')));

    const dialog = await screen.findByRole('dialog');
    fireEvent.change(within(dialog).getByLabelText('Hostname'), { target: { value: 'cam-2' } });
    fireEvent.click(within(dialog).getByRole('button', { name: /Reserve 10\.0\.0\.20/ }));

    expect(await screen.findByText('Reserved 10.0.0.20 (cam-2)')).toBeInTheDocument();
    expect(requestTo(mockFetch, 'POST', 'write/addresses')?.data).toEqual({ address: '10.0.0.20', hostname: 'cam-2' });
    await waitFor(() => expect(calls(mockFetch).filter((c) => c.includes('/subnets/1/addresses')).length).toBe(2));
  });

  it('shows the exporter message when reserving fails', async () => {
    backend({ 'POST write/addresses': fail(409, '10.0.0.20 is already recorded', 'conflict') });
    renderSubnet();
    fireEvent.click(await screen.findByTestId(testIds.subnet.gapRow('10.0.0.15')));
    fireEvent.click(screen.getByTestId(testIds.subnet.gapReserve('10.0.0.20')));
    const dialog = await screen.findByRole('dialog');
    fireEvent.click(within(dialog).getByRole('button', { name: /Reserve 10\.0\.0\.20/ }));
    expect(await within(dialog).findByText('Conflict: 10.0.0.20 is already recorded')).toBeInTheDocument();
  });

  it('loads the next page with "Load more"', async () => {
    const first = Array.from({ length: 1000 }, (_, i) => addressRow(address(`10.2.${Math.floor(i / 256)}.${i % 256}`)));
    const second = [addressRow(address('10.2.3.232')), gapRow('10.2.3.233', '10.2.3.254', 22)];
    mockFetch.mockImplementation(
      routes({
        'GET read/subnets/1/addresses': (req: { url: string }) =>
          req.url.includes('offset=1000')
            ? { count: 1002, results: second, subnet: theSubnet }
            : { count: 1002, results: first, subnet: theSubnet },
        'GET read/ranges': { count: 0, results: [] },
      })
    );
    renderSubnet();
    expect(await screen.findByText('1,000 of 1,002 rows loaded')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId(testIds.subnet.loadMore));
    expect(await screen.findByText('1,002 of 1,002 rows loaded')).toBeInTheDocument();
    expect(calls(mockFetch)).toContain(
      'GET /api/plugin-proxy/lanscape-ipam-app/read/subnets/1/addresses?offset=1000&limit=1000'
    );
    expect(screen.queryByTestId(testIds.subnet.loadMore)).not.toBeInTheDocument();
  });

  it('loads all rows with "Load all" in pages of at most 5,000 (the exporter\'s largest page)', async () => {
    const total = 12_345;
    pagedBackend(total, theSubnet, (i) =>
      addressRow(address(`10.${Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`))
    );
    renderSubnet();
    expect(await screen.findByText('1,000 of 12,345 rows loaded')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Load all' }));
    expect(await screen.findByText('12,345 of 12,345 rows loaded')).toBeInTheDocument();
    expect(calls(mockFetch).filter((c) => c.includes('/subnets/1/addresses'))).toEqual([
      'GET /api/plugin-proxy/lanscape-ipam-app/read/subnets/1/addresses?offset=0&limit=1000',
      'GET /api/plugin-proxy/lanscape-ipam-app/read/subnets/1/addresses?offset=1000&limit=5000',
      'GET /api/plugin-proxy/lanscape-ipam-app/read/subnets/1/addresses?offset=6000&limit=5000',
      'GET /api/plugin-proxy/lanscape-ipam-app/read/subnets/1/addresses?offset=11000&limit=1345',
    ]);
  });

  it('opens the address drawer from a row and keeps it in the URL', async () => {
    backend({
      'GET read/addresses/11': gw,
      'GET read/addresses/11/history': {
        address: '10.0.0.1',
        observed: gw.observed,
        uptime: { '24h': 1, '7d': 0.995 },
        samples: [],
        hourly: [],
      },
      'GET read/events': { count: 0, results: [] },
    });
    renderSubnet();
    fireEvent.click(await screen.findByTestId(testIds.subnet.addressRow('10.0.0.1')));
    expect(await screen.findByTestId(testIds.drawer.container)).toBeInTheDocument();
    expect(currentLocation()).toBe('/subnets/1?address=11');
    expect(await screen.findByText('99.5 %')).toBeInTheDocument();
  });

  it('draws the subnet as a map: addresses by state and status, a click opens an address or reserves a free one', async () => {
    backend();
    renderSubnet('/subnets/1?view=map');
    const map = await screen.findByTestId(testIds.subnet.map);
    const grid = await within(map).findByRole('grid', { name: /^Map of 10\.0\.0\.0\/24/ });
    const cells = grid.querySelectorAll('[data-index]');
    expect(cells).toHaveLength(256);
    expect(cells[1]).toHaveAttribute('data-category', 'assigned');
    expect(cells[1]).toHaveAttribute('data-status', 'up');
    expect(cells[14]).toHaveAttribute('data-status', 'down');
    expect(cells[2]).toHaveAttribute('data-category', 'free');
    expect(cells[0]).toHaveAttribute('data-category', 'network');
    expect(within(map).getByText('2 of 254 used')).toBeInTheDocument();
    // The table and its filters are not shown beside the map.
    expect(screen.queryByTestId(testIds.subnet.table)).not.toBeInTheDocument();
    expect(screen.queryByTestId(testIds.subnet.search)).not.toBeInTheDocument();

    fireEvent.click(cells[2]!);
    expect(await screen.findByRole('button', { name: 'Reserve 10.0.0.2' })).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    fireEvent.click(cells[14]!);
    await waitFor(() => expect(currentLocation()).toBe('/subnets/1?view=map&address=14'));
  });

  it('loads every row when the map opens, so the map is whole', async () => {
    pagedBackend(2_500, bigSubnet, (i) => addressRow(address(`10.0.${Math.floor(i / 256)}.${i % 256}`)));
    renderSubnet('/subnets/1?view=map');
    const map = await screen.findByTestId(testIds.subnet.map);
    await waitFor(() => expect(within(map).getByText(/^2,500 of 65,534 used/)).toBeInTheDocument());
    expect(calls(mockFetch).filter((c) => c.includes('/subnets/1/addresses'))).toEqual([
      'GET /api/plugin-proxy/lanscape-ipam-app/read/subnets/1/addresses?offset=0&limit=1000',
      'GET /api/plugin-proxy/lanscape-ipam-app/read/subnets/1/addresses?offset=1000&limit=1500',
    ]);
    // A /16 is drawn as its 256 /24 blocks.
    const blocks = within(map).getByRole('grid').querySelectorAll('[data-index]');
    expect(blocks).toHaveLength(256);
    expect(blocks[9]).toHaveAttribute('data-used', '196');
  });

  it("shows the exporter's error when the subnet cannot be loaded", async () => {
    mockFetch.mockImplementation(
      routes({
        'GET read/subnets/1/addresses': new Failure(404, {
          error: { code: 'not_found', message: 'subnet 1 not found' },
        }),
        'GET read/ranges': { count: 0, results: [] },
      })
    );
    renderSubnet();
    expect(await screen.findByText('subnet 1 not found')).toBeInTheDocument();
    expect(screen.getByText('Cannot load the addresses of this subnet')).toBeInTheDocument();
  });
});
