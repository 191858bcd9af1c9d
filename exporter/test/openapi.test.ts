// The OpenAPI document is generated from the validating schemas and is itself valid.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { validate } from '@readme/openapi-parser';
import { type TestExporter, startTestExporter } from './helpers/exporter.js';

let ex: TestExporter;
before(async () => { ex = await startTestExporter(); });
after(async () => { await ex.stop(); });

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
    'get /api/v1/subnets', 'post /api/v1/subnets', 'get /api/v1/subnets/{id}', 'patch /api/v1/subnets/{id}',
    'delete /api/v1/subnets/{id}', 'get /api/v1/subnets/{id}/addresses', 'get /api/v1/subnets/{id}/available-ips',
    'post /api/v1/subnets/{id}/available-ips', 'get /api/v1/ranges/{id}/available-ips', 'post /api/v1/ranges/{id}/available-ips',
    'get /api/v1/addresses', 'post /api/v1/addresses', 'get /api/v1/addresses/{id}', 'patch /api/v1/addresses/{id}',
    'delete /api/v1/addresses/{id}', 'get /api/v1/ranges', 'post /api/v1/ranges', 'get /api/v1/ranges/{id}',
    'patch /api/v1/ranges/{id}', 'delete /api/v1/ranges/{id}', 'post /api/v1/import/{kind}', 'get /api/v1/export/{kind}',
    'get /api/v1/audit', 'get /api/v1/info',
    'post /api/v1/subnets/{id}/scan', 'get /api/v1/scans/{id}', 'get /api/v1/events', 'get /api/v1/conflicts',
    'get /api/v1/addresses/{id}/history', 'get /api/v1/sd',
    'get /api/v1/traffic/hosts', 'post /api/v1/traffic-tests', 'get /api/v1/traffic-tests', 'get /api/v1/traffic-tests/{id}',
    'get /api/v1/traffic-schedules', 'post /api/v1/traffic-schedules', 'get /api/v1/traffic-schedules/{id}',
    'patch /api/v1/traffic-schedules/{id}', 'delete /api/v1/traffic-schedules/{id}',
    'get /api/v1/docker/endpoints', 'get /api/v1/docker/containers', 'get /api/v1/docker/networks', 'get /api/v1/docker/conflicts',
    'get /api/v1/proxmox/nodes', 'get /api/v1/proxmox/guests', 'get /api/v1/proxmox/templates', 'get /api/v1/proxmox/storages',
    'get /api/v1/proxmox/bridges', 'post /api/v1/vms', 'get /api/v1/vms/jobs', 'get /api/v1/vms/jobs/{id}',
  ];
  const have = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
  assert.deepEqual(have.sort(), expected.sort());
  const create = doc.paths['/api/v1/subnets'].post;
  assert.equal(create['x-required-scope'], 'write');
  assert.deepEqual(create.security, [{ bearer: [] }]);
  assert.equal(create.responses['400'].content['application/json'].schema.$ref, '#/components/schemas/Error');
  const body = doc.components.schemas.SubnetCreate;
  assert.deepEqual(body.required, ['cidr']);
  assert.equal(body.additionalProperties, false, 'unknown fields are documented as refused');
  assert.equal(body.properties.vlan.maximum, 4094);
  const limit = doc.paths['/api/v1/subnets'].get.parameters.find((p: { name: string }) => p.name === 'limit');
  assert.equal(limit.in, 'query');
});
