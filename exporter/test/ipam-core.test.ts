// Unit tests for the pure IPAM engine (src/ipam/core). No store, no HTTP: only values in, values out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type IP, IpFormatError, compareIp, formatIp, ipFromKey, ipKey, parseIp } from '../src/ipam/core/ip.js';
import {
  contains,
  covers,
  formatPrefix,
  lastOf,
  netmask,
  parsePrefix,
  sizeOf,
  usableBounds,
  usableCount,
} from '../src/ipam/core/prefix.js';
import {
  type BlockLookup,
  type Interval,
  clip,
  freeAddresses,
  intervalSize,
  mergeIntervals,
  type StoreBlockLookup,
  sortedIntervalLookup,
  takeFree,
  takeFreeAround,
  aroundFromKnown,
} from '../src/ipam/core/allocation.js';
import { addToRuns } from '../src/ipam/core/runs.js';
import { type LabelledRange, type LayoutRow, layoutRows } from '../src/ipam/core/layout.js';
import { type TreeNode, buildTree } from '../src/ipam/core/hierarchy.js';
import { utilization } from '../src/ipam/core/utilization.js';
import { COLOR_RE, HOSTNAME_RE, TAG_RE, normalizeMac } from '../src/ipam/core/fields.js';
import { prng } from './helpers/prng.js';

// ------------------------------------------------------------------ helpers

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = out[i]!;
    out[i] = out[j]!;
    out[j] = a;
  }
  return out;
}

/**
 * More lookups than this in one test means the search is walking address by address; throwing
 * makes such a regression fail fast instead of hanging on a /8 or a /64.
 */
const LOOKUP_CAP = 10_000;

/** Wraps a lookup so its calls are counted (and capped). */
function counted(inner: BlockLookup): { lookup: BlockLookup; calls: () => number } {
  let calls = 0;
  return {
    lookup: (at) => {
      calls++;
      if (calls > LOOKUP_CAP)
        throw new Error(`lookup called more than ${LOOKUP_CAP} times: the search enumerates addresses`);
      return inner(at);
    },
    calls: () => calls,
  };
}

/** A block lookup over a plain list of intervals (linear scan) that counts its calls. */
function countingLookup(intervals: readonly Interval[]): { lookup: BlockLookup; calls: () => number } {
  return counted((at) => intervals.find((iv) => iv.first <= at && at <= iv.last));
}

function iv(first: bigint, last: bigint): Interval {
  return { first, last };
}

function assertIpFormatError(fn: () => unknown, messagePart?: RegExp): IpFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof IpFormatError, `expected IpFormatError, got ${String(caught)}`);
  assert.equal(caught.name, 'IpFormatError');
  if (messagePart) assert.match(caught.message, messagePart);
  return caught;
}

type GapRow = Extract<LayoutRow<unknown>, { kind: 'gap' }>;

function gapsOf<T>(rows: readonly LayoutRow<T>[]): GapRow[] {
  return rows.filter((r): r is Extract<LayoutRow<T>, { kind: 'gap' }> => r.kind === 'gap');
}

/** Compact textual form of layout rows, relative to `base`, for readable deepEqual assertions. */
function sketch<T>(rows: readonly LayoutRow<T>[], base: bigint): string[] {
  return rows.map((r) =>
    r.kind === 'address'
      ? `@${r.value - base}`
      : `gap ${r.first - base}-${r.last - base} (${r.size})${r.rangeId === null ? '' : ` r${r.rangeId}`}`,
  );
}

// ------------------------------------------------------------------ ip.ts

