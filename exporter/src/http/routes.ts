// Declarative routes: each one is registered with express and with the OpenAPI registry from
// the same zod schemas, and its inputs are validated before the handler runs.
import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { printable } from '../audit/grafana-id.js';
import type { Actor } from '../audit/log.js';
import type { Scope } from '../config/schema.js';
import { LanscapeError } from '../errors.js';
import type { Writes } from '../store/write-batcher.js';
import { nextTurn } from '../turns.js';
import { type AgentTokens, type TokenIdentity, type TokenVerifier, allows, bearerToken } from './auth.js';
import { type DeclaredResponse, asSent, responseChecksEnabled, responseMismatch } from './response-check.js';

const NO_QUERY = z.strictObject({});

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';
type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface RouteResponse {
  status: number;
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /**
   * A streamed body (instead of `body`): written chunk by chunk as the iterable yields, with
   * backpressure. The first chunk is pulled before the headers go out, so an error up to then
   * is an ordinary JSON error answer; a later one cuts the connection. When the client goes
   * away the iterable is closed (its finally blocks run) and nothing more is read.
   */
  stream?: AsyncIterable<string | Buffer>;
}

/**
 * Expensive route classes. Each class admits a fixed number of requests at once
 * (COST_LIMITS); one more is answered 429 with Retry-After. A request holds its slot until the
 * response has finished (streams included) or the client disconnected.
 */
/** Bodies above this size wait for a turn before they are validated. */
const LARGE_BODY_BYTES = 64 * 1024;

export type CostClass = 'export' | 'list' | 'rows' | 'import' | 'bulk';
export const COST_LIMITS: Readonly<Record<CostClass, number>> = {
  /** CSV exports (streamed, each one reads the whole table in chunks) */
  export: 2,
  /** listings: /subnets, /addresses (filtered or deep pages are scanned in chunks), /sd, /conflicts, /events, /audit */
  list: 8,
  /** /subnets/{id}/addresses: may lay out a whole large subnet once (then cached) */
  rows: 4,
  /** CSV imports */
  import: 1,
  /** bulk allocations (available-ips / available-prefixes with a large count) */
  bulk: 4,
};
/** Retry-After of a 429 from a full class, in seconds. */
const COST_RETRY_AFTER_SECONDS = 2;

export interface RouteSpec<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  method: Method;
  /** OpenAPI-style path below /api/v1, e.g. /subnets/{id} */
  path: string;
  /** `agent`: only a remote scan agent's token (#15), which may use nothing else. */
  scope: RouteScope;
  summary: string;
  tag: string;
  description?: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Request body media type; JSON unless said otherwise. */
  bodyType?: 'application/json' | 'text/csv';
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /**
   * The handler only changes the store, synchronously: run it in the shared group-commit batch.
   * Handlers that wait on anything else (processes, the network) must not set this.
   */
  batched?: boolean;
  /**
   * Expensive route class: at most COST_LIMITS[cost] requests of the class run at once; more are
   * answered 429 (documented in the OpenAPI responses automatically).
   */
  cost?: CostClass;
  /** When set, the cost class applies only to requests it accepts (e.g. a large count). */
  costWhen?: (input: { params: z.infer<P>; query: z.infer<Q>; body: z.infer<B> }) => boolean;
  handler: (input: {
    params: z.infer<P>;
    query: z.infer<Q>;
    body: z.infer<B>;
    actor: Actor;
    req: Request;
    res: Response;
  }) => RouteResponse | Promise<RouteResponse>;
}

export type RouteScope = Scope | 'agent';

export const ErrorBody = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  })
  .meta({ id: 'Error' });

const STANDARD_ERRORS: Record<number, string> = {
  400: 'Invalid input',
  401: 'Missing or unknown token',
  403: 'Token scope too low',
  421: 'The Host header is not in LANSCAPE_ALLOWED_HOSTS (when that list is set)',
  422: 'Input breaks an IPAM rule',
};
/** Any /api route answers 429 to an address with too many failed authentications (http/auth.ts). */
const AUTH_THROTTLED = 'Too many failed authentications from this address; retry after Retry-After seconds';

