// TrafficService and TrafficStore on the backend under test (LANSCAPE_TEST_BACKEND=sqlite|
// postgres, #14), with a stand-in for SSH (no network: the "hosts" answer in-process with a
// captured iperf3 report): the table as the queue, one running test per target server, the
// conditional state changes, start-up recovery, schedule runs claimed once, first-use host keys
// — and the same with two exporters ("replicas") on two stores of one database.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type TestContext, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ConfigSchema } from '../src/config/schema.js';
import type { Store } from '../src/store/store.js';
import { fingerprint } from '../src/traffic/core/hostkeys.js';
import type { ExecResult, RunningCommand, SshEndpoint, SshSession } from '../src/traffic/ssh.js';
import { SshError } from '../src/traffic/ssh.js';
import { registerTrafficMetrics } from '../src/traffic/metrics.js';
import { TrafficScheduler } from '../src/traffic/scheduler.js';
import { type TestInput, TrafficService, staleBound } from '../src/traffic/service.js';
import { type TestParams, type TestRow, TrafficStore } from '../src/traffic/store.js';
import { TEST_BACKEND, databaseUrlOf, openTestStore } from './helpers/store.js';

const REPORT = readFileSync(new URL('./fixtures/iperf3/tcp.json', import.meta.url), 'utf8');
const T0 = 1_800_000_000_000;
const silent = pino({ level: 'silent' });
// The hosts authenticate through an "agent" the stand-in never asks: no key files needed.
process.env.SSH_AUTH_SOCK ??= '/nonexistent/agent.sock';

const config = (hosts: string[] = ['nas', 'pi']) =>
  ConfigSchema.parse({
    traffic: {
      trust_on_first_use: true,
      hosts: hosts.map((name, i) => ({ name, address: `127.0.0.${i + 2}`, user: 'root', agent: true })),
    },
  }).traffic;

/** A public key blob of type ssh-ed25519 (what a server presents), distinct per seed. */
const hostKey = (seed: number) => {
  const name = Buffer.from('ssh-ed25519');
  const blob = Buffer.alloc(4 + name.length + 4 + 32, seed);
  blob.writeUInt32BE(name.length, 0);
  name.copy(blob, 4);
  blob.writeUInt32BE(32, 4 + name.length);
  return blob;
};

/**
 * The SSH side: every iperf3 client waits until the test lets it finish (oldest first), so a
 * test can look at what runs; counts how many run at once, over every exporter sharing it.
 */
class FakeHosts {
  active = 0;
  maxActive = 0;
  commands: string[] = [];
  private waiting: ((r: ExecResult) => void)[] = [];
  /** Connections wait here after the key check, before the key is proven (TOFU races). */
  barrier: { count: number; arrived: number; open: () => void; opened: Promise<void> } | undefined;

  connect(key: Buffer) {
    return async (ep: SshEndpoint): Promise<SshSession> => {
      const decision = ep.verifyHostKey(key);
      if (!decision.ok) throw new SshError(decision.message, 'host_key');
      if (this.barrier) {
        const b = this.barrier;
        if (++b.arrived >= b.count) b.open();
        await b.opened;
      }
      try {
        await ep.hostKeyProven?.();
      } catch (e) {
        throw new SshError((e as Error).message, 'host_key');
      }
      return {
        exec: async (command: string): Promise<RunningCommand> => {
          this.commands.push(command);
          this.active++;
          this.maxActive = Math.max(this.maxActive, this.active);
          let settle!: (r: ExecResult) => void;
          const done = new Promise<ExecResult>((resolve) => {
            settle = (r) => {
              this.active--;
              resolve(r);
            };
          });
          this.waiting.push(settle);
          return {
            done,
            stop: () => {
              const i = this.waiting.indexOf(settle);
              if (i >= 0) this.waiting.splice(i, 1)[0]!({ code: null, signal: 'TERM', stdout: '', stderr: '' });
            },
          };
        },
        close: () => {},
      };
    };
  }

  barrierFor(count: number): void {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.barrier = { count, arrived: 0, open, opened };
  }

