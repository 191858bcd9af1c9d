// Traffic tests through the API against real sshd and iperf3 on loopback (nothing leaves
// 127.0.0.1): hosts without secrets, input validation and injection attempts (400, nothing
// runs), TCP/UDP/start_server runs, pinned, known_hosts and first-use host keys, a
// passphrase-protected key, a refused target, schedules, metrics and promtool.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { type RunningExporter, startExporter } from '../src/server.js';
import { ApiClient, TOKENS, tempDir, testEnv } from './helpers/exporter.js';
import { type SshServer, freePort, requireSshd, startSshd } from './helpers/sshd.js';
import { waitForLine } from './helpers/lab.js';
import { requireTool, which } from './helpers/tools.js';
import { runTrafficTest, waitTrafficTest } from './helpers/traffic.js';

const LOOPBACK = '127.0.0.1';
let dir: string;
let cleanup: () => void;
let sshd: SshServer;
let tofuSshd: SshServer;
let iperfPort: number;
let freeIperfPort: number;
let iperf: ChildProcess | undefined;
let ex: RunningExporter | undefined;
let api: ApiClient;
let logs = '';
const PASSPHRASE = 'correct horse battery staple 42';
let configFile: string;

function writeConfig(): string {
  const file = join(dir, 'lanscape.yaml');
  writeFileSync(
    file,
    [
      'traffic:',
      '  trust_on_first_use: true',
      '  hosts:',
      '    - name: local',
      `      address: ${LOOPBACK}`,
      `      port: ${sshd.port}`,
      '      user: root',
      `      private_key_file: ${sshd.clientKeyFile}`,
      `      host_key: "${sshd.hostKeyFingerprint}"`,
      `      iperf3_port: ${iperfPort}`,
      '    - name: viakh',
      `      address: ${LOOPBACK}`,
      `      port: ${sshd.port}`,
      '      user: root',
      `      private_key_file: ${join(dir, 'secret_ed25519')}`,
      `      passphrase_file: ${join(dir, 'passphrase')}`,
      `      known_hosts_file: ${join(dir, 'known_hosts')}`,
      `      iperf3_port: ${iperfPort}`,
      '    - name: tofu',
      `      address: ${LOOPBACK}`,
      `      port: ${tofuSshd.port}`,
      '      user: root',
      `      private_key_file: ${join(dir, 'tofu_client')}`,
      `      iperf3_port: ${iperfPort}`,
      '',
    ].join('\n'),
  );
  return file;
}

