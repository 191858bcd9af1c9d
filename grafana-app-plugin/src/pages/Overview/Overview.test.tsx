import React from 'react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { testIds } from '../../components/testIds';
import { type Answer, calls, fail, requestTo, routes } from '../../test/backend';
import '../../test/dom';
import { subnet, utilization } from '../../test/fixtures';
import { renderAt } from '../../test/render';
import { pick } from '../../test/ui';
import Overview from './Overview';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const campus = subnet({
  id: 1,
  cidr: '10.0.0.0/16',
  name: 'campus',
  vlan: null,
  children: 2,
  utilization: utilization(10, 65534),
});
const servers = subnet({
  id: 2,
  cidr: '10.0.1.0/24',
  name: 'servers',
  parent_id: 1,
  depth: 1,
  utilization: utilization(220, 254),
});
const printers = subnet({
  id: 3,
  cidr: '10.0.2.0/24',
  name: 'printers',
  parent_id: 1,
  depth: 1,
  utilization: utilization(240, 254),
});
const home = subnet({
  id: 4,
  cidr: '192.168.1.0/24',
  name: 'home',
  vlan: 20,
  discovery: {
    hosts_up: 7,
    last_scan: {
      id: 9,
      state: 'failed',
      trigger: 'schedule',
      finished_at: new Date(Date.now() - 120_000).toISOString(),
      alive: 0,
      error: 'ICMP is unavailable: raw ICMP sockets need CAP_NET_RAW',
    },
  },
});

const GLOBAL_VRF = {
  id: 1,
  name: 'global',
  rd: null,
  description: 'The global address space',
  subnets: 4,
  created_at: '1970-01-01T00:00:00.000Z',
  updated_at: '1970-01-01T00:00:00.000Z',
};
const SITE_B = { ...GLOBAL_VRF, id: 2, name: 'site-b', description: 'Branch office', subnets: 1 };

function backend(extra: Record<string, Answer> = {}) {
  mockFetch.mockImplementation(
    routes({
      'GET read/subnets': { count: 4, results: [home, printers, campus, servers] },
      'GET read/conflicts': { count: 0, results: [] },
      'GET read/vrfs': { count: 1, results: [GLOBAL_VRF] },
      ...extra,
    })
  );
}

/** The rows' CIDRs in order (their test ids are subnet-row-<vrf id>-<cidr>). */
const rowCidrs = () =>
  screen.getAllByTestId(/^subnet-row-/).map((r) => r.getAttribute('data-testid')!.replace(/^subnet-row-\d+-/, ''));

