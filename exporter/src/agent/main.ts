// `lanscape agent` (#15): a remote scan agent. Settings from LANSCAPE_AGENT_* (config.ts); the
// subnets and scan settings come from central.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { systemClock } from '../clock.js';
import { openEchoSocket, probeIcmp } from '../discovery/icmp.js';
import { readNeighbours } from '../discovery/neighbours.js';
import { nmapAvailable, runNmap } from '../discovery/nmap.js';
import { ReverseDns } from '../discovery/rdns.js';
import { openPorts } from '../discovery/tcp.js';
import { VERSION } from '../version.js';
import { CentralClient } from './client.js';
import { AgentConfigError, agentConfigFrom } from './config.js';
import { agentRegistry, serveMetrics } from './metrics.js';
import { DiskQueue } from './queue.js';
import { AgentRunner } from './runner.js';

export async function runAgent(env: NodeJS.ProcessEnv, fail: (message: string) => never): Promise<void> {
  let config;
  try {
    config = agentConfigFrom(env);
  } catch (e) {
    if (e instanceof AgentConfigError) fail(e.message);
    throw e;
  }
  const logger = pino({ level: config.logLevel, base: { service: 'lanscape-agent' } });
  let queue: DiskQueue;
  try {
    queue = new DiskQueue(config.queueDir, config.queueMax);
  } catch (e) {
    fail(`LANSCAPE_AGENT_QUEUE_DIR ${config.queueDir}: ${(e as Error).message}`);
  }
  const client = new CentralClient(config);
  const runner = new AgentRunner({
    client,
    queue,
    adapters: {
      icmp: probeIcmp,
      openEchoSocket,
      readNeighbours,
      openPorts,
      reverseDns: new ReverseDns({ now: systemClock }),
      nmap: { available: () => nmapAvailable(), run: (a: string, p: number[]) => runNmap(a, p) },
      now: systemClock,
    },
    now: systemClock,
    logger,
    version: VERSION,
    reportIntervalSeconds: config.reportIntervalSeconds,
  });
  let server: Server | undefined;
  if (config.listen !== 'off') {
    try {
      server = await serveMetrics(agentRegistry(runner, queue, VERSION), config.listen);
    } catch (e) {
      fail(`cannot listen on ${config.listen}: ${(e as Error).message}`);
    }
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    // A wildcard address names no host Prometheus could reach: LANSCAPE_AGENT_METRICS_URL says it then.
    runner.metricsUrl =
      config.metricsUrl ??
      (addr.address === '0.0.0.0' || addr.address === '::' ? undefined : `http://${host}:${addr.port}/metrics`);
  }
  logger.info(
    {
      central: config.centralUrl,
      queue: config.queueDir,
      queued: queue.depth,
      version: VERSION,
      report_interval_seconds: config.reportIntervalSeconds ?? 'central',
    },
    'lanscape agent starting',
  );
  if (!(await runner.pull()))
    logger.warn('central did not answer yet; sweeps start once it gives the assignments, results wait in the queue');
  runner.start();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'agent stopping');
      server?.close();
      runner.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}
