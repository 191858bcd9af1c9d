// The Lanscape app plugin in a real browser: the BUILT dist/module.js loaded the way Grafana
// loads it (AMD, shared @grafana/* packages, @grafana/runtime services set up by the host), talking
// through a plugin proxy that applies plugin.json's routes to a real exporter process.
//   node --import tsx --test tests/browser/*.test.ts      (npm run test:browser)
// Locally a missing Chromium skips the test; under CI=true it fails. LANSCAPE_PLUGIN_DIST=<dir>
// tests a prebuilt plugin instead of building grafana-app-plugin/dist.
// Safety: everything listens on 127.0.0.1, the browser may reach nothing else, scheduled sweeps are
// off, and the only subnet scanned is a loopback one.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { requireTool } from '../../../exporter/test/helpers/tools';
import { spawnExporter, tempDir, testEnv, TOKENS, type ChildExporter } from '../../../exporter/test/helpers/exporter';
import { FakePve, selfSignedCert } from '../../../exporter/test/helpers/fake-pve';
import { freePort, startSshd, SSHD, type SshServer } from '../../../exporter/test/helpers/sshd';
import { which } from '../../../exporter/test/helpers/tools';
import { testIds } from '../../src/components/testIds';
import { GLOBAL_VRF } from '../../src/constants';
import { CHROMIUM, ensurePluginBuilt, killPid, launchChromium, type Browser } from './harness';
import { startShellServer, type Role, type ShellServer } from './server';
import { buildShell } from './shell/build';

// Tests leave the work tree clean: screenshots and results.json go to an output folder (a temp
// folder unless LANSCAPE_BROWSER_OUT names one); `npm run screenshots` at the root points
// LANSCAPE_SCREENSHOTS_DIR at docs/screenshots to refresh the README's pictures.
const OUT = process.env.LANSCAPE_BROWSER_OUT ?? mkdtempSync(join(tmpdir(), 'lanscape-browser-'));
const SCREENSHOTS = process.env.LANSCAPE_SCREENSHOTS_DIR ?? join(OUT, 'screenshots');
const RESULTS = join(OUT, 'results.json');
const APP = '/a/lanscape-ipam-app';

const SITE = '127.0.10.0/24'; // seeded through the API: the parent in which free gaps remain
const LAB = '127.0.10.0/28'; // added through the UI and scanned: loopback, every address answers
// "next free /N": a parent (never scanned) whose first /26 is taken, so the form carves the second
const CARVE_PARENT = '127.0.20.0/24';
const CARVE_TAKEN = '127.0.20.0/26';
const CARVE_NEXT = '127.0.20.64/26';
const PERF = '127.77.0.0/16'; // 5,000 used addresses for the load-time measurement (never scanned)
const PERF_CONTIGUOUS = '127.78.0.0/16';
// Traffic tests: a real sshd and an iperf3 server on 127.0.0.1; two configured hosts, loop-a (the
// SSH source) and loop-b, are both that loopback (loop-b's iperf3_port is the iperf3 server).
const LOOPBACK = '127.0.0.1';
const IPERF3 = '/usr/bin/iperf3';
const TRAFFIC_SOURCE = 'loop-a';
const TRAFFIC_TARGET = 'loop-b';

// Proxmox VE: the exporter's tests' fake PVE API (exporter/test/helpers/fake-pve.ts) on 127.0.0.1 over
// HTTPS with a throw-away certificate whose fingerprint the exporter pins. The VM subnet is TEST-NET-2,
// an IPAM record only (never scanned): its "VMs" are the fake's.
const PVE_TOKEN_ID = 'root@pam!lanscape';
const PVE_TOKEN_SECRET = '0b7e4c1a-3f52-4d8e-9a61-5c2f7e8d9b10';
const VM_SUBNET = '198.51.100.0/24';
const VM_GATEWAY = '198.51.100.1';
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG7p4mxWyuQW+Zv0fjVwL9XbQn3oH1pA/2sVbq0o0Jj1 ops@lanscape';

/** The fake PVE with a template, VMs and a container, and the env and YAML the exporter needs for it. */
async function startFakePve(
  dir: string
): Promise<{ pve: FakePve; env: Record<string, string>; yaml: string } | string> {
  if (!which('openssl')) {
    if (process.env.CI) {
      throw new Error('openssl is not installed (apt-get install openssl); CI must run every test');
    }
    return 'openssl is not installed (the fake PVE needs a certificate)';
  }
  const certs = selfSignedCert(dir);
  const pve = await new FakePve({
    cert: certs.cert,
    key: certs.key,
    tokenId: PVE_TOKEN_ID,
    tokenSecret: PVE_TOKEN_SECRET,
  }).start();
  pve.addGuest({
    vmid: 101,
    type: 'qemu',
    node: 'pve1',
    name: 'web',
    status: 'running',
    agent: true,
    ips: ['198.51.100.11/24'],
    tags: 'prod;web',
  });
  pve.addGuest({ vmid: 102, type: 'qemu', node: 'pve1', name: 'db', status: 'running', agent: false, tags: 'prod' });
  pve.addGuest({ vmid: 103, type: 'qemu', node: 'pve2', name: 'old', status: 'stopped' });
  pve.addGuest({ vmid: 201, type: 'lxc', node: 'pve2', name: 'dns', status: 'running', ips: ['198.51.100.12/24'] });
  pve.addGuest({
    vmid: 9000,
    type: 'qemu',
    node: 'pve1',
    name: 'debian-12',
    status: 'stopped',
    template: true,
    config: { scsi0: 'local-lvm:base-9000-disk-0,size=4G', ide2: 'local-lvm:cloudinit' },
  });
  return {
    pve,
    env: {
      LANSCAPE_PROXMOX_URL: pve.url,
      LANSCAPE_PROXMOX_TOKEN_ID: PVE_TOKEN_ID,
      LANSCAPE_PROXMOX_TOKEN_SECRET: PVE_TOKEN_SECRET,
      LANSCAPE_PROXMOX_FINGERPRINT: certs.fingerprint,
    },
    // Inventory every 10 s (the least), Proxmox tasks asked for every 150 ms.
    yaml: ['proxmox:', '  interval_seconds: 10', '  task_poll_ms: 150', '  timeout_seconds: 5', ''].join('\n'),
  };
}

interface TrafficLab {
  sshd: SshServer;
  iperf: ChildProcess;
  iperfPort: number;
  configFile: string;
}

/**
 * sshd and `iperf3 -s` on 127.0.0.1 and the exporter's YAML naming them, when the exporter has
 * the traffic domain and both tools are installed; else the reason it cannot run. The test stops
 * both (by PID) in its teardown.
 */
async function startTrafficLab(dir: string): Promise<TrafficLab | string> {
  for (const tool of [SSHD, IPERF3]) {
    if (!existsSync(tool)) {
      // CI must run every step: a missing tool fails there instead of skipping.
      if (process.env.CI) {
        throw new Error(`${tool} is not installed (apt-get install openssh-server iperf3); CI must run every test`);
      }
      return `${tool} is not installed`;
    }
  }
  const sshd = await startSshd({ address: LOOPBACK });
  let iperf: ChildProcess | undefined;
  try {
    const iperfPort = await freePort(LOOPBACK);
    iperf = await startIperfServer(iperfPort);
    const host = (name: string) => [
      `    - name: ${name}`,
      `      address: ${LOOPBACK}`,
      `      port: ${sshd.port}`,
      `      user: ${sshd.user}`,
      `      private_key_file: ${sshd.clientKeyFile}`,
      `      host_key: "${sshd.hostKeyFingerprint}"`,
      `      iperf3_port: ${iperfPort}`,
    ];
    const configFile = join(dir, 'lanscape.yaml');
    writeFileSync(
      configFile,
      ['traffic:', '  schedules_enabled: false', '  hosts:', ...host(TRAFFIC_SOURCE), ...host(TRAFFIC_TARGET), ''].join(
        '\n'
      )
    );
    return { sshd, iperf, iperfPort, configFile };
  } catch (e) {
    killPid(iperf?.pid);
    await sshd.stop();
    throw e;
  }
}

/** `iperf3 -s` on 127.0.0.1:port, once it listens (killed by PID if it does not). */
async function startIperfServer(port: number): Promise<ChildProcess> {
  const iperf = spawn(IPERF3, ['-s', '--forceflush', '-B', LOOPBACK, '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      killPid(iperf.pid);
      reject(new Error(`iperf3 -s did not start:\n${out}`));
    }, 10_000);
    iperf.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Server listening/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    iperf.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`iperf3 -s exited with ${code}:\n${out}`));
    });
  });
  return iperf;
}

interface Env {
  exporter: ChildExporter;
  server: ShellServer;
  browser: Browser;
}