export class ApiRoutes {
  readonly registry = new OpenAPIRegistry();
  /** Requests running now per cost class. */
  readonly running: Record<CostClass, number> = { export: 0, list: 0, rows: 0, import: 0, bulk: 0 };
  private readonly limits: Record<CostClass, number>;
  /** Test mode (LANSCAPE_VALIDATE_RESPONSES=1): every answer is checked against its declared schema. */
  private readonly checkResponses: boolean;
  private readonly logger: Pick<Logger, 'error'> | undefined;
  private readonly agents: AgentTokens | undefined;
  private readonly onBadToken: ((req: Request) => void) | undefined;

  constructor(
    private readonly router: Router,
    private readonly tokens: TokenVerifier,
    private readonly writes: Writes,
    limits: Partial<Record<CostClass, number>> = {},
    options: {
      checkResponses?: boolean;
      logger?: Pick<Logger, 'error'>;
      agents?: AgentTokens;
      /** Told of every request whose agent token failed (the failed-auth throttle). */
      onBadToken?: (req: Request) => void;
    } = {},
  ) {
    this.agents = options.agents;
    this.onBadToken = options.onBadToken;
    this.registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
    this.limits = { ...COST_LIMITS, ...limits };
    this.checkResponses = options.checkResponses ?? responseChecksEnabled();
    this.logger = options.logger;
  }

