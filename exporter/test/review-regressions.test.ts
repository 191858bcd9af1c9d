// Regressions for what an adversarial review found: allocation across nested subnets and
// ranges, CSV round trips, auth before body parsing, strict ids and queries, audit details.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { type TestExporter, spawnExporter, startTestExporter, tempDir, testEnv } from './helpers/exporter.js';

let ex: TestExporter;
before(async () => {
  ex = await startTestExporter();
});
after(async () => {
  await ex.stop();
});

describe('allocation with nested subnets and ranges', () => {
  it('skips the gateways of enclosing subnets', async () => {
    await ex.api.post('/api/v1/subnets', { cidr: '192.0.2.0/24', gateway: '192.0.2.1' });
    const child = (await ex.api.post('/api/v1/subnets', { cidr: '192.0.2.0/28' })).body;
    const next = (await ex.api.get(`/api/v1/subnets/${child.id}/available-ips?limit=2`)).body.results.map(
      (r: any) => r.address,
    );
    assert.deepEqual(next, ['192.0.2.2', '192.0.2.3']);
  });

  it('refuses a child subnet that cuts into a range of its parent, and a range across a child', async () => {
    const parent = (await ex.api.post('/api/v1/subnets', { cidr: '203.0.113.0/24' })).body;
    await ex.api.post('/api/v1/ranges', {
      subnet_id: parent.id,
      start_address: '203.0.113.10',
      end_address: '203.0.113.40',
      label: 'dhcp',
      purpose: 'dhcp',
      auto_allocate: false,
    });
    const cut = await ex.api.post('/api/v1/subnets', { cidr: '203.0.113.32/28' });
    assert.equal(cut.status, 409);
    assert.match(cut.body.error.message, /would cut into range "dhcp"/);
    await ex.api.post('/api/v1/subnets', { cidr: '203.0.113.64/28' });
    const across = await ex.api.post('/api/v1/ranges', {
      subnet_id: parent.id,
      start_address: '203.0.113.60',
      end_address: '203.0.113.70',
      label: 'x',
    });
    assert.equal(across.status, 409);
    assert.match(across.body.error.message, /overlaps child subnet 203\.0\.113\.64\/28/);
  });
});

describe('CSV', () => {
  it('imports its own export back unchanged', async () => {
    const s = (
      await ex.api.post('/api/v1/subnets', {
        cidr: '198.51.100.0/24',
        name: '-lab',
        tags: ['a', 'b'],
        scan_interval_seconds: 600,
      })
    ).body;
    await ex.api.post('/api/v1/addresses', {
      address: '198.51.100.7',
      description: '=SUM(A1)',
      hostname: 'h7',
      tags: ['x'],
    });
    const subnets = (await ex.api.get('/api/v1/export/subnets')).text;
    const addresses = (await ex.api.get(`/api/v1/export/addresses?subnet_id=${s.id}`)).text;
    await ex.api.delete(`/api/v1/subnets/${s.id}?force=true`);
    const onlyThis = subnets
      .split('\n')
      .filter((l, i) => i === 0 || l.startsWith('198.51.100.0/24,'))
      .join('\n');
    const r1 = await ex.api.call('POST', '/api/v1/import/subnets', { rawBody: onlyThis, contentType: 'text/csv' });
    assert.equal(r1.status, 200, r1.text);
    const r2 = await ex.api.call('POST', '/api/v1/import/addresses', { rawBody: addresses, contentType: 'text/csv' });
    assert.equal(r2.status, 200, r2.text);
    const back = (await ex.api.get('/api/v1/subnets?q=198.51.100.0')).body.results[0];
    assert.deepEqual([back.name, back.tags, back.scan_interval_seconds], ['-lab', ['a', 'b'], 600]);
    const a = (await ex.api.get('/api/v1/addresses?q=198.51.100.7')).body.results[0];
    assert.equal(a.description, '=SUM(A1)', 'the apostrophe export adds is removed on import');
  });

  it('refuses a header that names a column twice', async () => {
    const r = await ex.api.call('POST', '/api/v1/import/subnets?dry_run=true', {
      rawBody: 'cidr,cidr\n10.1.0.0/24,10.2.0.0/24\n',
      contentType: 'text/csv',
    });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /cidr appears twice/);
  });
});

