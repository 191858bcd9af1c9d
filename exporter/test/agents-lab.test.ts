// Sites and agents in the lab (#15), real ICMP and ARP: two sites (two labs), each with its own
// agent in its scanner namespace and live hosts, both on the SAME LAN 10.201.0.0/24, each
// subnet in its own VRF (site B's LAN set: another machine at 10.201.0.10, and 10.201.0.20);
// central in a namespace of its own that has nothing but loopback (no route to either site),
// reached over a unix socket. Both sites' hosts appear in central under their own VRF, with
// their own site's MACs; central sent no packet (its ICMP counters stay 0).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ApiClient, EXPORTER_DIR, TOKENS, tempDir, testEnv } from './helpers/exporter.js';
import { type Lab, requireLab, startLab, waitForLine } from './helpers/lab.js';
import { stopChild } from './helpers/processes.js';

/** A namespace's IP and ICMP counters (/proc/net/snmp is per network namespace). */
function counters(ns: string): { outRequests: number; outEchos: number } {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const table = (name: string) => {
    const [head, values] = r.stdout.split('\n').filter((l) => l.startsWith(`${name}:`));
    const keys = head!.split(/\s+/).slice(1);
    const vals = values!.split(/\s+/).slice(1).map(Number);
    return Object.fromEntries(keys.map((k, i) => [k, vals[i]!]));
  };
  return { outRequests: table('Ip').OutRequests!, outEchos: table('Icmp').OutEchos! };
}