  /**
   * Takes a slot of the class or throws 429. The slot is given back once, when the response
   * finishes or the connection closes, whichever comes first.
   */
  private admit(cost: CostClass, res: Response): void {
    if (this.running[cost] >= this.limits[cost]) {
      throw new LanscapeError(
        429,
        'rate_limited',
        `${this.limits[cost]} ${cost} request(s) are already running; retry in ${COST_RETRY_AFTER_SECONDS} s`,
        { class: cost, limit: this.limits[cost], retry_after_seconds: COST_RETRY_AFTER_SECONDS },
      );
    }
    this.running[cost] += 1;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.running[cost] -= 1;
    };
    res.once('finish', release);
    res.once('close', release);
  }

  add<P extends AnyObject, Q extends AnyObject, B extends z.ZodType>(spec: RouteSpec<P, Q, B>): void {
    // Every answer the route can give: its own, the standard errors, 415 when it reads a body,
    // 429 for a cost class. An error status declared without a schema has the error body (the
    // error handler writes every error that way). The OpenAPI document and the test-mode check
    // both read this one map.
    const declared: Record<number, DeclaredResponse> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      declared[Number(status)] = r.schema || Number(status) < 400 ? r : { ...r, schema: ErrorBody };
    }
    for (const [status, description] of Object.entries(STANDARD_ERRORS))
      declared[Number(status)] ??= { description, schema: ErrorBody };
    if (spec.body)
      declared[415] ??= { description: `The body is not ${spec.bodyType ?? 'application/json'}`, schema: ErrorBody };
    declared[429] ??= {
      description: spec.cost
        ? `Too many ${spec.cost} requests are running (${this.limits[spec.cost]} at once), or too many failed ` +
          'authentications from this address; retry after Retry-After seconds'
        : AUTH_THROTTLED,
      schema: ErrorBody,
    };
    const responses: Record<string, { description: string; content?: Record<string, { schema: z.ZodType }> }> = {};
    for (const [status, r] of Object.entries(declared)) {
      responses[status] = r.schema
        ? { description: r.description, content: { [r.contentType ?? 'application/json']: { schema: r.schema } } }
        : { description: r.description };
    }
    const route = `${spec.method.toUpperCase()} /api/v1${spec.path}`;
    this.registry.registerPath({
      method: spec.method,
      path: `/api/v1${spec.path}`,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: [spec.tag],
      security: [{ bearer: [] }],
      'x-required-scope': spec.scope,
      request: {
        ...(spec.params ? { params: spec.params } : {}),
        ...(spec.query ? { query: spec.query } : {}),
        ...(spec.body
          ? { body: { required: true, content: { [spec.bodyType ?? 'application/json']: { schema: spec.body } } } }
          : {}),
      },
      responses,
    });

    const expressPath = spec.path.replace(/\{(\w+)\}/g, ':$1');
    this.router[spec.method](expressPath, async (req: Request, res: Response, next: NextFunction) => {
      res.locals.route = `/api/v1${expressPath}`;
      try {
        const actor = this.authorize(req, res, spec.scope);
        const params = parse(spec.params, req.params, 'path');
        // Without a query schema a route takes no query parameters: ?dry_run=true on a route
        // that has no dry run must not be silently ignored.
        const query = parse(spec.query ?? NO_QUERY, req.query, 'query');
        // A large body is validated in a turn of its own (turns.ts): four agents' reports that
        // arrive together were validated back to back in one poll phase (~10 ms each) while a
        // small GET waited behind them.
        if (spec.body && Number(req.get('content-length') ?? 0) > LARGE_BODY_BYTES) await nextTurn();
        const body = spec.body ? parse(spec.body, bodyOf(req, spec.bodyType ?? 'application/json'), 'body') : undefined;
        if (spec.cost && (!spec.costWhen || spec.costWhen({ params, query, body } as never)))
          this.admit(spec.cost, res);
        const input = { params, query, body, actor, req, res } as never;
        let out = spec.batched
          ? await this.writes.run(() => spec.handler(input) as RouteResponse)
          : await spec.handler(input);
        if (this.checkResponses) out = this.checked(route, declared, out);
        if (out.stream) {
          await writeStream(res, out, out.stream);
          return;
        }
        if (out.headers) res.set(out.headers);
        res.status(out.status);
        if (out.body === undefined) res.end();
        else if (out.contentType) res.type(out.contentType).send(out.body);
        else res.json(out.body);
      } catch (e) {
        // Test mode: an error status the route does not declare is a contract break too (500
        // needs no declaration: it is never part of a contract).
        if (this.checkResponses && e instanceof LanscapeError && e.status !== 500 && !declared[e.status]) {
          next(
            this.contractBreak(
              route,
              e.status,
              `${route} answered ${e.status} (${e.code}: ${e.message}), which its route does not declare (declared: ${Object.keys(declared).join(', ')})`,
            ),
          );
          return;
        }
        next(e);
      }
    });
  }

  /**
   * Test mode: the answer checked against the schema declared for its status, strictly (see
   * response-check.ts). A mismatch is logged and answered 500 naming route, status and the
   * path of the offending field, so the test that made the request fails. A streamed JSON
   * answer is checked once it is complete: a mismatch then cuts the connection (the headers
   * are gone), which fails the reading test just the same.
   */
  private checked(route: string, declared: Record<number, DeclaredResponse>, out: RouteResponse): RouteResponse {
    const fail = (message: string) => this.contractBreak(route, out.status, message);
    const contentType = out.contentType;
    if (!out.stream) {
      const problem = responseMismatch(route, declared, out.status, asSent(out.body), contentType);
      if (problem) throw fail(problem);
      return out;
    }
    const early = responseMismatch(route, declared, out.status, undefined, 'text/plain');
    if (early) throw fail(early);
    if (contentType !== undefined && !/json/i.test(contentType)) return out;
    const source = out.stream;
    async function* whole(): AsyncGenerator<string | Buffer> {
      const parts: string[] = [];
      for await (const chunk of source) {
        parts.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
        yield chunk;
      }
      let body: unknown;
      try {
        body = JSON.parse(parts.join(''));
      } catch (e) {
        throw fail(`${route} streamed ${out.status} that is not JSON: ${(e as Error).message}`);
      }
      const problem = responseMismatch(route, declared, out.status, body, contentType);
      if (problem) throw fail(problem);
    }
    return { ...out, stream: whole() };
  }

  /** A test-mode contract break: logged (also to stderr: test loggers are silent) and answered 500. */
  private contractBreak(route: string, status: number, message: string): LanscapeError {
    this.logger?.error({ route, status }, message);
    process.stderr.write(`response contract: ${message}\n`);
    return new LanscapeError(500, 'response_contract', message);
  }

  /**
   * Router middleware, ahead of the body parsers: without a valid token nothing is read or
   * decoded, and the answer is 401 whatever the body.
   */
  readonly authenticate = (req: Request, res: Response, next: NextFunction): void => {
    const token = bearerToken(req.get('authorization'));
    const identity = token ? this.tokens.verify(token) : undefined;
    if (!identity && token && this.agents?.isAgentToken(token)) {
      this.agents.verify(token).then((agent) => {
        if (agent === undefined || agent === 'revoked') {
          this.onBadToken?.(req);
          const message = agent === 'revoked' ? 'this agent was revoked' : 'the bearer token is not valid';
          next(new LanscapeError(401, agent === 'revoked' ? 'agent_revoked' : 'unauthorized', message));
          return;
        }
        res.locals.identity = { name: `agent:${agent.name}`, scope: 'read', agent } satisfies TokenIdentity;
        next();
      }, next);
      return;
    }
    if (!identity) {
      next(
        new LanscapeError(
          401,
          'unauthorized',
          token ? 'the bearer token is not valid' : 'send Authorization: Bearer <token>',
        ),
      );
      return;
    }
    res.locals.identity = identity;
    next();
  };

  private authorize(req: Request, res: Response, need: RouteScope): Actor {
    const identity = res.locals.identity as TokenIdentity | undefined;
    if (!identity) throw new LanscapeError(401, 'unauthorized', 'send Authorization: Bearer <token>');
    if (identity.agent || need === 'agent') {
      // Agent tokens and the agent routes only go together (#15).
      if (!identity.agent || need !== 'agent')
        throw new LanscapeError(
          403,
          'forbidden',
          identity.agent
            ? `an agent token may only read its assignments and post its results; "${identity.name}" cannot use this`
            : `this needs an agent's token; "${identity.name}" has ${identity.scope}`,
        );
    } else if (!allows(identity.scope, need)) {
      throw new LanscapeError(
        403,
        'forbidden',
        `this needs a token with ${need} scope; "${identity.name}" has ${identity.scope}`,
      );
    }
    const user = req.get('x-grafana-user');
    return {
      name: identity.name,
      // Set only by the auth middleware, from Grafana's proxy token (decoded from UTF-8 there).
      grafanaUser: user && printable(user) ? user : null,
      requestId: (res.locals.requestId as string | undefined) ?? null,
    };
  }
}

