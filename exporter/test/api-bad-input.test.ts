// Every endpoint gets bad input: wrong types, missing and unknown fields, huge bodies, SQL-looking
// strings, bad tokens. Each answer is a 4xx JSON error and the store is byte-for-byte unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOKENS, type TestExporter, startTestExporter } from './helpers/exporter.js';

let ex: TestExporter;
let subnetId: number;
let addressId: number;
let rangeId: number;

/** Everything the store holds, as text (read through the exporter's store: either backend). */
async function snapshot(): Promise<string> {
  const tables = ['subnets', 'addresses', 'address_runs', 'ranges', 'audit_log', 'meta'];
  const hexBlobs = (_key: string, value: unknown) => {
    const v = value as { type?: string; data?: number[] } | null;
    return v?.type === 'Buffer' && v.data ? Buffer.from(v.data).toString('hex') : value;
  };
  const rows = [];
  for (const t of tables) rows.push(await ex.store.exec.all(`SELECT * FROM ${t} ORDER BY 1`));
  return JSON.stringify(rows, hexBlobs);
}

before(async () => {
  ex = await startTestExporter({ LANSCAPE_BODY_LIMIT_BYTES: '65536' });
  subnetId = (await ex.api.post('/api/v1/subnets', { cidr: '10.0.0.0/24', gateway: '10.0.0.1' })).body.id;
  addressId = (await ex.api.post('/api/v1/addresses', { address: '10.0.0.5' })).body.id;
  rangeId = (
    await ex.api.post('/api/v1/ranges', {
      subnet_id: subnetId,
      start_address: '10.0.0.100',
      end_address: '10.0.0.110',
      label: 'pool',
    })
  ).body.id;
});
after(async () => {
  await ex.stop();
});

interface Case {
  name: string;
  method: string;
  path: string | (() => string);
  body?: unknown;
  raw?: string;
  contentType?: string;
  token?: string | null;
  headers?: Record<string, string>;
  status: number | number[];
}

const SQL = "10.0.0.7'; DROP TABLE addresses; --";
const huge = 'x'.repeat(70_000);

