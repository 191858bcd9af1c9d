// Discovery end to end in the lab network: the exporter runs inside the scanner namespace (no
// default route) and is reached through a unix socket. Real ICMP, real ARP, real TCP listeners,
// a real DNS server for PTR names.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient, EXPORTER_DIR, TOKENS, tempDir, testEnv } from './helpers/exporter.js';
import { type Lab, requireLab, routerLoss, startLab, waitForLine } from './helpers/lab.js';
import { which } from './helpers/tools.js';

let lab: Lab | undefined;
let api: ApiClient;
let dir: string;
let cleanup: () => void;
const LAN = '10.201.0.0/24';
const ROUTED = '10.200.0.0/16';

async function scan(subnetId: number): Promise<any> {
  const start = await api.post(`/api/v1/subnets/${subnetId}/scan`, {});
  assert.equal(start.status, 202, start.text);
  for (let i = 0; i < 600; i++) {
    const s = await api.get(`/api/v1/scans/${start.body.id}`);
    if (s.body.state === 'done' || s.body.state === 'failed') return s.body;
    await sleep(100);
  }
  throw new Error('scan did not finish in 60 s');
}

async function address(ip: string): Promise<any> {
  const r = await api.get(`/api/v1/addresses?q=${encodeURIComponent(ip)}&limit=1000`);
  return r.body.results.find((a: { address: string }) => a.address === ip);
}

const ids: Record<string, number> = {};

/** Starts an exporter in the lab's scanner namespace with this YAML and environment; returns its socket. */
async function startExporter(
  lab: Lab,
  inDir: string,
  name: string,
  yaml: string[],
  env: Record<string, string>,
): Promise<string> {
  const config = join(inDir, `${name}.yaml`);
  writeFileSync(config, yaml.join('\n'));
  const socket = join(inDir, `${name}.sock`);
  const exporter = lab.spawn(lab.ns.scan, [process.execPath, '--import', 'tsx', 'src/main.ts'], {
    cwd: EXPORTER_DIR,
    env: {
      ...process.env,
      ...testEnv(join(inDir, `${name}.db`)),
      LANSCAPE_CONFIG: config,
      LANSCAPE_LISTEN: `unix:${socket}`,
      LANSCAPE_LOG_LEVEL: 'info',
      ...env,
    },
  });
  await waitForLine(exporter, /lanscape exporter listening/);
  return socket;
}

