// Proxmox VE through the exporter against a fake PVE API (test/helpers/fake-pve.ts) on
// 127.0.0.1 over HTTPS with a throw-away certificate: inventory into IPAM and metrics, TLS
// pinning and CA verification, VM creation jobs (clone, from scratch, failures, idempotency,
// bad input, scopes). Every request the exporter sends is checked against the real PVE API
// schema; each test ends by asserting that none broke it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { decodeSshKeys } from '../src/proxmox/core/cloudinit.js';
import { type RunningExporter, startExporter } from '../src/server.js';
import { ApiClient, TOKENS, startTestExporter, tempDir, testEnv } from './helpers/exporter.js';
import { type CertFiles, FakePve, caSignedCert, selfSignedCert } from './helpers/fake-pve.js';
import { which } from './helpers/tools.js';
import { sample, scrape } from './helpers/scrape.js';

const TOKEN_ID = 'root@pam!lanscape';
const SECRET = '7f0c2a9e-5b1d-4c3e-9a8f-1d2e3f4a5b6c';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG7p4mxWyuQW+Zv0fjVwL9XbQn3oH1pA/2sVbq0o0Jj1 alice@laptop';
const NO_OPENSSL = which('openssl') ? false : 'openssl is not installed (apt-get install openssl)';
if (NO_OPENSSL && process.env.CI) throw new Error(`${NO_OPENSSL}; CI must run every test`);

interface Running {
  ex: RunningExporter;
  api: ApiClient;
  logs: () => string;
  stop(): Promise<void>;
}

/** An exporter in this process pointed at a PVE URL, with its log captured (to look for the secret). */
async function startWith(dir: string, name: string, proxmoxEnv: Record<string, string>): Promise<Running> {
  const yaml = join(dir, `${name}.yaml`);
  writeFileSync(yaml, 'proxmox:\n  task_poll_ms: 20\n  interval_seconds: 3600\n  timeout_seconds: 5\n');
  let logs = '';
  const sink = new Writable({
    write(chunk, _e, cb) {
      logs += String(chunk);
      cb();
    },
  });
  const config = loadConfig(
    testEnv(join(dir, `${name}.db`), {
      LANSCAPE_CONFIG: yaml,
      LANSCAPE_PROXMOX_TOKEN_ID: TOKEN_ID,
      LANSCAPE_PROXMOX_TOKEN_SECRET: SECRET,
      ...proxmoxEnv,
    }),
  );
  const ex = await startExporter(config, pino({ level: 'debug' }, sink));
  const api = new ApiClient(ex.url);
  return {
    ex,
    api,
    logs: () => logs,
    async stop() {
      api.close();
      await ex.close();
    },
  };
}

