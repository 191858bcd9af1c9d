// Reverse DNS: PTR lookups against a loopback test server only (never a real resolver), the
// positive/negative cache, sharing and limiting of queries, failures, and untrusted names.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { ReverseDns, type ReverseDnsOptions, normalizeHostName, reverseLookupName } from '../src/discovery/rdns.js';
import { type DnsServerOptions, type PtrRecords, type TestDnsServer, startDnsServer } from './helpers/dns-server.js';

async function server(t: TestContext, records: PtrRecords, opts?: DnsServerOptions): Promise<TestDnsServer> {
  const s = await startDnsServer(records, opts);
  t.after(() => s.close());
  return s;
}

/** A ReverseDns that only ever talks to the given loopback test server. */
function resolverFor(s: TestDnsServer, opts: Omit<ReverseDnsOptions, 'servers'> = {}): ReverseDns {
  assert.match(s.address, /^127\.0\.0\.1:\d+$/);
  return new ReverseDns({ timeoutMs: 1000, ...opts, servers: [s.address] });
}

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

describe('ReverseDns lookups', () => {
  it('finds the PTR name of an IPv4 address, lower-cased without the trailing dot', async (t) => {
    const s = await server(t, { '192.0.2.10': 'Host-Ten.Example.COM.' });
    const r = resolverFor(s);
    assert.equal(r.healthy, null);
    assert.equal(await r.lookup('192.0.2.10'), 'host-ten.example.com');
    assert.equal(r.healthy, true);
    assert.equal(r.queries, 1);
    assert.deepEqual(s.questions, ['10.2.0.192.in-addr.arpa']);
  });

  it('finds the PTR name of an IPv6 address; other spellings share the cache entry', async (t) => {
    const s = await server(t, { '2001:db8::1:2': 'v6-host.example.net' });
    const r = resolverFor(s);
    assert.equal(await r.lookup('2001:db8::1:2'), 'v6-host.example.net');
    assert.deepEqual(s.questions, ['2.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa']);
    assert.equal(await r.lookup('2001:DB8:0:0:0:0:1:2'), 'v6-host.example.net');
    assert.equal(s.queries, 1);
    assert.equal(r.queries, 1);
  });

  it('returns null when there is no record (NXDOMAIN) or no PTR data (NODATA), and stays healthy', async (t) => {
    const s = await server(t, { '192.0.2.20': [] });
    const r = resolverFor(s);
    assert.equal(await r.lookup('192.0.2.99'), null);
    assert.equal(r.healthy, true);
    assert.equal(await r.lookup('192.0.2.20'), null);
    assert.equal(r.healthy, true);
    assert.equal(s.queries, 2);
  });

  it('uses the first valid name of several', async (t) => {
    const s = await server(t, { '192.0.2.30': ['bad name', 'First.Example', 'second.example'] });
    const r = resolverFor(s);
    assert.equal(await r.lookup('192.0.2.30'), 'first.example');
  });

  it('treats PTR names with odd characters as no name', async (t) => {
    const s = await server(t, {
      '192.0.2.41': 'bad name;rm -rf',
      '192.0.2.42': 'a\u0000b',
      '192.0.2.43': 'evil;rm -rf /',
      '192.0.2.44': 'line\nbreak.example',
      '192.0.2.45': 'under_score.example',
      '192.0.2.46': '$(id).example',
      '192.0.2.47': ['bad name;rm -rf', 'a\u0000b'],
    });
    const r = resolverFor(s);
    for (let i = 41; i <= 47; i++) {
      assert.equal(await r.lookup(`192.0.2.${i}`), null, `192.0.2.${i}`);
    }
    assert.equal(s.queries, 7, 'every lookup reached the server');
    assert.equal(r.healthy, true, 'the server did answer');
  });

  it('rejects with TypeError for arguments that are not IP literals, without querying', async (t) => {
    const s = await server(t, {});
    const r = resolverFor(s);
    for (const bad of [
      'not-an-ip',
      '10.0.0.1; id',
      '',
      ' 10.0.0.1',
      '010.0.0.1',
      '10.1',
      '1.2.3.4.in-addr.arpa',
      '::1%',
    ]) {
      await assert.rejects(() => r.lookup(bad), TypeError, JSON.stringify(bad));
    }
    await assert.rejects(() => r.lookup(42 as unknown as string), TypeError);
    assert.equal(r.queries, 0);
    assert.equal(s.queries, 0);
  });
});

