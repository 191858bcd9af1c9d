// The data source against a REAL exporter: tests/browser/serve-seeded-exporter.ts starts one
// (loopback, scans off) seeded through its API and its own sweep bookkeeping; getBackendSrv().fetch
// forwards the data source's proxy requests (/api/plugin-proxy/lanscape-ipam-app/read/...) to it
// with the read token, as Grafana's app proxy does, and records every answer. Every query type's
// frames are checked for field types and units against those recorded answers.
import { type ChildProcess, spawn } from 'child_process';
import { request as httpRequest } from 'http';
import path from 'path';
import { from, throwError, type Observable } from 'rxjs';
import { mergeMap } from 'rxjs/operators';
import {
  type DataFrame,
  type DataQueryRequest,
  type DataSourceInstanceSettings,
  dateTime,
  FieldType,
} from '@grafana/data';
import type { BackendSrvRequest, FetchResponse } from '@grafana/runtime';
import { PROXY_BASE } from '../api/client';
import { LanscapeDataSource } from './datasource';
import type { LanscapeOptions, LanscapeQuery, SubnetMeta } from './types';

const T0 = Date.parse('2026-11-22T08:00:00.000Z'); // the seeded sweeps (seeded-exporter.ts)
const SWEEP_2 = T0 + 5 * 60_000;
const OFFICE = '10.20.30.0/24';
const CORP = '10.0.0.0/8';
const SITE_B = 'site-b'; // a second VRF holding OFFICE's CIDR too (seeded-exporter.ts)

interface Recorded {
  url: string;
  status: number;
  ms: number;
  body: unknown;
}
interface Seed {
  url: string;
  tokens: { read: string };
  ids: { office: number; officeB: number; corp: number; deleted: number; range: number };
  proxmox: boolean;
}

let child: ChildProcess | undefined;
let seed: Seed;
let exporterUrl = '';
const recorded: Recorded[] = [];
const variables: Record<string, string> = {};

/** One GET to the exporter, as the app's read route sends it. */
function get(url: string, token: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest(
      {
        host: u.hostname,
        port: Number(u.port),
        path: u.pathname + u.search,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
        });
      }
    );
    req.on('error', reject);
    req.end();
  });
}

/** Grafana's app proxy: read/* → <exporter>/api/v1/*; an unreachable exporter answers 502. */
function proxyFetch(req: BackendSrvRequest): Observable<FetchResponse<unknown>> {
  const prefix = `${PROXY_BASE}/read/`;
  if ((req.method ?? 'GET') !== 'GET' || !req.url.startsWith(prefix)) {
    return throwError(() => ({ status: 403, data: { message: `not a read: ${req.method} ${req.url}` }, config: req }));
  }
  const target = `${exporterUrl}/api/v1/${req.url.slice(prefix.length)}`;
  const started = performance.now();
  return from(get(target, seed.tokens.read).catch(() => ({ status: 502, body: { message: 'Bad Gateway' } }))).pipe(
    mergeMap((r) => {
      recorded.push({ url: req.url, status: r.status, ms: performance.now() - started, body: r.body });
      if (r.status >= 400) {
        return throwError(() => ({ status: r.status, data: r.body, statusText: `status ${r.status}`, config: req }));
      }
      return from([{ data: r.body, status: r.status, ok: true, config: req } as unknown as FetchResponse<unknown>]);
    })
  );
}

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: proxyFetch }),
  getTemplateSrv: () => ({
    replace: (text: string) => text.replace(/\$(\w+)/g, (m: string, name: string) => variables[name] ?? m),
  }),
}));

const ds = new LanscapeDataSource({
  id: 1,
  uid: 'lanscape',
  type: 'lanscape-ipam-datasource',
  name: 'Lanscape',
  jsonData: {},
  access: 'proxy',
  readOnly: true,
  meta: { id: 'lanscape-ipam-datasource' },
} as unknown as DataSourceInstanceSettings<LanscapeOptions>);

