// VRFs (#15): address spaces. On the backend under test (`LANSCAPE_TEST_BACKEND=postgres` for
// PostgreSQL): the same /24 in two VRFs, uniqueness and containment inside a VRF, next free per
// VRF, VRF rules (names, the global VRF, deleting), CSV round trip with the `vrf` column, the
// `vrf` metric label, and Docker: two endpoints with the same network are two subnets in two VRFs.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config/load.js';
import type { DockerClient } from '../src/docker/client.js';
import { bridgeNetwork, runningContainer } from './helpers/docker-model.js';
import { DockerService } from '../src/docker/service.js';
import { LanscapeError } from '../src/errors.js';
import { CsvImports } from '../src/ipam/csv-import.js';
import { exportCsv } from '../src/ipam/csv.js';
import { registerIpamMetrics } from '../src/ipam/metrics.js';
import { IpamService } from '../src/ipam/service.js';
import { SeriesBudget } from '../src/metrics/bounds.js';
import { TOKENS, startTestExporter } from './helpers/exporter.js';
import { TEST_BACKEND, openTestStore } from './helpers/store.js';

const actor = { name: 'test' };
const NOW = Date.parse('2026-12-04T06:00:00Z');

async function service(t: TestContext): Promise<IpamService> {
  const ipam = new IpamService(await openTestStore(t), () => NOW);
  t.after(() => ipam.close());
  return ipam;
}

