// Discovery benchmarks in the lab network (test/fixtures/netlab.sh): the exporter and the
// reference scanners run inside the scanner namespace, which has no default route; every
// packet goes to lab hosts or is dropped by the lab router. Needs root.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient, EXPORTER_DIR, TOKENS, testEnv } from '../test/helpers/exporter.js';
import { type Lab, startLab } from '../test/helpers/lab.js';
import { type BenchContext, type Benchmark, type Row, type Suite, sleep } from './lib.js';

const ROUTED = '10.200.0.0/16';
const LAN = '10.201.0.0/24';
const LIVE_EXTRA = 193; // + the 7 fixed live hosts = 200 alive in the /16

interface LabExporter {
  lab: Lab;
  api: ApiClient;
  pid: number;
  subnets: Record<string, number>;
}

async function labExporter(ctx: BenchContext): Promise<LabExporter> {
  if (process.getuid?.() !== 0) throw new Error('the discovery benchmarks build a lab network: run them as root');
  const lab = await startLab({ liveRouted: LIVE_EXTRA });
  const dir = ctx.tempDir('discovery');
  const config = join(dir, 'lanscape.yaml');
  // The sweep alone: no port checks or name lookups after it. The bench sets 20,000 pps
  // explicitly; the default (500 pps) is for real networks.
  writeFileSync(config, 'scan:\n  ports: []\n  manual_min_interval_seconds: 0\n');
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
      LANSCAPE_SCAN_PPS: '20000',
      LANSCAPE_SCAN_TIMEOUT_MS: '1000',
      LANSCAPE_SCAN_RETRIES: '0',
      LANSCAPE_SCAN_MAX_IN_FLIGHT: '30000',
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
  ctx.log(`lab ${lab.prefix} up: ${lab.routedLive.length} live routed hosts, exporter ${entry.label} pid ${child.pid}`);
  return { lab, api, pid: child.pid!, subnets };
}

async function timedScan(api: ApiClient, subnetId: number): Promise<{ seconds: number; scan: any }> {
  const t0 = performance.now();
  const start = await api.post(`/api/v1/subnets/${subnetId}/scan`, {});
  if (start.status !== 202) throw new Error(`scan: HTTP ${start.status} ${start.text}`);
  for (let i = 0; i < 1200; i++) {
    const s = (await api.get(`/api/v1/scans/${start.body.id}`)).body;
    if (s.state === 'done' || s.state === 'failed') {
      if (s.state === 'failed') throw new Error(`scan failed: ${s.error}`);
      return { seconds: (performance.now() - t0) / 1000, scan: s };
    }
    await sleep(20);
  }
  throw new Error('scan did not finish in 24 s');
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

/** Resident set size in MB (10^6 bytes), from /proc (its "kB" are KiB). */
function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? (Number(m[1]) * 1024) / 1e6 : NaN;
}

const fmt = (s: number) => `${s.toFixed(2)} s`;

const sweepBench: Benchmark = {
  name: 'discovery-sweep',
  description: `ICMP sweeps in the lab: routed /16 (${7 + LIVE_EXTRA} alive) and LAN /24, against nmap (and fping with --with-fping)`,
  async run(ctx) {
    const env = await labExporter(ctx);
    const { lab, api, pid } = env;
    const rows: Row[] = [];
    try {
      // API latency and memory while the /16 sweep runs.
      let sweeping = true;
      const latencies: number[] = [];
      let rss = 0;
      const prober = (async () => {
        while (sweeping) {
          const t0 = performance.now();
          const r = await api.get('/api/v1/subnets');
          if (r.status !== 200) throw new Error(`GET /subnets: ${r.status}`);
          latencies.push(performance.now() - t0);
          rss = Math.max(rss, rssMB(pid));
          await sleep(5);
        }
      })();
      const routed = await timedScan(api, env.subnets[ROUTED]!);
      sweeping = false;
      await prober;
      if (routed.scan.alive !== lab.routedLive.length)
        throw new Error(`found ${routed.scan.alive} of ${lab.routedLive.length} live hosts`);
      const nmap = timedCommand(lab, ['nmap', '-sn', '-PE', '-n', '--min-rate', '20000', ROUTED]);
      const nmapUp = (nmap.stdout.match(/Host is up/g) ?? []).length;
      rows.push({
        benchmark: `discovery-sweep: routed /16, 20,000 pps, 1 s timeout`,
        target: '<= 5 s',
        pass: routed.seconds <= 5,
        result:
          `${fmt(routed.seconds)} (${routed.scan.alive} alive of 65,534, ${routed.scan.sent} requests); nmap -sn -PE --min-rate 20000: ` +
          `${fmt(nmap.seconds)} (${nmapUp} up); ratio ${(routed.seconds / nmap.seconds).toFixed(2)}× nmap`,
      });
      if (process.argv.includes('--with-fping')) {
        const fping = timedCommand(lab, ['fping', '-a', '-q', '-r', '0', '-t', '1000', '-g', ROUTED]);
        rows.push({
          benchmark: 'discovery-sweep: fping -g on the same /16 (info)',
          target: '-',
          pass: null,
          result: `${fmt(fping.seconds)} (${fping.stdout.trim().split('\n').filter(Boolean).length} alive); ratio ${(routed.seconds / fping.seconds).toFixed(2)}× fping`,
        });
      }
      const sorted = [...latencies].sort((a, b) => a - b);
      const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? NaN;
      rows.push({
        benchmark: 'discovery-sweep: GET /api/v1/subnets during the /16 sweep',
        target: 'p99 < 50 ms',
        pass: p99 < 50,
        result: `p99 ${p99.toFixed(1)} ms, median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms (n=${sorted.length})`,
      });
      rss = Math.max(rss, rssMB(pid));
      rows.push({
        benchmark: 'discovery-sweep: exporter RSS while tracking the /16',
        target: '< 200 MB',
        pass: rss < 200,
        result: `${rss.toFixed(0)} MB peak (sampled every request during the sweep)`,
      });

      const lan = await timedScan(api, env.subnets[LAN]!);
      const nmapLan = timedCommand(lab, ['nmap', '-sn', '-PR', '-n', LAN]);
      rows.push({
        benchmark: 'discovery-sweep: LAN /24 (ARP fails for the dead)',
        target: '<= 2 s',
        pass: lan.seconds <= 2,
        result:
          `${fmt(lan.seconds)} (${lan.scan.alive} alive, the scanner's own address included); nmap ARP scan: ${fmt(nmapLan.seconds)} ` +
          `(${(nmapLan.stdout.match(/Host is up/g) ?? []).length} up)`,
      });
      return rows;
    } finally {
      api.close();
      await lab.down();
    }
  },
};

export const discoverySuite: Suite = { name: 'discovery', benchmarks: [sweepBench] };
