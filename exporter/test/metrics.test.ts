// /metrics: computed from the store at scrape time, clean under `promtool check metrics`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { after, before, it } from 'node:test';
import { TOKENS, type TestExporter, startTestExporter } from './helpers/exporter.js';
import { requireTool } from './helpers/tools.js';
import { LanscapeRegistry } from '../src/metrics/self.js';
import { SnapshotGauge } from '../src/metrics/snapshot.js';
import { scrape as scrapeMetrics, sample } from './helpers/scrape.js';
import { TEST_BACKEND, databaseUrlOf, openTestStore } from './helpers/store.js';
import { IpamService } from '../src/ipam/service.js';
import { openDb } from '../src/store/db.js';
import { Store } from '../src/store/store.js';

let ex: TestExporter;
before(async () => {
  ex = await startTestExporter();
});
after(async () => {
  await ex.stop();
});

const scrape = () => scrapeMetrics(ex.url);

it('reports subnets, states, ranges and utilization from the store', async () => {
  const s = (await ex.api.post('/api/v1/subnets', { cidr: '10.1.0.0/24', name: 'lab', vlan: 20 })).body;
  await ex.api.post('/api/v1/subnets', { cidr: '10.1.0.128/25', name: 'lab-upper' });
  await ex.api.post(`/api/v1/subnets/${s.id}/available-ips`, { count: 3 });
  await ex.api.post('/api/v1/addresses', { address: '10.1.0.50', state: 'dhcp' });
  await ex.api.post('/api/v1/ranges', {
    subnet_id: s.id,
    start_address: '10.1.0.60',
    end_address: '10.1.0.69',
    label: 'web',
    purpose: 'services',
    mark_utilized: true,
  });
  const text = await scrape();
  assert.equal(sample(text, 'lanscape_subnet_info', { subnet: '10.1.0.0/24', name: 'lab', vlan: '20', parent: '' }), 1);
  assert.equal(sample(text, 'lanscape_subnet_info', { subnet: '10.1.0.128/25', parent: '10.1.0.0/24' }), 1);
  assert.equal(sample(text, 'lanscape_subnet_size_addresses', { subnet: '10.1.0.0/24' }), 254);
  assert.equal(sample(text, 'lanscape_subnet_addresses', { subnet: '10.1.0.0/24', state: 'reserved' }), 3);
  assert.equal(sample(text, 'lanscape_subnet_addresses', { subnet: '10.1.0.0/24', state: 'dhcp' }), 1);
  assert.equal(sample(text, 'lanscape_subnet_addresses', { subnet: '10.1.0.0/24', state: 'assigned' }), 0);
  assert.equal(sample(text, 'lanscape_subnet_free_addresses', { subnet: '10.1.0.0/24' }), 254 - 14);
  assert.ok(Math.abs(sample(text, 'lanscape_subnet_utilization_ratio', { subnet: '10.1.0.0/24' })! - 14 / 254) < 1e-6);
  assert.equal(
    sample(text, 'lanscape_range_info', {
      subnet: '10.1.0.0/24',
      range: '10.1.0.60-10.1.0.69',
      label: 'web',
      purpose: 'services',
    }),
    1,
  );
  assert.equal(sample(text, 'lanscape_range_utilization_ratio', { range: '10.1.0.60-10.1.0.69' }), 1);
  assert.equal(sample(text, 'lanscape_addresses', { state: 'reserved', source: 'manual' }), 3);
  assert.equal(sample(text, 'lanscape_build_info', {}), 1);
  if (ex.db) {
    assert.ok(sample(text, 'lanscape_store_size_bytes')! > 0); // an unlabelled series
    assert.match(text, /^lanscape_store_size_bytes [1-9]\d*$/m);
  } else {
    assert.doesNotMatch(text, /^lanscape_store_size_bytes/m, 'PostgreSQL: no SQLite file to measure');
  }
  assert.equal(sample(text, 'lanscape_leader', {}), 1);
  assert.match(
    text,
    /^lanscape_http_request_duration_seconds_count\{route="\/api\/v1\/subnets",method="POST",status="201"\} 2$/m,
  );
  assert.match(text, /^process_resident_memory_bytes /m);

  // Deleted objects vanish at the next scrape.
  const sub = (await ex.api.get('/api/v1/subnets?q=lab-upper')).body.results[0];
  await ex.api.delete(`/api/v1/subnets/${sub.id}`);
  const after = await scrape();
  assert.equal(sample(after, 'lanscape_subnet_info', { subnet: '10.1.0.128/25' }), undefined);
});

it('keeps route labels bounded whatever paths clients request', async () => {
  for (let i = 0; i < 20; i++) await fetch(`${ex.url}/random-${i}`);
  for (let i = 1; i <= 5; i++) await ex.api.get(`/api/v1/subnets/${1000 + i}`);
  const text = await scrape();
  assert.doesNotMatch(text, /random-/);
  assert.doesNotMatch(text, /subnets\/100[1-5]/);
  assert.match(text, /route="unmatched",method="GET",status="404"/);
  assert.match(text, /route="\/api\/v1\/subnets\/:id",method="GET",status="404"/);
});

