// Assembles the HTTP surface: logging, metrics, open endpoints (/metrics, health, OpenAPI, docs)
// and the token-protected /api/v1 routes of each domain.
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import swaggerUi from 'swagger-ui-express';
import { z } from 'zod';
import { registerAgentRoutes } from '../agents/http.js';
import { type AgentService, isAgentToken } from '../agents/service.js';
import { registerAuditRoutes } from '../audit/http.js';
import type { Config } from '../config/schema.js';
import { LanscapeError } from '../errors.js';
import { registerDiscoveryRoutes } from '../discovery/http.js';
import type { DiscoveryService } from '../discovery/service.js';
import type { CsvImports } from '../ipam/csv-import.js';
import { registerIpamRoutes } from '../ipam/http.js';
import { registerTrafficRoutes } from '../traffic/http.js';
import { registerDockerRoutes } from '../docker/http.js';
import type { DockerService } from '../docker/service.js';
import { registerProxmoxRoutes } from '../proxmox/http.js';
import type { ProxmoxService } from '../proxmox/service.js';
import type { TrafficService } from '../traffic/service.js';
import type { IpamService } from '../ipam/service.js';
import { LATEST_VERSION } from '../store/migrations.js';
import { StoreBusyError } from '../store/sql-exec.js';
import { VERSION } from '../version.js';
import type { Writes } from '../store/write-batcher.js';
import { GrafanaIdVerifier } from '../audit/grafana-id.js';
import { AuthThrottle, TokenVerifier, apiGate, clientKey, hostAllowList, throttledError } from './auth.js';
import { openApiDocument } from './openapi.js';
import { ApiRoutes } from './routes.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  ipam: IpamService;
  registry: Registry;
  /** Called once per finished request with its route template, for the duration histogram. */
  observeRequest: (route: string, method: string, status: number, seconds: number) => void;
  writes: Writes;
  /** CSV import jobs (ipam/csv-import.ts). */
  imports: CsvImports;
  discovery: DiscoveryService;
  /** Remote scan agents (#15); absent in apps built without them (some tests). */
  agents?: AgentService;
  traffic: TrafficService;
  docker: DockerService;
  /** null when Proxmox is not configured (its routes answer 503). */
  proxmox: ProxmoxService | null;
  /** Collector health: the store, ICMP, and the optional ones (rdns, nmap). */
  collectors: () => Record<string, { up: boolean; message?: string }>;
  /** What /info shows (default: `collectors`); a follower adds the inventories the leader publishes. */
  infoCollectors?: () => Promise<Record<string, { up: boolean; message?: string }>>;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function createApp(deps: AppDeps): express.Express {
  const { config, logger, ipam, registry } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // API answers change with every write; hashing each body buys nothing
  app.set('query parser', 'simple');
  app.use(requestLog(logger, deps.observeRequest));
  app.use(hostAllowList(config.allowed_hosts));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ok = deps.collectors().store?.up === true;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'store unavailable' });
  });
  app.get(
    '/metrics',
    metricsAuth(config, new AuthThrottle(config.auth_failures_per_minute, logger, '/metrics')),
    async (_req, res, next) => {
      try {
        const body = await registry.metrics();
        res.type(registry.contentType).send(body);
      } catch (e) {
        next(e);
      }
    },
  );

  const tokens = new TokenVerifier(config.tokens);
  if (tokens.configured === 0) {
    // A newcomer's first start: say how to open the API instead of leaving every call a 401.
    logger.warn(
      'no API tokens are set, so /api/v1 answers 401 to everything. Create one and keep it, e.g.\n' +
        '  openssl rand -hex 24 > lanscape-write.token && chmod 600 lanscape-write.token\n' +
        '  LANSCAPE_WRITE_TOKEN=$(cat lanscape-write.token) npm start',
    );
  }
  const router = express.Router();
  const apiThrottle = new AuthThrottle(config.auth_failures_per_minute, logger, '/api/v1');
  const agentTokens = deps.agents && { isAgentToken, verify: (t: string) => deps.agents!.verify(t) };
  const api = new ApiRoutes(
    router,
    tokens,
    deps.writes,
    {},
    {
      logger,
      ...(agentTokens ? { agents: agentTokens } : {}),
      onBadToken: (req) => apiThrottle.fail(clientKey(req.socket.remoteAddress)),
    },
  );
  router.use(
    apiGate({
      agentTokens,
      tokens,
      grafanaProxy: config.tokens.grafana_proxy,
      grafanaId: config.grafana.url === undefined ? undefined : new GrafanaIdVerifier(config.grafana.url, logger),
      throttle: apiThrottle,
    }),
  );
  router.use(api.authenticate);
  router.use('/import', express.text({ type: 'text/csv', limit: config.import_limit_bytes }));
  router.use(express.json({ limit: config.body_limit_bytes, strict: true }));
  registerInfoRoutes(api, deps);
  registerIpamRoutes(api, ipam, { writes: deps.writes, imports: deps.imports });
  registerDiscoveryRoutes(api, deps.discovery, ipam);
  registerTrafficRoutes(api, deps.traffic);
  registerDockerRoutes(api, deps.docker);
  registerProxmoxRoutes(api, deps.proxmox);
  registerAuditRoutes(api, ipam.audit);
  if (deps.agents) registerAgentRoutes(api, deps.agents);

  const openapi = openApiDocument(api.registry.definitions, {
    openapi: '3.0.3',
    info: {
      title: 'Lanscape exporter API',
      version: VERSION,
      license: { name: 'AGPL-3.0-or-later' },
      description:
        'IPAM source of truth and network monitoring. Send `Authorization: Bearer <token>`; ' +
        'GET needs read scope, changes need write, VM creation and settings need admin.',
    },
    servers: [{ url: '/' }],
  });
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(undefined, { swaggerOptions: { url: '/api/v1/openapi.json' } }));

  app.use('/api/v1', router);
  app.use((req, _res, next) => next(new LanscapeError(404, 'not_found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(logger));
  return app;
}

/**
 * One hook per request: a request id (the client's X-Request-Id when it is safe, else a UUID),
 * one JSON log line when the response is finished, and the duration histogram. Headers are not
 * logged, so tokens and passwords never reach the log.
 */
function requestLog(logger: Logger, observe: AppDeps['observeRequest']): express.RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      // Route templates only, so label values stay bounded whatever paths clients send. API
      // routes record theirs in res.locals because the error handler runs outside the route.
      const route =
        (res.locals.route as string | undefined) ??
        (req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched');
      observe(route, req.method, res.statusCode, seconds);
      const status = res.statusCode;
      // A throttled address is logged once per window (AuthThrottle), not once per refused request.
      if (res.locals.throttled === true) return;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const user = req.headers['x-grafana-user'];
      logger[level](
        {
          reqId: id,
          method: req.method,
          url: req.originalUrl,
          route,
          status,
          durationMs: Math.round(seconds * 1e4) / 10,
          ...(typeof user === 'string' ? { grafanaUser: user.slice(0, 256) } : {}),
        },
        'request',
      );
    });
    next();
  };
}

