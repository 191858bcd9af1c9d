// JSON checks of the Grafana dashboards in dashboards/ and of their bundling in the app plugin.
// The PromQL is parsed offline with `promtool check rules` (every expr as a recording rule); the
// end-to-end test runs the same queries (panelQueries) against a real Prometheus.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import {
  BUILTIN_VARIABLES, MAY_BE_EMPTY, REPO_ROOT, VARIABLE_REFERENCE, allPanels, isMayBeEmpty, loadDashboards, panelQueries,
  substitute,
} from './helpers/dashboards.js';

/** Dashboard uid → title. */
const DASHBOARDS: Record<string, string> = {
  'lanscape-overview': 'Lanscape / Overview',
  'lanscape-subnet': 'Lanscape / Subnet',
  'lanscape-host': 'Lanscape / Host',
  'lanscape-scanner': 'Lanscape / Scanner',
  'lanscape-traffic': 'Lanscape / Traffic',
  'lanscape-docker': 'Lanscape / Docker',
  'lanscape-proxmox': 'Lanscape / Proxmox',
};
/** Grafana 13's dashboard schema version (@grafana/schema 13.1.1 defaultDashboard). */
const SCHEMA_VERSION = 42;
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const DATASOURCE_UID = 'lanscape-prometheus';
/** The Lanscape data source (nested in the app, provisioned with this uid): the IPAM panels. */
const IPAM = { type: 'lanscape-ipam-datasource', uid: 'lanscape' };
const IPAM_QUERY_TYPES = new Set(['subnets', 'addresses', 'freeRanges', 'ranges', 'events', 'conflicts', 'guests']);
const PANEL_TYPES = new Set([
  'row', 'timeseries', 'stat', 'gauge', 'bargauge', 'table', 'heatmap', 'state-timeline', 'status-history',
  'piechart', 'barchart', 'text', 'lanscape-subnetmap-panel',
]);
const isIpam = (p: any) => p.datasource?.type === IPAM.type;
/** Recording rules the dashboards use (alerting/*.rules.yml). */
const RECORDING_RULES = new Set(['address:lanscape_host_up:avg_over_time1h', 'subnet_le:lanscape_host_rtt_seconds_bucket:rate5m']);
const SAMPLE_VARS = { vrf: 'global', subnet: '192.0.2.0/24', address: '192.0.2.10', source: '.+', target: '.+', endpoint: '.+', node: '.+' };

const dashboards = loadDashboards();
const byUid = new Map(dashboards.map((d) => [d.json.uid as string, d.json]));

/** Every value of a key anywhere in a JSON tree, with its path. */
function collect(node: unknown, key: string, path = '$', out: { path: string; value: any }[] = []) {
  if (Array.isArray(node)) node.forEach((n, i) => collect(n, key, `${path}[${i}]`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push({ path: `${path}.${k}`, value: v });
      collect(v, key, `${path}.${k}`, out);
    }
  }
  return out;
}

function variableNames(text: string): string[] {
  return [...text.matchAll(VARIABLE_REFERENCE)].map((m) => (m[1] ?? m[3] ?? m[5])!);
}

/** Brackets and quotes balance (the fallback when promtool is missing). */
function balanced(expr: string): string | undefined {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      const end = expr.indexOf(c, i + 1);
      if (end < 0) return `unclosed ${c} at ${i}`;
      i = end;
    } else if ('([{'.includes(c)) stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return `unbalanced ${c} at ${i}`;
  }
  return stack.length ? `unclosed ${stack.join('')}` : undefined;
}

/** lanscape_* metric names the exporter registers (histograms with their series suffixes). */
function exporterMetricNames(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/['"](lanscape_[a-z0-9_]+)['"]/g)) names.add(m[1]!);
      }
    }
  };
  walk(join(REPO_ROOT, 'exporter', 'src'));
  for (const n of [...names]) for (const s of ['_bucket', '_sum', '_count']) names.add(n + s);
  return names;
}

