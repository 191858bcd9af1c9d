// The Prometheus rules in alerting/: they pass `promtool check rules` and their unit tests
// (`promtool test rules`), every alert follows the conventions (severity, summary, description,
// a runbook section in docs/runbooks.md), and every alert has tests that expect it firing and
// not firing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { requireTool } from '../exporter/test/helpers/tools.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const ALERTING = join(REPO, 'alerting');
const TESTS = join(ALERTING, 'tests');
const RUNBOOKS = join(REPO, 'docs/runbooks.md');
const RUNBOOK_BASE = 'https://github.com/lanscape/lanscape/blob/main/docs/runbooks.md#';

const REQUIRED_ALERTS = [
  'LanscapeExporterDown', 'LanscapeScanFailing', 'LanscapeScanStale', 'LanscapeReservedHostDown', 'LanscapeUnknownDevice',
  'LanscapeIPConflict', 'LanscapeSubnetNearlyFull', 'LanscapeStaleReservation', 'LanscapeThroughputDegraded',
  'LanscapeDockerEndpointDown', 'LanscapeContainerDown', 'LanscapeContainerRestarting', 'LanscapeContainerUnhealthy',
  'LanscapeProxmoxUnreachable', 'LanscapeProxmoxNodeDown', 'LanscapeVmCreationFailed', 'LanscapeAgentDown',
];
const REQUIRED_RECORDS = ['address:lanscape_host_up:avg_over_time1h', 'subnet_le:lanscape_host_rtt_seconds_bucket:rate5m'];
const SEVERITIES = new Set(['critical', 'warning', 'info']);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile { groups: { name: string; rules: Rule[] }[] }
interface AlertTest { eval_time: string; alertname: string; exp_alerts?: unknown[] | null }
interface TestFile {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: AlertTest[]; promql_expr_test?: { expr: string }[] }[];
}

const ruleFiles = readdirSync(ALERTING).filter((f) => f.endsWith('.rules.yml')).sort().map((f) => join(ALERTING, f));
const testFiles = readdirSync(TESTS).filter((f) => f.endsWith('.test.yml')).sort().map((f) => join(TESTS, f));
const rules = ruleFiles.flatMap((f) => (parse(readFileSync(f, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules));
const alerts = rules.filter((r): r is Rule & { alert: string } => typeof r.alert === 'string');
const records = rules.filter((r): r is Rule & { record: string } => typeof r.record === 'string');
const alertNames = [...new Set(alerts.map((a) => a.alert))];
const tests = testFiles.map((f) => ({ file: f, doc: parse(readFileSync(f, 'utf8')) as TestFile }));

function promtool(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

describe('alerting rules pass promtool', () => {
  it('finds rule files and test files', () => {
    assert.ok(ruleFiles.length > 0, 'no alerting/*.rules.yml');
    assert.ok(testFiles.length > 0, 'no alerting/tests/*.test.yml');
  });

  for (const file of ruleFiles) {
    it(`promtool check rules ${file.slice(REPO.length)}`, (t) => {
      if (!requireTool(t, 'promtool', 'apt-get install prometheus')) return;
      const r = promtool(['check', 'rules', file]);
      assert.equal(r.code, 0, r.out);
    });
  }

  for (const file of testFiles) {
    it(`promtool test rules ${file.slice(REPO.length)}`, (t) => {
      if (!requireTool(t, 'promtool', 'apt-get install prometheus')) return;
      const r = promtool(['test', 'rules', file]);
      assert.equal(r.code, 0, r.out);
    });
  }
});

describe('alerting rule conventions', () => {
  const runbooks = readFileSync(RUNBOOKS, 'utf8');
  const headings = new Set([...runbooks.matchAll(/^## (\S+)\s*$/gm)].map((m) => m[1]));

  it('has every required alert', () => {
    for (const name of REQUIRED_ALERTS) assert.ok(alertNames.includes(name), `missing alert ${name}`);
  });

  for (const rule of alerts) {
    it(`${rule.alert} (${rule.labels?.severity ?? 'no severity'}) has severity, summary, description and a runbook`, () => {
      assert.ok(SEVERITIES.has(rule.labels?.severity ?? ''), `${rule.alert}: severity ${rule.labels?.severity} is not critical|warning|info`);
      assert.ok(rule.annotations?.summary?.trim(), `${rule.alert}: no summary`);
      assert.ok(rule.annotations?.description?.trim(), `${rule.alert}: no description`);
      assert.equal(rule.annotations?.runbook_url, `${RUNBOOK_BASE}${rule.alert.toLowerCase()}`);
      assert.ok(headings.has(rule.alert), `docs/runbooks.md has no "## ${rule.alert}" section`);
    });
  }

  it('has no runbook section without an alert', () => {
    const orphans = [...headings].filter((h): h is string => h !== undefined && /^Lanscape/.test(h) && !alertNames.includes(h));
    assert.deepEqual(orphans, []);
  });

  it('names recording rules level:metric:operations, the ones dashboards use included', () => {
    assert.ok(records.length > 0, 'no recording rules');
    for (const r of records) assert.match(r.record, /^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
    for (const name of REQUIRED_RECORDS) assert.ok(records.some((r) => r.record === name), `missing recording rule ${name}`);
  });
});

describe('alerting unit tests cover every alert', () => {
  const cases = tests.flatMap(({ doc }) => doc.tests.flatMap((g) => g.alert_rule_test ?? []));

  it('load the rule files that exist', () => {
    for (const { file, doc } of tests) {
      for (const ref of doc.rule_files) {
        assert.ok(ruleFiles.includes(join(TESTS, ref)), `${file}: rule file ${ref} is not an alerting/*.rules.yml`);
      }
    }
  });

  for (const name of [...new Set([...REQUIRED_ALERTS, ...alertNames])]) {
    it(`${name} is tested firing and not firing`, () => {
      const mine = cases.filter((c) => c.alertname === name);
      assert.ok(mine.some((c) => Array.isArray(c.exp_alerts) && c.exp_alerts.length > 0), `${name}: no test expects it firing`);
      assert.ok(mine.some((c) => Array.isArray(c.exp_alerts) && c.exp_alerts.length === 0), `${name}: no test with exp_alerts: []`);
    });
  }

  it('tests every recording rule with promql_expr_test', () => {
    const exprs = tests.flatMap(({ doc }) => doc.tests.flatMap((g) => g.promql_expr_test ?? []).map((c) => c.expr));
    for (const r of records) assert.ok(exprs.some((e) => e.includes(r.record)), `${r.record} has no promql_expr_test`);
  });
});
