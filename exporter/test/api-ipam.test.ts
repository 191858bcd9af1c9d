// The IPAM API as a client sees it: subnets, hierarchy, ranges, allocation, addresses, CSV, audit.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOKENS, type TestExporter, startTestExporter } from './helpers/exporter.js';

let ex: TestExporter;
// The write token stands for Grafana's proxy: only its requests may name a Grafana user.
before(async () => {
  ex = await startTestExporter({ LANSCAPE_GRAFANA_PROXY_TOKENS: 'write' });
});
after(async () => {
  await ex.stop();
});

describe('subnets', () => {
  it('creates, reads, lists, updates and rejects duplicates', async () => {
    const created = await ex.api.post('/api/v1/subnets', {
      cidr: '10.10.0.0/24',
      name: 'servers',
      vlan: 10,
      tags: ['lab', 'lab'],
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.cidr, '10.10.0.0/24');
    assert.deepEqual(created.body.tags, ['lab']);
    assert.equal(created.body.utilization.size, 254);

    const dup = await ex.api.post('/api/v1/subnets', { cidr: '10.10.0.0/24' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'conflict');
    assert.match(dup.body.error.message, /already exists/);

    const got = await ex.api.get(`/api/v1/subnets/${created.body.id}`, TOKENS.read);
    assert.equal(got.status, 200);
    assert.equal(got.body.name, 'servers');

    const patched = await ex.api.patch(`/api/v1/subnets/${created.body.id}`, {
      description: 'rack 1',
      gateway: '10.10.0.1',
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.gateway, '10.10.0.1');
    assert.equal(patched.body.name, 'servers', 'fields not in the patch stay');

    const list = await ex.api.get('/api/v1/subnets?q=servers', TOKENS.read);
    assert.equal(list.body.count, 1);
  });

  it('derives the hierarchy from the CIDRs, whatever the creation order', async () => {
    const child = await ex.api.post('/api/v1/subnets', { cidr: '172.16.5.0/24', name: 'child' });
    const parent = await ex.api.post('/api/v1/subnets', { cidr: '172.16.0.0/16', name: 'parent' });
    const middle = await ex.api.post('/api/v1/subnets', { cidr: '172.16.4.0/22', name: 'middle' });
    const c = await ex.api.get(`/api/v1/subnets/${child.body.id}`);
    assert.equal(c.body.parent_id, middle.body.id);
    assert.equal(c.body.depth, 2);
    const p = await ex.api.get(`/api/v1/subnets/${parent.body.id}`);
    assert.equal(p.body.parent_id, null);
    assert.equal(p.body.children, 1);
  });

  it('explains host bits with the right network', async () => {
    const r = await ex.api.post('/api/v1/subnets', { cidr: '10.0.0.1/24' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /host bits set; did you mean 10\.0\.0\.0\/24/);
  });

  it('refuses to orphan addresses unless forced, and then deletes them with the subnet', async () => {
    const s = await ex.api.post('/api/v1/subnets', { cidr: '192.168.77.0/24' });
    await ex.api.post('/api/v1/addresses', { address: '192.168.77.9' });
    const refused = await ex.api.delete(`/api/v1/subnets/${s.body.id}`);
    assert.equal(refused.status, 409);
    assert.equal((await ex.api.get(`/api/v1/subnets/${s.body.id}`)).status, 200);
    const forced = await ex.api.delete(`/api/v1/subnets/${s.body.id}?force=true`);
    assert.equal(forced.status, 204);
    assert.equal((await ex.api.get(`/api/v1/subnets/${s.body.id}`)).status, 404);
    assert.equal((await ex.api.get('/api/v1/addresses?q=192.168.77.9')).body.count, 0);
  });

  it('keeps addresses covered by a parent when a child subnet goes', async () => {
    await ex.api.post('/api/v1/subnets', { cidr: '10.50.0.0/16' });
    const child = await ex.api.post('/api/v1/subnets', { cidr: '10.50.1.0/24' });
    const a = await ex.api.post('/api/v1/addresses', { address: '10.50.1.20' });
    assert.equal(a.body.subnet_id, child.body.id);
    assert.equal((await ex.api.delete(`/api/v1/subnets/${child.body.id}`)).status, 204);
    const again = await ex.api.get(`/api/v1/addresses/${a.body.id}`);
    assert.equal(again.status, 200);
    assert.notEqual(again.body.subnet_id, child.body.id);
  });
});

describe('allocation', () => {
  it('hands out the next free address, skipping the gateway, closed ranges and child subnets', async () => {
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '10.20.0.0/24', gateway: '10.20.0.1' })).body;
    await ex.api.post('/api/v1/ranges', {
      subnet_id: s.id,
      start_address: '10.20.0.2',
      end_address: '10.20.0.9',
      label: 'infra',
      auto_allocate: false,
    });
    await ex.api.post('/api/v1/subnets', { cidr: '10.20.0.16/28' });
    await ex.api.post('/api/v1/addresses', { address: '10.20.0.10' });
    const preview = await ex.api.get(`/api/v1/subnets/${s.id}/available-ips?limit=8`, TOKENS.read);
    assert.deepEqual(
      preview.body.results.map((r: { address: string }) => r.address),
      ['10.20.0.11', '10.20.0.12', '10.20.0.13', '10.20.0.14', '10.20.0.15', '10.20.0.32', '10.20.0.33', '10.20.0.34'],
    );
    const got = await ex.api.post(`/api/v1/subnets/${s.id}/available-ips`, {
      count: 2,
      owner: 'ops',
      hostname: 'web-1',
    });
    assert.equal(got.status, 201);
    assert.deepEqual(
      got.body.map((a: { address: string }) => a.address),
      ['10.20.0.11', '10.20.0.12'],
    );
    assert.equal(got.body[0].owner, 'ops');
    assert.equal(got.body[0].state, 'reserved');
  });

  it('allocates inside a range, and 409s with nothing reserved when too few are free', async () => {
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '10.21.0.0/29' })).body; // usable .1-.6
    const r = (
      await ex.api.post('/api/v1/ranges', {
        subnet_id: s.id,
        start_address: '10.21.0.4',
        end_address: '10.21.0.6',
        label: 'pool',
      })
    ).body;
    const inRange = await ex.api.post(`/api/v1/ranges/${r.id}/available-ips`, { count: 2 });
    assert.deepEqual(
      inRange.body.map((a: { address: string }) => a.address),
      ['10.21.0.4', '10.21.0.5'],
    );
    const tooMany = await ex.api.post(`/api/v1/subnets/${s.id}/available-ips`, { count: 5 });
    assert.equal(tooMany.status, 409);
    assert.match(tooMany.body.error.message, /only 4 free/);
    assert.equal((await ex.api.get(`/api/v1/addresses?subnet_id=${s.id}`)).body.count, 2, 'nothing was reserved');
  });

  it('works in IPv6 /64 without enumerating and skips the subnet-router anycast address', async () => {
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '2001:db8:1::/64' })).body;
    assert.equal(s.utilization.size, 2 ** 64 - 1);
    const a = await ex.api.post(`/api/v1/subnets/${s.id}/available-ips`, { count: 3 });
    assert.deepEqual(
      a.body.map((x: { address: string }) => x.address),
      ['2001:db8:1::1', '2001:db8:1::2', '2001:db8:1::3'],
    );
    const rows = await ex.api.get(`/api/v1/subnets/${s.id}/addresses`);
    const gap = rows.body.results.at(-1);
    assert.equal(gap.type, 'gap');
    assert.equal(gap.start_address, '2001:db8:1::4');
    assert.equal(gap.end_address, '2001:db8:1:0:ffff:ffff:ffff:ffff'); // RFC 5952: one zero field is not compressed
  });
});

