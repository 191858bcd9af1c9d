import React from 'react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { testIds } from '../../components/testIds';
import { type Answer, calls, fail, requestTo, routes } from '../../test/backend';
import '../../test/dom';
import { address, range, subnet } from '../../test/fixtures';
import { renderAt } from '../../test/render';
import Reserve from './Reserve';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const servers = subnet({ id: 1, cidr: '10.0.0.0/24', name: 'servers' });
const vrfRow = (id: number, name: string) => ({
  id,
  name,
  rd: null,
  description: '',
  subnets: 1,
  created_at: '1970-01-01T00:00:00.000Z',
  updated_at: '1970-01-01T00:00:00.000Z',
});
const free = (...ips: string[]) => ({ count: ips.length, results: ips.map((ip) => ({ address: ip, family: 4 })) });

function backend(extra: Record<string, Answer> = {}) {
  mockFetch.mockImplementation(
    routes({
      'GET read/subnets': { count: 1, results: [servers] },
      'GET read/ranges': { count: 1, results: [range({ id: 7, auto_allocate: true })] },
      'GET read/subnets/1/available-ips': (req: { url: string }) => {
        const limit = Number(new URL(req.url, 'http://x').searchParams.get('limit'));
        return free(...['10.0.0.15', '10.0.0.16', '10.0.0.17', '10.0.0.18'].slice(0, limit));
      },
      ...extra,
    })
  );
}

