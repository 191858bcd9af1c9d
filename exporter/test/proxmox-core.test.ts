// Pure parts of the Proxmox domain: cloud-init encoding, request building, the job state
// machine, inventory parsing, reconciliation rules; and the fake PVE's schema checker itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIp } from '../src/ipam/core/ip.js';
import {
  decodeSshKeys,
  encodeSshKeys,
  ipConfig,
  netDevice,
  nameservers,
  pveUrlEncode,
} from '../src/proxmox/core/cloudinit.js';
import { SSH_KEY_RE, parseUpid } from '../src/proxmox/core/formats.js';
import { agentAddresses, lxcAddresses, parseGuests, parseNodes } from '../src/proxmox/core/inventory.js';
import {
  canonicalJson,
  fail,
  failStep,
  finishStep,
  newJob,
  requestHash,
  setUpid,
  startCleanup,
  startStep,
  succeed,
} from '../src/proxmox/core/jobs.js';
import { type VmPlan, cloneParams, configParams, createParams } from '../src/proxmox/core/plan.js';
import { type Link, type RowInfo, reconcile } from '../src/proxmox/core/reconcile.js';
import type { Guest } from '../src/proxmox/core/inventory.js';
import { checkParameters, checkValue, loadPveSchema } from './helpers/pve-schema.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG7p4mxWyuQW+Zv0fjVwL9XbQn3oH1pA/2sVbq0o0Jj1 alice@laptop';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7+/== bob';