describe('discovery in the lab network', { timeout: 180_000 }, () => {
  before(async (t) => {
    if (!requireLab(t as never)) return;
    ({ dir, cleanup } = tempDir());
    lab = await startLab({ liveRouted: 20 });
    // Services on lab hosts: node-exporter-like listener on a routed host, a web UI on a LAN host.
    lab.spawn(lab.ns.hosts, [
      process.execPath,
      '-e',
      "require('net').createServer((s) => s.end()).listen(9100, '10.200.0.11')",
    ]);
    // A web UI nmap -sV can identify (it names Express from the X-Powered-By header).
    lab.spawn(lab.ns.lan, [
      process.execPath,
      '-e',
      "require('http').createServer((q, r) => { r.setHeader('X-Powered-By', 'Express'); r.end('ok'); }).listen(8080, '10.201.0.10')",
    ]);
    const dns = lab.spawn(
      lab.ns.scan,
      [
        process.execPath,
        '--import',
        'tsx',
        'test/fixtures/dns-server-main.ts',
        JSON.stringify({ '10.201.0.10': 'printer.lab.example', '10.200.0.11': 'metrics.lab.example' }),
      ],
      { cwd: EXPORTER_DIR },
    );
    const dnsAddress = (await waitForLine(dns, /"address":"([^"]+)"/))[1]!;
    const socket = await startExporter(
      lab,
      dir,
      'lab',
      ['scan:', '  manual_min_interval_seconds: 0', '  port_interval_seconds: 0', '  port_timeout_ms: 300'],
      {
        LANSCAPE_SCAN_PPS: '20000',
        LANSCAPE_SCAN_TIMEOUT_MS: '400',
        LANSCAPE_SCAN_RETRIES: '0',
        LANSCAPE_SCAN_DOWN_AFTER: '2',
        LANSCAPE_SCAN_PORTS: '22,8080/http-alt,9100/node-exporter',
        LANSCAPE_SCAN_RDNS: 'true',
        LANSCAPE_SCAN_DNS_SERVERS: dnsAddress,
        LANSCAPE_SCAN_NMAP: which('nmap') ? 'true' : 'false',
      },
    );
    api = new ApiClient(`unix:${socket}`, TOKENS.admin);
    ids.lan = (await api.post('/api/v1/subnets', { cidr: LAN, name: 'lab lan' })).body.id;
    ids.routed = (await api.post('/api/v1/subnets', { cidr: ROUTED, name: 'lab routed' })).body.id;
    // A person's records: .11 with its right MAC, .12 with a wrong one, .50 reserved but absent.
    assert.equal(
      (
        await api.post('/api/v1/addresses', {
          address: '10.201.0.11',
          state: 'assigned',
          hostname: 'nas',
          mac: '00:1b:21:0a:00:11',
        })
      ).status,
      201,
    );
    assert.equal(
      (await api.post('/api/v1/addresses', { address: '10.201.0.12', state: 'assigned', mac: '00:00:5e:00:53:01' }))
        .status,
      201,
    );
    assert.equal(
      (await api.post('/api/v1/addresses', { address: '10.201.0.50', state: 'reserved', hostname: 'future' })).status,
      201,
    );
  });

  after(async () => {
    api?.close();
    await lab?.down();
    cleanup?.();
  });

  it('finds exactly the live hosts of the LAN, with MACs, vendors, names and open ports', async (t) => {
    if (!lab) return t.skip('no lab');
    const result = await scan(ids.lan!);
    assert.equal(result.state, 'done', result.error);
    assert.equal(result.targets, 254);
    assert.equal(result.sent, 254, 'one echo request per address, nothing outside the subnet');
    const rows = (await api.get(`/api/v1/subnets/${ids.lan}/addresses`)).body.results;
    const up = rows
      .filter((r: any) => r.type === 'address' && r.address.observed?.status === 'up')
      .map((r: any) => r.address.address);
    // 10.201.0.1 is the scanner's own LAN address, which answers like any other host.
    assert.deepEqual(up, ['10.201.0.1', '10.201.0.10', '10.201.0.11', '10.201.0.12']);
    const printer = await address('10.201.0.10');
    assert.equal(printer.source, 'discovered');
    assert.equal(printer.state, 'assigned');
    assert.equal(printer.mac, '00:1b:21:0a:00:10');
    assert.equal(printer.observed.vendor, 'Intel Corporate');
    assert.equal(printer.hostname, 'printer.lab.example', 'a discovered address takes its PTR name');
    assert.deepEqual(
      printer.observed.ports.map((p: any) => `${p.port}/${p.service}`),
      ['8080/http-alt'],
    );
    assert.ok(printer.observed.rtt_seconds > 0 && printer.observed.rtt_seconds < 0.4);
    const pi = await address('10.201.0.12');
    assert.equal(pi.observed.mac, 'b8:27:eb:0a:00:12');
    assert.equal(pi.observed.vendor, 'Raspberry Pi Foundation');
    const nas = await address('10.201.0.11');
    assert.equal(nas.hostname, 'nas', 'a name a person entered is kept');
    assert.equal(nas.source, 'manual');
    const absent = await address('10.201.0.50');
    assert.equal(absent.observed.status, 'unknown', 'one missed sweep is not enough to call it down');
    const events = (await api.get(`/api/v1/events?subnet_id=${ids.lan}&kind=new_device`)).body;
    assert.equal(events.count, 4);
  });

  it('sweeps IPv6 addresses and records their MACs from the neighbour table', async (t) => {
    if (!lab) return t.skip('no lab');
    const v6 = (await api.post('/api/v1/subnets', { cidr: 'fd00:201::/64', name: 'lab lan v6' })).body.id;
    for (const a of [...lab.lanHosts.map((h) => h.address6), 'fd00:201::50'])
      assert.equal((await api.post('/api/v1/addresses', { address: a, state: 'reserved' })).status, 201);
    const result = await scan(v6);
    assert.equal(result.state, 'done', result.error);
    assert.equal(result.targets, 4);
    assert.equal(result.alive, 3);
    for (const h of lab.lanHosts) {
      const row = await address(h.address6);
      assert.equal(row.observed.status, 'up', h.address6);
      assert.equal(row.observed.mac, h.mac, `MAC of ${h.address6}`);
    }
    assert.equal((await address('fd00:201::50')).observed.mac, null);
  });

  it('sweeps the routed /16 and finds exactly the live routed hosts', async (t) => {
    if (!lab) return t.skip('no lab');
    const result = await scan(ids.routed!);
    assert.equal(result.state, 'done', result.error);
    assert.equal(result.targets, 65534);
    assert.equal(result.alive, lab.routedLive.length);
    const all: string[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = (await api.get(`/api/v1/addresses?subnet_id=${ids.routed}&limit=1000&offset=${offset}`)).body;
      all.push(...page.results.filter((a: any) => a.observed?.status === 'up').map((a: any) => a.address));
      if (page.results.length < 1000) break;
    }
    assert.deepEqual(all, lab.routedLive);
    const metrics = await address('10.200.0.11');
    assert.deepEqual(
      metrics.observed.ports.map((p: any) => p.port),
      [9100],
    );
    assert.equal(metrics.observed.mac, null, 'no MAC for a routed host');
    // node_exporters found by a sweep become Prometheus targets.
    const sd = (await api.get('/api/v1/sd?port=9100')).body;
    assert.deepEqual(sd, [
      {
        targets: ['10.200.0.11:9100'],
        labels: {
          __meta_lanscape_address: '10.200.0.11',
          __meta_lanscape_subnet: ROUTED,
          __meta_lanscape_vrf: 'global',
          __meta_lanscape_hostname: 'metrics.lab.example',
          __meta_lanscape_tags: '',
        },
      },
    ]);
  });

  it('reports MAC mismatches and unknown devices as conflicts', async (t) => {
    if (!lab) return t.skip('no lab');
    const conflicts = (await api.get('/api/v1/conflicts')).body.results;
    const mismatch = conflicts.filter((c: any) => c.kind === 'mac_mismatch');
    assert.deepEqual(
      mismatch.map((c: any) => c.address),
      ['10.201.0.12'],
    );
    assert.equal(mismatch[0].details.observed_mac, 'b8:27:eb:0a:00:12');
    const unknown = conflicts.filter((c: any) => c.kind === 'unknown_device').map((c: any) => c.address);
    assert.ok(unknown.includes('10.201.0.10'));
    assert.ok(!unknown.includes('10.201.0.11'), 'a reserved device is not unknown');
    // A MAC change on the LAN: the device at .11 is replaced.
    await lab.exec(lab.ns.lan, ['ip', 'link', 'set', 'lanh11', 'address', '00:1b:21:0a:00:99']);
    await lab.exec(lab.ns.scan, ['ip', 'neigh', 'flush', 'dev', 'lan0']);
    await scan(ids.lan!);
    const after = (await api.get('/api/v1/conflicts?kind=mac_mismatch')).body.results.map((c: any) => c.address);
    assert.deepEqual(after, ['10.201.0.11', '10.201.0.12']);
    const changed = (await api.get('/api/v1/events?kind=mac_changed&address=10.201.0.11')).body.results;
    assert.equal(changed.length, 1);
    assert.deepEqual(changed[0].details, { before: '00:1b:21:0a:00:11', after: '00:1b:21:0a:00:99' });
  });

  it('follows a host that goes away and comes back: status, events, history, uptime, metrics', async (t) => {
    if (!lab) return t.skip('no lab');
    await lab.exec(lab.ns.lan, ['ip', 'link', 'set', 'lanh10', 'down']);
    await scan(ids.lan!);
    assert.equal((await address('10.201.0.10')).observed.status, 'up', 'one miss is debounced');
    await scan(ids.lan!);
    const down = await address('10.201.0.10');
    assert.equal(down.observed.status, 'down');
    let text = (await api.get('/metrics')).text;
    assert.match(text, /^lanscape_host_up\{address="10\.201\.0\.10",subnet="10\.201\.0\.0\/24",vrf="global"\} 0$/m);
    assert.match(text, /^lanscape_subnet_hosts_up\{subnet="10\.201\.0\.0\/24",vrf="global"\} 3$/m);
    await lab.exec(lab.ns.lan, ['ip', 'link', 'set', 'lanh10', 'up']);
    await lab.exec(lab.ns.lan, [
      'ip',
      'route',
      'replace',
      '10.201.0.0/24',
      'dev',
      'lanh10',
      'src',
      '10.201.0.10',
      'table',
      '110',
    ]);
    let back;
    for (let i = 0; i < 5; i++) {
      await scan(ids.lan!);
      back = await address('10.201.0.10');
      if (back.observed.status === 'up') break;
      await sleep(500); // the macvlan may take a moment to answer after link up
    }
    assert.equal(back.observed.status, 'up');
    const kinds = (await api.get('/api/v1/events?address=10.201.0.10')).body.results.map((e: any) => e.kind);
    assert.deepEqual(
      kinds.filter((k: string) => k === 'down' || k === 'up'),
      ['up', 'down'],
    );
    const history = (await api.get(`/api/v1/addresses/${back.id}/history`)).body;
    const samples = history.samples.map((s: any) => (s.up ? 1 : 0));
    assert.deepEqual(samples.slice(0, 4), [1, 1, 0, 0], 'two scans up, then two down');
    assert.equal(samples.at(-1), 1);
    assert.ok(history.uptime['24h'] > 0.3 && history.uptime['24h'] < 0.9, String(history.uptime['24h']));
    text = (await api.get('/metrics')).text;
    assert.match(text, /^lanscape_host_up\{address="10\.201\.0\.10",subnet="10\.201\.0\.0\/24",vrf="global"\} 1$/m);
    assert.match(
      text,
      /^lanscape_host_rtt_seconds_bucket\{address="10\.201\.0\.10",subnet="10\.201\.0\.0\/24",vrf="global",le="\+Inf"\} [1-9]/m,
    );
    assert.match(
      text,
      /^lanscape_host_open_port_info\{address="10\.201\.0\.10",subnet="10\.201\.0\.0\/24",vrf="global",port="8080",protocol="tcp",service="http-alt"\} 1$/m,
    );
    assert.match(text, /^lanscape_conflicts\{subnet="10\.201\.0\.0\/24",vrf="global",kind="mac_mismatch"\} 2$/m);
    assert.match(text, /^lanscape_conflicts\{subnet="10\.200\.0\.0\/16",vrf="global",kind="mac_mismatch"\} 0$/m);
    assert.match(
      text,
      /^lanscape_address_conflict_info\{address="10\.201\.0\.12",subnet="10\.201\.0\.0\/24",vrf="global",kind="mac_mismatch"\} 1$/m,
    );
    assert.match(
      text,
      /^lanscape_host_info\{address="10\.201\.0\.11",subnet="10\.201\.0\.0\/24",vrf="global",hostname="nas",.*critical="false"\} 1$/m,
    );
    assert.match(text, /^lanscape_collector_up\{collector="icmp"\} 1$/m);
    assert.match(text, /^lanscape_scan_packets_sent_total\{subnet="10\.200\.0\.0\/16",vrf="global"\} 65534$/m);
    assert.match(text, /^lanscape_scan_last_success_timestamp_seconds\{subnet="10\.201\.0\.0\/24",vrf="global"\} \d+/m);
    assert.doesNotMatch(
      text,
      /^lanscape_subnet_scan_interval_seconds/m,
      'scheduled sweeps are off in this test: no interval',
    );
    // nmap -sV ran in the background after the first LAN sweep and named the web server.
    if (which('nmap')) {
      let port;
      for (let i = 0; i < 120 && !port?.product; i++) {
        port = (await address('10.201.0.10')).observed.ports.find((p: any) => p.port === 8080);
        if (!port?.product) await sleep(500);
      }
      assert.equal(port.product, 'Node.js Express framework');
      assert.equal(port.service, 'http-alt', 'the configured name stays on the chip');
    } else if (process.env.CI) {
      throw new Error('nmap is missing');
    }
    const promtool = which('promtool');
    if (promtool) {
      const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
    } else if (process.env.CI) {
      throw new Error('promtool is missing');
    }
  });
});

