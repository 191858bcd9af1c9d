import { ApiError, PROXY_BASE, api, explain, proxyUrl } from './client';
import { fail, routes } from '../test/backend';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const lastRequest = () => mockFetch.mock.calls[mockFetch.mock.calls.length - 1][0];

describe('api client', () => {
  beforeEach(() => mockFetch.mockReset());

  it('sends reads through the read route of the plugin proxy', async () => {
    mockFetch.mockImplementation(routes({ 'GET read/subnets': { count: 0, results: [] } }));
    await expect(api.subnets({ q: 'lab' })).resolves.toEqual({ count: 0, results: [] });
    const req = lastRequest();
    expect(PROXY_BASE).toBe('/api/plugin-proxy/lanscape-ipam-app');
    expect(req.url).toBe('/api/plugin-proxy/lanscape-ipam-app/read/subnets?limit=1000&q=lab');
    expect(req.method).toBe('GET');
    expect(req.showErrorAlert).toBe(false);
  });

  it('sends changes through the write route with the body', async () => {
    const created = { id: 3, cidr: '10.1.0.0/24' };
    mockFetch.mockImplementation(routes({ 'POST write/subnets': created }));
    await expect(api.createSubnet({ cidr: '10.1.0.0/24', name: 'lab' })).resolves.toEqual(created);
    const req = lastRequest();
    expect(req.url).toBe('/api/plugin-proxy/lanscape-ipam-app/write/subnets');
    expect(req.data).toEqual({ cidr: '10.1.0.0/24', name: 'lab' });
  });

  it('uses the write route for PATCH and DELETE, with force only when asked', async () => {
    mockFetch.mockImplementation(routes({ 'DELETE write/subnets/3': null, 'PATCH write/addresses/9': { id: 9 } }));
    await api.deleteSubnet(3);
    expect(lastRequest().url).toBe(`${PROXY_BASE}/write/subnets/3`);
    await api.deleteSubnet(3, true);
    expect(lastRequest().url).toBe(`${PROXY_BASE}/write/subnets/3?force=true`);
    await api.updateAddress(9, { source: 'manual' });
    expect(lastRequest()).toMatchObject({
      method: 'PATCH',
      url: `${PROXY_BASE}/write/addresses/9`,
      data: { source: 'manual' },
    });
  });

  it('pages subnet rows and scopes allocation to a subnet or a range', async () => {
    mockFetch.mockImplementation(
      routes({
        'GET read/subnets/4/addresses': { count: 0, results: [], subnet: {} },
        'GET read/ranges/2/available-ips': { count: 1, results: [{ address: '10.0.0.100', family: 4 }] },
        'POST write/subnets/4/available-ips': [],
      })
    );
    await api.subnetRows(4, 1000, 1000);
    expect(lastRequest().url).toBe(`${PROXY_BASE}/read/subnets/4/addresses?offset=1000&limit=1000`);
    await api.availableIps({ rangeId: 2 }, 5);
    expect(lastRequest().url).toBe(`${PROXY_BASE}/read/ranges/2/available-ips?limit=5`);
    await api.allocate({ subnetId: 4 }, 2, { owner: 'alice' });
    expect(lastRequest().data).toEqual({ count: 2, owner: 'alice' });
  });

  it('posts CSV as text/csv with the dry-run flag', async () => {
    mockFetch.mockImplementation(
      routes({
        'POST write/import/addresses': {
          kind: 'addresses',
          dry_run: true,
          applied: false,
          rows: 1,
          valid: 1,
          errors: [],
        },
      })
    );
    await api.importCsv('addresses', 'address\n10.0.0.5\n', true);
    const req = lastRequest();
    expect(req.url).toBe(`${PROXY_BASE}/write/import/addresses?dry_run=true`);
    expect(req.headers).toEqual({ 'Content-Type': 'text/csv' });
    expect(req.data).toBe('address\n10.0.0.5\n');
  });

  it('leaves empty and undefined query values out', () => {
    expect(proxyUrl('read', '/events', { kind: undefined, address: '', limit: 20 })).toBe(
      `${PROXY_BASE}/read/events?limit=20`
    );
  });

  it("carries the exporter's message, code and status in an ApiError", async () => {
    mockFetch.mockImplementation(
      routes({
        'POST write/subnets/1/available-ips': fail(
          409,
          'subnet 10.0.0.0/24 has no free address(es); 1 requested',
          'conflict',
          { available: 0 }
        ),
      })
    );
    const error: ApiError = await api.allocate({ subnetId: 1 }, 1).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(409);
    expect(error.code).toBe('conflict');
    expect(error.message).toBe('subnet 10.0.0.0/24 has no free address(es); 1 requested');
    expect(error.details).toEqual({ available: 0 });
    expect(explain(error)).toBe('Conflict: subnet 10.0.0.0/24 has no free address(es); 1 requested');
  });

  it('falls back to the proxy status text when the exporter sent no JSON error', async () => {
    mockFetch.mockImplementation(() => {
      const { throwError } = jest.requireActual('rxjs');
      return throwError(() => ({ status: 502, data: '', statusText: 'Bad Gateway' }));
    });
    const error: ApiError = await api.info().catch((e) => e);
    expect(error.status).toBe(502);
    expect(error.message).toBe('Bad Gateway');
    expect(explain(error)).toMatch(/^The exporter cannot be reached through Grafana: Bad Gateway/);
  });

  it('explains refused tokens', async () => {
    mockFetch.mockImplementation(routes({ 'GET read/info': fail(401, 'invalid bearer token', 'unauthorized') }));
    const error: ApiError = await api.info().catch((e) => e);
    expect(explain(error)).toContain('check the tokens on the Lanscape configuration page');
    expect(explain(error)).toContain('invalid bearer token');
  });
});
