// The pure parts of discovery: pacing, retries, the in-flight cap, status debounce, targets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withServiceNames } from '../src/discovery/core/ports.js';
import { type HostState, observe } from '../src/discovery/core/status.js';
import { ipv4Index, sweep } from '../src/discovery/core/sweep.js';
import {
  SweepTooLargeError,
  ipv4Value,
  listTargets,
  prefixTargets,
  sweepTargets,
} from '../src/discovery/core/targets.js';
import { parseIpNeighJson, parseProcNetArp } from '../src/discovery/neighbours.js';
import { VendorIndexBuilder, loadVendors, vendorOf } from '../src/discovery/oui.js';
import { parsePrefix } from '../src/ipam/core/prefix.js';
import { fakeEcho } from './helpers/echo.js';

const targets = (n: number) => Array.from({ length: n }, (_, i) => `10.9.${i >> 8}.${i & 255}`);

describe('sweep', () => {
  it('finds the alive targets and retries only the silent ones, in passes through the pacer', async () => {
    const all = targets(300);
    const alive = new Set(all.filter((_, i) => i % 7 === 0));
    const fake = fakeEcho((t) => (alive.has(t) ? 2 : null));
    // The replies come after 2 ms, the timeout is far longer: on a busy machine the pacer may run
    // before a reply's timer, and an alive host must not be retried for that.
    const timeoutMs = 250;
    const r = await sweep(all, fake.socket, { pps: 20_000, timeoutMs, retries: 2 });
    assert.deepEqual([...r.alive.keys()].sort(), [...alive].sort());
    assert.equal(r.sent, alive.size + (all.length - alive.size) * 3);
    assert.equal(fake.calls.length, r.sent);
    const perTarget = new Map<string, number>();
    for (const c of fake.calls) perTarget.set(c.target, (perTarget.get(c.target) ?? 0) + 1);
    assert.ok([...alive].every((a) => perTarget.get(a) === 1));
    assert.deepEqual(
      r.passes.map((p) => [p.pass, p.sent, p.found]),
      [
        [0, 300, alive.size],
        [1, 300 - alive.size, 0],
        [2, 300 - alive.size, 0],
      ],
    );
    // A retry leaves no earlier than one timeout after the target's previous request.
    const last = new Map<string, number>();
    for (const c of fake.calls) {
      const before = last.get(c.target);
      if (before !== undefined) assert.ok(c.at - before >= timeoutMs, `${c.target} retried after ${c.at - before} ms`);
      last.set(c.target, c.at);
    }
  });

  it('a retry pass finds the hosts that missed the first request', async () => {
    const all = targets(200);
    // Every third host drops its first request.
    const fake = fakeEcho((t, attempt) => (all.indexOf(t) % 3 === 0 && attempt === 0 ? null : 1));
    const r = await sweep(all, fake.socket, { pps: 50_000, timeoutMs: 200, retries: 1 });
    assert.equal(r.alive.size, 200);
    assert.equal(r.passes[1]!.found, 67);
  });

  it('is paced by the rate alone, the retry pass following the first one directly', async () => {
    // 600 silent targets at 2,000 pps: 0.3 s per pass, timeout 0.1 s: two passes back to back,
    // then one timeout: 0.7 s, whatever the requests outstanding.
    const fake = fakeEcho(() => null);
    const pps = 2000;
    const r = await sweep(targets(600), fake.socket, { pps, timeoutMs: 100, retries: 1 });
    assert.equal(r.sent, 1200);
    assert.ok(r.seconds >= 0.69 && r.seconds < 0.9, `took ${r.seconds} s`);
    // Request i may not leave before i/pps seconds (one tick of slack).
    for (const [i, c] of fake.calls.entries()) assert.ok(c.at >= (i / pps) * 1000 - 3, `request ${i} at ${c.at} ms`);
  });

  it("counts a reply only from the target it was sent to, with that target's sequence", async () => {
    const all = ['10.9.0.1', '10.9.0.2', '10.9.0.3'];
    const fake = fakeEcho(() => null);
    const run = sweep(all, fake.socket, { pps: 1000, timeoutMs: 60, retries: 0, seqBase: 100 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const seqOf = new Map(fake.calls.map((c) => [c.target, c.seq]));
    assert.deepEqual([...seqOf.values()], [100, 101, 102]);
    fake.reply('10.9.0.1', seqOf.get('10.9.0.2')!); // a reply with another target's sequence
    fake.reply('10.9.0.9', seqOf.get('10.9.0.3')!); // from an address not swept
    fake.reply('10.9.0.3', seqOf.get('10.9.0.3')!, 7); // another socket's identifier
    fake.reply('10.9.0.2', seqOf.get('10.9.0.2')!); // the real one
    const r = await run;
    assert.deepEqual([...r.alive.keys()], ['10.9.0.2']);
    assert.equal(r.mismatched, 1);
  });

  it('ipv4Index finds the target of a reply by arithmetic, and nothing outside the targets', () => {
    const all = targets(600);
    const indexOf = ipv4Index(all);
    assert.equal(indexOf('10.9.0.0'), 0);
    assert.equal(indexOf('10.9.2.87'), 599);
    assert.equal(indexOf('10.9.2.88'), -1);
    assert.equal(indexOf('10.8.255.255'), -1);
    assert.equal(indexOf('10.9.0.07'), -1, 'another spelling is not a target');
    assert.equal(indexOf('fd00::1'), -1);
  });

  it('waits while the socket is busy, then sends', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const fake = fakeEcho(() => 1, gate);
    const run = sweep(targets(50), fake.socket, { pps: 100_000, timeoutMs: 20, retries: 0 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(fake.calls.length, 0);
    open();
    assert.equal((await run).alive.size, 50);
  });

  it('finishes at once for no targets and refuses nonsense options', async () => {
    const fake = fakeEcho(() => null);
    assert.equal((await sweep([], fake.socket, { pps: 10, timeoutMs: 10, retries: 0 })).sent, 0);
    assert.throws(() => sweep(['10.0.0.1'], fake.socket, { pps: 0, timeoutMs: 10, retries: 0 }), RangeError);
  });

  it('stops when aborted', async () => {
    const fake = fakeEcho(() => null);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stopped')), 20);
    await assert.rejects(
      sweep(targets(5000), fake.socket, { pps: 1000, timeoutMs: 5, retries: 0, signal: controller.signal }),
      /stopped/,
    );
    assert.ok(fake.calls.length < 5000);
  });
});

describe('status debounce', () => {
  const run = (seq: boolean[], downAfter = 3) => {
    let state: HostState | undefined;
    const out: string[] = [];
    seq.forEach((alive, t) => {
      const { next, event } = observe(state, alive, t, downAfter);
      state = next;
      out.push(`${next.status}${event ? `:${event}` : ''}`);
    });
    return out;
  };

  it('is up at the first answer, down only after N misses, up again at the next answer', () => {
    assert.deepEqual(run([true, false, false, false, false, true]), [
      'up:new_device',
      'up',
      'up',
      'down:down',
      'down',
      'up:up',
    ]);
  });

  it('keeps a never-seen address unknown until N misses, without a down event', () => {
    assert.deepEqual(run([false, false, false, true], 3), ['unknown', 'unknown', 'down', 'up:new_device']);
  });

  it('resets the miss count on an answer', () => {
    assert.deepEqual(run([true, false, false, true, false, false], 3), ['up:new_device', 'up', 'up', 'up', 'up', 'up']);
  });

  it('keeps first seen and records when the status changed', () => {
    let s = observe(undefined, true, 100, 1).next;
    s = observe(s, false, 200, 1).next;
    s = observe(s, true, 300, 1).next;
    assert.deepEqual([s.firstSeenAt, s.lastSeenAt, s.statusChangedAt], [100, 300, 300]);
  });
});

describe('targets', () => {
  it('are the usable addresses of the subnet, and nothing else', () => {
    const t = sweepTargets(parsePrefix('192.0.2.0/24'), 16);
    assert.equal(t.length, 254);
    assert.equal(t[0], '192.0.2.1');
    assert.equal(t.at(-1), '192.0.2.254');
    assert.deepEqual(sweepTargets(parsePrefix('192.0.2.6/31'), 16), ['192.0.2.6', '192.0.2.7']);
    assert.equal(sweepTargets(parsePrefix('10.0.0.0/16'), 16).length, 65534);
  });

  it('refuse a subnet larger than the maximum, naming the setting', () => {
    assert.throws(
      () => sweepTargets(parsePrefix('10.0.0.0/15'), 16),
      (e: Error) =>
        e instanceof SweepTooLargeError && /largest sweep allowed \(\/16, LANSCAPE_SCAN_MAX_PREFIX\)/.test(e.message),
    );
    assert.throws(() => sweepTargets(parsePrefix('10.0.0.0/23'), 24), SweepTooLargeError);
    assert.throws(() => sweepTargets(parsePrefix('2001:db8::/64'), 16), /only IPv4/);
    assert.throws(() => prefixTargets(parsePrefix('10.0.0.0/15'), 16), SweepTooLargeError);
  });

  it('as a set: the same members as the list, by arithmetic, canonical text only', () => {
    for (const cidr of ['192.0.2.0/24', '192.0.2.6/31', '192.0.2.9/32', '10.4.0.0/22']) {
      const list = sweepTargets(parsePrefix(cidr), 16);
      const sets = [prefixTargets(parsePrefix(cidr), 16), listTargets(list)];
      const probes = [...list, '192.0.2.0', '192.0.2.255', '192.0.3.1', '10.4.4.0', '10.3.255.255', '10.4.3.255'];
      for (const set of sets) {
        assert.equal(set.size, list.length, cidr);
        for (const a of probes) assert.equal(set.has(a), list.includes(a), `${cidr} ${a}`);
        for (const odd of [
          '192.0.2.010',
          '192.0.2',
          '192.0.2.1.',
          ' 192.0.2.1',
          '192.0.2.1a',
          '2001:db8::1',
          '10.4.0.1 ',
        ])
          assert.equal(set.has(odd), false, `${cidr} ${odd}`);
      }
    }
    // Any other list (IPv6 known addresses, a list not in order) is a plain set.
    const v6 = listTargets(['2001:db8::1', '2001:db8::3']);
    assert.deepEqual([v6.size, v6.has('2001:db8::3'), v6.has('2001:db8::2')], [2, true, false]);
    const shuffled = listTargets(['10.0.0.3', '10.0.0.1', '10.0.0.2']);
    assert.deepEqual([shuffled.has('10.0.0.1'), shuffled.has('10.0.0.4')], [true, false]);
    assert.deepEqual(
      ['0.0.0.0', '255.255.255.255', '10.0.0.1', '256.0.0.1', '1.2.3', '01.2.3.4', '', '1..2.3'].map(ipv4Value),
      [0, 4294967295, 167772161, NaN, NaN, NaN, NaN, NaN],
    );
  });
});

describe('neighbours, vendors and port names', () => {
  it('reads complete entries of /proc/net/arp', () => {
    const text = [
      'IP address       HW type     Flags       HW address            Mask     Device',
      '10.201.0.10      0x1         0x2         00:1B:21:0A:00:10     *        lan0',
      '10.201.0.99      0x1         0x0         00:00:00:00:00:00     *        lan0',
      '10.201.0.11      0x1         0x6         00:1b:21:0a:00:11     *        lan0',
    ].join('\n');
    assert.deepEqual(
      [...parseProcNetArp(text)],
      [
        ['10.201.0.10', '00:1b:21:0a:00:10'],
        ['10.201.0.11', '00:1b:21:0a:00:11'],
      ],
    );
  });

  it('reads IPv6 neighbours from ip -json neigh, resolved entries only, in IPAM spelling', () => {
    const text = JSON.stringify([
      { dst: 'fd00:201:0:0::10', dev: 'lan0', lladdr: '00:1B:21:0A:00:10', state: ['REACHABLE'] },
      { dst: 'fd00:201::11', dev: 'lan0', lladdr: '00:1b:21:0a:00:11', state: ['STALE'] },
      { dst: 'fd00:201::99', dev: 'lan0', state: ['FAILED'] },
      { dst: 'fd00:201::98', dev: 'lan0', lladdr: '00:00:00:00:00:00', state: ['INCOMPLETE'] },
      { dst: 'fe80::1%lan0', dev: 'lan0', lladdr: 'b8:27:eb:0a:00:12', router: null, state: ['DELAY'] },
    ]);
    assert.deepEqual(
      [...parseIpNeighJson(text)],
      [
        ['fd00:201::10', '00:1b:21:0a:00:10'],
        ['fd00:201::11', '00:1b:21:0a:00:11'],
        ['fe80::1', 'b8:27:eb:0a:00:12'],
      ],
    );
    assert.equal(parseIpNeighJson('not json').size, 0);
  });

  it('names vendors from the IEEE registry, none for locally administered MACs', () => {
    assert.equal(vendorOf('00:1b:21:00:00:01'), 'Intel Corporate');
    assert.equal(vendorOf('B8-27-EB-00-00-01'), 'Raspberry Pi Foundation');
    assert.equal(vendorOf('02:42:ac:11:00:02'), null, 'docker-style local MAC');
    assert.equal(vendorOf('zz'), null);
  });

  it('indexes the first line of each 24-bit prefix, decoding escapes and UTF-8, in slices', async () => {
    // As the file's bytes read as latin1: "Ã¼" is the UTF-8 of "ü".
    const text = Buffer.from(
      JSON.stringify({
        '00AA01': 'Müller GmbH\nStraße 1\nBerlin',
        '00AA02': 'Back\\slash "Quoted"\nsecond line',
        '00AA03': 'Line\\nNot a break\nnext',
        '00AA04': '  Padded  \nx',
        '00AA05': 'Müller GmbH\nanother address',
        '00AA060': 'an MA-M block, not a 24-bit prefix',
      }),
      'utf8',
    ).toString('latin1');
    const whole = new VendorIndexBuilder(text);
    assert.equal(whole.step(), true);
    const index = whole.index();
    const nameOf = (prefix: number) => {
      const at = index.packed.find((p) => Math.floor(p / 2 ** 20) === prefix);
      return at === undefined ? undefined : index.names[at % 2 ** 20];
    };
    assert.equal(nameOf(0x00aa01), 'Müller GmbH');
    assert.equal(nameOf(0x00aa02), 'Back\\slash "Quoted"');
    assert.equal(nameOf(0x00aa03), 'Line\\nNot a break');
    assert.equal(nameOf(0x00aa04), 'Padded');
    assert.equal(nameOf(0x00aa05), 'Müller GmbH');
    assert.equal(index.names.length, 4, 'equal names are stored once');
    assert.equal(index.packed.length, 5, 'the MA-M key is left out');
    // Built a few hundred entries at a time (step(0) stops at its first check), the index is the same.
    const many: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) many[`10${i.toString(16).padStart(4, '0').toUpperCase()}`] = `Vendor ${i % 300}\nx`;
    const big = JSON.stringify(many);
    const sliced = new VendorIndexBuilder(big);
    let steps = 1;
    while (!sliced.step(0)) steps++;
    assert.ok(steps >= 3, `${steps} steps`);
    const once = new VendorIndexBuilder(big);
    once.step();
    assert.deepEqual(sliced.index(), once.index());
    assert.equal(once.index().names.length, 300);

    // The real registry: loaded in slices of turns, then looked up without blocking.
    await loadVendors();
    assert.equal(vendorOf('00:1b:21:0a:00:10'), 'Intel Corporate');
    assert.equal(vendorOf('00:00:00:00:00:01'), 'XEROX CORPORATION');
    assert.equal(vendorOf('00:1b:22:00:00:01') === 'Intel Corporate', false);
  });

  it('fills service names from the defaults and drops duplicate ports', () => {
    assert.deepEqual(
      withServiceNames([
        { port: 22, service: null },
        { port: 22, service: 'x' },
        { port: 9999, service: 'mine' },
        { port: 9998, service: null },
      ]),
      [
        { port: 22, service: 'ssh' },
        { port: 9999, service: 'mine' },
        { port: 9998, service: null },
      ],
    );
  });
});
