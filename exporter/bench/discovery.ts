// Discovery benchmarks in the lab network (test/fixtures/netlab.sh): the exporter and the
// reference scanners run inside the scanner namespace, which has no default route; every
// packet goes to lab hosts or is dropped by the lab router. Needs root.
//
// The exporter runs with the shipped defaults (retries 1, the default in-flight cap, default
// ports, reverse DNS on) except LANSCAPE_SCAN_PPS and LANSCAPE_SCAN_TIMEOUT_MS=1000, and its
// resolver is an address the lab router drops: "unreachable". nmap runs in the same namespace
// in the same round, so the ratio holds on a noisy machine; `--repeat N` runs N rounds (default 3)
// and the rows show the median round (all rounds in the log).
import { type ChildProcess, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient, EXPORTER_DIR, TOKENS, testEnv } from '../test/helpers/exporter.js';
import { type Lab, routerLoss, startLab } from '../test/helpers/lab.js';
import { type BenchContext, type Benchmark, type Row, type Suite, median, sleep } from './lib.js';

const ROUTED = '10.200.0.0/16';
const LAN = '10.201.0.0/24';
const LIVE_EXTRA = 200; // + the 7 fixed live hosts, deduplicated: 207 alive in the /16
const TIMEOUT_S = 1;
/** A resolver address inside the routed /16 that no host has: the lab router drops its queries. */
const DEAD_RESOLVER = '10.200.99.99';

function repeats(): number {
  const i = process.argv.indexOf('--repeat');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 3;
  return Number.isInteger(n) && n >= 1 && n <= 20 ? n : 3;
}

interface LabExporter {
  api: ApiClient;
  pid: number;
  child: ChildProcess;
  subnets: Record<string, number>;
}

