// Discovery per VRF (#15, migration 10), through the API on the backend under test
// (LANSCAPE_TEST_BACKEND): two agents report the same /24 in two VRFs through
// POST /api/v1/agent/results, and what each saw stays its own VRF's in hosts (address
// observations, subnet views), history, events, conflicts, http_sd and metrics. Deleting a VRF
// takes its observations with it. Central runs with scanning off and sends nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type TestExporter, startTestExporter } from './helpers/exporter.js';

const T0 = Date.UTC(2026, 11, 4, 6);
const clock = { now: T0 };
const CIDR = '10.50.0.0/24';
const SHARED = '10.50.0.10'; // answers at both sites, from two different machines
const MAC = { a: '02:0a:00:00:00:10', b: '02:0b:00:00:00:10' };

interface Site {
  vrf: number;
  subnet: number;
  agent: { id: number; name: string; token: string };
}

describe('the same /24 in two VRFs, reported by two agents', () => {
  let ex: TestExporter;
  const site: Record<'a' | 'b', Site> = {} as never;

  before(async () => {
    ex = await startTestExporter({}, { clock: () => clock.now });
    for (const name of ['a', 'b'] as const) {
      const vrf = (await ex.api.post('/api/v1/vrfs', { name: `site-${name}` })).body.id as number;
      const agent = (await ex.api.post('/api/v1/agents', { name: `agent-${name}` })).body;
      const subnet = await ex.api.post('/api/v1/subnets', { cidr: CIDR, vrf_id: vrf, agent_id: agent.id });
      assert.equal(subnet.status, 201, subnet.text);
      site[name] = { vrf, subnet: subnet.body.id, agent };
    }
    // Site A's record of .10 has another MAC than the machine answering there (a mac_mismatch in
    // VRF A only); site B's record matches what answers at site B.
    for (const [name, mac] of [
      ['a', '02:0a:00:00:00:99'],
      ['b', MAC.b],
    ] as const) {
      const r = await ex.api.post('/api/v1/addresses', { address: SHARED, vrf_id: site[name].vrf, mac });
      assert.equal(r.status, 201, r.text);
    }
  });
  after(async () => ex.stop());

  const post = (name: 'a' | 'b', observations: Record<string, unknown>[]) =>
    ex.api.post(
      '/api/v1/agent/results',
      {
        batch_id: randomUUID(),
        subnet_id: site[name].subnet,
        started_at: new Date(clock.now - 2000).toISOString(),
        finished_at: new Date(clock.now - 1000).toISOString(),
        sent: 254,
        observations,
        queue_depth: 0,
        dropped_total: 0,
        agent_version: '1.0.0',
      },
      site[name].agent.token,
    );
  const addressIn = async (name: 'a' | 'b', address: string) =>
    (await ex.api.get(`/api/v1/addresses?vrf_id=${site[name].vrf}&q=${address}`)).body.results.find(
      (r: { address: string }) => r.address === address,
    );

  it('applies each site’s sweep into its own VRF', async () => {
    const a = await post('a', [
      { address: SHARED, rtt_seconds: 0.001, mac: MAC.a, ports: [22] },
      { address: '10.50.0.20', rtt_seconds: 0.002, mac: '02:0a:00:00:00:20' },
    ]);
    assert.equal(a.status, 200, a.text);
    assert.equal(a.body.applied, true);
    const b = await post('b', [{ address: SHARED, rtt_seconds: 0.003, mac: MAC.b, ports: [22] }]);
    assert.equal(b.status, 200, b.text);
    assert.equal(b.body.applied, true);

    // Hosts: one observation per VRF for the same address, each with its own site's MAC.
    const [hostA, hostB] = [await addressIn('a', SHARED), await addressIn('b', SHARED)];
    assert.equal(hostA.observed.mac, MAC.a);
    assert.equal(hostA.observed.rtt_seconds, 0.001);
    assert.equal(hostB.observed.mac, MAC.b);
    assert.equal(hostB.observed.rtt_seconds, 0.003);
    // The new device of site A is recorded in VRF A only.
    assert.equal((await addressIn('a', '10.50.0.20'))?.source, 'discovered');
    assert.equal(await addressIn('b', '10.50.0.20'), undefined);
    const up = async (name: 'a' | 'b') =>
      (await ex.api.get(`/api/v1/subnets/${site[name].subnet}`)).body.discovery.hosts_up as number;
    assert.deepEqual([await up('a'), await up('b')], [2, 1]);
    const rows = await ex.store.exec.all<{ vrf_id: number; n: number }>(
      'SELECT vrf_id, CAST(count(*) AS integer) AS n FROM hosts GROUP BY vrf_id ORDER BY vrf_id',
    );
    assert.deepEqual(
      rows.map((r) => [r.vrf_id, r.n]),
      [
        [site.a.vrf, 2],
        [site.b.vrf, 1],
      ],
    );
  });

  it('exports one series per VRF for the same address and CIDR, and two http_sd targets', async () => {
    const text = (await ex.api.get('/metrics')).text;
    const sample = (metric: string, labels: string) => {
      const m = new RegExp(`^${metric}\\{${labels}\\} (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const host = (vrf: string) => `address="${SHARED}",subnet="${CIDR}",vrf="${vrf}"`;
    assert.equal(sample('lanscape_host_up', host('site-a')), 1);
    assert.equal(sample('lanscape_host_up', host('site-b')), 1);
    assert.equal(sample('lanscape_host_up', host('global')), undefined);
    assert.match(text, new RegExp(`lanscape_host_info\\{${host('site-a')},hostname="",mac="${MAC.a}"`));
    assert.match(text, new RegExp(`lanscape_host_info\\{${host('site-b')},hostname="",mac="${MAC.b}"`));
    assert.equal(sample('lanscape_subnet_hosts_up', `subnet="${CIDR}",vrf="site-a"`), 2);
    assert.equal(sample('lanscape_subnet_hosts_up', `subnet="${CIDR}",vrf="site-b"`), 1);
    assert.equal(sample('lanscape_conflicts', `subnet="${CIDR}",vrf="site-a",kind="mac_mismatch"`), 1);
    assert.equal(sample('lanscape_conflicts', `subnet="${CIDR}",vrf="site-b",kind="mac_mismatch"`), 0);
    assert.equal(sample('lanscape_scan_runs_total', `subnet="${CIDR}",vrf="site-a",result="success"`), 1);
    assert.equal(sample('lanscape_scan_runs_total', `subnet="${CIDR}",vrf="site-b",result="success"`), 1);

    const sd = (await ex.api.get('/api/v1/sd?port=22')).body as { targets: string[]; labels: Record<string, string> }[];
    // One group per VRF: the same address:port, told apart by __meta_lanscape_vrf.
    assert.deepEqual(
      sd.map((g) => [g.targets[0], g.labels.__meta_lanscape_vrf, g.labels.__meta_lanscape_subnet]),
      [
        [`${SHARED}:22`, 'site-a', CIDR],
        [`${SHARED}:22`, 'site-b', CIDR],
      ],
    );
  });

  it('keeps history per VRF', async () => {
    // A second sweep at site B only, where .10 is silent.
    clock.now += 60_000;
    assert.equal((await post('b', [])).body.applied, true);
    const history = async (name: 'a' | 'b') => {
      const id = (await addressIn(name, SHARED)).id as number;
      const r = await ex.api.get(`/api/v1/addresses/${id}/history?hours=1`);
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    const [a, b] = [await history('a'), await history('b')];
    assert.equal(a.vrf_id, site.a.vrf);
    assert.equal(b.vrf_id, site.b.vrf);
    assert.deepEqual(
      a.samples.map((s: { up: boolean }) => s.up),
      [true],
    );
    assert.deepEqual(
      b.samples.map((s: { up: boolean }) => s.up),
      [true, false],
    );
    assert.equal(a.observed.mac, MAC.a);
    assert.equal(b.observed.mac, MAC.b);
    assert.equal(a.uptime['24h'], 1);
    assert.equal(b.uptime['24h'], 0.5);
  });

  it('lists events per VRF; an address without vrf_id has its events in both, each marked', async () => {
    const events = async (query: string) => (await ex.api.get(`/api/v1/events?limit=100&${query}`)).body;
    const a = await events(`vrf_id=${site.a.vrf}`);
    assert.equal(a.count, 2);
    assert.ok(a.results.every((e: { vrf_id: number; kind: string }) => e.vrf_id === site.a.vrf));
    assert.deepEqual(a.results.map((e: { address: string }) => e.address).sort(), [SHARED, '10.50.0.20']);
    const shared = await events(`address=${SHARED}&kind=new_device`);
    assert.deepEqual(
      shared.results.map((e: { vrf_id: number; details: { mac: string } }) => [e.vrf_id, e.details.mac]).sort(),
      [
        [site.a.vrf, MAC.a],
        [site.b.vrf, MAC.b],
      ].sort(),
    );
    const bySubnet = await events(`subnet_id=${site.b.subnet}`);
    assert.equal(bySubnet.count, 1);
    assert.equal(bySubnet.results[0].vrf_id, site.b.vrf);
    // A subnet and another VRF: nothing.
    assert.equal((await events(`subnet_id=${site.b.subnet}&vrf_id=${site.a.vrf}`)).count, 0);
  });

  it('finds conflicts against the address of the host’s own VRF', async () => {
    const conflicts = async (query = '') => (await ex.api.get(`/api/v1/conflicts?limit=100${query}`)).body.results;
    const mismatches = await conflicts('&kind=mac_mismatch');
    assert.deepEqual(
      mismatches.map((c: { vrf_id: number; subnet_id: number; address: string }) => [c.vrf_id, c.subnet_id, c.address]),
      [[site.a.vrf, site.a.subnet, SHARED]],
      "site B's record matches what answers at site B",
    );
    assert.equal(mismatches[0].details.observed_mac, MAC.a);
    const unknown = await conflicts('&kind=unknown_device');
    assert.deepEqual(
      unknown.map((c: { vrf_id: number; subnet_id: number; address: string }) => [c.vrf_id, c.subnet_id, c.address]),
      [[site.a.vrf, site.a.subnet, '10.50.0.20']],
    );
    assert.deepEqual(await conflicts(`&vrf_id=${site.b.vrf}`), []);
  });

  it('deleting a VRF (once it holds no subnets) takes its observations with it', async () => {
    assert.equal((await ex.api.delete(`/api/v1/vrfs/${site.b.vrf}`)).status, 409, 'it still holds a subnet');
    assert.equal((await ex.api.delete(`/api/v1/subnets/${site.b.subnet}?force=true`)).status, 204);
    assert.equal((await ex.api.delete(`/api/v1/vrfs/${site.b.vrf}`)).status, 204);
    const left = async (table: string) =>
      (await ex.store.exec.all<{ vrf_id: number }>(`SELECT DISTINCT vrf_id FROM ${table} ORDER BY vrf_id`)).map(
        (r) => r.vrf_id,
      );
    for (const table of ['hosts', 'host_history', 'events']) assert.deepEqual(await left(table), [site.a.vrf], table);
    assert.equal((await addressIn('a', SHARED)).observed.mac, MAC.a, "site A's observations stay");
  });
});
