import { KEY } from '../test/fixtures-infra';
import {
  addressOutcome,
  curlCommand,
  emptyVmForm,
  firstStepWithError,
  formatBytes,
  newIdempotencyKey,
  shellQuote,
  toVmInput,
  validateVmForm,
  type VmForm,
} from './vm';

const SUBNET = { cidr: '10.20.0.0/24' };
const valid = (overrides: Partial<VmForm> = {}): VmForm =>
  emptyVmForm({
    name: 'web-1',
    node: 'pve1',
    template: '9000',
    bridge: 'vmbr0',
    subnetId: '3',
    gateway: '10.20.0.1',
    ...overrides,
  });

describe('VM form checks (the exporter schema, mirrored)', () => {
  it('accepts a complete clone form and builds the request body', () => {
    const form = valid({ vlan: '20', dns: '10.20.0.53, 10.20.0.54', user: 'ops', sshKeys: `\n${KEY}\n\n` });
    expect(validateVmForm(form, SUBNET)).toEqual({});
    expect(toVmInput(form)).toEqual({
      node: 'pve1',
      name: 'web-1',
      clone: { template_vmid: 9000, full: true },
      network: {
        bridge: 'vmbr0',
        vlan: 20,
        address: { subnet_id: 3, next_free: true },
        gateway: '10.20.0.1',
        dns: ['10.20.0.53', '10.20.0.54'],
      },
      user: 'ops',
      ssh_keys: [KEY],
      start: true,
    });
  });

  it('builds exactly one of clone and resources; storage only for a full clone', () => {
    const linked = toVmInput(valid({ full: false, cloneStorage: 'local-lvm' }));
    expect(linked.clone).toEqual({ template_vmid: 9000, full: false });
    expect(linked.resources).toBeUndefined();
    expect(toVmInput(valid({ cloneStorage: 'local-lvm' })).clone).toEqual({
      template_vmid: 9000,
      full: true,
      storage: 'local-lvm',
    });
    const empty = toVmInput(
      valid({ source: 'resources', cores: '4', memoryMib: '4096', diskGib: '40', storage: 'local-lvm' })
    );
    expect(empty.clone).toBeUndefined();
    expect(empty.resources).toEqual({ cores: 4, memory_mib: 4096, disk_gib: 40, storage: 'local-lvm' });
    const specific = toVmInput(valid({ addressMode: 'specific', address: ' 10.20.0.40 ', gateway: '' }));
    expect(specific.network).toEqual({ bridge: 'vmbr0', address: { address: '10.20.0.40', subnet_id: 3 } });
  });

  it.each([
    ['name', { name: 'Web_1' }, /DNS label/],
    ['name', { name: '-web' }, /DNS label/],
    ['name', { name: 'a'.repeat(64) }, /DNS label/],
    ['name', { name: '' }, /Name the VM/],
    ['node', { node: '' }, /Choose the node/],
    ['template', { template: '' }, /Choose a template/],
    ['template', { template: '99' }, /from 100/],
    ['cloneStorage', { cloneStorage: 'Local LVM' }, /storage id/],
    ['cores', { source: 'resources', cores: '0', storage: 'local-lvm' }, /1 to 128/],
    ['cores', { source: 'resources', cores: '2.5', storage: 'local-lvm' }, /1 to 128/],
    ['memoryMib', { source: 'resources', memoryMib: '128', storage: 'local-lvm' }, /256/],
    ['diskGib', { source: 'resources', diskGib: '70000', storage: 'local-lvm' }, /65,536/],
    ['storage', { source: 'resources', storage: '' }, /Choose the storage/],
    ['bridge', { bridge: '0bad' }, /vmbr0/],
    ['vlan', { vlan: '4095' }, /1 to 4094/],
    ['subnetId', { subnetId: '' }, /Choose the subnet/],
    ['address', { addressMode: 'specific', address: '10.30.0.5' }, /outside 10\.20\.0\.0\/24/],
    ['address', { addressMode: 'specific', address: '10.20.0.300' }, /not an IPv4/],
    ['gateway', { gateway: '10.99.0.1' }, /inside 10\.20\.0\.0\/24/],
    ['gateway', { addressMode: 'specific', address: '10.20.0.1' }, /own address/],
    ['dns', { dns: '10.0.0.53 dns.example' }, /dns.example is not/],
    ['dns', { dns: '1.1.1.1 8.8.8.8 9.9.9.9 1.0.0.1' }, /At most 3/],
    ['user', { user: 'Root' }, /user name/],
    ['sshKeys', { sshKeys: `${KEY}\nssh-ed25519 not-base64!` }, /Line 2/],
    ['sshKeys', { sshKeys: `${KEY} and\u0007bell` }, /Line 1/],
  ] as Array<[keyof VmForm, Partial<VmForm>, RegExp]>)('refuses a bad %s (%o)', (field, patch, message) => {
    const errors = validateVmForm(valid(patch), SUBNET);
    expect(errors[field]).toMatch(message);
  });

  it('names the first step with an error', () => {
    expect(firstStepWithError({})).toBe(-1);
    expect(firstStepWithError({ dns: 'x' })).toBe(2);
    expect(firstStepWithError({ sshKeys: 'x', template: 'y' })).toBe(1);
    expect(firstStepWithError({ name: 'x' })).toBe(0);
  });
});

