// Exporter self-metrics: build info, store size, HTTP request durations, process defaults; and
// the registry that writes the exposition text in slices.
import { statSync } from 'node:fs';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from '../version.js';
import { type SnapshotFamily, SnapshotGauge, Slicer } from './snapshot.js';

export interface SelfMetrics {
  registry: Registry;
  observeRequest: (route: string, method: string, status: number, seconds: number) => void;
}

/** Longest the exposition runs before it lets other requests in (ms). */
const SLICE_MS = 10;
/** Lines formatted between two looks at the clock. */
const LINES_PER_CHECK = 256;

/**
 * The exporter's registry. `metrics()` reads families one after another in registration order
 * (prom-client's starts every family at once and formats everything in one go, which blocked
 * the event loop for the whole scrape), formats snapshot families itself and yields to the event
 * loop every ~10 ms, so /healthz and the API keep answering during a scrape. Scrapes that arrive
 * while one runs share its result: N concurrent scrapers cost one scrape.
 */
export class LanscapeRegistry extends Registry {
  private inFlight: Promise<string> | undefined;
  /** The last text of each snapshot family, for the values list it was made from (kept lists: SnapshotGauge.keep). */
  private readonly texts = new WeakMap<SnapshotGauge, { values: SnapshotFamily['values']; text: string }>();

  /**
   * Whether this replica exposes the store-scoped families (snapshot.ts, MetricScope): the
   * leader does; followers refresh them too (process-scoped members of a group need the
   * refresh) but leave them out, so several replicas scraped count the store once.
   */
  constructor(private readonly leads: () => boolean = () => true) {
    super();
  }

  override metrics(): Promise<string> {
    this.inFlight ??= this.expose().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async expose(): Promise<string> {
    Slicer.begin();
    const slicer = new Slicer(SLICE_MS);
    // A scrape holds every store family or none: they are kept only when this replica leads from
    // the start of the exposition to its end. Asked family by family, a change of leader while
    // the exposition yields gave a scrape with some store families (a join's one side) and not
    // the others, or both replicas' copies of some.
    const ledAtStart = this.leads();
    const families: { text: string; store: boolean }[] = [];
    const prom = this as unknown as { getMetricsAsString(metric: unknown): Promise<string> };
    for (const metric of this.getMetricsAsArray() as unknown[]) {
      await slicer.maybePause();
      if (metric instanceof SnapshotGauge) {
        let family;
        try {
          family = await metric.get();
        } catch {
          // The store is unreachable (PostgreSQL down): its families are left out of this scrape,
          // the process's own (lanscape_collector_up{collector="store"} 0 among them) still answer.
          continue;
        }
        const store = metric.scope === 'store';
        if (store && !ledAtStart) continue;
        let formatted = this.texts.get(metric);
        if (formatted?.values !== family.values) {
          formatted = { values: family.values, text: await formatFamily(family, slicer) };
          this.texts.set(metric, formatted);
        }
        families.push({ text: formatted.text, store });
      } else {
        families.push({ text: await prom.getMetricsAsString(metric), store: false });
      }
    }
    const leads = ledAtStart && this.leads();
    const kept = families.filter((f) => leads || !f.store).map((f) => f.text);
    return `${kept.join('\n\n')}\n`;
  }
}

/** The text of one snapshot family, as prom-client writes it, pausing between slices. */
async function formatFamily(family: SnapshotFamily, slicer: Slicer): Promise<string> {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
  const { values } = family;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    let labels = '';
    for (const key in v.labels) {
      labels += `${labels ? ',' : ''}${key}="${escapeLabel(v.labels[key]!)}"`;
    }
    lines.push(`${v.metricName ?? family.name}${labels ? `{${labels}}` : ''} ${valueText(v.value)}`);
    if (i % LINES_PER_CHECK === LINES_PER_CHECK - 1) await slicer.maybePause();
  }
  return lines.join('\n');
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** prom-client's spelling of special values (Nan, +Inf, -Inf). */
function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

export interface RegistryOptions {
  /** The SQLite file whose size is exported (null on PostgreSQL: its own exporters measure it). */
  readonly dbFile: string | null;
  /** Whether this replica leads (store/leadership.ts): always on SQLite. */
  readonly leads: () => boolean;
}

export function createRegistry({ dbFile, leads }: RegistryOptions): SelfMetrics {
  const registry = new LanscapeRegistry(leads);
  collectDefaultMetrics({ register: registry });
  // prom-client's *_total gauges break the naming rules promtool checks; the per-type gauges
  // nodejs_active_handles / _requests / _resources carry the same numbers.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }

  new Gauge({
    name: 'lanscape_build_info',
    help: 'Lanscape exporter build; the value is always 1.',
    labelNames: ['version', 'nodejs_version'],
    registers: [registry],
  }).set({ version: VERSION, nodejs_version: process.version }, 1);

  new Gauge({
    name: 'lanscape_leader',
    help:
      'Whether this exporter runs the periodic work (scheduled sweeps, traffic schedules, Docker and Proxmox inventories) ' +
      'and exposes the store-wide series (1) or not (0); always 1 on SQLite, one replica at a time on PostgreSQL.',
    registers: [registry],
    collect() {
      this.set(leads() ? 1 : 0);
    },
  });

  if (dbFile !== null)
    new Gauge({
      name: 'lanscape_store_size_bytes',
      help: 'Size of the SQLite store on disk, WAL included.',
      registers: [registry],
      collect() {
        let bytes = 0;
        for (const suffix of ['', '-wal']) {
          try {
            bytes += statSync(dbFile + suffix).size;
          } catch {
            /* no WAL yet */
          }
        }
        this.set(bytes);
      },
    });

  const duration = new Histogram({
    name: 'lanscape_http_request_duration_seconds',
    help: 'HTTP requests served, by route template, method and status.',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const observeRequest = (route: string, method: string, status: number, seconds: number) =>
    duration.observe({ route, method, status: String(status) }, seconds);
  return { registry, observeRequest };
}

/**
 * lanscape_collector_up: what this process reaches (its store connection, its ICMP socket, …),
 * read at each scrape — on its own, so it still answers when the store does not.
 */
export function registerCollectorMetrics(registry: Registry, collectors: () => Record<string, boolean>): void {
  new Gauge({
    name: 'lanscape_collector_up',
    help: 'Whether a collector works (1) or not (0).',
    labelNames: ['collector'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [collector, up] of Object.entries(collectors())) this.set({ collector }, up ? 1 : 0);
    },
  });
}