describe('addresses', () => {
  it('reserves a specific address, refuses it twice, updates and releases it', async () => {
    await ex.api.post('/api/v1/subnets', { cidr: '10.30.0.0/24' });
    const a = await ex.api.post('/api/v1/addresses', {
      address: '10.30.0.5',
      hostname: 'nas',
      mac: 'AA-BB-CC-00-11-22',
      tags: ['storage'],
    });
    assert.equal(a.status, 201);
    assert.equal(a.body.mac, 'aa:bb:cc:00:11:22');
    const again = await ex.api.post('/api/v1/addresses', { address: '10.30.0.5' });
    assert.equal(again.status, 409);
    assert.match(again.body.error.message, /already reserved/);
    const up = await ex.api.patch(`/api/v1/addresses/${a.body.id}`, { state: 'assigned', owner: 'alice' });
    assert.equal(up.body.state, 'assigned');
    assert.equal(up.body.hostname, 'nas');
    assert.equal((await ex.api.delete(`/api/v1/addresses/${a.body.id}`)).status, 204);
    assert.equal((await ex.api.get(`/api/v1/addresses/${a.body.id}`)).status, 404);
    const reuse = await ex.api.post('/api/v1/addresses', { address: '10.30.0.5' });
    assert.equal(reuse.status, 201, 'a released address can be reserved again');
  });

  it('refuses network and broadcast addresses and addresses outside every subnet', async () => {
    const net = await ex.api.post('/api/v1/addresses', { address: '10.30.0.0' });
    assert.equal(net.status, 422);
    assert.match(net.body.error.message, /network address/);
    const bc = await ex.api.post('/api/v1/addresses', { address: '10.30.0.255' });
    assert.match(bc.body.error.message, /broadcast address/);
    const outside = await ex.api.post('/api/v1/addresses', { address: '203.0.113.7' });
    assert.equal(outside.status, 422);
    assert.match(outside.body.error.message, /no subnet contains/);
  });

  it('lists the subnet view with free gaps collapsed and split at ranges', async () => {
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '10.40.0.0/24' })).body;
    const r = (
      await ex.api.post('/api/v1/ranges', {
        subnet_id: s.id,
        start_address: '10.40.0.100',
        end_address: '10.40.0.199',
        label: 'DHCP',
        purpose: 'dhcp',
        color: '#3274d9',
      })
    ).body;
    for (const a of ['10.40.0.10', '10.40.0.11', '10.40.0.150']) await ex.api.post('/api/v1/addresses', { address: a });
    const rows = (await ex.api.get(`/api/v1/subnets/${s.id}/addresses`)).body.results;
    const shape = rows.map((x: any) =>
      x.type === 'gap' ? `${x.start_address}-${x.end_address}:${x.size}:${x.range_id ?? ''}` : x.address.address,
    );
    assert.deepEqual(shape, [
      '10.40.0.1-10.40.0.9:9:',
      '10.40.0.10',
      '10.40.0.11',
      '10.40.0.12-10.40.0.99:88:',
      `10.40.0.100-10.40.0.149:50:${r.id}`,
      '10.40.0.150',
      `10.40.0.151-10.40.0.199:49:${r.id}`,
      '10.40.0.200-10.40.0.254:55:',
    ]);
  });
});

