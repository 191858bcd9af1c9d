// The exporter's command line and start-up: bad flags and bad settings fail fast with a clear
// message and exit code 2; a store from a newer Lanscape is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import Database from 'better-sqlite3';
import { EXPORTER_DIR, spawnExporter, tempDir, testEnv } from './helpers/exporter.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

function main(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: EXPORTER_DIR,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

it('rejects unknown flags and stray arguments', () => {
  const r = main(['--listen', ':1'], {});
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown option '--listen'/);
  assert.match(r.stderr, /usage: lanscape-exporter/);
  assert.equal(main(['serve'], {}).code, 2);
});

it('prints the version and checks a configuration', () => {
  assert.match(main(['--version'], {}).stdout, /^\d+\.\d+\.\d+\n$/);
  const ok = main(['--check-config'], testEnv(join(dir, 'a.db')));
  assert.equal(ok.code, 0, ok.stderr);
});

it('names the bad setting, where it came from and what is allowed', () => {
  const r = main(['--check-config'], { LANSCAPE_SCAN_MAX_PREFIX: '4', LANSCAPE_LISTEN: 'everywhere' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /scan\.max_prefix \(from LANSCAPE_SCAN_MAX_PREFIX\) = 4: .*>=8/);
  assert.match(r.stderr, /listen \(from LANSCAPE_LISTEN\) = "everywhere": expected host:port/);
  const yaml = join(dir, 'bad.yaml');
  writeFileSync(yaml, 'listen: ":9645"\nscna:\n  pps: 10\n');
  const f = main(['--config', yaml, '--check-config'], {});
  assert.equal(f.code, 2);
  assert.match(f.stderr, /unknown setting scna in .*bad\.yaml/);
});

it('refuses a store written by a newer Lanscape, and a database that is not a store', () => {
  const newer = join(dir, 'newer.db');
  const db = new Database(newer);
  db.pragma('application_id = 1280201539');
  db.pragma('user_version = 999');
  db.exec('CREATE TABLE t (x)');
  db.close();
  const r = main([], testEnv(newer));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /schema version 999, newer than this exporter understands/);
  const other = join(dir, 'other.db');
  const o = new Database(other);
  o.exec('CREATE TABLE customers (id)');
  o.close();
  const r2 = main([], testEnv(other));
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /not a Lanscape store/);
});

it('explains a port that is taken', () => {
  // A helper process holds a port and runs the exporter against it.
  const blocker = spawnSync(
    process.execPath,
    [
      '-e',
      `
    const s = require('net').createServer().listen(0, '127.0.0.1', () => {
      const { spawnSync } = require('child_process');
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ${JSON.stringify(EXPORTER_DIR)},
        env: { PATH: process.env.PATH, LANSCAPE_DB: ${JSON.stringify(join(dir, 'port.db'))}, LANSCAPE_LISTEN: '127.0.0.1:' + s.address().port },
        encoding: 'utf8', timeout: 30000 });
      process.stdout.write(JSON.stringify({ code: r.status, stderr: r.stderr }));
      s.close();
    });`,
    ],
    { encoding: 'utf8', timeout: 40_000 },
  );
  const r = JSON.parse(blocker.stdout) as { code: number; stderr: string };
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
});

it('tells a first-time user without tokens how to create one', async () => {
  const env = testEnv(join(dir, 'no-tokens.db'));
  delete (env as Record<string, string | undefined>).LANSCAPE_READ_TOKEN;
  delete (env as Record<string, string | undefined>).LANSCAPE_WRITE_TOKEN;
  delete (env as Record<string, string | undefined>).LANSCAPE_ADMIN_TOKEN;
  const exporter = await spawnExporter(env);
  try {
    const unauthorized = await exporter.api.get('/api/v1/subnets', null);
    assert.equal(unauthorized.status, 401);
    await waitFor(() => /no API tokens are set/.test(exporter.output()));
    assert.match(exporter.output(), /openssl rand -hex 24 > lanscape-write\.token/);
  } finally {
    await exporter.stop();
  }
  const withToken = await spawnExporter(testEnv(join(dir, 'tokens.db')));
  await withToken.stop();
  assert.doesNotMatch(withToken.output(), /no API tokens are set/);
});

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
