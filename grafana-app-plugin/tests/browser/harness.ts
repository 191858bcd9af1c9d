// Plumbing of the browser test: the plugin build, the exporter, the shell server and Chromium,
// each started once and stopped by the test (processes by PID, temp dirs removed).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const PLUGIN_DIR = join(__dirname, '..', '..');
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) {
    return st.mtimeMs;
  }
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) {
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

/**
 * The plugin's dist/: LANSCAPE_PLUGIN_DIST when set (a prebuilt plugin, used as is), else
 * grafana-app-plugin/dist, rebuilt with `npm run build` when missing or older than src/.
 */
export function ensurePluginBuilt(): { distDir: string; built: boolean; ms: number } {
  const override = process.env.LANSCAPE_PLUGIN_DIST;
  if (override) {
    return { distDir: override, built: false, ms: 0 };
  }
  const distDir = join(PLUGIN_DIR, 'dist');
  const moduleJs = join(distDir, 'module.js');
  const stale =
    !existsSync(moduleJs) ||
    !existsSync(join(distDir, 'plugin.json')) ||
    statSync(moduleJs).mtimeMs < newestMtime(join(PLUGIN_DIR, 'src'));
  if (!stale) {
    return { distDir, built: false, ms: 0 };
  }
  const started = Date.now();
  const r = spawnSync('npm', ['run', 'build'], { cwd: PLUGIN_DIR, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`npm run build failed (exit ${r.status}):\n${(r.stdout + r.stderr).split('\n').slice(-40).join('\n')}`);
  }
  return { distDir, built: true, ms: Date.now() - started };
}

export interface Browser {
  context: BrowserContext;
  pid?: number;
  userDataDir: string;
  /** Errors thrown in pages (uncaught) and console.error lines, per page, for assertions. */
  pageErrors: string[];
  consoleErrors: string[];
  /** Responses with status >= 400, as "STATUS METHOD URL". */
  badResponses: string[];
  /** What the browser tried to send beyond 127.0.0.1 (refused by the sinkhole), pages or not. */
  blocked: string[];
  /** Requests of the pages (the shell, the plugin) to anywhere but 127.0.0.1. */
  pageEscapes: string[];
  close(): Promise<void>;
}

/**
 * A sink for everything the browser would send anywhere but 127.0.0.1: Chromium is told to use it as
 * its proxy (loopback bypasses proxies), so any such request lands here, is logged and refused.
 * (Intercepting requests in Playwright instead would turn the browser's HTTP cache off.)
 */
async function startSinkhole(log: string[]): Promise<Server> {
  const sink = createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  sink.on('connect', (req: IncomingMessage, socket: Socket) => {
    log.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((ok) => sink.listen(0, '127.0.0.1', () => ok()));
  return sink;
}

/** Chromium with a fresh profile; nothing it sends may leave 127.0.0.1 (see startSinkhole). */
export async function launchChromium(executablePath: string): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'lanscape-chromium-'));
  const blocked: string[] = [];
  const sink = await startSinkhole(blocked);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    proxy: { server: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`, bypass: '127.0.0.1' },
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    timezoneId: 'UTC',
    locale: 'en-US',
  });
  const browser: Browser = {
    context,
    userDataDir,
    pageErrors: [],
    consoleErrors: [],
    badResponses: [],
    blocked,
    pageEscapes: [],
    async close() {
      await context.close().catch(() => {});
      // Playwright ends the browser; make sure, by PID, that no process of this profile is left.
      for (const pid of [browser.pid, ...findChromiumPids(userDataDir)]) {
        killPid(pid);
      }
      rmSync(userDataDir, { recursive: true, force: true });
      sink.closeAllConnections();
      await new Promise((done) => sink.close(done));
    },
  };
  // The browser process's PID, to be sure it is gone at the end.
  browser.pid = findChromiumPids(userDataDir)[0];
  context.on('page', (page) => watch(browser, page));
  for (const page of context.pages()) {
    watch(browser, page);
  }
  return browser;
}

function watch(browser: Browser, page: Page): void {
  page.on('pageerror', (e) => browser.pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (!['data:', 'blob:', 'about:'].includes(url.protocol) && url.hostname !== '127.0.0.1') {
      browser.pageEscapes.push(r.url());
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 400) {
      browser.badResponses.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    }
  });
  page.on('console', (m) => {
    if (m.type() === 'error') {
      browser.consoleErrors.push(`${page.url()}: ${m.text()}`);
    }
  });
}

/** PIDs of the Chromium processes using this profile directory, oldest (the browser) first. */
export function findChromiumPids(userDataDir: string): number[] {
  const r = spawnSync('pgrep', ['-f', '--', `--user-data-dir=${userDataDir}`], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid)
    .sort((a, b) => a - b);
}

/** Kills a process by PID if it is still there. */
export function killPid(pid: number | undefined): void {
  if (!pid) {
    return;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