describe('traffic tests on loopback', { timeout: 180_000 }, () => {
  before(async (t) => {
    if (!requireSshd(t as never) || !requireTool(t as never, 'iperf3', 'apt-get install iperf3')) return;
    ({ dir, cleanup } = tempDir('lanscape-traffic-api-'));
    sshd = await startSshd({ address: LOOPBACK });
    tofuSshd = await startSshd({ address: LOOPBACK });
    // A passphrase-protected key for the same sshd, reached through a known_hosts file.
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      PASSPHRASE,
      '-C',
      'enc',
      '-f',
      join(dir, 'secret_ed25519'),
    ]);
    appendFileSync(join(sshd.dir, 'authorized_keys'), readFileSync(join(dir, 'secret_ed25519.pub')));
    writeFileSync(join(dir, 'passphrase'), `${PASSPHRASE}\n`);
    writeFileSync(join(dir, 'known_hosts'), `# test\n${sshd.knownHostsLine}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', join(dir, 'known_hosts')], { stdio: 'ignore' });
    iperfPort = await freePort(LOOPBACK);
    freeIperfPort = await freePort(LOOPBACK);
    iperf = spawn('iperf3', ['-s', '--forceflush', '-B', LOOPBACK, '-p', String(iperfPort)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForLine(iperf, /Server listening/);
    // The TOFU host's client key outlives its sshd (which is "reinstalled" below).
    copyFileSync(tofuSshd.clientKeyFile, join(dir, 'tofu_client'));
    copyFileSync(`${tofuSshd.clientKeyFile}.pub`, join(dir, 'tofu_client.pub'));
    configFile = writeConfig();
    const config = loadConfig(testEnv(join(dir, 'lanscape.db'), { LANSCAPE_CONFIG: configFile }));
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    });
    ex = await startExporter(config, pino({ level: 'debug' }, sink));
    api = new ApiClient(ex.url);
  });

  after(async () => {
    api?.close();
    await ex?.close();
    if (iperf?.pid && iperf.exitCode === null) iperf.kill('SIGKILL');
    await sshd?.stop();
    await tofuSshd?.stop();
    cleanup?.();
  });

  it('lists the hosts and how their keys are checked, without secrets', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const r = await api.get('/api/v1/traffic/hosts', TOKENS.read);
    assert.equal(r.status, 200);
    assert.equal(r.body.count, 3);
    assert.deepEqual(r.body.results[0], {
      name: 'local',
      address: LOOPBACK,
      port: sshd.port,
      user: 'root',
      auth: 'key',
      host_key: { pinned: sshd.hostKeyFingerprint, known_hosts: false, trusted_on_first_use: null },
      iperf3_port: iperfPort,
    });
    assert.deepEqual(r.body.results[1].host_key, { pinned: null, known_hosts: true, trusted_on_first_use: null });
    assert.deepEqual(r.body.results[2].host_key, { pinned: null, known_hosts: false, trusted_on_first_use: null });
    assert.ok(!/PRIVATE KEY|secret_ed25519|client_ed25519|passphrase/i.test(r.text));
    const info = (await api.get('/api/v1/info')).body;
    assert.deepEqual(info.collectors.traffic, { up: true });
  });

  it('refuses injection attempts in every field with 400, and nothing runs', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const pwned = join(dir, 'pwned');
    const sessions = sshd.sessions();
    const connections = sshd.connections() + tofuSshd.connections();
    const evil = [
      `10.200.0.11; touch ${pwned}`,
      `$(touch ${pwned})`,
      `\`touch ${pwned}\``,
      `127.0.0.1\ntouch ${pwned}`,
      '-s',
      '--help',
      `127.0.0.1 -s`,
      `local;touch ${pwned}`,
      'Local',
      "local'",
      '127.0.0.1/32',
      '::ffff:127.0.0.1%lo',
    ];
    const good = { source: 'local', target: 'local', duration_seconds: 1 };
    const bodies: Record<string, unknown>[] = [
      ...evil.flatMap((e) => [
        { ...good, source: e },
        { ...good, target: e },
      ]),
      ...evil.map((e) => ({ ...good, protocol: e })),
      ...['1; id', '$(id)', '1\n2', '-1', 0, 301, 1.5, '10', null, true].map((v) => ({ ...good, duration_seconds: v })),
      ...['1M', '$(id)', 0, -5, 1e12, 2.5].map((v) => ({ ...good, bitrate_bits_per_second: v })),
      ...['2', 0, 33, '-P 99'].map((v) => ({ ...good, parallel: v })),
      ...['true', 1, '--help'].map((v) => ({ ...good, reverse: v })),
      ...['true', 1, '-s'].map((v) => ({ ...good, start_server: v })),
      ...['5201; id', 80, 65536, '5201', 5201.5].map((v) => ({ ...good, port: v })),
      { ...good, command: `touch ${pwned}` },
      { ...good, extra_args: ['-s'] },
    ];
    for (const body of bodies) {
      const r = await api.post('/api/v1/traffic-tests', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
      assert.equal(r.body.error.code, 'validation_failed');
      const s = await api.post('/api/v1/traffic-schedules', { ...body, interval_seconds: 60 });
      assert.equal(s.status, 400, `schedule ${JSON.stringify(body)} -> ${s.status}`);
    }
    assert.equal((await api.call('POST', '/api/v1/traffic-tests', { rawBody: '{"source":"local",' })).status, 400);
    const proto = await api.call('POST', '/api/v1/traffic-tests', {
      rawBody: '{"source":"local","target":"local","__proto__":{"port":22}}',
    });
    assert.equal(proto.status, 400, proto.text);
    assert.equal((await api.post('/api/v1/traffic-tests', good, TOKENS.read)).status, 403);
    assert.equal((await api.post('/api/v1/traffic-tests', good, null)).status, 401);
    await sleep(300);
    assert.equal(existsSync(pwned), false);
    assert.equal(sshd.sessions(), sessions, 'no command ran over SSH');
    assert.equal(sshd.connections() + tofuSshd.connections(), connections, 'no SSH connection was made');
    assert.equal((await api.get('/api/v1/traffic-tests')).body.count, 0, 'no test was stored');
  });

  it('says which host is unknown (422) and when start_server cannot work', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const unknown = await api.post('/api/v1/traffic-tests', { source: 'nope', target: 'local' });
    assert.equal(unknown.status, 422);
    assert.equal(
      unknown.body.error.message,
      'source "nope" is not a configured traffic host (configured: local, viakh, tofu)',
    );
    const target = await api.post('/api/v1/traffic-tests', { source: 'local', target: 'nas' });
    assert.equal(target.status, 422);
    assert.match(target.body.error.message, /^target "nas" is not a configured traffic host/);
    const server = await api.post('/api/v1/traffic-tests', {
      source: 'local',
      target: '127.0.0.9',
      start_server: true,
    });
    assert.equal(server.status, 422);
    assert.match(server.body.error.message, /start_server needs the target to be a configured host/);
    assert.equal((await api.get('/api/v1/traffic-tests/999')).status, 404);
  });

  it('runs TCP and UDP tests and reports sane numbers', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const queued = await api.post('/api/v1/traffic-tests', { source: 'local', target: 'local', duration_seconds: 1 });
    assert.equal(queued.status, 202);
    assert.equal(queued.headers.get('location'), `/api/v1/traffic-tests/${queued.body.id}`);
    assert.deepEqual(
      { ...queued.body, queued_at: 'x' },
      {
        id: queued.body.id,
        source: 'local',
        target: 'local',
        target_address: LOOPBACK,
        protocol: 'tcp',
        duration_seconds: 1,
        bitrate_bits_per_second: null,
        parallel: 1,
        reverse: false,
        start_server: false,
        port: iperfPort,
        state: 'queued',
        progress: 0,
        queued_at: 'x',
        started_at: null,
        finished_at: null,
        result: null,
        schedule_id: null,
      },
    );
    const tcp = await waitTrafficTest(api, queued.body.id);
    assert.equal(tcp.state, 'done', tcp.error);
    assert.ok(tcp.result.received_bits_per_second > 1e6, `TCP ${tcp.result.received_bits_per_second}`);
    assert.ok(tcp.result.sent_bits_per_second > 1e6);
    assert.ok(Number.isInteger(tcp.result.retransmits));
    assert.equal(tcp.result.jitter_seconds, null);
    assert.equal(tcp.progress, 1);
    console.log(`loopback TCP: ${(tcp.result.received_bits_per_second / 1e9).toFixed(2)} Gbit/s`);
    // An IP literal target that is a configured host's address is that host.
    const udp = await runTrafficTest(api, {
      source: 'local',
      target: LOOPBACK,
      protocol: 'udp',
      duration_seconds: 1,
      bitrate_bits_per_second: 20_000_000,
      reverse: true,
    });
    assert.equal(udp.state, 'done', udp.error);
    assert.equal(udp.target, 'local');
    assert.ok(udp.result.received_bits_per_second > 1e6, `UDP ${udp.result.received_bits_per_second}`);
    assert.ok(udp.result.loss_ratio >= 0 && udp.result.loss_ratio <= 1);
    assert.ok(udp.result.jitter_seconds >= 0);
    assert.ok(udp.result.packets > 0);
    console.log(
      `loopback UDP 20M reverse: ${(udp.result.received_bits_per_second / 1e6).toFixed(2)} Mbit/s, loss ${udp.result.loss_ratio}`,
    );
    const udpDefault = (
      await api.post('/api/v1/traffic-tests', {
        source: 'local',
        target: 'local',
        protocol: 'udp',
        duration_seconds: 1,
        parallel: 2,
      })
    ).body;
    assert.equal(udpDefault.bitrate_bits_per_second, 1_000_000, 'UDP defaults to 1 Mbit/s');
    assert.equal((await waitTrafficTest(api, udpDefault.id)).state, 'done');
    // History of a pair, newest first (what a sparkline reads); an address finds its host's tests.
    const history = (await api.get(`/api/v1/traffic-tests?source=local&target=${LOOPBACK}&state=done&limit=2`)).body;
    assert.equal(history.count, 3);
    assert.deepEqual(
      history.results.map((r: any) => r.id),
      [udpDefault.id, udp.id],
    );
    assert.equal((await api.get('/api/v1/traffic-tests?target=10.0.0.1')).body.count, 0);
    assert.equal((await api.get('/api/v1/traffic-tests?target=$(id)')).status, 400);
  });

  it('starts a one-off server on the target when asked', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const port = await freePort(LOOPBACK);
    const test = await runTrafficTest(api, {
      source: 'local',
      target: 'local',
      port,
      duration_seconds: 1,
      start_server: true,
    });
    assert.equal(test.state, 'done', test.error);
    assert.equal(test.port, port);
    assert.ok(test.result.received_bits_per_second > 1e6);
    await sleep(500);
    assert.equal(
      spawnSync('pgrep', ['-f', `iperf3 -s -1 --forceflush -p ${port}`]).status,
      1,
      'the one-off server is gone',
    );
  });

  it('fails clearly against a port where no iperf3 listens', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const test = await runTrafficTest(api, {
      source: 'local',
      target: LOOPBACK,
      port: freeIperfPort,
      duration_seconds: 1,
    });
    assert.equal(test.state, 'failed');
    assert.equal(test.result, null);
    assert.equal(
      test.error,
      `iperf3 on local could not test against ${LOOPBACK}:${freeIperfPort}: iperf3: unable to connect to server: Connection refused`,
    );
  });

  it('checks known_hosts (hashed) and uses a passphrase-protected key', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const test = await runTrafficTest(api, { source: 'viakh', target: 'local', duration_seconds: 1 });
    assert.equal(test.state, 'done', test.error);
  });

  it('trusts a first key when enabled, and refuses a changed one', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const first = await runTrafficTest(api, { source: 'tofu', target: 'local', duration_seconds: 1 });
    assert.equal(first.state, 'done', first.error);
    const hosts = (await api.get('/api/v1/traffic/hosts')).body.results;
    assert.equal(hosts[2].host_key.trusted_on_first_use, tofuSshd.hostKeyFingerprint);
    // The "host" is reinstalled: same address and port, new host key.
    const port = tofuSshd.port;
    await tofuSshd.stop();
    tofuSshd = await startSshd({ address: LOOPBACK, port });
    appendFileSync(join(tofuSshd.dir, 'authorized_keys'), readFileSync(join(dir, 'tofu_client.pub')));
    const sessions = tofuSshd.sessions();
    const second = await runTrafficTest(api, { source: 'tofu', target: 'local', duration_seconds: 1 });
    assert.equal(second.state, 'failed');
    assert.ok(second.error.includes(`presented ssh-ed25519 key ${tofuSshd.hostKeyFingerprint}`), second.error);
    assert.match(second.error, /differs from the key trusted on first use/);
    assert.equal(tofuSshd.sessions(), sessions, 'nothing ran on the impostor');
    assert.equal(
      (await api.get('/api/v1/traffic/hosts')).body.results[2].host_key.trusted_on_first_use,
      hosts[2].host_key.trusted_on_first_use,
    );
  });

  it('creates, reads, changes and deletes schedules, and runs them', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const body = {
      source: 'local',
      target: 'local',
      duration_seconds: 1,
      interval_seconds: 3600,
      jitter_seconds: 0,
      floor_bits_per_second: 1_000_000,
    };
    const created = await api.post('/api/v1/traffic-schedules', body);
    assert.equal(created.status, 201, created.text);
    const s = created.body;
    assert.deepEqual(
      { ...s, next_run_at: 'x' },
      {
        id: s.id,
        source: 'local',
        target: 'local',
        protocol: 'tcp',
        duration_seconds: 1,
        bitrate_bits_per_second: null,
        parallel: 1,
        reverse: false,
        start_server: false,
        port: null,
        interval_seconds: 3600,
        jitter_seconds: 0,
        enabled: true,
        floor_bits_per_second: 1_000_000,
        last_test_id: null,
        next_run_at: 'x',
      },
    );
    // A new schedule runs within its jitter (0 here): the scheduler queues it at its next tick.
    let tests: any;
    for (let i = 0; i < 100; i++) {
      tests = (await api.get(`/api/v1/traffic-tests?schedule_id=${s.id}`)).body;
      if (tests.count > 0) break;
      await sleep(100);
    }
    assert.equal(tests.count, 1, 'the schedule ran once');
    const scheduled = await waitTrafficTest(api, tests.results[0].id);
    assert.equal(scheduled.state, 'done', scheduled.error);
    assert.equal(scheduled.schedule_id, s.id);
    const after = (await api.get(`/api/v1/traffic-schedules/${s.id}`)).body;
    assert.equal(after.last_test_id, scheduled.id);
    assert.ok(Date.parse(after.next_run_at) > Date.now() + 3500_000, 'next run one interval later');

    assert.equal((await api.get('/api/v1/traffic-schedules')).body.count, 1);
    const disabled = await api.patch(`/api/v1/traffic-schedules/${s.id}`, { enabled: false, protocol: 'udp' });
    assert.equal(disabled.status, 200);
    assert.equal(disabled.body.enabled, false);
    assert.equal(disabled.body.next_run_at, null);
    assert.equal(disabled.body.protocol, 'udp');
    const bad = await api.patch(`/api/v1/traffic-schedules/${s.id}`, { interval_seconds: 60, jitter_seconds: 31 });
    assert.equal(bad.status, 422, 'jitter above interval/2 after merging');
    assert.equal((await api.patch(`/api/v1/traffic-schedules/${s.id}`, { source: 'nope' })).status, 422);
    assert.equal((await api.patch(`/api/v1/traffic-schedules/${s.id}`, { target: '$(id)' })).status, 400);
    assert.equal((await api.patch(`/api/v1/traffic-schedules/${s.id}`, { id: 5 })).status, 400);
    assert.equal((await api.post('/api/v1/traffic-schedules', { ...body, interval_seconds: 59 })).status, 400);
    assert.equal(
      (await api.post('/api/v1/traffic-schedules', { ...body, interval_seconds: 60, jitter_seconds: 31 })).status,
      400,
    );
    const shorter = await api.patch(`/api/v1/traffic-schedules/${s.id}`, { interval_seconds: 600 });
    assert.equal(shorter.body.jitter_seconds, 0);
    assert.equal((await api.patch(`/api/v1/traffic-schedules/${s.id}`, {}, TOKENS.read)).status, 403);
    // A second schedule stays, for the floor metric.
    const kept = await api.post('/api/v1/traffic-schedules', {
      ...body,
      floor_bits_per_second: 2_000_000,
      reverse: true,
      enabled: false,
    });
    assert.equal(kept.body.next_run_at, null);
    await api.patch(`/api/v1/traffic-schedules/${kept.body.id}`, { enabled: true, jitter_seconds: 1800 });
    assert.equal((await api.delete(`/api/v1/traffic-schedules/${s.id}`)).status, 204);
    assert.equal((await api.get(`/api/v1/traffic-schedules/${s.id}`)).status, 404);
    assert.equal((await api.delete(`/api/v1/traffic-schedules/${s.id}`)).status, 404);
    assert.equal(
      (await api.get(`/api/v1/traffic-tests/${scheduled.id}`)).body.schedule_id,
      null,
      'history stays, unlinked',
    );
  });

  it('exports metrics that pass promtool, and keeps secrets out of logs', async (t) => {
    if (!ex) return t.skip('no sshd/iperf3');
    const text = await (await fetch(`${ex.url}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    assert.ok(
      value(
        /^lanscape_traffic_test_throughput_bytes_per_second\{source="local",target="local",protocol="tcp",direction="forward"\} (\S+)$/m,
      ) > 125_000,
      'more than 1 Mbit/s',
    );
    assert.ok(
      value(
        /^lanscape_traffic_test_throughput_bytes_per_second\{source="local",target="local",protocol="udp",direction="reverse"\} (\S+)$/m,
      ) > 125_000,
      'more than 1 Mbit/s',
    );
    assert.ok(
      value(/^lanscape_traffic_test_retransmits\{source="local",target="local",direction="forward"\} (\S+)$/m) >= 0,
    );
    const loss = value(
      /^lanscape_traffic_test_loss_ratio\{source="local",target="local",direction="reverse"\} (\S+)$/m,
    );
    assert.ok(loss >= 0 && loss <= 1);
    assert.ok(
      value(/^lanscape_traffic_test_jitter_seconds\{source="local",target="local",direction="forward"\} (\S+)$/m) >= 0,
      'the UDP test with parallel streams',
    );
    assert.ok(
      value(
        /^lanscape_traffic_test_last_run_timestamp_seconds\{source="local",target="local",protocol="tcp",direction="forward"\} (\S+)$/m,
      ) >
        Date.now() / 1000 - 300,
    );
    assert.ok(
      value(
        /^lanscape_traffic_test_duration_seconds\{source="local",target="local",protocol="tcp",direction="forward"\} (\S+)$/m,
      ) >= 1,
    );
    assert.match(
      text,
      /^lanscape_traffic_test_success\{source="tofu",target="local",protocol="tcp",direction="forward"\} 0$/m,
      'the last tofu test was refused',
    );
    assert.match(
      text,
      /^lanscape_traffic_test_floor_bytes_per_second\{source="local",target="local",protocol="tcp",direction="reverse"\} 250000$/m,
    );
    assert.doesNotMatch(text, /floor_bytes_per_second\{[^}]*direction="forward"/, 'the deleted schedule has no floor');
    assert.ok(value(/^lanscape_traffic_tests_total\{result="success"\} (\d+)$/m) >= 6);
    assert.ok(value(/^lanscape_traffic_tests_total\{result="failure"\} (\d+)$/m) >= 2);
    assert.match(text, /^lanscape_collector_up\{collector="traffic"\} 1$/m);
    // The refused-port test targets a configured host's address, so it is labelled by name too.
    assert.doesNotMatch(text, /target="127\.0\.0\.1"/);
    const promtool = which('promtool');
    if (promtool) {
      const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'promtool reports nothing');
      assert.equal(r.status, 0);
    } else if (process.env.CI) {
      assert.fail('promtool is not installed; CI must run every test');
    }
    assert.match(logs, /host key trusted on first use/);
    for (const secret of [PASSPHRASE, readFileSync(sshd.clientKeyFile, 'utf8').split('\n')[1]!, 'PRIVATE KEY']) {
      assert.ok(!logs.includes(secret), `the log holds a secret: ${secret.slice(0, 20)}`);
      assert.ok(!text.includes(secret));
    }
  });
});
