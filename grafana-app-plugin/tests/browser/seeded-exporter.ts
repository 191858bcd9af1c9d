// A real exporter (in this process, loopback, scans off) seeded with what the Lanscape data source
// and the subnet map read: a /24 with reserved, assigned, DHCP, deprecated and discovered
// addresses, some up and some down (through the exporter's own sweep bookkeeping, applySweep, so
// statuses and events are the ones a sweep would write), a DHCP range, a MAC mismatch; a /8 around
// it; a deleted subnet; the same /24 once more in a second VRF, site-b (#15); optionally a /16 with 20,000 scattered addresses and Proxmox guests from
// the exporter's fake PVE. Used by the data source's Jest test (through serve-seeded-exporter.ts)
// and by the subnet map's browser test.
import assert from 'node:assert/strict';
import { startTestExporter, tempDir, TOKENS, type TestExporter } from '../../../exporter/test/helpers/exporter';
import { FakePve, selfSignedCert } from '../../../exporter/test/helpers/fake-pve';
import { prng } from '../../../exporter/test/helpers/prng';
import { which } from '../../../exporter/test/helpers/tools';
import { ipKey, parseIp } from '../../../exporter/src/ipam/core/ip';

/** When the seeded sweeps happened: events and observations carry these times. */
export const T0 = Date.parse('2026-11-22T08:00:00.000Z');
export const SWEEP_2 = T0 + 5 * 60_000;

export const OFFICE = '10.20.30.0/24';
export const CORP = '10.0.0.0/8';
export const BIG = '10.40.0.0/16';
export const DELETED = '10.99.0.0/24';
export const BIG_USED = 20_000;
/** A second VRF holding OFFICE's CIDR too, with two addresses of its own. */
export const SITE_B = 'site-b';

export interface Seeded {
  url: string;
  tokens: typeof TOKENS;
  ids: { office: number; officeB: number; corp: number; deleted: number; big: number | null; range: number };
  proxmox: boolean;
  exporter: TestExporter;
  stop(): Promise<void>;
}

const PVE_TOKEN_ID = 'lanscape@pve!ipam';
const PVE_TOKEN_SECRET = '0d4c1bf6-52f0-4d1e-9b8e-2f1d0c7a9e31';