/**
 * Writes a streamed answer: the first chunk is read before the headers are sent (so an early
 * error still becomes a JSON error), then each chunk as it comes, waiting for 'drain' when the
 * socket buffer is full. A closed connection stops the loop and closes the iterator. An error
 * after the headers went out is rethrown with the headers sent; the error handler then destroys
 * the socket so the client sees a cut-off answer, never a complete-looking one.
 */
async function writeStream(res: Response, out: RouteResponse, stream: AsyncIterable<string | Buffer>): Promise<void> {
  const it = stream[Symbol.asyncIterator]();
  let closed = false;
  let wake: (() => void) | undefined;
  const onClose = () => {
    closed = true;
    wake?.();
  };
  res.once('close', onClose);
  let done = false;
  try {
    let next = await it.next();
    if (out.headers) res.set(out.headers);
    res.status(out.status);
    if (out.contentType) res.type(out.contentType);
    while (!next.done && !closed) {
      if (!res.write(next.value) && !closed) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go);
            wake = undefined;
            resolve();
          };
          wake = go;
          res.on('drain', go);
        });
      }
      if (closed) break;
      next = await it.next();
    }
    done = next.done === true;
    if (!closed) res.end();
  } finally {
    res.off('close', onClose);
    // Stopped early (client gone, or an error): let the producer run its finally blocks.
    if (!done) await it.return?.().catch(() => undefined);
  }
}

function bodyOf(req: Request, type: string): unknown {
  if (!req.is(type)) {
    const len = Number(req.get('content-length') ?? 0);
    if (len > 0 || req.get('transfer-encoding')) {
      throw new LanscapeError(415, 'unsupported_media_type', `send the body as ${type}`);
    }
    throw new LanscapeError(400, 'validation_failed', `a ${type} request body is required`);
  }
  return req.body;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> | undefined {
  if (!schema) return undefined;
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({
    location: where,
    path: i.path.map(String).join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
  }));
  const first = issues[0]!;
  throw new LanscapeError(
    400,
    'validation_failed',
    `${where}${first.path ? `.${first.path}` : ''}: ${first.message}`,
    issues,
  );
}
