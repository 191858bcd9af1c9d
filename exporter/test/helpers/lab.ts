// A private test network of Linux network namespaces (test/fixtures/netlab.sh), for scanner
// tests. Needs root and iproute2. Traffic stays inside the lab: the scanner namespace has no
// default route. Every lab gets its own namespace prefix (ipl-<6 hex>-), so labs can coexist.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CommandResult, runCommand, stopChild } from './processes.js';

export const NETLAB_SCRIPT = fileURLToPath(new URL('../fixtures/netlab.sh', import.meta.url));

/** Routed hosts the fixture always makes live (the reference lab's fixed set). */
const BASE_ROUTED = [
  '10.200.0.10',
  '10.200.0.11',
  '10.200.0.12',
  '10.200.0.13',
  '10.200.0.14',
  '10.200.7.7',
  '10.200.200.200',
];

/**
 * LAN hosts, each on its own macvlan with its own MAC (real IEEE OUIs, see netlab.sh), by LAN
 * set: b is another site on the same /24 (one address in common, on another machine).
 */
const LAN_SETS = {
  a: [
    { address: '10.201.0.10', address6: 'fd00:201::10', mac: '00:1b:21:0a:00:10' }, // 001B21 Intel Corporate
    { address: '10.201.0.11', address6: 'fd00:201::11', mac: '00:1b:21:0a:00:11' }, // 001B21 Intel Corporate
    { address: '10.201.0.12', address6: 'fd00:201::12', mac: 'b8:27:eb:0a:00:12' }, // B827EB Raspberry Pi Foundation
  ],
  b: [
    { address: '10.201.0.10', address6: 'fd00:201::10', mac: '00:1b:21:0b:00:10' }, // 001B21 Intel Corporate
    { address: '10.201.0.20', address6: 'fd00:201::20', mac: 'b8:27:eb:0b:00:20' }, // B827EB Raspberry Pi Foundation
  ],
} as const;

export interface Lab {
  prefix: string;
  ns: { scan: string; gw: string; hosts: string; lan: string };
  routedLive: string[]; // every live routed host address, sorted numerically
  /** LAN hosts: IPv4 10.201.0.0/24 and IPv6 fd00:201::/64 (the scanner is .1 and ::1) */
  lanHosts: { address: string; address6: string; mac: string }[];
  /** run a command inside a namespace, resolve with {code, stdout, stderr}; rejects on spawn error */
  exec(ns: string, argv: string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
  /** spawn a long-running process inside a namespace (e.g. an exporter, a listener); returns the ChildProcess; the lab kills every process it spawned in down() */
  spawn(ns: string, argv: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string }): ChildProcess;
  down(): Promise<void>; // kill spawned processes (by PID), then delete the namespaces; idempotent
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** The live routed hosts for LIVE_ROUTED = extra: the same formula as netlab.sh, deduplicated, sorted numerically. */
export function routedLiveHosts(extra: number): string[] {
  const live = [...BASE_ROUTED];
  for (let i = 0; i < extra; i++) live.push(`10.200.${(i * 37 + 3) % 256}.${((i * 91 + 20) % 254) + 1}`);
  return [...new Set(live)].sort((a, b) => ipToInt(a) - ipToInt(b));
}

const runScript = (args: string[], timeoutMs: number) => runCommand('bash', [NETLAB_SCRIPT, ...args], { timeoutMs });

/** Synchronous teardown for exit/signal paths: kill our processes (by PID), delete our namespaces. */
function teardownSync(prefix: string, children: Set<ChildProcess>): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  children.clear();
  spawnSync('bash', [NETLAB_SCRIPT, 'down', prefix], { stdio: 'ignore', timeout: 15_000 });
}