describe('Reserve page', () => {
  beforeEach(() => mockFetch.mockReset());

  it('previews the next free address, then reserves it and lists the result', async () => {
    backend({
      'POST write/subnets/1/available-ips': [
        address('10.0.0.15', { id: 15, hostname: 'web-1', owner: 'alice', state: 'reserved' }),
      ],
    });
    renderAt(<Reserve />, '/reserve?subnet=1');

    const preview = await screen.findByTestId(testIds.reserve.preview);
    await waitFor(() => expect(preview).toHaveTextContent('Next free: 10.0.0.15'));
    expect(calls(mockFetch)).toContain('GET /api/plugin-proxy/lanscape-ipam-app/read/subnets/1/available-ips?limit=1');

    fireEvent.change(screen.getByTestId(testIds.reserve.hostname), { target: { value: 'web-1' } });
    fireEvent.change(screen.getByTestId(testIds.reserve.owner), { target: { value: 'alice' } });
    const confirm = screen.getByTestId(testIds.reserve.confirm);
    expect(confirm).toHaveTextContent('Reserve 10.0.0.15');
    fireEvent.click(confirm);

    const results = await screen.findByTestId(testIds.reserve.results);
    expect(within(results).getByRole('link', { name: '10.0.0.15' })).toHaveAttribute(
      'href',
      '/a/lanscape-ipam-app/subnets/1?address=15'
    );
    expect(results).toHaveTextContent('web-1');
    expect(requestTo(mockFetch, 'POST', 'write/subnets/1/available-ips')?.data).toEqual({
      count: 1,
      hostname: 'web-1',
      owner: 'alice',
    });
  });

  it('explains a 409 in words and keeps the exporter message', async () => {
    backend({
      'POST write/subnets/1/available-ips': fail(
        409,
        'subnet 10.0.0.0/24 has no free address(es); 1 requested',
        'conflict',
        { requested: 1, available: 0 }
      ),
    });
    renderAt(<Reserve />, '/reserve?subnet=1');
    await waitFor(() => expect(screen.getByTestId(testIds.reserve.confirm)).toBeEnabled());
    fireEvent.click(screen.getByTestId(testIds.reserve.confirm));

    const error = await screen.findByTestId(testIds.reserve.error);
    expect(error).toHaveTextContent('Nothing was reserved');
    expect(error).toHaveTextContent('Conflict: subnet 10.0.0.0/24 has no free address(es); 1 requested');
    expect(error).toHaveTextContent('there are not enough free addresses here');
    expect(screen.queryByTestId(testIds.reserve.results)).not.toBeInTheDocument();
  });

  it('reserves a specific address and explains a 422', async () => {
    backend({ 'POST write/addresses': fail(422, '10.0.0.0 is the network address of 10.0.0.0/24', 'ipam_rule') });
    renderAt(<Reserve />, '/reserve?subnet=1&mode=specific');
    const input = await screen.findByTestId(testIds.reserve.address);
    const confirm = screen.getByTestId(testIds.reserve.confirm);

    fireEvent.change(input, { target: { value: '10.0.1.7' } });
    expect(await screen.findByText('10.0.1.7 is outside 10.0.0.0/24')).toBeInTheDocument();
    expect(confirm).toBeDisabled();

    fireEvent.change(input, { target: { value: '10.0.0.0' } });
    await waitFor(() => expect(confirm).toBeEnabled());
    expect(confirm).toHaveTextContent('Reserve 10.0.0.0');
    fireEvent.click(confirm);

    expect(await screen.findByTestId(testIds.reserve.error)).toHaveTextContent(
      'The exporter refused this by an IPAM rule: 10.0.0.0 is the network address of 10.0.0.0/24.'
    );
    expect(requestTo(mockFetch, 'POST', 'write/addresses')?.data).toEqual({ address: '10.0.0.0' });
    // No preview call for a specific address
    expect(calls(mockFetch).some((c) => c.includes('available-ips'))).toBe(false);
  });

  it("reserves a specific address in the chosen subnet's VRF (#15)", async () => {
    const siteB = subnet({ id: 5, vrf_id: 2, cidr: '10.0.0.0/24', name: 'servers-b' });
    backend({
      'GET read/subnets': { count: 2, results: [servers, siteB] },
      'GET read/vrfs': { count: 2, results: [vrfRow(1, 'global'), vrfRow(2, 'site-b')] },
      'POST write/addresses': address('10.0.0.9', { vrf_id: 2, subnet_id: 5 }),
    });
    renderAt(<Reserve />, '/reserve?subnet=5&mode=specific');
    // The chosen subnet's VRF, by name; the two subnets of one CIDR are told apart in the choice.
    await waitFor(() => expect(screen.getByTestId(testIds.vrfChip)).toHaveAttribute('data-vrf', 'site-b'));
    expect(screen.getByTestId(testIds.vrfChip)).toHaveTextContent('VRF site-b');
    await waitFor(() =>
      expect(document.getElementById('reserve-subnet')).toHaveValue('10.0.0.0/24 (site-b) · servers-b')
    );
    const input = await screen.findByTestId(testIds.reserve.address);
    fireEvent.change(input, { target: { value: '10.0.0.9' } });
    const confirm = screen.getByTestId(testIds.reserve.confirm);
    await waitFor(() => expect(confirm).toBeEnabled());
    fireEvent.click(confirm);
    await waitFor(() => expect(requestTo(mockFetch, 'POST', 'write/addresses')).toBeDefined());
    expect(requestTo(mockFetch, 'POST', 'write/addresses')?.data).toEqual({ address: '10.0.0.9', vrf_id: 2 });
  });

  it('reserves N at once after previewing them, and refuses when too few are free', async () => {
    backend({
      'POST write/subnets/1/available-ips': (req: { data: { count: number } }) =>
        ['10.0.0.15', '10.0.0.16', '10.0.0.17'].slice(0, req.data.count).map((ip, i) => address(ip, { id: 40 + i })),
    });
    renderAt(<Reserve />, '/reserve?subnet=1&mode=many');
    const count = await screen.findByTestId(testIds.reserve.count);
    fireEvent.change(count, { target: { value: '3' } });
    const preview = screen.getByTestId(testIds.reserve.preview);
    await waitFor(() => expect(preview).toHaveTextContent('The next 3:10.0.0.15, 10.0.0.16, 10.0.0.17'));
    const confirm = screen.getByTestId(testIds.reserve.confirm);
    expect(confirm).toHaveTextContent('Reserve 3 addresses');
    fireEvent.click(confirm);
    const results = await screen.findByTestId(testIds.reserve.results);
    expect(within(results).getAllByRole('listitem')).toHaveLength(3);
    expect(requestTo(mockFetch, 'POST', 'write/subnets/1/available-ips')?.data).toEqual({ count: 3 });

    fireEvent.change(count, { target: { value: '9' } });
    await waitFor(() => expect(preview).toHaveTextContent('Only 4 free:'));
    expect(confirm).toBeDisabled();
  });

  it('previews and allocates from a chosen range', async () => {
    backend({
      'GET read/ranges/7/available-ips': free('10.0.0.100'),
      'POST write/ranges/7/available-ips': [address('10.0.0.100', { id: 100 })],
    });
    renderAt(<Reserve />, '/reserve?subnet=1&range=7');
    await waitFor(() => expect(screen.getByTestId(testIds.reserve.preview)).toHaveTextContent('Next free: 10.0.0.100'));
    fireEvent.click(screen.getByTestId(testIds.reserve.confirm));
    expect(await screen.findByTestId(testIds.reserve.results)).toHaveTextContent('10.0.0.100');
    expect(calls(mockFetch)).toContain('POST /api/plugin-proxy/lanscape-ipam-app/write/ranges/7/available-ips');
  });
});