describe('requests', () => {
  it('checks the token before reading the body', async () => {
    const r = await ex.api.call('POST', '/api/v1/subnets', {
      token: null,
      rawBody: '{"broken',
      contentType: 'application/json',
    });
    assert.equal(r.status, 401);
    const csv = await ex.api.call('POST', '/api/v1/import/subnets', {
      token: null,
      rawBody: 'x'.repeat(100),
      contentType: 'text/csv',
    });
    assert.equal(csv.status, 401);
  });

  it('refuses query parameters a route does not take, and ids that are not plain digits', async () => {
    const r = await ex.api.call('POST', '/api/v1/subnets?dry_run=true', { body: { cidr: '10.123.0.0/24' } });
    assert.equal(r.status, 400);
    assert.equal((await ex.api.get('/api/v1/subnets?q=10.123.0.0')).body.count, 0, 'nothing was created');
    for (const id of ['0x1', '1e0', '%201', '01'])
      assert.equal((await ex.api.get(`/api/v1/subnets/${id}`)).status, 400, id);
  });

  it('refuses control characters and lone surrogates in text', async () => {
    for (const name of ['a\u0000b', 'x\ud800y', 'bell\u0007']) {
      const r = await ex.api.post('/api/v1/subnets', { cidr: '10.124.0.0/24', name });
      assert.equal(r.status, 400, JSON.stringify(name));
    }
    assert.equal(
      (await ex.api.post('/api/v1/subnets', { cidr: '10.124.0.0/24', description: 'two\nlines\tand a tab' })).status,
      201,
    );
  });
});

describe('audit', () => {
  it('records ranges deleted with their subnet, skips no-op updates, and reads since without milliseconds', async () => {
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '10.125.0.0/24', name: 'n' })).body;
    const r = (
      await ex.api.post('/api/v1/ranges', {
        subnet_id: s.id,
        start_address: '10.125.0.10',
        end_address: '10.125.0.20',
        label: 'pool',
      })
    ).body;
    await ex.api.patch(`/api/v1/subnets/${s.id}`, { name: 'n' });
    await ex.api.patch(`/api/v1/subnets/${s.id}`, {});
    const updates = (await ex.api.get(`/api/v1/audit?object_type=subnet&object_id=${s.id}`)).body.results.filter(
      (e: any) => e.action === 'update',
    );
    assert.equal(updates.length, 0);
    await ex.api.delete(`/api/v1/subnets/${s.id}`);
    const rangeLog = (await ex.api.get(`/api/v1/audit?object_type=range&object_id=${r.id}`)).body.results.map(
      (e: any) => e.action,
    );
    assert.deepEqual(rangeLog, ['delete', 'create']);
    const since = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    assert.ok((await ex.api.get(`/api/v1/audit?since=${since}`)).body.count >= 3);
    const offset = await ex.api.get(`/api/v1/audit?since=${encodeURIComponent(since.replace('Z', '+00:00'))}`);
    assert.equal(offset.status, 200);
  });
});

describe('configuration and start-up', () => {
  it('refuses the same token for two scopes', () => {
    assert.throws(
      () =>
        loadConfig({
          LANSCAPE_READ_TOKEN: 'same-token-0123456789abcdef',
          LANSCAPE_WRITE_TOKEN: 'same-token-0123456789abcdef',
        }),
      (e: ConfigError) => e.problems.some((p) => /every token must be different/.test(p) && !p.includes('same-token')),
    );
  });

  it('refuses a second exporter on a store in use', async () => {
    const { dir, cleanup } = tempDir();
    const env = testEnv(join(dir, 'shared.db'));
    const first = await spawnExporter(env);
    try {
      await assert.rejects(spawnExporter(env), /another exporter \(pid \d+\) is using this store/);
    } finally {
      await first.stop();
      cleanup();
    }
  });
});

describe('subnet view with child subnets', () => {
  it('offers in its gaps only addresses that can be reserved', async () => {
    const parent = (await ex.api.post('/api/v1/subnets', { cidr: '100.70.0.0/24' })).body;
    await ex.api.post('/api/v1/subnets', { cidr: '100.70.0.0/28' });
    const gaps = (await ex.api.get(`/api/v1/subnets/${parent.id}/addresses`)).body.results
      .filter((r: any) => r.type === 'gap')
      .map((r: any) => `${r.start_address}-${r.end_address}:${r.size}`);
    // .0 and .15 are the child's network and broadcast addresses: not free.
    assert.deepEqual(gaps, ['100.70.0.1-100.70.0.14:14', '100.70.0.16-100.70.0.254:239']);
    for (const g of gaps) {
      const first = g.split('-')[0];
      const r = await ex.api.post('/api/v1/addresses', { address: first });
      assert.equal(r.status, 201, `${first}: ${r.text}`);
    }
  });
});
