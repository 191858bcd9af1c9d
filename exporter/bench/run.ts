// `npm run bench`: runs the benchmark suites and prints one table; exits 1 when a target is missed.
//   --only NAME      run one benchmark (or one suite); repeat or comma-separate for several
//   --list           list the benchmarks
//   --profile DIR    write CPU profiles (child exporters and in-process sections) and print their top frames
//   --tsx            run the exporter from src/ through tsx instead of building dist/ first
//   --repeat N       rounds of the discovery sweeps (default 3; rows show the median round)
import os from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { discoverySuite } from './discovery.js';
import { availabilitySuite } from './availability.js';
import { ipamSuite } from './ipam.js';
import { writesSuite } from './writes.js';
import { postgresSuite } from './postgres.js';
import { agentsSuite } from './agents.js';
import { type Benchmark, type Row, Runner, type Suite, cpuSnapshot, foreignCpu, renderTable, sleep } from './lib.js';

/** Add a suite here and it is run, listed and selectable with --only. */
const SUITES: readonly Suite[] = [
  ipamSuite,
  writesSuite,
  discoverySuite,
  availabilitySuite,
  postgresSuite,
  agentsSuite,
];

const USAGE = 'usage: npm run bench -- [--only NAME]... [--list] [--profile DIR] [--tsx] [--with-fping] [--repeat N]';

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    list: { type: 'boolean' },
    profile: { type: 'string' },
    tsx: { type: 'boolean' },
    'with-fping': { type: 'boolean' },
    repeat: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const all = SUITES.flatMap((s) => s.benchmarks.map((b) => ({ suite: s.name, bench: b })));
if (values.list) {
  for (const { suite, bench } of all) process.stdout.write(`${suite}/${bench.name}\t${bench.description}\n`);
  process.exit(0);
}

const wanted = (values.only ?? [])
  .flatMap((v) => v.split(','))
  .map((v) => v.trim())
  .filter(Boolean);
const unknown = wanted.filter(
  (w) => !all.some(({ suite, bench }) => bench.name === w || suite === w || `${suite}/${bench.name}` === w),
);
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark(s): ${unknown.join(', ')}; known: ${all.map((a) => a.bench.name).join(', ')}\n`,
  );
  process.exit(2);
}
const selected: Benchmark[] = all
  .filter(
    ({ suite, bench }) =>
      wanted.length === 0 || wanted.some((w) => w === bench.name || w === suite || w === `${suite}/${bench.name}`),
  )
  .map((a) => a.bench);

const runner = new Runner({
  profileDir: values.profile ? resolve(values.profile) : undefined,
  useTsx: values.tsx ?? false,
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    runner.cleanup();
    process.exit(130);
  });
}
process.once('exit', () => runner.cleanup());

runner.log(
  `machine: ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''}, node ${process.version}, ${os.platform()} ${os.release()}`,
);
{
  // One second of machine-wide CPU before starting: a busy machine makes every number pessimistic.
  const before = cpuSnapshot();
  await sleep(1000);
  const idle = foreignCpu(before, cpuSnapshot());
  const busy = Number(/(\d+)%/.exec(idle)?.[1] ?? 0);
  runner.log(`before starting, ${idle}${busy > 10 ? ' — warning: results will be pessimistic' : ''}`);
}
const started = performance.now();
const cpuAtStart = cpuSnapshot();
const rows: Row[] = [];
for (const bench of selected) {
  runner.log(`running ${bench.name}: ${bench.description}`);
  const t0 = performance.now();
  const cpu0 = cpuSnapshot();
  try {
    rows.push(...(await bench.run(runner)));
  } catch (e) {
    const err = e as Error;
    runner.log(`${bench.name} failed: ${err.stack ?? err.message}`);
    rows.push({ benchmark: bench.name, target: '-', result: `error: ${err.message.split('\n')[0]}`, pass: false });
  }
  runner.log(
    `${bench.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${foreignCpu(cpu0, cpuSnapshot())}`,
  );
}
runner.cleanup();
const cpuAtEnd = cpuSnapshot();

process.stdout.write(`\n${renderTable(rows)}\n\n`);
const missed = rows.filter((r) => r.pass === false);
process.stdout.write(
  `${rows.length - missed.length}/${rows.length} rows ok, ${missed.length} missed; ` +
    `total ${((performance.now() - started) / 1000).toFixed(0)} s; ${foreignCpu(cpuAtStart, cpuAtEnd)}\n`,
);
process.exitCode = missed.length > 0 ? 1 : 0;
