// The agents' report interval (#15): central decides it (agents.report_interval_seconds, per agent
// in agents.report_intervals) and hands it out with the assignments; an agent's --interval may
// shorten it, never lengthen it; health follows each agent's own interval. Bad values are refused
// with one clear line before anything starts. Central on the backend under test, clock injected.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { CentralClient } from '../src/agent/client.js';
import { agentConfigFrom } from '../src/agent/config.js';
import { DiskQueue } from '../src/agent/queue.js';
import { AgentRunner } from '../src/agent/runner.js';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { openEchoSocket, probeIcmp } from '../src/discovery/icmp.js';
import { readNeighbours } from '../src/discovery/neighbours.js';
import { openPorts } from '../src/discovery/tcp.js';
import { effectiveReportInterval } from '../src/shared/agents.js';
import { EXPORTER_DIR, startTestExporter, tempDir } from './helpers/exporter.js';

const T0 = Date.UTC(2026, 11, 4, 9);
const TOKEN = `lsa_1_${'A'.repeat(43)}`;
const AGENT_ENV = { LANSCAPE_AGENT_CENTRAL_URL: 'https://central:9645', LANSCAPE_AGENT_TOKEN: TOKEN };

describe('report interval settings (pure)', () => {
  it('an agent may shorten central’s interval, never lengthen it', () => {
    assert.equal(effectiveReportInterval(120, undefined), 120);
    assert.equal(effectiveReportInterval(120, 30), 30);
    assert.equal(effectiveReportInterval(120, 600), 120);
  });

  it('the agent’s --interval / LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS: 10–600 whole seconds', () => {
    assert.equal(agentConfigFrom(AGENT_ENV).reportIntervalSeconds, undefined);
    assert.equal(
      agentConfigFrom({ ...AGENT_ENV, LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS: '30' }).reportIntervalSeconds,
      30,
    );
    for (const bad of ['9', '601', '0', '-5', '1.5', '60s', '1e3'])
      assert.throws(
        () => agentConfigFrom({ ...AGENT_ENV, LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS: bad }),
        new RegExp(
          `^AgentConfigError: --interval / LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS: whole seconds, 10–600, not ${bad.replace('.', '\\.')}$`,
        ),
      );
  });

  it('central’s settings: bounds, per-agent names, a clear error naming the setting', (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const env = {};
    const defaults = loadConfig(env).agents;
    assert.deepEqual(defaults, { report_interval_seconds: 60, report_intervals: {} });
    assert.equal(
      loadConfig({ ...env, LANSCAPE_AGENTS_REPORT_INTERVAL_SECONDS: '600' }).agents.report_interval_seconds,
      600,
    );
    const refused = (e: Record<string, string>, file?: string) => {
      try {
        loadConfig({ ...env, ...e }, file);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems.join('\n');
      }
      assert.fail(`accepted ${JSON.stringify(e)}`);
    };
    assert.match(
      refused({ LANSCAPE_AGENTS_REPORT_INTERVAL_SECONDS: '5' }),
      /agents\.report_interval_seconds.*LANSCAPE_AGENTS_REPORT_INTERVAL_SECONDS.*at least 10 s \(10–600\)/,
    );
    assert.match(refused({ LANSCAPE_AGENTS_REPORT_INTERVAL_SECONDS: '3600' }), /at most 600 s/);
    assert.match(refused({ LANSCAPE_AGENTS_REPORT_INTERVAL_SECONDS: 'soon' }), /expected a whole number/);
    const yaml = join(dir, 'bad.yaml');
    writeFileSync(yaml, 'agents:\n  report_intervals:\n    site-a: 5\n');
    assert.match(refused({}, yaml), /agents\.report_intervals\.site-a.*at least 10 s/);
    writeFileSync(yaml, 'agents:\n  report_intervals:\n    "bad name": 60\n');
    assert.match(refused({}, yaml), /agents\.report_intervals.*an agent name/);
    writeFileSync(yaml, 'agents:\n  report_interval: 60\n');
    assert.match(refused({}, yaml), /report_interval/);
  });
});