async function refused(p: Promise<unknown>, status: number, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof LanscapeError, String(e));
    assert.equal(e.status, status, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe(`VRFs on the ${TEST_BACKEND} store`, () => {
  it('the same /24 in two VRFs: uniqueness, containment, next free and ranges hold inside each', async (t) => {
    const ipam = await service(t);
    const vrfs = await ipam.listVrfs(10, 0);
    assert.deepEqual(
      vrfs.results.map((v) => [v.id, v.name]),
      [[1, 'global']],
      'a new store has the global VRF',
    );
    const b = await ipam.createVrf({ name: 'site-b', rd: '65000:2', description: 'Branch' }, actor);
    const a = await ipam.createSubnet({ cidr: '10.0.0.0/24', gateway: '10.0.0.1' }, actor);
    const bNet = await ipam.createSubnet({ cidr: '10.0.0.0/24', vrf_id: b.id }, actor);
    assert.deepEqual([a.vrf_id, bNet.vrf_id], [1, b.id]);
    await refused(ipam.createSubnet({ cidr: '10.0.0.0/24' }, actor), 409, /global/);
    await refused(ipam.createSubnet({ cidr: '10.0.0.0/24', vrf_id: b.id }, actor), 409, /site-b/);
    await refused(ipam.createSubnet({ cidr: '10.9.0.0/24', vrf_id: 99 }, actor), 422, /no VRF has id 99/);

    // Containment per VRF: a /16 in site-b is the parent of site-b's /24 only.
    const bParent = await ipam.createSubnet({ cidr: '10.0.0.0/16', vrf_id: b.id }, actor);
    assert.equal((await ipam.getSubnet(bNet.id)).parent_id, bParent.id);
    assert.equal(
      (await ipam.getSubnet(a.id)).parent_id,
      null,
      "the global /24 has no parent: site-b's /16 is elsewhere",
    );
    assert.equal((await ipam.getSubnet(bParent.id)).children, 1);
    const listed = await ipam.listSubnets({}, 10, 0);
    assert.equal(listed.results.find((s) => s.id === bNet.id)!.parent_id, bParent.id, 'the list builds the same tree');
    assert.equal(listed.results.find((s) => s.id === a.id)!.parent_id, null);
    assert.deepEqual(
      (await ipam.listSubnets({ vrf_id: b.id }, 10, 0)).results.map((s) => s.cidr),
      ['10.0.0.0/16', '10.0.0.0/24'],
    );

    // Next free per VRF: the global /24 skips its gateway; site-b's starts at .1.
    const globalFree = await ipam.allocate({ subnetId: a.id }, { count: 2 }, actor);
    const bFree = await ipam.allocate({ subnetId: bNet.id }, { count: 2 }, actor);
    assert.deepEqual(
      globalFree.map((x) => [x.address, x.vrf_id, x.subnet_id]),
      [
        ['10.0.0.2', 1, a.id],
        ['10.0.0.3', 1, a.id],
      ],
    );
    assert.deepEqual(
      bFree.map((x) => [x.address, x.vrf_id, x.subnet_id]),
      [
        ['10.0.0.1', b.id, bNet.id],
        ['10.0.0.2', b.id, bNet.id],
      ],
    );
    // The same address in both, unique inside each.
    const bAddr = await ipam.createAddress({ address: '10.0.0.9', vrf_id: b.id }, actor);
    const gAddr = await ipam.createAddress({ address: '10.0.0.9' }, actor);
    assert.deepEqual([bAddr.subnet_id, gAddr.subnet_id], [bNet.id, a.id]);
    await refused(ipam.createAddress({ address: '10.0.0.9', vrf_id: b.id }, actor), 409);
    await refused(ipam.createAddress({ address: '10.0.0.9' }, actor), 409);
    // Outside every subnet of the VRF it names: 10.0.5.1 is in site-b's /16, not in global.
    await refused(ipam.createAddress({ address: '10.0.5.1' }, actor), 422, /no subnet contains/);
    assert.equal((await ipam.createAddress({ address: '10.0.5.1', vrf_id: b.id }, actor)).subnet_id, bParent.id);
    // After the explicit .9, each VRF's next free continues on its own runs.
    assert.deepEqual((await ipam.availableIps({ subnetId: bNet.id }, 3)).sort(), ['10.0.0.3', '10.0.0.4', '10.0.0.5']);
    assert.deepEqual(
      (await ipam.allocateInSlices({ subnetId: a.id }, { count: 6 }, actor, (fn) => ipam.write(fn))).map(
        (x) => x.address,
      ),
      ['10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7', '10.0.0.8', '10.0.0.10'],
    );

    // Listing per VRF; the order is VRF, then address.
    const inB = await ipam.listAddressesPaced({ vrf: b.id }, 100, 0);
    assert.deepEqual(
      inB.results.map((x) => x.address),
      ['10.0.0.1', '10.0.0.2', '10.0.0.9', '10.0.5.1'],
    );
    const all = await ipam.listAddresses({}, 100, 0);
    assert.deepEqual(
      all.results.map((x) => x.vrf_id),
      [...Array(9).fill(1), ...Array(4).fill(b.id)],
    );
    const paged = await ipam.listAddresses({ after: '10.0.0.10', after_vrf_id: 1 }, 2, 0);
    assert.deepEqual(
      paged.results.map((x) => [x.vrf_id, x.address]),
      [
        [b.id, '10.0.0.1'],
        [b.id, '10.0.0.2'],
      ],
      'keyset paging crosses into the next VRF',
    );
    assert.deepEqual(
      (await ipam.listAddressesPaced({ q: '10.0.0.9' }, 10, 0)).results.map((x) => x.vrf_id),
      [1, b.id],
      'a scan filter walks every VRF',
    );
    assert.equal((await ipam.listAddresses({ subnet_id: bNet.id, vrf: 1 }, 10, 0)).count, 0);

    // Ranges: the same span in both VRFs; overlap refused inside one; a range takes its subnet's VRF.
    const rb = await ipam.createRange(
      { subnet_id: bNet.id, start_address: '10.0.0.100', end_address: '10.0.0.110', label: 'dhcp' },
      actor,
    );
    const rg = await ipam.createRange(
      { subnet_id: a.id, start_address: '10.0.0.100', end_address: '10.0.0.110', label: 'dhcp', vrf_id: 1 },
      actor,
    );
    assert.deepEqual([rb.vrf_id, rg.vrf_id], [b.id, 1]);
    await refused(
      ipam.createRange(
        { subnet_id: bNet.id, start_address: '10.0.0.105', end_address: '10.0.0.120', label: 'x' },
        actor,
      ),
      409,
    );
    await refused(
      ipam.createRange(
        { subnet_id: a.id, start_address: '10.0.0.150', end_address: '10.0.0.160', label: 'x', vrf_id: b.id },
        actor,
      ),
      422,
    );
    assert.deepEqual(
      (await ipam.listRanges({ vrf: b.id }, 10, 0)).results.map((r) => r.id),
      [rb.id],
    );
    // A child /25 in global may not cut into global's range; site-b's range does not matter to it.
    await refused(ipam.createSubnet({ cidr: '10.0.0.96/27' }, actor), 409, /cut into range/);

    // Deleting a subnet orphans nothing in the other VRF.
    await ipam.deleteSubnet(a.id, true, actor);
    assert.equal((await ipam.getAddress(bAddr.id)).address, '10.0.0.9');
    await refused(ipam.getAddress(gAddr.id), 404);
  });

  it('VRF rules: unique names and RDs, the global VRF stays, a VRF holding subnets is not deleted', async (t) => {
    const ipam = await service(t);
    const v = await ipam.createVrf({ name: 'lab', rd: '65000:7' }, actor);
    await refused(ipam.createVrf({ name: 'lab' }, actor), 409);
    await refused(ipam.createVrf({ name: 'lab2', rd: '65000:7' }, actor), 409, /route distinguisher/);
    await refused(ipam.updateVrf(1, { name: 'main' }, actor), 422, /cannot be renamed/);
    assert.equal((await ipam.updateVrf(1, { description: 'LAN' }, actor)).description, 'LAN');
    await refused(ipam.deleteVrf(1, actor), 409, /global/);
    const s = await ipam.createSubnet({ cidr: '192.168.1.0/24', vrf_id: v.id }, actor);
    assert.equal((await ipam.getVrf(v.id)).subnets, 1);
    await refused(ipam.deleteVrf(v.id, actor), 409, /holds 1 subnet/);
    const renamed = await ipam.updateVrf(v.id, { name: 'lab-1', rd: null }, actor);
    assert.deepEqual([renamed.name, renamed.rd], ['lab-1', null]);
    await ipam.deleteSubnet(s.id, false, actor);
    await ipam.deleteVrf(v.id, actor);
    await refused(ipam.getVrf(v.id), 404);
    const audited = await ipam.audit.list({ actor: 'test' }, 50, 0);
    assert.deepEqual(
      audited.results
        .filter((e) => e.object_type === 'vrf')
        .map((e) => e.action)
        .reverse(),
      ['create', 'update', 'update', 'delete'],
    );
  });

  it('CSV: the vrf column exports the name and imports back into the same VRFs; an unknown VRF is a row error', async (t) => {
    const ipam = await service(t);
    const run = async (i: IpamService, kind: 'subnets' | 'addresses', text: string, dryRun = false) => {
      const imports = new CsvImports(i, i.store.writes, undefined, () => NOW);
      const rows = text.trim().split('\n').length - 1;
      return imports.wait(imports.start(kind, text, rows, dryRun, actor).id);
    };
    const b = await ipam.createVrf({ name: 'site-b' }, actor);
    const csvSubnets = 'cidr,name,vrf\n10.5.0.0/24,lan,\n10.5.0.0/24,lan-b,site-b\n';
    const report = await run(ipam, 'subnets', csvSubnets);
    assert.equal(report.valid, 2, JSON.stringify(report.errors));
    const csvAddresses = 'address,hostname,vrf\n10.5.0.7,a,\n10.5.0.7,b,site-b\n10.5.0.8,c,global\n';
    const stored = await run(ipam, 'addresses', csvAddresses);
    assert.equal(stored.valid, 3, JSON.stringify(stored.errors));
    const bad = await run(ipam, 'addresses', 'address,vrf\n10.5.0.9,nowhere\n10.5.0.7,site-b\n', true);
    assert.deepEqual(
      bad.errors.map((e) => [e.row, e.field, e.message.slice(0, 25)]),
      [
        [1, 'vrf', 'no VRF is named "nowhere"'],
        [2, undefined, '10.5.0.7 is already reser'],
      ],
    );
    const dup = await run(ipam, 'subnets', 'cidr,vrf\n10.6.0.0/24,site-b\n10.6.0.0/24,site-b\n', true);
    assert.match(dup.errors[0]!.message, /already exists in row 1/);

    const text = async (i: IpamService, kind: 'subnets' | 'addresses') => {
      let out = '';
      for await (const chunk of exportCsv(i, kind)) out += chunk;
      return out;
    };
    const addresses = await text(ipam, 'addresses');
    const subnets = await text(ipam, 'subnets');
    assert.deepEqual(
      addresses
        .trim()
        .split('\n')
        .map((l) => l.split(',').slice(0, 9).join(',')),
      [
        'address,state,hostname,mac,description,owner,tags,source,vrf',
        '10.5.0.7,reserved,a,,,,,manual,global',
        '10.5.0.8,reserved,c,,,,,manual,global',
        '10.5.0.7,reserved,b,,,,,manual,site-b',
      ],
    );
    // Round trip into another store: the VRF by name, then the exported files as they are.
    const other = await service(t);
    await other.createVrf({ name: 'site-b' }, actor);
    assert.equal((await run(other, 'subnets', subnets)).valid, 2);
    assert.equal((await run(other, 'addresses', addresses)).valid, 3);
    const cut = (csv: string) =>
      csv
        .trim()
        .split('\n')
        .map((l) => l.split(',').slice(0, -3).join(','));
    assert.deepEqual(cut(await text(other, 'addresses')), cut(addresses));
    assert.deepEqual(cut(await text(other, 'subnets')), cut(subnets));
    assert.ok(b.id > 1);
  });

  it('metrics: per-subnet series carry the VRF name, so the same CIDR in two VRFs is two series', async (t) => {
    const ipam = await service(t);
    const b = await ipam.createVrf({ name: 'site-b' }, actor);
    const g = await ipam.createSubnet({ cidr: '10.7.0.0/24' }, actor);
    const s = await ipam.createSubnet({ cidr: '10.7.0.0/24', vrf_id: b.id }, actor);
    await ipam.allocate({ subnetId: g.id }, { count: 3 }, actor);
    await ipam.allocate({ subnetId: s.id }, { count: 5 }, actor);
    await ipam.createRange(
      { subnet_id: s.id, start_address: '10.7.0.100', end_address: '10.7.0.109', label: 'pool' },
      actor,
    );
    const registry = new Registry();
    const store = IpamService.storeOf(ipam);
    registerIpamMetrics(registry, ipam, new SeriesBudget({ max_subnet_series: 10, max_host_series: 10 }, store));
    const text = await registry.metrics();
    const lines = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
    assert.deepEqual(
      lines('lanscape_subnet_addresses')
        .filter((l) => l.includes('state="reserved"'))
        .sort(),
      [
        'lanscape_subnet_addresses{subnet="10.7.0.0/24",vrf="global",state="reserved"} 3',
        'lanscape_subnet_addresses{subnet="10.7.0.0/24",vrf="site-b",state="reserved"} 5',
      ],
    );
    assert.equal(lines('lanscape_subnet_info').length, 2);
    assert.ok(lines('lanscape_subnet_info').some((l) => l.includes('vrf="site-b"')));
    assert.deepEqual(lines('lanscape_range_size_addresses'), [
      'lanscape_range_size_addresses{subnet="10.7.0.0/24",vrf="site-b",range="10.7.0.100-10.7.0.109"} 10',
    ]);
    // A rename shows at the next scrape.
    await ipam.updateVrf(b.id, { name: 'branch' }, actor);
    const again = await registry.metrics();
    assert.ok(again.includes('lanscape_subnet_size_addresses{subnet="10.7.0.0/24",vrf="branch"} 254'));
  });

  it("Docker: two endpoints with the same network are two subnets, each in its endpoint's VRF", async (t) => {
    const store = await openTestStore(t);
    const ipam = new IpamService(store, () => NOW);
    t.after(() => ipam.close());
    // A person's subnet with the same pool in the global VRF: the host's own network, a conflict.
    await ipam.createSubnet({ cidr: '172.17.0.0/16' }, actor);
    const network = bridgeNetwork('n1', 'bridge', '172.17.0.0/16');
    const container = (id: string, name: string) =>
      runningContainer(id, name, { network: 'bridge', network_id: 'n1', ipv4: '172.17.0.2', mac: '02:42:ac:11:00:02' });
    const client = (name: string): DockerClient => ({
      version: async () => ({ version: '28.0.0', api_version: '1.48' }),
      containers: async () => [container(`${name}-c1`, `web-${name}`)],
      container: async () => null,
      networks: async () => [network],
      stats: async () => null,
      imageDigests: async () => null,
      events: async (_since, _onEvent, signal) => ({
        done: new Promise<void>((resolve) => signal!.addEventListener('abort', () => resolve())),
      }),
    });
    const config = loadConfig({
      LANSCAPE_DOCKER_HOSTS: 'alpha=unix:///alpha.sock,beta=unix:///beta.sock',
      LANSCAPE_DOCKER_STATS: 'false',
    }).docker;
    const docker = new DockerService(store, ipam, config, pino({ level: 'silent' }), {
      client: (endpoint) => client(endpoint.name),
    });
    t.after(() => docker.stop());
    docker.resume();
    const deadline = performance.now() + 10_000;
    let containers = await docker.containerViews(undefined);
    while (!containers.every((c) => c.networks[0]?.addresses[0]?.address_id) || containers.length < 2) {
      assert.ok(performance.now() < deadline, `both endpoints reconciled: ${JSON.stringify(containers)}`);
      await sleep(50);
      containers = await docker.containerViews(undefined);
    }
    const vrfs = await ipam.listVrfs(10, 0);
    const idOf = (name: string) => vrfs.results.find((v) => v.name === name)!.id;
    const subnets = (await ipam.listSubnets({ q: '172.17.0.0/16' }, 10, 0)).results;
    assert.deepEqual(
      subnets.map((s) => [s.vrf_id, s.name]).sort(),
      [
        [1, ''],
        [idOf('docker:alpha'), 'docker:alpha/bridge'],
        [idOf('docker:beta'), 'docker:beta/bridge'],
      ].sort(),
    );
    const addresses = (await ipam.listAddresses({ q: '172.17.0.2' }, 10, 0)).results;
    assert.deepEqual(
      addresses.map((a) => [a.vrf_id, a.hostname, a.source]).sort(),
      [
        [idOf('docker:alpha'), 'web-alpha', 'docker'],
        [idOf('docker:beta'), 'web-beta', 'docker'],
      ].sort(),
    );
    // Each endpoint's network view finds its own subnet; the global /16 is a conflict for both.
    const networks = await docker.networkViews(undefined);
    assert.deepEqual(
      networks.map((n) => [n.endpoint, n.subnets[0]!.subnet_id]).sort(),
      [
        ['alpha', subnets.find((s) => s.name === 'docker:alpha/bridge')!.id],
        ['beta', subnets.find((s) => s.name === 'docker:beta/bridge')!.id],
      ].sort(),
    );
    assert.deepEqual((await docker.conflicts()).map((c) => [c.endpoint, c.relation]).sort(), [
      ['alpha', 'same'],
      ['beta', 'same'],
    ]);
  });

  it('HTTP: /vrfs routes, vrf_id on create, read and filter, answers in their declared schemas', async (t) => {
    const ex = await startTestExporter();
    t.after(() => ex.stop());
    const api = ex.api;
    const created = await api.post('/api/v1/vrfs', { name: 'site-b', rd: '65000:2' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as number;
    assert.equal((await api.post('/api/v1/vrfs', { name: 'site-b' })).status, 409);
    assert.equal((await api.post('/api/v1/vrfs', { name: ' bad name' })).status, 400);
    assert.equal((await api.post('/api/v1/vrfs', { name: 'x', extra: 1 })).status, 400);
    const list = await api.get('/api/v1/vrfs', TOKENS.read);
    assert.deepEqual(
      list.body.results.map((v: { name: string }) => v.name),
      ['global', 'site-b'],
    );
    const g = await api.post('/api/v1/subnets', { cidr: '10.20.0.0/24' });
    const b = await api.post('/api/v1/subnets', { cidr: '10.20.0.0/24', vrf_id: id });
    assert.deepEqual([g.status, g.body.vrf_id, b.status, b.body.vrf_id], [201, 1, 201, id]);
    assert.equal((await api.post('/api/v1/subnets', { cidr: '10.20.0.0/24', vrf_id: id })).status, 409);
    assert.equal((await api.post('/api/v1/subnets', { cidr: '10.21.0.0/24', vrf_id: 999 })).status, 422);
    const filtered = await api.get(`/api/v1/subnets?vrf_id=${id}`, TOKENS.read);
    assert.deepEqual(
      filtered.body.results.map((s: { id: number }) => s.id),
      [b.body.id],
    );
    const addr = await api.post('/api/v1/addresses', { address: '10.20.0.5', vrf_id: id });
    assert.deepEqual([addr.status, addr.body.vrf_id, addr.body.subnet_id], [201, id, b.body.id]);
    assert.equal((await api.post('/api/v1/addresses', { address: '10.20.0.5' })).status, 201);
    assert.equal((await api.post('/api/v1/addresses', { address: '10.20.0.5', vrf_id: id })).status, 409);
    assert.equal((await api.get(`/api/v1/addresses?vrf_id=${id}`, TOKENS.read)).body.count, 1);
    assert.equal((await api.get('/api/v1/addresses?after=10.20.0.5&after_vrf_id=1', TOKENS.read)).body.count, 2);
    const range = await api.post('/api/v1/ranges', {
      subnet_id: b.body.id,
      start_address: '10.20.0.10',
      end_address: '10.20.0.20',
      label: 'pool',
    });
    assert.deepEqual([range.status, range.body.vrf_id], [201, id]);
    assert.equal((await api.get(`/api/v1/ranges?vrf_id=1`, TOKENS.read)).body.count, 0);
    assert.equal((await api.delete(`/api/v1/vrfs/${id}`)).status, 409);
    assert.equal((await api.delete('/api/v1/vrfs/1')).status, 409);
    assert.equal((await api.patch('/api/v1/vrfs/1', { name: 'main' })).status, 422);
    assert.equal((await api.delete(`/api/v1/subnets/${b.body.id}?force=true`)).status, 204);
    assert.equal((await api.delete(`/api/v1/vrfs/${id}`)).status, 204);
    assert.equal((await api.get(`/api/v1/vrfs/${id}`, TOKENS.read)).status, 404);
    assert.equal((await api.post('/api/v1/vrfs', { name: 'z' }, TOKENS.read)).status, 403);
  });
});
