// Traffic tests through the API, for the loopback and the lab suites.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from './exporter.js';

/** POST /traffic-tests, which must answer 202; returns the queued test. */
export async function startTrafficTest(api: ApiClient, body: Record<string, unknown>): Promise<any> {
  const r = await api.post('/api/v1/traffic-tests', body);
  assert.equal(r.status, 202, r.text);
  return r.body;
}

/** Polls a test until it is done or failed. */
export async function waitTrafficTest(api: ApiClient, id: number, ms = 60_000): Promise<any> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const t = (await api.get(`/api/v1/traffic-tests/${id}`)).body;
    if (t.state === 'done' || t.state === 'failed') return t;
    await sleep(100);
  }
  throw new Error(`traffic test ${id} did not finish`);
}

/** Starts a test and waits for its end. */
export async function runTrafficTest(api: ApiClient, body: Record<string, unknown>): Promise<any> {
  return waitTrafficTest(api, (await startTrafficTest(api, body)).id);
}