async function setUser(env: Env, role: Role, theme: 'light' | 'dark' = 'dark'): Promise<void> {
  const url = env.server.url;
  await env.browser.context.clearCookies();
  await env.browser.context.addCookies([
    { name: 'grafana_shell_role', value: role, url },
    { name: 'grafana_shell_theme', value: theme, url },
  ]);
}

/** Opens a shell page and waits until the plugin module is loaded and mounted. */
async function open(env: Env, page: Page, path: string): Promise<void> {
  await page.goto(`${env.server.url}${path}`);
  await page.waitForFunction(() => {
    const s = (window as unknown as { __shell?: { ready: boolean; error?: string } }).__shell;
    return s?.ready || s?.error;
  });
  const error = await page.evaluate(() => (window as unknown as { __shell: { error?: string } }).__shell.error);
  assert.equal(error, undefined, `the shell could not load the plugin: ${error}`);
}

/** Calls the plugin proxy as a signed-in user of that role would (no browser). */
async function viaProxy(
  env: Env,
  role: Role,
  method: string,
  path: string,
  body?: unknown
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${env.server.url}/api/plugin-proxy/lanscape-ipam-app/${path}`, {
    method,
    headers: {
      cookie: `grafana_shell_role=${role}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

async function subnetId(env: Env, cidr: string): Promise<number | undefined> {
  const r = await env.exporter.api.get<{ results: Array<{ id: number; cidr: string }> }>(
    '/api/v1/subnets?limit=1000',
    TOKENS.admin
  );
  assert.equal(r.status, 200);
  return r.body.results.find((s) => s.cidr === cidr)?.id;
}

async function nextFree(env: Env, id: number): Promise<string> {
  const r = await env.exporter.api.get<{ results: Array<{ address: string }> }>(
    `/api/v1/subnets/${id}/available-ips?limit=1`,
    TOKENS.read
  );
  assert.equal(r.status, 200, r.text);
  return r.body.results[0]!.address;
}

async function addressRecord(
  env: Env,
  ip: string
): Promise<{ id: number; address: string; state: string; source: string } | undefined> {
  const r = await env.exporter.api.get<{
    results: Array<{ id: number; address: string; state: string; source: string }>;
  }>(`/api/v1/addresses?q=${encodeURIComponent(ip)}&limit=100`, TOKENS.admin);
  assert.equal(r.status, 200, r.text);
  return r.body.results.find((a) => a.address === ip);
}

/** 5,000 addresses spread over a /16 (one used every ~13), as CSV for POST /import/addresses. */
function scatteredCsv(prefix: string, count: number): string {
  const [a, b] = prefix.split('.');
  const lines = ['address,state,hostname,owner'];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor((i * 65533) / count);
    lines.push(
      `${a}.${b}.${n >> 8}.${n & 255},${i % 3 === 0 ? 'assigned' : 'reserved'},host-${String(i).padStart(4, '0')},team-${i % 7}`
    );
  }
  return `${lines.join('\n')}\n`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

test('Lanscape app plugin in Chromium', { timeout: 15 * 60_000 }, async (t: TestContext) => {
  const started = Date.now();
  const chromiumPath = existsSync(CHROMIUM) ? CHROMIUM : requireTool(t, 'chromium', 'apt-get install -y chromium');
  if (!chromiumPath) {
    return;
  }

  const build = ensurePluginBuilt();
  t.diagnostic(build.built ? `built the plugin in ${build.ms} ms` : `plugin dist: ${build.distDir} (up to date)`);

  const { dir, cleanup } = tempDir('lanscape-browser-');
  t.after(cleanup);
  const trafficLab = await startTrafficLab(dir);
  if (typeof trafficLab === 'string') {
    t.diagnostic(`traffic tests skipped: ${trafficLab}`);
  } else {
    t.after(async () => {
      killPid(trafficLab.iperf.pid);
      await trafficLab.sshd.stop();
    });
  }
  const proxmox = await startFakePve(dir);
  if (typeof proxmox === 'string') {
    t.diagnostic(`Proxmox steps skipped: ${proxmox}`);
  } else {
    t.after(() => proxmox.pve.close());
  }
  // One YAML file for the traffic hosts and the Proxmox settings.
  const configFile = typeof trafficLab === 'string' ? join(dir, 'lanscape.yaml') : trafficLab.configFile;
  if (typeof proxmox !== 'string') {
    appendFileSync(configFile, proxmox.yaml);
  }
  // Scheduled sweeps stay off (testEnv sets it; asserted here), ports checked on alive (loopback) hosts: 22 only.
  const exporterEnv = {
    ...testEnv(join(dir, 'lanscape.db')),
    LANSCAPE_SCAN_ENABLED: 'false',
    LANSCAPE_SCAN_PORTS: '22',
    // The shell's proxy sends X-Grafana-User as Grafana does with send_user_header (the stack's
    // setting); the exporter takes it only from the tokens the proxy uses.
    LANSCAPE_GRAFANA_PROXY_TOKENS: 'read,write,admin',
    ...(existsSync(configFile) ? { LANSCAPE_CONFIG: configFile } : {}),
    ...(typeof proxmox === 'string' ? {} : proxmox.env),
  };
  assert.equal(exporterEnv.LANSCAPE_SCAN_ENABLED, 'false');
  const exporter = await spawnExporter(exporterEnv);
  t.after(async () => {
    await Promise.race([exporter.stop(), new Promise((r) => setTimeout(r, 5000))]);
    killPid(exporter.process.pid);
  });
  assert.match(exporter.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const shell = await buildShell();
  t.diagnostic(`shell bundle ${(shell.bytes / 1e6).toFixed(1)} MB built in ${shell.ms} ms`);
  const server = await startShellServer({
    distDir: build.distDir,
    bundle: shell,
    jsonData: { exporterUrl: exporter.url },
    secureJsonData: { readToken: TOKENS.read, writeToken: TOKENS.write, adminToken: TOKENS.admin },
  });
  t.after(() => server.close());

  const browser = await launchChromium(chromiumPath);
  t.after(() => browser.close());
  // In every page: when the first address row of a subnet table is laid out, and the last click,
  // on the page's clock (from navigation start).
  // (A string: functions passed to the page must not carry the test transpiler's helpers.)
  await browser.context.addInitScript(`(() => {
    const seen = () => {
      const row = document.querySelector('[data-testid^="address-row-"]');
      if (row && row.getBoundingClientRect().height > 0) {
        window.__firstRowAt = performance.now();
        return true;
      }
      return false;
    };
    const observer = new MutationObserver(() => seen() && observer.disconnect());
    observer.observe(document, { childList: true, subtree: true });
    document.addEventListener('click', () => { window.__lastClickAt = performance.now(); }, true);
  })();`);
  const env: Env = { exporter, server, browser };
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    chromium: browser.context.browser()?.version(),
    pluginDist: build.distDir,
    pluginRoutes: (JSON.parse(readFileSync(join(build.distDir, 'plugin.json'), 'utf8')).routes ?? []).map(
      (r: { method?: string; path: string }) => `${r.method ?? '*'} ${r.path}`
    ),
    pluginBuilt: build.built,
    pluginBuildMs: build.ms,
    shellBundleMB: Math.round(shell.bytes / 1e5) / 10,
    shellBuildMs: shell.ms,
  };
  const steps: Record<string, number> = {};
  results.stepSeconds = steps;
  let proxyWorks = false;
  const step = async (name: string, fn: (st: TestContext) => Promise<void>, needsProxy = true) => {
    const s = Date.now();
    try {
      // Without a working proxy every page shows errors: fail once (the proxy step), skip the rest.
      const skip =
        needsProxy && !proxyWorks ? 'the plugin proxy does not reach the exporter (see the proxy step)' : false;
      await t.test(name, { skip }, fn);
    } finally {
      steps[name] = Math.round((Date.now() - s) / 100) / 10;
    }
  };

  const site = await exporter.api.post<{ id: number }>(
    '/api/v1/subnets',
    { cidr: SITE, name: 'loopback site', scan_enabled: false },
    TOKENS.admin
  );
  assert.equal(site.status, 201, site.text);
  const siteId = site.body.id;
  let labId = 0;
  let reservedIp = '';

  await step(
    'the proxy applies plugin.json routes as Grafana does (role, route, token)',
    async () => {
      const info = await viaProxy(env, 'Viewer', 'GET', 'read/info');
      assert.equal(
        info.status,
        200,
        `GET read/info as a Viewer answered ${info.status} ${JSON.stringify(info.body)}. ` +
          'Grafana matches an app route path exactly unless it ends in "/*" (pkg/api/pluginproxy, web tree match), ' +
          'so a route "path": "read" only serves /api/plugin-proxy/<id>/read itself; "read/*" serves read/info.'
      );
      assert.equal(info.body.version !== undefined, true);
      const viewerWrite = await viaProxy(env, 'Viewer', 'POST', 'write/addresses', { address: '127.0.10.200' });
      assert.deepEqual([viewerWrite.status, viewerWrite.body], [403, { message: 'plugin proxy route access denied' }]);
      const editorAdmin = await viaProxy(env, 'Editor', 'GET', 'admin/info');
      assert.equal(editorAdmin.status, 403);
      const adminAdmin = await viaProxy(env, 'Admin', 'GET', 'admin/info');
      assert.equal(adminAdmin.status, 200, JSON.stringify(adminAdmin.body));
      const noRoute = await viaProxy(env, 'Admin', 'PUT', 'write/subnets/1', {});
      assert.deepEqual([noRoute.status, noRoute.body], [404, { message: 'plugin route match not found' }]);
      assert.equal(await addressRecord(env, '127.0.10.200'), undefined);
      proxyWorks = true;
    },
    false
  );

  await step(
    'the browser reaches nothing beyond 127.0.0.1 (safety net check)',
    async () => {
      const page = await browser.context.newPage();
      const before = browser.blocked.length;
      // A .invalid name never resolves (RFC 2606); the request ends in the sinkhole, not on a network.
      await page.goto('http://lanscape-sinkhole.invalid/').catch(() => undefined);
      assert.ok(
        browser.blocked.slice(before).some((b) => b.includes('lanscape-sinkhole.invalid')),
        JSON.stringify(browser.blocked)
      );
      browser.pageEscapes.splice(0); // the probe itself
      await page.close();
    },
    false
  );

  await step(
    'the built module.js loads through the AMD shim and the app root renders',
    async () => {
      await setUser(env, 'Editor');
      const page = await browser.context.newPage();
      await open(env, page, `${APP}/`);
      // The app's default route is the overview.
      await page.getByTestId(testIds.overview.container).waitFor();
      assert.equal(new URL(page.url()).pathname, `${APP}/overview`);
      const shared = (await page.evaluate('window.__shell.shared')) as string[];
      assert.ok(
        [
          'react',
          'react-dom',
          'react-router',
          'rxjs',
          '@grafana/data',
          '@grafana/ui',
          '@grafana/runtime',
          '@emotion/css',
        ].every((n) => shared.includes(n))
      );
      // Its lazy chunks came from dist/ through the public path webpack derived from the AMD `module` uri.
      const loaded = (await page.evaluate("performance.getEntriesByType('resource').map((r) => r.name)")) as string[];
      assert.ok(
        loaded.some((u) => /\/public\/plugins\/lanscape-ipam-app\/[\w-]+\.js\?_cache=/.test(u)),
        loaded.join('\n')
      );
      await page.close();
    },
    false
  );

  await step('the overview lists the subnets through the proxy', async () => {
    await setUser(env, 'Viewer');
    const page = await browser.context.newPage();
    await open(env, page, `${APP}/overview`);
    await page.getByTestId(testIds.overview.subnetRow(GLOBAL_VRF.id, SITE)).waitFor();
    // A Viewer is offered no changes.
    assert.equal(await page.getByTestId(testIds.overview.addSubnet).count(), 0);
    await page.close();
  });

  await step('Editor adds a loopback subnet through the UI', async () => {
    await setUser(env, 'Editor');
    const page = await browser.context.newPage();
    await open(env, page, `${APP}/overview`);
    await page.getByTestId(testIds.overview.addSubnet).click();
    await page.getByTestId(testIds.subnetForm.cidr).fill(LAB);
    await page.getByTestId(testIds.subnetForm.name).fill('loopback lab');
    await page.getByTestId(testIds.subnetForm.submit).click();
    await page.getByTestId(testIds.subnetForm.form).waitFor({ state: 'detached' });
    await page.getByTestId(testIds.overview.subnetRow(GLOBAL_VRF.id, LAB)).waitFor();
    labId = (await subnetId(env, LAB)) ?? 0;
    assert.ok(labId > 0, `${LAB} is not in the exporter`);
    // The proxy's write route used the write token: the exporter's audit names it.
    const audit = await exporter.api.get(`/api/v1/audit?object_type=subnet&object_id=${labId}`, TOKENS.admin);
    assert.equal(audit.body.results[0]?.action, 'create');
    assert.equal(audit.body.results[0]?.actor, 'write');
    assert.equal(audit.body.results[0]?.grafana_user, 'editor', 'the audit names the Grafana user behind the change');
    await page.close();
  });

  await step('Editor adds the next free /N of a subnet through the form (size helper, preview)', async () => {
    // A parent of its own (never scanned) with its first /26 taken: the form must offer the second.
    const parent = await exporter.api.post<{ id: number }>(
      '/api/v1/subnets',
      { cidr: CARVE_PARENT, name: 'carve parent', scan_enabled: false },
      TOKENS.admin
    );
    assert.equal(parent.status, 201, parent.text);
    const taken = await exporter.api.post<{ id: number }>(
      '/api/v1/subnets',
      { cidr: CARVE_TAKEN, scan_enabled: false },
      TOKENS.admin
    );
    assert.equal(taken.status, 201, taken.text);
    const created: number[] = [taken.body.id, parent.body.id];
    try {
      const page = await browser.context.newPage();
      // Filled in the light theme for its screenshot and cancelled, then in the dark one and added.
      for (const theme of ['light', 'dark'] as const) {
        await setUser(env, 'Editor', theme);
        await open(env, page, `${APP}/overview`);
        await page.getByTestId(testIds.overview.addSubnet).click();
        await page.getByTestId(testIds.subnetForm.mode).getByRole('radio', { name: 'Next free in a subnet' }).click();
        await pickCombobox(page, testIds.subnetForm.parent, CARVE_PARENT);
        await page.getByTestId(testIds.subnetForm.hosts).fill('50');
        assert.equal(await page.getByTestId(testIds.subnetForm.hostsFit).innerText(), '/26 · 62 usable');
        assert.equal(await page.getByTestId(testIds.subnetForm.prefixLength).inputValue(), '26');
        await page.getByTestId(testIds.subnetForm.preview).getByText(CARVE_NEXT).waitFor();
        await page.getByTestId(testIds.subnetForm.name).fill('carved');
        mkdirSync(SCREENSHOTS, { recursive: true });
        await settle(page);
        await page.getByRole('dialog').screenshot({
          path: join(SCREENSHOTS, `add-subnet-next-free-${theme}.png`),
          animations: 'disabled',
        });
        if (theme === 'light') {
          await page.getByTestId(testIds.subnetForm.form).getByRole('button', { name: 'Cancel' }).click();
          await page.getByTestId(testIds.subnetForm.form).waitFor({ state: 'detached' });
        }
      }
      assert.equal(await subnetId(env, CARVE_NEXT), undefined, 'the preview reserves nothing');
      await page.getByTestId(testIds.subnetForm.submit).click();
      await page.getByTestId(testIds.subnetForm.form).waitFor({ state: 'detached' });
      await page.getByTestId(testIds.overview.subnetRow(GLOBAL_VRF.id, CARVE_NEXT)).waitFor();
      await page.close();
      const carvedId = await subnetId(env, CARVE_NEXT);
      assert.ok(carvedId, `${CARVE_NEXT} is not in the exporter`);
      created.unshift(carvedId);
      const carved = await exporter.api.get(`/api/v1/subnets/${carvedId}`, TOKENS.admin);
      assert.deepEqual(
        [carved.body.name, carved.body.parent_id, carved.body.scan_enabled],
        ['carved', parent.body.id, true]
      );
    } finally {
      for (const id of created) {
        await exporter.api.delete(`/api/v1/subnets/${id}`, TOKENS.admin);
      }
    }
  });

  await step('Editor scans it and the loopback hosts appear as Up', async () => {
    await setUser(env, 'Editor');
    const page = await browser.context.newPage();
    await open(env, page, `${APP}/overview`);
    await page.getByTestId(testIds.overview.subnetRow(GLOBAL_VRF.id, LAB)).getByRole('link', { name: LAB }).click();
    await page.getByTestId(testIds.subnet.container).waitFor();
    assert.equal(new URL(page.url()).pathname, `${APP}/subnets/${labId}`);
    await page.getByTestId(testIds.scan.button(labId)).click();
    await page
      .getByTestId(testIds.scan.progress(labId))
      .getByText(/alive of 14/)
      .waitFor({ timeout: 60_000 });
    const scans = await exporter.api.get(`/api/v1/events?subnet_id=${labId}&kind=new_device&limit=100`, TOKENS.admin);
    assert.equal(scans.body.count, 14, 'every loopback address of the /28 answered');
    const first = page.getByTestId(testIds.subnet.addressRow('127.0.10.1'));
    await first.getByTestId(testIds.statusPill).and(page.locator('[data-status="up"]')).waitFor({ timeout: 15_000 });
    assert.equal(await first.getByTestId(testIds.statusPill).innerText(), 'Up');
    const up = await page.getByTestId(testIds.statusPill).and(page.locator('[data-status="up"]')).count();
    assert.ok(up >= 10, `only ${up} rows show Up`);
    await page.close();
  });

  await step('Editor expands a free gap and reserves the next free address', async () => {
    const expected = await nextFree(env, siteId);
    await setUser(env, 'Editor');
    const page = await browser.context.newPage();
    await open(env, page, `${APP}/subnets/${siteId}`);
    const gap = await expandGapWith(page, expected);
    assert.equal(await gap.getAttribute('aria-expanded'), 'true');
    await page.getByTestId(testIds.subnet.gapReserve(expected)).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: `Reserve ${expected}` }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByText(`Reserved ${expected}`).waitFor();
    await page.getByTestId(testIds.subnet.addressRow(expected)).waitFor();
    reservedIp = expected;
    // Stored, as the exporter's API says with the admin token, and written with the write token.
    const stored = await addressRecord(env, expected);
    assert.ok(stored, `${expected} is not stored`);
    assert.equal(stored.state, 'reserved');
    const audit = await exporter.api.get(`/api/v1/audit?object_type=address&object_id=${stored.id}`, TOKENS.admin);
    assert.equal(audit.body.results[0]?.actor, 'write');
    assert.equal(audit.body.results[0]?.grafana_user, 'editor');
    await page.close();
  });

  await step('the first address a free gap offers is one the exporter will reserve', async () => {
    // The gap after the scanned /28 starts at its broadcast address in the parent's rows.
    const expected = await nextFree(env, siteId);
    await setUser(env, 'Editor');
    const page = await browser.context.newPage();
    await open(env, page, `${APP}/subnets/${siteId}`);
    await page
      .getByTestId(/^gap-row-/)
      .first()
      .click();
    const offered = (
      await page
        .getByTestId(/^gap-reserve-/)
        .first()
        .innerText()
    ).trim();
    await page.close();
    const tryIt = await exporter.api.call('POST', '/api/v1/addresses', {
      body: { address: offered },
      token: TOKENS.write,
      headers: {},
    });
    if (tryIt.status === 201) {
      await exporter.api.delete(`/api/v1/addresses/${tryIt.body.id}`, TOKENS.write);
    }
    assert.equal(
      offered,
      expected,
      `the gap offers ${offered} first, the exporter's next free address is ${expected}; reserving ${offered} answers ` +
        `${tryIt.status} ${tryIt.text} (GET /subnets/{id}/addresses lays out gaps without the nested subnets' ` +
        'network and broadcast addresses that allocation and POST /addresses refuse)'
    );
  });

  await step(
    'VRFs (#15): the same CIDR in a second VRF has its own row; its page, dialog and reservation are that VRF’s',
    async () => {
      const vrf = await exporter.api.post<{ id: number }>(
        '/api/v1/vrfs',
        { name: 'site-b', description: 'Branch office' },
        TOKENS.admin
      );
      assert.equal(vrf.status, 201, vrf.text);
      const twin = await exporter.api.post<{ id: number }>(
        '/api/v1/subnets',
        { cidr: SITE, name: 'loopback site b', vrf_id: vrf.body.id, scan_enabled: false },
        TOKENS.admin
      );
      assert.equal(twin.status, 201, twin.text);
      try {
        await setUser(env, 'Editor');
        const page = await browser.context.newPage();
        await open(env, page, `${APP}/overview`);
        // Two rows of one CIDR, one test id each: keyed by (VRF id, CIDR).
        const own = page.getByTestId(testIds.overview.subnetRow(vrf.body.id, SITE));
        await own.waitFor();
        await page.getByTestId(testIds.overview.subnetRow(GLOBAL_VRF.id, SITE)).waitFor();
        assert.equal(await page.getByTestId(testIds.overview.vrf(vrf.body.id, SITE)).innerText(), 'site-b');
        assert.equal(await page.getByTestId(testIds.overview.vrf(GLOBAL_VRF.id, SITE)).innerText(), 'global');
        await own.getByRole('link', { name: SITE }).click();
        await page.getByTestId(testIds.subnet.container).waitFor();
        assert.equal(new URL(page.url()).pathname, `${APP}/subnets/${twin.body.id}`);
        await page.getByTestId(testIds.vrfChip).and(page.locator('[data-vrf="site-b"]')).waitFor();
        assert.equal((await page.getByTestId(testIds.vrfChip).innerText()).trim(), 'VRF site-b');
        // The gap's Reserve dialog names the VRF and records the address there.
        const next = await nextFree(env, twin.body.id);
        await expandGapWith(page, next);
        await page.getByTestId(testIds.subnet.gapReserve(next)).click();
        const dialog = page.getByRole('dialog');
        assert.equal((await dialog.getByTestId(testIds.vrfChip).innerText()).trim(), 'VRF site-b');
        await dialog.getByRole('button', { name: `Reserve ${next}` }).click();
        await dialog.waitFor({ state: 'detached' });
        await page.getByTestId(testIds.subnet.addressRow(next)).waitFor();
        const inB = await exporter.api.get<{ results: Array<{ address: string; subnet_id: number }> }>(
          `/api/v1/addresses?vrf_id=${vrf.body.id}&limit=100`,
          TOKENS.admin
        );
        assert.deepEqual(
          inB.body.results.map((a) => [a.address, a.subnet_id]),
          [[next, twin.body.id]]
        );
        await page.close();
      } finally {
        await exporter.api.delete(`/api/v1/subnets/${twin.body.id}?force=true`, TOKENS.admin);
        await exporter.api.delete(`/api/v1/vrfs/${vrf.body.id}`, TOKENS.admin);
      }
    }
  );

  await step('Viewer: reserving is refused (disabled in the UI, 403 from the proxy when tried)', async () => {
    const next = await nextFree(env, siteId);
    // A Viewer's page offers no reservation.
    await setUser(env, 'Viewer');
    const page = await browser.context.newPage();
    await open(env, page, `${APP}/subnets/${siteId}`);
    await expandGapWith(page, next);
    await assertDisabled(page.getByTestId(testIds.subnet.gapReserve(next)));
    await page.close();

    // A page opened as an Editor, then the user is made a Viewer (Grafana checks the role on each
    // proxied request): the reservation goes out and the proxy refuses it; the 403 is shown.
    await setUser(env, 'Editor');
    const stale = await browser.context.newPage();
    await open(env, stale, `${APP}/subnets/${siteId}`);
    await setUser(env, 'Viewer');
    await expandGapWith(stale, next);
    await stale.getByTestId(testIds.subnet.gapReserve(next)).click();
    const dialog = stale.getByRole('dialog');
    await dialog.getByRole('button', { name: `Reserve ${next}` }).click();
    const alert = dialog.getByRole('alert').or(dialog.getByTestId('data-testid Alert error'));
    await alert.first().waitFor();
    const text = await alert.first().innerText();
    assert.match(text, /not reserved/);
    assert.match(text, /not allowed/);
    assert.match(text, /plugin proxy route access denied/);
    const refused = server.proxyLog.filter((e) => e.role === 'Viewer' && e.method === 'POST' && e.status === 403);
    assert.ok(
      refused.some((e) => e.path === '/write/addresses'),
      JSON.stringify(server.proxyLog.slice(-5))
    );
    assert.equal(await addressRecord(env, next), undefined, `${next} was stored for a Viewer`);
    await stale.close();
  });

  await step('Admin: the config page shows the settings, tests the connection and saves', async () => {
    await setUser(env, 'Admin');
    const page = await browser.context.newPage();
    await open(env, page, '/plugins/lanscape-ipam-app');
    const url = page.getByTestId(testIds.appConfig.exporterUrl);
    assert.equal(await url.inputValue(), exporter.url);
    // "Test connection" asks the exporter's /info through the proxy's read route.
    await page.getByTestId(testIds.appConfig.testConnection).click();
    await page
      .getByTestId(testIds.appConfig.testResult)
      .getByText(/Connected to Lanscape exporter/)
      .waitFor();
    assert.equal(await page.getByTestId(testIds.appConfig.collector('store')).getAttribute('data-up'), 'true');
    // Saving posts to /api/plugins/<id>/settings (tokens untouched stay as they are) and reloads.
    await url.fill(`${exporter.url}/`);
    const reloaded = page.waitForEvent('load');
    await page.getByTestId(testIds.appConfig.save).click();
    await reloaded;
    await page.waitForFunction('window.__shell && window.__shell.ready');
    assert.equal(server.settings.jsonData.exporterUrl, exporter.url, 'the trailing slash is trimmed before saving');
    assert.deepEqual(server.settings.secureJsonData, {
      readToken: TOKENS.read,
      writeToken: TOKENS.write,
      adminToken: TOKENS.admin,
    });
    assert.equal(await page.getByTestId(testIds.appConfig.exporterUrl).inputValue(), exporter.url);
    await page.close();
  });

  await step('screenshots of the overview, subnet (table and map) and config pages, light and dark', async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const page = await browser.context.newPage();
    for (const theme of ['light', 'dark'] as const) {
      await setUser(env, 'Admin', theme);
      await open(env, page, `${APP}/overview`);
      await page.getByTestId(testIds.overview.subnetRow(GLOBAL_VRF.id, LAB)).waitFor();
      await settle(page);
      await page.screenshot({ path: join(SCREENSHOTS, `overview-${theme}.png`), animations: 'disabled' });

      await page.setViewportSize({ width: 1440, height: 1250 });
      await open(env, page, `${APP}/subnets/${siteId}`);
      await page.getByTestId(testIds.subnet.addressRow('127.0.10.1')).getByTestId(testIds.statusPill).waitFor();
      await page
        .getByTestId(/^gap-row-/)
        .last()
        .click();
      await page.getByTestId(testIds.subnet.table).evaluate('(table) => { table.parentElement.scrollTop = 0; }');
      await settle(page);
      await page.screenshot({ path: join(SCREENSHOTS, `subnet-${theme}.png`), animations: 'disabled' });

      // The same subnet as a map: every address of the /24 a cell, the scanned ones with their status.
      await open(env, page, `${APP}/subnets/${siteId}?view=map`);
      const map = page.getByTestId(testIds.subnet.map);
      const gateway = map.locator('[data-index="1"]');
      await gateway.waitFor();
      assert.equal(await map.locator('[data-index]').count(), 256);
      assert.equal(await gateway.getAttribute('data-status'), 'up');
      await gateway.hover();
      await map.getByTestId('subnet-map-card').getByText('127.0.10.1').waitFor();
      await settle(page);
      await page.screenshot({ path: join(SCREENSHOTS, `subnet-map-view-${theme}.png`), animations: 'disabled' });
      await page.setViewportSize({ width: 1440, height: 900 });

      await open(env, page, '/plugins/lanscape-ipam-app');
      await page.getByTestId(testIds.appConfig.testConnection).click();
      await page
        .getByTestId(testIds.appConfig.testResult)
        .getByText(/Connected to Lanscape exporter/)
        .waitFor();
      await settle(page);
      await page.screenshot({ path: join(SCREENSHOTS, `config-${theme}.png`), animations: 'disabled' });
    }
    await page.close();
  });

  let trafficTestId = 0;
  await step(
    'Editor runs a 2-second TCP test over SSH (real sshd and iperf3 on 127.0.0.1) and sees its result',
    async (st) => {
      if (typeof trafficLab === 'string') {
        st.skip(trafficLab);
        return;
      }
      const hosts = await viaProxy(env, 'Viewer', 'GET', 'read/traffic/hosts');
      assert.equal(hosts.status, 200, JSON.stringify(hosts.body));
      assert.deepEqual(
        hosts.body.results.map((h: { name: string }) => h.name),
        [TRAFFIC_SOURCE, TRAFFIC_TARGET]
      );
      await setUser(env, 'Editor');
      const page = await browser.context.newPage();
      await open(env, page, `${APP}/traffic`);
      await runTrafficTest(page, 2);
      const result = page.getByTestId(testIds.traffic.result);
      await result.waitFor();
      assert.match(await result.innerText(), /Received\s+[\d.]+ [kMGT]?bit\/s/);
      // The test as the exporter stored it: written with the write token through the proxy.
      const list = await exporter.api.get('/api/v1/traffic-tests?limit=1', TOKENS.read);
      const stored = list.body.results[0];
      assert.equal(stored.state, 'done', JSON.stringify(stored));
      assert.deepEqual(
        [stored.source, stored.target, stored.protocol, stored.duration_seconds],
        [TRAFFIC_SOURCE, TRAFFIC_TARGET, 'tcp', 2]
      );
      assert.ok(stored.result.received_bits_per_second > 0, JSON.stringify(stored.result));
      assert.ok(
        server.proxyLog.some(
          (e) => e.role === 'Editor' && e.method === 'POST' && e.path === '/write/traffic-tests' && e.status === 202
        )
      );
      trafficTestId = stored.id;
      // Its row in the recent results, with a throughput above zero.
      const cell = page.getByTestId(testIds.traffic.throughput(stored.id));
      await cell.waitFor();
      assert.ok(Number(await cell.getAttribute('data-bits')) > 0, await cell.innerText());
      assert.match(await cell.innerText(), /^[\d.]+ [kMGT]?bit\/s$/);
      assert.equal(
        await page
          .getByTestId(testIds.traffic.resultRow(stored.id))
          .getByTestId(testIds.traffic.dashboard)
          .getAttribute('href'),
        `/d/lanscape-traffic?var-source=${TRAFFIC_SOURCE}&var-target=${TRAFFIC_TARGET}`
      );
      await page.close();
    }
  );

  let trafficScheduleId = 0;
  await step('Editor adds a schedule in its modal and disables it; a Viewer sees the page read-only', async (st) => {
    if (typeof trafficLab === 'string') {
      st.skip(trafficLab);
      return;
    }
    await setUser(env, 'Editor');
    const page = await browser.context.newPage();
    await open(env, page, `${APP}/traffic`);
    await page.getByTestId(testIds.traffic.addSchedule).click();
    await page.getByTestId(testIds.traffic.scheduleForm).waitFor();
    await pickHost(page, 'schedule', 'source', TRAFFIC_SOURCE);
    await pickHost(page, 'schedule', 'target', TRAFFIC_TARGET);
    await page.getByTestId(testIds.traffic.field('schedule', 'duration')).fill('5');
    await page.getByTestId(testIds.traffic.field('schedule', 'interval')).fill('1h');
    await page.getByTestId(testIds.traffic.field('schedule', 'floor')).fill('1000');
    await page.getByTestId(testIds.traffic.scheduleSubmit).click();
    await page.getByTestId(testIds.traffic.scheduleForm).waitFor({ state: 'detached' });
    const list = await exporter.api.get('/api/v1/traffic-schedules', TOKENS.read);
    assert.equal(list.body.count, 1, list.text);
    const stored = list.body.results[0];
    assert.deepEqual(
      [
        stored.source,
        stored.target,
        stored.protocol,
        stored.duration_seconds,
        stored.interval_seconds,
        stored.floor_bits_per_second,
        stored.enabled,
      ],
      [TRAFFIC_SOURCE, TRAFFIC_TARGET, 'tcp', 5, 3600, 1_000_000_000, true]
    );
    trafficScheduleId = stored.id;
    const row = page.getByTestId(testIds.traffic.scheduleRow(stored.id));
    await row.waitFor();
    // Disable and enable again (PATCH through the proxy's write route).
    const enabled = page.getByTestId(testIds.traffic.scheduleEnabled(stored.id));
    for (const want of [false, true]) {
      await enabled.click({ force: true });
      await page.waitForFunction(
        `document.querySelector('[data-testid="${testIds.traffic.scheduleEnabled(stored.id)}"]')?.checked === ${want}`
      );
      assert.equal((await exporter.api.get(`/api/v1/traffic-schedules/${stored.id}`, TOKENS.read)).body.enabled, want);
    }
    await page.close();

    // A Viewer: the results and schedules, no form, no changes offered.
    await setUser(env, 'Viewer');
    const viewer = await browser.context.newPage();
    await open(env, viewer, `${APP}/traffic`);
    await viewer.getByTestId(testIds.traffic.viewerHint).waitFor();
    await viewer.getByTestId(testIds.traffic.resultRow(trafficTestId)).waitFor();
    await viewer.getByTestId(testIds.traffic.scheduleRow(stored.id)).waitFor();
    assert.equal(await viewer.getByTestId(testIds.traffic.form).count(), 0);
    assert.equal(await viewer.getByTestId(testIds.traffic.addSchedule).count(), 0);
    assert.equal(await viewer.getByTestId(testIds.traffic.scheduleEnabled(stored.id)).count(), 0);
    await viewer.close();
  });

  await step('screenshots of the traffic tests page, light and dark', async (st) => {
    if (typeof trafficLab === 'string' || !trafficTestId) {
      st.skip(typeof trafficLab === 'string' ? trafficLab : 'no traffic test ran');
      return;
    }
    assert.ok(trafficScheduleId > 0, 'no schedule was added');
    // A reverse UDP test through the API, so the results have both protocols.
    const udp = await exporter.api.post(
      '/api/v1/traffic-tests',
      {
        source: TRAFFIC_SOURCE,
        target: TRAFFIC_TARGET,
        protocol: 'udp',
        duration_seconds: 1,
        bitrate_bits_per_second: 50_000_000,
        reverse: true,
      },
      TOKENS.write
    );
    assert.equal(udp.status, 202, udp.text);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1440, height: 980 });
    for (const theme of ['light', 'dark'] as const) {
      await setUser(env, 'Editor', theme);
      await open(env, page, `${APP}/traffic`);
      await page
        .getByTestId(testIds.traffic.resultRow(udp.body.id))
        .and(page.locator('[data-state="done"]'))
        .waitFor({ timeout: 30_000 });
      // Each theme's run adds a point to the pair's TCP history.
      await runTrafficTest(page, 1);
      await page.getByTestId(testIds.traffic.result).waitFor();
      await page.getByTestId(testIds.traffic.scheduleRow(trafficScheduleId)).waitFor();
      await page.getByTestId(testIds.traffic.sparkline).first().waitFor();
      await settle(page);
      await page.screenshot({ path: join(SCREENSHOTS, `traffic-${theme}.png`), animations: 'disabled' });
    }
    await page.close();
  });

  let vmSubnetId = 0;
  let firstVm: { vmid: number; address: string; addressId: number } | undefined;
  await step(
    'Admin creates a VM through the wizard (fake PVE over HTTPS): clone, next free address, live progress to done',
    async (st) => {
      if (typeof proxmox === 'string') {
        st.skip(proxmox);
        return;
      }
      const pve = proxmox.pve;
      const created = await exporter.api.post<{ id: number }>(
        '/api/v1/subnets',
        { cidr: VM_SUBNET, name: 'vm lab', gateway: VM_GATEWAY, vlan: 20, scan_enabled: false },
        TOKENS.admin
      );
      assert.equal(created.status, 201, created.text);
      vmSubnetId = created.body.id;
      const expected = await nextFree(env, vmSubnetId);

      // Not for Editors: the page explains, and the proxy refuses the admin route.
      await setUser(env, 'Editor');
      const editor = await browser.context.newPage();
      await open(env, editor, `${APP}/vms/new`);
      await editor.getByTestId(testIds.vm.notAdmin).waitFor();
      assert.equal(await editor.getByTestId(testIds.vm.form).count(), 0);
      await editor.close();
      const refused = await viaProxy(env, 'Editor', 'POST', 'admin/vms', {});
      assert.equal(refused.status, 403);

      await setUser(env, 'Admin');
      const page = await browser.context.newPage();
      await open(env, page, `${APP}/vms/new`);
      const key = await fillVmWizard(page, 'app-1', expected);
      const posts = () => server.proxyLog.filter((e) => e.method === 'POST' && e.path === '/admin/vms').length;
      const postsBefore = posts();
      // Proxmox tasks are held: the clone step stays running, with its task, until released.
      pve.holdTasks = true;
      try {
        await page.getByTestId(testIds.vm.create).click();
        const upid = page.getByTestId(testIds.vm.upid);
        await upid.waitFor({ timeout: 20_000 });
        assert.match(
          await upid.innerText(),
          /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmclone:9000:root@pam!lanscape:$/
        );
        assert.equal(await page.getByTestId(testIds.vm.jobStep('clone')).getAttribute('data-state'), 'running');
        assert.equal(await page.getByTestId(testIds.vm.jobStep('reserve_address')).getAttribute('data-state'), 'done');
        const progress = Number(await page.getByTestId(testIds.vm.progress).getAttribute('aria-valuenow'));
        assert.ok(progress > 0 && progress < 100, `progress ${progress}`);
        // Reserved while it runs.
        assert.equal((await addressRecord(env, expected))?.state, 'provisioning');
      } finally {
        pve.holdTasks = false;
      }
      const state = await waitForVmJob(page);
      const failure = state === 'failed' ? await page.getByTestId(testIds.vm.failure).innerText() : '';
      assert.equal(state, 'done', `the VM job failed: ${failure}`);
      assert.equal(posts() - postsBefore, 1, 'one POST /admin/vms');
      assert.ok(
        server.proxyLog.some((e) => e.role === 'Admin' && e.path === '/admin/vms' && e.status === 202),
        JSON.stringify(server.proxyLog.slice(-5))
      );

      // The job as the exporter has it: the key the review showed, the address assigned in IPAM.
      const job = (await exporter.api.get('/api/v1/vms/jobs?limit=1', TOKENS.read)).body.results[0];
      assert.deepEqual(
        [job.state, job.name, job.node, job.address, job.idempotency_key],
        ['done', 'app-1', 'pve1', expected, key]
      );
      const record = await addressRecord(env, expected);
      assert.deepEqual([record?.id, record?.state, record?.source], [job.address_id, 'assigned', 'proxmox']);
      const vm = pve.guests.get(job.vmid)!;
      assert.deepEqual(
        [vm.name, vm.status, vm.config?.ipconfig0, vm.config?.net0, vm.config?.ciuser],
        ['app-1', 'running', `ip=${expected}/24,gw=${VM_GATEWAY}`, 'virtio,bridge=vmbr0,tag=20', 'ops']
      );
      assert.deepEqual(pve.violations, [], 'every request to PVE matched its schema');
      firstVm = { vmid: job.vmid, address: expected, addressId: job.address_id };

      // The success names the VM and links the address: the subnet page with its drawer open.
      const success = page.getByTestId(testIds.vm.success);
      assert.match(
        await success.innerText(),
        new RegExp(`Proxmox VM ${job.vmid} on pve1 has the address ${expected.replace(/\./g, '\\.')}`)
      );
      const link = page.getByTestId(testIds.vm.addressLink);
      assert.equal(await link.getAttribute('href'), `${APP}/subnets/${vmSubnetId}?address=${job.address_id}`);
      await link.click();
      await page.getByTestId(testIds.drawer.container).waitFor();
      assert.equal(new URL(page.url()).pathname, `${APP}/subnets/${vmSubnetId}`);
      await page.close();
    }
  );

  await step(
    'Infrastructure lists the Proxmox nodes and guests with their IPAM addresses; Docker is not configured',
    async (st) => {
      if (typeof proxmox === 'string' || !firstVm) {
        st.skip(typeof proxmox === 'string' ? proxmox : 'no VM was created');
        return;
      }
      const vm = firstVm;
      // An inventory (every 10 s) that has the new VM and the seeded guests' addresses in IPAM.
      const guests = await waitForInventory(env, (g) => {
        const web = g.find((x) => x.vmid === 101);
        const created = g.find((x) => x.vmid === vm.vmid);
        return Boolean(
          web?.addresses?.[0]?.address_id && created?.addresses?.some((a) => a.address_id === vm.addressId)
        );
      });
      const webAddressId = guests.find((x) => x.vmid === 101)!.addresses![0]!.address_id;
      await setUser(env, 'Viewer');
      const page = await browser.context.newPage();
      await open(env, page, `${APP}/infrastructure`);
      await page.getByTestId(testIds.infra.notConfigured('docker')).waitFor();
      const pve1 = page.getByTestId(testIds.infra.nodeRow('pve1'));
      await pve1.waitFor();
      assert.equal(await pve1.getByTestId(testIds.infra.pill).getAttribute('data-state'), 'up');
      const web = page.getByTestId(testIds.infra.guestRow(101));
      await web.waitFor();
      assert.match(await web.innerText(), /prod/);
      assert.equal(
        await web.getByTestId(testIds.infra.addressLink('198.51.100.11')).getAttribute('href'),
        `${APP}/subnets/${vmSubnetId}?address=${webAddressId}`
      );
      const created = page.getByTestId(testIds.infra.guestRow(vm.vmid));
      await created.waitFor();
      assert.equal(
        await created.getByTestId(testIds.infra.addressLink(vm.address)).getAttribute('href'),
        `${APP}/subnets/${vmSubnetId}?address=${vm.addressId}`
      );
      assert.equal(
        await page
          .getByTestId(testIds.infra.guestRow(9000))
          .innerText()
          .then((x) => /template/.test(x)),
        true
      );
      assert.equal(await page.getByTestId(testIds.infra.createVm).count(), 0, 'a Viewer is offered VM creation');
      await page.close();
    }
  );

  await step('screenshots of the Infrastructure and Create VM pages, light and dark', async (st) => {
    if (typeof proxmox === 'string' || !firstVm) {
      st.skip(typeof proxmox === 'string' ? proxmox : 'no VM was created');
      return;
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    const page = await browser.context.newPage();
    for (const theme of ['light', 'dark'] as const) {
      await setUser(env, 'Admin', theme);
      await open(env, page, `${APP}/infrastructure`);
      await page.getByTestId(testIds.infra.guestRow(firstVm.vmid)).waitFor();
      await page.getByTestId(testIds.infra.notConfigured('docker')).waitFor();
      // Icons arrive as separate SVG requests: give the section's buttons a moment to have theirs.
      // Only the picture depends on it (the icon sometimes never mounts in the headless shell), so
      // a missing icon does not fail the step.
      await page
        .getByTestId(testIds.infra.dashboard('proxmox'))
        .locator('svg path')
        .first()
        .waitFor({ state: 'attached', timeout: 5000 })
        .catch(() => undefined);
      await settle(page);
      await page.screenshot({
        path: join(SCREENSHOTS, `infrastructure-${theme}.png`),
        animations: 'disabled',
        fullPage: true,
      });
    }
    for (const theme of ['light', 'dark'] as const) {
      await setUser(env, 'Admin', theme);
      await open(env, page, `${APP}/vms/new`);
      const name = `app-${theme}`;
      await fillVmWizard(page, name, await nextFree(env, vmSubnetId));
      await page.getByTestId(testIds.vm.create).click();
      assert.equal(await waitForVmJob(page), 'done');
      await settle(page);
      await page.screenshot({ path: join(SCREENSHOTS, `create-vm-${theme}.png`), animations: 'disabled' });
    }
    await page.close();
    assert.deepEqual(proxmox.pve.violations, [], 'every request to PVE matched its schema');
  });

  await step(
    'Sites and agents: an Admin registers an agent (its token shown once), it reports a sweep of its subnet, a Viewer sees it up',
    async () => {
      await setUser(env, 'Admin');
      const page = await browser.context.newPage();
      await open(env, page, `${APP}/infrastructure`);
      await page.getByTestId(testIds.infra.registerAgent).click();
      await page.getByTestId(testIds.infra.agentName).fill('branch-office');
      await page.getByTestId(testIds.infra.registerAgentForm).getByRole('button', { name: 'Register' }).click();
      const token = await page.getByTestId(testIds.infra.agentToken).inputValue();
      assert.match(token, /^lsa_/, 'the token, shown once');
      await page.getByRole('button', { name: 'Done' }).click();
      const row = page.getByTestId(testIds.infra.agentRow('branch-office'));
      await row.waitFor();
      assert.equal(await row.getByTestId(testIds.infra.pill).getAttribute('data-state'), 'never');

      // The subnet it sweeps, assigned through the API; then the agent's first report, with its token.
      const agents = await exporter.api.get<{ results: Array<{ id: number; name: string }> }>(
        '/api/v1/agents',
        TOKENS.read
      );
      const agentId = agents.body.results.find((a) => a.name === 'branch-office')!.id;
      const lan = await exporter.api.post<{ id: number }>(
        '/api/v1/subnets',
        { cidr: '192.0.2.0/28', name: 'branch LAN', agent_id: agentId },
        TOKENS.write
      );
      assert.equal(lan.status, 201, lan.text);
      const sweptAt = new Date();
      const report = await exporter.api.post(
        '/api/v1/agent/results',
        {
          batch_id: randomUUID(),
          subnet_id: lan.body.id,
          started_at: new Date(sweptAt.getTime() - 2000).toISOString(),
          finished_at: sweptAt.toISOString(),
          sent: 14,
          observations: [
            { address: '192.0.2.1', rtt_seconds: 0.0012, mac: '02:00:5e:00:02:01' },
            { address: '192.0.2.7', rtt_seconds: 0.0031, mac: '02:00:5e:00:02:07', ports: [22, 443] },
          ],
          queue_depth: 2,
          dropped_total: 0,
          agent_version: '0.1.0',
        },
        token
      );
      assert.equal(report.status, 200, report.text);

      await setUser(env, 'Viewer');
      await open(env, page, `${APP}/infrastructure`);
      const seen = page.getByTestId(testIds.infra.agentRow('branch-office'));
      await seen.waitFor();
      assert.equal(await seen.getByTestId(testIds.infra.pill).first().getAttribute('data-state'), 'up');
      const text = await seen.innerText();
      assert.match(text, /192\.0\.2\.0\/28/);
      assert.match(text, /v0\.1\.0/);
      assert.match(text, /every 1m/, "central's report interval for it (agents.report_interval_seconds, 60 s)");
      assert.equal(
        await seen.getByRole('link', { name: '192.0.2.0/28' }).getAttribute('href'),
        `${APP}/subnets/${lan.body.id}`
      );
      assert.equal(await page.getByTestId(testIds.infra.registerAgent).count(), 0, 'a Viewer is offered registration');
      // What the agent found is in IPAM like a sweep of central's own.
      await seen.getByRole('link', { name: '192.0.2.0/28' }).click();
      await page.getByText('192.0.2.7').first().waitFor();

      mkdirSync(SCREENSHOTS, { recursive: true });
      for (const theme of ['light', 'dark'] as const) {
        await setUser(env, 'Admin', theme);
        await open(env, page, `${APP}/infrastructure`);
        const section = page.getByTestId(testIds.infra.agents);
        await section.getByTestId(testIds.infra.agentRow('branch-office')).waitFor();
        await settle(page);
        await section.screenshot({ path: join(SCREENSHOTS, `agents-${theme}.png`), animations: 'disabled' });
      }
      await page.close();
    }
  );

  await step('load time of a /16 with 5,000 used addresses', async () => {
    const perf: Record<string, unknown> = {};
    results.subnetPageLoad = perf;
    // Scattered: one used address every ~13, so the table has 5,000 address rows and 5,000 gap rows.
    const scattered = await exporter.api.post<{ id: number }>(
      '/api/v1/subnets',
      { cidr: PERF, name: 'perf scattered', scan_enabled: false },
      TOKENS.admin
    );
    assert.equal(scattered.status, 201, scattered.text);
    const imported = await exporter.api.call('POST', '/api/v1/import/addresses', {
      rawBody: scatteredCsv(PERF, 5000),
      contentType: 'text/csv',
      token: TOKENS.admin,
    });
    // More than 1,000 rows: an import job (202 + Location) to follow until it is done.
    assert.equal(imported.status, 202, imported.text);
    let job = imported.body as { state: string; rows: number; stored: number };
    for (let i = 0; i < 600 && job.state !== 'done' && job.state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = (await exporter.api.get(String(imported.headers.get('location')), TOKENS.admin)).body;
    }
    assert.equal(job.state, 'done', JSON.stringify(job));
    assert.equal(job.rows, 5000);
    // Contiguous: the next free 4,096 + 904 addresses, one address row per address and one gap.
    const contiguous = await exporter.api.post<{ id: number }>(
      '/api/v1/subnets',
      { cidr: PERF_CONTIGUOUS, name: 'perf contiguous', scan_enabled: false },
      TOKENS.admin
    );
    assert.equal(contiguous.status, 201, contiguous.text);
    for (const count of [4096, 904]) {
      const r = await exporter.api.post(
        `/api/v1/subnets/${contiguous.body.id}/available-ips`,
        { count, state: 'assigned' },
        TOKENS.admin
      );
      assert.equal(r.status, 201, r.text);
    }
    await setUser(env, 'Viewer');
    const runs = 4;
    for (const [name, cidr, id] of [
      ['scattered', PERF, scattered.body.id],
      ['contiguous', PERF_CONTIGUOUS, contiguous.body.id],
    ] as const) {
      assert.equal((await exporter.api.get(`/api/v1/subnets/${id}`, TOKENS.read)).body.utilization.used, 5000);
      // 1. A full page load of /a/lanscape-ipam-app/subnets/<id>: the host boots, loads module.js and
      //    the page's chunks, fetches the rows; until the first row is laid out (in-page clock).
      const fullLoad: number[] = [];
      const wall: number[] = [];
      let rowsText = '';
      for (let i = 0; i < runs; i++) {
        const page = await browser.context.newPage();
        const t0 = Date.now();
        await page.goto(`${server.url}${APP}/subnets/${id}`, { waitUntil: 'commit' });
        await page
          .getByTestId(/^address-row-/)
          .first()
          .waitFor({ state: 'visible', timeout: 60_000 });
        wall.push(Date.now() - t0);
        fullLoad.push(Math.round(await page.evaluate('window.__firstRowAt ?? -1')));
        rowsText = (
          await page
            .getByText(/rows loaded/)
            .first()
            .innerText()
        ).trim();
        await page.close();
      }
      // 2. The Grafana case: the app is running (overview open), the user clicks the subnet.
      const inApp: number[] = [];
      const interactive: number[] = [];
      for (let i = 0; i < runs; i++) {
        const page = await browser.context.newPage();
        await open(env, page, `${APP}/overview`);
        await page
          .getByTestId(testIds.overview.subnetRow(GLOBAL_VRF.id, cidr))
          .getByRole('link', { name: cidr })
          .click();
        const firstRow = page.getByTestId(/^address-row-/).first();
        await firstRow.waitFor({ state: 'visible', timeout: 60_000 });
        inApp.push(Math.round(Number(await page.evaluate('window.__firstRowAt - window.__lastClickAt'))));
        // Interactive: the first row takes a click and opens its address drawer.
        const c0 = Date.now();
        await firstRow.click();
        await page.getByTestId(testIds.drawer.container).waitFor();
        interactive.push(Date.now() - c0);
        await page.close();
      }
      // The first full load also fills the browser's caches: reported, not in the median.
      perf[name] = {
        cidr,
        used: 5000,
        rows: rowsText,
        fullPageLoadMs: { median: median(fullLoad.slice(1)), first: fullLoad[0], samples: fullLoad, wallSamples: wall },
        inAppNavigationMs: { median: median(inApp), samples: inApp },
        firstRowClickToDrawerMs: { median: median(interactive), samples: interactive },
      };
      t.diagnostic(
        `${cidr} (${name}, 5,000 used; ${rowsText}): first row visible ${median(inApp)} ms after clicking the subnet in the ` +
          `running app, ${median(fullLoad.slice(1))} ms after a full page load starts (first load ${fullLoad[0]} ms); ` +
          `row click to drawer ${median(interactive)} ms`
      );
    }
  });

  assert.deepEqual(browser.pageErrors, [], 'uncaught errors in the pages');
  assert.deepEqual(browser.pageEscapes, [], 'requests of the pages that tried to leave 127.0.0.1');
  // Chromium's own background requests (update checks, autofill, sign-in) went to the sinkhole.
  const refused: Record<string, number> = {};
  for (const b of browser.blocked) {
    const host = b.startsWith('CONNECT ') ? b.slice(8).replace(/:\d+$/, '') : new URL(b.split(' ')[1]!).hostname;
    refused[host] = (refused[host] ?? 0) + 1;
  }
  results.browserBackgroundRequestsRefused = refused;
  const assetFailures = browser.badResponses.filter(
    (r) => r.includes('/public/plugins/') || r.includes('/public/build/shell.')
  );
  assert.deepEqual(assetFailures, [], 'plugin or shell files that failed to load');
  results.totalSeconds = Math.round((Date.now() - started) / 100) / 10;
  t.diagnostic(`browser test took ${results.totalSeconds} s; steps: ${JSON.stringify(steps)}`);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  t.diagnostic(`results: ${RESULTS}; screenshots: ${SCREENSHOTS}`);
});