function request(targets: Array<Partial<LanscapeQuery>>, from = T0 - 60_000, to = SWEEP_2 + 60_000) {
  return {
    requestId: 'test',
    interval: '1m',
    intervalMs: 60_000,
    range: { from: dateTime(from), to: dateTime(to), raw: { from: dateTime(from), to: dateTime(to) } },
    scopedVars: {},
    targets: targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), ...t })),
    timezone: 'utc',
    app: 'dashboard',
    startTime: 0,
  } as unknown as DataQueryRequest<LanscapeQuery>;
}

async function one(target: Partial<LanscapeQuery>, from?: number, to?: number): Promise<DataFrame> {
  const r = await ds.query(request([target], from, to));
  expect(r.errors ?? []).toEqual([]);
  expect(r.data).toHaveLength(1);
  return r.data[0] as DataFrame;
}

const field = (f: DataFrame, name: string) => {
  const found = f.fields.find((x) => x.name === name);
  if (!found) {
    throw new Error(`no field ${name} in ${f.fields.map((x) => x.name).join(', ')}`);
  }
  return found;
};
const values = <T = unknown>(f: DataFrame, name: string) => field(f, name).values as T[];
const row = (f: DataFrame, key: string, value: unknown) => {
  const i = values(f, key).indexOf(value);
  expect(i).toBeGreaterThanOrEqual(0);
  return Object.fromEntries(f.fields.map((x) => [x.name, x.values[i]]));
};

beforeAll(async () => {
  const pluginDir = path.resolve(__dirname, '..', '..');
  child = spawn(process.execPath, ['--import', 'tsx', 'tests/browser/serve-seeded-exporter.ts'], {
    cwd: pluginDir,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LANSCAPE_VALIDATE_RESPONSES: '1' },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  seed = await new Promise<Seed>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`seeded exporter did not start:\n${err}`)), 90_000);
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    child!.once('exit', (code) => reject(new Error(`seeded exporter exited (${code}):\n${err}`)));
  });
  exporterUrl = seed.url;
  expect(exporterUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.stdin!.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.pid) {
      process.kill(child.pid, 'SIGKILL');
    }
  }
});

beforeEach(() => {
  recorded.length = 0;
});