describe('Overview page', () => {
  beforeEach(() => mockFetch.mockReset());

  it('VRFs (#15): with more than the global VRF, a VRF column and a filter; the same CIDR twice', async () => {
    const twin = subnet({ id: 9, vrf_id: 2, cidr: '192.168.1.0/24', name: 'home-b', utilization: utilization(3, 254) });
    backend({
      'GET read/subnets': { count: 5, results: [home, printers, campus, servers, twin] },
      'GET read/vrfs': { count: 2, results: [GLOBAL_VRF, SITE_B] },
    });
    renderAt(<Overview />, '/overview');
    await screen.findByTestId(testIds.overview.vrfFilter);
    expect(screen.getByRole('columnheader', { name: 'VRF' })).toBeInTheDocument();
    // One test id per (VRF, CIDR): the twins do not collide (getByTestId finds exactly one each).
    expect(screen.getByTestId(testIds.overview.vrf(1, '192.168.1.0/24'))).toHaveTextContent('global');
    expect(screen.getByTestId(testIds.overview.vrf(2, '192.168.1.0/24'))).toHaveTextContent('site-b');
    expect(screen.getByTestId(testIds.overview.subnetRow(1, '192.168.1.0/24'))).toHaveTextContent('home');
    expect(screen.getByTestId(testIds.overview.subnetRow(2, '192.168.1.0/24'))).toHaveTextContent('home-b');
    expect(screen.getByTestId(testIds.overview.alive(1, '192.168.1.0/24'))).toHaveTextContent('7');
    expect(screen.getByTestId(testIds.overview.alive(2, '192.168.1.0/24'))).toHaveTextContent('0');
    expect(rowCidrs()).toEqual(['10.0.0.0/16', '10.0.1.0/24', '10.0.2.0/24', '192.168.1.0/24', '192.168.1.0/24']);

    pick(testIds.overview.vrfFilter, 'site-b');
    await waitFor(() => expect(rowCidrs()).toEqual(['192.168.1.0/24']));
    expect(screen.getByTestId(testIds.overview.subnetRow(2, '192.168.1.0/24'))).toHaveTextContent('home-b');
    expect(screen.queryByTestId(testIds.overview.subnetRow(1, '192.168.1.0/24'))).not.toBeInTheDocument();
  });

  it('VRFs: with the global VRF alone (or no /vrfs), no VRF column and no filter', async () => {
    backend({ 'GET read/vrfs': fail(404, 'not found') });
    renderAt(<Overview />, '/overview');
    await screen.findByTestId(testIds.overview.subnetTree);
    expect(screen.queryByRole('columnheader', { name: 'VRF' })).not.toBeInTheDocument();
    expect(screen.queryByTestId(testIds.overview.vrfFilter)).not.toBeInTheDocument();
  });

  it('shows subnets as a tree with links, VLAN, utilization bars and counts', async () => {
    backend();
    renderAt(<Overview />, '/overview');
    await screen.findByTestId(testIds.overview.subnetTree);
    expect(rowCidrs()).toEqual(['10.0.0.0/16', '10.0.1.0/24', '10.0.2.0/24', '192.168.1.0/24']);

    const serversRow = screen.getByTestId(testIds.overview.subnetRow(1, '10.0.1.0/24'));
    expect(within(serversRow).getByRole('link', { name: '10.0.1.0/24' })).toHaveAttribute(
      'href',
      '/a/lanscape-ipam-app/subnets/2'
    );
    expect(within(serversRow).getByRole('link').parentElement).toHaveStyle({ paddingLeft: '20px' });
    expect(within(serversRow).getByTestId(testIds.utilizationBar)).toHaveAttribute('data-level', 'warning');
    expect(
      within(screen.getByTestId(testIds.overview.subnetRow(1, '10.0.2.0/24'))).getByTestId(testIds.utilizationBar)
    ).toHaveAttribute('data-level', 'critical');
    expect(
      within(screen.getByTestId(testIds.overview.subnetRow(1, '192.168.1.0/24'))).getByTestId(testIds.utilizationBar)
    ).toHaveAttribute('data-level', 'ok');
    expect(serversRow).toHaveTextContent('servers');
    expect(serversRow).toHaveTextContent('220');
    expect(screen.getByTestId(testIds.overview.subnetRow(1, '192.168.1.0/24'))).toHaveTextContent('20');

    fireEvent.click(screen.getByRole('button', { name: 'Collapse 10.0.0.0/16' }));
    expect(rowCidrs()).toEqual(['10.0.0.0/16', '192.168.1.0/24']);
  });

  it('shows alive hosts and the last scan, its failure in red', async () => {
    backend();
    renderAt(<Overview />, '/overview');
    await screen.findByTestId(testIds.overview.subnetTree);
    expect(screen.getByTestId(testIds.overview.alive(1, '192.168.1.0/24'))).toHaveTextContent('7');
    const home = screen.getByTestId(testIds.overview.subnetRow(1, '192.168.1.0/24'));
    expect(home).toHaveTextContent('2m ago');
    expect(screen.getByTestId(testIds.overview.subnetRow(1, '10.0.1.0/24'))).toHaveTextContent('never');
  });

  it('shows conflicts with a link to each address, naming the VRF outside the global one', async () => {
    backend({
      'GET read/vrfs': {
        count: 2,
        results: [
          { id: 1, name: 'global', rd: null, description: '', subnets: 3, created_at: '', updated_at: '' },
          { id: 2, name: 'site-b', rd: null, description: '', subnets: 1, created_at: '', updated_at: '' },
        ],
      },
      'GET read/conflicts': {
        count: 2,
        results: [
          {
            kind: 'mac_mismatch',
            vrf_id: 1,
            address: '10.0.1.5',
            address_id: 55,
            subnet_id: 2,
            message: 'seen with 00:11:22:33:44:55, recorded aa:bb:cc:dd:ee:ff',
            since: null,
            details: {},
          },
          {
            kind: 'unknown_device',
            vrf_id: 2,
            address: '10.0.1.77',
            address_id: 77,
            subnet_id: 2,
            message: 'answering but nobody reserved it',
            since: null,
            details: {},
          },
        ],
      },
    });
    renderAt(<Overview />, '/overview');
    const box = await screen.findByTestId(testIds.overview.conflicts);
    expect(box).toHaveTextContent('2 conflicts need a look');
    expect(box).toHaveTextContent('MAC mismatch: 1');
    expect(within(box).getByRole('link', { name: '10.0.1.77' })).toHaveAttribute(
      'href',
      '/a/lanscape-ipam-app/subnets/2?address=77'
    );
    // The same address may be in several VRFs: the one outside the global VRF is named.
    await waitFor(() => expect(within(box).getByTestId(testIds.vrfChip)).toHaveAttribute('data-vrf', 'site-b'));
    expect(within(box).getAllByTestId(testIds.vrfChip)).toHaveLength(1);
  });

  it('adds a subnet with the form and shows the exporter message when it refuses', async () => {
    let attempts = 0;
    backend({
      'POST write/subnets': () =>
        ++attempts === 1
          ? fail(400, 'cidr: 10.9.0.1/24 has host bits set; did you mean 10.9.0.0/24?', 'invalid_request')
          : subnet({ id: 9, cidr: '10.9.0.0/24' }),
    });
    renderAt(<Overview />, '/overview');
    fireEvent.click(await screen.findByTestId(testIds.overview.addSubnet));
    const form = await screen.findByTestId(testIds.subnetForm.form);

    fireEvent.click(within(form).getByTestId(testIds.subnetForm.submit));
    expect(await within(form).findByText('A CIDR is required, for example 10.0.0.0/24')).toBeInTheDocument();
    expect(requestTo(mockFetch, 'POST', 'write/subnets')).toBeUndefined();

    fireEvent.change(within(form).getByTestId(testIds.subnetForm.cidr), { target: { value: '10.9.0.1/24' } });
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.name), { target: { value: 'lab' } });
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.vlan), { target: { value: '99' } });
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.gateway), { target: { value: '10.9.0.1' } });
    fireEvent.click(within(form).getByTestId(testIds.subnetForm.submit));
    expect(await within(form).findByTestId(testIds.subnetForm.error)).toHaveTextContent(
      'cidr: 10.9.0.1/24 has host bits set; did you mean 10.9.0.0/24?'
    );
    expect(requestTo(mockFetch, 'POST', 'write/subnets')?.data).toEqual({
      cidr: '10.9.0.1/24',
      name: 'lab',
      vlan: 99,
      gateway: '10.9.0.1',
      tags: [],
      description: '',
      scan_enabled: true,
      scan_interval_seconds: null,
    });

    fireEvent.change(within(form).getByTestId(testIds.subnetForm.cidr), { target: { value: '10.9.0.0/24' } });
    fireEvent.click(within(form).getByTestId(testIds.subnetForm.submit));
    await waitFor(() => expect(screen.queryByTestId(testIds.subnetForm.form)).not.toBeInTheDocument());
    // reloaded after saving
    expect(
      calls(mockFetch).filter((c) => c.startsWith('GET /api/plugin-proxy/lanscape-ipam-app/read/subnets?')).length
    ).toBe(2);
  });

  it('adds the next free /N of a subnet: size helper, preview, then the POST with the form fields', async () => {
    backend({
      'GET read/subnets/2/available-prefixes': (req: { url: string }) => {
        const length = new URL(req.url, 'http://x').searchParams.get('prefix_length');
        return { count: 1, results: [{ prefix: `10.0.1.64/${length}`, family: 4, size: 64 }] };
      },
      'POST write/subnets/2/available-prefixes': [subnet({ id: 9, cidr: '10.0.1.64/26', prefix_length: 26 })],
    });
    renderAt(<Overview />, '/overview');
    fireEvent.click(await screen.findByTestId(testIds.overview.addSubnet));
    const form = await screen.findByTestId(testIds.subnetForm.form);
    fireEvent.click(within(screen.getByTestId(testIds.subnetForm.mode)).getByLabelText('Next free in a subnet'));
    expect(within(form).queryByTestId(testIds.subnetForm.cidr)).not.toBeInTheDocument();
    expect(within(form).queryByTestId(testIds.subnetForm.gateway)).not.toBeInTheDocument();

    // nothing chosen yet: the form says what is missing and posts nothing
    fireEvent.click(within(form).getByTestId(testIds.subnetForm.submit));
    expect(await within(form).findByText('Choose the subnet to take it from')).toBeInTheDocument();

    pick(testIds.subnetForm.parent, '10.0.1.0/24');
    // the size helper: 62 hosts fit a /26 exactly, 63 need a /25
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.hosts), { target: { value: '63' } });
    expect(within(form).getByTestId(testIds.subnetForm.hostsFit)).toHaveTextContent('/25 · 126 usable');
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.hosts), { target: { value: '62' } });
    expect(within(form).getByTestId(testIds.subnetForm.hostsFit)).toHaveTextContent('/26 · 62 usable');
    expect(within(form).getByTestId(testIds.subnetForm.prefixLength)).toHaveValue('26');
    expect(await within(form).findByText('10.0.1.64/26')).toBeInTheDocument();
    expect(requestTo(mockFetch, 'GET', 'read/subnets/2/available-prefixes?prefix_length=26')?.url).toBe(
      '/api/plugin-proxy/lanscape-ipam-app/read/subnets/2/available-prefixes?prefix_length=26&limit=1'
    );

    // the parent's own length or a longer-than-IPv4 one is refused before asking the exporter
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.prefixLength), { target: { value: '24' } });
    expect(await within(form).findByText('A prefix length from /25 to /32 in 10.0.1.0/24')).toBeInTheDocument();
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.hosts), { target: { value: '300' } });
    expect(within(form).getByText('More than a child of 10.0.1.0/24 can hold')).toBeInTheDocument();
    expect(requestTo(mockFetch, 'POST', 'write/subnets/2/available-prefixes')).toBeUndefined();

    fireEvent.change(within(form).getByTestId(testIds.subnetForm.hosts), { target: { value: '' } });
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.prefixLength), { target: { value: '26' } });
    expect(await within(form).findByText('10.0.1.64/26')).toBeInTheDocument();
    // without hosts, the length's own size is shown under it
    expect(within(form).getByText('/26 · 62 usable')).toBeInTheDocument();
    expect(within(form).queryByTestId(testIds.subnetForm.hostsFit)).not.toBeInTheDocument();
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.name), { target: { value: 'cameras' } });
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.vlan), { target: { value: '30' } });
    fireEvent.click(within(form).getByTestId(testIds.subnetForm.submit));
    await waitFor(() => expect(screen.queryByTestId(testIds.subnetForm.form)).not.toBeInTheDocument());
    expect(requestTo(mockFetch, 'POST', 'write/subnets/2/available-prefixes')?.data).toEqual({
      prefix_length: 26,
      count: 1,
      name: 'cameras',
      vlan: 30,
      tags: [],
      description: '',
      scan_enabled: true,
      scan_interval_seconds: null,
    });
    expect(calls(mockFetch)).not.toContain('POST /api/plugin-proxy/lanscape-ipam-app/write/subnets');
    expect(
      calls(mockFetch).filter((c) => c.startsWith('GET /api/plugin-proxy/lanscape-ipam-app/read/subnets?')).length
    ).toBe(2);
  });

  it("shows the exporter's 409 when the space went meanwhile, then asks for the preview again", async () => {
    let previews = 0;
    backend({
      'GET read/subnets/2/available-prefixes': () =>
        ++previews === 1
          ? { count: 1, results: [{ prefix: '10.0.1.0/28', family: 4, size: 16 }] }
          : { count: 0, results: [] },
      'POST write/subnets/2/available-prefixes': fail(409, 'no room for 1 /28 in 10.0.1.0/24', 'conflict'),
    });
    renderAt(<Overview />, '/overview');
    fireEvent.click(await screen.findByTestId(testIds.overview.addSubnet));
    const form = await screen.findByTestId(testIds.subnetForm.form);
    fireEvent.click(within(screen.getByTestId(testIds.subnetForm.mode)).getByLabelText('Next free in a subnet'));
    pick(testIds.subnetForm.parent, '10.0.1.0/24');
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.prefixLength), { target: { value: '/28' } });
    expect(await within(form).findByText('10.0.1.0/28')).toBeInTheDocument();
    fireEvent.click(within(form).getByTestId(testIds.subnetForm.submit));
    expect(await within(form).findByTestId(testIds.subnetForm.error)).toHaveTextContent(
      'Conflict: no room for 1 /28 in 10.0.1.0/24'
    );
    expect(await within(form).findByText('No room for a /28 in 10.0.1.0/24')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.subnetForm.form)).toBeInTheDocument();
    expect(requestTo(mockFetch, 'POST', 'write/subnets/2/available-prefixes')?.data).toMatchObject({
      prefix_length: 28,
      count: 1,
    });
  });

  it('edits a subnet without sending its CIDR', async () => {
    backend({ 'PATCH write/subnets/4': { ...home, name: 'house' } });
    renderAt(<Overview />, '/overview');
    fireEvent.click(await screen.findByTestId(testIds.overview.editSubnet(4)));
    const form = await screen.findByTestId(testIds.subnetForm.form);
    expect(within(form).getByTestId(testIds.subnetForm.cidr)).toBeDisabled();
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.name), { target: { value: 'house' } });
    fireEvent.click(within(form).getByTestId(testIds.subnetForm.submit));
    await waitFor(() => expect(requestTo(mockFetch, 'PATCH', 'write/subnets/4')).toBeDefined());
    const body = requestTo(mockFetch, 'PATCH', 'write/subnets/4')!.data;
    expect(body).toMatchObject({ name: 'house', vlan: 20 });
    expect(body).not.toHaveProperty('cidr');
  });

  it('offers to delete with its addresses when the exporter refuses with 409', async () => {
    backend({
      'DELETE write/subnets/4': (req: { url: string }) =>
        req.url.endsWith('?force=true')
          ? null
          : fail(409, 'subnet 192.168.1.0/24 still holds 3 address(es) no other subnet contains', 'conflict'),
    });
    renderAt(<Overview />, '/overview');
    fireEvent.click(await screen.findByTestId(testIds.overview.deleteSubnet(4)));
    const dialog = await screen.findByRole('dialog');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Delete' }));

    expect(
      await within(dialog).findByText(/Conflict: subnet 192\.168\.1\.0\/24 still holds 3 address\(es\)/)
    ).toBeInTheDocument();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Delete with its addresses' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(calls(mockFetch).filter((c) => c.startsWith('DELETE'))).toEqual([
      'DELETE /api/plugin-proxy/lanscape-ipam-app/write/subnets/4',
      'DELETE /api/plugin-proxy/lanscape-ipam-app/write/subnets/4?force=true',
    ]);
  });

  it('imports CSV after a dry run that lists each bad row', async () => {
    let dryRuns = 0;
    backend({
      'POST write/import/subnets': (req: { url: string; data: string }) => {
        const dryRun = req.url.includes('dry_run=true');
        if (dryRun && ++dryRuns === 1) {
          return {
            kind: 'subnets',
            dry_run: true,
            applied: false,
            rows: 2,
            valid: 1,
            errors: [{ row: 2, line: 3, field: 'vlan', message: 'Too big: expected number to be <=4094' }],
          };
        }
        return { kind: 'subnets', dry_run: dryRun, applied: !dryRun, rows: 2, valid: 2, errors: [] };
      },
    });
    renderAt(<Overview />, '/overview');
    fireEvent.click(await screen.findByTestId(testIds.overview.importCsv));
    const dialog = await screen.findByRole('dialog');
    const apply = within(dialog).getByTestId(testIds.importModal.apply);
    fireEvent.change(within(dialog).getByTestId(testIds.importModal.csv), {
      target: { value: 'cidr,vlan\n10.5.0.0/24,5\n10.6.0.0/24,5000\n' },
    });
    // Disabled (with a tooltip saying why) until a check passes
    expect(apply).toHaveAttribute('aria-disabled', 'true');

    fireEvent.click(within(dialog).getByTestId(testIds.importModal.check));
    const errors = await within(dialog).findByTestId(testIds.importModal.errors);
    expect(within(errors).getAllByRole('row')[1]).toHaveTextContent('23vlanToo big: expected number to be <=4094');
    expect(dialog).toHaveTextContent('1 of 2 rows have errors');
    expect(apply).toHaveAttribute('aria-disabled', 'true');
    fireEvent.click(apply);

    fireEvent.change(within(dialog).getByTestId(testIds.importModal.csv), {
      target: { value: 'cidr,vlan\n10.5.0.0/24,5\n10.6.0.0/24,6\n' },
    });
    fireEvent.click(within(dialog).getByTestId(testIds.importModal.check));
    expect(await within(dialog).findByText('All 2 rows are valid. Press Import to store them.')).toBeInTheDocument();
    const enabledApply = within(dialog).getByTestId(testIds.importModal.apply);
    expect(enabledApply).toBeEnabled();
    expect(enabledApply).not.toHaveAttribute('aria-disabled', 'true');
    fireEvent.click(enabledApply);
    expect(await within(dialog).findByText('2 of 2 subnets stored.')).toBeInTheDocument();
    const posts = mockFetch.mock.calls.map(([r]) => r).filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.url.split('?')[1])).toEqual(['dry_run=true', 'dry_run=true', 'dry_run=false']);
    expect(posts[2].data).toBe('cidr,vlan\n10.5.0.0/24,5\n10.6.0.0/24,6\n');
    expect(posts[2].headers).toEqual({ 'Content-Type': 'text/csv' });
  });

  it('shows the empty state and the load error', async () => {
    mockFetch.mockImplementation(
      routes({ 'GET read/subnets': { count: 0, results: [] }, 'GET read/conflicts': fail(503, 'store unavailable') })
    );
    renderAt(<Overview />, '/overview');
    expect(await screen.findByText('No subnets yet')).toBeInTheDocument();
    expect(
      await screen.findByText('The exporter cannot be reached through Grafana: store unavailable')
    ).toBeInTheDocument();
  });
});
