// The scan API against loopback subnets (127.0.0.0/8 answers ICMP locally; nothing leaves the
// machine), and an exporter without raw-socket rights.
import assert from 'node:assert/strict';
import { chownSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  TOKENS,
  type ApiClient,
  type TestExporter,
  spawnExporter,
  startTestExporter,
  tempDir,
  testEnv,
} from './helpers/exporter.js';
import { requireTool } from './helpers/tools.js';

/** Polls a scan until it ends (30 s at most); a scan that does not end says where it stood. */
async function finished(api: ApiClient, id: number) {
  let last: unknown;
  for (let i = 0; i < 600; i++) {
    const r = await api.get(`/api/v1/scans/${id}`);
    last = { status: r.status, body: r.body };
    if (r.body.state === 'done' || r.body.state === 'failed') return r.body;
    await sleep(50);
  }
  throw new Error(`scan did not finish in 30 s; last answer ${JSON.stringify(last)}`);
}

describe('scan API on loopback', () => {
  let ex: TestExporter;
  before(async () => {
    ex = await startTestExporter({ LANSCAPE_SCAN_PORTS: '9', LANSCAPE_SCAN_TIMEOUT_MS: '300' });
  });
  after(async () => {
    await ex.stop();
  });

  it('sweeps, reports progress and results, and rate limits manual scans', async (t) => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI) throw new Error('raw ICMP needs root in CI');
      return t.skip('needs root for raw ICMP');
    }
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '127.0.6.0/29' })).body;
    const start = await ex.api.post(`/api/v1/subnets/${s.id}/scan`, {});
    assert.equal(start.status, 202);
    assert.equal(start.headers.get('location'), `/api/v1/scans/${start.body.id}`);
    assert.match(start.body.state, /^(queued|running)$/);
    const again = await ex.api.post(`/api/v1/subnets/${s.id}/scan`, {});
    assert.equal(again.body.id, start.body.id, 'the scan under way is returned');
    const done = await finished(ex.api, start.body.id);
    assert.equal(done.state, 'done');
    assert.equal(done.progress, 1);
    assert.equal(done.targets, 6);
    assert.equal(done.alive, 6, 'every loopback address answers');
    const limited = await ex.api.post(`/api/v1/subnets/${s.id}/scan`, {});
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    const rows = (await ex.api.get(`/api/v1/subnets/${s.id}/addresses`)).body.results;
    assert.equal(rows.filter((r: any) => r.address?.observed?.status === 'up').length, 6);
    const view = (await ex.api.get(`/api/v1/subnets/${s.id}`)).body;
    assert.equal(view.discovery.hosts_up, 6);
    assert.deepEqual(
      [view.discovery.last_scan.id, view.discovery.last_scan.state, view.discovery.last_scan.alive],
      [start.body.id, 'done', 6],
    );
    const listed = (await ex.api.get('/api/v1/subnets?q=127.0.6.0')).body.results[0];
    assert.equal(listed.discovery.hosts_up, 6);
    assert.equal(
      (await ex.api.get(`/api/v1/subnets/${s.id}/addresses`)).body.subnet.discovery.hosts_up,
      6,
      'the subnet view too',
    );
    assert.equal((await ex.api.get('/api/v1/conflicts?kind=unknown_device')).body.count, 6);
    assert.equal((await ex.api.get(`/api/v1/events?subnet_id=${s.id}&kind=new_device`)).body.count, 6);
    const metrics = await (await fetch(`${ex.url}/metrics`)).text();
    assert.match(metrics, /^lanscape_subnet_hosts_up\{subnet="127\.0\.6\.0\/29",vrf="global"\} 6$/m);
    assert.match(metrics, /^lanscape_scan_runs_total\{subnet="127\.0\.6\.0\/29",vrf="global",result="success"\} 1$/m);
  });

  it('pings the known addresses of an IPv6 subnet with real ICMPv6', async (t) => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI) throw new Error('raw ICMP needs root in CI');
      return t.skip('needs root for raw ICMP');
    }
    const s = (await ex.api.post('/api/v1/subnets', { cidr: '::1/128' })).body;
    await ex.api.post('/api/v1/addresses', { address: '::1', hostname: 'loopback' });
    const start = await ex.api.post(`/api/v1/subnets/${s.id}/scan`, {});
    const done = await finished(ex.api, start.body.id);
    assert.equal(done.state, 'done', done.error);
    assert.deepEqual([done.targets, done.alive], [1, 1]);
    const a = (await ex.api.get('/api/v1/addresses?q=loopback')).body.results[0];
    assert.equal(a.observed.status, 'up');
    assert.ok(a.observed.rtt_seconds > 0);
  });

  it('refuses sweeps larger than the maximum, missing subnets and read-only tokens', async () => {
    const big = (await ex.api.post('/api/v1/subnets', { cidr: '127.0.0.0/15' })).body;
    const r = await ex.api.post(`/api/v1/subnets/${big.id}/scan`, {});
    assert.equal(r.status, 422);
    assert.equal(r.body.error.code, 'sweep_too_large');
    assert.match(r.body.error.message, /127\.0\.0\.0\/15 is larger than the largest sweep allowed \(\/16/);
    assert.equal((await ex.api.post('/api/v1/subnets/9999/scan', {})).status, 404);
    assert.equal((await ex.api.get('/api/v1/scans/9999')).status, 404);
    assert.equal((await ex.api.post(`/api/v1/subnets/${big.id}/scan`, {}, TOKENS.read)).status, 403);
    assert.equal((await ex.api.get('/api/v1/events?kind=party')).status, 400);
    assert.equal((await ex.api.get('/api/v1/sd?port=70000')).status, 400);
  });
});