  /** Lets the oldest running client finish with the captured report. */
  finishOne(): void {
    const settle = this.waiting.shift();
    assert.ok(settle, 'a client is running');
    settle({ code: 0, signal: null, stdout: REPORT, stderr: '' });
  }

  get running(): number {
    return this.waiting.length;
  }
}

function service(
  store: Store,
  hosts: FakeHosts,
  opts: { key?: Buffer; now?: () => number; cfg?: ReturnType<typeof config> } = {},
) {
  return new TrafficService(
    store,
    opts.cfg ?? config(),
    { connect: hosts.connect(opts.key ?? hostKey(1)), now: opts.now ?? (() => T0), random: () => 0.5 },
    silent,
  );
}

/** Waits (bounded) until `check` holds. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting until ${what}`);
}

const input = (target: string, extra: Partial<TestInput> = {}): TestInput => ({
  source: 'nas',
  target,
  protocol: 'tcp',
  duration_seconds: 5,
  parallel: 1,
  reverse: false,
  start_server: false,
  ...extra,
});

const params = (target_address: string): TestParams & { target_address: string } => ({
  source: 'nas',
  target: target_address,
  target_address,
  protocol: 'tcp',
  duration_seconds: 5,
  bitrate_bits_per_second: null,
  parallel: 1,
  reverse: 0,
  start_server: 0,
  port: 5201,
});

/** A second store on the same database: another exporter process as far as the database can tell. */
function replicaOf(t: TestContext, store: Store): Promise<Store> {
  return openTestStore(t, { url: databaseUrlOf(store)! });
}

async function stopAll(...services: TrafficService[]): Promise<void> {
  await Promise.all(services.map((s) => s.stop()));
}

