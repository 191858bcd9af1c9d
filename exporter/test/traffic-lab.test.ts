// Traffic tests end to end in the lab network: two lab hosts (10.200.0.11 "nas" and
// 10.200.0.12 "nvr") run real sshd, each with its own host key, and iperf3 servers; the exporter
// runs in the scanner namespace (reached over a unix socket) and drives iperf3 between them
// over SSH. Nothing leaves the lab's namespaces.
import assert from 'node:assert/strict';
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient, EXPORTER_DIR, TOKENS, tempDir, testEnv } from './helpers/exporter.js';
import { type Lab, requireLab, startLab, waitForLine } from './helpers/lab.js';
import { type SshServer, requireSshd, startSshd } from './helpers/sshd.js';
import { requireTool, which } from './helpers/tools.js';
import { runTrafficTest, startTrafficTest, waitTrafficTest } from './helpers/traffic.js';

const NAS = '10.200.0.11';
const NVR = '10.200.0.12';
const DEAD = '10.200.0.13'; // a live lab host without sshd or iperf3
const STALL = '10.200.0.14'; // accepts iperf3's control connection and never answers
const GRACE = 3;

let lab: Lab | undefined;
let api: ApiClient;
let dir: string;
let cleanup: () => void;
let nas: SshServer;
let nvr: SshServer;
let exporter: ChildProcess;
let output = '';

const mbit = (bps: number) => `${(bps / 1e6).toFixed(1)} Mbit/s`;

/** iperf3 processes in the lab whose command line matches (pgrep -f; PIDs are shared, so the pattern is exact). */
async function pgrep(pattern: string): Promise<string> {
  const r = await lab!.exec(lab!.ns.hosts, ['pgrep', '-a', '-f', pattern], { timeoutMs: 5000 });
  return r.stdout.trim();
}