describe('parseIp / formatIp / ipKey / ipFromKey', () => {
  const cases: { text: string; family: 4 | 6; value: bigint }[] = [
    { text: '0.0.0.0', family: 4, value: 0n },
    { text: '10.0.0.1', family: 4, value: 0x0a000001n },
    { text: '192.168.1.254', family: 4, value: 0xc0a801fen },
    { text: '255.255.255.255', family: 4, value: V4_MAX },
    { text: '::', family: 6, value: 0n },
    { text: '::1', family: 6, value: 1n },
    { text: '2001:db8::1', family: 6, value: 0x20010db8000000000000000000000001n },
    { text: 'fe80::', family: 6, value: 0xfe800000000000000000000000000000n },
    { text: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 6, value: V6_MAX },
  ];

  for (const c of cases) {
    it(`round-trips ${c.text}`, () => {
      const ip = parseIp(c.text);
      assert.equal(ip.family, c.family);
      assert.equal(ip.value, c.value);
      assert.equal(formatIp(ip), c.text);
      const key = ipKey(ip);
      assert.equal(key.length, 17);
      assert.equal(key[0], c.family);
      assert.deepEqual(ipFromKey(key), { family: c.family, value: c.value });
      // a plain Uint8Array (what SQLite drivers may hand back) decodes the same
      assert.deepEqual(ipFromKey(new Uint8Array(key)), { family: c.family, value: c.value });
    });
  }

  it('formats IPv6 in RFC 5952 form (lower case, longest zero run compressed, single zero group kept)', () => {
    assert.equal(formatIp(parseIp('2001:0DB8:0000:0000:0000:0000:0000:00AB')), '2001:db8::ab');
    assert.equal(formatIp(parseIp('1:0:0:2:0:0:0:3')), '1:0:0:2::3');
    assert.equal(formatIp(parseIp('1:0:0:2:0:0:3:4')), '1::2:0:0:3:4');
    assert.equal(formatIp(parseIp('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1');
    assert.equal(formatIp(parseIp('0:0:0:0:0:0:0:0')), '::');
  });

  it('keeps ::ffff:10.0.0.1 as IPv6, distinct from 10.0.0.1', () => {
    const mapped = parseIp('::ffff:10.0.0.1');
    const plain = parseIp('10.0.0.1');
    assert.equal(mapped.family, 6);
    assert.equal(mapped.value, 0xffff0a000001n);
    assert.notEqual(compareIp(mapped, plain), 0);
    assert.notEqual(Buffer.compare(ipKey(mapped), ipKey(plain)), 0);
    assert.ok(Buffer.compare(ipKey(plain), ipKey(mapped)) < 0, 'the IPv4 key sorts first');
    const text = formatIp(mapped);
    assert.notEqual(text, '10.0.0.1');
    assert.ok(text.includes(':'));
    assert.deepEqual(parseIp(text), mapped, 'the formatted form parses back to the same IPv6 address');
    assert.deepEqual(ipFromKey(ipKey(mapped)), { family: 6, value: 0xffff0a000001n });
  });

  it('an IPv6 value numerically equal to an IPv4 value gets a different key', () => {
    const v4: IP = { family: 4, value: 0x0a000001n };
    const v6: IP = { family: 6, value: 0x0a000001n };
    assert.notEqual(Buffer.compare(ipKey(v4), ipKey(v6)), 0);
    assert.equal(formatIp(v6), '::a00:1');
    assert.deepEqual(ipFromKey(ipKey(v6)), v6);
  });

  it('key order equals numeric order, and every IPv4 key sorts before every IPv6 key', () => {
    const texts = [
      '0.0.0.0',
      '0.0.0.1',
      '0.0.0.255',
      '0.0.1.0',
      '0.255.255.255',
      '1.0.0.0',
      '9.255.255.255',
      '10.0.0.0',
      '10.0.0.1',
      '127.0.0.1',
      '128.0.0.0',
      '255.255.255.254',
      '255.255.255.255',
      '::',
      '::1',
      '::ff',
      '::100',
      '::ffff:ffff',
      '::1:0:0',
      '::ffff:10.0.0.1',
      '0:0:0:1::',
      '1::',
      '2001:db8::',
      '2001:db8::1',
      'fe80::1',
      'ff00::',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ];
    const ips = shuffled(texts.map(parseIp), prng(7));
    const byNumber = [...ips].sort(compareIp).map(formatIp);
    const byKey = [...ips].sort((a, b) => Buffer.compare(ipKey(a), ipKey(b))).map(formatIp);
    assert.deepEqual(byKey, byNumber);
    // and the numeric order is the expected one (texts above are listed ascending)
    assert.deepEqual(
      byNumber,
      texts.map((t) => formatIp(parseIp(t))),
    );
    // pairwise: sign of the key comparison equals sign of the numeric comparison
    for (const a of ips) {
      for (const b of ips) {
        assert.equal(
          Math.sign(Buffer.compare(ipKey(a), ipKey(b))),
          Math.sign(compareIp(a, b)),
          `${formatIp(a)} vs ${formatIp(b)}`,
        );
      }
    }
    assert.ok(Buffer.compare(ipKey(parseIp('255.255.255.255')), ipKey(parseIp('::'))) < 0);
  });

  it('compareIp orders by family first, then value', () => {
    assert.ok(compareIp(parseIp('255.255.255.255'), parseIp('::')) < 0);
    assert.ok(compareIp(parseIp('::'), parseIp('0.0.0.0')) > 0);
    assert.ok(compareIp(parseIp('10.0.0.2'), parseIp('10.0.0.10')) < 0);
    assert.equal(compareIp(parseIp('2001:db8::1'), parseIp('2001:DB8:0::1')), 0);
  });

  it('ipFromKey rejects corrupt keys', () => {
    const good = ipKey(parseIp('10.0.0.1'));
    assert.throws(() => ipFromKey(good.subarray(0, 16)), /corrupt address key/);
    assert.throws(() => ipFromKey(Buffer.concat([good, Buffer.from([0])])), /corrupt address key/);
    const badFamily = Buffer.from(good);
    badFamily[0] = 5;
    assert.throws(() => ipFromKey(badFamily), /corrupt address key/);
    badFamily[0] = 0;
    assert.throws(() => ipFromKey(badFamily), /corrupt address key/);
    assert.throws(() => ipFromKey(new Uint8Array(0)), /corrupt address key/);
  });

  describe('rejects malformed addresses with IpFormatError', () => {
    const bad: [string, unknown][] = [
      ['empty string', ''],
      ['undefined', undefined],
      ['null', null],
      ['a number', 167772161],
      ['an object', { family: 4, value: 1n }],
      ['shorthand 10.1', '10.1'],
      ['three parts', '1.2.3'],
      ['leading zero 010.0.0.1', '010.0.0.1'],
      ['leading zero in last octet', '1.2.3.04'],
      ['hex octet', '0xa.0.0.1'],
      ['octet above 255', '10.0.0.256'],
      ['five parts', '1.2.3.4.5'],
      ['zone id', 'fe80::1%eth0'],
      ['zone id on mapped address', '::ffff:1.2.3.4%1'],
      ['non-hex IPv6', '::gggg'],
      ['nine IPv6 groups', '1:2:3:4:5:6:7:8:9'],
      ['two ::', '1::2::3'],
      ['leading space', ' 10.0.0.1'],
      ['trailing space', '10.0.0.1 '],
      ['leading space IPv6', ' ::1'],
      ['trailing newline', '10.0.0.1\n'],
      ['a CIDR', '10.0.0.0/24'],
      ['a hostname', 'localhost'],
    ];
    for (const [name, input] of bad) {
      it(name, () => {
        assertIpFormatError(() => parseIp(input));
      });
    }

    it('a 10,000-character string, without echoing it back', () => {
      const huge = '1'.repeat(10_000);
      const err = assertIpFormatError(() => parseIp(huge), /too long/);
      assert.ok(err.message.length < 120, `message should be short, got ${err.message.length} chars`);
      const hugeV6 = `${'0:'.repeat(4_999)}01`;
      assert.equal(hugeV6.length, 10_000);
      assertIpFormatError(() => parseIp(hugeV6), /too long/);
    });
  });
});

// ------------------------------------------------------------------ prefix.ts

describe('parsePrefix', () => {
  it('parses IPv4 and IPv6 prefixes and formats them back', () => {
    assert.deepEqual(parsePrefix('10.0.0.0/8'), { family: 4, network: 0x0a000000n, length: 8 });
    assert.deepEqual(parsePrefix('192.168.1.0/24'), { family: 4, network: 0xc0a80100n, length: 24 });
    assert.deepEqual(parsePrefix('0.0.0.0/0'), { family: 4, network: 0n, length: 0 });
    assert.deepEqual(parsePrefix('10.0.0.7/32'), { family: 4, network: 0x0a000007n, length: 32 });
    assert.deepEqual(parsePrefix('::/0'), { family: 6, network: 0n, length: 0 });
    assert.deepEqual(parsePrefix('2001:db8::/64'), { family: 6, network: 0x20010db8n << 96n, length: 64 });
    assert.deepEqual(parsePrefix('::1/128'), { family: 6, network: 1n, length: 128 });
    for (const text of [
      '10.0.0.0/8',
      '0.0.0.0/0',
      '10.0.0.7/32',
      '::/0',
      '2001:db8::/64',
      '::1/128',
      'fe80::/10',
      '2001:db8::/127',
    ]) {
      assert.equal(formatPrefix(parsePrefix(text)), text);
    }
    assert.equal(formatPrefix(parsePrefix('2001:0DB8:0::/48')), '2001:db8::/48');
  });

  it('rejects host bits set with a hint naming the network', () => {
    const err = assertIpFormatError(() => parsePrefix('10.0.0.1/24'), /host bits/);
    assert.ok(err.hint?.includes('10.0.0.0/24'), `hint was ${String(err.hint)}`);
    assert.ok(!err.hint?.includes('10.0.0.1/24'));
    const v6 = assertIpFormatError(() => parsePrefix('2001:db8::1/64'), /host bits/);
    assert.ok(v6.hint?.includes('2001:db8::/64'), `hint was ${String(v6.hint)}`);
    const wide = assertIpFormatError(() => parsePrefix('10.200.3.4/8'), /host bits/);
    assert.ok(wide.hint?.includes('10.0.0.0/8'), `hint was ${String(wide.hint)}`);
  });

  it('names the allowed length range when the length is out of range', () => {
    assertIpFormatError(() => parsePrefix('10.0.0.0/33'), /0 to 32/);
    assertIpFormatError(() => parsePrefix('::/129'), /0 to 128/);
  });

  it('asks for a length when there is none', () => {
    const err = assertIpFormatError(() => parsePrefix('10.0.0.0'), /no prefix length/);
    assert.ok(err.hint?.includes('/'));
  });

  describe('rejects malformed CIDRs with IpFormatError', () => {
    const bad: [string, unknown][] = [
      ['length 33', '10.0.0.0/33'],
      ['IPv6 length 129', '::/129'],
      ['non-hex IPv6', '::gggg/64'],
      ['empty string', ''],
      ['undefined', undefined],
      ['a number', 24],
      ['null', null],
      ['shorthand without length', '10.1'],
      ['shorthand with length', '10.1/16'],
      ['leading zero without length', '010.0.0.1'],
      ['leading zero with length', '010.0.0.0/8'],
      ['five parts', '1.2.3.4.5'],
      ['five parts with length', '1.2.3.4.5/32'],
      ['zone id', 'fe80::1%eth0'],
      ['zone id with length', 'fe80::%eth0/64'],
      ['length with leading zero', '10.0.0.0/024'],
      ['length 00', '10.0.0.0/00'],
      ['negative length', '10.0.0.0/-1'],
      ['plus sign in length', '10.0.0.0/+24'],
      ['fractional length', '10.0.0.0/24.0'],
      ['exponent length', '10.0.0.0/1e1'],
      ['huge length', '10.0.0.0/9999'],
      ['empty length', '10.0.0.0/'],
      ['empty address', '/24'],
      ['just a slash', '/'],
      ['two slashes', '10.0.0.0/24/24'],
      ['leading space', ' 10.0.0.0/24'],
      ['trailing space', '10.0.0.0/24 '],
      ['space before length', '10.0.0.0/ 24'],
      ['host bits', '10.0.0.1/24'],
    ];
    for (const [name, input] of bad) {
      it(name, () => {
        assertIpFormatError(() => parsePrefix(input));
      });
    }

    it('a 10,000-character string', () => {
      const err = assertIpFormatError(() => parsePrefix(`${'1'.repeat(9_997)}/24`), /too long/);
      assert.ok(err.message.length < 120);
      assertIpFormatError(() => parsePrefix('x'.repeat(10_000)), /too long/);
    });
  });
});

describe('prefix arithmetic', () => {
  const table: {
    cidr: string;
    size: bigint;
    lastOffset: bigint;
    firstOffset: bigint;
    usableLastOffset: bigint;
    count: bigint;
  }[] = [
    // IPv4: network and broadcast excluded, except /31 and /32
    {
      cidr: '0.0.0.0/0',
      size: 1n << 32n,
      lastOffset: V4_MAX,
      firstOffset: 1n,
      usableLastOffset: V4_MAX - 1n,
      count: (1n << 32n) - 2n,
    },
    {
      cidr: '10.0.0.0/8',
      size: 1n << 24n,
      lastOffset: (1n << 24n) - 1n,
      firstOffset: 1n,
      usableLastOffset: (1n << 24n) - 2n,
      count: (1n << 24n) - 2n,
    },
    { cidr: '192.168.1.0/24', size: 256n, lastOffset: 255n, firstOffset: 1n, usableLastOffset: 254n, count: 254n },
    { cidr: '10.0.0.4/30', size: 4n, lastOffset: 3n, firstOffset: 1n, usableLastOffset: 2n, count: 2n },
    { cidr: '10.0.0.2/31', size: 2n, lastOffset: 1n, firstOffset: 0n, usableLastOffset: 1n, count: 2n },
    { cidr: '10.0.0.7/32', size: 1n, lastOffset: 0n, firstOffset: 0n, usableLastOffset: 0n, count: 1n },
    // IPv6: only the subnet-router anycast (first) address excluded, except /127 and /128
    { cidr: '::/0', size: 1n << 128n, lastOffset: V6_MAX, firstOffset: 1n, usableLastOffset: V6_MAX, count: V6_MAX },
    {
      cidr: '2001:db8::/64',
      size: 1n << 64n,
      lastOffset: (1n << 64n) - 1n,
      firstOffset: 1n,
      usableLastOffset: (1n << 64n) - 1n,
      count: (1n << 64n) - 1n,
    },
    { cidr: '2001:db8::/126', size: 4n, lastOffset: 3n, firstOffset: 1n, usableLastOffset: 3n, count: 3n },
    { cidr: '2001:db8::2/127', size: 2n, lastOffset: 1n, firstOffset: 0n, usableLastOffset: 1n, count: 2n },
    { cidr: '2001:db8::1/128', size: 1n, lastOffset: 0n, firstOffset: 0n, usableLastOffset: 0n, count: 1n },
  ];
  for (const row of table) {
    it(`sizeOf / lastOf / usableBounds / usableCount for ${row.cidr}`, () => {
      const p = parsePrefix(row.cidr);
      assert.equal(sizeOf(p), row.size);
      assert.equal(lastOf(p), p.network + row.lastOffset);
      assert.deepEqual(usableBounds(p), { first: p.network + row.firstOffset, last: p.network + row.usableLastOffset });
      assert.equal(usableCount(p), row.count);
    });
  }

  it('netmask', () => {
    assert.equal(netmask(4, 0), 0n);
    assert.equal(netmask(4, 8), 0xff000000n);
    assert.equal(netmask(4, 24), 0xffffff00n);
    assert.equal(netmask(4, 31), 0xfffffffen);
    assert.equal(netmask(4, 32), V4_MAX);
    assert.equal(netmask(6, 0), 0n);
    assert.equal(netmask(6, 64), ((1n << 64n) - 1n) << 64n);
    assert.equal(netmask(6, 128), V6_MAX);
  });

  it('contains', () => {
    const p = parsePrefix('10.0.0.0/24');
    assert.equal(contains(p, parseIp('10.0.0.0')), true);
    assert.equal(contains(p, parseIp('10.0.0.255')), true);
    assert.equal(contains(p, parseIp('10.0.0.77')), true);
    assert.equal(contains(p, parseIp('10.0.1.0')), false);
    assert.equal(contains(p, parseIp('9.255.255.255')), false);
    // same number, other family
    assert.equal(contains(p, { family: 6, value: 0x0a000005n }), false);
    assert.equal(contains(p, parseIp('::ffff:10.0.0.5')), false);
    const all4 = parsePrefix('0.0.0.0/0');
    assert.equal(contains(all4, parseIp('255.255.255.255')), true);
    assert.equal(contains(all4, parseIp('::')), false);
    const all6 = parsePrefix('::/0');
    assert.equal(contains(all6, parseIp('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')), true);
    assert.equal(contains(all6, parseIp('0.0.0.0')), false);
    const host = parsePrefix('2001:db8::1/128');
    assert.equal(contains(host, parseIp('2001:db8::1')), true);
    assert.equal(contains(host, parseIp('2001:db8::2')), false);
    assert.equal(contains(host, parseIp('2001:db8::')), false);
  });

  it('covers: equal, nested, disjoint, cross-family', () => {
    const p = parsePrefix;
    // equal
    assert.equal(covers(p('10.0.0.0/24'), p('10.0.0.0/24')), true);
    assert.equal(covers(p('::/0'), p('::/0')), true);
    // nested
    assert.equal(covers(p('10.0.0.0/8'), p('10.1.0.0/16')), true);
    assert.equal(covers(p('10.1.0.0/16'), p('10.0.0.0/8')), false);
    assert.equal(covers(p('0.0.0.0/0'), p('192.168.1.128/25')), true);
    assert.equal(covers(p('2001:db8::/32'), p('2001:db8:ffff:ffff::/64')), true);
    assert.equal(covers(p('10.0.0.0/24'), p('10.0.0.255/32')), true);
    // same network, longer one never covers the shorter one
    assert.equal(covers(p('10.0.0.0/16'), p('10.0.0.0/8')), false);
    assert.equal(covers(p('10.0.0.0/8'), p('10.0.0.0/16')), true);
    // disjoint / adjacent
    assert.equal(covers(p('10.0.0.0/24'), p('10.0.1.0/24')), false);
    assert.equal(covers(p('10.0.1.0/24'), p('10.0.0.0/24')), false);
    assert.equal(covers(p('10.0.0.0/25'), p('10.0.0.128/25')), false);
    assert.equal(covers(p('10.0.0.0/8'), p('11.0.0.0/16')), false);
    assert.equal(covers(p('2001:db8::/32'), p('2001:db9::/48')), false);
    // cross-family, including numerically identical networks
    assert.equal(covers(p('0.0.0.0/0'), p('::/0')), false);
    assert.equal(covers(p('::/0'), p('0.0.0.0/0')), false);
    assert.equal(covers(p('::/0'), p('10.0.0.0/8')), false);
    assert.equal(covers(p('0.0.0.0/0'), p('::ffff:0:0/96')), false);
    assert.equal(covers(p('0.0.0.0/8'), { family: 6, network: 0n, length: 8 }), false);
  });
});

// ------------------------------------------------------------------ allocation.ts

/** Random maximal runs below `end`: disjoint and never adjacent, as address_runs keeps them. */
function maximalRuns(random: () => number, end: bigint): Interval[] {
  const runs: Interval[] = [];
  for (let at = 0n; at < end;) {
    at += BigInt(2 + Math.floor(random() * 8));
    const last = at + BigInt(Math.floor(random() * 6));
    runs.push(iv(at, last));
    at = last + 2n;
  }
  return runs;
}

describe('addToRuns (many addresses joining the runs index at once)', () => {
  it('gives the maximal runs of the old and new addresses, writing only what changed', () => {
    const random = prng(15);
    for (let round = 0; round < 300; round++) {
      const runs = maximalRuns(random, 120n);
      const used = new Set(
        runs.flatMap((r) => Array.from({ length: Number(r.last - r.first) + 1 }, (_, i) => r.first + BigInt(i))),
      );
      // New addresses: random free ones, as stretches of consecutive values.
      const fresh = [
        ...new Set(Array.from({ length: Math.floor(random() * 20) }, () => BigInt(Math.floor(random() * 130)))),
      ]
        .filter((v) => !used.has(v))
        .sort((a, b) => (a < b ? -1 : 1));
      const added: Interval[] = [];
      for (const v of fresh) {
        const last = added.at(-1);
        if (last && last.last + 1n === v) added[added.length - 1] = iv(last.first, v);
        else added.push(iv(v, v));
      }
      // Applying the change to the runs gives the maximal runs of everything.
      const { remove, write } = addToRuns([...runs].reverse(), [...added].reverse());
      const after = new Map(runs.map((r) => [r.first, r]));
      for (const first of remove) assert.ok(after.delete(first), `round ${round}: removes a run that exists`);
      for (const r of write) after.set(r.first, r);
      const all = [...used, ...fresh].sort((a, b) => (a < b ? -1 : 1));
      const want: Interval[] = [];
      for (const v of all) {
        const last = want.at(-1);
        if (last && last.last + 1n === v) want[want.length - 1] = iv(last.first, v);
        else want.push(iv(v, v));
      }
      assert.deepEqual(
        [...after.values()].sort((a, b) => (a.first < b.first ? -1 : 1)),
        want,
        `round ${round}`,
      );
      // Only runs that gained addresses are written.
      assert.ok(write.length <= added.length, `round ${round}`);
    }
    assert.deepEqual(addToRuns([iv(1n, 3n), iv(5n, 6n)], [iv(4n, 4n)]), { remove: [5n], write: [iv(1n, 6n)] });
    assert.deepEqual(addToRuns([iv(1n, 3n)], [iv(9n, 9n)]), { remove: [], write: [iv(9n, 9n)] });
  });
});

describe('takeFreeAround (fixed blockers first, the runs read asynchronously)', () => {
  it('gives what takeFree gives, and probes the runs only where a fixed blocker moved the candidate', async () => {
    const random = prng(14);
    for (let round = 0; round < 300; round++) {
      const bounds = iv(BigInt(1 + Math.floor(random() * 5)), BigInt(40 + Math.floor(random() * 60)));
      const runs = maximalRuns(random, 110n);
      const fixed: Interval[] = Array.from({ length: Math.floor(random() * 5) }, () => {
        const first = BigInt(Math.floor(random() * 100));
        return iv(first, first + BigInt(Math.floor(random() * 4)));
      });
      const count = 1 + Math.floor(random() * 40);
      const runLookup = sortedIntervalLookup(runs);
      let probes = 0;
      const asyncRuns: StoreBlockLookup = async (at) => {
        probes++;
        return runLookup(at);
      };
      asyncRuns.nextStart = async (at) => runLookup.nextStart!(at);
      const want = takeFree(bounds, [runLookup, sortedIntervalLookup(fixed)], count);
      const got = await takeFreeAround(bounds, [sortedIntervalLookup(fixed)], asyncRuns, count);
      assert.deepEqual(got, want, `round ${round}`);
      assert.ok(probes <= runs.length + fixed.length + 2 + got.length, `round ${round}: ${probes} run probes`);
      // The same with `around` (the run and the next start in one read).
      const aroundRuns: StoreBlockLookup = async (at) => runLookup(at);
      aroundRuns.nextStart = asyncRuns.nextStart;
      aroundRuns.around = async (at) => ({ run: runLookup(at), next: runLookup.nextStart!(at) });
      assert.deepEqual(await takeFreeAround(bounds, [sortedIntervalLookup(fixed)], aroundRuns, count), want);
    }
  });

  it('needs no run probe after jumping a run (runs are maximal)', async () => {
    let probes = 0;
    const run = sortedIntervalLookup([iv(1n, 1000n)]);
    const runs: StoreBlockLookup = async (at) => {
      probes++;
      return run(at);
    };
    runs.nextStart = async (at) => {
      probes++;
      return run.nextStart!(at);
    };
    assert.deepEqual(await takeFreeAround(iv(1n, 2000n), [], runs, 3), [1001n, 1002n, 1003n]);
    assert.equal(probes, 2, 'the run, then where the next starts');
    probes = 0;
    runs.around = async (at) => {
      probes++;
      return { run: run(at), next: run.nextStart!(at) };
    };
    assert.deepEqual(await takeFreeAround(iv(1n, 2000n), [], runs, 3), [1001n, 1002n, 1003n]);
    assert.equal(probes, 1, 'one read with around');
    assert.deepEqual(await takeFreeAround(iv(1n, 5n), [], runs, 0), []);
  });
});

describe('aroundFromKnown (a plan reads the runs around its start once)', () => {
  it('answers exactly what the store would, or defers to it', () => {
    const random = prng(41);
    let answered = 0;
    for (let round = 0; round < 300; round++) {
      const runs = maximalRuns(random, 100n);
      const lookup = sortedIntervalLookup(runs);
      const around = (at: bigint) => ({ run: lookup(at), next: lookup.nextStart!(at) });
      const known = BigInt(Math.floor(random() * 100));
      for (let at = 0n; at < 110n; at++) {
        const got = aroundFromKnown(known, around(known), at);
        if (at < known) assert.equal(got, undefined, `round ${round}: ${at} before ${known}`);
        if (got === undefined) continue;
        answered++;
        assert.deepEqual(got, around(at), `round ${round}: ${at} from ${known}`);
      }
    }
    assert.ok(answered > 1000, `answered without the store ${answered} times`);
  });
});

describe('freeAddresses / takeFree', () => {
  it('with no blockers returns the first addresses of the bounds', () => {
    assert.deepEqual(takeFree(iv(1n, 10n), [], 3), [1n, 2n, 3n]);
    assert.deepEqual(takeFree(iv(5n, 5n), [], 3), [5n]);
    assert.deepEqual([...freeAddresses(iv(7n, 9n), [])], [7n, 8n, 9n]);
  });

  it('skips a run blocker', () => {
    const runs = countingLookup([iv(1n, 5n)]);
    assert.deepEqual(takeFree(iv(1n, 10n), [runs.lookup], 2), [6n, 7n]);
  });

  it('skips a run blocker in the middle and at the end of the bounds', () => {
    const runs = countingLookup([iv(3n, 4n), iv(9n, 10n)]);
    assert.deepEqual(takeFree(iv(1n, 10n), [runs.lookup], 100), [1n, 2n, 5n, 6n, 7n, 8n]);
  });

  it('a blocker reaching past the end of the bounds ends the search', () => {
    const runs = countingLookup([iv(5n, 1_000_000n)]);
    assert.deepEqual(takeFree(iv(1n, 10n), [runs.lookup], 100), [1n, 2n, 3n, 4n]);
    assert.ok(runs.calls() <= 6, `lookup called ${runs.calls()} times`);
  });

  it('a blocker starting before the bounds is honoured', () => {
    const runs = countingLookup([iv(0n, 3n)]);
    assert.deepEqual(takeFree(iv(2n, 6n), [runs.lookup], 10), [4n, 5n, 6n]);
  });

  it('with sortedIntervalLookup: a gateway point and a closed range', () => {
    const fixed = sortedIntervalLookup([iv(10n, 20n), iv(1n, 1n)]); // unsorted on purpose
    assert.deepEqual(takeFree(iv(1n, 30n), [fixed], 12), [2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 21n, 22n, 23n, 24n]);
    assert.deepEqual(takeFree(iv(1n, 20n), [fixed], 12), [2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
  });

  it('with several blockers whose intervals interleave', () => {
    // runs: 2-3, 7 ; fixed: 4-6, 8  → 2..8 is one contiguous obstacle made of four pieces
    const runs = countingLookup([iv(2n, 3n), iv(7n, 7n)]);
    const fixed = counted(sortedIntervalLookup([iv(4n, 6n), iv(8n, 8n), iv(11n, 11n)]));
    assert.deepEqual(takeFree(iv(1n, 12n), [runs.lookup, fixed.lookup], 10), [1n, 9n, 10n, 12n]);
    // order of blockers must not matter for the result
    assert.deepEqual(takeFree(iv(1n, 12n), [fixed.lookup, runs.lookup], 10), [1n, 9n, 10n, 12n]);
  });

  it('returns fewer addresses when fewer are free', () => {
    const fixed = sortedIntervalLookup([iv(2n, 3n)]);
    assert.deepEqual(takeFree(iv(1n, 5n), [fixed], 10), [1n, 4n, 5n]);
    const all = sortedIntervalLookup([iv(1n, 5n)]);
    assert.deepEqual(takeFree(iv(1n, 5n), [all], 1), []);
  });

  it('count 0 (or negative) returns nothing without looking anything up', () => {
    const runs = countingLookup([]);
    assert.deepEqual(takeFree(iv(1n, 10n), [runs.lookup], 0), []);
    assert.deepEqual(takeFree(iv(1n, 10n), [runs.lookup], -3), []);
    assert.equal(runs.calls(), 0);
  });

  it('bounds with first > last yield nothing', () => {
    const runs = countingLookup([]);
    assert.deepEqual(takeFree(iv(10n, 9n), [runs.lookup], 5), []);
    assert.deepEqual(takeFree(iv(1n, 0n), [], 5), []);
    assert.deepEqual([...freeAddresses(iv(10n, 1n), [runs.lookup])], []);
    assert.equal(runs.calls(), 0);
  });

  it('freeAddresses is lazy', () => {
    const runs = countingLookup([]);
    const gen = freeAddresses(iv(1n, V6_MAX), [runs.lookup]);
    assert.equal(gen.next().value, 1n);
    assert.equal(gen.next().value, 2n);
    assert.equal(runs.calls(), 2);
  });

  it('does not enumerate an IPv4 /8 blocked almost entirely', () => {
    const p = parsePrefix('10.0.0.0/8');
    const bounds = usableBounds(p);
    // one run covering the first 2^24 - 2 addresses of the prefix (network .. last usable - 1)
    const runs = countingLookup([iv(p.network, p.network + (1n << 24n) - 3n)]);
    const got = takeFree(bounds, [runs.lookup], 5);
    assert.deepEqual(
      got.map((v) => formatIp({ family: 4, value: v })),
      ['10.255.255.254'],
    );
    assert.equal(got[0], bounds.last);
    assert.ok(runs.calls() < 10, `lookup called ${runs.calls()} times`);
  });

  it('does not enumerate an IPv4 /8 that is completely blocked', () => {
    const p = parsePrefix('10.0.0.0/8');
    const bounds = usableBounds(p);
    const runs = countingLookup([iv(bounds.first, bounds.last)]);
    assert.deepEqual(takeFree(bounds, [runs.lookup], 1), []);
    assert.ok(runs.calls() < 10, `lookup called ${runs.calls()} times`);
  });

  it('does not enumerate an IPv6 /64 whose first 2^60 usable addresses are blocked', () => {
    const p = parsePrefix('2001:db8::/64');
    const bounds = usableBounds(p);
    const runs = countingLookup([iv(bounds.first, bounds.first + (1n << 60n) - 1n)]);
    const fixed = counted(sortedIntervalLookup([iv(bounds.first + (1n << 60n) + 1n, bounds.first + (1n << 62n))]));
    const got = takeFree(bounds, [runs.lookup, fixed.lookup], 3);
    assert.deepEqual(got, [
      bounds.first + (1n << 60n),
      bounds.first + (1n << 62n) + 1n,
      bounds.first + (1n << 62n) + 2n,
    ]);
    assert.equal(formatIp({ family: 6, value: got[0]! }), '2001:db8::1000:0:0:1');
    assert.ok(runs.calls() < 10, `run lookup called ${runs.calls()} times`);
    assert.ok(fixed.calls() < 10, `fixed lookup called ${fixed.calls()} times`);
  });

  it('cost grows with the number of obstacles, not the size of the space between free addresses', () => {
    // 100 blocked intervals of 2^40 - 1 addresses each in a /64, one free address after each
    const p = parsePrefix('2001:db8::/64');
    const bounds = usableBounds(p);
    const step = 1n << 40n;
    const blocks: Interval[] = [];
    for (let i = 0n; i < 100n; i++) blocks.push(iv(bounds.first + i * step, bounds.first + i * step + step - 2n));
    const fixed = counted(sortedIntervalLookup(shuffled(blocks, prng(3))));
    const got = takeFree(bounds, [fixed.lookup], 100);
    assert.equal(got.length, 100);
    got.forEach((v, i) => assert.equal(v, bounds.first + BigInt(i + 1) * step - 1n));
    assert.ok(fixed.calls() <= 201, `lookup called ${fixed.calls()} times`);
  });
});

describe('sortedIntervalLookup and interval helpers', () => {
  it('finds the interval containing a point, regardless of input order', () => {
    const a = iv(10n, 20n);
    const b = iv(1n, 1n);
    const c = iv(30n, 30n);
    const lookup = sortedIntervalLookup([c, a, b]);
    assert.equal(lookup(0n), undefined);
    assert.deepEqual(lookup(1n), b);
    assert.equal(lookup(2n), undefined);
    assert.equal(lookup(9n), undefined);
    assert.deepEqual(lookup(10n), a);
    assert.deepEqual(lookup(15n), a);
    assert.deepEqual(lookup(20n), a);
    assert.equal(lookup(21n), undefined);
    assert.deepEqual(lookup(30n), c);
    assert.equal(lookup(31n), undefined);
    assert.equal(lookup(V6_MAX), undefined);
  });

  it('an empty list blocks nothing', () => {
    assert.equal(sortedIntervalLookup([])(5n), undefined);
  });

  it('does not mutate its input', () => {
    const input = [iv(5n, 6n), iv(1n, 2n)];
    sortedIntervalLookup(input);
    assert.deepEqual(input, [iv(5n, 6n), iv(1n, 2n)]);
  });

  it('mergeIntervals / intervalSize / clip', () => {
    assert.deepEqual(mergeIntervals([iv(5n, 9n), iv(1n, 5n)]), [iv(1n, 9n)]);
    assert.deepEqual(mergeIntervals([iv(1n, 10n), iv(3n, 4n)]), [iv(1n, 10n)]);
    assert.deepEqual(mergeIntervals([iv(6n, 9n), iv(1n, 4n)]), [iv(1n, 4n), iv(6n, 9n)]);
    assert.deepEqual(mergeIntervals([iv(5n, 9n), iv(1n, 4n)]), [iv(1n, 9n)], 'adjacent intervals join');
    assert.equal(intervalSize(iv(7n, 7n)), 1n);
    assert.equal(intervalSize(iv(0n, V6_MAX)), 1n << 128n);
    assert.deepEqual(clip(iv(1n, 100n), iv(10n, 20n)), iv(10n, 20n));
    assert.deepEqual(clip(iv(15n, 100n), iv(10n, 20n)), iv(15n, 20n));
    assert.deepEqual(clip(iv(1n, 12n), iv(10n, 20n)), iv(10n, 12n));
    assert.deepEqual(clip(iv(12n, 13n), iv(10n, 20n)), iv(12n, 13n));
    assert.equal(clip(iv(21n, 30n), iv(10n, 20n)), undefined);
    assert.equal(clip(iv(1n, 9n), iv(10n, 20n)), undefined);
    assert.deepEqual(clip(iv(20n, 30n), iv(10n, 20n)), iv(20n, 20n));
  });
});

// ------------------------------------------------------------------ layout.ts

describe('layoutRows', () => {
  const subnet = parsePrefix('10.0.0.0/24');
  const base = subnet.network;
  const bounds = usableBounds(subnet); // .1 – .254
  const at = (n: number) => ({ value: base + BigInt(n), item: `host-${n}` });

  it('an empty subnet is one gap of the whole usable range', () => {
    const rows = layoutRows(bounds, [], []);
    assert.deepEqual(rows, [{ kind: 'gap', first: base + 1n, last: base + 254n, size: 254n, rangeId: null }]);
  });

  it('used addresses at the start, middle and end', () => {
    const rows = layoutRows(bounds, [at(1), at(100), at(254)], []);
    assert.deepEqual(sketch(rows, base), ['@1', 'gap 2-99 (98)', '@100', 'gap 101-253 (153)', '@254']);
    const first = rows[0];
    assert.ok(first && first.kind === 'address');
    assert.equal(first.item, 'host-1');
  });

  it('adjacent used addresses produce no empty gap between them', () => {
    const rows = layoutRows(bounds, [at(10), at(11), at(12)], []);
    assert.deepEqual(sketch(rows, base), ['gap 1-9 (9)', '@10', '@11', '@12', 'gap 13-254 (242)']);
    for (const g of gapsOf(rows)) assert.ok(g.size > 0n && g.first <= g.last);
  });

  it('a fully used /30 has no gap rows at all', () => {
    const p = parsePrefix('10.0.0.4/30');
    const rows = layoutRows(
      usableBounds(p),
      [
        { value: p.network + 1n, item: 1 },
        { value: p.network + 2n, item: 2 },
      ],
      [],
    );
    assert.deepEqual(
      rows.map((r) => r.kind),
      ['address', 'address'],
    );
  });

  it('splits gaps at range boundaries and tags them with the range id', () => {
    const ranges: LabelledRange[] = [
      { id: 8, first: base + 200n, last: base + 300n }, // runs past the broadcast: clipped to the usable range
      { id: 7, first: base + 50n, last: base + 99n },
    ];
    const empty = layoutRows(bounds, [], ranges);
    assert.deepEqual(sketch(empty, base), [
      'gap 1-49 (49)',
      'gap 50-99 (50) r7',
      'gap 100-199 (100)',
      'gap 200-254 (55) r8',
    ]);

    const withUse = layoutRows(bounds, [at(60), at(200)], ranges);
    assert.deepEqual(sketch(withUse, base), [
      'gap 1-49 (49)',
      'gap 50-59 (10) r7',
      '@60',
      'gap 61-99 (39) r7',
      'gap 100-199 (100)',
      '@200',
      'gap 201-254 (54) r8',
    ]);
  });

  it('adjacent ranges, and a range starting before the usable bounds', () => {
    const ranges: LabelledRange[] = [
      { id: 2, first: base + 20n, last: base + 29n },
      { id: 1, first: base + 10n, last: base + 19n },
      { id: 3, first: base, last: base + 4n }, // starts at the network address
    ];
    const rows = layoutRows(bounds, [], ranges);
    assert.deepEqual(sketch(rows, base), [
      'gap 1-4 (4) r3',
      'gap 5-9 (5)',
      'gap 10-19 (10) r1',
      'gap 20-29 (10) r2',
      'gap 30-254 (225)',
    ]);
  });

  it('a range completely filled by used addresses produces no gap for it', () => {
    const rows = layoutRows(bounds, [at(5), at(6)], [{ id: 9, first: base + 5n, last: base + 6n }]);
    assert.deepEqual(sketch(rows, base), ['gap 1-4 (4)', '@5', '@6', 'gap 7-254 (248)']);
  });

  it('IPv6 /64 with two addresses gives exact bigint gap sizes', () => {
    const p = parsePrefix('2001:db8::/64');
    const b = usableBounds(p);
    const rows = layoutRows(
      b,
      [
        { value: p.network + 2n, item: 'a' },
        { value: p.network + 3n, item: 'b' },
      ],
      [],
    );
    assert.equal(rows.length, 4);
    const gaps = gapsOf(rows);
    assert.equal(gaps.length, 2);
    assert.deepEqual(gaps[0], { kind: 'gap', first: p.network + 1n, last: p.network + 1n, size: 1n, rangeId: null });
    assert.deepEqual(gaps[1], {
      kind: 'gap',
      first: p.network + 4n,
      last: p.network + (1n << 64n) - 1n,
      size: (1n << 64n) - 4n,
      rangeId: null,
    });
    assert.equal(gaps[1]!.size, 18446744073709551612n);
    assert.ok(gaps[1]!.size > BigInt(Number.MAX_SAFE_INTEGER));
  });

  it('IPv6 /64 with a range in the middle', () => {
    const p = parsePrefix('2001:db8::/64');
    const b = usableBounds(p);
    const r: LabelledRange = { id: 4, first: p.network + (1n << 32n), last: p.network + (1n << 33n) - 1n };
    const rows = layoutRows(b, [], [r]);
    assert.deepEqual(
      gapsOf(rows).map((g) => [g.size, g.rangeId]),
      [
        [(1n << 32n) - 1n, null],
        [1n << 32n, 4],
        [(1n << 64n) - (1n << 33n), null],
      ],
    );
  });

  it('a used value outside the usable bounds (network, broadcast) does not make a negative gap', () => {
    const rows = layoutRows(bounds, [at(0), at(255)], []);
    assert.deepEqual(sketch(rows, base), ['@0', 'gap 1-254 (254)', '@255']);
    for (const g of gapsOf(rows)) assert.ok(g.size > 0n, `gap size ${g.size}`);

    const onlyNetwork = layoutRows(bounds, [at(0)], []);
    assert.deepEqual(sketch(onlyNetwork, base), ['@0', 'gap 1-254 (254)']);

    const onlyBroadcast = layoutRows(bounds, [at(254), at(255)], []);
    assert.deepEqual(sketch(onlyBroadcast, base), ['gap 1-253 (253)', '@254', '@255']);

    // values far outside on both sides
    const far = layoutRows(
      bounds,
      [
        { value: 0n, item: 'x' },
        { value: base + 1000n, item: 'y' },
        { value: base + 2000n, item: 'z' },
      ],
      [],
    );
    assert.deepEqual(sketch(far, base), [`@${-base}`, 'gap 1-254 (254)', '@1000', '@2000']);
    for (const g of gapsOf(far)) assert.ok(g.size > 0n);
  });

  it('property: gaps and used addresses tile the usable range exactly (random inputs)', () => {
    const random = prng(42);
    for (let round = 0; round < 200; round++) {
      const values = new Set<number>();
      const n = Math.floor(random() * 20);
      for (let i = 0; i < n; i++) values.add(Math.floor(random() * 256));
      const used = [...values].sort((a, b) => a - b).map(at);
      const ranges: LabelledRange[] = [];
      let start = Math.floor(random() * 40);
      for (let id = 1; id <= 4 && start < 256; id++) {
        const end = start + Math.floor(random() * 60);
        ranges.push({ id, first: base + BigInt(start), last: base + BigInt(end) });
        start = end + 1 + Math.floor(random() * 20);
      }
      const rows = layoutRows(bounds, used, shuffled(ranges, random));
      // every used address appears once, in order
      assert.deepEqual(
        rows.filter((r) => r.kind === 'address').map((r) => (r.kind === 'address' ? r.value : -1n)),
        used.map((u) => u.value),
      );
      // gaps: positive, ascending, inside bounds, not touching a used address, within at most one range
      let covered = 0n;
      let prevLast = -1n;
      for (const g of gapsOf(rows)) {
        assert.ok(g.size > 0n);
        assert.equal(g.size, g.last - g.first + 1n);
        assert.ok(g.first >= bounds.first && g.last <= bounds.last);
        assert.ok(g.first > prevLast);
        prevLast = g.last;
        for (const u of used) assert.ok(u.value < g.first || u.value > g.last);
        const owner = ranges.find((r) => r.first <= g.first && g.first <= r.last);
        if (owner) {
          assert.equal(g.rangeId, owner.id);
          assert.ok(g.last <= owner.last);
        } else {
          assert.equal(g.rangeId, null);
          for (const r of ranges)
            assert.ok(r.first > g.last || r.last < g.first, 'an unlabelled gap must not overlap a range');
        }
        covered += g.size;
      }
      const usedInside = used.filter((u) => u.value >= bounds.first && u.value <= bounds.last).length;
      assert.equal(covered + BigInt(usedInside), usableCount(subnet), `round ${round}`);
    }
  });
});

// ------------------------------------------------------------------ hierarchy.ts

describe('buildTree', () => {
  const subnets = [
    { id: 1, cidr: '10.0.0.0/8' },
    { id: 2, cidr: '10.1.0.0/16' },
    { id: 3, cidr: '10.1.2.0/24' },
    { id: 4, cidr: '10.1.3.0/24' },
    { id: 5, cidr: '10.2.0.0/16' },
    { id: 6, cidr: '192.168.0.0/16' },
    { id: 7, cidr: '2001:db8::/32' },
    { id: 8, cidr: '2001:db8:1::/48' },
    { id: 9, cidr: '10.1.2.128/25' },
    { id: 10, cidr: '2001:db8:2::/48' },
    { id: 11, cidr: '2001:db9::/48' },
  ].map((s) => ({ id: s.id, vrf: 1, prefix: parsePrefix(s.cidr) }));

  const expected: [number, TreeNode][] = [
    [1, { parentId: null, depth: 0, childCount: 2 }],
    [2, { parentId: 1, depth: 1, childCount: 2 }],
    [3, { parentId: 2, depth: 2, childCount: 1 }],
    [4, { parentId: 2, depth: 2, childCount: 0 }],
    [5, { parentId: 1, depth: 1, childCount: 0 }],
    [6, { parentId: null, depth: 0, childCount: 0 }],
    [7, { parentId: null, depth: 0, childCount: 2 }],
    [8, { parentId: 7, depth: 1, childCount: 0 }],
    [9, { parentId: 3, depth: 3, childCount: 0 }],
    [10, { parentId: 7, depth: 1, childCount: 0 }],
    [11, { parentId: null, depth: 0, childCount: 0 }],
  ];

  const asSorted = (m: Map<number, TreeNode>) => [...m.entries()].sort((a, b) => a[0] - b[0]);

  it('nested subnets get parentId, depth and childCount; siblings share a parent', () => {
    const tree = buildTree(subnets);
    assert.equal(tree.size, subnets.length);
    assert.deepEqual(asSorted(tree), expected);
  });

  it('gives the same answer for any input order', () => {
    const random = prng(1234);
    for (let i = 0; i < 50; i++) {
      assert.deepEqual(asSorted(buildTree(shuffled(subnets, random))), expected, `permutation ${i}`);
    }
    assert.deepEqual(asSorted(buildTree([...subnets].reverse())), expected);
  });

  it('identical networks with different lengths nest by length', () => {
    const tree = buildTree([
      { id: 3, vrf: 1, prefix: parsePrefix('10.0.0.0/24') },
      { id: 1, vrf: 1, prefix: parsePrefix('10.0.0.0/8') },
      { id: 2, vrf: 1, prefix: parsePrefix('10.0.0.0/16') },
      { id: 4, vrf: 1, prefix: parsePrefix('10.0.1.0/24') },
    ]);
    assert.deepEqual(asSorted(tree), [
      [1, { parentId: null, depth: 0, childCount: 1 }],
      [2, { parentId: 1, depth: 1, childCount: 2 }],
      [3, { parentId: 2, depth: 2, childCount: 0 }],
      [4, { parentId: 2, depth: 2, childCount: 0 }],
    ]);
  });

  it('a sibling after a deep subtree attaches to the right ancestor', () => {
    const tree = buildTree([
      { id: 1, vrf: 1, prefix: parsePrefix('10.0.0.0/8') },
      { id: 2, vrf: 1, prefix: parsePrefix('10.0.0.0/16') },
      { id: 3, vrf: 1, prefix: parsePrefix('10.0.0.0/24') },
      { id: 4, vrf: 1, prefix: parsePrefix('10.0.0.0/30') },
      { id: 5, vrf: 1, prefix: parsePrefix('10.1.0.0/24') },
      { id: 6, vrf: 1, prefix: parsePrefix('11.0.0.0/8') },
    ]);
    assert.deepEqual(tree.get(5), { parentId: 1, depth: 1, childCount: 0 });
    assert.deepEqual(tree.get(6), { parentId: null, depth: 0, childCount: 0 });
    assert.deepEqual(tree.get(1), { parentId: null, depth: 0, childCount: 2 });
    assert.deepEqual(tree.get(4), { parentId: 3, depth: 3, childCount: 0 });
  });

  it('never links across families, even for numerically identical networks', () => {
    const tree = buildTree([
      { id: 1, vrf: 1, prefix: parsePrefix('0.0.0.0/0') },
      { id: 2, vrf: 1, prefix: parsePrefix('::/0') },
      { id: 3, vrf: 1, prefix: parsePrefix('::ffff:0:0/96') },
      { id: 4, vrf: 1, prefix: parsePrefix('10.0.0.0/8') },
      { id: 5, vrf: 1, prefix: parsePrefix('::/8') },
      { id: 6, vrf: 1, prefix: parsePrefix('0.0.0.0/8') },
    ]);
    assert.deepEqual(asSorted(tree), [
      [1, { parentId: null, depth: 0, childCount: 2 }],
      [2, { parentId: null, depth: 0, childCount: 1 }],
      [3, { parentId: 5, depth: 2, childCount: 0 }],
      [4, { parentId: 1, depth: 1, childCount: 0 }],
      [5, { parentId: 2, depth: 1, childCount: 1 }],
      [6, { parentId: 1, depth: 1, childCount: 0 }],
    ]);
  });

  it('an empty list gives an empty map', () => {
    assert.equal(buildTree([]).size, 0);
  });
});

// ------------------------------------------------------------------ utilization.ts

describe('utilization', () => {
  it('ratio and free for plain address counts', () => {
    assert.deepEqual(utilization(254n, 0n), { size: 254n, used: 0n, free: 254n, ratio: 0 });
    assert.deepEqual(utilization(254n, 127n), { size: 254n, used: 127n, free: 127n, ratio: 0.5 });
    assert.deepEqual(utilization(4n, 4n), { size: 4n, used: 4n, free: 0n, ratio: 1 });
    const third = utilization(3n, 1n);
    assert.ok(Math.abs(third.ratio - 1 / 3) < 1e-9, `ratio ${third.ratio}`);
  });

  it('counts a utilized range without double-counting the addresses inside it', () => {
    // 10 known addresses, 3 of them inside a 50-address range marked fully used
    const u = utilization(254n, 10n, [{ size: 50n, addressCount: 3n }]);
    assert.equal(u.used, 57n);
    assert.equal(u.free, 197n);
    assert.ok(Math.abs(u.ratio - 57 / 254) < 1e-9, `ratio ${u.ratio}`);
  });

  it('adds several utilized ranges', () => {
    const u = utilization(254n, 5n, [
      { size: 10n, addressCount: 2n },
      { size: 20n, addressCount: 0n },
      { size: 3n, addressCount: 3n },
    ]);
    assert.equal(u.used, 5n + 8n + 20n + 0n);
    assert.equal(u.free, 254n - 33n);
  });

  it('clamps used to the usable size', () => {
    const u = utilization(10n, 4n, [{ size: 20n, addressCount: 0n }]);
    assert.deepEqual(u, { size: 10n, used: 10n, free: 0n, ratio: 1 });
    const over = utilization(2n, 5n);
    assert.deepEqual(over, { size: 2n, used: 2n, free: 0n, ratio: 1 });
  });

  it('an empty usable range has ratio 0, not NaN', () => {
    assert.deepEqual(utilization(0n, 0n), { size: 0n, used: 0n, free: 0n, ratio: 0 });
    const u = utilization(0n, 3n);
    assert.equal(u.ratio, 0);
    assert.equal(u.free, 0n);
    assert.ok(!Number.isNaN(u.ratio));
  });

  it('keeps precision with /64 sizes (bigints above 2^53)', () => {
    const size = usableCount(parsePrefix('2001:db8::/64')); // 2^64 - 1
    assert.equal(size, (1n << 64n) - 1n);
    // almost full: Number(size - 1n) / Number(size) would round to exactly 1
    const nearlyFull = utilization(size, size - 1n);
    assert.equal(nearlyFull.used, size - 1n);
    assert.equal(nearlyFull.free, 1n);
    assert.ok(nearlyFull.ratio < 1, `ratio ${nearlyFull.ratio} must stay below 1 while an address is free`);
    assert.ok(nearlyFull.ratio > 0.999999);

    const half = utilization(1n << 64n, 1n << 63n);
    assert.equal(half.ratio, 0.5);
    const threeQuarters = utilization(1n << 64n, 3n << 62n);
    assert.equal(threeQuarters.ratio, 0.75);
    assert.equal(threeQuarters.free, 1n << 62n);

    // a range of 2^63 addresses marked used inside a /64, with 2^53 + 1 addresses known in it
    const big = utilization(size, (1n << 53n) + 1n, [{ size: 1n << 63n, addressCount: (1n << 53n) + 1n }]);
    assert.equal(big.used, 1n << 63n);
    assert.equal(big.free, size - (1n << 63n));
    assert.ok(Math.abs(big.ratio - 0.5) < 1e-9);

    // one address in a /64 or a ::/0: tiny but finite and not negative
    const tiny = utilization(size, 1n);
    assert.ok(tiny.ratio >= 0 && tiny.ratio < 1e-9);
    const whole = utilization(V6_MAX, V6_MAX - 1n);
    assert.ok(whole.ratio < 1 && whole.ratio > 0.999999);
    assert.equal(whole.free, 1n);
  });
});

// ------------------------------------------------------------------ fields.ts

describe('normalizeMac', () => {
  for (const text of [
    'AA:BB:CC:DD:EE:FF',
    'aa-bb-cc-dd-ee-ff',
    'aabb.ccdd.eeff',
    'aabbccddeeff',
    'AABBCCDDEEFF',
    'aA:Bb:cC:dD:eE:Ff',
    'AABB.CCDD.EEFF',
  ]) {
    it(`normalizes ${text}`, () => {
      assert.equal(normalizeMac(text), 'aa:bb:cc:dd:ee:ff');
    });
  }

  it('keeps the digits in order', () => {
    assert.equal(normalizeMac('01-23-45-67-89-AB'), '01:23:45:67:89:ab');
    assert.equal(normalizeMac('0123.4567.89ab'), '01:23:45:67:89:ab');
  });

  const bad = [
    'aa:bb-cc:dd:ee:ff', // mixed separators
    'aa-bb:cc-dd:ee-ff',
    'aa:bb:cc:dd:ee', // too short
    'aabbccddeef',
    'aabb.ccdd.eef',
    'aa:bb:cc:dd:ee:ff:00', // too long
    'aabbccddeeff00',
    'gg:hh:ii:jj:kk:ll', // non-hex
    'aa:bb:cc:dd:ee:fg',
    'aabbccddeefz',
    'aa.bb.cc.dd.ee.ff', // dots need groups of four
    'aabb-ccdd-eeff',
    'aa:bb:cc:dd:ee:ff:',
    ' aa:bb:cc:dd:ee:ff',
    'aa:bb:cc:dd:ee:ff\n',
    'a:b:c:d:e:f',
    '',
  ];
  for (const text of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(normalizeMac(text), null);
    });
  }
});

describe('HOSTNAME_RE', () => {
  const label63 = 'a'.repeat(63);
  const good = [
    'host',
    'a.b.example',
    'xn--bcher-kva.example',
    'host-1',
    'h',
    '1host',
    '123',
    'Mixed.Case.Example',
    'fqdn.example.',
    label63,
    `${label63}.example`,
    `${label63}.${label63}.${label63}.${'a'.repeat(61)}`, // exactly 253 characters
  ];
  for (const text of good) {
    it(`accepts ${text.length > 30 ? `${text.slice(0, 20)}… (${text.length} chars)` : text}`, () => {
      assert.ok(HOSTNAME_RE.test(text));
    });
  }
  const bad = [
    '-bad',
    'bad-',
    'a..b',
    '.host',
    'a.-b.example',
    'a.b-.example',
    'a'.repeat(64),
    `${'a'.repeat(64)}.example`,
    `x.${'a'.repeat(64)}`,
    'foo;rm -rf /',
    '$(id)',
    '`id`',
    'host name',
    'under_score',
    'host\n',
    '\nhost',
    '',
    '.',
    'a/b',
    `${label63}.${label63}.${label63}.${'a'.repeat(62)}`, // 254 characters
  ];
  for (const text of bad) {
    it(`rejects ${JSON.stringify(text.length > 30 ? `${text.slice(0, 20)}… (${text.length} chars)` : text)}`, () => {
      assert.ok(!HOSTNAME_RE.test(text));
    });
  }
});

describe('TAG_RE and COLOR_RE', () => {
  const good = [
    'lab',
    'rack 2',
    'env:prod',
    'a',
    '2fa',
    'path/to/x',
    'under_score',
    'v1.2-beta',
    'münchen',
    'a'.repeat(64),
  ];
  for (const text of good) {
    it(`TAG_RE accepts ${JSON.stringify(text)}`, () => {
      assert.ok(TAG_RE.test(text));
    });
  }
  const bad = [';drop', '', 'a'.repeat(65), ' lead', '-x', ':x', 'a;b', 'a\nb', 'tag$', 'a,b', '<script>', 'x\t'];
  for (const text of bad) {
    it(`TAG_RE rejects ${JSON.stringify(text.length > 30 ? `${text.slice(0, 10)}… (${text.length} chars)` : text)}`, () => {
      assert.ok(!TAG_RE.test(text));
    });
  }

  it('COLOR_RE', () => {
    assert.ok(COLOR_RE.test('#00ff00'));
    assert.ok(COLOR_RE.test('#ABCDEF'));
    assert.ok(!COLOR_RE.test('00ff00'));
    assert.ok(!COLOR_RE.test('#0f0'));
    assert.ok(!COLOR_RE.test('#00ff0g'));
    assert.ok(!COLOR_RE.test('#00ff000'));
  });
});

describe('regressions from review', () => {
  it('formats IPv4-mapped IPv6 addresses with a dotted quad', () => {
    assert.equal(formatIp(parseIp('::ffff:10.0.0.1')), '::ffff:10.0.0.1');
    assert.equal(formatIp(parseIp('::ffff:a00:1')), '::ffff:10.0.0.1');
  });

  it('merges overlapping intervals before searching them', () => {
    const lookup = sortedIntervalLookup([
      { first: 0n, last: 100n },
      { first: 5n, last: 10n },
    ]);
    assert.deepEqual(lookup(50n), { first: 0n, last: 100n });
    assert.deepEqual(
      takeFree(
        { first: 1n, last: 5n },
        [
          sortedIntervalLookup([
            { first: 1n, last: 3n },
            { first: 1n, last: 1n },
          ]),
        ],
        2,
      ),
      [4n, 5n],
    );
  });

  it('stops at a fractional count instead of running to the end of the bounds', () => {
    assert.equal(takeFree({ first: 1n, last: 20n }, [], 1.5).length, 2);
    assert.deepEqual(takeFree({ first: 1n, last: 20n }, [], Number.NaN), []);
  });
});
