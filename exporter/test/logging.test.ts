// Structured JSON logs with request ids, and no secrets in them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { TOKENS, spawnExporter, tempDir, testEnv } from './helpers/exporter.js';

it('logs one JSON line per request with its id, and never a token', async () => {
  const { dir, cleanup } = tempDir();
  const ex = await spawnExporter(
    testEnv(join(dir, 'log.db'), {
      LANSCAPE_METRICS_USERNAME: 'prom',
      LANSCAPE_METRICS_PASSWORD: 'metrics-password-123',
      LANSCAPE_GRAFANA_PROXY_TOKENS: 'write', // Grafana's proxy token: its X-Grafana-User is logged
    }),
  );
  try {
    const r = await ex.api.call('POST', '/api/v1/subnets', {
      body: { cidr: '10.5.0.0/24' },
      token: TOKENS.write,
      headers: { 'X-Request-Id': 'req-abc.123', 'X-Grafana-User': 'alice' },
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('x-request-id'), 'req-abc.123');
    const generated = await ex.api.get('/api/v1/subnets', TOKENS.read);
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const hostile = await ex.api.call('GET', '/api/v1/subnets', { headers: { 'X-Request-Id': '"}; injected {"x' } });
    assert.match(hostile.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'an unsafe id is replaced');
    await ex.api.get('/api/v1/subnets', 'wrong-token-but-long-enough');
    await fetch(`${ex.url}/metrics`, {
      headers: { authorization: `Basic ${Buffer.from('prom:metrics-password-123').toString('base64')}` },
    });
  } finally {
    await ex.stop();
    cleanup();
  }
  const lines = ex.output().trim().split('\n');
  const records = lines.map((l) => JSON.parse(l) as Record<string, any>);
  const created = records.find((x) => x.reqId === 'req-abc.123');
  assert.ok(created, 'the client request id is used');
  assert.equal(created.status, 201);
  assert.equal(created.route, '/api/v1/subnets');
  assert.equal(created.grafanaUser, 'alice');
  assert.equal(typeof created.durationMs, 'number');
  assert.equal(created.level, 30);
  const all = lines.join('\n');
  for (const secret of [
    ...Object.values(TOKENS),
    'wrong-token-but-long-enough',
    'metrics-password-123',
    Buffer.from('prom:metrics-password-123').toString('base64'),
  ]) {
    assert.ok(!all.includes(secret), `the log contains a secret: ${secret}`);
  }
  const refused = records.find((x) => x.status === 401);
  assert.ok(refused, 'refused requests are logged too');
  assert.equal(refused.level, 40, 'as warnings');
});