describe('central hands out each agent’s interval and judges it by it', () => {
  it('assignments, GET /agents, lanscape_agent_up and the interval gauge per agent; the runner reports at the shorter of central’s and its own', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const clock = { now: T0 };
    const now = () => clock.now;
    const config = join(dir, 'lanscape.yaml');
    writeFileSync(config, 'agents:\n  report_interval_seconds: 120\n  report_intervals:\n    slow-site: 600\n');
    const central = await startTestExporter({ LANSCAPE_CONFIG: config }, { clock: now });
    t.after(() => central.stop());
    const reg = async (name: string) => (await central.api.post('/api/v1/agents', { name })).body;
    const fast = await reg('fast-site');
    const slow = await reg('slow-site');
    const assignments = async (token: string) => (await central.api.get('/api/v1/agent/assignments', token)).body;
    assert.equal((await assignments(fast.token)).report_interval_seconds, 120);
    assert.equal((await assignments(slow.token)).report_interval_seconds, 600);

    type Listed = { name: string; status: string; report_interval_seconds: number; last_seen_at: string };
    const listed = async (): Promise<Record<string, Listed>> =>
      Object.fromEntries(((await central.api.get('/api/v1/agents')).body.results as Listed[]).map((a) => [a.name, a]));
    assert.deepEqual(
      Object.values(await listed()).map((a) => [a.status, a.report_interval_seconds]),
      [
        ['up', 120],
        ['up', 600],
      ],
    );
    // Silent for 3 × 120 s and a second: the fast site is down, the slow one (3 × 600 s) still up.
    clock.now += 361_000;
    const after = await listed();
    assert.equal(after['fast-site']!.status, 'down');
    assert.equal(after['slow-site']!.status, 'up');
    const metrics = (await central.api.get('/metrics')).text;
    assert.match(metrics, /^lanscape_agent_up\{agent="fast-site"\} 0$/m);
    assert.match(metrics, /^lanscape_agent_up\{agent="slow-site"\} 1$/m);
    assert.match(metrics, /^lanscape_agent_report_interval_seconds\{agent="slow-site"\} 600$/m);
    clock.now += 1_440_000; // 30 min + 1 s since its heartbeat
    assert.equal((await listed())['slow-site']!.status, 'down');

    // The runner: central's 120 s with its own 30 s → a heartbeat every 30 s; its own 300 s → 120 s.
    const heartbeats = async (own: number | undefined, token: string, name: string) => {
      const warnings: string[] = [];
      const runner = new AgentRunner({
        client: new CentralClient({ centralUrl: central.url, token, caFile: undefined, fingerprint: undefined }),
        queue: new DiskQueue(join(dir, `queue-${name}`), 10),
        adapters: { icmp: probeIcmp, openEchoSocket, readNeighbours, openPorts, reverseDns: null, nmap: null, now },
        now,
        logger: pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg) }),
        version: 'test',
        reportIntervalSeconds: own,
      });
      t.after(() => runner.stop());
      const seen: number[] = [];
      const start = clock.now;
      for (let s = 0; s <= 300; s += 10) {
        clock.now = start + s * 1000;
        await runner.tick();
        const row = (await listed())[name]!;
        const at = (Date.parse(row.last_seen_at) - start) / 1000;
        if (!seen.includes(at)) seen.push(at);
      }
      return { seen, interval: runner.reportIntervalSeconds, warnings };
    };
    const shorter = await heartbeats(30, fast.token, 'fast-site');
    assert.deepEqual(shorter.seen, [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300]);
    assert.equal(shorter.interval, 30);
    assert.deepEqual(shorter.warnings, []);
    const longer = await heartbeats(300, fast.token, 'fast-site');
    assert.deepEqual(longer.seen, [0, 120, 240]);
    assert.equal(longer.interval, 120);
    assert.equal(longer.warnings.length, 1, 'said once, not at every heartbeat');
    assert.match(longer.warnings[0]!, /longer than central’s/);
  });
});

describe('agent CLI --interval', () => {
  it('a bad --interval exits 2 with the message before anything starts', (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'agent', '--interval', '5'], {
      cwd: EXPORTER_DIR,
      env: { PATH: process.env.PATH ?? '', ...AGENT_ENV, LANSCAPE_AGENT_QUEUE_DIR: join(dir, 'queue') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr.trim(),
      'lanscape: --interval / LANSCAPE_AGENT_REPORT_INTERVAL_SECONDS: whole seconds, 10–600, not 5',
    );
  });
});
