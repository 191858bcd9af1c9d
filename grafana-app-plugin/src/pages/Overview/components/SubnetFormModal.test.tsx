import React from 'react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { testIds } from '../../../components/testIds';
import { requestTo, routes } from '../../../test/backend';
import '../../../test/dom';
import { subnet } from '../../../test/fixtures';
import { renderAt } from '../../../test/render';
import { pick } from '../../../test/ui';
import { SubnetFormModal } from './SubnetFormModal';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const v6 = subnet({ id: 7, cidr: '2001:db8:0:1::/64', family: 6, prefix_length: 64, name: 'v6 lab', gateway: null });
const host = subnet({ id: 8, cidr: '10.0.0.5/32', prefix_length: 32, name: 'one host' });

describe('SubnetFormModal, next free in a subnet', () => {
  beforeEach(() => mockFetch.mockReset());

  it('sizes IPv6 children by the whole block and offers no single-address subnet as a parent', async () => {
    mockFetch.mockImplementation(
      routes({
        'GET read/subnets/7/available-prefixes': {
          count: 1,
          results: [{ prefix: '2001:db8:0:1::/120', family: 6, size: 256 }],
        },
      })
    );
    renderAt(<SubnetFormModal subnets={[v6, host]} onDismiss={jest.fn()} onSaved={jest.fn()} />);
    const form = await screen.findByTestId(testIds.subnetForm.form);
    fireEvent.click(within(screen.getByTestId(testIds.subnetForm.mode)).getByLabelText('Next free in a subnet'));
    pick(testIds.subnetForm.parent, '10.0.0.5/32');
    expect(screen.getByTestId(testIds.subnetForm.parent)).not.toHaveValue('10.0.0.5/32 · one host');
    pick(testIds.subnetForm.parent, '2001:db8:0:1::/64');
    expect(within(form).getByText('/65 to /128')).toBeInTheDocument();

    fireEvent.change(within(form).getByTestId(testIds.subnetForm.hosts), { target: { value: '256' } });
    expect(within(form).getByTestId(testIds.subnetForm.hostsFit)).toHaveTextContent('/120 · 256 addresses');
    expect(await within(form).findByText('2001:db8:0:1::/120')).toBeInTheDocument();
    expect(requestTo(mockFetch, 'GET', 'read/subnets/7/available-prefixes')?.url).toContain('prefix_length=120');

    fireEvent.change(within(form).getByTestId(testIds.subnetForm.hosts), { target: { value: '' } });
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.prefixLength), { target: { value: '129' } });
    fireEvent.click(within(form).getByTestId(testIds.subnetForm.submit));
    expect(await within(form).findByText('A prefix length from /65 to /128 in 2001:db8:0:1::/64')).toBeInTheDocument();
    expect(requestTo(mockFetch, 'POST', 'write/subnets/7/available-prefixes')).toBeUndefined();
  });

  it('edits without the choice: the prefix of a subnet cannot change', async () => {
    renderAt(<SubnetFormModal subnet={v6} subnets={[v6]} onDismiss={jest.fn()} onSaved={jest.fn()} />);
    await screen.findByTestId(testIds.subnetForm.form);
    expect(screen.queryByTestId(testIds.subnetForm.mode)).not.toBeInTheDocument();
    expect(screen.getByTestId(testIds.subnetForm.cidr)).toBeDisabled();
  });
});

describe('SubnetFormModal, VRFs (#15)', () => {
  beforeEach(() => mockFetch.mockReset());
  const vrf = (id: number, name: string) => ({
    id,
    name,
    rd: null,
    description: '',
    subnets: 0,
    created_at: '1970-01-01T00:00:00.000Z',
    updated_at: '1970-01-01T00:00:00.000Z',
  });

  it('adds a subnet in the VRF chosen; with the global VRF alone there is no choice', async () => {
    const created = jest.fn();
    mockFetch.mockImplementation(
      routes({
        'POST write/subnets': (req: { data: unknown }) => {
          created(req.data);
          return { ...v6, id: 12, vrf_id: 2, cidr: '192.168.1.0/24' };
        },
      })
    );
    const onSaved = jest.fn();
    renderAt(
      <SubnetFormModal
        subnets={[]}
        vrfs={[vrf(1, 'global'), vrf(2, 'site-b')]}
        onDismiss={jest.fn()}
        onSaved={onSaved}
      />
    );
    const form = await screen.findByTestId(testIds.subnetForm.form);
    fireEvent.change(within(form).getByTestId(testIds.subnetForm.cidr), { target: { value: '192.168.1.0/24' } });
    pick(testIds.subnetForm.vrf, 'site-b');
    fireEvent.click(within(form).getByTestId(testIds.subnetForm.submit));
    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(created).toHaveBeenCalledWith(expect.objectContaining({ cidr: '192.168.1.0/24', vrf_id: 2 }));
  });

  it('offers no VRF choice with the global VRF alone, nor when editing', async () => {
    const { unmount } = renderAt(
      <SubnetFormModal subnets={[]} vrfs={[vrf(1, 'global')]} onDismiss={jest.fn()} onSaved={jest.fn()} />
    );
    await screen.findByTestId(testIds.subnetForm.form);
    expect(screen.queryByTestId(testIds.subnetForm.vrf)).not.toBeInTheDocument();
    unmount();
    renderAt(
      <SubnetFormModal subnet={v6} vrfs={[vrf(1, 'global'), vrf(2, 'b')]} onDismiss={jest.fn()} onSaved={jest.fn()} />
    );
    await screen.findByTestId(testIds.subnetForm.form);
    expect(screen.queryByTestId(testIds.subnetForm.vrf)).not.toBeInTheDocument();
  });
});
