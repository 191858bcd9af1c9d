import React from 'react';
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { PROXY_BASE } from '../../api/client';
import type { TrafficSchedule, TrafficTest } from '../../api/types';
import { testIds } from '../../components/testIds';
import { type Answer, calls, fail, requestTo, routes } from '../../test/backend';
import '../../test/dom';
import { trafficHost, trafficInput, trafficSchedule, trafficTest } from '../../test/fixtures';
import { renderAt } from '../../test/render';
import { pick, setRole } from '../../test/ui';
import Traffic from './Traffic';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const HOSTS = { count: 2, results: [trafficHost('loop-a'), trafficHost('loop-b', { iperf3_port: 5299 })] };
const queued = (overrides: Partial<TrafficTest> = {}) =>
  trafficTest({ state: 'queued', progress: 0, started_at: null, finished_at: null, result: null, ...overrides });

function backend(extra: Record<string, Answer> = {}) {
  mockFetch.mockImplementation(
    routes({
      'GET read/traffic/hosts': HOSTS,
      'GET read/traffic-tests': { count: 0, results: [] },
      'GET read/traffic-schedules': { count: 0, results: [] },
      ...extra,
    })
  );
}

const field = (name: string, prefix = 'run') => screen.getByTestId(testIds.traffic.field(prefix, name));
const posts = () => calls(mockFetch).filter((c) => c.startsWith('POST '));

