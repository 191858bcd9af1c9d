import { ApiError, PROXY_BASE, api, explain, isImportJob, proxyUrl } from './client';
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

  it('asks for free child prefixes and carves them on the write route', async () => {
    mockFetch.mockImplementation(
      routes({
        'GET read/subnets/4/available-prefixes': {
          count: 1,
          results: [{ prefix: '10.0.0.64/26', family: 4, size: 64 }],
        },
        'POST write/subnets/4/available-prefixes': [{ id: 9, cidr: '10.0.0.64/26' }],
      })
    );
    const free = await api.availablePrefixes(4, 26);
    expect(lastRequest().url).toBe(`${PROXY_BASE}/read/subnets/4/available-prefixes?prefix_length=26&limit=1`);
    expect(free.results[0]?.prefix).toBe('10.0.0.64/26');
    const created = await api.allocatePrefixes(4, { prefix_length: 26, count: 1, name: 'lab' });
    expect(lastRequest()).toMatchObject({
      method: 'POST',
      url: `${PROXY_BASE}/write/subnets/4/available-prefixes`,
      data: { prefix_length: 26, count: 1, name: 'lab' },
    });
    expect(created[0]?.cidr).toBe('10.0.0.64/26');
  });

  it('follows the pages of conflicts (the exporter pages them, 1,000 at most)', async () => {
    const conflict = (i: number) => ({ kind: 'unknown_device', address: `10.0.${i >> 8}.${i & 255}`, address_id: i });
    mockFetch.mockImplementation(
      routes({
        'GET read/conflicts': (req: { url: string }) => {
          const offset = Number(new URL(req.url, 'http://x').searchParams.get('offset'));
          const results = Array.from({ length: Math.max(0, Math.min(1000, 2500 - offset)) }, (_, i) =>
            conflict(offset + i)
          );
          return { count: 2500, results };
        },
      })
    );
    const all = await api.conflicts('unknown_device');
    expect(all.count).toBe(2500);
    expect(all.results).toHaveLength(2500);
    expect(all.results[2499].address_id).toBe(2499);
    expect(mockFetch.mock.calls.map((c) => c[0].url)).toEqual(
      [0, 1000, 2000].map((offset) => `${PROXY_BASE}/read/conflicts?kind=unknown_device&limit=1000&offset=${offset}`)
    );
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

  it('tells an import job (202) from a report, and polls the job through the read route', async () => {
    const report = { kind: 'subnets', dry_run: false, applied: true, rows: 1, valid: 1, errors: [] };
    const job = { ...report, applied: false, rows: 5000, valid: 0, id: 1796300000000, state: 'queued', progress: 0 };
    mockFetch.mockImplementation(
      routes({ 'POST write/import/subnets': job, 'GET read/import-jobs/1796300000000': { ...job, state: 'running' } })
    );
    const answer = await api.importCsv('subnets', 'cidr\n10.0.0.0/24\n', false);
    expect(isImportJob(answer)).toBe(true);
    expect(isImportJob(report as never)).toBe(false);
    await expect(api.importJob(1796300000000)).resolves.toMatchObject({ state: 'running' });
    expect(lastRequest()).toMatchObject({ method: 'GET', url: `${PROXY_BASE}/read/import-jobs/1796300000000` });
  });

  it('traffic tests: hosts and results through read, runs and schedules through write', async () => {
    mockFetch.mockImplementation(
      routes({
        'GET read/traffic/hosts': { count: 0, results: [] },
        'GET read/traffic-tests': { count: 0, results: [] },
        'GET read/traffic-tests/7': { id: 7 },
        'POST write/traffic-tests': { id: 7, state: 'queued' },
        'GET read/traffic-schedules': { count: 0, results: [] },
        'POST write/traffic-schedules': { id: 3 },
        'PATCH write/traffic-schedules/3': { id: 3 },
        'DELETE write/traffic-schedules/3': null,
      })
    );
    await api.trafficHosts();
    expect(lastRequest()).toMatchObject({ method: 'GET', url: `${PROXY_BASE}/read/traffic/hosts` });
    await api.trafficTests({ source: 'loop-a', target: '10.0.0.7', state: 'done', limit: 20 });
    expect(lastRequest().url).toBe(
      `${PROXY_BASE}/read/traffic-tests?source=loop-a&target=10.0.0.7&state=done&limit=20`
    );
    await api.trafficTest(7);
    expect(lastRequest()).toMatchObject({ method: 'GET', url: `${PROXY_BASE}/read/traffic-tests/7` });
    const input = {
      source: 'loop-a',
      target: 'loop-b',
      protocol: 'udp' as const,
      duration_seconds: 2,
      bitrate_bits_per_second: 5e6,
    };
    await expect(api.startTrafficTest(input)).resolves.toEqual({ id: 7, state: 'queued' });
    expect(lastRequest()).toMatchObject({ method: 'POST', url: `${PROXY_BASE}/write/traffic-tests`, data: input });
    await api.trafficSchedules();
    expect(lastRequest()).toMatchObject({ method: 'GET', url: `${PROXY_BASE}/read/traffic-schedules` });
    await api.createTrafficSchedule({ source: 'loop-a', target: 'loop-b', interval_seconds: 900 });
    expect(lastRequest()).toMatchObject({
      method: 'POST',
      url: `${PROXY_BASE}/write/traffic-schedules`,
      data: { source: 'loop-a', target: 'loop-b', interval_seconds: 900 },
    });
    await api.updateTrafficSchedule(3, { enabled: false });
    expect(lastRequest()).toMatchObject({
      method: 'PATCH',
      url: `${PROXY_BASE}/write/traffic-schedules/3`,
      data: { enabled: false },
    });
    await api.deleteTrafficSchedule(3);
    expect(lastRequest()).toMatchObject({ method: 'DELETE', url: `${PROXY_BASE}/write/traffic-schedules/3` });
  });

  it('Proxmox and Docker: lists through read, VM creation through admin with the Idempotency-Key', async () => {
    const job = { id: 4, state: 'queued' };
    mockFetch.mockImplementation(
      routes({
        'GET read/proxmox/nodes': { updated_at: '', results: [] },
        'GET read/proxmox/guests': { updated_at: '', count: 0, results: [] },
        'GET read/proxmox/templates': { count: 0, results: [] },
        'GET read/proxmox/storages': { count: 0, results: [] },
        'GET read/proxmox/bridges': { count: 0, results: [] },
        'POST admin/vms': job,
        'GET read/vms/jobs': { count: 0, results: [] },
        'GET read/vms/jobs/4': job,
        'GET read/docker/endpoints': { count: 0, results: [] },
        'GET read/docker/containers': { count: 0, results: [] },
        'GET read/docker/networks': { count: 0, results: [] },
        'GET read/docker/conflicts': { count: 0, results: [] },
      })
    );
    const expectGet = async (call: () => Promise<unknown>, url: string) => {
      await call();
      expect(lastRequest()).toMatchObject({ method: 'GET', url: `${PROXY_BASE}/${url}` });
      expect(lastRequest().headers).toBeUndefined();
    };
    await expectGet(() => api.proxmoxNodes(), 'read/proxmox/nodes');
    await expectGet(() => api.proxmoxGuests(), 'read/proxmox/guests');
    await expectGet(() => api.proxmoxGuests({ node: 'pve2', type: 'lxc' }), 'read/proxmox/guests?node=pve2&type=lxc');
    await expectGet(() => api.proxmoxTemplates('pve1'), 'read/proxmox/templates?node=pve1');
    await expectGet(() => api.proxmoxStorages('pve1'), 'read/proxmox/storages?node=pve1');
    await expectGet(() => api.proxmoxBridges('pve-2'), 'read/proxmox/bridges?node=pve-2');
    await expectGet(() => api.vmJobs({ state: 'running', limit: 10 }), 'read/vms/jobs?state=running&limit=10');
    await expectGet(() => api.vmJob(4), 'read/vms/jobs/4');
    await expectGet(() => api.dockerEndpoints(), 'read/docker/endpoints');
    await expectGet(() => api.dockerContainers(), 'read/docker/containers?limit=1000');
    await expectGet(() => api.dockerContainers('nas'), 'read/docker/containers?endpoint=nas&limit=1000');
    await expectGet(() => api.dockerNetworks(), 'read/docker/networks?limit=1000');
    await expectGet(() => api.dockerConflicts(), 'read/docker/conflicts');

    const input = {
      node: 'pve1',
      name: 'web-1',
      clone: { template_vmid: 9000, full: true },
      network: { bridge: 'vmbr0', address: { subnet_id: 3, next_free: true as const } },
      start: true,
    };
    await expect(api.createVm(input, 'b5a1c0de-0000-4000-8000-000000000001')).resolves.toEqual(job);
    expect(lastRequest()).toMatchObject({
      method: 'POST',
      url: `${PROXY_BASE}/admin/vms`,
      data: input,
      headers: { 'Idempotency-Key': 'b5a1c0de-0000-4000-8000-000000000001' },
    });
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
