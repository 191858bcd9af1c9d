// Sites and agents (#15), central's side through the API, on the backend under test
// (LANSCAPE_TEST_BACKEND): registering, scopes, assignments, result batches applied once, the
// refusals that apply nothing (403 unassigned, 422 outside, 401 revoked), health and metrics.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type TestExporter, TOKENS, startTestExporter } from './helpers/exporter.js';

const T0 = Date.UTC(2026, 11, 4, 6);
const clock = { now: T0 };

describe('agents API', () => {
  let ex: TestExporter;
  let agent: { id: number; name: string; token: string };
  let other: { id: number; name: string; token: string };
  let subnetId: number;
  let unassignedId: number;

  before(async () => {
    ex = await startTestExporter({}, { clock: () => clock.now });
    subnetId = (await ex.api.post('/api/v1/subnets', { cidr: '127.77.1.0/29', name: 'site-a lan' })).body.id;
    unassignedId = (await ex.api.post('/api/v1/subnets', { cidr: '127.77.2.0/29' })).body.id;
  });
  after(async () => ex.stop());

  const batch = (over: Record<string, unknown> = {}) => ({
    batch_id: randomUUID(),
    subnet_id: subnetId,
    started_at: new Date(clock.now - 2000).toISOString(),
    finished_at: new Date(clock.now - 1000).toISOString(),
    sent: 6,
    observations: [
      { address: '127.77.1.2', rtt_seconds: 0.0012, mac: '02:00:00:00:01:02', ports: [22], ptr: 'nas.site-a.lan' },
      { address: '127.77.1.3', rtt_seconds: 0.002 },
    ],
    queue_depth: 0,
    dropped_total: 0,
    agent_version: '1.2.3',
    metrics_url: 'http://127.0.0.1:9646/metrics',
    ...over,
  });
  const counts = async () => ({
    events: (await ex.api.get(`/api/v1/events?subnet_id=${subnetId}&limit=1`)).body.count as number,
    addresses: (await ex.api.get(`/api/v1/addresses?subnet_id=${subnetId}&limit=1`)).body.count as number,
    hostsUp: (await ex.api.get(`/api/v1/subnets/${subnetId}`)).body.discovery?.hosts_up as number,
  });

  it('registers agents with admin scope only; the token is shown once and never listed', async () => {
    assert.equal((await ex.api.post('/api/v1/agents', { name: 'site-a' }, TOKENS.write)).status, 403);
    const created = await ex.api.post('/api/v1/agents', { name: 'site-a' });
    assert.equal(created.status, 201, created.text);
    agent = created.body;
    assert.match(agent.token, /^lsa_\d+_[A-Za-z0-9_-]{43}$/);
    assert.equal((await ex.api.post('/api/v1/agents', { name: 'site-a' })).status, 409);
    assert.equal((await ex.api.post('/api/v1/agents', { name: 'bad name!' })).status, 400);
    other = (await ex.api.post('/api/v1/agents', { name: 'site-b' })).body;
    const list = await ex.api.get('/api/v1/agents', TOKENS.read);
    assert.equal(list.status, 200);
    assert.equal(list.body.count, 2);
    assert.equal(list.body.results[0].status, 'never');
    assert.ok(!list.text.includes(agent.token.slice(-20)), 'the token is not listed');
  });

  it('assigns a subnet through agent_id (unknown agents refused) and central never sweeps it', async () => {
    assert.equal((await ex.api.patch(`/api/v1/subnets/${subnetId}`, { agent_id: 999 })).status, 422);
    const patched = await ex.api.patch(`/api/v1/subnets/${subnetId}`, { agent_id: agent.id });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.agent_id, agent.id);
    const scan = await ex.api.post(`/api/v1/subnets/${subnetId}/scan`, {});
    assert.equal(scan.status, 409);
    assert.equal(scan.body.error.code, 'assigned_to_agent');
    const list = (await ex.api.get('/api/v1/agents')).body.results;
    assert.deepEqual(list[0].subnets, [{ id: subnetId, cidr: '127.77.1.0/29' }]);
  });

  it('assigns agents subnets in any VRF: the same CIDR in two VRFs, each to its own agent', async () => {
    const vrfA = (await ex.api.post('/api/v1/vrfs', { name: 'assign-a' })).body.id as number;
    const vrfB = (await ex.api.post('/api/v1/vrfs', { name: 'assign-b' })).body.id as number;
    const a = await ex.api.post('/api/v1/subnets', { cidr: '127.77.9.0/29', vrf_id: vrfA, agent_id: agent.id });
    assert.equal(a.status, 201, a.text);
    assert.equal(a.body.agent_id, agent.id);
    const b = await ex.api.post('/api/v1/subnets', { cidr: '127.77.9.0/29', vrf_id: vrfB });
    assert.equal(b.status, 201, b.text);
    const patched = await ex.api.patch(`/api/v1/subnets/${b.body.id}`, { agent_id: other.id });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.agent_id, other.id);
    assert.equal(patched.body.vrf_id, vrfB);
    // Central never sweeps either (an agent's subnet), whatever its VRF.
    const scan = await ex.api.post(`/api/v1/subnets/${b.body.id}/scan`, {});
    assert.equal(scan.status, 409);
    assert.equal(scan.body.error.code, 'assigned_to_agent');
    const assigned = async (token: string) =>
      (await ex.api.get('/api/v1/agent/assignments', token)).body.subnets.map((s: { id: number }) => s.id);
    assert.ok((await assigned(agent.token)).includes(a.body.id));
    assert.ok(!(await assigned(agent.token)).includes(b.body.id));
    assert.deepEqual(await assigned(other.token), [b.body.id]);
    for (const id of [a.body.id, b.body.id]) assert.equal((await ex.api.delete(`/api/v1/subnets/${id}`)).status, 204);
    for (const id of [vrfA, vrfB]) assert.equal((await ex.api.delete(`/api/v1/vrfs/${id}`)).status, 204);
  });

  it('an agent token reads its assignments (a heartbeat) and nothing else', async () => {
    assert.equal((await ex.api.get('/api/v1/subnets', agent.token)).status, 403);
    assert.equal((await ex.api.get('/api/v1/agents', agent.token)).status, 403);
    assert.equal((await ex.api.get('/api/v1/agent/assignments', TOKENS.admin)).status, 403);
    const a = await ex.api.get('/api/v1/agent/assignments?queue_depth=3&agent_version=1.2.3', agent.token);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.body.agent, { id: agent.id, name: 'site-a' });
    assert.deepEqual(
      a.body.subnets.map((s: { id: number }) => s.id),
      [subnetId],
    );
    const b = await ex.api.get('/api/v1/agent/assignments', other.token);
    assert.deepEqual(b.body.subnets, []);
    const listed = (await ex.api.get('/api/v1/agents')).body.results[0];
    assert.equal(listed.status, 'up');
    assert.equal(listed.queue_depth, 3);
    assert.equal(listed.last_report_at, null);
  });

  it('refuses a batch for a subnet not assigned to the agent (403) or with an address outside it (422): nothing applied', async () => {
    const before = await counts();
    const wrong = await ex.api.post('/api/v1/agent/results', batch({ subnet_id: unassignedId }), agent.token);
    assert.equal(wrong.status, 403, wrong.text);
    const others = await ex.api.post('/api/v1/agent/results', batch(), other.token);
    assert.equal(others.status, 403);
    const outside = await ex.api.post(
      '/api/v1/agent/results',
      batch({
        observations: [
          { address: '127.77.1.2', rtt_seconds: 0.001 },
          { address: '127.77.9.9', rtt_seconds: 0.001 },
        ],
      }),
      agent.token,
    );
    assert.equal(outside.status, 422, outside.text);
    assert.deepEqual(outside.body.error.details.addresses, ['127.77.9.9']);
    assert.deepEqual(await counts(), before);
    assert.equal((await ex.api.get('/api/v1/agents')).body.results[0].last_report_at, null);
  });

  it('applies a batch as a sweep of its own; a replay changes nothing', async () => {
    const b = batch();
    const r = await ex.api.post('/api/v1/agent/results', b, agent.token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.applied, true);
    const scan = (await ex.api.get(`/api/v1/scans/${r.body.scan_id}`)).body;
    assert.equal(scan.trigger, 'agent');
    assert.equal(scan.state, 'done');
    assert.equal(scan.alive, 2);
    const after1 = await counts();
    assert.equal(after1.hostsUp, 2);
    assert.equal(after1.addresses, 2, 'new devices are recorded as discovered addresses');
    const nas = (await ex.api.get('/api/v1/addresses?q=127.77.1.2')).body.results.find(
      (a: { address: string }) => a.address === '127.77.1.2',
    );
    assert.equal(nas.mac, '02:00:00:00:01:02');
    assert.equal(nas.hostname, 'nas.site-a.lan');
    assert.deepEqual(
      nas.observed.ports.map((p: { port: number }) => p.port),
      [22],
    );
    const again = await ex.api.post('/api/v1/agent/results', b, agent.token);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { applied: false, duplicate: true, scan_id: null });
    assert.deepEqual(await counts(), after1);
    const listed = (await ex.api.get('/api/v1/agents')).body.results[0];
    assert.equal(listed.last_report_at, new Date(clock.now).toISOString());
    assert.equal(listed.version, '1.2.3');
    // A later sweep where .3 is silent: down after scan.down_after misses, as with local sweeps.
    clock.now += 60_000;
    const r2 = await ex.api.post(
      '/api/v1/agent/results',
      batch({ observations: [{ address: '127.77.1.2', rtt_seconds: 0.001 }] }),
      agent.token,
    );
    assert.equal(r2.body.applied, true);
    assert.equal((await ex.api.get(`/api/v1/scans/${r2.body.scan_id}`)).body.alive, 1);
  });

  it('applies a batch again when its apply was cut short (central died mid-apply), once', async () => {
    clock.now += 60_000;
    const b = batch({ observations: [{ address: '127.77.1.4', rtt_seconds: 0.001 }] });
    const first = await ex.api.post('/api/v1/agent/results', b, agent.token);
    assert.equal(first.body.applied, true, first.text);
    // What a central killed mid-apply leaves once a replica has noticed: the scan failed as abandoned.
    await ex.store.exec.run("UPDATE scans SET state = 'failed', error = ? WHERE id = ?", [
      'abandoned: running since then by an exporter that stopped',
      first.body.scan_id,
    ]);
    const retried = await ex.api.post('/api/v1/agent/results', b, agent.token);
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.body.applied, true, 'the retry applies the batch again');
    assert.notEqual(retried.body.scan_id, first.body.scan_id);
    assert.equal((await ex.api.get(`/api/v1/scans/${retried.body.scan_id}`)).body.state, 'done');
    const settled = await counts();
    const again = await ex.api.post('/api/v1/agent/results', b, agent.token);
    assert.deepEqual(again.body, { applied: false, duplicate: true, scan_id: null }, 'then once only');
    assert.deepEqual(await counts(), settled);
    // A batch whose sweep failed at the site was applied (as a failed scan): a replay is a duplicate.
    const failedAtSite = batch({ observations: [], error: 'fping: permission denied' });
    assert.equal((await ex.api.post('/api/v1/agent/results', failedAtSite, agent.token)).body.applied, true);
    assert.equal((await ex.api.post('/api/v1/agent/results', failedAtSite, agent.token)).body.duplicate, true);
  });

  it('exports agent health as metrics (store scope) and the agents’ /metrics through http_sd', async () => {
    const text = (await ex.api.get('/metrics')).text;
    assert.match(text, /lanscape_agent_up\{agent="site-a"\} 1/);
    assert.match(text, /lanscape_agent_up\{agent="site-b"\} 1/);
    assert.match(
      text,
      new RegExp(`lanscape_agent_last_report_timestamp_seconds\\{agent="site-a"\\} ${clock.now / 1000}`),
    );
    const sd = await ex.api.get('/api/v1/sd/agents', TOKENS.read);
    // site-b said its metrics_url with its (refused) batch: what an agent says of itself is kept.
    assert.deepEqual(
      sd.body.map((g: { labels: Record<string, string> }) => g.labels.__meta_lanscape_agent),
      ['site-a', 'site-b'],
    );
    assert.deepEqual(sd.body[0], {
      targets: ['127.0.0.1:9646'],
      labels: { __scheme__: 'http', __metrics_path__: '/metrics', __meta_lanscape_agent: 'site-a' },
    });
    clock.now += 4 * 60_000;
    const list = (await ex.api.get('/api/v1/agents')).body.results;
    assert.deepEqual(
      list.map((a: { status: string }) => a.status),
      ['down', 'down'],
    );
    assert.match((await ex.api.get('/metrics')).text, /lanscape_agent_up\{agent="site-a"\} 0/);
  });

  it('forgets applied batch ids after 30 days', async () => {
    const count = async () => (await ex.store.exec.all('SELECT batch_id FROM agent_batches')).length;
    const held = await count();
    assert.ok(held >= 2);
    assert.equal(await ex.agents.prune(), 0);
    clock.now += 31 * 86_400_000;
    assert.equal(await ex.agents.prune(), held);
    assert.equal(await count(), 0);
  });

  it('a revoked agent gets 401 and can no longer be assigned subnets', async () => {
    assert.equal((await ex.api.delete(`/api/v1/agents/${agent.id}`, TOKENS.write)).status, 403);
    assert.equal((await ex.api.delete(`/api/v1/agents/${agent.id}`)).status, 204);
    const r = await ex.api.post('/api/v1/agent/results', batch(), agent.token);
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'agent_revoked');
    assert.equal((await ex.api.get('/api/v1/agent/assignments', agent.token)).status, 401);
    assert.equal((await ex.api.get('/api/v1/agent/assignments', `${agent.token.slice(0, -1)}x`)).status, 401);
    assert.equal((await ex.api.patch(`/api/v1/subnets/${unassignedId}`, { agent_id: agent.id })).status, 422);
    assert.equal((await ex.api.get('/api/v1/agents')).body.results[0].status, 'revoked');
    assert.doesNotMatch((await ex.api.get('/metrics')).text, /lanscape_agent_up\{agent="site-a"\}/);
  });
});