it('passes promtool check metrics', async (t) => {
  const promtool = requireTool(t, 'promtool', 'apt-get install prometheus');
  if (!promtool) return;
  const text = await scrape();
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'promtool reports nothing');
  assert.equal(r.status, 0);
});

it('protects /metrics with basic auth when configured', async () => {
  const secured = await startTestExporter({
    LANSCAPE_METRICS_USERNAME: 'prom',
    LANSCAPE_METRICS_PASSWORD: 'scrape-secret',
  });
  try {
    assert.equal((await fetch(`${secured.url}/metrics`)).status, 401);
    const bad = await fetch(`${secured.url}/metrics`, {
      headers: { authorization: `Basic ${Buffer.from('prom:wrong').toString('base64')}` },
    });
    assert.equal(bad.status, 401);
    const ok = await fetch(`${secured.url}/metrics`, {
      headers: { authorization: `Basic ${Buffer.from('prom:scrape-secret').toString('base64')}` },
    });
    assert.equal(ok.status, 200);
  } finally {
    await secured.stop();
  }
});

it('keeps the address totals right through creates, updates and deletes', async () => {
  const s = (await ex.api.post('/api/v1/subnets', { cidr: '10.9.0.0/24' })).body;
  const before = await scrape();
  const base = (state: string, source: string) => sample(before, 'lanscape_addresses', { state, source }) ?? 0;
  const a = (await ex.api.post('/api/v1/addresses', { address: '10.9.0.5', source: 'docker' })).body;
  await ex.api.post(`/api/v1/subnets/${s.id}/available-ips`, { count: 3, state: 'dhcp' });
  await ex.api.patch(`/api/v1/addresses/${a.id}`, { state: 'assigned', source: 'proxmox' });
  const one = (await ex.api.get(`/api/v1/addresses?subnet_id=${s.id}&state=dhcp`)).body.results[0];
  await ex.api.delete(`/api/v1/addresses/${one.id}`);
  await ex.api.patch(`/api/v1/addresses/${a.id}`, { description: 'no state change' });
  const text = await scrape();
  const now = (state: string, source: string) => sample(text, 'lanscape_addresses', { state, source }) ?? 0;
  assert.equal(now('reserved', 'docker') - base('reserved', 'docker'), 0);
  assert.equal(now('assigned', 'proxmox') - base('assigned', 'proxmox'), 1);
  assert.equal(now('dhcp', 'manual') - base('dhcp', 'manual'), 2);
  const counted = await ex.store.exec.all<{ state: string; source: string; n: number }>(
    'SELECT state, source, count(*) AS n FROM addresses GROUP BY state, source',
  );
  for (const c of counted) assert.equal(now(c.state, c.source), c.n, `${c.state}/${c.source} matches a full count`);
});

it('counts again after a write on another connection (a second replica), and only after a write', async (t) => {
  // Per-subnet counts are kept between scrapes while the store's address version stays (ipam/metrics.ts).
  const other = new IpamService(
    TEST_BACKEND === 'postgres'
      ? await openTestStore(t, { url: databaseUrlOf(ex.store)! })
      : Store.sqlite(openDb(ex.dbFile)),
  );
  t.after(async () => {
    other.close();
    if (TEST_BACKEND === 'sqlite') await IpamService.storeOf(other).store.close();
  });
  const actor = { name: 'another replica' };
  const one = (await ex.api.post('/api/v1/subnets', { cidr: '10.88.1.0/24' })).body;
  await ex.api.post('/api/v1/subnets', { cidr: '10.88.2.0/24' });
  const a = (await ex.api.post('/api/v1/addresses', { address: '10.88.1.10' })).body;
  const range = (
    await ex.api.post('/api/v1/ranges', {
      subnet_id: one.id,
      start_address: '10.88.1.100',
      end_address: '10.88.1.109',
      label: 'pool',
      mark_utilized: true,
    })
  ).body;
  const expect = async (want: Record<string, number>) => {
    const text = await scrape();
    for (const [key, n] of Object.entries(want)) {
      const [subnet, what] = key.split(' ') as [string, string];
      const value =
        what === 'free'
          ? sample(text, 'lanscape_subnet_free_addresses', { subnet })
          : sample(text, 'lanscape_subnet_addresses', { subnet, state: what });
      assert.equal(value, n, key);
    }
  };
  const version = () => IpamService.storeOf(ex.discovery.ipam).addressCountsVersion();

  await expect({ '10.88.1.0/24 reserved': 1, '10.88.2.0/24 reserved': 0, '10.88.1.0/24 free': 254 - 11 });
  const v1 = await version();
  await expect({ '10.88.1.0/24 reserved': 1 }); // the kept counts
  assert.equal(await version(), v1, 'scrapes write nothing');

  // Totals by state and source stay the same (one reserved/manual address less, one more), the subnets' counts do not.
  await other.write(async () => {
    await other.deleteAddress(a.id, actor);
    await other.createAddress({ address: '10.88.2.10' }, actor);
  });
  assert.notEqual(await version(), v1);
  await expect({ '10.88.1.0/24 reserved': 0, '10.88.2.0/24 reserved': 1, '10.88.1.0/24 free': 254 - 10 });

  const b = await other.createAddress({ address: '10.88.1.100', state: 'assigned' }, actor); // inside the range
  await expect({ '10.88.1.0/24 assigned': 1, '10.88.1.0/24 free': 254 - 10 });
  const v2 = await version();
  await other.updateAddress(b.id, { description: 'no count changes' }, actor);
  if (TEST_BACKEND === 'postgres') assert.equal(await version(), v2, 'only writes that change counts move it');
  await other.updateAddress(b.id, { state: 'dhcp' }, actor);
  await expect({ '10.88.1.0/24 assigned': 0, '10.88.1.0/24 dhcp': 1, '10.88.1.0/24 free': 254 - 10 });
  await other.deleteAddress(b.id, actor);
  await expect({ '10.88.1.0/24 dhcp': 0, '10.88.1.0/24 free': 254 - 10 });

  // No address written, but what the families show changed: a range (another connection), a subnet.
  await other.updateRange(range.id, { label: 'renamed', mark_utilized: false }, actor);
  let text = await scrape();
  assert.equal(sample(text, 'lanscape_range_info', { subnet: '10.88.1.0/24', label: 'renamed' }), 1);
  assert.equal(sample(text, 'lanscape_subnet_free_addresses', { subnet: '10.88.1.0/24' }), 254);
  await ex.api.patch(`/api/v1/subnets/${one.id}`, { name: 'renamed too' });
  text = await scrape();
  assert.equal(sample(text, 'lanscape_subnet_info', { subnet: '10.88.1.0/24', name: 'renamed too' }), 1);
  assert.equal(sample(text, 'lanscape_range_info', { subnet: '10.88.1.0/24', label: 'renamed' }), 1);
});