async function labExporter(ctx: BenchContext, lab: Lab, pps: number): Promise<LabExporter> {
  const dir = ctx.tempDir(`discovery-${pps}`);
  const config = join(dir, 'lanscape.yaml');
  writeFileSync(config, 'scan:\n  manual_min_interval_seconds: 0\n  port_interval_seconds: 0\n');
  const socket = join(dir, 'exporter.sock');
  const entry = await ctx.exporterEntry();
  const child = lab.spawn(lab.ns.scan, [process.execPath, ...entry.args], {
    cwd: EXPORTER_DIR,
    env: {
      ...process.env,
      ...testEnv(join(dir, 'bench.db')),
      LANSCAPE_CONFIG: config,
      LANSCAPE_LISTEN: `unix:${socket}`,
      LANSCAPE_LOG_LEVEL: 'info',
      LANSCAPE_SCAN_PPS: String(pps),
      LANSCAPE_SCAN_TIMEOUT_MS: String(TIMEOUT_S * 1000),
      LANSCAPE_SCAN_RDNS: 'true', // the test environment turns it off; the shipped default is on
      LANSCAPE_SCAN_DNS_SERVERS: DEAD_RESOLVER,
      // testEnv turns the test mode's check of every answer on; users run without it.
      LANSCAPE_VALIDATE_RESPONSES: '0',
    },
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`exporter did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('lanscape exporter listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
  });
  const api = new ApiClient(`unix:${socket}`, TOKENS.admin);
  const subnets: Record<string, number> = {};
  for (const cidr of [ROUTED, LAN]) subnets[cidr] = (await api.post('/api/v1/subnets', { cidr })).body.id;
  ctx.log(`exporter ${entry.label} pid ${child.pid} at ${pps} pps`);
  return { api, pid: child.pid!, child, subnets };
}

async function stopExporter(e: LabExporter): Promise<void> {
  e.api.close();
  if (e.child.exitCode !== null || e.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => e.child.once('exit', () => resolve()));
  e.child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
}

interface Phase {
  phase: string;
  pass?: number;
  seconds: number;
  sent?: number;
  found?: number;
  hosts?: number;
}
interface Scan {
  seconds: number;
  /** sweep pass + retry passes (the sweep engine's time) */
  sweep: number;
  alive: number;
  sent: number;
  phases: Phase[];
  warnings: { kind: string }[];
}

async function timedScan(api: ApiClient, subnetId: number): Promise<Scan> {
  const t0 = performance.now();
  const start = await api.post(`/api/v1/subnets/${subnetId}/scan`, {});
  if (start.status !== 202) throw new Error(`scan: HTTP ${start.status} ${start.text}`);
  for (let i = 0; i < 3000; i++) {
    const s = (await api.get(`/api/v1/scans/${start.body.id}`)).body;
    if (s.state === 'done' || s.state === 'failed') {
      if (s.state === 'failed') throw new Error(`scan failed: ${s.error}`);
      const seconds = (performance.now() - t0) / 1000;
      const sweep = (s.phases as Phase[])
        .filter((p) => p.phase === 'sweep' || p.phase === 'retry')
        .reduce((a, p) => a + p.seconds, 0);
      return { seconds, sweep, alive: s.alive, sent: s.sent, phases: s.phases, warnings: s.warnings };
    }
    await sleep(10);
  }
  throw new Error('scan did not finish in 30 s');
}

function timedCommand(lab: Lab, argv: string[]): { seconds: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', lab.ns.scan, ...argv], {
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`${argv[0]} failed: ${r.stderr}`);
  return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout };
}

function nmapPing(lab: Lab, rate: number, target = ROUTED): { seconds: number; up: number } {
  const r = timedCommand(lab, ['nmap', '-sn', '-PE', '-n', '--min-rate', String(rate), target]);
  return { seconds: r.seconds, up: (r.stdout.match(/Host is up/g) ?? []).length };
}

/** Resident set size (VmRSS, or its high-water mark VmHWM) in MB (10^6 bytes), from /proc (its "kB" are KiB). */
function rssMB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? (Number(m[1]) * 1024) / 1e6 : NaN;
  } catch {
    return NaN;
  }
}

const fmt = (s: number) => `${s.toFixed(2)} s`;
const phasesText = (s: Scan) =>
  s.phases.map((p) => `${p.phase}${p.pass && p.pass > 1 ? p.pass : ''} ${p.seconds.toFixed(2)}`).join(', ');

/** The round with the median of `key`. */
function medianRound<T>(rounds: T[], key: (r: T) => number): T {
  const sorted = [...rounds].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const sweepBench: Benchmark = {
  name: 'discovery-sweep',
  description: `ICMP sweeps in the lab at shipped defaults (retries 1): routed /16 (${7 + LIVE_EXTRA} entries, 207 alive) at 20,000 and 50,000 pps, with ports and names, 5 % loss, and the LAN /24, against nmap in the same rounds`,
  async run(ctx) {
    if (process.getuid?.() !== 0) throw new Error('the discovery benchmarks build a lab network: run them as root');
    const lab = await startLab({ liveRouted: LIVE_EXTRA });
    const live = lab.routedLive.length;
    const n = repeats();
    ctx.log(`lab ${lab.prefix} up: ${live} live routed hosts; ${n} rounds`);
    const rows: Row[] = [];
    let exporter: LabExporter | undefined;
    try {
      // ---- 20,000 pps: the /16 (API latency and RSS sampled meanwhile), nmap, the LAN /24.
      exporter = await labExporter(ctx, lab, 20_000);
      const { api, pid } = exporter;
      const rounds: { scan: Scan; nmap: { seconds: number; up: number }; p99: number; rss: number; lan: Scan }[] = [];
      let rssPeak = 0;
      const latencies: number[] = [];
      for (let k = 0; k < n; k++) {
        let sweeping = true;
        let rss = 0;
        const mine: number[] = [];
        const prober = (async () => {
          while (sweeping) {
            const t0 = performance.now();
            const r = await api.get('/api/v1/subnets');
            if (r.status !== 200) throw new Error(`GET /subnets: ${r.status}`);
            mine.push(performance.now() - t0);
            rss = Math.max(rss, rssMB(pid));
            await sleep(5);
          }
        })();
        const scan = await timedScan(api, exporter.subnets[ROUTED]!);
        sweeping = false;
        await prober;
        rss = Math.max(rss, rssMB(pid));
        rssPeak = Math.max(rssPeak, rss);
        latencies.push(...mine);
        const nmap = nmapPing(lab, 20_000);
        if (k === 0 && process.argv.includes('--with-fping')) {
          const fping = timedCommand(lab, ['fping', '-a', '-q', '-r', '1', '-t', '1000', '-g', ROUTED]);
          rows.push({
            benchmark: 'discovery-sweep: fping -r 1 -g on the same /16 (info)',
            target: '-',
            pass: null,
            result: `${fmt(fping.seconds)} (${fping.stdout.trim().split('\n').filter(Boolean).length} alive); exporter's sweep ${fmt(scan.sweep)}`,
          });
        }
        const lan = await timedScan(api, exporter.subnets[LAN]!);
        const sorted = [...mine].sort((a, b) => a - b);
        const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? NaN;
        rounds.push({ scan, nmap, p99, rss, lan });
        ctx.log(
          `round ${k + 1}: /16 sweep ${fmt(scan.sweep)} (${phasesText(scan)}), done ${fmt(scan.seconds)}, ${scan.alive} alive, ` +
            `${scan.sent} sent; nmap ${fmt(nmap.seconds)} (${nmap.up} up); LAN ${fmt(lan.seconds)}; p99 ${p99.toFixed(1)} ms; RSS ${rss.toFixed(0)} MB`,
        );
      }
      // The process's high-water mark catches a peak between two samples (it also covers the LAN scans).
      const hwm = rssMB(pid, 'VmHWM');
      const r = medianRound(rounds, (x) => x.scan.sweep / x.nmap.seconds);
      const floor = r.scan.sent / 20_000 + TIMEOUT_S;
      const achieved = r.scan.sent / Math.max(0.001, r.scan.sweep - TIMEOUT_S);
      const allFound = rounds.every((x) => x.scan.alive === live);
      rows.push({
        benchmark: 'discovery-sweep: routed /16, 20,000 pps, retries 1, default in-flight cap',
        target: `<= 1.1x floor, < nmap, all ${live} found`,
        pass: r.scan.sweep <= 1.1 * floor && r.scan.sweep < r.nmap.seconds && allFound,
        result:
          `sweep ${fmt(r.scan.sweep)} (${phasesText(r.scan)}; floor ${r.scan.sent.toLocaleString('en-US')} / 20,000 + 1 s = ${fmt(floor)}, ` +
          `${(r.scan.sweep / floor).toFixed(2)}x; ${Math.round(achieved).toLocaleString('en-US')} pps achieved), ${r.scan.alive} alive; ` +
          `nmap -sn -PE --min-rate 20000: ${fmt(r.nmap.seconds)} (${r.nmap.up} up); ratio ${(r.scan.sweep / r.nmap.seconds).toFixed(2)}x nmap ` +
          `(median of ${n} rounds, ratios ${rounds.map((x) => (x.scan.sweep / x.nmap.seconds).toFixed(2)).join(', ')})`,
      });
      const t = medianRound(rounds, (x) => x.scan.seconds - x.scan.sweep);
      rows.push({
        benchmark: 'discovery-sweep: /16 "Scan now" to done with ports and names, resolver unreachable',
        target: '<= sweep + 2 s',
        pass: rounds.filter((x) => x.scan.seconds <= x.scan.sweep + 2).length * 2 > n,
        result:
          `${fmt(t.scan.seconds)} = sweep ${fmt(t.scan.sweep)} + ${fmt(t.scan.seconds - t.scan.sweep)} (${phasesText(t.scan)}); ` +
          `warnings: ${t.scan.warnings.map((w) => w.kind).join(', ') || 'none'}; all rounds: ${rounds.map((x) => fmt(x.scan.seconds - x.scan.sweep)).join(', ')} after the sweep`,
      });
      const sorted = [...latencies].sort((a, b) => a - b);
      const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? NaN;
      rows.push({
        benchmark: 'discovery-sweep: GET /api/v1/subnets during the /16 scans',
        target: 'p99 < 50 ms',
        pass: p99 < 50,
        result: `p99 ${p99.toFixed(1)} ms, median ${median(latencies).toFixed(1)} ms (n=${latencies.length}, all rounds)`,
      });
      rows.push({
        benchmark: 'discovery-sweep: exporter RSS during the /16 scans',
        target: '< 150 MB',
        pass: rssPeak < 150 && hwm < 150,
        result:
          `${rssPeak.toFixed(0)} MB peak (sampled with every request, all rounds: ${rounds.map((x) => x.rss.toFixed(0)).join(', ')}); ` +
          `VmHWM ${hwm.toFixed(0)} MB (the high-water mark of the whole run, LAN scans included)`,
      });
      const lanR = medianRound(rounds, (x) => x.lan.seconds);
      const macs = (await api.get(`/api/v1/subnets/${exporter.subnets[LAN]}/addresses`)).body.results
        .filter((x: any) => x.type === 'address' && x.address.observed?.status === 'up')
        .map((x: any) => [x.address.address, x.address.observed.mac]);
      const lanMacs = lab.lanHosts.every((h) =>
        macs.some(([a, m]: [string, string]) => a === h.address && m === h.mac),
      );
      const nmapLan = timedCommand(lab, ['nmap', '-sn', '-PR', '-n', LAN]);
      rows.push({
        benchmark: 'discovery-sweep: LAN /24 "Scan now" to done, resolver unreachable',
        target: '<= 3 s, MACs of all live hosts',
        pass: lanR.lan.seconds <= 3 && lanMacs,
        result:
          `${fmt(lanR.lan.seconds)} (${phasesText(lanR.lan)}; ${lanR.lan.alive} alive, the scanner's own address included; ` +
          `MACs ${lanMacs ? 'of all 3 LAN hosts' : `MISSING: ${JSON.stringify(macs)}`}); nmap ARP scan: ${fmt(nmapLan.seconds)} ` +
          `(${(nmapLan.stdout.match(/Host is up/g) ?? []).length} up)`,
      });

      // ---- 5 % loss on the router (towards the hosts), same exporter.
      await routerLoss(lab, { percent: 5 });
      try {
        const lossRounds: { scan: Scan; nmap: { seconds: number; up: number } }[] = [];
        for (let k = 0; k < n; k++) {
          const scan = await timedScan(api, exporter.subnets[ROUTED]!);
          const nmap = nmapPing(lab, 20_000);
          lossRounds.push({ scan, nmap });
          ctx.log(`loss round ${k + 1}: ${scan.alive} found (${phasesText(scan)}); nmap ${nmap.up} up`);
        }
        const worst = Math.min(...lossRounds.map((x) => x.scan.alive));
        rows.push({
          benchmark: 'discovery-sweep: /16 with 5 % random loss on the lab router, 20,000 pps, retries 1',
          target: `>= 99 % of ${live} found`,
          pass: worst >= 0.99 * live,
          result:
            `found ${lossRounds.map((x) => x.scan.alive).join(', ')} of ${live} (${n} rounds); ` +
            `nmap -sn -PE --min-rate 20000 in the same rounds: ${lossRounds.map((x) => x.nmap.up).join(', ')} up`,
        });
      } finally {
        await routerLoss(lab, {});
      }
      await stopExporter(exporter);
      exporter = undefined;

      // ---- 50,000 pps.
      exporter = await labExporter(ctx, lab, 50_000);
      const fast: { scan: Scan; nmap: { seconds: number; up: number } }[] = [];
      for (let k = 0; k < n; k++) {
        const scan = await timedScan(exporter.api, exporter.subnets[ROUTED]!);
        const nmap = nmapPing(lab, 50_000);
        fast.push({ scan, nmap });
        ctx.log(
          `50k round ${k + 1}: sweep ${fmt(scan.sweep)} (${phasesText(scan)}), ${scan.alive} alive; nmap ${fmt(nmap.seconds)}`,
        );
      }
      const f = medianRound(fast, (x) => x.scan.sweep);
      const fastAchieved = f.scan.sent / Math.max(0.001, f.scan.sweep - TIMEOUT_S);
      rows.push({
        benchmark: 'discovery-sweep: routed /16, 50,000 pps, retries 1',
        target: '<= 4 s',
        pass: f.scan.sweep <= 4 && fast.every((x) => x.scan.alive === live),
        result:
          `sweep ${fmt(f.scan.sweep)} (${phasesText(f.scan)}; ${Math.round(fastAchieved).toLocaleString('en-US')} pps achieved), ` +
          `${f.scan.alive} alive; nmap --min-rate 50000: ${fmt(f.nmap.seconds)} (${f.nmap.up} up); ratio ${(f.scan.sweep / f.nmap.seconds).toFixed(2)}x nmap ` +
          `(median of ${n}: ${fast.map((x) => fmt(x.scan.sweep)).join(', ')})`,
      });
      return rows;
    } finally {
      if (exporter) await stopExporter(exporter);
      await lab.down();
    }
  },
};

export const discoverySuite: Suite = { name: 'discovery', benchmarks: [sweepBench] };