describe('cloud-init encoding', () => {
  it('percent-encodes ssh keys the way PVE requires (space %20, + = @ / encoded)', () => {
    const v = encodeSshKeys([KEY, RSA]);
    assert.match(v, /^[-%a-zA-Z0-9_.!~*'()]*$/);
    assert.ok(v.includes('ssh-ed25519%20AAAA'));
    assert.ok(!v.includes('+') && !v.includes(' ') && !v.includes('=') && !v.includes('@') && !v.includes('/'));
    assert.ok(v.includes('%2B') && v.includes('%3D') && v.includes('%40') && v.includes('%2F') && v.includes('%0A'));
    assert.deepEqual(decodeSshKeys(v), [KEY, RSA]);
    assert.equal(pveUrlEncode("a b+c=d@e!*'()~"), "a%20b%2Bc%3Dd%40e!*'()~");
  });
  it('refuses keys that would smuggle a second line or are not keys', () => {
    assert.throws(() => encodeSshKeys([`${KEY}\nssh-rsa AAAAB3NzaC1yc2EAAAADAQAB evil`]));
    assert.throws(() => encodeSshKeys([`${KEY}\r`]));
    assert.throws(() => encodeSshKeys(['not a key']));
    assert.equal(SSH_KEY_RE.test(`${KEY} extra words are fine`), true);
    assert.equal(SSH_KEY_RE.test(`${KEY}\u0000`), false);
  });
  it('builds ipconfig, nameserver and net0', () => {
    assert.equal(ipConfig(parseIp('10.0.0.42'), 24, parseIp('10.0.0.1')), 'ip=10.0.0.42/24,gw=10.0.0.1');
    assert.equal(ipConfig(parseIp('10.0.0.42'), 24, null), 'ip=10.0.0.42/24');
    assert.equal(ipConfig(parseIp('2001:db8::42'), 64, parseIp('2001:db8::1')), 'ip6=2001:db8::42/64,gw6=2001:db8::1');
    assert.throws(() => ipConfig(parseIp('10.0.0.42'), 24, parseIp('2001:db8::1')));
    assert.equal(nameservers([parseIp('10.0.0.53'), parseIp('2001:db8::53')]), '10.0.0.53 2001:db8::53');
    assert.equal(netDevice('vmbr0', 20), 'virtio,bridge=vmbr0,tag=20');
    assert.equal(netDevice('vmbr0'), 'virtio,bridge=vmbr0');
    assert.throws(() => netDevice('vmbr0,firewall=1'));
    assert.throws(() => netDevice('vmbr0', 4095));
  });
});

const plan = (over: Partial<VmPlan['request']> = {}): VmPlan => ({
  jobId: 7,
  vmid: 123,
  address: parseIp('10.0.0.42'),
  prefixLength: 24,
  gateway: parseIp('10.0.0.1'),
  dns: [parseIp('10.0.0.53')],
  request: {
    node: 'pve1',
    name: 'web-1',
    start: true,
    user: 'ops',
    ssh_keys: [KEY],
    network: { bridge: 'vmbr0', vlan: 20, address: { subnet_id: 1, next_free: true } },
    resources: { cores: 2, memory_mib: 2048, disk_gib: 20, storage: 'local-lvm' },
    ...over,
  },
});

describe('PVE parameters of a VM job', () => {
  const schema = loadPveSchema();
  const params = (template: string, method: string, p: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v)]));
  it('create, clone and config parameters pass the real PVE schema', () => {
    const create = { node: 'pve1', ...createParams(plan(), '10.0.0.42') };
    assert.deepEqual(
      checkParameters(schema.endpoints['/nodes/{node}/qemu']!.POST!.parameters, params('', '', create)),
      [],
    );
    assert.equal(create.scsi0, 'local-lvm:20');
    assert.equal(create.ide2, 'local-lvm:cloudinit');
    const clone = {
      node: 'pve1',
      vmid: 9000,
      ...cloneParams(
        plan({ resources: undefined, clone: { template_vmid: 9000, full: true, storage: 'local-lvm' } }),
        '10.0.0.42',
      ),
    };
    assert.deepEqual(
      checkParameters(schema.endpoints['/nodes/{node}/qemu/{vmid}/clone']!.POST!.parameters, params('', '', clone)),
      [],
    );
    assert.equal(clone.newid, 123);
    const config = { node: 'pve1', vmid: 123, ...configParams(plan()) };
    assert.deepEqual(
      checkParameters(schema.endpoints['/nodes/{node}/qemu/{vmid}/config']!.POST!.parameters, params('', '', config)),
      [],
    );
    assert.equal(config.ipconfig0, 'ip=10.0.0.42/24,gw=10.0.0.1');
    assert.equal(config.net0, 'virtio,bridge=vmbr0,tag=20');
    assert.equal(config.ciuser, 'ops');
    assert.equal(decodeSshKeys(config.sshkeys!)[0], KEY);
  });
  it('the schema checker catches what PVE would refuse', () => {
    const cfg = schema.endpoints['/nodes/{node}/qemu/{vmid}/config']!.POST!.parameters;
    const ok = { node: 'pve1', vmid: '123' };
    const bad = (p: Record<string, string>) => checkParameters(cfg, { ...ok, ...p });
    assert.match(bad({ sshkeys: KEY }).join(), /sshkeys: .*urlencoded/, 'raw key with spaces');
    assert.match(bad({ sshkeys: KEY.replace(/ /g, '+') }).join(), /urlencoded/, '+ for spaces is not PVE encoding');
    assert.match(bad({ ipconfig0: 'ip=10.0.0.42,gw=10.0.0.1' }).join(), /ipconfig0/, 'address without prefix');
    assert.match(bad({ ipconfig0: 'gw=10.0.0.1' }).join(), /gateway/);
    assert.match(bad({ ipconfig0: 'ip=10.0.0.42/24,gw=2001:db8::1' }).join(), /gw=/);
    assert.match(bad({ net0: 'virtio,bridge=vmbr0,tag=5000' }).join(), /tag: 5000 is greater than 4094/);
    assert.match(bad({ net0: 'bridge=vmbr0' }).join(), /missing required key model/);
    assert.match(bad({ net0: 'virtio,bridge=vmbr0,colour=red' }).join(), /unknown key "colour"/);
    assert.match(bad({ name: 'bad_name' }).join(), /dns-name/);
    assert.match(bad({ frobnicate: '1' }).join(), /frobnicate: property is not defined/);
    assert.match(bad({ cores: 'two' }).join(), /not an integer/);
    assert.match(bad({ scsihw: 'virtio' }).join(), /not one of/);
    assert.match(bad({ delete: 'net0,1bad' }).join(), /delete: list item/);
    assert.match(checkParameters(cfg, { node: 'pve1' }).join(), /vmid: property is missing/);
    assert.match(checkParameters(cfg, { ...ok, vmid: '99' }).join(), /less than 100/);
    assert.equal(checkValue({ type: 'string', pattern: '(?^:\\d+(?:-\\d+)?)' }, '10-20'), undefined);
    assert.deepEqual(bad({ delete: 'net1,ide2', ipconfig0: 'ip=dhcp', memory: '1024' }), []);
  });
});

