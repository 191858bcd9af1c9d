// The pure parts of discovery: pacing, retries, the in-flight cap, status debounce, targets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withServiceNames } from '../src/discovery/core/ports.js';
import { type HostState, observe } from '../src/discovery/core/status.js';
import { type Pinger, sweep } from '../src/discovery/core/sweep.js';
import { SweepTooLargeError, sweepTargets } from '../src/discovery/core/targets.js';
import { parseProcNetArp } from '../src/discovery/neighbours.js';
import { vendorOf } from '../src/discovery/oui.js';
import { parsePrefix } from '../src/ipam/core/prefix.js';

/** Answers for `alive` after `delayMs`, times out the rest after `timeoutMs`; records every call. */
function fakePinger(alive: Set<string>, delayMs = 2, timeoutMs = 30) {
  const calls: { target: string; at: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const start = performance.now();
  const pinger: Pinger = {
    ping(target, done) {
      calls.push({ target, at: performance.now() - start });
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const ok = alive.has(target);
      setTimeout(
        () => {
          inFlight -= 1;
          done(ok ? delayMs / 1000 : null);
        },
        ok ? delayMs : timeoutMs,
      );
    },
  };
  return { pinger, calls, max: () => maxInFlight };
}

const targets = (n: number) => Array.from({ length: n }, (_, i) => `10.9.${i >> 8}.${i & 255}`);

describe('sweep', () => {
  it('finds the alive targets and retries only the silent ones, through the pacer', async () => {
    const all = targets(300);
    const alive = new Set(all.filter((_, i) => i % 7 === 0));
    const fake = fakePinger(alive);
    const r = await sweep(all, fake.pinger, { pps: 20_000, maxInFlight: 1000, retries: 2 });
    assert.deepEqual([...r.alive.keys()].sort(), [...alive].sort());
    assert.equal(r.sent, alive.size + (all.length - alive.size) * 3);
    assert.equal(fake.calls.length, r.sent);
    const perTarget = new Map<string, number>();
    for (const c of fake.calls) perTarget.set(c.target, (perTarget.get(c.target) ?? 0) + 1);
    assert.ok([...alive].every((a) => perTarget.get(a) === 1));
  });

  it('never sends faster than the rate', async () => {
    const fake = fakePinger(new Set(), 1, 5);
    const pps = 2000;
    const r = await sweep(targets(600), fake.pinger, { pps, maxInFlight: 10_000, retries: 0 });
    assert.ok(r.seconds >= (600 / pps) * 0.95, `600 requests at ${pps}/s took ${r.seconds} s`);
    // Request i may not leave before i/pps seconds (one tick of slack).
    for (const [i, c] of fake.calls.entries()) assert.ok(c.at >= (i / pps) * 1000 - 3, `request ${i} at ${c.at} ms`);
  });

  it('keeps the in-flight cap', async () => {
    const fake = fakePinger(new Set(), 1, 20);
    await sweep(targets(500), fake.pinger, { pps: 100_000, maxInFlight: 25, retries: 0 });
    assert.equal(fake.max(), 25);
  });

  it('finishes at once for no targets and refuses nonsense options', async () => {
    const fake = fakePinger(new Set());
    assert.equal((await sweep([], fake.pinger, { pps: 10, maxInFlight: 1, retries: 0 })).sent, 0);
    assert.throws(() => sweep(['10.0.0.1'], fake.pinger, { pps: 0, maxInFlight: 1, retries: 0 }), RangeError);
  });

  it('stops when aborted', async () => {
    const fake = fakePinger(new Set(), 1, 5);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stopped')), 20);
    await assert.rejects(
      sweep(targets(5000), fake.pinger, { pps: 1000, maxInFlight: 100, retries: 0, signal: controller.signal }),
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

  it('names vendors from the IEEE registry, none for locally administered MACs', () => {
    assert.equal(vendorOf('00:1b:21:00:00:01'), 'Intel Corporate');
    assert.equal(vendorOf('B8-27-EB-00-00-01'), 'Raspberry Pi Foundation');
    assert.equal(vendorOf('02:42:ac:11:00:02'), null, 'docker-style local MAC');
    assert.equal(vendorOf('zz'), null);
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