describe('Proxmox VE', { skip: NO_OPENSSL, timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  let certs: CertFiles;
  let fake: FakePve;
  let main: Running;
  let api: ApiClient;
  let subnetId: number;
  let otherSubnetId: number;

  before(async () => {
    ({ dir, cleanup } = tempDir('lanscape-pve-'));
    certs = selfSignedCert(dir);
    fake = await new FakePve({ cert: certs.cert, key: certs.key, tokenId: TOKEN_ID, tokenSecret: SECRET }).start();
    fake.addGuest({
      vmid: 101,
      type: 'qemu',
      node: 'pve1',
      name: 'web',
      status: 'running',
      agent: true,
      ips: ['10.20.0.11/24', '192.168.99.5/24'],
      tags: 'prod;web',
    });
    fake.addGuest({ vmid: 102, type: 'qemu', node: 'pve1', name: 'db', status: 'running', agent: false });
    fake.addGuest({ vmid: 103, type: 'qemu', node: 'pve2', name: 'old', status: 'stopped' });
    fake.addGuest({
      vmid: 104,
      type: 'qemu',
      node: 'pve2',
      name: 'printer-vm',
      status: 'running',
      agent: true,
      ips: ['10.20.0.13/24'],
    });
    fake.addGuest({ vmid: 201, type: 'lxc', node: 'pve2', name: 'dns', status: 'running', ips: ['10.20.0.12/24'] });
    fake.addGuest({
      vmid: 9000,
      type: 'qemu',
      node: 'pve1',
      name: 'debian-12',
      status: 'stopped',
      template: true,
      config: { scsi0: 'local-lvm:base-9000-disk-0,size=4G', ide2: 'local-lvm:cloudinit' },
    });
    main = await startWith(dir, 'main', {
      LANSCAPE_PROXMOX_URL: fake.url,
      LANSCAPE_PROXMOX_FINGERPRINT: certs.fingerprint,
    });
    api = main.api;
    subnetId = (await api.post('/api/v1/subnets', { cidr: '10.20.0.0/24', gateway: '10.20.0.1' })).body.id;
    otherSubnetId = (await api.post('/api/v1/subnets', { cidr: '10.30.0.0/24' })).body.id;
    assert.equal((await api.post('/api/v1/addresses', { address: '10.20.0.13', hostname: 'printer' })).status, 201);
  });
  after(async () => {
    await main?.stop();
    await fake?.close();
    cleanup?.();
  });
  afterEach(() => {
    assert.deepEqual(fake.violations, [], 'every request to PVE matched its schema');
  });

  const proxmox = () => main.ex.proxmox!;

  it('records guest addresses in IPAM, reports metrics, and releases what is gone', async (t) => {
    await proxmox().refresh();
    const rows = (await api.get('/api/v1/addresses?source=proxmox')).body.results;
    assert.deepEqual(
      rows.map((r: any) => [r.address, r.hostname, r.state, r.description]),
      [
        ['10.20.0.11', 'web', 'assigned', 'Proxmox VM 101 on node pve1'],
        ['10.20.0.12', 'dns', 'assigned', 'Proxmox container 201 on node pve2'],
      ],
    );
    assert.equal(rows[0].mac, 'bc:24:11:00:00:65');
    const manual =
      (await api.get('/api/v1/addresses?q=10.20.0.13')).body.results[0] ??
      (await api.get('/api/v1/addresses?source=manual')).body.results[0];
    assert.equal(manual.source, 'manual', "a person's row is never taken over");
    assert.equal(manual.hostname, 'printer');

    const guests = (await api.get('/api/v1/proxmox/guests')).body;
    const web = guests.results.find((g: any) => g.vmid === 101);
    assert.deepEqual(web.tags, ['prod', 'web']);
    assert.deepEqual(
      web.addresses.map((a: any) => [a.address, a.address_id === rows[0].id]),
      [
        ['10.20.0.11', true],
        ['192.168.99.5', false],
      ],
    );
    assert.equal(guests.results.find((g: any) => g.vmid === 102).addresses, null, 'no agent: unknown, not empty');
    assert.equal(guests.results.find((g: any) => g.vmid === 104).addresses[0].source, 'manual');
    const nodes = (await api.get('/api/v1/proxmox/nodes', TOKENS.read)).body.results;
    assert.deepEqual(
      nodes.map((n: any) => [n.node, n.online, n.cpus]),
      [
        ['pve1', true, 8],
        ['pve2', true, 4],
      ],
    );

    const text = await scrape(main.ex.url);
    assert.match(text, /^lanscape_proxmox_up 1$/m);
    assert.equal(sample(text, 'lanscape_proxmox_node_up', { node: 'pve1' }), 1);
    assert.equal(sample(text, 'lanscape_proxmox_node_info', { node: 'pve2' }), 1);
    assert.equal(sample(text, 'lanscape_proxmox_node_memory_total_bytes', { node: 'pve1' }), 32 * 2 ** 30);
    assert.equal(
      sample(text, 'lanscape_proxmox_guest_info', {
        vmid: '101',
        name: 'web',
        type: 'qemu',
        node: 'pve1',
        tags: 'prod;web',
      }),
      1,
    );
    assert.equal(sample(text, 'lanscape_proxmox_guest_info', { vmid: '9000', template: '1' }), 1);
    assert.equal(sample(text, 'lanscape_proxmox_guest_up', { vmid: '103', type: 'qemu' }), 0);
    assert.equal(sample(text, 'lanscape_proxmox_guest_up', { vmid: '201', type: 'lxc' }), 1);
    assert.equal(sample(text, 'lanscape_proxmox_guest_memory_total_bytes', { vmid: '101' }), 2 * 2 ** 30);
    assert.equal(sample(text, 'lanscape_proxmox_guest_address_info', { vmid: '101', address: '10.20.0.11' }), 1);
    assert.match(text, /^lanscape_collector_up\{collector="proxmox"\} 1$/m);
    const promtool = which('promtool');
    if (promtool) {
      const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    } else if (process.env.CI) {
      throw new Error('promtool is not installed; CI must run every test');
    } else {
      t.diagnostic('promtool not installed: metrics lint skipped');
    }

    // The container goes away; the VM stops (its address becomes unknown, not gone).
    fake.guests.delete(201);
    fake.guests.get(101)!.status = 'stopped';
    await proxmox().refresh();
    const after = (await api.get('/api/v1/addresses?source=proxmox')).body.results;
    assert.deepEqual(
      after.map((r: any) => r.address),
      ['10.20.0.11'],
    );
    const audit = (await api.get('/api/v1/audit?object_type=address&actor=proxmox')).body.results;
    assert.ok(
      audit.some((e: any) => e.action === 'delete' && e.object_repr === '10.20.0.12'),
      'the release is audited',
    );
    assert.ok(audit.some((e: any) => e.action === 'create' && e.object_repr === '10.20.0.11'));
    assert.equal(
      sample(await scrape(main.ex.url), 'lanscape_proxmox_guest_info', { vmid: '201' }),
      undefined,
      'gone guests vanish from metrics',
    );
    fake.guests.get(101)!.status = 'running';
  });

  it('lists templates, storages and bridges for the VM wizard', async () => {
    const templates = (await api.get('/api/v1/proxmox/templates?node=pve1', TOKENS.read)).body;
    assert.deepEqual(
      templates.results.map((x: any) => [x.vmid, x.name]),
      [[9000, 'debian-12']],
    );
    const storages = (await api.get('/api/v1/proxmox/storages?node=pve1')).body;
    assert.deepEqual(
      storages.results.map((s: any) => s.storage),
      ['local-lvm'],
    );
    const bridges = (await api.get('/api/v1/proxmox/bridges?node=pve1')).body;
    assert.deepEqual(
      bridges.results.map((b: any) => [b.bridge, b.vlan_aware]),
      [
        ['vmbr0', true],
        ['vmbr1', false],
      ],
    );
    assert.equal((await api.get('/api/v1/proxmox/templates')).status, 400, 'node is required');
    const unknown = await api.get('/api/v1/proxmox/storages?node=pve9');
    assert.equal(unknown.status, 422);
    assert.match(unknown.body.error.message, /pve9/);
    const q = fake.requests.find((r) => r.template === '/nodes/{node}/network');
    assert.deepEqual(q?.params, { type: 'any_bridge' });
  });

  async function waitJob(id: number, until: (j: any) => boolean, ms = 20_000): Promise<any> {
    for (const end = Date.now() + ms; Date.now() < end;) {
      const j = (await api.get(`/api/v1/vms/jobs/${id}`, TOKENS.read)).body;
      if (until(j)) return j;
      await sleep(15);
    }
    throw new Error(`job ${id} did not reach the expected state`);
  }
  const finished = (j: any) => j.state === 'done' || j.state === 'failed';
  const cloneBody = (name: string, extra: Record<string, unknown> = {}) => ({
    node: 'pve1',
    name,
    clone: { template_vmid: 9000, full: true, storage: 'local-lvm' },
    network: {
      bridge: 'vmbr0',
      vlan: 20,
      address: { subnet_id: subnetId, next_free: true },
      dns: ['10.20.0.53', '10.20.0.54'],
    },
    user: 'ops',
    ssh_keys: [KEY],
    start: true,
    ...extra,
  });

  it('clones a VM with an address from IPAM, showing each step while the tasks run', async () => {
    fake.holdTasks = true;
    const r = await api.post('/api/v1/vms', cloneBody('app-1'));
    assert.equal(r.status, 202, r.text);
    assert.equal(r.headers.get('location'), `/api/v1/vms/jobs/${r.body.id}`);
    assert.ok(['queued', 'running'].includes(r.body.state));
    assert.equal(r.body.address, '10.20.0.2');
    assert.equal(r.body.steps[0].name, 'reserve_address');
    assert.equal(r.body.steps[0].state, 'done');
    const reserved = (await api.get(`/api/v1/addresses/${r.body.address_id}`)).body;
    assert.deepEqual([reserved.state, reserved.source, reserved.hostname], ['provisioning', 'proxmox', 'app-1']);

    const cloning = await waitJob(r.body.id, (j) => j.steps.find((s: any) => s.name === 'clone')?.upid !== undefined);
    const step = cloning.steps.find((s: any) => s.name === 'clone');
    assert.equal(cloning.state, 'running');
    assert.equal(step.state, 'running');
    assert.match(step.upid, /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmclone:9000:root@pam!lanscape:$/);
    assert.ok(cloning.progress > 0 && cloning.progress < 1, `progress ${cloning.progress}`);
    assert.equal(cloning.vmid, 100);
    fake.holdTasks = false;

    const done = await waitJob(r.body.id, finished);
    assert.equal(done.state, 'done', done.error);
    assert.equal(done.progress, 1);
    assert.deepEqual(
      done.steps.map((s: any) => [s.name, s.state]),
      [
        ['reserve_address', 'done'],
        ['allocate_vmid', 'done'],
        ['clone', 'done'],
        ['configure', 'done'],
        ['start', 'done'],
        ['assign_address', 'done'],
      ],
    );
    const vm = fake.guests.get(100)!;
    assert.equal(vm.name, 'app-1');
    assert.equal(vm.status, 'running');
    assert.equal(vm.config!.ipconfig0, 'ip=10.20.0.2/24,gw=10.20.0.1');
    assert.equal(vm.config!.net0, 'virtio,bridge=vmbr0,tag=20');
    assert.equal(vm.config!.nameserver, '10.20.0.53 10.20.0.54');
    assert.equal(vm.config!.ciuser, 'ops');
    assert.deepEqual(decodeSshKeys(vm.config!.sshkeys!), [KEY]);
    const clone = fake.requests.find((q) => q.template === '/nodes/{node}/qemu/{vmid}/clone')!;
    assert.deepEqual(clone.params, {
      newid: '100',
      name: 'app-1',
      full: '1',
      storage: 'local-lvm',
      description: 'Created by Lanscape (VM job 1); address 10.20.0.2 from IPAM.',
    });

    const address = (await api.get(`/api/v1/addresses/${done.address_id}`)).body;
    assert.equal(address.state, 'assigned');
    assert.match(address.description, /Proxmox VM 100 "app-1" on node pve1/);
    const audit = (
      await api.get(`/api/v1/audit?object_type=vm_job&object_id=${done.id}&limit=50`)
    ).body.results.reverse();
    assert.deepEqual(
      audit.map((e: any) => e.after.step ?? e.after.state),
      ['queued', 'allocate_vmid', 'clone', 'configure', 'start', 'assign_address', 'done'],
    );
    assert.ok(audit.every((e: any) => e.actor === 'admin'));
    assert.equal((await api.get('/api/v1/audit?object_type=proxmox_vm&object_id=100')).body.count, 1);

    // The next inventory sees the VM's address through its agent and keeps the job's row.
    await proxmox().refresh();
    const again = (await api.get(`/api/v1/addresses/${done.address_id}`)).body;
    assert.equal(again.description, address.description);
    assert.equal(again.state, 'assigned');
  });

  it('creates a VM from scratch without starting it', async () => {
    const body = {
      node: 'pve2',
      name: 'scratch',
      resources: { cores: 2, memory_mib: 2048, disk_gib: 20, storage: 'local-lvm' },
      network: { bridge: 'vmbr0', address: { address: '10.30.0.40', subnet_id: otherSubnetId }, gateway: '10.30.0.1' },
      start: false,
    };
    const r = await api.post('/api/v1/vms', body);
    assert.equal(r.status, 202, r.text);
    const done = await waitJob(r.body.id, finished);
    assert.equal(done.state, 'done', done.error);
    assert.deepEqual(
      done.steps.map((s: any) => s.name),
      ['reserve_address', 'allocate_vmid', 'create', 'configure', 'assign_address'],
    );
    const vm = fake.guests.get(done.vmid)!;
    assert.equal(vm.status, 'stopped');
    assert.equal(vm.node, 'pve2');
    assert.equal(vm.config!.scsi0, 'local-lvm:20');
    assert.equal(vm.config!.ide2, 'local-lvm:cloudinit');
    assert.equal(vm.config!.memory, '2048');
    assert.equal(vm.config!.ipconfig0, 'ip=10.30.0.40/24,gw=10.30.0.1');
    assert.equal(vm.config!.net0, 'virtio,bridge=vmbr0');
    assert.equal(vm.config!.sshkeys, undefined);
    assert.equal((await api.get(`/api/v1/addresses/${done.address_id}`)).body.state, 'assigned');
  });

  it('a clone Proxmox refuses releases the address and says why', async () => {
    const before = fake.guests.size;
    fake.failRequest('POST', /\/clone$/, 500, "storage 'local-lvm' does not have enough free space");
    const r = await api.post('/api/v1/vms', cloneBody('app-2'));
    assert.equal(r.status, 202);
    const done = await waitJob(r.body.id, finished);
    assert.equal(done.state, 'failed');
    assert.match(
      done.error,
      /^cloning the template failed: Proxmox failed POST \/nodes\/pve1\/qemu\/9000\/clone \(HTTP 500: storage 'local-lvm' does not have enough free space\)\. Address 10\.20\.0\.\d+ was released\.$/,
    );
    assert.deepEqual(
      done.steps.map((s: any) => [s.name, s.state]),
      [
        ['reserve_address', 'done'],
        ['allocate_vmid', 'done'],
        ['clone', 'failed'],
        ['configure', 'skipped'],
        ['start', 'skipped'],
        ['assign_address', 'skipped'],
        ['cleanup', 'done'],
      ],
    );
    assert.equal((await api.get(`/api/v1/addresses/${done.address_id}`)).status, 404);
    assert.equal(fake.guests.size, before);
    assert.ok(!fake.requests.some((q) => q.method === 'DELETE'), 'nothing was created, nothing to delete');
  });

  it('a start that fails deletes the VM the job made and releases the address', async () => {
    fake.failTask('qmstart', 'start failed: QEMU exited with code 1');
    const r = await api.post('/api/v1/vms', cloneBody('app-3'));
    const done = await waitJob(r.body.id, finished);
    assert.equal(done.state, 'failed');
    assert.match(
      done.error,
      /^starting the VM failed: the Proxmox task qmstart failed: start failed: QEMU exited with code 1\. VM \d+ was deleted; address 10\.20\.0\.\d+ was released\.$/,
    );
    assert.equal(fake.guests.has(done.vmid), false);
    const del = fake.requests.find((q) => q.method === 'DELETE')!;
    assert.equal(del.path, `/nodes/pve1/qemu/${done.vmid}`);
    assert.deepEqual(del.params, { purge: '1', 'destroy-unreferenced-disks': '1' });
    assert.equal((await api.get(`/api/v1/addresses/${done.address_id}`)).status, 404);
    const audit = (await api.get(`/api/v1/audit?object_type=vm_job&object_id=${done.id}&limit=50`)).body.results;
    assert.ok(audit.some((e: any) => e.after.step === 'start' && e.after.state === 'failed'));
    assert.ok(audit.some((e: any) => e.after.step === 'cleanup' && /deleted/.test(e.after.message)));
  });

  it('an Idempotency-Key makes retries return the first job; another body with it is 422', async () => {
    const send = (body: unknown, key: string) =>
      api.call('POST', '/api/v1/vms', { body, headers: { 'idempotency-key': key } });
    const first = await send(cloneBody('idem-1'), 'key-1');
    assert.equal(first.status, 202);
    const retry = await send(JSON.parse(JSON.stringify({ ...cloneBody('idem-1') })), 'key-1');
    assert.equal(retry.status, 202);
    assert.equal(retry.body.id, first.body.id);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    const changesBefore = fake.changes().length;
    const other = await send(cloneBody('idem-other'), 'key-1');
    assert.equal(other.status, 422);
    assert.match(
      other.body.error.message,
      /Idempotency-Key "key-1" belongs to VM job \d+, made with a different request body/,
    );

    // Five at once with one key: one job, one VM.
    const burst = await Promise.all(
      Array.from({ length: 5 }, () => send(cloneBody('idem-2', { start: false }), 'key-2')),
    );
    assert.deepEqual(new Set(burst.map((b) => b.status)), new Set([202]));
    assert.equal(new Set(burst.map((b) => b.body.id)).size, 1);
    const a = await waitJob(first.body.id, finished);
    const b = await waitJob(burst[0]!.body.id, finished);
    assert.equal(a.state, 'done', a.error);
    assert.equal(b.state, 'done', b.error);
    assert.equal([...fake.guests.values()].filter((g) => g.name === 'idem-2').length, 1);
    assert.equal([...fake.guests.values()].filter((g) => g.name === 'idem-1').length, 1);
    assert.equal(
      fake
        .changes()
        .slice(changesBefore)
        .filter((q) => q.template?.endsWith('/clone') && q.params.name === 'idem-other').length,
      0,
    );
    assert.equal((await send(cloneBody('x'), 'bad key with spaces')).status, 400);
  });

  it('a job cut short by a stop fails in words and keeps the address for a person to check', async () => {
    const second = await startWith(dir, 'restart', {
      LANSCAPE_PROXMOX_URL: fake.url,
      LANSCAPE_PROXMOX_FINGERPRINT: certs.fingerprint,
    });
    let id: number;
    let addressId: number;
    try {
      await second.ex.proxmox!.refresh();
      const s = (await second.api.post('/api/v1/subnets', { cidr: '10.40.0.0/24', gateway: '10.40.0.1' })).body;
      fake.holdTasks = true;
      const r = await second.api.post('/api/v1/vms', {
        ...cloneBody('cut-short'),
        network: { bridge: 'vmbr0', address: { subnet_id: s.id, next_free: true } },
      });
      assert.equal(r.status, 202, r.text);
      id = r.body.id;
      addressId = r.body.address_id;
      for (
        let i = 0;
        i < 500 && !(await second.api.get(`/api/v1/vms/jobs/${id}`)).body.steps.some((x: any) => x.upid);
        i++
      )
        await sleep(10);
    } finally {
      await second.stop();
      fake.holdTasks = false;
    }
    const again = await startWith(dir, 'restart', {
      LANSCAPE_PROXMOX_URL: fake.url,
      LANSCAPE_PROXMOX_FINGERPRINT: certs.fingerprint,
    });
    try {
      const job = (await again.api.get(`/api/v1/vms/jobs/${id}`)).body;
      assert.equal(job.state, 'failed');
      assert.match(
        job.error,
        /^the exporter stopped during this job \(cloning the template\); VM \d+ may exist on node pve1; address 10\.40\.0\.2 stays reserved \(provisioning\)/,
      );
      assert.equal((await again.api.get(`/api/v1/addresses/${addressId}`)).body.state, 'provisioning');
    } finally {
      await again.stop();
    }
  });

  it('refuses bad input with 400/409/422 and changes nothing in IPAM or Proxmox', async () => {
    const requestsBefore = fake.requests.length;
    const addressesBefore = (await api.get('/api/v1/addresses?limit=1000')).body;
    const jobsBefore = (await api.get('/api/v1/vms/jobs')).body.count;
    const cases: [unknown, number, RegExp][] = [
      [cloneBody('Bad_Name'), 400, /body\.name: a DNS label/],
      [cloneBody('-dash'), 400, /body\.name/],
      [
        { ...cloneBody('both'), resources: { cores: 1, memory_mib: 512, disk_gib: 8, storage: 'local-lvm' } },
        400,
        /exactly one of clone .* and resources/,
      ],
      [{ ...cloneBody('neither'), clone: undefined }, 400, /exactly one of clone/],
      [
        cloneBody('outside', { network: { bridge: 'vmbr0', address: { address: '10.99.0.5', subnet_id: subnetId } } }),
        422,
        /10\.99\.0\.5 is outside subnet 10\.20\.0\.0\/24/,
      ],
      [
        cloneBody('nosubnet', { network: { bridge: 'vmbr0', address: { address: '10.99.0.5' } } }),
        422,
        /not inside any managed subnet/,
      ],
      [
        cloneBody('taken', { network: { bridge: 'vmbr0', address: { address: '10.20.0.13' } } }),
        409,
        /10\.20\.0\.13 is already reserved/,
      ],
      [
        cloneBody('gw', {
          network: { bridge: 'vmbr0', address: { subnet_id: subnetId, next_free: true }, gateway: '10.30.0.1' },
        }),
        422,
        /gateway 10\.30\.0\.1 is not inside 10\.20\.0\.0\/24/,
      ],
      [
        cloneBody('nosuch', { network: { bridge: 'vmbr0', address: { subnet_id: 999, next_free: true } } }),
        422,
        /subnet 999 does not exist/,
      ],
      [
        cloneBody('inject', { ssh_keys: [`${KEY}\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 evil`] }),
        400,
        /body\.ssh_keys\.0: an OpenSSH public key on one line/,
      ],
      [cloneBody('inject2', { ssh_keys: [`${KEY}\r\n#cloud-config`] }), 400, /ssh_keys/],
      [
        cloneBody('vlan', {
          network: { bridge: 'vmbr0', vlan: 5000, address: { subnet_id: subnetId, next_free: true } },
        }),
        400,
        /body\.network\.vlan/,
      ],
      [
        cloneBody('bridge', { network: { bridge: 'vmbr0,tag=5', address: { subnet_id: subnetId, next_free: true } } }),
        400,
        /body\.network\.bridge/,
      ],
      [
        cloneBody('both-addr', {
          network: { bridge: 'vmbr0', address: { subnet_id: subnetId, next_free: true, address: '10.20.0.90' } },
        }),
        400,
        /either/,
      ],
      [
        {
          ...cloneBody('mem'),
          clone: undefined,
          resources: { cores: 1, memory_mib: 100, disk_gib: 8, storage: 'local-lvm' },
        },
        400,
        /memory_mib/,
      ],
      [{ ...cloneBody('node'), node: 'pve9' }, 422, /node "pve9" is not in the Proxmox cluster \(nodes: pve1, pve2\)/],
      [{ ...cloneBody('user'), user: 'root;rm' }, 400, /body\.user/],
      [{ ...cloneBody('extra'), cpu: 'host' }, 400, /unknown field/],
      [{ ...cloneBody('nostart'), start: undefined }, 400, /body\.start/],
    ];
    for (const [body, status, message] of cases) {
      const r = await api.post('/api/v1/vms', body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 120)} → ${r.text}`);
      assert.match(r.body.error.message, message);
    }
    assert.equal(fake.requests.length, requestsBefore, 'no request reached Proxmox');
    assert.deepEqual((await api.get('/api/v1/addresses?limit=1000')).body, addressesBefore, 'IPAM is unchanged');
    assert.equal((await api.get('/api/v1/vms/jobs')).body.count, jobsBefore);
  });

  it('needs an admin token to create a VM; reading jobs needs read', async () => {
    for (const token of [TOKENS.write, TOKENS.read]) {
      const r = await api.post('/api/v1/vms', cloneBody('scoped'), token);
      assert.equal(r.status, 403);
      assert.match(r.body.error.message, /admin scope/);
    }
    assert.equal((await api.post('/api/v1/vms', cloneBody('scoped'), null)).status, 401);
    const list = await api.get('/api/v1/vms/jobs?state=done', TOKENS.read);
    assert.equal(list.status, 200);
    assert.ok(list.body.results.every((j: any) => j.state === 'done'));
  });

  it('never shows the token secret: not in the log, /info, /metrics or API answers', async () => {
    const bodies = [
      (await api.get('/api/v1/info')).text,
      await scrape(main.ex.url),
      (await api.get('/api/v1/vms/jobs?limit=100')).text,
      (await api.get('/api/v1/proxmox/guests')).text,
      (await api.get('/api/v1/audit?limit=1000')).text,
      main.logs(),
    ];
    for (const b of bodies) assert.ok(!b.includes(SECRET));
    assert.ok(main.logs().length > 0);
  });

  describe('TLS', () => {
    let other: CertFiles;
    before(() => {
      other = selfSignedCert(dir, 'other');
    });

    async function refused(env: Record<string, string>, target: FakePve, message: RegExp): Promise<void> {
      const seen = target.requests.length;
      const r = await startWith(dir, `tls-${Math.random().toString(36).slice(2)}`, {
        LANSCAPE_PROXMOX_URL: target.url,
        ...env,
      });
      try {
        await assert.rejects(r.ex.proxmox!.refresh(), message);
        const info = (await r.api.get('/api/v1/info')).body;
        assert.equal(info.collectors.proxmox.up, false);
        assert.match(info.collectors.proxmox.message, message);
        assert.match(await scrape(r.ex.url), /^lanscape_proxmox_up 0$/m);
        assert.match(await scrape(r.ex.url), /^lanscape_collector_up\{collector="proxmox"\} 0$/m);
        assert.equal((await r.api.get('/api/v1/proxmox/nodes')).status, 503);
        assert.equal(target.requests.length, seen, 'not one request (not the token) reached the server');
        assert.ok(!r.logs().includes(SECRET));
      } finally {
        await r.stop();
      }
    }

    it('the pinned fingerprint works in either case', async () => {
      const r = await startWith(dir, 'pin-lower', {
        LANSCAPE_PROXMOX_URL: fake.url,
        LANSCAPE_PROXMOX_FINGERPRINT: certs.fingerprint.toLowerCase(),
      });
      try {
        const inv = await r.ex.proxmox!.refresh();
        assert.equal(inv.nodes.length, 2);
        assert.deepEqual((await r.api.get('/api/v1/info')).body.collectors.proxmox, { up: true });
      } finally {
        await r.stop();
      }
    });

    it('a wrong fingerprint is refused before anything is sent', async () => {
      await refused(
        { LANSCAPE_PROXMOX_FINGERPRINT: other.fingerprint },
        fake,
        new RegExp(
          `certificate has SHA-256 fingerprint ${certs.fingerprint}, not the pinned LANSCAPE_PROXMOX_FINGERPRINT ${other.fingerprint}`,
        ),
      );
    });

    it('an untrusted certificate without a pin is refused', async () => {
      await refused(
        {},
        fake,
        /certificate is not trusted \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)[^)]*\); set LANSCAPE_PROXMOX_FINGERPRINT/,
      );
    });

    it('a CA file verifies a CA-signed certificate, and refuses another server', async () => {
      const caDir = join(dir, 'ca');
      (await import('node:fs')).mkdirSync(caDir);
      const signed = caSignedCert(caDir);
      const caFake = await new FakePve({
        cert: signed.cert,
        key: signed.key,
        tokenId: TOKEN_ID,
        tokenSecret: SECRET,
      }).start();
      try {
        const r = await startWith(dir, 'ca', { LANSCAPE_PROXMOX_URL: caFake.url, LANSCAPE_PROXMOX_CA_FILE: signed.ca });
        try {
          const inv = await r.ex.proxmox!.refresh();
          assert.deepEqual(
            inv.nodes.map((n) => n.node),
            ['pve1', 'pve2'],
          );
        } finally {
          await r.stop();
        }
        // The self-signed fake is not signed by that CA.
        await refused({ LANSCAPE_PROXMOX_CA_FILE: signed.ca }, fake, /not trusted .*not signed by the CA in/);
        assert.deepEqual(caFake.violations, []);
      } finally {
        await caFake.close();
      }
    });
  });
});

it('Proxmox routes answer 503 in words when Proxmox is not configured', async () => {
  const ex = await startTestExporter();
  try {
    const r = await ex.api.get('/api/v1/proxmox/nodes');
    assert.equal(r.status, 503);
    assert.match(r.body.error.message, /set LANSCAPE_PROXMOX_URL/);
    assert.equal((await ex.api.get('/api/v1/info')).body.collectors.proxmox, undefined);
    assert.doesNotMatch(await scrape(ex.url), /lanscape_proxmox_/);
  } finally {
    await ex.stop();
  }
});