function registerInfoRoutes(api: ApiRoutes, deps: AppDeps): void {
  api.add({
    method: 'get',
    path: '/info',
    scope: 'read',
    tag: 'system',
    summary: 'Exporter version and collector status',
    responses: {
      200: {
        description: 'Version, schema and collectors',
        schema: z
          .object({
            version: z.string(),
            schema_version: z.number().int(),
            collectors: z.record(z.string(), z.object({ up: z.boolean(), message: z.string().optional() })),
          })
          .meta({ id: 'Info' }),
      },
    },
    handler: async () => ({
      status: 200,
      body: {
        version: VERSION,
        schema_version: LATEST_VERSION,
        collectors: deps.infoCollectors ? await deps.infoCollectors() : deps.collectors(),
      },
    }),
  });
}

function metricsAuth(config: Config, throttle: AuthThrottle): express.RequestHandler {
  const { username, password } = config.metrics;
  if (!username || !password) return (_req, _res, next) => next();
  const expected = createHash('sha256').update(`${username}:${password}`).digest();
  return (req, res, next) => {
    // Its own throttle: a client guessing API tokens does not stop Prometheus' scrapes.
    const key = clientKey(req.socket.remoteAddress);
    const wait = throttle.retryAfter(key);
    if (wait > 0) {
      res.locals.throttled = true;
      next(throttledError(wait));
      return;
    }
    const m = /^Basic ([A-Za-z0-9+/=]{1,1024})$/.exec(req.get('authorization') ?? '');
    const given = createHash('sha256')
      .update(m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '')
      .digest();
    if (m && timingSafeEqual(given, expected)) return next();
    if (m) throttle.fail(key);
    res.set('WWW-Authenticate', 'Basic realm="lanscape metrics"');
    next(new LanscapeError(401, 'unauthorized', 'metrics need basic authentication'));
  };
}