describe('traffic tests in the lab network', { timeout: 240_000 }, () => {
  before(async (t) => {
    if (
      !requireLab(t as never) ||
      !requireSshd(t as never) ||
      !requireTool(t as never, 'iperf3', 'apt-get install iperf3')
    )
      return;
    ({ dir, cleanup } = tempDir('lanscape-traffic-lab-'));
    lab = await startLab();
    const inHosts = (argv: string[]) => lab!.spawn(lab!.ns.hosts, argv);
    nas = await startSshd({ address: NAS, spawn: inHosts });
    nvr = await startSshd({ address: NVR, spawn: inHosts });
    for (const address of [NAS, NVR]) {
      await waitForLine(inHosts(['iperf3', '-s', '--forceflush', '-B', address, '-p', '5201']), /Server listening/);
    }
    const stall = inHosts([
      process.execPath,
      '-e',
      `require('net').createServer(() => {}).listen(5299, '${STALL}', () => console.log('stalling'))`,
    ]);
    await waitForLine(stall, /stalling/);
    writeFileSync(join(dir, 'known_hosts'), `${nvr.knownHostsLine}\n`);
    const config = join(dir, 'lanscape.yaml');
    writeFileSync(
      config,
      [
        'traffic:',
        `  remote_grace_seconds: ${GRACE}`,
        '  connect_timeout_seconds: 5',
        '  hosts:',
        `    - { name: nas, address: ${NAS}, user: root, private_key_file: ${nas.clientKeyFile}, host_key: "${nas.hostKeyFingerprint}" }`,
        `    - { name: nvr, address: ${NVR}, user: root, private_key_file: ${nvr.clientKeyFile}, known_hosts_file: ${join(dir, 'known_hosts')} }`,
        // nas's address pinned to nvr's key: what a changed key (or a machine in the middle) looks like
        `    - { name: impostor, address: ${NAS}, user: root, private_key_file: ${nas.clientKeyFile}, host_key: "${nvr.hostKeyFingerprint}" }`,
        `    - { name: ghost, address: ${DEAD}, user: root, private_key_file: ${nas.clientKeyFile}, host_key: "${nas.hostKeyFingerprint}" }`,
        '',
      ].join('\n'),
    );
    const socket = join(dir, 'exporter.sock');
    exporter = lab.spawn(lab.ns.scan, [process.execPath, '--import', 'tsx', 'src/main.ts'], {
      cwd: EXPORTER_DIR,
      env: {
        ...process.env,
        ...testEnv(join(dir, 'lab.db')),
        LANSCAPE_CONFIG: config,
        LANSCAPE_LISTEN: `unix:${socket}`,
        LANSCAPE_LOG_LEVEL: 'info',
      },
    });
    exporter.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    exporter.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await waitForLine(exporter, /lanscape exporter listening/);
    api = new ApiClient(`unix:${socket}`, TOKENS.write);
  });

  after(async () => {
    api?.close();
    await nas?.stop();
    await nvr?.stop();
    await lab?.down();
    cleanup?.();
  });

  it('measures TCP and UDP between two hosts, both ways', async (t) => {
    if (!lab) return t.skip('no lab');
    const tcp = await runTrafficTest(api, { source: 'nas', target: 'nvr', duration_seconds: 2 });
    assert.equal(tcp.state, 'done', tcp.error);
    assert.equal(tcp.target_address, NVR);
    assert.ok(tcp.result.received_bits_per_second > 1e6, mbit(tcp.result.received_bits_per_second));
    assert.ok(tcp.result.retransmits >= 0);
    assert.ok(tcp.result.seconds >= 1.9 && tcp.result.seconds < 3);
    const back = await runTrafficTest(api, {
      source: 'nvr',
      target: 'nas',
      duration_seconds: 2,
      reverse: true,
      parallel: 4,
    });
    assert.equal(back.state, 'done', back.error);
    assert.ok(back.result.received_bits_per_second > 1e6);
    const udp = await runTrafficTest(api, {
      source: 'nas',
      target: 'nvr',
      protocol: 'udp',
      duration_seconds: 2,
      bitrate_bits_per_second: 50_000_000,
    });
    assert.equal(udp.state, 'done', udp.error);
    assert.ok(udp.result.received_bits_per_second > 1e6, mbit(udp.result.received_bits_per_second));
    assert.ok(udp.result.loss_ratio >= 0 && udp.result.loss_ratio <= 1);
    assert.ok(udp.result.jitter_seconds >= 0 && udp.result.jitter_seconds < 1);
    // Both hosts share the lab's hosts namespace, so iperf3 sizes datagrams for loopback (32 KiB).
    assert.ok(udp.result.packets > 100, `${udp.result.packets} packets`);
    const server = await runTrafficTest(api, {
      source: 'nas',
      target: 'nvr',
      duration_seconds: 1,
      start_server: true,
      port: 5202,
      protocol: 'udp',
      bitrate_bits_per_second: 10_000_000,
    });
    assert.equal(server.state, 'done', server.error);
    console.log(
      `lab: TCP nas→nvr ${mbit(tcp.result.received_bits_per_second)} (${tcp.result.retransmits} retransmits); ` +
        `TCP reverse -P 4 nas→nvr ${mbit(back.result.received_bits_per_second)}; UDP 50M ${mbit(udp.result.received_bits_per_second)} ` +
        `loss ${udp.result.loss_ratio} jitter ${(udp.result.jitter_seconds * 1e6).toFixed(1)} µs; one-off server UDP 10M ${mbit(server.result.received_bits_per_second)}`,
    );
  });

  it('exports the results as metrics', async (t) => {
    if (!lab) return t.skip('no lab');
    const text = (await api.get('/metrics', null)).text;
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    assert.ok(
      value(
        /^lanscape_traffic_test_throughput_bytes_per_second\{source="nas",target="nvr",protocol="tcp",direction="forward"\} (\S+)$/m,
      ) > 125_000,
    );
    assert.ok(
      value(
        /^lanscape_traffic_test_throughput_bytes_per_second\{source="nvr",target="nas",protocol="tcp",direction="reverse"\} (\S+)$/m,
      ) > 125_000,
    );
    assert.ok(
      value(
        /^lanscape_traffic_test_throughput_bytes_per_second\{source="nas",target="nvr",protocol="udp",direction="forward"\} (\S+)$/m,
      ) > 125_000,
    );
    const loss = value(/^lanscape_traffic_test_loss_ratio\{source="nas",target="nvr",direction="forward"\} (\S+)$/m);
    assert.ok(loss >= 0 && loss <= 1);
    assert.ok(
      value(/^lanscape_traffic_test_jitter_seconds\{source="nas",target="nvr",direction="forward"\} (\S+)$/m) >= 0,
    );
    assert.ok(
      value(/^lanscape_traffic_test_retransmits\{source="nas",target="nvr",direction="forward"\} (\S+)$/m) >= 0,
    );
    assert.ok(
      value(
        /^lanscape_traffic_test_duration_seconds\{source="nas",target="nvr",protocol="tcp",direction="forward"\} (\S+)$/m,
      ) >= 2,
    );
    assert.match(text, /^lanscape_traffic_tests_total\{result="success"\} 4$/m);
    assert.match(text, /^lanscape_collector_up\{collector="traffic"\} 1$/m);
    const promtool = which('promtool');
    if (promtool) {
      const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
    }
  });

  it('refuses a host whose key does not match the pin, showing the presented key; nothing runs', async (t) => {
    if (!lab) return t.skip('no lab');
    const sessions = nas.sessions();
    const logins = nas.logins();
    const test = await runTrafficTest(api, { source: 'impostor', target: 'nvr', duration_seconds: 1 });
    assert.equal(test.state, 'failed');
    assert.equal(
      test.error,
      `host key of impostor (${NAS}:22) refused: it does not match the pinned ${nvr.hostKeyFingerprint}; ` +
        `presented ssh-ed25519 key ${nas.hostKeyFingerprint}`,
    );
    await sleep(200);
    assert.equal(nas.logins(), logins, 'no login');
    assert.equal(nas.sessions(), sessions, 'no command');
  });

  it('refuses at config load a host without pin or known_hosts when trust on first use is off', async (t) => {
    if (!lab) return t.skip('no lab');
    const config = join(dir, 'unpinned.yaml');
    writeFileSync(
      config,
      `traffic:\n  hosts:\n    - { name: nas, address: ${NAS}, user: root, private_key_file: ${nas.clientKeyFile} }\n`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', config, '--check-config'], {
      cwd: EXPORTER_DIR,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, LANSCAPE_CONFIG: '' },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /traffic\.hosts\.0\.host_key .* missing: host "nas" needs host_key \(SHA256:… from ssh-keygen -lf\) or known_hosts_file; or set traffic\.trust_on_first_use: true/,
    );
  });

  it('runs tests against one server one at a time', async (t) => {
    if (!lab) return t.skip('no lab');
    const first = await startTrafficTest(api, { source: 'nas', target: 'nvr', duration_seconds: 3 });
    const second = await startTrafficTest(api, { source: 'nvr', target: NVR, duration_seconds: 1 });
    assert.equal(second.target, 'nvr', 'the address of a configured host is that host');
    await sleep(1000);
    assert.equal((await api.get(`/api/v1/traffic-tests/${first.id}`)).body.state, 'running');
    assert.equal((await api.get(`/api/v1/traffic-tests/${second.id}`)).body.state, 'queued', 'waits for the first');
    const a = await waitTrafficTest(api, first.id);
    const b = await waitTrafficTest(api, second.id);
    assert.equal(a.state, 'done', a.error);
    assert.equal(b.state, 'done', b.error);
    assert.ok(Date.parse(b.started_at) >= Date.parse(a.finished_at));
  });

  it("retries a server busy with someone else's test, with back-off", async (t) => {
    if (!lab) return t.skip('no lab');
    // Someone else's 4 s test from another lab host keeps nvr's iperf3 server busy.
    const other = lab.spawn(lab.ns.hosts, [
      'timeout',
      '20',
      'iperf3',
      '-c',
      NVR,
      '-B',
      '10.200.0.10',
      '-p',
      '5201',
      '-t',
      '4',
    ]);
    const otherDone = new Promise((resolve) => other.once('exit', resolve));
    await sleep(700);
    const test = await runTrafficTest(api, { source: 'nas', target: 'nvr', duration_seconds: 1 });
    await otherDone;
    assert.equal(test.state, 'done', test.error);
    const wall = (Date.parse(test.finished_at) - Date.parse(test.started_at)) / 1000;
    assert.ok(wall >= 3, `waited for the other test (${wall} s)`);
    assert.match(output, new RegExp(`"test":${test.id},.*iperf3 server busy with another test; try 2 in 1 s`));
    console.log(`lab: busy server, 1 s test finished after ${wall.toFixed(1)} s of retries`);
  });

  it('fails clearly for a dead target and an unreachable source', async (t) => {
    if (!lab) return t.skip('no lab');
    const dead = await runTrafficTest(api, { source: 'nas', target: DEAD, duration_seconds: 1 });
    assert.equal(dead.state, 'failed');
    assert.equal(
      dead.error,
      `iperf3 on nas could not test against ${DEAD}:5201: iperf3: unable to connect to server: Connection refused`,
    );
    const ghost = await runTrafficTest(api, { source: 'ghost', target: 'nvr', duration_seconds: 1 });
    assert.equal(ghost.state, 'failed');
    assert.equal(ghost.error, `cannot connect to ghost (${DEAD}:22): connection refused (is sshd running?)`);
  });

  it('a test that outlives its remote timeout is stopped on the remote host', async (t) => {
    if (!lab) return t.skip('no lab');
    const test = await startTrafficTest(api, { source: 'nas', target: STALL, port: 5299, duration_seconds: 1 });
    await sleep(1500);
    assert.match(
      await pgrep(`iperf3 -c ${STALL}`),
      /iperf3 -c 10\.200\.0\.14 -p 5299/,
      'the client hangs on the stalled server',
    );
    const done = await waitTrafficTest(api, test.id);
    assert.equal(done.state, 'failed');
    assert.match(
      done.error,
      new RegExp(`^iperf3 on nas did not finish within ${1 + GRACE} s and was stopped by the remote timeout`),
    );
    await sleep(300);
    assert.equal(await pgrep(`iperf3 -c ${STALL}`), '', 'no iperf3 client is left on the host');
  });

  it('refuses injection attempts with 400 and runs nothing', async (t) => {
    if (!lab) return t.skip('no lab');
    const pwned = join(dir, 'pwned');
    const sessions = nas.sessions() + nvr.sessions();
    const connections = nas.connections() + nvr.connections();
    for (const evil of [
      `${NVR}; touch ${pwned}`,
      `$(touch ${pwned})`,
      `\`touch ${pwned}\``,
      `${NVR}\ntouch ${pwned}`,
      '-s',
      '--help',
    ]) {
      for (const field of ['source', 'target']) {
        const r = await api.post('/api/v1/traffic-tests', { source: 'nas', target: 'nvr', [field]: evil });
        assert.equal(r.status, 400, `${field}=${JSON.stringify(evil)}`);
      }
      assert.equal(
        (await api.post('/api/v1/traffic-tests', { source: 'nas', target: 'nvr', duration_seconds: evil })).status,
        400,
      );
    }
    await sleep(300);
    assert.equal(existsSync(pwned), false);
    assert.equal(nas.sessions() + nvr.sessions(), sessions);
    assert.equal(nas.connections() + nvr.connections(), connections);
  });

  it('runs a schedule', async (t) => {
    if (!lab) return t.skip('no lab');
    const s = (
      await api.post('/api/v1/traffic-schedules', {
        source: 'nvr',
        target: 'nas',
        protocol: 'udp',
        duration_seconds: 1,
        interval_seconds: 60,
        jitter_seconds: 0,
        floor_bits_per_second: 500_000,
      })
    ).body;
    let list: any;
    for (let i = 0; i < 50 && !(list?.count > 0); i++) {
      await sleep(100);
      list = (await api.get(`/api/v1/traffic-tests?schedule_id=${s.id}`)).body;
    }
    assert.equal(list.count, 1);
    const test = await waitTrafficTest(api, list.results[0].id);
    assert.equal(test.state, 'done', test.error);
    assert.equal(test.bitrate_bits_per_second, 1_000_000);
    assert.equal((await api.patch(`/api/v1/traffic-schedules/${s.id}`, { enabled: false })).body.next_run_at, null);
    const text = (await api.get('/metrics', null)).text;
    assert.match(
      text,
      /^lanscape_traffic_test_throughput_bytes_per_second\{source="nvr",target="nas",protocol="udp",direction="forward"\} \d/m,
    );
    assert.doesNotMatch(text, /lanscape_traffic_test_floor_bytes_per_second\{/, 'a disabled schedule sets no floor');
    await api.patch(`/api/v1/traffic-schedules/${s.id}`, { enabled: true, jitter_seconds: 30 });
    assert.match(
      (await api.get('/metrics', null)).text,
      /^lanscape_traffic_test_floor_bytes_per_second\{source="nvr",target="nas",protocol="udp",direction="forward"\} 62500$/m,
    );
    // Nothing secret reached the log.
    for (const file of [nas.clientKeyFile, nvr.clientKeyFile]) {
      const body = readFileSync(file, 'utf8').split('\n').slice(1, -2).join('');
      assert.ok(!output.replace(/\n/g, '').includes(body.slice(0, 40)));
    }
    assert.doesNotMatch(output, /PRIVATE KEY/);
  });
});
