// The stack end to end, without Docker: the real prometheus and alertmanager binaries with the
// repository's configs (container paths overlaid, nothing else changed), the exporter and a
// webhook receiver, all inside the lab network's scanner namespace, where 127.0.0.1 is the
// namespace's own loopback — the same addresses the compose stack uses on the host network.
// A critical host in the lab goes down: the alert must fire in Prometheus, reach the receiver
// through Alertmanager grouped by alertname/subnet, and resolve when the host returns. Every
// dashboard panel's PromQL runs against that Prometheus.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { ApiClient, EXPORTER_DIR, TOKENS, testEnv } from '../exporter/test/helpers/exporter.js';
import { type Lab, requireLab, startLab, waitForLine } from '../exporter/test/helpers/lab.js';
import type { TestContext } from 'node:test';
import { requireTool, which } from '../exporter/test/helpers/tools.js';
import { type SshServer, startSshd } from '../exporter/test/helpers/sshd.js';
import { IDLE, TEST_IMAGE, type TestDockerd, startDockerd } from '../exporter/test/helpers/docker.js';
import { FakePve, selfSignedCert } from '../exporter/test/helpers/fake-pve.js';
import { panelQueries } from './helpers/dashboards.js';
import { ALERTMANAGER_YML, REPO, eventually, prometheusConfigForTest } from './helpers/stack.js';

const LAN = '10.201.0.0/24';
const ROUTED = '10.200.0.0/24';
const CRITICAL_HOST = '10.201.0.11'; // lanh11 in the lab's LAN namespace, table 111
const UP_HOST = '10.201.0.10';
const NODE_EXPORTER_HOST = '10.201.0.12';
// Traffic tests: sshd on one routed lab host, an iperf3 server on another.
const TRAFFIC_SOURCE = '10.200.0.11';
const TRAFFIC_TARGET = '10.200.0.12';
// Docker: a network of our own on the test engine; Proxmox: the fake PVE's token.
const DOCKER_NET = { name: 'lse2e', subnet: '172.31.252.0/24', container: '172.31.252.10' };
const PVE_TOKEN = { id: 'lanscape@pve!e2e', secret: '5d0c8a52-0000-4000-8000-e2e000000001' };
const TOOLS = [
  ['prometheus', 'apt-get install prometheus'], ['prometheus-alertmanager', 'apt-get install prometheus-alertmanager'],
  ['sshd', 'apt-get install openssh-server'], ['iperf3', 'apt-get install iperf3'], ['dockerd', 'apt-get install docker.io'],
  ['docker', 'apt-get install docker.io'], ['busybox', 'apt-get install busybox-static'], ['openssl', 'apt-get install openssl'],
] as const;

let lab: Lab | undefined;
let dir: string;
let exporterApi: ApiClient;
let prometheus: ApiClient;
let alertmanager: ApiClient;
let webhook: ChildProcess;
const notifications: any[] = [];
let sshd: SshServer | undefined;
let engine: TestDockerd | undefined;
let pve: FakePve | undefined;
let pveRelay: Server | undefined;

/** Prometheus HTTP API: GET with query parameters, returns `data` or throws with the error. */
async function promQuery(path: string, params: Record<string, string>): Promise<any> {
  const res = await prometheus.get(`${path}?${new URLSearchParams(params)}`);
  if (res.status !== 200 || res.body.status !== 'success') {
    throw new Error(`${path} ${JSON.stringify(params)} → ${res.status} ${res.text}`);
  }
  return res.body.data;
}

async function firingAlerts(alertname: string): Promise<any[]> {
  const data = await promQuery('/api/v1/alerts', {});
  return data.alerts.filter((a: any) => a.labels.alertname === alertname && a.state === 'firing');
}

/** Skips (locally) or fails (CI) when the lab or a binary is missing; true when the stack runs. */
function ready(t: TestContext): boolean {
  if (!requireLab(t)) return false;
  for (const [tool, hint] of TOOLS) if (!requireTool(t, tool, hint)) return false;
  if (!lab) throw new Error('the lab stack did not start (see the before hook)');
  return true;
}