describe('ReverseDns cache', () => {
  it('answers a repeated lookup from the cache without a query', async (t) => {
    const s = await server(t, { '192.0.2.50': 'cached.example' });
    const r = resolverFor(s);
    assert.equal(await r.lookup('192.0.2.50'), 'cached.example');
    assert.equal(s.queries, 1);
    assert.equal(r.queries, 1);
    s.setRecords({ '192.0.2.50': 'changed.example' });
    assert.equal(await r.lookup('192.0.2.50'), 'cached.example');
    assert.equal(s.queries, 1);
    assert.equal(r.queries, 1);
  });

  it('expires a found name after ttlSeconds on the injected clock', async (t) => {
    const s = await server(t, { '192.0.2.51': 'old.example' });
    const c = clock();
    const r = resolverFor(s, { ttlSeconds: 10, negativeTtlSeconds: 1, now: c.now });
    assert.equal(await r.lookup('192.0.2.51'), 'old.example');
    s.setRecords({ '192.0.2.51': 'new.example' });
    c.advance(9_999);
    assert.equal(await r.lookup('192.0.2.51'), 'old.example');
    assert.equal(s.queries, 1);
    c.advance(1);
    assert.equal(await r.lookup('192.0.2.51'), 'new.example');
    assert.equal(s.queries, 2);
    assert.equal(r.queries, 2);
  });

  it('caches "no name" for negativeTtlSeconds', async (t) => {
    const s = await server(t, {});
    const c = clock();
    const r = resolverFor(s, { ttlSeconds: 3600, negativeTtlSeconds: 5, now: c.now });
    assert.equal(await r.lookup('192.0.2.52'), null);
    s.setRecords({ '192.0.2.52': 'appeared.example' });
    c.advance(4_999);
    assert.equal(await r.lookup('192.0.2.52'), null);
    assert.equal(s.queries, 1);
    assert.equal(r.queries, 1);
    c.advance(1);
    assert.equal(await r.lookup('192.0.2.52'), 'appeared.example');
    assert.equal(s.queries, 2);
  });

  it('caches failures for negativeTtlSeconds too, then recovers', async (t) => {
    const s = await server(t, { '192.0.2.53': 'back.example' }, { servfail: true });
    const c = clock();
    const r = resolverFor(s, { negativeTtlSeconds: 5, now: c.now });
    assert.equal(await r.lookup('192.0.2.53'), null);
    assert.equal(r.healthy, false);
    const sent = s.queries;
    s.setOptions({});
    assert.equal(await r.lookup('192.0.2.53'), null);
    assert.equal(s.queries, sent);
    c.advance(5_000);
    assert.equal(await r.lookup('192.0.2.53'), 'back.example');
    assert.equal(r.healthy, true);
  });

  it('keeps at most maxCacheEntries addresses', async (t) => {
    const s = await server(t, { '192.0.2.61': 'a.example', '192.0.2.62': 'b.example', '192.0.2.63': 'c.example' });
    const r = resolverFor(s, { maxCacheEntries: 2 });
    for (const ip of ['192.0.2.61', '192.0.2.62', '192.0.2.63']) await r.lookup(ip);
    assert.equal(r.queries, 3);
    await r.lookup('192.0.2.63');
    await r.lookup('192.0.2.62');
    assert.equal(r.queries, 3, 'the two newest are cached');
    assert.equal(await r.lookup('192.0.2.61'), 'a.example');
    assert.equal(r.queries, 4, 'the oldest was dropped');
  });
});

describe('ReverseDns query sharing and limits', () => {
  it('shares one query among concurrent lookups of the same address', async (t) => {
    const s = await server(t, { '192.0.2.70': 'shared.example' }, { delayMs: 50 });
    const r = resolverFor(s);
    const names = await Promise.all(Array.from({ length: 8 }, () => r.lookup('192.0.2.70')));
    assert.deepEqual(names, Array(8).fill('shared.example'));
    assert.equal(s.queries, 1);
    assert.equal(r.queries, 1);
  });

  it('never has more than `concurrency` queries in flight; the rest wait in FIFO order', async (t) => {
    const records: PtrRecords = {};
    const ips: string[] = [];
    for (let i = 1; i <= 10; i++) {
      ips.push(`198.51.100.${i}`);
      records[`198.51.100.${i}`] = `host${i}.example`;
    }
    const s = await server(t, records, { delayMs: 80 });
    const r = resolverFor(s, { concurrency: 3 });
    const names = await Promise.all(ips.map((ip) => r.lookup(ip)));
    assert.deepEqual(
      names,
      ips.map((_, i) => `host${i + 1}.example`),
    );
    assert.equal(s.queries, 10);
    assert.equal(r.queries, 10);
    assert.equal(s.maxInFlight, 3, 'the limit was reached but never exceeded');
    assert.deepEqual(
      s.questions,
      ips.map((ip) => `${ip.split('.').reverse().join('.')}.in-addr.arpa`),
    );
  });

  it('with concurrency 1, sends queries strictly one at a time', async (t) => {
    const s = await server(t, { '198.51.100.21': 'x.example', '198.51.100.22': 'y.example' }, { delayMs: 30 });
    const r = resolverFor(s, { concurrency: 1 });
    await Promise.all(['198.51.100.21', '198.51.100.22', '198.51.100.23'].map((ip) => r.lookup(ip)));
    assert.equal(s.queries, 3);
    assert.equal(s.maxInFlight, 1);
  });
});