describe('sites and agents in the lab', { timeout: 240_000 }, () => {
  it('two sites, each swept by its agent, show up in central; central sends nothing', async (t) => {
    if (!requireLab(t)) return;
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const labs: Lab[] = [];
    t.after(async () => {
      for (const lab of labs) await lab.down();
    });
    const siteA = await startLab();
    labs.push(siteA);
    const siteB = await startLab({ lanSet: 'b' });
    labs.push(siteB);

    // Central's namespace: loopback only, no route anywhere.
    const centralNs = `ipl-${randomBytes(3).toString('hex')}-ctl`;
    assert.equal(spawnSync('ip', ['netns', 'add', centralNs]).status, 0);
    t.after(() => {
      spawnSync('ip', ['netns', 'del', centralNs]);
    });
    spawnSync('ip', ['netns', 'exec', centralNs, 'ip', 'link', 'set', 'lo', 'up']);
    const socket = join(dir, 'central.sock');
    const central: ChildProcess = spawn(
      'ip',
      ['netns', 'exec', centralNs, process.execPath, '--import', 'tsx', 'src/main.ts'],
      {
        cwd: EXPORTER_DIR,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          ...testEnv(join(dir, 'central.db')),
          LANSCAPE_LISTEN: `unix:${socket}`,
          LANSCAPE_LOG_LEVEL: 'info',
          // Central may sweep (it would if it were not for the assignments): what proves it does not.
          LANSCAPE_SCAN_ENABLED: 'true',
          LANSCAPE_SCAN_PPS: '2000',
          LANSCAPE_SCAN_TIMEOUT_MS: '500',
        },
      },
    );
    t.after(() => stopChild(central, 5_000));
    await waitForLine(central, /lanscape exporter listening/, 60_000);
    const api = new ApiClient(`unix:${socket}`, TOKENS.admin);
    t.after(() => api.close());
    const before = counters(centralNs);

    // The same /24 at both sites, each in its site's VRF.
    const cidr = '10.201.0.0/24';
    const sites = [siteA, siteB].map((lab, i) => ({
      lab,
      name: `site-${'ab'[i]}`,
      vrf: 0,
      // the agent's own address answers too (no MAC: it is local)
      hosts: [['10.201.0.1', null] as [string, string | null], ...lab.lanHosts.map((h) => [h.address, h.mac])],
    }));
    assert.notDeepEqual(siteA.lanHosts, siteB.lanHosts);
    const agents: ChildProcess[] = [];
    const subnetIds = new Map<string, number>();
    for (const site of sites) {
      const vrf = await api.post('/api/v1/vrfs', { name: site.name });
      assert.equal(vrf.status, 201, vrf.text);
      site.vrf = vrf.body.id as number;
      const agent = (await api.post('/api/v1/agents', { name: site.name })).body;
      const subnet = await api.post('/api/v1/subnets', {
        cidr,
        vrf_id: site.vrf,
        name: site.name,
        agent_id: agent.id,
        scan_interval_seconds: 10,
      });
      assert.equal(subnet.status, 201, subnet.text);
      assert.equal(subnet.body.vrf_id, site.vrf);
      subnetIds.set(site.name, subnet.body.id as number);
      const child = site.lab.spawn(site.lab.ns.scan, [process.execPath, '--import', 'tsx', 'src/main.ts', 'agent'], {
        cwd: EXPORTER_DIR,
        env: {
          PATH: process.env.PATH ?? '',
          LANSCAPE_AGENT_CENTRAL_URL: `unix:${socket}`,
          LANSCAPE_AGENT_TOKEN: agent.token,
          LANSCAPE_AGENT_QUEUE_DIR: join(dir, `${site.name}-queue`),
          LANSCAPE_AGENT_LISTEN: '127.0.0.1:9646',
          LANSCAPE_LOG_LEVEL: 'info',
        },
      });
      agents.push(child);
      await waitForLine(child, /lanscape agent starting/, 60_000);
    }
    t.after(async () => {
      for (const a of agents) await stopChild(a, 5_000);
    });

    // Both sites' hosts arrive through their agents' reports.
    const found = async (site: (typeof sites)[number]) =>
      (
        (await api.get(`/api/v1/addresses?subnet_id=${subnetIds.get(site.name)}&limit=1000`)).body.results as {
          address: string;
          vrf_id: number;
          mac: string | null;
          source: string;
          observed: { status: string; mac: string | null } | null;
        }[]
      ).filter((a) => a.source === 'discovered');
    const deadline = Date.now() + 120_000;
    for (;;) {
      const [a, b] = await Promise.all(sites.map(found));
      if (a!.length >= sites[0]!.hosts.length && b!.length >= sites[1]!.hosts.length) break;
      if (Date.now() > deadline) assert.fail(`hosts did not arrive: ${JSON.stringify([a, b])}`);
      await sleep(500);
    }
    const [a, b] = await Promise.all(sites.map(found));
    for (const [site, got] of [
      [sites[0]!, a!],
      [sites[1]!, b!],
    ] as const) {
      assert.deepEqual(
        got.map((h) => [h.address, h.mac]).sort(),
        [...site.hosts].sort(),
        `${site.name}'s LAN hosts with their own MACs (read by the agent from its neighbour table), and the agent's own address`,
      );
      for (const h of got) {
        assert.equal(h.vrf_id, site.vrf, `${h.address} is recorded in ${site.name}'s VRF`);
        assert.equal(h.observed?.status, 'up');
        assert.equal(h.observed?.mac, h.mac, `${h.address} observed in ${site.name}'s VRF`);
      }
    }
    // 10.201.0.10 answers at both sites, from two machines: two hosts, one per VRF.
    const shared = [a!, b!].map((list) => list.find((h) => h.address === '10.201.0.10')!.mac);
    assert.deepEqual(shared, ['00:1b:21:0a:00:10', '00:1b:21:0b:00:10']);
    const listed = (await api.get('/api/v1/agents')).body.results as {
      name: string;
      status: string;
      last_report_at: string | null;
      metrics_url: string;
    }[];
    for (const l of listed) {
      assert.equal(l.status, 'up');
      assert.ok(l.last_report_at);
      assert.equal(l.metrics_url, 'http://127.0.0.1:9646/metrics');
    }
    const metrics = (await api.get('/metrics')).text;
    assert.match(metrics, /lanscape_agent_up\{agent="site-a"\} 1/);
    assert.match(metrics, /lanscape_subnet_hosts_up\{subnet="10\.201\.0\.0\/24",vrf="site-a"\} 4/);
    assert.match(metrics, /lanscape_subnet_hosts_up\{subnet="10\.201\.0\.0\/24",vrf="site-b"\} 3/);
    assert.match(
      metrics,
      /lanscape_host_info\{address="10\.201\.0\.10",subnet="10\.201\.0\.0\/24",vrf="site-b",hostname="[^"]*",mac="00:1b:21:0b:00:10"/,
    );

    // The agent's own /metrics, on its site's loopback (what central's /api/v1/sd/agents points at).
    const own = await siteA.exec(siteA.ns.scan, [
      process.execPath,
      '-e',
      "fetch('http://127.0.0.1:9646/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
    ]);
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, /^lanscape_agent_queue_depth 0$/m);
    assert.match(own.stdout, /^lanscape_agent_central_up 1$/m);
    assert.match(own.stdout, /^lanscape_agent_sweeps_total\{result="ok"\} [1-9]/m);

    // Central sent no packet: no echo request, no IP packet at all from its namespace.
    const after = counters(centralNs);
    assert.deepEqual(after, before);
    assert.equal(after.outEchos, 0);
    // …while each agent did the sweeping in its own site.
    assert.ok(counters(siteA.ns.scan).outEchos >= 254, 'the agent at site A swept its /24');
  });
});
