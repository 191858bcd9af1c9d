// The API contract is enforced from one place: the response schema a route declares. In test
// mode (LANSCAPE_VALIDATE_RESPONSES=1, set by the test helpers) every answer is checked against
// it strictly, and the OpenAPI document is generated from the same schema object.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { z } from 'zod';
import { LanscapeError } from '../src/errors.js';
import { openApiDocument } from '../src/http/openapi.js';
import { responseMismatch, strict } from '../src/http/response-check.js';
import { ApiRoutes, type RouteResponse } from '../src/http/routes.js';
import { Timestamp, listOf } from '../src/http/schema-kit.js';
import './helpers/exporter.js';

const Widget = z
  .object({
    id: z.number().int(),
    name: z.string(),
    tags: z.array(z.string()),
    owner: z.object({ name: z.string() }).nullable(),
    created_at: Timestamp,
  })
  .meta({ id: 'Widget' });
/** The same schema after someone added a field to the contract. */
const WidgetWithColour = Widget.extend({ colour: z.string() }).meta({ id: 'Widget' });

const widget = { id: 1, name: 'a', tags: ['x'], owner: { name: 'ops' }, created_at: new Date(0) };

/** A tiny app with one route per case, built with the exporter's RouteSpec machinery. */
async function serve(
  checkResponses: boolean | undefined,
  routes: Record<string, { schema: z.ZodType; answer: () => RouteResponse }>,
) {
  const app = express();
  const router = express.Router();
  const logged: string[] = [];
  const api = new ApiRoutes(
    router,
    {} as never,
    {} as never,
    {},
    {
      ...(checkResponses === undefined ? {} : { checkResponses }),
      logger: {
        error: (_o: unknown, message?: string) => {
          logged.push(String(message));
        },
      } as never,
    },
  );
  router.use((_req, res, next) => {
    res.locals.identity = { name: 'test', scope: 'admin' };
    next();
  });
  for (const [path, r] of Object.entries(routes)) {
    api.add({
      method: 'get',
      path,
      scope: 'read',
      tag: 'test',
      summary: path,
      responses: {
        200: { description: 'ok', schema: r.schema },
        204: { description: 'nothing' },
        409: { description: 'taken' },
      },
      handler: r.answer,
    });
  }
  app.use('/api/v1', router);
  app.use((err: LanscapeError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(err.status ?? 500).json({ error: { code: err.code ?? 'internal', message: err.message } });
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  return { api, server, base, logged };
}

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) yield p;
}

describe('test-mode response check in RouteSpec', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    s = await serve(undefined, {
      '/kept': { schema: Widget, answer: () => ({ status: 200, body: widget }) },
      '/field-added-to-schema': { schema: WidgetWithColour, answer: () => ({ status: 200, body: widget }) },
      '/undeclared-field': { schema: Widget, answer: () => ({ status: 200, body: { ...widget, secret: 'leak' } }) },
      '/nested-undeclared': {
        schema: listOf(Widget, 'WidgetList'),
        answer: () => ({
          status: 200,
          body: { count: 1, results: [{ ...widget, owner: { name: 'ops', token: 't' } }] },
        }),
      },
      '/wrong-type': { schema: Widget, answer: () => ({ status: 200, body: { ...widget, id: '1' } }) },
      '/undeclared-status': { schema: Widget, answer: () => ({ status: 201, body: widget }) },
      '/body-on-204': { schema: Widget, answer: () => ({ status: 204, body: widget }) },
      '/thrown-declared': {
        schema: Widget,
        answer: () => {
          throw new LanscapeError(409, 'conflict', 'taken');
        },
      },
      '/thrown-undeclared': {
        schema: Widget,
        answer: () => {
          throw new LanscapeError(404, 'not_found', 'widget 7 does not exist');
        },
      },
      '/stream-kept': {
        schema: z.array(Widget),
        answer: () => ({
          status: 200,
          contentType: 'application/json',
          stream: chunks('[', JSON.stringify(widget), ']'),
        }),
      },
      '/stream-undeclared': {
        schema: z.array(Widget),
        answer: () => ({
          status: 200,
          contentType: 'application/json',
          stream: chunks('[', JSON.stringify({ ...widget, extra: 1 }), ']'),
        }),
      },
    });
  });
  after(() => {
    s.server.close();
  });

  it('is on in tests: the helpers set LANSCAPE_VALIDATE_RESPONSES=1', () => {
    assert.equal(process.env.LANSCAPE_VALIDATE_RESPONSES, '1');
  });

  it('passes an answer that keeps its schema', async () => {
    const r = await fetch(`${s.base}/kept`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { ...widget, created_at: '1970-01-01T00:00:00.000Z' });
  });

  it('fails when a field added to the schema is not returned by the handler', async () => {
    const r = await fetch(`${s.base}/field-added-to-schema`);
    assert.equal(r.status, 500);
    const { error } = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'response_contract');
    assert.match(error.message, /GET \/api\/v1\/field-added-to-schema answered 200/);
    assert.match(error.message, /colour: /);
    assert.ok(
      s.logged.some((m) => /colour/.test(m)),
      'the mismatch is logged',
    );
  });

  it('fails when the handler returns a field the schema does not declare, however deep', async () => {
    const top = (await (await fetch(`${s.base}/undeclared-field`)).json()) as { error: { message: string } };
    assert.match(top.error.message, /\(body\): undeclared field\(s\) secret/);
    const deep = await fetch(`${s.base}/nested-undeclared`);
    assert.equal(deep.status, 500);
    assert.match(
      ((await deep.json()) as { error: { message: string } }).error.message,
      /results\.0\.owner: undeclared field\(s\) token/,
    );
  });

  it('fails on a wrong type, an undeclared status and a body where none is declared', async () => {
    const wrong = await fetch(`${s.base}/wrong-type`);
    assert.equal(wrong.status, 500);
    assert.match(((await wrong.json()) as { error: { message: string } }).error.message, /id: /);
    const status = await fetch(`${s.base}/undeclared-status`);
    assert.equal(status.status, 500);
    assert.match(
      ((await status.json()) as { error: { message: string } }).error.message,
      /answered 201, which its route does not declare/,
    );
    const body = await fetch(`${s.base}/body-on-204`);
    assert.equal(body.status, 500);
  });

  it('fails on an error status the route does not declare (declared ones pass, with the error body)', async () => {
    const declared = await fetch(`${s.base}/thrown-declared`);
    assert.equal(declared.status, 409);
    const undeclared = await fetch(`${s.base}/thrown-undeclared`);
    assert.equal(undeclared.status, 500);
    assert.match(
      ((await undeclared.json()) as { error: { message: string } }).error.message,
      /GET \/api\/v1\/thrown-undeclared answered 404 \(not_found: widget 7 does not exist\), which its route does not declare/,
    );
  });

  it('checks a streamed JSON answer once complete and cuts the connection on a mismatch', async () => {
    const ok = await fetch(`${s.base}/stream-kept`);
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as unknown[]).length, 1);
    const bad = await fetch(`${s.base}/stream-undeclared`);
    assert.equal(bad.status, 200, 'the headers were out before the end');
    await assert.rejects(bad.text(), 'the client sees a cut-off answer');
    assert.ok(
      s.logged.some((m) => /stream-undeclared.*0: undeclared field\(s\) extra/.test(m)),
      s.logged.join('\n'),
    );
  });
});

