// The agent's own /metrics (#15): its queue, what it dropped, its last success with central, its
// sweeps. Central's http_sd (/api/v1/sd/agents) lists the URL, so Prometheus finds it.
import { type Server, createServer } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DiskQueue } from './queue.js';
import type { AgentRunner } from './runner.js';

export function agentRegistry(runner: AgentRunner, queue: DiskQueue, version: string): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, read: () => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v === null) this.reset();
        else this.set(v);
      },
    });
  gauge('lanscape_agent_queue_depth', 'Result batches waiting in the disk queue.', () => queue.depth);
  gauge('lanscape_agent_central_up', 'Whether the last exchange with central succeeded (1) or not (0).', () =>
    runner.centralUp ? 1 : 0,
  );
  gauge('lanscape_agent_last_success_timestamp_seconds', 'When central last took a result batch.', () =>
    runner.lastSuccessAt === null ? null : runner.lastSuccessAt / 1000,
  );
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter(
    'lanscape_agent_dropped_results_total',
    'Result batches dropped from the full queue (LANSCAPE_AGENT_QUEUE_MAX).',
    () => queue.dropped,
  );
  counter(
    'lanscape_agent_rejected_results_total',
    'Result batches central refused for good (4xx other than 401/429).',
    () => runner.rejected,
  );
  new Counter({
    name: 'lanscape_agent_sweeps_total',
    help: 'Sweeps this agent ran, by result.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'ok' }, runner.sweeps.ok);
      this.inc({ result: 'failed' }, runner.sweeps.failed);
    },
  });
  new Gauge({
    name: 'lanscape_build_info',
    help: 'Version of this agent.',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version }, 1);
  return registry;
}

/** Serves /metrics and /healthz on host:port. */
export async function serveMetrics(registry: Registry, listen: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  const i = listen.lastIndexOf(':');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(listen.slice(i + 1)), listen.slice(0, i).replace(/^\[|\]$/g, '') || undefined, resolve);
  });
  return server;
}