it('exposes every store-scoped family or none when the leader changes during a scrape', async () => {
  let leader = true;
  const registry = new LanscapeRegistry(() => leader);
  const gauge = (name: string, scope: 'store' | 'process') => {
    const g = new SnapshotGauge(name, 'A test family.', registry, 'gauge', scope);
    g.begin();
    g.set({}, 1);
    g.commit();
    return g;
  };
  gauge('lanscape_test_store_before', 'store');
  const flip = gauge('lanscape_test_store_flip', 'store');
  gauge('lanscape_test_own', 'process');
  const shown = async () =>
    [...(await registry.metrics()).matchAll(/^(lanscape_test_\w+) 1$/gm)].map((m) => m[1]).join(' ');

  assert.equal(await shown(), 'lanscape_test_store_before lanscape_test_store_flip lanscape_test_own');
  // Leadership changes while the exposition reads the second family: no store family at all.
  flip.get = () => {
    leader = !leader;
    return flip.read();
  };
  assert.equal(await shown(), 'lanscape_test_own', 'leader stepping down');
  assert.equal(await shown(), 'lanscape_test_own', 'follower taking over');
  flip.get = () => flip.read();
  assert.equal(await shown(), 'lanscape_test_store_before lanscape_test_store_flip lanscape_test_own');
  leader = false;
  assert.equal(await shown(), 'lanscape_test_own');
});

it('stops while a client keeps scraping over a connection that was busy when close() began', async () => {
  const scraped = await startTestExporter();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(scraped.url);
  const call = (method: string, path: string, body?: string) =>
    new Promise<number>((resolve) => {
      const req = request(
        {
          host: hostname,
          port,
          path,
          method,
          agent,
          headers: {
            authorization: `Bearer ${TOKENS.admin}`,
            ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      if (!body) req.end();
      else {
        // The headers now, the body a moment later: the request is under way when close() begins.
        req.flushHeaders();
        setTimeout(() => req.end(body), 200);
      }
    });
  let scraping = true;
  let scrapes = 0;
  try {
    assert.equal(await call('GET', '/metrics'), 200);
    const busy = call('POST', '/api/v1/subnets', JSON.stringify({ cidr: '10.77.0.0/24' }));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const stopping = scraped.stop().then(() => true);
    assert.equal(await busy, 201, 'the request under way is answered');
    // Then a scrape every 20 ms over the same connection, as Prometheus does (every 15 s) with
    // a keep-alive timeout of 65 s.
    const scraper = (async () => {
      while (scraping && (await call('GET', '/metrics')) === 200) {
        scrapes += 1;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      stopping,
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5_000))),
    ]);
    clearTimeout(timer);
    assert.ok(stopped, `close() still waiting after 5 s (${scrapes} scrapes served meanwhile)`);
    assert.ok(Date.now() - started < 5_000);
    scraping = false;
    await scraper;
  } finally {
    scraping = false;
    agent.destroy();
  }
});
