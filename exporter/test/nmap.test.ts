// nmap service discovery: the XML parser, argument validation (nothing unvalidated reaches a
// process), the hard timeout, and real scans of listeners this test starts on loopback.
// SAFETY: every real scan targets 127.0.0.1 or ::1 only.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NmapParseError, nmapAvailable, parseNmapXml, runNmap } from '../src/discovery/nmap.js';
import { tempDir } from './helpers/exporter.js';
import { requireTool, which } from './helpers/tools.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'nmap-loopback-http.xml');
const NMAP_HINT = 'apt-get install nmap';

const { dir, cleanup } = tempDir();
after(cleanup);

/** Writes an executable shell script standing in for nmap. */
function fakeNmap(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Alive = exists and is not a zombie (an orphaned zombie may linger until init reaps it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A port on `host` that nothing listens on: bound by us, then released. */
function closedPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createTcpServer()
      .once('error', reject)
      .listen(0, host, () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
  });
}

const xmlDoc = (hosts: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner="nmap" args="nmap" version="7.93" xmloutputversion="1.05">\n${hosts}\n<runstats><finished time="1" exit="success"/></runstats>\n</nmaprun>\n`;

describe('parseNmapXml', () => {
  it('parses a captured nmap report (open http services with product/version/extrainfo, a closed port)', () => {
    const hosts = parseNmapXml(readFileSync(FIXTURE, 'utf8'));
    assert.deepEqual(hosts, [
      {
        address: '127.0.0.1',
        status: 'up',
        services: [
          {
            port: 33733,
            protocol: 'tcp',
            state: 'open',
            service: 'http',
            product: 'Node.js Express framework',
            version: null,
            extraInfo: null,
          },
          {
            port: 36755,
            protocol: 'tcp',
            state: 'open',
            service: 'http',
            product: 'SimpleHTTPServer',
            version: '0.6',
            extraInfo: 'Python 3.11.7',
          },
          {
            port: 46389,
            protocol: 'tcp',
            state: 'closed',
            service: null,
            product: null,
            version: null,
            extraInfo: null,
          },
        ],
      },
    ]);
  });

  it('parses several hosts, picking the IP over the MAC address and mapping host states', () => {
    const hosts = parseNmapXml(
      xmlDoc(`
<host><status state="up" reason="arp-response"/>
<address addr="AA:BB:CC:DD:EE:FF" addrtype="mac" vendor="Acme"/><address addr="127.0.0.2" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="22"><state state="open"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2" extrainfo="protocol 2.0"/></port>
<port protocol="udp" portid="53"><state state="open|filtered"/><service name="domain"/></port>
<port protocol="sctp" portid="9"><state state="open"/></port></ports></host>
<host><status state="down" reason="no-response"/><address addr="::1" addrtype="ipv6"/></host>
<host><status state="skipped"/><address addr="127.0.0.3" addrtype="ipv4"/><ports><port protocol="tcp" portid="443"><state state="filtered"/></port></ports></host>`),
    );
    assert.deepEqual(hosts, [
      {
        address: '127.0.0.2',
        status: 'up',
        services: [
          {
            port: 22,
            protocol: 'tcp',
            state: 'open',
            service: 'ssh',
            product: 'OpenSSH',
            version: '9.2p1 Debian 2',
            extraInfo: 'protocol 2.0',
          },
          // sctp is not modelled and is dropped
          {
            port: 53,
            protocol: 'udp',
            state: 'open|filtered',
            service: 'domain',
            product: null,
            version: null,
            extraInfo: null,
          },
        ],
      },
      { address: '::1', status: 'down', services: [] },
      {
        address: '127.0.0.3',
        status: 'unknown',
        services: [
          {
            port: 443,
            protocol: 'tcp',
            state: 'filtered',
            service: null,
            product: null,
            version: null,
            extraInfo: null,
          },
        ],
      },
    ]);
  });

  it('parses a host with no open ports (only extraports) as up with no services', () => {
    const hosts = parseNmapXml(
      xmlDoc(`<host><status state="up"/><address addr="127.0.0.1" addrtype="ipv4"/>
<ports><extraports state="closed" count="1000"><extrareasons reason="reset" count="1000"/></extraports></ports></host>`),
    );
    assert.deepEqual(hosts, [{ address: '127.0.0.1', status: 'up', services: [] }]);
  });

  it('reads a single <host> with a single <port> the same way as many', () => {
    const hosts = parseNmapXml(
      xmlDoc(`<host><status state="up"/><address addr="127.0.0.1" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="8080"><state state="open"/><service name="http-proxy"/></port></ports></host>`),
    );
    assert.ok(Array.isArray(hosts) && hosts.length === 1);
    assert.deepEqual(hosts[0]?.services, [
      {
        port: 8080,
        protocol: 'tcp',
        state: 'open',
        service: 'http-proxy',
        product: null,
        version: null,
        extraInfo: null,
      },
    ]);
  });

  it('returns no hosts for a report without <host> elements', () => {
    assert.deepEqual(parseNmapXml(xmlDoc('')), []);
  });

  it('rejects malformed XML with NmapParseError', () => {
    const full = readFileSync(FIXTURE, 'utf8');
    const truncated = full.slice(0, full.indexOf('</ports>')); // as left by an nmap killed mid-run
    for (const bad of ['', '   ', 'not xml at all', '<nmaprun><host></nmaprun>', truncated]) {
      assert.throws(
        () => parseNmapXml(bad),
        (e: unknown) => {
          assert.ok(e instanceof NmapParseError, `expected NmapParseError for ${JSON.stringify(bad.slice(0, 40))}`);
          assert.match(e.message, /malformed nmap XML|empty/);
          return true;
        },
      );
    }
  });

  it('rejects well-formed XML that is not an nmap report with NmapParseError', () => {
    for (const [doc, found] of [
      ['<foo/>', /found <foo>/],
      ['<?xml version="1.0"?><html><body>hi</body></html>', /found <html>/],
    ] as const) {
      assert.throws(
        () => parseNmapXml(doc),
        (e: unknown) => {
          assert.ok(e instanceof NmapParseError);
          assert.match(e.message, /not an nmap XML report: expected a <nmaprun> root element/);
          assert.match(e.message, found);
          return true;
        },
      );
    }
    assert.throws(
      () => parseNmapXml(xmlDoc('<host><status state="up"/></host>')),
      NmapParseError,
      'a host without an address',
    );
    assert.throws(
      () =>
        parseNmapXml(
          xmlDoc(`<host><address addr="127.0.0.1" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="99999"><state state="open"/></port></ports></host>`),
        ),
      /invalid portid/,
    );
  });
});

describe('runNmap argument handling (no real nmap)', () => {
  // Stands in for nmap: records its argv (one per line) in a marker file and prints the fixture.
  const marker = join(dir, 'spawned');
  const recorder = fakeNmap('record-nmap', `printf '%s\\n' "$@" > '${marker}'\ncat '${FIXTURE}'`);
  const argv = () => readFileSync(marker, 'utf8').trimEnd().split('\n');

  it('passes the documented argv, ports deduplicated and sorted, and parses the output', async () => {
    const host = await runNmap('127.0.0.1', [443, 22, 80, 22], { nmapPath: recorder, timeoutMs: 30_000 });
    assert.deepEqual(argv(), ['-sV', '-Pn', '-n', '-oX', '-', '--host-timeout', '25s', '-p', '22,80,443', '127.0.0.1']);
    assert.equal(host?.address, '127.0.0.1', 'the report printed by the fake binary is parsed');
    assert.equal(host?.services.length, 3);
  });

  it('adds -6 for an IPv6 literal and uses a 115 s host timeout by default', async () => {
    await runNmap('::1', [8080], { nmapPath: recorder });
    assert.deepEqual(argv(), ['-sV', '-Pn', '-n', '-oX', '-', '--host-timeout', '115s', '-p', '8080', '-6', '::1']);
  });

  it('rejects anything but an IP literal without spawning', async () => {
    const addresses = [
      '127.0.0.1; touch /tmp/pwned',
      '$(id)',
      '-sS',
      '--script=x',
      'localhost',
      '10.0.0.1/24',
      '',
      ' 127.0.0.1',
      '127.0.0.1 -oN /tmp/x',
      '127.1',
    ];
    for (const address of addresses) {
      writeFileSync(marker, '');
      await assert.rejects(
        runNmap(address, [80], { nmapPath: recorder }),
        (e: unknown) => {
          assert.ok(e instanceof TypeError);
          assert.match(e.message, /invalid address .*IPv4 or IPv6 literal/);
          return true;
        },
        address,
      );
      assert.equal(readFileSync(marker, 'utf8'), '', `nothing was spawned for ${JSON.stringify(address)}`);
    }
    assert.equal(existsSync('/tmp/pwned'), false);
  });

  it('rejects invalid port lists without spawning', async () => {
    const many = Array.from({ length: 101 }, (_, i) => i + 1);
    const cases: [number[], RegExp][] = [
      [[0], /invalid port 0/],
      [[65536], /invalid port 65536/],
      [[1.5], /invalid port 1.5/],
      [[NaN], /invalid port NaN/],
      [[80, -1], /invalid port -1/],
      [[], /between 1 and 100 distinct ports/],
      [many, /got 101/],
    ];
    for (const [ports, message] of cases) {
      writeFileSync(marker, '');
      await assert.rejects(runNmap('127.0.0.1', ports, { nmapPath: recorder }), (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.match(e.message, message);
        return true;
      });
      assert.equal(readFileSync(marker, 'utf8'), '', `nothing was spawned for ports ${ports.slice(0, 3).join(',')}`);
    }
    // The limit counts distinct ports: 100 is fine, and so are duplicates of them.
    await runNmap('127.0.0.1', [...many.slice(0, 100), 1, 2], { nmapPath: recorder });
    assert.equal(argv().at(-2), many.slice(0, 100).join(','));
  });

  it('kills nmap (and what it started) after timeoutMs and rejects', async () => {
    const pids = join(dir, 'sleeper-pids');
    const sleeper = fakeNmap('sleepy-nmap', `sleep 30 &\necho "$$ $!" > '${pids}'\nwait`);
    const started = Date.now();
    await assert.rejects(
      runNmap('127.0.0.1', [80], { nmapPath: sleeper, timeoutMs: 800 }),
      /nmap scan of 127\.0\.0\.1 timed out after 800 ms and was killed/,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 750 && elapsed < 10_000, `rejected after ${elapsed} ms`);
    const [shell, sleep] = readFileSync(pids, 'utf8').trim().split(' ').map(Number);
    assert.ok(shell && sleep, 'the fake nmap recorded its pids');
    assert.equal(alive(shell), false, 'the nmap process is gone');
    assert.equal(alive(sleep), false, 'its child is gone too');
  });

  it('rejects with the stderr text when nmap exits non-zero', async () => {
    const failing = fakeNmap('failing-nmap', `echo 'Failed to resolve "bogus".' >&2\necho 'QUITTING!' >&2\nexit 1`);
    await assert.rejects(
      runNmap('127.0.0.1', [80], { nmapPath: failing }),
      /nmap exited with code 1: Failed to resolve "bogus"\.\nQUITTING!/,
    );
  });

  it('rejects with NmapParseError when nmap prints something that is not a report', async () => {
    const chatty = fakeNmap('chatty-nmap', 'echo "Starting Nmap 7.93"');
    await assert.rejects(runNmap('127.0.0.1', [80], { nmapPath: chatty }), NmapParseError);
  });

  it('rejects with a clear message when the nmap binary does not exist', async () => {
    const missing = join(dir, 'no-such-nmap');
    await assert.rejects(
      runNmap('127.0.0.1', [80], { nmapPath: missing }),
      (e: unknown) => e instanceof Error && e.message === `cannot run nmap at ${JSON.stringify(missing)}: not found`,
    );
  });
});

// Real scans: ~12 s each (nmap waits for a banner before probing), so they run concurrently.
describe('with the real nmap, against loopback listeners', { concurrency: true }, () => {
  let server: Server;
  let openPort = 0;
  let closed = 0;

  before(async () => {
    // nmap identifies a Node server as http by an Express-style header; a bare node:http reply
    // (no Server/X-Powered-By) is reported as "unknown" by nmap 7.93.
    server = createServer((_req, res) => {
      res.setHeader('X-Powered-By', 'Express');
      res.setHeader('Content-Type', 'text/plain');
      res.end('hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    openPort = (server.address() as AddressInfo).port;
    closed = await closedPort('127.0.0.1');
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('nmapAvailable() reports whether nmap is on PATH', async () => {
    assert.equal(await nmapAvailable(), which('nmap') !== undefined);
    assert.equal(await nmapAvailable(), which('nmap') !== undefined, 'cached answer');
  });

  it('parses the XML of a real nmap run', async (t) => {
    const nmap = requireTool(t, 'nmap', NMAP_HINT);
    if (!nmap) return;
    const child = spawn(nmap, ['-sV', '-Pn', '-n', '-oX', '-', '-p', `${openPort},${closed}`, '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let xml = '';
    child.stdout.on('data', (d: Buffer) => {
      xml += d.toString();
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    const hosts = parseNmapXml(xml);
    assert.equal(hosts.length, 1);
    assert.equal(hosts[0]?.address, '127.0.0.1');
    assert.equal(hosts[0]?.status, 'up');
    const byPort = new Map(hosts[0]?.services.map((s) => [s.port, s]));
    assert.equal(byPort.get(openPort)?.state, 'open');
    assert.equal(byPort.get(openPort)?.protocol, 'tcp');
    assert.equal(byPort.get(closed)?.state, 'closed');
  });

  it('runNmap finds the local HTTP server and identifies it as http', async (t) => {
    if (!requireTool(t, 'nmap', NMAP_HINT)) return;
    const host = await runNmap('127.0.0.1', [closed, openPort], { timeoutMs: 90_000 });
    assert.ok(host, 'nmap reported the host');
    assert.equal(host.address, '127.0.0.1');
    assert.equal(host.status, 'up');
    const open = host.services.find((s) => s.port === openPort);
    assert.equal(open?.state, 'open');
    assert.equal(open?.protocol, 'tcp');
    assert.equal(open?.service, 'http');
    assert.equal(host.services.find((s) => s.port === closed)?.state, 'closed');
  });

  it('runNmap scans an IPv6 literal (::1)', async (t) => {
    if (!requireTool(t, 'nmap', NMAP_HINT)) return;
    let port: number;
    try {
      port = await closedPort('::1');
    } catch {
      return t.skip('no IPv6 loopback here');
    }
    const host = await runNmap('::1', [port], { timeoutMs: 60_000 });
    assert.equal(host?.address, '::1');
    assert.deepEqual(
      host?.services.map((s) => [s.port, s.state]),
      [[port, 'closed']],
    );
  });
});