describe('ranges', () => {
  it('rejects overlaps and ranges outside the subnet, counts ranges marked used', async () => {
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '10.60.0.0/24' })).body;
    const ok = await ex.api.post('/api/v1/ranges', {
      subnet_id: s.id,
      start_address: '10.60.0.10',
      end_address: '10.60.0.19',
      label: 'web',
      mark_utilized: true,
    });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.utilization.used, 10);
    const overlap = await ex.api.post('/api/v1/ranges', {
      subnet_id: s.id,
      start_address: '10.60.0.15',
      end_address: '10.60.0.30',
      label: 'x',
    });
    assert.equal(overlap.status, 409);
    assert.match(overlap.body.error.message, /overlaps range "web"/);
    const outside = await ex.api.post('/api/v1/ranges', {
      subnet_id: s.id,
      start_address: '10.60.0.250',
      end_address: '10.60.1.3',
      label: 'x',
    });
    assert.equal(outside.status, 422);
    const reversed = await ex.api.post('/api/v1/ranges', {
      subnet_id: s.id,
      start_address: '10.60.0.50',
      end_address: '10.60.0.40',
      label: 'x',
    });
    assert.equal(reversed.status, 422);
    await ex.api.post('/api/v1/addresses', { address: '10.60.0.12' }); // inside the used range: not counted twice
    await ex.api.post('/api/v1/addresses', { address: '10.60.0.40' });
    const subnet = (await ex.api.get(`/api/v1/subnets/${s.id}`)).body;
    assert.equal(subnet.utilization.used, 11);
    assert.equal(subnet.utilization.free, 243);
    const patched = await ex.api.patch(`/api/v1/ranges/${ok.body.id}`, { label: 'web services', mark_utilized: false });
    assert.equal(patched.body.label, 'web services');
    assert.equal((await ex.api.get(`/api/v1/subnets/${s.id}`)).body.utilization.used, 2);
  });
});