describe('job state machine', () => {
  it('walks the steps with progress and a done state', () => {
    let j = newJob({ start: true });
    assert.deepEqual(
      j.steps.map((s) => s.name),
      ['reserve_address', 'allocate_vmid', 'create', 'configure', 'start', 'assign_address'],
    );
    assert.equal(j.state, 'queued');
    j = startStep(j, 'reserve_address', 't0');
    assert.equal(j.state, 'running');
    assert.equal(j.progress, 0.083);
    j = finishStep(j, 'reserve_address', 't1', 'ok');
    for (const n of ['allocate_vmid', 'create', 'configure', 'start', 'assign_address'] as const) {
      j = startStep(j, n, 't');
      if (n === 'create') j = setUpid(j, n, 'UPID:x');
      j = finishStep(j, n, 't');
    }
    j = succeed(j);
    assert.equal(j.state, 'done');
    assert.equal(j.progress, 1);
    assert.equal(j.steps.find((s) => s.name === 'create')!.upid, 'UPID:x');
    assert.throws(() => startStep(j, 'start', 't'));
  });
  it('a failed step skips the rest; cleanup is recorded; failed job keeps its error', () => {
    let j = newJob({ clone: { template_vmid: 9000, full: false }, start: false });
    assert.ok(j.steps.some((s) => s.name === 'clone') && !j.steps.some((s) => s.name === 'start'));
    j = finishStep(startStep(j, 'reserve_address', 't'), 'reserve_address', 't');
    j = startStep(j, 'allocate_vmid', 't');
    j = failStep(j, 'allocate_vmid', 't', 'boom');
    assert.deepEqual(
      j.steps.map((s) => s.state),
      ['done', 'failed', 'skipped', 'skipped', 'skipped'],
    );
    j = startCleanup(j, 't');
    j = finishStep(j, 'cleanup', 't', 'address released');
    j = fail(j, 'getting the next VM id failed: boom', 't');
    assert.equal(j.state, 'failed');
    assert.equal(j.error, 'getting the next VM id failed: boom');
    assert.throws(() => succeed(j));
  });
  it('hashes requests independently of key order', () => {
    assert.equal(requestHash({ a: 1, b: { c: [1, 2], d: 'x' } }), requestHash({ b: { d: 'x', c: [1, 2] }, a: 1 }));
    assert.notEqual(requestHash({ a: 1 }), requestHash({ a: 2 }));
    assert.equal(canonicalJson({ b: undefined, a: null }), '{"a":null}');
  });
  it('parses task ids', () => {
    assert.deepEqual(parseUpid('UPID:pve1:00001234:00ABCDEF:65A1B2C3:qmclone:9000:root@pam!lanscape:'), {
      node: 'pve1',
      type: 'qmclone',
      id: '9000',
      user: 'root@pam!lanscape',
    });
    assert.equal(parseUpid('UPID:pve1:xyz'), undefined);
    assert.equal(parseUpid(null), undefined);
  });
});