const cases = (): Case[] => [
  // --- authentication and scope, on every kind of route
  ...[
    '/api/v1/subnets',
    '/api/v1/addresses',
    '/api/v1/ranges',
    '/api/v1/audit',
    '/api/v1/info',
    '/api/v1/export/subnets',
  ].flatMap((path): Case[] => [
    { name: `GET ${path} without token`, method: 'GET', path, token: null, status: 401 },
    { name: `GET ${path} with unknown token`, method: 'GET', path, token: 'not-a-real-token-000000', status: 401 },
    {
      name: `GET ${path} with Basic auth`,
      method: 'GET',
      path,
      token: null,
      headers: { authorization: 'Basic YTpi' },
      status: 401,
    },
  ]),
  {
    name: 'create subnet with read token',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.9.0.0/24' },
    token: TOKENS.read,
    status: 403,
  },
  {
    name: 'allocate with read token',
    method: 'POST',
    path: `/api/v1/subnets/${subnetId}/available-ips`,
    body: { count: 1 },
    token: TOKENS.read,
    status: 403,
  },
  {
    name: 'delete address with read token',
    method: 'DELETE',
    path: `/api/v1/addresses/${addressId}`,
    token: TOKENS.read,
    status: 403,
  },
  {
    name: 'import with read token',
    method: 'POST',
    path: '/api/v1/import/subnets',
    raw: 'cidr\n10.9.0.0/24\n',
    contentType: 'text/csv',
    token: TOKENS.read,
    status: 403,
  },
  {
    name: 'token with a trailing newline',
    method: 'GET',
    path: '/api/v1/subnets',
    token: null,
    headers: { authorization: `Bearer ${TOKENS.read}x` },
    status: 401,
  },

  // --- subnets
  { name: 'subnet: empty body', method: 'POST', path: '/api/v1/subnets', body: {}, status: 400 },
  { name: 'subnet: no body', method: 'POST', path: '/api/v1/subnets', status: 400 },
  { name: 'subnet: cidr is a number', method: 'POST', path: '/api/v1/subnets', body: { cidr: 10 }, status: 400 },
  { name: 'subnet: /33', method: 'POST', path: '/api/v1/subnets', body: { cidr: '10.0.0.0/33' }, status: 400 },
  { name: 'subnet: host bits', method: 'POST', path: '/api/v1/subnets', body: { cidr: '10.1.0.1/24' }, status: 400 },
  { name: 'subnet: bad IPv6', method: 'POST', path: '/api/v1/subnets', body: { cidr: '::gggg/64' }, status: 400 },
  {
    name: 'subnet: SQL in cidr',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: "10.2.0.0/24'; DROP TABLE subnets; --" },
    status: 400,
  },
  {
    name: 'subnet: very long cidr',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '1'.repeat(5000) },
    status: 400,
  },
  {
    name: 'subnet: unknown field',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.3.0.0/24', colour: 'red' },
    status: 400,
  },
  {
    name: 'subnet: vlan as string',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.3.0.0/24', vlan: '10' },
    status: 400,
  },
  {
    name: 'subnet: vlan 0',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.3.0.0/24', vlan: 0 },
    status: 400,
  },
  {
    name: 'subnet: tags not a list',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.3.0.0/24', tags: 'lab' },
    status: 400,
  },
  {
    name: 'subnet: tag with SQL',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.3.0.0/24', tags: ["'; DELETE FROM subnets; --"] },
    status: 400,
  },
  {
    name: 'subnet: name too long',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.3.0.0/24', name: 'n'.repeat(129) },
    status: 400,
  },
  {
    name: 'subnet: gateway outside',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.3.0.0/24', gateway: '10.4.0.1' },
    status: 422,
  },
  {
    name: 'subnet: gateway is the broadcast',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.3.0.0/24', gateway: '10.3.0.255' },
    status: 422,
  },
  { name: 'subnet: duplicate', method: 'POST', path: '/api/v1/subnets', body: { cidr: '10.0.0.0/24' }, status: 409 },
  { name: 'subnet: JSON array', method: 'POST', path: '/api/v1/subnets', raw: '[{"cidr":"10.5.0.0/24"}]', status: 400 },
  { name: 'subnet: JSON null', method: 'POST', path: '/api/v1/subnets', raw: 'null', status: 400 },
  { name: 'subnet: broken JSON', method: 'POST', path: '/api/v1/subnets', raw: '{"cidr": "10.5.0.0/24"', status: 400 },
  {
    name: 'subnet: body over the limit',
    method: 'POST',
    path: '/api/v1/subnets',
    body: { cidr: '10.5.0.0/24', description: huge },
    status: 413,
  },
  {
    name: 'subnet: text/plain body',
    method: 'POST',
    path: '/api/v1/subnets',
    raw: 'cidr=10.5.0.0/24',
    contentType: 'text/plain',
    status: 415,
  },
  { name: 'subnet: id not a number', method: 'GET', path: '/api/v1/subnets/abc', status: 400 },
  {
    name: 'subnet: id with SQL',
    method: 'GET',
    path: `/api/v1/subnets/${encodeURIComponent('1 OR 1=1')}`,
    status: 400,
  },
  { name: 'subnet: id 0', method: 'GET', path: '/api/v1/subnets/0', status: 400 },
  { name: 'subnet: id too large', method: 'GET', path: '/api/v1/subnets/99999999999999999999', status: 400 },
  { name: 'subnet: missing', method: 'GET', path: '/api/v1/subnets/424242', status: 404 },
  {
    name: 'subnet: patch cidr',
    method: 'PATCH',
    path: `/api/v1/subnets/${subnetId}`,
    body: { cidr: '10.7.0.0/24' },
    status: 400,
  },
  {
    name: 'subnet: patch vlan negative',
    method: 'PATCH',
    path: `/api/v1/subnets/${subnetId}`,
    body: { vlan: -1 },
    status: 400,
  },
  {
    name: 'subnet: patch gateway outside',
    method: 'PATCH',
    path: `/api/v1/subnets/${subnetId}`,
    body: { gateway: '192.0.2.1' },
    status: 422,
  },
  { name: 'subnet: patch missing', method: 'PATCH', path: '/api/v1/subnets/424242', body: { name: 'x' }, status: 404 },
  { name: 'subnet: delete with addresses', method: 'DELETE', path: `/api/v1/subnets/${subnetId}`, status: 409 },
  { name: 'subnet: delete force=yes', method: 'DELETE', path: `/api/v1/subnets/${subnetId}?force=yes`, status: 400 },
  { name: 'subnet list: limit 0', method: 'GET', path: '/api/v1/subnets?limit=0', status: 400 },
  { name: 'subnet list: limit too big', method: 'GET', path: '/api/v1/subnets?limit=100000', status: 400 },
  { name: 'subnet list: limit abc', method: 'GET', path: '/api/v1/subnets?limit=abc', status: 400 },
  { name: 'subnet list: offset -1', method: 'GET', path: '/api/v1/subnets?offset=-1', status: 400 },
  { name: 'subnet list: repeated limit', method: 'GET', path: '/api/v1/subnets?limit=1&limit=2', status: 400 },
  { name: 'subnet list: unknown parameter', method: 'GET', path: '/api/v1/subnets?order=cidr', status: 400 },
  {
    name: 'subnet rows: limit too big',
    method: 'GET',
    path: `/api/v1/subnets/${subnetId}/addresses?limit=100001`,
    status: 400,
  },

  // --- allocation
  {
    name: 'allocate: count 0',
    method: 'POST',
    path: `/api/v1/subnets/${subnetId}/available-ips`,
    body: { count: 0 },
    status: 400,
  },
  {
    name: 'allocate: count too big',
    method: 'POST',
    path: `/api/v1/subnets/${subnetId}/available-ips`,
    body: { count: 5000 },
    status: 400,
  },
  {
    name: 'allocate: count as string',
    method: 'POST',
    path: `/api/v1/subnets/${subnetId}/available-ips`,
    body: { count: '2' },
    status: 400,
  },
  {
    name: 'allocate: count fractional',
    method: 'POST',
    path: `/api/v1/subnets/${subnetId}/available-ips`,
    body: { count: 1.5 },
    status: 400,
  },
  {
    name: 'allocate: bad state',
    method: 'POST',
    path: `/api/v1/subnets/${subnetId}/available-ips`,
    body: { count: 1, state: 'up' },
    status: 400,
  },
  {
    name: 'allocate: address field',
    method: 'POST',
    path: `/api/v1/subnets/${subnetId}/available-ips`,
    body: { count: 1, address: '10.0.0.9' },
    status: 400,
  },
  {
    name: 'allocate: more than free',
    method: 'POST',
    path: `/api/v1/subnets/${subnetId}/available-ips`,
    body: { count: 300 },
    status: 409,
  },
  {
    name: 'allocate: missing subnet',
    method: 'POST',
    path: '/api/v1/subnets/424242/available-ips',
    body: { count: 1 },
    status: 404,
  },
  {
    name: 'allocate: missing range',
    method: 'POST',
    path: '/api/v1/ranges/424242/available-ips',
    body: { count: 1 },
    status: 404,
  },
  { name: 'available: limit 0', method: 'GET', path: `/api/v1/subnets/${subnetId}/available-ips?limit=0`, status: 400 },

  // --- addresses
  { name: 'address: missing', method: 'POST', path: '/api/v1/addresses', body: { hostname: 'x' }, status: 400 },
  {
    name: 'address: octet 256',
    method: 'POST',
    path: '/api/v1/addresses',
    body: { address: '10.0.0.256' },
    status: 400,
  },
  { name: 'address: SQL', method: 'POST', path: '/api/v1/addresses', body: { address: SQL }, status: 400 },
  {
    name: 'address: CIDR given',
    method: 'POST',
    path: '/api/v1/addresses',
    body: { address: '10.0.0.7/24' },
    status: 400,
  },
  {
    name: 'address: shell in hostname',
    method: 'POST',
    path: '/api/v1/addresses',
    body: { address: '10.0.0.7', hostname: '$(id)' },
    status: 400,
  },
  {
    name: 'address: bad MAC',
    method: 'POST',
    path: '/api/v1/addresses',
    body: { address: '10.0.0.7', mac: 'zz:zz:zz:zz:zz:zz' },
    status: 400,
  },
  {
    name: 'address: bad state',
    method: 'POST',
    path: '/api/v1/addresses',
    body: { address: '10.0.0.7', state: 'online' },
    status: 400,
  },
  {
    name: 'address: bad source',
    method: 'POST',
    path: '/api/v1/addresses',
    body: { address: '10.0.0.7', source: 'evil' },
    status: 400,
  },
  { name: 'address: taken', method: 'POST', path: '/api/v1/addresses', body: { address: '10.0.0.5' }, status: 409 },
  {
    name: 'address: network address',
    method: 'POST',
    path: '/api/v1/addresses',
    body: { address: '10.0.0.0' },
    status: 422,
  },
  {
    name: 'address: outside subnets',
    method: 'POST',
    path: '/api/v1/addresses',
    body: { address: '198.51.100.1' },
    status: 422,
  },
  {
    name: 'address: patch the address',
    method: 'PATCH',
    path: `/api/v1/addresses/${addressId}`,
    body: { address: '10.0.0.8' },
    status: 400,
  },
  {
    name: 'address: patch bad tags',
    method: 'PATCH',
    path: `/api/v1/addresses/${addressId}`,
    body: { tags: [1, 2] },
    status: 400,
  },
  {
    name: 'address: patch missing',
    method: 'PATCH',
    path: '/api/v1/addresses/424242',
    body: { owner: 'x' },
    status: 404,
  },
  { name: 'address: delete missing', method: 'DELETE', path: '/api/v1/addresses/424242', status: 404 },
  { name: 'address list: bad state filter', method: 'GET', path: '/api/v1/addresses?state=gone', status: 400 },
  { name: 'address list: missing subnet', method: 'GET', path: '/api/v1/addresses?subnet_id=424242', status: 404 },

  // --- ranges
  {
    name: 'range: subnet_id as string',
    method: 'POST',
    path: '/api/v1/ranges',
    body: { subnet_id: String(subnetId), start_address: '10.0.0.20', end_address: '10.0.0.30', label: 'x' },
    status: 400,
  },
  {
    name: 'range: empty label',
    method: 'POST',
    path: '/api/v1/ranges',
    body: { subnet_id: subnetId, start_address: '10.0.0.20', end_address: '10.0.0.30', label: '' },
    status: 400,
  },
  {
    name: 'range: bad colour',
    method: 'POST',
    path: '/api/v1/ranges',
    body: { subnet_id: subnetId, start_address: '10.0.0.20', end_address: '10.0.0.30', label: 'x', color: 'red' },
    status: 400,
  },
  {
    name: 'range: bad purpose',
    method: 'POST',
    path: '/api/v1/ranges',
    body: { subnet_id: subnetId, start_address: '10.0.0.20', end_address: '10.0.0.30', label: 'x', purpose: 'party' },
    status: 400,
  },
  {
    name: 'range: overlap',
    method: 'POST',
    path: '/api/v1/ranges',
    body: { subnet_id: subnetId, start_address: '10.0.0.105', end_address: '10.0.0.120', label: 'x' },
    status: 409,
  },
  {
    name: 'range: mixed families',
    method: 'POST',
    path: '/api/v1/ranges',
    body: { subnet_id: subnetId, start_address: '10.0.0.20', end_address: '::1', label: 'x' },
    status: 422,
  },
  {
    name: 'range: missing subnet',
    method: 'POST',
    path: '/api/v1/ranges',
    body: { subnet_id: 424242, start_address: '10.0.0.20', end_address: '10.0.0.30', label: 'x' },
    status: 404,
  },
  {
    name: 'range: patch bounds',
    method: 'PATCH',
    path: `/api/v1/ranges/${rangeId}`,
    body: { start_address: '10.0.0.90' },
    status: 400,
  },

  // --- CSV
  {
    name: 'import: JSON body',
    method: 'POST',
    path: '/api/v1/import/subnets',
    body: { cidr: '10.9.0.0/24' },
    status: 415,
  },
  {
    name: 'import: unknown kind',
    method: 'POST',
    path: '/api/v1/import/users',
    raw: 'cidr\n10.9.0.0/24\n',
    contentType: 'text/csv',
    status: 400,
  },
  {
    name: 'import: unknown column',
    method: 'POST',
    path: '/api/v1/import/subnets',
    raw: 'cidr,owner\n10.9.0.0/24,x\n',
    contentType: 'text/csv',
    status: 400,
  },
  {
    name: 'import: missing required column',
    method: 'POST',
    path: '/api/v1/import/addresses',
    raw: 'hostname\nx\n',
    contentType: 'text/csv',
    status: 400,
  },
  {
    name: 'import: ragged rows',
    method: 'POST',
    path: '/api/v1/import/subnets',
    raw: 'cidr,name\n10.9.0.0/24,a,b,c\n',
    contentType: 'text/csv',
    status: 400,
  },
  {
    name: 'import: bad dry_run',
    method: 'POST',
    path: '/api/v1/import/subnets?dry_run=maybe',
    raw: 'cidr\n10.9.0.0/24\n',
    contentType: 'text/csv',
    status: 400,
  },
  {
    name: 'import: invalid row',
    method: 'POST',
    path: '/api/v1/import/subnets',
    raw: 'cidr\n10.9.0.0/24\n10.9.1.1/24\n',
    contentType: 'text/csv',
    status: 422,
  },
  { name: 'export: unknown kind', method: 'GET', path: '/api/v1/export/passwords', status: 400 },

  // --- audit
  { name: 'audit: bad object type', method: 'GET', path: '/api/v1/audit?object_type=user', status: 400 },
  { name: 'audit: bad since', method: 'GET', path: '/api/v1/audit?since=yesterday', status: 400 },

  // --- unknown routes
  { name: 'unknown route', method: 'GET', path: '/api/v1/users', status: 404 },
  { name: 'unknown method', method: 'PUT', path: `/api/v1/subnets/${subnetId}`, body: { name: 'x' }, status: 404 },
];