describe('dashboards', () => {
  it('are the Lanscape dashboards of DASHBOARDS, one file per uid', () => {
    assert.deepEqual(dashboards.map((d) => d.file), Object.keys(DASHBOARDS).sort().map((u) => `dashboards/${u}.json`));
    for (const { file, json } of dashboards) {
      assert.equal(file, `dashboards/${json.uid}.json`);
      assert.equal(json.title, DASHBOARDS[json.uid]);
    }
    assert.equal(new Set(dashboards.map((d) => d.json.uid)).size, dashboards.length);
  });

  for (const { file, json } of dashboards) {
    describe(file, () => {
      const panels = allPanels(json);
      const queryPanels = panels.filter((p) => p.type !== 'row' && p.type !== 'text');
      const vars: any[] = json.templating?.list ?? [];

      it('is valid JSON with the dashboard settings', () => {
        JSON.parse(readFileSync(join(REPO_ROOT, file), 'utf8'));
        assert.ok(json.schemaVersion >= SCHEMA_VERSION, `schemaVersion ${json.schemaVersion} < ${SCHEMA_VERSION}`);
        assert.deepEqual(json.tags, ['lanscape']);
        assert.equal(json.editable, true);
        assert.equal(json.graphTooltip, 1);
        assert.equal(json.refresh, '1m');
        assert.deepEqual(json.time, { from: 'now-6h', to: 'now' });
        assert.ok(json.id === null || json.id === undefined, 'no database id in a provisioned dashboard');
        assert.ok(typeof json.description === 'string' && json.description.length > 0);
      });

      it('panels: unique ids and titles, a known type, a gridPos inside 24 columns', () => {
        const ids = panels.map((p) => p.id);
        assert.ok(ids.every((id) => Number.isInteger(id)), 'every panel has an integer id');
        assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
        const titles = queryPanels.map((p) => p.title);
        assert.equal(new Set(titles).size, titles.length, `panel titles are unique: ${titles}`);
        for (const p of panels) {
          assert.ok(PANEL_TYPES.has(p.type), `${p.title}: unknown type ${p.type}`);
          assert.ok(typeof p.title === 'string' && p.title.length > 0);
          const g = p.gridPos;
          assert.ok(g && [g.x, g.y, g.w, g.h].every((n) => Number.isInteger(n) && n >= 0), `${p.title}: gridPos`);
          assert.ok(g.w > 0 && g.h > 0 && g.x + g.w <= 24, `${p.title}: gridPos ${JSON.stringify(g)}`);
        }
        // Top-level panels do not overlap (rows' nested panels are laid out when expanded).
        const top = (json.panels as any[]).map((p) => p.gridPos);
        for (let i = 0; i < top.length; i++) {
          for (let j = i + 1; j < top.length; j++) {
            const a = top[i], b = top[j];
            const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
            assert.ok(!overlap, `${json.panels[i].title} overlaps ${json.panels[j].title}`);
          }
        }
      });

      it('every panel and target queries ${datasource} (IPAM panels: the Lanscape data source), never another datasource', () => {
        for (const p of queryPanels.filter(isIpam)) {
          assert.deepEqual(p.datasource, IPAM, `${p.title}: panel datasource`);
          assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `${p.title}: has targets`);
          for (const t of p.targets) {
            assert.deepEqual(t.datasource, IPAM, `${p.title}/${t.refId}: target datasource`);
            assert.ok(IPAM_QUERY_TYPES.has(t.queryType), `${p.title}/${t.refId}: query type ${t.queryType}`);
            assert.equal(t.expr, undefined);
          }
        }
        for (const p of queryPanels.filter((p) => !isIpam(p))) {
          assert.deepEqual(p.datasource, DATASOURCE, `${p.title}: panel datasource`);
          assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `${p.title}: has targets`);
          const refIds = p.targets.map((t: any) => t.refId);
          assert.equal(new Set(refIds).size, refIds.length, `${p.title}: refIds are unique`);
          for (const t of p.targets) {
            assert.deepEqual(t.datasource, DATASOURCE, `${p.title}/${t.refId}: target datasource`);
            assert.ok(typeof t.expr === 'string' && t.expr.trim().length > 0, `${p.title}/${t.refId}: expr`);
            if (t.format === 'table') assert.equal(t.instant, true, `${p.title}/${t.refId}: table queries are instant`);
          }
        }
        for (const p of panels.filter((p) => p.type === 'row')) assert.equal(p.targets, undefined, `${p.title}: rows query nothing`);
        // Anywhere else in the JSON: only Grafana's built-in annotation datasource, or ${datasource}.
        for (const { path, value } of collect(json, 'datasource')) {
          const builtin = path.startsWith('$.annotations.') && value?.uid === '-- Grafana --';
          const ipam = value?.type === IPAM.type && value?.uid === IPAM.uid;
          assert.ok(builtin || ipam || (value?.type === 'prometheus' && value?.uid === '${datasource}'), `${path}: ${JSON.stringify(value)}`);
        }
        const text = JSON.stringify(json);
        assert.equal(text.split(DATASOURCE_UID).length - 1, 1, `${DATASOURCE_UID} appears only as the variable's default`);
      });

      it('the datasource variable defaults to the provisioned Prometheus', () => {
        const ds = vars.find((v) => v.name === 'datasource');
        assert.ok(ds, 'has a datasource variable');
        assert.equal(ds.type, 'datasource');
        assert.equal(ds.query, 'prometheus');
        assert.equal(ds.current?.value, DATASOURCE_UID);
        assert.equal(new Set(vars.map((v) => v.name)).size, vars.length, 'variable names are unique');
        for (const v of vars.filter((v) => v.type === 'query')) {
          assert.deepEqual(v.datasource, DATASOURCE, `${v.name}: datasource`);
          assert.equal(v.query?.query, v.definition, `${v.name}: query and definition agree`);
        }
      });

      it('variables: every one used in a query is defined, every one defined is used', () => {
        const defined = new Set(vars.map((v) => v.name));
        const used = new Set<string>();
        const exprs: string[] = [
          ...queryPanels.flatMap((p) => p.targets.map((t: any) => t.expr ?? `${t.subnet ?? ''} ${t.vrf ?? ''}`)),
          ...(json.annotations?.list ?? []).map((a: any) => `${a.target?.subnet ?? ''} ${a.target?.vrf ?? ''}`),
          ...vars.filter((v) => v.type === 'query').map((v) => v.definition as string),
        ];
        for (const expr of exprs) for (const name of variableNames(expr)) used.add(name);
        for (const name of used) {
          assert.ok(defined.has(name) || name in BUILTIN_VARIABLES, `$${name} is used but not defined`);
        }
        for (const name of defined) {
          if (name !== 'datasource') assert.ok(used.has(name), `$${name} is defined but no query uses it`);
        }
        // Legends and links may only name defined variables or Grafana's own (__value, __field, …).
        const elsewhere = [
          ...collect(json.panels, 'legendFormat').map((x) => x.value as string),
          ...collect(json, 'url').map((x) => x.value as string),
        ];
        for (const text of elsewhere) {
          for (const name of variableNames(text)) {
            assert.ok(defined.has(name) || name.startsWith('__'), `${text}: $${name} is not defined`);
          }
        }
      });

      it('links: the Lanscape dashboards by tag, data links to known uids keeping the time range', () => {
        const tagLinks = (json.links as any[]).filter((l) => l.type === 'dashboards');
        assert.equal(tagLinks.length, 1);
        assert.deepEqual(tagLinks[0].tags, ['lanscape']);
        assert.equal(tagLinks[0].keepTime, true);
        for (const { path, value } of collect(json, 'url')) {
          if (value === '') continue;
          const m = /^\/d\/([\w-]+)\?(.*)$/.exec(value);
          assert.ok(m, `${path}: ${value} is a dashboard link`);
          assert.ok(m[1]! in DASHBOARDS, `${path}: unknown dashboard uid ${m[1]}`);
          assert.ok(m[2]!.includes('${__url_time_range}'), `${path}: keeps the time range`);
          assert.ok(m[2]!.includes('${datasource:queryparam}'), `${path}: keeps the datasource`);
          const varParam = { 'lanscape-subnet': 'var-subnet=', 'lanscape-host': 'var-address=' }[m[1] as string];
          if (varParam) assert.ok(m[2]!.startsWith(varParam), `${path}: sets ${varParam}`);
        }
      });

      it('every expr parses (brackets and quotes balance; promtool below parses them fully)', () => {
        for (const p of queryPanels.filter((p) => !isIpam(p))) {
          for (const t of p.targets) {
            const problem = balanced(substitute(t.expr, SAMPLE_VARS));
            assert.equal(problem, undefined, `${p.title}/${t.refId}: ${t.expr}`);
          }
        }
      });

      it('queries name only metrics the exporter registers, standard ones, or known recording rules', () => {
        const known = exporterMetricNames();
        for (const p of queryPanels.filter((p) => !isIpam(p))) {
          for (const t of p.targets) {
            const expr = t.expr as string;
            for (const m of expr.matchAll(/\b[a-zA-Z_]\w*:[\w:]+/g)) {
              assert.ok(RECORDING_RULES.has(m[0]), `${p.title}: unknown recording rule ${m[0]}`);
            }
            for (const m of expr.replace(/\b[a-zA-Z_]\w*:[\w:]+/g, '').matchAll(/\blanscape_\w+/g)) {
              assert.ok(known.has(m[0]), `${p.title}: the exporter has no ${m[0]}`);
            }
            for (const m of (t.expr as string).matchAll(/histogram_quantile\(/g)) {
              assert.match((t.expr as string).slice(m.index), /by \([^)]*\ble\b/, `${p.title}: histogram_quantile keeps le`);
            }
          }
        }
      });
    });
  }

  it('contents: template variables, links between the dashboards, "may be empty" panels', () => {
    const queryVar = (uid: string, name: string) => byUid.get(uid)!.templating.list.find((v: any) => v.name === name);
    assert.equal(queryVar('lanscape-subnet', 'vrf')?.definition, 'label_values(lanscape_subnet_info, vrf)');
    assert.equal(queryVar('lanscape-subnet', 'subnet')?.definition, 'label_values(lanscape_subnet_info{vrf="$vrf"}, subnet)');
    assert.equal(queryVar('lanscape-host', 'address')?.definition, 'label_values(lanscape_host_info, address)');
    assert.equal(queryVar('lanscape-docker', 'endpoint')?.definition, 'label_values(lanscape_docker_up, endpoint)');
    assert.equal(queryVar('lanscape-proxmox', 'node')?.definition, 'label_values(lanscape_proxmox_node_info, node)');
    assert.deepEqual(byUid.get('lanscape-overview')!.templating.list.map((v: any) => v.name), ['datasource', 'vrf']);
    assert.deepEqual(byUid.get('lanscape-scanner')!.templating.list.map((v: any) => v.name), ['datasource']);
    const urls = (uid: string) => collect(byUid.get(uid), 'url').map((x) => x.value as string);
    assert.ok(urls('lanscape-overview').some((u) => u.startsWith('/d/lanscape-subnet?var-subnet=${__value.raw}&var-vrf=${__data.fields.vrf}')), 'overview subnet table → Subnet');
    assert.ok(urls('lanscape-overview').some((u) => u.startsWith('/d/lanscape-host?var-address=${__value.raw}')), 'overview conflicts → Host');
    assert.ok(urls('lanscape-subnet').some((u) => u.startsWith('/d/lanscape-host?var-address=${__value.raw}')), 'subnet hosts table → Host');
    assert.ok(urls('lanscape-host').some((u) => u.startsWith('/d/lanscape-subnet?var-subnet=${__value.raw}')), 'host → Subnet');
    assert.ok(urls('lanscape-proxmox').some((u) => u.startsWith('/d/lanscape-host?var-address=${__value.raw}')), 'guest addresses → Host');
    assert.ok(urls('lanscape-docker').some((u) => u.startsWith('/d/lanscape-subnet?var-subnet=')), 'Docker networks → Subnet');
    // The IPAM panels (Lanscape data source): a table on Overview, the map and the addresses on Subnet.
    const ipamPanels = (uid: string) => allPanels(byUid.get(uid)).filter(isIpam).map((p) => `${p.type} ${p.targets[0].queryType}`);
    assert.deepEqual(ipamPanels('lanscape-overview'), ['table subnets', 'table conflicts']);
    assert.deepEqual(ipamPanels('lanscape-subnet'), ['lanscape-subnetmap-panel addresses', 'table addresses', 'table freeRanges']);
    // The subnet is looked up in the dashboard's VRF: the same CIDR may be in two (#15).
    for (const p of allPanels(byUid.get('lanscape-subnet')).filter(isIpam)) {
      assert.equal(p.targets[0].subnet, '$subnet');
      assert.equal(p.targets[0].vrf, '$vrf');
    }
    const events = byUid.get('lanscape-subnet').annotations.list.find((a: any) => a.datasource?.type === IPAM.type);
    assert.deepEqual(events?.target, { datasource: IPAM, queryType: 'events', subnet: '$subnet', vrf: '$vrf', refId: 'Anno' });

    const empty = dashboards.flatMap(({ json }) => allPanels(json).filter(isMayBeEmpty).map((p) => `${json.uid}/${p.title}`));
    assert.deepEqual(empty.sort(), [
      'lanscape-docker/Network overlaps',
      'lanscape-host/Conflicts', 'lanscape-host/Open ports', 'lanscape-overview/Addresses in conflict',
      'lanscape-overview/IPAM conflicts',
      'lanscape-proxmox/Guest addresses',
      'lanscape-scanner/Agent state', 'lanscape-scanner/Time since last agent report',
      'lanscape-subnet/Addresses in conflict', 'lanscape-subnet/Free ranges', 'lanscape-subnet/Ranges',
      'lanscape-traffic/Jitter (UDP)', 'lanscape-traffic/Loss (UDP)', 'lanscape-traffic/Throughput floors',
    ]);
    for (const { json } of dashboards) {
      for (const p of allPanels(json).filter(isMayBeEmpty)) {
        assert.match(p.description, new RegExp(`${MAY_BE_EMPTY.replace(/[()]/g, '\\$&')}: \\S`), `${p.title}: gives the reason`);
      }
    }
  });

  it('panelQueries: every target once, variables and macros substituted', () => {
    const queries = panelQueries(SAMPLE_VARS);
    const targets = dashboards.flatMap(({ json }) => allPanels(json).filter((p) => !isIpam(p)).flatMap((p) => p.targets ?? []));
    assert.equal(queries.length, targets.length);
    for (const q of queries) {
      assert.ok(q.dashboard in DASHBOARDS);
      assert.doesNotMatch(q.expr, /\$|\[\[/, `${q.dashboard}/${q.panel}: ${q.expr}`);
      assert.equal(typeof q.instant, 'boolean');
    }
    const hostTable = queries.filter((q) => q.dashboard === 'lanscape-subnet' && q.panel === 'Hosts');
    assert.equal(hostTable.length, 5);
    assert.ok(hostTable.every((q) => q.instant && q.expr.includes('{subnet="192.0.2.0/24", vrf="global"}') && !q.mayBeEmpty));
    assert.ok(hostTable.some((q) => q.expr.includes('[1h]')), '$__range → 1h');
    const packets = queries.find((q) => q.panel === 'ICMP packets sent')!;
    assert.equal(packets.expr, 'sum by (subnet) (rate(lanscape_scan_packets_sent_total[1m]))');
    assert.equal(packets.instant, false);
    assert.ok(queries.some((q) => q.mayBeEmpty) && queries.some((q) => !q.mayBeEmpty));
    for (const uid of Object.keys(DASHBOARDS)) {
      assert.ok(queries.some((q) => q.dashboard === uid && !q.mayBeEmpty), `${uid} has queries that must return data`);
    }
    // Every substitution form Grafana knows.
    assert.equal(substitute('$a ${a} ${a:raw} [[a]] $__range_s $__interval', { a: 'x' }), 'x x x x 3600 15s');
    assert.equal(substitute('x=~"${a:regex}"', { a: '10.0.0.0/8' }), 'x=~"10\\\\.0\\\\.0\\\\.0/8"');
    const { address: _address, ...withoutAddress } = SAMPLE_VARS;
    assert.throws(() => panelQueries(withoutAddress), /no value for \$address/);
  });

  it('every expr parses with promtool check rules', (t) => {
    const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
    if (!promtool) {
      if (process.env.CI) throw new Error('promtool is not installed; CI must run every test');
      t.skip('promtool is not installed (apt-get install prometheus); only brackets and quotes were checked');
      return;
    }
    const queries = panelQueries(SAMPLE_VARS);
    const dir = mkdtempSync(join(tmpdir(), 'lanscape-dashboards-'));
    try {
      const file = join(dir, 'dashboards.rules.yml');
      const rules = queries.map((q, i) => ({ record: `dashboard:expr_${i}`, expr: q.expr }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboards', rules }] }));
      const r = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
      const output = (r.stdout + r.stderr).replace(/dashboard:expr_(\d+)/g, (_, i: string) => {
        const q = queries[Number(i)]!;
        return `${q.dashboard} / ${q.panel} / ${q.refId} (${q.expr})`;
      });
      assert.equal(r.status, 0, output);
      assert.match(output, new RegExp(`SUCCESS: ${queries.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the recording rules the dashboards use are defined in alerting/ (once they exist there)', (t) => {
    const dir = join(REPO_ROOT, 'alerting');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && statSync(join(dir, f)).isFile()) : [];
    const records = new Set<string>();
    for (const f of files) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
        for (const g of (doc.toJS()?.groups ?? []) as any[]) for (const r of g.rules ?? []) if (r.record) records.add(r.record);
      }
    }
    if (records.size === 0) {
      t.skip('alerting/ defines no recording rules yet');
      return;
    }
    for (const name of RECORDING_RULES) assert.ok(records.has(name), `alerting/ does not record ${name}`);
  });
});

describe('app plugin bundling', () => {
  const pluginDir = join(REPO_ROOT, 'grafana-app-plugin');

  it('src/plugin.json includes exactly these dashboards', () => {
    const plugin = JSON.parse(readFileSync(join(pluginDir, 'src', 'plugin.json'), 'utf8'));
    const included = (plugin.includes as any[]).filter((i) => i.type === 'dashboard');
    assert.deepEqual(
      included.map((i) => i.path).sort(),
      dashboards.map((d) => d.file),
    );
    for (const i of included) {
      const d = dashboards.find((x) => x.file === i.path)!.json;
      assert.equal(i.name, d.title);
      assert.equal(i.uid, d.uid);
    }
  });

  it('the build copies dashboards/ into dist/dashboards/ (no second copy in the plugin sources)', () => {
    const pkg = JSON.parse(readFileSync(join(pluginDir, 'package.json'), 'utf8'));
    assert.match(pkg.scripts.build, /-c \.\/webpack\.config\.ts\b/);
    assert.match(pkg.scripts.dev, /-c \.\/webpack\.config\.ts\b/);
    const config = readFileSync(join(pluginDir, 'webpack.config.ts'), 'utf8');
    assert.match(config, /\.config\/webpack\/webpack\.config/);
    assert.match(config, /'dashboards'/);
    assert.ok(!existsSync(join(pluginDir, 'src', 'dashboards')), 'no copy of the dashboards in src/');
  });
});