describe('CSV', () => {
  it('dry-runs with per-row errors, applies all or nothing, and exports', async () => {
    const bad =
      'cidr,name,vlan,tags\n10.70.0.0/24,a,70,x;y\n10.70.1.5/24,b,,\n10.70.2.0/24,c,9999,\n10.70.0.0/24,dup,,\n';
    const dry = await ex.api.call('POST', '/api/v1/import/subnets?dry_run=true', {
      rawBody: bad,
      contentType: 'text/csv',
    });
    assert.equal(dry.status, 200);
    assert.equal(dry.body.rows, 4);
    assert.equal(dry.body.valid, 1);
    assert.deepEqual(
      dry.body.errors.map((e: { row: number }) => e.row),
      [2, 3, 4],
    );
    assert.match(dry.body.errors[0].message, /did you mean 10\.70\.1\.0\/24/);
    assert.match(dry.body.errors[2].message, /already exists/);
    const apply = await ex.api.call('POST', '/api/v1/import/subnets', { rawBody: bad, contentType: 'text/csv' });
    assert.equal(apply.status, 422);
    assert.equal(apply.body.error.code, 'import_rejected');
    assert.equal(apply.body.error.details.errors.length, 3);
    assert.equal((await ex.api.get('/api/v1/subnets?q=10.70.')).body.count, 0, 'nothing stored');

    const good = 'cidr,name,vlan,tags\n10.70.0.0/24,a,70,x;y\n10.70.1.0/24,b,,\n';
    const ok = await ex.api.call('POST', '/api/v1/import/subnets', { rawBody: good, contentType: 'text/csv' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.applied, true);
    const addrs = 'address,hostname,state,tags\n10.70.0.5,printer,assigned,office\n10.70.1.9,=cmd|calc,reserved,\n';
    const a = await ex.api.call('POST', '/api/v1/import/addresses', { rawBody: addrs, contentType: 'text/csv' });
    assert.equal(a.status, 422, 'a hostname with = and | is invalid');
    const addrs2 = 'address,hostname,state,description\n10.70.0.5,printer,assigned,"=HYPERLINK(""x"")"\n';
    assert.equal(
      (await ex.api.call('POST', '/api/v1/import/addresses', { rawBody: addrs2, contentType: 'text/csv' })).status,
      200,
    );

    const csv = await ex.api.get('/api/v1/export/addresses', TOKENS.read);
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    const line = csv.text.split('\n').find((l) => l.startsWith('10.70.0.5,'));
    assert.ok(line, csv.text);
    assert.match(line, /printer/);
    assert.match(line, /'=HYPERLINK/, 'formula cells are defused');
    const subnets = await ex.api.get('/api/v1/export/subnets', TOKENS.read);
    assert.match(subnets.text, /10\.70\.0\.0\/24,a,,70,,x;y/);
  });
});

describe('audit log', () => {
  it('records who changed what, with before and after, and the Grafana user', async () => {
    const s = await ex.api.call('POST', '/api/v1/subnets', {
      body: { cidr: '10.80.0.0/24', name: 'before' },
      token: TOKENS.write,
      headers: { 'X-Grafana-User': 'alice' },
    });
    await ex.api.patch(`/api/v1/subnets/${s.body.id}`, { name: 'after' });
    const log = await ex.api.get(`/api/v1/audit?object_type=subnet&object_id=${s.body.id}`, TOKENS.read);
    assert.equal(log.body.count, 2);
    const [update, create] = log.body.results;
    assert.equal(create.action, 'create');
    assert.equal(create.actor, 'write');
    assert.equal(create.grafana_user, 'alice');
    assert.equal(update.actor, 'admin');
    assert.equal(update.before.name, 'before');
    assert.equal(update.after.name, 'after');
    assert.ok(update.request_id);
    const byUser = await ex.api.get('/api/v1/audit?actor=alice', TOKENS.read);
    assert.ok(byUser.body.results.every((e: { grafana_user: string }) => e.grafana_user === 'alice'));
  });
});

describe('system endpoints', () => {
  it('serves health, readiness, info and Swagger UI', async () => {
    assert.equal((await ex.api.get('/healthz', null)).status, 200);
    assert.equal((await ex.api.get('/readyz', null)).body.status, 'ready');
    const info = await ex.api.get('/api/v1/info', TOKENS.read);
    assert.match(info.body.version, /^\d+\.\d+\.\d+/);
    assert.equal(info.body.collectors.store.up, true);
    const docs = await fetch(`${ex.url}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger-ui/i);
  });

  it('pages lists with limit and offset', async () => {
    const all = (await ex.api.get('/api/v1/subnets?limit=1000')).body;
    const page = (await ex.api.get('/api/v1/subnets?limit=2&offset=1')).body;
    assert.equal(page.count, all.count);
    assert.deepEqual(
      page.results.map((s: { id: number }) => s.id),
      all.results.slice(1, 3).map((s: { id: number }) => s.id),
    );
  });
});
