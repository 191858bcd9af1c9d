// Exporter self-metrics: build info, store size, HTTP request durations, process defaults.
import { statSync } from 'node:fs';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from '../version.js';

export interface SelfMetrics {
  registry: Registry;
  observeRequest: (route: string, method: string, status: number, seconds: number) => void;
}

export function createRegistry(dbFile: string): SelfMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client's *_total gauges break the naming rules promtool checks; the per-type gauges
  // nodejs_active_handles / _requests / _resources carry the same numbers.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }

  new Gauge({
    name: 'lanscape_build_info', help: 'Lanscape exporter build; the value is always 1.',
    labelNames: ['version', 'nodejs_version'], registers: [registry],
  }).set({ version: VERSION, nodejs_version: process.version }, 1);

  new Gauge({
    name: 'lanscape_store_size_bytes', help: 'Size of the SQLite store on disk, WAL included.', registers: [registry],
    collect() {
      let bytes = 0;
      for (const suffix of ['', '-wal']) {
        try { bytes += statSync(dbFile + suffix).size; } catch { /* no WAL yet */ }
      }
      this.set(bytes);
    },
  });

  const duration = new Histogram({
    name: 'lanscape_http_request_duration_seconds', help: 'HTTP requests served, by route template, method and status.',
    labelNames: ['route', 'method', 'status'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const observeRequest = (route: string, method: string, status: number, seconds: number) =>
    duration.observe({ route, method, status: String(status) }, seconds);
  return { registry, observeRequest };
}