/** Builds a fresh lab with a random prefix. Call down() when done (an exit handler is only a safety net). */
export async function startLab(opts: { liveRouted?: number; lanSet?: keyof typeof LAN_SETS } = {}): Promise<Lab> {
  const liveRouted = opts.liveRouted ?? 0;
  const lanSet = opts.lanSet ?? 'a';
  if (!Number.isInteger(liveRouted) || liveRouted < 0 || liveRouted > 65000) {
    throw new Error(`liveRouted must be an integer 0..65000, got ${liveRouted}`);
  }
  const prefix = `ipl-${randomBytes(3).toString('hex')}-`;
  const ns = { scan: `${prefix}scan`, gw: `${prefix}gw`, hosts: `${prefix}hosts`, lan: `${prefix}lan` };
  const own = new Set<string>(Object.values(ns));
  const children = new Set<ChildProcess>();
  let isDown = false;

  // Safety net: if the process ends without down(), still remove the namespaces.
  const onExit = (): void => {
    if (!isDown) {
      isDown = true;
      teardownSync(prefix, children);
    }
  };
  // On SIGINT/SIGTERM: tear down, then re-raise so the default action (or the next lab's handler) runs.
  const onSignal = (signal: NodeJS.Signals): void => {
    onExit();
    removeHandlers();
    process.kill(process.pid, signal);
  };
  const removeHandlers = (): void => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let up: CommandResult;
  try {
    up = await runScript(['up', prefix, String(liveRouted), lanSet], 60_000);
  } catch (err) {
    onExit();
    removeHandlers();
    throw err;
  }
  if (up.code !== 0) {
    onExit();
    removeHandlers();
    throw new Error(`netlab.sh up ${prefix} failed (exit ${up.code}): ${up.stderr.trim() || up.stdout.trim()}`);
  }

  const checkNs = (name: string): void => {
    if (!own.has(name)) throw new Error(`namespace ${name} is not part of lab ${prefix} (${[...own].join(', ')})`);
  };

  const lab: Lab = {
    prefix,
    ns,
    routedLive: routedLiveHosts(liveRouted),
    lanHosts: LAN_SETS[lanSet].map((h) => ({ ...h })),

    exec(name, argv, execOpts = {}) {
      try {
        checkNs(name);
      } catch (err) {
        return Promise.reject(err);
      }
      if (isDown) return Promise.reject(new Error(`lab ${prefix} is down`));
      return runCommand('ip', ['netns', 'exec', name, ...argv], execOpts);
    },

    spawn(name, argv, spawnOpts = {}) {
      checkNs(name);
      if (isDown) throw new Error(`lab ${prefix} is down`);
      // `ip netns exec` execs the command after setns, so the child's PID is the command's PID.
      const child = spawn('ip', ['netns', 'exec', name, ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(spawnOpts.env ? { env: spawnOpts.env } : {}),
        ...(spawnOpts.cwd ? { cwd: spawnOpts.cwd } : {}),
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      child.once('error', () => children.delete(child));
      return child;
    },

    async down() {
      if (isDown) return;
      isDown = true;
      await Promise.all([...children].filter((c) => c.pid !== undefined).map((child) => stopChild(child, 2_000)));
      children.clear();
      const res = await runScript(['down', prefix], 30_000);
      removeHandlers();
      if (res.code !== 0) throw new Error(`netlab.sh down ${prefix} failed (exit ${res.code}): ${res.stderr.trim()}`);
    },
  };
  return lab;
}

/**
 * Packet loss on the lab router, towards the routed hosts (what `tc qdisc add dev gw1 root netem
 * loss P%` does; netem is not in every kernel, so it is iptables in the router's namespace):
 *   { percent: 5 }  each echo request to a routed host is dropped with probability 5 %
 *   { firstTry: true }  each routed host's first echo request is dropped, later ones pass
 *   {}  no loss
 */
export async function routerLoss(lab: Lab, loss: { percent?: number; firstTry?: boolean }): Promise<void> {
  const ipt = (...args: string[]) => lab.exec(lab.ns.gw, ['iptables', ...args]);
  const must = async (p: Promise<CommandResult>) => {
    const r = await p;
    if (r.code !== 0) throw new Error(`iptables failed: ${r.stderr.trim()}`);
  };
  await must(ipt('-F', 'FORWARD'));
  const echo = ['-A', 'FORWARD', '-o', 'gw1', '-p', 'icmp', '--icmp-type', 'echo-request'];
  if (loss.percent) {
    await must(
      ipt(...echo, '-m', 'statistic', '--mode', 'random', '--probability', String(loss.percent / 100), '-j', 'DROP'),
    );
  }
  if (loss.firstTry) {
    await must(ipt(...echo, '-m', 'recent', '--name', 'tried', '--rdest', '--rcheck', '-j', 'ACCEPT'));
    await must(ipt(...echo, '-m', 'recent', '--name', 'tried', '--rdest', '--set', '-j', 'DROP'));
  }
}

/** For tests: skip when not root or `ip` is missing, locally; throw under CI=true (CI must run every test). */
export function requireLab(t: TestContext): boolean {
  let reason: string | undefined;
  if (process.getuid?.() !== 0) {
    reason = 'the network lab needs root (network namespaces)';
  } else {
    const r = spawnSync('ip', ['-V'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) reason = 'ip is not installed (apt-get install iproute2)';
  }
  if (reason === undefined) return true;
  if (process.env.CI) throw new Error(`${reason}; CI must run every test`);
  t.skip(reason);
  return false;
}

/** Resolves with the first match of `pattern` in a child's stdout (stderr is kept for the error). */
export function waitForLine(child: ChildProcess, pattern: RegExp, ms = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in:\n${out}`)), ms);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
  });
}
