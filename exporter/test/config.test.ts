// Tests for the configuration loader: defaults, YAML file + environment (env wins), and the
// wording of every error (key, origin, allowed values, secrets masked).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { ENV_VARS } from '../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'lanscape-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
/** Writes `text` to a fresh YAML file in the temp directory and returns its path. */
function yamlFile(text: string): string {
  const file = join(dir, `config-${++fileNo}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Runs `fn`, which must throw a ConfigError, and returns its problems. */
function problemsOf(fn: () => unknown): string[] {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof ConfigError,
    `expected a ConfigError, got ${caught === undefined ? 'no error' : String(caught)}`,
  );
  assert.equal(caught.name, 'ConfigError');
  assert.ok(Array.isArray(caught.problems));
  assert.ok(caught.problems.length > 0, 'at least one problem');
  for (const p of caught.problems) {
    assert.equal(typeof p, 'string');
    assert.ok(caught.message.includes(p), 'the error message lists every problem');
  }
  return caught.problems;
}

/** The single problem mentioning `needle`; fails when none does. */
function problemAbout(problems: readonly string[], needle: string): string {
  const found = problems.find((p) => p.includes(needle));
  assert.ok(found !== undefined, `no problem mentions ${needle}: ${JSON.stringify(problems)}`);
  return found;
}

function assertIncludesAll(text: string, parts: readonly (string | RegExp)[]): void {
  for (const part of parts) {
    if (typeof part === 'string')
      assert.ok(text.includes(part), `${JSON.stringify(text)} should include ${JSON.stringify(part)}`);
    else assert.match(text, part);
  }
}

describe('defaults', () => {
  it('an empty environment gives the documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.listen, ':9645');
    assert.equal(c.db, './data/lanscape.db');
    assert.equal(c.db_synchronous, 'normal');
    assert.equal(c.log_level, 'info');
    assert.equal(c.body_limit_bytes, 1024 * 1024);
    assert.equal(c.import_limit_bytes, 16 * 1024 * 1024);
    assert.equal(c.scan.pps, 500);
    assert.equal(c.scan.timeout_ms, 1000);
    assert.equal(c.scan.max_prefix, 16);
    assert.equal(c.scan.enabled, true);
    assert.equal(c.scan.retries, 1);
    assert.equal(c.scan.down_after, 3);
    assert.equal(c.scan.interval_seconds, 300);
    assert.equal(c.scan.nmap, false);
    assert.equal(c.scan.ports, undefined, 'the common service ports apply');
    assert.deepEqual(c.tokens, { named: [], grafana_proxy: [] });
    assert.deepEqual(c.grafana, {});
    assert.deepEqual(c.allowed_hosts, [], 'any Host is answered');
    assert.equal(c.auth_failures_per_minute, 20);
    assert.deepEqual(c.metrics, { max_subnet_series: 2000, max_host_series: 2000 });
    assert.equal(c.scan.max_queued, 64);
    assert.deepEqual(c.tls, {});
  });

  it('empty env values count as unset', () => {
    const c = loadConfig({ LANSCAPE_LISTEN: '', LANSCAPE_SCAN_PPS: '', LANSCAPE_READ_TOKEN: '' });
    assert.equal(c.listen, ':9645');
    assert.equal(c.scan.pps, 500);
    assert.equal(c.tokens.read, undefined);
  });

  it('an empty YAML file gives the defaults', () => {
    const c = loadConfig({}, yamlFile(''));
    assert.equal(c.listen, ':9645');
    assert.equal(c.scan.max_prefix, 16);
  });

  it('a partial scan section keeps the other scan defaults', () => {
    const c = loadConfig({}, yamlFile('scan:\n  pps: 42\n'));
    assert.equal(c.scan.pps, 42);
    assert.equal(c.scan.timeout_ms, 1000);
    assert.equal(c.scan.max_prefix, 16);
    assert.equal(c.scan.down_after, 3);
  });
});

describe('environment and file', () => {
  it('env values override the YAML file, file values override defaults', () => {
    const file = yamlFile(
      [
        'listen: "127.0.0.1:9000"',
        'log_level: warn',
        'db: /var/lib/lanscape/file.db',
        'scan:',
        '  pps: 100',
        '  max_prefix: 20',
        '',
      ].join('\n'),
    );
    const c = loadConfig({ LANSCAPE_SCAN_PPS: '200', LANSCAPE_LOG_LEVEL: 'debug' }, file);
    assert.equal(c.scan.pps, 200, 'env wins');
    assert.equal(c.log_level, 'debug', 'env wins');
    assert.equal(c.listen, '127.0.0.1:9000', 'file value kept');
    assert.equal(c.db, '/var/lib/lanscape/file.db', 'file value kept');
    assert.equal(c.scan.max_prefix, 20, 'file value kept');
    assert.equal(c.scan.timeout_ms, 1000, 'default kept');
  });

  it('env overrides an invalid file value, so it is not reported', () => {
    const c = loadConfig({ LANSCAPE_LOG_LEVEL: 'error' }, yamlFile('log_level: loud\n'));
    assert.equal(c.log_level, 'error');
  });

  it('reads the file named by LANSCAPE_CONFIG', () => {
    const c = loadConfig({ LANSCAPE_CONFIG: yamlFile('listen: ":9999"\n') });
    assert.equal(c.listen, ':9999');
  });

  it('an explicit file argument wins over LANSCAPE_CONFIG', () => {
    const c = loadConfig({ LANSCAPE_CONFIG: yamlFile('listen: ":1111"\n') }, yamlFile('listen: ":2222"\n'));
    assert.equal(c.listen, ':2222');
  });

  it('whole numbers from env are trimmed and converted', () => {
    const c = loadConfig({
      LANSCAPE_SCAN_PPS: ' 20 ',
      LANSCAPE_SCAN_TIMEOUT_MS: '250',
      LANSCAPE_BODY_LIMIT_BYTES: '2048',
    });
    assert.equal(c.scan.pps, 20);
    assert.equal(c.scan.timeout_ms, 250);
    assert.equal(c.body_limit_bytes, 2048);
  });

  it('every env var is applied to its path', () => {
    const env = {
      LANSCAPE_LISTEN: '[::1]:9645',
      LANSCAPE_DB: '/tmp/x.db',
      LANSCAPE_DB_SYNCHRONOUS: 'full',
      LANSCAPE_DATABASE_URL: 'postgres://lanscape:s3cret@db.lan:5432/lanscape?sslmode=verify-full',
      LANSCAPE_DATABASE_POOL_SIZE: '20',
      LANSCAPE_LOG_LEVEL: 'trace',
      LANSCAPE_BODY_LIMIT_BYTES: '4096',
      LANSCAPE_IMPORT_LIMIT_BYTES: '8192',
      LANSCAPE_READ_TOKEN: 'read-0123456789abcdefghij',
      LANSCAPE_WRITE_TOKEN: 'write-0123456789abcdefghij',
      LANSCAPE_ADMIN_TOKEN: 'admin-0123456789abcdefghijklmnopqrstuv',
      LANSCAPE_GRAFANA_PROXY_TOKENS: 'write, admin',
      LANSCAPE_GRAFANA_URL: 'http://127.0.0.1:3000/grafana',
      LANSCAPE_ALLOWED_HOSTS: 'Exporter.LAN.,127.0.0.1:9645,[0:0::1]',
      LANSCAPE_AUTH_FAILURES_PER_MINUTE: '5',
      LANSCAPE_METRICS_USERNAME: 'prom',
      LANSCAPE_METRICS_PASSWORD: 'p'.repeat(8),
      LANSCAPE_METRICS_MAX_SUBNETS: '100',
      LANSCAPE_METRICS_MAX_HOSTS: '0',
      LANSCAPE_TLS_CERT_FILE: '/etc/cert.pem',
      LANSCAPE_TLS_KEY_FILE: '/etc/key.pem',
      LANSCAPE_SCAN_PPS: '1',
      LANSCAPE_SCAN_TIMEOUT_MS: '60000',
      LANSCAPE_SCAN_MAX_PREFIX: '32',
      LANSCAPE_SCAN_ENABLED: 'false',
      LANSCAPE_SCAN_RETRIES: '0',
      LANSCAPE_SCAN_MAX_IN_FLIGHT: '60000',
      LANSCAPE_SCAN_INTERVAL_SECONDS: '60',
      LANSCAPE_SCAN_DOWN_AFTER: '2',
      LANSCAPE_SCAN_PORTS: '22,9100/node',
      LANSCAPE_SCAN_NMAP: 'true',
      LANSCAPE_SCAN_RDNS: 'false',
      LANSCAPE_SCAN_DNS_SERVERS: '127.0.0.53, [::1]:5353',
      LANSCAPE_SCAN_MAX_QUEUED: '3',
      LANSCAPE_PROXMOX_URL: 'https://pve.lan:8006',
      LANSCAPE_PROXMOX_TOKEN_ID: 'lanscape@pve!inventory',
      LANSCAPE_PROXMOX_TOKEN_SECRET: '7f0c2a9e-5b1d-4c3e-9a8f-1d2e3f4a5b6c',
      LANSCAPE_PROXMOX_FINGERPRINT: 'ab:'.repeat(31) + 'ab',
      LANSCAPE_PROXMOX_CA_FILE: '',
      LANSCAPE_PROXMOX_INTERVAL_SECONDS: '30',
      LANSCAPE_DOCKER_HOSTS: 'local=unix:///var/run/docker.sock',
      LANSCAPE_DOCKER_RESYNC_SECONDS: '60',
      LANSCAPE_DOCKER_STATS: 'false',
      LANSCAPE_DOCKER_UPDATE_CHECKS: 'false',
      LANSCAPE_DOCKER_UPDATE_INTERVAL_SECONDS: '3600',
      LANSCAPE_AGENTS_REPORT_INTERVAL_SECONDS: '300',
    };
    // the test covers the whole list; a new variable must be added here too
    assert.deepEqual(Object.keys(env).sort(), ENV_VARS.map((v) => v.name).sort());
    const c = loadConfig(env);
    assert.deepEqual(c, {
      listen: '[::1]:9645',
      db: '/tmp/x.db',
      db_synchronous: 'full',
      database: { url: 'postgres://lanscape:s3cret@db.lan:5432/lanscape?sslmode=verify-full', pool_size: 20 },
      log_level: 'trace',
      body_limit_bytes: 4096,
      import_limit_bytes: 8192,
      tokens: {
        read: 'read-0123456789abcdefghij',
        write: 'write-0123456789abcdefghij',
        admin: 'admin-0123456789abcdefghijklmnopqrstuv',
        named: [],
        grafana_proxy: ['write', 'admin'],
      },
      grafana: { url: 'http://127.0.0.1:3000/grafana' },
      allowed_hosts: ['exporter.lan', '127.0.0.1:9645', '[::1]'],
      auth_failures_per_minute: 5,
      metrics: { username: 'prom', password: 'p'.repeat(8), max_subnet_series: 100, max_host_series: 0 },
      tls: { cert_file: '/etc/cert.pem', key_file: '/etc/key.pem' },
      scan: {
        ...loadConfig({}).scan,
        pps: 1,
        timeout_ms: 60000,
        max_prefix: 32,
        enabled: false,
        retries: 0,
        max_in_flight: 60000,
        interval_seconds: 60,
        down_after: 2,
        ports: [
          { port: 22, service: null },
          { port: 9100, service: 'node' },
        ],
        nmap: true,
        rdns: false,
        dns_servers: ['127.0.0.53', '[::1]:5353'],
        max_queued: 3,
      },
      proxmox: {
        ...loadConfig({}).proxmox,
        url: 'https://pve.lan:8006',
        token_id: 'lanscape@pve!inventory',
        token_secret: '7f0c2a9e-5b1d-4c3e-9a8f-1d2e3f4a5b6c',
        fingerprint: 'ab:'.repeat(31) + 'ab',
        interval_seconds: 30,
      },
      traffic: loadConfig({}).traffic,
      agents: { report_interval_seconds: 300, report_intervals: {} },
      docker: {
        endpoints: [
          { name: 'local', url: 'unix:///var/run/docker.sock', target: { kind: 'unix', path: '/var/run/docker.sock' } },
        ],
        resync_seconds: 60,
        stats: false,
        stats_interval_seconds: 30,
        update_checks: false,
        update_interval_seconds: 3600,
        update_concurrency: 4,
        registries: [],
      },
    });
  });

  it('accepts the documented listen forms', () => {
    for (const listen of [':9645', '127.0.0.1:9700', '[::1]:9645', 'localhost:0', 'exporter.lan:65535', '0.0.0.0:80']) {
      assert.equal(loadConfig({ LANSCAPE_LISTEN: listen }).listen, listen);
    }
  });

  it('a valid YAML file with named tokens parses', () => {
    const file = yamlFile(
      [
        'tokens:',
        '  read: readonly-token-0123456789',
        '  named:',
        '    - name: grafana',
        '      token: abcdefghijklmnopqrstuvwxyz',
        '      scope: read',
        '    - name: ci-bot_2',
        '      token: "ZYXW!VUTS#RQPO$NMLK%JIHG&FEDC"',
        '      scope: admin',
        'metrics:',
        '  username: prometheus',
        '  password: correct-horse',
        '',
      ].join('\n'),
    );
    const c = loadConfig({}, file);
    assert.equal(c.tokens.read, 'readonly-token-0123456789');
    assert.deepEqual(c.tokens.named, [
      { name: 'grafana', token: 'abcdefghijklmnopqrstuvwxyz', scope: 'read' },
      { name: 'ci-bot_2', token: 'ZYXW!VUTS#RQPO$NMLK%JIHG&FEDC', scope: 'admin' },
    ]);
    assert.deepEqual(c.metrics, {
      username: 'prometheus',
      password: 'correct-horse',
      max_subnet_series: 2000,
      max_host_series: 2000,
    });
  });
});

describe('bad values name the key, the origin and what is allowed', () => {
  it('LANSCAPE_SCAN_PPS=abc', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_SCAN_PPS: 'abc' }));
    assert.equal(problems.length, 1);
    assertIncludesAll(problemAbout(problems, 'LANSCAPE_SCAN_PPS'), ['"abc"', 'whole number']);
  });

  it('LANSCAPE_SCAN_PPS=abc also names the setting scan.pps and its range 1–100000', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_SCAN_PPS: 'abc' }));
    assertIncludesAll(problemAbout(problems, 'LANSCAPE_SCAN_PPS'), ['scan.pps', /100[ ,_]?000/]);
  });

  it('LANSCAPE_SCAN_PPS=1.5, =1e3, =0x10 and =- are not whole numbers', () => {
    for (const value of ['1.5', '1e3', '0x10', '-']) {
      const problems = problemsOf(() => loadConfig({ LANSCAPE_SCAN_PPS: value }));
      assertIncludesAll(problemAbout(problems, 'LANSCAPE_SCAN_PPS'), [JSON.stringify(value), 'whole number']);
    }
  });

  it('LANSCAPE_DATABASE_URL: not postgres, no database, unverified TLS — refused, the password never shown', () => {
    const cases: [string, RegExp][] = [
      ['mysql://u:hunter2pw@db/lanscape', /postgres:\/\/ URL/],
      ['postgres://u:hunter2pw@db:5432', /names no database/],
      ['postgres://u:hunter2pw@db/lanscape?sslmode=no-verify', /any certificate/],
      ['postgres://u:hunter2pw@db/lanscape?sslmode=maybe', /unknown sslmode/],
      ['not a url hunter2pw', /expected postgres:\/\//],
    ];
    for (const [value, reason] of cases) {
      const problems = problemsOf(() => loadConfig({ LANSCAPE_DATABASE_URL: value }));
      assert.equal(problems.length, 1, value);
      assertIncludesAll(problemAbout(problems, 'LANSCAPE_DATABASE_URL'), ['database.url', reason]);
      assert.ok(!problems.join('\n').includes('hunter2pw'), 'the URL (and its password) is masked');
    }
    const problems = problemsOf(() => loadConfig({ LANSCAPE_DATABASE_POOL_SIZE: '1' }));
    assertIncludesAll(problemAbout(problems, 'database.pool_size'), ['LANSCAPE_DATABASE_POOL_SIZE', /2\b/]);
  });

  it('LANSCAPE_SCAN_PPS=0', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_SCAN_PPS: '0' }));
    assert.equal(problems.length, 1);
    assertIncludesAll(problemAbout(problems, 'scan.pps'), ['LANSCAPE_SCAN_PPS', '= 0', /(>=|at least|minimum)\s*1\b/]);
  });

  it('LANSCAPE_SCAN_PPS above the maximum', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_SCAN_PPS: '100001' }));
    assertIncludesAll(problemAbout(problems, 'scan.pps'), [
      'LANSCAPE_SCAN_PPS',
      '100001',
      /(<=|at most|maximum)\s*100000\b/,
    ]);
  });

  it('LANSCAPE_SCAN_MAX_PREFIX=7', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_SCAN_MAX_PREFIX: '7' }));
    assert.equal(problems.length, 1);
    assertIncludesAll(problemAbout(problems, 'scan.max_prefix'), [
      'LANSCAPE_SCAN_MAX_PREFIX',
      '= 7',
      /(>=|at least|minimum)\s*8\b/,
    ]);
  });

  it('LANSCAPE_LISTEN=nonsense', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_LISTEN: 'nonsense' }));
    assertIncludesAll(problemAbout(problems, 'host:port'), [
      'listen',
      'LANSCAPE_LISTEN',
      '"nonsense"',
      ':port',
      '[v6]:port',
    ]);
    for (const p of problems) assert.ok(p.startsWith('listen (from LANSCAPE_LISTEN)'), p);
  });

  it('LANSCAPE_LISTEN=:70000', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_LISTEN: ':70000' }));
    assert.equal(problems.length, 1);
    assertIncludesAll(problemAbout(problems, 'listen'), ['LANSCAPE_LISTEN', '":70000"', '65535']);
  });

  it('LANSCAPE_LOG_LEVEL=loud', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_LOG_LEVEL: 'loud' }));
    assert.equal(problems.length, 1);
    assertIncludesAll(problemAbout(problems, 'log_level'), [
      'LANSCAPE_LOG_LEVEL',
      '"loud"',
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ]);
  });

  it('LANSCAPE_DB_SYNCHRONOUS=off lists normal and full', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_DB_SYNCHRONOUS: 'off' }));
    assertIncludesAll(problemAbout(problems, 'db_synchronous'), ['LANSCAPE_DB_SYNCHRONOUS', '"off"', 'normal', 'full']);
  });

  it('LANSCAPE_BODY_LIMIT_BYTES below 1 KiB', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_BODY_LIMIT_BYTES: '1023' }));
    assertIncludesAll(problemAbout(problems, 'body_limit_bytes'), ['LANSCAPE_BODY_LIMIT_BYTES', '1023', '1024']);
  });

  it('LANSCAPE_READ_TOKEN=short is masked', () => {
    const env = { LANSCAPE_READ_TOKEN: 'short' };
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ConfigError);
    const problem = problemAbout(error.problems, 'tokens.read');
    assertIncludesAll(problem, ['LANSCAPE_READ_TOKEN', '***', '24']);
    assert.ok(!problem.includes('short'), problem);
    assert.ok(!error.message.includes('short'), error.message);
  });

  it('tokens need at least 24 characters: 23 is rejected, 24 accepted', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_ADMIN_TOKEN: '0123456789abcdef0123456' }));
    assertIncludesAll(problemAbout(problems, 'tokens.admin'), ['LANSCAPE_ADMIN_TOKEN', '***', '24']);
    assert.equal(
      loadConfig({ LANSCAPE_ADMIN_TOKEN: '0123456789abcdef01234567' }).tokens.admin,
      '0123456789abcdef01234567',
    );
  });

  it('other secret env vars are masked too', () => {
    for (const [name, key] of [
      ['LANSCAPE_WRITE_TOKEN', 'tokens.write'],
      ['LANSCAPE_ADMIN_TOKEN', 'tokens.admin'],
    ] as const) {
      const secret = 'has spaces in it, 40 characters long....';
      const problems = problemsOf(() => loadConfig({ [name]: secret }));
      const problem = problemAbout(problems, key);
      assertIncludesAll(problem, [name, '***', /printable ASCII/]);
      assert.ok(!problems.join('\n').includes('spaces in it'), problem);
    }
  });

  it('an unknown key in YAML is named, with the file', () => {
    const file = yamlFile('scna: {}\n');
    const problems = problemsOf(() => loadConfig({}, file));
    assert.equal(problems.length, 1);
    assertIncludesAll(problemAbout(problems, 'scna'), [file, /unknown setting/]);
  });

  it('an unknown nested key in YAML is named with its full path', () => {
    const file = yamlFile('scan:\n  ppss: 5\n');
    const problems = problemsOf(() => loadConfig({}, file));
    assertIncludesAll(problemAbout(problems, 'scan.ppss'), [file]);
  });

  it('a bad value in YAML names the file as its origin', () => {
    const file = yamlFile('scan:\n  pps: 0\n');
    const problems = problemsOf(() => loadConfig({}, file));
    assertIncludesAll(problemAbout(problems, 'scan.pps'), [`(from ${file})`, '= 0', /1\b/]);
  });

  it('a bad token in YAML is masked', () => {
    const file = yamlFile(
      'tokens:\n  read: tiny-secret\n  named:\n    - name: x\n      token: also-tiny\n      scope: read\n',
    );
    const problems = problemsOf(() => loadConfig({}, file));
    assert.equal(problems.length, 2);
    assertIncludesAll(problemAbout(problems, 'tokens.read'), [file, '***', '24']);
    assertIncludesAll(problemAbout(problems, 'tokens.named.0.token'), [file, '***', '24']);
    const all = problems.join('\n');
    assert.ok(!all.includes('tiny-secret') && !all.includes('also-tiny'), all);
  });

  it('a named token with a bad name and scope lists the allowed values', () => {
    const file = yamlFile(
      'tokens:\n  named:\n    - name: Bad Name\n      token: abcdefghijklmnopqrstuvwxyz\n      scope: root\n',
    );
    const problems = problemsOf(() => loadConfig({}, file));
    assert.equal(problems.length, 2);
    assertIncludesAll(problemAbout(problems, 'tokens.named.0.name'), [file, /lower-case/]);
    assertIncludesAll(problemAbout(problems, 'tokens.named.0.scope'), [file, 'read', 'write', 'admin']);
    assert.ok(!problems.join('\n').includes('abcdefghijklmnopqrstuvwxyz'));
  });

  it('a YAML file whose top level is a list', () => {
    const file = yamlFile('- listen: ":9645"\n- db: x\n');
    const problems = problemsOf(() => loadConfig({}, file));
    assert.equal(problems.length, 1);
    assertIncludesAll(problemAbout(problems, file), [/mapping/]);
  });

  it('a YAML file whose top level is a scalar', () => {
    const file = yamlFile('42\n');
    assertIncludesAll(
      problemAbout(
        problemsOf(() => loadConfig({}, file)),
        file,
      ),
      [/mapping/],
    );
  });

  it('invalid YAML syntax', () => {
    const file = yamlFile('listen: [\n  db: "unterminated\n');
    const problems = problemsOf(() => loadConfig({}, file));
    for (const p of problems) assert.ok(p.startsWith(`config file ${file}:`), p);
    assert.match(problems.join('\n'), /line \d+/);
  });

  it('a missing file', () => {
    const file = join(dir, 'does-not-exist.yaml');
    const problems = problemsOf(() => loadConfig({}, file));
    assert.equal(problems.length, 1);
    assertIncludesAll(problemAbout(problems, file), [/ENOENT|no such file/]);
  });

  it('a missing file named by LANSCAPE_CONFIG', () => {
    const file = join(dir, 'also-missing.yaml');
    const problems = problemsOf(() => loadConfig({ LANSCAPE_CONFIG: file }));
    assertIncludesAll(problemAbout(problems, file), [/ENOENT|no such file/]);
  });

  it('duplicate keys in YAML', () => {
    const file = yamlFile('listen: ":1"\ndb: a.db\nlisten: ":2"\n');
    const problems = problemsOf(() => loadConfig({}, file));
    assertIncludesAll(problemAbout(problems, file), [/unique|duplicate/i]);
  });

  it('duplicate nested keys in YAML', () => {
    const file = yamlFile('scan:\n  pps: 1\n  pps: 2\n');
    assertIncludesAll(
      problemAbout(
        problemsOf(() => loadConfig({}, file)),
        file,
      ),
      [/unique|duplicate/i],
    );
  });

  it('metrics username without password (YAML)', () => {
    const file = yamlFile('metrics:\n  username: bob\n');
    const problems = problemsOf(() => loadConfig({}, file));
    assert.equal(problems.length, 1);
    assertIncludesAll(problemAbout(problems, 'metrics'), [file, 'username', 'password', /both/]);
  });

  it('metrics username without password (env) names the env var', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_METRICS_USERNAME: 'bob' }));
    assertIncludesAll(problemAbout(problems, 'metrics'), ['LANSCAPE_METRICS_USERNAME', 'password']);
  });

  it('metrics password without username does not reveal the password (env)', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_METRICS_PASSWORD: 'hunter2hunter2' }));
    assert.ok(problemAbout(problems, 'metrics').includes('username'));
    assert.ok(!problems.join('\n').includes('hunter2hunter2'), problems.join('\n'));
  });

  it('metrics password without username does not reveal the password (YAML)', () => {
    const file = yamlFile('metrics:\n  password: hunter2hunter2\n');
    const problems = problemsOf(() => loadConfig({}, file));
    assert.ok(!problems.join('\n').includes('hunter2hunter2'), problems.join('\n'));
  });

  it('a metrics password that is too short is masked', () => {
    const problems = problemsOf(() =>
      loadConfig({ LANSCAPE_METRICS_USERNAME: 'bob', LANSCAPE_METRICS_PASSWORD: 'pw12' }),
    );
    const problem = problemAbout(problems, 'metrics.password');
    assertIncludesAll(problem, ['LANSCAPE_METRICS_PASSWORD', '***', '8']);
    assert.ok(!problems.join('\n').includes('pw12'));
  });

  it('tls cert without key', () => {
    const problems = problemsOf(() => loadConfig({}, yamlFile('tls:\n  cert_file: /etc/cert.pem\n')));
    assertIncludesAll(problemAbout(problems, 'tls'), ['cert_file', 'key_file']);
  });

  it('several bad values are reported together', () => {
    const problems = problemsOf(() =>
      loadConfig({ LANSCAPE_LOG_LEVEL: 'loud', LANSCAPE_SCAN_PPS: '0', LANSCAPE_LISTEN: ':70000' }),
    );
    assert.equal(problems.length, 3);
    problemAbout(problems, 'log_level');
    problemAbout(problems, 'scan.pps');
    problemAbout(problems, 'listen');
  });
});

describe('settings the environment cannot silently replace', () => {
  it('reports a file value that is not a mapping where an env var needs one', () => {
    const file = yamlFile('scan: 5\n');
    const problems = problemsOf(() => loadConfig({ LANSCAPE_SCAN_PPS: '10' }, file));
    assertIncludesAll(problemAbout(problems, 'LANSCAPE_SCAN_PPS'), ['scan', file, 'mapping']);
  });

  it('gives one clear problem for a listen value that is not host:port', () => {
    const problems = problemsOf(() => loadConfig({ LANSCAPE_LISTEN: 'nonsense' }));
    assert.equal(problems.length, 1);
    assertIncludesAll(problems[0]!, ['listen', 'LANSCAPE_LISTEN', 'host:port']);
  });
});
