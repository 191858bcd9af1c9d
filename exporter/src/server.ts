// Starts the exporter: store, metrics, HTTP(S) server; stops it cleanly.
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import type { Config } from './config/schema.js';
import { createApp } from './http/app.js';
import { registerIpamMetrics } from './ipam/metrics.js';
import { IpamService } from './ipam/service.js';
import { createRegistry } from './metrics/self.js';
import { type Db, openDb } from './store/db.js';
import { WriteBatcher } from './store/write-batcher.js';
import { releaseOwnership, takeOwnership } from './store/ownership.js';
import { VERSION } from './version.js';

export interface RunningExporter {
  readonly url: string;
  readonly db: Db;
  readonly server: Server;
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.log_level, base: { service: 'lanscape-exporter' } });
}

export async function startExporter(config: Config, logger: Logger = createLogger(config)): Promise<RunningExporter> {
  const db = openDb(config.db, { synchronous: config.db_synchronous === 'full' ? 'FULL' : 'NORMAL' });
  takeOwnership(db);
  const ipam = new IpamService(db);
  const { registry, observeRequest } = createRegistry(config.db);
  const writes = new WriteBatcher(db);
  registerIpamMetrics(registry, ipam);
  const ready = () => {
    try { return db.prepare('SELECT 1 AS ok').get() !== undefined; } catch { return false; }
  };
  const app = createApp({ config, logger, ipam, registry, observeRequest, writes, ready });
  const tls = config.tls.cert_file && config.tls.key_file
    ? { cert: readFileSync(config.tls.cert_file), key: readFileSync(config.tls.key_file) }
    : undefined;
  const server = tls ? createHttps(tls, app) : createHttp(app);
  server.keepAliveTimeout = 65_000;
  const { host, port } = splitListen(config.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${addr.port}`;
  logger.info({ url, version: VERSION, db: config.db }, 'lanscape exporter listening');
  const tokenCount = ['read', 'write', 'admin'].filter((s) => config.tokens[s as 'read']).length + config.tokens.named.length;
  if (tokenCount === 0) logger.warn('no API tokens are configured: every /api/v1 request will be refused (set LANSCAPE_READ_TOKEN etc.)');

  let closed = false;
  return {
    url, db, server,
    async close() {
      if (closed) return;
      closed = true;
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      releaseOwnership(db);
      db.close();
    },
  };
}

export function splitListen(listen: string): { host: string | undefined; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host === '' ? undefined : host, port: Number(listen.slice(i + 1)) };
}
