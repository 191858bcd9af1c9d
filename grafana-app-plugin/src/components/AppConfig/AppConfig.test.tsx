import React from 'react';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { PluginType } from '@grafana/data';
import { Failure, fail, requestTo, routes } from '../../test/backend';
import { reloadPage } from '../../utils/reload';
import { testIds } from '../testIds';
import AppConfig, { type AppConfigProps, exporterUrlProblem } from './AppConfig';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));
jest.mock('../../utils/reload', () => ({ reloadPage: jest.fn() }));

const SETTINGS = '/api/plugins/lanscape-ipam-app/settings';

function renderConfig(meta: Partial<AppConfigProps['plugin']['meta']> = {}) {
  const props = {
    plugin: {
      meta: {
        id: 'lanscape-ipam-app',
        name: 'Lanscape',
        type: PluginType.app,
        enabled: true,
        pinned: true,
        jsonData: { exporterUrl: 'http://lanscape:9645', provisionedBy: 'ansible', refreshSeconds: 30 },
        secureJsonFields: { readToken: true, writeToken: true },
        ...meta,
      },
    },
    query: {},
  } as unknown as AppConfigProps;
  return render(<AppConfig {...props} />);
}

describe('AppConfig', () => {
  beforeEach(() => {
    mockFetch.mockReset();
    (reloadPage as jest.Mock).mockReset();
  });

  it('shows the exporter URL and the three tokens as secret inputs with their configured state', () => {
    renderConfig();
    expect(screen.getByTestId(testIds.appConfig.exporterUrl)).toHaveValue('http://lanscape:9645');
    const read = screen.getByTestId(testIds.appConfig.readToken);
    const admin = screen.getByTestId(testIds.appConfig.adminToken);
    // Configured secrets show "configured" and cannot be typed into until reset.
    expect(read).toHaveValue('configured');
    expect(read).toBeDisabled();
    expect(screen.getByTestId(testIds.appConfig.writeToken)).toHaveValue('configured');
    expect(admin).toHaveValue('');
    expect(admin).toHaveAttribute('type', 'password');
    expect(admin).toBeEnabled();
    expect(screen.getAllByRole('button', { name: 'Reset' })).toHaveLength(2);
    // Nothing changed yet
    expect(screen.getByTestId(testIds.appConfig.save)).toBeDisabled();
  });

  it('saves the URL and new tokens only, keeping the jsonData it does not edit', async () => {
    mockFetch.mockImplementation(routes({ [`POST ${SETTINGS}`]: {} }));
    renderConfig();
    fireEvent.change(screen.getByTestId(testIds.appConfig.exporterUrl), {
      target: { value: 'https://ipam.example.net:9645/' },
    });
    fireEvent.change(screen.getByTestId(testIds.appConfig.adminToken), {
      target: { value: 'admin-secret-0123456789' },
    });
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));

    await waitFor(() => expect(reloadPage).toHaveBeenCalled());
    expect(requestTo(mockFetch, 'POST', SETTINGS)?.data).toEqual({
      enabled: true,
      pinned: true,
      jsonData: { exporterUrl: 'https://ipam.example.net:9645', provisionedBy: 'ansible', refreshSeconds: 30 },
      secureJsonData: { adminToken: 'admin-secret-0123456789' },
    });
  });

  it('replaces a reset token, and clears one reset and left empty', async () => {
    mockFetch.mockImplementation(routes({ [`POST ${SETTINGS}`]: {} }));
    renderConfig();
    const [resetRead, resetWrite] = screen.getAllByRole('button', { name: 'Reset' });
    fireEvent.click(resetRead!);
    fireEvent.click(resetWrite!);
    const read = screen.getByTestId(testIds.appConfig.readToken);
    expect(read).toBeEnabled();
    fireEvent.change(read, { target: { value: 'new-read-token-0123456789' } });
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));

    await waitFor(() => expect(reloadPage).toHaveBeenCalled());
    expect(requestTo(mockFetch, 'POST', SETTINGS)?.data).toMatchObject({
      jsonData: { exporterUrl: 'http://lanscape:9645', provisionedBy: 'ansible' },
      secureJsonData: { readToken: 'new-read-token-0123456789', writeToken: '' },
    });
  });

  it("shows Grafana's message when saving fails and does not reload", async () => {
    mockFetch.mockImplementation(routes({ [`POST ${SETTINGS}`]: new Failure(403, { message: 'Permission denied' }) }));
    renderConfig();
    fireEvent.change(screen.getByTestId(testIds.appConfig.exporterUrl), { target: { value: 'http://other:9645' } });
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    expect(await screen.findByText('Permission denied')).toBeInTheDocument();
    expect(reloadPage).not.toHaveBeenCalled();
  });

  it('refuses a URL that would break the proxy routes', () => {
    renderConfig();
    fireEvent.change(screen.getByTestId(testIds.appConfig.exporterUrl), {
      target: { value: 'http://lanscape:9645/api/v1' },
    });
    expect(screen.getByText('Leave out /api/v1: the plugin adds it')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.appConfig.save)).toBeDisabled();
    expect(exporterUrlProblem('lanscape:9645')).toBe('Use an http:// or https:// URL');
    expect(exporterUrlProblem('not a url')).toMatch(/^Not a URL/);
    expect(exporterUrlProblem('http://10.0.0.5:9645')).toBeUndefined();
  });

  it('tests the connection: exporter version and each collector, green or red', async () => {
    mockFetch.mockImplementation(
      routes({
        'GET read/info': {
          version: '0.4.2',
          schema_version: 7,
          collectors: {
            store: { up: true },
            icmp: { up: false, message: 'no CAP_NET_RAW: raw ICMP sockets are not allowed' },
            rdns: { up: true },
          },
        },
      })
    );
    renderConfig();
    fireEvent.click(screen.getByTestId(testIds.appConfig.testConnection));
    const result = screen.getByTestId(testIds.appConfig.testResult);
    expect(await within(result).findByText('Connected to Lanscape exporter 0.4.2')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.appConfig.collector('store'))).toHaveAttribute('data-up', 'true');
    const icmp = screen.getByTestId(testIds.appConfig.collector('icmp'));
    expect(icmp).toHaveAttribute('data-up', 'false');
    expect(icmp).toHaveTextContent('icmp not working · no CAP_NET_RAW: raw ICMP sockets are not allowed');
    expect(requestTo(mockFetch, 'GET', 'read/info')).toBeDefined();
  });

  it('shows the exact error of a failed connection test', async () => {
    mockFetch.mockImplementation(routes({ 'GET read/info': fail(401, 'invalid bearer token', 'unauthorized') }));
    renderConfig();
    fireEvent.click(screen.getByTestId(testIds.appConfig.testConnection));
    const result = screen.getByTestId(testIds.appConfig.testResult);
    expect(await within(result).findByText('Connection failed (HTTP 401)')).toBeInTheDocument();
    expect(result).toHaveTextContent(
      'The exporter refused the token: check the tokens on the Lanscape configuration page. (invalid bearer token)'
    );
  });
});
