// The stack's configuration as shipped: Prometheus and Alertmanager configs pass their own
// checkers, docker-compose.yml passes `docker-compose config` and dclint, .env.example documents
// every variable, and the Grafana provisioning matches the plugin and the compose mounts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { requireTool } from '../exporter/test/helpers/tools.js';
import { ALERTMANAGER_YML, COMPOSE_YML, REPO, prometheusConfigForTest, readYaml } from './helpers/stack.js';

const tmp = mkdtempSync(join(tmpdir(), 'lanscape-stack-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, timeout: 120_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const compose = readYaml(COMPOSE_YML);
const envExample = readFileSync(join(REPO, '.env.example'), 'utf8');
const pluginJson = JSON.parse(readFileSync(join(REPO, 'grafana-app-plugin/src/plugin.json'), 'utf8'));

/** .env.example with the required secrets filled in, as a user would. */
function filledEnvFile(): string {
  const file = join(tmp, 'filled.env');
  writeFileSync(file, envExample
    .replace(/^(LANSCAPE_(READ|WRITE|ADMIN)_TOKEN)=$/gm, (_, name: string) => `${name}=${name.toLowerCase()}-0123456789abcdef`)
    .replace(/^GF_SECURITY_ADMIN_PASSWORD=$/m, 'GF_SECURITY_ADMIN_PASSWORD=not-the-default'));
  return file;
}

describe('Prometheus and Alertmanager configuration', () => {
  for (const name of ['prometheus.yml', 'prometheus-ha.yml']) {
    it(`${name} passes \`promtool check config\`, rule files included`, (t) => {
      if (!requireTool(t, 'promtool', 'apt-get install prometheus')) return;
      const tokenFile = join(tmp, 'read-token');
      writeFileSync(tokenFile, 'read-token-0123456789abcdef');
      const config = join(tmp, name);
      writeFileSync(config, prometheusConfigForTest({ tokenFile }, join(REPO, 'provisioning/prometheus', name)));
      const r = run('promtool', ['check', 'config', config]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /SUCCESS: \d+ rules found/, 'the alerting rule files were found and checked');
    });
  }

  it('the ha profile: Prometheus scrapes each replica, never the balancer; the rest is as in prometheus.yml', () => {
    const single = readYaml(join(REPO, 'provisioning/prometheus/prometheus.yml'));
    const ha = readYaml(join(REPO, 'provisioning/prometheus/prometheus-ha.yml'));
    const jobs = (c: any) => new Map((c.scrape_configs as any[]).map((j) => [j.job_name, j]));
    assert.deepEqual(jobs(ha).get('lanscape').static_configs[0].targets, ['127.0.0.1:9646', '127.0.0.1:9647']);
    jobs(single).get('lanscape').static_configs = jobs(ha).get('lanscape').static_configs;
    assert.deepEqual(ha, single);
  });

  it('provisioning/haproxy/haproxy.cfg passes `haproxy -c` and checks /readyz of each replica', (t) => {
    if (!requireTool(t, 'haproxy', 'apt-get install haproxy')) return;
    const cfg = join(REPO, 'provisioning/haproxy/haproxy.cfg');
    const r = run('haproxy', ['-c', '-f', cfg]);
    assert.equal(r.code, 0, r.out);
    const text = readFileSync(cfg, 'utf8');
    assert.match(text, /option httpchk GET \/readyz/);
    assert.match(text, /retry-on conn-failure/, 'only requests never sent are retried');
    assert.doesNotMatch(text, /retry-on [^\n]*(response-timeout|all-retryable)/, 'a write already sent is never replayed');
  });

  it('scrapes the exporter and discovers node_exporters through its http_sd endpoint with the read token', () => {
    const config = readYaml(join(REPO, 'provisioning/prometheus/prometheus.yml'));
    const jobs = new Map((config.scrape_configs as any[]).map((j) => [j.job_name, j]));
    assert.deepEqual(jobs.get('lanscape').static_configs[0].targets, ['127.0.0.1:9645']);
    const sd = jobs.get('node').http_sd_configs[0];
    assert.equal(new URL(sd.url).pathname, '/api/v1/sd');
    assert.equal(new URL(sd.url).searchParams.get('port'), '9100');
    assert.equal(sd.authorization.credentials_file, '/prometheus/lanscape-read-token');
    assert.deepEqual(config.alerting.alertmanagers[0].static_configs[0].targets, ['127.0.0.1:9093']);
    assert.deepEqual(config.rule_files, ['/etc/prometheus/alerting/*.rules.yml']);
  });

  it('alertmanager.yml passes `amtool check-config`', (t) => {
    if (!requireTool(t, 'amtool', 'apt-get install prometheus-alertmanager')) return;
    const r = run('amtool', ['check-config', ALERTMANAGER_YML]);
    assert.equal(r.code, 0, r.out);
  });

  it('routes by severity and subnet, groups by alertname/subnet, inhibits warnings under a critical', (t) => {
    if (!requireTool(t, 'amtool', 'apt-get install prometheus-alertmanager')) return;
    const am = readYaml(ALERTMANAGER_YML);
    assert.deepEqual(am.route.group_by, ['alertname', 'subnet', 'vrf']);
    const inhibit = am.inhibit_rules.find((r: any) => r.source_matchers.includes('severity="critical"'));
    assert.deepEqual(inhibit.target_matchers, ['severity="warning"']);
    assert.ok(inhibit.equal.includes('subnet') && inhibit.equal.includes('instance'));
    // `amtool config routes test` walks the real routing tree.
    const route = (labels: string[]) => {
      const r = run('amtool', ['config', 'routes', 'test', '--config.file', ALERTMANAGER_YML, '--verify.receivers=lanscape-webhook', ...labels]);
      assert.equal(r.code, 0, r.out);
      return r.out.trim();
    };
    route(['alertname=LanscapeSubnetNearlyFull', 'severity=critical', 'subnet=10.0.0.0/24']);
    route(['alertname=LanscapeExporterDown', 'severity=critical', 'instance=127.0.0.1:9645']);
    const tree = run('amtool', ['config', 'routes', 'show', '--config.file', ALERTMANAGER_YML]).out;
    assert.match(tree, /severity="critical"/);
    assert.match(tree, /subnet=""/);
  });
});

describe('docker-compose.yml', () => {
  it('pins every image to a version and builds the exporter from exporter/Dockerfile', () => {
    for (const [name, svc] of Object.entries<any>(compose.services)) {
      if (svc.build) {
        assert.equal(svc.build.dockerfile, 'exporter/Dockerfile', name);
        continue;
      }
      if (svc.extends) {
        assert.deepEqual(svc.extends, { service: 'exporter' }, `${name} is another exporter replica`);
        continue;
      }
      // PostgreSQL's images name releases major.minor (15.10); the others major.minor.patch.
      const pinned = name === 'postgres' ? /^postgres:\d+\.\d+$/ : /^[\w./-]+:v?\d+\.\d+\.\d+$/;
      assert.match(svc.image, pinned, `${name} image ${svc.image} is pinned`);
      assert.equal(svc.restart, 'unless-stopped', name);
    }
    assert.deepEqual(Object.keys(compose.services).sort(), [
      'alertmanager',
      'docker-socket-proxy',
      'exporter',
      'exporter-2',
      'grafana',
      'haproxy',
      'postgres',
      'prometheus',
    ]);
    // The scale-out services start only with `--profile ha`; the default stack is unchanged.
    for (const name of ['postgres', 'exporter-2', 'haproxy']) assert.deepEqual(compose.services[name].profiles, ['ha'], name);
    for (const name of ['exporter', 'prometheus', 'grafana']) assert.equal(compose.services[name].profiles, undefined, name);
    const proxy = compose.services['docker-socket-proxy'];
    assert.equal(proxy.environment.POST, 0, 'the Docker socket proxy refuses every change');
    assert.deepEqual(proxy.ports, ['127.0.0.1:2375:2375'], 'the proxy (no authentication) listens on loopback only');
    assert.ok(proxy.volumes.includes('/var/run/docker.sock:/var/run/docker.sock:ro'));
    const exporter = compose.services.exporter;
    assert.equal(exporter.network_mode, 'host');
    assert.deepEqual(exporter.cap_add, ['NET_RAW']);
    assert.ok(exporter.healthcheck, 'the exporter has a healthcheck');
    assert.ok(exporter.volumes.some((v: string) => v.endsWith(':/data')), 'the store is on a volume');
    const grafana = compose.services.grafana;
    // The app and the plugins nested in it (grafana-app-plugin/src/datasource, src/panels/*).
    assert.equal(
      grafana.environment.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS,
      [pluginJson.id, 'lanscape-ipam-datasource', 'lanscape-subnetmap-panel'].join(','),
    );
    assert.ok(grafana.volumes.includes(`./grafana-app-plugin/dist:/var/lib/grafana/plugins/${pluginJson.id}:ro`));
  });

  it('mounts files that exist in the repository', () => {
    for (const svc of Object.values<any>(compose.services)) {
      for (const v of (svc.volumes ?? []) as string[]) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('./') || source === './grafana-app-plugin/dist') continue; // dist/ is built
        assert.ok(existsSync(join(REPO, source)), `${source} exists`);
      }
    }
  });

  it('the Dockerfile is multi-stage on a pinned Node 24 slim image and runs as a non-root user with NET_RAW', () => {
    const dockerfile = readFileSync(join(REPO, 'exporter/Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24\.\d+\.\d+-bookworm-slim$/m);
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
    assert.match(dockerfile, /setcap cap_net_raw\+ep/);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^HEALTHCHECK /m);
  });

  it('.env.example documents every variable the compose file reads, each with a comment', () => {
    const used = new Set([...readFileSync(COMPOSE_YML, 'utf8').matchAll(/(?<!\$)\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    const lines = envExample.split('\n');
    const documented = new Map<string, boolean>();
    lines.forEach((line, i) => {
      const m = /^([A-Z0-9_]+)=/.exec(line);
      if (!m) return;
      // A comment may describe a block of related variables: skip up over them to it.
      let j = i - 1;
      while (j >= 0 && /^[A-Z0-9_]+=/.test(lines[j]!)) j--;
      documented.set(m[1]!, (lines[j] ?? '').startsWith('#'));
    });
    for (const name of used) {
      assert.ok(documented.has(name), `${name} is in .env.example`);
      assert.ok(documented.get(name), `${name} has a comment above it`);
    }
    for (const name of documented.keys()) {
      assert.ok(used.has(name) || name === 'COMPOSE_PROJECT_NAME', `${name} in .env.example is used by docker-compose.yml`);
    }
  });

  it('`docker-compose config` accepts it with a filled .env and names each missing secret', (t) => {
    if (!requireTool(t, 'docker-compose', 'apt-get install docker-compose')) return;
    const ok = run('docker-compose', ['--env-file', filledEnvFile(), 'config', '--quiet']);
    assert.equal(ok.code, 0, ok.out);
    const missing = run('docker-compose', ['--env-file', join(REPO, '.env.example'), 'config', '--quiet']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.out, /set LANSCAPE_\w+_TOKEN in \.env|set GF_SECURITY_ADMIN_PASSWORD in \.env/);
  });

  it('passes dclint (the compose-spec schema and its best-practice rules)', () => {
    const r = run(process.execPath, [join(REPO, 'node_modules/dclint/bin/dclint.cjs'), 'docker-compose.yml']);
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /warning|error/i, r.out);
  });
});

describe('Grafana provisioning', () => {
  const datasources = readYaml(join(REPO, 'provisioning/datasources/lanscape.yaml')).datasources as any[];
  const app = readYaml(join(REPO, 'provisioning/plugins/lanscape.yaml')).apps[0];

  it('datasources have fixed uids and point at the stack services', () => {
    const byUid = new Map(datasources.map((d) => [d.uid, d]));
    assert.equal(byUid.get('lanscape-prometheus').type, 'prometheus');
    assert.equal(byUid.get('lanscape-prometheus').url, 'http://127.0.0.1:9090');
    assert.equal(byUid.get('lanscape-alertmanager').type, 'alertmanager');
    assert.equal(byUid.get('lanscape-alertmanager').url, 'http://127.0.0.1:9093');
    assert.equal(byUid.get('lanscape-prometheus').jsonData.alertmanagerUid, 'lanscape-alertmanager');
    // The Lanscape data source: nested in the app, no URL or secrets of its own (it uses the app's proxy).
    const ipam = byUid.get('lanscape');
    assert.equal(ipam.type, 'lanscape-ipam-datasource');
    assert.equal(ipam.url, undefined);
    assert.equal(ipam.secureJsonData, undefined);
  });

  it('the app is enabled with the exporter URL and the three tokens the plugin routes use, from the environment', () => {
    assert.equal(app.type, pluginJson.id);
    assert.equal(app.disabled, false);
    const routeTemplates = JSON.stringify(pluginJson.routes);
    const secureKeys = [...routeTemplates.matchAll(/\.SecureJsonData\.(\w+)/g)].map((m) => m[1]);
    assert.deepEqual(Object.keys(app.secureJsonData).sort(), [...new Set(secureKeys)].sort());
    for (const key of [...routeTemplates.matchAll(/\.JsonData\.(\w+)/g)].map((m) => m[1]!)) {
      assert.ok(key in app.jsonData, `jsonData.${key} is provisioned`);
    }
    const grafanaEnv = compose.services.grafana.environment;
    for (const value of [...Object.values<string>(app.jsonData), ...Object.values<string>(app.secureJsonData)]) {
      const m = /^\$([A-Z_]+)$/.exec(value);
      assert.ok(m, `${value} comes from the environment`);
      assert.ok(m[1]! in grafanaEnv, `${m[1]} is passed to the grafana service`);
    }
  });

  it('the dashboards provider reads the directory compose mounts the dashboards into', () => {
    const provider = readYaml(join(REPO, 'provisioning/dashboards/lanscape.yaml')).providers[0];
    const mount = (compose.services.grafana.volumes as string[]).find((v) => v.startsWith('./dashboards:'))!;
    assert.equal(mount.split(':')[1], provider.options.path);
    assert.ok(readdirSync(join(REPO, 'dashboards')).some((f) => f.endsWith('.json')), 'dashboards/ has dashboards');
  });
});