describe('inventory parsing', () => {
  it('reads nodes and guests defensively', () => {
    assert.deepEqual(
      parseNodes([
        { node: 'pve1', status: 'online', cpu: 0.5, maxcpu: 8, mem: 1, maxmem: 2, uptime: 3 },
        { node: 'bad node' },
        null,
      ]).map((n) => n.node),
      ['pve1'],
    );
    const g = parseGuests(
      [
        { vmid: 101, name: 'web', status: 'running', tags: 'prod;web', template: 0 },
        { vmid: 5 },
        { vmid: '102', status: 'stopped', template: 1 },
      ],
      'pve1',
      'qemu',
    );
    assert.deepEqual(
      g.map((x) => [x.vmid, x.running, x.template, x.tags]),
      [
        [101, true, false, ['prod', 'web']],
        [102, false, true, []],
      ],
    );
  });
  it('takes global addresses from the guest agent and container interfaces', () => {
    const agent = agentAddresses({
      result: [
        { name: 'lo', 'ip-addresses': [{ 'ip-address': '127.0.0.1', prefix: 8 }] },
        {
          name: 'eth0',
          'hardware-address': 'BC:24:11:AA:BB:CC',
          'ip-addresses': [
            { 'ip-address': '10.0.0.5', prefix: 24 },
            { 'ip-address': 'fe80::1', prefix: 64 },
            { 'ip-address': '2001:db8::5', prefix: 64 },
          ],
        },
        { name: 'docker0', 'ip-addresses': [{ 'ip-address': '169.254.1.1', prefix: 16 }] },
      ],
    });
    assert.deepEqual(
      agent.map((a) => [a.address, a.prefix, a.mac]),
      [
        ['10.0.0.5', 24, 'bc:24:11:aa:bb:cc'],
        ['2001:db8::5', 64, 'bc:24:11:aa:bb:cc'],
      ],
    );
    const lxc = lxcAddresses([
      { name: 'lo', inet: '127.0.0.1/8' },
      { name: 'eth0', hwaddr: 'bc:24:11:00:00:01', inet: '10.0.0.6/24', inet6: '2001:db8::6/64' },
    ]);
    assert.deepEqual(
      lxc.map((a) => a.address),
      ['10.0.0.6', '2001:db8::6'],
    );
    assert.deepEqual(agentAddresses('QEMU guest agent is not running'), []);
  });
});

describe('reconciliation', () => {
  const guest = (vmid: number, addresses: string[] | null, over: Partial<Guest> = {}): Guest => ({
    vmid,
    type: 'qemu',
    node: 'pve1',
    name: `vm${vmid}`,
    status: 'running',
    running: true,
    template: false,
    tags: [],
    cpu: null,
    cpus: null,
    mem: null,
    maxmem: null,
    maxdisk: null,
    uptime: null,
    addresses: addresses && addresses.map((a) => ({ address: a, prefix: 24, interface: 'eth0', mac: null })),
    ...over,
  });
  const snap = (guests: Guest[], nodesRead = ['pve1', 'pve2']) => ({
    startedAt: 1000,
    guests,
    nodesRead: new Set(nodesRead),
    clusterNodes: new Set(['pve1', 'pve2']),
  });
  const link = (id: number, address: string, vmid: number | null, over: Partial<Link> = {}): Link => ({
    address_id: id,
    address,
    vmid,
    node: 'pve1',
    guest_type: 'qemu',
    pinned: false,
    created_at: 10,
    ...over,
  });
  const row = (id: number, address: string, source = 'proxmox', over: Partial<RowInfo> = {}): [string, RowInfo] => [
    address,
    { id, address, source, hostname: null, description: '', ...over },
  ];
  const managed = new Set(['10.0.0.5', '10.0.0.6', '10.0.0.7', '10.0.0.8']);
  const host = (n: string) => n;

  it("creates rows for managed addresses only, never over someone else's row", () => {
    const p = reconcile(
      snap([guest(101, ['10.0.0.5', '192.168.1.5']), guest(102, ['10.0.0.6'])]),
      [],
      new Map([row(1, '10.0.0.6', 'manual')]),
      managed,
      host,
    );
    assert.deepEqual(
      p.create.map((c) => [c.address, c.vmid, c.hostname, c.description]),
      [['10.0.0.5', 101, 'vm101', 'Proxmox VM 101 on node pve1']],
    );
    assert.deepEqual(p.update, []);
    assert.deepEqual(p.release, []);
  });
  it('releases rows of guests that are gone, or addresses a guest no longer reports', () => {
    const links = [link(1, '10.0.0.5', 101), link(2, '10.0.0.6', 102), link(3, '10.0.0.7', 103)];
    const rows = new Map([row(1, '10.0.0.5'), row(2, '10.0.0.6'), row(3, '10.0.0.7')]);
    const p = reconcile(snap([guest(102, ['10.0.0.8']), guest(103, null)]), links, rows, managed, host);
    assert.deepEqual(
      p.release.map((r) => [r.address, r.reason]),
      [
        ['10.0.0.5', 'guest 101 no longer exists'],
        ['10.0.0.6', 'guest 102 no longer reports 10.0.0.6'],
      ],
    );
    assert.deepEqual(
      p.create.map((c) => c.address),
      ['10.0.0.8'],
    );
  });
  it('keeps what it cannot know: unread nodes, unknown addresses, pinned job rows, rows newer than the snapshot', () => {
    const links = [
      link(1, '10.0.0.5', 101, { node: 'pve2' }),
      link(2, '10.0.0.6', 102, { pinned: true }),
      link(3, '10.0.0.7', 103, { created_at: 2000 }),
      link(4, '10.0.0.8', null, { pinned: true }),
    ];
    const rows = new Map([row(1, '10.0.0.5'), row(2, '10.0.0.6'), row(3, '10.0.0.7'), row(4, '10.0.0.8')]);
    const p = reconcile(snap([guest(102, [])], ['pve1']), links, rows, managed, host);
    assert.deepEqual(p.release, []);
    assert.deepEqual(p.create, []);
  });
  it('drops the link of a row someone took over, and updates names', () => {
    const p = reconcile(
      snap([guest(101, ['10.0.0.5'], { name: 'renamed' })]),
      [link(1, '10.0.0.5', 101), link(2, '10.0.0.6', 102)],
      new Map([row(1, '10.0.0.5', 'proxmox', { hostname: 'old' }), row(2, '10.0.0.6', 'manual')]),
      managed,
      host,
    );
    assert.deepEqual(p.unlink, [2]);
    assert.deepEqual(
      p.update.map((u) => [u.address_id, u.hostname]),
      [[1, 'renamed']],
    );
    assert.deepEqual(p.release, []);
  });
});