interface BodyParserError {
  type?: string;
  status?: number;
  message: string;
}

/** The JSON error answer of every route (exported for its tests). */
export function errorHandler(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      // A streamed answer failed midway: no error body can follow, so cut the connection and
      // the client sees a truncated transfer instead of a complete-looking one.
      logger.error({ err, reqId: res.locals.requestId as string }, 'streamed response failed; connection closed');
      res.destroy();
      return;
    }
    let e: LanscapeError;
    if (err instanceof LanscapeError) {
      e = err;
    } else {
      const bp = err as BodyParserError;
      if (bp.type === 'entity.too.large')
        e = new LanscapeError(413, 'payload_too_large', 'the request body is too large');
      else if (bp.type === 'entity.parse.failed')
        e = new LanscapeError(400, 'invalid_json', 'the request body is not valid JSON');
      else if (bp.type === 'encoding.unsupported' || bp.type === 'charset.unsupported')
        e = new LanscapeError(415, 'unsupported_media_type', bp.message);
      else if (bp.status === 400 || bp.type === 'request.aborted')
        e = new LanscapeError(400, 'bad_request', bp.message);
      else if (err instanceof StoreBusyError) {
        logger.warn({ err: err.message, reqId: res.locals.requestId as string }, 'store busy');
        e = new LanscapeError(503, 'store_busy', 'the store is busy (every connection in use); try again shortly', {
          pool_size: err.poolSize,
          retry_after_seconds: 1,
        });
      } else if (storeUnreachable(err)) {
        logger.warn({ err: (err as Error).message, reqId: res.locals.requestId as string }, 'store unreachable');
        e = new LanscapeError(503, 'store_unavailable', 'the store is unreachable; try again shortly', {
          retry_after_seconds: 5,
        });
      } else {
        logger.error({ err, reqId: res.locals.requestId as string }, 'unhandled error');
        e = new LanscapeError(500, 'internal', 'internal error; see the exporter log for the request id');
      }
    }
    if (e.status === 401 && !res.get('WWW-Authenticate')) res.set('WWW-Authenticate', 'Bearer');
    const retry = (e.details as { retry_after_seconds?: number } | undefined)?.retry_after_seconds;
    if ((e.status === 429 || e.status === 503) && retry) res.set('Retry-After', String(retry));
    res.status(e.status).json({
      error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) },
    });
  };
}

/** Error codes of a lost or refused database connection (node's and PostgreSQL's class 08 / 57P0x). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03']);

/** Whether an error says the store (PostgreSQL) could not be reached, rather than a bug. */
function storeUnreachable(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || code.startsWith('08'))) return true;
  return (
    typeof message === 'string' &&
    /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(
      message,
    )
  );
}