describe('ReverseDns failures', () => {
  it('times out quickly: null and unhealthy', async (t) => {
    const s = await server(t, { '192.0.2.80': 'slow.example' }, { delayMs: 3_000 });
    const r = resolverFor(s, { timeoutMs: 200 });
    const started = Date.now();
    assert.equal(await r.lookup('192.0.2.80'), null);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 1_500, `took ${elapsed} ms`);
    assert.equal(r.healthy, false);
    assert.equal(s.queries, 1, 'one try');
  });

  it('keeps to timeoutMs (c-ares alone stretches it by half), and resolve() says nobody answered', async (t) => {
    const s = await server(t, { '192.0.2.82': 'slow.example' }, { delayMs: 5_000 });
    const r = resolverFor(s, { timeoutMs: 1000 });
    const started = Date.now();
    assert.deepEqual(await r.resolve('192.0.2.82'), { name: null, answered: false, cached: false });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 950 && elapsed < 1_300, `took ${elapsed} ms`);
    assert.deepEqual(await r.resolve('192.0.2.82'), { name: null, answered: true, cached: true });
    const ok = await server(t, { '192.0.2.83': 'fast.example' });
    assert.deepEqual(await resolverFor(ok).resolve('192.0.2.83'), {
      name: 'fast.example',
      answered: true,
      cached: false,
    });
  });

  it('SERVFAIL: null and unhealthy; a later answer makes it healthy again', async (t) => {
    const s = await server(t, { '192.0.2.81': 'fine.example' }, { servfail: true });
    const r = resolverFor(s);
    assert.equal(await r.lookup('192.0.2.81'), null);
    assert.equal(r.healthy, false);
    assert.ok(s.queries >= 1);
    s.setOptions({});
    assert.equal(await r.lookup('192.0.2.82'), null);
    assert.equal(r.healthy, true);
  });

  it('connection refused (no server on the port): null and unhealthy', async () => {
    const s = await startDnsServer({});
    await s.close();
    const r = new ReverseDns({ servers: [s.address], timeoutMs: 500 });
    assert.equal(await r.lookup('192.0.2.83'), null);
    assert.equal(r.healthy, false);
    assert.equal(r.queries, 1);
  });
});

describe('helpers', () => {
  it('normalizeHostName accepts only RFC 1123 host names', () => {
    assert.equal(normalizeHostName('Router-1.LAN.'), 'router-1.lan');
    assert.equal(normalizeHostName('router'), 'router');
    assert.equal(normalizeHostName('1host.example'), '1host.example');
    assert.equal(normalizeHostName(`${'a'.repeat(63)}.example`), `${'a'.repeat(63)}.example`);
    assert.equal(normalizeHostName(`${'a'.repeat(64)}.example`), null);
    const long = `${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;
    assert.equal(long.length, 253);
    assert.equal(normalizeHostName(long), long);
    assert.equal(normalizeHostName(`x${long}`), null);
    for (const bad of [
      '',
      '.',
      'a..b',
      '-a.example',
      'a-.example',
      'under_score',
      'bad name',
      'a;b',
      'a\u0000b',
      'a\\000b',
      'caf\u00e9.example',
      'a/b',
      'a.example..',
    ]) {
      assert.equal(normalizeHostName(bad), null, JSON.stringify(bad));
    }
  });

  it('reverseLookupName builds in-addr.arpa and ip6.arpa names', () => {
    assert.equal(reverseLookupName('10.1.2.3'), '3.2.1.10.in-addr.arpa');
    assert.equal(reverseLookupName('::1'), `1${'.0'.repeat(31)}.ip6.arpa`);
    assert.equal(reverseLookupName('fe80::1%eth0'), reverseLookupName('fe80::1'));
    assert.throws(() => reverseLookupName('10.0.0.1; id'), TypeError);
  });
});