describe('without raw-socket rights', () => {
  it('starts, explains how to grant them, and serves the API and metrics', async (t) => {
    const setpriv = requireTool(t, 'setpriv', 'apt-get install util-linux');
    if (!setpriv) return;
    if (process.getuid?.() !== 0) return t.skip('needs root to drop to an unprivileged user');
    const { dir, cleanup } = tempDir();
    chownSync(dir, 65534, 65534);
    const ex = await spawnExporter(
      testEnv(join(dir, 'np.db'), { HOME: dir, TMPDIR: dir }),
      [],
      [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'],
    );
    try {
      const info = (await ex.api.get('/api/v1/info')).body;
      assert.equal(info.collectors.icmp.up, false);
      assert.match(info.collectors.icmp.message, /CAP_NET_RAW/);
      assert.match(info.collectors.icmp.message, /setcap cap_net_raw\+ep/);
      assert.match(info.collectors.icmp.message, /cap_add: \[NET_RAW\]/);
      assert.equal(info.collectors.store.up, true);
      assert.match(ex.output(), /ICMP sweeps are off: raw ICMP sockets need CAP_NET_RAW/);
      const s = (await ex.api.post('/api/v1/subnets', { cidr: '127.0.7.0/29' })).body;
      const scan = await ex.api.post(`/api/v1/subnets/${s.id}/scan`, {});
      assert.equal(scan.status, 202);
      const done = await finished(ex.api, scan.body.id);
      assert.equal(done.state, 'failed');
      assert.match(done.error, /ICMP is unavailable: raw ICMP sockets need CAP_NET_RAW/);
      const metrics = await (await fetch(`${ex.url}/metrics`)).text();
      assert.match(metrics, /^lanscape_collector_up\{collector="icmp"\} 0$/m);
      assert.match(metrics, /^lanscape_collector_up\{collector="store"\} 1$/m);
      assert.match(metrics, /^lanscape_subnet_info\{subnet="127\.0\.7\.0\/29"/m);
    } finally {
      await ex.stop();
      cleanup();
    }
  });
});