describe('Lanscape data source against a real exporter', () => {
  it('subnets: utilization as percentunit numbers, counts by state, times', async () => {
    const f = await one({ queryType: 'subnets' });
    expect(f.name).toBe('subnets');
    expect(recorded.map((r) => r.url).sort()).toEqual([
      `${PROXY_BASE}/read/subnets?limit=1000&offset=0`,
      `${PROXY_BASE}/read/vrfs?limit=1000`,
    ]);
    expect(field(f, 'cidr').type).toBe(FieldType.string);
    expect(field(f, 'utilization').type).toBe(FieldType.number);
    expect(field(f, 'utilization').config.unit).toBe('percentunit');
    expect(field(f, 'utilization').config.max).toBe(1);
    expect(field(f, 'size').type).toBe(FieldType.number);
    expect(field(f, 'scan_enabled').type).toBe(FieldType.boolean);
    expect(field(f, 'last_scan').type).toBe(FieldType.time);
    expect(field(f, 'updated_at').type).toBe(FieldType.time);
    expect(values(f, 'cidr')).toEqual(expect.arrayContaining([OFFICE, CORP]));
    expect(values(f, 'cidr')).not.toContain('10.99.0.0/24'); // deleted
    // The same CIDR twice, told apart by the VRF column (#15).
    const vrfs = values<string>(f, 'vrf');
    expect(values<string>(f, 'cidr').flatMap((c, i) => (c === OFFICE ? [vrfs[i]] : []))).toEqual(['global', SITE_B]);
    expect(field(f, 'vrf').type).toBe(FieldType.string);
    const office = row(f, 'id', seed.ids.office);
    const answer = (
      recorded.find((r) => r.url.includes('/subnets'))!.body as {
        results: Array<{ id: number; cidr: string; utilization: { ratio: number; used: number } }>;
      }
    ).results.find((s) => s.id === seed.ids.office)!;
    expect(office.utilization).toBe(answer.utilization.ratio);
    expect(office.used).toBe(answer.utilization.used);
    expect(office.size).toBe(254);
    expect(office.reserved).toBe(3);
    expect(office.vlan).toBe(30);
    expect(office.tags).toBe('lan');
    // A link to the subnet in the app.
    expect(field(f, 'cidr').config.links?.[0]?.url).toBe('/a/lanscape-ipam-app/subnets/${__data.fields.id}');
  });

  it('addresses of $subnet: state, owner, hostname, MAC/vendor, status, last seen, tags', async () => {
    variables.subnet = OFFICE;
    const f = await one({ queryType: 'addresses', subnet: '$subnet' });
    const meta = f.meta?.custom as unknown as SubnetMeta;
    expect(meta.lanscape).toBe('addresses');
    expect(meta.subnet).toMatchObject({ id: seed.ids.office, cidr: OFFICE, prefix_length: 24, family: 4, size: 254 });
    // The CIDR is resolved to the id in the global VRF (no VRF given: a query saved before VRFs),
    // then the rows are read in one page.
    expect(recorded.map((r) => r.url.split('?')[0])).toEqual([
      `${PROXY_BASE}/read/subnets`,
      `${PROXY_BASE}/read/subnets/${seed.ids.office}/addresses`,
    ]);
    expect(recorded[0]!.url).toContain('vrf_id=1');
    for (const [name, type] of [
      ['address', FieldType.string],
      ['state', FieldType.string],
      ['status', FieldType.string],
      ['owner', FieldType.string],
      ['mac', FieldType.string],
      ['vendor', FieldType.string],
      ['tags', FieldType.string],
      ['rtt', FieldType.number],
      ['last_seen', FieldType.time],
      ['status_changed', FieldType.time],
    ] as const) {
      expect([name, field(f, name).type]).toEqual([name, type]);
    }
    expect(field(f, 'rtt').config.unit).toBe('s');
    const gw = row(f, 'address', '10.20.30.1');
    expect(gw).toMatchObject({
      state: 'reserved',
      status: 'up',
      hostname: 'gw',
      owner: 'netops',
      tags: 'critical',
      last_seen: SWEEP_2,
    });
    expect(gw.rtt).toBeCloseTo(0.0005, 6);
    expect(row(f, 'address', '10.20.30.11')).toMatchObject({ status: 'down', last_seen: T0, status_changed: SWEEP_2 });
    expect(row(f, 'address', '10.20.30.10')).toMatchObject({ mac: '02:00:00:00:00:99', vendor: 'Example Networks' });
    expect(row(f, 'address', '10.20.30.150')).toMatchObject({
      source: 'discovered',
      status: 'up',
      vendor: 'Raspberry Pi Foundation',
    });
    expect(row(f, 'address', '10.20.30.60')).toMatchObject({ state: 'deprecated', status: 'down', last_seen: null });
    const answerRows = (recorded[1]!.body as { results: Array<{ type: string }> }).results;
    expect(f.length).toBe(answerRows.filter((r) => r.type === 'address').length);
  });

  it('addresses: filters by status, state, source, tag and text', async () => {
    const run = async (q: Partial<LanscapeQuery>) =>
      values<string>(await one({ queryType: 'addresses', subnet: String(seed.ids.office), ...q }), 'address');
    expect(await run({ status: 'down' })).toEqual(['10.20.30.11', '10.20.30.12', '10.20.30.60']);
    expect(await run({ state: 'reserved' })).toEqual(['10.20.30.1', '10.20.30.2', '10.20.30.12']);
    expect(await run({ source: 'discovered' })).toEqual(['10.20.30.150', '10.20.30.151', '10.20.30.152']);
    expect(await run({ tag: 'prod' })).toEqual(['10.20.30.10', '10.20.30.11']);
    expect(await run({ search: 'raspberry' })).toEqual(['10.20.30.150']);
  });

  it('free ranges: the gaps between addresses, sizes summing to the free count', async () => {
    const f = await one({ queryType: 'freeRanges', subnet: OFFICE });
    expect(field(f, 'start').type).toBe(FieldType.string);
    expect(field(f, 'size').type).toBe(FieldType.number);
    expect(field(f, 'size').config.unit).toBe('none');
    expect(values(f, 'start')[0]).toBe('10.20.30.3');
    expect(values(f, 'end')[0]).toBe('10.20.30.9');
    const subnet = (recorded[recorded.length - 1]!.body as { subnet: { utilization: { free: number } } }).subnet;
    expect(values<number>(f, 'size').reduce((a, b) => a + b, 0)).toBe(subnet.utilization.free);
  });

  it('ranges: label, purpose, utilization', async () => {
    const f = await one({ queryType: 'ranges', subnet: OFFICE });
    expect(f.length).toBe(1);
    const pool = row(f, 'label', 'DHCP pool');
    expect(pool).toMatchObject({ purpose: 'dhcp', start: '10.20.30.100', end: '10.20.30.199', size: 100 });
    expect(pool.used).toBeGreaterThanOrEqual(12);
    expect(field(f, 'utilization').config.unit).toBe('percentunit');
    expect(field(f, 'auto_allocate').type).toBe(FieldType.boolean);
  });

  it('events in the dashboard time range, usable as annotations', async () => {
    const f = await one({ queryType: 'events', subnet: OFFICE });
    expect(field(f, 'time').type).toBe(FieldType.time);
    for (const name of ['title', 'text', 'tags']) {
      expect(f.fields.map((x) => x.name)).toContain(name);
    }
    const kinds = values<string>(f, 'kind');
    const addresses = values<string>(f, 'address');
    const downs = addresses.filter((_, i) => kinds[i] === 'down').sort();
    expect(downs).toEqual(['10.20.30.11', '10.20.30.12']);
    expect(addresses.filter((_, i) => kinds[i] === 'new_device')).toEqual(
      expect.arrayContaining(['10.20.30.150', '10.20.30.151', '10.20.30.152'])
    );
    expect(values<number>(f, 'time').every((t) => t >= T0 - 60_000 && t <= SWEEP_2 + 60_000)).toBe(true);
    expect(recorded[recorded.length - 1]!.url).toContain(
      `since=${encodeURIComponent(new Date(T0 - 60_000).toISOString())}`
    );
    // Only the down events: the range between the sweeps holds none; the range from the second holds the downs.
    expect((await one({ queryType: 'events' }, T0 + 60_000, SWEEP_2 - 60_000)).length).toBe(0);
    const later = await one({ queryType: 'events', eventKind: 'down' }, SWEEP_2 - 1, SWEEP_2 + 1);
    expect(values(later, 'kind')).toEqual(['down', 'down']);
    expect(ds.annotations).toBeDefined();
  });

  it('conflicts: the MAC mismatch and the unknown devices', async () => {
    const f = await one({ queryType: 'conflicts', subnet: OFFICE });
    expect(field(f, 'time').type).toBe(FieldType.time);
    expect(row(f, 'address', '10.20.30.10').kind).toBe('mac_mismatch');
    expect(values(f, 'kind')).toContain('unknown_device');
    const mismatches = await one({ queryType: 'conflicts', conflictKind: 'mac_mismatch' });
    expect(values(mismatches, 'address')).toEqual(['10.20.30.10']);
  });

  it('guests: Proxmox guests with their addresses, Docker (not configured) with none', async () => {
    const f = await one({ queryType: 'guests' });
    expect(field(f, 'memory').config.unit).toBe('bytes');
    expect(field(f, 'address_id').type).toBe(FieldType.number);
    if (!seed.proxmox) {
      expect(process.env.CI).toBeUndefined();
      return;
    }
    expect(row(f, 'name', 'web')).toMatchObject({
      platform: 'proxmox',
      host: 'pve1',
      address: '10.20.40.21',
      kind: 'qemu',
    });
    expect(row(f, 'name', 'dns')).toMatchObject({ platform: 'proxmox', address: '10.20.40.22', kind: 'lxc' });
    expect(row(f, 'name', 'old')).toMatchObject({ address: null, status: 'stopped' });
    expect((await one({ queryType: 'guests', platform: 'docker' })).length).toBe(0);
  });

  it('VRFs (#15): the same CIDR in two VRFs, told apart by the VRF field, a labelled value or $vrf', async () => {
    const addressesOf = async (q: Partial<LanscapeQuery>) => {
      const f = await one({ queryType: 'addresses', ...q });
      return { id: (f.meta?.custom as unknown as SubnetMeta).subnet.id, addresses: values<string>(f, 'address') };
    };
    const b = { id: seed.ids.officeB, addresses: ['10.20.30.1', '10.20.30.5'] };
    expect(await addressesOf({ subnet: OFFICE, vrf: SITE_B })).toEqual(b);
    expect(await addressesOf({ subnet: `${OFFICE} (${SITE_B})` })).toEqual(b);
    expect(await addressesOf({ subnet: `${OFFICE} (${SITE_B})`, vrf: SITE_B })).toEqual(b);
    variables.vrf = SITE_B;
    variables.subnet = OFFICE;
    expect(await addressesOf({ subnet: '$subnet', vrf: '$vrf' })).toEqual(b);
    variables.vrf = 'global';
    expect((await addressesOf({ subnet: '$subnet', vrf: '$vrf' })).id).toBe(seed.ids.office);
    expect((await addressesOf({ subnet: `${OFFICE} (global)` })).id).toBe(seed.ids.office);
    // An id needs no VRF; the filters of ranges take the VRF too.
    expect((await addressesOf({ subnet: String(seed.ids.officeB) })).id).toBe(seed.ids.officeB);
    expect((await one({ queryType: 'ranges', subnet: OFFICE, vrf: SITE_B })).length).toBe(0);
    expect((await one({ queryType: 'ranges', subnet: OFFICE })).length).toBe(1);
  });

  it('VRFs: an unknown VRF, a CIDR not in the VRF, two VRFs at once — errors that say what to change', async () => {
    variables.vrfs = '{global,site-b}';
    const r = await ds.query(
      request([
        { queryType: 'addresses', subnet: OFFICE, vrf: 'nowhere' },
        { queryType: 'addresses', subnet: CORP, vrf: SITE_B },
        { queryType: 'addresses', subnet: `${OFFICE} (${SITE_B})`, vrf: 'global' },
        { queryType: 'addresses', subnet: OFFICE, vrf: '$vrfs' },
        { queryType: 'addresses', subnet: OFFICE, vrf: '$undefined_variable' },
        { queryType: 'freeRanges', subnet: '10.98.0.0/24', vrf: SITE_B },
      ])
    );
    const byRef = Object.fromEntries((r.errors ?? []).map((e) => [e.refId, e.message]));
    expect(byRef).toEqual({
      A: 'No VRF "nowhere" in Lanscape (renamed or deleted?). Set the query\'s VRF to one that exists.',
      B: `No subnet ${CORP} in the VRF ${SITE_B}; it is in global. Set the query's VRF.`,
      C: `${OFFICE} (${SITE_B}) names the VRF ${SITE_B}, but the query's VRF is global: clear one of them.`,
      D: 'Choose one VRF, not several ("{global,site-b}"): a CIDR is looked up in one VRF.',
      E: 'The VRF $undefined_variable is a template variable this dashboard does not define.',
      F: `No subnet 10.98.0.0/24 in the VRF ${SITE_B} in Lanscape (deleted, or never added).`,
    });
    expect(r.data).toEqual([]);
  });

  it("template variable values: CIDRs labelled with their VRF once subnets span two; one VRF's CIDRs; the VRFs", async () => {
    const found = await ds.metricFindQuery('subnets');
    expect(found.map((v) => v.value)).toEqual(
      expect.arrayContaining([`${OFFICE} (global)`, `${OFFICE} (${SITE_B})`, `${CORP} (global)`])
    );
    expect(found.every((v) => v.text === v.value)).toBe(true);
    expect(await ds.metricFindQuery('')).toEqual(found); // a variable saved with no query
    variables.vrf = SITE_B;
    expect((await ds.metricFindQuery('subnets($vrf)')).map((v) => v.value)).toEqual([OFFICE]);
    const global = (await ds.metricFindQuery('subnets(global)')).map((v) => v.value);
    expect(global).toEqual(expect.arrayContaining([OFFICE, CORP]));
    expect(global).toHaveLength(new Set(global).size);
    expect((await ds.metricFindQuery('vrfs')).map((v) => v.value)).toEqual(['global', SITE_B]);
    await expect(ds.metricFindQuery('hosts')).rejects.toThrow(/Unknown variable query "hosts"\. Use: subnets/);
  });

  it('a /8 is read as rows (addresses and gaps), never address by address', async () => {
    const f = await one({ queryType: 'addresses', subnet: String(seed.ids.corp) });
    expect((f.meta?.custom as unknown as SubnetMeta).subnet.prefix_length).toBe(8);
    expect(recorded).toHaveLength(1);
    expect(f.length).toBeLessThan(100);
    const free = await one({ queryType: 'freeRanges', subnet: CORP });
    expect(values<number>(free, 'size').reduce((a, b) => a + b, 0)).toBeGreaterThan(16_000_000);
  });

  it('bad input: a deleted subnet, a subnet that is not one, no subnet — errors, not exceptions', async () => {
    const r = await ds.query(
      request([
        { queryType: 'addresses', subnet: String(seed.ids.deleted) },
        { queryType: 'addresses', subnet: '10.99.0.0/24' },
        { queryType: 'freeRanges', subnet: 'office' },
        { queryType: 'addresses' },
        { queryType: 'subnets' },
      ])
    );
    const byRef = Object.fromEntries((r.errors ?? []).map((e) => [e.refId, e.message]));
    expect(byRef.A).toBe(`Subnet ${seed.ids.deleted} does not exist in Lanscape (deleted?). Choose another subnet.`);
    expect(byRef.B).toBe('No subnet 10.99.0.0/24 in Lanscape (deleted, or never added).');
    expect(byRef.C).toMatch(/"office" is not a subnet/);
    expect(byRef.D).toMatch(/Choose a subnet/);
    expect(byRef.E).toBeUndefined();
    expect(r.data.map((d: DataFrame) => d.refId)).toEqual(['E']);
  });

  it('the /24 query answers in < 50 ms on the exporter', async () => {
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      recorded.length = 0;
      await one({ queryType: 'addresses', subnet: String(seed.ids.office) });
      times.push(recorded[0]!.ms);
    }
    const median = [...times].sort((a, b) => a - b)[3]!;
    console.log(`data source /24 addresses query: median ${median.toFixed(1)} ms over 7 (GET /subnets/{id}/addresses)`);
    expect(median).toBeLessThan(50);
  });

  it('an exporter that is down: a clear error through the proxy', async () => {
    const saved = exporterUrl;
    exporterUrl = 'http://127.0.0.1:9'; // nothing listens on the discard port here
    try {
      const r = await ds.query(request([{ queryType: 'subnets' }]));
      expect(r.data).toEqual([]);
      expect(r.errors?.[0]?.message).toMatch(/^The exporter cannot be reached through Grafana/);
      const test = await ds.testDatasource();
      expect(test.status).toBe('error');
    } finally {
      exporterUrl = saved;
    }
    expect((await ds.testDatasource()).status).toBe('success');
  });
});