/** Expands the gap row that starts at `ip`, or else the first one (whose list shows its first 16). */
async function expandGapWith(page: Page, ip: string) {
  await page
    .getByTestId(/^gap-row-/)
    .first()
    .waitFor();
  const own = page.getByTestId(testIds.subnet.gapRow(ip));
  const gap = (await own.count()) > 0 ? own : page.getByTestId(/^gap-row-/).first();
  await gap.click();
  return gap;
}

async function assertDisabled(locator: ReturnType<Page['getByTestId']>): Promise<void> {
  await locator.waitFor();
  assert.equal(await locator.isDisabled(), true, 'a Viewer is offered a reservation');
}

/** Chooses a configured host in one of the traffic form's comboboxes (run form or schedule modal). */
async function pickHost(
  page: Page,
  prefix: 'run' | 'schedule',
  name: 'source' | 'target',
  value: string
): Promise<void> {
  const input = page.getByTestId(testIds.traffic.field(prefix, name));
  await input.click();
  await input.fill(value);
  await page
    .getByRole('option', { name: new RegExp(`^${value}\\b`) })
    .first()
    .click();
  assert.equal(await input.inputValue(), value);
}

/** Fills the run form (loop-a → loop-b, TCP, `seconds`), runs the test and waits until it is done. */
async function runTrafficTest(page: Page, seconds: number): Promise<void> {
  await page.getByTestId(testIds.traffic.form).waitFor();
  await pickHost(page, 'run', 'source', TRAFFIC_SOURCE);
  await pickHost(page, 'run', 'target', TRAFFIC_TARGET);
  await page.getByTestId(testIds.traffic.field('run', 'duration')).fill(String(seconds));
  await page.getByTestId(testIds.traffic.run).click();
  const current = page.getByTestId(testIds.traffic.current);
  await current.waitFor();
  await page
    .locator(
      `[data-testid="${testIds.traffic.current}"][data-state="done"], [data-testid="${testIds.traffic.current}"][data-state="failed"]`
    )
    .waitFor({ timeout: 60_000 });
  const state = await current.getAttribute('data-state');
  const error = state === 'failed' ? await page.getByTestId(testIds.traffic.testError).innerText() : '';
  assert.equal(state, 'done', `the traffic test failed: ${error}`);
}