describe('the curl command', () => {
  it('posts the JSON body with the Idempotency-Key and no token', () => {
    const input = toVmInput(valid());
    const curl = curlCommand(input, 'key-1', 'http://lanscape:9645/');
    expect(curl).toContain(`curl -X POST 'http://lanscape:9645/api/v1/vms'`);
    expect(curl).toContain('-H "Authorization: Bearer $LANSCAPE_ADMIN_TOKEN"');
    expect(curl).toContain(`-H 'Idempotency-Key: key-1'`);
    const data = curl.slice(curl.indexOf("--data '") + 8, -1);
    expect(JSON.parse(data)).toEqual(input);
    expect(curlCommand(input, 'k')).toContain('curl -X POST "$LANSCAPE_URL/api/v1/vms"');
  });

  it('quotes single quotes for the shell', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('idempotency keys', () => {
  it('are random UUIDs, also without crypto.randomUUID (Grafana on plain HTTP)', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const a = newIdempotencyKey();
    expect(a).toMatch(uuid);
    expect(newIdempotencyKey()).not.toBe(a);
    const original = globalThis.crypto;
    Object.defineProperty(globalThis, 'crypto', {
      configurable: true,
      value: { getRandomValues: (b: Uint8Array) => b.fill(0xab) },
    });
    try {
      expect(newIdempotencyKey()).toBe('abababab-abab-4bab-abab-abababababab');
    } finally {
      Object.defineProperty(globalThis, 'crypto', { configurable: true, value: original });
    }
  });
});

describe('job helpers', () => {
  it('tells what became of the address after a failure', () => {
    const steps = (message: string) => [
      { name: 'cleanup' as const, state: 'done' as const, started_at: null, finished_at: null, message },
    ];
    expect(addressOutcome({ steps: steps('address 10.20.0.2 was released'), address: '10.20.0.2' })).toBe('released');
    expect(
      addressOutcome({ steps: steps('VM 100 was deleted; address 10.20.0.2 was released'), address: '10.20.0.2' })
    ).toBe('released');
    expect(
      addressOutcome({
        steps: [],
        address: '10.20.0.2',
        error: 'the exporter stopped; address 10.20.0.2 stays reserved (provisioning): check Proxmox',
      })
    ).toBe('kept');
    expect(addressOutcome({ steps: steps('no address was reserved'), address: null })).toBe('none');
    expect(addressOutcome({ steps: [], address: '10.20.0.2', error: 'boom' })).toBe('unknown');
  });

  it('formats bytes in binary units', () => {
    expect(formatBytes(32 * 2 ** 30)).toBe('32 GiB');
    expect(formatBytes(1.5 * 2 ** 20)).toBe('1.5 MiB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(null)).toBe('–');
  });
});
