import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import type { Scan } from '../api/types';
import { calls, fail, routes } from '../test/backend';
import { ScanButton, formatPhases } from './ScanButton';
import { testIds } from './testIds';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const scan = (overrides: Partial<Scan>): Scan => ({
  id: 5,
  subnet_id: 1,
  cidr: '10.0.0.0/24',
  trigger: 'manual',
  state: 'queued',
  progress: 0,
  targets: 254,
  sent: 0,
  alive: 0,
  queued_at: '2026-11-22T10:00:00.000Z',
  started_at: null,
  finished_at: null,
  phases: [],
  warnings: [],
  ...overrides,
});

describe('ScanButton', () => {
  beforeEach(() => mockFetch.mockReset());

  it('starts a scan, shows its progress while polling, and reports when done', async () => {
    const states = [
      scan({ state: 'running', progress: 0.5, sent: 127 }),
      scan({ state: 'done', progress: 1, alive: 3, sent: 260 }),
    ];
    mockFetch.mockImplementation(
      routes({ 'POST write/subnets/1/scan': scan({ state: 'queued' }), 'GET read/scans/5': () => states.shift() })
    );
    const onDone = jest.fn();
    render(<ScanButton subnetId={1} onDone={onDone} pollMs={5} />);
    const button = screen.getByTestId(testIds.scan.button(1));
    expect(button).toHaveTextContent('Scan now');
    fireEvent.click(button);

    expect(await screen.findByText('Scanning 50 %')).toBeInTheDocument();
    expect(await screen.findByText('3 alive of 254')).toBeInTheDocument();
    expect(onDone).toHaveBeenCalledTimes(1);
    expect(onDone).toHaveBeenCalledWith(expect.objectContaining({ state: 'done', alive: 3 }));
    expect(screen.getByTestId(testIds.scan.button(1))).toHaveTextContent('Scan now');
    expect(calls(mockFetch)).toEqual([
      'POST /api/plugin-proxy/lanscape-ipam-app/write/subnets/1/scan',
      'GET /api/plugin-proxy/lanscape-ipam-app/read/scans/5',
      'GET /api/plugin-proxy/lanscape-ipam-app/read/scans/5',
    ]);
  });

  it('keeps following the scan through a failed poll (the shared polling hook)', async () => {
    const answers = [fail(502, 'bad gateway'), scan({ state: 'done', progress: 1, alive: 2, sent: 254 })];
    mockFetch.mockImplementation(
      routes({ 'POST write/subnets/1/scan': scan({ state: 'running' }), 'GET read/scans/5': () => answers.shift() })
    );
    const onDone = jest.fn();
    render(<ScanButton subnetId={1} onDone={onDone} pollMs={5} />);
    fireEvent.click(screen.getByTestId(testIds.scan.button(1)));
    expect(await screen.findByText('2 alive of 254')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.scan.progress(1))).not.toHaveTextContent('bad gateway');
    expect(onDone).toHaveBeenCalledTimes(1);
    expect(calls(mockFetch)).toHaveLength(3);
  });

  it('explains a refused scan (429) with the exporter message', async () => {
    mockFetch.mockImplementation(
      routes({
        'POST write/subnets/1/scan': fail(
          429,
          'subnet 10.0.0.0/24 was scanned 12 s ago; try again in 18 s',
          'rate_limited'
        ),
      })
    );
    render(<ScanButton subnetId={1} pollMs={5} />);
    fireEvent.click(screen.getByTestId(testIds.scan.button(1)));
    await waitFor(() =>
      expect(screen.getByTestId(testIds.scan.progress(1))).toHaveTextContent(
        'Too soon: subnet 10.0.0.0/24 was scanned 12 s ago; try again in 18 s'
      )
    );
  });

  it('shows why a scan failed', async () => {
    mockFetch.mockImplementation(
      routes({ 'POST write/subnets/1/scan': scan({ state: 'failed', error: 'no CAP_NET_RAW' }) })
    );
    const onDone = jest.fn();
    render(<ScanButton subnetId={1} onDone={onDone} pollMs={5} />);
    fireEvent.click(screen.getByTestId(testIds.scan.button(1)));
    expect(await screen.findByText(/scan failed: no CAP_NET_RAW/)).toBeInTheDocument();
    expect(onDone).toHaveBeenCalledWith(expect.objectContaining({ state: 'failed' }));
  });

  it('says what the scan spent its time on, and shows its warnings', async () => {
    const done = scan({
      state: 'done',
      progress: 1,
      alive: 4,
      phases: [
        { phase: 'sweep', seconds: 0.013, sent: 254, found: 4 },
        { phase: 'retry', pass: 1, seconds: 2.004, sent: 250, found: 0 },
        { phase: 'ports', seconds: 0.31, hosts: 4 },
        { phase: 'names', seconds: 2.002, hosts: 1 },
      ],
      warnings: [{ kind: 'resolver_unreachable', message: 'reverse DNS: the resolver did not answer' }],
    });
    expect(formatPhases(done)).toBe('sweep 0.0 s · retry 2.0 s · ports 0.3 s · names 2.0 s');
    mockFetch.mockImplementation(routes({ 'POST write/subnets/1/scan': done }));
    render(<ScanButton subnetId={1} pollMs={5} />);
    fireEvent.click(screen.getByTestId(testIds.scan.button(1)));
    expect(await screen.findByText('4 alive of 254')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.scan.warnings(1))).toHaveTextContent('reverse DNS: the resolver did not answer');
  });
});
