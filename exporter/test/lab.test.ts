// The network lab fixture itself: topology, isolation (no default route), live/dead hosts,
// one MAC per LAN host, and a clean teardown.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { type Lab, requireLab, routedLiveHosts, startLab } from './helpers/lab.js';
import { requireTool } from './helpers/tools.js';

function labNamespaces(prefix: string): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}

async function ping(lab: Lab, address: string): Promise<boolean> {
  const r = await lab.exec(lab.ns.scan, ['ping', '-n', '-c1', '-W1', address], { timeoutMs: 5_000 });
  return r.code === 0;
}

test(
  'netlab fixture: isolated scanner, live and dead hosts, one MAC per LAN host, clean teardown',
  { timeout: 60_000 },
  async (t) => {
    if (!requireLab(t)) return;
    if (!requireTool(t, 'ping', 'apt-get install iputils-ping')) return;

    const lab = await startLab({ liveRouted: 20 });
    try {
      assert.match(lab.prefix, /^ipl-[0-9a-f]{6}-$/);
      assert.deepEqual(labNamespaces(lab.prefix).sort(), [lab.ns.gw, lab.ns.hosts, lab.ns.lan, lab.ns.scan].sort());

      // lo is up everywhere (the exporter in the scanner namespace listens on loopback).
      for (const ns of Object.values(lab.ns)) {
        const lo = await lab.exec(ns, ['ip', '-o', 'link', 'show', 'lo']);
        assert.equal(lo.code, 0, lo.stderr);
        assert.match(lo.stdout, /<[^>]*\bUP\b[^>]*>/, `lo is not up in ${ns}`);
      }

      // The scanner namespace has no default route: nothing outside the lab is reachable.
      for (const family of ['-4', '-6']) {
        const routes = await lab.exec(lab.ns.scan, ['ip', family, 'route', 'show', 'table', 'all']);
        assert.equal(routes.code, 0, routes.stderr);
        assert.doesNotMatch(
          routes.stdout,
          /^default/m,
          `default route in ${lab.ns.scan} (${family}):\n${routes.stdout}`,
        );
      }
      const routes = await lab.exec(lab.ns.scan, ['ip', 'route']);
      assert.match(routes.stdout, /^10\.200\.0\.0\/16 via 10\.250\.0\.1 dev scan0/m);
      assert.match(routes.stdout, /^10\.201\.0\.0\/24 dev lan0 .*src 10\.201\.0\.1/m);
      // A route lookup (no packet is sent) for an outside address fails.
      const outside = await lab.exec(lab.ns.scan, ['ip', 'route', 'get', '192.0.2.1']);
      assert.notEqual(outside.code, 0, `an outside address is routable from ${lab.ns.scan}: ${outside.stdout}`);

      // routedLive is the script's set: compare with the addresses actually configured in the hosts namespace.
      assert.deepEqual(lab.routedLive, routedLiveHosts(20));
      assert.ok(lab.routedLive.length > 20 && lab.routedLive.length <= 27, `unexpected count ${lab.routedLive.length}`);
      for (const base of ['10.200.0.10', '10.200.0.14', '10.200.7.7', '10.200.200.200'])
        assert.ok(lab.routedLive.includes(base), base);
      const hostAddrs = await lab.exec(lab.ns.hosts, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'h0']);
      const configured = [...hostAddrs.stdout.matchAll(/inet (10\.200\.\d+\.\d+)\/32/g)].map((m) => m[1]!);
      assert.deepEqual([...configured].sort(), [...lab.routedLive].sort());
      const sortedNumerically = [...lab.routedLive].sort((a, b) => {
        const [x, y] = [a, b].map((ip) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0));
        return x! - y!;
      });
      assert.deepEqual(lab.routedLive, sortedNumerically);

      // Every live routed host answers; dead ones in the routed /16 and on the LAN do not.
      const dead = ['10.200.1.1', '10.200.99.99', '10.201.0.99'];
      for (const d of dead) assert.ok(!lab.routedLive.includes(d), `${d} is unexpectedly live`);
      const [liveResults, deadResults] = await Promise.all([
        Promise.all(lab.routedLive.map(async (a) => [a, await ping(lab, a)] as const)),
        Promise.all(dead.map(async (a) => [a, await ping(lab, a)] as const)),
      ]);
      assert.deepEqual(
        liveResults.filter(([, ok]) => !ok).map(([a]) => a),
        [],
        'live routed hosts that did not answer',
      );
      assert.deepEqual(
        deadResults.filter(([, ok]) => ok).map(([a]) => a),
        [],
        'dead hosts that answered',
      );

      // Each LAN host answers, and the scanner's ARP table has its own MAC (not a sibling's).
      assert.deepEqual(
        lab.lanHosts.map((h) => h.address),
        ['10.201.0.10', '10.201.0.11', '10.201.0.12'],
      );
      assert.equal(new Set(lab.lanHosts.map((h) => h.mac)).size, 3);
      for (const host of [lab.lanHosts[1]!, lab.lanHosts[0]!, lab.lanHosts[2]!]) {
        assert.ok(await ping(lab, host.address), `LAN host ${host.address} did not answer`);
      }
      const arp = await lab.exec(lab.ns.scan, ['cat', '/proc/net/arp']);
      assert.equal(arp.code, 0, arp.stderr);
      const entries = new Map<string, { flags: string; mac: string; dev: string }>();
      for (const line of arp.stdout.trim().split('\n').slice(1)) {
        const [ip, , flags, mac, , dev] = line.trim().split(/\s+/);
        if (ip && flags && mac && dev) entries.set(ip, { flags, mac, dev });
      }
      for (const host of lab.lanHosts) {
        const e = entries.get(host.address);
        assert.ok(e, `no ARP entry for ${host.address}:\n${arp.stdout}`);
        assert.equal(e.dev, 'lan0');
        assert.equal(Number(e.flags) & 0x2, 0x2, `ARP entry for ${host.address} is incomplete`);
        assert.equal(e.mac, host.mac, `${host.address} answered ARP with the wrong MAC`);
      }

      // exec and spawn are confined to the lab's own namespaces.
      assert.throws(() => lab.spawn('ipl-other-scan', ['true']), /not part of lab/);
      await assert.rejects(lab.exec('ipl-other-scan', ['true']), /not part of lab/);

      // A spawned long-running process is killed by down().
      const sleeper = lab.spawn(lab.ns.scan, ['sleep', '60']);
      await new Promise<void>((resolve, reject) => {
        sleeper.once('spawn', resolve);
        sleeper.once('error', reject);
      });
      const exited = new Promise<void>((resolve) => sleeper.once('exit', () => resolve()));
      await lab.down();
      await exited;
      assert.ok(sleeper.exitCode !== null || sleeper.signalCode !== null, 'spawned process still running');
    } finally {
      await lab.down();
    }
    await lab.down(); // idempotent
    assert.deepEqual(labNamespaces(lab.prefix), [], 'lab namespaces left behind');
  },
);