describe('Traffic tests page', () => {
  beforeEach(() => {
    mockFetch.mockReset();
    setRole('Editor');
  });
  afterAll(() => setRole(undefined));

  it('runs a test, follows it while it runs, then shows its result and lists it', async () => {
    let finish = false;
    let listed: TrafficTest[] = [];
    const done = trafficTest({ id: 7, duration_seconds: 2 });
    backend({
      'POST write/traffic-tests': queued({ id: 7, duration_seconds: 2 }),
      'GET read/traffic-tests/7': () => {
        if (finish) {
          listed = [done];
          return done;
        }
        return queued({ id: 7, duration_seconds: 2, state: 'running', progress: 0.5, started_at: done.started_at });
      },
      'GET read/traffic-tests': () => ({ count: listed.length, results: listed }),
    });
    renderAt(<Traffic pollMs={5} />, '/traffic');
    await screen.findByTestId(testIds.traffic.form);
    pick(testIds.traffic.field('run', 'source'), 'loop-a');
    pick(testIds.traffic.field('run', 'target'), 'loop-b');
    fireEvent.change(field('duration'), { target: { value: '2' } });
    fireEvent.click(field('start-server'));
    fireEvent.click(screen.getByTestId(testIds.traffic.run));

    const progress = await screen.findByTestId(testIds.traffic.progress);
    await waitFor(() => expect(progress).toHaveAttribute('aria-valuetext', '1 s of 2 s'));
    const current = screen.getByTestId(testIds.traffic.current);
    expect(within(current).getByTestId(testIds.traffic.statePill)).toHaveAttribute('data-state', 'running');
    expect(current).toHaveTextContent('loop-a → loop-b (127.0.0.1)');
    expect(screen.getByTestId(testIds.traffic.run)).toBeDisabled();
    expect(requestTo(mockFetch, 'POST', 'write/traffic-tests')?.data).toEqual(
      trafficInput({ duration_seconds: 2, start_server: true })
    );

    finish = true;
    const result = await screen.findByTestId(testIds.traffic.result);
    expect(result).toHaveTextContent('Received940 Mbit/s');
    expect(result).toHaveTextContent('Sent942 Mbit/s');
    expect(result).toHaveTextContent('Retransmits3');
    expect(within(current).getByTestId(testIds.traffic.statePill)).toHaveAttribute('data-state', 'done');
    expect(screen.queryByTestId(testIds.traffic.progress)).not.toBeInTheDocument();
    expect(screen.getByTestId(testIds.traffic.run)).toBeEnabled();

    // The finished test reloads the recent results, with the pair's history.
    const row = await screen.findByTestId(testIds.traffic.resultRow(7));
    expect(within(row).getByTestId(testIds.traffic.throughput(7))).toHaveTextContent('940 Mbit/s');
    await waitFor(() =>
      expect(calls(mockFetch)).toContain(
        `GET ${PROXY_BASE}/read/traffic-tests?source=loop-a&target=loop-b&state=done&limit=50`
      )
    );
    // Polling stopped at done.
    const polls = calls(mockFetch).filter((c) => c === `GET ${PROXY_BASE}/read/traffic-tests/7`).length;
    await act(() => new Promise((r) => setTimeout(r, 50)));
    expect(calls(mockFetch).filter((c) => c === `GET ${PROXY_BASE}/read/traffic-tests/7`)).toHaveLength(polls);
  });

  it('checks the form on the client: a bad IP or a duration out of range sends nothing', async () => {
    backend();
    renderAt(<Traffic pollMs={5} />, '/traffic');
    await screen.findByTestId(testIds.traffic.form);
    pick(testIds.traffic.field('run', 'target'), '10.0.0.300');
    fireEvent.change(field('duration'), { target: { value: '301' } });
    fireEvent.click(screen.getByTestId(testIds.traffic.run));

    expect(await screen.findByText('Choose the host that runs the iperf3 client')).toBeInTheDocument();
    expect(screen.getByText('10.0.0.300 is neither a configured host nor an IPv4 or IPv6 address')).toBeInTheDocument();
    expect(screen.getByText('Whole seconds from 1 to 300')).toBeInTheDocument();
    // A typed IP is no configured host: no server can be started there.
    expect(field('start-server')).toBeDisabled();
    expect(posts()).toEqual([]);
  });

  it('runs a UDP test to a typed IP address and shows why it failed', async () => {
    backend({
      'POST write/traffic-tests': queued({ id: 8, target: '127.0.0.9', target_address: '127.0.0.9', protocol: 'udp' }),
      'GET read/traffic-tests/8': queued({
        id: 8,
        target: '127.0.0.9',
        target_address: '127.0.0.9',
        protocol: 'udp',
        state: 'failed',
        error: 'iperf3 on loop-a: unable to connect to server: Connection refused',
      }),
    });
    renderAt(<Traffic pollMs={5} />, '/traffic');
    await screen.findByTestId(testIds.traffic.form);
    pick(testIds.traffic.field('run', 'source'), 'loop-a');
    pick(testIds.traffic.field('run', 'target'), '127.0.0.9');
    fireEvent.click(within(field('protocol')).getByLabelText('UDP'));
    fireEvent.change(await screen.findByTestId(testIds.traffic.field('run', 'bitrate')), { target: { value: '0.5' } });
    fireEvent.change(field('parallel'), { target: { value: '4' } });
    fireEvent.click(field('reverse'));
    fireEvent.click(screen.getByTestId(testIds.traffic.run));

    const error = await screen.findByTestId(testIds.traffic.testError);
    expect(error).toHaveTextContent('The test failed');
    expect(error).toHaveTextContent('iperf3 on loop-a: unable to connect to server: Connection refused');
    expect(requestTo(mockFetch, 'POST', 'write/traffic-tests')?.data).toEqual(
      trafficInput({
        target: '127.0.0.9',
        protocol: 'udp',
        bitrate_bits_per_second: 500_000,
        parallel: 4,
        reverse: true,
      })
    );
  });

  it("shows the exporter's 422 message verbatim when it refuses to start", async () => {
    backend({
      'POST write/traffic-tests': fail(
        422,
        'the host key of loop-b does not match the pinned one',
        'host_key_mismatch'
      ),
    });
    renderAt(<Traffic pollMs={5} />, '/traffic');
    await screen.findByTestId(testIds.traffic.form);
    pick(testIds.traffic.field('run', 'source'), 'loop-a');
    pick(testIds.traffic.field('run', 'target'), 'loop-b');
    fireEvent.click(screen.getByTestId(testIds.traffic.run));
    expect(await screen.findByTestId(testIds.traffic.runError)).toHaveTextContent(
      'The exporter refused this test: the host key of loop-b does not match the pinned one'
    );
    expect(screen.queryByTestId(testIds.traffic.current)).not.toBeInTheDocument();
  });

  it('lists recent results with throughput, UDP jitter and loss, errors, histories and dashboard links', async () => {
    const tcp = trafficTest({ id: 9 });
    const udp = trafficTest({
      id: 10,
      target: '10.0.0.7',
      target_address: '10.0.0.7',
      protocol: 'udp',
      reverse: true,
      bitrate_bits_per_second: 100e6,
      result: {
        sent_bits_per_second: 100e6,
        received_bits_per_second: 99.8e6,
        retransmits: null,
        jitter_seconds: 0.000021,
        lost_packets: 12,
        packets: 10000,
        loss_ratio: 0.0012,
        seconds: 10,
      },
    });
    const failed = trafficTest({
      id: 11,
      state: 'failed',
      result: null,
      error: 'ssh: connect to 127.0.0.1 port 22: refused',
    });
    const history = [tcp, trafficTest({ id: 5, result: { ...tcp.result!, received_bits_per_second: 900e6 } })];
    backend({
      'GET read/traffic-tests': (req: { url: string }) => {
        const q = new URL(req.url, 'http://x').searchParams;
        if (q.get('source') === 'loop-a' && q.get('target') === 'loop-b') {
          // Of the pair's done tests, a UDP one does not belong in the TCP line.
          return { count: 3, results: [...history, trafficTest({ id: 4, protocol: 'udp' })] };
        }
        if (q.get('source')) {
          return { count: 1, results: [udp] };
        }
        return { count: 3, results: [failed, udp, tcp] };
      },
    });
    renderAt(<Traffic pollMs={5} />, '/traffic');
    const tcpRow = await screen.findByTestId(testIds.traffic.resultRow(9));
    expect(tcpRow).toHaveTextContent('loop-a → loop-b (127.0.0.1)');
    expect(tcpRow).toHaveTextContent('TCP · 10 s');
    expect(tcpRow).toHaveTextContent('forward');
    expect(tcpRow).toHaveTextContent('3 retransmits');
    expect(within(tcpRow).getByTestId(testIds.traffic.throughput(9))).toHaveTextContent('940 Mbit/s');
    expect(within(tcpRow).getByTestId(testIds.traffic.dashboard)).toHaveAttribute(
      'href',
      '/d/lanscape-traffic?var-source=loop-a&var-target=loop-b'
    );
    await waitFor(() =>
      expect(within(tcpRow).getByTestId(testIds.traffic.sparkline)).toHaveAttribute('data-points', '2')
    );
    expect(within(tcpRow).getByTestId(testIds.traffic.sparkline)).toHaveAccessibleName(
      'loop-a → loop-b TCP: 2 test(s), latest 940 Mbit/s, lowest 900 Mbit/s, highest 940 Mbit/s'
    );

    const udpRow = screen.getByTestId(testIds.traffic.resultRow(10));
    expect(udpRow).toHaveTextContent('loop-a → 10.0.0.7');
    expect(udpRow).toHaveTextContent('reverse');
    expect(udpRow).toHaveTextContent('jitter 0.021 ms · loss 0.12 %');
    expect(within(udpRow).getByTestId(testIds.traffic.throughput(10))).toHaveTextContent('99.8 Mbit/s');

    const failedRow = screen.getByTestId(testIds.traffic.resultRow(11));
    expect(within(failedRow).getByTestId(testIds.traffic.statePill)).toHaveAttribute('data-state', 'failed');
    expect(failedRow).toHaveTextContent('ssh: connect to 127.0.0.1 port 22: refused');
    // One history request per pair, not per row.
    expect(calls(mockFetch).filter((c) => c.includes('source=loop-a&target=loop-b'))).toHaveLength(1);
  });

  it('a Viewer sees results and schedules read-only, without the form', async () => {
    setRole('Viewer');
    backend({
      'GET read/traffic-tests': { count: 1, results: [trafficTest({ id: 9 })] },
      'GET read/traffic-schedules': { count: 1, results: [trafficSchedule({ id: 3 })] },
    });
    renderAt(<Traffic pollMs={5} />, '/traffic');
    expect(await screen.findByTestId(testIds.traffic.viewerHint)).toHaveTextContent('needs the Editor role');
    await screen.findByTestId(testIds.traffic.resultRow(9));
    const schedule = await screen.findByTestId(testIds.traffic.scheduleRow(3));
    expect(schedule).toHaveTextContent('Yes');
    expect(screen.queryByTestId(testIds.traffic.form)).not.toBeInTheDocument();
    expect(screen.queryByTestId(testIds.traffic.addSchedule)).not.toBeInTheDocument();
    expect(screen.queryByTestId(testIds.traffic.editSchedule(3))).not.toBeInTheDocument();
    expect(screen.queryByTestId(testIds.traffic.scheduleEnabled(3))).not.toBeInTheDocument();
  });

  it("shows the exporter's message when the hosts cannot be loaded, and a hint when none are configured", async () => {
    backend({ 'GET read/traffic/hosts': fail(404, 'no route for GET /api/v1/traffic/hosts', 'not_found') });
    const { unmount } = renderAt(<Traffic pollMs={5} />, '/traffic');
    expect(await screen.findByText('Cannot load the SSH hosts')).toBeInTheDocument();
    expect(screen.getByText('no route for GET /api/v1/traffic/hosts')).toBeInTheDocument();
    unmount();

    backend({ 'GET read/traffic/hosts': { count: 0, results: [] } });
    renderAt(<Traffic pollMs={5} />, '/traffic');
    expect(await screen.findByTestId(testIds.traffic.noHosts)).toHaveTextContent('traffic.hosts');
    expect(screen.queryByTestId(testIds.traffic.form)).not.toBeInTheDocument();
  });

  it('adds, toggles, edits and deletes schedules', async () => {
    let schedules: TrafficSchedule[] = [trafficSchedule({ id: 3, last_test_id: 9, next_run_at: null })];
    backend({
      'GET read/traffic-schedules': () => ({ count: schedules.length, results: schedules }),
      'GET read/traffic-tests/9': trafficTest({
        id: 9,
        result: { ...trafficTest().result!, received_bits_per_second: 400e6 },
      }),
      'POST write/traffic-schedules': (req: { data: Partial<TrafficSchedule> }) => {
        const created = trafficSchedule({ ...req.data, id: 4 });
        schedules = [...schedules, created];
        return created;
      },
      'PATCH write/traffic-schedules/3': (req: { data: Partial<TrafficSchedule> }) => {
        schedules = schedules.map((s) => (s.id === 3 ? { ...s, ...req.data } : s));
        return schedules[0];
      },
      'DELETE write/traffic-schedules/3': () => {
        schedules = schedules.filter((s) => s.id !== 3);
        return null;
      },
    });
    renderAt(<Traffic pollMs={5} />, '/traffic');
    const row = await screen.findByTestId(testIds.traffic.scheduleRow(3));
    expect(row).toHaveTextContent('loop-a → loop-b');
    expect(row).toHaveTextContent('1h');
    expect(row).toHaveTextContent('500 Mbit/s');
    // The last result, below the floor.
    await waitFor(() => expect(row).toHaveTextContent('400 Mbit/s (below the floor)'));

    // Add
    await waitFor(() => expect(screen.getByTestId(testIds.traffic.addSchedule)).toBeEnabled());
    fireEvent.click(screen.getByTestId(testIds.traffic.addSchedule));
    await screen.findByTestId(testIds.traffic.scheduleForm);
    pick(testIds.traffic.field('schedule', 'source'), 'loop-b');
    pick(testIds.traffic.field('schedule', 'target'), '127.0.0.1');
    fireEvent.change(field('interval', 'schedule'), { target: { value: '10s' } });
    fireEvent.click(screen.getByTestId(testIds.traffic.scheduleSubmit));
    expect(await screen.findByText('From 1m to 7d, for example 15m, 1h or 3600 (seconds)')).toBeInTheDocument();
    expect(posts()).toEqual([]);
    fireEvent.change(field('interval', 'schedule'), { target: { value: '15m' } });
    fireEvent.change(field('floor', 'schedule'), { target: { value: '800' } });
    fireEvent.click(screen.getByTestId(testIds.traffic.scheduleSubmit));
    await screen.findByTestId(testIds.traffic.scheduleRow(4));
    expect(screen.queryByTestId(testIds.traffic.scheduleForm)).not.toBeInTheDocument();
    expect(requestTo(mockFetch, 'POST', 'write/traffic-schedules')?.data).toEqual({
      ...trafficInput({ source: 'loop-b', target: '127.0.0.1' }),
      interval_seconds: 900,
      enabled: true,
      floor_bits_per_second: 800e6,
    });

    // Toggle
    fireEvent.click(screen.getByTestId(testIds.traffic.scheduleEnabled(3)));
    await waitFor(() =>
      expect(requestTo(mockFetch, 'PATCH', 'write/traffic-schedules/3')?.data).toEqual({ enabled: false })
    );
    await waitFor(() => expect(screen.getByTestId(testIds.traffic.scheduleEnabled(3))).not.toBeChecked());

    // Edit: the modal starts from the schedule; the whole test is sent, an empty bitrate as null.
    fireEvent.click(screen.getByTestId(testIds.traffic.editSchedule(3)));
    await screen.findByTestId(testIds.traffic.scheduleForm);
    expect(field('interval', 'schedule')).toHaveValue('1h');
    expect(field('floor', 'schedule')).toHaveValue('500');
    expect(field('enabled', 'schedule')).not.toBeChecked();
    fireEvent.change(field('interval', 'schedule'), { target: { value: '30m' } });
    fireEvent.click(screen.getByTestId(testIds.traffic.scheduleSubmit));
    await waitFor(() => expect(screen.queryByTestId(testIds.traffic.scheduleForm)).not.toBeInTheDocument());
    const patches = mockFetch.mock.calls.map(([req]) => req).filter((req) => req.method === 'PATCH');
    expect(patches[patches.length - 1].data).toEqual({
      ...trafficInput(),
      bitrate_bits_per_second: null,
      interval_seconds: 1800,
      enabled: false,
      floor_bits_per_second: 500e6,
    });
    await waitFor(() => expect(screen.getByTestId(testIds.traffic.scheduleRow(3))).toHaveTextContent('30m'));

    // Delete
    fireEvent.click(screen.getByTestId(testIds.traffic.deleteSchedule(3)));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Stop testing loop-a → loop-b every 30m?');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(screen.queryByTestId(testIds.traffic.scheduleRow(3))).not.toBeInTheDocument());
    expect(calls(mockFetch)).toContain(`DELETE ${PROXY_BASE}/write/traffic-schedules/3`);
    expect(screen.getByTestId(testIds.traffic.scheduleRow(4))).toBeInTheDocument();
  });
});