describe('bad input', () => {
  it('answers every case with a 4xx JSON error and leaves the store unchanged', async () => {
    const all = cases();
    assert.ok(all.length > 90);
    for (const c of all) {
      const before = await snapshot();
      const path = typeof c.path === 'function' ? c.path() : c.path;
      const res = await ex.api.call(c.method, path, {
        ...(c.token !== undefined ? { token: c.token } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.raw !== undefined ? { rawBody: c.raw, contentType: c.contentType ?? 'application/json' } : {}),
        ...(c.headers ? { headers: c.headers } : {}),
      });
      const expected = Array.isArray(c.status) ? c.status : [c.status];
      assert.ok(
        expected.includes(res.status),
        `${c.name}: expected ${expected.join('/')}, got ${res.status} ${res.text}`,
      );
      assert.equal(typeof res.body?.error?.code, 'string', `${c.name}: error JSON: ${res.text}`);
      assert.equal(typeof res.body.error.message, 'string', c.name);
      assert.ok(res.body.error.message.length > 0, c.name);
      if (res.status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /Bearer/, c.name);
      assert.equal(await snapshot(), before, `${c.name}: the store changed`);
    }
  });

  it('names the offending field', async () => {
    const r = await ex.api.post('/api/v1/subnets', { cidr: '10.3.0.0/24', vlan: 5000 });
    assert.equal(r.body.error.code, 'validation_failed');
    assert.match(r.body.error.message, /^body\.vlan: /);
    assert.deepEqual(r.body.error.details[0].path, 'vlan');
    const u = await ex.api.post('/api/v1/subnets', { cidr: '10.3.0.0/24', colour: 'red' });
    assert.match(u.body.error.message, /unknown field\(s\): colour/);
  });

  it('stores SQL-looking free text verbatim and harmlessly', async () => {
    const text = "Robert'); DROP TABLE addresses;--";
    const r = await ex.api.patch(`/api/v1/addresses/${addressId}`, { description: text, owner: "x' OR '1'='1" });
    assert.equal(r.status, 200);
    assert.equal((await ex.api.get(`/api/v1/addresses/${addressId}`)).body.description, text);
    assert.equal((await ex.api.get(`/api/v1/addresses?q=${encodeURIComponent("' OR '1'='1")}`)).body.count, 1);
    assert.equal(
      (await ex.api.get(`/api/v1/addresses?q=${encodeURIComponent('%')}`)).body.count,
      0,
      'LIKE wildcards are literal',
    );
  });
});