describe('traffic tests on the store', () => {
  it('queues tests as rows and runs one test per target server at a time, oldest first', async (t) => {
    const store = await openTestStore(t);
    const hosts = new FakeHosts();
    const traffic = service(store, hosts);
    t.after(() => stopAll(traffic));
    const a = await traffic.startTest(input('10.9.0.1'));
    const b = await traffic.startTest(input('10.9.0.1', { reverse: true }));
    const c = await traffic.startTest(input('10.9.0.2'));
    assert.equal(a.state, 'queued', 'the answer describes the test as accepted');
    await until('two clients run (one per server)', () => hosts.running === 2);
    assert.equal((await traffic.getTest(a.id)).state, 'running');
    assert.equal((await traffic.getTest(b.id)).state, 'queued');
    assert.equal((await traffic.getTest(c.id)).state, 'running');
    hosts.finishOne(); // a
    await until('b runs', async () => (await traffic.getTest(b.id)).state === 'running' && hosts.running === 2);
    assert.equal((await traffic.getTest(a.id)).state, 'done');
    hosts.finishOne(); // c
    hosts.finishOne(); // b
    await traffic.drain();
    const listed = await traffic.listTests({ state: 'done' }, 10, 0);
    assert.equal(listed.count, 3);
    assert.deepEqual(
      listed.results.map((r) => r.id),
      [c.id, b.id, a.id],
    );
    const done = await traffic.getTest(b.id);
    assert.equal(done.progress, 1);
    assert.ok(done.result!.received_bits_per_second > 1e6);
    assert.equal(hosts.maxActive, 2, 'never two clients against one server');
    // The last-test gauges are read from the rows (history per pair, latest per series).
    const registry = new Registry();
    registerTrafficMetrics(registry, traffic, () => T0);
    const text = await registry.metrics();
    assert.match(
      text,
      /^lanscape_traffic_test_success\{source="nas",target="10\.9\.0\.1",protocol="tcp",direction="reverse"\} 1$/m,
    );
    assert.match(text, /^lanscape_traffic_tests_total\{result="success"\} 0$/m, 'registered after the tests ended');
    await stopAll(traffic);
  });

  it('changes a test state only from the state it expects', async (t) => {
    const store = await openTestStore(t);
    const traffic = service(store, new FakeHosts());
    await traffic.stop(); // no worker: the store alone
    const s = traffic.store;
    const stale = staleBound(traffic.config);
    const one = await s.insertTest({ ...params('10.9.0.1'), schedule_id: null, queued_at: T0 });
    const two = await s.insertTest({ ...params('10.9.0.1'), schedule_id: null, queued_at: T0 });
    const claimed = await store.write(() => s.claimNext(one, T0, stale, 'stale'));
    assert.equal((claimed as TestRow).id, one.id, 'the oldest waiting test');
    assert.equal((claimed as TestRow).state, 'running');
    assert.equal(await store.write(() => s.claimNext(one, T0, stale, 'stale')), 'busy', 'one running per server');
    assert.equal(await s.failQueued(one.id, T0, 'x'), false, 'a running test is not failed as queued');
    const ended = { ...(claimed as TestRow), state: 'failed' as const, finished_at: T0 + 1, error: 'boom' };
    assert.equal(await store.write(() => s.finishTest(ended)), true);
    assert.equal(await store.write(() => s.finishTest({ ...ended, error: 'again' })), false, 'ended once');
    assert.equal((await s.test(one.id))!.error, 'boom');
    assert.equal(await s.failQueued(two.id, T0, 'stopped'), true);
    assert.equal(await store.write(() => s.claimNext(two, T0, stale, 'stale')), undefined, 'nothing waits');
    // A running test whose process died is failed once its stale bound has passed, by the next claim.
    const three = await s.insertTest({ ...params('10.9.0.1'), schedule_id: null, queued_at: T0 });
    const four = await s.insertTest({ ...params('10.9.0.1'), schedule_id: null, queued_at: T0 });
    assert.equal(((await store.write(() => s.claimNext(three, T0, stale, 'orphan'))) as TestRow).id, three.id);
    const bound = T0 + 5 * stale.perSecondMs + stale.fixedMs;
    assert.equal(await store.write(() => s.claimNext(four, bound, stale, 'orphan')), 'busy', 'not before the bound');
    const next = await store.write(() => s.claimNext(four, bound + 1, stale, 'orphan'));
    assert.equal((next as TestRow).id, four.id);
    assert.deepEqual(
      { state: (await s.test(three.id))!.state, error: (await s.test(three.id))!.error },
      { state: 'failed', error: 'orphan' },
    );
  });

  it('fails the tests a stopped exporter left, and the ones queued when it stops', async (t) => {
    const store = await openTestStore(t);
    const hosts = new FakeHosts();
    const first = service(store, hosts);
    const running = await first.startTest(input('10.9.0.1'));
    const queued = await first.startTest(input('10.9.0.1'));
    await until('a client runs', () => hosts.running === 1);
    await first.stop();
    assert.match((await first.getTest(running.id)).error!, /stopped during the test/);
    assert.equal((await first.getTest(queued.id)).error, 'the exporter stopped before this test ran');
    // A crash leaves rows behind: a queued one and one running for longer than any run can take.
    const s = first.store;
    const left = await s.insertTest({ ...params('10.9.0.3'), schedule_id: null, queued_at: T0 });
    const crashed = await s.insertTest({ ...params('10.9.0.4'), schedule_id: null, queued_at: T0 });
    await store.write(() => s.claimNext(crashed, T0, staleBound(first.config), 'x'));
    const later = T0 + 3_600_000;
    // …and one another exporter started a minute ago and is still running.
    const fresh = await s.insertTest({ ...params('10.9.0.5'), schedule_id: null, queued_at: T0 });
    await store.write(() => s.claimNext(fresh, later - 60_000, staleBound(first.config), 'x'));
    const second = service(store, hosts, { now: () => later });
    t.after(() => stopAll(second));
    if (store.dialect === 'sqlite') {
      // One exporter per SQLite store: everything unfinished was its own.
      await second.drain();
      for (const id of [left.id, crashed.id, fresh.id])
        assert.equal((await second.getTest(id)).error, 'the exporter stopped before this test finished');
    } else {
      // Other exporters may be running theirs: only the stale run fails; the waiting test runs here.
      await until('the adopted test runs', () => hosts.running === 1);
      assert.equal((await second.getTest(crashed.id)).error, 'the exporter stopped before this test finished');
      assert.equal((await second.getTest(fresh.id)).state, 'running', 'another exporter’s run is left alone');
      hosts.finishOne();
      await second.drain();
      assert.equal((await second.getTest(left.id)).state, 'done');
    }
    await stopAll(second);
  });

  it('queues a due schedule run once, however many schedulers see it', async (t) => {
    const store = await openTestStore(t);
    const hosts = new FakeHosts();
    let now = T0;
    const traffic = service(store, hosts, { now: () => now });
    t.after(() => stopAll(traffic));
    const s = await traffic.createSchedule({ ...input('pi'), interval_seconds: 600, jitter_seconds: 0, enabled: true });
    const a = new TrafficScheduler(traffic, silent, () => now);
    const b = new TrafficScheduler(traffic, silent, () => now);
    const handled = await Promise.all([a.tick(), b.tick()]);
    assert.deepEqual(handled.flat(), [s.id], 'one scheduler queued the run');
    const tests = await traffic.listTests({ schedule_id: s.id }, 10, 0);
    assert.equal(tests.count, 1);
    assert.equal((await traffic.getSchedule(s.id)).last_test_id, tests.results[0]!.id);
    assert.equal((await traffic.getSchedule(s.id)).next_run_at, new Date(T0 + 600_000).toISOString());
    now = T0 + 600_000;
    await until('the first test runs', () => hosts.running === 1);
    assert.deepEqual(await a.tick(), [], 'its previous test is still running');
    hosts.finishOne();
    await traffic.drain();
    assert.equal(await traffic.pendingFor(s.id), false);
    // A row read before another scheduler took the run is not run again.
    const row = await traffic.scheduleRow(s.id);
    const patched = await traffic.updateSchedule(s.id, { floor_bits_per_second: 5_000_000 });
    assert.notEqual(await traffic.runSchedule(row), null);
    assert.equal(await traffic.runSchedule(row), null);
    assert.equal((await traffic.listTests({ schedule_id: s.id }, 10, 0)).count, 2);
    // The run moves next_run_at and last_test_id only: a change made meanwhile is kept.
    assert.equal(patched.floor_bits_per_second, 5_000_000);
    assert.equal((await traffic.getSchedule(s.id)).floor_bits_per_second, 5_000_000);
    await until('the second test runs', () => hosts.running === 1);
    hosts.finishOne();
    await traffic.drain();
    await traffic.deleteSchedule(s.id);
    await assert.rejects(traffic.getSchedule(s.id), /does not exist/);
    await stopAll(traffic);
  });

  it('trusts the first host key once, also when two connections offer different keys at once', async (t) => {
    const store = await openTestStore(t);
    const hosts = new FakeHosts();
    const one = service(store, hosts, { key: hostKey(1) });
    const two = service(store, hosts, { key: hostKey(2) });
    t.after(() => stopAll(one, two));
    hosts.barrierFor(2);
    // Different targets, so both connect to the source "nas" at once; both see no stored key.
    const [a, b] = await Promise.all([one.startTest(input('10.9.0.1')), two.startTest(input('10.9.0.2'))]);
    await until('one client runs and the other test failed', async () => {
      const states = [(await one.getTest(a.id)).state, (await two.getTest(b.id)).state];
      return hosts.running === 1 && states.includes('failed');
    });
    hosts.finishOne();
    await Promise.all([one.drain(), two.drain()]);
    const ends = [await one.getTest(a.id), await two.getTest(b.id)];
    assert.deepEqual(ends.map((e) => e.state).sort(), ['done', 'failed']);
    const refused = ends.find((e) => e.state === 'failed')!;
    assert.match(refused.error!, /differs from the key trusted on first use/);
    const winner = ends.find((e) => e.state === 'done') === ends[0] ? hostKey(1) : hostKey(2);
    const listed = await one.hosts();
    assert.equal(listed[0]!.host_key.trusted_on_first_use, fingerprint(winner));
    assert.equal((await two.hosts())[0]!.host_key.trusted_on_first_use, fingerprint(winner));
    await stopAll(one, two);
  });
});

