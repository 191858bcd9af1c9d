// The OpenAPI document is generated from the validating schemas and is itself valid.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { validate } from '@readme/openapi-parser';
import { type TestExporter, startTestExporter } from './helpers/exporter.js';

let ex: TestExporter;
before(async () => {
  ex = await startTestExporter();
});
after(async () => {
  await ex.stop();
});

it('serves a valid OpenAPI 3 document without a token', async () => {
  const r = await ex.api.get('/api/v1/openapi.json', null);
  assert.equal(r.status, 200);
  const result = await validate(structuredClone(r.body));
  assert.equal(result.valid, true, JSON.stringify(result, null, 2));
  assert.match(r.body.openapi, /^3\.0\./);
});

it('documents every route with its scope, inputs and the error schema', async () => {
  const doc = (await ex.api.get('/api/v1/openapi.json', null)).body;
  const expected = [
    'get /api/v1/subnets',
    'post /api/v1/subnets',
    'get /api/v1/subnets/{id}',
    'patch /api/v1/subnets/{id}',
    'delete /api/v1/subnets/{id}',
    'get /api/v1/subnets/{id}/addresses',
    'get /api/v1/subnets/{id}/available-ips',
    'post /api/v1/subnets/{id}/available-ips',
    'get /api/v1/ranges/{id}/available-ips',
    'post /api/v1/ranges/{id}/available-ips',
    'get /api/v1/subnets/{id}/available-prefixes',
    'post /api/v1/subnets/{id}/available-prefixes',
    'get /api/v1/addresses',
    'post /api/v1/addresses',
    'get /api/v1/addresses/{id}',
    'patch /api/v1/addresses/{id}',
    'delete /api/v1/addresses/{id}',
    'get /api/v1/ranges',
    'post /api/v1/ranges',
    'get /api/v1/ranges/{id}',
    'patch /api/v1/ranges/{id}',
    'delete /api/v1/ranges/{id}',
    'post /api/v1/import/{kind}',
    'get /api/v1/export/{kind}',
    'get /api/v1/import-jobs/{id}',
    'get /api/v1/audit',
    'get /api/v1/info',
    'post /api/v1/subnets/{id}/scan',
    'get /api/v1/scans/{id}',
    'get /api/v1/events',
    'get /api/v1/conflicts',
    'get /api/v1/addresses/{id}/history',
    'get /api/v1/sd',
    'get /api/v1/traffic/hosts',
    'post /api/v1/traffic-tests',
    'get /api/v1/traffic-tests',
    'get /api/v1/traffic-tests/{id}',
    'get /api/v1/traffic-schedules',
    'post /api/v1/traffic-schedules',
    'get /api/v1/traffic-schedules/{id}',
    'patch /api/v1/traffic-schedules/{id}',
    'delete /api/v1/traffic-schedules/{id}',
    'get /api/v1/docker/endpoints',
    'get /api/v1/docker/containers',
    'get /api/v1/docker/networks',
    'get /api/v1/docker/conflicts',
    'get /api/v1/proxmox/nodes',
    'get /api/v1/proxmox/guests',
    'get /api/v1/proxmox/templates',
    'get /api/v1/proxmox/storages',
    'get /api/v1/proxmox/bridges',
    'post /api/v1/vms',
    'get /api/v1/vms/jobs',
    'get /api/v1/vms/jobs/{id}',
    'get /api/v1/vrfs',
    'post /api/v1/vrfs',
    'get /api/v1/vrfs/{id}',
    'patch /api/v1/vrfs/{id}',
    'delete /api/v1/vrfs/{id}',
    'post /api/v1/agents',
    'get /api/v1/agents',
    'get /api/v1/agents/{id}',
    'delete /api/v1/agents/{id}',
    'get /api/v1/agent/assignments',
    'post /api/v1/agent/results',
    'get /api/v1/sd/agents',
  ];
  const have = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m} ${path}`),
  );
  assert.deepEqual(have.sort(), expected.sort());
  const create = doc.paths['/api/v1/subnets'].post;
  assert.equal(create['x-required-scope'], 'write');
  assert.deepEqual(create.security, [{ bearer: [] }]);
  assert.equal(doc.paths['/api/v1/agent/results'].post['x-required-scope'], 'agent');
  assert.equal(create.responses['400'].content['application/json'].schema.$ref, '#/components/schemas/Error');
  const body = doc.components.schemas.SubnetCreate;
  assert.deepEqual(body.required, ['cidr']);
  assert.equal(body.additionalProperties, false, 'unknown fields are documented as refused');
  assert.equal(body.properties.vlan.maximum, 4094);
  const limit = doc.paths['/api/v1/subnets'].get.parameters.find((p: { name: string }) => p.name === 'limit');
  assert.equal(limit.in, 'query');
  // Answers any /api route can give before its handler runs: a Host outside the allow-list, an
  // address throttled after failed authentications.
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    if (!path.startsWith('/api/v1/') || path === '/api/v1/openapi.json') continue;
    for (const [method, op] of Object.entries(item)) {
      for (const status of ['421', '429']) {
        assert.equal(
          op.responses[status]?.content?.['application/json']?.schema?.$ref,
          '#/components/schemas/Error',
          `${method} ${path} ${status}`,
        );
      }
    }
  }
});

/** Every object in the document that has a string `pattern`, with where it is and its parent. */
function patterned(doc: unknown): { path: string; schema: Record<string, any>; parent: Record<string, any> | null }[] {
  const found: { path: string; schema: Record<string, any>; parent: Record<string, any> | null }[] = [];
  const walk = (node: unknown, path: string, parent: Record<string, any> | null) => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, `${path}[${i}]`, parent));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const object = node as Record<string, any>;
    if (typeof object.pattern === 'string') found.push({ path, schema: object, parent });
    for (const [key, value] of Object.entries(object)) {
      if (key !== 'example' && key !== 'examples') walk(value, `${path}.${key}`, object);
    }
  };
  walk(doc, '$', null);
  return found;
}

/** The documented example values of a schema (and of the parameter or array that holds it). */
function examplesOf(schema: Record<string, any>, parent: Record<string, any> | null): unknown[] {
  const values: unknown[] = [];
  const collect = (holder: Record<string, any> | null, items: boolean) => {
    if (!holder) return;
    const take = (v: unknown) => {
      if (items && Array.isArray(v)) values.push(...v);
      else if (!items) values.push(v);
    };
    if ('example' in holder) take(holder.example);
    if (Array.isArray(holder.examples)) holder.examples.forEach(take);
    else if (holder.examples && typeof holder.examples === 'object') {
      for (const e of Object.values(holder.examples as Record<string, { value?: unknown }>))
        if (e && 'value' in e) take(e.value);
    }
  };
  collect(schema, false);
  if (parent?.schema === schema) collect(parent, false); // a parameter's example
  if (parent?.items === schema) collect(parent, true); // an array's example lists item values
  return values;
}

it('has only valid ECMA-262 (u mode) patterns that accept their documented examples', async () => {
  const doc = (await ex.api.get('/api/v1/openapi.json', null)).body;
  const all = patterned(doc);
  assert.ok(all.length > 20, `the document has patterns (${all.length})`);
  let checkedExamples = 0;
  for (const { path, schema, parent } of all) {
    const pattern = schema.pattern as string;
    assert.doesNotMatch(pattern, /(?<!\\)\/[a-z]*$/, `${path}: pattern ${pattern} ends in regex-literal flags`);
    assert.doesNotMatch(pattern, /^\//, `${path}: pattern ${pattern} starts with a regex-literal slash`);
    let re: RegExp;
    assert.doesNotThrow(() => {
      re = new RegExp(pattern, 'u');
    }, `${path}: ${pattern} is not a valid u-mode regex`);
    for (const example of examplesOf(schema, parent)) {
      assert.equal(typeof example, 'string', `${path}: example ${JSON.stringify(example)} of a patterned string`);
      assert.ok(
        re!.test(example as string),
        `${path}: pattern ${pattern} rejects its own example ${JSON.stringify(example)}`,
      );
      checkedExamples += 1;
    }
  }
  assert.ok(checkedExamples >= 10, `examples were checked (${checkedExamples})`);
});

it('documents the tag pattern so that clients accept valid tags', async () => {
  const { TAG_RE } = await import('../src/ipam/core/fields.js');
  const doc = (await ex.api.get('/api/v1/openapi.json', null)).body;
  const tags = doc.components.schemas.SubnetCreate.properties.tags;
  assert.equal(tags.items.pattern, TAG_RE.source);
  assert.ok(Array.isArray(tags.example) && tags.example.length > 0, 'the tags field has an example');
  const re = new RegExp(tags.items.pattern, 'u');
  for (const valid of ['web', 'rack-1', 'Büro', 'Zürich/2.OG', 'vlan:10', 'a_b c', '10G', 'データ', 'x'.repeat(64)]) {
    assert.ok(re.test(valid), `tag ${valid} is accepted`);
    assert.ok(TAG_RE.test(valid), `tag ${valid} is accepted by the API itself`);
  }
  for (const invalid of ['', '-web', ' web', 'web!', 'a\nb', 'x'.repeat(65)]) {
    assert.ok(!re.test(invalid), `tag ${JSON.stringify(invalid)} is refused`);
  }
  // the API agrees with its document
  const created = await ex.api.post('/api/v1/subnets', { cidr: '10.66.0.0/24', tags: ['web', 'rack-1', 'Büro'] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.tags, ['web', 'rack-1', 'Büro']);
  assert.equal((await ex.api.post('/api/v1/subnets', { cidr: '10.67.0.0/24', tags: ['-web'] })).status, 400);
});

it('turns a regex literal with flags into its source, and only that', async () => {
  const { patternSource } = await import('../src/http/openapi.js');
  assert.equal(
    patternSource('^[\\p{L}\\p{N}][\\p{L}\\p{N} _.:/-]{0,63}$/u'),
    '^[\\p{L}\\p{N}][\\p{L}\\p{N} _.:/-]{0,63}$',
  );
  assert.equal(patternSource('^a$/gu'), '^a$');
  assert.equal(patternSource('^a$'), '^a$');
  assert.equal(patternSource('^a\\/u$'), '^a\\/u$');
  assert.equal(patternSource('^a\\/u'), '^a\\/u', 'an escaped slash is part of the source');
  assert.equal(patternSource('^a\\\\/u'), '^a\\\\', 'an escaped backslash before the slash is not');
  assert.equal(patternSource('[/u]'), '[/u]');
  assert.throws(() => patternSource('^a$/i'), /flags i/);
});
