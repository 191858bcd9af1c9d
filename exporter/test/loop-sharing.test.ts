// The pieces that keep long work from holding the event loop (#18): turns shared by every
// sliced job, the in-memory subnet list patched per write, read snapshots that keep a chunked
// read consistent while writes land, and WAL checkpoints in a worker thread.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestContext, after, before, describe, it } from 'node:test';
import { Store } from '../src/store/store.js';
import type { Actor } from '../src/audit/log.js';
import { formatIp, parseIp } from '../src/ipam/core/ip.js';
import { IpamService } from '../src/ipam/service.js';
import { Checkpointer } from '../src/store/checkpointer.js';
import { type Db, openDb } from '../src/store/db.js';
import { atNextWorkingTurn, nextTurn, noteAccepted, waitingTurns } from '../src/turns.js';
import { tempDir } from './helpers/exporter.js';
import { TEST_BACKEND, openTestStore } from './helpers/store.js';

const ACTOR: Actor = { name: 'test' };
const v4 = (value: number) => formatIp({ family: 4, value: BigInt(value) });

describe('turns', () => {
  it('resumes one waiting slice per loop turn, in order, a scrape first', async () => {
    const order: string[] = [];
    const job = async (name: string, slices: number) => {
      for (let i = 0; i < slices; i++) {
        order.push(`${name}${i}`);
        await nextTurn();
      }
    };
    let turnsSeen = 0;
    let counting = true;
    const countTurns = () => {
      turnsSeen += 1;
      if (counting) setImmediate(countTurns);
    };
    setImmediate(countTurns);
    const jobs = Promise.all([job('a', 3), job('b', 3), job('c', 3)]);
    assert.equal(waitingTurns(), 3);
    const scrape = nextTurn('scrape').then(() => order.push('scrape'));
    await Promise.all([jobs, scrape]);
    counting = false;
    // Round robin, the scrape's slice ahead of the work that was already waiting.
    assert.deepEqual(order, ['a0', 'b0', 'c0', 'scrape', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
    // 7 resumptions (scrape + 2 × 3 jobs' waits, the last waits end the jobs: 3 more) need as many turns.
    assert.ok(turnsSeen >= 9, `only ${turnsSeen} loop turns for 10 resumptions`);
    assert.equal(waitingTurns(), 0);
  });
  it('runs the write batch in working turns, not in a scrape turn', async () => {
    const order: string[] = [];
    atNextWorkingTurn(() => order.push('batch'));
    const scrape = nextTurn('scrape').then(() => order.push('scrape'));
    await Promise.all([scrape, nextTurn().then(() => order.push('work'))]);
    assert.deepEqual(order, ['scrape', 'batch', 'work']);
    assert.equal(waitingTurns(), 0);
  });

  it('lets other work through while scrapes keep coming', async () => {
    let running = true;
    let scrapeSlices = 0;
    // Bounded, so a regression fails the assertion below instead of spinning forever.
    const scraper = async () => {
      while (running && scrapeSlices < 1000) {
        scrapeSlices += 1;
        await nextTurn('scrape');
      }
    };
    const scrapers = Promise.all([scraper(), scraper()]);
    for (let i = 0; i < 10 && scrapeSlices < 1000; i++) await nextTurn();
    running = false;
    await scrapers;
    // Three scrape turns in a row at most: ten work turns let about thirty scrape turns through, not endless ones.
    assert.ok(scrapeSlices <= 36, `${scrapeSlices} scrape slices ran beside 10 work slices`);
  });

  it('gives a scrape three turns in a row, then one to the other work', async () => {
    const order: string[] = [];
    let running = true;
    // Bounded both ways: a regression fails an assertion instead of spinning.
    const scraper = (async () => {
      for (let i = 0; running && i < 200; i++) {
        order.push('s');
        await nextTurn('scrape');
      }
    })();
    const worker = (async () => {
      for (let i = 0; i < 5; i++) {
        order.push('w');
        await nextTurn();
      }
    })();
    await worker;
    running = false;
    await scraper;
    // Between work slices, three scrape slices: not one (as every other turn gave), not all of
    // them. (The first gap depends on the turns before this test.)
    const gaps = order.join('').split('w');
    assert.equal(gaps.length, 6, order.join(''));
    assert.deepEqual(gaps.slice(2, 5), ['sss', 'sss', 'sss'], order.join(''));
    assert.ok(gaps[1]!.length <= 3, order.join(''));
  });

  it('accepts queued connections in empty turns before the next slice', async () => {
    // libuv accepts one connection per loop turn: 60 connections queued behind a job that keeps
    // every turn busy would each wait for a slice of it. Counted in slices, not milliseconds.
    let slices = 0;
    let running = true;
    let batches = 0;
    const job = (async () => {
      while (running) {
        slices += 1;
        atNextWorkingTurn(() => (batches += 1));
        const until = performance.now() + 5;
        while (performance.now() < until); // a slice of CPU-bound work
        await nextTurn();
      }
    })();
    const server = createServer((_req, res) => res.end('ok'));
    server.on('connection', noteAccepted);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const req = request({ port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(slices));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      await nextTurn();
      const before = slices;
      // Sixty connections opened in one tick: the kernel completes them all and queues them for accept.
      const answeredAt = await Promise.all(Array.from({ length: 60 }, get));
      const worst = Math.max(...answeredAt) - before;
      assert.ok(worst < 20, `the last of 60 connections was answered after ${worst} slices of the job`);
      assert.ok(batches > 0, 'the write batches run in working turns');
    } finally {
      running = false;
      await job;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe(`the in-memory subnet list (${TEST_BACKEND})`, () => {
  let store: Store;
  let ipam: IpamService;
  // A store per test, on the backend under test (LANSCAPE_TEST_BACKEND).
  const open = async (t: TestContext) => {
    store = await openTestStore(t);
    ipam = new IpamService(store);
    await ipam.createSubnet({ cidr: '198.51.100.0/24', scan_enabled: false }, ACTOR);
  };

  const tableOrder = async () =>
    (await store.exec.all<{ id: number }>('SELECT id FROM subnets ORDER BY first_key, prefix_length')).map((r) => r.id);

  it('follows creates, updates and deletes in the table order, and its lookup with it', async (t) => {
    await open(t);
    const ids: number[] = [];
    for (const cidr of ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '192.168.0.0/24', '10.1.0.0/24', '172.16.0.0/12'])
      ids.push((await ipam.createSubnet({ cidr, scan_enabled: false }, ACTOR)).id);
    assert.deepEqual(
      (await ipam.allSubnets()).map((s) => s.id),
      await tableOrder(),
    );
    assert.equal((await ipam.subnetIndex()).mostSpecific(1, parseIp('10.1.2.3')), ids[2]);
    await ipam.updateSubnet(ids[1]!, { name: 'renamed' }, ACTOR);
    assert.equal((await ipam.allSubnets()).find((s) => s.id === ids[1])!.name, 'renamed');
    await ipam.deleteSubnet(ids[2]!, true, ACTOR);
    assert.deepEqual(
      (await ipam.allSubnets()).map((s) => s.id),
      await tableOrder(),
    );
    assert.equal(
      (await ipam.subnetIndex()).mostSpecific(1, parseIp('10.1.2.3')),
      ids[1],
      'the /16 holds it once the /24 is gone',
    );
    assert.equal((await ipam.subnetIndex()).mostSpecific(1, parseIp('10.1.0.9')), ids[4]);
  });

  it('forgets a subnet whose transaction rolled back, and sees it inside the transaction', async (t) => {
    await open(t);
    const before = (await ipam.allSubnets()).map((s) => s.id);
    const list = before; // the list handed out earlier is never changed in place
    await assert.rejects(
      () =>
        ipam.write(async () => {
          const created = await ipam.createSubnet({ cidr: '100.64.0.0/10', scan_enabled: false }, ACTOR);
          assert.ok(
            (await ipam.allSubnets()).some((s) => s.id === created.id),
            'seen inside its transaction',
          );
          throw new Error('roll back');
        }),
      /roll back/,
    );
    assert.deepEqual(
      (await ipam.allSubnets()).map((s) => s.id),
      before,
    );
    assert.equal((await ipam.subnetIndex()).mostSpecific(1, parseIp('100.64.0.1')), null);
    assert.equal(list, before);
  });
});

describe('read snapshots', () => {
  let t: ReturnType<typeof tempDir>;
  let db: Db;
  let ipam: IpamService;
  let subnetId: number;
  const base = (10 << 24) >>> 0;
  before(async () => {
    t = tempDir();
    db = openDb(join(t.dir, 'lanscape.db'));
    ipam = new IpamService(Store.sqlite(db));
    subnetId = (await ipam.createSubnet({ cidr: '10.0.0.0/16', scan_enabled: false }, ACTOR)).id;
    // 12,000 addresses at every fifth: a layout of several chunks (LAYOUT_CHUNK = 5,000).
    await ipam.write(async () => {
      for (let i = 1; i <= 12_000; i++) await ipam.createAddress({ address: v4(base + i * 5) }, ACTOR);
    });
  });
  after(() => {
    ipam.close();
    db.close();
    t.cleanup();
  });

  it('answers a page as the store was when it began, however many writes land meanwhile', async () => {
    const pending = ipam.subnetRows(subnetId, 100, 20_000);
    // Writes between the layout's chunks: each adds an address inside the subnet, before the page.
    let written = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      await ipam.createAddress({ address: v4(base + 2 + i * 5) }, ACTOR);
      written += 1;
    }
    const page = await pending;
    // 12,000 addresses with gaps of 4 between them (and the ends): as before the writes.
    assert.equal(page.subnet.utilization.used, 12_000);
    assert.equal(page.count, 12_000 * 2 + 1);
    assert.equal(page.results.length, 100);
    for (const row of page.results) {
      if (row.type === 'address')
        assert.equal((Number(parseIp(row.address.address).value) - base) % 5, 0, row.address.address);
    }
    const now = await ipam.subnetRows(subnetId, 10, 0);
    assert.equal(now.subnet.utilization.used, 12_000 + written, 'the next request sees the writes');
  });

  it('answers 404 for a subnet that does not exist', async () => {
    await assert.rejects(ipam.subnetRows(999_999, 10, 0), /subnet 999999/);
  });
});

describe('WAL checkpoints in a worker', () => {
  it('copies the WAL into the database file while the main connection never checkpoints', async () => {
    const t = tempDir();
    const file = join(t.dir, 'lanscape.db');
    const db = openDb(file);
    const checkpointer = new Checkpointer(db);
    const ipam = new IpamService(Store.sqlite(db));
    try {
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
      await ipam.createSubnet({ cidr: '10.0.0.0/16', scan_enabled: false }, ACTOR);
      // 3,000 commits: far past the 1,000 WAL pages at which SQLite would checkpoint inside a COMMIT.
      for (let i = 1; i <= 3000; i++) await ipam.createAddress({ address: v4(((10 << 24) >>> 0) + i) }, ACTOR);
      const logical =
        (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
      // Pages reach the database file only through a checkpoint: here only the worker runs one.
      let size = 0;
      for (let i = 0; i < 50 && size < logical; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        size = statSync(file).size;
      }
      assert.ok(size >= logical, `database file ${size} bytes, ${logical} bytes of pages`);
    } finally {
      ipam.close();
      await checkpointer.stop();
      db.close();
      t.cleanup();
    }
  });
});