// PostgreSQL only: a SQLite store has one exporter (store/ownership.ts refuses a second).
describe('two exporters on one database', { skip: TEST_BACKEND === 'sqlite' && 'PostgreSQL only' }, () => {
  it('share the queue: a test queued on either is visible on both, and one server runs one test', async (t) => {
    const store = await openTestStore(t);
    const other = await replicaOf(t, store);
    const hosts = new FakeHosts();
    const a = service(store, hosts);
    const b = service(other, hosts);
    t.after(() => stopAll(a, b));
    const first = await a.startTest(input('10.9.0.1'));
    await until('the first test runs', () => hosts.running === 1);
    const second = await b.startTest(input('10.9.0.1', { reverse: true }));
    assert.equal((await b.getTest(first.id)).state, 'running', 'A’s test seen from B');
    assert.equal((await a.getTest(second.id)).state, 'queued', 'B’s test seen from A');
    await sleep(300);
    assert.equal(hosts.running, 1, 'B waits while A runs a test against the server');
    hosts.finishOne();
    await until(
      'the second test runs',
      async () => (await a.getTest(second.id)).state === 'running' && hosts.running === 1,
    );
    hosts.finishOne();
    await Promise.all([a.drain(), b.drain()]);
    assert.equal((await a.getTest(second.id)).state, 'done');
    assert.equal(hosts.maxActive, 1);
    await stopAll(a, b);
  });

  it('a stopping exporter fails only the waiting tests it queued', async (t) => {
    const store = await openTestStore(t);
    const other = await replicaOf(t, store);
    const hosts = new FakeHosts();
    const a = service(store, hosts);
    const b = service(other, hosts);
    t.after(() => stopAll(a, b));
    const first = await b.startTest(input('10.9.0.1'));
    await until('B runs its test', () => hosts.running === 1);
    const fromA = await a.startTest(input('10.9.0.1'));
    const fromB = await b.startTest(input('10.9.0.1'));
    await a.stop();
    assert.equal((await b.getTest(fromA.id)).error, 'the exporter stopped before this test ran');
    assert.equal((await b.getTest(first.id)).state, 'running');
    assert.equal((await b.getTest(fromB.id)).state, 'queued');
    hosts.finishOne();
    await until(
      'B runs its second test',
      async () => (await b.getTest(fromB.id)).state === 'running' && hosts.running === 1,
    );
    hosts.finishOne();
    await b.drain();
    assert.equal((await b.getTest(fromB.id)).state, 'done');
    await stopAll(a, b);
  });

  it('cannot both claim a queued test, nor start two tests against one server', async (t) => {
    const store = await openTestStore(t);
    const other = await replicaOf(t, store);
    const a = service(store, new FakeHosts());
    const b = service(other, new FakeHosts());
    await stopAll(a, b); // the stores alone, claimed by hand
    const stale = staleBound(a.config);
    for (let round = 0; round < 20; round++) {
      const server = params(`10.9.1.${round}`);
      const x = await a.store.insertTest({ ...server, schedule_id: null, queued_at: T0 });
      await b.store.insertTest({ ...server, schedule_id: null, queued_at: T0 });
      const claims = await Promise.all([
        store.write(() => a.store.claimNext(x, T0, stale, 'stale')),
        other.write(() => b.store.claimNext(x, T0, stale, 'stale')),
      ]);
      const rows = claims.filter((c) => typeof c === 'object');
      assert.equal(
        rows.length,
        1,
        `round ${round}: ${JSON.stringify(claims.map((c) => (typeof c === 'object' ? c.id : c)))}`,
      );
      const running = await a.listTests({ state: 'running', target: server.target }, 10, 0);
      assert.equal(running.count, 1, `round ${round}: one running test per server`);
    }
  });

  it('let exactly one first host key win when each offers another', async (t) => {
    const store = await openTestStore(t);
    const other = await replicaOf(t, store);
    for (let round = 0; round < 10; round++) {
      const address = `127.0.1.${round + 1}`;
      const keys = await Promise.all([
        store.write(() => new TrafficStore(store).trustHostKey(address, 22, 'ssh-ed25519', 'SHA256:a', T0)),
        other.write(() => new TrafficStore(other).trustHostKey(address, 22, 'ssh-ed25519', 'SHA256:b', T0)),
      ]);
      assert.equal(keys[0], keys[1], `round ${round}: both see the same winner`);
    }
  });
});