/** Lets fonts, icons and transitions settle before a screenshot. */
async function settle(page: Page): Promise<void> {
  await page.evaluate(() => document.fonts.ready);
  await page.mouse.move(0, 0);
  await page.waitForTimeout(400);
}

/** Chooses an option of one of the wizard's comboboxes by typing `text` (the option's label starts with it). */
async function pickOption(page: Page, field: string, text: string): Promise<void> {
  await pickCombobox(page, testIds.vm.field(field), text);
}

/** Chooses the first option whose label starts with `text` in the Combobox with this test id. */
async function pickCombobox(page: Page, testId: string, text: string): Promise<void> {
  const input = page.getByTestId(testId);
  await input.click();
  await input.fill(text);
  await page
    .getByRole('option', { name: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) })
    .first()
    .click();
}

/**
 * Walks the Create VM wizard: `name` on pve1, a full clone of template 9000 onto local-lvm, vmbr0 with
 * VLAN 20 in the VM subnet's next free address (which must preview as `expected`), user ops with a key.
 * Ends on the review step and returns the Idempotency-Key its curl shows.
 */
async function fillVmWizard(page: Page, name: string, expected: string): Promise<string> {
  await page.getByTestId(testIds.vm.field('name')).fill(name);
  await page.getByTestId(testIds.vm.node('pve1')).getByRole('button', { name: 'pve1' }).click();
  await page.getByTestId(testIds.vm.next).click();
  await pickOption(page, 'template', 'debian-12');
  await pickOption(page, 'clone-storage', 'local-lvm');
  await page.getByTestId(testIds.vm.next).click();
  await pickOption(page, 'bridge', 'vmbr0');
  await pickOption(page, 'subnet', VM_SUBNET);
  await page.getByTestId(testIds.vm.preview).getByText(expected, { exact: true }).waitFor();
  assert.equal(await page.getByTestId(testIds.vm.field('gateway')).inputValue(), VM_GATEWAY);
  assert.equal(await page.getByTestId(testIds.vm.field('vlan')).inputValue(), '20');
  await page.getByTestId(testIds.vm.field('dns')).fill('198.51.100.53');
  await page.getByTestId(testIds.vm.next).click();
  await page.getByTestId(testIds.vm.field('user')).fill('ops');
  await page.getByTestId(testIds.vm.field('ssh-keys')).fill(SSH_KEY);
  await page.getByTestId(testIds.vm.next).click();
  const curl = page.getByTestId(testIds.vm.curl);
  await curl.waitFor();
  const text = await curl.innerText();
  const body = JSON.parse(text.slice(text.indexOf("--data '") + 8, text.lastIndexOf("'")));
  assert.deepEqual(body.network, {
    bridge: 'vmbr0',
    vlan: 20,
    address: { subnet_id: body.network.address.subnet_id, next_free: true },
    gateway: VM_GATEWAY,
    dns: ['198.51.100.53'],
  });
  const key = /Idempotency-Key: ([0-9a-f-]{36})/.exec(text)?.[1];
  assert.ok(key, text);
  return key;
}

/** Waits until the followed VM job ends; its state. */
async function waitForVmJob(page: Page): Promise<string | null> {
  const job = `[data-testid="${testIds.vm.job}"]`;
  await page.locator(`${job}[data-state="done"], ${job}[data-state="failed"]`).waitFor({ timeout: 30_000 });
  return page.getByTestId(testIds.vm.job).getAttribute('data-state');
}

interface GuestView {
  vmid: number;
  addresses: Array<{ address: string; address_id: number | null }> | null;
}

/** Polls the exporter's Proxmox guests until `ready` holds (inventories run every 10 s here). */
async function waitForInventory(env: Env, ready: (guests: GuestView[]) => boolean): Promise<GuestView[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await env.exporter.api.get<{ results: GuestView[] }>('/api/v1/proxmox/guests', TOKENS.read);
    if (r.status === 200 && ready(r.body.results)) {
      return r.body.results;
    }
    if (Date.now() > deadline) {
      throw new Error(`the Proxmox inventory did not get there: ${r.text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
