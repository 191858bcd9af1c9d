// Pure parts of traffic tests: command lines (validation and quoting, checked against a real
// shell), iperf3 JSON captured from real iperf3 3.12 runs on loopback, host key fingerprints
// and known_hosts (checked against ssh-keygen), schedule arithmetic, and the config section.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/load.js';
import {
  type ClientParams,
  CommandError,
  iperfClientArgv,
  iperfServerArgv,
  isHostAddress,
  remoteCommand,
  shellQuote,
} from '../src/traffic/core/command.js';
import {
  decideHostKey,
  entryMatches,
  fingerprint,
  hostKeyAlgorithmsFor,
  keyType,
  knownKeysFor,
  parseKnownHosts,
} from '../src/traffic/core/hostkeys.js';
import { isBusyError, parseIperfJson } from '../src/traffic/core/iperf.js';
import { BUSY_BACKOFF_MS, firstRunAt, nextRunAt } from '../src/traffic/core/schedule.js';
import { type RunPlan, runTrafficTest } from '../src/traffic/runner.js';
import type { ExecResult, SshSession } from '../src/traffic/ssh.js';

const dir = mkdtempSync(join(tmpdir(), 'lanscape-traffic-core-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const fixture = (name: string) => readFileSync(new URL(`./fixtures/iperf3/${name}`, import.meta.url), 'utf8');

const INJECTIONS = [
  '10.200.0.11; touch /tmp/pwned',
  '$(id)',
  '`id`',
  '10.200.0.11\ntouch /tmp/pwned',
  '-s',
  '--help',
  "10.0.0.1' -s '",
  '10.0.0.1 -s',
  '',
  '10.0.0.1|id',
  '10.0.0.1&&id',
  '../etc',
  'a'.repeat(254),
];

const base: ClientParams = {
  targetAddress: '10.200.0.12',
  port: 5201,
  protocol: 'tcp',
  durationSeconds: 10,
  bitrate: null,
  parallel: 1,
  reverse: false,
};

describe('command lines', () => {
  it('quotes every word so a shell gives back exactly the words', () => {
    const words = ["it's", '$(id)', '`id`', 'a b', 'semi;colon', '"dq"', '\\', '*', '~', '!x', "''", ''];
    const r = spawnSync('sh', ['-c', `printf '%s\\0' ${words.map(shellQuote).join(' ')}`], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), words);
  });

  it('builds the iperf3 client command from validated values only', () => {
    assert.deepEqual(iperfClientArgv(base), ['iperf3', '-c', '10.200.0.12', '-p', '5201', '-J', '-t', '10']);
    assert.deepEqual(
      iperfClientArgv({
        ...base,
        protocol: 'udp',
        bitrate: 1_000_000,
        parallel: 4,
        reverse: true,
        targetAddress: '2001:DB8::0:1',
      }),
      ['iperf3', '-c', '2001:db8::1', '-p', '5201', '-J', '-t', '10', '-u', '-b', '1000000', '-P', '4', '-R'],
    );
    assert.deepEqual(iperfClientArgv({ ...base, targetAddress: 'nas.lan' }).slice(1, 3), ['-c', 'nas.lan']);
    assert.equal(
      remoteCommand(iperfClientArgv(base), 30),
      "'timeout' '--kill-after=5' '30' 'iperf3' '-c' '10.200.0.12' '-p' '5201' '-J' '-t' '10'",
    );
    assert.deepEqual(iperfServerArgv(5202, '10.200.0.12'), [
      'iperf3',
      '-s',
      '-1',
      '--forceflush',
      '-p',
      '5202',
      '-B',
      '10.200.0.12',
    ]);
    assert.deepEqual(iperfServerArgv(5202, null), ['iperf3', '-s', '-1', '--forceflush', '-p', '5202']);
  });

  it('refuses addresses that are options, shell syntax or not addresses at all', () => {
    for (const bad of INJECTIONS) {
      assert.equal(isHostAddress(bad), false, JSON.stringify(bad));
      assert.throws(() => iperfClientArgv({ ...base, targetAddress: bad }), CommandError, JSON.stringify(bad));
    }
    assert.throws(() => iperfServerArgv(5201, 'nas.lan'), CommandError, 'the server binds to IP literals only');
  });

  it('refuses numbers out of range or not integers', () => {
    const cases: Partial<ClientParams>[] = [
      { durationSeconds: 0 },
      { durationSeconds: 301 },
      { durationSeconds: 1.5 },
      { durationSeconds: Number.NaN },
      { parallel: 0 },
      { parallel: 33 },
      { port: 80 },
      { port: 65536 },
      { bitrate: 0 },
      { bitrate: 100_000_000_001 },
      { protocol: 'sctp' as never },
      { protocol: 'tcp; id' as never },
    ];
    for (const c of cases) assert.throws(() => iperfClientArgv({ ...base, ...c }), CommandError, JSON.stringify(c));
    assert.throws(() => remoteCommand(['iperf3', 'a\nb'], 10), CommandError);
    assert.throws(() => remoteCommand(['iperf3'], 0), CommandError);
  });
});

describe('iperf3 JSON (captured from iperf3 3.12 on loopback)', () => {
  it('TCP: received and sent bits/s, retransmits', () => {
    const out = parseIperfJson(fixture('tcp.json'), 'tcp');
    assert.ok(out.ok);
    assert.equal(out.result.sent_bits_per_second, 19514220639.94339);
    assert.equal(out.result.received_bits_per_second, 19513401507.94349);
    assert.equal(out.result.retransmits, 2);
    assert.equal(out.result.jitter_seconds, null);
    assert.equal(out.result.loss_ratio, null);
    assert.equal(out.result.seconds, 1.000568);
  });

  it('TCP reverse with parallel streams: the sums', () => {
    const out = parseIperfJson(fixture('tcp-reverse-parallel.json'), 'tcp');
    assert.ok(out.ok);
    assert.equal(out.result.received_bits_per_second, 18445120469.097015);
    assert.equal(out.result.retransmits, 6);
  });

  it('UDP: receiver jitter in seconds, lost packets, loss ratio from sum_received', () => {
    const out = parseIperfJson(fixture('udp.json'), 'udp');
    assert.ok(out.ok);
    assert.equal(out.result.received_bits_per_second, 10221203.795904167);
    assert.equal(out.result.sent_bits_per_second, 10222174.673371056);
    assert.ok(Math.abs(out.result.jitter_seconds! - 0.010181365880724554 / 1000) < 1e-15);
    assert.equal(out.result.lost_packets, 0);
    assert.equal(out.result.packets, 39);
    assert.equal(out.result.loss_ratio, 0);
    assert.equal(out.result.retransmits, null);
    const lossy = parseIperfJson(fixture('udp-loss.json'), 'udp');
    assert.ok(lossy.ok);
    assert.equal(lossy.result.lost_packets, 3827);
    assert.equal(lossy.result.packets, 19048);
    assert.ok(Math.abs(lossy.result.loss_ratio! - 3827 / 19048) < 1e-12);
    assert.ok(lossy.result.received_bits_per_second < lossy.result.sent_bits_per_second);
    const rev = parseIperfJson(fixture('udp-reverse.json'), 'udp');
    assert.ok(rev.ok && rev.result.packets === 77);
  });

  it('UDP from iperf3 before 3.10: receiver statistics only in end.sum', () => {
    const doc = JSON.parse(fixture('udp-loss.json'));
    delete doc.end.sum_sent;
    delete doc.end.sum_received;
    const out = parseIperfJson(JSON.stringify(doc), 'udp');
    assert.ok(out.ok);
    assert.equal(out.result.lost_packets, 3827);
    assert.equal(out.result.packets, 19059);
    assert.ok(Math.abs(out.result.loss_ratio! - 3827 / 19059) < 1e-12);
    assert.equal(out.result.received_bits_per_second, doc.end.sum.bits_per_second);
  });

  it('the top-level error field fails the test; busy is recognised', () => {
    const refused = parseIperfJson(fixture('refused.json'), 'tcp');
    assert.deepEqual(refused, {
      ok: false,
      error: 'iperf3: unable to connect to server: Connection refused',
      busy: false,
    });
    const busy = parseIperfJson(fixture('busy.json'), 'udp');
    assert.deepEqual(busy, {
      ok: false,
      error: 'iperf3: the server is busy running a test. try again later',
      busy: true,
    });
    assert.ok(isBusyError('the server is busy running a test. try again later'));
    const withError = JSON.parse(fixture('tcp.json'));
    withError.error = 'interrupt - the client has terminated';
    assert.equal(parseIperfJson(JSON.stringify(withError), 'tcp').ok, false);
  });

  it('garbage and half documents are clear failures', () => {
    assert.deepEqual(parseIperfJson('iperf3: error - unable to connect', 'tcp'), {
      ok: false,
      error: 'iperf3 did not print a JSON report',
      busy: false,
    });
    assert.equal(parseIperfJson('[]', 'tcp').ok, false);
    assert.equal(parseIperfJson('{"end":{}}', 'tcp').ok, false);
    assert.equal(parseIperfJson('{"end":{}}', 'udp').ok, false);
    const longErr = parseIperfJson(JSON.stringify({ error: `x\n\u001b[31m${'y'.repeat(1000)}` }), 'tcp');
    assert.ok(!longErr.ok && longErr.error.length <= 310 && !/[\n\u001b]/.test(longErr.error));
  });
});

describe('host keys', () => {
  const keyFile = join(dir, 'host_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'k1', '-f', keyFile]);
  const pub = readFileSync(`${keyFile}.pub`, 'utf8').trim();
  const blob = Buffer.from(pub.split(' ')[1]!, 'base64');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'k2', '-f', `${keyFile}2`]);
  const pub2 = readFileSync(`${keyFile}2.pub`, 'utf8').trim();
  const blob2 = Buffer.from(pub2.split(' ')[1]!, 'base64');

  it('prints fingerprints exactly as ssh-keygen -l does', () => {
    const printed = execFileSync('ssh-keygen', ['-l', '-f', `${keyFile}.pub`], { encoding: 'utf8' }).split(' ')[1];
    assert.equal(fingerprint(blob), printed);
    assert.match(fingerprint(blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(keyType(blob), 'ssh-ed25519');
    assert.equal(keyType(Buffer.from([0, 0])), 'unknown');
  });

  it('reads plain, [host]:port, wildcard, negated, hashed and @revoked entries', () => {
    const [type, b64] = pub.split(' ');
    const [, b64b] = pub2.split(' ');
    const plain = `# comment\n\nnas,10.200.0.11 ${type} ${b64}\n[10.200.0.12]:2222 ${type} ${b64b}\n*.lab,!bad.lab ${type} ${b64}\n@revoked old.lab ${type} ${b64}\nbroken line\n@cert-authority *.ca ${type} ${b64}\n`;
    const entries = parseKnownHosts(plain);
    assert.equal(entries.length, 5);
    assert.equal(knownKeysFor(entries, '10.200.0.11', 22).length, 1);
    assert.equal(
      knownKeysFor(entries, '10.200.0.11', 2222).length,
      0,
      'a non-standard port needs the [host]:port form',
    );
    assert.equal(knownKeysFor(entries, '10.200.0.12', 2222)[0]!.key.equals(blob2), true);
    assert.equal(knownKeysFor(entries, 'x.lab', 22).length, 1);
    assert.equal(knownKeysFor(entries, 'bad.lab', 22).length, 0);
    assert.equal(knownKeysFor(entries, 'y.ca', 22).length, 0, 'CA lines are not host keys');
    // Hashed entries, made by ssh-keygen -H itself.
    const file = join(dir, 'known_hosts');
    writeFileSync(file, `10.200.0.11 ${type} ${b64}\n[10.200.0.12]:2222 ${type} ${b64b}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const hashed = parseKnownHosts(readFileSync(file, 'utf8'));
    assert.ok(hashed.every((e) => e.patterns[0]!.startsWith('|1|')));
    assert.ok(entryMatches(hashed[0]!, '10.200.0.11'));
    assert.ok(!entryMatches(hashed[0]!, '10.200.0.12'));
    assert.equal(knownKeysFor(hashed, '10.200.0.12', 2222)[0]!.key.equals(blob2), true);
    assert.deepEqual(decideHostKey({ kind: 'known_hosts', file, entries: hashed }, blob, 'nas', '10.200.0.11', 22), {
      ok: true,
      fingerprint: fingerprint(blob),
      keyType: 'ssh-ed25519',
      trustNow: false,
    });
  });

  it('decides: pinned, known_hosts, revoked, trust on first use; refusals show the presented key', () => {
    const fp = fingerprint(blob);
    const fp2 = fingerprint(blob2);
    assert.equal(decideHostKey({ kind: 'pinned', fingerprint: `${fp}=` }, blob, 'nas', 'h', 22).ok, true);
    const wrong = decideHostKey({ kind: 'pinned', fingerprint: fp2 }, blob, 'nas (10.0.0.1:22)', 'h', 22);
    assert.ok(!wrong.ok);
    assert.match(wrong.message, new RegExp(`presented ssh-ed25519 key ${fp.replace(/[+/]/g, '\\$&')}$`));
    assert.ok(wrong.message.includes(`pinned ${fp2}`));
    const [type, b64] = pub.split(' ');
    const entries = parseKnownHosts(`h ${type} ${pub2.split(' ')[1]}\n@revoked r ${type} ${b64}\nr ${type} ${b64}\n`);
    const changed = decideHostKey({ kind: 'known_hosts', file: '/kh', entries }, blob, 'h', 'h', 22);
    assert.ok(!changed.ok && /holds a different key/.test(changed.message) && changed.message.includes(fp));
    const unknown = decideHostKey({ kind: 'known_hosts', file: '/kh', entries }, blob, 'z', 'z', 22);
    assert.ok(!unknown.ok && /has no key for z/.test(unknown.message));
    const revoked = decideHostKey({ kind: 'known_hosts', file: '/kh', entries }, blob, 'r', 'r', 22);
    assert.ok(!revoked.ok && /@revoked/.test(revoked.message));
    assert.deepEqual(decideHostKey({ kind: 'tofu', stored: null }, blob, 'h', 'h', 22), {
      ok: true,
      fingerprint: fp,
      keyType: 'ssh-ed25519',
      trustNow: true,
    });
    assert.equal(decideHostKey({ kind: 'tofu', stored: fp }, blob, 'h', 'h', 22).ok, true);
    const tofuChanged = decideHostKey({ kind: 'tofu', stored: fp2 }, blob, 'h', 'h', 22);
    assert.ok(!tofuChanged.ok && tofuChanged.message.includes(fp) && tofuChanged.message.includes(fp2));
  });

  it('offers the known key types first', () => {
    assert.deepEqual(hostKeyAlgorithmsFor(['ssh-rsa']).slice(0, 4), [
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519',
    ]);
    assert.equal(hostKeyAlgorithmsFor([]).length, 7);
  });
});

describe('schedules', () => {
  it('first run within the jitter, then interval ± jitter', () => {
    assert.equal(
      firstRunAt(1000, 30, () => 0),
      1000,
    );
    assert.equal(
      firstRunAt(1000, 30, () => 1),
      31_000,
    );
    assert.equal(
      nextRunAt(0, 60, 30, () => 0),
      30_000,
    );
    assert.equal(
      nextRunAt(0, 60, 30, () => 1),
      90_000,
    );
    assert.equal(nextRunAt(0, 60, 0, Math.random), 60_000);
    assert.deepEqual([...BUSY_BACKOFF_MS], [1000, 2000, 4000, 8000]);
  });
});

describe('runner (scripted SSH sessions, real iperf3 reports)', () => {
  const plan: RunPlan = {
    source: 'nas',
    target: 'nvr',
    targetAddress: '10.200.0.12',
    port: 5201,
    protocol: 'tcp',
    durationSeconds: 1,
    bitrate: null,
    parallel: 1,
    reverse: false,
    startServer: null,
    graceSeconds: 20,
  };
  /** A session whose commands answer with the given results in turn; records the commands. */
  function scripted(results: Partial<ExecResult>[]) {
    const commands: string[] = [];
    let closed = 0;
    const session: SshSession = {
      async exec(command) {
        commands.push(command);
        const r = results.shift() ?? {};
        return { done: Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '', ...r }), stop() {} };
      },
      close() {
        closed++;
      },
    };
    return { session, commands, closed: () => closed };
  }
  const deps = (source: SshSession) => ({
    connectSource: async () => source,
    connectTarget: async () => {
      throw new Error('not used');
    },
    onProgress: () => {},
    signal: new AbortController().signal,
    backoffMs: [5, 5, 5, 5],
  });

  it('retries a busy server with back-off, then reports the result', async () => {
    const s = scripted([
      { stdout: fixture('busy.json'), code: 1 },
      { stdout: fixture('busy.json'), code: 1 },
      { stdout: fixture('tcp.json') },
    ]);
    const busy: number[] = [];
    const out = await runTrafficTest(plan, { ...deps(s.session), onBusy: (n) => busy.push(n) });
    assert.ok(out.ok);
    assert.equal(s.commands.length, 3);
    assert.deepEqual(busy, [1, 2]);
    assert.equal(
      s.commands[0],
      "'timeout' '--kill-after=5' '21' 'iperf3' '-c' '10.200.0.12' '-p' '5201' '-J' '-t' '1'",
    );
    assert.equal(s.closed(), 1);
  });

  it('gives up after five tries', async () => {
    const s = scripted(Array.from({ length: 6 }, () => ({ stdout: fixture('busy.json'), code: 1 })));
    const out = await runTrafficTest(plan, deps(s.session));
    assert.deepEqual(out, {
      ok: false,
      error: 'iperf3: the server is busy running a test. try again later (5 tries over 0.02 s)',
    });
    assert.equal(s.commands.length, 5);
  });

  it('explains refused targets, remote timeouts and a missing iperf3', async () => {
    const refused = await runTrafficTest(plan, deps(scripted([{ stdout: fixture('refused.json'), code: 1 }]).session));
    assert.deepEqual(refused, {
      ok: false,
      error:
        'iperf3 on nas could not test against 10.200.0.12:5201: iperf3: unable to connect to server: Connection refused',
    });
    const killed = await runTrafficTest(
      plan,
      deps(scripted([{ stdout: '{"error":"interrupt - the client has terminated"}', code: 124 }]).session),
    );
    assert.deepEqual(killed, {
      ok: false,
      error:
        'iperf3 on nas did not finish within 21 s and was stopped by the remote timeout (iperf3: interrupt - the client has terminated)',
    });
    const missing = await runTrafficTest(
      plan,
      deps(
        scripted([{ stderr: "timeout: failed to run command 'iperf3': No such file or directory\n", code: 127 }])
          .session,
      ),
    );
    assert.ok(
      !missing.ok && /cannot run iperf3 on nas .*No such file or directory$/.test(missing.error),
      JSON.stringify(missing),
    );
  });

  it('connects to nothing when a value cannot be put on a command line', async () => {
    let connected = false;
    const out = await runTrafficTest(
      { ...plan, targetAddress: '10.0.0.1; id' },
      {
        ...deps(scripted([]).session),
        connectSource: async () => {
          connected = true;
          return scripted([]).session;
        },
      },
    );
    assert.ok(!out.ok && out.error.startsWith('refused to build the iperf3 command'));
    assert.equal(connected, false);
  });
});

describe('traffic configuration', () => {
  const FP = `SHA256:${'A'.repeat(43)}`;
  const yaml = (text: string) => {
    const file = join(dir, `t-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, text);
    return file;
  };
  const problems = (text: string): string[] => {
    try {
      loadConfig({}, yaml(text));
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems;
    }
    assert.fail('expected a ConfigError');
  };
  const host = (extra: string) =>
    `traffic:\n  hosts:\n    - name: nas\n      address: 10.200.0.11\n      user: lanscape\n${extra}`;

  it('defaults, and a full host', () => {
    const c = loadConfig({});
    assert.deepEqual(c.traffic, {
      trust_on_first_use: false,
      schedules_enabled: true,
      connect_timeout_seconds: 10,
      remote_grace_seconds: 20,
      history_per_pair: 1000,
      hosts: [],
    });
    const t = loadConfig(
      {},
      yaml(host(`      private_key_file: /k\n      host_key: "${FP}"\n      iperf3_port: 5202\n`)),
    ).traffic;
    assert.deepEqual(t.hosts[0], {
      name: 'nas',
      address: '10.200.0.11',
      port: 22,
      user: 'lanscape',
      private_key_file: '/k',
      host_key: FP,
      iperf3_port: 5202,
    });
  });

  it('without trust_on_first_use a host needs a pinned key or known_hosts', () => {
    const p = problems(host('      private_key_file: /k\n'));
    assert.equal(p.length, 1);
    assert.match(
      p[0]!,
      /^traffic\.hosts\.0\.host_key .*needs host_key .* or known_hosts_file; or set traffic\.trust_on_first_use: true/,
    );
    const ok = loadConfig({}, yaml(`${host('      private_key_file: /k\n')}  trust_on_first_use: true\n`));
    assert.equal(ok.traffic.trust_on_first_use, true);
  });

  it('names the key and what is allowed for bad values', () => {
    const cases: [string, RegExp][] = [
      [
        host(`      private_key_file: /k\n      agent: true\n      host_key: "${FP}"\n`),
        /exactly one of private_key_file and agent/,
      ],
      [host(`      host_key: "${FP}"\n`), /exactly one of private_key_file and agent/],
      [
        host(`      agent: true\n      passphrase_file: /p\n      host_key: "${FP}"\n`),
        /passphrase_file goes with private_key_file/,
      ],
      [
        host(`      agent: true\n      host_key: "${FP}"\n      known_hosts_file: /kh\n`),
        /host_key or known_hosts_file, not both/,
      ],
      [host('      agent: true\n      host_key: "MD5:aa:bb"\n'), /traffic\.hosts\.0\.host_key .*SHA256:<43 base64/],
      [host(`      agent: true\n      host_key: "${FP}"\n      iperf3_port: 80\n`), /traffic\.hosts\.0\.iperf3_port/],
      [
        `traffic:\n  hosts:\n    - name: NAS\n      address: 10.0.0.1\n      user: u\n      agent: true\n      host_key: "${FP}"\n`,
        /traffic\.hosts\.0\.name/,
      ],
      [
        `traffic:\n  hosts:\n    - name: nas\n      address: "-oProxyCommand=id"\n      user: u\n      agent: true\n      host_key: "${FP}"\n`,
        /traffic\.hosts\.0\.address .*not starting with -/,
      ],
      [
        `traffic:\n  hosts:\n    - name: nas\n      address: "10.0.0.1; id"\n      user: u\n      agent: true\n      host_key: "${FP}"\n`,
        /traffic\.hosts\.0\.address/,
      ],
      [
        `traffic:\n  hosts:\n    - name: nas\n      address: 10.0.0.1\n      user: "root;id"\n      agent: true\n      host_key: "${FP}"\n`,
        /traffic\.hosts\.0\.user/,
      ],
      [
        `traffic:\n  hosts:\n${['10.0.0.1', '10.0.0.2'].map((a) => `    - name: nas\n      address: ${a}\n      user: u\n      agent: true\n      host_key: "${FP}"\n`).join('')}`,
        /traffic\.hosts\.1\.name .*used twice/,
      ],
      [
        host(`      agent: true\n      host_key: "${FP}"\n      password: hunter2\n`),
        /unknown setting traffic\.hosts\.0\.password/,
      ],
    ];
    for (const [text, re] of cases) {
      const p = problems(text);
      assert.ok(
        p.some((x) => re.test(x)),
        `${re} in ${JSON.stringify(p)}`,
      );
      assert.ok(!p.join('\n').includes('hunter2'), 'secret values are not repeated');
    }
  });
});
