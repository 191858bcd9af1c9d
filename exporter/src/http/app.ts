// Assembles the HTTP surface: logging, metrics, open endpoints (/metrics, health, OpenAPI, docs)
// and the token-protected /api/v1 routes of each domain.
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import { OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Registry } from 'prom-client';
import swaggerUi from 'swagger-ui-express';
import { z } from 'zod';
import { registerAuditRoutes } from '../audit/http.js';
import type { Config } from '../config/schema.js';
import { LanscapeError } from '../errors.js';
import { registerIpamRoutes } from '../ipam/http.js';
import type { IpamService } from '../ipam/service.js';
import { LATEST_VERSION } from '../store/migrations.js';
import { VERSION } from '../version.js';
import { TokenVerifier } from './auth.js';
import { ApiRoutes } from './routes.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  ipam: IpamService;
  registry: Registry;
  httpMetrics: express.RequestHandler;
  /** Readiness: the store answers a query. */
  ready: () => boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function createApp(deps: AppDeps): express.Express {
  const { config, logger, ipam, registry } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.use(pinoHttp({
    logger,
    genReqId: (req, res) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    serializers: {
      req: (req: { id: unknown; method: string; url: string; headers: Record<string, unknown> }) => ({
        id: req.id, method: req.method, url: req.url, grafanaUser: req.headers['x-grafana-user'],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  }));
  app.use(deps.httpMetrics);

  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', (_req, res) => {
    const ok = deps.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'store unavailable' });
  });
  app.get('/metrics', metricsAuth(config), async (_req, res, next) => {
    try {
      const body = await registry.metrics();
      res.type(registry.contentType).send(body);
    } catch (e) { next(e); }
  });

  const tokens = new TokenVerifier(config.tokens);
  const router = express.Router();
  router.use(express.json({ limit: config.body_limit_bytes, strict: true }));
  router.use(express.text({ type: 'text/csv', limit: config.import_limit_bytes }));
  const api = new ApiRoutes(router, tokens);
  registerInfoRoutes(api, deps);
  registerIpamRoutes(api, ipam);
  registerAuditRoutes(api, ipam.audit);

  const openapi = new OpenApiGeneratorV3(api.registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Lanscape exporter API', version: VERSION, license: { name: 'AGPL-3.0-or-later' },
      description: 'IPAM source of truth and network monitoring. Send `Authorization: Bearer <token>`; ' +
        'GET needs read scope, changes need write, VM creation and settings need admin.',
    },
    servers: [{ url: '/' }],
  });
  app.get('/api/v1/openapi.json', (_req, res) => { res.json(openapi); });
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(undefined, { swaggerOptions: { url: '/api/v1/openapi.json' } }));

  app.use('/api/v1', router);
  app.use((req, _res, next) => next(new LanscapeError(404, 'not_found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(logger));
  return app;
}

function registerInfoRoutes(api: ApiRoutes, deps: AppDeps): void {
  api.add({
    method: 'get', path: '/info', scope: 'read', tag: 'system', summary: 'Exporter version and collector status',
    responses: {
      200: {
        description: 'Version, schema and collectors',
        schema: z.object({
          version: z.string(), schema_version: z.number().int(),
          collectors: z.record(z.string(), z.object({ up: z.boolean(), message: z.string().optional() })),
        }).meta({ id: 'Info' }),
      },
    },
    handler: () => ({
      status: 200,
      body: { version: VERSION, schema_version: LATEST_VERSION, collectors: { store: { up: deps.ready() } } },
    }),
  });
}

function metricsAuth(config: Config): express.RequestHandler {
  const { username, password } = config.metrics;
  if (!username || !password) return (_req, _res, next) => next();
  const expected = createHash('sha256').update(`${username}:${password}`).digest();
  return (req, res, next) => {
    const m = /^Basic ([A-Za-z0-9+/=]{1,1024})$/.exec(req.get('authorization') ?? '');
    const given = createHash('sha256').update(m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '').digest();
    if (m && timingSafeEqual(given, expected)) return next();
    res.set('WWW-Authenticate', 'Basic realm="lanscape metrics"');
    next(new LanscapeError(401, 'unauthorized', 'metrics need basic authentication'));
  };
}

interface BodyParserError { type?: string; status?: number; message: string }

function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let e: LanscapeError;
    if (err instanceof LanscapeError) {
      e = err;
    } else {
      const bp = err as BodyParserError;
      if (bp.type === 'entity.too.large') e = new LanscapeError(413, 'payload_too_large', 'the request body is too large');
      else if (bp.type === 'entity.parse.failed') e = new LanscapeError(400, 'invalid_json', 'the request body is not valid JSON');
      else if (bp.type === 'encoding.unsupported' || bp.type === 'charset.unsupported') e = new LanscapeError(415, 'unsupported_media_type', bp.message);
      else if (bp.status === 400 || bp.type === 'request.aborted') e = new LanscapeError(400, 'bad_request', bp.message);
      else {
        logger.error({ err, reqId: req.id }, 'unhandled error');
        e = new LanscapeError(500, 'internal', 'internal error; see the exporter log for the request id');
      }
    }
    if (e.status === 401 && !res.get('WWW-Authenticate')) res.set('WWW-Authenticate', 'Bearer');
    res.status(e.status).json({ error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) } });
  };
}