describe('sweep engine and enrichment in the lab network', { timeout: 180_000 }, () => {
  let lab2: Lab | undefined;
  let dir2: string;
  let cleanup2: (() => void) | undefined;
  before(async (t) => {
    if (!requireLab(t as never)) return;
    ({ dir: dir2, cleanup: cleanup2 } = tempDir());
    lab2 = await startLab({ liveRouted: 20 });
  });
  after(async () => {
    await lab2?.down();
    cleanup2?.();
  });

  /** Runs sweeps with the exporter's engine inside the scanner namespace (test/fixtures/sweep-main.ts). */
  async function sweeps(spec: object): Promise<any> {
    const r = await lab2!.exec(
      lab2!.ns.scan,
      [process.execPath, '--import', 'tsx', join(EXPORTER_DIR, 'test/fixtures/sweep-main.ts'), JSON.stringify(spec)],
      { timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  it('a retry pass finds the hosts that dropped their first echo request', async (t) => {
    if (!lab2) return t.skip('no lab');
    const dead = Array.from({ length: 200 }, (_, i) => `10.200.250.${i + 1}`);
    const targets = [...lab2.routedLive, ...dead];
    await routerLoss(lab2, { firstTry: true });
    try {
      const out = await sweeps({ family: 4, id: 901, sweeps: [{ targets, pps: 5000, timeoutMs: 300, retries: 1 }] });
      const [r] = out.results;
      assert.deepEqual([...r.alive].sort(), [...lab2.routedLive].sort());
      assert.equal(r.passes[0].found, 0, 'every first request was dropped on the router');
      assert.equal(r.passes[1].found, lab2.routedLive.length, 'the retry pass found them all');
      assert.equal(r.sent, 2 * targets.length);
    } finally {
      await routerLoss(lab2, {});
    }
  });

  it('a late reply from another host with a reused sequence does not mark the wrong host up', async (t) => {
    if (!lab2) return t.skip('no lab');
    // The LAN hosts' kernel stops answering; a process answers for them, 600 ms late.
    await lab2.exec(lab2.ns.lan, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_all']);
    const late = lab2.spawn(
      lab2.ns.lan,
      [process.execPath, '--import', 'tsx', 'test/fixtures/late-echo-main.ts', '600'],
      {
        cwd: EXPORTER_DIR,
      },
    );
    await waitForLine(late, /late-echo ready/);
    // Sweep 0 asks 10.201.0.10 with sequence 500 and gives up after 200 ms; sweep 1 asks the
    // absent 10.201.0.20 with the same identifier and sequence; 10.201.0.10's reply arrives then.
    // Sweep 2 waits long enough for the late host: it is found.
    const out = await sweeps({
      family: 4,
      id: 902,
      sweeps: [
        { targets: ['10.201.0.10'], pps: 1000, timeoutMs: 200, retries: 0, seqBase: 500 },
        { targets: ['10.201.0.20'], pps: 1000, timeoutMs: 1000, retries: 0, seqBase: 500 },
        { targets: ['10.201.0.11'], pps: 1000, timeoutMs: 1500, retries: 0 },
      ],
    });
    const [first, second, third] = out.results;
    assert.deepEqual(first.alive, []);
    assert.ok(
      out.replies.some((r: any) => r.source === '10.201.0.10' && r.id === 902 && r.seq === 500 && r.during === 1),
      `the late reply came during the second sweep: ${JSON.stringify(out.replies)}`,
    );
    assert.deepEqual(second.alive, [], 'the late reply of 10.201.0.10 does not make 10.201.0.20 alive');
    assert.deepEqual(third.alive, ['10.201.0.11']);
    await lab2.exec(lab2.ns.lan, ['sh', '-c', 'echo 0 > /proc/sys/net/ipv4/icmp_echo_ignore_all']);
  });

  it('an unreachable resolver costs one timeout per scan, and the scan says so', async (t) => {
    if (!lab2) return t.skip('no lab');
    // A "resolver" on a routed host that counts queries and never answers.
    const silent = lab2.spawn(lab2.ns.hosts, [
      process.execPath,
      '-e',
      "const s = require('dgram').createSocket('udp4'); let n = 0; s.on('message', () => console.log('query ' + ++n)); s.bind(53, '10.200.0.12', () => console.log('listening'));",
    ]);
    await waitForLine(silent, /listening/);
    let queries = 0;
    silent.stdout!.on('data', (d: Buffer) => {
      queries += (d.toString().match(/query/g) ?? []).length;
    });
    const socket = await startExporter(lab2, dir2, 'resolver', ['scan:', '  manual_min_interval_seconds: 0'], {
      LANSCAPE_SCAN_PPS: '50000',
      LANSCAPE_SCAN_TIMEOUT_MS: '300',
      LANSCAPE_SCAN_RETRIES: '1',
      LANSCAPE_SCAN_PORTS: '22,9100',
      LANSCAPE_SCAN_RDNS: 'true',
      LANSCAPE_SCAN_DNS_SERVERS: '10.200.0.12',
    });
    api = new ApiClient(`unix:${socket}`, TOKENS.admin);
    try {
      const id = (await api.post('/api/v1/subnets', { cidr: ROUTED })).body.id;
      const result = await scan(id);
      assert.equal(result.state, 'done', result.error);
      // 27 alive hosts, more than the lookups in flight at once (16): paid per host, it would be two timeouts or more.
      assert.equal(result.alive, lab2.routedLive.length);
      assert.deepEqual(
        result.warnings.map((w: any) => w.kind),
        ['resolver_unreachable'],
      );
      assert.equal(queries, 1, 'one PTR query for the whole scan');
      const names = result.phases.find((p: any) => p.phase === 'names');
      const sweep = result.phases.find((p: any) => p.phase === 'sweep');
      const retry = result.phases.find((p: any) => p.phase === 'retry');
      assert.ok(sweep && retry && result.phases.some((p: any) => p.phase === 'ports'), JSON.stringify(result.phases));
      assert.ok(names.seconds >= 1.9 && names.seconds < 3, `names took ${names.seconds} s (one 2 s timeout)`);
      const total = (Date.parse(result.finished_at) - Date.parse(result.started_at)) / 1000;
      assert.ok(
        total < sweep.seconds + retry.seconds + 2.5,
        `scan ${total} s, phases ${JSON.stringify(result.phases)}`,
      );
      const text = (await api.get('/metrics')).text;
      assert.match(text, /^lanscape_scan_warnings_total\{kind="resolver_unreachable"\} 1$/m);
      assert.match(text, /^lanscape_scan_warnings_total\{kind="names_budget"\} 0$/m);
    } finally {
      api.close();
    }
  });
});