describe('production mode', () => {
  it('does not check answers (and costs nothing) when the check is off', async () => {
    const s = await serve(false, {
      '/undeclared-field': { schema: Widget, answer: () => ({ status: 200, body: { ...widget, secret: 'x' } }) },
    });
    try {
      const r = await fetch(`${s.base}/undeclared-field`);
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { secret: string }).secret, 'x');
    } finally {
      s.server.close();
    }
  });
});

describe('one schema object, two uses', () => {
  it('a field added to a response schema appears in the OpenAPI document', () => {
    const docFor = (schema: z.ZodType) => {
      const api = new ApiRoutes(express.Router(), {} as never, {} as never);
      api.add({
        method: 'get',
        path: '/widgets/{id}',
        scope: 'read',
        tag: 'test',
        summary: 'a widget',
        responses: { 200: { description: 'The widget', schema } },
        handler: () => ({ status: 200, body: widget }),
      });
      return openApiDocument(api.registry.definitions, { openapi: '3.0.3', info: { title: 't', version: '1' } }) as {
        components: { schemas: Record<string, { properties: Record<string, unknown>; required: string[] }> };
      };
    };
    const before = docFor(Widget).components.schemas.Widget!;
    const afterAdding = docFor(WidgetWithColour).components.schemas.Widget!;
    assert.equal(before.properties.colour, undefined);
    assert.deepEqual(afterAdding.properties.colour, { type: 'string' });
    assert.ok(afterAdding.required.includes('colour'));
    assert.equal(before.required.includes('colour'), false);
    assert.deepEqual(
      afterAdding.required.filter((k) => k !== 'colour'),
      before.required,
    );
  });

  it('strict() keeps the checks of the schema and leaves it untouched', () => {
    const Limited = z.object({ n: z.number().max(3), list: z.array(z.object({ a: z.string() })).max(1) });
    assert.equal(strict(Limited).safeParse({ n: 4, list: [] }).success, false);
    assert.equal(strict(Limited).safeParse({ n: 1, list: [{ a: 'x' }, { a: 'y' }] }).success, false);
    assert.equal(strict(Limited).safeParse({ n: 1, list: [{ a: 'x', b: 1 }] }).success, false);
    assert.equal(
      Limited.safeParse({ n: 1, list: [{ a: 'x', b: 1 }] }).success,
      true,
      'the declared schema still strips',
    );
    const Rows = z.discriminatedUnion('type', [
      z.object({ type: z.literal('a') }),
      z.object({ type: z.literal('b'), size: z.number() }),
    ]);
    assert.equal(strict(Rows).safeParse({ type: 'a', size: 1 }).success, false);
    assert.equal(strict(Rows).safeParse({ type: 'b', size: 1 }).success, true);
    assert.equal(
      responseMismatch('GET /x', { 200: { description: 'csv', schema: z.string() } }, 200, undefined, 'text/csv'),
      null,
    );
  });
});
