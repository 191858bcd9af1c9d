import React from 'react';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import type { Address } from '../../../api/types';
import { type Answer, calls, fail, requestTo, routes } from '../../../test/backend';
import '../../../test/dom';
import { address, observation } from '../../../test/fixtures';
import { AddressDrawer } from './AddressDrawer';
import { testIds } from '../../../components/testIds';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const cam: Address = address('10.0.0.14', {
  id: 14,
  hostname: 'cam-1',
  owner: 'facilities',
  source: 'discovered',
  state: 'assigned',
  mac: 'aa:bb:cc:dd:ee:ff',
  observed: observation({
    status: 'down',
    mac: '00:11:22:33:44:55',
    vendor: 'Hikvision',
    ports: [
      { port: 554, protocol: 'tcp', service: 'rtsp', product: null, version: null },
      { port: 80, protocol: 'tcp', service: 'http', product: 'lighttpd', version: '1.4' },
    ],
  }),
});

const history = {
  address: '10.0.0.14',
  observed: cam.observed,
  uptime: { '24h': 0.75, '7d': 0.9821 },
  samples: [],
  hourly: [
    { hour: '2026-11-22T07:00:00.000Z', samples: 12, up_ratio: 1, rtt_avg_seconds: 0.001 },
    { hour: '2026-11-22T08:00:00.000Z', samples: 12, up_ratio: 0.5, rtt_avg_seconds: 0.001 },
    { hour: '2026-11-22T09:00:00.000Z', samples: 12, up_ratio: 0, rtt_avg_seconds: null },
  ],
};

function backend(extra: Record<string, Answer> = {}) {
  mockFetch.mockImplementation(
    routes({
      'GET read/addresses/14': cam,
      'GET read/addresses/14/history': history,
      'GET read/events': {
        count: 1,
        results: [
          {
            id: 1,
            at: '2026-11-22T09:00:00.000Z',
            kind: 'down',
            address: '10.0.0.14',
            subnet_id: 1,
            message: '10.0.0.14 went down',
            details: null,
          },
        ],
      },
      ...extra,
    })
  );
}

const renderDrawer = (props: Partial<React.ComponentProps<typeof AddressDrawer>> = {}) => {
  const onClose = jest.fn();
  const onChanged = jest.fn();
  render(<AddressDrawer addressId={14} onClose={onClose} onChanged={onChanged} {...props} />);
  return { onClose, onChanged };
};

describe('AddressDrawer', () => {
  beforeEach(() => mockFetch.mockReset());

  it('shows details, what discovery saw, uptime, the status history, ports and events', async () => {
    backend();
    renderDrawer();
    const drawer = await screen.findByTestId(testIds.drawer.container);
    expect(await within(drawer).findByText('98.21 %')).toBeInTheDocument();
    expect(within(drawer).getByText('75 %')).toBeInTheDocument();
    expect(drawer).toHaveTextContent('Hikvision');
    expect(drawer).toHaveTextContent('00:11:22:33:44:55');
    expect(within(drawer).getByTestId('exclamation-triangle')).toBeInTheDocument(); // MAC mismatch mark
    expect(drawer.textContent!.indexOf('80/http')).toBeLessThan(drawer.textContent!.indexOf('554/rtsp'));
    expect(drawer).toHaveTextContent('lighttpd 1.4');
    expect(await within(drawer).findByText('10.0.0.14 went down')).toBeInTheDocument();
    const sparkline = within(drawer).getByTestId(testIds.drawer.sparkline);
    expect(sparkline.querySelectorAll('rect')).toHaveLength(1 + 3);
    expect(sparkline).toHaveAttribute('aria-label', 'Status history: 3 buckets, 2 with missed probes');
    expect(calls(mockFetch)).toContain('GET /api/plugin-proxy/lanscape-ipam-app/read/addresses/14/history?hours=168');
    expect(calls(mockFetch)).toContain(
      'GET /api/plugin-proxy/lanscape-ipam-app/read/events?address=10.0.0.14&limit=20'
    );
  });

  it('edits the IPAM fields inline and sends only what changed', async () => {
    backend({ 'PATCH write/addresses/14': { ...cam, hostname: 'cam-lobby' } });
    const { onChanged } = renderDrawer();
    fireEvent.click(await screen.findByTestId(testIds.drawer.edit));
    const form = screen.getByRole('form', { name: 'Edit address' });
    fireEvent.change(within(form).getByLabelText('Hostname'), { target: { value: 'cam-lobby' } });
    fireEvent.change(within(form).getByLabelText('Owner'), { target: { value: '' } });
    fireEvent.click(within(form).getByTestId(testIds.drawer.save));
    await waitFor(() => expect(onChanged).toHaveBeenCalled());
    expect(requestTo(mockFetch, 'PATCH', 'write/addresses/14')?.data).toEqual({ hostname: 'cam-lobby', owner: null });
  });

  it('takes over a discovered address', async () => {
    backend({ 'PATCH write/addresses/14': { ...cam, source: 'manual' } });
    const { onChanged } = renderDrawer();
    fireEvent.click(await screen.findByTestId(testIds.drawer.takeOver));
    await waitFor(() => expect(onChanged).toHaveBeenCalled());
    expect(requestTo(mockFetch, 'PATCH', 'write/addresses/14')?.data).toEqual({ source: 'manual' });
  });

  it('releases after a confirmation, and shows a refusal verbatim', async () => {
    let first = true;
    backend({
      'DELETE write/addresses/14': () => {
        if (first) {
          first = false;
          return fail(403, 'the token has read scope only', 'forbidden');
        }
        return null;
      },
    });
    const { onClose, onChanged } = renderDrawer();
    fireEvent.click(await screen.findByTestId(testIds.drawer.release));
    fireEvent.click(
      within(await screen.findByRole('dialog', { name: /Release 10\.0\.0\.14\?/ })).getByRole('button', {
        name: 'Release',
      })
    );
    expect(
      await screen.findByText(
        'Your Grafana role or the configured token is not allowed to do this. (the token has read scope only)'
      )
    ).toBeInTheDocument();
    expect(onClose).not.toHaveBeenCalled();

    fireEvent.click(screen.getByTestId(testIds.drawer.release));
    fireEvent.click(
      within(await screen.findByRole('dialog', { name: /Release 10\.0\.0\.14\?/ })).getByRole('button', {
        name: 'Release',
      })
    );
    await waitFor(() => expect(onClose).toHaveBeenCalled());
    expect(onChanged).toHaveBeenCalledTimes(1);
  });

  it('hides the changes for a read-only user', async () => {
    backend();
    renderDrawer({ canWrite: false });
    await screen.findByText('98.21 %');
    expect(screen.queryByTestId(testIds.drawer.edit)).not.toBeInTheDocument();
    expect(screen.queryByTestId(testIds.drawer.release)).not.toBeInTheDocument();
    // Everyone can follow the address into its Grafana dashboard.
    expect(screen.getByTestId(testIds.drawer.hostDashboard)).toHaveAttribute(
      'href',
      '/d/lanscape-host?var-address=10.0.0.14'
    );
  });
});