export async function startSeededExporter(options: { big?: boolean; proxmox?: boolean } = {}): Promise<Seeded> {
  const { dir, cleanup } = tempDir('lanscape-seeded-');
  let pve: FakePve | undefined;
  const env: Record<string, string> = { LANSCAPE_SCAN_DOWN_AFTER: '1', LANSCAPE_SCAN_ENABLED: 'false' };
  if (options.proxmox && which('openssl')) {
    const certs = selfSignedCert(dir);
    pve = await new FakePve({
      cert: certs.cert,
      key: certs.key,
      tokenId: PVE_TOKEN_ID,
      tokenSecret: PVE_TOKEN_SECRET,
    }).start();
    pve.addGuest({
      vmid: 101,
      type: 'qemu',
      node: 'pve1',
      name: 'web',
      status: 'running',
      agent: true,
      ips: ['10.20.40.21/24'],
      tags: 'prod',
    });
    pve.addGuest({ vmid: 201, type: 'lxc', node: 'pve2', name: 'dns', status: 'running', ips: ['10.20.40.22/24'] });
    pve.addGuest({ vmid: 103, type: 'qemu', node: 'pve2', name: 'old', status: 'stopped' });
    Object.assign(env, {
      LANSCAPE_PROXMOX_URL: pve.url,
      LANSCAPE_PROXMOX_TOKEN_ID: PVE_TOKEN_ID,
      LANSCAPE_PROXMOX_TOKEN_SECRET: PVE_TOKEN_SECRET,
      LANSCAPE_PROXMOX_FINGERPRINT: certs.fingerprint,
    });
  } else if (options.proxmox && process.env.CI) {
    throw new Error('openssl is not installed (apt-get install openssl); CI must run every test');
  }
  assert.equal(env.LANSCAPE_SCAN_ENABLED, 'false');
  const ex = await startTestExporter(env);
  const stop = async () => {
    await ex.stop();
    await pve?.close();
    cleanup();
  };
  try {
    const api = ex.api;
    const ok = async <T = { id: number }>(
      p: Promise<{ status: number; body: T; text: string }>,
      status = 201
    ): Promise<T> => {
      const r = await p;
      assert.equal(r.status, status, r.text);
      return r.body;
    };
    if (pve) {
      // The inventory runs at start; wait (bounded) until it has the guests, whose addresses it
      // records in IPAM, so the sweeps below see them.
      for (let i = 0; i < 150; i++) {
        const r = await api.get('/api/v1/proxmox/guests', TOKENS.read);
        if (r.status === 200 && r.body.results.length >= 3) {
          break;
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    const corp = await ok(api.post('/api/v1/subnets', { cidr: CORP, name: 'corporate', scan_enabled: false }));
    const office = await ok(
      api.post('/api/v1/subnets', {
        cidr: OFFICE,
        name: 'office',
        gateway: '10.20.30.1',
        vlan: 30,
        tags: ['lan'],
        scan_enabled: false,
      })
    );
    const range = await ok(
      api.post('/api/v1/ranges', {
        subnet_id: office.id,
        start_address: '10.20.30.100',
        end_address: '10.20.30.199',
        label: 'DHCP pool',
        purpose: 'dhcp',
      })
    );
    const add = (body: Record<string, unknown>) => ok(api.post('/api/v1/addresses', body));
    await add({
      address: '10.20.30.1',
      state: 'reserved',
      hostname: 'gw',
      owner: 'netops',
      tags: ['critical'],
      description: 'core router',
    });
    await add({ address: '10.20.30.2', state: 'reserved', hostname: 'switch', owner: 'netops' });
    await add({
      address: '10.20.30.10',
      state: 'assigned',
      hostname: 'web-1',
      owner: 'web team',
      mac: '02:00:00:00:00:01',
      tags: ['prod'],
    });
    await add({ address: '10.20.30.11', state: 'assigned', hostname: 'db-1', owner: 'data team', tags: ['prod'] });
    await add({ address: '10.20.30.12', state: 'reserved', hostname: 'printer', owner: 'office' });
    await add({ address: '10.20.30.53', state: 'assigned', hostname: 'dns', owner: 'netops' });
    await add({ address: '10.20.30.60', state: 'deprecated', hostname: 'old-nas', owner: 'office' });
    for (let i = 0; i < 12; i++) {
      await add({ address: `10.20.30.${100 + i}`, state: 'dhcp', hostname: `laptop-${i}` });
    }
    // Two sweeps of the /24 through the exporter's own bookkeeping: the first sees the hosts up
    // (and three new devices, which it records as discovered), the second misses .11 and .12.
    // .60 (deprecated) never answers.
    const row = await ex.discovery.ipam.subnetRow(office.id);
    const targets = Array.from({ length: 254 }, (_, i) => `10.20.30.${i + 1}`);
    const upFirst = [
      '10.20.30.1',
      '10.20.30.2',
      '10.20.30.10',
      '10.20.30.11',
      '10.20.30.12',
      '10.20.30.53',
      ...Array.from({ length: 12 }, (_, i) => `10.20.30.${100 + i}`),
      '10.20.30.150',
      '10.20.30.151',
      '10.20.30.152',
    ];
    const rtt = (list: string[]) => new Map(list.map((a, i) => [a, 0.0005 + i * 0.0001]));
    await ex.discovery.applySweep(row, targets, rtt(upFirst), T0);
    await ex.discovery.applySweep(
      row,
      targets,
      rtt(upFirst.filter((a) => a !== '10.20.30.11' && a !== '10.20.30.12')),
      SWEEP_2
    );
    // MACs and vendors as the neighbour table would have given them (none exists for 10.20.30.0/24 here).
    for (const [address, mac, vendor] of [
      ['10.20.30.10', '02:00:00:00:00:99', 'Example Networks'],
      ['10.20.30.150', 'b8:27:eb:00:00:01', 'Raspberry Pi Foundation'],
    ] as const) {
      const host = await ex.discovery.store.host(row.vrf_id, ipKey(parseIp(address)));
      assert.ok(host, `no observation for ${address}`);
      await ex.discovery.store.upsertHost({ ...host, mac, vendor });
    }
    // The same CIDR in another VRF (#15): what a CIDR alone cannot tell apart.
    const siteB = await ok(api.post('/api/v1/vrfs', { name: SITE_B, description: 'Branch office' }));
    const officeB = await ok(
      api.post('/api/v1/subnets', { cidr: OFFICE, name: 'office-b', vrf_id: siteB.id, scan_enabled: false })
    );
    await add({ address: '10.20.30.1', vrf_id: siteB.id, state: 'reserved', hostname: 'gw-b', owner: 'branch' });
    await add({ address: '10.20.30.5', vrf_id: siteB.id, state: 'assigned', hostname: 'printer-b', owner: 'branch' });
    const deleted = await ok(api.post('/api/v1/subnets', { cidr: DELETED, name: 'gone', scan_enabled: false }));
    await ok(api.delete(`/api/v1/subnets/${deleted.id}`), 204);

    let big: number | null = null;
    if (options.big) {
      big = (await ok(api.post('/api/v1/subnets', { cidr: BIG, name: 'datacenter', scan_enabled: false }))).id;
      const imported = await api.call('POST', '/api/v1/import/addresses', {
        rawBody: scatteredCsv(BIG, BIG_USED),
        contentType: 'text/csv',
      });
      assert.equal(imported.status, 202, imported.text);
      let job = imported.body as { state: string; rows: number };
      for (let i = 0; i < 1200 && job.state !== 'done' && job.state !== 'failed'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        job = (await api.get(String(imported.headers.get('location')))).body;
      }
      assert.equal(job.state, 'done', JSON.stringify(job));
    }
    return {
      url: ex.url,
      tokens: TOKENS,
      ids: { office: office.id, officeB: officeB.id, corp: corp.id, deleted: deleted.id, big, range: range.id },
      proxmox: pve !== undefined,
      exporter: ex,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * `count` addresses spread over a /16, as CSV for POST /import/addresses: in most /24s some, a
 * few /24s full, the states mixed, so the block map shows every shade.
 */
export function scatteredCsv(prefix: string, count: number): string {
  const [a, b] = prefix.split('.');
  const lines = ['address,state,hostname,owner'];
  const states = ['assigned', 'reserved', 'assigned', 'dhcp'];
  const used = new Set<number>();
  // Blocks 0-15 full (4,064 addresses: .1-.254 of each), the rest spread with a density rising across the map.
  for (let block = 0; block < 16 && used.size < count; block++) {
    for (let host = 1; host < 255 && used.size < count; host++) {
      used.add(block * 256 + host);
    }
  }
  const random = prng(16);
  for (let guard = 0; used.size < count && guard < 10_000_000; guard++) {
    const block = 16 + Math.floor(random() * 240);
    // Denser towards the end of the /16: block 16 keeps ~7% of its draws, block 255 all.
    if (random() * 256 < block) {
      used.add(block * 256 + 1 + Math.floor(random() * 254));
    }
  }
  assert.equal(used.size, count);
  const sorted = [...used].sort((p, q) => p - q);
  sorted.forEach((n, i) =>
    lines.push(
      `${a}.${b}.${n >> 8}.${n & 255},${states[i % states.length]},host-${String(i).padStart(5, '0')},team-${i % 7}`
    )
  );
  return `${lines.join('\n')}\n`;
}