describe('Proxmox settings', async () => {
  const { loadConfig } = await import('../src/config/load.js');
  const SECRET = '7f0c2a9e-5b1d-4c3e-9a8f-1d2e3f4a5b6c';
  const base = {
    LANSCAPE_PROXMOX_URL: 'https://pve.lan:8006',
    LANSCAPE_PROXMOX_TOKEN_ID: 'lanscape@pve!inv',
    LANSCAPE_PROXMOX_TOKEN_SECRET: SECRET,
  };
  const problem = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  };
  it('reads url, token and TLS choice, with defaults', () => {
    const c = loadConfig({ ...base, LANSCAPE_PROXMOX_FINGERPRINT: 'AB:'.repeat(31) + 'CD' }).proxmox;
    assert.equal(c.url, 'https://pve.lan:8006');
    assert.equal(c.interval_seconds, 60);
    assert.equal(c.task_poll_ms, 1000);
    assert.equal(loadConfig({}).proxmox.url, undefined, 'off by default');
  });
  it('refuses incomplete or unsafe settings in words, without showing the secret', () => {
    assert.match(
      problem({ ...base, LANSCAPE_PROXMOX_URL: 'http://pve.lan:8006' }),
      /proxmox\.url .*expected https:\/\/host\[:port\]/,
    );
    assert.match(
      problem({ LANSCAPE_PROXMOX_URL: 'https://pve.lan:8006' }),
      /needs url, token_id and token_secret together/,
    );
    assert.match(problem({ ...base, LANSCAPE_PROXMOX_TOKEN_ID: 'root@pam' }), /proxmox\.token_id .*user@realm!tokenid/);
    assert.match(
      problem({ ...base, LANSCAPE_PROXMOX_FINGERPRINT: 'AB:CD' }),
      /proxmox\.fingerprint .*32 hex byte pairs/,
    );
    assert.match(
      problem({
        ...base,
        LANSCAPE_PROXMOX_FINGERPRINT: 'AB:'.repeat(31) + 'CD',
        LANSCAPE_PROXMOX_CA_FILE: '/etc/ca.pem',
      }),
      /set fingerprint or ca_file, not both/,
    );
    const shown = problem({ ...base, LANSCAPE_PROXMOX_TOKEN_SECRET: `${SECRET} x` });
    assert.match(shown, /proxmox\.token_secret \(from LANSCAPE_PROXMOX_TOKEN_SECRET\) = "\*\*\*"/);
    assert.ok(!shown.includes(SECRET));
  });
});
