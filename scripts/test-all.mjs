#!/usr/bin/env node
// `npm test` at the root: runs every suite even when an earlier one fails, prints one summary
// line per suite, and exits non-zero if any failed. Under CI=true it also runs the exporter's
// suite with the machine clock shifted a year forward and a year back (Debian's faketime), which
// proves no test depends on the real date.
//   node scripts/test-all.mjs [suite ...]     (default: every suite; names as printed)
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CI = Boolean(process.env.CI);
const hasFaketime = spawnSync('sh', ['-c', 'command -v faketime'], { stdio: 'ignore' }).status === 0;

/** A year each way; monotonic time stays real so timers and timeouts behave. */
const shifted = (offset) => ({
  name: `exporter (clock ${offset})`,
  command: ['faketime', '-f', offset, 'npm', 'test', '-w', 'exporter'],
  env: { FAKETIME_DONT_FAKE_MONOTONIC: '1' },
  needs: 'faketime',
});

const SUITES = [
  { name: 'lint', command: ['npm', 'run', 'lint'] },
  { name: 'exporter', command: ['npm', 'test', '-w', 'exporter'] },
  // The API and domain suites again with every store on PostgreSQL (#14; a throw-away cluster per file).
  { name: 'exporter (postgres)', command: ['npm', 'run', 'test:postgres', '-w', 'exporter'] },
  { name: 'plugin', command: ['npm', 'test', '-w', 'grafana-app-plugin'] },
  { name: 'stack', command: ['npm', 'run', 'test:stack'] },
  ...(CI || process.env.LANSCAPE_CLOCK_SHIFT ? [shifted('+365d'), shifted('-365d')] : []),
];

function run(suite) {
  return new Promise((resolve) => {
    if (suite.needs === 'faketime' && !hasFaketime) {
      console.error(`\n${suite.name}: faketime is not installed (apt-get install faketime)`);
      resolve(1);
      return;
    }
    console.log(`\n===== ${suite.name}: ${suite.command.join(' ')}`);
    const child = spawn(suite.command[0], suite.command.slice(1), {
      cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...suite.env },
    });
    child.on('error', (err) => { console.error(`${suite.name}: ${err.message}`); resolve(1); });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !SUITES.some((s) => s.name === w));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const results = [];
for (const suite of SUITES.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
  const started = Date.now();
  const code = await run(suite);
  results.push({ name: suite.name, code, seconds: Math.round((Date.now() - started) / 1000) });
}
console.log('\n===== summary');
for (const r of results) console.log(`${r.code === 0 ? 'PASS' : 'FAIL'}  ${r.name} (${r.seconds} s)`);
const failed = results.filter((r) => r.code !== 0);
console.log(failed.length ? `${failed.length} of ${results.length} suites failed: ${failed.map((r) => r.name).join(', ')}` : `all ${results.length} suites passed`);
// The plain closing line CI systems read: suites, not tests (each suite prints its own counts).
console.log(`suites: ${results.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
