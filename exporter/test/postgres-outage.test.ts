// PostgreSQL killed with SIGKILL mid-load (#14), then started again: two exporters on it report
// not ready (/readyz 503, lanscape_collector_up{collector="store"} 0, /metrics still answering,
// writes answered 503 store_unavailable)
// while it is gone, come back by themselves once it returns, and every write they acknowledged
// is in the database. Real PostgreSQL (a throw-away cluster), exporters in this process with
// scanning off; everything on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { TOKENS, type TestExporter, startTestExporter } from './helpers/exporter.js';
import { type TestPostgres, startPostgres } from './helpers/postgres.js';
import { sample } from './helpers/scrape.js';

let postgres: TestPostgres | undefined;
const replicas: TestExporter[] = [];

/** Polls every replica until `check` holds for all of them, or fails after `ms`. */
async function allOf(what: string, ms: number, check: (ex: TestExporter) => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    const results = await Promise.all(replicas.map((ex) => check(ex).catch(() => false)));
    if (results.every(Boolean)) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms (${JSON.stringify(results)})`);
    await sleep(100);
  }
}

async function storeUp(ex: TestExporter): Promise<number | undefined> {
  const res = await ex.api.get('/metrics', TOKENS.read);
  assert.equal(res.status, 200, 'the scrape answers with the store down too');
  return sample(res.text, 'lanscape_collector_up', { collector: 'store' });
}

describe('PostgreSQL killed mid-load', { timeout: 120_000 }, () => {
  before(async (t) => {
    postgres = await startPostgres(t as never);
    if (!postgres) return;
    const url = await postgres.createDatabase('outage');
    for (let i = 0; i < 2; i++) replicas.push(await startTestExporter({ LANSCAPE_DATABASE_URL: url }));
  });
  after(async () => {
    for (const ex of replicas) await ex.stop();
    await postgres?.stop();
  });

  it('not ready while it is gone, ready again by themselves, no acknowledged write lost', async () => {
    const subnet = await replicas[0]!.api.post('/api/v1/subnets', { cidr: '10.77.0.0/16' });
    assert.equal(subnet.status, 201, subnet.text);
    const acked: string[] = [];
    const failures = new Map<number, number>();
    let stopping = false;
    const writer = async (ex: TestExporter) => {
      for (let n = 0; n < 100_000 && !stopping; n++) {
        const res = await ex.api
          .post(`/api/v1/subnets/${subnet.body.id}/available-ips`, { count: 1 })
          .catch(() => ({ status: 0, body: null }));
        if (res.status === 201) acked.push(res.body[0].address);
        else {
          failures.set(res.status, (failures.get(res.status) ?? 0) + 1);
          await sleep(50); // the store is away: no busy loop
        }
      }
    };
    const load = Promise.all(replicas.flatMap((ex) => Array.from({ length: 8 }, () => writer(ex))));
    await sleep(1_500);
    const before = acked.length;
    assert.ok(before > 20, `writes go through before the kill (${before})`);

    await postgres!.kill9();
    const downAfter = await allOf('not ready', 10_000, async (ex) => {
      const ready = await ex.api.get('/readyz', null);
      return ready.status === 503 && (await storeUp(ex)) === 0;
    });
    await sleep(1_000);
    await postgres!.restart();
    const upAfter = await allOf('ready again', 20_000, async (ex) => {
      const ready = await ex.api.get('/readyz', null);
      return ready.status === 200 && (await storeUp(ex)) === 1;
    });
    const atReturn = acked.length;
    await allOf('writing again', 10_000, async () => acked.length > atReturn + 20);
    stopping = true;
    await load;

    assert.deepEqual(
      [...failures.keys()],
      [503],
      'writes while the store is away answer 503 store_unavailable (with Retry-After), not 500',
    );
    const db = new pg.Client({ connectionString: postgres!.url.replace(/\/postgres$/, '/outage') });
    await db.connect();
    try {
      const stored = new Set(
        (await db.query<{ address: string }>("SELECT address FROM addresses WHERE address LIKE '10.77.%'")).rows.map(
          (r) => r.address,
        ),
      );
      assert.equal(new Set(acked).size, acked.length, 'no address acknowledged twice');
      assert.deepEqual(
        acked.filter((a) => !stored.has(a)),
        [],
        'every acknowledged reservation survived the crash',
      );
    } finally {
      await db.end();
    }
    console.log(
      `outage: ${acked.length} acknowledged, failures by status ${JSON.stringify(Object.fromEntries(failures))}, ` +
        `not ready ${downAfter} ms after the kill, ready ${upAfter} ms after the restart`,
    );
  });
});