function notificationsFor(alertname: string, status: 'firing' | 'resolved'): any[] {
  return notifications.filter((n) => n.body?.groupLabels?.alertname === alertname && n.body.status === status);
}

describe('stack end to end in the lab: exporter → Prometheus → Alertmanager → webhook', { timeout: 900_000 }, () => {
  before(async () => {
    // Each test reports a missing tool or privilege (skip locally, fail under CI); here we
    // only decide whether the lab can be built at all.
    if (process.getuid?.() !== 0 || !which('ip') || TOOLS.some(([tool]) => !which(tool))) return;
    dir = mkdtempSync(join(tmpdir(), 'lanscape-e2e-'));
    lab = await startLab();
    const scanNs = lab.ns.scan;

    // The compose entrypoint writes the read token to a file Prometheus reads for http_sd.
    const tokenFile = join(dir, 'read-token');
    writeFileSync(tokenFile, TOKENS.read, { mode: 0o600 });
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(promConfig, prometheusConfigForTest({ tokenFile }));
    mkdirSync(join(dir, 'prometheus'));
    mkdirSync(join(dir, 'alertmanager'));

    webhook = lab.spawn(scanNs, [process.execPath, join(REPO, 'test/fixtures/webhook-receiver.mjs'), '9099']);
    await waitForLine(webhook, /webhook receiver listening/);
    webhook.stdout!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.startsWith('{')) notifications.push(JSON.parse(line));
    });
    const nodeExporter = lab.spawn(lab.ns.lan, [process.execPath, join(REPO, 'test/fixtures/fake-node-exporter.mjs'), NODE_EXPORTER_HOST]);
    await waitForLine(nodeExporter, /fake node_exporter/);

    // Traffic: a real sshd and iperf3 server on routed lab hosts.
    const inHosts = (argv: string[]) => lab!.spawn(lab!.ns.hosts, argv);
    sshd = await startSshd({ address: TRAFFIC_SOURCE, spawn: inHosts });
    await waitForLine(inHosts(['iperf3', '-s', '--forceflush', '-B', TRAFFIC_TARGET, '-p', '5201']), /Server listening/);
    const config = join(dir, 'lanscape.yaml');
    writeFileSync(config, ['traffic:', '  schedules_enabled: false', '  hosts:',
      `    - { name: lab-a, address: ${TRAFFIC_SOURCE}, port: ${sshd.port}, user: ${sshd.user}, private_key_file: ${sshd.clientKeyFile}, host_key: "${sshd.hostKeyFingerprint}" }`,
      ''].join('\n'));
    // Docker: a test engine (host namespace; the exporter reads its unix socket) with one container.
    engine = await startDockerd({ skip: () => { throw new Error('the Docker tools are checked above'); } } as never);
    await engine!.docker.createNetwork({ Name: DOCKER_NET.name, IPAM: { Config: [{ Subnet: DOCKER_NET.subnet }] } });
    const web = await engine!.docker.createContainer({ name: 'web', Image: TEST_IMAGE, Cmd: [...IDLE],
      HostConfig: { NetworkMode: DOCKER_NET.name },
      NetworkingConfig: { EndpointsConfig: { [DOCKER_NET.name]: { IPAMConfig: { IPv4Address: DOCKER_NET.container } } } } });
    await web.start();
    // Proxmox: the fake PVE (schema-checked) in this namespace, reached from the scanner
    // namespace's 127.0.0.1:8006 through a unix socket.
    const certs = selfSignedCert(dir);
    pve = await new FakePve({ cert: certs.cert, key: certs.key, tokenId: PVE_TOKEN.id, tokenSecret: PVE_TOKEN.secret }).start();
    pve.addGuest({ vmid: 101, type: 'qemu', node: 'pve1', name: 'web', status: 'running', agent: true, ips: ['10.202.0.60/24'], tags: 'prod' });
    pve.addGuest({ vmid: 201, type: 'lxc', node: 'pve2', name: 'dns', status: 'running', ips: ['10.202.0.61/24'] });
    const pvePort = Number(new URL(pve.url).port);
    pveRelay = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: pvePort });
      client.pipe(upstream).pipe(client);
      for (const sock of [client, upstream]) sock.on('error', () => { client.destroy(); upstream.destroy(); });
    });
    await new Promise<void>((resolve) => pveRelay!.listen(join(dir, 'pve.sock'), resolve));

    const exporter = lab.spawn(scanNs, [process.execPath, '--import', 'tsx', 'src/main.ts'], {
      cwd: EXPORTER_DIR,
      env: {
        ...process.env, ...testEnv(join(dir, 'lanscape.db')),
        LANSCAPE_LISTEN: '127.0.0.1:9645', LANSCAPE_LOG_LEVEL: 'info',
        // scheduled sweeps on, inside the lab only; fast so the test sees changes quickly
        LANSCAPE_SCAN_ENABLED: 'true', LANSCAPE_SCAN_INTERVAL_SECONDS: '10', LANSCAPE_SCAN_DOWN_AFTER: '2',
        LANSCAPE_SCAN_PPS: '2000', LANSCAPE_SCAN_TIMEOUT_MS: '400', LANSCAPE_SCAN_RETRIES: '0',
        LANSCAPE_SCAN_PORTS: '22,9100/node-exporter',
        LANSCAPE_CONFIG: config,
        LANSCAPE_DOCKER_HOSTS: `lab=unix://${engine!.socket}`,
        LANSCAPE_PROXMOX_URL: 'https://127.0.0.1:8006', LANSCAPE_PROXMOX_TOKEN_ID: PVE_TOKEN.id,
        LANSCAPE_PROXMOX_TOKEN_SECRET: PVE_TOKEN.secret, LANSCAPE_PROXMOX_FINGERPRINT: certs.fingerprint,
        LANSCAPE_PROXMOX_INTERVAL_SECONDS: '10',
      },
    });
    await waitForLine(exporter, /lanscape exporter listening/);
    const am = lab.spawn(scanNs, ['prometheus-alertmanager', `--config.file=${ALERTMANAGER_YML}`,
      `--storage.path=${join(dir, 'alertmanager')}`, '--web.listen-address=127.0.0.1:9093', '--cluster.listen-address=']);
    const prom = lab.spawn(scanNs, ['prometheus', `--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'prometheus')}`,
      '--web.listen-address=127.0.0.1:9090']);
    const bridge = lab.spawn(scanNs, [process.execPath, join(REPO, 'test/fixtures/unix-bridge.mjs'),
      `${dir}/prometheus.sock=9090`, `${dir}/alertmanager.sock=9093`, `${dir}/exporter.sock=9645`, `8006=${dir}/pve.sock`]);
    await waitForLine(bridge, /bridge ready/);
    for (const child of [am, prom]) child.stdout!.resume();
    let promLog = '';
    prom.stderr!.on('data', (d: Buffer) => { promLog = (promLog + d.toString()).slice(-20_000); });
    let amLog = '';
    am.stderr!.on('data', (d: Buffer) => { amLog = (amLog + d.toString()).slice(-20_000); });
    prometheus = new ApiClient(`unix:${dir}/prometheus.sock`, null);
    alertmanager = new ApiClient(`unix:${dir}/alertmanager.sock`, null);
    exporterApi = new ApiClient(`unix:${dir}/exporter.sock`, TOKENS.admin);
    await eventually(`Prometheus ready\n${promLog}`, 30_000, async () => ((await prometheus.get('/-/ready')).status === 200 ? true : undefined), 250);
    await eventually(`Alertmanager ready\n${amLog}`, 30_000, async () => ((await alertmanager.get('/-/ready')).status === 200 ? true : undefined), 250);

    // IPAM: two subnets; a critical reserved host, an assigned one; the node_exporter host is
    // left unreserved (an unknown device).
    assert.equal((await exporterApi.post('/api/v1/subnets', { cidr: LAN, name: 'lab lan' })).status, 201);
    assert.equal((await exporterApi.post('/api/v1/subnets', { cidr: ROUTED, name: 'lab routed' })).status, 201);
    assert.equal((await exporterApi.post('/api/v1/addresses', { address: CRITICAL_HOST, state: 'reserved', hostname: 'nas', tags: ['critical'] })).status, 201);
    assert.equal((await exporterApi.post('/api/v1/addresses', { address: UP_HOST, state: 'assigned', hostname: 'printer' })).status, 201);
    // One traffic test, so the Traffic dashboard has a result to show.
    const started = await exporterApi.post('/api/v1/traffic-tests', { source: 'lab-a', target: TRAFFIC_TARGET, duration_seconds: 2 });
    assert.equal(started.status, 202, started.text);
    const done = await eventually('the traffic test to finish', 60_000, async () => {
      const test = (await exporterApi.get(`/api/v1/traffic-tests/${started.body.id}`)).body;
      return test.state === 'done' || test.state === 'failed' ? test : undefined;
    });
    assert.equal(done.state, 'done', done.error);
  });

  after(async () => {
    for (const c of [prometheus, alertmanager, exporterApi]) c?.close();
    await sshd?.stop(); // before the lab goes: it also removes sshd's temp dir
    await lab?.down();
    await engine?.stop();
    await pve?.close();
    pveRelay?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('Prometheus scrapes the exporter, loads the rules, and finds the node_exporter through http_sd', async (t) => {
    if (!ready(t)) return;
    const targets = await eventually('lanscape and node targets up', 90_000, async () => {
      const data = await promQuery('/api/v1/targets', { state: 'active' });
      const up = (job: string) => data.activeTargets.find((x: any) => x.labels.job === job && x.health === 'up');
      return up('lanscape') && up('node') ? data.activeTargets : undefined;
    });
    const node = targets.find((x: any) => x.labels.job === 'node');
    assert.equal(node.labels.instance, `${NODE_EXPORTER_HOST}:9100`);
    assert.equal(node.labels.subnet, LAN);
    assert.equal(node.labels.address, NODE_EXPORTER_HOST);
    const rules = await promQuery('/api/v1/rules', {});
    const names = rules.groups.flatMap((g: any) => g.rules.map((r: any) => r.name));
    assert.ok(names.includes('LanscapeReservedHostDown'), names.join(', '));
    assert.ok(names.includes('address:lanscape_host_up:avg_over_time1h'), names.join(', '));
    for (const g of rules.groups) for (const r of g.rules) assert.notEqual(r.health, 'err', `${r.name}: ${r.lastError}`);
    // The other collectors feed the same Prometheus.
    for (const query of ['lanscape_docker_up{endpoint="lab"}', 'lanscape_proxmox_up', `lanscape_subnet_scan_interval_seconds{subnet="${LAN}"}`]) {
      const value = await eventually(query, 60_000, async () => (await promQuery('/api/v1/query', { query })).result[0]?.value[1]);
      assert.equal(value, query.startsWith('lanscape_subnet_scan_interval') ? '10' : '1', query);
    }
    assert.deepEqual(pve!.violations, [], 'every request to the fake PVE matched the PVE API schema');
    const up = await promQuery('/api/v1/query', { query: `lanscape_host_up{address="${CRITICAL_HOST}"}` });
    assert.equal(up.result[0]?.value[1], '1');
  });

  it('a critical host that goes down fires LanscapeReservedHostDown, which reaches the webhook grouped by alertname/subnet/vrf', async (t) => {
    if (!ready(t)) return;
    await lab!.exec(lab!.ns.lan, ['ip', 'link', 'set', 'lanh11', 'down']);
    // down after two missed sweeps (10 s apart), then `for: 2m` in the rule, then group_wait
    const alerts = await eventually('LanscapeReservedHostDown firing in Prometheus', 300_000,
      async () => { const a = await firingAlerts('LanscapeReservedHostDown'); return a.length ? a : undefined; }, 5_000);
    assert.equal(alerts.length, 1, JSON.stringify(alerts));
    assert.equal(alerts[0].labels.address, CRITICAL_HOST);
    assert.equal(alerts[0].labels.subnet, LAN);
    assert.equal(alerts[0].labels.severity, 'critical');
    const sent = await eventually('the firing notification at the webhook', 120_000,
      async () => { const n = notificationsFor('LanscapeReservedHostDown', 'firing'); return n.length ? n : undefined; }, 1_000);
    const body = sent[0].body;
    assert.equal(sent[0].path, '/alertmanager');
    assert.equal(body.receiver, 'lanscape-webhook');
    assert.deepEqual(body.groupLabels, { alertname: 'LanscapeReservedHostDown', subnet: LAN, vrf: 'global' });
    assert.equal(body.alerts.length, 1);
    const alert = body.alerts[0];
    assert.equal(alert.status, 'firing');
    assert.equal(alert.labels.address, CRITICAL_HOST);
    assert.equal(alert.labels.severity, 'critical');
    assert.match(alert.annotations.summary, new RegExp(CRITICAL_HOST.replaceAll('.', '\\.')));
    assert.match(alert.annotations.description, /nas/, 'the description names the host');
    assert.match(alert.annotations.runbook_url, /docs\/runbooks\.md#lanscapereservedhostdown$/);
    // The host that stayed up has no alert.
    assert.ok(!(await firingAlerts('LanscapeReservedHostDown')).some((a) => a.labels.address === UP_HOST));
    // Alertmanager holds it in the group the route tree gives.
    const groups = (await alertmanager.get('/api/v2/alerts/groups')).body as any[];
    const group = groups.find((g) => g.labels.alertname === 'LanscapeReservedHostDown');
    assert.deepEqual(group.labels, { alertname: 'LanscapeReservedHostDown', subnet: LAN, vrf: 'global' });
    assert.equal(group.receiver.name, 'lanscape-webhook');
  });

  it('every dashboard panel query runs without error, and returns data unless marked as possibly empty', async (t) => {
    if (!ready(t)) return;
    const queries = panelQueries({
      vrf: 'global', subnet: LAN, address: UP_HOST, datasource: 'lanscape-prometheus',
      source: 'lab-a', target: TRAFFIC_TARGET, endpoint: 'lab', node: 'pve1',
    });
    assert.ok(queries.length > 20, `found ${queries.length} panel queries`);
    const end = Math.floor(Date.now() / 1000);
    const failures: string[] = [];
    for (const q of queries) {
      const where = `${q.dashboard} / ${q.panel} / ${q.refId}: ${q.expr}`;
      try {
        const data = q.instant
          ? await promQuery('/api/v1/query', { query: q.expr, time: String(end) })
          : await promQuery('/api/v1/query_range', { query: q.expr, start: String(end - 600), end: String(end), step: '15' });
        const empty = Array.isArray(data.result) ? data.result.length === 0 : data.result === undefined;
        if (empty && !q.mayBeEmpty) failures.push(`no data: ${where}`);
      } catch (err) {
        failures.push(`error: ${where}: ${(err as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('the alert resolves when the host comes back, and the webhook hears it', async (t) => {
    if (!ready(t)) return;
    await lab!.exec(lab!.ns.lan, ['ip', 'link', 'set', 'lanh11', 'up']);
    await lab!.exec(lab!.ns.lan, ['ip', 'route', 'replace', LAN, 'dev', 'lanh11', 'src', CRITICAL_HOST, 'table', '111']);
    await eventually(`${CRITICAL_HOST} up again in the exporter`, 90_000, async () => {
      const up = await promQuery('/api/v1/query', { query: `lanscape_host_up{address="${CRITICAL_HOST}"}` });
      return up.result[0]?.value[1] === '1' ? true : undefined;
    }, 2_000);
    await eventually('LanscapeReservedHostDown no longer firing (keep_firing_for: 2m)', 300_000,
      async () => ((await firingAlerts('LanscapeReservedHostDown')).length === 0 ? true : undefined), 5_000);
    // Alertmanager sends the resolution at the group's next flush (group_interval: 2m).
    const resolved = await eventually('the resolved notification at the webhook', 200_000,
      async () => { const n = notificationsFor('LanscapeReservedHostDown', 'resolved'); return n.length ? n : undefined; }, 2_000);
    assert.equal(resolved[0].body.alerts[0].status, 'resolved');
    assert.equal(resolved[0].body.alerts[0].labels.address, CRITICAL_HOST);
    assert.deepEqual(resolved[0].body.groupLabels, { alertname: 'LanscapeReservedHostDown', subnet: LAN, vrf: 'global' });
  });
});
